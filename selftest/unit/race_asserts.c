/* race_asserts.c — the race assertions holding: properties true where they must be (and SOMETIMES and
 * REACHABLE satisfied across explored schedules), atomic regions used correctly (closed by a later
 * callback, touched by their opener or by the callback that closes them, independent per resource),
 * AC_ONCE wrappers forwarding arguments and return values of every kind through libffi, from callbacks,
 * mock completions and other threads, the op callback's counts, event counts and orders, and every
 * test starting with none of the state of the test before it (--no-fork). (Failures are in
 * meta/meta_race_asserts.c.) */
#include <asyncheck.h>

#include <ev.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "race/race.h" /* ac__op_promise, ac__op_calls_after_cancel */

typedef void (*timer_cb)(struct ev_loop *loop, ev_timer *w, int revents);

static ev_timer timers[16];
static unsigned ntimers;

/* Runs cb once on the test's loop, `s` seconds from now. */
static void after(ac_test *t, double s, timer_cb cb) {
    ev_timer *w = &timers[ntimers++ % 16];
    ev_timer_init(w, cb, s, 0.);
    ev_timer_start(ac_loop(t), w);
}

static int fired;

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
    fired++;
}

/* ---- properties ---- */

static void *always_in_a_thread(void *arg) {
    AC_ALWAYS(arg != NULL, "a thread gets its argument");
    return NULL;
}

static void on_checked_tick(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
    fired++;
    AC_ALWAYS(fired <= 3, "at most three ticks");
    if (fired > 3)
        AC_UNREACHABLE("a fourth tick");
}

AC_TEST(race_props, always_true_and_unreachable_not_reached, .clock = AC_CLOCK_VIRTUAL) {
    fired = 0;
    after(t, 0.01, on_checked_tick);
    after(t, 0.02, on_checked_tick);
    after(t, 0.03, on_checked_tick);
    AC_AWAIT(t, fired == 3, 1.0);
    AC_ALWAYS(fired == 3, "three ticks");
    pthread_t th;
    pthread_create(&th, NULL, always_in_a_thread, &fired);
    pthread_join(th, NULL);
}

static int first_fired;

static void on_first(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
    if (!first_fired)
        first_fired = 1;
    fired++;
}

static void on_second(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
    if (!first_fired)
        first_fired = 2;
    fired++;
}

/* Two timers due together: libev's order fires the first first, some schedules the second. Every
 * SOMETIMES and REACHABLE holds in some schedule (else the runner would fail the test). */
AC_TEST(race_props, sometimes_and_reachable_hold_across_schedules, .clock = AC_CLOCK_VIRTUAL,
        .schedules = 8) {
    first_fired = 0;
    fired = 0;
    after(t, 0.01, on_first);
    after(t, 0.01, on_second);
    AC_AWAIT(t, fired == 2, 1.0);
    AC_ALWAYS(first_fired == 1 || first_fired == 2, "one of them fired first");
    AC_SOMETIMES(first_fired == 1, "the first timer fires first");
    AC_SOMETIMES(first_fired == 2, "the second timer fires first");
    if (first_fired == 2)
        AC_REACHABLE("the second timer won");
    else
        AC_REACHABLE("the first timer won");
}

/* ---- atomic regions ---- */

static void on_open(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
    AC_ATOMIC_BEGIN("cache:k");
    AC_TOUCH("cache:k"); /* the opener may use it */
    AC_TOUCH("cache:k");
    fired++;
}

static void on_close(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
    AC_TOUCH("cache:k"); /* the operation finishing */
    AC_ATOMIC_END("cache:k");
    fired++;
}

static void on_touch_other(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
    AC_TOUCH("cache:other"); /* a different resource */
    fired++;
}

static void on_touch(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
    AC_TOUCH("cache:k");
    fired++;
}

AC_TEST(race_regions, opened_in_one_callback_and_closed_in_a_later_one, .clock = AC_CLOCK_VIRTUAL) {
    fired = 0;
    after(t, 0.01, on_open);
    after(t, 0.02, on_touch_other);
    after(t, 0.03, on_close);
    AC_AWAIT(t, fired == 3, 1.0);
}

AC_TEST(race_regions, reopened_and_touched_once_closed, .clock = AC_CLOCK_VIRTUAL) {
    fired = 0;
    after(t, 0.01, on_open);
    after(t, 0.02, on_close);
    after(t, 0.03, on_touch); /* closed: anyone may */
    after(t, 0.04, on_open);
    after(t, 0.05, on_close);
    AC_AWAIT(t, fired == 5, 1.0);
    AC_TOUCH("cache:k");
}

AC_TEST(race_regions, the_body_opens_and_a_callback_closes, .clock = AC_CLOCK_VIRTUAL) {
    fired = 0;
    AC_ATOMIC_BEGIN("cache:k");
    AC_TOUCH("cache:k");
    after(t, 0.01, on_touch_other);
    after(t, 0.02, on_close);
    AC_AWAIT(t, fired == 2, 1.0);
}

/* The body's segments between runs of the loop: the later one may finish what the earlier opened (and
 * callbacks may run after that). */
AC_TEST(race_regions, the_body_closes_after_running_the_loop, .clock = AC_CLOCK_VIRTUAL) {
    fired = 0;
    AC_ATOMIC_BEGIN("cache:k");
    after(t, 0.01, on_tick);
    AC_AWAIT(t, fired == 1, 1.0);
    AC_TOUCH("cache:k");
    AC_ATOMIC_END("cache:k");
    after(t, 0.01, on_tick);
    AC_AWAIT(t, fired == 2, 1.0);
}

static bool closed;

static void on_close_soon(struct ev_loop *loop, ev_timer *w, int revents) {
    on_close(loop, w, revents);
    closed = true;
}

/* A callback that touches the resource and waits, in a nested run of the loop, until another callback has
 * closed the region, returns with it closed: not an intruder. */
static void on_touch_and_wait(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
    ac_test *t = ac_current();
    AC_TOUCH("cache:k");
    after(t, 0.01, on_close_soon);
    AC_AWAIT(t, closed, 1.0);
    fired++;
}

AC_TEST(race_regions, a_callback_waiting_for_the_close_is_no_intruder, .clock = AC_CLOCK_VIRTUAL) {
    fired = 0;
    closed = false;
    after(t, 0.01, on_open);
    after(t, 0.02, on_touch_and_wait);
    AC_AWAIT(t, fired == 3, 1.0); /* open, close, and the waiting one */
}

AC_TEST(race_regions, resources_are_independent, .clock = AC_CLOCK_VIRTUAL) {
    AC_ATOMIC_BEGIN("cache:a");
    AC_ATOMIC_BEGIN("cache:b");
    AC_ATOMIC_END("cache:a");
    AC_ATOMIC_BEGIN("cache:a"); /* closed, so not a second opening */
    AC_ATOMIC_END("cache:b");
    AC_ATOMIC_END("cache:a");
    AC_ATOMIC_END("cache:never-opened"); /* ignored */
    char name[16];
    snprintf(name, sizeof name, "user:%d", 42);
    AC_ATOMIC_BEGIN(name);
    memcpy(name, "user:43", 8); /* the name was copied */
    AC_ATOMIC_END("user:42");
}

/* ---- exactly-once callbacks: forwarding ---- */

static int add(int a, int b) {
    return a + b;
}

static double scale(double x, double k) {
    return x * k;
}

static const char *pick(const char *a, const char *b, int which) {
    return which ? b : a;
}

static void *same(void *p) {
    return p;
}

static short neg(short v) {
    return (short)-v;
}

static bool flip(bool b) {
    return !b;
}

static unsigned char next_byte(unsigned char c) {
    return (unsigned char)(c + 1);
}

static float half(float f) {
    return f / 2;
}

static long long twice_ll(long long v) {
    return v * 2;
}

static unsigned long long mix(char c, unsigned short s, long l, unsigned long long u, float f, double d) {
    return (unsigned long long)c + s + (unsigned long long)l + u + (unsigned long long)f +
           (unsigned long long)d;
}

AC_TEST(race_once, forwards_arguments_and_return_values_of_every_kind) {
    int (*wadd)(int, int) = AC_ONCE(t, "int add(int a, int b)", add);
    AC_EXPECT_EQ(wadd(2, -5), -3);
    double (*wscale)(double, double) = AC_ONCE(t, "double scale(double x, double k)", scale);
    AC_EXPECT_EQ(wscale(1.5, 0.25), 0.375);
    const char *(*wpick)(const char *, const char *, int) =
        AC_ONCE(t, "const char *pick(const char *a, const char *b, int which)", pick);
    AC_EXPECT_STR_EQ(wpick("left", "right", 1), "right");
    static int cell;
    void *(*wsame)(void *) = AC_ONCE(t, "void *same(void *p)", same);
    AC_EXPECT_EQ(wsame(&cell), (void *)&cell);
    short (*wneg)(short) = AC_ONCE(t, "short neg(short v)", neg);
    AC_EXPECT_EQ(wneg(1234), -1234);
    bool (*wflip)(bool) = AC_ONCE(t, "bool flip(bool b)", flip);
    AC_EXPECT_EQ(wflip(false), true);
    unsigned char (*wnext)(unsigned char) = AC_ONCE(t, "unsigned char next_byte(unsigned char c)", next_byte);
    AC_EXPECT_EQ(wnext(255), 0);
    float (*whalf)(float) = AC_ONCE(t, "float half(float f)", half);
    AC_EXPECT_EQ(whalf(3.0f), 1.5f);
    long long (*wtwice)(long long) = AC_ONCE(t, "long long twice_ll(long long v)", twice_ll);
    AC_EXPECT_EQ(wtwice(1LL << 40), 1LL << 41);
    unsigned long long (*wmix)(char, unsigned short, long, unsigned long long, float, double) = AC_ONCE(
        t,
        "unsigned long long mix(char c, unsigned short s, long l, unsigned long long u, float f, double d)",
        mix);
    AC_EXPECT_EQ(wmix(1, 60000, 1L << 33, 1ULL << 62, 2.0f, 3.0),
                 1ULL + 60000 + (1ULL << 33) + (1ULL << 62) + 5);
    AC_EXPECT_EQ(ac_once_calls(wadd), 1u);
    AC_EXPECT_EQ(ac_once_calls(wmix), 1u);
    AC_EXPECT_EQ(ac_once_calls(add), 0u); /* not a wrapper */
}

typedef struct outcome {
    int status;
    void *ud;
    int calls;
} outcome;

static void on_done(int status, void *ud) {
    outcome *o = ud;
    o->status = status;
    o->ud = ud;
    o->calls++;
}

static char *describe(int code) {
    static char text[32];
    snprintf(text, sizeof text, "code %d", code);
    return text;
}

static void (*pending_done)(int, void *);
static outcome pending_outcome;

static void on_deliver(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
    pending_done(204, &pending_outcome);
}

AC_TEST(race_once, function_pointer_prototypes_called_from_a_callback, .clock = AC_CLOCK_VIRTUAL) {
    pending_outcome = (outcome){0};
    pending_done = AC_ONCE(t, "void (*)(int status, void *ud)", on_done);
    after(t, 0.01, on_deliver);
    AC_AWAIT(t, pending_outcome.calls == 1, 1.0);
    AC_EXPECT_EQ(pending_outcome.status, 204);
    AC_EXPECT_EQ(pending_outcome.ud, (void *)&pending_outcome);
    AC_EXPECT_EQ(ac_once_calls(pending_done), 1u);

    outcome named = {0};
    void (*wnamed)(int, void *) = AC_ONCE(t, "void (*done)(int, void *)", on_done);
    wnamed(7, &named);
    AC_EXPECT_EQ(named.status, 7);
    char *(*wdescribe)(int) = AC_ONCE(t, "char *(*)(int code)", describe);
    AC_EXPECT_STR_EQ(wdescribe(42), "code 42");
}

AC_TEST(race_once, wraps_the_callback_of_a_mock_completion, .clock = AC_CLOCK_VIRTUAL) {
    ac_mock *fetch =
        ac_mock_new(t, "void fetch(const char *key, void (*cb)(int status, void *ud), void *ud)");
    ac_mock_on_call_complete(fetch, ac_deliver_after(0.05), "cb(200, $ud)");
    outcome o = {0};
    void (*cb)(int, void *) = AC_ONCE(t, "void (*)(int status, void *ud)", on_done);
    ((void (*)(const char *, void (*)(int, void *), void *))ac_mock_fn(fetch))("user:42", cb, &o);
    AC_AWAIT(t, o.calls == 1, 1.0);
    AC_EXPECT_EQ(o.status, 200);
    AC_EXPECT_EQ(ac_once_calls(cb), 1u);
}

static void (*thread_done)(int, void *);

static void *call_from_thread(void *arg) {
    thread_done(9, arg);
    return NULL;
}

AC_TEST(race_once, called_once_from_another_thread, .allow = AC_ALLOW_OFF_LOOP_CALLBACKS) {
    outcome o = {0};
    thread_done = AC_ONCE(t, "void done(int status, void *ud)", on_done);
    pthread_t th;
    pthread_create(&th, NULL, call_from_thread, &o);
    pthread_join(th, NULL);
    AC_EXPECT_EQ(o.status, 9);
    AC_EXPECT_EQ(ac_once_calls(thread_done), 1u);
}

static void cancel_nothing(void *arg) {
    (void)arg;
}

AC_TEST(race_once, the_op_callback_counts_calls_after_the_cancel) {
    AC_EXPECT_EQ(ac__op_promise(), -1); /* none wrapped yet, whatever the test before did */
    outcome o = {0};
    void (*cb)(int, void *) =
        ac_op_callback(t, "void done(int status, void *ud)", on_done, AC_CANCEL_CALLS_BACK_ONCE);
    AC_EXPECT_EQ(ac__op_promise(), AC_CANCEL_CALLS_BACK_ONCE);
    cb(1, &o);
    AC_EXPECT_EQ(ac__op_calls_after_cancel(), 0u);
    ac_cancel_with(t, cancel_nothing, NULL);
    ac_cancel(t);
    cb(2, &o);
    AC_EXPECT_EQ(o.calls, 2);
    AC_EXPECT_EQ(o.status, 2);
    AC_EXPECT_EQ(ac_once_calls(cb), 2u); /* not exactly-once checked itself */
    AC_EXPECT_EQ(ac__op_calls_after_cancel(), 1u);
}

AC_TEST(race_once, the_next_test_has_no_op_callback) {
    AC_EXPECT_EQ(ac__op_promise(), -1);
    AC_EXPECT_EQ(ac__op_calls_after_cancel(), 0u);
}

/* ---- events ---- */

static void on_request(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
    AC_EVENT("request");
}

static void on_reply(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
    AC_EVENT("reply");
}

AC_TEST(race_events, counted_and_in_order_across_callbacks, .clock = AC_CLOCK_VIRTUAL) {
    ac_require_order(t, "request", "reply");
    ac_require_order(t, "open", "reply");
    AC_EVENT("open");
    after(t, 0.01, on_request);
    after(t, 0.02, on_reply);
    after(t, 0.03, on_request);
    after(t, 0.04, on_reply);
    AC_AWAIT(t, ac_event_count(t, "reply") == 2, 1.0);
    AC_EXPECT_EQ(ac_event_count(t, "request"), 2u);
    AC_EXPECT_EQ(ac_event_count(t, "open"), 1u);
    AC_EXPECT_EQ(ac_event_count(t, "close"), 0u);
    AC_ASSERT_BEFORE("request", "reply");
    AC_EXPECT_BEFORE("open", "request");
    ac_require_order(t, "open", "request"); /* declared late, already kept */
}

AC_TEST(race_events, names_are_copied) {
    char name[16];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "step%d", i);
        AC_EVENT(name);
    }
    memcpy(name, "other", 6);
    AC_EXPECT_EQ(ac_event_count(t, "step0"), 1u);
    AC_EXPECT_EQ(ac_event_count(t, "step2"), 1u);
    AC_EXPECT_BEFORE("step0", "step2");
}

AC_TEST(race_events, the_next_test_has_no_events) {
    AC_EXPECT_EQ(ac_event_count(t, "reply"), 0u);
    AC_EXPECT_EQ(ac_event_count(t, "step0"), 0u);
    ac_require_order(t, "request", "reply"); /* no reply left from an earlier test */
}
