/* test_process.c — the descriptors a test's process starts with, however it was made (by its slot's fork
 * server or by the runner): stdout, stderr and the record channel (fd 3) are blocking, as a test writing
 * much output expects (the runner's ends of the same pipes are non-blocking), and stdin is /dev/null. */
#include <asyncheck.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

AC_TEST(test_process, stdout_stderr_and_channel_block) {
    for (int fd = 1; fd <= 3; fd++) {
        int flags = fcntl(fd, F_GETFL);
        AC_ASSERT_NE(flags, -1);
        AC_EXPECT_EQ(flags & O_NONBLOCK, 0);
    }
}

AC_TEST(test_process, stdin_is_dev_null) {
    struct stat in, null;
    AC_ASSERT_EQ(fstat(0, &in), 0);
    AC_ASSERT_EQ(stat("/dev/null", &null), 0);
    AC_EXPECT_EQ(in.st_rdev, null.st_rdev);
}
