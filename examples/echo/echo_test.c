/* echo_test.c — the echo server and client (echo_server.h, echo_client.h) tested with asyncheck.
 *
 * It demonstrates how a libev component is tested with asyncheck: a suite whose setup starts a server
 * on the test's own loop, ac_loop(t), and whose teardown stops it; tests that read top to bottom, each
 * step followed by an AC_AWAIT for its effect (which runs the loop until the condition holds, or fails
 * the test after a timeout); an ev_timer that acts later; and an assertion inside a libev callback.
 * There is no main(): the runner's main() runs each test in its own process (try --help).
 *
 * One rule shapes the fixture: after the body returns, asyncheck runs the loop until no watcher is
 * active — so that the server can see the last clients hang up — and fails the test if some still
 * are. Bodies therefore close their clients, and the server's listening watcher, which lives until
 * teardown, is kept from counting (see start_server). */
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
#include <unistd.h>

#include "echo_client.h"
#include "echo_server.h"

/* ---- the fixture ---- */

/* A client under test, and what happened to it. */
typedef struct peer {
    echo_client *client;
    size_t lines;  /* lines received */
    char got[512]; /* the lines received, each with its '\n' back: "one\ntwo\n" */
    size_t got_len;
    bool closed; /* on_close was called, with: */
    int error;
} peer;

/* A socket of the test's own that holds a port on 127.0.0.1, to stand in for the server. */
typedef struct stub {
    int listen_fd; /* bound; listening or not (see stub_open); -1: not open */
    int fd;        /* the connection stub_accept took, or -1 */
    ev_io io;      /* reads from fd */
    size_t received;
    bool in_order; /* every byte received so far was pattern_byte(its offset) */
} stub;

#define MAX_PEERS 32

typedef struct fixture {
    echo_server *server;
    peer peers[MAX_PEERS]; /* connected by the test; closed by it, or by teardown if it failed */
    size_t npeers;
    ev_timer later; /* send_later: sends later_text on later_peer */
    peer *later_peer;
    const char *later_text;
    stub stub;
} fixture;

static void start_server(ac_test *t) {
    fixture *f = calloc(1, sizeof *f);
    AC_ASSERT_NOT_NULL(f);
    f->stub.listen_fd = f->stub.fd = -1;
    ev_io_init(&f->stub.io, NULL, -1, EV_READ);
    ev_timer_init(&f->later, NULL, 0., 0.); /* set up properly by send_later; stoppable before that */
    ac_set_data(t, f);

    /* The listening watcher stays active until teardown. That is fine: after the body, asyncheck only
     * waits for the watchers the body started to finish; what setup left running is the fixture's. */
    f->server = echo_server_start(ac_loop(t), 0);
    AC_ASSERT_NOT_NULL(f->server);
    AC_ASSERT_NE(echo_server_port(f->server), 0);
}

/* Stops the server; for teardown and for tests that stop it themselves. */
static void stop_server(ac_test *t) {
    fixture *f = ac_data(t);
    if (f->server) {
        echo_server_stop(f->server);
        f->server = NULL;
    }
}

static void stub_close(ac_test *t);

static void teardown(ac_test *t) {
    fixture *f = ac_data(t);
    if (!f)
        return;
    for (size_t i = 0; i < f->npeers; i++)
        echo_client_close(f->peers[i].client); /* the ones a failed test left open */
    ev_timer_stop(ac_loop(t), &f->later);
    stop_server(t);
    stub_close(t);
    free(f);
}

AC_SUITE(echo, .setup = start_server, .teardown = teardown);

/* ---- peers ---- */

static void record_line(void *ud, const char *line, size_t len) {
    peer *p = ud;
    p->lines++;
    /* Keep as much as fits; a test that looks at got never expects more. */
    if (p->got_len + len + 2 <= sizeof p->got) {
        memcpy(p->got + p->got_len, line, len);
        p->got_len += len;
        p->got[p->got_len++] = '\n';
        p->got[p->got_len] = '\0';
    }
}

static void record_close(void *ud, int error) {
    peer *p = ud;
    p->closed = true;
    p->error = error;
}

/* Connects a new peer to 127.0.0.1:port, handing received lines to on_line. */
static peer *connect_with(ac_test *t, uint16_t port, echo_client_line_cb on_line) {
    fixture *f = ac_data(t);
    AC_ASSERT_LT(f->npeers, MAX_PEERS);
    peer *p = &f->peers[f->npeers++];
    p->client = echo_client_connect(ac_loop(t), port, on_line, record_close, p);
    AC_ASSERT_NOT_NULL(p->client);
    return p;
}

static peer *connect_peer(ac_test *t) {
    fixture *f = ac_data(t);
    return connect_with(t, echo_server_port(f->server), record_line);
}

static void close_peer(peer *p) {
    echo_client_close(p->client);
    p->client = NULL;
}

static void send_text(peer *p, const char *text) {
    AC_ASSERT_TRUE(echo_client_send(p->client, text, strlen(text)));
}

static void later_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    fixture *f = w->data;
    send_text(f->later_peer, f->later_text); /* an assertion in a callback fails the test the same */
}

/* Sends `text` on p after `delay` seconds, from an ev_timer; the test goes on meanwhile. */
static void send_later(ac_test *t, peer *p, const char *text, double delay) {
    fixture *f = ac_data(t);
    f->later_peer = p;
    f->later_text = text;
    ev_timer_init(&f->later, later_cb, delay, 0.);
    f->later.data = f;
    ev_timer_start(ac_loop(t), &f->later);
}

/* ---- the stub ---- */

static unsigned char pattern_byte(size_t offset) {
    return (unsigned char)(offset % 251);
}

/* Opens the stub on an ephemeral port and returns the port. Listening, connections wait in its
 * backlog until stub_accept; not listening, they are refused (and no other test can take the port,
 * as it could one that was merely closed). */
static uint16_t stub_open(ac_test *t, bool listening) {
    stub *s = &((fixture *)ac_data(t))->stub;
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    AC_ASSERT_GE(s->listen_fd, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof addr;
    AC_ASSERT_EQ(bind(s->listen_fd, (struct sockaddr *)&addr, sizeof addr), 0);
    if (listening)
        AC_ASSERT_EQ(listen(s->listen_fd, 8), 0);
    AC_ASSERT_EQ(getsockname(s->listen_fd, (struct sockaddr *)&addr, &alen), 0);
    return ntohs(addr.sin_port);
}

static void stub_read_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    stub *s = w->data;
    unsigned char buf[65536];
    ssize_t n = recv(s->fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        ev_io_stop(loop, w); /* the client hung up */
        return;
    }
    for (size_t i = 0; i < (size_t)n; i++)
        s->in_order &= buf[i] == pattern_byte(s->received + i);
    s->received += (size_t)n;
}

/* Accepts the connection waiting on the stub and starts reading it. */
static void stub_accept(ac_test *t) {
    stub *s = &((fixture *)ac_data(t))->stub;
    s->fd = accept(s->listen_fd, NULL, NULL);
    AC_ASSERT_GE(s->fd, 0);
    AC_ASSERT_EQ(fcntl(s->fd, F_SETFL, O_NONBLOCK), 0);
    s->in_order = true;
    ev_io_init(&s->io, stub_read_cb, s->fd, EV_READ);
    s->io.data = s;
    ev_io_start(ac_loop(t), &s->io);
}

static void stub_close(ac_test *t) {
    stub *s = &((fixture *)ac_data(t))->stub;
    ev_io_stop(ac_loop(t), &s->io);
    if (s->fd >= 0)
        close(s->fd);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    s->fd = s->listen_fd = -1;
}

/* ---- the tests ---- */

AC_TEST(echo, echoes_a_line) {
    fixture *f = ac_data(t);
    peer *p = connect_peer(t);

    AC_ASSERT_TRUE(echo_client_send_line(p->client, "hello"));
    AC_AWAIT(t, p->lines == 1, 2.0);

    AC_ASSERT_STR_EQ(p->got, "hello\n");
    AC_EXPECT_EQ(echo_server_clients(f->server), 1);
    AC_EXPECT_EQ(echo_server_lines(f->server), 1);
    close_peer(p);
}

AC_TEST(echo, echoes_several_lines_sent_in_one_write) {
    peer *p = connect_peer(t);

    send_text(p, "one\ntwo\nthree\n");
    AC_AWAIT(t, p->lines == 3, 2.0);

    AC_ASSERT_STR_EQ(p->got, "one\ntwo\nthree\n");
    close_peer(p);
}

AC_TEST(echo, joins_a_line_split_across_writes) {
    fixture *f = ac_data(t);
    peer *p = connect_peer(t);

    send_text(p, "hel");
    AC_AWAIT(t, echo_server_buffered(f->server) == 3, 2.0); /* the server holds the first half */
    AC_ASSERT_EQ(p->lines, 0);                              /* and has echoed nothing yet */

    send_later(t, p, "lo, world\n", 0.05); /* the rest arrives 50 ms later, in a read of its own */
    AC_AWAIT(t, p->lines == 1, 2.0);

    AC_ASSERT_STR_EQ(p->got, "hello, world\n");
    AC_ASSERT_EQ(echo_server_buffered(f->server), 0);
    close_peer(p);
}

static size_t peers_with_lines(fixture *f, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < f->npeers; i++)
        count += f->peers[i].lines >= n;
    return count;
}

AC_TEST(echo, many_clients_each_get_only_their_own_lines) {
    enum { N = 20 };
    fixture *f = ac_data(t);
    peer *peers[N];
    char line[64];
    for (int i = 0; i < N; i++) {
        peers[i] = connect_peer(t);
        snprintf(line, sizeof line, "client %d says hi", i);
        AC_ASSERT_TRUE(echo_client_send_line(peers[i]->client, line));
    }
    AC_AWAIT(t, peers_with_lines(f, 1) == N, 5.0);
    AC_ASSERT_EQ(echo_server_clients(f->server), N); /* all connected at once */

    for (int i = 0; i < N; i++) {
        snprintf(line, sizeof line, "client %d says bye", i);
        AC_ASSERT_TRUE(echo_client_send_line(peers[i]->client, line));
    }
    AC_AWAIT(t, peers_with_lines(f, 2) == N, 5.0);

    char want[128];
    for (int i = 0; i < N; i++) {
        snprintf(want, sizeof want, "client %d says hi\nclient %d says bye\n", i, i);
        AC_EXPECT_STR_EQ(peers[i]->got, want); /* EXPECT: report every client that is wrong */
    }
    for (int i = 0; i < N; i++)
        close_peer(peers[i]);
}

AC_TEST(echo, notices_when_a_client_disconnects) {
    fixture *f = ac_data(t);
    peer *p = connect_peer(t);

    send_text(p, "bye\nhalf a li");
    AC_AWAIT(t, p->lines == 1 && echo_server_buffered(f->server) == 9, 2.0);
    AC_ASSERT_EQ(echo_server_clients(f->server), 1);

    close_peer(p);
    AC_AWAIT(t, echo_server_clients(f->server) == 0, 2.0);
    AC_ASSERT_EQ(echo_server_buffered(f->server), 0); /* the incomplete line went with it */
}

AC_TEST(echo, connecting_to_a_closed_port_reports_the_error) {
    uint16_t port = stub_open(t, false); /* bound, never listening: connections are refused */

    peer *p = connect_with(t, port, record_line);
    AC_ASSERT_FALSE(p->closed); /* never reported from inside echo_client_connect */
    AC_ASSERT_TRUE(echo_client_send_line(p->client, "anyone?")); /* queued until the outcome is known */
    AC_AWAIT(t, p->closed, 2.0);

    AC_ASSERT_EQ(p->error, ECONNREFUSED);
    AC_ASSERT_EQ(p->lines, 0);
    AC_ASSERT_FALSE(echo_client_is_open(p->client));
    AC_ASSERT_FALSE(echo_client_send_line(p->client, "too late"));
    close_peer(p);
    stub_close(t);
}

/* Fault injection on the client's own connect: when it is refused (on the client's non-blocking socket
 * the refusal comes later, through SO_ERROR), the client reports ECONNREFUSED once and drops the queued
 * line; when it is not, the line echoes. */
AC_TEST(echo, a_refused_connect_is_reported_once, .fault_sweep = "connect") {
    ac_fault_start(t);
    peer *p = connect_peer(t);
    AC_ASSERT_TRUE(echo_client_send_line(p->client, "hi"));
    AC_AWAIT(t, p->lines == 1 || p->closed, 2.0);
    if (p->closed) {
        AC_EXPECT_EQ(p->error, ECONNREFUSED);
        AC_EXPECT_EQ(p->lines, 0);
    } else {
        AC_EXPECT_STR_EQ(p->got, "hi\n");
    }
    close_peer(p);
}

AC_TEST(echo, stopping_the_server_closes_every_connection) {
    fixture *f = ac_data(t);
    peer *a = connect_peer(t), *b = connect_peer(t);
    send_text(a, "a\n");
    send_text(b, "b\n");
    AC_AWAIT(t, a->lines == 1 && b->lines == 1, 2.0);
    AC_ASSERT_EQ(echo_server_clients(f->server), 2);

    stop_server(t);
    AC_AWAIT(t, a->closed && b->closed, 2.0);

    AC_EXPECT_EQ(a->error, 0); /* 0: an orderly close by the server, not an error */
    AC_EXPECT_EQ(b->error, 0);
    close_peer(a);
    close_peer(b);
}

AC_TEST(echo, closes_a_client_whose_line_is_too_long) {
    fixture *f = ac_data(t);
    peer *p = connect_peer(t);
    static char huge[ECHO_SERVER_MAX_LINE + 4096];
    memset(huge, 'x', sizeof huge); /* no '\n' anywhere */
    AC_ASSERT_TRUE(echo_client_send(p->client, huge, sizeof huge));

    AC_AWAIT(t, p->closed, 2.0);
    AC_ASSERT_EQ(p->lines, 0);
    AC_ASSERT_EQ(echo_server_clients(f->server), 0);
    AC_ASSERT_EQ(echo_server_buffered(f->server), 0);
    close_peer(p);
}

/* Line i of the bulk test: "000123 xxx...x", 100 bytes. */
static void numbered_line(char *buf, size_t size, size_t i) {
    int n = snprintf(buf, size, "%06zu ", i);
    memset(buf + n, 'x', 99 - (size_t)n);
    buf[99] = '\0';
}

static void check_numbered_line(void *ud, const char *line, size_t len) {
    peer *p = ud;
    char want[100];
    numbered_line(want, sizeof want, p->lines);
    AC_ASSERT_EQ(len, strlen(want));
    AC_ASSERT_STR_EQ(line, want); /* fails the test from inside the client's libev callback */
    p->lines++;
}

AC_TEST(echo, holds_echoes_for_a_slow_reader_and_keeps_them_in_order) {
    enum { ROUND = 10000, MAX_LINES = 100 * ROUND }; /* 1 MB a round; give up after 100 MB */
    fixture *f = ac_data(t);
    peer *p = connect_with(t, echo_server_port(f->server), check_numbered_line);
    echo_client_pause(p->client, true); /* read no replies for now */

    /* Send a megabyte at a time until the client's socket is full and so much echo waits in the
     * server that it stops reading (how much that takes depends on the kernel's socket buffers). */
    size_t sent = 0;
    char line[100];
    while (echo_server_unsent(f->server) <= ECHO_SERVER_MAX_UNSENT) {
        AC_ASSERT_LT(sent, MAX_LINES);
        for (size_t end = sent + ROUND; sent < end; sent++) {
            numbered_line(line, sizeof line, sent);
            AC_ASSERT_TRUE(echo_client_send_line(p->client, line));
        }
        AC_AWAIT(
            t, echo_server_lines(f->server) == sent || echo_server_unsent(f->server) > ECHO_SERVER_MAX_UNSENT,
            5.0);
    }
    AC_ASSERT_EQ(p->lines, 0);

    /* Once the client reads again, every echo arrives, in order (check_numbered_line checks each). */
    echo_client_pause(p->client, false);
    AC_AWAIT(t, p->lines == sent || p->closed, 10.0);
    AC_ASSERT_FALSE(p->closed);
    AC_ASSERT_EQ(p->lines, sent);
    AC_ASSERT_EQ(echo_server_lines(f->server), sent);
    AC_ASSERT_EQ(echo_server_unsent(f->server), 0);
    close_peer(p);
}

AC_TEST(echo, client_holds_what_the_socket_cannot_take_yet) {
    enum { TOTAL = 16 * 1024 * 1024 }; /* more than loopback sockets hold with default settings */
    fixture *f = ac_data(t);
    static unsigned char data[TOTAL];
    for (size_t i = 0; i < TOTAL; i++)
        data[i] = pattern_byte(i);
    uint16_t port = stub_open(t, true); /* a server that does not accept, let alone read, yet */
    peer *p = connect_with(t, port, record_line);

    AC_ASSERT_TRUE(echo_client_send(p->client, data, TOTAL));
    AC_AWAIT(t, echo_client_unsent(p->client) < TOTAL, 2.0); /* the socket took what it could */

    /* Everything arrives once someone reads, nothing lost or reordered. */
    stub_accept(t);
    AC_AWAIT(t, f->stub.received == TOTAL, 5.0);
    AC_ASSERT_TRUE(f->stub.in_order);
    AC_ASSERT_EQ(echo_client_unsent(p->client), 0);
    close_peer(p);
    stub_close(t);
}
