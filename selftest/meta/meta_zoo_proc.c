/* meta_zoo_proc.c — the runner against hostile processes, signals and records (fixtures/zoo_proc.c) and a
 * hostile start-up environment: each case is reported as what it was, the neighbour is unaffected, the
 * TAP stream stays valid, nothing hangs. */
#include "meta.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs one zoo_proc test (with zoo_proc.passes beside it, which must pass) plus `extra` arguments. */
static const tap_point *zoo_proc(fixture_run *r, const char *name, const char *extra) {
    char filter[128];
    snprintf(filter, sizeof filter, "--filter=%s", name);
    const char *args[] = {filter, "--filter=zoo_proc.passes", extra, NULL};
    fixture_tap(r, FIXTURE_ZOO_PROC, args, NULL);
    AC_EXPECT_TRUE(point(r, "zoo_proc.passes")->ok);
    return point(r, name);
}

/* A field of the k-th failure of a point, also when it has only one (no `failures:` list then). */
static const char *nth(const tap_point *pt, size_t k, const char *key) {
    if (pt->yaml && strstr(pt->yaml, "  failures:\n"))
        return failure_field(pt, k, key);
    if (k > 0)
        return "";
    char prefix[32];
    snprintf(prefix, sizeof prefix, "  %s: ", key);
    return field(pt, prefix);
}

/* The k-th failure of `pt` has this type and a message containing `part`. */
static void expect_failure(const tap_point *pt, size_t k, const char *type, const char *part) {
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(nth(pt, k, "type"), type);
    AC_EXPECT_STR_CONTAINS(nth(pt, k, "message"), part);
}

static const char fell_through[] = "forked by the test: returned from the test's body into asyncheck's "
                                   "harness; asyncheck ended it (end a forked process with _exit)";

AC_TEST(meta_zoo_proc, a_forked_child_falling_through_is_reported) {
    fixture_run r;
    const tap_point *pt = zoo_proc(&r, "zoo_proc.fork_falls_through", NULL);
    expect_failure(pt, 0, "harness", fell_through);
    AC_EXPECT_STR_EQ(nth(pt, 1, "type"), ""); /* the only failure */
    fixture_done(&r);
}

/* The child's harness ran to its end before the parent died: the parent's death is still the outcome. */
AC_TEST(meta_zoo_proc, a_forked_child_cannot_mask_its_parents_death) {
    fixture_run r;
    const tap_point *pt = zoo_proc(&r, "zoo_proc.fork_falls_through_then_aborts", NULL);
    expect_failure(pt, 0, "harness", fell_through);
    expect_failure(pt, 1, "crash", "crashed: SIGABRT (Aborted) in body");
    fixture_done(&r);
    pt = zoo_proc(&r, "zoo_proc.fork_falls_through_then_exits_3", NULL);
    expect_failure(pt, 1, "exit", "exited unexpectedly with status 3 in body");
    fixture_done(&r);
    pt = zoo_proc(&r, "zoo_proc.fork_falls_through_then_hangs", NULL);
    expect_failure(pt, 1, "timeout", "(limit 0.500 s) in body; the test's process group was killed");
    fixture_done(&r);
}

AC_TEST(meta_zoo_proc, a_forked_childs_failure_says_where_it_came_from) {
    fixture_run r;
    const tap_point *pt = zoo_proc(&r, "zoo_proc.fork_fails_an_expectation", NULL);
    expect_failure(pt, 0, "assertion", ", forked by the test: AC_EXPECT_EQ(1, 2) failed");
    AC_EXPECT_EQ(strncmp(nth(pt, 0, "message"), "in process ", 11), 0);
    fixture_done(&r);
}

AC_TEST(meta_zoo_proc, a_forged_done_record_cannot_mask_a_crash) {
    fixture_run r;
    const tap_point *pt = zoo_proc(&r, "zoo_proc.forges_done_then_aborts", NULL);
    expect_failure(pt, 0, "crash", "crashed: SIGABRT (Aborted) in body");
    AC_EXPECT_STR_CONTAINS(nth(pt, 0, "message"),
                           "(a \"done\" record had arrived, but not from the test's own process)");
    fixture_done(&r);
}

/* Under --no-fork the forked child is a copy of the whole runner: it must not go on to report tests
 * (the TAP is parsed strictly: no point twice), and what it did is still the test's failure. */
AC_TEST(meta_zoo_proc, under_no_fork_a_falling_through_child_leaves_the_tap_valid) {
    fixture_run r;
    const tap_point *pt = zoo_proc(&r, "zoo_proc.fork_falls_through", "--no-fork");
    AC_EXPECT_EQ(r.tap.n, 2u);
    expect_failure(pt, 0, "harness", fell_through);
    fixture_done(&r);
    pt = zoo_proc(&r, "zoo_proc.fork_fails_an_expectation", "--no-fork");
    expect_failure(pt, 0, "assertion", ", forked by the test: AC_EXPECT_EQ(1, 2) failed");
    fixture_done(&r);
}
