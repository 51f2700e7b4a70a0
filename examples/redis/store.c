/* store.c — the session store of store.h: requests, their timeouts and the connection with its
 * reconnects, on hiredis's async API and its libev adapter.
 *
 * Who holds a request: the store, from store_get/store_set until its callback is called or it is
 * cancelled (it is then "pending", in the store's list); hiredis, from when the command is handed to it
 * until hiredis calls on_reply for it (with the answer, or with NULL when the connection goes away or
 * is freed) — hiredis cannot forget a command, so a request that timed out or was cancelled after it was
 * sent lives on until then, and its answer is dropped; and its timeout timer while that is active. A
 * request is freed when none of the three holds it any more (release).
 *
 * Planted bugs (built with -DPLANTED_BUG=N as the separate targets redis_test_bugN; README.md says which
 * test catches each):
 *   1  a request answered in time leaves its timeout timer running (which later reports a timeout too);
 *   2  a request whose connection was lost is reported, but left queued: it goes out again on the next
 *      connection and is reported a second time;
 *   3  store_close leaves the reconnect timer running (so a closed store connects again). */
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#ifndef PLANTED_BUG
#define PLANTED_BUG 0
#endif

typedef enum req_kind { REQ_GET, REQ_SET } req_kind;

struct store_req {
    store *s;
    store_req *prev, *next; /* in s's list while pending, in the order made (the order they are sent) */
    req_kind kind;
    bool pending; /* its callback is still due */
    bool sent;    /* hiredis holds it: on_reply will be called for it exactly once */
    ev_timer timeout;
    store_cb cb;
    void *ud;
    char *cmd; /* the command in RESP (redisFormatCommand), cmd_len bytes */
    int cmd_len;
};

struct store {
    struct ev_loop *loop;
    char *host, *unix_path;
    int port;
    double request_timeout, first_delay, max_delay;
    double delay;          /* before the next reconnect */
    redisAsyncContext *ac; /* the connection (connecting or connected); NULL between attempts */
    bool connected;
    bool closed;
    unsigned connects;
    ev_timer reconnect;
    store_req *head, *tail; /* the pending requests */
};

/* ---- requests ---- */

static void link_req(store *s, store_req *req) {
    req->prev = s->tail;
    req->next = NULL;
    if (s->tail)
        s->tail->next = req;
    else
        s->head = req;
    s->tail = req;
    req->pending = true;
}

static void unlink_req(store *s, store_req *req) {
    if (!req->pending)
        return;
    if (req->prev)
        req->prev->next = req->next;
    else
        s->head = req->next;
    if (req->next)
        req->next->prev = req->prev;
    else
        s->tail = req->prev;
    req->prev = req->next = NULL;
    req->pending = false;
}

/* Frees the request once no one holds it any more. */
static void release(store_req *req) {
    if (req->pending || req->sent || ev_is_active(&req->timeout))
        return;
    redisFreeCommand(req->cmd);
    free(req);
}

/* Ends a pending request: its callback is called (last: the callback may free the store). */
static void finish(store_req *req, store_status status, const char *value, size_t len) {
    store *s = req->s;
    unlink_req(s, req);
#if PLANTED_BUG != 1
    ev_timer_stop(s->loop, &req->timeout);
#endif
    store_cb cb = req->cb;
    void *ud = req->ud;
    release(req);
    cb(status, value, len, ud);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    finish(w->data, STORE_TIMEOUT, NULL, 0);
}

/* What an answer means for a request of this kind. */
static void answer(store_req *req, const redisReply *reply) {
    switch (reply->type) {
    case REDIS_REPLY_STRING:
        if (req->kind == REQ_GET) {
            finish(req, STORE_OK, reply->str, (size_t)reply->len);
            return;
        }
        break;
    case REDIS_REPLY_NIL:
        if (req->kind == REQ_GET) {
            finish(req, STORE_NOT_FOUND, NULL, 0);
            return;
        }
        break;
    case REDIS_REPLY_STATUS:
        if (req->kind == REQ_SET && strcmp(reply->str, "OK") == 0) {
            finish(req, STORE_OK, NULL, 0);
            return;
        }
        break;
    case REDIS_REPLY_ERROR:
        finish(req, STORE_SERVER_ERROR, reply->str, (size_t)reply->len);
        return;
    default:
        break;
    }
    static const char unexpected[] = "unexpected reply";
    finish(req, STORE_SERVER_ERROR, unexpected, sizeof unexpected - 1);
}

/* hiredis's callback for a command: reply is the answer, or NULL when the connection is going away (lost,
 * or freed by store_close). */
static void on_reply(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    store_req *req = privdata;
    req->sent = false;
    if (!req->pending) { /* timed out or cancelled since it was sent: the answer is dropped */
        release(req);
        return;
    }
    store *s = req->s;
    if (!reply) {
        s->connected = false; /* hiredis takes no more commands on this connection */
#if PLANTED_BUG == 2
        req->cb(STORE_DISCONNECTED, NULL, 0, req->ud);
        return;
#endif
        finish(req, STORE_DISCONNECTED, NULL, 0);
        return;
    }
    s->delay = s->first_delay; /* the server answers: the next reconnect starts over from the first delay */
    answer(req, reply);
}

/* Hands the request to hiredis; false when the connection takes no more commands (it is going away). */
static bool send_req(store *s, store_req *req) {
    if (redisAsyncFormattedCommand(s->ac, on_reply, req, req->cmd, (size_t)req->cmd_len) != REDIS_OK)
        return false;
    req->sent = true;
    return true;
}

/* Sends the requests that wait for the connection, in the order they were made. */
static void send_waiting(store *s) {
    for (store_req *req = s->head; req && s->connected; req = req->next)
        if (!req->sent && !send_req(s, req))
            return;
}

static store_req *start_req(store *s, req_kind kind, char *cmd, int cmd_len, store_cb cb, void *ud) {
    if (cmd_len < 0) {
        errno = ENOMEM;
        return NULL;
    }
    store_req *req = calloc(1, sizeof *req);
    if (!req) {
        redisFreeCommand(cmd);
        errno = ENOMEM;
        return NULL;
    }
    req->s = s;
    req->kind = kind;
    req->cb = cb;
    req->ud = ud;
    req->cmd = cmd;
    req->cmd_len = cmd_len;
    link_req(s, req);
    ev_timer_init(&req->timeout, on_timeout, s->request_timeout, 0.);
    req->timeout.data = req;
    ev_timer_start(s->loop, &req->timeout);
    if (s->connected)
        send_req(s, req); /* else (or if that fails) it goes out on the next connection */
    return req;
}

static bool refuse(store *s, const char *key, store_cb cb) {
    if (!s || !key || !cb) {
        errno = EINVAL;
        return true;
    }
    if (s->closed) {
        errno = ESHUTDOWN;
        return true;
    }
    return false;
}

store_req *store_get(store *s, const char *key, store_cb cb, void *ud) {
    if (refuse(s, key, cb))
        return NULL;
    char *cmd = NULL;
    int len = redisFormatCommand(&cmd, "GET %b", key, strlen(key));
    return start_req(s, REQ_GET, cmd, len, cb, ud);
}

store_req *store_set(store *s, const char *key, const void *value, size_t len, store_cb cb, void *ud) {
    if (refuse(s, key, cb))
        return NULL;
    if (!value && len) {
        errno = EINVAL;
        return NULL;
    }
    char *cmd = NULL;
    int cmd_len = redisFormatCommand(&cmd, "SET %b %b", key, strlen(key), value ? value : "", len);
    return start_req(s, REQ_SET, cmd, cmd_len, cb, ud);
}

void store_cancel(store *s, store_req *req) {
    if (!s || !req || !req->pending)
        return;
    unlink_req(s, req);
    ev_timer_stop(s->loop, &req->timeout);
    release(req); /* one already sent lives on until hiredis is done with it */
}

/* ---- the connection ---- */

static void connect_now(store *s);

static void schedule_reconnect(store *s) {
    double delay = s->delay;
    s->delay = delay * 2 < s->max_delay ? delay * 2 : s->max_delay;
    ev_timer_set(&s->reconnect, delay, 0.);
    ev_timer_start(s->loop, &s->reconnect);
}

static void on_reconnect_timer(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    connect_now(w->data);
}

/* hiredis's connect callback: the connect completed (REDIS_OK) or failed (hiredis then frees ac). */
static void on_connect(const redisAsyncContext *ac, int status) {
    store *s = ac->data;
    if (!s) /* store_close dropped this connection */
        return;
    if (status != REDIS_OK) {
        s->ac = NULL;
        schedule_reconnect(s);
        return;
    }
    s->connected = true;
    send_waiting(s);
}

/* hiredis's disconnect callback: a connected connection is gone (hiredis has called on_reply with NULL
 * for every command it held, and frees ac after this). */
static void on_disconnect(const redisAsyncContext *ac, int status) {
    (void)status;
    store *s = ac->data;
    if (!s)
        return;
    s->ac = NULL;
    s->connected = false;
    schedule_reconnect(s);
}

static void connect_now(store *s) {
    s->connects++;
    redisAsyncContext *ac =
        s->unix_path ? redisAsyncConnectUnix(s->unix_path) : redisAsyncConnect(s->host, s->port);
    if (!ac || ac->err) { /* failed at once (out of memory, or refused before connect returned) */
        if (ac)
            redisAsyncFree(ac);
        schedule_reconnect(s);
        return;
    }
    ac->data = s;
    if (redisLibevAttach(s->loop, ac) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_reconnect(s);
        return;
    }
    /* hiredis learns that the connect completed from the first write event, which this starts watching */
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    s->ac = ac;
}

/* Cancels every pending request and drops the connection (not the reconnect timer). */
static void drop_all(store *s) {
    s->closed = true;
    while (s->head) {
        store_req *req = s->head;
        unlink_req(s, req);
        ev_timer_stop(s->loop, &req->timeout);
        release(req);
    }
    if (s->ac) {
        redisAsyncContext *ac = s->ac;
        s->ac = NULL;
        s->connected = false;
        ac->data = NULL;    /* its callbacks ignore it from now on */
        redisAsyncFree(ac); /* on_reply(NULL) for the requests it held frees them; deferred when called
                               from inside one of hiredis's callbacks, until that returns */
    }
}

void store_close(store *s) {
    if (!s)
        return;
    drop_all(s);
#if PLANTED_BUG != 3
    ev_timer_stop(s->loop, &s->reconnect);
#endif
}

void store_free(store *s) {
    if (!s)
        return;
    drop_all(s);
    ev_timer_stop(s->loop, &s->reconnect);
    free(s->host);
    free(s->unix_path);
    free(s);
}

store *store_new(struct ev_loop *loop, const store_options *opt) {
    if (!loop || !opt || (!opt->unix_path && (!opt->host || opt->port <= 0 || opt->port > 65535))) {
        errno = EINVAL;
        return NULL;
    }
    store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->loop = loop;
    s->port = opt->port;
    s->host = opt->host ? strdup(opt->host) : NULL;
    s->unix_path = opt->unix_path ? strdup(opt->unix_path) : NULL;
    if ((opt->host && !s->host) || (opt->unix_path && !s->unix_path)) {
        free(s->host);
        free(s->unix_path);
        free(s);
        errno = ENOMEM;
        return NULL;
    }
    s->request_timeout = opt->request_timeout > 0 ? opt->request_timeout : 5.0;
    s->first_delay = opt->reconnect_delay > 0 ? opt->reconnect_delay : 0.1;
    s->max_delay = opt->reconnect_max_delay > 0 ? opt->reconnect_max_delay : 10.0;
    if (s->max_delay < s->first_delay)
        s->max_delay = s->first_delay;
    s->delay = s->first_delay;
    ev_timer_init(&s->reconnect, on_reconnect_timer, 0., 0.);
    s->reconnect.data = s;
    connect_now(s);
    return s;
}

unsigned store_connects(const store *s) {
    return s->connects;
}

bool store_connected(const store *s) {
    return s->connected;
}
