/* expect.c — what a test expects of a mock's calls: the matchers (ac_any, ac_str, ...), expectations set
 * ahead (AC_MOCK_EXPECT with times, order; counted as calls come, unmet ones failed at the test's end),
 * and the assertions on the calls made (AC_ASSERT_CALLED, AC_ASSERT_CALLED_WITH, AC_AWAIT_CALLS'
 * description). It must not record calls, produce return values or touch completions. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_internal.h"
#include "../context/context.h"

enum { M_ANY, M_EQ, M_STR, M_PTR, M_RANGE, M_THAT };

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

/* ---- text ---- */

static void print_matcher(ac__buf *b, const ac_matcher *m) {
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

static void print_expectation(ac__buf *b, const ac_expectation *e) {
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

static void print_calls(ac__buf *b, const ac_mock *m) {
    pthread_mutex_lock(&m->w->lock);
    if (m->ncalls == 0)
        ac__buf_printf(b, "no calls of %s", m->proto->name);
    for (size_t i = 0; i < m->ncalls; i++)
        ac__buf_printf(b, "%s#%zu %s", i ? "; " : "", i, ac_mock_call_text(m->calls[i]));
    pthread_mutex_unlock(&m->w->lock);
}

/* ---- matching ---- */

static bool matches(const ac_matcher *mt, const ac_mock_call *c, size_t i) {
    const ac__mock_arg *a = &c->args[i];
    switch (mt->kind) {
    case M_ANY:
        return true;
    case M_EQ:
        return ac__value_compare(ac__mock_arg_value(a), mt->value) == 0;
    case M_STR:
        if (a->kind != AC_TK_STR)
            return a->v.p && mt->str && strcmp(a->v.p, mt->str) == 0;
        return (a->str == NULL || mt->str == NULL) ? a->str == mt->str : strcmp(a->str, mt->str) == 0;
    case M_PTR:
        return a->v.p == mt->value.as.p;
    case M_RANGE: {
        int lo = ac__value_compare(ac__mock_arg_value(a), mt->value),
            hi = ac__value_compare(ac__mock_arg_value(a), mt->high);
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

/* ---- expectations ---- */

ac_expectation *ac__mock_expect(ac_mock *m, const ac_matcher *matchers, size_t n, const char *file,
                                int line) {
    if (matchers && n != m->proto->n) {
        ac__buf msg = {0};
        ac__buf_printf(&msg, "AC_MOCK_EXPECT(%s): %zu matcher%s for %zu parameter%s", m->proto->name, n,
                       n == 1 ? "" : "s", m->proto->n, m->proto->n == 1 ? "" : "s");
        ac__mock_fail_fatal_buf(file, line, &msg);
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

void ac__expect_check(ac_mock *m, const ac_mock_call *c, ac__buf *msg, ac__buf *got, ac__buf *exp) {
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

void ac__expect_report_unmet(ac_mock *m) {
    for (ac_expectation *e = m->expectations; e; e = e->next) {
        if (e->count >= e->min)
            continue;
        ac__buf msg = {0}, got = {0}, exp = {0};
        ac__buf_puts(&msg, "unmet expectation: ");
        print_expectation(&msg, e);
        print_calls(&got, m);
        print_expectation(&exp, e);
        ac__mock_fail(false, e->file, e->line, ac__buf_str(&msg), ac__buf_str(&got), ac__buf_str(&exp));
        ac__buf_free(&msg);
        ac__buf_free(&got);
        ac__buf_free(&exp);
    }
}

void ac__expect_free(ac_mock *m) {
    while (m->expectations) {
        ac_expectation *e = m->expectations;
        m->expectations = e->next;
        free(e->matchers);
        free(e);
    }
}

/* ---- assertions on calls ---- */

static bool fail_check(const ac__site *s, const char *detail, ac__buf *got, ac__buf *exp) {
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
    ac__mock_fail(s->fatal, s->file, s->line, message, g, e);
    return false;
}

static void describe_calls(const void *ctx, ac__buf *out) {
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
    ac__buf got = {0}, exp = {0};
    char detail[256];
    snprintf(detail, sizeof detail, "%s was called %zu time%s", m->proto->name, calls, calls == 1 ? "" : "s");
    print_calls(&got, m);
    ac__buf_printf(&exp, "%zu call%s", n, n == 1 ? "" : "s");
    return fail_check(s, detail, &got, &exp);
}

bool ac__check_called_with(const ac__site *s, const ac_mock *m, const ac_matcher *mts, size_t n) {
    if (n != m->proto->n) {
        ac__buf msg = {0};
        ac__buf_printf(&msg, "%s: %zu matchers for %zu parameters of %s", s->macro, n, m->proto->n,
                       m->proto->name);
        ac__mock_fail_fatal_buf(s->file, s->line, &msg);
    }
    pthread_mutex_lock(&m->w->lock);
    bool found = false;
    for (size_t i = 0; i < m->ncalls && !found; i++)
        found = matches_all(mts, n, m->calls[i]);
    pthread_mutex_unlock(&m->w->lock);
    if (found)
        return true;
    ac__buf got = {0}, exp = {0};
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
