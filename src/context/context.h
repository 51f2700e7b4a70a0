/* context.h — the running test, as the feature modules (assert, clock, loop, mock, io, race, replace) see
 * it: its identity and registration record, failure, note and skip reporting, end-of-test hooks, the
 * write side of the record channel, the cancel window, and the registered tests (read only). Every
 * feature module reaches the test through this header and never through the runner's own header.
 *
 * The runner implements it (src/runner/exec.c, registry.c): the functions touch the runner's state of
 * the test in its process, so they live there, and this header is the one direction in which a feature
 * module may call them. ac_current() and ac_loop() are public (asyncheck/test.h). */
#ifndef AC_CONTEXT_H
#define AC_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "asyncheck/test.h"
#include "../report/report.h"
#include "../util/util.h"

/* ---- the registered tests (registry.c) ---- */
/* How many tests are registered (parameterized instances counted one by one). */
size_t ac__test_count(void);
/* The i-th registered test, in registration order (i < ac__test_count()). */
const ac__test_def *ac__test_at(size_t i);

/* ---- the running test (exec.c) ---- */
/* True when a cancel point may end the running phase now (setup, body or drain, on the test's thread). */
bool ac__exec_cancel_open(ac_test *t);

/* Records a failure of the running test; a fatal one ends the test and does not return. Outside a test
 * it prints the failure (and aborts when fatal). */
void ac__report_failure(ac__failure_kind kind, bool fatal, const char *file, int line, const char *message,
                        const char *got, const char *expected);

/* Reports a failure composed in buffers (got and expected may be NULL; an empty one is absent): copies
 * the texts to the stack — the message up to 2,047 bytes, got and expected up to 4,095 each —, frees the
 * buffers, then reports as ac__report_failure, so that a fatal report, which does not return, leaves
 * nothing allocated behind. */
void ac__report_failure_buf(ac__failure_kind kind, bool fatal, const char *file, int line, ac__buf *msg,
                            ac__buf *got, ac__buf *expected);

/* Gives an await its own condition text and a describer of what to show as "got" when it fails (instead
 * of the loop's active watchers): for awaits built on other modules' state, like mock calls. */
void ac__await_describe(ac__await *aw, const char *cond, void (*describe)(const void *ctx, ac__buf *out),
                        const void *ctx);

/* Runs fn(t, ctx) when the test ends: after teardown, before the check that no watcher is left, on the
 * test's thread, with the loop still alive — also after a fatal failure. Hooks run newest first; each
 * may report failures (a fatal one ends only that hook). For modules that own per-test state (mocks,
 * replaced symbols, scripted peers): check what is still pending, stop watchers, free. */
void ac__at_test_end(ac_test *t, void (*fn)(ac_test *t, void *ctx), void *ctx);

/* When the test started (ac__monotonic seconds, real time). */
double ac__test_started(ac_test *t);

/* The running test's registration record (its options among them). */
const ac__test_def *ac__test_def_of(ac_test *t);
/* The test's loop if it has been made, else NULL; unlike ac_loop, never makes it. */
struct ev_loop *ac__test_loop_made(ac_test *t);

/* True once a fatal failure or AC_SKIP has ended the test early (end hooks then leave alone what it
 * left undone). */
bool ac__test_ended_early(ac_test *t);

/* True once AC_SKIP has ended the test: end hooks then clean up without reporting what is left undone. */
bool ac__test_skipped(ac_test *t);

/* After a cancel: abandons the test body (and the callbacks running in it) without failing the test;
 * exec.c then settles the loop (ac__cancel_settle). Does not return. */
_Noreturn void ac__exec_cancel_unwind(ac_test *t);

/* Runs the test's loop until the watchers the body started have finished, for at most timeout_s of the
 * test's clock (< 0: what is left of the test's timeout); returns how many are still active, described
 * in `left`. */
unsigned ac__exec_settle(ac_test *t, double timeout_s, ac__buf *left);

/* An injected fault that fired in this run (src/fault/): what entitles a scripted peer that allows it to
 * let the code hang up (src/io/). ac__note_disruption keeps the first text ("the injected fault
 * malloc:29:ENOMEM"); it allocates nothing, so it may run inside a replaced allocator. ac__disruption
 * returns it, or NULL when none. */
void ac__note_disruption(ac_test *t, const char *what);
const char *ac__disruption(ac_test *t);
/* Runs fn(t, ctx) when the first disruption is noted, on the test's thread, possibly from inside a
 * replaced allocator: fn may only adjust its own state and watcher references (ev_ref/ev_unref), never
 * allocate, start watchers or report. The hooks are dropped before the end hooks run. */
void ac__at_disruption(ac_test *t, void (*fn)(ac_test *t, void *ctx), void *ctx);

/* Sends one record of the running test to the runner. */
void ac__emit_record(ac_test *t, int type, const char *const *fields, size_t n);

/* Records a note for test t: one line of information from the harness ("file:line: message"), which
 * changes no outcome; the human report shows it under -v (and with a failure), TAP as a comment. */
void ac__report_note(ac_test *t, const char *file, int line, const char *message);

/* Records a skip of the running test and ends it; does not return. */
_Noreturn void ac__report_skip(const char *reason);

/* ---- records: how a running test tells the runner what happened ----
 * A record is a 4-byte little-endian length, a type byte, and NUL-terminated fields. An empty field
 * means "absent". */
enum {
    AC_REC_FAILURE = 'F',  /* kind, fatal(0/1), file, line, message, got, expected */
    AC_REC_SKIP = 'S',     /* reason */
    AC_REC_PHASE = 'P',    /* phase name */
    AC_REC_DONE = 'D',     /* (no fields): the test reached its end */
    AC_REC_SCHED = 'X',    /* steps (counted dispatches), cancel point: 0 not reached, 1 cancelled there,
                              2 reached after the operation had completed (not cancelled) */
    AC_REC_TRACE = 'T',    /* the dispatch trace, one entry a line */
    AC_REC_PROPERTY = 'R', /* kind, file, line, message, cond, evaluated, hit (see asyncheck/race.h) */
    AC_REC_NOTE = 'N',     /* file, line, message: information, not a failure (shown under -v, TAP comment) */
    AC_REC_FAULT = 'Q',    /* counted calls to the function a fault point fails (src/fault/) */
};

#endif
