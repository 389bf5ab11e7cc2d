/*
 * The executor: a pool of worker threads for blocking calls (the loop
 * side, to_thread and run_in_executor, is to_thread.c).
 *
 * A job is made on the loop thread, queued on an executor under its
 * mutex, run by a worker, and handed back through the loop's cross-thread
 * queue (thread_internal.h), whose one eventfd wakes the loop at most once
 * per burst. The worker never allocates and never touches the loop: it
 * only posts the job pointer. Job states and their races: thread_internal.h.
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
 * call: a worker takes a fair share of the queue (up to 32) per lock; its
 * results go back in one post, except that a job slower than 20 us posts
 * at once so a blocking call never holds back quicker results.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "thread_internal.h"

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

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

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
	RINGO_ASSERT(n <= BATCH);
	unsigned i = 0;
	while (i < n) {
		ringo_loop *loop = done[i]->loop;
		struct ringo__xq_entry e[BATCH];
		unsigned k = 0;
		while (i < n && done[i]->loop == loop) {
			struct ringo__job *job = done[i++];
			RINGO_ASSERT(job->done != NULL);
			e[k++] = (struct ringo__xq_entry){job->done, job, ex};
		}
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
	RINGO_ASSERT(ex->max_workers > 0);
	size_t queued = atomic_load_explicit(&ex->queued, memory_order_relaxed);
	size_t share = queued / ex->max_workers;
	unsigned want = share < 1 ? 1 : share > BATCH ? BATCH : (unsigned)share;
	unsigned n = 0;
	while (n < want && !ringo__list_empty(&ex->queue)) {
		struct ringo__job *job = ringo__container_of(ex->queue.next, struct ringo__job, link);
		ringo__list_remove(&job->link);
		atomic_store_explicit(&job->state, RINGO__JOB_TAKEN, memory_order_relaxed);
		jobs[n++] = job;
	}
	RINGO_ASSERT(n > 0 || ringo__list_empty(&ex->queue));
	atomic_fetch_sub_explicit(&ex->queued, n, memory_order_relaxed);
	return n;
}

/* Run fn unless the loop withdrew the job since it was taken. */
static void run_job(struct ringo__job *job)
{
	int taken = RINGO__JOB_TAKEN;
	if (!atomic_compare_exchange_strong(&job->state, &taken, RINGO__JOB_RUNNING)) {
		RINGO_ASSERT(taken == RINGO__JOB_SKIPPED);
		return; /* goes back without running */
	}
	RINGO_ASSERT(job->fn != NULL);
	job->result = NULL;
	/* fn sees the submitting task's context; its own sets die with it. */
	struct ringo__ctx_frame saved;
	ringo__context_enter(job->ctx, &saved);
	job->rc = job->fn(job->arg, &job->result);
	ringo__context_leave(&saved);
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

int ringo_executor_new(const ringo_executor_options *opts, ringo_executor **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	ringo_executor_options o = {0};
	if (opts)
		o = *opts;
	if (o.max_workers > 4096 || o.spin_ns < 0 || (o.flags & ~(unsigned)RINGO_EXECUTOR_NO_SPIN))
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
	if (o.flags & RINGO_EXECUTOR_NO_SPIN)
		ex->spin_ns = 0;
	else
		ex->spin_ns = o.spin_ns ? o.spin_ns : RINGO_USEC(50);
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

void ringo__executor_load(ringo_executor *ex, uint64_t *queued, uint64_t *workers,
			  uint64_t *busy)
{
	RINGO_ASSERT(ex != NULL);
	pthread_mutex_lock(&ex->lock);
	unsigned waiting = ex->idle + (unsigned)atomic_load(&ex->spinners);
	*queued = atomic_load_explicit(&ex->queued, memory_order_relaxed);
	*workers = ex->alive;
	*busy = ex->alive > waiting ? ex->alive - waiting : 0;
	pthread_mutex_unlock(&ex->lock);
}

int ringo__executor_submit(ringo_executor *ex, struct ringo__list *list, size_t n)
{
	RINGO_ASSERT(ex != NULL);
	RINGO_ASSERT(n > 0);
	RINGO_ASSERT(!ringo__list_empty(list));
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
		atomic_store_explicit(&job->state, RINGO__JOB_QUEUED, memory_order_relaxed);
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

int ringo__job_withdraw(struct ringo__job *job)
{
	RINGO_ASSERT(job->ex != NULL);
	int st = atomic_load_explicit(&job->state, memory_order_relaxed);
	RINGO_ASSERT(st != RINGO__JOB_DROPPED);
	RINGO_ASSERT(st != RINGO__JOB_SKIPPED);
	if (st == RINGO__JOB_QUEUED) {
		ringo_executor *ex = job->ex;
		pthread_mutex_lock(&ex->lock);
		st = atomic_load_explicit(&job->state, memory_order_relaxed);
		if (st == RINGO__JOB_QUEUED) {
			ringo__list_remove(&job->link);
			atomic_fetch_sub_explicit(&ex->queued, 1, memory_order_relaxed);
			atomic_store_explicit(&job->state, RINGO__JOB_DROPPED, memory_order_relaxed);
		}
		pthread_mutex_unlock(&ex->lock);
		if (st == RINGO__JOB_QUEUED)
			return RINGO__JOB_DROPPED;
		/* A worker took it meanwhile: TAKEN or later. */
	}
	int taken = RINGO__JOB_TAKEN;
	if (atomic_compare_exchange_strong(&job->state, &taken, RINGO__JOB_SKIPPED))
		return RINGO__JOB_SKIPPED;
	RINGO_ASSERT(taken == RINGO__JOB_RUNNING);
	return RINGO__JOB_RUNNING;
}

int ringo_executor_shutdown(ringo_executor *ex, int64_t timeout_ns)
{
	if (!ex)
		return -EINVAL;
	struct timespec ts;
	if (timeout_ns >= 0) {
		/* 0: do not wait (the timed wait fails at once if work is left). */
		int64_t now = mono_ns();
		int64_t t = timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
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
