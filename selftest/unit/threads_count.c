/* threads_count.c — ac__count_threads (src/util/system.c) against the truth read from /proc/self/task by
 * the test itself: 1 in a test process where no thread was started (counted without a /proc scan when
 * glibc says no pthread_create has run), the started thread counted while it runs, and 1 again once it
 * has been joined (a scan from then on). Breaking the shortcut (answering 1 regardless) fails the second
 * test. */
#include <asyncheck.h>
#include <dirent.h>
#include <pthread.h>
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

AC_TEST(threads_count, counts_a_started_thread_and_its_end) {
    int before = ac__count_threads();
    AC_ASSERT_EQ(before, proc_threads());
    AC_ASSERT_EQ(pipe(gate), 0);
    pthread_t th;
    AC_ASSERT_EQ(pthread_create(&th, NULL, wait_for_gate, NULL), 0);
    AC_EXPECT_EQ(ac__count_threads(), before + 1);
    AC_EXPECT_EQ(ac__count_threads(), proc_threads());
    AC_ASSERT_EQ(write(gate[1], "x", 1), 1);
    pthread_join(th, NULL);
    AC_EXPECT_EQ(ac__count_threads(), before);
    close(gate[0]);
    close(gate[1]);
}
