/*
 * The fd index: for each fd, the requests ringo has in flight on it.
 *
 * ringo_close must stop what is in flight on the fd before closing it (a
 * request holds its own reference to the file, so closing alone would let
 * a blocked receive wait forever). Asking the kernel to cancel by fd makes
 * it compare every request on the ring (IORING_ASYNC_CANCEL_FD walks every
 * poll hash bucket), so each close cost time in proportion to the number
 * of open connections: with 15,000 idle ones, 29x fewer connections a
 * second. ringo knows what it submitted, so it keeps the list per fd and
 * cancels each request by user_data, which the kernel finds through its
 * hash; with nothing in flight (the usual close, by the task that used the
 * fd) nothing but the close is submitted.
 *
 * The heads live in one array indexed by fd, grown by doubling; the nodes
 * live in the requests' own records (a task's stack, the acceptor), so
 * linking and unlinking allocate nothing.
 */
#include <string.h>

#include "io_internal.h"

__attribute__((cold, noinline)) int ringo__fd_index_grow(struct ringo__io_state *io, int fd)
{
	RINGO_ASSERT(fd >= 0);
	RINGO_ASSERT((uint32_t)fd >= io->fds_cap); /* callers grow only when short */
	uint32_t cap = io->fds_cap ? io->fds_cap : 64;
	while (cap <= (uint32_t)fd)
		cap *= 2;
	struct ringo__list *fds = ringo__alloc(io->loop, cap * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	/* Move each list to its new head: the first and last nodes point at
	 * the old one. */
	for (uint32_t i = 0; i < io->fds_cap; i++) {
		struct ringo__list *old = &io->fds[i];
		if (ringo__list_empty(old)) {
			ringo__list_init(&fds[i]);
			continue;
		}
		fds[i] = *old;
		fds[i].next->prev = &fds[i];
		fds[i].prev->next = &fds[i];
	}
	for (uint32_t i = io->fds_cap; i < cap; i++)
		ringo__list_init(&fds[i]);
	ringo__free(io->loop, io->fds, io->fds_cap * sizeof(*fds));
	io->fds = fds;
	io->fds_cap = cap;
	return 0;
}

unsigned ringo__fd_cancel_all(struct ringo__io_state *io, int fd)
{
	RINGO_ASSERT(io->loop->ring_ready); /* ringo_close's begin() saw the ring */
	if (fd < 0 || (unsigned)fd >= io->fds_cap)
		return 0;
	struct ringo__list *head = &io->fds[fd];
	unsigned sent = 0;
	/* Nothing here can run a completion (SQEs are only queued; a full SQ
	 * is flushed without reaping), so the list holds still meanwhile. */
	while (!ringo__list_empty(head)) {
		struct ringo__fd_link *l = ringo__container_of(head->next, struct ringo__fd_link, node);
		ringo__list_remove(&l->node);
		l->closed = true;
		if (!l->user_data)
			continue; /* linked but not in the kernel (a paused acceptor) */
		struct io_uring_sqe *sqe = ringo__sqe(io->loop);
		RINGO_ASSERT(sqe != NULL); /* the ring is up: the caller checked */
		io_uring_prep_cancel64(sqe, l->user_data, 0);
		sqe->user_data = 0; /* its own CQE matters to nobody */
		sent++;
	}
	io->close_cancels += sent;
	return sent;
}

void ringo__fd_index_free(struct ringo__io_state *io)
{
	RINGO_ASSERT(io->fds != NULL || io->fds_cap == 0);
	ringo__free(io->loop, io->fds, io->fds_cap * sizeof(*io->fds));
	io->fds = NULL;
	io->fds_cap = 0;
}
