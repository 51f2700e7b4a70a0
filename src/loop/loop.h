/* loop.h — hygiene of the test's loop: tracking the watchers a test starts (type, callback, where it was
 * started), file descriptors it leaves open or closes wrongly, loop iterations that block, and blocking
 * sleeps inside callbacks. exec.c calls these at fixed points of a test's life; the module must not end the
 * test itself except through ac__report_failure. */
#ifndef AC_LOOP_H
#define AC_LOOP_H

#include <stdbool.h>
#include <stddef.h>

#include "asyncheck/test.h"
#include "../timeline/timeline.h"
#include "../util/util.h"

/* Right after the test's loop is made, before setup (start tracking; snapshot open fds); or, for a test
 * whose loop is made later (when it first asks for it), before setup with no loop yet. */
void ac__loop_begin(ac_test *t);
/* Around making the test's loop after ac__loop_begin: ac__loop_adopt_begin right before, then
 * ac__loop_adopt(loop) right after (NULL: it could not be made). The fds opened in between are the
 * loop's, not the test's, and the loop is tracked from then on as if it had been there from the start. */
void ac__loop_adopt_begin(void);
void ac__loop_adopt(struct ev_loop *loop);
/* Appends a description of each watcher the test started that is still active on its loop, one per line
 * in start order ("ev_io fd=7 EV_READ, callback on_read, started at connect_client+0x4c"; libev's and
 * asyncheck's own watchers are left out), and returns how many it described. */
size_t ac__loop_describe_active(ac_test *t, ac__buf *out);
/* The body begins (after setup): watchers started from now on are the body's (ac__loop_describe_body). */
void ac__loop_body_begins(ac_test *t);
/* As ac__loop_describe_active, for the watchers started since the body began only (the suite's setup
 * keeps its own): what the drain, .drain = false and AC_ASSERT_IDLE report, and count. */
size_t ac__loop_describe_body(ac_test *t, ac__buf *out);
/* Appends one line per watcher of asyncheck's own that still acts for the test on its loop — a mock's
 * completion still due ("the completion of send() call #0 (ev_timer after=10.0 repeat=0.0)"), a scripted
 * peer's io ("ev_io fd=7 EV_READ, callback on_readable (asyncheck's own)"); only the completions when
 * `deliveries_only` — and returns how many. These are never counted as the test's watchers; the awaits'
 * and the drain's own timers are not listed. */
size_t ac__loop_describe_harness(ac_test *t, ac__buf *out, bool deliveries_only);
/* True when nothing could make progress on the test's loop any more: no callback pending, no active
 * watcher that could fire — the test's, or asyncheck's own that act for it (a mock's scheduled
 * completion, a scripted peer's io) — and no thread started by the test still running. Not counted: the
 * timers of the awaits themselves (started between ac__loop_harness_enter/leave), ev_async watchers not
 * yet sent (only a thread or a signal handler could send them), ev_fork and ev_cleanup watchers, and
 * libev's own. A completion held for ac_mock_deliver is not progress either: only the test's own code
 * can release it. */
bool ac__loop_quiescent(ac_test *t);
/* After teardown, the end hooks and the leftover-watcher check, before the loop is destroyed: report
 * fds left open (unless waived) and stop tracking. `report` is false after a fatal failure or skip. */
void ac__loop_end(ac_test *t, bool report);

/* Harness code that starts watchers on the test's loop for itself (an await's timer, a mock's completion
 * timer, a peer's io) may bracket those starts with these, so they are never reported as the test's
 * whatever the symbol table says. Per thread, nestable. */
void ac__loop_harness_enter(void);
void ac__loop_harness_leave(void);
/* close(fd) made as asyncheck's own (a peer's end, a listener's socket): never judged as the test's
 * close, whatever the caller's address says (descriptors asyncheck opens inside ac__loop_harness_enter/
 * leave are its own too). Returns what close returns. */
int ac__loop_close_own(int fd);

/* Marks fd as asyncheck's own (harness true: a scripted peer's end, a listener's socket) or no longer
 * (false): the test's code closing a marked fd fails the test and the fd is left open. A close by
 * asyncheck's own code clears the mark itself. */
void ac__loop_fd_harness(int fd, bool harness);

/* For code that replaces the sleeping calls for a test (the virtual clock): reports "blocking sleep:
 * <call> called from callback ..." when called from inside a callback of the test's loop, unless the
 * test waives it. `call` reads like "usleep(200000)". True when it was inside a callback. */
bool ac__loop_sleep_check(const char *call);

/* True while a test runs and the calling thread is not its loop's thread; then appends that thread to
 * `who` as `thread 4242 "worker"` (its kernel id and its name from /proc). False outside a test. */
bool ac__loop_off_thread(ac__buf *who);

/* epoll instances made so far through epoll_create1 / epoll_create (every caller, any thread), and in
 * *last the descriptor the latest of them returned (-1: none yet): for the virtual clock, which learns
 * its test loop's epoll fd this way (libev has no accessor). */
unsigned long ac__loop_epolls_made(int *last);

/* Callbacks dispatched on the test's loop so far (any kind). */
unsigned long ac__loop_dispatches(void);
/* The dispatch the running code is in: the serial of the innermost callback being dispatched on the
 * test's loop, or 0 in the test body (or outside any dispatch). */
unsigned long ac__loop_dispatch_serial(void);
/* Appends where the caller is: on the test's thread the dispatch it is in, "callback on_reply (ev_timer
 * after=0.050)" or "the test body"; on any other thread "a thread other than the test's". */
void ac__loop_dispatch_describe(ac__buf *b);

/* ---- the dispatcher's observers: modules above the loop register these (the loop calls up only
 * through them; NULL or unset: libev's own order, nobody told) ---- */

/* One watcher pending in a dispatch round, as the dispatcher sees it. */
typedef struct ac__sched_item {
    const void *w;    /* the watcher (identity for PCT priorities) */
    int priority;     /* libev priority */
    int chain;        /* AC_CHAIN_*: how libev orders it against the others */
    double deadline;  /* timers and periodics: when it was due */
    unsigned natural; /* libev's own position (smaller runs first) */
} ac__sched_item;

enum {
    AC_CHAIN_FREE = 0, /* io, signal, async, child, stat, embed, fork, cleanup, prepare: any order */
    AC_CHAIN_TIMER,    /* timers: earlier deadline first */
    AC_CHAIN_PERIODIC, /* periodics: earlier deadline first */
    AC_CHAIN_FIRST,    /* check (and idle) watchers: before the others of their priority, libev's order */
};

/* The schedule the dispatcher runs under (src/race/sched.c registers it at each test's start). */
typedef struct ac__loop_scheduler {
    /* True when dispatch order is perturbed: the dispatcher then calls order. */
    bool (*active)(void);
    /* Reorders items[0..n) (sorted by priority, highest first, libev's order within a priority) into
     * the order to dispatch them in, within libev's guarantees. */
    void (*order)(ac__sched_item *items, size_t n);
    /* A counted callback (not the harness's bookkeeping) is about to be taken from libev's pending
     * queue (before dispatching): may end the body (a cancel point). */
    void (*before_dispatch)(void);
    /* A counted callback is about to run under dispatch serial `serial`; `describe(b, ctx)` appends
     * what it is. */
    void (*dispatching)(unsigned long serial, const void *w, void (*describe)(ac__buf *b, const void *ctx),
                        const void *ctx);
    /* A dispatched callback returned (every callback, counted or not): may end the body. */
    void (*returned)(unsigned long serial);
    /* A counted ev_io (or due ev_timer) is pending: how many loop iterations to hold it over before
     * dispatching it (0: now; at most 3); `describe(b, ctx)` appends what it is. */
    unsigned (*defer)(void (*describe)(ac__buf *b, const void *ctx), const void *ctx);
} ac__loop_scheduler;
/* Registers the scheduler (kept until replaced; the table must outlive every test). */
void ac__loop_set_scheduler(const ac__loop_scheduler *s);

/* Names asyncheck's own completion timers in the loop's reports (src/mock/ registers it, through the
 * runner). */
typedef struct ac__loop_delivery_namer {
    /* When `w` is a completion timer, appends what it delivers ("the completion of send() call #0") and
     * returns true; else false. */
    bool (*describe)(ac__buf *b, const void *w);
    /* Appends when that delivery is due (", due 0.5 s after the call"); nothing for other watchers. */
    void (*due)(ac__buf *b, const void *w);
    /* True when `w` is one of the mocks' own watchers (a completion timer, the hand-over ev_async): the
     * timeline leaves out their starts and stops (a completion's dispatch names it). May be NULL. */
    bool (*own)(const void *w);
} ac__loop_delivery_namer;
/* Registers the namer (kept until replaced; the table must outlive every test). */
void ac__loop_set_delivery_namer(const ac__loop_delivery_namer *n);

/* Time the harness spent inside the running callback on the test's behalf (writing its records to the
 * runner, which may block while the runner is busy): not charged to the callback by the slow-callback
 * check. A no-op outside a callback and off the test's thread. */
void ac__loop_not_the_callbacks(double seconds);

/* True for a timeline event of a watcher whose callback is asyncheck's own (a scripted peer's or
 * listener's io; not a mock's delivery, whose event names it): reports leave these out. In the runner,
 * when rendering (a symbol lookup). */
bool ac__loop_tl_harness(const ac__tl_event *e);
/* Describes a timeline event the loop recorded (a callback, a watcher's start or stop) as reports show
 * it: "on_read (ev_io fd=5 EV_READ)", or the delivery a mock's completion timer made. Names code addresses
 * from this executable's symbols: for the runner, reading a ring its test process wrote. */
void ac__loop_tl_describe(ac__buf *b, const ac__tl_event *e);

/* How many descriptors are open below the range the test's start scanned (ppoll; -1 if unknown). */
int ac__loop_count_fds(void);

#endif
