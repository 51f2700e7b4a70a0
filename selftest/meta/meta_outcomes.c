/* meta_outcomes.c — every way a test can end (fixtures/outcomes.c) is reported as what it was, with
 * its message, type, phase and captured output, in TAP and in JUnit. */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- shared by the meta-test files ---- */

static ac__buf field_buf;

void fixture_tap(fixture_run *r, const char *fixture, const char *const *args, const char *const *env) {
    *r = (fixture_run){0};
    r->dir = make_temp_dir();
    ac__buf path = {0};
    ac__buf_printf(&path, "%s/report.xml", r->dir);
    r->junit = ac__buf_take(&path);
    const char *argv[32] = {fixture, "--tap", "--junit", r->junit};
    size_t n = 4;
    for (size_t i = 0; args && args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    run_process(argv, env, &r->p);
    ac__buf why = {0};
    if (!tap_parse(ac__buf_str(&r->p.out), &r->tap, &why))
        AC_FAIL("invalid TAP from %s: %s\n%s", fixture, ac__buf_str(&why), ac__buf_str(&r->p.out));
    ac__buf_free(&why);
}

void fixture_done(fixture_run *r) {
    rm_tree(r->dir);
    free(r->dir);
    free(r->junit);
    tap_free(&r->tap);
    proc_free(&r->p);
}

const tap_point *fixture_point(fixture_run *r, const char *fixture, const char *name,
                               const char *const *extra, const char *const *env) {
    const char *args[24];
    char filter[256];
    snprintf(filter, sizeof filter, "--filter=%s", name);
    size_t n = 0;
    args[n++] = filter;
    for (size_t i = 0; extra && extra[i] && n < 23; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    fixture_tap(r, fixture, args, env);
    return point(r, name);
}

void fixture_passes(const char *fixture, const char *name, const char *const *extra, const char *const *env) {
    fixture_run r;
    const tap_point *pt = fixture_point(&r, fixture, name, extra, env);
    if (!pt->ok) { /* what the fixture said, in this failure's timeline */
        const char *m = pt->yaml ? strstr(pt->yaml, "message: ") : NULL;
        ac_note(ac_current(), "%s: %.100s", name, m ? m + 9 : pt->yaml ? pt->yaml : "(no YAML block)");
    }
    if (r.p.status != 0) { /* and how its stderr begins and ends (a sanitizer's report, say) */
        const char *err = ac__buf_str(&r.p.err);
        size_t n = strlen(err);
        ac_note(ac_current(), "%s exited %d; stderr: %.300s%s%s", name, r.p.status, err,
                n > 600 ? " [...] " : "",
                n > 600   ? err + n - 300
                : n > 300 ? err + 300
                          : "");
    }
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_EQ(r.p.status, 0);
    fixture_done(&r);
}

void fixture_found_and_replayed(const char *fixture, const char *name, const char *const *extra,
                                const char *const *env, const char *message, const char *flag) {
    fixture_run r;
    const tap_point *pt = fixture_point(&r, fixture, name, extra, env);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(failure_field(pt, 0, "message"), message);
    char args[6][128];
    size_t n = 0;
    for (size_t k = 0; k < 4 && n == 0; k++) {
        const char *r0 = strstr(failure_field(pt, k, "message"), "replay: ");
        if (!r0)
            continue;
        r0 = strchr(r0 + strlen("replay: "), ' ');
        while (r0 && *r0 == ' ' && n < 6) {
            r0++;
            size_t len = strcspn(r0, " "), j = 0;
            for (size_t i = 0; i < len && j < 127; i++)
                if (r0[i] != '\'')
                    args[n][j++] = r0[i];
            args[n++][j] = '\0';
            r0 += len;
        }
    }
    fixture_done(&r);
    AC_ASSERT_EQ(n, flag ? 3u : 2u);
    AC_EXPECT_STR_CONTAINS(args[1], "--seed=");
    if (flag)
        AC_EXPECT_STR_EQ(args[2], flag);
    const char *argv[] = {args[0], args[1], n > 2 ? args[2] : NULL, NULL};
    for (int round = 0; round < 3; round++) {
        fixture_run rr;
        fixture_tap(&rr, fixture, argv, env);
        const tap_point *p = point(&rr, name);
        AC_EXPECT_FALSE(p->ok);
        AC_EXPECT_EQ(rr.tap.n, 1);
        AC_EXPECT_STR_EQ(field(p, "  message: "), message);
        fixture_done(&rr);
    }
}

const tap_point *point(fixture_run *r, const char *name) {
    const tap_point *pt = tap_find(&r->tap, name);
    if (!pt)
        AC_FAIL("no test point named %s in:\n%s", name, ac__buf_str(&r->p.out));
    return pt;
}

const char *field(const tap_point *pt, const char *prefix) {
    yaml_get(pt->yaml, prefix, &field_buf);
    return ac__buf_str(&field_buf);
}

/* A field ("message", "type", "phase", "got", "expected", "at.line", "at.file") of the k-th entry
 * (0-based) under `failures:`, unescaped; "" when absent. */
const char *failure_field(const tap_point *pt, size_t k, const char *key) {
    static ac__buf item, out;
    item.len = 0;
    ac__buf_puts(&item, "");
    const char *s = pt->yaml ? strstr(pt->yaml, "  failures:\n") : NULL;
    for (size_t i = 0; s && i <= k; i++)
        s = strstr(s + 1, "\n    - ");
    if (s) {
        ac__buf_puts(&item, "      "); /* the entry's first line, indented like the others */
        s += strlen("\n    - ");
        for (;;) {
            const char *nl = strchr(s, '\n');
            ac__buf_append(&item, s, nl ? (size_t)(nl - s + 1) : strlen(s));
            if (!nl || strncmp(nl + 1, "      ", 6) != 0)
                break;
            s = nl + 1;
        }
    }
    char prefix[64];
    if (strncmp(key, "at.", 3) == 0)
        snprintf(prefix, sizeof prefix, "        %s: ", key + 3);
    else
        snprintf(prefix, sizeof prefix, "      %s: ", key);
    yaml_get(ac__buf_str(&item), prefix, &out);
    return ac__buf_str(&out);
}

/* ---- one fixture test at a time ---- */

static const tap_point *run_one(fixture_run *r, const char *name) {
    return fixture_point(r, FIXTURE_OUTCOMES, name, NULL, NULL);
}

/* JUnit: the value of an XPath expression about the one test case `name` (suite.name). */
static const char *junit_of(fixture_run *r, const char *name, const char *what) {
    static ac__buf out;
    char expr[512];
    const char *dot = strchr(name, '.');
    snprintf(expr, sizeof expr, "string(//testsuite[@name='%.*s']/testcase[@name='%s']%s)", (int)(dot - name),
             name, dot + 1, what);
    xpath(r->junit, expr, &out);
    return ac__buf_str(&out);
}

AC_TEST(meta_outcomes, pass) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "outcomes.passes");
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_NULL(pt->yaml);
    AC_EXPECT_EQ(r.p.status, 0);
    AC_EXPECT_STR_EQ(junit_of(&r, "outcomes.passes", "/@classname"), "outcomes");
    AC_EXPECT_STR_EQ(junit_of(&r, "outcomes.passes", "/failure/@type"), "");
    fixture_done(&r);
}

AC_TEST(meta_outcomes, expect_continues_assert_stops) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "outcomes.expect_continues");
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  stdout: "), "after the failed expectation\n");
    AC_EXPECT_EQ(r.p.status, 1);
    fixture_done(&r);
    pt = run_one(&r, "outcomes.assert_stops");
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "AC_ASSERT_EQ(1, 2) failed");
    AC_EXPECT_STR_EQ(field(pt, "  stdout: "), "");
    fixture_done(&r);
}

static void check_death(const char *name, const char *type, const char *message_start) {
    fixture_run r;
    const tap_point *pt = run_one(&r, name);
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), type);
    AC_EXPECT_EQ(strncmp(field(pt, "  message: "), message_start, strlen(message_start)), 0);
    if (strncmp(field(pt, "  message: "), message_start, strlen(message_start)) != 0)
        AC_FAIL_LATER("message was: %s", field(pt, "  message: "));
    AC_EXPECT_STR_CONTAINS(field(pt, "    file: "), "outcomes.c");
    AC_EXPECT_STR_EQ(junit_of(&r, name, "/failure/@type"), type);
    AC_EXPECT_EQ(r.p.status, 1);
    fixture_done(&r);
}

AC_TEST(meta_outcomes, segv_is_named) {
    check_death("outcomes.segv", "crash", "crashed: SIGSEGV (Segmentation fault) in body after ");
    fixture_run r;
    const tap_point *pt = run_one(&r, "outcomes.segv");
    AC_EXPECT_STR_EQ(field(pt, "  stdout: "), "before the crash\n"); /* what it printed before dying */
    fixture_done(&r);
}

AC_TEST(meta_outcomes, abort_is_named) {
    check_death("outcomes.aborts", "crash", "crashed: SIGABRT (Aborted) in body after ");
}

AC_TEST(meta_outcomes, exit_0_is_a_failure) {
    check_death("outcomes.exit0", "exit", "exited unexpectedly with status 0 in body after ");
}

AC_TEST(meta_outcomes, exit_3_is_a_failure) {
    check_death("outcomes.exit3", "exit", "exited unexpectedly with status 3 in body after ");
}

AC_TEST(meta_outcomes, hang_is_killed_at_its_timeout) {
    check_death("outcomes.hangs", "timeout", "timed out after ");
    fixture_run r;
    const tap_point *pt = run_one(&r, "outcomes.hangs");
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "), "(limit 0.300 s) in body");
    AC_EXPECT_LT(atof(field(pt, "  duration_ms: ")), 2000.0);
    AC_EXPECT_GE(atof(field(pt, "  duration_ms: ")), 300.0);
    fixture_done(&r);
}

AC_TEST(meta_outcomes, timeout_multiplier_scales_the_limit) {
    fixture_run r;
    const char *args[] = {"--filter=outcomes.hangs", NULL};
    const char *env[] = {"AC_TIMEOUT_MULTIPLIER=2", NULL};
    fixture_tap(&r, FIXTURE_OUTCOMES, args, env);
    AC_EXPECT_STR_CONTAINS(field(point(&r, "outcomes.hangs"), "  message: "), "(limit 0.600 s)");
    fixture_done(&r);
}

AC_TEST(meta_outcomes, default_timeout_from_the_command_line) {
    fixture_run r;
    const char *args[] = {"--filter=outcomes.sleeps", "--timeout", "0.2", NULL};
    fixture_tap(&r, FIXTURE_OUTCOMES, args, NULL);
    const tap_point *pt = point(&r, "outcomes.sleeps");
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "timeout");
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "), "(limit 0.200 s)");
    fixture_done(&r);
}

AC_TEST(meta_outcomes, skips) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "outcomes.skip_option");
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_STR_EQ(pt->directive, "SKIP not on this platform");
    AC_EXPECT_EQ(r.p.status, 77); /* every selected test skipped */
    AC_EXPECT_STR_EQ(junit_of(&r, "outcomes.skip_option", "/skipped/@message"), "not on this platform");
    fixture_done(&r);
    pt = run_one(&r, "outcomes.skip_runtime");
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_STR_EQ(pt->directive, "SKIP needs IPv6");
    AC_EXPECT_EQ(r.p.status, 77);
    fixture_done(&r);
}

AC_TEST(meta_outcomes, output_never_leaks_into_the_report) {
    fixture_run r;
    const char *args[] = {"--filter=outcomes.noisy_*", NULL};
    fixture_tap(&r, FIXTURE_OUTCOMES, args, NULL); /* strict parse: no stray "ok 1", "1..3", "Bail out!" */
    AC_ASSERT_EQ(r.tap.n, 2u);
    AC_EXPECT_TRUE(point(&r, "outcomes.noisy_passes")->ok);
    const tap_point *pt = point(&r, "outcomes.noisy_fails");
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  stdout: "), "ok 1 - fake\n1..3\nBail out! fake\nnot ok 7 - fake\n  ---\n");
    AC_EXPECT_STR_EQ(field(pt, "  stderr: "), "to stderr\n");
    AC_EXPECT_STR_CONTAINS(junit_of(&r, "outcomes.noisy_passes", "/system-out"), "Bail out! fake");
    AC_EXPECT_STR_EQ(junit_of(&r, "outcomes.noisy_passes", "/system-err"),
                     "to stderr"); /* xpath() trims \n */
    fixture_done(&r);
}

AC_TEST(meta_outcomes, fatal_failure_in_a_callback_ends_the_test) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "outcomes.callback_fatal");
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "AC_ASSERT_EQ(40 + 1, 42) failed");
    AC_EXPECT_STR_EQ(field(pt, "  got: "), "41");
    AC_EXPECT_STR_EQ(field(pt, "  expected: "), "42");
    AC_EXPECT_STR_EQ(field(pt, "  stdout: "), "");
    AC_EXPECT_LT(atof(field(pt, "  duration_ms: ")), 2000.0); /* not the 5 s await */
    fixture_done(&r);
}

AC_TEST(meta_outcomes, await_timeout_names_the_condition) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "outcomes.await_timeout");
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "timed out after 0.050 s waiting for never == 1");
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "assertion");
    fixture_done(&r);
}

AC_TEST(meta_outcomes, watchers_left_active_fail_the_test) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "outcomes.leaks_watcher");
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "watchers");
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "1 watcher started by the test still active when its 0.300 s "
                                               "timeout ran out after the body returned");
    AC_EXPECT_STR_EQ(field(pt, "  phase: "), "drain");
    fixture_done(&r);
}

AC_TEST(meta_outcomes, the_drain_does_not_wait_for_the_suite_fixture) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "outcomes_fixture.owns_a_watcher");
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_EQ(r.p.status, 0);
    fixture_done(&r);
}

AC_TEST(meta_outcomes, watchers_left_after_teardown_fail_the_test) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "outcomes_leaky_fixture.forgets_to_stop");
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "watchers");
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "1 watcher still active after teardown (stop them, or ev_unref "
                     "those that must not keep the loop alive)");
    AC_EXPECT_STR_CONTAINS(field(pt, "  got: "), "ev_timer after=100.0 repeat=0.0, callback failing_timer");
    fixture_done(&r);
}

AC_TEST(meta_outcomes, an_await_stops_at_the_test_timeout) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "outcomes.await_past_the_test_timeout");
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "assertion"); /* reported by the test, not the watchdog */
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "the test's 0.200 s timeout ran out while waiting for never");
    fixture_done(&r);
}

AC_TEST(meta_outcomes, a_suite_timeout_applies_to_its_tests) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "outcomes_suite_timeout.hangs");
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "timeout");
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "), "(limit 0.250 s)");
    fixture_done(&r);
}

AC_TEST(meta_outcomes, a_crash_keeps_the_failures_before_it) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "outcomes.crash_after_failure");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "), "AC_EXPECT_STR_EQ(\"recorded\", \"before the crash\")");
    AC_EXPECT_STR_CONTAINS(pt->yaml, "    - message: \"crashed: SIGSEGV");
    AC_EXPECT_STR_CONTAINS(junit_of(&r, "outcomes.crash_after_failure", "/failure"), "crashed: SIGSEGV");
    fixture_done(&r);
}

AC_TEST(meta_outcomes, fatal_failure_in_another_thread) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "outcomes.thread_fatal");
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "AC_ASSERT_EQ(7, 8) failed");
    AC_EXPECT_LT(atof(field(pt, "  duration_ms: ")), 5000.0); /* ended early, not by the 10 s await */
    fixture_done(&r);
}

AC_TEST(meta_outcomes, setup_failure_skips_the_body_and_runs_teardown) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "outcomes_setup.body_skipped");
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "AC_ASSERT_TRUE(0) failed");
    AC_EXPECT_STR_EQ(field(pt, "  phase: "), "setup");
    AC_EXPECT_STR_EQ(field(pt, "  stdout: "), "setup ran\nteardown ran\n");
    fixture_done(&r);
}

AC_TEST(meta_outcomes, teardown_runs_after_a_fatal_failure) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "outcomes_teardown.after_fatal");
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  stdout: "), "teardown saw 42\n");
    fixture_done(&r);
}

AC_TEST(meta_outcomes, teardown_failure_fails_the_test) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "outcomes_bad_teardown.fails_in_teardown");
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "AC_ASSERT_EQ(3, 4) failed");
    AC_EXPECT_STR_EQ(field(pt, "  phase: "), "teardown");
    fixture_done(&r);
}

AC_TEST(meta_outcomes, hostile_output_keeps_junit_well_formed) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "outcomes.xml_hostile");
    AC_EXPECT_FALSE(pt->ok);
    proc lint;
    const char *argv[] = {"xmllint", "--noout", r.junit, NULL};
    run_process(argv, NULL, &lint);
    AC_EXPECT_EQ(lint.status, 0);
    AC_EXPECT_STR_EQ(ac__buf_str(&lint.err), "");
    proc_free(&lint);
    AC_EXPECT_STR_CONTAINS(junit_of(&r, "outcomes.xml_hostile", "/system-out"),
                           "cdata-end ]]> markup <&>\"'");
    AC_EXPECT_STR_CONTAINS(junit_of(&r, "outcomes.xml_hostile", "/failure/@message"),
                           "bad <&>\"' ]]>  chars");
    AC_EXPECT_STR_CONTAINS(field(pt, "  stdout: "), "ctrl\x01\x02 cdata-end");
    fixture_done(&r);
}

AC_TEST(meta_outcomes, parallel_output_is_never_interleaved) {
    fixture_run r;
    const char *args[] = {"--filter=outcomes.interleave_*", "-j2", NULL};
    fixture_tap(&r, FIXTURE_OUTCOMES, args, NULL);
    const char *a = field(point(&r, "outcomes.interleave_a"), "  stdout: ");
    AC_EXPECT_STR_CONTAINS(a, "A0\nA1\n");
    AC_EXPECT_STR_CONTAINS(a, "\nA1999\n");
    AC_EXPECT_NULL(strchr(a, 'B'));
    const char *b = field(point(&r, "outcomes.interleave_b"), "  stdout: ");
    AC_EXPECT_STR_CONTAINS(b, "\nB1999\n");
    AC_EXPECT_NULL(strchr(b, 'A'));
    fixture_done(&r);
}

/* The whole fixture at once, in parallel: a strictly valid TAP stream in registration order, a
 * well-formed JUnit file that agrees with it, no temporary file left behind. */
AC_TEST(meta_outcomes, whole_run_reports_agree, .timeout = 60) {
    proc list;
    const char *argv[] = {FIXTURE_OUTCOMES, "--list", NULL};
    run_process(argv, NULL, &list);
    AC_ASSERT_EQ(list.status, 0);
    fixture_run r;
    const char *args[] = {"-j2", "--timeout", "3", NULL};
    fixture_tap(&r, FIXTURE_OUTCOMES, args, NULL);
    AC_EXPECT_EQ(r.p.status, 1);
    ac__buf names = {0};
    size_t failed = 0, skipped = 0;
    for (size_t i = 0; i < r.tap.n; i++) {
        ac__buf_printf(&names, "%s\n", r.tap.points[i].name);
        failed += !r.tap.points[i].ok;
        skipped += r.tap.points[i].directive != NULL;
    }
    AC_EXPECT_STR_EQ(ac__buf_str(&names), ac__buf_str(&list.out)); /* same tests, same order */
    ac__buf v = {0};
    xpath(r.junit, "string(/testsuites/@tests)", &v);
    AC_EXPECT_EQ((size_t)atoi(ac__buf_str(&v)), r.tap.n);
    xpath(r.junit, "count(//testcase)", &v);
    AC_EXPECT_EQ((size_t)atoi(ac__buf_str(&v)), r.tap.n);
    xpath(r.junit, "count(//testcase[failure])", &v);
    AC_EXPECT_EQ((size_t)atoi(ac__buf_str(&v)), failed);
    xpath(r.junit, "string(/testsuites/@failures)", &v);
    AC_EXPECT_EQ((size_t)atoi(ac__buf_str(&v)), failed);
    xpath(r.junit, "count(//testcase[skipped])", &v);
    AC_EXPECT_EQ((size_t)atoi(ac__buf_str(&v)), skipped);
    xpath(r.junit, "count(//testsuite)", &v);
    AC_EXPECT_EQ(atoi(ac__buf_str(&v)), 7); /* every suite in fixtures/outcomes.c */
    proc ls;
    const char *ls_argv[] = {"ls", "-A", r.dir, NULL};
    run_process(ls_argv, NULL, &ls);
    AC_EXPECT_STR_EQ(ac__buf_str(&ls.out), "report.xml\n"); /* the temp file was renamed, not left */
    proc_free(&ls);
    ac__buf_free(&v);
    ac__buf_free(&names);
    proc_free(&list);
    fixture_done(&r);
}
