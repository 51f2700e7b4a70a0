/* junit.c — JUnit XML: one <testsuites> root, a <testsuite> per suite (in order of first appearance),
 * a <testcase> per test with classname/name/file/line/time, <properties> saying what an explored test
 * ran, <failure>/<skipped>, and the captured output. Built in memory and written whole at the end to a
 * stream from outfile.c, which puts the file in place only then: it is complete or absent, never
 * half-written. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

typedef struct suite_acc {
    const char *name;
    ac_buf cases;
    size_t tests, failures, skipped;
    double time;
} suite_acc;

typedef struct junit {
    ac_reporter base;
    FILE *out;
    char *run_name;
    suite_acc *suites;
    size_t nsuites;
} junit;

/* Seconds with '.' as the decimal point whatever the locale. */
static void put_time(ac_buf *b, double s) {
    unsigned long long us = (unsigned long long)(s * 1e6 + 0.5);
    ac__buf_printf(b, "%llu.%06llu", us / 1000000, us % 1000000);
}

static void attr(ac_buf *b, const char *name, const char *value) {
    ac__buf_printf(b, " %s=\"", name);
    ac__escape_xml_attr(b, value, strlen(value));
    ac__buf_puts(b, "\"");
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

static void begin(ac_reporter *r, const ac_run_info *info) {
    (void)r, (void)info;
}

static void property(ac_buf *b, const char *name, const char *value) {
    ac__buf_printf(b, "        <property name=\"asyncheck.exploration.%s\" value=\"%s\"/>\n", name, value);
}

/* What an explored test ran, as the test case's <properties> (names asyncheck.exploration.*). */
static void put_exploration(ac_buf *b, const ac_exploration *x) {
    char n[64];
    ac__buf_puts(b, "      <properties>\n");
    property(b, "mode", x->mode);
    snprintf(n, sizeof n, "%u", x->schedules);
    property(b, "schedules", n);
    snprintf(n, sizeof n, "%u", x->schedules_total);
    property(b, "schedules_total", n);
    snprintf(n, sizeof n, "%u", x->runs);
    property(b, "runs", n);
    property(b, "cancel_sweep", x->sweep ? "true" : "false");
    snprintf(n, sizeof n, "%u", x->cancel_points);
    property(b, "cancel_points", n);
    property(b, "check_determinism", x->determinism ? "true" : "false");
    if (x->budget > 0) {
        snprintf(n, sizeof n, "%g", x->budget);
        property(b, "budget_s", n);
    }
    property(b, "budget_reached", x->budget_reached ? "true" : "false");
    ac__buf_puts(b, "      </properties>\n");
}

static void result(ac_reporter *r, const ac_result *res) {
    junit *j = (junit *)r;
    suite_acc *s = suite_for(j, res->def->suite);
    ac_buf *b = &s->cases;
    s->tests++;
    s->time += res->duration;
    ac__buf_puts(b, "    <testcase");
    attr(b, "classname", res->def->suite);
    ac_buf label = {0};
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
        const ac_failure *first = &res->failures[0];
        ac_buf text = {0};
        for (size_t i = 0; i < res->nfailures; i++) {
            const ac_failure *f = &res->failures[i];
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
        }
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
    const ac_capture *caps[2] = {&res->out, &res->err};
    const char *tags[2] = {"system-out", "system-err"};
    for (int i = 0; i < 2; i++) {
        if (!caps[i]->text.len && !caps[i]->dropped)
            continue;
        ac__buf_printf(b, "      <%s>", tags[i]);
        ac__escape_xml_cdata(b, ac__buf_str(&caps[i]->text), caps[i]->text.len);
        if (caps[i]->dropped)
            ac__buf_printf(b, "[asyncheck: %zu more bytes not kept]", caps[i]->dropped);
        ac__buf_printf(b, "</%s>\n", tags[i]);
    }
    ac__buf_puts(b, "    </testcase>\n");
}

static int end(ac_reporter *r, const ac_summary *sum) {
    junit *j = (junit *)r;
    ac_buf b = {0};
    size_t failures = 0, skipped = 0;
    for (size_t i = 0; i < j->nsuites; i++)
        failures += j->suites[i].failures, skipped += j->suites[i].skipped;
    ac__buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
    attr(&b, "name", j->run_name);
    ac__buf_printf(&b, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"", sum->total,
                   failures, skipped);
    put_time(&b, sum->duration);
    ac__buf_puts(&b, "\">\n");
    for (size_t i = 0; i < j->nsuites; i++) {
        suite_acc *s = &j->suites[i];
        ac__buf_puts(&b, "  <testsuite");
        attr(&b, "name", s->name);
        ac__buf_printf(&b, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"", s->tests,
                       s->failures, s->skipped);
        put_time(&b, s->time);
        ac__buf_puts(&b, "\">\n");
        ac__buf_append(&b, s->cases.data, s->cases.len);
        ac__buf_puts(&b, "  </testsuite>\n");
    }
    ac__buf_puts(&b, "</testsuites>\n");
    bool ok = fwrite(b.data, 1, b.len, j->out) == b.len;
    ok = fflush(j->out) == 0 && ok;
    ac__buf_free(&b);
    return ok && !ferror(j->out) ? 0 : -1;
}

static void destroy(ac_reporter *r) {
    junit *j = (junit *)r;
    for (size_t i = 0; i < j->nsuites; i++)
        ac__buf_free(&j->suites[i].cases);
    free(j->suites);
    free(j->run_name);
    free(j);
}

ac_reporter *ac__junit_reporter(FILE *out, const char *run_name) {
    junit *j = ac__xcalloc(1, sizeof *j);
    j->base = (ac_reporter){begin, result, NULL, end, destroy};
    j->out = out;
    j->run_name = ac__xstrdup(run_name);
    return &j->base;
}
