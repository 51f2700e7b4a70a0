/* mock_old_names.c — the mock names of version 0.1.0, kept for one release as deprecated aliases, still do
 * what they did: every alias in the tail of asyncheck/mock.h is used here, each mapped onto its new name
 * (the completion before the time in ac_mock_completes, the time first in ac_mock_completesf). This file
 * alone is compiled with -Wno-deprecated-declarations (selftest/CMakeLists.txt); that the aliases warn is
 * checked by selftest/api/check_api.cmake. */
#include <asyncheck.h>
#include <string.h>

typedef void (*reply_cb)(int status, const char *body, void *ud);
typedef int (*get_fn)(const char *url, reply_cb cb, void *ud);
#define GET_PROTO                                                                                            \
    "int http_get(const char *url, void (*cb)(int status, const char *body, void *ud), void *ud)"

typedef struct reply {
    int status;
    char body[64];
    int count;
} reply;

static void on_reply(int status, const char *body, void *ud) {
    reply *r = ud;
    r->status = status;
    strncpy(r->body, body ? body : "(null)", sizeof r->body - 1);
    r->count++;
}

AC_TEST(mock_old_names, completes_takes_the_completion_before_the_time, .clock = AC_CLOCK_VIRTUAL) {
    ac_mock *after = ac_mock_new(t, GET_PROTO), *within = ac_mock_new(t, GET_PROTO);
    ac_mock *next = ac_mock_new(t, GET_PROTO), *formatted = ac_mock_new(t, GET_PROTO);
    ac_mock_completes(after, "cb(1, \"after\", $ud)", ac_after(0.5));
    ac_mock_completes(within, "cb(2, \"within\", $ud)", ac_within(0.25, 0.25));
    ac_mock_completes(next, "cb(3, \"next\", $ud)", ac_next_iteration());
    ac_mock_completesf(formatted, ac_after(0.75), "cb(%d, \"formatted\", $ud)", 4);
    reply a = {0}, w = {0}, n = {0}, f = {0};
    double start = ac_clock_elapsed(t);
    ((get_fn)ac_mock_fn(after))("u", on_reply, &a);
    ((get_fn)ac_mock_fn(within))("u", on_reply, &w);
    ((get_fn)ac_mock_fn(next))("u", on_reply, &n);
    ((get_fn)ac_mock_fn(formatted))("u", on_reply, &f);
    AC_AWAIT(t, n.count == 1, 1.0);
    AC_EXPECT_LT(ac_clock_elapsed(t) - start, 0.25);
    AC_AWAIT(t, w.count == 1, 1.0);
    AC_EXPECT_NEAR(ac_clock_elapsed(t) - start, 0.25, 0.001);
    AC_AWAIT(t, a.count == 1, 1.0);
    AC_EXPECT_NEAR(ac_clock_elapsed(t) - start, 0.5, 0.001);
    AC_AWAIT(t, f.count == 1, 1.0);
    AC_EXPECT_NEAR(ac_clock_elapsed(t) - start, 0.75, 0.001);
    AC_EXPECT_STR_EQ(a.body, "after");
    AC_EXPECT_STR_EQ(w.body, "within");
    AC_EXPECT_STR_EQ(n.body, "next");
    AC_EXPECT_EQ(f.status, 4);
    AC_EXPECT_STR_EQ(f.body, "formatted");
}

AC_TEST(mock_old_names, manual_completions_and_their_delivery) {
    ac_mock *m = ac_mock_new(t, GET_PROTO);
    ac_mock_completes(m, "cb(1, $url, $ud)", ac_manual());
    reply a = {0}, b = {0};
    get_fn get = (get_fn)ac_mock_fn(m);
    get("first", on_reply, &a);
    get("second", on_reply, &b);
    ev_run(ac_loop(t), EVRUN_NOWAIT);
    AC_ASSERT_EQ(ac_mock_held(m), 2u);
    AC_ASSERT_TRUE(ac_mock_complete(m, 1));
    AC_EXPECT_STR_EQ(b.body, "second");
    AC_EXPECT_EQ(a.count, 0);
    AC_ASSERT_TRUE(ac_mock_complete_next(m));
    AC_EXPECT_STR_EQ(a.body, "first");
    AC_EXPECT_FALSE(ac_mock_complete_next(m));
    AC_EXPECT_EQ(ac_mock_held(m), 0u);
}

AC_TEST(mock_old_names, never_twice_and_inside_the_call) {
    ac_mock *never = ac_mock_new(t, GET_PROTO), *twice = ac_mock_new(t, GET_PROTO);
    ac_mock *inside = ac_mock_new(t, GET_PROTO);
    ac_mock_completes(never, "cb(1, NULL, $ud)", ac_never());
    ac_mock_completes(twice, "cb(2, \"x\", $ud)", ac_twice(0.01));
    ac_mock_completes(inside, "cb(3, \"y\", $ud)", ac_inside_call());
    reply n = {0}, w = {0}, i = {0};
    ((get_fn)ac_mock_fn(inside))("u", on_reply, &i);
    AC_EXPECT_EQ(i.count, 1); /* before the call returned */
    ((get_fn)ac_mock_fn(never))("u", on_reply, &n);
    ((get_fn)ac_mock_fn(twice))("u", on_reply, &w);
    AC_AWAIT(t, w.count == 2, 2.0);
    AC_EXPECT_EQ(n.count, 0);
    AC_EXPECT_EQ(ac_mock_held(never), 0u);
}
