/* meta_mocks.c — every way a mock reports a problem, checked through the TAP of fixtures/mocks.c:
 * message, got and expected exactly as a user reads them. */
#include "meta.h"

#include <stdio.h>
#include <string.h>

static const tap_point *run_mock(fixture_run *r, const char *name) {
    char filter[128];
    snprintf(filter, sizeof filter, "--filter=mocks.%s", name);
    const char *args[] = {filter, NULL};
    fixture_tap(r, FIXTURE_MOCKS, args, NULL);
    char full[128];
    snprintf(full, sizeof full, "mocks.%s", name);
    const tap_point *pt = point(r, full);
    AC_ASSERT_FALSE(pt->ok); /* every test in the fixture fails */
    return pt;
}

/* The fixture's test fails with exactly this message, got and expected ("" for absent). */
static void check(const char *name, const char *message, const char *got, const char *expected) {
    fixture_run r;
    const tap_point *pt = run_mock(&r, name);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), message);
    AC_EXPECT_STR_EQ(field(pt, "  got: "), got);
    AC_EXPECT_STR_EQ(field(pt, "  expected: "), expected);
    AC_EXPECT_STR_CONTAINS(field(pt, "    file: "), "mocks.c");
    fixture_done(&r);
}

AC_TEST(meta_mocks, unexpected_call_prints_the_call_and_the_expectations) {
    check("unexpected_call", "unexpected call #1 of f", "f(2, 0.5)", "f(1, 0..1) 1 time (matched 1)");
}

AC_TEST(meta_mocks, unmet_expectation_lists_what_was_called) {
    check("unmet_expectation", "unmet expectation: put(\"k\", any) 2 times (matched 1)", "#0 put(\"k\", 1)",
          "put(\"k\", any) 2 times (matched 1)");
}

AC_TEST(meta_mocks, calls_out_of_order) {
    check("out_of_order", "send_msg called out of order: expected after open_conn(...) 1 time (matched 0)",
          "send_msg(\"too early\")", "send_msg(...) 1 time (matched 1)");
}

AC_TEST(meta_mocks, bad_prototypes_name_the_column) {
    check("bad_prototype_missing_paren",
          "ac_mock_new: bad prototype \"int f(int a, char\" at column 18: expected a parameter name, ',' or "
          "')', "
          "found the end",
          "", "");
    check("bad_prototype_unknown_type",
          "ac_mock_new: bad prototype \"int f(widget *w)\" at column 7: unknown type 'widget' (register it "
          "with "
          "ac_mock_typedef)",
          "", "");
    check("bad_prototype_struct_by_value",
          "ac_mock_new: bad prototype \"int f(struct point p)\" at column 7: a struct passed by value is not "
          "supported (pass a pointer)",
          "", "");
    check("bad_prototype_variadic",
          "ac_mock_new: bad prototype \"int printf(const char *fmt, ...)\" at column 29: variadic functions "
          "('...') are not supported",
          "", "");
    fixture_run r;
    const tap_point *pt = run_mock(&r, "bad_prototype_missing_paren");
    AC_EXPECT_STR_EQ(field(pt, "  stdout: "), ""); /* fatal: the test stopped there */
    fixture_done(&r);
}

AC_TEST(meta_mocks, completions_that_do_not_fit_the_prototype) {
    check(
        "bad_completion_no_such_callback",
        "ac_mock_on_call_complete(http_get, \"done(200, NULL, $ud)\"): http_get has no parameter named done",
        "", "");
    check("bad_completion_argument_count",
          "ac_mock_on_call_complete(http_get, \"cb(200, $ud)\"): the callback takes 3 arguments, the "
          "completion "
          "gives 2",
          "", "");
    check("bad_completion_type",
          "ac_mock_on_call_complete(http_get, \"cb(\\\"200\\\", NULL, $ud)\"): argument 1 does not fit the "
          "callback's int "
          "parameter",
          "", "");
}

AC_TEST(meta_mocks, bad_errno_names_in_completions_are_named) {
    check("bad_completion_unknown_negative_errno",
          "ac_mock_on_call_complete(http_get): bad completion \"cb(-EAGIAN, NULL, $ud)\" at column 5: "
          "unknown errno "
          "name 'EAGIAN' (give its number, or use ac_mock_on_call_completef with %d)",
          "", "");
    check("bad_completion_unknown_errno",
          "ac_mock_on_call_complete(http_get): bad completion \"cb(ETIMEOUT, NULL, $ud)\" at column 4: "
          "unknown errno "
          "name 'ETIMEOUT' (give its number, or use ac_mock_on_call_completef with %d)",
          "", "");
    check("bad_completion_minus_without_errno",
          "ac_mock_on_call_complete(http_get): bad completion \"cb(-\"x\", NULL, $ud)\" at column 5: "
          "expected an "
          "errno name after '-', found '\"x\"'",
          "", "");
}

AC_TEST(meta_mocks, a_callback_completed_twice_is_caught_by_the_code_under_test) {
    check("callback_completed_twice", "AC_EXPECT_EQ(*calls, 1) failed", "2", "1");
}

AC_TEST(meta_mocks, completions_still_held_at_the_end) {
    check("completion_still_held",
          "http_get: 1 completion still held at the end of the test (ac_deliver_held): deliver with "
          "ac_mock_deliver_next",
          "cb(200, \"ok\", $ud) for call #0", "");
}

AC_TEST(meta_mocks, a_completion_that_never_comes_times_out_the_await) {
    /* nothing is left that could deliver it: the await fails at once, without waiting out its limit */
    check("never_completes_so_the_await_times_out", "the loop went idle while waiting for calls == 1", "",
          "");
}

AC_TEST(meta_mocks, call_assertions_print_the_calls) {
    check("assert_called_shows_the_calls", "AC_ASSERT_CALLED(m, 1) failed: put was called 2 times",
          "#0 put(\"a\", 1); #1 put(\"b\", 2)", "1 call");
    check("assert_called_with_shows_the_calls",
          "AC_ASSERT_CALLED_WITH(m, ac_str(\"a\"), ac_eq(2)) failed: no call of put matched",
          "#0 put(\"a\", 1)", "put(\"a\", 2)");
}

AC_TEST(meta_mocks, a_null_callback_is_reported) {
    check("null_callback_cannot_complete",
          "http_get: cannot complete call #0 with cb(200, \"ok\", $ud): its callback cb is NULL",
          "http_get(\"u\", NULL, NULL)", "");
}

AC_TEST(meta_mocks, a_skipped_test_is_not_failed_for_what_it_left_pending) {
    fixture_run r;
    const char *args[] = {"--filter=mocks_skip.*", NULL};
    fixture_tap(&r, FIXTURE_MOCKS, args, NULL);
    const tap_point *pt = point(&r, "mocks_skip.skip_with_pending_expectations");
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_STR_EQ(pt->directive, "SKIP the service is not configured");
    fixture_done(&r);
}

AC_TEST(meta_mocks, await_calls_shows_the_calls_made) {
    check("await_calls_times_out_showing_the_calls", "the loop went idle while waiting for 2 calls of put",
          "#0 put(\"a\", 1)", "");
}
