/* The executor: to_thread, run_in_executor, cancellation, shutdown. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
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

/* Blocks until the gate opens. */
struct gate {
	pthread_mutex_t m;
	pthread_cond_t c;
	bool open;
	atomic_int ran;
};

static void gate_init(struct gate *g)
{
	pthread_mutex_init(&g->m, NULL);
	pthread_cond_init(&g->c, NULL);
	g->open = false;
	atomic_init(&g->ran, 0);
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->m);
	g->open = true;
	pthread_cond_broadcast(&g->c);
	pthread_mutex_unlock(&g->m);
}

static int wait_gate(void *arg, void **result)
{
	struct gate *g = arg;
	pthread_mutex_lock(&g->m);
	while (!g->open)
		pthread_cond_wait(&g->c, &g->m);
	pthread_mutex_unlock(&g->m);
	atomic_fetch_add(&g->ran, 1);
	*result = g;
	return 0;
}

static int to_thread_body(void *arg, void **result)
{
	return ringo_to_thread(add_one, arg, result);
}

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

static void test_to_thread_outside_a_task_is_eperm(void **state)
{
	assert_int_equal(ringo_to_thread(add_one, NULL, NULL), -EPERM);
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

static int gated_to_thread(void *arg, void **result)
{
	return ringo_to_thread(wait_gate, arg, result);
}

static void cancel_cb(void *arg)
{
	ringo_task_cancel(arg, NULL);
}

static void test_cancelling_the_waiter_leaves_the_worker_running(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct gate g;
	gate_init(&g);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, gated_to_thread, &g, NULL, &t), 0);
	ringo_call_soon(loop, cancel_cb, t, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	assert_int_equal(atomic_load(&g.ran), 0);
	gate_open(&g);
	/* Close waits for the worker; the late result is dropped, no leak. */
	ringo_task_release(t);
	test_loop_free(loop, &ca);
	assert_int_equal(atomic_load(&g.ran), 1);
}

static void stop_cb(ringo_future *f, void *arg)
{
	ringo_loop_stop(arg);
}

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

static void test_user_executor_serves_two_loops(void **state)
{
	ringo_executor *ex;
	ringo_executor_options o = {.max_workers = 2, .spin_ns = -1};
	assert_int_equal(ringo_executor_new(&ex, &o), 0);
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

static void test_shutdown_default_executor_times_out_then_refuses_work(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct gate g;
	gate_init(&g);
	ringo_future *f;
	assert_int_equal(ringo_run_in_executor(loop, NULL, wait_gate, &g, &f), 0);
	assert_int_equal(ringo_shutdown_default_executor(loop, RINGO_MSEC(1)), -ETIMEDOUT);
	ringo_future *f2;
	assert_int_equal(ringo_run_in_executor(loop, NULL, add_one, NULL, &f2), -ESHUTDOWN);
	gate_open(&g);
	assert_int_equal(ringo_shutdown_default_executor(loop, -1), 0);
	void *v;
	assert_int_equal(ringo_loop_run_until_complete(loop, f, &v), 0);
	assert_ptr_equal(v, &g);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void test_cancelled_future_drops_the_late_result(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct gate g;
	gate_init(&g);
	ringo_future *f;
	assert_int_equal(ringo_run_in_executor(loop, NULL, wait_gate, &g, &f), 0);
	assert_true(ringo_future_cancel(f, NULL));
	gate_open(&g);
	ringo_future *f2;
	assert_int_equal(ringo_run_in_executor(loop, NULL, add_one, NULL, &f2), 0);
	ringo_future_add_done_callback(f2, stop_cb, loop);
	/* Run until both jobs are back (one worker may take either first). */
	while (atomic_load(&g.ran) == 0 || !ringo_future_done(f2))
		ringo_loop_run_until_complete(loop, f2, NULL);
	assert_true(ringo_future_cancelled(f));
	ringo_future_release(f);
	ringo_future_release(f2);
	test_loop_free(loop, &ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_to_thread_returns_the_result),
		cmocka_unit_test(test_to_thread_delivers_the_error_of_fn),
		cmocka_unit_test(test_to_thread_outside_a_task_is_eperm),
		cmocka_unit_test(test_many_concurrent_calls_all_come_back),
		cmocka_unit_test(test_cancelling_the_waiter_leaves_the_worker_running),
		cmocka_unit_test(test_run_in_executor_future_completes_from_a_callback),
		cmocka_unit_test(test_user_executor_serves_two_loops),
		cmocka_unit_test(test_close_with_work_in_flight_waits_and_leaks_nothing),
		cmocka_unit_test(test_shutdown_default_executor_times_out_then_refuses_work),
		cmocka_unit_test(test_cancelled_future_drops_the_late_result),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
