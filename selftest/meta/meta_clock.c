/* meta_clock.c — virtual time's failures, each reported as what it is (fixtures/clock_fail.c): a
 * virtual deadline is an assertion about simulated time, the real-time watchdog a killed test; a
 * manual clock that cannot move is a deadlock found at once; plus --clock and determinism. */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const tap_point *run_clock(fixture_run *r, const char *name, const char *extra) {
    const char *const extras[] = {extra, NULL};
    return fixture_point(r, FIXTURE_CLOCK, name, extras, NULL);
}

static void check(const char *name, const char *type, const char *message) {
    fixture_run r;
    const tap_point *pt = run_clock(&r, name, NULL);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), type);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), message);
    /* found at once, not after the 30 s timeout (2 s, scaled like timeouts for slow builds: sanitizers) */
    const char *mult = getenv("AC_TIMEOUT_MULTIPLIER");
    double scale = mult && atof(mult) > 1 ? atof(mult) : 1.0;
    AC_EXPECT_LT(atof(field(pt, "  duration_ms: ")), 2000.0 * scale);
    fixture_done(&r);
}

AC_TEST(meta_clock, a_virtual_deadline_is_an_assertion_found_at_once) {
    check("clock_fail.virtual_deadline", "assertion",
          "virtual deadline: nothing made never true within 30.000 s of virtual time");
}

AC_TEST(meta_clock, the_real_time_watchdog_is_a_distinct_outcome) {
    fixture_run r;
    const tap_point *pt = run_clock(&r, "clock_fail.real_watchdog", NULL);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "timeout");
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "),
                           "(limit 0.300 s) in body; the test's process group was killed");
    fixture_done(&r);
}

AC_TEST(meta_clock, a_manual_clock_that_cannot_move_is_a_deadlock) {
    check(
        "clock_fail.manual_deadlock", "assertion",
        "deadlock under the manual clock: nothing is ready and time moves only with ac_clock_advance, while "
        "waiting for fired == 1");
}

AC_TEST(meta_clock, completing_too_early) {
    check("clock_fail.completes_too_early", "assertion",
          "fired == 1 became true after 5.000 s, before 10.000 s had passed");
}

AC_TEST(meta_clock, the_drain_under_virtual_clocks) {
    check(
        "clock_fail.drain_under_manual", "watchers",
        "1 watcher started by the test still active after the body returned, and the manual clock moves only "
        "with ac_clock_advance");
    check("clock_fail.drain_forever", "watchers",
          "1 watcher started by the test still active after a day of virtual time since the body returned");
}

AC_TEST(meta_clock, advancing_the_real_clock_is_refused) {
    check("clock_fail.advance_under_the_real_clock", "assertion",
          "ac_clock_advance needs a virtual or manual clock");
}

AC_TEST(meta_clock, the_run_clock_applies_to_tests_without_one) {
    fixture_run r;
    const tap_point *pt = run_clock(&r, "clock_ok.an_hour_with_the_run_clock", "--clock=virtual");
    AC_EXPECT_TRUE(pt->ok);
    fixture_done(&r);
    const char *argv[] = {FIXTURE_CLOCK, "--clock", "sundial", NULL};
    proc p;
    run_process(argv, NULL, &p);
    AC_EXPECT_EQ(p.status, 2);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.err), "--clock: 'sundial' is not one of real, virtual, manual");
    proc_free(&p);
}

AC_TEST(meta_clock, the_same_inputs_give_the_same_ev_now_sequence) {
    ac__buf first = {0};
    for (int run = 0; run < 3; run++) {
        const char *argv[] = {FIXTURE_CLOCK, "--filter=clock_ok.ev_now_sequence", "-v", NULL};
        proc p;
        run_process(argv, NULL, &p);
        AC_ASSERT_EQ(p.status, 0);
        const char *seq = strstr(ac__buf_str(&p.out), "--- stdout ---");
        AC_ASSERT_NOT_NULL(seq);
        const char *end = strstr(seq, "ran 1 test");
        AC_ASSERT_NOT_NULL(end);
        if (run == 0) {
            ac__buf_append(&first, seq, (size_t)(end - seq));
            AC_EXPECT_STR_CONTAINS(ac__buf_str(&first), "| 4102444800.333001"); /* 1 us past 0.333 */
        } else {
            ac__buf again = {0};
            ac__buf_append(&again, seq, (size_t)(end - seq));
            AC_EXPECT_STR_EQ(ac__buf_str(&again), ac__buf_str(&first));
            ac__buf_free(&again);
        }
        proc_free(&p);
    }
    ac__buf_free(&first);
}

AC_TEST(meta_clock, a_sleep_in_a_callback_is_reported_under_virtual_time) {
    fixture_run r;
    const tap_point *pt = run_clock(&r, "clock_fail.sleeps_in_a_callback", NULL);
    AC_EXPECT_FALSE(pt->ok);
    /* the virtual clock's own usleep is not named: the code that called it is */
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "), "blocking sleep: usleep(200000) called by naps+0x");
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "), ", in callback naps (");
    AC_EXPECT_STR_EQ(field(pt, "    - message: "), ""); /* the only failure: the time check passed */
    fixture_done(&r);
}

/* The autojump threshold is a real-time limit: AC_TIMEOUT_MULTIPLIER scales it like the others (a worker
 * 30 ms late misses a 5 ms threshold, and makes it scaled 100-fold). */
AC_TEST(meta_clock, the_autojump_threshold_is_scaled_by_the_timeout_multiplier) {
    const char *unscaled[] = {"AC_TIMEOUT_MULTIPLIER=1", NULL};
    fixture_run r;
    const char *name = "clock_fail.a_worker_slower_than_the_autojump_threshold";
    const tap_point *pt = fixture_point(&r, FIXTURE_CLOCK, name, NULL, unscaled);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "virtual deadline: nothing made results == 1 true within 1.000 s of virtual time");
    fixture_done(&r);
    const char *scaled[] = {"AC_TIMEOUT_MULTIPLIER=100", NULL};
    pt = fixture_point(&r, FIXTURE_CLOCK, name, NULL, scaled);
    AC_EXPECT_TRUE(pt->ok);
    fixture_done(&r);
}
