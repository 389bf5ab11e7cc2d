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
 * spinners) before sleeping on the condvar, and a submit signals the
 * condvar only when nobody spins and some sleeper is not already woken.
 *
 * Batching, so a burst costs a few lock hand-offs rather than one per
 * call: to_thread jobs made during one batch of callbacks go to the
 * executor together (a call_soon'd flush); a worker takes a fair share of
 * the queue (up to 32) per lock; its results go back in one post, except
 * that a job slower than 20 us posts at once so a blocking call never
 * holds back quicker results.
 *
 * Cancellation does not reach the worker (asyncio): a cancelled waiter
 * detaches from its job, and the job's result is dropped on arrival.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "thread_internal.h"

struct ringo__job {
	struct ringo__job *next;    /* executor queue / loop's free list */
	ringo_task_fn *fn;
	void *arg;
	int rc;                     /* fn's outcome, written by the worker */
	void *result;
	bool done;                  /* loop thread: the result has arrived */
	ringo_loop *loop;
	ringo_task *task;           /* to_thread waiter; NULL once detached */
	ringo_future *fut;          /* run_in_executor: our reference */
};

struct ringo_executor {
	pthread_mutex_t lock;
	pthread_cond_t work_cond;   /* workers sleep here */
	pthread_cond_t exit_cond;   /* shutdown waits here; CLOCK_MONOTONIC */
	/* Guarded by lock. */
	struct ringo__job *head, **tail;
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
	size_t inflight;            /* jobs of this loop in any executor */
	/* to_thread jobs made during this batch of callbacks, handed to the
	 * default executor in one go by a call_soon'd flush (one lock and a
	 * few wake-ups per burst instead of per call). */
	struct ringo__job *pend_head, **pend_tail;
	size_t npend;
	bool flush_queued;
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
	atomic_store(&ex->spinners, 0);
}

#define BATCH 32
/* A job longer than this is not batched with others: its result (and the
 * ones before it) go out at once, so a blocking call never holds back a
 * quick one's result for long. */
#define QUICK_NS 20000

/* Hand results to their loops: consecutive jobs of one loop in one post. */
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
	while (n < want && ex->head) {
		jobs[n++] = ex->head;
		ex->head = ex->head->next;
	}
	if (!ex->head)
		ex->tail = &ex->head;
	atomic_fetch_sub_explicit(&ex->queued, n, memory_order_relaxed);
	return n;
}

static void *worker_main(void *arg)
{
	ringo_executor *ex = arg;
	struct ringo__job *jobs[BATCH];
	for (;;) {
		spin_for_work(ex);
		pthread_mutex_lock(&ex->lock);
		while (!ex->head && !ex->stopping) {
			ex->idle++;
			pthread_cond_wait(&ex->work_cond, &ex->lock);
			ex->idle--;
			if (ex->wakeups)
				ex->wakeups--;
		}
		if (!ex->head)
			break; /* stopping and drained */
		unsigned n = take_jobs(ex, jobs);
		pthread_mutex_unlock(&ex->lock);
		unsigned posted = 0;
		for (unsigned i = 0; i < n; i++) {
			struct ringo__job *job = jobs[i];
			int64_t t0 = n > 1 ? mono_ns() : 0;
			job->result = NULL;
			job->rc = job->fn(job->arg, &job->result);
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
	ex->tail = &ex->head;
	ex->max_workers = o.max_workers;
	ex->spin_ns = o.spin_ns < 0 ? 0 : o.spin_ns ? o.spin_ns : RINGO_USEC(50);
	atomic_init(&ex->queued, 0);
	atomic_init(&ex->spinners, 0);
	*out = ex;
	return 0;
}

/* Under ex->lock: make sure someone will pick the job just queued. */
static void wake_one(ringo_executor *ex)
{
	if (atomic_load(&ex->spinners) > 0)
		return;
	if (ex->idle > ex->wakeups) {
		ex->wakeups++;
		pthread_cond_signal(&ex->work_cond);
		return;
	}
	if (ex->nworkers < ex->max_workers) {
		/* Lazily, one at a time, only when nobody is free. A failed
		 * create is fine while some worker exists to take the job. */
		if (pthread_create(&ex->threads[ex->nworkers], NULL, worker_main, ex) == 0) {
			ex->nworkers++;
			ex->alive++;
		}
	}
}

/* A chain of n jobs in one lock. 0, -ESHUTDOWN, -EAGAIN (nothing taken). */
static int submit_chain(ringo_executor *ex, struct ringo__job *head, struct ringo__job **tail,
			size_t n)
{
	pthread_mutex_lock(&ex->lock);
	if (ex->stopping) {
		pthread_mutex_unlock(&ex->lock);
		return -ESHUTDOWN;
	}
	struct ringo__job **old_tail = ex->tail;
	*ex->tail = head;
	ex->tail = tail;
	atomic_fetch_add_explicit(&ex->queued, n, memory_order_relaxed);
	for (size_t i = 0; i < n && i < ex->max_workers; i++)
		wake_one(ex);
	int err = ex->alive ? 0 : -EAGAIN;
	if (err < 0) {
		*old_tail = NULL;
		ex->tail = old_tail;
		atomic_fetch_sub_explicit(&ex->queued, n, memory_order_relaxed);
	}
	pthread_mutex_unlock(&ex->lock);
	return err;
}

static int submit(ringo_executor *ex, struct ringo__job *job)
{
	job->next = NULL;
	return submit_chain(ex, job, &job->next, 1);
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

static struct exec_state *exec_get(ringo_loop *loop)
{
	if (ringo__likely(loop->exec != NULL))
		return loop->exec;
	struct exec_state *s = ringo__alloc(loop, sizeof(*s));
	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->pend_tail = &s->pend_head;
	if (ringo__add_close_hook(loop, exec_close, s) < 0) {
		ringo__free(loop, s, sizeof(*s));
		return NULL;
	}
	loop->exec = s;
	return s;
}

static int default_executor(ringo_loop *loop, struct exec_state *s, ringo_executor **out)
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

static struct ringo__job *job_new(ringo_loop *loop, struct exec_state *s)
{
	struct ringo__job *job = s->free_jobs;
	if (job)
		s->free_jobs = job->next;
	else if (!(job = ringo__alloc(loop, sizeof(*job))))
		return NULL;
	memset(job, 0, sizeof(*job));
	job->loop = loop;
	return job;
}

static void job_free(struct exec_state *s, struct ringo__job *job)
{
	job->next = s->free_jobs;
	s->free_jobs = job;
}

static void settle_future(ringo_future *fut, int rc, void *result)
{
	if (ringo_future_done(fut))
		return; /* cancelled by its holder: the result is dropped */
	if (rc >= 0)
		ringo_future_set_result(fut, result);
	else if (rc == -ECANCELED || rc == -EINPROGRESS)
		ringo_future_cancel(fut, NULL);
	else
		ringo_future_set_error(fut, rc);
}

/* Loop thread: a worker finished job (also during close, for cleanup). */
static void job_done(ringo_loop *loop, void *a, void *b)
{
	struct ringo__job *job = a;
	struct exec_state *s = loop->exec;
	RINGO_ASSERT(s != NULL && s->inflight > 0);
	s->inflight--;
	loop->xq->expected--;
	if (job->fut) {
		if (!loop->closed)
			settle_future(job->fut, job->rc, job->result);
		ringo_future_release(job->fut);
		job_free(s, job);
		return;
	}
	if (job->task && !loop->closed) {
		/* The task frees the job when it resumes. */
		job->done = true;
		ringo__task_wake(job->task, 0);
		return;
	}
	job_free(s, job); /* the waiter was cancelled, or the loop closed */
}

/* Hand the pending to_thread jobs to the default executor. If it takes
 * none (no thread could start), each fails with that error, as a call. */
static void flush_pending(struct exec_state *s)
{
	struct ringo__job *head = s->pend_head, **tail = s->pend_tail;
	size_t n = s->npend;
	s->pend_head = NULL;
	s->pend_tail = &s->pend_head;
	s->npend = 0;
	if (!head)
		return;
	int err = s->loop->closed ? -ESHUTDOWN : submit_chain(s->dflt, head, tail, n);
	if (err == 0)
		return;
	while (head) {
		struct ringo__job *next = head->next;
		head->rc = err;
		job_done(s->loop, head, NULL);
		head = next;
	}
}

static void flush_cb(void *arg)
{
	struct exec_state *s = arg;
	s->flush_queued = false;
	flush_pending(s);
}

/* Queue a to_thread job for this batch's flush. */
static void defer_submit(ringo_loop *loop, struct exec_state *s, struct ringo__job *job)
{
	job->next = NULL;
	*s->pend_tail = job;
	s->pend_tail = &job->next;
	s->npend++;
	s->inflight++;
	loop->xq->expected++;
	if (s->flush_queued)
		return;
	if (ringo_call_soon(loop, flush_cb, s, NULL) == 0)
		s->flush_queued = true;
	else
		flush_pending(s); /* -ENOMEM: no batching this time */
}

static void to_thread_interrupt(ringo_task *t)
{
	struct ringo__job *job = ringo__task_wait_ctx(t);
	job->task = NULL; /* detach: job_done will drop the result */
	ringo__task_wake(t, -ECANCELED);
}

/* keep_result false: a cancel that lands after the result was queued wins
 * (asyncio delivers CancelledError into the await). */
static const struct ringo__wait_ops to_thread_wait = {"to_thread", to_thread_interrupt, false};

int ringo_to_thread(ringo_task_fn *fn, void *arg, void **result)
{
	ringo_task *t = ringo_current_task();
	if (!t)
		return -EPERM;
	if (!fn)
		return -EINVAL;
	ringo_loop *loop = ringo_future_loop(ringo_task_future(t));
	struct exec_state *s = exec_get(loop);
	if (!s)
		return -ENOMEM;
	ringo_executor *ex;
	int err = default_executor(loop, s, &ex);
	if (err < 0)
		return err;
	struct ringo__job *job = job_new(loop, s);
	if (!job)
		return -ENOMEM;
	job->fn = fn;
	job->arg = arg;
	job->task = t;
	defer_submit(loop, s, job);
	int woke = ringo__task_suspend(&to_thread_wait, job);
	if (!job->done) {
		/* Cancelled (possibly before suspending): the worker keeps the
		 * job; its result is dropped when it arrives. */
		job->task = NULL;
		return woke < 0 ? woke : -ECANCELED;
	}
	int rc = woke == -ECANCELED ? -ECANCELED : job->rc;
	if (rc >= 0 && result)
		*result = job->result;
	job_free(s, job);
	return rc;
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
	if (!ex && (err = default_executor(loop, s, &ex)) < 0)
		return err;
	ringo_future *fut;
	err = ringo_future_new(loop, &fut);
	if (err < 0)
		return err;
	struct ringo__job *job = job_new(loop, s);
	if (!job) {
		ringo_future_release(fut);
		return -ENOMEM;
	}
	job->fn = fn;
	job->arg = arg;
	job->fut = fut;
	ringo_future_ref(fut); /* the job's */
	err = submit(ex, job);
	if (err < 0) {
		ringo_future_release(fut);
		ringo_future_release(fut);
		job_free(s, job);
		return err;
	}
	s->inflight++;
	loop->xq->expected++;
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
	struct exec_state *s = loop->exec;
	if (!s)
		return 0;
	flush_pending(s);
	s->dflt_shut = true;
	if (!s->dflt)
		return 0;
	return ringo_executor_shutdown(s->dflt, timeout_ns);
}

/* Close: nothing is lost. The default executor finishes every queued job;
 * jobs on user executors are waited for; each result is collected (and
 * dropped: nothing can run any more) so no job and no future leaks. */
static void exec_close(ringo_loop *loop, void *ctx)
{
	struct exec_state *s = ctx;
	flush_pending(s); /* closed: each pending job is dropped */
	if (s->dflt)
		ringo_executor_shutdown(s->dflt, -1);
	while (s->inflight > 0)
		ringo__xq_wait_drain(loop);
	ringo_executor_free(s->dflt);
	while (s->free_jobs) {
		struct ringo__job *job = s->free_jobs;
		s->free_jobs = job->next;
		ringo__free(loop, job, sizeof(*job));
	}
	ringo__free(loop, s, sizeof(*s));
	loop->exec = NULL;
}
