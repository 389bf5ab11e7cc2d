/*
 * Private to the runtime: the cross-thread queue every loop has (xq), and
 * the hooks the loop calls into the thread layer. See include/ringo/thread.h
 * for the model.
 */
#ifndef RINGO_THREAD_INTERNAL_H
#define RINGO_THREAD_INTERNAL_H

#include <stdatomic.h>

#include "internal.h"
#include "context_internal.h"

/* One posted item: fn(loop, a, b) runs on the loop thread. During
 * ringo_loop_close (loop->closed is true) handlers must only clean up. */
typedef void ringo__xq_fn(ringo_loop *loop, void *a, void *b);

struct ringo__xq_entry {
	ringo__xq_fn *fn;
	void *a;
	void *b;
};

/* Laid out by who writes what: producers (any thread) touch the first
 * lines under the lock; `signalled` sits alone on its line because the
 * loop reads it on every call_soon; the loop-only fields follow. */
struct ringo__xq {
	pthread_mutex_t lock;
	pthread_cond_t cond;            /* close-time waiter (see waiter) */
	/* Guarded by lock: producers append here; the loop swaps it out. */
	struct ringo__xq_entry *v;
	size_t len, cap;
	bool closed;                    /* user posts refused (loop closing) */
	bool waiter;                    /* loop thread sleeps on cond */
	/* Coalescing: set by the producer that rings the eventfd (under the
	 * lock, after appending), cleared by the loop before it drains. A
	 * producer that finds it set does not write: the loop is bound to
	 * drain after its push. Also "posts may be waiting": call_soon reads
	 * it to keep asyncio's order (ringo__xq_pending). */
	_Alignas(64) _Atomic bool signalled;
	/* Loop thread only from here on. */
	_Alignas(64) bool armed;        /* the eventfd read is in flight */
	bool draining;                  /* inside ringo__xq_drain's handlers */
	/* Under valgrind, which keeps its big lock through a blocking
	 * io_uring_enter (3.19 does not treat it as a blocking syscall), a
	 * loop sleeping in the kernel stops every other thread, including the
	 * one that would wake it: the loop then polls and yields instead. */
	bool no_kernel_sleep;
	int efd;                        /* the eventfd */
	uint64_t ud;                    /* the armed read's op slot */
	uint64_t buf;                   /* its 8-byte target */
	ringo_loop *loop;
	/* Results the loop is waiting for from workers (executor jobs in
	 * flight); while > 0 the loop spins briefly on `signalled` before it
	 * would sleep (ringo__xq_spin). */
	size_t expected;
	/* The buffer the last drain swapped out, reused. */
	struct ringo__xq_entry *spare;
	size_t spare_cap;
};

/* loop.c calls these. */
int ringo__xq_init(ringo_loop *loop);           /* at ringo_loop_new */
void ringo__xq_arm(ringo_loop *loop);           /* each iteration, cheap */
void ringo__xq_refuse(ringo_loop *loop);        /* close begins */
void ringo__xq_close(ringo_loop *loop);         /* close ends: drop the rest */
void ringo__xq_free(ringo_loop *loop);          /* ringo_loop_free */

/* run_once, before a wait that may block: if worker results are
 * expected, spin up to a few tens of microseconds for one (a cross-core
 * wake-up of a sleeping loop costs ~20-60 us here). true if it drained
 * something (the loop then must not block). */
bool ringo__xq_spin(ringo_loop *loop);
/* The wait timeout to use (see no_kernel_sleep); may yield the CPU. */
int64_t ringo__xq_wait_bound(ringo_loop *loop, int64_t timeout);
/* An adaptive (spin-then-futex) mutex for the short cross-thread locks. */
void ringo__mutex_init(pthread_mutex_t *m);

/* Post an internal item (never refused; loop must not be freed yet).
 * 0 or -ENOMEM. Any thread. */
int ringo__xq_post(ringo_loop *loop, ringo__xq_fn *fn, void *a, void *b);
/* n entries under one lock (a worker's batch of results). */
int ringo__xq_post_many(ringo_loop *loop, const struct ringo__xq_entry *e, size_t n);
/* Run everything posted so far (loop thread). Returns how many. */
size_t ringo__xq_drain(ringo_loop *loop);

/* Posts not yet drained? Loop thread, one relaxed load: set from the
 * moment a post is queued until the drain that takes it begins, so a
 * post that happens-before this call is seen (or already drained). */
static inline bool ringo__xq_pending(const ringo_loop *loop)
{
	return atomic_load_explicit(&loop->xq->signalled, memory_order_relaxed);
}

/* call_soon found posts waiting: drain them first, so a callback posted
 * thread-safe before a call_soon runs before it (asyncio's order). A
 * no-op inside a drain (a handler's own call_soon keeps its place). */
void ringo__xq_catch_up(ringo_loop *loop);
/* Loop thread, at close: block until something is posted, then drain. */
void ringo__xq_wait_drain(ringo_loop *loop);

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
