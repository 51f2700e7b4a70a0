/* work_pool.c — the worker pool: N pthreads taking jobs from a FIFO queue under one mutex, a completed
 * queue under the same mutex, and one ev_async watcher through which results return to the loop.
 *
 * Who touches what. The mutex guards the two queues, their counts and `stopping`; workers touch nothing
 * else of the pool, except the ev_async watcher they signal (ev_async_send is libev's one thread-safe
 * call). `outstanding` and the ref/unref state of the watcher belong to the loop's thread alone. A job is
 * owned by whichever queue holds it, or by the one worker running it; its result is written by that
 * worker before it takes the mutex to queue the job as completed, and read by the loop after it took the
 * mutex to dequeue it, so the mutex orders the two.
 *
 * Delivery. The ev_async callback takes completed jobs one at a time, each under the mutex, and updates
 * the pool's bookkeeping (outstanding, ev_unref) before it calls the job's done_cb. So at every done_cb
 * call the pool is consistent: a done_cb may submit, cancel, run the loop again (which may re-enter the
 * callback: it just takes the next job), or never return at all (a longjmp out of it, such as a fatal
 * assertion in a test) — the jobs not delivered yet stay queued and are delivered by the next signal or
 * by work_pool_stop. */
#include "work_pool.h"

#include <errno.h>
#include <ev.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

typedef struct job job;

struct job {
    job *next;
    work_id id;
    work_fn fn;
    void *arg;
    work_done_cb done;
    void *ud;
    long result;
    bool cancelled;
};

/* A FIFO of jobs. */
typedef struct queue {
    job *head, *tail;
    size_t n;
} queue;

struct work_pool {
    struct ev_loop *loop;
    ev_async async; /* active from work_pool_new to work_pool_stop */
    pthread_t *threads;
    size_t nthreads;

    pthread_mutex_t lock;      /* guards everything down to `stopping` */
    pthread_cond_t work_ready; /* signalled when a job is queued, broadcast when stopping */
    queue queued;              /* waiting for a worker */
    queue completed;           /* finished or cancelled, waiting for the loop */
    bool stopping;             /* workers exit when they see it (the queue is emptied at the same time) */

    /* The loop's thread only: */
    size_t outstanding; /* submitted, done_cb not called yet; the watcher is referenced while > 0 */
    bool watching;      /* the watcher is active (false once work_pool_stop has stopped it) */
    work_id last_id;
};

/* ---- queues (the caller holds the lock) ---- */

static void push(queue *q, job *j) {
    j->next = NULL;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->n++;
}

static job *pop(queue *q) {
    job *j = q->head;
    if (j) {
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
        q->n--;
        j->next = NULL;
    }
    return j;
}

/* Takes the job `id` out of q, or returns NULL. */
static job *take(queue *q, work_id id) {
    job *prev = NULL;
    for (job *j = q->head; j; prev = j, j = j->next) {
        if (j->id != id)
            continue;
        if (prev)
            prev->next = j->next;
        else
            q->head = j->next;
        if (q->tail == j)
            q->tail = prev;
        q->n--;
        j->next = NULL;
        return j;
    }
    return NULL;
}

/* ---- the workers ---- */

static void *worker_main(void *arg) {
    work_pool *pool = arg;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->queued.head && !pool->stopping)
            pthread_cond_wait(&pool->work_ready, &pool->lock);
        job *j = pop(&pool->queued);
        if (!j)
            break; /* stopping, and work_pool_stop has taken whatever was queued */
        pthread_mutex_unlock(&pool->lock);

        j->result = j->fn(j->arg);

        pthread_mutex_lock(&pool->lock);
        push(&pool->completed, j);
        pthread_mutex_unlock(&pool->lock);
        /* One signal per job; libev folds those that arrive before the loop gets to the watcher into one
         * callback, which is why that callback drains the whole completed queue. */
        ev_async_send(pool->loop, &pool->async);
        pthread_mutex_lock(&pool->lock);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* ---- on the loop's thread ---- */

static job *next_completed(work_pool *pool) {
    pthread_mutex_lock(&pool->lock);
    job *j = pop(&pool->completed);
    pthread_mutex_unlock(&pool->lock);
    return j;
}

/* Settles the pool's side of a job, then calls its done_cb: see "Delivery" above. */
static void deliver(work_pool *pool, job *j) {
    work_done_cb done = j->done;
    void *ud = j->ud;
    long result = j->cancelled ? 0 : j->result;
    bool cancelled = j->cancelled;
    free(j);
    if (--pool->outstanding == 0 && pool->watching)
        ev_unref(pool->loop); /* idle again: the watcher no longer keeps the loop alive */
    done(result, cancelled, ud);
}

static void on_async(struct ev_loop *loop, ev_async *w, int revents) {
    (void)loop, (void)revents;
    work_pool *pool = w->data;
    job *j;
    while ((j = next_completed(pool)) != NULL)
        deliver(pool, j);
}

/* ---- the API ---- */

work_pool *work_pool_new(struct ev_loop *loop, size_t nthreads) {
    if (!loop || nthreads == 0) {
        errno = EINVAL;
        return NULL;
    }
    work_pool *pool = calloc(1, sizeof *pool);
    pthread_t *threads = calloc(nthreads, sizeof *threads);
    if (!pool || !threads) {
        free(pool);
        free(threads);
        errno = ENOMEM;
        return NULL;
    }
    pool->loop = loop;
    pool->threads = threads;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->work_ready, NULL);
    ev_async_init(&pool->async, on_async);
    pool->async.data = pool;

    /* Workers inherit this thread's signal mask: block everything, so that signals are delivered to the
     * loop's thread, where libev's ev_signal watchers expect them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = 0;
    while (pool->nthreads < nthreads &&
           !(err = pthread_create(&threads[pool->nthreads], NULL, worker_main, pool)))
        pool->nthreads++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        pthread_mutex_lock(&pool->lock);
        pool->stopping = true;
        pthread_cond_broadcast(&pool->work_ready);
        pthread_mutex_unlock(&pool->lock);
        for (size_t i = 0; i < pool->nthreads; i++)
            pthread_join(threads[i], NULL);
        pthread_cond_destroy(&pool->work_ready);
        pthread_mutex_destroy(&pool->lock);
        free(threads);
        free(pool);
        errno = err;
        return NULL;
    }

    ev_async_start(loop, &pool->async);
    ev_unref(loop); /* nothing outstanding: an idle pool does not keep the loop alive */
    pool->watching = true;
    return pool;
}

work_id work_pool_submit(work_pool *pool, work_fn fn, void *arg, work_done_cb done_cb, void *ud) {
    if (!fn || !done_cb) {
        errno = EINVAL;
        return 0;
    }
    if (!pool->watching) { /* work_pool_stop is delivering: no new work */
        errno = ECANCELED;
        return 0;
    }
    job *j = calloc(1, sizeof *j);
    if (!j) {
        errno = ENOMEM;
        return 0;
    }
    *j = (job){.id = ++pool->last_id, .fn = fn, .arg = arg, .done = done_cb, .ud = ud};
    if (pool->outstanding++ == 0)
        ev_ref(pool->loop); /* work in flight: the watcher keeps the loop alive until it is delivered */
    pthread_mutex_lock(&pool->lock);
    push(&pool->queued, j);
    pthread_cond_signal(&pool->work_ready);
    pthread_mutex_unlock(&pool->lock);
    return j->id;
}

bool work_pool_cancel(work_pool *pool, work_id id) {
    pthread_mutex_lock(&pool->lock);
    job *j = take(&pool->queued, id);
    if (j) {
        j->cancelled = true;
        push(&pool->completed, j);
    }
    pthread_mutex_unlock(&pool->lock);
    if (j)
        ev_async_send(pool->loop, &pool->async); /* delivered from the loop, like every other outcome */
    return j != NULL;
}

size_t work_pool_outstanding(const work_pool *pool) {
    return pool->outstanding;
}

size_t work_pool_queued(work_pool *pool) {
    pthread_mutex_lock(&pool->lock);
    size_t n = pool->queued.n;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

size_t work_pool_ready(work_pool *pool) {
    pthread_mutex_lock(&pool->lock);
    size_t n = pool->completed.n;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

void work_pool_stop(work_pool *pool) {
    if (!pool)
        return;
    /* Nothing queued may start any more: cancel it, and let the workers finish what they are running. */
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    job *j;
    while ((j = pop(&pool->queued)) != NULL) {
        j->cancelled = true;
        push(&pool->completed, j);
    }
    pthread_cond_broadcast(&pool->work_ready);
    pthread_mutex_unlock(&pool->lock);
    for (size_t i = 0; i < pool->nthreads; i++)
        pthread_join(pool->threads[i], NULL);

    /* Every outstanding job is on the completed queue now and no thread can signal any more: stop the
     * watcher first, so that nothing is left on the loop even if a done_cb below never returns. An
     * unreferenced watcher is referenced again before it is stopped, as libev requires. */
    if (pool->outstanding == 0)
        ev_ref(pool->loop);
    ev_async_stop(pool->loop, &pool->async);
    pool->watching = false;
    while ((j = next_completed(pool)) != NULL)
        deliver(pool, j);

    pthread_cond_destroy(&pool->work_ready);
    pthread_mutex_destroy(&pool->lock);
    free(pool->threads);
    free(pool);
}
