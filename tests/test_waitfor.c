/* wait_for, ported from CPython's Lib/test/test_asyncio/test_waitfor.py
 * (asyncio 3.12+: wait_for is `async with timeout(t): return await fut`).
 * Every test runs on a virtual clock, so the timings are exact. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define EPSILON RINGO_USEC(100) /* a timeout that is > 0 but tiny */

static int64_t now(void)
{
	return ringo_loop_time_ns(ringo_loop_current());
}

static ringo_task *spawn(ringo_task_fn *fn, void *arg)
{
	ringo_task *t;
	assert_int_equal(ringo_spawn(ringo_loop_current(), fn, arg, NULL, &t), 0);
	return t;
}

/* Wait (without forwarding any cancellation) until every other task of
 * the loop has finished. */
static int drain(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	ringo_task *self = ringo_task_current();
	for (;;) {
		ringo_task *ts[8];
		int n = ringo_loop_tasks(loop, ts, 8);
		ringo_task *other = NULL;
		for (int i = 0; i < n && i < 8 && !other; i++)
			if (ts[i] != self)
				other = ts[i];
		if (!other)
			return 0;
		ringo_future *f = ringo_task_future(other);
		ringo_task_ref(other);
		ringo_wait(&f, 1, RINGO_ALL_COMPLETED, RINGO_FOREVER, NULL);
		ringo_task_release(other);
	}
}

/* Run fn(arg) as the main task of a fresh virtual-clock loop, then let
 * every task it left finish; returns main's outcome, leak-checked. */
static int run_main(ringo_task_fn *fn, void *arg, void **value)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_task *m, *d;
	assert_int_equal(ringo_spawn(loop, fn, arg, NULL, &m), 0);
	int rc = ringo_loop_run_until_complete(loop, ringo_task_future(m), value);
	assert_int_equal(ringo_spawn(loop, drain, NULL, NULL, &d), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(d), NULL), 0);
	ringo_task_release(d);
	ringo_task_release(m);
	test_loop_free(loop, &ca);
	return rc;
}

/* SlowTask: runs for 200 ms whatever happens, ignoring cancellations. */
struct slow {
	bool exited;
};

static int slow_run(void *arg, void **result)
{
	struct slow *s = arg;
	int64_t exit_at = now() + RINGO_MSEC(200);
	while (now() < exit_at)
		ringo_sleep(exit_at - now()); /* -ECANCELED is ignored */
	s->exited = true;
	return 0;
}

static int wait_for_slow(void *arg, void **result)
{
	struct slow *s = arg;
	ringo_task *t = spawn(slow_run, s);
	int rc = ringo_wait_for(ringo_task_future(t), RINGO_MSEC(400), NULL);
	ringo_task_release(t);
	return rc;
}

static int asyncio_wait_for_cancelled(void *arg, void **result)
{
	struct slow *s = arg;
	ringo_task *w = spawn(wait_for_slow, s);
	/* asyncio runs the awaited coroutine inside the wait_for task; here
	 * it is a task of its own, which must have started to be able to
	 * ignore the cancellation (one that never ran is just dropped). */
	ringo_sleep(0);
	ringo_sleep(0);
	ringo_task_cancel(w, NULL);
	ringo_future *f = ringo_task_future(w);
	assert_int_equal(ringo_wait(&f, 1, RINGO_ALL_COMPLETED, RINGO_FOREVER, NULL), 1);
	/* The cancel went to the slow task, which ignored it: wait_for
	 * waited for its end and returned its result. */
	assert_true(s->exited);
	assert_int_equal(ringo_future_result(f, NULL), 0);
	ringo_task_release(w);
	return 0;
}

static void test_asyncio_wait_for_cancelled(void **state)
{
	struct slow s = {false};
	assert_int_equal(run_main(asyncio_wait_for_cancelled, &s, NULL), 0);
}

static int asyncio_wait_for_timeout(void *arg, void **result)
{
	struct slow *s = arg;
	ringo_task *t = spawn(slow_run, s);
	/* The timeout cancels the slow task, which ignores it and returns a
	 * result: 3.12's wait_for returns that result, not -ETIMEDOUT. */
	int rc = ringo_wait_for(ringo_task_future(t), RINGO_MSEC(100), NULL);
	assert_int_equal(rc, 0);
	assert_true(s->exited);
	assert_int_equal(now(), RINGO_MSEC(200));
	ringo_task_release(t);
	return 0;
}

static void test_asyncio_wait_for_timeout(void **state)
{
	struct slow s = {false};
	assert_int_equal(run_main(asyncio_wait_for_timeout, &s, NULL), 0);
}

static int timeout_0_future_done(void *arg, void **result)
{
	ringo_future *f;
	ringo_future_new(ringo_loop_current(), &f);
	ringo_future_set_result(f, (void *)"done");
	int64_t t0 = now();
	void *v = NULL;
	assert_int_equal(ringo_wait_for(f, 0, &v), 0);
	assert_string_equal(v, "done");
	assert_true(ringo_future_done(f));
	assert_int_equal(now(), t0);
	ringo_future_release(f);
	return 0;
}

static void test_wait_for_timeout_less_then_0_or_0_future_done(void **state)
{
	assert_int_equal(run_main(timeout_0_future_done, NULL, NULL), 0);
}

static int set_flag(void *arg, void **result)
{
	*(bool *)arg = true;
	return 0;
}

static int timeout_0_not_started(void *arg, void **result)
{
	bool *started = arg;
	ringo_task *t = spawn(set_flag, started);
	int64_t t0 = now();
	assert_int_equal(ringo_wait_for(ringo_task_future(t), 0, NULL), -ETIMEDOUT);
	assert_false(*started); /* cancelled before its first step */
	assert_true(ringo_future_cancelled(ringo_task_future(t)));
	assert_int_equal(now(), t0);
	ringo_task_release(t);
	return 0;
}

static void test_wait_for_timeout_less_then_0_or_0_coroutine_do_not_started(void **state)
{
	bool started = false;
	assert_int_equal(run_main(timeout_0_not_started, &started, NULL), 0);
}

struct foo {
	bool running;
	ringo_future *started;
};

static int foo_sleeps_10s(void *arg, void **result)
{
	struct foo *f = arg;
	f->running = true;
	if (f->started)
		ringo_future_set_result(f->started, NULL);
	int rc = ringo_sleep(RINGO_SEC(10));
	f->running = false;
	*result = (void *)"done";
	return rc;
}

static int timeout_0_or_negative(void *arg, void **result)
{
	/* RINGO_FOREVER (-1) means "no limit"; any other value <= 0 is a
	 * deadline already passed. */
	const int64_t timeouts[] = {0, -2, -RINGO_SEC(1)};
	for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		struct foo f = {0};
		ringo_future_new(ringo_loop_current(), &f.started);
		ringo_task *t = spawn(foo_sleeps_10s, &f);
		assert_int_equal(ringo_await(f.started, NULL), 0);
		int64_t t0 = now();
		assert_int_equal(ringo_wait_for(ringo_task_future(t), timeouts[i], NULL),
				 -ETIMEDOUT);
		assert_true(ringo_future_cancelled(ringo_task_future(t)));
		assert_false(f.running);
		assert_int_equal(now(), t0);
		ringo_task_release(t);
		ringo_future_release(f.started);
	}
	return 0;
}

static void test_wait_for_timeout_less_then_0_or_0(void **state)
{
	assert_int_equal(run_main(timeout_0_or_negative, NULL, NULL), 0);
}

static int wait_for_basic(void *arg, void **result)
{
	struct foo f = {0};
	ringo_task *t = spawn(foo_sleeps_10s, &f);
	int64_t t0 = now();
	assert_int_equal(ringo_wait_for(ringo_task_future(t), RINGO_MSEC(100), NULL), -ETIMEDOUT);
	assert_true(ringo_future_cancelled(ringo_task_future(t)));
	assert_int_equal(now() - t0, RINGO_MSEC(100));
	assert_false(f.running);
	ringo_task_release(t);
	return 0;
}

static void test_wait_for(void **state)
{
	assert_int_equal(run_main(wait_for_basic, NULL, NULL), 0);
}

static int returns_done(void *arg, void **result)
{
	*result = (void *)"done";
	return 0;
}

static int wait_for_blocking(void *arg, void **result)
{
	ringo_task *t = spawn(returns_done, NULL);
	void *v = NULL;
	assert_int_equal(ringo_wait_for(ringo_task_future(t), RINGO_FOREVER, &v), 0);
	assert_string_equal(v, "done");
	ringo_task_release(t);
	return 0;
}

static void test_wait_for_blocking(void **state)
{
	assert_int_equal(run_main(wait_for_blocking, NULL, NULL), 0);
}

static void set_ok(void *arg)
{
	ringo_future_set_result(arg, (void *)"ok");
}

static int race_condition(void *arg, void **result)
{
	ringo_future *f;
	ringo_future_new(ringo_loop_current(), &f);
	ringo_call_later(ringo_loop_current(), RINGO_MSEC(100), set_ok, f, NULL);
	void *v = NULL;
	assert_int_equal(ringo_wait_for(f, RINGO_MSEC(200), &v), 0);
	assert_string_equal(v, "ok");
	ringo_future_release(f);
	return 0;
}

static void test_wait_for_race_condition(void **state)
{
	assert_int_equal(run_main(race_condition, NULL, NULL), 0);
}

static int inner_expects_cancel_returns_1(void *arg, void **result)
{
	assert_int_equal(ringo_sleep(RINGO_SEC(1)), -ECANCELED);
	*result = (void *)(intptr_t)1;
	return 0;
}

static int cancellation_race(void *arg, void **result)
{
	ringo_task *t = spawn(inner_expects_cancel_returns_1, NULL);
	void *v = NULL;
	assert_int_equal(ringo_wait_for(ringo_task_future(t), RINGO_MSEC(10), &v), 0);
	assert_int_equal((intptr_t)v, 1);
	ringo_task_release(t);
	return 0;
}

static void test_wait_for_cancellation_race_condition(void **state)
{
	assert_int_equal(run_main(cancellation_race, NULL, NULL), 0);
}

static int inner_cleans_up_slowly(void *arg, void **result)
{
	bool *task_done = arg;
	int rc = ringo_sleep(RINGO_SEC(10));
	if (rc == -ECANCELED)
		ringo_sleep(EPSILON); /* cleanup, then re-raise */
	*task_done = true;
	return rc;
}

static int waits_for_task_cancellation(void *arg, void **result)
{
	bool task_done = false;
	ringo_task *t = spawn(inner_cleans_up_slowly, &task_done);
	assert_int_equal(ringo_wait_for(ringo_task_future(t), EPSILON, NULL), -ETIMEDOUT);
	assert_true(task_done);
	assert_int_equal(now(), 2 * EPSILON);
	ringo_task_release(t);
	return 0;
}

static void test_wait_for_waits_for_task_cancellation(void **state)
{
	assert_int_equal(run_main(waits_for_task_cancellation, NULL, NULL), 0);
}

static int waits_for_task_cancellation_w_timeout_0(void *arg, void **result)
{
	bool task_done = false;
	ringo_task *t = spawn(inner_cleans_up_slowly, &task_done);
	ringo_sleep(EPSILON);
	assert_int_equal(ringo_wait_for(ringo_task_future(t), 0, NULL), -ETIMEDOUT);
	assert_true(task_done);
	ringo_task_release(t);
	return 0;
}

static void test_wait_for_waits_for_task_cancellation_w_timeout_0(void **state)
{
	assert_int_equal(run_main(waits_for_task_cancellation_w_timeout_0, NULL, NULL), 0);
}

static int inner_fails_when_cancelled(void *arg, void **result)
{
	ringo_sleep(RINGO_MSEC(200));
	return -EIO; /* "finally: raise FooException" */
}

static int reraises_exception_during_cancellation(void *arg, void **result)
{
	ringo_task *t = spawn(inner_fails_when_cancelled, NULL);
	int rc = ringo_wait_for(ringo_task_future(t), EPSILON, NULL);
	ringo_task_release(t);
	return rc;
}

static void test_wait_for_reraises_exception_during_cancellation(void **state)
{
	assert_int_equal(run_main(reraises_exception_during_cancellation, NULL, NULL), -EIO);
}

static int inner_holds_up_two_cancels(void *arg, void **result)
{
	if (ringo_sleep(RINGO_MSEC(300)) == -ECANCELED && ringo_sleep(RINGO_MSEC(300)) == -ECANCELED)
		ringo_sleep(RINGO_MSEC(300));
	*result = (void *)(intptr_t)42;
	return 0;
}

static int wait_for_inner(void *arg, void **result)
{
	return ringo_wait_for(ringo_task_future(arg), RINGO_MSEC(100), result);
}

static int self_cancellation(void *arg, void **result)
{
	ringo_task *inner = spawn(inner_holds_up_two_cancels, NULL);
	ringo_task *w = spawn(wait_for_inner, inner);
	/* wait_for itself is cancellable even while the inner task holds up
	 * the cancellation (here: before it even started). */
	ringo_task_cancel(w, NULL);
	assert_int_equal(ringo_await(ringo_task_future(w), NULL), -ECANCELED);
	void *v = NULL;
	assert_int_equal(ringo_await(ringo_task_future(inner), &v), 0);
	assert_int_equal((intptr_t)v, 42);
	ringo_task_release(w);
	ringo_task_release(inner);
	return 0;
}

static void test_wait_for_self_cancellation(void **state)
{
	assert_int_equal(run_main(self_cancellation, NULL, NULL), 0);
}

static int blocks_on_a_future(void *arg, void **result)
{
	ringo_future *f;
	ringo_future_new(ringo_loop_current(), &f);
	int rc = ringo_await(f, NULL); /* never set */
	ringo_future_release(f);
	return rc;
}

struct cancel_wf {
	ringo_task *task;
	int64_t timeout;
};

static int wait_for_blocked(void *arg, void **result)
{
	struct cancel_wf *c = arg;
	return ringo_wait_for(ringo_task_future(c->task), c->timeout, NULL);
}

static void cancel_cb(void *arg)
{
	ringo_task_cancel(arg, NULL);
}

static int cancel_wait_for(void *arg, void **result)
{
	struct cancel_wf c = {spawn(blocks_on_a_future, NULL), *(int64_t *)arg};
	ringo_task *w = spawn(wait_for_blocked, &c);
	ringo_call_soon(ringo_loop_current(), cancel_cb, w, NULL);
	assert_int_equal(ringo_await(ringo_task_future(w), NULL), -ECANCELED);
	/* Python issue #23219: cancelling the wait cancels the task. */
	assert_true(ringo_future_cancelled(ringo_task_future(c.task)));
	ringo_task_release(w);
	ringo_task_release(c.task);
	return 0;
}

static void test_cancel_blocking_wait_for(void **state)
{
	int64_t timeout = RINGO_FOREVER;
	assert_int_equal(run_main(cancel_wait_for, &timeout, NULL), 0);
}

static void test_cancel_wait_for(void **state)
{
	int64_t timeout = RINGO_SEC(60);
	assert_int_equal(run_main(cancel_wait_for, &timeout, NULL), 0);
}

static int return_42_when_cancelled(void *arg, void **result)
{
	if (ringo_sleep(RINGO_SEC(10)) == -ECANCELED)
		*result = (void *)(intptr_t)42;
	return 0;
}

static int cancel_suppressed(void *arg, void **result)
{
	ringo_task *t = spawn(return_42_when_cancelled, NULL);
	void *v = NULL;
	assert_int_equal(ringo_wait_for(ringo_task_future(t), RINGO_MSEC(100), &v), 0);
	assert_int_equal((intptr_t)v, 42);
	ringo_task_release(t);
	return 0;
}

static void test_wait_for_cancel_suppressed(void **state)
{
	assert_int_equal(run_main(cancel_suppressed, NULL, NULL), 0);
}

static int returns_at_once(void *arg, void **result)
{
	return 0;
}

static int wait_for_then_sleep(void *arg, void **result)
{
	bool *reached_end = arg;
	ringo_task *t = spawn(returns_at_once, NULL);
	int rc = ringo_wait_for(ringo_task_future(t), RINGO_SEC(100), NULL);
	ringo_task_release(t);
	if (rc < 0)
		return rc;
	rc = ringo_sleep(RINGO_SEC(1));
	if (rc < 0)
		return rc;
	*reached_end = true;
	return 0;
}

static int issue86296(void *arg, void **result)
{
	bool reached_end = false;
	ringo_task *t = spawn(wait_for_then_sleep, &reached_end);
	ringo_sleep(0);
	ringo_sleep(0);
	assert_false(ringo_future_done(ringo_task_future(t)));
	ringo_task_cancel(t, NULL);
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), -ECANCELED);
	assert_false(reached_end);
	ringo_task_release(t);
	return 0;
}

static void test_wait_for_issue86296(void **state)
{
	assert_int_equal(run_main(issue86296, NULL, NULL), 0);
}

/* ---- beyond the CPython file ---- */

struct caller {
	ringo_task *inner;
	int rc;
	void *value;
};

static int wait_for_inner_5s(void *arg, void **result)
{
	struct caller *c = arg;
	c->rc = ringo_wait_for(ringo_task_future(c->inner), RINGO_SEC(5), &c->value);
	return c->rc;
}

static int caller_cancelled_inner_returns(void *arg, void **result)
{
	struct caller c = {.inner = spawn(return_42_when_cancelled, NULL)};
	ringo_task *w = spawn(wait_for_inner_5s, &c);
	ringo_sleep(RINGO_SEC(1));
	ringo_task_cancel(w, NULL);
	/* The cancellation went to the inner task (as ringo_await's does),
	 * which swallowed it and returned 42: wait_for returns that. */
	assert_int_equal(ringo_await(ringo_task_future(w), NULL), 0);
	assert_int_equal(c.rc, 0);
	assert_int_equal((intptr_t)c.value, 42);
	assert_int_equal(now(), RINGO_SEC(1));
	ringo_task_release(w);
	ringo_task_release(c.inner);
	return 0;
}

static void test_wait_for_caller_cancelled_returns_what_the_inner_returned(void **state)
{
	assert_int_equal(run_main(caller_cancelled_inner_returns, NULL, NULL), 0);
}

static int caller_cancelled_inner_cancelled(void *arg, void **result)
{
	struct foo f = {0};
	struct caller c = {.inner = spawn(foo_sleeps_10s, &f)};
	ringo_task *w = spawn(wait_for_inner_5s, &c);
	ringo_sleep(RINGO_SEC(1));
	ringo_task_cancel(w, NULL);
	assert_int_equal(ringo_await(ringo_task_future(w), NULL), -ECANCELED);
	assert_int_equal(c.rc, -ECANCELED); /* never -ETIMEDOUT */
	assert_true(ringo_future_cancelled(ringo_task_future(c.inner)));
	ringo_task_release(w);
	ringo_task_release(c.inner);
	return 0;
}

static void test_wait_for_caller_cancelled_is_ecanceled_not_etimedout(void **state)
{
	assert_int_equal(run_main(caller_cancelled_inner_cancelled, NULL, NULL), 0);
}

struct late {
	ringo_future *f;
	int rc;
};

static int result_in_expiry_iteration(void *arg, void **result)
{
	struct late *l = arg;
	ringo_future_new(ringo_loop_current(), &l->f);
	/* Same deadline, registered first: the future completes in the
	 * iteration the scope fires, after the caller was woken and before
	 * it ran. asyncio 3.12 throws the cancellation into the await, so
	 * the caller sees the timeout; the future keeps its result. */
	ringo_call_later(ringo_loop_current(), RINGO_SEC(2), set_ok, l->f, NULL);
	l->rc = ringo_wait_for(l->f, RINGO_SEC(2), NULL);
	void *v = NULL;
	assert_int_equal(ringo_future_result(l->f, &v), 0);
	assert_string_equal(v, "ok");
	ringo_future_release(l->f);
	return 0;
}

static void test_wait_for_result_in_the_expiry_iteration_is_a_timeout(void **state)
{
	struct late l = {0};
	assert_int_equal(run_main(result_in_expiry_iteration, &l, NULL), 0);
	assert_int_equal(l.rc, -ETIMEDOUT);
}

static int bad_arguments(void *arg, void **result)
{
	ringo_loop *other;
	assert_int_equal(ringo_loop_new(NULL, &other), 0);
	ringo_future *f;
	ringo_future_new(other, &f);
	assert_int_equal(ringo_wait_for(NULL, 0, NULL), -EINVAL);
	assert_int_equal(ringo_wait_for(f, RINGO_SEC(1), NULL), -EINVAL);
	assert_int_equal(ringo_wait_for(ringo_task_future(ringo_task_current()), 0, NULL),
			 -EDEADLK);
	assert_int_equal(ringo_wait_for(ringo_task_future(ringo_task_current()), RINGO_SEC(1),
					NULL),
			 -EDEADLK);
	ringo_future_release(f);
	assert_int_equal(ringo_loop_free(other), 0);
	return 0;
}

static void test_wait_for_rejects_bad_arguments(void **state)
{
	assert_int_equal(run_main(bad_arguments, NULL, NULL), 0);
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	ringo_future_new(loop, &f);
	assert_int_equal(ringo_wait_for(f, 0, NULL), -EPERM); /* outside a task */
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_asyncio_wait_for_cancelled),
		cmocka_unit_test(test_asyncio_wait_for_timeout),
		cmocka_unit_test(test_wait_for_timeout_less_then_0_or_0_future_done),
		cmocka_unit_test(test_wait_for_timeout_less_then_0_or_0_coroutine_do_not_started),
		cmocka_unit_test(test_wait_for_timeout_less_then_0_or_0),
		cmocka_unit_test(test_wait_for),
		cmocka_unit_test(test_wait_for_blocking),
		cmocka_unit_test(test_wait_for_race_condition),
		cmocka_unit_test(test_wait_for_cancellation_race_condition),
		cmocka_unit_test(test_wait_for_waits_for_task_cancellation),
		cmocka_unit_test(test_wait_for_waits_for_task_cancellation_w_timeout_0),
		cmocka_unit_test(test_wait_for_reraises_exception_during_cancellation),
		cmocka_unit_test(test_wait_for_self_cancellation),
		cmocka_unit_test(test_cancel_blocking_wait_for),
		cmocka_unit_test(test_cancel_wait_for),
		cmocka_unit_test(test_wait_for_cancel_suppressed),
		cmocka_unit_test(test_wait_for_issue86296),
		cmocka_unit_test(test_wait_for_caller_cancelled_returns_what_the_inner_returned),
		cmocka_unit_test(test_wait_for_caller_cancelled_is_ecanceled_not_etimedout),
		cmocka_unit_test(test_wait_for_result_in_the_expiry_iteration_is_a_timeout),
		cmocka_unit_test(test_wait_for_rejects_bad_arguments),
	};
	/* RINGO_TEST_FILTER=pattern runs only the matching tests. */
	if (getenv("RINGO_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RINGO_TEST_FILTER"));
	return cmocka_run_group_tests_name("waitfor", tests, NULL, NULL);
}
