/*
 * Composition helpers: ringo_map (a bounded fan-out of tasks, gathered in
 * argument order) and ringo_timeout_call (a function under a timeout
 * scope, in the calling task). The scope guards are inline in
 * include/ringo/compose.h.
 *
 * ringo_map is structured: the calling task starts the tasks itself (so
 * they inherit its context), at most `concurrency` at a time, and returns
 * only when every task it started has finished. Each task has a done
 * callback that records its outcome and wakes the caller, which then
 * starts the next. The first failure (without return_exceptions) or a
 * cancellation of the caller stops the starting and cancels the running,
 * as asyncio's TaskGroup does, and the caller still waits for them all.
 *
 * The tasks are not referenced by the map: the loop holds each until it
 * is done, and its queued done callback until that has run, which is the
 * last time the map looks at it.
 */
#include <string.h>

#include "internal.h"

/* A running task's place; done callbacks point at it. */
struct map_slot {
	struct map_call *call;
	ringo_task *task;            /* NULL while free */
	size_t index;                /* its argument */
	struct map_slot *next_free;
};

/* The slots of one call, on the heap (a call may run 100,000 at once) and
 * listed per loop: a loop closed under the call frees them. */
struct map_block {
	struct ringo__list link;     /* on compose_state.open */
	size_t nslots;
	struct map_slot slots[];
};

/* Per loop, made on first use. */
struct compose_state {
	struct ringo__list open;     /* map_blocks of calls in progress */
};

/* One ringo_map call, on the caller's stack. */
struct map_call {
	ringo_loop *loop;
	ringo_task *caller;
	ringo_task_fn *fn;
	void *const *args;
	struct ringo_gather_result *out;
	size_t n;
	const ringo_task_options *task_opts;
	bool return_exceptions;
	size_t limit;                /* running at once, at most */
	size_t next;                 /* the next argument to start */
	size_t live;                 /* started, done callback not yet run */
	struct map_slot *free;
	int first_err;               /* the first failure (0: none) */
	const char *first_msg;       /* its cancel message, if it was cancelled */
	bool stopping;               /* start nothing more */
	bool cancelled;              /* the caller was cancelled */
	bool waiting;                /* the caller is suspended, not yet woken */
	struct map_block *block;
};

static void compose_close(ringo_loop *loop, void *ctx)
{
	RINGO_ASSERT(loop->compose == ctx);
	struct compose_state *st = ctx;
	/* Calls abandoned by close: their tasks' done callbacks were dropped,
	 * the callers will never resume. */
	while (!ringo__list_empty(&st->open)) {
		struct map_block *b = ringo__container_of(st->open.next, struct map_block, link);
		ringo__list_remove(&b->link);
		ringo__free(loop, b, sizeof(*b) + b->nslots * sizeof(b->slots[0]));
	}
	ringo__free(loop, st, sizeof(*st));
	loop->compose = NULL;
}

static struct compose_state *compose_state(ringo_loop *loop)
{
	if (loop->compose)
		return loop->compose;
	struct compose_state *st = ringo__alloc(loop, sizeof(*st));
	if (!st)
		return NULL;
	ringo__list_init(&st->open);
	if (ringo__add_close_hook(loop, compose_close, st) < 0) {
		ringo__free(loop, st, sizeof(*st));
		return NULL;
	}
	loop->compose = st;
	return st;
}

static int block_new(struct map_call *c)
{
	RINGO_ASSERT(c->limit > 0 && c->limit <= c->n && c->block == NULL);
	size_t nslots = c->limit;
	if (nslots > (SIZE_MAX - sizeof(struct map_block)) / sizeof(struct map_slot))
		return -ENOMEM;
	struct compose_state *st = compose_state(c->loop);
	struct map_block *b = st ? ringo__alloc(c->loop, sizeof(*b) + nslots * sizeof(b->slots[0]))
				 : NULL;
	if (!b)
		return -ENOMEM;
	b->nslots = nslots;
	c->free = NULL;
	for (size_t k = nslots; k-- > 0;) {
		b->slots[k] = (struct map_slot){c, NULL, 0, c->free};
		c->free = &b->slots[k];
	}
	b->link.next = b->link.prev = &b->link;
	ringo__list_insert_tail(&st->open, &b->link);
	c->block = b;
	return 0;
}

static void block_free(struct map_call *c)
{
	RINGO_ASSERT(c->live == 0); /* no done callback names a slot any more */
	struct map_block *b = c->block;
	ringo__list_remove(&b->link);
	ringo__free(c->loop, b, sizeof(*b) + b->nslots * sizeof(b->slots[0]));
}

/* Start nothing more; cancel every task still running. */
static void map_stop(struct map_call *c)
{
	RINGO_ASSERT(c->block != NULL);
	c->stopping = true;
	struct map_block *b = c->block;
	for (size_t k = 0; k < b->nslots; k++)
		if (b->slots[k].task)
			ringo_task_cancel(b->slots[k].task, NULL);
}

/* Item i failed (rc < 0): without return_exceptions the first failure
 * stops the map. */
static void map_failed(struct map_call *c, int rc, const char *msg)
{
	RINGO_ASSERT(rc < 0);
	if (c->return_exceptions || c->stopping)
		return;
	c->first_err = rc;
	c->first_msg = msg;
	map_stop(c);
}

static void map_task_done(ringo_future *fut, void *arg)
{
	struct map_slot *slot = arg;
	struct map_call *c = slot->call;
	RINGO_ASSERT(ringo_future_task(fut) == slot->task && c->live > 0);
	struct ringo_gather_result *r = &c->out[slot->index];
	r->value = NULL;
	r->err = ringo_future_result(fut, &r->value);
	if (r->err < 0)
		map_failed(c, r->err, ringo_future_cancel_message(fut));
	slot->task = NULL;
	slot->next_free = c->free;
	c->free = slot;
	c->live--;
	/* The caller starts the next task, or returns once all are done. */
	if (c->waiting && (!c->stopping || c->live == 0)) {
		c->waiting = false;
		ringo__task_wake(c->caller, 0);
	}
}

/* Start args[i] as a task in a free slot. */
static void map_start(struct map_call *c, size_t i)
{
	RINGO_ASSERT(i < c->n && c->live < c->limit && !c->stopping);
	ringo_task *t;
	int err = ringo_spawn(c->loop, c->fn, c->args[i], c->task_opts, &t);
	if (err == 0) {
		struct map_slot *slot = c->free;
		RINGO_ASSERT(slot != NULL);
		err = ringo_future_add_done_callback(ringo_task_future(t), map_task_done, slot);
		if (err == 0) {
			c->free = slot->next_free;
			slot->task = t;
			slot->index = i;
			c->live++;
		} else {
			/* Not started yet: cancelled now, its body never runs. */
			ringo_task_cancel(t, NULL);
		}
		/* The loop holds it until it is done, its callback until run. */
		ringo_task_release(t);
	}
	if (err < 0) {
		c->out[i] = (struct ringo_gather_result){err, NULL};
		map_failed(c, err, NULL);
	}
}

static void map_cancelled(struct map_call *c)
{
	c->cancelled = true;
	map_stop(c);
}

static void map_interrupt(ringo_task *t)
{
	struct map_call *c = ringo__task_wait_ctx(t);
	RINGO_ASSERT(c->caller == t && c->waiting);
	/* As gather: the cancellation goes to the tasks, and the caller waits
	 * on until they have all finished (their done callbacks wake it). */
	ringo__task_clear_cancel(t);
	map_cancelled(c);
}

/* The call's block is freed by compose_close; the children's done
 * callbacks (naming the call on this stack) are dropped with the ready
 * queue, never run. */
static void map_abandon(ringo_task *t)
{
	(void)t;
}

static const struct ringo__wait_ops map_wait = {
	.what = "map", .interrupt = map_interrupt, .abandon = map_abandon};

static void map_run(struct map_call *c)
{
	RINGO_ASSERT(c->block != NULL && c->caller == ringo_task_current());
	for (;;) {
		while (!c->stopping && c->next < c->n && c->live < c->limit)
			map_start(c, c->next++);
		if (c->live == 0)
			return;
		c->waiting = true;
		int rc = ringo__task_suspend(&map_wait, c);
		/* -ECANCELED: a cancellation that did not come through
		 * map_interrupt (pending at the suspension, or arriving after a
		 * wake-up): forwarded the same way. */
		if (rc == -ECANCELED) {
			c->waiting = false;
			map_cancelled(c);
		}
	}
}

int ringo_map(ringo_task_fn *fn, void *const *args, size_t n, const ringo_map_options *opts,
	      struct ringo_gather_result *out)
{
	if (!fn || (n > 0 && (!args || !out)))
		return -EINVAL;
	if (n == 0)
		return 0;
	ringo_task *self = ringo_task_current();
	if (!self)
		return -EPERM;
	struct map_call c = {
		.loop = ringo_future_loop(ringo_task_future(self)),
		.caller = self,
		.fn = fn,
		.args = args,
		.out = out,
		.n = n,
	};
	if (opts) {
		c.task_opts = opts->task;
		c.return_exceptions = opts->return_exceptions;
		c.limit = opts->concurrency;
	}
	if (c.limit == 0 || c.limit > n)
		c.limit = n;
	int err = block_new(&c);
	if (err < 0)
		return err;
	/* A cancellation pending at the call: asyncio would cancel every
	 * task before its first step; nothing is started instead. */
	if (ringo__task_cancel_pending(self)) {
		ringo__task_clear_cancel(self);
		c.cancelled = c.stopping = true;
	}
	map_run(&c);
	block_free(&c);
	for (size_t i = c.next; i < n; i++)
		out[i] = (struct ringo_gather_result){-ECANCELED, NULL};
	if (c.cancelled)
		return -ECANCELED;
	if (c.first_err == -ECANCELED) /* a task's cancellation, with its message */
		ringo__task_note_cancel(c.first_msg);
	return c.first_err;
}

/* ---- ringo_timeout_call ---- */

int ringo_timeout_call(int64_t timeout_ns, ringo_task_fn *fn, void *arg, void **result)
{
	if (!fn)
		return -EINVAL;
	ringo_timeout scope;
	int rc = ringo_timeout_enter(&scope, timeout_ns);
	if (rc < 0)
		return rc;
	void *value = NULL;
	rc = ringo_timeout_exit(&scope, fn(arg, &value));
	if (rc >= 0 && result)
		*result = value;
	return rc;
}
