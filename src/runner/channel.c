/* channel.c — encoding and decoding the records a test sends to the runner, and applying them to a
 * result. The byte format is private to one executable (runner and test are the same binary). */
#include "runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ac__record_encode(ac__buf *out, int type, const char *const *fields, size_t n) {
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(fields[i] ? fields[i] : "") + 1;
    unsigned char hdr[5] = {(unsigned char)(len & 0xFF), (unsigned char)((len >> 8) & 0xFF),
                            (unsigned char)((len >> 16) & 0xFF), (unsigned char)((len >> 24) & 0xFF),
                            (unsigned char)type};
    ac__buf_append(out, hdr, sizeof hdr);
    for (size_t i = 0; i < n; i++) {
        const char *f = fields[i] ? fields[i] : "";
        ac__buf_append(out, f, strlen(f) + 1);
    }
}

static const char *opt(const char *s) {
    return s && *s ? s : NULL;
}

/* A record the harness never writes (forged, or cut short): the test fails saying so, and the record
 * is dropped. */
static void malformed(ac__result *r, int type, const char *what) {
    ac__buf msg = {0};
    if (type >= 0x21 && type <= 0x7e)
        ac__buf_printf(&msg, "malformed record from the test process (type '%c'): %s; the record was ignored",
                       type, what);
    else
        ac__buf_printf(&msg,
                       "malformed record from the test process (type 0x%02x): %s; the record was ignored",
                       type & 0xFF, what);
    ac__result_add_failure(r, AC_FK_HARNESS, false, NULL, 0, ac__buf_str(&msg), NULL, NULL);
    ac__buf_free(&msg);
}

/* The fields each record type needs at least. */
static size_t fields_needed(int type) {
    switch (type) {
    case AC_REC_FAILURE:
    case AC_REC_PROPERTY:
        return 7;
    case AC_REC_SCHED:
        return 2;
    case AC_REC_NOTE:
        return 3;
    case AC_REC_SKIP:
    case AC_REC_PHASE:
    case AC_REC_FAULT:
    case AC_REC_TRACE:
        return 1;
    default:
        return 0;
    }
}

void ac__record_apply(ac__result *r, int type, const char *const *f, size_t n) {
    static const char known[] = {AC_REC_FAILURE, AC_REC_SKIP,     AC_REC_PHASE, AC_REC_DONE, AC_REC_SCHED,
                                 AC_REC_TRACE,   AC_REC_PROPERTY, AC_REC_NOTE,  AC_REC_FAULT};
    if (type == 0 || !memchr(known, type, sizeof known)) {
        malformed(r, type, "not a record type asyncheck writes");
        return;
    }
    if (n < fields_needed(type)) {
        char what[64];
        snprintf(what, sizeof what, "%zu field%s where it needs %zu", n, n == 1 ? "" : "s",
                 fields_needed(type));
        malformed(r, type, what);
        return;
    }
    switch (type) {
    case AC_REC_FAILURE: {
        char *end;
        long kind = strtol(f[0], &end, 10);
        if (end == f[0] || *end || kind < AC_FK_ASSERTION || kind > AC_FK_SANITIZER) {
            char what[96];
            snprintf(what, sizeof what, "failure kind '%.24s' is not one asyncheck knows", f[0]);
            for (char *c = what; *c; c++)
                if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
                    *c = '?';
            malformed(r, type, what);
            return;
        }
        ac__result_add_test_failure(r, (ac__failure_kind)kind, f[1][0] == '1', opt(f[2]), atoi(f[3]), f[4],
                                    opt(f[5]), opt(f[6]));
        break;
    }
    case AC_REC_SKIP:
        if (!r->skip_reason)
            r->skip_reason = ac__xstrdup(f[0]);
        break;
    case AC_REC_PHASE:
        r->phase = ac__phase_name(f[0]);
        break;
    case AC_REC_DONE:
        r->finished = true;
        break;
    case AC_REC_SCHED:
        if (n >= 2) {
            r->sched_steps = strtoul(f[0], NULL, 10);
            r->cancel_reached = f[1][0] == '1';
            r->cancel_late = f[1][0] == '2';
        }
        break;
    case AC_REC_FAULT:
        r->fault_calls = strtol(f[0], NULL, 10);
        r->fault_known = true;
        break;
    case AC_REC_TRACE:
        if (n >= 1) {
            free(r->trace);
            r->trace = ac__xstrdup(f[0]);
        }
        break;
    case AC_REC_NOTE:
        if (n >= 3) {
            if (f[0][0])
                ac__buf_printf(&r->notes, "%s:%d: ", f[0], atoi(f[1]));
            ac__buf_printf(&r->notes, "%s\n", f[2]);
        }
        break;
    case AC_REC_PROPERTY:
        if (n >= 7) {
            r->props = ac__xrealloc(r->props, (r->nprops + 1) * sizeof *r->props);
            r->props[r->nprops++] = (ac__prop_obs){atoi(f[0]),
                                                   ac__xstrdup(f[1]),
                                                   atoi(f[2]),
                                                   ac__xstrdup(f[3]),
                                                   f[4][0] ? ac__xstrdup(f[4]) : NULL,
                                                   atol(f[5]),
                                                   atol(f[6])};
        }
        break;
    }
}

int ac__records_consume(ac__buf *in, ac__result *r) {
    size_t pos = 0;
    while (in->len - pos >= 5) {
        const unsigned char *p = (const unsigned char *)in->data + pos;
        size_t len = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
        if (len == 0 || len > (64u << 20))
            return -1;
        if (in->len - pos - 4 < len)
            break;
        int type = p[4];
        const char *fields[AC_REC_MAX_FIELDS];
        size_t n = 0;
        const char *s = (const char *)p + 5, *end = (const char *)p + 4 + len;
        while (s < end && n < AC_REC_MAX_FIELDS) {
            const char *z = memchr(s, '\0', (size_t)(end - s));
            if (!z)
                return -1;
            fields[n++] = s;
            s = z + 1;
        }
        ac__record_apply(r, type, fields, n);
        pos += 4 + len;
    }
    memmove(in->data, in->data + pos, in->len - pos);
    in->len -= pos;
    if (in->data)
        in->data[in->len] = '\0';
    return 0;
}
