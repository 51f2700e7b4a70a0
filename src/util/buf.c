/* buf.c — the growable buffer and allocation that fails loudly. Owns no policy about what is stored. */
#include "util.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Noreturn void out_of_memory(size_t n) {
    char msg[96];
    int len = snprintf(msg, sizeof msg, "asyncheck: out of memory (allocating %zu bytes)\n", n);
    if (len > 0)
        (void)!write(2, msg, (size_t)len);
    _exit(3);
}

/* The allocator as it was when the process started: a test may replace malloc, calloc or realloc
 * (ac_replace, which rewrites the GOT slots the harness's own calls go through too) with one that fails
 * or counts; the harness keeps allocating through the originals, found once before main. */
static struct {
    void *(*malloc)(size_t);
    void *(*realloc)(void *, size_t);
    void *(*calloc)(size_t, size_t);
} real_alloc;

__attribute__((constructor)) static void find_real_alloc(void) {
    real_alloc.malloc = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "malloc");
    real_alloc.realloc = (void *(*)(void *, size_t))dlsym(RTLD_DEFAULT, "realloc");
    real_alloc.calloc = (void *(*)(size_t, size_t))dlsym(RTLD_DEFAULT, "calloc");
    if (!real_alloc.malloc || !real_alloc.realloc || !real_alloc.calloc)
        real_alloc.malloc = NULL, real_alloc.realloc = NULL, real_alloc.calloc = NULL;
}

void *ac__xmalloc(size_t n) {
    void *p = real_alloc.malloc ? real_alloc.malloc(n ? n : 1) : malloc(n ? n : 1);
    if (!p)
        out_of_memory(n);
    return p;
}

void *ac__xrealloc(void *p, size_t n) {
    void *q = real_alloc.realloc ? real_alloc.realloc(p, n ? n : 1) : realloc(p, n ? n : 1);
    if (!q)
        out_of_memory(n);
    return q;
}

void *ac__xcalloc(size_t n, size_t size) {
    void *p = real_alloc.calloc ? real_alloc.calloc(n ? n : 1, size ? size : 1)
                                : calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory(n * size);
    return p;
}

char *ac__xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(ac__xmalloc(n), s, n);
}

static void reserve(ac__buf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = ac__xrealloc(b->data, cap);
    b->cap = cap;
}

void ac__buf_append(ac__buf *b, const void *p, size_t n) {
    reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void ac__buf_puts(ac__buf *b, const char *s) {
    ac__buf_append(b, s, strlen(s));
}

void ac__buf_vprintf(ac__buf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void ac__buf_printf(ac__buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ac__buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void ac__buf_free(ac__buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

const char *ac__buf_str(const ac__buf *b) {
    return b->data ? b->data : "";
}

char *ac__buf_take(ac__buf *b) {
    char *s = b->data ? b->data : ac__xstrdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

bool ac__parse_seconds(const char *s, double *out) {
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < 0)
        return false;
    *out = v;
    return true;
}

bool ac__parse_count(const char *s, long *out) {
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v <= 0)
        return false;
    *out = v;
    return true;
}
