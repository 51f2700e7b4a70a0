/* http_test.c — the HTTP client (http_client.h) tested with asyncheck's mocks and scripted peer.
 *
 * It demonstrates how to test a libev component whose world is reached through callbacks: the
 * transport's connect is a mock made from its prototype (ac_mock_new), which calls the client's done
 * callback back later on the test's loop — after a delay (ac_deliver_after), when the test says so
 * (ac_deliver_held), never (ac_deliver_never), or twice (ac_deliver_twice) — and hands it the fd of a
 * scripted peer (ac_peer_new) that plays the server: it checks the request byte for byte, answers, and hangs
 * up, even one byte at a time. The client's own completion callback is a mock as well, so every outcome is a
 * recorded call that AC_ASSERT_CALLED_WITH checks (strings are copied at call time, so the body can be
 * checked after the client has freed it). The last suite runs the real TCP transport: against a listening
 * socket of the test's own, and with libc's connect replaced by a mock (ac_mock_replace) that refuses.
 *
 * Who closes what: the fd a peer gives the test is handed to the client by the mocked connect, and from
 * then on the client owns it and closes it (http_client.h); the test never closes it. Teardown frees the
 * client (stopping its watchers, cancelling a connect in progress), the TCP transport and the test's
 * own server sockets; the peers and mocks are freed by asyncheck when the test ends. */
#include <asyncheck.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"

/* The prototypes the mocks are made from: the transport's two functions and the client's callback. */
#define CONNECT_PROTO                                                                                        \
    "int http_connect(void *ctx, const char *host, int port, void (*done)(int fd, int err, void *ud),"       \
    " void *ud)"
#define CANCEL_PROTO "void http_cancel(void *ctx, void *ud)"
#define RESPONSE_PROTO "void on_response(int status, const char *body, size_t len, int error, void *ud)"

#define REQUEST "GET / HTTP/1.0\r\nHost: example.test\r\n\r\n"
#define HELLO "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"

/* ---- the fixture ---- */

/* A real server of the test's own for the TCP suite: accepts one connection, reads a request and
 * answers it with `reply`. */
typedef struct tcp_server {
    int listen_fd, fd; /* -1: not open */
    ev_io accept_io, io;
    char request[256];
    size_t request_len;
    const char *reply;
} tcp_server;

typedef struct fixture {
    http_client *client;  /* the request under test */
    ac_mock *on_response; /* its callback: each outcome is a recorded call */
    ac_mock *cancel;      /* the transport's cancel */
    ac_mock *answers[4];  /* connect attempt i goes to answers[i]; the last one takes any further */
    size_t nanswers, next;
    http_tcp *tcp; /* the TCP suite's transport */
    tcp_server srv;
} fixture;

static void setup(ac_test *t) {
    fixture *f = calloc(1, sizeof *f);
    AC_ASSERT_NOT_NULL(f);
    f->srv.listen_fd = f->srv.fd = -1;
    ev_io_init(&f->srv.accept_io, NULL, -1, EV_READ); /* stoppable before they are set up */
    ev_io_init(&f->srv.io, NULL, -1, EV_READ);
    ac_set_data(t, f);
    f->on_response = ac_mock_new(t, RESPONSE_PROTO);
    f->cancel = ac_mock_new(t, CANCEL_PROTO);
}

static void teardown(ac_test *t) {
    fixture *f = ac_data(t);
    if (!f)
        return;
    http_client_free(f->client); /* stops its watchers and closes its fd, if a test failed early */
    http_tcp_free(f->tcp);
    ev_io_stop(ac_loop(t), &f->srv.accept_io);
    ev_io_stop(ac_loop(t), &f->srv.io);
    if (f->srv.fd >= 0)
        close(f->srv.fd);
    if (f->srv.listen_fd >= 0)
        close(f->srv.listen_fd);
    free(f);
}

AC_SUITE(http, .setup = setup, .teardown = teardown);
AC_SUITE(http_tcp, .setup = setup, .teardown = teardown);

/* ---- helpers ---- */

static ac_mock *connect_mock(ac_test *t) {
    return ac_mock_new(t, CONNECT_PROTO);
}

/* A completion's arguments are written as text, so values known only at run time (the peer's fd) and
 * errno names are printed into it. */
static void connects_to(ac_mock *conn, int fd, ac_when when) {
    ac_mock_on_call_completef(conn, when, "done(%d, 0, $ud)", fd);
}

static void refuses(ac_mock *conn, int err, ac_when when) {
    ac_mock_on_call_completef(conn, when, "done(-1, %d, $ud)", err);
}

/* A mock's completion is the same for every call, so attempts that must end differently go to
 * different mocks: connect_in_turn is the transport's connect, and passes each attempt on to the next
 * mock of the list that answer_connects set. */
static int connect_in_turn(void *ctx, const char *host, int port, http_connected_cb done, void *ud) {
    fixture *f = ctx;
    AC_ASSERT_GT(f->nanswers, 0);
    ac_mock *m = f->answers[f->next < f->nanswers ? f->next++ : f->nanswers - 1];
    return ((http_connect_fn)ac_mock_fn(m))(ctx, host, port, done, ud);
}

static void set_answers(fixture *f, ac_mock *const *mocks, size_t n) {
    AC_ASSERT_LE(n, sizeof f->answers / sizeof f->answers[0]);
    memcpy(f->answers, mocks, n * sizeof *mocks);
    f->nanswers = n;
}
#define answer_connects(f, ...)                                                                              \
    set_answers((f), (ac_mock *const[]){__VA_ARGS__},                                                        \
                sizeof((ac_mock *const[]){__VA_ARGS__}) / sizeof(ac_mock *))

/* Starts the request under test through connect_in_turn and the cancel mock. */
static void get_from(ac_test *t, const http_options *opt, const char *host, int port, const char *path) {
    fixture *f = ac_data(t);
    http_transport tr = {
        .connect = connect_in_turn, .cancel = (http_cancel_fn)ac_mock_fn(f->cancel), .ctx = f};
    f->client = http_client_get(ac_loop(t), tr, opt, host, port, path,
                                (http_response_cb)ac_mock_fn(f->on_response), f);
    AC_ASSERT_NOT_NULL(f->client);
}

static void get(ac_test *t, const http_options *opt) {
    get_from(t, opt, "example.test", 80, "/");
}

/* A peer that expects `request`, answers `response` and hangs up; *fd is the client's end. */
static ac_peer *server_answering(ac_test *t, int *fd, const char *request, const char *response) {
    ac_peer *p = ac_peer_new(t, fd);
    ac_peer_expect_str(p, request);
    ac_peer_send_str(p, response);
    ac_peer_close(p);
    return p;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the client, with its transport mocked ---- */

/* This first test spells everything out; the others use the helpers above. */
AC_TEST(http, fetches_a_page_through_a_mocked_connect) {
    fixture *f = ac_data(t); /* teardown frees f->client, also after a failed assertion */

    /* The server: a scripted peer at the far end of fd. */
    int fd;
    ac_peer *server = ac_peer_new(t, &fd);
    ac_peer_expect_str(server, "GET / HTTP/1.0\r\nHost: example.test\r\n\r\n");
    ac_peer_send_str(server, "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    ac_peer_close(server);

    /* The transport's connect: a mock that, 50 ms after each call, calls that call's `done` back with
     * fd, which the client then owns. The fd is known only now, so the completion is printed. */
    ac_mock *conn = ac_mock_new(t, "int http_connect(void *ctx, const char *host, int port,"
                                   " void (*done)(int fd, int err, void *ud), void *ud)");
    ac_mock_on_call_completef(conn, ac_deliver_after(0.05), "done(%d, 0, $ud)", fd);
    AC_MOCK_EXPECT(conn, ac_any(), ac_str("example.test"), ac_eq(80), ac_any(), ac_any()); /* once */

    /* The client's completion callback: a mock too, so the outcome is a recorded call. */
    ac_mock *on_response =
        ac_mock_new(t, "void on_response(int status, const char *body, size_t len, int error, void *ud)");

    http_transport tr = {.connect = (http_connect_fn)ac_mock_fn(conn)};
    f->client = http_client_get(ac_loop(t), tr, NULL, "example.test", 80, "/",
                                (http_response_cb)ac_mock_fn(on_response), NULL);
    AC_ASSERT_NOT_NULL(f->client);
    AC_ASSERT_NOT_CALLED(on_response);

    AC_AWAIT_CALLS(t, on_response, 1, 2.0);
    AC_ASSERT_CALLED_WITH(on_response, ac_eq(200), ac_str("hello"), ac_eq(5), ac_eq(0), ac_any());
    AC_ASSERT_EQ(http_client_attempts(f->client), 1);
    AC_AWAIT(t, ac_peer_done(server), 1.0);
}

AC_TEST(http, reads_a_body_without_content_length_up_to_end_of_file) {
    fixture *f = ac_data(t);
    int fd;
    ac_peer *server = server_answering(t, &fd, "GET /index.html HTTP/1.0\r\nHost: example.test:8080\r\n\r\n",
                                       "HTTP/1.0 200 OK\r\nServer: peer\r\n\r\nline one\nline two\n");
    ac_mock *conn = connect_mock(t);
    connects_to(conn, fd, ac_deliver_next_iteration());
    answer_connects(f, conn);

    get_from(t, NULL, "example.test", 8080, "/index.html");
    AC_AWAIT_CALLS(t, f->on_response, 1, 2.0);

    AC_ASSERT_CALLED_WITH(f->on_response, ac_eq(200), ac_str("line one\nline two\n"), ac_eq(18), ac_eq(0),
                          ac_ptr(f));
    AC_ASSERT_CALLED_WITH(conn, ac_ptr(f), ac_str("example.test"), ac_eq(8080), ac_any(), ac_any());
    AC_AWAIT(t, ac_peer_done(server), 1.0);
}

AC_TEST(http, ends_the_body_at_content_length_while_the_connection_stays_open) {
    fixture *f = ac_data(t);
    int fd;
    ac_peer *server = ac_peer_new(t, &fd);
    ac_peer_expect_str(server, REQUEST);
    ac_peer_send_str(server, "HTTP/1.0 200 OK\r\ncontent-length: 5\r\n\r\nhello, and more"); /* no close */
    ac_mock *conn = connect_mock(t);
    connects_to(conn, fd, ac_deliver_next_iteration());
    answer_connects(f, conn);

    get(t, NULL);
    AC_AWAIT_CALLS(t, f->on_response, 1, 1.0); /* well before the 5 s read timeout */

    AC_ASSERT_CALLED_WITH(f->on_response, ac_eq(200), ac_str("hello"), ac_eq(5), ac_eq(0), ac_any());
    AC_AWAIT(t, ac_peer_done(server), 1.0);
}

AC_TEST(http, parses_a_response_that_arrives_one_byte_at_a_time) {
    fixture *f = ac_data(t);
    int fd;
    ac_peer *server = ac_peer_new(t, &fd);
    ac_peer_one_byte_at_a_time(server, true); /* every read the client makes returns a single byte */
    ac_peer_expect_str(server, REQUEST);
    ac_peer_send_str(server, "HTTP/1.0 404 Not Found\r\ncontent-length: 9\r\nX-Padding: \r\n\r\nnot here!");
    ac_peer_close(server);
    ac_mock *conn = connect_mock(t);
    connects_to(conn, fd, ac_deliver_after(0.01));
    answer_connects(f, conn);

    get(t, NULL);
    AC_AWAIT_CALLS(t, f->on_response, 1, 5.0);

    AC_ASSERT_CALLED_WITH(f->on_response, ac_eq(404), ac_str("not here!"), ac_eq(9), ac_eq(0), ac_any());
    AC_ASSERT_CALLED(conn, 1); /* a 4xx is an answer, not retried */
    AC_AWAIT(t, ac_peer_done(server), 1.0);
}

AC_TEST(http, retries_after_two_refused_connects) {
    fixture *f = ac_data(t);
    int fd;
    ac_peer *server = server_answering(t, &fd, REQUEST, HELLO);
    ac_mock *refused = connect_mock(t), *accepted = connect_mock(t);
    refuses(refused, ECONNREFUSED, ac_deliver_after(0.01));
    connects_to(accepted, fd, ac_deliver_after(0.01));
    answer_connects(f, refused, refused, accepted);

    get(t, &(http_options){.max_attempts = 3, .retry_delay = 0.02});
    AC_AWAIT_CALLS(t, f->on_response, 1, 2.0);

    AC_ASSERT_CALLED_WITH(f->on_response, ac_eq(200), ac_str("hello"), ac_eq(5), ac_eq(0), ac_any());
    AC_ASSERT_EQ(http_client_attempts(f->client), 3);
    AC_ASSERT_CALLED(refused, 2);
    AC_ASSERT_CALLED(accepted, 1);
    /* In order, across the mocks: refused, refused, accepted, and only then the response. */
    AC_ASSERT_EQ(ac_mock_log_count(t), 4);
    AC_ASSERT_EQ(ac_mock_call_mock(ac_mock_log_at(t, 0)), refused);
    AC_ASSERT_EQ(ac_mock_call_mock(ac_mock_log_at(t, 1)), refused);
    AC_ASSERT_EQ(ac_mock_call_mock(ac_mock_log_at(t, 2)), accepted);
    AC_ASSERT_EQ(ac_mock_call_mock(ac_mock_log_at(t, 3)), f->on_response);
    AC_AWAIT(t, ac_peer_done(server), 1.0);
}

AC_TEST(http, doubles_the_delay_before_each_retry) {
    fixture *f = ac_data(t);
    ac_mock *refused = connect_mock(t);
    refuses(refused, ECONNREFUSED, ac_deliver_held()); /* each attempt is refused when the test says so */
    answer_connects(f, refused);

    get(t, &(http_options){.max_attempts = 3, .retry_delay = 0.1, .backoff = true});
    double gap[2];
    for (int i = 0; i < 2; i++) {
        AC_AWAIT_CALLS(t, refused, i + 1, 1.0);
        double refused_at = now();
        AC_ASSERT_TRUE(ac_mock_deliver_next(refused));
        AC_AWAIT_CALLS(t, refused, i + 2, 2.0);
        gap[i] = now() - refused_at;
    }
    AC_EXPECT_GE(gap[0], 0.1);
    AC_EXPECT_LT(gap[0], 0.2); /* not doubled yet */
    AC_EXPECT_GE(gap[1], 0.2);
    AC_ASSERT_NOT_CALLED(f->on_response);

    AC_ASSERT_TRUE(ac_mock_deliver_next(refused)); /* the third and last attempt is refused too */
    AC_AWAIT_CALLS(t, f->on_response, 1, 1.0);
    AC_ASSERT_CALLED_WITH(f->on_response, ac_eq(0), ac_str(NULL), ac_eq(0), ac_eq(ECONNREFUSED), ac_any());
    AC_ASSERT_CALLED(refused, 3); /* no fourth */
}

AC_TEST(http, a_connect_that_fails_at_once_is_reported_from_the_loop) {
    fixture *f = ac_data(t);
    ac_mock *conn = connect_mock(t);
    ac_mock_returns(conn, -1); /* fails inside the call, so no done callback */
    ac_mock_sets_errno(conn, ENETUNREACH);
    answer_connects(f, conn);

    get(t, &(http_options){.max_attempts = 1});
    AC_ASSERT_CALLED(conn, 1);
    AC_ASSERT_NOT_CALLED(f->on_response); /* not from inside http_client_get, which is still running */

    AC_AWAIT_CALLS(t, f->on_response, 1, 1.0);
    AC_ASSERT_CALLED_WITH(f->on_response, ac_eq(0), ac_str(NULL), ac_eq(0), ac_eq(ENETUNREACH), ac_any());
    AC_ASSERT_NOT_CALLED(f->cancel); /* no connect was left in progress */
}

AC_TEST(http, retries_a_503_on_a_new_connection) {
    fixture *f = ac_data(t);
    int fd1, fd2;
    ac_peer *busy = server_answering(t, &fd1, REQUEST,
                                     "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy");
    ac_peer *fine = server_answering(t, &fd2, REQUEST, HELLO);
    ac_mock *first = connect_mock(t), *second = connect_mock(t);
    connects_to(first, fd1, ac_deliver_after(0.01));
    connects_to(second, fd2, ac_deliver_after(0.01));
    answer_connects(f, first, second);

    get(t, &(http_options){.retry_delay = 0.02});
    AC_AWAIT_CALLS(t, f->on_response, 1, 2.0);

    AC_ASSERT_CALLED(f->on_response, 1);
    AC_ASSERT_CALLED_WITH(f->on_response, ac_eq(200), ac_str("hello"), ac_eq(5), ac_eq(0), ac_any());
    AC_ASSERT_EQ(http_client_attempts(f->client), 2);
    AC_ASSERT_CALLED(first, 1);
    AC_ASSERT_CALLED(second, 1);
    AC_AWAIT(t, ac_peer_done(busy) && ac_peer_done(fine), 1.0);
}

AC_TEST(http, reports_the_last_5xx_when_the_attempts_run_out) {
    fixture *f = ac_data(t);
    int fd1, fd2;
    ac_peer *a = server_answering(t, &fd1, REQUEST, "HTTP/1.0 500 Oops\r\nContent-Length: 5\r\n\r\noops1");
    ac_peer *b = server_answering(t, &fd2, REQUEST, "HTTP/1.0 502 Bad Gateway\r\n\r\noops2");
    ac_mock *first = connect_mock(t), *second = connect_mock(t);
    connects_to(first, fd1, ac_deliver_next_iteration());
    connects_to(second, fd2, ac_deliver_next_iteration());
    answer_connects(f, first, second);

    get(t, &(http_options){.max_attempts = 2, .retry_delay = 0.01});
    AC_AWAIT_CALLS(t, f->on_response, 1, 2.0);

    AC_ASSERT_CALLED_WITH(f->on_response, ac_eq(502), ac_str("oops2"), ac_eq(5), ac_eq(0), ac_any());
    AC_ASSERT_EQ(http_client_attempts(f->client), 2);
    AC_AWAIT(t, ac_peer_done(a) && ac_peer_done(b), 1.0);
}

AC_TEST(http, times_out_when_the_server_never_answers) {
    fixture *f = ac_data(t);
    int fd;
    ac_peer *server = ac_peer_new(t, &fd);
    ac_peer_expect_str(server, REQUEST); /* it takes the request, and says nothing */
    ac_mock *conn = connect_mock(t);
    connects_to(conn, fd, ac_deliver_next_iteration());
    answer_connects(f, conn);

    double start = now();
    get(t, &(http_options){.read_timeout = 0.2});
    AC_AWAIT(t, ac_peer_done(server), 1.0); /* the request went out */
    AC_ASSERT_NOT_CALLED(f->on_response);
    AC_AWAIT_CALLS(t, f->on_response, 1, 2.0);

    AC_ASSERT_CALLED_WITH(f->on_response, ac_eq(0), ac_str(NULL), ac_eq(0), ac_eq(ETIMEDOUT), ac_any());
    AC_ASSERT_GE(now() - start, 0.2);
    AC_ASSERT_LT(now() - start, 2.0); /* the read timeout, not the default 30 s deadline */
    AC_ASSERT_CALLED(conn, 1);        /* the server may have acted on it: not retried */
}

AC_TEST(http, a_slow_server_is_not_timed_out_while_it_keeps_sending) {
    fixture *f = ac_data(t);
    int fd;
    ac_peer *server = ac_peer_new(t, &fd);
    ac_peer_expect_str(server, REQUEST);
    ac_peer_send_str(server, "HTTP/1.0 200 OK\r\n");
    ac_peer_wait(server, 0.15);
    ac_peer_send_str(server, "Content-Length: 5\r\n\r\n");
    ac_peer_wait(server, 0.15);
    ac_peer_send_str(server, "hello");
    ac_peer_close(server);
    ac_mock *conn = connect_mock(t);
    connects_to(conn, fd, ac_deliver_next_iteration());
    answer_connects(f, conn);

    get(t, &(http_options){.read_timeout = 0.25}); /* less than the 0.3 s the whole answer takes */
    AC_AWAIT_CALLS(t, f->on_response, 1, 2.0);

    AC_ASSERT_CALLED_WITH(f->on_response, ac_eq(200), ac_str("hello"), ac_eq(5), ac_eq(0), ac_any());
    AC_AWAIT(t, ac_peer_done(server), 1.0);
}

AC_TEST(http, gives_up_at_its_deadline_when_connect_never_completes) {
    fixture *f = ac_data(t);
    ac_mock *conn = connect_mock(t);
    refuses(conn, ECONNREFUSED, ac_deliver_never()); /* it never calls back at all */
    answer_connects(f, conn);

    double start = now();
    get(t, &(http_options){.timeout = 0.3});
    AC_AWAIT_CALLS(t, f->on_response, 1, 2.0);

    AC_ASSERT_CALLED_WITH(f->on_response, ac_eq(0), ac_str(NULL), ac_eq(0), ac_eq(ETIME), ac_any());
    AC_ASSERT_GE(now() - start, 0.3);
    AC_ASSERT_CALLED(conn, 1);
    /* and it told the transport to forget that connect: same ctx, same ud */
    void *ud = ac_mock_arg_ptr(ac_mock_call_at(conn, 0), ac_mock_arg_index(conn, "ud"));
    AC_ASSERT_CALLED(f->cancel, 1);
    AC_ASSERT_CALLED_WITH(f->cancel, ac_ptr(f), ac_ptr(ud));
}

AC_TEST(http, reports_once_when_connect_completes_twice) {
    fixture *f = ac_data(t);
    int fd;
    ac_peer *server = server_answering(t, &fd, REQUEST, HELLO); /* a request sent twice would fail it */
    ac_mock *conn = connect_mock(t);
    connects_to(conn, fd,
                ac_deliver_twice(0.05)); /* misbehaving: done(fd, 0, ud), and again an iteration later */
    answer_connects(f, conn);

    get(t, NULL);
    AC_AWAIT_CALLS(t, f->on_response, 1, 2.0);
    AC_AWAIT(t, ac_mock_completion_count(conn) == 2 && ac_peer_done(server), 1.0);

    AC_ASSERT_CALLED(f->on_response, 1);
    AC_ASSERT_CALLED_WITH(f->on_response, ac_eq(200), ac_str("hello"), ac_eq(5), ac_eq(0), ac_any());
    AC_ASSERT_EQ(http_client_attempts(f->client), 1);
}

AC_TEST(http, rejects_a_response_that_is_not_http) {
    fixture *f = ac_data(t);
    int fd;
    ac_peer *server = server_answering(t, &fd, REQUEST, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
    ac_mock *conn = connect_mock(t);
    connects_to(conn, fd, ac_deliver_next_iteration());
    answer_connects(f, conn);

    get(t, NULL);
    AC_AWAIT_CALLS(t, f->on_response, 1, 2.0);

    AC_ASSERT_CALLED_WITH(f->on_response, ac_eq(0), ac_str(NULL), ac_eq(0), ac_eq(EPROTO), ac_any());
    AC_ASSERT_CALLED(conn, 1);
    AC_AWAIT(t, ac_peer_done(server), 1.0);
}

AC_TEST(http, freeing_a_request_cancels_its_connect) {
    fixture *f = ac_data(t);
    ac_mock *conn = connect_mock(t); /* no completion: the connect stays in progress */
    answer_connects(f, conn);

    get(t, NULL);
    AC_AWAIT_CALLS(t, conn, 1, 1.0);
    http_client_free(f->client);
    f->client = NULL;

    void *ud = ac_mock_arg_ptr(ac_mock_call_at(conn, 0), ac_mock_arg_index(conn, "ud"));
    AC_ASSERT_CALLED(f->cancel, 1);
    AC_ASSERT_CALLED_WITH(f->cancel, ac_ptr(f), ac_ptr(ud));
    AC_ASSERT_NOT_CALLED(f->on_response);
}

/* ---- the real TCP transport ---- */

static void server_read_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    tcp_server *s = w->data;
    ssize_t n = recv(s->fd, s->request + s->request_len, sizeof s->request - 1 - s->request_len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0) {
        s->request_len += (size_t)n;
        s->request[s->request_len] = '\0';
        if (!strstr(s->request, "\r\n\r\n") && s->request_len < sizeof s->request - 1)
            return;
        size_t len = strlen(s->reply); /* small: a fresh socket takes it in one send */
        AC_EXPECT_EQ(send(s->fd, s->reply, len, MSG_NOSIGNAL), (ssize_t)len);
    }
    ev_io_stop(loop, w);
    close(s->fd);
    s->fd = -1;
}

static void server_accept_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    tcp_server *s = w->data;
    s->fd = accept(s->listen_fd, NULL, NULL);
    if (s->fd < 0)
        return;
    ev_io_stop(loop, w); /* one connection */
    AC_ASSERT_EQ(fcntl(s->fd, F_SETFL, O_NONBLOCK), 0);
    ev_io_init(&s->io, server_read_cb, s->fd, EV_READ);
    s->io.data = s;
    ev_io_start(loop, &s->io);
}

/* Listens on an ephemeral port of 127.0.0.1 for one request, answered with `reply`; returns the port. */
static int serve_once(ac_test *t, const char *reply) {
    tcp_server *s = &((fixture *)ac_data(t))->srv;
    s->reply = reply;
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    AC_ASSERT_GE(s->listen_fd, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof addr;
    AC_ASSERT_EQ(bind(s->listen_fd, (struct sockaddr *)&addr, sizeof addr), 0);
    AC_ASSERT_EQ(listen(s->listen_fd, 1), 0);
    AC_ASSERT_EQ(getsockname(s->listen_fd, (struct sockaddr *)&addr, &alen), 0);
    ev_io_init(&s->accept_io, server_accept_cb, s->listen_fd, EV_READ);
    s->accept_io.data = s;
    ev_io_start(ac_loop(t), &s->accept_io);
    return ntohs(addr.sin_port);
}

static void get_over_tcp(ac_test *t, const http_options *opt, const char *host, int port, const char *path) {
    fixture *f = ac_data(t);
    f->tcp = http_tcp_new(ac_loop(t));
    AC_ASSERT_NOT_NULL(f->tcp);
    f->client = http_client_get(ac_loop(t), http_tcp_transport(f->tcp), opt, host, port, path,
                                (http_response_cb)ac_mock_fn(f->on_response), f);
    AC_ASSERT_NOT_NULL(f->client);
}

AC_TEST(http_tcp, fetches_a_page_from_a_real_server) {
    fixture *f = ac_data(t);
    int port = serve_once(t, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nfrom a real socket");

    get_over_tcp(t, NULL, "127.0.0.1", port, "/real");
    AC_AWAIT_CALLS(t, f->on_response, 1, 2.0);

    AC_ASSERT_CALLED_WITH(f->on_response, ac_eq(200), ac_str("from a real socket"), ac_eq(18), ac_eq(0),
                          ac_ptr(f));
    char want[128];
    snprintf(want, sizeof want, "GET /real HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", port);
    AC_ASSERT_STR_EQ(f->srv.request, want);
}

/* For AC_MOCK_EXPECT: connect's address argument is 127.0.0.1:*port. It is checked when the call is
 * made: the sockaddr is the caller's, gone after the call, so it cannot be checked afterwards. */
static bool is_loopback_port(const ac_mock_call *call, size_t arg, void *port) {
    const struct sockaddr_in *sin = ac_mock_arg_ptr(call, arg);
    return sin && sin->sin_family == AF_INET && sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
           ntohs(sin->sin_port) == *(int *)port;
}

AC_TEST(http_tcp, reports_a_refused_connection) {
    fixture *f = ac_data(t);
    static int port = 8080;
    ac_mock *conn = ac_mock_new(t, "int connect(int fd, const struct sockaddr *addr, socklen_t len)");
    ac_mock_returns(conn, -1);
    ac_mock_sets_errno(conn, ECONNREFUSED);
    ac_expectation *e = AC_MOCK_EXPECT(conn, ac_any(), ac_that(is_loopback_port, &port, "127.0.0.1:8080"),
                                       ac_eq(sizeof(struct sockaddr_in)));
    ac_expect_times(e, 2);
    ac_mock_replace(conn); /* every connect() in the process, until the test ends */

    get_over_tcp(t, &(http_options){.max_attempts = 2, .retry_delay = 0.01}, "localhost", port, "/");
    AC_AWAIT_CALLS(t, f->on_response, 1, 2.0);

    AC_ASSERT_CALLED_WITH(f->on_response, ac_eq(0), ac_str(NULL), ac_eq(0), ac_eq(ECONNREFUSED), ac_any());
    AC_ASSERT_CALLED(conn, 2);
}

/* ---- under virtual time: minutes of backoff in milliseconds ---- */

/* Every connect is refused, 1 s after the call; the client retries after 1, 2, 4, 8, ... s and gives up
 * at its overall deadline of 5 minutes. Under the virtual clock the whole schedule runs at once, and
 * the times are exact enough to check the schedule itself. */
static double attempt_at[HTTP_MAX_ATTEMPTS];

static void note_attempt(const ac_mock_call *call, void *ret, void *ud) {
    (void)ret, (void)ud;
    attempt_at[ac_mock_call_index(call)] = ac_clock_elapsed(ac_current());
}

AC_TEST(http, backs_off_exponentially_until_its_deadline, .clock = AC_CLOCK_VIRTUAL) {
    fixture *f = ac_data(t);
    ac_mock *refused = connect_mock(t);
    refuses(refused, ECONNREFUSED, ac_deliver_after(1.0));
    ac_mock_does(refused, note_attempt, NULL);
    answer_connects(f, refused);
    http_options opt = {
        .max_attempts = HTTP_MAX_ATTEMPTS, .retry_delay = 1.0, .backoff = true, .timeout = 300};
    get(t, &opt);

    AC_AWAIT_CALLS(t, f->on_response, 1, 600);        /* five virtual minutes */
    AC_EXPECT_NEAR(ac_clock_elapsed(t), 300.0, 0.01); /* gave up exactly at the deadline */
    AC_ASSERT_CALLED_WITH(f->on_response, ac_eq(0), ac_any(), ac_any(), ac_eq(ETIME), ac_any());
    /* attempt k starts after k refusals (1 s each) and delays of 1, 2, 4, ... s */
    size_t attempts = ac_mock_call_count(refused);
    AC_EXPECT_EQ(attempts, 9u); /* at 0, 2, 5, 10, 19, 36, 69, 134, 263 s; the next would be at 520 s */
    double expected = 0, delay = 1.0;
    for (size_t k = 0; k < attempts; k++) {
        AC_EXPECT_NEAR(attempt_at[k], expected, 0.01);
        expected += 1.0 + delay;
        delay *= 2;
    }
}

/* ---- cancelling a request at every point (a cancel sweep over the scripted peer) ---- */

/* A transport whose connect completes on the loop 10 ms later and whose cancel really cancels that: the
 * test's own fake, because a mock's scheduled completion cannot be taken back. */
typedef struct fake_connect {
    ev_timer timer;
    int fd;
    http_connected_cb done;
    void *ud;
} fake_connect;

static void fake_connected(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    fake_connect *c = w->data;
    c->done(c->fd, 0, c->ud);
}

static int fake_connect_start(void *ctx, const char *host, int port, http_connected_cb done, void *ud) {
    (void)host, (void)port;
    fake_connect *c = ctx;
    c->done = done;
    c->ud = ud;
    ev_timer_start(ac_loop(ac_current()), &c->timer);
    return 0;
}

static void fake_connect_cancel(void *ctx, void *ud) {
    (void)ud;
    fake_connect *c = ctx;
    ev_timer_stop(ac_loop(ac_current()), &c->timer);
    close(c->fd); /* the transport owns the fd until it hands it over in done */
    c->fd = -1;
}

static void cancel_request(void *arg) {
    fixture *f = arg;
    http_client_free(f->client); /* the client's cancel: no callback, watchers stopped, fd closed */
    f->client = NULL;
}

/* With .cancel_sweep the runner reruns this test cancelling the request at every cancel point: before
 * anything happened (point 0), after the connect completed, after the request went out, after each part
 * of the answer... until the response has been delivered. Each run checks that the client kept its
 * promise (no callback after the cancel), stopped its watchers and closed its descriptor. The peer's
 * script is abandoned, not failed, in a cancelled run: the client closing its end is the point. */
AC_TEST(http, can_be_cancelled_at_every_point, .clock = AC_CLOCK_VIRTUAL, .cancel_sweep = true) {
    fixture *f = ac_data(t);
    static fake_connect conn;
    conn = (fake_connect){0};
    ac_peer *server = ac_peer_new(t, &conn.fd);
    ac_peer_expect_str(server, REQUEST);
    ac_peer_send_str(server, "HTTP/1.0 200 OK\r\n");
    ac_peer_wait(server, 0.010);
    ac_peer_send_str(server, "Content-Length: 5\r\n\r\nhello");
    ac_peer_close(server);
    ev_timer_init(&conn.timer, fake_connected, 0.010, 0.);
    conn.timer.data = &conn;

    http_transport tr = {.connect = fake_connect_start, .cancel = fake_connect_cancel, .ctx = &conn};
    http_response_cb cb =
        (http_response_cb)ac_op_callback(t, RESPONSE_PROTO, ac_mock_fn(f->on_response), AC_CANCEL_SILENT);
    f->client = http_client_get(ac_loop(t), tr, NULL, "example.test", 80, "/", cb, f);
    AC_ASSERT_NOT_NULL(f->client);
    ac_cancel_with(t, cancel_request, f);

    AC_AWAIT_CALLS(t, f->on_response, 1, 2.0);
    AC_ASSERT_CALLED_WITH(f->on_response, ac_eq(200), ac_str("hello"), ac_eq(5), ac_eq(0), ac_any());
    AC_AWAIT(t, ac_peer_done(server), 1.0);
}
