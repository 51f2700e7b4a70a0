/* loop.h — hygiene of the test's loop: tracking the watchers a test starts (type, callback, where it was
 * started), file descriptors it leaves open, loop iterations that block, and blocking sleeps inside
 * callbacks. exec.c calls these at fixed points of a test's life; the module must not end the test
 * itself except through ac__report_failure. */
#ifndef AC_LOOP_H
#define AC_LOOP_H

#include <stdbool.h>
#include <stddef.h>

#include "asyncheck/test.h"
#include "../util/util.h"

/* Right after the test's loop is made, before setup (start tracking; snapshot open fds). */
void ac__loop_begin(ac_test *t);
/* Appends a description of each watcher the test started that is still active on its loop, one per line
 * in start order ("ev_io fd=7 EV_READ, callback on_read, started at connect_client+0x4c"; libev's and
 * asyncheck's own watchers are left out), and returns how many it described. */
size_t ac__loop_describe_active(ac_test *t, ac_buf *out);
/* After teardown, the end hooks and the leftover-watcher check, before the loop is destroyed: report
 * fds left open (unless waived) and stop tracking. `report` is false after a fatal failure or skip. */
void ac__loop_end(ac_test *t, bool report);

/* Harness code that starts watchers on the test's loop for itself (an await's timer, a mock's completion
 * timer, a peer's io) may bracket those starts with these, so they are never reported as the test's
 * whatever the symbol table says. Per thread, nestable. */
void ac__loop_harness_enter(void);
void ac__loop_harness_leave(void);

/* For code that replaces the sleeping calls for a test (the virtual clock): reports "blocking sleep:
 * <call> called from callback ..." when called from inside a callback of the test's loop, unless the
 * test waives it. `call` reads like "usleep(200000)". True when it was inside a callback. */
bool ac__loop_sleep_check(const char *call);

/* Callbacks dispatched on the test's loop so far (any kind). */
unsigned long ac__loop_dispatches(void);
/* The dispatch the running code is in: the serial of the innermost callback being dispatched on the
 * test's loop, or 0 in the test body (or outside any dispatch). */
unsigned long ac__loop_dispatch_serial(void);
/* Appends what that dispatch is: "callback on_reply (ev_timer after=0.050)" or "the test body". */
void ac__loop_dispatch_describe(ac_buf *b);

#endif
