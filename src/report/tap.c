/* tap.c — TAP version 14 (or 13 for older harnesses), streamed: the version line and the plan first,
 * then one test point per result in registration order with a YAML diagnostic block on failures and on
 * explored tests (what the exploration ran), flushed after each, so that a killed run leaves a valid
 * prefix. */
#include "report.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

typedef struct tap {
    ac__reporter base;
    FILE *out;
    bool own;
    int version;
    size_t timeline; /* the last events of a failing test's timeline to show (0: none) */
} tap;

static void begin(ac__reporter *r, const ac__run_info *info) {
    tap *t = (tap *)r;
    t->timeline = info->timeline;
    fprintf(t->out, "TAP version %d\n", t->version);
    if (info->total == 0)
        fprintf(t->out, "1..0 # SKIP no tests selected\n");
    else
        fprintf(t->out, "1..%zu\n", info->total);
    if (info->shuffled)
        fprintf(t->out, "# shuffled: replay this order with %s\n", info->replay);
    fflush(t->out);
}

/* A description, directive reason or comment on its one line: line ends and other control characters
 * (U+2028 and U+2029 among them) escaped; in a description also '#' and '\\', as TAP 14 asks. */
static void put_escaped(FILE *out, const char *s, size_t n, bool description) {
    ac__buf b = {0};
    ac__escape_line(&b, s, n, AC_ESC_CONTROLS | AC_ESC_COMMANDS | (description ? AC_ESC_BACKSLASH : 0));
    for (size_t i = 0; i < b.len; i++) {
        if (description && b.data[i] == '#')
            fputc('\\', out);
        fputc(b.data[i], out);
    }
    ac__buf_free(&b);
}

static void yaml_str(FILE *out, const char *key, const char *value, size_t n, const char *indent) {
    ac__buf b = {0};
    ac__escape_quoted(&b, value, n);
    fprintf(out, "%s%s: \"%s\"\n", indent, key, ac__buf_str(&b));
    ac__buf_free(&b);
}

static void yaml_failure(FILE *out, const ac__failure *f, const char *indent, const char *first) {
    fprintf(out, "%s", first);
    yaml_str(out, "message", f->message, strlen(f->message), "");
    fprintf(out, "%stype: %s\n", indent, ac__failure_kind_name(f->kind));
    if (f->file) {
        fprintf(out, "%sat:\n", indent);
        yaml_str(out, "  file", f->file, strlen(f->file), indent);
        fprintf(out, "%s  line: %d\n", indent, f->line);
    }
    if (f->phase)
        fprintf(out, "%sphase: %s\n", indent, f->phase);
    if (f->got)
        yaml_str(out, "got", f->got, strlen(f->got), indent);
    if (f->expected)
        yaml_str(out, "expected", f->expected, strlen(f->expected), indent);
}

/* "  stdout: ..." with all of it; or, when the middle was cut, the head, "  stdout_bytes_dropped: N" and
 * "  stdout_tail: ...". */
static void yaml_capture(FILE *out, const char *name, const ac__capture *c) {
    ac__capture_parts v = ac__capture_view(c);
    char key[32];
    if (v.cut == 0) {
        ac__buf all = {0};
        ac__capture_join(c, &all);
        if (all.len)
            yaml_str(out, name, all.data, all.len, "  ");
        ac__buf_free(&all);
        return;
    }
    yaml_str(out, name, v.head, v.head_len, "  ");
    fprintf(out, "  %s_bytes_dropped: %zu\n", name, v.cut);
    snprintf(key, sizeof key, "%s_tail", name);
    yaml_str(out, key, v.tail, v.tail_len, "  ");
}

/* Each note as a comment line after the test point (and its YAML block): "# note: file:line: message". */
static void put_notes(FILE *out, const ac__buf *notes) {
    const char *p = notes->len ? notes->data : "", *end = p + notes->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        fputs("# note: ", out);
        put_escaped(out, p, n, false);
        fputc('\n', out);
        p += n + (nl ? 1 : 0);
    }
}

/* What an explored test ran, as a YAML mapping (a passing test point carries a block with only this and
 * its duration). */
static void yaml_exploration(FILE *out, const ac__exploration *x) {
    fprintf(out, "  exploration:\n    mode: %s\n    schedules: %u\n    schedules_total: %u\n    runs: %u\n",
            x->mode, x->schedules, x->schedules_total, x->runs);
    fprintf(out, "    cancel_sweep: %s\n    cancel_points: %u\n    check_determinism: %s\n",
            x->sweep ? "true" : "false", x->cancel_points, x->determinism ? "true" : "false");
    if (x->fault_sweep)
        fprintf(out, "    fault_sweep: true\n    fault_points: %u\n", x->fault_points);
    if (x->budget > 0)
        fprintf(out, "    budget_s: %g\n", x->budget);
    fprintf(out, "    budget_reached: %s\n", x->budget_reached ? "true" : "false");
    if (x->shard_count) { /* the schedules that ran: shard_first + shard_step * j, j < schedules */
        ac__buf s = {0};
        ac__exploration_shard_text(x, &s);
        fprintf(out, "    shard: %u/%u\n    shard_share: %u\n    shard_first: %u\n    shard_step: %u\n",
                x->shard_index, x->shard_count, x->shard_share, x->shard_index, x->shard_count);
        fprintf(out, "    shard_last: %u\n    shard_schedules: %s\n", ac__exploration_shard_last(x),
                ac__buf_str(&s));
        ac__buf_free(&s);
    }
}

/* "  timeline_events: 57", "  timeline_lost: 0" and "  timeline:" with the last `show` events, one
 * quoted line each (the human report's aligned form). */
static void yaml_timeline(FILE *out, const ac__timeline *tl, size_t show) {
    fprintf(out, "  timeline_events: %llu\n  timeline_lost: %llu\n  timeline:\n", tl->total, tl->lost);
    ac__buf line = {0};
    for (size_t i = ac__timeline_first_shown(tl, show); i < tl->n; i++) {
        line.len = 0;
        ac__tl_line_format(&line, &tl->ev[i]);
        ac__buf q = {0};
        ac__escape_quoted(&q, line.data, line.len);
        fprintf(out, "    - \"%s\"\n", ac__buf_str(&q));
        ac__buf_free(&q);
    }
    ac__buf_free(&line);
}

static void result(ac__reporter *r, const ac__result *res) {
    tap *t = (tap *)r;
    FILE *out = t->out;
    fprintf(out, "%s %zu - ", res->outcome == AC_FAIL ? "not ok" : "ok", res->number);
    ac__buf label = {0};
    ac__result_label(res, true, &label);
    put_escaped(out, ac__buf_str(&label), label.len, true);
    ac__buf_free(&label);
    if (res->outcome == AC_SKIP) {
        fprintf(out, " # SKIP ");
        const char *why = res->skip_reason ? res->skip_reason : "";
        put_escaped(out, why, strlen(why), false);
    }
    fputc('\n', out);
    bool failed = res->outcome == AC_FAIL;
    bool explored = res->exploration.explored && res->outcome != AC_SKIP; /* (a skip skips every schedule) */
    if (failed || explored) {
        fprintf(out, "  ---\n");
        if (failed) {
            yaml_failure(out, &res->failures[0], "  ", "  ");
            fprintf(out, "  severity: fail\n");
            if (res->nfailures > 1) {
                fprintf(out, "  failures:\n");
                for (size_t i = 0; i < res->nfailures; i++)
                    yaml_failure(out, &res->failures[i], "      ", "    - ");
            }
        }
        if (failed && res->failures_omitted)
            fprintf(out, "  failures_omitted: %zu\n", res->failures_omitted);
        if (explored)
            yaml_exploration(out, &res->exploration);
        fprintf(out, "  duration_ms: %.3f\n", res->duration * 1000.0);
        if (failed) {
            yaml_capture(out, "stdout", &res->out);
            yaml_capture(out, "stderr", &res->err);
        }
        if (failed && t->timeline && res->timeline.total)
            yaml_timeline(out, &res->timeline, t->timeline);
    }
    if (failed || explored)
        fprintf(out, "  ...\n");
    put_notes(out, &res->notes);
    fflush(out);
}

static int end(ac__reporter *r, const ac__summary *s) {
    tap *t = (tap *)r;
    if (s->interrupted)
        fprintf(t->out, "# interrupted by SIG%s\n", sigabbrev_np(s->interrupted));
    fflush(t->out);
    return ferror(t->out) ? -1 : 0;
}

static void destroy(ac__reporter *r) {
    tap *t = (tap *)r;
    if (t->own)
        fclose(t->out);
    free(t);
}

ac__reporter *ac__tap_reporter(FILE *out, bool own_file, int version) {
    tap *t = ac__xcalloc(1, sizeof *t);
    t->base = (ac__reporter){begin, result, NULL, end, destroy};
    t->out = out;
    t->own = own_file;
    t->version = version;
    return &t->base;
}
