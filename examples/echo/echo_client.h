/* echo_client.h — a client for the line-echo server (echo_server.h), for a libev loop.
 *
 * It demonstrates the client half of a non-blocking libev component: connect() that completes (or
 * fails) later on an EV_WRITE watcher, output queued until the socket takes it, input split into
 * lines and handed to a callback, and the end of the connection reported exactly once — including a
 * connect() that fails at once, which is still reported from the loop and never from inside
 * echo_client_connect. echo_test.c tests it with asyncheck.
 *
 *   static void on_line(void *ud, const char *line, size_t len) { printf("got %.*s\n", (int)len, line); }
 *   static void on_close(void *ud, int error) { ... }
 *
 *   echo_client *c = echo_client_connect(loop, port, on_line, on_close, ud);
 *   echo_client_send_line(c, "hello");
 *   ev_run(loop, 0);   // on_line(ud, "hello", 5)
 *   echo_client_close(c); */
#ifndef ECHO_CLIENT_H
#define ECHO_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;

typedef struct echo_client echo_client;

/* A line received from the server, without its '\n'. line[len] is '\0', so the line can be used as a
 * C string when it contains no '\0' of its own; it is valid only during the call. */
typedef void (*echo_client_line_cb)(void *ud, const char *line, size_t len);

/* The connection is over: error is 0 when the server closed it, or an errno value (ECONNREFUSED when
 * nothing listens on the port, ECONNRESET, ...). Called at most once, and never after
 * echo_client_close. The client's socket is closed and its watchers stopped by then; the client still
 * has to be freed with echo_client_close. */
typedef void (*echo_client_close_cb)(void *ud, int error);

/* Starts connecting to 127.0.0.1:port on `loop`. Lines may be sent at once; they go out when the
 * connection is up. Returns NULL with errno set only if no socket could be made: a refused or
 * failed connection is reported to on_close from the loop. Either callback may be NULL. */
echo_client *echo_client_connect(struct ev_loop *loop, uint16_t port, echo_client_line_cb on_line,
                                 echo_client_close_cb on_close, void *ud);

/* Queues `len` raw bytes for the server (a part of a line, or several lines). Returns false with
 * errno EPIPE if the connection is already over. Never calls a callback itself. */
bool echo_client_send(echo_client *c, const void *data, size_t len);

/* Queues the C string `line` followed by '\n'. */
bool echo_client_send_line(echo_client *c, const char *line);

/* Stops (paused: true) or resumes taking the server's replies off the socket, for flow control:
 * while paused, nothing more is read (the lines of a read in progress are still delivered) and the
 * server has to hold on to its echoes. */
void echo_client_pause(echo_client *c, bool paused);

/* Bytes queued by echo_client_send that the socket has not taken yet. */
size_t echo_client_unsent(const echo_client *c);

/* True while the connection is being made or is up (on_close has not been called). */
bool echo_client_is_open(const echo_client *c);

/* Closes the connection (no on_close call for it), stops the client's watchers and frees it. Allowed
 * inside the client's own callbacks. NULL is ignored. */
void echo_client_close(echo_client *c);

#endif
