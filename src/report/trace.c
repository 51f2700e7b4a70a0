/* trace.c — --trace DIR: one Chrome Trace Event Format file (JSON; it opens in ui.perfetto.dev and
 * chrome://tracing) per failing test, or per test with --trace-all, from the result's timeline. The
 * file is named after the test (sanitized, and a hash of its name where that changed it), its schedule
 * seed and, when the run repeats tests, the repetition; its "otherData" carry the test, the seed, the replay
 * line and how many events the test recorded, how many are in the file and how many were lost (the ring
 * wrapped).
 *
 * Layout: one process; track 1 is the loop: a complete ("X") slice per callback, placed at its virtual
 * time in µs, or right after the previous slice when that one is not over yet (many callbacks run at one
 * virtual instant), lasting the CPU time it used (at least 1 µs; a callback that did not return lasts
 * 1 µs and says so); callbacks of a nested ev_run go to tracks 2, 3, ... by depth. Every other event is a
 * thread instant ("i") on track 1, never before the last event on it (timestamps never go back on a
 * track). A mock call whose completion is in the file starts a flow ("s") and its first completion ends
 * it ("f", bound to the enclosing slice), with the call's id. Counters ("C"): the active watchers at
 * each callback, start and stop, the open descriptors at each callback. It must not touch processes or
 * loops; a file it cannot write is named on stderr and the run goes on. */
#include "report.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct trace {
    ac__reporter base;
    char *dir;
    bool all;
    char *prog;
    unsigned failed_writes;
} trace;

static void begin(ac__reporter *r, const ac__run_info *info) {
    (void)r, (void)info;
}

static void put_string(ac__buf *b, const char *s) {
    ac__escape_json(b, s, strlen(s));
}

#define NAME_MAX_KEPT 160 /* of the test's name in a file name (a file name is at most 255 bytes) */

/* "suite.name" with every byte outside [A-Za-z0-9._-] made '_', at most NAME_MAX_KEPT bytes of it; when
 * that changed the name, "-h" and 8 hex digits of a hash of the whole name follow, so that tests whose
 * names differ only there ("a b", "a:b" and "a_b": "a_b-h…", "a_b-h…", "a_b") do not share a file, and a
 * test keeps its file name from run to run. */
static void sanitized(ac__buf *b, const char *s) {
    bool changed = false;
    size_t n = 0;
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = s; *p; p++, n++) {
        char c = *p;
        h = (h ^ (unsigned char)c) * 16777619u;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == '-';
        changed |= !ok || n >= NAME_MAX_KEPT;
        if (n < NAME_MAX_KEPT)
            ac__buf_append(b, ok ? &c : "_", 1);
    }
    if (changed)
        ac__buf_printf(b, "-h%08x", (unsigned)h);
}

#define MAX_DEPTH_TRACKS 4

typedef struct layout {
    double last[1 + MAX_DEPTH_TRACKS]; /* per track: the last timestamp written */
    double slice_end[1 + MAX_DEPTH_TRACKS];
    bool first;
} layout;

static void event_head(ac__buf *b, layout *l, const char *ph, double ts, int tid) {
    ac__buf_printf(b, "%s\n{\"ph\":\"%s\",\"pid\":1,\"tid\":%d,\"ts\":%.3f", l->first ? "" : ",", ph, tid,
                   ts);
    l->first = false;
}

static void counter(ac__buf *b, layout *l, const char *name, const char *key, long v, double ts) {
    if (ts < l->last[1])
        ts = l->last[1];
    l->last[1] = ts;
    event_head(b, l, "C", ts, 1);
    ac__buf_printf(b, ",\"name\":\"%s\",\"args\":{\"%s\":%ld}}", name, key, v);
}

/* Whether call `flow` has a completion after index i (only then does it start a flow). */
static bool completed_later(const ac__timeline *t, size_t i, unsigned long flow) {
    for (size_t k = i + 1; k < t->n; k++)
        if (t->ev[k].flow == flow && strcmp(t->ev[k].kind, "complete") == 0)
            return true;
    return false;
}

static void write_events(ac__buf *b, const ac__result *res, layout *l) {
    const ac__timeline *t = &res->timeline;
    unsigned long *started = ac__xcalloc(t->n + 1, sizeof *started); /* flows started, not yet finished */
    size_t nstarted = 0;
    for (size_t i = 0; i < t->n; i++) {
        const ac__tl_line *e = &t->ev[i];
        double vt = e->time * 1e6;
        if (e->slice) {
            int tid = 1 + (e->depth < MAX_DEPTH_TRACKS ? e->depth : MAX_DEPTH_TRACKS);
            double ts = vt;
            if (ts < l->slice_end[tid])
                ts = l->slice_end[tid];
            if (ts < l->last[tid])
                ts = l->last[tid];
            double dur = e->cpu > 0 ? e->cpu * 1e6 : 0;
            if (dur < 1)
                dur = 1;
            event_head(b, l, "X", ts, tid);
            ac__buf_printf(b, ",\"dur\":%.3f,\"cat\":\"%s\",\"name\":", dur, e->kind);
            put_string(b, e->text);
            ac__buf_printf(b, ",\"args\":{\"iteration\":%lu,\"virtual_time_s\":%.6f", e->iter, e->time);
            if (e->cpu < 0)
                ac__buf_puts(b, ",\"returned\":false");
            else
                ac__buf_printf(b, ",\"cpu_us\":%.3f", e->cpu * 1e6);
            ac__buf_puts(b, "}}");
            l->last[tid] = ts;
            l->slice_end[tid] = ts + dur;
            if (tid != 1 && l->last[1] < ts)
                l->last[1] = ts;
            if (e->active >= 0)
                counter(b, l, "active watchers", "watchers", e->active, ts);
            if (e->fds >= 0)
                counter(b, l, "open fds", "fds", e->fds, ts);
            continue;
        }
        double ts = vt > l->last[1] ? vt : l->last[1];
        event_head(b, l, "i", ts, 1);
        ac__buf_printf(b, ",\"s\":\"t\",\"cat\":\"%s\",\"name\":", e->kind);
        ac__buf sname = {0};
        ac__buf_printf(&sname, "%s %s", e->kind, e->text);
        put_string(b, ac__buf_str(&sname));
        ac__buf_free(&sname);
        ac__buf_printf(b, ",\"args\":{\"iteration\":%lu,\"virtual_time_s\":%.6f", e->iter, e->time);
        if (e->flow)
            ac__buf_printf(b, ",\"call_id\":%lu", e->flow);
        ac__buf_puts(b, "}}");
        l->last[1] = ts;
        if (e->flow && strcmp(e->kind, "call") == 0 && completed_later(t, i, e->flow)) {
            event_head(b, l, "s", ts, 1);
            ac__buf_printf(b, ",\"cat\":\"mock\",\"name\":\"mock call\",\"id\":%lu}", e->flow);
            started[nstarted++] = e->flow;
        } else if (e->flow && strcmp(e->kind, "complete") == 0) {
            for (size_t k = 0; k < nstarted; k++)
                if (started[k] == e->flow) {
                    event_head(b, l, "f", ts, 1);
                    ac__buf_printf(b, ",\"bp\":\"e\",\"cat\":\"mock\",\"name\":\"mock call\",\"id\":%lu}",
                                   e->flow);
                    started[k] = started[--nstarted];
                    break;
                }
        }
        if (e->active >= 0)
            counter(b, l, "active watchers", "watchers", e->active, ts);
    }
    free(started);
}

static void result(ac__reporter *r, const ac__result *res) {
    trace *tr = (trace *)r;
    if (!res->timeline.recorded || (!tr->all && res->outcome != AC_FAIL))
        return;
    ac__buf name = {0}, file = {0}, path = {0}, replay = {0}, b = {0};
    ac__full_name(res->def, &name);
    sanitized(&file, ac__buf_str(&name));
    ac__buf_printf(&file, "-seed%llu", res->seed);
    if (res->repeats > 1)
        ac__buf_printf(&file, "-r%u", res->repeat);
    ac__buf_puts(&file, ".json");
    ac__buf_printf(&path, "%s/%s", tr->dir, ac__buf_str(&file));
    if (res->replay)
        ac__buf_puts(&replay, res->replay);
    else {
        ac__buf_printf(&replay, "%s --filter='", tr->prog); /* a glob: exact for names without *?[]\ */
        for (const char *c = ac__buf_str(&name); *c; c++)
            ac__buf_puts(&replay, *c == '\'' ? "'\\''" : (char[]){*c, 0});
        ac__buf_puts(&replay, "'");
        if (res->seed)
            ac__buf_printf(&replay, " --seed=%llu", res->seed);
    }
    const char *outcome = res->outcome == AC_PASS ? "pass" : res->outcome == AC_FAIL ? "fail" : "skip";
    layout l = {.first = true};
    ac__buf_puts(&b, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"test\":");
    put_string(&b, ac__buf_str(&name));
    ac__buf_printf(&b, ",\"seed\":\"%llu\",\"outcome\":\"%s\",\"replay\":", res->seed, outcome);
    put_string(&b, ac__buf_str(&replay));
    ac__buf_printf(&b,
                   ",\"events_recorded\":\"%llu\",\"events_in_file\":\"%zu\",\"events_lost\":\"%llu\","
                   "\"time\":\"the test's clock in microseconds since its loop was made\"},\"traceEvents\":[",
                   res->timeline.total, res->timeline.n, res->timeline.lost);
    event_head(&b, &l, "M", 0, 0);
    ac__buf_puts(&b, ",\"name\":\"process_name\",\"args\":{\"name\":");
    ac__buf pname = {0};
    ac__buf_printf(&pname, "%s (seed %llu, %s)", ac__buf_str(&name), res->seed, outcome);
    put_string(&b, ac__buf_str(&pname));
    ac__buf_free(&pname);
    ac__buf_puts(&b, "}}");
    event_head(&b, &l, "M", 0, 0);
    ac__buf_puts(&b, ",\"name\":\"process_labels\",\"args\":{\"labels\":");
    ac__buf label = {0};
    ac__buf_printf(&label, "replay: %s", ac__buf_str(&replay));
    put_string(&b, ac__buf_str(&label));
    ac__buf_free(&label);
    ac__buf_puts(&b, "}}");
    for (int tid = 1; tid <= 1 + MAX_DEPTH_TRACKS; tid++) {
        event_head(&b, &l, "M", 0, tid);
        if (tid == 1)
            ac__buf_puts(&b, ",\"name\":\"thread_name\",\"args\":{\"name\":\"loop\"}}");
        else
            ac__buf_printf(
                &b, ",\"name\":\"thread_name\",\"args\":{\"name\":\"loop (nested ev_run, depth %d)\"}}",
                tid - 1);
    }
    write_events(&b, res, &l);
    ac__buf_puts(&b, "\n]}\n");
    FILE *f = fopen(ac__buf_str(&path), "w");
    bool ok = f && fwrite(b.data, 1, b.len, f) == b.len;
    int err = errno;
    if (f && fclose(f) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (!ok && tr->failed_writes++ < 5)
        fprintf(stderr, "asyncheck: --trace: could not write %s: %s\n", ac__buf_str(&path), strerror(err));
    ac__buf_free(&name);
    ac__buf_free(&file);
    ac__buf_free(&path);
    ac__buf_free(&replay);
    ac__buf_free(&b);
}

static int end(ac__reporter *r, const ac__summary *sum) {
    (void)sum;
    return ((trace *)r)->failed_writes ? -1 : 0;
}

static void destroy(ac__reporter *r) {
    trace *tr = (trace *)r;
    free(tr->dir);
    free(tr->prog);
    free(tr);
}

ac__reporter *ac__trace_reporter(const char *dir, bool all, const char *prog) {
    trace *tr = ac__xcalloc(1, sizeof *tr);
    tr->base = (ac__reporter){begin, result, NULL, end, destroy};
    tr->dir = ac__xstrdup(dir);
    tr->all = all;
    tr->prog = ac__xstrdup(prog ? prog : "test");
    return &tr->base;
}
