/*
 * Queues: asyncio's Queue, LifoQueue and PriorityQueue, with 3.13's
 * shutdown.
 *
 * Items move by hand-over, not by "wake and retry": put on an empty queue
 * with getters waiting gives the item straight to the first getter; get
 * from a full queue with putters waiting moves the first putter's item
 * into the freed slot. So a woken task never finds its work stolen, order
 * stays FIFO among waiters, and a producer/consumer pair switches tasks
 * only when the buffer fills or drains (twice per maxsize items), which is
 * what makes the hot path a few loads and stores.
 *
 * Invariants: getters waiting => the queue is empty; putters waiting =>
 * the queue is full (bounded). Waits use keep_result: an item handed over
 * is never lost to a cancellation that arrives before the task runs (the
 * cancel is delivered at its next suspension instead).
 */
#include <string.h>

#include "aio_internal.h"

enum { QUEUE_FIFO, QUEUE_LIFO, QUEUE_PRIO };

static const struct ringo__wait_ops get_wait = {"queue get", ringo__aio_interrupt_keep, true};
static const struct ringo__wait_ops put_wait = {"queue put", ringo__aio_interrupt_keep, true};

static int queue_init(ringo_queue *q, ringo_loop *loop, size_t maxsize, int kind,
		      ringo_queue_cmp_fn *cmp)
{
	if (!q || !loop)
		return -EINVAL;
	memset(q, 0, sizeof(*q));
	q->loop = loop;
	q->maxsize = maxsize;
	q->kind = kind;
	q->cmp = cmp;
	aio_wq_init(&q->getters);
	aio_wq_init(&q->putters);
	ringo_event_init(&q->finished);
	ringo_event_set(&q->finished);
	if (maxsize) {
		if (maxsize > SIZE_MAX / sizeof(void *))
			return -EINVAL;
		q->buf = ringo__alloc(loop, maxsize * sizeof(void *));
		if (!q->buf)
			return -ENOMEM;
		q->cap = maxsize;
	}
	return 0;
}

int ringo_queue_init(ringo_queue *q, ringo_loop *loop, size_t maxsize)
{
	return queue_init(q, loop, maxsize, QUEUE_FIFO, NULL);
}

int ringo_lifo_queue_init(ringo_queue *q, ringo_loop *loop, size_t maxsize)
{
	return queue_init(q, loop, maxsize, QUEUE_LIFO, NULL);
}

int ringo_priority_queue_init(ringo_queue *q, ringo_loop *loop, size_t maxsize,
			      ringo_queue_cmp_fn *cmp)
{
	if (!cmp)
		return -EINVAL;
	return queue_init(q, loop, maxsize, QUEUE_PRIO, cmp);
}

int ringo_queue_destroy(ringo_queue *q)
{
	if (!aio_wq_empty(&q->getters) || !aio_wq_empty(&q->putters) ||
	    ringo_event_destroy(&q->finished) < 0)
		return -EBUSY;
	if (q->buf)
		ringo__free(q->loop, q->buf, q->cap * sizeof(void *));
	q->buf = NULL;
	q->cap = q->len = 0;
	return 0;
}

/* ---- storage ---- */

/* Unbounded queues only: double the buffer (FIFO items are unwrapped). */
__attribute__((cold)) static int grow(ringo_queue *q)
{
	size_t ncap = q->cap ? q->cap * 2 : 16;
	if (ncap > SIZE_MAX / sizeof(void *))
		return -ENOMEM;
	void **nbuf = ringo__alloc(q->loop, ncap * sizeof(void *));
	if (!nbuf)
		return -ENOMEM;
	for (size_t i = 0; i < q->len; i++)
		nbuf[i] = q->buf[q->kind == QUEUE_FIFO ? (q->head + i) % q->cap : i];
	if (q->buf)
		ringo__free(q->loop, q->buf, q->cap * sizeof(void *));
	q->buf = nbuf;
	q->cap = ncap;
	q->head = 0;
	return 0;
}

static void heap_push(ringo_queue *q, void *item)
{
	size_t i = q->len++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (q->cmp(q->buf[parent], item) <= 0)
			break;
		q->buf[i] = q->buf[parent];
		i = parent;
	}
	q->buf[i] = item;
}

static void *heap_pop(ringo_queue *q)
{
	void *top = q->buf[0];
	void *last = q->buf[--q->len];
	size_t i = 0, n = q->len;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && q->cmp(q->buf[c + 1], q->buf[c]) < 0)
			c++;
		if (q->cmp(last, q->buf[c]) <= 0)
			break;
		q->buf[i] = q->buf[c];
		i = c;
	}
	if (n)
		q->buf[i] = last;
	return top;
}

/* Store one item; room is guaranteed by the caller. */
static inline void push(ringo_queue *q, void *item)
{
	RINGO_ASSERT(q->len < q->cap);
	if (ringo__likely(q->kind == QUEUE_FIFO)) {
		size_t tail = q->head + q->len;
		if (tail >= q->cap)
			tail -= q->cap;
		q->buf[tail] = item;
		q->len++;
	} else if (q->kind == QUEUE_LIFO) {
		q->buf[q->len++] = item;
	} else {
		heap_push(q, item);
	}
}

static inline void *pop(ringo_queue *q)
{
	RINGO_ASSERT(q->len > 0);
	if (ringo__likely(q->kind == QUEUE_FIFO)) {
		void *item = q->buf[q->head];
		if (++q->head == q->cap)
			q->head = 0;
		q->len--;
		return item;
	}
	if (q->kind == QUEUE_LIFO)
		return q->buf[--q->len];
	return heap_pop(q);
}

static inline bool is_full(const ringo_queue *q)
{
	return q->maxsize && q->len >= q->maxsize;
}

static inline void count_put(ringo_queue *q)
{
	if (q->unfinished++ == 0)
		ringo_event_clear(&q->finished);
}

/* ---- put / get ---- */

/* Everything put does that cannot wait: 1 if the caller must wait. */
static inline int put_fast(ringo_queue *q, void *item)
{
	if (ringo__unlikely(q->shutdown))
		return -ESHUTDOWN;
	if (!aio_wq_empty(&q->getters)) {
		RINGO_ASSERT(q->len == 0);
		struct aio_waiter *w = aio_waiter_of(q->getters.next);
		w->item = item;
		count_put(q);
		aio_wake_first(&q->getters, 0);
		return 0;
	}
	if (is_full(q))
		return 1;
	if (ringo__unlikely(q->len == q->cap)) {
		int err = grow(q);
		if (err < 0)
			return err;
	}
	push(q, item);
	count_put(q);
	return 0;
}

int ringo_queue_put_nowait(ringo_queue *q, void *item)
{
	int rc = put_fast(q, item);
	return rc == 1 ? -ENOBUFS : rc;
}

int ringo_queue_put(ringo_queue *q, void *item)
{
	int rc = put_fast(q, item);
	if (rc != 1)
		return rc;
	if (!ringo_current_task())
		return -EPERM;
	struct aio_waiter w;
	aio_waiter_init(&w);
	w.item = item;
	aio_wq_push(&q->putters, &w.link);
	/* 0: a getter moved our item into the queue. */
	return ringo__aio_block(&w, &put_wait);
}

/* Everything get does that cannot wait: 1 if the caller must wait. */
static inline int get_fast(ringo_queue *q, void **item)
{
	if (ringo__likely(q->len > 0)) {
		*item = pop(q);
		if (!aio_wq_empty(&q->putters)) {
			struct aio_waiter *w = aio_waiter_of(q->putters.next);
			push(q, w->item);
			count_put(q);
			aio_wake_first(&q->putters, 0);
		}
		return 0;
	}
	if (q->shutdown)
		return -ESHUTDOWN;
	return 1;
}

int ringo_queue_get_nowait(ringo_queue *q, void **item)
{
	int rc = get_fast(q, item);
	return rc == 1 ? -EAGAIN : rc;
}

int ringo_queue_get(ringo_queue *q, void **item)
{
	int rc = get_fast(q, item);
	if (rc != 1)
		return rc;
	if (!ringo_current_task())
		return -EPERM;
	struct aio_waiter w;
	aio_waiter_init(&w);
	aio_wq_push(&q->getters, &w.link);
	rc = ringo__aio_block(&w, &get_wait);
	if (rc == 0)
		*item = w.item;
	return rc;
}

/* ---- join / shutdown ---- */

int ringo_queue_task_done(ringo_queue *q)
{
	if (q->unfinished == 0)
		return -EINVAL;
	if (--q->unfinished == 0)
		ringo_event_set(&q->finished);
	return 0;
}

int ringo_queue_join(ringo_queue *q)
{
	if (!ringo_current_task())
		return -EPERM;
	if (q->unfinished == 0)
		return 0;
	return ringo_event_wait(&q->finished);
}

void ringo_queue_shutdown(ringo_queue *q, bool immediate)
{
	q->shutdown = true;
	if (immediate) {
		while (q->len) {
			pop(q);
			if (q->unfinished)
				q->unfinished--;
		}
		if (q->unfinished == 0)
			ringo_event_set(&q->finished);
	}
	/* Getters wait only on an empty queue: they all fail now. */
	while (!aio_wq_empty(&q->getters))
		aio_wake_first(&q->getters, -ESHUTDOWN);
	while (!aio_wq_empty(&q->putters))
		aio_wake_first(&q->putters, -ESHUTDOWN);
}

size_t ringo_queue_size(const ringo_queue *q)
{
	return q->len;
}

size_t ringo_queue_maxsize(const ringo_queue *q)
{
	return q->maxsize;
}

bool ringo_queue_empty(const ringo_queue *q)
{
	return q->len == 0;
}

bool ringo_queue_full(const ringo_queue *q)
{
	return is_full(q);
}
