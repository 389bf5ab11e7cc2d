/* The executor: to_thread, run_in_executor, cancellation, shutdown, and
 * bursts spreading over the pool. Some tests are ported from CPython's
 * Lib/test/test_asyncio (test_threads.py, test_events.py); their names
 * say which. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

static int add_one(void *arg, void **result)
{
	*result = (void *)((intptr_t)arg + 1);
	return 0;
}

static int fails(void *arg, void **result)
{
	return -EIO;
}

static int count_fn(void *arg, void **result)
{
	atomic_fetch_add((atomic_int *)arg, 1);
	*result = arg;
	return 0;
}

/* A gate: fn blocks until it opens; entered counts who got there. */
struct gate {
	pthread_mutex_t m;
	pthread_cond_t c;
	bool open;
	int entered;
	atomic_int ran;
};

static void gate_init(struct gate *g)
{
	pthread_mutex_init(&g->m, NULL);
	pthread_cond_init(&g->c, NULL);
	g->open = false;
	g->entered = 0;
	atomic_init(&g->ran, 0);
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->m);
	g->open = true;
	pthread_cond_broadcast(&g->c);
	pthread_mutex_unlock(&g->m);
}

static void gate_open_cb(void *arg)
{
	gate_open(arg);
}

/* Block the calling thread until n workers are inside wait_gate. */
static void gate_wait_entered(struct gate *g, int n)
{
	pthread_mutex_lock(&g->m);
	while (g->entered < n)
		pthread_cond_wait(&g->c, &g->m);
	pthread_mutex_unlock(&g->m);
}

static void gate_pass(struct gate *g)
{
	pthread_mutex_lock(&g->m);
	g->entered++;
	pthread_cond_broadcast(&g->c);
	while (!g->open)
		pthread_cond_wait(&g->c, &g->m);
	pthread_mutex_unlock(&g->m);
}

static int wait_gate(void *arg, void **result)
{
	struct gate *g = arg;
	gate_pass(g);
	atomic_fetch_add(&g->ran, 1);
	*result = g;
	return 0;
}

static void cancel_cb(void *arg)
{
	ringo_task_cancel(arg, NULL);
}

static void stop_cb(void *arg)
{
	ringo_loop_stop(arg);
}

/* One loop iteration (the callbacks ready now, and what I/O brings). */
static void run_once(ringo_loop *loop)
{
	assert_int_equal(ringo_call_soon(loop, stop_cb, loop, NULL), 0);
	assert_int_equal(ringo_loop_run_forever(loop), 0);
}

/* ---- to_thread: results (CPython test_threads.py) ---- */

static int to_thread_body(void *arg, void **result)
{
	return ringo_to_thread(add_one, arg, result);
}

/* test_to_thread */
static void test_to_thread_returns_the_result(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, to_thread_body, (void *)41, NULL, &t), 0);
	void *v = NULL;
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), &v), 0);
	assert_int_equal((intptr_t)v, 42);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int to_thread_fails(void *arg, void **result)
{
	return ringo_to_thread(fails, NULL, result);
}

/* test_to_thread_exception */
static void test_to_thread_delivers_the_error_of_fn(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, to_thread_fails, NULL, NULL, &t), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), -EIO);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int to_thread_count(void *arg, void **result)
{
	void *v = NULL;
	int rc = ringo_to_thread(count_fn, arg, &v);
	if (rc == 0 && v != arg)
		return -EBADMSG;
	return rc;
}

/* test_to_thread_once */
static void test_to_thread_calls_fn_exactly_once(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	atomic_int count;
	atomic_init(&count, 0);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, to_thread_count, &count, NULL, &t), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
	assert_int_equal(atomic_load(&count), 1);
}

static int gather_ten(void *arg, void **result)
{
	ringo_future *fs[10];
	ringo_task *ts[10];
	for (int i = 0; i < 10; i++) {
		if (ringo_spawn(ringo_loop_current(), to_thread_count, arg, NULL, &ts[i]) < 0)
			return -ENOMEM;
		fs[i] = ringo_task_future(ts[i]);
	}
	struct ringo_gather_result out[10];
	int rc = ringo_gather(fs, 10, false, out);
	for (int i = 0; i < 10; i++)
		ringo_task_release(ts[i]);
	return rc;
}

/* test_to_thread_concurrent */
static void test_to_thread_concurrent_calls_all_run(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	atomic_int count;
	atomic_init(&count, 0);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, gather_ten, &count, NULL, &t), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	assert_int_equal(atomic_load(&count), 10);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void test_to_thread_outside_a_task_is_eperm(void **state)
{
	assert_int_equal(ringo_to_thread(add_one, NULL, NULL), -EPERM);
}

static int to_thread_null_fn(void *arg, void **result)
{
	return ringo_to_thread(NULL, NULL, result);
}

static void test_to_thread_without_fn_is_einval(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, to_thread_null_fn, NULL, NULL, &t), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), -EINVAL);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

#define MANY 2000
static int many_body(void *arg, void **result)
{
	atomic_int *sum = arg;
	void *v = NULL;
	int rc = ringo_to_thread(add_one, (void *)1, &v);
	if (rc == 0)
		atomic_fetch_add(sum, (int)(intptr_t)v);
	return rc;
}

static int spawn_many(void *arg, void **result)
{
	ringo_task *ts[MANY];
	for (int i = 0; i < MANY; i++)
		if (ringo_spawn(ringo_loop_current(), many_body, arg, NULL, &ts[i]) < 0)
			return -ENOMEM;
	for (int i = 0; i < MANY; i++) {
		ringo_await(ringo_task_future(ts[i]), NULL);
		ringo_task_release(ts[i]);
	}
	return 0;
}

static void test_many_concurrent_calls_all_come_back(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	assert_int_equal(ringo_loop_set_default_executor_workers(loop, 3), 0);
	atomic_int sum;
	atomic_init(&sum, 0);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, spawn_many, &sum, NULL, &t), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	assert_int_equal(atomic_load(&sum), 2 * MANY);
	assert_int_equal(ringo_loop_set_default_executor_workers(loop, 3), -EBUSY);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

/* ---- to_thread under cancellation (issue 10) ---- */

/* What a task's to_thread saw, kept off its stack for the test to read. */
struct seen {
	struct gate gate;
	int rc;
	int finished_at_return;
	int next;            /* the next suspension's outcome */
	void *result;
};

/* The job lives on the calling task's stack, as in the defect report. */
struct stack_job {
	ringo_loop *loop;
	ringo_task *task;
	struct gate *gate;
	atomic_int finished;
};

static void cancel_then_open(void *arg)
{
	struct stack_job *j = arg;
	ringo_task_cancel(j->task, NULL);
	/* Queued behind the task's wake-up if the cancel woke it at once. */
	ringo_call_soon(j->loop, gate_open_cb, j->gate, NULL);
}

static int slow_fn(void *arg, void **result)
{
	struct stack_job *j = arg;
	/* Cancel the task now that fn is surely running. */
	assert_int_equal(ringo_call_soon_threadsafe(j->loop, cancel_then_open, j), 0);
	gate_pass(j->gate);
	atomic_store(&j->finished, 1); /* a write into the caller's stack */
	*result = malloc(64);
	return 0;
}

static int cancelled_while_fn_runs(void *arg, void **result)
{
	struct seen *s = arg;
	struct stack_job j;
	j.loop = ringo_loop_current();
	j.task = ringo_task_current();
	j.gate = &s->gate;
	atomic_init(&j.finished, 0);
	s->rc = ringo_to_thread(slow_fn, &j, &s->result);
	s->finished_at_return = atomic_load(&j.finished);
	s->next = ringo_sleep(0);
	return 0;
}

static void test_cancelled_to_thread_resumes_only_after_fn_returned(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct seen s = {0};
	gate_init(&s.gate);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, cancelled_while_fn_runs, &s, NULL, &t), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	/* fn had returned before the call did: nothing wrote into the
	 * task's stack after it moved on. fn completed, so its outcome is
	 * the call's (its result is not lost), and the cancel came at the
	 * next suspension instead. */
	assert_int_equal(s.finished_at_return, 1);
	assert_int_equal(s.rc, 0);
	assert_non_null(s.result);
	assert_int_equal(s.next, -ECANCELED);
	free(s.result);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int cancelled_before_the_flush(void *arg, void **result)
{
	/* Runs before the flush that would hand the job to a worker. */
	ringo_call_soon(ringo_loop_current(), cancel_cb, ringo_task_current(), NULL);
	return ringo_to_thread(count_fn, arg, result);
}

static void test_to_thread_cancelled_before_its_flush_never_runs_fn(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	atomic_int count;
	atomic_init(&count, 0);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, cancelled_before_the_flush, &count, NULL, &t), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	ringo_task_release(t);
	test_loop_free(loop, &ca); /* waits for every worker */
	assert_int_equal(atomic_load(&count), 0);
}

static void hop_then_cancel(void *arg)
{
	ringo_call_soon(ringo_loop_current(), cancel_cb, arg, NULL);
}

static int cancelled_while_queued(void *arg, void **result)
{
	/* Two hops: the cancel lands after the flush queued the job. */
	ringo_call_soon(ringo_loop_current(), hop_then_cancel, ringo_task_current(), NULL);
	return ringo_to_thread(count_fn, arg, result);
}

static void test_to_thread_cancelled_while_queued_never_runs_fn(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	assert_int_equal(ringo_loop_set_default_executor_workers(loop, 1), 0);
	struct gate g;
	gate_init(&g);
	ringo_future *busy;
	assert_int_equal(ringo_run_in_executor(loop, NULL, wait_gate, &g, &busy), 0);
	gate_wait_entered(&g, 1); /* the only worker is taken */
	atomic_int count;
	atomic_init(&count, 0);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, cancelled_while_queued, &count, NULL, &t), 0);
	/* Returns while the worker is still blocked: nothing ran the job. */
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	gate_open(&g);
	assert_int_equal(ringo_loop_run_until_complete(loop, busy, NULL), 0);
	ringo_future_release(busy);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
	assert_int_equal(atomic_load(&count), 0);
}

static int cancel_pending_at_the_call(void *arg, void **result)
{
	ringo_task_cancel(ringo_task_current(), NULL);
	return ringo_to_thread(count_fn, arg, result);
}

static void test_to_thread_with_a_cancel_pending_never_starts_fn(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	atomic_int count;
	atomic_init(&count, 0);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, cancel_pending_at_the_call, &count, NULL, &t), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
	assert_int_equal(atomic_load(&count), 0);
}

/* The sweep: cancels land at every point of a call's life, racing with
 * the workers. Each call either ran fn and returned its result, or
 * returned -ECANCELED with fn never run; the cancel is taken exactly
 * once; fn never runs after the call returned. */
#define RACERS 48
#define RACE_ROUNDS 40

struct racer {
	ringo_task *task;
	atomic_int ran;      /* fn's count, read again after close */
	int rc, ran_at_return, next;
	void *result;
	int work;            /* how long fn spins */
	int hops;            /* iterations before the cancel (loop thread) */
	bool fired;          /* the cancel was attempted */
	bool cancel_took;    /* ringo_task_cancel returned true */
};

static int mark_fn(void *arg, void **result)
{
	struct racer *r = arg;
	/* A little work of varying length, so cancels meet every state. */
	for (volatile int i = 0; i < r->work; i++)
		;
	atomic_fetch_add(&r->ran, 1);
	*result = r;
	return 0;
}

static void cancel_after_hops(void *arg)
{
	struct racer *r = arg;
	if (r->hops-- > 0) {
		ringo_call_soon(ringo_loop_current(), cancel_after_hops, r, NULL);
		return;
	}
	r->cancel_took = ringo_task_cancel(r->task, NULL);
	r->fired = true;
}

static int racer_body(void *arg, void **result)
{
	struct racer *r = arg;
	r->rc = ringo_to_thread(mark_fn, r, &r->result);
	r->ran_at_return = atomic_load(&r->ran);
	/* Until the cancel has been tried: then it is taken here if the
	 * call did not take it. */
	do
		r->next = ringo_sleep(0);
	while (r->next == 0 && !r->fired);
	return 0;
}

static void test_cancel_racing_the_workers_fn_ran_iff_its_result_came_back(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	assert_int_equal(ringo_loop_set_default_executor_workers(loop, 4), 0);
	static struct racer rs[RACE_ROUNDS][RACERS];
	unsigned seed = 12345;
	for (int round = 0; round < RACE_ROUNDS; round++) {
		struct racer *r = rs[round];
		for (int i = 0; i < RACERS; i++) {
			memset(&r[i], 0, sizeof(r[i]));
			atomic_init(&r[i].ran, 0);
			r[i].hops = (int)(rand_r(&seed) % 6);
			r[i].work = (int)(rand_r(&seed) % 4) * 200;
			assert_int_equal(ringo_spawn(loop, racer_body, &r[i], NULL, &r[i].task), 0);
			ringo_call_soon(loop, cancel_after_hops, &r[i], NULL);
		}
		for (int i = 0; i < RACERS; i++)
			ringo_loop_run_until_complete(loop, ringo_task_future(r[i].task), NULL);
	}
	for (int round = 0; round < RACE_ROUNDS; round++)
		for (int i = 0; i < RACERS; i++)
			ringo_task_release(rs[round][i].task);
	test_loop_free(loop, &ca); /* every worker is done */
	int cancelled = 0, completed = 0;
	for (int round = 0; round < RACE_ROUNDS; round++) {
		for (int i = 0; i < RACERS; i++) {
			struct racer *r = &rs[round][i];
			int ran = atomic_load(&r->ran);
			assert_int_equal(ran, r->ran_at_return); /* nothing ran late */
			if (r->rc == -ECANCELED) {
				assert_int_equal(ran, 0);
				assert_true(r->cancel_took);
				cancelled++;
			} else {
				assert_int_equal(r->rc, 0);
				assert_int_equal(ran, 1);
				assert_ptr_equal(r->result, r);
				/* The cancel, if it landed, came exactly once, later. */
				assert_int_equal(r->next, r->cancel_took ? -ECANCELED : 0);
				completed++;
			}
		}
	}
	/* Both outcomes happened, or the sweep swept nothing. */
	assert_true(cancelled > 0);
	assert_true(completed > 0);
}

/* Close while a worker still runs fn on memory in a task's stack. The
 * executor's state is made before the first task, so its close hook runs
 * after the task layer's (hooks run newest first): the abandoned task's
 * stack must stay until the worker is done with it. */
struct scribble {
	struct gate *gate;
	char buf[512];
};

static int scribble_fn(void *arg, void **result)
{
	struct scribble *sc = arg;
	gate_pass(sc->gate);
	memset(sc->buf, 0xab, sizeof(sc->buf));
	return 0;
}

static int to_thread_scribble(void *arg, void **result)
{
	struct scribble sc = {.gate = arg};
	return ringo_to_thread(scribble_fn, &sc, result);
}

static void *open_later(void *arg)
{
	usleep(20000); /* let close reach its wait for the worker */
	gate_open(arg);
	return NULL;
}

static void test_loop_close_while_to_thread_runs_keeps_the_task_stack(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	assert_int_equal(ringo_loop_set_default_executor_workers(loop, 2), 0);
	struct gate g;
	gate_init(&g);
	assert_int_equal(ringo_spawn(loop, to_thread_scribble, &g, NULL, NULL), 0);
	int in = 0;
	for (int i = 0; i < 100000 && !in; i++) { /* until the worker runs fn */
		run_once(loop);
		pthread_mutex_lock(&g.m);
		in = g.entered;
		pthread_mutex_unlock(&g.m);
		if (!in)
			usleep(100);
	}
	assert_int_equal(in, 1);
	pthread_t th;
	pthread_create(&th, NULL, open_later, &g);
	test_loop_free(loop, &ca);
	pthread_join(th, NULL);
}

/* ---- run_in_executor ---- */

static void test_run_in_executor_future_completes_from_a_callback(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f, *e;
	assert_int_equal(ringo_run_in_executor(loop, NULL, add_one, (void *)1, &f), 0);
	assert_int_equal(ringo_run_in_executor(loop, NULL, fails, NULL, &e), 0);
	void *v = NULL;
	assert_int_equal(ringo_loop_run_until_complete(loop, f, &v), 0);
	assert_int_equal((intptr_t)v, 2);
	assert_int_equal(ringo_loop_run_until_complete(loop, e, NULL), -EIO);
	ringo_future_release(f);
	ringo_future_release(e);
	test_loop_free(loop, &ca);
}

static int which_thread(void *arg, void **result)
{
	*(pthread_t *)arg = pthread_self();
	return 0;
}

/* test_run_in_executor */
static void test_run_in_executor_runs_fn_on_another_thread(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	pthread_t th = pthread_self();
	ringo_future *f;
	assert_int_equal(ringo_run_in_executor(loop, NULL, which_thread, &th, &f), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, f, NULL), 0);
	assert_false(pthread_equal(th, pthread_self()));
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

/* test_run_in_executor_not_callable */
static void test_run_in_executor_without_fn_is_einval(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f = (ringo_future *)&f;
	assert_int_equal(ringo_run_in_executor(loop, NULL, NULL, NULL, &f), -EINVAL);
	assert_null(f);
	assert_int_equal(ringo_run_in_executor(NULL, NULL, add_one, NULL, &f), -EINVAL);
	assert_int_equal(ringo_run_in_executor(loop, NULL, add_one, NULL, NULL), -EINVAL);
	test_loop_free(loop, &ca);
}

static void test_user_executor_serves_two_loops(void **state)
{
	ringo_executor *ex;
	ringo_executor_options o = {.max_workers = 2, .flags = RINGO_EXECUTOR_NO_SPIN};
	assert_int_equal(ringo_executor_new(&o, &ex), 0);
	struct counting_allocator ca1, ca2;
	ringo_loop *l1 = test_loop_new(&ca1, 0), *l2 = test_loop_new(&ca2, 0);
	ringo_future *f1, *f2;
	assert_int_equal(ringo_run_in_executor(l1, ex, add_one, (void *)10, &f1), 0);
	assert_int_equal(ringo_run_in_executor(l2, ex, add_one, (void *)20, &f2), 0);
	void *v;
	assert_int_equal(ringo_loop_run_until_complete(l1, f1, &v), 0);
	assert_int_equal((intptr_t)v, 11);
	assert_int_equal(ringo_loop_run_until_complete(l2, f2, &v), 0);
	assert_int_equal((intptr_t)v, 21);
	ringo_future_release(f1);
	ringo_future_release(f2);
	test_loop_free(l1, &ca1);
	test_loop_free(l2, &ca2);
	ringo_executor_free(ex);
}

/* test_default_executor: a user executor's threads run the job. */
static void test_run_in_executor_on_a_user_executor_uses_its_threads(void **state)
{
	ringo_executor *ex;
	ringo_executor_options o = {.max_workers = 1};
	assert_int_equal(ringo_executor_new(&o, &ex), 0);
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	pthread_t a = pthread_self(), b = pthread_self(), d = pthread_self();
	ringo_future *f;
	for (pthread_t *p = &a; p; p = p == &a ? &b : NULL) {
		assert_int_equal(ringo_run_in_executor(loop, ex, which_thread, p, &f), 0);
		assert_int_equal(ringo_loop_run_until_complete(loop, f, NULL), 0);
		ringo_future_release(f);
	}
	assert_true(pthread_equal(a, b)); /* its one worker, both times */
	assert_int_equal(ringo_run_in_executor(loop, NULL, which_thread, &d, &f), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, f, NULL), 0);
	assert_false(pthread_equal(a, d)); /* the default executor is another pool */
	ringo_future_release(f);
	test_loop_free(loop, &ca);
	ringo_executor_free(ex);
}

static void test_close_with_work_in_flight_waits_and_leaks_nothing(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct gate g;
	gate_init(&g);
	ringo_future *f[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(ringo_run_in_executor(loop, NULL, wait_gate, &g, &f[i]), 0);
	for (int i = 0; i < 4; i++)
		ringo_future_release(f[i]);
	gate_open(&g);
	test_loop_free(loop, &ca);
	assert_int_equal(atomic_load(&g.ran), 4); /* every job ran to the end */
}

static void test_close_settles_the_futures_of_jobs_that_ran(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct gate g;
	gate_init(&g);
	ringo_future *f;
	assert_int_equal(ringo_run_in_executor(loop, NULL, wait_gate, &g, &f), 0);
	gate_wait_entered(&g, 1);
	pthread_t th;
	pthread_create(&th, NULL, open_later, &g);
	assert_int_equal(ringo_loop_close(loop), 0);
	pthread_join(th, NULL);
	/* The holder still learns the outcome (and could free a result). */
	void *v = NULL;
	assert_int_equal(ringo_future_result(f, &v), 0);
	assert_ptr_equal(v, &g);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void test_shutdown_default_executor_times_out_then_refuses_work(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct gate g;
	gate_init(&g);
	ringo_future *f;
	assert_int_equal(ringo_run_in_executor(loop, NULL, wait_gate, &g, &f), 0);
	assert_int_equal(ringo_loop_shutdown_default_executor(loop, RINGO_MSEC(1)), -ETIMEDOUT);
	ringo_future *f2;
	assert_int_equal(ringo_run_in_executor(loop, NULL, add_one, NULL, &f2), -ESHUTDOWN);
	gate_open(&g);
	assert_int_equal(ringo_loop_shutdown_default_executor(loop, -1), 0);
	void *v;
	assert_int_equal(ringo_loop_run_until_complete(loop, f, &v), 0);
	assert_ptr_equal(v, &g);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static int to_thread_after_shutdown(void *arg, void **result)
{
	int rc = ringo_loop_shutdown_default_executor(ringo_loop_current(), -1);
	if (rc < 0)
		return rc;
	return ringo_to_thread(add_one, NULL, result);
}

/* test_default_executor_call_after_shutdown */
static void test_to_thread_after_shutdown_is_eshutdown(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, to_thread_after_shutdown, NULL, NULL, &t), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ESHUTDOWN);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

/* ---- run_in_executor under cancellation (issue 10) ---- */

static void test_cancelling_a_queued_job_future_cancels_it_and_fn_never_runs(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	assert_int_equal(ringo_loop_set_default_executor_workers(loop, 1), 0);
	struct gate g;
	gate_init(&g);
	ringo_future *busy, *f;
	assert_int_equal(ringo_run_in_executor(loop, NULL, wait_gate, &g, &busy), 0);
	gate_wait_entered(&g, 1);
	atomic_int count;
	atomic_init(&count, 0);
	assert_int_equal(ringo_run_in_executor(loop, NULL, count_fn, &count, &f), 0);
	assert_true(ringo_future_cancel(f, "no longer needed"));
	/* Not started: withdrawn, so done at once. */
	assert_true(ringo_future_cancelled(f));
	assert_string_equal(ringo_future_cancel_message(f), "no longer needed");
	assert_false(ringo_future_cancel(f, NULL));
	gate_open(&g);
	assert_int_equal(ringo_loop_run_until_complete(loop, busy, NULL), 0);
	ringo_future_release(busy);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
	assert_int_equal(atomic_load(&count), 0);
}

static void test_cancelling_a_running_job_future_completes_when_fn_returns(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct gate g;
	gate_init(&g);
	ringo_future *f;
	assert_int_equal(ringo_run_in_executor(loop, NULL, wait_gate, &g, &f), 0);
	gate_wait_entered(&g, 1);
	/* Requested; fn runs on, so the future stays pending: arg (g) is
	 * still in use until it is done. */
	assert_true(ringo_future_cancel(f, NULL));
	assert_false(ringo_future_done(f));
	assert_true(ringo_future_cancel(f, NULL)); /* still pending */
	run_once(loop);
	assert_false(ringo_future_done(f));
	gate_open(&g);
	void *v = NULL;
	assert_int_equal(ringo_loop_run_until_complete(loop, f, &v), 0);
	/* fn completed: its outcome is the future's (nothing is lost). */
	assert_false(ringo_future_cancelled(f));
	assert_ptr_equal(v, &g);
	assert_int_equal(atomic_load(&g.ran), 1);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void test_an_executor_future_cannot_be_set_from_outside(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct gate g;
	gate_init(&g);
	ringo_future *f;
	assert_int_equal(ringo_run_in_executor(loop, NULL, wait_gate, &g, &f), 0);
	assert_int_equal(ringo_future_set_result(f, NULL), -EPERM);
	assert_int_equal(ringo_future_set_error(f, -EIO), -EPERM);
	assert_false(ringo_future_done(f));
	gate_open(&g);
	void *v = NULL;
	assert_int_equal(ringo_loop_run_until_complete(loop, f, &v), 0);
	assert_ptr_equal(v, &g);
	assert_int_equal(ringo_future_set_result(f, NULL), -EALREADY);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

struct awaiter {
	ringo_future *f;
	struct gate *g;
	int rc;
	void *v;
};

static int await_job(void *arg, void **result)
{
	struct awaiter *a = arg;
	a->rc = ringo_await(a->f, &a->v);
	return 0;
}

static void open_after_cancel(void *arg)
{
	struct awaiter *a = arg;
	assert_false(ringo_future_done(a->f)); /* fn still running */
	gate_open(a->g);
}

static void test_cancelling_a_task_awaiting_a_running_job_waits_for_fn(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct gate g;
	gate_init(&g);
	struct awaiter a = {.g = &g};
	assert_int_equal(ringo_run_in_executor(loop, NULL, wait_gate, &g, &a.f), 0);
	gate_wait_entered(&g, 1);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, await_job, &a, NULL, &t), 0);
	run_once(loop); /* t awaits */
	assert_true(ringo_task_cancel(t, NULL));
	ringo_call_soon(loop, open_after_cancel, &a, NULL);
	ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL);
	/* The cancel went to the job, which ran to the end: the awaiting
	 * task sees its outcome, as it would a task that finished anyway. */
	assert_int_equal(a.rc, 0);
	assert_ptr_equal(a.v, &g);
	ringo_future_release(a.f);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

/* test_run_in_executor_cancel: cancel, shut the default executor down,
 * close: nothing reaches the loop late, nothing leaks, and the future's
 * state says whether fn ran. */
static int nap(void *arg, void **result)
{
	usleep(5000);
	atomic_fetch_add((atomic_int *)arg, 1);
	return 0;
}

static void test_run_in_executor_cancel_then_shutdown_and_close(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	atomic_int count;
	atomic_init(&count, 0);
	ringo_future *f;
	assert_int_equal(ringo_run_in_executor(loop, NULL, nap, &count, &f), 0);
	assert_true(ringo_future_cancel(f, NULL));
	assert_int_equal(ringo_loop_shutdown_default_executor(loop, -1), 0);
	assert_int_equal(ringo_loop_close(loop), 0);
	assert_true(ringo_future_done(f));
	assert_int_equal(atomic_load(&count), ringo_future_cancelled(f) ? 0 : 1);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

/* ---- bursts (issue 10, item 9) ---- */

/* BURST jobs that each wait until all BURST are inside: they only all
 * return 0 if they ran at the same time, on BURST workers. A generous
 * watchdog fails the batch instead of hanging. */
#define BURST 6
#define BURST_BATCHES 200

struct meeting {
	pthread_mutex_t m;
	pthread_cond_t c;
	int arrived;
	bool failed;
};

static int meet(void *arg, void **result)
{
	struct meeting *mt = arg;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&mt->m);
	mt->arrived++;
	pthread_cond_broadcast(&mt->c);
	while (mt->arrived < BURST && !mt->failed)
		if (pthread_cond_timedwait(&mt->c, &mt->m, &until) == ETIMEDOUT)
			mt->failed = true;
	pthread_cond_broadcast(&mt->c);
	bool failed = mt->failed;
	pthread_mutex_unlock(&mt->m);
	return failed ? -ETIMEDOUT : 0;
}

static int meet_body(void *arg, void **result)
{
	return ringo_to_thread(meet, arg, result);
}

static int bursts(void *arg, void **result)
{
	int *batches_ok = arg;
	ringo_loop *loop = ringo_loop_current();
	for (int b = 0; b < BURST_BATCHES; b++) {
		struct meeting mt = {.arrived = 0, .failed = false};
		pthread_mutex_init(&mt.m, NULL);
		pthread_cond_init(&mt.c, NULL);
		ringo_task *ts[BURST];
		for (int i = 0; i < BURST; i++)
			if (ringo_spawn(loop, meet_body, &mt, NULL, &ts[i]) < 0)
				return -ENOMEM;
		int failures = 0;
		for (int i = 0; i < BURST; i++) {
			if (ringo_await(ringo_task_future(ts[i]), NULL) != 0)
				failures++;
			ringo_task_release(ts[i]);
		}
		pthread_mutex_destroy(&mt.m);
		pthread_cond_destroy(&mt.c);
		if (failures)
			return -ETIMEDOUT; /* serialised: stop at the first one */
		++*batches_ok;
		/* Let the workers go idle (one spins, the rest sleep). */
		if (b % 2)
			ringo_sleep(RINGO_USEC(200));
	}
	return 0;
}

static void test_a_burst_of_blocking_calls_runs_on_as_many_workers(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	assert_int_equal(ringo_loop_set_default_executor_workers(loop, BURST), 0);
	int ok = 0;
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, bursts, &ok, NULL, &t), 0);
	int rc = ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL);
	if (rc != 0)
		print_error("serialised after %d good batches\n", ok);
	assert_int_equal(rc, 0);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_to_thread_returns_the_result),
		cmocka_unit_test(test_to_thread_delivers_the_error_of_fn),
		cmocka_unit_test(test_to_thread_calls_fn_exactly_once),
		cmocka_unit_test(test_to_thread_concurrent_calls_all_run),
		cmocka_unit_test(test_to_thread_outside_a_task_is_eperm),
		cmocka_unit_test(test_to_thread_without_fn_is_einval),
		cmocka_unit_test(test_many_concurrent_calls_all_come_back),
		cmocka_unit_test(test_cancelled_to_thread_resumes_only_after_fn_returned),
		cmocka_unit_test(test_to_thread_cancelled_before_its_flush_never_runs_fn),
		cmocka_unit_test(test_to_thread_cancelled_while_queued_never_runs_fn),
		cmocka_unit_test(test_to_thread_with_a_cancel_pending_never_starts_fn),
		cmocka_unit_test(test_cancel_racing_the_workers_fn_ran_iff_its_result_came_back),
		cmocka_unit_test(test_loop_close_while_to_thread_runs_keeps_the_task_stack),
		cmocka_unit_test(test_run_in_executor_future_completes_from_a_callback),
		cmocka_unit_test(test_run_in_executor_runs_fn_on_another_thread),
		cmocka_unit_test(test_run_in_executor_without_fn_is_einval),
		cmocka_unit_test(test_user_executor_serves_two_loops),
		cmocka_unit_test(test_run_in_executor_on_a_user_executor_uses_its_threads),
		cmocka_unit_test(test_close_with_work_in_flight_waits_and_leaks_nothing),
		cmocka_unit_test(test_close_settles_the_futures_of_jobs_that_ran),
		cmocka_unit_test(test_shutdown_default_executor_times_out_then_refuses_work),
		cmocka_unit_test(test_to_thread_after_shutdown_is_eshutdown),
		cmocka_unit_test(test_cancelling_a_queued_job_future_cancels_it_and_fn_never_runs),
		cmocka_unit_test(test_cancelling_a_running_job_future_completes_when_fn_returns),
		cmocka_unit_test(test_an_executor_future_cannot_be_set_from_outside),
		cmocka_unit_test(test_cancelling_a_task_awaiting_a_running_job_waits_for_fn),
		cmocka_unit_test(test_run_in_executor_cancel_then_shutdown_and_close),
		cmocka_unit_test(test_a_burst_of_blocking_calls_runs_on_as_many_workers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
