/* meta_cli.c — the test executable's command line, exit statuses, the human report, --list,
 * --fail-fast, --no-fork, ac_main from a user's main, TAP to a file, and prove accepting the TAP. */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void run(proc *p, const char *const *argv, const char *const *env) {
    run_process(argv, env, p);
}

/* The last line of a text (without its newline). */
static const char *last_line(const ac__buf *b) {
    static char line[512];
    const char *s = ac__buf_str(b);
    size_t n = strlen(s);
    while (n && s[n - 1] == '\n')
        n--;
    size_t start = n;
    while (start && s[start - 1] != '\n')
        start--;
    snprintf(line, sizeof line, "%.*s", (int)(n - start), s + start);
    return line;
}

static size_t count_lines(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void expect_usage_error(const char *const *argv, const char *const *env, const char *reason) {
    proc p;
    run(&p, argv, env);
    AC_EXPECT_EQ(p.status, 2);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.err), reason);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.err), "--help' for usage.");
    AC_EXPECT_EQ(count_lines(ac__buf_str(&p.err)), 2u); /* the reason and the hint, nothing else */
    AC_EXPECT_STR_EQ(ac__buf_str(&p.out), "");          /* no test ran */
    proc_free(&p);
}

AC_TEST(meta_cli, bad_input_is_a_usage_error) {
    const char *unknown[] = {FIXTURE_OUTCOMES, "--frobnicate", NULL};
    expect_usage_error(unknown, NULL, "unknown option '--frobnicate'");
    const char *jobs[] = {FIXTURE_OUTCOMES, "-j", "two", NULL};
    expect_usage_error(jobs, NULL, "--jobs: 'two' is not a whole number");
    const char *jobs0[] = {FIXTURE_OUTCOMES, "--jobs=0", NULL};
    expect_usage_error(jobs0, NULL, "--jobs: '0'");
    const char *timeout[] = {FIXTURE_OUTCOMES, "--timeout", "5s", NULL};
    expect_usage_error(timeout, NULL, "--timeout: '5s' is not a positive number of seconds");
    const char *missing[] = {FIXTURE_OUTCOMES, "--timeout", NULL};
    expect_usage_error(missing, NULL, "option '--timeout' needs a value");
    const char *color[] = {FIXTURE_OUTCOMES, "--color=blue", NULL};
    expect_usage_error(color, NULL, "--color: 'blue' is not one of auto, always, never");
    const char *filter[] = {FIXTURE_OUTCOMES, "--filter", "nothing.here*", NULL};
    expect_usage_error(filter, NULL, "--filter 'nothing.here*' matches no test");
    const char *positional[] = {FIXTURE_OUTCOMES, "outcomes.passes", NULL};
    expect_usage_error(positional, NULL, "unexpected argument 'outcomes.passes'");
    const char *novalue[] = {FIXTURE_OUTCOMES, "--no-fork=yes", NULL};
    expect_usage_error(novalue, NULL, "option '--no-fork' takes no value");
    const char *listfmt[] = {FIXTURE_OUTCOMES, "--list=xml", NULL};
    expect_usage_error(listfmt, NULL, "--list: 'xml' is not a list format");
    const char *mult[] = {FIXTURE_OUTCOMES, NULL};
    const char *mult_env[] = {"AC_TIMEOUT_MULTIPLIER=fast", NULL};
    expect_usage_error(mult, mult_env, "AC_TIMEOUT_MULTIPLIER: 'fast' is not a positive number");
    const char *junit[] = {FIXTURE_OUTCOMES, "--junit", "/nonexistent-dir/x.xml", NULL};
    expect_usage_error(junit, NULL,
                       "--junit: cannot write '/nonexistent-dir/x.xml': No such file or directory");
    const char *tap[] = {FIXTURE_OUTCOMES, "--tap=/nonexistent-dir/x.tap", NULL};
    expect_usage_error(tap, NULL, "--tap: cannot write '/nonexistent-dir/x.tap'");
}

AC_TEST(meta_cli, duplicate_names_are_refused) {
    const char *argv[] = {FIXTURE_DUPLICATE, NULL};
    proc p;
    run(&p, argv, NULL);
    AC_EXPECT_EQ(p.status, 2);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.err), "two tests are named dup.same_name (");
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.err), "duplicate_a.c:");
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.err), "duplicate_b.c:");
    proc_free(&p);
}

AC_TEST(meta_cli, exit_statuses) {
    proc p;
    const char *pass[] = {FIXTURE_OUTCOMES, "--filter=outcomes.passes", NULL};
    run(&p, pass, NULL);
    AC_EXPECT_EQ(p.status, 0);
    proc_free(&p);
    const char *fail[] = {FIXTURE_OUTCOMES, "--filter=outcomes.passes", "--filter=outcomes.assert_stops",
                          NULL};
    run(&p, fail, NULL);
    AC_EXPECT_EQ(p.status, 1);
    proc_free(&p);
    const char *skip[] = {FIXTURE_OUTCOMES, "--filter=outcomes.skip_*", NULL};
    run(&p, skip, NULL);
    AC_EXPECT_EQ(p.status, 77);
    proc_free(&p);
    const char *mixed[] = {FIXTURE_OUTCOMES, "--filter=outcomes.skip_*", "--filter=outcomes.passes", NULL};
    run(&p, mixed, NULL);
    AC_EXPECT_EQ(p.status, 0);
    proc_free(&p);
    const char *help[] = {FIXTURE_OUTCOMES, "--help", NULL};
    run(&p, help, NULL);
    AC_EXPECT_EQ(p.status, 0);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "--filter GLOB");
    proc_free(&p);
    const char *version[] = {FIXTURE_OUTCOMES, "--version", NULL};
    run(&p, version, NULL);
    AC_EXPECT_EQ(p.status, 0);
    AC_EXPECT_STR_EQ(ac__buf_str(&p.out), "asyncheck " ASYNCHECK_VERSION "\n");
    proc_free(&p);
}

AC_TEST(meta_cli, list_and_filters) {
    proc p;
    const char *argv[] = {FIXTURE_OUTCOMES, "--list",         "--filter", "outcomes_*",
                          "--filter",       "-*.after_fatal", NULL};
    run(&p, argv, NULL);
    AC_EXPECT_EQ(p.status, 0);
    AC_EXPECT_STR_EQ(ac__buf_str(&p.out),
                     "outcomes_setup.body_skipped\noutcomes_bad_teardown.fails_in_teardown\n"
                     "outcomes_fixture.owns_a_watcher\noutcomes_leaky_fixture.forgets_to_stop\n"
                     "outcomes_suite_timeout.hangs\n");
    proc_free(&p);
    const char *exclude_only[] = {FIXTURE_ASSERTS, "--list", "--filter=-asserts.*", NULL};
    run(&p, exclude_only, NULL);
    AC_EXPECT_EQ(p.status, 0);
    AC_EXPECT_STR_EQ(ac__buf_str(&p.out), "");
    proc_free(&p);
}

AC_TEST(meta_cli, list_tsv_for_discovery) {
    proc p;
    const char *argv[] = {FIXTURE_OUTCOMES,
                          "--list=tsv",
                          "--filter=outcomes.hangs",
                          "--filter=outcomes.passes",
                          "--filter=outcomes_suite_timeout.*",
                          NULL};
    run(&p, argv, NULL);
    AC_EXPECT_EQ(p.status, 0);
    const char *out = ac__buf_str(&p.out);
    AC_EXPECT_EQ(strncmp(out, "outcomes.passes\t30\t", 19), 0);            /* the default timeout */
    AC_EXPECT_STR_CONTAINS(out, "\noutcomes.hangs\t0.3\t");                /* its own */
    AC_EXPECT_STR_CONTAINS(out, "\noutcomes_suite_timeout.hangs\t0.25\t"); /* its suite's */
    AC_EXPECT_STR_CONTAINS(out, "outcomes.c\t");
    AC_EXPECT_EQ(count_lines(out), 3u);
    proc_free(&p);
}

AC_TEST(meta_cli, human_report) {
    proc p;
    const char *argv[] = {FIXTURE_OUTCOMES, "--filter=outcomes.passes", "--filter=outcomes.expect_continues",
                          "--filter=outcomes.skip_option", NULL};
    run(&p, argv, NULL);
    const char *out = ac__buf_str(&p.out);
    AC_EXPECT_EQ(p.status, 1);
    AC_EXPECT_STR_EQ(last_line(&p.out), "asyncheck: 1 passed, 1 failed, 1 skipped");
    AC_EXPECT_STR_CONTAINS(out, "PASS  outcomes.passes  (");
    AC_EXPECT_STR_CONTAINS(out, "FAIL  outcomes.expect_continues  (");
    AC_EXPECT_STR_CONTAINS(out, "outcomes.c:");
    AC_EXPECT_STR_CONTAINS(out, ": AC_EXPECT_EQ(1, 2) failed\n        got:      1\n        expected: 2\n");
    AC_EXPECT_STR_CONTAINS(out, "      | after the failed expectation\n");
    AC_EXPECT_STR_CONTAINS(out, "SKIP  outcomes.skip_option  not on this platform\n");
    AC_EXPECT_STR_CONTAINS(out, "Failed:\n  outcomes.expect_continues\n");
    AC_EXPECT_NULL(strchr(out, '\033')); /* not a terminal: no colour */
    proc_free(&p);
}

AC_TEST(meta_cli, colour_follows_the_option_and_no_color) {
    proc p;
    const char *always[] = {FIXTURE_OUTCOMES, "--filter=outcomes.passes", "--color=always", NULL};
    run(&p, always, NULL);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "\033[32mPASS\033[0m");
    proc_free(&p);
    const char *never[] = {FIXTURE_OUTCOMES, "--filter=outcomes.passes", "--color", "never", NULL};
    run(&p, never, NULL);
    AC_EXPECT_NULL(strchr(ac__buf_str(&p.out), '\033'));
    proc_free(&p);
    /* auto under script(1) gives a terminal; NO_COLOR turns colour off there */
    const char *tty[] = {"script", "-qec", FIXTURE_OUTCOMES " --filter=outcomes.passes", "/dev/null", NULL};
    run(&p, tty, NULL);
    if (p.status == 126 || p.status == 127)
        AC_SKIP("script(1) is not installed");
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "\033[32mPASS");
    proc_free(&p);
    const char *no_color[] = {"NO_COLOR=1", NULL};
    run(&p, tty, no_color);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "PASS");
    AC_EXPECT_NULL(strstr(ac__buf_str(&p.out), "\033[32m")); /* no colour (the progress line may clear) */
    AC_EXPECT_NULL(strstr(ac__buf_str(&p.out), "\033[0m"));
    proc_free(&p);
}

AC_TEST(meta_cli, fail_fast_stops_starting_tests) {
    fixture_run r;
    /* registration order: passes, expect_continues (fails), assert_stops, ..., noisy_passes */
    const char *args[] = {"-x",
                          "-j1",
                          "--filter=outcomes.passes",
                          "--filter=outcomes.assert_stops",
                          "--filter=outcomes.expect_continues",
                          "--filter=outcomes.noisy_passes",
                          NULL};
    fixture_tap(&r, FIXTURE_OUTCOMES, args, NULL);
    AC_EXPECT_EQ(r.p.status, 1);
    AC_ASSERT_EQ(r.tap.n, 4u); /* the plan still holds: not-run tests are reported as skipped */
    AC_EXPECT_TRUE(point(&r, "outcomes.passes")->ok);
    AC_EXPECT_FALSE(point(&r, "outcomes.expect_continues")->ok);
    AC_EXPECT_STR_CONTAINS(point(&r, "outcomes.assert_stops")->directive, "SKIP not run: --fail-fast");
    AC_EXPECT_STR_CONTAINS(point(&r, "outcomes.noisy_passes")->directive, "SKIP not run: --fail-fast");
    fixture_done(&r);
}

AC_TEST(meta_cli, no_fork_reports_the_same) {
    fixture_run r;
    const char *args[] = {"--no-fork",
                          "--filter=outcomes.passes",
                          "--filter=outcomes.expect_continues",
                          "--filter=outcomes.callback_fatal",
                          "--filter=outcomes_setup.*",
                          "--filter=outcomes.skip_runtime",
                          NULL};
    fixture_tap(&r, FIXTURE_OUTCOMES, args, NULL);
    AC_EXPECT_EQ(r.p.status, 1);
    AC_EXPECT_TRUE(point(&r, "outcomes.passes")->ok);
    const tap_point *pt = point(&r, "outcomes.expect_continues");
    AC_EXPECT_STR_EQ(field(pt, "  stdout: "), "after the failed expectation\n");
    pt = point(&r, "outcomes.callback_fatal");
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "AC_ASSERT_EQ(40 + 1, 42) failed");
    pt = point(&r, "outcomes_setup.body_skipped");
    AC_EXPECT_STR_EQ(field(pt, "  stdout: "), "setup ran\nteardown ran\n");
    AC_EXPECT_STR_EQ(point(&r, "outcomes.skip_runtime")->directive, "SKIP needs IPv6");
    fixture_done(&r);
}

AC_TEST(meta_cli, no_fork_names_the_test_that_crashed) {
    proc p;
    const char *argv[] = {FIXTURE_OUTCOMES, "--no-fork", "--filter=outcomes.passes", "--filter=outcomes.segv",
                          NULL};
    run(&p, argv, NULL);
    AC_EXPECT_EQ(p.status, 128 + 11);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.err),
                           "asyncheck: outcomes.segv crashed with SIGSEGV under --no-fork");
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "PASS  outcomes.passes"); /* what ran before is reported */
    proc_free(&p);
}

AC_TEST(meta_cli, own_main_calls_ac_main) {
    proc p;
    const char *argv[] = {FIXTURE_OWN_MAIN, NULL};
    run(&p, argv, NULL);
    AC_EXPECT_EQ(p.status, 0);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "custom main before the runner\n");
    AC_EXPECT_STR_EQ(last_line(&p.out), "asyncheck: 1 passed, 0 failed, 0 skipped");
    proc_free(&p);
}

AC_TEST(meta_cli, tap_to_a_file_keeps_the_human_report) {
    char *dir = make_temp_dir();
    ac__buf path = {0}, opt = {0};
    ac__buf_printf(&path, "%s/out.tap", dir);
    ac__buf_printf(&opt, "--tap=%s", ac__buf_str(&path));
    proc p;
    const char *argv[] = {FIXTURE_OUTCOMES, ac__buf_str(&opt), "--filter=outcomes.passes", NULL};
    run(&p, argv, NULL);
    AC_EXPECT_EQ(p.status, 0);
    AC_EXPECT_STR_EQ(last_line(&p.out), "asyncheck: 1 passed, 0 failed, 0 skipped");
    char *tap = read_file(ac__buf_str(&path));
    AC_ASSERT_NOT_NULL(tap);
    AC_EXPECT_STR_EQ(tap, "TAP version 14\n1..1\nok 1 - outcomes.passes\n");
    free(tap);
    proc_free(&p);
    rm_tree(dir);
    free(dir);
    ac__buf_free(&path);
    ac__buf_free(&opt);
}

AC_TEST(meta_cli, harness_active_means_tap) {
    proc p;
    const char *argv[] = {FIXTURE_OUTCOMES, "--filter=outcomes.passes", NULL};
    const char *old[] = {"HARNESS_ACTIVE=1", "HARNESS_VERSION=3.44", NULL};
    run(&p, argv, old);
    AC_EXPECT_STR_EQ(ac__buf_str(&p.out), "TAP version 13\n1..1\nok 1 - outcomes.passes\n");
    proc_free(&p);
    const char *modern[] = {"HARNESS_ACTIVE=1", "HARNESS_VERSION=3.48", NULL};
    run(&p, argv, modern);
    AC_EXPECT_STR_EQ(ac__buf_str(&p.out), "TAP version 14\n1..1\nok 1 - outcomes.passes\n");
    proc_free(&p);
    const char *skip[] = {FIXTURE_OUTCOMES, "--filter=outcomes.skip_option", NULL};
    run(&p, skip, modern);
    AC_EXPECT_EQ(p.status, 0); /* not 77: a TAP harness reads the skip from the stream */
    proc_free(&p);
}

static void prove(proc *p, const char *const *fixture_args) {
    const char *argv[16] = {"prove", "-v", "-e", "", FIXTURE_OUTCOMES, "::"};
    size_t n = 6;
    for (size_t i = 0; fixture_args[i] && n < 15; i++)
        argv[n++] = fixture_args[i];
    argv[n] = NULL;
    run(p, argv, NULL);
    if (p->status == 126 || p->status == 127)
        AC_FAIL("prove is not installed (Debian package perl)");
}

AC_TEST(meta_cli, prove_accepts_the_tap) {
    proc p;
    const char *passing[] = {"--filter=outcomes.passes", "--filter=outcomes.skip_*",
                             "--filter=outcomes.noisy_passes", NULL};
    prove(&p, passing);
    AC_EXPECT_EQ(p.status, 0);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "Result: PASS");
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "ok 2 - outcomes.skip_option # SKIP not on this platform");
    AC_EXPECT_NULL(strstr(ac__buf_str(&p.out), "Parse errors"));
    proc_free(&p);
    const char *failing[] = {"--filter=outcomes.passes", "--filter=outcomes.segv",
                             "--filter=outcomes.noisy_fails", NULL};
    prove(&p, failing);
    AC_EXPECT_NE(p.status, 0);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "Failed tests:  2-3");
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "Result: FAIL");
    AC_EXPECT_NULL(strstr(ac__buf_str(&p.out), "Parse errors"));
    proc_free(&p);
}
