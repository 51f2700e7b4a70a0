/* meta_zoo_report.c — the reports against hostile tests (fixtures/zoo_report.c): a flood of failures is
 * bounded and counted, user text cannot issue GitHub Actions workflow commands, and line separators other
 * than LF never reach a line-based reader raw. */
#include "meta.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void run_report(const char *filter, const char *opt, const char *const *env, proc *p) {
    const char *argv[] = {FIXTURE_ZOO_REPORT, filter, opt, NULL};
    run_process(argv, env, p);
}

static void expect_flood_counted(const char *mode) {
    fixture_run r;
    const char *args[] = {"--filter=zoo_report.floods_*", mode, NULL};
    fixture_tap(&r, FIXTURE_ZOO_REPORT, args, NULL);
    const tap_point *pt = point(&r, "zoo_report.floods_failures_from_an_idle_callback");
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  failures_omitted: "), "199900");
    AC_EXPECT_STR_EQ(failure_field(pt, 0, "got"), "1");
    AC_EXPECT_STR_EQ(failure_field(pt, 99, "got"), "100");
    /* the failure that ended the test is kept after the first 100; nothing after it */
    AC_EXPECT_STR_EQ(failure_field(pt, 100, "message"), "the failure that ended the flood");
    AC_EXPECT_STR_EQ(failure_field(pt, 101, "message"), "");
    AC_EXPECT_LT(r.p.out.len, (size_t)(1 << 20)); /* the report is bounded too */
    fixture_done(&r);
}

AC_TEST(meta_zoo_report, a_flood_of_failures_is_bounded_and_counted, .timeout = 120) {
    expect_flood_counted("-j1");
    expect_flood_counted("--no-fork");
    proc p;
    run_report("--filter=zoo_report.floods_*", "-j1", NULL, &p);
    AC_EXPECT_EQ(p.status, 1);
    AC_EXPECT_STR_CONTAINS(
        ac__buf_str(&p.out),
        ": AC_EXPECT_EQ(*n, 0) failed\n        got:      100\n        expected: 0\n"
        "      ... and 199,900 more failures not kept (a test keeps its first 100 and the one "
        "that ended it)\n");
    proc_free(&p);
    /* GitHub annotations: one for each failure kept, and one saying how many were not */
    const char *env[] = {"GITHUB_ACTIONS=true", NULL};
    run_report("--filter=zoo_report.floods_*", "--tap", env, &p);
    size_t annotations = 0;
    for (const char *e = ac__buf_str(&p.err); (e = strstr(e, "::error ")) != NULL; e++)
        annotations++;
    AC_EXPECT_EQ(annotations, 102u);
    AC_EXPECT_STR_CONTAINS(
        ac__buf_str(&p.err),
        "\n::error title=zoo_report.floods_failures_from_an_idle_callback::199900 more failures "
        "not kept (asyncheck keeps a test's first 100)\n");
    proc_free(&p);
    char *dir = make_temp_dir();
    char json[512], opt[600];
    snprintf(json, sizeof json, "%s/out.jsonl", dir);
    snprintf(opt, sizeof opt, "--json=%s", json);
    run_report("--filter=zoo_report.floods_*", opt, NULL, &p);
    char *text = read_file(json);
    AC_ASSERT_NOT_NULL(text);
    AC_EXPECT_STR_CONTAINS(text, "\"failures_omitted\":199900,");
    free(text);
    proc_free(&p);
    rm_tree(dir);
    free(dir);
}

/* Every line of `text` (split at LF and at CR, as the Actions runner reads it) that the runner would take
 * as a workflow command ("::" after leading blanks, or "##[" anywhere) is one of asyncheck's own
 * annotations for zoo_report's tests; returns how many there are. */
static size_t commands_in(const char *text) {
    size_t n = 0;
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\r\n");
        char *shown = strndup(line, len);
        const char *p = shown + strspn(shown, " \t");
        if (strncmp(p, "::", 2) == 0) {
            /* an annotation's text is its data: the runner reads no further command in it */
            if (strncmp(p, "::error ", 8) != 0 || !strstr(shown, ",title=zoo_report."))
                AC_FAIL_LATER("not asyncheck's: %s", shown);
            n++;
        } else if (strstr(shown, "##[")) {
            AC_FAIL_LATER("a legacy workflow command: %s", shown);
        }
        free(shown);
        line += len + (line[len] ? 1 : 0);
    }
    return n;
}

AC_TEST(meta_zoo_report, user_text_cannot_issue_workflow_commands) {
    const char *env[] = {"GITHUB_ACTIONS=true", NULL};
    const char *filter = "--filter=zoo_report.*workflow_command*";
    proc p;
    /* human report and annotations, both on stdout */
    run_report(filter, "-j1", env, &p);
    AC_EXPECT_EQ(p.status, 1);
    AC_EXPECT_EQ(commands_in(ac__buf_str(&p.out)), 2); /* the test's two failures */
    AC_EXPECT_EQ(commands_in(ac__buf_str(&p.err)), 0);
    /* the text is all there, each line of it indented and escaped */
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), ": boom\n        \\x3A:error file=x.c,line=1::injected\n"
                                                "        \\x3A:warning::injected too\n"
                                                "          \\x23#[error]legacy\n");
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "      | out\n      | \\x3A:error::from stdout\n");
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "SKIP  zoo_report.skips_with_a_workflow_command  later\n"
                                                "      \\x3A:error::injected by a skip\n");
    proc_free(&p);
    /* TAP on stdout (the annotations go to stderr) */
    run_report(filter, "--tap", env, &p);
    AC_EXPECT_EQ(commands_in(ac__buf_str(&p.out)), 0);
    AC_EXPECT_EQ(commands_in(ac__buf_str(&p.err)), 2);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), " # SKIP later\\n::error::injected by a skip\n");
    proc_free(&p);
    /* JSON lines on stdout */
    run_report(filter, "--json=-", env, &p);
    AC_EXPECT_EQ(commands_in(ac__buf_str(&p.out)), 0);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "\\u0023#[error]legacy");
    proc_free(&p);
}

/* No LS (U+2028), PS (U+2029) or NEL (U+0085) in `text`. */
static void expect_no_separators(const char *text) {
    AC_EXPECT_NULL(strstr(text, "\xe2\x80\xa8"));
    AC_EXPECT_NULL(strstr(text, "\xe2\x80\xa9"));
    AC_EXPECT_NULL(strstr(text, "\xc2\x85"));
}

AC_TEST(meta_zoo_report, line_separators_are_escaped_for_line_readers) {
    fixture_run r;
    const char *args[] = {"--filter=zoo_report.*line_separators", NULL};
    fixture_tap(&r, FIXTURE_ZOO_REPORT, args, NULL);
    expect_no_separators(ac__buf_str(&r.p.out));
    AC_EXPECT_STR_EQ(point(&r, "zoo_report.skips_with_line_separators")->directive,
                     "SKIP a\\u2028b\\u2029c\\u0085d");
    /* YAML keeps the text exactly, escaped */
    const tap_point *pt = point(&r, "zoo_report.fails_with_line_separators");
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "one\xe2\x80\xa8two\xe2\x80\xa9three");
    AC_EXPECT_STR_EQ(field(pt, "  stdout: "), "x\xe2\x80\xa8y\n");
    fixture_done(&r);
    proc p;
    const char *opts[] = {"-j1", "--json=-"};
    for (int i = 0; i < 2; i++) {
        run_report(args[0], opts[i], NULL, &p);
        expect_no_separators(ac__buf_str(&p.out));
        AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "one\\u2028two\\u2029three");
        proc_free(&p);
    }
}

AC_TEST(meta_zoo_report, long_output_keeps_its_head_and_tail_in_every_report) {
    const char *last = "line 100000"; /* xpath trims the last line end */
    fixture_run r;
    const char *args[] = {"--filter=zoo_report.prints_numbered_lines", NULL};
    fixture_tap(&r, FIXTURE_ZOO_REPORT, args, NULL);
    const tap_point *pt = point(&r, "zoo_report.prints_numbered_lines");
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_NULL(pt->yaml); /* a passing test has no YAML block */
    /* JUnit: the first 64 KiB, what was cut, the last 64 KiB */
    ac__buf err = {0};
    xpath(r.junit, "string(//testcase[@name='prints_numbered_lines']/system-err)", &err);
    const char *text = ac__buf_str(&err);
    AC_EXPECT_EQ(strncmp(text, "line 000001\nline 000002\n", 24), 0);
    AC_EXPECT_STR_CONTAINS(text,
                           "\n[asyncheck: 1068928 bytes cut here; the first 64 KiB and the last 64 KiB are "
                           "kept]\n");
    AC_EXPECT_TRUE(err.len > strlen(last) && strcmp(text + err.len - strlen(last), last) == 0);
    AC_EXPECT_LT(err.len, (size_t)(132 << 10));
    ac__buf_free(&err);
    fixture_done(&r);
    /* the human report (-v shows a passing test's output) and JSON */
    proc p;
    run_report(args[0], "-v", NULL, &p);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "      | line 000001\n");
    AC_EXPECT_STR_CONTAINS(
        ac__buf_str(&p.out),
        "      [... 1,068,928 bytes cut: the first 64 KiB and the last 64 KiB are kept ...]\n");
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "      | line 100000\n");
    AC_EXPECT_LT(p.out.len, (size_t)(256 << 10));
    proc_free(&p);
    run_report(args[0], "--json=-", NULL, &p);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "\"stderr\":\"line 000001\\n");
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), ",\"stderr_dropped\":1068928,\"stderr_tail\":\"");
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "line 100000\\n\"}\n");
    proc_free(&p);
}

/* The peak resident memory (KiB) of FIXTURE_ZOO_REPORT run with argv, and of what it waited for. */
static long peak_rss_kib(const char *const *argv) {
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execv(argv[0], (char *const *)argv);
        _exit(126);
    }
    AC_ASSERT_GT(pid, 0);
    int status;
    struct rusage ru;
    AC_ASSERT_EQ(wait4(pid, &status, 0, &ru), pid);
    AC_EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return ru.ru_maxrss;
}

AC_TEST(meta_zoo_report, junit_memory_does_not_grow_with_the_output, .timeout = 120) {
    /* 200 tests of 1 MiB each: the runner held all of it for --junit (200 MiB); now each testcase goes to
     * disk as it arrives and keeps 128 KiB of each stream */
#ifdef __SANITIZE_ADDRESS__
    AC_SKIP("AddressSanitizer's quarantine holds freed memory: peak RSS says nothing (the normal build runs "
            "this)");
#endif
    char *dir = make_temp_dir();
    char junit[600];
    snprintf(junit, sizeof junit, "--junit=%s/out.xml", dir);
    const char *argv[] = {
        FIXTURE_ZOO_REPORT, "--filter=zoo_report.prints_megabytes", "--repeat=200", "-j2", junit, NULL};
    long kib = peak_rss_kib(argv);
    AC_EXPECT_LT(kib, 64L << 10);
    char xml[600];
    snprintf(xml, sizeof xml, "%s/out.xml", dir);
    ac__buf n = {0};
    xpath(xml, "count(//testcase/system-err)", &n);
    AC_EXPECT_STR_EQ(ac__buf_str(&n), "200");
    ac__buf_free(&n);
    rm_tree(dir);
    free(dir);
}
