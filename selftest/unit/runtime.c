/* runtime.c — what a test sees at run time: its own fresh loop, AC_AWAIT, suites with setup, teardown
 * and data, and process isolation between tests. */
#include <asyncheck.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void set_flag(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    (*(int *)w->data)++;
}

AC_TEST(runtime, loop_is_fresh_and_not_default) {
    struct ev_loop *loop = ac_loop(t);
    AC_ASSERT_NOT_NULL(loop);
    AC_ASSERT_EQ(ev_backend(loop), EVBACKEND_EPOLL);
    AC_ASSERT_EQ(ev_iteration(loop), 0u);
    AC_ASSERT_EQ(ev_depth(loop), 0u);
}

AC_TEST(runtime, name_and_current) {
    AC_ASSERT_STR_EQ(ac_test_name(t), "runtime.name_and_current");
    AC_ASSERT_EQ(ac_current(), t);
}

AC_TEST(runtime, await_runs_the_loop_until_true) {
    int fired = 0;
    ev_timer timer;
    ev_timer_init(&timer, set_flag, 0.02, 0.);
    timer.data = &fired;
    /* The timer is due 20 ms after the loop's time, which may be older than now (a slow build). */
    double before = ev_now(ac_loop(t));
    ev_timer_start(ac_loop(t), &timer);
    AC_AWAIT(t, fired == 1, 2.0);
    AC_ASSERT_GE(ev_time() - before, 0.015);
    AC_ASSERT_LT(ev_time() - before, 1.0);
}

static void count_idle(struct ev_loop *loop, ev_idle *w, int revents) {
    (void)revents;
    (*(int *)w->data)++;
    ev_idle_stop(loop, w);
}

AC_TEST(runtime, await_checks_the_condition_first) {
    int ran = 0;
    ev_idle idle;
    ev_idle_init(&idle, count_idle);
    idle.data = &ran;
    ev_idle_start(ac_loop(t), &idle);
    AC_AWAIT(t, 1 == 1, 1.0);
    AC_ASSERT_EQ(ran, 0); /* already true: the loop did not run */
    AC_AWAIT(t, ran == 1, 1.0);
}

AC_TEST(runtime, await_re_evaluates_after_each_iteration) {
    int ticks = 0;
    ev_timer timer;
    ev_timer_init(&timer, set_flag, 0.001, 0.001);
    timer.data = &ticks;
    ev_timer_start(ac_loop(t), &timer);
    AC_AWAIT(t, ticks >= 3, 2.0);
    AC_ASSERT_EQ(ticks, 3); /* stopped as soon as it held, not later */
    ev_timer_stop(ac_loop(t), &timer);
}

/* AC_AWAIT nested inside a callback that itself runs under AC_AWAIT. */
typedef struct nested {
    ac_test *t;
    ev_timer outer, inner;
    int inner_fired, outer_done;
} nested;

static void inner_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    ((nested *)w->data)->inner_fired = 1;
}

static void outer_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)revents;
    nested *n = w->data;
    ev_timer_init(&n->inner, inner_cb, 0.01, 0.);
    n->inner.data = n;
    ev_timer_start(loop, &n->inner);
    AC_AWAIT(n->t, n->inner_fired, 1.0);
    n->outer_done = 1;
}

AC_TEST(runtime, await_nests_inside_callbacks) {
    nested n = {.t = t};
    ev_timer_init(&n.outer, outer_cb, 0.01, 0.);
    n.outer.data = &n;
    ev_timer_start(ac_loop(t), &n.outer);
    AC_AWAIT(t, n.outer_done, 2.0);
    AC_ASSERT_EQ(n.inner_fired, 1);
}

/* The body may return with watchers active: the runner drains the loop before teardown. */
static int drained_fired;
static void drained_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
    drained_fired = 1;
}
static void check_drained(ac_test *t) {
    (void)t;
    AC_ASSERT_EQ(drained_fired, 1);
}
AC_SUITE(drain, .teardown = check_drained);
AC_TEST(drain, body_returns_with_a_pending_timer) {
    static ev_timer timer;
    ev_timer_init(&timer, drained_cb, 0.02, 0.);
    ev_timer_start(ac_loop(t), &timer);
}

/* Suites: setup before the body on the test's loop, data handed through, teardown after. */
typedef struct fixture {
    int setup_ran;
    struct ev_loop *loop;
} fixture;

static void fx_setup(ac_test *t) {
    fixture *f = calloc(1, sizeof *f);
    f->setup_ran = 1;
    f->loop = ac_loop(t);
    ac_set_data(t, f);
}
static void fx_teardown(ac_test *t) {
    fixture *f = ac_data(t);
    AC_ASSERT_NOT_NULL(f);
    AC_ASSERT_EQ(f->setup_ran, 2); /* the body's change is visible */
    free(f);
}
AC_SUITE(suite_fixture, .setup = fx_setup, .teardown = fx_teardown);

AC_TEST(suite_fixture, setup_ran_on_the_same_loop) {
    fixture *f = ac_data(t);
    AC_ASSERT_NOT_NULL(f);
    AC_ASSERT_EQ(f->setup_ran, 1);
    AC_ASSERT_EQ(f->loop, ac_loop(t));
    f->setup_ran = 2;
}

AC_TEST(suite_fixture, data_starts_fresh_for_each_test) {
    fixture *f = ac_data(t);
    AC_ASSERT_EQ(f->setup_ran, 1);
    f->setup_ran = 2;
}

AC_TEST(runtime, data_is_null_without_setup) {
    AC_ASSERT_NULL(ac_data(t));
}

AC_TEST(runtime, option_timeout_is_accepted, .timeout = 5) {
    AC_ASSERT_TRUE(1);
}

AC_TEST(runtime, skipped_by_option, .skip = "proves .skip does not run the body") {
    AC_FAIL("a test skipped by option ran");
}

/* Isolation: each test has its own process; globals start fresh. (Excluded from --no-fork runs.) */
static int shared_counter;
static pid_t first_pid;

AC_TEST(isolation, globals_start_fresh_a) {
    AC_ASSERT_EQ(shared_counter, 0);
    shared_counter++;
    AC_ASSERT_EQ(getpid(), getpgrp()); /* each test leads its own process group */
}

AC_TEST(isolation, globals_start_fresh_b) {
    AC_ASSERT_EQ(shared_counter, 0);
    shared_counter++;
    AC_ASSERT_EQ(first_pid, 0);
    first_pid = getpid();
}

AC_TEST(isolation, stdin_is_dev_null) {
    char c;
    AC_ASSERT_EQ(read(0, &c, 1), 0);
}

/* Names that are also predefined macros under gnu11 must not be expanded. */
AC_TEST(unix, linux) {
    AC_ASSERT_STR_EQ(ac_test_name(t), "unix.linux");
}
