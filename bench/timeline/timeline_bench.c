/* timeline_bench.c — the timeline's cost per event, for bench/timeline.sh: one test recording 1,000,000
 * notes (ac_note), one dispatching 200,000 idle callbacks (each recorded, with its CPU time). Run with
 * --no-fork, with and without AC_TIMELINE=off; the difference divided by the count is the cost of one
 * event. */
#include <asyncheck.h>

enum { NOTES = 1000000, CALLBACKS = 200000 };

static void on_idle(struct ev_loop *loop, ev_idle *w, int revents) {
    (void)revents;
    static int n;
    if (++n == CALLBACKS)
        ev_idle_stop(loop, w);
}

AC_TEST(timeline_bench, notes) {
    for (int i = 0; i < NOTES; i++)
        ac_note(t, "note %d", i);
}

AC_TEST(timeline_bench, callbacks, .allow = AC_ALLOW_SLOW_CALLBACKS) {
    ev_idle w;
    ev_idle_init(&w, on_idle);
    ev_idle_start(ac_loop(t), &w);
    AC_AWAIT(t, !ev_is_active(&w), 60.0);
}
