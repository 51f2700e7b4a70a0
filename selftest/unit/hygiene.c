/* hygiene.c — teardown hygiene (src/loop/) from inside tests that pass: a test that cleans up passes,
 * each waiver lets its check pass, a nested AC_AWAIT inside a callback is not a blocked loop, the list of
 * active watchers names each type, callback and start site, leaves out asyncheck's own watchers (an
 * await's timer, a mock's completion, a scripted peer) and never reads a watcher the test stopped and
 * freed. The checks firing are seen from outside in meta/meta_hygiene.c (fixtures/hygiene_fail.c). */
#include <asyncheck.h>

#include "loop/loop.h"

#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void spin(double seconds) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do
        clock_gettime(CLOCK_MONOTONIC, &b);
    while ((double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9 < seconds);
}

/* What the test's loop has active, as the hygiene module lists it. */
static const char *listing(ac_test *t, size_t *n) {
    static ac__buf b;
    b.len = 0;
    ac__buf_puts(&b, "");
    size_t k = ac__loop_describe_active(t, &b);
    if (n)
        *n = k;
    return ac__buf_str(&b);
}

static int fired;

static void count_timer(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
    fired++;
}

static void count_io(struct ev_loop *loop, ev_io *w, int revents) {
    (void)w, (void)revents;
    fired++;
    ev_io_stop(loop, w);
}

AC_TEST(hygiene, a_test_that_cleans_up_passes) {
    static ev_timer tm;
    static ev_io io;
    int sv[2];
    AC_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    fired = 0;
    ev_io_init(&io, count_io, sv[0], EV_READ);
    ev_io_start(ac_loop(t), &io);
    ev_timer_init(&tm, count_timer, 0.01, 0.);
    ev_timer_start(ac_loop(t), &tm);
    AC_ASSERT_EQ(write(sv[1], "x", 1), 1);
    AC_AWAIT(t, fired == 2, 2.0);
    size_t n;
    AC_EXPECT_STR_EQ(listing(t, &n), "");
    AC_EXPECT_EQ(n, 0u);
    close(sv[0]);
    close(sv[1]);
}

AC_TEST(hygiene, open_fds_are_allowed_when_waived, .allow = AC_ALLOW_OPEN_FDS) {
    int p[2];
    AC_ASSERT_EQ(pipe(p), 0); /* left open on purpose */
}

static void on_busy(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
    spin(0.03);
    fired = 1;
}

AC_TEST(hygiene, slow_callbacks_are_allowed_when_waived, .slow_callback = 0.01,
        .allow = AC_ALLOW_SLOW_CALLBACKS) {
    static ev_timer w;
    fired = 0;
    ev_timer_init(&w, on_busy, 0.001, 0.);
    ev_timer_start(ac_loop(t), &w);
    AC_AWAIT(t, fired, 2.0);
}

AC_TEST(hygiene, a_callback_under_its_limit_passes, .slow_callback = 0.5) {
    static ev_timer w;
    fired = 0;
    ev_timer_init(&w, on_busy, 0.001, 0.);
    ev_timer_start(ac_loop(t), &w);
    AC_AWAIT(t, fired, 2.0);
}

static void on_nap(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
    usleep(1000);
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
    fired = 1;
}

AC_TEST(hygiene, sleeping_in_a_callback_is_allowed_when_waived, .allow = AC_ALLOW_BLOCKING_SLEEP) {
    static ev_timer w;
    fired = 0;
    ev_timer_init(&w, on_nap, 0.001, 0.);
    ev_timer_start(ac_loop(t), &w);
    AC_AWAIT(t, fired, 2.0);
}

AC_TEST(hygiene, sleeping_outside_callbacks_is_not_checked) {
    usleep(1000);
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
}

/* An AC_AWAIT inside a callback runs the loop for 0.15 s, longer than the 0.1 s limit: the time belongs
 * to the nested loop (whose callbacks are timed themselves), not to the callback that waits. */
static ev_timer inner_timer;
static int inner_fired, outer_done;

static void on_inner(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
    inner_fired = 1;
}

static void on_outer(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)w, (void)revents;
    ac_test *t = ac_current();
    ev_timer_init(&inner_timer, on_inner, 0.15, 0.);
    ev_timer_start(loop, &inner_timer);
    AC_AWAIT(t, inner_fired, 2.0);
    outer_done = 1;
}

AC_TEST(hygiene, a_nested_await_in_a_callback_is_not_a_blocked_loop, .slow_callback = 0.1) {
    static ev_timer outer;
    inner_fired = outer_done = 0;
    ev_timer_init(&outer, on_outer, 0.001, 0.);
    ev_timer_start(ac_loop(t), &outer);
    AC_AWAIT(t, outer_done, 2.0);
    AC_EXPECT_TRUE(inner_fired);
}

/* ---- the list of active watchers ---- */

static void on_io(struct ev_loop *l, ev_io *w, int r) {
    (void)l, (void)w, (void)r;
}
static void on_timer(struct ev_loop *l, ev_timer *w, int r) {
    (void)l, (void)w, (void)r;
}
static void on_periodic(struct ev_loop *l, ev_periodic *w, int r) {
    (void)l, (void)w, (void)r;
}
static void on_signal(struct ev_loop *l, ev_signal *w, int r) {
    (void)l, (void)w, (void)r;
}
static void on_stat(struct ev_loop *l, ev_stat *w, int r) {
    (void)l, (void)w, (void)r;
}
static void on_idle(struct ev_loop *l, ev_idle *w, int r) {
    (void)l, (void)w, (void)r;
}
static void on_prepare(struct ev_loop *l, ev_prepare *w, int r) {
    (void)l, (void)w, (void)r;
}
static void on_check(struct ev_loop *l, ev_check *w, int r) {
    (void)l, (void)w, (void)r;
}
static void on_fork(struct ev_loop *l, ev_fork *w, int r) {
    (void)l, (void)w, (void)r;
}
static void on_cleanup(struct ev_loop *l, ev_cleanup *w, int r) {
    (void)l, (void)w, (void)r;
}
static void on_async(struct ev_loop *l, ev_async *w, int r) {
    (void)l, (void)w, (void)r;
}
static void on_embed(struct ev_loop *l, ev_embed *w, int r) {
    (void)l, (void)w, (void)r;
}

static volatile int after_start; /* a store after each start: none of them is a tail call */

AC_TEST(hygiene, the_list_names_each_type_its_callback_and_where_it_started) {
    struct ev_loop *loop = ac_loop(t);
    static ev_io io;
    static ev_timer tm;
    static ev_periodic pe;
    static ev_signal sg;
    static ev_stat st;
    static ev_idle id;
    static ev_prepare pr;
    static ev_check ck;
    static ev_fork fk;
    static ev_cleanup cl;
    static ev_async as;
    static ev_embed em;
    int sv[2];
    AC_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ev_io_init(&io, on_io, sv[0], EV_READ | EV_WRITE);
    ev_io_start(loop, &io);
    ev_timer_init(&tm, on_timer, 5.0, 1.0);
    ev_timer_start(loop, &tm);
    ev_periodic_init(&pe, on_periodic, 0., 10.0, 0);
    ev_periodic_start(loop, &pe);
    ev_signal_init(&sg, on_signal, SIGUSR2);
    ev_signal_start(loop, &sg);
    ev_stat_init(&st, on_stat, "/tmp", 0.);
    ev_stat_start(loop, &st);
    ev_idle_init(&id, on_idle);
    ev_idle_start(loop, &id);
    ev_prepare_init(&pr, on_prepare);
    ev_prepare_start(loop, &pr);
    ev_check_init(&ck, on_check);
    ev_check_start(loop, &ck);
    ev_fork_init(&fk, on_fork);
    ev_fork_start(loop, &fk);
    ev_cleanup_init(&cl, on_cleanup);
    ev_cleanup_start(loop, &cl);
    ev_async_init(&as, on_async);
    ev_async_start(loop, &as);
    struct ev_loop *other =
        ev_embeddable_backends() & EVBACKEND_EPOLL ? ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV) : NULL;
    if (other) {
        ev_embed_init(&em, on_embed, other);
        ev_embed_start(loop, &em);
    }
    after_start = 1;

    size_t n;
    const char *list = listing(t, &n);
    AC_EXPECT_EQ(n, other ? 12u : 11u);
    char want[256];
    snprintf(want, sizeof want, "ev_io fd=%d EV_READ|EV_WRITE, callback on_io, started at ", sv[0]);
    AC_EXPECT_STR_CONTAINS(list, want);
    static const char *const lines[] = {
        "ev_timer after=5.0 repeat=1.0, callback on_timer, started at ",
        "ev_periodic offset=0.0 interval=10.0, callback on_periodic, started at ",
        "ev_signal SIGUSR2, callback on_signal, started at ",
        "ev_stat path=\"/tmp\" interval=0.0, callback on_stat, started at ",
        "ev_idle, callback on_idle, started at ",
        "ev_prepare, callback on_prepare, started at ",
        "ev_check, callback on_check, started at ",
        "ev_fork, callback on_fork, started at ",
        "ev_cleanup, callback on_cleanup, started at ",
        "ev_async, callback on_async, started at ",
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        char line[256];
        snprintf(line, sizeof line,
                 "%sac__body_hygiene__the_list_names_each_type_its_callback_and_where_it_started+0x",
                 lines[i]);
        AC_EXPECT_STR_CONTAINS(list, line);
    }
    if (other)
        AC_EXPECT_STR_CONTAINS(list, "ev_embed, callback on_embed, started at ");
    /* in start order, one a line; libev's own watchers (the ev_stat's timer, the periodic's timerfd) are
     * not among them */
    AC_EXPECT_EQ(strncmp(list, "ev_io ", 6), 0);
    AC_EXPECT_NULL(strstr(list, "stat_timer_cb"));

    ev_io_stop(loop, &io);
    ev_timer_stop(loop, &tm);
    ev_periodic_stop(loop, &pe);
    ev_signal_stop(loop, &sg);
    ev_stat_stop(loop, &st);
    ev_idle_stop(loop, &id);
    ev_prepare_stop(loop, &pr);
    ev_check_stop(loop, &ck);
    ev_fork_stop(loop, &fk);
    ev_cleanup_stop(loop, &cl);
    ev_async_stop(loop, &as);
    if (other) {
        ev_embed_stop(loop, &em);
        ev_loop_destroy(other);
    }
    AC_EXPECT_STR_EQ(listing(t, &n), "");
    AC_EXPECT_EQ(n, 0u);
    close(sv[0]);
    close(sv[1]);
}

/* A callback that ends with a start makes a tail call: the start returns into the dispatcher, and the
 * listing names the callback instead. */
static ev_timer later;

__attribute__((noinline)) static void on_start_later(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)w, (void)revents;
    ev_timer_init(&later, on_timer, 5.0, 0.);
    ev_timer_start(loop, &later);
}

AC_TEST(hygiene, a_watcher_started_by_a_callback_is_listed_as_the_tests) {
    static ev_timer first;
    ev_timer_init(&first, on_start_later, 0.001, 0.);
    ev_timer_start(ac_loop(t), &first);
    AC_AWAIT(t, ev_is_active(&later), 2.0);
    const char *list = listing(t, NULL);
    AC_EXPECT_STR_CONTAINS(list, "ev_timer after=5.0 repeat=0.0, callback on_timer, started ");
    AC_EXPECT_TRUE(strstr(list, "started by callback on_start_later (as its last call)") ||
                   strstr(list, "started at on_start_later+0x"));
    ev_timer_stop(ac_loop(t), &later);
}

static void on_once(int revents, void *arg) {
    (void)revents, (void)arg;
    fired++;
}

AC_TEST(hygiene, ev_timer_again_and_ev_once_are_credited_to_the_test) {
    static ev_timer again;
    ev_timer_init(&again, on_timer, 0., 2.0);
    ev_timer_again(ac_loop(t), &again);
    fired = 0;
    ev_once(ac_loop(t), -1, 0, 0.05, on_once, NULL);
    after_start = 1;
    const char *list = listing(t, NULL);
    AC_EXPECT_STR_CONTAINS(list, "ev_timer after=2.0 repeat=2.0, callback on_timer, started at "
                                 "ac__body_hygiene__ev_timer_again_and_ev_once_are_credited_to_the_test+0x");
    AC_EXPECT_STR_CONTAINS(list, "ev_timer after=0.05 repeat=0.0, callback on_once, started at "
                                 "ac__body_hygiene__ev_timer_again_and_ev_once_are_credited_to_the_test+0x");
    ev_timer_stop(ac_loop(t), &again);
    AC_AWAIT(t, fired, 2.0);
    AC_EXPECT_STR_EQ(listing(t, NULL), "");
}

/* ---- asyncheck's own watchers are not the test's ---- */

static ev_timer own;
static const char *inside;

static void look_inside(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
    inside = listing(ac_current(), NULL); /* the body's AC_AWAIT timer is active now */
}

AC_TEST(hygiene, an_awaits_timer_is_not_listed) {
    inside = NULL;
    ev_timer_init(&own, look_inside, 0.001, 0.);
    ev_timer_start(ac_loop(t), &own);
    AC_AWAIT(t, inside != NULL, 2.0);
    AC_EXPECT_STR_EQ(inside, "");
}

static void on_reply(int status, void *ud) {
    (void)status;
    *(int *)ud = 1;
}

AC_TEST(hygiene, a_mocks_pending_completion_is_not_listed) {
    ac_mock *m = ac_mock_new(t, "int get(void (*cb)(int status, void *ud), void *ud)");
    ac_mock_on_call_complete(m, ac_deliver_after(0.02), "cb(200, $ud)");
    int done = 0;
    ((int (*)(void (*)(int, void *), void *))ac_mock_fn(m))(on_reply, &done);
    AC_EXPECT_STR_EQ(listing(t, NULL), "");
    AC_AWAIT(t, done, 2.0);
}

AC_TEST(hygiene, a_scripted_peers_watchers_are_not_listed) {
    int fd;
    ac_peer *p = ac_peer_new(t, &fd);
    ac_peer_wait(p, 0.02);
    ac_peer_send_str(p, "hello");
    AC_EXPECT_STR_EQ(listing(t, NULL), "");
    char buf[8];
    AC_AWAIT(t, ac_peer_done(p), 2.0);
    AC_EXPECT_EQ(read(fd, buf, sizeof buf), 5);
    close(fd);
}

/* ---- freed watchers ---- */

static void free_myself(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    memset(w, 0xa5, sizeof *w);
    free(w);
    fired++;
}

AC_TEST(hygiene, a_one_shot_timer_freed_by_its_callback_is_never_read_again) {
    fired = 0;
    for (int i = 0; i < 3; i++) {
        ev_timer *w = malloc(sizeof *w);
        ev_timer_init(w, free_myself, 0.001 * (i + 1), 0.);
        ev_timer_start(ac_loop(t), w);
    }
    AC_AWAIT(t, fired == 3, 2.0);
    AC_EXPECT_STR_EQ(listing(t, NULL), "");
}

AC_TEST(hygiene, a_watcher_stopped_and_freed_is_never_read_again) {
    ev_io *w = malloc(sizeof *w);
    ev_io_init(w, on_io, 0, EV_READ);
    ev_io_start(ac_loop(t), w);
    ev_io_stop(ac_loop(t), w);
    memset(w, 0xa5, sizeof *w); /* what a reuse of the memory could leave: "active", a bogus callback */
    free(w);
    AC_EXPECT_STR_EQ(listing(t, NULL), "");
    ev_run(ac_loop(t), EVRUN_NOWAIT);
}
