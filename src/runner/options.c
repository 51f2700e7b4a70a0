/* options.c — the test executable's command line and the environment variables the runner reads.
 * Produces an ac__options or a one-line reason; prints nothing except the usage text when asked. The
 * options are one table (`options`: name, short name, whether a value follows, and its handler or the
 * flag it sets) that one loop reads; it must not act on what it parses (that is main.c's). */
#include "runner.h"

#include <errno.h>
#include <ev.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
    "Usage: %s [options]\n"
    "Runs this executable's asyncheck tests, each in its own process on a fresh libev loop.\n"
    "\n"
    "Selecting\n"
    "  --list[=tsv]           print the selected tests' names (suite.name), one a line, and exit;\n"
    "                         tsv: name, timeout (s), file, line, runs, sweep (0/1) and exploration\n"
    "                         budget (s, 0: none), tab-separated (for discovery)\n"
    "  --filter GLOB          run tests whose suite.name matches GLOB (repeatable); a leading '-'\n"
    "                         excludes instead (--filter 'net.*' --filter '-net.slow_*')\n"
    "Running\n"
    "  -j, --jobs N           run N tests at a time (default: online CPUs)\n"
    "  --timeout S            real-time limit for tests without their own (default 30 s);\n"
    "                         AC_TIMEOUT_MULTIPLIER scales every timeout\n"
    "  --no-fork              run tests in this process, one after another (for debuggers)\n"
    "  --clock real|virtual|manual\n"
    "                         the clock of tests that choose none (default real)\n"
    "  --backend epoll|poll|select|all\n"
    "                         the libev backend of tests' loops (default epoll); all: each test\n"
    "                         on every backend libev has here (tests' own .backend wins)\n"
    "  -x, --fail-fast        start no more tests after the first failure\n"
    "  --shard I/N            run shard I of N (1-based; round-robin over registration order;\n"
    "                         an exploring test's schedules split: schedule n to shard n mod N)\n"
    "  --repeat N             run the selection N times; --repeat until-fail:N stops at a failure\n"
    "  --shuffle              run in a seeded random order (the seed is printed)\n"
    "  --seed N               the seed for --shuffle, to replay an order; without --shuffle, the\n"
    "                         schedule to run (0: libev's own order), to replay a failing schedule\n"
    "Races and cancellation\n"
    "  --schedules N          run each test under N seeded schedules (tests' own .schedules win)\n"
    "  --schedule-mode shuffle|pct[:DEPTH[:STEPS]]\n"
    "                         how a schedule perturbs the order of ready callbacks (default shuffle;\n"
    "                         pct: depth 3, change points drawn from the first STEPS dispatches)\n"
    "  --keep-going           run every schedule and report how many failed, grouped by failure\n"
    "  --check-determinism    run each schedule twice and fail at the first dispatch that differs\n"
    "  --defer-readiness      schedules (seed != 0) may also hold a ready fd's, ev_async's or\n"
    "                         signal's event over to a later loop iteration (1 to 3 iterations),\n"
    "                         and a due timer's or periodic's (1 iteration; tests'\n"
    "                         .defer_readiness = true)\n"
    "  --callback-time-max=S  under the virtual clock, schedules (seed != 0) charge each callback a\n"
    "                         drawn duration of virtual time in [0, S] seconds when it returns\n"
    "                         (tests' .callback_time_max)\n"
    "  --cancel-sweep         rerun tests that declare a cancel (ac_cancel_with) cancelling at each\n"
    "                         cancel point: before the first callback after the declaration (0),\n"
    "                         after the 1st, 2nd, ... until the run or the operation completes\n"
    "  --cancel-at K          cancel at cancel point K only (replays one sweep run)\n"
    "  --fault-sweep LIST     rerun each test failing the 1st, 2nd, ... call to each function of LIST\n"
    "                         (read, write, connect, accept, getaddrinfo, malloc, ...) made after\n"
    "                         ac_fault_start, one per run; F=ERR+ERR chooses the failures (read=EIO+EINTR)\n"
    "  --fault-at F:K[:ERR]   fail only call K of F with ERR, any errno name, SHORT or EAI_*\n"
    "                         (write:3:EINTR, read:2:ECONNRESET; replays one fault sweep run)\n"
    "  --explore-budget S     start no further schedule or cancel point of a test after S seconds\n"
    "                         of wall time (caps tests' own .explore_budget); the test reports\n"
    "                         how much it explored\n"
    "Reporting\n"
    "  --tap[=FILE]           TAP version 14 on stdout (or to FILE); automatic when HARNESS_ACTIVE\n"
    "                         is set, as under prove\n"
    "  --tap-version 13|14    the version line to write (default 14; 13 under prove older than 3.48)\n"
    "  --junit FILE           JUnit XML to FILE (written whole at the end)\n"
    "  --json FILE            JSON lines, one record a test, to FILE ('-': stdout)\n"
    "  --color auto|always|never\n"
    "                         colour the human output (auto: on a terminal, unless NO_COLOR is set)\n"
    "  -v, --verbose          also show the captured output and notes of passing tests\n"
    "  --timeline N           show the last N events of a failing test's timeline (default 20;\n"
    "                         0: none)\n"
    "  --timeline-events N    each test's event ring holds N events (default: the test's\n"
    "                         .timeline_events, else 4096, 65536 with --trace; 16 to 16777216);\n"
    "                         AC_TIMELINE=off records nothing\n"
    "  --trace DIR            write a Chrome/Perfetto trace (JSON) of each failing test to DIR\n"
    "  --trace-all            ... of every test (with --trace DIR)\n"
    "  -h, --help             this text\n"
    "  --version              asyncheck's version\n"
    "\n"
    "Environment: AC_TIMEOUT_MULTIPLIER, NO_COLOR, HARNESS_ACTIVE (TAP), GITHUB_ACTIONS (annotations),\n"
    "Bazel's TEST_SHARD_INDEX/TEST_TOTAL_SHARDS/TEST_SHARD_STATUS_FILE/TESTBRIDGE_TEST_ONLY/\n"
    "XML_OUTPUT_FILE/TEST_PREMATURE_EXIT_FILE/TEST_TMPDIR, GTEST_SHARD_INDEX/GTEST_TOTAL_SHARDS.\n"
    "\n"
    "Exit status: 0 all passed (skips allowed), 1 a test failed, 2 usage error,\n"
    "77 every selected test was skipped.\n";

void ac__print_usage(const char *prog, FILE *out) {
    fprintf(out, usage_text, prog);
}

static int fail(ac__buf *err, const char *fmt, const char *a, const char *b) {
    char *sa = ac__one_line(a), *sb = ac__one_line(b);
    ac__buf_printf(err, fmt, sa, sb);
    free(sa);
    free(sb);
    return -1;
}

/* Harnesses older than Test::Harness 3.48 reject a "TAP version 14" line; everything else we write
 * is TAP 13 as well, so say 13 to them. */
static int tap_version_for_harness(void) {
    const char *v = getenv("HARNESS_VERSION");
    if (!v || !*v)
        return 14;
    return strtod(v, NULL) < 3.48 ? 13 : 14;
}

/* "I/N" (1-based when one_based) into a 0-based index and a count. */
static int parse_shard(const char *s, long *index, long *count, bool one_based) {
    const char *slash = strchr(s, '/');
    if (!slash)
        return -1;
    char left[32];
    size_t n = (size_t)(slash - s);
    if (n == 0 || n >= sizeof left)
        return -1;
    memcpy(left, s, n);
    left[n] = '\0';
    long i, c;
    if (!ac__parse_count(slash + 1, &c))
        return -1;
    if (one_based) {
        if (!ac__parse_count(left, &i) || i > c)
            return -1;
        i--;
    } else {
        if (strcmp(left, "0") == 0)
            i = 0;
        else if (!ac__parse_count(left, &i) || i >= c)
            return -1;
    }
    *index = i;
    *count = c;
    return 0;
}

/* Bazel's and GoogleTest's sharding variables (0-based index, total). */
static int shard_from_env(ac__options *o, const char *index_var, const char *total_var, ac__buf *err) {
    const char *index = getenv(index_var), *total = getenv(total_var);
    if (!(index && *index) && !(total && *total))
        return 0;
    char spec[64];
    int len = snprintf(spec, sizeof spec, "%s/%s", index ? index : "", total ? total : "");
    if (len < 0 || (size_t)len >= sizeof spec ||
        parse_shard(spec, &o->shard_index, &o->shard_count, false) < 0) {
        char *si = ac__one_line(index ? index : ""), *st = ac__one_line(total ? total : "");
        ac__buf_printf(err, "%s='%s' and %s='%s' are not a shard index below a positive total", index_var, si,
                       total_var, st);
        free(si);
        free(st);
        return -1;
    }
    o->shard_source = index_var;
    return 0;
}

static void add_filter(ac__options *o, const char *pattern) {
    o->filters = ac__xrealloc(o->filters, (o->nfilters + 1) * sizeof *o->filters);
    o->filters[o->nfilters++] = pattern;
}

/* ---- the environment, read before the command line (which may override it) ---- */

static int read_environment(ac__options *o, ac__buf *err) {
    if (shard_from_env(o, "GTEST_SHARD_INDEX", "GTEST_TOTAL_SHARDS", err) < 0 ||
        shard_from_env(o, "TEST_SHARD_INDEX", "TEST_TOTAL_SHARDS", err) < 0)
        return -1;
    const char *v;
    if ((v = getenv("TESTBRIDGE_TEST_ONLY")) && *v)
        add_filter(o, v);
    if ((v = getenv("XML_OUTPUT_FILE")) && *v) {
        o->junit_path = v;
        o->junit_source = "XML_OUTPUT_FILE";
    }
    if ((v = getenv("TEST_SHARD_STATUS_FILE")) && *v)
        o->status_file = v;
    if ((v = getenv("TEST_PREMATURE_EXIT_FILE")) && *v)
        o->premature_exit_file = v;
    if ((v = getenv("TEST_TMPDIR")) && *v)
        o->tmpdir = v;
    if ((v = getenv("GITHUB_ACTIONS")) && strcmp(v, "true") == 0)
        o->github = true;
    if ((v = getenv("AC_TIMELINE")) && strcmp(v, "off") == 0)
        o->timeline_off = true;
    if (!ac__timeout_multiplier(&o->multiplier))
        return fail(err, "AC_TIMEOUT_MULTIPLIER: '%s' is not a positive number%s",
                    getenv("AC_TIMEOUT_MULTIPLIER"), "");
    if ((v = getenv("HARNESS_ACTIVE")) && *v)
        o->tap = true;
    return 0;
}

/* ---- the options: one table row each, parsed by one loop ---- */

/* What a handler works on: the options being filled, where a refusal goes, and what the checks after the
 * loop need to know. */
typedef struct parse_state {
    ac__options *o;
    ac__buf *err;
    bool tap_given; /* --tap, as opposed to HARNESS_ACTIVE */
} parse_state;

typedef enum arg_kind {
    ARG_NONE,     /* a flag */
    ARG_REQUIRED, /* "--name VALUE" or "--name=VALUE" (for -j also "-jVALUE") */
    ARG_ATTACHED, /* optional, and only as "--name=VALUE" (value NULL when absent) */
} arg_kind;

typedef struct option {
    const char *name;       /* "--jobs" */
    const char *short_name; /* "-j", or NULL */
    arg_kind arg;
    /* Applies the value (NULL for flags and an absent attached value); returns 0 or fail()'s -1. NULL:
     * the option is a flag that sets the bool at `flag` in ac__options. */
    int (*handle)(parse_state *ps, const char *value);
    size_t flag;
} option;

/* The index of value among the n names, or -1. */
static int choice(const char *value, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(value, names[i]) == 0)
            return i;
    return -1;
}

static int opt_list(parse_state *ps, const char *value) {
    ps->o->list = true;
    if (value && strcmp(value, "tsv") == 0)
        ps->o->list_tsv = true;
    else if (value)
        return fail(ps->err, "--list: '%s' is not a list format (use --list or --list=tsv)%s", value, "");
    return 0;
}

static int opt_filter(parse_state *ps, const char *value) {
    if (!*value || (value[0] == '-' && !value[1]))
        return fail(ps->err, "--filter: empty pattern%s%s", "", "");
    add_filter(ps->o, value);
    return 0;
}

static int opt_jobs(parse_state *ps, const char *value) {
    if (!ac__parse_count(value, &ps->o->jobs) || ps->o->jobs > 4096)
        return fail(ps->err, "--jobs: '%s' is not a whole number from 1 to 4096%s", value, "");
    return 0;
}

static int opt_timeout(parse_state *ps, const char *value) {
    if (!ac__parse_seconds(value, &ps->o->timeout) || ps->o->timeout <= 0)
        return fail(ps->err, "--timeout: '%s' is not a positive number of seconds%s", value, "");
    ps->o->timeout_given = true;
    return 0;
}

static int opt_tap(parse_state *ps, const char *value) {
    ps->o->tap = ps->tap_given = true;
    if (value) {
        if (!*value)
            return fail(ps->err, "--tap=: empty file name%s%s", "", "");
        ps->o->tap_path = value;
    }
    return 0;
}

static int opt_tap_version(parse_state *ps, const char *value) {
    static const char *const names[] = {"13", "14"};
    int c = choice(value, names, 2);
    if (c < 0)
        return fail(ps->err, "--tap-version: '%s' is not 13 or 14%s", value, "");
    ps->o->tap_version = 13 + c;
    return 0;
}

static int opt_junit(parse_state *ps, const char *value) {
    if (!*value)
        return fail(ps->err, "--junit: empty file name%s%s", "", "");
    ps->o->junit_path = value;
    ps->o->junit_source = "--junit";
    return 0;
}

static int opt_color(parse_state *ps, const char *value) {
    static const char *const names[] = {"auto", "always", "never"};
    static const ac__color colors[] = {AC_COLOR_AUTO, AC_COLOR_ALWAYS, AC_COLOR_NEVER};
    int c = choice(value, names, 3);
    if (c < 0)
        return fail(ps->err, "--color: '%s' is not one of auto, always, never%s", value, "");
    ps->o->color = colors[c];
    return 0;
}

static int opt_json(parse_state *ps, const char *value) {
    if (!*value)
        return fail(ps->err, "--json: empty file name%s%s", "", "");
    ps->o->json_path = value;
    return 0;
}

static int opt_shard(parse_state *ps, const char *value) {
    if (parse_shard(value, &ps->o->shard_index, &ps->o->shard_count, true) < 0)
        return fail(ps->err, "--shard: '%s' is not I/N with 1 <= I <= N%s", value, "");
    ps->o->shard_source = "--shard";
    return 0;
}

static int opt_repeat(parse_state *ps, const char *value) {
    const char *n = value;
    ps->o->until_fail = strncmp(value, "until-fail:", 11) == 0;
    if (ps->o->until_fail)
        n += 11;
    if (!ac__parse_count(n, &ps->o->repeat) || ps->o->repeat > 1000000)
        return fail(ps->err, "--repeat: '%s' is not N or until-fail:N (N from 1 to 1000000)%s", value, "");
    return 0;
}

static int opt_clock(parse_state *ps, const char *value) {
    static const char *const names[] = {"real", "virtual", "manual"};
    static const int clocks[] = {AC_CLOCK_REAL, AC_CLOCK_VIRTUAL, AC_CLOCK_MANUAL};
    int c = choice(value, names, 3);
    if (c < 0)
        return fail(ps->err, "--clock: '%s' is not one of real, virtual, manual%s", value, "");
    ps->o->clock = clocks[c];
    return 0;
}

static int opt_backend(parse_state *ps, const char *value) {
    static const char *const names[] = {"epoll", "poll", "select", "all"};
    static const unsigned bits[] = {AC_BACKEND_EPOLL, AC_BACKEND_POLL, AC_BACKEND_SELECT, AC_BACKEND_ALL};
    int c = choice(value, names, 4);
    if (c < 0)
        return fail(ps->err, "--backend: '%s' is not one of epoll, poll, select, all%s", value, "");
    ps->o->backend = bits[c] & ev_supported_backends();
    if (!ps->o->backend)
        return fail(ps->err, "--backend: libev here has no %s backend%s", value, "");
    return 0;
}

static int opt_seed(parse_state *ps, const char *value) {
    char *end;
    errno = 0;
    ps->o->seed = strtoull(value, &end, 10);
    if (*value < '0' || *value > '9' || *end || errno) /* digits only: strtoull skips spaces, signs */
        return fail(ps->err, "--seed: '%s' is not a whole number%s", value, "");
    ps->o->seed_given = true;
    return 0;
}

static int opt_schedules(parse_state *ps, const char *value) {
    if (!ac__parse_count(value, &ps->o->schedules) || ps->o->schedules > 100000000)
        return fail(ps->err, "--schedules: '%s' is not a whole number from 1 to 100000000%s", value, "");
    return 0;
}

static int opt_schedule_mode(parse_state *ps, const char *value) {
    ac__options *o = ps->o;
    if (ac__parse_schedule_mode(value, &o->schedule_mode, &o->pct_depth, &o->pct_steps) < 0)
        return fail(
            ps->err,
            "--schedule-mode: '%s' is not shuffle, pct, pct:DEPTH or pct:DEPTH:STEPS (DEPTH 1 to 16)%s",
            value, "");
    return 0;
}

static int opt_cancel_at(parse_state *ps, const char *value) {
    if (strcmp(value, "0") == 0)
        ps->o->cancel_at = 0;
    else if (!ac__parse_count(value, &ps->o->cancel_at))
        return fail(ps->err, "--cancel-at: '%s' is not a whole number from 0%s", value, "");
    return 0;
}

static int opt_fault_at(parse_state *ps, const char *value) {
    ac__buf why = {0};
    int rc =
        ac__fault_parse(value, &ps->o->fault_at, &why) < 0 ? fail(ps->err, "%s%s", ac__buf_str(&why), "") : 0;
    ac__buf_free(&why);
    return rc;
}

static int opt_fault_sweep(parse_state *ps, const char *value) {
    ac__buf why = {0};
    ac__fault_point *pts;
    unsigned n;
    int rc = ac__fault_sweep_parse(value, &pts, &n, &why) < 0
                 ? fail(ps->err, "--fault-sweep: %s%s", ac__buf_str(&why), "")
                 : 0;
    free(pts);
    ac__buf_free(&why);
    if (rc == 0)
        ps->o->fault_sweep = value;
    return rc;
}

static int opt_explore_budget(parse_state *ps, const char *value) {
    double *b = &ps->o->explore_budget;
    if (!ac__parse_seconds(value, b) || !(*b > 0) || *b > 1e7)
        return fail(ps->err,
                    "--explore-budget: '%s' is not a positive number of seconds (at most 10000000)%s", value,
                    "");
    return 0;
}

/* A whole number from lo to hi (0 allowed when lo is 0). */
static bool whole(const char *s, long lo, long hi, long *out) {
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int opt_timeline(parse_state *ps, const char *value) {
    if (!whole(value, 0, 1000000, &ps->o->timeline))
        return fail(ps->err, "--timeline: '%s' is not a whole number from 0 to 1000000%s", value, "");
    return 0;
}

static int opt_timeline_events(parse_state *ps, const char *value) {
    if (!whole(value, 16, 16777216, &ps->o->timeline_events))
        return fail(ps->err, "--timeline-events: '%s' is not a whole number from 16 to 16777216%s", value,
                    "");
    return 0;
}

static int opt_trace(parse_state *ps, const char *value) {
    if (!*value)
        return fail(ps->err, "--trace: the directory is empty%s%s", "", "");
    ps->o->trace_dir = value;
    return 0;
}

static int opt_callback_time_max(parse_state *ps, const char *value) {
    double *s = &ps->o->callback_time_max;
    if (!ac__parse_seconds(value, s) || !(*s > 0) || *s > 3600)
        return fail(ps->err, "--callback-time-max: '%s' is not a positive number of seconds (at most 3600)%s",
                    value, "");
    return 0;
}

#define FLAG(name, short_name, field)                                                                        \
    { name, short_name, ARG_NONE, NULL, offsetof(ac__options, field) }
#define VALUE(name, short_name, handler)                                                                     \
    { name, short_name, ARG_REQUIRED, handler, 0 }

/* Every option the runner takes (usage_text above describes each one). */
static const option options[] = {
    {"--list", NULL, ARG_ATTACHED, opt_list, 0},
    VALUE("--filter", NULL, opt_filter),
    VALUE("--jobs", "-j", opt_jobs),
    VALUE("--timeout", NULL, opt_timeout),
    FLAG("--no-fork", NULL, no_fork),
    VALUE("--clock", NULL, opt_clock),
    VALUE("--backend", NULL, opt_backend),
    FLAG("--fail-fast", "-x", fail_fast),
    VALUE("--shard", NULL, opt_shard),
    VALUE("--repeat", NULL, opt_repeat),
    FLAG("--shuffle", NULL, shuffle),
    VALUE("--seed", NULL, opt_seed),
    VALUE("--schedules", NULL, opt_schedules),
    VALUE("--schedule-mode", NULL, opt_schedule_mode),
    FLAG("--keep-going", NULL, keep_going),
    FLAG("--check-determinism", NULL, check_determinism),
    FLAG("--defer-readiness", NULL, defer_readiness),
    VALUE("--callback-time-max", NULL, opt_callback_time_max),
    FLAG("--cancel-sweep", NULL, cancel_sweep),
    VALUE("--cancel-at", NULL, opt_cancel_at),
    VALUE("--fault-sweep", NULL, opt_fault_sweep),
    VALUE("--fault-at", NULL, opt_fault_at),
    VALUE("--explore-budget", NULL, opt_explore_budget),
    {"--tap", NULL, ARG_ATTACHED, opt_tap, 0},
    VALUE("--tap-version", NULL, opt_tap_version),
    VALUE("--junit", NULL, opt_junit),
    VALUE("--json", NULL, opt_json),
    VALUE("--color", NULL, opt_color),
    VALUE("--timeline", NULL, opt_timeline),
    VALUE("--timeline-events", NULL, opt_timeline_events),
    VALUE("--trace", NULL, opt_trace),
    FLAG("--trace-all", NULL, trace_all),
    FLAG("--verbose", "-v", verbose),
    FLAG("--help", "-h", help),
    FLAG("--version", NULL, version),
};

#undef FLAG
#undef VALUE

static const option *find_option(const char *name) {
    for (size_t i = 0; i < sizeof options / sizeof *options; i++)
        if (strcmp(name, options[i].name) == 0 ||
            (options[i].short_name && strcmp(name, options[i].short_name) == 0))
            return &options[i];
    return NULL;
}

/* Parses argv[*i] (and its value, which may be the next argument: *i then moves on). */
static int parse_arg(parse_state *ps, int argc, char **argv, int *i) {
    const char *arg = argv[*i];
    const char *eq = NULL; /* the '=' before an attached value */
    char name[64];
    if (strncmp(arg, "--", 2) == 0 && (eq = strchr(arg, '=')) != NULL) {
        size_t n = (size_t)(eq - arg);
        if (n >= sizeof name)
            return fail(ps->err, "unknown option '%s'%s", arg, "");
        memcpy(name, arg, n);
        name[n] = '\0';
    } else if (strncmp(arg, "-j", 2) == 0 && arg[2]) {
        snprintf(name, sizeof name, "-j");
        eq = arg + 1; /* -j4 */
    } else {
        snprintf(name, sizeof name, "%s", arg);
    }
    const option *opt = find_option(name);
    const char *value = eq ? eq + 1 : NULL;
    if (opt && opt->arg == ARG_REQUIRED && !value) {
        if (*i + 1 >= argc)
            return fail(ps->err, "option '%s' needs a value%s", name, "");
        value = argv[++*i];
    } else if (eq && (!opt || opt->arg == ARG_NONE)) {
        return fail(ps->err, "option '%s' takes no value%s", name, "");
    }
    if (!opt) {
        if (arg[0] == '-')
            return fail(ps->err, "unknown option '%s'%s", arg, "");
        return fail(ps->err, "unexpected argument '%s' (filters are given with --filter)%s", arg, "");
    }
    if (!opt->handle) {
        *(bool *)((char *)ps->o + opt->flag) = true;
        return 0;
    }
    return opt->handle(ps, value);
}

/* ---- what holds between options, and the defaults that depend on the rest ---- */

static int check_and_complete(parse_state *ps) {
    ac__options *o = ps->o;
    if (!(o->timeout * o->multiplier <= 1e7)) { /* also catches inf and nan */
        char t[64], m[64];
        snprintf(t, sizeof t, "%g", o->timeout);
        snprintf(m, sizeof m, "%g", o->multiplier);
        return fail(ps->err, "--timeout %s s times AC_TIMEOUT_MULTIPLIER %s is more than 10,000,000 s", t, m);
    }
    if (o->tap && !o->tap_path && o->json_path && strcmp(o->json_path, "-") == 0) /* interleaved lines */
        return fail(ps->err, "%s both write to stdout (give one of them a file)%s",
                    ps->tap_given ? "--tap and --json -" : "--json - and TAP (HARNESS_ACTIVE is set)", "");
    if (o->trace_all && !o->trace_dir)
        return fail(ps->err, "--trace-all needs --trace DIR (where to write the files)%s%s", "", "");
    if (o->jobs == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o->jobs = n > 0 ? n : 1;
    }
    if (o->tap_version == 0) {
        const char *harness = getenv("HARNESS_ACTIVE");
        o->tap_version = harness && *harness ? tap_version_for_harness() : 14;
    }
    return 0;
}

int ac__parse_options(int argc, char **argv, ac__options *o, ac__buf *err) {
    *o = (ac__options){.timeout = 30.0,
                       .multiplier = 1.0,
                       .tap_version = 0,
                       .color = AC_COLOR_AUTO,
                       .repeat = 1,
                       .cancel_at = -1,
                       .timeline = 20,
                       .junit_source = "--junit"};
    if (read_environment(o, err) < 0)
        return -1;
    parse_state ps = {.o = o, .err = err};
    for (int i = 1; i < argc; i++)
        if (parse_arg(&ps, argc, argv, &i) < 0)
            return -1;
    return check_and_complete(&ps);
}

int ac__parse_schedule_mode(const char *s, int *mode, int *depth, long *steps) {
    *depth = 0;
    *steps = 0;
    if (strcmp(s, "shuffle") == 0) {
        *mode = AC_SCHED_SHUFFLE;
        return 0;
    }
    if (strncmp(s, "pct", 3) != 0 || (s[3] && s[3] != ':'))
        return -1;
    *mode = AC_SCHED_PCT;
    if (!s[3])
        return 0;
    char *end;
    errno = 0;
    long d = strtol(s + 4, &end, 10);
    if (end == s + 4 || errno || d < 1 || d > 16 || s[4] < '0' || s[4] > '9')
        return -1;
    *depth = (int)d;
    if (!*end)
        return 0;
    if (*end != ':' || end[1] < '0' || end[1] > '9')
        return -1;
    const char *k = end + 1;
    long n = strtol(k, &end, 10);
    if (*end || errno || n < 1 || n > 100000000)
        return -1;
    *steps = n;
    return 0;
}

void ac__options_free(ac__options *o) {
    free(o->filters);
    o->filters = NULL;
}
