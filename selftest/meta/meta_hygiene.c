/* meta_hygiene.c — teardown hygiene seen from outside, through the TAP of fixtures/hygiene_fail.c:
 * watchers left running listed with type, callback and start site (and asyncheck's own left out), file
 * descriptors left open named by what they are, a callback that blocks the loop, a sleep inside a
 * callback; each waived twin passing; and, under --no-fork, every failure owned by the test that caused
 * it, never by the next one. Values that vary from run to run (fd numbers, inodes, code offsets, the time
 * a callback took) are checked by their shape. */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A run is deterministic in its limits: no multiplier from the caller's environment. */
static const char *const clean_env[] = {"AC_TIMEOUT_MULTIPLIER", NULL};

static const tap_point *run_one(fixture_run *r, const char *name) {
    return fixture_point(r, FIXTURE_HYGIENE, name, NULL, clean_env);
}

static bool starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The single failure of a failing test: message, type; "failures:" appears only with several. */
static const tap_point *failing(fixture_run *r, const char *name, const char *type) {
    const tap_point *pt = run_one(r, name);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_EQ(r->p.status, 1);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), type);
    AC_EXPECT_STR_CONTAINS(field(pt, "    file: "), "hygiene_fail.c");
    AC_EXPECT_NULL(pt->yaml ? strstr(pt->yaml, "  failures:") : NULL);
    return pt;
}

static void passes(const char *name) {
    fixture_run r;
    const tap_point *pt = run_one(&r, name);
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_EQ(r.p.status, 0);
    fixture_done(&r);
}

/* ---- watchers left running ---- */

#define DRAIN_TIMEOUT                                                                                        \
    "1 watcher started by the test still active when its 0.300 s timeout ran out after the body returned"

AC_TEST(meta_hygiene, a_leaked_timer_is_listed_with_its_callback) {
    fixture_run r;
    const tap_point *pt = failing(&r, "hygiene_leak.timer", "watchers");
    AC_EXPECT_STR_EQ(field(pt, "  message: "), DRAIN_TIMEOUT);
    AC_EXPECT_STR_EQ(field(pt, "  phase: "), "drain");
    const char *got = field(pt, "  got: ");
    /* the body's last call is a tail call when optimised: the start returns into asyncheck */
    if (!starts_with(
            got,
            "ev_timer after=5.0 repeat=1.0, callback on_tick, started at ac__body_hygiene_leak__timer+0x"))
        AC_EXPECT_STR_EQ(
            got, "ev_timer after=5.0 repeat=1.0, callback on_tick, started by the test's body, setup or "
                 "teardown (as its last call)");
    fixture_done(&r);
}

AC_TEST(meta_hygiene, a_leaked_io_watcher_names_its_fd_events_callback_and_the_helper_that_started_it) {
    fixture_run r;
    const tap_point *pt = failing(&r, "hygiene_leak.io", "watchers");
    AC_EXPECT_STR_EQ(field(pt, "  message: "), DRAIN_TIMEOUT);
    const char *got = field(pt, "  got: ");
    int fd = -1, end = 0;
    AC_EXPECT_EQ(
        sscanf(got, "ev_io fd=%d EV_READ, callback on_read, started at start_reader+0x%*x%n", &fd, &end), 1);
    AC_EXPECT_GT(fd, 2);
    AC_EXPECT_GT(end, 0);
    AC_EXPECT_EQ(got[end], '\0');
    fixture_done(&r);
}

AC_TEST(meta_hygiene, a_leaked_signal_watcher_names_the_signal) {
    fixture_run r;
    const tap_point *pt = failing(&r, "hygiene_leak.signal", "watchers");
    AC_EXPECT_STR_EQ(field(pt, "  message: "), DRAIN_TIMEOUT);
    AC_EXPECT_TRUE(starts_with(field(pt, "  got: "), "ev_signal SIGUSR1, callback on_signal, started "));
    fixture_done(&r);
}

AC_TEST(meta_hygiene, asyncheck_watchers_are_not_listed) {
    fixture_run r;
    const tap_point *pt = failing(&r, "hygiene_leak.only_the_tests_watchers_are_listed", "assertion");
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "timed out after 0.050 s waiting for 0");
    const char *got = field(pt, "  got: ");
    /* one line: the body's timer; neither await's timer, nor the one-shot timer that already fired */
    AC_EXPECT_TRUE(starts_with(got, "ev_timer after=5.0 repeat=0.0, callback on_tick, started at "
                                    "ac__body_hygiene_leak__only_the_tests_watchers_are_listed+0x"));
    AC_EXPECT_NULL(strchr(got, '\n'));
    fixture_done(&r);
}

/* ---- file descriptors left open ---- */

/* got is one "fd N: <what>" line per fd, <what> matching `format` (a sscanf format ending in %n). */
static size_t fd_lines(const char *got, const char *format) {
    size_t n = 0;
    for (const char *line = got; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char buf[256];
        snprintf(buf, sizeof buf, "%.*s", (int)len, line);
        int fd = -1, end = 0;
        AC_EXPECT_EQ(sscanf(buf, format, &fd, &end), 1);
        AC_EXPECT_GT(fd, 2);
        AC_EXPECT_EQ((size_t)end, len);
        n++;
        line = nl ? nl + 1 : line + len;
    }
    return n;
}

#define TWO_FDS                                                                                              \
    "2 file descriptors opened by the test are still open at its end (close them, or waive the check with "  \
    "AC_ALLOW_OPEN_FDS)"

AC_TEST(meta_hygiene, a_leaked_socket_pair_is_reported_as_two_unix_sockets) {
    fixture_run r;
    const tap_point *pt = failing(&r, "hygiene_fail.leaks_a_socket_pair", "assertion");
    AC_EXPECT_STR_EQ(field(pt, "  message: "), TWO_FDS);
    AC_EXPECT_EQ(fd_lines(field(pt, "  got: "), "fd %d: socket:[%*u] (AF_UNIX, SOCK_STREAM)%n"), 2u);
    fixture_done(&r);
}

AC_TEST(meta_hygiene, a_leaked_pipe_is_reported_as_its_two_ends) {
    fixture_run r;
    const tap_point *pt = failing(&r, "hygiene_fail.leaks_a_pipe", "assertion");
    AC_EXPECT_STR_EQ(field(pt, "  message: "), TWO_FDS);
    AC_EXPECT_EQ(fd_lines(field(pt, "  got: "), "fd %d: pipe:[%*u]%n"), 2u);
    fixture_done(&r);
}

AC_TEST(meta_hygiene, a_leaked_file_is_reported_by_its_path) {
    fixture_run r;
    const tap_point *pt = failing(&r, "hygiene_fail.leaks_a_file", "assertion");
    int fd = -1, end = 0;
    const char *message = field(pt, "  message: ");
    AC_EXPECT_EQ(
        sscanf(message,
               "file descriptor %d opened by the test is still open at its end (close it, or waive the "
               "check with AC_ALLOW_OPEN_FDS)%n",
               &fd, &end),
        1);
    AC_EXPECT_EQ((size_t)end, strlen(message));
    char want[64];
    snprintf(want, sizeof want, "fd %d: /dev/null", fd);
    AC_EXPECT_STR_EQ(field(pt, "  got: "), want);
    fixture_done(&r);
}

AC_TEST(meta_hygiene, open_fds_pass_when_waived) {
    passes("hygiene_fail.leaks_a_pipe_allowed");
}

/* ---- a callback that blocks the loop ---- */

/* "<prefix><seconds> s (limit <limit>)", seconds at least `least`. */
static void took(const char *message, const char *prefix, double least, const char *limit) {
    AC_ASSERT_TRUE(starts_with(message, prefix));
    double s = 0;
    int end = 0;
    char tail[64];
    snprintf(tail, sizeof tail, " s (limit %s)%%n", limit);
    char format[96];
    snprintf(format, sizeof format, "%%lf%s", tail);
    AC_EXPECT_EQ(sscanf(message + strlen(prefix), format, &s, &end), 1);
    AC_EXPECT_EQ((size_t)end, strlen(message + strlen(prefix)));
    AC_EXPECT_GE(s, least);
    AC_EXPECT_LT(s, 5.0);
}

AC_TEST(meta_hygiene, a_slow_callback_is_a_blocked_loop) {
    fixture_run r;
    const tap_point *pt = failing(&r, "hygiene_fail.slow_callback", "assertion");
    took(field(pt, "  message: "), "blocked loop: callback on_slow (ev_timer after=0.01 repeat=0.0) ran ",
         0.12, "0.050 s");
    AC_EXPECT_STR_EQ(field(pt, "  phase: "), "body");
    fixture_done(&r);
}

AC_TEST(meta_hygiene, a_slow_async_callback_is_named_too) {
    fixture_run r;
    const tap_point *pt = failing(&r, "hygiene_fail.slow_async_callback", "assertion");
    took(field(pt, "  message: "), "blocked loop: callback on_async (ev_async) ran ", 0.12, "0.050 s");
    fixture_done(&r);
}

AC_TEST(meta_hygiene, slow_callbacks_pass_when_waived_or_under_the_tests_limit) {
    passes("hygiene_fail.slow_callback_allowed");
    passes("hygiene_fail.slow_callback_under_a_higher_limit");
}

/* ---- sleeping inside a callback ---- */

AC_TEST(meta_hygiene, usleep_in_a_callback_is_a_blocking_sleep_reported_once) {
    fixture_run r;
    const tap_point *pt = failing(&r, "hygiene_fail.usleep_in_a_callback", "assertion");
    /* once for the watcher, and its sleeps are not reported again as a blocked loop; the code that
     * slept (a helper of the callback) is named, not only the callback */
    const char *message = field(pt, "  message: ");
    int end = 0;
    sscanf(message, "blocking sleep: usleep(20000) called by nap+0x%*x%n", &end);
    AC_EXPECT_GT(end, 0);
    AC_EXPECT_STR_EQ(message + end, ", in callback on_nap (ev_timer after=0.01 repeat=0.0)");
    fixture_done(&r);
}

AC_TEST(meta_hygiene, sleeping_passes_when_waived_or_outside_callbacks) {
    passes("hygiene_fail.usleep_in_a_callback_allowed");
    passes("hygiene_fail.usleep_in_the_body");
}

AC_TEST(meta_hygiene, after_a_fatal_failure_in_a_callback_teardown_is_outside_any_callback) {
    fixture_run r;
    const tap_point *pt =
        failing(&r, "hygiene_unwind.fatal_failure_in_a_callback_then_sleep_in_teardown", "assertion");
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "failed inside a callback");
    fixture_done(&r);
}

/* ---- the test that causes a failure owns it ---- */

typedef struct outcome {
    const char *name;
    bool ok;
    const char *message_start; /* of its (only) failure */
} outcome;

static const outcome whole[] = {
    {"hygiene_leak.timer", false, "1 watcher started by the test still active"},
    {"hygiene_leak.io", false, "1 watcher started by the test still active"},
    {"hygiene_leak.signal", false, "1 watcher started by the test still active"},
    {"hygiene_leak.only_the_tests_watchers_are_listed", false, "timed out after 0.050 s waiting for 0"},
    {"hygiene_fail.leaks_a_socket_pair", false, "2 file descriptors opened by the test"},
    {"hygiene_fail.leaks_a_pipe", false, "2 file descriptors opened by the test"},
    {"hygiene_fail.leaks_a_file", false, "file descriptor "},
    {"hygiene_fail.leaks_a_pipe_allowed", true, NULL},
    {"hygiene_fail.clean_after_a_leak", true, NULL},
    {"hygiene_fail.slow_callback", false, "blocked loop: callback on_slow "},
    {"hygiene_fail.slow_callback_allowed", true, NULL},
    {"hygiene_fail.slow_callback_under_a_higher_limit", true, NULL},
    {"hygiene_fail.slow_async_callback", false, "blocked loop: callback on_async "},
    {"hygiene_fail.a_virtual_clock_beside_them", true, NULL},
    {"hygiene_fail.usleep_in_a_callback", false, "blocking sleep: usleep(20000) called by nap+0x"},
    {"hygiene_fail.usleep_in_a_callback_allowed", true, NULL},
    {"hygiene_fail.usleep_in_the_body", true, NULL},
    {"hygiene_unwind.fatal_failure_in_a_callback_then_sleep_in_teardown", false, "failed inside a callback"},
};

static void check_whole(const char *mode) {
    fixture_run r;
    const char *args[] = {mode, NULL};
    fixture_tap(&r, FIXTURE_HYGIENE, args, clean_env);
    AC_EXPECT_EQ(r.p.status, 1);
    AC_EXPECT_EQ(r.tap.n, sizeof whole / sizeof *whole);
    for (size_t i = 0; i < sizeof whole / sizeof *whole; i++) {
        const tap_point *pt = point(&r, whole[i].name);
        if (whole[i].ok) {
            AC_EXPECT_TRUE(pt->ok);
            continue;
        }
        AC_EXPECT_FALSE(pt->ok);
        if (pt->yaml && strstr(pt->yaml, "  failures:")) /* one failure each, named with all it said */
            AC_FAIL_LATER("%s failed more than once:\n%s", whole[i].name, pt->yaml);
        const char *message = field(pt, "  message: ");
        if (!starts_with(message, whole[i].message_start))
            AC_FAIL_LATER("%s: message \"%s\" does not start with \"%s\"", whole[i].name, message,
                          whole[i].message_start);
    }
    fixture_done(&r);
}

/* Both whole runs hold a virtual-clock test, so the clock's replacements sit above the sleep checks for
 * the real-clock tests too (from the start forked; from that test on in one process): each sleep must
 * still be reported (the single-test runs above check it without them). */
AC_TEST(meta_hygiene, whole_fixture_forked) {
    check_whole("--jobs=2");
}

/* In one process a leak is still reported by the test that made it and by no later test: fds are
 * compared per test, watcher records and the dispatcher are reset with each test's loop. */
AC_TEST(meta_hygiene, whole_fixture_in_process, .timeout = 60) {
    check_whole("--no-fork");
}
