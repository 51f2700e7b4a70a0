/* quiescence.c — the cases that must pass: an AC_AWAIT is never failed as idle while something could
 * still make its condition true (a thread of the test's, an ev_async already sent by a thread that has
 * ended, a mock's completion still due, a held completion that a timer releases, a timer under the
 * virtual clock); AC_ASSERT_IDLE / AC_EXPECT_IDLE hold when the body's watchers are stopped, whatever
 * the suite's setup or a mock left; .drain = false passes a body that stops what it started; the
 * AC_ALWAYS family with printf arguments passes when it holds. The failing cases are in
 * fixtures/quiescence_fail.c, seen from meta/meta_quiescence.c. */
#include <asyncheck.h>

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

/* ---- awaits that must not be taken for idle ---- */

static atomic_int flag;
static int woken;

static void on_wake(struct ev_loop *loop, ev_async *w, int revents) {
    (void)loop, (void)revents;
    woken = atomic_load(&flag);
    ev_async_stop(loop, w);
}

typedef struct waker {
    struct ev_loop *loop;
    ev_async *async;
    useconds_t delay;
} waker;

static void *wake_later(void *arg) {
    const waker *w = arg;
    usleep(w->delay);
    atomic_store(&flag, 1);
    ev_async_send(w->loop, w->async);
    return NULL;
}

/* The loop has nothing but an ev_async; the thread that will send it is running. */
AC_TEST(quiescence, a_running_thread_of_the_test_is_not_idle) {
    static ev_async async;
    atomic_store(&flag, 0);
    woken = 0;
    ev_async_init(&async, on_wake);
    ev_async_start(ac_loop(t), &async);
    waker w = {ac_loop(t), &async, 30000};
    pthread_t th;
    pthread_create(&th, NULL, wake_later, &w);
    AC_AWAIT(t, woken == 1, 5.0);
    pthread_join(th, NULL);
}

/* The thread has sent and ended before the await begins: the send is still to be delivered. */
AC_TEST(quiescence, an_ev_async_sent_by_a_thread_that_ended_is_not_idle) {
    static ev_async async;
    atomic_store(&flag, 0);
    woken = 0;
    ev_async_init(&async, on_wake);
    ev_async_start(ac_loop(t), &async);
    waker w = {ac_loop(t), &async, 0};
    pthread_t th;
    pthread_create(&th, NULL, wake_later, &w);
    pthread_join(th, NULL);
    AC_AWAIT(t, woken == 1, 5.0);
}

typedef int (*send_fn)(const char *data, void (*cb)(int status, void *ud), void *ud);
#define SEND_PROTO "int send(const char *data, void (*cb)(int status, void *ud), void *ud)"

static void on_sent(int status, void *ud) {
    *(int *)ud = status;
}

AC_TEST(quiescence, a_completion_still_due_is_not_idle) {
    ac_mock *m = ac_mock_new(t, SEND_PROTO);
    ac_mock_on_call_complete(m, ac_deliver_after(0.02), "cb(0, $ud)");
    int status = -1;
    ((send_fn)ac_mock_fn(m))("x", on_sent, &status);
    AC_AWAIT(t, status == 0, 5.0);
}

static void release_held(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    ac_mock_deliver_next(w->data);
}

/* A held completion with a timer of the test's that will release it. */
AC_TEST(quiescence, a_held_completion_a_timer_releases_is_not_idle) {
    ac_mock *m = ac_mock_new(t, SEND_PROTO);
    ac_mock_on_call_complete(m, ac_deliver_held(), "cb(0, $ud)");
    int status = -1;
    ((send_fn)ac_mock_fn(m))("x", on_sent, &status);
    ev_timer release;
    ev_timer_init(&release, release_held, 0.01, 0.);
    release.data = m;
    ev_timer_start(ac_loop(t), &release);
    AC_AWAIT(t, status == 0, 5.0);
}

static void set_int(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    *(int *)w->data = 1;
}

AC_TEST(quiescence, a_timer_under_the_virtual_clock_is_not_idle, .clock = AC_CLOCK_VIRTUAL) {
    int done = 0;
    ev_timer later;
    ev_timer_init(&later, set_int, 600., 0.);
    later.data = &done;
    ev_timer_start(ac_loop(t), &later);
    AC_AWAIT(t, done, 3600);
    AC_EXPECT_GE(ac_clock_elapsed(t), 600.0);
}

/* An await nested in a callback, while the body's own await waits on a timer of the test's. */
static void nested_await(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    AC_AWAIT(ac_current(), *(int *)w->data, 5.0);
}

AC_TEST(quiescence, an_await_nested_in_a_callback_sees_the_timer_that_will_fire) {
    int done = 0;
    ev_timer outer, inner;
    ev_timer_init(&outer, nested_await, 0.001, 0.);
    outer.data = &done;
    ev_timer_init(&inner, set_int, 0.02, 0.);
    inner.data = &done;
    ev_timer_start(ac_loop(t), &outer);
    ev_timer_start(ac_loop(t), &inner);
    AC_AWAIT(t, done && !ev_is_active(&outer), 5.0);
}

/* ---- AC_ASSERT_IDLE / AC_EXPECT_IDLE ---- */

static void nothing(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
}

AC_TEST(quiescence, idle_once_the_body_stopped_its_watchers) {
    AC_ASSERT_IDLE(t);
    ev_timer timer;
    ev_timer_init(&timer, nothing, 5., 0.);
    ev_timer_start(ac_loop(t), &timer);
    ev_timer_stop(ac_loop(t), &timer);
    AC_ASSERT_IDLE(t);
    AC_EXPECT_IDLE(t);
}

/* A mock's completion still due is asyncheck's, not a watcher of the test's. */
AC_TEST(quiescence, a_completion_due_is_not_a_watcher_of_the_tests) {
    ac_mock *m = ac_mock_new(t, SEND_PROTO);
    ac_mock_on_call_complete(m, ac_deliver_after(0.01), "cb(0, $ud)");
    static int status = -1;
    ((send_fn)ac_mock_fn(m))("x", on_sent, &status);
    AC_ASSERT_IDLE(t);
    AC_AWAIT(t, status == 0, 5.0);
}

/* The suite's setup keeps a watcher running for all its tests: not the body's. */
static ev_timer fixture_timer;

static void start_fixture(ac_test *t) {
    ev_timer_init(&fixture_timer, nothing, 5., 5.);
    ev_timer_start(ac_loop(t), &fixture_timer);
}

static void stop_fixture(ac_test *t) {
    ev_timer_stop(ac_loop(t), &fixture_timer);
}

AC_SUITE(quiescence_fixture, .setup = start_fixture, .teardown = stop_fixture);

AC_TEST(quiescence_fixture, the_setups_watchers_are_not_the_bodys) {
    AC_ASSERT_IDLE(t);
}

/* ---- .drain = false ---- */

AC_TEST(quiescence_fixture, no_drain_passes_a_body_that_stops_what_it_started, .drain = false) {
    ev_timer timer;
    ev_timer_init(&timer, nothing, 0.01, 0.);
    ev_timer_start(ac_loop(t), &timer);
    ev_timer_stop(ac_loop(t), &timer);
}

AC_TEST(quiescence, no_drain_passes_a_one_shot_timer_that_already_ran, .drain = false) {
    int done = 0;
    ev_timer timer;
    ev_timer_init(&timer, set_int, 0.01, 0.);
    timer.data = &done;
    ev_timer_start(ac_loop(t), &timer);
    AC_AWAIT(t, done, 5.0);
}

/* The waiver of the drain waives its replacement too. */
AC_TEST(quiescence, no_drain_is_waived_with_the_drain, .drain = false, .allow = AC_ALLOW_ACTIVE_WATCHERS) {
    static ev_timer left;
    ev_timer_init(&left, nothing, 5., 0.);
    ev_timer_start(ac_loop(t), &left);
}

/* ---- properties with values ---- */

AC_TEST(quiescence, properties_with_values_pass_when_they_hold) {
    int n = 3, cap = 5;
    AC_ALWAYS(n <= cap, "queue bounded: n=%d cap=%d", n, cap);
    AC_SOMETIMES(n == 3, "three queued (%s)", "sometimes");
    AC_REACHABLE("reached with n=%d", n);
    AC_ALWAYS(n > 0, "100% positive"); /* no arguments: the "%" is a character */
    if (n > cap)
        AC_UNREACHABLE("over capacity: %d", n);
}
