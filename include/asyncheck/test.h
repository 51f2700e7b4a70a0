/* asyncheck/test.h — registering tests and suites, the test handle, the test's loop, and AC_AWAIT.
 *
 * A test is a function body registered by AC_TEST at program start (a constructor; no lists to keep).
 * Each test runs in its own process on its own fresh libev loop; the runner lives in ac_main(). */
#ifndef ASYNCHECK_TEST_H
#define ASYNCHECK_TEST_H

#include <stdbool.h>
#include <stddef.h>

struct ev_loop;

#ifdef __cplusplus
extern "C" {
#endif

/* The running test: passed to every test body as `t`, and to suite setup/teardown. Opaque. */
typedef struct ac_test ac_test;

/* A test's clock (ac_test_options.clock, ac_suite_options.clock, --clock; asyncheck/clock.h says what
 * each one does). */
typedef enum ac_clock { AC_CLOCK_DEFAULT = 0, AC_CLOCK_REAL, AC_CLOCK_VIRTUAL, AC_CLOCK_MANUAL } ac_clock;

/* How exploring schedules orders the ready callbacks (ac_test_options.schedule_mode, --schedule-mode;
 * asyncheck/race.h). */
typedef enum ac_schedule_mode {
    AC_SCHED_DEFAULT = 0, /* --schedule-mode, else AC_SCHED_SHUFFLE */
    AC_SCHED_SHUFFLE,     /* every dispatch round in a fresh seeded order */
    AC_SCHED_PCT,         /* PCT: seeded priorities per watcher, lowered at depth-1 seeded steps */
} ac_schedule_mode;

/* libev backends a test's loop may use (ac_test_options.backend, --backend; or-ed). The values are
 * libev's EVBACKEND_* bits. A backend libev lacks here is left out. */
typedef enum ac_backend {
    AC_BACKEND_SELECT = 1u,
    AC_BACKEND_POLL = 2u,
    AC_BACKEND_EPOLL = 4u,
    AC_BACKEND_ALL = 7u,
} ac_backend;

/* Per-test options, given as designated initialisers after the test's name:
 *   AC_TEST(suite, name, .timeout = 2.5, .skip = "needs IPv6") { ... }
 * A zero field means "the default". Later versions add fields; the first field is reserved so that
 * AC_TEST can always start the initialiser with it. */
typedef struct ac_test_options {
    int ac__reserved;
    /* Real-time limit for the whole test in seconds (setup, body, draining the loop, teardown). 0: the
     * suite's .timeout, else the runner's --timeout (default 30 s). Scaled by AC_TIMEOUT_MULTIPLIER.
     * A limit that is not finite or, scaled, above 10,000,000 s fails the test unrun. */
    double timeout;
    /* Non-NULL: the test is not run and is reported as skipped with this reason. */
    const char *skip;
    /* AC_PARAM_TEST only: names an instance after its parameter ("suite.name/<this>"). NULL: by index
     * ("suite.name/0", "/1", ...). ac_param_name_first_field suits tables whose first member is a
     * `const char *name`. */
    const char *(*param_name)(const void *param);
    /* Hygiene checks this test waives (AC_ALLOW_* flags, or-ed): every check is on by default. */
    unsigned allow;
    /* A loop iteration whose callbacks run longer than this (real seconds) fails the test as a blocked
     * loop. 0: 0.1 s (scaled by AC_TIMEOUT_MULTIPLIER). */
    double slow_callback;
    /* The test's clock: AC_CLOCK_DEFAULT (the suite's, else --clock, else real), AC_CLOCK_REAL,
     * AC_CLOCK_VIRTUAL (time jumps to the next timer when nothing is ready) or AC_CLOCK_MANUAL (time moves
     * only by ac_clock_advance). */
    ac_clock clock;
    /* Schedules to explore (asyncheck/race.h): run the test under this many seeds, each perturbing the
     * order of ready callbacks and the latencies declared as ranges. 0: 1 (libev's own order only).
     * --schedules overrides it for every test. */
    unsigned schedules;
    /* AC_SCHED_SHUFFLE or AC_SCHED_PCT; AC_SCHED_DEFAULT: --schedule-mode, else shuffle. */
    ac_schedule_mode schedule_mode;
    /* PCT depth (priority change points + 1); 0: --schedule-mode's, else 3. */
    int pct_depth;
    /* Rerun the test cancelling after the 1st, 2nd, ... dispatched callback (ac_cancel_with). */
    bool cancel_sweep;
    /* Fault sweep: "read,write" reruns the test failing the 1st, 2nd, ... call of each named function
     * made after ac_fault_start (asyncheck/fault.h), one failure per run, with each function's default
     * failures; "read=ECONNRESET+EIO,write" chooses read's (any errno name, SHORT, EAI_* for
     * getaddrinfo); README "Fault injection". --fault-sweep overrides it. NULL: none. */
    const char *fault_sweep;
    /* Drain the loop after the body (the default: AC_TEST sets true unless the test says otherwise): run
     * it until the watchers the body started have finished. false: no drain — a body that returns with
     * watchers it started still active fails, listing each with where it was started (say a timeout
     * timer not stopped on the success path, which the drain would quietly run to its end), and so does
     * one that returns with a mock's completion still due (never delivered without the drain). The
     * suite's setup keeps its own watchers; AC_ALLOW_ACTIVE_WATCHERS waives this check as it waives the
     * drain. */
    bool drain;
    /* Exploration budget in seconds of wall time (not scaled by AC_TIMEOUT_MULTIPLIER): once spent, no
     * further schedule or cancel point is started, the runs under way finish, and the test passes or
     * fails on what ran, reporting how much that was. 0: none. --explore-budget caps it. */
    double explore_budget;
    /* The libev backends to run the test on (AC_BACKEND_*, or-ed): the test runs once on each (with every
     * schedule). 0: --backend, else epoll. Virtual and manual clocks run only on epoll (README). */
    unsigned backend;
    /* Exploring schedules (seed != 0) may also hold a ready fd's event (ev_io), an ev_async wakeup or a
     * signal's event (ev_signal) over to a later loop iteration, 1 to 3 iterations (sends arriving
     * meanwhile coalesce with it), and a due timer's (ev_timer) or periodic's (ev_periodic) over to the
     * next one, in deadline order, drawn from the seed (README "Deferred readiness"). --defer-readiness
     * turns it on for every test. */
    bool defer_readiness;
    /* Under the virtual clock, exploring schedules (seed != 0) charge each of the test's callbacks, when
     * it returns, a duration of virtual time drawn from the seed in [0, this] seconds, as if it had spent
     * it working (README "Time inside callbacks"). 0: none. --callback-time-max replaces it. */
    double callback_time_max;
    /* How many of its last events the test's timeline keeps (README "What happened: the timeline"),
     * from 16 to 16,777,216 (a value outside is clamped). 0: the runner's (4,096; 65,536 under --trace).
     * --timeline-events overrides it for every test. */
    unsigned timeline_events;
} ac_test_options;

/* Waivers for the hygiene checks (ac_test_options.allow). */
enum {
    AC_ALLOW_ACTIVE_WATCHERS = 1 << 0, /* watchers left active: no drain after the body, no leftover check */
    AC_ALLOW_PENDING_MOCKS = 1 << 1,   /* unmet mock expectations and held completions */
    AC_ALLOW_OPEN_FDS = 1 << 2,        /* file descriptors opened by the test and not closed */
    AC_ALLOW_SLOW_CALLBACKS = 1 << 3,  /* loop iterations longer than .slow_callback */
    AC_ALLOW_BLOCKING_SLEEP = 1 << 4,  /* sleep/usleep/nanosleep called from inside a loop callback */
    AC_ALLOW_SPINNING = 1 << 5,        /* a loop spinning on an io watcher whose callback makes no progress */
    AC_ALLOW_BLOCKING_CALLS = 1 << 6,  /* getaddrinfo, blocking-mode read/write/connect/accept, fsync, system,
                                           waitpid, poll/select with a timeout, inside a loop callback */
    /* an AC_ONCE / ac_op_callback wrapper or a mock's completion called on a thread other than the loop's
     * (AC_EXPECT_ON_LOOP_THREAD still checks) */
    AC_ALLOW_OFF_LOOP_CALLBACKS = 1 << 8,
};

/* Per-suite options: AC_SUITE(net, .setup = open_server, .teardown = close_server). */
typedef struct ac_suite_options {
    int ac__reserved;
    /* Runs in the test's process, on the test's loop, before the body. A fatal failure here skips the
     * body; teardown still runs. */
    void (*setup)(ac_test *t);
    /* Always runs after the body: after it returns, after a fatal failure in it or in one of its libev
     * callbacks, and after a failed setup. */
    void (*teardown)(ac_test *t);
    /* Default real-time limit for the suite's tests that set none of their own; 0: --timeout. */
    double timeout;
    /* Default clock for the suite's tests (AC_CLOCK_*); AC_CLOCK_DEFAULT: --clock. */
    ac_clock clock;
} ac_suite_options;

/* What AC_TEST records about a test (internal layout; read it through the runner's output). */
typedef struct ac__test_def {
    const char *suite;
    const char *name;
    const char *file;
    int line;
    void (*body)(ac_test *t);
    ac_test_options options;
    const void *params; /* AC_PARAM_TEST: the table, its length and element size */
    size_t nparams;
    size_t param_size;
    const void *param; /* an instance's own element */
} ac__test_def;

typedef struct ac__suite_def {
    const char *name;
    const char *file;
    int line;
    ac_suite_options options;
} ac__suite_def;

void ac__register_test(ac__test_def *def);
void ac__register_suite(ac__suite_def *def);

/* The options' defaults that are not zero (.drain = true), given before the test's own, which override
 * them: the compiler's warning about an overridden initialiser is silenced around the definition. */
#define AC__OPTIONS_BEGIN _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Woverride-init\"")
#define AC__OPTIONS_END _Pragma("GCC diagnostic pop")
#define AC__OPTIONS(...)                                                                                     \
    { 0, .drain = true, __VA_ARGS__ }

/* AC_TEST(suite, name [, .option = value ...]) { body using ac_test *t }
 * Registers the test under the full name "suite.name". suite and name are C identifiers. */
/* (-Wpedantic before C23 warns about AC_TEST(suite, name) with no options: a variadic macro called with
 * nothing for "...". Forwarding through another macro would avoid it but would macro-expand the names
 * (under gnu11, `linux` is 1), so the names are used here directly.) */
#define AC_TEST(ac_s_, ac_n_, ...)                                                                           \
    static void ac__body_##ac_s_##__##ac_n_(ac_test *t);                                                     \
    AC__OPTIONS_BEGIN                                                                                        \
    static ac__test_def ac__def_##ac_s_##__##ac_n_ = {.suite = #ac_s_,                                       \
                                                      .name = #ac_n_,                                        \
                                                      .file = __FILE__,                                      \
                                                      .line = __LINE__,                                      \
                                                      .body = ac__body_##ac_s_##__##ac_n_,                   \
                                                      .options = AC__OPTIONS(__VA_ARGS__)};                  \
    AC__OPTIONS_END                                                                                          \
    __attribute__((constructor)) static void ac__reg_##ac_s_##__##ac_n_(void) {                              \
        ac__register_test(&ac__def_##ac_s_##__##ac_n_);                                                      \
    }                                                                                                        \
    static void ac__body_##ac_s_##__##ac_n_(ac_test *t __attribute__((unused)))

/* AC_PARAM_TEST(suite, name, table [, .option = value ...]) { body using ac_param(t) }
 * Registers one test per element of the array `table`, each named "suite.name/<param name>", each
 * filtered, run and reported on its own:
 *
 *   static const struct sq { const char *name; int in, out; } squares[] = {{"two", 2, 4}, {"neg", -3, 9}};
 *   AC_PARAM_TEST(math, squares, squares, .param_name = ac_param_name_first_field) {
 *       const struct sq *p = ac_param(t);
 *       AC_ASSERT_EQ(p->in * p->in, p->out);
 *   }                                          // math.squares/two, math.squares/neg */
#define AC_PARAM_TEST(ac_s_, ac_n_, table, ...)                                                              \
    static void ac__body_##ac_s_##__##ac_n_(ac_test *t);                                                     \
    AC__OPTIONS_BEGIN                                                                                        \
    static ac__test_def ac__def_##ac_s_##__##ac_n_ = {.suite = #ac_s_,                                       \
                                                      .name = #ac_n_,                                        \
                                                      .file = __FILE__,                                      \
                                                      .line = __LINE__,                                      \
                                                      .body = ac__body_##ac_s_##__##ac_n_,                   \
                                                      .options = AC__OPTIONS(__VA_ARGS__),                   \
                                                      .params = (table),                                     \
                                                      .nparams = sizeof(table) / sizeof((table)[0]),         \
                                                      .param_size = sizeof((table)[0])};                     \
    AC__OPTIONS_END                                                                                          \
    __attribute__((constructor)) static void ac__reg_##ac_s_##__##ac_n_(void) {                              \
        ac__register_test(&ac__def_##ac_s_##__##ac_n_);                                                      \
    }                                                                                                        \
    static void ac__body_##ac_s_##__##ac_n_(ac_test *t __attribute__((unused)))

/* The running instance's element of its AC_PARAM_TEST table (NULL in a plain AC_TEST). */
const void *ac_param(ac_test *t);
/* For .param_name: the element's first member, read as a `const char *`. */
const char *ac_param_name_first_field(const void *param);

/* AC_SUITE(suite, .setup = fn, .teardown = fn); at file scope, before or after the suite's tests. */
#define AC_SUITE(ac_s_, ...)                                                                                 \
    static ac__suite_def ac__suite_##ac_s_ = {#ac_s_, __FILE__, __LINE__, {0, __VA_ARGS__}};                 \
    __attribute__((constructor)) static void ac__sreg_##ac_s_(void) {                                        \
        ac__register_suite(&ac__suite_##ac_s_);                                                              \
    }                                                                                                        \
    struct ac__suite_semicolon_##ac_s_

/* A run fixture's functions: AC_RUN_FIXTURE(redis, .setup = start_redis, .teardown = stop_redis). */
typedef struct ac_run_fixture_options {
    int ac__reserved;
    /* Runs once in the runner's process, before the first selected test starts (never for --list,
     * --list=tsv or --help), with no test running: not on a test's loop, not under a virtual clock.
     * Returns the fixture's data (NULL allowed), which every test reads with ac_run_fixture: forked tests
     * get it through fork (a copy: what a test writes there stays in that test), --no-fork tests share
     * it. Descriptors it opens are closed in forked tests (each test starts with the same descriptor
     * table): hand tests a port or a path, not an fd. What it prints goes to stderr. A setup that calls
     * ac_run_fixture_fail has failed: its teardown is not called. */
    void *(*setup)(void);
    /* Runs once in the runner's process after the last test, with the data setup returned: after the
     * run ends normally, after tests crashed or timed out, and after SIGINT/SIGTERM ended the run. Run
     * fixtures are torn down in the reverse order of their setups. Not run when the runner itself dies:
     * a second signal, SIGKILL, or under --no-fork a crash or a signal. NULL: nothing to undo. */
    void (*teardown)(void *data);
} ac_run_fixture_options;

/* What AC_RUN_FIXTURE records (internal layout). */
typedef struct ac__run_fixture_def {
    const char *name;
    const char *file;
    int line;
    ac_run_fixture_options options;
} ac__run_fixture_def;

void ac__register_run_fixture(ac__run_fixture_def *def);

/* AC_RUN_FIXTURE(name, .setup = fn, .teardown = fn); at file scope; name is a C identifier, unique in
 * the executable. Registers a run fixture (pytest's session scope): set up once per test executable
 * before the first selected test runs, visible to every test through ac_run_fixture(t, "name"), torn
 * down after the last one, also when a test crashed or timed out and when SIGINT or SIGTERM interrupted
 * the runner. Every registered run fixture is set up, in registration order, when the selection (after
 * filters and sharding) is not empty, whether or not the selected tests use it. Each process runs its
 * own: a shard, or each ctest case of asyncheck_discover_tests (one process per test), sets up its own
 * copy. Two run fixtures with one name are refused like two tests with one name (exit status 2). */
#define AC_RUN_FIXTURE(ac_f_, ...)                                                                           \
    static ac__run_fixture_def ac__rfix_##ac_f_ = {#ac_f_, __FILE__, __LINE__, {0, __VA_ARGS__}};            \
    __attribute__((constructor)) static void ac__rfreg_##ac_f_(void) {                                       \
        ac__register_run_fixture(&ac__rfix_##ac_f_);                                                         \
    }                                                                                                        \
    struct ac__run_fixture_semicolon_##ac_f_

/* In a test (its body, its suite's setup and teardown, its callbacks and threads, a process it forked):
 * the data the run fixture `name` set up. If that setup failed, the test fails fatally with the reason
 * given to ac_run_fixture_fail (a failure of type assertion at the AC_RUN_FIXTURE line); so does an
 * unknown name, and a call outside a test run by ac_main. Tests that do not call it are unaffected by
 * a failed setup. */
void *ac_run_fixture(ac_test *t, const char *name);

/* In a run fixture's setup: fails the setup with a reason (printf-style) and does not return; every
 * test that then calls ac_run_fixture for it fails with that reason, the rest of the run goes on, and
 * its teardown is not called. Anywhere else it is misuse: it fails the running test fatally (outside
 * any test it aborts). */
_Noreturn void ac_run_fixture_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The test's own libev loop: created fresh for this test (ev_loop_new with the epoll backend pinned and
 * EVFLAG_NOENV), destroyed after teardown. Never libev's default loop. Under --no-fork with the real
 * clock it is created by the first call, which must come from the test's thread (a call from another
 * thread before then returns NULL). */
struct ev_loop *ac_loop(ac_test *t);

/* User data for the test, e.g. a fixture made in setup and freed in teardown. NULL until set. */
void ac_set_data(ac_test *t, void *data);
void *ac_data(ac_test *t);

/* "suite.name" of the running test. */
const char *ac_test_name(ac_test *t);

/* The running test, or NULL outside a test (for helpers that are not handed `t`). */
ac_test *ac_current(void);

/* Adds a marker to test t's timeline: printf-style text (cut to 123 bytes) recorded with the loop's
 * time and iteration, shown among the events of a failure report's timeline and as an instant in a
 * --trace file. It prints nothing and changes no outcome; any thread may call it. */
void ac_note(ac_test *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* AC_AWAIT(t, cond, timeout_s): run the test's loop until `cond` is true. `cond` is evaluated first and
 * then again after every loop iteration. If timeout_s seconds (scaled by AC_TIMEOUT_MULTIPLIER) pass
 * first, the test fails fatally with "timed out after 2.000 s waiting for <cond>". If the loop goes idle
 * first — nothing pending, no active watcher that could fire (an ev_async not yet sent, ev_fork and
 * ev_cleanup watchers do not count; a mock's completion still due and a scripted peer do), no thread the
 * test started still running — it fails at once with "the loop went idle while waiting for <cond>"
 * (under a virtual clock, before time moves). May be used in the body, in setup/teardown, and
 * (re-entrantly) inside libev callbacks. */
#define AC_AWAIT(t, cond, timeout_s)                                                                         \
    do {                                                                                                     \
        ac__await *ac__aw = ac__await_begin((t), (timeout_s), #cond, __FILE__, __LINE__);                    \
        while (!(cond))                                                                                      \
            ac__await_step(ac__aw);                                                                          \
        ac__await_end(ac__aw);                                                                               \
    } while (0)

typedef struct ac__await ac__await;
ac__await *ac__await_begin(ac_test *t, double timeout_s, const char *cond, const char *file, int line);
void ac__await_step(ac__await *aw);
void ac__await_end(ac__await *aw);

/* Runs the selected tests as the command line says and returns the exit status (0 all passed, 1 a
 * failure, 2 usage error, 77 all skipped). Call it from your own main(); without a main() of your own,
 * the library's main() calls it for you. Called from inside a running test, it runs nothing, fails
 * that test (a harness failure) and returns 2. */
int ac_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif
