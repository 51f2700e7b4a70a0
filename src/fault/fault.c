/* fault.c — fault injection for one test: the replacement of the one function a run fails (read, recv,
 * write, send, writev, malloc, calloc, realloc, connect, accept, accept4, getaddrinfo), the count of its
 * calls made by the code under test, the K-th call's failure, and the parsing of fault specifications
 * (with the failures a user names: any errno by name, SHORT, an EAI_ code). It must not decide which
 * runs a sweep makes (explore.c does) and must not fail a call made outside the window or by libev.
 *
 * The boundary. A call is counted when all hold: it is made on the test's thread; after the test
 * called ac_fault_start and before its body and drain are over (the suite's teardown and the end checks
 * are outside); through a GOT/PLT slot (src/patch/patch.h: calls from the test executable and its
 * shared libraries; libc's calls to itself are not); not from libev's own object (its wake-up pipe,
 * its eventfd); and not inside ac__harness_call_begin/end (asyncheck's own calls: the scripted peer's
 * send and recv, a listener's accept4). asyncheck's records go through the real write (exec.c) and are
 * never seen.
 *
 * A refused connect. On a blocking socket the failed call returns -1 with ECONNREFUSED at once. On a
 * non-blocking socket the kernel itself makes the failure: the module holds a TCP socket bound to a
 * port of 127.0.0.1 that never listens, and the failed call connects the code's socket there instead
 * (an AF_INET socket directly; any other socket is first replaced, with dup3 on the same number, by a
 * fresh non-blocking AF_INET stream socket). The connect returns -1 with EINPROGRESS, the loopback
 * answers the SYN with a reset, the socket becomes writable (and readable, with POLLERR and POLLHUP)
 * and getsockopt(SO_ERROR) reports ECONNREFUSED: real readiness and a real SO_ERROR, as a refused
 * connect to a remote host gives. Any other errno named for connect fails the call at once. */
#include "fault.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "asyncheck/fault.h"
#include "../context/context.h"
#include "../patch/patch.h"
#include "../timeline/timeline.h"

/* What a function's failures are made of. */
typedef enum fault_class {
    FC_READ,    /* any errno, or SHORT */
    FC_WRITE,   /* any errno, or SHORT */
    FC_ALLOC,   /* NULL with any errno */
    FC_CONNECT, /* any errno; ECONNREFUSED on a non-blocking socket is deferred */
    FC_ACCEPT,  /* any errno */
    FC_GAI,     /* an EAI_ code, returned */
} fault_class;

typedef struct fault_kind {
    const char *fn;
    fault_class cls;
    int errs[4]; /* the failures a sweep tries by default, in order; 0 ends */
} fault_kind;

static const fault_kind kinds[] = {
    {"read", FC_READ, {EINTR, EAGAIN, AC__FAULT_SHORT, 0}},
    {"recv", FC_READ, {EINTR, EAGAIN, AC__FAULT_SHORT, 0}},
    {"write", FC_WRITE, {EINTR, EAGAIN, AC__FAULT_SHORT, 0}},
    {"send", FC_WRITE, {EINTR, EAGAIN, AC__FAULT_SHORT, 0}},
    {"writev", FC_WRITE, {EINTR, EAGAIN, AC__FAULT_SHORT, 0}},
    {"malloc", FC_ALLOC, {ENOMEM, 0}},
    {"calloc", FC_ALLOC, {ENOMEM, 0}},
    {"realloc", FC_ALLOC, {ENOMEM, 0}},
    {"connect", FC_CONNECT, {ECONNREFUSED, 0}},
    {"accept", FC_ACCEPT, {EMFILE, 0}},
    {"accept4", FC_ACCEPT, {EMFILE, 0}},
    {"getaddrinfo", FC_GAI, {AC__FAULT_EAI(EAI_AGAIN), 0}},
};
#define NKINDS (sizeof kinds / sizeof *kinds)

#define E(x)                                                                                                 \
    { #x, x }
/* The errno values a failure may be named by (EWOULDBLOCK and EDEADLOCK are EAGAIN and EDEADLK here). */
static const struct {
    const char *name;
    int err;
} errnames[] = {
    E(EPERM),       E(ENOENT),       E(ESRCH),        E(EINTR),         E(EIO),          E(ENXIO),
    E(E2BIG),       E(EBADF),        E(ECHILD),       E(EAGAIN),        E(ENOMEM),       E(EACCES),
    E(EFAULT),      E(EBUSY),        E(EEXIST),       E(EXDEV),         E(ENODEV),       E(ENOTDIR),
    E(EISDIR),      E(EINVAL),       E(ENFILE),       E(EMFILE),        E(ENOTTY),       E(EFBIG),
    E(ENOSPC),      E(ESPIPE),       E(EROFS),        E(EMLINK),        E(EPIPE),        E(EDOM),
    E(ERANGE),      E(EDEADLK),      E(ENAMETOOLONG), E(ENOLCK),        E(ENOSYS),       E(ENOTEMPTY),
    E(ELOOP),       E(ENOMSG),       E(EPROTO),       E(EBADMSG),       E(EOVERFLOW),    E(EILSEQ),
    E(ENOTSOCK),    E(EDESTADDRREQ), E(EMSGSIZE),     E(EPROTOTYPE),    E(ENOPROTOOPT),  E(EPROTONOSUPPORT),
    E(EOPNOTSUPP),  E(EAFNOSUPPORT), E(EADDRINUSE),   E(EADDRNOTAVAIL), E(ENETDOWN),     E(ENETUNREACH),
    E(ENETRESET),   E(ECONNABORTED), E(ECONNRESET),   E(ENOBUFS),       E(EISCONN),      E(ENOTCONN),
    E(ESHUTDOWN),   E(ETIMEDOUT),    E(ECONNREFUSED), E(EHOSTDOWN),     E(EHOSTUNREACH), E(EALREADY),
    E(EINPROGRESS), E(ESTALE),       E(EDQUOT),       E(ECANCELED),
};

/* The getaddrinfo failures (returned, not set in errno). */
static const struct {
    const char *name;
    int code;
} eainames[] = {E(EAI_AGAIN), E(EAI_FAIL), E(EAI_NONAME), E(EAI_MEMORY)};
#undef E

static const fault_kind *kind_of(const char *fn, size_t len) {
    for (size_t i = 0; i < NKINDS; i++)
        if (strlen(kinds[i].fn) == len && strncmp(kinds[i].fn, fn, len) == 0)
            return &kinds[i];
    return NULL;
}

static const char *err_name(int err) {
    if (err == AC__FAULT_SHORT)
        return "SHORT";
    for (size_t i = 0; i < sizeof eainames / sizeof *eainames; i++)
        if (AC__FAULT_EAI(eainames[i].code) == err)
            return eainames[i].name;
    for (size_t i = 0; i < sizeof errnames / sizeof *errnames; i++)
        if (errnames[i].err == err)
            return errnames[i].name;
    return "?";
}

/* The failure `name` (len bytes) of k, or 0 when k cannot fail that way. */
static int failure_of(const fault_kind *k, const char *name, size_t len) {
    if (k->cls == FC_GAI) {
        for (size_t i = 0; i < sizeof eainames / sizeof *eainames; i++)
            if (strlen(eainames[i].name) == len && strncmp(eainames[i].name, name, len) == 0)
                return AC__FAULT_EAI(eainames[i].code);
        return 0;
    }
    if ((k->cls == FC_READ || k->cls == FC_WRITE) && len == 5 && strncmp(name, "SHORT", 5) == 0)
        return AC__FAULT_SHORT;
    for (size_t i = 0; i < sizeof errnames / sizeof *errnames; i++)
        if (strlen(errnames[i].name) == len && strncmp(errnames[i].name, name, len) == 0)
            return errnames[i].err;
    return 0;
}

/* "read cannot fail with 'EBOGUS' (ERR: ...)" into why: what k accepts. */
static void bad_failure(ac__buf *why, const fault_kind *k, const char *name, size_t len) {
    ac__buf_printf(why, "%s cannot fail with '%.*s' (ERR: ", k->fn, (int)len, name);
    if (k->cls == FC_GAI) {
        for (size_t i = 0; i < sizeof eainames / sizeof *eainames; i++)
            ac__buf_printf(why, "%s%s", i ? ", " : "", eainames[i].name);
    } else {
        ac__buf_printf(why, "an errno name such as %s or EIO", err_name(k->errs[0]));
        if (k->cls == FC_READ || k->cls == FC_WRITE)
            ac__buf_puts(why, ", or SHORT");
    }
    ac__buf_puts(why, ")");
}

static void list_kinds(ac__buf *b) {
    for (size_t i = 0; i < NKINDS; i++)
        ac__buf_printf(b, "%s%s", i ? ", " : "", kinds[i].fn);
}

int ac__fault_parse(const char *spec, ac__fault_point *out, ac__buf *why) {
    memset(out, 0, sizeof *out);
    const char *c1 = strchr(spec, ':');
    const fault_kind *k = c1 ? kind_of(spec, (size_t)(c1 - spec)) : NULL;
    if (!c1) {
        ac__buf_printf(why, "--fault-at: '%s' is not FUNC:K[:ERR] (say write:3:EINTR)", spec);
        return -1;
    }
    if (!k) {
        ac__buf_printf(why, "--fault-at: '%s' names no function asyncheck can fail (", spec);
        list_kinds(why);
        ac__buf_puts(why, ")");
        return -1;
    }
    char *end;
    errno = 0;
    long at = strtol(c1 + 1, &end, 10);
    if (end == c1 + 1 || (*end && *end != ':') || at < 1 || errno) {
        ac__buf_printf(why, "--fault-at: '%s': the call number must be a whole number from 1", spec);
        return -1;
    }
    int err = k->errs[0];
    if (*end == ':') {
        err = failure_of(k, end + 1, strlen(end + 1));
        if (!err) {
            ac__buf_printf(why, "--fault-at: '%s' is not FUNC:K[:ERR]: ", spec);
            bad_failure(why, k, end + 1, strlen(end + 1));
            return -1;
        }
    }
    snprintf(out->fn, sizeof out->fn, "%s", k->fn);
    out->at = at;
    out->err = err;
    return 0;
}

static void add_point(ac__fault_point **out, unsigned *n, const fault_kind *k, int err) {
    *out = ac__xrealloc(*out, (*n + 1) * sizeof **out);
    ac__fault_point *p = &(*out)[(*n)++];
    memset(p, 0, sizeof *p);
    snprintf(p->fn, sizeof p->fn, "%s", k->fn);
    p->err = err;
}

int ac__fault_sweep_parse(const char *list, ac__fault_point **out, unsigned *n, ac__buf *why) {
    *out = NULL;
    *n = 0;
    const char *s = list;
    for (;;) {
        size_t len = strcspn(s, ","), fnlen = strcspn(s, ",=");
        const fault_kind *k = kind_of(s, fnlen);
        if (!k) {
            ac__buf_printf(why, "'%s': '%.*s' is no function asyncheck can fail (", list, (int)fnlen, s);
            list_kinds(why);
            ac__buf_puts(why, ")");
            goto fail;
        }
        if (fnlen == len) {
            for (int i = 0; k->errs[i]; i++)
                add_point(out, n, k, k->errs[i]);
        } else {
            /* FUNC=ERR+ERR...: the failures named, in that order */
            const char *e = s + fnlen + 1, *stop = s + len;
            for (;;) {
                size_t elen = strcspn(e, "+,");
                if (e + elen > stop)
                    elen = (size_t)(stop - e);
                int err = failure_of(k, e, elen);
                if (!err) {
                    ac__buf_printf(why, "'%s' is not FUNC[=ERR+ERR...],...: ", list);
                    bad_failure(why, k, e, elen);
                    goto fail;
                }
                add_point(out, n, k, err);
                if (e + elen >= stop)
                    break;
                e += elen + 1;
            }
        }
        if (!s[len])
            return 0;
        s += len + 1;
    }
fail:
    free(*out);
    *out = NULL;
    *n = 0;
    return -1;
}

void ac__fault_format(const ac__fault_point *p, ac__buf *b) {
    ac__buf_printf(b, "%s:%ld:%s", p->fn, p->at, err_name(p->err));
}

/* ---- the running test's fault ---- */

static struct {
    ac_test *t;
    ac__fault_point p;
    bool exploring, patched, counting;
    bool fired; /* the K-th counted call was failed (ac_fault_fired) */
    pthread_t thread;
    void *libev_base; /* calls from this object are libev's own */
    long calls;
    ac__patch patch;
    void *real;
    int refuser;                /* connect: a TCP socket bound to 127.0.0.1 that never listens (-1: none) */
    struct sockaddr_in refused; /* its address */
} st = {.refuser = -1};

/* Counts this call when it is the code under test's, and says whether it is the one to fail (with an
 * errno failure, errno is set; a short count is the caller's to make). */
/* The allocators' replacements run inside libc wherever it allocates, also on a thread ThreadSanitizer
 * has not yet set up (its thread start calls calloc through pthread_getattr_np): no TSan entry hooks
 * there, and they touch nothing another thread writes before the test's thread check. */
#define NO_TSAN __attribute__((no_sanitize("thread")))

NO_TSAN static bool fail_now(void *caller) {
    if (!st.counting || !pthread_equal(pthread_self(), st.thread) || ac__in_harness_call())
        return false;
    Dl_info info;
    if (st.libev_base && dladdr(caller, &info) && info.dli_fbase == st.libev_base)
        return false;
    if (++st.calls != st.p.at)
        return false;
    if (!st.fired) {
        char what[80];
        int n = snprintf(what, sizeof what, "the injected fault %s:%ld:", st.p.fn, st.p.at);
        if (n > 0 && (size_t)n < sizeof what)
            snprintf(what + n, sizeof what - (size_t)n, "%s", err_name(st.p.err));
        ac__note_disruption(st.t, what);
    }
    st.fired = true;
    /* no allocation here: the faulted function may be malloc */
    ac__tl_printf(AC_TL_FAULT, 0, "fault point %s:%ld:%s: this call fails", st.p.fn, st.p.at,
                  err_name(st.p.err));
    if (st.p.err > 0)
        errno = st.p.err;
    return true;
}

/* close() as libc has it: the module's own descriptors must not meet a test's close hooks. */
static void real_close(int fd) {
    int (*c)(int) = (int (*)(int))ac__real("close");
    if (c)
        c(fd);
}

/* The count a short read of fd asks for: half of what it could return now (the bytes waiting, as far as
 * FIONREAD knows them, at most n); n itself when that is under 2 bytes (nothing shorter to return). */
static size_t short_read_count(int fd, size_t n) {
    int avail = 0;
    size_t can = n;
    if (ioctl(fd, FIONREAD, &avail) == 0 && avail >= 0 && (size_t)avail < n)
        can = (size_t)avail;
    return can >= 2 ? can / 2 : n;
}

/* The count a short write of n bytes asks for: half of them (n itself under 2 bytes). */
static size_t short_write_count(size_t n) {
    return n >= 2 ? n / 2 : n;
}

static ssize_t fault_read(int fd, void *buf, size_t n) {
    if (fail_now(__builtin_return_address(0))) {
        if (st.p.err > 0)
            return -1;
        n = short_read_count(fd, n);
    }
    return ((ssize_t(*)(int, void *, size_t))st.real)(fd, buf, n);
}

static ssize_t fault_write(int fd, const void *buf, size_t n) {
    if (fail_now(__builtin_return_address(0))) {
        if (st.p.err > 0)
            return -1;
        n = short_write_count(n);
    }
    return ((ssize_t(*)(int, const void *, size_t))st.real)(fd, buf, n);
}

static ssize_t fault_recv(int fd, void *buf, size_t n, int flags) {
    if (fail_now(__builtin_return_address(0))) {
        if (st.p.err > 0)
            return -1;
        n = short_read_count(fd, n);
    }
    return ((ssize_t(*)(int, void *, size_t, int))st.real)(fd, buf, n, flags);
}

static ssize_t fault_send(int fd, const void *buf, size_t n, int flags) {
    if (fail_now(__builtin_return_address(0))) {
        if (st.p.err > 0)
            return -1;
        n = short_write_count(n);
    }
    return ((ssize_t(*)(int, const void *, size_t, int))st.real)(fd, buf, n, flags);
}

#define SHORT_IOV_MAX 64

/* A short writev writes half of all the vectors' bytes: the leading vectors that hold them, the last
 * one cut (at most SHORT_IOV_MAX vectors are kept; more is shorter still). */
static ssize_t fault_writev(int fd, const struct iovec *iov, int cnt) {
    ssize_t (*real)(int, const struct iovec *, int) = (ssize_t(*)(int, const struct iovec *, int))st.real;
    if (!fail_now(__builtin_return_address(0)))
        return real(fd, iov, cnt);
    if (st.p.err > 0)
        return -1;
    size_t total = 0;
    for (int i = 0; i < cnt; i++)
        total += iov[i].iov_len;
    size_t left = short_write_count(total);
    static struct iovec cut[SHORT_IOV_MAX];
    int n = 0;
    for (int i = 0; i < cnt && n < SHORT_IOV_MAX && left > 0; i++) {
        cut[n] = iov[i];
        if (cut[n].iov_len > left)
            cut[n].iov_len = left;
        left -= cut[n++].iov_len;
    }
    return real(fd, n ? cut : iov, n ? n : cnt);
}

/* The allocators: NULL with ENOMEM. asyncheck allocates through the originals (src/util/buf.c), and
 * libev's own calls (its watcher arrays, its timer heap) are libev's, so neither is counted. */
NO_TSAN static void *fault_malloc(size_t n) {
    if (fail_now(__builtin_return_address(0)))
        return NULL;
    return ((void *(*)(size_t))st.real)(n);
}

NO_TSAN static void *fault_calloc(size_t n, size_t size) {
    if (fail_now(__builtin_return_address(0)))
        return NULL;
    return ((void *(*)(size_t, size_t))st.real)(n, size);
}

NO_TSAN static void *fault_realloc(void *p, size_t n) {
    if (fail_now(__builtin_return_address(0)))
        return NULL; /* p is left as it was, as realloc leaves it */
    return ((void *(*)(void *, size_t))st.real)(p, n);
}

/* A failed connect: -1 with the errno at once, except ECONNREFUSED on a non-blocking socket, which the
 * kernel makes later (the opening comment says how). */
static int fault_connect(int fd, const struct sockaddr *addr, socklen_t len) {
    int (*real)(int, const struct sockaddr *, socklen_t) =
        (int (*)(int, const struct sockaddr *, socklen_t))st.real;
    if (!fail_now(__builtin_return_address(0)))
        return real(fd, addr, len);
    int err = st.p.err, fl = fcntl(fd, F_GETFL), domain = 0;
    socklen_t dlen = sizeof domain;
    if (err != ECONNREFUSED || fl < 0 || !(fl & O_NONBLOCK) || st.refuser < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) < 0) {
        errno = err;
        return -1;
    }
    if (domain != AF_INET) {
        int fdfl = fcntl(fd, F_GETFD);
        int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (s < 0 || dup3(s, fd, fdfl > 0 && (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
            if (s >= 0)
                real_close(s);
            errno = err;
            return -1;
        }
        real_close(s);
    }
    return real(fd, (const struct sockaddr *)&st.refused, sizeof st.refused);
}

static int fault_accept(int fd, struct sockaddr *addr, socklen_t *len) {
    if (fail_now(__builtin_return_address(0)))
        return -1; /* the connection waits in the backlog: the listener stays readable */
    return ((int (*)(int, struct sockaddr *, socklen_t *))st.real)(fd, addr, len);
}

static int fault_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    if (fail_now(__builtin_return_address(0)))
        return -1;
    return ((int (*)(int, struct sockaddr *, socklen_t *, int))st.real)(fd, addr, len, flags);
}

/* A failed getaddrinfo returns its EAI_ code; *res is left NULL. */
static int fault_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                             struct addrinfo **res) {
    if (fail_now(__builtin_return_address(0))) {
        if (res)
            *res = NULL;
        return st.p.err - AC__FAULT_EAI(0);
    }
    return ((int (*)(const char *, const char *, const struct addrinfo *, struct addrinfo **))st.real)(
        node, service, hints, res);
}

/* Binds the socket a refused non-blocking connect is sent to: a port of 127.0.0.1 that never listens. */
static void open_refuser(void) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t alen = sizeof st.refused;
    memset(&st.refused, 0, sizeof st.refused);
    st.refused.sin_family = AF_INET;
    st.refused.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s >= 0 && bind(s, (struct sockaddr *)&st.refused, sizeof st.refused) == 0 &&
        getsockname(s, (struct sockaddr *)&st.refused, &alen) == 0) {
        st.refuser = s;
        return;
    }
    if (s >= 0)
        real_close(s);
}

static void *replacement_of(const char *fn) {
    if (strcmp(fn, "read") == 0)
        return (void *)fault_read;
    if (strcmp(fn, "write") == 0)
        return (void *)fault_write;
    if (strcmp(fn, "recv") == 0)
        return (void *)fault_recv;
    if (strcmp(fn, "send") == 0)
        return (void *)fault_send;
    if (strcmp(fn, "writev") == 0)
        return (void *)fault_writev;
    if (strcmp(fn, "malloc") == 0)
        return (void *)fault_malloc;
    if (strcmp(fn, "calloc") == 0)
        return (void *)fault_calloc;
    if (strcmp(fn, "realloc") == 0)
        return (void *)fault_realloc;
    if (strcmp(fn, "connect") == 0)
        return (void *)fault_connect;
    if (strcmp(fn, "accept") == 0)
        return (void *)fault_accept;
    if (strcmp(fn, "accept4") == 0)
        return (void *)fault_accept4;
    if (strcmp(fn, "getaddrinfo") == 0)
        return (void *)fault_getaddrinfo;
    return NULL;
}

void ac__fault_begin(ac_test *t, const ac__fault_point *p, bool exploring) {
    static const __typeof__(st) clean = {.refuser = -1};
    if (memcmp(&st, &clean, sizeof st) != 0) /* a forked test child writes no page it need not */
        memcpy(&st, &clean, sizeof st);
    if (!p || p->at <= 0)
        return;
    st.t = t;
    st.p = *p;
    st.exploring = exploring;
    st.thread = pthread_self();
    Dl_info info;
    void *ev = ac__real("ev_run");
    if (ev && dladdr(ev, &info))
        st.libev_base = info.dli_fbase;
    /* what the code's calls reached before this patch: another replacement of the function (the loop's
     * blocking-call hooks, a test's ac_replace) when one is applied, so that it keeps working in every
     * run of the sweep; else the real function */
    st.real = ac__patch_current(p->fn);
    if (!st.real)
        st.real = ac__real(p->fn);
    void *with = replacement_of(p->fn);
    if (strcmp(p->fn, "connect") == 0)
        open_refuser();
    if (st.real && with && ac__patch_apply(&st.patch, p->fn, with) > 0)
        st.patched = true;
    else
        ac__patch_undo(&st.patch); /* frees what a slot-less apply kept */
}

bool ac_fault_fired(ac_test *t) {
    return st.t == t && st.fired;
}

void ac_fault_start(ac_test *t) {
    if (st.t == t && st.patched)
        st.counting = true;
}

void ac__fault_end(ac_test *t) {
    if (st.t != t || !st.t)
        return;
    st.counting = false;
    if (st.patched)
        ac__patch_undo(&st.patch);
    st.patched = false;
    if (st.refuser >= 0)
        real_close(st.refuser);
    st.refuser = -1;
    char calls[32];
    snprintf(calls, sizeof calls, "%ld", st.calls);
    const char *fields[] = {calls};
    ac__emit_record(t, AC_REC_FAULT, fields, 1);
    if (!st.exploring && st.calls < st.p.at && !ac__test_ended_early(t)) {
        const ac__test_def *def = ac__test_def_of(t);
        ac__buf m = {0};
        ac__buf_puts(&m, "--fault-at ");
        ac__fault_format(&st.p, &m);
        ac__buf_printf(&m,
                       ": the test never reached it (it made %ld counted call%s to %s after ac_fault_start)",
                       st.calls, st.calls == 1 ? "" : "s", st.p.fn);
        ac__report_failure(AC_FK_ASSERTION, false, def->file, def->line, ac__buf_str(&m), NULL, NULL);
        ac__buf_free(&m);
    }
    memset(&st, 0, sizeof st);
    st.refuser = -1;
}
