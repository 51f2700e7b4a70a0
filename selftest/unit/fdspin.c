/* fdspin.c — the good cases of descriptor ownership: a test closing what it opened, once, with its
 * watchers stopped first, passes (the failing cases are in
 * fixtures/fdspin_fail.c); a watcher ready every iteration whose callback makes progress is no spin. */
#include <asyncheck.h>

#include <ev.h>
#include <fcntl.h>
#include <unistd.h>

static void on_readable(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    char c;
    if (read(w->fd, &c, 1) <= 0)
        ev_io_stop(loop, w);
}

AC_TEST(fd_ownership, closing_what_the_test_opened_passes) {
    int fds[2];
    AC_ASSERT_EQ(pipe(fds), 0);
    static ev_io io;
    ev_io_init(&io, on_readable, fds[0], EV_READ);
    ev_io_start(ac_loop(t), &io);
    AC_ASSERT_EQ(close(fds[1]), 0); /* EOF: the callback stops its watcher */
    AC_AWAIT(t, !ev_is_active(&io), 2.0);
    AC_EXPECT_EQ(close(fds[0]), 0);
}

AC_TEST(fd_ownership, a_number_reused_after_a_close_is_the_tests_again) {
    int a = open("/dev/null", O_RDONLY | O_CLOEXEC);
    AC_ASSERT_GE(a, 0);
    AC_ASSERT_EQ(close(a), 0);
    int b = open("/dev/null", O_RDONLY | O_CLOEXEC);
    AC_ASSERT_GE(b, 0);
    AC_EXPECT_EQ(close(b), 0); /* same number, closed once since it was reopened */
}

/* A close made as the body's last call returns into asyncheck: still the test's own fd, closed once. */
AC_TEST(fd_ownership, a_close_as_the_last_call_passes) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    AC_ASSERT_GE(fd, 0);
    close(fd);
}

/* ---- spinning: a watcher ready every iteration whose callback makes progress is not a spin ---- */

static int written;

static void on_writable(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    if (write(w->fd, "x", 1) == 1 && ++written == 1500)
        ev_io_stop(loop, w);
}

AC_TEST(spin_ok, a_writer_that_writes_every_iteration_does_not_spin) {
    int fds[2];
    AC_ASSERT_EQ(pipe(fds), 0);
    static ev_io io;
    written = 0;
    ev_io_init(&io, on_writable, fds[1], EV_WRITE);
    ev_io_start(ac_loop(t), &io);
    for (int i = 0; i < 2000 && ev_is_active(&io); i++) /* consecutive iterations, this watcher only */
        ev_run(ac_loop(t), EVRUN_NOWAIT);
    AC_EXPECT_EQ(written, 1500);
    ev_io_stop(ac_loop(t), &io);
    close(fds[0]);
    close(fds[1]);
}
