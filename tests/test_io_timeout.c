/* Time limits on I/O: ringo_io_timeout (the next operation only, a linked
 * timeout, -ETIMEDOUT) and timeout scopes around I/O (the operation is
 * cancelled at the deadline, -ECANCELED, and the scope's exit gives
 * -ETIMEDOUT), with buffer safety either way. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support.h"

/* After a failed recv into buf: data sent now must not land in buf. */
static void expect_buf_untouched(int sv[2], char *buf, size_t len)
{
	assert_int_equal(send(sv[0], "late", 4, 0), 4);
	ringo_sleep(0);
	ringo_sleep(0);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(buf[i], 'A');
}

static int op_timeout_body(void *arg, void **result)
{
	int sv[2];
	fx_socketpair(sv);
	char buf[16];
	memset(buf, 'A', sizeof(buf));
	assert_int_equal(ringo_io_timeout(RINGO_MSEC(20)), 0);
	assert_int_equal(ringo_recv(sv[1], buf, sizeof(buf), 0), -ETIMEDOUT);
	expect_buf_untouched(sv, buf, sizeof(buf));
	/* The timeout was for that op only: the next one waits and gets it. */
	assert_int_equal(ringo_recv(sv[1], buf, sizeof(buf), 0), 4);
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_io_timeout_times_out_and_applies_once(void **state)
{
	assert_int_equal(fx_run_task(op_timeout_body, NULL), 0);
}

static int op_in_time_body(void *arg, void **result)
{
	int sv[2];
	fx_socketpair(sv);
	assert_int_equal(send(sv[0], "now", 3, 0), 3);
	char buf[8];
	assert_int_equal(ringo_io_timeout(RINGO_SEC(30)), 0);
	assert_int_equal(ringo_recv(sv[1], buf, sizeof(buf), 0), 3);
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_io_timeout_op_completing_in_time_returns_its_result(void **state)
{
	assert_int_equal(fx_run_task(op_in_time_body, NULL), 0);
}

static int zero_body(void *arg, void **result)
{
	int sv[2];
	fx_socketpair(sv);
	char buf[8];
	memset(buf, 'A', sizeof(buf));
	/* Nothing to read (and nobody will send): tried once, not waited
	 * for, or this would hang. */
	assert_int_equal(ringo_io_timeout(0), 0);
	assert_int_equal(ringo_recv(sv[1], buf, sizeof(buf), 0), -ETIMEDOUT);
	expect_buf_untouched(sv, buf, sizeof(buf));
	/* Something to read: it completes at once, so it succeeds. */
	assert_int_equal(ringo_io_timeout(0), 0);
	assert_int_equal(ringo_recv(sv[1], buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "late", 4);
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_io_timeout_zero_succeeds_only_without_waiting(void **state)
{
	assert_int_equal(fx_run_task(zero_body, NULL), 0);
}

static int send_later(void *arg, void **result)
{
	ringo_sleep(RINGO_MSEC(40));
	return send(*(int *)arg, "ping", 4, 0) == 4 ? 0 : -EIO;
}

static int cleared_body(void *arg, void **result)
{
	int sv[2];
	fx_socketpair(sv);
	ringo_task *t;
	assert_int_equal(ringo_spawn(ringo_loop_current(), send_later, &sv[0], NULL, &t), 0);
	assert_int_equal(ringo_io_timeout(RINGO_MSEC(1)), 0);
	assert_int_equal(ringo_io_timeout(RINGO_FOREVER), 0); /* cleared */
	char buf[8];
	assert_int_equal(ringo_recv(sv[1], buf, sizeof(buf), 0), 4);
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), 0);
	ringo_task_release(t);
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_io_timeout_negative_clears_it(void **state)
{
	assert_int_equal(fx_run_task(cleared_body, NULL), 0);
}

/* The scope cases of the deadline scopes that timeout scopes replaced:
 * nested, an inner one cannot extend an outer one, which one fired, and
 * the operation cancelled at the deadline keeps buffer safety. */
static int scope_body(void *arg, void **result)
{
	int sv[2];
	fx_socketpair(sv);
	ringo_timeout outer, inner;
	assert_int_equal(ringo_timeout_enter(&outer, RINGO_MSEC(30)), 0);
	/* Before the deadline, ops inside the scope work. */
	assert_int_equal(ringo_send(sv[0], "a", 1, 0), 1);
	char buf[4];
	assert_int_equal(ringo_recv(sv[1], buf, sizeof(buf), 0), 1);
	/* An inner scope cannot extend the outer one. */
	assert_int_equal(ringo_timeout_enter(&inner, RINGO_SEC(60)), 0);
	memset(buf, 'A', sizeof(buf));
	int rc = ringo_recv(sv[1], buf, sizeof(buf), 0);
	assert_int_equal(rc, -ECANCELED);
	expect_buf_untouched(sv, buf, sizeof(buf));
	/* Only the scope that fired turns the cancellation into a timeout. */
	rc = ringo_timeout_exit(&inner, rc);
	assert_int_equal(rc, -ECANCELED);
	assert_false(ringo_timeout_expired(&inner));
	assert_true(ringo_timeout_expired(&outer));
	assert_int_equal(ringo_timeout_exit(&outer, rc), -ETIMEDOUT);
	/* Out of the scope: no limit, and the "late" bytes are there. */
	assert_int_equal(ringo_recv(sv[1], buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "late", 4);
	assert_int_equal(ringo_send(sv[0], "c", 1, 0), 1);
	assert_int_equal(ringo_recv(sv[1], buf, sizeof(buf), 0), 1);
	assert_int_equal(buf[0], 'c');
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_scope_cancels_io_at_its_deadline_and_outer_reports_it(void **state)
{
	assert_int_equal(fx_run_task(scope_body, NULL), 0);
}

static int inner_short_body(void *arg, void **result)
{
	int sv[2];
	fx_socketpair(sv);
	ringo_timeout outer, inner;
	ringo_timeout_enter(&outer, RINGO_SEC(60));
	ringo_timeout_enter(&inner, RINGO_MSEC(10));
	char buf[4];
	int rc = ringo_recv(sv[1], buf, sizeof(buf), 0);
	assert_int_equal(ringo_timeout_exit(&inner, rc), -ETIMEDOUT);
	assert_true(ringo_timeout_expired(&inner));
	assert_false(ringo_timeout_expired(&outer));
	/* The outer one is far away: the op waits for data. */
	send(sv[0], "x", 1, 0);
	rc = ringo_recv(sv[1], buf, sizeof(buf), 0);
	assert_int_equal(ringo_timeout_exit(&outer, rc), 1);
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_inner_scope_shortens_and_outer_stays(void **state)
{
	assert_int_equal(fx_run_task(inner_short_body, NULL), 0);
}

static int op_timeout_in_scope_body(void *arg, void **result)
{
	int sv[2];
	fx_socketpair(sv);
	ringo_timeout scope;
	ringo_timeout_enter(&scope, RINGO_SEC(60));
	char buf[4];
	/* The one-operation timeout comes first: -ETIMEDOUT directly, and the
	 * scope has nothing to convert. */
	ringo_io_timeout(RINGO_MSEC(10));
	int rc = ringo_recv(sv[1], buf, sizeof(buf), 0);
	assert_int_equal(rc, -ETIMEDOUT);
	assert_int_equal(ringo_timeout_exit(&scope, rc), -ETIMEDOUT);
	assert_false(ringo_timeout_expired(&scope));
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_io_timeout_inside_a_scope_fires_first(void **state)
{
	assert_int_equal(fx_run_task(op_timeout_in_scope_body, NULL), 0);
}

struct cancel_arg {
	int fd;
	int rc;
};

static int blocked_with_timeout(void *arg, void **result)
{
	struct cancel_arg *a = arg;
	char buf[4];
	ringo_io_timeout(RINGO_SEC(60));
	a->rc = ringo_recv(a->fd, buf, sizeof(buf), 0);
	return 0;
}

static int cancel_wins_body(void *arg, void **result)
{
	int sv[2];
	fx_socketpair(sv);
	struct cancel_arg a = {sv[1], 1};
	ringo_task *t;
	ringo_spawn(ringo_loop_current(), blocked_with_timeout, &a, NULL, &t);
	ringo_sleep(0);
	ringo_sleep(0);
	ringo_task_cancel(t, NULL);
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), 0);
	assert_int_equal(a.rc, -ECANCELED);
	ringo_task_release(t);
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_cancel_of_op_with_io_timeout_gives_ecanceled(void **state)
{
	assert_int_equal(fx_run_task(cancel_wins_body, NULL), 0);
}

static void test_io_timeout_outside_task_is_eperm(void **state)
{
	assert_int_equal(ringo_io_timeout(1), -EPERM);
	assert_int_equal(ringo_io_timeout(RINGO_FOREVER), -EPERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_io_timeout_times_out_and_applies_once, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_io_timeout_op_completing_in_time_returns_its_result, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_io_timeout_zero_succeeds_only_without_waiting, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_io_timeout_negative_clears_it, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_scope_cancels_io_at_its_deadline_and_outer_reports_it, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_inner_scope_shortens_and_outer_stays, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_io_timeout_inside_a_scope_fires_first, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cancel_of_op_with_io_timeout_gives_ecanceled, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_io_timeout_outside_task_is_eperm, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
