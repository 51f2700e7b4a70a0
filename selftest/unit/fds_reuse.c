/* fds_reuse.c — the good cases of descriptor ownership across the reuse of a number and of deferred
 * ev_async wakeups: reconnects that close and reopen the same number from the same sites, dup2 onto the
 * test's own descriptor, a descriptor a worker thread made on a number the test closed before and handed
 * to the loop, a watcher restarted on the reopened number, and a consumer that drains its queue on each
 * ev_async wakeup under held wakeups, all pass (the failing cases are in fixtures/fds_fail.c and
 * fixtures/deferred_async.c). */
#define _GNU_SOURCE
#include <asyncheck.h>

#include <ev.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_nothing(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)w, (void)revents;
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
}

/* The next dispatch, where a watcher left on a closed descriptor would be reported. */
static void one_dispatch(ac_test *t) {
    static ev_timer tick;
    ev_timer_init(&tick, on_tick, 0., 0.);
    ev_timer_start(ac_loop(t), &tick);
    ev_run(ac_loop(t), EVRUN_ONCE);
}

AC_TEST(fd_reuse, reconnecting_on_the_same_number_from_the_same_sites_passes) {
    static ev_io io;
    int first = -1;
    for (int i = 0; i < 5; i++) {
        int sv[2];
        AC_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        if (first < 0)
            first = sv[0];
        AC_EXPECT_EQ(sv[0], first); /* the same number each time */
        ev_io_init(&io, on_nothing, sv[0], EV_READ);
        ev_io_start(ac_loop(t), &io);
        one_dispatch(t);
        ev_io_stop(ac_loop(t), &io);
        AC_EXPECT_EQ(close(sv[0]), 0);
        AC_EXPECT_EQ(close(sv[1]), 0);
    }
}

AC_TEST(fd_reuse, dup2_onto_the_tests_own_descriptor_passes) {
    int a[2], b[2];
    AC_ASSERT_EQ(pipe(a), 0);
    AC_ASSERT_EQ(pipe(b), 0);
    AC_EXPECT_EQ(dup2(a[0], b[0]), b[0]); /* closes b[0]'s descriptor, reuses the number */
    AC_EXPECT_EQ(close(b[0]), 0);
    AC_EXPECT_EQ(close(a[0]), 0);
    AC_EXPECT_EQ(close(a[1]), 0);
    AC_EXPECT_EQ(close(b[1]), 0);
}

static void *worker_connects(void *arg) {
    int *sv = arg;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        sv[0] = sv[1] = -1;
    return NULL;
}

AC_TEST(fd_reuse, a_workers_descriptor_on_a_number_the_test_closed_is_the_tests_to_close) {
    int fds[2];
    AC_ASSERT_EQ(pipe(fds), 0);
    AC_EXPECT_EQ(close(fds[0]), 0);
    AC_EXPECT_EQ(close(fds[1]), 0);
    int sv[2];
    pthread_t th;
    AC_ASSERT_EQ(pthread_create(&th, NULL, worker_connects, sv), 0);
    pthread_join(th, NULL);
    AC_ASSERT_GE(sv[0], 0);
    AC_EXPECT_EQ(close(sv[0]), 0); /* handed over to the loop's thread, which owns it now */
    AC_EXPECT_EQ(close(sv[1]), 0);
}

AC_TEST(fd_reuse, a_watcher_restarted_on_the_reopened_number_passes) {
    static ev_io io;
    int fds[2];
    AC_ASSERT_EQ(pipe(fds), 0);
    ev_io_init(&io, on_nothing, fds[0], EV_READ);
    ev_io_start(ac_loop(t), &io);
    one_dispatch(t);
    ev_io_stop(ac_loop(t), &io);
    AC_EXPECT_EQ(close(fds[0]), 0);
    AC_EXPECT_EQ(close(fds[1]), 0);
    AC_ASSERT_EQ(pipe(fds), 0);
    ev_io_set(&io, fds[0], EV_READ);
    ev_io_start(ac_loop(t), &io);
    one_dispatch(t);
    ev_io_stop(ac_loop(t), &io);
    AC_EXPECT_EQ(close(fds[0]), 0);
    AC_EXPECT_EQ(close(fds[1]), 0);
}

/* ---- a consumer that drains its queue on each ev_async wakeup, under held wakeups ---- */

typedef struct queue {
    int sent, queued, handled;
    ev_async wake;
    ev_prepare produce;
} queue;

static void drain(struct ev_loop *loop, ev_async *w, int revents) {
    (void)loop, (void)revents;
    queue *q = w->data;
    q->handled += q->queued;
    q->queued = 0;
}

static void produce(struct ev_loop *loop, ev_prepare *w, int revents) {
    (void)revents;
    queue *q = w->data;
    q->sent++;
    q->queued++;
    ev_async_send(loop, &q->wake);
    if (q->sent == 20)
        ev_prepare_stop(loop, w);
}

AC_TEST(deferred_async_ok, a_draining_consumer_passes_with_held_wakeups, .schedules = 30,
        .defer_readiness = true) {
    struct ev_loop *loop = ac_loop(t);
    static queue q;
    q = (queue){0};
    ev_async_init(&q.wake, drain);
    ev_prepare_init(&q.produce, produce);
    q.wake.data = q.produce.data = &q;
    ev_async_start(loop, &q.wake);
    ev_prepare_start(loop, &q.produce);
    while (ev_is_active(&q.produce))
        ev_run(loop, EVRUN_ONCE);
    for (int i = 0; i < 5; i++)
        ev_run(loop, EVRUN_NOWAIT);
    ev_async_stop(loop, &q.wake);
    AC_EXPECT_EQ(q.handled, 20);
}
