/* run_fixture.c — run-scoped fixtures (AC_RUN_FIXTURE): the registered ones in registration order, setting
 * them up in the runner's process, tearing down the ones set up in reverse order, and what tests call
 * (ac_run_fixture) and setups call (ac_run_fixture_fail). It must not decide when a run starts or ends,
 * fork, or run tests: run.c calls ac__run_fixtures_setup before the first test and
 * ac__run_fixtures_teardown after the last. */
#include "runner.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum fixture_state { NOT_SET_UP, SET_UP, FAILED } fixture_state;

typedef struct fixture {
    const ac__run_fixture_def *def;
    fixture_state state;
    void *data;
    char *reason; /* FAILED: why */
} fixture;

static fixture *fixtures;
static size_t nfixtures, fixtures_cap;
static pid_t set_up_by; /* the process that ran the setups, which alone tears them down */

/* The fixture whose setup or teardown runs now (for ac_run_fixture_fail and the crash message). */
static const ac__run_fixture_def *volatile running;
static bool running_teardown;
static jmp_buf setup_failed;
static char *fail_reason;

void ac__register_run_fixture(ac__run_fixture_def *def) {
    if (nfixtures == fixtures_cap) {
        fixtures_cap = fixtures_cap ? fixtures_cap * 2 : 8;
        fixtures = ac__xrealloc(fixtures, fixtures_cap * sizeof *fixtures);
    }
    fixtures[nfixtures++] = (fixture){.def = def};
}

bool ac__run_fixture_duplicate(ac__buf *err) {
    for (size_t i = 0; i < nfixtures; i++)
        for (size_t j = i + 1; j < nfixtures; j++)
            if (strcmp(fixtures[i].def->name, fixtures[j].def->name) == 0) {
                ac__buf_printf(err, "two run fixtures are named %s (%s:%d and %s:%d)", fixtures[i].def->name,
                               fixtures[i].def->file, fixtures[i].def->line, fixtures[j].def->file,
                               fixtures[j].def->line);
                return true;
            }
    return false;
}

/* ---- setup and teardown, in the runner's process ---- */

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};

/* A crash in a setup or teardown is a crash of the runner: at least name the fixture. */
static void on_crash(int sig) {
    const ac__run_fixture_def *def = running;
    if (getpid() != set_up_by) { /* a process the setup forked without exec: not the runner */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    char msg[512];
    const char *abbrev = sigabbrev_np(sig);
    int n = snprintf(msg, sizeof msg, "asyncheck: run fixture %s (%s:%d) crashed with SIG%s in its %s\n",
                     def ? def->name : "?", def ? def->file : "?", def ? def->line : 0, abbrev ? abbrev : "?",
                     running_teardown ? "teardown" : "setup");
    if (n > 0)
        (void)!write(2, msg, (size_t)n);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* While a setup or teardown runs: its stdout goes to stderr (a report may be on stdout), and a crash
 * names it. */
typedef struct guard {
    int saved_stdout;
    struct sigaction saved[sizeof crash_signals / sizeof *crash_signals];
} guard;

static void guard_begin(guard *g, const ac__run_fixture_def *def, bool teardown) {
    running = def;
    running_teardown = teardown;
    fflush(stdout);
    g->saved_stdout = dup(1);
    if (g->saved_stdout >= 0)
        dup2(2, 1);
    struct sigaction sa = {.sa_handler = on_crash};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof crash_signals / sizeof *crash_signals; i++)
        sigaction(crash_signals[i], &sa, &g->saved[i]);
}

static void guard_end(guard *g) {
    for (size_t i = 0; i < sizeof crash_signals / sizeof *crash_signals; i++)
        sigaction(crash_signals[i], &g->saved[i], NULL);
    fflush(stdout);
    if (g->saved_stdout >= 0) {
        dup2(g->saved_stdout, 1);
        close(g->saved_stdout);
    }
    running = NULL;
}

/* One setup; ac_run_fixture_fail longjmps back here. */
static void set_up_one(fixture *const f) {
    guard g;
    guard_begin(&g, f->def, false);
    if (setjmp(setup_failed) == 0) {
        f->data = f->def->options.setup ? f->def->options.setup() : NULL;
        f->state = SET_UP;
    } else {
        f->state = FAILED;
        f->reason = fail_reason;
        fail_reason = NULL;
    }
    guard_end(&g);
    if (f->state == FAILED)
        fprintf(stderr, "asyncheck: run fixture %s (%s:%d): setup failed: %s\n", f->def->name, f->def->file,
                f->def->line, f->reason);
}

void ac__run_fixtures_setup(bool (*stop)(void)) {
    set_up_by = getpid();
    for (size_t i = 0; i < nfixtures; i++) {
        if (fixtures[i].state != NOT_SET_UP)
            continue;
        if (stop && stop())
            return; /* interrupted: the rest are never set up */
        set_up_one(&fixtures[i]);
    }
}

void ac__run_fixtures_teardown(void) {
    if (getpid() != set_up_by)
        return;
    for (size_t i = nfixtures; i-- > 0;) {
        fixture *f = &fixtures[i];
        fixture_state was = f->state;
        f->state = NOT_SET_UP; /* torn down once, whatever it does; a later ac_main sets up again */
        free(f->reason);
        f->reason = NULL;
        if (was != SET_UP || !f->def->options.teardown)
            continue;
        guard g;
        guard_begin(&g, f->def, true);
        f->def->options.teardown(f->data);
        guard_end(&g);
    }
}

void ac_run_fixture_fail(const char *fmt, ...) {
    ac__buf reason = {0};
    va_list ap;
    va_start(ap, fmt);
    ac__buf_vprintf(&reason, fmt, ap);
    va_end(ap);
    if (running && !running_teardown && getpid() == set_up_by) {
        free(fail_reason);
        fail_reason = ac__buf_take(&reason);
        longjmp(setup_failed, 1);
    }
    ac__buf msg = {0};
    ac__buf_printf(&msg, "ac_run_fixture_fail called outside a run fixture's setup: %s",
                   ac__buf_str(&reason));
    ac__buf_free(&reason);
    const ac__test_def *def = ac_current() ? ac__test_def_of(ac_current()) : NULL;
    ac__report_failure_buf(AC_FK_ASSERTION, true, def ? def->file : NULL, def ? def->line : 0, &msg, NULL,
                           NULL);
    abort(); /* not reached: a fatal failure does not return */
}

/* ---- in a test ---- */

void *ac_run_fixture(ac_test *t, const char *name) {
    (void)t;
    const ac__test_def *def = ac_current() ? ac__test_def_of(ac_current()) : NULL;
    ac__buf msg = {0};
    for (size_t i = 0; i < nfixtures; i++) {
        const fixture *f = &fixtures[i];
        if (!name || strcmp(f->def->name, name) != 0)
            continue;
        if (f->state == SET_UP)
            return f->data;
        if (f->state == FAILED && running && !running_teardown) /* a later fixture's setup uses it */
            ac_run_fixture_fail("run fixture %s failed to set up: %s", f->def->name, f->reason);
        if (f->state == FAILED)
            ac__buf_printf(&msg, "run fixture %s failed to set up: %s", f->def->name, f->reason);
        else
            ac__buf_printf(&msg,
                           "run fixture %s is not set up: ac_run_fixture reads it in tests run by ac_main "
                           "and in the setups of run fixtures registered after it",
                           f->def->name);
        ac__report_failure_buf(AC_FK_ASSERTION, true, f->def->file, f->def->line, &msg, NULL, NULL);
    }
    ac__buf_printf(&msg, "no run fixture is named '%s' (", name ? name : "(null)");
    for (size_t i = 0; i < nfixtures; i++)
        ac__buf_printf(&msg, "%s%s", i ? ", " : "registered: ", fixtures[i].def->name);
    ac__buf_puts(&msg, nfixtures ? ")" : "none is registered)");
    ac__report_failure_buf(AC_FK_ASSERTION, true, def ? def->file : NULL, def ? def->line : 0, &msg, NULL,
                           NULL);
    return NULL; /* not reached */
}
