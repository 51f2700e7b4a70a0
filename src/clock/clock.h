/* clock.h — the virtual clock's internal interface for exec.c: install it before a test's loop is
 * made, attach it to the loop, ask it what happened in the last poll, and remove it at the end. */
#ifndef AC_CLOCK_INTERNAL_H
#define AC_CLOCK_INTERNAL_H

#include <stdbool.h>

#include "asyncheck/clock.h"

struct ev_loop;

/* Starts the clock `kind` (AC_CLOCK_REAL does nothing) for test t: the time functions read it. */
void ac__clock_begin(ac_test *t, int kind);
/* The test's loop exists: only its epoll_wait is virtualised. */
void ac__clock_attach(struct ev_loop *loop);
/* Puts the clock's replacements into every slot now, for the rest of the process (they pass each call on
 * to what the slot held while no virtual or manual clock runs), so that test processes forked later
 * start with them in place. ac__clock_begin does it the first time if nothing did before. */
void ac__clock_install(void);
/* Ends the clock: its replacements pass every call on to what lies below them from now on, and with
 * `restore_slots` the slots rewritten for this test alone (objects loaded after the layer went in) get
 * their originals back (false only in a forked test's process, which exits after the test). */
void ac__clock_end(bool restore_slots);
/* AC_CLOCK_REAL, AC_CLOCK_VIRTUAL or AC_CLOCK_MANUAL for the test running now. */
int ac__clock_kind(void);
/* Since the last call: did the loop find nothing ready and nothing that time could bring (manual clock
 * idle, or a virtual jump to `deadline` or beyond)? Clears the state. */
bool ac__clock_stalled(double deadline);
/* Moves a virtual clock (not a manual one, nor inside ac_clock_advance) forward by `seconds` as if the
 * test's thread had spent them working; does nothing otherwise. Returns whether it moved the clock. */
bool ac__clock_charge(double seconds);
/* Virtual monotonic seconds now (virtual clocks only). */
double ac__clock_mono(void);

#endif
