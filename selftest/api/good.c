/* good.c — the public API as documented compiles without a warning (selftest/api/check_api.cmake builds it
 * with -Werror): the typed enums in designated initialisers and calls, and the mock names of one
 * vocabulary. Never linked. */
#include "asyncheck/clock.h"
#include "asyncheck/mock.h"
#include "asyncheck/race.h"

ac_test_options good_options(void);
ac_suite_options good_suite(void);
void good_body(ac_test *t);

ac_test_options good_options(void) {
    return (ac_test_options){.clock = AC_CLOCK_VIRTUAL, .schedule_mode = AC_SCHED_PCT, .pct_depth = 2};
}

ac_suite_options good_suite(void) {
    return (ac_suite_options){.clock = AC_CLOCK_MANUAL};
}

static void done(int status, void *ud) {
    (void)status, (void)ud;
}

static const char *computed(const ac_mock_call *call, void *ud) {
    (void)ud;
    return ac_mock_call_index(call) ? "cb(208, $ud)" : NULL;
}

void good_body(ac_test *t) {
    ac_clock kind = ac_clock_kind(t);
    ac_clock_advance(t, kind == AC_CLOCK_MANUAL ? 1.0 : 0.0);
    ac_op_callback(t, "void (*)(int status, void *ud)", done, AC_CANCEL_CALLS_BACK_ONCE);
    ac_mock *m = ac_mock_new(t, "int get(void (*cb)(int status, void *ud), void *ud)");
    ac_mock_on_call_complete(m, ac_deliver_after(0.1), "cb(200, $ud)");
    ac_mock_on_call_complete(m, ac_deliver_within(0.1, 0.2), "cb(201, $ud)");
    ac_mock_on_call_completef(m, ac_deliver_held(), "cb(%d, $ud)", 202);
    ac_mock_on_call_complete(m, ac_deliver_next_iteration(), "cb(203, $ud)");
    ac_mock_on_call_complete(m, ac_deliver_never(), "cb(204, $ud)");
    ac_mock_on_call_complete(m, ac_deliver_twice(0.1), "cb(205, $ud)");
    ac_mock_on_call_complete(m, ac_deliver_inside_call(), "cb(206, $ud)");
    ac_mock_on_call_n_complete(m, 0, ac_deliver_after(0.1), "cb(207, $ud)");
    ac_mock_on_call_n_completef(m, 1, ac_deliver_held(), "cb(%d, $ud)", 207);
    ac_completion_fn fn = computed;
    ac_mock_on_call_complete_with(m, ac_deliver_after(ac_real_now() > 0 ? 0.1 : 0.2), fn, NULL);
    if (ac_mock_held_count(m) && !ac_mock_deliver(m, 0))
        ac_mock_deliver_next(m);
}
