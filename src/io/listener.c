/* listener.c — the scripted server (asyncheck/io.h): a listening socket on loopback TCP or an AF_UNIX
 * path, whose accepted connections are handed, in order, to the scripts ac_listener_next made; the
 * end-of-test checks (scripted connections that never came) and ac_unused_tcp_port. It owns the
 * listening socket and the list of scripts; each script is an ordinary peer (peer.c) and runs there:
 * this file never reads or writes a connection, it only accepts it and attaches it. */
#include "peer.h"
#include "util/util.h"

#include "asyncheck/race.h"
#include "context/context.h"
#include "loop/loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct script {
    ac_peer *peer;
    const char *file; /* where ac_listener_next made it */
    int line;
} script;

struct ac_listener {
    ac_test *t;
    struct ev_loop *loop;
    int fd; /* the listening socket; -1 once closed */
    bool tcp;
    char *path; /* a unix listener's path, removed at the test's end */
    const char *file;
    int line;
    ev_io acc;
    bool acc_unref; /* acc is active but unreferenced (every scripted connection has come) */
    script *scripts;
    size_t nscripts, cap;
    size_t accepted;
};

static const char *plural(size_t n) {
    return n == 1 ? "" : "s";
}

/* The accept watcher keeps the runner's drain waiting only while a scripted connection has not come. */
static void sync_acceptor(ac_listener *l) {
    bool active = l->fd >= 0, referenced = l->accepted < l->nscripts;
    if (ev_is_active(&l->acc) && l->acc_unref) {
        ev_ref(l->loop);
        l->acc_unref = false;
    }
    if (!active) {
        ev_io_stop(l->loop, &l->acc);
        return;
    }
    if (!ev_is_active(&l->acc))
        ev_io_start(l->loop, &l->acc);
    if (!referenced) {
        ev_unref(l->loop);
        l->acc_unref = true;
    }
}

/* A connection beyond the scripted ones: fails the test at once (fatal from the callback). */
static void fail_unexpected(ac_listener *l, int fd) {
    close(fd);
    char msg[200], got[64], exp[64];
    snprintf(msg, sizeof msg, "listener: unexpected connection %zu: only %zu scripted (ac_listener_next)",
             l->accepted, l->nscripts);
    snprintf(got, sizeof got, "connection %zu", l->accepted);
    snprintf(exp, sizeof exp, "at most %zu connection%s", l->nscripts, plural(l->nscripts));
    ev_io_stop(l->loop, &l->acc);
    l->acc_unref = false;
    ac__report_failure(AC_FK_ASSERTION, true, l->file, l->line, msg, got, exp);
}

/* Accepts what is waiting; each connection goes to the script of its number. */
static void accept_all(ac_listener *l) {
    while (l->fd >= 0) {
        ac__harness_call_begin(); /* never the code under test's call (src/fault/) */
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        ac__harness_call_end();
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN; or out of fds, which the code's own connect then notices */
        }
        l->accepted++;
        if (l->accepted > l->nscripts) {
            fail_unexpected(l, fd);
            return;
        }
        if (l->tcp) {
            int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        sync_acceptor(l);
        ac__peer_attach(l->scripts[l->accepted - 1].peer, fd);
    }
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    accept_all(w->data);
}

/* The test has ended: a scripted connection that never came fails it (a note after a cancel); then each
 * script that came gets a peer's own end-of-test check. */
static void on_test_end(ac_test *t, void *ctx) {
    ac_listener *l = ctx;
    if (ev_is_active(&l->acc) && l->acc_unref)
        ev_ref(l->loop);
    ev_io_stop(l->loop, &l->acc);
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    bool skipped = ac__test_skipped(t);
    for (size_t i = l->accepted; i < l->nscripts && !skipped; i++) {
        const script *s = &l->scripts[i];
        ac__buf msg = {0}, got = {0}, exp = {0};
        ac__buf_printf(&msg, "listener: scripted connection %zu never came (%zu of %zu accepted)", i + 1,
                       l->accepted, l->nscripts);
        if (ac_cancelled(t))
            ac__buf_puts(&msg, ": abandoned after the cancel");
        ac__buf_puts(&msg, "; its script: ");
        ac__peer_describe_script(s->peer, &msg);
        ac__buf_printf(&got, "%zu connection%s", l->accepted, plural(l->accepted));
        ac__buf_printf(&exp, "%zu connection%s", l->nscripts, plural(l->nscripts));
        if (ac_cancelled(t))
            ac__report_note(t, s->file, s->line, ac__buf_str(&msg));
        else
            ac__report_failure(AC_FK_ASSERTION, false, s->file, s->line, ac__buf_str(&msg), ac__buf_str(&got),
                               ac__buf_str(&exp));
        ac__buf_free(&msg);
        ac__buf_free(&got);
        ac__buf_free(&exp);
        if (!ac_cancelled(t))
            break; /* the first one says it; the others follow from it */
    }
    for (size_t i = 0; i < l->nscripts; i++)
        ac__peer_end(l->scripts[i].peer);
    if (l->path)
        unlink(l->path);
    free(l->path);
    free(l->scripts);
    free(l);
}

static ac_listener *make_listener(ac_test *t, int fd, bool tcp, const char *file, int line) {
    ac_listener *l = ac__xcalloc(1, sizeof *l);
    l->t = t;
    l->loop = ac_loop(t);
    l->fd = fd;
    ac__loop_fd_harness(fd, true);
    l->tcp = tcp;
    l->file = file;
    l->line = line;
    ev_io_init(&l->acc, on_accept, fd, EV_READ);
    l->acc.data = l;
    ac__at_test_end(t, on_test_end, l);
    sync_acceptor(l);
    return l;
}

/* Fails the test fatally: listening failed in `what` with errno err. */
static void fail_listen(const char *fn, const char *what, int err, const char *file, int line) {
    char text[512];
    const char *name = strerrorname_np(err);
    snprintf(text, sizeof text, "%s: could not listen (%s: %s: %s)", fn, what, name ? name : "?",
             strerror(err));
    ac__report_failure(AC_FK_HARNESS, true, file, line, text, NULL, NULL);
}

ac_listener *ac__peer_listen_tcp(ac_test *t, uint16_t *port, const char *file, int line) {
    if (!t || !port)
        ac__report_failure(AC_FK_ASSERTION, true, file, line,
                           "ac_peer_listen_tcp: t and port must not be NULL", NULL, NULL);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    const char *what = "socket";
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        what = "bind 127.0.0.1";
        if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
            getsockname(fd, (struct sockaddr *)&a, &alen) == 0) {
            what = "listen";
            if (listen(fd, SOMAXCONN) == 0) {
                *port = ntohs(a.sin_port);
                return make_listener(t, fd, true, file, line);
            }
        }
    }
    int err = errno;
    if (fd >= 0)
        close(fd);
    fail_listen("ac_peer_listen_tcp", what, err, file, line);
    return NULL; /* not reached: the report is fatal */
}

ac_listener *ac__peer_listen_unix(ac_test *t, const char *path, const char *file, int line) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (!t || !path)
        ac__report_failure(AC_FK_ASSERTION, true, file, line,
                           "ac_peer_listen_unix: t and path must not be NULL", NULL, NULL);
    if (!path[0] || strlen(path) >= sizeof a.sun_path) {
        char text[160];
        snprintf(text, sizeof text, "ac_peer_listen_unix: the path must have 1 to %zu bytes (it has %zu)",
                 sizeof a.sun_path - 1, strlen(path));
        ac__report_failure(AC_FK_ASSERTION, true, file, line, text, NULL, NULL);
    }
    memcpy(a.sun_path, path, strlen(path) + 1);
    char what[160];
    snprintf(what, sizeof what, "socket");
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        snprintf(what, sizeof what, "bind %s", path);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0) {
            snprintf(what, sizeof what, "listen");
            if (listen(fd, SOMAXCONN) == 0) {
                ac_listener *l = make_listener(t, fd, false, file, line);
                l->path = ac__xstrdup(path);
                return l;
            }
            int err = errno;
            unlink(path);
            errno = err;
        }
    }
    int err = errno;
    if (fd >= 0)
        close(fd);
    fail_listen("ac_peer_listen_unix", what, err, file, line);
    return NULL; /* not reached: the report is fatal */
}

ac_peer *ac__listener_next(ac_listener *l, const char *file, int line) {
    if (!l)
        ac__report_failure(AC_FK_ASSERTION, true, file, line, "ac_listener_next: the listener is NULL", NULL,
                           NULL);
    if (l->nscripts == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->scripts = ac__xrealloc(l->scripts, l->cap * sizeof *l->scripts);
    }
    char label[64];
    snprintf(label, sizeof label, "scripted peer (connection %zu)", l->nscripts + 1);
    l->scripts[l->nscripts++] = (script){ac__peer_detached(l->t, label, l->tcp, file, line), file, line};
    sync_acceptor(l);
    return l->scripts[l->nscripts - 1].peer;
}

ac_peer *(ac_listener_next)(ac_listener *l) {
    return ac__listener_next(l, "?", 0);
}

void ac_listener_close(ac_listener *l) {
    if (!l || l->fd < 0)
        return;
    accept_all(l); /* they connected before the close */
    if (ev_is_active(&l->acc) && l->acc_unref)
        ev_ref(l->loop);
    l->acc_unref = false;
    ev_io_stop(l->loop, &l->acc);
    close(l->fd);
    l->fd = -1;
}

size_t ac_listener_accepted(const ac_listener *l) {
    return l ? l->accepted : 0;
}

bool ac_listener_done(const ac_listener *l) {
    if (!l || l->accepted < l->nscripts)
        return false;
    for (size_t i = 0; i < l->nscripts; i++)
        if (!ac_peer_done(l->scripts[i].peer))
            return false;
    return true;
}

uint16_t ac_unused_tcp_port(void) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    uint16_t port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}
