/* mockseq.c — mocks whose replies change from call to call: per-call completions
 * (ac_mock_on_call_n_complete: a job polled "running, running, done", one call overriding the mock's
 * default completion), and completions computed at delivery by a function of the test
 * (ac_mock_on_call_complete_with: a store whose get reports the value it holds when the reply is
 * delivered, held completions computed when the test delivers them, NULL delivering nothing), with the
 * calls still recorded and asserted. (Misuse — bad texts, a call given twice — is in meta/meta_mockseq.c.) */
#include <asyncheck.h>
#include <stdio.h>
#include <string.h>

/* ---- per-call completions ---- */

typedef void (*state_cb)(const char *state, void *ud);
typedef int (*poll_fn)(int job, state_cb cb, void *ud);
#define POLL_PROTO "int job_poll(int job, void (*cb)(const char *state, void *ud), void *ud)"

/* A client that polls a job until it is done: each "running" reply makes it poll again. */
typedef struct poller {
    poll_fn poll;
    int job;
    char states[128];
    bool done;
} poller;

static void on_state(const char *state, void *ud) {
    poller *p = ud;
    size_t len = strlen(p->states);
    snprintf(p->states + len, sizeof p->states - len, "%s%s", len ? "," : "", state);
    if (strcmp(state, "running") == 0)
        p->poll(p->job, on_state, p);
    else
        p->done = true;
}

AC_TEST(mockseq, a_job_answers_running_running_done, .clock = AC_CLOCK_VIRTUAL) {
    ac_mock *m = ac_mock_new(t, POLL_PROTO);
    ac_mock_on_call_n_complete(m, 0, ac_deliver_after(1), "cb(\"running\", $ud)");
    ac_mock_on_call_n_complete(m, 1, ac_deliver_after(1), "cb(\"running\", $ud)");
    ac_mock_on_call_n_complete(m, 2, ac_deliver_after(1), "cb(\"done\", $ud)");
    poller p = {.poll = (poll_fn)ac_mock_fn(m), .job = 7};
    p.poll(p.job, on_state, &p);
    AC_AWAIT(t, p.done, 10);
    AC_EXPECT_STR_EQ(p.states, "running,running,done");
    AC_EXPECT_NEAR(ac_clock_elapsed(t), 3.0, 0.01); /* one second per reply */
    AC_ASSERT_CALLED(m, 3);
    AC_ASSERT_CALLED_WITH(m, ac_eq(7), ac_any(), ac_ptr(&p));
    AC_EXPECT_EQ(ac_mock_completion_count(m), 3u);
    AC_EXPECT_EQ(ac_mock_call_index(ac_mock_call_at(m, 2)), 2u);
}

AC_TEST(mockseq, one_call_overrides_the_default_completion) {
    ac_mock *m = ac_mock_new(t, POLL_PROTO);
    ac_mock_on_call_complete(m, ac_deliver_next_iteration(), "cb(\"queued\", $ud)");
    ac_mock_on_call_n_complete(m, 1, ac_deliver_held(), "cb(\"failed\", $ud)"); /* its own time too */
    ac_mock_on_call_n_complete(m, 3, ac_deliver_never(), "cb(\"lost\", $ud)");  /* that call alone */
    ac_mock_on_call_n_complete(m, 9, ac_deliver_next_iteration(), "cb(\"never called\", $ud)");
    poll_fn poll = (poll_fn)ac_mock_fn(m);
    poller a = {0}, b = {0}, c = {0}, d = {0}; /* no .poll: on_state polls again only on "running" */
    poll(1, on_state, &a);
    poll(2, on_state, &b);
    poll(3, on_state, &c);
    poll(4, on_state, &d);
    ac_run_until_idle(t);
    AC_EXPECT_STR_EQ(a.states, "queued");
    AC_EXPECT_STR_EQ(b.states, ""); /* held: not the default's next iteration */
    AC_EXPECT_STR_EQ(c.states, "queued");
    AC_EXPECT_STR_EQ(d.states, ""); /* never answered, and not given the default either */
    AC_ASSERT_EQ(ac_mock_held_count(m), 1u);
    AC_ASSERT_TRUE(ac_mock_deliver(m, 1));
    AC_EXPECT_STR_EQ(b.states, "failed"); /* only its own: the default did not come as well */
    ac_run_until_idle(t);
    AC_EXPECT_STR_EQ(b.states, "failed");
    AC_EXPECT_EQ(ac_mock_completion_count(m), 3u);
    AC_ASSERT_CALLED(m, 4);
}

AC_TEST(mockseq, calls_without_a_completion_of_their_own_get_none_without_a_default) {
    ac_mock *m = ac_mock_new(t, POLL_PROTO);
    ac_mock_on_call_n_completef(m, 1, ac_deliver_inside_call(), "cb(\"%s\", $ud)", "second");
    poll_fn poll = (poll_fn)ac_mock_fn(m);
    poller a = {0}, b = {0}, c = {0};
    poll(1, on_state, &a);
    poll(2, on_state, &b);
    AC_EXPECT_STR_EQ(b.states, "second"); /* inside the call, as its own `when` says */
    poll(3, on_state, &c);
    ac_run_until_idle(t);
    AC_EXPECT_STR_EQ(a.states, "");
    AC_EXPECT_STR_EQ(c.states, "");
    AC_EXPECT_EQ(ac_mock_completion_count(m), 1u);
    AC_EXPECT_EQ(ac_mock_call_count(m), 3u);
}

/* ---- completions computed at delivery ---- */

typedef void (*value_cb)(void *ud, int value);
typedef int (*get_fn)(const char *key, value_cb cb, void *ud);
#define GET_PROTO "int store_get(const char *key, void (*cb)(void *ud, int value), void *ud)"

/* The fake store's state, which the test changes between calls. */
typedef struct store {
    int value;
    int computed;       /* times the completion function ran */
    size_t last_call;   /* the index of the call it last computed for */
    char last_key[32];  /* and that call's key, as recorded */
    char text[64];      /* the text it returned (the mock copies it) */
    int null_from_call; /* from this call on, deliver nothing (-1: never) */
} store;

static const char *reply_value(const ac_mock_call *call, void *ud) {
    store *s = ud;
    s->computed++;
    s->last_call = ac_mock_call_index(call);
    snprintf(s->last_key, sizeof s->last_key, "%s", ac_mock_arg_str(call, 0));
    if (s->null_from_call >= 0 && s->last_call >= (size_t)s->null_from_call)
        return NULL;
    snprintf(s->text, sizeof s->text, "cb($ud, %d)", s->value);
    return s->text;
}

typedef struct got {
    int values[8];
    int n;
} got;

static void on_value(void *ud, int value) {
    got *g = ud;
    if (g->n < 8)
        g->values[g->n] = value;
    g->n++;
}

AC_TEST(mockseq, a_computed_completion_sees_the_state_at_delivery, .clock = AC_CLOCK_VIRTUAL) {
    ac_mock *m = ac_mock_new(t, GET_PROTO);
    store s = {.value = 1, .null_from_call = -1};
    ac_mock_on_call_complete_with(m, ac_deliver_after(0.5), reply_value, &s);
    get_fn get = (get_fn)ac_mock_fn(m);
    got g = {0};
    get("a", on_value, &g);
    s.value = 2; /* changed after the call, before the reply: the reply says 2 */
    AC_EXPECT_EQ(s.computed, 0);
    AC_AWAIT(t, g.n == 1, 5);
    AC_EXPECT_EQ(g.values[0], 2);
    AC_EXPECT_EQ(s.last_call, 0u);
    AC_EXPECT_STR_EQ(s.last_key, "a");
    s.value = 42;
    get("b", on_value, &g);
    strcpy(s.text, "garbage"); /* the text was copied when it was returned */
    s.value = 43;
    AC_AWAIT(t, g.n == 2, 5);
    AC_EXPECT_EQ(g.values[1], 43);
    AC_EXPECT_EQ(s.last_call, 1u);
    AC_EXPECT_STR_EQ(s.last_key, "b");
    AC_EXPECT_EQ(s.computed, 2);
    AC_ASSERT_CALLED(m, 2); /* the calls are recorded and asserted as always */
    AC_ASSERT_CALLED_WITH(m, ac_str("b"), ac_any(), ac_ptr(&g));
    AC_EXPECT_EQ(ac_mock_completion_count(m), 2u);
}

AC_TEST(mockseq, a_held_computed_completion_is_computed_when_delivered) {
    ac_mock *m = ac_mock_new(t, GET_PROTO);
    store s = {.value = 5, .null_from_call = -1};
    ac_mock_on_call_complete_with(m, ac_deliver_held(), reply_value, &s);
    get_fn get = (get_fn)ac_mock_fn(m);
    got g = {0};
    get("x", on_value, &g);
    get("y", on_value, &g);
    ac_run_until_idle(t);
    AC_EXPECT_EQ(s.computed, 0);
    AC_ASSERT_EQ(ac_mock_held_count(m), 2u);
    s.value = 6;
    AC_ASSERT_TRUE(ac_mock_deliver(m, 1));
    AC_EXPECT_EQ(s.computed, 1);
    AC_EXPECT_STR_EQ(s.last_key, "y");
    s.value = 7;
    AC_ASSERT_TRUE(ac_mock_deliver_next(m));
    AC_EXPECT_STR_EQ(s.last_key, "x");
    AC_ASSERT_EQ(g.n, 2);
    AC_EXPECT_EQ(g.values[0], 6);
    AC_EXPECT_EQ(g.values[1], 7);
    AC_EXPECT_EQ(ac_mock_held_count(m), 0u);
    AC_ASSERT_CALLED(m, 2);
}

AC_TEST(mockseq, a_computed_null_delivers_nothing) {
    ac_mock *m = ac_mock_new(t, GET_PROTO);
    store s = {.value = 3, .null_from_call = 1};
    ac_mock_on_call_complete_with(m, ac_deliver_next_iteration(), reply_value, &s);
    get_fn get = (get_fn)ac_mock_fn(m);
    got g = {0};
    get("k", on_value, &g);
    get("k", on_value, &g);
    ac_run_until_idle(t);
    AC_EXPECT_EQ(s.computed, 2);
    AC_EXPECT_EQ(g.n, 1); /* the second call's reply was NULL */
    AC_EXPECT_EQ(ac_mock_completion_count(m), 1u);
    AC_ASSERT_CALLED(m, 2);
}

AC_TEST(mockseq, computed_once_per_delivery_and_overridden_per_call) {
    ac_mock *m = ac_mock_new(t, GET_PROTO);
    store s = {.value = 10, .null_from_call = -1};
    ac_mock_on_call_complete_with(m, ac_deliver_twice(0), reply_value, &s);
    ac_mock_on_call_n_complete(m, 1, ac_deliver_next_iteration(), "cb($ud, -1)");
    get_fn get = (get_fn)ac_mock_fn(m);
    got g = {0};
    get("k", on_value, &g);
    get("k", on_value, &g);
    ac_run_until_idle(t);
    AC_EXPECT_EQ(s.computed, 2); /* call 0 delivered twice, computed each time; call 1 not computed */
    AC_ASSERT_EQ(g.n, 3);
    AC_EXPECT_EQ(g.values[0] + g.values[1] + g.values[2], 10 + 10 - 1);
    AC_EXPECT_EQ(s.last_call, 0u);
}
