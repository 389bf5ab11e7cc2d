/*
 * Private to the I/O layer (io.c, io_timeout.c, net.c, udp.c): the
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

/* A kernel request on an fd, as ringo_close sees it. Every operation on
 * an fd (and the multishot acceptor, for its whole life) links one of
 * these on the fd's list in the loop's fd index, so that closing the fd
 * cancels exactly what is in flight on it, by user_data, without the
 * kernel scanning every request on the ring. */
struct ringo__fd_link {
	struct ringo__list node; /* on io->fds[fd]; points at itself when off */
	uint64_t user_data;      /* the request's tag, 0 = nothing in the kernel */
	bool closed;             /* ringo_close cancelled it: its fd is gone */
};

/* Per loop, made on first use, freed by a close hook. */
struct ringo__io_state {
	ringo_loop *loop;
	uint8_t supported[IORING_OP_LAST]; /* probe: opcode usable */
	bool multishot_accept;             /* 5.19: multishot ACCEPT works */
	/* The fd index: fds[fd] lists the links of requests in flight on fd
	 * (circular lists, heads in one array grown on demand). */
	struct ringo__list *fds;
	uint32_t fds_cap;                  /* fds[0..fds_cap) exist */
	uint64_t close_cancels;            /* ASYNC_CANCELs ringo_close sent (tests) */
};

/* One blocking operation, on the waiting task's stack. Valid from
 * ringo__io_prepare until ringo__io_wait returns; the op slot names it
 * (generation-tagged), so a CQE arriving later finds nothing. link is on
 * the fd index while the request is in flight (link.user_data is its
 * tag); link2 too for a request on two fds (splice, tee). */
struct ringo__io_op {
	ringo_task *task;
	struct ringo__io_state *io;
	struct ringo__fd_link link;  /* the request's fd; user_data: its tag */
	int64_t timeout;             /* ringo_io_timeout's, ns; < 0: none */
	int64_t mono_deadline;       /* start + timeout on CLOCK_MONOTONIC */
	struct __kernel_timespec ts; /* linked timeout (read at submit) */
	int32_t res;
	uint32_t cqe_flags;
	bool cancel_sent;            /* the task was cancelled: ASYNC_CANCEL sent */
	bool timer_fired;            /* the timeout's loop timer cancelled it (splice, tee) */
	bool two_fds;                /* link2 is in use */
	/* Valid once cancel_sent or timer_fired (see send_cancel, io.c): */
	bool retry_armed;            /* retry holds a timer that cancels again */
	ringo_handle retry;
	int64_t retry_ns;            /* the next retry's delay (0: the first) */
	uint64_t lt_user_data;       /* the linked timeout's slot, 0 = none (timeout >= 0 only) */
	struct ringo__fd_link link2; /* splice/tee: the input fd */
};

/* ---- the fd index (io_fd.c) ---- */

/* Make fds[fd] exist (fd >= 0): 0 or -ENOMEM. Amortised: doubles. */
int ringo__fd_index_grow(struct ringo__io_state *io, int fd);

/* Link l (user_data set, not linked) on fd's list. 0 or -ENOMEM. */
static inline int ringo__fd_link_add(struct ringo__io_state *io, int fd, struct ringo__fd_link *l)
{
	if (ringo__unlikely((unsigned)fd >= io->fds_cap)) {
		int err = ringo__fd_index_grow(io, fd);
		if (err < 0)
			return err;
	}
	l->closed = false;
	ringo__list_insert_tail(&io->fds[fd], &l->node);
	return 0;
}

/* Link a node that was never linked (its fields are garbage) at the
 * tail of head: ringo__list_insert_tail without the check, for the
 * operations' hot path. */
static inline void ringo__fd_list_push(struct ringo__list *head, struct ringo__list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

/* Take l off its fd's list; a no-op if ringo_close already did. */
static inline void ringo__fd_link_del(struct ringo__fd_link *l)
{
	ringo__list_remove(&l->node);
}

/* ringo_close's first half: take every link off fd's list, mark it
 * closed and queue an ASYNC_CANCEL by user_data for each request in the
 * kernel. Returns the number of cancels queued. */
unsigned ringo__fd_cancel_all(struct ringo__io_state *io, int fd);
/* Free the index (loop close). */
void ringo__fd_index_free(struct ringo__io_state *io);

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
 * pending cancel, probe, takes ringo_io_timeout's; returns the SQE to fill (space for the
 * linked timeout is reserved) or NULL with *err set. */
struct io_uring_sqe *ringo__io_prepare(struct ringo__io_op *op, int opcode, int *err);
/* Tag the filled SQE, link it on the fd index (the fds the SQE names,
 * unless they are fixed files), add the linked timeout, suspend until the
 * final CQE. Returns the result, a cancelled request's (-ECANCELED, or
 * -EINTR/-ERESTARTSYS from an io-wq worker) mapped to -ECANCELED,
 * -ETIMEDOUT or -EBADF where the task's cancel, its timeout or ringo_close
 * caused it. */
int ringo__io_wait(struct ringo__io_op *op, struct io_uring_sqe *sqe);

/* The next operation's timeout (ringo_io_timeout), taken: it applies to
 * one operation only. < 0: none. Inline: every operation asks. */
static inline int64_t ringo__io_take_timeout(struct ringo__task_io *tio)
{
	int64_t t = tio->next_timeout;
	tio->next_timeout = -1;
	return t;
}

/* A provided buffer ring (net.c): buffer bid is mem + bid * bufsize. */
struct ringo_bufring {
	ringo_loop *loop;
	struct io_uring_buf_ring *br;
	size_t ring_bytes;
	char *mem;
	size_t mem_bytes;
	size_t bufsize;
	unsigned nbufs;
	unsigned group;
	/* Which buffer each ring slot was last given, and the slot each
	 * buffer went into: a receive bundle reports only its first buffer
	 * and covers the slots after it, and putting buffers back in another
	 * order than they were taken makes those ids differ from bid + 1. */
	uint16_t *slot_bid;
	uint16_t *bid_slot;
};

/* The ring slot a completion's first buffer came from; its bundle covers
 * the slots after it. Read it before putting that buffer back (which
 * moves the buffer to another slot). */
static inline unsigned ringo__bufring_slot_of(const ringo_bufring *b, unsigned first)
{
	unsigned slot = b->bid_slot[first];
	RINGO_ASSERT(b->slot_bid[slot] == first);
	return slot;
}

/* The buffer taken from ring slot `slot` (any count; it wraps). Valid
 * while that buffer is not back: a slot is refilled only by putting a
 * buffer back, and the tail cannot wrap onto a slot whose buffer is still
 * out (see ringo_bufring_put). */
static inline unsigned ringo__bufring_slot_bid(const ringo_bufring *b, unsigned slot)
{
	return b->slot_bid[slot & (b->nbufs - 1)];
}

/* CLOCK_MONOTONIC now, ns. */
int64_t ringo__mono_ns(void);

/* A multishot request (receive, accept) posted a completion that is not
 * its last, and its owner had queued an ASYNC_CANCEL for it (*sent): if a
 * completion already came after that cancel (seen), the kernel found the
 * request busy (re-running it: a socket or backlog that never empties)
 * and left it going. Then this clears *sent and returns true: the owner
 * cancels again. The owner sets its seen flag to its sent flag after
 * each such completion, and clears both when the request ends. */
static inline bool ringo__mshot_cancel_lost(bool *sent, bool seen)
{
	if (!*sent || !seen)
		return false;
	*sent = false;
	return true;
}

#endif
