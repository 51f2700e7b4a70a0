/* fds.c — descriptor ownership: judging each close() the test's code makes while its loop is tracked, and
 * knowing whose each descriptor number is (hooks.c intercepts close and the calls that make descriptors
 * on the test's thread, and calls in here). It reports, with the closing site: a close of a descriptor
 * that is not open (EBADF), naming the earlier close of the same number when the test made one (a double
 * close) and, when that earlier close closed a descriptor the test's code had reopened on a number it
 * closed before, both closes and the reopen (a stale handle after a reconnect, found by the new owner's
 * close); a close of a descriptor the test did not open (one open before the test began — the runner's
 * record channel, the loop's epoll fd; stdin, stdout and stderr excepted —, one asyncheck marked as its
 * own, a scripted peer's end, or one libev or asyncheck opened while the test ran), which is then not
 * carried out so that the harness keeps working, and which reads "closing fd N again" when the test had
 * closed that number before (a handle kept after its close); and a close that leaves one of the test's io
 * watchers active on the fd, when the watcher is still active on it at the next dispatch or at the test's
 * end — naming the reopen when the number was reopened since, and reading "closing fd N again" when the
 * descriptor closed was one the test's code had reopened on a number it closed before. asyncheck's and
 * libev's own closes are told by hooks.c (a flag, not the return address), so a close made as a
 * function's last call is the test's. It must not intercept anything itself, nor close a descriptor that
 * is not the test's.
 *
 * What it cannot tell. A stale handle closing a number the test's own code reopened, with no io watcher
 * left active on it and no later close of it (nothing tells that close from the new owner's); opens and
 * closes libc makes itself or through a raw syscall, and those on other threads (not recorded: a worker's
 * descriptor handed to the loop is the test's to close); a descriptor a linked library opened while the
 * test ran counts as the test's; numbers from 1024 up are not tracked. Closes on other threads are not
 * judged. */
#include "loop_internal.h"
#include "timeline/timeline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AC_FD_MAX (64 * AC_FD_WORDS)

/* What is known of one descriptor number in this test. Written only when the test's thread opens or
 * closes that number (a forked test child pays for the pages it writes); an entry whose epoch is not the
 * test's is empty. */
typedef struct fd_state {
    unsigned epoch;
    unsigned char by;             /* who opened the number's current descriptor (AC_FD_BY_*; 0: unseen) */
    bool reopened;                /* opened again after the test's last close of it */
    const char *call;             /* what opened it: "socket()" */
    const void *site;             /* where it was called */
    const void *closed_by;        /* the test's last successful close of the number (NULL: none seen) */
    const char *closed_call;      /* what the descriptor that close closed had been opened by */
    const void *closed_open_site; /* and where */
    const void *prior_close;      /* when that descriptor was a reopening: the test's close before it */
} fd_state;

static fd_state fd_states[AC_FD_MAX];
static unsigned epoch AC__PER_TEST; /* this test's; entries of earlier tests (under --no-fork) are stale */
static uint64_t harness_fds[AC_FD_WORDS];
/* The test's io watchers that were active on an fd when the test closed it: reported at the next
 * dispatch (or the test's end) if still active on it — the code may stop them right after the close
 * (libcurl closes a socket, then tells the application to remove its watcher). */
typedef struct suspect {
    ev_watcher *w;
    unsigned long serial;
    int fd;
    const void *site;
    fd_state before; /* the number's state when it was closed */
} suspect;
#define AC_SUSPECTS 8
static suspect suspects[AC_SUSPECTS];
static unsigned nsuspects AC__PER_TEST;
/* harness_fds has a mark (a test under --no-fork may end before its peer) */
static bool any_harness AC__PER_TEST;
static pid_t test_pid AC__PER_TEST;

void ac__fds_begin(void) {
    epoch++;
    if (nsuspects)
        nsuspects = 0;
    if (any_harness) {
        memset(harness_fds, 0, sizeof harness_fds);
        any_harness = false;
    }
    test_pid = ac__own_pid();
}

static bool bit(const uint64_t *bits, int fd) {
    return fd >= 0 && fd < AC_FD_MAX && (bits[fd / 64] >> (fd % 64) & 1);
}

/* The number's state (an empty one for a number out of range or not seen in this test). */
static fd_state get(int fd) {
    if (fd < 0 || fd >= AC_FD_MAX || fd_states[fd].epoch != epoch)
        return (fd_state){0};
    return fd_states[fd];
}

/* The number's entry, made current for this test, to write; NULL out of range. */
static fd_state *put(int fd) {
    if (fd < 0 || fd >= AC_FD_MAX)
        return NULL;
    fd_state *s = &fd_states[fd];
    if (s->epoch != epoch)
        *s = (fd_state){.epoch = epoch};
    return s;
}

void ac__loop_fd_harness(int fd, bool harness) {
    if (fd < 0 || fd >= AC_FD_MAX)
        return;
    if (harness) {
        harness_fds[fd / 64] |= 1ull << (fd % 64);
        any_harness = true;
    } else if (bit(harness_fds, fd))
        harness_fds[fd / 64] &= ~(1ull << (fd % 64));
}

void ac__fds_opened(int fd, const char *call, const void *caller, int by) {
    if (getpid() != test_pid)
        return;
    fd_state *s = put(fd);
    if (!s)
        return;
    s->by = (unsigned char)by;
    s->call = call;
    s->site = caller;
    s->reopened = s->closed_by != NULL;
}

/* fd was closed successfully, by the test's code (`by_test`) or not. */
static void forget(int fd, bool by_test, const void *caller) {
    fd_state *s = put(fd);
    if (s) {
        s->prior_close = by_test && s->reopened && s->by == AC_FD_BY_TEST ? s->closed_by : NULL;
        s->closed_by = by_test ? caller : NULL;
        s->closed_call = s->call;
        s->closed_open_site = s->site;
        s->by = 0;
        s->call = NULL;
        s->site = NULL;
        s->reopened = false;
    }
    ac__loop_fd_harness(fd, false);
}

__attribute__((cold)) static void report(const char *message) {
    const ac__test_def *def = ac__loop_test.def;
    ac__report_failure(AC_FK_ASSERTION, false, def ? def->file : NULL, def ? def->line : 0, message, NULL,
                       NULL);
}

/* Names a site the test's code called from, or "the test's code (as a function's last call)" when the
 * return address lands in asyncheck or libev (a tail call). */
__attribute__((cold)) static void site(ac__buf *b, const void *addr) {
    if (ac__sym_in_harness(addr) || ac__hooks_in_libev(addr))
        ac__buf_puts(b, "the test's code (as a function's last call)");
    else
        ac__sym_format(b, addr, true);
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

/* "socketpair() at reconnect+0x3c", "eventfd() in libev", "socket() in asyncheck". */
__attribute__((cold)) static void opener(ac__buf *b, const char *call, int by, const void *where) {
    ac__buf_printf(b, "%s ", call ? call : "an open");
    if (by == AC_FD_BY_LIBEV)
        ac__buf_puts(b, "in libev");
    else if (by == AC_FD_BY_HARNESS)
        ac__buf_puts(b, "in asyncheck");
    else {
        ac__buf_puts(b, "at ");
        site(b, where);
    }
}

__attribute__((cold)) static void not_the_tests(int fd, const void *caller, bool peer, const fd_state *s) {
    char target[128], path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    long n = syscall(SYS_readlinkat, AT_FDCWD, path, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    ac__buf msg = {0};
    const char *whose =
        peer                      ? "asyncheck's own (a scripted peer's end)"
        : s->by == AC_FD_BY_LIBEV ? "libev's own (opened while the test ran)"
        : s->by == AC_FD_BY_HARNESS
            ? "asyncheck's own (opened while the test ran)"
            : "not the test's (it was open before the test began: the runner's, the loop's or "
              "another component's)";
    if (s->closed_by && s->reopened) { /* a handle the test kept after closing it */
        ac__buf_printf(&msg, "closing fd %d again: ", fd);
        closing(&msg, fd, caller);
        ac__buf_puts(&msg, "; the test had closed it before, at ");
        site(&msg, s->closed_by);
        ac__buf_puts(&msg, ", and the number was reopened by ");
        if (peer)
            ac__buf_puts(&msg, "asyncheck");
        else
            opener(&msg, s->call, s->by, s->site);
        ac__buf_printf(&msg, ": fd %d (%s) is %s; it was left open", fd, n > 0 ? target : "?", whose);
    } else {
        ac__buf_puts(&msg, "closing a descriptor the test did not open: ");
        closing(&msg, fd, caller);
        ac__buf_printf(&msg, "; fd %d (%s) is %s; it was left open", fd, n > 0 ? target : "?", whose);
    }
    report(ac__buf_str(&msg));
    ac__buf_free(&msg);
}

/* The close is in the timeline at once: libev may abort on the closed fd (epoll_ctl fails on it) before
 * the next dispatch, where watcher_left would report it; a crash's report still shows it. */
__attribute__((cold)) static void note_suspect(int fd, const void *caller, const ac__wrec *r) {
    ac__buf b = {0};
    closing(&b, fd, caller);
    ac__buf_puts(&b, " under ");
    ac__wrec_describe_full(&b, r);
    ac__tl_printf(AC_TL_NOTE, 0, "%s", ac__buf_str(&b));
    ac__buf_free(&b);
}

__attribute__((cold)) static void watcher_left(const suspect *sp, const ac__wrec *r, bool fatal) {
    ac__buf msg = {0};
    int fd = sp->fd;
    const fd_state *was = &sp->before;
    if (was->closed_by && was->reopened && was->by == AC_FD_BY_TEST) {
        ac__buf_printf(&msg, "closing fd %d again: ", fd);
        closing(&msg, fd, sp->site);
        ac__buf_puts(&msg, " closed the descriptor made by ");
        opener(&msg, was->call, was->by, was->site);
        ac__buf_printf(&msg, " (the test had closed fd %d before, at ", fd);
        site(&msg, was->closed_by);
        ac__buf_puts(&msg, "), while ");
        ac__wrec_describe_full(&msg, r);
        ac__buf_puts(&msg, " was active on it, and it still is (a handle kept after its close: clear it "
                           "when closing)");
    } else {
        ac__buf_puts(&msg, "watcher left active on a closed descriptor: ");
        closing(&msg, fd, sp->site);
        ac__buf_puts(&msg, " while ");
        ac__wrec_describe_full(&msg, r);
        ac__buf_puts(&msg, " was active on it, and it still is (stop it before closing its fd)");
    }
    fd_state now = get(fd);
    if (now.by) { /* reused: the watcher's events are now another descriptor's */
        ac__buf_printf(&msg, "; fd %d was reopened since by ", fd);
        opener(&msg, now.call, now.by, now.site);
        ac__buf_puts(&msg, ", which the watcher now watches");
    }
    /* fatal while the test runs: libev may abort on the closed fd, and the test cannot go on usefully */
    const ac__test_def *def = ac__loop_test.def;
    ac__report_failure_buf(AC_FK_ASSERTION, fatal, def ? def->file : NULL, def ? def->line : 0, &msg, NULL,
                           NULL);
}

__attribute__((cold)) static void bad_close(int fd, const void *caller, const fd_state *s) {
    ac__buf msg = {0};
    if (s->closed_by && !s->by) { /* (a number believed open was closed where asyncheck cannot see) */
        ac__buf_puts(&msg, "double close: ");
        closing(&msg, fd, caller);
        ac__buf_printf(&msg, " fails with EBADF; fd %d was closed before by ", fd);
        site(&msg, s->closed_by);
        if (s->prior_close) { /* one of the two closes went through a handle kept after its close */
            ac__buf_puts(&msg, ", which closed the descriptor made by ");
            opener(&msg, s->closed_call, AC_FD_BY_TEST, s->closed_open_site);
            ac__buf_printf(&msg, " on a number the test had closed before, at ");
            site(&msg, s->prior_close);
            ac__buf_puts(&msg, " (a handle kept after its close closes the new descriptor)");
        }
    } else {
        ac__buf_puts(&msg, "closing a descriptor that is not open: ");
        closing(&msg, fd, caller);
        ac__buf_puts(&msg, " fails with EBADF");
    }
    report(ac__buf_str(&msg));
    ac__buf_free(&msg);
}

void ac__fds_check_watchers(bool fatal) {
    if (!nsuspects)
        return;
    unsigned n = nsuspects;
    nsuspects = 0;
    for (unsigned i = 0; i < n; i++) {
        const suspect *s = &suspects[i];
        const ac__wrec *r = ac__rec_find(s->w);
        if (r && r->serial == s->serial && r->p.io.fd == s->fd && (void *)r->w->cb == r->cb &&
            ev_is_active(r->w) && !ac__sym_in_harness(r->user_cb ? r->user_cb : r->cb))
            watcher_left(s, r, fatal);
    }
}

int ac__fds_close(int fd, const void *caller, bool own, int (*real)(int)) {
    if (ac__own_pid() != test_pid) /* a process the test forked: not the test's to judge */
        return real(fd);
    bool peer = bit(harness_fds, fd);
    bool before = fd > 2 && ac__loop_test.fds_known && fd < ac__loop_test.fds_limit &&
                  bit(ac__loop_test.fds_before, fd);
    fd_state s = get(fd);
    if (own) { /* asyncheck's or libev's own close (hooks.c tells them by a flag, not by the caller) */
        int r = real(fd);
        if (r == 0) {
            forget(fd, false, caller);
            if (bit(ac__loop_test.fds_before, fd)) /* its number is free for the test's own now */
                ac__loop_test.fds_before[fd / 64] &= ~(1ull << (fd % 64));
        }
        return r;
    }
    if (peer || before || s.by == AC_FD_BY_LIBEV || s.by == AC_FD_BY_HARNESS) {
        not_the_tests(fd, caller, peer, &s);
        return 0;
    }
    for (size_t i = 0; i < ac__loop_test.nrecs && nsuspects < AC_SUSPECTS; i++) {
        const ac__wrec *r = &ac__loop_test.recs[i];
        if (r->type == AC_W_IO && r->p.io.fd == fd && !r->internal && !r->harness) {
            suspects[nsuspects++] = (suspect){r->w, r->serial, fd, caller, s};
            note_suspect(fd, caller, r);
        }
    }
    int r = real(fd);
    if (r == 0) {
        forget(fd, true, caller);
    } else if (errno == EBADF) {
        int err = errno;
        bad_close(fd, caller, &s);
        errno = err;
    }
    return r;
}
