/* meta_peer.c — scripted peers whose code does not follow the script (fixtures/peer_fail.c) fail with
 * the message, values and place promised in asyncheck/io.h, checked through TAP and the human report:
 * a wrong write shows a diff, an unfinished script lists the steps left, a plain close over unread bytes
 * fails, clients with short-read and short-write bugs pass at normal speed and fail in one-byte mode, and
 * a code that never writes ends at the test's timeout rather than hanging. After a cancel
 * (fixtures/peer_cancel.c) the code closing its end abandons the script with a note instead of failing,
 * and the same close without a cancel still fails. */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const tap_point *run_one(fixture_run *r, const char *name) {
    return fixture_point(r, FIXTURE_PEER, name, NULL, NULL);
}

AC_TEST(meta_peer, a_wrong_write_fails_with_a_diff) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "peer_fail.wrong_request");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_EQ(r.p.status, 1);
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "scripted peer: unexpected bytes at offset 40 of step 2 (expect 47 bytes)");
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "assertion");
    AC_EXPECT_STR_EQ(field(pt, "  phase: "), "body");
    AC_EXPECT_STR_CONTAINS(field(pt, "    file: "), "peer_fail.c");
    AC_EXPECT_EQ(atoi(field(pt, "    line: ")), 16); /* the expect step, not where the bytes were written */
    AC_EXPECT_STR_EQ(field(pt, "  got: "), "...\"/1.1\\r\\nHost: example.com\\r\\n\\r\\n\"");
    AC_EXPECT_STR_EQ(field(pt, "  expected: "), "...\"/1.1\\r\\nHost: example.org\\r\\n\\r\\n\"");
    AC_EXPECT_NULL(strstr(pt->yaml, "  failures:")); /* the failure says it all: no "not finished" on top */
    AC_EXPECT_LT(atof(field(pt, "  duration_ms: ")), 1000.0); /* at once, not at the 2 s await */
    fixture_done(&r);
}

AC_TEST(meta_peer, the_human_report_shows_the_diff) {
    proc p;
    const char *argv[] = {FIXTURE_PEER, "--filter=peer_fail.wrong_request", "--color=never", NULL};
    run_process(argv, NULL, &p);
    AC_EXPECT_EQ(p.status, 1);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out),
                           "peer_fail.c:16: scripted peer: unexpected bytes at offset 40 "
                           "of step 2 (expect 47 bytes)\n");
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out),
                           "        got:      ...\"/1.1\\r\\nHost: example.com\\r\\n\\r\\n\"\n"
                           "        expected: ...\"/1.1\\r\\nHost: example.org\\r\\n\\r\\n\"\n");
    proc_free(&p);
}

AC_TEST(meta_peer, a_binary_diff_has_a_hex_window) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "peer_fail.wrong_binary");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "scripted peer: unexpected bytes at offset 5 of step 1 (expect 8 bytes)");
    AC_EXPECT_STR_EQ(field(pt, "  got: "),
                     "\"\\x00\\x01\\x02\\x03\\xfe\\x7f\\x10\\x11\"  hex @0x0: 00 01 02 03 fe [7f] 10 11");
    AC_EXPECT_STR_EQ(field(pt, "  expected: "),
                     "\"\\x00\\x01\\x02\\x03\\xfe\\xff\\x10\\x11\"  hex @0x0: 00 01 02 03 fe [ff] 10 11");
    fixture_done(&r);
}

AC_TEST(meta_peer, an_unfinished_script_lists_the_steps_left) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "peer_fail.unfinished");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "timed out after 0.200 s waiting for ac_peer_done(p)");
    AC_EXPECT_STR_EQ(
        failure_field(pt, 1, "message"),
        "scripted peer: script not finished, 2 of 4 steps left: expect \"QUIT\\r\\n\" (6 bytes), "
        "close; step 3 was waiting for the code to write (0 of 6 bytes received)");
    AC_EXPECT_STR_EQ(failure_field(pt, 1, "type"), "assertion");
    AC_EXPECT_STR_EQ(failure_field(pt, 1, "phase"), "end");  /* found when the test ended */
    AC_EXPECT_EQ(atoi(failure_field(pt, 1, "at.line")), 41); /* the first step left */
    AC_EXPECT_STR_EQ(failure_field(pt, 1, "got"), "\"\"");
    AC_EXPECT_STR_EQ(failure_field(pt, 1, "expected"), "\"QUIT\\r\\n\"");
    AC_EXPECT_STR_EQ(failure_field(pt, 2, "message"), ""); /* nothing else */
    fixture_done(&r);
}

AC_TEST(meta_peer, bytes_after_the_script_fail) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "peer_fail.extra_bytes");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "scripted peer: unexpected bytes after the end of the script (5 bytes)");
    AC_EXPECT_STR_EQ(field(pt, "  got: "), "\"PONG\\n\"");
    AC_EXPECT_STR_EQ(field(pt, "  expected: "), "no more bytes");
    AC_EXPECT_LT(atof(field(pt, "  duration_ms: ")), 900.0); /* the peer ended it, not the 1 s await */
    fixture_done(&r);
}

AC_TEST(meta_peer, the_code_closing_mid_expect_fails) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "peer_fail.closes_mid_expect");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "scripted peer: the code closed its end after 3 of 6 bytes of step 1 (expect 6 bytes)");
    AC_EXPECT_STR_EQ(field(pt, "  got: "), "\"HEL\"");
    AC_EXPECT_STR_EQ(field(pt, "  expected: "), "\"HELLO\\n\"");
    fixture_done(&r);
}

AC_TEST(meta_peer, sending_to_a_closed_code_fails) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "peer_fail.send_after_the_code_closed");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "scripted peer: step 2 (send 5 bytes) failed after 0 of 5 bytes: "
                     "the code closed its end (EPIPE: Broken pipe)");
    fixture_done(&r);
}

AC_TEST(meta_peer, misuse_fails_where_the_step_is_added) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "peer_fail.reset_needs_tcp");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "ac_peer_reset: a socketpair peer cannot reset the connection "
                                               "(make the peer with ac_peer_new_tcp)");
    fixture_done(&r);
    pt = run_one(&r, "peer_fail.step_after_close");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "),
                           "ac_peer_send_str: the script already ended with close (");
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "), "peer_fail.c:");
    fixture_done(&r);
}

AC_TEST(meta_peer, reset_unread_needs_tcp_too) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "peer_fail.reset_unread_needs_tcp");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "ac_peer_reset_unread: a socketpair peer cannot reset the "
                                               "connection (make the peer with ac_peer_new_tcp)");
    fixture_done(&r);
}

/* A plain close still fails on bytes the script does not read (ac_peer_close_unread does not). */
AC_TEST(meta_peer, a_close_over_unread_bytes_fails) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "peer_fail.close_over_unread_bytes");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "scripted peer: unexpected bytes during step 2 (close): the "
                                               "script expects no more bytes (6 bytes)");
    AC_EXPECT_EQ(atoi(field(pt, "    line: ")), 101);
    AC_EXPECT_STR_EQ(field(pt, "  got: "), "\"QUIT\\r\\n\"");
    AC_EXPECT_STR_EQ(field(pt, "  expected: "), "no more bytes");
    fixture_done(&r);
}

/* The same buggy client passes at normal speed: one-byte mode is what finds the bug. */
AC_TEST(meta_peer, a_short_read_bug_fails_only_in_one_byte_mode) {
    fixture_run r;
    const char *args[] = {"--filter=peer_fail.short_read_bug*", NULL};
    fixture_tap(&r, FIXTURE_PEER, args, NULL);
    AC_EXPECT_TRUE(point(&r, "peer_fail.short_read_bug")->ok);
    const tap_point *pt = point(&r, "peer_fail.short_read_bug_one_byte");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "AC_ASSERT_STR_EQ(n.reply, \"HELLO WORLD\\n\") failed: strings differ at byte 1");
    AC_EXPECT_STR_EQ(field(pt, "  got: "), "\"H\""); /* the first read returned one byte */
    AC_EXPECT_STR_EQ(
        failure_field(pt, 1, "message"),
        "scripted peer: script not finished, 1 of 2 steps left: send \"HELLO WORLD\\n\" (12 bytes); "
        "step 2 was waiting for the code to read (1 of 12 bytes sent)");
    fixture_done(&r);
}

AC_TEST(meta_peer, a_short_write_bug_fails_only_in_one_byte_mode) {
    fixture_run r;
    const char *args[] = {"--filter=peer_fail.short_write_bug*", NULL};
    fixture_tap(&r, FIXTURE_PEER, args, NULL);
    AC_EXPECT_TRUE(point(&r, "peer_fail.short_write_bug")->ok);
    const tap_point *pt = point(&r, "peer_fail.short_write_bug_one_byte");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "the test's 0.500 s timeout ran out while waiting for ac_peer_done(p)");
    const char *m = failure_field(pt, 1, "message");
    const char *prefix =
        "scripted peer: script not finished, 1 of 1 step left: expect "
        "\"qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq\"... (65536 bytes); step 1 was waiting for the code "
        "to write (";
    AC_ASSERT_EQ(strncmp(m, prefix, strlen(prefix)), 0);
    unsigned long got = strtoul(m + strlen(prefix), NULL, 10); /* what the short write let through */
    AC_EXPECT_GT(got, 0ul);
    AC_EXPECT_LT(got, 65536ul);
    AC_EXPECT_STR_CONTAINS(m, " of 65536 bytes received)");
    fixture_done(&r);
}

/* ---- nothing hangs: a code that never writes ends at the test's timeout, with messages that say why ---- */

AC_TEST(meta_peer, a_code_that_never_writes_fails_at_the_timeout) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "peer_fail.never_writes");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "assertion"); /* the test's own report, not the watchdog's kill */
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "the test's 0.300 s timeout ran out while waiting for ac_peer_done(p)");
    AC_EXPECT_STR_EQ(
        failure_field(pt, 1, "message"),
        "scripted peer: script not finished, 2 of 2 steps left: expect \"HELLO\\n\" (6 bytes), send "
        "\"WORLD\\n\" (6 bytes); step 1 was waiting for the code to write (0 of 6 bytes received)");
    AC_EXPECT_GE(atof(field(pt, "  duration_ms: ")), 300.0);
    AC_EXPECT_LT(atof(field(pt, "  duration_ms: ")), 2000.0);
    fixture_done(&r);
}

/* Without an AC_AWAIT, the runner's drain waits for the peer (still expecting bytes) until the timeout. */
AC_TEST(meta_peer, a_code_that_never_writes_fails_at_the_timeout_without_an_await) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "peer_fail.never_writes_no_await");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "watchers");
    AC_EXPECT_STR_EQ(field(pt, "  phase: "), "drain");
    /* the peer's watcher is asyncheck's, not the test's: counted as such, and listed */
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "1 watcher of asyncheck's own (a mock's completion, a scripted peer) still active when "
                     "its 0.300 s timeout ran out after the body returned");
    int fd = -1, end = 0;
    AC_EXPECT_EQ(sscanf(field(pt, "  got: "), "ev_io fd=%d EV_READ, callback on_readable (asyncheck's own)%n",
                        &fd, &end),
                 1);
    AC_EXPECT_GT(end, 0);
    AC_EXPECT_STR_EQ(
        failure_field(pt, 1, "message"),
        "scripted peer: script not finished, 1 of 1 step left: expect \"HELLO\\n\" (6 bytes); step 1 "
        "was waiting for the code to write (0 of 6 bytes received)");
    AC_EXPECT_STR_EQ(failure_field(pt, 1, "phase"), "end");
    AC_EXPECT_LT(atof(field(pt, "  duration_ms: ")), 2000.0);
    fixture_done(&r);
}

/* The whole fixture in parallel: every test reported, and exactly the two buggy clients at normal speed
 * pass. */
AC_TEST(meta_peer, whole_fixture, .timeout = 30) {
    fixture_run r;
    const char *args[] = {"-j2", NULL};
    fixture_tap(&r, FIXTURE_PEER, args, NULL);
    AC_EXPECT_EQ(r.p.status, 1);
    AC_EXPECT_EQ(r.tap.n, 16u);
    ac__buf passed = {0};
    for (size_t i = 0; i < r.tap.n; i++)
        if (r.tap.points[i].ok)
            ac__buf_printf(&passed, "%s\n", r.tap.points[i].name);
    AC_EXPECT_STR_EQ(ac__buf_str(&passed), "peer_fail.short_read_bug\npeer_fail.short_write_bug\n");
    ac__buf_free(&passed);
    fixture_done(&r);
}

/* ---- after a cancel: the script is abandoned, not failed (fixtures/peer_cancel.c) ---- */

static const tap_point *run_cancel(fixture_run *r, const char *name) {
    char filter[160];
    snprintf(filter, sizeof filter, "--filter=%s", name);
    const char *args[] = {filter, NULL};
    fixture_tap(r, FIXTURE_PEER_CANCEL, args, NULL);
    return point(r, name);
}

/* The cancel closes the fd while the peer waits for the code to write: the test passes, and the TAP has
 * the note as a comment. */
AC_TEST(meta_peer, a_cancel_abandons_the_script_mid_expect) {
    fixture_run r;
    const tap_point *pt = run_cancel(&r, "peer_cancel.mid_expect");
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_EQ(r.p.status, 0);
    const char *out = ac__buf_str(&r.p.out);
    AC_EXPECT_STR_CONTAINS(out, "\n# note: ");
    AC_EXPECT_STR_CONTAINS(out, "peer_cancel.c:66: scripted peer on fd ");
    AC_EXPECT_STR_CONTAINS(out, ": script abandoned after the cancel at step 2 of 4 (expect \"ack\\n\" (4 "
                                "bytes)): the code closed its end\n");
    fixture_done(&r);
}

/* The same early close without a cancel fails, as before. */
AC_TEST(meta_peer, without_a_cancel_the_early_close_fails) {
    fixture_run r;
    const tap_point *pt = run_cancel(&r, "peer_cancel.mid_expect_without_a_cancel");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "scripted peer: the code closed its end after 0 of 4 bytes of step 2 (expect 4 bytes)");
    AC_EXPECT_EQ(atoi(field(pt, "    line: ")), 68);
    AC_EXPECT_NULL(strstr(ac__buf_str(&r.p.out), "abandoned"));
    fixture_done(&r);
}

/* In a wait: abandoned as soon as the code closes, not after the 5 s wait. */
AC_TEST(meta_peer, a_cancel_abandons_the_script_mid_wait) {
    fixture_run r;
    const tap_point *pt = run_cancel(&r, "peer_cancel.mid_wait");
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&r.p.out),
                           ": script abandoned after the cancel at step 2 of 4 (wait 5.000 s): the code "
                           "closed its end\n");
    fixture_done(&r);
    proc p;
    const char *argv[] = {FIXTURE_PEER_CANCEL, "--filter=peer_cancel.mid_wait", "--color=never", NULL};
    run_process(argv, NULL, &p);
    AC_EXPECT_EQ(p.status, 0);
    double ms = 0;
    const char *line = strstr(ac__buf_str(&p.out), "PASS  peer_cancel.mid_wait  (");
    AC_ASSERT_NOT_NULL(line);
    AC_EXPECT_EQ(sscanf(line, "PASS  peer_cancel.mid_wait  (%lf ms)", &ms), 1); /* ms: under a second */
    AC_EXPECT_LT(ms, 1000.0);
    proc_free(&p);
}

/* A peer that reads nothing more finds the fd closed when its send fails: abandoned there after a cancel,
 * failed without one. */
AC_TEST(meta_peer, a_cancel_abandons_the_script_mid_send) {
    fixture_run r;
    const tap_point *pt = run_cancel(&r, "peer_cancel.mid_send");
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&r.p.out),
                           ": script abandoned after the cancel at step 3 of 4 (send \"world\" (5 bytes)): "
                           "the code closed its end\n");
    fixture_done(&r);
    pt = run_cancel(&r, "peer_cancel.mid_send_without_a_cancel");
    AC_ASSERT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "scripted peer: step 3 (send 5 bytes) failed after 0 of 5 "
                                               "bytes: the code closed its end (EPIPE: Broken pipe)");
    AC_EXPECT_EQ(atoi(field(pt, "    line: ")), 104);
    fixture_done(&r);
}

/* Nothing ran the loop after the cancel: the end of the test finds the script unfinished and abandons it;
 * without a cancel that is a failure. */
AC_TEST(meta_peer, a_cancel_abandons_a_script_unfinished_at_the_end) {
    fixture_run r;
    const tap_point *pt = run_cancel(&r, "peer_cancel.unfinished_at_the_end");
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_STR_CONTAINS(
        ac__buf_str(&r.p.out),
        ": script abandoned after the cancel at step 2 of 4 (wait 5.000 s): the test ended\n");
    fixture_done(&r);
    pt = run_cancel(&r, "peer_cancel.unfinished_at_the_end_without_a_cancel");
    AC_ASSERT_FALSE(pt->ok);
    /* The wait left is 5 s less what the test took after the wait began: a slow build (TSan) may take a
     * millisecond or more. */
    const char *msg = field(pt, "  message: ");
    const char *head =
        "scripted peer: script not finished, 3 of 4 steps left: wait 5.000 s, send \"world\" (5 "
        "bytes), close unread; step 2 had ";
    char got[256];
    snprintf(got, sizeof got, "%.*s", (int)strlen(head), msg);
    AC_ASSERT_STR_EQ(got, head);
    char *end = NULL;
    double left = strtod(msg + strlen(head), &end);
    AC_EXPECT_STR_EQ(end, " s left to wait");
    AC_EXPECT_GT(left, 4.5);
    AC_EXPECT_LE(left, 5.0);
    fixture_done(&r);
}

/* The human report shows the note under -v only. */
AC_TEST(meta_peer, the_note_shows_under_verbose) {
    proc p;
    const char *argv[] = {FIXTURE_PEER_CANCEL, "--filter=peer_cancel.mid_expect", "--color=never", "-v",
                          NULL};
    run_process(argv, NULL, &p);
    AC_EXPECT_EQ(p.status, 0);
    const char *out = ac__buf_str(&p.out);
    AC_EXPECT_STR_CONTAINS(out, "PASS  peer_cancel.mid_expect  (");
    AC_EXPECT_STR_CONTAINS(out, "\n      note: ");
    AC_EXPECT_STR_CONTAINS(out, "peer_cancel.c:66: scripted peer on fd ");
    AC_EXPECT_STR_CONTAINS(out, ": script abandoned after the cancel at step 2 of 4 (expect \"ack\\n\" (4 "
                                "bytes)): the code closed its end\n");
    proc_free(&p);
    const char *quiet[] = {FIXTURE_PEER_CANCEL, "--filter=peer_cancel.mid_expect", "--color=never", NULL};
    run_process(quiet, NULL, &p);
    AC_EXPECT_EQ(p.status, 0);
    AC_EXPECT_NULL(strstr(ac__buf_str(&p.out), "note:"));
    proc_free(&p);
}
