/* human.c — the default report for people: one line a test with outcome and duration (coloured on a
 * terminal), what an explored test ran (under -v, or when its budget cut it short), the details of each
 * failure with both values and captured output, a list of the failed tests, and the closing line
 * "asyncheck: N passed, N failed, N skipped". */
#include "report.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

typedef struct human {
    ac__reporter base;
    FILE *out;
    bool color, verbose;
    bool progress;     /* keep a status line at the bottom (a terminal) */
    bool status_shown; /* the status line is on screen now */
    ac__buf failed_names;
    size_t nfailed;
    const char *replay; /* how to replay a shuffled order, or NULL */
    size_t timeline;    /* the last events of a failing test's timeline to show (0: none) */
} human;

static const char *paint(const human *h, const char *code) {
    return h->color ? code : "";
}
#define RED "\033[31m"
#define GREEN "\033[32m"
#define YELLOW "\033[33m"
#define DIM "\033[2m"
#define BOLD "\033[1m"
#define RESET "\033[0m"

static void duration(FILE *out, double s) {
    if (s < 1.0)
        fprintf(out, "%.1f ms", s * 1000.0);
    else
        fprintf(out, "%.2f s", s);
}

static void begin(ac__reporter *r, const ac__run_info *info) {
    human *h = (human *)r;
    h->timeline = info->timeline;
    if (info->shuffled) {
        h->replay = info->replay;
        fprintf(h->out, "asyncheck: shuffled order; replay it with %s\n", info->replay);
    }
}

/* Removes the status line so that a result line can take its place. */
static void clear_status(human *h) {
    if (h->status_shown) {
        fputs("\r\033[K", h->out);
        h->status_shown = false;
    }
}

static void progress(ac__reporter *r, size_t done, size_t total, size_t failed, double elapsed) {
    human *h = (human *)r;
    if (!h->progress)
        return;
    fprintf(h->out, "\r\033[K%s[%zu/%zu] %zu failed, %.1f s%s", paint(h, DIM), done, total, failed, elapsed,
            paint(h, RESET));
    h->status_shown = true;
    fflush(h->out);
}

/* Writes user text so that every line of it is ours: each line break in it (LF, CR or CRLF) is followed
 * by `indent`, and what other readers take as a line end (VT, FF, NEL, U+2028, ...) is escaped. So
 * nothing a test says can start a line of the report (a "::error" workflow command under GitHub
 * Actions, a TAP line, a fake result). */
static void put_text(human *h, const char *s, size_t n, const char *indent) {
    ac__buf b = {0};
    const char *end = s + n;
    while (s < end) {
        const char *brk = s;
        while (brk < end && *brk != '\n' && *brk != '\r')
            brk++;
        ac__escape_line(&b, s, (size_t)(brk - s), AC_ESC_COMMANDS);
        if (brk == end)
            break;
        ac__buf_printf(&b, "\n%s", indent);
        s = brk + (brk[0] == '\r' && brk + 1 < end && brk[1] == '\n' ? 2 : 1);
    }
    fwrite(ac__buf_str(&b), 1, b.len, h->out);
    ac__buf_free(&b);
}

static void put_str(human *h, const char *s, const char *indent) {
    put_text(h, s, strlen(s), indent);
}

/* n with a comma between each group of three digits: 2,699,900. */
static void put_count(FILE *out, size_t n) {
    if (n >= 1000) {
        put_count(out, n / 1000);
        fprintf(out, ",%03zu", n % 1000);
    } else {
        fprintf(out, "%zu", n);
    }
}

/* "      | line" for each line of text (the last line's end is ours). */
static void print_lines(human *h, const char *text, size_t n) {
    if (n && text[n - 1] == '\n')
        n--;
    fputs("      | ", h->out);
    put_text(h, text, n, "      | ");
    fputc('\n', h->out);
}

static void print_capture(human *h, const char *label, const ac__capture *c) {
    ac__capture_parts v = ac__capture_view(c);
    if (v.head_len == 0 && v.tail_len == 0 && v.cut == 0)
        return;
    fprintf(h->out, "      %s--- %s ---%s\n", paint(h, DIM), label, paint(h, RESET));
    if (v.cut == 0) {
        ac__buf all = {0};
        ac__capture_join(c, &all);
        print_lines(h, all.data, all.len);
        ac__buf_free(&all);
        return;
    }
    print_lines(h, v.head, v.head_len);
    fprintf(h->out, "      %s[... ", paint(h, DIM));
    put_count(h->out, v.cut);
    fprintf(h->out, " bytes cut: the first %d KiB and the last %d KiB are kept ...]%s\n",
            AC_CAPTURE_HEAD / 1024, AC_CAPTURE_TAIL / 1024, paint(h, RESET));
    print_lines(h, v.tail, v.tail_len);
}

/* "      note: file:line: message", a line for each note. */
static void print_notes(human *h, const ac__buf *notes) {
    const char *p = notes->len ? notes->data : "", *end = p + notes->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        fprintf(h->out, "      %snote:%s ", paint(h, DIM), paint(h, RESET));
        put_text(h, p, n, "            ");
        fputc('\n', h->out);
        p += n + (nl ? 1 : 0);
    }
}

/* "        got:      <value>", each further line of a multi-line value indented under the first. */
static void print_value(human *h, const char *label, const char *value) {
    fprintf(h->out, "        %-10s", label);
    put_str(h, value, "                  ");
    fputc('\n', h->out);
}

/* "      ... and 2,699,900 more failures not kept (...)", where the kept ones stop. */
static void print_omitted(human *h, size_t n) {
    fprintf(h->out, "      %s... and ", paint(h, BOLD));
    put_count(h->out, n);
    fprintf(h->out, " more failure%s not kept%s (a test keeps its first %d and the one that ended it)\n",
            n == 1 ? "" : "s", paint(h, RESET), AC_FAILURE_LIMIT);
}

/* "explored 37 of 200 schedules (shuffle), 37 runs; budget 5 s reached" */
static void print_exploration(human *h, const ac__exploration *x) {
    fprintf(h->out, "      %sexplored %u of %u schedule%s (%s%s)", paint(h, DIM), x->schedules,
            x->schedules_total, x->schedules_total == 1 ? "" : "s", x->mode,
            x->determinism ? ", each twice" : "");
    if (x->sweep)
        fprintf(h->out, ", cancel sweep: cancelled in flight at %u cancel point%s", x->cancel_points,
                x->cancel_points == 1 ? "" : "s");
    if (x->fault_sweep)
        fprintf(h->out, ", fault sweep: failed a call in %u run%s", x->fault_points,
                x->fault_points == 1 ? "" : "s");
    fprintf(h->out, ", %u run%s", x->runs, x->runs == 1 ? "" : "s");
    if (x->budget_reached)
        fprintf(h->out, "; budget %g s reached", x->budget);
    else if (x->budget > 0)
        fprintf(h->out, "; within the budget of %g s", x->budget);
    if (x->shard_count) {
        ac__buf s = {0};
        ac__exploration_shard_text(x, &s);
        fprintf(h->out, "; shard %u/%u ran schedules %s of its %u", x->shard_index, x->shard_count,
                ac__buf_str(&s), x->shard_share);
        ac__buf_free(&s);
    }
    fprintf(h->out, "%s\n", paint(h, RESET));
}

/* The last events of a failing test's timeline, aligned, under its failures. */
static void print_timeline(human *h, const ac__timeline *t) {
    size_t from = ac__timeline_first_shown(t, h->timeline);
    ac__buf line = {0};
    ac__timeline_heading(&line, t, t->n - from);
    fprintf(h->out, "      %s", paint(h, DIM));
    put_str(h, ac__buf_str(&line), "        ");
    fprintf(h->out, "%s\n", paint(h, RESET));
    for (size_t i = from; i < t->n; i++) {
        line.len = 0;
        ac__tl_line_format(&line, &t->ev[i]);
        fputs("        ", h->out);
        put_str(h, ac__buf_str(&line), "          ");
        fputc('\n', h->out);
    }
    ac__buf_free(&line);
}

static void result(ac__reporter *r, const ac__result *res) {
    human *h = (human *)r;
    clear_status(h);
    ac__buf name = {0};
    ac__result_label(res, true, &name);
    const char *label = res->outcome == AC_PASS ? "PASS" : res->outcome == AC_FAIL ? "FAIL" : "SKIP";
    const char *color = res->outcome == AC_PASS ? GREEN : res->outcome == AC_FAIL ? RED : YELLOW;
    fprintf(h->out, "%s%s%s  %s.%s", paint(h, color), label, paint(h, RESET), res->def->suite,
            res->def->name);
    if (res->outcome == AC_SKIP) {
        fprintf(h->out, "  %s", paint(h, DIM));
        put_str(h, res->skip_reason ? res->skip_reason : "", "      ");
        fprintf(h->out, "%s\n", paint(h, RESET));
        ac__buf_free(&name);
        return;
    }
    fprintf(h->out, "  %s(", paint(h, DIM));
    duration(h->out, res->duration);
    fprintf(h->out, ")%s\n", paint(h, RESET));
    if (res->exploration.explored && (h->verbose || res->exploration.budget_reached))
        print_exploration(h, &res->exploration);
    for (size_t i = 0; i < res->nfailures; i++) {
        const ac__failure *f = &res->failures[i];
        if (i == AC_FAILURE_LIMIT && res->failures_omitted)
            print_omitted(h, res->failures_omitted);
        fputs("      ", h->out);
        if (f->file) {
            put_str(h, f->file, "        ");
            fprintf(h->out, ":%d: ", f->line);
        }
        fputs(paint(h, BOLD), h->out);
        put_str(h, f->message, "        ");
        fprintf(h->out, "%s\n", paint(h, RESET));
        if (f->got)
            print_value(h, "got:", f->got);
        if (f->expected)
            print_value(h, "expected:", f->expected);
    }
    if (res->nfailures <= AC_FAILURE_LIMIT && res->failures_omitted)
        print_omitted(h, res->failures_omitted);
    if (res->outcome == AC_FAIL && h->timeline && res->timeline.total)
        print_timeline(h, &res->timeline);
    if (res->outcome == AC_FAIL || h->verbose) {
        print_notes(h, &res->notes);
        print_capture(h, "stdout", &res->out);
        print_capture(h, "stderr", &res->err);
    }
    if (res->outcome == AC_FAIL) {
        ac__buf_printf(&h->failed_names, "  %s\n", ac__buf_str(&name));
        h->nfailed++;
    }
    ac__buf_free(&name);
    fflush(h->out);
}

static int end(ac__reporter *r, const ac__summary *s) {
    human *h = (human *)r;
    clear_status(h);
    if (h->nfailed)
        fprintf(h->out, "\n%sFailed:%s\n%s", paint(h, RED), paint(h, RESET), ac__buf_str(&h->failed_names));
    if (s->interrupted)
        fprintf(h->out, "interrupted by SIG%s: %zu test%s not run\n", sigabbrev_np(s->interrupted),
                s->not_run, s->not_run == 1 ? "" : "s");
    else if (s->not_run)
        fprintf(h->out, "%zu test%s not run: the run stopped after a failure\n", s->not_run,
                s->not_run == 1 ? "" : "s");
    if (h->replay && s->failed)
        fprintf(h->out, "replay this order with %s\n", h->replay);
    fprintf(h->out, "ran %zu test%s in ", s->total, s->total == 1 ? "" : "s");
    duration(h->out, s->duration);
    fprintf(h->out, "\nasyncheck: %zu passed, %zu failed, %zu skipped\n", s->passed, s->failed, s->skipped);
    fflush(h->out);
    return ferror(h->out) ? -1 : 0;
}

static void destroy(ac__reporter *r) {
    human *h = (human *)r;
    ac__buf_free(&h->failed_names);
    free(h);
}

ac__reporter *ac__human_reporter(FILE *out, bool color, bool verbose, bool show_progress) {
    human *h = ac__xcalloc(1, sizeof *h);
    h->base = (ac__reporter){begin, result, progress, end, destroy};
    h->progress = show_progress;
    h->out = out;
    h->color = color;
    h->verbose = verbose;
    return &h->base;
}
