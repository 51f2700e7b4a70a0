/* meta_shard.c — sharded exploration seen from outside, through fixtures/shard_explore.c (each run logs
 * its seed): 1,000 schedules over 4 shards run each seed exactly once, and each shard's TAP, JUnit and
 * JSON name exactly the schedules it ran; a planted failing seed is found by one shard only and its replay
 * line, which carries no shard, reproduces it 3 times out of 3; PCT's step count is the same on every
 * shard; --check-determinism keeps both runs of a seed on one shard, a cancel sweep every cancel point; a
 * test with fewer schedules than shards runs on the first shards only, and tests that run once still go to
 * the shards whole. */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSHARDS 4

/* The seeds a run logged under `tag`, in the order logged; returns how many (at most `max`). */
static size_t logged(const char *log, const char *tag, unsigned long long *seeds, size_t max) {
    char *text = read_file(log);
    size_t n = 0, taglen = strlen(tag);
    for (char *line = text; line && *line && n < max;) {
        char *nl = strchr(line, '\n');
        if (strncmp(line, tag, taglen) == 0 && line[taglen] == ' ')
            seeds[n++] = strtoull(line + taglen + 1, NULL, 10);
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return n;
}

/* The seeds of `test` unsharded (-j1: in schedule order), logged under `tag`; returns how many. */
static size_t baseline(const char *dir, const char *test, const char *tag, const char *const *extra,
                       unsigned long long *seeds, size_t max) {
    char *log = path_in(dir, "baseline.log"), env_log[512], filter[128];
    snprintf(env_log, sizeof env_log, "AC_SHARD_LOG=%s", log);
    snprintf(filter, sizeof filter, "--filter=%s", test);
    const char *argv[8] = {FIXTURE_SHARD, filter, "-j1"};
    size_t a = 3;
    for (size_t i = 0; extra && extra[i] && a < 7; i++)
        argv[a++] = extra[i];
    const char *env[] = {env_log, "AC_SHARD_FAIL_SEED", "AC_TIMEOUT_MULTIPLIER", NULL};
    proc p;
    run_process(argv, env, &p);
    AC_EXPECT_EQ(p.status, 0);
    proc_free(&p);
    size_t n = logged(log, tag, seeds, max);
    free(log);
    return n;
}

/* The 0-based schedule of `seed` in the baseline, or -1. */
static long schedule_of(const unsigned long long *base, size_t nbase, unsigned long long seed) {
    for (size_t k = 0; k < nbase; k++)
        if (base[k] == seed)
            return (long)k;
    return -1;
}

/* The number after "\"key\":" in the JSON text after `from` (-1 when absent). */
static long json_number(const char *from, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *at = from ? strstr(from, pat) : NULL;
    return at ? strtol(at + strlen(pat), NULL, 10) : -1;
}

static const char *junit_property(fixture_run *r, const char *name, const char *key) {
    static ac__buf out;
    char expr[256];
    snprintf(expr, sizeof expr,
             "string(//testcase[@name='%s']/properties/property[@name='asyncheck.exploration.%s']/@value)",
             name, key);
    ac__buf_free(&out);
    xpath(r->junit, expr, &out);
    return ac__buf_str(&out);
}

AC_TEST(meta_shard, a_thousand_schedules_over_four_shards_run_each_seed_exactly_once, .timeout = 60) {
    char *dir = make_temp_dir();
    static unsigned long long base[1000], got[1000];
    AC_ASSERT_EQ(baseline(dir, "shard.campaign", "campaign", NULL, base, 1000), 1000u);
    unsigned ran[1000] = {0};
    for (int i = 1; i <= NSHARDS; i++) {
        char shard[32], log_env[512], json_arg[512], *log = path_in(dir, "shard.log"),
                                                     *json = path_in(dir, "shard.json");
        snprintf(shard, sizeof shard, "--shard=%d/%d", i, NSHARDS);
        snprintf(log_env, sizeof log_env, "AC_SHARD_LOG=%s", log);
        snprintf(json_arg, sizeof json_arg, "--json=%s", json);
        remove(log);
        const char *args[] = {shard, json_arg, NULL};
        const char *env[] = {log_env, "AC_SHARD_FAIL_SEED", "AC_TIMEOUT_MULTIPLIER", NULL};
        fixture_run r;
        const tap_point *pt = fixture_point(&r, FIXTURE_SHARD, "shard.campaign", args, env);
        AC_EXPECT_TRUE(pt->ok);
        AC_EXPECT_EQ(r.p.status, 0);
        /* what the shard really ran: seeds of schedules k with k mod 4 == i - 1, each once */
        size_t n = logged(log, "campaign", got, 1000);
        AC_EXPECT_EQ(n, 250u);
        bool mine[1000] = {0};
        for (size_t j = 0; j < n; j++) {
            long k = schedule_of(base, 1000, got[j]);
            if (k < 0)
                AC_FAIL("shard %d ran seed %llu, which the unsharded run did not", i, got[j]);
            AC_EXPECT_EQ(k % NSHARDS, i - 1);
            ran[k]++;
            mine[k] = true;
        }
        /* what its reports say it ran: schedules first + step * j, j < schedules, in TAP, JUnit and JSON */
        char want_text[128], want_shard[16], want_last[16];
        snprintf(want_text, sizeof want_text,
                 "%d, %d, %d, \xe2\x80\xa6, %d (n \xe2\x89\xa1 %d mod 4, n \xe2\x89\xa4 %d)", i, i + 4, i + 8,
                 996 + i, i % 4, 996 + i);
        snprintf(want_shard, sizeof want_shard, "%d/4", i);
        snprintf(want_last, sizeof want_last, "%d", 996 + i);
        AC_EXPECT_STR_EQ(field(pt, "    schedules: "), "250");
        AC_EXPECT_STR_EQ(field(pt, "    schedules_total: "), "1000");
        AC_EXPECT_STR_EQ(field(pt, "    shard: "), want_shard);
        AC_EXPECT_STR_EQ(field(pt, "    shard_share: "), "250");
        AC_EXPECT_STR_EQ(field(pt, "    shard_step: "), "4");
        AC_EXPECT_STR_EQ(field(pt, "    shard_last: "), want_last);
        AC_EXPECT_STR_EQ(field(pt, "    shard_schedules: "), want_text);
        AC_EXPECT_STR_EQ(junit_property(&r, "campaign", "shard"), want_shard);
        AC_EXPECT_STR_EQ(junit_property(&r, "campaign", "shard_schedules"), want_text);
        AC_EXPECT_STR_EQ(junit_property(&r, "campaign", "shard_last"), want_last);
        char *js = read_file(json);
        const char *sh = js ? strstr(js, "\"shard\":{") : NULL;
        if (!sh)
            AC_FAIL("no shard object in %s", js ? js : "(no JSON)");
        long first = json_number(sh, "first"), step = json_number(sh, "step"),
             count = json_number(js, "schedules");
        AC_EXPECT_EQ(json_number(sh, "index"), i);
        AC_EXPECT_EQ(json_number(sh, "count"), 4);
        AC_EXPECT_EQ(json_number(sh, "share"), 250);
        AC_EXPECT_EQ(json_number(sh, "last"), 996 + i);
        AC_ASSERT_TRUE(first >= 1 && step >= 1 && count >= 0);
        for (long k = 0; k < 1000; k++) { /* the JSON's schedules (1-based n = k + 1) are the logged ones */
            bool claimed = (k + 1 - first) % step == 0 && k + 1 >= first && (k + 1 - first) / step < count;
            if (claimed != mine[k])
                AC_FAIL_LATER("schedule %ld: the JSON says %s ran, the log %s", k + 1,
                              claimed ? "it" : "it never", mine[k] ? "it did" : "it did not");
        }
        free(js);
        fixture_done(&r);
        free(log);
        free(json);
    }
    for (size_t k = 0; k < 1000; k++)
        if (ran[k] != 1)
            AC_FAIL_LATER("seed %llu (schedule %zu) ran %u times over the shards", base[k], k + 1, ran[k]);
    rm_tree(dir);
    free(dir);
}

AC_TEST(meta_shard, a_planted_seed_is_found_by_one_shard_and_its_replay_line_reproduces_it, .timeout = 60) {
    char *dir = make_temp_dir();
    static unsigned long long base[1000];
    AC_ASSERT_EQ(baseline(dir, "shard.campaign", "campaign", NULL, base, 1000), 1000u);
    char planted[64], want[160];
    snprintf(planted, sizeof planted, "AC_SHARD_FAIL_SEED=%llu", base[637]); /* schedule 638: shard 2/4 */
    const char *env[] = {planted, "AC_SHARD_LOG", "AC_TIMEOUT_MULTIPLIER", NULL};
    int found = 0;
    for (int i = 1; i <= NSHARDS; i++) {
        char shard[32];
        snprintf(shard, sizeof shard, "--shard=%d/%d", i, NSHARDS);
        fixture_run r;
        const tap_point *pt =
            fixture_point(&r, FIXTURE_SHARD, "shard.campaign", (const char *[]){shard, NULL}, env);
        if (!pt->ok) {
            found++;
            AC_EXPECT_EQ(i, 2);
            snprintf(want, sizeof want, "schedule 638 of 1000 (seed %llu, shuffle) failed", base[637]);
            AC_EXPECT_STR_CONTAINS(failure_field(pt, 1, "message"), want);
            AC_EXPECT_FALSE(strstr(failure_field(pt, 1, "message"), "--shard") != NULL);
        }
        fixture_done(&r);
    }
    AC_EXPECT_EQ(found, 1);
    /* the replay line (checked to hold nothing after --seed, so no shard) fails 3 times out of 3 */
    fixture_found_and_replayed(FIXTURE_SHARD, "shard.campaign", (const char *[]){"--shard=2/4", NULL}, env,
                               "AC_ASSERT_NE(seed, strtoull(planted, NULL, 10)) failed", NULL);
    rm_tree(dir);
    free(dir);
}

/* The replay line of `pt`'s exploration failure, after the program's path. */
static char *replay_of(const tap_point *pt) {
    const char *m = strstr(failure_field(pt, 1, "message"), "replay: ");
    const char *args = m ? strstr(m, " --filter") : NULL;
    return ac__xstrdup(args ? args : "(no replay line)");
}

AC_TEST(meta_shard, pct_learns_the_same_step_count_on_every_shard, .timeout = 60) {
    char *dir = make_temp_dir();
    unsigned long long base[40];
    AC_ASSERT_EQ(baseline(dir, "shard.pct", "pct", NULL, base, 40), 40u);
    char planted[64];
    snprintf(planted, sizeof planted, "AC_SHARD_FAIL_SEED=%llu", base[22]); /* schedule 23: shard 3/4 */
    const char *env[] = {planted, "AC_SHARD_LOG", "AC_TIMEOUT_MULTIPLIER", NULL};
    fixture_run r;
    const tap_point *pt = fixture_point(&r, FIXTURE_SHARD, "shard.pct", NULL, env);
    AC_ASSERT_FALSE(pt->ok);
    char *unsharded = replay_of(pt);
    AC_EXPECT_STR_CONTAINS(unsharded, " --schedule-mode=pct:3:");
    fixture_done(&r);
    /* shard 3 does not own schedule 0, whose run gives PCT its step count: its replay line is the same */
    pt = fixture_point(&r, FIXTURE_SHARD, "shard.pct", (const char *[]){"--shard=3/4", NULL}, env);
    AC_ASSERT_FALSE(pt->ok);
    char *sharded = replay_of(pt);
    AC_EXPECT_STR_EQ(sharded, unsharded);
    AC_EXPECT_STR_CONTAINS(failure_field(pt, 1, "message"), "schedule 23 of 40");
    fixture_done(&r);
    free(unsharded);
    free(sharded);
    /* and each seed runs once over the shards: schedule 0's calibration runs are counted nowhere */
    unsigned ran[40] = {0};
    for (int i = 1; i <= NSHARDS; i++) {
        char shard[32], log_env[512], *log = path_in(dir, "pct.log");
        snprintf(shard, sizeof shard, "--shard=%d/%d", i, NSHARDS);
        snprintf(log_env, sizeof log_env, "AC_SHARD_LOG=%s", log);
        remove(log);
        const char *args[] = {shard, NULL},
                   *lenv[] = {log_env, "AC_SHARD_FAIL_SEED", "AC_TIMEOUT_MULTIPLIER", NULL};
        pt = fixture_point(&r, FIXTURE_SHARD, "shard.pct", args, lenv);
        AC_EXPECT_TRUE(pt->ok);
        AC_EXPECT_STR_EQ(field(pt, "    schedules: "), "10");
        AC_EXPECT_STR_EQ(field(pt, "    runs: "), "10");
        unsigned long long got[80];
        size_t n = logged(log, "pct", got, 80);
        for (size_t j = 0; j < n; j++) {
            long k = schedule_of(base, 40, got[j]);
            if (k >= 0 && !(i > 1 && k == 0)) /* seed 0: shards 2..4 calibrate on it */
                ran[k]++;
            else if (k < 0)
                AC_FAIL_LATER("shard %d ran seed %llu, which the unsharded run did not", i, got[j]);
        }
        AC_EXPECT_EQ(n, i == 1 ? 10u : 11u); /* 10 each, and the calibration run on the others */
        fixture_done(&r);
        free(log);
    }
    for (size_t k = 0; k < 40; k++)
        if (ran[k] != 1)
            AC_FAIL_LATER("schedule %zu ran %u times over the shards", k + 1, ran[k]);
    rm_tree(dir);
    free(dir);
}

AC_TEST(meta_shard, check_determinism_keeps_both_runs_of_a_seed_on_one_shard, .timeout = 60) {
    char *dir = make_temp_dir();
    unsigned long long base[40];
    const char *sched[] = {"--schedules=40", NULL};
    AC_ASSERT_EQ(baseline(dir, "shard.campaign", "campaign", sched, base, 40), 40u);
    unsigned ran[40] = {0};
    for (int i = 1; i <= NSHARDS; i++) {
        char shard[32], log_env[512], *log = path_in(dir, "det.log");
        snprintf(shard, sizeof shard, "--shard=%d/%d", i, NSHARDS);
        snprintf(log_env, sizeof log_env, "AC_SHARD_LOG=%s", log);
        remove(log);
        const char *args[] = {shard, "--schedules=40", "--check-determinism", NULL};
        const char *env[] = {log_env, "AC_SHARD_FAIL_SEED", "AC_TIMEOUT_MULTIPLIER", NULL};
        fixture_run r;
        const tap_point *pt = fixture_point(&r, FIXTURE_SHARD, "shard.campaign", args, env);
        AC_EXPECT_TRUE(pt->ok);
        AC_EXPECT_STR_EQ(field(pt, "    runs: "), "20");
        AC_EXPECT_STR_EQ(field(pt, "    check_determinism: "), "true");
        unsigned long long got[80];
        size_t n = logged(log, "campaign", got, 80);
        AC_EXPECT_EQ(n, 20u);
        for (size_t j = 0; j < n; j++) {
            long k = schedule_of(base, 40, got[j]);
            if (k < 0 || k % NSHARDS != i - 1)
                AC_FAIL_LATER("shard %d ran seed %llu (schedule %ld)", i, got[j], k + 1);
            else
                ran[k]++;
        }
        fixture_done(&r);
        free(log);
    }
    for (size_t k = 0; k < 40; k++)
        if (ran[k] != 2)
            AC_FAIL_LATER("schedule %zu ran %u times over the shards (want twice, on one shard)", k + 1,
                          ran[k]);
    rm_tree(dir);
    free(dir);
}

/* The names of the TAP points of a run of the fixture, joined by ' '. */
static void shard_points(int i, const char *const *env_extra, ac__buf *names) {
    char shard[32];
    snprintf(shard, sizeof shard, "--shard=%d/%d", i, NSHARDS);
    const char *args[] = {"--filter=shard.*",      "--filter=-shard.campaign", "--filter=-shard.pct",
                          "--filter=-shard.sweep", env_extra ? NULL : shard,   NULL};
    fixture_run r;
    fixture_tap(&r, FIXTURE_SHARD, args, env_extra);
    AC_EXPECT_EQ(r.p.status, 0);
    for (size_t k = 0; k < r.tap.n; k++)
        ac__buf_printf(names, "%s ", r.tap.points[k].name);
    fixture_done(&r);
}

AC_TEST(meta_shard, fewer_schedules_than_shards_and_whole_tests) {
    const char *want[] = {"shard.two_schedules shard.plain_a shard.plain_e ",
                          "shard.two_schedules shard.plain_b ", "shard.plain_c ", "shard.plain_d "};
    for (int i = 1; i <= NSHARDS; i++) {
        ac__buf names = {0};
        shard_points(i, NULL, &names);
        AC_EXPECT_STR_EQ(ac__buf_str(&names), want[i - 1]);
        ac__buf_free(&names);
        /* Bazel's variables (0-based) split the same way */
        char index[32];
        snprintf(index, sizeof index, "TEST_SHARD_INDEX=%d", i - 1);
        const char *env[] = {index, "TEST_TOTAL_SHARDS=4", "AC_SHARD_LOG", "AC_SHARD_FAIL_SEED", NULL};
        shard_points(i, env, &names);
        AC_EXPECT_STR_EQ(ac__buf_str(&names), want[i - 1]);
        ac__buf_free(&names);
    }
}

AC_TEST(meta_shard, the_verbose_report_names_the_shards_schedules) {
    const char *argv[] = {FIXTURE_SHARD, "--filter=shard.campaign", "-v", "--shard=4/4", NULL};
    proc p;
    run_process(argv, (const char *[]){"AC_SHARD_LOG", "AC_SHARD_FAIL_SEED", NULL}, &p);
    AC_EXPECT_EQ(p.status, 0);
    AC_EXPECT_STR_CONTAINS(
        ac__buf_str(&p.out),
        "explored 250 of 1000 schedules (shuffle), 250 runs; shard 4/4 ran schedules 4, 8, "
        "12, \xe2\x80\xa6, 1000 (n \xe2\x89\xa1 0 mod 4, n \xe2\x89\xa4 1000) of its 250\n");
    proc_free(&p);
}

AC_TEST(meta_shard, bad_shards_with_an_exploration_are_still_usage_errors) {
    const char *cases[][2] = {{"--shard=5/4", "--shard: '5/4' is not I/N"},
                              {"--shard=0/4", "--shard: '0/4' is not I/N"}};
    for (size_t i = 0; i < 2; i++) {
        const char *argv[] = {FIXTURE_SHARD, "--schedules=1000", cases[i][0], NULL};
        proc p;
        run_process(argv, NULL, &p);
        AC_EXPECT_EQ(p.status, 2);
        AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.err), cases[i][1]);
        proc_free(&p);
    }
}

AC_TEST(meta_shard, a_cancel_sweep_keeps_every_cancel_point_of_a_schedule_on_its_shard, .timeout = 60) {
    char *dir = make_temp_dir();
    unsigned long long base[64];
    size_t nbase = baseline(dir, "shard.sweep", "sweep", NULL, base, 64);
    AC_ASSERT_GT(nbase, 8u); /* several cancel points a schedule */
    unsigned long long seeds[8];
    unsigned want[8] = {0}, ran[8] = {0};
    size_t nseeds = 0;
    for (size_t j = 0; j < nbase; j++) { /* -j1, one schedule after the other: the seeds in order */
        if (nseeds == 0 || seeds[nseeds - 1] != base[j]) {
            AC_ASSERT_LT(nseeds, 8u);
            seeds[nseeds++] = base[j];
        }
        want[nseeds - 1]++;
    }
    AC_ASSERT_EQ(nseeds, 8u);
    for (int i = 1; i <= NSHARDS; i++) {
        char shard[32], log_env[512], *log = path_in(dir, "sweep.log");
        snprintf(shard, sizeof shard, "--shard=%d/%d", i, NSHARDS);
        snprintf(log_env, sizeof log_env, "AC_SHARD_LOG=%s", log);
        remove(log);
        const char *args[] = {shard, NULL};
        const char *env[] = {log_env, "AC_SHARD_FAIL_SEED", "AC_TIMEOUT_MULTIPLIER", NULL};
        fixture_run r;
        const tap_point *pt = fixture_point(&r, FIXTURE_SHARD, "shard.sweep", args, env);
        AC_EXPECT_TRUE(pt->ok);
        AC_EXPECT_STR_EQ(field(pt, "    schedules: "), "2");
        AC_EXPECT_STR_EQ(field(pt, "    cancel_sweep: "), "true");
        unsigned long long got[64];
        size_t n = logged(log, "sweep", got, 64);
        for (size_t j = 0; j < n; j++) {
            long k = schedule_of(seeds, 8, got[j]);
            if (k < 0 || k % NSHARDS != i - 1)
                AC_FAIL_LATER("shard %d ran seed %llu (schedule %ld)", i, got[j], k + 1);
            else
                ran[k]++;
        }
        fixture_done(&r);
        free(log);
    }
    for (size_t k = 0; k < 8; k++)
        if (ran[k] != want[k])
            AC_FAIL_LATER("schedule %zu: %u runs over the shards, %u unsharded", k + 1, ran[k], want[k]);
    rm_tree(dir);
    free(dir);
}
