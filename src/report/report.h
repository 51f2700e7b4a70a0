/* report.h — the result model (what one test produced) and the reporter interface. Reporters receive
 * finished results one at a time, in registration order, and are the only code that writes report text.
 * The runner builds results; it never formats them. */
#ifndef AC_REPORT_H
#define AC_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "asyncheck/test.h"
#include "../util/util.h"

typedef enum ac__outcome { AC_PASS, AC_FAIL, AC_SKIP } ac__outcome;

/* Why a failure happened; written as the JUnit failure type and the TAP `type:` field. */
typedef enum ac__failure_kind {
    AC_FK_ASSERTION,   /* an assertion or AC_FAIL */
    AC_FK_CRASH,       /* the test process died of a signal */
    AC_FK_EXIT,        /* the test process exited before the test finished */
    AC_FK_TIMEOUT,     /* the real-time watchdog killed the test */
    AC_FK_WATCHERS,    /* watchers still active when the test's time ran out after the body */
    AC_FK_HARNESS,     /* asyncheck itself could not run the test (fork failed, ...) */
    AC_FK_INTERRUPTED, /* the runner was interrupted (SIGINT/SIGTERM) while the test ran */
    AC_FK_SCHEDULE,    /* which explored schedule failed and how to replay it; nondeterminism;
                          properties no schedule satisfied */
    AC_FK_SANITIZER,   /* ThreadSanitizer reported a data race (or another problem) during the test */
} ac__failure_kind;

const char *ac__failure_kind_name(ac__failure_kind k);

typedef struct ac__failure {
    ac__failure_kind kind;
    bool fatal;
    char *file; /* may be NULL */
    int line;
    char *message;     /* one line, e.g. "AC_ASSERT_EQ(a, b) failed" */
    char *got;         /* printed value or NULL */
    char *expected;    /* printed value or NULL */
    const char *phase; /* setup, body, drain, teardown, or NULL when unknown */
} ac__failure;

/* Captured output of one stream, bounded whatever the test prints: the first AC_CAPTURE_HEAD bytes and
 * the last AC_CAPTURE_TAIL bytes are kept, the bytes between them only counted. */
#define AC_CAPTURE_HEAD (64 * 1024)
#define AC_CAPTURE_TAIL (64 * 1024)
typedef struct ac__capture {
    ac__buf text;   /* the head */
    ac__buf tail;   /* what came after the head: its last AC_CAPTURE_TAIL bytes are the tail (up to twice
                      that is held between compactions) */
    size_t dropped; /* bytes compacted out of `tail` */
} ac__capture;

/* What a report shows of a capture: the head, how many bytes were cut after it, and the tail. */
typedef struct ac__capture_parts {
    const char *head, *tail;
    size_t head_len, cut, tail_len;
} ac__capture_parts;

void ac__capture_add(ac__capture *c, const char *p, size_t n);
/* The report's view of c (pointers into c, valid until c changes). */
ac__capture_parts ac__capture_view(const ac__capture *c);
/* Appends all of c to out: what a report shows when nothing was cut (v.cut == 0). */
void ac__capture_join(const ac__capture *c, ac__buf *out);
void ac__capture_free(ac__capture *c);

/* What the exploration of one test ran (explore.c fills it in when the exploration ends; every reporter
 * renders the same fields, for passing and failing tests: a skip skips every schedule). `explored` is
 * false for a test that ran once. */
typedef struct ac__exploration {
    bool explored;
    const char *mode;         /* "shuffle" or "pct" (static) */
    unsigned schedules;       /* schedules that ran (at least one of their runs) */
    unsigned schedules_total; /* schedules the exploration was to run */
    unsigned runs;            /* runs of the test: schedules, cancel points, --check-determinism's copies */
    bool sweep;               /* a cancel sweep */
    unsigned cancel_points;   /* sweep: the cancel points tried, over all schedules */
    bool fault_sweep;         /* a fault sweep (src/fault/) */
    unsigned fault_points;    /* fault sweep: runs that failed a call */
    bool determinism;         /* --check-determinism: each schedule ran twice */
    double budget;            /* the exploration budget in seconds of wall time; 0: none */
    bool budget_reached;      /* the budget stopped the exploration before it was complete */
    /* --shard I/N split the schedules (0: it did not): this shard's share is 1-based schedules
     * shard_index + shard_count * j, j < shard_share, of which the first `schedules` ran */
    unsigned shard_index, shard_count, shard_share;
} ac__exploration;

/* One event of a test's timeline, as the runner resolved it from the test's ring (src/timeline/):
 * reporters render these and nothing else of the timeline. */
typedef struct ac__tl_line {
    const char *kind;   /* "callback", "call", "complete", "start", "stop", "peer", "cancel", "fault",
                           "note" (static) */
    unsigned long iter; /* the loop's iteration */
    double time;        /* seconds of the test's clock since its loop was made */
    double cpu;         /* a callback's CPU seconds; -1: it did not return (crash, hang, unwound) */
    bool slice;         /* a callback: has a duration (cpu) */
    unsigned long flow; /* a mock call's id: the call starts it, its completions end it; 0: none */
    long active;        /* watchers active on the test's loop (-1: not recorded) */
    long fds;           /* open descriptors (-1: not counted) */
    int depth;          /* a callback's nesting (a nested ev_run of the test's loop) */
    char *text;         /* what happened, one line */
} ac__tl_line;

/* A test's timeline: every event its ring still held, oldest first. */
typedef struct ac__timeline {
    ac__tl_line *ev;
    size_t n;
    unsigned long long total; /* events the test recorded */
    unsigned long long lost;  /* of them, overwritten (the ring wrapped) or cut off by the process's end */
    bool recorded;            /* the run recorded a timeline at all */
} ac__timeline;

/* The aligned one-line form every report shows: "   3  0.100001  complete  send #0 completes: ..."
 * (iteration, time in seconds, kind, text, a callback's CPU time). */
void ac__tl_line_format(ac__buf *b, const ac__tl_line *l);
void ac__timeline_free(ac__timeline *t);
/* The index of the first of the last `n` events of t (what a report shows with --timeline n). */
size_t ac__timeline_first_shown(const ac__timeline *t, size_t n);
/* The heading over the events shown: "timeline: last 20 of 57 events (iteration, time since the loop was
 * made in s, event)", with how many were lost when the ring wrapped. */
void ac__timeline_heading(ac__buf *b, const ac__timeline *t, size_t shown);

typedef struct ac__result {
    const ac__test_def *def;
    size_t number;    /* 1-based position in the run */
    unsigned repeat;  /* 1-based repetition of this test (--repeat) */
    unsigned repeats; /* how many repetitions the run asked for (1: none) */
    ac__outcome outcome;
    bool not_run; /* never started (--fail-fast stopped the run); outcome is AC_SKIP */
    char *skip_reason;
    const char *phase; /* the phase the test was last in: setup, body, drain, teardown */
    ac__failure *failures;
    size_t nfailures;
    /* failures the test reported beyond AC_FAILURE_LIMIT: counted, not kept */
    size_t failures_omitted;
    double duration; /* seconds, real time */
    ac__capture out, err;
    ac__buf notes; /* the test's notes (AC_REC_NOTE), one "file:line: message" a line */
    bool finished; /* the test reached its end ("done" record) */
    /* what the test's schedule records said (the runner's exploration reads these; reporters do not) */
    unsigned long sched_steps;
    bool cancel_reached; /* the run cancelled its operation at its cancel point */
    bool cancel_late;    /* the cancel point came after the operation had completed */
    long fault_calls;    /* counted calls to the faulted function (0 without a fault point) */
    bool fault_known;    /* ... as the test's record said (a test that crashed or hung sent none) */
    char *trace;
    struct ac__prop_obs *props;
    size_t nprops;
    /* what an explored test ran (set by explore.c; reporters render it) */
    ac__exploration exploration;
    /* the timeline of the run the report is about (an explored test: the failing run shown) */
    ac__timeline timeline;
    unsigned long long seed; /* that run's schedule seed */
    char *replay;            /* the command line that replays that run (NULL: not known) */
} ac__result;

/* One property site as one run of a test saw it (asyncheck/race.h). */
typedef struct ac__prop_obs {
    int kind;
    char *file;
    int line;
    char *message;
    char *cond;
    long evaluated, hit;
} ac__prop_obs;

/* How many of a test's own failures a result keeps: the first AC_FAILURE_LIMIT, plus the last fatal one
 * reported after them (the failure that ended the test); the others are only counted. */
#define AC_FAILURE_LIMIT 100

/* Frees n property observations and the array. */
void ac__props_free(ac__prop_obs *props, size_t n);
/* Appends a failure (strings are copied; NULLs allowed). */
void ac__result_add_failure(ac__result *r, ac__failure_kind kind, bool fatal, const char *file, int line,
                            const char *message, const char *got, const char *expected);
/* Adds a failure the test itself reported, within AC_FAILURE_LIMIT: past the limit it is counted in
 * failures_omitted, except that a fatal one takes the one slot kept after the limit. */
void ac__result_add_test_failure(ac__result *r, ac__failure_kind kind, bool fatal, const char *file, int line,
                                 const char *message, const char *got, const char *expected);
/* The canonical (static) spelling of a phase name, or NULL if it is not one. */
const char *ac__phase_name(const char *name);
/* Settles outcome from failures/skip: any failure fails; else a skip reason skips; else pass. */
void ac__result_settle(ac__result *r);
void ac__result_free(ac__result *r);
/* "suite.name" into a caller buffer. */
void ac__full_name(const ac__test_def *def, ac__buf *out);
/* How reports name a result: "suite.name", or "name" without the suite, with " [k/N]" appended when
 * the run repeats tests. */
void ac__result_label(const ac__result *r, bool with_suite, ac__buf *out);
/* The last 1-based schedule a shard's exploration ran (0: none ran). */
unsigned ac__exploration_shard_last(const ac__exploration *x);
/* The schedules a shard's exploration ran, compactly, for every reporter: "2, 6, 10, …, 998 (n ≡ 2 mod 4,
 * n ≤ 998)"; appended to out. */
void ac__exploration_shard_text(const ac__exploration *x, ac__buf *out);

typedef struct ac__summary {
    size_t passed, failed, skipped, not_run, total;
    double duration;
    int interrupted; /* the signal that interrupted the run, or 0 */
} ac__summary;

/* What reporters learn before the first result. */
typedef struct ac__run_info {
    size_t total;            /* results that will follow */
    bool shuffled;           /* --shuffle: the order is seeded */
    unsigned long long seed; /* the seed that replays this order */
    const char *replay;      /* the options that replay this run's order, e.g. "--shuffle --seed=42" */
    size_t timeline;         /* how many of a failing test's last timeline events reports show (0: none) */
} ac__run_info;

typedef struct ac__reporter ac__reporter;
struct ac__reporter {
    void (*begin)(ac__reporter *r, const ac__run_info *info);
    void (*result)(ac__reporter *r, const ac__result *res);
    /* Optional (may be NULL): called as tests finish in any order, and periodically. */
    void (*progress)(ac__reporter *r, size_t done, size_t total, size_t failed, double elapsed);
    /* Returns 0, or -1 when the stream had an error (the outfile.c stream names it when closed). */
    int (*end)(ac__reporter *r, const ac__summary *sum);
    void (*destroy)(ac__reporter *r);
};

/* Human-readable output to `out`: one line a test, failures in detail, the closing count line; with
 * `progress`, a single status line kept updated at the bottom (for a terminal). */
ac__reporter *ac__human_reporter(FILE *out, bool color, bool verbose, bool progress);
/* TAP (version 13 or 14) streamed to `out`; closes `out` at the end when own_file is true. */
ac__reporter *ac__tap_reporter(FILE *out, bool own_file, int version);
/* JUnit XML, written whole to `out` at the end (outfile.c puts the file in place only then); does not
 * close `out`. */
ac__reporter *ac__junit_reporter(FILE *out, const char *run_name);
/* JSON lines, one record a test and a closing summary record, streamed to `out`. */
ac__reporter *ac__json_reporter(FILE *out, bool own_file);
/* GitHub Actions workflow commands (::error file=…,line=…::…) for each failure, to `out`. */
ac__reporter *ac__github_reporter(FILE *out);
/* Chrome Trace Event Format files (trace.c): one JSON file per test in `dir` — every test with `all`,
 * else the failing ones; `prog` names the executable in replay lines. A file it cannot write is named on
 * stderr (the run goes on). */
ac__reporter *ac__trace_reporter(const char *dir, bool all, const char *prog);

#endif
