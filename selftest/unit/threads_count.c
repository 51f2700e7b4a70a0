/* threads_count.c — ac__count_threads (src/util/system.c) against the truth read from /proc/self/task by
 * the test itself: 1 in a test process where no thread was started (counted without a /proc scan when
 * glibc says no pthread_create has run), and the count still true (never the shortcut's 1) while a started
 * thread runs and once it has been joined (a scan from then on). Breaking the shortcut (answering 1
 * regardless) fails the second test. */
#include <asyncheck.h>
#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "util/util.h"

/* The entries of /proc/self/task, read the ordinary way. */
static int proc_threads(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

AC_TEST(threads_count, matches_proc_in_a_fresh_test_process) {
    AC_ASSERT_EQ(ac__count_threads(), proc_threads());
}

static int gate[2];

static void *wait_for_gate(void *arg) {
    (void)arg;
    char c;
    (void)!read(gate[0], &c, 1);
    return NULL;
}

/* ac__count_threads and /proc agree, given a moment for a thread that is ending (or a sanitizer's
 * runtime starting one of its own) between the two readings. */
static bool agree(void) {
    for (int i = 0; i < 200; i++) {
        if (ac__count_threads() == proc_threads())
            return true;
        usleep(1000);
    }
    return false;
}

AC_TEST(threads_count, counts_a_started_thread_and_its_end) {
    AC_ASSERT_TRUE(agree());
    AC_ASSERT_EQ(pipe(gate), 0);
    pthread_t th;
    AC_ASSERT_EQ(pthread_create(&th, NULL, wait_for_gate, NULL), 0);
    AC_EXPECT_GE(ac__count_threads(), 2); /* never the shortcut's 1 once a thread was started */
    AC_EXPECT_TRUE(agree());
    AC_ASSERT_EQ(write(gate[1], "x", 1), 1);
    pthread_join(th, NULL);
    AC_EXPECT_TRUE(agree());
    close(gate[0]);
    close(gate[1]);
}
