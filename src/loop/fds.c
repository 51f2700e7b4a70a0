/* fds.c — descriptor ownership: judging each close() the test's code makes while its loop is tracked
 * (hooks.c intercepts close and calls in here for the test's thread, outside libev). It reports, with
 * the closing site: a close of a descriptor that is not open (EBADF), naming the earlier close of the
 * same number when the test made one (a double close); a close of a descriptor the test did not open
 * (one open before the test began — the runner's record channel, the loop's epoll fd; stdin, stdout and
 * stderr excepted — or one asyncheck marked as its own, a scripted peer's end), which is then not carried
 * out so that the harness keeps working; and a close that leaves one of the test's io watchers active on
 * the fd, when the watcher is still active on it at the next dispatch or at the test's end. It must
 * not intercept anything itself, nor close a descriptor that is not the test's.
 *
 * What it cannot tell. Opens are not intercepted: a number the test closed, that something reopened and
 * the test closes again, closes the new descriptor silently (a stale handle after a reconnect that got
 * the same number); only closes made through the PLT are seen (not libc's own, nor a raw syscall); a
 * descriptor another component opened while the test ran counts as the test's; closes on other threads
 * are not judged. */
#include "loop_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AC_CLOSES 64 /* closes remembered for the double-close report */

typedef struct closed_fd {
    int fd;
    const void *site;
} closed_fd;

/* Written only when the test closes something: a forked test child pays for the pages it writes. */
static closed_fd closes[AC_CLOSES];
static unsigned ncloses; /* total recorded; the last AC_CLOSES are kept */
static uint64_t harness_fds[AC_FD_WORDS];
/* The test's io watchers that were active on an fd when the test closed it: reported at the next
 * dispatch (or the test's end) if still active on it — the code may stop them right after the close
 * (libcurl closes a socket, then tells the application to remove its watcher). */
typedef struct suspect {
    ev_watcher *w;
    unsigned long serial;
    int fd;
    const void *site;
} suspect;
#define AC_SUSPECTS 8
static suspect suspects[AC_SUSPECTS];
static unsigned nsuspects;
static bool any_harness; /* harness_fds has a mark (a test under --no-fork may end before its peer) */
static pid_t test_pid;

void ac__fds_begin(void) {
    if (ncloses)
        ncloses = 0;
    if (nsuspects)
        nsuspects = 0;
    if (any_harness) {
        memset(harness_fds, 0, sizeof harness_fds);
        any_harness = false;
    }
    test_pid = ac__own_pid();
}

static bool bit(const uint64_t *bits, int fd) {
    return fd >= 0 && fd < 64 * AC_FD_WORDS && (bits[fd / 64] >> (fd % 64) & 1);
}

void ac__loop_fd_harness(int fd, bool harness) {
    if (fd < 0 || fd >= 64 * AC_FD_WORDS)
        return;
    if (harness) {
        harness_fds[fd / 64] |= 1ull << (fd % 64);
        any_harness = true;
    } else if (bit(harness_fds, fd))
        harness_fds[fd / 64] &= ~(1ull << (fd % 64));
}

static closed_fd *find_close(int fd) {
    unsigned n = ncloses < AC_CLOSES ? ncloses : AC_CLOSES;
    for (unsigned i = 0; i < n; i++)
        if (closes[i].fd == fd)
            return &closes[i];
    return NULL;
}

/* fd was closed successfully: an earlier close of its number is stale (it was reopened since). */
static void forget(int fd) {
    closed_fd *c = find_close(fd);
    if (c)
        c->fd = -1;
    ac__loop_fd_harness(fd, false);
}

__attribute__((cold)) static void report(const char *message) {
    const ac__test_def *def = ac__loop_test.def;
    ac__report_failure(AC_FK_ASSERTION, false, def ? def->file : NULL, def ? def->line : 0, message, NULL,
                       NULL);
}

/* "close(7) called by drop_connection+0x2c"; a close made as a function's last call returns into
 * whoever called that function, and is named from what was running. */
__attribute__((cold)) static void closing(ac__buf *b, int fd, const void *caller) {
    ac__buf_printf(b, "close(%d) called by ", fd);
    if (!ac__sym_in_harness(caller) && !ac__hooks_in_libev(caller)) {
        ac__sym_format(b, caller, true);
        return;
    }
    ac__loop_dispatch_describe(b);
    ac__buf_puts(b, " (as its last call)");
}

__attribute__((cold)) static void not_the_tests(int fd, const void *caller, bool peer) {
    char target[128], path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    long n = syscall(SYS_readlinkat, AT_FDCWD, path, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    ac__buf msg = {0};
    ac__buf_puts(&msg, "closing a descriptor the test did not open: ");
    closing(&msg, fd, caller);
    ac__buf_printf(&msg, "; fd %d (%s) is %s; it was left open", fd, n > 0 ? target : "?",
                   peer ? "asyncheck's own (a scripted peer's end)"
                        : "not the test's (it was open before the test began: the runner's, the loop's or "
                          "another component's)");
    report(ac__buf_str(&msg));
    ac__buf_free(&msg);
}

__attribute__((cold)) static void watcher_left(int fd, const void *caller, const ac__wrec *r) {
    ac__buf msg = {0};
    ac__buf_puts(&msg, "watcher left active on a closed descriptor: ");
    closing(&msg, fd, caller);
    ac__buf_puts(&msg, " while ");
    ac__wrec_describe_full(&msg, r);
    ac__buf_puts(&msg, " was active on it, and it still is (stop it before closing its fd)");
    report(ac__buf_str(&msg));
    ac__buf_free(&msg);
}

__attribute__((cold)) static void bad_close(int fd, const void *caller) {
    ac__buf msg = {0};
    const closed_fd *c = find_close(fd);
    if (c) {
        ac__buf_puts(&msg, "double close: ");
        closing(&msg, fd, caller);
        ac__buf_printf(&msg, " fails with EBADF; fd %d was closed before by ", fd);
        if (ac__sym_in_harness(c->site) || ac__hooks_in_libev(c->site))
            ac__buf_puts(&msg, "the test's code (as a function's last call)");
        else
            ac__sym_format(&msg, c->site, true);
    } else {
        ac__buf_puts(&msg, "closing a descriptor that is not open: ");
        closing(&msg, fd, caller);
        ac__buf_puts(&msg, " fails with EBADF");
    }
    report(ac__buf_str(&msg));
    ac__buf_free(&msg);
}

void ac__fds_check_watchers(void) {
    if (!nsuspects)
        return;
    unsigned n = nsuspects;
    nsuspects = 0;
    for (unsigned i = 0; i < n; i++) {
        const suspect *s = &suspects[i];
        const ac__wrec *r = ac__rec_find(s->w);
        if (r && r->serial == s->serial && r->p.io.fd == s->fd && (void *)r->w->cb == r->cb &&
            ev_is_active(r->w) && !ac__sym_in_harness(r->user_cb ? r->user_cb : r->cb))
            watcher_left(s->fd, s->site, r);
    }
}

int ac__fds_close(int fd, const void *caller, int (*real)(int)) {
    if (ac__own_pid() != test_pid) /* a process the test forked: not the test's to judge */
        return real(fd);
    bool ours = ac__sym_in_harness(caller);
    bool peer = bit(harness_fds, fd);
    bool before = fd > 2 && ac__loop_test.fds_known && fd < ac__loop_test.fds_limit &&
                  bit(ac__loop_test.fds_before, fd);
    /* asyncheck's code closing its own fd; one it did not make is the test's code closing it as its
     * last call (a tail call returns into asyncheck) */
    if (ours && (peer || before)) {
        int r = real(fd);
        if (r == 0) {
            forget(fd);
            if (bit(ac__loop_test.fds_before, fd)) /* its number is free for the test's own now */
                ac__loop_test.fds_before[fd / 64] &= ~(1ull << (fd % 64));
        }
        return r;
    }
    if (peer || before) {
        not_the_tests(fd, caller, peer);
        return 0;
    }
    for (size_t i = 0; i < ac__loop_test.nrecs && nsuspects < AC_SUSPECTS; i++) {
        const ac__wrec *r = &ac__loop_test.recs[i];
        if (r->type == AC_W_IO && r->p.io.fd == fd && !r->internal && !r->harness)
            suspects[nsuspects++] = (suspect){r->w, r->serial, fd, caller};
    }
    int r = real(fd);
    if (r == 0) {
        forget(fd);
        closes[ncloses++ % AC_CLOSES] = (closed_fd){fd, caller};
    } else if (errno == EBADF) {
        int err = errno;
        bad_close(fd, caller);
        errno = err;
    }
    return r;
}
