/* meta_fault.c — fault injection seen from outside, through the TAP of fixtures/fault_bugs.c: a fault
 * sweep finds the reader that drops its connection on EINTR and the sender that gives its message up,
 * and the framer that loses a short writev's tail (found by the third kind, SHORT, after EINTR and
 * EAGAIN pass), the request that leaks its deadline timer when malloc or realloc returns NULL, each with a
 * --fault-at replay that fails the same way three times out of three; the fixed twins pass every run and say
 * how many runs the sweep took; a test that never calls ac_fault_start is told so; a
 * --fault-at the test never reaches fails; bad values are refused in one line. */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const clean_env[] = {"AC_TIMEOUT_MULTIPLIER", NULL};

static const tap_point *run_with(fixture_run *r, const char *name, const char *const *extra) {
    return fixture_point(r, FIXTURE_FAULT_BUGS, name, extra, clean_env);
}

/* The message of the point's last failure (the exploration's: it comes after the run's own). */
static const char *last_message(const tap_point *pt) {
    static char buf[1024];
    buf[0] = '\0';
    for (size_t k = 0; k < 16; k++) {
        const char *m = failure_field(pt, k, "message");
        if (!*m)
            break;
        snprintf(buf, sizeof buf, "%s", m);
    }
    return buf;
}

/* The arguments after the program in "...; replay: PROG --filter='x' --seed=N --fault-at=F:K:E". */
static size_t replay_args(const char *msg, char args[8][160]) {
    const char *r = strstr(msg, "replay: ");
    size_t n = 0;
    r = r ? strchr(r + strlen("replay: "), ' ') : NULL;
    while (r && *r == ' ' && n < 8) {
        r++;
        const char *end = strchr(r, ' ');
        size_t len = end ? (size_t)(end - r) : strlen(r), k = 0;
        for (size_t i = 0; i < len && k < 159; i++)
            if (r[i] != '\'')
                args[n][k++] = r[i];
        args[n++][k] = '\0';
        r = end;
    }
    return n;
}

/* Sweeps `name`: it fails at `point` ("read:1:EINTR"), and the replay fails with the same first
 * message 3 times out of 3, running once. */
static void found(const char *name, const char *const *extra, const char *point_s, const char *first) {
    fixture_run r;
    const tap_point *pt = run_with(&r, name, extra);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_EQ(r.p.status, 1);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), first);
    char msg[1024], want[128];
    snprintf(msg, sizeof msg, "%s", last_message(pt));
    snprintf(want, sizeof want, "fault point %s (counted call", point_s);
    AC_EXPECT_STR_CONTAINS(msg, want);
    snprintf(want, sizeof want, " --seed=0 --fault-at=%s", point_s);
    AC_EXPECT_STR_CONTAINS(msg, want);
    fixture_done(&r);
    char args[8][160];
    size_t n = replay_args(msg, args);
    AC_ASSERT_TRUE(n >= 2);
    const char *argv[10];
    for (size_t i = 0; i < n; i++)
        argv[i] = args[i];
    argv[n] = NULL;
    for (int round = 0; round < 3; round++) {
        fixture_tap(&r, FIXTURE_FAULT_BUGS, argv, clean_env);
        const tap_point *rp = point(&r, name);
        AC_EXPECT_FALSE(rp->ok);
        AC_EXPECT_EQ(r.tap.n, 1);
        AC_EXPECT_STR_EQ(field(rp, "  message: "), first);
        AC_EXPECT_STR_EQ(field(rp, "    runs: "), ""); /* the replay runs once: no exploration */
        fixture_done(&r);
    }
}

/* Sweeps `name`: it passes, after `runs` runs (the first with no fault) of which `points` failed a call. */
static void passes(const char *name, const char *const *extra, const char *runs, const char *points) {
    fixture_run r;
    const tap_point *pt = run_with(&r, name, extra);
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_EQ(r.p.status, 0);
    AC_EXPECT_STR_EQ(field(pt, "    fault_sweep: "), "true");
    AC_EXPECT_STR_EQ(field(pt, "    runs: "), runs);
    AC_EXPECT_STR_EQ(field(pt, "    fault_points: "), points);
    fixture_done(&r);
}

AC_TEST(meta_fault, a_sweep_finds_the_reader_that_drops_its_connection_on_eintr) {
    found("reader_buggy.reads_the_whole_message", NULL, "read:1:EINTR", "AC_EXPECT_FALSE(r.dropped) failed");
}

AC_TEST(meta_fault, a_sweep_finds_the_reader_that_takes_one_read_for_the_message) {
    /* EINTR and EAGAIN pass (it retries them); a short read, half the 12 bytes waiting, finds it */
    found("gulper.reads_the_whole_message", NULL, "read:1:SHORT",
          "AC_EXPECT_STR_EQ(r.buf, message) failed: strings differ at byte 6");
}

AC_TEST(meta_fault, the_fixed_reader_passes_every_run_of_its_sweep) {
    /* read 1 fetches the message, read 2 the end of stream: each may fail (EINTR, then EAGAIN), and the
     * third call of each pass is one the run no longer makes; the SHORT pass makes 3 reads when read 1
     * returns half the message (then 3 runs: 1 and 2 reach their point, 3 does not) */
    passes("reader_fixed.reads_the_whole_message", NULL, "10", "6");
}

AC_TEST(meta_fault, a_sweep_from_the_command_line_finds_the_sender_that_gives_up) {
    static const char *const sweep[] = {"--fault-sweep=write", NULL};
    found("sender_buggy.sends_the_whole_message", sweep, "write:1:EINTR",
          "AC_EXPECT_FALSE(s.gave_up) failed");
    passes("sender_fixed.sends_the_whole_message", sweep, "7", "3");
    static const char *const eagain[] = {"--fault-at=write:1:EAGAIN", NULL};
    fixture_run r;
    const tap_point *pt = run_with(&r, "sender_buggy.sends_the_whole_message", eagain);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "AC_EXPECT_FALSE(s.gave_up) failed");
    fixture_done(&r);
}

AC_TEST(meta_fault, a_sweep_finds_the_framer_that_loses_a_short_writes_tail) {
    /* EINTR and EAGAIN pass (both framers retry); the third kind, a short write, finds the bug */
    found("framer_buggy.writes_the_whole_frame", NULL, "writev:1:SHORT",
          "AC_EXPECT_EQ(n, (ssize_t)FRAME_LEN) failed");
    /* each kind: run 1 fails writev 1 (the retry or the rest is writev 2), run 2 makes 1 call */
    passes("framer_fixed.writes_the_whole_frame", NULL, "7", "3");
    fixture_run r;
    static const char *const none[] = {"--filter=framer_buggy.*", "--fault-sweep=read", NULL};
    fixture_tap(&r, FIXTURE_FAULT_BUGS, none, clean_env);
    AC_EXPECT_FALSE(point(&r, "framer_buggy.writes_the_whole_frame")->ok); /* no read: fails no call */
    fixture_done(&r);
}

static const char leaked[] =
    "1 watcher still active after teardown (stop them, or ev_unref those that must not keep the loop alive)";

AC_TEST(meta_fault, a_sweep_finds_the_request_that_leaks_a_watcher_when_malloc_fails) {
    found("request_buggy.cleans_up_when_malloc_fails", NULL, "malloc:1:ENOMEM", leaked);
    static const char *const re[] = {"--fault-sweep=realloc", NULL};
    found("request_buggy.cleans_up_when_malloc_fails", re, "realloc:1:ENOMEM", leaked);
    /* malloc and realloc: one counted call each (libev's own realloc of its timer heap is not counted),
     * 2 runs each; calloc: none, 1 run */
    passes("request_fixed.cleans_up_when_malloc_fails", NULL, "6", "2");
    fixture_run r;
    static const char *const none[] = {"--filter=request_buggy.*", "--fault-sweep=calloc", NULL};
    fixture_tap(&r, FIXTURE_FAULT_BUGS, none, clean_env);
    AC_EXPECT_FALSE(point(&r, "request_buggy.cleans_up_when_malloc_fails")->ok); /* fails no call */
    AC_EXPECT_STR_CONTAINS(field(point(&r, "request_buggy.cleans_up_when_malloc_fails"), "  message: "),
                           "fault sweep failed no call");
    fixture_done(&r);
}

AC_TEST(meta_fault, without_the_sweep_the_buggy_twins_pass) {
    fixture_run r;
    static const char *const none[] = {"--filter=sender_buggy.*", NULL};
    fixture_tap(&r, FIXTURE_FAULT_BUGS, none, clean_env);
    AC_EXPECT_TRUE(point(&r, "sender_buggy.sends_the_whole_message")->ok);
    fixture_done(&r);
    static const char *const at[] = {"--filter=framer_buggy.*", "--fault-at=writev:1:EAGAIN", NULL};
    fixture_tap(&r, FIXTURE_FAULT_BUGS, at, clean_env);
    AC_EXPECT_TRUE(point(&r, "framer_buggy.writes_the_whole_frame")->ok); /* it retries EAGAIN */
    fixture_done(&r);
}

AC_TEST(meta_fault, a_sweep_that_fails_no_call_says_so) {
    fixture_run r;
    const tap_point *pt = run_with(&r, "unstarted.reads_without_fault_start", NULL);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "),
                           "fault sweep failed no call: no run made a counted call");
    fixture_done(&r);
}

AC_TEST(meta_fault, a_fault_point_the_test_never_reaches_fails) {
    static const char *const beyond[] = {"--fault-at=read:9", NULL};
    fixture_run r;
    const tap_point *pt = run_with(&r, "reader_fixed.reads_the_whole_message", beyond);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "--fault-at read:9:EINTR: the test never reached it (it made 2 "
                     "counted calls to read after ac_fault_start)");
    fixture_done(&r);
}

static void refused(const char *arg, const char *reason) {
    const char *argv[] = {FIXTURE_FAULT_BUGS, arg, NULL};
    proc p;
    run_process(argv, clean_env, &p);
    AC_EXPECT_EQ(p.status, 2);
    char want[256];
    snprintf(want, sizeof want, "fixture_fault_bugs: %s\n", reason);
    const char *err = ac__buf_str(&p.err);
    AC_EXPECT_STR_CONTAINS(err, want);
    AC_EXPECT_EQ(ac__buf_str(&p.out)[0], '\0');
    proc_free(&p);
}

AC_TEST(meta_fault, bad_fault_values_are_refused_in_one_line) {
    refused("--fault-at=foo:1", "--fault-at: 'foo:1' names no function asyncheck can fail (read, recv, "
                                "write, send, writev, malloc, calloc, realloc, connect, accept, accept4, "
                                "getaddrinfo)");
    refused("--fault-at=read", "--fault-at: 'read' is not FUNC:K[:ERR] (say write:3:EINTR)");
    refused("--fault-at=read:0", "--fault-at: 'read:0': the call number must be a whole number from 1");
    refused("--fault-at=write:2:EAI_AGAIN",
            "--fault-at: 'write:2:EAI_AGAIN' is not FUNC:K[:ERR]: write cannot "
            "fail with 'EAI_AGAIN' (ERR: an errno name such as EINTR or EIO, "
            "or SHORT)");
    refused("--fault-at=malloc:1:SHORT",
            "--fault-at: 'malloc:1:SHORT' is not FUNC:K[:ERR]: malloc cannot fail "
            "with 'SHORT' (ERR: an errno name such as ENOMEM or EIO)");
    refused("--fault-sweep=read,bogus", "--fault-sweep: 'read,bogus': 'bogus' is no function asyncheck can "
                                        "fail (read, recv, write, send, writev, malloc, calloc, realloc, "
                                        "connect, accept, accept4, getaddrinfo)");
}
