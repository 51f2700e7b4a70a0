/* meta_deferred_timer.c — deferred timers seen from outside, through the TAP of fixtures/deferred_timer.c: a
 * cache lookup that trusts its eviction timer passes every dispatch order without deferral, fails with
 * --defer-readiness (or its own .defer_readiness) in a replay line that fails 3 times out of 3, its fixed
 * twin passes, twice per seed under --check-determinism, and held timers keep their deadline order. */
#include "meta.h"

#include <string.h>

static const char *const clean_env[] = {"AC_TIMEOUT_MULTIPLIER", NULL};
static const char *const defer[] = {"--defer-readiness", NULL};

static const tap_point *run_one(fixture_run *r, const char *name, const char *const *extra) {
    return fixture_point(r, FIXTURE_DEFERRED_TIMER, name, extra, clean_env);
}

static void passes(const char *name, const char *const *extra) {
    fixture_run r;
    const tap_point *pt = run_one(&r, name, extra);
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_EQ(r.p.status, 0);
    fixture_done(&r);
}

/* `name` fails at the lookup's expiry assertion; its replay line (which must hold `flag`, or not when NULL)
 * fails the same way 3 times out of 3. */
static void found(const char *name, const char *const *extra, const char *flag) {
    fixture_run r;
    const tap_point *pt = run_one(&r, name, extra);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(failure_field(pt, 0, "message"), "AC_ASSERT_LT(ev_now(loop), c->expires) failed");
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
        fixture_tap(&rr, FIXTURE_DEFERRED_TIMER, argv, clean_env);
        const tap_point *p = point(&rr, name);
        AC_EXPECT_FALSE(p->ok);
        AC_EXPECT_EQ(rr.tap.n, 1);
        AC_EXPECT_STR_EQ(field(p, "  message: "), "AC_ASSERT_LT(ev_now(loop), c->expires) failed");
        fixture_done(&rr);
    }
}

AC_TEST(deferred_timer, every_order_without_deferral_passes_the_buggy_lookup) {
    passes("defer_timer.expiry_buggy", NULL);
    passes("defer_timer.expiry_buggy", (const char *const[]){"--schedules=200", "--check-determinism", NULL});
}

AC_TEST(deferred_timer, defer_readiness_finds_it_and_the_replay_fails_3_of_3) {
    found("defer_timer.expiry_buggy", defer, "--defer-readiness");
}

AC_TEST(deferred_timer, the_tests_own_option_finds_it) {
    found("defer_timer.expiry_buggy_own", NULL, NULL);
}

AC_TEST(deferred_timer, the_fixed_twin_passes_and_is_deterministic) {
    passes("defer_timer.expiry_fixed", defer);
    passes("defer_timer.expiry_fixed",
           (const char *const[]){"--defer-readiness", "--schedules=100", "--check-determinism", NULL});
}

AC_TEST(deferred_timer, held_timers_keep_their_deadline_order) {
    passes("defer_timer.timer_order", (const char *const[]){"--schedules=400", NULL});
    passes("defer_timer.timer_order", (const char *const[]){"--schedules=100", "--check-determinism", NULL});
}
