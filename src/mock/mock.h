/* mock.h — the mock module's internal interface: the parsed prototype model (types and their libffi
 * descriptions) and the parser for prototypes, typedefs and completion specs. */
#ifndef AC_MOCK_INTERNAL_H
#define AC_MOCK_INTERNAL_H

#include <ffi.h>
#include <stdbool.h>
#include <stddef.h>

#include "asyncheck/mock.h"
#include "../util/util.h"

typedef enum ac_tkind {
    AC_TK_VOID,
    AC_TK_BOOL,
    AC_TK_CHAR,
    AC_TK_SCHAR,
    AC_TK_UCHAR,
    AC_TK_SHORT,
    AC_TK_USHORT,
    AC_TK_INT,
    AC_TK_UINT,
    AC_TK_LONG,
    AC_TK_ULONG,
    AC_TK_LLONG,
    AC_TK_ULLONG,
    AC_TK_FLOAT,
    AC_TK_DOUBLE,
    AC_TK_PTR,   /* any data pointer */
    AC_TK_STR,   /* const char *: a string */
    AC_TK_FNPTR, /* a function pointer with a parsed prototype */
} ac_tkind;

typedef struct ac_proto ac_proto;

typedef struct ac_type {
    ac_tkind kind;
    ac_proto *fn;  /* AC_TK_FNPTR */
    bool borrowed; /* fn belongs to a typedef: not freed with this type */
} ac_type;

struct ac_proto {
    char *name; /* NULL for an abstract (unnamed) function pointer type */
    ac_type ret;
    size_t n;
    ac_type *params;
    char **names; /* parameter names, NULL entries where unnamed */
    ffi_cif cif;
    ffi_type **atypes;
};

/* Parses a prototype. On failure returns NULL and writes one line into err: where, and what was
 * expected there. */
ac_proto *ac__proto_parse(const char *text, ac_buf *err);
void ac__proto_free(ac_proto *p);
/* Registers a typedef; -1 with a reason in err when `type` does not parse. */
int ac__typedef_add(const char *name, const char *type, ac_buf *err);

ffi_type *ac__ffi_type(ac_type t);
bool ac__tkind_integral(ac_tkind k);
bool ac__tkind_signed(ac_tkind k);
const char *ac__tkind_name(ac_tkind k);
size_t ac__tkind_size(ac_tkind k);

/* A literal or a reference in a completion spec. */
typedef enum ac_lit_kind { AC_LIT_INT, AC_LIT_DOUBLE, AC_LIT_STR, AC_LIT_NULL, AC_LIT_REF } ac_lit_kind;
typedef struct ac_lit {
    ac_lit_kind kind;
    long long i;
    double d;
    char *s;    /* AC_LIT_STR (unescaped), or the reference's name (AC_LIT_REF by name) */
    long index; /* AC_LIT_REF by position, or -1 */
} ac_lit;

/* "cb(200, \"ok\", $ud)" into the callback's name (or $N) and its arguments. */
typedef struct ac_completion_spec {
    char *callback;      /* name, or NULL when given by position */
    long callback_index; /* -1 unless given as $N */
    size_t n;
    ac_lit *args;
} ac_completion_spec;

int ac__completion_parse(const char *text, ac_completion_spec *out, ac_buf *err);
void ac__completion_free(ac_completion_spec *s);

/* Makes libffi set up its closure allocator now (the first closure in a process costs ~250 us), so that
 * test processes forked later start with it. */
void ac__mock_warm(void);
/* Completions held (ac_deliver_held) by all of the test's mocks; `which` (may be NULL) gets one line per mock
 * holding some. */
size_t ac__mock_held_all(ac_test *t, ac_buf *which);
/* When `w` is a mock's completion timer (a delivery scheduled and not yet made, or the one being
 * dispatched now), appends "the completion of send() call #0" and returns true; else false. For the
 * loop's reports, so that they never name asyncheck's own timer callback. */
bool ac__mock_describe_delivery(ac_buf *b, const void *w);
/* Appends when that delivery is due (", due 0.5 s after the call"); nothing for other watchers. */
void ac__mock_describe_due(ac_buf *b, const void *w);

#endif
