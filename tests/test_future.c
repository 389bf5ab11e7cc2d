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
	};
	/* RINGO_TEST_FILTER=pattern runs only the matching tests. */
	if (getenv("RINGO_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RINGO_TEST_FILTER"));
	return cmocka_run_group_tests_name("future", tests, NULL, NULL);
}
