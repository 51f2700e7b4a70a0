/* dialer.h — a tiny libev client that connects by itself (a real non-blocking connect() to an address),
 * writes its request for each connection, reads the reply until the server hangs up, and reconnects up
 * to a number of times: the code under test of the listener's tests (unit/listener.c,
 * fixtures/listener_fail.c). Header-only (static functions) so that fixtures need no support library.
 * Dialers live on the heap and dialer_free stops, closes and frees them. */
#ifndef ASYNCHECK_SELFTEST_DIALER_H
#define ASYNCHECK_SELFTEST_DIALER_H

#include <asyncheck.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DIALER_MAX 4

typedef struct dialer {
    struct ev_loop *loop;
    struct sockaddr_storage addr;
    socklen_t alen;
    int fd;
    ev_io io;
    ev_timer retry;              /* the next connect, after a hang-up */
    const char *req[DIALER_MAX]; /* what to write on connection i (NULL: nothing) */
    size_t req_off;
    int connects;           /* connect() calls made */
    int max_connects;       /* reconnects until this many connections were made */
    int errors[DIALER_MAX]; /* how connection i ended: 0 end-of-file, else the errno (connect's too) */
    char got[DIALER_MAX][256];
    size_t got_len[DIALER_MAX];
    bool connected, done;
} dialer;

static void dialer_connect(dialer *d);

/* Connection number d->connects - 1 ended with err (0: end-of-file). */
static void dialer_hang_up(dialer *d, int err) {
    ev_io_stop(d->loop, &d->io);
    close(d->fd);
    d->fd = -1;
    d->connected = false;
    d->errors[d->connects - 1] = err;
    if (d->connects < d->max_connects && d->connects < DIALER_MAX) {
        ev_timer_set(&d->retry, 0.01, 0.);
        ev_timer_start(d->loop, &d->retry);
    } else {
        d->done = true;
    }
}

static void dialer_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    dialer *d = w->data;
    int k = d->connects - 1;
    if (!d->connected) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            dialer_hang_up(d, err);
            return;
        }
        d->connected = true;
        d->req_off = 0;
    }
    const char *req = d->req[k];
    while (req && d->req_off < strlen(req)) {
        ssize_t n = send(d->fd, req + d->req_off, strlen(req) - d->req_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            dialer_hang_up(d, errno);
            return;
        }
        d->req_off += (size_t)n;
    }
    ev_io_stop(d->loop, &d->io);
    ev_io_set(&d->io, d->fd, EV_READ);
    ev_io_start(d->loop, &d->io);
    if (!(revents & EV_READ))
        return;
    ssize_t n = read(d->fd, d->got[k] + d->got_len[k], sizeof d->got[k] - 1 - d->got_len[k]);
    if (n > 0)
        d->got_len[k] += (size_t)n;
    else if (n == 0)
        dialer_hang_up(d, 0);
    else if (errno != EAGAIN)
        dialer_hang_up(d, errno);
}

static void dialer_retry_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    dialer_connect(w->data);
}

static void dialer_connect(dialer *d) {
    d->fd = socket(d->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    d->connects++;
    if (connect(d->fd, (struct sockaddr *)&d->addr, d->alen) < 0 && errno != EINPROGRESS) {
        int err = errno;
        d->connected = true; /* so that hang_up's bookkeeping is the same */
        dialer_hang_up(d, err);
        return;
    }
    ev_io_set(&d->io, d->fd, EV_WRITE);
    ev_io_start(d->loop, &d->io);
}

static dialer *dialer_new(ac_test *t, int max_connects) {
    dialer *d = calloc(1, sizeof *d);
    d->loop = ac_loop(t);
    d->fd = -1;
    d->max_connects = max_connects;
    ev_io_init(&d->io, dialer_cb, -1, EV_WRITE);
    ev_timer_init(&d->retry, dialer_retry_cb, 0., 0.);
    d->io.data = d->retry.data = d;
    return d;
}

/* Connects to 127.0.0.1:port (and reconnects after each hang-up, up to max_connects connections). */
static void dialer_start_tcp(dialer *d, uint16_t port) {
    struct sockaddr_in *a = (struct sockaddr_in *)&d->addr;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d->alen = sizeof *a;
    dialer_connect(d);
}

static void dialer_start_unix(dialer *d, const char *path) {
    struct sockaddr_un *a = (struct sockaddr_un *)&d->addr;
    a->sun_family = AF_UNIX;
    strncpy(a->sun_path, path, sizeof a->sun_path - 1);
    d->alen = sizeof *a;
    dialer_connect(d);
}

static void dialer_free(dialer *d) {
    if (!d)
        return;
    ev_io_stop(d->loop, &d->io);
    ev_timer_stop(d->loop, &d->retry);
    if (d->fd >= 0)
        close(d->fd);
    free(d);
}

#endif
