/* wait, wait_for, as_completed, shield. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* Positional initialisers below leave trailing fields zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static struct log g_log;

struct job {
	const char *name;
	int64_t delay;
	int rc;
	bool ignore_cancel; /* return the result anyway when cancelled */
	int64_t cleanup;    /* when cancelled: sleep this long, then end */
};

static int64_t now_s(void)
{
	return ringo_loop_time_ns(ringo_loop_current()) / RINGO_SEC(1);
}

static int job_fn(void *arg, void **result)
{
	struct job *j = arg;
	int slept = ringo_sleep(j->delay);
	log_add(&g_log, "%s(%d)@%lld", j->name, slept, (long long)now_s());
	if (slept < 0 && j->cleanup) {
		ringo_sleep(j->cleanup);
		log_add(&g_log, "%s-cleaned@%lld", j->name, (long long)now_s());
	}
	if (slept < 0 && !j->ignore_cancel)
		return slept;
	*result = (void *)j->name;
	return j->rc;
}

/* A test body run as the loop's main task. */
typedef int body_fn(ringo_loop *loop, void *arg);
struct body {
	body_fn *fn;
	void *arg;
	ringo_loop *loop;
};

static int body_task(void *arg, void **result)
{
	struct body *b = arg;
	return b->fn(b->loop, b->arg);
}

static ringo_task *spawned[8];
static size_t nspawned;

static ringo_future *spawn_job(ringo_loop *loop, struct job *j)
{
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, job_fn, j, NULL, &t), 0);
	spawned[nspawned++] = t;
	return ringo_task_future(t);
}

/* Run fn as a task, then every spawned job to its end; leak-checked. */
static int run_body(body_fn *fn, void *arg, void (*setup)(ringo_loop *, ringo_task *))
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	log_reset(&g_log);
	nspawned = 0;
	struct body b = {fn, arg, loop};
	ringo_task *m;
	assert_int_equal(ringo_spawn(loop, body_task, &b, NULL, &m), 0);
	if (setup)
		setup(loop, m);
	int rc = ringo_loop_run_until_complete(loop, ringo_task_future(m), NULL);
	for (size_t i = 0; i < nspawned; i++) {
		ringo_loop_run_until_complete(loop, ringo_task_future(spawned[i]), NULL);
		ringo_task_release(spawned[i]);
	}
	ringo_task_release(m);
	test_loop_free(loop, &ca);
	return rc;
}

/* ---- wait ---- */

struct wait_args {
	enum ringo_wait_mode mode;
	int64_t timeout;
	struct job jobs[3];
	bool done[3];
	int rc;
	int64_t at;
};

static int wait_body(ringo_loop *loop, void *arg)
{
	struct wait_args *a = arg;
	ringo_future *f[3];
	for (int i = 0; i < 3; i++)
		f[i] = spawn_job(loop, &a->jobs[i]);
	a->rc = ringo_wait(f, 3, a->mode, a->timeout, a->done);
	a->at = ringo_loop_time_ns(loop);
	log_add(&g_log, "wait=%d", a->rc);
	return a->rc < 0 ? a->rc : 0;
}

static void test_wait_first_completed_returns_done_and_pending(void **state)
{
	struct wait_args a = {RINGO_FIRST_COMPLETED, RINGO_NO_TIMEOUT,
			      {{"a", RINGO_SEC(3), 0, 0}, {"b", RINGO_SEC(1), 0, 0},
			       {"c", RINGO_SEC(2), 0, 0}}};
	run_body(wait_body, &a, NULL);
	assert_int_equal(a.rc, 1);
	assert_int_equal(a.at, RINGO_SEC(1));
	assert_false(a.done[0]);
	assert_true(a.done[1]);
	assert_false(a.done[2]);
	/* wait never cancels: the pending ones ran to their end. */
	assert_string_equal(g_log.buf, "b(0)@1 wait=1 c(0)@2 a(0)@3");
}

static void test_wait_first_exception_skips_successes(void **state)
{
	struct wait_args a = {RINGO_FIRST_EXCEPTION, RINGO_NO_TIMEOUT,
			      {{"a", RINGO_SEC(3), 0, 0}, {"b", RINGO_SEC(1), 0, 0},
			       {"c", RINGO_SEC(2), -EIO, 0}}};
	run_body(wait_body, &a, NULL);
	assert_int_equal(a.rc, 2);
	assert_int_equal(a.at, RINGO_SEC(2));
	assert_true(a.done[1] && a.done[2] && !a.done[0]);
}

static void test_wait_first_exception_without_failure_waits_for_all(void **state)
{
	struct wait_args a = {RINGO_FIRST_EXCEPTION, RINGO_NO_TIMEOUT,
			      {{"a", RINGO_SEC(3), 0, 0}, {"b", RINGO_SEC(1), 0, 0},
			       {"c", RINGO_SEC(2), 0, 0}}};
	run_body(wait_body, &a, NULL);
	assert_int_equal(a.rc, 3);
	assert_int_equal(a.at, RINGO_SEC(3));
}

static void test_wait_all_completed_with_timeout_returns_partial_sets(void **state)
{
	struct wait_args a = {RINGO_ALL_COMPLETED, RINGO_MSEC(2500),
			      {{"a", RINGO_SEC(3), 0, 0}, {"b", RINGO_SEC(1), 0, 0},
			       {"c", RINGO_SEC(2), 0, 0}}};
	run_body(wait_body, &a, NULL);
	assert_int_equal(a.rc, 2);
	assert_int_equal(a.at, RINGO_MSEC(2500));
	assert_false(a.done[0]);
	assert_string_equal(g_log.buf, "b(0)@1 c(0)@2 wait=2 a(0)@3");
}

static void cancel_cb(void *arg)
{
	ringo_task_cancel(arg, NULL);
}

static void cancel_main_at_1s(ringo_loop *loop, ringo_task *m)
{
	ringo_call_later(loop, RINGO_MSEC(1500), cancel_cb, m, NULL);
}

static void test_cancelling_wait_cancels_nothing_else(void **state)
{
	struct wait_args a = {RINGO_ALL_COMPLETED, RINGO_NO_TIMEOUT,
			      {{"a", RINGO_SEC(3), 0, 0}, {"b", RINGO_SEC(1), 0, 0},
			       {"c", RINGO_SEC(2), 0, 0}}};
	assert_int_equal(run_body(wait_body, &a, cancel_main_at_1s), -ECANCELED);
	assert_int_equal(a.rc, -ECANCELED);
	assert_string_equal(g_log.buf, "b(0)@1 wait=-125 c(0)@2 a(0)@3");
}

static int wait_bad_args(ringo_loop *loop, void *arg)
{
	ringo_future *f;
	ringo_future_new(loop, &f);
	assert_int_equal(ringo_wait(&f, 0, RINGO_ALL_COMPLETED, -1, NULL), -EINVAL);
	assert_int_equal(ringo_wait(&f, 1, (enum ringo_wait_mode)9, -1, NULL), -EINVAL);
	ringo_future_set_result(f, NULL);
	/* Already satisfied: no suspension, no time passes. */
	assert_int_equal(ringo_wait(&f, 1, RINGO_ALL_COMPLETED, -1, NULL), 1);
	ringo_future_release(f);
	return 0;
}

static void test_wait_rejects_bad_arguments(void **state)
{
	assert_int_equal(run_body(wait_bad_args, NULL, NULL), 0);
}

/* ---- wait_for ---- */

struct wf_args {
	struct job job;
	int64_t timeout;
	int rc;
	void *value;
	int64_t at;
	ringo_future *inner;
	bool inner_cancelled;
};

static int wait_for_body(ringo_loop *loop, void *arg)
{
	struct wf_args *a = arg;
	ringo_future *f = spawn_job(loop, &a->job);
	a->inner = f;
	a->rc = ringo_wait_for(f, a->timeout, &a->value);
	a->at = ringo_loop_time_ns(loop);
	a->inner_cancelled = ringo_future_cancelled(f);
	log_add(&g_log, "wait_for=%d@%lld", a->rc, (long long)now_s());
	return a->rc;
}

static void test_wait_for_returns_the_result_in_time(void **state)
{
	struct wf_args a = {{"x", RINGO_SEC(1), 0, 0}, RINGO_SEC(2)};
	assert_int_equal(run_body(wait_for_body, &a, NULL), 0);
	assert_string_equal(a.value, "x");
	assert_int_equal(a.at, RINGO_SEC(1));
}

static void test_wait_for_timeout_cancels_and_waits_for_the_inner_task(void **state)
{
	/* The inner task takes 1 s more after its cancellation: wait_for
	 * returns only once it has finished. */
	struct wf_args a = {{"x", RINGO_SEC(5), 0, 0, RINGO_SEC(1)}, RINGO_SEC(1)};
	assert_int_equal(run_body(wait_for_body, &a, NULL), -ETIMEDOUT);
	assert_string_equal(g_log.buf, "x(-125)@1 x-cleaned@2 wait_for=-110@2");
}

static void test_wait_for_inner_ignoring_cancel_returns_its_result(void **state)
{
	struct wf_args a = {{"x", RINGO_SEC(5), 0, true}, RINGO_SEC(1)};
	assert_int_equal(run_body(wait_for_body, &a, NULL), 0);
	assert_string_equal(a.value, "x");
}

static void test_wait_for_zero_timeout_cancels_at_once(void **state)
{
	struct wf_args a = {{"x", RINGO_SEC(5), 0, 0}, 0};
	assert_int_equal(run_body(wait_for_body, &a, NULL), -ETIMEDOUT);
	assert_int_equal(a.at, 0);
}

static void test_cancelling_the_caller_of_wait_for_is_not_a_timeout(void **state)
{
	struct wf_args a = {{"x", RINGO_SEC(5), 0, 0}, RINGO_SEC(3)};
	assert_int_equal(run_body(wait_for_body, &a, cancel_main_at_1s), -ECANCELED);
	assert_int_equal(a.rc, -ECANCELED);
	assert_true(a.inner_cancelled);
}

/* ---- as_completed ---- */

struct ac_args {
	struct job jobs[3];
	int64_t timeout;
	char order[64];
	int last;
};

static int ac_body(ringo_loop *loop, void *arg)
{
	struct ac_args *a = arg;
	ringo_future *f[3];
	for (int i = 0; i < 3; i++)
		f[i] = spawn_job(loop, &a->jobs[i]);
	ringo_as_completed *it;
	assert_int_equal(ringo_as_completed_new(loop, f, 3, a->timeout, &it), 0);
	ringo_future *next;
	int rc;
	while ((rc = ringo_as_completed_next(it, &next)) == 0) {
		void *v;
		ringo_future_result(next, &v);
		strcat(a->order, v);
	}
	a->last = rc;
	ringo_as_completed_free(it);
	return 0;
}

static void test_as_completed_yields_in_completion_order(void **state)
{
	struct ac_args a = {{{"a", RINGO_SEC(3), 0, 0}, {"b", RINGO_SEC(1), 0, 0},
			     {"c", RINGO_SEC(2), 0, 0}},
			    RINGO_NO_TIMEOUT};
	run_body(ac_body, &a, NULL);
	assert_string_equal(a.order, "bca");
	assert_int_equal(a.last, -ENOENT);
}

static void test_as_completed_times_out(void **state)
{
	struct ac_args a = {{{"a", RINGO_SEC(3), 0, 0}, {"b", RINGO_SEC(1), 0, 0},
			     {"c", RINGO_SEC(2), 0, 0}},
			    RINGO_MSEC(1500)};
	run_body(ac_body, &a, NULL);
	assert_string_equal(a.order, "b");
	assert_int_equal(a.last, -ETIMEDOUT);
}

/* ---- shield ---- */

struct shield_args {
	struct job job;
	ringo_future *inner;
	int rc;
};

static int shield_body(ringo_loop *loop, void *arg)
{
	struct shield_args *a = arg;
	a->inner = spawn_job(loop, &a->job);
	ringo_future *outer;
	assert_int_equal(ringo_shield(a->inner, &outer), 0);
	a->rc = ringo_await(outer, NULL);
	log_add(&g_log, "await=%d@%lld", a->rc, (long long)now_s());
	ringo_future_release(outer);
	return a->rc;
}

static void test_shield_protects_the_inner_task_from_cancellation(void **state)
{
	struct shield_args a = {{"x", RINGO_SEC(3), 0, 0}};
	assert_int_equal(run_body(shield_body, &a, cancel_main_at_1s), -ECANCELED);
	assert_string_equal(g_log.buf, "await=-125@1 x(0)@3");
}

static void test_shield_passes_the_result_through(void **state)
{
	struct shield_args a = {{"x", RINGO_SEC(3), -EIO, 0}};
	assert_int_equal(run_body(shield_body, &a, NULL), -EIO);
}

static void test_shield_of_a_done_future(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_future *in, *out;
	ringo_future_new(loop, &in);
	ringo_future_set_result(in, "v");
	assert_int_equal(ringo_shield(in, &out), 0);
	void *v;
	assert_int_equal(ringo_future_result(out, &v), 0);
	assert_string_equal(v, "v");
	ringo_future_release(in);
	ringo_future_release(out);
	test_loop_free(loop, &ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wait_first_completed_returns_done_and_pending),
		cmocka_unit_test(test_wait_first_exception_skips_successes),
		cmocka_unit_test(test_wait_first_exception_without_failure_waits_for_all),
		cmocka_unit_test(test_wait_all_completed_with_timeout_returns_partial_sets),
		cmocka_unit_test(test_cancelling_wait_cancels_nothing_else),
		cmocka_unit_test(test_wait_rejects_bad_arguments),
		cmocka_unit_test(test_wait_for_returns_the_result_in_time),
		cmocka_unit_test(test_wait_for_timeout_cancels_and_waits_for_the_inner_task),
		cmocka_unit_test(test_wait_for_inner_ignoring_cancel_returns_its_result),
		cmocka_unit_test(test_wait_for_zero_timeout_cancels_at_once),
		cmocka_unit_test(test_cancelling_the_caller_of_wait_for_is_not_a_timeout),
		cmocka_unit_test(test_as_completed_yields_in_completion_order),
		cmocka_unit_test(test_as_completed_times_out),
		cmocka_unit_test(test_shield_protects_the_inner_task_from_cancellation),
		cmocka_unit_test(test_shield_passes_the_result_through),
		cmocka_unit_test(test_shield_of_a_done_future),
	};
	/* RINGO_TEST_FILTER=pattern runs only the matching tests. */
	if (getenv("RINGO_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RINGO_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
