/* fault.c — fault injection for one test: the replacement of the one function a run fails (read, recv,
 * write, send, writev, malloc, calloc, realloc), the count of its calls made by the code under test, the K-th
 * call's failure, and the parsing of fault specifications. It must not decide which runs a sweep makes
 * (explore.c does) and must not fail a call made outside the window or by libev.
 *
 * The boundary. A call is counted when all hold: it is made on the test's thread; after the test
 * called ac_fault_start and before its body and drain are over (the suite's teardown and the end checks
 * are outside); through a GOT/PLT slot (src/patch/patch.h: calls from the test executable and its
 * shared libraries; libc's calls to itself are not); and not from libev's own object (its wake-up pipe,
 * its eventfd). asyncheck's records go through the real write (exec.c) and are never seen. */
#include "fault.h"

#include <dlfcn.h>
#include <errno.h>
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

typedef struct fault_kind {
    const char *fn;
    int errs[4]; /* the failures a sweep tries, in order; 0 ends */
} fault_kind;

static const fault_kind kinds[] = {
    {"read", {EINTR, EAGAIN, AC__FAULT_SHORT, 0}},
    {"recv", {EINTR, EAGAIN, AC__FAULT_SHORT, 0}},
    {"write", {EINTR, EAGAIN, AC__FAULT_SHORT, 0}},
    {"send", {EINTR, EAGAIN, AC__FAULT_SHORT, 0}},
    {"writev", {EINTR, EAGAIN, AC__FAULT_SHORT, 0}},
    {"malloc", {ENOMEM, 0}},
    {"calloc", {ENOMEM, 0}},
    {"realloc", {ENOMEM, 0}},
};
#define NKINDS (sizeof kinds / sizeof *kinds)

static const struct {
    const char *name;
    int err;
} errnames[] = {{"EINTR", EINTR}, {"EAGAIN", EAGAIN}, {"SHORT", AC__FAULT_SHORT}, {"ENOMEM", ENOMEM}};

static const fault_kind *kind_of(const char *fn, size_t len) {
    for (size_t i = 0; i < NKINDS; i++)
        if (strlen(kinds[i].fn) == len && strncmp(kinds[i].fn, fn, len) == 0)
            return &kinds[i];
    return NULL;
}

static const char *err_name(int err) {
    for (size_t i = 0; i < sizeof errnames / sizeof *errnames; i++)
        if (errnames[i].err == err)
            return errnames[i].name;
    return "?";
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
        err = 0;
        for (int i = 0; k->errs[i]; i++)
            if (strcmp(end + 1, err_name(k->errs[i])) == 0)
                err = k->errs[i];
        if (!err) {
            ac__buf_printf(why, "--fault-at: '%s': %s cannot fail with '%s' (", spec, k->fn, end + 1);
            for (int i = 0; k->errs[i]; i++)
                ac__buf_printf(why, "%s%s", i ? ", " : "", err_name(k->errs[i]));
            ac__buf_puts(why, ")");
            return -1;
        }
    }
    snprintf(out->fn, sizeof out->fn, "%s", k->fn);
    out->at = at;
    out->err = err;
    return 0;
}

int ac__fault_sweep_parse(const char *list, ac__fault_point **out, unsigned *n, ac__buf *why) {
    *out = NULL;
    *n = 0;
    const char *s = list;
    for (;;) {
        size_t len = strcspn(s, ",");
        const fault_kind *k = kind_of(s, len);
        if (!k) {
            ac__buf_printf(why, "'%s': '%.*s' is no function asyncheck can fail (", list, (int)len, s);
            list_kinds(why);
            ac__buf_puts(why, ")");
            free(*out);
            *out = NULL;
            *n = 0;
            return -1;
        }
        for (int i = 0; k->errs[i]; i++) {
            *out = ac__xrealloc(*out, (*n + 1) * sizeof **out);
            ac__fault_point *p = &(*out)[(*n)++];
            memset(p, 0, sizeof *p);
            snprintf(p->fn, sizeof p->fn, "%s", k->fn);
            p->err = k->errs[i];
        }
        if (!s[len])
            return 0;
        s += len + 1;
    }
}

void ac__fault_format(const ac__fault_point *p, ac__buf *b) {
    ac__buf_printf(b, "%s:%ld:%s", p->fn, p->at, err_name(p->err));
}

/* ---- the running test's fault ---- */

static struct {
    ac_test *t;
    ac__fault_point p;
    bool exploring, patched, counting;
    pthread_t thread;
    void *libev_base; /* calls from this object are libev's own */
    long calls;
    ac__patch patch;
    void *real;
} st;

/* Counts this call when it is the code under test's, and says whether it is the one to fail (with an
 * errno failure, errno is set; a short count is the caller's to make). */
static bool fail_now(void *caller) {
    if (!st.counting || !pthread_equal(pthread_self(), st.thread))
        return false;
    Dl_info info;
    if (st.libev_base && dladdr(caller, &info) && info.dli_fbase == st.libev_base)
        return false;
    if (++st.calls != st.p.at)
        return false;
    if (st.p.err > 0)
        errno = st.p.err;
    return true;
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
static void *fault_malloc(size_t n) {
    if (fail_now(__builtin_return_address(0)))
        return NULL;
    return ((void *(*)(size_t))st.real)(n);
}

static void *fault_calloc(size_t n, size_t size) {
    if (fail_now(__builtin_return_address(0)))
        return NULL;
    return ((void *(*)(size_t, size_t))st.real)(n, size);
}

static void *fault_realloc(void *p, size_t n) {
    if (fail_now(__builtin_return_address(0)))
        return NULL; /* p is left as it was, as realloc leaves it */
    return ((void *(*)(void *, size_t))st.real)(p, n);
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
    return NULL;
}

void ac__fault_begin(ac_test *t, const ac__fault_point *p, bool exploring) {
    static const unsigned char zero[sizeof st];
    if (memcmp(&st, zero, sizeof st) != 0) /* a forked test child writes no page it need not */
        memset(&st, 0, sizeof st);
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
    st.real = ac__real(p->fn);
    void *with = replacement_of(p->fn);
    if (st.real && with && ac__patch_apply(&st.patch, p->fn, with) > 0)
        st.patched = true;
    else
        ac__patch_undo(&st.patch); /* frees what a slot-less apply kept */
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
}
