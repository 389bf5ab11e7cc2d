/*
 * Private to the runtime: the thread layer's shared pieces (executor jobs,
 * the tsfutures' close, MSG_RING between loops) on top of the cross-thread
 * queue (xq.h). See include/ringo/thread.h for the model.
 */
#ifndef RINGO_THREAD_INTERNAL_H
#define RINGO_THREAD_INTERNAL_H

#include <stdatomic.h>

#include "internal.h"
#include "context_internal.h"
#include "xq.h"

/* ---- executor jobs (executor.c: the pool; to_thread.c: the loop side) ----
 * A job's states. Cancellation cannot interrupt fn (a thread cannot be
 * stopped safely), so a job whose fn has not started is withdrawn and
 * never runs, and one whose fn has started is waited for:
 *
 *   PENDING --flush--> QUEUED --a worker takes it--> TAKEN --fn starts--> RUNNING
 *      |                 |                             |
 *      +--- withdrawn ---+--> DROPPED                  +-- withdrawn --> SKIPPED
 *
 * PENDING is loop-thread only (a batch's to_thread jobs not yet handed
 * over). QUEUED -> TAKEN and the withdrawal of a QUEUED job happen under
 * the executor's lock (the job is on its queue). TAKEN -> RUNNING (the
 * worker, just before fn) and TAKEN -> SKIPPED (the loop) race on one
 * compare-and-swap: exactly one wins. A DROPPED job is the loop's again at
 * once; a SKIPPED one comes back through its done function, fn not run. */
enum ringo__job_state {
	RINGO__JOB_PENDING,
	RINGO__JOB_QUEUED,
	RINGO__JOB_TAKEN,
	RINGO__JOB_RUNNING,
	RINGO__JOB_DROPPED,
	RINGO__JOB_SKIPPED,
};

struct ringo__job {
	/* The loop's pending batch (PENDING), an executor's queue (QUEUED,
	 * under its lock), or the loop's free list (next only). */
	struct ringo__list link;
	_Atomic int state;          /* enum ringo__job_state, as above */
	ringo_task_fn *fn;
	void *arg;
	/* Posted back by the worker once fn returned (or was skipped): the
	 * loop side's (to_thread.c), run on the loop thread with the job. */
	ringo__xq_fn *done;
	int rc;                     /* fn's outcome, written by the worker */
	void *result;
	ringo_loop *loop;
	ringo_executor *ex;         /* where it is queued (from QUEUED on) */
	/* to_thread: the waiting task, with a reference that keeps its stack
	 * (where arg usually lives) even if the loop closes meanwhile. NULL
	 * once the task no longer waits (the job was withdrawn). */
	ringo_task *task;
	ringo_future *fut;          /* run_in_executor: the job's reference */
	/* The submitting task's context (context.c), one reference, seen by
	 * fn on the worker; released when the job is freed (loop thread). */
	struct ringo__ctx *ctx;
};

/* Loop thread: queue the n jobs of list (emptied) on ex in one lock; each
 * becomes QUEUED. 0, -ESHUTDOWN, or -EAGAIN (no worker thread could be
 * started): then nothing was taken. */
int ringo__executor_submit(ringo_executor *ex, struct ringo__list *list, size_t n);
/* Any thread, for the metrics: jobs queued and not yet taken, worker
 * threads alive, and of those the ones not waiting for work (neither
 * asleep nor spinning for it). A snapshot under the executor's lock. */
void ringo__executor_load(ringo_executor *ex, uint64_t *queued, uint64_t *workers,
			  uint64_t *busy);
/* Loop thread: take a QUEUED or TAKEN job back before fn starts. Returns
 * RINGO__JOB_DROPPED (off the queue: the loop's again), _SKIPPED (a worker
 * holds it and hands it back without running fn) or _RUNNING (too late). */
int ringo__job_withdraw(struct ringo__job *job);

/* Close: complete every pending tsfuture whose task is abandoned with
 * -ECANCELED. Called by the executor's close before it waits for its
 * workers too, since a worker may be blocked on one (run_coroutine_
 * threadsafe from an executor job). */
void ringo__tsf_cancel_all(ringo_loop *loop);

/* MSG_RING messages (loops.c): a CQE whose user_data has bit 63 set. */
#define RINGO__UD_MSG (1ull << 63)
void ringo__msg_dispatch(ringo_loop *loop, uint64_t user_data, int32_t res);
/* The ring hands MSG_RING CQEs to the handler registered here (loops.c
 * registers ringo__msg_dispatch before it posts). */
typedef void ringo__msg_fn(ringo_loop *loop, uint64_t user_data, int32_t res);
void ringo__ring_set_msg_handler(ringo__msg_fn *fn);

#endif /* RINGO_THREAD_INTERNAL_H */
