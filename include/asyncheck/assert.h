/* asyncheck/assert.h — assertions. AC_ASSERT_* fail fatally (the test ends at once; teardown still
 * runs); AC_EXPECT_* record the failure and carry on. Both work in the test body, in setup and teardown,
 * and inside libev callbacks running on the test's loop (a fatal one there ends the test just the same).
 *
 * Every failure reports the assertion as written, both values, and file:line. Comparisons of integers
 * are exact across signedness (-1 < 1u holds, unlike in C); values are printed by type (_Generic). */
#ifndef ASYNCHECK_ASSERT_H
#define ASYNCHECK_ASSERT_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ac__vkind {
    AC__V_INT,
    AC__V_UINT,
    AC__V_BOOL,
    AC__V_CHAR,
    AC__V_DOUBLE,
    AC__V_PTR,
} ac__vkind;

/* A value captured by an assertion, with the kind that decides how it is compared and printed. */
typedef struct ac__value {
    ac__vkind kind;
    union {
        long long i;
        unsigned long long u;
        double d;
        const volatile void *p;
    } as;
} ac__value;

ac__value ac__v_int(long long v);
ac__value ac__v_uint(unsigned long long v);
ac__value ac__v_bool(bool v);
ac__value ac__v_char(char v);
ac__value ac__v_double(double v);
ac__value ac__v_ptr(const volatile void *v);

#define AC__VALUE(x)                                                                                         \
    _Generic((x), _Bool                                                                                      \
             : ac__v_bool, char                                                                              \
             : ac__v_char, signed char                                                                       \
             : ac__v_int, short                                                                              \
             : ac__v_int, int                                                                                \
             : ac__v_int, long                                                                               \
             : ac__v_int, long long                                                                          \
             : ac__v_int, unsigned char                                                                      \
             : ac__v_uint, unsigned short                                                                    \
             : ac__v_uint, unsigned int                                                                      \
             : ac__v_uint, unsigned long                                                                     \
             : ac__v_uint, unsigned long long                                                                \
             : ac__v_uint, float                                                                             \
             : ac__v_double, double                                                                          \
             : ac__v_double, long double                                                                     \
             : ac__v_double, default                                                                         \
             : ac__v_ptr)(x)

typedef enum ac__op { AC__EQ, AC__NE, AC__LT, AC__LE, AC__GT, AC__GE } ac__op;

/* Where an assertion stands and how it was written; one per check. */
typedef struct ac__site {
    const char *file;
    int line;
    bool fatal;
    const char *macro; /* "AC_ASSERT_EQ" */
    const char *args;  /* "a, b" as written */
} ac__site;

#define AC__SITE(fatal, macro, args) (&(const ac__site){__FILE__, __LINE__, (fatal), (macro), (args)})

/* Each check returns true when it holds. On failure it records the failure and, when fatal, ends the
 * test (it does not return). */
bool ac__check_bool(const ac__site *s, ac__value value, bool expected);
bool ac__check_cmp(const ac__site *s, ac__op op, ac__value a, ac__value b);
bool ac__check_str(const ac__site *s, bool want_equal, const char *a, const char *b);
bool ac__check_str_contains(const ac__site *s, const char *haystack, const char *needle);
bool ac__check_mem(const ac__site *s, const void *a, const void *b, size_t n);
bool ac__check_null(const ac__site *s, bool want_null, const volatile void *p);
bool ac__check_near(const ac__site *s, double a, double b, double eps);
void ac__fail(const ac__site *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void ac__fail_fatal(const ac__site *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void ac__skip(const ac__site *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The public macros stringify their arguments themselves, so messages show the code as written
 * (AC_ASSERT_EQ(p, NULL), not the expansion of NULL). */
#define AC__BOOL(f, m, text, x, want) ((void)ac__check_bool(AC__SITE(f, m, text), AC__VALUE(x), (want)))
#define AC__CMP(f, m, op, text, a, b)                                                                        \
    ((void)ac__check_cmp(AC__SITE(f, m, text), (op), AC__VALUE(a), AC__VALUE(b)))
#define AC__STR(f, m, eq, text, a, b) ((void)ac__check_str(AC__SITE(f, m, text), (eq), (a), (b)))
#define AC__CONTAINS(f, m, text, h, n) ((void)ac__check_str_contains(AC__SITE(f, m, text), (h), (n)))
#define AC__MEM(f, m, text, a, b, n) ((void)ac__check_mem(AC__SITE(f, m, text), (a), (b), (n)))
#define AC__NUL(f, m, want, text, p) ((void)ac__check_null(AC__SITE(f, m, text), (want), (p)))
#define AC__NEAR(f, m, text, a, b, e) ((void)ac__check_near(AC__SITE(f, m, text), (a), (b), (e)))

/* Fatal assertions: on failure the test ends at once (teardown still runs). By convention the first
 * argument is the value under test ("got") and the second the expected one. */
#define AC_ASSERT_TRUE(x) AC__BOOL(true, "AC_ASSERT_TRUE", #x, x, true)
#define AC_ASSERT_FALSE(x) AC__BOOL(true, "AC_ASSERT_FALSE", #x, x, false)
#define AC_ASSERT_EQ(a, b) AC__CMP(true, "AC_ASSERT_EQ", AC__EQ, #a ", " #b, a, b)
#define AC_ASSERT_NE(a, b) AC__CMP(true, "AC_ASSERT_NE", AC__NE, #a ", " #b, a, b)
#define AC_ASSERT_LT(a, b) AC__CMP(true, "AC_ASSERT_LT", AC__LT, #a ", " #b, a, b)
#define AC_ASSERT_LE(a, b) AC__CMP(true, "AC_ASSERT_LE", AC__LE, #a ", " #b, a, b)
#define AC_ASSERT_GT(a, b) AC__CMP(true, "AC_ASSERT_GT", AC__GT, #a ", " #b, a, b)
#define AC_ASSERT_GE(a, b) AC__CMP(true, "AC_ASSERT_GE", AC__GE, #a ", " #b, a, b)
#define AC_ASSERT_STR_EQ(a, b) AC__STR(true, "AC_ASSERT_STR_EQ", true, #a ", " #b, a, b)
#define AC_ASSERT_STR_NE(a, b) AC__STR(true, "AC_ASSERT_STR_NE", false, #a ", " #b, a, b)
#define AC_ASSERT_STR_CONTAINS(hay, needle)                                                                  \
    AC__CONTAINS(true, "AC_ASSERT_STR_CONTAINS", #hay ", " #needle, hay, needle)
#define AC_ASSERT_MEM_EQ(a, b, n) AC__MEM(true, "AC_ASSERT_MEM_EQ", #a ", " #b ", " #n, a, b, n)
#define AC_ASSERT_NULL(p) AC__NUL(true, "AC_ASSERT_NULL", true, #p, p)
#define AC_ASSERT_NOT_NULL(p) AC__NUL(true, "AC_ASSERT_NOT_NULL", false, #p, p)
#define AC_ASSERT_NEAR(a, b, eps) AC__NEAR(true, "AC_ASSERT_NEAR", #a ", " #b ", " #eps, a, b, eps)

/* Non-fatal twins: the failure is recorded and the test goes on; all are reported. */
#define AC_EXPECT_TRUE(x) AC__BOOL(false, "AC_EXPECT_TRUE", #x, x, true)
#define AC_EXPECT_FALSE(x) AC__BOOL(false, "AC_EXPECT_FALSE", #x, x, false)
#define AC_EXPECT_EQ(a, b) AC__CMP(false, "AC_EXPECT_EQ", AC__EQ, #a ", " #b, a, b)
#define AC_EXPECT_NE(a, b) AC__CMP(false, "AC_EXPECT_NE", AC__NE, #a ", " #b, a, b)
#define AC_EXPECT_LT(a, b) AC__CMP(false, "AC_EXPECT_LT", AC__LT, #a ", " #b, a, b)
#define AC_EXPECT_LE(a, b) AC__CMP(false, "AC_EXPECT_LE", AC__LE, #a ", " #b, a, b)
#define AC_EXPECT_GT(a, b) AC__CMP(false, "AC_EXPECT_GT", AC__GT, #a ", " #b, a, b)
#define AC_EXPECT_GE(a, b) AC__CMP(false, "AC_EXPECT_GE", AC__GE, #a ", " #b, a, b)
#define AC_EXPECT_STR_EQ(a, b) AC__STR(false, "AC_EXPECT_STR_EQ", true, #a ", " #b, a, b)
#define AC_EXPECT_STR_NE(a, b) AC__STR(false, "AC_EXPECT_STR_NE", false, #a ", " #b, a, b)
#define AC_EXPECT_STR_CONTAINS(hay, needle)                                                                  \
    AC__CONTAINS(false, "AC_EXPECT_STR_CONTAINS", #hay ", " #needle, hay, needle)
#define AC_EXPECT_MEM_EQ(a, b, n) AC__MEM(false, "AC_EXPECT_MEM_EQ", #a ", " #b ", " #n, a, b, n)
#define AC_EXPECT_NULL(p) AC__NUL(false, "AC_EXPECT_NULL", true, #p, p)
#define AC_EXPECT_NOT_NULL(p) AC__NUL(false, "AC_EXPECT_NOT_NULL", false, #p, p)
#define AC_EXPECT_NEAR(a, b, eps) AC__NEAR(false, "AC_EXPECT_NEAR", #a ", " #b ", " #eps, a, b, eps)

/* AC_ASSERT_IDLE(t) / AC_EXPECT_IDLE(t): none of the watchers the test's body started is active now
 * (the suite's setup keeps its own; libev's and asyncheck's own watchers, such as a mock's scheduled
 * completion, are not the test's). On failure the message counts them and "got" lists each, with its
 * callback and where it was started:
 *   AC_ASSERT_IDLE(t) failed: 1 watcher started by the test is still active
 *   got: ev_timer after=5.0 repeat=0.0, callback on_timeout, started at client_connect+0x4c
 * Use it where the code under test should have stopped everything it started (after a request
 * completed, after a close), instead of leaving that to the drain after the body. */
struct ac_test;
bool ac__check_idle(const ac__site *s, struct ac_test *t);
#define AC_ASSERT_IDLE(t) ((void)ac__check_idle(AC__SITE(true, "AC_ASSERT_IDLE", #t), (t)))
#define AC_EXPECT_IDLE(t) ((void)ac__check_idle(AC__SITE(false, "AC_EXPECT_IDLE", #t), (t)))

/* AC_EXPECT_ON_LOOP_THREAD(): the code running now is on the running test's loop thread. Put it in a
 * callback that must run there (a completion handler that touches loop state); called on any other
 * thread it records a non-fatal failure naming that thread, by its kernel id and name:
 *   AC_EXPECT_ON_LOOP_THREAD failed: called on thread 4242 "worker", not on the test's loop thread
 * There is no AC_ASSERT_ variant: a fatal failure cannot end the test from another thread. Outside a
 * test it holds. */
bool ac__check_loop_thread(const ac__site *s);
#define AC_EXPECT_ON_LOOP_THREAD()                                                                           \
    ((void)ac__check_loop_thread(AC__SITE(false, "AC_EXPECT_ON_LOOP_THREAD", "")))

/* AC_FAIL(fmt, ...): fail the test fatally with a printf-style message.
 * AC_FAIL_LATER(fmt, ...): record a non-fatal failure and carry on.
 * AC_SKIP(fmt, ...): stop the test now and report it skipped with that reason (teardown still runs). */
#define AC_FAIL(...) ac__fail_fatal(AC__SITE(true, "AC_FAIL", ""), __VA_ARGS__)
#define AC_FAIL_LATER(...) ac__fail(AC__SITE(false, "AC_FAIL_LATER", ""), __VA_ARGS__)
#define AC_SKIP(...) ac__skip(AC__SITE(true, "AC_SKIP", ""), __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif
