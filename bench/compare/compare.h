/* compare.h — what the comparison programs share (bench/compare/run.sh).
 *
 * The 1,000 tests of each program come from one X-macro: CMP_THOUSAND(X) expands X(id, n) for
 * id = t000 ... t999 and n = 0 ... 999 (as an expression), CMP_TWO_HUNDRED(X) for t000 ... t199. Every
 * framework's program defines its tests with it, so no file lists 1,000 tests by hand.
 *
 * The work of a test is the same everywhere:
 *   trivial  cmp_trivial(n): one comparison on a value computed at run time (as bench/trivial).
 *   async    a libev ev_timer of 1 ms and a socketpair round-trip: a byte written on one end, read by
 *            an ev_io on the other. asyncheck does it on the test's own loop with AC_AWAIT; the other
 *            frameworks have no loop, so cmp_async_fresh_loop() makes one per test (ev_loop_new, ev_run,
 *            ev_loop_destroy) with the flags asyncheck uses for its test loops.
 *   cpu      cmp_burn(n): a deterministic FNV-1a chain of CMP_BURN_ITERS steps, about 2 ms of CPU here.
 */
#ifndef ASYNCHECK_BENCH_COMPARE_H
#define ASYNCHECK_BENCH_COMPARE_H

#include <ev.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- 1,000 (or 200) test ids ---- */
#define CMP_X10(X, p, b)                                                                                     \
    X(p##0, (b) + 0)                                                                                         \
    X(p##1, (b) + 1)                                                                                         \
    X(p##2, (b) + 2)                                                                                         \
    X(p##3, (b) + 3)                                                                                         \
    X(p##4, (b) + 4)                                                                                         \
    X(p##5, (b) + 5)                                                                                         \
    X(p##6, (b) + 6)                                                                                         \
    X(p##7, (b) + 7)                                                                                         \
    X(p##8, (b) + 8)                                                                                         \
    X(p##9, (b) + 9)
#define CMP_X100(X, p, b)                                                                                    \
    CMP_X10(X, p##0, (b) + 0)                                                                                \
    CMP_X10(X, p##1, (b) + 10)                                                                               \
    CMP_X10(X, p##2, (b) + 20)                                                                               \
    CMP_X10(X, p##3, (b) + 30)                                                                               \
    CMP_X10(X, p##4, (b) + 40)                                                                               \
    CMP_X10(X, p##5, (b) + 50)                                                                               \
    CMP_X10(X, p##6, (b) + 60)                                                                               \
    CMP_X10(X, p##7, (b) + 70)                                                                               \
    CMP_X10(X, p##8, (b) + 80)                                                                               \
    CMP_X10(X, p##9, (b) + 90)
#define CMP_THOUSAND(X)                                                                                      \
    CMP_X100(X, t0, 0)                                                                                       \
    CMP_X100(X, t1, 100)                                                                                     \
    CMP_X100(X, t2, 200)                                                                                     \
    CMP_X100(X, t3, 300)                                                                                     \
    CMP_X100(X, t4, 400)                                                                                     \
    CMP_X100(X, t5, 500)                                                                                     \
    CMP_X100(X, t6, 600)                                                                                     \
    CMP_X100(X, t7, 700)                                                                                     \
    CMP_X100(X, t8, 800)                                                                                     \
    CMP_X100(X, t9, 900)
#define CMP_TWO_HUNDRED(X)                                                                                   \
    CMP_X100(X, t0, 0)                                                                                       \
    CMP_X100(X, t1, 100)

/* ---- trivial ---- */
static volatile int cmp_seed = 7;

static inline int cmp_trivial(int n) {
    int x = cmp_seed * (n + 1);
    return x % (n + 1) == 0;
}

/* ---- async: a 1 ms timer and a socketpair round-trip on a libev loop ---- */
typedef struct cmp_async {
    ev_timer timer;
    ev_io io;
    int fds[2];
    int fired, got;
    char sent, byte;
} cmp_async;

static void cmp_on_timer(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop;
    (void)revents;
    ((cmp_async *)w->data)->fired++;
}

static void cmp_on_read(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    cmp_async *a = w->data;
    char c;
    if (read(w->fd, &c, 1) == 1) {
        a->byte = c;
        a->got++;
    }
    ev_io_stop(loop, w);
}

/* Starts the timer and the reader on loop and writes the byte; 0 on success, -1 if a syscall failed. */
static inline int cmp_async_start(struct ev_loop *loop, cmp_async *a, int n) {
    memset(a, 0, sizeof *a);
    a->sent = (char)('a' + n % 26);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a->fds) != 0)
        return -1;
    ev_timer_init(&a->timer, cmp_on_timer, 0.001, 0.);
    a->timer.data = a;
    ev_timer_start(loop, &a->timer);
    ev_io_init(&a->io, cmp_on_read, a->fds[1], EV_READ);
    a->io.data = a;
    ev_io_start(loop, &a->io);
    return write(a->fds[0], &a->sent, 1) == 1 ? 0 : -1;
}

static inline int cmp_async_done(const cmp_async *a) {
    return a->fired == 1 && a->got == 1;
}

static inline int cmp_async_ok(const cmp_async *a) {
    return cmp_async_done(a) && a->byte == a->sent;
}

static inline void cmp_async_close(cmp_async *a) {
    close(a->fds[0]);
    close(a->fds[1]);
}

/* The same work on a loop made for this call: what a test in a framework without a loop has to do.
 * Returns 1 if the timer fired once and the byte came back. */
static inline int cmp_async_fresh_loop(int n) {
    struct ev_loop *loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
    if (!loop)
        return 0;
    cmp_async a;
    int ok = cmp_async_start(loop, &a, n) == 0;
    if (ok) {
        ev_run(loop, 0); /* until both watchers have stopped: the timer after firing, the reader itself */
        ok = cmp_async_ok(&a);
    }
    ev_timer_stop(loop, &a.timer);
    ev_io_stop(loop, &a.io);
    cmp_async_close(&a);
    ev_loop_destroy(loop);
    return ok;
}

/* ---- cpu: about 2 ms of a dependent multiply chain, which nothing can fold or vectorize ---- */
#ifndef CMP_BURN_ITERS
#define CMP_BURN_ITERS 1800000L
#endif

static inline uint64_t cmp_burn(int n) {
    uint64_t h = 14695981039346656037ull ^ (uint64_t)(cmp_seed + n);
    for (long i = 0; i < CMP_BURN_ITERS; i++) {
        h ^= (uint64_t)i & 0xff;
        h *= 1099511628211ull;
    }
    return h;
}

#endif
