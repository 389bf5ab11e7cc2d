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
	c->cancelling_after = ringo_task_cancelling(ringo_current_task());
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
	};
	/* RINGO_TEST_FILTER=pattern runs only the matching tests. */
	if (getenv("RINGO_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RINGO_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
