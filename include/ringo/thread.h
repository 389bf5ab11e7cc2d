/*
 * ringo — threads: the blocking-call executor, thread-safe entry points,
 * and many loops (one per thread). Included by <ringo.h>.
 *
 * How other threads reach a loop: a short-lock queue plus ONE eventfd that
 * the loop keeps a read armed on through its own io_uring. A producer
 * writes the eventfd only when the loop is not already signalled, so a
 * burst of posts costs the loop one wake-up. No other thread ever touches
 * a loop's ring (SINGLE_ISSUER).
 *
 * Which thread may call what is said on each function. "Any thread" calls
 * are valid from the loop's own thread too, and before the loop first runs.
 * A loop must not be freed while another thread may still post to it: the
 * caller orders that (join the producer, or stop posting first).
 *
 * Memory: the queue's buffers and thread-side objects (ringo_tsfuture,
 * user executors, loop threads) come from malloc, since they are created
 * or grown on threads where the loop's allocator (single-threaded by
 * contract) cannot be used. Everything the loop thread allocates still
 * goes through the loop's allocator.
 */
#ifndef RINGO_THREAD_H
#define RINGO_THREAD_H

#include <stdbool.h>
#include <stdint.h>

/* A loop option (ringo_loop_options.flags): the scheduling calls
 * (call_soon, call_later/at, spawn) refuse with -EXDEV when called from a
 * thread other than the one that runs the loop. Always on in builds with
 * RINGO_DEBUG defined; off by default otherwise (one compare per call). */
#define RINGO_LOOP_CHECK_THREAD (1u << 8)

/* ------------------------------------------------------------------------
 * Thread-safe entry points
 * ---------------------------------------------------------------------- */

/* Any thread. Schedule fn(arg) on loop as ringo_call_soon would, waking the
 * loop if it sleeps. The only scheduling call valid off the loop's thread.
 * Callbacks posted by one thread run in the order posted. Returns 0,
 * -EINVAL (NULL loop/fn), -ESHUTDOWN (loop closed or closing: fn will not
 * run), -ENOMEM. arg is passed through untouched; if the loop is closed
 * before the callback runs it is dropped without running. */
int ringo_call_soon_threadsafe(ringo_loop *loop, ringo_callback_fn *fn, void *arg);

/* A thread-side future: the outcome of a task spawned from another thread
 * (asyncio's concurrent.futures.Future from run_coroutine_threadsafe).
 * Reference counted with atomic counts; any thread may use it. */
typedef struct ringo_tsfuture ringo_tsfuture;

/* Any thread. Spawn fn(arg) as a task on loop (asyncio's
 * run_coroutine_threadsafe). On success *out is a new tsfuture owned by the
 * caller (ringo_tsfuture_release() it). The task starts on the loop's next
 * iteration. 0, -EINVAL, -ESHUTDOWN, -ENOMEM. If spawning fails later on
 * the loop thread (-ENOMEM) or the loop closes first, the tsfuture
 * completes with that error (-ESHUTDOWN / -ECANCELED). */
int ringo_spawn_threadsafe(ringo_loop *loop, ringo_task_fn *fn, void *arg, ringo_tsfuture **out);

/* Any thread, except the loop's own while the outcome is pending (that
 * would deadlock: -EDEADLK). Block the calling thread until the outcome is
 * known or timeout_ns passes (< 0: no limit; 0: poll). Returns the task's
 * outcome as ringo_future_result() (0 and *value, its error, -ECANCELED),
 * or -ETIMEDOUT (the task goes on; call ringo_tsfuture_cancel to stop it). */
int ringo_tsfuture_result(ringo_tsfuture *f, int64_t timeout_ns, void **value);

/* Any thread. Cancel: the tsfuture completes as cancelled at once (waiters
 * wake with -ECANCELED) and the task is asked to cancel on its loop. true
 * if it was pending, false if already done. */
bool ringo_tsfuture_cancel(ringo_tsfuture *f);

/* Any thread. */
bool ringo_tsfuture_done(ringo_tsfuture *f);
void ringo_tsfuture_ref(ringo_tsfuture *f);
void ringo_tsfuture_release(ringo_tsfuture *f);

/* ------------------------------------------------------------------------
 * The executor: blocking calls on worker threads
 *
 * fn has the task body's shape: return 0 and set *result (starts NULL),
 * or a negative errno, which is delivered as the call's outcome. A crash
 * in fn is not caught: it takes the process down, as it should.
 * ---------------------------------------------------------------------- */
typedef struct ringo_executor ringo_executor;

typedef struct ringo_executor_options {
	/* Worker threads, started lazily as work arrives; 0 = the number of
	 * online CPUs + 4, at most 32 (Python's ThreadPoolExecutor). */
	unsigned max_workers;
	/* How long an idle worker spins looking for work before it sleeps;
	 * spinning avoids the ~60 us cross-core wake-up under load.
	 * < 0: no spin; 0: the default (50 us). */
	int64_t spin_ns;
} ringo_executor_options;

/* Any thread. Create a user executor (one pool, usable by many loops).
 * opts may be NULL. The caller owns it: ringo_executor_free() it after
 * every loop that used it is closed or no job of theirs is in flight.
 * 0, -EINVAL, -ENOMEM. */
int ringo_executor_new(ringo_executor **out, const ringo_executor_options *opts);

/* Any thread but a worker of ex. Stop accepting work, let the workers
 * finish every queued job, and join them, waiting at most timeout_ns
 * (< 0: no limit). 0, or -ETIMEDOUT (workers still busy; a later call or
 * ringo_executor_free() waits for them). Results go to their loops. */
int ringo_executor_shutdown(ringo_executor *ex, int64_t timeout_ns);

/* Shut down with no time limit and free. NULL is a no-op. */
void ringo_executor_free(ringo_executor *ex);

/* Loop thread, before the default executor exists (it is made on first
 * use): its worker count (0 = as ringo_executor_options). -EINVAL,
 * -EBUSY once it exists. */
int ringo_loop_set_default_executor_workers(ringo_loop *loop, unsigned max_workers);

/* May suspend. Run fn(arg) on a worker of the loop's default executor and
 * suspend only the calling task until it returns; returns fn's outcome
 * (0 and *result, or fn's error). -ECANCELED if the task is cancelled
 * meanwhile: the worker is not interrupted and fn's result, when it
 * comes, is discarded (as asyncio). -EPERM outside a task, -ENOMEM,
 * -ESHUTDOWN (default executor shut down), -EAGAIN (no worker thread
 * could be started). The call reaches the executor with the other calls
 * of the same batch of callbacks, at the start of the next one. */
int ringo_to_thread(ringo_task_fn *fn, void *arg, void **result);

/* Loop thread (callbacks or tasks). Run fn(arg) on executor ex (NULL = the
 * loop's default) and hand back a future on loop that completes with fn's
 * outcome; the caller owns one reference to *out. Cancelling the future
 * does not stop fn; its result is then dropped. 0, -EINVAL, -ESHUTDOWN
 * (loop closed or executor shut down), -ENOMEM, -EXDEV (debug check). */
int ringo_run_in_executor(ringo_loop *loop, ringo_executor *ex, ringo_task_fn *fn, void *arg,
			  ringo_future **out);

/* Loop thread. asyncio's shutdown_default_executor: stop the default
 * executor and wait up to timeout_ns (< 0: no limit) for its workers to
 * finish their queued jobs. Blocks the calling thread (not a suspension:
 * from a task it holds the loop for at most timeout_ns; results reach
 * their futures when the loop runs next). 0 (also if there is none), or
 * -ETIMEDOUT (the workers keep going; loop close waits for them).
 * Afterwards ringo_to_thread/run_in_executor(NULL) return -ESHUTDOWN. */
int ringo_shutdown_default_executor(ringo_loop *loop, int64_t timeout_ns);

/* ------------------------------------------------------------------------
 * Many loops: a loop per thread, and posting work between loops
 * ---------------------------------------------------------------------- */
typedef struct ringo_loop_thread ringo_loop_thread;

typedef struct ringo_loop_thread_options {
	int cpu;                        /* pin to this CPU; -1 = no pinning */
	const ringo_loop_options *loop; /* NULL = defaults; copied */
} ringo_loop_thread_options;

/* Any thread. Start a thread running a new loop forever. opts may be NULL
 * (no pinning). The loop exists when this returns: ringo_loop_thread_loop()
 * gives it; only thread-safe calls may be made on it from other threads.
 * The caller owns the handle: ringo_loop_thread_stop() it. 0, -EINVAL (bad
 * cpu), -ENOMEM, -EAGAIN (no thread), or ringo_loop_new's errors. */
int ringo_loop_thread_start(ringo_loop_thread **out, const ringo_loop_thread_options *opts);

ringo_loop *ringo_loop_thread_loop(ringo_loop_thread *lt);

/* Any thread but lt's own. Stop the loop (callbacks already posted run
 * first), cancel and wait for its tasks, close and free it, join the
 * thread, free lt. Returns the loop's close/free result. */
int ringo_loop_thread_stop(ringo_loop_thread *lt);

enum ringo_post_mode {
	RINGO_POST_DEFAULT,  /* the faster one, measured: see loops.c */
	RINGO_POST_EVENTFD,  /* through to's thread-safe queue and eventfd */
	RINGO_POST_MSG_RING, /* IORING_OP_MSG_RING from from's ring to to's */
};

/* from's loop thread. Run fn(arg) on loop `to` (as call_soon there).
 * to must stay alive until fn has run (stop posting before stopping it).
 * 0, -EINVAL, -ESHUTDOWN, -ENOMEM, -EXDEV (debug check). With MSG_RING a failed send (e.g. to's CQ full) falls
 * back to the eventfd path, so a post is never lost. */
int ringo_loop_post(ringo_loop *from, ringo_loop *to, ringo_callback_fn *fn, void *arg,
		    enum ringo_post_mode mode);

#endif /* RINGO_THREAD_H */
