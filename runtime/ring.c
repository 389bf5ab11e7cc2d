/*
 * The loop's io_uring: set-up with the best flags the kernel offers (probed
 * once per process), the one submit-and-wait per iteration, and completion
 * dispatch through generation-tagged op slots.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "thread_internal.h" /* ring messages (loops.c registers the handler) */

/* Flags we would like, best first. SINGLE_ISSUER and DEFER_TASKRUN need the
 * submitting thread to be fixed: the ring starts disabled (R_DISABLED) and
 * is enabled by the thread that first runs the loop, so a loop may be
 * created on one thread and run on another (asyncio's run-in-a-thread
 * pattern). */
#define WANT_FLAGS                                                                            \
	(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN | \
	 IORING_SETUP_SUBMIT_ALL)

static const unsigned fallbacks[] = {
	WANT_FLAGS,
	IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
	IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
	IORING_SETUP_SUBMIT_ALL,
	0,
};

/* Index into fallbacks[] known to work; -1 until probed. */
static _Atomic int probed_index = -1;

static int ring_try(struct io_uring *ring, unsigned entries, unsigned flags)
{
	RINGO_ASSERT(entries > 0);
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	p.flags = flags;
	if (flags & IORING_SETUP_SINGLE_ISSUER)
		p.flags |= IORING_SETUP_R_DISABLED;
	/* A CQ four times the SQ: multishot ops post many CQEs per SQE. */
	p.flags |= IORING_SETUP_CQSIZE;
	p.cq_entries = entries * 4 < 65536 ? entries * 4 : 65536;
	return io_uring_queue_init_params(entries, ring, &p);
}

int ringo__ring_init(ringo_loop *loop, unsigned entries, bool no_flags)
{
	RINGO_ASSERT(!loop->ring_ready); /* one ring per loop */
	int start = no_flags ? (int)(sizeof(fallbacks) / sizeof(fallbacks[0])) - 1 : probed_index;
	if (start < 0)
		start = 0;
	int err = -EINVAL;
	for (int i = start; i < (int)(sizeof(fallbacks) / sizeof(fallbacks[0])); i++) {
		err = ring_try(&loop->ring, entries, fallbacks[i]);
		if (err == 0) {
			if (!no_flags)
				atomic_store(&probed_index, i);
			loop->ring_flags = fallbacks[i];
			loop->ring_ready = true;
			loop->ring_enabled = !(fallbacks[i] & IORING_SETUP_SINGLE_ISSUER);
			ringo__setup_succeeded();
			return 0;
		}
		/* Only "flag not supported" moves down the list; ENOMEM, EMFILE,
		 * EPERM and friends are real failures. */
		if (err != -EINVAL)
			break;
	}
	/* EPERM and ENOSYS: io_uring refused (sysctl, seccomp, kernel); the
	 * cause is found now, while /proc still describes this thread. */
	ringo__setup_failed(err);
	return err;
}

int ringo__ring_enable(ringo_loop *loop)
{
	RINGO_ASSERT(loop->ring_ready);
	if (loop->ring_enabled)
		return 0;
	/* liburing 2.3 declares io_uring_enable_rings() but does not export it;
	 * io_uring_register() is exported. */
	int err = io_uring_register(loop->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	if (err < 0)
		return err;
	loop->ring_enabled = true;
	return 0;
}

/* A registered ring fd lets each io_uring_enter skip the fd-table lookup
 * (fdget/fdput; atomic once the process has a second thread, and ringo's
 * executor makes one). The registration lives in the calling thread's
 * io_uring context, so it is made when a run starts and dropped when the
 * run ends, on the loop's own thread: a loop closed from another thread
 * then never asks liburing to unregister an index of that thread's table
 * (which could be another loop's). At most one slot per thread is used
 * (one loop runs per thread). Failure (old kernel, a thread whose 16
 * slots are taken) only means the plain fd is used. */
void ringo__ring_fd_register(ringo_loop *loop)
{
	RINGO_ASSERT(!loop->ring_fd_registered);
	if (!loop->ring_ready)
		return;
	loop->ring_fd_registered = io_uring_register_ring_fd(&loop->ring) == 1;
}

void ringo__ring_fd_unregister(ringo_loop *loop)
{
	if (!loop->ring_fd_registered)
		return;
	RINGO_ASSERT(loop->ring_ready); /* registered only while the ring is up */
	loop->ring_fd_registered = false;
	/* Fails only if the slot is already gone; then liburing keeps its
	 * flag set and every enter would fail with -EBADF. */
	if (io_uring_unregister_ring_fd(&loop->ring) != 1)
		ringo__panic("io_uring_unregister_ring_fd failed");
}

void ringo__ring_exit(ringo_loop *loop)
{
	RINGO_ASSERT(!loop->ring_fd_registered);
	if (!loop->ring_ready)
		return;
	io_uring_queue_exit(&loop->ring);
	loop->ring_ready = false;
}

struct io_uring_sqe *ringo__sqe(ringo_loop *loop)
{
	if (!loop->ring_ready)
		return NULL;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);
	if (ringo__likely(sqe != NULL))
		return sqe;
	/* Full: hand what we have to the kernel (without waiting) and retry.
	 * With DEFER_TASKRUN this does not run completions, so no callback
	 * can re-enter us from here. */
	for (;;) {
		int ret = ringo__ring_submit(loop);
		sqe = io_uring_get_sqe(&loop->ring);
		if (sqe)
			return sqe;
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			ringo__panic("io_uring_submit failed with a full queue: %s",
				     ringo_strerror(ret));
	}
}

/* Every kernel entry counts itself and the SQEs it flushes (those
 * prepared since the last flush) for ringo_loop_stats. */
static inline void count_enter(ringo_loop *loop)
{
	loop->n_enters++;
	loop->n_sqes += loop->ring.sq.sqe_tail - loop->ring.sq.sqe_head;
}

int ringo__ring_submit(ringo_loop *loop)
{
	RINGO_ASSERT(loop->ring_ready);
	count_enter(loop);
	return io_uring_submit(&loop->ring);
}

/* ---- op slots ---- */

__attribute__((cold, noinline)) static int ops_grow(ringo_loop *loop)
{
	/* Only a table with every slot open grows (the free list is empty). */
	RINGO_ASSERT(loop->ops_free == 0 && loop->ops_inflight == loop->ops_cap);
	uint32_t old = loop->ops_cap;
	uint32_t cap = old ? old * 2 : 256;
	struct ringo__op_slot *ops =
		ringo__realloc(loop, loop->ops, old * sizeof(*ops), cap * sizeof(*ops));
	if (!ops)
		return -ENOMEM;
	for (uint32_t i = old; i < cap; i++) {
		ops[i].fn = NULL;
		ops[i].ctx = NULL;
		ops[i].generation = 1;
		ops[i].next_free = i + 1 < cap ? i + 2 : loop->ops_free;
	}
	loop->ops = ops;
	loop->ops_cap = cap;
	loop->ops_free = old + 1;
	return 0;
}

__attribute__((cold, noinline)) static int op_open_slow(ringo_loop *loop, ringo__cqe_fn *fn,
							void *ctx, uint64_t *user_data)
{
	if (ops_grow(loop) < 0)
		return -ENOMEM;
	return ringo__op_open(loop, fn, ctx, user_data);
}

/* The growth is a tail call: inlined, it made every open save and
 * restore all callee-saved registers. */
int ringo__op_open(ringo_loop *loop, ringo__cqe_fn *fn, void *ctx, uint64_t *user_data)
{
	if (ringo__unlikely(loop->ops_free == 0))
		return op_open_slow(loop, fn, ctx, user_data);
	uint32_t index = loop->ops_free - 1;
	struct ringo__op_slot *op = &loop->ops[index];
	loop->ops_free = op->next_free;
	op->fn = fn;
	op->ctx = ctx;
	loop->ops_inflight++;
	*user_data = (uint64_t)op->generation << 32 | (index + 1);
	return 0;
}

void ringo__op_close(ringo_loop *loop, uint64_t user_data)
{
	uint32_t index = (uint32_t)user_data - 1;
	RINGO_ASSERT(index < loop->ops_cap);
	struct ringo__op_slot *op = &loop->ops[index];
	RINGO_ASSERT(op->fn != NULL && op->generation == (uint32_t)(user_data >> 32));
	op->fn = NULL;
	op->ctx = NULL;
	/* 31 bits: user_data with bit 63 set is a MSG_RING message. */
	op->generation = (op->generation + 1) & 0x7fffffffu;
	if (op->generation == 0)
		op->generation = 1;
	op->next_free = loop->ops_free;
	loop->ops_free = index + 1;
	loop->ops_inflight--;
}

/* Where CQEs tagged RINGO__UD_MSG go: the loop-threads layer (loops.c)
 * registers it before posting its first message, so it is set before any
 * such CQE exists (release/acquire: the setter's thread posts, another
 * loop's thread reaps). */
static ringo__msg_fn *_Atomic msg_handler;

void ringo__ring_set_msg_handler(ringo__msg_fn *fn)
{
	atomic_store_explicit(&msg_handler, fn, memory_order_release);
}

static void dispatch(ringo_loop *loop, uint64_t user_data, int32_t res, uint32_t flags)
{
	if (ringo__unlikely(user_data & RINGO__UD_MSG)) {
		ringo__msg_fn *fn = atomic_load_explicit(&msg_handler, memory_order_acquire);
		RINGO_ASSERT(fn != NULL);
		fn(loop, user_data, res);
		return;
	}
	uint32_t slot = (uint32_t)user_data;
	if (slot == 0)
		return;
	uint32_t index = slot - 1;
	if (ringo__unlikely(index >= loop->ops_cap ||
			    loop->ops[index].generation != (uint32_t)(user_data >> 32) ||
			    loop->ops[index].fn == NULL)) {
		loop->stale_cqes++;
		return;
	}
	struct ringo__op_slot *op = &loop->ops[index];
	op->fn(loop, op->ctx, res, flags);
}

/* Reap every completion available now. Handlers may queue more SQEs. */
static unsigned reap(ringo_loop *loop)
{
	unsigned total = 0;
	for (;;) {
		struct io_uring_cqe *cqes[64];
		unsigned n = io_uring_peek_batch_cqe(&loop->ring, cqes, 64);
		if (n == 0) {
			loop->n_cqes += total;
			return total;
		}
		for (unsigned i = 0; i < n; i++) {
			uint64_t ud = cqes[i]->user_data;
			int32_t res = cqes[i]->res;
			uint32_t flags = cqes[i]->flags;
			/* Release the CQE slot before running the handler: handlers
			 * may submit, and a full CQ would overflow needlessly. */
			io_uring_cq_advance(&loop->ring, 1);
			dispatch(loop, ud, res, flags);
		}
		total += n;
	}
}

/* The single kernel entry of an iteration: submit what is queued and wait
 * up to timeout_ns (< 0: no limit; 0: do not wait) for one completion,
 * then dispatch everything that completed. loop.c skips the call when
 * there is nothing to submit, reap or hear of; out of line in another
 * file, so that counting entries for the metrics costs the callers that
 * skip it nothing. */
void ringo__ring_wait(ringo_loop *loop, int64_t timeout_ns)
{
	struct io_uring *ring = &loop->ring;
	if (timeout_ns == 0) {
		int ret;
		do {
			count_enter(loop);
			ret = io_uring_submit_and_get_events(ring);
		} while (ret == -EINTR);
		reap(loop);
		return;
	}
	struct __kernel_timespec ts, *tsp = NULL;
	if (timeout_ns > 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tsp = &ts;
	}
	struct io_uring_cqe *cqe;
	count_enter(loop);
	int ret = io_uring_submit_and_wait_timeout(ring, &cqe, 1, tsp, NULL);
	/* -ETIME: the deadline passed; -EINTR: a signal; -EBUSY: the CQ
	 * overflowed and the kernel wants it drained first. All three are
	 * handled by reaping what is there and going round again. */
	if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN)
		ringo__panic("io_uring wait failed: %s", ringo_strerror(ret));
	reap(loop);
}

/* A ring that was never enabled (the loop never ran: R_DISABLED refuses
 * every submission) has given the kernel nothing: each open op is only an
 * SQE in the ring. Complete each as cancelled, as the kernel would have,
 * so that its owner (a stream made, a child spawned before the loop ran)
 * cleans up instead of waiting forever. Bounded passes: a handler that
 * queued again in closed mode is not chased for ever. */
__attribute__((cold)) static void drain_unsubmitted(ringo_loop *loop)
{
	RINGO_ASSERT(!loop->ring_enabled); /* nothing reached the kernel */
	for (int pass = 0; pass < 4 && loop->ops_inflight > 0; pass++) {
		for (uint32_t i = 0; i < loop->ops_cap; i++) {
			struct ringo__op_slot *op = &loop->ops[i];
			if (op->fn)
				dispatch(loop, (uint64_t)op->generation << 32 | (i + 1), -ECANCELED, 0);
		}
	}
}

/* Close time: kernel operations still in flight may write into memory
 * that close is about to free (task stacks, buffers). Cancel them all and
 * wait for their final completions first, dispatching them as usual (the
 * handlers see a closed loop). Bounded: an operation the kernel cannot
 * cancel is waited for at most ~10 s, then abandoned with a warning. */
void ringo__ring_drain(ringo_loop *loop)
{
	RINGO_ASSERT(loop->closed); /* handlers see a closed loop */
	if (!loop->ring_ready || loop->ops_inflight == 0)
		return;
	if (!loop->ring_enabled) {
		drain_unsubmitted(loop);
		return;
	}
	/* SINGLE_ISSUER: only the loop's thread may submit. */
	if ((loop->ring_flags & IORING_SETUP_SINGLE_ISSUER) && loop->has_owner &&
	    !pthread_equal(loop->owner, pthread_self())) {
		fprintf(stderr, "ringo: loop closed by another thread with %u operations in "
				"flight; they cannot be cancelled from here\n",
			loop->ops_inflight);
		return;
	}
	/* Sent every round: a cancel can miss a request caught between two
	 * attempts (see send_cancel in io.c). */
	for (int rounds = 0; loop->ops_inflight > 0 && rounds < 100; rounds++) {
		struct io_uring_sqe *sqe = ringo__sqe(loop);
		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
		io_uring_sqe_set_data64(sqe, 0);
		ringo__ring_wait(loop, RINGO_MSEC(100));
	}
	if (loop->ops_inflight > 0)
		fprintf(stderr, "ringo: %u operations still in flight at close\n",
			loop->ops_inflight);
}
