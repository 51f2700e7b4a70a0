/* meta_forksrv.c — the fork servers (src/runner/forksrv.c) seen from outside, through fixtures/forksrv.c:
 * every test process is the runner's own child (with the servers and without them, AC_FORK_SERVER=0); a
 * run whose fork servers are killed by a test goes on, each slot forking for itself, every test passing;
 * and a test whose server was stopped is started anew when its watchdog gives the server up. */
#include "meta.h"
#include "runner/runner.h" /* ac__forksrv_available: not under a sanitizer */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void all_pass(fixture_run *r, size_t n) {
    AC_EXPECT_EQ(r->p.status, 0);
    AC_EXPECT_EQ(r->tap.n, n);
    size_t passed = 0;
    for (size_t i = 0; i < r->tap.n; i++)
        passed += r->tap.points[i].ok;
    AC_EXPECT_EQ(passed, n);
}

AC_TEST(meta_forksrv, every_test_process_is_the_runners_child) {
    const char *args[] = {"--filter=forksrv.parent_is_the_runner", "--repeat=6", "-j2", NULL};
    fixture_run r;
    fixture_tap(&r, FIXTURE_FORKSRV, args, NULL);
    all_pass(&r, 6);
    fixture_done(&r);
    const char *env[] = {"AC_FORK_SERVER=0", NULL};
    fixture_tap(&r, FIXTURE_FORKSRV, args, env);
    all_pass(&r, 6);
    fixture_done(&r);
}

/* Runs kills_the_fork_servers then passes, 3 times each, at -j1, and returns the log. */
static char *killing_run(const char *fork_server) {
    char *dir = make_temp_dir();
    char log[600], env_log[640], env_srv[64];
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(env_log, sizeof env_log, "FORKSRV_LOG=%s", log);
    snprintf(env_srv, sizeof env_srv, "AC_FORK_SERVER=%s", fork_server);
    const char *env[] = {env_log, env_srv, NULL};
    const char *args[] = {"--filter=forksrv.kills_the_fork_servers", "--filter=forksrv.passes", "--repeat=3",
                          "-j1", NULL};
    fixture_run r;
    fixture_tap(&r, FIXTURE_FORKSRV, args, env);
    all_pass(&r, 6);
    fixture_done(&r);
    char *text = read_file(log);
    rm_tree(dir);
    free(dir);
    return text;
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

AC_TEST(meta_forksrv, a_stopped_fork_server_is_given_up_at_the_watchdog, .timeout = 60) {
    if (!ac__forksrv_available())
        AC_SKIP("fork servers are not used here (a sanitizer build, AC_FORK_SERVER=0, or no clone3)");
    char *dir = make_temp_dir();
    char log[600], env_log[640];
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(env_log, sizeof env_log, "FORKSRV_LOG=%s", log);
    const char *env[] = {env_log, NULL};
    const char *args[] = {"--filter=forksrv.stops_the_fork_servers",
                          "--filter=forksrv.passes_after_a_stopped_server", "-j1", NULL};
    fixture_run r;
    fixture_tap(&r, FIXTURE_FORKSRV, args, env);
    all_pass(&r, 2);
    fixture_done(&r);
    char *text = read_file(log);
    AC_EXPECT_STR_EQ(text ? text : "", "stopped 1\n");
    free(text);
    rm_tree(dir);
    free(dir);
}
