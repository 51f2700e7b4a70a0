/* timeline.c — the event ring of timeline.h: mapping the rings before any test process is forked,
 * claiming and publishing events (one atomic add a claim, no system call, no allocation, no lock), and
 * reading a ring after its writer ended. Time and iteration are read from the test's loop only on the
 * loop's thread; another thread's events (a mock called from a worker) carry the last ones the loop's
 * thread saw. It must not know what an event means (the recording modules and the runner do), and must
 * not dereference anything but its own ring. */
#include "timeline.h"

#include <ev.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "asyncheck/test.h"
#include "util/util.h"

#define TL_MAGIC 0x61636b746c310000ull /* "acktl1" */

_Static_assert(sizeof(ac__tl_event) == 192, "a timeline event is 192 bytes");

static ac__tl_ring *ring AC__PER_TEST;     /* the ring this process writes, or NULL */
static struct ev_loop *loop AC__PER_TEST;  /* the test's loop while a test runs */
static pthread_t loop_thread AC__PER_TEST; /* the thread that made it */
static double last_time AC__PER_TEST;      /* the loop thread's last reading (for other threads' events) */
static unsigned last_iter AC__PER_TEST;

static size_t ring_bytes(size_t events) {
    size_t n = sizeof(ac__tl_ring) + events * sizeof(ac__tl_event);
    return (n + 4095) & ~(size_t)4095;
}

ac__tl_ring *ac__tl_map(size_t nslots, size_t events, uint32_t flags) {
    size_t one = ring_bytes(events);
    void *p =
        mmap(NULL, one * nslots, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    for (size_t i = 0; i < nslots; i++) {
        ac__tl_ring *r = (ac__tl_ring *)((char *)p + i * one);
        r->magic = TL_MAGIC;
        r->capacity = r->mapped = events;
        r->flags = flags;
    }
    return p;
}

ac__tl_ring *ac__tl_slot(ac__tl_ring *base, size_t i) {
    return base ? (ac__tl_ring *)((char *)base + i * ring_bytes(base->mapped)) : NULL;
}

void ac__tl_unmap(ac__tl_ring *base, size_t nslots, size_t events) {
    if (base)
        munmap(base, ring_bytes(events) * nslots);
}

void ac__tl_reset(ac__tl_ring *r, size_t events) {
    if (!r)
        return;
    r->capacity = events && events < r->mapped ? events : r->mapped;
    __atomic_store_n(&r->next, 0, __ATOMIC_RELEASE);
}

void ac__tl_attach(ac__tl_ring *r) {
    ring = r;
}

ac__tl_ring *ac__tl_attached(void) {
    return ring;
}

/* Armed without a loop yet (ac__tl_arm): a test whose loop is made lazily records from its start, at
 * time 0 and iteration 0 until the loop exists. */
static bool armed AC__PER_TEST;

static void restart(void) {
    __atomic_store_n(&loop_thread, pthread_self(), __ATOMIC_RELAXED);
    __atomic_store_n(&ring->next, 0, __ATOMIC_RELAXED);
    ring->base = 0;
    double zero = 0.;
    __atomic_store(&last_time, &zero, __ATOMIC_RELAXED);
    __atomic_store_n(&last_iter, 0, __ATOMIC_RELAXED);
}

void ac__tl_arm(void) {
    if (!ring)
        return;
    __atomic_store_n(&loop, NULL, __ATOMIC_RELAXED);
    restart();
    __atomic_store_n(&armed, true, __ATOMIC_RELAXED);
}

void ac__tl_begin(struct ev_loop *l) {
    if (!ring)
        return;
    bool was_armed = __atomic_load_n(&armed, __ATOMIC_RELAXED);
    __atomic_store_n(&armed, false, __ATOMIC_RELAXED);
    if (l && !was_armed) /* a fresh start; an armed ring keeps what it recorded before the loop */
        restart();
    if (l)
        ring->base = ev_now(l);
    __atomic_store_n(&loop, l, __ATOMIC_RELAXED);
}

bool ac__tl_on(void) {
    return ring && (__atomic_load_n(&loop, __ATOMIC_RELAXED) || __atomic_load_n(&armed, __ATOMIC_RELAXED));
}

bool ac__tl_counting_fds(void) {
    return ring && (ring->flags & AC_TL_FLAG_COUNT_FDS);
}

ac__tl_event *ac__tl_claim(int kind) {
    if (!ring)
        return NULL;
    struct ev_loop *l = __atomic_load_n(&loop, __ATOMIC_RELAXED);
    if (!l && !__atomic_load_n(&armed, __ATOMIC_RELAXED))
        return NULL;
    uint64_t i = __atomic_fetch_add(&ring->next, 1, __ATOMIC_RELAXED);
    ac__tl_event *e = &ring->ev[i % ring->capacity];
    __atomic_store_n(&e->done, 0, __ATOMIC_RELAXED); /* being written */
    __atomic_store_n(&e->seq, i + 1, __ATOMIC_RELAXED);
    double t;
    unsigned it;
    if (l && pthread_equal(pthread_self(), __atomic_load_n(&loop_thread, __ATOMIC_RELAXED))) {
        t = ev_now(l) - ring->base;
        it = ev_iteration(l);
        __atomic_store(&last_time, &t, __ATOMIC_RELAXED);
        __atomic_store_n(&last_iter, it, __ATOMIC_RELAXED);
    } else {
        __atomic_load(&last_time, &t, __ATOMIC_RELAXED);
        it = __atomic_load_n(&last_iter, __ATOMIC_RELAXED);
    }
    e->time = t;
    e->cpu = 0;
    e->dnum = 0;
    e->addr = NULL;
    e->iter = it;
    e->flow = 0;
    e->active = 0;
    e->fds = -1;
    e->num = 0;
    e->revents = 0;
    e->kind = (uint8_t)kind;
    e->wtype = 0;
    e->depth = 0;
    e->text[0] = '\0';
    return e;
}

void ac__tl_commit(ac__tl_event *e) {
    if (e)
        __atomic_store_n(&e->done, 1, __ATOMIC_RELEASE);
}

uint64_t ac__tl_index(const ac__tl_event *e) {
    return e->seq - 1;
}

void ac__tl_vprintf(int kind, uint32_t flow, const char *fmt, va_list ap) {
    ac__tl_event *e = ac__tl_claim(kind);
    if (!e)
        return;
    e->flow = flow;
    vsnprintf(e->text, sizeof e->text, fmt, ap);
    ac__tl_commit(e);
}

void ac__tl_printf(int kind, uint32_t flow, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ac__tl_vprintf(kind, flow, fmt, ap);
    va_end(ap);
}

void ac__tl_text(int kind, uint32_t flow, const char *text) {
    ac__tl_printf(kind, flow, "%s", text);
}

void ac__tl_finish(uint64_t index, double cpu) {
    if (!ring)
        return;
    ac__tl_event *e = &ring->ev[index % ring->capacity];
    if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) == index + 1)
        e->cpu = cpu;
}

uint64_t ac__tl_read(const ac__tl_ring *r, void (*fn)(void *ctx, const ac__tl_event *e), void *ctx,
                     uint64_t *lost) {
    uint64_t next = __atomic_load_n(&r->next, __ATOMIC_ACQUIRE), cap = r->capacity;
    uint64_t from = next > cap ? next - cap : 0, gone = from;
    for (uint64_t i = from; i < next; i++) {
        const ac__tl_event *e = &r->ev[i % cap];
        if (__atomic_load_n(&e->done, __ATOMIC_ACQUIRE) != 1 || e->seq != i + 1) {
            gone++;
            continue;
        }
        fn(ctx, e);
    }
    if (lost)
        *lost = gone;
    return next;
}

const char *ac__tl_kind_name(int kind) {
    static const char *const names[AC_TL_NKINDS] = {
        [AC_TL_CALLBACK] = "callback", [AC_TL_START] = "start",         [AC_TL_STOP] = "stop",
        [AC_TL_CALL] = "call",         [AC_TL_COMPLETION] = "complete", [AC_TL_PEER] = "peer",
        [AC_TL_CANCEL] = "cancel",     [AC_TL_FAULT] = "fault",         [AC_TL_NOTE] = "note",
    };
    return kind > 0 && kind < AC_TL_NKINDS && names[kind] ? names[kind] : "?";
}

/* ---- the public marker ---- */

void ac_note(ac_test *t, const char *fmt, ...) {
    (void)t;
    va_list ap;
    va_start(ap, fmt);
    ac__tl_vprintf(AC_TL_NOTE, 0, fmt, ap);
    va_end(ap);
}
