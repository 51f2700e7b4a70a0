/* meta_ecosystem.c — sharding (command line, Bazel, GoogleTest), the Bazel files, GitHub annotations,
 * JSON lines, repeat and until-fail, shuffle with a replayable seed, parameterized instances and the
 * progress line, all checked through the runner's real output (fixtures/ecosystem.c). */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Names of the test points, one a line. */
static void names_of(const fixture_run *r, ac__buf *out) {
    out->len = 0;
    ac__buf_puts(out, "");
    for (size_t i = 0; i < r->tap.n; i++)
        ac__buf_printf(out, "%s\n", r->tap.points[i].name);
}

static void eco(fixture_run *r, const char *const *args, const char *const *env) {
    fixture_tap(r, FIXTURE_ECOSYSTEM, args, env);
}

AC_TEST(meta_eco, shards_cover_every_test_exactly_once) {
    const char *only_eco[] = {"--filter=eco.*", NULL};
    fixture_run all;
    eco(&all, only_eco, NULL);
    ac__buf want = {0}, got = {0}, names = {0};
    names_of(&all, &want);
    AC_ASSERT_EQ(all.tap.n, 7u);
    for (int n = 1; n <= 4; n++) {
        got.len = 0;
        for (int i = 1; i <= n; i++) {
            char shard[32];
            snprintf(shard, sizeof shard, "--shard=%d/%d", i, n);
            const char *args[] = {"--filter=eco.*", shard, NULL};
            fixture_run r;
            eco(&r, args, NULL);
            names_of(&r, &names);
            for (size_t k = 0; k < r.tap.n; k++) /* round-robin: the k-th of shard i is test (i-1)+k*n */
                AC_EXPECT_STR_EQ(r.tap.points[k].name, all.tap.points[(size_t)(i - 1) + k * (size_t)n].name);
            ac__buf_puts(&got, ac__buf_str(&names));
            fixture_done(&r);
        }
        /* every test exactly once: same count, and each name of the full run appears */
        size_t lines = 0;
        for (const char *c = ac__buf_str(&got); *c; c++)
            lines += *c == '\n';
        AC_EXPECT_EQ(lines, all.tap.n);
        for (size_t k = 0; k < all.tap.n; k++) {
            char needle[64];
            snprintf(needle, sizeof needle, "%s\n", all.tap.points[k].name);
            AC_EXPECT_STR_CONTAINS(ac__buf_str(&got), needle);
        }
    }
    ac__buf_free(&want);
    ac__buf_free(&got);
    ac__buf_free(&names);
    fixture_done(&all);
}

AC_TEST(meta_eco, bazel_protocol) {
    char *dir = make_temp_dir();
    ac__buf status = {0}, xml = {0}, premature = {0}, tmp = {0};
    ac__buf_printf(&status, "TEST_SHARD_STATUS_FILE=%s/status", dir);
    ac__buf_printf(&xml, "XML_OUTPUT_FILE=%s/bazel.xml", dir);
    ac__buf_printf(&premature, "TEST_PREMATURE_EXIT_FILE=%s/premature", dir);
    ac__buf_printf(&tmp, "TEST_TMPDIR=%s", dir);
    /* TESTBRIDGE_TEST_ONLY selects eco.a, eco.e and eco_env.sees_bazel; shard 0 of 2 takes the 1st and
     * 3rd. The test eco_env.sees_bazel prints what it sees of the protocol. */
    const char *env[] = {"TEST_SHARD_INDEX=0",
                         "TEST_TOTAL_SHARDS=2",
                         ac__buf_str(&status),
                         ac__buf_str(&xml),
                         ac__buf_str(&premature),
                         ac__buf_str(&tmp),
                         "TESTBRIDGE_TEST_ONLY=eco[._][ae]*",
                         NULL};
    const char *argv[] = {FIXTURE_ECOSYSTEM, "--verbose", NULL};
    proc p;
    run_process(argv, env, &p);
    const char *out = ac__buf_str(&p.out);
    AC_EXPECT_EQ(p.status, 0);
    AC_EXPECT_STR_CONTAINS(out, "PASS  eco.a");
    AC_EXPECT_STR_CONTAINS(out, "PASS  eco_env.sees_bazel");
    AC_EXPECT_NULL(strstr(out, "eco.e"));
    AC_EXPECT_STR_CONTAINS(out, "asyncheck: 2 passed, 0 failed, 0 skipped");
    AC_EXPECT_STR_CONTAINS(out, "| premature exists: yes"); /* created before the tests ran */
    char want_tmp[600];
    snprintf(want_tmp, sizeof want_tmp, "| TMPDIR=%s\n", dir);
    AC_EXPECT_STR_CONTAINS(out, want_tmp);
    char path[512];
    snprintf(path, sizeof path, "%s/status", dir);
    AC_EXPECT_EQ(access(path, F_OK), 0); /* touched */
    snprintf(path, sizeof path, "%s/bazel.xml", dir);
    char *report = read_file(path);
    AC_ASSERT_NOT_NULL(report);
    AC_EXPECT_STR_CONTAINS(report, "<testcase classname=\"eco\" name=\"a\"");
    AC_EXPECT_NULL(strstr(report, "name=\"e\""));
    free(report);
    snprintf(path, sizeof path, "%s/premature", dir);
    AC_EXPECT_NE(access(path, F_OK), 0); /* removed at a normal end */
    proc_free(&p);
    rm_tree(dir);
    free(dir);
    ac__buf_free(&status);
    ac__buf_free(&xml);
    ac__buf_free(&premature);
    ac__buf_free(&tmp);
}

AC_TEST(meta_eco, gtest_shard_variables) {
    const char *env[] = {"GTEST_SHARD_INDEX=2", "GTEST_TOTAL_SHARDS=3", NULL};
    const char *args[] = {"--filter=eco.*", NULL};
    fixture_run r;
    eco(&r, args, env);
    ac__buf names = {0};
    names_of(&r, &names);
    AC_EXPECT_STR_EQ(ac__buf_str(&names), "eco.c\neco.f\n");
    ac__buf_free(&names);
    fixture_done(&r);
}

AC_TEST(meta_eco, bad_shards_are_usage_errors) {
    const char *cases[][2] = {{"--shard=0/3", "--shard: '0/3' is not I/N"},
                              {"--shard=4/3", "--shard: '4/3' is not I/N"},
                              {"--shard=1/x", "--shard: '1/x' is not I/N"},
                              {"--repeat=until-fail:0", "--repeat: 'until-fail:0'"},
                              {"--seed=-4", "--seed: '-4' is not a whole number"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *argv[] = {FIXTURE_ECOSYSTEM, cases[i][0], NULL};
        proc p;
        run_process(argv, NULL, &p);
        AC_EXPECT_EQ(p.status, 2);
        AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.err), cases[i][1]);
        proc_free(&p);
    }
    const char *argv[] = {FIXTURE_ECOSYSTEM, NULL};
    const char *env[] = {"TEST_SHARD_INDEX=3", "TEST_TOTAL_SHARDS=3", NULL};
    proc p;
    run_process(argv, env, &p);
    AC_EXPECT_EQ(p.status, 2);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.err), "TEST_SHARD_INDEX='3' and TEST_TOTAL_SHARDS='3'");
    proc_free(&p);
}

AC_TEST(meta_eco, github_annotations) {
    const char *argv[] = {FIXTURE_ECOSYSTEM, "--filter=eco_fail.*", "--filter=eco.a", NULL};
    const char *env[] = {"GITHUB_ACTIONS=true", NULL};
    proc p;
    run_process(argv, env, &p);
    AC_EXPECT_EQ(p.status, 1);
    const char *out = ac__buf_str(&p.out);
    AC_EXPECT_STR_CONTAINS(out, "::error file=");
    AC_EXPECT_STR_CONTAINS(out, "ecosystem.c,line=");
    AC_EXPECT_STR_CONTAINS(
        out, ",title=eco_fail.fails::AC_EXPECT_EQ(1, 2) failed%0A  got:      1%0A  expected: 2\n");
    AC_EXPECT_EQ(strstr(out, "::error") - strstr(out, "::error file="), 0); /* one annotation only */
    proc_free(&p);
    /* with TAP on stdout, annotations go to stderr so the stream stays valid */
    fixture_run r;
    const char *args[] = {"--filter=eco_fail.*", NULL};
    eco(&r, args, env);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&r.p.err), "::error file=");
    fixture_done(&r);
}

/* Every line of a JSON-lines file is valid JSON (Perl's core JSON::PP decides), and selected fields. */
static void json_query(const char *file, const char *perl_expr, ac__buf *out) {
    ac__buf script = {0};
    ac__buf_printf(&script,
                   "use JSON::PP; my @r; open(my $f, '<', $ARGV[0]) or die; "
                   "while (<$f>) { push @r, decode_json($_); } print %s;",
                   perl_expr);
    const char *argv[] = {"perl", "-e", ac__buf_str(&script), file, NULL};
    proc p;
    run_process(argv, NULL, &p);
    if (p.status != 0)
        AC_FAIL("perl could not read %s as JSON lines: %s", file, ac__buf_str(&p.err));
    out->len = 0;
    ac__buf_puts(out, ac__buf_str(&p.out));
    proc_free(&p);
    ac__buf_free(&script);
}

AC_TEST(meta_eco, json_lines) {
    char *dir = make_temp_dir();
    ac__buf path = {0}, opt = {0}, v = {0};
    ac__buf_printf(&path, "%s/out.jsonl", dir);
    ac__buf_printf(&opt, "--json=%s", ac__buf_str(&path));
    const char *argv[] = {FIXTURE_ECOSYSTEM,
                          ac__buf_str(&opt),
                          "--filter=eco_fail.*",
                          "--filter=eco_param.*",
                          "--shuffle",
                          "--seed=7",
                          NULL};
    proc p;
    run_process(argv, NULL, &p);
    AC_EXPECT_EQ(p.status, 1);
    json_query(ac__buf_str(&path), "scalar(@r)", &v);
    AC_EXPECT_STR_EQ(ac__buf_str(&v), "10"); /* 9 tests and the summary */
    json_query(ac__buf_str(&path),
               "join(',', map { $_->{name} } grep { $_->{type} eq 'test' && $_->{outcome} eq 'fail' } @r)",
               &v);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&v), "eco_param.squares/bad");
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&v), "eco_fail.fails");
    json_query(
        ac__buf_str(&path),
        "map { $_->{failures}[0]{message} . '|' . $_->{failures}[0]{got} . '|' . $_->{failures}[0]{expected} "
        ". '|' . $_->{seed} } grep { $_->{name} eq 'eco_fail.fails' } @r",
        &v);
    AC_EXPECT_STR_EQ(ac__buf_str(&v), "AC_EXPECT_EQ(1, 2) failed|1|2|7");
    json_query(ac__buf_str(&path), "map { $_->{stdout} } grep { $_->{name} eq 'eco_param.indexed/1' } @r",
               &v);
    AC_EXPECT_STR_EQ(ac__buf_str(&v), "param 20\n");
    json_query(ac__buf_str(&path), "$r[-1]{type} . ' ' . $r[-1]{failed} . ' ' . $r[-1]{passed}", &v);
    AC_EXPECT_STR_EQ(ac__buf_str(&v), "summary 2 7");
    proc_free(&p);
    /* --json - puts the JSON on stdout instead of the human report */
    const char *to_stdout[] = {FIXTURE_ECOSYSTEM, "--json", "-", "--filter=eco.a", NULL};
    run_process(to_stdout, NULL, &p);
    const char *head = "{\"type\":\"test\",\"name\":\"eco.a\"";
    AC_EXPECT_EQ(strncmp(ac__buf_str(&p.out), head, strlen(head)), 0);
    AC_EXPECT_NULL(strstr(ac__buf_str(&p.out), "asyncheck:"));
    proc_free(&p);
    rm_tree(dir);
    free(dir);
    ac__buf_free(&path);
    ac__buf_free(&opt);
    ac__buf_free(&v);
}

AC_TEST(meta_eco, repeat_runs_everything_n_times) {
    const char *args[] = {"--filter=eco.[ab]", "--repeat=3", NULL};
    fixture_run r;
    eco(&r, args, NULL);
    AC_EXPECT_EQ(r.p.status, 0);
    ac__buf names = {0};
    names_of(&r, &names);
    AC_EXPECT_STR_EQ(ac__buf_str(&names),
                     "eco.a [1/3]\neco.b [1/3]\neco.a [2/3]\neco.b [2/3]\neco.a [3/3]\neco.b [3/3]\n");
    ac__buf_free(&names);
    fixture_done(&r);
}

AC_TEST(meta_eco, repeat_until_fail_stops_at_the_first_failure) {
    const char *args[] = {"--filter=eco_fail.*", "--repeat=until-fail:4", "-j1", NULL};
    fixture_run r;
    eco(&r, args, NULL);
    AC_EXPECT_EQ(r.p.status, 1);
    AC_ASSERT_EQ(r.tap.n, 4u);
    AC_EXPECT_FALSE(r.tap.points[0].ok);
    for (size_t i = 1; i < 4; i++)
        AC_EXPECT_STR_EQ(r.tap.points[i].directive,
                         "SKIP not run: --repeat until-fail stopped the run after a failure");
    fixture_done(&r);
}

AC_TEST(meta_eco, shuffle_is_replayable_from_its_seed) {
    ac__buf first = {0}, again = {0}, other = {0}, plain = {0};
    const char *seed42[] = {"--filter=eco.*", "--shuffle", "--seed=42", NULL};
    const char *seed43[] = {"--filter=eco.*", "--shuffle", "--seed", "43", NULL};
    const char *unshuffled[] = {"--filter=eco.*", NULL};
    fixture_run r;
    eco(&r, seed42, NULL);
    names_of(&r, &first);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&r.p.out), "# shuffled: replay this order with --shuffle --seed=42\n");
    fixture_done(&r);
    eco(&r, seed42, NULL);
    names_of(&r, &again);
    fixture_done(&r);
    eco(&r, seed43, NULL);
    names_of(&r, &other);
    fixture_done(&r);
    eco(&r, unshuffled, NULL);
    names_of(&r, &plain);
    fixture_done(&r);
    AC_EXPECT_STR_EQ(ac__buf_str(&first), ac__buf_str(&again));
    AC_EXPECT_STR_NE(ac__buf_str(&first), ac__buf_str(&other));
    AC_EXPECT_STR_NE(ac__buf_str(&first), ac__buf_str(&plain));
    AC_EXPECT_EQ(strlen(ac__buf_str(&first)), strlen(ac__buf_str(&plain))); /* same tests */
    /* without --seed a seed is chosen and printed for the human too */
    const char *argv[] = {FIXTURE_ECOSYSTEM, "--filter=eco.*", "--shuffle", NULL};
    proc p;
    run_process(argv, NULL, &p);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out),
                           "asyncheck: shuffled order; replay it with --shuffle --seed=");
    proc_free(&p);
    ac__buf_free(&first);
    ac__buf_free(&again);
    ac__buf_free(&other);
    ac__buf_free(&plain);
}

AC_TEST(meta_eco, parameterized_instances_are_separate_tests) {
    const char *args[] = {"--filter=eco_param.*", NULL};
    fixture_run r;
    eco(&r, args, NULL);
    AC_EXPECT_EQ(r.p.status, 1);
    ac__buf names = {0};
    names_of(&r, &names);
    AC_EXPECT_STR_EQ(ac__buf_str(&names),
                     "eco_param.squares/two\neco_param.squares/neg\neco_param.squares/bad\n"
                     "eco_param.squares/ctl_name\neco_param.indexed/0\neco_param.indexed/1\n"
                     "eco_param.indexed/2\neco_param.plain_test_has_no_param\n");
    AC_EXPECT_TRUE(point(&r, "eco_param.squares/two")->ok);
    const tap_point *bad = point(&r, "eco_param.squares/bad");
    AC_EXPECT_FALSE(bad->ok);
    AC_EXPECT_STR_EQ(field(bad, "  got: "), "9");
    ac__buf v = {0};
    xpath(r.junit, "count(//testsuite[@name='eco_param']/testcase[@name='squares/bad']/failure)", &v);
    AC_EXPECT_STR_EQ(ac__buf_str(&v), "1");
    xpath(r.junit, "count(//testsuite[@name='eco_param']/testcase[starts-with(@name, 'squares/')])", &v);
    AC_EXPECT_STR_EQ(ac__buf_str(&v), "4");
    ac__buf_free(&v);
    ac__buf_free(&names);
    fixture_done(&r);
    /* each instance can be selected on its own */
    const char *one[] = {"--filter=eco_param.indexed/2", NULL};
    eco(&r, one, NULL);
    AC_ASSERT_EQ(r.tap.n, 1u);
    AC_EXPECT_STR_EQ(r.tap.points[0].name, "eco_param.indexed/2");
    fixture_done(&r);
}

AC_TEST(meta_eco, progress_line_only_on_a_terminal) {
    const char *tty[] = {"script", "-qec", FIXTURE_ECOSYSTEM " --filter=eco.* -j1", "/dev/null", NULL};
    proc p;
    run_process(tty, NULL, &p);
    if (p.status == 126 || p.status == 127)
        AC_SKIP("script(1) is not installed");
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "\r\033[K");
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "[7/7] 0 failed");
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "asyncheck: 7 passed, 0 failed, 0 skipped");
    proc_free(&p);
    const char *pipe_argv[] = {FIXTURE_ECOSYSTEM, "--filter=eco.*", NULL};
    run_process(pipe_argv, NULL, &p);
    AC_EXPECT_NULL(strchr(ac__buf_str(&p.out), '\r'));
    proc_free(&p);
}
