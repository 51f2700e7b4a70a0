/* result_wire.c — a run's result as a lane sends it to the runner: every field survives the round trip
 * (captures with NUL bytes, absent strings), and every cut or corrupted message is refused. */
#include <asyncheck.h>
#include <string.h>

#include "runner/runner.h"

/* A result with every field a run sets, none at its zero value. */
static void full_result(ac__result *r) {
    *r = (ac__result){0};
    r->phase = ac__phase_name("drain");
    r->finished = true;
    r->duration = 0.125;
    r->skip_reason = ac__xstrdup("skipped for a reason");
    ac__result_add_failure(r, AC_FK_TIMEOUT, true, "a.c", 7, "timed out", "got \"1\"", NULL);
    r->failures[0].phase = ac__phase_name("body");
    ac__result_add_failure(r, AC_FK_HARNESS, false, NULL, -3, "no file", NULL, "expected 2");
    r->failures_omitted = 4;
    ac__capture_add(&r->out, "out\0with a NUL\n", 15);
    ac__capture_add(&r->err, "err", 3);
    ac__buf_puts(&r->notes, "a.c:3: a note\n");
    r->sched_steps = 99;
    r->cancel_late = true;
    r->fault_known = true;
    r->fault_calls = -1;
    r->trace = ac__xstrdup("1 a\n2 b\n");
    r->props = ac__xcalloc(1, sizeof *r->props);
    r->props[0] = (ac__prop_obs){2, ac__xstrdup("p.c"), 11, ac__xstrdup("never"), NULL, 5, 0};
    r->nprops = 1;
}

AC_TEST(result_wire, every_field_survives_the_round_trip) {
    ac__result a, b = {0};
    full_result(&a);
    ac__buf wire = {0};
    ac__result_wire_encode(&wire, &a);
    AC_ASSERT_EQ(ac__result_wire_decode(wire.data, wire.len, &b), 0);
    AC_EXPECT_STR_EQ(b.phase, "drain");
    AC_EXPECT_TRUE(b.phase == a.phase); /* the static spelling */
    AC_EXPECT_TRUE(b.finished);
    AC_EXPECT_TRUE(b.duration == 0.125);
    AC_EXPECT_STR_EQ(b.skip_reason, "skipped for a reason");
    AC_ASSERT_EQ(b.nfailures, 2u);
    AC_EXPECT_EQ(b.failures[0].kind, AC_FK_TIMEOUT);
    AC_EXPECT_TRUE(b.failures[0].fatal);
    AC_EXPECT_STR_EQ(b.failures[0].file, "a.c");
    AC_EXPECT_EQ(b.failures[0].line, 7);
    AC_EXPECT_STR_EQ(b.failures[0].message, "timed out");
    AC_EXPECT_STR_EQ(b.failures[0].got, "got \"1\"");
    AC_EXPECT_NULL(b.failures[0].expected);
    AC_EXPECT_STR_EQ(b.failures[0].phase, "body");
    AC_EXPECT_EQ(b.failures[1].kind, AC_FK_HARNESS);
    AC_EXPECT_FALSE(b.failures[1].fatal);
    AC_EXPECT_NULL(b.failures[1].file);
    AC_EXPECT_EQ(b.failures[1].line, -3);
    AC_EXPECT_STR_EQ(b.failures[1].expected, "expected 2");
    AC_EXPECT_EQ(b.failures_omitted, 4u);
    AC_ASSERT_EQ(b.out.text.len, 15u);
    AC_EXPECT_TRUE(memcmp(b.out.text.data, "out\0with a NUL\n", 15) == 0);
    AC_EXPECT_STR_EQ(ac__buf_str(&b.err.text), "err");
    AC_EXPECT_STR_EQ(ac__buf_str(&b.notes), "a.c:3: a note\n");
    AC_EXPECT_EQ(b.sched_steps, 99ul);
    AC_EXPECT_FALSE(b.cancel_reached);
    AC_EXPECT_TRUE(b.cancel_late);
    AC_EXPECT_TRUE(b.fault_known);
    AC_EXPECT_EQ(b.fault_calls, -1l);
    AC_EXPECT_STR_EQ(b.trace, "1 a\n2 b\n");
    AC_ASSERT_EQ(b.nprops, 1u);
    AC_EXPECT_EQ(b.props[0].kind, 2);
    AC_EXPECT_STR_EQ(b.props[0].file, "p.c");
    AC_EXPECT_EQ(b.props[0].line, 11);
    AC_EXPECT_STR_EQ(b.props[0].message, "never");
    AC_EXPECT_NULL(b.props[0].cond);
    AC_EXPECT_EQ(b.props[0].evaluated, 5l);
    AC_EXPECT_EQ(b.props[0].hit, 0l);
    ac__result_free(&a);
    ac__result_free(&b);
    ac__buf_free(&wire);
}

AC_TEST(result_wire, a_capture_cut_in_the_middle_stays_cut) {
    ac__result a = {0}, b = {0};
    static char big[3 * AC_CAPTURE_HEAD];
    memset(big, 'x', sizeof big);
    big[sizeof big - 1] = 'z';
    ac__capture_add(&a.out, big, sizeof big);
    ac__buf wire = {0};
    ac__result_wire_encode(&wire, &a);
    AC_ASSERT_EQ(ac__result_wire_decode(wire.data, wire.len, &b), 0);
    ac__capture_parts va = ac__capture_view(&a.out), vb = ac__capture_view(&b.out);
    AC_EXPECT_GT(va.cut, 0u);
    AC_EXPECT_EQ(vb.cut, va.cut);
    AC_EXPECT_EQ(vb.head_len, va.head_len);
    AC_ASSERT_EQ(vb.tail_len, va.tail_len);
    AC_EXPECT_EQ(vb.tail[vb.tail_len - 1], 'z');
    ac__result_free(&a);
    ac__result_free(&b);
    ac__buf_free(&wire);
}

AC_TEST(result_wire, every_cut_message_is_refused) {
    ac__result a;
    full_result(&a);
    ac__buf wire = {0};
    ac__result_wire_encode(&wire, &a);
    for (size_t len = 0; len < wire.len; len++) {
        ac__result b = {0};
        AC_EXPECT_EQ(ac__result_wire_decode(wire.data, len, &b), -1);
        ac__result_free(&b);
    }
    /* and one byte too many */
    ac__buf_append(&wire, "", 1);
    ac__result b = {0};
    AC_EXPECT_EQ(ac__result_wire_decode(wire.data, wire.len, &b), -1);
    ac__result_free(&b);
    ac__result_free(&a);
    ac__buf_free(&wire);
}

AC_TEST(result_wire, a_length_beyond_the_message_is_refused_without_reading_past_it) {
    ac__result a = {0};
    ac__buf wire = {0};
    ac__result_wire_encode(&wire, &a);
    /* the first field is the phase's length (absent: all ones); claim 2^40 bytes, and a count as large */
    unsigned long long huge = 1ull << 40;
    memcpy(wire.data, &huge, sizeof huge);
    ac__result b = {0};
    AC_EXPECT_EQ(ac__result_wire_decode(wire.data, wire.len, &b), -1);
    ac__result_free(&b);
    ac__buf_free(&wire);
}
