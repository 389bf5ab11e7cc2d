/* Futures: states, errors, done callbacks, references. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

struct ctx {
	ringo_loop *loop;
	struct log log;
	ringo_future *fut;
};

static void test_pending_future_states(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	assert_int_equal(ringo_future_new(loop, &f), 0);
	assert_false(ringo_future_done(f));
	assert_false(ringo_future_cancelled(f));
	void *v = (void *)1;
	assert_int_equal(ringo_future_result(f, &v), -EINPROGRESS);
	assert_ptr_equal(v, (void *)1);
	assert_int_equal(ringo_future_error(f), -EINPROGRESS);
	assert_null(ringo_future_cancel_message(f));
	assert_ptr_equal(ringo_future_loop(f), loop);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void test_result_is_kept_and_second_set_is_ealready(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	ringo_future_new(loop, &f);
	assert_int_equal(ringo_future_set_result(f, (void *)"x"), 0);
	assert_true(ringo_future_done(f));
	assert_int_equal(ringo_future_set_result(f, (void *)"y"), -EALREADY);
	assert_int_equal(ringo_future_set_error(f, -EIO), -EALREADY);
	assert_false(ringo_future_cancel(f, "late"));
	void *v;
	assert_int_equal(ringo_future_result(f, &v), 0);
	assert_string_equal(v, "x");
	assert_int_equal(ringo_future_error(f), 0);
	assert_false(ringo_future_cancelled(f));
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void test_error_outcome(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	ringo_future_new(loop, &f);
	assert_int_equal(ringo_future_set_error(f, 5), -EINVAL);
	assert_int_equal(ringo_future_set_error(f, 0), -EINVAL);
	assert_int_equal(ringo_future_set_error(f, -EINPROGRESS), -EINVAL);
	assert_int_equal(ringo_future_set_error(f, -ECANCELED), -EINVAL);
	assert_false(ringo_future_done(f));
	assert_int_equal(ringo_future_set_error(f, -ECONNRESET), 0);
	assert_int_equal(ringo_future_result(f, NULL), -ECONNRESET);
	assert_int_equal(ringo_future_error(f), -ECONNRESET);
	assert_int_equal(ringo_future_set_result(f, NULL), -EALREADY);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void test_cancel_with_message(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	ringo_future_new(loop, &f);
	assert_true(ringo_future_cancel(f, "no longer needed"));
	assert_true(ringo_future_done(f));
	assert_true(ringo_future_cancelled(f));
	assert_false(ringo_future_cancel(f, "again"));
	assert_string_equal(ringo_future_cancel_message(f), "no longer needed");
	assert_int_equal(ringo_future_result(f, NULL), -ECANCELED);
	assert_int_equal(ringo_future_error(f), -ECANCELED);
	assert_int_equal(ringo_future_set_result(f, NULL), -EALREADY);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void done_log(ringo_future *f, void *arg)
{
	struct ctx *c = arg;
	void *v = NULL;
	int r = ringo_future_result(f, &v);
	log_add(&c->log, "done(%d,%s)", r, v ? (char *)v : "-");
}

static void done_log2(ringo_future *f, void *arg)
{
	struct ctx *c = arg;
	log_add(&c->log, "second");
}

static void stop_cb(void *arg)
{
	ringo_loop_stop(arg);
}

static void test_done_callbacks_are_deferred_and_ordered(void **state)
{
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, 0)};
	ringo_future *f;
	ringo_future_new(c.loop, &f);
	assert_int_equal(ringo_future_add_done_callback(f, done_log, &c), 0);
	assert_int_equal(ringo_future_add_done_callback(f, done_log2, &c), 0);
	ringo_future_set_result(f, (void *)"r");
	/* Not inline: nothing has run yet. */
	assert_int_equal(c.log.len, 0);
	ringo_call_soon(c.loop, stop_cb, c.loop, NULL);
	assert_int_equal(ringo_loop_run_forever(c.loop), 0);
	assert_string_equal(c.log.buf, "done(0,r) second");
	ringo_future_release(f);
	test_loop_free(c.loop, &ca);
}

static void test_done_callback_on_done_future_still_goes_through_call_soon(void **state)
{
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, 0)};
	ringo_future *f;
	ringo_future_new(c.loop, &f);
	ringo_future_set_error(f, -EIO);
	assert_int_equal(ringo_future_add_done_callback(f, done_log, &c), 0);
	assert_int_equal(c.log.len, 0);
	ringo_call_soon(c.loop, stop_cb, c.loop, NULL);
	assert_int_equal(ringo_loop_run_forever(c.loop), 0);
	char want[32];
	snprintf(want, sizeof(want), "done(%d,-)", -EIO);
	assert_string_equal(c.log.buf, want);
	ringo_future_release(f);
	test_loop_free(c.loop, &ca);
}

static void test_remove_done_callback_counts(void **state)
{
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, 0)};
	struct ctx other = {0};
	ringo_future *f;
	ringo_future_new(c.loop, &f);
	ringo_future_add_done_callback(f, done_log, &c);
	ringo_future_add_done_callback(f, done_log2, &c);
	ringo_future_add_done_callback(f, done_log, &c);
	ringo_future_add_done_callback(f, done_log, &other);
	assert_int_equal(ringo_future_remove_done_callback(f, done_log, &c), 2);
	assert_int_equal(ringo_future_remove_done_callback(f, done_log, &c), 0);
	assert_int_equal(ringo_future_remove_done_callback(f, done_log, &other), 1);
	/* The list still works after removals (its tail was kept right). */
	ringo_future_add_done_callback(f, done_log, &c);
	ringo_future_set_result(f, (void *)"v");
	assert_int_equal(ringo_future_remove_done_callback(f, done_log, &c), 0);
	ringo_call_soon(c.loop, stop_cb, c.loop, NULL);
	ringo_loop_run_forever(c.loop);
	assert_string_equal(c.log.buf, "second done(0,v)");
	assert_int_equal(ringo_future_remove_done_callback(NULL, done_log, &c), -EINVAL);
	ringo_future_release(f);
	test_loop_free(c.loop, &ca);
}

static void test_release_before_callbacks_run_is_safe(void **state)
{
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, 0)};
	ringo_future *f;
	ringo_future_new(c.loop, &f);
	ringo_future_add_done_callback(f, done_log, &c);
	ringo_future_set_result(f, (void *)"kept");
	/* The scheduled callback holds its own reference. */
	ringo_future_release(f);
	ringo_call_soon(c.loop, stop_cb, c.loop, NULL);
	ringo_loop_run_forever(c.loop);
	assert_string_equal(c.log.buf, "done(0,kept)");
	test_loop_free(c.loop, &ca);
}

static void test_release_with_pending_callbacks_frees_them(void **state)
{
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, 0)};
	ringo_future *f;
	ringo_future_new(c.loop, &f);
	ringo_future_add_done_callback(f, done_log, &c);
	ringo_future_release(f);
	test_loop_free(c.loop, &ca);
}

static void test_loop_free_refuses_while_futures_are_held(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	ringo_future_new(loop, &f);
	ringo_future_ref(f);
	ringo_future_release(f);
	assert_int_equal(ringo_loop_free(loop), -EBUSY);
	assert_true(ringo_loop_is_closed(loop));
	ringo_future_release(f);
	assert_int_equal(ringo_loop_free(loop), 0);
	assert_int_equal(ca.live_blocks, 0);
}

static void set_later(void *arg)
{
	struct ctx *c = arg;
	log_add(&c->log, "set");
	ringo_future_set_result(c->fut, (void *)"... world");
}

/* The seed's future_set_after, on callbacks: a future resolved by a
 * callback one second later. */
static void test_future_resolved_by_a_timer(void **state)
{
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK)};
	ringo_future_new(c.loop, &c.fut);
	ringo_call_later(c.loop, RINGO_SEC(1), set_later, &c, NULL);
	void *v;
	assert_int_equal(ringo_loop_run_until_complete(c.loop, c.fut, &v), 0);
	assert_string_equal(v, "... world");
	assert_int_equal(ringo_loop_time_ns(c.loop), RINGO_SEC(1));
	ringo_future_release(c.fut);
	test_loop_free(c.loop, &ca);
}

static void test_null_and_bad_arguments(void **state)
{
	assert_int_equal(ringo_future_new(NULL, NULL), -EINVAL);
	ringo_future *f = (ringo_future *)1;
	assert_int_equal(ringo_future_new(NULL, &f), -EINVAL);
	assert_null(f);
	assert_int_equal(ringo_future_set_result(NULL, NULL), -EINVAL);
	assert_int_equal(ringo_future_set_error(NULL, -EIO), -EINVAL);
	assert_false(ringo_future_cancel(NULL, NULL));
	assert_false(ringo_future_done(NULL));
	assert_int_equal(ringo_future_result(NULL, NULL), -EINVAL);
	assert_int_equal(ringo_future_add_done_callback(NULL, done_log, NULL), -EINVAL);
	assert_null(ringo_future_loop(NULL));
	ringo_future_release(NULL);
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future_new(loop, &f);
	assert_int_equal(ringo_future_add_done_callback(f, NULL, NULL), -EINVAL);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void test_add_done_callback_allocation_failure(void **state)
{
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, 0)};
	ringo_future *f;
	ringo_future_new(c.loop, &f);
	/* Fill the first record chunk so the next callback must grow. */
	int n = 0;
	for (; n < 4096; n++)
		assert_int_equal(ringo_future_add_done_callback(f, done_log2, &c), 0);
	ca.fail_at = ca.attempts + 1;
	assert_int_equal(ringo_future_add_done_callback(f, done_log2, &c), -ENOMEM);
	ca.fail_at = 0;
	assert_int_equal(ringo_future_add_done_callback(f, done_log2, &c), 0);
	assert_int_equal(ringo_future_remove_done_callback(f, done_log2, &c), n + 1);
	ringo_future_release(f);
	test_loop_free(c.loop, &ca);
}

/* ---- ported from CPython's Lib/test/test_asyncio/test_futures.py ---- */

static void test_initial_state(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	ringo_future_new(loop, &f);
	assert_false(ringo_future_cancelled(f));
	assert_false(ringo_future_done(f));
	assert_true(ringo_future_cancel(f, NULL));
	assert_true(ringo_future_cancelled(f));
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void test_constructor_without_loop(void **state)
{
	ringo_future *f;
	assert_int_equal(ringo_future_new(ringo_loop_current(), &f), -EINVAL);
	assert_null(f);
}

static int new_future_in_task(void *arg, void **result)
{
	ringo_future *f;
	int rc = ringo_future_new(ringo_loop_current(), &f);
	*result = f;
	return rc;
}

static void test_constructor_use_running_loop(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	ringo_spawn(loop, new_future_in_task, NULL, NULL, &t);
	void *v = NULL;
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), &v), 0);
	assert_ptr_equal(ringo_future_loop(v), loop);
	ringo_future_release(v);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void test_future_cancel_message_getter(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	ringo_future_new(loop, &f);
	assert_null(ringo_future_cancel_message(f));
	ringo_future_cancel(f, "my message");
	assert_int_equal(ringo_loop_run_until_complete(loop, f, NULL), -ECANCELED);
	assert_string_equal(ringo_future_cancel_message(f), "my message");
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void test_cancel(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	ringo_future_new(loop, &f);
	assert_true(ringo_future_cancel(f, NULL));
	assert_true(ringo_future_cancelled(f));
	assert_true(ringo_future_done(f));
	assert_int_equal(ringo_future_result(f, NULL), -ECANCELED);
	assert_int_equal(ringo_future_error(f), -ECANCELED);
	assert_int_equal(ringo_future_set_result(f, NULL), -EALREADY);
	assert_int_equal(ringo_future_set_error(f, -EIO), -EALREADY);
	assert_false(ringo_future_cancel(f, NULL));
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void test_result(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	ringo_future_new(loop, &f);
	assert_int_equal(ringo_future_result(f, NULL), -EINPROGRESS);
	ringo_future_set_result(f, (void *)(intptr_t)42);
	assert_false(ringo_future_cancelled(f));
	assert_true(ringo_future_done(f));
	void *v = NULL;
	assert_int_equal(ringo_future_result(f, &v), 0);
	assert_int_equal((intptr_t)v, 42);
	assert_int_equal(ringo_future_error(f), 0); /* exception() is None */
	assert_int_equal(ringo_future_set_result(f, NULL), -EALREADY);
	assert_int_equal(ringo_future_set_error(f, -EIO), -EALREADY);
	assert_false(ringo_future_cancel(f, NULL));
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void test_exception(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	ringo_future_new(loop, &f);
	assert_int_equal(ringo_future_error(f), -EINPROGRESS);
	ringo_future_set_error(f, -ENOTRECOVERABLE);
	assert_false(ringo_future_cancelled(f));
	assert_true(ringo_future_done(f));
	void *v = (void *)"untouched";
	assert_int_equal(ringo_future_result(f, &v), -ENOTRECOVERABLE);
	assert_string_equal(v, "untouched");
	assert_int_equal(ringo_future_error(f), -ENOTRECOVERABLE);
	assert_int_equal(ringo_future_set_result(f, NULL), -EALREADY);
	assert_int_equal(ringo_future_set_error(f, -EIO), -EALREADY);
	assert_false(ringo_future_cancel(f, NULL));
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void count_cb(void *arg)
{
	(*(int *)arg)++;
}

struct twice {
	ringo_future *f;
	void *x, *y;
	int iterations_between; /* callbacks that ran during the second await */
};

static int await_twice(void *arg, void **result)
{
	struct twice *t = arg;
	ringo_await(t->f, &t->x);
	int n = 0;
	ringo_call_soon(ringo_loop_current(), count_cb, &n, NULL);
	/* The second await of a done future does not suspend. */
	ringo_await(t->f, &t->y);
	t->iterations_between = n;
	ringo_sleep(0);
	return 0;
}

static void test_yield_from_twice(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct twice tw = {0};
	ringo_future_new(loop, &tw.f);
	ringo_task *t;
	ringo_spawn(loop, await_twice, &tw, NULL, &t);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop);
	ringo_future_set_result(tw.f, (void *)(intptr_t)42);
	ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL);
	assert_int_equal((intptr_t)tw.x, 42);
	assert_int_equal((intptr_t)tw.y, 42);
	assert_int_equal(tw.iterations_between, 0);
	ringo_future_release(tw.f);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void fakefunc(ringo_future *f, void *arg)
{
}

static void test_future_repr(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	char buf[256];
	ringo_future *f;
	ringo_future_new(loop, &f);
	assert_string_equal(ringo_future_repr(f, buf, sizeof(buf)), "<Future pending>");
	ringo_future_cancel(f, NULL);
	assert_string_equal(ringo_future_repr(f, buf, sizeof(buf)), "<Future cancelled>");
	ringo_future_release(f);
	ringo_future_new(loop, &f);
	ringo_future_set_result(f, (void *)0x4);
	assert_string_equal(ringo_future_repr(f, buf, sizeof(buf)), "<Future finished result=0x4>");
	ringo_future_release(f);
	ringo_future_new(loop, &f);
	ringo_future_set_error(f, -EIO);
	assert_non_null(strstr(ringo_future_repr(f, buf, sizeof(buf)), "<Future finished error=-5"));
	ringo_future_release(f);
	/* Callbacks are listed by symbol when the program exports one, else by
	 * address; two of them in the order added. */
	ringo_future_new(loop, &f);
	ringo_future_add_done_callback(f, fakefunc, NULL);
	ringo_future_add_done_callback(f, fakefunc, NULL);
	ringo_future_repr(f, buf, sizeof(buf));
	assert_int_equal(strncmp(buf, "<Future pending cb=[", 20), 0);
	assert_non_null(strstr(buf, "(), "));
	assert_string_equal(buf + strlen(buf) - 4, "()]>");
	ringo_future_cancel(f, NULL);
	assert_string_equal(ringo_future_repr(f, buf, sizeof(buf)), "<Future cancelled>");
	ringo_future_release(f);
	/* A tiny buffer is still terminated. */
	ringo_future_new(loop, &f);
	assert_string_equal(ringo_future_repr(f, buf, 5), "<Fut");
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void test_set_result_unless_cancelled(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	ringo_future_new(loop, &f);
	ringo_future_cancel(f, NULL);
	assert_int_equal(ringo_future_set_result(f, (void *)2), -EALREADY);
	assert_true(ringo_future_cancelled(f));
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

/* BaseFutureDoneCallbackTests: callbacks append to a bag. */

static struct log bag;

static void cb42(ringo_future *f, void *arg)
{
	log_add(&bag, "42");
}

static void cb17(ringo_future *f, void *arg)
{
	log_add(&bag, "17");
}

static void cb100(ringo_future *f, void *arg)
{
	log_add(&bag, "100");
}

static void run_briefly(ringo_loop *loop)
{
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop);
}

/* Add cb42, cb17, cb100; remove the ones in remove[] (each twice, the
 * second time a no-op); set a result; run; the bag must read want. */
static void check_removal(ringo_done_fn *const *remove, size_t nremove, const char *want)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	log_reset(&bag);
	ringo_future *f;
	ringo_future_new(loop, &f);
	ringo_future_add_done_callback(f, cb42, NULL);
	ringo_future_add_done_callback(f, cb17, NULL);
	ringo_future_add_done_callback(f, cb100, NULL);
	for (size_t i = 0; i < nremove; i++) {
		assert_int_equal(ringo_future_remove_done_callback(f, remove[i], NULL), 1);
		assert_int_equal(ringo_future_remove_done_callback(f, remove[i], NULL), 0);
	}
	assert_int_equal(bag.len, 0);
	ringo_future_set_result(f, (void *)"foo");
	run_briefly(loop);
	assert_string_equal(bag.buf, want);
	void *v;
	assert_int_equal(ringo_future_result(f, &v), 0);
	assert_string_equal(v, "foo");
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void test_callbacks_remove_first_callback(void **state)
{
	ringo_done_fn *r[] = {cb42};
	check_removal(r, 1, "17 100");
}

static void test_callbacks_remove_first_and_second_callback(void **state)
{
	ringo_done_fn *r[] = {cb42, cb17};
	check_removal(r, 2, "100");
}

static void test_callbacks_remove_third_callback(void **state)
{
	ringo_done_fn *r[] = {cb100};
	check_removal(r, 1, "42 17");
}

static void test_callbacks_invoked_on_set_result(void **state)
{
	check_removal(NULL, 0, "42 17 100");
}

static void test_callbacks_invoked_on_set_exception(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	log_reset(&bag);
	ringo_future *f;
	ringo_future_new(loop, &f);
	ringo_future_add_done_callback(f, cb100, NULL);
	assert_int_equal(bag.len, 0);
	ringo_future_set_error(f, -ERANGE);
	run_briefly(loop);
	assert_string_equal(bag.buf, "100");
	assert_int_equal(ringo_future_error(f), -ERANGE);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void bag_arg(ringo_future *f, void *arg)
{
	log_add(&bag, "%s", (const char *)arg);
}

static void test_remove_done_callback(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	log_reset(&bag);
	ringo_future *f;
	ringo_future_new(loop, &f);
	/* (fn, arg) pairs are the callbacks: cb1, cb2, cb3 share fn. */
	const char *cb1 = "1", *cb2 = "2", *cb3 = "3";
	ringo_future_add_done_callback(f, bag_arg, (void *)cb1);
	ringo_future_add_done_callback(f, bag_arg, (void *)cb2);
	assert_int_equal(ringo_future_remove_done_callback(f, bag_arg, (void *)cb2), 1);
	assert_int_equal(ringo_future_remove_done_callback(f, bag_arg, (void *)cb3), 0);
	ringo_future_add_done_callback(f, bag_arg, (void *)cb2);
	for (int i = 0; i < 5; i++)
		ringo_future_add_done_callback(f, bag_arg, (void *)cb1);
	assert_int_equal(ringo_future_remove_done_callback(f, bag_arg, (void *)cb1), 6);
	assert_int_equal(bag.len, 0);
	ringo_future_set_result(f, (void *)"foo");
	run_briefly(loop);
	assert_string_equal(bag.buf, "2");
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void removes_cb17(ringo_future *f, void *arg)
{
	/* The callbacks were scheduled when f completed: too late to remove. */
	assert_int_equal(ringo_future_remove_done_callback(f, cb17, NULL), 0);
	log_add(&bag, "mut");
}

static void test_schedule_callbacks_list_mutation_1(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	log_reset(&bag);
	ringo_future *f;
	ringo_future_new(loop, &f);
	ringo_future_add_done_callback(f, removes_cb17, NULL);
	ringo_future_add_done_callback(f, cb17, NULL);
	ringo_future_add_done_callback(f, cb17, NULL);
	ringo_future_set_result(f, (void *)1);
	run_briefly(loop);
	assert_string_equal(bag.buf, "mut 17 17");
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void adds_another(ringo_future *f, void *arg)
{
	log_add(&bag, "first");
	/* Added to a done future: still deferred, to the next iteration. */
	assert_int_equal(ringo_future_add_done_callback(f, cb42, NULL), 0);
}

static void test_done_callback_added_by_a_done_callback_runs_next_iteration(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	log_reset(&bag);
	ringo_future *f;
	ringo_future_new(loop, &f);
	ringo_future_add_done_callback(f, adds_another, NULL);
	ringo_future_add_done_callback(f, cb17, NULL);
	ringo_future_set_result(f, NULL);
	run_briefly(loop);
	assert_string_equal(bag.buf, "first 17");
	run_briefly(loop);
	assert_string_equal(bag.buf, "first 17 42");
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

/* ---- a deep chain of done callbacks completes without recursion ---- */

struct cb_chain {
	ringo_future **f;
	size_t n;
};

static struct cb_chain g_chain;

static void complete_next(ringo_future *f, void *arg)
{
	size_t i = (size_t)(uintptr_t)arg;
	if (i + 1 < g_chain.n)
		ringo_future_set_result(g_chain.f[i + 1], (void *)(uintptr_t)(i + 1));
}

static void test_deep_done_callback_chain_completes(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	g_chain.n = getenv("RINGO_UNDER_VALGRIND") ? 10000 : 100000;
	g_chain.f = calloc(g_chain.n, sizeof(*g_chain.f));
	for (size_t i = 0; i < g_chain.n; i++) {
		ringo_future_new(loop, &g_chain.f[i]);
		ringo_future_add_done_callback(g_chain.f[i], complete_next, (void *)(uintptr_t)i);
	}
	ringo_future_set_result(g_chain.f[0], NULL);
	void *v = NULL;
	assert_int_equal(ringo_loop_run_until_complete(loop, g_chain.f[g_chain.n - 1], &v), 0);
	assert_int_equal((uintptr_t)v, g_chain.n - 1);
	for (size_t i = 0; i < g_chain.n; i++)
		ringo_future_release(g_chain.f[i]);
	free(g_chain.f);
	test_loop_free(loop, &ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pending_future_states),
		cmocka_unit_test(test_result_is_kept_and_second_set_is_ealready),
		cmocka_unit_test(test_error_outcome),
		cmocka_unit_test(test_cancel_with_message),
		cmocka_unit_test(test_done_callbacks_are_deferred_and_ordered),
		cmocka_unit_test(test_done_callback_on_done_future_still_goes_through_call_soon),
		cmocka_unit_test(test_remove_done_callback_counts),
		cmocka_unit_test(test_release_before_callbacks_run_is_safe),
		cmocka_unit_test(test_release_with_pending_callbacks_frees_them),
		cmocka_unit_test(test_loop_free_refuses_while_futures_are_held),
		cmocka_unit_test(test_future_resolved_by_a_timer),
		cmocka_unit_test(test_null_and_bad_arguments),
		cmocka_unit_test(test_add_done_callback_allocation_failure),
		cmocka_unit_test(test_initial_state),
		cmocka_unit_test(test_constructor_without_loop),
		cmocka_unit_test(test_constructor_use_running_loop),
		cmocka_unit_test(test_future_cancel_message_getter),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_result),
		cmocka_unit_test(test_exception),
		cmocka_unit_test(test_yield_from_twice),
		cmocka_unit_test(test_future_repr),
		cmocka_unit_test(test_set_result_unless_cancelled),
		cmocka_unit_test(test_callbacks_remove_first_callback),
		cmocka_unit_test(test_callbacks_remove_first_and_second_callback),
		cmocka_unit_test(test_callbacks_remove_third_callback),
		cmocka_unit_test(test_callbacks_invoked_on_set_result),
		cmocka_unit_test(test_callbacks_invoked_on_set_exception),
		cmocka_unit_test(test_remove_done_callback),
		cmocka_unit_test(test_schedule_callbacks_list_mutation_1),
		cmocka_unit_test(test_done_callback_added_by_a_done_callback_runs_next_iteration),
		cmocka_unit_test(test_deep_done_callback_chain_completes),
	};
	/* RINGO_TEST_FILTER=pattern runs only the matching tests. */
	if (getenv("RINGO_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RINGO_TEST_FILTER"));
	return cmocka_run_group_tests_name("future", tests, NULL, NULL);
}
