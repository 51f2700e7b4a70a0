/* mock.c — the mock object: a libffi closure per mock whose one generic handler records the call (into the
 * per-test world's arena and call log), has it counted against the expectations, produces the return
 * value (fixed, a sequence or a side effect's) and errno, and has its completions queued; the per-test
 * world (its lock, arena, log and the hand-over from other threads), torn down at the test's end after
 * the end-of-test checks. Arguments are values.c's, completions completions.c's, expectations
 * expect.c's. It never formats report text of its own: failures go through ac__report_failure. */
#include <errno.h>
#include <ev.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_internal.h"
#include "../context/context.h"
#include "asyncheck/replace.h"

static ac__world *current_world;

static void *arena_alloc(ac__world *w, size_t size) {
    size = (size + 15) & ~(size_t)15;
    ac__arena_block *b = w->arena;
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

void ac__mock_fail(bool fatal, const char *file, int line, const char *message, const char *got,
                   const char *expected) {
    ac__report_failure(AC_FK_ASSERTION, fatal, file, line, message, got, expected);
}

_Noreturn void ac__mock_fail_fatal_buf(const char *file, int line, ac__buf *msg) {
    ac__report_failure_buf(AC_FK_ASSERTION, true, file, line, msg, NULL, NULL);
    abort(); /* not reached */
}

/* ---- the call handler ---- */

static void record(ac_mock *m, void **args, ac_mock_call **out) {
    ac__world *w = m->w;
    ac_mock_call *c = arena_alloc(w, sizeof *c + m->proto->n * sizeof *c->args);
    c->mock = m;
    c->text = NULL;
    for (size_t i = 0; i < m->proto->n; i++)
        c->args[i] = ac__mock_arg_read(m->proto->params[i].kind, args[i]);
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
    c->seq = w->nlog;
    *out = c;
}

static void handler(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif;
    ac_mock *m = ud;
    ac__world *w = m->w;
    ac__buf msg = {0}, got = {0}, exp = {0};
    ac__slot r;
    memset(&r, 0, sizeof r);
    ac_mock_call *c;

    pthread_mutex_lock(&w->lock);
    record(m, args, &c);
    ac__expect_check(m, c, &msg, &got, &exp);
    if (m->seq_n) {
        size_t i = c->index < m->seq_n ? c->index : m->seq_n - 1;
        memcpy(&r, m->seq + i * ac__tkind_size(m->proto->ret.kind), ac__tkind_size(m->proto->ret.kind));
    } else if (m->has_return) {
        ac__slot_store_value(&r, m->proto->ret.kind, m->ret_value);
    }
    bool on_loop_thread = pthread_equal(pthread_self(), w->loop_thread);
    ac__pending *to_schedule = ac__completions_queue(m, c, on_loop_thread);
    pthread_mutex_unlock(&w->lock);
    if (ac__tl_on()) {
        ac__harness_call_begin(); /* a fault point does not count what this allocates */
        ac__buf text = {0};
        ac__mock_call_print(&text, c);
        ac__tl_printf(AC_TL_CALL, (uint32_t)c->seq, "%s #%zu", ac__buf_str(&text), c->index);
        ac__buf_free(&text);
        ac__harness_call_end();
    }

    if (msg.len) {
        char text[1024];
        snprintf(text, sizeof text, "%s", ac__buf_str(&msg));
        ac__mock_fail(false, m->file, m->line, text, ac__buf_str(&got), ac__buf_str(&exp));
    }
    ac__buf_free(&msg);
    ac__buf_free(&got);
    ac__buf_free(&exp);
    if (m->effect)
        m->effect(c, &r, m->effect_ud);
    ac__completions_after_call(m, c, to_schedule);
    if (!on_loop_thread) /* completions to schedule, or a loop waiting for calls (AC_AWAIT_CALLS) */
        ev_async_send(ac_loop(w->t), &w->incoming_async);
    ac__slot_write_return(ret, m->proto->ret.kind, &r);
    if (m->err)
        errno = m->err;
}

/* ---- the world ---- */

static void world_end(ac_test *t, void *ctx) {
    ac__world *w = ctx;
    struct ev_loop *loop = ac_loop(t);
    bool check = !ac__test_skipped(t) && !(ac__test_def_of(t)->options.allow & AC_ALLOW_PENDING_MOCKS);
    for (ac_mock *m = check ? w->mocks : NULL; m; m = m->next) { /* skipped or waived: nothing due */
        ac__expect_report_unmet(m);
        ac__completions_report_held(m);
    }
    /* free everything */
    while (w->mocks) {
        ac_mock *m = w->mocks;
        w->mocks = m->next;
        ac__completions_free(m, loop);
        for (size_t i = 0; i < m->ncalls; i++) {
            for (size_t k = 0; k < m->proto->n; k++)
                free(m->calls[i]->args[k].str);
            free(m->calls[i]->text);
        }
        free(m->calls);
        ac__expect_free(m);
        free(m->seq);
        ffi_closure_free(m->closure);
        ac__proto_free(m->proto);
        free(m);
    }
    ev_ref(loop);
    ev_async_stop(loop, &w->incoming_async);
    free(w->log);
    while (w->arena) {
        ac__arena_block *b = w->arena;
        w->arena = b->next;
        free(b);
    }
    pthread_mutex_destroy(&w->lock);
    if (current_world == w)
        current_world = NULL;
    free(w);
}

static ac__world *world_for(ac_test *t) {
    if (current_world && current_world->t == t)
        return current_world;
    ac__world *w = ac__xcalloc(1, sizeof *w);
    w->t = t;
    w->loop_thread = pthread_self();
    pthread_mutex_init(&w->lock, NULL);
    ev_async_init(&w->incoming_async, ac__completions_incoming_cb);
    w->incoming_async.data = w;
    ev_async_start(ac_loop(t), &w->incoming_async);
    ev_unref(ac_loop(t)); /* it must not keep the loop alive by itself */
    current_world = w;
    ac__at_test_end(t, world_end, w);
    return w;
}

ac__world *ac__mock_world_of(ac_test *t) {
    return current_world && current_world->t == t ? current_world : NULL;
}

/* ---- the public API ---- */

ac_mock *ac__mock_new(ac_test *t, const char *prototype, const char *file, int line) {
    ac__buf err = {0};
    ac__proto *p = ac__proto_parse(prototype, &err);
    if (!p) {
        ac__buf msg = {0};
        ac__buf_printf(&msg, "ac_mock_new: bad prototype %s", ac__buf_str(&err));
        ac__buf_free(&err);
        ac__mock_fail_fatal_buf(file, line, &msg);
    }
    ac__world *w = world_for(t);
    ac_mock *m = ac__xcalloc(1, sizeof *m);
    m->w = w;
    m->proto = p;
    m->file = file;
    m->line = line;
    m->expectations_tail = &m->expectations;
    m->closure = ffi_closure_alloc(sizeof(ffi_closure), &m->fn);
    if (!m->closure || ffi_prep_closure_loc(m->closure, &p->cif, handler, m, m->fn) != FFI_OK) {
        ac__buf msg = {0};
        ac__buf_printf(&msg, "ac_mock_new: libffi could not make a closure for %s", p->name);
        ac__mock_fail_fatal_buf(file, line, &msg);
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
    ac__buf err = {0};
    if (ac__typedef_add(name, type, &err) < 0) {
        ac__buf msg = {0};
        ac__buf_printf(&msg, "ac_mock_typedef(\"%s\"): bad type %s", name, ac__buf_str(&err));
        ac__buf_free(&err);
        ac__mock_fail_fatal_buf(NULL, 0, &msg);
    }
}

void ac__mock_returns(ac_mock *m, ac__value v) {
    if (m->proto->ret.kind == AC_TK_VOID) {
        ac__buf msg = {0};
        ac__buf_printf(&msg, "ac_mock_returns: %s returns void", m->proto->name);
        ac__mock_fail_fatal_buf(m->file, m->line, &msg);
    }
    m->has_return = true;
    m->ret_value = v;
}

void ac_mock_returns_seq(ac_mock *m, const void *values, size_t n) {
    size_t size = ac__tkind_size(m->proto->ret.kind);
    if (size == 0 || n == 0) {
        ac__buf msg = {0};
        ac__buf_printf(&msg, "ac_mock_returns_seq: %s",
                       size == 0 ? "the function returns void" : "no values");
        ac__mock_fail_fatal_buf(m->file, m->line, &msg);
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

long ac__mock_param_index(const ac__proto *p, const char *name) {
    for (size_t i = 0; i < p->n; i++)
        if (p->names[i] && strcmp(p->names[i], name) == 0)
            return (long)i;
    return -1;
}

size_t ac__mock_arg_index(const ac_mock *m, const char *name, const char *file, int line) {
    long i = ac__mock_param_index(m->proto, name);
    if (i < 0) {
        ac__buf msg = {0};
        ac__buf_printf(&msg, "%s has no parameter named %s", m->proto->name, name);
        ac__mock_fail_fatal_buf(file, line, &msg);
    }
    return (size_t)i;
}

void ac__mock_warm(void) {
    void *code;
    ffi_closure *c = ffi_closure_alloc(sizeof(ffi_closure), &code);
    if (c)
        ffi_closure_free(c);
}

/* ---- the calls made ---- */

size_t ac_mock_call_count(const ac_mock *m) {
    pthread_mutex_lock(&m->w->lock);
    size_t n = m->ncalls;
    pthread_mutex_unlock(&m->w->lock);
    return n;
}

const ac_mock_call *ac_mock_call_at(const ac_mock *m, size_t i) {
    pthread_mutex_lock(&m->w->lock);
    const ac_mock_call *c = i < m->ncalls ? m->calls[i] : NULL;
    pthread_mutex_unlock(&m->w->lock);
    return c;
}

size_t ac_mock_log_count(ac_test *t) {
    ac__world *w = ac__mock_world_of(t);
    if (!w)
        return 0;
    pthread_mutex_lock(&w->lock);
    size_t n = w->nlog;
    pthread_mutex_unlock(&w->lock);
    return n;
}

const ac_mock_call *ac_mock_log_at(ac_test *t, size_t i) {
    ac__world *w = ac__mock_world_of(t);
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
