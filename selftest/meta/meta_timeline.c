/* meta_timeline.c — the timeline in failure reports and the --trace files (fixtures/timeline_fail.c):
 * an explored test's failure shows the mock call, the timeout's callback and the late completion in that
 * order in TAP, JUnit, JSON and the human report; a crash and a hang show their timelines up to the
 * callback that did not return; --timeline N bounds what is shown, --timeline-events what is kept (and
 * the loss is said); --trace writes a file the selftests' validator accepts, carrying every event;
 * --trace-all writes one per test; --check-determinism shows both runs' timelines from the first
 * difference; bad options are refused on one line with status 2. */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_check.h"

/* The position of `needle` in `hay` (-1 when absent). */
static long pos(const char *hay, const char *needle) {
    const char *p = hay ? strstr(hay, needle) : NULL;
    return p ? (long)(p - hay) : -1;
}

/* The three events of late_completion appear in `text`, in order. */
static void in_order(const char *text) {
    long call = pos(text, "call      fetch("), timeout = pos(text, "callback  on_timeout (ev_timer)"),
         late = pos(text, "complete  fetch #0 completes: cb(200, $ud)");
    AC_EXPECT_GE(call, 0);
    AC_EXPECT_GT(timeout, call);
    AC_EXPECT_GT(late, timeout);
    AC_EXPECT_GT(pos(text, "0.100001  callback  on_timeout"), 0); /* at the timeout's time */
    AC_EXPECT_GT(pos(text, "0.200002  complete  fetch #0"), 0);   /* at the completion's */
    AC_EXPECT_GT(pos(text, "note      request sent"), -1);        /* ac_note */
    long delivery = pos(text, "callback  the completion of fetch() call #0  [did not return]"); /* AC_FAIL */
    AC_EXPECT_GT(delivery, timeout);
    AC_EXPECT_LT(delivery, late);
}

AC_TEST(meta_timeline, a_late_completion_shows_in_tap_and_junit_in_order) {
    fixture_run r;
    const tap_point *pt = fixture_point(&r, FIXTURE_TIMELINE, "timeline.late_completion", NULL, NULL);
    AC_EXPECT_FALSE(pt->ok);
    AC_ASSERT_NOT_NULL(pt->yaml);
    AC_EXPECT_STR_CONTAINS(pt->yaml, "  timeline_events: 7\n  timeline_lost: 0\n  timeline:\n    - \"");
    in_order(pt->yaml);
    ac__buf out = {0};
    xpath(r.junit, "string(//testcase[@name='late_completion']/system-out)", &out);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&out), "[asyncheck timeline: 7 of 7 events");
    in_order(ac__buf_str(&out));
    ac__buf_free(&out);
    fixture_done(&r);
}

AC_TEST(meta_timeline, a_late_completion_shows_in_json_and_the_human_report_in_order) {
    char *dir = make_temp_dir(), *json = path_in(dir, "r.json");
    proc p;
    run_process(
        (const char *const[]){FIXTURE_TIMELINE, "--filter=timeline.late_completion", "--json", json, NULL},
        NULL, &p);
    AC_EXPECT_EQ(p.status, 1);
    const char *human = ac__buf_str(&p.out);
    AC_EXPECT_STR_CONTAINS(
        human, "      timeline: 7 of 7 events (iteration, seconds since the test's loop was made, "
               "event)\n            0    0.000000  start     on_timeout (ev_timer after=0.1 ");
    in_order(human);
    char *j = read_file(json);
    AC_EXPECT_STR_CONTAINS(j, ",\"timeline_events\":7,\"timeline_lost\":0,\"timeline\":[{\"iter\":0,");
    long call = pos(j, "{\"iter\":0,\"time_s\":0.000000,\"kind\":\"call\",\"text\":\"fetch(\\\"http://"
                       "example.test/a\\\""),
         timeout = pos(j, "{\"iter\":1,\"time_s\":0.100001,\"kind\":\"callback\",\"text\":\"on_timeout "
                          "(ev_timer)\",\"cpu_us\":"),
         late = pos(
             j,
             "{\"iter\":2,\"time_s\":0.200002,\"kind\":\"complete\",\"text\":\"fetch #0 completes: cb(200, "
             "$ud)\",\"flow\":1}");
    AC_EXPECT_GE(call, 0);
    AC_EXPECT_GT(timeout, call);
    AC_EXPECT_GT(late, timeout);
    AC_EXPECT_GT(
        pos(j, "\"kind\":\"callback\",\"text\":\"the completion of fetch() call #0\",\"cpu_us\":null"), 0);
    free(j);
    proc_free(&p);
    free(json);
    rm_tree(dir);
    free(dir);
}

AC_TEST(meta_timeline, a_crash_and_a_hang_show_their_timelines) {
    fixture_run r;
    const tap_point *pt = fixture_point(&r, FIXTURE_TIMELINE, "timeline.crash_in_callback", NULL, NULL);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "crash");
    long cb = pos(pt->yaml, "callback  crash_cb (ev_timer)  [did not return]"),
         note = pos(pt->yaml, "note      about to crash");
    AC_EXPECT_GT(cb, 0);
    AC_EXPECT_GT(note, cb);
    fixture_done(&r);
    pt = fixture_point(&r, FIXTURE_TIMELINE, "timeline.hang_in_callback", NULL, NULL);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "timeout");
    cb = pos(pt->yaml, "callback  spin_cb (ev_timer)  [did not return]");
    note = pos(pt->yaml, "note      about to spin");
    AC_EXPECT_GT(cb, 0);
    AC_EXPECT_GT(note, cb);
    fixture_done(&r);
}

AC_TEST(meta_timeline, timeline_n_bounds_what_is_shown_and_0_shows_none) {
    fixture_run r;
    const tap_point *pt = fixture_point(&r, FIXTURE_TIMELINE, "timeline.late_completion",
                                        (const char *const[]){"--timeline", "2", NULL}, NULL);
    AC_EXPECT_STR_CONTAINS(pt->yaml,
                           "  timeline:\n    - \"    2    0.200002  complete  fetch #0 completes: cb(200, "
                           "$ud)\"\n    - \"    2    0.200002  note      fetched with status 200\"\n");
    AC_EXPECT_EQ(pos(pt->yaml, "on_timeout"), -1);
    fixture_done(&r);
    pt = fixture_point(&r, FIXTURE_TIMELINE, "timeline.late_completion",
                       (const char *const[]){"--timeline=0", NULL}, NULL);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_EQ(pos(pt->yaml, "  timeline:"), -1);
    fixture_done(&r);
    pt = fixture_point(&r, FIXTURE_TIMELINE, "timeline.late_completion", NULL,
                       (const char *const[]){"AC_TIMELINE=off", NULL}); /* nothing recorded */
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_EQ(pos(pt->yaml, "  timeline:"), -1);
    fixture_done(&r);
}

AC_TEST(meta_timeline, a_small_ring_keeps_the_last_events_and_says_how_many_were_lost) {
    fixture_run r;
    const tap_point *pt =
        fixture_point(&r, FIXTURE_TIMELINE, "timeline.many_events",
                      (const char *const[]){"--timeline-events", "16", "--timeline", "3", NULL}, NULL);
    AC_EXPECT_STR_CONTAINS(pt->yaml, "  timeline_events: 200\n  timeline_lost: 184\n  timeline:\n"
                                     "    - \"    0    0.000000  note      note 197\"\n"
                                     "    - \"    0    0.000000  note      note 198\"\n"
                                     "    - \"    0    0.000000  note      note 199\"\n");
    fixture_done(&r);
    proc p;
    run_process((const char *const[]){FIXTURE_TIMELINE, "--filter=timeline.many_events",
                                      "--timeline-events=16", "--timeline=1", NULL},
                NULL, &p);
    AC_EXPECT_STR_CONTAINS(
        ac__buf_str(&p.out),
        "timeline: last 1 of 200 events (iteration, seconds since the test's loop was made, "
        "event); 184 earlier events lost (the ring holds the last 16: --timeline-events)\n");
    proc_free(&p);
}

/* Runs the fixture with `args` (NULL-terminated) after --trace=<fresh dir>; returns the dir. */
static char *traced(const char *const *args, proc *p) {
    char *dir = make_temp_dir();
    ac__buf opt = {0};
    ac__buf_printf(&opt, "--trace=%s", dir);
    const char *argv[16] = {FIXTURE_TIMELINE, ac__buf_str(&opt)};
    size_t n = 2;
    for (size_t i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    run_process(argv, NULL, p);
    ac__buf_free(&opt);
    return dir;
}

static trace_doc *parse_file(const char *dir, const char *name) {
    char *path = path_in(dir, name), *text = read_file(path);
    AC_ASSERT_NOT_NULL(text);
    ac__buf why = {0};
    trace_doc *d = trace_parse(text, &why);
    if (!d)
        AC_FAIL("%s is not a valid trace: %s", name, ac__buf_str(&why));
    ac__buf_free(&why);
    free(text);
    free(path);
    return d;
}

AC_TEST(meta_timeline, trace_writes_a_valid_file_with_every_event_and_the_flow) {
    proc p;
    char *dir = traced((const char *const[]){"--filter=timeline.late_completion", NULL}, &p);
    AC_EXPECT_EQ(p.status, 1);
    char *names = dir_entries(dir);
    AC_EXPECT_STR_EQ(names, "timeline.late_completion-seed0.json");
    trace_doc *d = parse_file(dir, "timeline.late_completion-seed0.json");
    AC_EXPECT_STR_EQ(trace_meta(d, "events_recorded"), "7");
    AC_EXPECT_STR_EQ(trace_meta(d, "events_in_file"), "7");
    AC_EXPECT_STR_EQ(trace_meta(d, "events_lost"), "0");
    AC_EXPECT_STR_EQ(trace_meta(d, "seed"), "0");
    AC_EXPECT_STR_CONTAINS(trace_meta(d, "replay"), "--filter='timeline.late_completion' --seed=0");
    AC_EXPECT_EQ(trace_count(d, "X", NULL) + trace_count(d, "i", NULL), 7u); /* one each, every event */
    AC_EXPECT_EQ(trace_count(d, "X", NULL), 2u);                             /* the two callbacks */
    AC_EXPECT_EQ(trace_count(d, "s", "mock call"), 1u);
    AC_EXPECT_EQ(trace_count(d, "f", "mock call"), 1u);
    AC_EXPECT_LT(trace_index(d, "i", "call fetch("), trace_index(d, "X", "on_timeout"));
    AC_EXPECT_LT(trace_index(d, "X", "on_timeout"), trace_index(d, "i", "complete fetch #0"));
    AC_EXPECT_GE(trace_ts(d, "X", "on_timeout"), 100000.0); /* placed at its virtual time, in µs */
    AC_EXPECT_LT(trace_ts(d, "X", "on_timeout"), 100002.0);
    AC_EXPECT_GE(trace_ts(d, "f", "mock call"), 200000.0);
    AC_EXPECT_GT(trace_count(d, "C", "active watchers"), 0u);
    AC_EXPECT_GT(trace_count(d, "C", "open fds"), 0u);
    AC_EXPECT_EQ(trace_count(d, "M", "process_name"), 1u);
    trace_free(d);
    free(names);
    proc_free(&p);
    rm_tree(dir);
    free(dir);
}

AC_TEST(meta_timeline, trace_all_writes_one_file_per_test_and_trace_only_the_failing_ones) {
    proc p;
    char *dir = traced((const char *const[]){"--filter=timeline.passes", "--filter=timeline.late_completion",
                                             "--trace-all", NULL},
                       &p);
    char *names = dir_entries(dir);
    AC_EXPECT_STR_EQ(names, "timeline.late_completion-seed0.json timeline.passes-seed0.json");
    trace_doc *d = parse_file(dir, "timeline.passes-seed0.json");
    AC_EXPECT_STR_EQ(trace_meta(d, "outcome"), "pass");
    AC_EXPECT_EQ(trace_count(d, "i", "note waiting"), 1u);
    trace_free(d);
    free(names);
    proc_free(&p);
    rm_tree(dir);
    free(dir);
    dir = traced((const char *const[]){"--filter=timeline.passes", "--filter=timeline.late_completion", NULL},
                 &p);
    names = dir_entries(dir);
    AC_EXPECT_STR_EQ(names, "timeline.late_completion-seed0.json");
    free(names);
    proc_free(&p);
    rm_tree(dir);
    free(dir);
}

AC_TEST(meta_timeline, a_trace_that_lost_events_says_how_many) {
    proc p;
    char *dir =
        traced((const char *const[]){"--filter=timeline.many_events", "--timeline-events=16", NULL}, &p);
    trace_doc *d = parse_file(dir, "timeline.many_events-seed0.json");
    AC_EXPECT_STR_EQ(trace_meta(d, "events_recorded"), "200");
    AC_EXPECT_STR_EQ(trace_meta(d, "events_in_file"), "16");
    AC_EXPECT_STR_EQ(trace_meta(d, "events_lost"), "184");
    AC_EXPECT_EQ(trace_count(d, "i", "note note "), 16u);
    trace_free(d);
    proc_free(&p);
    rm_tree(dir);
    free(dir);
}

AC_TEST(meta_timeline, check_determinism_shows_both_timelines_from_the_first_difference) {
    fixture_run r;
    const tap_point *pt = fixture_point(&r, FIXTURE_TIMELINE, "timeline.nondet",
                                        (const char *const[]){"--check-determinism", NULL}, NULL);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "), "nondeterministic: two runs of seed 0 dispatched");
    const char *got = field(pt, "  got: ");
    long head = pos(got, "\ntimelines from event 1 (first run | second run):\n  ");
    AC_EXPECT_GE(head, 0);
    /* the first events differ: the timers' starts, in the two runs' orders — which run swapped them
     * depends on which of the two, run side by side, came first (the fixture's runs_so_far) */
    long row = pos(got, "start     first_cb (ev_timer after=0.0");
    AC_EXPECT_GT(row, head);
    const char *line = got + row;
    size_t len = strcspn(line, "\n");
    char *first_row = ac__xstrdup(line);
    first_row[len] = '\0';
    const char *bar = strstr(first_row, "| ");
    AC_ASSERT_NOT_NULL(bar);
    bool left_01 = pos(first_row, "first_cb (ev_timer after=0.01 repeat=0.0)") < bar - first_row;
    AC_EXPECT_STR_CONTAINS(first_row, left_01 ? "first_cb (ev_timer after=0.01 repeat=0.0)"
                                              : "first_cb (ev_timer after=0.02 repeat=0.0)");
    AC_EXPECT_STR_CONTAINS(bar, left_01 ? "first_cb (ev_timer after=0.02 repeat=0.0)"
                                        : "first_cb (ev_timer after=0.01 repeat=0.0)");
    free(first_row);
    fixture_done(&r);
}

static void refused(const char *const *argv, const char *line) {
    proc p;
    run_process(argv, NULL, &p);
    AC_EXPECT_EQ(p.status, 2);
    const char *err = ac__buf_str(&p.err);
    AC_EXPECT_STR_CONTAINS(err, line);
    AC_EXPECT_EQ(pos(err, "\n"), (long)(strstr(err, line) - err + strlen(line))); /* on its one line */
    AC_EXPECT_STR_EQ(ac__buf_str(&p.out), "");
    proc_free(&p);
}

AC_TEST(meta_timeline, bad_timeline_and_trace_options_are_refused_on_one_line) {
    refused((const char *const[]){FIXTURE_TIMELINE, "--timeline-events", "0", NULL},
            "--timeline-events: '0' is not a whole number from 16 to 16777216");
    refused((const char *const[]){FIXTURE_TIMELINE, "--timeline-events=abc", NULL},
            "--timeline-events: 'abc' is not a whole number from 16 to 16777216");
    refused((const char *const[]){FIXTURE_TIMELINE, "--timeline=-1", NULL},
            "--timeline: '-1' is not a whole number from 0 to 1000000");
    refused((const char *const[]){FIXTURE_TIMELINE, "--trace-all", NULL},
            "--trace-all needs --trace DIR (where to write the files)");
    refused((const char *const[]){FIXTURE_TIMELINE, "--trace", "/dev/null/traces", NULL},
            "--trace: cannot make the directory '/dev/null/traces': Not a directory");
}

AC_TEST(meta_timeline, peer_steps_a_cancel_and_a_fault_point_are_in_the_timeline) {
    fixture_run r;
    const tap_point *pt = fixture_point(&r, FIXTURE_TIMELINE, "timeline.peer_cancel_and_fault",
                                        (const char *const[]){"--fault-at=read:1:EAGAIN", NULL}, NULL);
    AC_EXPECT_FALSE(pt->ok);
    long peer = pos(pt->yaml, "peer      scripted peer: step 1 of 1 done: send \\\"hi\\\" (2 bytes)"),
         cancel = pos(pt->yaml, "cancel    the operation is cancelled"),
         fault = pos(pt->yaml, "fault     fault point read:1:EAGAIN: this call fails");
    AC_EXPECT_GT(peer, 0);
    AC_EXPECT_GT(cancel, peer);
    AC_EXPECT_GT(fault, cancel);
    /* the peer's own watchers (its reader, its prepare watcher) are not the test's: left out */
    AC_EXPECT_EQ(pos(pt->yaml, "on_readable"), -1);
    AC_EXPECT_EQ(pos(pt->yaml, "on_prepare"), -1);
    AC_EXPECT_STR_CONTAINS(pt->yaml, "  timeline_events: 3\n");
    fixture_done(&r);
}

AC_TEST(meta_timeline, a_tests_own_ring_size_holds_unless_the_command_line_overrides_it) {
    fixture_run r;
    const tap_point *pt = fixture_point(&r, FIXTURE_TIMELINE, "timeline.own_ring_size", NULL, NULL);
    AC_EXPECT_STR_CONTAINS(pt->yaml, "  timeline_events: 100\n  timeline_lost: 68\n");
    fixture_done(&r);
    pt = fixture_point(&r, FIXTURE_TIMELINE, "timeline.own_ring_size",
                       (const char *const[]){"--timeline-events=64", NULL}, NULL);
    AC_EXPECT_STR_CONTAINS(pt->yaml, "  timeline_events: 100\n  timeline_lost: 36\n");
    fixture_done(&r);
}

/* Names that a file name cannot keep as they are get a hash of the whole name, so each test keeps its own
 * file (and the same one from run to run); a name too long for a file name is cut before its hash. */
AC_TEST(meta_timeline, every_failing_test_gets_its_own_trace_file) {
    char *dir = make_temp_dir();
    char *tr = path_in(dir, "traces");
    fixture_run r;
    fixture_tap(&r, FIXTURE_TIMELINE, (const char *const[]){"--filter=tracenames.*", "--trace", tr, NULL},
                NULL);
    AC_EXPECT_EQ(r.p.status, 1);
    AC_EXPECT_EQ(r.tap.n, 5u);
    char *files = dir_entries(tr);
    size_t n = 0;
    for (const char *p = files; *p; p += strcspn(p, " "), p += *p == ' ')
        n++;
    AC_EXPECT_EQ(n, 5u);
    /* the four instances ("odd/a b", "odd/a:b", "odd/a_b", "odd/a/b") all read "odd_a_b" once cut */
    size_t odd = 0;
    for (const char *p = files; (p = strstr(p, "tracenames.odd_a_b-h")) != NULL; p++)
        odd++;
    AC_EXPECT_EQ(odd, 4u);
    AC_EXPECT_STR_CONTAINS(files, "tracenames.a_test_whose_name_is_far_too_long");
    AC_EXPECT_TRUE(strstr(ac__buf_str(&r.p.err), "could not write") == NULL);
    free(files);
    fixture_done(&r);
    rm_tree(dir);
    free(tr);
    free(dir);
}
