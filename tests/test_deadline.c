/* Deadlines: per-operation and task scopes, -ETIMEDOUT, buffer safety. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support.h"

static int op_deadline_body(void *arg, void **result)
{
	int sv[2];
	fx_socketpair(sv);
	char buf[16];
	memset(buf, 'A', sizeof(buf));
	assert_int_equal(ringo_io_timeout(RINGO_MSEC(20)), 0);
	assert_int_equal(ringo_recv(sv[1], buf, sizeof(buf), 0), -ETIMEDOUT);
	/* The op is over: data sent now does not land in buf. */
	assert_int_equal(send(sv[0], "late", 4, 0), 4);
	ringo_sleep(0);
	ringo_sleep(0);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 'A');
	/* The deadline was for that op only: the next one waits and gets it. */
	assert_int_equal(ringo_recv(sv[1], buf, sizeof(buf), 0), 4);
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_op_deadline_times_out_and_applies_once(void **state)
{
	assert_int_equal(fx_run_task(op_deadline_body, NULL), 0);
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

static void test_op_completing_before_deadline_returns_its_result(void **state)
{
	assert_int_equal(fx_run_task(op_in_time_body, NULL), 0);
}

static int passed_body(void *arg, void **result)
{
	int sv[2];
	fx_socketpair(sv);
	/* Already passed: fails at once, nothing submitted (it would block). */
	assert_int_equal(ringo_io_deadline(1), 0);
	char buf[4];
	assert_int_equal(ringo_recv(sv[1], buf, sizeof(buf), 0), -ETIMEDOUT);
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_passed_deadline_fails_without_waiting(void **state)
{
	assert_int_equal(fx_run_task(passed_body, NULL), 0);
}

static int scope_body(void *arg, void **result)
{
	int sv[2];
	fx_socketpair(sv);
	ringo_loop *loop = ringo_loop_current();
	ringo_deadline outer, inner;
	assert_int_equal(ringo_deadline_push(&outer, ringo_loop_time_ns(loop) + RINGO_MSEC(30)), 0);
	/* Before the deadline, ops inside the scope work. */
	assert_int_equal(ringo_send(sv[0], "a", 1, 0), 1);
	char buf[4];
	assert_int_equal(ringo_recv(sv[1], buf, sizeof(buf), 0), 1);
	/* An inner scope cannot extend the outer one. */
	assert_int_equal(ringo_deadline_push(&inner, ringo_loop_time_ns(loop) + RINGO_SEC(60)), 0);
	assert_int_equal(ringo_recv(sv[1], buf, sizeof(buf), 0), -ETIMEDOUT);
	ringo_deadline_pop(&inner);
	assert_true(ringo_deadline_expired(&outer));
	assert_false(ringo_deadline_expired(&inner));
	/* Every op inside the scope now fails. */
	assert_int_equal(ringo_send(sv[0], "b", 1, 0), -ETIMEDOUT);
	ringo_deadline_pop(&outer);
	/* Out of the scope: no deadline. */
	assert_int_equal(ringo_send(sv[0], "c", 1, 0), 1);
	assert_int_equal(ringo_recv(sv[1], buf, sizeof(buf), 0), 1);
	assert_int_equal(buf[0], 'c');
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_scope_fails_every_op_once_passed(void **state)
{
	assert_int_equal(fx_run_task(scope_body, NULL), 0);
}

static int inner_short_body(void *arg, void **result)
{
	int sv[2];
	fx_socketpair(sv);
	ringo_loop *loop = ringo_loop_current();
	ringo_deadline outer, inner;
	ringo_deadline_push(&outer, ringo_loop_time_ns(loop) + RINGO_SEC(60));
	ringo_deadline_push(&inner, ringo_loop_time_ns(loop) + RINGO_MSEC(10));
	char buf[4];
	assert_int_equal(ringo_recv(sv[1], buf, sizeof(buf), 0), -ETIMEDOUT);
	assert_true(ringo_deadline_expired(&inner));
	assert_false(ringo_deadline_expired(&outer));
	ringo_deadline_pop(&inner);
	/* The outer one is far away: the op waits for data. */
	send(sv[0], "x", 1, 0);
	assert_int_equal(ringo_recv(sv[1], buf, sizeof(buf), 0), 1);
	ringo_deadline_pop(&outer);
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_inner_scope_shortens_and_pop_restores(void **state)
{
	assert_int_equal(fx_run_task(inner_short_body, NULL), 0);
}

struct cancel_arg {
	int fd;
	int rc;
};

static int blocked_with_deadline(void *arg, void **result)
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
	ringo_spawn(ringo_loop_current(), blocked_with_deadline, &a, NULL, &t);
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

static void test_cancel_of_op_with_deadline_gives_ecanceled(void **state)
{
	assert_int_equal(fx_run_task(cancel_wins_body, NULL), 0);
}

static void test_deadline_api_outside_task(void **state)
{
	ringo_deadline d;
	assert_int_equal(ringo_deadline_push(&d, 1), -EPERM);
	assert_int_equal(ringo_deadline_push(NULL, 1), -EINVAL);
	assert_int_equal(ringo_io_timeout(1), -EPERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_op_deadline_times_out_and_applies_once, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_op_completing_before_deadline_returns_its_result, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_passed_deadline_fails_without_waiting, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_scope_fails_every_op_once_passed, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_inner_scope_shortens_and_pop_restores, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cancel_of_op_with_deadline_gives_ecanceled, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_deadline_api_outside_task, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
