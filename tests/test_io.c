/* I/O operations from tasks: every operation, error paths, cancellation
 * with buffer safety, stale completions, a full SQ, close waking waiters. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "support.h"
#include "io_internal.h" /* white-box: op slots, probe table */

static char g_dir[64];

static void temp_path(char *buf, size_t cap, const char *name)
{
	if (!g_dir[0]) {
		snprintf(g_dir, sizeof(g_dir), "/tmp/ringo-io-XXXXXX");
		assert_non_null(mkdtemp(g_dir));
	}
	snprintf(buf, cap, "%s/%s", g_dir, name);
}

/* ---- file operations ---- */

static int file_ops_body(void *arg, void **result)
{
	char path[128];
	temp_path(path, sizeof(path), "f1");
	int fd = ringo_openat(AT_FDCWD, path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ringo_write(fd, "hello world", 11, 0), 11);
	assert_int_equal(ringo_fsync(fd, 0), 0);
	assert_int_equal(ringo_fsync(fd, IORING_FSYNC_DATASYNC), 0);
	char buf[32] = {0};
	assert_int_equal(ringo_read(fd, buf, sizeof(buf), 0), 11);
	assert_memory_equal(buf, "hello world", 11);
	assert_int_equal(ringo_read(fd, buf, 5, 6), 5);
	assert_memory_equal(buf, "world", 5);
	assert_int_equal(ringo_fallocate(fd, 0, 0, 8192), 0);
	struct statx st;
	assert_int_equal(ringo_statx(AT_FDCWD, path, 0, STATX_SIZE, &st), 0);
	assert_int_equal(st.stx_size, 8192);
	assert_int_equal(ringo_close(fd), 0);
	assert_int_equal(unlink(path), 0);
	return 0;
}

static void test_file_read_write_fsync_fallocate_statx(void **state)
{
	assert_int_equal(fx_run_task(file_ops_body, NULL), 0);
}

static int vec_body(void *arg, void **result)
{
	char path[128];
	temp_path(path, sizeof(path), "f2");
	int fd = ringo_openat(AT_FDCWD, path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	struct iovec w[2] = {{"abc", 3}, {"defgh", 5}};
	assert_int_equal(ringo_writev(fd, w, 2, 0), 8);
	char a[4] = {0}, b[8] = {0};
	struct iovec r[2] = {{a, 4}, {b, 8}};
	assert_int_equal(ringo_readv(fd, r, 2, 0), 8);
	assert_memory_equal(a, "abcd", 4);
	assert_memory_equal(b, "efgh", 4);
	/* offset -1: the file position moves. */
	assert_int_equal(ringo_read(fd, a, 2, -1), 2);
	assert_int_equal(ringo_read(fd, b, 2, -1), 2);
	assert_memory_equal(b, "cd", 2);
	assert_int_equal(ringo_close(fd), 0);
	unlink(path);
	return 0;
}

static void test_readv_writev_and_file_position(void **state)
{
	assert_int_equal(fx_run_task(vec_body, NULL), 0);
}

static int openat_missing_body(void *arg, void **result)
{
	assert_int_equal(ringo_openat(AT_FDCWD, "/nonexistent/ringo", O_RDONLY, 0), -ENOENT);
	struct statx st;
	assert_int_equal(ringo_statx(AT_FDCWD, "/nonexistent/ringo", 0, STATX_SIZE, &st), -ENOENT);
	return 0;
}

static void test_openat_and_statx_report_enoent(void **state)
{
	assert_int_equal(fx_run_task(openat_missing_body, NULL), 0);
}

static int splice_body(void *arg, void **result)
{
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	char path[128];
	temp_path(path, sizeof(path), "f3");
	int fd = ringo_openat(AT_FDCWD, path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ringo_write(p[1], "spliced", 7, -1), 7);
	assert_int_equal(ringo_splice(p[0], -1, fd, 0, 7, 0), 7);
	char buf[8] = {0};
	assert_int_equal(ringo_read(fd, buf, 7, 0), 7);
	assert_string_equal(buf, "spliced");
	ringo_close(fd);
	ringo_close(p[0]);
	ringo_close(p[1]);
	unlink(path);
	return 0;
}

static void test_splice_pipe_to_file(void **state)
{
	assert_int_equal(fx_run_task(splice_body, NULL), 0);
}

/* ---- socket operations ---- */

static int send_recv_body(void *arg, void **result)
{
	int sv[2];
	fx_socketpair(sv);
	assert_int_equal(ringo_send(sv[0], "ping", 4, 0), 4);
	char buf[8];
	assert_int_equal(ringo_recv(sv[1], buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "ping", 4);
	/* recvmsg/sendmsg */
	struct iovec iov = {"pong!", 5};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	assert_int_equal(ringo_sendmsg(sv[1], &m, 0), 5);
	char in[8];
	struct iovec iov2 = {in, sizeof(in)};
	struct msghdr m2 = {.msg_iov = &iov2, .msg_iovlen = 1};
	assert_int_equal(ringo_recvmsg(sv[0], &m2, 0), 5);
	assert_memory_equal(in, "pong!", 5);
	/* poll: readable only once there is data */
	assert_int_equal(ringo_poll(sv[0], POLLOUT) & POLLOUT, POLLOUT);
	assert_int_equal(ringo_send(sv[1], "x", 1, 0), 1);
	assert_int_equal(ringo_poll(sv[0], POLLIN) & POLLIN, POLLIN);
	/* shutdown: the peer sees EOF */
	assert_int_equal(ringo_shutdown(sv[1], SHUT_WR), 0);
	assert_int_equal(ringo_recv(sv[0], in, sizeof(in), 0), 1);
	assert_int_equal(ringo_recv(sv[0], in, sizeof(in), 0), 0);
	ringo_close(sv[0]);
	ringo_close(sv[1]);
	return 0;
}

static void test_send_recv_sendmsg_recvmsg_poll_shutdown(void **state)
{
	assert_int_equal(fx_run_task(send_recv_body, NULL), 0);
}

static int tcp_listener(struct sockaddr_in *addr)
{
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)addr, sizeof(*addr)), 0);
	socklen_t len = sizeof(*addr);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)addr, &len), 0);
	assert_int_equal(listen(lfd, 16), 0);
	return lfd;
}

static int accept_body(void *arg, void **result)
{
	int lfd = (int)(intptr_t)arg;
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	int fd = ringo_accept(lfd, (struct sockaddr *)&peer, &plen, 0);
	if (fd < 0)
		return fd;
	assert_int_equal(peer.sin_family, AF_INET);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	char buf[16];
	int n = ringo_recv(fd, buf, sizeof(buf), 0);
	assert_int_equal(n, 5);
	assert_int_equal(ringo_send(fd, buf, (size_t)n, 0), 5);
	ringo_close(fd);
	return 0;
}

static int connect_body(void *arg, void **result)
{
	struct sockaddr_in *addr = arg;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(ringo_connect(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
	assert_int_equal(ringo_send(fd, "hello", 5, 0), 5);
	char buf[16];
	assert_int_equal(ringo_recv(fd, buf, sizeof(buf), MSG_WAITALL), 5);
	assert_memory_equal(buf, "hello", 5);
	ringo_close(fd);
	return 0;
}

static void test_accept_connect_over_tcp(void **state)
{
	struct sockaddr_in addr;
	int lfd = tcp_listener(&addr);
	ringo_task *a, *c;
	assert_int_equal(ringo_spawn(fx_loop, accept_body, (void *)(intptr_t)lfd, NULL, &a), 0);
	assert_int_equal(ringo_spawn(fx_loop, connect_body, &addr, NULL, &c), 0);
	assert_int_equal(ringo_loop_run_until_complete(fx_loop, ringo_task_future(a), NULL), 0);
	assert_int_equal(ringo_loop_run_until_complete(fx_loop, ringo_task_future(c), NULL), 0);
	ringo_task_release(a);
	ringo_task_release(c);
	close(lfd);
}

static int refused_body(void *arg, void **result)
{
	struct sockaddr_in addr;
	int lfd = tcp_listener(&addr);
	close(lfd); /* nobody listens there now */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(ringo_connect(fd, (struct sockaddr *)&addr, sizeof(addr)), -ECONNREFUSED);
	ringo_close(fd);
	return 0;
}

static void test_connect_refused(void **state)
{
	assert_int_equal(fx_run_task(refused_body, NULL), 0);
}

/* ---- error paths ---- */

static int bad_fd_body(void *arg, void **result)
{
	char buf[4];
	assert_int_equal(ringo_recv(12345, buf, 4, 0), -EBADF);
	assert_int_equal(ringo_read(-1, buf, 4, 0), -EBADF);
	assert_int_equal(ringo_write(12345, buf, 4, 0), -EBADF);
	assert_int_equal(ringo_close(12345), -EBADF);
	assert_int_equal(ringo_close(-1), -EBADF);
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(ringo_recv(fd, buf, 4, 0), -ENOTSOCK);
	close(fd);
	return 0;
}

static void test_bad_fd_gives_ebadf(void **state)
{
	assert_int_equal(fx_run_task(bad_fd_body, NULL), 0);
}

static int reset_body(void *arg, void **result)
{
	struct sockaddr_in addr;
	int lfd = tcp_listener(&addr);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(ringo_connect(c, (struct sockaddr *)&addr, sizeof(addr)), 0);
	int s = ringo_accept(lfd, NULL, NULL, 0);
	assert_true(s >= 0);
	/* Close with unread data and linger 0: the peer gets an RST. */
	struct linger lg = {1, 0};
	assert_int_equal(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	assert_int_equal(ringo_close(c), 0);
	char buf[8];
	assert_int_equal(ringo_recv(s, buf, sizeof(buf), 0), -ECONNRESET);
	assert_int_equal(ringo_send(s, "x", 1, 0), -EPIPE); /* no SIGPIPE */
	ringo_close(s);
	close(lfd);
	return 0;
}

static void test_peer_reset_gives_econnreset_then_epipe(void **state)
{
	assert_int_equal(fx_run_task(reset_body, NULL), 0);
}

static void test_operation_outside_task_is_eperm(void **state)
{
	char buf[4];
	assert_int_equal(ringo_recv(0, buf, 4, 0), -EPERM);
	assert_int_equal(ringo_close(0), -EPERM);
	assert_int_equal(ringo_io_timeout(1), -EPERM);
}

static int unsupported_body(void *arg, void **result)
{
	struct ringo__io_state *io = ringo__io_state(ringo_loop_current());
	assert_non_null(io);
	assert_true(ringo_io_supported(IORING_OP_RECV));
	/* Pretend the probe said the kernel lacks RECV. */
	io->supported[IORING_OP_RECV] = 0;
	char buf[4];
	int rc = ringo_recv(0, buf, 4, 0);
	io->supported[IORING_OP_RECV] = 1;
	assert_int_equal(rc, -EOPNOTSUPP);
	assert_false(ringo_io_supported(IORING_OP_LAST));
	return 0;
}

static void test_unsupported_opcode_gives_eopnotsupp(void **state)
{
	assert_int_equal(fx_run_task(unsupported_body, NULL), 0);
}

/* ---- the escape hatch ---- */

static void prep_nop(struct io_uring_sqe *sqe, void *ctx)
{
	io_uring_prep_nop(sqe);
}

static void prep_write(struct io_uring_sqe *sqe, void *ctx)
{
	int *fd = ctx;
	io_uring_prep_write(sqe, *fd, "raw", 3, 0);
}

static int submit_body(void *arg, void **result)
{
	uint32_t flags = 123;
	assert_int_equal(ringo_io_submit(prep_nop, NULL, &flags), 0);
	assert_int_equal(flags, 0);
	int sv[2];
	fx_socketpair(sv);
	assert_int_equal(ringo_io_submit(prep_write, &sv[0], NULL), 3);
	struct io_uring_sqe tmpl;
	memset(&tmpl, 0, sizeof(tmpl));
	char buf[4] = {0}; /* the kernel's writes are invisible to Valgrind */
	io_uring_prep_recv(&tmpl, sv[1], buf, sizeof(buf), 0);
	assert_int_equal(ringo_io_submit_sqe(&tmpl, NULL), 3);
	assert_memory_equal(buf, "raw", 3);
	assert_int_equal(ringo_io_submit(NULL, NULL, NULL), -EINVAL);
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_escape_hatch_submits_prepared_sqes(void **state)
{
	assert_int_equal(fx_run_task(submit_body, NULL), 0);
}

/* ---- cancellation and buffer safety ---- */

struct recv_arg {
	int fd;
	char *buf;
	size_t len;
	int rc;
	int rc2;
};

static int recv_body(void *arg, void **result)
{
	struct recv_arg *a = arg;
	a->rc = ringo_recv(a->fd, a->buf, a->len, 0);
	return 0;
}

static int cancel_then_send_body(void *arg, void **result)
{
	int sv[2];
	fx_socketpair(sv);
	char buf[64];
	memset(buf, 'A', sizeof(buf));
	struct recv_arg ra = {sv[1], buf, sizeof(buf), 1, 0};
	ringo_task *t;
	assert_int_equal(ringo_spawn(ringo_loop_current(), recv_body, &ra, NULL, &t), 0);
	ringo_sleep(0); /* t starts and blocks in recv */
	ringo_sleep(0); /* its SQE reached the kernel */
	assert_int_equal(ringo_task_state(t), RINGO_TASK_SUSPENDED);
	assert_true(ringo_task_cancel(t, NULL));
	/* Not woken by the cancel itself: only by the recv's final CQE. */
	assert_int_equal(ringo_task_state(t), RINGO_TASK_SUSPENDED);
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), 0);
	assert_int_equal(ra.rc, -ECANCELED);
	/* Reuse the buffer; data sent now must not land in it. */
	memset(buf, 'B', sizeof(buf));
	assert_int_equal(ringo_send(sv[0], "DATA", 4, 0), 4);
	ringo_sleep(0);
	ringo_sleep(0);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 'B');
	char other[8];
	assert_int_equal(ringo_recv(sv[1], other, sizeof(other), 0), 4);
	assert_memory_equal(other, "DATA", 4);
	ringo_task_release(t);
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_cancelled_recv_never_writes_the_buffer_afterwards(void **state)
{
	assert_int_equal(fx_run_task(cancel_then_send_body, NULL), 0);
}

static int recv_twice_body(void *arg, void **result)
{
	struct recv_arg *a = arg;
	a->rc = ringo_recv(a->fd, a->buf, a->len, 0);
	a->rc2 = ringo_sleep(RINGO_MSEC(1));
	return 0;
}

static int cancel_after_completion_body(void *arg, void **result)
{
	int sv[2];
	fx_socketpair(sv);
	char buf[16];
	struct recv_arg ra = {sv[1], buf, sizeof(buf), 1, 1};
	ringo_task *t;
	assert_int_equal(ringo_spawn(ringo_loop_current(), recv_twice_body, &ra, NULL, &t), 0);
	ringo_sleep(0);
	ringo_sleep(0);
	assert_int_equal(send(sv[0], "late", 4, 0), 4);
	/* Next iteration reaps the recv's CQE (t becomes ready after us). */
	ringo_sleep(0);
	assert_int_equal(ringo_task_state(t), RINGO_TASK_READY);
	assert_true(ringo_task_cancel(t, NULL));
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), 0);
	/* The data was not lost; the cancel came at the next suspension. */
	assert_int_equal(ra.rc, 4);
	assert_memory_equal(buf, "late", 4);
	assert_int_equal(ra.rc2, -ECANCELED);
	ringo_task_release(t);
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_completed_result_survives_a_late_cancel(void **state)
{
	assert_int_equal(fx_run_task(cancel_after_completion_body, NULL), 0);
}

static int cancelled_before_body(void *arg, void **result)
{
	ringo_task_cancel(ringo_task_current(), NULL);
	char buf[4];
	/* A pending cancel is delivered without submitting anything. */
	assert_int_equal(ringo_recv(0, buf, sizeof(buf), 0), -ECANCELED);
	assert_int_equal(ringo_task_uncancel(ringo_task_current()), 0);
	return 0;
}

static void test_pending_cancel_fails_the_next_op_without_submitting(void **state)
{
	assert_int_equal(fx_run_task(cancelled_before_body, NULL), 0);
}

/* ---- close wakes a task blocked on the fd ---- */

static int close_wakes_body(void *arg, void **result)
{
	int sv[2];
	fx_socketpair(sv);
	char buf[16];
	memset(buf, 'Z', sizeof(buf));
	struct recv_arg ra = {sv[1], buf, sizeof(buf), 1, 0};
	ringo_task *t;
	assert_int_equal(ringo_spawn(ringo_loop_current(), recv_body, &ra, NULL, &t), 0);
	ringo_sleep(0);
	ringo_sleep(0);
	assert_int_equal(ringo_task_state(t), RINGO_TASK_SUSPENDED);
	assert_int_equal(ringo_close(sv[1]), 0);
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), 0);
	assert_int_equal(ra.rc, -EBADF);
	assert_int_equal(ringo_task_cancelling(t), 0);
	send(sv[0], "after", 5, MSG_NOSIGNAL);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 'Z');
	ringo_task_release(t);
	close(sv[0]);
	return 0;
}

static void test_close_wakes_a_task_blocked_on_the_fd(void **state)
{
	assert_int_equal(fx_run_task(close_wakes_body, NULL), 0);
}

/* ---- close cancels exactly what is in flight on its fd ---- */

static struct ringo__io_state *io_of(ringo_loop *loop)
{
	struct ringo__io_state *io = ringo__io_state(loop);
	assert_non_null(io);
	return io;
}

/* Room for n more descriptors under RLIMIT_NOFILE, raising the soft limit
 * as far as the hard one allows. Returns the old soft limit. */
static rlim_t fd_room(size_t n, size_t *fits)
{
	struct rlimit rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rlim_t old = rl.rlim_cur;
	if (rl.rlim_cur < n + 64) {
		rl.rlim_cur = rl.rlim_max < n + 64 ? rl.rlim_max : n + 64;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	*fits = rl.rlim_cur > 64 ? rl.rlim_cur - 64 : 0;
	return old;
}

static void fd_room_restore(rlim_t old)
{
	struct rlimit rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = old;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

#define NOTHERS 5000

static struct {
	int sv[NOTHERS][2];
	char buf[NOTHERS][8];
	struct recv_arg ra[NOTHERS];
	ringo_task *t[NOTHERS];
} others;

static int close_among_many_body(void *arg, void **result)
{
	int n = *(int *)arg;
	ringo_loop *loop = ringo_loop_current();
	for (int i = 0; i < n; i++) {
		fx_socketpair(others.sv[i]);
		others.ra[i] = (struct recv_arg){others.sv[i][1], others.buf[i], 8, 1, 0};
		assert_int_equal(ringo_spawn(loop, recv_body, &others.ra[i], NULL, &others.t[i]), 0);
	}
	int sv[2];
	fx_socketpair(sv);
	char buf[8];
	struct recv_arg mine = {sv[1], buf, sizeof(buf), 1, 0};
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, recv_body, &mine, NULL, &t), 0);
	ringo_sleep(0);
	ringo_sleep(0); /* every recv is in the kernel */
	uint64_t cancels = io_of(loop)->close_cancels;
	assert_int_equal(ringo_close(sv[1]), 0);
	/* One cancel, for the one recv on that fd; it wakes with -EBADF. */
	assert_int_equal(io_of(loop)->close_cancels, cancels + 1);
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), 0);
	assert_int_equal(mine.rc, -EBADF);
	ringo_task_release(t);
	ringo_sleep(0);
	ringo_sleep(0);
	/* None of the others was touched: still waiting, then served. */
	for (int i = 0; i < n; i++)
		assert_int_equal(ringo_task_state(others.t[i]), RINGO_TASK_SUSPENDED);
	for (int i = 0; i < n; i++) {
		char msg[16];
		snprintf(msg, sizeof(msg), "m%05d", i % 100000);
		assert_int_equal(write(others.sv[i][0], msg, 6), 6);
	}
	for (int i = 0; i < n; i++) {
		char msg[16];
		snprintf(msg, sizeof(msg), "m%05d", i % 100000);
		assert_int_equal(ringo_await(ringo_task_future(others.t[i]), NULL), 0);
		assert_int_equal(others.ra[i].rc, 6);
		assert_memory_equal(others.buf[i], msg, 6);
		ringo_task_release(others.t[i]);
		close(others.sv[i][0]);
		close(others.sv[i][1]);
	}
	close(sv[0]);
	return 0;
}

static void test_close_leaves_ops_on_other_fds_pending(void **state)
{
	size_t fits;
	rlim_t old = fd_room(2 * NOTHERS + 2, &fits);
	int n = fits / 2 - 1 < NOTHERS ? (int)(fits / 2 - 1) : NOTHERS;
	assert_true(n >= 100);
	assert_int_equal(fx_run_task(close_among_many_body, &n), 0);
	fd_room_restore(old);
}

struct poll_arg {
	int fd;
	unsigned events;
	int rc;
};

static int poll_body(void *arg, void **result)
{
	struct poll_arg *a = arg;
	a->rc = ringo_poll(a->fd, a->events);
	return 0;
}

static int close_two_body(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	int sv[2];
	fx_socketpair(sv);
	char buf[8];
	struct recv_arg ra = {sv[1], buf, sizeof(buf), 1, 0};
	struct poll_arg pa = {sv[1], POLLIN, 1};
	ringo_task *t1, *t2;
	assert_int_equal(ringo_spawn(loop, recv_body, &ra, NULL, &t1), 0);
	assert_int_equal(ringo_spawn(loop, poll_body, &pa, NULL, &t2), 0);
	ringo_sleep(0);
	ringo_sleep(0);
	uint64_t cancels = io_of(loop)->close_cancels;
	assert_int_equal(ringo_close(sv[1]), 0);
	assert_int_equal(io_of(loop)->close_cancels, cancels + 2);
	assert_int_equal(ringo_await(ringo_task_future(t1), NULL), 0);
	assert_int_equal(ringo_await(ringo_task_future(t2), NULL), 0);
	assert_int_equal(ra.rc, -EBADF);
	assert_int_equal(pa.rc, -EBADF);
	ringo_task_release(t1);
	ringo_task_release(t2);
	close(sv[0]);
	return 0;
}

static void test_close_wakes_every_op_in_flight_on_the_fd(void **state)
{
	assert_int_equal(fx_run_task(close_two_body, NULL), 0);
}

/* The usual close: the task that used the fd closes it, nothing is in
 * flight on it, and the close is the only SQE (no cancel at all). */
static int close_idle_fd_body(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	int sv[2];
	fx_socketpair(sv);
	char buf[8];
	assert_int_equal(ringo_send(sv[0], "abc", 3, 0), 3);
	assert_int_equal(ringo_recv(sv[1], buf, sizeof(buf), 0), 3);
	uint64_t cancels = io_of(loop)->close_cancels;
	unsigned tail = loop->ring.sq.sqe_tail;
	assert_int_equal(ringo_close(sv[1]), 0);
	assert_int_equal(loop->ring.sq.sqe_tail - tail, 1);
	assert_int_equal(io_of(loop)->close_cancels, cancels);
	ringo_close(sv[0]);
	return 0;
}

static void test_close_with_nothing_in_flight_submits_only_the_close(void **state)
{
	assert_int_equal(fx_run_task(close_idle_fd_body, NULL), 0);
}

static int close_fd_body(void *arg, void **result)
{
	return ringo_close(*(int *)arg);
}

/* A request on the fd completes in the same submission as the close that
 * cancels it (the cancel finds nothing): the request keeps its real
 * result, and the fd number, reused at once, carries nothing stale. */
static int stale_after_close_body(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	int sv[2];
	fx_socketpair(sv);
	int x = sv[1];
	struct poll_arg pa = {x, POLLOUT, 0};
	ringo_task *a, *c;
	/* a queues its poll, then c queues cancel + close: one submission. */
	assert_int_equal(ringo_spawn(loop, poll_body, &pa, NULL, &a), 0);
	assert_int_equal(ringo_spawn(loop, close_fd_body, &x, NULL, &c), 0);
	uint64_t cancels = io_of(loop)->close_cancels;
	uint64_t stale = loop->stale_cqes;
	assert_int_equal(ringo_await(ringo_task_future(c), NULL), 0);
	assert_int_equal(ringo_await(ringo_task_future(a), NULL), 0);
	assert_int_equal(io_of(loop)->close_cancels, cancels + 1);
	assert_true(pa.rc > 0 && (pa.rc & POLLOUT)); /* its own result, not -EBADF */
	ringo_task_release(a);
	ringo_task_release(c);
	close(sv[0]);
	/* The number comes back for a new socket; a recv on it waits for its
	 * own data only, and a close of it finds that recv alone. */
	int sv2[2];
	fx_socketpair(sv2);
	assert_int_equal(sv2[1], x);
	char buf[8];
	struct recv_arg ra = {sv2[1], buf, sizeof(buf), 1, 0};
	ringo_task *b;
	assert_int_equal(ringo_spawn(loop, recv_body, &ra, NULL, &b), 0);
	ringo_sleep(0);
	ringo_sleep(0);
	assert_int_equal(ringo_task_state(b), RINGO_TASK_SUSPENDED);
	assert_int_equal(write(sv2[0], "new", 3), 3);
	assert_int_equal(ringo_await(ringo_task_future(b), NULL), 0);
	assert_int_equal(ra.rc, 3);
	assert_memory_equal(buf, "new", 3);
	ringo_task_release(b);
	assert_int_equal(loop->stale_cqes, stale);
	cancels = io_of(loop)->close_cancels;
	assert_int_equal(ringo_close(sv2[1]), 0);
	assert_int_equal(io_of(loop)->close_cancels, cancels); /* nothing left on x */
	close(sv2[0]);
	return 0;
}

static void test_stale_completion_after_close_never_reaches_a_reused_slot(void **state)
{
	assert_int_equal(fx_run_task(stale_after_close_body, NULL), 0);
}

/* -ECANCELED that no ringo_close caused (here: the user's own cancel by
 * fd through the escape hatch, after an unrelated close) stays
 * -ECANCELED: -EBADF means this op's fd was closed, nothing else. */
struct hatch_poll {
	int fd;
	int rc;
};

static void prep_poll_in(struct io_uring_sqe *sqe, void *ctx)
{
	io_uring_prep_poll_add(sqe, ((struct hatch_poll *)ctx)->fd, POLLIN);
}

static int hatch_poll_body(void *arg, void **result)
{
	struct hatch_poll *h = arg;
	h->rc = ringo_io_submit(prep_poll_in, h, NULL);
	return 0;
}

static void prep_cancel_fd(struct io_uring_sqe *sqe, void *ctx)
{
	io_uring_prep_cancel_fd(sqe, *(int *)ctx, 0);
}

static int foreign_cancel_body(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	int sv[2], other[2];
	fx_socketpair(sv);
	fx_socketpair(other);
	struct hatch_poll h = {sv[1], 1};
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, hatch_poll_body, &h, NULL, &t), 0);
	ringo_sleep(0);
	ringo_sleep(0);
	assert_int_equal(ringo_close(other[1]), 0);
	assert_int_equal(ringo_io_submit(prep_cancel_fd, &sv[1], NULL), 0);
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), 0);
	assert_int_equal(h.rc, -ECANCELED);
	assert_int_equal(ringo_task_cancelling(t), 0);
	ringo_task_release(t);
	close(other[0]);
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_ecanceled_not_caused_by_a_close_is_not_ebadf(void **state)
{
	assert_int_equal(fx_run_task(foreign_cancel_body, NULL), 0);
}

/* splice names two fds: closing either one stops it. */
struct splice_arg {
	int in, out;
	int rc;
};

static int splice_wait_body(void *arg, void **result)
{
	struct splice_arg *a = arg;
	a->rc = ringo_splice(a->in, -1, a->out, -1, 4096, 0);
	return 0;
}

static int close_splice_body(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	for (int which = 0; which < 2; which++) {
		int src[2], dst[2];
		assert_int_equal(pipe2(src, O_CLOEXEC), 0);
		assert_int_equal(pipe2(dst, O_CLOEXEC), 0);
		struct splice_arg sa = {src[0], dst[1], 1};
		ringo_task *t;
		assert_int_equal(ringo_spawn(loop, splice_wait_body, &sa, NULL, &t), 0);
		ringo_sleep(0);
		ringo_sleep(0); /* blocked: src is empty */
		assert_int_equal(ringo_task_state(t), RINGO_TASK_SUSPENDED);
		uint64_t cancels = io_of(loop)->close_cancels;
		int closed = which == 0 ? src[0] : dst[1];
		assert_int_equal(ringo_close(closed), 0);
		assert_int_equal(io_of(loop)->close_cancels, cancels + 1);
		assert_int_equal(ringo_await(ringo_task_future(t), NULL), 0);
		assert_int_equal(sa.rc, -EBADF);
		ringo_task_release(t);
		/* The other fd's list holds nothing stale either. */
		cancels = io_of(loop)->close_cancels;
		assert_int_equal(ringo_close(which == 0 ? dst[1] : src[0]), 0);
		assert_int_equal(io_of(loop)->close_cancels, cancels);
		close(src[1]);
		close(dst[0]);
	}
	return 0;
}

static void test_close_of_either_fd_stops_a_splice(void **state)
{
	assert_int_equal(fx_run_task(close_splice_body, NULL), 0);
}

/* A splice blocked in an io-wq worker completes with the kernel's
 * internal -ERESTARTSYS (512) when a cancel interrupts it (6.18): the
 * task sees -ECANCELED for its own cancel. (A linked timeout does not
 * interrupt such a splice at all: a deadline cannot stop it.) */
static int cancelled_splice_body(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	int src[2], dst[2];
	assert_int_equal(pipe2(src, O_CLOEXEC), 0);
	assert_int_equal(pipe2(dst, O_CLOEXEC), 0);
	struct splice_arg sa = {src[0], dst[1], 1};
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, splice_wait_body, &sa, NULL, &t), 0);
	ringo_sleep(0);
	ringo_sleep(0);
	assert_true(ringo_task_cancel(t, NULL));
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), 0);
	assert_int_equal(sa.rc, -ECANCELED);
	ringo_task_release(t);
	for (int i = 0; i < 2; i++) {
		close(src[i]);
		close(dst[i]);
	}
	return 0;
}

static void test_cancelled_splice_reports_ecanceled(void **state)
{
	assert_int_equal(fx_run_task(cancelled_splice_body, NULL), 0);
}

/* ---- stale completions ---- */

static int stale_hits;

static void stale_fn(ringo_loop *loop, void *ctx, int32_t res, uint32_t flags)
{
	stale_hits++;
	ringo__op_close(loop, *(uint64_t *)ctx);
}

static int stale_body(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	uint64_t old_ud, new_ud;
	assert_int_equal(ringo__op_open(loop, stale_fn, &old_ud, &old_ud), 0);
	ringo__op_close(loop, old_ud);
	/* The slot is reused at once (LIFO) with a new generation. */
	assert_int_equal(ringo__op_open(loop, stale_fn, &new_ud, &new_ud), 0);
	assert_int_equal((uint32_t)old_ud, (uint32_t)new_ud);
	assert_true(old_ud != new_ud);
	uint64_t stale_before = loop->stale_cqes;
	/* A completion carrying the old tag arrives. */
	struct io_uring_sqe *sqe = ringo__sqe(loop);
	io_uring_prep_nop(sqe);
	sqe->user_data = old_ud;
	ringo_sleep(0);
	ringo_sleep(0);
	assert_int_equal(stale_hits, 0);
	assert_int_equal(loop->stale_cqes, stale_before + 1);
	/* The right tag reaches the record. */
	sqe = ringo__sqe(loop);
	io_uring_prep_nop(sqe);
	sqe->user_data = new_ud;
	ringo_sleep(0);
	ringo_sleep(0);
	assert_int_equal(stale_hits, 1);
	return 0;
}

static void test_stale_completion_never_reaches_a_reused_slot(void **state)
{
	assert_int_equal(fx_run_task(stale_body, NULL), 0);
}

/* ---- a full SQ ---- */

#define NPAIRS 100

struct many {
	int sv[NPAIRS][2];
	int done;
};

static int many_body(void *arg, void **result)
{
	int *sv = arg;
	char b[8];
	/* Three ops per task in one iteration: well past an 8-entry SQ. */
	if (ringo_send(sv[0], "abcdefg", 7, 0) != 7)
		return -EIO;
	if (ringo_recv(sv[1], b, sizeof(b), 0) != 7)
		return -EIO;
	return ringo_poll(sv[0], POLLOUT) & POLLOUT ? 0 : -EIO;
}

static void test_full_sq_is_flushed_not_an_error(void **state)
{
	struct counting_allocator ca;
	counting_allocator_init(&ca);
	ringo_loop_options o;
	ringo_loop_options_init(&o);
	o.ring_entries = 8;
	o.allocator = &ca.iface;
	ringo_loop *loop;
	assert_int_equal(ringo_loop_new(&o, &loop), 0);
	static struct many m;
	ringo_task *t[NPAIRS];
	for (int i = 0; i < NPAIRS; i++) {
		fx_socketpair(m.sv[i]);
		assert_int_equal(ringo_spawn(loop, many_body, m.sv[i], NULL, &t[i]), 0);
	}
	for (int i = 0; i < NPAIRS; i++) {
		assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t[i]), NULL), 0);
		ringo_task_release(t[i]);
		close(m.sv[i][0]);
		close(m.sv[i][1]);
	}
	test_loop_free(loop, &ca);
}

/* ---- CQ overflow ---- */

static int nop_body(void *arg, void **result)
{
	return ringo_io_submit(prep_nop, NULL, NULL);
}

static void test_cq_overflow_is_drained_not_lost(void **state)
{
	struct counting_allocator ca;
	counting_allocator_init(&ca);
	ringo_loop_options o;
	ringo_loop_options_init(&o);
	o.ring_entries = 4; /* CQ of 16: 300 completions in one iteration overflow it */
	o.allocator = &ca.iface;
	ringo_loop *loop;
	assert_int_equal(ringo_loop_new(&o, &loop), 0);
	enum { N = 300 };
	static ringo_task *t[N];
	for (int i = 0; i < N; i++)
		assert_int_equal(ringo_spawn(loop, nop_body, NULL, NULL, &t[i]), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t[i]), NULL), 0);
		ringo_task_release(t[i]);
	}
	test_loop_free(loop, &ca);
}

static int blocked_recv_body(void *arg, void **result)
{
	char buf[256];
	int *fd = arg;
	return (int)ringo_recv(*fd, buf, sizeof(buf), 0);
}

/* Closing a loop while tasks sit in recv must not leave the kernel able to
 * write into their (freed) stacks: close cancels every operation and waits
 * for the final completions first. */
static void test_close_cancels_and_waits_for_io_in_flight(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	int sv[2][2];
	fx_socketpair(sv[0]);
	fx_socketpair(sv[1]);
	ringo_task *held;
	assert_int_equal(ringo_spawn(loop, blocked_recv_body, &sv[0][0], NULL, &held), 0);
	assert_int_equal(ringo_spawn(loop, blocked_recv_body, &sv[1][0], NULL, NULL), 0);
	ringo_loop_stop(loop);
	assert_int_equal(ringo_loop_run_forever(loop), 0); /* both now in recv */
	assert_int_equal(ringo_task_state(held), RINGO_TASK_SUSPENDED);
	assert_int_equal(ringo_loop_close(loop), 0);
	/* Every operation reached its final completion before the ring went. */
	assert_int_equal(loop->ops_inflight, 0);
	/* Data arriving now has nowhere to go: the recvs are gone. */
	assert_int_equal(write(sv[0][1], "late", 4), 4);
	assert_int_equal(write(sv[1][1], "late", 4), 4);
	assert_true(ringo_future_done(ringo_task_future(held)));
	ringo_task_release(held);
	test_loop_free(loop, &ca);
	for (int i = 0; i < 2; i++) {
		char buf[8];
		/* The bytes are still in the socket: no cancelled recv took them. */
		assert_int_equal(read(sv[i][0], buf, sizeof(buf)), 4);
		close(sv[i][0]);
		close(sv[i][1]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_read_write_fsync_fallocate_statx, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_readv_writev_and_file_position, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_openat_and_statx_report_enoent, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_splice_pipe_to_file, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_send_recv_sendmsg_recvmsg_poll_shutdown, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_accept_connect_over_tcp, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_connect_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_fd_gives_ebadf, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_peer_reset_gives_econnreset_then_epipe, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_operation_outside_task_is_eperm, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unsupported_opcode_gives_eopnotsupp, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_escape_hatch_submits_prepared_sqes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cancelled_recv_never_writes_the_buffer_afterwards, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_completed_result_survives_a_late_cancel, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pending_cancel_fails_the_next_op_without_submitting, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_close_wakes_a_task_blocked_on_the_fd, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stale_completion_never_reaches_a_reused_slot, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_close_leaves_ops_on_other_fds_pending, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_close_wakes_every_op_in_flight_on_the_fd, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_close_with_nothing_in_flight_submits_only_the_close, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stale_completion_after_close_never_reaches_a_reused_slot, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ecanceled_not_caused_by_a_close_is_not_ebadf, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_close_of_either_fd_stops_a_splice, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cancelled_splice_reports_ecanceled, fx_setup, fx_teardown),
		cmocka_unit_test(test_full_sq_is_flushed_not_an_error),
		cmocka_unit_test(test_cq_overflow_is_drained_not_lost),
		cmocka_unit_test(test_close_cancels_and_waits_for_io_in_flight),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (g_dir[0])
		rmdir(g_dir);
	return rc;
}
