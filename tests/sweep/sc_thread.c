/*
 * Sweep scenarios: ringo_to_thread, ringo_run_in_executor (cancel the
 * future by cancelling the task awaiting it), ringo_spawn_threadsafe
 * (cancel the tsfuture).
 *
 * The worker's job lives on the victim's stack and the worker writes into
 * it: after the call returned, nothing may (ASan poisoning, canary), and
 * the watch lasts until the worker's function has returned.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "sweep.h"

#define RESULT ((void *)(uintptr_t)0x7070)

struct job {
	int in, out;
	char scratch[32];
	_Atomic int *done;
};

/* A blocking call: sleeps a little (so cancels land while it runs), then
 * writes its answer into the job. */
static int job_fn(void *arg, void **result)
{
	struct job *j = arg;
	struct timespec ts = {0, 100 * 1000};
	nanosleep(&ts, NULL);
	j->out = j->in * 2;
	memset(j->scratch, 'w', sizeof(j->scratch));
	*result = RESULT;
	atomic_store_explicit(j->done, 1, memory_order_release);
	return 0;
}

struct thread_st {
	_Atomic int fn_done;
	int out;
	void *res;
	bool f_cancelled;
	bool f_done;
	int f_rc;        /* the future's own outcome after await returned */
	void *f_value;
	/* spawn_threadsafe */
	ringo_tsfuture *tsf;
	pthread_t waiter;
	bool waiter_started;
	int waiter_rc;
	void *waiter_value;
	_Atomic int child_state; /* 0 not started, 1 running, 2 finished */
	int child_rc;
};

/* ---- ringo_to_thread ---- */

static int to_thread_victim(struct sweep_ctx *c)
{
	struct thread_st *st = sweep_priv(c);
	struct job job = {.in = 21, .done = &st->fn_done};
	void *res = NULL;
	int rc = ringo_to_thread(job_fn, &job, &res);
	if (rc == 0)
		st->out = job.out;
	st->res = res;
	sweep_post_until(c, &st->fn_done);
	return sweep_returned(c, rc, SWEEP_MEM(&job, offsetof(struct job, done)),
			      SWEEP_MEM(&res, sizeof(res)));
}

/* The task resumes only once nothing else owns the job: fn ran to the
 * end (its result returned) or never ran (-ECANCELED). */
static void to_thread_check(struct sweep_ctx *c)
{
	struct thread_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	int ran = atomic_load(&st->fn_done);
	if (!sweep_called(c)) {
		SWEEP_CHECK(c, !ran, "fn ran for a call never made");
		return;
	}
	SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
	SWEEP_CHECK(c, rc != 0 || (ran && st->out == 42 && st->res == RESULT), "out %d res %p",
		    st->out, st->res);
	SWEEP_CHECK(c, rc != -ECANCELED || !ran, "-ECANCELED, yet fn ran");
}

/* ---- ringo_run_in_executor: the victim awaits the future ---- */

/* Once the future is done, fn has returned or will never run: arg is
 * free (thread.h), so the job is handed back as soon as await returns. */
static int executor_victim(struct sweep_ctx *c)
{
	struct thread_st *st = sweep_priv(c);
	struct job job = {.in = 21, .done = &st->fn_done};
	ringo_future *f;
	int err = ringo_run_in_executor(sweep_loop(c), NULL, job_fn, &job, &f);
	if (err < 0)
		return err;
	void *res = NULL;
	int rc = ringo_await(f, &res);
	st->f_done = ringo_future_done(f);
	if (rc == 0)
		st->out = job.out;
	st->res = res;
	st->f_cancelled = ringo_future_cancelled(f);
	st->f_rc = ringo_future_result(f, &st->f_value);
	ringo_future_release(f);
	sweep_post_until(c, &st->fn_done); /* to catch a late write */
	return sweep_returned(c, rc, SWEEP_MEM(&job, offsetof(struct job, done)),
			      SWEEP_MEM(&res, sizeof(res)));
}

/* fn's outcome (it ran, a cancel of the running job is absorbed), or
 * cancelled and fn never ran. A cancel that lands after the future
 * completed and before the awaiting task runs makes await return
 * -ECANCELED (asyncio throws CancelledError into the coroutine then too):
 * fn ran, and its result is not lost: the future still holds it. */
static void executor_check(struct sweep_ctx *c)
{
	struct thread_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	int ran = atomic_load(&st->fn_done);
	if (!sweep_called(c))
		return;
	SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
	SWEEP_CHECK(c, st->f_done, "await returned %d with the future pending", rc);
	SWEEP_CHECK(c, rc != 0 || (ran && st->out == 42 && st->res == RESULT), "out %d res %p",
		    st->out, st->res);
	SWEEP_CHECK(c,
		    rc != -ECANCELED || (st->f_cancelled && !ran) ||
			    (ran && st->f_rc == 0 && st->f_value == RESULT),
		    "await cancelled: the future %s (outcome %d), fn %s",
		    st->f_cancelled ? "cancelled" : "not", st->f_rc, ran ? "ran" : "never ran");
}

/* ---- ringo_spawn_threadsafe: a thread waits, the tsfuture is cancelled ---- */

static int ts_child(void *arg, void **result)
{
	struct thread_st *st = arg;
	atomic_store(&st->child_state, 1);
	st->child_rc = 0;
	for (int i = 0; i < 4 && st->child_rc == 0; i++)
		st->child_rc = ringo_sleep(0);
	atomic_store(&st->child_state, 2);
	if (st->child_rc < 0)
		return st->child_rc;
	*result = RESULT;
	return 0;
}

static void *ts_waiter(void *arg)
{
	struct thread_st *st = arg;
	st->waiter_rc = ringo_tsfuture_result(st->tsf, -1, &st->waiter_value);
	return NULL;
}

static int ts_setup(struct sweep_ctx *c)
{
	struct thread_st *st = sweep_priv(c);
	int err = ringo_spawn_threadsafe(sweep_loop(c), ts_child, st, &st->tsf);
	if (err < 0)
		return err;
	if (pthread_create(&st->waiter, NULL, ts_waiter, st) != 0)
		return -EAGAIN;
	st->waiter_started = true;
	return 0;
}

static bool ts_inject(struct sweep_ctx *c)
{
	struct thread_st *st = sweep_priv(c);
	return ringo_tsfuture_cancel(st->tsf);
}

/* The victim only waits for the child (or for a child that will never
 * run) so that the run ends after it. */
static int ts_victim(struct sweep_ctx *c)
{
	struct thread_st *st = sweep_priv(c);
	int waited = 0;
	while (atomic_load(&st->child_state) != 2) {
		if (ringo_tsfuture_done(st->tsf) && atomic_load(&st->child_state) == 0 && waited > 20)
			break; /* cancelled before its first step: never runs */
		ringo_sleep(0);
		waited++;
	}
	return sweep_returned(c, 0, SWEEP_NOMEM);
}

/* The waiting thread's view agrees with the task: its value exactly
 * when the task finished normally (also despite a cancel), -ECANCELED
 * exactly when the task never ran or took the cancel. */
static void ts_check(struct sweep_ctx *c)
{
	struct thread_st *st = sweep_priv(c);
	pthread_join(st->waiter, NULL);
	st->waiter_started = false;
	int state = atomic_load(&st->child_state);
	bool finished = state == 2 && st->child_rc == 0;
	SWEEP_CHECK(c, st->waiter_rc == 0 || st->waiter_rc == -ECANCELED, "the waiter got %d",
		    st->waiter_rc);
	SWEEP_CHECK(c, (st->waiter_rc == 0) == finished,
		    "the waiter got %d, the task %s (state %d, rc %d)", st->waiter_rc,
		    finished ? "finished" : "did not finish", state, st->child_rc);
	SWEEP_CHECK(c, st->waiter_rc != 0 || st->waiter_value == RESULT, "value %p",
		    st->waiter_value);
	SWEEP_CHECK(c, sweep_landed(c) || finished, "no cancel, yet the task did not finish");
	SWEEP_CHECK(c, ringo_tsfuture_done(st->tsf), "the tsfuture is not done");
	ringo_tsfuture_release(st->tsf);
}

static void ts_cleanup(struct sweep_ctx *c)
{
	struct thread_st *st = sweep_priv(c);
	if (st->waiter_started) {
		/* The run failed before check: the loop's close completes it. */
		ringo_tsfuture_cancel(st->tsf);
		pthread_join(st->waiter, NULL);
		ringo_tsfuture_release(st->tsf);
	}
}

const struct sweep_scenario sweep_thread_scenarios[] = {
	{.name = "to_thread", .call = "ringo_to_thread", .flags = SWEEP_THREADS,
	 .priv_size = sizeof(struct thread_st), .victim = to_thread_victim,
	 .check = to_thread_check},
	{.name = "run_in_executor", .call = "ringo_run_in_executor (await)",
	 .flags = SWEEP_THREADS | SWEEP_MAY_ABSORB,
	 .priv_size = sizeof(struct thread_st), .victim = executor_victim,
	 .check = executor_check},
	{.name = "spawn_threadsafe", .call = "ringo_spawn_threadsafe (cancel)",
	 .flags = SWEEP_OWN_INJECT, .priv_size = sizeof(struct thread_st),
	 .setup = ts_setup, .victim = ts_victim, .check = ts_check, .cleanup = ts_cleanup,
	 .inject = ts_inject},
};
const size_t sweep_thread_count = sizeof(sweep_thread_scenarios) / sizeof(sweep_thread_scenarios[0]);
