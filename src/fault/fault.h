/* fault.h — the fault module's interface: making the K-th call of one named libc function made by the
 * code under test fail (--fault-at, a fault sweep's runs), counting those calls, and parsing fault
 * specifications ("write:3:EINTR", "read,write"). The runner starts and ends it around a test (exec.c)
 * and plans sweeps from the counts it records (explore.c). It knows nothing of schedules. */
#ifndef AC_FAULT_H
#define AC_FAULT_H

#include <stdbool.h>

#include "asyncheck/test.h"
#include "../util/util.h"

#define AC__FAULT_FN_MAX 16

/* The failure "SHORT": a read/recv/write/send/writev that returns fewer bytes (half) instead of -1. */
#define AC__FAULT_SHORT (-1)
/* A getaddrinfo failure: the EAI_ code (negative in glibc) it returns, kept apart from errno values. */
#define AC__FAULT_EAI(code) (-1000 + (code))

/* One fault point: the `at`-th counted call of `fn` fails with `err` (an errno value, AC__FAULT_SHORT,
 * or AC__FAULT_EAI(code) for getaddrinfo). at 0: none. */
typedef struct ac__fault_point {
    char fn[AC__FAULT_FN_MAX];
    long at;
    int err;
} ac__fault_point;

/* Parses "FUNC:K[:ERR]" (K >= 1; ERR defaults to the function's first failure; ERR is any errno name
 * the module knows, SHORT for the reads and writes, an EAI_ name for getaddrinfo). Returns 0, or -1 with
 * a one-line reason (naming the value and the syntax) in `why`. */
int ac__fault_parse(const char *spec, ac__fault_point *out, ac__buf *why);
/* Parses a sweep list "read,write" or "read=EIO+EINTR,write" into the (function, failure) pairs a sweep
 * runs, in order: a function's failures named after '=' (joined by '+'), else its default failures in
 * the order its documentation gives (read: EINTR, EAGAIN, then SHORT). `*out` is malloc'd (at is 0 in
 * each). Returns 0, or -1 with a one-line reason in `why`. */
int ac__fault_sweep_parse(const char *list, ac__fault_point **out, unsigned *n, ac__buf *why);
/* "write:3:EINTR" for p into b. */
void ac__fault_format(const ac__fault_point *p, ac__buf *b);

/* Starts the module for the test `t` on its thread: with p->at > 0, patches p->fn so that calls of it
 * are counted once the test calls ac_fault_start, and the p->at-th fails. `exploring`: one run of a
 * sweep (a fault point never reached is then no failure of the run). */
void ac__fault_begin(ac_test *t, const ac__fault_point *p, bool exploring);
/* Ends counting and undoes the patch (before the suite's teardown): sends the count (AC_REC_FAULT)
 * and, for a --fault-at replay that never reached its point, fails the test saying so. */
void ac__fault_end(ac_test *t);

#endif
