/* Queue, LifoQueue, PriorityQueue: put/get, nowait errors, join, shutdown. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "support.h"

static struct log g_log;

#define I(x) ((void *)(uintptr_t)(x))
#define V(p) ((int)(uintptr_t)(p))

static int64_t now_s(void)
{
	return ringo_loop_time_ns(ringo_loop_current()) / RINGO_SEC(1);
}

static const char *me(void)
{
	return ringo_task_name(ringo_current_task());
}

static void cancel_cb(void *arg)
{
	ringo_task_cancel(arg, NULL);
}

#define MAXT 4
struct world {
	ringo_loop *loop;
	struct counting_allocator ca;
	ringo_task *t[MAXT];
	size_t n;
	ringo_queue q;
};

static void world_init(struct world *w, size_t maxsize)
{
	memset(w, 0, sizeof(*w));
	w->loop = test_loop_new(&w->ca, RINGO_LOOP_VIRTUAL_CLOCK);
	log_reset(&g_log);
	assert_int_equal(ringo_queue_init(&w->q, w->loop, maxsize), 0);
}

static ringo_task *world_spawn(struct world *w, ringo_task_fn *fn, const char *name)
{
	ringo_task_options o = {.name = name};
	assert_int_equal(ringo_spawn(w->loop, fn, &w->q, &o, &w->t[w->n]), 0);
	return w->t[w->n++];
}

/* Run every task to its end and release it. */
static void world_run(struct world *w)
{
	for (size_t i = 0; i < w->n; i++) {
		ringo_loop_run_until_complete(w->loop, ringo_task_future(w->t[i]), NULL);
		ringo_task_release(w->t[i]);
	}
	w->n = 0;
}

static void world_finish(struct world *w)
{
	world_run(w);
	assert_int_equal(ringo_queue_destroy(&w->q), 0);
	test_loop_free(w->loop, &w->ca);
}

/* ---- nowait ---- */

static void test_nowait_errors_are_distinct(void **state)
{
	struct world w;
	world_init(&w, 2);
	void *item;
	assert_int_equal(ringo_queue_get_nowait(&w.q, &item), -EAGAIN);
	assert_int_equal(ringo_queue_put_nowait(&w.q, I(1)), 0);
	assert_int_equal(ringo_queue_put_nowait(&w.q, I(2)), 0);
	assert_true(ringo_queue_full(&w.q));
	assert_int_equal(ringo_queue_put_nowait(&w.q, I(3)), -ENOBUFS);
	assert_int_equal(ringo_queue_size(&w.q), 2);
	assert_int_equal(ringo_queue_maxsize(&w.q), 2);
	assert_int_equal(ringo_queue_get_nowait(&w.q, &item), 0);
	assert_int_equal(V(item), 1);
	ringo_queue_shutdown(&w.q, false);
	assert_int_equal(ringo_queue_put_nowait(&w.q, I(4)), -ESHUTDOWN);
	/* After a plain shutdown, what is queued can still be taken. */
	assert_int_equal(ringo_queue_get_nowait(&w.q, &item), 0);
	assert_int_equal(V(item), 2);
	assert_int_equal(ringo_queue_get_nowait(&w.q, &item), -ESHUTDOWN);
	world_finish(&w);
}

static void test_fifo_order_and_wraparound(void **state)
{
	struct world w;
	world_init(&w, 3);
	void *item;
	for (int round = 0; round < 5; round++) {
		ringo_queue_put_nowait(&w.q, I(round * 10 + 1));
		ringo_queue_put_nowait(&w.q, I(round * 10 + 2));
		ringo_queue_get_nowait(&w.q, &item);
		assert_int_equal(V(item), round * 10 + 1);
		ringo_queue_get_nowait(&w.q, &item);
		assert_int_equal(V(item), round * 10 + 2);
	}
	world_finish(&w);
}

static void test_unbounded_queue_grows(void **state)
{
	struct world w;
	world_init(&w, 0);
	void *item;
	for (int i = 0; i < 5; i++)
		ringo_queue_put_nowait(&w.q, I(100 + i)); /* wrap the ring first */
	for (int i = 0; i < 3; i++)
		ringo_queue_get_nowait(&w.q, &item);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(ringo_queue_put_nowait(&w.q, I(i)), 0);
	assert_false(ringo_queue_full(&w.q));
	ringo_queue_get_nowait(&w.q, &item);
	assert_int_equal(V(item), 103);
	ringo_queue_get_nowait(&w.q, &item);
	assert_int_equal(V(item), 104);
	for (int i = 0; i < 1000; i++) {
		ringo_queue_get_nowait(&w.q, &item);
		assert_int_equal(V(item), i);
	}
	world_finish(&w);
}

static void test_lifo_queue_pops_the_newest(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_queue q;
	ringo_lifo_queue_init(&q, loop, 0);
	for (int i = 1; i <= 20; i++)
		ringo_queue_put_nowait(&q, I(i));
	void *item;
	for (int i = 20; i >= 1; i--) {
		ringo_queue_get_nowait(&q, &item);
		assert_int_equal(V(item), i);
	}
	assert_int_equal(ringo_queue_destroy(&q), 0);
	test_loop_free(loop, &ca);
}

static int cmp_int(const void *a, const void *b)
{
	return V(a) - V(b);
}

static void test_priority_queue_pops_the_smallest(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_queue q;
	assert_int_equal(ringo_priority_queue_init(&q, loop, 0, NULL), -EINVAL);
	ringo_priority_queue_init(&q, loop, 64, cmp_int);
	int vals[] = {5, 3, 9, 1, 7, 2, 8, 6, 4, 0};
	for (int i = 0; i < 10; i++)
		ringo_queue_put_nowait(&q, I(vals[i]));
	void *item;
	for (int i = 0; i < 10; i++) {
		ringo_queue_get_nowait(&q, &item);
		assert_int_equal(V(item), i);
	}
	assert_int_equal(ringo_queue_destroy(&q), 0);
	test_loop_free(loop, &ca);
}

/* ---- blocking ---- */

static int producer(void *arg, void **result)
{
	ringo_queue *q = arg;
	for (int i = 1; i <= 4; i++) {
		int rc = ringo_queue_put(q, I(i));
		log_add(&g_log, "put%d(%d)@%lld", i, rc, (long long)now_s());
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int slow_consumer(void *arg, void **result)
{
	ringo_queue *q = arg;
	for (;;) {
		if (ringo_sleep(RINGO_SEC(1)) < 0)
			return 0;
		void *item;
		int rc = ringo_queue_get(q, &item);
		log_add(&g_log, "%s:get%d(%d)@%lld", me(), rc == 0 ? V(item) : 0, rc,
			(long long)now_s());
		if (rc < 0)
			return rc == -ESHUTDOWN ? 0 : rc;
		ringo_queue_task_done(q);
	}
}

static void test_put_waits_while_full_and_get_hands_over(void **state)
{
	struct world w;
	world_init(&w, 2);
	world_spawn(&w, producer, "p");
	ringo_task *c = world_spawn(&w, slow_consumer, "c");
	ringo_call_later(w.loop, RINGO_MSEC(4500), cancel_cb, c, NULL);
	world_finish(&w);
	assert_string_equal(g_log.buf, "put1(0)@0 put2(0)@0 c:get1(0)@1 put3(0)@1 c:get2(0)@2 "
				       "put4(0)@2 c:get3(0)@3 c:get4(0)@4");
}

static int getter(void *arg, void **result)
{
	ringo_queue *q = arg;
	void *item;
	int rc = ringo_queue_get(q, &item);
	log_add(&g_log, "%s(%d,%d)@%lld", me(), rc, rc == 0 ? V(item) : 0, (long long)now_s());
	return rc;
}

static void put_cb(void *arg)
{
	ringo_queue_put_nowait(arg, I(7));
}

static void test_getters_are_served_fifo(void **state)
{
	struct world w;
	world_init(&w, 0);
	world_spawn(&w, getter, "a");
	world_spawn(&w, getter, "b");
	ringo_call_later(w.loop, RINGO_SEC(1), put_cb, &w.q, NULL);
	ringo_call_later(w.loop, RINGO_SEC(2), put_cb, &w.q, NULL);
	world_finish(&w);
	assert_string_equal(g_log.buf, "a(0,7)@1 b(0,7)@2");
}

static void test_cancelled_getter_takes_nothing(void **state)
{
	struct world w;
	world_init(&w, 0);
	ringo_task *a = world_spawn(&w, getter, "a");
	world_spawn(&w, getter, "b");
	ringo_call_later(w.loop, RINGO_MSEC(500), cancel_cb, a, NULL);
	ringo_call_later(w.loop, RINGO_SEC(1), put_cb, &w.q, NULL);
	world_finish(&w);
	assert_string_equal(g_log.buf, "a(-125,0)@0 b(0,7)@1");
	assert_true(ringo_queue_empty(&w.q));
}

static int put_then_cancel_getter(void *arg, void **result)
{
	struct world *w = arg;
	/* The getter is handed the item and queued; cancelling it now must
	 * not lose the item: it is kept, the cancel comes later. */
	ringo_queue_put_nowait(&w->q, I(9));
	ringo_task_cancel(w->t[0], NULL);
	return 0;
}

static int getter_then_sleep(void *arg, void **result)
{
	int rc = getter(arg, result);
	int slept = ringo_sleep(RINGO_SEC(1));
	log_add(&g_log, "sleep(%d)", slept);
	return rc;
}

static void test_item_handed_to_a_getter_survives_a_late_cancel(void **state)
{
	struct world w;
	world_init(&w, 0);
	world_spawn(&w, getter_then_sleep, "a");
	ringo_task_options o = {.name = "x"};
	ringo_task *x;
	ringo_spawn(w.loop, put_then_cancel_getter, &w, &o, &x);
	w.t[w.n++] = x;
	world_finish(&w);
	assert_string_equal(g_log.buf, "a(0,9)@0 sleep(-125)");
}

static void test_cancelled_putter_leaves_its_item_out(void **state)
{
	struct world w;
	world_init(&w, 1);
	ringo_queue_put_nowait(&w.q, I(1));
	ringo_task *p = world_spawn(&w, producer, "p");
	ringo_call_later(w.loop, RINGO_SEC(1), cancel_cb, p, NULL);
	world_run(&w);
	assert_string_equal(g_log.buf, "put1(-125)@1");
	assert_int_equal(ringo_queue_size(&w.q), 1);
	void *item;
	ringo_queue_get_nowait(&w.q, &item);
	assert_int_equal(V(item), 1);
	assert_int_equal(ringo_queue_task_done(&w.q), 0);
	/* The cancelled put never counted. */
	assert_int_equal(ringo_queue_task_done(&w.q), -EINVAL);
	world_finish(&w);
}

/* ---- join ---- */

static int joiner(void *arg, void **result)
{
	int rc = ringo_queue_join(arg);
	log_add(&g_log, "join(%d)@%lld", rc, (long long)now_s());
	return rc;
}

static void test_join_waits_for_task_done_of_every_item(void **state)
{
	struct world w;
	world_init(&w, 0);
	ringo_queue_put_nowait(&w.q, I(1));
	ringo_queue_put_nowait(&w.q, I(2));
	world_spawn(&w, joiner, "j");
	ringo_task *c = world_spawn(&w, slow_consumer, "c");
	ringo_call_later(w.loop, RINGO_MSEC(3500), cancel_cb, c, NULL);
	world_finish(&w);
	assert_string_equal(g_log.buf, "c:get1(0)@1 c:get2(0)@2 join(0)@2 c:get0(-125)@3");
}

/* ---- shutdown ---- */

static void shutdown_cb(void *arg)
{
	ringo_queue_shutdown(arg, false);
}

static void shutdown_now_cb(void *arg)
{
	ringo_queue_shutdown(arg, true);
}

static void test_shutdown_wakes_blocked_getters(void **state)
{
	struct world w;
	world_init(&w, 0);
	world_spawn(&w, getter, "a");
	world_spawn(&w, getter, "b");
	ringo_call_later(w.loop, RINGO_SEC(1), shutdown_cb, &w.q, NULL);
	world_finish(&w);
	assert_string_equal(g_log.buf, "a(-108,0)@1 b(-108,0)@1");
}

static void test_shutdown_wakes_blocked_putters(void **state)
{
	struct world w;
	world_init(&w, 1);
	world_spawn(&w, producer, "p");
	ringo_call_later(w.loop, RINGO_SEC(1), shutdown_cb, &w.q, NULL);
	world_run(&w);
	assert_string_equal(g_log.buf, "put1(0)@0 put2(-108)@1");
	assert_int_equal(ringo_queue_size(&w.q), 1);
	world_finish(&w);
}

static void test_immediate_shutdown_drops_items_and_releases_join(void **state)
{
	struct world w;
	world_init(&w, 0);
	ringo_queue_put_nowait(&w.q, I(1));
	ringo_queue_put_nowait(&w.q, I(2));
	world_spawn(&w, joiner, "j");
	ringo_call_later(w.loop, RINGO_SEC(1), shutdown_now_cb, &w.q, NULL);
	world_finish(&w);
	assert_string_equal(g_log.buf, "join(0)@1");
	assert_true(ringo_queue_empty(&w.q));
	void *item;
	assert_int_equal(ringo_queue_get_nowait(&w.q, &item), -ESHUTDOWN);
}

static void test_blocking_calls_outside_a_task_are_eperm(void **state)
{
	struct world w;
	world_init(&w, 1);
	void *item;
	assert_int_equal(ringo_queue_get(&w.q, &item), -EPERM);
	assert_int_equal(ringo_queue_put(&w.q, I(1)), 0); /* room: no wait */
	assert_int_equal(ringo_queue_put(&w.q, I(2)), -EPERM);
	assert_int_equal(ringo_queue_join(&w.q), -EPERM);
	world_finish(&w);
}

static void test_bounded_queue_init_allocation_failure(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_queue q;
	ca.fail_at = ca.attempts + 1;
	assert_int_equal(ringo_queue_init(&q, loop, 8), -ENOMEM);
	ca.fail_at = 0;
	test_loop_free(loop, &ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nowait_errors_are_distinct),
		cmocka_unit_test(test_fifo_order_and_wraparound),
		cmocka_unit_test(test_unbounded_queue_grows),
		cmocka_unit_test(test_lifo_queue_pops_the_newest),
		cmocka_unit_test(test_priority_queue_pops_the_smallest),
		cmocka_unit_test(test_put_waits_while_full_and_get_hands_over),
		cmocka_unit_test(test_getters_are_served_fifo),
		cmocka_unit_test(test_cancelled_getter_takes_nothing),
		cmocka_unit_test(test_item_handed_to_a_getter_survives_a_late_cancel),
		cmocka_unit_test(test_cancelled_putter_leaves_its_item_out),
		cmocka_unit_test(test_join_waits_for_task_done_of_every_item),
		cmocka_unit_test(test_shutdown_wakes_blocked_getters),
		cmocka_unit_test(test_shutdown_wakes_blocked_putters),
		cmocka_unit_test(test_immediate_shutdown_drops_items_and_releases_join),
		cmocka_unit_test(test_blocking_calls_outside_a_task_are_eperm),
		cmocka_unit_test(test_bounded_queue_init_allocation_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
