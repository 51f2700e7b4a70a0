/* meta_inprocess.c — the in-process path's lazy loop seen from outside, through fixtures/lazy_loop.c:
 * under --no-fork a test's loop is made only when the test asks for it (a forked test's child makes it
 * up front), a test that never asks gets none, a test that makes it mid-body passes the fd check, and a
 * pipe leaked after the loop was made is reported as its two ends only, forked or not. */
#include "meta.h"

#include <stdio.h>
#include <string.h>

/* Runs `test` alone with a JSON report on stdout, with `mode` (NULL: forked), into `p`. */
static void run_json(const char *test, const char *mode, proc *p) {
    char filter[128];
    snprintf(filter, sizeof filter, "--filter=%s", test);
    const char *argv[] = {FIXTURE_LAZY_LOOP, filter, "--json=-", mode, NULL};
    run_process(argv, (const char *[]){"AC_TIMEOUT_MULTIPLIER", NULL}, p);
}

AC_TEST(meta_inprocess, the_loop_is_made_when_the_test_first_asks_for_it) {
    proc p;
    run_json("lazy.uses_its_loop", "--no-fork", &p);
    AC_EXPECT_EQ(p.status, 0);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "\"stdout\":\"loop made before it was asked for: no\\n\"");
    proc_free(&p);
    run_json("lazy.uses_its_loop", NULL, &p); /* forked: made before the test starts, as always */
    AC_EXPECT_EQ(p.status, 0);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "\"stdout\":\"loop made before it was asked for: yes\\n\"");
    proc_free(&p);
}

AC_TEST(meta_inprocess, a_test_that_never_asks_gets_no_loop) {
    proc p;
    run_json("lazy.never_asks", "--no-fork", &p);
    AC_EXPECT_EQ(p.status, 0);
    AC_EXPECT_STR_CONTAINS(ac__buf_str(&p.out), "\"stdout\":\"loop made: no\\n\"");
    proc_free(&p);
}

AC_TEST(meta_inprocess, a_pipe_leaked_after_the_loop_was_made_is_its_two_ends_only) {
    const char *modes[] = {"--no-fork", NULL};
    for (size_t i = 0; i < 2; i++) {
        fixture_run r;
        const char *args[] = {"--filter=lazy.leaks_a_pipe_after_making_the_loop", modes[i], NULL};
        fixture_tap(&r, FIXTURE_LAZY_LOOP, args, NULL);
        const tap_point *pt = point(&r, "lazy.leaks_a_pipe_after_making_the_loop");
        AC_EXPECT_FALSE(pt->ok);
        AC_EXPECT_STR_EQ(
            field(pt, "  message: "),
            "2 file descriptors opened by the test are still open at its end (close them, or waive "
            "the check with AC_ALLOW_OPEN_FDS)");
        const char *got = field(pt, "  got: ");
        AC_EXPECT_STR_CONTAINS(got, "pipe:[");
        AC_EXPECT_FALSE(strstr(got, "anon_inode") != NULL); /* not the loop's epoll fd or eventfd */
        fixture_done(&r);
    }
}
