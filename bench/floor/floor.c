/* floor.c — the raw floors under one forked asyncheck test, measured in this process:
 *   fork      fork() + _exit(0) in the child + waitpid() in the parent
 *   loop      ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV) + ev_loop_destroy(), in this (warm) process
 *   forkloop  fork(), the child makes and destroys such a loop and _exits, waitpid(): the least a
 *             fresh process on a fresh loop can cost, cold caches and page faults included
 *   capture   forkloop plus the least any harness that isolates a test and captures what it writes must
 *             add: three pipes (a result channel, stdout, stderr) read through epoll until their end,
 *             the child in its own process group with a parent-death signal, its ends dup2'd onto 1-3
 *             and one byte of result written, the group killed after the wait
 * each repeated N times (default 1000; the first argument overrides). Prints one line per floor,
 * "<name> <microseconds per iteration>", for bench/run.sh and bench/aims.sh to read; with "capture" as
 * the second argument, only the capture floor (bench/aims.sh runs two at once). Exits non-zero if
 * anything fails. */
#define _GNU_SOURCE
#include <ev.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
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

static _Noreturn void capture_child(int pipes[3][2]) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (int k = 0; k < 3; k++) {
        fcntl(pipes[k][1], F_SETFL, 0); /* the test writes to blocking pipes */
        if (dup2(pipes[k][1], k == 0 ? 3 : k) < 0)
            _exit(1);
    }
    struct ev_loop *loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
    if (!loop)
        _exit(1);
    ev_loop_destroy(loop);
    _exit(write(3, "D", 1) == 1 ? 0 : 1);
}

static int capture_floor(long n, double *us) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("bench_floor: epoll_create1");
        return -1;
    }
    double t0 = now_us();
    for (long i = 0; i < n; i++) {
        int pipes[3][2];
        for (int k = 0; k < 3; k++)
            if (pipe2(pipes[k], O_CLOEXEC | O_NONBLOCK) < 0) {
                perror("bench_floor: pipe2");
                return -1;
            }
        pid_t pid = fork();
        if (pid < 0) {
            perror("bench_floor: fork");
            return -1;
        }
        if (pid == 0)
            capture_child(pipes);
        setpgid(pid, pid);
        for (int k = 0; k < 3; k++) {
            close(pipes[k][1]);
            struct epoll_event e = {.events = EPOLLIN, .data.fd = pipes[k][0]};
            epoll_ctl(ep, EPOLL_CTL_ADD, pipes[k][0], &e);
        }
        bool done = false;
        for (int open_ends = 3; open_ends > 0;) {
            struct epoll_event ev[3];
            int m = epoll_wait(ep, ev, 3, -1);
            for (int j = 0; j < m; j++) {
                char buf[4096];
                ssize_t got = read(ev[j].data.fd, buf, sizeof buf);
                if (got > 0 && ev[j].data.fd == pipes[0][0])
                    done = done || memchr(buf, 'D', (size_t)got);
                if (got == 0) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, ev[j].data.fd, NULL);
                    close(ev[j].data.fd);
                    open_ends--;
                }
            }
        }
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || !done) {
            fprintf(stderr, "bench_floor: captured child %ld did not report and exit cleanly\n", i);
            return -1;
        }
        kill(-pid, SIGKILL);
    }
    *us = (now_us() - t0) / (double)n;
    close(ep);
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
    double fork_us, loop_us, forkloop_us, capture_us;
    if (argc > 2 && strcmp(argv[2], "capture") == 0) {
        if (capture_floor(n, &capture_us) < 0)
            return 1;
        printf("capture %.2f\n", capture_us);
        return 0;
    }
    if (argc > 2) {
        fprintf(stderr, "usage: %s [ITERATIONS [capture]]\n", argv[0]);
        return 2;
    }
    if (fork_floor(n, false, &fork_us) < 0 || loop_floor(n, &loop_us) < 0 ||
        fork_floor(n, true, &forkloop_us) < 0 || capture_floor(n, &capture_us) < 0)
        return 1;
    printf("fork %.2f\nloop %.2f\nforkloop %.2f\ncapture %.2f\n", fork_us, loop_us, forkloop_us, capture_us);
    return 0;
}
