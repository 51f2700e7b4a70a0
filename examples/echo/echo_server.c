/* echo_server.c — the line-echo server: a non-blocking listening socket with an ev_io accept watcher,
 * and per connection a read watcher feeding a line splitter and a write watcher that is active only
 * while echoes are waiting for room in the socket. It shows the three things every libev stream
 * server has to get right: reads return any number of bytes (half a line, several lines), writes may
 * take only part of what is offered, and a peer may go away at any moment. */
#include "echo_server.h"
#include "echo_buf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ECHO_READ_CHUNK 16384

typedef struct conn conn;

struct echo_server {
    struct ev_loop *loop;
    int fd;
    uint16_t port;
    ev_io accept_io;
    conn *conns; /* doubly linked, newest first */
    size_t nclients;
    size_t lines;
};

struct conn {
    echo_server *srv;
    int fd;
    ev_io read_io, write_io;
    char *in; /* bytes of a line not yet complete; in_len < ECHO_SERVER_MAX_LINE + 1 */
    size_t in_len, in_cap;
    char *out; /* echoes waiting to be written: out[out_off..out_len) */
    size_t out_off, out_len, out_cap;
    bool eof; /* the client closed its side: finish writing, then close */
    conn *prev, *next;
};

/* ---- connections ---- */

static void conn_close(conn *c) {
    echo_server *srv = c->srv;
    ev_io_stop(srv->loop, &c->read_io);
    ev_io_stop(srv->loop, &c->write_io);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nclients--;
    free(c->in);
    free(c->out);
    free(c);
}

/* Writes as much pending echo as the socket takes. Returns false if the connection was closed (the
 * client is gone, or it had hung up and everything owed to it is now written). */
static bool conn_flush(conn *c) {
    struct ev_loop *loop = c->srv->loop;
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ev_io_start(loop, &c->write_io); /* the rest when the socket has room */
            return true;
        } else {
            conn_close(c); /* EPIPE, ECONNRESET, ...: the client is gone */
            return false;
        }
    }
    c->out_off = c->out_len = 0;
    ev_io_stop(loop, &c->write_io);
    if (c->eof) {
        conn_close(c);
        return false;
    }
    ev_io_start(loop, &c->read_io); /* in case ECHO_SERVER_MAX_UNSENT paused reading */
    return true;
}

/* Moves every complete line at the front of c->in to c->out; bytes before `scan_from` are known to
 * hold no '\n'. Returns false if the input cannot be handled (a line too long, or no memory). */
static bool conn_split_lines(conn *c, size_t scan_from) {
    if (c->out_off > 0) { /* drop what was written, so that a steady stream does not grow out */
        c->out_len -= c->out_off;
        memmove(c->out, c->out + c->out_off, c->out_len);
        c->out_off = 0;
    }
    size_t start = 0;
    char *nl;
    while ((nl = memchr(c->in + scan_from, '\n', c->in_len - scan_from)) != NULL) {
        size_t end = (size_t)(nl - c->in) + 1; /* the line is in[start..end), with its '\n' */
        if (!echo_reserve(&c->out, &c->out_cap, c->out_len + (end - start)))
            return false;
        memcpy(c->out + c->out_len, c->in + start, end - start);
        c->out_len += end - start;
        c->srv->lines++;
        start = scan_from = end;
    }
    c->in_len -= start;
    memmove(c->in, c->in + start, c->in_len);
    return c->in_len <= ECHO_SERVER_MAX_LINE;
}

static void conn_read_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    conn *c = w->data;
    /* One read per callback: the watcher is level-triggered, so what is left comes next iteration,
     * after the other connections had their turn. */
    if (!echo_reserve(&c->in, &c->in_cap, c->in_len + ECHO_READ_CHUNK)) {
        conn_close(c);
        return;
    }
    ssize_t n = recv(c->fd, c->in + c->in_len, ECHO_READ_CHUNK, 0);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            conn_close(c);
        return;
    }
    if (n == 0) {
        /* The client closed its side: drop the incomplete line, write what is owed, then close. */
        c->eof = true;
        c->in_len = 0;
        ev_io_stop(loop, &c->read_io);
        conn_flush(c);
        return;
    }
    size_t old_len = c->in_len;
    c->in_len += (size_t)n;
    if (!conn_split_lines(c, old_len)) {
        conn_close(c);
        return;
    }
    if (c->out_len > c->out_off && !conn_flush(c))
        return;
    if (c->out_len - c->out_off > ECHO_SERVER_MAX_UNSENT)
        ev_io_stop(loop, &c->read_io); /* conn_flush starts it again once the backlog is written */
}

static void conn_write_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    conn_flush(w->data);
}

/* ---- accepting ---- */

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    echo_server *srv = w->data;
    for (;;) {
        int fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            /* EAGAIN: nothing more to accept. EMFILE and the like: the connection stays queued, and
             * the level-triggered watcher tries again next iteration (a busy server would back off
             * here, say by stopping the watcher for a moment). */
            return;
        }
        conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            return;
        }
        c->srv = srv;
        c->fd = fd;
        ev_io_init(&c->read_io, conn_read_cb, fd, EV_READ);
        ev_io_init(&c->write_io, conn_write_cb, fd, EV_WRITE);
        c->read_io.data = c->write_io.data = c;
        c->next = srv->conns;
        if (srv->conns)
            srv->conns->prev = c;
        srv->conns = c;
        srv->nclients++;
        ev_io_start(loop, &c->read_io);
    }
}

/* ---- the server ---- */

echo_server *echo_server_start(struct ev_loop *loop, uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    echo_server *srv = NULL;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, SOMAXCONN) < 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &alen) < 0 || !(srv = calloc(1, sizeof *srv))) {
        int saved = errno;
        close(fd);
        errno = saved;
        return NULL;
    }
    srv->loop = loop;
    srv->fd = fd;
    srv->port = ntohs(addr.sin_port);
    ev_io_init(&srv->accept_io, accept_cb, fd, EV_READ);
    srv->accept_io.data = srv;
    ev_io_start(loop, &srv->accept_io);
    return srv;
}

uint16_t echo_server_port(const echo_server *srv) {
    return srv->port;
}

size_t echo_server_clients(const echo_server *srv) {
    return srv->nclients;
}

size_t echo_server_buffered(const echo_server *srv) {
    size_t n = 0;
    for (const conn *c = srv->conns; c; c = c->next)
        n += c->in_len;
    return n;
}

size_t echo_server_unsent(const echo_server *srv) {
    size_t n = 0;
    for (const conn *c = srv->conns; c; c = c->next)
        n += c->out_len - c->out_off;
    return n;
}

size_t echo_server_lines(const echo_server *srv) {
    return srv->lines;
}

void echo_server_stop(echo_server *srv) {
    if (!srv)
        return;
    while (srv->conns)
        conn_close(srv->conns);
    ev_io_stop(srv->loop, &srv->accept_io);
    close(srv->fd);
    free(srv);
}
