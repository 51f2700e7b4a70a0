/* mock.h — the mock module's interface for the modules above it (the runner): warming libffi up,
 * completions held at a test's end, and naming a completion timer for the loop's reports. The prototype
 * model and its parser are the ffi module's (src/ffi/proto.h). */
#ifndef AC_MOCK_MOCK_H
#define AC_MOCK_MOCK_H

#include <stdbool.h>
#include <stddef.h>

#include "asyncheck/mock.h"
#include "../util/util.h"

/* Makes libffi set up its closure allocator now (the first closure in a process costs ~250 us), so that
 * test processes forked later start with it. */
void ac__mock_warm(void);
/* Completions held (ac_deliver_held) by all of the test's mocks; `which` (may be NULL) gets one line per mock
 * holding some. */
size_t ac__mock_held_all(ac_test *t, ac__buf *which);
/* When `w` is a mock's completion timer (a delivery scheduled and not yet made, or the one being
 * dispatched now), appends "the completion of send() call #0" and returns true; else false. For the
 * loop's reports, so that they never name asyncheck's own timer callback. */
bool ac__mock_describe_delivery(ac__buf *b, const void *w);
/* True when `w` is one of the mocks' own watchers: a completion timer or the hand-over ev_async. */
bool ac__mock_own_watcher(const void *w);
/* Appends when that delivery is due (", due 0.5 s after the call"); nothing for other watchers. */
void ac__mock_describe_due(ac__buf *b, const void *w);

#endif
