/* I/O operations interrupted in the kernel: what a cancelled or timed-out
 * operation returns when a kernel worker was running it (io-wq), not only
 * when it was waiting for readiness. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "support.h"

struct blocked_splice {
	int in[2], out[2];
	int rc;
	int64_t deadline;
};

/* splice from an empty pipe: io_uring runs it on a worker thread, which
 * blocks in the pipe until data comes or the worker is interrupted. */
static int splice_body(void *arg, void **result)
{
	struct blocked_splice *b = arg;
	ringo_timeout to;
	if (b->deadline)
		ringo_timeout_enter(&to, b->deadline);
	b->rc = ringo_splice(b->in[0], -1, b->out[1], -1, 4096, 0);
	if (b->deadline)
		b->rc = ringo_timeout_exit(&to, b->rc);
	return 0;
}

static void open_pipes(struct blocked_splice *b)
{
	assert_int_equal(pipe2(b->in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(b->out, O_CLOEXEC), 0);
}

static void close_pipes(struct blocked_splice *b)
{
	for (int i = 0; i < 2; i++) {
		close(b->in[i]);
		close(b->out[i]);
	}
}

static int cancel_splice_body(void *arg, void **result)
{
	struct blocked_splice b = {.rc = 1};
	open_pipes(&b);
	ringo_task *t;
	assert_int_equal(ringo_spawn(ringo_loop_current(), splice_body, &b, NULL, &t), 0);
	/* Long enough for the worker to block in the pipe. */
	ringo_sleep(RINGO_MSEC(20));
	assert_true(ringo_task_cancel(t, NULL));
	ringo_await(ringo_task_future(t), NULL);
	ringo_task_release(t);
	/* Not the kernel's internal -ERESTARTSYS (-512), nor -EINTR. */
	assert_int_equal(b.rc, -ECANCELED);
	/* Nothing moved: what comes next is still there to splice. */
	assert_int_equal(write(b.in[1], "abc", 3), 3);
	assert_int_equal(ringo_splice(b.in[0], -1, b.out[1], -1, 4096, 0), 3);
	close_pipes(&b);
	return 0;
}

static void test_splice_cancelled_in_a_kernel_worker_returns_ecanceled(void **state)
{
	assert_int_equal(fx_run_task(cancel_splice_body, NULL), 0);
}

static int deadline_splice_body(void *arg, void **result)
{
	struct blocked_splice b = {.rc = 1, .deadline = RINGO_MSEC(20)};
	open_pipes(&b);
	splice_body(&b, NULL);
	assert_int_equal(b.rc, -ETIMEDOUT);
	close_pipes(&b);
	return 0;
}

static void stop_loop(void *arg)
{
	ringo_loop_stop(arg);
}

static void test_splice_blocked_in_a_kernel_worker_times_out_at_its_deadline(void **state)
{
	/* Before the fix the splice blocked forever: stop the loop instead. */
	ringo_handle guard;
	ringo_call_later(fx_loop, RINGO_SEC(5), stop_loop, fx_loop, &guard);
	assert_int_equal(fx_run_task(deadline_splice_body, NULL), 0);
	ringo_handle_cancel(guard);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_splice_cancelled_in_a_kernel_worker_returns_ecanceled, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_splice_blocked_in_a_kernel_worker_times_out_at_its_deadline, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
