/* loop_internal.h — what the hygiene module's files share: the watcher records, the per-test state,
 * the interception of libev and the sleeping calls (hooks.c), dispatching and timing the pending
 * callbacks (dispatch.c), naming code addresses (symbols.c), descriptor ownership (fds.c), spinning
 * loops (spin.c), stalls on the CPU clock (stall.c) and blocking calls in callbacks (blocking.c).
 * Nothing outside src/loop/ includes this. */
#ifndef AC_LOOP_INTERNAL_H
#define AC_LOOP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "loop.h"
#include "context/context.h"

/* ---- watcher types ---- */
typedef enum ac__wtype {
    AC_W_IO,
    AC_W_TIMER,
    AC_W_PERIODIC,
    AC_W_SIGNAL,
    AC_W_CHILD,
    AC_W_STAT,
    AC_W_IDLE,
    AC_W_PREPARE,
    AC_W_CHECK,
    AC_W_EMBED,
    AC_W_FORK,
    AC_W_CLEANUP,
    AC_W_ASYNC,
    AC_W_NTYPES
} ac__wtype;

/* One watcher started on the test's loop and not seen stopped since. Everything a report says about it
 * is copied here when it is started, so describing it never needs the watcher's memory except to ask
 * whether it is still active. */
typedef struct ac__wrec {
    ev_watcher *w;
    void *cb;             /* the callback when it was started */
    void *user_cb;        /* ev_once: the test's callback (cb is libev's) */
    const void *site;     /* return address of the ev_TYPE_start call (or of ev_timer_again, ev_once) */
    void *parent_cb;      /* started inside a dispatched callback: that callback (NULL: batch or none) */
    unsigned long serial; /* start order within the test */
    unsigned char type;   /* ac__wtype */
    bool in_callback;     /* started inside a dispatched callback */
    bool internal;        /* libev's own (its callback is in libev: its pipe, ev_stat's timer, ...) */
    bool harness;         /* started inside ac__loop_harness_enter/leave */
    bool reported_slow;   /* one "blocked loop" report per watcher and test */
    bool reported_sleep;  /* one "blocking sleep" report per watcher and test */
    union {
        struct {
            int fd, events;
        } io;
        struct {
            double after, repeat;
        } timer;
        struct {
            double offset, interval;
            bool reschedule;
        } periodic;
        int signum;
        struct {
            int pid, trace;
        } child;
        struct {
            double interval;
            char path[40]; /* copied, truncated */
        } stat;
    } p;
} ac__wrec;

/* The thread's CPU time and context switches (getrusage RUSAGE_THREAD; the virtual clock leaves it
 * real). */
typedef struct ac__cpu_sample {
    double cpu;           /* user + system seconds */
    long voluntary, pree; /* context switches: blocked, preempted */
} ac__cpu_sample;

/* A callback being dispatched (dispatch.c). */
typedef struct ac__frame {
    ac__wrec rec; /* a copy: the callback may stop and free its watcher */
    bool batch;   /* ev_invoke_pending for the rest */
    bool reported_sleep;
    double start, excluded; /* excluded: nested ev_run of the test's loop, and reported sleeps */
    ac__cpu_sample cpu;     /* the thread's CPU time and context switches at start (stall.c) */
    unsigned long serial;
    char delivery[64]; /* a mock's completion timer: "the completion of send() call #0", else "" */
} ac__frame;

/* libev's own io watcher started on a loop before tracking began (its async/signal pipe). */
typedef struct ac__ring_entry {
    struct ev_loop *loop;
    ev_watcher *w;
    void *cb;
    int fd, events;
} ac__ring_entry;

#define AC_MAX_FRAMES 8 /* timed nesting depth (deeper callbacks still count as callbacks) */
#define AC_MAX_LIMBO 16 /* watchers stopped between two dispatches, kept to be fed back */
#define AC_INLINE_RECS 16
#define AC_INLINE_INDEX 64
#define AC_RING 8
#define AC_FD_WORDS 16 /* fds 0..1023 */

/* ---- the running test's state (loop.c owns it; hooks.c and dispatch.c read and update it) ----
 * One page-aligned object, its often-written fields first and sized so that a typical test writes one
 * or two pages of it: a forked test child pays a page fault for every page it first writes. */
typedef struct ac__loop_state {
    ac_test *t;
    const ac__test_def *def;
    struct ev_loop *loop; /* the test's loop while tracking is on, else NULL (read from any thread) */
    pthread_t thread;     /* the test's thread */
    unsigned allow;       /* AC_ALLOW_* */
    double slow_limit;    /* seconds */
    bool batch_reported_slow, batch_reported_sleep;
    int depth; /* callbacks being dispatched (written on the test's thread only) */
    unsigned long frame_serial;
    size_t nlimbo;
    unsigned long next_serial;
    /* live records: dense array plus an open-addressing index (watcher pointer -> position + 1); inline
     * storage first, the heap beyond it */
    ac__wrec *recs;
    size_t nrecs, cap;
    uint32_t *index;
    size_t index_cap;          /* power of two */
    unsigned long body_serial; /* next_serial when the body began: later starts are the body's */
    int threads_before;        /* the process's threads when the test began (0: /proc cannot tell) */
    /* open fds when the test began, the bound they were looked for below */
    bool fds_known;
    int fds_limit;
    uint64_t fds_before[AC_FD_WORDS];
    pthread_mutex_t ring_lock;
    unsigned ring_next, ring_used;
    ac__ring_entry ring[AC_RING];
    uint32_t index_inline[AC_INLINE_INDEX];
    ac__frame frames[AC_MAX_FRAMES];
    ac__wrec recs_inline[AC_INLINE_RECS];
    ac__wrec limbo[AC_MAX_LIMBO];
} ac__loop_state;

extern ac__loop_state ac__loop_test;

/* True while `loop` is the running test's loop and tracking is on. Cheap; any thread. */
static inline bool ac__tracking(const struct ev_loop *loop) {
    return loop && __atomic_load_n(&ac__loop_test.loop, __ATOMIC_RELAXED) == loop;
}

/* True on the running test's thread. */
static inline bool ac__on_test_thread(void) {
    return pthread_equal(pthread_self(), ac__loop_test.thread);
}

/* How many callbacks are being dispatched (ac__loop_test.depth; the frames are ac__loop_test.frames,
 * innermost last): written by dispatch.c on the test's thread, read by hooks on any thread (whose own checks
 * then find they are not the test's). */
static inline int ac__depth(void) {
    return __atomic_load_n(&ac__loop_test.depth, __ATOMIC_RELAXED);
}

static inline void ac__set_depth(int d) {
    __atomic_store_n(&ac__loop_test.depth, d, __ATOMIC_RELAXED);
}

/* Records (loop.c). */
ac__wrec *ac__rec_find(const ev_watcher *w);
ac__wrec *ac__rec_add(const ac__wrec *r); /* replaces an existing record of the same watcher */
void ac__rec_remove(const ev_watcher *w);
void ac__rec_clear(void);

/* Appends "ev_io fd=7 EV_READ", "ev_timer after=5.0 repeat=1.0", ... */
void ac__wrec_describe(ac__buf *b, const ac__wrec *r);
const char *ac__wtype_name(int type);
/* As ac__wrec_describe, then ", callback on_read, started at connect_client+0x4c" (or who started it). */
void ac__wrec_describe_full(ac__buf *b, const ac__wrec *r);

/* ---- what modules above the loop registered (loop.c keeps it; NULL: nothing registered) ---- */
extern const ac__loop_scheduler *ac__loop_sched;
extern const ac__loop_delivery_namer *ac__loop_namer;
/* The namer's describe and due, or false / nothing when no namer is registered. */
bool ac__delivery_describe(ac__buf *b, const void *w);
void ac__delivery_due(ac__buf *b, const void *w);

/* ---- interception (hooks.c) ---- */
/* Rewrites the GOT/PLT slots of ev_TYPE_start/stop, ev_timer_again, ev_periodic_again, ev_once, ev_run,
 * ev_loop_destroy and the sleeping calls once per process (idempotent). */
void ac__hooks_install(void);
/* Adopts the internal watchers libev started on `loop` before tracking began (its signal/async pipe). */
void ac__hooks_adopt_internal(struct ev_loop *loop);
/* True when addr lies in libev's code. */
bool ac__hooks_in_libev(const void *addr);
/* libev's own ev_invoke_pending for `loop`. */
void ac__hooks_invoke_pending(struct ev_loop *loop);
/* Forgets the interception's per-test state: limbo, sleep and harness nesting (test start and end). */
void ac__hooks_reset(void);

/* ---- descriptor ownership (fds.c) ---- */
/* Forgets the closes seen so far and notes this process as the test's (ac__loop_begin, after the fd
 * snapshot). */
void ac__fds_begin(void);
/* close(fd) called at `caller` on the test's thread while its loop is tracked (hooks.c): judges it, and
 * closes through `real` unless fd is not the test's to close. `own`: asyncheck's own close (made inside
 * ac__loop_harness_enter/leave, or through ac__loop_close_own) or libev's (outside any callback, or in
 * ev_loop_destroy), which is carried out and only noted. */
int ac__fds_close(int fd, const void *caller, bool own, int (*real)(int));
/* Who opened a descriptor (ac__fds_opened). */
enum { AC_FD_BY_TEST = 1, AC_FD_BY_HARNESS, AC_FD_BY_LIBEV };
/* A call on the test's thread while its loop is tracked made descriptor `fd` (hooks.c): `call` names it
 * ("socket()", a string that lives for the process), `caller` is its return address, `by` AC_FD_BY_*. */
void ac__fds_opened(int fd, const char *call, const void *caller, int by);
/* A hook saw `call` (at return address `caller`) make descriptor fd (-1: none): tells fds.c whose it is
 * when the test's loop is tracked and this is its thread (hooks.c; blocking.c's accept hook). */
void ac__hooks_opened(int fd, const char *call, const void *caller);
/* Reports the test's io watchers that were active on an fd the test closed and still are (the
 * dispatcher at each dispatch, fatally: the test ends there; ac__loop_end, not fatally); cheap when there
 * are none. */
void ac__fds_check_watchers(bool fatal);

/* ---- spinning loops (spin.c) ---- */
/* What ac__spin_before read of a callback's fd (state -1: not judged). */
typedef struct ac__spin_probe {
    long state;
    int revents;
} ac__spin_probe;
/* Forgets the streak (test start). */
void ac__spin_reset(void);
/* Around the callback of record r (NULL: the batch) dispatched with revents: reads its fd's state
 * before, and after judges whether the loop spins on it (a fatal report after the threshold). */
void ac__spin_before(const ac__wrec *r, int revents, ac__spin_probe *p);
void ac__spin_after(struct ev_loop *loop, const ac__wrec *r, const ac__spin_probe *p);

/* ---- stalls measured on the thread's CPU clock (stall.c) ---- */
/* Samples the calling thread's CPU time and context switches. */
void ac__cpu_now(ac__cpu_sample *s);
/* Fills a timeline event's watcher fields (callback, type, fd/signal/pid, a timer's after and repeat)
 * from a record (loop.c). */
void ac__loop_tl_fill(ac__tl_event *e, const ac__wrec *r);
/* Records the start or stop of a test's watcher in the timeline (loop.c): nothing for asyncheck's and
 * libev's own. */
void ac__loop_tl_watcher(int kind, const ac__wrec *r);
/* A callback that started at sample `start` ran over the slow limit in wall time: false when the overrun
 * is the machine's load (it was preempted, never blocked, and its CPU time is within the limit), else
 * true. */
bool ac__stall_is_the_callbacks(const ac__cpu_sample *start);

/* ---- blocking calls inside callbacks (blocking.c) ---- */
/* Rewrites the slots of getaddrinfo, gethostbyname, read, recv, write, send, connect, accept, fsync,
 * fdatasync, system, waitpid, poll and select (once per process: hooks.c's install). */
void ac__blocking_install(void);
/* Forgets which kinds were reported (test start). */
void ac__blocking_reset(void);

/* ---- dispatching (dispatch.c) ---- */
/* The loop's invoke-pending callback while a test runs: dispatches, times, counts callback depth. */
void ac__dispatch_pending(struct ev_loop *loop);
/* Forgets dispatch frames (test start and end). */
void ac__dispatch_reset(void);
/* Takes `seconds` off the time charged to the callback dispatched at `depth` (1: the outermost): a nested
 * ev_run it made, a sleep already reported. Nothing when depth is 0 or beyond the timed frames. */
void ac__dispatch_exclude(int depth, double seconds);
/* A sleeping call `call` ("usleep(500000)") made inside a dispatched callback (hooks.c checked that, and
 * that it is not nested in another hooked sleep): reports it as a blocking sleep, once per callback, and
 * returns true, unless the test allows it or the callback is no longer live. */
bool ac__dispatch_sleep(const char *call);

/* ---- threads (threads.c) ---- */
/* Forgets the call sites reported in the test before (test start). */
void ac__threads_reset(void);
/* Reports `fn` ("ev_timer_start") called on the test's loop from another thread at `caller`, once per
 * call site and test, non-fatally; calls from inside libev are not reported. */
void ac__loop_foreign_call(const char *fn, const void *caller);
/* In a hook of libev function `fn` on `loop`: reports the call when `loop` is the test's and the calling
 * thread is not the test's (a macro, so that the caller is the hook's). */
#define AC__LOOP_FOREIGN(loop, fn)                                                                           \
    do {                                                                                                     \
        if (ac__tracking(loop) && !ac__on_test_thread())                                                     \
            ac__loop_foreign_call((fn), __builtin_return_address(0));                                        \
    } while (0)

/* ---- naming code (symbols.c) ---- */
/* Appends the function holding `addr` as "name+0x1c" ("name" alone at offset 0, with_offset false
 * drops the offset), "libfoo.so.1+0x1234" when no symbol covers it, or "0x7f…" when nothing does. */
void ac__sym_format(ac__buf *b, const void *addr, bool with_offset);
/* True when `addr` lies in asyncheck's own code (see symbols.c for how that is decided). */
bool ac__sym_in_harness(const void *addr);

#endif
