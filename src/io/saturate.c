/* saturate.c — the saturating writer of a scripted peer (ac_peer_saturate, asyncheck/io.h): a helper
 * thread that keeps the code's receive queue full by writing filler bytes to the peer's end whenever the
 * socket can take more. It runs outside the test's loop, touches only its fd, its eventfd and its two
 * counters, never reports anything (the peer's script notices a closed connection) and never outlives
 * the peer: the peer stops and joins it. */
#include "peer.h"
#include "util/util.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

/* The byte the peer fills the code's queue with (ac_peer_saturate documents it). */
#define FILLER 'x'

/* Writes filler until the socket takes no more. False when writing failed (s->err says why). */
static bool fill(ac__saturator *s) {
    static const char buf[65536] = {[0 ... 65535] = FILLER};
    for (;;) {
        ac__harness_call_begin(); /* never the code under test's call (src/fault/) */
        ssize_t w = send(s->fd, buf, sizeof buf, MSG_NOSIGNAL | MSG_DONTWAIT);
        ac__harness_call_end();
        if (w > 0) {
            atomic_fetch_add(&s->bytes, (size_t)w);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        atomic_store(&s->err, w < 0 ? errno : EIO);
        return false;
    }
}

static void *saturate_main(void *arg) {
    ac__saturator *s = arg;
    for (;;) {
        struct pollfd pf[2] = {{.fd = s->fd, .events = POLLOUT}, {.fd = s->wake, .events = POLLIN}};
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            atomic_store(&s->err, errno);
            return NULL;
        }
        if (pf[1].revents || !fill(s))
            return NULL;
    }
}

int ac__saturator_start(ac__saturator *s, int fd) {
    if (s->running)
        return 0;
    s->fd = fd;
    atomic_store(&s->err, 0);
    if (!fill(s))
        return 0; /* the code has closed its end: nothing to keep full (later steps notice) */
    s->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake < 0)
        return errno;
    int err = pthread_create(&s->thread, NULL, saturate_main, s);
    if (err) {
        close(s->wake);
        return err;
    }
    s->running = true;
    return 0;
}

void ac__saturator_stop(ac__saturator *s) {
    if (!s->running)
        return;
    uint64_t one = 1;
    ac__harness_call_begin();
    while (write(s->wake, &one, sizeof one) < 0 && errno == EINTR)
        ;
    ac__harness_call_end();
    pthread_join(s->thread, NULL);
    close(s->wake);
    s->running = false;
}
