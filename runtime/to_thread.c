/*
 * The loop side of the executor: ringo_to_thread, ringo_run_in_executor,
 * the loop's default executor, and what close does with jobs in flight
 * (the pool itself is executor.c).
 *
 * Jobs come from the loop's allocator, pooled per loop. to_thread jobs
 * made during one batch of callbacks go to the executor together, by a
 * flush queued on the ready queue (one lock and a few wake-ups per burst
 * instead of per call).
 *
 * Cancellation follows the rule of every suspension (DESIGN.md,
 * "Cancellation, stated once"): a task blocked in to_thread resumes only
 * when no worker will touch arg again. A job whose fn has not started is
 * withdrawn (the call returns -ECANCELED, fn never runs); one whose fn has
 * started is waited for, and fn's outcome is the call's, the cancel going
 * to the task's next suspension. A run_in_executor future is done only
 * once fn has returned or will never run, likewise.
 */
#include <string.h>

#include "thread_internal.h"

/* Per loop (loop thread only), made on first use. */
struct exec_state {
	ringo_executor *dflt;       /* the default executor, NULL until used */
	unsigned dflt_workers;      /* its size (0 = default) */
	bool dflt_shut;             /* shutdown_default_executor was called */
	struct ringo__job *free_jobs;
	size_t inflight;            /* jobs handed over, not yet back (or withdrawn) */
	/* to_thread jobs made during this batch of callbacks, handed to the
	 * default executor in one go by a flush that runs as the next item of
	 * the ready queue (one lock and a few wake-ups per burst instead of
	 * per call). The flush is a work item of ours, not a call_soon: it
	 * cannot fail, and it runs no other thread's posts first. */
	struct ringo__list pend;
	size_t npend;
	bool flush_queued;
	struct ringo__work flush_work;
	ringo_loop *loop;
};

/* For ringo_loop_stats: the default executor's load; the jobs made this
 * batch and not yet handed over count as queued. */
void ringo__exec_metrics(ringo_loop *loop, struct ringo_loop_stats *st)
{
	struct exec_state *s = loop->exec;
	if (!s)
		return;
	if (s->dflt)
		ringo__executor_load(s->dflt, &st->executor_queued, &st->executor_workers,
				     &st->executor_busy);
	st->executor_queued += s->npend;
}

static void exec_close(ringo_loop *loop, void *ctx);
static void flush_run(ringo_loop *loop, struct ringo__work *w);
static void job_done(ringo_loop *loop, void *a, void *b);

static struct exec_state *exec_get(ringo_loop *loop)
{
	if (ringo__likely(loop->exec != NULL))
		return loop->exec;
	struct exec_state *s = ringo__alloc(loop, sizeof(*s));
	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	ringo__list_init(&s->pend);
	s->flush_work.run = flush_run;
	if (ringo__add_close_hook(loop, exec_close, s) < 0) {
		ringo__free(loop, s, sizeof(*s));
		return NULL;
	}
	loop->exec = s;
	return s;
}

static int default_executor(struct exec_state *s, ringo_executor **out)
{
	if (s->dflt_shut)
		return -ESHUTDOWN;
	if (!s->dflt) {
		ringo_executor_options o = {.max_workers = s->dflt_workers};
		int err = ringo_executor_new(&o, &s->dflt);
		if (err < 0)
			return err;
	}
	*out = s->dflt;
	return 0;
}

static struct ringo__job *job_new(struct exec_state *s, ringo_task_fn *fn, void *arg)
{
	struct ringo__job *job = s->free_jobs;
	if (job)
		s->free_jobs = (struct ringo__job *)job->link.next;
	else if (!(job = ringo__alloc(s->loop, sizeof(*job))))
		return NULL;
	memset(job, 0, sizeof(*job));
	job->link.next = job->link.prev = &job->link;
	atomic_init(&job->state, RINGO__JOB_PENDING);
	job->fn = fn;
	job->arg = arg;
	job->done = job_done;
	job->loop = s->loop;
	job->ctx = ringo__context_capture(); /* the submitting task's, if any */
	return job;
}

static void job_free(struct exec_state *s, struct ringo__job *job)
{
	RINGO_ASSERT(job->loop == s->loop);
	ringo__context_release(job->ctx);
	job->ctx = NULL;
	job->link.next = (struct ringo__list *)s->free_jobs;
	s->free_jobs = job;
}

/* A job counts as in flight from its hand-over until job_done
 * (or its withdrawal): close waits for that, and the loop spins for
 * results while any are expected. */
static void track(struct exec_state *s)
{
	s->inflight++;
	s->loop->xq->expected++;
}

static void untrack(struct exec_state *s)
{
	RINGO_ASSERT(s->inflight > 0);
	s->inflight--;
	s->loop->xq->expected--;
}

/* Loop thread: take the job back if fn has not started (see
 * ringo__job_withdraw); a PENDING job is still ours alone. */
static int job_withdraw(struct exec_state *s, struct ringo__job *job)
{
	int st;
	if (atomic_load_explicit(&job->state, memory_order_relaxed) == RINGO__JOB_PENDING) {
		ringo__list_remove(&job->link);
		s->npend--;
		atomic_store_explicit(&job->state, RINGO__JOB_DROPPED, memory_order_relaxed);
		st = RINGO__JOB_DROPPED;
	} else {
		st = ringo__job_withdraw(job);
	}
	if (st == RINGO__JOB_DROPPED)
		untrack(s); /* it never reaches job_done */
	return st;
}

/* A run_in_executor future completes with fn's outcome. */
static void settle_future(ringo_future *fut, int rc, void *result)
{
	if (rc >= 0)
		ringo__future_complete(fut, RINGO__FUT_RESULT, result, 0, NULL);
	else if (rc == -ECANCELED || rc == -EINPROGRESS)
		ringo__future_complete(fut, RINGO__FUT_CANCELLED, NULL, -ECANCELED, NULL);
	else
		ringo__future_complete(fut, RINGO__FUT_ERROR, NULL, rc, NULL);
}

/* Loop thread, each job's done function, posted by its worker: the job
 * is back (or never reached one: a failed flush, with rc set). Also
 * during close, to clean up. */
static void job_done(ringo_loop *loop, void *a, void *b)
{
	struct ringo__job *job = a;
	struct exec_state *s = loop->exec;
	RINGO_ASSERT(s != NULL);
	RINGO_ASSERT(job->loop == loop);
	untrack(s);
	bool skipped = atomic_load_explicit(&job->state, memory_order_relaxed) == RINGO__JOB_SKIPPED;
	if (job->fut) {
		/* Settled even on a closed loop: the work was done, and its
		 * holder may still read the outcome (and free a result). A
		 * skipped job's future was cancelled when it was withdrawn. */
		if (!skipped)
			settle_future(job->fut, job->rc, job->result);
		ringo_future_release(job->fut);
		job_free(s, job);
		return;
	}
	if (!job->task) {
		RINGO_ASSERT(skipped); /* its task was woken at the withdrawal */
		job_free(s, job);
		return;
	}
	if (loop->closed) {
		/* The task was abandoned by close: its stack can go now. */
		ringo_task_release(job->task);
		job_free(s, job);
		return;
	}
	ringo__task_wake(job->task, 0); /* ringo_to_thread frees the job */
}

/* Hand the pending to_thread jobs to the default executor. If it takes
 * none (no thread could start, shut down, loop closed), each fails with
 * that error, as a call: fn never ran. */
static void flush_pending(struct exec_state *s)
{
	if (ringo__list_empty(&s->pend))
		return;
	size_t n = s->npend;
	s->npend = 0;
	int err = s->loop->closed ? -ESHUTDOWN : ringo__executor_submit(s->dflt, &s->pend, n);
	while (!ringo__list_empty(&s->pend)) {
		struct ringo__job *job = ringo__container_of(s->pend.next, struct ringo__job, link);
		ringo__list_remove(&job->link);
		job->rc = err;
		job_done(s->loop, job, NULL);
	}
}

static void flush_run(ringo_loop *loop, struct ringo__work *w)
{
	struct exec_state *s = ringo__container_of(w, struct exec_state, flush_work);
	s->flush_queued = false;
	flush_pending(s);
}

/* Queue a to_thread job for this batch's flush. */
static void defer_submit(struct exec_state *s, struct ringo__job *job)
{
	RINGO_ASSERT(atomic_load_explicit(&job->state, memory_order_relaxed) == RINGO__JOB_PENDING);
	ringo__list_insert_tail(&s->pend, &job->link);
	s->npend++;
	track(s);
	if (!s->flush_queued) {
		s->flush_queued = true;
		ringo__ready_push(s->loop, &s->flush_work);
	}
}

/* A cancel reached a task blocked in ringo_to_thread. */
static void to_thread_interrupt(ringo_task *t)
{
	struct ringo__job *job = ringo__task_wait_ctx(t);
	RINGO_ASSERT(job->task == t);
	struct exec_state *s = job->loop->exec;
	int st = job_withdraw(s, job);
	if (st == RINGO__JOB_RUNNING)
		return; /* the task resumes when fn returns (job_done) */
	/* fn never runs: nothing else owns arg. */
	job->task = NULL;
	if (st == RINGO__JOB_DROPPED)
		job_free(s, job);
	ringo_task_release(t);
	/* Delivered now, by this -ECANCELED; not again at the next suspension. */
	ringo__task_clear_cancel(t);
	ringo__task_wake(t, -ECANCELED);
}

/* keep_result true: once fn has returned, its outcome is the call's, even
 * if a cancel lands before the task runs (the cancel then waits for the
 * task's next suspension, as for I/O that completed). */
/* SUSPENDED: the job is the executor's until job_done, which on a
 * closed loop drops the task's reference itself (exec_close drains).
 * READY: fn returned and the task was woken; it would have freed the job
 * and dropped its reference on itself. */
static void to_thread_abandon(ringo_task *t)
{
	if (ringo_task_state(t) != RINGO_TASK_READY)
		return;
	struct ringo__job *job = ringo__task_wait_ctx(t);
	job_free(job->loop->exec, job);
	ringo_task_release(t);
}

static const struct ringo__wait_ops to_thread_wait = {
	.what = "to_thread", .interrupt = to_thread_interrupt, .keep_result = true,
	.abandon = to_thread_abandon};

int ringo_to_thread(ringo_task_fn *fn, void *arg, void **result)
{
	ringo_task *t = ringo_task_current();
	if (!t)
		return -EPERM;
	if (!fn)
		return -EINVAL;
	/* A suspension point: a cancel already pending is taken here, before
	 * anything starts. */
	if (ringo__task_cancel_pending(t)) {
		ringo__task_clear_cancel(t);
		return -ECANCELED;
	}
	ringo_loop *loop = ringo_future_loop(ringo_task_future(t));
	struct exec_state *s = exec_get(loop);
	if (!s)
		return -ENOMEM;
	ringo_executor *ex;
	int err = default_executor(s, &ex);
	if (err < 0)
		return err;
	struct ringo__job *job = job_new(s, fn, arg);
	if (!job)
		return -ENOMEM;
	job->task = t;
	ringo_task_ref(t);
	defer_submit(s, job);
	int woke = ringo__task_suspend(&to_thread_wait, job);
	if (woke < 0) {
		/* Withdrawn by a cancel before fn started: the interrupt let go
		 * of the job; fn never runs. */
		RINGO_ASSERT(woke == -ECANCELED);
		return woke;
	}
	int rc = job->rc;
	if (rc >= 0 && result)
		*result = job->result;
	job_free(s, job);
	ringo_task_release(t);
	return rc;
}

/* ringo_future_cancel on a run_in_executor future: a job not yet started
 * is withdrawn and the future cancelled; a running one completes with
 * fn's outcome when fn returns. */
static bool job_future_cancel(ringo_future *fut, const char *msg)
{
	if (fut->state != RINGO__FUT_PENDING)
		return false;
	struct ringo__job *job = fut->value; /* while pending: see internal.h */
	struct exec_state *s = fut->loop->exec;
	RINGO_ASSERT(s != NULL);
	RINGO_ASSERT(job->fut == fut);
	int st = job_withdraw(s, job);
	if (st == RINGO__JOB_RUNNING)
		return true; /* requested: completes with fn's outcome when it returns */
	ringo__future_complete(fut, RINGO__FUT_CANCELLED, NULL, -ECANCELED, msg);
	if (st == RINGO__JOB_DROPPED) {
		ringo_future_release(fut); /* the job's reference */
		job_free(s, job);
	}
	return true;
}

/* Only fn's outcome completes it (set_result: -EPERM while pending). */
static const struct ringo__future_ops job_future_ops = {.cancel = job_future_cancel};

int ringo_run_in_executor(ringo_loop *loop, ringo_executor *ex, ringo_task_fn *fn, void *arg,
			  ringo_future **out)
{
	if (out)
		*out = NULL;
	if (!loop || !fn || !out)
		return -EINVAL;
	int err = ringo__check_thread(loop);
	if (err < 0)
		return err;
	err = ringo__check_open(loop);
	if (err < 0)
		return err;
	struct exec_state *s = exec_get(loop);
	if (!s)
		return -ENOMEM;
	if (!ex && (err = default_executor(s, &ex)) < 0)
		return err;
	ringo_future *fut;
	err = ringo_future_new(loop, &fut);
	if (err < 0)
		return err;
	struct ringo__job *job = job_new(s, fn, arg);
	if (!job) {
		ringo_future_release(fut);
		return -ENOMEM;
	}
	job->fut = fut;
	struct ringo__list one;
	ringo__list_init(&one);
	ringo__list_insert_tail(&one, &job->link);
	err = ringo__executor_submit(ex, &one, 1);
	if (err < 0) {
		ringo_future_release(fut);
		job_free(s, job);
		return err;
	}
	fut->ops = &job_future_ops;
	fut->value = job;
	ringo_future_ref(fut); /* the job's */
	track(s);
	*out = fut;
	return 0;
}

int ringo_loop_set_default_executor_workers(ringo_loop *loop, unsigned max_workers)
{
	if (!loop || max_workers > 4096)
		return -EINVAL;
	struct exec_state *s = exec_get(loop);
	if (!s)
		return -ENOMEM;
	if (s->dflt)
		return -EBUSY;
	s->dflt_workers = max_workers;
	return 0;
}

int ringo_loop_shutdown_default_executor(ringo_loop *loop, int64_t timeout_ns)
{
	if (!loop)
		return -EINVAL;
	if (loop->closed)
		return 0; /* close already stopped it */
	/* Made if need be: "shut down" must be remembered even when no
	 * default executor was ever used. */
	struct exec_state *s = exec_get(loop);
	if (!s)
		return -ENOMEM;
	flush_pending(s);
	s->dflt_shut = true;
	if (!s->dflt)
		return 0;
	return ringo_executor_shutdown(s->dflt, timeout_ns);
}

/* Close: nothing is lost. The default executor finishes every queued job;
 * jobs on user executors are waited for; each comes back through job_done
 * (a future gets its outcome, an abandoned to_thread task its stack back)
 * so no job, no future and no stack leaks, and no worker writes into
 * memory close frees. */
static void exec_close(ringo_loop *loop, void *ctx)
{
	struct exec_state *s = ctx;
	flush_pending(s); /* closed: each pending job fails, fn never runs */
	/* A worker may be blocked on a tsfuture of this loop: it completes
	 * now, whichever close hook runs first. */
	ringo__tsf_cancel_all(loop);
	if (s->dflt)
		ringo_executor_shutdown(s->dflt, -1);
	while (s->inflight > 0)
		ringo__xq_wait_drain(loop);
	ringo_executor_free(s->dflt);
	while (s->free_jobs) {
		struct ringo__job *job = s->free_jobs;
		s->free_jobs = (struct ringo__job *)job->link.next;
		ringo__free(loop, job, sizeof(*job));
	}
	ringo__free(loop, s, sizeof(*s));
	loop->exec = NULL;
}
