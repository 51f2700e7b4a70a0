/* clock_layer.c — the virtual clock's replacements as a layer that stays in the slots once put there
 * (src/clock/clock.c, "the layer"): while no virtual clock runs every time and sleep function behaves as
 * without it, and an object loaded after it went in still reads virtual time in a virtual test. Calls
 * the clock's internal interface directly, from real-clock tests. */
#define _GNU_SOURCE
#include <asyncheck.h>
#include <dlfcn.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "clock/clock.h"
#include "patch/patch.h"

#define START_REAL 4102444800LL /* the virtual clock's realtime start: 2100-01-01T00:00:00Z */

static double kernel_clock(clockid_t id) {
    struct timespec ts;
    syscall(SYS_clock_gettime, id, &ts); /* no slot: never the layer's */
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct elsewhere {
    void *real;
    int n;
} elsewhere;

static void count_elsewhere(const ac__got_slot *slot, void *ctx) {
    elsewhere *e = ctx;
    if (slot->value != e->real)
        e->n++;
}

AC_TEST(clock_layer, passes_every_call_on_while_no_virtual_clock_runs) {
    ac__clock_install();
    elsewhere e = {ac__real("time"), 0};
    ac__got_find("time", count_elsewhere, &e);
    AC_ASSERT_GT(e.n, 0); /* the layer is in: this test's own call to time() goes through it */

    double real = kernel_clock(CLOCK_REALTIME);
    AC_EXPECT_LT((double)time(NULL) - real, 2.0);
    AC_EXPECT_GT((double)time(NULL) - real, -2.0);
    struct timeval tv;
    AC_ASSERT_EQ(gettimeofday(&tv, NULL), 0);
    AC_EXPECT_LT((double)tv.tv_sec - real, 2.0);
    AC_EXPECT_GT((double)tv.tv_sec - real, -2.0);
    struct timespec ts;
    AC_ASSERT_EQ(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    double mono = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    AC_EXPECT_LT(mono - kernel_clock(CLOCK_MONOTONIC), 0.5);
    AC_EXPECT_GT(mono - kernel_clock(CLOCK_MONOTONIC), -0.5);

    double t0 = ac_real_now(); /* every sleep and wait takes real time */
    AC_ASSERT_EQ(usleep(20000), 0);
    AC_EXPECT_GE(ac_real_now() - t0, 0.019);
    t0 = ac_real_now();
    struct timespec nap = {0, 20000000};
    AC_ASSERT_EQ(nanosleep(&nap, NULL), 0);
    AC_EXPECT_GE(ac_real_now() - t0, 0.019);
    t0 = ac_real_now();
    AC_ASSERT_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &nap, NULL), 0);
    AC_EXPECT_GE(ac_real_now() - t0, 0.019);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    AC_ASSERT_GE(ep, 0);
    struct epoll_event ev;
    t0 = ac_real_now();
    AC_EXPECT_EQ(epoll_wait(ep, &ev, 1, 20), 0);
    AC_EXPECT_GE(ac_real_now() - t0, 0.019);
    close(ep);
}

AC_TEST(clock_layer, an_object_loaded_after_it_reads_virtual_time_in_a_virtual_test) {
    ac__clock_install();
    void *lib = dlopen(CLOCK_LIB, RTLD_NOW | RTLD_LOCAL);
    AC_ASSERT_NOT_NULL(lib);
    long (*lib_time)(void) = (long (*)(void))dlsym(lib, "cl_time");
    AC_ASSERT_NOT_NULL(lib_time);
    AC_EXPECT_LT(lib_time(), START_REAL);
    ac__clock_begin(t, AC_CLOCK_VIRTUAL); /* as a virtual test's start would, after the dlopen */
    long seen = lib_time();
    long mine = (long)time(NULL);
    ac__clock_end(true);
    AC_EXPECT_EQ(seen, START_REAL);
    AC_EXPECT_EQ(mine, START_REAL);
    AC_EXPECT_LT(lib_time(), START_REAL); /* and real again once it ended */
    AC_EXPECT_LT((long)time(NULL), START_REAL);
    dlclose(lib);
}

static pid_t fake_getpid(void) {
    return 4242;
}

/* Each of the layer's replacements is known as its symbol's current one (a fault injected into the
 * function calls through to it), and so is a test's own replacement made after the layer went in. */
AC_TEST(clock_layer, its_replacements_and_later_ones_are_the_current_ones) {
    ac__clock_install();
    static const char *const names[] = {"clock_gettime", "gettimeofday",    "time",   "epoll_wait",
                                        "nanosleep",     "clock_nanosleep", "usleep", "sleep"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!ac__patch_current(names[i]))
            AC_FAIL_LATER("the layer's %s is not the current replacement", names[i]);
    AC_REPLACE(t, getpid, fake_getpid);
    AC_EXPECT_TRUE(ac__patch_current("getpid") == (void *)fake_getpid);
}

/* With the layer in, an epoll instance the test's own code makes is the test's, to close as it likes:
 * the loop's hooks see the test's code as its maker (the clock replaces no epoll_create*, so no frame
 * of its own stands between them, whatever the build's optimisation). */
AC_TEST(clock_layer, an_epoll_fd_the_test_makes_is_its_own) {
    ac__clock_install();
    (void)ac_loop(t); /* its fds are tracked from here */
    int ep = epoll_create1(EPOLL_CLOEXEC);
    AC_ASSERT_GE(ep, 0);
    AC_EXPECT_EQ(close(ep), 0);
}
