/* clock.c — virtual time doing what it promises: an hour of timers in no time, firing order and ev_now
 * values, periodics on virtual realtime, the libc clocks and sleeps following the virtual clock, the
 * manual clock moving only by ac_clock_advance (deadline order, draining in between), run-until-idle not
 * moving time, autojump held off by real work from another thread, other threads reading virtual time,
 * and the pending/within helpers.
 * (Failures — deadlines, deadlocks, early completions — are in meta/meta_clock.c.) */
#include <asyncheck.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h" /* ac__monotonic: the real clock, whatever the test's clock */

#define START_REAL 4102444800.0 /* 2100-01-01T00:00:00Z */

typedef struct log {
    int n;
    double at[16];
    int order[16];
} log_t;

static log_t lg;

static void record(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)revents;
    if (lg.n < 16) {
        lg.at[lg.n] = ev_now(loop);
        lg.order[lg.n] = (int)(intptr_t)w->data;
    }
    lg.n++;
}

AC_TEST(clock, an_hour_of_timers_in_no_time, .clock = AC_CLOCK_VIRTUAL) {
    static ev_timer hour, half, second;
    lg = (log_t){0};
    ev_timer_init(&hour, record, 3600., 0.);
    ev_timer_init(&half, record, 1800., 0.);
    ev_timer_init(&second, record, 1., 0.);
    hour.data = (void *)3, half.data = (void *)2, second.data = (void *)1;
    ev_timer_start(ac_loop(t), &hour);
    ev_timer_start(ac_loop(t), &half);
    ev_timer_start(ac_loop(t), &second);
    double real_start = ac__monotonic();
    AC_AWAIT(t, lg.n == 3, 7200);
    AC_EXPECT_LT(ac__monotonic() - real_start, 0.05); /* an hour of virtual time */
    AC_EXPECT_EQ(lg.order[0], 1);
    AC_EXPECT_EQ(lg.order[1], 2);
    AC_EXPECT_EQ(lg.order[2], 3);
    /* each timer fires 1 us past its deadline (libev fires only strictly after it) */
    AC_EXPECT_NEAR(lg.at[0] - START_REAL, 1.0, 2e-6);
    AC_EXPECT_NEAR(lg.at[1] - START_REAL, 1800.0, 1e-4);
    AC_EXPECT_NEAR(lg.at[2] - START_REAL, 3600.0, 1e-4);
    AC_EXPECT_NEAR(ac_clock_elapsed(t), 3600.0, 1e-3);
    AC_EXPECT_EQ(ac_clock_kind(t), AC_CLOCK_VIRTUAL);
}

AC_TEST(clock, libc_clocks_follow_the_virtual_clock, .clock = AC_CLOCK_VIRTUAL) {
    struct timespec mono, real;
    struct timeval tv;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_REALTIME, &real);
    gettimeofday(&tv, NULL);
    AC_EXPECT_EQ(mono.tv_sec, 1000); /* every virtual test starts at the same instant */
    AC_EXPECT_EQ(real.tv_sec, 4102444800);
    AC_EXPECT_EQ(tv.tv_sec, 4102444800);
    AC_EXPECT_EQ(time(NULL), 4102444800);
    AC_EXPECT_EQ(ev_time(), START_REAL);
    sleep(100);
    usleep(250000);
    nanosleep(&(struct timespec){0, 250000000}, NULL);
    AC_EXPECT_NEAR(ac_clock_elapsed(t), 100.5, 1e-9); /* sleeping took no real time */
    AC_EXPECT_EQ(time(NULL), 4102444900);
}

AC_TEST(clock, the_real_clock_is_real) {
    AC_EXPECT_EQ(ac_clock_kind(t), AC_CLOCK_REAL);
    AC_EXPECT_GT(time(NULL), 1700000000);
    AC_EXPECT_LT(time(NULL), 4102444800);
}

static void per(struct ev_loop *loop, ev_periodic *w, int revents) {
    (void)w, (void)revents;
    if (lg.n < 16)
        lg.at[lg.n] = ev_now(loop);
    lg.n++;
}

AC_TEST(clock, periodics_follow_virtual_realtime, .clock = AC_CLOCK_VIRTUAL) {
    static ev_periodic minutely;
    lg = (log_t){0};
    ev_periodic_init(&minutely, per, 0., 60., NULL);
    ev_periodic_start(ac_loop(t), &minutely);
    AC_AWAIT(t, lg.n == 3, 600);
    ev_periodic_stop(ac_loop(t), &minutely);
    AC_EXPECT_NEAR(lg.at[0] - START_REAL, 60.0, 1e-4);
    AC_EXPECT_NEAR(lg.at[1] - START_REAL, 120.0, 1e-4);
    AC_EXPECT_NEAR(lg.at[2] - START_REAL, 180.0, 1e-4);
}

static ev_timer chained;
static void start_chained(struct ev_loop *loop, ev_timer *w, int revents) {
    record(loop, w, revents);
    ev_timer_init(&chained, record, 0.5, 0.); /* due inside the same advance */
    chained.data = (void *)9;
    ev_timer_start(loop, &chained);
}

AC_TEST(clock, manual_time_moves_only_when_advanced, .clock = AC_CLOCK_MANUAL) {
    static ev_timer two, one;
    lg = (log_t){0};
    ev_timer_init(&two, record, 2., 0.);
    ev_timer_init(&one, start_chained, 1., 0.);
    two.data = (void *)2, one.data = (void *)1;
    ev_timer_start(ac_loop(t), &two);
    ev_timer_start(ac_loop(t), &one);
    ev_run(ac_loop(t), EVRUN_NOWAIT);
    AC_EXPECT_EQ(lg.n, 0);
    ac_clock_advance(t, 0.999);
    AC_EXPECT_EQ(lg.n, 0);
    ac_clock_advance(t, 0.001); /* exactly at 1.0: due now */
    AC_EXPECT_EQ(lg.n, 1);
    ac_clock_advance(t, 5);
    AC_ASSERT_EQ(lg.n, 3);
    AC_EXPECT_EQ(lg.order[1], 9); /* the chained timer, due at 1.5, before the one due at 2.0 */
    AC_EXPECT_EQ(lg.order[2], 2);
    AC_EXPECT_NEAR(ac_clock_elapsed(t), 6.0, 1e-5);
}

static int idles;
static void count_idle(struct ev_loop *loop, ev_idle *w, int revents) {
    (void)revents;
    if (++idles == 3)
        ev_idle_stop(loop, w);
}

AC_TEST(clock, run_until_idle_drains_without_moving_time, .clock = AC_CLOCK_VIRTUAL) {
    static ev_timer later;
    static ev_idle idle;
    lg = (log_t){0};
    idles = 0;
    ev_timer_init(&later, record, 10., 0.);
    ev_timer_start(ac_loop(t), &later);
    ev_idle_init(&idle, count_idle);
    ev_idle_start(ac_loop(t), &idle);
    double before = ac_clock_elapsed(t);
    ac_run_until_idle(t);
    AC_EXPECT_EQ(idles, 3);                    /* ready work ran */
    AC_EXPECT_EQ(lg.n, 0);                     /* the timer did not */
    AC_EXPECT_EQ(ac_clock_elapsed(t), before); /* time did not move */
    ac_clock_advance(t, 10);
    AC_EXPECT_EQ(lg.n, 1);
}

static void *write_later(void *arg) {
    usleep(30000); /* real: this thread is not the test's loop */
    (void)!write(*(int *)arg, "x", 1);
    return NULL;
}

static void readable(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    char c;
    (void)!read(w->fd, &c, 1);
    ev_io_stop(loop, w);
    lg.n++;
}

AC_TEST(clock, autojump_waits_for_real_work_in_flight, .clock = AC_CLOCK_VIRTUAL) {
    int fds[2];
    AC_ASSERT_EQ(pipe(fds), 0);
    lg = (log_t){0};
    static ev_io io;
    ev_io_init(&io, readable, fds[0], EV_READ);
    ev_io_start(ac_loop(t), &io);
    ac_clock_set_autojump_threshold(t, 0.5); /* real work may take this long to show */
    pthread_t th;
    pthread_create(&th, NULL, write_later, &fds[1]);
    AC_AWAIT(t, lg.n == 1, 10);
    pthread_join(th, NULL);
    AC_EXPECT_LT(ac_clock_elapsed(t), 0.001); /* the data came in before time jumped */
    close(fds[0]);
    close(fds[1]);
}

typedef struct reading {
    atomic_bool stop;
    long long first, last, reads; /* CLOCK_REALTIME, ns: the reader's own until joined */
    bool backwards;
} reading;

static void *read_time(void *arg) {
    reading *rd = arg;
    while (!atomic_load(&rd->stop)) {
        struct timespec ts;
        struct timeval tv;
        clock_gettime(CLOCK_REALTIME, &ts);
        gettimeofday(&tv, NULL);
        (void)time(NULL);
        long long now = (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
        rd->backwards |= rd->reads && now < rd->last;
        if (!rd->reads++)
            rd->first = now;
        rd->last = now;
        usleep(100); /* real: only the test's thread sleeps in virtual time */
    }
    return NULL;
}

/* Other threads read virtual time while the test's thread moves it: whole values that never go back (a
 * ThreadSanitizer build, docs/TSAN.md, checks the clock is shared safely). */
AC_TEST(clock, other_threads_read_virtual_time_while_it_jumps, .clock = AC_CLOCK_VIRTUAL) {
    static ev_timer tick;
    static reading rd;
    rd = (reading){0};
    lg = (log_t){0};
    ev_timer_init(&tick, record, 1., 1.);
    ev_timer_start(ac_loop(t), &tick);
    pthread_t th;
    pthread_create(&th, NULL, read_time, &rd);
    AC_AWAIT(t, lg.n >= 20, 100);
    ev_timer_stop(ac_loop(t), &tick);
    atomic_store(&rd.stop, true);
    pthread_join(th, NULL);
    AC_EXPECT_GT(rd.reads, 0);
    AC_EXPECT_FALSE(rd.backwards);
    AC_EXPECT_GE(rd.first, (long long)START_REAL * 1000000000); /* virtual: the year 2100 */
    AC_EXPECT_LE(rd.last, (long long)(START_REAL + 30) * 1000000000);
}

AC_TEST(clock, stays_pending_then_completes_within, .clock = AC_CLOCK_VIRTUAL) {
    static ev_timer done;
    lg = (log_t){0};
    ev_timer_init(&done, record, 5., 0.);
    ev_timer_start(ac_loop(t), &done);
    AC_STAYS_PENDING(t, lg.n == 1, 4.9);
    AC_COMPLETES_WITHIN(t, lg.n == 1, 0.2);
    AC_EXPECT_NEAR(ac_clock_elapsed(t), 5.0, 1e-4);
}

AC_TEST(clock, stays_pending_under_the_real_clock) {
    static ev_timer done;
    lg = (log_t){0};
    ev_timer_init(&done, record, 0.05, 0.);
    ev_timer_start(ac_loop(t), &done);
    AC_STAYS_PENDING(t, lg.n == 1, 0.02);
    AC_AWAIT(t, lg.n == 1, 1.0);
}

AC_SUITE(clock_suite, .clock = AC_CLOCK_MANUAL);
AC_TEST(clock_suite, a_suite_chooses_the_clock) {
    AC_EXPECT_EQ(ac_clock_kind(t), AC_CLOCK_MANUAL);
}
AC_TEST(clock_suite, a_test_overrides_its_suite, .clock = AC_CLOCK_REAL) {
    AC_EXPECT_EQ(ac_clock_kind(t), AC_CLOCK_REAL);
}

static void nothing(struct ev_loop *loop, ev_check *w, int revents) {
    (void)loop, (void)w, (void)revents;
}

AC_TEST(clock, run_until_idle_ignores_check_watchers) {
    static ev_check check; /* runs every iteration by design: it is not ready work */
    ev_check_init(&check, nothing);
    ev_check_start(ac_loop(t), &check);
    unsigned before = ev_iteration(ac_loop(t));
    ac_run_until_idle(t);
    /* returned after an iteration, not after its bound (100,000) */
    AC_EXPECT_LE(ev_iteration(ac_loop(t)) - before, 2u);
    ev_check_stop(ac_loop(t), &check);
}
