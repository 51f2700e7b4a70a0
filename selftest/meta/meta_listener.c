/* meta_listener.c — scripted servers (asyncheck/io.h listeners) and the peer steps expect_eof and
 * saturate fail with the messages, values and places promised in io.h, checked through TAP
 * (fixtures/listener_fail.c, a real client connecting by itself): a wrong byte on connection 2, an
 * unfinished script, a scripted connection that never came, an unexpected connection, end-of-file
 * expected but bytes written or nothing at all, misuse, a greedy reader starved by saturation (and fine
 * without it), the saturating thread joined at the end (--no-fork), the unix path removed, and after a
 * cancel notes instead of failures. */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const tap_point *run_one(fixture_run *r, const char *name) {
    return fixture_point(r, FIXTURE_LISTENER, name, NULL, NULL);
}

AC_TEST(meta_listener, a_wrong_byte_names_the_connection_and_the_step) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "listener_fail.wrong_bytes_on_connection_2");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "scripted peer (connection 2): unexpected bytes at offset 6 of step 1 (expect 9 bytes)");
    AC_EXPECT_EQ(atoi(field(pt, "    line: ")), 33);
    AC_EXPECT_STR_EQ(field(pt, "  got: "), "\"GET /too\\n\"");
    AC_EXPECT_STR_EQ(field(pt, "  expected: "), "\"GET /two\\n\"");
    fixture_done(&r);
}

AC_TEST(meta_listener, an_unfinished_script_lists_the_steps_left) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "listener_fail.unfinished_script");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "timed out after 0.300 s waiting for ac_listener_done(l)");
    AC_EXPECT_STR_EQ(
        failure_field(pt, 1, "message"),
        "scripted peer (connection 1): script not finished, 1 of 3 steps left: expect \"QUIT\\n\" "
        "(5 bytes); step 3 was waiting for the code to write (0 of 5 bytes received)");
    AC_EXPECT_STR_EQ(failure_field(pt, 1, "phase"), "end");
    AC_EXPECT_EQ(atoi(failure_field(pt, 1, "at.line")), 48);
    fixture_done(&r);
}

AC_TEST(meta_listener, a_scripted_connection_that_never_came_fails) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "listener_fail.connection_never_came");
    AC_ASSERT_FALSE(pt->ok);
    /* the listener waiting for it keeps the drain waiting, as a peer's unfinished script does */
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "watchers");
    AC_EXPECT_STR_EQ(failure_field(pt, 1, "message"),
                     "listener: scripted connection 2 never came (1 of 2 accepted); its script: expect \"y\" "
                     "(1 byte), send \"Y\" (1 byte)");
    AC_EXPECT_STR_EQ(failure_field(pt, 1, "got"), "1 connection");
    AC_EXPECT_STR_EQ(failure_field(pt, 1, "expected"), "2 connections");
    AC_EXPECT_EQ(atoi(failure_field(pt, 1, "at.line")), 62); /* its ac_listener_next */
    AC_EXPECT_STR_EQ(failure_field(pt, 2, "message"), "");   /* connection 1 finished: nothing else */
    fixture_done(&r);
}

AC_TEST(meta_listener, an_unexpected_connection_fails_at_once) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "listener_fail.unexpected_connection");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "listener: unexpected connection 2: only 1 scripted (ac_listener_next)");
    AC_EXPECT_EQ(atoi(field(pt, "    line: ")), 74);
    AC_EXPECT_STR_EQ(field(pt, "  got: "), "connection 2");
    AC_EXPECT_STR_EQ(field(pt, "  expected: "), "at most 1 connection");
    AC_EXPECT_LT(atof(field(pt, "  duration_ms: ")), 900.0); /* not at the 1 s await */
    fixture_done(&r);
}

AC_TEST(meta_listener, bytes_before_the_expected_eof_fail) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "listener_fail.expect_eof_but_the_code_writes");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "scripted peer: unexpected bytes during step 1 (expect eof): the "
                     "code wrote more before closing its end (4 bytes)");
    AC_EXPECT_EQ(atoi(field(pt, "    line: ")), 89);
    AC_EXPECT_STR_EQ(field(pt, "  got: "), "\"more\"");
    AC_EXPECT_STR_EQ(field(pt, "  expected: "), "end-of-file");
    fixture_done(&r);
}

AC_TEST(meta_listener, an_eof_that_never_comes_fails_at_the_end) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "listener_fail.expect_eof_never_comes");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(
        failure_field(pt, 1, "message"),
        "scripted peer: script not finished, 1 of 2 steps left: expect eof; step 2 was waiting for "
        "the code to close its end or shut down its sending side");
    AC_EXPECT_EQ(atoi(failure_field(pt, 1, "at.line")), 100);
    fixture_done(&r);
}

AC_TEST(meta_listener, misuse_fails_where_the_step_is_added) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "listener_fail.expect_after_expect_eof");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "),
                           "ac_peer_expect_str: the script already expects end-of-file from the code (");
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "), "listener_fail.c:108); nothing more can be expected");
    fixture_done(&r);
    pt = run_one(&r, "listener_fail.send_while_saturating");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "),
                           "ac_peer_send_str: the peer saturates the code's fd from ");
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "),
                           "listener_fail.c:116 on; turn that off first (ac_peer_saturate(p, false))");
    fixture_done(&r);
}

/* The same greedy reader passes against a normal peer and starves its loop against a saturating one. */
AC_TEST(meta_listener, saturation_starves_a_reader_that_never_yields) {
    fixture_run r;
    const char *args[] = {"--filter=listener_fail.greedy_reader*", NULL};
    fixture_tap(&r, FIXTURE_LISTENER, args, NULL);
    AC_EXPECT_TRUE(point(&r, "listener_fail.greedy_reader")->ok);
    const tap_point *pt = point(&r, "listener_fail.greedy_reader_saturated");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "timeout");
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "), "(limit 1.000 s) in body");
    fixture_done(&r);
}

/* Saturation left on at the end: the thread is joined, so --no-fork's check finds no thread left. */
AC_TEST(meta_listener, the_saturating_thread_is_joined_at_the_end) {
    fixture_run r;
    const char *args[] = {"--no-fork", NULL};
    const tap_point *pt = fixture_point(&r, FIXTURE_LISTENER, "listener_fail.saturation_left_on", args, NULL);
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_EQ(r.p.status, 0);
    fixture_done(&r);
}

AC_TEST(meta_listener, the_unix_path_is_removed_at_the_end) {
    char path[64], env[96];
    snprintf(path, sizeof path, "/tmp/asyncheck-meta-listener-%d.sock", (int)getpid());
    snprintf(env, sizeof env, "LISTENER_PATH=%s", path);
    const char *envs[] = {env, NULL};
    fixture_run r;
    const tap_point *pt = fixture_point(&r, FIXTURE_LISTENER, "listener_fail.unix_path_from_env", NULL, envs);
    AC_EXPECT_TRUE(pt->ok);
    struct stat st;
    AC_EXPECT_NE(stat(path, &st), 0);
    fixture_done(&r);
}

/* After a cancel: the unfinished script and the connection that never came are notes; without the cancel
 * the same close fails. */
AC_TEST(meta_listener, a_cancel_abandons_the_scripts) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "listener_fail.cancelled_mid_script");
    AC_EXPECT_TRUE(pt->ok);
    const char *out = ac__buf_str(&r.p.out);
    AC_EXPECT_STR_CONTAINS(out,
                           "scripted peer (connection 1): script abandoned after the cancel at step 2 of 2 "
                           "(expect \"ack\\n\" (4 bytes)): the test ended\n");
    AC_EXPECT_STR_CONTAINS(
        out, "listener_fail.c:218: listener: scripted connection 2 never came (1 of 2 "
             "accepted): abandoned after the cancel; its script: expect \"again\\n\" (6 bytes)\n");
    fixture_done(&r);
    pt = run_one(&r, "listener_fail.closed_mid_script_without_a_cancel");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "listener: scripted connection 2 never came (1 of 2 accepted); its "
                     "script: expect \"again\\n\" (6 bytes)");
    AC_EXPECT_EQ(atoi(field(pt, "    line: ")), 218);
    AC_EXPECT_STR_CONTAINS(failure_field(pt, 1, "message"),
                           "scripted peer (connection 1): script not finished");
    fixture_done(&r);
}
