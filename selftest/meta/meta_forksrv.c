/* meta_forksrv.c — the fork servers (src/runner/forksrv.c) seen from outside, through fixtures/forksrv.c:
 * every test process is the runner's own child (with the servers and without them, AC_FORK_SERVER=0); a
 * run whose fork servers are killed by a test goes on, each slot forking for itself, every test passing;
 * and a test whose server was stopped is started anew when its watchdog gives the server up. */
#include "meta.h"
#include "runner/runner.h" /* ac__forksrv_available: not under a sanitizer */

#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

static void all_pass(fixture_run *r, size_t n) {
    AC_EXPECT_EQ(r->p.status, 0);
    AC_EXPECT_EQ(r->tap.n, n);
    size_t passed = 0;
    for (size_t i = 0; i < r->tap.n; i++)
        passed += r->tap.points[i].ok;
    AC_EXPECT_EQ(passed, n);
}

/* ... or its lane's, at -j2 (a lane is the runner's child) */
AC_TEST(meta_forksrv, every_test_process_is_the_runners_child) {
    const char *args[] = {"--filter=forksrv.parent_is_the_runner", "--repeat=6", "-j2", NULL};
    static const char *const envs[][4] = {{"FORKSRV_DEPTH=2", NULL},
                                          {"FORKSRV_DEPTH=2", "AC_FORK_SERVER=0", NULL},
                                          {"FORKSRV_DEPTH=1", "AC_LANES=0", NULL},
                                          {"FORKSRV_DEPTH=1", "AC_LANES=0", "AC_FORK_SERVER=0", NULL}};
    for (size_t i = 0; i < sizeof envs / sizeof *envs; i++) {
        fixture_run r;
        fixture_tap(&r, FIXTURE_FORKSRV, args, envs[i]);
        all_pass(&r, 6);
        fixture_done(&r);
    }
    /* and a wrong depth is seen: at -j1 there is no lane */
    const char *one[] = {"--filter=forksrv.parent_is_the_runner", "-j1", NULL};
    const char *env[] = {"FORKSRV_DEPTH=2", NULL};
    fixture_run r;
    fixture_tap(&r, FIXTURE_FORKSRV, one, env);
    AC_EXPECT_EQ(r.p.status, 1);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&r.p.out), "AC_EXPECT_EQ(ancestry_same_exe_depth()");
    fixture_done(&r);
}

/* Runs the fixture with `args` and AC_FORK_SERVER=`fork_server`, expects `n` tests of which `passing`
 * pass, lets `check` (NULL: none) look at the run, and returns the log the tests wrote (FORKSRV_LOG). */
static char *logged_run(const char *const *args, const char *fork_server, size_t n, size_t passing,
                        void (*check)(fixture_run *)) {
    char *dir = make_temp_dir();
    char log[600], env_log[640], env_srv[64];
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(env_log, sizeof env_log, "FORKSRV_LOG=%s", log);
    snprintf(env_srv, sizeof env_srv, "AC_FORK_SERVER=%s", fork_server);
    const char *env[] = {env_log, env_srv, NULL};
    fixture_run r;
    fixture_tap(&r, FIXTURE_FORKSRV, args, env);
    if (passing == n) {
        all_pass(&r, n);
    } else {
        AC_EXPECT_EQ(r.tap.n, n);
        size_t passed = 0;
        for (size_t i = 0; i < r.tap.n; i++)
            passed += r.tap.points[i].ok;
        AC_EXPECT_EQ(passed, passing);
    }
    if (check)
        check(&r);
    fixture_done(&r);
    char *text = read_file(log);
    rm_tree(dir);
    free(dir);
    return text;
}

/* Runs kills_the_fork_servers then passes, 3 times each, at -j1, and returns the log. */
static char *killing_run(const char *fork_server) {
    const char *args[] = {"--filter=forksrv.kills_the_fork_servers", "--filter=forksrv.passes", "--repeat=3",
                          "-j1", NULL};
    return logged_run(args, fork_server, 6, 6, NULL);
}

AC_TEST(meta_forksrv, a_killed_fork_server_leaves_the_run_unchanged) {
    if (!ac__forksrv_available())
        AC_SKIP("fork servers are not used here (a sanitizer build, AC_FORK_SERVER=0, or no clone3)");
    char *text = killing_run("1");
    AC_ASSERT_NOT_NULL(text);
    /* the first run finds the one server of -j1; its slot forks for itself from then on */
    AC_EXPECT_STR_EQ(text, "killed 1\nkilled 0\nkilled 0\n");
    free(text);
    text = killing_run("0");
    AC_ASSERT_NOT_NULL(text);
    AC_EXPECT_STR_EQ(text, "killed 0\nkilled 0\nkilled 0\n");
    free(text);
}

/* The test after the one that stopped the servers was started anew once the runner gave its server up:
 * after the runner's 5 s of patience, not the test's own 20 s timeout. */
static void check_given_up_soon(fixture_run *r) {
    ac__buf v = {0};
    xpath(r->junit, "string(//testcase[@name='passes_after_a_stopped_server']/@time)", &v);
    double seconds = atof(ac__buf_str(&v));
    AC_EXPECT_GT(seconds, 4.5);
    AC_EXPECT_LT(seconds, 12.0);
    ac__buf_free(&v);
}

AC_TEST(meta_forksrv, a_stopped_fork_server_is_given_up_after_the_runners_patience, .timeout = 60) {
    if (!ac__forksrv_available())
        AC_SKIP("fork servers are not used here (a sanitizer build, AC_FORK_SERVER=0, or no clone3)");
    const char *args[] = {"--filter=forksrv.stops_the_fork_servers",
                          "--filter=forksrv.passes_after_a_stopped_server", "-j1", NULL};
    char *text = logged_run(args, "1", 2, 2, check_given_up_soon);
    AC_EXPECT_STR_EQ(text ? text : "", "stopped 1\n");
    free(text);
}

/* The k-th run of `test` captured in `tag` (system-out, system-err) exactly `exact`, or (exact NULL)
 * something holding `head` and `tail`. */
static void expect_capture(fixture_run *r, const char *test, int k, const char *tag, const char *exact,
                           const char *head, const char *tail) {
    char expr[200];
    snprintf(expr, sizeof expr, "string((//testcase[starts-with(@name, '%s')])[%d]/%s)", test, k, tag);
    ac__buf v = {0};
    xpath(r->junit, expr, &v);
    if (exact) {
        AC_EXPECT_STR_EQ(ac__buf_str(&v), exact);
    } else {
        AC_EXPECT_STR_CONTAINS(ac__buf_str(&v), head);
        AC_EXPECT_STR_CONTAINS(ac__buf_str(&v), tail);
    }
    ac__buf_free(&v);
}

/* What each of the two runs of prints_one_line and prints_a_lot captured: its own output (nothing of the
 * test before it), all of it (the big one's head and tail: more than 128 KiB, its middle is cut). */
static void check_captures(fixture_run *r) {
    for (int k = 1; k <= 2; k++) {
        expect_capture(r, "prints_one_line", k, "system-out", "only-this-out", NULL, NULL);
        expect_capture(r, "prints_one_line", k, "system-err", "only-this-err", NULL, NULL);
        expect_capture(r, "prints_a_lot", k, "system-out", NULL, "a-out first\na-out 00000 ",
                       "a-out 03999 ..........................................\na-out last");
        expect_capture(r, "prints_a_lot", k, "system-err", NULL, "a-err first\na-err 00000 ",
                       "a-err 03998 ..........................................\na-err last");
    }
}

/* Runs prints_a_lot, prints_one_line and leaves_a_child, twice over, at -j1 with `fork_server`, checks
 * what each captured, and returns the log of the pipe each test's stdout was. */
static char *printing_run(const char *fork_server) {
    const char *args[] = {"--filter=forksrv.prints_a_lot",
                          "--filter=forksrv.prints_one_line",
                          "--filter=forksrv.leaves_a_child",
                          "--repeat=2",
                          "-j1",
                          NULL};
    return logged_run(args, fork_server, 6, 6, check_captures);
}

/* The log's six "<test> <pipe inode>" lines: the inodes, in order (false if the tests ran otherwise). */
static bool pipe_inodes(const char *text, unsigned long ino[6]) {
    static const char *const order[] = {"prints_a_lot", "prints_one_line", "leaves_a_child"};
    const char *p = text;
    for (int i = 0; i < 6; i++) {
        char name[64];
        int used = 0;
        if (sscanf(p, "%63s %lu\n%n", name, &ino[i], &used) != 2 || strcmp(name, order[i % 3]) != 0)
            return false;
        p += used;
    }
    return *p == '\0';
}

/* A test process that ends with no child left hands its slot's pipes to the next test (read to their end
 * first); one that leaves a child does not; whatever each test captured is its own. */
AC_TEST(meta_forksrv, a_slot_keeps_its_pipes_after_a_test_that_left_nothing) {
    if (!ac__forksrv_available())
        AC_SKIP("fork servers are not used here (a sanitizer build, AC_FORK_SERVER=0, or no clone3)");
    char *text = printing_run("1");
    AC_ASSERT_NOT_NULL(text);
    unsigned long ino[6];
    if (!pipe_inodes(text, ino))
        AC_FAIL("the tests did not run in the expected order; their log: %s", text);
    AC_EXPECT_EQ(ino[1], ino[0]); /* after prints_a_lot, which left nothing */
    AC_EXPECT_EQ(ino[2], ino[1]);
    AC_EXPECT_NE(ino[3], ino[2]); /* after leaves_a_child: new pipes */
    AC_EXPECT_EQ(ino[4], ino[3]);
    AC_EXPECT_EQ(ino[5], ino[4]);
    free(text);
    text = printing_run("0"); /* the runner forks each test itself: new pipes every time */
    AC_ASSERT_NOT_NULL(text);
    if (!pipe_inodes(text, ino))
        AC_FAIL("the tests did not run in the expected order; their log: %s", text);
    for (int i = 1; i < 6; i++)
        AC_EXPECT_NE(ino[i], ino[i - 1]);
    free(text);
}

/* A test's message ("" when it passed) from the run's TAP. */
static const char *message_of(fixture_run *r, const char *name) {
    return field(point(r, name), "  message: ");
}

/* After a test that put its pipes in packet mode and one that made them non-blocking, the next tests of
 * the slot get pipes as a fresh process's, nothing of the earlier tests, and their own records whole; the
 * packet writer's own 2,000 failures and its output all arrive (with fork servers and without). */
AC_TEST(meta_forksrv, a_test_that_changes_its_pipes_modes_changes_nothing_for_the_next) {
    for (int with_servers = 1; with_servers >= 0; with_servers--) {
        const char *env[] = {with_servers ? "AC_FORK_SERVER=1" : "AC_FORK_SERVER=0", NULL};
        const char *args[] = {"--filter=forksrv.writes_packets",
                              "--filter=forksrv.makes_its_pipes_non_blocking",
                              "--filter=forksrv.checks_its_pipes",
                              "--filter=forksrv.code_under_test_exits",
                              "-j1",
                              NULL};
        fixture_run r;
        fixture_tap(&r, FIXTURE_FORKSRV, args, env);
        AC_EXPECT_EQ(r.tap.n, 4u);
        const tap_point *packets = point(&r, "forksrv.writes_packets");
        AC_EXPECT_FALSE(packets->ok);
        AC_EXPECT_STR_EQ(field(packets, "  failures_omitted: "), "1900"); /* all 2,000 arrived */
        AC_EXPECT_TRUE(point(&r, "forksrv.makes_its_pipes_non_blocking")->ok);
        AC_EXPECT_TRUE(point(&r, "forksrv.checks_its_pipes")->ok);
        AC_EXPECT_FALSE(point(&r, "forksrv.code_under_test_exits")->ok);
        AC_EXPECT_STR_CONTAINS(message_of(&r, "forksrv.code_under_test_exits"),
                               "exited unexpectedly with status 3 in body");
        expect_capture(&r, "writes_packets", 1, "system-out", NULL, "packet 0\n", "packet 1999");
        expect_capture(&r, "checks_its_pipes", 1, "system-out", "clean", NULL, NULL);
        fixture_done(&r);
    }
}

/* The innocent tests after a ghost: their own capture, and the exit found. */
static void check_after_ghost(fixture_run *r) {
    AC_EXPECT_TRUE(point(r, "forksrv.checks_its_pipes")->ok);
    expect_capture(r, "checks_its_pipes", 1, "system-out", "clean", NULL, NULL);
    expect_capture(r, "checks_its_pipes", 1, "system-err", "", NULL, NULL);
    AC_EXPECT_FALSE(point(r, "forksrv.code_under_test_exits")->ok);
    AC_EXPECT_STR_CONTAINS(message_of(r, "forksrv.code_under_test_exits"),
                           "exited unexpectedly with status 3 in body");
}

/* A process a test leaves behind in a way its own process cannot see (its subreaper flag turned off,
 * clone(CLONE_PARENT), a clone child without exit signal) is killed when the test ends: it never writes
 * into the next tests' pipes, nor makes one that exits pass with a forged "done". */
AC_TEST(meta_forksrv, a_process_left_behind_is_killed_when_its_test_ends) {
    static const char *const leavers[] = {"forksrv.leaves_a_ghost_without_subreaper",
                                          "forksrv.leaves_a_ghost_beside_it",
                                          "forksrv.leaves_a_clone_child_ghost"};
    for (size_t k = 0; k < sizeof leavers / sizeof *leavers; k++) {
        char filter[128];
        snprintf(filter, sizeof filter, "--filter=%s", leavers[k]);
        const char *args[] = {filter, "--filter=forksrv.checks_its_pipes",
                              "--filter=forksrv.code_under_test_exits", "-j1", NULL};
        char *text = logged_run(args, "1", 3, 2, check_after_ghost);
        /* killed at once (before it could log a line, so no log at all, or after), never alive 0.6 s later */
        if (text && strcmp(text, "") != 0)
            AC_EXPECT_STR_EQ(text, "ghost alive\n");
        free(text);
    }
}
