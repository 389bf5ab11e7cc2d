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

/* ------------------------------------------------------------------------
 * Thread-safe entry points
 * ---------------------------------------------------------------------- */

/* Any thread. Schedule fn(arg) on loop as ringo_call_soon would, waking the
 * loop if it sleeps. The only scheduling call valid off the loop's thread.
 * Order (asyncio's): callbacks posted by one thread run in the order
 * posted, and a post that happens before a ringo_call_soon on the loop's
 * thread (made on that same thread, or on one that synchronised with it
 * since: joined, a lock, an atomic) runs before that call_soon's callback.
 * From the loop's own thread while it runs this is ringo_call_soon (no
 * lock, no wake-up). Returns 0, -EINVAL (NULL loop/fn), -ESHUTDOWN (loop
 * closed or closing: fn will not run), -ENOMEM. arg is passed through
 * untouched; if the loop is closed before the callback runs it is dropped
 * without running. */
int ringo_call_soon_threadsafe(ringo_loop *loop, ringo_callback_fn *fn, void *arg);

/* A thread-side future: the outcome of a task spawned from another thread
 * (asyncio's concurrent.futures.Future from run_coroutine_threadsafe).
 * Reference counted with atomic counts; any thread may use it. */
typedef struct ringo_tsfuture ringo_tsfuture;

/* Any thread. Spawn fn(arg) as a task on loop (asyncio's
 * run_coroutine_threadsafe). On success *out is a new tsfuture owned by the
 * caller (ringo_tsfuture_release() it). The task starts on the loop's next
 * iteration. 0, -EINVAL (NULL loop/fn/out), -ESHUTDOWN (loop closed or
 * closing), -ENOMEM. If spawning fails later on the loop thread
 * (-ENOMEM) or the loop closes first, the tsfuture completes with that
 * error (-ESHUTDOWN before the task started, -ECANCELED after).
 * arg belongs to the task until the tsfuture is done: only then may the
 * caller free or reuse it (whatever ringo_tsfuture_result returned
 * meanwhile, -ETIMEDOUT included). */
int ringo_spawn_threadsafe(ringo_loop *loop, ringo_task_fn *fn, void *arg, ringo_tsfuture **out);

/* Any thread, except the loop's own while the outcome is pending (that
 * would deadlock: -EDEADLK). Blocks the calling thread (not a task
 * suspension) until the tsfuture is done or timeout_ns passes (< 0: no
 * limit; 0: poll). Returns the task's outcome as ringo_future_result()
 * (0 and *value, the task's error, -ECANCELED, or the spawn's -ESHUTDOWN /
 * -ENOMEM as above); -EINVAL for NULL f. -ETIMEDOUT changes nothing: the
 * task goes on and still owns arg; wait again, or ringo_tsfuture_cancel.
 * *value is written only when 0 is returned. */
int ringo_tsfuture_result(ringo_tsfuture *f, int64_t timeout_ns, void **value);

/* Any thread. Request the task's cancellation. If the task has not started,
 * it never runs and the tsfuture completes as cancelled once the loop
 * takes the request. If it runs, it is cancelled on its loop (as
 * ringo_task_cancel) and the tsfuture completes when the task is done:
 * -ECANCELED if it took the cancel, its own outcome if it finished anyway
 * (a result is then not lost). So the tsfuture stays pending meanwhile,
 * and "done" always means the loop no longer uses arg. true if the
 * tsfuture is pending (cancellation requested, now or before), false if
 * it is done or, out of memory, the request could not be posted. Like
 * any post, the loop must stay alive until it is taken. */
bool ringo_tsfuture_cancel(ringo_tsfuture *f);

/* Any thread. true once the task is done or will never run: then arg is
 * the caller's again. */
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
	 * 0: the default (50 us); RINGO_EXECUTOR_NO_SPIN turns it off. */
	int64_t spin_ns;
	unsigned flags;             /* RINGO_EXECUTOR_* */
} ringo_executor_options;

enum {
	/* Idle workers sleep at once (no spinning; spin_ns is ignored). */
	RINGO_EXECUTOR_NO_SPIN = 1u << 0,
};

/* Any thread. Create a user executor (one pool, usable by many loops).
 * opts may be NULL. The caller owns it: ringo_executor_free() it after
 * every loop that used it is closed or no job of theirs is in flight.
 * 0, -EINVAL (NULL out, max_workers > 4096), -ENOMEM. */
int ringo_executor_new(const ringo_executor_options *opts, ringo_executor **out);

/* Any thread but a worker of ex. Stop accepting work, let the workers
 * finish every queued job (jobs withdrawn by a cancel are not run), and
 * join them, waiting at most timeout_ns (< 0: no limit). Blocks the
 * calling thread. 0, -EINVAL (NULL ex), or -ETIMEDOUT (workers still
 * busy; a later call or ringo_executor_free() waits for them). Results go
 * to their loops. */
int ringo_executor_shutdown(ringo_executor *ex, int64_t timeout_ns);

/* Shut down with no time limit and free. NULL is a no-op. */
void ringo_executor_free(ringo_executor *ex);

/* Loop thread, before the default executor exists (it is made on first
 * use): its worker count (0 = as ringo_executor_options). 0, -EINVAL
 * (NULL loop, more than 4096), -ENOMEM, -EBUSY once it exists. */
int ringo_loop_set_default_executor_workers(ringo_loop *loop, unsigned max_workers);

/* May suspend. Run fn(arg) on a worker of the loop's default executor and
 * suspend only the calling task until fn has returned; returns fn's
 * outcome (0 and *result, or fn's error; *result is written only on 0).
 * The call's own errors (fn never ran): -EPERM outside a task, -EINVAL
 * (NULL fn), -ENOMEM, -ESHUTDOWN (default executor shut down), -EAGAIN (no
 * worker thread could be started). The call reaches the executor with the
 * other calls of the same batch of callbacks, at the start of the next.
 * Cancellation cannot interrupt fn (a thread cannot be stopped safely):
 *   - fn not started yet (cancel pending at the call, or the job still
 *     queued): the job is withdrawn, fn never runs, -ECANCELED at once;
 *   - fn running: the task stays suspended until fn returns, then the
 *     call returns fn's outcome as if not cancelled (a result fn
 *     allocated is the caller's, never lost) and the cancellation is
 *     delivered at the task's next suspension point, as for I/O that
 *     completed anyway.
 * So -ECANCELED means fn never ran (unless fn itself returns it), and any
 * other outcome that it ran to the end. Either way, when the call returns
 * nothing else uses arg or what it points to: it may be reused at once.
 * If the loop closes while fn runs, close waits for fn (the abandoned
 * task's stack outlives it) and the result is dropped. */
int ringo_to_thread(ringo_task_fn *fn, void *arg, void **result);

/* Loop thread (callbacks or tasks). Run fn(arg) on executor ex (NULL = the
 * loop's default) and hand back a future on loop that completes with fn's
 * outcome; the caller owns one reference to *out. The rule for arg: once
 * the future is done, fn has returned (or will never run) and arg may be
 * freed; while it is pending, arg is fn's. ringo_future_done() tells.
 * Cancelling the future (ringo_future_cancel, also a task awaiting it
 * being cancelled) returns true and:
 *   - fn not started yet: the job is withdrawn, fn never runs, and the
 *     future is cancelled at once;
 *   - fn running: the future stays pending until fn returns, then
 *     completes with fn's outcome (as a task that finishes despite a
 *     cancel; a result is not lost).
 * So a cancelled future means fn never ran. Only fn's outcome completes
 * it: ringo_future_set_result/set_error on it return -EPERM while it is
 * pending. If the loop closes first, close waits for fn and the future
 * still gets its outcome (read it, free a result, release it). 0, -EINVAL
 * (NULL loop/fn/out), -ESHUTDOWN (loop closed or executor shut down),
 * -EAGAIN (no worker thread could be started), -ENOMEM, -EXDEV (debug
 * check). */
int ringo_run_in_executor(ringo_loop *loop, ringo_executor *ex, ringo_task_fn *fn, void *arg,
			  ringo_future **out);

/* Loop thread. asyncio's shutdown_default_executor: stop the default
 * executor and wait up to timeout_ns (< 0: no limit) for its workers to
 * finish their queued jobs. Blocks the calling thread (not a suspension:
 * from a task it holds the loop for at most timeout_ns; results reach
 * their futures and tasks when the loop runs next). 0 (also if there is
 * none, or the loop is closed), -EINVAL (NULL loop), -ENOMEM, or
 * -ETIMEDOUT (the workers keep going; loop close waits for them).
 * Afterwards ringo_to_thread/run_in_executor(NULL) return -ESHUTDOWN. */
int ringo_loop_shutdown_default_executor(ringo_loop *loop, int64_t timeout_ns);

/* ------------------------------------------------------------------------
 * Many loops: a loop per thread, and posting work between loops
 * ---------------------------------------------------------------------- */
typedef struct ringo_loop_thread ringo_loop_thread;

typedef struct ringo_loop_thread_options {
	bool pin;                       /* pin the thread to cpu; false: no pinning */
	int cpu;                        /* the CPU to pin to (read only with pin) */
	const ringo_loop_options *loop; /* NULL = defaults; copied */
} ringo_loop_thread_options;

/* Any thread. Start a thread running a new loop forever. opts may be NULL
 * (no pinning). The loop exists when this returns: ringo_loop_thread_loop()
 * gives it; only thread-safe calls may be made on it from other threads.
 * The caller owns the handle: ringo_loop_thread_free() it. 0, -EINVAL (bad
 * cpu), -ENOMEM, -EAGAIN (no thread), or ringo_loop_new's errors. */
int ringo_loop_thread_start(const ringo_loop_thread_options *opts, ringo_loop_thread **out);

ringo_loop *ringo_loop_thread_loop(ringo_loop_thread *lt);

/* Any thread but lt's own. Stop the loop (callbacks already posted run
 * first), cancel and wait for its tasks, close and free it, join the
 * thread, free lt. Returns 0, -EINVAL (NULL lt), -EDEADLK (called on lt's
 * own thread: nothing is done), -ENOMEM (the stop could not be posted:
 * nothing is done), or ringo_loop_free's -EBUSY (futures of the loop
 * still referenced: the loop is closed but not freed, lt is freed). */
int ringo_loop_thread_free(ringo_loop_thread *lt);

enum ringo_post_mode {
	RINGO_POST_DEFAULT,  /* the faster one, measured: see loops.c */
	RINGO_POST_EVENTFD,  /* through to's thread-safe queue and eventfd */
	RINGO_POST_MSG_RING, /* IORING_OP_MSG_RING from from's ring to to's */
};

/* from's loop thread. Run fn(arg) on loop `to` (as call_soon there).
 * to must stay alive until fn has run (stop posting before stopping it).
 * 0, -EINVAL (NULL from/to/fn, unknown mode), -ESHUTDOWN (from closed,
 * or to closed on the eventfd path), -ENOMEM, -EXDEV (debug check). With
 * MSG_RING a failed send (e.g. to's CQ full) falls back to the eventfd
 * path, so a post is never lost while to is open. Eventfd posts from one
 * loop run in the order posted; a MSG_RING post that had to fall back may
 * arrive after later ones. */
int ringo_loop_post(ringo_loop *from, ringo_loop *to, ringo_callback_fn *fn, void *arg,
		    enum ringo_post_mode mode);

#endif /* RINGO_THREAD_H */
