/* Thread-safe entry points: call_soon_threadsafe, spawn_threadsafe and its
 * thread-side future, and the debug foreign-thread check. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "support.h"

struct producer {
	ringo_loop *loop;
	int n;
	atomic_int *count;
};

static void count_cb(void *arg)
{
	struct producer *p = arg;
	atomic_fetch_add(p->count, 1);
}

static void *produce(void *arg)
{
	struct producer *p = arg;
	for (int i = 0; i < p->n; i++)
		assert_int_equal(ringo_call_soon_threadsafe(p->loop, count_cb, p), 0);
	return NULL;
}

static void stop_cb(void *arg)
{
	ringo_loop_stop(arg);
}

static void test_posts_before_the_loop_runs_are_kept(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	atomic_int count;
	atomic_init(&count, 0);
	struct producer p = {loop, 100, &count};
	pthread_t th;
	pthread_create(&th, NULL, produce, &p);
	pthread_join(th, NULL);
	assert_int_equal(ringo_call_soon_threadsafe(loop, stop_cb, loop), 0);
	assert_int_equal(ringo_loop_run_forever(loop), 0);
	assert_int_equal(atomic_load(&count), 100);
	test_loop_free(loop, &ca);
}

static void *run_loop(void *arg)
{
	ringo_loop_run_forever(arg);
	return NULL;
}

static void test_two_producers_into_a_running_loop_lose_nothing(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	atomic_int count;
	atomic_init(&count, 0);
	pthread_t lt, a, b;
	pthread_create(&lt, NULL, run_loop, loop);
	struct producer p = {loop, 20000, &count};
	pthread_create(&a, NULL, produce, &p);
	pthread_create(&b, NULL, produce, &p);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	/* FIFO per producer: the stop comes after everything this thread saw. */
	assert_int_equal(ringo_call_soon_threadsafe(loop, stop_cb, loop), 0);
	pthread_join(lt, NULL);
	assert_int_equal(atomic_load(&count), 40000);
	test_loop_free(loop, &ca);
}

static void test_post_to_a_closed_loop_is_eshutdown(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	assert_int_equal(ringo_call_soon_threadsafe(NULL, stop_cb, NULL), -EINVAL);
	assert_int_equal(ringo_call_soon_threadsafe(loop, stop_cb, loop), 0);
	assert_int_equal(ringo_loop_close(loop), 0);
	assert_int_equal(ringo_call_soon_threadsafe(loop, stop_cb, loop), -ESHUTDOWN);
	ringo_tsfuture *f;
	assert_int_equal(ringo_spawn_threadsafe(loop, NULL, NULL, &f), -EINVAL);
	test_loop_free(loop, &ca);
}

static int slow_double(void *arg, void **result)
{
	int rc = ringo_sleep(RINGO_MSEC(1));
	*result = (void *)((intptr_t)arg * 2);
	return rc;
}

static void test_spawn_threadsafe_result_blocks_until_done(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	pthread_t lt;
	pthread_create(&lt, NULL, run_loop, loop);
	ringo_tsfuture *f;
	assert_int_equal(ringo_spawn_threadsafe(loop, slow_double, (void *)21, &f), 0);
	void *v = NULL;
	assert_int_equal(ringo_tsfuture_result(f, -1, &v), 0);
	assert_int_equal((intptr_t)v, 42);
	assert_true(ringo_tsfuture_done(f));
	assert_false(ringo_tsfuture_cancel(f));
	ringo_tsfuture_release(f);
	ringo_call_soon_threadsafe(loop, stop_cb, loop);
	pthread_join(lt, NULL);
	test_loop_free(loop, &ca);
}

static int sleeps_long(void *arg, void **result)
{
	atomic_int *cancelled = arg;
	int rc = ringo_sleep(RINGO_SEC(3600));
	if (rc == -ECANCELED)
		atomic_store(cancelled, 1);
	return rc;
}

static void test_result_times_out_and_cancel_cancels_the_task(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	pthread_t lt;
	pthread_create(&lt, NULL, run_loop, loop);
	atomic_int cancelled;
	atomic_init(&cancelled, 0);
	ringo_tsfuture *f;
	assert_int_equal(ringo_spawn_threadsafe(loop, sleeps_long, &cancelled, &f), 0);
	assert_int_equal(ringo_tsfuture_result(f, 0, NULL), -ETIMEDOUT);
	assert_int_equal(ringo_tsfuture_result(f, RINGO_MSEC(5), NULL), -ETIMEDOUT);
	assert_true(ringo_tsfuture_cancel(f));
	assert_int_equal(ringo_tsfuture_result(f, -1, NULL), -ECANCELED);
	ringo_tsfuture_release(f);
	/* The cancel is posted before the stop: it reaches the task first. */
	ringo_call_soon_threadsafe(loop, stop_cb, loop);
	pthread_join(lt, NULL);
	ringo_loop_run_until_complete(loop, NULL, NULL); /* -EINVAL: no-op */
	test_loop_free(loop, &ca);
	assert_int_equal(atomic_load(&cancelled), 1);
}

static int fails_einval(void *arg, void **result)
{
	return -EBADMSG;
}

static void test_spawn_threadsafe_delivers_the_task_error(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_tsfuture *f;
	assert_int_equal(ringo_spawn_threadsafe(loop, fails_einval, NULL, &f), 0);
	/* The loop has not run yet on this thread: waiting would deadlock
	 * only if this thread were running it; poll instead. */
	assert_int_equal(ringo_tsfuture_result(f, 0, NULL), -ETIMEDOUT);
	ringo_call_soon_threadsafe(loop, stop_cb, loop);
	ringo_loop_run_forever(loop);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop); /* one iteration: the task's done callback */
	assert_int_equal(ringo_tsfuture_result(f, -1, NULL), -EBADMSG);
	ringo_tsfuture_release(f);
	test_loop_free(loop, &ca);
}

static void test_loop_closing_first_cancels_the_thread_side_future(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	atomic_int cancelled;
	atomic_init(&cancelled, 0);
	ringo_tsfuture *started, *queued;
	assert_int_equal(ringo_spawn_threadsafe(loop, sleeps_long, &cancelled, &started), 0);
	ringo_call_soon_threadsafe(loop, stop_cb, loop);
	ringo_loop_run_forever(loop); /* spawned and sleeping */
	assert_int_equal(ringo_spawn_threadsafe(loop, sleeps_long, &cancelled, &queued), 0);
	test_loop_free(loop, &ca);
	assert_int_equal(ringo_tsfuture_result(started, -1, NULL), -ECANCELED);
	assert_int_equal(ringo_tsfuture_result(queued, -1, NULL), -ESHUTDOWN);
	ringo_tsfuture_release(started);
	ringo_tsfuture_release(queued);
}

static void *call_soon_from_here(void *arg)
{
	return (void *)(intptr_t)ringo_call_soon(arg, stop_cb, arg, NULL);
}

static void test_foreign_thread_is_refused_with_check_thread(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_CHECK_THREAD);
	ringo_loop_stop(loop);
	assert_int_equal(ringo_loop_run_forever(loop), 0); /* this thread owns it */
	pthread_t th;
	void *rc;
	pthread_create(&th, NULL, call_soon_from_here, loop);
	pthread_join(th, &rc);
	assert_int_equal((intptr_t)rc, -EXDEV);
	assert_int_equal(ringo_call_soon(loop, stop_cb, loop, NULL), 0);
	test_loop_free(loop, &ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_posts_before_the_loop_runs_are_kept),
		cmocka_unit_test(test_two_producers_into_a_running_loop_lose_nothing),
		cmocka_unit_test(test_post_to_a_closed_loop_is_eshutdown),
		cmocka_unit_test(test_spawn_threadsafe_result_blocks_until_done),
		cmocka_unit_test(test_result_times_out_and_cancel_cancels_the_task),
		cmocka_unit_test(test_spawn_threadsafe_delivers_the_task_error),
		cmocka_unit_test(test_loop_closing_first_cancels_the_thread_side_future),
		cmocka_unit_test(test_foreign_thread_is_refused_with_check_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
