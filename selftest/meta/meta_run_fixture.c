/* meta_run_fixture.c — run fixtures (AC_RUN_FIXTURE) from outside: fixtures/run_fixture.c run with
 * $RUNFIX_LOG, whose lines say how often and in what order setups, tests and teardowns ran; set up once
 * for many tests at -j2 and under --no-fork, torn down after a crash, a timeout and SIGINT, a failed
 * setup failing exactly the tests that use it, nothing set up for --list, misuse and duplicate names. */
#include "meta.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A fresh directory, and in it the log path and the RUNFIX_LOG=... environment entry. */
typedef struct logdir {
    char *dir;
    char log[512];
    char env[600];
} logdir;

static void logdir_make(logdir *l) {
    l->dir = make_temp_dir();
    snprintf(l->log, sizeof l->log, "%s/log", l->dir);
    snprintf(l->env, sizeof l->env, "RUNFIX_LOG=%s", l->log);
}

static void logdir_free(logdir *l) {
    rm_tree(l->dir);
    free(l->dir);
}

/* The log's text ("" when the file was never written). */
static char *log_text(const logdir *l) {
    char *text = read_file(l->log);
    return text ? text : ac__xstrdup("");
}

static size_t count(const char *text, const char *needle) {
    size_t n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static bool starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The 1-based number of the first line of the file at `path` that starts with `text` (0: none). */
static int line_of(const char *path, const char *text) {
    char *src = read_file(path);
    int line = 0, at = 1;
    for (const char *p = src; p && *p && !line; at++) {
        if (starts_with(p, text))
            line = at;
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : NULL;
    }
    free(src);
    return line;
}

#define SETUPS "setup first\nsetup second\nsetup broken\n"
#define TEARDOWNS "teardown second 2\nteardown first first-data\n"

/* The log of one run: every setup once first, then `tests` test lines, then every teardown once (in
 * reverse order, the failed fixture's never). */
static void expect_one_run(const char *text, size_t tests) {
    if (!starts_with(text, SETUPS) || !ends_with(text, TEARDOWNS))
        AC_FAIL_LATER("the log does not start with the setups and end with the teardowns:\n%s", text);
    AC_EXPECT_EQ(count(text, "setup first\n"), 1u);
    AC_EXPECT_EQ(count(text, "teardown first"), 1u);
    AC_EXPECT_EQ(count(text, "teardown broken"), 0u);
    AC_EXPECT_EQ(count(text, "\ntest runfix."), tests);
    AC_EXPECT_EQ(count(text, "\n"), 3 + tests + 2);
}

static void run_sees(const char *mode) {
    logdir l;
    logdir_make(&l);
    const char *args[] = {"--filter=runfix.sees_*", mode, NULL};
    const char *env[] = {l.env, NULL};
    fixture_run r;
    fixture_tap(&r, FIXTURE_RUN_FIXTURE, args, env);
    AC_EXPECT_EQ(r.p.status, 0);
    AC_EXPECT_EQ(r.tap.n, 4u);
    for (size_t i = 0; i < r.tap.n; i++)
        if (!r.tap.points[i].ok)
            AC_FAIL_LATER("%s failed: %s", r.tap.points[i].name,
                          r.tap.points[i].yaml ? r.tap.points[i].yaml : "");
    char *text = log_text(&l);
    expect_one_run(text, 4);
    /* what a setup prints goes to stderr (the TAP on stdout parsed strictly) */
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&r.p.err), "first's setup prints this\n");
    AC_EXPECT_NULL(strstr(ac__buf_str(&r.p.out), "first's setup prints this"));
    free(text);
    fixture_done(&r);
    logdir_free(&l);
}

AC_TEST(meta_run_fixture, set_up_once_for_many_tests_at_j2) {
    run_sees("-j2");
}

AC_TEST(meta_run_fixture, set_up_once_and_shared_under_no_fork) {
    run_sees("--no-fork");
}

/* --repeat runs every test again, on the same setup. */
AC_TEST(meta_run_fixture, set_up_once_for_a_repeated_run) {
    logdir l;
    logdir_make(&l);
    const char *args[] = {"--filter=runfix.sees_1", "--filter=runfix.sees_2", "--repeat=3", NULL};
    const char *env[] = {l.env, NULL};
    fixture_run r;
    fixture_tap(&r, FIXTURE_RUN_FIXTURE, args, env);
    AC_EXPECT_EQ(r.p.status, 0);
    AC_EXPECT_EQ(r.tap.n, 6u);
    char *text = log_text(&l);
    expect_one_run(text, 6);
    free(text);
    fixture_done(&r);
    logdir_free(&l);
}

/* Runs `test`, which fails with `type` and `message`, and the passing runfix.sees_1 after it. */
static void expect_torn_down_after(const char *test, const char *type, const char *message) {
    logdir l;
    logdir_make(&l);
    char filter[128];
    snprintf(filter, sizeof filter, "--filter=%s", test);
    const char *args[] = {filter, "--filter=runfix.sees_1", "-j1", NULL};
    const char *env[] = {l.env, NULL};
    fixture_run r;
    fixture_tap(&r, FIXTURE_RUN_FIXTURE, args, env);
    AC_EXPECT_EQ(r.p.status, 1);
    const tap_point *pt = point(&r, test);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), type);
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "), message);
    AC_EXPECT_TRUE(point(&r, "runfix.sees_1")->ok); /* the run went on after it */
    char *text = log_text(&l);
    expect_one_run(text, 2);
    free(text);
    fixture_done(&r);
    logdir_free(&l);
}

AC_TEST(meta_run_fixture, torn_down_after_a_test_crashed) {
    expect_torn_down_after("runfix.crashes", "crash", "crashed: SIGABRT");
}

AC_TEST(meta_run_fixture, torn_down_after_a_test_timed_out) {
    expect_torn_down_after("runfix.hangs", "timeout", "timed out after ");
}

/* SIGINT or SIGTERM to the runner while a test runs: the test is reported interrupted, and the run
 * fixtures are torn down before the runner exits. */
static void expect_torn_down_after_signal(int sig) {
    logdir l;
    logdir_make(&l);
    char pidfile[600], pidenv[700], tap[600];
    snprintf(pidfile, sizeof pidfile, "%s/pid", l.dir);
    snprintf(pidenv, sizeof pidenv, "RUNFIX_PIDFILE=%s", pidfile);
    snprintf(tap, sizeof tap, "--tap=%s/out.tap", l.dir);
    pid_t runner = fork();
    if (runner == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        putenv(l.env);
        putenv(pidenv);
        const char *argv[] = {FIXTURE_RUN_FIXTURE, tap, "-j1", "--filter=runfix.waits_to_be_interrupted",
                              NULL};
        execv(argv[0], (char *const *)argv);
        _exit(126);
    }
    AC_ASSERT_GT(runner, 0);
    char *pid = NULL;
    for (int i = 0; i < 1000 && !pid; i++) { /* up to 10 s for the test to start */
        pid = read_file(pidfile);
        if (!pid)
            usleep(10000);
    }
    AC_ASSERT_NOT_NULL(pid); /* the test started */
    free(pid);
    kill(runner, sig);
    int status;
    pid_t got;
    while ((got = waitpid(runner, &status, 0)) < 0 && errno == EINTR)
        ;
    AC_ASSERT_EQ(got, runner);
    AC_EXPECT_TRUE(WIFEXITED(status));
    AC_EXPECT_EQ(WEXITSTATUS(status), 128 + sig);
    char *text = log_text(&l);
    expect_one_run(text, 1);
    free(text);
    char path[600];
    snprintf(path, sizeof path, "%s/out.tap", l.dir);
    char *report = read_file(path);
    AC_ASSERT_NOT_NULL(report);
    AC_EXPECT_STR_CONTAINS(report, "  type: interrupted\n");
    free(report);
    logdir_free(&l);
}

AC_TEST(meta_run_fixture, torn_down_after_sigint_to_the_runner) {
    expect_torn_down_after_signal(SIGINT);
}

AC_TEST(meta_run_fixture, torn_down_after_sigterm_to_the_runner) {
    expect_torn_down_after_signal(SIGTERM);
}

/* SIGINT while the first setup runs: it finishes, the others are never set up, no test runs, and what
 * was set up is torn down; a setup blocked in a read (waiting for a server that never answers) has the
 * read interrupted (EINTR), not restarted. */
static void sigint_during_a_setup(bool blocks) {
    logdir l;
    logdir_make(&l);
    char marker[600], markenv[700], tap[600];
    snprintf(marker, sizeof marker, "%s/setting-up", l.dir);
    snprintf(markenv, sizeof markenv, "RUNFIX_SETUP_MARKER=%s", marker);
    snprintf(tap, sizeof tap, "--tap=%s/out.tap", l.dir);
    pid_t runner = fork();
    if (runner == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        putenv(l.env);
        putenv(markenv);
        if (blocks)
            putenv("RUNFIX_SETUP_BLOCKS=1");
        const char *argv[] = {FIXTURE_RUN_FIXTURE, tap, "--filter=runfix.sees_*", NULL};
        execv(argv[0], (char *const *)argv);
        _exit(126);
    }
    AC_ASSERT_GT(runner, 0);
    for (int i = 0; i < 1000 && access(marker, F_OK) != 0; i++)
        usleep(10000);
    AC_ASSERT_EQ(access(marker, F_OK), 0); /* the setup is under way */
    kill(runner, SIGINT);
    int status;
    pid_t got;
    while ((got = waitpid(runner, &status, 0)) < 0 && errno == EINTR)
        ;
    AC_ASSERT_EQ(got, runner);
    AC_EXPECT_TRUE(WIFEXITED(status));
    AC_EXPECT_EQ(WEXITSTATUS(status), 130);
    char *text = log_text(&l);
    AC_EXPECT_STR_EQ(text, blocks ? "setup first: read: Interrupted system call\nsetup first\nteardown first "
                                    "first-data\n"
                                  : "setup first\nteardown first first-data\n");
    free(text);
    char path[600];
    snprintf(path, sizeof path, "%s/out.tap", l.dir);
    char *report = read_file(path);
    AC_ASSERT_NOT_NULL(report);
    AC_EXPECT_EQ(count(report, "# SKIP not run: the runner was interrupted by SIGINT\n"), 4u);
    free(report);
    logdir_free(&l);
}

AC_TEST(meta_run_fixture, sigint_during_a_setup_runs_no_test_and_tears_down) {
    sigint_during_a_setup(false);
}

AC_TEST(meta_run_fixture, sigint_interrupts_a_setup_blocked_in_a_read, .timeout = 10) {
    sigint_during_a_setup(true);
}

AC_TEST(meta_run_fixture, a_failed_setup_fails_exactly_the_tests_that_use_it) {
    for (int no_fork = 0; no_fork < 2; no_fork++) {
        logdir l;
        logdir_make(&l);
        const char *args[] = {"--filter=runfix.uses_broken", "--filter=runfix.sees_*",
                              no_fork ? "--no-fork" : "-j2", NULL};
        const char *env[] = {l.env, NULL};
        fixture_run r;
        fixture_tap(&r, FIXTURE_RUN_FIXTURE, args, env);
        AC_EXPECT_EQ(r.p.status, 1);
        const tap_point *pt = point(&r, "runfix.uses_broken");
        AC_EXPECT_FALSE(pt->ok);
        AC_EXPECT_STR_EQ(field(pt, "  message: "),
                         "run fixture broken failed to set up: no server at /nonexistent/server");
        AC_EXPECT_STR_EQ(field(pt, "  type: "), "assertion");
        AC_EXPECT_TRUE(ends_with(field(pt, "    file: "), "/fixtures/run_fixture.c"));
        AC_EXPECT_EQ(atoi(field(pt, "    line: ")),
                     line_of(FIXTURE_RUN_FIXTURE_SOURCE, "AC_RUN_FIXTURE(broken,"));
        size_t passed = 0;
        for (size_t i = 0; i < r.tap.n; i++)
            passed += r.tap.points[i].ok;
        AC_EXPECT_EQ(passed, 4u); /* every other test */
        AC_EXPECT_STR_CONTAINS(ac__buf_str(&r.p.err), "asyncheck: run fixture broken (");
        AC_EXPECT_STR_CONTAINS(ac__buf_str(&r.p.err), "): setup failed: no server at /nonexistent/server\n");
        char *text = log_text(&l);
        expect_one_run(text, 4); /* the failed one's teardown never ran */
        free(text);
        fixture_done(&r);
        logdir_free(&l);
    }
}

AC_TEST(meta_run_fixture, listing_sets_up_nothing) {
    logdir l;
    logdir_make(&l);
    const char *env[] = {l.env, NULL};
    const char *modes[] = {"--list", "--list=tsv", "--help", "--version"};
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
        const char *argv[] = {FIXTURE_RUN_FIXTURE, modes[i], NULL};
        proc p;
        run_process(argv, env, &p);
        AC_EXPECT_EQ(p.status, 0);
        AC_EXPECT_NULL(strstr(ac__buf_str(&p.err), "setup"));
        proc_free(&p);
    }
    char *text = read_file(l.log);
    AC_EXPECT_STR_EQ(text ? text : "(no log)", "(no log)");
    free(text);
    /* nor does a shard with no test in it */
    const char *shard[] = {FIXTURE_RUN_FIXTURE, "--filter=runfix.sees_1", NULL};
    const char *shard_env[] = {l.env, "GTEST_TOTAL_SHARDS=2", "GTEST_SHARD_INDEX=1", NULL};
    proc p;
    run_process(shard, shard_env, &p);
    AC_EXPECT_EQ(p.status, 0);
    proc_free(&p);
    text = read_file(l.log);
    AC_EXPECT_STR_EQ(text ? text : "(no log)", "(no log)");
    free(text);
    logdir_free(&l);
}

AC_TEST(meta_run_fixture, misuse_fails_the_test_with_the_reason) {
    fixture_run r;
    const tap_point *pt = fixture_point(&r, FIXTURE_RUN_FIXTURE, "runfix.unknown_name", NULL, NULL);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "no run fixture is named 'nope' (registered: first, second, broken)");
    fixture_done(&r);
    pt = fixture_point(&r, FIXTURE_RUN_FIXTURE, "runfix.fail_outside_setup", NULL, NULL);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "ac_run_fixture_fail called outside a run fixture's setup: from a test, 7");
    fixture_done(&r);
}

AC_TEST(meta_run_fixture, duplicate_names_are_refused) {
    const char *argv[] = {FIXTURE_RUN_FIXTURE_DUP, NULL};
    proc p;
    run_process(argv, NULL, &p);
    AC_EXPECT_EQ(p.status, 2);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.err), "two run fixtures are named dup (");
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.err), "run_fixture_dup_a.c:");
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.err), "run_fixture_dup_b.c:");
    AC_EXPECT_NULL(strstr(ac__buf_str(&p.out), "set up")); /* neither was set up */
    AC_EXPECT_NULL(strstr(ac__buf_str(&p.err), "set up"));
    proc_free(&p);
}
