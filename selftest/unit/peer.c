/* peer.c — the scripted peer (asyncheck/io.h) against a real libev client written here: a conversation,
 * bytes that arrive in pieces both ways, waits that last, end-of-file after close and half-close, a reset
 * over TCP, one-byte mode (every read the code makes returns one byte; large writes come back short),
 * binary data, and the runner's drain finishing a script the body did not wait for. Failures of scripts
 * are checked from outside by meta/meta_peer.c. */
#include <asyncheck.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h" /* ac__monotonic: the real clock, whatever the test's clock */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- a client that does everything right: writes all of its request however short each write(),
 * reads until it has `want` bytes (0: until end-of-file), and counts what the socket did to it ---- */

typedef struct client {
    struct ev_loop *loop;
    int fd;
    ev_io rio, wio;
    ev_timer later; /* writes `out2` after a delay */
    const char *out, *out2, *on_eof;
    size_t out_len, out_off, out2_len;
    unsigned char in[65536];
    size_t in_len, want;
    size_t reads, max_read;          /* read() calls that returned bytes, and the largest */
    size_t short_writes, eagain;     /* writes that took less than offered, or nothing */
    double written_at, chunk_at[16]; /* when the request was written; when each read returned */
    bool eof, done;
    int read_errno, write_errno_after_eof;
    bool keep_write_error; /* a failing write is recorded in write_errno instead of failing the test */
    int write_errno;
} client;

static void client_write_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    client *c = w->data;
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN) {
            c->eagain++;
            return;
        }
        if (n < 0 && c->keep_write_error) {
            c->write_errno = errno;
            ev_io_stop(loop, w);
            return;
        }
        AC_ASSERT_GT(n, 0);
        if ((size_t)n < c->out_len - c->out_off)
            c->short_writes++;
        c->out_off += (size_t)n;
    }
    c->written_at = now();
    ev_io_stop(loop, w);
}

static void client_send(client *c, const char *bytes, size_t n) {
    c->out = bytes;
    c->out_len = n;
    c->out_off = 0;
    ev_io_start(c->loop, &c->wio);
}

static void client_read_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    client *c = w->data;
    size_t room = sizeof c->in - c->in_len;
    if (c->want && c->want - c->in_len < room)
        room = c->want - c->in_len;
    ssize_t n = read(c->fd, c->in + c->in_len, room);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n < 0) {
        c->read_errno = errno;
        c->done = true;
        ev_io_stop(loop, w);
        return;
    }
    if (n == 0) {
        c->eof = true;
        ev_io_stop(loop, w);
        if (c->on_eof)
            client_send(c, c->on_eof, strlen(c->on_eof));
        else
            c->done = true;
        return;
    }
    if (c->reads < 16)
        c->chunk_at[c->reads] = now();
    c->reads++;
    if ((size_t)n > c->max_read)
        c->max_read = (size_t)n;
    c->in_len += (size_t)n;
    if (c->want && c->in_len == c->want) {
        c->done = true;
        ev_io_stop(loop, w);
    }
}

static void client_later_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    client *c = w->data;
    client_send(c, c->out2, c->out2_len);
}

/* Clients live on the heap and are stopped, closed and freed by the suite's teardown, so that a failing
 * test leaves nothing behind (also under --no-fork). */
#define MAX_CLIENTS 2
typedef struct clients {
    client *c[MAX_CLIENTS];
    size_t n;
} clients;

static client *client_new(ac_test *t, int fd, size_t want) {
    clients *all = ac_data(t);
    if (!all) {
        all = calloc(1, sizeof *all);
        ac_set_data(t, all);
    }
    AC_ASSERT_LT(all->n, (size_t)MAX_CLIENTS);
    client *c = calloc(1, sizeof *c);
    all->c[all->n++] = c;
    c->loop = ac_loop(t);
    c->fd = fd;
    c->want = want;
    ev_io_init(&c->rio, client_read_cb, fd, EV_READ);
    ev_io_init(&c->wio, client_write_cb, fd, EV_WRITE);
    ev_timer_init(&c->later, client_later_cb, 0., 0.);
    c->rio.data = c->wio.data = c->later.data = c;
    ev_io_start(c->loop, &c->rio);
    return c;
}

static void stop_clients(ac_test *t) {
    clients *all = ac_data(t);
    if (!all)
        return;
    for (size_t i = 0; i < all->n; i++) {
        client *c = all->c[i];
        ev_io_stop(c->loop, &c->rio);
        ev_io_stop(c->loop, &c->wio);
        ev_timer_stop(c->loop, &c->later);
        close(c->fd);
        free(c);
    }
    free(all);
    ac_set_data(t, NULL);
}

AC_SUITE(peer, .teardown = stop_clients, .timeout = 10);

/* ---- a conversation ---- */

AC_TEST(peer, request_and_reply) {
    int fd;
    ac_peer *p = ac_peer_new(t, &fd);
    ac_peer_expect_str(p, "HELO me\r\n");
    ac_peer_send_str(p, "250 hi\r\n");
    client *c = client_new(t, fd, 8);
    client_send(c, "HELO me\r\n", 9);
    AC_AWAIT(t, c->done && ac_peer_done(p), 2.0);
    AC_ASSERT_EQ(c->in_len, 8u);
    AC_ASSERT_MEM_EQ(c->in, "250 hi\r\n", 8);
}

AC_TEST(peer, done_follows_the_script_and_the_script_can_grow) {
    int fd;
    ac_peer *p = ac_peer_new(t, &fd);
    AC_ASSERT_TRUE(ac_peer_done(p)); /* nothing to do yet */
    ac_peer_expect_str(p, "one\n");
    AC_ASSERT_FALSE(ac_peer_done(p));
    client *c = client_new(t, fd, 0);
    client_send(c, "one\n", 4);
    AC_AWAIT(t, ac_peer_done(p), 2.0);
    ac_peer_send_str(p, "two\n"); /* more steps after the first ones were done */
    AC_ASSERT_FALSE(ac_peer_done(p));
    ac_peer_close(p);
    AC_AWAIT(t, c->done && ac_peer_done(p), 2.0);
    AC_ASSERT_TRUE(c->eof);
    AC_ASSERT_EQ(c->in_len, 4u);
    AC_ASSERT_MEM_EQ(c->in, "two\n", 4);
}

/* The code writes its request in two pieces 50 ms apart: the expect step takes them as they come, and the
 * peer answers only once the whole request is there. */
AC_TEST(peer, expect_takes_bytes_in_pieces) {
    int fd;
    ac_peer *p = ac_peer_new(t, &fd);
    ac_peer_expect_str(p, "PING\n");
    ac_peer_send_str(p, "PONG\n");
    client *c = client_new(t, fd, 5);
    c->out2 = "NG\n";
    c->out2_len = 3;
    client_send(c, "PI", 2);
    ev_timer_set(&c->later, 0.05, 0.);
    ev_timer_start(ac_loop(t), &c->later);
    AC_AWAIT(t, c->out == c->out2, 2.0); /* the second piece is about to go */
    AC_ASSERT_EQ(c->in_len, 0u);         /* no answer to half a request */
    AC_ASSERT_FALSE(ac_peer_done(p));
    AC_AWAIT(t, c->done && ac_peer_done(p), 2.0);
    AC_ASSERT_MEM_EQ(c->in, "PONG\n", 5);
}

/* The peer's reply comes in two sends with a wait between them: the client sees two reads, and the second
 * part no earlier than the wait allows. */
AC_TEST(peer, partial_sends_and_waits) {
    int fd;
    ac_peer *p = ac_peer_new(t, &fd);
    ac_peer_expect_str(p, "REQ\n");
    ac_peer_send_str(p, "HEL");
    ac_peer_wait(p, 0.2);
    ac_peer_send_str(p, "LO\n");
    client *c = client_new(t, fd, 6);
    double start = now();
    client_send(c, "REQ\n", 4);
    AC_AWAIT(t, c->done && ac_peer_done(p), 2.0);
    AC_ASSERT_MEM_EQ(c->in, "HELLO\n", 6);
    AC_ASSERT_EQ(c->reads, 2u);
    AC_ASSERT_GE(c->chunk_at[1] - start, 0.2); /* the wait cannot have started before the request */
    AC_ASSERT_LT(c->chunk_at[1] - start, 1.0);
}

/* The code writes before the peer has sent what comes first in the script: the bytes wait in the peer's
 * inbox until their expect step is reached. */
AC_TEST(peer, the_code_may_write_ahead_of_the_script) {
    int fd;
    ac_peer *p = ac_peer_new(t, &fd);
    ac_peer_send_str(p, "220 banner\r\n");
    ac_peer_wait(p, 0.05);
    ac_peer_expect_str(p, "QUIT\r\n");
    ac_peer_send_str(p, "221 bye\r\n");
    ac_peer_close(p);
    client *c = client_new(t, fd, 0);
    client_send(c, "QUIT\r\n", 6); /* before reading the banner */
    AC_AWAIT(t, c->done && ac_peer_done(p), 2.0);
    AC_ASSERT_EQ(c->in_len, 21u);
    AC_ASSERT_MEM_EQ(c->in, "220 banner\r\n221 bye\r\n", 21);
}

/* ---- the end of the connection ---- */

AC_TEST(peer, close_gives_the_code_end_of_file_then_epipe) {
    int fd;
    ac_peer *p = ac_peer_new(t, &fd);
    ac_peer_expect_str(p, "BYE\n");
    ac_peer_send_str(p, "ok\n");
    ac_peer_close(p);
    client *c = client_new(t, fd, 0);
    client_send(c, "BYE\n", 4);
    AC_AWAIT(t, c->done && ac_peer_done(p), 2.0);
    AC_ASSERT_TRUE(c->eof);
    AC_ASSERT_EQ(c->read_errno, 0);
    AC_ASSERT_MEM_EQ(c->in, "ok\n", 3);
    AC_ASSERT_EQ(send(fd, "x", 1, MSG_NOSIGNAL), -1);
    AC_ASSERT_EQ(errno, EPIPE);
}

/* Half-close: the code reads end-of-file, and the script still expects its answer. */
AC_TEST(peer, shutdown_write_then_expect) {
    int fd;
    ac_peer *p = ac_peer_new(t, &fd);
    ac_peer_send_str(p, "data");
    ac_peer_shutdown_write(p);
    ac_peer_expect_str(p, "ack");
    ac_peer_close(p);
    client *c = client_new(t, fd, 0);
    c->on_eof = "ack"; /* answers once it has read everything */
    AC_AWAIT(t, ac_peer_done(p), 2.0);
    AC_ASSERT_TRUE(c->eof);
    AC_ASSERT_MEM_EQ(c->in, "data", 4);
    AC_ASSERT_EQ(c->out_off, 3u);
}

AC_TEST(peer, tcp_conversation) {
    int fd;
    ac_peer *p = ac_peer_new_tcp(t, &fd);
    ac_peer_expect_str(p, "GET / HTTP/1.0\r\n\r\n");
    ac_peer_send_str(p, "HTTP/1.0 200 OK\r\n\r\n");
    ac_peer_close(p);
    client *c = client_new(t, fd, 0);
    client_send(c, "GET / HTTP/1.0\r\n\r\n", 18);
    AC_AWAIT(t, c->done && ac_peer_done(p), 2.0);
    AC_ASSERT_TRUE(c->eof);
    AC_ASSERT_EQ(c->in_len, 19u);
    AC_ASSERT_MEM_EQ(c->in, "HTTP/1.0 200 OK\r\n\r\n", 19);
}

/* A reset over TCP: what was sent before still arrives, then the code's read fails with ECONNRESET. */
AC_TEST(peer, tcp_reset_fails_the_codes_read_with_econnreset) {
    int fd;
    ac_peer *p = ac_peer_new_tcp(t, &fd);
    ac_peer_send_str(p, "partial");
    ac_peer_reset(p);
    client *c = client_new(t, fd, 0);
    AC_AWAIT(t, c->done && ac_peer_done(p), 2.0);
    AC_ASSERT_FALSE(c->eof);
    AC_ASSERT_EQ(c->read_errno, ECONNRESET);
    AC_ASSERT_EQ(c->in_len, 7u);
    AC_ASSERT_MEM_EQ(c->in, "partial", 7);
}

/* ---- the code gives up: a hang-up over bytes it wrote that nobody reads ---- */

/* A server answers a request with more than the socket holds; the client (the peer) gives up after a
 * while without reading any of it. The test passes, the server's writes stall (the peer stopped reading),
 * and once the peer has hung up they fail with ECONNRESET or EPIPE. */
static void hang_up_over_a_large_answer(ac_test *t, bool tcp) {
    static char answer[1 << 20];
    memset(answer, 'a', sizeof answer);
    int fd;
    ac_peer *p = tcp ? ac_peer_new_tcp(t, &fd) : ac_peer_new(t, &fd);
    ac_peer_send_str(p, "GET /big\n");
    ac_peer_wait(p, 0.1); /* the server starts answering meanwhile */
    if (tcp)
        ac_peer_reset_unread(p);
    else
        ac_peer_close_unread(p);
    if (tcp) { /* else TCP's send buffer grows to take in the whole answer */
        int small = 4096;
        AC_ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    }
    client *c = client_new(t, fd, 9);
    c->keep_write_error = true;
    AC_AWAIT(t, c->done, 2.0);
    AC_ASSERT_MEM_EQ(c->in, "GET /big\n", 9);
    client_send(c, answer, sizeof answer);
    AC_AWAIT(t, c->write_errno != 0, 2.0);
    AC_ASSERT_TRUE(ac_peer_done(p));
    AC_EXPECT_GT(c->out_off, 0u);
    AC_EXPECT_LT(c->out_off, sizeof answer); /* the peer read none of it: the writes stalled */
    AC_EXPECT_GE(c->eagain, 1u);
    AC_EXPECT_TRUE(c->write_errno == ECONNRESET || c->write_errno == EPIPE);
    AC_ASSERT_EQ(send(fd, "x", 1, MSG_NOSIGNAL), -1); /* and so does any later write */
    AC_EXPECT_TRUE(errno == ECONNRESET || errno == EPIPE);
}

AC_TEST(peer, close_unread_hangs_up_over_what_the_code_wrote) {
    hang_up_over_a_large_answer(t, false);
}

AC_TEST(peer, tcp_reset_unread_hangs_up_over_what_the_code_wrote) {
    hang_up_over_a_large_answer(t, true);
}

/* The bytes after the last expect step were read already, with the request: dropped, not unexpected. */
AC_TEST(peer, close_unread_drops_bytes_already_read) {
    int fd;
    ac_peer *p = ac_peer_new(t, &fd);
    ac_peer_expect_str(p, "REQ\n");
    ac_peer_close_unread(p);
    client *c = client_new(t, fd, 0);
    c->keep_write_error = true;
    client_send(c, "REQ\nand more the peer never reads", 33);
    AC_AWAIT(t, ac_peer_done(p) && c->done, 2.0);
    AC_EXPECT_EQ(c->out_off, 33u);
    AC_EXPECT_EQ(send(fd, "x", 1, MSG_NOSIGNAL), -1);
    AC_EXPECT_TRUE(errno == ECONNRESET || errno == EPIPE);
}

/* Nothing unread: a plain close, end-of-file for the code, then EPIPE. */
AC_TEST(peer, close_unread_over_nothing_is_a_close) {
    int fd;
    ac_peer *p = ac_peer_new(t, &fd);
    ac_peer_send_str(p, "bye");
    ac_peer_close_unread(p);
    client *c = client_new(t, fd, 0);
    AC_AWAIT(t, c->done && ac_peer_done(p), 2.0);
    AC_ASSERT_TRUE(c->eof);
    AC_ASSERT_EQ(c->read_errno, 0);
    AC_ASSERT_MEM_EQ(c->in, "bye", 3);
    AC_ASSERT_EQ(send(fd, "x", 1, MSG_NOSIGNAL), -1);
    AC_ASSERT_EQ(errno, EPIPE);
}

/* ---- one byte at a time ---- */

/* Every read the client makes returns exactly one byte, and a client that reassembles passes. */
AC_TEST(peer, one_byte_mode_reads_return_one_byte) {
    static char reply[300];
    for (size_t i = 0; i < sizeof reply; i++)
        reply[i] = (char)('a' + i % 26);
    int fd;
    ac_peer *p = ac_peer_new(t, &fd);
    ac_peer_one_byte_at_a_time(p, true);
    ac_peer_expect_str(p, "GET\n");
    ac_peer_send(p, reply, sizeof reply);
    client *c = client_new(t, fd, sizeof reply);
    client_send(c, "GET\n", 4);
    AC_AWAIT(t, c->done && ac_peer_done(p), 5.0);
    AC_ASSERT_EQ(c->max_read, 1u);
    AC_ASSERT_EQ(c->reads, sizeof reply);
    AC_ASSERT_MEM_EQ(c->in, reply, sizeof reply);
}

/* A large request: with the code's send buffer shrunk and the peer reading a byte per iteration, the
 * client's writes come back short and then with EAGAIN, and a client that handles both passes. */
AC_TEST(peer, one_byte_mode_makes_large_writes_short) {
    static char request[20000];
    for (size_t i = 0; i < sizeof request; i++)
        request[i] = (char)('A' + i % 23);
    int fd;
    ac_peer *p = ac_peer_new(t, &fd);
    ac_peer_one_byte_at_a_time(p, true);
    ac_peer_expect(p, request, sizeof request);
    ac_peer_send_str(p, "ok");
    client *c = client_new(t, fd, 2);
    client_send(c, request, sizeof request);
    AC_AWAIT(t, c->done && ac_peer_done(p), 8.0);
    AC_ASSERT_GE(c->short_writes, 1u);
    AC_ASSERT_GE(c->eagain, 1u);
    AC_ASSERT_MEM_EQ(c->in, "ok", 2);
}

/* Off again: the same request goes out in one write. */
AC_TEST(peer, one_byte_mode_can_be_turned_off) {
    static char request[20000];
    memset(request, 'r', sizeof request);
    int fd;
    ac_peer *p = ac_peer_new(t, &fd);
    ac_peer_one_byte_at_a_time(p, true);
    ac_peer_one_byte_at_a_time(p, false);
    ac_peer_expect(p, request, sizeof request);
    ac_peer_send_str(p, "reply");
    client *c = client_new(t, fd, 5);
    client_send(c, request, sizeof request);
    AC_AWAIT(t, c->done && ac_peer_done(p), 2.0);
    AC_ASSERT_EQ(c->short_writes, 0u);
    AC_ASSERT_EQ(c->eagain, 0u);
    AC_ASSERT_EQ(c->reads, 1u);
}

/* Over TCP too: the reply arrives in many reads, and a large request (TCP takes in more than a socketpair
 * before a write comes back short) in short writes. */
AC_TEST(peer, tcp_one_byte_mode) {
    static char request[200000], reply[300];
    memset(request, 'r', sizeof request);
    memset(reply, 'R', sizeof reply);
    int fd;
    ac_peer *p = ac_peer_new_tcp(t, &fd);
    ac_peer_one_byte_at_a_time(p, true);
    ac_peer_expect(p, request, sizeof request);
    ac_peer_send(p, reply, sizeof reply);
    client *c = client_new(t, fd, sizeof reply);
    client_send(c, request, sizeof request);
    AC_AWAIT(t, c->done && ac_peer_done(p), 8.0);
    AC_ASSERT_GE(c->short_writes + c->eagain, 1u);
    AC_ASSERT_GT(c->reads, 1u);
    AC_ASSERT_MEM_EQ(c->in, reply, sizeof reply);
}

/* ---- binary ---- */

AC_TEST(peer, binary_data_both_ways) {
    unsigned char all[256], reversed[256];
    for (size_t i = 0; i < 256; i++) {
        all[i] = (unsigned char)i;
        reversed[i] = (unsigned char)(255 - i);
    }
    int fd;
    ac_peer *p = ac_peer_new(t, &fd);
    ac_peer_expect(p, all, sizeof all); /* copied: the arrays may go away */
    ac_peer_send(p, reversed, sizeof reversed);
    ac_peer_expect(p, "\0", 1);
    ac_peer_close(p);
    client *c = client_new(t, fd, 0);
    static unsigned char out[257];
    for (size_t i = 0; i < 256; i++)
        out[i] = (unsigned char)i;
    out[256] = 0;
    client_send(c, (const char *)out, sizeof out);
    AC_AWAIT(t, c->done && ac_peer_done(p), 2.0);
    AC_ASSERT_EQ(c->in_len, 256u);
    AC_ASSERT_MEM_EQ(c->in, reversed, 256);
}

/* ---- the drain ---- */

/* The body returns without waiting: the runner's drain runs the script to its end (the peer's wait keeps
 * the loop going although the client has nothing active any more), and teardown sees it done. */
static ac_peer *drained;
static double drain_started;

static void check_drained(ac_test *t) {
    AC_EXPECT_TRUE(ac_peer_done(drained));
    AC_EXPECT_GE(now() - drain_started, 0.1);
    stop_clients(t);
}

AC_SUITE(peer_drain, .teardown = check_drained, .timeout = 10);

AC_TEST(peer_drain, finishes_a_script_the_body_left) {
    int fd;
    drained = ac_peer_new(t, &fd);
    ac_peer_expect_str(drained, "x");
    ac_peer_wait(drained, 0.1);
    ac_peer_close(drained);
    client *c = client_new(t, fd, 0);
    ev_io_stop(ac_loop(t), &c->rio); /* the client writes and wants nothing back */
    client_send(c, "x", 1);
    drain_started = now();
}

/* A finished script keeps nothing waiting: the drain ends at once (a peer holding it would run into the
 * 10 s timeout and fail the test), although the peer still watches for unexpected bytes. */
static double idle_started;

static void check_quick(ac_test *t) {
    AC_EXPECT_LT(now() - idle_started, 1.0);
    stop_clients(t);
}

AC_SUITE(peer_idle, .teardown = check_quick, .timeout = 10);

AC_TEST(peer_idle, a_finished_script_does_not_hold_the_drain) {
    int fd;
    ac_peer *p = ac_peer_new(t, &fd);
    ac_peer_send_str(p, "hi");
    client *c = client_new(t, fd, 2);
    AC_AWAIT(t, c->done && ac_peer_done(p), 2.0);
    idle_started = now();
}

/* ---- done as soon as the peer has done its part ----
 * The script ends with a step the code need not answer, and the code does nothing at all (no watcher of
 * its own on the loop, so no event of its own wakes the loop). ac_peer_done turns true in the loop
 * iteration that carries the last step out, and AC_AWAIT returns then, not at its deadline: under the
 * real clock in far less than the deadline, under the virtual clock without moving virtual time there. */

typedef enum ending { END_CLOSE, END_SHUTDOWN_WRITE, END_SEND, END_TCP_RESET, END_CLOSE_UNREAD } ending;

/* Seconds of the test's clock the await took, and of real time in *real. */
static double await_ending(ac_test *t, ending e, double deadline, double *real) {
    int fd;
    ac_peer *p = e == END_TCP_RESET ? ac_peer_new_tcp(t, &fd) : ac_peer_new(t, &fd);
    switch (e) {
    case END_CLOSE:
        ac_peer_close(p);
        break;
    case END_SHUTDOWN_WRITE:
        ac_peer_shutdown_write(p);
        break;
    case END_SEND:
        ac_peer_send_str(p, "never read");
        break;
    case END_TCP_RESET:
        ac_peer_reset(p);
        break;
    case END_CLOSE_UNREAD:
        ac_peer_close_unread(p);
        break;
    }
    double real0 = ac__monotonic(), clock0 = ac_clock_elapsed(t);
    AC_AWAIT(t, ac_peer_done(p), deadline);
    double took = ac_clock_elapsed(t) - clock0;
    *real = ac__monotonic() - real0;
    close(fd);
    return took;
}

/* Real clock: a 2 s deadline, done in well under 0.5 s. */
static void done_at_once_real(ac_test *t, ending e) {
    double real, took = await_ending(t, e, 2.0, &real);
    AC_EXPECT_LT(took, 0.5);
    AC_EXPECT_LT(real, 0.5);
}

/* Virtual clock: a 1000 s deadline, done with virtual time short of it (and quickly in real time). */
static void done_at_once_virtual(ac_test *t, ending e) {
    double real, took = await_ending(t, e, 1000.0, &real);
    AC_EXPECT_LT(took, 1.0);
    AC_EXPECT_LT(real, 0.5);
}

AC_TEST(peer, done_at_once_after_close) {
    done_at_once_real(t, END_CLOSE);
}
AC_TEST(peer, done_at_once_after_shutdown_write) {
    done_at_once_real(t, END_SHUTDOWN_WRITE);
}
AC_TEST(peer, done_at_once_after_a_send_never_read) {
    done_at_once_real(t, END_SEND);
}
AC_TEST(peer, done_at_once_after_a_tcp_reset) {
    done_at_once_real(t, END_TCP_RESET);
}
AC_TEST(peer, done_at_once_after_close_unread) {
    done_at_once_real(t, END_CLOSE_UNREAD);
}
AC_TEST(peer, done_at_once_after_close_virtual, .clock = AC_CLOCK_VIRTUAL) {
    done_at_once_virtual(t, END_CLOSE);
}
AC_TEST(peer, done_at_once_after_shutdown_write_virtual, .clock = AC_CLOCK_VIRTUAL) {
    done_at_once_virtual(t, END_SHUTDOWN_WRITE);
}
AC_TEST(peer, done_at_once_after_a_send_never_read_virtual, .clock = AC_CLOCK_VIRTUAL) {
    done_at_once_virtual(t, END_SEND);
}
AC_TEST(peer, done_at_once_after_a_tcp_reset_virtual, .clock = AC_CLOCK_VIRTUAL) {
    done_at_once_virtual(t, END_TCP_RESET);
}
AC_TEST(peer, done_at_once_after_close_unread_virtual, .clock = AC_CLOCK_VIRTUAL) {
    done_at_once_virtual(t, END_CLOSE_UNREAD);
}

/* ---- a cancel sweep: the component is cancelled after each callback in turn ----
 * Its cancel stops its watcher and closes the fd, wherever the script stands: each run passes, since the
 * peer abandons the rest of its script after a cancel instead of failing on the closed fd. The last run
 * reaches no cancel point and carries the whole script out. */

typedef struct greeter {
    struct ev_loop *loop;
    int fd;
    ev_io io;
    char in[16];
    size_t len;
    bool acked, closed, done;
} greeter;

static void greeter_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    greeter *g = w->data;
    if (!g->acked) {
        ssize_t n = read(g->fd, g->in + g->len, 10 - g->len);
        if (n < 0 && errno == EAGAIN)
            return;
        AC_ASSERT_GT(n, 0);
        g->len += (size_t)n;
        if (g->len == 10) {
            AC_ASSERT_EQ(send(g->fd, "ack\n", 4, MSG_NOSIGNAL), 4);
            g->acked = true;
        }
        return;
    }
    char c;
    ssize_t n = read(g->fd, &c, 1);
    if (n < 0 && errno == EAGAIN)
        return;
    AC_ASSERT_EQ(n, 0); /* end-of-file after the ack */
    ev_io_stop(loop, w);
    close(g->fd);
    g->closed = g->done = true;
}

static void greeter_cancel(void *arg) {
    greeter *g = arg;
    ev_io_stop(g->loop, &g->io);
    if (!g->closed)
        close(g->fd);
    g->closed = true;
}

AC_TEST(peer_sweep, a_reader_cancelled_after_each_callback, .clock = AC_CLOCK_VIRTUAL, .cancel_sweep = true) {
    static greeter g;
    int fd;
    ac_peer *p = ac_peer_new(t, &fd);
    ac_peer_send_str(p, "hello");
    ac_peer_wait(p, 0.5);
    ac_peer_send_str(p, "world");
    ac_peer_expect_str(p, "ack\n");
    ac_peer_close(p);
    g = (greeter){.loop = ac_loop(t), .fd = fd};
    ev_io_init(&g.io, greeter_cb, fd, EV_READ);
    g.io.data = &g;
    ev_io_start(g.loop, &g.io);
    ac_cancel_with(t, greeter_cancel, &g);
    AC_AWAIT(t, g.done, 10.0);
    AC_ASSERT_MEM_EQ(g.in, "helloworld", 10);
    AC_ASSERT_TRUE(ac_peer_done(p));
}
