/* clock_reach.c — what the virtual clock does to each way of reading time and of waiting, one test per
 * claim of README.md's "Time" chapter ("What the virtual clock reaches"): every monotonic clock id and
 * every realtime one, CPU clocks and raw system calls left real, gettimeofday to the microsecond,
 * nanosleep / clock_nanosleep (relative, absolute, already past) taking virtual time at once on the test's
 * thread, sleeps moving the manual clock too, other threads' sleeps and poll / ppoll / select / pselect /
 * another epoll fd waiting for real, and ac_real_now reading the real clock throughout. (The basics —
 * CLOCK_MONOTONIC, CLOCK_REALTIME, time(), sleep, usleep — are in unit/clock.c.) */
#define _GNU_SOURCE
#include <asyncheck.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define START_MONO 1000LL
#define START_REAL 4102444800LL /* 2100-01-01T00:00:00Z */

static long long ns_of(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

AC_TEST(clock_reach, every_monotonic_clock_reads_virtual_monotonic_time, .clock = AC_CLOCK_VIRTUAL) {
    const clockid_t ids[] = {CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        AC_EXPECT_EQ(ns_of(ids[i]), START_MONO * 1000000000);
    sleep(7);
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        AC_EXPECT_EQ(ns_of(ids[i]), (START_MONO + 7) * 1000000000); /* one clock: no drift between them */
}

AC_TEST(clock_reach, every_realtime_clock_reads_virtual_realtime, .clock = AC_CLOCK_VIRTUAL) {
    const clockid_t ids[] = {CLOCK_REALTIME, CLOCK_REALTIME_COARSE, CLOCK_TAI};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        AC_EXPECT_EQ(ns_of(ids[i]), START_REAL * 1000000000);
    usleep(1234);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    AC_EXPECT_EQ(tv.tv_sec, START_REAL);
    AC_EXPECT_EQ(tv.tv_usec, 1234); /* to the microsecond */
    AC_EXPECT_EQ(ns_of(CLOCK_TAI), START_REAL * 1000000000 + 1234000);
}

AC_TEST(clock_reach, cpu_clocks_and_raw_system_calls_stay_real, .clock = AC_CLOCK_VIRTUAL) {
    sleep(5000); /* virtual time is now far from anything a real clock could read */
    AC_EXPECT_LT(ns_of(CLOCK_PROCESS_CPUTIME_ID), 100LL * 1000000000);
    AC_EXPECT_LT(ns_of(CLOCK_THREAD_CPUTIME_ID), 100LL * 1000000000);
    struct timespec ts;
    AC_ASSERT_EQ(syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts), 0); /* no PLT slot to rewrite */
    AC_EXPECT_LT(ts.tv_sec, START_REAL);
}

AC_TEST(clock_reach, nanosleep_takes_virtual_time_at_once, .clock = AC_CLOCK_VIRTUAL) {
    double real = ac_real_now();
    struct timespec rem = {99, 99};
    AC_EXPECT_EQ(nanosleep(&(struct timespec){10, 500}, &rem), 0);
    AC_EXPECT_EQ(rem.tv_sec, 0); /* never interrupted: nothing remains */
    AC_EXPECT_EQ(rem.tv_nsec, 0);
    AC_EXPECT_EQ(ns_of(CLOCK_MONOTONIC), START_MONO * 1000000000 + 10000000500LL);
    AC_EXPECT_LT(ac_real_now() - real, 0.5);
}

AC_TEST(clock_reach, clock_nanosleep_relative_absolute_and_past, .clock = AC_CLOCK_VIRTUAL) {
    double real = ac_real_now();
    long long mono = START_MONO * 1000000000;
    AC_EXPECT_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &(struct timespec){2, 0}, NULL), 0);
    mono += 2000000000;
    AC_EXPECT_EQ(ns_of(CLOCK_MONOTONIC), mono);
    struct timespec at = {START_MONO + 5, 250}; /* absolute: until then */
    AC_EXPECT_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL), 0);
    mono = (START_MONO + 5) * 1000000000 + 250;
    AC_EXPECT_EQ(ns_of(CLOCK_MONOTONIC), mono);
    at = (struct timespec){START_MONO + 1, 0}; /* already past: returns at once, time stays */
    AC_EXPECT_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL), 0);
    AC_EXPECT_EQ(ns_of(CLOCK_MONOTONIC), mono);
    at = (struct timespec){START_REAL + 60, 0}; /* absolute on the realtime clock */
    AC_EXPECT_EQ(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL), 0);
    AC_EXPECT_EQ(ns_of(CLOCK_REALTIME), (START_REAL + 60) * 1000000000);
    AC_EXPECT_EQ(ns_of(CLOCK_MONOTONIC), (START_MONO + 60) * 1000000000); /* the two move together */
    AC_EXPECT_LT(ac_real_now() - real, 0.5);
}

AC_TEST(clock_reach, sleeps_move_the_manual_clock_too, .clock = AC_CLOCK_MANUAL) {
    sleep(3);
    usleep(500000);
    AC_EXPECT_NEAR(ac_clock_elapsed(t), 3.5, 1e-9);
}

static void *nap_30ms(void *arg) {
    double *took = arg;
    double start = ac_real_now();
    nanosleep(&(struct timespec){0, 30000000}, NULL); /* another thread: real */
    *took = ac_real_now() - start;
    return NULL;
}

AC_TEST(clock_reach, other_threads_sleep_for_real, .clock = AC_CLOCK_VIRTUAL) {
    double took = 0;
    pthread_t th;
    AC_ASSERT_EQ(pthread_create(&th, NULL, nap_30ms, &took), 0);
    pthread_join(th, NULL);
    AC_EXPECT_GE(took, 0.029);
    AC_EXPECT_EQ(ac_clock_elapsed(t), 0.0); /* and virtual time did not move */
}

/* The wait took at least `ms` of real time and no virtual time. */
static void waited_for_real(ac_test *t, double real_start, double virtual_start, int ms) {
    AC_EXPECT_GE(ac_real_now() - real_start, ms / 1000.0 - 0.001);
    AC_EXPECT_EQ(ac_clock_elapsed(t), virtual_start);
}

AC_TEST(clock_reach, poll_and_select_timeouts_wait_for_real, .clock = AC_CLOCK_VIRTUAL) {
    double v = ac_clock_elapsed(t), r = ac_real_now();
    AC_EXPECT_EQ(poll(NULL, 0, 20), 0);
    waited_for_real(t, r, v, 20);
    r = ac_real_now();
    AC_EXPECT_EQ(ppoll(NULL, 0, &(struct timespec){0, 20000000}, NULL), 0);
    waited_for_real(t, r, v, 20);
    r = ac_real_now();
    AC_EXPECT_EQ(select(0, NULL, NULL, NULL, &(struct timeval){0, 20000}), 0);
    waited_for_real(t, r, v, 20);
    r = ac_real_now();
    AC_EXPECT_EQ(pselect(0, NULL, NULL, NULL, &(struct timespec){0, 20000000}, NULL), 0);
    waited_for_real(t, r, v, 20);
}

AC_TEST(clock_reach, an_epoll_fd_of_the_codes_own_waits_for_real, .clock = AC_CLOCK_VIRTUAL) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    AC_ASSERT_GE(ep, 0);
    double v = ac_clock_elapsed(t), r = ac_real_now();
    struct epoll_event ev;
    AC_EXPECT_EQ(epoll_wait(ep, &ev, 1, 20), 0); /* only the test loop's own epoll fd is virtual */
    waited_for_real(t, r, v, 20);
    close(ep);
}

AC_TEST(clock_reach, real_now_is_the_real_monotonic_clock) {
    double before = (double)ns_of(CLOCK_MONOTONIC) / 1e9; /* the real clock: this test runs on it */
    double now = ac_real_now();
    double after = (double)ns_of(CLOCK_MONOTONIC) / 1e9;
    AC_EXPECT_GE(now, before);
    AC_EXPECT_LE(now, after);
}

static void stop_loop(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)w, (void)revents;
    ev_break(loop, EVBREAK_ONE);
}

/* The raw system call: the kernel's real monotonic clock, which no slot rewrite reaches. */
static double raw_monotonic(void) {
    struct timespec ts;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

AC_TEST(clock_reach, real_now_ignores_virtual_jumps, .clock = AC_CLOCK_VIRTUAL) {
    static ev_timer hour;
    ev_timer_init(&hour, stop_loop, 3600., 0.);
    double r = ac_real_now();
    ev_timer_start(ac_loop(t), &hour);
    ev_run(ac_loop(t), 0);
    AC_EXPECT_GE(ac_clock_elapsed(t), 3600.0); /* an hour of virtual time ... */
    AC_EXPECT_LT(ac_real_now() - r, 0.5);      /* ... in no real time */
    double before = raw_monotonic(), now = ac_real_now(), after = raw_monotonic();
    AC_EXPECT_GE(now, before);
    AC_EXPECT_LE(now, after);
}
