/* forksrv.c — the fork servers: one small process per job slot, forked from the runner once its set-up is
 * done, that forks each test's process on the runner's request, so that the fork (copying the page
 * tables) and the copy-on-write faults it leaves in the forking process are paid off the runner's serial
 * path. The test's process is made with clone3(CLONE_PARENT): its parent is the runner, exactly as if the
 * runner had forked it (getppid, PR_SET_PDEATHSIG, PTRACE_TRACEME, waitpid, the child subreaper), and the
 * runner keeps watching it itself. A server only forks and answers with the new process's pid and pidfd;
 * it must not read a test's pipes, reap anything or hold any descriptor of the runner's but the ones it is
 * told to keep. */
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
static void close_all_but(int *keep, size_t n) {
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

typedef struct request_msg {
    ac__fork_request req;
} request_msg;

static void send_reply(int sock, int32_t value, int pidfd) {
    struct iovec iov = {.iov_base = &value, .iov_len = sizeof value};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (pidfd >= 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof control.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pidfd, sizeof(int));
    }
    while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
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
    for (;;) {
        request_msg m;
        int fds[3] = {-1, -1, -1};
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
        if (n != (ssize_t)sizeof m || !c || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len != CMSG_LEN(sizeof fds)) {
            if (c && c->cmsg_type == SCM_RIGHTS) {
                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                memcpy(fds, CMSG_DATA(c), (k < 3 ? k : 3) * sizeof(int));
                for (size_t i = 0; i < 3; i++)
                    if (fds[i] >= 0)
                        close(fds[i]);
            }
            send_reply(sock, -EPROTO, -1);
            continue;
        }
        memcpy(fds, CMSG_DATA(c), sizeof fds);
        for (size_t i = 0; i < 3; i++) /* the runner made them non-blocking for its own ends */
            fcntl(fds[i], F_SETFL, 0);
        int pidfd = -1;
        /* CLONE_PARENT_SETTID: the kernel writes the pid into the page shared with the runner before the
         * process runs, so that the runner knows it even if the server dies before answering. exit_signal
         * must be 0 with CLONE_PARENT: the process inherits the server's, SIGCHLD. */
        struct clone_args args = {0};
        args.flags = CLONE_PARENT | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | CLONE_PIDFD;
        if (made)
            args.flags |= CLONE_PARENT_SETTID;
        args.pidfd = (uint64_t)(uintptr_t)&pidfd;
        args.child_tid = (uint64_t)(uintptr_t)tid_address;
        args.parent_tid = (uint64_t)(uintptr_t)made;
        long pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid == 0) {
            /* what glibc's fork does in its child beyond the clone: the kernel gives a new process no
             * robust-futex list, and the server holds no lock (it is single-threaded) */
            if (robust_head)
                syscall(SYS_set_robust_list, robust_head, robust_len);
            /* the descriptors are close-on-exec copies; the test's process keeps only what child needs */
            child(ctx, &m.req, fds[0], fds[1], fds[2]);
            _exit(127);
        }
        int err = errno;
        for (size_t i = 0; i < 3; i++)
            close(fds[i]);
        if (pid < 0) {
            send_reply(sock, -err, -1);
            continue;
        }
        send_reply(sock, (int32_t)pid, pidfd);
        if (pidfd >= 0)
            close(pidfd);
    }
}

/* ---- the runner's side ---- */

bool ac__forksrv_spawn(ac__forksrv *s, ac__fork_child_fn child, void (*in_server)(void *ctx), void *ctx,
                       const int *keep, size_t nkeep) {
    s->pid = -1;
    s->sock = -1;
    s->pending = false;
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
        int kept[16];
        size_t n = 0;
        for (size_t i = 0; i < nkeep && n < 15; i++)
            if (keep[i] >= 0)
                kept[n++] = keep[i];
        kept[n++] = sv[1];
        close_all_but(kept, n);
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

int ac__forksrv_request(ac__forksrv *s, const ac__fork_request *req, int res_w, int out_w, int err_w) {
    request_msg m;
    memset(&m, 0, sizeof m);
    m.req = *req;
    int fds[3] = {res_w, out_w, err_w};
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof fds)];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(c), fds, sizeof fds);
    if (s->made)
        __atomic_store_n(s->made, 0, __ATOMIC_SEQ_CST);
    ssize_t n;
    do
        n = sendmsg(s->sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof m)
        return -1;
    s->pending = true;
    return 0;
}

pid_t ac__forksrv_reply(ac__forksrv *s, int *pidfd) {
    *pidfd = -1;
    int32_t value = 0;
    struct iovec iov = {.iov_base = &value, .iov_len = sizeof value};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    ssize_t n;
    for (;;) {
        n = recvmsg(s->sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n >= 0 || (errno != EINTR && errno != EAGAIN))
            break;
        struct pollfd p = {.fd = s->sock, .events = POLLIN};
        if (errno == EAGAIN && poll(&p, 1, 10000) == 0) {
            kill(s->pid, SIGKILL); /* no answer in 10 s: a stopped server is given up */
            n = -1;
            break;
        }
    }
    s->pending = false;
    struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len == CMSG_LEN(sizeof(int)))
        memcpy(pidfd, CMSG_DATA(c), sizeof(int));
    if (n != (ssize_t)sizeof value) { /* the server is gone; the process may exist all the same */
        if (*pidfd >= 0)
            close(*pidfd);
        *pidfd = -1;
        close(s->sock);
        s->sock = -1;
        pid_t made = s->made ? __atomic_load_n(s->made, __ATOMIC_SEQ_CST) : 0;
        return made > 0 ? made : -EPIPE;
    }
    if (value <= 0 && *pidfd >= 0) {
        close(*pidfd);
        *pidfd = -1;
    }
    return value == 0 ? -EPROTO : value;
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
    s->pending = false;
    if (s->made)
        munmap(s->made, sizeof(int));
    s->made = NULL;
}
