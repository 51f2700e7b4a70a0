/* fetcher.c — the fetcher (fetcher.h): libcurl's multi-socket API on a libev loop. It owns the multi
 * handle, one ev_io per socket libcurl asks to watch, the one ev_timer libcurl asks for, and the
 * transfers' easy handles and body buffers. It never blocks and never calls a fetch_cb from inside
 * libcurl (libcurl forbids removing a handle from its own callbacks): outcomes are collected after each
 * curl_multi_socket_action returns.
 *
 * When libcurl's multi handle itself fails (curl_multi_socket_action returns an error: it ran out of
 * memory), it may leave a transfer with no socket to watch and no timer to wait for, which would never
 * end; the fetcher then ends every transfer in flight with CURLE_OUT_OF_MEMORY (fail_all).
 *
 * PLANTED_BUG (1, 2, 3 or 4) compiles in one deliberate mistake, for the curl_test_bug<N> targets. */
#include "fetcher.h"

#include <curl/curl.h>
#include <ev.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#ifndef PLANTED_BUG
#define PLANTED_BUG 0
#endif

/* One socket libcurl wants watched: its ev_io, on the fetcher's list of them. */
typedef struct sock_watch {
    ev_io io;
    fetcher *f;
    curl_socket_t fd;
    struct sock_watch *prev, *next;
} sock_watch;

struct fetch {
    fetcher *f;
    CURL *easy;
    fetch_cb cb;
    void *ud;
    char *body;
    size_t len, cap;
    bool cancelled; /* PLANTED_BUG 3 only: cancelled but left in the multi handle */
    bool failing;   /* fail_all is ending it */
    fetch *prev, *next;
};

struct fetcher {
    struct ev_loop *loop;
    CURLM *multi;
    ev_timer timer;
    fetch *transfers;
    size_t ntransfers;
    sock_watch *socks;
    size_t nsocks;
};

/* ---- bookkeeping ---- */

static void unlink_fetch(fetch *h) {
    fetcher *f = h->f;
    if (h->prev)
        h->prev->next = h->next;
    else
        f->transfers = h->next;
    if (h->next)
        h->next->prev = h->prev;
    f->ntransfers--;
}

/* Takes the transfer out of libcurl (closing its connection if it is cut short) and frees it. */
static void destroy_fetch(fetch *h) {
    curl_multi_remove_handle(h->f->multi, h->easy);
    curl_easy_cleanup(h->easy);
    unlink_fetch(h);
    free(h->body);
    free(h);
}

static void drop_sock(fetcher *f, sock_watch *w) {
    ev_io_stop(f->loop, &w->io);
    if (w->prev)
        w->prev->next = w->next;
    else
        f->socks = w->next;
    if (w->next)
        w->next->prev = w->prev;
    f->nsocks--;
    free(w);
}

/* Ends transfer h: out of libcurl, unlinked and freed before its callback runs, so the callback may
 * start or cancel others (libcurl drops a cancelled handle's pending message). */
static void finish(fetch *h, CURLcode result, long status) {
    fetch_cb cb = h->cb;
    void *ud = h->ud;
    bool silent = h->cancelled;
    char *body = h->body;
    size_t len = h->len;
    h->body = NULL;
    destroy_fetch(h);
    if (!silent)
        cb((int)result, status, body ? body : "", len, ud);
    free(body);
}

/* Reports every finished transfer. */
static void collect_done(fetcher *f) {
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(f->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        fetch *h = (fetch *)priv;
        long status = 0;
        curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
        finish(h, msg->data.result, status);
    }
}

/* libcurl's multi handle failed: every transfer in flight now (not those a callback starts meanwhile)
 * ends with CURLE_OUT_OF_MEMORY, or CURLE_FAILED_INIT for any other multi error. */
static void fail_all(fetcher *f, CURLMcode rc) {
#if PLANTED_BUG == 4
    (void)f, (void)rc; /* the bug: the failure is ignored, and the transfer may hang for ever */
#else
    CURLcode result = rc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
    for (fetch *h = f->transfers; h; h = h->next)
        h->failing = true;
    for (;;) {
        fetch *h = f->transfers;
        while (h && !h->failing)
            h = h->next;
        if (!h)
            return;
        finish(h, result, 0);
    }
#endif
}

/* ---- libcurl's callbacks ---- */

static void on_socket_event(struct ev_loop *loop, ev_io *io, int revents) {
    (void)loop;
    sock_watch *w = (sock_watch *)io;
    fetcher *f = w->f;
    int action = ((revents & EV_READ) ? CURL_CSELECT_IN : 0) | ((revents & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running;
    CURLMcode rc = curl_multi_socket_action(f->multi, w->fd, action, &running); /* w may be gone now */
    collect_done(f);
    if (rc != CURLM_OK)
        fail_all(f, rc);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
    (void)easy;
    fetcher *f = userp;
    sock_watch *w = socketp;
    if (what == CURL_POLL_REMOVE) {
#if PLANTED_BUG == 1
        return 0; /* the bug: the ev_io stays active (and on the list, for fetcher_free) */
#else
        if (w) {
            curl_multi_assign(f->multi, s, NULL);
            drop_sock(f, w);
        }
        return 0;
#endif
    }
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w)
            return -1; /* libcurl fails the transfers on this socket */
        w->f = f;
        w->fd = s;
        w->next = f->socks;
        if (f->socks)
            f->socks->prev = w;
        f->socks = w;
        f->nsocks++;
        ev_init(&w->io, on_socket_event);
        curl_multi_assign(f->multi, s, w);
    }
    int events = (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
    ev_io_stop(f->loop, &w->io);
    ev_io_set(&w->io, s, events);
    ev_io_start(f->loop, &w->io);
    return 0;
}

static void on_timeout(struct ev_loop *loop, ev_timer *timer, int revents) {
    (void)loop, (void)revents;
    fetcher *f = timer->data;
#if PLANTED_BUG == 2
    (void)f; /* the bug: libcurl is never told that its time has come */
#else
    int running;
    CURLMcode rc = curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect_done(f);
    if (rc != CURLM_OK)
        fail_all(f, rc);
#endif
}

/* libcurl asks to be called back in timeout_ms (0: as soon as possible), or never (-1). It must not be
 * called back from in here, so 0 becomes a timer that fires at the loop's next iteration. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp) {
    (void)multi;
    fetcher *f = userp;
    ev_timer_stop(f->loop, &f->timer);
    if (timeout_ms >= 0) {
        ev_timer_set(&f->timer, (double)timeout_ms / 1000.0, 0.);
        ev_timer_start(f->loop, &f->timer);
    }
    return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
    fetch *h = ud;
    size_t len = size * n;
    if (h->len + len + 1 > h->cap) {
        size_t cap = h->cap ? h->cap : 256;
        while (cap < h->len + len + 1)
            cap *= 2;
        char *body = realloc(h->body, cap);
        if (!body)
            return 0; /* libcurl ends the transfer with CURLE_WRITE_ERROR */
        h->body = body;
        h->cap = cap;
    }
    memcpy(h->body + h->len, data, len);
    h->len += len;
    h->body[h->len] = '\0';
    return len;
}

/* ---- the API ---- */

fetcher *fetcher_new(struct ev_loop *loop) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return NULL;
    fetcher *f = calloc(1, sizeof *f);
    if (!f || !(f->multi = curl_multi_init())) {
        free(f);
        curl_global_cleanup();
        return NULL;
    }
    f->loop = loop;
    ev_timer_init(&f->timer, on_timeout, 0., 0.);
    f->timer.data = f;
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
    return f;
}

void fetcher_free(fetcher *f) {
    if (!f)
        return;
    while (f->transfers)
        destroy_fetch(f->transfers);
    curl_multi_cleanup(f->multi); /* closes the cached connections */
    while (f->socks)              /* whatever libcurl did not say REMOVE for */
        drop_sock(f, f->socks);
    ev_timer_stop(f->loop, &f->timer);
    free(f);
    curl_global_cleanup();
}

fetch *fetcher_get(fetcher *f, const char *url, const fetch_options *opt, fetch_cb cb, void *ud) {
    fetch *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->f = f;
    h->cb = cb;
    h->ud = ud;
    if (!(h->easy = curl_easy_init())) {
        free(h);
        return NULL;
    }
    long timeout = opt && opt->timeout_ms > 0 ? opt->timeout_ms : 30000;
    long connect_timeout = opt && opt->connect_timeout_ms > 0 ? opt->connect_timeout_ms : 10000;
    if (curl_easy_setopt(h->easy, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(h->easy, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(h->easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS, timeout) != CURLE_OK ||
        curl_easy_setopt(h->easy, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout) != CURLE_OK ||
        curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, h) != CURLE_OK ||
        curl_easy_setopt(h->easy, CURLOPT_PRIVATE, h) != CURLE_OK ||
        curl_multi_add_handle(f->multi, h->easy) != CURLM_OK) { /* asks for a timer at 0 ms */
        curl_easy_cleanup(h->easy);
        free(h);
        return NULL;
    }
    h->next = f->transfers;
    if (f->transfers)
        f->transfers->prev = h;
    f->transfers = h;
    f->ntransfers++;
#if PLANTED_BUG == 2
    int running; /* the bug's own kick, since its timer never will */
    curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
#endif
    return h;
}

void fetcher_cancel(fetch *h) {
    if (!h)
        return;
#if PLANTED_BUG == 3
    h->cancelled = true; /* the bug: the transfer goes on, silently, until it ends by itself */
#else
    destroy_fetch(h);
#endif
}

size_t fetcher_transfers(const fetcher *f) {
    return f->ntransfers;
}

size_t fetcher_sockets(const fetcher *f) {
    return f->nsocks;
}
