/* worker_test.c — the worker pool (work_pool.h) tested with asyncheck.
 *
 * It demonstrates how to test code that hands work to threads and returns through ev_async: the jobs
 * run on real worker threads, and the test checks what comes back on its own loop — on which thread
 * (pthread_equal inside the callback), how many times, with which result — with AC_AWAIT, which runs the
 * loop until the results are in. Where a test needs a job to stay queued, the workers are held at a
 * gate (a condition variable the test opens), so what is queued and what is running is decided by the
 * test rather than by the scheduler; where it needs results to pile up between two loop iterations, it
 * waits for them on its own thread without running the loop. A mocked job function shows that a mock
 * called from worker threads is recorded like any other; plain ev_run calls show that the pool keeps
 * the loop alive exactly while work is in flight; and one test runs under the virtual clock, where a job
 * sleeping for real on its worker is delivered before the loop's 10 s timer makes time jump.
 *
 * The fixture: setup starts a pool of WORKERS threads on the test's loop; teardown opens the gate (a
 * failed test may have left workers waiting there) and stops the pool, which joins its threads and
 * stops its ev_async watcher, so that nothing is left on the loop when the test ends. The pool's watcher
 * is started by setup, so it is the fixture's; while the pool is idle it does not even count. */
#include <asyncheck.h>

#include <errno.h>
#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "work_pool.h"

#define WORKERS 4
#define MANY 1000

/* ---- the fixture ---- */

typedef struct fixture fixture;

/* A job the test submitted, and what became of it. Job i computes i * i + 1. */
typedef struct job_rec {
    fixture *f;
    long in;
    work_id id;
    atomic_int runs;  /* times the job function ran, on a worker */
    pthread_t ran_on; /* the thread it ran on (written on the worker, read after delivery) */
    int done;         /* times done_cb was called, on the loop */
    long result;
    bool cancelled;
    double done_at; /* ac_clock_elapsed at delivery */
} job_rec;

/* Holds jobs on their workers until the test opens it. */
typedef struct gate {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool open;
    int waiting; /* jobs held at the gate now */
} gate;

struct fixture {
    work_pool *pool;
    pthread_t loop_thread; /* the test's thread, which runs its loop */
    gate gate;
    job_rec jobs[MANY];
    size_t delivered; /* done_cb calls, all jobs together */
    size_t off_loop;  /* done_cb calls on some other thread than the loop's */
    ev_timer guard;   /* run_like_a_program: ends an ev_run that the pool keeps going too long */
    bool guard_fired;
    ev_timer ten_seconds;      /* the virtual-clock test's timer */
    double fired_at;           /* ac_clock_elapsed when it fired; -1: not yet */
    pthread_t mock_threads[3]; /* the threads the mocked job's calls ran on, by call index */
};

static void gate_init(gate *g) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&g->changed, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&g->lock, NULL);
}

static void gate_open(gate *g) {
    pthread_mutex_lock(&g->lock);
    g->open = true;
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
}

/* On a worker: waits at the gate until the test opens it. */
static void gate_pass(gate *g) {
    pthread_mutex_lock(&g->lock);
    g->waiting++;
    pthread_cond_broadcast(&g->changed);
    while (!g->open)
        pthread_cond_wait(&g->changed, &g->lock);
    g->waiting--;
    pthread_mutex_unlock(&g->lock);
}

/* On the test's thread, without running the loop: waits until n jobs are held at the gate; false if that
 * takes more than `seconds`. */
static bool gate_holds(gate *g, int n, double seconds) {
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)seconds;
    pthread_mutex_lock(&g->lock);
    int err = 0;
    while (g->waiting < n && err != ETIMEDOUT)
        err = pthread_cond_timedwait(&g->changed, &g->lock, &deadline);
    bool held = g->waiting >= n;
    pthread_mutex_unlock(&g->lock);
    return held;
}

static void guard_fired(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)revents;
    fixture *f = w->data;
    f->guard_fired = true;
    ev_ref(loop); /* balances the ev_unref in run_like_a_program: libev has stopped this one-shot timer */
    ev_break(loop, EVBREAK_ALL);
}

static void ten_seconds_fired(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    fixture *f = w->data;
    f->fired_at = ac_clock_elapsed(ac_current());
}

static void setup(ac_test *t) {
    fixture *f = calloc(1, sizeof *f);
    AC_ASSERT_NOT_NULL(f);
    gate_init(&f->gate);
    f->loop_thread = pthread_self();
    f->fired_at = -1;
    ev_timer_init(&f->guard, guard_fired, 0., 0.); /* set up by their tests; stoppable before that */
    f->guard.data = f;
    ev_timer_init(&f->ten_seconds, ten_seconds_fired, 10., 0.);
    f->ten_seconds.data = f;
    ac_set_data(t, f);

    f->pool = work_pool_new(ac_loop(t), WORKERS);
    AC_ASSERT_NOT_NULL(f->pool);
}

static void teardown(ac_test *t) {
    fixture *f = ac_data(t);
    if (!f)
        return;
    gate_open(&f->gate);              /* workers a failed test left at the gate must be able to finish */
    work_pool_stop(f->pool);          /* joins the workers, delivers what is outstanding, stops its watcher */
    for (size_t i = 0; i < MANY; i++) /* whatever the test did: no job was delivered twice */
        AC_EXPECT_LE(f->jobs[i].done, 1);
    if (ev_is_active(&f->guard)) {
        ev_ref(ac_loop(t)); /* it is active only while unreferenced */
        ev_timer_stop(ac_loop(t), &f->guard);
    }
    ev_timer_stop(ac_loop(t), &f->ten_seconds);
    pthread_cond_destroy(&f->gate.changed);
    pthread_mutex_destroy(&f->gate.lock);
    free(f);
}

AC_SUITE(worker, .setup = setup, .teardown = teardown, .timeout = 20);

/* ---- jobs, and their completion ---- */

static long expected(size_t i) {
    return (long)(i * i + 1);
}

/* The job function: counts its runs and notes its thread. */
static long compute(void *arg) {
    job_rec *j = arg;
    atomic_fetch_add(&j->runs, 1);
    j->ran_on = pthread_self();
    return j->in * j->in + 1;
}

/* The same, once the test has opened the gate. */
static long compute_after_gate(void *arg) {
    job_rec *j = arg;
    gate_pass(&j->f->gate);
    return compute(arg);
}

/* The same, after sleeping for 50 ms of real time (other threads sleep for real under the virtual
 * clock too: that is real work in flight). */
static long compute_slowly(void *arg) {
    nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    return compute(arg);
}

/* Every job's done_cb. Failures here are AC_EXPECT: a fatal one would jump out of the pool's callback. */
static void record_done(long result, bool cancelled, void *ud) {
    job_rec *j = ud;
    fixture *f = j->f;
    bool on_loop = pthread_equal(pthread_self(), f->loop_thread);
    AC_EXPECT_TRUE(on_loop);
    f->off_loop += !on_loop;
    j->done++;
    j->result = result;
    j->cancelled = cancelled;
    j->done_at = ac_clock_elapsed(ac_current());
    f->delivered++;
}

/* Submits job i, which computes i * i + 1 with `fn`. */
static job_rec *submit(fixture *f, size_t i, work_fn fn) {
    job_rec *j = &f->jobs[i];
    j->f = f;
    j->in = (long)i;
    j->id = work_pool_submit(f->pool, fn, j, record_done, j);
    AC_ASSERT_NE(j->id, 0);
    return j;
}

/* Checks jobs [from, to) after they have all been delivered: each exactly once, with its own result and
 * run exactly once — or, if `cancelled(i)`, delivered once as cancelled and never run. */
static void check_jobs(fixture *f, size_t from, size_t to, bool (*cancelled)(size_t i)) {
    size_t wrong = 0, first = to;
    for (size_t i = from; i < to; i++) {
        const job_rec *j = &f->jobs[i];
        bool c = cancelled && cancelled(i);
        bool ok = j->done == 1 && j->cancelled == c && atomic_load(&j->runs) == (c ? 0 : 1) &&
                  j->result == (c ? 0 : expected(i));
        if (!ok && wrong++ == 0)
            first = i;
    }
    if (wrong) {
        const job_rec *j = &f->jobs[first];
        AC_FAIL("%zu of jobs %zu..%zu went wrong; the first, job %zu: ran %d times, delivered %d times "
                "(cancelled %d), result %ld; expected %s",
                wrong, from, to - 1, first, atomic_load(&j->runs), j->done, j->cancelled, j->result,
                cancelled && cancelled(first) ? "delivered once, cancelled, never run"
                                              : "run once, delivered once with i * i + 1");
    }
    AC_ASSERT_EQ(f->off_loop, 0);
}

/* On the test's thread, without running the loop: waits until n results wait for the loop; false if
 * that takes more than `seconds`. */
static bool results_wait(work_pool *pool, size_t n, double seconds) {
    for (int ms = 0; ms < seconds * 1000; ms++) {
        if (work_pool_ready(pool) >= n)
            return true;
        nanosleep(&(struct timespec){0, 1000 * 1000}, NULL);
    }
    return work_pool_ready(pool) >= n;
}

/* The referenced active watchers on the loop, as ev_run reports them after one non-blocking iteration
 * (asyncheck's own watchers do not count: they are unreferenced). */
static int active_watchers(ac_test *t) {
    return ev_run(ac_loop(t), EVRUN_NOWAIT);
}

/* Runs the loop as a program would, ev_run(loop, 0), which returns when no watcher keeps the loop alive
 * — but for `limit` seconds at most: an unreferenced timer ends a run the pool keeps going too long.
 * Returns true if ev_run returned by itself. */
static bool run_like_a_program(ac_test *t, double limit) {
    fixture *f = ac_data(t);
    struct ev_loop *loop = ac_loop(t);
    f->guard_fired = false;
    ev_now_update(loop);
    ev_timer_set(&f->guard, limit, 0.);
    ev_timer_start(loop, &f->guard);
    ev_unref(loop); /* the guard itself must not keep the loop alive */
    ev_run(loop, 0);
    if (ev_is_active(&f->guard)) {
        ev_ref(loop);
        ev_timer_stop(loop, &f->guard);
    }
    return !f->guard_fired;
}

/* ---- results come back on the loop ---- */

AC_TEST(worker, delivers_the_result_on_the_loop_thread) {
    fixture *f = ac_data(t);
    job_rec *j = submit(f, 7, compute);
    AC_ASSERT_EQ(j->done, 0); /* never from inside submit */
    AC_ASSERT_EQ(work_pool_outstanding(f->pool), 1);

    AC_AWAIT(t, j->done == 1, 2.0);
    AC_ASSERT_EQ(j->result, 50);
    AC_ASSERT_FALSE(j->cancelled);
    AC_ASSERT_EQ(atomic_load(&j->runs), 1);
    AC_ASSERT_FALSE(pthread_equal(j->ran_on, f->loop_thread)); /* the job ran on a worker */
    AC_ASSERT_EQ(f->off_loop, 0); /* and record_done, on the loop's thread (it checks as it is called) */
    AC_ASSERT_EQ(work_pool_outstanding(f->pool), 0);
}

AC_TEST(worker, runs_a_thousand_jobs_on_four_threads_each_exactly_once) {
    fixture *f = ac_data(t);
    for (size_t i = 0; i < MANY; i++)
        submit(f, i, compute);
    AC_ASSERT_EQ(work_pool_outstanding(f->pool), MANY);

    AC_AWAIT(t, f->delivered == MANY, 10.0);        /* in whatever order the workers finish them */
    AC_STAYS_PENDING(t, f->delivered > MANY, 0.05); /* and nothing is delivered twice */
    check_jobs(f, 0, MANY, NULL);
    for (size_t i = 1; i < MANY; i++)
        AC_ASSERT_NE(f->jobs[i].id, f->jobs[i - 1].id);
    AC_ASSERT_EQ(work_pool_outstanding(f->pool), 0);
    AC_ASSERT_EQ(work_pool_ready(f->pool), 0);
}

AC_TEST(worker, delivers_every_result_of_one_coalesced_wakeup) {
    fixture *f = ac_data(t);
    for (size_t i = 0; i < 8; i++)
        submit(f, i, compute);
    /* The loop does not run while the eight jobs finish, so their eight ev_async_send calls fold into
     * one pending event. */
    AC_ASSERT_TRUE(results_wait(f->pool, 8, 2.0));
    AC_ASSERT_EQ(f->delivered, 0); /* nothing is delivered while the loop does not run */
    AC_ASSERT_EQ(work_pool_outstanding(f->pool), 8);

    ev_run(ac_loop(t), EVRUN_ONCE); /* one iteration: one callback of the pool's watcher */
    AC_ASSERT_EQ(f->delivered, 8);  /* it drained the whole completed queue */
    check_jobs(f, 0, 8, NULL);
    AC_ASSERT_EQ(work_pool_ready(f->pool), 0);
}

/* ---- cancelling ---- */

static bool fifth_or_seventh(size_t i) {
    return i == WORKERS + 1 || i == WORKERS + 3;
}

AC_TEST(worker, cancels_queued_jobs_which_then_never_run) {
    fixture *f = ac_data(t);
    /* The first WORKERS jobs occupy every worker, held at the gate; the next five stay queued. */
    for (size_t i = 0; i < WORKERS; i++)
        submit(f, i, compute_after_gate);
    AC_ASSERT_TRUE(gate_holds(&f->gate, WORKERS, 2.0));
    for (size_t i = WORKERS; i < WORKERS + 5; i++)
        submit(f, i, compute);
    AC_ASSERT_EQ(work_pool_queued(f->pool), 5);

    job_rec *a = &f->jobs[WORKERS + 1], *b = &f->jobs[WORKERS + 3];
    AC_ASSERT_TRUE(work_pool_cancel(f->pool, a->id));
    AC_ASSERT_TRUE(work_pool_cancel(f->pool, b->id));
    AC_ASSERT_FALSE(work_pool_cancel(f->pool, a->id));         /* only once */
    AC_ASSERT_FALSE(work_pool_cancel(f->pool, f->jobs[0].id)); /* running: cannot be cancelled */
    AC_ASSERT_FALSE(work_pool_cancel(f->pool, 0));
    AC_ASSERT_EQ(work_pool_queued(f->pool), 3);
    AC_ASSERT_EQ(a->done, 0); /* not from inside work_pool_cancel */

    /* The cancellations come back through the loop while every worker is still held. */
    AC_AWAIT(t, a->done == 1 && b->done == 1, 2.0);
    AC_ASSERT_TRUE(a->cancelled);
    AC_ASSERT_TRUE(b->cancelled);
    AC_ASSERT_EQ(f->delivered, 2);

    gate_open(&f->gate);
    AC_AWAIT(t, f->delivered == WORKERS + 5, 2.0);
    AC_STAYS_PENDING(t, f->delivered > WORKERS + 5, 0.05);
    check_jobs(f, 0, WORKERS + 5, fifth_or_seventh);
    AC_ASSERT_EQ(work_pool_outstanding(f->pool), 0);
}

/* ---- stopping ---- */

/* work_pool_stop blocks until the running jobs return, so the gate must open while it runs: this thread
 * opens it once the pool has no queued job left, which happens only when stop cancels them (it gives up
 * after 5 s, so that a broken stop fails the test rather than hanging it). */
static void *open_gate_once_stopping(void *arg) {
    fixture *f = arg;
    for (int i = 0; i < 5000 && work_pool_queued(f->pool) > 0; i++)
        nanosleep(&(struct timespec){0, 1000 * 1000}, NULL);
    gate_open(&f->gate);
    return NULL;
}

static bool queued_at_stop(size_t i) {
    return i >= WORKERS;
}

AC_TEST(worker, stop_delivers_running_jobs_and_cancels_queued_ones) {
    fixture *f = ac_data(t);
    for (size_t i = 0; i < WORKERS; i++)
        submit(f, i, compute_after_gate);
    AC_ASSERT_TRUE(gate_holds(&f->gate, WORKERS, 2.0));
    for (size_t i = WORKERS; i < WORKERS + 3; i++)
        submit(f, i, compute);
    AC_ASSERT_EQ(work_pool_queued(f->pool), 3);
    AC_ASSERT_EQ(active_watchers(t), 1); /* the pool's watcher, while work is outstanding */
    AC_ASSERT_EQ(f->delivered, 0);

    pthread_t opener;
    AC_ASSERT_EQ(pthread_create(&opener, NULL, open_gate_once_stopping, f), 0);
    work_pool *pool = f->pool;
    work_pool_stop(pool); /* the opener reads f->pool until the workers can finish: clear it after */
    f->pool = NULL;
    pthread_join(opener, NULL);

    /* Everything was delivered inside stop, on this thread: the running jobs' results, and the queued
     * ones cancelled without running. */
    AC_ASSERT_EQ(f->delivered, WORKERS + 3);
    check_jobs(f, 0, WORKERS + 3, queued_at_stop);
    AC_ASSERT_EQ(active_watchers(t), 0); /* nothing of the pool is left on the loop */
}

/* ---- keeping the loop alive ---- */

AC_TEST(worker, keeps_the_loop_alive_exactly_while_work_is_in_flight) {
    fixture *f = ac_data(t);
    /* Idle: the pool's watcher is active but does not keep ev_run from returning. */
    AC_ASSERT_TRUE(run_like_a_program(t, 2.0));

    /* A job in flight: ev_run returns only after its result was delivered — not before (the loop would
     * stop with the result on its way), and not long after (the pool would hold the loop forever). */
    job_rec *j = submit(f, 3, compute_slowly);
    AC_ASSERT_TRUE(run_like_a_program(t, 2.0));
    AC_ASSERT_EQ(j->done, 1);
    AC_ASSERT_EQ(j->result, 10);

    /* A job finished on its worker but not delivered yet still counts: the loop has to run for it. */
    job_rec *k = submit(f, 4, compute);
    AC_ASSERT_TRUE(results_wait(f->pool, 1, 2.0));
    AC_ASSERT_EQ(work_pool_outstanding(f->pool), 1);
    AC_ASSERT_TRUE(run_like_a_program(t, 2.0));
    AC_ASSERT_EQ(k->done, 1);
    AC_ASSERT_EQ(k->result, 17);

    AC_ASSERT_EQ(work_pool_outstanding(f->pool), 0);
    AC_ASSERT_EQ(active_watchers(t), 0); /* idle again */
}

/* ---- a mocked job function ---- */

static void note_thread(const ac_mock_call *call, void *ret, void *ud) {
    (void)ret;
    fixture *f = ud;
    f->mock_threads[ac_mock_call_index(call)] = pthread_self(); /* on the worker that called the mock */
}

AC_TEST(worker, records_a_mocked_job_called_on_the_workers) {
    fixture *f = ac_data(t);
    /* The job function is a mock: each call is recorded (thread-safely) and returns the next value. */
    static const long returns[] = {10, 20, 30};
    ac_mock *job = ac_mock_new(t, "long job(void *arg)");
    ac_mock_returns_seq(job, returns, 3);
    ac_mock_does(job, note_thread, f);
    for (size_t i = 0; i < 3; i++)
        submit(f, i, (work_fn)ac_mock_fn(job));

    /* The workers call the mock while the loop does not run: the calls are recorded, the results wait. */
    AC_ASSERT_TRUE(results_wait(f->pool, 3, 2.0));
    AC_ASSERT_CALLED(job, 3);
    for (size_t i = 0; i < 3; i++)
        AC_ASSERT_CALLED_WITH(job, ac_ptr(&f->jobs[i]));
    AC_ASSERT_EQ(f->delivered, 0);

    /* The results come back through the pool's ev_async, on the loop's thread. Which job got which
     * value depends on the order the workers called the mock in: call k returned returns[k]. */
    AC_AWAIT(t, f->delivered == 3, 2.0);
    AC_ASSERT_EQ(f->off_loop, 0);
    for (size_t k = 0; k < 3; k++) {
        const ac_mock_call *call = ac_mock_call_at(job, k);
        job_rec *j = ac_mock_arg_ptr(call, 0);
        AC_ASSERT_EQ(j->done, 1);
        AC_ASSERT_FALSE(j->cancelled);
        AC_ASSERT_EQ(j->result, returns[k]);
        AC_ASSERT_FALSE(pthread_equal(f->mock_threads[k], f->loop_thread));
    }
}

/* ---- under the virtual clock ---- */

AC_TEST(worker, delivers_real_work_before_virtual_time_jumps, .clock = AC_CLOCK_VIRTUAL) {
    fixture *f = ac_data(t);
    /* Autojump jumps to the next timer when nothing is ready; let it first wait up to 0.5 s of real time
     * for real work (a worker's ev_async_send) to wake the loop. */
    ac_clock_set_autojump_threshold(t, 0.5);
    ev_timer_start(ac_loop(t), &f->ten_seconds); /* virtual: 10 s */
    job_rec *j = submit(f, 6, compute_slowly);   /* 50 ms of real sleep on its worker */

    AC_AWAIT(t, j->done == 1, 30.0); /* a virtual limit, past the timer */
    AC_ASSERT_EQ(j->result, 37);
    AC_ASSERT_LT(j->done_at, 1.0);  /* arrived before time jumped: it did not have to wait 10 s */
    AC_ASSERT_LT(f->fired_at, 0.0); /* and the timer has not fired */

    ac_clock_set_autojump_threshold(t, 0); /* no real work left: jump at once */
    AC_AWAIT(t, f->fired_at >= 0, 30.0);
    AC_ASSERT_NEAR(f->fired_at, 10.0, 0.01);
}
