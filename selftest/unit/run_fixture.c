/* run_fixture.c — run fixtures (AC_RUN_FIXTURE) holding from inside the unit suite: the data a setup
 * returned reaches every test, the same each call, set up in the runner's process (forked and --no-fork);
 * a setup reads a fixture registered before it. The failing cases are meta/meta_run_fixture.c's. */
#include <asyncheck.h>

#include "../fixtures/ancestry.h"

#include <stdio.h>
#include <unistd.h>

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
    AC_EXPECT_TRUE(s->pid == ancestry_runner());           /* the runner's process set it up */
    AC_EXPECT_EQ(setups, 1);                               /* once, before this test */
    AC_EXPECT_TRUE(ac_run_fixture(t, "unit_shared") == s); /* the same data each call */
}

AC_TEST(run_fixture, a_setup_reads_an_earlier_fixture) {
    AC_EXPECT_EQ(*(int *)ac_run_fixture(t, "unit_derived"), 43);
}

AC_TEST(run_fixture, no_setup_means_null_data) {
    AC_EXPECT_NULL(ac_run_fixture(t, "unit_null"));
}
