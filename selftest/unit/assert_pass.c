/* assert_pass.c — every assertion macro holding when it should (its failing side is proved by the
 * meta-tests over fixtures/asserts.c). A macro that failed on a true condition fails this suite. */
#include <asyncheck.h>
#include <stdint.h>
#include <string.h>

AC_TEST(assert_pass, booleans) {
    int *p = (int *)&p;
    AC_ASSERT_TRUE(1);
    AC_ASSERT_TRUE(p);
    AC_ASSERT_TRUE(0.5);
    AC_ASSERT_FALSE(0);
    AC_ASSERT_FALSE((void *)0);
    AC_ASSERT_FALSE(0.0);
    AC_EXPECT_TRUE(-1);
    AC_EXPECT_FALSE(false);
}

AC_TEST(assert_pass, comparisons) {
    AC_ASSERT_EQ(2 + 2, 4);
    AC_ASSERT_NE(2, 3);
    AC_ASSERT_LT(2, 3);
    AC_ASSERT_LE(3, 3);
    AC_ASSERT_GT(4, 3);
    AC_ASSERT_GE(4, 4);
    AC_EXPECT_EQ((short)-7, -7L);
    AC_EXPECT_EQ('a', 97);
    AC_EXPECT_EQ(true, 1);
}

AC_TEST(assert_pass, signedness_is_exact) {
    /* In C, -1 < 1u is false; asyncheck compares the values themselves. */
    AC_ASSERT_LT(-1, 1u);
    AC_ASSERT_GT(UINT64_MAX, -1);
    AC_ASSERT_NE(UINT64_MAX, -1);
    AC_ASSERT_EQ(INT64_MIN, INT64_MIN);
    AC_ASSERT_LT(INT64_MIN, 0u);
    AC_ASSERT_EQ((unsigned char)200, 200);
    AC_ASSERT_LT(INT64_MAX, UINT64_MAX);
}

AC_TEST(assert_pass, doubles) {
    AC_ASSERT_EQ(0.5, 0.5f);
    AC_ASSERT_LT(1, 1.5);
    AC_ASSERT_GT(2.5, 2);
    AC_ASSERT_NEAR(0.1 + 0.2, 0.3, 1e-12);
    AC_ASSERT_NEAR(-1.0, -1.05, 0.1);
    AC_ASSERT_EQ(9007199254740993LL, 9007199254740993LL); /* beyond 2^53, still exact */
}

AC_TEST(assert_pass, pointers) {
    int x = 0, *p = &x, *q = NULL;
    AC_ASSERT_EQ(p, &x);
    AC_ASSERT_NE(p, q);
    AC_ASSERT_NULL(q);
    AC_ASSERT_NOT_NULL(p);
    AC_ASSERT_EQ(q, NULL);
}

AC_TEST(assert_pass, strings) {
    char buf[16];
    strcpy(buf, "hello");
    AC_ASSERT_STR_EQ(buf, "hello");
    AC_ASSERT_STR_NE(buf, "hellO");
    AC_ASSERT_STR_NE(buf, NULL);
    AC_ASSERT_STR_EQ(NULL, NULL);
    AC_ASSERT_STR_CONTAINS("a needle in", "needle");
    AC_ASSERT_STR_CONTAINS("anything", "");
}

AC_TEST(assert_pass, memory) {
    unsigned char a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 4};
    AC_ASSERT_MEM_EQ(a, b, sizeof a);
    AC_ASSERT_MEM_EQ(a, b, 0);
    b[3] = 9;
    AC_ASSERT_MEM_EQ(a, b, 3); /* the difference lies beyond n */
}

/* Each argument is evaluated exactly once. */
AC_TEST(assert_pass, single_evaluation) {
    int i = 0;
    AC_ASSERT_EQ(++i, 1);
    AC_ASSERT_TRUE(i++);
    AC_ASSERT_EQ(i, 2);
    const char *s = "ab";
    AC_ASSERT_STR_EQ(s++, "ab");
    AC_ASSERT_STR_EQ(s, "b");
}

static int on_loop_calls;

static void on_loop_timer(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
    AC_EXPECT_ON_LOOP_THREAD();
    on_loop_calls++;
}

/* The body and the loop's callbacks run on the loop's thread (the failing side: meta_threads.c). */
AC_TEST(assert_pass, on_loop_thread) {
    AC_EXPECT_ON_LOOP_THREAD();
    ev_timer tm;
    ev_timer_init(&tm, on_loop_timer, 0.001, 0);
    ev_timer_start(ac_loop(t), &tm);
    AC_AWAIT(t, on_loop_calls == 1, 1.0);
}
