/*
 * The event loop: lifecycle and the iteration.
 *
 * One iteration, in asyncio's order (BaseEventLoop._run_once):
 *   1. compute how long to sleep: 0 if callbacks are ready or a stop is
 *      pending, else until the nearest timer, else indefinitely;
 *   2. one io_uring enter that submits everything queued and waits that
 *      long; completions are dispatched (they may make work ready);
 *   3. timers that fell due join the ready queue, after what is there;
 *   4. the ready queue as it stands now runs as one batch; work queued by
 *      the batch waits for the next iteration.
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "fiber.h" /* RINGO_TSAN; after internal.h (RINGO_ASSERT) */
#include "stack.h"
#include "thread_internal.h"

__thread ringo_loop *ringo__current_loop;
_Atomic unsigned ringo__signals_held_total;

struct ringo__list ringo__all_loops = {&ringo__all_loops, &ringo__all_loops};
static pthread_mutex_t all_loops_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- allocation ---- */

static void *libc_alloc(void *ctx, size_t size)
{
	return malloc(size);
}

static void *libc_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size)
{
	return realloc(ptr, new_size);
}

static void libc_free(void *ctx, void *ptr, size_t size)
{
	free(ptr);
}

static const ringo_allocator libc_allocator = {libc_alloc, libc_realloc, libc_free, NULL};

/* ---- clock ---- */

int64_t ringo_loop_time_ns(const ringo_loop *loop)
{
	if (!loop)
		return 0;
	return loop->virtual_clock ? loop->vnow : ringo__monotonic_ns();
}

double ringo_loop_time(const ringo_loop *loop)
{
	return (double)ringo_loop_time_ns(loop) / 1e9;
}

/* ---- creation ---- */

void ringo_loop_options_init(ringo_loop_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->ring_entries = 256;
	opts->stack_size = 64 * 1024;
	/* Lets a test run any ringo program on virtual time, unchanged. */
	const char *v = getenv("RINGO_VIRTUAL_CLOCK");
	if (v && v[0] == '1')
		opts->flags |= RINGO_LOOP_VIRTUAL_CLOCK;
}

static int check_options(const ringo_loop_options *o)
{
	if (o->flags & ~(unsigned)(RINGO_LOOP_VIRTUAL_CLOCK | RINGO_LOOP_NO_SETUP_FLAGS |
				   RINGO_LOOP_CHECK_THREAD))
		return -EINVAL;
	if (o->ring_entries > 32768)
		return -EINVAL;
	if (o->allocator && (!o->allocator->alloc || !o->allocator->realloc || !o->allocator->free))
		return -EINVAL;
	if (o->stack_size && (o->stack_size < 16 * 1024 || o->stack_size > (1ull << 30)))
		return -EINVAL;
	return 0;
}

int ringo_loop_new(const ringo_loop_options *opts, ringo_loop **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	ringo_loop_options defaults;
	ringo_loop_options_init(&defaults);
	if (!opts)
		opts = &defaults;
	int err = check_options(opts);
	if (err < 0)
		return err;

	const ringo_allocator *a = opts->allocator ? opts->allocator : &libc_allocator;
	ringo_loop *loop = a->alloc(a->ctx, sizeof(*loop));
	if (!loop)
		return -ENOMEM;
	memset(loop, 0, sizeof(*loop));
	loop->allocator = *a;
	loop->virtual_clock = opts->flags & RINGO_LOOP_VIRTUAL_CLOCK;
	loop->slow_callback_ns = opts->slow_callback_ns;
	loop->stack_size = opts->stack_size ? opts->stack_size : defaults.stack_size;
	loop->ready_tail = &loop->ready_head;
	ringo__list_init(&loop->presubmit);
#ifdef RINGO_DEBUG
	loop->check_thread = true;
#else
	loop->check_thread = opts->flags & RINGO_LOOP_CHECK_THREAD;
#endif
	ringo__timers_init(loop, loop->virtual_clock ? 0 : ringo__monotonic_ns());

	unsigned entries = opts->ring_entries ? opts->ring_entries : defaults.ring_entries;
	err = ringo__ring_init(loop, entries, opts->flags & RINGO_LOOP_NO_SETUP_FLAGS);
	if (err < 0) {
		a->free(a->ctx, loop, sizeof(*loop));
		return err;
	}
	err = ringo__xq_init(loop);
	if (err < 0) {
		ringo__ring_exit(loop);
		a->free(a->ctx, loop, sizeof(*loop));
		return err;
	}
	loop->all_link.next = loop->all_link.prev = &loop->all_link;
	pthread_mutex_lock(&all_loops_lock);
	ringo__list_insert_tail(&ringo__all_loops, &loop->all_link);
	pthread_mutex_unlock(&all_loops_lock);
	*out = loop;
	return 0;
}

unsigned ringo_loop_ring_flags(const ringo_loop *loop)
{
	return loop ? loop->ring_flags : 0;
}

ringo_loop *ringo_loop_current(void)
{
	return ringo__current_loop;
}

bool ringo_loop_is_running(const ringo_loop *loop)
{
	return loop && loop->running;
}

bool ringo_loop_is_closed(const ringo_loop *loop)
{
	return loop && loop->closed;
}

/* ---- the iteration ---- */

/* Debug mode (slow_callback_ns > 0): time each item; the description is
 * taken before it runs because running may free or reuse it. */
__attribute__((cold)) static void run_timed(ringo_loop *loop, struct ringo__work *w)
{
	char what[96];
	ringo__work_describe(w, what, sizeof(what));
	int64_t t0 = ringo__monotonic_ns();
	w->run(loop, w);
	int64_t took = ringo__monotonic_ns() - t0;
	if (took > loop->slow_callback_ns)
		fprintf(stderr, "ringo: %s blocked the loop for %.3f ms\n", what,
			(double)took / 1e6);
}

static void run_batch(ringo_loop *loop)
{
	/* The batch is detached whole; what it queues goes to the next one.
	 * It lives in the loop (not a local) because a task that suspends may
	 * take its successor from it and switch there directly. */
	loop->batch = loop->ready_head;
	loop->ready_head = NULL;
	loop->ready_tail = &loop->ready_head;
	struct ringo__work *w;
	if (ringo__unlikely(loop->slow_callback_ns > 0)) {
		while ((w = loop->batch)) {
			loop->batch = w->next;
			run_timed(loop, w);
		}
	} else {
		while ((w = loop->batch)) {
			loop->batch = w->next;
			/* Work items of a large batch are scattered (a million tasks'
			 * records); start fetching the next one while this runs. */
			if (w->next)
				__builtin_prefetch(w->next);
			w->run(loop, w);
		}
	}
	/* Timers that fell due join the batch after what was already queued
	 * (asyncio appends them to _ready after the poll). */
	if (loop->timers.due.len)
		ringo__timer_run_due(loop);
}

static int64_t compute_timeout(ringo_loop *loop, int64_t *deadline)
{
	if (loop->ready_head || loop->stopping)
		return 0;
	if (!ringo__timer_next(loop, deadline))
		return -1;
	int64_t now = ringo__now(loop);
	return *deadline > now ? *deadline - now : 0;
}

/* What the batch left for the kernel becomes SQEs now, in the order it
 * was queued. An item queued meanwhile runs in the same pass. */
static void run_presubmit(ringo_loop *loop)
{
	while (!ringo__list_empty(&loop->presubmit)) {
		struct ringo__list *n = loop->presubmit.next;
		ringo__list_remove(n);
		struct ringo__presubmit *p = ringo__container_of(n, struct ringo__presubmit, node);
		p->fn(loop, p);
	}
}

/* Not waiting, nothing in flight and nothing to submit: skip the
 * syscall, so pure callback work never enters the kernel. (sqe_tail moves
 * past sqe_head as SQEs are prepared and not yet flushed; the eventfd
 * reads of the cross-thread queue and of signals are always armed and do
 * not count, unless they have something to say.) Here rather than in
 * ring.c, which knows neither of those two. */
static inline void wait_in_kernel(ringo_loop *loop, int64_t timeout)
{
	struct io_uring *ring = &loop->ring;
	if (timeout == 0 && loop->ops_inflight == loop->ops_idle &&
	    ring->sq.sqe_tail == ring->sq.sqe_head && !ringo__xq_pending(loop) &&
	    !ringo__signals_pending(loop))
		return;
	ringo__ring_wait(loop, timeout);
}

#ifdef RINGO_TSAN
/* ThreadSanitizer runs the handler of an asynchronous signal only inside
 * an intercepted libc call (it queues the signal otherwise). A thread
 * asleep in io_uring_enter, a raw system call that SA_RESTART resumes,
 * would keep it queued for ever, and the loop that owns the signal might
 * never hear of it. So in TSan builds, while any loop holds a signal,
 * every loop makes an intercepted call before it sleeps (running what
 * TSan queued) and sleeps at most 10 ms. */
static int64_t signals_tsan_bound(int64_t timeout)
{
	if (!atomic_load_explicit(&ringo__signals_held_total, memory_order_relaxed))
		return timeout;
	sigset_t mask;
	pthread_sigmask(SIG_BLOCK, NULL, &mask);
	return timeout < 0 || timeout > RINGO_MSEC(10) ? RINGO_MSEC(10) : timeout;
}
#endif

static void run_once(ringo_loop *loop)
{
	loop->n_iterations++;
	if (!ringo__list_empty(&loop->presubmit))
		run_presubmit(loop);
	int64_t deadline = 0;
	int64_t timeout = compute_timeout(loop, &deadline);
	if (ringo__unlikely(!loop->xq->armed))
		ringo__xq_arm(loop);
	/* Worker results due: a short spin beats sleeping through a wake-up. */
	if (timeout != 0 && ringo__unlikely(loop->xq->expected > 0) && ringo__xq_spin(loop))
		timeout = 0;
	/* Virtual time with a timer pending never sleeps: it jumps. */
	bool jump = loop->virtual_clock && timeout > 0;
	if (ringo__unlikely(loop->xq->no_kernel_sleep) && !jump)
		timeout = ringo__xq_wait_bound(loop, timeout);
#ifdef RINGO_TSAN
	if (timeout != 0)
		timeout = signals_tsan_bound(timeout);
#endif
	if (jump) {
		/* Virtual time: look at I/O without waiting; if that made nothing
		 * ready, nothing else can happen before the deadline: jump. */
		wait_in_kernel(loop, 0);
		if (!loop->ready_head)
			loop->vnow = deadline;
	} else {
		wait_in_kernel(loop, timeout);
	}
	/* Read the clock only when a timer could be due: a vDSO call per
	 * iteration is a measurable share of a busy loop. */
	if (loop->timers.live)
		ringo__timer_collect_due(loop, ringo__now(loop));
	run_batch(loop);
}

/* Called by a task at the end of a batch (task.c's switch_out): when the
 * next run_once would do nothing but take the ready queue as its batch
 * (nothing to submit, nothing in flight to reap, no cross-thread work,
 * no due timer left from this iteration, not stopping), do that here,
 * so the task can hand over to the next one directly instead of through
 * the scheduler. Due timers are collected as run_once would; they run
 * after the new batch, when the scheduler's run_batch ends it. */
bool ringo__loop_turn_inline(ringo_loop *loop)
{
	struct io_uring *ring = &loop->ring;
	if (!loop->ready_head || loop->stopping || loop->timers.due.len ||
	    !ringo__list_empty(&loop->presubmit) || !loop->xq->armed ||
	    loop->ops_inflight != loop->ops_idle || ring->sq.sqe_tail != ring->sq.sqe_head ||
	    ringo__xq_pending(loop) || ringo__signals_pending(loop))
		return false;
	if (loop->timers.live)
		ringo__timer_collect_due(loop, ringo__now(loop));
	loop->batch = loop->ready_head;
	loop->ready_head = NULL;
	loop->ready_tail = &loop->ready_head;
	return true;
}

static int enter_run(ringo_loop *loop)
{
	if (!loop)
		return -EINVAL;
	if (loop->closed)
		return -ESHUTDOWN;
	if (loop->running || ringo__current_loop)
		return -EBUSY;
	pthread_t self = pthread_self();
	if (loop->has_owner && !pthread_equal(loop->owner, self))
		return -EPERM;
	int err = ringo__ring_enable(loop);
	if (err < 0)
		return err;
	/* An alternate signal stack, so a task's stack overflow is reported
	 * by name rather than killing the thread silently. */
	ringo__stack_thread_init();
	loop->owner = self;
	loop->has_owner = true;
	loop->running = true;
	ringo__current_loop = loop;
	ringo__ring_fd_register(loop);
	return 0;
}

static void leave_run(ringo_loop *loop)
{
	RINGO_ASSERT(loop->running && ringo__current_loop == loop);
	ringo__ring_fd_unregister(loop);
	loop->running = false;
	loop->stopping = false;
	ringo__current_loop = NULL;
}

int ringo_loop_run_forever(ringo_loop *loop)
{
	int err = enter_run(loop);
	if (err < 0)
		return err;
	for (;;) {
		run_once(loop);
		if (loop->stopping)
			break;
	}
	leave_run(loop);
	return 0;
}

int ringo_loop_stop(ringo_loop *loop)
{
	if (!loop)
		return -EINVAL;
	if (loop->closed)
		return -ESHUTDOWN;
	loop->stopping = true;
	return 0;
}

/* ---- close ---- */

/* Drop the ready queue: callback records are freed (done callbacks give
 * back their future reference); other work (tasks) is only unlinked, its
 * owner cleans it up in its close hook. */
static void drop_ready(ringo_loop *loop)
{
	RINGO_ASSERT(loop->closed);
	while (loop->ready_head) {
		struct ringo__work *w = loop->ready_head;
		loop->ready_head = NULL;
		loop->ready_tail = &loop->ready_head;
		while (w) {
			struct ringo__work *next = w->next;
			if (w->run == ringo__cb_run) {
				struct ringo__cb *cb = ringo__container_of(w, struct ringo__cb, work);
				ringo_future *fut = cb->kind == RINGO__CB_DONE ? cb->fut : NULL;
				ringo__cb_free(loop, cb);
				if (fut)
					loop->release_future(fut);
			}
			w = next;
		}
	}
}

static int push_hook(ringo_loop *loop, struct ringo__close_hook **list,
		     void (*fn)(ringo_loop *, void *), void *ctx)
{
	RINGO_ASSERT(fn != NULL);
	struct ringo__close_hook *h = ringo__alloc(loop, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fn = fn;
	h->ctx = ctx;
	h->next = *list;
	*list = h;
	return 0;
}

int ringo__add_close_hook(ringo_loop *loop, void (*fn)(ringo_loop *, void *), void *ctx)
{
	return push_hook(loop, &loop->close_hooks, fn, ctx);
}

int ringo__add_early_close_hook(ringo_loop *loop, void (*fn)(ringo_loop *, void *), void *ctx)
{
	return push_hook(loop, &loop->early_hooks, fn, ctx);
}

void ringo__remove_close_hook(ringo_loop *loop, void (*fn)(ringo_loop *, void *), void *ctx)
{
	RINGO_ASSERT(fn != NULL);
	for (struct ringo__close_hook **p = &loop->close_hooks; *p; p = &(*p)->next) {
		struct ringo__close_hook *h = *p;
		if (h->fn == fn && h->ctx == ctx) {
			*p = h->next;
			ringo__free(loop, h, sizeof(*h));
			return;
		}
	}
}

/* Newest first: what was built last on the loop goes first. */
static void run_hooks(ringo_loop *loop, struct ringo__close_hook **list)
{
	RINGO_ASSERT(loop->closed);
	while (*list) {
		struct ringo__close_hook *h = *list;
		*list = h->next;
		h->fn(loop, h->ctx);
		ringo__free(loop, h, sizeof(*h));
		drop_ready(loop);
	}
}

int ringo_loop_close(ringo_loop *loop)
{
	if (!loop)
		return -EINVAL;
	if (loop->running)
		return -EBUSY;
	if (loop->closed)
		return 0;
	loop->closed = true;
	ringo__xq_refuse(loop);
	ringo__ring_drain(loop);
	drop_ready(loop);
	/* Tasks blocked on objects leave them while those are all intact. */
	if (loop->abandon_waits)
		loop->abandon_waits(loop);
	run_hooks(loop, &loop->early_hooks);
	run_hooks(loop, &loop->close_hooks);
	ringo__xq_close(loop);
	drop_ready(loop);
	ringo__timer_destroy(loop);
	ringo__ring_exit(loop);
	return 0;
}

int ringo_loop_free(ringo_loop *loop)
{
	if (!loop)
		return 0;
	int err = ringo_loop_close(loop);
	if (err < 0)
		return err;
	/* Objects the user still holds would point at freed memory. */
	if (loop->held > 0)
		return -EBUSY;
	RINGO_ASSERT(loop->cb_live == 0);
	for (uint32_t i = 0; i < loop->cb_nchunks; i++)
		ringo__free(loop, loop->cb_chunks[i], RINGO__CB_CHUNK * sizeof(struct ringo__cb));
	ringo__free(loop, loop->cb_chunks, loop->cb_nchunks * sizeof(*loop->cb_chunks));
	ringo__free(loop, loop->ops, loop->ops_cap * sizeof(*loop->ops));
	ringo__xq_free(loop);
	pthread_mutex_lock(&all_loops_lock);
	ringo__list_remove(&loop->all_link);
	pthread_mutex_unlock(&all_loops_lock);
	ringo_allocator a = loop->allocator;
	a.free(a.ctx, loop, sizeof(*loop));
	return 0;
}

/* ---- describing work for reports ---- */

/* The task layer's describer (it knows its own work items); set once,
 * before any task exists. */
static ringo__describe_fn *_Atomic loop_describer;

void ringo__set_work_describer(ringo__describe_fn *fn)
{
	atomic_store_explicit(&loop_describer, fn, memory_order_relaxed);
}

void ringo__work_describe(struct ringo__work *w, char *buf, size_t len)
{
	RINGO_ASSERT(w != NULL);
	RINGO_ASSERT(buf != NULL);
	RINGO_ASSERT(len > 0);
	if (w->run == ringo__cb_run) {
		struct ringo__cb *cb = ringo__container_of(w, struct ringo__cb, work);
		void *fn = cb->kind == RINGO__CB_DONE ? (void *)cb->done_fn : (void *)cb->fn;
		Dl_info info;
		if (dladdr(fn, &info) && info.dli_sname)
			snprintf(buf, len, "callback %s()", info.dli_sname);
		else
			snprintf(buf, len, "callback %p", fn);
		return;
	}
	if (loop_describer && loop_describer(w, buf, len))
		return;
	snprintf(buf, len, "work item %p", (void *)w);
}
