/* listener.c — the scripted server (asyncheck/io.h: ac_peer_listen_tcp / _unix, ac_listener_*) against a
 * real libev client that connects by itself (support/dialer.h): every kind of step over a real connect(),
 * reconnects across scripted connections, refusal after ac_listener_close, a connection accepted and never
 * answered, a unix path; the peer steps expect_eof and saturate; ac_unused_tcp_port. Failures are checked
 * from outside by meta/meta_listener.c. */
#include <asyncheck.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "dialer.h"

/* The test's dialer, freed by the suite's teardown (also when the test fails). */
static dialer *dial(ac_test *t, int max_connects) {
    dialer *d = dialer_new(t, max_connects);
    ac_set_data(t, d);
    return d;
}

static void teardown(ac_test *t) {
    dialer_free(ac_data(t));
}

AC_SUITE(listener, .teardown = teardown, .timeout = 10);

static void paused_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    *(bool *)w->data = true;
}

/* Runs the loop for `seconds`. */
static void pause_for(ac_test *t, double seconds) {
    bool over = false;
    ev_timer tm;
    ev_timer_init(&tm, paused_cb, seconds, 0.);
    tm.data = &over;
    ev_timer_start(ac_loop(t), &tm);
    AC_AWAIT(t, over, seconds + 2.0);
}

AC_TEST(listener, a_conversation_over_tcp) {
    uint16_t port = 0;
    ac_listener *l = ac_peer_listen_tcp(t, &port);
    AC_ASSERT_NE(port, 0);
    ac_peer *c = ac_listener_next(l);
    ac_peer_expect_str(c, "PING\r\n");
    ac_peer_send_str(c, "+PONG\r\n");
    ac_peer_close(c);
    AC_ASSERT_FALSE(ac_listener_done(l)); /* the connection has not come */
    AC_ASSERT_FALSE(ac_peer_done(c));
    dialer *d = dial(t, 1);
    d->req[0] = "PING\r\n";
    dialer_start_tcp(d, port);
    AC_AWAIT(t, d->done && ac_listener_done(l), 2.0);
    AC_ASSERT_EQ(ac_listener_accepted(l), 1u);
    AC_ASSERT_STR_EQ(d->got[0], "+PONG\r\n");
    AC_ASSERT_EQ(d->errors[0], 0); /* end-of-file */
}

/* Every step over a real connection: pieces, waits, one-byte mode, half-close both ways, reset. */
AC_TEST(listener, each_step_over_a_real_connect) {
    uint16_t port;
    ac_listener *l = ac_peer_listen_tcp(t, &port);
    ac_peer *c = ac_listener_next(l);
    ac_peer_expect_str(c, "HELLO\n");
    ac_peer_wait(c, 0.05);
    ac_peer_one_byte_at_a_time(c, true);
    ac_peer_send_str(c, "slow ");
    ac_peer_one_byte_at_a_time(c, false);
    ac_peer_send_str(c, "fast ");
    ac_peer_reset(c);
    dialer *d = dial(t, 1);
    d->req[0] = "HELLO\n";
    double t0 = ev_now(ac_loop(t));
    dialer_start_tcp(d, port);
    AC_AWAIT(t, d->done && ac_listener_done(l), 2.0);
    AC_ASSERT_GE(ev_now(ac_loop(t)) - t0, 0.05);
    AC_ASSERT_STR_EQ(d->got[0], "slow fast ");
    AC_ASSERT_EQ(d->errors[0], ECONNRESET);
}

AC_TEST(listener, shutdown_write_and_expect_eof) {
    uint16_t port;
    ac_listener *l = ac_peer_listen_tcp(t, &port);
    ac_peer *c = ac_listener_next(l);
    ac_peer_expect_str(c, "bye\n");
    ac_peer_send_str(c, "ok\n");
    ac_peer_shutdown_write(c); /* the dialer reads end-of-file and closes: the peer reads it */
    ac_peer_expect_eof(c);
    dialer *d = dial(t, 1);
    d->req[0] = "bye\n";
    dialer_start_tcp(d, port);
    AC_AWAIT(t, d->done && ac_listener_done(l), 2.0);
    AC_ASSERT_STR_EQ(d->got[0], "ok\n");
}

/* Three connections, each with its own script: a reset, a close, and one that answers; the dialer
 * reconnects after each hang-up. */
AC_TEST(listener, reconnects_follow_one_script_each) {
    uint16_t port;
    ac_listener *l = ac_peer_listen_tcp(t, &port);
    ac_peer *c1 = ac_listener_next(l), *c2 = ac_listener_next(l), *c3 = ac_listener_next(l);
    ac_peer_expect_str(c1, "one\n");
    ac_peer_reset(c1);
    ac_peer_expect_str(c2, "two\n");
    ac_peer_send_str(c2, "later\n");
    ac_peer_close(c2);
    ac_peer_expect_str(c3, "three\n");
    ac_peer_send_str(c3, "done\n");
    ac_peer_close(c3);
    dialer *d = dial(t, 3);
    d->req[0] = "one\n";
    d->req[1] = "two\n";
    d->req[2] = "three\n";
    dialer_start_tcp(d, port);
    AC_AWAIT(t, ac_listener_accepted(l) == 1, 2.0);
    AC_AWAIT(t, d->done && ac_listener_done(l), 2.0);
    AC_ASSERT_EQ(ac_listener_accepted(l), 3u);
    AC_ASSERT_EQ(d->errors[0], ECONNRESET);
    AC_ASSERT_STR_EQ(d->got[1], "later\n");
    AC_ASSERT_EQ(d->errors[1], 0);
    AC_ASSERT_STR_EQ(d->got[2], "done\n");
}

/* After ac_listener_close, connect() is refused; the connection accepted before goes on. */
AC_TEST(listener, a_closed_listener_refuses) {
    uint16_t port;
    ac_listener *l = ac_peer_listen_tcp(t, &port);
    ac_peer *c1 = ac_listener_next(l);
    ac_peer_expect_str(c1, "x");
    ac_peer_close(c1);
    dialer *d = dial(t, 2);
    d->req[0] = "x";
    dialer_start_tcp(d, port);
    AC_AWAIT(t, ac_listener_accepted(l) == 1, 2.0);
    ac_listener_close(l);
    AC_AWAIT(t, d->done, 2.0);
    AC_ASSERT_EQ(d->errors[0], 0);
    AC_ASSERT_EQ(d->errors[1], ECONNREFUSED);
    AC_ASSERT_EQ(ac_listener_accepted(l), 1u);
    AC_ASSERT_TRUE(ac_listener_done(l));
}

/* An empty script: accepted, held open, never answered; what the dialer writes stays unread. */
AC_TEST(listener, a_connection_accepted_and_never_answered) {
    uint16_t port;
    ac_listener *l = ac_peer_listen_tcp(t, &port);
    (void)ac_listener_next(l);
    dialer *d = dial(t, 1);
    d->req[0] = "GET / HTTP/1.1\r\n\r\n";
    dialer_start_tcp(d, port);
    AC_AWAIT(t, ac_listener_done(l), 2.0);
    pause_for(t, 0.2); /* no answer and no hang-up */
    AC_ASSERT_FALSE(d->done);
    AC_ASSERT_EQ(d->got_len[0], 0u);
    AC_ASSERT_EQ(ac_listener_accepted(l), 1u);
    dialer_free(d); /* it would wait for its answer forever */
    ac_set_data(t, NULL);
}

/* No script at all: done at once, and the listener keeps nothing waiting. */
AC_TEST(listener, no_script_is_done) {
    uint16_t port;
    ac_listener *l = ac_peer_listen_tcp(t, &port);
    AC_ASSERT_TRUE(ac_listener_done(l));
    AC_ASSERT_EQ(ac_listener_accepted(l), 0u);
}

AC_TEST(listener, a_unix_path) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/asyncheck-listener-%d.sock", (int)getpid());
    ac_listener *l = ac_peer_listen_unix(t, path);
    struct stat st;
    AC_ASSERT_EQ(stat(path, &st), 0);
    AC_ASSERT_TRUE(S_ISSOCK(st.st_mode));
    ac_peer *c1 = ac_listener_next(l), *c2 = ac_listener_next(l);
    ac_peer_expect_str(c1, "a");
    ac_peer_close(c1);
    ac_peer_expect_str(c2, "b");
    ac_peer_send_str(c2, "B");
    ac_peer_expect_eof(c2);
    dialer *d = dial(t, 3);
    d->req[0] = "a";
    d->req[1] = "b";
    dialer_start_unix(d, path);
    AC_AWAIT(t, ac_listener_accepted(l) == 2 && d->got_len[1] == 1, 2.0);
    AC_ASSERT_STR_EQ(d->got[1], "B");
    ac_listener_close(l);
    shutdown(d->fd, SHUT_WR);
    AC_AWAIT(t, ac_listener_done(l), 2.0);
    ac_peer_close(c2);
    AC_AWAIT(t, d->done, 2.0);
    AC_ASSERT_EQ(d->errors[2], ECONNREFUSED); /* the path is still there, nobody listens */
}

AC_TEST(listener, an_unused_tcp_port_can_be_bound) {
    uint16_t port = ac_unused_tcp_port();
    AC_ASSERT_NE(port, 0);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    AC_EXPECT_EQ(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    close(fd);
}

/* ---- ac_peer_expect_eof and ac_peer_saturate on a plain peer ---- */

AC_TEST(listener, expect_eof_after_a_close_then_the_peer_is_done) {
    int fd;
    ac_peer *p = ac_peer_new(t, &fd);
    ac_peer_expect_str(p, "last\n");
    ac_peer_expect_eof(p);
    AC_ASSERT_EQ(send(fd, "last\n", 5, MSG_NOSIGNAL), 5);
    pause_for(t, 0.05);
    AC_ASSERT_FALSE(ac_peer_done(p)); /* no end-of-file yet */
    close(fd);
    AC_AWAIT(t, ac_peer_done(p), 2.0);
}

/* A half-close: the code can still read what the peer sends after the end-of-file. */
AC_TEST(listener, expect_eof_after_a_half_close_then_send) {
    int fd;
    ac_peer *p = ac_peer_new(t, &fd);
    ac_peer_expect_eof(p);
    ac_peer_send_str(p, "reply");
    ac_peer_close(p);
    AC_ASSERT_EQ(shutdown(fd, SHUT_WR), 0);
    AC_AWAIT(t, ac_peer_done(p), 2.0);
    char buf[16];
    AC_ASSERT_EQ(read(fd, buf, sizeof buf), 5);
    AC_ASSERT_MEM_EQ(buf, "reply", 5);
    close(fd);
}

/* A reader that takes at most 4 KiB per callback while the peer saturates: its timer keeps firing. */
typedef struct fair {
    int fd;
    ev_io rio;
    ev_timer tick;
    size_t bytes, ticks;
    char tail[8];
} fair;

static void fair_read(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    fair *f = w->data;
    char buf[4096];
    ssize_t n = read(f->fd, buf, sizeof buf);
    if (n > 0) {
        f->bytes += (size_t)n;
        size_t k = (size_t)n < 4 ? (size_t)n : 4;
        memmove(f->tail, f->tail + k, 4 - k);
        memcpy(f->tail + 4 - k, buf + n - k, k);
    }
}

static void fair_tick(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    ((fair *)w->data)->ticks++;
}

AC_TEST(listener, saturation_lets_a_fair_reader_run_its_timers) {
    static fair f;
    int fd;
    ac_peer *p = ac_peer_new(t, &fd);
    ac_peer_saturate(p, true);
    ac_peer_wait(p, 0.3);
    ac_peer_saturate(p, false);
    ac_peer_send_str(p, "END.");
    f = (fair){.fd = fd};
    ev_io_init(&f.rio, fair_read, fd, EV_READ);
    ev_timer_init(&f.tick, fair_tick, 0.01, 0.01);
    f.rio.data = f.tick.data = &f;
    ev_io_start(ac_loop(t), &f.rio);
    ev_timer_start(ac_loop(t), &f.tick);
    AC_AWAIT(t, ac_peer_done(p) && memcmp(f.tail, "END.", 4) == 0, 5.0);
    ev_io_stop(ac_loop(t), &f.rio);
    ev_timer_stop(ac_loop(t), &f.tick);
    close(fd);
    AC_EXPECT_GT(f.bytes, (size_t)65536); /* it was fed more than one buffer's worth */
    AC_EXPECT_GE(f.ticks, (size_t)5);     /* and its loop went on */
}

/* The peer still checks what the code writes while it saturates. */
AC_TEST(listener, saturation_keeps_checking_what_the_code_writes) {
    int fd;
    ac_peer *p = ac_peer_new(t, &fd);
    ac_peer_saturate(p, true);
    ac_peer_expect_str(p, "STOP\n");
    ac_peer_saturate(p, false);
    AC_ASSERT_EQ(send(fd, "STOP\n", 5, MSG_NOSIGNAL), 5);
    AC_AWAIT(t, ac_peer_done(p), 2.0);
    char buf[4096];
    AC_ASSERT_GT(read(fd, buf, sizeof buf), 0); /* filler */
    AC_ASSERT_EQ(buf[0], 'x');
    close(fd);
}
