/* curl_test.c — the fetcher (fetcher.h: libcurl's multi-socket API on libev) tested against asyncheck's
 * scripted HTTP server.
 *
 * libcurl makes its own connections: the test cannot hand it an fd. So the server is a listener
 * (ac_peer_listen_tcp) on a loopback port the kernel picks; each connection libcurl makes to it follows
 * the script of the next ac_listener_next peer, with the usual steps: expect the request byte for byte,
 * answer, wait, hang up, one byte at a time. Every suite runs under the virtual clock: the server's waits
 * and libcurl's own 30 s timeouts pass in milliseconds of real time. The fetcher's callback is a mock,
 * so every outcome is a recorded call that AC_ASSERT_CALLED_WITH checks (the body is copied at call
 * time). Each test runs with .drain = false: when its body returns, any watcher still active fails it,
 * named with where it was started — the fetcher must have stopped the ev_io of every socket libcurl
 * closed, and its timer.
 *
 * The virtual clock and libcurl: libcurl 7.88.1 (Debian 12) reads CLOCK_MONOTONIC itself, through
 * clock_gettime in its PLT (readelf -r libcurl.so.4 lists a JUMP_SLOT for it, and none for a raw
 * syscall), and asyncheck's virtual clock rewrites that slot in every loaded object, libcurl's included.
 * timeouts.never_answering_server_times_out_in_virtual_time measures it: the 30 s CURLOPT_TIMEOUT_MS ends
 * at 30 s of virtual time (to a millisecond) while less than 2 s of real time pass, read with a raw
 * clock_gettime system call that no GOT patch reaches. Were libcurl's reads real, its timer would fire at
 * virtual 30 s, libcurl would find only milliseconds gone and ask again, and the test would run for 30
 * real seconds and time out.
 *
 * Planted bugs (fetcher.c, -DPLANTED_BUG=N, targets curl_test_bug<N>; ctest example.curl_bug<N> checks
 * that exactly these tests fail):
 *   1 (the ev_io left running on CURL_POLL_REMOVE): every test whose transfer ends — each one fails with
 *     the watcher still active when its body returns, or after the cancel.
 *   2 (the timer never calls curl_multi_socket_action(CURL_SOCKET_TIMEOUT)): timeouts.* — libcurl never
 *     learns its timeout ran out, and the transfer hangs past the test's wait.
 *   3 (fetcher_cancel leaves the easy handle in the multi handle): cancel.leaves_no_watcher_or_fd_behind
 *     and cancel.sweep_over_a_transfer_in_flight (the transfer goes on after the cancel, its socket
 *     watched), and cancel.closes_the_connection_at_once (the server never reads end-of-file).
 *   4 (a failure of curl_multi_socket_action ignored): fetch.every_allocation_failure_ends_the_transfer_once
 *     — when libcurl runs out of memory inside it, the transfer hangs with nothing to wake it. Bugs 1 and 2
 *     fail that test too (a watcher left running; no timeout ever). */
#include <asyncheck.h>

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fetcher.h"

#define DONE_PROTO "void on_done(int result, long status, const char *body, size_t len, void *ud)"

/* ---- the fixture: a fetcher on the test's loop, and a mock as its callback ---- */

typedef struct fixture {
    fetcher *fetcher;
    ac_mock *on_done; /* every outcome is a recorded call */
    fetch *h;         /* the transfer a cancel test cancels */
    char url[64];
} fixture;

static void setup(ac_test *t) {
    fixture *f = calloc(1, sizeof *f);
    AC_ASSERT_NOT_NULL(f);
    ac_set_data(t, f);
    f->fetcher = fetcher_new(ac_loop(t));
    AC_ASSERT_NOT_NULL(f->fetcher);
    f->on_done = ac_mock_new(t, DONE_PROTO);
}

static void teardown(ac_test *t) {
    fixture *f = ac_data(t);
    if (!f)
        return;
    fetcher_free(f->fetcher); /* closes libcurl's sockets, also after a failed assertion */
    free(f);
}

AC_SUITE(fetch, .setup = setup, .teardown = teardown, .clock = AC_CLOCK_VIRTUAL, .timeout = 10);
AC_SUITE(timeouts, .setup = setup, .teardown = teardown, .clock = AC_CLOCK_VIRTUAL, .timeout = 10);
AC_SUITE(cancel, .setup = setup, .teardown = teardown, .clock = AC_CLOCK_VIRTUAL, .timeout = 10);

/* ---- helpers ---- */

/* The URL of `path` on the loopback port: a numeric host, so libcurl resolves nothing (no resolver
 * thread). */
static const char *url(ac_test *t, uint16_t port, const char *path) {
    fixture *f = ac_data(t);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u%s", (unsigned)port, path);
    return f->url;
}

/* The exact request libcurl sends for GET `path` (no User-Agent unless one is set). */
static const char *request(uint16_t port, const char *path) {
    static char buf[128];
    snprintf(buf, sizeof buf, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nAccept: */*\r\n\r\n", path,
             (unsigned)port);
    return buf;
}

/* The fetcher's callback: the transfer is over, so there is nothing left to cancel; the outcome goes to
 * the mock. */
static void done(int result, long status, const char *body, size_t len, void *ud) {
    fixture *f = ud;
    f->h = NULL;
    ((fetch_cb)ac_mock_fn(f->on_done))(result, status, body, len, ud);
}

/* Starts GET `path` on the loopback port, reporting to `cb` (done, or a wrapper of it). */
static fetch *get_with(ac_test *t, uint16_t port, const char *path, const fetch_options *opt, fetch_cb cb) {
    fixture *f = ac_data(t);
    f->h = fetcher_get(f->fetcher, url(t, port, path), opt, cb, f);
    AC_ASSERT_NOT_NULL(f->h);
    return f->h;
}

static fetch *get(ac_test *t, uint16_t port, const char *path, const fetch_options *opt) {
    return get_with(t, port, path, opt, done);
}

/* Seconds of the real monotonic clock, by a raw system call: the virtual clock's GOT patch reaches every
 * clock_gettime call through a slot (this file's too), not the kernel. */
static double real_now(void) {
    struct timespec ts;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* When a test's body returns, no transfer may be left; the watchers are the harness's to check
 * (.drain = false: one still active fails the test, named with where it was started). */
static void assert_idle(ac_test *t) {
    fixture *f = ac_data(t);
    AC_ASSERT_EQ(fetcher_transfers(f->fetcher), 0u);
}

/* A scripted server on a loopback port whose one connection must ask GET /hello, and gets "hello". */
static ac_listener *serve_hello(ac_test *t, uint16_t *port) {
    ac_listener *server = ac_peer_listen_tcp(t, port);
    ac_peer *conn = ac_listener_next(server);
    ac_peer_expect_str(conn, request(*port, "/hello"));
    ac_peer_send_str(conn, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
    ac_peer_close(conn);
    return server;
}

/* ---- transfers that end ---- */

AC_TEST(fetch, gets_a_page, .drain = false) {
    fixture *f = ac_data(t);
    uint16_t port;
    ac_listener *server = serve_hello(t, &port);

    get(t, port, "/hello", NULL);
    AC_AWAIT_CALLS(t, f->on_done, 1, 5.0);
    AC_ASSERT_CALLED_WITH(f->on_done, ac_eq(CURLE_OK), ac_eq(200), ac_str("hello"), ac_eq(5), ac_ptr(f));
    AC_AWAIT(t, ac_listener_done(server), 1.0);
    AC_ASSERT_EQ(ac_listener_accepted(server), 1u);
    assert_idle(t);
}

/* libcurl under injected I/O faults (README, "Fault injection"): each recv and send libcurl makes for
 * the transfer (through its own PLT, after ac_fault_start) fails in turn, once per run — EINTR, EAGAIN, a
 * short count —, until a run makes fewer calls than its fault point. libcurl must retry each: the page
 * arrives whole, once, in every run, and nothing is left behind. */
AC_TEST(fetch, gets_a_page_through_every_recv_and_send_fault, .drain = false, .fault_sweep = "recv,send") {
    fixture *f = ac_data(t);
    uint16_t port;
    ac_listener *server = serve_hello(t, &port);

    ac_fault_start(t);
    get(t, port, "/hello", NULL);
    AC_AWAIT_CALLS(t, f->on_done, 1, 5.0);
    AC_ASSERT_CALLED_WITH(f->on_done, ac_eq(CURLE_OK), ac_eq(200), ac_str("hello"), ac_eq(5), ac_ptr(f));
    AC_AWAIT(t, ac_listener_done(server), 1.0);
    assert_idle(t);
}

/* The fetcher when memory runs out: each allocation made for a transfer (the fetcher's, libcurl's) fails in
 * turn, once per run. Either fetcher_get refuses the transfer (NULL, and no callback ever), or the
 * transfer ends exactly once — with the page, or with an error — well before its own 30 s timeout:
 * nothing may hang, be called twice, or be left behind. A failed allocation entitles the fetcher to give
 * up the connection: the server lets it hang up in runs where the fault fired. */
AC_TEST(fetch, every_allocation_failure_ends_the_transfer_once, .drain = false,
        .fault_sweep = "malloc,calloc,realloc") {
    fixture *f = ac_data(t);
    uint16_t port;
    ac_listener *server = serve_hello(t, &port);
    ac_listener_allow_hangup_after_fault(server);

    ac_fault_start(t);
    f->h = fetcher_get(f->fetcher, url(t, port, "/hello"), NULL, done, f);
    size_t calls = f->h ? 1 : 0; /* done() clears f->h */
    if (calls)
        AC_AWAIT_CALLS(t, f->on_done, 1, 10.0);
    AC_STAYS_PENDING(t, ac_mock_call_count(f->on_done) > calls, 1.0);
    if (!ac_fault_fired(t)) /* the run past the last allocation: the page, as always */
        AC_ASSERT_CALLED_WITH(f->on_done, ac_eq(CURLE_OK), ac_eq(200), ac_str("hello"), ac_eq(5), ac_ptr(f));
    assert_idle(t);
}

/* Every byte of the response arrives in a read of its own, and the server reads the request one byte per
 * loop iteration: libcurl's parser and the fetcher's event handling must cope with any split. */
AC_TEST(fetch, reads_a_response_one_byte_at_a_time, .drain = false) {
    fixture *f = ac_data(t);
    uint16_t port;
    ac_listener *server = ac_peer_listen_tcp(t, &port);
    ac_peer *conn = ac_listener_next(server);
    ac_peer_one_byte_at_a_time(conn, true);
    ac_peer_expect_str(conn, request(port, "/chunks"));
    ac_peer_send_str(conn, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                           "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    ac_peer_close(conn);

    get(t, port, "/chunks", NULL);
    AC_AWAIT_CALLS(t, f->on_done, 1, 5.0);
    AC_ASSERT_CALLED_WITH(f->on_done, ac_eq(CURLE_OK), ac_eq(200), ac_str("hello world"), ac_eq(11),
                          ac_any());
    AC_AWAIT(t, ac_listener_done(server), 1.0);
    assert_idle(t);
}

/* The server pauses 5 s between the headers and the body: within the 30 s timeout, the transfer waits
 * for it, and ends when the body comes, 5 virtual seconds in. */
AC_TEST(fetch, waits_for_a_slow_server, .drain = false) {
    fixture *f = ac_data(t);
    uint16_t port;
    ac_listener *server = ac_peer_listen_tcp(t, &port);
    ac_peer *conn = ac_listener_next(server);
    ac_peer_expect_str(conn, request(port, "/slow"));
    ac_peer_send_str(conn, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\n");
    ac_peer_wait(conn, 5.0);
    ac_peer_send_str(conn, "done");
    ac_peer_close(conn);

    get(t, port, "/slow", &(fetch_options){.timeout_ms = 30000});
    AC_AWAIT_CALLS(t, f->on_done, 1, 60.0);
    AC_ASSERT_CALLED_WITH(f->on_done, ac_eq(CURLE_OK), ac_eq(200), ac_str("done"), ac_eq(4), ac_any());
    AC_EXPECT_NEAR(ac_clock_elapsed(t), 5.0, 0.05);
    AC_AWAIT(t, ac_listener_done(server), 1.0);
    assert_idle(t);
}

/* Nothing listens on the port any more: the connect is refused. */
AC_TEST(fetch, reports_a_refused_connection, .drain = false) {
    fixture *f = ac_data(t);
    uint16_t port;
    ac_listener *server = ac_peer_listen_tcp(t, &port);
    ac_listener_close(server);

    get(t, port, "/", NULL);
    AC_AWAIT_CALLS(t, f->on_done, 1, 5.0);
    AC_ASSERT_CALLED_WITH(f->on_done, ac_eq(CURLE_COULDNT_CONNECT), ac_eq(0), ac_str(""), ac_eq(0), ac_any());
    AC_ASSERT_EQ(ac_listener_accepted(server), 0u);
    assert_idle(t);
}

/* ---- libcurl's own timeouts, under the virtual clock ---- */

/* The server reads the request and never answers: libcurl's 30 s CURLOPT_TIMEOUT_MS ends the
 * transfer at exactly 30 s of virtual time, within a fraction of a real second — the proof that the
 * virtual clock reaches libcurl's own clock reads (see the header). */
AC_TEST(timeouts, never_answering_server_times_out_in_virtual_time, .drain = false) {
    fixture *f = ac_data(t);
    uint16_t port;
    ac_listener *server = ac_peer_listen_tcp(t, &port);
    ac_peer_expect_str(ac_listener_next(server), request(port, "/")); /* reads it, never answers */

    double real_start = real_now();
    get(t, port, "/", &(fetch_options){.timeout_ms = 30000});
    AC_AWAIT_CALLS(t, f->on_done, 1, 60.0);
    AC_ASSERT_CALLED_WITH(f->on_done, ac_eq(CURLE_OPERATION_TIMEDOUT), ac_eq(0), ac_str(""), ac_eq(0),
                          ac_any());
    AC_EXPECT_NEAR(ac_clock_elapsed(t), 30.0, 0.001); /* libcurl's deadline, read on the virtual clock */
    AC_EXPECT_LT(real_now() - real_start, 2.0);       /* and not waited for in real time */
    AC_ASSERT_EQ(ac_listener_accepted(server), 1u);
    assert_idle(t);
}

/* The server sends the headers and half of the body, then stalls past the timeout: the transfer ends
 * with a timeout at 30 s, the status and the partial body still reported. */
AC_TEST(timeouts, slow_server_times_out_in_the_middle_of_the_body, .drain = false) {
    fixture *f = ac_data(t);
    uint16_t port;
    ac_listener *server = ac_peer_listen_tcp(t, &port);
    ac_peer *conn = ac_listener_next(server);
    ac_peer_expect_str(conn, request(port, "/stall"));
    ac_peer_send_str(conn, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello");

    get(t, port, "/stall", &(fetch_options){.timeout_ms = 30000});
    AC_AWAIT_CALLS(t, f->on_done, 1, 60.0);
    AC_ASSERT_CALLED_WITH(f->on_done, ac_eq(CURLE_OPERATION_TIMEDOUT), ac_eq(200), ac_str("hello"), ac_eq(5),
                          ac_any());
    AC_EXPECT_NEAR(ac_clock_elapsed(t), 30.0, 0.001);
    AC_AWAIT(t, ac_listener_done(server), 1.0);
    assert_idle(t);
}

/* ---- cancelling ---- */

static void cancel_fetch(void *arg) {
    fixture *f = arg;
    fetcher_cancel(f->h);
    f->h = NULL;
}

/* A cancel in the middle of the body closes the connection before fetcher_cancel returns: the server
 * reads end-of-file, no callback comes, and no socket is left watched. */
AC_TEST(cancel, closes_the_connection_at_once, .drain = false) {
    fixture *f = ac_data(t);
    uint16_t port;
    ac_listener *server = ac_peer_listen_tcp(t, &port);
    ac_peer *conn = ac_listener_next(server);
    ac_peer_expect_str(conn, request(port, "/big"));
    ac_peer_send_str(conn, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nthe first part");
    ac_peer_expect_eof(conn);

    get(t, port, "/big", NULL);
    AC_STAYS_PENDING(t, ac_mock_call_count(f->on_done) > 0, 1.0); /* request out, part of the body in */
    AC_ASSERT_EQ(fetcher_sockets(f->fetcher), 1u);
    fetcher_cancel(f->h);
    f->h = NULL;
    AC_ASSERT_EQ(fetcher_sockets(f->fetcher), 0u); /* its ev_io stopped before fetcher_cancel returned */
    assert_idle(t);
    AC_AWAIT(t, ac_listener_done(server), 1.0); /* the server read end-of-file */
    AC_STAYS_PENDING(t, ac_mock_call_count(f->on_done) > 0, 60.0);
}

/* The harness's own cancel check (ac_cancel + AC_ASSERT_CANCELLED_CLEANLY) on a transfer waiting for a
 * server that never answers: after the cancel the callback never comes (AC_CANCEL_SILENT), no watcher
 * the test started is active, and at the test's end no fd it opened is open. */
AC_TEST(cancel, leaves_no_watcher_or_fd_behind, .drain = false) {
    fixture *f = ac_data(t);
    uint16_t port;
    ac_listener *server = ac_peer_listen_tcp(t, &port);
    ac_peer_expect_str(ac_listener_next(server), request(port, "/")); /* reads it, never answers */

    get_with(t, port, "/", NULL, (fetch_cb)ac_op_callback(t, DONE_PROTO, done, AC_CANCEL_SILENT));
    ac_cancel_with(t, cancel_fetch, f);
    AC_AWAIT(t, ac_listener_done(server), 1.0); /* the request is out; the transfer waits */
    AC_ASSERT_EQ(fetcher_sockets(f->fetcher), 1u);

    ac_cancel(t);
    /* 10 s: a transfer left going on would still be waiting for its 30 s timeout, its socket watched */
    AC_ASSERT_CANCELLED_CLEANLY(t, 10.0);
    assert_idle(t);
}

/* With .cancel_sweep the runner reruns this test cancelling the transfer after the 1st, 2nd, ...
 * callback dispatched on the loop — while connecting, after the request went out, after the headers,
 * during the server's 20 s pause (longer than the sweep's 10 s settling), until the response has been
 * delivered — and checks each time that no callback comes and no watcher or fd is left. In a cancelled
 * run the server's script is abandoned, not failed: libcurl closing its end is the point. */
AC_TEST(cancel, sweep_over_a_transfer_in_flight, .cancel_sweep = true, .drain = false) {
    fixture *f = ac_data(t);
    uint16_t port;
    ac_listener *server = ac_peer_listen_tcp(t, &port);
    ac_peer *conn = ac_listener_next(server);
    ac_peer_expect_str(conn, request(port, "/sweep"));
    ac_peer_send_str(conn, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n");
    ac_peer_wait(conn, 20.0);
    ac_peer_send_str(conn, "hello");
    ac_peer_close(conn);

    get_with(t, port, "/sweep", NULL, (fetch_cb)ac_op_callback(t, DONE_PROTO, done, AC_CANCEL_SILENT));
    ac_cancel_with(t, cancel_fetch, f); /* after the callback, f->h is NULL: nothing to cancel */

    AC_AWAIT_CALLS(t, f->on_done, 1, 60.0);
    AC_ASSERT_CALLED_WITH(f->on_done, ac_eq(CURLE_OK), ac_eq(200), ac_str("hello"), ac_eq(5), ac_any());
    AC_AWAIT(t, ac_listener_done(server), 1.0);
    assert_idle(t);
}
