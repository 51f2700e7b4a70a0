/* meta_deferred_timer.c — deferred timers seen from outside, through the TAP of fixtures/deferred_timer.c: a
 * cache lookup that trusts its eviction timer passes every dispatch order without deferral, fails with
 * --defer-readiness (or its own .defer_readiness) in a replay line that fails 3 times out of 3, its fixed
 * twin passes, twice per seed under --check-determinism, and held timers keep their deadline order. */
#include "meta.h"

#include <string.h>

static const char *const clean_env[] = {"AC_TIMEOUT_MULTIPLIER", NULL};
static const char *const defer[] = {"--defer-readiness", NULL};

static void passes(const char *name, const char *const *extra) {
    fixture_passes(FIXTURE_DEFERRED_TIMER, name, extra, clean_env);
}

/* `name` fails at its assertion; its replay line (holding `flag`, or not when NULL) fails the same way 3
 * times out of 3. */
static void found(const char *name, const char *const *extra, const char *flag) {
    fixture_found_and_replayed(FIXTURE_DEFERRED_TIMER, name, extra, clean_env,
                               "AC_ASSERT_LT(ev_now(loop), c->expires) failed", flag);
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
