/* store.h — a tiny session store on Redis, built on hiredis's async API and its libev adapter.
 *
 * It demonstrates a libev component that makes its own connections (asyncheck's scripted listener tests
 * it: redis_test.c) on a library that has no timeouts of its own: hiredis 0.14 (Debian 12's
 * libhiredis-dev) has neither connect nor command timeouts in its async API, so the store keeps an
 * ev_timer per request, and reconnects by itself with a doubling delay after a failed connect or a lost
 * connection. Values are byte strings (GET and SET); each request's callback is called exactly once from
 * the loop — never from inside store_get or store_set — unless the request is cancelled, after which it
 * is never called.
 *
 *   static void on_value(store_status st, const char *value, size_t len, void *ud) { ... }
 *
 *   store *s = store_new(loop, &(store_options){.host = "127.0.0.1", .port = 6379});
 *   store_set(s, "session:42", "alice", 5, on_value, NULL);  // on_value(STORE_OK, NULL, 0, NULL)
 *   store_get(s, "session:42", on_value, NULL);              // on_value(STORE_OK, "alice", 5, NULL)
 *   ev_run(loop, 0);
 *   store_free(s);
 *
 * hiredis writes with write(2), not send(MSG_NOSIGNAL): the program must ignore SIGPIPE, or a write to a
 * connection the server reset kills it. */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>

struct ev_loop;

/* How a request ended. */
typedef enum store_status {
    STORE_OK = 0,       /* GET: the value; SET: stored */
    STORE_NOT_FOUND,    /* GET: no such key */
    STORE_TIMEOUT,      /* no answer within the request timeout, time waiting for a connection included */
    STORE_DISCONNECTED, /* the connection was lost after the request was sent: it may have been carried out */
    STORE_SERVER_ERROR, /* the server answered with an error (value: its message) or an unexpected reply */
} store_status;

/* A request's outcome. value is len bytes followed by a '\0', valid only during the call: the value of
 * a GET with STORE_OK, the server's message with STORE_SERVER_ERROR, else NULL (len 0). The request's
 * handle is invalid from the call on. store_free (and store_close) may be called inside. */
typedef void (*store_cb)(store_status status, const char *value, size_t len, void *ud);

typedef struct store_options {
    const char *host; /* numeric address (no name lookup on the loop); with port */
    int port;
    const char *unix_path;      /* instead of host and port: a Unix socket */
    double request_timeout;     /* seconds from store_get/store_set to the answer; 0: 5 */
    double reconnect_delay;     /* seconds before the first reconnect; 0: 0.1 */
    double reconnect_max_delay; /* the delay doubles after each failed attempt up to this; 0: 10 */
} store_options;

typedef struct store store;
typedef struct store_req store_req;

/* Creates a store on `loop` (options copied, strings included) and starts connecting at once. Requests
 * made while it is not connected wait for the connection, within their timeout. After a failed connect,
 * or when the connection is lost, it reconnects after reconnect_delay, doubling the delay after each
 * further failure up to reconnect_max_delay; the delay starts over once a connection has answered a
 * request. Returns NULL with errno set when out of memory or given no address (EINVAL). */
store *store_new(struct ev_loop *loop, const store_options *opt);

/* GET key: cb(STORE_OK, value, len, ud) or cb(STORE_NOT_FOUND, NULL, 0, ud), or a failure. A request
 * is sent once: when its connection is lost it is not sent again (STORE_DISCONNECTED). Returns the
 * request's handle, or NULL with errno set (ENOMEM; EINVAL for a NULL argument; ESHUTDOWN after
 * store_close), and then cb is never called. */
store_req *store_get(store *s, const char *key, store_cb cb, void *ud);

/* SET key to the len bytes at value (copied): cb(STORE_OK, NULL, 0, ud), or a failure. As store_get. */
store_req *store_set(store *s, const char *key, const void *value, size_t len, store_cb cb, void *ud);

/* Cancels a request whose callback has not been called yet: its callback is never called, and its
 * handle is invalid from now on. A request already sent still has its answer read (and dropped), so the
 * answers that follow stay in step. */
void store_cancel(store *s, store_req *req);

/* Cancels every request (no callback is called any more), drops the connection and stops reconnecting:
 * no watcher of the store stays active and its descriptor is closed. Later requests fail at once
 * (ESHUTDOWN). The store stays allocated until store_free. Allowed inside a callback. */
void store_close(store *s);

/* store_close, then frees the store. Allowed inside a callback. NULL is ignored. */
void store_free(store *s);

/* Connection attempts made so far (the first one included). */
unsigned store_connects(const store *s);

/* True while connected (between hiredis's connect callback and the loss of that connection). */
bool store_connected(const store *s);

#endif
