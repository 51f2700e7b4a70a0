/* run_fixture.c — run fixtures (AC_RUN_FIXTURE) holding from inside the unit suite: the data a setup
 * returned reaches every test, the same each call, set up in the runner's process (forked and --no-fork);
 * a setup reads a fixture registered before it. The failing cases are meta/meta_run_fixture.c's. */
#include <asyncheck.h>

#include <stdio.h>
#include <unistd.h>

/* Whether pid is this process or one of its ancestors: the runner, or with more than one job the runner
 * above the lane that is the test's parent. */
static int is_self_or_ancestor(pid_t pid) {
    pid_t at = getpid();
    for (int depth = 0; depth < 4 && at > 1; depth++) {
        if (at == pid)
            return 1;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)at);
        FILE *f = fopen(path, "r");
        int ppid = 0;
        if (!f || fscanf(f, "%*d (%*[^)]) %*c %d", &ppid) != 1)
            ppid = 0;
        if (f)
            fclose(f);
        at = (pid_t)ppid;
    }
    return 0;
}

typedef struct unit_shared {
    int answer;
    pid_t pid;
} unit_shared;

static int setups;

static void *unit_shared_setup(void) {
    static unit_shared s;
    s.answer = 42;
    s.pid = getpid();
    setups++;
    return &s;
}

AC_RUN_FIXTURE(unit_shared, .setup = unit_shared_setup);

static void *unit_derived_setup(void) {
    static int derived;
    derived = ((unit_shared *)ac_run_fixture(NULL, "unit_shared"))->answer + 1;
    return &derived;
}

AC_RUN_FIXTURE(unit_derived, .setup = unit_derived_setup);

AC_RUN_FIXTURE(unit_null, .setup = NULL);

AC_TEST(run_fixture, data_reaches_the_test) {
    unit_shared *s = ac_run_fixture(t, "unit_shared");
    AC_ASSERT_NOT_NULL(s);
    AC_EXPECT_EQ(s->answer, 42);
    AC_EXPECT_TRUE(is_self_or_ancestor(s->pid)); /* the runner's process set it up */
    AC_EXPECT_EQ(setups, 1);                                   /* once, before this test */
    AC_EXPECT_TRUE(ac_run_fixture(t, "unit_shared") == s);     /* the same data each call */
}

AC_TEST(run_fixture, a_setup_reads_an_earlier_fixture) {
    AC_EXPECT_EQ(*(int *)ac_run_fixture(t, "unit_derived"), 43);
}

AC_TEST(run_fixture, no_setup_means_null_data) {
    AC_EXPECT_NULL(ac_run_fixture(t, "unit_null"));
}
