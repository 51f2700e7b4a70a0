/* loop.h — hygiene of the test's loop: tracking the watchers a test starts (type, callback, where it was
 * started), file descriptors it leaves open, loop iterations that block, and blocking sleeps inside
 * callbacks. exec.c calls these at fixed points of a test's life; the module must not end the test
 * itself except through ac__report_failure. */
#ifndef AC_LOOP_H
#define AC_LOOP_H

#include <stddef.h>

#include "asyncheck/test.h"
#include "../util/util.h"

/* Right after the test's loop is made, before setup (start tracking; snapshot open fds). */
void ac__loop_begin(ac_test *t);
/* Appends a description of each watcher still active on the test's loop, one per line ("ev_timer
 * on_tick started at foo.c:12 (in test_body)"), and returns how many it described. */
size_t ac__loop_describe_active(ac_test *t, ac_buf *out);
/* After teardown, the end hooks and the leftover-watcher check, before the loop is destroyed: report
 * fds left open (unless waived) and stop tracking. `report` is false after a fatal failure or skip. */
void ac__loop_end(ac_test *t, bool report);

#endif
