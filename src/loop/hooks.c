/* hooks.c — seeing what a test does with its loop: libev's ev_TYPE_start/stop (libev has no API to
 * list watchers), ev_once, nested ev_run, ev_feed_event, ev_loop_destroy and the sleeping calls. It
 * records and forgets watchers (loop.c keeps the records) and hands the sleeping calls and nested runs
 * to the dispatcher (dispatch.c), which owns the frames, timing and reports, and close() and the calls
 * that make descriptors (open, socket, pipe, dup, eventfd, ...; accept is blocking.c's hook) to the
 * descriptor ownership check (fds.c), telling asyncheck's and libev's own from the test's; it must not
 * dispatch a callback itself.
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
 * libev or into the dispatcher. ev_timer_again, ev_periodic_again and ev_once are hooked so that the
 * starts libev makes inside them are credited to the test's call site.
 *
 * Stops. A stopped watcher's record is dropped at once and kept aside as a copy ("limbo"), compared by
 * address only. libev stops an expiring one-shot timer and then feeds it; the ev_feed_event hook brings
 * its record back for the dispatch that invokes it, and the dispatcher forgets it before invoking the
 * callback (which may free it). Limbo is emptied whenever a dispatch begins.
 *
 * Nesting. The ev_run hook measures a nested ev_run of the test's loop inside a callback and has the
 * dispatcher subtract it from that callback (ac__dispatch_exclude). */
#include "loop_internal.h"

#include "patch/patch.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
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
static int (*real_close)(int);

static uintptr_t libev_lo, libev_hi; /* libev's code: calls from there are libev's own */

void ac__hooks_invoke_pending(struct ev_loop *loop) {
    real_invoke_pending(loop);
}

static bool in_libev(const void *addr) {
    return (uintptr_t)addr - libev_lo < libev_hi - libev_lo;
}

bool ac__hooks_in_libev(const void *addr) {
    return in_libev(addr);
}

/* ---- per-thread context ---- */

static __thread const void *user_site; /* inside ev_timer_again/ev_periodic_again/ev_once: the test's call */
static __thread void *user_cb;         /* inside ev_once: the test's callback */
static __thread int harness_depth;     /* inside ac__loop_harness_enter/leave */
static __thread bool in_sleep;         /* inside a hooked sleep: ev_sleep calls nanosleep */
static __thread int in_ev_call;  /* inside a hooked libev call that may open its own fds (an ev_TYPE_start) */
static __thread bool in_destroy; /* inside ev_loop_destroy: libev closes its own fds */

void ac__loop_harness_enter(void) {
    harness_depth++;
}

void ac__loop_harness_leave(void) {
    if (harness_depth > 0)
        harness_depth--;
}

/* ---- libev's internal watchers started before tracking (its async/signal pipe) ---- */

/* ac__loop_test.ring: zero-initialised, which is a default mutex for glibc's pthread_mutex_t. */
static void ring_add(struct ev_loop *loop, ev_io *w) {
    pthread_mutex_lock(&ac__loop_test.ring_lock);
    ac__loop_test.ring[ac__loop_test.ring_next++ % AC_RING] =
        (ac__ring_entry){loop, (ev_watcher *)w, (void *)w->cb, w->fd, w->events};
    __atomic_store_n(&ac__loop_test.ring_used, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&ac__loop_test.ring_lock);
}

static void ring_forget(struct ev_loop *loop, const ev_watcher *w) {
    if (!__atomic_load_n(&ac__loop_test.ring_used, __ATOMIC_RELAXED))
        return;
    pthread_mutex_lock(&ac__loop_test.ring_lock);
    for (unsigned i = 0; i < AC_RING; i++)
        if (ac__loop_test.ring[i].w &&
            (ac__loop_test.ring[i].w == w || (loop && ac__loop_test.ring[i].loop == loop)))
            ac__loop_test.ring[i] = (ac__ring_entry){0};
    pthread_mutex_unlock(&ac__loop_test.ring_lock);
}

void ac__hooks_adopt_internal(struct ev_loop *loop) {
    pthread_mutex_lock(&ac__loop_test.ring_lock);
    for (unsigned i = 0; i < AC_RING; i++) {
        ac__ring_entry *e = &ac__loop_test.ring[i];
        /* Entries are dropped when their loop is destroyed, so e->w is live memory of this loop. */
        if (e->loop != loop || !e->w || !ev_is_active(e->w) || (void *)e->w->cb != e->cb ||
            ac__rec_find(e->w))
            continue;
        ac__wrec r = {.w = e->w, .cb = e->cb, .type = AC_W_IO, .internal = true};
        r.p.io.fd = e->fd;
        r.p.io.events = e->events & (EV_READ | EV_WRITE);
        r.serial = ++ac__loop_test.next_serial;
        ac__rec_add(&r);
    }
    pthread_mutex_unlock(&ac__loop_test.ring_lock);
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
    if (!ac__tracking(loop) || !ac__on_test_thread()) {
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
    int d = ac__depth();
    if (d > 0 && d <= AC_MAX_FRAMES) {
        const ac__frame *f = &ac__loop_test.frames[d - 1];
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
        c->r.serial = ++ac__loop_test.next_serial;
        ac__rec_add(&c->r);
        ac__loop_tl_watcher(AC_TL_START, &c->r);
    } else if (c->ring && ev_is_active(c->r.w)) {
        ring_add(loop, (ev_io *)c->r.w);
    }
}

/* Watchers stopped since the last dispatch began (ac__loop_test.limbo), kept as copies and compared by
 * address only (their memory may be freed): libev stops an expiring one-shot timer and then feeds it
 * (ev_feed_event), and its record comes back for the dispatch that invokes it. */
static void stopped(struct ev_loop *loop, ev_watcher *w, const void *caller) {
    if (ac__tracking(loop) && ac__on_test_thread()) {
        ac__wrec *r = ac__rec_find(w);
        if (!r)
            return;
        if (ac__loop_test.nlimbo < AC_MAX_LIMBO)
            ac__loop_test.limbo[ac__loop_test.nlimbo++] = *r;
        if (!in_libev(caller)) /* (libev stops a one-shot timer that came due: its callback follows) */
            ac__loop_tl_watcher(AC_TL_STOP, r);
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
    AC__LOOP_FOREIGN(loop, "ev_feed_event");
    if ((revents & EV_ASYNC) && __tsan_acquire)
        __tsan_acquire(w);
    real_feed_event(loop, w, revents);
    if (!ac__tracking(loop) || !ac__on_test_thread() || !ac__loop_test.nlimbo)
        return;
    for (size_t i = ac__loop_test.nlimbo; i-- > 0;)
        if (ac__loop_test.limbo[i].w == w) {
            if (!ac__rec_find(w))
                ac__rec_add(&ac__loop_test.limbo[i]);
            ac__loop_test.limbo[i] = ac__loop_test.limbo[--ac__loop_test.nlimbo];
            return;
        }
}

#define AC_HOOK_TYPE(name, TYPE)                                                                             \
    static void (*real_##name##_start)(struct ev_loop *, ev_##name *);                                       \
    static void (*real_##name##_stop)(struct ev_loop *, ev_##name *);                                        \
    static void hook_##name##_start(struct ev_loop *loop, ev_##name *w) {                                    \
        start_ctx c;                                                                                         \
        AC__LOOP_FOREIGN(loop, "ev_" #name "_start");                                                        \
        start_pre(loop, (ev_watcher *)w, AC_W_##TYPE, __builtin_return_address(0), &c);                      \
        in_ev_call++; /* libev opens its eventfd, signalfd or inotify fd on a first start */                 \
        real_##name##_start(loop, w);                                                                        \
        in_ev_call--;                                                                                        \
        start_post(loop, &c);                                                                                \
    }                                                                                                        \
    static void hook_##name##_stop(struct ev_loop *loop, ev_##name *w) {                                     \
        AC__LOOP_FOREIGN(loop, "ev_" #name "_stop");                                                         \
        real_##name##_stop(loop, w);                                                                         \
        stopped(loop, (ev_watcher *)w, __builtin_return_address(0));                                         \
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
    AC__LOOP_FOREIGN(loop, "ev_timer_again");
    const void *caller = __builtin_return_address(0), *saved = user_site;
    if (!saved && !in_libev(caller))
        user_site = caller;
    real_timer_again(loop, w);
    user_site = saved;
    ac__wrec *r;
    if (ac__tracking(loop) && ac__on_test_thread() && (r = ac__rec_find((ev_watcher *)w)))
        r->p.timer.repeat = w->repeat;
}

static void hook_periodic_again(struct ev_loop *loop, ev_periodic *w) {
    AC__LOOP_FOREIGN(loop, "ev_periodic_again");
    const void *caller = __builtin_return_address(0), *saved = user_site;
    if (!saved && !in_libev(caller))
        user_site = caller;
    real_periodic_again(loop, w);
    user_site = saved;
}

static void hook_once(struct ev_loop *loop, int fd, int events, ev_tstamp timeout, void (*cb)(int, void *),
                      void *arg) {
    AC__LOOP_FOREIGN(loop, "ev_once");
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
        __atomic_store_n(&ac__loop_test.loop, NULL, __ATOMIC_RELAXED);
        ac__rec_clear();
    }
    bool saved = in_destroy;
    in_destroy = true;
    real_loop_destroy(loop);
    in_destroy = saved;
}

/* Only what is not already clear is written: a forked test child pays a page fault per page it writes. */
void ac__hooks_reset(void) {
    if (ac__loop_test.nlimbo)
        ac__loop_test.nlimbo = 0;
    if (in_sleep)
        in_sleep = false;
    if (harness_depth)
        harness_depth = 0;
}

/* ---- nested runs ---- */

static int hook_run(struct ev_loop *loop, int flags) {
    AC__LOOP_FOREIGN(loop, "ev_run");
    if (ac__depth() == 0 || !ac__tracking(loop) || !ac__on_test_thread())
        return real_run(loop, flags);
    int my = ac__depth();
    double t0 = ac__monotonic();
    int r = real_run(loop, flags);
    ac__dispatch_exclude(my, ac__monotonic() - t0);
    return r;
}

/* ---- sleeping inside a callback ---- */

/* Not inside another hooked sleep (ev_sleep calls nanosleep), and inside a dispatched callback: the
 * dispatcher reports it against that callback. */
__attribute__((cold)) bool ac__loop_sleep_check(const char *call) {
    if (ac__depth() == 0 || in_sleep)
        return false;
    return ac__dispatch_sleep(call);
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
    g->depth = ac__depth();
    in_sleep = true;
}

static void sleep_end(const sleep_guard *g) {
    in_sleep = false;
    if (g->reported && g->depth == ac__depth())
        ac__dispatch_exclude(g->depth, ac__monotonic() - g->t0);
}

static double ts_seconds(const struct timespec *ts) {
    return ts ? (double)ts->tv_sec + (double)ts->tv_nsec / 1e9 : 0;
}

static unsigned hook_sleep(unsigned s) {
    if (ac__depth() == 0 || in_sleep)
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
    if (ac__depth() == 0 || in_sleep)
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
    if (ac__depth() == 0 || in_sleep)
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
    if (ac__depth() == 0 || in_sleep)
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
    if (ac__depth() == 0 || in_sleep) {
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

/* ---- opening and closing descriptors (fds.c judges them) ---- */

static __thread bool in_close; /* naming the caller may open and close the executable's file */

/* Whose close it is. asyncheck's own are made inside ac__loop_harness_enter/leave (ac__loop_close_own);
 * libev's inside ev_loop_destroy or outside any callback (its fork handling in ev_run). A close whose
 * return address is in libev or asyncheck but made inside neither is the test's code closing as its last
 * call (a tail call returns into the caller's caller: ev_invoke, the dispatcher, the test runner). */
static int hook_close(int fd) {
    const void *caller = __builtin_return_address(0);
    if (in_close || !__atomic_load_n(&ac__loop_test.loop, __ATOMIC_RELAXED) || !ac__on_test_thread())
        return real_close(fd);
    bool own = harness_depth > 0 || in_destroy || (in_libev(caller) && ac__depth() == 0);
    in_close = true;
    int r = ac__fds_close(fd, caller, own, real_close);
    in_close = false;
    return r;
}

int ac__loop_close_own(int fd) {
    ac__loop_harness_enter();
    int r = close(fd);
    ac__loop_harness_leave();
    return r;
}

/* A descriptor made on the test's thread while its loop is tracked: whose it is (see hook_close). */
void ac__hooks_opened(int fd, const char *call, const void *caller) {
    if (fd < 0 || in_close || !__atomic_load_n(&ac__loop_test.loop, __ATOMIC_RELAXED) ||
        !ac__on_test_thread())
        return;
    int by = harness_depth > 0                    ? AC_FD_BY_HARNESS
             : in_ev_call > 0 && in_libev(caller) ? AC_FD_BY_LIBEV
                                                  : AC_FD_BY_TEST;
    ac__fds_opened(fd, call, caller, by);
}

static void opened2(int r, const int fds[2], const char *call, const void *caller) {
    if (r == 0) {
        ac__hooks_opened(fds[0], call, caller);
        ac__hooks_opened(fds[1], call, caller);
    }
}

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_socket)(int, int, int);
static int (*real_socketpair)(int, int, int, int[2]);
static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*real_pipe)(int[2]);
static int (*real_pipe2)(int[2], int);
static int (*real_dup)(int);
static int (*real_dup2)(int, int);
static int (*real_dup3)(int, int, int);
static int (*real_eventfd)(unsigned, int);
static int (*real_timerfd_create)(int, int);
static int (*real_signalfd)(int, const sigset_t *, int);
static int (*real_inotify_init)(void);
static int (*real_inotify_init1)(int);
static int (*real_epoll_create)(int);
static int (*real_epoll_create1)(int);

/* open's third argument exists only with O_CREAT or O_TMPFILE. */
#define AC_OPEN_MODE(flags, last, mode)                                                                      \
    do {                                                                                                     \
        if ((flags) & (O_CREAT | O_TMPFILE)) {                                                               \
            va_list ap_;                                                                                     \
            va_start(ap_, last);                                                                             \
            mode = (mode_t)va_arg(ap_, int);                                                                 \
            va_end(ap_);                                                                                     \
        }                                                                                                    \
    } while (0)

static int hook_open(const char *path, int flags, ...) {
    mode_t mode = 0;
    AC_OPEN_MODE(flags, flags, mode);
    int fd = real_open(path, flags, mode);
    ac__hooks_opened(fd, "open()", __builtin_return_address(0));
    return fd;
}

static int hook_open64(const char *path, int flags, ...) {
    mode_t mode = 0;
    AC_OPEN_MODE(flags, flags, mode);
    int fd = real_open64(path, flags, mode);
    ac__hooks_opened(fd, "open()", __builtin_return_address(0));
    return fd;
}

static int hook_openat(int dir, const char *path, int flags, ...) {
    mode_t mode = 0;
    AC_OPEN_MODE(flags, flags, mode);
    int fd = real_openat(dir, path, flags, mode);
    ac__hooks_opened(fd, "openat()", __builtin_return_address(0));
    return fd;
}

static int hook_openat64(int dir, const char *path, int flags, ...) {
    mode_t mode = 0;
    AC_OPEN_MODE(flags, flags, mode);
    int fd = real_openat64(dir, path, flags, mode);
    ac__hooks_opened(fd, "openat()", __builtin_return_address(0));
    return fd;
}

static int hook_socket(int domain, int type, int protocol) {
    int fd = real_socket(domain, type, protocol);
    ac__hooks_opened(fd, "socket()", __builtin_return_address(0));
    return fd;
}

static int hook_socketpair(int domain, int type, int protocol, int sv[2]) {
    int r = real_socketpair(domain, type, protocol, sv);
    opened2(r, sv, "socketpair()", __builtin_return_address(0));
    return r;
}

static int hook_accept4(int fd, struct sockaddr *a, socklen_t *len, int flags) {
    int r = real_accept4(fd, a, len, flags);
    ac__hooks_opened(r, "accept4()", __builtin_return_address(0));
    return r;
}

static int hook_pipe(int fds[2]) {
    int r = real_pipe(fds);
    opened2(r, fds, "pipe()", __builtin_return_address(0));
    return r;
}

static int hook_pipe2(int fds[2], int flags) {
    int r = real_pipe2(fds, flags);
    opened2(r, fds, "pipe2()", __builtin_return_address(0));
    return r;
}

static int hook_dup(int old) {
    int fd = real_dup(old);
    ac__hooks_opened(fd, "dup()", __builtin_return_address(0));
    return fd;
}

static int hook_dup2(int old, int new) {
    int fd = real_dup2(old, new);
    if (fd != old)
        ac__hooks_opened(fd, "dup2()", __builtin_return_address(0));
    return fd;
}

static int hook_dup3(int old, int new, int flags) {
    int fd = real_dup3(old, new, flags);
    ac__hooks_opened(fd, "dup3()", __builtin_return_address(0));
    return fd;
}

static int hook_eventfd(unsigned count, int flags) {
    int fd = real_eventfd(count, flags);
    ac__hooks_opened(fd, "eventfd()", __builtin_return_address(0));
    return fd;
}

static int hook_timerfd_create(int clock, int flags) {
    int fd = real_timerfd_create(clock, flags);
    ac__hooks_opened(fd, "timerfd_create()", __builtin_return_address(0));
    return fd;
}

static int hook_signalfd(int fd, const sigset_t *mask, int flags) {
    int r = real_signalfd(fd, mask, flags);
    if (fd < 0) /* fd >= 0 changes an existing signalfd's mask */
        ac__hooks_opened(r, "signalfd()", __builtin_return_address(0));
    return r;
}

static int hook_inotify_init(void) {
    int fd = real_inotify_init();
    ac__hooks_opened(fd, "inotify_init()", __builtin_return_address(0));
    return fd;
}

static int hook_inotify_init1(int flags) {
    int fd = real_inotify_init1(flags);
    ac__hooks_opened(fd, "inotify_init1()", __builtin_return_address(0));
    return fd;
}

/* The epoll instances made so far, and the last one's fd (ac__loop_epolls_made), packed into one word so
 * that a reader sees a count and fd that go together. */
static _Atomic unsigned long long epolls AC__PER_TEST;

static void note_epoll(int fd) {
    unsigned long long old = atomic_load_explicit(&epolls, memory_order_relaxed), made;
    do
        made = ((old >> 32) + 1) << 32 | (uint32_t)fd;
    while (!atomic_compare_exchange_weak_explicit(&epolls, &old, made, memory_order_relaxed,
                                                  memory_order_relaxed));
}

unsigned long ac__loop_epolls_made(int *last) {
    unsigned long long now = atomic_load_explicit(&epolls, memory_order_relaxed);
    *last = now >> 32 ? (int)(uint32_t)now : -1;
    return (unsigned long)(now >> 32);
}

static int hook_epoll_create(int size) {
    int fd = real_epoll_create(size);
    note_epoll(fd);
    ac__hooks_opened(fd, "epoll_create()", __builtin_return_address(0));
    return fd;
}

static int hook_epoll_create1(int flags) {
    int fd = real_epoll_create1(flags);
    note_epoll(fd);
    ac__hooks_opened(fd, "epoll_create1()", __builtin_return_address(0));
    return fd;
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
        {"close", (void *)hook_close, (void **)&real_close},
        {"open", (void *)hook_open, (void **)&real_open},
        {"open64", (void *)hook_open64, (void **)&real_open64},
        {"openat", (void *)hook_openat, (void **)&real_openat},
        {"openat64", (void *)hook_openat64, (void **)&real_openat64},
        {"socket", (void *)hook_socket, (void **)&real_socket},
        {"socketpair", (void *)hook_socketpair, (void **)&real_socketpair},
        {"accept4", (void *)hook_accept4, (void **)&real_accept4},
        {"pipe", (void *)hook_pipe, (void **)&real_pipe},
        {"pipe2", (void *)hook_pipe2, (void **)&real_pipe2},
        {"dup", (void *)hook_dup, (void **)&real_dup},
        {"dup2", (void *)hook_dup2, (void **)&real_dup2},
        {"dup3", (void *)hook_dup3, (void **)&real_dup3},
        {"eventfd", (void *)hook_eventfd, (void **)&real_eventfd},
        {"timerfd_create", (void *)hook_timerfd_create, (void **)&real_timerfd_create},
        {"signalfd", (void *)hook_signalfd, (void **)&real_signalfd},
        {"inotify_init", (void *)hook_inotify_init, (void **)&real_inotify_init},
        {"inotify_init1", (void *)hook_inotify_init1, (void **)&real_inotify_init1},
        {"epoll_create", (void *)hook_epoll_create, (void **)&real_epoll_create},
        {"epoll_create1", (void *)hook_epoll_create1, (void **)&real_epoll_create1},
    };
    ac__patch_batch_begin(); /* each GOT page made writable once for all the hooks, not once per hook */
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
    ac__patch_batch_end();
    ac__blocking_install();
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
