/* loop_internal.h — what the hygiene module's files share: the watcher records, the per-test state,
 * the interception of libev and the sleeping calls (hooks.c), and naming code addresses (symbols.c).
 * Nothing outside src/loop/ includes this. */
#ifndef AC_LOOP_INTERNAL_H
#define AC_LOOP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "loop.h"
#include "runner/runner.h"

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
    const void *site;     /* return address of the ev_TYPE_start call (or of ev_timer_again, ev_once) */
    unsigned long serial; /* start order within the test */
    unsigned char type;   /* ac__wtype */
    bool internal;        /* started by libev for itself (its signal/async pipe, ev_stat's timer, ...) */
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
            char path[72];
        } stat;
    } p;
} ac__wrec;

/* ---- the running test's state (loop.c owns it; hooks.c reads and updates it) ---- */
typedef struct ac__loop_state {
    ac_test *t;
    const ac__test_def *def;
    struct ev_loop *loop; /* the test's loop while tracking is on, else NULL (read from any thread) */
    pthread_t thread;     /* the test's thread */
    unsigned allow;       /* AC_ALLOW_* */
    double slow_limit;    /* seconds */
    bool batch_reported_slow, batch_reported_sleep;
    /* live records: dense array plus an open-addressing index (watcher pointer -> position + 1) */
    ac__wrec *recs;
    size_t nrecs, cap;
    uint32_t *index;
    size_t index_cap; /* power of two */
    unsigned long next_serial;
} ac__loop_state;

extern ac__loop_state ac__ls;

/* True while `loop` is the running test's loop and tracking is on. Cheap; any thread. */
static inline bool ac__tracking(const struct ev_loop *loop) {
    return loop && __atomic_load_n(&ac__ls.loop, __ATOMIC_RELAXED) == loop;
}

/* Records (loop.c). */
ac__wrec *ac__rec_find(const ev_watcher *w);
ac__wrec *ac__rec_add(const ac__wrec *r); /* replaces an existing record of the same watcher */
void ac__rec_remove(const ev_watcher *w);
void ac__rec_clear(void);

/* Appends "ev_io fd=7 EV_READ", "ev_timer after=5.0 repeat=1.0", ... */
void ac__wrec_describe(ac_buf *b, const ac__wrec *r);
const char *ac__wtype_name(int type);

/* ---- interception (hooks.c) ---- */
/* Rewrites the GOT/PLT slots of ev_TYPE_start/stop, ev_timer_again, ev_periodic_again, ev_once, ev_run,
 * ev_loop_destroy and the sleeping calls once per process (idempotent). */
void ac__hooks_install(void);
/* Adopts the internal watchers libev started on `loop` before tracking began (its signal/async pipe). */
void ac__hooks_adopt_internal(struct ev_loop *loop);
/* The loop's invoke-pending callback while a test runs: dispatches, times, counts callback depth. */
void ac__hooks_dispatch(struct ev_loop *loop);
/* Forgets dispatch frames (test start and end). */
void ac__hooks_reset(void);
/* The real CLOCK_MONOTONIC in seconds, whatever replaces clock_gettime. */
double ac__real_now(void);
/* The fds of libev's own io watchers on the test's loop (its timerfd, inotify fd, ...) */
bool ac__hooks_is_loop_fd(int fd);

/* ---- naming code (symbols.c) ---- */
/* Appends the function holding `addr` as "name+0x1c" ("name" alone at offset 0, with_offset false
 * drops the offset), "libfoo.so.1+0x1234" when no symbol covers it, or "0x7f…" when nothing does. */
void ac__sym_format(ac_buf *b, const void *addr, bool with_offset);
/* True when `addr` lies in asyncheck's own code (see symbols.c for how that is decided). */
bool ac__sym_in_harness(const void *addr);

#endif
