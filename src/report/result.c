/* result.c — building and releasing results. Shared by the runner (which fills results) and the
 * reporters (which only read them). */
#include "report.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"assertion", "crash",       "exit",     "timeout",  "watchers",
                                         "harness",   "interrupted", "schedule", "sanitizer"};

const char *ac__failure_kind_name(ac__failure_kind k) {
    return kind_names[k];
}

static char *dup_or_null(const char *s) {
    return s ? ac__xstrdup(s) : NULL;
}

void ac__result_add_failure(ac__result *r, ac__failure_kind kind, bool fatal, const char *file, int line,
                            const char *message, const char *got, const char *expected) {
    r->failures = ac__xrealloc(r->failures, (r->nfailures + 1) * sizeof *r->failures);
    r->failures[r->nfailures++] = (ac__failure){kind,
                                                fatal,
                                                dup_or_null(file),
                                                line,
                                                ac__xstrdup(message ? message : "failed"),
                                                dup_or_null(got),
                                                dup_or_null(expected),
                                                r->phase};
}

static void failure_free(ac__failure *f) {
    free(f->file);
    free(f->message);
    free(f->got);
    free(f->expected);
}

void ac__result_add_test_failure(ac__result *r, ac__failure_kind kind, bool fatal, const char *file, int line,
                                 const char *message, const char *got, const char *expected) {
    if (r->nfailures < AC_FAILURE_LIMIT) {
        ac__result_add_failure(r, kind, fatal, file, line, message, got, expected);
        return;
    }
    r->failures_omitted++;
    if (!fatal)
        return;
    /* the slot after the limit holds the latest fatal failure; the one it replaces is counted */
    if (r->nfailures > AC_FAILURE_LIMIT) {
        failure_free(&r->failures[--r->nfailures]);
    } else {
        r->failures_omitted--;
    }
    ac__result_add_failure(r, kind, fatal, file, line, message, got, expected);
}

const char *ac__phase_name(const char *name) {
    static const char *const phases[] = {"setup", "body", "drain", "cancel", "teardown", "end"};
    for (size_t i = 0; name && i < sizeof phases / sizeof *phases; i++)
        if (strcmp(name, phases[i]) == 0)
            return phases[i];
    return NULL;
}

void ac__result_settle(ac__result *r) {
    if (r->nfailures)
        r->outcome = AC_FAIL;
    else if (r->skip_reason)
        r->outcome = AC_SKIP;
    else
        r->outcome = AC_PASS;
}

void ac__capture_add(ac__capture *c, const char *p, size_t n) {
    size_t room = c->text.len < AC_CAPTURE_HEAD ? AC_CAPTURE_HEAD - c->text.len : 0;
    size_t head = n < room ? n : room;
    ac__buf_append(&c->text, p, head);
    p += head, n -= head;
    if (n == 0)
        return;
    if (n >= AC_CAPTURE_TAIL) { /* this chunk alone fills the tail */
        c->dropped += c->tail.len + n - AC_CAPTURE_TAIL;
        c->tail.len = 0;
        ac__buf_append(&c->tail, p + n - AC_CAPTURE_TAIL, AC_CAPTURE_TAIL);
        return;
    }
    if (c->tail.len + n > 2 * AC_CAPTURE_TAIL) { /* keep the last AC_CAPTURE_TAIL bytes, then append */
        size_t cut = c->tail.len - AC_CAPTURE_TAIL;
        memmove(c->tail.data, c->tail.data + cut, AC_CAPTURE_TAIL);
        c->tail.len = AC_CAPTURE_TAIL;
        c->dropped += cut;
    }
    ac__buf_append(&c->tail, p, n);
}

ac__capture_parts ac__capture_view(const ac__capture *c) {
    size_t tail = c->tail.len < AC_CAPTURE_TAIL ? c->tail.len : AC_CAPTURE_TAIL;
    return (ac__capture_parts){.head = ac__buf_str(&c->text),
                               .head_len = c->text.len,
                               .cut = c->dropped + (c->tail.len - tail),
                               .tail = c->tail.len ? c->tail.data + c->tail.len - tail : "",
                               .tail_len = tail};
}

void ac__capture_join(const ac__capture *c, ac__buf *out) {
    ac__buf_append(out, c->text.data, c->text.len);
    ac__buf_append(out, c->tail.data, c->tail.len);
}

void ac__capture_free(ac__capture *c) {
    ac__buf_free(&c->text);
    ac__buf_free(&c->tail);
    c->dropped = 0;
}

void ac__props_free(ac__prop_obs *props, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(props[i].file);
        free(props[i].message);
        free(props[i].cond);
    }
    free(props);
}

void ac__result_free(ac__result *r) {
    for (size_t i = 0; i < r->nfailures; i++)
        failure_free(&r->failures[i]);
    free(r->failures);
    free(r->skip_reason);
    ac__props_free(r->props, r->nprops);
    r->props = NULL;
    r->nprops = 0;
    free(r->trace);
    r->trace = NULL;
    ac__capture_free(&r->out);
    ac__capture_free(&r->err);
    ac__buf_free(&r->notes);
    ac__timeline_free(&r->timeline);
    free(r->replay);
    r->replay = NULL;
    r->failures = NULL;
    r->nfailures = 0;
    r->failures_omitted = 0;
    r->skip_reason = NULL;
}

void ac__timeline_free(ac__timeline *t) {
    for (size_t i = 0; i < t->n; i++)
        free(t->ev[i].text);
    free(t->ev);
    memset(t, 0, sizeof *t);
}

size_t ac__timeline_first_shown(const ac__timeline *t, size_t n) {
    return t->n > n ? t->n - n : 0;
}

void ac__timeline_heading(ac__buf *b, const ac__timeline *t, size_t shown) {
    ac__buf_printf(
        b, "timeline: %s%zu of %llu event%s (iteration, seconds since the test's loop was made, event)",
        shown < t->total ? "last " : "", shown, t->total, t->total == 1 ? "" : "s");
    if (t->lost)
        ac__buf_printf(b, "; %llu earlier event%s lost (the ring holds the last %zu: --timeline-events)",
                       t->lost, t->lost == 1 ? "" : "s", t->n);
}

void ac__tl_line_format(ac__buf *b, const ac__tl_line *l) {
    ac__buf_printf(b, "%5lu  %10.6f  %-9s %s", l->iter, l->time, l->kind, l->text);
    if (l->slice && l->cpu < 0)
        ac__buf_puts(b, "  [did not return]");
    else if (l->slice)
        ac__buf_printf(b, "  [cpu %.0f us]", l->cpu * 1e6);
}

void ac__full_name(const ac__test_def *def, ac__buf *out) {
    /* no printf: a forked test child would fault in vfprintf's pages just for this */
    ac__buf_puts(out, def->suite);
    ac__buf_puts(out, ".");
    ac__buf_puts(out, def->name);
}

void ac__result_label(const ac__result *r, bool with_suite, ac__buf *out) {
    if (with_suite)
        ac__buf_printf(out, "%s.", r->def->suite);
    ac__buf_puts(out, r->def->name);
    if (r->repeats > 1)
        ac__buf_printf(out, " [%u/%u]", r->repeat, r->repeats);
}

unsigned ac__exploration_shard_last(const ac__exploration *x) {
    return x->schedules ? x->shard_index + x->shard_count * (x->schedules - 1) : 0;
}

void ac__exploration_shard_text(const ac__exploration *x, ac__buf *out) {
    if (!x->schedules) {
        ac__buf_puts(out, "none");
        return;
    }
    for (unsigned j = 0; j < x->schedules && j < 3; j++)
        ac__buf_printf(out, "%s%u", j ? ", " : "", x->shard_index + x->shard_count * j);
    if (x->schedules > 4)
        ac__buf_puts(out, ", \xe2\x80\xa6"); /* … */
    if (x->schedules > 3)
        ac__buf_printf(out, ", %u", ac__exploration_shard_last(x));
    ac__buf_printf(out, " (n \xe2\x89\xa1 %u mod %u, n \xe2\x89\xa4 %u)", x->shard_index % x->shard_count,
                   x->shard_count, ac__exploration_shard_last(x));
}
