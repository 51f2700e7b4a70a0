/* ac_compare.c — the asyncheck side of bench/compare/run.sh. Built three times, with CMP_WORK:
 *   1  1,000 trivial tests (cmp_trivial)
 *   2  1,000 async tests: a 1 ms ev_timer and a socketpair round-trip on the test's own loop, awaited
 *      with AC_AWAIT
 *   3  200 CPU-bound tests (cmp_burn, about 2 ms each), for -j1 against -j2
 * Test names: cmp.t000 ... */
#include <asyncheck.h>

#include "compare.h"

#if CMP_WORK == 1
#define CMP_TEST(id, n)                                                                                      \
    AC_TEST(cmp, id) {                                                                                       \
        AC_ASSERT_TRUE(cmp_trivial(n));                                                                      \
    }
CMP_THOUSAND(CMP_TEST)

#elif CMP_WORK == 2
/* The body is a helper each test calls (as written once, not 1,000 times: the same code runs, and the
 * file compiles in a second or two instead of twelve). The watchers live in static memory, as the
 * README asks of watchers that may outlive a failed body. */
static cmp_async cmp_a;

static void cmp_async_test(ac_test *t, int n) {
    AC_ASSERT_EQ(cmp_async_start(ac_loop(t), &cmp_a, n), 0);
    AC_AWAIT(t, cmp_async_done(&cmp_a), 1.0);
    AC_ASSERT_EQ(cmp_a.byte, cmp_a.sent);
    cmp_async_close(&cmp_a);
}

#define CMP_TEST(id, n)                                                                                      \
    AC_TEST(cmp, id) {                                                                                       \
        cmp_async_test(t, n);                                                                                \
    }
CMP_THOUSAND(CMP_TEST)

#elif CMP_WORK == 3
#define CMP_TEST(id, n)                                                                                      \
    AC_TEST(cmp, id) {                                                                                       \
        AC_ASSERT_NE(cmp_burn(n), 0u);                                                                       \
    }
CMP_TWO_HUNDRED(CMP_TEST)

#else
#error "CMP_WORK must be 1 (trivial), 2 (async) or 3 (cpu)"
#endif
