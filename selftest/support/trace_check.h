/* trace_check.h — the selftests' validator of Chrome Trace Event Format files (what `--trace` writes):
 * parses the JSON strictly and checks what Perfetto and chrome://tracing need of each event, then lets a
 * test count and order the events it expects. Used only by the selftests; not part of asyncheck. */
#ifndef AC_SELFTEST_TRACE_CHECK_H
#define AC_SELFTEST_TRACE_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"

typedef struct trace_doc trace_doc;

/* Parses `text` as a trace and checks it; NULL with the first violation in `why`. The rules:
 * - the text is one JSON value (RFC 8259: no trailing commas, no comments, strings escaped), either an
 *   array of events or an object whose "traceEvents" is one (its other members are free);
 * - every event is an object with a one-character string "ph" among B E X i I C s t f M, a string
 *   "name", and integer "pid" and "tid"; every event but "M" has a number "ts" >= 0;
 * - "X" has a number "dur" >= 0; "C" has an "args" object whose members are all numbers; "i"/"I" have
 *   an "s" of "g", "p" or "t" when they have one; "M" is process_name, thread_name,
 *   process_sort_index, thread_sort_index or process_labels, with an "args" object;
 * - "s", "t" and "f" carry an "id" (number or string); each "s" is closed by exactly one "f" with the
 *   same "cat" and "id", at a ts not before it, and every "t" and "f" follows its "s";
 * - "B" and "E" nest per track ((pid, tid)), and every "B" is ended;
 * - within a track, events other than "M" appear in non-decreasing ts. */
trace_doc *trace_parse(const char *text, ac__buf *why);
void trace_free(trace_doc *d);

/* Events whose "ph" is `ph` (NULL: any) and whose "name" contains `name_part` (NULL: any). */
size_t trace_count(const trace_doc *d, const char *ph, const char *name_part);

/* The position in the file (0-based) of the first such event, or -1 when there is none. */
long trace_index(const trace_doc *d, const char *ph, const char *name_part);

/* Its "ts" (microseconds), or -1 when there is none. */
double trace_ts(const trace_doc *d, const char *ph, const char *name_part);

/* The string value of key `key` in the top-level object's "otherData" or "metadata" member, NULL when
 * absent (or when the trace is a bare array). */
const char *trace_meta(const trace_doc *d, const char *key);

#endif
