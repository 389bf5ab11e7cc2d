/*
 * Private to the aio layer (gather.c, wait.c, group.c, timeout.c, sync.c,
 * queue.c): the wait-list helpers and the waiter record every blocking
 * primitive shares.
 */
#ifndef RINGO_AIO_INTERNAL_H
#define RINGO_AIO_INTERNAL_H

#include "internal.h"

/* ---- struct ringo_wq: circular list with a head node, like ringo__list.
 * A node is unlinked when it points at itself. */
static inline void aio_wq_init(struct ringo_wq *l)
{
	l->next = l;
	l->prev = l;
}

static inline bool aio_wq_empty(const struct ringo_wq *l)
{
	return l->next == l;
}

static inline void aio_wq_push(struct ringo_wq *head, struct ringo_wq *n)
{
	RINGO_ASSERT(n->next == n);
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static inline void aio_wq_remove(struct ringo_wq *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n;
	n->prev = n;
}

/* A task blocked on a primitive. Lives on the blocked task's stack for
 * the duration of the wait; linked on the primitive's list while the task
 * waits and has not been woken.
 *
 * Wake, then take (asyncio's rule): waking a waiter only tells it to look
 * again (asyncio sets its future's result); what it waited for (an item,
 * room, the lock, a unit) is taken by the task itself when it runs. A
 * cancel that lands between the wake and the run therefore turns the wake
 * into -ECANCELED (every wait here has keep_result false) with nothing
 * taken, and the waiter passes the wake on where asyncio does. */
struct aio_waiter {
	struct ringo_wq link;    /* must stay first */
	ringo_task *task;
	bool woken;              /* woken by the other side (and unlinked) */
};

static inline struct aio_waiter *aio_waiter_of(struct ringo_wq *n)
{
	return ringo__container_of(n, struct aio_waiter, link);
}

static inline void aio_waiter_init(struct aio_waiter *w)
{
	aio_wq_init(&w->link);
	w->task = ringo_task_current();
	w->woken = false;
}

/* Unlink the first waiter, mark it woken and wake it (its wait returns 0
 * unless a cancel overtakes the wake). */
static inline struct aio_waiter *aio_wake_first(struct ringo_wq *head)
{
	RINGO_ASSERT(!aio_wq_empty(head));
	struct aio_waiter *w = aio_waiter_of(head->next);
	aio_wq_remove(&w->link);
	w->woken = true;
	ringo__task_wake(w->task, 0);
	return w;
}

/* Wake every waiter, FIFO. */
static inline void aio_wake_all(struct ringo_wq *head)
{
	while (!aio_wq_empty(head))
		aio_wake_first(head);
}

/* interrupt handler for waits whose ctx is a linked aio_waiter: unlink and
 * wake with -ECANCELED. */
void ringo__aio_interrupt(ringo_task *t);

/* Link w (initialised by the caller) at the tail of head and suspend the
 * current task on it. 0 when woken; -ECANCELED when cancelled (before or
 * after a wake: w->woken tells), w unlinked either way. */
int ringo__aio_block(struct ringo_wq *head, struct aio_waiter *w,
		     const struct ringo__wait_ops *ops);


/* ---- watching many futures (gather, wait, as_completed) ----
 * One heap record per call: a done callback per pending future points at
 * its slot. Callbacks that are already queued cannot be taken back, so
 * the record is reference counted (the owner plus every registered
 * callback) and outlives its owner until the last callback has run. */
struct aio_watch;
typedef void aio_watch_fn(struct aio_watch *w, size_t i);

struct aio_watch_slot {
	struct aio_watch *w;
	ringo_future *fut;       /* referenced until the owner leaves */
};

struct aio_watch {
	ringo_loop *loop;
	size_t refs;             /* owner + callbacks registered, not yet run */
	size_t n;
	aio_watch_fn *on_done;   /* NULL once the owner has left */
	void *ctx;               /* the owner's state, valid while on_done is set */
	ringo_task *task;        /* the owner while suspended waiting */
	struct aio_watch_slot slots[];
};

/* Make a record over futs[0..n) (all on one loop, else -EINVAL); no
 * callbacks yet. 0, -EINVAL, -ENOMEM. */
int ringo__watch_new(ringo_loop *loop, ringo_future *const *futs, size_t n,
		     struct aio_watch **out);
/* Register the done callback of slot i (a pending future). */
int ringo__watch_arm(struct aio_watch *w, size_t i);
/* The owner leaves: unhook what can be, drop references, free if last. */
void ringo__watch_leave(struct aio_watch *w);
/* Wake the owner once with value, if it is waiting. */
void ringo__watch_wake(struct aio_watch *w, int value);

#endif /* RINGO_AIO_INTERNAL_H */
