/* trace_check.c — a strict JSON reader (a tree of values) and the Trace Event Format checks of
 * trace_check.h on top of it. It owns nothing asyncheck uses; it must stay independent of asyncheck's
 * own trace writer so that it can catch that writer's mistakes. */
#include "trace_check.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON values ---- */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jval {
    jtype type;
    double num;
    bool is_int; /* a number written without fraction or exponent */
    bool b;
    char *str;          /* J_STR */
    struct jval **kids; /* J_ARR items, J_OBJ values */
    char **keys;        /* J_OBJ keys */
    size_t n;
} jval;

typedef struct parser {
    const char *s;
    size_t pos;
    ac__buf *why;
    bool failed;
    int depth;
} parser;

static void jfree(jval *v) {
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        jfree(v->kids[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->kids);
    free(v->keys);
    free(v->str);
    free(v);
}

static void perr(parser *p, const char *what) {
    if (!p->failed)
        ac__buf_printf(p->why, "JSON: %s at byte %zu", what, p->pos);
    p->failed = true;
}

static void skip_ws(parser *p) {
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' || p->s[p->pos] == '\r')
        p->pos++;
}

static jval *new_val(jtype t) {
    jval *v = ac__xcalloc(1, sizeof *v);
    v->type = t;
    return v;
}

static void push(jval *v, char *key, jval *kid) {
    v->kids = ac__xrealloc(v->kids, (v->n + 1) * sizeof *v->kids);
    if (v->type == J_OBJ) {
        v->keys = ac__xrealloc(v->keys, (v->n + 1) * sizeof *v->keys);
        v->keys[v->n] = key;
    }
    v->kids[v->n++] = kid;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void putc_buf(ac__buf *b, char c) {
    ac__buf_append(b, &c, 1);
}

static void put_utf8(ac__buf *b, unsigned long cp) {
    if (cp < 0x80) {
        putc_buf(b, (char)cp);
    } else if (cp < 0x800) {
        putc_buf(b, (char)(0xC0 | (cp >> 6)));
        putc_buf(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        putc_buf(b, (char)(0xE0 | (cp >> 12)));
        putc_buf(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        putc_buf(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        putc_buf(b, (char)(0xF0 | (cp >> 18)));
        putc_buf(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
        putc_buf(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        putc_buf(b, (char)(0x80 | (cp & 0x3F)));
    }
}

static long hex4(parser *p) {
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p->s[p->pos]);
        if (h < 0) {
            perr(p, "a \\u escape without four hex digits");
            return -1;
        }
        v = v * 16 + h;
        p->pos++;
    }
    return v;
}

static char *parse_string(parser *p) {
    ac__buf b = {0};
    p->pos++; /* the opening quote */
    for (;;) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c == 0 || c < 0x20) {
            perr(p, c ? "a control character in a string" : "an unterminated string");
            ac__buf_free(&b);
            return NULL;
        }
        if (c != '\\') {
            putc_buf(&b, (char)c);
            p->pos++;
            continue;
        }
        char e = p->s[++p->pos];
        p->pos++;
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *at = e ? strchr(from, e) : NULL;
        if (at) {
            putc_buf(&b, to[at - from]);
        } else if (e == 'u') {
            long cp = hex4(p);
            if (cp >= 0xD800 && cp < 0xDC00 && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u') {
                p->pos += 2;
                long lo = hex4(p);
                if (lo >= 0xDC00 && lo < 0xE000)
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                else if (lo >= 0)
                    perr(p, "a high surrogate without its low half");
            }
            if (p->failed) {
                ac__buf_free(&b);
                return NULL;
            }
            put_utf8(&b, (unsigned long)cp);
        } else {
            perr(p, "an unknown escape in a string");
            ac__buf_free(&b);
            return NULL;
        }
    }
    return ac__buf_take(&b);
}

static jval *parse_value(parser *p);

static jval *parse_number(parser *p) {
    const char *start = p->s + p->pos;
    const char *c = start;
    bool is_int = true;
    if (*c == '-')
        c++;
    if (*c == '0')
        c++;
    else if (*c >= '1' && *c <= '9')
        while (*c >= '0' && *c <= '9')
            c++;
    else
        goto bad;
    if (*c == '.') {
        is_int = false;
        c++;
        if (!(*c >= '0' && *c <= '9'))
            goto bad;
        while (*c >= '0' && *c <= '9')
            c++;
    }
    if (*c == 'e' || *c == 'E') {
        is_int = false;
        c++;
        if (*c == '+' || *c == '-')
            c++;
        if (!(*c >= '0' && *c <= '9'))
            goto bad;
        while (*c >= '0' && *c <= '9')
            c++;
    }
    jval *v = new_val(J_NUM);
    v->num = strtod(start, NULL);
    v->is_int = is_int;
    p->pos += (size_t)(c - start);
    return v;
bad:
    perr(p, "a malformed number");
    return NULL;
}

static bool literal(parser *p, const char *word) {
    size_t n = strlen(word);
    if (strncmp(p->s + p->pos, word, n) != 0)
        return false;
    p->pos += n;
    return true;
}

static jval *parse_container(parser *p, bool object) {
    jval *v = new_val(object ? J_OBJ : J_ARR);
    char close = object ? '}' : ']';
    p->pos++;
    skip_ws(p);
    if (p->s[p->pos] == close) {
        p->pos++;
        return v;
    }
    for (;;) {
        skip_ws(p);
        char *key = NULL;
        if (object) {
            if (p->s[p->pos] != '"') {
                perr(p, "an object member without a string key");
                break;
            }
            key = parse_string(p);
            if (!key)
                break;
            skip_ws(p);
            if (p->s[p->pos] != ':') {
                free(key);
                perr(p, "a key without ':'");
                break;
            }
            p->pos++;
        }
        jval *kid = parse_value(p);
        if (!kid) {
            free(key);
            break;
        }
        push(v, key, kid);
        skip_ws(p);
        if (p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->s[p->pos] == close) {
            p->pos++;
            return v;
        }
        perr(p, object ? "an object not closed by '}'" : "an array not closed by ']'");
        break;
    }
    jfree(v);
    return NULL;
}

static jval *parse_value(parser *p) {
    skip_ws(p);
    if (++p->depth > 64) {
        perr(p, "nesting deeper than 64");
        return NULL;
    }
    jval *v = NULL;
    char c = p->s[p->pos];
    if (c == '{' || c == '[') {
        v = parse_container(p, c == '{');
    } else if (c == '"') {
        char *s = parse_string(p);
        if (s) {
            v = new_val(J_STR);
            v->str = s;
        }
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        v = parse_number(p);
    } else if (literal(p, "true") || literal(p, "false")) {
        v = new_val(J_BOOL);
        v->b = p->s[p->pos - 1] == 'e' && p->s[p->pos - 2] == 'u';
    } else if (literal(p, "null")) {
        v = new_val(J_NULL);
    } else {
        perr(p, "no JSON value");
    }
    p->depth--;
    return v;
}

static const jval *member(const jval *o, const char *key) {
    if (!o || o->type != J_OBJ)
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0)
            return o->kids[i];
    return NULL;
}

/* ---- the trace ---- */

struct trace_doc {
    jval *root;
    const jval *events; /* the array of events */
};

static const char *str_of(const jval *e, const char *key) {
    const jval *v = member(e, key);
    return v && v->type == J_STR ? v->str : NULL;
}

static bool num_of(const jval *e, const char *key, double *out) {
    const jval *v = member(e, key);
    if (!v || v->type != J_NUM)
        return false;
    *out = v->num;
    return true;
}

static bool violation(ac__buf *why, size_t i, const char *fmt, ...) {
    ac__buf_printf(why, "event %zu: ", i);
    va_list ap;
    va_start(ap, fmt);
    ac__buf_vprintf(why, fmt, ap);
    va_end(ap);
    return false;
}

static bool check_event(const jval *e, size_t i, ac__buf *why) {
    if (e->type != J_OBJ)
        return violation(why, i, "not an object");
    const char *ph = str_of(e, "ph");
    if (!ph || strlen(ph) != 1 || !strchr("BEXiICstfM", ph[0]))
        return violation(why, i, "\"ph\" is %s",
                         ph ? "not one of B E X i I C s t f M" : "missing or not a string");
    if (!str_of(e, "name"))
        return violation(why, i, "\"name\" is missing or not a string");
    const jval *pid = member(e, "pid"), *tid = member(e, "tid");
    if (!pid || pid->type != J_NUM || !pid->is_int || !tid || tid->type != J_NUM || !tid->is_int)
        return violation(why, i, "\"pid\" and \"tid\" must be integers");
    double ts = 0;
    if (ph[0] != 'M' && (!num_of(e, "ts", &ts) || ts < 0 || !isfinite(ts)))
        return violation(why, i, "\"ts\" is missing, not a number or negative");
    const jval *args = member(e, "args");
    if (args && args->type != J_OBJ)
        return violation(why, i, "\"args\" is not an object");
    double dur;
    switch (ph[0]) {
    case 'X':
        if (!num_of(e, "dur", &dur) || dur < 0)
            return violation(why, i, "a complete event (X) needs a number \"dur\" >= 0");
        break;
    case 'C':
        if (!args || args->n == 0)
            return violation(why, i, "a counter (C) needs an \"args\" object of numbers");
        for (size_t k = 0; k < args->n; k++)
            if (args->kids[k]->type != J_NUM)
                return violation(why, i, "counter value \"%s\" is not a number", args->keys[k]);
        break;
    case 'i':
    case 'I': {
        const jval *s = member(e, "s");
        if (s && (s->type != J_STR || strlen(s->str) != 1 || !strchr("gpt", s->str[0])))
            return violation(why, i, "an instant's \"s\" must be \"g\", \"p\" or \"t\"");
        break;
    }
    case 's':
    case 't':
    case 'f': {
        const jval *id = member(e, "id");
        if (!id || (id->type != J_NUM && id->type != J_STR))
            return violation(why, i, "a flow event (%s) needs an \"id\" (number or string)", ph);
        break;
    }
    case 'M': {
        static const char *const names[] = {"process_name", "thread_name", "process_sort_index",
                                            "thread_sort_index", "process_labels"};
        const char *name = str_of(e, "name");
        bool known = false;
        for (size_t k = 0; k < sizeof names / sizeof *names; k++)
            known |= strcmp(name, names[k]) == 0;
        if (!known)
            return violation(why, i, "metadata event (M) named \"%s\" is none the format defines", name);
        if (!args)
            return violation(why, i, "metadata event (M) without \"args\"");
        break;
    }
    default:
        break;
    }
    return true;
}

/* The identity of a flow: its category and id, as one string. */
static void flow_key(const jval *e, ac__buf *b) {
    const char *cat = str_of(e, "cat");
    const jval *id = member(e, "id");
    ac__buf_printf(b, "%s\x1f", cat ? cat : "");
    if (id->type == J_STR)
        ac__buf_printf(b, "s%s", id->str);
    else
        ac__buf_printf(b, "n%.17g", id->num);
}

typedef struct track {
    double pid, tid, last_ts;
    size_t open_b; /* "B" not yet ended */
} track;

typedef struct flow {
    char *key;
    double start_ts;
    bool ended;
} flow;

static bool check_order(const jval *events, ac__buf *why) {
    track *tracks = NULL;
    size_t ntracks = 0;
    flow *flows = NULL;
    size_t nflows = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < events->n; i++) {
        const jval *e = events->kids[i];
        char ph = str_of(e, "ph")[0];
        if (ph == 'M')
            continue;
        double pid = member(e, "pid")->num, tid = member(e, "tid")->num, ts = member(e, "ts")->num;
        track *t = NULL;
        for (size_t k = 0; k < ntracks; k++)
            if (tracks[k].pid == pid && tracks[k].tid == tid)
                t = &tracks[k];
        if (!t) {
            tracks = ac__xrealloc(tracks, (ntracks + 1) * sizeof *tracks);
            t = &tracks[ntracks++];
            *t = (track){pid, tid, ts, 0};
        }
        if (ts < t->last_ts) {
            ok = violation(why, i, "ts %.3f comes after ts %.3f on the same track (pid %.0f, tid %.0f)", ts,
                           t->last_ts, pid, tid);
            break;
        }
        t->last_ts = ts;
        if (ph == 'B')
            t->open_b++;
        if (ph == 'E' && t->open_b-- == 0) {
            ok = violation(why, i, "an end (E) without a begin (B) on its track");
            break;
        }
        if (ph == 's' || ph == 't' || ph == 'f') {
            ac__buf key = {0};
            flow_key(e, &key);
            flow *fl = NULL;
            for (size_t k = 0; k < nflows; k++)
                if (strcmp(flows[k].key, ac__buf_str(&key)) == 0)
                    fl = &flows[k];
            if (ph == 's') {
                if (fl && !fl->ended)
                    ok = violation(why, i, "a flow start (s) whose id is already open");
                flows = ac__xrealloc(flows, (nflows + 1) * sizeof *flows);
                flows[nflows++] = (flow){ac__xstrdup(ac__buf_str(&key)), ts, false};
            } else if (!fl || fl->ended) {
                ok = violation(why, i, "a flow %s (%c) without an open start (s) of its cat and id",
                               ph == 'f' ? "end" : "step", ph);
            } else if (ts < fl->start_ts) {
                ok = violation(why, i, "a flow %c at ts %.3f before its start at %.3f", ph, ts, fl->start_ts);
            } else if (ph == 'f') {
                fl->ended = true;
            }
            ac__buf_free(&key);
        }
    }
    for (size_t k = 0; ok && k < ntracks; k++)
        if (tracks[k].open_b)
            ok = violation(why, events->n, "%zu begin (B) event(s) never ended on track (pid %.0f, tid %.0f)",
                           tracks[k].open_b, tracks[k].pid, tracks[k].tid);
    for (size_t k = 0; k < nflows; k++) {
        if (ok && !flows[k].ended)
            ok = violation(why, events->n, "a flow started (s) at ts %.3f is never ended (f)",
                           flows[k].start_ts);
        free(flows[k].key);
    }
    free(flows);
    free(tracks);
    return ok;
}

trace_doc *trace_parse(const char *text, ac__buf *why) {
    parser p = {.s = text, .why = why};
    jval *root = parse_value(&p);
    if (root && !p.failed) {
        skip_ws(&p);
        if (p.s[p.pos])
            perr(&p, "text after the JSON value");
    }
    if (!root || p.failed) {
        jfree(root);
        return NULL;
    }
    const jval *events = root->type == J_ARR ? root : member(root, "traceEvents");
    if (!events || events->type != J_ARR) {
        ac__buf_puts(why, "neither an array of events nor an object with a \"traceEvents\" array");
        jfree(root);
        return NULL;
    }
    for (size_t i = 0; i < events->n; i++)
        if (!check_event(events->kids[i], i, why)) {
            jfree(root);
            return NULL;
        }
    if (!check_order(events, why)) {
        jfree(root);
        return NULL;
    }
    trace_doc *d = ac__xcalloc(1, sizeof *d);
    d->root = root;
    d->events = events;
    return d;
}

void trace_free(trace_doc *d) {
    if (!d)
        return;
    jfree(d->root);
    free(d);
}

static bool matches(const jval *e, const char *ph, const char *name_part) {
    return (!ph || strcmp(str_of(e, "ph"), ph) == 0) && (!name_part || strstr(str_of(e, "name"), name_part));
}

size_t trace_count(const trace_doc *d, const char *ph, const char *name_part) {
    size_t n = 0;
    for (size_t i = 0; i < d->events->n; i++)
        n += matches(d->events->kids[i], ph, name_part);
    return n;
}

long trace_index(const trace_doc *d, const char *ph, const char *name_part) {
    for (size_t i = 0; i < d->events->n; i++)
        if (matches(d->events->kids[i], ph, name_part))
            return (long)i;
    return -1;
}

double trace_ts(const trace_doc *d, const char *ph, const char *name_part) {
    long i = trace_index(d, ph, name_part);
    double ts;
    if (i < 0 || !num_of(d->events->kids[i], "ts", &ts))
        return -1;
    return ts;
}

const char *trace_meta(const trace_doc *d, const char *key) {
    const char *v = str_of(member(d->root, "otherData"), key);
    return v ? v : str_of(member(d->root, "metadata"), key);
}
