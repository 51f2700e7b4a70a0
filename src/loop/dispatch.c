/* dispatch.c — executing the test loop's pending callbacks one at a time: the invoke-pending callback
 * that ac__loop_begin puts in place of ev_invoke_pending (ac__dispatch_pending), the order of each round
 * (libev's own, or the schedule's through ac__loop_sched), the stack of frames being dispatched, timing
 * each callback with the real clock, and the "blocked loop" and "blocking sleep" reports against the
 * callback that ran. It must not intercept anything (hooks.c rewrites libev's and libc's slots and calls
 * in here) and must not decide the order itself under a schedule (src/race/sched.c does, through the
 * scheduler table).
 *
 * Dispatch. It invokes each pending watcher it has a record of on its own (ev_clear_pending +
 * ev_invoke, higher priority first), timing each callback with the real clock; then calls libev's
 * ev_invoke_pending for whatever is left (watchers started before tracking began, libev's cleared
 * slots), timed as one batch. libev's pipe watcher is invoked on its own too (adopted at test start),
 * so ev_async and ev_signal callbacks it feeds become pending while we still dispatch and are timed one
 * by one. A watcher whose callback was changed with ev_set_cb while active is left to the batch.
 *
 * Nesting. A callback may run the loop again (AC_AWAIT inside a callback). The ev_run hook (hooks.c)
 * measures a nested ev_run of the test's loop and subtracts it from the callback that called it
 * (ac__dispatch_exclude), so each callback is charged only its own time and nothing is counted twice;
 * the nested callbacks are timed themselves.
 *
 * Deferred readiness. The schedule may hold a pending ev_io over to a later iteration (ac__loop_scheduler
 * .defer): its pending event is cleared and kept here, and fed back with ev_feed_event at the start of the
 * dispatch of the iteration it is due in (libev allows readiness to be observed late). A watcher stopped
 * or restarted meanwhile loses it; one pending again by then gets both. While events are held an ev_idle of
 * asyncheck's own (unreferenced) keeps the loop from blocking. An event fed back is not held again.
 * A due timer (ev_timer) or periodic (ev_periodic) may be held too, for one iteration only (libev
 * promises only "not before"), and each kind keeps its deadline order: once a timer is held, every timer
 * pending after it in the round (a later deadline, the schedule orders them so) is held with it, and timers
 * fed back run before the timers that came due in the iteration they are fed back in (their deadlines are
 * earlier); periodics likewise among periodics. An ev_async or ev_signal event may be held like an fd's
 * readiness: sends (or signals) that arrive meanwhile coalesce with it into one callback, as libev allows
 * when several come before the loop sees the first.
 *
 * Unwinding. A fatal failure inside a callback longjmps out of this dispatcher, leaving its frames on
 * the frame stack. They are found by looking at the real stack: call_watcher/call_rest live in their
 * own section (ac_loop_dispatch), so backtrace() tells how many dispatch frames are really live. This
 * runs only when it matters — a nested dispatch, or a sleep while the stack says we are in a callback —
 * never on the common path. */
#include "loop_internal.h"

#include <execinfo.h>
#include <stdio.h>
#include <string.h>

/* ---- the frames being dispatched ---- */

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
    ac__hooks_invoke_pending(loop);
    __asm__ volatile("" ::: "memory");
}

/* Drops frames that a longjmp left behind: those beyond the number of dispatch frames really on the
 * stack. Live frames are always the bottom ones (a longjmp abandons the innermost), and this runs before
 * any new frame is pushed above abandoned ones. */
__attribute__((cold)) static void drop_abandoned_frames(void) {
    if (ac__depth() == 0)
        return;
    void *pcs[256];
    ac__harness_call_begin(); /* its first call loads the unwinder, allocating (src/fault/) */
    int n = backtrace(pcs, 256);
    ac__harness_call_end();
    if (n <= 0 || n == 256)
        return; /* cannot tell: keep them */
    int live = 0;
    for (int i = 0; i < n; i++)
        if ((const char *)pcs[i] >= __start_ac_loop_dispatch &&
            (const char *)pcs[i] < __stop_ac_loop_dispatch)
            live++;
    if (live < ac__depth())
        ac__set_depth(live);
}

/* ---- readiness held over (see Deferred readiness above) ---- */

typedef struct held {
    ev_watcher *w;
    unsigned long serial;
    int revents;
    unsigned due;    /* ev_iteration at which it is fed back */
    double deadline; /* a timer's, as the schedule orders it (sched_item) */
} held;

static held held_events[32];
static size_t nheld;
static const void *fed_back[32]; /* fed back in this dispatch: not held again */
static double fed_deadline[32];  /* a timer's deadline when it was held */
static size_t nfed_back;
static ev_idle awake;
static bool awake_keeps_loop; /* a timer is held: the loop must run on to feed it back (ev_ref'd) */

/* Timers and periodics: held one iteration at most, in deadline order; a one-shot libev stopped when it
 * came due stays recorded while it is pending. */
static bool deadline_type(int type) {
    return type == AC_W_TIMER || type == AC_W_PERIODIC;
}

/* Whether a held event is a timer's or a periodic's (a one-shot that came due is no longer active:
 * nothing else keeps the loop running until it is fed back). */
static bool timer_held(void) {
    for (size_t i = 0; i < nheld; i++) {
        const ac__wrec *r = ac__rec_find(held_events[i].w);
        if (r && deadline_type(r->type))
            return true;
    }
    return false;
}

static void awake_cb(struct ev_loop *loop, ev_idle *w, int revents) {
    (void)revents;
    if (!nheld) {
        if (!awake_keeps_loop)
            ev_ref(loop);
        awake_keeps_loop = false;
        ev_idle_stop(loop, w);
    }
}

static void release_held(struct ev_loop *loop) {
    unsigned now = ev_iteration(loop);
    for (size_t i = 0; i < nheld;) {
        held h = held_events[i];
        if ((int)(now - h.due) < 0) {
            i++;
            continue;
        }
        held_events[i] = held_events[--nheld];
        ac__wrec *r = ac__rec_find(h.w);
        /* a one-shot timer libev stopped when it came due stays recorded while it is pending */
        if (r && r->serial == h.serial && (ev_is_active(h.w) || deadline_type(r->type))) {
            ev_feed_event(loop, h.w, h.revents);
            fed_deadline[nfed_back] = h.deadline;
            fed_back[nfed_back++] = h.w;
        }
    }
    if (awake_keeps_loop && !timer_held()) {
        ev_unref(loop);
        awake_keeps_loop = false;
    }
}

static void describe_rec(ac__buf *b, const void *ctx);

/* A pending timer's deadline as the schedule orders timers (a one-shot that came due is stopped: libev
 * keeps its deadline relative to that iteration's time, as it does for every timer that came due with it). */
static double timer_deadline(const ac__wrec *r) {
    for (size_t i = 0; i < nfed_back; i++)
        if (fed_back[i] == r->w) /* came due in an earlier iteration: before every one due in this one */
            return fed_deadline[i] - 1e12;
    if (r->type == AC_W_PERIODIC) {
        const ev_periodic *pw = (const ev_periodic *)r->w;
        return pw->at - (ev_is_active(pw) ? pw->interval : 0.);
    }
    const ev_timer *tw = (const ev_timer *)r->w;
    return tw->at - (ev_is_active(tw) ? tw->repeat : 0.);
}

/* Asks the schedule whether to hold `r`'s pending event; holds it and returns true if so. */
static bool hold(struct ev_loop *loop, const ac__wrec *r) {
    bool deadline_kind = deadline_type(r->type);
    if ((r->type != AC_W_IO && r->type != AC_W_ASYNC && r->type != AC_W_SIGNAL && !deadline_kind) ||
        !ac__loop_sched->defer || nheld == 32)
        return false;
    for (size_t i = 0; i < nfed_back; i++)
        if (fed_back[i] == r->w)
            return false;
    for (size_t i = 0; i < nheld; i++)
        if (held_events[i].w == r->w) { /* held already: keep its due iteration */
            held_events[i].revents |= ev_clear_pending(loop, r->w);
            return true;
        }
    double deadline = deadline_kind ? timer_deadline(r) : 0.;
    bool after_held = false; /* one of its kind held in this iteration: this later one waits with it */
    for (size_t i = 0; deadline_kind && i < nheld; i++) {
        const ac__wrec *o = ac__rec_find(held_events[i].w);
        if (o && o->type == r->type && held_events[i].due == ev_iteration(loop) + 1)
            after_held = true;
    }
    unsigned k = after_held ? 1 : ac__loop_sched->defer(describe_rec, r);
    if (!k)
        return false;
    if (deadline_kind)
        k = 1; /* one iteration late at most: the order against the next iteration's stays */
    held_events[nheld++] =
        (held){r->w, r->serial, ev_clear_pending(loop, r->w), ev_iteration(loop) + k, deadline};
    if (!ev_is_active(&awake)) {
        ac__loop_harness_enter();
        ev_idle_init(&awake, awake_cb);
        ev_idle_start(loop, &awake);
        ev_unref(loop);
        ac__loop_harness_leave();
    }
    if (deadline_kind && !awake_keeps_loop) {
        ev_ref(loop);
        awake_keeps_loop = true;
    }
    return true;
}

void ac__dispatch_reset(void) {
    if (ac__depth()) /* only when set: a forked test child pays a page fault per page it writes */
        ac__set_depth(0);
    if (nheld || nfed_back || ev_is_active(&awake)) {
        nheld = nfed_back = 0;
        awake_keeps_loop = false;
        memset(&awake, 0, sizeof awake); /* its loop is being made or destroyed */
    }
}

void ac__dispatch_exclude(int depth, double seconds) {
    if (depth > 0 && depth <= AC_MAX_FRAMES)
        ac__loop_test.frames[depth - 1].excluded += seconds;
}

void ac__loop_not_the_callbacks(double seconds) {
    if (ac__on_test_thread())
        ac__dispatch_exclude(ac__depth(), seconds);
}

/* Appends "on_read (ev_io fd=7 EV_READ)", "the completion of send() call #0" for a mock's delivery, or a
 * description of the batch. */
__attribute__((cold)) static void describe_frame(ac__buf *b, const ac__frame *f) {
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
    return ac__loop_test.frame_serial;
}

unsigned long ac__loop_dispatch_serial(void) {
    if (!ac__on_test_thread() || !ac__loop_test.loop)
        return 0;
    int d = ac__depth();
    if (d <= 0)
        return 0;
    return ac__loop_test.frames[(d <= AC_MAX_FRAMES ? d : AC_MAX_FRAMES) - 1].serial;
}

void ac__loop_dispatch_describe(ac__buf *b) {
    if (!ac__on_test_thread()) {
        ac__buf_puts(b, "a thread other than the test's");
        return;
    }
    int d = ac__loop_test.loop ? ac__depth() : 0;
    if (d <= 0) {
        ac__buf_puts(b, "the test body");
        return;
    }
    const ac__frame *f = &ac__loop_test.frames[(d <= AC_MAX_FRAMES ? d : AC_MAX_FRAMES) - 1];
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
    const ac__test_def *def = ac__loop_test.def;
    ac__report_failure(AC_FK_ASSERTION, false, def ? def->file : NULL, def ? def->line : 0, message, NULL,
                       NULL);
}

__attribute__((cold)) static void report_slow(ac__frame *f, double took) {
    ac__wrec *live = frame_rec(f);
    if (f->batch) {
        if (ac__loop_test.batch_reported_slow)
            return;
        ac__loop_test.batch_reported_slow = true;
    } else {
        if (f->rec.reported_slow || (live && live->reported_slow))
            return;
        if (live)
            live->reported_slow = true;
    }
    ac__buf msg = {0};
    ac__buf_puts(&msg, f->batch         ? "blocked loop: callbacks "
                       : f->delivery[0] ? "blocked loop: "
                                        : "blocked loop: callback ");
    describe_frame(&msg, f);
    ac__buf_printf(&msg, " ran %.3f s (limit %.3f s)", took, ac__loop_test.slow_limit);
    report(ac__buf_str(&msg));
    ac__buf_free(&msg);
}

/* For the schedule's trace, before the callback runs (a mock's completion timer is still live then). */
static void describe_rec(ac__buf *b, const void *ctx) {
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
    ac__buf b = {0};
    if (ac__delivery_describe(&b, w))
        snprintf(f->delivery, sizeof f->delivery, "%s", ac__buf_str(&b));
    ac__buf_free(&b);
}

/* The timeline's event for a callback about to run (its CPU time is set when it returns: -1 until then,
 * so a callback that crashed, hung or was unwound shows as not returned). */
static bool tl_begin(const ac__frame *f, const ac__wrec *r, int revents, int depth, uint64_t *index) {
    ac__tl_event *e = ac__tl_claim(AC_TL_CALLBACK);
    if (!e)
        return false;
    ac__loop_tl_fill(e, r);
    if (r->type == AC_W_IO)
        e->revents = (uint16_t)(revents & (EV_READ | EV_WRITE));
    e->active = (uint32_t)ac__loop_test.nrecs;
    e->depth = (uint8_t)(depth < 255 ? depth : 255);
    e->cpu = -1;
    if (f->delivery[0])
        snprintf(e->text, sizeof e->text, "%s", f->delivery);
    if (ac__tl_counting_fds())
        e->fds = ac__loop_count_fds();
    *index = ac__tl_index(e);
    ac__tl_commit(e);
    return true;
}

/* A callback returned: its CPU time into its event. The thread's CPU time (getrusage, µs) only when the
 * callback ran TL_CPU_SAMPLE or more of wall time (nested ev_runs excluded); a shorter one is charged its
 * wall time, which bounds its CPU time from above, sparing a system call per callback. */
#define TL_CPU_SAMPLE 50e-6
static void tl_end(const ac__frame *f, uint64_t index) {
    double wall = ac__monotonic() - f->start - f->excluded;
    if (wall >= TL_CPU_SAMPLE && f->cpu.cpu >= 0) {
        ac__cpu_sample end;
        ac__cpu_now(&end);
        if (end.cpu >= 0)
            wall = end.cpu - f->cpu.cpu;
    }
    ac__tl_finish(index, wall > 0 ? wall : 0);
}

static void run_frame(struct ev_loop *loop, const ac__wrec *r, int revents) {
    int my = ac__depth();
    unsigned long serial = ++ac__loop_test.frame_serial;
    ac__frame *f = my < AC_MAX_FRAMES ? &ac__loop_test.frames[my] : NULL;
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
        ac__cpu_now(&f->cpu);
        f->start = ac__monotonic();
    }
    if (r && !r->internal && !r->harness) /* the test's own events (and mock completions, peers) */
        if (ac__loop_sched)
            ac__loop_sched->dispatching(serial, r->w, describe_rec, r);
    uint64_t tl_index = 0;
    /* the test's callbacks (not the batch: what it runs is libev's own, or unknown) */
    bool tl = f && r && !r->internal && !r->harness && ac__tl_on() && tl_begin(f, r, revents, my, &tl_index);
    ac__spin_probe spin;
    ac__spin_before(r, revents, &spin);
    ac__set_depth(my + 1);
    if (r)
        call_watcher(loop, r->w, revents);
    else
        call_rest(loop);
    ac__set_depth(my);
    if (tl) /* after a longjmp out of the callback this is not reached: it stays "did not return" */
        tl_end(f, tl_index);
    if (ac__tracking(loop))
        ac__spin_after(loop, r, &spin); /* a watcher ready again and again, its callback idle */
    /* asyncheck's own callbacks (the probe that counts watchers, an await's timer) are not the test's */
    if (f && f->serial == serial && ac__tracking(loop) && !(ac__loop_test.allow & AC_ALLOW_SLOW_CALLBACKS) &&
        !(r && (r->harness || r->internal))) {
        double took = ac__monotonic() - f->start - f->excluded;
        if (took > ac__loop_test.slow_limit && ac__stall_is_the_callbacks(&f->cpu)) /* not the load */
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
static void sched_item(const ac__wrec *r, ac__sched_item *it) {
    it->chain = AC_CHAIN_FREE;
    it->deadline = 0;
    if (deadline_type(r->type)) {
        it->chain = r->type == AC_W_TIMER ? AC_CHAIN_TIMER : AC_CHAIN_PERIODIC;
        it->deadline = timer_deadline(r);
    } else if (r->type == AC_W_CHECK || r->type == AC_W_IDLE) {
        it->chain = AC_CHAIN_FIRST;
    }
}

/* Collects the recorded pending watchers in libev's own order (higher priority first; within one, the
 * last queued first, as ev_invoke_pending runs them), then lets the schedule reorder them. */
static size_t collect(struct ev_loop *loop, pick *picks, size_t max) {
    unsigned pending = ev_pending_count(loop);
    size_t n = 0;
    for (size_t i = 0; i < ac__loop_test.nrecs && n < max; i++) {
        const ac__wrec *r = &ac__loop_test.recs[i];
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
        ac__sched_item items[32];
        for (size_t i = 0; i < n; i++) {
            const ac__wrec *r = ac__rec_find(picks[i].w);
            items[i] =
                (ac__sched_item){.w = picks[i].w, .priority = picks[i].priority, .natural = (unsigned)i};
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

void ac__dispatch_pending(struct ev_loop *loop) {
    if (nfed_back)
        nfed_back = 0;
    if (nheld && ac__tracking(loop) && ac__on_test_thread())
        release_held(loop);
    if (!ev_pending_count(loop))
        return;
    if (!ac__tracking(loop) || !ac__on_test_thread()) {
        ac__hooks_invoke_pending(loop);
        return;
    }
    if (ac__loop_test.nlimbo)
        ac__loop_test.nlimbo = 0;
    ac__fds_check_watchers(true); /* a watcher left on a descriptor the test closed */
    if (ac__depth() > 0)
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
            if (!r->internal && !r->harness && ac__loop_sched && hold(loop, r))
                continue;
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

/* ---- sleeping inside a callback ---- */

/* The code that made the sleeping call: the innermost frame on the stack outside asyncheck (this hook,
 * the virtual clock's replacement) and libev (ev_sleep). NULL when the walk reaches the dispatcher
 * first — the callback slept as its last call (a tail call leaves no frame of its own) — or cannot tell. */
__attribute__((cold)) static const void *sleep_caller(void) {
    void *pcs[64];
    ac__harness_call_begin(); /* its first call loads the unwinder, allocating (src/fault/) */
    int n = backtrace(pcs, 64);
    ac__harness_call_end();
    for (int i = 1; i < n; i++) {
        const char *pc = pcs[i];
        if (pc >= __start_ac_loop_dispatch && pc < __stop_ac_loop_dispatch)
            return NULL;
        if (!ac__sym_in_harness(pc) && !ac__hooks_in_libev(pc))
            return pc;
    }
    return NULL;
}

__attribute__((cold)) bool ac__dispatch_sleep(const char *call) {
    if (!ac__on_test_thread() || !ac__loop_test.loop || (ac__loop_test.allow & AC_ALLOW_BLOCKING_SLEEP))
        return false;
    double t0 = ac__monotonic();
    drop_abandoned_frames();
    if (ac__depth() == 0)
        return false;
    int d = ac__depth();
    ac__frame *f = d <= AC_MAX_FRAMES ? &ac__loop_test.frames[d - 1] : NULL;
    if (!f)
        return false;
    ac__wrec *live = frame_rec(f);
    bool already = f->reported_sleep || (f->batch ? ac__loop_test.batch_reported_sleep
                                                  : f->rec.reported_sleep || (live && live->reported_sleep));
    f->reported_sleep = true;
    if (f->batch)
        ac__loop_test.batch_reported_sleep = true;
    else if (live)
        live->reported_sleep = true;
    if (!already) {
        ac__buf msg = {0};
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
