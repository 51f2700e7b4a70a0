/* meta_fds.c — descriptor ownership across the reuse of a number and closes made as a function's last
 * call, seen from outside through the TAP of fixtures/fds_fail.c: each buggy twin fails with the exact
 * message (fd numbers, inodes and code offsets checked by their shape), each fixed twin passes. */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const clean_env[] = {"AC_TIMEOUT_MULTIPLIER", NULL};

/* The message of the single failure of a failing test, in a buffer that lives until the next call. */
static const char *failing(fixture_run *r, const char *name) {
    const tap_point *pt = fixture_point(r, FIXTURE_FDS, name, NULL, clean_env);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_EQ(r->p.status, 1);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "assertion");
    AC_EXPECT_STR_CONTAINS(field(pt, "    file: "), "fds_fail.c");
    AC_EXPECT_NULL(pt->yaml ? strstr(pt->yaml, "  failures:") : NULL);
    return field(pt, "  message: ");
}

static void passes(const char *name) {
    fixture_passes(FIXTURE_FDS, name, NULL, clean_env);
}

/* True when `s` matches `format` (scanf conversions for the varying parts) to its last character. */
#define MATCHES(s, format, ...)                                                                              \
    do {                                                                                                     \
        int end_ = -1;                                                                                       \
        sscanf((s), format "%n", __VA_ARGS__, &end_);                                                        \
        AC_EXPECT_EQ(end_, (int)strlen(s));                                                                  \
    } while (0)

AC_TEST(meta_fds, a_stale_cleanup_after_a_reconnect_closes_the_new_connection) {
    fixture_run r;
    const char *m = failing(&r, "fds.stale_cleanup_after_a_reconnect");
    int fd[4] = {-1, -2, -3, -4};
    MATCHES(m,
            "closing fd %d again: close(%d) called by conn_cleanup+0x%*x closed the descriptor made by "
            "socketpair() at connect_to+0x%*x (the test had closed fd %d before, at drop_connection+0x%*x), "
            "while ev_io fd=%d EV_READ, callback on_readable, started at connect_to+0x%*x was active on it, "
            "and it still is (a handle kept after its close: clear it when closing)",
            &fd[0], &fd[1], &fd[2], &fd[3]);
    AC_EXPECT_EQ(fd[0], fd[1]);
    AC_EXPECT_EQ(fd[0], fd[2]);
    AC_EXPECT_EQ(fd[0], fd[3]);
    fixture_done(&r);
    passes("fds.cleanup_after_a_reconnect_clears_its_handle");
}

AC_TEST(meta_fds, a_stale_cleanup_after_a_reconnect_is_named_by_the_owners_double_close) {
    fixture_run r;
    const char *m = failing(&r, "fds.stale_cleanup_found_by_the_owners_close");
    int fd[2] = {-1, -2};
    /* (at -O2 the owner's close may be a clone: conn_close.constprop.0) */
    MATCHES(m,
            "double close: close(%d) called by conn_close%*[^ ] fails with EBADF; fd %d was closed before by "
            "conn_cleanup+0x%*x, which closed the descriptor made by socketpair() at connect_to+0x%*x on a "
            "number the test had closed before, at drop_connection+0x%*x (a handle kept after its close "
            "closes the new descriptor)",
            &fd[0], &fd[1]);
    AC_EXPECT_EQ(fd[0], fd[1]);
    fixture_done(&r);
    passes("fds.owner_closes_after_a_cleanup_that_cleared_its_handle");
}

AC_TEST(meta_fds, a_stale_close_of_a_number_a_peer_reopened_is_refused) {
    fixture_run r;
    const char *m = failing(&r, "fds.stale_close_of_a_number_a_peer_reopened");
    int fd[3] = {-1, -2, -3};
    MATCHES(m,
            "closing fd %d again: close(%d) called by close_it+0x%*x; the test had closed it before, at "
            "close_it+0x%*x, and the number was reopened by asyncheck: fd %d (socket:[%*u]) is asyncheck's "
            "own (a scripted peer's end); it was left open",
            &fd[0], &fd[1], &fd[2]);
    AC_EXPECT_EQ(fd[0], fd[1]);
    AC_EXPECT_EQ(fd[0], fd[2]);
    fixture_done(&r);
    passes("fds.handle_cleared_before_a_peer_reopens_the_number");
}

AC_TEST(meta_fds, a_stale_close_of_libevs_inotify_descriptor_is_refused) {
    fixture_run r;
    const char *m = failing(&r, "fds.stale_close_of_a_number_libev_reopened");
    int fd[3] = {-1, -2, -3};
    MATCHES(m,
            "closing fd %d again: close(%d) called by close_it+0x%*x; the test had closed it before, at "
            "close_it+0x%*x, and the number was reopened by inotify_init1() in libev: fd %d "
            "(anon_inode:inotify) is libev's own (opened while the test ran); it was left open",
            &fd[0], &fd[1], &fd[2]);
    AC_EXPECT_EQ(fd[0], fd[1]);
    AC_EXPECT_EQ(fd[0], fd[2]);
    fixture_done(&r);
    passes("fds.handle_cleared_before_libev_reopens_the_number");
}

AC_TEST(meta_fds, a_watcher_left_on_a_reused_fd_names_the_close_and_the_reopen) {
    fixture_run r;
    const char *m = failing(&r, "fds.watcher_left_on_a_reused_fd");
    int fd[3] = {-1, -2, -3};
    MATCHES(m,
            "watcher left active on a closed descriptor: close(%d) called by close_it+0x%*x while ev_io "
            "fd=%d EV_READ, callback on_nothing, started at reused_test+0x%*x was active on it, and it still "
            "is (stop it before closing its fd); fd %d was reopened since by pipe() at reopen+0x%*x, which "
            "the watcher now watches",
            &fd[0], &fd[1], &fd[2]);
    AC_EXPECT_EQ(fd[0], fd[1]);
    AC_EXPECT_EQ(fd[0], fd[2]);
    fixture_done(&r);
    passes("fds.watcher_stopped_before_the_fd_is_reused");
}

/* The fixture is compiled at -O2: these closes are `jmp close` (objdump -d fixture_fds shows it), so the
 * return address lands in asyncheck's runner or in libev's ev_invoke, not in the code that closed. */
AC_TEST(meta_fds, a_tail_call_close_of_the_loops_epoll_fd_from_the_body_is_the_tests) {
    fixture_run r;
    const char *m = failing(&r, "fds_tail.body_closes_the_loops_epoll_fd_as_its_last_call");
    int fd[2] = {-1, -2};
    MATCHES(m,
            "closing a descriptor the test did not open: close(%d) called by the test body (as its last "
            "call); fd %d (anon_inode:[eventpoll]) is not the test's (it was open before the test began: the "
            "runner's, the loop's or another component's); it was left open",
            &fd[0], &fd[1]);
    AC_EXPECT_EQ(fd[0], fd[1]);
    fixture_done(&r);
}

AC_TEST(meta_fds, a_tail_call_close_from_a_callback_is_judged_not_left_to_libev) {
    fixture_run r;
    const char *m = failing(&r, "fds_tail.callback_closes_the_loops_epoll_fd_as_its_last_call");
    int fd[2] = {-1, -2};
    MATCHES(m,
            "closing a descriptor the test did not open: close(%d) called by callback close_victim (ev_timer "
            "after=0.0 repeat=0.0) (as its last call); fd %d (anon_inode:[eventpoll]) is not the test's (it "
            "was open before the test began: the runner's, the loop's or another component's); it was left "
            "open",
            &fd[0], &fd[1]);
    AC_EXPECT_EQ(fd[0], fd[1]);
    fixture_done(&r);
    passes("fds_tail.callback_closes_its_own_pipe_as_its_last_call");
}

/* libev aborts on the closed fd before the next dispatch: the crash's timeline still names the close, its
 * caller and the watcher left on it. */
AC_TEST(meta_fds, a_close_libev_aborts_on_is_in_the_crash_timeline) {
    fixture_run r;
    const tap_point *pt =
        fixture_point(&r, FIXTURE_FDS, "fds.close_under_a_watcher_that_libev_aborts_on", NULL, clean_env);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "crash");
    AC_EXPECT_STR_CONTAINS(field(pt, "  stderr: "), "epoll_modify");
    const char *tl = pt->yaml ? strstr(pt->yaml, "  timeline:\n") : NULL;
    AC_ASSERT_NOT_NULL(tl);
    int fd[2] = {-1, -2};
    const char *note = strstr(tl, "note      close(");
    AC_ASSERT_NOT_NULL(note);
    char *line = ac__xstrdup(note);
    line[strcspn(line, "\"")] = '\0'; /* the YAML string's end */
    MATCHES(
        line,
        "note      close(%d) called by start_then_close+0x%*x under ev_io fd=%d EV_READ, callback on_doomed, "
        "started at start_then_close+0x%*x",
        &fd[0], &fd[1]);
    AC_EXPECT_EQ(fd[0], fd[1]);
    free(line);
    fixture_done(&r);
}

/* The report at the dispatch after the close ends the test: it does not wait out its 20 s await. */
AC_TEST(meta_fds, a_watcher_left_on_a_closed_fd_ends_the_test_at_once) {
    fixture_run r;
    const char *m = failing(&r, "fds.a_watcher_left_on_a_closed_fd_ends_the_test_at_once");
    AC_EXPECT_STR_CONTAINS(m, "watcher left active on a closed descriptor: close(");
    const tap_point *pt = point(&r, "fds.a_watcher_left_on_a_closed_fd_ends_the_test_at_once");
    AC_EXPECT_LT(atof(field(pt, "  duration_ms: ")), 10000.0);
    fixture_done(&r);
}
