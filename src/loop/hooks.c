/* hooks.c — seeing what a test does with its loop: libev's ev_TYPE_start/stop (libev has no API to
 * list watchers), nested ev_run, and the sleeping calls; and dispatching the loop's pending callbacks
 * one at a time so each is timed.
 *
 * Interception. The GOT/PLT slots of these functions are rewritten once per process, by a constructor,
 * before any test or replacement exists (src/patch/patch.h; the runner forks test children from a process
 * that already has them, so a forked test pays nothing). A test's own ac_replace of one of them, or the
 * virtual clock's replacement of the sleeping calls, stacks on top and is undone back to these. Between
 * tests, and in the runner, each hook costs a compare and a call through: tracking is on only for the
 * running test's loop, on its thread (ac__tracking). Slots are rewritten in every loaded object, so
 * libev's own internal calls of ev_TYPE_start/stop, ev_feed_event and ev_run (Debian's libev makes them
 * through its PLT) arrive here too. A watcher whose callback is libev's (its signal/async pipe, the
 * timer inside ev_stat, ev_embed's io) is libev's own: recorded as internal, never reported. The caller
 * cannot tell: a callback that ends with ev_io_start makes a tail call, and the start then returns into
 * libev or into this dispatcher. ev_timer_again, ev_periodic_again and ev_once are hooked so that the
 * starts libev makes inside them are credited to the test's call site.
 *
 * Stops. A stopped watcher's record is dropped at once and kept aside as a copy ("limbo"), compared by
 * address only. libev stops an expiring one-shot timer and then feeds it; the ev_feed_event hook brings
 * its record back for the dispatch that invokes it, and the dispatcher forgets it before invoking the
 * callback (which may free it). Limbo is emptied whenever a dispatch begins.
 *
 * Dispatch. ev_set_invoke_pending_cb puts ac__hooks_dispatch in place of ev_invoke_pending for the
 * test's loop. It invokes each pending watcher it has a record of on its own (ev_clear_pending +
 * ev_invoke, higher priority first), timing each callback with the real clock; then calls libev's
 * ev_invoke_pending for whatever is left (watchers started before tracking began, libev's cleared
 * slots), timed as one batch. libev's pipe watcher is invoked on its own too (adopted at test start),
 * so ev_async and ev_signal callbacks it feeds become pending while we still dispatch and are timed one
 * by one. A watcher whose callback was changed with ev_set_cb while active is left to the batch.
 *
 * Nesting. A callback may run the loop again (AC_AWAIT inside a callback). The ev_run hook measures a
 * nested ev_run of the test's loop and subtracts it from the callback that called it, so each callback
 * is charged only its own time and nothing is counted twice; the nested callbacks are timed themselves.
 *
 * Unwinding. A fatal failure inside a callback longjmps out of this dispatcher, leaving its frames on
 * the frame stack. They are found by looking at the real stack: call_watcher/call_rest live in their
 * own section (ac_loop_dispatch), so backtrace() tells how many dispatch frames are really live. This
 * runs only when it matters — a nested dispatch, or a sleep while the stack says we are in a callback —
 * never on the common path. */
#include "loop_internal.h"

#include "patch/patch.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- the real functions ---- */

static void (*real_invoke_pending)(struct ev_loop *);
static int (*real_run)(struct ev_loop *, int);
static void (*real_loop_destroy)(struct ev_loop *);
static void (*real_timer_again)(struct ev_loop *, ev_timer *);
static void (*real_periodic_again)(struct ev_loop *, ev_periodic *);
static void (*real_once)(struct ev_loop *, int, int, ev_tstamp, void (*)(int, void *), void *);
static unsigned (*real_sleep)(unsigned);
static int (*real_usleep)(useconds_t);
static int (*real_nanosleep)(const struct timespec *, struct timespec *);
static int (*real_clock_nanosleep)(clockid_t, int, const struct timespec *, struct timespec *);
static void (*real_ev_sleep)(ev_tstamp);

static uintptr_t libev_lo, libev_hi; /* libev's code: calls from there are libev's own */

static bool in_libev(const void *addr) {
    return (uintptr_t)addr - libev_lo < libev_hi - libev_lo;
}

bool ac__hooks_in_libev(const void *addr) {
    return in_libev(addr);
}

static bool on_test_thread(void) {
    return pthread_equal(pthread_self(), ac__ls.thread);
}

/* ---- per-thread context ---- */

static __thread const void *user_site; /* inside ev_timer_again/ev_periodic_again/ev_once: the test's call */
static __thread void *user_cb;         /* inside ev_once: the test's callback */
static __thread int harness_depth;     /* inside ac__loop_harness_enter/leave */
static __thread bool in_sleep;         /* inside a hooked sleep: ev_sleep calls nanosleep */

void ac__loop_harness_enter(void) {
    harness_depth++;
}

void ac__loop_harness_leave(void) {
    if (harness_depth > 0)
        harness_depth--;
}

/* ---- dispatch frames (ac__ls.frames): the callbacks running now, innermost last ---- */

/* How many callbacks are being dispatched (ac__ls.depth): written on the test's thread, read by hooks on
 * any thread (whose own checks then find they are not the test's). */
static inline int get_depth(void) {
    return __atomic_load_n(&ac__ls.depth, __ATOMIC_RELAXED);
}

static inline void set_depth(int d) {
    __atomic_store_n(&ac__ls.depth, d, __ATOMIC_RELAXED);
}

/* ---- libev's internal watchers started before tracking (its async/signal pipe) ---- */

/* ac__ls.ring: zero-initialised, which is a default mutex for glibc's pthread_mutex_t. */
static void ring_add(struct ev_loop *loop, ev_io *w) {
    pthread_mutex_lock(&ac__ls.ring_lock);
    ac__ls.ring[ac__ls.ring_next++ % AC_RING] =
        (ac__ring_entry){loop, (ev_watcher *)w, (void *)w->cb, w->fd, w->events};
    __atomic_store_n(&ac__ls.ring_used, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&ac__ls.ring_lock);
}

static void ring_forget(struct ev_loop *loop, const ev_watcher *w) {
    if (!__atomic_load_n(&ac__ls.ring_used, __ATOMIC_RELAXED))
        return;
    pthread_mutex_lock(&ac__ls.ring_lock);
    for (unsigned i = 0; i < AC_RING; i++)
        if (ac__ls.ring[i].w && (ac__ls.ring[i].w == w || (loop && ac__ls.ring[i].loop == loop)))
            ac__ls.ring[i] = (ac__ring_entry){0};
    pthread_mutex_unlock(&ac__ls.ring_lock);
}

void ac__hooks_adopt_internal(struct ev_loop *loop) {
    pthread_mutex_lock(&ac__ls.ring_lock);
    for (unsigned i = 0; i < AC_RING; i++) {
        ac__ring_entry *e = &ac__ls.ring[i];
        /* Entries are dropped when their loop is destroyed, so e->w is live memory of this loop. */
        if (e->loop != loop || !e->w || !ev_is_active(e->w) || (void *)e->w->cb != e->cb ||
            ac__rec_find(e->w))
            continue;
        ac__wrec r = {.w = e->w, .cb = e->cb, .type = AC_W_IO, .internal = true};
        r.p.io.fd = e->fd;
        r.p.io.events = e->events & (EV_READ | EV_WRITE);
        r.serial = ++ac__ls.next_serial;
        ac__rec_add(&r);
    }
    pthread_mutex_unlock(&ac__ls.ring_lock);
}

/* ---- starts and stops ---- */

typedef struct start_ctx {
    ac__wrec r;
    bool track; /* record it if it is active after the real start */
    bool ring;  /* libev's own io watcher on a loop not (yet) tracked */
} start_ctx;

__attribute__((noinline)) static void start_pre(struct ev_loop *loop, ev_watcher *w, int type,
                                                const void *caller, start_ctx *c) {
    c->track = c->ring = false;
    if (!w || ev_is_active(w))
        return; /* libev ignores the start of an active watcher */
    const void *site = user_site ? user_site : caller;
    /* libev's own watchers have libev's callbacks; the caller cannot tell (a callback that ends with
     * ev_io_start is a tail call: the start returns into whoever called the callback) */
    bool internal = !user_site && in_libev((const void *)w->cb);
    if (!ac__tracking(loop) || !on_test_thread()) {
        c->ring = internal && type == AC_W_IO;
        c->r.w = w;
        return;
    }
    c->track = true;
    c->r = (ac__wrec){.w = w,
                      .cb = (void *)w->cb,
                      .user_cb = user_cb,
                      .site = site,
                      .type = (unsigned char)type,
                      .internal = internal,
                      .harness = harness_depth > 0};
    int d = get_depth();
    if (d > 0 && d <= AC_MAX_FRAMES) {
        const ac__frame *f = &ac__ls.frames[d - 1];
        c->r.in_callback = true;
        if (!f->batch)
            c->r.parent_cb = f->rec.user_cb ? f->rec.user_cb : f->rec.cb;
    }
    switch (type) {
    case AC_W_IO:
        c->r.p.io.fd = ((ev_io *)w)->fd;
        c->r.p.io.events = ((ev_io *)w)->events & (EV_READ | EV_WRITE);
        break;
    case AC_W_TIMER:
        c->r.p.timer.after = ((ev_timer *)w)->at; /* relative until started */
        c->r.p.timer.repeat = ((ev_timer *)w)->repeat;
        break;
    case AC_W_PERIODIC:
        c->r.p.periodic.offset = ((ev_periodic *)w)->offset;
        c->r.p.periodic.interval = ((ev_periodic *)w)->interval;
        c->r.p.periodic.reschedule = ((ev_periodic *)w)->reschedule_cb != NULL;
        break;
    case AC_W_SIGNAL:
        c->r.p.signum = ((ev_signal *)w)->signum;
        break;
    case AC_W_CHILD:
        c->r.p.child.pid = ((ev_child *)w)->pid;
        c->r.p.child.trace = ((ev_child *)w)->flags & 1;
        break;
    case AC_W_STAT: {
        const ev_stat *st = (const ev_stat *)w;
        c->r.p.stat.interval = st->interval;
        if (st->path)
            snprintf(c->r.p.stat.path, sizeof c->r.p.stat.path, "%s", st->path);
        break;
    }
    default:
        break;
    }
}

static void start_post(struct ev_loop *loop, start_ctx *c) {
    if (c->track && ev_is_active(c->r.w)) {
        c->r.serial = ++ac__ls.next_serial;
        ac__rec_add(&c->r);
    } else if (c->ring && ev_is_active(c->r.w)) {
        ring_add(loop, (ev_io *)c->r.w);
    }
}

/* Watchers stopped since the last dispatch began (ac__ls.limbo), kept as copies and compared by address
 * only (their memory may be freed): libev stops an expiring one-shot timer and then feeds it
 * (ev_feed_event), and its record comes back for the dispatch that invokes it. */
static void stopped(struct ev_loop *loop, ev_watcher *w) {
    if (ac__tracking(loop) && on_test_thread()) {
        ac__wrec *r = ac__rec_find(w);
        if (!r)
            return;
        if (ac__ls.nlimbo < AC_MAX_LIMBO)
            ac__ls.limbo[ac__ls.nlimbo++] = *r;
        ac__rec_remove(w);
    } else {
        ring_forget(NULL, w);
    }
}

/* ThreadSanitizer (docs/TSAN.md) cannot see that ev_async_send publishes what its thread wrote before it
 * to the callback it wakes (libev's memory fences, in uninstrumented code): the send releases the
 * watcher, and libev feeding it to its loop's thread (pipecb, through the PLT) acquires it. Weak: both
 * NULL in a program without TSan. */
extern void __tsan_acquire(void *addr) __attribute__((weak));
extern void __tsan_release(void *addr) __attribute__((weak));
static void (*real_async_send)(struct ev_loop *, ev_async *);

static void hook_async_send(struct ev_loop *loop, ev_async *w) {
    if (__tsan_release)
        __tsan_release(w);
    real_async_send(loop, w);
}

static void (*real_feed_event)(struct ev_loop *, void *, int);

static void hook_feed_event(struct ev_loop *loop, void *w, int revents) {
    if ((revents & EV_ASYNC) && __tsan_acquire)
        __tsan_acquire(w);
    real_feed_event(loop, w, revents);
    if (!ac__tracking(loop) || !on_test_thread() || !ac__ls.nlimbo)
        return;
    for (size_t i = ac__ls.nlimbo; i-- > 0;)
        if (ac__ls.limbo[i].w == w) {
            if (!ac__rec_find(w))
                ac__rec_add(&ac__ls.limbo[i]);
            ac__ls.limbo[i] = ac__ls.limbo[--ac__ls.nlimbo];
            return;
        }
}

#define AC_HOOK_TYPE(name, TYPE)                                                                             \
    static void (*real_##name##_start)(struct ev_loop *, ev_##name *);                                       \
    static void (*real_##name##_stop)(struct ev_loop *, ev_##name *);                                        \
    static void hook_##name##_start(struct ev_loop *loop, ev_##name *w) {                                    \
        start_ctx c;                                                                                         \
        start_pre(loop, (ev_watcher *)w, AC_W_##TYPE, __builtin_return_address(0), &c);                      \
        real_##name##_start(loop, w);                                                                        \
        start_post(loop, &c);                                                                                \
    }                                                                                                        \
    static void hook_##name##_stop(struct ev_loop *loop, ev_##name *w) {                                     \
        real_##name##_stop(loop, w);                                                                         \
        stopped(loop, (ev_watcher *)w);                                                                      \
    }

AC_HOOK_TYPE(io, IO)
AC_HOOK_TYPE(timer, TIMER)
AC_HOOK_TYPE(periodic, PERIODIC)
AC_HOOK_TYPE(signal, SIGNAL)
AC_HOOK_TYPE(child, CHILD)
AC_HOOK_TYPE(stat, STAT)
AC_HOOK_TYPE(idle, IDLE)
AC_HOOK_TYPE(prepare, PREPARE)
AC_HOOK_TYPE(check, CHECK)
AC_HOOK_TYPE(embed, EMBED)
AC_HOOK_TYPE(fork, FORK)
AC_HOOK_TYPE(cleanup, CLEANUP)
AC_HOOK_TYPE(async, ASYNC)

static void hook_timer_again(struct ev_loop *loop, ev_timer *w) {
    const void *caller = __builtin_return_address(0), *saved = user_site;
    if (!saved && !in_libev(caller))
        user_site = caller;
    real_timer_again(loop, w);
    user_site = saved;
    ac__wrec *r;
    if (ac__tracking(loop) && on_test_thread() && (r = ac__rec_find((ev_watcher *)w)))
        r->p.timer.repeat = w->repeat;
}

static void hook_periodic_again(struct ev_loop *loop, ev_periodic *w) {
    const void *caller = __builtin_return_address(0), *saved = user_site;
    if (!saved && !in_libev(caller))
        user_site = caller;
    real_periodic_again(loop, w);
    user_site = saved;
}

static void hook_once(struct ev_loop *loop, int fd, int events, ev_tstamp timeout, void (*cb)(int, void *),
                      void *arg) {
    const void *caller = __builtin_return_address(0), *saved = user_site;
    void *saved_cb = user_cb;
    if (!saved && !in_libev(caller)) {
        user_site = caller;
        user_cb = (void *)cb;
    }
    real_once(loop, fd, events, timeout, cb, arg);
    user_site = saved;
    user_cb = saved_cb;
}

static void hook_loop_destroy(struct ev_loop *loop) {
    ring_forget(loop, NULL);
    if (ac__tracking(loop)) {
        __atomic_store_n(&ac__ls.loop, NULL, __ATOMIC_RELAXED);
        ac__rec_clear();
    }
    real_loop_destroy(loop);
}

/* ---- dispatching and timing callbacks ---- */

/* The only two places that call into the test's callbacks; their own section tells a live dispatch frame
 * on the real stack (backtrace) from one a longjmp abandoned. The empty asm keeps the calls from becoming
 * tail calls, which would leave no frame. */
extern const char __start_ac_loop_dispatch[], __stop_ac_loop_dispatch[];

__attribute__((noinline, section("ac_loop_dispatch"))) static void call_watcher(struct ev_loop *loop,
                                                                                ev_watcher *w, int revents) {
    ev_invoke(loop, w, revents);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline, section("ac_loop_dispatch"))) static void call_rest(struct ev_loop *loop) {
    real_invoke_pending(loop);
    __asm__ volatile("" ::: "memory");
}

/* Drops frames that a longjmp left behind: those beyond the number of dispatch frames really on the
 * stack. Live frames are always the bottom ones (a longjmp abandons the innermost), and this runs before
 * any new frame is pushed above abandoned ones. */
__attribute__((cold)) static void drop_abandoned_frames(void) {
    if (get_depth() == 0)
        return;
    void *pcs[256];
    int n = backtrace(pcs, 256);
    if (n <= 0 || n == 256)
        return; /* cannot tell: keep them */
    int live = 0;
    for (int i = 0; i < n; i++)
        if ((const char *)pcs[i] >= __start_ac_loop_dispatch &&
            (const char *)pcs[i] < __stop_ac_loop_dispatch)
            live++;
    if (live < get_depth())
        set_depth(live);
}

/* Only what is not already clear is written: a forked test child pays a page fault per page it writes. */
void ac__hooks_reset(void) {
    if (ac__ls.nlimbo)
        ac__ls.nlimbo = 0;
    if (get_depth())
        set_depth(0);
    if (in_sleep)
        in_sleep = false;
    if (harness_depth)
        harness_depth = 0;
}

/* Appends "on_read (ev_io fd=7 EV_READ)", "the completion of send() call #0" for a mock's delivery, or a
 * description of the batch. */
__attribute__((cold)) static void describe_frame(ac_buf *b, const ac__frame *f) {
    if (f->batch) {
        ac__buf_puts(b, "that asyncheck could not time one by one (run together by ev_invoke_pending)");
        return;
    }
    if (f->delivery[0]) {
        ac__buf_puts(b, f->delivery);
        return;
    }
    ac__sym_format(b, f->rec.user_cb ? f->rec.user_cb : f->rec.cb, true);
    ac__buf_puts(b, " (");
    ac__wrec_describe(b, &f->rec);
    ac__buf_puts(b, ")");
}

unsigned long ac__loop_dispatches(void) {
    return ac__ls.frame_serial;
}

unsigned long ac__loop_dispatch_serial(void) {
    if (!on_test_thread() || !ac__ls.loop)
        return 0;
    int d = get_depth();
    if (d <= 0)
        return 0;
    return ac__ls.frames[(d <= AC_MAX_FRAMES ? d : AC_MAX_FRAMES) - 1].serial;
}

void ac__loop_dispatch_describe(ac_buf *b) {
    if (!on_test_thread()) {
        ac__buf_puts(b, "a thread other than the test's");
        return;
    }
    int d = ac__ls.loop ? get_depth() : 0;
    if (d <= 0) {
        ac__buf_puts(b, "the test body");
        return;
    }
    const ac__frame *f = &ac__ls.frames[(d <= AC_MAX_FRAMES ? d : AC_MAX_FRAMES) - 1];
    if (!f->batch && !f->delivery[0])
        ac__buf_puts(b, "callback ");
    describe_frame(b, f);
}

/* The live record a frame was made from, or NULL once the watcher is stopped. */
static ac__wrec *frame_rec(const ac__frame *f) {
    if (f->batch)
        return NULL;
    ac__wrec *r = ac__rec_find(f->rec.w);
    return r && r->serial == f->rec.serial ? r : NULL;
}

__attribute__((cold)) static void report(const char *message) {
    const ac__test_def *def = ac__ls.def;
    ac__report_failure(AC_FK_ASSERTION, false, def ? def->file : NULL, def ? def->line : 0, message, NULL,
                       NULL);
}

__attribute__((cold)) static void report_slow(ac__frame *f, double took) {
    ac__wrec *live = frame_rec(f);
    if (f->batch) {
        if (ac__ls.batch_reported_slow)
            return;
        ac__ls.batch_reported_slow = true;
    } else {
        if (f->rec.reported_slow || (live && live->reported_slow))
            return;
        if (live)
            live->reported_slow = true;
    }
    ac_buf msg = {0};
    ac__buf_puts(&msg, f->batch         ? "blocked loop: callbacks "
                       : f->delivery[0] ? "blocked loop: "
                                        : "blocked loop: callback ");
    describe_frame(&msg, f);
    ac__buf_printf(&msg, " ran %.3f s (limit %.3f s)", took, ac__ls.slow_limit);
    report(ac__buf_str(&msg));
    ac__buf_free(&msg);
}

/* For the schedule's trace, before the callback runs (a mock's completion timer is still live then). */
static void describe_rec(ac_buf *b, const void *ctx) {
    const ac__wrec *r = ctx;
    if (ac__delivery_describe(b, r->w))
        return;
    ac__sym_format(b, r->user_cb ? r->user_cb : r->cb, false);
    ac__buf_puts(b, " (");
    ac__wrec_describe(b, r);
    ac__buf_puts(b, ")");
}

/* Before its callback runs (the mock frees its delivery record inside it): what it delivers. */
static void mock_delivery(ac__frame *f, const ev_watcher *w) {
    ac_buf b = {0};
    if (ac__delivery_describe(&b, w))
        snprintf(f->delivery, sizeof f->delivery, "%s", ac__buf_str(&b));
    ac__buf_free(&b);
}

static void run_frame(struct ev_loop *loop, const ac__wrec *r, int revents) {
    int my = get_depth();
    unsigned long serial = ++ac__ls.frame_serial;
    ac__frame *f = my < AC_MAX_FRAMES ? &ac__ls.frames[my] : NULL;
    if (f) {
        if (r)
            f->rec = *r;
        f->batch = !r;
        f->reported_sleep = false;
        f->excluded = 0;
        f->serial = serial;
        f->delivery[0] = '\0';
        if (r && !r->harness && !r->internal) /* a mock's completion timer names its delivery */
            mock_delivery(f, r->w);
        f->start = ac__monotonic();
    }
    if (r && !r->internal && !r->harness) /* the test's own events (and mock completions, peers) */
        if (ac__loop_sched)
            ac__loop_sched->dispatching(serial, r->w, describe_rec, r);
    set_depth(my + 1);
    if (r)
        call_watcher(loop, r->w, revents);
    else
        call_rest(loop);
    set_depth(my);
    /* asyncheck's own callbacks (the probe that counts watchers, an await's timer) are not the test's */
    if (f && f->serial == serial && ac__tracking(loop) && !(ac__ls.allow & AC_ALLOW_SLOW_CALLBACKS) &&
        !(r && (r->harness || r->internal))) {
        double took = ac__monotonic() - f->start - f->excluded;
        if (took > ac__ls.slow_limit)
            report_slow(f, took);
    }
    if (ac__tracking(loop) && ac__loop_sched)
        ac__loop_sched->returned(serial); /* may end the body here (a cancel sweep's cancel point) */
}

typedef struct pick {
    ev_watcher *w;
    unsigned long serial;
    int priority;
    int pending; /* libev's position in its pending queue: it runs the highest first */
} pick;

/* A record's watcher still looks like what was started: the same callback, a sane priority. Records are
 * dropped when their watcher is stopped (by the test or by libev), so the memory is the test's own,
 * unless the test freed a watcher it had left active — which libev itself would trip over. This guards
 * the remaining case of a watcher on a stack frame that a fatal failure discarded. */
static bool plausible(const ac__wrec *r) {
    const ev_watcher *w = r->w;
    return (void *)w->cb == r->cb && ev_priority(w) >= EV_MINPRI && ev_priority(w) <= EV_MAXPRI;
}

/* How the schedule may move a pending watcher against the others (see src/race/sched.c). */
static void sched_item(const ac__wrec *r, ac_sched_item *it) {
    it->chain = AC_CHAIN_FREE;
    it->deadline = 0;
    if (r->type == AC_W_TIMER) {
        const ev_timer *tw = (const ev_timer *)r->w;
        it->chain = AC_CHAIN_TIMER;
        it->deadline = tw->at - (ev_is_active(tw) ? tw->repeat : 0.);
    } else if (r->type == AC_W_PERIODIC) {
        const ev_periodic *pw = (const ev_periodic *)r->w;
        it->chain = AC_CHAIN_PERIODIC;
        it->deadline = pw->at - (ev_is_active(pw) ? pw->interval : 0.);
    } else if (r->type == AC_W_CHECK || r->type == AC_W_IDLE) {
        it->chain = AC_CHAIN_FIRST;
    }
}

/* Collects the recorded pending watchers in libev's own order (higher priority first; within one, the
 * last queued first, as ev_invoke_pending runs them), then lets the schedule reorder them. */
static size_t collect(struct ev_loop *loop, pick *picks, size_t max) {
    unsigned pending = ev_pending_count(loop);
    size_t n = 0;
    for (size_t i = 0; i < ac__ls.nrecs && n < max; i++) {
        const ac__wrec *r = &ac__ls.recs[i];
        if (!plausible(r) || r->w->pending <= 0 || (unsigned)r->w->pending > pending)
            continue;
        pick p = {r->w, r->serial, ev_priority(r->w), r->w->pending};
        size_t j = n++;
        while (j > 0 && (picks[j - 1].priority < p.priority ||
                         (picks[j - 1].priority == p.priority && picks[j - 1].pending < p.pending))) {
            picks[j] = picks[j - 1];
            j--;
        }
        picks[j] = p;
    }
    if (n > 1 && ac__loop_sched && ac__loop_sched->active()) {
        ac_sched_item items[32];
        for (size_t i = 0; i < n; i++) {
            const ac__wrec *r = ac__rec_find(picks[i].w);
            items[i] =
                (ac_sched_item){.w = picks[i].w, .priority = picks[i].priority, .natural = (unsigned)i};
            sched_item(r, &items[i]);
        }
        ac__loop_sched->order(items, n);
        pick sorted[32];
        for (size_t i = 0; i < n; i++)
            sorted[i] = picks[items[i].natural];
        memcpy(picks, sorted, n * sizeof *picks);
    }
    return n;
}

void ac__hooks_dispatch(struct ev_loop *loop) {
    if (!ev_pending_count(loop))
        return;
    if (!ac__tracking(loop) || !on_test_thread()) {
        real_invoke_pending(loop);
        return;
    }
    if (ac__ls.nlimbo)
        ac__ls.nlimbo = 0;
    if (get_depth() > 0)
        drop_abandoned_frames();
    for (;;) {
        pick picks[32];
        size_t n = collect(loop, picks, 32);
        if (n == 0)
            break;
        unsigned expected = ev_pending_count(loop);
        for (size_t i = 0; i < n; i++) {
            ac__wrec *r = ac__rec_find(picks[i].w);
            if (!r || r->serial != picks[i].serial || !ev_is_pending(r->w))
                continue; /* stopped, restarted or already invoked by an earlier callback */
            if (!r->internal && !r->harness && ac__loop_sched)
                ac__loop_sched->before_dispatch(); /* may end the body here (cancel point 0) */
            int revents = ev_clear_pending(loop, r->w);
            ac__wrec copy = *r;
            if (!ev_is_active(r->w))
                ac__rec_remove(r->w); /* libev stopped it (a one-shot timer): its callback may free it */
            run_frame(loop, &copy, revents);
            if (!ac__tracking(loop))
                return;
            /* Something became pending in that callback (ev_clear_pending leaves libev's count alone):
             * collect again, so that a higher priority fed now runs next, as libev would run it. */
            if (ev_pending_count(loop) != expected)
                break;
        }
    }
    if (ev_pending_count(loop))
        run_frame(loop, NULL, 0);
}

static int hook_run(struct ev_loop *loop, int flags) {
    if (get_depth() == 0 || !ac__tracking(loop) || !on_test_thread())
        return real_run(loop, flags);
    int my = get_depth();
    double t0 = ac__monotonic();
    int r = real_run(loop, flags);
    if (my <= AC_MAX_FRAMES)
        ac__ls.frames[my - 1].excluded += ac__monotonic() - t0;
    return r;
}

/* ---- sleeping inside a callback ---- */

/* The code that made the sleeping call: the innermost frame on the stack outside asyncheck (this hook,
 * the virtual clock's replacement) and libev (ev_sleep). NULL when the walk reaches the dispatcher
 * first — the callback slept as its last call (a tail call leaves no frame of its own) — or cannot tell. */
__attribute__((cold)) static const void *sleep_caller(void) {
    void *pcs[64];
    int n = backtrace(pcs, 64);
    for (int i = 1; i < n; i++) {
        const char *pc = pcs[i];
        if (pc >= __start_ac_loop_dispatch && pc < __stop_ac_loop_dispatch)
            return NULL;
        if (!ac__sym_in_harness(pc) && !in_libev(pc))
            return pc;
    }
    return NULL;
}

__attribute__((cold)) bool ac__loop_sleep_check(const char *call) {
    if (get_depth() == 0 || in_sleep || !on_test_thread() || !ac__ls.loop ||
        (ac__ls.allow & AC_ALLOW_BLOCKING_SLEEP))
        return false;
    double t0 = ac__monotonic();
    drop_abandoned_frames();
    if (get_depth() == 0)
        return false;
    int d = get_depth();
    ac__frame *f = d <= AC_MAX_FRAMES ? &ac__ls.frames[d - 1] : NULL;
    if (!f)
        return false;
    ac__wrec *live = frame_rec(f);
    bool already = f->reported_sleep || (f->batch ? ac__ls.batch_reported_sleep
                                                  : f->rec.reported_sleep || (live && live->reported_sleep));
    f->reported_sleep = true;
    if (f->batch)
        ac__ls.batch_reported_sleep = true;
    else if (live)
        live->reported_sleep = true;
    if (!already) {
        ac_buf msg = {0};
        ac__buf_printf(&msg, "blocking sleep: %s ", call);
        const void *caller = sleep_caller();
        if (caller) {
            ac__buf_puts(&msg, "called by ");
            ac__sym_format(&msg, caller, true);
            ac__buf_puts(&msg, ", in ");
        } else {
            ac__buf_puts(&msg, "called from ");
        }
        ac__buf_puts(&msg, f->batch ? "a callback " : f->delivery[0] ? "" : "callback ");
        describe_frame(&msg, f);
        report(ac__buf_str(&msg));
        ac__buf_free(&msg);
    }
    f->excluded += ac__monotonic() - t0;
    return true;
}

/* Around a real sleep: when it was reported as a blocking sleep, its duration is not charged to the
 * callback as well (one report per cause). */
typedef struct sleep_guard {
    bool reported;
    double t0;
    int depth;
} sleep_guard;

static void sleep_begin(sleep_guard *g, const char *text) {
    g->reported = ac__loop_sleep_check(text);
    g->t0 = g->reported ? ac__monotonic() : 0;
    g->depth = get_depth();
    in_sleep = true;
}

static void sleep_end(const sleep_guard *g) {
    in_sleep = false;
    if (g->reported && g->depth > 0 && g->depth == get_depth() && g->depth <= AC_MAX_FRAMES)
        ac__ls.frames[g->depth - 1].excluded += ac__monotonic() - g->t0;
}

static double ts_seconds(const struct timespec *ts) {
    return ts ? (double)ts->tv_sec + (double)ts->tv_nsec / 1e9 : 0;
}

static unsigned hook_sleep(unsigned s) {
    if (get_depth() == 0 || in_sleep)
        return real_sleep(s);
    char text[64];
    snprintf(text, sizeof text, "sleep(%u)", s);
    sleep_guard g;
    sleep_begin(&g, text);
    unsigned r = real_sleep(s);
    sleep_end(&g);
    return r;
}

static int hook_usleep(useconds_t us) {
    if (get_depth() == 0 || in_sleep)
        return real_usleep(us);
    char text[64];
    snprintf(text, sizeof text, "usleep(%u)", (unsigned)us);
    sleep_guard g;
    sleep_begin(&g, text);
    int r = real_usleep(us);
    sleep_end(&g);
    return r;
}

static int hook_nanosleep(const struct timespec *req, struct timespec *rem) {
    if (get_depth() == 0 || in_sleep)
        return real_nanosleep(req, rem);
    char text[64];
    snprintf(text, sizeof text, "nanosleep(%.3f s)", ts_seconds(req));
    sleep_guard g;
    sleep_begin(&g, text);
    int r = real_nanosleep(req, rem);
    sleep_end(&g);
    return r;
}

static int hook_clock_nanosleep(clockid_t id, int flags, const struct timespec *req, struct timespec *rem) {
    if (get_depth() == 0 || in_sleep)
        return real_clock_nanosleep(id, flags, req, rem);
    char text[64];
    if (flags & TIMER_ABSTIME)
        snprintf(text, sizeof text, "clock_nanosleep(until an absolute time)");
    else
        snprintf(text, sizeof text, "clock_nanosleep(%.3f s)", ts_seconds(req));
    sleep_guard g;
    sleep_begin(&g, text);
    int r = real_clock_nanosleep(id, flags, req, rem);
    sleep_end(&g);
    return r;
}

static void hook_ev_sleep(ev_tstamp delay) {
    if (get_depth() == 0 || in_sleep) {
        real_ev_sleep(delay);
        return;
    }
    char text[64];
    snprintf(text, sizeof text, "ev_sleep(%.3f)", delay);
    sleep_guard g;
    sleep_begin(&g, text);
    real_ev_sleep(delay);
    sleep_end(&g);
}

/* ---- installing ---- */

typedef struct hook {
    const char *name;
    void *fn;
    void **real;
} hook;

#define AC_HOOK_ENTRIES(name)                                                                                \
    {"ev_" #name "_start", (void *)hook_##name##_start, (void **)&real_##name##_start}, {                    \
        "ev_" #name "_stop", (void *)hook_##name##_stop, (void **)&real_##name##_stop                        \
    }

__attribute__((cold)) static int find_code(struct dl_phdr_info *info, size_t size, void *ctx) {
    (void)size;
    uintptr_t target = *(uintptr_t *)ctx;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
        if (start < lo)
            lo = start;
        if (end > hi)
            hi = end;
    }
    if (target >= lo && target < hi) {
        libev_lo = lo;
        libev_hi = hi;
        return 1;
    }
    return 0;
}

__attribute__((cold)) static void install(void) {
    real_invoke_pending = (void (*)(struct ev_loop *))ac__real("ev_invoke_pending");
    if (!real_invoke_pending)
        real_invoke_pending = ev_invoke_pending;
    uintptr_t ev_code = (uintptr_t)ac__real("ev_run");
    if (ev_code)
        dl_iterate_phdr(find_code, &ev_code);
    hook hooks[] = {
        AC_HOOK_ENTRIES(io),
        AC_HOOK_ENTRIES(timer),
        AC_HOOK_ENTRIES(periodic),
        AC_HOOK_ENTRIES(signal),
        AC_HOOK_ENTRIES(child),
        AC_HOOK_ENTRIES(stat),
        AC_HOOK_ENTRIES(idle),
        AC_HOOK_ENTRIES(prepare),
        AC_HOOK_ENTRIES(check),
        AC_HOOK_ENTRIES(embed),
        AC_HOOK_ENTRIES(fork),
        AC_HOOK_ENTRIES(cleanup),
        AC_HOOK_ENTRIES(async),
        {"ev_timer_again", (void *)hook_timer_again, (void **)&real_timer_again},
        {"ev_periodic_again", (void *)hook_periodic_again, (void **)&real_periodic_again},
        {"ev_once", (void *)hook_once, (void **)&real_once},
        {"ev_run", (void *)hook_run, (void **)&real_run},
        {"ev_feed_event", (void *)hook_feed_event, (void **)&real_feed_event},
        {"ev_async_send", (void *)hook_async_send, (void **)&real_async_send},
        {"ev_loop_destroy", (void *)hook_loop_destroy, (void **)&real_loop_destroy},
        {"sleep", (void *)hook_sleep, (void **)&real_sleep},
        {"usleep", (void *)hook_usleep, (void **)&real_usleep},
        {"nanosleep", (void *)hook_nanosleep, (void **)&real_nanosleep},
        {"clock_nanosleep", (void *)hook_clock_nanosleep, (void **)&real_clock_nanosleep},
        {"ev_sleep", (void *)hook_ev_sleep, (void **)&real_ev_sleep},
    };
    for (size_t i = 0; i < sizeof hooks / sizeof *hooks; i++) {
        *hooks[i].real = ac__real(hooks[i].name);
        if (!*hooks[i].real)
            continue; /* not in this libev build (or libc): nothing calls it */
        ac__patch p;
        if (ac__patch_apply(&p, hooks[i].name, hooks[i].fn) > 0) {
            free(p.slots); /* never undone: the hooks stay for the process's life */
            free(p.symbol);
        }
    }
}

void ac__hooks_install(void) {
    static bool done;
    if (!done) {
        done = true;
        install();
    }
}

/* Before main, so these are the bottom layer under every replacement a test makes, and forked test
 * children inherit them. */
__attribute__((constructor)) static void install_at_start(void) {
    ac__hooks_install();
}
