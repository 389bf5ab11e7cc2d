/*
 * A loop's cross-thread queue (xq) and the one eventfd the loop reads
 * through io_uring.
 *
 * The queue is a short-lock vector of {fn, a, b} entries: producers append
 * under a mutex (a few stores), the loop swaps the whole vector out under
 * the same mutex and runs it unlocked, then keeps the old buffer as the
 * next spare, so steady state allocates nothing. Wake-ups are coalesced by
 * `signalled`: the producer that flips it false -> true writes the
 * eventfd; the loop clears it before it swaps, so any push after the
 * clear rings again and none is left behind.
 *
 * Below callback.c and loop.c (runtime/LAYERS.md): it uses only ring.c's
 * op slots and SQEs; what runs from the queue is the posters' business.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "xq.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

/* ---- the queue ----
 * Lifetime: a producer's last access to the queue is its mutex unlock, so
 * the loop, after taking the mutex once, may free it. */

void ringo__mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	/* Critical sections are a few stores: spin a little before sleeping. */
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
}

/* The loop's own thread (set by its first run): where the queue's
 * loop-side state may be touched while the loop is open. */
static inline void assert_loop_thread(const ringo_loop *loop)
{
	RINGO_ASSERT(loop->has_owner);
	RINGO_ASSERT(pthread_equal(loop->owner, pthread_self()));
}

int ringo__xq_init(ringo_loop *loop)
{
	RINGO_ASSERT(loop->xq == NULL);
	struct ringo__xq *xq = ringo__alloc(loop, sizeof(*xq));
	if (!xq)
		return -ENOMEM;
	memset(xq, 0, sizeof(*xq));
	xq->efd = eventfd(0, EFD_CLOEXEC);
	if (xq->efd < 0) {
		int err = -errno;
		ringo__free(loop, xq, sizeof(*xq));
		return err;
	}
	ringo__mutex_init(&xq->lock);
	pthread_cond_init(&xq->cond, NULL);
	atomic_init(&xq->signalled, false);
	xq->loop = loop;
	xq->no_kernel_sleep = RUNNING_ON_VALGRIND;
	loop->xq = xq;
	return 0;
}

void ringo__xq_free(ringo_loop *loop)
{
	struct ringo__xq *xq = loop->xq;
	if (!xq)
		return;
	/* A producer may still be inside push() (its unlock is its last
	 * touch): wait for it. */
	pthread_mutex_lock(&xq->lock);
	RINGO_ASSERT(xq->len == 0);
	pthread_mutex_unlock(&xq->lock);
	close(xq->efd);
	free(xq->v);
	free(xq->spare);
	pthread_mutex_destroy(&xq->lock);
	pthread_cond_destroy(&xq->cond);
	ringo__free(loop, xq, sizeof(*xq));
	loop->xq = NULL;
}

static void ring_bell(struct ringo__xq *xq)
{
	/* The plain load keeps the line shared while a burst finds it set. */
	if (atomic_load_explicit(&xq->signalled, memory_order_relaxed))
		return;
	if (atomic_exchange(&xq->signalled, true))
		return;
	uint64_t one = 1;
	while (write(xq->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

/* Under xq->lock: room for n more entries. */
static int reserve(struct ringo__xq *xq, size_t n)
{
	if (ringo__likely(xq->len + n <= xq->cap))
		return 0;
	size_t cap = xq->cap ? xq->cap : 256;
	while (cap < xq->len + n)
		cap *= 2;
	/* malloc, not the loop's allocator: we may be on any thread. */
	struct ringo__xq_entry *v = realloc(xq->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	xq->v = v;
	xq->cap = cap;
	return 0;
}

/* user: refused once the loop is closing (internal posts never are: they
 * carry results the close path still collects). */
static int push(ringo_loop *loop, const struct ringo__xq_entry *e, size_t n, bool user)
{
	struct ringo__xq *xq = loop->xq;
	RINGO_ASSERT(xq != NULL);
	pthread_mutex_lock(&xq->lock);
	if (user && xq->closed) {
		pthread_mutex_unlock(&xq->lock);
		return -ESHUTDOWN;
	}
	if (ringo__unlikely(reserve(xq, n) < 0)) {
		pthread_mutex_unlock(&xq->lock);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		RINGO_ASSERT(e[i].fn != NULL);
		xq->v[xq->len++] = e[i];
	}
	if (ringo__unlikely(xq->waiter))
		pthread_cond_signal(&xq->cond);
	/* Under the lock: once we unlock, the loop may drain, close and free
	 * the queue (and its eventfd), so the unlock is our last touch. The
	 * write happens once per burst, not per post. */
	ring_bell(xq);
	pthread_mutex_unlock(&xq->lock);
	return 0;
}

static int push1(ringo_loop *loop, ringo__xq_fn *fn, void *a, void *b, bool user)
{
	struct ringo__xq_entry e = {fn, a, b};
	return push(loop, &e, 1, user);
}

int ringo__xq_post_many(ringo_loop *loop, const struct ringo__xq_entry *e, size_t n)
{
	return push(loop, e, n, false);
}

int ringo__xq_post(ringo_loop *loop, ringo__xq_fn *fn, void *a, void *b)
{
	return push1(loop, fn, a, b, false);
}

int ringo__xq_post_user(ringo_loop *loop, ringo__xq_fn *fn, void *a, void *b)
{
	return push1(loop, fn, a, b, true);
}

size_t ringo__xq_drain(ringo_loop *loop)
{
	struct ringo__xq *xq = loop->xq;
	RINGO_ASSERT(xq != NULL);
	RINGO_ASSERT(!xq->draining);
	/* Before the swap: a push that misses this drain sees false and rings. */
	atomic_store(&xq->signalled, false);
	pthread_mutex_lock(&xq->lock);
	struct ringo__xq_entry *v = xq->v;
	size_t n = xq->len, cap = xq->cap;
	xq->v = xq->spare;
	xq->cap = xq->spare_cap;
	xq->len = 0;
	pthread_mutex_unlock(&xq->lock);
	xq->spare = NULL;
	xq->spare_cap = 0;
	/* Handlers may call call_soon, which must not start a nested drain:
	 * newer posts would run before the rest of this batch. */
	xq->draining = true;
	for (size_t i = 0; i < n; i++)
		v[i].fn(loop, v[i].a, v[i].b);
	xq->draining = false;
	/* Keep the larger buffer as the spare. */
	if (cap >= xq->spare_cap) {
		free(xq->spare);
		xq->spare = v;
		xq->spare_cap = cap;
	} else {
		free(v);
	}
	return n;
}

void ringo__xq_wait_drain(ringo_loop *loop)
{
	struct ringo__xq *xq = loop->xq;
	RINGO_ASSERT(loop->closed); /* only close may block the loop thread */
	RINGO_ASSERT(!xq->draining);
	pthread_mutex_lock(&xq->lock);
	xq->waiter = true;
	while (xq->len == 0)
		pthread_cond_wait(&xq->cond, &xq->lock);
	xq->waiter = false;
	pthread_mutex_unlock(&xq->lock);
	ringo__xq_drain(loop);
}

__attribute__((cold, noinline)) void ringo__xq_catch_up(ringo_loop *loop)
{
	if (!loop->xq->draining)
		ringo__xq_drain(loop);
}

#define SPIN_NS 30000

bool ringo__xq_spin(ringo_loop *loop)
{
	struct ringo__xq *xq = loop->xq;
	if (xq->expected == 0)
		return false;
	assert_loop_thread(loop);
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 1; !atomic_load_explicit(&xq->signalled, memory_order_acquire); i++) {
		if ((i & 63) == 0) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((t.tv_sec - t0.tv_sec) * 1000000000 + (t.tv_nsec - t0.tv_nsec) > SPIN_NS)
				return false;
		}
#if defined(__x86_64__)
		__builtin_ia32_pause();
#elif defined(__aarch64__)
		__asm__ volatile("yield");
#endif
	}
	/* The eventfd stays written; the armed read completes later and
	 * finds the queue empty. Cheaper than sleeping through the wake. */
	return ringo__xq_drain(loop) > 0;
}

__attribute__((cold)) int64_t ringo__xq_wait_bound(ringo_loop *loop, int64_t timeout)
{
	/* Also with a virtual clock: a loop waiting for nothing but a worker
	 * would otherwise sleep for good with valgrind's lock held, and the
	 * worker could never post (test_timeout's to_thread case hung). */
	if (timeout == 0)
		return timeout;
	sched_yield(); /* valgrind hands its lock to another thread here */
	/* Not 0: enter the kernel anyway, to run deferred task work
	 * (DEFER_TASKRUN) such as MSG_RING deliveries. */
	return RINGO_USEC(1);
}

static void efd_done(ringo_loop *loop, void *ctx, int32_t res, uint32_t flags)
{
	struct ringo__xq *xq = ctx;
	RINGO_ASSERT(xq == loop->xq);
	RINGO_ASSERT(xq->armed);
	ringo__op_close(loop, xq->ud);
	xq->armed = false;
	loop->ops_idle--;
	ringo__xq_drain(loop);
	ringo__xq_arm(loop);
}

/* Keep exactly one read of the eventfd in flight. It does not count as
 * I/O in flight (ops_idle): a loop with only callbacks to run must not
 * enter the kernel for it; ringo__xq_pending() covers a busy loop. */
void ringo__xq_arm(ringo_loop *loop)
{
	struct ringo__xq *xq = loop->xq;
	if (xq->armed || loop->closed || !loop->ring_ready)
		return;
	assert_loop_thread(loop);
	if (ringo__op_open(loop, efd_done, xq, &xq->ud) < 0)
		return; /* -ENOMEM: tried again next iteration */
	struct io_uring_sqe *sqe = ringo__sqe(loop);
	RINGO_ASSERT(sqe != NULL);
	io_uring_prep_read(sqe, xq->efd, &xq->buf, sizeof(xq->buf), 0);
	io_uring_sqe_set_data64(sqe, xq->ud);
	xq->armed = true;
	loop->ops_idle++;
}

void ringo__xq_refuse(ringo_loop *loop)
{
	struct ringo__xq *xq = loop->xq;
	RINGO_ASSERT(loop->closed);
	pthread_mutex_lock(&xq->lock);
	xq->closed = true;
	pthread_mutex_unlock(&xq->lock);
}

/* After the close hooks: whatever is still queued runs in closed mode
 * (handlers only clean up). */
void ringo__xq_close(ringo_loop *loop)
{
	RINGO_ASSERT(loop->closed);
	RINGO_ASSERT(loop->xq->closed); /* ringo__xq_refuse came first */
	while (ringo__xq_drain(loop) > 0)
		;
	if (loop->xq->armed) {
		/* The ring goes next and takes the read with it. */
		loop->xq->armed = false;
		ringo__op_close(loop, loop->xq->ud);
		loop->ops_idle--;
	}
}
