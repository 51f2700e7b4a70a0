/* result_wire.c — one run's result as bytes and back: what a lane (lane.c) sends the runner when a test
 * it supervised has ended. It carries what a run's supervisor learns (the test's records as applied, its
 * captured output, how it ended as failures, its duration, or that it never started); the runner adds the
 * rest itself (the timeline, from the slot's ring; the seed; the exploration; the outcome). The bytes never
 * leave one run of one executable: lane and runner are the same program, forked. */
#include "runner.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT64_MAX /* a NULL string */

static void put_u64(ac__buf *b, uint64_t v) {
    ac__buf_append(b, &v, sizeof v);
}

static void put_f64(ac__buf *b, double v) {
    ac__buf_append(b, &v, sizeof v);
}

static void put_bytes(ac__buf *b, const char *p, size_t n) {
    put_u64(b, n);
    ac__buf_append(b, p, n);
}

static void put_str(ac__buf *b, const char *s) {
    if (!s)
        put_u64(b, NONE);
    else
        put_bytes(b, s, strlen(s));
}

static void put_capture(ac__buf *b, const ac__capture *c) {
    put_bytes(b, c->text.data, c->text.len);
    put_bytes(b, c->tail.data, c->tail.len);
    put_u64(b, c->dropped);
}

void ac__result_wire_encode(ac__buf *b, const ac__result *r) {
    put_str(b, r->phase);
    put_u64(b, r->finished);
    put_f64(b, r->duration);
    put_str(b, r->skip_reason);
    put_u64(b, r->nfailures);
    for (size_t i = 0; i < r->nfailures; i++) {
        const ac__failure *f = &r->failures[i];
        put_u64(b, (uint64_t)f->kind);
        put_u64(b, f->fatal);
        put_str(b, f->file);
        put_u64(b, (uint64_t)(int64_t)f->line);
        put_str(b, f->message);
        put_str(b, f->got);
        put_str(b, f->expected);
        put_str(b, f->phase);
    }
    put_u64(b, r->failures_omitted);
    put_capture(b, &r->out);
    put_capture(b, &r->err);
    put_bytes(b, r->notes.data, r->notes.len);
    put_u64(b, r->sched_steps);
    put_u64(b, (uint64_t)r->cancel_reached | (uint64_t)r->cancel_late << 1 | (uint64_t)r->fault_known << 2 |
                   (uint64_t)r->not_run << 3);
    put_u64(b, (uint64_t)(int64_t)r->fault_calls);
    put_str(b, r->trace);
    put_u64(b, r->nprops);
    for (size_t i = 0; i < r->nprops; i++) {
        const ac__prop_obs *p = &r->props[i];
        put_u64(b, (uint64_t)(int64_t)p->kind);
        put_str(b, p->file);
        put_u64(b, (uint64_t)(int64_t)p->line);
        put_str(b, p->message);
        put_str(b, p->cond);
        put_u64(b, (uint64_t)(int64_t)p->evaluated);
        put_u64(b, (uint64_t)(int64_t)p->hit);
    }
}

/* ---- decoding: every read is bounds-checked; a short or inconsistent message fails the decode ---- */

typedef struct reader {
    const unsigned char *p, *end;
    bool bad;
} reader;

static uint64_t get_u64(reader *rd) {
    uint64_t v = 0;
    if ((size_t)(rd->end - rd->p) < sizeof v) {
        rd->bad = true;
        return 0;
    }
    memcpy(&v, rd->p, sizeof v);
    rd->p += sizeof v;
    return v;
}

static double get_f64(reader *rd) {
    uint64_t bits = get_u64(rd);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* The next byte string, in place (NULL for NONE or when malformed). */
static const char *get_bytes(reader *rd, size_t *n) {
    uint64_t len = get_u64(rd);
    *n = 0;
    if (rd->bad || len == NONE)
        return NULL;
    if (len > (uint64_t)(rd->end - rd->p)) {
        rd->bad = true;
        return NULL;
    }
    const char *s = (const char *)rd->p;
    rd->p += len;
    *n = (size_t)len;
    return s;
}

static char *get_str(reader *rd) {
    size_t n;
    const char *s = get_bytes(rd, &n);
    if (!s)
        return NULL;
    char *out = ac__xmalloc(n + 1);
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

/* A count of items each at least `least` bytes long, not more than the message can hold. */
static size_t get_count(reader *rd, size_t least) {
    uint64_t n = get_u64(rd);
    if (rd->bad || n > (uint64_t)(rd->end - rd->p) / least) {
        rd->bad = true;
        return 0;
    }
    return (size_t)n;
}

static void get_buf(reader *rd, ac__buf *into) {
    size_t n;
    const char *s = get_bytes(rd, &n);
    if (s && n)
        ac__buf_append(into, s, n);
}

static void get_capture(reader *rd, ac__capture *c) {
    get_buf(rd, &c->text);
    get_buf(rd, &c->tail);
    c->dropped = (size_t)get_u64(rd);
}

int ac__result_wire_decode(const void *data, size_t len, ac__result *r) {
    reader rd = {data, (const unsigned char *)data + len, false};
    char *phase = get_str(&rd);
    r->phase = phase ? ac__phase_name(phase) : NULL;
    free(phase);
    r->finished = get_u64(&rd) != 0;
    r->duration = get_f64(&rd);
    free(r->skip_reason);
    r->skip_reason = get_str(&rd);
    size_t nfailures = get_count(&rd, 8 * sizeof(uint64_t));
    for (size_t i = 0; i < nfailures && !rd.bad; i++) {
        uint64_t kind = get_u64(&rd);
        bool fatal = get_u64(&rd) != 0;
        char *file = get_str(&rd);
        int line = (int)(int64_t)get_u64(&rd);
        char *message = get_str(&rd), *got = get_str(&rd), *expected = get_str(&rd), *fphase = get_str(&rd);
        if (!rd.bad) {
            ac__result_add_failure(r, (ac__failure_kind)kind, fatal, file, line, message, got, expected);
            r->failures[r->nfailures - 1].phase = fphase ? ac__phase_name(fphase) : NULL;
        }
        free(file), free(message), free(got), free(expected), free(fphase);
    }
    r->failures_omitted = (size_t)get_u64(&rd);
    get_capture(&rd, &r->out);
    get_capture(&rd, &r->err);
    get_buf(&rd, &r->notes);
    r->sched_steps = (unsigned long)get_u64(&rd);
    uint64_t flags = get_u64(&rd);
    r->cancel_reached = flags & 1;
    r->cancel_late = (flags >> 1) & 1;
    r->fault_known = (flags >> 2) & 1;
    r->not_run = (flags >> 3) & 1;
    r->fault_calls = (long)(int64_t)get_u64(&rd);
    free(r->trace);
    r->trace = get_str(&rd);
    size_t nprops = get_count(&rd, 7 * sizeof(uint64_t));
    if (nprops && !rd.bad) {
        r->props = ac__xrealloc(r->props, (r->nprops + nprops) * sizeof *r->props);
        for (size_t i = 0; i < nprops && !rd.bad; i++) {
            ac__prop_obs *p = &r->props[r->nprops];
            p->kind = (int)(int64_t)get_u64(&rd);
            p->file = get_str(&rd);
            p->line = (int)(int64_t)get_u64(&rd);
            p->message = get_str(&rd);
            p->cond = get_str(&rd);
            p->evaluated = (long)(int64_t)get_u64(&rd);
            p->hit = (long)(int64_t)get_u64(&rd);
            r->nprops++;
        }
    }
    return rd.bad || rd.p != rd.end ? -1 : 0;
}
