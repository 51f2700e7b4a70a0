/* meta_mockseq.c — per-call and computed completions used wrongly (fixtures/mockseq_fail.c), checked
 * through the TAP: each test fails once, with exactly this message (and got), at the line the fixture
 * printed — the caller's line, never asyncheck's own or the mock's creation (except for the end-of-test
 * report of held completions, which names the mock's line as every held report does). */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fixture's test mockseq.`name` fails once with `message` and `got` at the line it printed first;
 * `fatal`: nothing after it ran (its stdout is that line only). A `got` ending in "..." is a prefix (what
 * follows names an address). */
static void fails_at_its_line(const char *name, bool fatal, const char *message, const char *got) {
    char full[128];
    snprintf(full, sizeof full, "mockseq.%s", name);
    fixture_run r;
    const tap_point *pt = fixture_point(&r, FIXTURE_MOCKSEQ, full, NULL, NULL);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "assertion");
    AC_EXPECT_STR_EQ(field(pt, "  message: "), message);
    size_t n = strlen(got);
    if (n >= 3 && strcmp(got + n - 3, "...") == 0)
        AC_EXPECT_EQ(strncmp(field(pt, "  got: "), got, n - 3), 0);
    else
        AC_EXPECT_STR_EQ(field(pt, "  got: "), got);
    AC_EXPECT_STR_CONTAINS(field(pt, "    file: "), "mockseq_fail.c");
    const char *out = field(pt, "  stdout: ");
    int printed = atoi(out);
    AC_EXPECT_GT(printed, 0);
    AC_EXPECT_EQ(atoi(field(pt, "    line: ")), printed);
    if (fatal)
        AC_EXPECT_NULL(strstr(out, "not reached"));
    AC_EXPECT_NULL(pt->yaml ? strstr(pt->yaml, "  failures:") : NULL); /* one failure */
    fixture_done(&r);
}

AC_TEST(meta_mockseq, a_per_call_completion_that_does_not_parse_fails_at_its_line) {
    fails_at_its_line("per_call_completion_that_does_not_parse", true,
                      "ac_mock_on_call_n_complete(job_poll, call #1): bad completion \"cb(\"done\" $ud)\" at "
                      "column 11: expected ',' or ')', found '$'",
                      "");
}

AC_TEST(meta_mockseq, a_per_call_completion_that_does_not_fit_fails_at_its_line) {
    fails_at_its_line(
        "per_call_completion_that_does_not_fit", true,
        "ac_mock_on_call_n_complete(job_poll, call #2, \"cb(1, $ud)\"): argument 1 does not fit "
        "the callback's string parameter",
        "");
    fails_at_its_line("per_call_completionf_that_does_not_fit", true,
                      "ac_mock_on_call_n_complete(job_poll, call #0, \"done(3, $ud)\"): job_poll has no "
                      "parameter named done",
                      "");
}

AC_TEST(meta_mockseq, a_call_given_two_completions_fails_at_the_second) {
    fails_at_its_line("a_call_given_two_completions", true,
                      "ac_mock_on_call_n_complete(job_poll, call #1): call #1 already has its completion, "
                      "cb(\"running\", $ud), from mockseq_fail.c:44 (one per call)",
                      "");
}

AC_TEST(meta_mockseq, a_null_completion_function_fails_at_its_line) {
    fails_at_its_line("a_null_completion_function", true,
                      "ac_mock_on_call_complete_with(store_get): the function is NULL", "");
}

/* Found at delivery, not fatal, cited at the rule's line, naming the call; nothing delivered (the
 * fixture's AC_STAYS_PENDING would add a second failure). */
AC_TEST(meta_mockseq, a_computed_completion_that_does_not_fit_fails_at_delivery_citing_its_rule) {
    fails_at_its_line("a_computed_completion_that_does_not_fit", false,
                      "ac_mock_on_call_complete_with(store_get, call #0, \"cb($ud, \\\"forty-two\\\")\"): "
                      "argument 2 does not fit the callback's int parameter",
                      "store_get(\"k\", 0x...");
    fails_at_its_line("a_computed_completion_that_does_not_parse", false,
                      "ac_mock_on_call_complete_with(store_get, call #0): bad completion \"cb($ud, 42\" at "
                      "column 11: expected ',' or ')', found the end",
                      "store_get(\"k\", 0x...");
}

AC_TEST(meta_mockseq, a_computed_completion_still_held_is_reported_not_computed) {
    fixture_run r;
    const tap_point *pt =
        fixture_point(&r, FIXTURE_MOCKSEQ, "mockseq.a_computed_completion_still_held_at_the_end", NULL, NULL);
    int line = atoi(field(pt, "  stdout: "));
    AC_EXPECT_NULL(strstr(field(pt, "  stdout: "), "computed")); /* never asked for its text */
    fixture_done(&r);
    char got[128];
    snprintf(got, sizeof got, "a completion computed at delivery (mockseq_fail.c:%d) for call #0", line + 1);
    fails_at_its_line("a_computed_completion_still_held_at_the_end", false,
                      "store_get: 1 completion still held at the end of the test (ac_deliver_held): deliver "
                      "with ac_mock_deliver_next",
                      got);
}
