/* meta_fdspin.c — descriptor ownership and spinning loops seen from outside, through the TAP of
 * fixtures/fdspin_fail.c: each buggy twin fails with the closing (or spinning) site, each fixed twin
 * passes. Values that vary from run to run (fd numbers, inodes, code offsets) are checked by their
 * shape. */
#include "meta.h"

#include <stdio.h>
#include <string.h>

static const char *const clean_env[] = {"AC_TIMEOUT_MULTIPLIER", NULL};

/* The message of the single failure of a failing test, in a buffer that lives until the next call. */
static const char *failing(fixture_run *r, const char *name) {
    const tap_point *pt = fixture_point(r, FIXTURE_FDSPIN, name, NULL, clean_env);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_EQ(r->p.status, 1);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "assertion");
    AC_EXPECT_STR_CONTAINS(field(pt, "    file: "), "fdspin_fail.c");
    AC_EXPECT_NULL(pt->yaml ? strstr(pt->yaml, "  failures:") : NULL);
    return field(pt, "  message: ");
}

static void passes(const char *name) {
    fixture_run r;
    const tap_point *pt = fixture_point(&r, FIXTURE_FDSPIN, name, NULL, clean_env);
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_EQ(r.p.status, 0);
    fixture_done(&r);
}

/* True when `s` matches `format` (scanf conversions for the varying parts) to its last character. */
#define MATCHES(s, format, ...)                                                                              \
    do {                                                                                                     \
        int end_ = -1;                                                                                       \
        sscanf((s), format "%n", __VA_ARGS__, &end_);                                                        \
        AC_EXPECT_EQ(end_, (int)strlen(s));                                                                  \
    } while (0)

/* MATCHES for a format with no conversion of its own but skipped ones. */
#define MATCHES0(s, format)                                                                                  \
    do {                                                                                                     \
        int end_ = -1;                                                                                       \
        sscanf((s), format "%n", &end_);                                                                     \
        AC_EXPECT_EQ(end_, (int)strlen(s));                                                                  \
    } while (0)

/* ---- descriptor ownership ---- */

AC_TEST(meta_fdspin, a_double_close_names_both_closing_sites) {
    fixture_run r;
    const char *m = failing(&r, "fd_close.double_close_after_a_hangup");
    int fd1 = -1, fd2 = -2;
    MATCHES(m,
            "double close: close(%d) called by client_free%*[^ ] fails with EBADF; fd %d was closed "
            "before by on_readable+0x%*x",
            &fd1, &fd2);
    AC_EXPECT_EQ(fd1, fd2);
    fixture_done(&r);
    passes("fd_close.double_close_after_a_hangup_fixed");
}

AC_TEST(meta_fdspin, closing_the_peers_end_is_refused_and_reported) {
    fixture_run r;
    const char *m = failing(&r, "fd_close.closes_the_peers_end");
    int fd1 = -1, fd2 = -2;
    MATCHES(m,
            "closing a descriptor the test did not open: close(%d) called by close_it+0x%*x; fd %d "
            "(socket:[%*u]) is asyncheck's own (a scripted peer's end); it was left open",
            &fd1, &fd2);
    AC_EXPECT_EQ(fd1, fd2);
    fixture_done(&r);
}

AC_TEST(meta_fdspin, closing_the_loops_epoll_fd_is_refused_and_reported) {
    fixture_run r;
    const char *m = failing(&r, "fd_close.closes_the_loops_epoll_fd");
    int fd1 = -1, fd2 = -2;
    MATCHES(
        m,
        "closing a descriptor the test did not open: close(%d) called by close_it+0x%*x; fd %d "
        "(anon_inode:[eventpoll]) is not the test's (it was open before the test began: the runner's, the "
        "loop's or another component's); it was left open",
        &fd1, &fd2);
    AC_EXPECT_EQ(fd1, fd2);
    fixture_done(&r);
}

AC_TEST(meta_fdspin, closing_a_descriptor_that_is_not_open_is_reported) {
    fixture_run r;
    /* the offset in close_it depends on the build (sanitizers instrument it) */
    MATCHES0(failing(&r, "fd_close.closes_a_descriptor_that_is_not_open"),
             "closing a descriptor that is not open: close(1000) called by close_it+0x%*x fails with EBADF");
    fixture_done(&r);
}

AC_TEST(meta_fdspin, a_watcher_left_on_a_closed_fd_is_reported_with_its_start_site) {
    fixture_run r;
    const char *m = failing(&r, "fd_close.watcher_left_on_a_closed_fd");
    int fd1 = -1, fd2 = -2;
    MATCHES(
        m,
        "watcher left active on a closed descriptor: close(%d) called by close_it+0x%*x while ev_io fd=%d "
        "EV_READ, callback on_nothing, started at left_on_closed+0x%*x was active on it, and it still is "
        "(stop it before closing its fd)",
        &fd1, &fd2);
    AC_EXPECT_EQ(fd1, fd2);
    fixture_done(&r);
    passes("fd_close.watcher_stopped_before_closing");
}

/* ---- spinning loops ---- */

AC_TEST(meta_fdspin, an_idle_connections_write_watcher_spins) {
    fixture_run r;
    const char *m = failing(&r, "spin.idle_connection_keeps_its_write_watcher");
    int fd = -1;
    MATCHES(m,
            "spinning loop: ev_io fd=%d EV_WRITE, callback on_writable, started at idle_connection+0x%*x was "
            "ready (EV_WRITE) in 1000 loop iterations in a row and its callback made no progress (the fd's "
            "queued output unchanged, no other callback of the test's ran); stop the watcher when there is "
            "nothing to do, or waive the check with AC_ALLOW_SPINNING",
            &fd);
    fixture_done(&r);
    passes("spin.idle_connection_stops_its_write_watcher");
    passes("spin.spinning_waived");
}

AC_TEST(meta_fdspin, a_hung_up_connection_never_read_spins) {
    fixture_run r;
    const char *m = failing(&r, "spin.hung_up_connection_is_never_read");
    int fd = -1;
    MATCHES(
        m,
        "spinning loop: ev_io fd=%d EV_READ, callback on_reply, started at idle_connection+0x%*x was ready "
        "(EV_READ) in 1000 loop iterations in a row and its callback made no progress (the fd's bytes to "
        "read unchanged, no other callback of the test's ran); stop the watcher when there is nothing to "
        "do, or waive the check with AC_ALLOW_SPINNING",
        &fd);
    fixture_done(&r);
    passes("spin.hung_up_connection_is_read_and_stopped");
}

/* ---- stalls measured on the thread's CPU clock ---- */

/* "blocked loop: callback on_busy (ev_timer after=0.001 repeat=0.0) ran <s> s (limit 0.100 s)" */
static void blocked(const char *m) {
    double s = 0;
    MATCHES(m, "blocked loop: callback on_busy (ev_timer after=0.001 repeat=0.0) ran %lf s (limit 0.100 s)",
            &s);
    AC_EXPECT_GE(s, 0.1);
}

AC_TEST(meta_fdspin, a_callback_computing_for_200_ms_blocks_the_loop) {
    fixture_run r;
    blocked(failing(&r, "stall.callback_computes_for_200_ms"));
    fixture_done(&r);
    passes("stall.work_split_into_10_ms_slices");
}

AC_TEST(meta_fdspin, the_load_alone_is_not_a_blocked_loop_but_computing_is) {
    passes("stall_load.a_callback_slowed_only_by_the_load_passes");
    fixture_run r;
    blocked(failing(&r, "stall_load.a_callback_that_computes_past_the_limit_fails_under_load"));
    fixture_done(&r);
}

/* ---- blocking calls inside callbacks ---- */

#define IN_ON_ACT                                                                                            \
    ", in callback on_act (ev_timer after=0.001 repeat=0.0) (waive with AC_ALLOW_BLOCKING_CALLS)"

AC_TEST(meta_fdspin, resolving_a_name_in_a_callback_is_a_blocking_call) {
    fixture_run r;
    const char *m = failing(&r, "block.resolves_a_name_in_a_callback");
    MATCHES0(m, "blocking call: getaddrinfo(\"localhost\") called by resolve_localhost+0x%*x" IN_ON_ACT);
    fixture_done(&r);
    passes("block.numeric_address_in_a_callback");
}

AC_TEST(meta_fdspin, reading_a_blocking_socket_with_nothing_to_read_is_a_blocking_call) {
    fixture_run r;
    const char *m = failing(&r, "block.reads_a_blocking_socket_in_a_callback");
    int fd = -1;
    MATCHES(m,
            "blocking call: read(%d) on a descriptor in blocking mode with nothing to read called by "
            "read_idle_socket+0x%*x" IN_ON_ACT,
            &fd);
    fixture_done(&r);
    passes("block.reads_a_nonblocking_socket_in_a_callback");
}

AC_TEST(meta_fdspin, waitpid_and_poll_with_a_timeout_in_a_callback_are_blocking_calls) {
    fixture_run r;
    const char *m = failing(&r, "block.waitpid_without_wnohang_in_a_callback");
    int pid = -1;
    MATCHES(m, "blocking call: waitpid(%d) without WNOHANG called by wait_for_child+0x%*x" IN_ON_ACT, &pid);
    fixture_done(&r);
    m = failing(&r, "block.poll_with_a_timeout_in_a_callback");
    MATCHES0(m, "blocking call: poll(timeout 5 ms) called by poll_with_a_timeout+0x%*x" IN_ON_ACT);
    fixture_done(&r);
}

AC_TEST(meta_fdspin, blocking_calls_pass_when_waived_or_outside_callbacks) {
    passes("block.blocking_calls_waived");
    passes("block.blocking_calls_in_the_body");
}
