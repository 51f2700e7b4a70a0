/* trivial.c — 1,000 trivial tests for measuring what the runner costs per test (bench/run.sh).
 *
 * BENCH_TEN(s) defines the ten tests s.t0 ... s.t9; BENCH_HUNDRED_TENS uses it for the suites
 * s00 ... s99. Each test makes one AC_ASSERT_EQ on a value computed at run time, so the assertion is
 * not folded away. */
#include <asyncheck.h>

static volatile int bench_seed = 7;

#define BENCH_ONE(s, n)                                                                                      \
    AC_TEST(s, t##n) {                                                                                       \
        int x = bench_seed * (n + 1);                                                                        \
        AC_ASSERT_EQ(x % (n + 1), 0);                                                                        \
    }

#define BENCH_TEN(s)                                                                                         \
    BENCH_ONE(s, 0)                                                                                          \
    BENCH_ONE(s, 1)                                                                                          \
    BENCH_ONE(s, 2)                                                                                          \
    BENCH_ONE(s, 3)                                                                                          \
    BENCH_ONE(s, 4)                                                                                          \
    BENCH_ONE(s, 5)                                                                                          \
    BENCH_ONE(s, 6)                                                                                          \
    BENCH_ONE(s, 7)                                                                                          \
    BENCH_ONE(s, 8)                                                                                          \
    BENCH_ONE(s, 9)

/* s<d>0 ... s<d>9 for one tens digit d */
#define BENCH_DECADE(d)                                                                                      \
    BENCH_TEN(s##d##0)                                                                                       \
    BENCH_TEN(s##d##1)                                                                                       \
    BENCH_TEN(s##d##2)                                                                                       \
    BENCH_TEN(s##d##3)                                                                                       \
    BENCH_TEN(s##d##4)                                                                                       \
    BENCH_TEN(s##d##5)                                                                                       \
    BENCH_TEN(s##d##6)                                                                                       \
    BENCH_TEN(s##d##7)                                                                                       \
    BENCH_TEN(s##d##8)                                                                                       \
    BENCH_TEN(s##d##9)

BENCH_DECADE(0)
BENCH_DECADE(1)
BENCH_DECADE(2)
BENCH_DECADE(3)
BENCH_DECADE(4)
BENCH_DECADE(5)
BENCH_DECADE(6)
BENCH_DECADE(7)
BENCH_DECADE(8)
BENCH_DECADE(9)
