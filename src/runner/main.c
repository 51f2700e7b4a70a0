/* main.c — ac_main: options, selecting tests by filter, choosing reporters, running, and the exit
 * status. The only place that decides what the user sees when the command line is wrong. */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asyncheck.h"
#include "../report/outfile.h"

static const char *prog_name(const char *argv0) {
    return argv0 ? ac__base_name(argv0) : "test";
}

static int usage_error(const char *prog, const char *reason) {
    fprintf(stderr, "%s: %s\nTry '%s --help' for usage.\n", prog, reason, prog);
    return 2;
}

/* Keeps the tests the filters select, in registration order. A test is selected when it matches some
 * positive pattern (or there are none) and no negative one. Returns the index of a pattern that
 * matches no registered test, or -1. */
static long select_tests(const ac__options *o, const ac__test_def ***out, size_t *nout) {
    size_t n = ac__test_count();
    bool any_positive = false;
    bool *used = ac__xcalloc(o->nfilters, sizeof *used);
    for (size_t f = 0; f < o->nfilters; f++)
        any_positive |= o->filters[f][0] != '-';
    *out = ac__xcalloc(n, sizeof **out);
    *nout = 0;
    ac__buf name = {0};
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
static bool find_duplicate(ac__buf *err) {
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

static void touch(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd >= 0)
        close(fd);
}

static unsigned long long fresh_seed(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long s = (unsigned long long)ts.tv_sec * 1000000007ULL ^ (unsigned long long)ts.tv_nsec ^
                           ((unsigned long long)getpid() << 32);
    return ac__splitmix64(&s) % 1000000000ULL; /* short enough to type */
}

static bool want_color(ac__color c) {
    if (c != AC_COLOR_AUTO)
        return c == AC_COLOR_ALWAYS;
    const char *no = getenv("NO_COLOR"), *term = getenv("TERM");
    if (no && *no)
        return false;
    if (term && strcmp(term, "dumb") == 0)
        return false;
    return isatty(1);
}

/* The run's items, one repetition (a block of every selected test) at a time. */
typedef struct item_stream {
    const ac__test_def **tests;
    size_t ntests;
    bool shuffle;
    unsigned long long rng;
    ac__item *block; /* repetition `rep` (0-based), shuffled on its own when asked */
    long rep;
} item_stream;

static ac__item item_at(void *ctx, size_t i) {
    item_stream *st = ctx;
    long rep = (long)(i / st->ntests);
    while (st->rep < rep) { /* asked for in increasing order: only ever forward */
        st->rep++;
        for (size_t k = 0; k < st->ntests; k++)
            st->block[k] = (ac__item){st->tests[k], (unsigned)st->rep + 1};
        for (size_t k = st->ntests; st->shuffle && k > 1; k--) { /* Fisher-Yates */
            size_t j = (size_t)(ac__splitmix64(&st->rng) % k);
            ac__item tmp = st->block[k - 1];
            st->block[k - 1] = st->block[j];
            st->block[j] = tmp;
        }
    }
    return st->block[i % st->ntests];
}

/* Prints the selected tests' names (--list), or with --list=tsv what discovery needs of each. */
static void list_tests(const ac__options *o, const ac__test_def **tests, size_t ntests) {
    for (size_t i = 0; i < ntests; i++) {
        if (o->list_tsv) {
            unsigned runs;
            bool sweep;
            double budget;
            ac__explore_plan(o, tests[i], &runs, &sweep, &budget);
            printf("%s.%s\t%g\t%s\t%d\t%u\t%d\t%g\n", tests[i]->suite, tests[i]->name,
                   ac__effective_timeout(o, tests[i]), tests[i]->file, tests[i]->line, runs, sweep, budget);
        } else
            printf("%s.%s\n", tests[i]->suite, tests[i]->name);
    }
}

/* Sharding (after filtering, like GoogleTest): keeps the shard's tests and returns how many are left. A
 * test exploring several schedules runs on every shard that owns one of its schedules (explore.c splits
 * them); the others go round-robin, in registration order, the k-th of them to shard k mod N. */
static size_t keep_shard(const ac__options *o, const ac__test_def **tests, size_t ntests) {
    if (o->shard_count <= 0)
        return ntests;
    size_t kept = 0, whole = 0;
    for (size_t i = 0; i < ntests; i++) {
        long share = ac__explore_shard_share(o, tests[i]);
        if (share > 0 || (share < 0 && (long)(whole++ % (size_t)o->shard_count) == o->shard_index))
            tests[kept++] = tests[i];
    }
    return kept;
}

/* What Bazel asks of a test runner before it starts. */
static void tell_bazel(const ac__options *o) {
    if (o->status_file)
        touch(o->status_file); /* Bazel: "this runner understands sharding" */
    if (o->premature_exit_file)
        touch(o->premature_exit_file); /* removed again only if we finish normally */
    if (o->tmpdir)
        setenv("TMPDIR", o->tmpdir, 1);
}

/* The reporters and where they write: stdout and the report files. */
typedef struct outputs {
    ac__reporter *reporters[6];
    size_t nrep;
    ac__outfile *outs[4];
    size_t nouts;
} outputs;

static void outputs_discard(outputs *out) {
    for (size_t i = 0; i < out->nrep; i++)
        out->reporters[i]->destroy(out->reporters[i]);
    for (size_t i = 0; i < out->nouts; i++)
        ac__outfile_discard(out->outs[i]);
}

/* Opens every report the options ask for. Returns 0, or -1 with the reason in `err` and nothing left
 * open. */
static int open_outputs(const ac__options *o, const char *prog, outputs *out, ac__buf *err) {
    *out = (outputs){0};
    bool tap_stdout = o->tap && !o->tap_path, json_stdout = o->json_path && strcmp(o->json_path, "-") == 0;
    bool stdout_taken = tap_stdout || json_stdout;
    ac__outfile *std_out = ac__outfile_stdout(tap_stdout ? "--tap" : json_stdout ? "--json" : "the report");
    out->outs[out->nouts++] = std_out;
    if (tap_stdout) {
        out->reporters[out->nrep++] = ac__tap_reporter(ac__outfile_stream(std_out), false, o->tap_version);
    } else if (!stdout_taken) {
        bool tty = isatty(1) && !(getenv("TERM") && strcmp(getenv("TERM"), "dumb") == 0);
        out->reporters[out->nrep++] = ac__human_reporter(ac__outfile_stream(std_out), want_color(o->color),
                                                         o->verbose, tty && !o->github);
    }
    if (o->tap && o->tap_path) {
        ac__outfile *f = ac__outfile_open("--tap", o->tap_path, 0, err);
        if (!f)
            goto fail;
        out->outs[out->nouts++] = f;
        out->reporters[out->nrep++] = ac__tap_reporter(ac__outfile_stream(f), false, o->tap_version);
    }
    if (o->json_path) {
        ac__outfile *f = json_stdout ? std_out : ac__outfile_open("--json", o->json_path, 0, err);
        if (!f)
            goto fail;
        if (f != std_out)
            out->outs[out->nouts++] = f;
        out->reporters[out->nrep++] = ac__json_reporter(ac__outfile_stream(f), false);
    }
    if (o->junit_path) {
        ac__outfile *f = ac__outfile_open(o->junit_source, o->junit_path, AC_OUTFILE_WHOLE, err);
        if (!f)
            goto fail;
        out->outs[out->nouts++] = f;
        ac__reporter *j = ac__junit_reporter(ac__outfile_stream(f), prog);
        if (!j) {
            ac__buf_printf(err,
                           "--junit: could not make a scratch file for the test cases in $TMPDIR or /tmp: %s",
                           strerror(errno));
            goto fail;
        }
        out->reporters[out->nrep++] = j;
    }
    if (o->trace_dir) {
        if (mkdir(o->trace_dir, 0777) != 0 && errno != EEXIST) {
            ac__buf_printf(err, "--trace: cannot make the directory '%s': %s", o->trace_dir, strerror(errno));
            goto fail;
        }
        int probe = open(o->trace_dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600); /* a file can be made there */
        if (probe >= 0)
            close(probe);
        else if ((errno == EOPNOTSUPP || errno == EISDIR) && access(o->trace_dir, W_OK | X_OK) == 0)
            errno = 0;
        if (probe < 0 && errno) {
            ac__buf_printf(err, "--trace: cannot write into '%s': %s", o->trace_dir, strerror(errno));
            goto fail;
        }
        out->reporters[out->nrep++] = ac__trace_reporter(o->trace_dir, o->trace_all, o->prog);
    }
    if (o->github)
        out->reporters[out->nrep++] =
            ac__github_reporter(stdout_taken ? stderr : ac__outfile_stream(std_out));
    return 0;
fail:
    outputs_discard(out);
    return -1;
}

/* Ends and closes every report; returns 1 when one could not be written, else 0. */
static int close_outputs(outputs *out, const ac__summary *sum) {
    int report_error = 0;
    for (size_t i = 0; i < out->nrep; i++) {
        if (out->reporters[i]->end(out->reporters[i], sum) < 0)
            report_error = 1;
        out->reporters[i]->destroy(out->reporters[i]);
    }
    for (size_t i = 0; i < out->nouts; i++)
        if (ac__outfile_close(out->outs[i]) < 0) /* names the report and the error */
            report_error = 1;
    return report_error;
}

/* The exit status of a finished run. */
static int exit_status(const ac__summary *sum, int report_error) {
    if (sum->interrupted)
        return 128 + sum->interrupted;
    if (sum->failed || report_error || sum->not_run)
        return 1;
    /* 77 tells ctest "skipped"; a TAP harness (prove) reads skips from the stream and would call any
     * non-zero status a failure. */
    const char *harness = getenv("HARNESS_ACTIVE");
    if (sum->total > 0 && sum->skipped == sum->total && !(harness && *harness))
        return 77;
    return 0;
}

/* Runs the selected tests (o->repeat times, repetition by repetition, each shuffled on its own when
 * asked) with the reports open; returns the exit status. */
static int run_selection(ac__options *o, const ac__test_def **tests, size_t ntests, outputs *out) {
    size_t nitems = ntests * (size_t)o->repeat;
    item_stream stream = {.tests = tests, .ntests = ntests, .shuffle = o->shuffle, .rng = o->seed, .rep = -1};
    stream.block = ac__xcalloc(ntests ? ntests : 1, sizeof *stream.block); /* made as the runner asks */
    char replay[64];
    snprintf(replay, sizeof replay, "--shuffle --seed=%llu", o->seed);
    ac__run_info info = {.total = nitems,
                         .shuffled = o->shuffle,
                         .seed = o->seed,
                         .replay = replay,
                         .timeline = o->timeline_off ? 0 : (size_t)o->timeline};
    for (size_t i = 0; i < out->nrep; i++)
        out->reporters[i]->begin(out->reporters[i], &info);
    ac__run run = {.opts = o,
                   .tests = tests,
                   .ntests = ntests,
                   .item_at = item_at,
                   .item_ctx = &stream,
                   .nitems = nitems,
                   .reporters = out->reporters,
                   .nreporters = out->nrep};
    ac__summary sum = {0};
    ac__run_tests(&run, &sum);
    int report_error = close_outputs(out, &sum);
    if (o->premature_exit_file)
        unlink(o->premature_exit_file);
    free(stream.block);
    return exit_status(&sum, report_error);
}

/* A usage error (status 2) with the reason in `err`; frees what ac_main holds. */
static int refuse(const char *prog, ac__buf *err, ac__options *o, const ac__test_def **tests) {
    int rc = usage_error(prog, ac__buf_str(err));
    ac__buf_free(err);
    free(tests);
    ac__options_free(o);
    return rc;
}

int ac_main(int argc, char **argv) {
    const char *prog = prog_name(argc > 0 ? argv[0] : NULL);
    if (ac__runner_startup(prog) != 0) /* fds 0-2, signals, fd limit; refuses a nested run */
        return 2;
    ac__options o;
    ac__buf err = {0};
    if (ac__parse_options(argc, argv, &o, &err) < 0)
        return refuse(prog, &err, &o, NULL);
    o.prog = argc > 0 && argv[0] ? argv[0] : "test";
    if (o.help || o.version) {
        if (o.help)
            ac__print_usage(prog, stdout);
        else
            printf("asyncheck %s\n", ASYNCHECK_VERSION);
        ac__options_free(&o);
        return 0;
    }
    if (find_duplicate(&err) || ac__run_fixture_duplicate(&err))
        return refuse(prog, &err, &o, NULL);
    const ac__test_def **tests;
    size_t ntests;
    long unused = select_tests(&o, &tests, &ntests);
    if (unused >= 0) {
        char *pattern = ac__one_line(o.filters[unused]);
        ac__buf_printf(&err, "--filter '%s' matches no test (see --list)", pattern);
        free(pattern);
        return refuse(prog, &err, &o, tests);
    }
    if (o.list) {
        list_tests(&o, tests, ntests);
        free(tests);
        ac__options_free(&o);
        return 0;
    }
    ntests = keep_shard(&o, tests, ntests);
    tell_bazel(&o);
    if (o.shuffle && !o.seed_given)
        o.seed = fresh_seed();
    outputs out;
    if (open_outputs(&o, prog, &out, &err) < 0)
        return refuse(prog, &err, &o, tests);
    int rc = run_selection(&o, tests, ntests, &out);
    free(tests);
    ac__options_free(&o);
    ac__buf_free(&err);
    return rc;
}
