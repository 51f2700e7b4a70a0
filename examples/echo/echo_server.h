/* echo_server.h — a line-protocol echo server for a libev loop, over loopback TCP.
 *
 * It demonstrates a small but complete non-blocking libev component: one ev_io watcher accepts
 * connections, and each connection has its own read buffer (input is split on '\n', however the bytes
 * arrive) and write buffer (echoes that the socket cannot take yet wait for an EV_WRITE watcher). It
 * starts no threads and never blocks the loop. echo_test.c tests it with asyncheck.
 *
 *   echo_server *srv = echo_server_start(loop, 0);   // 127.0.0.1, ephemeral port
 *   printf("listening on %u\n", echo_server_port(srv));
 *   ev_run(loop, 0);
 *   echo_server_stop(srv);
 *
 * The protocol: every complete line a client sends ("text\n") is sent back to that client unchanged.
 * An incomplete line is held until its '\n' arrives; one still incomplete when the client closes its
 * side is dropped. A line longer than ECHO_SERVER_MAX_LINE bytes ends the connection. */
#ifndef ECHO_SERVER_H
#define ECHO_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;

/* The longest line (without its '\n') a client may send; a longer one closes its connection. */
#define ECHO_SERVER_MAX_LINE 65536

/* A client with more echo than this waiting for it (it is slow to read) is not read from until all of
 * it has been written. */
#define ECHO_SERVER_MAX_UNSENT (1024 * 1024)

typedef struct echo_server echo_server;

/* Listens on 127.0.0.1:port (port 0: an ephemeral port the kernel chooses) and starts accepting on
 * `loop`. Returns NULL with errno set if the socket cannot be set up. */
echo_server *echo_server_start(struct ev_loop *loop, uint16_t port);

/* The port actually listened on (the ephemeral one when started with port 0). */
uint16_t echo_server_port(const echo_server *srv);

/* Clients connected now: counted on accept, uncounted when the server has closed the connection
 * (after the client disconnected, or on an error). */
size_t echo_server_clients(const echo_server *srv);

/* Bytes received on all connections and not echoed yet because their line has no '\n' so far. */
size_t echo_server_buffered(const echo_server *srv);

/* Bytes of echo waiting in the server for clients that are slow to read them (see
 * ECHO_SERVER_MAX_UNSENT). */
size_t echo_server_unsent(const echo_server *srv);

/* Complete lines echoed so far, over all connections. */
size_t echo_server_lines(const echo_server *srv);

/* Stops every watcher the server started, closes the listening socket and every connection (echoes
 * not yet written are dropped) and frees the server. NULL is ignored. */
void echo_server_stop(echo_server *srv);

#endif
