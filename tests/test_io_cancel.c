/* I/O operations interrupted in the kernel: what a cancelled or timed-out
 * operation returns when a kernel worker was running it (io-wq), not only
 * when it was waiting for readiness. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "support.h"

struct blocked_splice {
	int in[2], out[2];
	int rc;
	int64_t timeout;  /* 0: none */
	bool one_op;      /* ringo_io_timeout, else a timeout scope */
};

/* splice from an empty pipe: io_uring runs it on a worker thread, which
 * blocks in the pipe until data comes or the worker is interrupted. */
static int splice_body(void *arg, void **result)
{
	struct blocked_splice *b = arg;
	ringo_timeout to;
	bool scope = b->timeout && !b->one_op;
	if (b->one_op)
		ringo_io_timeout(b->timeout);
	if (scope)
		ringo_timeout_enter(&to, b->timeout);
	b->rc = ringo_splice(b->in[0], -1, b->out[1], -1, 4096, 0);
	if (scope)
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
	struct blocked_splice b = {.rc = 1, .timeout = RINGO_MSEC(20), .one_op = arg != NULL};
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

/* The same with ringo_io_timeout: splice's timeout is a loop timer. */
static void test_splice_blocked_in_a_kernel_worker_honours_io_timeout(void **state)
{
	ringo_handle guard;
	ringo_call_later(fx_loop, RINGO_SEC(5), stop_loop, fx_loop, &guard);
	assert_int_equal(fx_run_task(deadline_splice_body, "one op"), 0);
	ringo_handle_cancel(guard);
}

/* A Unix connect to a listener whose backlog is full: the connect polls
 * writable, fails again and moves on, and during its first milliseconds
 * (DEFER_TASKRUN, 6.18) an ASYNC_CANCEL does not find it. A cancel in
 * that window used to be lost: the task stayed blocked for good. */
struct full_backlog {
	char path[64];
	int lfd;
	int fill[8];
	int nfill;
	int rc;
};

static void full_backlog_open(struct full_backlog *f)
{
	snprintf(f->path, sizeof(f->path), "/tmp/ringo-iocancel-%d.sock", (int)getpid());
	f->lfd = ringo_unix_listen(f->path, 1);
	assert_true(f->lfd >= 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", f->path);
	for (f->nfill = 0; f->nfill < 8; f->nfill++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			close(fd);
			break;
		}
		f->fill[f->nfill] = fd;
	}
	assert_true(f->nfill > 0 && f->nfill < 8); /* full now */
}

static void full_backlog_close(struct full_backlog *f)
{
	while (f->nfill)
		close(f->fill[--f->nfill]);
	close(f->lfd);
	unlink(f->path);
}

static int connect_full(void *arg, void **result)
{
	struct full_backlog *f = arg;
	f->rc = ringo_unix_connect(f->path, RINGO_FOREVER);
	if (f->rc >= 0)
		close(f->rc);
	return 0;
}

static int cancel_connect_body(void *arg, void **result)
{
	int iterations = (int)(intptr_t)arg;
	struct full_backlog f = {.rc = 1};
	full_backlog_open(&f);
	ringo_task *t;
	assert_int_equal(ringo_spawn(ringo_loop_current(), connect_full, &f, NULL, &t), 0);
	for (int i = 0; i < iterations; i++)
		ringo_sleep(0);
	ringo_task_cancel(t, NULL);
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), 0);
	assert_int_equal(f.rc, -ECANCELED);
	ringo_task_release(t);
	full_backlog_close(&f);
	return 0;
}

static void test_cancel_of_a_unix_connect_to_a_full_backlog_is_not_lost(void **state)
{
	for (int i = 1; i <= 4; i++) {
		ringo_handle guard;
		ringo_call_later(fx_loop, RINGO_SEC(5), stop_loop, fx_loop, &guard);
		assert_int_equal(fx_run_task(cancel_connect_body, (void *)(intptr_t)i), 0);
		ringo_handle_cancel(guard);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_splice_cancelled_in_a_kernel_worker_returns_ecanceled, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_splice_blocked_in_a_kernel_worker_times_out_at_its_deadline, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_splice_blocked_in_a_kernel_worker_honours_io_timeout, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cancel_of_a_unix_connect_to_a_full_backlog_is_not_lost, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
