/* mock_internal.h — the mock module's own header, shared by its files and by no other module: the mock
 * object, a recorded call and its arguments, the per-test world, and what each file offers the others.
 *   mock.c         the mock object: closures, recording calls, return values, side effects, the world
 *   values.c       arguments: capturing them at call time, converting and storing values, printing calls
 *   completions.c  scheduling and delivering a call's completions (timers, held, hand-over from threads)
 *   expect.c       expectations, matchers and the assertions on calls
 * Other modules include mock.h (the runner's interface) or asyncheck/mock.h (the public API), never this.
 *
 * Threads. A mock may be called from any thread, so the world's lock guards what a call adds to: each
 * mock's calls and pendings, the world's log and incoming list, the expectations' counts. The test's
 * thread takes it too to read them while other threads may call (and completions are counted
 * atomically: an ac_deliver_inside_call completion runs on the calling thread). Matchers' predicates
 * (ac_that) run under the lock and must not call the locking accessors. */
#ifndef AC_MOCK_MOCK_INTERNAL_H
#define AC_MOCK_MOCK_INTERNAL_H

#include <ev.h>
#include <ffi.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "mock.h"
#include "../assert/values.h"
#include "../ffi/proto.h"
#include "../timeline/timeline.h"

/* ---- values (values.c) ---- */

/* One argument of a recorded call. */
typedef struct ac__mock_arg {
    ac__tkind kind;
    union {
        long long i;
        unsigned long long u;
        double d;
        void *p;
    } v;
    char *str; /* string parameters: the copy made at call time */
} ac__mock_arg;

struct ac_mock_call {
    ac_mock *mock;
    size_t index;
    size_t seq;          /* 1-based position in the test's call log: the timeline's flow id */
    char *text;          /* made on demand */
    ac__mock_arg args[]; /* one allocation per call, with its arguments */
};

/* Storage for one value of any supported kind, as C would hold it. */
#define AC__SLOT_VOID(ctype, member)
#define AC__SLOT_BOOL(ctype, member) ctype member;
#define AC__SLOT_INT(ctype, member) ctype member;
#define AC__SLOT_FLOAT(ctype, member) ctype member;
#define AC__SLOT_PTR(ctype, member)
#define AC__SLOT_STR(ctype, member)
#define AC__SLOT_FNPTR(ctype, member)
#define AC__SLOT_MEMBER(KIND, name, ctype, member, ffi, class, is_signed) AC__SLOT_##class(ctype, member)
typedef union ac__slot {
    AC__TKINDS(AC__SLOT_MEMBER)
    void *p; /* every pointer class */
    ffi_arg widened;
} ac__slot;

/* Reads one argument of kind k from where libffi put it (a string is copied). */
ac__mock_arg ac__mock_arg_read(ac__tkind k, const void *src);
/* Appends call c as reports show it: "name(arg, ...)" (values.c; nothing cached, any thread). */
void ac__mock_call_print(ac__buf *b, const ac_mock_call *c);
/* The argument as a value for comparing and printing. */
ac__value ac__mock_arg_value(const ac__mock_arg *a);
/* Stores an integer (i, or u when is_unsigned), floating (d when is_double) or pointer (p) value as kind
 * k, converted as C would. */
void ac__slot_store(ac__slot *out, ac__tkind k, long long i, unsigned long long u, bool is_unsigned, double d,
                    bool is_double, void *p);
/* Stores v as kind k. */
void ac__slot_store_value(ac__slot *out, ac__tkind k, ac__value v);
/* Writes s, of kind k, where libffi expects a closure's return value (narrow integers widened). */
void ac__slot_write_return(void *ret, ac__tkind k, const ac__slot *s);

/* ---- the mock object and the world (mock.c) ---- */

typedef struct ac__rule ac__rule;       /* a completion configured on a mock (completions.c) */
typedef struct ac__pending ac__pending; /* a completion owed to one call (completions.c) */

/* Call records live until the test ends: they come from a bump arena, freed as a whole. */
typedef struct ac__arena_block {
    struct ac__arena_block *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
} ac__arena_block;

/* Everything the mocks of one test share. */
typedef struct ac__world {
    ac__arena_block *arena;
    ac_test *t;
    ac_mock *mocks;
    ac_mock_call **log;
    size_t nlog, log_cap;
    pthread_mutex_t lock;
    pthread_t loop_thread;
    ev_async incoming_async; /* wakes the loop: completions handed over, or calls awaited */
    ac__pending *incoming;   /* completions of calls made on other threads, newest first */
} ac__world;

struct ac_mock {
    ac__world *w;
    ac__proto *proto;
    const char *file;
    int line;
    ffi_closure *closure;
    void *fn;
    bool has_return;
    ac__value ret_value;
    unsigned char *seq;
    size_t seq_n;
    int err;
    ac_mock_effect effect;
    void *effect_ud;
    ac__rule *rules;
    ac_mock_call **calls;
    size_t ncalls, calls_cap;
    size_t completions;
    ac_expectation *expectations, **expectations_tail;
    ac__pending *pendings;
    ac_mock *next;
};

/* The world of test t, or NULL when its mocks have none (no mock made yet). */
ac__world *ac__mock_world_of(ac_test *t);
/* The position of the parameter called name in p, or -1. */
long ac__mock_param_index(const ac__proto *p, const char *name);
/* Reports a mock failure (an assertion failure, fatal or not) at file:line. */
void ac__mock_fail(bool fatal, const char *file, int line, const char *message, const char *got,
                   const char *expected);
/* Copies the message, frees msg and fails the test fatally at file:line. */
_Noreturn void ac__mock_fail_fatal_buf(const char *file, int line, ac__buf *msg);

/* ---- completions (completions.c) ---- */

/* Under the world's lock, during call c: one pending per completion rule of m to deliver later. Those of a
 * call made on the test's thread are returned (newest first) to be scheduled once the lock is released;
 * those of other threads go to the world's incoming list. */
ac__pending *ac__completions_queue(ac_mock *m, const ac_mock_call *c, bool on_loop_thread);
/* After call c, on the calling thread and without the lock: delivers the inside-call completions, then
 * schedules `queued` (from ac__completions_queue) in call order. */
void ac__completions_after_call(ac_mock *m, const ac_mock_call *c, ac__pending *queued);
/* The world's incoming_async callback: schedules the completions other threads handed over. */
void ac__completions_incoming_cb(struct ev_loop *loop, ev_async *w, int revents);
/* At the test's end: fails for the completions m still holds. */
void ac__completions_report_held(ac_mock *m);
/* Frees m's pendings (their timers stopped on loop) and completion rules. */
void ac__completions_free(ac_mock *m, struct ev_loop *loop);

/* ---- expectations (expect.c) ---- */

/* Under the world's lock, during call c: counts c against the expectation it meets; writes a failure into
 * msg/got/exp when it meets none, or meets one out of order. */
void ac__expect_check(ac_mock *m, const ac_mock_call *c, ac__buf *msg, ac__buf *got, ac__buf *exp);
/* At the test's end: fails for each of m's expectations met fewer times than it asks. */
void ac__expect_report_unmet(ac_mock *m);
/* Frees m's expectations. */
void ac__expect_free(ac_mock *m);

#endif
