/* sanitizer.c — ThreadSanitizer's reports as test failures. It must not print or decide anything else.
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

#include <string.h>

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
