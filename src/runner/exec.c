/* exec.c — executing one test inside whatever process it runs in: the test's fresh loop, its phases
 * (setup, body, drain, teardown), unwinding after a fatal failure or skip, AC_AWAIT, and sending
 * records to the runner. It must not format reports or know whether it runs forked. */
#include "runner.h"
#include "../timeline/timeline.h"
#include "../mock/mock.h"
#include "../patch/patch.h"
#include "../loop/loop.h"
#include "../clock/clock.h"
#include "../race/race.h"

#include <errno.h>
#include <ev.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct ac__await {
    ac_test *t;
    ev_timer timer;
    bool expired;
    bool capped;     /* the test's own timeout comes first */
    double deadline; /* ev_now at which it expires (virtual under the virtual clocks) */
    char *cond_text; /* an owned condition text (ac__await_describe), or NULL */
    void (*describe)(const void *ctx, ac__buf *out); /* what to show as "got" on failure, or NULL */
    const void *describe_ctx;
    double timeout;
    const char *cond;
    const char *file;
    int line;
    ac__await *next;
};

typedef struct end_hook {
    void (*fn)(ac_test *t, void *ctx);
    void *ctx;
    struct end_hook *next;
} end_hook;

struct ac_test {
    end_hook *end_hooks; /* newest first: run in reverse order of registration */
    const ac__test_def *def;
    struct ev_loop *loop;
    bool loop_lazy; /* the loop is made when the test first asks for it (ac_loop): see make_loop */
    void *data;
    ac__sink *sink;
    jmp_buf unwind;
    bool can_unwind;
    double started;
    double timeout;
    ac__await *awaits; /* innermost first */
    ev_timer drain_limit;
    bool drain_expired;
    ev_prepare probe;   /* counts active watchers; see active_count() */
    unsigned baseline;  /* active watchers when setup finished: the suite fixture's own */
    bool ended_early;   /* a fatal failure or skip unwound the test */
    bool skipped;       /* AC_SKIP ran */
    bool drain_failed;  /* already reported the watchers left active */
    bool cancel_window; /* a cancel point may end the phase running now (setup, body, drain) */
    bool cancelled;     /* a cancel sweep's cancel point ended the body */
    ev_async wake;
    pthread_t thread;
    pthread_mutex_t lock;
    atomic_bool abort_requested;
    ac__buf name;
    pid_t pid;                  /* the test's own process: records from any other are not the test's */
    const char *phase;          /* the phase running now, for messages */
    char disruption[96];        /* ac__note_disruption's first text; "" when none */
    end_hook *disruption_hooks; /* ac__at_disruption's, run once when the first disruption is noted */
};

static ac_test *current AC__PER_TEST;

static void release_waits(ac_test *t);

/* ---- sending records ---- */

/* The real write(), whatever slot a test has rewritten with ac_replace: a replaced write must not
 * swallow the records that say the test failed. */
static ssize_t (*real_write)(int, const void *, size_t);

static ssize_t record_write(int fd, const void *buf, size_t n) {
    if (!real_write)
        real_write = (ssize_t(*)(int, const void *, size_t))ac__real("write");
    return real_write ? real_write(fd, buf, n) : write(fd, buf, n);
}

/* This process's id from the kernel: a test may replace getpid() with ac_replace. */
static pid_t own_pid(void) {
    return (pid_t)ac__own_pid();
}

/* Writes one encoded record whole: a write cut short or interrupted by a signal (a test's interval timer
 * without SA_RESTART) goes on where it stopped. */
static void send_record(int fd, int type, const char *const *fields, size_t n) {
    ac__buf b = {0};
    ac__record_encode(&b, type, fields, n);
    size_t off = 0;
    double t0 = ac__monotonic();
    while (off < b.len) {
        ssize_t w = record_write(fd, b.data + off, b.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* the runner is gone; nothing left to tell */
        off += (size_t)w;
    }
    ac__loop_not_the_callbacks(ac__monotonic() -
                               t0); /* a full pipe is the runner's pace, not the callback's */
    ac__buf_free(&b);
}

/* Under --no-fork a test's result lives in the runner's memory, out of reach of a process the test
 * forked: such a process leaves word of its failures here, in memory it shares with the test's process,
 * which reports them before its "done" (the first in full, the rest counted). */
typedef struct fork_failures {
    atomic_uint count;
    int kind, line;
    char file[256], message[1024];
} fork_failures;
static fork_failures *fork_shared;

/* A record from a process the test forked (fork() copies the harness too). Only its failures are
 * passed on, each saying where it came from; its phases and "done" are not the test's and are dropped. */
static void emit_from_fork(ac_test *t, int type, const char *const *fields, size_t n) {
    if (type != AC_REC_FAILURE || n < 7)
        return;
    ac__buf msg = {0};
    ac__buf_printf(&msg, "in process %d, forked by the test: %s", (int)own_pid(), fields[4] ? fields[4] : "");
    if (t->sink->fd >= 0) {
        const char *f[] = {fields[0], "0", fields[2], fields[3], ac__buf_str(&msg), fields[5], fields[6]};
        send_record(t->sink->fd, AC_REC_FAILURE, f, 7);
    } else if (fork_shared && atomic_fetch_add(&fork_shared->count, 1) == 0) {
        fork_shared->kind = atoi(fields[0]);
        fork_shared->line = atoi(fields[3] ? fields[3] : "0");
        snprintf(fork_shared->file, sizeof fork_shared->file, "%s", fields[2] ? fields[2] : "");
        snprintf(fork_shared->message, sizeof fork_shared->message, "%s", ac__buf_str(&msg));
    }
    ac__buf_free(&msg);
}

/* The test's own process, under --no-fork: reports what its forked processes left in fork_shared. */
static void report_fork_failures(void) {
    unsigned n = fork_shared ? atomic_exchange(&fork_shared->count, 0) : 0;
    if (n == 0)
        return;
    char text[1200];
    if (n == 1)
        snprintf(text, sizeof text, "%s", fork_shared->message);
    else
        snprintf(text, sizeof text, "%s (and %u more failures in processes forked by the test)",
                 fork_shared->message, n - 1);
    ac__report_failure((ac__failure_kind)fork_shared->kind, false,
                       fork_shared->file[0] ? fork_shared->file : NULL, fork_shared->line, text, NULL, NULL);
}

static void emit(ac_test *t, int type, const char *const *fields, size_t n) {
    if (own_pid() != t->pid) {
        emit_from_fork(t, type, fields, n); /* no lock: another thread may have held it at the fork */
        return;
    }
    pthread_mutex_lock(&t->lock);
    if (t->sink->fd >= 0)
        send_record(t->sink->fd, type, fields, n);
    else
        ac__record_apply(t->sink->into, type, fields, n);
    pthread_mutex_unlock(&t->lock);
}

/* Called wherever the harness regains control (a phase returned or was unwound): a process the test
 * forked that got here (it returned from the test's code, or a fatal failure in it unwound) must not run
 * the rest of the test as if it were the test, nor report it done. It is reported, when it returned on
 * its own, and ended. */
static void end_if_forked(ac_test *t) {
    if (own_pid() == t->pid)
        return;
    if (!t->ended_early) {
        char text[256], line[16];
        snprintf(text, sizeof text,
                 "returned from the test's %s into asyncheck's harness; asyncheck ended it (end a forked "
                 "process with _exit)",
                 t->phase ? t->phase : "code");
        snprintf(line, sizeof line, "%d", t->def->line);
        char kind[8];
        snprintf(kind, sizeof kind, "%d", (int)AC_FK_HARNESS);
        const char *fields[] = {kind, "0", t->def->file, line, text, NULL, NULL};
        emit_from_fork(t, AC_REC_FAILURE, fields, 7);
    }
    fflush(stdout);
    fflush(stderr);
    _exit(1);
}

void ac__emit_record(ac_test *t, int type, const char *const *fields, size_t n) {
    emit(t, type, fields, n);
}

void ac__report_note(ac_test *t, const char *file, int line, const char *message) {
    char lbuf[16];
    snprintf(lbuf, sizeof lbuf, "%d", line);
    const char *fields[] = {file, lbuf, message};
    emit(t, AC_REC_NOTE, fields, 3);
}

static void set_phase(ac_test *t, const char *phase) {
    t->phase = phase;
    emit(t, AC_REC_PHASE, &phase, 1);
}

static _Noreturn void unwind(ac_test *t) {
    t->ended_early = true;
    longjmp(t->unwind, 1);
}

/* After a fatal failure or skip: end the test from the test's own thread, or, from another thread,
 * ask the test's thread to end it and stop this thread. */
static _Noreturn void end_test_now(ac_test *t) {
    if (pthread_equal(pthread_self(), t->thread) && t->can_unwind)
        unwind(t);
    atomic_store(&t->abort_requested, true);
    if (t->loop) /* (without a loop the test's thread checks the request at its next step) */
        ev_async_send(t->loop, &t->wake);
    pthread_exit(NULL);
}

_Noreturn void ac__exec_cancel_unwind(ac_test *t) {
    if (!t->cancel_window || !t->can_unwind || !pthread_equal(pthread_self(), t->thread))
        abort(); /* ac__cancel_at_point asks ac__exec_cancel_open first */
    t->cancelled = true;
    longjmp(t->unwind, 2);
}

bool ac__exec_cancel_open(ac_test *t) {
    return t->cancel_window && t->can_unwind && pthread_equal(pthread_self(), t->thread);
}

static void check_abort(ac_test *t) {
    if (atomic_load(&t->abort_requested))
        unwind(t);
}

void ac__report_failure(ac__failure_kind kind, bool fatal, const char *file, int line, const char *message,
                        const char *got, const char *expected) {
    ac_test *t = current;
    if (!t) {
        fprintf(stderr, "asyncheck: %s:%d: %s (outside any test)\n", file ? file : "?", line, message);
        if (fatal)
            abort();
        return;
    }
    char kbuf[8], lbuf[16];
    snprintf(kbuf, sizeof kbuf, "%d", (int)kind);
    snprintf(lbuf, sizeof lbuf, "%d", line);
    const char *fields[] = {kbuf, fatal ? "1" : "0", file, lbuf, message, got, expected};
    emit(t, AC_REC_FAILURE, fields, 7);
    if (fatal)
        end_test_now(t);
}

void ac__report_failure_buf(ac__failure_kind kind, bool fatal, const char *file, int line, ac__buf *msg,
                            ac__buf *got, ac__buf *expected) {
    char text[2048], g[4096], e[4096];
    snprintf(text, sizeof text, "%s", ac__buf_str(msg));
    snprintf(g, sizeof g, "%s", got ? ac__buf_str(got) : "");
    snprintf(e, sizeof e, "%s", expected ? ac__buf_str(expected) : "");
    ac__buf_free(msg);
    if (got)
        ac__buf_free(got);
    if (expected)
        ac__buf_free(expected);
    ac__report_failure(kind, fatal, file, line, text, g[0] ? g : NULL, e[0] ? e : NULL);
}

_Noreturn void ac__report_skip(const char *reason) {
    ac_test *t = current;
    if (!t) {
        fprintf(stderr, "asyncheck: skip outside any test: %s\n", reason);
        abort();
    }
    t->skipped = true;
    emit(t, AC_REC_SKIP, &reason, 1);
    end_test_now(t);
}

/* ---- the public handle ---- */

static void wake_cb(struct ev_loop *loop, ev_async *w, int revents);

/* Makes the test's loop: its wake-up watcher (unreferenced), the clock's view of it. */
static bool new_loop(ac_test *t, unsigned backend) {
    t->loop = ev_loop_new(backend | EVFLAG_NOENV);
    if (!t->loop && backend == EVBACKEND_EPOLL)
        t->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV);
    if (!t->loop)
        return false;
    ev_async_init(&t->wake, wake_cb);
    t->wake.data = t;
    ev_async_start(t->loop, &t->wake);
    ev_unref(t->loop);
    ac__clock_attach(t->loop);
    return true;
}

/* An in-process test under the real clock gets its loop when it first asks for it, on its own thread:
 * a test that never does pays for no loop (README "Performance"). The fds the loop opens are the
 * loop's (ac__loop_adopt), as those of a loop made before the test began. */
static void make_loop(ac_test *t) {
    t->loop_lazy = false;
    ac__loop_adopt_begin();
    if (!new_loop(t, EVBACKEND_EPOLL))
        ac__report_failure(AC_FK_HARNESS, true, t->def->file, t->def->line,
                           "could not create the test's libev loop", NULL, NULL);
    ac__loop_adopt(t->loop);
    ac__tl_begin(t->loop); /* the timeline starts with the loop */
}

struct ev_loop *ac_loop(ac_test *t) {
    if (!t->loop && t->loop_lazy && pthread_equal(pthread_self(), t->thread))
        make_loop(t);
    return t->loop;
}

struct ev_loop *ac__test_loop_made(ac_test *t) {
    return t->loop;
}

void ac_set_data(ac_test *t, void *data) {
    t->data = data;
}

void *ac_data(ac_test *t) {
    return t->data;
}

double ac__test_started(ac_test *t) {
    return t->started;
}

const ac__test_def *ac__test_def_of(ac_test *t) {
    return t->def;
}

void ac__note_disruption(ac_test *t, const char *what) {
    if (!t || t->disruption[0])
        return;
    snprintf(t->disruption, sizeof t->disruption, "%s", what);
    for (end_hook *h = t->disruption_hooks; h; h = h->next)
        h->fn(t, h->ctx);
}

void ac__at_disruption(ac_test *t, void (*fn)(ac_test *t, void *ctx), void *ctx) {
    end_hook *h = ac__xmalloc(sizeof *h);
    *h = (end_hook){fn, ctx, t->disruption_hooks};
    t->disruption_hooks = h;
}

const char *ac__disruption(ac_test *t) {
    return t && t->disruption[0] ? t->disruption : NULL;
}

bool ac__test_ended_early(ac_test *t) {
    return t->ended_early;
}

bool ac__test_skipped(ac_test *t) {
    return t->skipped;
}

void ac__at_test_end(ac_test *t, void (*fn)(ac_test *t, void *ctx), void *ctx) {
    end_hook *h = ac__xmalloc(sizeof *h);
    *h = (end_hook){fn, ctx, t->end_hooks};
    t->end_hooks = h;
}

/* Runs the end hooks, newest first, each able to fail the test (even fatally) without skipping the
 * others. A hook registered while hooks run also runs. */
static void run_end_hooks(ac_test *t) {
    while (t->end_hooks) {
        end_hook *h = t->end_hooks;
        t->end_hooks = h->next;
        if (setjmp(t->unwind) == 0)
            h->fn(t, h->ctx);
        end_if_forked(t);
        release_waits(t);
        free(h);
    }
}

const void *ac_param(ac_test *t) {
    return t->def->param;
}

const char *ac_test_name(ac_test *t) {
    return ac__buf_str(&t->name);
}

ac_test *ac_current(void) {
    return current;
}

/* ---- AC_AWAIT ---- */

static void await_expired(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    ((ac__await *)w->data)->expired = true;
}

/* AC_TIMEOUT_MULTIPLIER is for slow machines: it stretches real-time waits only, never virtual time and
 * never a window something must *not* complete in. */
static ac__await *await_begin(ac_test *t, double timeout_s, bool scale, const char *cond, const char *file,
                              int line) {
    ac__cpu_release_if_threaded(); /* a thread started where no slot reached: cpu_hold.c */
    ac__await *aw = ac__xcalloc(1, sizeof *aw);
    double mult = 1.0;
    if (!scale || ac__clock_kind() != AC_CLOCK_REAL || !ac__timeout_multiplier(&mult))
        mult = 1.0;
    *aw = (ac__await){.t = t, .timeout = timeout_s * mult, .cond = cond, .file = file, .line = line};
    aw->next = t->awaits;
    t->awaits = aw;
    /* Never wait past the test's own timeout: fail here, naming the condition, before the runner's
     * watchdog has to kill the test. */
    double left = t->started + t->timeout - ac__monotonic();
    if (left < aw->timeout && ac__clock_kind() == AC_CLOCK_REAL) {
        aw->timeout = left > 0 ? left : 0;
        aw->capped = true;
    }
    ev_now_update(ac_loop(t)); /* (the first thing an AC_AWAIT does with the loop: it may make it) */
    aw->deadline = ev_now(t->loop) + aw->timeout;
    ev_timer_init(&aw->timer, await_expired, aw->timeout, 0.);
    aw->timer.data = aw;
    ac__loop_harness_enter();
    ev_timer_start(t->loop, &aw->timer);
    ac__loop_harness_leave();
    return aw;
}

/* Fails the await (fatal): `what` describes it; the loop's active watchers are listed as "got". */
static _Noreturn void await_fail(ac__await *aw, const char *text) {
    ac__buf msg = {0}, active = {0};
    ac__buf_puts(&msg, text);
    if (aw->describe)
        aw->describe(aw->describe_ctx, &active);
    else
        ac__loop_describe_active(aw->t, &active);
    ac__report_failure_buf(AC_FK_ASSERTION, true, aw->file, aw->line, &msg, &active, NULL);
    abort(); /* not reached */
}

static void await_check_expired(ac__await *aw) {
    ac_test *t = aw->t;
    int clock = ac__clock_kind();
    char text[1024];
    if (clock == AC_CLOCK_MANUAL && ac__clock_stalled(0)) {
        snprintf(
            text, sizeof text,
            "deadlock under the manual clock: nothing is ready and time moves only with ac_clock_advance, "
            "while waiting for %s",
            aw->cond);
        await_fail(aw, text);
    }
    if (!aw->expired)
        return;
    if (clock != AC_CLOCK_REAL)
        snprintf(text, sizeof text, "virtual deadline: nothing made %s true within %.3f s of virtual time",
                 aw->cond, aw->timeout);
    else if (aw->capped)
        snprintf(text, sizeof text, "the test's %.3f s timeout ran out while waiting for %s", t->timeout,
                 aw->cond);
    else
        snprintf(text, sizeof text, "timed out after %.3f s waiting for %s", aw->timeout, aw->cond);
    await_fail(aw, text);
}

/* Nothing left on the loop could make the condition true (ac__loop_quiescent): fails at once rather
 * than waiting out the timeout (under a virtual clock, before time jumps). "got" is what the await
 * describes itself, else the watchers left (which cannot fire) and the completions held for the test. */
static _Noreturn void await_idle(ac__await *aw) {
    ac__buf msg = {0}, got = {0}, held = {0};
    ac__buf_printf(&msg, "the loop went idle while waiting for %s", aw->cond);
    if (aw->describe) {
        aw->describe(aw->describe_ctx, &got);
    } else {
        ac__loop_describe_active(aw->t, &got);
        if (ac__mock_held_all(aw->t, &held))
            ac__buf_printf(&got, "%s%s (only the test can deliver them)", got.len ? "\n" : "",
                           ac__buf_str(&held));
    }
    ac__buf_free(&held);
    ac__report_failure_buf(AC_FK_ASSERTION, true, aw->file, aw->line, &msg, &got, NULL);
    abort(); /* not reached */
}

void ac__await_step(ac__await *aw) {
    ac_test *t = aw->t;
    check_abort(t);
    await_check_expired(aw);
    if (ac__loop_quiescent(t))
        await_idle(aw);
    ev_run(t->loop, EVRUN_ONCE);
    check_abort(t);
}

bool ac__await_running(ac__await *aw) {
    ac_test *t = aw->t;
    check_abort(t);
    if (aw->expired)
        return false;
    if (ac__clock_kind() == AC_CLOCK_MANUAL && ac__clock_stalled(0))
        return false; /* nothing can happen until the test advances the clock */
    ev_run(t->loop, EVRUN_ONCE);
    check_abort(t);
    return true;
}

ac__await *ac__await_begin(ac_test *t, double timeout_s, const char *cond, const char *file, int line) {
    return await_begin(t, timeout_s, true, cond, file, line);
}

ac__await *ac__await_begin_exact(ac_test *t, double seconds, const char *cond, const char *file, int line) {
    return await_begin(t, seconds, false, cond, file, line);
}

_Noreturn void ac__await_too_early(ac__await *aw) {
    char text[1024];
    double elapsed = ev_now(aw->t->loop) - (aw->deadline - aw->timeout);
    snprintf(text, sizeof text, "%s became true after %.3f s, before %.3f s had passed", aw->cond, elapsed,
             aw->timeout);
    ac__report_failure(AC_FK_ASSERTION, true, aw->file, aw->line, text, NULL, NULL);
    abort(); /* not reached */
}

void ac__await_describe(ac__await *aw, const char *cond, void (*describe)(const void *ctx, ac__buf *out),
                        const void *ctx) {
    free(aw->cond_text);
    aw->cond_text = ac__xstrdup(cond);
    aw->cond = aw->cond_text;
    aw->describe = describe;
    aw->describe_ctx = ctx;
}

static void await_release(ac__await *aw) {
    ac_test *t = aw->t;
    free(aw->cond_text);
    ev_timer_stop(t->loop, &aw->timer);
    for (ac__await **pp = &t->awaits; *pp; pp = &(*pp)->next)
        if (*pp == aw) {
            *pp = aw->next;
            break;
        }
    free(aw);
}

void ac__await_end(ac__await *aw) {
    await_release(aw);
}

/* ---- phases ---- */

static void drain_expired(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)revents;
    ev_ref(loop); /* balance the ev_unref in drain(): libev already stopped this one-shot timer */
    ((ac_test *)w->data)->drain_expired = true;
}

static void probe_cb(struct ev_loop *loop, ev_prepare *w, int revents) {
    (void)revents;
    ev_prepare_stop(loop, w);
    ev_break(loop, EVBREAK_ONE);
}

/* The number of active, referenced watchers on the test's loop. libev has no API for it, but ev_run
 * returns that count: a prepare watcher that stops itself and breaks makes the iteration end before
 * it polls or dispatches anything (only other prepare watchers run, as before any poll). */
static unsigned active_count(ac_test *t) {
    if (!t->loop)
        return 0; /* no loop made (yet): nothing can be active */
    ev_prepare_init(&t->probe, probe_cb);
    ac__loop_harness_enter();
    ev_prepare_start(t->loop, &t->probe);
    ac__loop_harness_leave();
    int n = ev_run(t->loop, EVRUN_NOWAIT);
    if (ev_is_active(&t->probe))
        ev_prepare_stop(t->loop, &t->probe);
    return n > 0 ? (unsigned)n : 0;
}

/* Runs the loop until the watchers the body started have finished (the count is back to what setup
 * left), for at most `limit` seconds of the test's clock, and never past the test's own timeout (real
 * time). Under the virtual clocks a day of virtual time also ends it (a repeating timer never ends), and
 * a manual clock that nothing can move. Returns the active count it ended with and sets *why to the
 * reason when that is above the baseline. */
static unsigned settle(ac_test *t, double limit, char *why, size_t why_size) {
    why[0] = 0;
    if (!t->loop)
        return 0;
    double left = t->started + t->timeout - ac__monotonic();
    if (left < 0)
        left = 0;
    unsigned active;
    why[0] = 0;
    if (ac__clock_kind() != AC_CLOCK_REAL) {
        double real_deadline = ac__monotonic() + left, start = ac__clock_mono();
        double span = limit >= 0 && limit < 86400 ? limit : 86400;
        ac__clock_stalled(0);
        while ((active = active_count(t)) > t->baseline) {
            if (ac__clock_kind() == AC_CLOCK_MANUAL && ac__clock_stalled(0)) {
                snprintf(why, why_size, "%s, and the manual clock moves only with ac_clock_advance",
                         t->cancelled ? "after the cancel" : "after the body returned");
                return active;
            }
            if (ac__clock_mono() - start > span) {
                snprintf(why, why_size, "after %s of virtual time since %s",
                         span == 86400 ? "a day" : "the limit",
                         t->cancelled ? "the cancel" : "the body returned");
                return active;
            }
            if (ac__monotonic() > real_deadline) {
                snprintf(why, why_size, "when its %.3f s timeout ran out after %s", t->timeout,
                         t->cancelled ? "the cancel" : "the body returned");
                return active;
            }
            ev_run(t->loop, EVRUN_ONCE);
            check_abort(t);
        }
        return active;
    }
    bool capped = limit < 0 || limit >= left;
    ev_now_update(t->loop);
    t->drain_expired = false;
    ev_timer_init(&t->drain_limit, drain_expired, capped ? left : limit, 0.);
    t->drain_limit.data = t;
    ac__loop_harness_enter();
    ev_timer_start(t->loop, &t->drain_limit);
    ac__loop_harness_leave();
    ev_unref(t->loop);
    while ((active = active_count(t)) > t->baseline && !t->drain_expired) {
        ev_run(t->loop, EVRUN_ONCE);
        check_abort(t);
    }
    if (t->drain_expired && active > t->baseline) {
        if (capped)
            snprintf(why, why_size, "when its %.3f s timeout ran out after %s", t->timeout,
                     t->cancelled ? "the cancel" : "the body returned");
        else
            snprintf(why, why_size, "%.3f s after the cancel", limit);
    }
    if (ev_is_active(&t->drain_limit)) {
        ev_ref(t->loop);
        ev_timer_stop(t->loop, &t->drain_limit);
    }
    return active;
}

/* Watchers still active after the drain fail the test. The count is of the watchers listed (the body's):
 * asyncheck's own (a mock's completion still due) are never counted as the test's, and are named instead
 * when nothing of the test's is left. */
static void drain_failed(ac_test *t, unsigned active, const char *why) {
    t->drain_failed = true;
    ac__buf msg = {0}, which = {0};
    size_t n = ac__loop_describe_body(t, &which);
    size_t own = n ? 0 : ac__loop_describe_harness(t, &which, false);
    if (own)
        ac__buf_printf(&msg,
                       "%zu watcher%s of asyncheck's own (a mock's completion, a scripted peer) still "
                       "active %s",
                       own, own == 1 ? "" : "s", why);
    else if (n == 0)
        ac__buf_printf(&msg, "%u watcher%s still active %s", active - t->baseline,
                       active - t->baseline == 1 ? "" : "s", why);
    else
        ac__buf_printf(&msg, "%zu watcher%s started by the test still active %s", n, n == 1 ? "" : "s", why);
    ac__report_failure(AC_FK_WATCHERS, false, t->def->file, t->def->line, ac__buf_str(&msg),
                       which.len ? ac__buf_str(&which) : NULL, NULL);
    ac__buf_free(&msg);
    ac__buf_free(&which);
}

/* .drain = false: the body must return with none of the watchers it started still active, and no mock
 * completion still due (without the drain it would never be delivered). */
static void check_body_left_nothing(ac_test *t) {
    ac__buf msg = {0}, which = {0};
    size_t n = ac__loop_describe_body(t, &which), due = n ? 0 : ac__loop_describe_harness(t, &which, true);
    if (due) {
        ac__buf_printf(&msg,
                       "%zu mock completion%s still due when the body returned (.drain = false: AC_AWAIT "
                       "what must finish)",
                       due, due == 1 ? "" : "s");
        ac__report_failure(AC_FK_WATCHERS, false, t->def->file, t->def->line, ac__buf_str(&msg),
                           ac__buf_str(&which), NULL);
    } else if (n) {
        t->drain_failed = true; /* reported here: no "after teardown" report of the same watchers */
        ac__buf_printf(&msg,
                       "%zu watcher%s started by the test still active when the body returned (.drain = "
                       "false: stop %s before returning, or AC_AWAIT what must finish)",
                       n, n == 1 ? "" : "s", n == 1 ? "it" : "them");
        ac__report_failure(AC_FK_WATCHERS, false, t->def->file, t->def->line, ac__buf_str(&msg),
                           ac__buf_str(&which), NULL);
    }
    ac__buf_free(&msg);
    ac__buf_free(&which);
}

static void drain(ac_test *t) {
    char why[160];
    unsigned active = settle(t, -1, why, sizeof why);
    if (active > t->baseline)
        drain_failed(t, active, why);
}

unsigned ac__exec_settle(ac_test *t, double timeout_s, ac__buf *left) {
    char why[160];
    unsigned active = settle(t, timeout_s, why, sizeof why);
    if (active <= t->baseline)
        return 0;
    /* the count is of the watchers listed: the body's own (asyncheck's, such as a scripted peer's or a
     * mock's completion timer, are not the test's; held completions are checked by the caller) */
    size_t n = ac__loop_describe_body(t, left);
    if (n)
        t->drain_failed = true; /* reported by the caller */
    return (unsigned)n;
}

/* After teardown nothing should be left running: the suite's fixture is stopped and the body's work
 * drained. Not checked after a fatal failure or skip, where leftovers are expected. */
static void check_leftovers(ac_test *t) {
    unsigned n = active_count(t);
    if (n == 0)
        return;
    ac__buf msg = {0}, which = {0};
    size_t listed = ac__loop_describe_active(t, &which);
    if (listed == 0)
        listed = ac__loop_describe_harness(t, &which, false);
    if (listed)
        n = (unsigned)listed; /* the count is of the watchers listed, when asyncheck can name them */
    ac__buf_printf(
        &msg,
        "%u watcher%s still active after teardown (stop them, or ev_unref those that must not keep "
        "the loop alive)",
        n, n == 1 ? "" : "s");
    ac__report_failure(AC_FK_WATCHERS, false, t->def->file, t->def->line, ac__buf_str(&msg),
                       which.len ? ac__buf_str(&which) : NULL, NULL);
    ac__buf_free(&msg);
    ac__buf_free(&which);
}

/* Stops whatever an unwound phase left registered on the loop from harness-owned memory. */
static void release_waits(ac_test *t) {
    while (t->awaits)
        await_release(t->awaits);
    if (!t->loop)
        return;
    if (ev_is_active(&t->probe))
        ev_prepare_stop(t->loop, &t->probe);
    if (ev_is_active(&t->drain_limit)) {
        ev_ref(t->loop);
        ev_timer_stop(t->loop, &t->drain_limit);
    }
}

/* --no-fork: a thread the test started and left running would go on into the next tests (failing them,
 * calling their mocks). Threads that are ending get a moment; any still running fail this test. */
#if defined(__SANITIZE_THREAD__)
/* ThreadSanitizer starts a background thread of its own when it first needs it, maybe during a test,
 * and slows every thread's exit: one thread more is its, and the grace is longer. */
#define TOOL_THREADS 1
#define THREAD_GRACE_STEPS 500
#else
#define TOOL_THREADS 0
#define THREAD_GRACE_STEPS 100
#endif

static void check_threads_left(ac_test *t, int at_start) {
    at_start += TOOL_THREADS;
    int now = ac__count_threads();
    for (int i = 0; i < THREAD_GRACE_STEPS && now > at_start; i++) {
        usleep(2000);
        now = ac__count_threads();
    }
    if (now <= at_start)
        return;
    char text[320];
    snprintf(text, sizeof text,
             "%d thread%s started by the test %s still running at its end: under --no-fork %s would run on "
             "into the next tests (join %s before the test ends, or run without --no-fork)",
             now - at_start, now - at_start == 1 ? "" : "s", now - at_start == 1 ? "is" : "are",
             now - at_start == 1 ? "it" : "they", now - at_start == 1 ? "it" : "them");
    ac__report_failure(AC_FK_ASSERTION, false, t->def->file, t->def->line, text, NULL, NULL);
}

static void wake_cb(struct ev_loop *loop, ev_async *w, int revents) {
    (void)loop, (void)revents;
    check_abort(w->data);
}

/* In-process tests under the real clock make their loop lazily (make_loop); a forked test's child and
 * the virtual clocks (which attach to the loop's epoll fd as it is made) keep making it up front. */
static bool lazy_loop(const ac__sink *sink, ac_clock clock, unsigned backend) {
    return sink->fd < 0 && clock == AC_CLOCK_REAL && backend == EVBACKEND_EPOLL;
}

/* Hands the modules below mock what they ask of it, through their narrow interfaces (they never include
 * src/mock/): the loop names completion timers, the checks after a cancel count held completions. */
static void wire_mocks(void) {
    static const ac__loop_delivery_namer namer = {
        .describe = ac__mock_describe_delivery, .due = ac__mock_describe_due, .own = ac__mock_own_watcher};
    ac__loop_set_delivery_namer(&namer);
    ac__cancel_set_held_counter(ac__mock_held_all);
}

void ac__exec_warm(void) {
    wire_mocks();
    if (!real_write) /* a dlsym in every test child costs a dozen page faults of the loader's */
        real_write = (ssize_t(*)(int, const void *, size_t))ac__real("write");
}

void ac__exec_test(const ac__test_def *def, double timeout, int default_clock, const ac__sched_params *sched,
                   ac__sink *sink, const cpu_set_t *cpus) {
    wire_mocks();
    unsigned long tsan_before = ac__tsan_reports();
    ac__asan_begin(sink->fd >= 0);
    int threads_at_start = sink->fd < 0 ? ac__count_threads() : 0; /* --no-fork: see check_threads_left */
    ac_test *t = ac__xcalloc(1, sizeof *t);
    t->def = def;
    t->sink = sink;
    t->timeout = timeout;
    t->started = ac__monotonic();
    t->thread = pthread_self();
    t->pid = own_pid();
    pthread_mutex_init(&t->lock, NULL);
    if (sink->fd < 0 && !fork_shared) {
        void *m = mmap(NULL, sizeof *fork_shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        fork_shared = m == MAP_FAILED ? NULL : m;
    }
    if (fork_shared)
        atomic_store(&fork_shared->count, 0);
    ac__full_name(def, &t->name);
    current = t;

    const ac__suite_def *suite = ac__suite_find(def->suite);
    ac_clock clock = def->options.clock              ? def->options.clock
                     : suite && suite->options.clock ? suite->options.clock
                     : default_clock                 ? (ac_clock)default_clock
                                                     : AC_CLOCK_REAL;
    unsigned backend = sched && sched->backend ? sched->backend : EVBACKEND_EPOLL;
    if (clock != AC_CLOCK_REAL && backend != EVBACKEND_EPOLL) { /* README: "Every backend" */
        const char *why = "the virtual and manual clocks need the epoll backend (they move time inside "
                          "epoll_wait; under poll or select the loop would wait for real)";
        t->skipped = true;
        emit(t, AC_REC_SKIP, &why, 1);
    } else {
        ac__clock_begin(t,
                        clock); /* before the loop exists: libev's time is virtual from its first reading */
        t->loop_lazy = lazy_loop(sink, clock, backend);
        if (!t->loop_lazy)
            new_loop(t, backend);
    }
    if (!t->loop && !t->loop_lazy) {
        if (!t->skipped)
            ac__report_failure(AC_FK_HARNESS, false, def->file, def->line,
                               "could not create the test's libev loop", NULL, NULL);
    } else {
        ac__loop_begin(t);
        if (t->loop)
            ac__tl_begin(t->loop); /* the timeline's time 0: the loop's first reading */
        else
            ac__tl_arm(); /* the loop comes later (make_loop), if at all */
        ac__race_begin(t, sched);
        ac__fault_point fault = {.at = sched->fault_at, .err = sched->fault_err};
        memcpy(fault.fn, sched->fault_fn, sizeof fault.fn);
        ac__fault_begin(t, &fault, sched->exploring);

        if (cpus) /* the test's code starts here: runner.h */
            ac__cpu_hold(cpus);
        if (setjmp(t->unwind) == 0) {
            t->can_unwind = true;
            t->cancel_window = true;
            if (suite && suite->options.setup) {
                set_phase(t, "setup");
                suite->options.setup(t);
                end_if_forked(t);
                check_abort(t);
                t->baseline = active_count(t);
            }
            set_phase(t, "body");
            ac__loop_body_begins(t);
            def->body(t);
            end_if_forked(t);
            check_abort(t);
            bool waived = def->options.allow & AC_ALLOW_ACTIVE_WATCHERS;
            if (!waived && !def->options.drain) {
                check_body_left_nothing(t);
            } else if (!waived) {
                set_phase(t, "drain");
                drain(t);
            }
        }
        end_if_forked(t);
        t->cancel_window = false;
        release_waits(t);
        if (t->cancelled && !t->ended_early) {
            /* a cancel sweep's cancel point ended the body: see what the cancel left behind */
            set_phase(t, "cancel");
            if (setjmp(t->unwind) == 0)
                ac__cancel_settle(t);
            end_if_forked(t);
            release_waits(t);
        }
        ac__fault_end(t); /* the suite's teardown is outside the fault window */
        atomic_store(&t->abort_requested, false);
        if (suite && suite->options.teardown) {
            if (setjmp(t->unwind) == 0) {
                set_phase(t, "teardown");
                suite->options.teardown(t);
            }
            end_if_forked(t);
            release_waits(t);
        }
        if (t->end_hooks)
            set_phase(t, "end");
        bool ended_early = t->ended_early;
        while (t->disruption_hooks) { /* the modules that registered them free their state next */
            end_hook *h = t->disruption_hooks;
            t->disruption_hooks = h->next;
            free(h);
        }
        run_end_hooks(t);
        ac__race_end(t);
        if (!ended_early && !t->drain_failed && !(def->options.allow & AC_ALLOW_ACTIVE_WATCHERS))
            check_leftovers(t);
        ac__loop_end(t, !ended_early);
        t->can_unwind = false;
        t->loop_lazy = false;
        if (t->loop) {
            ev_ref(t->loop);
            ev_async_stop(t->loop, &t->wake);
            ac__tl_begin(NULL);
            ev_loop_destroy(t->loop);
        }
        ac__clock_end(sink->fd < 0); /* a forked test's process only exits after this: its mprotect
                                      * calls and page copies would be for nothing */
    }
    end_if_forked(t);
    if (threads_at_start > 0)
        check_threads_left(t, threads_at_start);
    report_fork_failures();
    ac__tsan_check(t, tsan_before); /* TSan's reports would otherwise pass unnoticed: sanitizer.c */
    ac__asan_check(t);              /* so would UBSan's; ASan's end the process: sanitizer.c */
    emit(t, AC_REC_DONE, NULL, 0);
    current = NULL;
    pthread_mutex_destroy(&t->lock);
    ac__buf_free(&t->name);
    free(t);
}
