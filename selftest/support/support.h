/* support.h — helpers for asyncheck's meta-tests: run a fixture executable and capture what it wrote,
 * parse TAP strictly, read YAML diagnostic fields, and query JUnit files with xmllint. Used only by the
 * selftests; not part of asyncheck. */
#ifndef AC_SELFTEST_SUPPORT_H
#define AC_SELFTEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"

typedef struct proc {
    int status; /* exit status, or 128 + signal number */
    ac__buf out, err;
} proc;

/* Runs argv[0] with argv, its environment cleaned of variables that change asyncheck's behaviour
 * (HARNESS_ACTIVE, NO_COLOR, ...) and then changed by `env` ("NAME=value" sets, "NAME" unsets).
 * Fails the calling test when it cannot run. */
void run_process(const char *const *argv, const char *const *env, proc *p);
void proc_free(proc *p);

typedef struct tap_point {
    bool ok;
    int number;
    char *name;      /* description after "- " */
    char *directive; /* "SKIP reason" or NULL */
    char *yaml;      /* the block's lines (without --- and ...) or NULL */
} tap_point;

typedef struct tap_doc {
    int version;
    int plan;
    tap_point *points;
    size_t n;
} tap_doc;

/* Strict TAP 13/14 as asyncheck writes it: version line, plan, numbered points with optional YAML
 * blocks, comments. Returns false with the first offending line in `why`. */
bool tap_parse(const char *text, tap_doc *doc, ac__buf *why);
void tap_free(tap_doc *doc);
const tap_point *tap_find(const tap_doc *doc, const char *name);

/* The value of the YAML line that starts with exactly `prefix` (e.g. "  message: "), double-quoted
 * strings unescaped, into `out`. False when absent. */
bool yaml_get(const char *yaml, const char *prefix, ac__buf *out);

/* Output of `xmllint --xpath EXPR FILE`, trailing newline trimmed. */
void xpath(const char *file, const char *expr, ac__buf *out);

/* A fresh directory under $TMPDIR (or /tmp), removed by rm_tree. */
char *make_temp_dir(void);
void rm_tree(const char *dir);
char *read_file(const char *path);
/* The entries of dir, sorted names joined by ' ' (empty when none). */
char *dir_entries(const char *dir);
/* "dir/name", allocated. */
char *path_in(const char *dir, const char *name);

#endif
