/* Timeout scopes (asyncio.timeout / timeout_at), ported from CPython's
 * Lib/test/test_asyncio/test_timeouts.py, plus ringo's own cases. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support.h"

/* Positional initialisers below leave trailing fields zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static struct log g_log;

static int64_t now(void)
{
	return ringo_loop_time_ns(ringo_loop_current());
}

static int64_t now_s(void)
{
	return now() / RINGO_SEC(1);
}

static void cancel_cb(void *arg)
{
	ringo_task_cancel(arg, NULL);
}

/* Run fn as the main task of a fresh loop (virtual clock unless
 * real_clock), cancelled at cancel_at if >= 0; leak-checked. */
static int run_on(ringo_task_fn *fn, void *arg, int64_t cancel_at, bool real_clock)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, real_clock ? 0 : RINGO_LOOP_VIRTUAL_CLOCK);
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

static int run_main(ringo_task_fn *fn, void *arg, int64_t cancel_at)
{
	return run_on(fn, arg, cancel_at, false);
}

/* ---- the CPython cases ---- */

static int timeout_basic(void *arg, void **result)
{
	ringo_timeout cm;
	assert_int_equal(ringo_timeout_enter(&cm, RINGO_MSEC(10)), 0);
	int rc = ringo_sleep(RINGO_SEC(10));
	assert_int_equal(rc, -ECANCELED);
	assert_int_equal(ringo_timeout_exit(&cm, rc), -ETIMEDOUT);
	assert_true(ringo_timeout_expired(&cm));
	assert_int_equal(now(), RINGO_MSEC(10));
	return 0;
}

static void test_timeout_basic(void **state)
{
	assert_int_equal(run_main(timeout_basic, NULL, -1), 0);
}

static int timeout_at_basic(void *arg, void **result)
{
	ringo_timeout cm;
	int64_t deadline = now() + RINGO_MSEC(10);
	assert_int_equal(ringo_timeout_enter_at(&cm, deadline), 0);
	assert_int_equal(ringo_timeout_exit(&cm, ringo_sleep(RINGO_SEC(10))), -ETIMEDOUT);
	assert_true(ringo_timeout_expired(&cm));
	assert_int_equal(ringo_timeout_expires_at(&cm), deadline);
	return 0;
}

static void test_timeout_at_basic(void **state)
{
	assert_int_equal(run_main(timeout_at_basic, NULL, -1), 0);
}

static int nested_timeouts(void *arg, void **result)
{
	ringo_timeout cm1, cm2;
	int64_t deadline = now() + RINGO_MSEC(10);
	ringo_timeout_enter_at(&cm1, deadline);
	ringo_timeout_enter_at(&cm2, deadline);
	int rc = ringo_sleep(RINGO_SEC(10));
	/* Only the outermost scope reports the timeout. */
	rc = ringo_timeout_exit(&cm2, rc);
	assert_int_equal(rc, -ECANCELED);
	assert_int_equal(ringo_timeout_exit(&cm1, rc), -ETIMEDOUT);
	assert_true(ringo_timeout_expired(&cm1));
	assert_true(ringo_timeout_expired(&cm2));
	return 0;
}

static void test_nested_timeouts(void **state)
{
	assert_int_equal(run_main(nested_timeouts, NULL, -1), 0);
}

static int waiter_cancelled(void *arg, void **result)
{
	ringo_timeout cm;
	ringo_timeout_enter(&cm, RINGO_MSEC(10));
	int rc = ringo_sleep(RINGO_SEC(10));
	assert_int_equal(rc, -ECANCELED); /* the work sees the cancellation */
	assert_int_equal(ringo_timeout_exit(&cm, rc), -ETIMEDOUT);
	return 0;
}

static void test_waiter_cancelled(void **state)
{
	assert_int_equal(run_main(waiter_cancelled, NULL, -1), 0);
}

static int timeout_not_called(void *arg, void **result)
{
	ringo_timeout cm;
	ringo_timeout_enter(&cm, RINGO_SEC(10));
	assert_int_equal(ringo_timeout_exit(&cm, ringo_sleep(RINGO_MSEC(10))), 0);
	assert_false(ringo_timeout_expired(&cm));
	assert_true(ringo_timeout_expires_at(&cm) > now());
	/* Its timer is gone: nothing is left to cancel the task later. */
	assert_int_equal(ringo_sleep(RINGO_SEC(20)), 0);
	return 0;
}

static void test_timeout_not_called(void **state)
{
	assert_int_equal(run_main(timeout_not_called, NULL, -1), 0);
}

static int timeout_disabled(void *arg, void **result)
{
	ringo_timeout cm;
	if (arg)
		ringo_timeout_enter_at(&cm, RINGO_FOREVER);
	else
		ringo_timeout_enter(&cm, RINGO_FOREVER);
	assert_int_equal(ringo_timeout_exit(&cm, ringo_sleep(RINGO_MSEC(10))), 0);
	assert_false(ringo_timeout_expired(&cm));
	assert_int_equal(ringo_timeout_expires_at(&cm), RINGO_FOREVER);
	return 0;
}

static void test_timeout_disabled(void **state)
{
	assert_int_equal(run_main(timeout_disabled, NULL, -1), 0);
}

static void test_timeout_at_disabled(void **state)
{
	assert_int_equal(run_main(timeout_disabled, "at", -1), 0);
}

static int timeout_zero(void *arg, void **result)
{
	int64_t delay = *(int64_t *)arg;
	int64_t work = ((int64_t *)arg)[1];
	ringo_timeout cm;
	int64_t t0 = now();
	/* A negative timeout_ns means no limit: a time in the past is given
	 * as an absolute one. */
	if (delay >= 0)
		ringo_timeout_enter(&cm, delay);
	else
		ringo_timeout_enter_at(&cm, t0 + delay);
	assert_int_equal(ringo_timeout_exit(&cm, ringo_sleep(work)), -ETIMEDOUT);
	int64_t t1 = now();
	assert_true(ringo_timeout_expired(&cm));
	if (delay >= 0)
		assert_true(t0 <= ringo_timeout_expires_at(&cm) && ringo_timeout_expires_at(&cm) <= t1);
	else
		assert_true(ringo_timeout_expires_at(&cm) < t0);
	assert_int_equal(t1, t0); /* expired at once, no time passed */
	return 0;
}

static void test_timeout_zero(void **state)
{
	int64_t args[2] = {0, RINGO_SEC(10)};
	assert_int_equal(run_main(timeout_zero, args, -1), 0);
}

static void test_timeout_zero_sleep_zero(void **state)
{
	int64_t args[2] = {0, 0};
	assert_int_equal(run_main(timeout_zero, args, -1), 0);
}

static int timeout_in_the_past(void *arg, void **result)
{
	ringo_sleep(RINGO_SEC(20)); /* so that now - 11 s is a valid time */
	int64_t args[2] = {-RINGO_SEC(11), 0};
	return timeout_zero(args, result);
}

static void test_timeout_in_the_past_sleep_zero(void **state)
{
	assert_int_equal(run_main(timeout_in_the_past, NULL, -1), 0);
}

static int foreign_exception_passed(void *arg, void **result)
{
	ringo_timeout cm;
	ringo_timeout_enter(&cm, RINGO_MSEC(10));
	assert_int_equal(ringo_timeout_exit(&cm, -ENOKEY), -ENOKEY);
	assert_false(ringo_timeout_expired(&cm));
	return 0;
}

static void test_foreign_exception_passed(void **state)
{
	assert_int_equal(run_main(foreign_exception_passed, NULL, -1), 0);
}

static int crash(void)
{
	ringo_sleep(RINGO_SEC(1));
	return -EDOM; /* "finally: 1/0" */
}

static int foreign_exception_on_timeout(void *arg, void **result)
{
	ringo_timeout cm;
	ringo_timeout_enter(&cm, RINGO_MSEC(10));
	/* An error raised while handling the cancellation wins over it. */
	assert_int_equal(ringo_timeout_exit(&cm, crash()), -EDOM);
	assert_true(ringo_timeout_expired(&cm));
	return 0;
}

static void test_foreign_exception_on_timeout(void **state)
{
	assert_int_equal(run_main(foreign_exception_on_timeout, NULL, -1), 0);
}

static int foreign_cancel(void *arg, void **result)
{
	ringo_timeout cm;
	ringo_timeout_enter(&cm, RINGO_SEC(10));
	ringo_task_cancel(ringo_task_current(), NULL);
	int rc = ringo_timeout_exit(&cm, ringo_sleep(RINGO_SEC(10)));
	assert_false(ringo_timeout_expired(&cm));
	return rc;
}

static void test_foreign_cancel_doesnt_timeout_if_not_expired(void **state)
{
	assert_int_equal(run_main(foreign_cancel, NULL, -1), -ECANCELED);
}

static int outer_task(void *arg, void **result)
{
	ringo_timeout cm;
	ringo_timeout_enter(&cm, RINGO_MSEC(1));
	assert_int_equal(ringo_timeout_exit(&cm, ringo_sleep(RINGO_SEC(10))), -ETIMEDOUT);
	return 0;
}

static int outer_task_is_not_cancelled(void *arg, void **result)
{
	ringo_task *t;
	ringo_spawn(ringo_loop_current(), outer_task, NULL, NULL, &t);
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), 0);
	assert_false(ringo_future_cancelled(ringo_task_future(t)));
	assert_true(ringo_future_done(ringo_task_future(t)));
	assert_int_equal(ringo_task_cancelling(t), 0);
	ringo_task_release(t);
	return 0;
}

static void test_outer_task_is_not_cancelled(void **state)
{
	assert_int_equal(run_main(outer_task_is_not_cancelled, NULL, -1), 0);
}

static void busy_ns(int64_t ns)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000000000 + (t.tv_nsec - t0.tv_nsec) < ns);
}

static int nested_concurrent(void *arg, void **result)
{
	ringo_timeout outer, inner;
	ringo_timeout_enter(&outer, RINGO_MSEC(2));
	ringo_timeout_enter(&inner, RINGO_SEC(100));
	busy_ns(RINGO_MSEC(10)); /* crunch numbers past the outer deadline */
	int rc = ringo_sleep(RINGO_SEC(1));
	/* Only the outer one expired: the inner passes the cancellation. */
	rc = ringo_timeout_exit(&inner, rc);
	assert_int_equal(rc, -ECANCELED);
	assert_false(ringo_timeout_expired(&inner));
	assert_int_equal(ringo_timeout_exit(&outer, rc), -ETIMEDOUT);
	return 0;
}

static void test_nested_timeouts_concurrent(void **state)
{
	/* Real clock: the work runs past a deadline without suspending. The
	 * outcome depends only on order (busy 10 ms > 2 ms), never on speed. */
	assert_int_equal(run_on(nested_concurrent, NULL, -1, true), 0);
}

static int nested_loop_busy(void *arg, void **result)
{
	ringo_timeout outer, inner;
	ringo_timeout_enter(&outer, RINGO_MSEC(20));
	ringo_timeout_enter(&inner, RINGO_MSEC(2));
	busy_ns(RINGO_MSEC(25)); /* both deadlines pass while the loop is busy */
	int rc = ringo_sleep(RINGO_SEC(1));
	/* Both fire in the same iteration, inner first: the inner sees the
	 * outer's request still pending and passes the cancellation on. */
	rc = ringo_timeout_exit(&inner, rc);
	assert_true(ringo_timeout_expired(&inner));
	assert_int_equal(rc, -ECANCELED);
	assert_int_equal(ringo_timeout_exit(&outer, rc), -ETIMEDOUT);
	assert_int_equal(ringo_task_cancelling(ringo_task_current()), 0);
	return 0;
}

static void test_nested_timeouts_loop_busy(void **state)
{
	assert_int_equal(run_on(nested_loop_busy, NULL, -1, true), 0);
}

struct resched {
	ringo_timeout *cm;
	ringo_future *ready;
};

static int resched_body(void *arg, void **result)
{
	struct resched *r = arg;
	ringo_timeout cm;
	ringo_timeout_enter_at(&cm, now() + RINGO_SEC(10));
	r->cm = &cm;
	ringo_future_set_result(r->ready, NULL);
	int rc = ringo_timeout_exit(&cm, ringo_sleep(RINGO_SEC(50)));
	assert_false(ringo_timeout_expired(&cm));
	return rc;
}

static int reschedule(void *arg, void **result)
{
	struct resched r = {0};
	ringo_future_new(ringo_loop_current(), &r.ready);
	int64_t deadline1 = now() + RINGO_SEC(10), deadline2 = deadline1 + RINGO_SEC(20);
	ringo_task *t;
	ringo_spawn(ringo_loop_current(), resched_body, &r, NULL, &t);
	ringo_await(r.ready, NULL);
	assert_int_equal(ringo_timeout_expires_at(r.cm), deadline1);
	assert_int_equal(ringo_timeout_reschedule_at(r.cm, deadline2), 0);
	assert_int_equal(ringo_timeout_expires_at(r.cm), deadline2);
	assert_int_equal(ringo_timeout_reschedule(r.cm, RINGO_FOREVER), 0);
	assert_int_equal(ringo_timeout_expires_at(r.cm), RINGO_FOREVER);
	ringo_task_cancel(t, NULL);
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), -ECANCELED);
	ringo_task_release(t);
	ringo_future_release(r.ready);
	return 0;
}

static void test_reschedule(void **state)
{
	assert_int_equal(run_main(reschedule, NULL, -1), 0);
}

static int nested_timeout_in_finally(void *arg, void **result)
{
	ringo_timeout outer, inner;
	ringo_timeout_enter(&outer, RINGO_MSEC(10));
	int rc = ringo_sleep(RINGO_SEC(1));
	assert_int_equal(rc, -ECANCELED);
	/* "finally:" cleanup under a timeout of its own. */
	ringo_timeout_enter(&inner, RINGO_MSEC(10));
	assert_int_equal(ringo_timeout_exit(&inner, ringo_sleep(RINGO_SEC(10))), -ETIMEDOUT);
	assert_int_equal(ringo_timeout_exit(&outer, rc), -ETIMEDOUT);
	assert_int_equal(now(), RINGO_MSEC(20));
	return 0;
}

static void test_nested_timeout_in_finally(void **state)
{
	assert_int_equal(run_main(nested_timeout_in_finally, NULL, -1), 0);
}

static int timeout_after_cancellation(void *arg, void **result)
{
	ringo_task_cancel(ringo_task_current(), NULL);
	assert_int_equal(ringo_sleep(RINGO_SEC(1)), -ECANCELED); /* caught */
	ringo_timeout cm;
	ringo_timeout_enter(&cm, 0);
	assert_int_equal(ringo_timeout_exit(&cm, ringo_sleep(RINGO_SEC(1))), -ETIMEDOUT);
	return 0;
}

static void test_timeout_after_cancellation(void **state)
{
	assert_int_equal(run_main(timeout_after_cancellation, NULL, -1), 0);
}

static int cancel_in_timeout_after_cancellation(void *arg, void **result)
{
	ringo_task_cancel(ringo_task_current(), NULL);
	assert_int_equal(ringo_sleep(RINGO_SEC(1)), -ECANCELED); /* caught */
	ringo_timeout cm;
	ringo_timeout_enter(&cm, RINGO_SEC(1));
	ringo_task_cancel(ringo_task_current(), NULL);
	assert_int_equal(ringo_timeout_exit(&cm, ringo_sleep(RINGO_SEC(2))), -ECANCELED);
	return 0;
}

static void test_cancel_in_timeout_after_cancellation(void **state)
{
	assert_int_equal(run_main(cancel_in_timeout_after_cancellation, NULL, -1), 0);
}

static int timeout_finished(void *arg, void **result)
{
	ringo_timeout cm;
	ringo_timeout_enter(&cm, RINGO_MSEC(10));
	assert_int_equal(ringo_timeout_exit(&cm, 0), 0);
	assert_int_equal(ringo_timeout_reschedule(&cm, RINGO_MSEC(20)), -EINVAL);
	assert_int_equal(ringo_timeout_exit(&cm, 0), -EINVAL);
	return 0;
}

static void test_timeout_finished(void **state)
{
	assert_int_equal(run_main(timeout_finished, NULL, -1), 0);
}

static int timeout_not_entered(void *arg, void **result)
{
	ringo_timeout cm = {0}; /* a zeroed scope reads as not entered */
	assert_int_equal(ringo_timeout_reschedule(&cm, RINGO_MSEC(20)), -EINVAL);
	assert_int_equal(ringo_timeout_exit(&cm, 0), -EINVAL);
	assert_false(ringo_timeout_expired(&cm));
	return 0;
}

static void test_timeout_not_entered(void **state)
{
	assert_int_equal(run_main(timeout_not_entered, NULL, -1), 0);
}

static void test_timeout_without_task(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_timeout cm;
	memset(&cm, 0xa5, sizeof(cm)); /* whatever was there before */
	assert_int_equal(ringo_timeout_enter(&cm, RINGO_MSEC(10)), -EPERM);
	assert_int_equal(ringo_timeout_reschedule(&cm, RINGO_MSEC(20)), -EINVAL);
	assert_int_equal(ringo_timeout_exit(&cm, 0), -EINVAL);
	assert_int_equal(ringo_timeout_enter_at(NULL, 0), -EINVAL);
	assert_int_equal(ringo_timeout_expires_at(NULL), RINGO_FOREVER);
	assert_false(ringo_timeout_expired(NULL));
	test_loop_free(loop, &ca);
}

/* ---- ringo's own cases ---- */

struct to_case {
	int64_t delay;      /* scope delay */
	int64_t work;       /* sleep inside */
	int64_t resched;    /* if > 0: reschedule to now + this first */
	int rc;
	bool expired;
	int cancelling_after;
	int after_sleep;
};

static int timeout_main(void *arg, void **result)
{
	struct to_case *c = arg;
	ringo_timeout to;
	assert_int_equal(ringo_timeout_enter(&to, c->delay), 0);
	if (c->resched)
		ringo_timeout_reschedule(&to, c->resched);
	int rc = ringo_sleep(c->work);
	c->rc = ringo_timeout_exit(&to, rc);
	c->expired = ringo_timeout_expired(&to);
	log_add(&g_log, "exit=%d@%lld", c->rc, (long long)now_s());
	c->cancelling_after = ringo_task_cancelling(ringo_task_current());
	c->after_sleep = ringo_sleep(0);
	return 0;
}

static void test_timeout_scope_expiry_becomes_etimedout(void **state)
{
	struct to_case c = {RINGO_SEC(1), RINGO_SEC(5)};
	run_main(timeout_main, &c, -1);
	assert_int_equal(c.rc, -ETIMEDOUT);
	assert_true(c.expired);
	assert_string_equal(g_log.buf, "exit=-110@1");
	assert_int_equal(c.cancelling_after, 0);
	assert_int_equal(c.after_sleep, 0);
}

static void test_timeout_scope_not_reached_changes_nothing(void **state)
{
	struct to_case c = {RINGO_SEC(5), RINGO_SEC(1)};
	run_main(timeout_main, &c, -1);
	assert_int_equal(c.rc, 0);
	assert_false(c.expired);
}

static void test_timeout_reschedule_moves_the_deadline(void **state)
{
	struct to_case c = {RINGO_SEC(1), RINGO_SEC(5), RINGO_SEC(3)};
	run_main(timeout_main, &c, -1);
	assert_int_equal(c.rc, -ETIMEDOUT);
	assert_string_equal(g_log.buf, "exit=-110@3");
}

static void test_timeout_without_deadline_never_fires(void **state)
{
	struct to_case c = {RINGO_FOREVER, RINGO_SEC(5)};
	run_main(timeout_main, &c, -1);
	assert_int_equal(c.rc, 0);
}

static void test_outer_cancel_in_the_expiry_iteration_is_not_swallowed(void **state)
{
	/* The scope fires at 1 s and an outside cancel() comes in the same
	 * iteration: exit must report the cancellation, not a timeout. */
	struct to_case c = {RINGO_SEC(1), RINGO_SEC(5)};
	run_main(timeout_main, &c, RINGO_SEC(1));
	assert_int_equal(c.rc, -ECANCELED);
	assert_int_equal(c.cancelling_after, 1);
}

static int nested_main(void *arg, void **result)
{
	int *rcs = arg;
	ringo_timeout outer, inner;
	ringo_timeout_enter(&outer, RINGO_SEC(1));
	ringo_timeout_enter(&inner, RINGO_SEC(5));
	int rc = ringo_sleep(RINGO_SEC(10));
	rcs[0] = ringo_timeout_exit(&inner, rc);
	rcs[1] = ringo_timeout_exit(&outer, rcs[0]);
	/* A scope is plain storage: entered again after its exit. Inner
	 * expires first now: only the inner reports a timeout. */
	ringo_timeout_enter(&outer, RINGO_SEC(5));
	ringo_timeout_enter(&inner, RINGO_SEC(1));
	rc = ringo_sleep(RINGO_SEC(10));
	rcs[2] = ringo_timeout_exit(&inner, rc);
	rcs[3] = ringo_timeout_exit(&outer, rcs[2]);
	return 0;
}

static void test_nested_scopes_report_the_one_that_expired(void **state)
{
	int rcs[4];
	run_main(nested_main, rcs, -1);
	assert_int_equal(rcs[0], -ECANCELED); /* outer's cancellation passes */
	assert_int_equal(rcs[1], -ETIMEDOUT);
	assert_int_equal(rcs[2], -ETIMEDOUT);
	assert_int_equal(rcs[3], -ETIMEDOUT);
}

static int result_wins_main(void *arg, void **result)
{
	int *out = arg;
	ringo_timeout to;
	ringo_timeout_enter(&to, RINGO_SEC(1));
	/* The deadline passes while the work finishes without suspending. */
	ringo_sleep(RINGO_SEC(1));
	out[0] = ringo_timeout_exit(&to, 42);
	out[1] = ringo_timeout_expired(&to);
	out[2] = ringo_sleep(0); /* the scope's cancellation was taken back */
	return 0;
}

static void test_timeout_result_in_the_expiry_iteration_wins(void **state)
{
	int out[3];
	run_main(result_wins_main, out, -1);
	/* The sleep's timer was registered after the scope's: the scope fired
	 * first and the sleep returned -ECANCELED; the work chose to return
	 * a result anyway, and that wins. */
	assert_int_equal(out[0], 42);
	assert_int_equal(out[1], 1);
	assert_int_equal(out[2], 0);
}

static int other_task_exits(void *arg, void **result)
{
	return ringo_timeout_exit(arg, 0);
}

static int exit_from_another_task(void *arg, void **result)
{
	ringo_timeout cm;
	ringo_timeout_enter(&cm, RINGO_SEC(1));
	ringo_task *t;
	ringo_spawn(ringo_loop_current(), other_task_exits, &cm, NULL, &t);
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), -EPERM);
	ringo_task_release(t);
	assert_int_equal(ringo_timeout_exit(&cm, 0), 0);
	return 0;
}

static void test_timeout_exit_from_another_task_is_eperm(void **state)
{
	assert_int_equal(run_main(exit_from_another_task, NULL, -1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timeout_basic),
		cmocka_unit_test(test_timeout_at_basic),
		cmocka_unit_test(test_nested_timeouts),
		cmocka_unit_test(test_waiter_cancelled),
		cmocka_unit_test(test_timeout_not_called),
		cmocka_unit_test(test_timeout_disabled),
		cmocka_unit_test(test_timeout_at_disabled),
		cmocka_unit_test(test_timeout_zero),
		cmocka_unit_test(test_timeout_zero_sleep_zero),
		cmocka_unit_test(test_timeout_in_the_past_sleep_zero),
		cmocka_unit_test(test_foreign_exception_passed),
		cmocka_unit_test(test_foreign_exception_on_timeout),
		cmocka_unit_test(test_foreign_cancel_doesnt_timeout_if_not_expired),
		cmocka_unit_test(test_outer_task_is_not_cancelled),
		cmocka_unit_test(test_nested_timeouts_concurrent),
		cmocka_unit_test(test_nested_timeouts_loop_busy),
		cmocka_unit_test(test_reschedule),
		cmocka_unit_test(test_nested_timeout_in_finally),
		cmocka_unit_test(test_timeout_after_cancellation),
		cmocka_unit_test(test_cancel_in_timeout_after_cancellation),
		cmocka_unit_test(test_timeout_finished),
		cmocka_unit_test(test_timeout_not_entered),
		cmocka_unit_test(test_timeout_without_task),
		cmocka_unit_test(test_timeout_scope_expiry_becomes_etimedout),
		cmocka_unit_test(test_timeout_scope_not_reached_changes_nothing),
		cmocka_unit_test(test_timeout_reschedule_moves_the_deadline),
		cmocka_unit_test(test_timeout_without_deadline_never_fires),
		cmocka_unit_test(test_outer_cancel_in_the_expiry_iteration_is_not_swallowed),
		cmocka_unit_test(test_nested_scopes_report_the_one_that_expired),
		cmocka_unit_test(test_timeout_result_in_the_expiry_iteration_wins),
		cmocka_unit_test(test_timeout_exit_from_another_task_is_eperm),
	};
	/* RINGO_TEST_FILTER=pattern runs only the matching tests. */
	if (getenv("RINGO_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RINGO_TEST_FILTER"));
	return cmocka_run_group_tests_name("timeout", tests, NULL, NULL);
}
