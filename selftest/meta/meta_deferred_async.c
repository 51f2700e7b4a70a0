/* meta_deferred_async.c — deferred ev_async, ev_signal and ev_periodic seen from outside, through the TAP
 * of fixtures/deferred_async.c: a consumer that takes one item per wakeup passes every dispatch order
 * without deferral and fails with --defer-readiness (its sends coalesce) in a replay line that fails 3
 * times out of 3, as does a cache evicted by an ev_periodic; the fixed twins pass, twice per seed under
 * --check-determinism, and held periodics keep their deadline order. */
#include "meta.h"

static const char *const clean_env[] = {"AC_TIMEOUT_MULTIPLIER", NULL};
static const char *const defer[] = {"--defer-readiness", NULL};
static const char *const defer_det[] = {"--defer-readiness", "--schedules=60", "--check-determinism", NULL};
static const char *const no_defer[] = {"--schedules=200", "--check-determinism", NULL};

static void passes(const char *name, const char *const *extra) {
    fixture_passes(FIXTURE_DEFERRED_ASYNC, name, extra, clean_env);
}

static void found(const char *name, const char *message) {
    fixture_found_and_replayed(FIXTURE_DEFERRED_ASYNC, name, defer, clean_env, message, "--defer-readiness");
}

AC_TEST(deferred_async, a_consumer_trusting_one_ev_async_callback_per_send_is_found_only_deferred) {
    passes("defer_async.async_buggy", no_defer);
    found("defer_async.async_buggy", "AC_ASSERT_EQ(q.handled, q.sent) failed");
    passes("defer_async.async_fixed", defer_det);
}

AC_TEST(deferred_async, a_consumer_trusting_one_ev_signal_callback_per_signal_is_found_only_deferred) {
    passes("defer_async.signal_buggy", no_defer);
    found("defer_async.signal_buggy", "AC_ASSERT_EQ(q.handled, q.sent) failed");
    passes("defer_async.signal_fixed", defer_det);
}

AC_TEST(deferred_async, a_cache_trusting_its_periodic_eviction_is_found_only_deferred) {
    passes("defer_async.periodic_buggy", no_defer);
    found("defer_async.periodic_buggy", "AC_ASSERT_LT(ev_now(loop), c->expires) failed");
    passes("defer_async.periodic_fixed", defer_det);
}

AC_TEST(deferred_async, held_periodics_keep_their_deadline_order) {
    passes("defer_async.periodic_order", (const char *const[]){"--schedules=300", NULL});
    passes("defer_async.periodic_order",
           (const char *const[]){"--schedules=60", "--check-determinism", NULL});
}
