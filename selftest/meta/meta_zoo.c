/* meta_zoo.c — the runner against hostile tests (fixtures/zoo.c) and against signals: every case is
 * reported as what it was, neighbours are unaffected, reports stay valid, nothing outlives the run. */
#include "meta.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const tap_point *zoo(fixture_run *r, const char *name) {
    char filter[128];
    snprintf(filter, sizeof filter, "--filter=%s", name);
    const char *args[] = {filter, "--filter=zoo.passes", NULL};
    fixture_tap(r, FIXTURE_ZOO, args, NULL);
    AC_EXPECT_TRUE(point(r, "zoo.passes")->ok); /* the neighbour is unaffected */
    return point(r, name);
}

static void expect_death(const char *name, const char *type, const char *message_part) {
    fixture_run r;
    const tap_point *pt = zoo(&r, name);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), type);
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "), message_part);
    fixture_done(&r);
}

AC_TEST(meta_zoo, deaths_are_named) {
    expect_death("zoo.overflows_the_stack", "crash", "crashed: SIGSEGV (Segmentation fault) in body");
    expect_death("zoo.raises_sigkill", "crash", "crashed: SIGKILL (Killed) in body");
    expect_death("zoo.blocks_sigterm_and_hangs", "timeout",
                 "(limit 0.300 s) in body; the test's process group was killed");
    expect_death("zoo_setup.exits_in_setup", "exit", "exited unexpectedly with status 5 in setup");
    expect_death("zoo_teardown.exits_in_teardown", "exit", "exited unexpectedly with status 6 in teardown");
}

/* A test process is a child subreaper: an orphan that died may be this test's zombie (reaped here). */
static bool alive(pid_t pid) {
    waitpid(pid, NULL, WNOHANG);
    return kill(pid, 0) == 0 || errno != ESRCH;
}

/* Waits up to `seconds` for pid to be gone. */
static bool gone_within(pid_t pid, double seconds) {
    for (int i = 0; i < (int)(seconds * 100); i++) {
        if (!alive(pid))
            return true;
        usleep(10000);
    }
    return !alive(pid);
}

static pid_t read_pid(const char *path, double wait_s) {
    for (int i = 0; i < (int)(wait_s * 100); i++) {
        char *text = read_file(path);
        if (text) {
            pid_t pid = (pid_t)atoi(text);
            free(text);
            if (pid > 0)
                return pid;
        }
        usleep(10000);
    }
    return 0;
}

AC_TEST(meta_zoo, a_child_left_running_dies_with_its_test) {
    char *dir = make_temp_dir();
    char pidfile[512], env[600];
    snprintf(pidfile, sizeof pidfile, "%s/pid", dir);
    snprintf(env, sizeof env, "ZOO_PIDFILE=%s", pidfile);
    const char *envs[] = {env, NULL};
    const char *args[] = {"--filter=zoo.forks_and_leaves_a_child", NULL};
    fixture_run r;
    fixture_tap(&r, FIXTURE_ZOO, args, envs);
    AC_EXPECT_TRUE(point(&r, "zoo.forks_and_leaves_a_child")->ok);
    pid_t child = read_pid(pidfile, 1.0);
    AC_ASSERT_GT(child, 0);
    AC_EXPECT_TRUE(gone_within(child, 2.0));
    fixture_done(&r);
    rm_tree(dir);
    free(dir);
}

AC_TEST(meta_zoo, closed_stdout_and_stderr_do_not_lose_the_result) {
    fixture_run r;
    const tap_point *pt = zoo(&r, "zoo.closes_stdout_and_stderr");
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "AC_EXPECT_EQ(1, 2) failed");
    AC_EXPECT_STR_EQ(field(pt, "  stdout: "), "before closing\n");
    fixture_done(&r);
}

AC_TEST(meta_zoo, a_flood_of_output_is_bounded_and_counted, .timeout = 90) {
    char *dir = make_temp_dir();
    char json[512], opt[600];
    snprintf(json, sizeof json, "%s/out.jsonl", dir);
    snprintf(opt, sizeof opt, "--json=%s", json);
    const char *argv[] = {FIXTURE_ZOO, opt, "--filter=zoo.floods_stdout", NULL};
    proc p;
    run_process(argv, NULL, &p);
    AC_EXPECT_EQ(p.status, 0);
    char *text = read_file(json);
    AC_ASSERT_NOT_NULL(text);
    AC_EXPECT_STR_CONTAINS(text, "\"outcome\":\"pass\"");
    /* 100 MiB less the first and the last 64 KiB, which are kept */
    AC_EXPECT_STR_CONTAINS(text, "\"stdout_dropped\":104726528,\"stdout_tail\":\"xxx");
    AC_EXPECT_LT(strlen(text), (size_t)(8 << 20)); /* what was kept is bounded */
    free(text);
    proc_free(&p);
    rm_tree(dir);
    free(dir);
}

AC_TEST(meta_zoo, a_failing_malloc_cannot_silence_the_failure) {
    /* the test replaces malloc and realloc with ones that fail: the harness allocates through the
     * originals, so the failure is reported as written */
    fixture_run r;
    const tap_point *pt = zoo(&r, "zoo.malloc_fails_in_the_harness");
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "assertion");
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "reporting this needs memory");
    fixture_done(&r);
}

/* Starts the zoo fixture in the background with TAP and JUnit into `dir` at `jobs` (e.g. "-j1"); returns
 * its pid. */
static pid_t start_runner(const char *dir, const char *const *filters, const char *jobs) {
    char tap[512], junit[512], pidfile[512];
    snprintf(tap, sizeof tap, "--tap=%s/out.tap", dir);
    snprintf(junit, sizeof junit, "%s/out.xml", dir);
    snprintf(pidfile, sizeof pidfile, "%s/pid", dir);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        setenv("ZOO_PIDFILE", pidfile, 1);
        const char *argv[16] = {FIXTURE_ZOO, tap, "--junit", junit, jobs};
        size_t n = 5;
        for (size_t i = 0; filters[i]; i++)
            argv[n++] = filters[i];
        argv[n] = NULL;
        execv(argv[0], (char *const *)argv);
        _exit(126);
    }
    return pid;
}

/* SIGINT to the runner started in `dir`, whose test `test` runs: the runner exits 128 + SIGINT, the test is
 * gone; returns the TAP the run wrote. */
static char *interrupt(pid_t runner, pid_t test, const char *dir) {
    kill(runner, SIGINT);
    int status;
    AC_ASSERT_EQ(waitpid(runner, &status, 0), runner);
    AC_EXPECT_TRUE(WIFEXITED(status));
    AC_EXPECT_EQ(WEXITSTATUS(status), 130); /* 128 + SIGINT */
    AC_EXPECT_TRUE(gone_within(test, 2.0));
    char path[600];
    snprintf(path, sizeof path, "%s/out.tap", dir);
    char *text = read_file(path);
    AC_ASSERT_NOT_NULL(text);
    return text;
}

/* A signal that does not come from one of the run's tests acts as it always did (a test's signal to its
 * parent is caught: meta_zoo_proc.c): SIGUSR1 from here, the runner's parent, kills the runner with its
 * default action, at -j1 and with lanes, and the running test dies with it. */
AC_TEST(meta_zoo, a_signal_from_outside_the_run_keeps_its_default_action) {
    static const char *const jobs[] = {"-j1", "-j2"};
    for (size_t j = 0; j < 2; j++) {
        char *dir = make_temp_dir();
        const char *filters[] = {"--filter=zoo.sleeps_long", "--filter=zoo.passes", NULL};
        pid_t runner = start_runner(dir, filters, jobs[j]);
        char pidfile[512];
        snprintf(pidfile, sizeof pidfile, "%s/pid", dir);
        pid_t test = read_pid(pidfile, 5.0);
        AC_ASSERT_GT(test, 0); /* zoo.sleeps_long is running */
        kill(runner, SIGUSR1);
        int status;
        AC_ASSERT_EQ(waitpid(runner, &status, 0), runner);
        AC_EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGUSR1);
        AC_EXPECT_TRUE(gone_within(test, 2.0));
        rm_tree(dir);
        free(dir);
    }
}

AC_TEST(meta_zoo, sigint_ends_the_run_with_valid_reports) {
    char *dir = make_temp_dir();
    const char *filters[] = {"--filter=zoo.passes", "--filter=zoo.sleeps_long", "--filter=zoo.closes_*",
                             NULL};
    pid_t runner = start_runner(dir, filters, "-j1");
    char pidfile[512];
    snprintf(pidfile, sizeof pidfile, "%s/pid", dir);
    pid_t test = read_pid(pidfile, 5.0);
    AC_ASSERT_GT(test, 0); /* zoo.sleeps_long is running */
    char *text = interrupt(runner, test, dir);
    tap_doc doc;
    ac__buf why = {0};
    AC_ASSERT_TRUE(tap_parse(text, &doc, &why)); /* a complete plan: every test point is there */
    AC_EXPECT_TRUE(tap_find(&doc, "zoo.passes")->ok);
    const tap_point *killed = tap_find(&doc, "zoo.sleeps_long");
    AC_ASSERT_NOT_NULL(killed);
    AC_EXPECT_FALSE(killed->ok);
    AC_EXPECT_STR_EQ(field(killed, "  type: "), "interrupted");
    AC_EXPECT_STR_CONTAINS(field(killed, "  message: "), "interrupted: the runner received SIGINT after ");
    AC_EXPECT_STR_EQ(tap_find(&doc, "zoo.closes_stdout_and_stderr")->directive,
                     "SKIP not run: the runner was interrupted by SIGINT");
    AC_EXPECT_STR_CONTAINS(text, "\n# interrupted by SIGINT\n");
    char path[600];
    snprintf(path, sizeof path, "%s/out.xml", dir);
    proc lint;
    const char *argv[] = {"xmllint", "--noout", path, NULL};
    run_process(argv, NULL, &lint);
    AC_EXPECT_EQ(lint.status, 0); /* the JUnit file is complete */
    proc_free(&lint);
    tap_free(&doc);
    free(text);
    ac__buf_free(&why);
    rm_tree(dir);
    free(dir);
}

/* At -j2 the runs are supervised by lanes, each holding a run queued behind the one it runs: the runner
 * passes SIGINT on, the lanes kill their tests, and a queued run is reported as not run, as the runner
 * reports the runs it had not sent. */
AC_TEST(meta_zoo, sigint_ends_a_run_of_lanes_with_valid_reports) {
    char *dir = make_temp_dir();
    const char *filters[] = {"--filter=zoo.passes", "--filter=zoo.sleeps_long", "--repeat=3", NULL};
    pid_t runner = start_runner(dir, filters, "-j2");
    char pidfile[512];
    snprintf(pidfile, sizeof pidfile, "%s/pid", dir);
    pid_t test = read_pid(pidfile, 5.0);
    AC_ASSERT_GT(test, 0); /* a zoo.sleeps_long is running */
    usleep(200000);        /* (and every lane has its runs) */
    char *text = interrupt(runner, test, dir);
    tap_doc doc;
    ac__buf why = {0};
    AC_ASSERT_TRUE(tap_parse(text, &doc, &why));
    AC_ASSERT_EQ(doc.n, 6u);
    /* passes [1/3], sleeps_long [1/3] on the two lanes, passes [2/3] and sleeps_long [2/3] queued behind
     * them; passes [2/3] ran, then passes [3/3] and sleeps_long [3/3] on the first lane */
    size_t interrupted = 0, not_run = 0;
    for (size_t i = 0; i < doc.n; i++) {
        const tap_point *pt = &doc.points[i];
        if (strstr(pt->name, "zoo.passes")) {
            AC_EXPECT_TRUE(pt->ok);
        } else if (pt->directive &&
                   strcmp(pt->directive, "SKIP not run: the runner was interrupted by SIGINT") == 0) {
            not_run++;
        } else {
            AC_EXPECT_FALSE(pt->ok);
            AC_EXPECT_STR_CONTAINS(field(pt, "  message: "),
                                   "interrupted: the runner received SIGINT after ");
            interrupted++;
        }
    }
    AC_EXPECT_EQ(interrupted + not_run, 3u);
    AC_EXPECT_GE(interrupted, 1u);
    AC_EXPECT_GE(not_run, 1u); /* the one queued behind the first sleeps_long */
    AC_EXPECT_STR_CONTAINS(text, "\n# interrupted by SIGINT\n");
    tap_free(&doc);
    free(text);
    ac__buf_free(&why);
    rm_tree(dir);
    free(dir);
}

AC_TEST(meta_zoo, sigkill_leaves_no_child_and_a_valid_tap_prefix) {
    char *dir = make_temp_dir();
    const char *filters[] = {"--filter=zoo.passes", "--filter=zoo.sleeps_long", NULL};
    pid_t runner = start_runner(dir, filters, "-j1");
    char pidfile[512];
    snprintf(pidfile, sizeof pidfile, "%s/pid", dir);
    pid_t test = read_pid(pidfile, 5.0);
    AC_ASSERT_GT(test, 0);
    kill(runner, SIGKILL);
    int status;
    waitpid(runner, &status, 0);
    AC_EXPECT_TRUE(gone_within(test, 2.0)); /* the test died with its runner */
    char path[600];
    snprintf(path, sizeof path, "%s/out.tap", dir);
    char *text = read_file(path);
    AC_ASSERT_NOT_NULL(text);
    /* a valid prefix: the header and the finished test, each line whole */
    AC_EXPECT_STR_EQ(text, "TAP version 14\n1..2\nok 1 - zoo.passes\n");
    free(text);
    snprintf(path, sizeof path, "%s/out.xml", dir);
    AC_EXPECT_NE(access(path, F_OK), 0); /* JUnit: absent, never half-written */
    rm_tree(dir);
    free(dir);
}

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

AC_TEST(meta_zoo, a_hundred_thousand_tests_stay_fast, .timeout = 120) {
    proc p;
    const char *list[] = {FIXTURE_MANY, "--list", NULL};
    double start = wall();
    run_process(list, NULL, &p);
    double listing = wall() - start;
    AC_EXPECT_EQ(p.status, 0);
    size_t lines = 0;
    for (const char *c = ac__buf_str(&p.out); *c; c++)
        lines += *c == '\n';
    AC_EXPECT_EQ(lines, 100000u);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "\nmany.test/99999\n");
    AC_EXPECT_LT(listing, 2.0);
    proc_free(&p);
    const char *runall[] = {FIXTURE_MANY, "--no-fork", "--tap", NULL};
    start = wall();
    run_process(runall, NULL, &p);
    double running = wall() - start;
    AC_EXPECT_EQ(p.status, 0);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "\nok 100000 - many.test/99999\n");
    AC_EXPECT_LT(running, 30.0);
    proc_free(&p);
}

/* The whole zoo at once (but the 20 s sleeper and the 100 MB flood): TAP and JUnit agree on every case. */
AC_TEST(meta_zoo, tap_and_junit_agree_on_every_case, .timeout = 60) {
    fixture_run r;
    const char *args[] = {"-j2", "--filter=-zoo.sleeps_long", "--filter=-zoo.floods_stdout", NULL};
    fixture_tap(&r, FIXTURE_ZOO, args, NULL);
    proc lint;
    const char *argv[] = {"xmllint", "--noout", r.junit, NULL};
    run_process(argv, NULL, &lint);
    AC_EXPECT_EQ(lint.status, 0);
    proc_free(&lint);
    ac__buf v = {0};
    for (size_t i = 0; i < r.tap.n; i++) {
        const tap_point *pt = &r.tap.points[i];
        const char *dot = strchr(pt->name, '.');
        char expr[512];
        snprintf(expr, sizeof expr, "string(//testsuite[@name='%.*s']/testcase[@name='%s']/failure/@type)",
                 (int)(dot - pt->name), pt->name, dot + 1);
        xpath(r.junit, expr, &v);
        if (pt->ok)
            AC_EXPECT_STR_EQ(ac__buf_str(&v), "");
        else
            AC_EXPECT_STR_EQ(ac__buf_str(&v), field(pt, "  type: "));
    }
    AC_EXPECT_EQ(r.tap.n, 9u); /* all of zoo.c but the two left out */
    ac__buf_free(&v);
    fixture_done(&r);
}
