/* meta_explore.c — the exploration budget and the exploration summary seen from outside, through
 * fixtures/explore_budget.c: an exploration far longer than its budget (.explore_budget or
 * --explore-budget) passes after about the budget, saying how many schedules or cancel points ran, in
 * TAP (a YAML block on the passing point, accepted by prove), JUnit <properties>, JSON and the human
 * report; one within its budget says so; a failing exploration says what it ran; a test that runs once
 * says nothing; --list=tsv gives discovery the runs, the sweep and the budget; bad budgets are refused. */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const clean_env[] = {"AC_TIMEOUT_MULTIPLIER", NULL};

static const tap_point *run_tap(fixture_run *r, const char *name, const char *const *extra) {
    return fixture_point(r, FIXTURE_EXPLORE, name, extra, clean_env);
}

/* A field of the point's `exploration:` mapping ("" when absent). */
static const char *explored(const tap_point *pt, const char *key) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, "    %s: ", key);
    return field(pt, prefix);
}

static long explored_count(const tap_point *pt, const char *key) {
    const char *v = explored(pt, key);
    return *v ? strtol(v, NULL, 10) : -1;
}

/* The value of property asyncheck.exploration.<key> of test case `name` in the JUnit file. */
static const char *junit_property(fixture_run *r, const char *name, const char *key) {
    static ac__buf out;
    char expr[256];
    snprintf(expr, sizeof expr,
             "string(//testcase[@name='%s']/properties/property[@name='asyncheck.exploration.%s']/@value)",
             name, key);
    ac__buf_free(&out);
    xpath(r->junit, expr, &out);
    return ac__buf_str(&out);
}

/* ---- a budget shorter than the exploration ---- */

AC_TEST(meta_explore, the_budget_ends_the_exploration_with_a_pass_and_the_count) {
    fixture_run r;
    const tap_point *pt = run_tap(&r, "budget.stops_exploring", NULL);
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_EQ(r.p.status, 0);
    AC_EXPECT_STR_EQ(explored(pt, "mode"), "shuffle");
    AC_EXPECT_STR_EQ(explored(pt, "schedules_total"), "100000");
    long ran = explored_count(pt, "schedules");
    AC_EXPECT_TRUE(ran >= 1 && ran < 100000);
    AC_EXPECT_EQ(explored_count(pt, "runs"), ran); /* one run a schedule */
    AC_EXPECT_STR_EQ(explored(pt, "cancel_sweep"), "false");
    AC_EXPECT_STR_EQ(explored(pt, "cancel_points"), "0");
    AC_EXPECT_STR_EQ(explored(pt, "check_determinism"), "false");
    AC_EXPECT_STR_EQ(explored(pt, "budget_s"), "1");
    AC_EXPECT_STR_EQ(explored(pt, "budget_reached"), "true");
    /* it took about the budget: at least that, at most one more run's timeout (5 s) and some slack */
    double ms = strtod(field(pt, "  duration_ms: "), NULL);
    AC_EXPECT_TRUE(ms >= 1000.0 && ms < 8000.0);
    /* the JUnit file of the same run says the same */
    char schedules[32];
    snprintf(schedules, sizeof schedules, "%ld", ran);
    AC_EXPECT_STR_EQ(junit_property(&r, "stops_exploring", "schedules"), schedules);
    AC_EXPECT_STR_EQ(junit_property(&r, "stops_exploring", "runs"), schedules);
    AC_EXPECT_STR_EQ(junit_property(&r, "stops_exploring", "schedules_total"), "100000");
    AC_EXPECT_STR_EQ(junit_property(&r, "stops_exploring", "mode"), "shuffle");
    AC_EXPECT_STR_EQ(junit_property(&r, "stops_exploring", "budget_s"), "1");
    AC_EXPECT_STR_EQ(junit_property(&r, "stops_exploring", "budget_reached"), "true");
    AC_EXPECT_STR_EQ(junit_property(&r, "stops_exploring", "cancel_sweep"), "false");
    fixture_done(&r);
}

AC_TEST(meta_explore, a_cancel_sweep_reports_the_cancel_points_it_tried) {
    fixture_run r;
    const tap_point *pt = run_tap(&r, "budget.sweep_stops", NULL);
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_STR_EQ(explored(pt, "cancel_sweep"), "true");
    long points = explored_count(pt, "cancel_points");
    AC_EXPECT_TRUE(points >= 1 && points < 1000); /* 1001 points in full */
    AC_EXPECT_EQ(explored_count(pt, "runs"), points);
    AC_EXPECT_STR_EQ(explored(pt, "schedules"), "1");
    AC_EXPECT_STR_EQ(explored(pt, "schedules_total"), "1");
    AC_EXPECT_STR_EQ(explored(pt, "budget_reached"), "true");
    AC_EXPECT_STR_EQ(junit_property(&r, "sweep_stops", "cancel_sweep"), "true");
    char n[32];
    snprintf(n, sizeof n, "%ld", points);
    AC_EXPECT_STR_EQ(junit_property(&r, "sweep_stops", "cancel_points"), n);
    fixture_done(&r);
}

AC_TEST(meta_explore, the_command_line_budget_caps_and_bounds) {
    static const char *const half[] = {"--explore-budget=0.5", NULL};
    fixture_run r;
    const tap_point *pt = run_tap(&r, "budget.unbounded", half); /* no budget of its own */
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_STR_EQ(explored(pt, "budget_s"), "0.5");
    AC_EXPECT_STR_EQ(explored(pt, "budget_reached"), "true");
    fixture_done(&r);
    pt = run_tap(&r, "budget.stops_exploring", half); /* its own 1 s, capped */
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_STR_EQ(explored(pt, "budget_s"), "0.5");
    fixture_done(&r);
    static const char *const more[] = {"--explore-budget", "30", NULL};
    pt = run_tap(&r, "budget.within", more); /* its own 60 s is smaller */
    AC_EXPECT_STR_EQ(explored(pt, "budget_s"), "30");
    fixture_done(&r);
}

AC_TEST(meta_explore, the_budget_holds_without_fork_too) {
    static const char *const no_fork[] = {"--no-fork", NULL};
    fixture_run r;
    const tap_point *pt = run_tap(&r, "budget.stops_exploring", no_fork);
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_STR_EQ(explored(pt, "budget_reached"), "true");
    long ran = explored_count(pt, "schedules");
    AC_EXPECT_TRUE(ran >= 1 && ran < 100000);
    fixture_done(&r);
}

/* ---- explorations that end on their own ---- */

AC_TEST(meta_explore, an_exploration_within_its_budget_says_so) {
    fixture_run r;
    const tap_point *pt = run_tap(&r, "budget.within", NULL);
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_STR_EQ(explored(pt, "schedules"), "4");
    AC_EXPECT_STR_EQ(explored(pt, "schedules_total"), "4");
    AC_EXPECT_STR_EQ(explored(pt, "runs"), "4");
    AC_EXPECT_STR_EQ(explored(pt, "budget_s"), "60");
    AC_EXPECT_STR_EQ(explored(pt, "budget_reached"), "false");
    AC_EXPECT_STR_EQ(junit_property(&r, "within", "budget_reached"), "false");
    fixture_done(&r);
    static const char *const det[] = {"--check-determinism", NULL};
    pt = run_tap(&r, "budget.within", det);
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_STR_EQ(explored(pt, "schedules"), "4");
    AC_EXPECT_STR_EQ(explored(pt, "runs"), "8");
    AC_EXPECT_STR_EQ(explored(pt, "check_determinism"), "true");
    fixture_done(&r);
}

AC_TEST(meta_explore, a_failing_exploration_says_what_it_ran) {
    fixture_run r;
    const tap_point *pt = run_tap(&r, "budget.fails", NULL);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "AC_ASSERT_EQ(1 + 1, 3) failed");
    AC_EXPECT_STR_EQ(explored(pt, "schedules_total"), "10");
    long runs = explored_count(pt, "runs");
    AC_EXPECT_TRUE(runs >= 1 && runs < 10); /* stopped at the first failure */
    AC_EXPECT_STR_EQ(explored(pt, "budget_reached"), "false");
    AC_EXPECT_STR_EQ(junit_property(&r, "fails", "schedules_total"), "10");
    fixture_done(&r);
}

AC_TEST(meta_explore, a_property_the_budget_left_unsatisfied_says_so) {
    fixture_run r;
    const tap_point *pt = run_tap(&r, "budget.sometimes_cut_short", NULL);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "schedule");
    const char *msg = field(pt, "  message: ");
    AC_EXPECT_STR_CONTAINS(msg, "AC_SOMETIMES(false, \"never true\") was never true in ");
    AC_EXPECT_STR_CONTAINS(msg, " runs of the test (the exploration budget of 0.5 s ran out first)");
    AC_EXPECT_STR_EQ(explored(pt, "budget_reached"), "true");
    fixture_done(&r);
}

AC_TEST(meta_explore, a_test_that_runs_once_reports_no_exploration) {
    static const char *const replay[] = {"--seed=5", NULL};
    fixture_run r;
    const tap_point *pt = run_tap(&r, "budget.within", replay);
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_NULL(pt->yaml);
    AC_EXPECT_STR_EQ(junit_property(&r, "within", "schedules"), "");
    fixture_done(&r);
}

/* ---- JSON and the human report ---- */

static void run_plain(proc *p, const char *const *args) {
    const char *argv[16] = {FIXTURE_EXPLORE};
    size_t n = 1;
    for (size_t i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    run_process(argv, clean_env, p);
}

AC_TEST(meta_explore, json_carries_the_exploration) {
    static const char *const args[] = {"--json", "-", "--filter=budget.stops_exploring",
                                       "--filter=budget.sweep_stops", NULL};
    proc p;
    run_plain(&p, args);
    AC_EXPECT_EQ(p.status, 0);
    const char *out = ac__buf_str(&p.out);
    const char *x = strstr(out, "\"exploration\":{\"mode\":\"shuffle\",\"schedules\":");
    AC_ASSERT_NOT_NULL(x);
    long ran = strtol(x + strlen("\"exploration\":{\"mode\":\"shuffle\",\"schedules\":"), NULL, 10);
    AC_EXPECT_TRUE(ran >= 1 && ran < 100000);
    char want[512];
    snprintf(
        want, sizeof want,
        "\"exploration\":{\"mode\":\"shuffle\",\"schedules\":%ld,\"schedules_total\":100000,\"runs\":%ld,"
        "\"cancel_sweep\":false,\"cancel_points\":0,\"check_determinism\":false,\"budget_s\":1,"
        "\"budget_reached\":true}",
        ran, ran);
    AC_EXPECT_STR_CONTAINS(out, want);
    AC_EXPECT_STR_CONTAINS(out, "\"schedules\":1,\"schedules_total\":1,");
    AC_EXPECT_STR_CONTAINS(out, "\"cancel_sweep\":true,\"cancel_points\":");
    proc_free(&p);
}

/* The line of the human report that says what `name`'s exploration ran ("" when none). */
static const char *explored_line(const char *out, const char *name) {
    static char line[256];
    line[0] = '\0';
    const char *at = strstr(out, name);
    const char *next = at ? strchr(at, '\n') : NULL;
    if (next && strncmp(next + 1, "      explored ", 15) == 0) {
        const char *end = strchr(next + 1, '\n');
        snprintf(line, sizeof line, "%.*s", (int)(end ? end - next - 1 : (long)strlen(next + 1)), next + 1);
    }
    return line;
}

AC_TEST(meta_explore, the_human_report_shows_it_under_verbose_and_when_the_budget_cut_it_short) {
    static const char *const verbose[] = {"-v",
                                          "--color=never",
                                          "--filter=budget.within",
                                          "--filter=budget.stops_exploring",
                                          "--filter=budget.sweep_stops",
                                          NULL};
    proc p;
    run_plain(&p, verbose);
    AC_EXPECT_EQ(p.status, 0);
    const char *out = ac__buf_str(&p.out);
    AC_EXPECT_STR_EQ(explored_line(out, "PASS  budget.within "),
                     "      explored 4 of 4 schedules (shuffle), 4 runs; within the budget of 60 s");
    const char *line = explored_line(out, "PASS  budget.stops_exploring ");
    long ran = strtol(line + strlen("      explored "), NULL, 10);
    char want[256];
    snprintf(want, sizeof want,
             "      explored %ld of 100000 schedules (shuffle), %ld runs; budget 1 s reached", ran, ran);
    AC_EXPECT_STR_EQ(line, want);
    AC_EXPECT_STR_CONTAINS(explored_line(out, "PASS  budget.sweep_stops "),
                           "      explored 1 of 1 schedule (shuffle), cancel sweep: ");
    AC_EXPECT_STR_CONTAINS(explored_line(out, "PASS  budget.sweep_stops "), "; budget 1 s reached");
    proc_free(&p);
    /* without -v: only the exploration the budget cut short */
    static const char *const quiet[] = {"--color=never", "--filter=budget.within",
                                        "--filter=budget.stops_exploring", NULL};
    run_plain(&p, quiet);
    out = ac__buf_str(&p.out);
    AC_EXPECT_STR_EQ(explored_line(out, "PASS  budget.within "), "");
    AC_EXPECT_STR_CONTAINS(explored_line(out, "PASS  budget.stops_exploring "), "; budget 1 s reached");
    proc_free(&p);
}

/* ---- prove reads the YAML of passing points ---- */

AC_TEST(meta_explore, prove_accepts_the_exploration_blocks) {
    const char *argv[] = {
        "prove", "-v", "-e", "", FIXTURE_EXPLORE, "::", "--filter=budget.within", "--filter=budget.fails",
        NULL};
    proc p;
    run_process(argv, clean_env, &p);
    if (p.status == 126 || p.status == 127)
        AC_FAIL("prove is not installed (Debian package perl)");
    const char *out = ac__buf_str(&p.out);
    AC_EXPECT_STR_CONTAINS(out, "ok 1 - budget.within\n  ---\n  exploration:\n    mode: shuffle\n");
    AC_EXPECT_STR_CONTAINS(out, "Failed test:  2\n");
    AC_EXPECT_NULL(strstr(out, "Parse errors"));
    proc_free(&p);
}

/* ---- what discovery reads ---- */

static void list_tsv(proc *p, const char *const *extra) {
    const char *args[8] = {"--list=tsv", "--filter=budget.*"};
    size_t n = 2;
    for (size_t i = 0; extra && extra[i] && n < 7; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    run_plain(p, args);
    AC_EXPECT_EQ(p->status, 0);
}

/* The columns after name, timeout, file and line of `name`'s --list=tsv line. */
static const char *tsv_tail(const proc *p, const char *name) {
    static char tail[128];
    tail[0] = '\0';
    char key[128];
    snprintf(key, sizeof key, "%s\t", name);
    const char *line = strstr(ac__buf_str(&p->out), key);
    AC_ASSERT_NOT_NULL(line);
    const char *s = line;
    for (int tab = 0; tab < 4 && s; tab++)
        s = strchr(s + 1, '\t');
    AC_ASSERT_NOT_NULL(s);
    const char *end = strchr(s, '\n');
    snprintf(tail, sizeof tail, "%.*s", (int)(end - s - 1), s + 1);
    return tail;
}

AC_TEST(meta_explore, list_tsv_gives_runs_sweep_and_budget) {
    proc p;
    list_tsv(&p, NULL);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "budget.stops_exploring\t5\t"); /* the first columns stay */
    AC_EXPECT_STR_EQ(tsv_tail(&p, "budget.stops_exploring"), "100000\t0\t1");
    AC_EXPECT_STR_EQ(tsv_tail(&p, "budget.within"), "4\t0\t60");
    AC_EXPECT_STR_EQ(tsv_tail(&p, "budget.unbounded"), "100000\t0\t0");
    AC_EXPECT_STR_EQ(tsv_tail(&p, "budget.sweep_stops"), "1\t1\t1");
    proc_free(&p);
    static const char *const cap[] = {"--explore-budget=0.25", "--check-determinism", NULL};
    list_tsv(&p, cap);
    AC_EXPECT_STR_EQ(tsv_tail(&p, "budget.within"), "8\t0\t0.25");
    AC_EXPECT_STR_EQ(tsv_tail(&p, "budget.unbounded"), "200000\t0\t0.25");
    AC_EXPECT_STR_EQ(tsv_tail(&p, "budget.sweep_stops"), "1\t1\t0.25");
    proc_free(&p);
    static const char *const replay[] = {"--seed=3", NULL}; /* one run each: no exploration, no budget */
    list_tsv(&p, replay);
    AC_EXPECT_STR_EQ(tsv_tail(&p, "budget.within"), "1\t0\t0");
    proc_free(&p);
}

/* ---- bad input ---- */

static void refused(const char *const *args, const char *reason) {
    proc p;
    run_plain(&p, args);
    AC_EXPECT_EQ(p.status, 2);
    const char *err = ac__buf_str(&p.err);
    const char *nl = strchr(err, '\n');
    char first[256];
    snprintf(first, sizeof first, "%.*s", nl ? (int)(nl - err) : (int)strlen(err), err);
    AC_EXPECT_STR_CONTAINS(first, reason); /* the reason on the first line */
    AC_EXPECT_EQ(ac__buf_str(&p.out)[0], '\0');
    proc_free(&p);
}

AC_TEST(meta_explore, bad_budgets_are_refused) {
    refused((const char *const[]){"--explore-budget", "-1", NULL},
            "--explore-budget: '-1' is not a positive number of seconds (at most 10000000)");
    refused((const char *const[]){"--explore-budget=abc", NULL},
            "--explore-budget: 'abc' is not a positive number of seconds");
    refused((const char *const[]){"--explore-budget=0", NULL},
            "--explore-budget: '0' is not a positive number");
    refused((const char *const[]){"--explore-budget=1e8", NULL}, "--explore-budget: '1e8' is not a positive");
    refused((const char *const[]){"--explore-budget=nan", NULL}, "--explore-budget: 'nan' is not a positive");
    refused((const char *const[]){"--explore-budget", NULL}, "option '--explore-budget' needs a value");
}
