/* loop.c — see loop.h: the running test's hygiene state, the records of the watchers it started, the
 * description of those still active, and the check for file descriptors it left open. The interception
 * behind the records is in hooks.c, the dispatch of their callbacks in dispatch.c, naming code in
 * symbols.c.
 *
 * Which watchers are the test's. Every watcher started on the test's loop while it runs is recorded
 * (hooks.c); the list leaves out libev's own (their callback is in libev), asyncheck's own (their
 * callback is one of asyncheck's functions — an await's or the drain's timer, a mock's completion timer
 * and hand-over async, a scripted peer's io, the virtual clock's check — see symbols.c; or they were
 * started between ac__loop_harness_enter/leave), and the runner's wake async, started before tracking
 * begins. Classifying by callback rather than by the start's call site matters: a function whose last
 * statement is ev_io_start makes a tail call, and the start then returns into its caller's caller (libev
 * or asyncheck's dispatcher for a callback, asyncheck for a body) — such a start is still the test's,
 * and is described as "started by callback on_accept (as its last call)".
 *
 * Freed watchers. A record exists from the moment a watcher is started on the test's loop until it is
 * seen stopped: by the test (ev_TYPE_stop), by libev itself (its internal stops of expiring one-shot
 * timers go through the same hooked slots in Debian's build), or — whatever the build — by the dispatcher,
 * which forgets a watcher that is pending but no longer active before invoking its callback, so a
 * callback may free its one-shot timer. A stopped watcher is remembered only as a copy compared by
 * address (hooks.c, "limbo"), never read. Only recorded watchers are ever read, so memory of a watcher
 * the test stopped and freed is never touched. The remaining risk is a test that frees (or leaves on a
 * discarded stack frame) a watcher that is still active: libev itself would read that memory too. For
 * that case the dispatcher reads only watchers whose callback is still the one they were started with,
 * and describing copies watcher memory with process_vm_readv, which fails instead of crashing on an
 * unmapped page.
 *
 * File descriptors. The open ones are noted when tracking starts (after the loop and its epoll fd and
 * eventfd exist) and again at the end, after teardown and the end hooks (the peer and the mocks have
 * closed theirs by then), by ppoll over a range of numbers (see fd_snapshot). New fds that libev made
 * for the loop itself while the test ran (the timerfd behind ev_periodic, the inotify fd behind ev_stat)
 * belong to the loop and are not the test's. An fd the test closed and whose number it then reused for
 * a new one that leaks is not seen (same number), nor one opened far above the fds in use. What each
 * leaked fd is comes from /proc/self/fd/N (only when one leaked). */
#include "loop_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* Zero-initialised (in .bss): the parent never writes it, a test child writes the first page or two. */
_Alignas(4096) ac__loop_state ac__loop_test;

/* ---- records: a dense array and an open-addressing index keyed by the watcher's address ---- */

static size_t home(const ev_watcher *w) {
    uint64_t h = (uint64_t)(uintptr_t)w;
    h ^= h >> 29;
    h *= 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (ac__loop_test.index_cap - 1);
}

static size_t slot_of(const ev_watcher *w) {
    size_t i = home(w);
    while (ac__loop_test.index[i] && ac__loop_test.recs[ac__loop_test.index[i] - 1].w != w)
        i = (i + 1) & (ac__loop_test.index_cap - 1);
    return i;
}

ac__wrec *ac__rec_find(const ev_watcher *w) {
    if (!ac__loop_test.nrecs)
        return NULL;
    size_t i = slot_of(w);
    return ac__loop_test.index[i] ? &ac__loop_test.recs[ac__loop_test.index[i] - 1] : NULL;
}

static void reindex(size_t cap) {
    if (cap <= AC_INLINE_INDEX) {
        ac__loop_test.index = ac__loop_test.index_inline;
        cap = AC_INLINE_INDEX;
    } else {
        if (ac__loop_test.index != ac__loop_test.index_inline)
            free(ac__loop_test.index);
        ac__loop_test.index = ac__xmalloc(cap * sizeof *ac__loop_test.index);
    }
    memset(ac__loop_test.index, 0, cap * sizeof *ac__loop_test.index);
    ac__loop_test.index_cap = cap;
    for (size_t k = 0; k < ac__loop_test.nrecs; k++)
        ac__loop_test.index[slot_of(ac__loop_test.recs[k].w)] = (uint32_t)(k + 1);
}

ac__wrec *ac__rec_add(const ac__wrec *r) {
    if (!ac__loop_test.index_cap) {
        ac__loop_test.recs = ac__loop_test.recs_inline;
        ac__loop_test.cap = AC_INLINE_RECS;
        reindex(AC_INLINE_INDEX);
    }
    size_t i = slot_of(r->w);
    if (ac__loop_test.index[i]) {
        ac__wrec *old = &ac__loop_test.recs[ac__loop_test.index[i] - 1];
        *old = *r;
        return old;
    }
    if (ac__loop_test.nrecs == ac__loop_test.cap) {
        size_t cap = 2 * ac__loop_test.cap;
        if (ac__loop_test.recs == ac__loop_test.recs_inline) {
            ac__loop_test.recs = ac__xmalloc(cap * sizeof *ac__loop_test.recs);
            memcpy(ac__loop_test.recs, ac__loop_test.recs_inline,
                   ac__loop_test.nrecs * sizeof *ac__loop_test.recs);
        } else {
            ac__loop_test.recs = ac__xrealloc(ac__loop_test.recs, cap * sizeof *ac__loop_test.recs);
        }
        ac__loop_test.cap = cap;
    }
    ac__loop_test.recs[ac__loop_test.nrecs++] = *r;
    if (2 * ac__loop_test.nrecs > ac__loop_test.index_cap)
        reindex(2 * ac__loop_test.index_cap);
    else
        ac__loop_test.index[i] = (uint32_t)ac__loop_test.nrecs;
    return &ac__loop_test.recs[ac__loop_test.nrecs - 1];
}

/* Linear probing deletion by backward shift: no tombstones. */
static void index_delete(size_t i) {
    size_t mask = ac__loop_test.index_cap - 1, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!ac__loop_test.index[j])
            break;
        size_t k = home(ac__loop_test.recs[ac__loop_test.index[j] - 1].w);
        bool between = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!between) {
            ac__loop_test.index[i] = ac__loop_test.index[j];
            i = j;
        }
    }
    ac__loop_test.index[i] = 0;
}

void ac__rec_remove(const ev_watcher *w) {
    if (!ac__loop_test.nrecs)
        return;
    size_t i = slot_of(w);
    if (!ac__loop_test.index[i])
        return;
    size_t pos = ac__loop_test.index[i] - 1, last = ac__loop_test.nrecs - 1;
    index_delete(i);
    if (pos != last) {
        ac__loop_test.index[slot_of(ac__loop_test.recs[last].w)] = (uint32_t)(pos + 1);
        ac__loop_test.recs[pos] = ac__loop_test.recs[last];
    }
    ac__loop_test.nrecs--;
}

void ac__rec_clear(void) {
    if (!ac__loop_test.nrecs)
        return; /* nothing written: a forked test child need not touch the index's page */
    ac__loop_test.nrecs = 0;
    memset(ac__loop_test.index, 0, ac__loop_test.index_cap * sizeof *ac__loop_test.index);
}

/* ---- describing watchers ---- */

static const char *const type_names[AC_W_NTYPES] = {
    "ev_io",      "ev_timer", "ev_periodic", "ev_signal", "ev_child",   "ev_stat",  "ev_idle",
    "ev_prepare", "ev_check", "ev_embed",    "ev_fork",   "ev_cleanup", "ev_async",
};

const char *ac__wtype_name(int type) {
    return type >= 0 && type < AC_W_NTYPES ? type_names[type] : "ev_watcher";
}

/* Seconds as the shortest text that reads back, with at least one decimal: 5.0, 0.25, 1e-06. */
__attribute__((cold)) static void seconds(ac__buf *b, double s) {
    char text[32];
    snprintf(text, sizeof text, "%.6g", s);
    ac__buf_puts(b, text);
    if (!strpbrk(text, ".eni"))
        ac__buf_puts(b, ".0");
}

__attribute__((cold)) void ac__wrec_describe(ac__buf *b, const ac__wrec *r) {
    ac__buf_puts(b, ac__wtype_name(r->type));
    switch (r->type) {
    case AC_W_IO: {
        int ev = r->p.io.events;
        ac__buf_printf(b, " fd=%d %s", r->p.io.fd,
                       ev == (EV_READ | EV_WRITE) ? "EV_READ|EV_WRITE"
                       : ev == EV_READ            ? "EV_READ"
                       : ev == EV_WRITE           ? "EV_WRITE"
                                                  : "(no events)");
        break;
    }
    case AC_W_TIMER:
        ac__buf_puts(b, " after=");
        seconds(b, r->p.timer.after);
        ac__buf_puts(b, " repeat=");
        seconds(b, r->p.timer.repeat);
        break;
    case AC_W_PERIODIC:
        ac__buf_puts(b, " offset=");
        seconds(b, r->p.periodic.offset);
        ac__buf_puts(b, " interval=");
        seconds(b, r->p.periodic.interval);
        if (r->p.periodic.reschedule)
            ac__buf_puts(b, " reschedule_cb");
        break;
    case AC_W_SIGNAL: {
        const char *abbrev = sigabbrev_np(r->p.signum);
        if (abbrev)
            ac__buf_printf(b, " SIG%s", abbrev);
        else
            ac__buf_printf(b, " signal %d", r->p.signum);
        break;
    }
    case AC_W_CHILD:
        ac__buf_printf(b, " pid=%d%s", r->p.child.pid, r->p.child.trace ? " trace" : "");
        break;
    case AC_W_STAT:
        ac__buf_printf(b, " path=\"%s\" interval=", r->p.stat.path);
        seconds(b, r->p.stat.interval);
        break;
    default:
        break;
    }
}

/* Copies n bytes at addr, or fails (instead of crashing) when the memory is gone. */
__attribute__((cold)) static bool safe_read(const void *addr, void *dst, size_t n) {
    struct iovec local = {dst, n}, remote = {(void *)addr, n};
    ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (got == (ssize_t)n)
        return true;
    if (got >= 0 || errno == EFAULT)
        return false;
    /* process_vm_readv refused (seccomp): a pipe says EFAULT too */
    int p[2];
    if (syscall(SYS_pipe2, p, O_CLOEXEC) != 0)
        return false;
    bool ok = syscall(SYS_write, p[1], addr, n) == (long)n && syscall(SYS_read, p[0], dst, n) == (long)n;
    syscall(SYS_close, p[0]);
    syscall(SYS_close, p[1]);
    return ok;
}

/* Where a watcher was started. The return address of the start call names the function that made it,
 * unless that call was the function's last (a tail call): then it returns into whoever called that
 * function — libev or asyncheck's dispatcher for a callback, asyncheck for a test's body, setup or
 * teardown — and the starter is named from what was running. */
__attribute__((cold)) static void describe_site(ac__buf *out, const ac__wrec *r) {
    bool ours = ac__hooks_in_libev(r->site) || ac__sym_in_harness(r->site);
    if (!ours) {
        ac__buf_puts(out, ", started at ");
        ac__sym_format(out, r->site, true);
    } else if (r->in_callback && r->parent_cb) {
        ac__buf_puts(out, ", started by callback ");
        ac__sym_format(out, r->parent_cb, false);
        ac__buf_puts(out, " (as its last call)");
    } else if (r->in_callback) {
        ac__buf_puts(out, ", started by a callback (as its last call)");
    } else {
        ac__buf_puts(out, ", started by the test's body, setup or teardown (as its last call)");
    }
}

void ac__loop_tl_fill(ac__tl_event *e, const ac__wrec *r) {
    e->addr = r->user_cb ? r->user_cb : r->cb;
    e->wtype = r->type;
    switch (r->type) {
    case AC_W_IO:
        e->num = r->p.io.fd;
        e->revents = (uint16_t)r->p.io.events;
        break;
    case AC_W_TIMER:
        e->dnum = r->p.timer.after;
        e->cpu = r->p.timer.repeat;
        break;
    case AC_W_PERIODIC:
        e->dnum = r->p.periodic.offset;
        e->cpu = r->p.periodic.interval;
        break;
    case AC_W_SIGNAL:
        e->num = r->p.signum;
        break;
    case AC_W_CHILD:
        e->num = r->p.child.pid;
        break;
    default:
        break;
    }
    e->active = (uint32_t)ac__loop_test.nrecs;
}

void ac__loop_tl_watcher(int kind, const ac__wrec *r) {
    /* asyncheck's own watchers (a mock's delivery timer: its dispatch names the delivery) are not shown */
    if (r->harness || r->internal || !ac__tl_on() ||
        (ac__loop_namer && ac__loop_namer->own && ac__loop_namer->own(r->w)))
        return;
    ac__tl_event *e = ac__tl_claim(kind);
    if (!e)
        return;
    ac__loop_tl_fill(e, r);
    ac__tl_commit(e);
}

__attribute__((cold)) bool ac__loop_tl_harness(const ac__tl_event *e) {
    return e->addr && !e->text[0] && ac__sym_in_harness(e->addr);
}

__attribute__((cold)) void ac__loop_tl_describe(ac__buf *b, const ac__tl_event *e) {
    if (e->text[0]) { /* a mock's completion timer: what it delivered */
        ac__buf_puts(b, e->text);
        return;
    }
    ac__wrec r = {.type = e->wtype};
    switch (e->wtype) {
    case AC_W_IO:
        r.p.io.fd = e->num;
        r.p.io.events = e->revents & (EV_READ | EV_WRITE);
        break;
    case AC_W_TIMER:
        r.p.timer.after = e->dnum;
        r.p.timer.repeat = e->kind == AC_TL_CALLBACK ? 0 : e->cpu;
        break;
    case AC_W_PERIODIC:
        r.p.periodic.offset = e->dnum;
        r.p.periodic.interval = e->kind == AC_TL_CALLBACK ? 0 : e->cpu;
        break;
    case AC_W_SIGNAL:
        r.p.signum = e->num;
        break;
    case AC_W_CHILD:
        r.p.child.pid = e->num;
        break;
    default:
        break;
    }
    ac__sym_format(b, e->addr, false);
    ac__buf_puts(b, " (");
    if (e->kind == AC_TL_CALLBACK && e->wtype == AC_W_TIMER)
        ac__buf_puts(b, "ev_timer");
    else if (e->kind == AC_TL_CALLBACK && e->wtype == AC_W_PERIODIC)
        ac__buf_puts(b, "ev_periodic");
    else
        ac__wrec_describe(b, &r);
    ac__buf_puts(b, ")");
}

__attribute__((cold)) void ac__wrec_describe_full(ac__buf *b, const ac__wrec *r) {
    ac__wrec_describe(b, r);
    ac__buf_puts(b, ", callback ");
    ac__sym_format(b, r->user_cb ? r->user_cb : r->cb, true);
    describe_site(b, r);
}

static int by_serial(const void *a, const void *b) {
    const ac__wrec *x = *(const ac__wrec *const *)a, *y = *(const ac__wrec *const *)b;
    return x->serial < y->serial ? -1 : x->serial > y->serial;
}

static size_t describe(ac_test *t, ac__buf *out, unsigned long after) {
    if (!t || ac__loop_test.t != t || !ac__loop_test.nrecs)
        return 0;
    const ac__wrec **list = ac__xmalloc(ac__loop_test.nrecs * sizeof *list);
    size_t n = 0;
    for (size_t i = 0; i < ac__loop_test.nrecs; i++)
        if (!ac__loop_test.recs[i].internal && !ac__loop_test.recs[i].harness &&
            ac__loop_test.recs[i].serial > after)
            list[n++] = &ac__loop_test.recs[i];
    ac__qsort(list, n, sizeof *list, by_serial);
    size_t described = 0;
    for (size_t i = 0; i < n; i++) {
        const ac__wrec *r = list[i];
        ev_watcher head;
        if (!safe_read(r->w, &head, sizeof head) || !head.active || (void *)head.cb != r->cb)
            continue; /* stopped without our seeing it, or its memory is no longer that watcher */
        void *cb = r->user_cb ? r->user_cb : r->cb;
        if (cb && ac__sym_in_harness(cb))
            continue; /* asyncheck's own: an await's timer, a mock's completion, a peer's io */
        if (described++)
            ac__buf_puts(out, "\n");
        ac__wrec_describe_full(out, r);
    }
    free(list);
    return described;
}

__attribute__((cold)) size_t ac__loop_describe_active(ac_test *t, ac__buf *out) {
    return describe(t, out, 0);
}

__attribute__((cold)) size_t ac__loop_describe_body(ac_test *t, ac__buf *out) {
    return describe(t, out, ac__loop_test.body_serial);
}

void ac__loop_body_begins(ac_test *t) {
    if (ac__loop_test.t == t)
        ac__loop_test.body_serial = ac__loop_test.next_serial;
}

__attribute__((cold)) size_t ac__loop_describe_harness(ac_test *t, ac__buf *out, bool deliveries_only) {
    if (!t || ac__loop_test.t != t)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < ac__loop_test.nrecs; i++) {
        const ac__wrec *r = &ac__loop_test.recs[i];
        ev_async head; /* the largest header read: an ev_async's tells whether it was sent */
        size_t size = r->type == AC_W_ASYNC ? sizeof(ev_async) : sizeof(ev_watcher);
        void *cb = r->user_cb ? r->user_cb : r->cb;
        if (r->internal || r->harness || !cb || !ac__sym_in_harness(cb) || r->type == AC_W_FORK ||
            r->type == AC_W_CLEANUP || !safe_read(r->w, &head, size) || !head.active ||
            (void *)head.cb != r->cb || (r->type == AC_W_ASYNC && !ev_async_pending(&head)))
            continue;
        ac__buf delivery = {0};
        ev_timer timer; /* a mock's completion timer names its delivery */
        bool is_delivery = r->type == AC_W_TIMER && safe_read(r->w, &timer, sizeof timer) &&
                           ac__delivery_describe(&delivery, &timer);
        if (!is_delivery && deliveries_only) {
            ac__buf_free(&delivery);
            continue;
        }
        if (n++)
            ac__buf_puts(out, "\n");
        if (is_delivery) {
            ac__buf_puts(out, ac__buf_str(&delivery));
            ac__delivery_due(out, &timer);
        } else {
            ac__wrec_describe(out, r);
            ac__buf_puts(out, ", callback ");
            ac__sym_format(out, cb, false);
            ac__buf_puts(out, " (asyncheck's own)");
        }
        ac__buf_free(&delivery);
    }
    return n;
}

/* ---- quiescence ---- */

/* A recorded watcher that could still fire, ev_async aside (see async_sent). Records are dropped when
 * their watcher stops, so one that exists is taken as active (a stale one only makes the loop look busy).
 * ev_fork and ev_cleanup watchers run only on ev_loop_fork or when the loop is destroyed. */
static bool could_fire(const ac__wrec *r) {
    if (r->internal || r->harness)
        return false; /* libev's own; an await's timer, the drain's */
    return r->type != AC_W_FORK && r->type != AC_W_CLEANUP && r->type != AC_W_ASYNC;
}

/* An ev_async that was sent and not yet delivered (its memory read safely). */
static bool async_sent(const ac__wrec *r) {
    ev_async a;
    return r->type == AC_W_ASYNC && !r->internal && safe_read(r->w, &a, sizeof a) && a.active &&
           ev_async_pending(&a);
}

bool ac__loop_quiescent(ac_test *t) {
    struct ev_loop *loop = ac__test_loop_made(t);
    if (!loop || ac__loop_test.t != t || !ac__tracking(loop) ||
        !pthread_equal(pthread_self(), ac__loop_test.thread) || ev_pending_count(loop))
        return false;
    for (size_t i = 0; i < ac__loop_test.nrecs; i++)
        if (could_fire(&ac__loop_test.recs[i]))
            return false;
    for (size_t i = 0; i < ac__loop_test.nrecs; i++) /* only on a loop that looks idle: these read memory */
        if (async_sent(&ac__loop_test.recs[i]))
            return false;
    if (!ac__loop_test.threads_before)
        return false; /* cannot tell whether the test's threads are running */
    int now = ac__count_threads();
    if (now <= 0 || now > ac__loop_test.threads_before)
        return false;
    /* Again, now that no thread of the test's is left: one that ended between the look above and the
     * count may have sent an ev_async (or fed an event) as its last act, and what it did before it ended
     * is seen now. */
    if (ev_pending_count(loop))
        return false;
    for (size_t i = 0; i < ac__loop_test.nrecs; i++)
        if (async_sent(&ac__loop_test.recs[i]))
            return false;
    return true;
}

/* ---- file descriptors ---- */

static void fd_add(uint64_t *bits, long fd) {
    bits[fd / 64] |= 1ull << (fd % 64);
}

static bool fd_has(const uint64_t *bits, long fd) {
    return fd < 64 * AC_FD_WORDS && (bits[fd / 64] >> (fd % 64) & 1);
}

/* The open fds below a bound, with one ppoll per 256 fds (POLLNVAL marks the closed ones): listing
 * /proc/self/fd costs ~8 µs, and ~50 µs the first time in a freshly forked test. At the start (`limit`
 * 0) the bound grows from 32 while the upper half of the range has open fds, so it ends above twice the
 * highest fd of the dense low range (at most 1024); the end scans the same range. An fd the test opens
 * at or above it (only by dup2/F_DUPFD to a high number, or after opening more fds than were open) is
 * not examined, and an isolated high fd open before the test is never mistaken for the test's. False
 * when ppoll fails. */
static bool fd_scan(uint64_t *bits, int from, int to, bool *upper_half_used) {
    struct pollfd p[256];
    for (int base = from; base < to; base += 256) {
        int n = to - base < 256 ? to - base : 256;
        for (int i = 0; i < n; i++)
            p[i] = (struct pollfd){.fd = base + i};
        struct timespec zero = {0, 0};
        if (syscall(SYS_ppoll, p, (unsigned long)n, &zero, NULL, 0) < 0)
            return false;
        for (int i = 0; i < n; i++)
            if (!(p[i].revents & POLLNVAL)) {
                fd_add(bits, base + i);
                if (upper_half_used && base + i >= to / 2)
                    *upper_half_used = true;
            }
    }
    return true;
}

int ac__loop_count_fds(void) {
    uint64_t bits[AC_FD_WORDS] = {0};
    int limit = ac__loop_test.fds_limit ? ac__loop_test.fds_limit : 64;
    if (!fd_scan(bits, 0, limit, NULL))
        return -1;
    int n = 0;
    for (size_t i = 0; i < AC_FD_WORDS; i++)
        n += __builtin_popcountll(bits[i]);
    return n;
}

static bool fd_snapshot(uint64_t *bits, int limit, int *limit_out) {
    memset(bits, 0, AC_FD_WORDS * sizeof *bits);
    if (limit)
        return fd_scan(bits, 0, limit, NULL);
    int from = 0, to = 32;
    for (;;) {
        bool upper = false;
        if (!fd_scan(bits, from, to, &upper))
            return false;
        if (!upper || to >= 64 * AC_FD_WORDS)
            break;
        from = to;
        to *= 2;
    }
    *limit_out = to;
    return true;
}

__attribute__((cold)) static const char *family_name(int family) {
    switch (family) {
    case AF_UNIX:
        return "AF_UNIX";
    case AF_INET:
        return "AF_INET";
    case AF_INET6:
        return "AF_INET6";
    case AF_NETLINK:
        return "AF_NETLINK";
    default:
        return NULL;
    }
}

__attribute__((cold)) static const char *socktype_name(int type) {
    switch (type) {
    case SOCK_STREAM:
        return "SOCK_STREAM";
    case SOCK_DGRAM:
        return "SOCK_DGRAM";
    case SOCK_SEQPACKET:
        return "SOCK_SEQPACKET";
    case SOCK_RAW:
        return "SOCK_RAW";
    default:
        return NULL;
    }
}

/* What fd is: the /proc/self/fd link ("socket:[1234]", "pipe:[99]", a path), and for a socket its
 * family and type. */
__attribute__((cold)) static void fd_what(ac__buf *b, int fd, char *target, size_t cap) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    long n = syscall(SYS_readlinkat, AT_FDCWD, path, target, cap - 1);
    target[n > 0 ? n : 0] = '\0';
    ac__buf_puts(b, n > 0 ? target : "(closed meanwhile)");
    if (strncmp(target, "socket:", 7) != 0)
        return;
    int family = 0, type = 0;
    socklen_t len = sizeof family;
    if (syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_DOMAIN, &family, &len) != 0)
        return;
    len = sizeof type;
    if (syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
        return;
    const char *f = family_name(family), *ty = socktype_name(type);
    ac__buf_puts(b, " (");
    if (f)
        ac__buf_puts(b, f);
    else
        ac__buf_printf(b, "family %d", family);
    if (ty)
        ac__buf_printf(b, ", %s", ty);
    else
        ac__buf_printf(b, ", type %d", type);
    ac__buf_puts(b, ")");
}

/* An fd libev opened for the loop itself while the test ran: an io watcher libev started for itself
 * (timerfd, inotify, signalfd, its pipe) on an anonymous inode. */
static bool loop_owned(int fd, const char *target) {
    if (strncmp(target, "anon_inode:", 11) != 0 && strncmp(target, "pipe:", 5) != 0)
        return false;
    for (size_t i = 0; i < ac__loop_test.nrecs; i++)
        if (ac__loop_test.recs[i].internal && ac__loop_test.recs[i].type == AC_W_IO &&
            ac__loop_test.recs[i].p.io.fd == fd)
            return true;
    return false;
}

static void check_fds(void) {
    uint64_t after[AC_FD_WORDS];
    if (!fd_snapshot(after, ac__loop_test.fds_limit, NULL))
        return;
    ac__buf which = {0};
    size_t leaked = 0;
    long first = -1;
    for (size_t word = 0; word < AC_FD_WORDS; word++) {
        uint64_t bits = after[word];
        while (bits) {
            int bit = __builtin_ctzll(bits);
            bits &= bits - 1;
            long fd = (long)(word * 64 + (size_t)bit);
            if (fd_has(ac__loop_test.fds_before, fd))
                continue;
            char target[256];
            ac__buf line = {0};
            fd_what(&line, (int)fd, target, sizeof target);
            if (!loop_owned((int)fd, target)) {
                if (leaked++)
                    ac__buf_puts(&which, "\n");
                else
                    first = fd;
                ac__buf_printf(&which, "fd %ld: %s", fd, ac__buf_str(&line));
            }
            ac__buf_free(&line);
        }
    }
    if (leaked) {
        ac__buf msg = {0};
        if (leaked == 1)
            ac__buf_printf(
                &msg,
                "file descriptor %ld opened by the test is still open at its end (close it, or waive "
                "the check with AC_ALLOW_OPEN_FDS)",
                first);
        else
            ac__buf_printf(
                &msg,
                "%zu file descriptors opened by the test are still open at its end (close them, or "
                "waive the check with AC_ALLOW_OPEN_FDS)",
                leaked);
        ac__report_failure(AC_FK_ASSERTION, false, ac__loop_test.def->file, ac__loop_test.def->line,
                           ac__buf_str(&msg), ac__buf_str(&which), NULL);
        ac__buf_free(&msg);
    }
    ac__buf_free(&which);
}

/* ---- a test's life ---- */

void ac__loop_begin(ac_test *t) {
    ac__hooks_install();
    struct ev_loop *loop = ac__test_loop_made(t);
    ac__hooks_reset();
    ac__dispatch_reset();
    ac__threads_reset();
    ac__rec_clear();
    ac__loop_test.t = t;
    ac__loop_test.def = ac__test_def_of(t);
    ac__loop_test.thread = pthread_self();
    ac__loop_test.allow = ac__loop_test.def->options.allow;
    double limit =
        ac__loop_test.def->options.slow_callback > 0 ? ac__loop_test.def->options.slow_callback : 0.1;
    double mult;
    (void)ac__timeout_multiplier(&mult); /* the runner has refused a bad value */
    ac__loop_test.slow_limit = limit * mult;
    ac__loop_test.batch_reported_slow = ac__loop_test.batch_reported_sleep = false;
    ac__loop_test.next_serial = 0;
    ac__loop_test.body_serial = 0;
    ac__loop_test.threads_before = ac__count_threads();
    ac__loop_test.fds_known = fd_snapshot(ac__loop_test.fds_before, 0, &ac__loop_test.fds_limit);
    ac__fds_begin();
    ac__spin_reset();
    ac__blocking_reset();
    if (loop)
        ac__loop_adopt(loop);
}

static uint64_t fds_unadopted[AC_FD_WORDS]; /* open before the loop made after the test began */
static bool fds_unadopted_known AC__PER_TEST;

void ac__loop_adopt_begin(void) {
    fds_unadopted_known =
        ac__loop_test.fds_known && fd_snapshot(fds_unadopted, ac__loop_test.fds_limit, NULL);
}

void ac__loop_adopt(struct ev_loop *loop) {
    if (!loop)
        return;
    if (fds_unadopted_known) { /* the fds the loop opened join those open at the start */
        uint64_t now[AC_FD_WORDS];
        if (fd_snapshot(now, ac__loop_test.fds_limit, NULL))
            for (size_t i = 0; i < AC_FD_WORDS; i++)
                ac__loop_test.fds_before[i] |= now[i] & ~fds_unadopted[i];
        fds_unadopted_known = false;
    }
    ev_set_invoke_pending_cb(loop, ac__dispatch_pending);
    __atomic_store_n(&ac__loop_test.loop, loop, __ATOMIC_RELAXED);
    ac__hooks_adopt_internal(loop);
}

void ac__loop_end(ac_test *t, bool report) {
    if (ac__loop_test.t != t)
        return;
    struct ev_loop *loop = ac__test_loop_made(t);
    if (report)
        ac__fds_check_watchers(false);
    if (report && !(ac__loop_test.allow & AC_ALLOW_OPEN_FDS) && ac__loop_test.fds_known)
        check_fds();
    __atomic_store_n(&ac__loop_test.loop, NULL, __ATOMIC_RELAXED);
    if (loop)
        ev_set_invoke_pending_cb(loop, ev_invoke_pending);
    ac__rec_clear();
    ac__hooks_reset();
    ac__dispatch_reset();
    ac__loop_test.t = NULL;
    ac__loop_test.def = NULL;
    ac__loop_test.fds_known = false;
}

/* ---- observers registered from above ---- */

const ac__loop_scheduler *ac__loop_sched AC__PER_TEST;
const ac__loop_delivery_namer *ac__loop_namer;

void ac__loop_set_scheduler(const ac__loop_scheduler *s) {
    ac__loop_sched = s;
}

void ac__loop_set_delivery_namer(const ac__loop_delivery_namer *n) {
    if (ac__loop_namer != n) /* a forked test child writes no page it need not */
        ac__loop_namer = n;
}

bool ac__delivery_describe(ac__buf *b, const void *w) {
    return ac__loop_namer && ac__loop_namer->describe(b, w);
}

void ac__delivery_due(ac__buf *b, const void *w) {
    if (ac__loop_namer)
        ac__loop_namer->due(b, w);
}
