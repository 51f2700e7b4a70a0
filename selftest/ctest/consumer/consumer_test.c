/* consumer_test.c — the cases selftest/ctest/check_discovery.sh expects ctest to see, one ctest test
 * each: passing, failing, skipped, timing out, with a long own timeout, in a second suite, and exploring
 * (schedules, a budget, a cancel sweep), whose TIMEOUT must cover the exploration. */
#include <asyncheck.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Appends a line to $CONSUMER_MARKS/<file> (set through the PROPERTIES of the discovery): counts runs. */
static void mark(const char *file) {
    const char *dir = getenv("CONSUMER_MARKS");
    if (!dir)
        return;
    mkdir(dir, 0777); /* may exist */
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "a");
    AC_ASSERT_NOT_NULL(f);
    fputs("run\n", f);
    fclose(f);
}

AC_TEST(consumer, passes) {
    printf("hello from consumer.passes\n");
    mark("passes");
}

AC_TEST(consumer, fails) {
    mark("fails");
    AC_ASSERT_EQ(1 + 1, 3);
}

AC_TEST(consumer, skipped, .skip = "not on this machine") {
    AC_FAIL("a skipped test must not run");
}

AC_TEST(consumer, hangs, .timeout = 0.5) {
    for (;;)
        pause();
}

AC_TEST(consumer, long_limit, .timeout = 120) {
    AC_ASSERT_TRUE(1);
}

/* Both variables come from one list-valued ENVIRONMENT property; skipped where none is given. */
AC_TEST(consumer, environment) {
    if (!getenv("CONSUMER_A"))
        AC_SKIP("no ENVIRONMENT property here");
    AC_ASSERT_STR_EQ(getenv("CONSUMER_A"), "1");
    AC_ASSERT_NOT_NULL(getenv("CONSUMER_MARKS"));
}

AC_TEST(other, passes) {
    AC_ASSERT_TRUE(1);
}

/* 50 runs of at most 2 s each: TIMEOUT 50 * 3 + 10 (one run's 13 would kill it). */
AC_TEST(explore, schedules, .schedules = 50, .timeout = 2) {
    AC_ASSERT_TRUE(1);
}

/* 200 runs under the default 30 s: more than the default EXPLORE_BUDGET (300 s) one at a time, so the
 * case runs with --explore-budget 300. */
AC_TEST(explore, many, .schedules = 200) {
    AC_ASSERT_TRUE(1);
}

/* 100000 runs of 20 virtual ms, ended after 1 s by its budget: TIMEOUT 1 + 3.35 s, rounded up, + 10
 * (a run's 3 s limit leaves room for slow forks under sanitizers and a loaded machine). */
static void wait_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
}

AC_TEST(explore, budgeted, .schedules = 100000, .timeout = 3, .explore_budget = 1,
        .clock = AC_CLOCK_VIRTUAL) {
    static ev_timer w;
    ev_timer_init(&w, wait_cb, 0.020, 0.);
    ev_timer_start(ac_loop(t), &w);
}

/* A cancel sweep (of a timer, cancelled by stopping it): its number of runs is unknown, so it always
 * gets a budget. */
typedef struct sweep_op {
    struct ev_loop *loop;
    ev_timer w;
} sweep_op;

static void sweep_cancel(void *arg) {
    sweep_op *op = arg;
    ev_timer_stop(op->loop, &op->w);
}

AC_TEST(explore, sweep, .cancel_sweep = true, .clock = AC_CLOCK_VIRTUAL) {
    static sweep_op op;
    op.loop = ac_loop(t);
    ev_timer_init(&op.w, wait_cb, 0.010, 0.);
    ev_timer_start(op.loop, &op.w);
    ac_cancel_with(t, sweep_cancel, &op);
}
