/* enum_mismatch.c — three values of the wrong enum, where the typed enums make the compiler warn
 * (-Wenum-conversion, in -Wextra); with `int` fields and parameters it said nothing. Checked by
 * selftest/api/check_api.cmake. Never linked. */
#include "asyncheck/race.h"

static const ac_test_options wrong = {.clock = AC_SCHED_PCT, .schedule_mode = AC_CLOCK_VIRTUAL};

void *wrong_promise(ac_test *t);

void *wrong_promise(ac_test *t) {
    (void)wrong;
    return ac_op_callback(t, "void (*)(void)", wrong_promise, AC_CLOCK_REAL);
}
