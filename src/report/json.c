/* json.c — JSON lines for tools: one {"type":"test",…} record per result, in order, streamed and
 * flushed as results arrive (with an "exploration" object when the test was explored), then one
 * {"type":"summary",…} record. Strings are JSON-escaped. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

typedef struct json {
    ac__reporter base;
    FILE *out;
    bool own;
    ac__run_info info;
} json;

static const char *const outcome_names[] = {"pass", "fail", "skip"};

static void put_string(ac__buf *b, const char *s, size_t n) {
    ac__escape_json(b, s, n);
}

static void key_string(ac__buf *b, const char *key, const char *value) {
    ac__buf_printf(b, ",\"%s\":", key);
    if (value)
        put_string(b, value, strlen(value));
    else
        ac__buf_puts(b, "null");
}

/* ,"stdout":"...","stdout_dropped":N — all of it, or the head, the bytes cut after it, and
 * ,"stdout_tail":"..." with the rest. */
static void json_capture(ac__buf *b, const char *name, const ac__capture *c) {
    ac__capture_parts v = ac__capture_view(c);
    ac__buf_printf(b, ",\"%s\":", name);
    if (v.cut == 0) {
        ac__buf all = {0};
        ac__capture_join(c, &all);
        put_string(b, ac__buf_str(&all), all.len);
        ac__buf_free(&all);
    } else {
        put_string(b, v.head, v.head_len);
    }
    ac__buf_printf(b, ",\"%s_dropped\":%zu", name, v.cut);
    if (v.cut) {
        ac__buf_printf(b, ",\"%s_tail\":", name);
        put_string(b, v.tail, v.tail_len);
    }
}

/* ,"timeline_events":N,"timeline_lost":L,"timeline":[{"iter":…,"time_s":…,"kind":"…","text":"…"
 * (,"cpu_us":… for a callback, null when it did not return)(,"flow":… for a mock call and completion)},…]
 * — the last `show` events. */
static void json_timeline(ac__buf *b, const ac__timeline *tl, size_t show) {
    ac__buf_printf(b, ",\"timeline_events\":%llu,\"timeline_lost\":%llu,\"timeline\":[", tl->total, tl->lost);
    size_t from = ac__timeline_first_shown(tl, show);
    for (size_t i = from; i < tl->n; i++) {
        const ac__tl_line *l = &tl->ev[i];
        ac__buf_printf(b, "%s{\"iter\":%lu,\"time_s\":%.6f", i > from ? "," : "", l->iter, l->time);
        key_string(b, "kind", l->kind);
        key_string(b, "text", l->text);
        if (l->slice && l->cpu < 0)
            ac__buf_puts(b, ",\"cpu_us\":null");
        else if (l->slice)
            ac__buf_printf(b, ",\"cpu_us\":%.0f", l->cpu * 1e6);
        if (l->flow)
            ac__buf_printf(b, ",\"flow\":%lu", l->flow);
        ac__buf_puts(b, "}");
    }
    ac__buf_puts(b, "]");
}

static void begin(ac__reporter *r, const ac__run_info *info) {
    ((json *)r)->info = *info;
}

static void result(ac__reporter *r, const ac__result *res) {
    json *j = (json *)r;
    ac__buf b = {0}, name = {0};
    ac__full_name(res->def, &name);
    ac__buf_puts(&b, "{\"type\":\"test\"");
    key_string(&b, "name", ac__buf_str(&name));
    key_string(&b, "suite", res->def->suite);
    key_string(&b, "file", res->def->file);
    ac__buf_printf(&b, ",\"line\":%d,\"number\":%zu", res->def->line, res->number);
    if (res->repeats > 1)
        ac__buf_printf(&b, ",\"repeat\":%u,\"repeats\":%u", res->repeat, res->repeats);
    ac__buf_printf(&b, ",\"outcome\":\"%s\"", outcome_names[res->outcome]);
    if (res->not_run)
        ac__buf_puts(&b, ",\"not_run\":true");
    ac__buf_printf(&b, ",\"duration_ms\":%.3f", res->duration * 1000.0);
    if (j->info.shuffled)
        ac__buf_printf(&b, ",\"seed\":%llu", j->info.seed);
    if (res->skip_reason)
        key_string(&b, "skip_reason", res->skip_reason);
    const ac__exploration *x = &res->exploration;
    if (x->explored && res->outcome != AC_SKIP) {
        ac__buf_printf(
            &b,
            ",\"exploration\":{\"mode\":\"%s\",\"schedules\":%u,\"schedules_total\":%u,\"runs\":%u,"
            "\"cancel_sweep\":%s,\"cancel_points\":%u,\"check_determinism\":%s",
            x->mode, x->schedules, x->schedules_total, x->runs, x->sweep ? "true" : "false", x->cancel_points,
            x->determinism ? "true" : "false");
        if (x->fault_sweep) /* only for fault sweeps: other explorations' objects stay as they were */
            ac__buf_printf(&b, ",\"fault_sweep\":true,\"fault_points\":%u", x->fault_points);
        ac__buf_puts(&b, ",\"budget_s\":");
        if (x->budget > 0)
            ac__buf_printf(&b, "%g", x->budget);
        else
            ac__buf_puts(&b, "null");
        ac__buf_printf(&b, ",\"budget_reached\":%s", x->budget_reached ? "true" : "false");
        if (x->shard_count) { /* the schedules that ran: first + step * j, j < schedules */
            ac__buf s = {0};
            ac__exploration_shard_text(x, &s);
            ac__buf_printf(&b, ",\"shard\":{\"index\":%u,\"count\":%u,\"share\":%u,\"first\":%u,\"step\":%u",
                           x->shard_index, x->shard_count, x->shard_share, x->shard_index, x->shard_count);
            ac__buf_printf(&b, ",\"last\":%u", ac__exploration_shard_last(x));
            key_string(&b, "schedules", ac__buf_str(&s));
            ac__buf_puts(&b, "}");
            ac__buf_free(&s);
        }
        ac__buf_puts(&b, "}");
    }
    ac__buf_puts(&b, ",\"failures\":[");
    for (size_t i = 0; i < res->nfailures; i++) {
        const ac__failure *f = &res->failures[i];
        ac__buf_printf(&b, "%s{\"kind\":\"%s\",\"fatal\":%s", i ? "," : "", ac__failure_kind_name(f->kind),
                       f->fatal ? "true" : "false");
        key_string(&b, "message", f->message);
        key_string(&b, "file", f->file);
        ac__buf_printf(&b, ",\"line\":%d", f->line);
        key_string(&b, "phase", f->phase);
        key_string(&b, "got", f->got);
        key_string(&b, "expected", f->expected);
        ac__buf_puts(&b, "}");
    }
    ac__buf_printf(&b, "],\"failures_omitted\":%zu", res->failures_omitted);
    json_capture(&b, "stdout", &res->out);
    json_capture(&b, "stderr", &res->err);
    if (res->outcome == AC_FAIL && j->info.timeline && res->timeline.total)
        json_timeline(&b, &res->timeline, j->info.timeline);
    ac__buf_puts(&b, "}\n");
    fwrite(b.data, 1, b.len, j->out);
    fflush(j->out);
    ac__buf_free(&b);
    ac__buf_free(&name);
}

static int end(ac__reporter *r, const ac__summary *s) {
    json *j = (json *)r;
    fprintf(
        j->out,
        "{\"type\":\"summary\",\"total\":%zu,\"passed\":%zu,\"failed\":%zu,\"skipped\":%zu,\"not_run\":%zu,"
        "\"duration_ms\":%.3f",
        s->total, s->passed, s->failed, s->skipped, s->not_run, s->duration * 1000.0);
    if (j->info.shuffled)
        fprintf(j->out, ",\"seed\":%llu", j->info.seed);
    fprintf(j->out, "}\n");
    fflush(j->out);
    return ferror(j->out) ? -1 : 0;
}

static void destroy(ac__reporter *r) {
    json *j = (json *)r;
    if (j->own)
        fclose(j->out);
    free(j);
}

ac__reporter *ac__json_reporter(FILE *out, bool own_file) {
    json *j = ac__xcalloc(1, sizeof *j);
    j->base = (ac__reporter){begin, result, NULL, end, destroy};
    j->out = out;
    j->own = own_file;
    return &j->base;
}
