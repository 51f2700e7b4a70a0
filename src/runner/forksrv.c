/* forksrv.c — the fork servers: one small process per job slot, forked from the runner once its set-up is
 * done, that forks each test's process on the runner's request, so that the fork (copying the page
 * tables) and the copy-on-write faults it leaves in the forking process are paid off the runner's serial
 * path. The test's process is made with clone3(CLONE_PARENT): its parent is the runner, exactly as if the
 * runner had forked it (getppid, PR_SET_PDEATHSIG, PTRACE_TRACEME, waitpid, the child subreaper), and
 * the runner watches it, reads its pipes and reaps it as it would one it had forked. The server only
 * makes the process and says its pid; it holds the write ends of the slot's pipes from one request to the
 * next, so that the runner can give a test the pipes of the one before when that one left nothing behind
 * (run.c, finish). It must not read, reap, kill, time or judge a test, nor hold any descriptor of the
 * runner's but the ones it is told to keep. (It once read the test's pipes and passed
 * on what they held: measured, that relaying cost more CPU per test than it saved the runner.) */
#include "runner.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define AC_FORKSRV_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define AC_FORKSRV_SANITIZED 1
#endif

#ifndef PR_GET_TID_ADDRESS
#define PR_GET_TID_ADDRESS 40
#endif

bool ac__forksrv_available(void) {
#if defined(AC_FORKSRV_SANITIZED) || !defined(SYS_clone3)
    return false; /* the sanitizers' runtimes must see every fork (their fork interceptors) */
#else
    const char *e = getenv("AC_FORK_SERVER");
    if (e && strcmp(e, "0") == 0)
        return false;
    /* a sanitizer runtime in an executable linked with an uninstrumented asyncheck */
    static const char *const runtimes[] = {"__asan_init", "__tsan_init", "__msan_init", "__hwasan_init"};
    for (size_t i = 0; i < sizeof runtimes / sizeof *runtimes; i++)
        if (dlsym(RTLD_DEFAULT, runtimes[i]))
            return false;
    /* glibc's fork stores the child's thread id in the thread's descriptor through this address; a
     * process made with clone3 gets the same from CLONE_CHILD_SETTID, or the server is not used. */
    void *tid_address = NULL;
    return prctl(PR_GET_TID_ADDRESS, &tid_address, 0, 0, 0) == 0 && tid_address;
#endif
}

/* ---- the server's side ---- */

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Closes every descriptor but the `n` in `keep`: the server holds nothing of the runner's (its loop, other
 * servers' sockets, report files, the signal pipe). */
void ac__close_all_but(int *keep, size_t n) {
    qsort(keep, n, sizeof *keep, cmp_int);
    unsigned from = 0;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        unsigned k = (unsigned)keep[i];
        if (k > from)
            ok = syscall(SYS_close_range, from, k - 1, 0) == 0;
        if (k + 1 > from)
            from = k + 1;
    }
    if (ok && syscall(SYS_close_range, from, ~0U, 0) == 0)
        return;
    DIR *d = opendir("/proc/self/fd"); /* kernels before 5.9 */
    if (!d)
        return;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        bool kept = fd == self;
        for (size_t i = 0; i < n && !kept; i++)
            kept = keep[i] == fd;
        if (!kept)
            close(fd);
    }
    closedir(d);
}

void ac__close_all_but_and(const int *keep, size_t nkeep, int also) {
    int kept[16];
    size_t n = 0;
    for (size_t i = 0; i < nkeep && n < 15; i++)
        if (keep[i] >= 0)
            kept[n++] = keep[i];
    kept[n++] = also;
    ac__close_all_but(kept, n);
}

/* ---- the wire: one datagram each way per test ---- */

enum {
    WIRE_FORK = 'R',    /* runner: an ac__fork_request, with the test's 3 write ends, or none (stream 1):
                         * the ones the server holds from an earlier request */
    WIRE_STARTED = 'S', /* server: value = the pid, or -errno when no process was made */
};

typedef struct wire {
    uint8_t type, stream, pad[2];
    int32_t value;
} wire;

typedef struct request_msg {
    wire w;
    ac__fork_request req;
} request_msg;

static ssize_t send_all(int sock, const void *p, size_t n) {
    ssize_t r;
    do
        r = send(sock, p, n, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    return r;
}

static void send_started(int sock, int32_t value) {
    wire w = {.type = WIRE_STARTED, .value = value};
    send_all(sock, &w, sizeof w);
}

static _Noreturn void serve(int sock, int *made, pid_t runner, ac__fork_child_fn child, void *ctx) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the runner, even if it is SIGKILLed */
    if (getppid() != runner)
        _exit(0);
    /* Ctrl-C reaches the runner's process group, which the server is in: the runner ends the run */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    void *tid_address = NULL;
    prctl(PR_GET_TID_ADDRESS, &tid_address, 0, 0, 0);
    void *robust_head = NULL;
    size_t robust_len = 0;
    syscall(SYS_get_robust_list, 0, &robust_head, &robust_len);
    /* The write ends of the last pipes the runner sent: each test's process gets them, and the server keeps
     * them until new ones come, so that the pipes serve one test after another (the runner reads between
     * tests; it sends new pipes after a test that may have left something holding them). */
    int held[3] = {-1, -1, -1};
    for (;;) {
        request_msg m;
        int fds[3];
        struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof fds)];
        } control;
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = control.buf,
                             .msg_controllen = sizeof control.buf};
        ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(0); /* the runner closed its end: the run is over */
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        size_t nfds = c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS
                          ? (c->cmsg_len - CMSG_LEN(0)) / sizeof(int)
                          : 0;
        if (nfds > 3)
            nfds = 3;
        if (nfds)
            memcpy(fds, CMSG_DATA(c), nfds * sizeof(int));
        bool same = m.w.stream == 1 && nfds == 0 && held[0] >= 0;
        if (n != (ssize_t)sizeof m || m.w.type != WIRE_FORK || (nfds != 3 && !same)) {
            for (size_t i = 0; i < nfds; i++)
                close(fds[i]);
            send_started(sock, -EPROTO);
            continue;
        }
        if (!same) /* (the test's process makes them blocking: the runner made them non-blocking) */
            for (size_t i = 0; i < 3; i++) {
                if (held[i] >= 0)
                    close(held[i]);
                held[i] = fds[i];
            }
        /* CLONE_PARENT_SETTID: the kernel writes the pid into the page shared with the runner before the
         * process runs, so that the runner knows it even if the server dies before answering. exit_signal
         * must be 0 with CLONE_PARENT: the process inherits the server's, SIGCHLD. */
        struct clone_args args = {0};
        args.flags = CLONE_PARENT | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
        if (made)
            args.flags |= CLONE_PARENT_SETTID;
        args.child_tid = (uint64_t)(uintptr_t)tid_address;
        args.parent_tid = (uint64_t)(uintptr_t)made;
        long pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid == 0) {
            /* what glibc's fork does in its child beyond the clone: the kernel gives a new process no
             * robust-futex list, and the server holds no lock (it is single-threaded) */
            if (robust_head)
                syscall(SYS_set_robust_list, robust_head, robust_len);
            child(ctx, &m.req, held[0], held[1], held[2]);
            _exit(127);
        }
        send_started(sock, pid < 0 ? -errno : (int32_t)pid);
    }
}

/* ---- the runner's side ---- */

bool ac__forksrv_spawn(ac__forksrv *s, ac__fork_child_fn child, void (*in_server)(void *ctx), void *ctx,
                       const int *keep, size_t nkeep) {
    s->pid = -1;
    s->sock = -1;
    s->made = NULL;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return false;
    void *page = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int *made = page == MAP_FAILED ? NULL : page;
    pid_t runner = getpid();
    fflush(NULL); /* nothing buffered in the runner may be written twice */
    pid_t pid = fork();
    if (pid == 0) {
        ac__close_all_but_and(keep, nkeep, sv[1]);
        if (in_server)
            in_server(ctx);
        serve(sv[1], made, runner, child, ctx);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        if (made)
            munmap(made, sizeof(int));
        return false;
    }
    s->pid = pid;
    s->sock = sv[0];
    s->made = made;
    return true;
}

int ac__forksrv_request(ac__forksrv *s, const ac__fork_request *req, const int writes[3]) {
    request_msg m;
    memset(&m, 0, sizeof m);
    m.w.type = WIRE_FORK;
    m.w.stream = writes ? 0 : 1;
    m.req = *req;
    int fds[3] = {writes ? writes[0] : -1, writes ? writes[1] : -1, writes ? writes[2] : -1};
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof fds)];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = writes ? control.buf : NULL,
                         .msg_controllen = writes ? sizeof control.buf : 0};
    if (writes) {
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof fds);
        memcpy(CMSG_DATA(c), fds, sizeof fds);
    }
    if (s->made)
        __atomic_store_n(s->made, 0, __ATOMIC_SEQ_CST);
    ssize_t n;
    do
        n = sendmsg(s->sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof m ? 0 : -1;
}

/* The server is gone: its socket closed (ac__forksrv_stop reaps it). */
static int gone(ac__forksrv *s) {
    if (s->sock >= 0)
        close(s->sock);
    s->sock = -1;
    return -1;
}

int ac__forksrv_pump(ac__forksrv *s, void (*started)(void *ctx, pid_t pid), void *ctx, int wait_ms, int max) {
    int got = 0;
    while (s->sock >= 0 && (max <= 0 || got < max)) {
        wire w;
        ssize_t n = recv(s->sock, &w, sizeof w, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (wait_ms <= 0 || got > 0)
                return got;
            struct pollfd p = {.fd = s->sock, .events = POLLIN};
            if (poll(&p, 1, wait_ms) == 0) {
                kill(s->pid, SIGKILL); /* no answer in time: a stopped server is given up */
                return gone(s);
            }
            continue;
        }
        if (n != (ssize_t)sizeof w || w.type != WIRE_STARTED)
            return gone(s); /* closed, or not from a server of ours */
        got++;
        started(ctx, w.value);
    }
    return s->sock >= 0 ? got : -1;
}

pid_t ac__forksrv_made(const ac__forksrv *s) {
    return s->made ? __atomic_load_n(s->made, __ATOMIC_SEQ_CST) : 0;
}

void ac__forksrv_stop(ac__forksrv *s) {
    if (s->sock >= 0)
        close(s->sock); /* the server reads the end of the run and exits */
    s->sock = -1;
    if (s->pid > 0)
        kill(s->pid, SIGKILL); /* even one a test stopped */
    if (s->pid > 0)
        while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    s->pid = -1;
    if (s->made)
        munmap(s->made, sizeof(int));
    s->made = NULL;
}
