/* cancel.c — cancelling the operation a test declared: at a cancel sweep's cancel point, or by hand
 * (ac_cancel), and checking what a cancel must leave behind: the operation's callback keeps its promise,
 * no watcher the body started stays active, no mock completion is held (open fds are the hygiene
 * check's, at the test's end). Running the loop after a cancel is exec.c's (ac__exec_settle). */
#include "race.h"

#include "../context/context.h"
#include "../timeline/timeline.h"

#include <stdio.h>

/* After a sweep's cancel, how long (in the test's clock) the operation has to wind down. */
#define SETTLE_AFTER_CANCEL 10.0

static struct {
    ac_test *t;
    void (*cancel)(void *arg);
    void *arg;
    bool done;
} cancel_state AC__PER_TEST;

static ac__held_counter held_counter; /* the mocks' held completions (set by the runner) */

void ac__cancel_set_held_counter(ac__held_counter held) {
    if (held_counter != held) /* a forked test child writes no page it need not */
        held_counter = held;
}

void ac__cancel_begin(ac_test *t) {
    cancel_state.t = t;
    cancel_state.cancel = NULL;
    cancel_state.arg = NULL;
    cancel_state.done = false;
}

void ac_cancel_with(ac_test *t, void (*cancel)(void *arg), void *arg) {
    cancel_state.t = t;
    cancel_state.cancel = cancel;
    cancel_state.arg = arg;
    ac__sched_cancel_declared();
}

bool ac__cancel_done(void) {
    return cancel_state.done;
}

bool ac_cancelled(ac_test *t) {
    return cancel_state.t == t && cancel_state.done;
}

static bool call_cancel(const char *file, int line) {
    if (!cancel_state.cancel) {
        ac__report_failure(
            AC_FK_ASSERTION, true, file, line,
            "nothing to cancel: call ac_cancel_with(t, cancel, arg) after starting the operation", NULL,
            NULL);
        return false;
    }
    cancel_state.done = true;
    ac__tl_text(AC_TL_CANCEL, 0, "the operation is cancelled");
    cancel_state.cancel(cancel_state.arg);
    return true;
}

void ac_cancel(ac_test *t) {
    const ac__test_def *def = ac__test_def_of(t);
    call_cancel(def->file, def->line);
}

void ac__cancel_at_point(void) {
    ac_test *t = ac_current();
    if (!t || cancel_state.done || !cancel_state.cancel)
        return;
    const ac__test_def *def = ac__test_def_of(t);
    call_cancel(def->file, def->line);
    ac__exec_cancel_unwind(t);
}

/* The checks after a cancel; `left` describes the watchers still active (empty: none). */
static bool check_after_cancel(ac_test *t, bool fatal, const char *file, int line, unsigned active,
                               const ac__buf *left) {
    bool ok = true;
    int promise = ac__op_promise();
    size_t calls = ac__op_calls_after_cancel();
    char msg[512];
    if (promise == AC_CANCEL_SILENT && calls > 0) {
        snprintf(msg, sizeof msg,
                 "the operation's callback was called %zu time%s after it was cancelled (it promised "
                 "AC_CANCEL_SILENT)",
                 calls, calls == 1 ? "" : "s");
        ac__report_failure(AC_FK_ASSERTION, false, file, line, msg, NULL, NULL);
        ok = false;
    } else if (promise == AC_CANCEL_CALLS_BACK_ONCE && calls != 1) {
        snprintf(msg, sizeof msg,
                 "the operation's callback was called %zu times after it was cancelled (it promised "
                 "AC_CANCEL_CALLS_BACK_ONCE: exactly once)",
                 calls);
        ac__report_failure(AC_FK_ASSERTION, false, file, line, msg, NULL, NULL);
        ok = false;
    }
    if (active) {
        snprintf(msg, sizeof msg, "%u watcher%s started by the test still active after the cancel", active,
                 active == 1 ? "" : "s");
        ac__report_failure(AC_FK_WATCHERS, false, file, line, msg, left->len ? ac__buf_str(left) : NULL,
                           NULL);
        ok = false;
    }
    ac__buf held = {0};
    size_t n = held_counter ? held_counter(t, &held) : 0;
    if (n) {
        snprintf(msg, sizeof msg, "%zu mock completion%s still held after the cancel", n, n == 1 ? "" : "s");
        ac__report_failure(AC_FK_ASSERTION, false, file, line, msg, ac__buf_str(&held), NULL);
        ok = false;
    }
    ac__buf_free(&held);
    if (!ok && fatal)
        ac__report_failure(AC_FK_ASSERTION, true, file, line, "AC_ASSERT_CANCELLED_CLEANLY failed", NULL,
                           NULL);
    return ok;
}

void ac__cancel_settle(ac_test *t) {
    const ac__test_def *def = ac__test_def_of(t);
    ac__buf left = {0};
    unsigned active = ac__exec_settle(t, SETTLE_AFTER_CANCEL, &left);
    check_after_cancel(t, false, def->file, def->line, active, &left);
    ac__buf_free(&left);
}

void ac__assert_cancelled_cleanly(ac_test *t, double timeout_s, const char *file, int line) {
    if (!cancel_state.done) {
        ac__report_failure(AC_FK_ASSERTION, true, file, line,
                           "AC_ASSERT_CANCELLED_CLEANLY: nothing was cancelled (call ac_cancel first)", NULL,
                           NULL);
        return;
    }
    ac__buf left = {0};
    unsigned active = ac__exec_settle(t, timeout_s, &left);
    check_after_cancel(t, true, file, line, active, &left);
    ac__buf_free(&left);
}
