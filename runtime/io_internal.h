/*
 * Private to the I/O layer (io.c, deadline.c, net.c, signal.c): the
 * per-loop I/O state and the operation record every blocking op uses.
 */
#ifndef RINGO_IO_INTERNAL_H
#define RINGO_IO_INTERNAL_H

#include "internal.h"

/* Memory the kernel wrote through io_uring is invisible to Valgrind:
 * mark what an operation filled in as defined (a few instructions, no
 * syscall, outside Valgrind). */
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define ringo__io_defined(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#else
#define ringo__io_defined(p, n) ((void)0)
#endif
struct iovec;
/* Mark the first n bytes spread over iov as defined. */
void ringo__io_defined_iov(const struct iovec *iov, int iovcnt, size_t n);

/* Per loop, made on first use, freed by a close hook. */
struct ringo__io_state {
	ringo_loop *loop;
	uint8_t supported[IORING_OP_LAST]; /* probe: opcode usable */
	bool cancel_fd;                    /* ASYNC_CANCEL_FD|ALL works */
	uint64_t closes;                   /* ringo_close calls so far */
	int signal_fd;                     /* -1 until ringo_signal_wait */
	sigset_t signal_mask;              /* what signal_fd reads */
};

/* One blocking operation, on the waiting task's stack. Valid from
 * ringo__io_prepare until ringo__io_wait returns; the op slot names it
 * (generation-tagged), so a CQE arriving later finds nothing. */
struct ringo__io_op {
	ringo_task *task;
	struct ringo__io_state *io;
	uint64_t user_data;          /* 0 until submitted */
	int64_t deadline;            /* loop-time deadline, 0 = none */
	int64_t mono_deadline;       /* the same on CLOCK_MONOTONIC */
	uint64_t closes;             /* io->closes at submission */
	struct __kernel_timespec ts; /* linked timeout (read at submit) */
	int32_t res;
	uint32_t cqe_flags;
	bool cancel_sent;            /* the task was cancelled: ASYNC_CANCEL sent */
	bool deadline_fired;         /* the deadline timer cancelled it (splice, tee) */
};

struct ringo__io_state *ringo__io_state_new(ringo_loop *loop);

/* The loop's I/O state, made if needed; NULL on -ENOMEM. Inline, with the
 * making out of line: every operation asks, and an inlined slow path made
 * the fast one save and restore every callee-saved register. */
static inline struct ringo__io_state *ringo__io_state(ringo_loop *loop)
{
	if (ringo__likely(loop && loop->io))
		return loop->io;
	return ringo__io_state_new(loop);
}

/* Begin an operation of opcode for the current task: checks task,
 * pending cancel, probe, deadline; returns the SQE to fill (space for the
 * linked timeout is reserved) or NULL with *err set. */
struct io_uring_sqe *ringo__io_prepare(struct ringo__io_op *op, int opcode, int *err);
/* Tag the filled SQE, add the linked timeout, suspend until the final
 * CQE. Returns the result with -ECANCELED mapped to -ETIMEDOUT/-EBADF
 * where a deadline or ringo_close caused it. */
int ringo__io_wait(struct ringo__io_op *op, struct io_uring_sqe *sqe);

/* The earlier of two deadlines, 0 meaning none. */
static inline int64_t ringo__earliest(int64_t a, int64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

/* The effective deadline of a task's next op (consumes the one-shot
 * per-op deadline), 0 = none. Inline: every operation asks. */
static inline int64_t ringo__io_take_deadline(struct ringo__task_io *tio)
{
	int64_t next = tio->next_deadline;
	tio->next_deadline = 0;
	return ringo__earliest(next, tio->scope_deadline);
}

/* CLOCK_MONOTONIC now, ns. */
int64_t ringo__mono_ns(void);

#endif
