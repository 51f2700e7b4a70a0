/* meta_threads.c — callbacks on the wrong thread and libev calls from another thread, seen from outside
 * through the TAP of fixtures/threads_fail.c: each buggy test fails once with the exact message, naming
 * the worker thread (its id varies, so "thread 4242" is compared as "thread N", and a symbol's offset as
 * "+0x.."), at the line of its marker; each fixed twin, which hands the work over with ev_async_send,
 * passes. Forked and in one process. */
#include "meta.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The line of the fixture's source holding the comment "@name". */
static int marker(const char *name) {
    char *src = read_file(FIXTURE_THREADS_SOURCE);
    if (!src)
        AC_FAIL("cannot read %s", FIXTURE_THREADS_SOURCE);
    char tag[64];
    snprintf(tag, sizeof tag, "/* @%s */", name);
    const char *hit = strstr(src, tag);
    int line = 1;
    for (const char *p = src; hit && p < hit; p++)
        line += *p == '\n';
    free(src);
    if (!hit)
        AC_FAIL("no marker @%s in %s", name, FIXTURE_THREADS_SOURCE);
    return line;
}

/* `text` with "thread <digits>" made "thread N" and "+0x<hex>" made "+0x..". */
static void normalise(const char *text, char *out, size_t cap) {
    size_t o = 0;
    for (const char *p = text; *p && o + 8 < cap;) {
        if (!strncmp(p, "thread ", 7) && isdigit((unsigned char)p[7])) {
            memcpy(out + o, "thread N", 8);
            o += 8;
            for (p += 7; isdigit((unsigned char)*p); p++)
                ;
        } else if (!strncmp(p, "+0x", 3)) {
            memcpy(out + o, "+0x..", 5);
            o += 5;
            for (p += 3; isxdigit((unsigned char)*p); p++)
                ;
        } else
            out[o++] = *p++;
    }
    out[o] = '\0';
}

static void fails(const char *name, const char *extra, const char *where, const char *message) {
    const char *const extras[] = {extra, NULL};
    fixture_run r;
    const tap_point *pt = fixture_point(&r, FIXTURE_THREADS, name, extras, NULL);
    AC_EXPECT_FALSE(pt->ok);
    char got[1024];
    normalise(field(pt, "  message: "), got, sizeof got);
    AC_EXPECT_STR_EQ(got, message);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "assertion");
    AC_EXPECT_STR_CONTAINS(field(pt, "    file: "), "threads_fail.c");
    AC_EXPECT_EQ(atoi(field(pt, "    line: ")), marker(where));
    AC_EXPECT_NULL(pt->yaml ? strstr(pt->yaml, "  failures:") : NULL); /* one failure */
    fixture_done(&r);
}

static void passes(const char *name, const char *extra) {
    const char *const extras[] = {extra, NULL};
    fixture_run r;
    const tap_point *pt = fixture_point(&r, FIXTURE_THREADS, name, extras, NULL);
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_EQ(r.p.status, 0);
    fixture_done(&r);
}

static const char *const modes[] = {NULL, "--no-fork"};

AC_TEST(meta_threads, an_once_callback_called_on_a_worker_fails_naming_the_thread) {
    for (size_t i = 0; i < 2; i++) {
        fails(
            "threads.once_callback_called_on_the_worker", modes[i], "once",
            "AC_ONCE callback \"on_done\" was called on thread N \"worker\", not on the test's loop thread");
        passes("threads.once_callback_handed_over_with_ev_async", modes[i]);
    }
}

AC_TEST(meta_threads, a_marked_callback_called_on_a_worker_fails_naming_the_thread) {
    for (size_t i = 0; i < 2; i++) {
        fails("threads.marked_callback_called_on_the_worker", modes[i], "marked",
              "AC_EXPECT_ON_LOOP_THREAD: called on thread N \"worker\", not on the test's loop thread");
        passes("threads.marked_callback_handed_over_with_ev_async", modes[i]);
    }
}

AC_TEST(meta_threads, a_mock_completion_on_a_worker_fails_naming_the_thread) {
    for (size_t i = 0; i < 2; i++) {
        fails("threads.mock_completion_inside_a_call_from_the_worker", modes[i], "mock",
              "fetch: call #0's completion was delivered on thread N \"worker\", not on the test's loop "
              "thread");
        passes("threads.mock_completion_handed_over_to_the_loop", modes[i]);
    }
}

AC_TEST(meta_threads, a_libev_call_on_the_loop_from_a_worker_is_reported_with_its_caller) {
    for (size_t i = 0; i < 2; i++) {
        fails("threads.timer_started_from_the_worker", modes[i], "foreign-test",
              "ev_timer_start on the test's loop from thread N \"worker\", not the loop's thread (libev's "
              "loops "
              "are not thread-safe: hand the work over with ev_async_send), called at work+0x..");
        passes("threads.timer_started_on_the_loop_after_ev_async", modes[i]);
    }
}
