/* meta_deferred.c — deferred readiness seen from outside, through the TAP of fixtures/deferred.c: a frame
 * assembler that assumes two fds are ready in one iteration passes every dispatch order without deferral,
 * fails with --defer-readiness (or its own .defer_readiness) in a replay line that fails 3 times out of 3,
 * and its fixed twin passes, twice per seed under --check-determinism. */
#include "meta.h"

#include <string.h>

static const char *const clean_env[] = {"AC_TIMEOUT_MULTIPLIER", NULL};
static const char *const defer[] = {"--defer-readiness", NULL};

static void passes(const char *name, const char *const *extra) {
    fixture_passes(FIXTURE_DEFERRED, name, extra, clean_env);
}

/* `name` fails at its assertion; its replay line (holding `flag`, or not when NULL) fails the same way 3
 * times out of 3. */
static void found(const char *name, const char *const *extra, const char *flag) {
    fixture_found_and_replayed(FIXTURE_DEFERRED, name, extra, clean_env,
                               "AC_ASSERT_EQ(f->header, f->body) failed", flag);
}

AC_TEST(deferred, every_order_of_one_iteration_passes_the_buggy_assembler) {
    passes("defer.frame_buggy", NULL);
    passes("defer.frame_buggy", (const char *const[]){"--schedules=200", "--check-determinism", NULL});
}

AC_TEST(deferred, defer_readiness_finds_it_and_the_replay_fails_3_of_3) {
    found("defer.frame_buggy", defer, "--defer-readiness");
}

AC_TEST(deferred, the_tests_own_option_finds_it) {
    found("defer.frame_buggy_own", NULL, NULL);
}

AC_TEST(deferred, the_fixed_twin_passes_and_is_deterministic) {
    passes("defer.frame_fixed", defer);
    passes("defer.frame_fixed",
           (const char *const[]){"--defer-readiness", "--schedules=100", "--check-determinism", NULL});
}
