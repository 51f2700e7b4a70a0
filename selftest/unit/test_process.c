/* test_process.c — the descriptors a test's process starts with, however it was made (by its slot's fork
 * server or by the runner): stdout, stderr and the record channel (fd 3) are blocking, as a test writing
 * much output expects (the runner's ends of the same pipes are non-blocking), and nothing else is open but
 * the test's own loop (no pipe end, no server socket). In the suite `isolation` (runtime.c): about a
 * process of the test's own, so not run under --no-fork. */
#include <asyncheck.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

AC_TEST(isolation, stdout_stderr_and_channel_block) {
    for (int fd = 1; fd <= 3; fd++) {
        int flags = fcntl(fd, F_GETFL);
        AC_ASSERT_NE(flags, -1);
        AC_EXPECT_EQ(flags & O_NONBLOCK, 0);
    }
}

AC_TEST(isolation, nothing_open_above_3_but_the_loops) {
    DIR *d = opendir("/proc/self/fd");
    AC_ASSERT_NOT_NULL(d);
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd <= 3 || fd == self)
            continue;
        char path[64], target[256];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        /* the test's loop: its epoll instance and the eventfd of its ev_async */
        char seen[300];
        snprintf(seen, sizeof seen, "fd %d: %s", fd, target);
        AC_EXPECT_STR_CONTAINS(seen, ": anon_inode:");
    }
    closedir(d);
}
