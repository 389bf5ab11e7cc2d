/* Composition helpers: ringo_map, ringo_timeout_call, the scope guards,
 * RINGO_INT/RINGO_PTR. Virtual clock throughout, so times are exact. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static int64_t now(void)
{
	return ringo_loop_time_ns(ringo_loop_current());
}

static void cancel_cb(void *arg)
{
	ringo_task_cancel(arg, NULL);
}

/* Run fn as the main task of a fresh virtual-clock loop, cancelled at
 * cancel_at if >= 0; the loop must close with nothing left. */
static int run_main(ringo_task_fn *fn, void *arg, int64_t cancel_at)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_task *m;
	assert_int_equal(ringo_spawn(loop, fn, arg, NULL, &m), 0);
	if (cancel_at >= 0)
		assert_int_equal(ringo_call_later(loop, cancel_at, cancel_cb, m, NULL), 0);
	int rc = ringo_loop_run_until_complete(loop, ringo_task_future(m), NULL);
	ringo_task_release(m);
	test_loop_free(loop, &ca);
	return rc;
}

/* Tasks of this loop not yet done, the caller included. */
static int live_tasks(void)
{
	return ringo_loop_tasks(ringo_loop_current(), NULL, 0);
}

/* ---- ringo_map ---- */

/* What the items of one map saw: concurrency measured by the tasks
 * themselves, which ran, which were cancelled. */
struct crowd {
	int running, max_running;
	int started, finished, cancelled;
	int fail_at;           /* this index fails with -EIO (-1: none) */
	int64_t fail_after;    /* ... after sleeping this long */
	int64_t work;          /* every other item sleeps this long (0: varied) */
	int64_t cleanup;       /* after a cancel, an item sleeps this long */
	unsigned char ran[10000];
};

static struct crowd crowd;

static void crowd_reset(void)
{
	memset(&crowd, 0, sizeof(crowd));
	crowd.fail_at = -1;
}

static int item(void *arg, void **result)
{
	int i = (int)RINGO_INT(arg);
	crowd.ran[i] = 1;
	crowd.started++;
	if (++crowd.running > crowd.max_running)
		crowd.max_running = crowd.running;
	int64_t d = i == crowd.fail_at ? crowd.fail_after
		    : crowd.work      ? crowd.work
				      : RINGO_MSEC(1 + (i * 7919) % 50);
	int rc = ringo_sleep(d);
	if (rc == -ECANCELED) {
		crowd.cancelled++;
		/* Clean-up that suspends: the map must wait for it. */
		if (crowd.cleanup)
			assert_int_equal(ringo_sleep(crowd.cleanup), 0);
	}
	crowd.running--;
	crowd.finished++;
	if (rc < 0)
		return rc;
	if (i == crowd.fail_at)
		return -EIO;
	*result = RINGO_PTR(i * 2);
	return 0;
}

static void *args[10000];

static void args_init(size_t n)
{
	for (size_t i = 0; i < n; i++)
		args[i] = RINGO_PTR(i);
}

static struct ringo_gather_result out[10000];

static int map_order_body(void *arg, void **result)
{
	ringo_map_options mo = {.concurrency = 7};
	assert_int_equal(ringo_map(item, args, 50, &mo, out), 0);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(out[i].err, 0);
		assert_int_equal(RINGO_INT(out[i].value), i * 2);
	}
	assert_int_equal(crowd.max_running, 7);
	assert_int_equal(live_tasks(), 1);
	return 0;
}

static void test_map_results_in_argument_order_limit_honoured(void **state)
{
	crowd_reset();
	args_init(50);
	assert_int_equal(run_main(map_order_body, NULL, -1), 0);
	assert_int_equal(crowd.finished, 50);
}

static int map_all_body(void *arg, void **result)
{
	assert_int_equal(ringo_map(item, args, 300, NULL, out), 0); /* 0: all at once */
	assert_int_equal(crowd.max_running, 300);
	for (int i = 0; i < 300; i++)
		assert_int_equal(RINGO_INT(out[i].value), i * 2);
	return 0;
}

static void test_map_concurrency_zero_runs_all_at_once(void **state)
{
	crowd_reset();
	args_init(300);
	assert_int_equal(run_main(map_all_body, NULL, -1), 0);
}

/* The crawler: 10,000 items, 100 at a time. */
static int crawler_body(void *arg, void **result)
{
	int64_t t0 = now();
	ringo_map_options mo = {.concurrency = 100, .return_exceptions = true};
	assert_int_equal(ringo_map(item, args, 10000, &mo, out), 0);
	for (int i = 0; i < 10000; i++) {
		assert_int_equal(out[i].err, 0);
		assert_int_equal(RINGO_INT(out[i].value), i * 2);
	}
	assert_int_equal(crowd.max_running, 100);
	/* Items last 1..50 ms (25.5 on average): about 10,000 * 25.5 / 100
	 * ms if the 100 slots stay busy; a slot left idle would show. */
	int64_t took = now() - t0;
	assert_true(took >= RINGO_MSEC(2550) && took < RINGO_MSEC(2650));
	assert_int_equal(live_tasks(), 1);
	return 0;
}

static void test_map_crawler_10000_items_100_at_a_time(void **state)
{
	crowd_reset();
	args_init(10000);
	assert_int_equal(run_main(crawler_body, NULL, -1), 0);
	assert_int_equal(crowd.finished, 10000);
}

static int first_failure_body(void *arg, void **result)
{
	ringo_map_options mo = {.concurrency = 5};
	int64_t t0 = now();
	assert_int_equal(ringo_map(item, args, 20, &mo, out), -EIO);
	/* Returned when the cancelled ones had finished their clean-up. */
	assert_int_equal(now() - t0, RINGO_MSEC(3) + RINGO_MSEC(2));
	assert_int_equal(live_tasks(), 1);
	for (int i = 0; i < 20; i++) {
		int want = i == 3 ? -EIO : -ECANCELED;
		assert_int_equal(out[i].err, want);
		assert_int_equal(crowd.ran[i], i < 5);
	}
	return 0;
}

static void test_map_first_failure_cancels_the_rest_and_waits(void **state)
{
	crowd_reset();
	crowd.fail_at = 3;
	crowd.fail_after = RINGO_MSEC(3);
	crowd.work = RINGO_SEC(10);
	crowd.cleanup = RINGO_MSEC(2);
	args_init(20);
	assert_int_equal(run_main(first_failure_body, NULL, -1), 0);
	assert_int_equal(crowd.started, 5);
	assert_int_equal(crowd.finished, 5);
	assert_int_equal(crowd.cancelled, 4);
}

static int return_exceptions_body(void *arg, void **result)
{
	ringo_map_options mo = {.concurrency = 3, .return_exceptions = true};
	assert_int_equal(ringo_map(item, args, 12, &mo, out), 0);
	for (int i = 0; i < 12; i++) {
		assert_int_equal(out[i].err, i == 3 ? -EIO : 0);
		if (i != 3)
			assert_int_equal(RINGO_INT(out[i].value), i * 2);
	}
	return 0;
}

static void test_map_return_exceptions_runs_every_item(void **state)
{
	crowd_reset();
	crowd.fail_at = 3;
	crowd.fail_after = RINGO_MSEC(1);
	args_init(12);
	assert_int_equal(run_main(return_exceptions_body, NULL, -1), 0);
	assert_int_equal(crowd.finished, 12);
	assert_int_equal(crowd.cancelled, 0);
}

static int caller_cancelled_body(void *arg, void **result)
{
	ringo_map_options mo = {.concurrency = 4, .return_exceptions = true};
	int rc = ringo_map(item, args, 30, &mo, out);
	assert_int_equal(rc, -ECANCELED);
	/* Cancelled at 10 ms; each running item then cleaned up for 2 ms. */
	assert_int_equal(now(), RINGO_MSEC(12));
	assert_int_equal(live_tasks(), 1);
	for (int i = 0; i < 30; i++) {
		assert_int_equal(out[i].err, -ECANCELED);
		assert_int_equal(crowd.ran[i], i < 4);
	}
	return rc;
}

static void test_map_cancelling_the_caller_cancels_all_and_waits(void **state)
{
	crowd_reset();
	crowd.work = RINGO_SEC(10);
	crowd.cleanup = RINGO_MSEC(2);
	args_init(30);
	assert_int_equal(run_main(caller_cancelled_body, NULL, RINGO_MSEC(10)), -ECANCELED);
	assert_int_equal(crowd.started, 4);
	assert_int_equal(crowd.finished, 4);
	assert_int_equal(crowd.cancelled, 4);
}

/* Cancelled after a finishing item woke it but before it ran (the
 * cancel lands in the item's own done callback, queued after the map's):
 * the cancellation still reaches every running item. */
static ringo_task *map_caller;

static void cancel_caller_cb(ringo_future *fut, void *arg)
{
	ringo_task_cancel(map_caller, NULL);
}

static int first_item_cancels_caller(void *arg, void **result)
{
	if (RINGO_INT(arg) == 0) {
		ringo_future *self = ringo_task_future(ringo_task_current());
		assert_int_equal(ringo_future_add_done_callback(self, cancel_caller_cb, NULL), 0);
		return 0;
	}
	return item(arg, result);
}

static int woken_then_cancelled_body(void *arg, void **result)
{
	map_caller = ringo_task_current();
	ringo_map_options mo = {.concurrency = 3};
	int rc = ringo_map(first_item_cancels_caller, args, 8, &mo, out);
	assert_int_equal(rc, -ECANCELED);
	assert_int_equal(out[0].err, 0);
	for (int i = 1; i < 8; i++)
		assert_int_equal(out[i].err, -ECANCELED);
	assert_int_equal(live_tasks(), 1);
	return rc;
}

static void test_map_cancel_after_a_wake_still_cancels_all(void **state)
{
	crowd_reset();
	crowd.work = RINGO_SEC(10);
	crowd.cleanup = RINGO_MSEC(1);
	args_init(8);
	assert_int_equal(run_main(woken_then_cancelled_body, NULL, -1), -ECANCELED);
	/* Items 1 and 2 were running; item 3 was never started. */
	assert_int_equal(crowd.started, 2);
	assert_int_equal(crowd.cancelled, 2);
	assert_int_equal(crowd.finished, 2);
}

static int pending_cancel_body(void *arg, void **result)
{
	ringo_task_cancel(ringo_task_current(), NULL);
	assert_int_equal(ringo_map(item, args, 10, NULL, out), -ECANCELED);
	for (int i = 0; i < 10; i++)
		assert_int_equal(out[i].err, -ECANCELED);
	assert_int_equal(crowd.started, 0);
	assert_int_equal(live_tasks(), 1);
	return 0;
}

static void test_map_cancel_pending_at_the_call_starts_nothing(void **state)
{
	crowd_reset();
	args_init(10);
	assert_int_equal(run_main(pending_cancel_body, NULL, -1), 0);
}

static int map_under_scope_body(void *arg, void **result)
{
	ringo_timeout to;
	assert_int_equal(ringo_timeout_enter(&to, RINGO_MSEC(20)), 0);
	int rc = ringo_map(item, args, 10, NULL, out);
	assert_int_equal(rc, -ECANCELED);
	assert_int_equal(ringo_timeout_exit(&to, rc), -ETIMEDOUT);
	assert_int_equal(now(), RINGO_MSEC(20));
	assert_int_equal(live_tasks(), 1);
	return 0;
}

static void test_map_under_a_timeout_scope_times_out_cleanly(void **state)
{
	crowd_reset();
	crowd.work = RINGO_SEC(1);
	args_init(10);
	assert_int_equal(run_main(map_under_scope_body, NULL, -1), 0);
	assert_int_equal(crowd.cancelled, 10);
	assert_int_equal(crowd.finished, 10);
}

static ringo_context_key *map_key;

static int reads_key(void *arg, void **result)
{
	*result = ringo_context_get(map_key);
	/* A set in one item is its own: the next items still see the caller's. */
	assert_int_equal(ringo_context_set(map_key, NULL), 0);
	return ringo_sleep(0);
}

static int map_context_body(void *arg, void **result)
{
	int v = 42;
	assert_int_equal(ringo_context_set(map_key, &v), 0);
	ringo_map_options mo = {.concurrency = 2};
	assert_int_equal(ringo_map(reads_key, args, 6, &mo, out), 0);
	for (int i = 0; i < 6; i++)
		assert_ptr_equal(out[i].value, &v);
	assert_int_equal(ringo_context_set(map_key, NULL), 0);
	return 0;
}

static void test_map_tasks_inherit_the_callers_context(void **state)
{
	assert_int_equal(ringo_context_key_new(NULL, &map_key), 0);
	args_init(6);
	assert_int_equal(run_main(map_context_body, NULL, -1), 0);
	ringo_context_key_free(map_key);
}

static int map_edge_body(void *arg, void **result)
{
	assert_int_equal(ringo_map(item, NULL, 0, NULL, NULL), 0);
	assert_int_equal(ringo_map(NULL, args, 1, NULL, out), -EINVAL);
	assert_int_equal(ringo_map(item, NULL, 1, NULL, out), -EINVAL);
	assert_int_equal(ringo_map(item, args, 1, NULL, NULL), -EINVAL);
	/* A spawn that fails is that item's outcome: here every spawn. */
	ringo_task_options bad = {.stack_size = RINGO_TASK_COMPACT_MIN - 1};
	ringo_map_options mo = {.concurrency = 2, .task = &bad};
	assert_int_equal(ringo_map(item, args, 4, &mo, out), -EINVAL);
	assert_int_equal(out[0].err, -EINVAL);
	for (int i = 1; i < 4; i++)
		assert_int_equal(out[i].err, -ECANCELED);
	mo.return_exceptions = true;
	assert_int_equal(ringo_map(item, args, 4, &mo, out), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(out[i].err, -EINVAL);
	assert_int_equal(crowd.started, 0);
	return 0;
}

static void test_map_edge_cases(void **state)
{
	crowd_reset();
	args_init(4);
	assert_int_equal(ringo_map(item, args, 0, NULL, out), 0); /* n == 0: at once */
	assert_int_equal(ringo_map(item, args, 1, NULL, out), -EPERM);
	assert_int_equal(run_main(map_edge_body, NULL, -1), 0);
}

/* Out of memory at every allocation in turn: the map fails cleanly or
 * reports the items it could not start, and nothing leaks. */
static int oom_body(void *arg, void **result)
{
	ringo_map_options mo = {.concurrency = 2, .return_exceptions = true};
	int rc = ringo_map(item, args, 5, &mo, out);
	if (rc == -ENOMEM)
		return 1;
	assert_int_equal(rc, 0);
	/* An item fails with -ENOMEM when it could not be started, or when
	 * its own sleep could not get a timer; one that ran has finished. */
	for (int i = 0; i < 5; i++) {
		if (out[i].err == 0)
			assert_true(crowd.ran[i]);
		else
			assert_int_equal(out[i].err, -ENOMEM);
	}
	assert_int_equal(crowd.started, crowd.finished);
	assert_int_equal(live_tasks(), 1);
	return 0;
}

static void test_map_out_of_memory_at_each_allocation(void **state)
{
	args_init(5);
	bool saw_partial = false, saw_whole = false;
	for (long k = 1; k < 200; k++) {
		crowd_reset();
		crowd.work = RINGO_MSEC(1);
		struct counting_allocator ca;
		ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
		ringo_task *m;
		assert_int_equal(ringo_spawn(loop, oom_body, NULL, NULL, &m), 0);
		ca.attempts = 0;
		ca.fail_at = k;
		int rc = ringo_loop_run_until_complete(loop, ringo_task_future(m), NULL);
		ca.fail_at = 0;
		if (rc == -ENOMEM) {
			ringo_task_release(m);
			test_loop_free(loop, &ca);
			continue; /* the main task itself could not be scheduled */
		}
		assert_true(rc == 0 || rc == 1);
		saw_partial |= rc == 0 && crowd.started < 5; /* a start failed */
		saw_whole |= rc == 0 && crowd.started == 5;
		ringo_task_release(m);
		test_loop_free(loop, &ca);
	}
	assert_true(saw_partial);
	assert_true(saw_whole);
}

static int closed_under_map(void *arg, void **result)
{
	ringo_map_options mo = {.concurrency = 3};
	ringo_map(item, args, 10, &mo, out);
	return 0; /* never: the loop closes first */
}

static void test_map_loop_closed_under_it_leaks_nothing(void **state)
{
	crowd_reset();
	crowd.work = RINGO_SEC(1);
	args_init(10);
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	assert_int_equal(ringo_spawn(loop, closed_under_map, NULL, NULL, NULL), 0);
	for (int i = 0; i < 3; i++) {
		ringo_loop_stop(loop);
		assert_int_equal(ringo_loop_run_forever(loop), 0);
	}
	assert_int_equal(crowd.started, 3);
	test_loop_free(loop, &ca);
}

/* ---- ringo_timeout_call ---- */

struct tc {
	ringo_task *caller;
	int64_t sleep;         /* fn sleeps this long (0: does not suspend) */
	bool keep_going;       /* fn returns a result even when cancelled */
	int64_t self_cancel;   /* > 0: fn has its task cancelled at this time */
	int sleep_rc;
};

static int tc_fn(void *arg, void **result)
{
	struct tc *c = arg;
	/* In the calling task: nothing was spawned. */
	assert_ptr_equal(ringo_task_current(), c->caller);
	assert_int_equal(live_tasks(), 1);
	if (c->self_cancel)
		assert_int_equal(ringo_call_at(ringo_loop_current(), c->self_cancel, cancel_cb,
					       c->caller, NULL), 0);
	c->sleep_rc = c->sleep ? ringo_sleep(c->sleep) : 0;
	if (c->sleep_rc < 0 && !c->keep_going)
		return c->sleep_rc;
	*result = RINGO_PTR(7);
	return 0;
}

/* timeout_call(timeout, tc_fn) in a task; its rc, value and end time. */
struct tc_case {
	struct tc c;
	int64_t timeout;
	int64_t outer;         /* > 0: inside an outer scope of this */
	int rc, outer_rc;
	void *value;
	int64_t at;
	int cancelling;        /* the task's cancelling() afterwards */
};

static int tc_body(void *arg, void **result)
{
	struct tc_case *k = arg;
	k->c.caller = ringo_task_current();
	k->value = (void *)-1;
	ringo_timeout outer;
	if (k->outer)
		assert_int_equal(ringo_timeout_enter(&outer, k->outer), 0);
	k->rc = ringo_timeout_call(k->timeout, tc_fn, &k->c, &k->value);
	k->at = now();
	if (k->outer)
		k->outer_rc = ringo_timeout_exit(&outer, k->rc);
	k->cancelling = ringo_task_cancelling(k->c.caller);
	return 0;
}

static struct tc_case tc_run(struct tc_case k, int64_t cancel_at)
{
	run_main(tc_body, &k, cancel_at);
	return k;
}

static void test_timeout_call_returns_fns_result_in_the_calling_task(void **state)
{
	struct tc_case k = tc_run((struct tc_case){.c.sleep = RINGO_MSEC(5),
						   .timeout = RINGO_MSEC(10)}, -1);
	assert_int_equal(k.rc, 0);
	assert_int_equal(RINGO_INT(k.value), 7);
	assert_int_equal(k.at, RINGO_MSEC(5));
	assert_int_equal(k.cancelling, 0);
}

static void test_timeout_call_expiry_is_etimedout(void **state)
{
	struct tc_case k = tc_run((struct tc_case){.c.sleep = RINGO_SEC(1),
						   .timeout = RINGO_MSEC(10)}, -1);
	assert_int_equal(k.rc, -ETIMEDOUT);
	assert_int_equal(k.c.sleep_rc, -ECANCELED);
	assert_ptr_equal(k.value, (void *)-1); /* not written */
	assert_int_equal(k.at, RINGO_MSEC(10));
	assert_int_equal(k.cancelling, 0);
}

static void test_timeout_call_zero_succeeds_only_without_suspending(void **state)
{
	struct tc_case k = tc_run((struct tc_case){.c.sleep = 0, .timeout = 0}, -1);
	assert_int_equal(k.rc, 0);
	assert_int_equal(RINGO_INT(k.value), 7);
	k = tc_run((struct tc_case){.c.sleep = RINGO_MSEC(1), .timeout = 0}, -1);
	assert_int_equal(k.rc, -ETIMEDOUT);
	assert_int_equal(k.at, 0);
}

static void test_timeout_call_negative_is_no_limit(void **state)
{
	struct tc_case k = tc_run((struct tc_case){.c.sleep = RINGO_SEC(3600), .timeout = -5}, -1);
	assert_int_equal(k.rc, 0);
	assert_int_equal(k.at, RINGO_SEC(3600));
}

static void test_timeout_call_result_returned_after_the_deadline_is_kept(void **state)
{
	struct tc_case k = tc_run((struct tc_case){.c.sleep = RINGO_SEC(1), .c.keep_going = true,
						   .timeout = RINGO_MSEC(10)}, -1);
	assert_int_equal(k.rc, 0);
	assert_int_equal(RINGO_INT(k.value), 7);
	assert_int_equal(k.cancelling, 0);
}

static void test_timeout_call_earlier_outer_scope_wins(void **state)
{
	struct tc_case k = tc_run((struct tc_case){.c.sleep = RINGO_SEC(1), .outer = RINGO_MSEC(5),
						   .timeout = RINGO_MSEC(100)}, -1);
	assert_int_equal(k.rc, -ECANCELED);
	assert_int_equal(k.outer_rc, -ETIMEDOUT);
	assert_int_equal(k.at, RINGO_MSEC(5));
	/* The inner one is earlier: it is the inner's timeout. */
	k = tc_run((struct tc_case){.c.sleep = RINGO_SEC(1), .outer = RINGO_MSEC(100),
				    .timeout = RINGO_MSEC(5)}, -1);
	assert_int_equal(k.rc, -ETIMEDOUT);
	assert_int_equal(k.outer_rc, -ETIMEDOUT); /* passed through, not expired */
	assert_int_equal(k.at, RINGO_MSEC(5));
	assert_int_equal(k.cancelling, 0);
}

static void test_timeout_call_outside_cancel_is_ecanceled_never_etimedout(void **state)
{
	struct tc_case k = tc_run((struct tc_case){.c.sleep = RINGO_SEC(1),
						   .timeout = RINGO_MSEC(100)}, RINGO_MSEC(5));
	assert_int_equal(k.rc, -ECANCELED);
	assert_int_equal(k.at, RINGO_MSEC(5));
	assert_int_equal(k.cancelling, 1);
	/* At the deadline itself, before the scope's timer... */
	k = tc_run((struct tc_case){.c.sleep = RINGO_SEC(1), .timeout = RINGO_MSEC(10)},
		   RINGO_MSEC(10));
	assert_int_equal(k.rc, -ECANCELED);
	assert_int_equal(k.cancelling, 1);
	/* ... and after it, in the same iteration. */
	k = tc_run((struct tc_case){.c.sleep = RINGO_SEC(1), .c.self_cancel = RINGO_MSEC(10),
				    .timeout = RINGO_MSEC(10)}, -1);
	assert_int_equal(k.rc, -ECANCELED);
	assert_int_equal(k.at, RINGO_MSEC(10));
	assert_int_equal(k.cancelling, 1);
}

static int tc_errors_body(void *arg, void **result)
{
	assert_int_equal(ringo_timeout_call(RINGO_MSEC(1), NULL, NULL, NULL), -EINVAL);
	return 0;
}

static void test_timeout_call_errors(void **state)
{
	struct tc c = {0};
	assert_int_equal(ringo_timeout_call(RINGO_MSEC(1), tc_fn, &c, NULL), -EPERM);
	assert_int_equal(run_main(tc_errors_body, NULL, -1), 0);
}

/* ---- guards ---- */

static ringo_lock glock;

/* mode 0: work then return; 1: early return; 2: release early, then take
 * the lock without the guard (the scope's end must not release it). */
static int lock_guarded(int mode)
{
	RINGO_LOCK_GUARD(g);
	int rc = ringo_lock_guard_acquire(&g, &glock);
	if (rc < 0)
		return rc;
	assert_true(ringo_lock_locked(&glock));
	assert_int_equal(ringo_lock_guard_acquire(&g, &glock), -EBUSY);
	if (mode == 1)
		return -EINVAL;
	if (mode == 2) {
		assert_int_equal(ringo_lock_guard_release(&g), 0);
		assert_false(ringo_lock_locked(&glock));
		assert_int_equal(ringo_lock_try_acquire(&glock), 0);
		return 0;
	}
	return ringo_sleep(RINGO_MSEC(1));
}

static int lock_guard_body(void *arg, void **result)
{
	ringo_lock_init(&glock);
	assert_int_equal(lock_guarded(0), 0);
	assert_false(ringo_lock_locked(&glock));
	assert_int_equal(lock_guarded(1), -EINVAL);
	assert_false(ringo_lock_locked(&glock));
	assert_int_equal(lock_guarded(2), 0);
	assert_true(ringo_lock_locked(&glock)); /* taken without the guard */
	assert_int_equal(ringo_lock_release(&glock), 0);
	/* Cancelled while holding it: released on that path too. */
	ringo_task_cancel(ringo_task_current(), NULL);
	assert_int_equal(ringo_lock_try_acquire(&glock), 0);
	assert_int_equal(ringo_lock_release(&glock), 0);
	assert_int_equal(lock_guarded(0), -ECANCELED); /* the acquire took it */
	assert_false(ringo_lock_locked(&glock));
	assert_int_equal(ringo_lock_destroy(&glock), 0);
	return 0;
}

static void test_lock_guard_releases_on_every_return(void **state)
{
	assert_int_equal(run_main(lock_guard_body, NULL, -1), 0);
}

static int holder_rc;

static int lock_holder(void *arg, void **result)
{
	assert_int_equal(ringo_lock_acquire(&glock), 0);
	assert_int_equal(ringo_sleep(RINGO_MSEC(10)), 0);
	holder_rc = ringo_lock_release(&glock);
	return 0;
}

static int failed_acquire_body(void *arg, void **result)
{
	ringo_lock_init(&glock);
	ringo_task *h;
	assert_int_equal(ringo_spawn(ringo_loop_current(), lock_holder, NULL, NULL, &h), 0);
	assert_int_equal(ringo_sleep(0), 0); /* the holder takes it */
	assert_int_equal(ringo_call_later(ringo_loop_current(), RINGO_MSEC(5), cancel_cb,
					  ringo_task_current(), NULL), 0);
	assert_int_equal(lock_guarded(0), -ECANCELED);
	assert_true(ringo_lock_locked(&glock)); /* still the holder's */
	assert_int_equal(ringo_await(ringo_task_future(h), NULL), 0);
	ringo_task_release(h);
	assert_int_equal(holder_rc, 0); /* a wrong release would make this -EPERM */
	assert_int_equal(ringo_lock_destroy(&glock), 0);
	return 0;
}

static void test_lock_guard_failed_acquire_releases_nothing(void **state)
{
	holder_rc = 1;
	assert_int_equal(run_main(failed_acquire_body, NULL, -1), 0);
}

static ringo_semaphore gsem;

static int sem_guarded(bool early)
{
	RINGO_SEMAPHORE_GUARD(g);
	int rc = ringo_semaphore_guard_acquire(&g, &gsem);
	if (rc < 0)
		return rc;
	assert_int_equal(ringo_semaphore_guard_acquire(&g, &gsem), -EBUSY);
	if (early)
		return -EINVAL;
	return ringo_sleep(RINGO_MSEC(1));
}

static int sem_holder(void *arg, void **result)
{
	RINGO_SEMAPHORE_GUARD(g);
	assert_int_equal(ringo_semaphore_guard_acquire(&g, &gsem), 0);
	return ringo_sleep(RINGO_MSEC(10));
}

static int sem_guard_body(void *arg, void **result)
{
	/* Bounded: a release too many would be -EOVERFLOW and noticed. */
	ringo_semaphore_init_bounded(&gsem, 2);
	assert_int_equal(sem_guarded(false), 0);
	assert_int_equal(ringo_semaphore_value(&gsem), 2);
	assert_int_equal(sem_guarded(true), -EINVAL);
	assert_int_equal(ringo_semaphore_value(&gsem), 2);
	/* Both units taken by holders: a cancelled acquire gives nothing back. */
	ringo_task *h[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(ringo_spawn(ringo_loop_current(), sem_holder, NULL, NULL, &h[i]), 0);
	assert_int_equal(ringo_sleep(0), 0);
	assert_int_equal(ringo_semaphore_value(&gsem), 0);
	assert_int_equal(ringo_call_later(ringo_loop_current(), RINGO_MSEC(5), cancel_cb,
					  ringo_task_current(), NULL), 0);
	assert_int_equal(sem_guarded(false), -ECANCELED);
	assert_int_equal(ringo_semaphore_value(&gsem), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ringo_await(ringo_task_future(h[i]), NULL), 0);
		ringo_task_release(h[i]);
	}
	assert_int_equal(ringo_semaphore_value(&gsem), 2);
	assert_int_equal(ringo_semaphore_destroy(&gsem), 0);
	return 0;
}

static void test_semaphore_guard_returns_the_unit_on_every_return(void **state)
{
	assert_int_equal(run_main(sem_guard_body, NULL, -1), 0);
}

/* mode 0: early return before the deadline; 1: explicit exit after it
 * expired; 2: early return of the expiry's -ECANCELED. */
static int timeout_guarded(int mode)
{
	RINGO_TIMEOUT_GUARD(to);
	int rc = ringo_timeout_guard_enter(&to, RINGO_MSEC(10));
	if (rc < 0)
		return rc;
	assert_int_equal(ringo_timeout_guard_enter(&to, RINGO_MSEC(10)), -EBUSY);
	if (mode == 0)
		return 5;
	rc = ringo_sleep(RINGO_SEC(1));
	if (mode == 2 && rc < 0)
		return rc;
	return ringo_timeout_guard_exit(&to, rc);
}

static int timeout_guard_body(void *arg, void **result)
{
	ringo_task *self = ringo_task_current();
	assert_int_equal(timeout_guarded(0), 5);
	/* The scope was exited: its deadline no longer cancels us. */
	assert_int_equal(ringo_sleep(RINGO_MSEC(20)), 0);
	assert_int_equal(now(), RINGO_MSEC(20));
	assert_int_equal(timeout_guarded(1), -ETIMEDOUT);
	assert_int_equal(now(), RINGO_MSEC(30));
	assert_int_equal(ringo_task_cancelling(self), 0);
	assert_int_equal(timeout_guarded(2), -ECANCELED);
	/* Exited on that path too: its cancellation was taken back. */
	assert_int_equal(ringo_task_cancelling(self), 0);
	assert_int_equal(ringo_sleep(RINGO_MSEC(1)), 0);
	return 0;
}

static void test_timeout_guard_exits_the_scope_on_every_return(void **state)
{
	assert_int_equal(run_main(timeout_guard_body, NULL, -1), 0);
	/* Outside a task enter fails, and the guard then exits nothing. */
	RINGO_TIMEOUT_GUARD(to);
	assert_int_equal(ringo_timeout_guard_enter(&to, RINGO_MSEC(1)), -EPERM);
	assert_int_equal(ringo_timeout_guard_exit(&to, -EIO), -EIO);
}

static void test_int_ptr_round_trip(void **state)
{
	intptr_t vals[] = {0, 1, -1, -5, INT32_MAX, INT32_MIN, INTPTR_MAX, INTPTR_MIN};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		assert_true(RINGO_INT(RINGO_PTR(vals[i])) == vals[i]);
	assert_null(RINGO_PTR(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_results_in_argument_order_limit_honoured),
		cmocka_unit_test(test_map_concurrency_zero_runs_all_at_once),
		cmocka_unit_test(test_map_crawler_10000_items_100_at_a_time),
		cmocka_unit_test(test_map_first_failure_cancels_the_rest_and_waits),
		cmocka_unit_test(test_map_return_exceptions_runs_every_item),
		cmocka_unit_test(test_map_cancelling_the_caller_cancels_all_and_waits),
		cmocka_unit_test(test_map_cancel_after_a_wake_still_cancels_all),
		cmocka_unit_test(test_map_cancel_pending_at_the_call_starts_nothing),
		cmocka_unit_test(test_map_under_a_timeout_scope_times_out_cleanly),
		cmocka_unit_test(test_map_tasks_inherit_the_callers_context),
		cmocka_unit_test(test_map_edge_cases),
		cmocka_unit_test(test_map_out_of_memory_at_each_allocation),
		cmocka_unit_test(test_map_loop_closed_under_it_leaks_nothing),
		cmocka_unit_test(test_timeout_call_returns_fns_result_in_the_calling_task),
		cmocka_unit_test(test_timeout_call_expiry_is_etimedout),
		cmocka_unit_test(test_timeout_call_zero_succeeds_only_without_suspending),
		cmocka_unit_test(test_timeout_call_negative_is_no_limit),
		cmocka_unit_test(test_timeout_call_result_returned_after_the_deadline_is_kept),
		cmocka_unit_test(test_timeout_call_earlier_outer_scope_wins),
		cmocka_unit_test(test_timeout_call_outside_cancel_is_ecanceled_never_etimedout),
		cmocka_unit_test(test_timeout_call_errors),
		cmocka_unit_test(test_lock_guard_releases_on_every_return),
		cmocka_unit_test(test_lock_guard_failed_acquire_releases_nothing),
		cmocka_unit_test(test_semaphore_guard_returns_the_unit_on_every_return),
		cmocka_unit_test(test_timeout_guard_exits_the_scope_on_every_return),
		cmocka_unit_test(test_int_ptr_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
