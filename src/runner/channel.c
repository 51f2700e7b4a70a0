/* channel.c — encoding and decoding the records a test sends to the runner, and applying them to a
 * result. The byte format is private to one executable (runner and test are the same binary). */
#include "runner.h"

#include <stdlib.h>
#include <string.h>

void ac__record_encode(ac_buf *out, int type, const char *const *fields, size_t n) {
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

void ac__record_apply(ac_result *r, int type, const char *const *f, size_t n) {
    switch (type) {
    case AC_REC_FAILURE:
        if (n >= 7)
            ac__result_add_test_failure(r, (ac_failure_kind)atoi(f[0]), f[1][0] == '1', opt(f[2]), atoi(f[3]),
                                        f[4], opt(f[5]), opt(f[6]));
        break;
    case AC_REC_SKIP:
        if (n >= 1 && !r->skip_reason)
            r->skip_reason = ac__xstrdup(f[0]);
        break;
    case AC_REC_PHASE:
        if (n >= 1)
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
            r->props[r->nprops++] = (ac_prop_obs){atoi(f[0]),
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

int ac__records_consume(ac_buf *in, ac_result *r) {
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
