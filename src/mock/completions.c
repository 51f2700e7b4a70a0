/* completions.c — a mock's completions: configuring them (ac_mock_on_call_complete, checked against the
 * prototype; per call with ac_mock_on_call_n_complete, or computed at delivery by a user function with
 * ac_mock_on_call_complete_with; the ac_deliver_* timings), queueing one per rule that applies to a call
 * when it is made (a call's own rules, or else the mock's defaults), scheduling it on the
 * test's loop (a timer, the next iteration, held for ac_mock_deliver, or handed over from the calling
 * thread), and delivering it: calling the call's own callback argument through libffi with the literals
 * and $references converted to the callback's types. Also naming a completion timer for the loop's
 * reports and counting what is held. It must not record calls or judge expectations. */
#include <ev.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_internal.h"
#include "../race/race.h"
#include "../context/context.h"

enum { W_AFTER, W_NEXT, W_MANUAL, W_NEVER, W_TWICE, W_INSIDE };

struct ac__rule {
    ac__completion_spec spec; /* empty for a computed rule (fn) */
    char *text;
    size_t cb; /* index of the callback parameter (not for a computed rule) */
    ac_when when;
    bool per_call;       /* ac_mock_on_call_n_complete: only for call number `call` */
    size_t call;         /* ... which then takes none of the mock's default rules */
    ac_completion_fn fn; /* ac_mock_on_call_complete_with: the text is computed at delivery */
    void *ud;
    const char *file; /* where the rule was made */
    int line;
    struct ac__rule *next;
};

struct ac__pending {
    ac_mock *m;
    size_t call;
    ac__rule *r;
    ev_timer timer;
    int remaining; /* deliveries still to make */
    double delay;  /* the latency the rule gave this call (drawn, for ac_deliver_within) */
    bool held;
    struct ac__pending *next;
    struct ac__pending *next_incoming; /* handed over from another thread */
};

/* ---- delivering ---- */

static bool check_completion(const ac__proto *p, const char *head, const char *completion,
                             ac__completion_spec *spec, size_t *cb_out, ac__buf *msg);

/* Calls callback parameter `cb` of call c as spec says. */
static void deliver_spec(ac_mock *m, const ac_mock_call *c, const ac__completion_spec *spec, size_t cb,
                         const char *text) {
    void *fnptr = c->args[cb].v.p;
    if (!fnptr) {
        ac__buf msg = {0};
        ac__buf_printf(&msg, "%s: cannot complete call #%zu with %s: its callback %s is NULL", m->proto->name,
                       c->index, text, m->proto->names[cb] ? m->proto->names[cb] : "argument");
        ac__mock_fail(false, m->file, m->line, ac__buf_str(&msg), ac_mock_call_text(c), NULL);
        ac__buf_free(&msg);
        return;
    }
    const ac__proto *cbp = m->proto->params[cb].fn;
    ac__slot values[16], ret;
    void *argp[16];
    for (size_t i = 0; i < cbp->n && i < 16; i++) {
        const ac__lit *l = &spec->args[i];
        ac__tkind k = cbp->params[i].kind;
        memset(&values[i], 0, sizeof values[i]);
        switch (l->kind) {
        case AC_LIT_INT:
            ac__slot_store(&values[i], k, l->i, 0, false, 0, false, NULL);
            break;
        case AC_LIT_DOUBLE:
            ac__slot_store(&values[i], k, 0, 0, false, l->d, true, NULL);
            break;
        case AC_LIT_STR:
            values[i].p = l->s;
            break;
        case AC_LIT_NULL:
            values[i].p = NULL;
            break;
        case AC_LIT_REF: {
            const ac__mock_arg *a = &c->args[l->index];
            if (a->kind == AC_TK_STR)
                values[i].p = a->str;
            else
                ac__slot_store_value(&values[i], k, ac__mock_arg_value(a));
            break;
        }
        }
        argp[i] = &values[i];
    }
    __atomic_fetch_add(&m->completions, 1, __ATOMIC_RELAXED);
    ac__tl_printf(AC_TL_COMPLETION, (uint32_t)c->seq, "%s #%zu completes: %s", m->proto->name, c->index,
                  text);
    ffi_call((ffi_cif *)&cbp->cif, FFI_FN(fnptr), &ret, argp);
}

/* A computed rule: asks its function for this call's completion now, checks it against the prototype
 * (a bad one fails the test, not fatally, at the line that made the rule) and delivers it. */
static void deliver_computed(ac_mock *m, const ac_mock_call *c, const ac__rule *r) {
    const char *text = r->fn(c, r->ud);
    if (!text) /* nothing for this call */
        return;
    char *copy = ac__xstrdup(text);
    ac__buf head = {0}, msg = {0};
    ac__buf_printf(&head, "ac_mock_on_call_complete_with(%s, call #%zu", m->proto->name, c->index);
    ac__completion_spec spec;
    size_t cb;
    if (check_completion(m->proto, ac__buf_str(&head), copy, &spec, &cb, &msg)) {
        deliver_spec(m, c, &spec, cb, copy);
        ac__completion_free(&spec);
    } else
        ac__mock_fail(false, r->file, r->line, ac__buf_str(&msg), ac_mock_call_text(c), NULL);
    ac__buf_free(&head);
    ac__buf_free(&msg);
    free(copy);
}

static void deliver(ac__pending *pd) {
    ac_mock *m = pd->m;
    pthread_mutex_lock(&m->w->lock); /* another thread's call may be growing m->calls */
    const ac_mock_call *c = m->calls[pd->call];
    pthread_mutex_unlock(&m->w->lock);
    ac__buf who = {0}, msg = {0};
    if (!(ac__test_def_of(m->w->t)->options.allow & AC_ALLOW_OFF_LOOP_CALLBACKS) &&
        ac__race_off_thread(&who)) { /* an inside-call completion of a call another thread made */
        ac__buf_printf(&msg, "%s: call #%zu's completion was delivered on %s, not on the test's loop thread",
                       m->proto->name, c->index, ac__buf_str(&who));
        ac__mock_fail(false, m->file, m->line, ac__buf_str(&msg), ac_mock_call_text(c), NULL);
    }
    ac__buf_free(&who);
    ac__buf_free(&msg);
    const ac__rule *r = pd->r;
    if (r->fn)
        deliver_computed(m, c, r);
    else
        deliver_spec(m, c, &r->spec, r->cb, r->text);
}

static void unlink_pending(ac__pending *pd) {
    pthread_mutex_lock(&pd->m->w->lock); /* other threads' calls add pendings */
    for (ac__pending **pp = &pd->m->pendings; *pp; pp = &(*pp)->next)
        if (*pp == pd) {
            *pp = pd->next;
            break;
        }
    pthread_mutex_unlock(&pd->m->w->lock);
}

static void pending_timer_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)revents;
    ac__pending *pd = w->data;
    if (--pd->remaining > 0) { /* ac_deliver_twice: once more, in the next iteration */
        ev_timer_set(&pd->timer, 0., 0.);
        ev_timer_start(loop, &pd->timer);
        deliver(pd);
        return;
    }
    ac__pending copy = *pd; /* freed first: a fatal failure in the callback does not come back here */
    unlink_pending(pd);
    free(pd);
    deliver(&copy);
}

bool ac__mock_own_watcher(const void *w) {
    const ev_watcher *ew = w;
    return ew && (ew->cb == (void (*)(struct ev_loop *, ev_watcher *, int))pending_timer_cb ||
                  ew->cb == (void (*)(struct ev_loop *, ev_watcher *, int))ac__completions_incoming_cb);
}

bool ac__mock_describe_delivery(ac__buf *b, const void *w) {
    const ev_timer *timer = w;
    if (!timer || timer->cb != pending_timer_cb)
        return false;
    const ac__pending *pd = timer->data;
    ac__buf_printf(b, "the completion of %s() call #%zu", pd->m->proto->name, pd->call);
    return true;
}

void ac__mock_describe_due(ac__buf *b, const void *w) {
    const ev_timer *timer = w;
    if (!timer || timer->cb != pending_timer_cb)
        return;
    const ac__pending *pd = timer->data;
    if (pd->r->when.kind == W_NEXT)
        ac__buf_puts(b, ", due in the next loop iteration");
    else
        ac__buf_printf(b, ", due %g s after the call", pd->delay);
}

/* ---- scheduling ---- */

/* On the test's thread: start what the rule asks for. */
static void schedule(ac__pending *pd) {
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

/* Schedules a list linked newest first through next_incoming, oldest first. */
static void schedule_in_call_order(ac__pending *list) {
    ac__pending *rev = NULL;
    while (list) {
        ac__pending *n = list->next_incoming;
        list->next_incoming = rev;
        rev = list;
        list = n;
    }
    while (rev) {
        ac__pending *n = rev->next_incoming;
        schedule(rev);
        rev = n;
    }
}

void ac__completions_incoming_cb(struct ev_loop *loop, ev_async *w, int revents) {
    (void)loop, (void)revents;
    ac__world *wd = w->data;
    pthread_mutex_lock(&wd->lock);
    ac__pending *list = wd->incoming;
    wd->incoming = NULL;
    pthread_mutex_unlock(&wd->lock);
    schedule_in_call_order(list); /* arrival order */
}

/* Whether call number `call` has rules of its own (then the mock's default rules do not apply to it). */
static bool has_own_rules(const ac_mock *m, size_t call) {
    for (const ac__rule *rl = m->rules; rl; rl = rl->next)
        if (rl->per_call && rl->call == call)
            return true;
    return false;
}

/* Whether rule rl applies to call number `call`; `own`: has_own_rules(m, call). */
static bool applies(const ac__rule *rl, size_t call, bool own) {
    return own ? rl->per_call && rl->call == call : !rl->per_call;
}

ac__pending *ac__completions_queue(ac_mock *m, const ac_mock_call *c, bool on_loop_thread) {
    ac__world *w = m->w;
    ac__pending *to_schedule = NULL;
    bool own = has_own_rules(m, c->index);
    for (ac__rule *rl = m->rules; rl; rl = rl->next) {
        if (!applies(rl, c->index, own) || rl->when.kind == W_NEVER || rl->when.kind == W_INSIDE)
            continue;
        ac__pending *pd = ac__xcalloc(1, sizeof *pd);
        *pd = (ac__pending){.m = m, .call = c->index, .r = rl};
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
    return to_schedule;
}

void ac__completions_after_call(ac_mock *m, const ac_mock_call *c, ac__pending *queued) {
    bool own = has_own_rules(m, c->index);
    for (ac__rule *rl = m->rules; rl; rl = rl->next) /* misbehaving on purpose: inside the call */
        if (rl->when.kind == W_INSIDE && applies(rl, c->index, own)) {
            ac__pending pd = {.m = m, .call = c->index, .r = rl};
            deliver(&pd);
        }
    schedule_in_call_order(queued);
}

/* ---- configuring ---- */

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

/* Whether literal l can be passed as a callback parameter of kind k (ref_kind: the kind of the call's
 * argument a reference names). */
static bool lit_fits(const ac__lit *l, ac__tkind k, ac__tkind ref_kind) {
    bool integral = ac__tkind_integral(k), floating = ac__tkind_floating(k), pointer = ac__tkind_pointer(k);
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
        bool ri = ac__tkind_integral(ref_kind), rf = ac__tkind_floating(ref_kind);
        bool rp = ac__tkind_pointer(ref_kind);
        return (integral && ri) || (floating && (rf || ri)) || (pointer && rp);
    }
    }
}

/* Parses `completion` and checks it against prototype p: true with *spec (the caller frees it) and the
 * callback's position in *cb_out; false with the reason in msg, which begins with `head` ("api(name" and
 * what else the api names) closed by the completion quoted: head + ", \"cb(1)\"): ...". */
static bool check_completion(const ac__proto *p, const char *head, const char *completion,
                             ac__completion_spec *spec, size_t *cb_out, ac__buf *msg) {
    ac__buf err = {0};
    ac__buf quoted = {0}; /* the completion as a C string literal, for messages */
    ac__escape_c(&quoted, completion, strlen(completion));
    const char *q = ac__buf_str(&quoted);
    if (ac__completion_parse(completion, spec, &err) < 0) {
        ac__buf_printf(msg, "%s): bad completion %s", head, ac__buf_str(&err));
        ac__buf_free(&err);
        ac__buf_free(&quoted);
        return false;
    }
    long cb = spec->callback ? ac__mock_param_index(p, spec->callback) : spec->callback_index;
    if (cb < 0 || (size_t)cb >= p->n) {
        if (spec->callback)
            ac__buf_printf(msg, "%s, %s): %s has no parameter named %s", head, q, p->name, spec->callback);
        else /* say which: "number " alone named nothing */
            ac__buf_printf(msg, "%s, %s): %s has no parameter $%ld (it has %zu)", head, q, p->name,
                           spec->callback_index, p->n);
    } else if (p->params[cb].kind != AC_TK_FNPTR)
        ac__buf_printf(msg, "%s, %s): parameter %ld is a %s, not a function pointer", head, q, cb,
                       ac__tkind_name(p->params[cb].kind));
    else if (p->params[cb].fn->n != spec->n)
        ac__buf_printf(msg, "%s, %s): the callback takes %zu argument%s, the completion gives %zu", head, q,
                       p->params[cb].fn->n, p->params[cb].fn->n == 1 ? "" : "s", spec->n);
    for (size_t i = 0; !msg->len && i < spec->n; i++) {
        ac__lit *l = &spec->args[i];
        ac__tkind ref_kind = AC_TK_VOID;
        if (l->kind == AC_LIT_REF) {
            if (l->s)
                l->index = ac__mock_param_index(p, l->s);
            if (l->index < 0 || (size_t)l->index >= p->n) {
                ac__buf_printf(msg, "%s, %s): argument %zu refers to no parameter of %s", head, q, i + 1,
                               p->name);
                break;
            }
            ref_kind = p->params[l->index].kind;
        }
        ac__tkind want = p->params[cb].fn->params[i].kind;
        if (!lit_fits(l, want, ref_kind))
            ac__buf_printf(msg, "%s, %s): argument %zu does not fit the callback's %s parameter", head, q,
                           i + 1, ac__tkind_name(want));
    }
    ac__buf_free(&quoted);
    if (msg->len) {
        ac__completion_free(spec);
        return false;
    }
    *cb_out = (size_t)cb;
    return true;
}

/* Appends rule r (its when normalised) to m's rules. */
static void add_rule(ac_mock *m, ac__rule r) {
    if ((r.when.kind == W_AFTER || r.when.kind == W_TWICE) && r.when.delay < 0)
        r.when.delay = 0;
    if (r.when.delay_max < r.when.delay)
        r.when.delay_max = 0;
    ac__rule *rl = ac__xcalloc(1, sizeof *rl);
    *rl = r;
    ac__rule **tail = &m->rules;
    while (*tail)
        tail = &(*tail)->next;
    *tail = rl;
}

/* A completion given as text: checked now (fatal at file:line when it does not fit), then added. */
static void add_text_rule(ac_mock *m, const char *head, ac__rule r, const char *completion) {
    ac__buf msg = {0};
    if (!check_completion(m->proto, head, completion, &r.spec, &r.cb, &msg))
        ac__mock_fail_fatal_buf(r.file, r.line, &msg);
    r.text = ac__xstrdup(completion);
    add_rule(m, r);
}

void ac__mock_on_call_complete(ac_mock *m, ac_when when, const char *completion, const char *file, int line) {
    char head[256];
    snprintf(head, sizeof head, "ac_mock_on_call_complete(%s", m->proto->name);
    add_text_rule(m, head, (ac__rule){.when = when, .file = file, .line = line}, completion);
}

void ac__mock_on_call_completef(ac_mock *m, ac_when when, const char *file, int line, const char *fmt, ...) {
    ac__buf text = {0};
    va_list ap;
    va_start(ap, fmt);
    ac__buf_vprintf(&text, fmt, ap);
    va_end(ap);
    char copy[1024]; /* on the stack: a bad completion fails fatally */
    snprintf(copy, sizeof copy, "%s", ac__buf_str(&text));
    ac__buf_free(&text);
    ac__mock_on_call_complete(m, when, copy, file, line);
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

void ac__mock_on_call_n_complete(ac_mock *m, size_t call_index, ac_when when, const char *completion,
                                 const char *file, int line) {
    char head[256];
    snprintf(head, sizeof head, "ac_mock_on_call_n_complete(%s, call #%zu", m->proto->name, call_index);
    for (const ac__rule *rl = m->rules; rl; rl = rl->next)
        if (rl->per_call && rl->call == call_index) { /* most likely a copy of the line above, misnumbered */
            ac__buf msg = {0};
            ac__buf_printf(&msg, "%s): call #%zu already has its completion, %s, from %s:%d (one per call)",
                           head, call_index, rl->text, base_name(rl->file), rl->line);
            ac__mock_fail_fatal_buf(file, line, &msg);
        }
    add_text_rule(m, head,
                  (ac__rule){.when = when, .per_call = true, .call = call_index, .file = file, .line = line},
                  completion);
}

void ac__mock_on_call_n_completef(ac_mock *m, size_t call_index, ac_when when, const char *file, int line,
                                  const char *fmt, ...) {
    ac__buf text = {0};
    va_list ap;
    va_start(ap, fmt);
    ac__buf_vprintf(&text, fmt, ap);
    va_end(ap);
    char copy[1024]; /* on the stack: a bad completion fails fatally */
    snprintf(copy, sizeof copy, "%s", ac__buf_str(&text));
    ac__buf_free(&text);
    ac__mock_on_call_n_complete(m, call_index, when, copy, file, line);
}

void ac__mock_on_call_complete_with(ac_mock *m, ac_when when, ac_completion_fn fn, void *ud, const char *file,
                                    int line) {
    if (!fn) {
        ac__buf msg = {0};
        ac__buf_printf(&msg, "ac_mock_on_call_complete_with(%s): the function is NULL", m->proto->name);
        ac__mock_fail_fatal_buf(file, line, &msg);
    }
    ac__buf text = {0}; /* for the report of a completion still held at the end */
    ac__buf_printf(&text, "a completion computed at delivery (%s:%d)", base_name(file), line);
    add_rule(m,
             (ac__rule){
                 .text = ac__buf_take(&text), .when = when, .fn = fn, .ud = ud, .file = file, .line = line});
}

/* ---- held completions ---- */

static ac__pending *find_held(ac_mock *m, bool any, size_t call) {
    ac__pending *found = NULL;
    pthread_mutex_lock(&m->w->lock);
    for (ac__pending *pd = m->pendings; pd; pd = pd->next) /* newest first: keep the last one seen */
        if (pd->held && (any || pd->call == call))
            found = pd;
    pthread_mutex_unlock(&m->w->lock);
    return found;
}

static bool deliver_held(ac__pending *pd) {
    if (!pd)
        return false;
    ac__pending copy = *pd;
    unlink_pending(pd);
    free(pd);
    deliver(&copy);
    return true;
}

bool ac_mock_deliver(ac_mock *m, size_t call_index) {
    return deliver_held(find_held(m, false, call_index));
}

bool ac_mock_deliver_next(ac_mock *m) {
    return deliver_held(find_held(m, true, 0));
}

size_t ac_mock_held_count(const ac_mock *m) {
    size_t n = 0;
    pthread_mutex_lock(&m->w->lock);
    for (const ac__pending *pd = m->pendings; pd; pd = pd->next)
        n += pd->held;
    pthread_mutex_unlock(&m->w->lock);
    return n;
}

size_t ac__mock_held_all(ac_test *t, ac__buf *which) {
    ac__world *w = ac__mock_world_of(t);
    if (!w)
        return 0;
    size_t n = 0;
    for (const ac_mock *m = w->mocks; m; m = m->next) {
        size_t h = ac_mock_held_count(m);
        if (h && which)
            ac__buf_printf(which, "%s%zu completion%s of %s held", which->len ? "\n" : "", h,
                           h == 1 ? "" : "s", ac_mock_name(m));
        n += h;
    }
    return n;
}

size_t ac_mock_completion_count(const ac_mock *m) {
    return __atomic_load_n(&m->completions, __ATOMIC_RELAXED);
}

/* ---- the test's end ---- */

void ac__completions_report_held(ac_mock *m) {
    size_t held = ac_mock_held_count(m);
    if (!held)
        return;
    ac__buf msg = {0}, got = {0};
    ac__buf_printf(&msg,
                   "%s: %zu completion%s still held at the end of the test (ac_deliver_held): deliver "
                   "with ac_mock_deliver_next",
                   m->proto->name, held, held == 1 ? "" : "s");
    for (ac__pending *pd = m->pendings; pd; pd = pd->next)
        if (pd->held)
            ac__buf_printf(&got, "%s%s for call #%zu", got.len ? "; " : "", pd->r->text, pd->call);
    ac__mock_fail(false, m->file, m->line, ac__buf_str(&msg), ac__buf_str(&got), NULL);
    ac__buf_free(&msg);
    ac__buf_free(&got);
}

void ac__completions_free(ac_mock *m, struct ev_loop *loop) {
    while (m->pendings) {
        ac__pending *pd = m->pendings;
        m->pendings = pd->next;
        ev_timer_stop(loop, &pd->timer);
        free(pd);
    }
    while (m->rules) {
        ac__rule *r = m->rules;
        m->rules = r->next;
        ac__completion_free(&r->spec);
        free(r->text);
        free(r);
    }
}
