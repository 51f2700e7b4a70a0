/* explore_budget.c — the exploration budget from inside: --explore-budget parsed, the smaller of a
 * test's own budget and the command line's taken, what --list=tsv reports of a plan, and an exploring
 * test bounded by its own budget passing (its count is checked from outside by meta_explore.c). */
#include <asyncheck.h>
#include <ev.h>
#include <string.h>

#include "runner/runner.h"

static int parse(ac__options *o, const char *const *args) {
    char *argv[8] = {"selftest"};
    int argc = 1;
    for (size_t i = 0; args[i] && argc < 7; i++)
        argv[argc++] = (char *)args[i];
    ac__buf err = {0};
    int rc = ac__parse_options(argc, argv, o, &err);
    ac__buf_free(&err);
    return rc;
}

AC_TEST(explore_budget, parsed_in_both_spellings) {
    ac__options o;
    AC_ASSERT_EQ(parse(&o, (const char *const[]){"--explore-budget", "2.5", NULL}), 0);
    AC_EXPECT_EQ(o.explore_budget, 2.5);
    ac__options_free(&o);
    AC_ASSERT_EQ(parse(&o, (const char *const[]){"--explore-budget=0.001", NULL}), 0);
    AC_EXPECT_EQ(o.explore_budget, 0.001);
    ac__options_free(&o);
    AC_ASSERT_EQ(parse(&o, (const char *const[]){NULL}), 0);
    AC_EXPECT_EQ(o.explore_budget, 0.0); /* not given */
    ac__options_free(&o);
}

AC_TEST(explore_budget, the_smaller_budget_wins) {
    ac__test_def def = {.suite = "s", .name = "n", .file = "f.c", .line = 1};
    def.options.schedules = 50;
    def.options.explore_budget = 4;
    ac__options o;
    AC_ASSERT_EQ(parse(&o, (const char *const[]){NULL}), 0);
    unsigned runs;
    bool sweep;
    double budget;
    ac__explore_plan(&o, &def, &runs, &sweep, &budget);
    AC_EXPECT_EQ(runs, 50u);
    AC_EXPECT_FALSE(sweep);
    AC_EXPECT_EQ(budget, 4.0);
    o.explore_budget = 10; /* larger: the test's own stays */
    ac__explore_plan(&o, &def, &runs, &sweep, &budget);
    AC_EXPECT_EQ(budget, 4.0);
    o.explore_budget = 1.5; /* smaller: caps it */
    ac__explore_plan(&o, &def, &runs, &sweep, &budget);
    AC_EXPECT_EQ(budget, 1.5);
    def.options.explore_budget = 0; /* none of its own */
    ac__explore_plan(&o, &def, &runs, &sweep, &budget);
    AC_EXPECT_EQ(budget, 1.5);
    def.options.schedules = 0; /* runs once: nothing to bound */
    ac__explore_plan(&o, &def, &runs, &sweep, &budget);
    AC_EXPECT_EQ(runs, 1u);
    AC_EXPECT_EQ(budget, 0.0);
    def.options.cancel_sweep = true;
    ac__explore_plan(&o, &def, &runs, &sweep, &budget);
    AC_EXPECT_TRUE(sweep);
    AC_EXPECT_EQ(budget, 1.5);
    ac__options_free(&o);
}

static void tick(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
}

/* 5000 runs of 10 ms would take close to a minute; the budget ends it after about 0.3 s, passing. */
AC_TEST(explore_budget, bounds_a_long_exploration, .schedules = 5000, .explore_budget = 0.3, .timeout = 5) {
    static ev_timer w;
    ev_timer_init(&w, tick, 0.010, 0.);
    ev_timer_start(ac_loop(t), &w);
}
