/* github.c — GitHub Actions annotations: one "::error file=…,line=…,title=…::message" workflow
 * command per failure, so failures show on the pull request's diff. Values are escaped as the
 * workflow-command format asks (%, CR, LF everywhere; also : and , in properties). */
#include "report.h"

#include <stdlib.h>
#include <string.h>

typedef struct github {
    ac__reporter base;
    FILE *out;
} github;

static void put(FILE *out, const char *s, bool property) {
    for (; *s; s++) {
        switch (*s) {
        case '%':
            fputs("%25", out);
            break;
        case '\r':
            fputs("%0D", out);
            break;
        case '\n':
            fputs("%0A", out);
            break;
        case ':':
            property ? fputs("%3A", out) : fputc(':', out);
            break;
        case ',':
            property ? fputs("%2C", out) : fputc(',', out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

static void begin(ac__reporter *r, const ac__run_info *info) {
    (void)r, (void)info;
}

static void result(ac__reporter *r, const ac__result *res) {
    github *g = (github *)r;
    if (res->outcome != AC_FAIL)
        return;
    ac__buf title = {0};
    ac__result_label(res, true, &title);
    for (size_t i = 0; i < res->nfailures; i++) {
        const ac__failure *f = &res->failures[i];
        fputs("::error ", g->out);
        if (f->file) {
            fputs("file=", g->out);
            put(g->out, f->file, true);
            fprintf(g->out, ",line=%d,", f->line);
        }
        fputs("title=", g->out);
        put(g->out, ac__buf_str(&title), true);
        fputs("::", g->out);
        put(g->out, f->message, false);
        if (f->got) {
            fputs("%0A  got:      ", g->out);
            put(g->out, f->got, false);
        }
        if (f->expected) {
            fputs("%0A  expected: ", g->out);
            put(g->out, f->expected, false);
        }
        fputc('\n', g->out);
    }
    if (res->failures_omitted) {
        fputs("::error title=", g->out);
        put(g->out, ac__buf_str(&title), true);
        fprintf(g->out, "::%zu more failures not kept (asyncheck keeps a test's first %d)\n",
                res->failures_omitted, AC_FAILURE_LIMIT);
    }
    fflush(g->out);
    ac__buf_free(&title);
}

static int end(ac__reporter *r, const ac__summary *s) {
    (void)s;
    return ferror(((github *)r)->out) ? -1 : 0;
}

static void destroy(ac__reporter *r) {
    free(r);
}

ac__reporter *ac__github_reporter(FILE *out) {
    github *g = ac__xcalloc(1, sizeof *g);
    g->base = (ac__reporter){begin, result, NULL, end, destroy};
    g->out = out;
    return &g->base;
}
