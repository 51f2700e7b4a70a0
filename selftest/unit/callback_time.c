/* callback_time.c — time inside callbacks from inside: --callback-time-max parsed and refused, the command
 * line's value replacing a test's own in a schedule's parameters, and the virtual clock's charge moving
 * ev_time() but not ev_now() (only under the virtual clock). meta_cbtime.c checks it from outside. */
#include <asyncheck.h>
#include <ev.h>
#include <string.h>

#include "clock/clock.h"
#include "runner/runner.h"

static int parse(ac__options *o, const char *const *args, ac__buf *err) {
    char *argv[8] = {"selftest"};
    int argc = 1;
    for (size_t i = 0; args[i] && argc < 7; i++)
        argv[argc++] = (char *)args[i];
    return ac__parse_options(argc, argv, o, err);
}

AC_TEST(callback_time, parsed_in_both_spellings) {
    ac__options o;
    ac__buf err = {0};
    AC_ASSERT_EQ(parse(&o, (const char *const[]){"--callback-time-max", "0.25", NULL}, &err), 0);
    AC_EXPECT_EQ(o.callback_time_max, 0.25);
    ac__options_free(&o);
    AC_ASSERT_EQ(parse(&o, (const char *const[]){"--callback-time-max=2", NULL}, &err), 0);
    AC_EXPECT_EQ(o.callback_time_max, 2.0);
    ac__options_free(&o);
    AC_ASSERT_EQ(parse(&o, (const char *const[]){NULL}, &err), 0);
    AC_EXPECT_EQ(o.callback_time_max, 0.0); /* not given */
    ac__options_free(&o);
    ac__buf_free(&err);
}

AC_TEST(callback_time, nonpositive_or_huge_values_are_refused) {
    const char *bad[] = {"--callback-time-max=0", "--callback-time-max=-1", "--callback-time-max=4000",
                         "--callback-time-max=soon"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ac__options o;
        ac__buf err = {0};
        AC_EXPECT_EQ(parse(&o, (const char *const[]){bad[i], NULL}, &err), -1);
        AC_EXPECT_STR_CONTAINS(ac__buf_str(&err), "is not a positive number of seconds (at most 3600)");
        ac__buf_free(&err);
    }
}

AC_TEST(callback_time, the_command_line_replaces_the_tests_own) {
    ac__test_def def = {.suite = "s", .name = "n", .file = "f.c", .line = 1};
    def.options.callback_time_max = 0.5;
    ac__options o;
    ac__buf err = {0};
    AC_ASSERT_EQ(parse(&o, (const char *const[]){NULL}, &err), 0);
    ac__sched_params p;
    ac__explore_plain_params(&o, &def, &p);
    AC_EXPECT_EQ(p.callback_time, 0.5);
    o.callback_time_max = 0.125;
    ac__explore_plain_params(&o, &def, &p);
    AC_EXPECT_EQ(p.callback_time, 0.125);
    ac__options_free(&o);
    ac__buf_free(&err);
}

AC_TEST(callback_time, a_charge_moves_ev_time_not_ev_now, .clock = AC_CLOCK_VIRTUAL) {
    struct ev_loop *loop = ac_loop(t);
    ev_now_update(loop);
    double now = ev_now(loop), before = ev_time();
    AC_ASSERT_TRUE(ac__clock_charge(0.25));
    AC_EXPECT_NEAR(ev_time() - before, 0.25, 1e-6);
    AC_EXPECT_EQ(ev_now(loop), now); /* stale until the loop updates it */
    ev_now_update(loop);
    AC_EXPECT_NEAR(ev_now(loop) - now, 0.25, 1e-6);
    AC_EXPECT_FALSE(ac__clock_charge(0));
    AC_EXPECT_FALSE(ac__clock_charge(1e9)); /* beyond the bound: nothing */
    AC_EXPECT_NEAR(ev_time() - before, 0.25, 1e-6);
}

AC_TEST(callback_time, no_charge_under_the_real_clock, .clock = AC_CLOCK_REAL) {
    AC_EXPECT_FALSE(ac__clock_charge(0.25));
}

AC_TEST(callback_time, no_charge_under_a_manual_clock, .clock = AC_CLOCK_MANUAL) {
    double before = ev_time();
    AC_EXPECT_FALSE(ac__clock_charge(0.25));
    AC_EXPECT_EQ(ev_time(), before);
}
