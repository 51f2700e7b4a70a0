/* meta.h — running a fixture executable and reading its TAP, shared by the meta-test files. */
#ifndef AC_META_H
#define AC_META_H

#include <asyncheck.h>

#include "support.h"

typedef struct fixture_run {
    proc p;
    tap_doc tap;
    char *dir;
    char *junit;
} fixture_run;

/* Runs `fixture` with --tap on stdout, --junit into a fresh directory, and `args`; fails the calling
 * test if the TAP is not strictly valid. */
void fixture_tap(fixture_run *r, const char *fixture, const char *const *args, const char *const *env);
void fixture_done(fixture_run *r);
/* Runs `fixture` as fixture_tap does with --filter=`name` and then `extra` (NULL-terminated, may be
 * NULL), and returns the point for `name`. */
const tap_point *fixture_point(fixture_run *r, const char *fixture, const char *name,
                               const char *const *extra, const char *const *env);
/* `name` in `fixture` passes with `extra` (and the run exits 0). */
void fixture_passes(const char *fixture, const char *name, const char *const *extra, const char *const *env);
/* `name` in `fixture` fails with `extra`, its first failure being `message`; the replay line of its failure
 * (which must hold `flag` after --seed, or nothing more when NULL) fails the same way 3 times out of 3. */
void fixture_found_and_replayed(const char *fixture, const char *name, const char *const *extra,
                                const char *const *env, const char *message, const char *flag);
/* The test point for "suite.name"; fails the calling test if absent. */
const tap_point *point(fixture_run *r, const char *name);
/* A YAML field of a point ("" when absent), in a buffer that lives until the next call. */
const char *field(const tap_point *pt, const char *prefix);
/* A field ("message", "type", "phase", "got", "expected", "at.line", "at.file") of the k-th entry
 * (0-based) under `failures:`, unescaped; "" when absent. */
const char *failure_field(const tap_point *pt, size_t k, const char *key);

#endif
