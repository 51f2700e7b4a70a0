/* timeline.c — the event ring (src/timeline/) and the timeline's line format: what a test records
 * reaches its own ring (forked and under --no-fork), a ring keeps its last events and counts the rest
 * as lost, a half-written event is not read, a callback's CPU time lands only in its own event, and the
 * reports' one-line form. */
#include <asyncheck.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "timeline/timeline.h"

typedef struct seen {
    size_t n;
    char last_text[AC_TL_TEXT];
    int last_kind;
    unsigned long first_text_num;
} seen;

static void count(void *ctx, const ac__tl_event *e) {
    seen *s = ctx;
    if (s->n == 0)
        s->first_text_num = strtoul(e->text, NULL, 10);
    s->n++;
    s->last_kind = e->kind;
    memcpy(s->last_text, e->text, sizeof s->last_text);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)w, (void)revents;
}

/* Passes in both modes: the runner attached a ring to this process before the test began. */
AC_TEST(timeline, a_test_records_into_its_own_ring, .clock = AC_CLOCK_VIRTUAL) {
    ac__tl_ring *ring = ac__tl_attached();
    AC_ASSERT_NOT_NULL(ring);
    ev_timer tm;
    ev_timer_init(&tm, on_timer, 0.5, 0.);
    ev_timer_start(ac_loop(t), &tm);
    AC_AWAIT(t, !ev_is_active(&tm), 2.0);
    ac_note(t, "after %d timer", 1);
    seen s = {0};
    uint64_t lost = 99, total = ac__tl_read(ring, count, &s, &lost);
    AC_EXPECT_EQ(total, 3u); /* start, callback, note */
    AC_EXPECT_EQ(lost, 0u);
    AC_EXPECT_EQ(s.last_kind, AC_TL_NOTE);
    AC_EXPECT_STR_EQ(s.last_text, "after 1 timer");
}

AC_TEST(timeline, a_ring_keeps_its_last_events_and_counts_the_rest_lost) {
    ac__tl_ring *saved = ac__tl_attached();
    ac__tl_ring *ring = ac__tl_map(2, 16, 0);
    AC_ASSERT_NOT_NULL(ring);
    ac__tl_ring *second = ac__tl_slot(ring, 1);
    ac__tl_attach(second);
    ac__tl_begin(ac_loop(t));
    for (int i = 0; i < 40; i++)
        ac__tl_printf(AC_TL_NOTE, 0, "%d", i);
    ac__tl_event *torn = ac__tl_claim(AC_TL_NOTE); /* claimed, never committed: its writer "died" */
    AC_ASSERT_NOT_NULL(torn);
    ac__tl_begin(NULL);
    ac__tl_attach(saved);
    seen s = {0};
    uint64_t lost = 0, total = ac__tl_read(second, count, &s, &lost);
    AC_EXPECT_EQ(total, 41u);
    AC_EXPECT_EQ(lost, 26u); /* 25 overwritten, 1 half-written */
    AC_EXPECT_EQ(s.n, 15u);
    AC_EXPECT_EQ(s.first_text_num, 25u);
    AC_EXPECT_STR_EQ(s.last_text, "39");
    seen none = {0};
    AC_EXPECT_EQ(ac__tl_read(ring, count, &none, &lost), 0u); /* slot 0 untouched */
    ac__tl_unmap(ring, 2, 16);
}

AC_TEST(timeline, a_callbacks_cpu_time_lands_only_in_its_own_event) {
    ac__tl_ring *saved = ac__tl_attached();
    ac__tl_ring *ring = ac__tl_map(1, 16, 0);
    ac__tl_attach(ring);
    ac__tl_begin(ac_loop(t));
    ac__tl_event *e = ac__tl_claim(AC_TL_CALLBACK);
    uint64_t index = ac__tl_index(e);
    ac__tl_commit(e);
    ac__tl_finish(index, 0.25);
    AC_EXPECT_EQ(ring->ev[0].cpu, 0.25);
    for (int i = 0; i < 16; i++) /* the ring wraps over it */
        ac__tl_text(AC_TL_NOTE, 0, "x");
    ac__tl_finish(index, 0.5); /* too late: another event has its place */
    AC_EXPECT_EQ(ring->ev[0].cpu, 0.0);
    ac__tl_begin(NULL);
    ac__tl_attach(saved);
    ac__tl_unmap(ring, 1, 16);
}

AC_TEST(timeline, a_line_is_aligned_and_says_whether_a_callback_returned) {
    ac__buf b = {0};
    ac__tl_line l = {
        .kind = "callback", .iter = 3, .time = 0.1, .cpu = 12e-6, .slice = true, .text = "on_read"};
    ac__tl_line_format(&b, &l);
    AC_EXPECT_STR_EQ(ac__buf_str(&b), "    3    0.100000  callback  on_read  [cpu 12 us]");
    b.len = 0;
    l.cpu = -1;
    ac__tl_line_format(&b, &l);
    AC_EXPECT_STR_EQ(ac__buf_str(&b), "    3    0.100000  callback  on_read  [did not return]");
    b.len = 0;
    l = (ac__tl_line){.kind = "note", .iter = 12345, .time = 12.5, .text = "hello"};
    ac__tl_line_format(&b, &l);
    AC_EXPECT_STR_EQ(ac__buf_str(&b), "12345   12.500000  note      hello");
    ac__buf_free(&b);
}

/* Passes in both modes: the runner gave this test's run a ring of the size it asked for. */
AC_TEST(timeline, a_test_keeps_as_many_events_as_it_asks, .timeline_events = 32) {
    for (int i = 0; i < 100; i++)
        ac_note(t, "%d", i);
    seen s = {0};
    uint64_t lost = 0, total = ac__tl_read(ac__tl_attached(), count, &s, &lost);
    AC_EXPECT_EQ(total, 100u);
    AC_EXPECT_EQ(lost, 68u);
    AC_EXPECT_EQ(s.first_text_num, 68u);
}
