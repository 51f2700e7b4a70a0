/* cmocka_compare.c — the cmocka side of bench/compare/run.sh (cmocka runs tests in-process).
 * CMP_WORK 1: 1,000 trivial tests; 2: 1,000 tests each making a libev loop and doing the async work on
 * it (compare.h). cmocka_run_group_tests returns the number of failed tests, which as an exit status
 * would wrap at 256; the exit status here is 0 if none failed, 1 otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "compare.h"

#if CMP_WORK == 1
#define CMP_TEST(id, n)                                                                                      \
    static void id(void **state) {                                                                           \
        (void)state;                                                                                         \
        assert_true(cmp_trivial(n));                                                                         \
    }
#elif CMP_WORK == 2
#define CMP_TEST(id, n)                                                                                      \
    static void id(void **state) {                                                                           \
        (void)state;                                                                                         \
        assert_true(cmp_async_fresh_loop(n));                                                                \
    }
#else
#error "CMP_WORK must be 1 (trivial) or 2 (async)"
#endif
CMP_THOUSAND(CMP_TEST)

#define CMP_ENTRY(id, n) cmocka_unit_test(id),

int main(void) {
    static const struct CMUnitTest tests[] = {CMP_THOUSAND(CMP_ENTRY)};
    return cmocka_run_group_tests_name("cmp", tests, NULL, NULL) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
