/* meta_shard.c — sharded exploration seen from outside, through fixtures/shard_explore.c (each run logs
 * its seed): 1,000 schedules over 4 shards run each seed exactly once, and each shard's TAP, JUnit and
 * JSON name exactly the schedules it ran; a planted failing seed is found by one shard only and its replay
 * line, which carries no shard, reproduces it 3 times out of 3; PCT's step count is the same on every
 * shard; --check-determinism keeps both runs of a seed on one shard; a test with fewer schedules than
 * shards runs on the first shards only, and tests that run once still go to the shards whole. */
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
