/* echo_client.c — the line-echo client: a non-blocking connect() finished on an EV_WRITE watcher
 * (SO_ERROR says how it went), a write queue flushed whenever the socket has room, and a read watcher
 * that splits what arrives into lines for the user's callback. It also shows how a libev component
 * stays safe when user callbacks close it, or run the loop themselves, in the middle of its work. */
#include "echo_client.h"
#include "echo_buf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ECHO_CLIENT_MAX_LINE (1024 * 1024)
#define ECHO_READ_CHUNK 16384

struct echo_client {
    struct ev_loop *loop;
    int fd;
    ev_io read_io, write_io;
    ev_timer failed; /* reports from the loop a connect() that failed at once */
    int connect_error;
    bool connecting; /* connect() is in progress: write_io waits for its outcome */
    bool open;       /* on_close not called yet */
    bool closing;    /* echo_client_close was called inside a callback: free when it returns */
    bool paused;     /* echo_client_pause: read_io stays stopped */
    bool delivering; /* read_cb is handing out lines, with read_io stopped */
    int depth;       /* user callbacks running now (more than one if one runs the loop itself) */
    char *in;        /* the start of a line not complete yet */
    size_t in_len, in_cap;
    char *out; /* bytes queued for the server: out[out_off..out_len) */
    size_t out_off, out_len, out_cap;
    echo_client_line_cb on_line;
    echo_client_close_cb on_close;
    void *ud;
};

/* Stops every watcher and closes the socket; the client object stays. */
static void shut(echo_client *c) {
    ev_io_stop(c->loop, &c->read_io);
    ev_io_stop(c->loop, &c->write_io);
    ev_timer_stop(c->loop, &c->failed);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->open = false;
}

static void destroy(echo_client *c) {
    free(c->in);
    free(c->out);
    free(c);
}

/* Bracket every user callback: before_callback(c); cb(...); if (!after_callback(c)) return;
 * after_callback returns false if the callback closed the client, which is then freed (or will be,
 * when the outermost callback returns): the caller must not touch it again. */
static void before_callback(echo_client *c) {
    c->depth++;
}

static bool after_callback(echo_client *c) {
    c->depth--;
    if (!c->closing)
        return true;
    if (c->depth == 0)
        destroy(c);
    return false;
}

/* The connection is over: report it once. Returns false if the client was closed by the callback. */
static bool end(echo_client *c, int error) {
    if (!c->open)
        return true;
    shut(c);
    if (!c->on_close)
        return true;
    before_callback(c);
    c->on_close(c->ud, error);
    return after_callback(c);
}

static void flush(echo_client *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0)
            c->out_off += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return; /* write_io stays active: the rest when there is room */
        else {
            end(c, errno);
            return;
        }
    }
    c->out_off = c->out_len = 0;
    ev_io_stop(c->loop, &c->write_io);
}

static void write_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    echo_client *c = w->data;
    if (c->connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err != 0) {
            end(c, err);
            return;
        }
        c->connecting = false;
        if (!c->paused)
            ev_io_start(loop, &c->read_io);
    }
    flush(c);
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    echo_client *c = w->data;
    if (!echo_reserve(&c->in, &c->in_cap, c->in_len + ECHO_READ_CHUNK)) {
        end(c, ENOMEM);
        return;
    }
    ssize_t n = recv(c->fd, c->in + c->in_len, ECHO_READ_CHUNK, 0);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            end(c, errno);
        return;
    }
    if (n == 0) {
        end(c, 0); /* the server closed the connection; an incomplete line is dropped */
        return;
    }
    size_t scan = c->in_len; /* no '\n' before the new bytes */
    c->in_len += (size_t)n;

    /* No reads while lines are handed out: a callback that runs the loop must not get later lines
     * before the earlier ones of this read. */
    ev_io_stop(loop, &c->read_io);
    c->delivering = true;
    size_t start = 0;
    char *nl;
    while (c->open && (nl = memchr(c->in + scan, '\n', c->in_len - scan)) != NULL) {
        size_t len = (size_t)(nl - (c->in + start));
        *nl = '\0';
        if (c->on_line) {
            before_callback(c);
            c->on_line(c->ud, c->in + start, len);
            if (!after_callback(c))
                return;
        }
        start = scan = start + len + 1;
    }
    c->delivering = false;
    if (!c->open)
        return; /* a callback ran the loop, and the connection ended meanwhile */
    c->in_len -= start;
    memmove(c->in, c->in + start, c->in_len);
    if (c->in_len > ECHO_CLIENT_MAX_LINE) {
        end(c, EMSGSIZE);
        return;
    }
    if (!c->paused)
        ev_io_start(loop, &c->read_io);
}

static void failed_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    echo_client *c = w->data;
    end(c, c->connect_error);
}

echo_client *echo_client_connect(struct ev_loop *loop, uint16_t port, echo_client_line_cb on_line,
                                 echo_client_close_cb on_close, void *ud) {
    echo_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        free(c);
        return NULL;
    }
    c->loop = loop;
    c->on_line = on_line;
    c->on_close = on_close;
    c->ud = ud;
    c->open = true;
    ev_io_init(&c->read_io, read_cb, c->fd, EV_READ);
    ev_io_init(&c->write_io, write_cb, c->fd, EV_WRITE);
    ev_timer_init(&c->failed, failed_cb, 0., 0.);
    c->read_io.data = c->write_io.data = c->failed.data = c;

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
        ev_io_start(loop, &c->read_io);
    } else if (errno == EINPROGRESS || errno == EINTR) {
        c->connecting = true;
        ev_io_start(loop, &c->write_io);
    } else {
        /* Refused at once (usual on loopback). The caller has no client pointer yet, so the news
         * waits for the loop. */
        c->connect_error = errno;
        ev_timer_start(loop, &c->failed);
    }
    return c;
}

/* Appends data (and a '\n' if asked) to the write queue, all or nothing. */
static bool enqueue(echo_client *c, const void *data, size_t len, bool newline) {
    if (!c->open || c->closing) {
        errno = EPIPE;
        return false;
    }
    if (c->out_off > 0) { /* drop what was written, so that a steady stream does not grow out */
        c->out_len -= c->out_off;
        memmove(c->out, c->out + c->out_off, c->out_len);
        c->out_off = 0;
    }
    if (!echo_reserve(&c->out, &c->out_cap, c->out_len + len + newline)) {
        errno = ENOMEM;
        return false;
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    if (newline)
        c->out[c->out_len++] = '\n';
    if (!c->connecting && c->connect_error == 0)
        ev_io_start(c->loop, &c->write_io);
    return true;
}

bool echo_client_send(echo_client *c, const void *data, size_t len) {
    return enqueue(c, data, len, false);
}

bool echo_client_send_line(echo_client *c, const char *line) {
    return enqueue(c, line, strlen(line), true);
}

void echo_client_pause(echo_client *c, bool paused) {
    c->paused = paused;
    if (paused)
        ev_io_stop(c->loop, &c->read_io);
    else if (c->open && !c->closing && !c->connecting && !c->delivering && c->connect_error == 0)
        ev_io_start(c->loop, &c->read_io);
}

size_t echo_client_unsent(const echo_client *c) {
    return c->out_len - c->out_off;
}

bool echo_client_is_open(const echo_client *c) {
    return c->open && !c->closing;
}

void echo_client_close(echo_client *c) {
    if (!c || c->closing)
        return;
    shut(c);
    c->closing = true;
    if (c->depth == 0)
        destroy(c);
}
