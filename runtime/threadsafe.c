/*
 * The thread-safe side of a loop: its cross-thread queue (xq) with the one
 * eventfd the loop reads through io_uring, call_soon_threadsafe, and
 * spawn_threadsafe with its thread-side future.
 *
 * The queue is a short-lock vector of {fn, a, b} entries: producers append
 * under a mutex (a few stores), the loop swaps the whole vector out under
 * the same mutex and runs it unlocked, then keeps the old buffer as the
 * next spare, so steady state allocates nothing. Wake-ups are coalesced by
 * `signalled`: the producer that flips it false -> true writes the
 * eventfd; the loop clears it before it swaps, so any push after the
 * clear rings again and none is left behind.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "thread_internal.h"

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

int ringo__xq_init(ringo_loop *loop)
{
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
	pthread_mutex_lock(&xq->lock);
	if (user && xq->closed) {
		pthread_mutex_unlock(&xq->lock);
		return -ESHUTDOWN;
	}
	if (ringo__unlikely(reserve(xq, n) < 0)) {
		pthread_mutex_unlock(&xq->lock);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		xq->v[xq->len++] = e[i];
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

size_t ringo__xq_drain(ringo_loop *loop)
{
	struct ringo__xq *xq = loop->xq;
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
	if (timeout == 0 || loop->virtual_clock)
		return timeout;
	sched_yield(); /* valgrind hands its lock to another thread here */
	/* Not 0: enter the kernel anyway, to run deferred task work
	 * (DEFER_TASKRUN) such as MSG_RING deliveries. */
	return RINGO_USEC(1);
}

static void efd_done(ringo_loop *loop, void *ctx, int32_t res, uint32_t flags)
{
	struct ringo__xq *xq = ctx;
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
	pthread_mutex_lock(&xq->lock);
	xq->closed = true;
	pthread_mutex_unlock(&xq->lock);
}

/* After the close hooks: whatever is still queued runs in closed mode
 * (handlers only clean up). */
void ringo__xq_close(ringo_loop *loop)
{
	while (ringo__xq_drain(loop) > 0)
		;
	if (loop->xq->armed) {
		/* The ring goes next and takes the read with it. */
		loop->xq->armed = false;
		ringo__op_close(loop, loop->xq->ud);
		loop->ops_idle--;
	}
}

/* ---- call_soon_threadsafe ---- */

static void ts_call(ringo_loop *loop, void *a, void *b)
{
	ringo_callback_fn *fn = (ringo_callback_fn *)a;
	if (loop->closed)
		return; /* dropped, as callbacks pending at close are */
	if (ringo__unlikely(ringo_call_soon(loop, fn, b, NULL) < 0))
		fn(b); /* -ENOMEM: run it now rather than lose it */
}

int ringo_call_soon_threadsafe(ringo_loop *loop, ringo_callback_fn *fn, void *arg)
{
	if (!loop || !fn)
		return -EINVAL;
	/* From the thread running the loop: straight to the ready queue, in
	 * order with call_soon (which first takes in whatever other threads
	 * posted before), with no lock and no eventfd write. */
	if (ringo__current_loop == loop)
		return ringo_call_soon(loop, fn, arg, NULL);
	return push1(loop, ts_call, (void *)fn, arg, true);
}

/* ---- spawn_threadsafe and the thread-side future ---- */

struct ringo_tsfuture {
	_Atomic unsigned refs;
	pthread_mutex_t lock;
	pthread_cond_t cond;         /* broadcast when done; CLOCK_MONOTONIC */
	int state;                   /* (lock) enum ringo__future_state */
	int error;                   /* (lock) ERROR: the errno */
	void *value;                 /* (lock) RESULT: the value */
	/* (lock) ringo_tsfuture_cancel was called while pending: the loop
	 * side cancels the task, or never spawns it. The tsfuture itself
	 * completes only when the task is done (then nothing on the loop
	 * still uses arg). */
	bool cancel_requested;
	/* Set at creation, read-only after. */
	ringo_loop *loop;
	ringo_task_fn *fn;
	void *arg;
	/* Loop thread only. */
	ringo_task *task;            /* spawned; our reference until delivered */
	struct ringo__list link;     /* in the loop's live list while task set */
};

struct tsf_state {
	struct ringo__list live;     /* tsfutures whose task is not delivered */
};

static void tsf_complete(ringo_tsfuture *f, int rc, void *value)
{
	pthread_mutex_lock(&f->lock);
	if (f->state == RINGO__FUT_PENDING) {
		if (rc >= 0) {
			f->state = RINGO__FUT_RESULT;
			f->value = value;
		} else if (rc == -ECANCELED) {
			f->state = RINGO__FUT_CANCELLED;
		} else {
			f->state = RINGO__FUT_ERROR;
			f->error = rc;
		}
		pthread_cond_broadcast(&f->cond);
	}
	pthread_mutex_unlock(&f->lock);
}

void ringo_tsfuture_ref(ringo_tsfuture *f)
{
	if (f)
		atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
}

void ringo_tsfuture_release(ringo_tsfuture *f)
{
	if (!f)
		return;
	if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
		return;
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->cond);
	free(f);
}

bool ringo_tsfuture_done(ringo_tsfuture *f)
{
	if (!f)
		return false;
	pthread_mutex_lock(&f->lock);
	bool done = f->state != RINGO__FUT_PENDING;
	pthread_mutex_unlock(&f->lock);
	return done;
}

static void tsf_close(ringo_loop *loop, void *ctx);
static void on_task_done(ringo_future *fut, void *arg);

static struct tsf_state *tsf_state(ringo_loop *loop)
{
	if (loop->tsf)
		return loop->tsf;
	struct tsf_state *s = ringo__alloc(loop, sizeof(*s));
	if (!s)
		return NULL;
	ringo__list_init(&s->live);
	if (ringo__add_close_hook(loop, tsf_close, s) < 0) {
		ringo__free(loop, s, sizeof(*s));
		return NULL;
	}
	loop->tsf = s;
	return s;
}

/* Loop thread: the task's outcome goes to the thread side. */
static void deliver(ringo_tsfuture *f, int rc, void *value)
{
	tsf_complete(f, rc, value);
	ringo__list_remove(&f->link);
	ringo_task_release(f->task);
	f->task = NULL;
	ringo_tsfuture_release(f); /* the loop side's reference */
}

static void on_task_done(ringo_future *fut, void *arg)
{
	void *value = NULL;
	int rc = ringo_future_result(fut, &value);
	deliver(arg, rc, value);
}

void ringo__tsf_cancel_all(ringo_loop *loop)
{
	struct tsf_state *s = loop->tsf;
	if (!s)
		return;
	RINGO_ASSERT(loop->closed);
	while (!ringo__list_empty(&s->live)) {
		ringo_tsfuture *f = ringo__container_of(s->live.next, ringo_tsfuture, link);
		/* A no-op if the task layer closed first: a closed loop drops
		 * done callbacks instead of running them. */
		ringo_future_remove_done_callback(ringo_task_future(f->task), on_task_done, f);
		deliver(f, -ECANCELED, NULL);
	}
}

static void tsf_close(ringo_loop *loop, void *ctx)
{
	struct tsf_state *s = ctx;
	ringo__tsf_cancel_all(loop);
	ringo__free(loop, s, sizeof(*s));
	loop->tsf = NULL;
}

static bool cancel_requested(ringo_tsfuture *f)
{
	pthread_mutex_lock(&f->lock);
	bool requested = f->cancel_requested;
	pthread_mutex_unlock(&f->lock);
	return requested;
}

static void spawn_entry(ringo_loop *loop, void *a, void *b)
{
	ringo_tsfuture *f = a;
	int err = -ESHUTDOWN;
	struct tsf_state *s = NULL;
	if (loop->closed)
		goto fail;
	err = -ECANCELED;
	if (cancel_requested(f))
		goto fail; /* cancelled before it could start: fn never runs */
	err = -ENOMEM;
	s = tsf_state(loop);
	if (!s)
		goto fail;
	err = ringo_spawn(loop, f->fn, f->arg, NULL, &f->task);
	if (err < 0)
		goto fail;
	err = ringo_future_add_done_callback(ringo_task_future(f->task), on_task_done, f);
	if (err < 0) {
		ringo_task_cancel(f->task, NULL);
		ringo_task_release(f->task);
		f->task = NULL;
		goto fail;
	}
	f->link.next = f->link.prev = &f->link;
	ringo__list_insert_tail(&s->live, &f->link);
	return;
fail:
	tsf_complete(f, err, NULL);
	ringo_tsfuture_release(f);
}

int ringo_spawn_threadsafe(ringo_loop *loop, ringo_task_fn *fn, void *arg, ringo_tsfuture **out)
{
	if (out)
		*out = NULL;
	if (!loop || !fn || !out)
		return -EINVAL;
	ringo_tsfuture *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cond, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&f->refs, 2); /* the caller's and the loop side's */
	f->state = RINGO__FUT_PENDING;
	f->loop = loop;
	f->fn = fn;
	f->arg = arg;
	int err = push1(loop, spawn_entry, f, NULL, true);
	if (err < 0) {
		pthread_mutex_destroy(&f->lock);
		pthread_cond_destroy(&f->cond);
		free(f);
		return err;
	}
	*out = f;
	return 0;
}

static void cancel_entry(ringo_loop *loop, void *a, void *b)
{
	ringo_tsfuture *f = a;
	if (!loop->closed && f->task)
		ringo_task_cancel(f->task, NULL);
	ringo_tsfuture_release(f);
}

/* The tsfuture does not complete here: the task may be using arg right
 * now, so it completes when the task is done (cancelled, or finished
 * anyway), by on_task_done, as for a cancelled Task in asyncio. */
bool ringo_tsfuture_cancel(ringo_tsfuture *f)
{
	if (!f)
		return false;
	pthread_mutex_lock(&f->lock);
	bool pending = f->state == RINGO__FUT_PENDING;
	bool first = pending && !f->cancel_requested;
	f->cancel_requested |= pending;
	pthread_mutex_unlock(&f->lock);
	if (!first)
		return pending;
	/* Posting is a post to the loop like any other: the caller keeps the
	 * loop alive meanwhile (thread.h). The request holds a reference. */
	ringo_tsfuture_ref(f);
	if (ringo__xq_post(f->loop, cancel_entry, f, NULL) < 0) {
		pthread_mutex_lock(&f->lock);
		f->cancel_requested = false;
		pthread_mutex_unlock(&f->lock);
		ringo_tsfuture_release(f);
		return false; /* -ENOMEM: nothing was asked */
	}
	return true;
}

static void deadline_after(struct timespec *ts, int64_t ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	int64_t now = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
	int64_t t = ns > INT64_MAX - now ? INT64_MAX : now + ns;
	ts->tv_sec = t / 1000000000;
	ts->tv_nsec = t % 1000000000;
}

int ringo_tsfuture_result(ringo_tsfuture *f, int64_t timeout_ns, void **value)
{
	if (!f)
		return -EINVAL;
	struct timespec ts;
	if (timeout_ns > 0)
		deadline_after(&ts, timeout_ns);
	pthread_mutex_lock(&f->lock);
	if (f->state == RINGO__FUT_PENDING && ringo__current_loop == f->loop) {
		pthread_mutex_unlock(&f->lock);
		return -EDEADLK;
	}
	int rc = 0;
	while (f->state == RINGO__FUT_PENDING && rc == 0) {
		if (timeout_ns < 0)
			pthread_cond_wait(&f->cond, &f->lock);
		else if (timeout_ns == 0)
			rc = ETIMEDOUT;
		else
			rc = pthread_cond_timedwait(&f->cond, &f->lock, &ts);
	}
	if (f->state == RINGO__FUT_PENDING) {
		pthread_mutex_unlock(&f->lock);
		return -ETIMEDOUT;
	}
	switch (f->state) {
	case RINGO__FUT_RESULT:
		rc = 0;
		if (value)
			*value = f->value;
		break;
	case RINGO__FUT_ERROR:
		rc = f->error;
		break;
	default:
		rc = -ECANCELED;
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}
