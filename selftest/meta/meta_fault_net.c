/* meta_fault_net.c — network fault injection and chosen failures seen from outside, through the TAP of
 * fixtures/fault_net.c: a connect sweep finds the client that takes writability for "connected" (the
 * refusal on a non-blocking socket comes as EINPROGRESS, then SO_ERROR ECONNREFUSED, on AF_INET and
 * AF_UNIX sockets; a blocking socket's connect fails at once), an accept or accept4 sweep the acceptor
 * that closes its listener on EMFILE, a getaddrinfo sweep the resolver that never calls back on
 * EAI_AGAIN, each with a --fault-at replay that fails the same way 3 times out of 3, while the fixed
 * twins pass and say how many runs the sweep took; a failure named by the user (--fault-at
 * read:1:ECONNRESET, --fault-sweep read=EIO+ECONNRESET, .fault_sweep-like lists) reaches the code, and
 * bad names are refused in one line with the syntax; a scripted peer's own sends are not counted. */
#include "meta.h"

#include <stdio.h>
#include <string.h>

static const char *const clean_env[] = {"AC_TIMEOUT_MULTIPLIER", NULL};

static void found(const char *name, const char *const *extra, const char *message, const char *point) {
    char flag[96];
    snprintf(flag, sizeof flag, "--fault-at=%s", point);
    fixture_found_and_replayed(FIXTURE_FAULT_NET, name, extra, clean_env, message, flag);
}

/* Sweeps `name`: it passes, after `runs` runs (the first with no fault) of which `points` failed a call. */
static void passes(const char *name, const char *const *extra, const char *runs, const char *points) {
    fixture_run r;
    const tap_point *pt = fixture_point(&r, FIXTURE_FAULT_NET, name, extra, clean_env);
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_EQ(r.p.status, 0);
    AC_EXPECT_STR_EQ(field(pt, "    fault_sweep: "), "true");
    AC_EXPECT_STR_EQ(field(pt, "    runs: "), runs);
    AC_EXPECT_STR_EQ(field(pt, "    fault_points: "), points);
    fixture_done(&r);
}

/* `name` run once with `extra`: its first failure's message ("" when it passes). */
static void once(const char *name, const char *const *extra, bool ok, const char *message) {
    fixture_run r;
    const tap_point *pt = fixture_point(&r, FIXTURE_FAULT_NET, name, extra, clean_env);
    AC_EXPECT_EQ(pt->ok, ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), message);
    AC_EXPECT_STR_EQ(field(pt, "    runs: "), ""); /* one run: no exploration */
    fixture_done(&r);
}

AC_TEST(meta_fault_net, a_connect_sweep_finds_the_client_that_takes_writable_for_connected) {
    found("client_buggy.checks_the_connect_outcome", NULL, "AC_EXPECT_TRUE(has_peer(c->fd)) failed",
          "connect:1:ECONNREFUSED");
    /* the fixed client saw connect return EINPROGRESS and SO_ERROR say ECONNREFUSED (its checks), in
     * run 1; run 2 makes 1 call, under its point 2 */
    passes("client_fixed.checks_the_connect_outcome", NULL, "3", "1");
    passes("unix_client.checks_the_connect_outcome", NULL, "3", "1"); /* an AF_UNIX socket, swapped */
    passes("blocking_client.reports_the_refusal", NULL, "3", "1");    /* at once on a blocking socket */
}

AC_TEST(meta_fault_net, another_errno_fails_a_nonblocking_connect_at_once) {
    /* only ECONNREFUSED is deferred: ETIMEDOUT comes from connect itself, which the fixed client takes
     * as the failure, and its check (the refusal, after EINPROGRESS) fails saying what it got */
    static const char *const at[] = {"--fault-at=connect:1:ETIMEDOUT", NULL};
    once("client_fixed.checks_the_connect_outcome", at, false, "AC_EXPECT_EQ(c->err, ECONNREFUSED) failed");
}

AC_TEST(meta_fault_net, an_accept_sweep_finds_the_acceptor_that_closes_its_listener_on_emfile) {
    found("acceptor_buggy.accepts_both_connections", NULL, "AC_EXPECT_EQ(a.accepted, 2) failed",
          "accept:1:EMFILE");
    found("acceptor4_buggy.accepts_both_connections", NULL, "AC_EXPECT_EQ(a.accepted, 2) failed",
          "accept4:1:EMFILE");
    /* calls 1 and 2 each fail once (the connection waits in the backlog, accepted on the next
     * readiness); run 3 makes 2 calls */
    passes("acceptor_fixed.accepts_both_connections", NULL, "4", "2");
    passes("acceptor4_fixed.accepts_both_connections", NULL, "4", "2");
}

AC_TEST(meta_fault_net, a_getaddrinfo_sweep_finds_the_resolver_that_never_calls_back) {
    found("resolver_buggy.calls_back_once", NULL, "the loop went idle while waiting for r.called",
          "getaddrinfo:1:EAI_AGAIN");
    passes("resolver_fixed.calls_back_once", NULL, "3", "1"); /* its check: the status is EAI_AGAIN */
    static const char *const fail[] = {"--fault-at=getaddrinfo:1:EAI_FAIL", NULL};
    once("resolver_fixed.calls_back_once", fail, false, "AC_EXPECT_EQ(r.status, EAI_AGAIN) failed");
}

AC_TEST(meta_fault_net, a_failure_named_by_the_user_reaches_the_code) {
    /* the default failures (EINTR, EAGAIN, SHORT) and EIO pass; only ECONNRESET finds the bug */
    passes("classifier.names_every_read_error", NULL, "10", "6");
    static const char *const eio[] = {"--fault-at=read:1:EIO", NULL};
    once("classifier.names_every_read_error", eio, true, "");
    static const char *const reset[] = {"--fault-at=read:1:ECONNRESET", NULL};
    once("classifier.names_every_read_error", reset, false, "AC_EXPECT_TRUE(c.error != NULL) failed");
    static const char *const sweep[] = {"--fault-sweep=read=EIO+ECONNRESET,write", NULL};
    found("classifier.names_every_read_error", sweep, "AC_EXPECT_TRUE(c.error != NULL) failed",
          "read:1:ECONNRESET");
}

AC_TEST(meta_fault_net, a_scripted_peers_own_calls_are_not_counted) {
    /* the peer sends 16 bytes and receives 2, one byte per call, after ac_fault_start; the code makes
     * one send: only that one is counted */
    static const char *const at[] = {"--fault-at=send:2", NULL};
    once("quiet_code.sends_one_reply", at, false,
         "--fault-at send:2:EINTR: the test never reached it (it made 1 counted call to send after "
         "ac_fault_start)");
    /* each kind: run 1 fails the code's send 1 (its retry or the rest is send 2), run 2 makes 1 call */
    passes("quiet_code.sends_one_reply", NULL, "7", "3");
}

static void refused(const char *arg, const char *reason) {
    const char *argv[] = {FIXTURE_FAULT_NET, arg, NULL};
    proc p;
    run_process(argv, clean_env, &p);
    AC_EXPECT_EQ(p.status, 2);
    char want[512];
    snprintf(want, sizeof want, "fixture_fault_net: %s\n", reason);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.err), want);
    AC_EXPECT_EQ(ac__buf_str(&p.out)[0], '\0');
    proc_free(&p);
}

AC_TEST(meta_fault_net, unknown_failure_names_are_refused_in_one_line_with_the_syntax) {
    refused("--fault-at=read:2:EBOGUS", "--fault-at: 'read:2:EBOGUS' is not FUNC:K[:ERR]: read cannot fail "
                                        "with 'EBOGUS' (ERR: an errno name such as EINTR or EIO, or SHORT)");
    refused("--fault-at=connect:1:SHORT",
            "--fault-at: 'connect:1:SHORT' is not FUNC:K[:ERR]: connect cannot "
            "fail with 'SHORT' (ERR: an errno name such as ECONNREFUSED or EIO)");
    refused("--fault-at=getaddrinfo:1:EINTR",
            "--fault-at: 'getaddrinfo:1:EINTR' is not FUNC:K[:ERR]: getaddrinfo cannot fail with 'EINTR' "
            "(ERR: EAI_AGAIN, EAI_FAIL, EAI_NONAME, EAI_MEMORY)");
    refused("--fault-sweep=read=EIO+NOPE,write",
            "--fault-sweep: 'read=EIO+NOPE,write' is not FUNC[=ERR+ERR...],...: read cannot fail with 'NOPE' "
            "(ERR: an errno name such as EINTR or EIO, or SHORT)");
    refused("--fault-sweep=accept=", "--fault-sweep: 'accept=' is not FUNC[=ERR+ERR...],...: accept cannot "
                                     "fail with '' (ERR: an errno name such as EMFILE or EIO)");
}
