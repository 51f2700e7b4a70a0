/* http_client.h — a minimal HTTP/1.0 GET client for a libev loop, over a pluggable transport.
 *
 * It demonstrates a libev component built so that its outside world can be mocked: the client does not
 * make its own connections but asks a transport (a struct of function pointers) to connect, which calls
 * back later with a connected fd; from there on the client reads and writes that fd itself with ev_io.
 * It sends "GET <path> HTTP/1.0" with a Host header, reads the response however it is split up, with a
 * read timeout (ev_timer), takes the body by Content-Length or up to end-of-file, retries a failed
 * connect or a 5xx answer a bounded number of times after a fixed or doubling delay, gives up at an
 * overall deadline, and reports the outcome exactly once — never from inside http_client_get, and never
 * twice, even when a transport calls back twice. http_test.c tests it with asyncheck, with mocks of the
 * transport and a scripted peer at the far end of the fd.
 *
 *   static void on_response(int status, const char *body, size_t len, int error, void *ud) { ... }
 *
 *   http_tcp *tcp = http_tcp_new(loop);                       // the real transport: TCP to 127.0.0.1
 *   http_client *c = http_client_get(loop, http_tcp_transport(tcp), NULL, "127.0.0.1", 8080, "/",
 *                                    on_response, ud);
 *   ev_run(loop, 0);                                          // on_response(200, "hello", 5, 0, ud)
 *   http_client_free(c);
 *   http_tcp_free(tcp); */
#ifndef HTTP_CLIENT_H
#define HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

struct ev_loop;

/* ---- the transport ---- */

/* How a connect attempt ended: fd >= 0 and err 0 with a connected, non-blocking stream socket, which
 * from then on belongs to the client (it reads, writes and closes it); or fd -1 and an errno value. */
typedef void (*http_connected_cb)(int fd, int err, void *ud);

typedef int (*http_connect_fn)(void *ctx, const char *host, int port, http_connected_cb done, void *ud);
typedef void (*http_cancel_fn)(void *ctx, void *ud);

typedef struct http_transport {
    /* Starts connecting to host:port. Returns 0 and calls done(fd, 0, ud) or done(-1, err, ud) later,
     * from the loop (never from inside connect); or returns -1 with errno set when it fails at once, and
     * then never calls done. It must call done at most once per call, and not at all after cancel —
     * the client ignores a done it is not waiting for (a second one, or one for an earlier attempt)
     * and leaves the fd of such a call alone. */
    http_connect_fn connect;
    /* Abandons the connect in progress that was given `ud`: done must not be called for it any more.
     * The client calls it when it gives up (deadline, http_client_free) while waiting for done. NULL: the
     * transport cannot cancel, and must then never be left with a connect in progress. */
    http_cancel_fn cancel;
    void *ctx; /* passed to connect and cancel */
} http_transport;

/* ---- the client ---- */

/* The outcome of the request, reported exactly once. With error 0: the server's status and body (body
 * is body_len bytes followed by a '\0', valid only during the call) — the last answer when every attempt
 * got a 5xx. With an error, status is 0 and body NULL, and error is one of:
 *   an errno from the transport (ECONNREFUSED, ...) when the last connect attempt failed;
 *   ETIMEDOUT  the server sent nothing for read_timeout seconds while the client waited for it;
 *   ETIME      the overall timeout ran out;
 *   EPROTO     the response was not HTTP/1.x, or ended before its headers or its Content-Length did;
 *   EMSGSIZE   the headers or the body were too large;
 *   an errno from reading or writing the socket (ECONNRESET, EPIPE, ...).
 * The client's fd is closed and its watchers stopped by then; http_client_free may be called inside. */
typedef void (*http_response_cb)(int status, const char *body, size_t body_len, int error, void *ud);

typedef struct http_options {
    int max_attempts;    /* connect attempts in all, 1..HTTP_MAX_ATTEMPTS; 0: 3 */
    double retry_delay;  /* seconds before the second attempt; 0: 0.1 */
    bool backoff;        /* double the delay before each further attempt (else it stays the same) */
    double read_timeout; /* seconds the server may stay silent once connected; 0: 5 */
    double timeout;      /* seconds for the whole request, retries included; 0: 30 */
} http_options;

#define HTTP_MAX_ATTEMPTS 16
#define HTTP_MAX_HEADER (16 * 1024)
#define HTTP_MAX_BODY (1024 * 1024)

typedef struct http_client http_client;

/* Starts GET http://host:port/path on `loop` through `transport` (copied); options may be NULL for the
 * defaults. A connect attempt fails when connect returns -1 or done reports an error; it is retried, as
 * is an answer with a 5xx status, until max_attempts have been made. A read timeout, a broken
 * connection or a bad response is not retried: the request may have been carried out. Returns NULL with
 * errno set only when out of memory or given invalid arguments (EINVAL); every other failure is reported
 * to cb from the loop. */
http_client *http_client_get(struct ev_loop *loop, http_transport transport, const http_options *options,
                             const char *host, int port, const char *path, http_response_cb cb, void *ud);

/* Connect attempts made so far. */
int http_client_attempts(const http_client *c);

/* True until cb has been called. */
bool http_client_pending(const http_client *c);

/* Stops the request without calling cb (cancelling a connect in progress), closes the fd and frees the
 * client. Allowed inside cb. NULL is ignored. */
void http_client_free(http_client *c);

/* ---- the default transport: TCP, non-blocking connect ---- */

typedef struct http_tcp http_tcp;

/* A transport that connects over TCP on `loop`. Hosts are numeric IPv4 addresses or "localhost" (no name
 * lookup: a resolver would block the loop); other names fail at once with EINVAL. */
http_tcp *http_tcp_new(struct ev_loop *loop);
http_transport http_tcp_transport(http_tcp *tcp);
/* Cancels the connects still in progress (closing their sockets) and frees the transport. */
void http_tcp_free(http_tcp *tcp);

#endif
