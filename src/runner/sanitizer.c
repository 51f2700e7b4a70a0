/* sanitizer.c — ThreadSanitizer's, AddressSanitizer's and UndefinedBehaviorSanitizer's reports as test
 * failures. It must not print or decide anything else (besides the summary line it takes over, below).
 *
 * TSan prints a report to stderr and lets the process run on; it turns the reports into exit status 66
 * only when the process exits normally. A test never does: a forked test ends with _exit after its
 * "done" record, and under --no-fork the next test runs in the same process. So a race would pass
 * unnoticed, its report lost in the captured output of a passing test.
 *
 * The runtime calls __tsan_on_report after it printed each report (its own definition is a weak,
 * empty one in libtsan.so; the executable's definition takes its place, exported because libtsan.so
 * names the symbol). Ours counts the reports and keeps the kind of the first ones; exec.c compares the
 * count before the "done" record with the count when the test started, and fails the test when TSan
 * reported something in between: "ThreadSanitizer reported a data race", the report itself in the
 * test's captured stderr, next to the failure. Reports that arrive after the "done" record (a thread
 * the test left running) are not seen: the test's thread leak is the bug to fix first.
 *
 * Crashes stay crashes: TSan's handlers for SIGSEGV, SIGBUS, SIGFPE and SIGILL would print their own
 * report and turn the death into exit status 66, which the runner could only call an unexpected exit.
 * Our __tsan_default_options leaves those signals to the runner, which names them as in any other build
 * (TSAN_OPTIONS still overrides it).
 *
 * This works whether or not asyncheck itself was built with -fsanitize=thread: what matters is that the
 * test executable is linked with it (asyncheck::tsan, docs/TSAN.md). Without TSan nothing calls either
 * hook and the count stays 0. Both are weak, so a program that defines its own keeps it (and, for
 * __tsan_on_report, gives up this check). */
#include "runner.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define KINDS 16 /* kinds kept: the first reports of the process */
#define KIND_LEN 32

/* Written only by the hook, which TSan calls with its report lock held, so one report at a time. */
static unsigned long reports;
static char kinds[KINDS][KIND_LEN];

/* libtsan's accessor for a report's kind ("data-race", "thread-leak", "lock-order-inversion", ...);
 * weak, so that programs without TSan link (it is then NULL). */
extern int __tsan_get_report_data(void *report, const char **description, int *count, int *stack_count,
                                  int *mop_count, int *loc_count, int *mutex_count, int *thread_count,
                                  int *unique_tid_count, void **sleep_trace, unsigned long trace_size)
    __attribute__((weak));

void __tsan_on_report(void *report);
const char *__tsan_default_options(void);

/* Called by the runtime while it starts, before any constructor: a constant, nothing instrumented. */
__attribute__((weak, no_sanitize_thread, visibility("default"))) const char *__tsan_default_options(void) {
    return "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0";
}

/* Runs inside the runtime's reporting, on whichever thread found the problem: not instrumented (no
 * report about the hook itself), no libc calls (TSan intercepts them). */
__attribute__((weak, no_sanitize_thread, visibility("default"))) void __tsan_on_report(void *report) {
    unsigned long n = __atomic_load_n(&reports, __ATOMIC_RELAXED);
    const char *kind = NULL;
    int count, stacks, mops, locs, mutexes, threads, tids;
    void *trace = NULL;
    if (n < KINDS && __tsan_get_report_data &&
        __tsan_get_report_data(report, &kind, &count, &stacks, &mops, &locs, &mutexes, &threads, &tids,
                               &trace, 0) &&
        kind)
        for (int i = 0; i < KIND_LEN - 1 && kind[i]; i++)
            kinds[n][i] = kind[i];
    __atomic_store_n(&reports, n + 1, __ATOMIC_RELEASE);
}

unsigned long ac__tsan_reports(void) {
    return __atomic_load_n(&reports, __ATOMIC_ACQUIRE);
}

void ac__tsan_check(ac_test *t, unsigned long before) {
    unsigned long n = ac__tsan_reports() - before;
    if (n == 0)
        return;
    const ac__test_def *def = ac__test_def_of(t);
    const char *phase = "end"; /* found when the test ended; the report's stacks say where */
    ac__emit_record(t, AC_REC_PHASE, &phase, 1);
    ac__buf msg = {0};
    const char *first = before < KINDS ? kinds[before] : "";
    if (n == 1 && !strcmp(first, "data-race"))
        ac__buf_printf(&msg, "ThreadSanitizer reported a data race");
    else if (n == 1 && !first[0])
        ac__buf_printf(&msg, "ThreadSanitizer reported a problem");
    else if (n == 1)
        ac__buf_printf(&msg, "ThreadSanitizer reported: %s", first);
    else {
        ac__buf_printf(&msg, "ThreadSanitizer reported %lu problems", n);
        const char *sep = ": ";
        for (unsigned long i = before; i < before + n && i < KINDS && kinds[i][0]; i++, sep = ", ")
            ac__buf_printf(&msg, "%s%s", sep, kinds[i]);
    }
    ac__buf_printf(&msg, " (the report%s in the test's stderr)", n == 1 ? " is" : "s are");
    ac__report_failure(AC_FK_SANITIZER, false, def->file, def->line, ac__buf_str(&msg), NULL, NULL);
    ac__buf_free(&msg);
}

/* ---- AddressSanitizer and UndefinedBehaviorSanitizer (docs/ASAN.md) ----
 *
 * ASan ends every report with a one-line summary ("SUMMARY: AddressSanitizer: heap-use-after-free
 * conn.c:40 in on_timer") passed to __sanitizer_report_error_summary, a weak function of the runtimes
 * that prints it; ours counts ASan's, keeps the first summaries and prints the line as theirs would.
 * UBSan prints no summary by default; its monitor hook __ubsan_on_report counts its reports instead. A
 * report the program survives (UBSan's, which recovers unless built with -fno-sanitize-recover) fails
 * the test when it ends (ac__asan_check, like TSan's). ASan's reports, and UBSan's without recovery, end
 * the process instead (their Die), before the test can end: the death callback registered here fails the
 * running test with the report and, in a test's own process, sends its "done" record, so that the runner
 * names the report, not an "exited unexpectedly with status 1". Under --no-fork the runner dies with the
 * test and the run ends there. ThreadSanitizer's summaries are counted by __tsan_on_report above, not
 * here. Weak, so a program that defines its own summary hook keeps it (and gives up these checks). */

#define SUMMARY_LEN 256

static unsigned long san_reports AC__PER_TEST; /* under the runtimes' report lock: one report at a time */
static char summaries[KINDS][SUMMARY_LEN];     /* "AddressSanitizer: heap-use-after-free ..." */
static unsigned long san_before AC__PER_TEST;  /* san_reports when the running test began */
static bool san_own_process AC__PER_TEST;      /* the running test has a process of its own */

extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));
void __sanitizer_report_error_summary(const char *summary);

__attribute__((weak, visibility("default"))) void __sanitizer_report_error_summary(const char *summary) {
    static const char prefix[] = "SUMMARY: ", asan[] = "SUMMARY: AddressSanitizer: ";
    if (!strncmp(summary, asan, sizeof asan - 1)) {
        unsigned long n = __atomic_load_n(&san_reports, __ATOMIC_RELAXED);
        if (n < KINDS)
            for (int i = 0; i < SUMMARY_LEN - 1 && summary[sizeof prefix - 1 + i]; i++)
                summaries[n][i] = summary[sizeof prefix - 1 + i];
        __atomic_store_n(&san_reports, n + 1, __ATOMIC_RELEASE);
    }
    /* what the runtimes' own definition prints */
    ssize_t w = write(2, summary, strlen(summary));
    w = write(2, "\n", 1);
    (void)w;
}

/* UBSan's reports: their summary is off by default, so each one is counted by UBSan's monitor hook, which
 * it calls with the report's text (gcc's and clang's runtimes have both functions; weak: NULL without). */
extern void __ubsan_get_current_report_data(const char **kind, const char **message, const char **file,
                                            unsigned *line, unsigned *col, char **addr) __attribute__((weak));
void __ubsan_on_report(void);

__attribute__((weak, visibility("default"))) void __ubsan_on_report(void) {
    unsigned long n = __atomic_load_n(&san_reports, __ATOMIC_RELAXED);
    const char *kind = NULL, *message = NULL, *file = NULL;
    unsigned line = 0, col = 0;
    char *addr = NULL;
    if (n < KINDS && __ubsan_get_current_report_data) {
        __ubsan_get_current_report_data(&kind, &message, &file, &line, &col, &addr);
        snprintf(summaries[n], SUMMARY_LEN, "UndefinedBehaviorSanitizer: %s at %s:%u:%u",
                 message ? message : (kind ? kind : "undefined behaviour"), file ? file : "?", line, col);
    }
    __atomic_store_n(&san_reports, n + 1, __ATOMIC_RELEASE);
}

static void fail_reports(ac_test *t, unsigned long n) {
    const ac__test_def *def = ac__test_def_of(t);
    ac__buf msg = {0};
    const char *first = san_before < KINDS ? summaries[san_before] : "";
    if (n == 1)
        ac__buf_printf(&msg, "%s", first[0] ? first : "a sanitizer reported a problem");
    else
        ac__buf_printf(&msg, "%lu sanitizer reports, the first: %s", n, first[0] ? first : "?");
    ac__buf_printf(&msg, " (the report%s in the test's stderr)", n == 1 ? " is" : "s are");
    ac__report_failure(AC_FK_SANITIZER, false, def->file, def->line, ac__buf_str(&msg), NULL, NULL);
    ac__buf_free(&msg);
}

/* The runtime is ending the process after a report: fail the test with it while the runner listens. */
static void on_sanitizer_death(void) {
    ac_test *t = ac_current();
    unsigned long n = __atomic_load_n(&san_reports, __ATOMIC_ACQUIRE) - san_before;
    if (!t || !san_own_process || n == 0)
        return;
    fail_reports(t, n);
    ac__emit_record(t, AC_REC_DONE, NULL, 0);
}

void ac__asan_begin(bool own_process) {
    static bool registered;
    if (!registered && __sanitizer_set_death_callback) {
        registered = true;
        __sanitizer_set_death_callback(on_sanitizer_death);
        /* gcc's libubsan has a copy of the common runtime of its own, with its own death callback */
        void *ubsan = dlopen("libubsan.so.1", RTLD_NOW | RTLD_NOLOAD);
        void (*set)(void (*)(void)) =
            ubsan ? (void (*)(void (*)(void)))dlsym(ubsan, "__sanitizer_set_death_callback") : NULL;
        if (set && set != __sanitizer_set_death_callback)
            set(on_sanitizer_death);
    }
    /* stored only when it changes: a forked test child pays a page fault for each page it writes */
    unsigned long before = __atomic_load_n(&san_reports, __ATOMIC_ACQUIRE);
    if (san_before != before)
        san_before = before;
    if (san_own_process != own_process)
        san_own_process = own_process;
}

void ac__asan_check(ac_test *t) {
    unsigned long n = __atomic_load_n(&san_reports, __ATOMIC_ACQUIRE) - san_before;
    if (n == 0)
        return;
    const char *phase = "end"; /* found when the test ended; the report's stack says where */
    ac__emit_record(t, AC_REC_PHASE, &phase, 1);
    fail_reports(t, n);
    san_before += n;
}
