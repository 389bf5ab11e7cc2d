/* Structured concurrency: task groups (timeout scopes: test_timeout.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* Positional initialisers below leave trailing fields zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static struct log g_log;

static int64_t now_s(void)
{
	return ringo_loop_time_ns(ringo_loop_current()) / RINGO_SEC(1);
}

struct child {
	const char *name;
	int64_t delay;
	int rc;            /* returned after a full sleep */
	int on_cancel;     /* returned when cancelled (0: -ECANCELED) */
};

static int child_fn(void *arg, void **result)
{
	struct child *c = arg;
	int slept = ringo_sleep(c->delay);
	log_add(&g_log, "%s(%d)@%lld", c->name, slept, (long long)now_s());
	if (slept < 0)
		return c->on_cancel ? c->on_cancel : slept;
	return c->rc;
}

static void cancel_cb(void *arg)
{
	ringo_task_cancel(arg, NULL);
}

/* Run fn as the main task of a fresh virtual-clock loop, leak-checked. */
static int run_main(ringo_task_fn *fn, void *arg, int64_t cancel_at)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	log_reset(&g_log);
	ringo_task *m;
	assert_int_equal(ringo_spawn(loop, fn, arg, NULL, &m), 0);
	if (cancel_at >= 0)
		ringo_call_later(loop, cancel_at, cancel_cb, m, NULL);
	int rc = ringo_loop_run_until_complete(loop, ringo_task_future(m), NULL);
	ringo_task_release(m);
	test_loop_free(loop, &ca);
	return rc;
}

/* ---- task groups ---- */

struct group_case {
	struct child kids[3];
	size_t nkids;
	int64_t body_sleep;
	int body_rc;           /* returned by the body instead of its sleep's */
	int body_saw;          /* what the body's sleep returned */
	int rc;
	int errs[4];
	size_t nerrs;
	int cancelling_after;
	int after_sleep;       /* a sleep after the group */
};

static int group_main(void *arg, void **result)
{
	struct group_case *c = arg;
	ringo_group g;
	assert_int_equal(ringo_group_init(&g), 0);
	for (size_t i = 0; i < c->nkids; i++)
		assert_int_equal(ringo_group_spawn(&g, child_fn, &c->kids[i], NULL, NULL), 0);
	int body = 0;
	if (c->body_sleep) {
		body = c->body_saw = ringo_sleep(c->body_sleep);
		log_add(&g_log, "body(%d)@%lld", body, (long long)now_s());
	}
	if (c->body_rc)
		body = c->body_rc;
	c->rc = ringo_group_wait(&g, body, c->errs, 4, &c->nerrs);
	log_add(&g_log, "group=%d@%lld", c->rc, (long long)now_s());
	c->cancelling_after = ringo_task_cancelling(ringo_task_current());
	c->after_sleep = ringo_sleep(0);
	return c->rc;
}

static void test_group_waits_for_every_child(void **state)
{
	struct group_case c = {{{"a", RINGO_SEC(2), 0, 0}, {"b", RINGO_SEC(1), 0, 0}}, 2};
	assert_int_equal(run_main(group_main, &c, -1), 0);
	assert_string_equal(g_log.buf, "b(0)@1 a(0)@2 group=0@2");
	assert_int_equal(c.nerrs, 0);
}

static void test_first_failure_cancels_siblings_and_the_body(void **state)
{
	struct group_case c = {{{"a", RINGO_SEC(5), 0, 0}, {"b", RINGO_SEC(1), -EIO, 0}},
			       2, RINGO_SEC(10)};
	assert_int_equal(run_main(group_main, &c, -1), -EIO);
	assert_string_equal(g_log.buf, "b(0)@1 a(-125)@1 body(-125)@1 group=-5@1");
	assert_int_equal(c.body_saw, -ECANCELED);
	assert_int_equal(c.nerrs, 1);
	assert_int_equal(c.errs[0], -EIO);
	/* The group took its own cancellation of the parent back. */
	assert_int_equal(c.cancelling_after, 0);
	assert_int_equal(c.after_sleep, 0);
}

static void test_every_error_is_reported_including_one_raised_while_cancelled(void **state)
{
	/* b fails; a is cancelled by the group and fails while cancelled. */
	struct group_case c = {{{"a", RINGO_SEC(5), 0, -ENOENT}, {"b", RINGO_SEC(1), -EIO, 0},
				{"c", RINGO_SEC(5), 0, 0}},
			       3};
	assert_int_equal(run_main(group_main, &c, -1), -EIO);
	assert_int_equal(c.nerrs, 2);
	assert_int_equal(c.errs[0], -EIO);
	assert_int_equal(c.errs[1], -ENOENT);
}

static void test_failing_body_aborts_the_group(void **state)
{
	struct group_case c = {{{"a", RINGO_SEC(5), 0, 0}}, 1, RINGO_SEC(1), -EINVAL};
	assert_int_equal(run_main(group_main, &c, -1), -EINVAL);
	assert_string_equal(g_log.buf, "body(0)@1 a(-125)@1 group=-22@1");
	assert_int_equal(c.nerrs, 1);
	assert_int_equal(c.errs[0], -EINVAL);
}

static void test_outside_cancel_during_body_propagates(void **state)
{
	struct group_case c = {{{"a", RINGO_SEC(5), 0, 0}}, 1, RINGO_SEC(10)};
	assert_int_equal(run_main(group_main, &c, RINGO_SEC(1)), -ECANCELED);
	assert_string_equal(g_log.buf, "body(-125)@1 a(-125)@1 group=-125@1");
	assert_int_equal(c.cancelling_after, 1);
}

static void test_outside_cancel_while_waiting_for_children_propagates(void **state)
{
	struct group_case c = {{{"a", RINGO_SEC(5), 0, 0}}, 1};
	assert_int_equal(run_main(group_main, &c, RINGO_SEC(1)), -ECANCELED);
	assert_string_equal(g_log.buf, "a(-125)@1 group=-125@1");
	assert_int_equal(c.cancelling_after, 1);
}

static void test_child_failing_while_the_group_is_being_cancelled(void **state)
{
	/* The parent is cancelled from outside; the child fails on the way
	 * out. Errors win over the cancellation, which stays pending and is
	 * delivered at the parent's next suspension. */
	struct group_case c = {{{"a", RINGO_SEC(5), 0, -EIO}}, 1};
	int rc = run_main(group_main, &c, RINGO_SEC(1));
	assert_int_equal(c.rc, -EIO);
	assert_int_equal(c.nerrs, 1);
	assert_int_equal(c.cancelling_after, 1);
	assert_int_equal(c.after_sleep, -ECANCELED);
	assert_int_equal(rc, -EIO);
}

static int spawn_after_abort(void *arg, void **result)
{
	ringo_group g;
	ringo_group_init(&g);
	struct child b = {"b", RINGO_SEC(1), -EIO, 0};
	struct child x = {"x", RINGO_SEC(1), 0, 0};
	ringo_group_spawn(&g, child_fn, &b, NULL, NULL);
	int body = ringo_sleep(RINGO_SEC(2));
	assert_int_equal(body, -ECANCELED);
	assert_int_equal(ringo_group_spawn(&g, child_fn, &x, NULL, NULL), -ESHUTDOWN);
	int rc = ringo_group_wait(&g, body, NULL, 0, NULL);
	assert_int_equal(ringo_group_spawn(&g, child_fn, &x, NULL, NULL), -ESHUTDOWN);
	assert_int_equal(ringo_group_wait(&g, 0, NULL, 0, NULL), -EINVAL);
	return rc;
}

static void test_spawn_into_an_aborting_or_finished_group_fails(void **state)
{
	assert_int_equal(run_main(spawn_after_abort, NULL, -1), -EIO);
}

struct many {
	struct child kids[64];
};

static int many_children(void *arg, void **result)
{
	struct many *m = arg;
	ringo_group g;
	ringo_group_init(&g);
	for (int i = 0; i < 64; i++) {
		m->kids[i] = (struct child){"k", RINGO_MSEC(i % 7), 0, 0};
		assert_int_equal(ringo_group_spawn(&g, child_fn, &m->kids[i], NULL, NULL), 0);
		if (i % 16 == 15)
			ringo_sleep(RINGO_MSEC(3)); /* let some finish: swept */
	}
	return ringo_group_wait(&g, 0, NULL, 0, NULL);
}

static void test_many_children_with_finished_ones_swept(void **state)
{
	struct many m;
	assert_int_equal(run_main(many_children, &m, -1), 0);
}

static void test_group_outside_a_task_is_eperm(void **state)
{
	ringo_group g;
	assert_int_equal(ringo_group_init(&g), -EPERM);
}

/* ---- ported from CPython's Lib/test/test_asyncio/test_taskgroups.py ----
 * asyncio's ExceptionGroup is ringo_group_wait's error list: its return
 * value is the first error, errs[] all of them. */

static int64_t now_ns(void)
{
	return ringo_loop_time_ns(ringo_loop_current());
}

/* A child: sleep `delay`; on a full sleep return rc (result: value); when
 * cancelled, return on_cancel (0 means -ECANCELED) after an optional
 * cleanup sleep. Counts what happened. */
struct kid {
	int64_t delay;
	int rc;
	void *value;
	int on_cancel;
	int64_t cleanup;
	int cancelled;     /* times its sleep saw -ECANCELED */
	int finished;      /* ran to the end of its sleep */
};

static int kid_fn(void *arg, void **result)
{
	struct kid *k = arg;
	int rc = ringo_sleep(k->delay);
	if (rc == -ECANCELED) {
		k->cancelled++;
		if (k->cleanup)
			ringo_sleep(k->cleanup);
		return k->on_cancel ? k->on_cancel : rc;
	}
	k->finished++;
	*result = k->value;
	return k->rc;
}

/* Spawn k into g; gspawn_ref also returns a reference to release. */
static void gspawn(ringo_group *g, struct kid *k)
{
	assert_int_equal(ringo_group_spawn(g, kid_fn, k, NULL, NULL), 0);
}

static ringo_task *gspawn_ref(ringo_group *g, struct kid *k)
{
	ringo_task *t;
	assert_int_equal(ringo_group_spawn(g, kid_fn, k, NULL, &t), 0);
	return t;
}

static int run_group_main(ringo_task_fn *fn, void *arg)
{
	return run_main(fn, arg, -1);
}

static int taskgroup_01(void *arg, void **result)
{
	struct kid k1 = {.delay = RINGO_MSEC(100), .value = (void *)42};
	struct kid k2 = {.delay = RINGO_MSEC(200), .value = (void *)11};
	ringo_group g;
	ringo_group_init(&g);
	ringo_task *t1 = gspawn_ref(&g, &k1);
	if (arg)
		ringo_sleep(RINGO_MSEC(150)); /* 02: the second comes later */
	ringo_task *t2 = gspawn_ref(&g, &k2);
	assert_int_equal(ringo_group_wait(&g, 0, NULL, 0, NULL), 0);
	void *v1 = NULL, *v2 = NULL;
	assert_int_equal(ringo_future_result(ringo_task_future(t1), &v1), 0);
	assert_int_equal(ringo_future_result(ringo_task_future(t2), &v2), 0);
	assert_int_equal((intptr_t)v1, 42);
	assert_int_equal((intptr_t)v2, 11);
	ringo_task_release(t1);
	ringo_task_release(t2);
	return 0;
}

static void test_taskgroup_01(void **state)
{
	assert_int_equal(run_group_main(taskgroup_01, NULL), 0);
}

static void test_taskgroup_02(void **state)
{
	assert_int_equal(run_group_main(taskgroup_01, "later"), 0);
}

static int taskgroup_03(void *arg, void **result)
{
	struct kid k1 = {.delay = RINGO_SEC(1), .value = (void *)42};
	struct kid k2 = {.delay = RINGO_MSEC(200), .value = (void *)11};
	ringo_group g;
	ringo_group_init(&g);
	ringo_task *t1 = gspawn_ref(&g, &k1);
	ringo_sleep(RINGO_MSEC(150));
	ringo_task_cancel(t1, NULL); /* explicitly: the rest goes on */
	ringo_task *t2 = gspawn_ref(&g, &k2);
	assert_int_equal(ringo_group_wait(&g, 0, NULL, 0, NULL), 0);
	assert_true(ringo_future_cancelled(ringo_task_future(t1)));
	void *v = NULL;
	assert_int_equal(ringo_future_result(ringo_task_future(t2), &v), 0);
	assert_int_equal((intptr_t)v, 11);
	ringo_task_release(t1);
	ringo_task_release(t2);
	return 0;
}

static void test_taskgroup_03(void **state)
{
	assert_int_equal(run_group_main(taskgroup_03, NULL), 0);
}

/* Runner: nfoo1 children fail with -EDOM at 0.1 s, one foo2 sleeps 5 s;
 * the body sleeps body_sleep (0: none). */
struct runner {
	int nfoo1;
	int64_t foo1_delay;
	struct kid foo1[3], foo2;
	int64_t body_sleep;
	int body_saw;
	int num;
	int rc;
	int errs[8];
	size_t nerrs;
	ringo_task *t2;
};

static int runner_fn(void *arg, void **result)
{
	struct runner *r = arg;
	ringo_group g;
	ringo_group_init(&g);
	for (int i = 0; i < r->nfoo1; i++) {
		r->foo1[i] = (struct kid){.delay = r->foo1_delay ? r->foo1_delay : RINGO_MSEC(100),
					  .rc = -EDOM};
		gspawn(&g, &r->foo1[i]);
	}
	r->foo2 = (struct kid){.delay = RINGO_SEC(5)};
	r->t2 = gspawn_ref(&g, &r->foo2);
	int body = 0;
	if (r->body_sleep)
		body = r->body_saw = ringo_sleep(r->body_sleep);
	r->rc = ringo_group_wait(&g, body, r->errs, 8, &r->nerrs);
	if (r->rc == 0)
		r->num += 10;
	return r->rc;
}

static int run_runner(void *arg, void **result)
{
	ringo_task *t;
	ringo_spawn(ringo_loop_current(), runner_fn, arg, NULL, &t);
	int rc = ringo_await(ringo_task_future(t), NULL);
	struct runner *r = arg;
	assert_true(ringo_future_cancelled(ringo_task_future(r->t2)));
	ringo_task_release(r->t2);
	ringo_task_release(t);
	return rc;
}

static void test_taskgroup_04(void **state)
{
	struct runner r = {.nfoo1 = 1};
	assert_int_equal(run_group_main(run_runner, &r), -EDOM);
	assert_int_equal(r.nerrs, 1);
	assert_int_equal(r.errs[0], -EDOM);
	assert_int_equal(r.num, 0);
	assert_int_equal(r.foo2.cancelled, 1);
}

static void test_cancel_children_on_child_error(void **state)
{
	struct runner r = {.nfoo1 = 3, .body_sleep = RINGO_SEC(10)};
	assert_int_equal(run_group_main(run_runner, &r), -EDOM);
	/* All three fail in the same iteration: all three are reported. */
	assert_int_equal(r.nerrs, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(r.errs[i], -EDOM);
	assert_int_equal(r.num, 0);
	assert_int_equal(r.foo2.cancelled, 1);
	assert_int_equal(r.body_saw, -ECANCELED);
}

/* Children sleep 5 s (cancelled: count and re-raise, or fail with
 * on_cancel); the body sleeps body_sleep; the runner is cancelled at
 * 0.1 s by the main task, with msg. */
struct cancel_case {
	struct kid kids[5];
	int nkids;
	int on_cancel;
	int64_t kid_delay;    /* 0: 5 s */
	int kid_rc;
	int64_t body_sleep;
	int body_on_cancel;   /* what the body returns when cancelled */
	int64_t body_cleanup; /* sleep after the body's cancellation */
	int body_saw;
	int body_cleanup_saw;
	const char *msg;
	int rc;
	int errs[8];
	size_t nerrs;
};

static int cancel_runner(void *arg, void **result)
{
	struct cancel_case *c = arg;
	ringo_group g;
	ringo_group_init(&g);
	for (int i = 0; i < c->nkids; i++) {
		c->kids[i] = (struct kid){.delay = c->kid_delay ? c->kid_delay : RINGO_SEC(5),
					  .rc = c->kid_rc, .on_cancel = c->on_cancel};
		gspawn(&g, &c->kids[i]);
	}
	int body = 0;
	if (c->body_sleep) {
		body = c->body_saw = ringo_sleep(c->body_sleep);
		if (body == -ECANCELED && c->body_cleanup)
			body = c->body_cleanup_saw = ringo_sleep(c->body_cleanup);
		if (body == -ECANCELED && c->body_on_cancel)
			body = c->body_on_cancel;
	}
	c->rc = ringo_group_wait(&g, body, c->errs, 8, &c->nerrs);
	return c->rc;
}

static int cancel_at_100ms(void *arg, void **result)
{
	struct cancel_case *c = arg;
	ringo_task *r;
	ringo_spawn(ringo_loop_current(), cancel_runner, c, NULL, &r);
	ringo_sleep(RINGO_MSEC(100));
	assert_false(ringo_future_done(ringo_task_future(r)));
	ringo_task_cancel(r, c->msg);
	int rc = ringo_await(ringo_task_future(r), NULL);
	if (rc == -ECANCELED && c->msg)
		assert_string_equal(ringo_future_cancel_message(ringo_task_future(r)), c->msg);
	ringo_task_release(r);
	return rc;
}

static int cancelled_kids(struct cancel_case *c)
{
	int n = 0;
	for (int i = 0; i < c->nkids; i++)
		n += c->kids[i].cancelled;
	return n;
}

static void test_cancellation(void **state)
{
	struct cancel_case c = {.nkids = 5, .msg = "test"};
	assert_int_equal(run_group_main(cancel_at_100ms, &c), -ECANCELED);
	assert_int_equal(cancelled_kids(&c), 5);
}

static void test_taskgroup_07(void **state)
{
	struct cancel_case c = {.nkids = 5, .body_sleep = RINGO_SEC(10)};
	assert_int_equal(run_group_main(cancel_at_100ms, &c), -ECANCELED);
	assert_int_equal(cancelled_kids(&c), 5);
	assert_int_equal(c.body_saw, -ECANCELED);
}

static void test_taskgroup_08(void **state)
{
	/* The children fail while being cancelled ("finally: 1/0"): errors
	 * win over the outside cancellation. */
	struct cancel_case c = {.nkids = 5, .on_cancel = -EDOM, .body_sleep = RINGO_SEC(10)};
	assert_int_equal(run_group_main(cancel_at_100ms, &c), -EDOM);
	assert_int_equal(c.nerrs, 5);
}

static void test_cancellation_in_body(void **state)
{
	/* The children would fail just after the cancellation arrives: they
	 * are cancelled first, and the cancellation propagates. */
	struct cancel_case c = {.nkids = 5, .kid_delay = RINGO_MSEC(101), .kid_rc = -EDOM,
				.body_sleep = RINGO_SEC(10), .msg = "test"};
	assert_int_equal(run_group_main(cancel_at_100ms, &c), -ECANCELED);
	assert_int_equal(c.nerrs, 0);
	assert_int_equal(cancelled_kids(&c), 5);
}

static void test_taskgroup_17(void **state)
{
	struct cancel_case c = {.nkids = 0, .body_sleep = RINGO_SEC(10)};
	assert_int_equal(run_group_main(cancel_at_100ms, &c), -ECANCELED);
	assert_int_equal(c.body_saw, -ECANCELED);
}

static void test_taskgroup_18(void **state)
{
	/* The body turns the cancellation into an error of its own. */
	struct cancel_case c = {.nkids = 0, .body_sleep = RINGO_SEC(10), .body_on_cancel = -EBADMSG};
	assert_int_equal(run_group_main(cancel_at_100ms, &c), -EBADMSG);
	assert_int_equal(c.nerrs, 1);
	assert_int_equal(c.errs[0], -EBADMSG);
	assert_int_equal(c.body_saw, -ECANCELED);
}

static void test_taskgroup_22(void **state)
{
	struct cancel_case c = {.nkids = 2};
	assert_int_equal(run_group_main(cancel_at_100ms, &c), -ECANCELED);
	assert_int_equal(cancelled_kids(&c), 2);
}

struct body_fails {
	int64_t before; /* sleep before failing (0: fail at once) */
	ringo_task *t[2];
};

static int body_fails_fn(void *arg, void **result)
{
	struct body_fails *b = arg;
	struct kid k1 = {.delay = RINGO_SEC(1)}, k2 = {.delay = RINGO_SEC(2)};
	ringo_group g;
	ringo_group_init(&g);
	b->t[0] = gspawn_ref(&g, &k1);
	b->t[1] = gspawn_ref(&g, &k2);
	if (b->before)
		ringo_sleep(b->before);
	int errs[2];
	size_t n;
	int rc = ringo_group_wait(&g, -EDOM, errs, 2, &n); /* "1 / 0" */
	assert_int_equal(n, 1);
	assert_true(ringo_future_cancelled(ringo_task_future(b->t[0])));
	assert_true(ringo_future_cancelled(ringo_task_future(b->t[1])));
	ringo_task_release(b->t[0]);
	ringo_task_release(b->t[1]);
	return rc;
}

static void test_taskgroup_09(void **state)
{
	struct body_fails b = {.before = RINGO_MSEC(100)};
	assert_int_equal(run_group_main(body_fails_fn, &b), -EDOM);
}

static void test_taskgroup_10(void **state)
{
	struct body_fails b = {0};
	assert_int_equal(run_group_main(body_fails_fn, &b), -EDOM);
}

struct nested_case {
	bool outer_child;   /* 12: the outer group has a child sleeping 10 s */
	struct kid kids[5];
	struct kid outer_kid;
	int inner_rc;
	int rc;
	int errs[4];
	size_t nerrs;
};

static int nested_runner(void *arg, void **result)
{
	struct nested_case *c = arg;
	ringo_group g1, g2;
	ringo_group_init(&g1);
	if (c->outer_child) {
		c->outer_kid = (struct kid){.delay = RINGO_SEC(10)};
		gspawn(&g1, &c->outer_kid);
	}
	ringo_group_init(&g2);
	for (int i = 0; i < 5; i++) {
		c->kids[i] = (struct kid){.delay = RINGO_SEC(10), .on_cancel = -EDOM};
		gspawn(&g2, &c->kids[i]);
	}
	int body = ringo_sleep(RINGO_SEC(10));
	c->inner_rc = ringo_group_wait(&g2, body, NULL, 0, NULL);
	c->rc = ringo_group_wait(&g1, c->inner_rc, c->errs, 4, &c->nerrs);
	return c->rc;
}

static int cancel_nested_at_100ms(void *arg, void **result)
{
	ringo_task *r;
	ringo_spawn(ringo_loop_current(), nested_runner, arg, NULL, &r);
	ringo_sleep(RINGO_MSEC(100));
	ringo_task_cancel(r, NULL);
	int rc = ringo_await(ringo_task_future(r), NULL);
	ringo_task_release(r);
	return rc;
}

static void test_taskgroup_11(void **state)
{
	/* The inner group's error (its children fail when cancelled) is the
	 * outer group's body error: ExceptionGroup(ExceptionGroup(ZDE)). */
	struct nested_case c = {.outer_child = false};
	assert_int_equal(run_group_main(cancel_nested_at_100ms, &c), -EDOM);
	assert_int_equal(c.inner_rc, -EDOM);
	assert_int_equal(c.nerrs, 1);
}

static void test_taskgroup_12(void **state)
{
	struct nested_case c = {.outer_child = true};
	assert_int_equal(run_group_main(cancel_nested_at_100ms, &c), -EDOM);
	assert_int_equal(c.inner_rc, -EDOM);
	assert_int_equal(c.nerrs, 1);
	assert_int_equal(c.outer_kid.cancelled, 1);
}

struct crash_pair {
	int64_t outer_delay, inner_delay;
	struct kid outer_kid, inner_kid;
	int inner_rc;
	int errs[4];
	size_t nerrs;
};

static int crash_nested(void *arg, void **result)
{
	struct crash_pair *c = arg;
	ringo_group g1, g2;
	ringo_group_init(&g1);
	c->outer_kid = (struct kid){.delay = c->outer_delay, .rc = -EINVAL};
	gspawn(&g1, &c->outer_kid);
	ringo_group_init(&g2);
	c->inner_kid = (struct kid){.delay = c->inner_delay, .rc = -ERANGE};
	gspawn(&g2, &c->inner_kid);
	c->inner_rc = ringo_group_wait(&g2, 0, NULL, 0, NULL);
	return ringo_group_wait(&g1, c->inner_rc, c->errs, 4, &c->nerrs);
}

static void test_taskgroup_13(void **state)
{
	/* The outer child crashes first: the inner group is cancelled with
	 * its parent, and only the outer child's error is reported. */
	struct crash_pair c = {.outer_delay = RINGO_MSEC(100), .inner_delay = RINGO_SEC(10)};
	assert_int_equal(run_group_main(crash_nested, &c), -EINVAL);
	assert_int_equal(c.inner_rc, -ECANCELED);
	assert_int_equal(c.nerrs, 1);
	assert_int_equal(c.errs[0], -EINVAL);
}

static void test_taskgroup_14(void **state)
{
	/* The inner child crashes first: the inner group's error becomes the
	 * outer body's error, and the outer child is cancelled. */
	struct crash_pair c = {.outer_delay = RINGO_SEC(10), .inner_delay = RINGO_MSEC(100)};
	assert_int_equal(run_group_main(crash_nested, &c), -ERANGE);
	assert_int_equal(c.inner_rc, -ERANGE);
	assert_int_equal(c.nerrs, 1);
	assert_int_equal(c.errs[0], -ERANGE);
	assert_int_equal(c.outer_kid.cancelled, 1);
}

static int await_then_release(void *arg, void **result)
{
	ringo_task *t = arg;
	int rc = ringo_await(ringo_task_future(t), NULL);
	ringo_task_release(t);
	return rc;
}

static int crash_soon_runner(void *arg, void **result)
{
	struct cancel_case *c = arg;
	ringo_group g;
	ringo_group_init(&g);
	c->kids[0] = (struct kid){.delay = RINGO_MSEC(300), .rc = -EDOM};
	gspawn(&g, &c->kids[0]);
	int body = c->body_saw = ringo_sleep(RINGO_SEC(10));
	if (body == -ECANCELED)
		body = c->body_cleanup_saw = ringo_sleep(RINGO_MSEC(500)); /* then re-raise */
	if (body == 0)
		body = -ECANCELED;
	c->rc = ringo_group_wait(&g, body, c->errs, 8, &c->nerrs);
	return c->rc;
}

static int cancel_crash_soon(void *arg, void **result)
{
	ringo_task *r, *outer = NULL;
	bool nested = ((struct cancel_case *)arg)->nkids == 1;
	ringo_spawn(ringo_loop_current(), crash_soon_runner, arg, NULL, &r);
	if (nested) {
		/* 16: the runner awaits a task running the group. */
		ringo_spawn(ringo_loop_current(), await_then_release, r, NULL, &outer);
		r = NULL;
	}
	ringo_sleep(RINGO_MSEC(100));
	ringo_task *target = nested ? outer : r;
	ringo_task_cancel(target, NULL);
	int rc = ringo_await(ringo_task_future(target), NULL);
	ringo_task_release(target);
	return rc;
}

static void test_taskgroup_15(void **state)
{
	/* Cancelled from outside at 0.1 s; while the body handles that, the
	 * child crashes at 0.3 s: the error wins (3.13: ExceptionGroup). */
	struct cancel_case c = {.nkids = 0};
	assert_int_equal(run_group_main(cancel_crash_soon, &c), -EDOM);
	assert_int_equal(c.body_saw, -ECANCELED);
	assert_int_equal(c.body_cleanup_saw, -ECANCELED); /* the group cancelled it */
	assert_int_equal(c.nerrs, 1);
}

static void test_taskgroup_16(void **state)
{
	struct cancel_case c = {.nkids = 1};
	assert_int_equal(run_group_main(cancel_crash_soon, &c), -EDOM);
	assert_int_equal(c.nerrs, 1);
}

static int body_raises_while_child_crashes(void *arg, void **result)
{
	struct kid crash = {.delay = RINGO_MSEC(100), .rc = -EDOM};
	ringo_group g;
	ringo_group_init(&g);
	gspawn(&g, &crash);
	/* nested(): "finally: raise MyExc" around a sleep the group cancels */
	int body = ringo_sleep(RINGO_SEC(10));
	assert_int_equal(body, -ECANCELED);
	int errs[4];
	size_t n;
	int rc = ringo_group_wait(&g, -EBADMSG, errs, 4, &n);
	assert_int_equal(n, 2);
	assert_int_equal(errs[0], -EDOM);
	assert_int_equal(errs[1], -EBADMSG);
	assert_int_equal(ringo_task_cancelling(ringo_task_current()), 0);
	return rc;
}

static void test_taskgroup_19(void **state)
{
	assert_int_equal(run_group_main(body_raises_while_child_crashes, NULL), -EDOM);
}

static int taskgroup_23(void *arg, void **result)
{
	ringo_group g;
	ringo_group_init(&g);
	struct kid kids[10];
	ringo_loop *loop = ringo_loop_current();
	for (int count = 0; count < 10; count++) {
		ringo_sleep(RINGO_MSEC(100));
		kids[count] = (struct kid){.delay = RINGO_MSEC(300)};
		gspawn(&g, &kids[count]);
		if (count == 5) /* finished children are not kept running */
			assert_true(ringo_loop_tasks(loop, NULL, 0) - 1 < 5);
	}
	ringo_sleep(RINGO_MSEC(1350));
	assert_int_equal(ringo_loop_tasks(loop, NULL, 0), 1);
	return ringo_group_wait(&g, 0, NULL, 0, NULL);
}

static void test_taskgroup_23(void **state)
{
	assert_int_equal(run_group_main(taskgroup_23, NULL), 0);
}

struct root_arg {
	ringo_group *g;
	struct kid kids[2];
};

static int root_fn(void *arg, void **result)
{
	struct root_arg *r = arg;
	ringo_sleep(RINGO_MSEC(100));
	r->kids[0] = (struct kid){.delay = RINGO_MSEC(100)};
	r->kids[1] = (struct kid){.delay = RINGO_MSEC(200)};
	gspawn(r->g, &r->kids[0]); /* children spawning into the group */
	gspawn(r->g, &r->kids[1]);
	return 0;
}

static int taskgroup_24(void *arg, void **result)
{
	ringo_group g;
	ringo_group_init(&g);
	struct root_arg r = {.g = &g};
	assert_int_equal(ringo_group_spawn(&g, root_fn, &r, NULL, NULL), 0);
	int rc = ringo_group_wait(&g, 0, NULL, 0, NULL);
	assert_int_equal(r.kids[0].finished + r.kids[1].finished, 2);
	assert_int_equal(now_ns(), RINGO_MSEC(300));
	return rc;
}

static void test_taskgroup_24(void **state)
{
	assert_int_equal(run_group_main(taskgroup_24, NULL), 0);
}

struct hydra_ctx {
	ringo_group *g;
	int nhydras;
};

static int hydra(void *arg, void **result)
{
	struct hydra_ctx *h = arg;
	h->nhydras++;
	int rc = ringo_sleep(RINGO_MSEC(10));
	if (rc < 0)
		return rc;
	/* Once the group aborts, spawning fails (-ESHUTDOWN): stop there. */
	if (ringo_group_spawn(h->g, hydra, h, NULL, NULL) == 0)
		ringo_group_spawn(h->g, hydra, h, NULL, NULL);
	return 0;
}

static int hercules(void *arg, void **result)
{
	struct hydra_ctx *h = arg;
	while (h->nhydras < 10) {
		int rc = ringo_sleep(RINGO_MSEC(15));
		if (rc < 0)
			return rc;
	}
	return -EDOM;
}

static int taskgroup_25(void *arg, void **result)
{
	ringo_group g;
	ringo_group_init(&g);
	struct hydra_ctx *h = arg;
	h->g = &g;
	ringo_group_spawn(&g, hydra, h, NULL, NULL);
	ringo_group_spawn(&g, hercules, h, NULL, NULL);
	int errs[4];
	size_t n;
	int rc = ringo_group_wait(&g, 0, errs, 4, &n);
	assert_int_equal(n, 1);
	return rc;
}

static void test_taskgroup_25(void **state)
{
	struct hydra_ctx h = {0};
	assert_int_equal(run_group_main(taskgroup_25, &h), -EDOM);
	assert_true(h.nhydras >= 10);
}

static int task_name(void *arg, void **result)
{
	ringo_group g;
	ringo_group_init(&g);
	struct kid k = {.delay = 0};
	ringo_task_options o = {.name = "yolo"};
	ringo_task *t;
	assert_int_equal(ringo_group_spawn(&g, kid_fn, &k, &o, &t), 0);
	assert_string_equal(ringo_task_name(t), "yolo");
	ringo_task_release(t);
	return ringo_group_wait(&g, 0, NULL, 0, NULL);
}

static void test_taskgroup_task_name(void **state)
{
	assert_int_equal(run_group_main(task_name, NULL), 0);
}

struct no_create {
	ringo_group *g;
	int spawn_rc;
};

static int coro2_spawns_when_cancelled(void *arg, void **result)
{
	struct no_create *nc = arg;
	if (ringo_sleep(RINGO_SEC(1)) == -ECANCELED) {
		struct kid k = {.delay = 0};
		nc->spawn_rc = ringo_group_spawn(nc->g, kid_fn, &k, NULL, NULL);
	}
	return 0;
}

static int no_create_task_after_failure(void *arg, void **result)
{
	struct no_create *nc = arg;
	ringo_group g;
	ringo_group_init(&g);
	nc->g = &g;
	struct kid coro1 = {.delay = RINGO_MSEC(1), .rc = -EDOM};
	gspawn(&g, &coro1);
	ringo_group_spawn(&g, coro2_spawns_when_cancelled, nc, NULL, NULL);
	size_t n;
	int rc = ringo_group_wait(&g, 0, NULL, 0, &n);
	assert_int_equal(n, 1);
	return rc;
}

static void test_taskgroup_no_create_task_after_failure(void **state)
{
	struct no_create nc = {0};
	assert_int_equal(run_group_main(no_create_task_after_failure, &nc), -EDOM);
	assert_int_equal(nc.spawn_rc, -ESHUTDOWN); /* asyncio: RuntimeError */
}

static int fails_at_once(void *arg, void **result)
{
	return -EBADE; /* CustomException */
}

static int context_manager_exit_raises(void *arg, void **result)
{
	ringo_group g;
	ringo_group_init(&g);
	ringo_group_spawn(&g, fails_at_once, NULL, NULL, NULL);
	/* database(): its finally raises when the sleep is cancelled. */
	int body = ringo_sleep(RINGO_SEC(1));
	assert_int_equal(body, -ECANCELED);
	int errs[4];
	size_t n;
	int rc = ringo_group_wait(&g, -EBADE, errs, 4, &n);
	assert_int_equal(n, 2);
	assert_int_equal(ringo_task_cancelling(ringo_task_current()), 0);
	return rc;
}

static void test_taskgroup_context_manager_exit_raises(void **state)
{
	assert_int_equal(run_group_main(context_manager_exit_raises, NULL), -EBADE);
}

static int finished_group(void *arg, void **result)
{
	ringo_group g;
	ringo_group_init(&g);
	assert_int_equal(ringo_group_wait(&g, 0, NULL, 0, NULL), 0);
	struct kid k = {.delay = 0};
	assert_int_equal(ringo_group_spawn(&g, kid_fn, &k, NULL, NULL), -ESHUTDOWN);
	/* Not entered: a zeroed group. */
	ringo_group z;
	memset(&z, 0, sizeof(z));
	assert_int_equal(ringo_group_spawn(&z, kid_fn, &k, NULL, NULL), -EINVAL);
	assert_int_equal(ringo_group_wait(&z, 0, NULL, 0, NULL), -EINVAL);
	assert_int_equal(ringo_group_spawn(NULL, kid_fn, &k, NULL, NULL), -EINVAL);
	return 0;
}

static void test_taskgroup_finished(void **state)
{
	assert_int_equal(run_group_main(finished_group, NULL), 0);
}

static void test_taskgroup_without_parent_task(void **state)
{
	ringo_group g;
	memset(&g, 0, sizeof(g));
	assert_int_equal(ringo_group_init(&g), -EPERM);
	struct kid k = {.delay = 0};
	assert_int_equal(ringo_group_spawn(&g, kid_fn, &k, NULL, NULL), -EINVAL);
	assert_int_equal(ringo_group_init(NULL), -EINVAL);
}

static int raise_after_group(void *arg, void **result)
{
	ringo_group g;
	ringo_group_init(&g);
	struct kid k = {.delay = 0, .rc = -EIO};
	gspawn(&g, &k);
	assert_int_equal(ringo_group_wait(&g, 0, NULL, 0, NULL), -EIO);
	assert_int_equal(ringo_task_cancelling(ringo_task_current()), 0);
	/* The group's cancellation does not leak out of it. */
	return ringo_sleep(0);
}

static void test_cancelling_level_preserved(void **state)
{
	assert_int_equal(run_group_main(raise_after_group, NULL), 0);
}

static void test_cancellation_does_not_leak_out_of_tg(void **state)
{
	assert_int_equal(run_group_main(raise_after_group, NULL), 0);
}

static int nested_groups_both_cancelled(void *arg, void **result)
{
	ringo_group outer, inner;
	ringo_group_init(&outer);
	ringo_group_init(&inner);
	struct kid k_inner = {.delay = 0, .rc = -EIO};
	struct kid k_outer = {.delay = 0, .rc = -ERANGE};
	gspawn(&inner, &k_inner);
	gspawn(&outer, &k_outer);
	int rc = ringo_group_wait(&inner, 0, NULL, 0, NULL);
	assert_int_equal(rc, -EIO);
	/* The outer group's cancellation of the parent is still pending. */
	assert_int_equal(ringo_task_cancelling(ringo_task_current()), 1);
	rc = ringo_group_wait(&outer, 0, NULL, 0, NULL);
	assert_int_equal(rc, -ERANGE);
	assert_int_equal(ringo_task_cancelling(ringo_task_current()), 0);
	return 0;
}

static void test_nested_groups_both_cancelled(void **state)
{
	assert_int_equal(run_group_main(nested_groups_both_cancelled, NULL), 0);
}

struct error_and_cancel {
	ringo_event started;
	int after;          /* the sleep after the group */
};

static int raise_error_kid(void *arg, void **result)
{
	struct error_and_cancel *e = arg;
	ringo_event_set(&e->started);
	ringo_sleep(0);
	return -EIO;
}

static int inner_with_group(void *arg, void **result)
{
	struct error_and_cancel *e = arg;
	ringo_group g;
	ringo_group_init(&g);
	ringo_group_spawn(&g, raise_error_kid, e, NULL, NULL);
	int body = ringo_sleep(RINGO_SEC(1));
	assert_int_equal(body, -ECANCELED);
	assert_int_equal(ringo_group_wait(&g, body, NULL, 0, NULL), -EIO);
	assert_int_equal(ringo_task_cancelling(ringo_task_current()), 1);
	/* The outside cancellation is still pending: the next sleep gets it. */
	e->after = ringo_sleep(RINGO_SEC(1));
	return e->after;
}

static int error_and_cancel(void *arg, void **result)
{
	struct error_and_cancel e;
	ringo_event_init(&e.started);
	ringo_task *t;
	ringo_spawn(ringo_loop_current(), inner_with_group, &e, NULL, &t);
	ringo_event_wait(&e.started);
	assert_int_equal(ringo_task_cancelling(t), 0);
	ringo_task_cancel(t, NULL);
	assert_int_equal(ringo_task_cancelling(t), 1);
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), -ECANCELED);
	assert_true(ringo_future_cancelled(ringo_task_future(t)));
	assert_int_equal(e.after, -ECANCELED);
	ringo_task_release(t);
	return 0;
}

static void test_error_and_cancel(void **state)
{
	assert_int_equal(run_group_main(error_and_cancel, NULL), 0);
}

struct creation {
	ringo_group *g;
	bool ran;
};

static int third_task(void *arg, void **result)
{
	return -EBADMSG;
}

static int second_task(void *arg, void **result)
{
	struct creation *c = arg;
	ringo_group_spawn(c->g, third_task, NULL, NULL, NULL);
	int a = ringo_sleep(0);
	int b = a == 0 ? ringo_sleep(0) : a;
	assert_int_equal(b, -ECANCELED);
	c->ran = true;
	return b;
}

static int cancels_task_if_created_during_creation(void *arg, void **result)
{
	struct creation *c = arg;
	ringo_group g;
	ringo_group_init(&g);
	c->g = &g;
	ringo_group_spawn(&g, second_task, c, NULL, NULL);
	int errs[2];
	size_t n;
	int rc = ringo_group_wait(&g, 0, errs, 2, &n);
	assert_int_equal(n, 1);
	return rc;
}

static void test_cancels_task_if_created_during_creation(void **state)
{
	struct creation c = {0};
	assert_int_equal(run_group_main(cancels_task_if_created_during_creation, &c), -EBADMSG);
	assert_true(c.ran);
}

/* test_eager_task_factory.py's recursive_taskgroups(5, 4): 781 tasks. */
static int group_tasks_total;

static int recursive_taskgroups(void *arg, void **result)
{
	intptr_t depth = (intptr_t)arg;
	group_tasks_total++;
	if (depth == 0)
		return 0;
	ringo_group g;
	ringo_group_init(&g);
	for (int i = 0; i < 5; i++)
		ringo_group_spawn(&g, recursive_taskgroups, (void *)(depth - 1), NULL, NULL);
	return ringo_group_wait(&g, 0, NULL, 0, NULL);
}

static void test_recursive_taskgroups(void **state)
{
	group_tasks_total = 0;
	assert_int_equal(run_group_main(recursive_taskgroups, (void *)4), 0);
	assert_int_equal(group_tasks_total, 781);
}

/* ---- closing the loop with a group open leaves nothing behind ---- */

static int sleeps_long(void *arg, void **result)
{
	return ringo_sleep(RINGO_SEC(100));
}

static int parent_with_open_group(void *arg, void **result)
{
	ringo_group g;
	ringo_group_init(&g);
	ringo_group_spawn(&g, sleeps_long, NULL, NULL, NULL);
	ringo_group_spawn(&g, sleeps_long, NULL, NULL, NULL);
	int body = arg ? ringo_sleep(RINGO_SEC(100)) : 0; /* in the body, or */
	return ringo_group_wait(&g, body, NULL, 0, NULL); /* waiting */
}

static void close_with_open_group(void *in_body)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	/* A gather future first, so the tasks' close hook runs before the
	 * aio layer's: open groups are released either way. */
	ringo_future *f, *outer;
	struct ringo_gather_result out;
	ringo_future_new(loop, &f);
	ringo_gather_future(loop, &f, 1, false, &out, &outer);
	ringo_spawn(loop, parent_with_open_group, in_body, NULL, NULL);
	for (int i = 0; i < 2; i++) {
		ringo_loop_stop(loop);
		ringo_loop_run_forever(loop);
	}
	assert_int_equal(ringo_loop_close(loop), 0);
	ringo_future_release(outer);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void test_close_with_a_group_being_waited_for_leaks_nothing(void **state)
{
	close_with_open_group(NULL);
}

static void test_close_with_a_group_in_its_body_leaks_nothing(void **state)
{
	close_with_open_group("body");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_waits_for_every_child),
		cmocka_unit_test(test_first_failure_cancels_siblings_and_the_body),
		cmocka_unit_test(test_every_error_is_reported_including_one_raised_while_cancelled),
		cmocka_unit_test(test_failing_body_aborts_the_group),
		cmocka_unit_test(test_outside_cancel_during_body_propagates),
		cmocka_unit_test(test_outside_cancel_while_waiting_for_children_propagates),
		cmocka_unit_test(test_child_failing_while_the_group_is_being_cancelled),
		cmocka_unit_test(test_spawn_into_an_aborting_or_finished_group_fails),
		cmocka_unit_test(test_many_children_with_finished_ones_swept),
		cmocka_unit_test(test_group_outside_a_task_is_eperm),
		cmocka_unit_test(test_taskgroup_01),
		cmocka_unit_test(test_taskgroup_02),
		cmocka_unit_test(test_taskgroup_03),
		cmocka_unit_test(test_taskgroup_04),
		cmocka_unit_test(test_cancel_children_on_child_error),
		cmocka_unit_test(test_cancellation),
		cmocka_unit_test(test_taskgroup_07),
		cmocka_unit_test(test_taskgroup_08),
		cmocka_unit_test(test_cancellation_in_body),
		cmocka_unit_test(test_taskgroup_09),
		cmocka_unit_test(test_taskgroup_10),
		cmocka_unit_test(test_taskgroup_11),
		cmocka_unit_test(test_taskgroup_12),
		cmocka_unit_test(test_taskgroup_13),
		cmocka_unit_test(test_taskgroup_14),
		cmocka_unit_test(test_taskgroup_15),
		cmocka_unit_test(test_taskgroup_16),
		cmocka_unit_test(test_taskgroup_17),
		cmocka_unit_test(test_taskgroup_18),
		cmocka_unit_test(test_taskgroup_19),
		cmocka_unit_test(test_taskgroup_22),
		cmocka_unit_test(test_taskgroup_23),
		cmocka_unit_test(test_taskgroup_24),
		cmocka_unit_test(test_taskgroup_25),
		cmocka_unit_test(test_taskgroup_task_name),
		cmocka_unit_test(test_taskgroup_no_create_task_after_failure),
		cmocka_unit_test(test_taskgroup_context_manager_exit_raises),
		cmocka_unit_test(test_taskgroup_finished),
		cmocka_unit_test(test_taskgroup_without_parent_task),
		cmocka_unit_test(test_cancelling_level_preserved),
		cmocka_unit_test(test_cancellation_does_not_leak_out_of_tg),
		cmocka_unit_test(test_nested_groups_both_cancelled),
		cmocka_unit_test(test_error_and_cancel),
		cmocka_unit_test(test_cancels_task_if_created_during_creation),
		cmocka_unit_test(test_recursive_taskgroups),
		cmocka_unit_test(test_close_with_a_group_being_waited_for_leaks_nothing),
		cmocka_unit_test(test_close_with_a_group_in_its_body_leaks_nothing),
	};
	/* RINGO_TEST_FILTER=pattern runs only the matching tests. */
	if (getenv("RINGO_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RINGO_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
