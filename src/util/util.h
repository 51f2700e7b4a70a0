/* util.h — small pieces shared by the runner and the reporters: a growable byte buffer, allocation that
 * fails loudly, monotonic time, and the text escapers each output format needs. Nothing here knows about
 * tests or reports. */
#ifndef AC_UTIL_H
#define AC_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* A growable byte buffer; always NUL-terminated when data != NULL. Zero-initialise to start empty. */
typedef struct ac__buf {
    char *data;
    size_t len;
    size_t cap;
} ac__buf;

void ac__buf_append(ac__buf *b, const void *p, size_t n);
void ac__buf_puts(ac__buf *b, const char *s);
void ac__buf_printf(ac__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ac__buf_vprintf(ac__buf *b, const char *fmt, va_list ap);
void ac__buf_free(ac__buf *b);
/* The buffer's text ("" when empty); stays owned by the buffer. */
const char *ac__buf_str(const ac__buf *b);
/* Hands the text over to the caller (malloc'd, never NULL) and leaves the buffer empty. */
char *ac__buf_take(ac__buf *b);

/* Marks a variable that a test's process writes for every test. Such variables share a few pages (the
 * section "ac_per_test"), so that a new test process takes one copy-on-write fault for them where it
 * took one for each page they were scattered over (docs/PERFORMANCE.md: a fault costs 1.5–14 µs). */
#define AC__PER_TEST __attribute__((section("ac_per_test")))

/* Allocation that never returns NULL: on exhaustion it prints one line and exits with status 3. */
void *ac__xmalloc(size_t n);
void *ac__xrealloc(void *p, size_t n);
char *ac__xstrdup(const char *s);
void *ac__xcalloc(size_t n, size_t size);

/* asyncheck's own calls on a test's thread (a scripted peer's send and recv, a listener's accept) are
 * bracketed by these, so that the replacements that count the code under test's calls (src/fault/) can
 * tell them apart. Per thread, nestable. */
void ac__harness_call_begin(void);
void ac__harness_call_end(void);
/* True between ac__harness_call_begin and its ac__harness_call_end on the calling thread. */
bool ac__in_harness_call(void);

/* qsort as asyncheck's own call: glibc's qsort allocates its scratch space through its PLT, an
 * allocation a fault sweep must never count as the code under test's. */
void ac__qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

/* Seconds from CLOCK_MONOTONIC (real time, unaffected by any virtual clock). */
double ac__monotonic(void);

/* The process's threads (the entries of /proc/self/task), or 0 when /proc cannot tell; 1 without looking
 * while glibc says no pthread_create has run in the process (threads started otherwise, by a raw clone
 * or by the kernel for io_uring, are then not counted). Safe to call while a test has replaced open, read
 * or the clock. */
int ac__count_threads(void);
/* Calls fn (when not NULL) with the id of each of the process's threads, from /proc/self/task, with raw
 * system calls only (no allocation, nothing a test may have replaced); returns how many, 0 when /proc
 * cannot tell. */
int ac__each_thread(void (*fn)(int tid, void *ctx), void *ctx);

/* This process's id from the kernel (never a getpid a test replaced), remembered in a page the kernel
 * empties in a forked child (MADV_WIPEONFORK), so that a child, however it was forked, asks again. */
int ac__own_pid(void);

/* The one reading of AC_TIMEOUT_MULTIPLIER, the factor for slow machines that stretches real-time waits:
 * unset or empty means 1; otherwise the whole value must be a finite number greater than 0 (as
 * ac__parse_seconds reads it). Sets *out to the factor and returns true, or sets *out to 1 and returns
 * false when the value is anything else (the runner refuses to start then; code that runs after the
 * runner's check may ignore the result). Reads the environment at every call. */
bool ac__timeout_multiplier(double *out);

/* Appends s as the inside of a double-quoted YAML (and JSON-compatible) string: quotes, backslashes and
 * control characters escaped, invalid UTF-8 bytes written as \xNN, and the '#' that starts "##[" (GitHub
 * Actions' legacy workflow command, read anywhere in a line) as \x23. */
void ac__escape_quoted(ac__buf *b, const char *s, size_t n);
/* The n bytes at s as one JSON string, quotes included: the quoted escaper's \xHH becomes \u00HH for a
 * control character, and a byte that is not UTF-8 becomes U+FFFD (JSON has no \x escape). */
void ac__escape_json(ac__buf *b, const char *s, size_t n);
/* Appends s as XML 1.0 text for an attribute value: &<>"' escaped, characters XML 1.0 forbids (and
 * invalid UTF-8) dropped. */
void ac__escape_xml_attr(ac__buf *b, const char *s, size_t n);
/* Appends s wrapped in one or more CDATA sections: forbidden characters dropped, "]]>" split. */
void ac__escape_xml_cdata(ac__buf *b, const char *s, size_t n);
/* Appends s with C-style escapes inside double quotes ("a\n\"b\"") for failure messages. */
void ac__escape_c(ac__buf *b, const char *s, size_t n);

/* How ac__escape_line treats what is not a line break (line breaks are always escaped). */
enum {
    AC_ESC_CONTROLS = 1,  /* also the other control characters and bytes that are not UTF-8 */
    AC_ESC_BACKSLASH = 2, /* also '\' as "\\" (so that every escape can be told from the text) */
    AC_ESC_COMMANDS = 4,  /* also what GitHub Actions reads as a workflow command: "::" first on the line
                             (after blanks), "##[" anywhere; their first character becomes \xNN */
};
/* Appends s so that it stays on one line for every line-based reader (TAP parsers, CI log scanners,
 * str.splitlines): each character some reader takes as a line end — LF, CR, VT, FF, FS, GS, RS, NEL,
 * U+2028, U+2029 — is written as an escape (\n, \r, \xNN, \uXXXX); `flags` (AC_ESC_*) escape more. */
void ac__escape_line(ac__buf *b, const char *s, size_t n, int flags);

/* Appends s with every hexadecimal address ("0x55d3a0c4e2b0") written as "0xN" and every other run of
 * decimal digits as "N" (to compare texts that differ only in timings, counts, fds or addresses). */
void ac__fold_digits(ac__buf *b, const char *s);

/* The last component of a path ("src/x.c" -> "x.c"), pointing into `path`; "?" for NULL. */
const char *ac__base_name(const char *path);

/* A copy of s (malloc'd) with control characters written as \xNN, so that user text quoted in a
 * one-line message keeps it one line. */
char *ac__one_line(const char *s);

/* Appends "@0x10: ... 61 62 [63] 64 ...": up to 8 bytes of p[0..n) either side of offset `at`, which is
 * bracketed when it exists, with "..." where bytes are left out. */
void ac__hex_window(ac__buf *b, const unsigned char *p, size_t n, size_t at);

/* splitmix64: the next number of a small, fast generator whose sequence for a seed is the same on every
 * machine (shuffled orders and schedules replay from their seed). */
static inline unsigned long long ac__splitmix64(unsigned long long *state) {
    unsigned long long z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Parses a whole string as a non-negative finite double / a positive int. False on any junk. */
bool ac__parse_seconds(const char *s, double *out);
bool ac__parse_count(const char *s, long *out);

#endif
