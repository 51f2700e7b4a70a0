/* meta_lanes.c — the lanes (src/runner/lane.c) against tests that turn on them (fixtures/lanes.c): a
 * test that kills or stops its lane fails alone, saying so; the runs queued behind it run elsewhere and
 * pass; the report is whole. */
#define _GNU_SOURCE /* sched_getaffinity */
#include "meta.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs `culprit` with the innocent tests around it at -j2, and checks that only it failed. */
static const tap_point *culprit_alone(fixture_run *r, const char *culprit) {
    char filter[128];
    snprintf(filter, sizeof filter, "--filter=%s", culprit);
    const char *args[] = {"-j2", "--filter=lanes.innocent_0", filter, "--filter=lanes.innocent_[123]", NULL};
    fixture_tap(r, FIXTURE_LANES, args, NULL);
    AC_EXPECT_EQ(r->p.status, 1);
    AC_EXPECT_EQ(r->tap.n, 5u);
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "lanes.innocent_%d", i);
        AC_EXPECT_TRUE(point(r, name)->ok);
    }
    const tap_point *pt = point(r, culprit);
    AC_EXPECT_FALSE(pt->ok);
    return pt;
}

AC_TEST(meta_lanes, a_test_that_kills_its_lane_fails_alone, .timeout = 30) {
    fixture_run r;
    const tap_point *pt = culprit_alone(&r, "lanes.kills_its_lane");
    const char *msg = field(pt, "  message: ");
    AC_EXPECT_STR_CONTAINS(msg,
                           "the lane that supervised the test (the process of its job slot) ended after");
    AC_EXPECT_STR_CONTAINS(msg, "killed by SIGKILL; the test was killed with it");
    fixture_done(&r);
}

AC_TEST(meta_lanes, a_test_that_stops_its_lane_fails_alone_after_the_runners_patience, .timeout = 60) {
    fixture_run r;
    double t0 = now();
    const tap_point *pt = culprit_alone(&r, "lanes.stops_its_lane");
    double took = now() - t0;
    const char *msg = field(pt, "  message: ");
    AC_EXPECT_STR_CONTAINS(msg, "the lane that supervised the test (the process of its job slot) stopped "
                                "answering after");
    /* its limit (0.5 s and the grace) and the runner's patience (5 s), not more */
    AC_EXPECT_GT(took, 5.5);
    AC_EXPECT_LT(took, 15.0);
    fixture_done(&r);
}

/* --fail-fast: the runs the lanes hold queued are not run (innocent_0, queued behind the failing test on
 * its lane, and innocent_1, behind passes_after_300ms on the other), as the ones never sent are not. */
AC_TEST(meta_lanes, fail_fast_does_not_run_what_the_lanes_hold_queued, .timeout = 30) {
    const char *args[] = {"-j2",
                          "--fail-fast",
                          "--filter=lanes.fails_after_100ms",
                          "--filter=lanes.passes_after_300ms",
                          "--filter=lanes.innocent_*",
                          NULL};
    fixture_run r;
    fixture_tap(&r, FIXTURE_LANES, args, NULL);
    AC_EXPECT_EQ(r.p.status, 1);
    AC_EXPECT_EQ(r.tap.n, 6u);
    AC_EXPECT_FALSE(point(&r, "lanes.fails_after_100ms")->ok);
    AC_EXPECT_TRUE(point(&r, "lanes.passes_after_300ms")->ok); /* it was running */
    const char *not_run = "SKIP not run: --fail-fast stopped the run after a failure";
    for (int i = 0; i < 4; i++) { /* innocent_0 too: queued behind the failure on its lane */
        char name[64];
        snprintf(name, sizeof name, "lanes.innocent_%d", i);
        const tap_point *pt = point(&r, name);
        AC_EXPECT_STR_EQ(pt->directive ? pt->directive : "(none)", not_run);
    }
    fixture_done(&r);
}

/* A stopped lane is given up at the limit of the run it supervises and the runner's patience, counted
 * from when that run started: not after the limits of every run sent to the lane before it (60 s here). */
AC_TEST(meta_lanes, a_stopped_lane_is_given_up_whatever_limits_came_before, .timeout = 60) {
    const char *args[] = {"-j2", "--filter=lanes.a_*", "--filter=lanes.stops_its_lane", NULL};
    fixture_run r;
    double t0 = now();
    fixture_tap(&r, FIXTURE_LANES, args, NULL);
    double took = now() - t0;
    AC_EXPECT_EQ(r.p.status, 1);
    AC_EXPECT_TRUE(point(&r, "lanes.a_long_limit_passes_at_once")->ok);
    AC_EXPECT_TRUE(point(&r, "lanes.a_filler")->ok);
    AC_EXPECT_STR_CONTAINS(field(point(&r, "lanes.stops_its_lane"), "  message: "),
                           "stopped answering after");
    AC_EXPECT_LT(took, 15.0);
    fixture_done(&r);
}

/* At -j8 every lane is killed by the test queued behind a quick one: each killer fails alone, every other
 * test is reported, and the run ends (it once started two tests on one slot and spun). */
AC_TEST(meta_lanes, lanes_killed_while_their_results_wait_are_all_replaced, .timeout = 60) {
    for (int round = 0; round < 3; round++) {
        const char *args[] = {"-j8", "--filter=rekill.*", NULL};
        fixture_run r;
        fixture_tap(&r, FIXTURE_LANES, args, NULL);
        AC_EXPECT_EQ(r.p.status, 1);
        AC_ASSERT_EQ(r.tap.n, 20u);
        size_t failed = 0;
        for (size_t i = 0; i < r.tap.n; i++) {
            const tap_point *pt = &r.tap.points[i];
            bool killer = strstr(pt->name, "rekill.k") != NULL;
            AC_EXPECT_EQ(pt->ok, !killer);
            if (killer)
                AC_EXPECT_STR_CONTAINS(field(pt, "  message: "),
                                       "killed by SIGKILL; the test was killed with it");
            failed += !pt->ok;
        }
        AC_EXPECT_EQ(failed, 8u);
        fixture_done(&r);
    }
}

/* Runs `argv` with its stdout on a pipe and returns how long after its first output (the runner's start:
 * a slow build's start-up is not counted) the first line holding `text` arrived (-1 if none did); *total
 * is how long the whole run took. */
static double first_line_at(const char *const *argv, const char *text, double *total) {
    int out[2];
    AC_ASSERT_EQ(pipe(out), 0);
    double t0 = now(), first = -1, at = -1;
    pid_t pid = fork();
    AC_ASSERT_GE(pid, 0);
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execv(argv[0], (char *const *)argv);
        _exit(126);
    }
    close(out[1]);
    ac__buf seen = {0};
    char chunk[4096];
    ssize_t n;
    while ((n = read(out[0], chunk, sizeof chunk)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        if (first < 0)
            first = now();
        ac__buf_append(&seen, chunk, (size_t)n);
        ac__buf_append(&seen, "", 1);
        if (at < 0 && strstr(seen.data, text))
            at = now() - first;
        seen.len--;
    }
    close(out[0]);
    int status;
    AC_ASSERT_EQ(waitpid(pid, &status, 0), pid);
    *total = now() - t0;
    AC_EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ac__buf_free(&seen);
    return at;
}

/* A lane holds the results of quick runs while it has more than one run queued (the runner then wakes
 * once for several), but never longer than a moment: held.first is reported at once, while the three
 * slow tests queued behind it on its lane run. */
AC_TEST(meta_lanes, a_result_is_held_a_moment_at_most, .timeout = 30) {
    const char *argv[] = {FIXTURE_LANES, "-j2", "--tap", "--filter=held.*", NULL};
    double total, at = first_line_at(argv, "ok 1 - held.first", &total);
    AC_EXPECT_GE(at, 0.0);    /* it arrived */
    AC_EXPECT_LT(at, 0.5);    /* held until the next run ended: 0.8 s */
    AC_EXPECT_GT(total, 2.4); /* the slow tests did run after it: 4 on one lane */
}

/* Tests run on every CPU the run may use, whatever their lane, fork server or a -j1 runner keep to (two
 * tests a run, so that -j2 has lanes), with lanes, without, and at -j1. */
AC_TEST(meta_lanes, tests_run_on_every_cpu, .timeout = 30) {
    cpu_set_t set;
    AC_ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    char cpus[32];
    snprintf(cpus, sizeof cpus, "LANES_CPUS=%d", CPU_COUNT(&set));
    const char *jobs[] = {"-j1", "-j2", "-j2"};
    for (int i = 0; i < 3; i++) {
        const char *args[] = {jobs[i], "--filter=cpus.*", NULL};
        const char *env[] = {cpus, i == 2 ? "AC_LANES=0" : "AC_LANES", NULL};
        fixture_run r;
        fixture_tap(&r, FIXTURE_LANES, args, env);
        AC_EXPECT_EQ(r.p.status, 0);
        AC_EXPECT_EQ(r.tap.n, 2u);
        fixture_done(&r);
    }
}

/* A test's process keeps its job's CPU until it starts a thread or a process or asks for its set
 * (src/runner/cpu_hold.c), at -j1 and with lanes; without lanes at -j2 nothing is pinned. Each case of
 * suite cpuhold fails when its set is given back too early, or not by the call it makes. */
AC_TEST(meta_lanes, tests_keep_their_cpu_until_they_could_use_another, .timeout = 60) {
    cpu_set_t set;
    AC_ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    if (CPU_COUNT(&set) < 2)
        AC_SKIP("needs two CPUs");
    char cpus[32];
    snprintf(cpus, sizeof cpus, "LANES_CPUS=%d", CPU_COUNT(&set));
    /* at -j1, with lanes, without (nothing pinned); and, expecting the whole set from the start at -j1,
     * the check fails where it should: every case */
    const char *jobs[] = {"-j1", "-j2", "-j2", "-j1"};
    for (int i = 0; i < 4; i++) {
        bool whole = i >= 2;
        const char *args[] = {jobs[i], "--filter=cpuhold.*", NULL};
        const char *env[] = {cpus, i == 2 ? "AC_LANES=0" : "AC_LANES",
                             whole ? "HOLD_EXPECTED=0" : "HOLD_EXPECTED", NULL};
        bool pass = i < 3;
        fixture_run r;
        fixture_tap(&r, FIXTURE_LANES, args, env);
        AC_EXPECT_EQ(r.p.status, pass ? 0 : 1);
        AC_EXPECT_EQ(r.tap.n, 6u);
        for (size_t k = 0; k < r.tap.n; k++)
            AC_EXPECT_EQ(r.tap.points[k].ok, pass);
        fixture_done(&r);
    }
}

/* Runs held back behind a long one (src/runner/lane_pace.c): once the lanes know their runs take about
 * 100 ms, each is given two at most, so of the ten short tests after the long one (3 s), at most one
 * waits behind it, while the other lane runs the rest. Given four (the depth before any run has ended),
 * three would wait; given sixteen, all that the lane was given. */
AC_TEST(meta_lanes, a_lane_holds_few_runs_when_they_are_long, .timeout = 60) {
    char *dir = make_temp_dir();
    ac__buf log = {0}, env_log = {0};
    ac__buf_printf(&log, "%s/pace.log", dir);
    ac__buf_printf(&env_log, "PACE_LOG=%s", ac__buf_str(&log));
    const char *args[] = {"-j2", "--filter=pace.*", NULL};
    const char *env[] = {ac__buf_str(&env_log), NULL};
    fixture_run r;
    fixture_tap(&r, FIXTURE_LANES, args, env);
    AC_EXPECT_EQ(r.p.status, 0);
    AC_EXPECT_EQ(r.tap.n, 21u);
    fixture_done(&r);
    FILE *f = fopen(ac__buf_str(&log), "r");
    AC_ASSERT_NOT_NULL(f);
    char name[21][16];
    double start[21], end[21];
    size_t n = 0;
    while (n < 21 && fscanf(f, "%15s %lf %lf", name[n], &start[n], &end[n]) == 3)
        n++;
    fclose(f);
    AC_ASSERT_EQ(n, 21u);
    size_t lng = 21;
    for (size_t i = 0; i < n; i++)
        if (strcmp(name[i], "long") == 0)
            lng = i;
    AC_ASSERT_LT(lng, 21u);
    size_t meanwhile = 0, behind = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == lng)
            continue;
        meanwhile += start[i] > start[lng] && start[i] < end[lng];
        behind += start[i] >= end[lng];
    }
    AC_EXPECT_GE(meanwhile, 8u); /* the other lane ran the rest meanwhile */
    AC_EXPECT_LE(behind, 1u);
    rm_tree(dir);
    free(dir);
    ac__buf_free(&log);
    ac__buf_free(&env_log);
}

/* Runs suite `held` of the lanes fixture (`extra`: more arguments) at -j2 and checks that its k2, which
 * kills or stops its lane while the lane holds q0's result, is the one that fails, with `message`; every
 * other test passes. Returns the run's wall time. */
static double held_culprit(const char *held, const char *message) {
    char filter[64];
    snprintf(filter, sizeof filter, "--filter=%s.*", held);
    const char *args[] = {"-j2", filter, NULL};
    fixture_run r;
    double t0 = now();
    fixture_tap(&r, FIXTURE_LANES, args, NULL);
    double took = now() - t0;
    AC_EXPECT_EQ(r.p.status, 1);
    AC_EXPECT_EQ(r.tap.n, 8u);
    for (size_t i = 0; i < r.tap.n; i++) {
        const tap_point *pt = &r.tap.points[i];
        bool culprit = strstr(pt->name, ".k2") != NULL;
        AC_EXPECT_EQ(pt->ok, !culprit);
        if (culprit)
            AC_EXPECT_STR_CONTAINS(field(pt, "  message: "), message);
    }
    fixture_done(&r);
    return took;
}

/* A lane killed while it holds an earlier test's result: the killer fails, not the test whose result
 * was held (it runs again, and passes). */
AC_TEST(meta_lanes, a_lane_killed_while_it_holds_a_result_blames_its_killer, .timeout = 60) {
    held_culprit("heldkill", "ended after");
}

/* Stopped while it holds an earlier result (of a test with a 30 s limit): the stopper fails, at its own
 * limit and the runner's patience or sooner (the held result was due 50 ms after its test ended). */
AC_TEST(meta_lanes, a_lane_stopped_while_it_holds_a_result_blames_its_stopper, .timeout = 60) {
    double took = held_culprit("heldstop", "stopped answering after");
    AC_EXPECT_LT(took, 15.0);
}

/* --fail-fast: a run taken back from a lane that is gone is not started once the run has stopped. */
AC_TEST(meta_lanes, fail_fast_does_not_start_what_a_dead_lane_gave_back, .timeout = 60) {
    const char *args[] = {
        "-j2", "--fail-fast", "--filter=heldkill.*", "--filter=-heldkill.q6", "--filter=-heldkill.s7", NULL};
    fixture_run r;
    fixture_tap(&r, FIXTURE_LANES, args, NULL);
    AC_EXPECT_EQ(r.p.status, 1);
    AC_EXPECT_FALSE(point(&r, "heldkill.k2")->ok);
    const tap_point *pt = point(&r, "heldkill.q4"); /* queued behind k2 on its lane */
    AC_EXPECT_STR_EQ(pt->directive ? pt->directive : "(none)",
                     "SKIP not run: --fail-fast stopped the run after a failure");
    fixture_done(&r);
}
