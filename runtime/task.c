/*
 * Tasks: asyncio's Task with a real stack. This file is the core: spawn,
 * run and switch, suspend and wake, free, the task layer's own waits
 * (sleep, await) and the scheduler's life from a loop's first spawn to
 * its close. Cancellation delivery is task_cancel.c, names and listings
 * task_info.c; the record and the scheduler are task_internal.h.
 *
 * A task's record lives at the top of its own stack (the first page the
 * task touches anyway), so spawning touches one fresh page at most and a
 * million sleeping tasks cost about a page each. The record starts with a
 * ringo_future: a task is a future.
 *
 * Control flow: the loop runs a task by switching from the scheduler fiber
 * (the thread's own stack) to the task's fiber; the task switches back when
 * it suspends (sleep, await, I/O) or finishes. Waking a task queues its
 * work item on the ready queue, so tasks and callbacks share one FIFO.
 *
 * Cancellation (asyncio's rules): cancel() on a suspended task interrupts
 * its wait at once (the wait returns -ECANCELED; an awaited future is
 * cancelled in turn, as asyncio does); on a task that is running or ready
 * it is remembered and delivered at the next suspension point; a task
 * cancelled before its first step never runs its body. I/O waits interrupt
 * by asking the kernel to cancel and resume only on the final completion.
 */
#include <stdio.h>
#include <string.h>

#include "task_internal.h" /* first: internal.h's RINGO_ASSERT is the one to use */
#include "context_internal.h"

static __thread ringo_task *current_task;

/* A task's future: future.c calls these for it (defined below). */
static const struct ringo__future_ops task_future_ops;

/* ---- helpers ---- */

static ringo_task *task_of(ringo_future *fut)
{
	return (ringo_task *)fut;
}

ringo_future *ringo_task_future(ringo_task *task)
{
	return task ? &task->fut : NULL;
}

ringo_task *ringo_future_task(ringo_future *fut)
{
	return fut && fut->ops == &task_future_ops ? task_of(fut) : NULL;
}

void ringo_task_ref(ringo_task *task)
{
	if (task)
		ringo_future_ref(&task->fut);
}

void ringo_task_release(ringo_task *task)
{
	if (task)
		ringo_future_release(&task->fut);
}

/* Where a task's record goes in its stack: at the top, shifted by a
 * "colour" taken from the stack's address. Stacks sit a fixed stride
 * apart, so without it every record (and the hot frames below it) would
 * land in the same L1 cache sets, and switching among many tasks would
 * evict itself (measured: ~25 ns per switch among 100 tasks). */
static ringo_task *record_at(void *stack_hi, bool compact)
{
	uintptr_t hi = (uintptr_t)stack_hi;
	/* Compact stacks are packed at their own stride, which colours
	 * them, and have no room to spare. */
	uintptr_t colour = compact ? 0 : ((hi >> 12) & 7) * 64; /* stays in the top page */
	return (ringo_task *)((hi - colour - sizeof(ringo_task)) & ~(uintptr_t)63);
}

/* The overflow reporter reads the name from the record at the stack top.
 * Runs in a signal handler: reads only. */
static const char *name_at(void *stack_hi, bool compact)
{
	ringo_task *t = record_at(stack_hi, compact);
	/* A compact slab has one guard, below its lowest stack: whichever
	 * task reached it may have come down through the stacks between and
	 * their records. It is the one running. */
	if (compact && current_task && current_task->stack.compact)
		t = current_task;
	if (!t->name[0])
		ringo__task_default_name(t->name, t->id); /* async-signal-safe */
	return t->name;
}

/* ---- the scheduler (one per loop, made on first spawn) ---- */

static void sched_close(ringo_loop *loop, void *ctx);
static bool task_describe(struct ringo__work *w, char *buf, size_t len);
static void sched_abandon_waits(ringo_loop *loop);
static void await_wake(ringo_future *fut, ringo_task *t);

static struct ringo__sched *sched_get(ringo_loop *loop, int *err)
{
	if (ringo__likely(loop->tasks != NULL))
		return loop->tasks;
	struct ringo__sched *s = ringo__alloc(loop, sizeof(*s));
	if (!s) {
		*err = -ENOMEM;
		return NULL;
	}
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	ringo__list_init(&s->live);
	*err = ringo__add_close_hook(loop, sched_close, s);
	if (*err < 0) {
		ringo__free(loop, s, sizeof(*s));
		return NULL;
	}
	ringo__stack_set_reporter(name_at);
	ringo__set_work_describer(task_describe);
	ringo__future_set_waker(await_wake);
	loop->tasks = s;
	loop->abandon_waits = sched_abandon_waits;
	return s;
}

static void task_run(ringo_loop *loop, struct ringo__work *w);
static void arm_trim(struct ringo__sched *s);

/* A compact stack's size as built: sanitizers' frames are several times
 * larger (redzones, instrumentation calls), and their reports run on the
 * faulting stack. */
static size_t compact_size(size_t size)
{
#ifdef RINGO_FIBER_ANNOTATED
	return size * 8 > RINGO_TASK_STACK_MIN ? size * 8 : RINGO_TASK_STACK_MIN;
#else
	return size;
#endif
}

static ringo__stack_pool *pool_for(struct ringo__sched *s, size_t size, int *err)
{
	for (int i = 0; i < RINGO__TASK_POOLS; i++)
		if (s->pool_size[i] == size)
			return &s->pools[i];
	for (int i = 0; i < RINGO__TASK_POOLS; i++) {
		if (s->pool_size[i])
			continue;
		bool compact = size < RINGO_TASK_STACK_MIN;
		struct ringo__stack_options so = {
			.stack_size = compact ? compact_size(size) : size,
			.compact = compact,
		};
		*err = ringo__stack_pool_init(&s->pools[i], &so);
		if (*err < 0)
			return NULL;
		s->pool_size[i] = size;
		return &s->pools[i];
	}
	*err = -ENOSPC; /* more distinct stack sizes than pools */
	return NULL;
}

static void sched_destroy(struct ringo__sched *s)
{
	for (int i = 0; i < RINGO__TASK_POOLS; i++)
		if (s->pool_size[i])
			ringo__stack_pool_destroy(&s->pools[i]);
	ringo__free(s->loop, s, sizeof(*s));
}

/* A burst of spawns takes hot stacks from the pool in a known order, and
 * the first write to each record is a miss (with many tasks, their stack
 * tops are far beyond the last-level cache): start fetching, for writing,
 * the record and the first frame just below it (ringo__ctx_make's 80
 * bytes), SPAWN_AHEAD spawns ahead. */
#define SPAWN_AHEAD 2

static inline __attribute__((always_inline)) void prefetch_spawn(const ringo__stack_pool *pool)
{
	void *hi = ringo__stack_peek_hi(pool, SPAWN_AHEAD - 1);
	if (!hi)
		return;
	const char *rec = (const char *)record_at(hi, pool->compact);
	__builtin_prefetch(rec - 128, 1);
	__builtin_prefetch(rec - 64, 1);
	__builtin_prefetch(rec, 1);
	__builtin_prefetch(rec + 64, 1);
	__builtin_prefetch(rec + 128, 1);
	__builtin_prefetch(rec + 192, 1);
	__builtin_prefetch(rec + 256, 1);
}

/* Take a stack of size bytes: 0 or a negative errno. */
static int stack_take(struct ringo__sched *s, size_t size, ringo__stack_pool **pool,
		      ringo__stack *out)
{
	int err = 0;
	*pool = pool_for(s, size, &err);
	if (!*pool)
		return err;
	return ringo__stack_alloc(*pool, out);
}

/* A compact task spawns: a new pool or slab means sigaction, mmap,
 * madvise and realloc, too deep for its stack, so it is done on the loop
 * thread's (whose allocations then need no detour). */
struct stack_take_call {
	struct ringo__sched *s;
	size_t size;
	ringo__stack_pool **pool;
	ringo__stack *out;
	int err;
};

static void *stack_take_run(void *arg)
{
	struct stack_take_call *c = arg;
	c->err = stack_take(c->s, c->size, c->pool, c->out);
	return NULL;
}

static __attribute__((noinline)) int stack_take_away(struct ringo__sched *s, size_t size,
						     ringo__stack_pool **pool, ringo__stack *out)
{
	ringo_loop *loop = s->loop;
	void *const *away = loop->away_sp;
	struct stack_take_call c = {s, size, pool, out, 0};
	loop->away_sp = NULL;
	ringo__ctx_call_on(stack_take_run, &c, ringo__fiber_away_stack(away));
	loop->away_sp = away;
	return c.err;
}

/* Runs on the task's own stack. */
__attribute__((noreturn)) static void task_entry(void *transfer)
{
	ringo_task *t = transfer;
	void *result = NULL;
	int rc = t->fn(t->arg, &result);
	struct ringo__sched *s = t->sched;
	/* asyncio: a cancellation still pending when the body returns makes
	 * the task cancelled. */
	if (rc >= 0 && t->cancel_pending)
		rc = -ECANCELED;
	if (rc >= 0)
		ringo__future_complete(&t->fut, RINGO__FUT_RESULT, result, 0, NULL);
	else if (rc == -ECANCELED)
		ringo__future_complete(&t->fut, RINGO__FUT_CANCELLED, NULL, -ECANCELED,
				       t->cancel_msg);
	else
		ringo__future_complete(&t->fut, RINGO__FUT_ERROR, NULL, rc, NULL);
	t->state = RINGO_TASK_DONE;
	/* Back to the scheduler, which frees what a finished task holds. */
	ringo__fiber_exit_to(&t->fiber, &s->main_fiber, t);
}

int ringo_spawn(ringo_loop *loop, ringo_task_fn *fn, void *arg, const ringo_task_options *opts,
		ringo_task **out)
{
	if (out)
		*out = NULL;
	if (!loop || !fn)
		return -EINVAL;
	int err = ringo__check_thread(loop);
	if (err < 0)
		return err;
	err = ringo__check_open(loop);
	if (err < 0)
		return err;
	size_t size = opts && opts->stack_size ? opts->stack_size : loop->stack_size;
	if (size < RINGO_TASK_COMPACT_MIN || size > RINGO_TASK_STACK_MAX)
		return -EINVAL;
	struct ringo__sched *s = sched_get(loop, &err);
	if (!s)
		return err;
	ringo__stack_pool *pool;
	ringo__stack stack;
	if (ringo__likely(!loop->away_sp))
		err = stack_take(s, size, &pool, &stack);
	else
		err = stack_take_away(s, size, &pool, &stack);
	if (err < 0)
		return err;
	ringo_task *t = record_at(stack.hi, stack.compact);
	prefetch_spawn(pool);
	err = ringo__fiber_init(&t->fiber, stack.lo, (void *)t, task_entry);
	if (err < 0) {
		ringo__stack_free(pool, &stack);
		return err;
	}
	s->nstacks++;
	t->pool = pool;
	ringo__future_init(&t->fut, loop);
	t->fut.ops = &task_future_ops;
	t->work.run = task_run;
	t->stack = stack;
	t->sched = s;
	t->fn = fn;
	t->arg = arg;
	t->state = RINGO_TASK_PENDING;
	t->started = false;
	t->cancel_pending = false;
	t->cancel_queued = false;
	t->cancel_requests = 0;
	t->cancel_msg = NULL;
	t->wait = NULL;
	t->wait_ctx = NULL;
	t->wake_value = 0;
	t->suspended_at = NULL;
	t->io.next_timeout = -1;
	/* The child shares the current context (context.c copies it on the
	 * first set); with none, this is a NULL copied. */
	ringo_task *parent = current_task;
	t->ctx = parent ? parent->ctx : NULL;
	if (ringo__unlikely(t->ctx != NULL))
		ringo__context_ref(t->ctx);
	else if (!parent)
		t->ctx = ringo__context_capture(); /* an executor call's, or none */
	t->id = ++s->next_id;
	/* A default name ("task-N") is only written when first asked for:
	 * formatting it would be a tenth of a spawn. */
	if (opts && opts->name)
		snprintf(t->name, sizeof(t->name), "%s", opts->name);
	else
		t->name[0] = 0;
	t->link.next = t->link.prev = &t->link;
	ringo__list_insert_tail(&s->live, &t->link);
	if (++s->nlive > s->nlive_peak)
		s->nlive_peak = s->nlive;
	/* The loop's reference: kept until the task is done. */
	if (out) {
		t->fut.refs++;
		*out = t;
	}
	ringo__ready_push(loop, &t->work);
	return 0;
}

/* Finished without running (cancelled before its first step, or dropped by
 * close): no fiber was ever entered. */
static void finish_unstarted(ringo_task *t, int state, const char *msg)
{
	ringo__future_complete(&t->fut, state, NULL, -ECANCELED, msg);
	t->state = RINGO_TASK_DONE;
}

static void task_done(struct ringo__sched *s, ringo_task *t)
{
	ringo__list_remove(&t->link);
	s->nlive--;
	if (ringo__unlikely(t->ctx != NULL)) {
		/* Nothing runs in this task any more: its values may go. */
		struct ringo__ctx *ctx = t->ctx;
		t->ctx = NULL;
		ringo__context_release(ctx);
	}
	ringo__fiber_destroy(&t->fiber);
	ringo_future_release(&t->fut); /* the loop's reference */
}

/* Make t the running task. False if it finished instead (cancelled before
 * its first step): its body never runs. */
static bool task_enter(struct ringo__sched *s, ringo_task *t)
{
	RINGO_ASSERT(t->state == RINGO_TASK_PENDING || t->state == RINGO_TASK_READY);
	if (!t->started) {
		if (t->cancel_pending) {
			finish_unstarted(t, RINGO__FUT_CANCELLED, t->cancel_msg);
			task_done(s, t);
			return false;
		}
		t->started = true;
	} else if (t->cancel_pending && t->wait && !t->wait->keep_result) {
		/* Cancelled after the wake was queued: asyncio throws the
		 * CancelledError into the await that was about to return. */
		t->cancel_pending = false;
		t->wake_value = -ECANCELED;
	}
	t->wait = NULL;
	t->state = RINGO_TASK_RUNNING;
	/* Set up here, not at spawn: the loop may be run by another thread
	 * than the one that spawned (it then stays on that thread). */
	if (ringo__unlikely(!s->main_ready)) {
		ringo__fiber_init_thread(&s->main_fiber);
		s->main_ready = true;
	}
	s->current = t;
	current_task = t;
#ifndef RINGO_FIBER_ANNOTATED
	/* Sanitized builds give compact stacks room enough instead. */
	s->loop->away_sp = t->stack.compact ? (void *const *)&s->main_fiber.sp : NULL;
#endif
	return true;
}

/* A switch into a task touches its record and the frames between its
 * saved stack pointer and the record (a task suspended in a queue get:
 * six lines); one that never ran pushes its first frames below that. With
 * many live tasks each of those lines is a miss (the record and frames of
 * 100,000 tasks are far beyond the last-level cache), paid one task at a
 * time unless asked for while the task before it runs. Write intent: the
 * switch writes the record and pushes over the frames. */
#define PREFETCH_FRESH_BYTES 256
#ifndef RINGO_FIBER_ANNOTATED /* sanitizer builds' records are larger */
_Static_assert(sizeof(ringo_task) <= 5 * 64, "the record grew: prefetch its new lines");
#endif

static inline __attribute__((always_inline)) void prefetch_task(const ringo_task *t)
{
	/* Straight-line: this runs as tasks are run and woken, where a loop's
	 * bookkeeping would cost more than the prefetches. */
	const char *rec = (const char *)t;
	__builtin_prefetch(rec, 1);
	__builtin_prefetch(rec + 64, 1);
	__builtin_prefetch(rec + 128, 1);
	__builtin_prefetch(rec + 192, 1);
	__builtin_prefetch(rec + 256, 1);
	/* Lines past the frames (up to the record) are harmless extras. */
	const char *lo = (const char *)t->fiber.sp - (t->started ? 0 : PREFETCH_FRESH_BYTES);
	__builtin_prefetch(lo, 1);
	__builtin_prefetch(lo + 64, 1);
	__builtin_prefetch(lo + 128, 1);
	__builtin_prefetch(lo + 192, 1);
	__builtin_prefetch(lo + 256, 1);
	__builtin_prefetch(lo + 320, 1);
}

static void task_run(ringo_loop *loop, struct ringo__work *w);

/* Called by a task run from the scheduler's batch, with the batch's head
 * (the item after this one). The items of a large batch are scattered
 * (100,000 tasks' records) and each one's address is only known from the
 * item before it, so one prefetch a step is a chain: the third item ahead
 * gets its work line asked for (the second's, asked for one item ago,
 * says where it is), and the second, if a task, the rest of what
 * switching into it touches. Each then has an item's time or two to
 * arrive. (run_batch fetches just the next item, for callbacks.) Not on
 * the hand-over between tasks (switch_out), the yield hot path: there it
 * cost 1.5-2 ns a switch among 100 tasks whose records were all in
 * cache. always_inline: GCC 12 takes a function that only prefetches
 * for pure and may drop the call, prefetches and all, before inlining. */
static inline __attribute__((always_inline)) void prefetch_batch_ahead(const struct ringo__work *next)
{
	if (!next || !next->next)
		return;
	next = next->next;
	if (next->next)
		__builtin_prefetch(next->next, 1);
	if (next->run == task_run)
		prefetch_task(ringo__container_of(next, ringo_task, work));
}

static void check_canary(ringo_task *t)
{
	if (ringo__unlikely(!ringo__stack_canary_ok(&t->stack)))
		ringo__panic("stack overflow in task '%s' (canary clobbered)", ringo_task_name(t));
}

static void *report_overflow(void *arg)
{
	ringo_task *t = arg;
	ringo__panic("stack overflow in task '%s' (%s)", ringo_task_name(t),
		     ringo__stack_canary_ok(&t->stack) ? "stack pointer below its stack"
						       : "canary clobbered");
	return NULL;
}

/* The running task t is switching out: its stack must still be its own.
 * A guarded stack's overflow faults at once; a canary-only one (compact,
 * or a guard the kernel refused) is caught here, at the next suspension,
 * by the canary word at its bottom or by a stack pointer already in the
 * canary's line. */
static __attribute__((noinline)) void check_canary_stack(ringo_task *t)
{
	volatile char here = 0; /* this frame is the deepest point now */
	if (ringo__likely((const char *)&here >= (const char *)t->stack.lo + 64 &&
			  ringo__stack_canary_ok(&t->stack)))
		return;
	/* The report's printf needs more stack than a compact task has:
	 * make it on the loop thread's. */
	if (t->fut.loop->away_sp)
		ringo__ctx_call_on(report_overflow, t, ringo__fiber_away_stack(t->fut.loop->away_sp));
	report_overflow(t);
}

static inline void check_own_stack(ringo_task *t)
{
	if (ringo__unlikely(t->stack.guard == RINGO__GUARD_CANARY))
		check_canary_stack(t);
}

/* The ready-queue entry of a task: run it (and whatever tasks it hands
 * over to directly) until control comes back to the scheduler. */
static void task_run(ringo_loop *loop, struct ringo__work *w)
{
	ringo_task *t = ringo__container_of(w, ringo_task, work);
	struct ringo__sched *s = t->sched;
	prefetch_batch_ahead(loop->batch);
	if (!task_enter(s, t))
		return;
	/* The task that switches back (t or one it handed over to) says so. */
	ringo_task *back = ringo__fiber_switch(&s->main_fiber, &t->fiber, t);
	current_task = NULL;
	s->current = NULL;
	loop->away_sp = NULL;
	check_canary(back);
	if (back->state == RINGO_TASK_DONE)
		task_done(s, back);
}

/* Leave the running task t, whose wake-up is arranged. If the next item of
 * the batch is a task, switch straight to it: one switch instead of two
 * through the scheduler, in exactly the order the batch would run. */
static void switch_out(ringo_task *t)
{
	struct ringo__sched *s = t->sched;
	ringo_loop *loop = t->fut.loop;
	check_own_stack(t);
	struct ringo__work *w = loop->batch;
	/* The batch is over: if the next loop iteration has nothing to do
	 * but run the ready queue, it starts here (tasks yielding to each
	 * other, sleep(0), queue hand-overs). */
	if (!w && loop->slow_callback_ns <= 0 && !t->stack.compact && ringo__loop_turn_inline(loop))
		w = loop->batch;
	if (w && w->run == task_run && loop->slow_callback_ns <= 0) {
		ringo_task *next = ringo__container_of(w, ringo_task, work);
		loop->batch = w->next;
		/* A task that ran before is suspended right here in switch_out,
		 * like t: the peer switch's return predicts. One that never ran
		 * starts in ctx_start instead. */
		bool peer = next->started;
		if (task_enter(s, next)) {
			/* A new batch may start with t itself (it yielded and
			 * nothing else was ready): it just carries on. */
			if (next == t)
				return;
			if (ringo__likely(peer))
				ringo__fiber_switch_peer(&t->fiber, &next->fiber, next);
			else
				ringo__fiber_switch(&t->fiber, &next->fiber, next);
			return;
		}
		/* next finished without running; t goes back the long way */
	}
	ringo__fiber_switch(&t->fiber, &s->main_fiber, t);
}

/* Idle stacks give their memory back about once a second: a burst of
 * tasks that comes again soon finds its stacks hot (no page faults), and
 * a loop that went quiet shrinks (jemalloc's decay, in short). */
#define TRIM_PERIOD RINGO_SEC(1)

static void trim_stacks(void *arg)
{
	struct ringo__sched *s = arg;
	RINGO_ASSERT(s->trim_armed);
	s->trim_armed = false;
	bool more = false;
	for (int i = 0; i < RINGO__TASK_POOLS; i++) {
		if (!s->pool_size[i])
			continue;
		ringo__stack_trim(&s->pools[i]);
		more |= ringo__stack_trim_wanted(&s->pools[i]);
	}
	if (more)
		arm_trim(s);
}

static void arm_trim(struct ringo__sched *s)
{
	if (ringo_call_later(s->loop, TRIM_PERIOD, trim_stacks, s, NULL) == 0)
		s->trim_armed = true;
}

/* The last reference to a done task: its stack goes, record and all. */
static void task_future_free(ringo_future *fut)
{
	ringo_task *t = task_of(fut);
	RINGO_ASSERT(t->state == RINGO_TASK_DONE);
	/* The record is on the stack being freed: copy what we need first. */
	ringo__stack stack = t->stack;
	struct ringo__sched *s = t->sched;
	ringo__stack_free(t->pool, &stack);
	s->nstacks--;
	if (s->closed) {
		if (s->nstacks == 0)
			sched_destroy(s);
		return;
	}
	if (!s->trim_armed && ringo__stack_trim_wanted(t->pool))
		arm_trim(s);
}

/* ---- suspension ---- */

static int suspend(ringo_task *t, const struct ringo__wait_ops *wait, void *ctx)
{
	t->wait = wait;
	t->wait_ctx = ctx;
	t->state = RINGO_TASK_SUSPENDED;
	t->suspended_at = __builtin_return_address(0);
	switch_out(t);
	return t->wake_value;
}

void ringo__task_wake(ringo_task *t, int value)
{
	RINGO_ASSERT(t->state == RINGO_TASK_SUSPENDED);
	t->wake_value = value;
	t->state = RINGO_TASK_READY;
	ringo__ready_push(t->fut.loop, &t->work);
	/* Often it runs soon (a hand-off: the waker suspends next). */
	prefetch_task(t);
}

ringo_task *ringo_task_current(void)
{
	return current_task;
}

/* The current task, or NULL and *err = -EPERM outside one. */
static ringo_task *need_task(int *err)
{
	ringo_task *t = current_task;
	if (!t) {
		*err = -EPERM;
		return NULL;
	}
	if (t->cancel_pending) {
		t->cancel_pending = false;
		*err = -ECANCELED;
		return NULL;
	}
	return t;
}

int ringo__task_suspend(const struct ringo__wait_ops *wait, void *ctx)
{
	int err = 0;
	ringo_task *t = need_task(&err);
	if (!t)
		return err;
	return suspend(t, wait, ctx);
}

void *ringo__task_wait_ctx(const ringo_task *t)
{
	return t->wait_ctx;
}

void ringo__task_note_cancel(const char *msg)
{
	if (current_task)
		current_task->cancel_msg = msg;
}

ringo_task *ringo__task_io_begin(struct ringo__task_io **tio, int *err)
{
	ringo_task *t = need_task(err);
	if (ringo__likely(t != NULL))
		*tio = &t->io;
	return t;
}

struct ringo__task_io *ringo__task_io(ringo_task *t)
{
	return &t->io;
}

/* sleep */

static void sleep_fire(void *arg)
{
	ringo__task_wake(arg, 0);
}

static void sleep_interrupt(ringo_task *t)
{
	ringo_handle_cancel(t->timer);
	ringo__task_wake(t, -ECANCELED);
}

static void sleep_abandon(ringo_task *t)
{
	/* Fired already if the task is READY: the handle is stale then. */
	if (t->state == RINGO_TASK_SUSPENDED)
		ringo_handle_cancel(t->timer);
}

static const struct ringo__wait_ops sleep_wait = {
	.what = "sleep", .interrupt = sleep_interrupt, .abandon = sleep_abandon};

static void yield_interrupt(ringo_task *t)
{
	/* Already queued to run next iteration; task_run turns its wake
	 * into -ECANCELED. */
	t->cancel_pending = true;
}

static void yield_abandon(ringo_task *t)
{
	(void)t; /* queued on the ready queue only, which close dropped */
}

static const struct ringo__wait_ops yield_wait = {
	.what = "yield", .interrupt = yield_interrupt, .abandon = yield_abandon};

int ringo_sleep(int64_t delay_ns)
{
	int err = 0;
	ringo_task *t = need_task(&err);
	if (!t)
		return err;
	if (delay_ns <= 0) {
		/* One loop iteration, like asyncio.sleep(0). */
		t->wake_value = 0;
		t->state = RINGO_TASK_READY;
		ringo__ready_push(t->fut.loop, &t->work);
		t->wait = &yield_wait;
		t->suspended_at = __builtin_return_address(0);
		switch_out(t);
		return t->wake_value;
	}
	err = ringo_call_later(t->fut.loop, delay_ns, sleep_fire, t, &t->timer);
	if (err < 0)
		return err;
	return suspend(t, &sleep_wait, NULL);
}

/* await */

/* future.c's waker (ringo__future_set_waker): fut, which t awaits or
 * awaited, completed. */
static void await_wake(ringo_future *fut, ringo_task *t)
{
	if (t->state == RINGO_TASK_SUSPENDED && t->wait_ctx == fut)
		ringo__task_wake(t, 0);
}

/* Defined below: the interrupt and abandon check that it is theirs. */
static const struct ringo__wait_ops await_wait;

static void await_interrupt(ringo_task *t)
{
	RINGO_ASSERT(t->wait == &await_wait);
	ringo_future *fut = t->wait_ctx;
	/* As asyncio: cancelling a task that awaits a future cancels that
	 * future (a task: requests its cancellation); the task wakes when the
	 * future completes. If it cannot be cancelled, stop waiting. */
	if (ringo_future_cancel(fut, t->cancel_msg)) {
		t->cancel_pending = false;
		return;
	}
	ringo__future_remove_waiter(fut, t);
	ringo__task_wake(t, -ECANCELED);
}

/* ringo_await holds a reference on the future and, until the future
 * completes, a registration as its waiter (the waiter slot or an await
 * record among its callbacks). */
static void await_abandon(ringo_task *t)
{
	RINGO_ASSERT(t->wait == &await_wait);
	ringo_future *fut = t->wait_ctx;
	if (t->state == RINGO_TASK_SUSPENDED)
		ringo__future_remove_waiter(fut, t);
	ringo_future_release(fut);
}

static const struct ringo__wait_ops await_wait = {
	.what = "await", .interrupt = await_interrupt, .abandon = await_abandon};

/* ringo_await's suspension when a cancellation is pending: forwarded to
 * fut (await_interrupt) before switching out. Out of line: rare. */
__attribute__((noinline)) static int await_forwarding(ringo_task *t, ringo_future *fut)
{
	t->wait = &await_wait;
	t->wait_ctx = fut;
	t->state = RINGO_TASK_SUSPENDED;
	t->suspended_at = __builtin_return_address(0);
	await_interrupt(t);
	switch_out(t);
	return t->wake_value;
}

int ringo_await(ringo_future *fut, void **result)
{
	if (!fut)
		return -EINVAL;
	ringo_task *t = current_task;
	if (!t)
		return -EPERM;
	if (fut == &t->fut)
		return -EDEADLK;
	if (fut->loop != t->fut.loop)
		return -EINVAL;
	/* A done future is not a suspension point (asyncio: no yield); a
	 * pending cancellation waits for the next one. */
	if (fut->state != RINGO__FUT_PENDING) {
		if (fut->state == RINGO__FUT_CANCELLED)
			t->cancel_msg = ringo_future_cancel_message(fut);
		return ringo_future_result(fut, result);
	}
	int err = ringo__future_add_waiter(fut, t);
	if (err < 0)
		return err;
	ringo_future_ref(fut);
	int woke;
	/* A cancellation requested while the task ran (it cancelled itself,
	 * or was cancelled before it got here) goes to what it awaits, as
	 * asyncio's __step does with _must_cancel (bpo-34872): the future is
	 * cancelled, a task asked to cancel and waited for. */
	if (ringo__unlikely(t->cancel_pending))
		woke = await_forwarding(t, fut);
	else
		woke = suspend(t, &await_wait, fut);
	/* -ECANCELED: the wait was interrupted, or a cancel arrived after the
	 * wake-up and before the task ran (asyncio throws it into the await
	 * whatever fut's outcome). */
	int rc = woke;
	if (woke == 0) {
		/* Only fut's completion wakes this wait with 0. */
		RINGO_ASSERT(fut->state != RINGO__FUT_PENDING);
		rc = ringo_future_result(fut, result);
		if (rc == -ECANCELED)
			t->cancel_msg = ringo_future_cancel_message(fut);
	}
	ringo_future_release(fut);
	return rc;
}

static void task_future_name(const ringo_future *fut, char *buf, size_t len)
{
	ringo__task_label((const ringo_task *)fut, buf, len);
}

/* ringo_future_cancel on a task's future is ringo_task_cancel. */
static bool task_future_cancel(ringo_future *fut, const char *msg)
{
	return ringo_task_cancel(task_of(fut), msg);
}

/* asyncio's Task: its body's outcome completes it, never set_result. */
static const struct ringo__future_ops task_future_ops = {
	.what = "Task",
	.free = task_future_free,
	.cancel = task_future_cancel,
	.name = task_future_name,
	.never_settable = true,
};

static bool task_describe(struct ringo__work *w, char *buf, size_t len)
{
	if (w->run != task_run)
		return false;
	ringo_task *t = ringo__container_of(w, ringo_task, work);
	snprintf(buf, len, "task '%s'", ringo_task_name(t));
	return true;
}

/* ---- close ---- */

/* Every task SUSPENDED in a wait, or READY after one (its wake was
 * dropped with the ready queue), leaves it: the wait kind's abandon undoes
 * what the task would have undone on return. Before the close hooks, so
 * the objects waited on are still whole. */
static void sched_abandon_waits(ringo_loop *loop)
{
	struct ringo__sched *s = loop->tasks;
	RINGO_ASSERT(s != NULL);
	RINGO_ASSERT(loop->closed);
	for (struct ringo__list *l = s->live.next; l != &s->live; l = l->next) {
		ringo_task *t = ringo__container_of(l, ringo_task, link);
		if (!t->wait)
			continue;
		RINGO_ASSERT(t->state == RINGO_TASK_SUSPENDED || t->state == RINGO_TASK_READY);
		RINGO_ASSERT(t->wait->abandon != NULL);
		t->wait->abandon(t);
		t->wait = NULL;
		t->wait_ctx = NULL;
	}
}

/* The loop is closing with tasks still alive: their stacks cannot be
 * unwound, so they are abandoned where they stand: marked cancelled
 * (so holders see a done future), detached from what they waited on, and
 * freed once nobody holds them. */
static void sched_close(ringo_loop *loop, void *ctx)
{
	struct ringo__sched *s = ctx;
	/* Open groups (on their parents' stacks) were let go of by their
	 * early close hook. */
	while (!ringo__list_empty(&s->live)) {
		ringo_task *t = ringo__container_of(s->live.next, ringo_task, link);
		RINGO_ASSERT(t->wait == NULL); /* left by sched_abandon_waits */
		if (t->fut.state == RINGO__FUT_PENDING)
			finish_unstarted(t, RINGO__FUT_CANCELLED, "event loop closed");
		t->state = RINGO_TASK_DONE;
		task_done(s, t);
	}
	loop->tasks = NULL;
	loop->abandon_waits = NULL;
	/* Tasks still referenced by users keep their stacks (their record is
	 * there) until released; the pools go with the last of them. */
	s->closed = true;
	if (s->nstacks == 0)
		sched_destroy(s);
}
