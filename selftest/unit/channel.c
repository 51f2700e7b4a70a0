/* channel.c — the record stream from a test process to the runner: round trips, records split across
 * reads, a malformed stream, and notes. */
#include <asyncheck.h>
#include <string.h>

#include "runner/runner.h"

AC_TEST(channel, round_trip_in_pieces) {
    ac__buf wire = {0}, in = {0};
    const char *phase[] = {"teardown"};
    const char *fail[] = {"0", "1", "x.c", "12", "boom", "3", ""};
    const char *skip[] = {"why not"};
    ac__record_encode(&wire, AC_REC_PHASE, phase, 1);
    ac__record_encode(&wire, AC_REC_FAILURE, fail, 7);
    ac__record_encode(&wire, AC_REC_SKIP, skip, 1);
    ac__record_encode(&wire, AC_REC_DONE, NULL, 0);
    ac__result r = {0};
    for (size_t i = 0; i < wire.len; i++) { /* one byte at a time, as a pipe may deliver it */
        ac__buf_append(&in, wire.data + i, 1);
        AC_ASSERT_EQ(ac__records_consume(&in, &r), 0);
    }
    AC_ASSERT_EQ(in.len, 0u);
    AC_ASSERT_TRUE(r.finished);
    AC_ASSERT_EQ(r.nfailures, 1u);
    AC_EXPECT_STR_EQ(r.failures[0].message, "boom");
    AC_EXPECT_STR_EQ(r.failures[0].file, "x.c");
    AC_EXPECT_EQ(r.failures[0].line, 12);
    AC_EXPECT_TRUE(r.failures[0].fatal);
    AC_EXPECT_STR_EQ(r.failures[0].got, "3");
    AC_EXPECT_NULL(r.failures[0].expected); /* empty field means absent */
    AC_EXPECT_STR_EQ(r.failures[0].phase, "teardown");
    AC_EXPECT_STR_EQ(r.skip_reason, "why not");
    ac__result_free(&r);
    ac__buf_free(&wire);
    ac__buf_free(&in);
}

AC_TEST(channel, malformed_length_is_rejected) {
    ac__buf in = {0};
    ac__result r = {0};
    ac__buf_append(&in, "\0\0\0\0D", 5); /* a zero length cannot be */
    AC_ASSERT_EQ(ac__records_consume(&in, &r), -1);
    ac__buf_free(&in);
}

/* Notes pile up in the result, one "file:line: message" a line (no file: the message alone), and change
 * no outcome. */
AC_TEST(channel, notes_are_kept_in_order) {
    ac__buf wire = {0};
    const char *first[] = {"x.c", "7", "one"};
    const char *second[] = {"", "0", "two"};
    ac__record_encode(&wire, AC_REC_NOTE, first, 3);
    ac__record_encode(&wire, AC_REC_NOTE, second, 3);
    ac__result r = {0};
    AC_ASSERT_EQ(ac__records_consume(&wire, &r), 0);
    AC_EXPECT_STR_EQ(ac__buf_str(&r.notes), "x.c:7: one\ntwo\n");
    AC_EXPECT_EQ(r.nfailures, 0u);
    ac__result_settle(&r);
    AC_EXPECT_EQ(r.outcome, AC_PASS);
    ac__result_free(&r);
    AC_EXPECT_EQ(r.notes.len, 0u);
    ac__buf_free(&wire);
}

AC_TEST(channel, a_flood_of_failures_keeps_the_first_and_the_fatal_one) {
    ac__buf wire = {0};
    const char *fail[] = {"0", "0", "x.c", "1", "again", "", ""};
    const char *fatal[] = {"0", "1", "x.c", "2", "ended it", "", ""};
    const char *fatal2[] = {"0", "1", "x.c", "3", "ended it too", "", ""};
    for (int i = 0; i < AC_FAILURE_LIMIT + 50; i++)
        ac__record_encode(&wire, AC_REC_FAILURE, fail, 7);
    ac__result r = {0};
    AC_ASSERT_EQ(ac__records_consume(&wire, &r), 0);
    AC_EXPECT_EQ(r.nfailures, (size_t)AC_FAILURE_LIMIT);
    AC_EXPECT_EQ(r.failures_omitted, 50u);
    ac__record_encode(&wire, AC_REC_FAILURE, fatal, 7);
    AC_ASSERT_EQ(ac__records_consume(&wire, &r), 0);
    AC_ASSERT_EQ(r.nfailures, (size_t)AC_FAILURE_LIMIT + 1); /* the fatal one is kept after the limit */
    AC_EXPECT_STR_EQ(r.failures[AC_FAILURE_LIMIT].message, "ended it");
    AC_EXPECT_EQ(r.failures_omitted, 50u);
    ac__record_encode(&wire, AC_REC_FAILURE, fatal2, 7);
    ac__record_encode(&wire, AC_REC_FAILURE, fail, 7);
    AC_ASSERT_EQ(ac__records_consume(&wire, &r), 0);
    AC_ASSERT_EQ(r.nfailures, (size_t)AC_FAILURE_LIMIT + 1); /* the latest fatal one replaces it */
    AC_EXPECT_STR_EQ(r.failures[AC_FAILURE_LIMIT].message, "ended it too");
    AC_EXPECT_EQ(r.failures_omitted, 52u);
    /* the runner's own failures (a crash, a timeout) are never dropped */
    ac__result_add_failure(&r, AC_FK_TIMEOUT, true, NULL, 0, "timed out", NULL, NULL);
    AC_EXPECT_EQ(r.nfailures, (size_t)AC_FAILURE_LIMIT + 2);
    ac__result_free(&r);
    AC_EXPECT_EQ(r.failures_omitted, 0u);
    ac__buf_free(&wire);
}

/* Feeds `total` bytes (byte i is 'a' + i % 26) to a capture in chunks of `chunk` bytes. */
static void feed(ac__capture *c, size_t total, size_t chunk) {
    char buf[4096];
    for (size_t at = 0; at < total;) {
        size_t n = total - at < chunk ? total - at : chunk;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)('a' + (at + i) % 26);
        ac__capture_add(c, buf, n);
        at += n;
    }
}

static void expect_view(size_t total, size_t chunk) {
    ac__capture c = {0};
    feed(&c, total, chunk);
    ac__capture_parts v = ac__capture_view(&c);
    size_t head = total < AC_CAPTURE_HEAD ? total : AC_CAPTURE_HEAD;
    size_t tail = total - head < AC_CAPTURE_TAIL ? total - head : AC_CAPTURE_TAIL;
    AC_EXPECT_EQ(v.head_len, head);
    AC_EXPECT_EQ(v.tail_len, tail);
    AC_EXPECT_EQ(v.cut, total - head - tail);
    bool ok = true;
    for (size_t i = 0; i < v.head_len; i++)
        ok = ok && v.head[i] == (char)('a' + i % 26);
    for (size_t i = 0; i < v.tail_len; i++)
        ok = ok && v.tail[i] == (char)('a' + (total - tail + i) % 26);
    if (!ok)
        AC_FAIL_LATER("wrong bytes kept: total %zu in chunks of %zu", total, chunk);
    AC_EXPECT_LE(c.text.cap + c.tail.cap, (size_t)(8 * (AC_CAPTURE_HEAD + AC_CAPTURE_TAIL)));
    ac__capture_free(&c);
}

AC_TEST(channel, captures_keep_the_head_and_the_tail) {
    expect_view(0, 1);
    expect_view(100, 7);
    expect_view(AC_CAPTURE_HEAD, 4096);
    expect_view(AC_CAPTURE_HEAD + 10, 3);
    expect_view(AC_CAPTURE_HEAD + AC_CAPTURE_TAIL, 1000);
    expect_view(AC_CAPTURE_HEAD + AC_CAPTURE_TAIL + 1, 1);
    expect_view(5 * AC_CAPTURE_HEAD + 12345, 4096);
    expect_view(5 * AC_CAPTURE_HEAD + 12345, 1);
}

AC_TEST(channel, a_capture_cut_nowhere_joins_whole) {
    ac__capture c = {0};
    feed(&c, AC_CAPTURE_HEAD + 100, 4096);
    ac__buf all = {0};
    ac__capture_join(&c, &all);
    AC_EXPECT_EQ(all.len, (size_t)AC_CAPTURE_HEAD + 100);
    AC_EXPECT_EQ(all.data[AC_CAPTURE_HEAD + 99], (char)('a' + (AC_CAPTURE_HEAD + 99) % 26));
    ac__buf_free(&all);
    ac__capture_free(&c);
}
