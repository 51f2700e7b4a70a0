/* old_names.c — every mock name of version 0.1.0 once: each must warn as deprecated, naming its
 * replacement (selftest/api/check_api.cmake counts the warnings). That they still work is
 * selftest/unit/mock_old_names.c. Never linked. */
#include "asyncheck/mock.h"

void old_body(ac_test *t);

void old_body(ac_test *t) {
    ac_mock *m = ac_mock_new(t, "int get(void (*cb)(int status, void *ud), void *ud)");
    ac_mock_completes(m, "cb(200, $ud)", ac_after(0.1));
    ac_mock_completesf(m, ac_within(0.1, 0.2), "cb(%d, $ud)", 201);
    ac_when w[] = {ac_next_iteration(), ac_manual(), ac_never(), ac_twice(0.1), ac_inside_call()};
    (void)w;
    if (ac_mock_held(m) && !ac_mock_complete(m, 0))
        ac_mock_complete_next(m);
}
