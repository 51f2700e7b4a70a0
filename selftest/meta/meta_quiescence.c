/* meta_quiescence.c — fixtures/quiescence_fail.c seen from outside, through its TAP and its human report:
 * an await on an idle loop failing at once (in real and in virtual time), AC_ASSERT_IDLE / AC_EXPECT_IDLE
 * and .drain = false listing the watcher left with where it was started, failures inside a mock's
 * completion named after the mock and its call, drain failures counting exactly what they list, a
 * multi-line "got" indented in the human report, and properties formatting their values. Code offsets are
 * checked by their shape. */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits are exact: no multiplier from the caller's environment. */
static const char *const clean_env[] = {"AC_TIMEOUT_MULTIPLIER", NULL};

static const tap_point *run_one(fixture_run *r, const char *name) {
    return fixture_point(r, FIXTURE_QUIESCENCE, name, NULL, clean_env);
}

/* The single failure of a failing test, with its message and type. */
static const tap_point *failing(fixture_run *r, const char *name, const char *type, const char *message) {
    const tap_point *pt = run_one(r, name);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_EQ(r->p.status, 1);
    AC_EXPECT_NULL(pt->yaml ? strstr(pt->yaml, "  failures:") : NULL);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), type);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), message);
    AC_EXPECT_STR_CONTAINS(field(pt, "    file: "), "quiescence_fail.c");
    return pt;
}

/* `s` is `prefix`, a hex number, then `suffix`: a code offset checked by its shape. */
static void offset_between(const char *s, const char *prefix, const char *suffix) {
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0) {
        AC_FAIL_LATER("\"%s\" does not start with \"%s\"", s, prefix);
        return;
    }
    const char *p = s + n;
    char *end;
    strtoul(p, &end, 16);
    AC_EXPECT_GT(end - p, 0);
    AC_EXPECT_STR_EQ(end, suffix);
}

/* ---- AC_AWAIT on an idle loop ---- */

AC_TEST(meta_quiescence, an_await_on_an_idle_loop_fails_at_once) {
    fixture_run r;
    const tap_point *pt = failing(&r, "quiescence.await_on_an_idle_loop", "assertion",
                                  "the loop went idle while waiting for never");
    AC_EXPECT_STR_EQ(field(pt, "  got: "), "");
    AC_EXPECT_LT(atof(field(pt, "  duration_ms: ")), 1000.0); /* not its 5 s limit */
    fixture_done(&r);
}

AC_TEST(meta_quiescence, an_await_fails_once_the_last_timer_has_fired) {
    fixture_run r;
    const tap_point *pt = failing(&r, "quiescence.await_after_the_last_timer_fired", "assertion",
                                  "the loop went idle while waiting for ticks == 2");
    AC_EXPECT_LT(atof(field(pt, "  duration_ms: ")), 1000.0);
    fixture_done(&r);
}

AC_TEST(meta_quiescence, under_the_virtual_clock_it_fails_before_time_jumps) {
    fixture_run r;
    const tap_point *pt = failing(&r, "quiescence_virtual.await_on_an_idle_loop", "assertion",
                                  "the loop went idle while waiting for never");
    AC_EXPECT_STR_EQ(field(pt, "  stdout: "), "virtual elapsed 0.000\n"); /* not the await's 3600 s */
    fixture_done(&r);
}

AC_TEST(meta_quiescence, a_completion_held_for_the_test_leaves_the_loop_idle) {
    fixture_run r;
    const tap_point *pt = failing(&r, "quiescence.await_with_a_completion_held", "assertion",
                                  "the loop went idle while waiting for status == 0");
    AC_EXPECT_STR_EQ(field(pt, "  got: "), "1 completion of send held (only the test can deliver them)");
    fixture_done(&r);
}

/* ---- AC_ASSERT_IDLE / AC_EXPECT_IDLE and .drain = false ---- */

#define FORGOTTEN "ev_timer after=5.0 repeat=0.0, callback nothing, started at start_request+0x"

AC_TEST(meta_quiescence, assert_idle_lists_the_watcher_left_and_ends_the_test) {
    fixture_run r;
    const tap_point *pt = failing(&r, "quiescence_idle.assert_idle_lists_the_watcher_left", "assertion",
                                  "AC_ASSERT_IDLE(t) failed: 1 watcher started by the test is still active");
    offset_between(field(pt, "  got: "), FORGOTTEN, "");
    AC_EXPECT_STR_EQ(field(pt, "  stdout: "), "");
    fixture_done(&r);
}

AC_TEST(meta_quiescence, expect_idle_records_and_carries_on) {
    fixture_run r;
    const tap_point *pt = failing(&r, "quiescence_idle.expect_idle_carries_on", "assertion",
                                  "AC_EXPECT_IDLE(t) failed: 1 watcher started by the test is still active");
    offset_between(field(pt, "  got: "), FORGOTTEN, "");
    AC_EXPECT_STR_EQ(field(pt, "  stdout: "), "carried on\n"); /* and the second AC_EXPECT_IDLE held */
    fixture_done(&r);
}

AC_TEST(meta_quiescence, without_the_drain_a_watcher_left_fails_the_test) {
    fixture_run r;
    const tap_point *pt = failing(&r, "quiescence_idle.no_drain_finds_the_timer_left", "watchers",
                                  "1 watcher started by the test still active when the body returned (.drain "
                                  "= false: stop it before returning, or AC_AWAIT what must finish)");
    AC_EXPECT_STR_EQ(field(pt, "  phase: "), "body");
    offset_between(field(pt, "  got: "), FORGOTTEN, "");
    fixture_done(&r);
}

AC_TEST(meta_quiescence, without_the_drain_a_completion_still_due_fails_the_test) {
    fixture_run r;
    const tap_point *pt = failing(&r, "quiescence_idle.no_drain_finds_a_completion_due", "watchers",
                                  "1 mock completion still due when the body returned (.drain = false: "
                                  "AC_AWAIT what must finish)");
    AC_EXPECT_STR_EQ(field(pt, "  got: "), "the completion of send() call #0, due 0.5 s after the call");
    fixture_done(&r);
}

AC_TEST(meta_quiescence, with_the_drain_the_same_timer_runs_out_unnoticed) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "quiescence_idle.the_drain_runs_the_same_timer_out");
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_EQ(r.p.status, 0);
    fixture_done(&r);
}

/* ---- failures inside a mock's completion ---- */

AC_TEST(meta_quiescence, a_property_false_in_a_completion_names_the_mock_and_call) {
    fixture_run r;
    failing(&r, "quiescence_mock.a_property_false_in_a_completion", "assertion",
            "AC_ALWAYS(status == 0, \"send succeeds\") was false in the completion of send() call #0");
    fixture_done(&r);
}

AC_TEST(meta_quiescence, a_sleep_in_a_completion_names_the_code_and_the_completion) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "quiescence_mock.a_sleep_in_a_completion");
    AC_EXPECT_FALSE(pt->ok);
    offset_between(field(pt, "  message: "), "blocking sleep: usleep(1000) called by on_sent_naps+0x",
                   ", in the completion of send() call #0");
    fixture_done(&r);
}

/* ---- drain failures count what they list ---- */

AC_TEST(meta_quiescence, a_completion_still_due_is_not_counted_as_the_tests) {
    fixture_run r;
    const tap_point *pt = failing(&r, "quiescence_count.a_leaked_timer_while_a_completion_is_due", "watchers",
                                  "1 watcher started by the test still active when its 0.300 s timeout ran "
                                  "out after the body returned");
    const char *got = field(pt, "  got: ");
    AC_EXPECT_TRUE(strncmp(got, "ev_timer after=0.05 repeat=0.05, callback nothing, started ", 59) == 0);
    AC_EXPECT_NULL(strchr(got, '\n')); /* one line for the one watcher counted */
    fixture_done(&r);
}

AC_TEST(meta_quiescence, a_completion_alone_is_named_as_asyncheck_s_own) {
    fixture_run r;
    const tap_point *pt = failing(&r, "quiescence_count.only_a_completion_is_due", "watchers",
                                  "1 watcher of asyncheck's own (a mock's completion, a scripted peer) still "
                                  "active when its 0.300 s timeout ran out after the body returned");
    AC_EXPECT_STR_EQ(field(pt, "  got: "), "the completion of send() call #0, due 30 s after the call");
    fixture_done(&r);
}

/* ---- the human report ---- */

AC_TEST(meta_quiescence, a_multi_line_got_is_indented_on_every_line) {
    proc p;
    const char *argv[] = {FIXTURE_QUIESCENCE, "--filter=quiescence_report.two_watchers_left", NULL};
    run_process(argv, clean_env, &p);
    AC_EXPECT_EQ(p.status, 1);
    const char *out = ac__buf_str(&p.out);
    const char *got = strstr(out, "\n        got:      ev_timer after=5.0 repeat=0.0, callback nothing, "
                                  "started at ac__body_quiescence_report__two_watchers_left+0x");
    AC_ASSERT_NOT_NULL(got);
    const char *second = strchr(got + 1, '\n');
    AC_ASSERT_NOT_NULL(second);
    AC_EXPECT_EQ(strncmp(second, "\n                  ev_timer after=6.0 repeat=0.0, callback nothing, ", 66),
                 0);
    proc_free(&p);
}

/* ---- properties with values ---- */

AC_TEST(meta_quiescence, always_shows_its_formatted_values_and_keeps_its_literal_name) {
    fixture_run r;
    const tap_point *pt =
        failing(&r, "quiescence_props.always_prints_its_values", "assertion",
                "AC_ALWAYS(n <= cap, \"queue bounded: n=%d cap=%d\") was false in the test body");
    AC_EXPECT_STR_EQ(field(pt, "  got: "), "queue bounded: n=7 cap=5");
    fixture_done(&r);
}

AC_TEST(meta_quiescence, unreachable_shows_its_formatted_values) {
    fixture_run r;
    const tap_point *pt =
        failing(&r, "quiescence_props.unreachable_prints_its_values", "assertion",
                "AC_UNREACHABLE(\"write after close (state %s)\") was reached in the test body");
    AC_EXPECT_STR_EQ(field(pt, "  got: "), "write after close (state closed)");
    fixture_done(&r);
}

AC_TEST(meta_quiescence, a_message_without_arguments_is_not_a_format) {
    fixture_run r;
    const tap_point *pt =
        failing(&r, "quiescence_props.a_message_without_arguments_is_not_a_format", "assertion",
                "AC_ALWAYS(0, \"100% of requests answered\") was false in the test body");
    AC_EXPECT_STR_EQ(field(pt, "  got: "), "");
    fixture_done(&r);
}
