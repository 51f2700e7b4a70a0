/* http_client.c — the HTTP/1.0 client: connect attempts through the transport (each with its own `ud`,
 * so that a late or repeated done can be told apart and ignored), the request written and the response
 * read with ev_io on the fd the transport hands over, an ev_timer each for the read timeout, the retry
 * delay and the overall deadline, and a parser that takes the response in whatever pieces it arrives.
 * Then the default transport: a non-blocking TCP connect finished on an EV_WRITE watcher. */
#include "http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTP_READ_CHUNK 4096

/* What the client hands the transport as `ud` for one attempt. */
typedef struct attempt {
    http_client *c;
    int n; /* 1 for the first attempt */
} attempt;

struct http_client {
    struct ev_loop *loop;
    http_transport tr;
    http_options opt;
    char *host, *request;
    int port;
    size_t request_len, sent;
    http_response_cb cb;
    void *ud;

    int attempts;    /* attempts made */
    bool connecting; /* waiting for done of attempt number `attempts` */
    bool finished;   /* cb called, or about to be (see `soon`) */
    bool deferring;  /* inside http_client_get or transport.connect: cb must wait for the loop */
    int error;       /* of the last failed connect; the result for `soon` */
    double delay;    /* before the next retry */
    attempt tags[HTTP_MAX_ATTEMPTS];

    int fd; /* the connection of the attempt in progress, or -1 */
    ev_io rd, wr;
    ev_timer idle;     /* read timeout: restarted by every byte received */
    ev_timer retry;    /* the delay before the next attempt */
    ev_timer deadline; /* the whole request */
    ev_timer soon;     /* reports a failure met inside http_client_get or transport.connect */

    char *in; /* the response so far: in[0..in_len), with room for a '\0' after it */
    size_t in_len, in_cap;
    bool have_headers;
    int status;
    size_t body_off;          /* where the body starts in `in` */
    long long content_length; /* -1: none, the body ends at end-of-file */
};

/* ---- ending ---- */

/* Stops every watcher but `soon`, abandons a connect in progress and closes the connection. */
static void stop_all(http_client *c) {
    ev_io_stop(c->loop, &c->rd);
    ev_io_stop(c->loop, &c->wr);
    ev_timer_stop(c->loop, &c->idle);
    ev_timer_stop(c->loop, &c->retry);
    ev_timer_stop(c->loop, &c->deadline);
    if (c->connecting && c->tr.cancel)
        c->tr.cancel(c->tr.ctx, &c->tags[c->attempts - 1]);
    c->connecting = false;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* Reports the outcome, once. The callback may free the client, so every caller returns right after. */
static void finish(http_client *c, int status, const char *body, size_t len, int error) {
    if (c->finished)
        return;
    c->finished = true;
    stop_all(c);
    if (c->deferring) { /* only a failure can happen here: report it from the loop */
        c->error = error;
        ev_timer_start(c->loop, &c->soon);
        return;
    }
    c->cb(status, body, len, error, c->ud);
}

static void soon_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    http_client *c = w->data;
    c->cb(0, NULL, 0, c->error, c->ud);
}

static void fail(http_client *c, int error) {
    finish(c, 0, NULL, 0, error);
}

/* ---- attempts ---- */

static void on_connected(int fd, int err, void *ud);

static void schedule_retry(http_client *c) {
    ev_now_update(c->loop); /* the delay counts from now, not from the start of this loop iteration */
    ev_timer_set(&c->retry, c->delay, 0.);
    ev_timer_start(c->loop, &c->retry);
    if (c->opt.backoff)
        c->delay *= 2;
}

/* The attempt in progress could not connect: try again, or report the error if that was the last. */
static void connect_failed(http_client *c, int err) {
    c->error = err;
    if (c->attempts < c->opt.max_attempts)
        schedule_retry(c);
    else
        fail(c, err);
}

static void start_attempt(http_client *c) {
    attempt *a = &c->tags[c->attempts];
    a->c = c;
    a->n = ++c->attempts;
    c->connecting = true;
    /* A transport that calls done inside connect breaks its contract; then too, cb is not called from
     * in here (it could free the client under our feet). */
    bool deferring = c->deferring;
    c->deferring = true;
    errno = 0;
    if (c->tr.connect(c->tr.ctx, c->host, c->port, on_connected, a) < 0) {
        int err = errno ? errno : EIO;
        if (c->connecting) { /* unless done was called anyway, inside connect */
            c->connecting = false;
            connect_failed(c, err);
        }
    }
    c->deferring = deferring;
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    start_attempt(w->data);
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    fail(w->data, ETIME);
}

/* ---- the exchange ---- */

/* Writes what the socket takes of the request now, and leaves the write watcher to do the rest. */
static void send_request(http_client *c) {
    while (c->sent < c->request_len) {
        ssize_t n = send(c->fd, c->request + c->sent, c->request_len - c->sent, MSG_NOSIGNAL);
        if (n > 0)
            c->sent += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ev_io_start(c->loop, &c->wr); /* the rest when the socket has room */
            return;
        } else {
            fail(c, n < 0 ? errno : EIO);
            return;
        }
    }
    ev_io_stop(c->loop, &c->wr);
}

static void write_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    send_request(w->data);
}

/* The connection of this attempt is up: send the request and read the response. */
static void begin_exchange(http_client *c, int fd) {
    c->fd = fd;
    c->sent = 0;
    c->in_len = 0;
    c->have_headers = false;
    c->status = 0;
    c->content_length = -1;
    ev_io_set(&c->rd, fd, EV_READ);
    ev_io_set(&c->wr, fd, EV_WRITE);
    ev_io_start(c->loop, &c->rd);
    ev_now_update(c->loop);
    ev_timer_again(c->loop, &c->idle);
    send_request(c); /* at once: a fresh socket takes a small request whole */
}

static void on_connected(int fd, int err, void *ud) {
    attempt *a = ud;
    http_client *c = a->c;
    if (c->finished || !c->connecting || a->n != c->attempts)
        return; /* not waiting for this one (a second done, or one for an earlier attempt): ignore it */
    c->connecting = false;
    if (fd < 0 || err != 0)
        connect_failed(c, err ? err : EIO);
    else
        begin_exchange(c, fd);
}

/* The whole response is in: retry a 5xx while attempts are left, else report it. */
static void response_complete(http_client *c, size_t body_len) {
    ev_io_stop(c->loop, &c->rd);
    ev_io_stop(c->loop, &c->wr);
    ev_timer_stop(c->loop, &c->idle);
    close(c->fd);
    c->fd = -1;
    if (c->status >= 500 && c->attempts < c->opt.max_attempts) {
        schedule_retry(c);
        return;
    }
    c->in[c->body_off + body_len] = '\0';
    finish(c, c->status, c->in + c->body_off, body_len, 0);
}

/* "HTTP/1.x NNN reason": the status, or -1. */
static int parse_status_line(const char *s, size_t len) {
    if (len < 12 || memcmp(s, "HTTP/1.", 7) != 0 || s[7] < '0' || s[7] > '9' || s[8] != ' ')
        return -1;
    int status = 0;
    for (size_t i = 9; i < 12; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        status = status * 10 + (s[i] - '0');
    }
    if (len > 12 && s[12] != ' ')
        return -1;
    return status >= 100 ? status : -1;
}

/* Reads the headers in[0..end) (end: where "\r\n\r\n" starts). Returns 0 or an error for the result. */
static int parse_headers(http_client *c, size_t end) {
    const char *p = c->in, *stop = c->in + end;
    const char *eol = memmem(p, (size_t)(stop - p), "\r\n", 2);
    size_t first = eol ? (size_t)(eol - p) : end;
    if ((c->status = parse_status_line(p, first)) < 0)
        return EPROTO;
    for (p += first; p < stop;) {
        p += 2; /* the "\r\n" ending the previous line */
        eol = memmem(p, (size_t)(stop - p), "\r\n", 2);
        const char *line_end = eol ? eol : stop;
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (!colon)
            return EPROTO;
        if ((size_t)(colon - p) == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
            const char *v = colon + 1;
            while (v < line_end && (*v == ' ' || *v == '\t'))
                v++;
            long long n = 0;
            if (v == line_end)
                return EPROTO;
            for (; v < line_end && *v >= '0' && *v <= '9'; v++) {
                n = n * 10 + (*v - '0');
                if (n > HTTP_MAX_BODY)
                    return EMSGSIZE;
            }
            while (v < line_end && (*v == ' ' || *v == '\t'))
                v++;
            if (v != line_end)
                return EPROTO;
            c->content_length = n;
        }
        p = line_end;
    }
    c->have_headers = true;
    c->body_off = end + 4;
    return 0;
}

/* Takes what has arrived so far; reports or retries when the response is complete. */
static void parse(http_client *c) {
    if (!c->have_headers) {
        const char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (!end) {
            if (c->in_len > HTTP_MAX_HEADER)
                fail(c, EMSGSIZE);
            return;
        }
        int err = parse_headers(c, (size_t)(end - c->in));
        if (err) {
            fail(c, err);
            return;
        }
    }
    size_t have = c->in_len - c->body_off;
    if (c->content_length >= 0 && have >= (size_t)c->content_length)
        response_complete(c, (size_t)c->content_length); /* bytes after the body are ignored */
    else if (have > HTTP_MAX_BODY)
        fail(c, EMSGSIZE);
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    http_client *c = w->data;
    if (c->in_cap - c->in_len < HTTP_READ_CHUNK + 1) {
        size_t cap = c->in_cap ? c->in_cap * 2 : 2 * HTTP_READ_CHUNK;
        char *in = realloc(c->in, cap);
        if (!in) {
            fail(c, ENOMEM);
            return;
        }
        c->in = in;
        c->in_cap = cap;
    }
    ssize_t n = recv(c->fd, c->in + c->in_len, HTTP_READ_CHUNK, 0);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            fail(c, errno);
        return;
    }
    if (n == 0) { /* end-of-file: the end of a body without Content-Length, or a response cut short */
        if (c->have_headers && c->content_length < 0)
            response_complete(c, c->in_len - c->body_off);
        else
            fail(c, EPROTO);
        return;
    }
    c->in_len += (size_t)n;
    ev_timer_again(loop, &c->idle);
    parse(c);
}

static void idle_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    fail(w->data, ETIMEDOUT);
}

/* ---- the client's API ---- */

static bool valid_text(const char *s, bool path) {
    if (!s || !*s || (path && *s != '/'))
        return false;
    for (; *s; s++)
        if (*s == '\r' || *s == '\n' || *s == ' ' || *s == '\t')
            return false;
    return true;
}

http_client *http_client_get(struct ev_loop *loop, http_transport transport, const http_options *options,
                             const char *host, int port, const char *path, http_response_cb cb, void *ud) {
    http_options opt = options ? *options : (http_options){0};
    if (!opt.max_attempts)
        opt.max_attempts = 3;
    if (opt.retry_delay == 0)
        opt.retry_delay = 0.1;
    if (opt.read_timeout == 0)
        opt.read_timeout = 5;
    if (opt.timeout == 0)
        opt.timeout = 30;
    if (!loop || !transport.connect || !cb || !valid_text(host, false) || !valid_text(path, true) ||
        port < 1 || port > 65535 || opt.max_attempts < 1 || opt.max_attempts > HTTP_MAX_ATTEMPTS ||
        !(opt.retry_delay > 0) || !(opt.read_timeout > 0) || !(opt.timeout > 0)) {
        errno = EINVAL;
        return NULL;
    }
    http_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    char port_text[8] = "";
    if (port != 80)
        snprintf(port_text, sizeof port_text, ":%d", port);
    int len = asprintf(&c->request, "GET %s HTTP/1.0\r\nHost: %s%s\r\n\r\n", path, host, port_text);
    c->host = strdup(host);
    if (len < 0 || !c->host) {
        if (len >= 0)
            free(c->request);
        free(c);
        errno = ENOMEM;
        return NULL;
    }
    c->request_len = (size_t)len;
    c->loop = loop;
    c->tr = transport;
    c->opt = opt;
    c->port = port;
    c->cb = cb;
    c->ud = ud;
    c->fd = -1;
    c->delay = opt.retry_delay;
    ev_io_init(&c->rd, read_cb, -1, EV_READ);
    ev_io_init(&c->wr, write_cb, -1, EV_WRITE);
    ev_init(&c->idle, idle_cb);
    c->idle.repeat = opt.read_timeout;
    ev_timer_init(&c->retry, retry_cb, 0., 0.);
    ev_timer_init(&c->deadline, deadline_cb, opt.timeout, 0.);
    ev_timer_init(&c->soon, soon_cb, 0., 0.);
    c->rd.data = c->wr.data = c->idle.data = c->retry.data = c->deadline.data = c->soon.data = c;

    c->deferring = true;
    ev_now_update(loop);
    ev_timer_start(loop, &c->deadline);
    start_attempt(c);
    c->deferring = false;
    return c;
}

int http_client_attempts(const http_client *c) {
    return c->attempts;
}

bool http_client_pending(const http_client *c) {
    return !c->finished;
}

void http_client_free(http_client *c) {
    if (!c)
        return;
    stop_all(c);
    ev_timer_stop(c->loop, &c->soon);
    free(c->in);
    free(c->host);
    free(c->request);
    free(c);
}

/* ---- the default transport ---- */

/* A connect in progress. */
typedef struct tcp_conn {
    http_tcp *tcp;
    int fd;
    ev_io io; /* writable: the connect has an outcome */
    http_connected_cb done;
    void *ud;
    struct tcp_conn *next;
} tcp_conn;

struct http_tcp {
    struct ev_loop *loop;
    tcp_conn *conns;
};

static void tcp_unlink(tcp_conn *k) {
    for (tcp_conn **p = &k->tcp->conns; *p; p = &(*p)->next)
        if (*p == k) {
            *p = k->next;
            break;
        }
    ev_io_stop(k->tcp->loop, &k->io);
}

static void tcp_writable(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    tcp_conn *k = w->data;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    http_connected_cb done = k->done;
    void *ud = k->ud;
    int fd = k->fd;
    tcp_unlink(k);
    free(k);
    if (err) {
        close(fd);
        done(-1, err, ud);
    } else {
        done(fd, 0, ud);
    }
}

static int tcp_connect(void *ctx, const char *host, int port, http_connected_cb done, void *ud) {
    http_tcp *tcp = ctx;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (strcmp(host, "localhost") == 0)
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        errno = EINVAL;
        return -1;
    }
    tcp_conn *k = calloc(1, sizeof *k);
    if (!k)
        return -1;
    k->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (k->fd < 0) {
        free(k);
        return -1;
    }
    if (connect(k->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS && errno != EINTR) {
        int err = errno; /* refused at once, as loopback usually is: say so now, done is not called */
        close(k->fd);
        free(k);
        errno = err;
        return -1;
    }
    /* Connected or in progress: either way the socket becomes writable, and done is called from there
     * (never from inside this call). */
    k->tcp = tcp;
    k->done = done;
    k->ud = ud;
    ev_io_init(&k->io, tcp_writable, k->fd, EV_WRITE);
    k->io.data = k;
    ev_io_start(tcp->loop, &k->io);
    k->next = tcp->conns;
    tcp->conns = k;
    return 0;
}

static void tcp_cancel(void *ctx, void *ud) {
    http_tcp *tcp = ctx;
    for (tcp_conn *k = tcp->conns; k; k = k->next)
        if (k->ud == ud) {
            tcp_unlink(k);
            close(k->fd);
            free(k);
            return;
        }
}

http_tcp *http_tcp_new(struct ev_loop *loop) {
    http_tcp *tcp = calloc(1, sizeof *tcp);
    if (tcp)
        tcp->loop = loop;
    return tcp;
}

http_transport http_tcp_transport(http_tcp *tcp) {
    return (http_transport){.connect = tcp_connect, .cancel = tcp_cancel, .ctx = tcp};
}

void http_tcp_free(http_tcp *tcp) {
    if (!tcp)
        return;
    while (tcp->conns) {
        tcp_conn *k = tcp->conns;
        tcp_unlink(k);
        close(k->fd);
        free(k);
    }
    free(tcp);
}
