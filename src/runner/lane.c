/* lane.c — the lanes: with more than one job slot, each slot's tests are supervised by a process of the
 * slot's own, forked from the runner once its set-up is done (its "lane"), so that the work of watching
 * a test (its pipes, its exit, its watchdog, what it left behind) runs beside the other slots' instead
 * of through the one runner. The runner sends a lane which run to make and receives the run's result
 * (result_wire.c) when it has ended; it decides what runs next, explores, orders and reports. This file
 * owns the lane's process and the messages between the two: a length, a type and a payload on a stream
 * socket. What a lane does with a run is run.c's (the same code the runner uses for a slot it
 * supervises itself). */
#include "runner.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct header {
    uint32_t len; /* of the payload */
    uint8_t type, pad[3];
} header;

#define LANE_MESSAGE_MAX (1u << 30) /* a result holds what the test sent: its notes are not capped */

bool ac__lane_available(void) {
    const char *e = getenv("AC_LANES");
    return !(e && strcmp(e, "0") == 0);
}

bool ac__lane_spawn(ac__lane *l, void (*serve)(void *ctx, int sock), void *ctx, const int *keep,
                    size_t nkeep) {
    *l = (ac__lane){.pid = -1, .sock = -1};
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return false;
    pid_t runner = getpid();
    fflush(NULL); /* nothing buffered in the runner may be written twice */
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the runner, even if it is SIGKILLed */
        if (getppid() != runner)
            _exit(0);
        /* Ctrl-C reaches the runner's process group, which the lane is in: the runner tells the lanes */
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        ac__close_all_but_and(keep, nkeep, sv[1]);
        serve(ctx, sv[1]);
        _exit(0);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return false;
    }
    l->pid = pid;
    l->sock = sv[0];
    return true;
}

void ac__lane_put(ac__lane *l, int type, const void *payload, size_t n) {
    header h = {.len = (uint32_t)n, .type = (uint8_t)type};
    ac__buf_append(&l->out, &h, sizeof h);
    ac__buf_append(&l->out, payload, n);
}

int ac__lane_flush(ac__lane *l) {
    size_t at = 0;
    while (at < l->out.len) {
        ssize_t sent = send(l->sock, l->out.data + at, l->out.len - at, MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent <= 0)
            break;
        at += (size_t)sent;
    }
    bool whole = at == l->out.len;
    l->out.len = 0;
    return whole ? 0 : -1;
}

int ac__lane_read(ac__lane *l, bool wait) {
    if (l->sock < 0)
        return -1;
    char chunk[65536];
    int flags = wait ? 0 : MSG_DONTWAIT;
    for (;;) {
        ssize_t n = recv(l->sock, chunk, sizeof chunk, flags);
        if (n > 0) {
            ac__buf_append(&l->in, chunk, (size_t)n);
            flags = MSG_DONTWAIT;
            if ((size_t)n < sizeof chunk)
                return 0;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return -1; /* the other end is gone */
    }
}

int ac__lane_message(ac__lane *l, int *type, const char **payload, size_t *n) {
    if (l->in.len < sizeof(header))
        return 0;
    header h;
    memcpy(&h, l->in.data, sizeof h);
    if (h.len > LANE_MESSAGE_MAX)
        return -1;
    if (l->in.len - sizeof h < h.len)
        return 0;
    *type = h.type;
    *payload = l->in.data + sizeof h;
    *n = h.len;
    return 1;
}

void ac__lane_consume(ac__lane *l) {
    header h;
    memcpy(&h, l->in.data, sizeof h);
    size_t used = sizeof h + h.len;
    memmove(l->in.data, l->in.data + used, l->in.len - used);
    l->in.len -= used;
}

int ac__lane_stop(ac__lane *l, bool kill_it) {
    int status = 0;
    if (l->sock >= 0)
        close(l->sock); /* the lane reads the end of the run and exits */
    l->sock = -1;
    if (l->pid > 0 && !kill_it) { /* a lane a test stopped never exits: it has a lane's patience */
        int pidfd = (int)syscall(SYS_pidfd_open, l->pid, 0);
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        kill_it = pidfd < 0 || poll(&p, 1, AC_LANE_PATIENCE_MS) != 1;
        if (pidfd >= 0)
            close(pidfd);
    }
    if (l->pid > 0 && kill_it)
        kill(l->pid, SIGKILL);
    if (l->pid > 0)
        while (waitpid(l->pid, &status, 0) < 0 && errno == EINTR)
            ;
    l->pid = -1;
    ac__buf_free(&l->in);
    ac__buf_free(&l->out);
    return status;
}
