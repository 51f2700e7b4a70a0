/* tlconv.c — a test's timeline ring (src/timeline/), read by the runner after the test's process ended,
 * into the result's timeline (report.h): every intact event, oldest first, with callbacks and watchers
 * named from this executable's symbols (the test ran the same executable, so its code addresses are
 * ours), and the counts of events recorded and lost. A scripted peer's and listener's own io is left
 * out (their steps are events of their own). It must not format reports (reporters do) and
 * never writes the ring. */
#include "runner.h"

#include <stdlib.h>
#include <string.h>

#include "../loop/loop.h"
#include "../timeline/timeline.h"

size_t ac__timeline_capacity(const ac__options *o, const ac__test_def *def) {
    if (o->timeline_events > 0)
        return (size_t)o->timeline_events;
    unsigned own = def ? def->options.timeline_events : 0;
    if (own)
        return own < 16 ? 16 : own > 16777216 ? 16777216 : own;
    return o->trace_dir ? AC_TL_TRACE_EVENTS : AC_TL_DEFAULT_EVENTS;
}

typedef struct collect_ctx {
    ac__timeline *out;
    size_t cap;
    unsigned long long harness; /* asyncheck's own io events, left out */
} collect_ctx;

static void add(void *ctx, const ac__tl_event *e) {
    collect_ctx *c = ctx;
    ac__timeline *t = c->out;
    bool watcher = e->kind == AC_TL_CALLBACK || e->kind == AC_TL_START || e->kind == AC_TL_STOP;
    /* a scripted peer's or listener's own io (its steps are events of their own) is left out, as the test
     * never wrote it; a mock's delivery, which names itself in the text, stays */
    if (watcher && ac__loop_tl_harness(e)) {
        c->harness++;
        return;
    }
    if (t->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        t->ev = ac__xrealloc(t->ev, c->cap * sizeof *t->ev);
    }
    ac__buf text = {0};
    if (watcher)
        ac__loop_tl_describe(&text, e);
    else
        ac__buf_append(&text, e->text, strnlen(e->text, sizeof e->text));
    bool slice = e->kind == AC_TL_CALLBACK;
    t->ev[t->n++] = (ac__tl_line){
        .kind = ac__tl_kind_name(e->kind),
        .iter = e->iter,
        .time = e->time,
        .cpu = slice ? e->cpu : 0,
        .slice = slice,
        .flow = e->kind == AC_TL_CALL || e->kind == AC_TL_COMPLETION ? e->flow : 0,
        .active = watcher ? (long)e->active : -1,
        .fds = slice ? e->fds : -1,
        .depth = e->depth,
        .text = ac__buf_take(&text),
    };
}

void ac__timeline_collect(const ac__tl_ring *ring, ac__timeline *out) {
    ac__timeline_free(out);
    if (!ring)
        return;
    collect_ctx c = {out, 0, 0};
    uint64_t lost = 0;
    out->total = ac__tl_read(ring, add, &c, &lost) - c.harness; /* what the timeline shows, lost or not */
    out->lost = lost;
    out->recorded = true;
}
