/* mock.c — mocks at run time: a libffi closure per mock whose one generic handler records the call
 * (arguments copied, strings included), finds the expectation it meets, produces the return value and
 * errno, and schedules completions that call the call's own callback arguments through libffi on the
 * test's loop. At the end of the test it reports unmet expectations and held completions and frees
 * everything. It never formats report text of its own: failures go through ac__report_failure.
 *
 * Threads. A mock may be called from any thread, so the world's lock guards what a call adds to: each
 * mock's calls and pendings, the world's log and incoming list, the expectations' counts. The test's
 * thread takes it too to read them while other threads may call (and completions are counted
 * atomically: an ac_deliver_inside_call completion runs on the calling thread). Matchers' predicates
 * (ac_that) run under the lock and must not call the locking accessors. */
#include "mock.h"

#include <dlfcn.h>
#include <errno.h>
#include <ev.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../assert/values.h"
#include "../ffi/proto.h"
#include "../race/race.h"
#include "../context/context.h"
#include "asyncheck/replace.h"

enum { W_AFTER, W_NEXT, W_MANUAL, W_NEVER, W_TWICE, W_INSIDE };
enum { M_ANY, M_EQ, M_STR, M_PTR, M_RANGE, M_THAT };

typedef struct mock_arg {
    ac_tkind kind;
    union {
        long long i;
        unsigned long long u;
        double d;
        void *p;
    } v;
    char *str; /* string parameters: the copy made at call time */
} mock_arg;

struct ac_mock_call {
    ac_mock *mock;
    size_t index;
    char *text;      /* made on demand */
    mock_arg args[]; /* one allocation per call, with its arguments */
};

typedef struct rule {
    ac_completion_spec spec;
    char *text;
    size_t cb; /* index of the callback parameter */
    ac_when when;
    struct rule *next;
} rule;

typedef struct pending {
    ac_mock *m;
    size_t call;
    rule *r;
    ev_timer timer;
    int remaining; /* deliveries still to make */
    double delay;  /* the latency the rule gave this call (drawn, for ac_deliver_within) */
    bool held;
    struct pending *next;
    struct pending *next_incoming; /* handed over from another thread */
} pending;

struct ac_expectation {
    ac_mock *m;
    ac_matcher *matchers;
    size_t n;
    bool any_args;
    size_t min, max, count;
    ac_expectation *after;
    const char *file;
    int line;
    ac_expectation *next;
};

typedef struct world world;

struct ac_mock {
    world *w;
    ac_proto *proto;
    const char *file;
    int line;
    ffi_closure *closure;
    void *fn;
    bool has_return;
    ac__value ret_value;
    unsigned char *seq;
    size_t seq_n;
    int err;
    ac_mock_effect effect;
    void *effect_ud;
    rule *rules;
    ac_mock_call **calls;
    size_t ncalls, calls_cap;
    size_t completions;
    ac_expectation *expectations, **expectations_tail;
    pending *pendings;
    ac_mock *next;
};

/* Call records live until the test ends: they come from a bump arena, freed as a whole. */
typedef struct arena_block {
    struct arena_block *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
} arena_block;

/* Everything the mocks of one test share. */
struct world {
    arena_block *arena;
    ac_test *t;
    ac_mock *mocks;
    ac_mock_call **log;
    size_t nlog, log_cap;
    pthread_mutex_t lock;
    pthread_t loop_thread;
    ev_async incoming_async;
    pending *incoming;
};

static world *current_world;

static void *arena_alloc(world *w, size_t size) {
    size = (size + 15) & ~(size_t)15;
    arena_block *b = w->arena;
    if (!b || b->size - b->used < size) {
        size_t cap = size > 60000 ? size : 60000;
        b = ac__xmalloc(sizeof *b + cap);
        b->next = w->arena;
        b->used = 0;
        b->size = cap;
        w->arena = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    return p;
}

/* ---- failing ---- */

static void fail(bool fatal, const char *file, int line, const char *message, const char *got,
                 const char *expected) {
    ac__report_failure(AC_FK_ASSERTION, fatal, file, line, message, got, expected);
}

static _Noreturn void fail_fatal_buf(const char *file, int line, ac_buf *msg) {
    ac__report_failure_buf(AC_FK_ASSERTION, true, file, line, msg, NULL, NULL);
    abort(); /* not reached */
}

/* ---- values ---- */

static ac__value arg_value(const mock_arg *a) {
    switch (a->kind) {
    case AC_TK_BOOL:
        return ac__v_bool(a->v.u != 0);
    case AC_TK_FLOAT:
    case AC_TK_DOUBLE:
        return ac__v_double(a->v.d);
    case AC_TK_PTR:
    case AC_TK_STR:
    case AC_TK_FNPTR:
        return ac__v_ptr(a->v.p);
    default:
        return ac__tkind_signed(a->kind) ? ac__v_int(a->v.i) : ac__v_uint(a->v.u);
    }
}

/* Reads one argument of kind k from where libffi put it. */
static mock_arg read_arg(ac_tkind k, const void *src) {
    mock_arg a = {.kind = k};
    switch (k) {
    case AC_TK_BOOL:
        a.v.u = *(const _Bool *)src;
        break;
    case AC_TK_CHAR:
        a.v.i = *(const char *)src;
        break;
    case AC_TK_SCHAR:
        a.v.i = *(const signed char *)src;
        break;
    case AC_TK_UCHAR:
        a.v.u = *(const unsigned char *)src;
        break;
    case AC_TK_SHORT:
        a.v.i = *(const short *)src;
        break;
    case AC_TK_USHORT:
        a.v.u = *(const unsigned short *)src;
        break;
    case AC_TK_INT:
        a.v.i = *(const int *)src;
        break;
    case AC_TK_UINT:
        a.v.u = *(const unsigned *)src;
        break;
    case AC_TK_LONG:
        a.v.i = *(const long *)src;
        break;
    case AC_TK_ULONG:
        a.v.u = *(const unsigned long *)src;
        break;
    case AC_TK_LLONG:
        a.v.i = *(const long long *)src;
        break;
    case AC_TK_ULLONG:
        a.v.u = *(const unsigned long long *)src;
        break;
    case AC_TK_FLOAT:
        a.v.d = *(const float *)src;
        break;
    case AC_TK_DOUBLE:
        a.v.d = *(const double *)src;
        break;
    case AC_TK_STR:
        a.v.p = *(void *const *)src;
        a.str = a.v.p ? ac__xstrdup(a.v.p) : NULL;
        break;
    default:
        a.v.p = *(void *const *)src;
        break;
    }
    return a;
}

/* Storage for one value of any supported kind, as C would hold it. */
typedef union slot {
    _Bool b;
    char c;
    signed char sc;
    unsigned char uc;
    short s;
    unsigned short us;
    int i;
    unsigned ui;
    long l;
    unsigned long ul;
    long long ll;
    unsigned long long ull;
    float f;
    double d;
    void *p;
    ffi_arg widened;
} slot;

/* Stores an integer, floating or pointer value as kind k. */
static void store(slot *out, ac_tkind k, long long i, unsigned long long u, bool is_unsigned, double d,
                  bool is_double, void *p) {
    long long si = is_double ? (long long)d : is_unsigned ? (long long)u : i;
    switch (k) {
    case AC_TK_BOOL:
        out->b = is_double ? d != 0 : si != 0;
        break;
    case AC_TK_CHAR:
        out->c = (char)si;
        break;
    case AC_TK_SCHAR:
        out->sc = (signed char)si;
        break;
    case AC_TK_UCHAR:
        out->uc = (unsigned char)si;
        break;
    case AC_TK_SHORT:
        out->s = (short)si;
        break;
    case AC_TK_USHORT:
        out->us = (unsigned short)si;
        break;
    case AC_TK_INT:
        out->i = (int)si;
        break;
    case AC_TK_UINT:
        out->ui = (unsigned)si;
        break;
    case AC_TK_LONG:
        out->l = (long)si;
        break;
    case AC_TK_ULONG:
        out->ul = is_unsigned ? (unsigned long)u : (unsigned long)si;
        break;
    case AC_TK_LLONG:
        out->ll = si;
        break;
    case AC_TK_ULLONG:
        out->ull = is_unsigned ? u : (unsigned long long)si;
        break;
    case AC_TK_FLOAT:
        out->f = (float)(is_double ? d : is_unsigned ? (double)u : (double)i);
        break;
    case AC_TK_DOUBLE:
        out->d = is_double ? d : is_unsigned ? (double)u : (double)i;
        break;
    case AC_TK_VOID:
        break;
    default:
        out->p = p;
        break;
    }
}

static void store_value(slot *out, ac_tkind k, ac__value v) {
    switch (v.kind) {
    case AC__V_DOUBLE:
        store(out, k, 0, 0, false, v.as.d, true, NULL);
        break;
    case AC__V_PTR:
        store(out, k, (long long)(uintptr_t)v.as.p, 0, false, 0, false, (void *)v.as.p);
        break;
    case AC__V_UINT:
    case AC__V_BOOL:
        store(out, k, 0, v.as.u, true, 0, false, (void *)(uintptr_t)v.as.u);
        break;
    default:
        store(out, k, v.as.i, 0, false, 0, false, (void *)(intptr_t)v.as.i);
        break;
    }
}

/* libffi wants integral return values narrower than ffi_arg widened to it. */
static void write_return(void *ret, ac_tkind k, const slot *s) {
    switch (k) {
    case AC_TK_VOID:
        break;
    case AC_TK_BOOL:
        *(ffi_arg *)ret = s->b;
        break;
    case AC_TK_CHAR:
        *(ffi_sarg *)ret = s->c;
        break;
    case AC_TK_SCHAR:
        *(ffi_sarg *)ret = s->sc;
        break;
    case AC_TK_UCHAR:
        *(ffi_arg *)ret = s->uc;
        break;
    case AC_TK_SHORT:
        *(ffi_sarg *)ret = s->s;
        break;
    case AC_TK_USHORT:
        *(ffi_arg *)ret = s->us;
        break;
    case AC_TK_INT:
        *(ffi_sarg *)ret = s->i;
        break;
    case AC_TK_UINT:
        *(ffi_arg *)ret = s->ui;
        break;
    case AC_TK_LONG:
        *(long *)ret = s->l;
        break;
    case AC_TK_ULONG:
        *(unsigned long *)ret = s->ul;
        break;
    case AC_TK_LLONG:
        *(long long *)ret = s->ll;
        break;
    case AC_TK_ULLONG:
        *(unsigned long long *)ret = s->ull;
        break;
    case AC_TK_FLOAT:
        *(float *)ret = s->f;
        break;
    case AC_TK_DOUBLE:
        *(double *)ret = s->d;
        break;
    default:
        *(void **)ret = s->p;
        break;
    }
}

/* ---- text ---- */

static void print_arg(ac_buf *b, const mock_arg *a) {
    if (a->kind == AC_TK_STR) {
        if (a->str)
            ac__escape_c(b, a->str, strlen(a->str));
        else
            ac__buf_puts(b, "NULL");
        return;
    }
    if (a->kind == AC_TK_FNPTR && a->v.p) {
        Dl_info info;
        if (dladdr(a->v.p, &info) && info.dli_sname && info.dli_saddr == a->v.p) {
            ac__buf_puts(b, info.dli_sname);
            return;
        }
    }
    ac__value_print(b, arg_value(a));
}

const char *ac_mock_call_text(const ac_mock_call *c) {
    ac_mock_call *mc = (ac_mock_call *)c;
    if (!mc->text) {
        ac_buf b = {0};
        const ac_proto *p = c->mock->proto;
        ac__buf_printf(&b, "%s(", p->name);
        for (size_t i = 0; i < p->n; i++) {
            if (i)
                ac__buf_puts(&b, ", ");
            print_arg(&b, &c->args[i]);
        }
        ac__buf_puts(&b, ")");
        mc->text = ac__buf_take(&b);
    }
    return mc->text;
}

static void print_matcher(ac_buf *b, const ac_matcher *m) {
    switch (m->kind) {
    case M_ANY:
        ac__buf_puts(b, "any");
        break;
    case M_EQ:
        ac__value_print(b, m->value);
        break;
    case M_STR:
        if (m->str)
            ac__escape_c(b, m->str, strlen(m->str));
        else
            ac__buf_puts(b, "NULL");
        break;
    case M_PTR:
        ac__value_print(b, m->value);
        break;
    case M_RANGE:
        ac__value_print(b, m->value);
        ac__buf_puts(b, "..");
        ac__value_print(b, m->high);
        break;
    default:
        ac__buf_puts(b, m->description ? m->description : "(custom matcher)");
    }
}

static void print_expectation(ac_buf *b, const ac_expectation *e) {
    ac__buf_printf(b, "%s(", e->m->proto->name);
    if (e->any_args)
        ac__buf_puts(b, "...");
    for (size_t i = 0; i < e->n; i++) {
        if (i)
            ac__buf_puts(b, ", ");
        print_matcher(b, &e->matchers[i]);
    }
    ac__buf_puts(b, ")");
    if (e->max == 0)
        ac__buf_puts(b, " never");
    else if (e->min == e->max)
        ac__buf_printf(b, " %zu time%s", e->min, e->min == 1 ? "" : "s");
    else if (e->max == SIZE_MAX)
        ac__buf_printf(b, " at least %zu time%s", e->min, e->min == 1 ? "" : "s");
    else
        ac__buf_printf(b, " %zu to %zu times", e->min, e->max);
    ac__buf_printf(b, " (matched %zu)", e->count);
}

static void print_calls(ac_buf *b, const ac_mock *m) {
    pthread_mutex_lock(&m->w->lock);
    if (m->ncalls == 0)
        ac__buf_printf(b, "no calls of %s", m->proto->name);
    for (size_t i = 0; i < m->ncalls; i++)
        ac__buf_printf(b, "%s#%zu %s", i ? "; " : "", i, ac_mock_call_text(m->calls[i]));
    pthread_mutex_unlock(&m->w->lock);
}

/* ---- matching ---- */

static bool matches(const ac_matcher *mt, const ac_mock_call *c, size_t i) {
    const mock_arg *a = &c->args[i];
    switch (mt->kind) {
    case M_ANY:
        return true;
    case M_EQ:
        return ac__value_compare(arg_value(a), mt->value) == 0;
    case M_STR:
        if (a->kind != AC_TK_STR)
            return a->v.p && mt->str && strcmp(a->v.p, mt->str) == 0;
        return (a->str == NULL || mt->str == NULL) ? a->str == mt->str : strcmp(a->str, mt->str) == 0;
    case M_PTR:
        return a->v.p == mt->value.as.p;
    case M_RANGE: {
        int lo = ac__value_compare(arg_value(a), mt->value), hi = ac__value_compare(arg_value(a), mt->high);
        return (lo == 0 || lo == 1) && (hi == 0 || hi == -1);
    }
    default:
        return mt->pred(c, i, mt->ud);
    }
}

static bool matches_all(const ac_matcher *mts, size_t n, const ac_mock_call *c) {
    for (size_t i = 0; i < n; i++)
        if (!matches(&mts[i], c, i))
            return false;
    return true;
}

ac_matcher ac_any(void) {
    return (ac_matcher){.kind = M_ANY};
}
ac_matcher ac__match_eq(ac__value v) {
    return (ac_matcher){.kind = M_EQ, .value = v};
}
ac_matcher ac_str(const char *s) {
    return (ac_matcher){.kind = M_STR, .str = s};
}
ac_matcher ac_ptr(const void *p) {
    return (ac_matcher){.kind = M_PTR, .value = ac__v_ptr(p)};
}
ac_matcher ac__match_range(ac__value lo, ac__value hi) {
    return (ac_matcher){.kind = M_RANGE, .value = lo, .high = hi};
}
ac_matcher ac_that(bool (*pred)(const ac_mock_call *, size_t, void *), void *ud, const char *description) {
    return (ac_matcher){.kind = M_THAT, .pred = pred, .ud = ud, .description = description};
}

/* ---- completions ---- */

static void deliver(pending *pd) {
    ac_mock *m = pd->m;
    pthread_mutex_lock(&m->w->lock); /* another thread's call may be growing m->calls */
    const ac_mock_call *c = m->calls[pd->call];
    pthread_mutex_unlock(&m->w->lock);
    const rule *r = pd->r;
    void *fnptr = c->args[r->cb].v.p;
    if (!fnptr) {
        ac_buf msg = {0};
        ac__buf_printf(&msg, "%s: cannot complete call #%zu with %s: its callback %s is NULL", m->proto->name,
                       pd->call, r->text, m->proto->names[r->cb] ? m->proto->names[r->cb] : "argument");
        fail(false, m->file, m->line, ac__buf_str(&msg), ac_mock_call_text(c), NULL);
        ac__buf_free(&msg);
        return;
    }
    const ac_proto *cbp = m->proto->params[r->cb].fn;
    slot values[16], ret;
    void *argp[16];
    for (size_t i = 0; i < cbp->n && i < 16; i++) {
        const ac_lit *l = &r->spec.args[i];
        ac_tkind k = cbp->params[i].kind;
        memset(&values[i], 0, sizeof values[i]);
        switch (l->kind) {
        case AC_LIT_INT:
            store(&values[i], k, l->i, 0, false, 0, false, NULL);
            break;
        case AC_LIT_DOUBLE:
            store(&values[i], k, 0, 0, false, l->d, true, NULL);
            break;
        case AC_LIT_STR:
            values[i].p = l->s;
            break;
        case AC_LIT_NULL:
            values[i].p = NULL;
            break;
        case AC_LIT_REF: {
            const mock_arg *a = &c->args[l->index];
            if (a->kind == AC_TK_STR)
                values[i].p = a->str;
            else
                store_value(&values[i], k, arg_value(a));
            break;
        }
        }
        argp[i] = &values[i];
    }
    __atomic_fetch_add(&m->completions, 1, __ATOMIC_RELAXED);
    ffi_call((ffi_cif *)&cbp->cif, FFI_FN(fnptr), &ret, argp);
}

static void unlink_pending(pending *pd) {
    pthread_mutex_lock(&pd->m->w->lock); /* other threads' calls add pendings */
    for (pending **pp = &pd->m->pendings; *pp; pp = &(*pp)->next)
        if (*pp == pd) {
            *pp = pd->next;
            break;
        }
    pthread_mutex_unlock(&pd->m->w->lock);
}

static void pending_timer_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)revents;
    pending *pd = w->data;
    if (--pd->remaining > 0) { /* ac_deliver_twice: once more, in the next iteration */
        ev_timer_set(&pd->timer, 0., 0.);
        ev_timer_start(loop, &pd->timer);
        deliver(pd);
        return;
    }
    pending copy = *pd; /* freed first: a fatal failure in the callback does not come back here */
    unlink_pending(pd);
    free(pd);
    deliver(&copy);
}

bool ac__mock_describe_delivery(ac_buf *b, const void *w) {
    const ev_timer *timer = w;
    if (!timer || timer->cb != pending_timer_cb)
        return false;
    const pending *pd = timer->data;
    ac__buf_printf(b, "the completion of %s() call #%zu", pd->m->proto->name, pd->call);
    return true;
}

void ac__mock_describe_due(ac_buf *b, const void *w) {
    const ev_timer *timer = w;
    if (!timer || timer->cb != pending_timer_cb)
        return;
    const pending *pd = timer->data;
    if (pd->r->when.kind == W_NEXT)
        ac__buf_puts(b, ", due in the next loop iteration");
    else
        ac__buf_printf(b, ", due %g s after the call", pd->delay);
}

/* On the test's thread: start what the rule asks for. */
static void schedule(pending *pd) {
    struct ev_loop *loop = ac_loop(pd->m->w->t);
    switch (pd->r->when.kind) {
    case W_MANUAL:
        pd->held = true;
        break;
    case W_AFTER:
    case W_NEXT:
    case W_TWICE:
        pd->remaining = pd->r->when.kind == W_TWICE ? 2 : 1;
        double delay = pd->r->when.kind == W_NEXT ? 0. : pd->r->when.delay;
        if (pd->r->when.delay_max > delay) /* ac_deliver_within: drawn from the running schedule */
            delay = ac__sched_uniform(delay, pd->r->when.delay_max);
        pd->delay = delay;
        /* Counted from the call, but without ev_now_update: the loop's cached time is the code under
         * test's to read, stale or not. libev counts a timer from that cached time, so add how stale it
         * is (ev_time follows the virtual clock as ev_now does). */
        double stale = pd->r->when.kind == W_NEXT ? 0. : ev_time() - ev_now(loop);
        if (stale > 0)
            delay += stale;
        ev_timer_init(&pd->timer, pending_timer_cb, delay, 0.);
        pd->timer.data = pd;
        ev_timer_start(loop, &pd->timer);
        break;
    }
}

static void incoming_cb(struct ev_loop *loop, ev_async *w, int revents) {
    (void)loop, (void)revents;
    world *wd = w->data;
    pthread_mutex_lock(&wd->lock);
    pending *list = wd->incoming;
    wd->incoming = NULL;
    pthread_mutex_unlock(&wd->lock);
    pending *rev = NULL; /* arrival order */
    while (list) {
        pending *n = list->next_incoming;
        list->next_incoming = rev;
        rev = list;
        list = n;
    }
    while (rev) {
        pending *n = rev->next_incoming;
        schedule(rev);
        rev = n;
    }
}

/* ---- the call handler ---- */

static void record(ac_mock *m, void **args, ac_mock_call **out) {
    world *w = m->w;
    ac_mock_call *c = arena_alloc(w, sizeof *c + m->proto->n * sizeof *c->args);
    c->mock = m;
    c->text = NULL;
    for (size_t i = 0; i < m->proto->n; i++)
        c->args[i] = read_arg(m->proto->params[i].kind, args[i]);
    if (m->ncalls == m->calls_cap) {
        m->calls_cap = m->calls_cap ? m->calls_cap * 2 : 8;
        m->calls = ac__xrealloc(m->calls, m->calls_cap * sizeof *m->calls);
    }
    c->index = m->ncalls;
    m->calls[m->ncalls++] = c;
    if (w->nlog == w->log_cap) {
        w->log_cap = w->log_cap ? w->log_cap * 2 : 16;
        w->log = ac__xrealloc(w->log, w->log_cap * sizeof *w->log);
    }
    w->log[w->nlog++] = c;
    *out = c;
}

/* Finds the expectation a call meets. Writes a failure into msg/got/exp if it meets none, or meets one
 * out of order. */
static void check_expectations(ac_mock *m, const ac_mock_call *c, ac_buf *msg, ac_buf *got, ac_buf *exp) {
    if (!m->expectations)
        return;
    for (ac_expectation *e = m->expectations; e; e = e->next) {
        if (e->count >= e->max || !(e->any_args || matches_all(e->matchers, e->n, c)))
            continue;
        e->count++;
        if (e->after && e->after->count == 0) {
            ac__buf_printf(msg, "%s called out of order: expected after ", m->proto->name);
            print_expectation(msg, e->after);
            ac__buf_puts(got, ac_mock_call_text(c));
            print_expectation(exp, e);
        }
        return;
    }
    ac__buf_printf(msg, "unexpected call #%zu of %s", c->index, m->proto->name);
    ac__buf_puts(got, ac_mock_call_text(c));
    for (ac_expectation *e = m->expectations; e; e = e->next) {
        if (e != m->expectations)
            ac__buf_puts(exp, "; ");
        print_expectation(exp, e);
    }
}

static void handler(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif;
    ac_mock *m = ud;
    world *w = m->w;
    ac_buf msg = {0}, got = {0}, exp = {0};
    slot r;
    memset(&r, 0, sizeof r);
    ac_mock_call *c;

    pthread_mutex_lock(&w->lock);
    record(m, args, &c);
    check_expectations(m, c, &msg, &got, &exp);
    if (m->seq_n) {
        size_t i = c->index < m->seq_n ? c->index : m->seq_n - 1;
        memcpy(&r, m->seq + i * ac__tkind_size(m->proto->ret.kind), ac__tkind_size(m->proto->ret.kind));
    } else if (m->has_return) {
        store_value(&r, m->proto->ret.kind, m->ret_value);
    }
    bool on_loop_thread = pthread_equal(pthread_self(), w->loop_thread);
    pending *to_schedule = NULL;
    for (rule *rl = m->rules; rl; rl = rl->next) {
        if (rl->when.kind == W_NEVER || rl->when.kind == W_INSIDE)
            continue;
        pending *pd = ac__xcalloc(1, sizeof *pd);
        *pd = (pending){.m = m, .call = c->index, .r = rl};
        pd->next = m->pendings;
        m->pendings = pd;
        if (on_loop_thread) {
            pd->next_incoming = to_schedule;
            to_schedule = pd;
        } else {
            pd->next_incoming = w->incoming;
            w->incoming = pd;
        }
    }
    pthread_mutex_unlock(&w->lock);

    if (msg.len) {
        char text[1024];
        snprintf(text, sizeof text, "%s", ac__buf_str(&msg));
        fail(false, m->file, m->line, text, ac__buf_str(&got), ac__buf_str(&exp));
    }
    ac__buf_free(&msg);
    ac__buf_free(&got);
    ac__buf_free(&exp);
    if (m->effect)
        m->effect(c, &r, m->effect_ud);
    for (rule *rl = m->rules; rl; rl = rl->next) /* misbehaving on purpose: inside the call */
        if (rl->when.kind == W_INSIDE) {
            pending pd = {.m = m, .call = c->index, .r = rl};
            deliver(&pd);
        }
    pending *rev = NULL;
    while (to_schedule) {
        pending *n = to_schedule->next_incoming;
        to_schedule->next_incoming = rev;
        rev = to_schedule;
        to_schedule = n;
    }
    for (pending *pd = rev; pd;) {
        pending *n = pd->next_incoming;
        schedule(pd);
        pd = n;
    }
    if (!on_loop_thread) /* completions to schedule, or a loop waiting for calls (AC_AWAIT_CALLS) */
        ev_async_send(ac_loop(w->t), &w->incoming_async);
    write_return(ret, m->proto->ret.kind, &r);
    if (m->err)
        errno = m->err;
}

/* ---- the test's end ---- */

static void world_end(ac_test *t, void *ctx) {
    world *w = ctx;
    struct ev_loop *loop = ac_loop(t);
    bool check = !ac__test_skipped(t) && !(ac__test_def_of(t)->options.allow & AC_ALLOW_PENDING_MOCKS);
    for (ac_mock *m = check ? w->mocks : NULL; m; m = m->next) { /* skipped or waived: nothing due */
        for (ac_expectation *e = m->expectations; e; e = e->next) {
            if (e->count >= e->min)
                continue;
            ac_buf msg = {0}, got = {0}, exp = {0};
            ac__buf_puts(&msg, "unmet expectation: ");
            print_expectation(&msg, e);
            print_calls(&got, m);
            print_expectation(&exp, e);
            fail(false, e->file, e->line, ac__buf_str(&msg), ac__buf_str(&got), ac__buf_str(&exp));
            ac__buf_free(&msg);
            ac__buf_free(&got);
            ac__buf_free(&exp);
        }
        size_t held = ac_mock_held_count(m);
        if (held) {
            ac_buf msg = {0}, got = {0};
            ac__buf_printf(
                &msg,
                "%s: %zu completion%s still held at the end of the test (ac_deliver_held): deliver "
                "with ac_mock_deliver_next",
                m->proto->name, held, held == 1 ? "" : "s");
            for (pending *pd = m->pendings; pd; pd = pd->next)
                if (pd->held)
                    ac__buf_printf(&got, "%s%s for call #%zu", got.len ? "; " : "", pd->r->text, pd->call);
            fail(false, m->file, m->line, ac__buf_str(&msg), ac__buf_str(&got), NULL);
            ac__buf_free(&msg);
            ac__buf_free(&got);
        }
    }
    /* free everything */
    while (w->mocks) {
        ac_mock *m = w->mocks;
        w->mocks = m->next;
        while (m->pendings) {
            pending *pd = m->pendings;
            m->pendings = pd->next;
            ev_timer_stop(loop, &pd->timer);
            free(pd);
        }
        for (size_t i = 0; i < m->ncalls; i++) {
            for (size_t k = 0; k < m->proto->n; k++)
                free(m->calls[i]->args[k].str);
            free(m->calls[i]->text);
        }
        free(m->calls);
        while (m->rules) {
            rule *r = m->rules;
            m->rules = r->next;
            ac__completion_free(&r->spec);
            free(r->text);
            free(r);
        }
        while (m->expectations) {
            ac_expectation *e = m->expectations;
            m->expectations = e->next;
            free(e->matchers);
            free(e);
        }
        free(m->seq);
        ffi_closure_free(m->closure);
        ac__proto_free(m->proto);
        free(m);
    }
    ev_ref(loop);
    ev_async_stop(loop, &w->incoming_async);
    free(w->log);
    while (w->arena) {
        arena_block *b = w->arena;
        w->arena = b->next;
        free(b);
    }
    pthread_mutex_destroy(&w->lock);
    if (current_world == w)
        current_world = NULL;
    free(w);
}

static world *world_for(ac_test *t) {
    if (current_world && current_world->t == t)
        return current_world;
    world *w = ac__xcalloc(1, sizeof *w);
    w->t = t;
    w->loop_thread = pthread_self();
    pthread_mutex_init(&w->lock, NULL);
    ev_async_init(&w->incoming_async, incoming_cb);
    w->incoming_async.data = w;
    ev_async_start(ac_loop(t), &w->incoming_async);
    ev_unref(ac_loop(t)); /* it must not keep the loop alive by itself */
    current_world = w;
    ac__at_test_end(t, world_end, w);
    return w;
}

/* ---- the public API ---- */

ac_mock *ac__mock_new(ac_test *t, const char *prototype, const char *file, int line) {
    ac_buf err = {0};
    ac_proto *p = ac__proto_parse(prototype, &err);
    if (!p) {
        ac_buf msg = {0};
        ac__buf_printf(&msg, "ac_mock_new: bad prototype %s", ac__buf_str(&err));
        ac__buf_free(&err);
        fail_fatal_buf(file, line, &msg);
    }
    world *w = world_for(t);
    ac_mock *m = ac__xcalloc(1, sizeof *m);
    m->w = w;
    m->proto = p;
    m->file = file;
    m->line = line;
    m->expectations_tail = &m->expectations;
    m->closure = ffi_closure_alloc(sizeof(ffi_closure), &m->fn);
    if (!m->closure || ffi_prep_closure_loc(m->closure, &p->cif, handler, m, m->fn) != FFI_OK) {
        ac_buf msg = {0};
        ac__buf_printf(&msg, "ac_mock_new: libffi could not make a closure for %s", p->name);
        fail_fatal_buf(file, line, &msg);
    }
    pthread_mutex_lock(&w->lock);
    ac_mock **tail = &w->mocks;
    while (*tail)
        tail = &(*tail)->next;
    *tail = m;
    pthread_mutex_unlock(&w->lock);
    return m;
}

void *ac_mock_fn(ac_mock *m) {
    return m->fn;
}

const char *ac_mock_name(const ac_mock *m) {
    return m->proto->name;
}

void *ac_mock_replace(ac_mock *m) {
    return ac__replace_at(m->w->t, m->proto->name, m->fn, m->file, m->line);
}

void ac_mock_typedef(const char *name, const char *type) {
    ac_buf err = {0};
    if (ac__typedef_add(name, type, &err) < 0) {
        ac_buf msg = {0};
        ac__buf_printf(&msg, "ac_mock_typedef(\"%s\"): bad type %s", name, ac__buf_str(&err));
        ac__buf_free(&err);
        fail_fatal_buf(NULL, 0, &msg);
    }
}

void ac__mock_returns(ac_mock *m, ac__value v) {
    if (m->proto->ret.kind == AC_TK_VOID) {
        ac_buf msg = {0};
        ac__buf_printf(&msg, "ac_mock_returns: %s returns void", m->proto->name);
        fail_fatal_buf(m->file, m->line, &msg);
    }
    m->has_return = true;
    m->ret_value = v;
}

void ac_mock_returns_seq(ac_mock *m, const void *values, size_t n) {
    size_t size = ac__tkind_size(m->proto->ret.kind);
    if (size == 0 || n == 0) {
        ac_buf msg = {0};
        ac__buf_printf(&msg, "ac_mock_returns_seq: %s",
                       size == 0 ? "the function returns void" : "no values");
        fail_fatal_buf(m->file, m->line, &msg);
    }
    free(m->seq);
    m->seq = ac__xmalloc(size * n);
    memcpy(m->seq, values, size * n);
    m->seq_n = n;
}

void ac_mock_sets_errno(ac_mock *m, int err) {
    m->err = err;
}

void ac_mock_does(ac_mock *m, ac_mock_effect fn, void *ud) {
    m->effect = fn;
    m->effect_ud = ud;
}

ac_when ac_deliver_after(double seconds) {
    return (ac_when){W_AFTER, seconds, 0};
}
ac_when ac_deliver_within(double lo, double hi) {
    return (ac_when){W_AFTER, lo, hi};
}

ac_when ac_deliver_next_iteration(void) {
    return (ac_when){W_NEXT, 0, 0};
}
ac_when ac_deliver_held(void) {
    return (ac_when){W_MANUAL, 0, 0};
}
ac_when ac_deliver_never(void) {
    return (ac_when){W_NEVER, 0, 0};
}
ac_when ac_deliver_twice(double seconds) {
    return (ac_when){W_TWICE, seconds, 0};
}
ac_when ac_deliver_inside_call(void) {
    return (ac_when){W_INSIDE, 0, 0};
}

static long param_index(const ac_proto *p, const char *name) {
    for (size_t i = 0; i < p->n; i++)
        if (p->names[i] && strcmp(p->names[i], name) == 0)
            return (long)i;
    return -1;
}

static bool lit_fits(const ac_lit *l, ac_tkind k, ac_tkind ref_kind) {
    bool integral = ac__tkind_integral(k), floating = k == AC_TK_FLOAT || k == AC_TK_DOUBLE;
    bool pointer = k == AC_TK_PTR || k == AC_TK_STR || k == AC_TK_FNPTR;
    switch (l->kind) {
    case AC_LIT_INT:
        return integral || floating;
    case AC_LIT_DOUBLE:
        return floating;
    case AC_LIT_STR:
        return k == AC_TK_STR || k == AC_TK_PTR;
    case AC_LIT_NULL:
        return pointer;
    default: {
        bool ri = ac__tkind_integral(ref_kind), rf = ref_kind == AC_TK_FLOAT || ref_kind == AC_TK_DOUBLE;
        bool rp = ref_kind == AC_TK_PTR || ref_kind == AC_TK_STR || ref_kind == AC_TK_FNPTR;
        return (integral && ri) || (floating && (rf || ri)) || (pointer && rp);
    }
    }
}

void ac__mock_on_call_complete(ac_mock *m, ac_when when, const char *completion, const char *file, int line) {
    ac_buf err = {0}, msg = {0};
    ac_completion_spec spec;
    const ac_proto *p = m->proto;
    ac_buf quoted = {0}; /* the completion as a C string literal, for messages */
    ac__escape_c(&quoted, completion, strlen(completion));
    const char *q = ac__buf_str(&quoted);
    if (ac__completion_parse(completion, &spec, &err) < 0) {
        ac__buf_printf(&msg, "ac_mock_on_call_complete(%s): bad completion %s", p->name, ac__buf_str(&err));
        ac__buf_free(&err);
        ac__buf_free(&quoted);
        fail_fatal_buf(file, line, &msg);
    }
    long cb = spec.callback ? param_index(p, spec.callback) : spec.callback_index;
    if (cb < 0 || (size_t)cb >= p->n) {
        if (spec.callback)
            ac__buf_printf(&msg, "ac_mock_on_call_complete(%s, %s): %s has no parameter named %s", p->name, q,
                           p->name, spec.callback);
        else /* say which: "number " alone named nothing */
            ac__buf_printf(&msg, "ac_mock_on_call_complete(%s, %s): %s has no parameter $%ld (it has %zu)",
                           p->name, q, p->name, spec.callback_index, p->n);
    } else if (p->params[cb].kind != AC_TK_FNPTR)
        ac__buf_printf(&msg,
                       "ac_mock_on_call_complete(%s, %s): parameter %ld is a %s, not a function pointer",
                       p->name, q, cb, ac__tkind_name(p->params[cb].kind));
    else if (p->params[cb].fn->n != spec.n)
        ac__buf_printf(
            &msg,
            "ac_mock_on_call_complete(%s, %s): the callback takes %zu argument%s, the completion gives %zu",
            p->name, q, p->params[cb].fn->n, p->params[cb].fn->n == 1 ? "" : "s", spec.n);
    for (size_t i = 0; !msg.len && i < spec.n; i++) {
        ac_lit *l = &spec.args[i];
        ac_tkind ref_kind = AC_TK_VOID;
        if (l->kind == AC_LIT_REF) {
            if (l->s)
                l->index = param_index(p, l->s);
            if (l->index < 0 || (size_t)l->index >= p->n) {
                ac__buf_printf(&msg,
                               "ac_mock_on_call_complete(%s, %s): argument %zu refers to no parameter of %s",
                               p->name, q, i + 1, p->name);
                break;
            }
            ref_kind = p->params[l->index].kind;
        }
        ac_tkind want = p->params[cb].fn->params[i].kind;
        if (!lit_fits(l, want, ref_kind))
            ac__buf_printf(
                &msg,
                "ac_mock_on_call_complete(%s, %s): argument %zu does not fit the callback's %s parameter",
                p->name, q, i + 1, ac__tkind_name(want));
    }
    ac__buf_free(&quoted);
    if (msg.len) {
        ac__completion_free(&spec);
        fail_fatal_buf(file, line, &msg);
    }
    if ((when.kind == W_AFTER || when.kind == W_TWICE) && when.delay < 0)
        when.delay = 0;
    if (when.delay_max < when.delay)
        when.delay_max = 0;
    rule *r = ac__xcalloc(1, sizeof *r);
    *r = (rule){.spec = spec, .text = ac__xstrdup(completion), .cb = (size_t)cb, .when = when};
    rule **tail = &m->rules;
    while (*tail)
        tail = &(*tail)->next;
    *tail = r;
}

void ac__mock_on_call_completef(ac_mock *m, ac_when when, const char *file, int line, const char *fmt, ...) {
    ac_buf text = {0};
    va_list ap;
    va_start(ap, fmt);
    ac__buf_vprintf(&text, fmt, ap);
    va_end(ap);
    char copy[1024]; /* on the stack: a bad completion fails fatally */
    snprintf(copy, sizeof copy, "%s", ac__buf_str(&text));
    ac__buf_free(&text);
    ac__mock_on_call_complete(m, when, copy, file, line);
}

static pending *find_held(ac_mock *m, bool any, size_t call) {
    pending *found = NULL;
    pthread_mutex_lock(&m->w->lock);
    for (pending *pd = m->pendings; pd; pd = pd->next) /* newest first: keep the last one seen */
        if (pd->held && (any || pd->call == call))
            found = pd;
    pthread_mutex_unlock(&m->w->lock);
    return found;
}

static bool deliver_held(ac_mock *m, pending *pd) {
    (void)m;
    if (!pd)
        return false;
    pending copy = *pd;
    unlink_pending(pd);
    free(pd);
    deliver(&copy);
    return true;
}

bool ac_mock_deliver(ac_mock *m, size_t call_index) {
    return deliver_held(m, find_held(m, false, call_index));
}

bool ac_mock_deliver_next(ac_mock *m) {
    return deliver_held(m, find_held(m, true, 0));
}

void ac__mock_warm(void) {
    void *code;
    ffi_closure *c = ffi_closure_alloc(sizeof(ffi_closure), &code);
    if (c)
        ffi_closure_free(c);
}

size_t ac__mock_held_all(ac_test *t, ac_buf *which) {
    if (!current_world || current_world->t != t)
        return 0;
    size_t n = 0;
    for (const ac_mock *m = current_world->mocks; m; m = m->next) {
        size_t h = ac_mock_held_count(m);
        if (h && which)
            ac__buf_printf(which, "%s%zu completion%s of %s held", which->len ? "\n" : "", h,
                           h == 1 ? "" : "s", ac_mock_name(m));
        n += h;
    }
    return n;
}

size_t ac_mock_held_count(const ac_mock *m) {
    size_t n = 0;
    pthread_mutex_lock(&m->w->lock);
    for (const pending *pd = m->pendings; pd; pd = pd->next)
        n += pd->held;
    pthread_mutex_unlock(&m->w->lock);
    return n;
}

size_t ac_mock_call_count(const ac_mock *m) {
    pthread_mutex_lock(&m->w->lock);
    size_t n = m->ncalls;
    pthread_mutex_unlock(&m->w->lock);
    return n;
}

size_t ac_mock_completion_count(const ac_mock *m) {
    return __atomic_load_n(&m->completions, __ATOMIC_RELAXED);
}

const ac_mock_call *ac_mock_call_at(const ac_mock *m, size_t i) {
    pthread_mutex_lock(&m->w->lock);
    const ac_mock_call *c = i < m->ncalls ? m->calls[i] : NULL;
    pthread_mutex_unlock(&m->w->lock);
    return c;
}

size_t ac_mock_log_count(ac_test *t) {
    world *w = current_world && current_world->t == t ? current_world : NULL;
    if (!w)
        return 0;
    pthread_mutex_lock(&w->lock);
    size_t n = w->nlog;
    pthread_mutex_unlock(&w->lock);
    return n;
}

const ac_mock_call *ac_mock_log_at(ac_test *t, size_t i) {
    world *w = current_world && current_world->t == t ? current_world : NULL;
    if (!w)
        return NULL;
    pthread_mutex_lock(&w->lock);
    const ac_mock_call *c = i < w->nlog ? w->log[i] : NULL;
    pthread_mutex_unlock(&w->lock);
    return c;
}

const ac_mock *ac_mock_call_mock(const ac_mock_call *c) {
    return c->mock;
}

size_t ac_mock_call_index(const ac_mock_call *c) {
    return c->index;
}

static const mock_arg *arg_of(const ac_mock_call *c, size_t i, const char *want, bool ok(ac_tkind),
                              const char *file, int line) {
    const ac_proto *p = c->mock->proto;
    ac_buf msg = {0};
    if (i >= p->n)
        ac__buf_printf(&msg, "%s has %zu parameter%s: no argument %zu", p->name, p->n, p->n == 1 ? "" : "s",
                       i);
    else if (!ok(p->params[i].kind))
        ac__buf_printf(&msg, "argument %zu of %s is a %s, not %s", i, p->name,
                       ac__tkind_name(p->params[i].kind), want);
    if (msg.len)
        fail_fatal_buf(file, line, &msg);
    return &c->args[i];
}

static bool is_signed_int(ac_tkind k) {
    return ac__tkind_integral(k);
}
static bool is_floating(ac_tkind k) {
    return k == AC_TK_FLOAT || k == AC_TK_DOUBLE;
}
static bool is_string(ac_tkind k) {
    return k == AC_TK_STR;
}
static bool is_pointer(ac_tkind k) {
    return k == AC_TK_PTR || k == AC_TK_STR || k == AC_TK_FNPTR;
}

long long ac__mock_arg_int(const ac_mock_call *c, size_t i, const char *file, int line) {
    const mock_arg *a = arg_of(c, i, "an integer", is_signed_int, file, line);
    return ac__tkind_signed(a->kind) ? a->v.i : (long long)a->v.u;
}
unsigned long long ac__mock_arg_uint(const ac_mock_call *c, size_t i, const char *file, int line) {
    const mock_arg *a = arg_of(c, i, "an integer", is_signed_int, file, line);
    return ac__tkind_signed(a->kind) ? (unsigned long long)a->v.i : a->v.u;
}
double ac__mock_arg_double(const ac_mock_call *c, size_t i, const char *file, int line) {
    return arg_of(c, i, "floating point", is_floating, file, line)->v.d;
}
const char *ac__mock_arg_str(const ac_mock_call *c, size_t i, const char *file, int line) {
    return arg_of(c, i, "a string (const char *)", is_string, file, line)->str;
}
void *ac__mock_arg_ptr(const ac_mock_call *c, size_t i, const char *file, int line) {
    return arg_of(c, i, "a pointer", is_pointer, file, line)->v.p;
}

size_t ac__mock_arg_index(const ac_mock *m, const char *name, const char *file, int line) {
    long i = param_index(m->proto, name);
    if (i < 0) {
        ac_buf msg = {0};
        ac__buf_printf(&msg, "%s has no parameter named %s", m->proto->name, name);
        fail_fatal_buf(file, line, &msg);
    }
    return (size_t)i;
}

ac_expectation *ac__mock_expect(ac_mock *m, const ac_matcher *matchers, size_t n, const char *file,
                                int line) {
    if (matchers && n != m->proto->n) {
        ac_buf msg = {0};
        ac__buf_printf(&msg, "AC_MOCK_EXPECT(%s): %zu matcher%s for %zu parameter%s", m->proto->name, n,
                       n == 1 ? "" : "s", m->proto->n, m->proto->n == 1 ? "" : "s");
        fail_fatal_buf(file, line, &msg);
    }
    ac_expectation *e = ac__xcalloc(1, sizeof *e);
    *e = (ac_expectation){
        .m = m, .n = n, .any_args = matchers == NULL, .min = 1, .max = 1, .file = file, .line = line};
    if (n) {
        e->matchers = ac__xmalloc(n * sizeof *e->matchers);
        memcpy(e->matchers, matchers, n * sizeof *e->matchers);
    }
    pthread_mutex_lock(&m->w->lock);
    *m->expectations_tail = e;
    m->expectations_tail = &e->next;
    pthread_mutex_unlock(&m->w->lock);
    return e;
}

void ac_expect_times(ac_expectation *e, size_t n) {
    e->min = e->max = n;
}
void ac_expect_at_least(ac_expectation *e, size_t n) {
    e->min = n;
    e->max = SIZE_MAX;
}
void ac_expect_at_most(ac_expectation *e, size_t n) {
    e->min = 0;
    e->max = n;
}
void ac_expect_never(ac_expectation *e) {
    e->min = e->max = 0;
}
void ac_expect_after(ac_expectation *later, ac_expectation *earlier) {
    later->after = earlier;
}

/* ---- assertions on calls ---- */

static bool fail_check(const ac__site *s, const char *detail, ac_buf *got, ac_buf *exp) {
    char message[1024];
    if (s->args[0])
        snprintf(message, sizeof message, "%s(%s) failed: %s", s->macro, s->args, detail);
    else
        snprintf(message, sizeof message, "%s failed: %s", s->macro, detail);
    char g[4096], e[1024];
    snprintf(g, sizeof g, "%s", ac__buf_str(got));
    snprintf(e, sizeof e, "%s", ac__buf_str(exp));
    ac__buf_free(got);
    ac__buf_free(exp);
    fail(s->fatal, s->file, s->line, message, g, e);
    return false;
}

static void describe_calls(const void *ctx, ac_buf *out) {
    print_calls(out, ctx);
}

void ac__await_calls(ac__await *aw, const ac_mock *m, size_t n) {
    char cond[256];
    snprintf(cond, sizeof cond, "%zu call%s of %s", n, n == 1 ? "" : "s", m->proto->name);
    ac__await_describe(aw, cond, describe_calls, m);
}

bool ac__check_called(const ac__site *s, const ac_mock *m, size_t n) {
    size_t calls = ac_mock_call_count(m);
    if (calls == n)
        return true;
    ac_buf got = {0}, exp = {0};
    char detail[256];
    snprintf(detail, sizeof detail, "%s was called %zu time%s", m->proto->name, calls, calls == 1 ? "" : "s");
    print_calls(&got, m);
    ac__buf_printf(&exp, "%zu call%s", n, n == 1 ? "" : "s");
    return fail_check(s, detail, &got, &exp);
}

bool ac__check_called_with(const ac__site *s, const ac_mock *m, const ac_matcher *mts, size_t n) {
    if (n != m->proto->n) {
        ac_buf msg = {0};
        ac__buf_printf(&msg, "%s: %zu matchers for %zu parameters of %s", s->macro, n, m->proto->n,
                       m->proto->name);
        fail_fatal_buf(s->file, s->line, &msg);
    }
    pthread_mutex_lock(&m->w->lock);
    bool found = false;
    for (size_t i = 0; i < m->ncalls && !found; i++)
        found = matches_all(mts, n, m->calls[i]);
    pthread_mutex_unlock(&m->w->lock);
    if (found)
        return true;
    ac_buf got = {0}, exp = {0};
    char detail[256];
    snprintf(detail, sizeof detail, "no call of %s matched", m->proto->name);
    print_calls(&got, m);
    ac__buf_printf(&exp, "%s(", m->proto->name);
    for (size_t i = 0; i < n; i++) {
        if (i)
            ac__buf_puts(&exp, ", ");
        print_matcher(&exp, &mts[i]);
    }
    ac__buf_puts(&exp, ")");
    return fail_check(s, detail, &got, &exp);
}
