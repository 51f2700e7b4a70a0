/* asyncheck/clock.h — virtual time for a test's loop.
 *
 * A test runs under one of three clocks (ac_test_options.clock, ac_suite_options.clock, --clock):
 *   AC_CLOCK_REAL     wall time (the default);
 *   AC_CLOCK_VIRTUAL  virtual time with autojump: whenever the test's loop has nothing ready, time jumps
 *                     straight to the next timer, so an hour of timers runs in a millisecond;
 *   AC_CLOCK_MANUAL   virtual time that moves only when the test calls ac_clock_advance.
 * Under the virtual clocks, libev's time (ev_now, ev_time, ev_timer, ev_periodic) and the code under
 * test's clock_gettime, gettimeofday, time, sleep, usleep, nanosleep and clock_nanosleep all follow the
 * virtual clock while the test runs (sleeps on the test's own thread take virtual time; other threads
 * read the virtual clock but sleep for real, as real work in flight). Every virtual test starts at the
 * same instant: monotonic time 1000.0 s, realtime 2100-01-01T00:00:00Z (ahead of real time, so libev's
 * realtime timerfd never fires early). A timer fires 1 us after its deadline: libev runs timers only
 * strictly past their deadline, and a double resolves realtime 2100 to about 0.5 us. */
#ifndef ASYNCHECK_CLOCK_H
#define ASYNCHECK_CLOCK_H

#include <stdbool.h>

#include "asyncheck/test.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The running test's clock: AC_CLOCK_REAL, AC_CLOCK_VIRTUAL or AC_CLOCK_MANUAL. */
ac_clock ac_clock_kind(ac_test *t);

/* Seconds of the test's clock since the test started (virtual seconds under the virtual clocks). */
double ac_clock_elapsed(ac_test *t);

/* Seconds of the real monotonic clock (the kernel's CLOCK_MONOTONIC), whatever clock the test runs on:
 * under a virtual clock, clock_gettime(CLOCK_MONOTONIC) and its kin return virtual time, and this does not.
 * For waiting on something real (another process, a server) with a real-time limit. Any thread. */
double ac_real_now(void);

/* Moves the test's virtual clock forward by `seconds`, stopping at each timer deadline on the way, in
 * deadline order, and running the loop until nothing is ready before moving on; then runs it until idle
 * at the target time. Under the real clock, or with `seconds` negative or not finite, fails the test
 * fatally at the line that calls it. */
#define ac_clock_advance(t, seconds) ac__clock_advance((t), (seconds), __FILE__, __LINE__)

/* Runs the test's loop until nothing is ready to run now — no pending callback, no ready fd, no timer
 * already due — without moving the clock (under the real clock, time passes only as callbacks run).
 * This is "drain the ready queue", not "advance time". */
void ac_run_until_idle(ac_test *t);

/* Autojump waits this much real time for real work (an fd becoming ready, another thread's ev_async)
 * before it jumps; default 0 in a single-threaded process and 0.005 s once the process has other
 * threads. Like every real-time limit, the default and what is set here are scaled by
 * AC_TIMEOUT_MULTIPLIER. */
void ac_clock_set_autojump_threshold(ac_test *t, double real_seconds);

/* AC_COMPLETES_WITHIN(t, cond, seconds): AC_AWAIT whose limit is in the test's clock and whose failure
 * says which: under a virtual clock "virtual deadline: … after 5.000 s of virtual time". */
#define AC_COMPLETES_WITHIN(t, cond, seconds) AC_AWAIT(t, cond, seconds)

/* AC_STAYS_PENDING(t, cond, seconds): runs the test's loop for `seconds` of the test's clock and fails
 * the test (fatal) if `cond` becomes true before they have passed: the operation must *not* complete
 * early. */
#define AC_STAYS_PENDING(t, cond, seconds)                                                                   \
    do {                                                                                                     \
        ac__await *ac__aw = ac__await_begin_exact((t), (seconds), #cond, __FILE__, __LINE__);                \
        while (ac__await_running(ac__aw))                                                                    \
            if (cond)                                                                                        \
                ac__await_too_early(ac__aw);                                                                 \
        ac__await_end(ac__aw);                                                                               \
    } while (0)

void ac__clock_advance(ac_test *t, double seconds, const char *file, int line);
ac__await *ac__await_begin_exact(ac_test *t, double seconds, const char *cond, const char *file, int line);
bool ac__await_running(ac__await *aw);
_Noreturn void ac__await_too_early(ac__await *aw);

#ifdef __cplusplus
}
#endif

#endif
