/* meta_fault_hangup.c — letting the code hang up after an injected fault, seen from outside through the
 * TAP of fixtures/fault_hangup.c: without ac_peer_allow_hangup_after_fault a hang-up after the fault fails
 * the test; with it the script is abandoned with a note naming the fault; a hang-up without a fault, and
 * wrong bytes after one, still fail; the same for a listener's connection that never came; and
 * ac_fault_fired says whether the fault fired. And a sweep's first run, with no fault, blames a test that
 * fails anyway on no fault point. */
#include "meta.h"

#include <stdio.h>
#include <string.h>

static const char *const clean_env[] = {"AC_TIMEOUT_MULTIPLIER", NULL};

/* `name` run with `extra`: passes or not, its first failure's message ("" when it passes), and whether
 * the output holds `note` (NULL: not checked). */
static void outcome(const char *name, const char *fault, bool ok, const char *message, const char *note) {
    char flag[64];
    snprintf(flag, sizeof flag, "--fault-at=%s", fault ? fault : "");
    const char *const with[] = {flag, "-v", NULL}, *const without[] = {"-v", NULL};
    fixture_run r;
    const tap_point *pt = fixture_point(&r, FIXTURE_FAULT_HANGUP, name, fault ? with : without, clean_env);
    AC_EXPECT_EQ(pt->ok, ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), message);
    if (note)
        AC_EXPECT_STR_CONTAINS(ac__buf_str(&r.p.out), note);
    fixture_done(&r);
}

AC_TEST(meta_fault_hangup, a_strict_peer_fails_a_hangup_after_a_fault) {
    outcome("hangup.strict_peer", "malloc:1", false,
            "scripted peer: the code closed its end after 0 of 5 bytes of step 1 (expect 5 bytes)", NULL);
}

AC_TEST(meta_fault_hangup, a_lenient_peer_notes_a_hangup_after_a_fault) {
    outcome("hangup.lenient_peer", "malloc:1", true, "",
            "script abandoned after the injected fault malloc:1:ENOMEM at step 1 of 2 (expect \"PING\\n\"");
    /* a short write before the hang-up: the note says how far the step got */
    outcome("hangup.lenient_peer", "write:1:SHORT", true, "",
            "script abandoned after the injected fault write:1:SHORT at step 1 of 2 (expect \"PING\\n\" (5 "
            "bytes)): the test ended after 2 of its 5 bytes");
    /* no fault: the request goes through, the script runs whole, and ac_fault_fired is false */
    outcome("hangup.lenient_peer", NULL, true, "", NULL);
}

AC_TEST(meta_fault_hangup, a_lenient_peer_still_fails_a_hangup_without_a_fault) {
    outcome("hangup.lenient_peer_sloppy_code", NULL, false,
            "scripted peer: the code closed its end after 2 of 5 bytes of step 1 (expect 5 bytes)", NULL);
    /* a fault point past the code's only allocation never fires: still a failure */
    outcome("hangup.lenient_peer_sloppy_code", "malloc:2", false,
            "scripted peer: the code closed its end after 2 of 5 bytes of step 1 (expect 5 bytes)", NULL);
}

AC_TEST(meta_fault_hangup, a_lenient_peer_still_fails_wrong_bytes_after_a_fault) {
    outcome("hangup.lenient_peer_garbling_code", "malloc:2", false,
            "scripted peer: unexpected bytes at offset 0 of step 1 (expect 5 bytes)", NULL);
}

AC_TEST(meta_fault_hangup, a_listener_connection_that_never_came_after_a_fault) {
    /* strict: the acceptor keeps the drain waiting (a virtual day), then the connection is missed */
    fixture_run r;
    static const char *const at[] = {"--fault-at=malloc:1", NULL};
    const tap_point *pt = fixture_point(&r, FIXTURE_FAULT_HANGUP, "hangup.strict_listener", at, clean_env);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(failure_field(pt, 1, "message"),
                     "listener: scripted connection 1 never came (0 of 1 accepted); its script: expect "
                     "\"PING\\n\" (5 bytes), send \"PONG\\n\" (5 bytes)");
    fixture_done(&r);
    outcome(
        "hangup.lenient_listener", "malloc:1", true, "",
        "listener: scripted connection 1 never came (0 of 1 accepted): abandoned after the injected fault "
        "malloc:1:ENOMEM");
    outcome("hangup.lenient_listener", NULL, true, "", NULL);
}

AC_TEST(meta_fault_hangup, a_test_that_fails_anyway_is_not_blamed_on_a_fault_point) {
    /* the replay line carries no --fault-at: nothing follows --seed */
    fixture_found_and_replayed(FIXTURE_FAULT_HANGUP, "sweep.fails_anyway", NULL, clean_env,
                               "this test always fails", NULL);
    fixture_run r;
    const tap_point *pt = fixture_point(&r, FIXTURE_FAULT_HANGUP, "sweep.fails_anyway", NULL, clean_env);
    AC_EXPECT_STR_CONTAINS(failure_field(pt, 1, "message"),
                           "a run with no injected fault (the test fails without one) of schedule 1 (seed 0");
    AC_EXPECT_STR_EQ(field(pt, "    runs: "), "1");
    AC_EXPECT_STR_EQ(field(pt, "    fault_points: "), "0");
    fixture_done(&r);
}

AC_TEST(meta_fault_hangup, a_function_under_a_fault_point_is_still_checked_for_blocking) {
    static const char blocking[] = "blocking call: connect(";
    /* no fault point, and one the test never reaches: the connect goes through the check's hook */
    static const char *const none[] = {NULL}, *const past[] = {"--fault-at=connect:2", NULL};
    const char *const *cases[] = {none, past};
    for (size_t i = 0; i < 2; i++) {
        fixture_run r;
        const tap_point *pt = fixture_point(&r, FIXTURE_FAULT_HANGUP, "sweep.blocking_connect_in_a_callback",
                                            cases[i], clean_env);
        AC_EXPECT_FALSE(pt->ok);
        AC_EXPECT_STR_CONTAINS(i == 0 ? field(pt, "  message: ") : failure_field(pt, 0, "message"), blocking);
        fixture_done(&r);
    }
    /* a sweep of connect finds it in its first run, the one with no fault */
    static const char *const sweep[] = {"--fault-sweep=connect", NULL};
    fixture_run r;
    const tap_point *pt =
        fixture_point(&r, FIXTURE_FAULT_HANGUP, "sweep.blocking_connect_in_a_callback", sweep, clean_env);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_CONTAINS(failure_field(pt, 0, "message"), blocking);
    AC_EXPECT_STR_CONTAINS(failure_field(pt, 1, "message"), "a run with no injected fault");
    fixture_done(&r);
}
