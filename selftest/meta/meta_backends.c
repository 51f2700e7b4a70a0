/* meta_backends.c — every backend (--backend, .backend) seen from outside, through the TAP of
 * fixtures/backends.c: a bug that shows only under poll passes on the default backend, is found by
 * --backend=all (and by the test's own .backend), named with its backend in a replay line that fails 3 times
 * out of 3; its fixed twin passes everywhere; a virtual-clock test keeps to epoll, and is skipped with a
 * reason on poll; a backend name the runner does not know is refused. */
#include "meta.h"

#include <string.h>

static const char *const clean_env[] = {"AC_TIMEOUT_MULTIPLIER", NULL};

static const tap_point *run_one(fixture_run *r, const char *name, const char *const *extra) {
    return fixture_point(r, FIXTURE_BACKENDS, name, extra, clean_env);
}

/* The failure (k-th) whose message holds "replay: ", and the arguments of its replay, past the program. */
static size_t replay_of(const tap_point *pt, char args[6][128]) {
    for (size_t k = 0; k < 4; k++) {
        const char *msg = failure_field(pt, k, "message");
        const char *r = strstr(msg, "replay: ");
        if (!r)
            continue;
        AC_EXPECT_STR_CONTAINS(msg, "on the poll backend failed");
        r = strchr(r + strlen("replay: "), ' ');
        size_t n = 0;
        while (r && *r == ' ' && n < 6) {
            r++;
            size_t len = strcspn(r, " "), j = 0;
            for (size_t i = 0; i < len && j < 127; i++)
                if (r[i] != '\'')
                    args[n][j++] = r[i];
            args[n++][j] = '\0';
            r += len;
        }
        return n;
    }
    return 0;
}

static void found_on_poll(const char *name, const char *const *extra) {
    fixture_run r;
    const tap_point *pt = run_one(&r, name, extra);
    AC_EXPECT_FALSE(pt->ok);
    AC_EXPECT_STR_EQ(failure_field(pt, 0, "message"), "AC_ASSERT_TRUE(s->open) failed");
    char args[6][128];
    size_t n = replay_of(pt, args);
    fixture_done(&r);
    AC_ASSERT_EQ(n, 3u);
    AC_EXPECT_STR_EQ(args[1], "--backend=poll");
    AC_EXPECT_STR_EQ(args[2], "--seed=0");
    const char *argv[] = {args[0], args[1], args[2], NULL};
    for (int round = 0; round < 3; round++) {
        fixture_run rr;
        fixture_tap(&rr, FIXTURE_BACKENDS, argv, clean_env);
        const tap_point *p = point(&rr, name);
        AC_EXPECT_FALSE(p->ok);
        AC_EXPECT_EQ(rr.tap.n, 1);
        AC_EXPECT_STR_EQ(field(p, "  message: "), "AC_ASSERT_TRUE(s->open) failed");
        fixture_done(&rr);
    }
}

static void passes(const char *name, const char *const *extra) {
    fixture_run r;
    const tap_point *pt = run_one(&r, name, extra);
    AC_EXPECT_TRUE(pt->ok);
    AC_EXPECT_EQ(r.p.status, 0);
    fixture_done(&r);
}

static const char *const all[] = {"--backend=all", NULL};

AC_TEST(backends, poll_only_bug_passes_on_the_default_backend_and_on_select) {
    passes("backend.order_buggy", NULL);
    passes("backend.order_buggy", (const char *const[]){"--backend=select", NULL});
}

AC_TEST(backends, backend_all_finds_it_names_poll_and_replays_3_of_3) {
    found_on_poll("backend.order_buggy", all);
}

AC_TEST(backends, the_tests_own_backend_option_finds_it) {
    found_on_poll("backend.order_buggy_all", NULL);
}

AC_TEST(backends, fixed_twins_pass_on_every_backend) {
    passes("backend.order_fixed", all);
    passes("backend.order_fixed_all", NULL);
}

AC_TEST(backends, virtual_clock_keeps_to_epoll_and_skips_elsewhere) {
    passes("backend.virtual_all", all);
    fixture_run r;
    const tap_point *pt = run_one(&r, "backend.virtual_all", (const char *const[]){"--backend=poll", NULL});
    AC_EXPECT_STR_CONTAINS(pt->directive ? pt->directive : "",
                           "the virtual and manual clocks need the epoll backend");
    fixture_done(&r);
}

AC_TEST(backends, unknown_backend_is_refused) {
    const char *argv[] = {FIXTURE_BACKENDS, "--backend=kqueue", NULL};
    proc p;
    run_process(argv, clean_env, &p);
    AC_EXPECT_EQ(p.status, 2);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.err), "--backend: 'kqueue' is not one of epoll, poll, select, all");
    ac__buf_free(&p.out);
    ac__buf_free(&p.err);
}
