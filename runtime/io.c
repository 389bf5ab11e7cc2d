/*
 * I/O operations from tasks.
 *
 * A blocking operation is a record on the calling task's stack (struct
 * ringo__io_op), an op slot naming it in user_data (generation-tagged, so
 * a late CQE finds nothing), and one SQE queued on the ring. The task then
 * suspends; the SQE goes to the kernel with everything else queued in the
 * loop's single io_uring_enter of the next iteration, and the CQE wakes
 * the task. The record is also on its fd's list in the loop's fd index
 * (io_fd.c) until the final CQE, so that ringo_close cancels exactly the
 * requests on that fd. Nothing is allocated per operation.
 *
 * Cancellation: ringo_task_cancel() on a task blocked here queues an
 * IORING_OP_ASYNC_CANCEL for the op and does not wake the task: the task
 * wakes on the op's own final CQE, whatever it says. Until then the kernel
 * may still write into the task's buffers, so the task must not run.
 * keep_result: a completion already queued wins over a later cancel (the
 * bytes were received, they must not be lost); the cancel is then
 * delivered at the task's next suspension.
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "io_internal.h"

/* ---- per-loop state ---- */

static void io_state_close(ringo_loop *loop, void *ctx);

__attribute__((cold)) static void probe(struct ringo__io_state *io)
{
	RINGO_ASSERT(io->loop->ring_ready);
	struct io_uring_probe *p = io_uring_get_probe_ring(&io->loop->ring);
	if (!p)
		return; /* pre-5.6: leave everything "supported", the kernel says */
	memset(io->supported, 0, sizeof(io->supported));
	for (int i = 0; i < p->ops_len && i < IORING_OP_LAST; i++)
		io->supported[i] = (p->ops[i].flags & IO_URING_OP_SUPPORTED) != 0;
	io_uring_free_probe(p);
	/* Multishot accept came with 5.19, as did IORING_OP_SOCKET; there is
	 * no probe for accept flags, so the opcode stands in for them. */
	io->multishot_accept = io->supported[IORING_OP_SOCKET];
}

__attribute__((cold, noinline)) struct ringo__io_state *ringo__io_state_new(ringo_loop *loop)
{
	if (!loop || loop->closed || !loop->ring_ready)
		return NULL;
	RINGO_ASSERT(loop->io == NULL); /* the inline lookup found none */
	struct ringo__io_state *io = ringo__alloc(loop, sizeof(*io));
	if (!io)
		return NULL;
	memset(io, 0, sizeof(*io));
	io->loop = loop;
	memset(io->supported, 1, sizeof(io->supported));
	io->multishot_accept = true;
	if (ringo__add_close_hook(loop, io_state_close, io) < 0) {
		ringo__free(loop, io, sizeof(*io));
		return NULL;
	}
	probe(io);
	loop->io = io;
	return io;
}

static void io_state_close(ringo_loop *loop, void *ctx)
{
	RINGO_ASSERT(loop->io == ctx);
	struct ringo__io_state *io = ctx;
	ringo__fd_index_free(io);
	loop->io = NULL;
	ringo__free(loop, io, sizeof(*io));
}

int64_t ringo__mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool ringo_io_supported(int opcode)
{
	struct ringo__io_state *io = ringo__io_state(ringo__current_loop);
	return io && opcode >= 0 && opcode < IORING_OP_LAST && io->supported[opcode];
}

/* ---- the operation record ---- */

static void io_complete(ringo_loop *loop, void *ctx, int32_t res, uint32_t flags)
{
	struct ringo__io_op *op = ctx;
	/* Only the final CQE ends the wait: until then the kernel owns the
	 * buffers (escape-hatch multishot requests post several). */
	if (flags & IORING_CQE_F_MORE)
		return;
	ringo__fd_link_del(&op->link);
	if (ringo__unlikely(op->two_fds))
		ringo__fd_link_del(&op->link2);
	ringo__op_close(loop, op->link.user_data);
	op->link.user_data = 0;
	op->res = res;
	op->cqe_flags = flags;
	ringo__task_wake(op->task, res);
}

/* Cancelling a request until it is gone. An ASYNC_CANCEL can miss: with
 * DEFER_TASKRUN, a request between two attempts is in no table the
 * cancel searches, and the cancel completes with -ENOENT while the
 * request goes on waiting. Seen on 6.18 with a Unix connect to a full
 * backlog: it polls writable, fails again, and for its first
 * milliseconds no cancel finds it (one sent a millisecond later does).
 * So a cancel is sent again, with a growing delay, until the request's
 * final CQE; an extra cancel of a request that is finishing is harmless
 * (user_data is generation-tagged: it never names a newer request). */
#define CANCEL_RETRY_FIRST_NS RINGO_MSEC(1)
#define CANCEL_RETRY_MAX_NS RINGO_MSEC(128)

static void send_cancel(struct ringo__io_op *op);

static void cancel_retry(void *arg)
{
	struct ringo__io_op *op = arg;
	RINGO_ASSERT(op->retry_armed);
	op->retry_armed = false;
	if (op->link.user_data) /* not done yet */
		send_cancel(op);
}

__attribute__((cold, noinline)) static void send_cancel(struct ringo__io_op *op)
{
	RINGO_ASSERT(op->link.user_data != 0); /* still in the kernel */
	RINGO_ASSERT(op->cancel_sent || op->timer_fired);
	ringo_loop *loop = op->io->loop;
	struct io_uring_sqe *sqe = ringo__sqe(loop);
	if (!sqe)
		return; /* ring gone: the loop is closing */
	io_uring_prep_cancel64(sqe, op->link.user_data, 0);
	sqe->user_data = 0; /* its own CQE matters to nobody */
	int64_t delay = op->retry_ns ? op->retry_ns : CANCEL_RETRY_FIRST_NS;
	op->retry_ns = delay < CANCEL_RETRY_MAX_NS ? 2 * delay : CANCEL_RETRY_MAX_NS;
	if (!op->retry_armed && ringo_call_later(loop, delay, cancel_retry, op, &op->retry) == 0)
		op->retry_armed = true;
}

/* Start cancelling (the task's cancel sets cancel_sent, the timeout
 * timer_fired): the retry state is made by the first of the two, so an
 * operation never cancelled pays nothing for it. */
static void start_cancelling(struct ringo__io_op *op, bool *why)
{
	RINGO_ASSERT(!*why); /* each reason starts cancelling once */
	RINGO_ASSERT(op->link.user_data != 0);
	if (!op->cancel_sent && !op->timer_fired) {
		op->retry_armed = false;
		op->retry_ns = 0;
	}
	*why = true;
	send_cancel(op);
}

static void io_interrupt(ringo_task *t)
{
	struct ringo__io_op *op = ringo__task_wait_ctx(t);
	RINGO_ASSERT(op->link.user_data != 0);
	if (op->cancel_sent)
		return;
	start_cancelling(op, &op->cancel_sent);
}

/* The op (on the task's stack) is the ring's until its final CQE, which
 * the ring's drain at close waits for before this runs; a task READY
 * after it holds nothing else. */
static void io_abandon(ringo_task *t)
{
	(void)t;
}

static const struct ringo__wait_ops io_wait_ops = {
	.what = "io", .interrupt = io_interrupt, .keep_result = true, .abandon = io_abandon};

/* Make room for n SQEs in a row (an op and its linked timeout must reach
 * the kernel in the same submission, or the link would be cut). */
__attribute__((cold, noinline)) static int reserve_slow(ringo_loop *loop, unsigned n)
{
	/* More than the SQ holds would flush forever. */
	RINGO_ASSERT(n > 0 && n <= loop->ring.sq.ring_entries);
	struct io_uring *ring = &loop->ring;
	while (io_uring_sq_space_left(ring) < n) {
		int ret = ringo__ring_submit(loop);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			return ret;
	}
	return 0;
}

static inline int reserve(ringo_loop *loop, unsigned n)
{
	if (ringo__likely(io_uring_sq_space_left(&loop->ring) >= n))
		return 0;
	return reserve_slow(loop, n);
}

/* An operation with a timeout (ringo_io_timeout): one more SQE for the
 * linked timeout. Out of line so that the common case keeps a frameless
 * fast path. A timeout of 0 arms a linked timeout of 0: it fires only if
 * the request could not complete when the kernel first issued it, which
 * is "try once, do not wait". */
__attribute__((noinline)) static int begin_timeout(struct ringo__io_op *op, unsigned nsqe)
{
	RINGO_ASSERT(op->timeout >= 0);
	int64_t left = op->timeout;
	op->lt_user_data = 0;
	/* Read back by map_result to tell the timeout from other cancels. */
	op->mono_deadline = ringo__mono_ns() + left;
	op->ts.tv_sec = left / 1000000000;
	op->ts.tv_nsec = left % 1000000000;
	return reserve(op->io->loop, nsqe + 1);
}

static int begin(struct ringo__io_op *op, int opcode, unsigned nsqe, bool with_timeout)
{
	struct ringo__task_io *tio;
	int err;
	ringo_task *t = ringo__task_io_begin(&tio, &err);
	if (ringo__unlikely(!t))
		return err;
	ringo_loop *loop = ringo__current_loop;
	struct ringo__io_state *io = ringo__io_state(loop);
	if (ringo__unlikely(!io))
		return loop && loop->ring_ready ? -ENOMEM : -ESHUTDOWN;
	if (ringo__unlikely(opcode < 0 || opcode >= IORING_OP_LAST || !io->supported[opcode]))
		return -EOPNOTSUPP;
	op->task = t;
	op->io = io;
	op->link.user_data = 0;
	op->two_fds = false;
	op->timeout = with_timeout ? ringo__io_take_timeout(tio) : -1;
	op->cancel_sent = false;
	op->timer_fired = false;
	op->res = 0;
	op->cqe_flags = 0;
	if (ringo__unlikely(op->timeout >= 0))
		return begin_timeout(op, nsqe);
	return reserve(loop, nsqe);
}

struct io_uring_sqe *ringo__io_prepare(struct ringo__io_op *op, int opcode, int *err)
{
	*err = begin(op, opcode, 1, true);
	if (ringo__unlikely(*err < 0))
		return NULL;
	return io_uring_get_sqe(&op->io->loop->ring);
}

/* The kernel's ERESTARTSYS: never meant for user space, but a request
 * that a cancel interrupted while it blocked in an io-wq worker (a splice
 * on an empty pipe, 6.18) completes with it. */
#define KERNEL_ERESTARTSYS 512

/* A request stopped by a cancel completes with -ECANCELED, or, if it was
 * blocked in an io-wq worker, with -EINTR or -ERESTARTSYS. */
static inline bool stopped(int res)
{
	return res == -ECANCELED || res == -EINTR || res == -KERNEL_ERESTARTSYS;
}

static int map_result(struct ringo__io_op *op, int res)
{
	if (ringo__likely(res >= 0) || !stopped(res))
		return res;
	if (op->cancel_sent) {
		/* Our cancel did it: that is the cancellation, delivered
		 * now, not again at the next suspension. */
		ringo__task_clear_cancel(op->task);
		return -ECANCELED;
	}
	if (op->timeout >= 0 && (op->timer_fired || ringo__mono_ns() >= op->mono_deadline))
		return -ETIMEDOUT;
	/* Exact: ringo_close() marked this request when it cancelled it. */
	if (op->link.closed || (op->two_fds && op->link2.closed))
		return -EBADF;
	return res == -KERNEL_ERESTARTSYS ? -EINTR : res;
}

/* What an SQE's fd fields name, per opcode: FD_FILE when sqe->fd is a
 * file the request works on (the kernel's needs_file), FD_IN when
 * splice_fd_in is a second one. Other opcodes put something else there
 * (openat's dirfd, which a close does not stop; a socket's domain; a
 * buffer count) or finish at once (MSG_RING). */
enum { FD_FILE = 1, FD_IN = 2 };
static const uint8_t fd_use[IORING_OP_LAST] = {
	[IORING_OP_READV] = FD_FILE,
	[IORING_OP_WRITEV] = FD_FILE,
	[IORING_OP_FSYNC] = FD_FILE,
	[IORING_OP_READ_FIXED] = FD_FILE,
	[IORING_OP_WRITE_FIXED] = FD_FILE,
	[IORING_OP_POLL_ADD] = FD_FILE,
	[IORING_OP_SYNC_FILE_RANGE] = FD_FILE,
	[IORING_OP_SENDMSG] = FD_FILE,
	[IORING_OP_RECVMSG] = FD_FILE,
	[IORING_OP_ACCEPT] = FD_FILE,
	[IORING_OP_CONNECT] = FD_FILE,
	[IORING_OP_FALLOCATE] = FD_FILE,
	[IORING_OP_READ] = FD_FILE,
	[IORING_OP_WRITE] = FD_FILE,
	[IORING_OP_FADVISE] = FD_FILE,
	[IORING_OP_SEND] = FD_FILE,
	[IORING_OP_RECV] = FD_FILE,
	[IORING_OP_SPLICE] = FD_FILE | FD_IN,
	[IORING_OP_TEE] = FD_FILE | FD_IN,
	[IORING_OP_SHUTDOWN] = FD_FILE,
	[IORING_OP_FSETXATTR] = FD_FILE,
	[IORING_OP_FGETXATTR] = FD_FILE,
	[IORING_OP_URING_CMD] = FD_FILE,
	[IORING_OP_SEND_ZC] = FD_FILE,
	[IORING_OP_SENDMSG_ZC] = FD_FILE,
};

/* The general case of link_fds: an fd the index does not reach yet, no
 * fd at all, a fixed file, splice/tee's second fd. Cold: the hot
 * operations take the fast path. */
__attribute__((cold, noinline)) static int link_fds_slow(struct ringo__io_op *op,
							  const struct io_uring_sqe *sqe)
{
	RINGO_ASSERT(sqe->opcode < IORING_OP_LAST);
	RINGO_ASSERT(!op->two_fds);
	unsigned use = fd_use[sqe->opcode];
	ringo__list_init(&op->link.node);
	if (use & FD_FILE && sqe->fd >= 0 && !(sqe->flags & IOSQE_FIXED_FILE)) {
		int err = ringo__fd_link_add(op->io, sqe->fd, &op->link);
		if (err < 0)
			return err;
	}
	int in = sqe->splice_fd_in;
	if (!(use & FD_IN) || in < 0 || (sqe->splice_flags & SPLICE_F_FD_IN_FIXED))
		return 0;
	op->link2.user_data = op->link.user_data;
	ringo__list_init(&op->link2.node);
	int err = ringo__fd_link_add(op->io, in, &op->link2);
	if (err < 0) {
		ringo__fd_link_del(&op->link);
		return err;
	}
	op->two_fds = true;
	return 0;
}

/* Put the request on the fd index under the fds its SQE names. Fixed
 * files are indices into the ring's table, not fds: not indexed (a close
 * of theirs goes through the table). Inline, and the common case (one
 * plain fd the index already reaches) is a table load, three tests and
 * four stores: every operation passes here. */
static inline int link_fds(struct ringo__io_op *op, const struct io_uring_sqe *sqe)
{
	struct ringo__io_state *io = op->io;
	op->link.closed = false;
	if (ringo__likely(sqe->opcode < IORING_OP_LAST && fd_use[sqe->opcode] == FD_FILE &&
			  (unsigned)sqe->fd < io->fds_cap && !(sqe->flags & IOSQE_FIXED_FILE))) {
		ringo__fd_list_push(&io->fds[sqe->fd], &op->link.node);
		return 0;
	}
	return link_fds_slow(op, sqe);
}

/* io_uring runs splice and tee on a worker thread from the start, and a
 * timeout linked to such a request is never armed (seen on 6.18: the
 * splice blocks past its timeout). Their timeout is a loop timer that
 * cancels the operation, as a task cancel would. */
static bool worker_only(uint8_t opcode)
{
	return opcode == IORING_OP_SPLICE || opcode == IORING_OP_TEE;
}

static void timer_fire(void *arg)
{
	struct ringo__io_op *op = arg;
	if (!op->link.user_data || op->cancel_sent)
		return;
	start_cancelling(op, &op->timer_fired);
}

/* The linked timeout's CQE: -ETIME when it fired and cancelled the
 * request. -ENOENT or -EALREADY when it fired but its cancel missed or
 * only signalled an io-wq worker (see send_cancel): the request may go on
 * waiting, so the timeout falls back to cancels of our own. Its slot is
 * closed when the request completes, so a later CQE finds nothing. */
static void lt_complete(ringo_loop *loop, void *ctx, int32_t res, uint32_t flags)
{
	struct ringo__io_op *op = ctx;
	RINGO_ASSERT(op->lt_user_data != 0); /* its slot closes with the request */
	ringo__op_close(loop, op->lt_user_data);
	op->lt_user_data = 0;
	if ((res == -ENOENT || res == -EALREADY) && op->link.user_data && !op->cancel_sent)
		timer_fire(op);
}

/* The operation's timeout: a linked timeout (same submission), or for
 * worker-only opcodes a loop timer (true: *timer must be cancelled). */
__attribute__((noinline)) static bool add_timeout(struct ringo__io_op *op,
						  struct io_uring_sqe *sqe, ringo_handle *timer)
{
	RINGO_ASSERT(op->timeout >= 0);
	ringo_loop *loop = op->io->loop;
	if (worker_only(sqe->opcode) &&
	    ringo_call_later(loop, op->timeout, timer_fire, op, timer) == 0)
		return true;
	sqe->flags |= IOSQE_IO_LINK;
	struct io_uring_sqe *lt = io_uring_get_sqe(&loop->ring);
	RINGO_ASSERT(lt != NULL); /* reserved by begin() */
	io_uring_prep_link_timeout(lt, &op->ts, 0);
	/* Without a slot (no memory) its outcome is not watched: as before. */
	if (ringo__op_open(loop, lt_complete, op, &op->lt_user_data) < 0)
		op->lt_user_data = 0;
	lt->user_data = op->lt_user_data;
	return false;
}

/* The operation had a timeout or was cancelled, and is over: its loop
 * timer (timed), its linked timeout's slot and a pending cancel retry go,
 * so nothing late finds the record. */
__attribute__((noinline)) static void op_done_slow(struct ringo__io_op *op, bool timed,
						    ringo_handle timer)
{
	RINGO_ASSERT(op->link.user_data == 0); /* the request is over */
	if (timed)
		ringo_handle_cancel(timer);
	if (op->timeout >= 0 && op->lt_user_data) {
		ringo__op_close(op->io->loop, op->lt_user_data);
		op->lt_user_data = 0;
	}
	if ((op->cancel_sent || op->timer_fired) && op->retry_armed)
		ringo_handle_cancel(op->retry);
}

int ringo__io_wait(struct ringo__io_op *op, struct io_uring_sqe *sqe)
{
	ringo_loop *loop = op->io->loop;
	int err = ringo__op_open(loop, io_complete, op, &op->link.user_data);
	if (ringo__likely(err == 0)) {
		err = link_fds(op, sqe);
		if (ringo__unlikely(err < 0))
			ringo__op_close(loop, op->link.user_data);
	}
	if (ringo__unlikely(err < 0)) {
		/* The SQE is taken: make it harmless. */
		op->link.user_data = 0;
		io_uring_prep_nop(sqe);
		sqe->user_data = 0;
		return err;
	}
	sqe->user_data = op->link.user_data;
	ringo_handle timer;
	bool timed = op->timeout >= 0 && add_timeout(op, sqe, &timer);
	int res = ringo__task_suspend(&io_wait_ops, op);
	RINGO_ASSERT(op->link.user_data == 0); /* woken by the final CQE only */
	if (ringo__unlikely(op->timeout >= 0 || op->cancel_sent))
		op_done_slow(op, timed, timer);
	return map_result(op, res);
}

/* ---- the operations ---- */

#define IO_OP(opcode, prep_call) IO_OP_THEN(opcode, prep_call, (void)0)

/* `then` runs after a successful (res >= 0) completion, with res set. */
#define IO_OP_THEN(opcode, prep_call, then)                                                    \
	do {                                                                                   \
		struct ringo__io_op op;                                                        \
		int err;                                                                       \
		struct io_uring_sqe *sqe = ringo__io_prepare(&op, opcode, &err);               \
		if (ringo__unlikely(!sqe))                                                     \
			return err;                                                            \
		prep_call;                                                                     \
		int res = ringo__io_wait(&op, sqe);                                            \
		if (res >= 0)                                                                  \
			then;                                                                  \
		return res;                                                                    \
	} while (0)

void ringo__io_defined_iov(const struct iovec *iov, int iovcnt, size_t n)
{
	for (int i = 0; i < iovcnt && n > 0; i++) {
		size_t k = iov[i].iov_len < n ? iov[i].iov_len : n;
		ringo__io_defined(iov[i].iov_base, k);
		n -= k;
	}
}

static void msg_defined(struct msghdr *msg, int res)
{
	ringo__io_defined(msg, sizeof(*msg));
	if (msg->msg_name)
		ringo__io_defined(msg->msg_name, msg->msg_namelen);
	if (msg->msg_control)
		ringo__io_defined(msg->msg_control, msg->msg_controllen);
	ringo__io_defined_iov(msg->msg_iov, (int)msg->msg_iovlen, (size_t)res);
}

static void addr_defined(struct sockaddr *addr, socklen_t *addrlen)
{
	if (!addrlen)
		return;
	ringo__io_defined(addrlen, sizeof(*addrlen));
	if (addr)
		ringo__io_defined(addr, *addrlen);
}

int ringo_read(int fd, void *buf, size_t len, int64_t offset)
{
	IO_OP_THEN(IORING_OP_READ, io_uring_prep_read(sqe, fd, buf, (unsigned)len, (uint64_t)offset),
		   ringo__io_defined(buf, (size_t)res));
}

int ringo_write(int fd, const void *buf, size_t len, int64_t offset)
{
	IO_OP(IORING_OP_WRITE, io_uring_prep_write(sqe, fd, buf, (unsigned)len, (uint64_t)offset));
}

int ringo_readv(int fd, const struct iovec *iov, int iovcnt, int64_t offset)
{
	IO_OP_THEN(IORING_OP_READV,
		   io_uring_prep_readv(sqe, fd, iov, (unsigned)iovcnt, (uint64_t)offset),
		   ringo__io_defined_iov(iov, iovcnt, (size_t)res));
}

int ringo_writev(int fd, const struct iovec *iov, int iovcnt, int64_t offset)
{
	IO_OP(IORING_OP_WRITEV,
	      io_uring_prep_writev(sqe, fd, iov, (unsigned)iovcnt, (uint64_t)offset));
}

int ringo_recv(int fd, void *buf, size_t len, int flags)
{
	IO_OP_THEN(IORING_OP_RECV, io_uring_prep_recv(sqe, fd, buf, len, flags),
		   ringo__io_defined(buf, (size_t)res));
}

int ringo_send(int fd, const void *buf, size_t len, int flags)
{
	IO_OP(IORING_OP_SEND, io_uring_prep_send(sqe, fd, buf, len, flags | MSG_NOSIGNAL));
}

int ringo_recvmsg(int fd, struct msghdr *msg, int flags)
{
	IO_OP_THEN(IORING_OP_RECVMSG, io_uring_prep_recvmsg(sqe, fd, msg, (unsigned)flags),
		   msg_defined(msg, res));
}

int ringo_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	IO_OP(IORING_OP_SENDMSG,
	      io_uring_prep_sendmsg(sqe, fd, msg, (unsigned)(flags | MSG_NOSIGNAL)));
}

int ringo_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	IO_OP_THEN(IORING_OP_ACCEPT,
		   io_uring_prep_accept(sqe, fd, addr, addrlen, flags | SOCK_CLOEXEC),
		   addr_defined(addr, addrlen));
}

int ringo_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	IO_OP(IORING_OP_CONNECT, io_uring_prep_connect(sqe, fd, addr, addrlen));
}

int ringo_shutdown(int fd, int how)
{
	IO_OP(IORING_OP_SHUTDOWN, io_uring_prep_shutdown(sqe, fd, how));
}

int ringo_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	IO_OP(IORING_OP_OPENAT, io_uring_prep_openat(sqe, dirfd, path, flags, mode));
}

int ringo_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *out)
{
	IO_OP_THEN(IORING_OP_STATX, io_uring_prep_statx(sqe, dirfd, path, flags, mask, out),
		   ringo__io_defined(out, sizeof(*out)));
}

int ringo_fsync(int fd, unsigned flags)
{
	IO_OP(IORING_OP_FSYNC, io_uring_prep_fsync(sqe, fd, flags));
}

int ringo_fallocate(int fd, int mode, int64_t offset, int64_t len)
{
	IO_OP(IORING_OP_FALLOCATE, io_uring_prep_fallocate(sqe, fd, mode, offset, len));
}

int ringo_splice(int fd_in, int64_t off_in, int fd_out, int64_t off_out, size_t len,
		 unsigned flags)
{
	IO_OP(IORING_OP_SPLICE,
	      io_uring_prep_splice(sqe, fd_in, off_in, fd_out, off_out, (unsigned)len, flags));
}

int ringo_poll(int fd, unsigned events)
{
	IO_OP(IORING_OP_POLL_ADD, io_uring_prep_poll_add(sqe, fd, events));
}

/* close: cancel what ringo has in flight on fd first (each request by
 * its user_data, found through the fd index), then close. Tasks blocked
 * on fd wake with -EBADF instead of hanging on an fd that no longer
 * exists. The cancels need no link to the close: the kernel issues
 * ASYNC_CANCEL inline, in SQ order, so each one has done its work before
 * the close is even looked at. No ringo_io_timeout applies: a close
 * always completes. */
int ringo_close(int fd)
{
	if (fd < 0)
		return -EBADF;
	struct ringo__io_op op;
	int err = begin(&op, IORING_OP_CLOSE, 1, false);
	if (ringo__unlikely(err < 0))
		return err;
	ringo__fd_cancel_all(op.io, fd);
	/* Reserved by begin(), unless the cancels took the room: then the
	 * full SQ is flushed (in order) to make more. */
	struct io_uring_sqe *sqe = ringo__sqe(op.io->loop);
	io_uring_prep_close(sqe, fd);
	return ringo__io_wait(&op, sqe);
}

/* ---- the escape hatch ---- */

static void prep_copy(struct io_uring_sqe *sqe, void *ctx)
{
	memcpy(sqe, ctx, sizeof(*sqe));
}

int ringo_io_submit(ringo_io_prep_fn *prep, void *ctx, uint32_t *cqe_flags)
{
	if (!prep)
		return -EINVAL;
	struct ringo__io_op op;
	/* The opcode is known only after prep: check it then. */
	int err = begin(&op, IORING_OP_NOP, 1, true);
	if (err < 0)
		return err;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&op.io->loop->ring);
	RINGO_ASSERT(sqe != NULL); /* reserved by begin() */
	prep(sqe, ctx);
	if (sqe->opcode >= IORING_OP_LAST || !op.io->supported[sqe->opcode]) {
		io_uring_prep_nop(sqe);
		sqe->user_data = 0;
		return -EOPNOTSUPP;
	}
	if (op.timeout >= 0)
		sqe->flags &= (uint8_t)~(IOSQE_IO_LINK | IOSQE_IO_HARDLINK);
	int res = ringo__io_wait(&op, sqe);
	if (cqe_flags)
		*cqe_flags = op.cqe_flags;
	return res;
}

int ringo_io_submit_sqe(const struct io_uring_sqe *tmpl, uint32_t *cqe_flags)
{
	if (!tmpl)
		return -EINVAL;
	return ringo_io_submit(prep_copy, (void *)tmpl, cqe_flags);
}
