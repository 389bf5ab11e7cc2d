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
	struct wait_args a = {RINGO_FIRST_COMPLETED, RINGO_FOREVER,
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
	struct wait_args a = {RINGO_FIRST_EXCEPTION, RINGO_FOREVER,
			      {{"a", RINGO_SEC(3), 0, 0}, {"b", RINGO_SEC(1), 0, 0},
			       {"c", RINGO_SEC(2), -EIO, 0}}};
	run_body(wait_body, &a, NULL);
	assert_int_equal(a.rc, 2);
	assert_int_equal(a.at, RINGO_SEC(2));
	assert_true(a.done[1] && a.done[2] && !a.done[0]);
}

static void test_wait_first_exception_without_failure_waits_for_all(void **state)
{
	struct wait_args a = {RINGO_FIRST_EXCEPTION, RINGO_FOREVER,
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
	struct wait_args a = {RINGO_ALL_COMPLETED, RINGO_FOREVER,
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
			    RINGO_FOREVER};
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

/* ---- ported from CPython's test_tasks.py (wait, as_completed, shield) ---- */

static int sleeps_arg_ns(void *arg, void **result)
{
	*result = arg;
	return ringo_sleep((int64_t)(intptr_t)arg);
}

static int fails_after_arg_ns(void *arg, void **result)
{
	ringo_sleep((int64_t)(intptr_t)arg);
	return -EDOM; /* ZeroDivisionError */
}

static ringo_task *spawn_on(ringo_loop *loop, ringo_task_fn *fn, int64_t ns)
{
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, fn, (void *)(intptr_t)ns, NULL, &t), 0);
	return t;
}

struct wait_port {
	ringo_task *a, *b;
	enum ringo_wait_mode mode;
	int64_t timeout;
	bool done[2];
	int rc;
};

static int wait_b_a(void *arg, void **result)
{
	struct wait_port *w = arg;
	ringo_future *f[2] = {ringo_task_future(w->b), ringo_task_future(w->a)};
	w->rc = ringo_wait(f, 2, w->mode, w->timeout, w->done);
	return w->rc < 0 ? w->rc : 0;
}

/* Run wait over [b, a] in a task; returns the loop time when it ended.
 * Then let a and b finish, release them, free the loop. */
static int64_t run_wait(struct wait_port *w, ringo_task_fn *afn, int64_t ad, ringo_task_fn *bfn,
			int64_t bd, int runs)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	w->a = spawn_on(loop, afn, ad);
	w->b = spawn_on(loop, bfn, bd);
	int64_t at = 0;
	for (int i = 0; i < runs; i++) {
		ringo_task *t;
		ringo_spawn(loop, wait_b_a, w, NULL, &t);
		ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL);
		ringo_task_release(t);
		at = ringo_loop_time_ns(loop);
	}
	ringo_loop_run_until_complete(loop, ringo_task_future(w->a), NULL);
	ringo_loop_run_until_complete(loop, ringo_task_future(w->b), NULL);
	ringo_task_release(w->a);
	ringo_task_release(w->b);
	test_loop_free(loop, &ca);
	return at;
}

static void test_wait(void **state)
{
	struct wait_port w = {.mode = RINGO_ALL_COMPLETED, .timeout = RINGO_FOREVER};
	/* Twice: the second time everything is done already (no time passes). */
	int64_t at = run_wait(&w, sleeps_arg_ns, RINGO_MSEC(100), sleeps_arg_ns, RINGO_MSEC(150), 2);
	assert_int_equal(w.rc, 2);
	assert_true(w.done[0] && w.done[1]);
	assert_int_equal(at, RINGO_MSEC(150));
}

static int wait_duplicates(void *arg, void **result)
{
	ringo_task *c, *d;
	ringo_spawn(ringo_loop_current(), sleeps_arg_ns, (void *)0, NULL, &c);
	ringo_spawn(ringo_loop_current(), sleeps_arg_ns, (void *)0, NULL, &d);
	ringo_future *f[3] = {ringo_task_future(c), ringo_task_future(c), ringo_task_future(d)};
	bool done[3];
	int rc = ringo_wait(f, 3, RINGO_ALL_COMPLETED, RINGO_FOREVER, done);
	assert_int_equal(rc, 3);
	assert_true(done[0] && done[1] && done[2]);
	ringo_task_release(c);
	ringo_task_release(d);
	return 0;
}

static void test_wait_duplicate_coroutines(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	ringo_spawn(loop, wait_duplicates, NULL, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int wait_errors(void *arg, void **result)
{
	ringo_future *f;
	ringo_future_new(ringo_loop_current(), &f);
	ringo_future *none = NULL;
	assert_int_equal(ringo_wait(&f, 0, RINGO_ALL_COMPLETED, RINGO_FOREVER, NULL), -EINVAL);
	assert_int_equal(ringo_wait(&f, 1, (enum ringo_wait_mode)-1, RINGO_FOREVER, NULL),
			 -EINVAL);
	assert_int_equal(ringo_wait(NULL, 1, RINGO_ALL_COMPLETED, RINGO_FOREVER, NULL), -EINVAL);
	assert_int_equal(ringo_wait(&none, 1, RINGO_ALL_COMPLETED, RINGO_FOREVER, NULL),
			 -EINVAL);
	ringo_future_release(f);
	return 0;
}

static void test_wait_errors(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	ringo_spawn(loop, wait_errors, NULL, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	ringo_task_release(t);
	ringo_future *f;
	ringo_future_new(loop, &f);
	assert_int_equal(ringo_wait(&f, 1, RINGO_ALL_COMPLETED, RINGO_FOREVER, NULL), -EPERM);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void test_wait_first_completed(void **state)
{
	struct wait_port w = {.mode = RINGO_FIRST_COMPLETED, .timeout = RINGO_FOREVER};
	int64_t at = run_wait(&w, sleeps_arg_ns, RINGO_SEC(10), sleeps_arg_ns, RINGO_MSEC(100), 1);
	assert_int_equal(w.rc, 1);
	assert_true(w.done[0]);  /* b */
	assert_false(w.done[1]); /* a */
	assert_int_equal(at, RINGO_MSEC(100));
}

static int yields_n(void *arg, void **result)
{
	for (intptr_t i = 0; i < (intptr_t)arg; i++)
		ringo_sleep(0);
	return 0;
}

static void test_wait_really_done(void **state)
{
	/* FIRST_COMPLETED reports what is done when wait returns: b finished
	 * too while a's completion was on its way to the waiting task. */
	struct wait_port w = {.mode = RINGO_FIRST_COMPLETED, .timeout = RINGO_FOREVER};
	run_wait(&w, yields_n, 1, yields_n, 2, 1);
	assert_int_equal(w.rc, 2);
	assert_true(w.done[0] && w.done[1]);
}

static void test_wait_first_exception(void **state)
{
	/* b has failed already: no time passes. */
	struct wait_port w = {.mode = RINGO_FIRST_EXCEPTION, .timeout = RINGO_FOREVER};
	int64_t at = run_wait(&w, sleeps_arg_ns, RINGO_SEC(10), fails_after_arg_ns, 0, 1);
	assert_int_equal(w.rc, 1);
	assert_true(w.done[0]);
	assert_false(w.done[1]);
	assert_int_equal(at, 0);
}

static void test_wait_first_exception_in_wait(void **state)
{
	struct wait_port w = {.mode = RINGO_FIRST_EXCEPTION, .timeout = RINGO_FOREVER};
	int64_t at = run_wait(&w, sleeps_arg_ns, RINGO_SEC(10), fails_after_arg_ns, RINGO_MSEC(10), 1);
	assert_int_equal(w.rc, 1);
	assert_true(w.done[0]);
	assert_false(w.done[1]);
	assert_int_equal(at, RINGO_MSEC(10));
}

static void test_wait_with_exception(void **state)
{
	struct wait_port w = {.mode = RINGO_ALL_COMPLETED, .timeout = RINGO_FOREVER};
	int64_t at = run_wait(&w, sleeps_arg_ns, RINGO_MSEC(100), fails_after_arg_ns,
			      RINGO_MSEC(150), 2);
	assert_int_equal(w.rc, 2);
	assert_int_equal(at, RINGO_MSEC(150));
}

static void test_wait_with_timeout(void **state)
{
	struct wait_port w = {.mode = RINGO_ALL_COMPLETED, .timeout = RINGO_MSEC(110)};
	int64_t at = run_wait(&w, sleeps_arg_ns, RINGO_MSEC(100), sleeps_arg_ns, RINGO_MSEC(150), 1);
	assert_int_equal(w.rc, 1);
	assert_false(w.done[0]); /* b pending */
	assert_true(w.done[1]);  /* a done */
	assert_int_equal(at, RINGO_MSEC(110));
}

static void test_wait_concurrent_complete(void **state)
{
	/* a finishes exactly at the timeout: it is in the done set. */
	struct wait_port w = {.mode = RINGO_ALL_COMPLETED, .timeout = RINGO_MSEC(100)};
	int64_t at = run_wait(&w, sleeps_arg_ns, RINGO_MSEC(100), sleeps_arg_ns, RINGO_MSEC(150), 1);
	assert_int_equal(w.rc, 1);
	assert_false(w.done[0]);
	assert_true(w.done[1]);
	assert_int_equal(at, RINGO_MSEC(100));
}

static int as_completed_values(void *arg, void **result)
{
	char *order = arg;
	ringo_loop *loop = ringo_loop_current();
	ringo_task *t[3];
	const char *names[3] = {"b", "c", "a"};
	int64_t delays[3] = {RINGO_MSEC(10), RINGO_MSEC(150), RINGO_MSEC(10)};
	ringo_future *f[3];
	for (int i = 0; i < 3; i++) {
		ringo_spawn(loop, sleeps_arg_ns, (void *)(intptr_t)delays[i], NULL, &t[i]);
		ringo_task_set_name(t[i], names[i]);
		f[i] = ringo_task_future(t[i]);
	}
	ringo_as_completed *it;
	assert_int_equal(ringo_as_completed_new(loop, f, 3, RINGO_FOREVER, &it), 0);
	ringo_future *next;
	while (ringo_as_completed_next(it, &next) == 0)
		strcat(order, ringo_task_name(ringo_future_task(next)));
	ringo_as_completed_free(it);
	for (int i = 0; i < 3; i++)
		ringo_task_release(t[i]);
	return 0;
}

static void test_as_completed(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	char order[8] = "";
	ringo_task *t;
	ringo_spawn(loop, as_completed_values, order, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	assert_int_equal(ringo_loop_time_ns(loop), RINGO_MSEC(150));
	/* a and b (equal deadlines) first, in some order; c last. */
	assert_int_equal(strlen(order), 3);
	assert_int_equal(order[2], 'c');
	assert_non_null(strchr(order, 'a'));
	assert_non_null(strchr(order, 'b'));
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int as_completed_timeout(void *arg, void **result)
{
	int *rcs = arg;
	ringo_loop *loop = ringo_loop_current();
	ringo_task *a = spawn_on(loop, sleeps_arg_ns, RINGO_MSEC(100));
	ringo_task *b = spawn_on(loop, sleeps_arg_ns, RINGO_MSEC(150));
	ringo_future *f[2] = {ringo_task_future(a), ringo_task_future(b)};
	ringo_as_completed *it;
	ringo_as_completed_new(loop, f, 2, RINGO_MSEC(120), &it);
	ringo_future *next = NULL;
	rcs[0] = ringo_as_completed_next(it, &next);
	assert_ptr_equal(next, f[0]);
	rcs[1] = ringo_as_completed_next(it, &next);
	rcs[2] = (int)(ringo_loop_time_ns(loop) / RINGO_MSEC(1));
	ringo_as_completed_free(it);
	ringo_task_release(a);
	ringo_task_release(b);
	return 0;
}

static void test_as_completed_with_timeout(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	int rcs[3];
	ringo_task *t;
	ringo_spawn(loop, as_completed_timeout, rcs, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	assert_int_equal(rcs[0], 0);
	assert_int_equal(rcs[1], -ETIMEDOUT);
	assert_int_equal(rcs[2], 120);
	ringo_task_release(t);
	ringo_spawn(loop, sleeps_arg_ns, (void *)RINGO_SEC(1), NULL, &t); /* let b end */
	ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int as_completed_unused_timeout(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	ringo_task *a = spawn_on(loop, sleeps_arg_ns, RINGO_MSEC(10));
	ringo_future *f = ringo_task_future(a);
	ringo_as_completed *it;
	ringo_as_completed_new(loop, &f, 1, RINGO_SEC(1), &it);
	ringo_future *next;
	assert_int_equal(ringo_as_completed_next(it, &next), 0);
	assert_int_equal(ringo_as_completed_next(it, &next), -ENOENT);
	ringo_as_completed_free(it); /* its timer goes with it */
	ringo_task_release(a);
	return 0;
}

static void test_as_completed_with_unused_timeout(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_task *t;
	ringo_spawn(loop, as_completed_unused_timeout, NULL, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	assert_int_equal(ringo_loop_time_ns(loop), RINGO_MSEC(10));
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int as_completed_dups(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	ringo_task *c = spawn_on(loop, sleeps_arg_ns, 0);
	ringo_future *f[2] = {ringo_task_future(c), ringo_task_future(c)};
	ringo_as_completed *it;
	ringo_as_completed_new(loop, f, 2, RINGO_FOREVER, &it);
	ringo_future *next;
	int n = 0;
	while (ringo_as_completed_next(it, &next) == 0)
		n++;
	ringo_as_completed_free(it);
	ringo_task_release(c);
	*result = (void *)(intptr_t)n; /* each argument is yielded (asyncio dedups coroutines) */
	return 0;
}

static void test_as_completed_duplicate_coroutines(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	ringo_spawn(loop, as_completed_dups, NULL, NULL, &t);
	void *n = NULL;
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), &n), 0);
	assert_int_equal((intptr_t)n, 2);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void test_as_completed_invalid_args(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_as_completed *it;
	ringo_future *none = NULL;
	assert_int_equal(ringo_as_completed_new(loop, NULL, 1, RINGO_FOREVER, &it), -EINVAL);
	assert_int_equal(ringo_as_completed_new(loop, &none, 1, RINGO_FOREVER, &it), -EINVAL);
	assert_int_equal(ringo_as_completed_new(NULL, &none, 0, RINGO_FOREVER, &it), -EINVAL);
	assert_int_equal(ringo_as_completed_next(NULL, NULL), -EINVAL);
	/* An empty iterator is fine: nothing to yield. */
	assert_int_equal(ringo_as_completed_new(loop, NULL, 0, RINGO_FOREVER, &it), 0);
	ringo_future *next;
	assert_int_equal(ringo_as_completed_next(it, &next), -EPERM); /* outside a task */
	ringo_as_completed_free(it);
	ringo_as_completed_free(NULL);
	test_loop_free(loop, &ca);
}

static void run_briefly(ringo_loop *loop)
{
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop);
}

static void test_shield_result(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *inner, *outer;
	ringo_future_new(loop, &inner);
	ringo_shield(inner, &outer);
	ringo_future_set_result(inner, (void *)(intptr_t)42);
	void *v = NULL;
	assert_int_equal(ringo_loop_run_until_complete(loop, outer, &v), 0);
	assert_int_equal((intptr_t)v, 42);
	ringo_future_release(inner);
	ringo_future_release(outer);
	test_loop_free(loop, &ca);
}

static void test_shield_exception(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *inner, *outer;
	ringo_future_new(loop, &inner);
	ringo_shield(inner, &outer);
	run_briefly(loop);
	ringo_future_set_error(inner, -EILSEQ);
	run_briefly(loop);
	assert_int_equal(ringo_future_error(outer), -EILSEQ);
	ringo_future_release(inner);
	ringo_future_release(outer);
	test_loop_free(loop, &ca);
}

static void test_shield_cancel_inner(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *inner, *outer;
	ringo_future_new(loop, &inner);
	ringo_shield(inner, &outer);
	run_briefly(loop);
	ringo_future_cancel(inner, NULL);
	run_briefly(loop);
	assert_true(ringo_future_cancelled(outer));
	ringo_future_release(inner);
	ringo_future_release(outer);
	test_loop_free(loop, &ca);
}

static void test_shield_cancel_outer(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *inner, *outer;
	ringo_future_new(loop, &inner);
	ringo_shield(inner, &outer);
	run_briefly(loop);
	ringo_future_cancel(outer, NULL);
	run_briefly(loop);
	assert_true(ringo_future_cancelled(outer));
	assert_false(ringo_future_done(inner));
	/* The shield let go of inner: nothing pins either future now (inner
	 * never completes here; the loop can still be freed). */
	char buf[64];
	assert_string_equal(ringo_future_repr(inner, buf, sizeof(buf)), "<Future pending>");
	ringo_future_release(inner);
	ringo_future_release(outer);
	test_loop_free(loop, &ca);
}

static void test_shield_shortcut(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *fut, *outer;
	ringo_future_new(loop, &fut);
	ringo_future_set_result(fut, (void *)(intptr_t)42);
	ringo_shield(fut, &outer);
	void *v = NULL;
	assert_int_equal(ringo_loop_run_until_complete(loop, outer, &v), 0);
	assert_int_equal((intptr_t)v, 42);
	ringo_future_release(fut);
	ringo_future_release(outer);
	test_loop_free(loop, &ca);
}

struct shield_effect {
	ringo_future *waiter;
	int proof;
};

static int shielded_inner(void *arg, void **result)
{
	struct shield_effect *s = arg;
	ringo_await(s->waiter, NULL);
	s->proof += 1;
	return 0;
}

static int shield_outer(void *arg, void **result)
{
	struct shield_effect *s = arg;
	ringo_task *in;
	ringo_spawn(ringo_loop_current(), shielded_inner, s, NULL, &in);
	ringo_future *outer;
	ringo_shield(ringo_task_future(in), &outer);
	ringo_task_release(in);
	int rc = ringo_await(outer, NULL);
	ringo_future_release(outer);
	if (rc == 0)
		s->proof += 100;
	return rc;
}

static void test_shield_effect(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct shield_effect s = {0};
	ringo_future_new(loop, &s.waiter);
	ringo_task *t;
	ringo_spawn(loop, shield_outer, &s, NULL, &t);
	run_briefly(loop);
	ringo_task_cancel(t, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	ringo_future_set_result(s.waiter, NULL);
	run_briefly(loop);
	run_briefly(loop);
	assert_int_equal(s.proof, 1);
	ringo_future_release(s.waiter);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

/* ---- closing the loop under a wait leaves nothing behind ---- */

static ringo_future *w_pending;

static int waits_pending(void *arg, void **result)
{
	return ringo_wait(&w_pending, 1, RINGO_ALL_COMPLETED, RINGO_FOREVER, NULL);
}

static void test_close_with_a_task_in_wait_leaks_nothing(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future_new(loop, &w_pending);
	ringo_spawn(loop, waits_pending, NULL, NULL, NULL);
	run_briefly(loop);
	assert_int_equal(ringo_loop_close(loop), 0);
	ringo_future_release(w_pending);
	test_loop_free(loop, &ca);
}

static int next_of(void *arg, void **result)
{
	ringo_future *next;
	return ringo_as_completed_next(arg, &next);
}

/* Freeing an iterator a task waits on: the task gets -ECANCELED, and the
 * record lives until it has left (it used to be freed under the task). */
static void test_as_completed_free_while_a_task_waits_cancels_the_wait(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	ringo_future_new(loop, &f);
	ringo_as_completed *it;
	assert_int_equal(ringo_as_completed_new(loop, &f, 1, RINGO_SEC(10), &it), 0);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, next_of, it, NULL, &t), 0);
	run_briefly(loop);
	ringo_as_completed_free(it);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), -ECANCELED);
	ringo_task_release(t);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void free_iterator(ringo_future *fut, void *arg)
{
	ringo_as_completed_free(arg);
}

/* The same between the waiter's wake-up and its run: f's callbacks run in
 * order, the iterator's wakes the task, the next frees the iterator. */
static void test_as_completed_free_after_the_waiter_was_woken_cancels_the_wait(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	ringo_future_new(loop, &f);
	ringo_as_completed *it;
	assert_int_equal(ringo_as_completed_new(loop, &f, 1, RINGO_FOREVER, &it), 0);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, next_of, it, NULL, &t), 0);
	run_briefly(loop);
	assert_int_equal(ringo_future_add_done_callback(f, free_iterator, it), 0);
	ringo_future_set_result(f, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), -ECANCELED);
	ringo_task_release(t);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void test_close_with_a_task_in_as_completed_leaks_nothing(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f[2];
	ringo_future_new(loop, &f[0]);
	ringo_future_new(loop, &f[1]);
	ringo_as_completed *it;
	ringo_as_completed_new(loop, f, 2, RINGO_SEC(10), &it);
	ringo_spawn(loop, next_of, it, NULL, NULL);
	run_briefly(loop);
	/* One completes: its callback is queued when the loop closes. */
	ringo_future_set_result(f[0], NULL);
	assert_int_equal(ringo_loop_close(loop), 0);
	ringo_as_completed_free(it);
	ringo_future_release(f[0]);
	ringo_future_release(f[1]);
	test_loop_free(loop, &ca);
}

static void test_close_with_shields_leaks_nothing(void **state)
{
	for (int completed = 0; completed < 2; completed++) {
		struct counting_allocator ca;
		ringo_loop *loop = test_loop_new(&ca, 0);
		ringo_future *inner, *outer;
		ringo_future_new(loop, &inner);
		assert_int_equal(ringo_shield(inner, &outer), 0);
		/* Pending both, or inner done with the shield's callback queued
		 * when the loop closes. */
		if (completed)
			ringo_future_set_result(inner, NULL);
		assert_int_equal(ringo_loop_close(loop), 0);
		ringo_future_release(inner);
		ringo_future_release(outer);
		test_loop_free(loop, &ca);
	}
}

/* ---- timeout_ns 0 (do not wait) and negative (no limit) ---- */

static void set_flag(void *arg)
{
	*(bool *)arg = true;
}

static void set_result_cb(void *arg)
{
	ringo_future_set_result(arg, NULL);
}

/* Run body on a fresh virtual-clock loop; leak-checked. */
static void run_virtual(ringo_task_fn *body)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, body, NULL, NULL, &t), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int wait_zero_body(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	ringo_future *f[2];
	ringo_future_new(loop, &f[0]);
	ringo_future_new(loop, &f[1]);
	ringo_future_set_result(f[0], NULL);
	bool ran = false, done[2] = {false, true};
	ringo_call_soon(loop, set_flag, &ran, NULL);
	/* 0: what is done now, without suspending (the callback has not run). */
	assert_int_equal(ringo_wait(f, 2, RINGO_ALL_COMPLETED, 0, done), 1);
	assert_false(ran);
	assert_true(done[0]);
	assert_false(done[1]);
	/* Any negative timeout_ns is no limit, not "already passed". */
	ringo_call_later(loop, RINGO_SEC(5), set_result_cb, f[1], NULL);
	assert_int_equal(ringo_wait(f, 2, RINGO_ALL_COMPLETED, -RINGO_SEC(1), done), 2);
	assert_int_equal(ringo_loop_time_ns(loop), RINGO_SEC(5));
	assert_true(ran);
	ringo_future_release(f[0]);
	ringo_future_release(f[1]);
	return 0;
}

static void test_wait_timeout_zero_returns_what_is_done_without_suspending(void **state)
{
	run_virtual(wait_zero_body);
}

static int as_completed_zero_body(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	ringo_future *f[2];
	ringo_future_new(loop, &f[0]);
	ringo_future_new(loop, &f[1]);
	ringo_future_set_result(f[0], NULL);
	ringo_as_completed *it;
	assert_int_equal(ringo_as_completed_new(loop, f, 2, 0, &it), 0);
	bool ran = false;
	ringo_call_soon(loop, set_flag, &ran, NULL);
	ringo_future *next = NULL;
	assert_int_equal(ringo_as_completed_next(it, &next), 0);
	assert_ptr_equal(next, f[0]);
	/* Nothing else done: -ETIMEDOUT at once, no suspension. */
	assert_int_equal(ringo_as_completed_next(it, &next), -ETIMEDOUT);
	assert_false(ran);
	/* A future that finishes later is still yielded by a later call. */
	ringo_future_set_result(f[1], NULL);
	ringo_sleep(0);
	assert_int_equal(ringo_as_completed_next(it, &next), 0);
	assert_ptr_equal(next, f[1]);
	assert_int_equal(ringo_as_completed_next(it, &next), -ENOENT);
	ringo_as_completed_free(it);
	ringo_future_release(f[0]);
	ringo_future_release(f[1]);
	return 0;
}

static void test_as_completed_timeout_zero_yields_only_what_is_done(void **state)
{
	run_virtual(as_completed_zero_body);
}

static int as_completed_negative_body(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	ringo_future *f;
	ringo_future_new(loop, &f);
	ringo_as_completed *it;
	assert_int_equal(ringo_as_completed_new(loop, &f, 1, -RINGO_SEC(1), &it), 0);
	ringo_call_later(loop, RINGO_SEC(5), set_result_cb, f, NULL);
	ringo_future *next = NULL;
	assert_int_equal(ringo_as_completed_next(it, &next), 0);
	assert_ptr_equal(next, f);
	assert_int_equal(ringo_loop_time_ns(loop), RINGO_SEC(5));
	ringo_as_completed_free(it);
	ringo_future_release(f);
	return 0;
}

static void test_as_completed_negative_timeout_is_no_limit(void **state)
{
	run_virtual(as_completed_negative_body);
}

/* The iterator's memory is the loop's: the loop cannot go before it
 * (over no futures, nothing else keeps the loop). */
static void test_loop_free_is_ebusy_while_an_as_completed_iterator_is_alive(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_as_completed *it;
	assert_int_equal(ringo_as_completed_new(loop, NULL, 0, RINGO_FOREVER, &it), 0);
	assert_int_equal(ringo_loop_free(loop), -EBUSY);
	ringo_as_completed_free(it);
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
		cmocka_unit_test(test_wait),
		cmocka_unit_test(test_wait_duplicate_coroutines),
		cmocka_unit_test(test_wait_errors),
		cmocka_unit_test(test_wait_first_completed),
		cmocka_unit_test(test_wait_really_done),
		cmocka_unit_test(test_wait_first_exception),
		cmocka_unit_test(test_wait_first_exception_in_wait),
		cmocka_unit_test(test_wait_with_exception),
		cmocka_unit_test(test_wait_with_timeout),
		cmocka_unit_test(test_wait_concurrent_complete),
		cmocka_unit_test(test_as_completed),
		cmocka_unit_test(test_as_completed_with_timeout),
		cmocka_unit_test(test_as_completed_with_unused_timeout),
		cmocka_unit_test(test_wait_timeout_zero_returns_what_is_done_without_suspending),
		cmocka_unit_test(test_as_completed_timeout_zero_yields_only_what_is_done),
		cmocka_unit_test(test_as_completed_negative_timeout_is_no_limit),
		cmocka_unit_test(test_as_completed_duplicate_coroutines),
		cmocka_unit_test(test_as_completed_invalid_args),
		cmocka_unit_test(test_shield_result),
		cmocka_unit_test(test_shield_exception),
		cmocka_unit_test(test_shield_cancel_inner),
		cmocka_unit_test(test_shield_cancel_outer),
		cmocka_unit_test(test_shield_shortcut),
		cmocka_unit_test(test_shield_effect),
		cmocka_unit_test(test_close_with_a_task_in_wait_leaks_nothing),
		cmocka_unit_test(test_close_with_a_task_in_as_completed_leaks_nothing),
		cmocka_unit_test(test_as_completed_free_while_a_task_waits_cancels_the_wait),
		cmocka_unit_test(test_as_completed_free_after_the_waiter_was_woken_cancels_the_wait),
		cmocka_unit_test(test_close_with_shields_leaks_nothing),
		cmocka_unit_test(test_loop_free_is_ebusy_while_an_as_completed_iterator_is_alive),
	};
	/* RINGO_TEST_FILTER=pattern runs only the matching tests. */
	if (getenv("RINGO_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RINGO_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
