/* meta_cbtime.c — time inside callbacks seen from outside, through the TAP of fixtures/cbtime.c: a request
 * handler that checks its deadline against a stale ev_now() passes every dispatch order while callbacks take
 * no virtual time, fails with --callback-time-max (or its own .callback_time_max) in a replay line that fails
 * 3 times out of 3, and its fixed twin passes, twice per seed under --check-determinism. */
#include "meta.h"

#include <string.h>

static const char *const clean_env[] = {"AC_TIMEOUT_MULTIPLIER", NULL};
static const char *const charge[] = {"--callback-time-max=0.1", NULL};

static void passes(const char *name, const char *const *extra) {
    fixture_passes(FIXTURE_CBTIME, name, extra, clean_env);
}

/* `name` fails at its assertion; its replay line (holding `flag`, or not when NULL) fails the same way 3
 * times out of 3. */
static void found(const char *name, const char *const *extra, const char *flag) {
    fixture_found_and_replayed(FIXTURE_CBTIME, name, extra, clean_env,
                               "AC_ASSERT_LE(ev_time(), s->deadline) failed", flag);
}

AC_TEST(cbtime, callbacks_taking_no_time_pass_the_buggy_handler) {
    passes("cbtime.deadline_buggy", NULL);
    passes("cbtime.deadline_buggy", (const char *const[]){"--schedules=200", "--check-determinism", NULL});
}

AC_TEST(cbtime, callback_time_finds_it_and_the_replay_fails_3_of_3) {
    found("cbtime.deadline_buggy", charge, "--callback-time-max=0.1");
}

AC_TEST(cbtime, the_tests_own_option_finds_it) {
    found("cbtime.deadline_buggy_own", NULL, NULL);
}

AC_TEST(cbtime, the_fixed_twin_passes_and_is_deterministic) {
    passes("cbtime.deadline_fixed", charge);
    passes("cbtime.deadline_fixed",
           (const char *const[]){"--callback-time-max=0.1", "--schedules=100", "--check-determinism", NULL});
}
