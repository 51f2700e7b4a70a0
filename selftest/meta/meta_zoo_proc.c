/* meta_zoo_proc.c — the runner against hostile processes, signals and records (fixtures/zoo_proc.c) and a
 * hostile start-up environment: each case is reported as what it was, the neighbour is unaffected, the
 * TAP stream stays valid, nothing hangs. */
#include "meta.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs one zoo_proc test (with zoo_proc.passes beside it, which must pass) plus `extra` arguments. */
static const tap_point *zoo_proc(fixture_run *r, const char *name, const char *extra) {
    char filter[128];
    snprintf(filter, sizeof filter, "--filter=%s", name);
    const char *args[] = {filter, "--filter=zoo_proc.passes", extra, NULL};
    fixture_tap(r, FIXTURE_ZOO_PROC, args, NULL);
    AC_EXPECT_TRUE(point(r, "zoo_proc.passes")->ok);
    return point(r, name);
}

/* A field of the k-th failure of a point, also when it has only one (no `failures:` list then). */
static const char *nth(const tap_point *pt, size_t k, const char *key) {
    if (pt->yaml && strstr(pt->yaml, "  failures:\n"))
        return failure_field(pt, k, key);
    if (k > 0)
        return "";
    char prefix[32];
    snprintf(prefix, sizeof prefix, "  %s: ", key);
    return field(pt, prefix);
}

/* The k-th failure of `pt` has this type and a message containing `part`. */
static void expect_failure(const tap_point *pt, size_t k, const char *type, const char *part) {
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(nth(pt, k, "type"), type);
    AC_EXPECT_STR_CONTAINS(nth(pt, k, "message"), part);
}

static const char fell_through[] = "forked by the test: returned from the test's body into asyncheck's "
                                   "harness; asyncheck ended it (end a forked process with _exit)";

/* A signal a test sends its parent reaches asyncheck (the runner at -j1, the test's lane at -j2): it fails
 * that test, and the run goes on (the neighbour passes, the plan is complete, the run exits 1). */
AC_TEST(meta_zoo_proc, a_signal_a_test_sends_its_parent_fails_the_test_not_the_run, .timeout = 30) {
    static const char *const cases[][3] = {
        {"zoo_proc.signals_its_parent_usr1", "process", "SIGUSR1 (User defined signal 1)"},
        {"zoo_proc.signals_its_parent_term_and_exits", "process", "SIGTERM (Terminated)"},
        {"zoo_proc.signals_its_parent_pipe", "process", "SIGPIPE (Broken pipe)"},
        {"zoo_proc.signals_its_parent_rtmin", "process", "SIGRTMIN+1 (Real-time signal 1)"},
        {"zoo_proc.signals_its_parent_from_a_grandchild", "descendant", "SIGUSR1 (User defined signal 1)"},
    };
    static const char *const jobs[][2] = {{"-j1", "runner"}, {"-j2", "lane"}};
    for (size_t j = 0; j < 2; j++)
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            fixture_run r;
            const tap_point *pt = zoo_proc(&r, cases[i][0], jobs[j][0]);
            char part[160];
            snprintf(part, sizeof part, "the test's %s (pid ", cases[i][1]);
            expect_failure(pt, 0, "harness", part);
            snprintf(part, sizeof part, "sent %s to the test's parent, which is asyncheck's %s: not acted on",
                     cases[i][2], jobs[j][1]);
            expect_failure(pt, 0, "harness", part);
            AC_EXPECT_EQ(r.tap.n, 2);
            AC_EXPECT_EQ(r.p.status, 1); /* not 128 + the signal */
            fixture_done(&r);
        }
}

AC_TEST(meta_zoo_proc, a_tests_signals_are_at_their_defaults_at_any_jobs) {
    static const char *const jobs[] = {"-j1", "-j2"};
    for (size_t j = 0; j < 2; j++) {
        fixture_run r;
        AC_EXPECT_TRUE(zoo_proc(&r, "zoo_proc.its_signals_are_at_their_defaults", jobs[j])->ok);
        fixture_done(&r);
    }
}

AC_TEST(meta_zoo_proc, a_forked_child_falling_through_is_reported) {
    fixture_run r;
    const tap_point *pt = zoo_proc(&r, "zoo_proc.fork_falls_through", NULL);
    expect_failure(pt, 0, "harness", fell_through);
    AC_EXPECT_STR_EQ(nth(pt, 1, "type"), ""); /* the only failure */
    fixture_done(&r);
}

/* The child's harness ran to its end before the parent died: the parent's death is still the outcome. */
AC_TEST(meta_zoo_proc, a_forked_child_cannot_mask_its_parents_death) {
    fixture_run r;
    const tap_point *pt = zoo_proc(&r, "zoo_proc.fork_falls_through_then_aborts", NULL);
    expect_failure(pt, 0, "harness", fell_through);
    expect_failure(pt, 1, "crash", "crashed: SIGABRT (Aborted) in body");
    fixture_done(&r);
    pt = zoo_proc(&r, "zoo_proc.fork_falls_through_then_exits_3", NULL);
    expect_failure(pt, 1, "exit", "exited unexpectedly with status 3 in body");
    fixture_done(&r);
    pt = zoo_proc(&r, "zoo_proc.fork_falls_through_then_hangs", NULL);
    expect_failure(pt, 1, "timeout", "(limit 0.500 s) in body; the test's process group was killed");
    fixture_done(&r);
}

AC_TEST(meta_zoo_proc, a_forked_childs_failure_says_where_it_came_from) {
    fixture_run r;
    const tap_point *pt = zoo_proc(&r, "zoo_proc.fork_fails_an_expectation", NULL);
    expect_failure(pt, 0, "assertion", ", forked by the test: AC_EXPECT_EQ(1, 2) failed");
    AC_EXPECT_EQ(strncmp(nth(pt, 0, "message"), "in process ", 11), 0);
    fixture_done(&r);
}

AC_TEST(meta_zoo_proc, a_forged_done_record_cannot_mask_a_crash) {
    fixture_run r;
    const tap_point *pt = zoo_proc(&r, "zoo_proc.forges_done_then_aborts", NULL);
    expect_failure(pt, 0, "crash", "crashed: SIGABRT (Aborted) in body");
    AC_EXPECT_STR_CONTAINS(nth(pt, 0, "message"),
                           "(a \"done\" record had arrived, but not from the test's own process)");
    fixture_done(&r);
}

/* Under --no-fork the forked child is a copy of the whole runner: it must not go on to report tests
 * (the TAP is parsed strictly: no point twice), and what it did is still the test's failure. */
AC_TEST(meta_zoo_proc, under_no_fork_a_falling_through_child_leaves_the_tap_valid) {
    fixture_run r;
    const tap_point *pt = zoo_proc(&r, "zoo_proc.fork_falls_through", "--no-fork");
    AC_EXPECT_EQ(r.tap.n, 2u);
    expect_failure(pt, 0, "harness", fell_through);
    fixture_done(&r);
    pt = zoo_proc(&r, "zoo_proc.fork_fails_an_expectation", "--no-fork");
    expect_failure(pt, 0, "assertion", ", forked by the test: AC_EXPECT_EQ(1, 2) failed");
    fixture_done(&r);
}

/* ---- a hostile start-up environment ---- */

typedef enum hostile {
    SIGCHLD_IGNORED, /* a parent harness left SIGCHLD at SIG_IGN */
    STDOUT_CLOSED,   /* started with >&- */
    FD_LIMIT_64,     /* ulimit -n 64 (soft and hard) */
} hostile;

/* Runs the zoo_proc fixture in a child prepared as `how`, with TAP into dir/out.tap and `args`. Returns
 * its exit status (128 + signal), or -1 when it did not end within 30 s (it is then killed). */
static int run_hostile(hostile how, const char *dir, const char *const *args) {
    char tap[512];
    snprintf(tap, sizeof tap, "--tap=%s/out.tap", dir);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        close(devnull);
        if (how == SIGCHLD_IGNORED)
            signal(SIGCHLD, SIG_IGN);
        if (how == STDOUT_CLOSED)
            close(1);
        if (how == FD_LIMIT_64) {
            struct rlimit lim = {64, 64};
            if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
                _exit(125);
        }
        const char *argv[16] = {FIXTURE_ZOO_PROC, tap};
        size_t n = 2;
        for (size_t i = 0; args[i] && n < 15; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(argv[0], (char *const *)argv);
        _exit(126);
    }
    int status = 0;
    for (int i = 0; i < 3000; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

/* The TAP file of a run_hostile run, parsed strictly (fails the calling test when invalid). */
static bool hostile_tap(const char *dir, tap_doc *doc) {
    char path[600];
    snprintf(path, sizeof path, "%s/out.tap", dir);
    char *text = read_file(path);
    AC_ASSERT_NOT_NULL(text);
    ac__buf why = {0};
    bool ok = tap_parse(text, doc, &why);
    AC_EXPECT_STR_EQ(ac__buf_str(&why), ""); /* the first offending line */
    ac__buf_free(&why);
    free(text);
    return ok;
}

AC_TEST(meta_zoo_proc, sigchld_ignored_by_the_parent_changes_nothing, .timeout = 60) {
    char *dir = make_temp_dir();
    const char *args[] = {"--filter=zoo_proc.aborts", "--filter=zoo_proc.passes", NULL};
    AC_EXPECT_EQ(run_hostile(SIGCHLD_IGNORED, dir, args), 1); /* not a hang */
    tap_doc doc;
    if (hostile_tap(dir, &doc)) {
        AC_EXPECT_TRUE(tap_find(&doc, "zoo_proc.passes")->ok);
        const tap_point *pt = tap_find(&doc, "zoo_proc.aborts");
        expect_failure(pt, 0, "crash", "crashed: SIGABRT (Aborted) in body");
        tap_free(&doc);
    }
    rm_tree(dir);
    free(dir);
}

AC_TEST(meta_zoo_proc, a_closed_stdout_does_not_send_the_human_report_into_a_report_file) {
    char *dir = make_temp_dir();
    const char *args[] = {"--filter=zoo_proc.aborts", "--filter=zoo_proc.passes", NULL};
    AC_EXPECT_EQ(run_hostile(STDOUT_CLOSED, dir, args), 1);
    tap_doc doc; /* only TAP in the file: the human report went to /dev/null */
    if (hostile_tap(dir, &doc)) {
        AC_EXPECT_EQ(doc.n, 2u);
        tap_free(&doc);
    }
    rm_tree(dir);
    free(dir);
}

AC_TEST(meta_zoo_proc, a_low_fd_limit_runs_fewer_at_once_not_worse, .timeout = 60) {
    char *dir = make_temp_dir();
    const char *args[] = {"--filter=zoo_proc.passes", "--repeat=64", "-j32", NULL};
    AC_EXPECT_EQ(run_hostile(FD_LIMIT_64, dir, args), 0); /* every test passes: none lacks a pipe */
    tap_doc doc;
    if (hostile_tap(dir, &doc)) {
        AC_EXPECT_EQ(doc.n, 64u);
        tap_free(&doc);
    }
    rm_tree(dir);
    free(dir);
}

/* ---- forged records ---- */

AC_TEST(meta_zoo_proc, forged_records_fail_their_test_and_the_run_goes_on) {
    fixture_run r;
    const tap_point *pt = zoo_proc(&r, "zoo_proc.forges_a_failure_kind_out_of_range", NULL);
    expect_failure(pt, 0, "harness",
                   "malformed record from the test process (type 'F'): failure kind '999999' is not one "
                   "asyncheck knows; the record was ignored");
    fixture_done(&r);
    pt = zoo_proc(&r, "zoo_proc.forges_a_truncated_failure", NULL);
    expect_failure(pt, 0, "harness",
                   "malformed record from the test process (type 'F'): 2 fields where it needs 7; the record "
                   "was ignored");
    fixture_done(&r);
    pt = zoo_proc(&r, "zoo_proc.forges_an_unknown_record_type", NULL);
    expect_failure(pt, 0, "harness",
                   "malformed record from the test process (type 'Z'): not a record type asyncheck writes; "
                   "the record was ignored");
    fixture_done(&r);
}

/* Every record arrives whole although its writes were interrupted: none lost, no malformed stream, no
 * lost "done". */
AC_TEST(meta_zoo_proc, records_survive_interrupted_writes) {
    fixture_run r;
    const tap_point *pt = zoo_proc(&r, "zoo_proc.records_under_an_interval_timer", NULL);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_EQ(strncmp(nth(pt, 0, "message"), "record 0: xxx", 13), 0);
    size_t k = 0;
    for (; k < 200 && nth(pt, k, "type")[0]; k++) {
        AC_EXPECT_STR_EQ(nth(pt, k, "type"), "assertion"); /* nothing else: no harness failure, no exit */
        char want[32];
        snprintf(want, sizeof want, "record %zu: xxx", k);
        AC_EXPECT_EQ(strncmp(nth(pt, k, "message"), want, strlen(want)), 0);
    }
    AC_EXPECT_GE(k, 40u); /* all 200 in order (or the first of them, should the failures kept be capped) */
    fixture_done(&r);
}

/* ---- timeouts the watchdog cannot keep ---- */

static void expect_refused_timeout(const char *name, const char *extra, const char *message) {
    fixture_run r;
    const tap_point *pt = zoo_proc(&r, name, extra);
    expect_failure(pt, 0, "harness", message);
    fixture_done(&r);
}

AC_TEST(meta_zoo_proc, a_timeout_the_watchdog_cannot_keep_is_refused) {
    static const char *const modes[] = {NULL, "--no-fork"};
    for (size_t m = 0; m < 2; m++) {
        expect_refused_timeout("zoo_proc.timeout_nan", modes[m],
                               "the test's .timeout = nan s is not a number of seconds from 0 to 10,000,000; "
                               "the test was not run");
        expect_refused_timeout("zoo_proc.timeout_infinite", modes[m], "the test's .timeout = inf s is not");
        expect_refused_timeout("zoo_proc.timeout_1e300", modes[m], "the test's .timeout = 1e+300 s is not");
        expect_refused_timeout("zoo_proc_suite.timeout_infinite_from_the_suite", modes[m],
                               "its suite's .timeout = inf s is not a number of seconds");
    }
}

/* ---- nothing a test starts outlives it ---- */

/* A test process is a child subreaper: an orphan that died may be this test's zombie (reaped here). */
static bool alive(pid_t pid) {
    waitpid(pid, NULL, WNOHANG);
    return kill(pid, 0) == 0 || errno != ESRCH;
}

/* The pid in `path`, or 0. */
static pid_t read_pid(const char *path) {
    char *text = read_file(path);
    pid_t pid = text ? (pid_t)atoi(text) : 0;
    free(text);
    return pid;
}

static void expect_no_orphan_left(const char *name, const char *extra, bool passes) {
    char *dir = make_temp_dir();
    char pidfile[512], env[600];
    snprintf(pidfile, sizeof pidfile, "%s/pid", dir);
    snprintf(env, sizeof env, "ZOO_PROC_PIDFILE=%s", pidfile);
    const char *envs[] = {env, NULL};
    char filter[128];
    snprintf(filter, sizeof filter, "--filter=%s", name);
    const char *args[] = {filter, extra, NULL};
    fixture_run r;
    fixture_tap(&r, FIXTURE_ZOO_PROC, args, envs);
    AC_EXPECT_EQ(point(&r, name)->ok, passes);
    pid_t orphan = read_pid(pidfile);
    AC_ASSERT_GT(orphan, 0);
    bool gone = false;
    for (int i = 0; i < 200 && !gone; i++) { /* the runner has ended: it must be gone already */
        gone = !alive(orphan);
        if (!gone)
            usleep(10000);
    }
    AC_EXPECT_TRUE(gone);
    if (!gone)
        kill(orphan, SIGKILL); /* leave nothing behind ourselves */
    fixture_done(&r);
    rm_tree(dir);
    free(dir);
}

AC_TEST(meta_zoo_proc, a_grandchild_in_its_own_session_dies_with_its_test) {
    expect_no_orphan_left("zoo_proc.setsid_grandchild_left_running", "-j1", true);
    expect_no_orphan_left("zoo_proc.setsid_grandchild_then_crash", "-j1", false);
    expect_no_orphan_left("zoo_proc.setsid_grandchild_left_running", "-j2", true);
}

/* ---- messages that say what happened ---- */

AC_TEST(meta_zoo_proc, a_closed_record_channel_is_named) {
    fixture_run r;
    const tap_point *pt = zoo_proc(&r, "zoo_proc.closes_the_record_channel", NULL);
    expect_failure(
        pt, 0, "harness",
        "the test closed its record channel (fd 3) in body: nothing it reported after that reached "
        "the runner, its end included (leave fd 3 open)");
    fixture_done(&r);
}

AC_TEST(meta_zoo_proc, a_traced_test_that_segfaults_is_a_crash) {
    fixture_run r;
    const tap_point *pt = zoo_proc(&r, "zoo_proc.traced_by_the_runner_segfaults", NULL);
    if (pt->directive) { /* ptrace is not allowed on this machine */
        fixture_done(&r);
        AC_SKIP("%s", pt->directive);
    }
    expect_failure(
        pt, 0, "crash",
        "crashed: SIGSEGV (Segmentation fault) in body; the signal stopped the test instead of ending "
        "it (the test had made the runner its tracer with PTRACE_TRACEME); it was killed at its "
        "limit after ");
    fixture_done(&r);
    pt = zoo_proc(&r, "zoo_proc.stops_itself", NULL);
    expect_failure(
        pt, 0, "timeout",
        "stopped: SIGSTOP (Stopped (signal)) in body; the signal stopped the test and nothing resumed "
        "it; it was killed at its limit after ");
    fixture_done(&r);
}

AC_TEST(meta_zoo_proc, a_tiny_slow_callback_limit_blames_only_the_tests_callbacks) {
    fixture_run r;
    const tap_point *pt = zoo_proc(&r, "zoo_proc.tiny_slow_callback_limit", NULL);
    expect_failure(pt, 0, "assertion", "blocked loop: callback tick (ev_timer after=0.001 repeat=0.0) ran ");
    for (size_t k = 0; nth(pt, k, "message")[0]; k++) {
        const char *m = nth(pt, k, "message");
        AC_EXPECT_NULL(strstr(m, "probe_cb")); /* asyncheck's own callbacks */
        AC_EXPECT_NULL(strstr(m, "await_expired"));
        AC_EXPECT_NULL(strstr(m, "drain_expired"));
    }
    fixture_done(&r);
}

AC_TEST(meta_zoo_proc, a_nested_ac_main_is_refused) {
    static const char *const modes[] = {NULL, "--no-fork"};
    for (size_t m = 0; m < 2; m++) {
        fixture_run r;
        const tap_point *pt = zoo_proc(&r, "zoo_proc.calls_ac_main", modes[m]);
        expect_failure(
            pt, 0, "harness",
            "nested: ac_main was called from inside the running test zoo_proc.calls_ac_main; a test "
            "cannot start a nested run (run the other executable as a process instead)");
        AC_EXPECT_STR_EQ(nth(pt, 1, "type"), ""); /* the only failure: the test went on */
        fixture_done(&r);
    }
}

/* ---- --no-fork: a thread left running ---- */

AC_TEST(meta_zoo_proc, under_no_fork_a_thread_left_running_fails_its_test) {
    fixture_run r;
    const tap_point *pt = zoo_proc(&r, "zoo_proc.leaves_a_thread_running", "--no-fork");
    expect_failure(
        pt, 0, "assertion",
        "1 thread started by the test is still running at its end: under --no-fork it would run on "
        "into the next tests (join it before the test ends, or run without --no-fork)");
    fixture_done(&r);
    pt = zoo_proc(&r, "zoo_proc.leaves_a_thread_running", NULL); /* forked: it ends with the test's process */
    AC_EXPECT_TRUE(pt->ok);
    fixture_done(&r);
}
