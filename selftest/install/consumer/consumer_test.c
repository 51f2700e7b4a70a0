/* consumer_test.c — a user's test file with no main(): built against an installed asyncheck, through
 * pkg-config and through find_package(asyncheck). */
#include <asyncheck.h>

static void fire(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    *(int *)w->data = 1;
}

AC_TEST(consumer, awaits_a_timer) {
    int fired = 0;
    ev_timer timer;
    ev_timer_init(&timer, fire, 0.01, 0.);
    timer.data = &fired;
    ev_timer_start(ac_loop(t), &timer);
    AC_AWAIT(t, fired, 1.0);
    AC_ASSERT_EQ(fired, 1);
}
