/* race.h — the race module's internal interface: the schedule a test runs under (seeded dispatch order,
 * PCT, latencies, the dispatch trace, the cancel point), and the race assertions (properties, atomic
 * regions, exactly-once callbacks, event order, cancellation checks). exec.c starts and ends it around a
 * test; the loop's dispatcher (src/loop/dispatch.c) asks it for the order of each dispatch round and tells
 * it when each callback returns, through the scheduler race registers with the loop (the loop never
 * includes this header: race sits above loop). It reports failures only through ac__report_failure. */
#ifndef AC_RACE_H
#define AC_RACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asyncheck/test.h"
#include "asyncheck/race.h"
#include "../loop/loop.h"
#include "../util/util.h"

/* ---- what the runner tells a test's process about its schedule (sched.c) ---- */
typedef struct ac__sched_params {
    unsigned long long seed; /* 0: libev's own order */
    int mode;                /* AC_SCHED_SHUFFLE or AC_SCHED_PCT */
    int pct_depth;           /* PCT: d (priority change points + 1) */
    long pct_steps;          /* PCT: change points are drawn from dispatches 1..pct_steps */
    long cancel_at;          /* >= 0: the cancel point (see sched.c); -1: no cancel */
    bool trace;              /* keep the dispatch trace and send it (--check-determinism) */
    bool exploring;          /* one of several runs of the test: send property records */
    char fault_fn[16];       /* the function a fault point fails (src/fault/fault.h) */
    long fault_at;           /* > 0: its counted call that fails; 0: no fault */
    int fault_err;           /* the errno it fails with */
    unsigned backend;        /* the test loop's libev backend (EVBACKEND_*); 0: epoll (exec.c) */
    bool defer_readiness;    /* a seeded schedule may hold an ev_io's readiness over (sched.c) */
    double callback_time;    /* > 0: a seeded schedule charges each counted callback [0, this] virtual s */
} ac__sched_params;

/* Starts and ends the module for a test (exec.c): after the loop exists, and after the end hooks. race.c
 * owns them: they begin and end every file's per-test state below, in one place, and register the
 * schedule with the loop's dispatcher. */
void ac__race_begin(ac_test *t, const ac__sched_params *p);
void ac__race_end(ac_test *t);

/* ---- each file's per-test state, begun and ended only by ac__race_begin/end (race.c) ---- */
/* sched.c: the schedule `p`. Its end sends the schedule's records (steps and cancel point reached, the
 * trace) and reports a replayed cancel point never reached; `op_completed`: the operation's callback
 * ran (read before ac__once_end forgets it). Nothing for another test than the one begun. */
void ac__sched_begin(ac_test *t, const ac__sched_params *p);
void ac__sched_end(ac_test *t, bool op_completed);
/* cancel.c: forgets the previous test's cancel. */
void ac__cancel_begin(ac_test *t);
/* once.c: its end reports AC_ONCE callbacks never called and frees every wrapper. */
void ac__once_begin(ac_test *t);
void ac__once_end(ac_test *t);
/* props.c: its end sends one AC_REC_PROPERTY record per property site in scope when `send` (a run of an
 * exploration; see asyncheck/race.h). */
void ac__props_begin(ac_test *t);
void ac__props_end(ac_test *t, bool send);
/* regions.c: its end reports regions left open. */
void ac__regions_begin(ac_test *t);
void ac__regions_end(ac_test *t);
/* events.c */
void ac__events_begin(ac_test *t);
void ac__events_end(ac_test *t);

/* ---- the dispatcher's side: the loop's scheduler (ac__loop_scheduler, src/loop/loop.h), which
 * ac__race_begin registers; these are its functions ---- */

/* True when dispatch order is perturbed (a nonzero seed): the dispatcher then calls ac__sched_order. */
bool ac__sched_active(void);
/* Reorders items[0..n) (sorted by priority, highest first, libev's order within a priority) into the
 * order to dispatch them in, within libev's guarantees. */
void ac__sched_order(ac__sched_item *items, size_t n);
/* A counted callback (the test's, a mock completion's, a peer's; not the harness's bookkeeping) is
 * about to be dispatched under dispatch serial `serial`: `describe` appends what it is for the trace
 * (called only when tracing). */
void ac__sched_dispatching(unsigned long serial, const void *w, void (*describe)(ac__buf *b, const void *ctx),
                           const void *ctx);
/* A counted callback is about to be taken from libev's pending queue (before ac__sched_dispatching):
 * cancel point 0 cancels here, leaving every event pending as it is. */
void ac__sched_before_dispatch(void);
/* A dispatched callback returned (every callback, counted or not, with the dispatch serial it ran
 * under): ends its segment for the atomic regions, charges a counted one its drawn virtual time
 * (p.callback_time), and, at the cancel point, cancels. */
void ac__sched_returned(unsigned long serial);
/* Under defer_readiness and a seed: whether to hold a pending ev_io (or ev_timer) over, and for how many
 * iterations (0: no; else 1 to 3), drawn from the seed on a stream of its own (the dispatch order is
 * unchanged); a hold goes into the trace. */
unsigned ac__sched_defer(void (*describe)(ac__buf *b, const void *ctx), const void *ctx);
/* The test declared its cancel (ac_cancel_with): cancel points count from here. */
void ac__sched_cancel_declared(void);
/* Dispatches counted so far. */
unsigned long ac__sched_steps(void);

/* ---- the running schedule's random numbers (sched.c) ---- */
/* A number in [lo, hi] from the schedule's own stream (lo under seed 0); for ac_deliver_within and peers. */
double ac__sched_uniform(double lo, double hi);

/* ---- cancellation (cancel.c) ---- */
/* How many completions the test's mocks still hold (`which` gets one line per mock holding some): the
 * mock module's ac__mock_held_all, which sits above race and is handed down by the runner. */
typedef size_t (*ac__held_counter)(ac_test *t, ac__buf *which);
/* Sets what the checks after a cancel ask for held completions (NULL: none are held). */
void ac__cancel_set_held_counter(ac__held_counter held);
/* True once the running test's operation has been cancelled (by a sweep or ac_cancel). */
bool ac__cancel_done(void);
/* For modules that may not see the loop's (mock): true while a test runs and the calling thread is not
 * its loop's, naming that thread in `who` (ac__loop_off_thread). */
bool ac__race_off_thread(ac__buf *who);
/* The sweep's cancel point (only reached after ac_cancel_with): calls the declared cancel and ends the
 * body (does not return). */
void ac__cancel_at_point(void);
/* exec.c, after a sweep's cancel unwound the body: runs the loop until nothing is left (bounded) and
 * checks what a cancel must leave behind. */
void ac__cancel_settle(ac_test *t);

/* ---- assertions (props.c, regions.c, once.c, events.c) ---- */
/* The end of a callback's segment (atomic regions judge touches here). */
void ac__regions_segment_end(unsigned long serial);
/* The op callback's promise (AC_CANCEL_*), or -1 when the test wrapped none; and its calls since the
 * cancel. */
int ac__op_promise(void);
/* How many times the op callback has been called in all (0 when the test wrapped none). */
size_t ac__op_calls(void);
size_t ac__op_calls_after_cancel(void);

#endif
