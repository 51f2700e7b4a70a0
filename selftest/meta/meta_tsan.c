/* meta_tsan.c — ThreadSanitizer's reports seen from outside, through the TAP and JUnit of
 * fixtures/tsan_race.c (built only with ASYNCHECK_TSAN=ON): a data race fails the test that made it, as
 * a failure of type "sanitizer" with TSan's report in the test's stderr, forked and in-process; the
 * fixed twins, which hand the result over through ev_async, pass with nothing from TSan. Without the
 * runner's check a race would pass: TSan only prints, and a forked test's exit status after its "done"
 * record does not count. */
#include "meta.h"

#include <stdio.h>
#include <string.h>

#define RACE_MESSAGE "ThreadSanitizer reported a data race (the report is in the test's stderr)"

static const char *const racy[] = {"tsan_race.result_polled_by_a_timer",
                                   "tsan_race.result_written_after_the_send"};
static const char *const fixed[] = {"tsan_race.result_handed_over_by_ev_async",
                                    "tsan_race.result_handed_over_under_a_mutex",
                                    "tsan_race.result_published_with_release_and_acquire"};

static const tap_point *run_one(fixture_run *r, const char *name) {
    return fixture_point(r, FIXTURE_TSAN, name, NULL, NULL);
}

/* The one failure of a racy test, and the report that names both sides of the race. */
static void check_race(fixture_run *r, const char *name, const char *reader, const char *writer) {
    const tap_point *pt = point(r, name);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "sanitizer");
    AC_EXPECT_STR_EQ(field(pt, "  message: "), RACE_MESSAGE);
    AC_EXPECT_STR_EQ(field(pt, "  phase: "), "end");
    AC_EXPECT_STR_CONTAINS(field(pt, "    file: "), "tsan_race.c");
    AC_EXPECT_NULL(pt->yaml ? strstr(pt->yaml, "  failures:") : NULL);
    const char *err = field(pt, "  stderr: ");
    AC_EXPECT_STR_CONTAINS(err, "WARNING: ThreadSanitizer: data race");
    AC_EXPECT_STR_CONTAINS(err, reader);
    AC_EXPECT_STR_CONTAINS(err, writer);
}

static void check_pass(fixture_run *r, const char *name) {
    const tap_point *pt = point(r, name);
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_NULL(strstr(field(pt, "  stderr: "), "ThreadSanitizer"));
}

AC_TEST(meta_tsan, a_timer_polling_a_workers_result_is_a_race_that_fails_the_test) {
    fixture_run r;
    run_one(&r, racy[0]);
    AC_EXPECT_EQ(r.p.status, 1);
    check_race(&r, racy[0], "poll_result", "compute_unsynchronised");
    ac__buf type = {0};
    xpath(r.junit, "string(//testcase[@name='result_polled_by_a_timer']/failure/@type)", &type);
    AC_EXPECT_STR_EQ(ac__buf_str(&type), "sanitizer");
    ac__buf_free(&type);
    fixture_done(&r);
}

AC_TEST(meta_tsan, a_write_after_the_ev_async_send_is_a_race) {
    fixture_run r;
    run_one(&r, racy[1]);
    AC_EXPECT_EQ(r.p.status, 1);
    check_race(&r, racy[1], "take_late", "send_then_compute");
    fixture_done(&r);
}

AC_TEST(meta_tsan, handing_the_result_over_through_ev_async_passes) {
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        fixture_run r;
        run_one(&r, fixed[i]);
        AC_EXPECT_EQ(r.p.status, 0);
        check_pass(&r, fixed[i]);
        fixture_done(&r);
    }
}

/* The whole fixture, forked in parallel and then in one process: each race fails only its own test. In
 * one process TSan itself ends it, at exit, with its own status 66 (it reported). */
static void whole_fixture(const char *mode, int status) {
    fixture_run r;
    const char *args[] = {mode, NULL};
    fixture_tap(&r, FIXTURE_TSAN, args, NULL);
    AC_EXPECT_EQ(r.p.status, status);
    AC_EXPECT_EQ(r.tap.n, 5u);
    check_race(&r, racy[0], "poll_result", "compute_unsynchronised");
    check_race(&r, racy[1], "take_late", "send_then_compute");
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        check_pass(&r, fixed[i]);
    fixture_done(&r);
}

AC_TEST(meta_tsan, whole_fixture_forked) {
    whole_fixture("-j2", 1);
}

AC_TEST(meta_tsan, whole_fixture_in_process) {
    whole_fixture("--no-fork", 66);
}
