/* meta_race_asserts.c — the race assertions failing as asyncheck/race.h promises, seen from outside
 * through the TAP of fixtures/race_asserts_fail.c: each message exactly as a user reads it (naming the
 * callbacks, threads, lines and schedule seed involved), the file and line it is reported at, reported
 * once however often the condition recurs, fatal where it must be (the body does not go on), nothing
 * reported for skipped tests, cancelled operations and the passing twins, exploring tests answering for
 * their own properties only; and the whole fixture forked and in one process, where every test owns its
 * failures and none sees the state of the test before it. Lines are found by the "@name" markers in the
 * fixture's source, so the fixture can change without renumbering this file. */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The line of the fixture's source holding the comment "@name" (exactly once). */
static int marker(const char *name) {
    char *src = read_file(FIXTURE_RACE_ASSERTS_SOURCE);
    if (!src)
        AC_FAIL("cannot read %s", FIXTURE_RACE_ASSERTS_SOURCE);
    char tag[64];
    snprintf(tag, sizeof tag, "/* @%s */", name);
    int line = 1, found = 0, count = 0;
    for (const char *p = src; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *text = strndup(p, len);
        if (strstr(text, tag)) {
            found = line;
            count++;
        }
        free(text);
        line++;
        p = nl ? nl + 1 : p + len;
    }
    free(src);
    if (count != 1)
        AC_FAIL("marker @%s appears %d times in %s", name, count, FIXTURE_RACE_ASSERTS_SOURCE);
    return found;
}

/* "race_asserts_fail.c:N" for a marker, as messages cite it (a few live at once). */
static const char *at(const char *name) {
    static char slots[8][64];
    static unsigned k;
    char *s = slots[k++ % 8];
    snprintf(s, sizeof slots[0], "race_asserts_fail.c:%d", marker(name));
    return s;
}

static const tap_point *run_one(fixture_run *r, const char *name, const char *extra) {
    const char *const extras[] = {extra, NULL};
    return fixture_point(r, FIXTURE_RACE_ASSERTS, name, extras, NULL);
}

/* The fixture's test `name` fails with one failure: `message`, an assertion, at the line of marker
 * `where`; its stdout is `out` (NULL: not checked), which tells a fatal failure from a non-fatal one. */
static void fails(const char *name, const char *extra, const char *where, const char *message,
                  const char *out) {
    fixture_run r;
    const tap_point *pt = run_one(&r, name, extra);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_EQ(r.p.status, 1);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), message);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "assertion");
    AC_EXPECT_STR_CONTAINS(field(pt, "    file: "), "race_asserts_fail.c");
    AC_EXPECT_EQ(atoi(field(pt, "    line: ")), marker(where));
    AC_EXPECT_NULL(pt->yaml ? strstr(pt->yaml, "  failures:") : NULL); /* one failure, not one per time */
    if (out)
        AC_EXPECT_STR_EQ(field(pt, "  stdout: "), out);
    fixture_done(&r);
}

static void passes(const char *name, const char *extra) {
    fixture_run r;
    const tap_point *pt = run_one(&r, name, extra);
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_NULL(pt->directive);
    AC_EXPECT_EQ(r.p.status, 0);
    fixture_done(&r);
}

static void skips(const char *name, const char *reason) {
    fixture_run r;
    const tap_point *pt = run_one(&r, name, NULL);
    AC_EXPECT_TRUE(pt->ok);
    char directive[128];
    snprintf(directive, sizeof directive, "SKIP %s", reason);
    AC_EXPECT_STR_EQ(pt->directive, directive);
    AC_EXPECT_NULL(pt->yaml);     /* no failure of the skipped test is reported */
    AC_EXPECT_EQ(r.p.status, 77); /* everything it ran skipped */
    fixture_done(&r);
}

static bool starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

#define TIMER(cb, after) "callback " cb " (ev_timer after=" after " repeat=0.0)"

/* ---- properties ---- */

AC_TEST(meta_race_asserts, always_false_names_the_callback_once) {
    /* false at the second and third reply: one failure, at the second */
    fails("race_props.always_false_in_a_callback", NULL, "always",
          "AC_ALWAYS(replies <= 1, \"at most one reply\") was false in " TIMER("on_reply", "0.02"), NULL);
}

AC_TEST(meta_race_asserts, always_false_fails_again_in_the_next_test_and_in_threads) {
    fails("race_props.the_same_site_fails_in_the_body", NULL, "always",
          "AC_ALWAYS(replies <= 1, \"at most one reply\") was false in the test body", NULL);
    fails("race_props.always_false_in_another_thread", NULL, "always",
          "AC_ALWAYS(replies <= 1, \"at most one reply\") was false in a thread other than the test's", NULL);
}

AC_TEST(meta_race_asserts, a_property_failure_names_the_schedule_seed) {
    fails("race_props.always_false_in_a_callback", "--seed=77", "always",
          "AC_ALWAYS(replies <= 1, \"at most one reply\") was false in " TIMER("on_reply",
                                                                               "0.02") " (schedule seed 77)",
          NULL);
}

AC_TEST(meta_race_asserts, unreachable_reached_names_the_callback_once) {
    fails("race_props.unreachable_reached", NULL, "unreachable",
          "AC_UNREACHABLE(\"a reply after close\") was reached in " TIMER("on_late_reply", "0.01"), NULL);
}

/* The runner judges what each run sends: the SOMETIMES evaluated but never true and the REACHABLE never
 * even evaluated fail; the two satisfied in some schedule do not. */
AC_TEST(meta_race_asserts, exploring_reports_unsatisfied_sometimes_and_reachable) {
    fixture_run r;
    const tap_point *pt = run_one(&r, "race_props.unsatisfied_properties", NULL);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_EQ(r.p.status, 1);
    AC_EXPECT_TRUE(
        starts_with(failure_field(pt, 0, "message"), "AC_SOMETIMES(i > 5, \"a big i\") was never true"));
    AC_EXPECT_STR_EQ(failure_field(pt, 0, "type"), "schedule");
    AC_EXPECT_EQ(atoi(failure_field(pt, 0, "at.line")), marker("sometimes"));
    AC_EXPECT_TRUE(starts_with(failure_field(pt, 1, "message"),
                               "AC_REACHABLE(\"a third timer fired first\") was never reached"));
    AC_EXPECT_EQ(atoi(failure_field(pt, 1, "at.line")), marker("reachable"));
    AC_EXPECT_STR_EQ(failure_field(pt, 2, "message"), ""); /* nothing about the satisfied ones */
    AC_EXPECT_NULL(strstr(pt->yaml, "the second timer fires first"));
    AC_EXPECT_NULL(strstr(pt->yaml, "a timer fired"));
    fixture_done(&r);
}

/* Another exploring test in the file — and any test under --schedules — does not answer for the
 * unsatisfied properties of the test above. */
AC_TEST(meta_race_asserts, an_exploring_test_answers_for_its_own_properties) {
    passes("race_props.another_exploring_test_passes", NULL);
    passes("race_regions.closed_by_the_continuation_passes", "--schedules=3");
}

/* ---- atomic regions ---- */

#define REGION_OPENED "atomic region on \"cache:k\" opened by " TIMER("on_open", "0.01") " at "

AC_TEST(meta_race_asserts, a_region_opened_twice_names_both_callbacks_and_lines) {
    char message[512];
    snprintf(message, sizeof message,
             REGION_OPENED "%s was opened again by " TIMER("on_open_again", "0.02") " at %s while still open",
             at("open"), at("open-again"));
    fails("race_regions.opened_twice", NULL, "open-again", message, NULL);
}

AC_TEST(meta_race_asserts, a_callback_entering_an_open_region_is_named_with_the_opener) {
    char message[512];
    snprintf(message, sizeof message,
             REGION_OPENED "%s was entered by " TIMER("on_peek", "0.02") " at %s before it was closed",
             at("open"), at("peek"));
    fails("race_regions.entered_by_another_callback", NULL, "peek", message, NULL);
}

AC_TEST(meta_race_asserts, the_body_entering_an_open_region_is_named) {
    char message[512];
    snprintf(message, sizeof message,
             REGION_OPENED "%s was entered by the test body at %s before it was closed", at("open"),
             at("body-touch"));
    fails("race_regions.entered_by_the_body", NULL, "body-touch", message, NULL);
}

AC_TEST(meta_race_asserts, the_body_after_running_the_loop_is_another_callback) {
    char message[512];
    snprintf(message, sizeof message,
             "atomic region on \"cache:k\" opened by the test body at %s was entered by the test body at %s "
             "before it was closed (callbacks ran in between)",
             at("body-open"), at("body-later-touch"));
    fails("race_regions.entered_by_a_later_part_of_the_body", NULL, "body-later-touch", message, NULL);
}

AC_TEST(meta_race_asserts, a_region_never_closed_fails_also_after_a_cancel) {
    char message[512];
    snprintf(message, sizeof message, REGION_OPENED "%s was never closed", at("open"));
    fails("race_regions.never_closed", NULL, "open", message, NULL);
    fails("race_regions.never_closed_after_a_cancel", NULL, "open", message, NULL);
}

AC_TEST(meta_race_asserts, regions_used_correctly_or_skipped_pass) {
    passes("race_regions.closed_by_the_continuation_passes", NULL);
    skips("race_regions.skipped_with_a_region_open", "skipped with the region open");
}

/* ---- exactly-once callbacks ---- */

AC_TEST(meta_race_asserts, a_second_call_names_both_calls_once) {
    /* called three times: reported at the second */
    fails("race_once.called_twice", NULL, "once-twice",
          "AC_ONCE callback \"done\" was called a second time, in " TIMER(
              "on_done_b", "0.02") "; the first call was in " TIMER("on_done_a", "0.01"),
          NULL);
    fails(
        "race_once.called_again_from_another_thread", NULL, "once-thread",
        "AC_ONCE callback was called a second time, in a thread other than the test's; the first call was in "
        "the test body",
        NULL);
}

AC_TEST(meta_race_asserts, a_callback_never_called_fails_unless_cancelled_or_skipped) {
    fails("race_once.never_called", NULL, "once-never", "AC_ONCE callback \"done\" was never called", NULL);
    passes("race_once.uncalled_after_a_cancel_passes", NULL);
    skips("race_once.uncalled_when_skipped", "skipped before the callback");
    passes("race_once.an_op_callback_may_stay_uncalled", NULL);
}

AC_TEST(meta_race_asserts, bad_prototypes_are_fatal_and_name_the_column) {
    fails("race_once.bad_prototype_of_a_pointer_type", NULL, "once-bad-pointer",
          "AC_ONCE: bad prototype \"void (*)(int status void *ud)\" at column 21: expected ',' or ')', found "
          "'void'",
          "");
    fails("race_once.bad_prototype_inside_the_declarator", NULL, "once-bad-declarator",
          "AC_ONCE: bad prototype \"void (*3)(int)\" at column 8: expected ')' after the function pointer's "
          "name, found '3'",
          "");
    fails("race_once.bad_prototype_of_a_declaration", NULL, "once-bad-declaration",
          "AC_ONCE: bad prototype \"void done(int, void *\" at column 22: expected a parameter name, ',' or "
          "')', found the end",
          "");
}

AC_TEST(meta_race_asserts, op_callback_misuse_is_fatal) {
    char message[256];
    snprintf(message, sizeof message,
             "ac_op_callback: the test already wrapped its operation's callback at %s (one per test)",
             at("op-first"));
    fails("race_once.a_second_op_callback", NULL, "op-second", message, "");
    fails("race_once.an_op_callback_with_a_bad_promise", NULL, "op-promise",
          "ac_op_callback: promise 7 is neither AC_CANCEL_SILENT nor AC_CANCEL_CALLS_BACK_ONCE", "");
}

/* ---- order between events ---- */

#define EARLY_REPLY                                                                                          \
    "event \"reply\" happened in " TIMER("on_response",                                                      \
                                         "0.01") " before event \"request\" (ac_require_order: "             \
                                                 "\"request\" must come first)"

AC_TEST(meta_race_asserts, a_broken_order_names_the_callback_once) {
    fails("race_events.order_broken_in_a_callback", NULL, "reply", EARLY_REPLY, NULL);
    /* declared after the fact: checked at once, against the first reply */
    fails("race_events.order_broken_before_it_was_required", NULL, "reply", EARLY_REPLY, NULL);
}

AC_TEST(meta_race_asserts, expect_before_says_what_happened_and_goes_on) {
    fails("race_events.expect_before_in_the_wrong_order", NULL, "expect-order",
          "AC_EXPECT_BEFORE(\"request\", \"reply\") failed: \"reply\" happened first, in " TIMER(
              "on_response", "0.01") "; \"request\" only after it, in " TIMER("on_request", "0.02"),
          "continued\n");
    fails("race_events.expect_before_without_the_first", NULL, "expect-no-first",
          "AC_EXPECT_BEFORE(\"request\", \"reply\") failed: \"request\" never happened (\"reply\" happened 2 "
          "times, first in the test body)",
          NULL);
    fails("race_events.expect_before_without_the_second", NULL, "expect-no-second",
          "AC_EXPECT_BEFORE(\"request\", \"reply\") failed: \"reply\" never happened (\"request\" happened 1 "
          "time, first in the test body)",
          NULL);
    fails("race_events.expect_before_with_neither", NULL, "expect-neither",
          "AC_EXPECT_BEFORE(\"request\", \"reply\") failed: neither event happened", NULL);
    fails("race_events.expect_before_itself", NULL, "expect-itself",
          "AC_EXPECT_BEFORE(\"request\", \"request\") failed: an event cannot come before itself", NULL);
}

AC_TEST(meta_race_asserts, assert_before_is_fatal) {
    fails("race_events.assert_before_is_fatal", NULL, "assert-order",
          "AC_ASSERT_BEFORE(\"request\", \"reply\") failed: \"reply\" happened first, in the test body; "
          "\"request\" only after it, in the test body",
          "");
}

/* ---- the whole fixture: every test owns its failures ---- */

typedef struct outcome {
    const char *name;
    char result;               /* 'p'ass, 'f'ail, 's'kip */
    const char *message_start; /* of its (first) failure */
} outcome;

static const outcome whole[] = {
    {"race_props.always_false_in_a_callback", 'f',
     "AC_ALWAYS(replies <= 1, \"at most one reply\") was false in callback on_reply "},
    {"race_props.the_same_site_fails_in_the_body", 'f',
     "AC_ALWAYS(replies <= 1, \"at most one reply\") was false in the test body"},
    {"race_props.always_false_in_another_thread", 'f',
     "AC_ALWAYS(replies <= 1, \"at most one reply\") was false in a thread"},
    {"race_props.unreachable_reached", 'f', "AC_UNREACHABLE(\"a reply after close\") was reached"},
    {"race_props.unsatisfied_properties", 'f', "AC_SOMETIMES(i > 5, \"a big i\") was never true"},
    {"race_props.another_exploring_test_passes", 'p', NULL},
    {"race_regions.opened_twice", 'f', "atomic region on \"cache:k\" opened by callback on_open "},
    {"race_regions.entered_by_another_callback", 'f',
     "atomic region on \"cache:k\" opened by callback on_open "},
    {"race_regions.entered_by_the_body", 'f', "atomic region on \"cache:k\" opened by callback on_open "},
    {"race_regions.entered_by_a_later_part_of_the_body", 'f',
     "atomic region on \"cache:k\" opened by the test body "},
    {"race_regions.never_closed", 'f', "atomic region on \"cache:k\" opened by callback on_open "},
    {"race_regions.the_next_test_starts_with_no_region", 'p', NULL},
    {"race_regions.never_closed_after_a_cancel", 'f',
     "atomic region on \"cache:k\" opened by callback on_open "},
    {"race_regions.skipped_with_a_region_open", 's', NULL},
    {"race_regions.closed_by_the_continuation_passes", 'p', NULL},
    {"race_once.called_twice", 'f', "AC_ONCE callback \"done\" was called a second time"},
    {"race_once.called_again_from_another_thread", 'f', "AC_ONCE callback was called a second time"},
    {"race_once.never_called", 'f', "AC_ONCE callback \"done\" was never called"},
    {"race_once.bad_prototype_of_a_pointer_type", 'f', "AC_ONCE: bad prototype "},
    {"race_once.bad_prototype_inside_the_declarator", 'f', "AC_ONCE: bad prototype "},
    {"race_once.bad_prototype_of_a_declaration", 'f', "AC_ONCE: bad prototype "},
    {"race_once.uncalled_after_a_cancel_passes", 'p', NULL},
    {"race_once.uncalled_when_skipped", 's', NULL},
    {"race_once.an_op_callback_may_stay_uncalled", 'p', NULL},
    {"race_once.a_second_op_callback", 'f', "ac_op_callback: the test already wrapped"},
    {"race_once.an_op_callback_with_a_bad_promise", 'f', "ac_op_callback: promise 7"},
    {"race_events.order_broken_in_a_callback", 'f', "event \"reply\" happened in callback on_response "},
    {"race_events.order_broken_before_it_was_required", 'f',
     "event \"reply\" happened in callback on_response "},
    {"race_events.the_next_test_starts_with_no_events", 'p', NULL},
    {"race_events.expect_before_in_the_wrong_order", 'f',
     "AC_EXPECT_BEFORE(\"request\", \"reply\") failed: \"reply\" happened first"},
    {"race_events.expect_before_without_the_first", 'f',
     "AC_EXPECT_BEFORE(\"request\", \"reply\") failed: \"request\" never"},
    {"race_events.expect_before_without_the_second", 'f',
     "AC_EXPECT_BEFORE(\"request\", \"reply\") failed: \"reply\" never"},
    {"race_events.expect_before_with_neither", 'f',
     "AC_EXPECT_BEFORE(\"request\", \"reply\") failed: neither"},
    {"race_events.expect_before_itself", 'f', "AC_EXPECT_BEFORE(\"request\", \"request\") failed"},
    {"race_events.assert_before_is_fatal", 'f', "AC_ASSERT_BEFORE(\"request\", \"reply\") failed"},
};

static void check_whole(const char *mode) {
    fixture_run r;
    const char *args[] = {mode, NULL};
    fixture_tap(&r, FIXTURE_RACE_ASSERTS, args, NULL);
    AC_EXPECT_EQ(r.p.status, 1);
    AC_EXPECT_EQ(r.tap.n, sizeof whole / sizeof *whole);
    for (size_t i = 0; i < sizeof whole / sizeof *whole; i++) {
        const tap_point *pt = point(&r, whole[i].name);
        if (whole[i].result != 'f') {
            /* (a passing explored test's block says only what it explored: no failure in it) */
            if (!pt->ok || (whole[i].result == 's') != (pt->directive != NULL) ||
                (pt->yaml && strstr(pt->yaml, "message: ")))
                AC_FAIL_LATER("%s: expected to %s", whole[i].name, whole[i].result == 's' ? "skip" : "pass");
            continue;
        }
        AC_EXPECT_FALSE(pt->ok);
        const char *message = field(pt, "  message: ");
        if (!starts_with(message, whole[i].message_start))
            AC_FAIL_LATER("%s: message \"%s\" does not start with \"%s\"", whole[i].name, message,
                          whole[i].message_start);
        /* one failure each, except the exploring test's two properties */
        bool several = pt->yaml && strstr(pt->yaml, "  failures:");
        if (several != (strcmp(whole[i].name, "race_props.unsatisfied_properties") == 0))
            AC_FAIL_LATER("%s: %s failures", whole[i].name, several ? "several" : "a single");
    }
    fixture_done(&r);
}

AC_TEST(meta_race_asserts, whole_fixture_forked) {
    check_whole("--jobs=2");
}

/* In one process each test begins with no site counted, no region, no wrapper and no event of the
 * tests before it, and ends having freed its own. */
AC_TEST(meta_race_asserts, whole_fixture_in_process) {
    check_whole("--no-fork");
}
