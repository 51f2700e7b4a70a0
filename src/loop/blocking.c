/* blocking.c — blocking calls inside callbacks beyond the sleeping family: name resolution
 * (getaddrinfo, gethostbyname; not of a numeric address), read/recv/write/send/accept on a socket or
 * pipe in blocking mode that is not ready for it at that moment, connect on a blocking-mode socket,
 * fsync/fdatasync, system, waitpid without WNOHANG, poll/select with a timeout. Their GOT/PLT slots are
 * rewritten once per process (installed by hooks.c's constructor, the same way as the sleeping calls); inside
 * a callback dispatched on the test's loop, on its thread, a call from the test's code is reported once per
 * kind and test ("blocking call: getaddrinfo("example.com") called by resolve+0x1c, in callback on_tick
 * (ev_timer after=0.0 repeat=0.0)"), unless the test sets AC_ALLOW_BLOCKING_CALLS, and its duration is not
 * charged to the callback again as a blocked loop. A call made as a function's last call (a tail call)
 * returns into libev or asyncheck and is not reported. Outside callbacks each hook is a load and a call
 * through. It must not dispatch anything, nor change what the calls do.
 *
 * What it cannot find: calls libc makes itself (fread on a pipe, getaddrinfo's own reads), raw
 * syscalls, a read or write on a blocking fd that was ready at that moment but wanted more than was
 * there (a large write into a pipe with some room), blocking calls on threads other than the test's, and any
 * blocking call not listed. */
#include "loop_internal.h"

#include "patch/patch.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
    K_RESOLVE,
    K_READ,
    K_WRITE,
    K_CONNECT,
    K_ACCEPT,
    K_SYNC,
    K_SYSTEM,
    K_WAITPID,
    K_POLL,
};

static unsigned reported AC__PER_TEST; /* kinds reported in this test */
static pid_t reported_pid AC__PER_TEST;
static __thread bool inside; /* naming the caller reads files */

/* Inside a callback of the test's loop, on its thread, not waived, not already inside a check. */
static bool judging(void) {
    return ac__depth() > 0 && !inside && ac__loop_test.loop && ac__on_test_thread() &&
           !(ac__loop_test.allow & AC_ALLOW_BLOCKING_CALLS);
}

/* A socket or pipe in blocking mode that is not ready for `events` now: the call would wait for the other
 * end (a read of a pipe that poll just said is readable does not). POLLIN covers accept; 0 (connect):
 * any blocking-mode socket. */
static bool would_block(int fd, short events) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (fl & O_NONBLOCK))
        return false;
    struct stat st;
    if (fstat(fd, &st) != 0 || !(S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode)))
        return false;
    if (!events)
        return true;
    struct pollfd p = {.fd = fd, .events = events};
    struct timespec zero = {0, 0};
    return syscall(SYS_ppoll, &p, 1ul, &zero, NULL, 0) == 0; /* not ready, not hung up */
}

/* A name that needs resolving (not a numeric address, not AI_NUMERICHOST). */
static bool needs_resolving(const char *node, const struct addrinfo *hints) {
    unsigned char addr[sizeof(struct in6_addr)];
    return node && !(hints && (hints->ai_flags & AI_NUMERICHOST)) && inet_pton(AF_INET, node, addr) != 1 &&
           inet_pton(AF_INET6, node, addr) != 1;
}

typedef struct guard {
    bool reported;
    int depth;
    double t0;
} guard;

/* Reports `text` (a call of kind `kind` made at `caller`) once per kind and test. */
__attribute__((cold)) static void check(guard *g, int kind, const void *caller, const char *text) {
    g->reported = false;
    if (ac__own_pid() != reported_pid) {
        reported = 0;
        reported_pid = ac__own_pid();
    }
    if (reported & (1u << kind))
        return;
    inside = true;
    bool ours = ac__hooks_in_libev(caller) || ac__sym_in_harness(caller);
    inside = false;
    if (ours)
        return; /* libev's or asyncheck's own I/O (or the test's code's last call: cannot tell) */
    reported |= 1u << kind;
    inside = true;
    ac__buf msg = {0};
    ac__buf_printf(&msg, "blocking call: %s called by ", text);
    ac__sym_format(&msg, caller, true);
    ac__buf_puts(&msg, ", in ");
    ac__loop_dispatch_describe(&msg);
    ac__buf_puts(&msg, " (waive with AC_ALLOW_BLOCKING_CALLS)");
    const ac__test_def *def = ac__loop_test.def;
    ac__report_failure(AC_FK_ASSERTION, false, def ? def->file : NULL, def ? def->line : 0, ac__buf_str(&msg),
                       NULL, NULL);
    ac__buf_free(&msg);
    inside = false;
    g->reported = true;
    g->depth = ac__depth();
    g->t0 = ac__monotonic();
}

/* After the call: a reported call's time is not the callback's blocked loop as well. */
static void done(const guard *g) {
    if (g->reported && g->depth == ac__depth())
        ac__dispatch_exclude(g->depth, ac__monotonic() - g->t0);
}

void ac__blocking_reset(void) {
    reported = 0;
    reported_pid = ac__own_pid();
}

/* ---- the hooks ---- */

static int (*real_getaddrinfo)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
static struct hostent *(*real_gethostbyname)(const char *);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_recv)(int, void *, size_t, int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_send)(int, const void *, size_t, int);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static int (*real_accept)(int, struct sockaddr *, socklen_t *);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_system)(const char *);
static pid_t (*real_waitpid)(pid_t, int *, int);
static int (*real_poll)(struct pollfd *, nfds_t, int);
static int (*real_select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);

#define CHECK(kind, cond, ...)                                                                               \
    guard g = {0};                                                                                           \
    if (judging() && (cond)) {                                                                               \
        char text[96];                                                                                       \
        snprintf(text, sizeof text, __VA_ARGS__);                                                            \
        check(&g, kind, __builtin_return_address(0), text);                                                  \
    }

static int hook_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                            struct addrinfo **res) {
    CHECK(K_RESOLVE, needs_resolving(node, hints), "getaddrinfo(\"%.40s\")", node ? node : "(null)");
    int r = real_getaddrinfo(node, service, hints, res);
    done(&g);
    return r;
}

static struct hostent *hook_gethostbyname(const char *name) {
    CHECK(K_RESOLVE, needs_resolving(name, NULL), "gethostbyname(\"%.40s\")", name ? name : "(null)");
    struct hostent *r = real_gethostbyname(name);
    done(&g);
    return r;
}

static ssize_t hook_read(int fd, void *buf, size_t n) {
    CHECK(K_READ, would_block(fd, POLLIN), "read(%d) on a descriptor in blocking mode with nothing to read",
          fd);
    ssize_t r = real_read(fd, buf, n);
    done(&g);
    return r;
}

static ssize_t hook_recv(int fd, void *buf, size_t n, int flags) {
    CHECK(K_READ, !(flags & MSG_DONTWAIT) && would_block(fd, POLLIN),
          "recv(%d) on a descriptor in blocking mode with nothing to read", fd);
    ssize_t r = real_recv(fd, buf, n, flags);
    done(&g);
    return r;
}

static ssize_t hook_write(int fd, const void *buf, size_t n) {
    CHECK(K_WRITE, would_block(fd, POLLOUT), "write(%d) on a descriptor in blocking mode with no room", fd);
    ssize_t r = real_write(fd, buf, n);
    done(&g);
    return r;
}

static ssize_t hook_send(int fd, const void *buf, size_t n, int flags) {
    CHECK(K_WRITE, !(flags & MSG_DONTWAIT) && would_block(fd, POLLOUT),
          "send(%d) on a descriptor in blocking mode with no room", fd);
    ssize_t r = real_send(fd, buf, n, flags);
    done(&g);
    return r;
}

static int hook_connect(int fd, const struct sockaddr *a, socklen_t len) {
    CHECK(K_CONNECT, would_block(fd, 0), "connect(%d) on a socket in blocking mode", fd);
    int r = real_connect(fd, a, len);
    done(&g);
    return r;
}

static int hook_accept(int fd, struct sockaddr *a, socklen_t *len) {
    CHECK(K_ACCEPT, would_block(fd, POLLIN), "accept(%d) on a socket in blocking mode with nothing to accept",
          fd);
    int r = real_accept(fd, a, len);
    done(&g);
    ac__hooks_opened(r, "accept()", __builtin_return_address(0)); /* descriptor ownership (fds.c) */
    return r;
}

static int hook_fsync(int fd) {
    CHECK(K_SYNC, true, "fsync(%d)", fd);
    int r = real_fsync(fd);
    done(&g);
    return r;
}

static int hook_fdatasync(int fd) {
    CHECK(K_SYNC, true, "fdatasync(%d)", fd);
    int r = real_fdatasync(fd);
    done(&g);
    return r;
}

static int hook_system(const char *cmd) {
    CHECK(K_SYSTEM, true, "system(\"%.40s\")", cmd ? cmd : "(null)");
    int r = real_system(cmd);
    done(&g);
    return r;
}

static pid_t hook_waitpid(pid_t pid, int *status, int options) {
    CHECK(K_WAITPID, !(options & WNOHANG), "waitpid(%d) without WNOHANG", (int)pid);
    pid_t r = real_waitpid(pid, status, options);
    done(&g);
    return r;
}

static int hook_poll(struct pollfd *fds, nfds_t n, int timeout) {
    CHECK(K_POLL, timeout != 0, "poll(timeout %d ms)", timeout);
    int r = real_poll(fds, n, timeout);
    done(&g);
    return r;
}

static int hook_select(int n, fd_set *r_, fd_set *w, fd_set *e, struct timeval *tv) {
    CHECK(K_POLL, !tv || tv->tv_sec || tv->tv_usec, "select(%s)",
          tv ? "with a timeout" : "without a timeout");
    int r = real_select(n, r_, w, e, tv);
    done(&g);
    return r;
}

typedef struct entry {
    const char *name;
    void *fn;
    void **real;
} entry;

#define E(name)                                                                                              \
    { #name, (void *)hook_##name, (void **)&real_##name }

__attribute__((cold)) void ac__blocking_install(void) {
    entry hooks[] = {E(getaddrinfo), E(gethostbyname), E(read),   E(recv),  E(write),
                     E(send),        E(connect),       E(accept), E(fsync), E(fdatasync),
                     E(system),      E(waitpid),       E(poll),   E(select)};
    for (size_t i = 0; i < sizeof hooks / sizeof *hooks; i++) {
        *hooks[i].real = ac__real(hooks[i].name);
        if (!*hooks[i].real)
            continue;
        ac__patch p;
        if (ac__patch_apply(&p, hooks[i].name, hooks[i].fn) > 0) {
            free(p.slots); /* never undone: the hooks stay for the process's life */
            free(p.symbol);
        }
    }
}
