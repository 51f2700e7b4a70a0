/* meta_race.c — schedule exploration seen from outside, through the TAP of fixtures/race_bugs.c: each
 * buggy program passes under libev's own order and is found by exploring (shuffle and PCT), reported
 * with a seed whose replay command fails the same way every time; the fixed twins pass every explored
 * schedule; --keep-going groups the failures; a crash under one seed names that seed; a cancel sweep
 * finds a cancel that leaves a watcher running, a completion held, fds open, or a callback that breaks
 * its promise; --check-determinism finds state leaking between runs;
 * bad options are refused in one line. */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const clean_env[] = {"AC_TIMEOUT_MULTIPLIER", NULL};

static const tap_point *run_with(fixture_run *r, const char *name, const char *const *extra) {
    return fixture_point(r, FIXTURE_RACE_BUGS, name, extra, clean_env);
}

/* The message of the point's failure of type `schedule` ("" when it has none). */
static const char *schedule_message(const tap_point *pt) {
    static ac__buf out;
    ac__buf_free(&out);
    const char *yaml = pt->yaml ? pt->yaml : "";
    const char *type = strstr(yaml, "type: schedule\n");
    if (!type)
        return "";
    const char *line = NULL;
    for (const char *p = yaml; (p = strstr(p, "message: \"")) && p < type; p++)
        line = p;
    if (!line)
        return "";
    while (line > yaml && line[-1] != '\n')
        line--;
    const char *prefix_end = strstr(line, "message: ") + strlen("message: ");
    char prefix[32];
    snprintf(prefix, sizeof prefix, "%.*s", (int)(prefix_end - line), line);
    yaml_get(line, prefix, &out);
    return ac__buf_str(&out);
}

/* Splits the replay command in `msg` ("...; replay: PROG --filter='x' --seed=N ...") into arguments
 * after the program; false when there is none. */
static bool replay_args(const char *msg, char args[8][160], size_t *n) {
    const char *r = strstr(msg, "replay: ");
    if (!r)
        return false;
    r = strchr(r + strlen("replay: "), ' '); /* past the program */
    *n = 0;
    while (r && *r == ' ' && *n < 8) {
        r++;
        const char *end = strchr(r, ' ');
        size_t len = end ? (size_t)(end - r) : strlen(r);
        char *a = args[(*n)++];
        size_t k = 0;
        for (size_t i = 0; i < len && k < 159; i++)
            if (r[i] != '\'')
                a[k++] = r[i];
        a[k] = '\0';
        r = end;
    }
    return *n > 0;
}

/* `s` with every run of digits replaced by "N": the elapsed times in crash messages vary. */
static char *fold_digits(const char *s) {
    ac__buf b = {0};
    ac__fold_digits(&b, s);
    return ac__buf_take(&b);
}

/* The first failure's message, after a replay: a replay must fail the same way each time. */
static void replays_fail_the_same_way(const char *name, const char *msg, const char *first_message) {
    char args[8][160];
    size_t n = 0;
    AC_ASSERT_TRUE(replay_args(msg, args, &n));
    const char *argv[10];
    for (size_t i = 0; i < n; i++)
        argv[i] = args[i];
    argv[n] = NULL;
    for (int round = 0; round < 3; round++) {
        fixture_run r;
        fixture_tap(&r, FIXTURE_RACE_BUGS, argv, clean_env);
        const tap_point *pt = point(&r, name);
        AC_EXPECT_FALSE(pt->ok);
        AC_EXPECT_EQ(r.tap.n, 1);
        char *got = fold_digits(field(pt, "  message: ")), *want = fold_digits(first_message);
        AC_EXPECT_STR_EQ(got, want);
        free(got);
        free(want);
        AC_EXPECT_STR_EQ(schedule_message(pt), ""); /* one run: nothing explored, nothing to replay */
        fixture_done(&r);
    }
}

static void passes(const char *name, const char *const *extra) {
    fixture_run r;
    const tap_point *pt = run_with(&r, name, extra);
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_EQ(r.p.status, 0);
    fixture_done(&r);
}

/* Explores `name` with `extra` options: it fails, and its schedule failure says so and replays. */
static void found(const char *name, const char *const *extra, const char *first_message, const char *mode) {
    fixture_run r;
    const tap_point *pt = run_with(&r, name, extra);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_EQ(r.p.status, 1);
    const char *msg = schedule_message(pt);
    AC_EXPECT_STR_CONTAINS(msg, "failed");
    AC_EXPECT_STR_CONTAINS(msg, mode);
    AC_EXPECT_STR_CONTAINS(msg, "replay: ");
    AC_EXPECT_STR_CONTAINS(msg, " --seed=");
    char *copy = ac__xstrdup(msg);
    char first[512];
    snprintf(first, sizeof first, "%s", field(pt, "  message: "));
    if (first_message)
        AC_EXPECT_STR_CONTAINS(first, first_message);
    fixture_done(&r);
    replays_fail_the_same_way(name, copy, first);
    free(copy);
}

static const char *const explore300[] = {"--schedules=300", NULL};
static const char *const pct300[] = {"--schedules=300", "--schedule-mode=pct", NULL};

/* ---- the default schedule does not find them ---- */

AC_TEST(meta_race, buggy_programs_pass_under_libevs_own_order) {
    passes("cache_buggy.fetches_once", NULL);
    passes("reply_buggy.calls_back_once", NULL);
    passes("order_buggy.applies_settings", NULL);
    passes("poll_buggy.cancels_cleanly", NULL);
    passes("nondet.leaks_state_between_runs", NULL);
}

/* ---- exploring finds them, with a seed that replays ---- */

AC_TEST(meta_race, shuffle_finds_the_cache_that_fetches_twice) {
    found("cache_buggy.fetches_once", explore300, "AC_ASSERT_CALLED(fetch, 1) failed", "shuffle");
}

AC_TEST(meta_race, shuffle_finds_the_reply_that_races_its_timeout) {
    found("reply_buggy.calls_back_once", explore300, "AC_ASSERT_EQ(r.results, 1) failed", "shuffle");
}

AC_TEST(meta_race, shuffle_finds_the_order_violation_as_a_crash_with_its_seed) {
    fixture_run r;
    const tap_point *pt = run_with(&r, "order_buggy.applies_settings", explore300);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "crash");
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "), "crashed: SIGSEGV");
    AC_EXPECT_STR_CONTAINS(schedule_message(pt), " --seed=");
    fixture_done(&r);
    found("order_buggy.applies_settings", explore300, "crashed: SIGSEGV", "shuffle");
}

AC_TEST(meta_race, pct_finds_them_too) {
    found("cache_buggy.fetches_once", pct300, "AC_ASSERT_CALLED(fetch, 1) failed", "pct");
    found("reply_buggy.calls_back_once", pct300, "AC_ASSERT_EQ(r.results, 1) failed", "pct");
    found("order_buggy.applies_settings", pct300, "crashed: SIGSEGV", "pct");
    fixture_run r;
    const tap_point *pt = run_with(&r, "reply_buggy.calls_back_once", pct300);
    AC_EXPECT_STR_CONTAINS(schedule_message(pt), " --schedule-mode=pct:3:");
    fixture_done(&r);
}

AC_TEST(meta_race, a_test_explores_by_its_own_option) {
    fixture_run r;
    const tap_point *pt = run_with(&r, "reply_buggy.explores_by_option", NULL);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_CONTAINS(schedule_message(pt), " of 200 (seed ");
    fixture_done(&r);
}

AC_TEST(meta_race, the_first_failing_schedule_stops_the_test) {
    fixture_run r;
    const tap_point *pt = run_with(&r, "reply_buggy.calls_back_once", explore300);
    const char *msg = schedule_message(pt);
    /* "schedule K of 300 (...) failed (M other runs passed)": far fewer than 300 ran */
    const char *other = strstr(msg, "failed (");
    long passed = other ? strtol(other + strlen("failed ("), NULL, 10) : -1;
    AC_EXPECT_TRUE(other == NULL || (passed >= 0 && passed < 100));
    fixture_done(&r);
}

AC_TEST(meta_race, a_hang_under_one_seed_is_reported_with_that_seed) {
    static const char *const ten[] = {"--schedules=10", NULL};
    fixture_run r;
    const tap_point *pt = run_with(&r, "hang.under_some_seeds", ten);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "timeout");
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "),
                           "(limit 0.300 s) in body; the test's process group was killed");
    const char *msg = schedule_message(pt);
    AC_EXPECT_STR_CONTAINS(msg, " --seed=");
    AC_EXPECT_NULL(strstr(msg, "seed 0,")); /* libev's own order draws 0.0: it never hangs */
    char *copy = ac__xstrdup(msg);
    char first[512];
    snprintf(first, sizeof first, "%s", field(pt, "  message: "));
    fixture_done(&r);
    replays_fail_the_same_way("hang.under_some_seeds", copy, first);
    free(copy);
    passes("hang.under_some_seeds", NULL);
}

/* ---- the fixed twins pass every schedule ---- */

AC_TEST(meta_race, fixed_twins_pass_every_explored_schedule) {
    passes("cache_fixed.fetches_once", explore300);
    passes("reply_fixed.calls_back_once", explore300);
    passes("order_fixed.applies_settings", explore300);
    passes("cache_fixed.fetches_once", pct300);
    passes("reply_fixed.calls_back_once", pct300);
    passes("order_fixed.applies_settings", pct300);
}

/* ---- --keep-going: how many failed, grouped ---- */

AC_TEST(meta_race, keep_going_counts_and_groups_failures) {
    static const char *const args[] = {"--schedules=100", "--keep-going", NULL};
    fixture_run r;
    const tap_point *pt = run_with(&r, "reply_buggy.calls_back_once", args);
    AC_EXPECT_FALSE(pt->ok);
    const char *msg = schedule_message(pt);
    long failed = strtol(msg, NULL, 10);
    AC_EXPECT_TRUE(failed > 0 && failed < 100);
    AC_EXPECT_STR_CONTAINS(msg, " of 100 runs failed (shuffle), in 1 group by failure");
    AC_EXPECT_TRUE(pt->yaml && strstr(pt->yaml, "× AC_ASSERT_EQ(r.results, 1) failed"));
    AC_EXPECT_TRUE(pt->yaml && strstr(pt->yaml, "replay: "));
    fixture_done(&r);
    passes("reply_fixed.calls_back_once", args);
}

AC_TEST(meta_race, keep_going_groups_failures_that_differ_only_in_addresses) {
    static const char *const args[] = {"--schedules=60", "--keep-going", NULL};
    fixture_run r;
    const tap_point *pt = run_with(&r, "ptr_buggy.names_the_request", args);
    AC_EXPECT_FALSE(pt->ok);
    const char *msg = schedule_message(pt);
    AC_EXPECT_STR_CONTAINS(msg, " of 60 runs failed (shuffle), in 1 group by failure");
    fixture_done(&r);
}

AC_TEST(meta_race, a_replay_line_carries_every_option_that_changes_a_run) {
    static const char *const args[] = {"--schedules=200", "--no-fork", "--clock=virtual", "--timeout=7",
                                       NULL};
    fixture_run r;
    const tap_point *pt = run_with(&r, "reply_buggy.calls_back_once", args);
    AC_EXPECT_FALSE(pt->ok);
    const char *msg = schedule_message(pt);
    AC_EXPECT_STR_CONTAINS(msg, " --no-fork");
    AC_EXPECT_STR_CONTAINS(msg, " --clock=virtual");
    AC_EXPECT_STR_CONTAINS(msg, " --timeout=7");
    char *copy = ac__xstrdup(msg);
    fixture_done(&r);
    replays_fail_the_same_way("reply_buggy.calls_back_once", copy, "AC_ASSERT_EQ(r.results, 1) failed");
    free(copy);
    /* a divergence's replay runs the seed twice again */
    static const char *const det[] = {"--check-determinism", NULL};
    pt = run_with(&r, "nondet.leaks_state_between_runs", det);
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "), " --seed=0 --check-determinism");
    AC_EXPECT_FALSE(strstr(field(pt, "  message: "), "--cancel-at") != NULL);
    fixture_done(&r);
}

AC_TEST(meta_race, a_replay_line_selects_exactly_the_test_whose_name_holds_glob_characters) {
    static const char *const first[] = {"--filter=rp.case/[[]fast]", NULL};
    fixture_run r;
    fixture_tap(&r, FIXTURE_RACE_BUGS, first, clean_env);
    const tap_point *pt = point(&r, "rp.case/[fast]");
    AC_EXPECT_FALSE(pt->ok);
    const char *msg = schedule_message(pt);
    AC_EXPECT_STR_CONTAINS(msg, "--filter='rp.case/\\[fast\\]'");
    char args[8][160];
    size_t n = 0;
    AC_ASSERT_TRUE(replay_args(msg, args, &n));
    const char *argv[10];
    for (size_t i = 0; i < n; i++)
        argv[i] = args[i];
    argv[n] = NULL;
    fixture_done(&r);
    fixture_tap(&r, FIXTURE_RACE_BUGS, argv, clean_env);
    AC_EXPECT_EQ(r.tap.n, 1);
    AC_EXPECT_FALSE(point(&r, "rp.case/[fast]")->ok);
    fixture_done(&r);
}

/* ---- cancel sweep ---- */

AC_TEST(meta_race, cancel_sweep_finds_a_cancel_that_leaves_a_watcher) {
    static const char *const sweep[] = {"--cancel-sweep", NULL};
    fixture_run r;
    const tap_point *pt = run_with(&r, "poll_buggy.cancels_cleanly", sweep);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "watchers");
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "1 watcher started by the test still active after the cancel");
    AC_EXPECT_STR_CONTAINS(field(pt, "  got: "), "callback poll_retry");
    const char *msg = schedule_message(pt);
    AC_EXPECT_STR_CONTAINS(msg, "cancel point 0 (cancelled before the first callback");
    AC_EXPECT_STR_CONTAINS(msg, " --cancel-at=0");
    char *copy = ac__xstrdup(msg);
    fixture_done(&r);
    replays_fail_the_same_way("poll_buggy.cancels_cleanly", copy,
                              "1 watcher started by the test still active after the cancel");
    free(copy);
    passes("poll_fixed.cancels_cleanly", sweep);
}

AC_TEST(meta_race, cancel_sweep_cancels_at_every_point_until_a_run_completes) {
    /* the poller asks three times, one second apart: callbacks answer, retry, answer, retry, answer (the
     * last one completes the operation). Cancel points 0 (before the first answer) to 4 (after the
     * second retry) cancel the operation in flight; point 5 comes after it completed, which ends the
     * sweep without cancelling. */
    static const char *const sweep[] = {"--cancel-sweep", "--keep-going", NULL};
    fixture_run r;
    const tap_point *pt = run_with(&r, "poll_buggy.cancels_cleanly", sweep);
    const char *msg = schedule_message(pt);
    long failed = strtol(msg, NULL, 10);
    long ran = strstr(msg, " of ") ? strtol(strstr(msg, " of ") + 4, NULL, 10) : 0;
    AC_EXPECT_EQ(failed, 5);
    AC_EXPECT_EQ(ran, 6);
    AC_EXPECT_STR_CONTAINS(msg, "cancel sweep");
    fixture_done(&r);
}

AC_TEST(meta_race, cancel_point_zero_catches_an_operation_whose_only_event_is_its_reply) {
    static const char *const sweep[] = {"--cancel-sweep", NULL};
    fixture_run r;
    const tap_point *pt = run_with(&r, "lookup_buggy.cancels_cleanly", sweep);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(failure_field(pt, 0, "message"),
                     "the operation's callback was called 2 times after it was cancelled (it promised "
                     "AC_CANCEL_CALLS_BACK_ONCE: exactly once)");
    const char *msg = schedule_message(pt);
    AC_EXPECT_STR_CONTAINS(msg, "cancel point 0 (cancelled before the first callback after ac_cancel_with)");
    AC_EXPECT_STR_CONTAINS(msg, " --cancel-at=0");
    char *copy = ac__xstrdup(msg);
    fixture_done(&r);
    replays_fail_the_same_way("lookup_buggy.cancels_cleanly", copy,
                              "the operation's callback was called 2 times after it was cancelled (it "
                              "promised AC_CANCEL_CALLS_BACK_ONCE: exactly once)");
    free(copy);
    passes("lookup_buggy.cancels_cleanly", NULL); /* no sweep: nothing is cancelled */
}

AC_TEST(meta_race, a_sweep_ends_where_the_operation_completed_without_cancelling_it) {
    /* the fixed lookup calls back exactly once when cancelled in flight (point 0); at point 1 the reply
     * has come: cancelling the finished operation would break its promise ("called 0 times"), so the
     * sweep ends there instead, and says how far it went under -v */
    static const char *const sweep[] = {"--cancel-sweep", NULL};
    fixture_run r;
    const tap_point *pt = run_with(&r, "lookup_fixed.cancels_cleanly", sweep);
    AC_EXPECT_TRUE(pt->ok);
    /* two runs: point 0 cancelled the lookup in flight, point 1 came after the reply and ended the sweep */
    AC_EXPECT_TRUE(pt->yaml &&
                   strstr(pt->yaml, "    runs: 2\n    cancel_sweep: true\n    cancel_points: 1\n"));
    fixture_done(&r);
    passes("poll_fixed.cancels_cleanly", sweep);
    /* a reply still due after the cancel's settling is asyncheck's timer, not a watcher of the test's */
    passes("lookup_slow.cancels_cleanly", sweep);
    pt = run_with(&r, "lookup_cached.cancels_cleanly", sweep);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(
        field(pt, "  message: "),
        "cancel sweep cancelled nothing: the operation's callback had always run before the first "
        "cancel point (cancel point 0 comes right before the first callback dispatched after "
        "ac_cancel_with)");
    fixture_done(&r);
    passes("lookup_cached.cancels_cleanly", NULL);
}

AC_TEST(meta_race, cancel_at_a_point_the_test_never_reaches_fails) {
    static const char *const beyond[] = {"--cancel-at=7", NULL};
    fixture_run r;
    const tap_point *pt = run_with(&r, "watch_fixed.cancels_cleanly", beyond);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "--cancel-at 7: the test never reached cancel point 7 (it dispatched 2 callbacks after "
                     "ac_cancel_with); its cancel points are 0 to 2");
    fixture_done(&r);
    static const char *const late[] = {"--cancel-at=1", NULL};
    pt = run_with(&r, "lookup_fixed.cancels_cleanly", late);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_CONTAINS(
        field(pt, "  message: "),
        "--cancel-at 1: the operation had completed (its callback ran) before cancel point 1");
    fixture_done(&r);
    static const char *const last[] = {"--cancel-at=2", NULL};
    passes("watch_fixed.cancels_cleanly", last);
    static const char *const zero[] = {"--cancel-at=0", NULL};
    passes("lookup_fixed.cancels_cleanly", zero);
}

AC_TEST(meta_race, cancel_sweep_holds_the_callback_to_its_promise) {
    static const char *const sweep[] = {"--cancel-sweep", NULL};
    fixture_run r;
    const tap_point *pt = run_with(&r, "poll_noisy.cancels_cleanly", sweep);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "),
                     "the operation's callback was called 1 time after it was cancelled (it promised "
                     "AC_CANCEL_SILENT)");
    AC_EXPECT_STR_CONTAINS(schedule_message(pt), " --cancel-at=");
    fixture_done(&r);
    passes("poll_noisy.cancels_cleanly", NULL); /* no sweep: nothing is cancelled */
}

AC_TEST(meta_race, hand_written_cancellation_is_checked) {
    fixture_run r;
    const tap_point *pt = run_with(&r, "poll_buggy.by_hand", NULL);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  message: "), "1 watcher started by the test still active after the cancel");
    AC_EXPECT_TRUE(pt->yaml && strstr(pt->yaml, "AC_ASSERT_CANCELLED_CLEANLY failed"));
    fixture_done(&r);
    passes("poll_fixed.by_hand", NULL);
}

AC_TEST(meta_race, cancel_sweep_finds_held_completions_and_open_fds) {
    static const char *const sweep[] = {"--cancel-sweep", NULL};
    fixture_run r;
    const tap_point *pt = run_with(&r, "watch_leaky.cancels_cleanly", sweep);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(failure_field(pt, 0, "message"), "1 mock completion still held after the cancel");
    AC_EXPECT_STR_EQ(failure_field(pt, 0, "got"), "1 completion of submit held");
    AC_EXPECT_STR_CONTAINS(failure_field(pt, 2, "message"),
                           "2 file descriptors opened by the test are still open at its end");
    AC_EXPECT_STR_CONTAINS(failure_field(pt, 2, "got"), ": pipe:[");
    AC_EXPECT_STR_CONTAINS(schedule_message(pt), " --cancel-at=0");
    fixture_done(&r);
    passes("watch_fixed.cancels_cleanly", sweep);
    passes("watch_leaky.cancels_cleanly", NULL);
}

/* ---- --check-determinism ---- */

AC_TEST(meta_race, check_determinism_finds_state_leaking_between_runs) {
    static const char *const det[] = {"--check-determinism", NULL};
    fixture_run r;
    const tap_point *pt = run_with(&r, "nondet.leaks_state_between_runs", det);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(field(pt, "  type: "), "schedule");
    AC_EXPECT_STR_CONTAINS(field(pt, "  message: "),
                           "nondeterministic: two runs of seed 0 dispatched differently");
    const char *got = field(pt, "  got: ");
    AC_EXPECT_STR_CONTAINS(got, "dispatch 1 differs:");
    AC_EXPECT_STR_CONTAINS(got, "first_cb (ev_timer after=0.01 ");
    AC_EXPECT_STR_CONTAINS(got, "second_cb (ev_timer after=0.01 ");
    fixture_done(&r);
    passes("det.same_every_run", det);
    static const char *const det_explore[] = {"--check-determinism", "--schedules=20", NULL};
    passes("cache_fixed.fetches_once", det_explore);
}

AC_TEST(meta_race, check_determinism_ignores_descriptor_numbers_and_neighbours) {
    /* the second run of the seed holds one more descriptor: the same dispatches on other numbers */
    static const char *const det[] = {"--check-determinism", NULL};
    passes("det.same_order_on_other_descriptor_numbers", det);
    /* two tests at a time, each run of a seed forked beside a different neighbour */
    static const char *const det_j2[] = {"--check-determinism", "-j2", "--schedules=4", NULL};
    const char *argv[] = {"--filter=det.*", det_j2[0], det_j2[1], det_j2[2], NULL};
    fixture_run r;
    fixture_tap(&r, FIXTURE_RACE_BUGS, argv, clean_env);
    AC_EXPECT_EQ(r.tap.n, 2);
    for (size_t i = 0; i < r.tap.n; i++)
        if (!r.tap.points[i].ok)
            AC_FAIL_LATER("%s failed", r.tap.points[i].name);
    AC_EXPECT_EQ(r.p.status, 0);
    fixture_done(&r);
}

AC_TEST(meta_race, a_test_process_holds_none_of_the_runners_descriptors) {
    char json[128];
    snprintf(json, sizeof json, "--json=/tmp/ac-report-marker-%ld.json", (long)getpid());
    const char *const extra[] = {json, "-j2", NULL};
    fixture_run r;
    const tap_point *pt = run_with(&r, "fds.only_its_own", extra);
    AC_EXPECT_TRUE(pt->ok);
    fixture_done(&r);
    unlink(json + strlen("--json="));
}

/* ---- bad input ---- */

static void refused(const char *arg, const char *reason) {
    const char *argv[] = {FIXTURE_RACE_BUGS, arg, NULL};
    proc p;
    run_process(argv, clean_env, &p);
    AC_EXPECT_EQ(p.status, 2);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.err), reason);
    AC_EXPECT_EQ(ac__buf_str(&p.out)[0], '\0');
    proc_free(&p);
}

AC_TEST(meta_race, bad_exploration_options_are_refused) {
    refused("--schedules=0", "--schedules: '0' is not a whole number from 1 to 100000000");
    refused("--schedules=lots", "--schedules: 'lots' is not a whole number");
    refused("--schedule-mode=random", "--schedule-mode: 'random' is not shuffle, pct, pct:DEPTH");
    refused("--schedule-mode=pct:0", "--schedule-mode: 'pct:0' is not");
    refused("--schedule-mode=pct:3:x", "--schedule-mode: 'pct:3:x' is not");
    refused("--cancel-at=-1", "--cancel-at: '-1' is not a whole number from 0");
}
