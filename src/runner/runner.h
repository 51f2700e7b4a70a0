/* runner.h — the runner module's internal interface: the registry, command-line options, the record
 * channel between a test and the runner, executing one test (the child side), and running a selection
 * of tests (the parent side). Only src/runner/ includes it; what the feature modules may call of the
 * running test is src/context/context.h (implemented here, in exec.c and registry.c). */
#ifndef AC_RUNNER_H
#define AC_RUNNER_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "asyncheck/test.h"
#include "../context/context.h"
#include "../fault/fault.h"
#include "../race/race.h"
#include "../report/report.h"

/* ---- registry (registry.c; ac__test_count and ac__test_at are declared in context.h) ---- */
const ac__suite_def *ac__suite_find(const char *name);

/* ---- run fixtures (run_fixture.c) ---- */
/* True, with both places in `err`, when two run fixtures share a name. */
bool ac__run_fixture_duplicate(ac__buf *err);
/* Sets up every registered run fixture not set up yet, in registration order, in this process; before
 * each one asks `stop` (may be NULL) and sets up no more once it says true. A failed setup is noted
 * (and printed to stderr), the others go on. */
void ac__run_fixtures_setup(bool (*stop)(void));
/* Tears down the run fixtures whose setup succeeded, in reverse order, each once; only in the process
 * that set them up. */
void ac__run_fixtures_teardown(void);

/* ---- options (options.c) ---- */
typedef enum ac__color { AC_COLOR_AUTO, AC_COLOR_ALWAYS, AC_COLOR_NEVER } ac__color;

typedef struct ac__options {
    bool list, no_fork, fail_fast, verbose, help, version;
    bool list_tsv;      /* --list=tsv: name, timeout, file, line, runs, sweep, budget (for discovery) */
    long jobs;          /* 0: online CPUs */
    double timeout;     /* default per-test timeout, seconds */
    bool timeout_given; /* --timeout was given (replay lines repeat it) */
    double multiplier;  /* AC_TIMEOUT_MULTIPLIER */
    const char **filters;
    size_t nfilters;
    bool tap;
    const char *tap_path; /* NULL: stdout */
    int tap_version;      /* 13 or 14 */
    const char *junit_path;
    const char *junit_source; /* "--junit" or "XML_OUTPUT_FILE", for messages */
    const char *json_path;    /* "-": stdout */
    ac__color color;
    long shard_index, shard_count; /* 0-based index; count 0: no sharding */
    const char *shard_source;      /* where the shard came from, for messages */
    long repeat;                   /* 1: once */
    bool until_fail;               /* --repeat until-fail:N */
    bool shuffle;
    bool seed_given;
    unsigned long long seed;
    bool github;                     /* GITHUB_ACTIONS=true */
    const char *status_file;         /* TEST_SHARD_STATUS_FILE */
    const char *premature_exit_file; /* TEST_PREMATURE_EXIT_FILE */
    const char *tmpdir;              /* TEST_TMPDIR */
    int clock;                       /* --clock: AC_CLOCK_* (0: real) */
    long schedules;                  /* --schedules (0: not given) */
    int schedule_mode;               /* AC_SCHED_* (0: not given) */
    int pct_depth;                   /* from --schedule-mode pct:D (0: not given) */
    long pct_steps;                  /* from --schedule-mode pct:D:K (0: not given) */
    bool keep_going, check_determinism, cancel_sweep;
    long cancel_at;           /* --cancel-at (-1: not given) */
    const char *fault_sweep;  /* --fault-sweep LIST (NULL: not given) */
    ac__fault_point fault_at; /* --fault-at (at 0: not given) */
    const char *prog;         /* argv[0], for replay command lines */
    /* --explore-budget, seconds (0: not given) */
    double explore_budget;
    unsigned backend;     /* --backend: AC_BACKEND_* bits (0: not given) */
    bool defer_readiness; /* --defer-readiness */
    /* --callback-time-max, seconds (0: not given) */
    double callback_time_max;
    long timeline;         /* --timeline N: the last N events a failure report shows (default 20, 0: none) */
    long timeline_events;  /* --timeline-events N: each test's ring (0: not given) */
    bool timeline_off;     /* AC_TIMELINE=off: record nothing (to measure what recording costs) */
    const char *trace_dir; /* --trace DIR (NULL: no trace files) */
    bool trace_all;        /* --trace-all: a trace file for every test, not only failing ones */
} ac__options;

/* Parses argv and the environment. Returns 0, or -1 with a one-line reason in `err`. */
int ac__parse_options(int argc, char **argv, ac__options *o, ac__buf *err);
void ac__print_usage(const char *prog, FILE *out);
/* "shuffle", "pct", "pct:D", "pct:D:K" into AC_SCHED_* and PCT's depth and steps (0: not given). */
int ac__parse_schedule_mode(const char *s, int *mode, int *depth, long *steps);
void ac__options_free(ac__options *o);

/* ---- records: encoding and applying what a running test sends (channel.c; the record types are
 * context.h's) ---- */
#define AC_REC_MAX_FIELDS 8
void ac__record_encode(ac__buf *out, int type, const char *const *fields, size_t n);
/* Applies one decoded record to a result. */
void ac__record_apply(ac__result *r, int type, const char *const *fields, size_t n);
/* Applies every complete record in `in` to `r` and removes them, leaving any partial tail.
 * Returns -1 if the stream is malformed. */
int ac__records_consume(ac__buf *in, ac__result *r);

/* Where a running test sends its records: a pipe to the runner, or straight into a result (--no-fork). */
typedef struct ac__sink {
    int fd;           /* >= 0: write encoded records here */
    ac__result *into; /* else: apply here */
} ac__sink;

/* ---- executing one test, in whatever process it runs in (exec.c) ----
 * Creates the test's loop, runs setup, body, the drain of the loop and teardown, and sends records to
 * `sink`, ending with AC_REC_DONE. Returns normally even after fatal failures. */
/* ---- the fork servers (forksrv.c) ----
 * One per job slot, forked from the runner after its set-up; each forks a test's process on request with
 * the runner as its parent (clone3 with CLONE_PARENT), so that the fork's cost is not the runner's. */
typedef struct ac__fork_request {
    const ac__test_def *def;
    ac__sched_params sched;
    double timeout;
    size_t slot;
} ac__fork_request;
/* Runs in the new test process with its request and its ends of the record, stdout and stderr pipes;
 * never returns, and must close every other descriptor above 3. */
typedef void (*ac__fork_child_fn)(void *ctx, const ac__fork_request *req, int res_w, int out_w, int err_w);
typedef struct ac__forksrv {
    pid_t pid; /* the server, or -1 */
    int sock;  /* the runner's end of its socket, or -1 */
    int *made; /* shared with the server: the pid of the process it made last, written by the kernel */
} ac__forksrv;
/* Whether fork servers can be used here: not under a sanitizer (whose runtime must see every fork), not
 * with AC_FORK_SERVER=0 in the environment, and only where the kernel has clone3 and tells the thread-id
 * address glibc's fork would use (PR_GET_TID_ADDRESS). */
bool ac__forksrv_available(void);
/* Forks a server into `s`, which keeps only the descriptors in `keep` (and its socket), calls `in_server`
 * once, then serves requests with `child`. False (and `s` unused) when it could not be started. */
bool ac__forksrv_spawn(ac__forksrv *s, ac__fork_child_fn child, void (*in_server)(void *ctx), void *ctx,
                       const int *keep, size_t nkeep);
/* Asks for a test process, sending the test's ends of its record, stdout and stderr pipes (`writes`,
 * made blocking by the test process); the caller keeps the read ends and closes its copies of the write ends.
 * The server keeps the write ends: `writes` NULL gives the next test the same pipes. 0, or -1 when the
 * server cannot be reached. */
int ac__forksrv_request(ac__forksrv *s, const ac__fork_request *req, const int writes[3]);
/* Reads the server's answers, one a request, passing each to `started`: the pid of the process it made,
 * or a negative errno when it made none. Reads those waiting (at most `max`, 0 for all), and with
 * `wait_ms` > 0 at least one, waiting that long at most (a server silent that long is killed). Returns
 * how many were read, or -1 when the server is gone (its socket is then closed, sock -1;
 * ac__forksrv_stop reaps it). */
int ac__forksrv_pump(ac__forksrv *s, void (*started)(void *ctx, pid_t pid), void *ctx, int wait_ms, int max);
/* The pid the kernel recorded for the server's last fork since the last request (0: none), which tells
 * whether a server that died before answering had made the process. */
pid_t ac__forksrv_made(const ac__forksrv *s);
/* Ends the server (it exits when its socket closes) and reaps it. */
void ac__forksrv_stop(ac__forksrv *s);

/* Closes every descriptor but the `n` in `keep` (sorted in place). */
void ac__close_all_but(int *keep, size_t n);
/* Closes every descriptor but the non-negative ones of the first 15 in `keep`, and `also`. */
void ac__close_all_but_and(const int *keep, size_t nkeep, int also);

/* ---- the signals a test sends its parent process (parent_signal.c) ---- */

/* One signal a descendant of the catching process sent it: `group` is the sender's process group (a
 * test's process group is the test's pid), 0 when the sender had ended before it could be looked at. */
typedef struct ac__parent_signal {
    int sig;
    pid_t sender, group;
} ac__parent_signal;
/* Catches, in this process (the parent of tests), the signals a test might send its parent. One a
 * descendant sent once tests have begun arrives on the returned descriptor (non-blocking; -1: none can be
 * caught); one from anyone else acts as before: SIGINT and SIGTERM call `interrupt` (in the handler:
 * async-signal-safe; NULL: they are ignored), the others their default action. Signals the program had set a
 * handler for are left alone. */
int ac__parent_signals_catch(void (*interrupt)(int sig));
/* Tests begin: from now on a signal from a child (or its descendants) is passed on; before, each acts as
 * one from outside (a run fixture's process, while the fixtures are set up). */
void ac__parent_signals_tests_begin(void);
/* What `sig` from outside does (its default action; for a stop signal, stopped until continued), from
 * a handler or not. */
void ac__parent_signal_default_action(int sig);
/* The next signal waiting on `fd`, false when none is. */
bool ac__parent_signal_read(int fd, ac__parent_signal *ps);
/* In a child: every signal still caught back to its default action (the descriptor is left alone). */
void ac__parent_signals_default(void);
/* Every signal back to its default action, and the descriptor closed. */
void ac__parent_signals_release(void);
/* In a child that has closed the descriptor already: forget its number (it may be reused). */
void ac__parent_signals_forget(void);

/* ---- the lanes (lane.c): a process per job slot that supervises the slot's tests ---- */
typedef struct ac__lane {
    pid_t pid;   /* the lane, or -1 */
    int sock;    /* the runner's end of its socket (in the lane: its own end), or -1 */
    ac__buf in;  /* bytes read and not yet a whole message */
    ac__buf out; /* messages put and not yet sent (ac__lane_flush sends them in one write) */
} ac__lane;
enum {
    AC_LANE_RUN = 'R',       /* runner: an ac__fork_request */
    AC_LANE_INTERRUPT = 'I', /* runner: an int, the signal that interrupted the run */
    AC_LANE_DROP = 'X',      /* runner: the runs queued and not started are not run, for this reason */
    AC_LANE_RESULT = 'D',    /* lane: the run's result (ac__result_wire_encode) */
};
/* How long the runner waits beyond a run's own limit for its lane's answer, or for a lane to exit. */
#define AC_LANE_PATIENCE_MS 5000
/* Whether lanes may be used (not with AC_LANES=0 in the environment). */
bool ac__lane_available(void);
/* Forks a lane into `l`, which keeps only the descriptors in `keep` and its socket, ignores SIGINT and
 * SIGTERM (the runner passes them on), dies with the runner, and calls serve(ctx, its socket), then
 * exits. False (and `l` unused) when it could not be started. */
bool ac__lane_spawn(ac__lane *l, void (*serve)(void *ctx, int sock), void *ctx, const int *keep,
                    size_t nkeep);
/* Adds one message to l->out. */
void ac__lane_put(ac__lane *l, int type, const void *payload, size_t n);
/* Sends what l->out holds, whole (blocking), and empties it. 0, or -1 when the other end is gone. */
int ac__lane_flush(ac__lane *l);
/* Reads what the socket holds into l->in (with `wait`, at least something). 0, or -1 at its end. */
int ac__lane_read(ac__lane *l, bool wait);
/* The first whole message in l->in: 1 (type and payload set, valid until ac__lane_consume), 0 when none
 * is whole yet, -1 when l->in cannot be a message. */
int ac__lane_message(ac__lane *l, int *type, const char **payload, size_t *n);
void ac__lane_consume(ac__lane *l);
/* Closes the runner's end and reaps the lane, returning its wait status: killed first with `kill_it`, else
 * given AC_LANE_PATIENCE_MS to exit. */
int ac__lane_stop(ac__lane *l, bool kill_it);

/* ---- how much work a lane holds (lane_pace.c) ---- */
#define AC_LANE_DEPTH_MAX 16  /* runs a lane holds at most: the one it runs, those queued, results held */
#define AC_LANE_DEPTH_FIRST 4 /* ... before any of its runs has ended */
/* A lane's pace (seconds; 0: none yet) after a run that took `took`: its recent runs' duration, the last
 * weighing a quarter. */
double ac__lane_pace(double pace, double took);
/* How many runs a lane of that pace may hold: about 5 ms of work, between 2 and AC_LANE_DEPTH_MAX. */
size_t ac__lane_depth(double pace);
/* Whether a lane that holds results sends them now, `left` runs being queued behind the next: when one or
 * none is, or they make less than 1 ms of work. (A failure's result, an interrupt and a result held 50 ms
 * send them too: run.c.) */
bool ac__lane_send_now(size_t left, double pace);

/* ---- one run's result as bytes (result_wire.c) ---- */
/* What a lane learnt of a run: records applied, captures, failures, duration (not the timeline, seed,
 * exploration or outcome: the runner adds them). */
void ac__result_wire_encode(ac__buf *b, const ac__result *r);
/* Adds what ac__result_wire_encode wrote to `r`. 0, or -1 when the bytes are not such a message (what
 * could be read was added). */
int ac__result_wire_decode(const void *data, size_t len, ac__result *r);

/* Once in the runner before it forks tests: what every test child would otherwise redo (binding the
 * real write() for records, wiring the mock module's namers), so that the children only read it. */
void ac__exec_warm(void);
/* Runs one test in this process. `cpus`, when not NULL, is the CPU set the test's own code runs on: a
 * forked test's process starts pinned to its job's CPU and keeps it until the test starts a thread or a
 * process or asks about CPUs (cpu_hold.c), so that a test that does none of these is not moved to
 * another CPU (docs/PERFORMANCE.md) while every thread or process a test starts has the whole set. */
void ac__exec_test(const ac__test_def *def, double timeout, int default_clock, const ac__sched_params *sched,
                   ac__sink *sink, const cpu_set_t *cpus);

/* ---- the CPU a test's process keeps (cpu_hold.c) ---- */
/* Once in the runner before it forks: puts the replacements of the calls that start a thread or a
 * process (pthread_create, fork, posix_spawn[p], system, popen) or read or set a CPU set
 * (sched_[gs]etaffinity, pthread_[gs]etaffinity_np) into the slots, where they stay; each gives the
 * held set back first, then calls the real function. False when they could not go in. */
bool ac__cpu_hold_install(void);
/* In a test's process, instead of sched_setaffinity(set): keeps the CPU it is pinned to until one of
 * those calls, then gives every thread `set`. Without the replacements, gives it at once. */
void ac__cpu_hold(const cpu_set_t *set);
/* Gives the held set back now (once; nothing when none is held). */
void ac__cpu_release(void);
/* Gives it back when the process has started a thread somewhere no slot reached (at each AC_AWAIT). */
void ac__cpu_release_if_threaded(void);

/* ---- ThreadSanitizer's reports (sanitizer.c) ---- */
/* How many reports ThreadSanitizer has made in this process (0 without TSan). */
unsigned long ac__tsan_reports(void);
/* Fails the running test `t` when TSan reported anything since the count was `before`. */
void ac__tsan_check(ac_test *t, unsigned long before);
/* At a test's start: remembers how many AddressSanitizer/UBSan reports came before it, and whether it runs
 * in a process of its own (where a report that ends the process still reaches the runner as the test's
 * failure). Registers the runtime's death callback on first use; nothing without the sanitizers. */
void ac__asan_begin(bool own_process);
/* Fails the running test `t` when ASan or UBSan reported anything since ac__asan_begin (reports the
 * process survived: UBSan's, recovering). */
void ac__asan_check(ac_test *t);

/* ---- exploring schedules (explore.c) ---- */
typedef struct ac__explore ac__explore;
/* The schedule of a test that runs once (no exploration): --seed's replay, --cancel-at. */
void ac__explore_plain_params(const ac__options *o, const ac__test_def *def, ac__sched_params *p);
/* Under sharding, how many of the test's schedules this shard runs (0-based schedule k goes to 0-based
 * shard k mod N); -1 when the test is not split by schedule (no sharding, or one schedule), so that the
 * shards share it out whole. */
long ac__explore_shard_share(const ac__options *o, const ac__test_def *def);
/* NULL when the test runs once; else the plan of its runs. */
ac__explore *ac__explore_new(const ac__options *o, const ac__test_def *def);
/* What --list=tsv says of a test's exploration: the runs planned (its schedules, twice each under
 * --check-determinism; 1 when it runs once), whether it sweeps cancel points (their number is unknown
 * until it runs), and its exploration budget in seconds (0: none). */
void ac__explore_plan(const ac__options *o, const ac__test_def *def, unsigned *runs, bool *sweep,
                      double *budget);
/* The next run to start, if one may start now (false: none left, or waiting for one in flight). */
bool ac__explore_next(ac__explore *ex, ac__sched_params *p, unsigned *sched);
/* A run finished: its result (consumed; left empty). */
void ac__explore_finish(ac__explore *ex, const ac__sched_params *p, unsigned sched, ac__result *r);
/* Starts no more runs (the runner was interrupted). */
void ac__explore_stop(ac__explore *ex);
/* No run in flight and none left to start. */
bool ac__explore_done(const ac__explore *ex);
/* Fills the test's result (def, number and repeat already set) and frees ex. */
void ac__explore_result(ac__explore *ex, ac__result *out);

/* ---- timelines (tlconv.c) ---- */
struct ac__tl_ring;
/* The ring's events into `out` (emptied first), names resolved in this process (the same executable as
 * the test's). */
void ac__timeline_collect(const struct ac__tl_ring *ring, ac__timeline *out);
/* How many events test def's ring keeps under these options: --timeline-events, else the test's own
 * .timeline_events (clamped to 16..16,777,216), else 4,096 (65,536 under --trace). */
size_t ac__timeline_capacity(const ac__options *o, const ac__test_def *def);

/* ---- running a selection (run.c) ---- */
/* One run of one test: the unit the runner schedules and reporters see. */
typedef struct ac__item {
    const ac__test_def *def;
    unsigned repeat; /* 1-based */
} ac__item;

typedef struct ac__run {
    const ac__options *opts;
    const ac__test_def *const *tests; /* the selection, each test once */
    size_t ntests;
    /* The nitems items to run, item i from item_at(item_ctx, i), asked for once each, in increasing
     * order: a stream (--repeat 1000000 is never held whole). */
    ac__item (*item_at)(void *ctx, size_t i);
    void *item_ctx;
    size_t nitems;
    ac__reporter **reporters;
    size_t nreporters;
} ac__run;

/* Runs the items, feeding results in order to every reporter. Returns the summary counts. */
void ac__run_tests(const ac__run *run, ac__summary *sum);

/* ---- the runner's own process (process.c) ---- */
/* Makes the process fit to run tests, whatever its parent left: fds 0-2 opened on /dev/null when closed,
 * SIGCHLD's disposition reset and SIGCHLD, SIGINT and SIGTERM unblocked, the descriptor limit raised to
 * the hard one. Called first by ac_main; returns 2 (after failing the running test) when ac_main is
 * called from inside a test, else 0. */
int ac__runner_startup(const char *prog);
/* In a test process: the descriptor limit the runner was started with. */
void ac__runner_child_state(void);
/* How many of `jobs` tests may run at once with the descriptors left under the limit (at least 1). */
size_t ac__runner_fd_slots(size_t jobs);

/* Effective real-time limit for a test in seconds (its own or the default, times the multiplier). */
double ac__effective_timeout(const ac__options *o, const ac__test_def *def);

#endif
