/* peer.h — internal to src/io: what the listener (listener.c) asks of the scripted peer (peer.c), and the
 * saturating writer (saturate.c) a peer runs. Not an interface of the io module: nothing outside src/io/
 * includes it. */
#ifndef ASYNCHECK_IO_PEER_H
#define ASYNCHECK_IO_PEER_H

#include "asyncheck/io.h"
#include "util/util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* A peer waiting for its connection: its steps may be added, nothing runs until ac__peer_attach. It has
 * no end-of-test hook of its own: whoever made it calls ac__peer_end. `label` names it in every message
 * ("scripted peer (connection 2)"). While its script is empty once attached, it reads nothing. */
ac_peer *ac__peer_detached(ac_test *t, const char *label, bool tcp, const char *file, int line);

/* Hands the peer its end of an accepted connection (non-blocking, close-on-exec), of the kind `tcp` given
 * to ac__peer_detached (reset steps need TCP). The script starts at the next loop iteration. */
void ac__peer_attach(ac_peer *p, int fd);

/* The end-of-test check of a detached peer (what a peer's own hook does), then frees it. For a peer that
 * never got its connection, only frees it. */
void ac__peer_end(ac_peer *p);

/* Appends the first steps of p's script ("expect \"GET\" (3 bytes), close"), or "empty". */
void ac__peer_describe_script(const ac_peer *p, ac__buf *b);

/* The helper thread of a saturating peer: writes filler bytes to fd, whenever the socket can take them,
 * until stopped. */
typedef struct ac__saturator {
    pthread_t thread;
    bool running;
    int fd;              /* the peer's end, written to */
    int wake;            /* an eventfd: readable = stop */
    atomic_size_t bytes; /* written so far */
    atomic_int err;      /* the errno that ended the writing (EPIPE: the code closed its end), or 0 */
} ac__saturator;

/* Fills fd until it takes no more, then starts the thread that keeps it full. Returns 0, or an errno
 * (the thread could not be made). */
int ac__saturator_start(ac__saturator *s, int fd);

/* Stops the thread and joins it; nothing if it is not running. */
void ac__saturator_stop(ac__saturator *s);

#endif
