/* main.c — ac_main: options, selecting tests by filter, choosing reporters, running, and the exit
 * status. The only place that decides what the user sees when the command line is wrong. */
#include "runner.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asyncheck.h"

static const char *prog_name(const char *argv0) {
    const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
    return slash ? slash + 1 : argv0 ? argv0 : "test";
}

static int usage_error(const char *prog, const char *reason) {
    fprintf(stderr, "%s: %s\nTry '%s --help' for usage.\n", prog, reason, prog);
    return 2;
}

/* Keeps the tests the filters select, in registration order. A test is selected when it matches some
 * positive pattern (or there are none) and no negative one. Returns the index of a pattern that
 * matches no registered test, or -1. */
static long select_tests(const ac_options *o, const ac__test_def ***out, size_t *nout) {
    size_t n = ac__test_count();
    bool any_positive = false;
    bool *used = ac__xcalloc(o->nfilters, sizeof *used);
    for (size_t f = 0; f < o->nfilters; f++)
        any_positive |= o->filters[f][0] != '-';
    *out = ac__xcalloc(n, sizeof **out);
    *nout = 0;
    ac_buf name = {0};
    for (size_t i = 0; i < n; i++) {
        const ac__test_def *def = ac__test_at(i);
        name.len = 0;
        ac__full_name(def, &name);
        bool in = !any_positive, out_ = false;
        for (size_t f = 0; f < o->nfilters; f++) {
            const char *pat = o->filters[f];
            bool neg = pat[0] == '-';
            if (fnmatch(neg ? pat + 1 : pat, ac__buf_str(&name), 0) == 0) {
                used[f] = true;
                if (neg)
                    out_ = true;
                else
                    in = true;
            }
        }
        if (in && !out_)
            (*out)[(*nout)++] = def;
    }
    ac__buf_free(&name);
    long unused = -1;
    for (size_t f = 0; f < o->nfilters && unused < 0; f++)
        if (!used[f])
            unused = (long)f;
    free(used);
    return unused;
}

static int by_name(const void *a, const void *b) {
    const ac__test_def *x = *(const ac__test_def *const *)a, *y = *(const ac__test_def *const *)b;
    int c = strcmp(x->suite, y->suite);
    return c ? c : strcmp(x->name, y->name);
}

/* Two tests with one name would be ambiguous in every report; name both places. */
static bool find_duplicate(ac_buf *err) {
    size_t n = ac__test_count();
    const ac__test_def **sorted = ac__xcalloc(n, sizeof *sorted);
    for (size_t i = 0; i < n; i++)
        sorted[i] = ac__test_at(i);
    qsort(sorted, n, sizeof *sorted, by_name);
    bool dup = false;
    for (size_t i = 1; i < n && !dup; i++)
        if (by_name(&sorted[i - 1], &sorted[i]) == 0) {
            ac__buf_printf(err, "two tests are named %s.%s (%s:%d and %s:%d)", sorted[i]->suite,
                           sorted[i]->name, sorted[i - 1]->file, sorted[i - 1]->line, sorted[i]->file,
                           sorted[i]->line);
            dup = true;
        }
    free(sorted);
    return dup;
}

static bool want_color(ac_color c) {
    if (c != AC_COLOR_AUTO)
        return c == AC_COLOR_ALWAYS;
    const char *no = getenv("NO_COLOR"), *term = getenv("TERM");
    if (no && *no)
        return false;
    if (term && strcmp(term, "dumb") == 0)
        return false;
    return isatty(1);
}

int ac_main(int argc, char **argv) {
    const char *prog = prog_name(argc > 0 ? argv[0] : NULL);
    ac_options o;
    ac_buf err = {0};
    if (ac__parse_options(argc, argv, &o, &err) < 0) {
        int rc = usage_error(prog, ac__buf_str(&err));
        ac__buf_free(&err);
        return rc;
    }
    if (o.help) {
        ac__print_usage(prog, stdout);
        return 0;
    }
    if (o.version) {
        printf("asyncheck %s\n", ASYNCHECK_VERSION);
        return 0;
    }
    if (find_duplicate(&err)) {
        int rc = usage_error(prog, ac__buf_str(&err));
        ac__buf_free(&err);
        return rc;
    }
    const ac__test_def **tests;
    size_t ntests;
    long unused = select_tests(&o, &tests, &ntests);
    if (unused >= 0) {
        ac__buf_printf(&err, "--filter '%s' matches no test (see --list)", o.filters[unused]);
        int rc = usage_error(prog, ac__buf_str(&err));
        ac__buf_free(&err);
        free(tests);
        return rc;
    }
    if (o.list) {
        for (size_t i = 0; i < ntests; i++) {
            if (o.list_tsv)
                printf("%s.%s\t%g\t%s\t%d\n", tests[i]->suite, tests[i]->name,
                       ac__effective_timeout(&o, tests[i]), tests[i]->file, tests[i]->line);
            else
                printf("%s.%s\n", tests[i]->suite, tests[i]->name);
        }
        free(tests);
        return 0;
    }

    ac_reporter *reporters[3];
    size_t nrep = 0;
    if (o.tap && !o.tap_path) {
        reporters[nrep++] = ac__tap_reporter(stdout, false, o.tap_version);
    } else {
        reporters[nrep++] = ac__human_reporter(stdout, want_color(o.color), o.verbose);
        if (o.tap) {
            FILE *f = fopen(o.tap_path, "w");
            if (!f) {
                ac__buf_printf(&err, "--tap: cannot write '%s': %s", o.tap_path, strerror(errno));
                reporters[0]->destroy(reporters[0]);
                int rc = usage_error(prog, ac__buf_str(&err));
                ac__buf_free(&err);
                return rc;
            }
            reporters[nrep++] = ac__tap_reporter(f, true, o.tap_version);
        }
    }
    if (o.junit_path) {
        ac_reporter *j = ac__junit_reporter(o.junit_path, prog);
        if (!j) {
            ac__buf_printf(&err, "--junit: cannot write beside '%s': %s", o.junit_path, strerror(errno));
            for (size_t i = 0; i < nrep; i++)
                reporters[i]->destroy(reporters[i]);
            int rc = usage_error(prog, ac__buf_str(&err));
            ac__buf_free(&err);
            return rc;
        }
        reporters[nrep++] = j;
    }

    for (size_t i = 0; i < nrep; i++)
        reporters[i]->begin(reporters[i], ntests);
    ac_run run = {.opts = &o, .tests = tests, .ntests = ntests, .reporters = reporters, .nreporters = nrep};
    ac_summary sum = {0};
    ac__run_tests(&run, &sum);
    int report_error = 0;
    for (size_t i = 0; i < nrep; i++) {
        if (reporters[i]->end(reporters[i], &sum) < 0)
            report_error = 1;
        reporters[i]->destroy(reporters[i]);
    }
    free(tests);
    ac__options_free(&o);
    ac__buf_free(&err);
    if (sum.failed || report_error || sum.not_run)
        return 1;
    /* 77 tells ctest "skipped"; a TAP harness (prove) reads skips from the stream and would call any
     * non-zero status a failure. */
    const char *harness = getenv("HARNESS_ACTIVE");
    if (sum.total > 0 && sum.skipped == sum.total && !(harness && *harness))
        return 77;
    return 0;
}
