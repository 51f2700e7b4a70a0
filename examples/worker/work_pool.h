/* work_pool.h — a pool of worker threads for a libev loop: blocking work runs on a thread, and its result
 * comes back on the loop's thread through an ev_async watcher.
 *
 * It demonstrates the standard way a libev program does something that must block (a disk read, a
 * hash, a DNS lookup through getaddrinfo): hand it to a thread, and return the answer to the loop rather
 * than touching the loop's state from the thread. N pthreads take jobs from a mutex-protected FIFO
 * queue; each finished job is put on a second, completed queue and the loop is woken with
 * ev_async_send. libev coalesces async signals — several jobs finishing between two loop iterations
 * give one callback — so that callback drains the whole completed queue. Jobs not started yet can be
 * cancelled. worker_test.c tests it with asyncheck.
 *
 *   static long checksum(void *arg) { ... }                                  // runs on a worker
 *   static void on_done(long result, bool cancelled, void *ud) { ... }       // runs on the loop
 *
 *   work_pool *pool = work_pool_new(loop, 4);
 *   work_pool_submit(pool, checksum, file, on_done, file);
 *   ev_run(loop, 0);              // returns once on_done has been called: the pool is then idle
 *   work_pool_stop(pool);
 *
 * Keeping the loop alive. The pool's one ev_async watcher stays active from work_pool_new to
 * work_pool_stop, because a worker may signal it at any time. But an idle pool must not keep ev_run
 * from returning, while a pool with work in flight must — otherwise ev_run could return (and a program
 * exit) with a result still on its way. So the watcher counts as a reference on the loop exactly while
 * jobs are outstanding: from the submit that takes the count from 0 to 1 (ev_ref) until the done_cb call
 * that takes it back to 0 (ev_unref). "Outstanding" means submitted and done_cb not yet called: queued,
 * running, *and* finished with the result still waiting on the completed queue. The count changes only
 * on the loop's thread (in submit and just before each done_cb call), so ev_ref/ev_unref, which are not
 * thread-safe, are never called from a worker, and a result can never be in flight while the loop
 * believes it has nothing to wait for.
 *
 * Threads. Everything here is called on the loop's thread, except the fn of each job, which runs on a
 * worker, and work_pool_queued/work_pool_ready, which may be called from any thread while the pool
 * exists. done_cb is always called on the loop's thread: from the pool's ev_async callback, or from
 * work_pool_stop. Workers start with every signal blocked, so signals go to the loop's thread (ev_signal).
 *
 * Every job's done_cb is called exactly once: with fn's result and cancelled false, or with result 0 and
 * cancelled true if the job was cancelled (work_pool_cancel, work_pool_stop) before a worker took it, in
 * which case fn was never called. It is never called from inside the call that submitted or cancelled
 * the job. */
#ifndef WORK_POOL_H
#define WORK_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;

typedef struct work_pool work_pool;

/* A job: runs on a worker thread, and must not touch the loop. Its return value is the result. */
typedef long (*work_fn)(void *arg);

/* A job's completion, on the loop's thread: fn's result, or cancelled true (and result 0) if fn never
 * ran. It may submit and cancel jobs, and may run the loop (nested); it must not call work_pool_stop. */
typedef void (*work_done_cb)(long result, bool cancelled, void *ud);

/* Identifies a submitted job for work_pool_cancel; never 0. */
typedef uint64_t work_id;

/* Starts `nthreads` worker threads (1 or more) and the pool's ev_async watcher on `loop`; an idle pool
 * does not keep the loop alive. Returns NULL with errno set on failure (EINVAL for 0 threads). */
work_pool *work_pool_new(struct ev_loop *loop, size_t nthreads);

/* Queues fn(arg) to run on a worker; done_cb(result, cancelled, ud) is called on the loop's thread
 * afterwards. Jobs start in the order they were submitted (they may finish in any order). Returns the
 * job's id, or 0 with errno set (EINVAL: fn or done_cb NULL; ECANCELED: the pool is stopping; ENOMEM). */
work_id work_pool_submit(work_pool *pool, work_fn fn, void *arg, work_done_cb done_cb, void *ud);

/* Cancels the job `id` if no worker has taken it yet: it is taken off the queue, fn will never run, and
 * its done_cb is called with cancelled true from the loop soon after (never from inside this call).
 * Returns false, and changes nothing, if the job has started, finished, been cancelled already, or is
 * unknown: a running job cannot be interrupted. */
bool work_pool_cancel(work_pool *pool, work_id id);

/* Jobs submitted whose done_cb has not been called yet (queued, running, or finished and waiting for
 * the loop). While it is not 0 the pool keeps the loop alive. */
size_t work_pool_outstanding(const work_pool *pool);

/* Jobs waiting in the queue for a worker. Any thread. */
size_t work_pool_queued(work_pool *pool);

/* Jobs finished (or cancelled) whose done_cb is waiting for the loop to run. Any thread. */
size_t work_pool_ready(work_pool *pool);

/* Stops the pool: cancels the jobs still queued, waits for the running ones to return (it blocks the
 * loop's thread until they do), calls done_cb for every outstanding job — results of finished jobs,
 * cancelled for the rest — joins the threads, stops the ev_async watcher and frees the pool. Afterwards
 * the pool has nothing left on the loop. Call it on the loop's thread, not from a done_cb. NULL is
 * ignored. */
void work_pool_stop(work_pool *pool);

#endif
