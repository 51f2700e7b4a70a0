/* consumer_test.c — the cases selftest/ctest/check_discovery.sh expects ctest to see, one ctest test
 * each: passing, failing, skipped, timing out, with a long own timeout, and in a second suite. */
#include <asyncheck.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Appends a line to $CONSUMER_MARKS/<file> (set through the PROPERTIES of the discovery): counts runs. */
static void mark(const char *file) {
    const char *dir = getenv("CONSUMER_MARKS");
    if (!dir)
        return;
    mkdir(dir, 0777); /* may exist */
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "a");
    AC_ASSERT_NOT_NULL(f);
    fputs("run\n", f);
    fclose(f);
}

AC_TEST(consumer, passes) {
    printf("hello from consumer.passes\n");
    mark("passes");
}

AC_TEST(consumer, fails) {
    mark("fails");
    AC_ASSERT_EQ(1 + 1, 3);
}

AC_TEST(consumer, skipped, .skip = "not on this machine") {
    AC_FAIL("a skipped test must not run");
}

AC_TEST(consumer, hangs, .timeout = 0.5) {
    for (;;)
        pause();
}

AC_TEST(consumer, long_limit, .timeout = 120) {
    AC_ASSERT_TRUE(1);
}

/* Both variables come from one list-valued ENVIRONMENT property; skipped where none is given. */
AC_TEST(consumer, environment) {
    if (!getenv("CONSUMER_A"))
        AC_SKIP("no ENVIRONMENT property here");
    AC_ASSERT_STR_EQ(getenv("CONSUMER_A"), "1");
    AC_ASSERT_NOT_NULL(getenv("CONSUMER_MARKS"));
}

AC_TEST(other, passes) {
    AC_ASSERT_TRUE(1);
}
