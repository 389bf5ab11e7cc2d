/*
 * The executor: worker threads for blocking calls.
 *
 * A job is made on the loop thread (from the loop's allocator, pooled),
 * queued on an executor under its mutex, run by a worker, and handed back
 * through the loop's cross-thread queue (thread_internal.h), whose one
 * eventfd wakes the loop at most once per burst. The worker never
 * allocates and never touches the loop: it only posts the job pointer.
 *
 * Wake-ups on the executor side are rationed too: an idle worker spins
 * for spin_ns (one spinner at a time, so a 2-core box is not eaten by
 * spinners) before sleeping on the condvar. A submit of n jobs counts on
 * the spinner for the first of them and wakes a sleeper (or starts a
 * worker) for each further one, up to max_workers; a worker that leaves
 * jobs behind in the queue wakes one more. So a burst of blocking calls
 * spreads over the pool instead of queueing behind the one spinner.
 *
 * Batching, so a burst costs a few lock hand-offs rather than one per
 * call: to_thread jobs made during one batch of callbacks go to the
 * executor together (a flush queued on the ready queue); a worker takes a
 * fair share of the queue (up to 32) per lock; its results go back in one
 * post, except that a job slower than 20 us posts at once so a blocking
 * call never holds back quicker results.
 *
 * Cancellation cannot interrupt fn (a thread cannot be stopped safely), so
 * it follows the rule of every suspension (DESIGN.md, "Cancellation,
 * stated once"): a job whose fn has not started is withdrawn and never
 * runs; one whose fn has started is waited for, and its outcome delivered.
 * A job's states:
 *
 *   PENDING --flush--> QUEUED --a worker takes it--> TAKEN --fn starts--> RUNNING
 *      |                 |                             |
 *      +--- withdrawn ---+--> DROPPED                  +-- withdrawn --> SKIPPED
 *
 * PENDING is loop-thread only (this batch's to_thread jobs). QUEUED ->
 * TAKEN and the withdrawal of a QUEUED job happen under the executor's
 * lock (the job is on its queue). TAKEN -> RUNNING (the worker, just
 * before fn) and TAKEN -> SKIPPED (the loop) race on one compare-and-swap:
 * exactly one wins. A DROPPED job is the loop's again at once; a SKIPPED
 * one comes back through job_done without fn having run.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "thread_internal.h"

enum job_state { JOB_PENDING, JOB_QUEUED, JOB_TAKEN, JOB_RUNNING, JOB_DROPPED, JOB_SKIPPED };

struct ringo__job {
	/* The loop's pending batch (PENDING), an executor's queue (QUEUED,
	 * under its lock), or the loop's free list (next only). */
	struct ringo__list link;
	_Atomic int state;          /* enum job_state, as above */
	ringo_task_fn *fn;
	void *arg;
	int rc;                     /* fn's outcome, written by the worker */
	void *result;
	ringo_loop *loop;
	ringo_executor *ex;         /* where it is queued (from QUEUED on) */
	/* to_thread: the waiting task, with a reference that keeps its stack
	 * (where arg usually lives) even if the loop closes meanwhile. NULL
	 * once the task no longer waits (the job was withdrawn). */
	ringo_task *task;
	ringo_future *fut;          /* run_in_executor: the job's reference */
};

struct ringo_executor {
	pthread_mutex_t lock;
	pthread_cond_t work_cond;   /* workers sleep here */
	pthread_cond_t exit_cond;   /* shutdown waits here; CLOCK_MONOTONIC */
	/* Guarded by lock. */
	struct ringo__list queue;   /* QUEUED jobs, oldest first */
	unsigned nworkers;          /* threads started */
	unsigned alive;             /* threads not yet exited */
	unsigned idle;              /* sleeping on work_cond */
	unsigned wakeups;           /* signals sent not yet consumed */
	bool stopping;
	unsigned joined;            /* threads joined (by the shutdown caller) */
	/* Read by spinners without the lock. */
	_Atomic size_t queued;
	_Atomic int spinners;
	/* Set at creation. */
	unsigned max_workers;
	int64_t spin_ns;
	pthread_t *threads;         /* max_workers entries */
};

/* Per loop (loop thread only), made on first use. */
struct exec_state {
	ringo_executor *dflt;       /* the default executor, NULL until used */
	unsigned dflt_workers;      /* its size (0 = default) */
	bool dflt_shut;             /* shutdown_default_executor was called */
	struct ringo__job *free_jobs;
	size_t inflight;            /* jobs of this loop not yet back (job_done) */
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

/* ---- executor ---- */

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void job_done(ringo_loop *loop, void *a, void *b);
static bool wake_one(ringo_executor *ex);

static void spin_for_work(ringo_executor *ex)
{
	int zero = 0;
	if (ex->spin_ns <= 0 || !atomic_compare_exchange_strong(&ex->spinners, &zero, 1))
		return;
	int64_t until = mono_ns() + ex->spin_ns;
	for (unsigned i = 1; atomic_load_explicit(&ex->queued, memory_order_relaxed) == 0; i++) {
		if ((i & 63) == 0 && mono_ns() > until)
			break;
#if defined(__x86_64__)
		__builtin_ia32_pause();
#elif defined(__aarch64__)
		__asm__ volatile("yield");
#endif
	}
	/* Before taking the lock: a submit that still saw us spinning (under
	 * the lock) queued its job before we look at the queue. */
	atomic_store(&ex->spinners, 0);
}

#define BATCH 32
/* A job longer than this is not batched with others: its result (and the
 * ones before it) go out at once, so a blocking call never holds back a
 * quick one's result for long. */
#define QUICK_NS 20000

/* Hand results to their loops: consecutive jobs of one loop in one post.
 * After the post the loop owns the job again: no more touching it. */
static void post_results(ringo_executor *ex, struct ringo__job **done, unsigned n)
{
	unsigned i = 0;
	while (i < n) {
		ringo_loop *loop = done[i]->loop;
		struct ringo__xq_entry e[BATCH];
		unsigned k = 0;
		while (i < n && done[i]->loop == loop)
			e[k++] = (struct ringo__xq_entry){job_done, done[i++], ex};
		/* The queue's buffer only grows; on -ENOMEM retry until it can. */
		while (ringo__xq_post_many(loop, e, k) < 0)
			usleep(1000);
	}
}

/* Under ex->lock: take up to a fair share of the queue (at least one), so
 * a burst of quick jobs costs one lock per batch while queued blocking
 * jobs still spread over the workers. */
static unsigned take_jobs(ringo_executor *ex, struct ringo__job **jobs)
{
	size_t queued = atomic_load_explicit(&ex->queued, memory_order_relaxed);
	size_t share = queued / ex->max_workers;
	unsigned want = share < 1 ? 1 : share > BATCH ? BATCH : (unsigned)share;
	unsigned n = 0;
	while (n < want && !ringo__list_empty(&ex->queue)) {
		struct ringo__job *job = ringo__container_of(ex->queue.next, struct ringo__job, link);
		ringo__list_remove(&job->link);
		atomic_store_explicit(&job->state, JOB_TAKEN, memory_order_relaxed);
		jobs[n++] = job;
	}
	atomic_fetch_sub_explicit(&ex->queued, n, memory_order_relaxed);
	return n;
}

/* Run fn unless the loop withdrew the job since it was taken. */
static void run_job(struct ringo__job *job)
{
	int taken = JOB_TAKEN;
	if (!atomic_compare_exchange_strong(&job->state, &taken, JOB_RUNNING))
		return; /* SKIPPED: goes back without running */
	job->result = NULL;
	job->rc = job->fn(job->arg, &job->result);
}

static void *worker_main(void *arg)
{
	ringo_executor *ex = arg;
	struct ringo__job *jobs[BATCH];
	for (;;) {
		spin_for_work(ex);
		pthread_mutex_lock(&ex->lock);
		while (ringo__list_empty(&ex->queue) && !ex->stopping) {
			ex->idle++;
			pthread_cond_wait(&ex->work_cond, &ex->lock);
			ex->idle--;
			if (ex->wakeups)
				ex->wakeups--;
		}
		if (ringo__list_empty(&ex->queue))
			break; /* stopping and drained */
		unsigned n = take_jobs(ex, jobs);
		/* Work left behind: make sure one more worker comes for it (a
		 * submit may have counted on us, the spinner, for all of it). */
		if (!ringo__list_empty(&ex->queue))
			wake_one(ex);
		pthread_mutex_unlock(&ex->lock);
		unsigned posted = 0;
		for (unsigned i = 0; i < n; i++) {
			int64_t t0 = n > 1 ? mono_ns() : 0;
			run_job(jobs[i]);
			if (n > 1 && mono_ns() - t0 > QUICK_NS) {
				post_results(ex, jobs + posted, i + 1 - posted);
				posted = i + 1;
			}
		}
		post_results(ex, jobs + posted, n - posted);
	}
	ex->alive--;
	if (ex->alive == 0)
		pthread_cond_broadcast(&ex->exit_cond);
	pthread_mutex_unlock(&ex->lock);
	return NULL;
}

int ringo_executor_new(ringo_executor **out, const ringo_executor_options *opts)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	ringo_executor_options o = {0};
	if (opts)
		o = *opts;
	if (o.max_workers > 4096)
		return -EINVAL;
	if (o.max_workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		o.max_workers = n > 0 && n + 4 < 32 ? (unsigned)n + 4 : 32;
	}
	ringo_executor *ex = calloc(1, sizeof(*ex));
	if (!ex)
		return -ENOMEM;
	ex->threads = calloc(o.max_workers, sizeof(*ex->threads));
	if (!ex->threads) {
		free(ex);
		return -ENOMEM;
	}
	ringo__mutex_init(&ex->lock);
	pthread_cond_init(&ex->work_cond, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ex->exit_cond, &ca);
	pthread_condattr_destroy(&ca);
	ringo__list_init(&ex->queue);
	ex->max_workers = o.max_workers;
	ex->spin_ns = o.spin_ns < 0 ? 0 : o.spin_ns ? o.spin_ns : RINGO_USEC(50);
	atomic_init(&ex->queued, 0);
	atomic_init(&ex->spinners, 0);
	*out = ex;
	return 0;
}

/* Under ex->lock. Lazily, one at a time, only when nobody is free. */
static bool start_worker(ringo_executor *ex)
{
	if (ex->nworkers >= ex->max_workers)
		return false;
	if (pthread_create(&ex->threads[ex->nworkers], NULL, worker_main, ex) != 0)
		return false; /* fine while some worker exists to take the job */
	ex->nworkers++;
	ex->alive++;
	return true;
}

/* Under ex->lock: get one more worker coming for queued work: a sleeper
 * not already signalled, else a new thread. false if every worker is
 * busy (they come back for the queue when their job is done). */
static bool wake_one(ringo_executor *ex)
{
	if (ex->idle > ex->wakeups) {
		ex->wakeups++;
		pthread_cond_signal(&ex->work_cond);
		return true;
	}
	return start_worker(ex);
}

/* Under ex->lock: n jobs were just queued. The spinner, if any, takes the
 * first share without a wake-up; each further job gets a worker of its
 * own, up to max_workers. */
static void wake_workers(ringo_executor *ex, size_t n)
{
	size_t want = n < ex->max_workers ? n : ex->max_workers;
	size_t spinning = (size_t)atomic_load(&ex->spinners);
	for (size_t i = spinning; i < want; i++)
		if (!wake_one(ex))
			break;
}

/* Queue the n jobs of list (emptied) in one lock. 0, -ESHUTDOWN, or
 * -EAGAIN (no worker thread could be started): then nothing was taken. */
static int submit_list(ringo_executor *ex, struct ringo__list *list, size_t n)
{
	pthread_mutex_lock(&ex->lock);
	int err = ex->stopping ? -ESHUTDOWN : 0;
	if (err == 0 && ex->alive == 0 && !start_worker(ex))
		err = -EAGAIN;
	if (err < 0) {
		pthread_mutex_unlock(&ex->lock);
		return err;
	}
	for (struct ringo__list *l = list->next; l != list; l = l->next) {
		struct ringo__job *job = ringo__container_of(l, struct ringo__job, link);
		job->ex = ex;
		atomic_store_explicit(&job->state, JOB_QUEUED, memory_order_relaxed);
	}
	/* Splice the whole list onto the queue's tail. */
	struct ringo__list *first = list->next, *last = list->prev;
	first->prev = ex->queue.prev;
	ex->queue.prev->next = first;
	last->next = &ex->queue;
	ex->queue.prev = last;
	ringo__list_init(list);
	atomic_fetch_add_explicit(&ex->queued, n, memory_order_relaxed);
	wake_workers(ex, n);
	pthread_mutex_unlock(&ex->lock);
	return 0;
}

int ringo_executor_shutdown(ringo_executor *ex, int64_t timeout_ns)
{
	if (!ex)
		return -EINVAL;
	struct timespec ts;
	if (timeout_ns >= 0) {
		int64_t t = mono_ns() + timeout_ns;
		ts.tv_sec = t / 1000000000;
		ts.tv_nsec = t % 1000000000;
	}
	pthread_mutex_lock(&ex->lock);
	ex->stopping = true;
	pthread_cond_broadcast(&ex->work_cond);
	int rc = 0;
	while (ex->alive > 0 && rc == 0) {
		if (timeout_ns < 0)
			pthread_cond_wait(&ex->exit_cond, &ex->lock);
		else
			rc = pthread_cond_timedwait(&ex->exit_cond, &ex->lock, &ts);
	}
	bool all_out = ex->alive == 0;
	unsigned from = ex->joined, to = ex->nworkers;
	if (all_out)
		ex->joined = to;
	pthread_mutex_unlock(&ex->lock);
	if (!all_out)
		return -ETIMEDOUT;
	for (unsigned i = from; i < to; i++)
		pthread_join(ex->threads[i], NULL);
	return 0;
}

void ringo_executor_free(ringo_executor *ex)
{
	if (!ex)
		return;
	ringo_executor_shutdown(ex, -1);
	pthread_mutex_destroy(&ex->lock);
	pthread_cond_destroy(&ex->work_cond);
	pthread_cond_destroy(&ex->exit_cond);
	free(ex->threads);
	free(ex);
}

/* ---- the loop side ---- */

static void exec_close(ringo_loop *loop, void *ctx);
static void flush_run(ringo_loop *loop, struct ringo__work *w);

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
		int err = ringo_executor_new(&s->dflt, &o);
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
	atomic_init(&job->state, JOB_PENDING);
	job->fn = fn;
	job->arg = arg;
	job->loop = s->loop;
	return job;
}

static void job_free(struct exec_state *s, struct ringo__job *job)
{
	job->link.next = (struct ringo__list *)s->free_jobs;
	s->free_jobs = job;
}

/* The job counts as in flight from its hand-over until job_done (or its
 * withdrawal): close waits for that, and the loop spins for results while
 * any are expected. */
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

/* Loop thread: take the job back if fn has not started. Returns DROPPED
 * (it is ours again: free it), SKIPPED (a worker holds it and hands it
 * back to job_done without running fn) or RUNNING (too late: fn runs to
 * the end and job_done delivers its outcome). */
static int job_withdraw(struct exec_state *s, struct ringo__job *job)
{
	int st = atomic_load_explicit(&job->state, memory_order_relaxed);
	if (st == JOB_PENDING) {
		ringo__list_remove(&job->link);
		s->npend--;
		untrack(s);
		atomic_store_explicit(&job->state, JOB_DROPPED, memory_order_relaxed);
		return JOB_DROPPED;
	}
	if (st == JOB_QUEUED) {
		ringo_executor *ex = job->ex;
		pthread_mutex_lock(&ex->lock);
		st = atomic_load_explicit(&job->state, memory_order_relaxed);
		if (st == JOB_QUEUED) {
			ringo__list_remove(&job->link);
			atomic_fetch_sub_explicit(&ex->queued, 1, memory_order_relaxed);
			atomic_store_explicit(&job->state, JOB_DROPPED, memory_order_relaxed);
		}
		pthread_mutex_unlock(&ex->lock);
		if (st == JOB_QUEUED) {
			untrack(s);
			return JOB_DROPPED;
		}
		/* A worker took it meanwhile: TAKEN or later. */
	}
	int taken = JOB_TAKEN;
	if (atomic_compare_exchange_strong(&job->state, &taken, JOB_SKIPPED))
		return JOB_SKIPPED;
	RINGO_ASSERT(taken == JOB_RUNNING);
	return JOB_RUNNING;
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

/* Loop thread: a job is back from its worker (or never reached one: a
 * failed flush, with rc set). Also during close, to clean up. */
static void job_done(ringo_loop *loop, void *a, void *b)
{
	struct ringo__job *job = a;
	struct exec_state *s = loop->exec;
	RINGO_ASSERT(s != NULL);
	untrack(s);
	bool skipped = atomic_load_explicit(&job->state, memory_order_relaxed) == JOB_SKIPPED;
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
	int err = s->loop->closed ? -ESHUTDOWN : submit_list(s->dflt, &s->pend, n);
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
	struct exec_state *s = job->loop->exec;
	int st = job_withdraw(s, job);
	if (st == JOB_RUNNING)
		return; /* the task resumes when fn returns (job_done) */
	/* fn never runs: nothing else owns arg. */
	job->task = NULL;
	if (st == JOB_DROPPED)
		job_free(s, job);
	ringo_task_release(t);
	/* Delivered now, by this -ECANCELED; not again at the next suspension. */
	ringo__task_clear_cancel(t);
	ringo__task_wake(t, -ECANCELED);
}

/* keep_result true: once fn has returned, its outcome is the call's, even
 * if a cancel lands before the task runs (the cancel then waits for the
 * task's next suspension, as for I/O that completed). */
static const struct ringo__wait_ops to_thread_wait = {"to_thread", to_thread_interrupt, true};

int ringo_to_thread(ringo_task_fn *fn, void *arg, void **result)
{
	ringo_task *t = ringo_current_task();
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

/* ringo_future_cancel on a run_in_executor future (future.c). */
bool ringo__job_cancel(ringo_future *fut, const char *msg)
{
	struct ringo__job *job = fut->value; /* while pending: see internal.h */
	struct exec_state *s = fut->loop->exec;
	RINGO_ASSERT(s != NULL && job->fut == fut);
	int st = job_withdraw(s, job);
	if (st == JOB_RUNNING)
		return true; /* requested: completes with fn's outcome when it returns */
	ringo__future_complete(fut, RINGO__FUT_CANCELLED, NULL, -ECANCELED, msg);
	if (st == JOB_DROPPED) {
		ringo_future_release(fut); /* the job's reference */
		job_free(s, job);
	}
	return true;
}

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
	err = submit_list(ex, &one, 1);
	if (err < 0) {
		ringo_future_release(fut);
		job_free(s, job);
		return err;
	}
	/* Its cancel goes through ringo__job_cancel; only fn's outcome
	 * completes it. */
	fut->is_job = 1;
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

int ringo_shutdown_default_executor(ringo_loop *loop, int64_t timeout_ns)
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
