/* asyncheck/mock.h — mocks of any C function, made at run time from its prototype with libffi.
 *
 *   ac_mock *get = ac_mock_new(t, "int http_get(const char *url, void (*cb)(int, void *), void *ud)");
 *   ac_mock_returns(get, 0);
 *   ac_mock_on_call_complete(get, ac_deliver_after(0.05), "cb(200, $ud)"); // cb later, on the loop
 *   client_use_transport(client, ac_mock_fn(get));                        // a real function pointer
 *   AC_AWAIT(t, client->done, 1.0);
 *   AC_ASSERT_CALLED(get, 1);
 *
 * Vocabulary. Each family has one prefix, and no name is shared with the clock or with expectations:
 *   completion                the call a mock makes to one of its caller's callbacks, written as C:
 *                             "cb(200, $ud)";
 *   ac_mock_on_call_complete  configures a mock: on every call, make this completion at this time
 *   ac_mock_on_call_completef (always the mock, then the time, then the completion or its format);
 *                             ac_mock_on_call_n_complete for one call only, ac_mock_on_call_complete_with
 *                             for a completion a function of yours computes at delivery;
 *   ac_deliver_*              the time a completion is delivered (ac_deliver_after, ac_deliver_within,
 *                             ac_deliver_next_iteration, ac_deliver_held, ac_deliver_never,
 *                             ac_deliver_twice, ac_deliver_inside_call);
 *   ac_mock_deliver           delivers held completions now (ac_mock_deliver, ac_mock_deliver_next),
 *                             ac_mock_held_count counts them;
 *   ac_expect_*               modify an expectation on calls (how many, in what order), never a
 *                             completion; AC_CLOCK_* are the test's clocks (asyncheck/clock.h).
 * The names of version 0.1.0 (ac_mock_completes, ac_after, ac_manual, ac_mock_complete, ...) are kept for
 * one release: they compile with a deprecation warning naming the replacement (README.md, "Renamed").
 *
 * A mock belongs to its test and is freed when the test ends. Calls are recorded with their arguments
 * (strings copied at call time), per mock and in one ordered log per test; calls and completions are
 * counted separately. A mock may be called from any thread; completions are always delivered on the
 * test's loop (except ac_deliver_inside_call, which is delivered inside the call on purpose). A call never
 * moves the loop's cached time (ev_now): an ac_deliver_after delay is counted from the call all the same. */
#ifndef ASYNCHECK_MOCK_H
#define ASYNCHECK_MOCK_H

#include <stdbool.h>
#include <stddef.h>

#include "asyncheck/assert.h"
#include "asyncheck/test.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ac_mock ac_mock;
typedef struct ac_mock_call ac_mock_call;
typedef struct ac_expectation ac_expectation;

/* ---- making mocks ---- */

/* Makes a mock of the function the C prototype describes (parameter names optional). Supported types:
 * void, _Bool/bool, char, signed/unsigned short/int/long/long long, int8_t...uint64_t, size_t, ssize_t,
 * intptr_t, uintptr_t, float, double, any pointer (`const char *` is a string for matching and
 * printing, other pointers an address), `struct x *`, function pointers (nested prototypes), and names
 * registered with ac_mock_typedef. A prototype it cannot parse fails the test fatally, naming the
 * column and what was expected there. */
#define ac_mock_new(t, prototype) ac__mock_new((t), (prototype), __FILE__, __LINE__)

/* A real function pointer with the prototype's ABI (a libffi closure); valid until the test ends. Cast
 * it to the function type, or pass it where the code under test takes a function pointer. */
void *ac_mock_fn(ac_mock *m);

/* The function's name from the prototype. */
const char *ac_mock_name(const ac_mock *m);

/* Redirects every call to the real function the prototype names (e.g. connect) to this mock until the
 * test ends, by rewriting GOT/PLT slots (see asyncheck/replace.h for what that reaches); returns the real
 * function, so an ac_mock_does effect can call through to it. */
void *ac_mock_replace(ac_mock *m);

/* Registers a type name for prototypes: ac_mock_typedef("ev_tstamp", "double"),
 * ac_mock_typedef("done_cb", "void (*)(int status, void *ud)"). An unparsable type fails the test. */
void ac_mock_typedef(const char *name, const char *type);

/* ---- what a call returns ---- */

/* Every call returns `value` (converted to the prototype's return type). */
#define ac_mock_returns(m, value) ac__mock_returns((m), AC__VALUE(value))
/* Calls return values[0], values[1], ... in turn, then the last one again; `values` is an array of the
 * prototype's return type, e.g. (int[]){-1, -1, 0}. */
void ac_mock_returns_seq(ac_mock *m, const void *values, size_t n);
/* Every call also sets errno to `err` (0: leaves errno alone). */
void ac_mock_sets_errno(ac_mock *m, int err);
/* Every call runs fn(call, ret, ud): read the call's arguments with ac_mock_arg_*, and write the return
 * value through `ret`, which points to an object of the return type (e.g. *(int *)ret = -1). It runs
 * after returns/returns_seq have filled `ret`. */
typedef void (*ac_mock_effect)(const ac_mock_call *call, void *ret, void *ud);
void ac_mock_does(ac_mock *m, ac_mock_effect fn, void *ud);

/* ---- completing callbacks later ---- */

/* When a completion is delivered (made by the ac_deliver_* functions). */
typedef struct ac_when {
    int kind;
    double delay;
    double delay_max; /* ac_deliver_within: the latency is drawn from [delay, delay_max] */
} ac_when;
/* On the test's loop, `seconds` after the call. */
ac_when ac_deliver_after(double seconds);
/* On the test's loop after a latency in [lo, hi] seconds drawn from the running schedule (lo under seed
 * 0, libev's own order): exploring schedules (asyncheck/race.h) explores the latency too. */
ac_when ac_deliver_within(double lo, double hi);
/* On the test's loop, in the next loop iteration. */
ac_when ac_deliver_next_iteration(void);
/* Held until the test delivers it with ac_mock_deliver or ac_mock_deliver_next. */
ac_when ac_deliver_held(void);
/* Never (to test timeouts); not reported as pending. */
ac_when ac_deliver_never(void);
/* Misbehaving: `seconds` after the call, and then once more in the next iteration. */
ac_when ac_deliver_twice(double seconds);
/* Misbehaving: synchronously, inside the call, before it returns. */
ac_when ac_deliver_inside_call(void);

/* On every call, calls one of the call's callback arguments at the time `when` says: `completion` names
 * the callback parameter and the arguments to call it with, as in C: "cb(200, \"ok\", $ud)". An argument
 * is a literal (integer, floating point, "string" with C escapes, NULL, true, false) or a reference to the
 * call's own arguments, $name or $0, $1, ... (strings as copied at call time). errno names (ECONNREFUSED,
 * ETIMEDOUT, EAGAIN, ...) stand for their values, and -EAGAIN for the negated value (-errno contracts); a
 * name it does not know fails the test, naming it. The callback is called through libffi with its parsed
 * prototype. A completion that does not fit the prototype fails the test at this line. */
#define ac_mock_on_call_complete(m, when, completion)                                                        \
    ac__mock_on_call_complete((m), (when), (completion), __FILE__, __LINE__)
/* The same with the completion formatted printf-style, for values known only at run time (same argument
 * order): ac_mock_on_call_completef(m, ac_deliver_after(0.05), "done(%d, 0, $ud)", fd); */
#define ac_mock_on_call_completef(m, when, ...)                                                              \
    ac__mock_on_call_completef((m), (when), __FILE__, __LINE__, __VA_ARGS__)

/* The completion of call number `call_index` (0-based) only, delivered at the time `when` says: that call
 * takes its own completions instead of the ones ac_mock_on_call_complete gives every call; calls without
 * one of their own still take those (or none). "running, running, done" is three of these, for calls 0, 1
 * and 2. The completion is written and checked as for ac_mock_on_call_complete: one that does not fit the
 * prototype fails the test at this line. One per call: giving the same call_index twice fails the test
 * (fatally, at the second line). */
#define ac_mock_on_call_n_complete(m, call_index, when, completion)                                          \
    ac__mock_on_call_n_complete((m), (call_index), (when), (completion), __FILE__, __LINE__)
/* The same with the completion formatted printf-style (same argument order). */
#define ac_mock_on_call_n_completef(m, call_index, when, ...)                                                \
    ac__mock_on_call_n_completef((m), (call_index), (when), __FILE__, __LINE__, __VA_ARGS__)

/* A completion computed when it is delivered: on every call (or on the calls without completions of their
 * own, see ac_mock_on_call_n_complete) and at the time `when` says, fn(call, ud) runs and returns this
 * call's completion as text, "cb($ud, 42)" (for a store whose get reports its value at that moment). fn
 * runs where the completion is delivered: on the test's loop (for ac_deliver_held, inside
 * ac_mock_deliver; for ac_deliver_twice, once per delivery; for ac_deliver_inside_call, inside the call,
 * on the calling thread). The text is copied at once; NULL delivers nothing for this call. A text that does
 * not fit the prototype fails the test (not fatally) at the line that made the rule, and is not delivered.
 * Calls are recorded and counted as for any completion. A NULL fn fails the test at this line. */
typedef const char *(*ac_completion_fn)(const ac_mock_call *call, void *ud);
#define ac_mock_on_call_complete_with(m, when, fn, ud)                                                       \
    ac__mock_on_call_complete_with((m), (when), (fn), (ud), __FILE__, __LINE__)

/* Delivers, now, the held (ac_deliver_held) completion of call number `call_index` (0-based); false if
 * that call has none held. */
bool ac_mock_deliver(ac_mock *m, size_t call_index);
/* Delivers, now, the oldest held completion; false if none is held. */
bool ac_mock_deliver_next(ac_mock *m);
/* Completions held (ac_deliver_held) and not delivered yet. Held completions left at the end fail the
 * test. */
size_t ac_mock_held_count(const ac_mock *m);

/* ---- what happened ---- */

size_t ac_mock_call_count(const ac_mock *m);
/* Completions delivered (a twice-completion counts twice). */
size_t ac_mock_completion_count(const ac_mock *m);
/* The i-th call (0-based) of this mock, or NULL. */
const ac_mock_call *ac_mock_call_at(const ac_mock *m, size_t i);
/* The test's calls to all its mocks, in order. */
size_t ac_mock_log_count(ac_test *t);
const ac_mock_call *ac_mock_log_at(ac_test *t, size_t i);
/* The mock a call was made to, and the call's position in that mock's calls. */
const ac_mock *ac_mock_call_mock(const ac_mock_call *c);
size_t ac_mock_call_index(const ac_mock_call *c);
/* Arguments of a call by position (0-based). A string parameter's value is the copy made at call time
 * (NULL if the pointer was NULL). Asking for an argument the prototype does not have, or of another kind,
 * fails the test fatally at the line that asks. */
#define ac_mock_arg_int(c, i) ac__mock_arg_int((c), (i), __FILE__, __LINE__)
#define ac_mock_arg_uint(c, i) ac__mock_arg_uint((c), (i), __FILE__, __LINE__)
#define ac_mock_arg_double(c, i) ac__mock_arg_double((c), (i), __FILE__, __LINE__)
#define ac_mock_arg_str(c, i) ac__mock_arg_str((c), (i), __FILE__, __LINE__)
#define ac_mock_arg_ptr(c, i) ac__mock_arg_ptr((c), (i), __FILE__, __LINE__)
/* The position of the parameter named `name`; fails the test fatally at the line that asks if the
 * prototype has none. */
#define ac_mock_arg_index(m, name) ac__mock_arg_index((m), (name), __FILE__, __LINE__)
/* The call as text, e.g. http_get("http://x/", cb=0x5570..., 0x7ffd...). Valid until the test ends. */
const char *ac_mock_call_text(const ac_mock_call *c);

/* ---- expectations ---- */

/* A matcher for one argument. */
typedef struct ac_matcher {
    int kind;
    ac__value value, high;
    const char *str;
    bool (*pred)(const ac_mock_call *call, size_t arg, void *ud);
    void *ud;
    const char *description;
} ac_matcher;

ac_matcher ac_any(void);
#define ac_eq(v) ac__match_eq(AC__VALUE(v)) /* equal (numbers exactly across signedness) */
ac_matcher ac_str(const char *s);           /* a string argument equal to s (NULL matches NULL) */
ac_matcher ac_ptr(const void *p);           /* a pointer equal to p */
#define ac_range(lo, hi) ac__match_range(AC__VALUE(lo), AC__VALUE(hi)) /* lo <= arg <= hi */
/* A custom predicate on argument `arg` of `call`; `description` is shown in failures. */
ac_matcher ac_that(bool (*pred)(const ac_mock_call *call, size_t arg, void *ud), void *ud,
                   const char *description);

/* Expects calls whose arguments match, one matcher per parameter:
 *   ac_expectation *e = AC_MOCK_EXPECT(get, ac_str("http://x/"), ac_any(), ac_any());
 * By default exactly once; change it with ac_expect_times & co. Once a mock has expectations, a call
 * that matches none of them (or only ones already used up) fails the test, printing the call and the
 * expectations; expectations not met when the test ends fail it, listed. A call goes to the first
 * expectation, in the order they were made, that matches and is not used up. */
#define AC_MOCK_EXPECT(m, ...)                                                                               \
    ac__mock_expect((m), (const ac_matcher[]){__VA_ARGS__},                                                  \
                    sizeof((const ac_matcher[]){__VA_ARGS__}) / sizeof(ac_matcher), __FILE__, __LINE__)
/* Expects calls with any arguments (also for functions without parameters). */
#define ac_mock_expect_any(m) ac__mock_expect((m), NULL, 0, __FILE__, __LINE__)
void ac_expect_times(ac_expectation *e, size_t n);
void ac_expect_at_least(ac_expectation *e, size_t n);
void ac_expect_at_most(ac_expectation *e, size_t n);
void ac_expect_never(ac_expectation *e);
/* `later` may only be matched after `earlier` has been (across mocks): otherwise the call fails the
 * test as out of order. */
void ac_expect_after(ac_expectation *later, ac_expectation *earlier);

/* ---- assertions on calls (they print the mock's calls on failure) ---- */

#define AC_ASSERT_CALLED(m, n)                                                                               \
    ((void)ac__check_called(AC__SITE(true, "AC_ASSERT_CALLED", #m ", " #n), (m), (n)))
#define AC_EXPECT_CALLED(m, n)                                                                               \
    ((void)ac__check_called(AC__SITE(false, "AC_EXPECT_CALLED", #m ", " #n), (m), (n)))
#define AC_ASSERT_NOT_CALLED(m) ((void)ac__check_called(AC__SITE(true, "AC_ASSERT_NOT_CALLED", #m), (m), 0))
#define AC_EXPECT_NOT_CALLED(m) ((void)ac__check_called(AC__SITE(false, "AC_EXPECT_NOT_CALLED", #m), (m), 0))
/* Some call of m matched all the matchers. */
#define AC_ASSERT_CALLED_WITH(m, ...)                                                                        \
    ((void)ac__check_called_with(AC__SITE(true, "AC_ASSERT_CALLED_WITH", #m ", " #__VA_ARGS__), (m),         \
                                 (const ac_matcher[]){__VA_ARGS__},                                          \
                                 sizeof((const ac_matcher[]){__VA_ARGS__}) / sizeof(ac_matcher)))
#define AC_EXPECT_CALLED_WITH(m, ...)                                                                        \
    ((void)ac__check_called_with(AC__SITE(false, "AC_EXPECT_CALLED_WITH", #m ", " #__VA_ARGS__), (m),        \
                                 (const ac_matcher[]){__VA_ARGS__},                                          \
                                 sizeof((const ac_matcher[]){__VA_ARGS__}) / sizeof(ac_matcher)))
/* Runs the test's loop until m has been called at least n times (see AC_AWAIT). */
#define AC_AWAIT_CALLS(t, m, n, timeout_s)                                                                   \
    do {                                                                                                     \
        ac__await *ac__aw = ac__await_begin((t), (timeout_s), #m " called", __FILE__, __LINE__);             \
        ac__await_calls(ac__aw, (m), (size_t)(n));                                                           \
        while (ac_mock_call_count(m) < (size_t)(n))                                                          \
            ac__await_step(ac__aw);                                                                          \
        ac__await_end(ac__aw);                                                                               \
    } while (0)

/* internals behind the macros */
ac_mock *ac__mock_new(ac_test *t, const char *prototype, const char *file, int line);
void ac__mock_on_call_complete(ac_mock *m, ac_when when, const char *completion, const char *file, int line);
void ac__mock_on_call_completef(ac_mock *m, ac_when when, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void ac__mock_on_call_n_complete(ac_mock *m, size_t call_index, ac_when when, const char *completion,
                                 const char *file, int line);
void ac__mock_on_call_n_completef(ac_mock *m, size_t call_index, ac_when when, const char *file, int line,
                                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void ac__mock_on_call_complete_with(ac_mock *m, ac_when when, ac_completion_fn fn, void *ud, const char *file,
                                    int line);
long long ac__mock_arg_int(const ac_mock_call *c, size_t i, const char *file, int line);
unsigned long long ac__mock_arg_uint(const ac_mock_call *c, size_t i, const char *file, int line);
double ac__mock_arg_double(const ac_mock_call *c, size_t i, const char *file, int line);
const char *ac__mock_arg_str(const ac_mock_call *c, size_t i, const char *file, int line);
void *ac__mock_arg_ptr(const ac_mock_call *c, size_t i, const char *file, int line);
size_t ac__mock_arg_index(const ac_mock *m, const char *name, const char *file, int line);
void ac__mock_returns(ac_mock *m, ac__value v);
ac_matcher ac__match_eq(ac__value v);
ac_matcher ac__match_range(ac__value lo, ac__value hi);
ac_expectation *ac__mock_expect(ac_mock *m, const ac_matcher *matchers, size_t n, const char *file, int line);
bool ac__check_called(const ac__site *s, const ac_mock *m, size_t n);
void ac__await_calls(ac__await *aw, const ac_mock *m, size_t n);
bool ac__check_called_with(const ac__site *s, const ac_mock *m, const ac_matcher *matchers, size_t n);

/* ---- the names of version 0.1.0, deprecated and kept for one release: each still works and warns, naming
 * its replacement (README.md, "Renamed since 0.1.0", has the table) ---- */
#define AC__RENAMED(use) __attribute__((deprecated("renamed: use " use)))
AC__RENAMED("ac_deliver_after") static inline ac_when ac_after(double seconds) {
    return ac_deliver_after(seconds);
}
AC__RENAMED("ac_deliver_within") static inline ac_when ac_within(double lo, double hi) {
    return ac_deliver_within(lo, hi);
}
AC__RENAMED("ac_deliver_next_iteration") static inline ac_when ac_next_iteration(void) {
    return ac_deliver_next_iteration();
}
AC__RENAMED("ac_deliver_held") static inline ac_when ac_manual(void) {
    return ac_deliver_held();
}
AC__RENAMED("ac_deliver_never") static inline ac_when ac_never(void) {
    return ac_deliver_never();
}
AC__RENAMED("ac_deliver_twice") static inline ac_when ac_twice(double seconds) {
    return ac_deliver_twice(seconds);
}
AC__RENAMED("ac_deliver_inside_call") static inline ac_when ac_inside_call(void) {
    return ac_deliver_inside_call();
}
AC__RENAMED("ac_mock_deliver") static inline bool ac_mock_complete(ac_mock *m, size_t call_index) {
    return ac_mock_deliver(m, call_index);
}
AC__RENAMED("ac_mock_deliver_next") static inline bool ac_mock_complete_next(ac_mock *m) {
    return ac_mock_deliver_next(m);
}
AC__RENAMED("ac_mock_held_count") static inline size_t ac_mock_held(const ac_mock *m) {
    return ac_mock_held_count(m);
}
/* ac_mock_completes(m, completion, when): the completion came before the time. */
AC__RENAMED("ac_mock_on_call_complete(m, when, completion), the time before the completion")
static inline void ac__mock_completes(ac_mock *m, const char *completion, ac_when when, const char *file,
                                      int line) {
    ac__mock_on_call_complete(m, when, completion, file, line);
}
#define ac_mock_completes(m, completion, when)                                                               \
    ac__mock_completes((m), (completion), (when), __FILE__, __LINE__)
/* ac_mock_completesf(m, when, fmt, ...): a marker call carries the warning. */
AC__RENAMED("ac_mock_on_call_completef(m, when, fmt, ...)") static inline void ac__mock_completesf(void) {}
#define ac_mock_completesf(m, when, ...)                                                                     \
    (ac__mock_completesf(), ac__mock_on_call_completef((m), (when), __FILE__, __LINE__, __VA_ARGS__))

#ifdef __cplusplus
}
#endif

#endif
