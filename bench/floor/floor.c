/* floor.c — the raw floors under one forked asyncheck test, measured in this process:
 *   fork      fork() + _exit(0) in the child + waitpid() in the parent
 *   loop      ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV) + ev_loop_destroy(), in this (warm) process
 *   forkloop  fork(), the child makes and destroys such a loop and _exits, waitpid(): the least a
 *             fresh process on a fresh loop can cost, cold caches and page faults included
 * each repeated N times (default 1000; the first argument overrides). Prints one line per floor,
 * "<name> <microseconds per iteration>", for bench/run.sh to read. Exits non-zero if anything fails. */
#include <ev.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int fork_floor(long n, bool with_loop, double *us) {
    double t0 = now_us();
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("bench_floor: fork");
            return -1;
        }
        if (pid == 0) {
            if (with_loop) {
                struct ev_loop *loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
                if (!loop)
                    _exit(1);
                ev_loop_destroy(loop);
            }
            _exit(0);
        }
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "bench_floor: child %ld did not exit cleanly\n", i);
            return -1;
        }
    }
    *us = (now_us() - t0) / (double)n;
    return 0;
}

static int loop_floor(long n, double *us) {
    double t0 = now_us();
    for (long i = 0; i < n; i++) {
        struct ev_loop *loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
        if (!loop) {
            fprintf(stderr, "bench_floor: ev_loop_new(EVBACKEND_EPOLL) failed\n");
            return -1;
        }
        ev_loop_destroy(loop);
    }
    *us = (now_us() - t0) / (double)n;
    return 0;
}

int main(int argc, char **argv) {
    long n = 1000;
    if (argc > 1) {
        char *end;
        n = strtol(argv[1], &end, 10);
        if (*end || n <= 0) {
            fprintf(stderr, "usage: %s [ITERATIONS]\n", argv[0]);
            return 2;
        }
    }
    double fork_us, loop_us, forkloop_us;
    if (fork_floor(n, false, &fork_us) < 0 || loop_floor(n, &loop_us) < 0 ||
        fork_floor(n, true, &forkloop_us) < 0)
        return 1;
    printf("fork %.2f\nloop %.2f\nforkloop %.2f\n", fork_us, loop_us, forkloop_us);
    return 0;
}
