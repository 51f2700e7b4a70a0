/* meta_misuse.c — misuse of ac_clock_advance and of the ac_mock_arg_* accessors is reported at the line
 * that misused them (fixtures/misuse_fail.c), as a fatal assertion with a message that says what was
 * wrong. The fixture prints the line of each misuse before it happens; the report must cite that line. */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fixture's test misuse.`name` fails once, fatally, with `message`, at the line it printed. */
static void misuse_at_its_line(const char *name, const char *message) {
    char filter[128], full[128];
    snprintf(filter, sizeof filter, "--filter=misuse.%s", name);
    snprintf(full, sizeof full, "misuse.%s", name);
    const char *args[] = {filter, NULL};
    fixture_run r;
    fixture_tap(&r, FIXTURE_MISUSE, args, NULL);
    const tap_point *pt = point(&r, full);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "assertion");
    AC_EXPECT_STR_EQ(field(pt, "  message: "), message);
    AC_EXPECT_STR_CONTAINS(field(pt, "    file: "), "misuse_fail.c");
    int printed = atoi(field(pt, "  stdout: "));
    AC_EXPECT_GT(printed, 0);
    AC_EXPECT_EQ(atoi(field(pt, "    line: ")), printed);
    AC_EXPECT_NULL(pt->yaml ? strstr(pt->yaml, "  failures:") : NULL); /* one failure */
    fixture_done(&r);
}

AC_TEST(meta_misuse, advancing_the_real_clock_is_reported_at_the_call) {
    misuse_at_its_line("advance_the_real_clock", "ac_clock_advance needs a virtual or manual clock");
}

AC_TEST(meta_misuse, advancing_by_a_bad_amount_is_refused_at_the_call) {
    misuse_at_its_line("advance_backwards",
                       "ac_clock_advance: cannot move the clock by -0.5 s (finite and >= 0 only)");
    misuse_at_its_line("advance_by_nan",
                       "ac_clock_advance: cannot move the clock by nan s (finite and >= 0 only)");
}

AC_TEST(meta_misuse, a_mock_argument_that_does_not_exist_is_reported_at_the_accessor) {
    misuse_at_its_line("arg_out_of_range", "f has 2 parameters: no argument 2");
    misuse_at_its_line("arg_index_of_no_parameter", "f has no parameter named nope");
}

AC_TEST(meta_misuse, a_mock_argument_of_another_kind_is_reported_at_the_accessor) {
    misuse_at_its_line("arg_of_another_kind", "argument 0 of f is a int, not a string (const char *)");
    misuse_at_its_line("arg_of_another_kind_in_an_effect", "argument 1 of f is a string, not floating point");
}
