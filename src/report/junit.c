/* junit.c — JUnit XML: one <testsuites> root, a <testsuite> per suite (in order of first appearance),
 * a <testcase> per test with classname/name/file/line/time, <properties> saying what an explored test
 * ran, <failure>/<skipped>, and the captured output (its head and tail when the middle was cut). Memory
 * does not grow with the output: each <testcase> is written, as its result arrives, to an unnamed
 * scratch file, and only counts and the spans of the scratch file each suite's testcases take are kept.
 * At the end the document is written in one pass (the root and suite totals, then each suite's
 * testcases copied from the scratch file) to the stream outfile.c gave it, which puts the file in place
 * only then: it is complete or absent, never half-written. */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where in the scratch file some of a suite's testcases are. */
typedef struct span {
    off_t at;
    size_t len;
} span;

typedef struct suite_acc {
    const char *name;
    span *spans; /* consecutive testcases of one suite share a span */
    size_t nspans;
    size_t tests, failures, skipped;
    double time;
} suite_acc;

typedef struct junit {
    ac__reporter base;
    FILE *out;
    char *run_name;
    suite_acc *suites;
    size_t nsuites;
    int scratch; /* the testcases so far, unnamed (nothing is left behind) */
    off_t scratch_len;
    int scratch_errno; /* the first error writing it, or 0 */
    size_t timeline;   /* the last events of a failing test's timeline to show (0: none) */
} junit;

/* An unnamed file for the testcases, in $TMPDIR (or /tmp): O_TMPFILE, else a named one unlinked at once.
 * -1 when none. */
static int open_scratch(void) {
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    ac__buf name = {0};
    ac__buf_printf(&name, "%s/.asyncheck-cases-XXXXXX", dir);
    fd = mkostemp(name.data, O_CLOEXEC);
    if (fd >= 0)
        unlink(name.data);
    ac__buf_free(&name);
    return fd;
}

/* Appends b to the scratch file and to the suite's spans. */
static void scratch_write(junit *j, suite_acc *s, const ac__buf *b) {
    size_t off = 0;
    while (off < b->len && !j->scratch_errno) {
        ssize_t w = pwrite(j->scratch, b->data + off, b->len - off, j->scratch_len + (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            j->scratch_errno = w < 0 ? errno : EIO;
        else
            off += (size_t)w;
    }
    if (j->scratch_errno)
        return;
    if (s->nspans && s->spans[s->nspans - 1].at + (off_t)s->spans[s->nspans - 1].len == j->scratch_len) {
        s->spans[s->nspans - 1].len += b->len;
    } else {
        s->spans = ac__xrealloc(s->spans, (s->nspans + 1) * sizeof *s->spans);
        s->spans[s->nspans++] = (span){j->scratch_len, b->len};
    }
    j->scratch_len += (off_t)b->len;
}

/* Copies a span of the scratch file to out. */
static bool copy_span(junit *j, span sp, FILE *out) {
    char chunk[65536];
    while (sp.len) {
        ssize_t n = pread(j->scratch, chunk, sp.len < sizeof chunk ? sp.len : sizeof chunk, sp.at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            j->scratch_errno = n < 0 ? errno : EIO;
            return false;
        }
        if (fwrite(chunk, 1, (size_t)n, out) != (size_t)n)
            return false;
        sp.at += n;
        sp.len -= (size_t)n;
    }
    return true;
}

/* Seconds with '.' as the decimal point whatever the locale. */
static void put_time(ac__buf *b, double s) {
    unsigned long long us = (unsigned long long)(s * 1e6 + 0.5);
    ac__buf_printf(b, "%llu.%06llu", us / 1000000, us % 1000000);
}

static void attr(ac__buf *b, const char *name, const char *value) {
    ac__buf_printf(b, " %s=\"", name);
    ac__escape_xml_attr(b, value, strlen(value));
    ac__buf_puts(b, "\"");
}

static void property(ac__buf *b, const char *name, const char *value) {
    ac__buf_printf(b, "        <property name=\"asyncheck.exploration.%s\" value=\"%s\"/>\n", name, value);
}

static void property_u(ac__buf *b, const char *name, unsigned v) {
    char n[32];
    snprintf(n, sizeof n, "%u", v);
    property(b, name, n);
}

/* What an explored test ran, as the test case's <properties> (names asyncheck.exploration.*). */
static void put_exploration(ac__buf *b, const ac__exploration *x) {
    char n[64];
    ac__buf_puts(b, "      <properties>\n");
    property(b, "mode", x->mode);
    property_u(b, "schedules", x->schedules);
    property_u(b, "schedules_total", x->schedules_total);
    property_u(b, "runs", x->runs);
    property(b, "cancel_sweep", x->sweep ? "true" : "false");
    property_u(b, "cancel_points", x->cancel_points);
    property(b, "check_determinism", x->determinism ? "true" : "false");
    if (x->fault_sweep) {
        property(b, "fault_sweep", "true");
        property_u(b, "fault_points", x->fault_points);
    }
    if (x->budget > 0) {
        snprintf(n, sizeof n, "%g", x->budget);
        property(b, "budget_s", n);
    }
    property(b, "budget_reached", x->budget_reached ? "true" : "false");
    if (x->shard_count) { /* the schedules that ran: shard_first + shard_step * j, j < schedules */
        snprintf(n, sizeof n, "%u/%u", x->shard_index, x->shard_count);
        property(b, "shard", n);
        property_u(b, "shard_share", x->shard_share);
        property_u(b, "shard_first", x->shard_index);
        property_u(b, "shard_step", x->shard_count);
        property_u(b, "shard_last", ac__exploration_shard_last(x));
        ac__buf s = {0};
        ac__exploration_shard_text(x, &s);
        property(b, "shard_schedules", ac__buf_str(&s));
        ac__buf_free(&s);
    }
    ac__buf_puts(b, "      </properties>\n");
}

static suite_acc *suite_for(junit *j, const char *name) {
    if (j->nsuites && strcmp(j->suites[j->nsuites - 1].name, name) == 0)
        return &j->suites[j->nsuites - 1];
    for (size_t i = 0; i < j->nsuites; i++)
        if (strcmp(j->suites[i].name, name) == 0)
            return &j->suites[i];
    j->suites = ac__xrealloc(j->suites, (j->nsuites + 1) * sizeof *j->suites);
    j->suites[j->nsuites] = (suite_acc){.name = name};
    return &j->suites[j->nsuites++];
}

static void begin(ac__reporter *r, const ac__run_info *info) {
    ((junit *)r)->timeline = info->timeline;
}

static void result(ac__reporter *r, const ac__result *res) {
    junit *j = (junit *)r;
    suite_acc *s = suite_for(j, res->def->suite);
    ac__buf case_text = {0}, *b = &case_text;
    s->tests++;
    s->time += res->duration;
    ac__buf_puts(b, "    <testcase");
    attr(b, "classname", res->def->suite);
    ac__buf label = {0};
    ac__result_label(res, false, &label);
    attr(b, "name", ac__buf_str(&label));
    ac__buf_free(&label);
    attr(b, "file", res->def->file);
    ac__buf_printf(b, " line=\"%d\" time=\"", res->def->line);
    put_time(b, res->duration);
    ac__buf_puts(b, "\">\n");
    if (res->exploration.explored && res->outcome != AC_SKIP)
        put_exploration(b, &res->exploration);
    if (res->outcome == AC_FAIL) {
        s->failures++;
        const ac__failure *first = &res->failures[0];
        ac__buf text = {0};
        for (size_t i = 0; i < res->nfailures; i++) {
            const ac__failure *f = &res->failures[i];
            if (f->file)
                ac__buf_printf(&text, "%s:%d: ", f->file, f->line);
            ac__buf_printf(&text, "%s", f->message);
            if (f->phase && f->kind == AC_FK_ASSERTION)
                ac__buf_printf(&text, " (in %s)", f->phase);
            ac__buf_puts(&text, "\n");
            if (f->got)
                ac__buf_printf(&text, "  got:      %s\n", f->got);
            if (f->expected)
                ac__buf_printf(&text, "  expected: %s\n", f->expected);
            if (i + 1 == AC_FAILURE_LIMIT && res->failures_omitted)
                ac__buf_printf(&text, "[asyncheck: %zu more failures not kept]\n", res->failures_omitted);
        }
        if (res->nfailures < AC_FAILURE_LIMIT && res->failures_omitted)
            ac__buf_printf(&text, "[asyncheck: %zu more failures not kept]\n", res->failures_omitted);
        ac__buf_puts(b, "      <failure");
        attr(b, "message", first->message);
        attr(b, "type", ac__failure_kind_name(first->kind));
        ac__buf_puts(b, ">");
        ac__escape_xml_cdata(b, text.data, text.len);
        ac__buf_puts(b, "</failure>\n");
        ac__buf_free(&text);
    } else if (res->outcome == AC_SKIP) {
        s->skipped++;
        ac__buf_puts(b, "      <skipped");
        attr(b, "message", res->skip_reason ? res->skip_reason : "");
        ac__buf_puts(b, "/>\n");
    }
    ac__buf timeline = {0}; /* a failing test's timeline goes after its stdout in <system-out> */
    if (res->outcome == AC_FAIL && j->timeline && res->timeline.total) {
        const ac__timeline *tl = &res->timeline;
        size_t from = ac__timeline_first_shown(tl, j->timeline);
        ac__buf_puts(&timeline, "[asyncheck ");
        ac__timeline_heading(&timeline, tl, tl->n - from);
        ac__buf_puts(&timeline, "]\n");
        for (size_t i = from; i < tl->n; i++) {
            ac__tl_line_format(&timeline, &tl->ev[i]);
            ac__buf_puts(&timeline, "\n");
        }
    }
    const ac__capture *caps[2] = {&res->out, &res->err};
    const char *tags[2] = {"system-out", "system-err"};
    for (int i = 0; i < 2; i++) {
        ac__capture_parts v = ac__capture_view(caps[i]);
        if (!v.head_len && !v.tail_len && !v.cut && !(i == 0 && timeline.len))
            continue;
        ac__buf_printf(b, "      <%s>", tags[i]);
        if (!v.head_len && !v.tail_len && !v.cut) {
            /* nothing captured: only the timeline */
        } else if (v.cut == 0) {
            ac__buf all = {0};
            ac__capture_join(caps[i], &all);
            ac__escape_xml_cdata(b, ac__buf_str(&all), all.len);
            ac__buf_free(&all);
        } else {
            ac__escape_xml_cdata(b, v.head, v.head_len);
            ac__buf_printf(
                b, "\n[asyncheck: %zu bytes cut here; the first %d KiB and the last %d KiB are kept]\n",
                v.cut, AC_CAPTURE_HEAD / 1024, AC_CAPTURE_TAIL / 1024);
            ac__escape_xml_cdata(b, v.tail, v.tail_len);
        }
        if (i == 0 && timeline.len) {
            const char *last = v.tail_len   ? v.tail + v.tail_len - 1
                               : v.head_len ? v.head + v.head_len - 1
                                            : NULL;
            if (last && *last != '\n')
                ac__buf_puts(b, "\n");
            ac__escape_xml_cdata(b, timeline.data, timeline.len);
        }
        ac__buf_printf(b, "</%s>\n", tags[i]);
    }
    ac__buf_free(&timeline);
    ac__buf_puts(b, "    </testcase>\n");
    scratch_write(j, s, b);
    ac__buf_free(b);
}

static int end(ac__reporter *r, const ac__summary *sum) {
    junit *j = (junit *)r;
    ac__buf b = {0};
    size_t failures = 0, skipped = 0;
    for (size_t i = 0; i < j->nsuites; i++)
        failures += j->suites[i].failures, skipped += j->suites[i].skipped;
    ac__buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
    attr(&b, "name", j->run_name);
    ac__buf_printf(&b, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"", sum->total,
                   failures, skipped);
    put_time(&b, sum->duration);
    ac__buf_puts(&b, "\">\n");
    bool ok = !j->scratch_errno;
    for (size_t i = 0; ok && i < j->nsuites; i++) {
        suite_acc *s = &j->suites[i];
        ac__buf_puts(&b, "  <testsuite");
        attr(&b, "name", s->name);
        ac__buf_printf(&b, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"", s->tests,
                       s->failures, s->skipped);
        put_time(&b, s->time);
        ac__buf_puts(&b, "\">\n");
        ok = fwrite(b.data, 1, b.len, j->out) == b.len;
        b.len = 0;
        for (size_t k = 0; ok && k < s->nspans; k++)
            ok = copy_span(j, s->spans[k], j->out);
        ac__buf_puts(&b, "  </testsuite>\n");
    }
    ac__buf_puts(&b, "</testsuites>\n");
    ok = ok && fwrite(b.data, 1, b.len, j->out) == b.len;
    ok = fflush(j->out) == 0 && ok;
    ac__buf_free(&b);
    if (j->scratch_errno)
        fprintf(stderr, "asyncheck: --junit: could not keep the test cases in a scratch file: %s\n",
                strerror(j->scratch_errno));
    return ok && !ferror(j->out) ? 0 : -1;
}

static void destroy(ac__reporter *r) {
    junit *j = (junit *)r;
    for (size_t i = 0; i < j->nsuites; i++)
        free(j->suites[i].spans);
    if (j->scratch >= 0)
        close(j->scratch);
    free(j->suites);
    free(j->run_name);
    free(j);
}

ac__reporter *ac__junit_reporter(FILE *out, const char *run_name) {
    int scratch = open_scratch();
    if (scratch < 0)
        return NULL;
    junit *j = ac__xcalloc(1, sizeof *j);
    j->base = (ac__reporter){begin, result, NULL, end, destroy};
    j->out = out;
    j->run_name = ac__xstrdup(run_name);
    j->scratch = scratch;
    return &j->base;
}
