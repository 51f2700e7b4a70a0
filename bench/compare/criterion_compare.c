/* criterion_compare.c — the Criterion side of bench/compare/run.sh (Criterion's own main).
 * CMP_WORK 1: 1,000 trivial tests; 2: 1,000 tests each making a libev loop and doing the async work
 * on it (compare.h). Test names: cmp/t000 ... */
#include <criterion/criterion.h>

#include "compare.h"

#if CMP_WORK == 1
#define CMP_TEST(id, n)                                                                                      \
    Test(cmp, id) {                                                                                          \
        cr_assert(cmp_trivial(n));                                                                           \
    }
#elif CMP_WORK == 2
#define CMP_TEST(id, n)                                                                                      \
    Test(cmp, id) {                                                                                          \
        cr_assert(cmp_async_fresh_loop(n));                                                                  \
    }
#else
#error "CMP_WORK must be 1 (trivial) or 2 (async)"
#endif
CMP_THOUSAND(CMP_TEST)
