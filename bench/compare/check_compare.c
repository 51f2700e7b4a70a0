/* check_compare.c — the Check side of bench/compare/run.sh. CMP_WORK 1: 1,000 trivial tests; 2: 1,000
 * tests each making a libev loop and doing the async work on it (compare.h). Fork mode follows CK_FORK
 * (yes: each test in its own process, Check's default; no: in-process).
 * Exit status: 0 if all 1,000 ran and passed, 1 otherwise. CK_NORMAL prints the summary line. */
#include <check.h>
#include <stdlib.h>

#include "compare.h"

#if CMP_WORK == 1
#define CMP_TEST(id, n)                                                                                      \
    START_TEST(id) {                                                                                         \
        ck_assert(cmp_trivial(n));                                                                           \
    }                                                                                                        \
    END_TEST
#elif CMP_WORK == 2
#define CMP_TEST(id, n)                                                                                      \
    START_TEST(id) {                                                                                         \
        ck_assert(cmp_async_fresh_loop(n));                                                                  \
    }                                                                                                        \
    END_TEST
#else
#error "CMP_WORK must be 1 (trivial) or 2 (async)"
#endif
CMP_THOUSAND(CMP_TEST)

#define CMP_ADD(id, n) tcase_add_test(tc, id);

int main(void) {
    Suite *s = suite_create("cmp");
    TCase *tc = tcase_create("cmp");
    CMP_THOUSAND(CMP_ADD)
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int run = srunner_ntests_run(sr), failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return run == 1000 && failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
