/* gather: argument order, first failure, return_exceptions, cancellation. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static struct log g_log;

struct job {
	const char *name;
	int64_t delay;
	int rc;          /* returned after the sleep (0: result = name) */
	int slept;       /* what ringo_sleep returned */
};

static int job_fn(void *arg, void **result)
{
	struct job *j = arg;
	j->slept = ringo_sleep(j->delay);
	log_add(&g_log, "%s(%d)@%lld", j->name, j->slept,
		(long long)(ringo_loop_time_ns(ringo_loop_current()) / RINGO_SEC(1)));
	if (j->slept < 0)
		return j->slept;
	*result = (void *)j->name;
	return j->rc;
}

#define MAXJ 8
struct gather_case {
	struct job *jobs;
	size_t n;
	bool retexc;
	ringo_task *tasks[MAXJ];
	struct ringo_gather_result out[MAXJ];
	int rc;
	int64_t returned_at;
};

static int gather_main(void *arg, void **result)
{
	struct gather_case *c = arg;
	ringo_loop *loop = ringo_loop_current();
	ringo_future *futs[MAXJ];
	for (size_t i = 0; i < c->n; i++) {
		int err = ringo_spawn(loop, job_fn, &c->jobs[i], NULL, &c->tasks[i]);
		if (err < 0)
			return err;
		futs[i] = ringo_task_future(c->tasks[i]);
	}
	c->rc = ringo_gather(futs, c->n, c->retexc, c->out);
	c->returned_at = ringo_loop_time_ns(loop);
	log_add(&g_log, "gather=%d", c->rc);
	return c->rc;
}

/* Run gather_main to completion, then let the children finish. */
static void run_case(struct gather_case *c, ringo_task **main_out)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	log_reset(&g_log);
	ringo_task *m;
	assert_int_equal(ringo_spawn(loop, gather_main, c, NULL, &m), 0);
	if (main_out)
		*main_out = m;
	ringo_loop_run_until_complete(loop, ringo_task_future(m), NULL);
	for (size_t i = 0; i < c->n; i++) {
		ringo_loop_run_until_complete(loop, ringo_task_future(c->tasks[i]), NULL);
		ringo_task_release(c->tasks[i]);
	}
	ringo_task_release(m);
	test_loop_free(loop, &ca);
}

static void test_empty_gather_returns_at_once(void **state)
{
	struct gather_case c = {.jobs = NULL, .n = 0};
	run_case(&c, NULL);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.returned_at, 0);
	assert_string_equal(g_log.buf, "gather=0");
}

static void test_results_come_in_argument_order(void **state)
{
	struct job jobs[] = {{"a", RINGO_SEC(3), 0, 0}, {"b", RINGO_SEC(2), 0, 0},
			     {"c", RINGO_SEC(4), 0, 0}};
	struct gather_case c = {.jobs = jobs, .n = 3};
	run_case(&c, NULL);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.returned_at, RINGO_SEC(4));
	assert_string_equal(c.out[0].value, "a");
	assert_string_equal(c.out[1].value, "b");
	assert_string_equal(c.out[2].value, "c");
	assert_string_equal(g_log.buf, "b(0)@2 a(0)@3 c(0)@4 gather=0");
}

static void test_first_failure_is_reported_and_others_keep_running(void **state)
{
	struct job jobs[] = {{"a", RINGO_SEC(3), 0, 0}, {"b", RINGO_SEC(1), -EIO, 0},
			     {"c", RINGO_SEC(2), -ENOENT, 0}};
	struct gather_case c = {.jobs = jobs, .n = 3};
	run_case(&c, NULL);
	assert_int_equal(c.rc, -EIO);
	assert_int_equal(c.returned_at, RINGO_SEC(1));
	assert_int_equal(c.out[0].err, -EINPROGRESS);
	assert_int_equal(c.out[1].err, -EIO);
	assert_int_equal(c.out[2].err, -EINPROGRESS);
	/* Nobody was cancelled: a and c ran to their end. */
	assert_string_equal(g_log.buf, "b(0)@1 gather=-5 c(0)@2 a(0)@3");
}

static void test_return_exceptions_fills_every_slot(void **state)
{
	struct job jobs[] = {{"a", RINGO_SEC(3), 0, 0}, {"b", RINGO_SEC(1), -EIO, 0},
			     {"c", RINGO_SEC(2), 0, 0}};
	struct gather_case c = {.jobs = jobs, .n = 3, .retexc = true};
	run_case(&c, NULL);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.returned_at, RINGO_SEC(3));
	assert_int_equal(c.out[0].err, 0);
	assert_string_equal(c.out[0].value, "a");
	assert_int_equal(c.out[1].err, -EIO);
	assert_int_equal(c.out[2].err, 0);
	assert_string_equal(c.out[2].value, "c");
}

static void test_a_cancelled_child_is_a_failure(void **state)
{
	struct job jobs[] = {{"a", RINGO_SEC(3), 0, 0}, {"b", RINGO_SEC(1), -ECANCELED, 0}};
	struct gather_case c = {.jobs = jobs, .n = 2};
	run_case(&c, NULL);
	assert_int_equal(c.rc, -ECANCELED);
	assert_int_equal(c.returned_at, RINGO_SEC(1));
}

static void cancel_cb(void *arg)
{
	ringo_task_cancel(arg, NULL);
}

static void test_cancelling_gather_cancels_children_and_waits(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	log_reset(&g_log);
	struct job jobs[] = {{"a", RINGO_SEC(3), 0, 0}, {"b", RINGO_SEC(1), 0, 0},
			     {"c", RINGO_SEC(5), 0, 0}};
	struct gather_case c = {.jobs = jobs, .n = 3};
	ringo_task *m;
	ringo_spawn(loop, gather_main, &c, NULL, &m);
	ringo_call_later(loop, RINGO_SEC(2), cancel_cb, m, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(m), NULL),
			 -ECANCELED);
	assert_int_equal(c.rc, -ECANCELED);
	assert_int_equal(c.returned_at, RINGO_SEC(2));
	/* a and c were cancelled and had finished before gather returned. */
	assert_string_equal(g_log.buf, "b(0)@1 a(-125)@2 c(-125)@2 gather=-125");
	assert_int_equal(c.out[0].err, -ECANCELED);
	assert_int_equal(c.out[1].err, 0);
	assert_int_equal(c.out[2].err, -ECANCELED);
	assert_true(ringo_future_cancelled(ringo_task_future(m)));
	for (int i = 0; i < 3; i++)
		ringo_task_release(c.tasks[i]);
	ringo_task_release(m);
	test_loop_free(loop, &ca);
}

static int self_cancel_then_gather(void *arg, void **result)
{
	struct gather_case *c = arg;
	ringo_task_cancel(ringo_task_current(), NULL);
	return gather_main(c, result);
}

static void test_cancel_pending_before_gather_still_reaches_children(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	log_reset(&g_log);
	struct job jobs[] = {{"a", RINGO_SEC(3), 0, 0}};
	struct gather_case c = {.jobs = jobs, .n = 1};
	ringo_task *m;
	ringo_spawn(loop, self_cancel_then_gather, &c, NULL, &m);
	ringo_loop_run_until_complete(loop, ringo_task_future(m), NULL);
	assert_int_equal(c.rc, -ECANCELED);
	assert_true(ringo_future_cancelled(ringo_task_future(c.tasks[0])));
	assert_int_equal(c.returned_at, 0);
	ringo_task_release(c.tasks[0]);
	ringo_task_release(m);
	test_loop_free(loop, &ca);
}

struct fut_case {
	ringo_future *f[3];
	struct ringo_gather_result out[3];
	int rc;
};

static void set_b(void *arg)
{
	struct fut_case *c = arg;
	ringo_future_set_result(c->f[1], "B");
	ringo_future_set_result(c->f[2], "C");
}

static int gather_futs(void *arg, void **result)
{
	struct fut_case *c = arg;
	ringo_call_later(ringo_loop_current(), RINGO_SEC(1), set_b, c, NULL);
	c->rc = ringo_gather(c->f, 3, false, c->out);
	return 0;
}

static void test_gather_of_plain_futures_some_already_done(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	struct fut_case c = {0};
	for (int i = 0; i < 3; i++)
		ringo_future_new(loop, &c.f[i]);
	ringo_future_set_result(c.f[0], "A");
	ringo_task *m;
	ringo_spawn(loop, gather_futs, &c, NULL, &m);
	ringo_loop_run_until_complete(loop, ringo_task_future(m), NULL);
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.out[0].value, "A");
	assert_string_equal(c.out[1].value, "B");
	assert_string_equal(c.out[2].value, "C");
	for (int i = 0; i < 3; i++)
		ringo_future_release(c.f[i]);
	ringo_task_release(m);
	test_loop_free(loop, &ca);
}

static int gather_with_a_bad_last(void *arg, void **result)
{
	struct fut_case *c = arg;
	c->rc = ringo_gather(c->f, 3, false, c->out);
	return 0;
}

static void test_a_bad_future_after_others_is_einval_and_leaves_them_unwatched(void **state)
{
	/* f[0] pending (armed before f[2] is checked), f[1] done, f[2] of
	 * another loop: nothing of gather's may stay on f[0]; completing it
	 * afterwards must not reach the freed record (ASan) or leak. */
	struct counting_allocator ca, ca_other;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_loop *other = test_loop_new(&ca_other, RINGO_LOOP_VIRTUAL_CLOCK);
	struct fut_case c = {0};
	ringo_future_new(loop, &c.f[0]);
	ringo_future_new(loop, &c.f[1]);
	ringo_future_new(other, &c.f[2]);
	ringo_future_set_result(c.f[1], "B");
	ringo_task *m;
	ringo_spawn(loop, gather_with_a_bad_last, &c, NULL, &m);
	ringo_loop_run_until_complete(loop, ringo_task_future(m), NULL);
	assert_int_equal(c.rc, -EINVAL);
	ringo_future_set_result(c.f[0], "A");
	ringo_loop_run_until_complete(loop, c.f[0], NULL);
	for (int i = 0; i < 3; i++)
		ringo_future_release(c.f[i]);
	ringo_task_release(m);
	test_loop_free(loop, &ca);
	test_loop_free(other, &ca_other);
}

static void test_gather_outside_a_task_is_eperm(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_future *f;
	ringo_future_new(loop, &f);
	struct ringo_gather_result out[1];
	assert_int_equal(ringo_gather(&f, 1, false, out), -EPERM);
	assert_int_equal(ringo_gather(NULL, 1, false, out), -EINVAL);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void test_failed_gather_leaves_no_leak_when_children_finish_later(void **state)
{
	/* The gather record outlives the call until the last child's queued
	 * callback ran: checked by the leak check of test_loop_free. */
	struct job jobs[] = {{"a", RINGO_SEC(1), -EIO, 0}, {"b", RINGO_SEC(1), -EBADF, 0},
			     {"c", RINGO_SEC(1), 0, 0}};
	struct gather_case c = {.jobs = jobs, .n = 3};
	run_case(&c, NULL);
	assert_int_equal(c.rc, -EIO);
}

static struct counting_allocator *g_ca;

static int gather_oom(void *arg, void **result)
{
	struct fut_case *c = arg;
	g_ca->fail_at = g_ca->attempts + 1; /* the gather record */
	c->rc = ringo_gather(c->f, 3, false, c->out);
	g_ca->fail_at = 0;
	return 0;
}

static void test_gather_allocation_failure_is_enomem(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	g_ca = &ca;
	struct fut_case c = {0};
	for (int i = 0; i < 3; i++)
		ringo_future_new(loop, &c.f[i]);
	ringo_task *m;
	ringo_spawn(loop, gather_oom, &c, NULL, &m);
	ringo_loop_run_until_complete(loop, ringo_task_future(m), NULL);
	assert_int_equal(c.rc, -ENOMEM);
	for (int i = 0; i < 3; i++)
		ringo_future_release(c.f[i]);
	ringo_task_release(m);
	test_loop_free(loop, &ca);
}

/* ---- ringo_gather_future ---- */

struct gf_case {
	ringo_future *f[3];
	struct ringo_gather_result out[3];
	ringo_future *outer;
};

static void set_f1_f2(void *arg)
{
	struct gf_case *c = arg;
	ringo_future_set_result(c->f[2], "C");
	ringo_future_set_result(c->f[1], "B");
}

static void fail_f1(void *arg)
{
	struct gf_case *c = arg;
	ringo_future_set_error(c->f[1], -EIO);
}

static void gf_setup(ringo_loop *loop, struct gf_case *c)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < 3; i++)
		ringo_future_new(loop, &c->f[i]);
}

static void gf_teardown(struct gf_case *c)
{
	for (int i = 0; i < 3; i++)
		ringo_future_release(c->f[i]);
	ringo_future_release(c->outer);
}

static void test_gather_future_completes_from_callbacks(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	struct gf_case c;
	gf_setup(loop, &c);
	ringo_future_set_result(c.f[0], "A");
	assert_int_equal(ringo_gather_future(loop, c.f, 3, false, c.out, &c.outer), 0);
	assert_false(ringo_future_done(c.outer));
	ringo_call_later(loop, RINGO_SEC(1), set_f1_f2, &c, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, c.outer, NULL), 0);
	assert_string_equal(c.out[0].value, "A");
	assert_string_equal(c.out[1].value, "B");
	assert_string_equal(c.out[2].value, "C");
	gf_teardown(&c);
	test_loop_free(loop, &ca);
}

static void test_gather_future_reports_the_first_failure(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	struct gf_case c;
	gf_setup(loop, &c);
	assert_int_equal(ringo_gather_future(loop, c.f, 3, false, c.out, &c.outer), 0);
	ringo_call_later(loop, RINGO_SEC(1), fail_f1, &c, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, c.outer, NULL), -EIO);
	/* The others were not cancelled. */
	assert_false(ringo_future_done(c.f[0]));
	assert_false(ringo_future_done(c.f[2]));
	gf_teardown(&c);
	test_loop_free(loop, &ca);
}

static void test_cancelling_the_gather_future_cancels_children(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	struct gf_case c;
	gf_setup(loop, &c);
	ringo_future_set_result(c.f[0], "A");
	assert_int_equal(ringo_gather_future(loop, c.f, 3, true, c.out, &c.outer), 0);
	assert_true(ringo_future_cancel(c.outer, NULL));
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop);
	assert_true(ringo_future_cancelled(c.f[1]));
	assert_true(ringo_future_cancelled(c.f[2]));
	assert_false(ringo_future_cancelled(c.f[0]));
	gf_teardown(&c);
	test_loop_free(loop, &ca);
}

static void test_empty_gather_future_is_done(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_future *outer;
	assert_int_equal(ringo_gather_future(loop, NULL, 0, false, NULL, &outer), 0);
	assert_true(ringo_future_done(outer));
	assert_int_equal(ringo_future_error(outer), 0);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop); /* its clean-up callback */
	ringo_future_release(outer);
	test_loop_free(loop, &ca);
}

/* ---- ported from CPython's test_tasks.py (GatherTests, gather cases) ---- */

static int done_calls;
static void count_done(ringo_future *f, void *arg)
{
	done_calls++;
}

static void run_briefly(ringo_loop *loop)
{
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop);
}

static void check_success(bool retexc)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f[3], *outer;
	struct ringo_gather_result out[3];
	for (int i = 0; i < 3; i++)
		ringo_future_new(loop, &f[i]);
	assert_int_equal(ringo_gather_future(loop, f, 3, retexc, out, &outer), 0);
	done_calls = 0;
	ringo_future_add_done_callback(outer, count_done, NULL);
	ringo_future_set_result(f[1], (void *)1);
	ringo_future_set_result(f[0], (void *)2);
	run_briefly(loop);
	assert_int_equal(done_calls, 0);
	assert_false(ringo_future_done(outer));
	ringo_future_set_result(f[2], (void *)3);
	run_briefly(loop);
	run_briefly(loop);
	assert_int_equal(done_calls, 1);
	assert_int_equal(ringo_future_result(outer, NULL), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(out[i].err, 0);
	assert_int_equal((intptr_t)out[0].value, 2);
	assert_int_equal((intptr_t)out[1].value, 1);
	assert_int_equal((intptr_t)out[2].value, 3);
	for (int i = 0; i < 3; i++)
		ringo_future_release(f[i]);
	ringo_future_release(outer);
	test_loop_free(loop, &ca);
}

static void test_success(void **state)
{
	check_success(false);
}

static void test_result_exception_success(void **state)
{
	check_success(true);
}

static void test_one_exception(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f[5], *outer;
	struct ringo_gather_result out[5];
	for (int i = 0; i < 5; i++)
		ringo_future_new(loop, &f[i]);
	ringo_gather_future(loop, f, 5, false, out, &outer);
	done_calls = 0;
	ringo_future_add_done_callback(outer, count_done, NULL);
	ringo_future_set_result(f[0], (void *)1);
	ringo_future_set_error(f[1], -EDOM);
	run_briefly(loop);
	run_briefly(loop);
	assert_true(ringo_future_done(outer));
	assert_int_equal(done_calls, 1);
	assert_int_equal(ringo_future_error(outer), -EDOM);
	/* Does nothing. */
	ringo_future_set_result(f[2], (void *)3);
	ringo_future_cancel(f[3], NULL);
	ringo_future_set_error(f[4], -ERANGE);
	run_briefly(loop);
	assert_int_equal(ringo_future_error(outer), -EDOM);
	assert_int_equal(done_calls, 1);
	for (int i = 0; i < 5; i++)
		ringo_future_release(f[i]);
	ringo_future_release(outer);
	test_loop_free(loop, &ca);
}

static void test_return_exceptions(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f[4], *outer;
	struct ringo_gather_result out[4];
	for (int i = 0; i < 4; i++)
		ringo_future_new(loop, &f[i]);
	ringo_gather_future(loop, f, 4, true, out, &outer);
	done_calls = 0;
	ringo_future_add_done_callback(outer, count_done, NULL);
	ringo_future_set_result(f[1], (void *)1);
	ringo_future_set_error(f[2], -EDOM);
	ringo_future_set_result(f[0], (void *)3);
	run_briefly(loop);
	assert_false(ringo_future_done(outer));
	ringo_future_set_error(f[3], -ERANGE);
	run_briefly(loop);
	run_briefly(loop);
	assert_true(ringo_future_done(outer));
	assert_int_equal(done_calls, 1);
	assert_int_equal(ringo_future_result(outer, NULL), 0);
	assert_int_equal((intptr_t)out[0].value, 3);
	assert_int_equal((intptr_t)out[1].value, 1);
	assert_int_equal(out[2].err, -EDOM);
	assert_int_equal(out[3].err, -ERANGE);
	for (int i = 0; i < 4; i++)
		ringo_future_release(f[i]);
	ringo_future_release(outer);
	test_loop_free(loop, &ca);
}

static void test_constructor_heterogenous_futures(void **state)
{
	struct counting_allocator ca;
	ringo_loop *one = test_loop_new(&ca, 0);
	ringo_loop *other;
	assert_int_equal(ringo_loop_new(NULL, &other), 0);
	ringo_future *f[2], *outer = (ringo_future *)1;
	struct ringo_gather_result out[2];
	ringo_future_new(one, &f[0]);
	ringo_future_new(other, &f[1]);
	assert_int_equal(ringo_gather_future(one, f, 2, false, out, &outer), -EINVAL);
	assert_null(outer);
	/* All of the other loop, on the other loop: fine, and not done. */
	ringo_future *g[2];
	ringo_future_new(other, &g[0]);
	g[1] = f[1];
	assert_int_equal(ringo_gather_future(other, g, 2, false, out, &outer), 0);
	assert_ptr_equal(ringo_future_loop(outer), other);
	assert_false(ringo_future_done(outer));
	ringo_future_cancel(outer, NULL);
	run_briefly(other);
	ringo_future_release(outer);
	ringo_future_release(g[0]);
	ringo_future_release(f[0]);
	ringo_future_release(f[1]);
	assert_int_equal(ringo_loop_free(other), 0);
	test_loop_free(one, &ca);
}

static void test_one_cancellation(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f[5], *outer;
	struct ringo_gather_result out[5];
	for (int i = 0; i < 5; i++)
		ringo_future_new(loop, &f[i]);
	ringo_gather_future(loop, f, 5, false, out, &outer);
	done_calls = 0;
	ringo_future_add_done_callback(outer, count_done, NULL);
	ringo_future_set_result(f[0], (void *)1);
	ringo_future_cancel(f[1], NULL);
	run_briefly(loop);
	run_briefly(loop);
	assert_true(ringo_future_done(outer));
	assert_int_equal(done_calls, 1);
	/* asyncio fails outer with CancelledError without cancelling it; a
	 * ringo future cannot hold -ECANCELED as an error: outer is cancelled. */
	assert_int_equal(ringo_future_error(outer), -ECANCELED);
	assert_true(ringo_future_cancelled(outer));
	ringo_future_set_result(f[2], (void *)3);
	ringo_future_cancel(f[3], NULL);
	ringo_future_set_error(f[4], -ERANGE);
	for (int i = 0; i < 5; i++)
		ringo_future_release(f[i]);
	ringo_future_release(outer);
	test_loop_free(loop, &ca);
}

static void test_result_exception_one_cancellation(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f[6], *outer;
	struct ringo_gather_result out[6];
	for (int i = 0; i < 6; i++)
		ringo_future_new(loop, &f[i]);
	ringo_gather_future(loop, f, 6, true, out, &outer);
	ringo_future_set_result(f[0], (void *)1);
	ringo_future_set_error(f[1], -EDOM);
	ringo_future_cancel(f[2], NULL);
	run_briefly(loop);
	assert_false(ringo_future_done(outer));
	ringo_future_set_result(f[3], (void *)3);
	ringo_future_cancel(f[4], NULL);
	ringo_future_set_error(f[5], -ERANGE);
	assert_int_equal(ringo_loop_run_until_complete(loop, outer, NULL), 0);
	assert_int_equal((intptr_t)out[0].value, 1);
	assert_int_equal(out[1].err, -EDOM);
	assert_int_equal(out[2].err, -ECANCELED);
	assert_int_equal((intptr_t)out[3].value, 3);
	assert_int_equal(out[4].err, -ECANCELED);
	assert_int_equal(out[5].err, -ERANGE);
	for (int i = 0; i < 6; i++)
		ringo_future_release(f[i]);
	ringo_future_release(outer);
	test_loop_free(loop, &ca);
}

static int returns_arg(void *arg, void **result)
{
	*result = arg;
	return 0;
}

static int gather_duplicates(void *arg, void **result)
{
	ringo_task *c, *d;
	ringo_spawn(ringo_loop_current(), returns_arg, "abc", NULL, &c);
	ringo_spawn(ringo_loop_current(), returns_arg, "def", NULL, &d);
	ringo_future *f[4] = {ringo_task_future(c), ringo_task_future(c), ringo_task_future(d),
			      ringo_task_future(c)};
	struct ringo_gather_result out[4];
	int rc = ringo_gather(f, 4, false, out);
	assert_string_equal(out[0].value, "abc");
	assert_string_equal(out[1].value, "abc");
	assert_string_equal(out[2].value, "def");
	assert_string_equal(out[3].value, "abc");
	ringo_task_release(c);
	ringo_task_release(d);
	return rc;
}

static void test_duplicate_coroutines(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	ringo_spawn(loop, gather_duplicates, NULL, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

struct broadcast {
	ringo_future *waiter;
	ringo_task *child[2];
	int proof;
};

static int inner_awaits(void *arg, void **result)
{
	struct broadcast *b = arg;
	int rc = ringo_await(b->waiter, NULL);
	if (rc == 0)
		b->proof += 1;
	return rc;
}

static int outer_gathers(void *arg, void **result)
{
	struct broadcast *b = arg;
	ringo_future *f[2] = {ringo_task_future(b->child[0]), ringo_task_future(b->child[1])};
	struct ringo_gather_result out[2];
	int rc = ringo_gather(f, 2, false, out);
	if (rc == 0)
		b->proof += 100;
	return rc;
}

static void test_cancellation_broadcast(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct broadcast b = {0};
	ringo_future_new(loop, &b.waiter);
	ringo_spawn(loop, inner_awaits, &b, NULL, &b.child[0]);
	ringo_spawn(loop, inner_awaits, &b, NULL, &b.child[1]);
	ringo_task *t;
	ringo_spawn(loop, outer_gathers, &b, NULL, &t);
	run_briefly(loop);
	assert_true(ringo_task_cancel(t, NULL));
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	assert_true(ringo_future_cancelled(b.waiter));
	assert_true(ringo_future_cancelled(ringo_task_future(b.child[0])));
	assert_true(ringo_future_cancelled(ringo_task_future(b.child[1])));
	run_briefly(loop);
	assert_int_equal(b.proof, 0);
	ringo_task_release(b.child[0]);
	ringo_task_release(b.child[1]);
	ringo_task_release(t);
	ringo_future_release(b.waiter);
	test_loop_free(loop, &ca);
}

static int raises_after(void *arg, void **result)
{
	ringo_await(arg, NULL);
	return -ENOTSUP; /* "should not be ignored" */
}

struct marking {
	ringo_future *a, *b;
};

static int gathers_two_raisers(void *arg, void **result)
{
	struct marking *m = arg;
	ringo_task *t1, *t2;
	ringo_spawn(ringo_loop_current(), raises_after, m->a, NULL, &t1);
	ringo_spawn(ringo_loop_current(), raises_after, m->b, NULL, &t2);
	ringo_future *f[2] = {ringo_task_future(t1), ringo_task_future(t2)};
	struct ringo_gather_result out[2];
	int rc = ringo_gather(f, 2, false, out);
	ringo_task_release(t1);
	ringo_task_release(t2);
	return rc;
}

static void test_exception_marking(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct marking m;
	ringo_future_new(loop, &m.a);
	ringo_future_new(loop, &m.b);
	ringo_task *t;
	ringo_spawn(loop, gathers_two_raisers, &m, NULL, &t);
	run_briefly(loop);
	ringo_future_set_result(m.a, NULL);
	run_briefly(loop);
	ringo_future_set_result(m.b, NULL);
	run_briefly(loop);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), -ENOTSUP);
	assert_int_equal(ringo_future_error(ringo_task_future(t)), -ENOTSUP);
	ringo_future_release(m.a);
	ringo_future_release(m.b);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int sleeps_50ms(void *arg, void **result)
{
	return ringo_sleep(RINGO_MSEC(50));
}

static int gathers_in_a_loop(void *arg, void **result)
{
	for (int64_t t = 0; t <= RINGO_SEC(1); t += RINGO_MSEC(50)) {
		ringo_task *s;
		ringo_spawn(ringo_loop_current(), sleeps_50ms, NULL, NULL, &s);
		ringo_future *f = ringo_task_future(s);
		struct ringo_gather_result out;
		int rc = ringo_gather(&f, 1, true, &out);
		ringo_task_release(s);
		if (rc < 0)
			return rc; /* return_exceptions does not swallow our cancel */
	}
	return 0;
}

static int cancel_gathering_task(void *arg, void **result)
{
	ringo_task *qwe;
	ringo_spawn(ringo_loop_current(), gathers_in_a_loop, NULL, NULL, &qwe);
	ringo_sleep(RINGO_MSEC(200));
	ringo_task_cancel(qwe, (const char *)arg);
	int rc = ringo_await(ringo_task_future(qwe), NULL);
	const char *msg = ringo_future_cancel_message(ringo_task_future(qwe));
	if (arg)
		assert_string_equal(msg, arg);
	else
		assert_null(msg);
	ringo_task_release(qwe);
	return rc;
}

static void test_cancel_gather_2(void **state)
{
	const char *msgs[] = {NULL, "my message"};
	for (int i = 0; i < 2; i++) {
		struct counting_allocator ca;
		ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
		ringo_task *t;
		ringo_spawn(loop, cancel_gathering_task, (void *)msgs[i], NULL, &t);
		assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
				 -ECANCELED);
		/* main let the cancellation through: it carries the message. */
		const char *msg = ringo_future_cancel_message(ringo_task_future(t));
		if (msgs[i])
			assert_string_equal(msg, msgs[i]);
		else
			assert_null(msg);
		ringo_task_release(t);
		test_loop_free(loop, &ca);
	}
}

static void test_shield_gather(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *child[2], *parent, *outer;
	struct ringo_gather_result out[2];
	ringo_future_new(loop, &child[0]);
	ringo_future_new(loop, &child[1]);
	ringo_gather_future(loop, child, 2, false, out, &parent);
	ringo_shield(parent, &outer);
	run_briefly(loop);
	ringo_future_cancel(outer, NULL);
	run_briefly(loop);
	assert_true(ringo_future_cancelled(outer));
	ringo_future_set_result(child[0], (void *)1);
	ringo_future_set_result(child[1], (void *)2);
	run_briefly(loop);
	run_briefly(loop);
	assert_int_equal(ringo_future_result(parent, NULL), 0);
	assert_int_equal((intptr_t)out[0].value, 1);
	assert_int_equal((intptr_t)out[1].value, 2);
	ringo_future_release(child[0]);
	ringo_future_release(child[1]);
	ringo_future_release(parent);
	ringo_future_release(outer);
	test_loop_free(loop, &ca);
}

static void test_gather_shield(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *child[2], *inner[2], *parent;
	struct ringo_gather_result out[2];
	for (int i = 0; i < 2; i++) {
		ringo_future_new(loop, &child[i]);
		ringo_shield(child[i], &inner[i]);
	}
	ringo_gather_future(loop, inner, 2, false, out, &parent);
	run_briefly(loop);
	ringo_future_cancel(parent, NULL);
	run_briefly(loop);
	/* This cancels the shields, not the children. */
	assert_true(ringo_future_cancelled(parent));
	assert_true(ringo_future_cancelled(inner[0]));
	assert_true(ringo_future_cancelled(inner[1]));
	assert_false(ringo_future_done(child[0]));
	ringo_future_set_result(child[0], (void *)1);
	ringo_future_set_result(child[1], (void *)2);
	run_briefly(loop);
	for (int i = 0; i < 2; i++) {
		ringo_future_release(child[i]);
		ringo_future_release(inner[i]);
	}
	ringo_future_release(parent);
	test_loop_free(loop, &ca);
}

/* test_eager_task_factory.py's recursive_gather(5, 4): 781 tasks. */
static int spawned_total;

static int recursive_gather(void *arg, void **result)
{
	intptr_t depth = (intptr_t)arg;
	spawned_total++;
	if (depth == 0)
		return 0;
	ringo_task *t[5];
	ringo_future *f[5];
	for (int i = 0; i < 5; i++) {
		ringo_spawn(ringo_loop_current(), recursive_gather, (void *)(depth - 1), NULL, &t[i]);
		f[i] = ringo_task_future(t[i]);
	}
	struct ringo_gather_result out[5];
	int rc = ringo_gather(f, 5, false, out);
	for (int i = 0; i < 5; i++)
		ringo_task_release(t[i]);
	return rc;
}

static void test_recursive_gather(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	spawned_total = 0;
	ringo_task *t;
	ringo_spawn(loop, recursive_gather, (void *)4, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	assert_int_equal(spawned_total, 781); /* 1 + 5 + 5^2 + 5^3 + 5^4 */
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int gather_child_cancelled(void *arg, void **result)
{
	ringo_task *c;
	ringo_spawn(ringo_loop_current(), sleeps_50ms, NULL, NULL, &c);
	ringo_task_cancel(c, "child's");
	ringo_future *f = ringo_task_future(c);
	struct ringo_gather_result out;
	int rc = ringo_gather(&f, 1, false, &out);
	ringo_task_release(c);
	return rc; /* lets the child's cancellation through */
}

static void test_gather_passes_a_childs_cancel_message_on(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_task *t;
	ringo_spawn(loop, gather_child_cancelled, NULL, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	assert_string_equal(ringo_future_cancel_message(ringo_task_future(t)), "child's");
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

/* ---- closing the loop under a gather leaves nothing behind ---- */

static ringo_future *g_pending;

static int gathers_pending(void *arg, void **result)
{
	struct ringo_gather_result out;
	return ringo_gather(&g_pending, 1, false, &out);
}

static void test_close_with_a_task_in_gather_leaks_nothing(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future_new(loop, &g_pending);
	ringo_spawn(loop, gathers_pending, NULL, NULL, NULL);
	run_briefly(loop); /* the task waits in gather */
	assert_int_equal(ringo_loop_close(loop), 0);
	/* The abandoned gather let go of its record and its reference. */
	ringo_future_release(g_pending);
	test_loop_free(loop, &ca);
}

static void test_close_with_a_pending_gather_future_leaks_nothing(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f, *outer;
	struct ringo_gather_result out;
	ringo_future_new(loop, &f);
	assert_int_equal(ringo_gather_future(loop, &f, 1, false, &out, &outer), 0);
	assert_int_equal(ringo_loop_close(loop), 0);
	ringo_future_release(outer);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void test_close_before_the_gather_future_cleanup_runs_leaks_nothing(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f, *outer;
	struct ringo_gather_result out;
	ringo_future_new(loop, &f);
	assert_int_equal(ringo_gather_future(loop, &f, 1, false, &out, &outer), 0);
	ringo_future_set_result(f, NULL);
	run_briefly(loop); /* outer done; its clean-up is queued */
	assert_true(ringo_future_done(outer));
	assert_int_equal(ringo_loop_close(loop), 0); /* drops it */
	ringo_future_release(outer);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_gather_returns_at_once),
		cmocka_unit_test(test_results_come_in_argument_order),
		cmocka_unit_test(test_first_failure_is_reported_and_others_keep_running),
		cmocka_unit_test(test_return_exceptions_fills_every_slot),
		cmocka_unit_test(test_a_cancelled_child_is_a_failure),
		cmocka_unit_test(test_cancelling_gather_cancels_children_and_waits),
		cmocka_unit_test(test_cancel_pending_before_gather_still_reaches_children),
		cmocka_unit_test(test_gather_of_plain_futures_some_already_done),
		cmocka_unit_test(test_a_bad_future_after_others_is_einval_and_leaves_them_unwatched),
		cmocka_unit_test(test_gather_outside_a_task_is_eperm),
		cmocka_unit_test(test_failed_gather_leaves_no_leak_when_children_finish_later),
		cmocka_unit_test(test_gather_allocation_failure_is_enomem),
		cmocka_unit_test(test_gather_future_completes_from_callbacks),
		cmocka_unit_test(test_gather_future_reports_the_first_failure),
		cmocka_unit_test(test_cancelling_the_gather_future_cancels_children),
		cmocka_unit_test(test_empty_gather_future_is_done),
		cmocka_unit_test(test_success),
		cmocka_unit_test(test_result_exception_success),
		cmocka_unit_test(test_one_exception),
		cmocka_unit_test(test_return_exceptions),
		cmocka_unit_test(test_constructor_heterogenous_futures),
		cmocka_unit_test(test_one_cancellation),
		cmocka_unit_test(test_result_exception_one_cancellation),
		cmocka_unit_test(test_duplicate_coroutines),
		cmocka_unit_test(test_cancellation_broadcast),
		cmocka_unit_test(test_exception_marking),
		cmocka_unit_test(test_cancel_gather_2),
		cmocka_unit_test(test_shield_gather),
		cmocka_unit_test(test_gather_shield),
		cmocka_unit_test(test_recursive_gather),
		cmocka_unit_test(test_gather_passes_a_childs_cancel_message_on),
		cmocka_unit_test(test_close_with_a_task_in_gather_leaks_nothing),
		cmocka_unit_test(test_close_with_a_pending_gather_future_leaks_nothing),
		cmocka_unit_test(test_close_before_the_gather_future_cleanup_runs_leaks_nothing),
	};
	/* RINGO_TEST_FILTER=pattern runs only the matching tests. */
	if (getenv("RINGO_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RINGO_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
