/*
 * Private to the runtime: a loop's cross-thread queue (xq.c). Any thread
 * posts {fn, a, b}; the loop runs them on its own thread. It sits on
 * ring.c and base (runtime/LAYERS.md): callback.c, loop.c, the executor
 * and the thread-safe calls are built on it, and it names none of them.
 */
#ifndef RINGO_XQ_H
#define RINGO_XQ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

/* One posted item: fn(loop, a, b) runs on the loop thread. During
 * ringo_loop_close (loop->closed is true) handlers must only clean up. */
typedef void ringo__xq_fn(ringo_loop *loop, void *a, void *b);

struct ringo__xq_entry {
	ringo__xq_fn *fn;
	void *a;
	void *b;
};

/* Laid out by who writes what: producers (any thread) touch the first
 * lines under the lock; `signalled` sits alone on its line because the
 * loop reads it on every call_soon; the loop-only fields follow. */
struct ringo__xq {
	pthread_mutex_t lock;
	pthread_cond_t cond;            /* close-time waiter (see waiter) */
	/* Guarded by lock: producers append here; the loop swaps it out. */
	struct ringo__xq_entry *v;
	size_t len, cap;
	bool closed;                    /* user posts refused (loop closing) */
	bool waiter;                    /* loop thread sleeps on cond */
	/* Coalescing: set by the producer that rings the eventfd (under the
	 * lock, after appending), cleared by the loop before it drains. A
	 * producer that finds it set does not write: the loop is bound to
	 * drain after its push. Also "posts may be waiting": call_soon reads
	 * it to keep asyncio's order (ringo__xq_pending). */
	_Alignas(64) _Atomic bool signalled;
	/* Loop thread only from here on. */
	_Alignas(64) bool armed;        /* the eventfd read is in flight */
	bool draining;                  /* inside ringo__xq_drain's handlers */
	/* Under valgrind, which keeps its big lock through a blocking
	 * io_uring_enter (3.19 does not treat it as a blocking syscall), a
	 * loop sleeping in the kernel stops every other thread, including the
	 * one that would wake it: the loop then polls and yields instead. */
	bool no_kernel_sleep;
	int efd;                        /* the eventfd */
	uint64_t ud;                    /* the armed read's op slot */
	uint64_t buf;                   /* its 8-byte target */
	ringo_loop *loop;
	/* Results the loop is waiting for from workers (executor jobs in
	 * flight); while > 0 the loop spins briefly on `signalled` before it
	 * would sleep (ringo__xq_spin). */
	size_t expected;
	/* The buffer the last drain swapped out, reused. */
	struct ringo__xq_entry *spare;
	size_t spare_cap;
};

/* loop.c calls these. */
int ringo__xq_init(ringo_loop *loop);           /* at ringo_loop_new */
void ringo__xq_arm(ringo_loop *loop);           /* each iteration, cheap */
void ringo__xq_refuse(ringo_loop *loop);        /* close begins */
void ringo__xq_close(ringo_loop *loop);         /* close ends: drop the rest */
void ringo__xq_free(ringo_loop *loop);          /* ringo_loop_free */

/* run_once, before a wait that may block: if worker results are
 * expected, spin up to a few tens of microseconds for one (a cross-core
 * wake-up of a sleeping loop costs ~20-60 us here). true if it drained
 * something (the loop then must not block). */
bool ringo__xq_spin(ringo_loop *loop);
/* The wait timeout to use (see no_kernel_sleep); may yield the CPU. */
int64_t ringo__xq_wait_bound(ringo_loop *loop, int64_t timeout);
/* An adaptive (spin-then-futex) mutex for the short cross-thread locks. */
void ringo__mutex_init(pthread_mutex_t *m);

/* Post an internal item (never refused; loop must not be freed yet).
 * 0 or -ENOMEM. Any thread. */
int ringo__xq_post(ringo_loop *loop, ringo__xq_fn *fn, void *a, void *b);
/* Post on behalf of a user call (call_soon_threadsafe, spawn_threadsafe):
 * refused with -ESHUTDOWN once the loop's close has begun; else as
 * ringo__xq_post. */
int ringo__xq_post_user(ringo_loop *loop, ringo__xq_fn *fn, void *a, void *b);
/* n entries under one lock (a worker's batch of results). */
int ringo__xq_post_many(ringo_loop *loop, const struct ringo__xq_entry *e, size_t n);
/* Run everything posted so far (loop thread). Returns how many. */
size_t ringo__xq_drain(ringo_loop *loop);

/* Posts not yet drained? Loop thread, one relaxed load: set from the
 * moment a post is queued until the drain that takes it begins, so a
 * post that happens-before this call is seen (or already drained). */
static inline bool ringo__xq_pending(const ringo_loop *loop)
{
	return atomic_load_explicit(&loop->xq->signalled, memory_order_relaxed);
}

/* call_soon found posts waiting: drain them first, so a callback posted
 * thread-safe before a call_soon runs before it (asyncio's order). A
 * no-op inside a drain (a handler's own call_soon keeps its place). */
void ringo__xq_catch_up(ringo_loop *loop);
/* Loop thread, at close: block until something is posted, then drain. */
void ringo__xq_wait_drain(ringo_loop *loop);

#endif /* RINGO_XQ_H */
