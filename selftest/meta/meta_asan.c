/* meta_asan.c — AddressSanitizer's and UBSan's reports seen from outside, through the TAP of
 * fixtures/asan_fail.c (built only in an ASan build): a use after free in a callback and a signed overflow
 * in a callback each fail their test with one failure of type "sanitizer" naming the sanitizer's summary,
 * the report itself in the test's stderr; the fixed twins pass. Without the runner's check a use after
 * free ends the test's process ("exited unexpectedly with status 1"), and a UBSan report that recovers
 * passes unnoticed. Forked only: under --no-fork ASan ends the whole run. */
#include "meta.h"

#include <stdio.h>
#include <string.h>

static const tap_point *run_one(fixture_run *r, const char *name) {
    return fixture_point(r, FIXTURE_ASAN, name, NULL, NULL);
}

/* The one failure of a buggy test: the sanitizer's summary, where it happened, and the full report. */
static void check_report(const char *name, const char *summary, const char *where, const char *report) {
    fixture_run r;
    const tap_point *pt = run_one(&r, name);
    AC_EXPECT_EQ(r.p.status, 1);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "sanitizer");
    const char *msg = field(pt, "  message: ");
    AC_EXPECT_EQ(strncmp(msg, summary, strlen(summary)), 0);
    AC_EXPECT_STR_CONTAINS(msg, where);
    AC_EXPECT_STR_CONTAINS(msg, "(the report is in the test's stderr)");
    AC_EXPECT_STR_CONTAINS(field(pt, "    file: "), "asan_fail.c");
    AC_EXPECT_NULL(pt->yaml ? strstr(pt->yaml, "  failures:") : NULL); /* one failure, not an exit too */
    AC_EXPECT_STR_CONTAINS(field(pt, "  stderr: "), report);
    fixture_done(&r);
}

static void check_pass(const char *name) {
    fixture_run r;
    const tap_point *pt = run_one(&r, name);
    AC_EXPECT_EQ(r.p.status, 0);
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_NULL(strstr(field(pt, "  stderr: "), "Sanitizer"));
    fixture_done(&r);
}

AC_TEST(meta_asan, a_use_after_free_in_a_callback_fails_the_test_with_asans_summary) {
    check_report("asan.use_after_free_in_a_callback", "AddressSanitizer: heap-use-after-free ",
                 "in on_reply_buggy", "ERROR: AddressSanitizer: heap-use-after-free");
    check_pass("asan.freed_only_after_the_last_touch");
}

AC_TEST(meta_asan, undefined_behaviour_in_a_callback_fails_the_test_with_ubsans_summary) {
    check_report("asan.signed_overflow_in_a_callback", "UndefinedBehaviorSanitizer: ", "asan_fail.c",
                 "signed integer overflow");
    check_pass("asan.no_overflow_in_a_callback");
}
