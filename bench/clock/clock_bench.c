/* clock_bench.c — 100 tests, each waiting through 30 s of timers (a 1 s timer, 30 times), with no clock
 * of their own: bench/run.sh runs them under --clock virtual and (a few of them) --clock real. A
 * benchmark, never a ctest test. */
#include <asyncheck.h>

static void tick(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)revents;
    int *n = w->data;
    if (++*n == 30)
        ev_timer_stop(loop, w);
}

#define WAIT_30S(s, n)                                                                                       \
    AC_TEST(s, n, .timeout = 60) {                                                                           \
        ev_timer timer;                                                                                      \
        int ticks = 0;                                                                                       \
        ev_timer_init(&timer, tick, 1., 1.);                                                                 \
        timer.data = &ticks;                                                                                 \
        ev_timer_start(ac_loop(t), &timer);                                                                  \
        AC_AWAIT(t, ticks == 30, 45);                                                                        \
    }
#define TEN(s)                                                                                               \
    WAIT_30S(s, t0)                                                                                          \
    WAIT_30S(s, t1)                                                                                          \
    WAIT_30S(s, t2)                                                                                          \
    WAIT_30S(s, t3)                                                                                          \
    WAIT_30S(s, t4)                                                                                          \
    WAIT_30S(s, t5)                                                                                          \
    WAIT_30S(s, t6)                                                                                          \
    WAIT_30S(s, t7)                                                                                          \
    WAIT_30S(s, t8)                                                                                          \
    WAIT_30S(s, t9)

TEN(c0)
TEN(c1)
TEN(c2)
TEN(c3)
TEN(c4)
TEN(c5)
TEN(c6)
TEN(c7)
TEN(c8)
TEN(c9)
