/* timeline.h — the event log of one test: a bounded ring of fixed-size binary events (callbacks
 * dispatched, watchers started and stopped, mock calls and completions, peer steps, cancel and fault
 * points, the test's own notes) that the test's process writes without a system call per event and the
 * runner reads after the process ended, whatever the end (a crash, the watchdog's SIGKILL).
 *
 * The ring lives in memory the runner maps MAP_SHARED once, before any test process is forked
 * (ac__tl_map), one ring per job slot; a test process writes only the slot it was given (ac__tl_attach).
 * Under --no-fork it is the runner's own memory. Events hold no pointer the runner would have to follow
 * except code addresses (the same executable, so the runner names them itself): text is copied into the
 * event, cut to AC_TL_TEXT - 1 bytes.
 *
 * This module knows nothing of tests, loops or reports: the modules that record call the functions
 * below, and the runner turns events into the result's timeline. It must not allocate or take locks on
 * the recording path (a mock's call may come from any thread: slots are claimed with one atomic add). */
#ifndef AC_TIMELINE_H
#define AC_TIMELINE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;

/* What an event records. */
typedef enum ac__tl_kind {
    AC_TL_CALLBACK = 1, /* a callback dispatched: addr, wtype, num (fd/signal), revents, cpu, depth */
    AC_TL_START,        /* a watcher started by the test: addr, wtype, num, dnum (a timer's after) */
    AC_TL_STOP,         /* a watcher stopped by the test */
    AC_TL_CALL,         /* a mock call: text "name(args)", flow = the call's id */
    AC_TL_COMPLETION,   /* a mock completion delivered: text, flow = the call's id */
    AC_TL_PEER,         /* a scripted peer finished a step: text */
    AC_TL_CANCEL,       /* the operation was cancelled: text */
    AC_TL_FAULT,        /* a fault point failed a call: text */
    AC_TL_NOTE,         /* ac_note: text */
    AC_TL_NKINDS
} ac__tl_kind;

#define AC_TL_TEXT 124

/* One event: 192 bytes. `seq` is its index + 1 and `done` is set last: an event whose seq does not
 * match its position, or not done, was being written when its writer died, or was overwritten, and is
 * not read. */
typedef struct ac__tl_event {
    uint64_t seq;
    double time;      /* the test loop's clock (ev_now) since the test's loop was made, seconds */
    double cpu;       /* callbacks: the thread's CPU seconds in the callback; -1 while it runs */
    double dnum;      /* a timer's after (start) */
    const void *addr; /* a callback's code address */
    uint32_t iter;    /* ev_iteration of the test's loop */
    uint32_t flow;    /* a mock call's id (1-based), 0: none */
    uint32_t active;  /* watchers the test has active (callbacks, starts, stops) */
    int32_t fds;      /* descriptors open (callbacks, only when counting: ac__tl_counting_fds), else -1 */
    int32_t num;      /* an io watcher's fd, a signal's number, ... */
    uint16_t revents;
    uint8_t kind, wtype, depth, done, pad[2];
    char text[AC_TL_TEXT];
} ac__tl_event;

/* One slot's ring: a header and room for `mapped` events, of which the run in the slot uses `capacity`. */
typedef struct ac__tl_ring {
    uint64_t magic;
    uint64_t capacity; /* the events this run keeps (set by ac__tl_reset; at most `mapped`) */
    uint64_t mapped;   /* the events the slot has room for */
    uint64_t next;     /* events claimed so far (the next event's index) */
    uint32_t flags;    /* AC_TL_FLAG_* */
    uint32_t pad;
    double base; /* the loop's clock when the test's loop was made */
    uint64_t reserved[2];
    ac__tl_event ev[];
} ac__tl_ring;

#define AC_TL_FLAG_COUNT_FDS 1u /* callbacks count the open descriptors (for trace counters) */

/* The default capacity of a ring in events, and under --trace/--trace-all; --timeline-events overrides. */
#define AC_TL_DEFAULT_EVENTS 4096
#define AC_TL_TRACE_EVENTS 65536

/* Maps `nslots` rings of `events` events each, MAP_SHARED (inherited by every process forked after),
 * with `flags`; NULL when mapping fails (the run goes on without timelines). Pages are touched only as
 * events are written. */
ac__tl_ring *ac__tl_map(size_t nslots, size_t events, uint32_t flags);
/* The ring of slot i of a mapping made by ac__tl_map. */
ac__tl_ring *ac__tl_slot(ac__tl_ring *base, size_t i);
/* Unmaps what ac__tl_map mapped (same nslots and events). */
void ac__tl_unmap(ac__tl_ring *base, size_t nslots, size_t events);

/* Empties a ring before a run starts in its slot (in the runner), keeping the last `events` events of
 * that run (at most what the slot has room for; 0: all of it). */
void ac__tl_reset(ac__tl_ring *ring, size_t events);

/* This process records into `ring` from now on (NULL: records nothing). */
void ac__tl_attach(ac__tl_ring *ring);
/* The ring this process records into, or NULL. */
ac__tl_ring *ac__tl_attached(void);
/* Starts the test's timeline before its loop exists (a loop made lazily, on first use): events are
 * recorded at time 0 and iteration 0 until ac__tl_begin gives the loop, which keeps them. */
void ac__tl_arm(void);
/* A test's loop was made (or destroyed: NULL): empties the ring (unless armed: ac__tl_arm) and takes the
 * loop's clock as time 0. */
void ac__tl_begin(struct ev_loop *loop);
/* True when this process records (a ring is attached and a test is running). */
bool ac__tl_on(void);
/* True when callbacks should count the open descriptors. */
bool ac__tl_counting_fds(void);

/* Claims the next event, fills kind, seq-to-be, time and iteration, zeroes the rest; returns NULL when
 * not recording. The caller fills what it knows, then calls ac__tl_commit. */
ac__tl_event *ac__tl_claim(int kind);
/* Publishes an event claimed by ac__tl_claim. */
void ac__tl_commit(ac__tl_event *e);
/* Claims and commits an event with text (cut to fit) and a flow id. */
void ac__tl_text(int kind, uint32_t flow, const char *text);
void ac__tl_printf(int kind, uint32_t flow, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ac__tl_vprintf(int kind, uint32_t flow, const char *fmt, va_list ap);
/* Sets a callback's CPU time once it returned, if its event is still the one at that index. */
void ac__tl_finish(uint64_t index, double cpu);
/* The index of an event (to pass to ac__tl_finish). */
uint64_t ac__tl_index(const ac__tl_event *e);

/* Reads a ring after its writer ended: calls fn for each intact event, oldest first; returns how many
 * events were written in all, and in *lost how many of them are gone (overwritten when the ring wrapped,
 * or half written). */
uint64_t ac__tl_read(const ac__tl_ring *ring, void (*fn)(void *ctx, const ac__tl_event *e), void *ctx,
                     uint64_t *lost);

/* The short name of a kind ("callback", "call", ...). */
const char *ac__tl_kind_name(int kind);

#endif
