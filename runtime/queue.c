/*
 * Queues: asyncio's Queue, LifoQueue and PriorityQueue, with 3.13's
 * shutdown.
 *
 * asyncio's "wake, then take": put wakes the first waiting getter after
 * storing the item; the getter takes an item itself when it runs (get
 * wakes a putter the same way when it frees a slot). So an item is always
 * in exactly one place, the queue or a task that returned it: a getter
 * cancelled between its wake and its run takes nothing and passes the
 * wake on (asyncio's except-clause in get/put), and which item a woken
 * getter receives is decided when it runs (FIFO, LIFO or priority order
 * over everything queued by then), as in asyncio. A producer/consumer
 * pair switches tasks only when the buffer fills or drains, so the hot
 * path stays a few loads and stores; maxsize is exactly the number of
 * items in flight (a direct hand-over would lend each woken task a slot
 * of its own, and put would not block where asyncio's does).
 */
#include <string.h>

#include "aio_internal.h"

enum { QUEUE_FIFO, QUEUE_LIFO, QUEUE_PRIO };

/* As wait_turn after a cancel, minus passing a wake on (every waiter of
 * the queue's loop is being abandoned too). */
static void turn_abandon(ringo_task *t)
{
	struct aio_waiter *w = ringo__aio_abandon(t);
	ringo_queue *q = w->owner;
	RINGO_ASSERT(q->waiting > 0);
	q->waiting--;
}

static const struct ringo__wait_ops get_wait = {
	.what = "queue get", .interrupt = ringo__aio_interrupt, .abandon = turn_abandon};
static const struct ringo__wait_ops put_wait = {
	.what = "queue put", .interrupt = ringo__aio_interrupt, .abandon = turn_abandon};

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
		q->buf = maxsize <= SIZE_MAX / sizeof(void *)
				 ? ringo__alloc(loop, maxsize * sizeof(void *))
				 : NULL;
		if (!q->buf) {
			/* Unusable, as after destroy: a bounded queue must not grow. */
			q->loop = NULL;
			return maxsize > SIZE_MAX / sizeof(void *) ? -EINVAL : -ENOMEM;
		}
		q->cap = maxsize;
	}
	return 0;
}

int ringo_queue_init(ringo_queue *q, ringo_loop *loop, size_t maxsize)
{
	return queue_init(q, loop, maxsize, QUEUE_FIFO, NULL);
}

int ringo_queue_init_lifo(ringo_queue *q, ringo_loop *loop, size_t maxsize)
{
	return queue_init(q, loop, maxsize, QUEUE_LIFO, NULL);
}

int ringo_queue_init_priority(ringo_queue *q, ringo_loop *loop, size_t maxsize,
			      ringo_queue_cmp_fn *cmp)
{
	if (!cmp)
		return -EINVAL;
	return queue_init(q, loop, maxsize, QUEUE_PRIO, cmp);
}

/* loop is NULL from destroy (or a failed init) on: every call refuses
 * with -EINVAL. The checks sit on the paths a destroyed queue reaches
 * anyway (len == cap == 0), not on the hot ones. */
static inline bool destroyed(const ringo_queue *q)
{
	return q->loop == NULL;
}

int ringo_queue_destroy(ringo_queue *q)
{
	if (!q || destroyed(q))
		return -EINVAL;
	/* A woken getter or putter still touches the queue when it runs. */
	if (q->waiting || ringo_event_destroy(&q->finished) < 0)
		return -EBUSY;
	RINGO_ASSERT(q->len <= q->cap && aio_wq_empty(&q->getters) && aio_wq_empty(&q->putters));
	if (q->buf)
		ringo__free(q->loop, q->buf, q->cap * sizeof(void *));
	q->buf = NULL;
	q->cap = q->len = 0;
	q->loop = NULL;
	return 0;
}

/* ---- storage ---- */

/* Unbounded queues only: double the buffer (FIFO items are unwrapped). */
__attribute__((cold)) static int grow(ringo_queue *q)
{
	RINGO_ASSERT(q->len == q->cap && q->maxsize == 0); /* a full unbounded queue */
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
	RINGO_ASSERT(q->cmp != NULL && q->len < q->cap);
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
	RINGO_ASSERT(q->kind == QUEUE_PRIO && q->len > 0);
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

/* asyncio's _wakeup_next. */
static inline void wake_next(struct ringo_wq *waiters)
{
	if (!aio_wq_empty(waiters))
		aio_wake_first(waiters);
}

/* Wait on waiters (getters or putters) until woken: 0; or -ECANCELED,
 * after passing on a wake that came first if what it announced (an item,
 * a free slot) is still there: asyncio's except-clause in get and put. */
static int wait_turn(ringo_queue *q, struct ringo_wq *waiters, const struct ringo__wait_ops *ops)
{
	struct aio_waiter w;
	aio_waiter_init(&w, q);
	q->waiting++;
	int rc = ringo__aio_block(waiters, &w, ops);
	q->waiting--;
	if (rc < 0 && w.woken) {
		bool still_there = waiters == &q->getters ? q->len > 0 : !is_full(q);
		if (still_there)
			wake_next(waiters);
	}
	return rc;
}

/* put_nowait on a valid queue. */
static inline int put_nowait(ringo_queue *q, void *item)
{
	if (ringo__unlikely(q->shutdown))
		return -ESHUTDOWN;
	if (is_full(q))
		return -ENOBUFS;
	if (ringo__unlikely(q->len == q->cap)) {
		if (destroyed(q) || q->maxsize)
			return -EINVAL; /* a bounded queue has room from init on */
		int err = grow(q);
		if (err < 0)
			return err;
	}
	push(q, item);
	count_put(q);
	wake_next(&q->getters);
	return 0;
}

int ringo_queue_put_nowait(ringo_queue *q, void *item)
{
	if (!q)
		return -EINVAL;
	return put_nowait(q, item);
}

/* Blocking calls: only the queue's loop's tasks may wait (the wake-up
 * goes to that loop). */
static int check_waiter(const ringo_queue *q)
{
	if (destroyed(q))
		return -EINVAL;
	ringo_task *t = ringo_task_current();
	if (!t)
		return -EPERM;
	return ringo_task_future(t)->loop == q->loop ? 0 : -EINVAL;
}

__attribute__((noinline)) static int put_slow(ringo_queue *q, void *item)
{
	RINGO_ASSERT(q->maxsize > 0); /* only a bounded queue is ever full */
	while (is_full(q)) {
		if (q->shutdown)
			return -ESHUTDOWN;
		int rc = check_waiter(q);
		if (rc == 0)
			rc = wait_turn(q, &q->putters, &put_wait);
		if (rc < 0)
			return rc;
	}
	return put_nowait(q, item);
}

int ringo_queue_put(ringo_queue *q, void *item)
{
	if (ringo__unlikely(!q))
		return -EINVAL;
	if (ringo__likely(!is_full(q)))
		return put_nowait(q, item);
	return put_slow(q, item);
}

/* get_nowait on a queue known not to be empty. */
static inline void take(ringo_queue *q, void **item)
{
	*item = pop(q);
	wake_next(&q->putters);
}

int ringo_queue_get_nowait(ringo_queue *q, void **item)
{
	if (!q || !item)
		return -EINVAL;
	if (ringo__unlikely(q->len == 0)) {
		if (destroyed(q))
			return -EINVAL;
		return q->shutdown ? -ESHUTDOWN : -EAGAIN;
	}
	take(q, item);
	return 0;
}

__attribute__((noinline)) static int get_slow(ringo_queue *q, void **item)
{
	RINGO_ASSERT(q->len == 0);
	if (destroyed(q))
		return -EINVAL;
	while (q->len == 0) {
		if (q->shutdown)
			return -ESHUTDOWN;
		int rc = check_waiter(q);
		if (rc == 0)
			rc = wait_turn(q, &q->getters, &get_wait);
		if (rc < 0)
			return rc;
	}
	take(q, item);
	return 0;
}

int ringo_queue_get(ringo_queue *q, void **item)
{
	if (ringo__unlikely(!q || !item))
		return -EINVAL;
	if (ringo__likely(q->len > 0)) {
		take(q, item);
		return 0;
	}
	return get_slow(q, item);
}

/* ---- join / shutdown ---- */

int ringo_queue_task_done(ringo_queue *q)
{
	if (!q || destroyed(q) || q->unfinished == 0)
		return -EINVAL;
	if (--q->unfinished == 0)
		ringo_event_set(&q->finished);
	return 0;
}

int ringo_queue_join(ringo_queue *q)
{
	if (!q)
		return -EINVAL;
	int err = check_waiter(q);
	if (err < 0)
		return err;
	if (q->unfinished == 0)
		return 0;
	return ringo_event_wait(&q->finished);
}

void ringo_queue_shutdown(ringo_queue *q, bool immediate)
{
	if (!q || destroyed(q))
		return;
	RINGO_ASSERT(q->len <= q->cap);
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
	/* Everyone waiting looks again: putters fail; getters fail once
	 * the queue is empty (with immediate, at once). */
	aio_wake_all(&q->getters);
	aio_wake_all(&q->putters);
}

size_t ringo_queue_size(const ringo_queue *q)
{
	return q ? q->len : 0;
}

size_t ringo_queue_maxsize(const ringo_queue *q)
{
	return q ? q->maxsize : 0;
}

bool ringo_queue_empty(const ringo_queue *q)
{
	return !q || q->len == 0;
}

bool ringo_queue_full(const ringo_queue *q)
{
	return q && is_full(q);
}
