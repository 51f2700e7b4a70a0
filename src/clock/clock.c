/* clock.c — virtual time for the test's loop. Under AC_CLOCK_VIRTUAL or AC_CLOCK_MANUAL it replaces,
 * for the test's duration (GOT/PLT slots, see src/patch/patch.h), the functions libev and the code under
 * test read time and wait through: clock_gettime, gettimeofday, time, epoll_wait and the sleeping calls.
 * Only the test loop's own epoll_wait is virtualised: it polls for real without waiting first, and when
 * nothing is ready it jumps the clock to the deadline libev asked to wait for (virtual), or reports the
 * loop stalled (manual). It must not run tests or report failures other than misuse of its API. */
#include "clock.h"

#include <ev.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h> /* isfinite: a macro, no libm */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "../loop/loop.h"
#include "../patch/patch.h"
#include "../context/context.h"

#define NS 1000000000LL
#define START_MONO (1000 * NS)
#define START_REAL (4102444800LL * NS) /* 2100-01-01T00:00:00Z: ahead of real time (NOTES: ev_periodic) */
#define HAIR                                                                                                 \
    1000 /* ns: land strictly past a deadline (libev fires only when now > at), and by more than             \
          * a double resolves at realtime 2100 (~0.5 us): 1 us */

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);
typedef int (*gettimeofday_fn)(struct timeval *, void *);
typedef time_t (*time_fn)(time_t *);
typedef int (*epoll_wait_fn)(int, struct epoll_event *, int, int);
typedef int (*nanosleep_fn)(const struct timespec *, struct timespec *);
typedef int (*clock_nanosleep_fn)(clockid_t, int, const struct timespec *, struct timespec *);
typedef int (*usleep_fn)(useconds_t);
typedef unsigned (*sleep_fn)(unsigned);

static struct {
    int kind;
    ac_test *t;
    long long mono, real; /* virtual now, in nanoseconds: exact, so runs repeat to the nanosecond */
    int epfd;             /* the test loop's epoll fd, or -1 */
    double threshold;     /* real seconds autojump waits for real work; <0: automatic */
    double scale;         /* AC_TIMEOUT_MULTIPLIER, which scales the threshold */
    bool stalled;         /* manual: the last poll found nothing and time cannot move by itself */
    long long jumped_to;  /* virtual: where the last jump landed, or 0 */
    long long cap;        /* ac_clock_advance: never jump past this (0: no cap) */
    bool zero_polls;      /* the last poll was an empty one that did not wait */
    unsigned long zero_poll_dispatches; /* callbacks dispatched by then (ac__loop_dispatches) */
    ac__patch patches[10];
    pthread_t thread; /* the test's: only its sleeps are virtual */
    int threads;      /* the process's threads when the test began (a sanitizer runtime has its own) */
    size_t npatches;
} vc = {.epfd = -1, .threshold = -1};

/* vc.kind, vc.thread, vc.epfd, vc.mono and vc.real are read by whichever thread asks the time, sleeps or
 * polls (a test's worker threads too, and under --no-fork threads an earlier test left running), and
 * written on the test's thread: each access is a relaxed atomic, so a reading is one whole value. */
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* The replacements, by index into `replacements` and `below`. */
enum {
    R_CLOCK_GETTIME,
    R_GETTIMEOFDAY,
    R_TIME,
    R_EPOLL_WAIT,
    R_NANOSLEEP,
    R_CLOCK_NANOSLEEP,
    R_USLEEP,
    R_SLEEP,
    R_COUNT
};
/* What each slot held before the clock's layer went in (the loop's hook, or the real function): where a
 * replacement passes its call on while no virtual clock runs, so that the layer changes nothing then. */
static void *below[R_COUNT];
#define BELOW(r, type) ((type)below[r])

static clock_gettime_fn real_clock_gettime;
static epoll_wait_fn real_epoll_wait;
static nanosleep_fn real_nanosleep;
static clock_nanosleep_fn real_clock_nanosleep;

/* ---- the replacements ---- */

static bool virtual_clock(clockid_t id, long long *now) {
    switch (id) {
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
        *now = LOAD(vc.mono);
        return true;
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_TAI:
        *now = LOAD(vc.real);
        return true;
    default:
        return false; /* CPU-time clocks stay real */
    }
}

static int v_clock_gettime(clockid_t id, struct timespec *ts) {
    long long now;
    if (!LOAD(vc.kind))
        return BELOW(R_CLOCK_GETTIME, clock_gettime_fn)(id, ts);
    if (!virtual_clock(id, &now))
        return real_clock_gettime(id, ts);
    ts->tv_sec = (time_t)(now / NS);
    ts->tv_nsec = (long)(now % NS);
    return 0;
}

static int v_gettimeofday(struct timeval *tv, void *tz) {
    if (!LOAD(vc.kind))
        return BELOW(R_GETTIMEOFDAY, gettimeofday_fn)(tv, tz);
    if (tv) {
        long long now = LOAD(vc.real);
        tv->tv_sec = (time_t)(now / NS);
        tv->tv_usec = (suseconds_t)(now % NS / 1000);
    }
    return 0;
}

static time_t v_time(time_t *out) {
    if (!LOAD(vc.kind))
        return BELOW(R_TIME, time_fn)(out);
    time_t now = (time_t)(LOAD(vc.real) / NS);
    if (out)
        *out = now;
    return now;
}

static void advance_ns(long long ns) {
    if (ns > 0) {
        STORE(vc.mono, vc.mono + ns); /* the test's thread is the only writer */
        STORE(vc.real, vc.real + ns);
    }
}

/* Seconds (>= 0) to whole nanoseconds, the nearest, capped at 4e18 (127 years): the rounding is done
 * here rather than with libm's llround, so that no test's process maps libm (a library's five
 * mappings cost every fork and exit: docs/PERFORMANCE.md). */
static long long to_ns(double seconds) {
    double ns = seconds * 1e9 + 0.5;
    return ns >= 4e18 ? 4000000000000000000LL : ns > 0 ? (long long)ns : 0;
}

static void advance(double seconds) {
    advance_ns(to_ns(seconds));
}

/* Threads the test started may be doing real work that will wake the loop (an ev_async). Threads that
 * were there before it began are not the test's: ThreadSanitizer's background thread, or one another
 * test left behind under --no-fork. */
static bool other_threads(void) {
    return ac__count_threads() > vc.threads;
}

static int v_epoll_wait(int epfd, struct epoll_event *events, int max, int timeout_ms) {
    if (!LOAD(vc.kind))
        return BELOW(R_EPOLL_WAIT, epoll_wait_fn)(epfd, events, max, timeout_ms);
    if (epfd != LOAD(vc.epfd))
        return real_epoll_wait(epfd, events, max, timeout_ms);
    int n = real_epoll_wait(epfd, events, max, 0);
    if (n == 0 && timeout_ms == 0 && vc.kind == AC_CLOCK_VIRTUAL) {
        /* libev polls without waiting when something is due now: idle watchers (their callbacks then
         * run), or a timer due exactly now, which libev fires only once the clock is strictly past it.
         * Two such polls with no callback between them are the second case: real time would have moved
         * a little; move virtual time by a hair. */
        unsigned long d = ac__loop_dispatches();
        if (vc.zero_polls && d == vc.zero_poll_dispatches)
            advance_ns(HAIR);
        vc.zero_polls = true;
        vc.zero_poll_dispatches = d;
        return 0;
    }
    vc.zero_polls = false;
    if (n != 0 || timeout_ms == 0)
        return n;
    /* Nothing is ready now. Give real work in flight a chance before time moves. */
    double threshold = (vc.threshold >= 0 ? vc.threshold : other_threads() ? 0.005 : 0) * vc.scale;
    if (vc.kind == AC_CLOCK_MANUAL && threshold < 0.001)
        threshold = 0.001; /* do not spin hot while the test waits for real events */
    if (threshold > 0) {
        double want = threshold * 1000;
        int ms = want >= 1e9 ? 1000000000 : (int)want + ((double)(int)want < want); /* rounded up */
        if (timeout_ms > 0 && timeout_ms < ms && vc.kind == AC_CLOCK_VIRTUAL)
            ms = timeout_ms;
        n = real_epoll_wait(epfd, events, max, ms);
        if (n != 0)
            return n;
    }
    if (vc.kind == AC_CLOCK_MANUAL) {
        vc.stalled = true;
        return 0;
    }
    /* Autojump: straight to the deadline libev wants to wake at (timeout_ms rounds it up to the next
     * millisecond), plus a hair so the timer is strictly due. */
    long long jump = (timeout_ms < 0 ? 59743LL : timeout_ms) * 1000000LL + HAIR;
    if (vc.cap > 0 && vc.mono + jump > vc.cap)
        jump = vc.cap - vc.mono;
    advance_ns(jump);
    vc.jumped_to = vc.mono;
    return 0;
}

/* The loop's epoll fd is the one created while ev_loop_new runs (libev has no accessor): the loop's hooks
 * count the epoll instances made (ac__loop_epolls_made); this is the count when the clock began. */
static unsigned long epolls_at_begin;

/* Sleeps on the test's thread take virtual time; other threads' sleeps are real work and stay real. */
static bool virtual_sleep(void) {
    if (!LOAD(vc.kind))
        return false;
    pthread_t test_thread;
    __atomic_load(&vc.thread, &test_thread, __ATOMIC_RELAXED);
    return pthread_equal(pthread_self(), test_thread);
}

/* A sleep inside a loop callback blocks the loop (in virtual time too): the hygiene check reports it. */
static void sleep_check(const char *fn, long long ns) {
    char call[64];
    snprintf(call, sizeof call, "%s(%.3f s)", fn, (double)ns / 1e9);
    ac__loop_sleep_check(call);
}

static int v_nanosleep(const struct timespec *req, struct timespec *rem) {
    if (!LOAD(vc.kind))
        return BELOW(R_NANOSLEEP, nanosleep_fn)(req, rem);
    if (!virtual_sleep())
        return real_nanosleep(req, rem);
    sleep_check("nanosleep", (long long)req->tv_sec * NS + req->tv_nsec);
    advance_ns((long long)req->tv_sec * NS + req->tv_nsec);
    if (rem)
        rem->tv_sec = 0, rem->tv_nsec = 0;
    return 0;
}

static int v_clock_nanosleep(clockid_t id, int flags, const struct timespec *req, struct timespec *rem) {
    long long now;
    if (!LOAD(vc.kind))
        return BELOW(R_CLOCK_NANOSLEEP, clock_nanosleep_fn)(id, flags, req, rem);
    if (!virtual_sleep() || !virtual_clock(id, &now)) {
        return real_clock_nanosleep ? real_clock_nanosleep(id, flags, req, rem) : ENOSYS;
    }
    long long want = (long long)req->tv_sec * NS + req->tv_nsec;
    sleep_check("clock_nanosleep", flags & TIMER_ABSTIME ? want - now : want);
    advance_ns(flags & TIMER_ABSTIME ? want - now : want);
    return 0;
}

static int v_usleep(useconds_t us) {
    if (!LOAD(vc.kind))
        return BELOW(R_USLEEP, usleep_fn)(us);
    if (!virtual_sleep()) {
        struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000};
        return real_nanosleep(&ts, NULL);
    }
    char call[48];
    snprintf(call, sizeof call, "usleep(%u)", (unsigned)us); /* as the real-clock check words it */
    ac__loop_sleep_check(call);
    advance(us / 1e6);
    return 0;
}

static unsigned v_sleep(unsigned s) {
    if (!LOAD(vc.kind))
        return BELOW(R_SLEEP, sleep_fn)(s);
    if (!virtual_sleep()) {
        struct timespec ts = {s, 0};
        return real_nanosleep(&ts, NULL) == 0 ? 0 : s;
    }
    char call[48];
    snprintf(call, sizeof call, "sleep(%u)", s);
    ac__loop_sleep_check(call);
    advance(s);
    return 0;
}

/* ---- lifecycle ---- */

/* What a virtual clock replaces. */
static const struct {
    const char *name;
    void *fn;
} replacements[R_COUNT] = {
    [R_CLOCK_GETTIME] = {"clock_gettime", (void *)v_clock_gettime},
    [R_GETTIMEOFDAY] = {"gettimeofday", (void *)v_gettimeofday},
    [R_TIME] = {"time", (void *)v_time},
    [R_EPOLL_WAIT] = {"epoll_wait", (void *)v_epoll_wait},
    [R_NANOSLEEP] = {"nanosleep", (void *)v_nanosleep},
    [R_CLOCK_NANOSLEEP] = {"clock_nanosleep", (void *)v_clock_nanosleep},
    [R_USLEEP] = {"usleep", (void *)v_usleep},
    [R_SLEEP] = {"sleep", (void *)v_sleep},
};

/* The real functions the replacements pass calls on to (dlsym: a dozen page faults of the loader's in a
 * freshly forked process: the runner resolves them before it forks, ac__clock_install). */
static void resolve_reals(void) {
    if (!real_clock_gettime) {
        real_clock_gettime = (clock_gettime_fn)ac__real("clock_gettime");
        real_epoll_wait = (epoll_wait_fn)ac__real("epoll_wait");
        real_nanosleep = (nanosleep_fn)ac__real("nanosleep");
        real_clock_nanosleep = (clock_nanosleep_fn)ac__real("clock_nanosleep");
    }
}

/* ---- the layer ----
 * The replacements go into the slots once per process, the first time a virtual or manual clock is
 * wanted (or sooner: the runner installs the layer before it forks test processes, ac__clock_install),
 * and stay there: while no such clock runs, each passes its call on to what the slot held before
 * (`below`). A test's process then starts with its slots already rewritten, and so neither makes the
 * GOT pages writable nor copies them (measured: tens of microseconds a test). Objects loaded after the
 * layer went in (a --no-fork test's dlopen left behind) are patched for each test, as before. */
static bool layer_in;
static unsigned long long layer_generation;

static void install_layer(void) {
    resolve_reals();
    for (size_t i = 0; i < R_COUNT; i++) {
        below[i] = ac__patch_current(replacements[i].name);
        if (!below[i])
            below[i] = ac__real(replacements[i].name);
    }
    /* a function this libc lacks is never called through its slot: its real one stands in */
    void *const fallback[R_COUNT] = {
        [R_CLOCK_GETTIME] = (void *)real_clock_gettime,
        [R_GETTIMEOFDAY] = (void *)gettimeofday,
        [R_TIME] = (void *)time,
        [R_EPOLL_WAIT] = (void *)real_epoll_wait,
        [R_NANOSLEEP] = (void *)real_nanosleep,
        [R_CLOCK_NANOSLEEP] = (void *)clock_nanosleep,
        [R_USLEEP] = (void *)usleep,
        [R_SLEEP] = (void *)sleep,
    };
    for (size_t i = 0; i < R_COUNT; i++)
        if (!below[i])
            below[i] = fallback[i];
    ac__patch_batch_begin();
    for (size_t i = 0; i < R_COUNT; i++) {
        ac__patch p;
        if (ac__patch_apply(&p, replacements[i].name, replacements[i].fn) > 0) {
            free(p.slots); /* never undone: the layer stays for the process's life */
            free(p.symbol);
        } else {
            ac__patch_undo(&p); /* frees what a slot-less apply kept */
        }
    }
    ac__patch_batch_end();
    layer_generation = ac__patch_generation();
    layer_in = true;
}

void ac__clock_install(void) {
    if (!layer_in)
        install_layer();
}

void ac__clock_begin(ac_test *t, int kind) {
    if (kind != AC_CLOCK_VIRTUAL && kind != AC_CLOCK_MANUAL)
        return;
    resolve_reals();
    vc.t = t;
    pthread_t self = pthread_self();
    __atomic_store(&vc.thread, &self, __ATOMIC_RELAXED);
    vc.threads = ac__count_threads();
    if (vc.threads < 1)
        vc.threads = 1;
    STORE(vc.mono, START_MONO);
    STORE(vc.real, START_REAL);
    STORE(vc.epfd, -1);
    vc.threshold = -1;
    vc.scale = 1;
    (void)ac__timeout_multiplier(&vc.scale); /* the runner has refused a bad value */
    vc.stalled = false;
    vc.jumped_to = 0;
    int last;
    epolls_at_begin = ac__loop_epolls_made(&last);
    vc.npatches = 0;
    if (!layer_in) {
        install_layer();
    } else if (ac__patch_generation() != layer_generation) {
        ac__patch_batch_begin(); /* objects loaded since the layer went in: every slot, for this test */
        for (size_t i = 0; i < R_COUNT; i++)
            if (ac__patch_apply(&vc.patches[vc.npatches], replacements[i].name, replacements[i].fn) > 0)
                vc.npatches++;
            else
                ac__patch_undo(&vc.patches[vc.npatches]);
        ac__patch_batch_end();
    }
    STORE(vc.kind, kind);
}

void ac__clock_attach(struct ev_loop *loop) {
    int last;
    if (vc.kind && ev_backend(loop) == EVBACKEND_EPOLL && ac__loop_epolls_made(&last) != epolls_at_begin)
        STORE(vc.epfd, last);
}

void ac__clock_end(bool restore_slots) {
    if (!vc.kind)
        return;
    STORE(vc.kind, 0); /* from here every replacement passes its call on to what lies below it */
    if (restore_slots) {
        ac__patch_batch_begin();
        while (vc.npatches)
            ac__patch_undo(&vc.patches[--vc.npatches]);
        ac__patch_batch_end();
    }
    STORE(vc.epfd, -1);
    vc.t = NULL;
}

int ac__clock_kind(void) {
    return vc.kind ? vc.kind : AC_CLOCK_REAL;
}

bool ac__clock_stalled(double deadline) {
    bool stalled = vc.kind == AC_CLOCK_MANUAL ? vc.stalled
                                              : (vc.jumped_to > 0 && (double)vc.jumped_to / 1e9 >= deadline);
    vc.stalled = false;
    vc.jumped_to = 0;
    return stalled;
}

bool ac__clock_charge(double seconds) {
    if (vc.kind != AC_CLOCK_VIRTUAL || vc.cap || !(seconds > 0) || !(seconds <= 3600))
        return false;
    advance(seconds);
    return true;
}

double ac__clock_mono(void) {
    return (double)vc.mono / 1e9;
}

/* ---- the public API ---- */

ac_clock ac_clock_kind(ac_test *t) {
    (void)t;
    return ac__clock_kind();
}

double ac_clock_elapsed(ac_test *t) {
    if (vc.kind)
        return (double)(vc.mono - START_MONO) / 1e9;
    return ac__monotonic() - ac__test_started(t);
}

double ac_real_now(void) {
    return ac__monotonic(); /* dlsym's clock_gettime, never a patched slot */
}

void ac_clock_set_autojump_threshold(ac_test *t, double real_seconds) {
    (void)t;
    vc.threshold = real_seconds > 0 ? real_seconds : 0; /* (NaN: 0) */
}

/* ac_run_until_idle: libev queues an idle watcher of the lowest priority only when nothing else at all is
 * pending in that iteration (check and prepare watchers do not count): its running means "idle". */
static bool idle_seen;
static void note_idle(struct ev_loop *loop, ev_idle *w, int revents) {
    (void)loop, (void)w, (void)revents;
    idle_seen = true;
}

void ac_run_until_idle(ac_test *t) {
    struct ev_loop *loop = ac_loop(t);
    ev_idle idle;
    ev_idle_init(&idle, note_idle);
    ev_set_priority(&idle, EV_MINPRI);
    ev_idle_start(loop, &idle);
    ev_unref(loop);
    /* EVRUN_NOWAIT polls without waiting, so the virtual clock never jumps here. Work that keeps making
     * more work (an idle watcher of the test's own) is bounded. */
    for (int i = 0; i < 100000; i++) {
        idle_seen = false;
        ev_run(loop, EVRUN_NOWAIT);
        if (idle_seen)
            break;
    }
    ev_ref(loop);
    ev_idle_stop(loop, &idle);
}

static void wake_only(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
}

void ac__clock_advance(ac_test *t, double seconds, const char *file, int line) {
    if (!vc.kind) {
        ac__report_failure(AC_FK_ASSERTION, true, file, line,
                           "ac_clock_advance needs a virtual or manual clock", NULL, NULL);
        return;
    }
    if (!isfinite(seconds) || seconds < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "ac_clock_advance: cannot move the clock by %g s (finite and >= 0 only)",
                 seconds);
        ac__report_failure(AC_FK_ASSERTION, true, file, line, msg, NULL, NULL);
        return;
    }
    struct ev_loop *loop = ac_loop(t);
    long long target = vc.mono + to_ns(seconds);
    int kind = vc.kind;
    STORE(vc.kind, AC_CLOCK_VIRTUAL); /* jump from deadline to deadline, capped at the target */
    vc.cap = target;
    ac_run_until_idle(t);
    ev_timer limit; /* keeps libev polling (and so jumping) even with no timer of the test's own */
    ev_timer_init(&limit, wake_only, 0., 0.);
    for (int i = 0; i < 1000000 && vc.mono < target; i++) {
        long long before = vc.mono;
        ev_now_update(loop);
        ev_timer_set(&limit, (double)(target - vc.mono) / 1e9, 0.);
        ev_timer_start(loop, &limit);
        ev_run(loop, EVRUN_ONCE);
        ev_timer_stop(loop, &limit);
        ac_run_until_idle(t);
        if (vc.mono == before && ev_pending_count(loop) == 0 && i > 0 && vc.mono < target)
            advance(target - vc.mono);
    }
    vc.cap = 0;
    advance_ns(HAIR); /* timers due exactly at the target fire now (libev fires only past a deadline) */
    ev_now_update(loop);
    ac_run_until_idle(t);
    STORE(vc.kind, kind);
}
