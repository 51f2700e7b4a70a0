/* asyncheck/race.h — races and cancellation: exploring the orders in which a test's loop may dispatch
 * its events, properties that must hold in every order (or in some), atomic regions, exactly-once
 * callbacks, ordering between events, and cancelling an operation at every point it can be cancelled.
 *
 * Schedules. A test runs under one schedule: seed 0 is libev's own order. With .schedules = N (or
 * --schedules N) the runner runs the test N times, each in its own process under its own seed: the
 * callbacks that are ready in the same loop iteration are dispatched in a seeded order, and latencies a
 * test declares as ranges (ac_deliver_within, ac_schedule_uniform) are drawn from the seed. Only orders libev
 * can produce are explored: higher priorities first, timers (and periodics) with earlier deadlines first,
 * check watchers before the other watchers of their priority, idle watchers only when nothing else is
 * ready, and no timer before its time. The first failing schedule ends the test and is reported with the
 * command line that replays it (--seed=S --filter=...); --keep-going runs all N and groups the failures.
 *
 *   AC_TEST(cache, one_fetch_per_key, .clock = AC_CLOCK_VIRTUAL, .schedules = 200) {
 *       ac_mock *fetch = ac_mock_new(t, "void fetch(const char *key, void (*cb)(void *ud), void *ud)");
 *       ac_mock_on_call_complete(fetch, ac_deliver_within(0.010, 0.200), "cb($ud)");   // latency drawn per
 * schedule
 *       ...
 *   }
 *
 * Everything here also works in a test that does not explore (one schedule, seed 0). */
#ifndef ASYNCHECK_RACE_H
#define ASYNCHECK_RACE_H

#include <stdbool.h>
#include <stddef.h>

#include "asyncheck/test.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Schedule modes (ac_schedule_mode: AC_SCHED_DEFAULT, AC_SCHED_SHUFFLE, AC_SCHED_PCT) are declared in
 * asyncheck/test.h, next to the ac_test_options field that takes them. */

/* ---- the running schedule ---- */

/* The running schedule's seed: 0 for libev's own order. */
unsigned long long ac_schedule_seed(ac_test *t);

/* A number in [lo, hi] drawn from the running schedule (lo under seed 0): for latencies and other
 * choices the test makes itself, so that exploring schedules explores them too and a seed replays them. */
double ac_schedule_uniform(ac_test *t, double lo, double hi);

/* ---- properties (Antithesis-style), checked across every explored schedule ----
 * `message` is a string literal naming the property; it identifies the property in reports.
 *   AC_ALWAYS(cond, msg)     cond must be true every time it is evaluated (else the test fails there);
 *   AC_SOMETIMES(cond, msg)  cond must be true at least once in some explored schedule;
 *   AC_REACHABLE(msg)        this line must be reached in some explored schedule;
 *   AC_UNREACHABLE(msg)      this line must never be reached (else the test fails there).
 * Each takes printf-style arguments after `msg`, which is then their format as well as the property's
 * name: AC_ALWAYS(n <= cap, "queue bounded: n=%d cap=%d", n, cap). The name stays the literal text; the
 * arguments are evaluated and formatted only when the property fails here (AC_ALWAYS false, AC_UNREACHABLE
 * reached), and the failure shows the result as its "got" ("queue bounded: n=7 cap=5"). Without
 * arguments, `msg` is not a format (a "%" in it is just a character). Up to 15 arguments.
 * A test that explores (more than one schedule, or a cancel sweep) fails when a SOMETIMES it evaluated
 * was never true, or when a SOMETIMES or REACHABLE written in the test's own lines (from its AC_TEST to
 * the next test in the same file) was never satisfied in any of its schedules. Sites elsewhere (helpers,
 * the code under test) count once evaluated. */
typedef struct ac__prop_site {
    int kind; /* AC__PROP_* */
    int line;
    const char *file;
    const char *message;
    const char *cond;   /* the condition as written, or NULL */
    int evaluated, hit; /* per process: how many times evaluated, how many times satisfied */
} ac__prop_site;

enum { AC__PROP_ALWAYS = 1, AC__PROP_SOMETIMES, AC__PROP_REACHABLE, AC__PROP_UNREACHABLE };

/* Counts an evaluation; true when it fails the test now (first failure of the site in the test): the
 * caller then reports it with ac__prop_fail_0 (no arguments) or ac__prop_fail_1 (a format and its
 * arguments). */
bool ac__prop(ac__prop_site *site, bool value);
void ac__prop_fail_0(const ac__prop_site *site, const char *message);
void ac__prop_fail_1(const ac__prop_site *site, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* 1 when the message has arguments after it, else 0 (up to 15 arguments). */
#define AC__PROP_NARGS(...) AC__PROP_PICK(__VA_ARGS__, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, ~)
#define AC__PROP_PICK(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, n, ...) n
#define AC__PROP_FIRST(first, ...) first
#define AC__PROP_CAT(a, b) AC__PROP_CAT_(a, b)
#define AC__PROP_CAT_(a, b) a##b

#define AC__PROP(kind_, cond_text_, value_, ...)                                                             \
    do {                                                                                                     \
        __attribute__((section("ac_props"), used, aligned(sizeof(void *)))) static ac__prop_site ac__ps = {  \
            (kind_), __LINE__, __FILE__, AC__PROP_FIRST(__VA_ARGS__, ~), (cond_text_), 0, 0};                \
        if (ac__prop(&ac__ps, (value_)))                                                                     \
            AC__PROP_CAT(ac__prop_fail_, AC__PROP_NARGS(__VA_ARGS__))(&ac__ps, __VA_ARGS__);                 \
    } while (0)

#define AC_ALWAYS(cond, ...) AC__PROP(AC__PROP_ALWAYS, #cond, (cond) ? true : false, __VA_ARGS__)
#define AC_SOMETIMES(cond, ...) AC__PROP(AC__PROP_SOMETIMES, #cond, (cond) ? true : false, __VA_ARGS__)
#define AC_REACHABLE(...) AC__PROP(AC__PROP_REACHABLE, NULL, true, __VA_ARGS__)
#define AC_UNREACHABLE(...) AC__PROP(AC__PROP_UNREACHABLE, NULL, true, __VA_ARGS__)

/* ---- atomic regions over a named resource ----
 * AC_ATOMIC_BEGIN(res) opens an asynchronous critical section over the resource named by the string
 * `res` (say "cache:user42"); AC_ATOMIC_END(res) closes it, maybe in a later callback. AC_TOUCH(res)
 * says the running callback uses the resource. The test fails, naming both callbacks and both lines,
 * when the region is opened again while open, or when a callback other than the one that opened it
 * touches the resource and returns with the region still open (the callback that closes the region may
 * touch it first: that is the operation finishing). The test body counts as one callback between two
 * runs of the loop. A region still open when the test ends fails it. */
#define AC_ATOMIC_BEGIN(res) ac__atomic(0, (res), __FILE__, __LINE__)
#define AC_ATOMIC_END(res) ac__atomic(1, (res), __FILE__, __LINE__)
#define AC_TOUCH(res) ac__atomic(2, (res), __FILE__, __LINE__)
void ac__atomic(int op, const char *res, const char *file, int line);

/* ---- exactly-once callbacks ----
 * Wraps the callback `fn`, whose C prototype is given as for mocks ("void (*)(int status, void *ud)" or
 * "void done(int status, void *ud)"), in a function with the same ABI that calls `fn` and counts: a
 * second call fails the test (naming both calls' dispatch), and no call by the time the test ends fails
 * it too. Pass the result wherever `fn` would go; valid until the test ends. */
#define AC_ONCE(t, prototype, fn) ac__once((t), (prototype), (void *)(fn), __FILE__, __LINE__)
void *ac__once(ac_test *t, const char *prototype, void *fn, const char *file, int line);
/* How many times a wrapper made by AC_ONCE (or ac_op_callback) has been called. */
size_t ac_once_calls(const void *wrapped);

/* ---- ordering between events ----
 * AC_EVENT(name) records that the event `name` happened now (in the running callback). */
#define AC_EVENT(name) ac__event((name), __FILE__, __LINE__)
void ac__event(const char *name, const char *file, int line);
/* How many times `name` has happened in this test. */
size_t ac_event_count(ac_test *t, const char *name);
/* Requires, from now until the test ends, that `before` has happened before each time `after` happens:
 * an `after` with no `before` yet fails the test at once, naming the callback it happened in. */
void ac_require_order(ac_test *t, const char *before, const char *after);
/* Both events happened, and the first `a` came before the first `b`. */
#define AC_ASSERT_BEFORE(a, b) ((void)ac__check_before(true, (a), (b), __FILE__, __LINE__))
#define AC_EXPECT_BEFORE(a, b) ((void)ac__check_before(false, (a), (b), __FILE__, __LINE__))
bool ac__check_before(bool fatal, const char *a, const char *b, const char *file, int line);

/* ---- cancellation ----
 * A test declares how the operation it started is cancelled. With .cancel_sweep = true (or
 * --cancel-sweep) the runner reruns the test cancelling after the 1st, 2nd, ... callback dispatched on
 * its loop, until a run finishes without reaching the cancel point. At the cancel point the harness
 * calls cancel(arg), abandons the test body, keeps the loop running (virtual time keeps that fast) and
 * fails the test if the operation's callback fires when the promise says it must not (or does not fire
 * exactly once when it must), a watcher the body started stays active, a mock completion is still
 * held, or an fd opened since the test began is still open. */
void ac_cancel_with(ac_test *t, void (*cancel)(void *arg), void *arg);

/* What the operation's callback promises after a cancel. */
typedef enum ac_cancel_promise {
    AC_CANCEL_SILENT = 0,      /* it is never called after the cancel */
    AC_CANCEL_CALLS_BACK_ONCE, /* it is called exactly once after the cancel (to report cancellation) */
} ac_cancel_promise;
/* Wraps the operation's callback (prototype as for AC_ONCE; at most one per test) so the harness sees it
 * fire, with the promise it makes after a cancel. Returns the function to pass to the operation. */
#define ac_op_callback(t, prototype, fn, promise)                                                            \
    ac__op_callback((t), (prototype), (void *)(fn), (promise), __FILE__, __LINE__)
void *ac__op_callback(ac_test *t, const char *prototype, void *fn, ac_cancel_promise promise,
                      const char *file, int line);

/* For hand-written cancellation tests: cancels now through the function given to ac_cancel_with. */
void ac_cancel(ac_test *t);
/* Runs the loop until nothing more happens (at most timeout_s of the test's clock) and checks what a
 * sweep checks after its cancel: the callback kept its promise, no watcher the body started is active,
 * no mock completion is held, no fd opened since the test began is open. Fatal on failure. */
#define AC_ASSERT_CANCELLED_CLEANLY(t, timeout_s)                                                            \
    ac__assert_cancelled_cleanly((t), (timeout_s), __FILE__, __LINE__)
void ac__assert_cancelled_cleanly(ac_test *t, double timeout_s, const char *file, int line);
/* True while the running test is one run of a cancel sweep that has cancelled. */
bool ac_cancelled(ac_test *t);

#ifdef __cplusplus
}
#endif

#endif
