/*
 * Futures: asyncio's Future, reference counted.
 *
 * Done callbacks are callback records kept on the future's own FIFO list
 * while it is pending; completing the future moves them, in order, to the
 * ready queue, each holding a reference so the future outlives them. So a
 * done callback always runs through the ready queue, never inline, even
 * when it is added to a future that is already done (asyncio's rule).
 */
#include <dlfcn.h>
#include <stdio.h>

#include "internal.h"

/* A plain future is one cache line: awaiting one touches no other. */
_Static_assert(sizeof(ringo_future) <= 64, "ringo_future outgrew a cache line");

/* The task layer's (ringo__future_set_waker). Each loop's first spawn
 * stores it, on whatever thread that loop lives, always the same value:
 * atomic for that, relaxed (a plain load on the await path) since the
 * spawn of any awaiting task happened before its await. */
static ringo__await_wake_fn *_Atomic await_wake;

void ringo__future_set_waker(ringo__await_wake_fn *fn)
{
	RINGO_ASSERT(fn != NULL);
	atomic_store_explicit(&await_wake, fn, memory_order_relaxed);
}

static void wake_awaiter(ringo_future *fut, ringo_task *task)
{
	atomic_load_explicit(&await_wake, memory_order_relaxed)(fut, task);
}

void ringo__future_init(ringo_future *fut, ringo_loop *loop)
{
	RINGO_ASSERT(!loop->closed);
	fut->loop = loop;
	fut->refs = 1;
	fut->state = RINGO__FUT_PENDING;
	fut->ops = NULL;
	fut->value = NULL;
	fut->cancel_msg = NULL;
	fut->waiter = NULL;
	fut->cbs_head = NULL;
	fut->cbs_tail = &fut->cbs_head;
	ringo__held_inc(loop);
}

int ringo_future_new(ringo_loop *loop, ringo_future **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	int err = ringo__check_open(loop);
	if (err < 0)
		return err;
	ringo_future *fut = ringo__alloc(loop, sizeof(*fut));
	if (!fut)
		return -ENOMEM;
	ringo__future_init(fut, loop);
	*out = fut;
	return 0;
}

void ringo_future_ref(ringo_future *fut)
{
	if (!fut)
		return;
	RINGO_ASSERT(fut->refs > 0); /* a freed future: use after release */
	fut->refs++;
}

/* The last reference went: drop what is still listed, unrun. Out of
 * line: inlined, its registers would cost every release a frame. */
__attribute__((noinline, cold)) static void drop_callbacks(ringo_future *fut)
{
	RINGO_ASSERT(fut->refs == 0);
	fut->waiter = NULL;
	struct ringo__work *w = fut->cbs_head;
	fut->cbs_head = NULL;
	fut->cbs_tail = &fut->cbs_head;
	while (w) {
		struct ringo__work *next = w->next;
		ringo__cb_free(fut->loop, ringo__container_of(w, struct ringo__cb, work));
		w = next;
	}
}

void ringo_future_release(ringo_future *fut)
{
	if (!fut)
		return;
	RINGO_ASSERT(fut->refs > 0);
	if (--fut->refs > 0)
		return;
	/* Pending callbacks hold no reference, so they may still be listed. */
	if (ringo__unlikely(fut->cbs_head != NULL))
		drop_callbacks(fut);
	ringo_loop *loop = fut->loop;
	ringo__held_dec(loop);
	const struct ringo__future_ops *ops = fut->ops;
	if (ops && ops->free)
		ops->free(fut);
	else
		ringo__free(loop, fut, sizeof(*fut));
}

/* Queue one done callback: it takes a reference on the future. Inlined
 * into both callers: completion runs it for every listed callback, and
 * as a call it cost each await behind a callback ~10 instructions. */
static inline __attribute__((always_inline)) void schedule_done(ringo_future *fut,
							  struct ringo__cb *cb)
{
	RINGO_ASSERT(fut->state != RINGO__FUT_PENDING);
	if (fut->loop->closed) {
		/* Nothing will run again on a closed loop. */
		ringo__cb_free(fut->loop, cb);
		return;
	}
	if (cb->kind == RINGO__CB_AWAIT) {
		ringo_task *task = cb->arg;
		ringo__cb_free(fut->loop, cb);
		wake_awaiter(fut, task);
		return;
	}
	cb->state = RINGO__CB_READY;
	cb->fut = fut;
	fut->refs++;
	ringo__ready_push(fut->loop, &cb->work);
}

void ringo__future_complete(ringo_future *fut, int state, void *value, int error, const char *msg)
{
	RINGO_ASSERT(fut->state == RINGO__FUT_PENDING);
	RINGO_ASSERT(state != RINGO__FUT_PENDING);
	fut->state = (uint8_t)state;
	fut->value = value;
	if (state == RINGO__FUT_CANCELLED)
		fut->cancel_msg = msg;
	else
		fut->error = error;
	if (fut->waiter) {
		/* Registered before every listed callback: it goes first. */
		ringo_task *t = fut->waiter;
		fut->waiter = NULL;
		if (!fut->loop->closed)
			wake_awaiter(fut, t);
	}
	struct ringo__work *w = fut->cbs_head;
	fut->cbs_head = NULL;
	fut->cbs_tail = &fut->cbs_head;
	while (w) {
		struct ringo__work *next = w->next;
		schedule_done(fut, ringo__container_of(w, struct ringo__cb, work));
		w = next;
	}
}

/* Put a pending future's new record at the end of its done list. */
static void list_cb(ringo_future *fut, struct ringo__cb *cb)
{
	cb->state = RINGO__CB_WAITING;
	cb->fut = fut;
	cb->work.next = NULL;
	*fut->cbs_tail = &cb->work;
	fut->cbs_tail = &cb->work.next;
}

/* A task awaits fut behind other callbacks: a record keeps its place in
 * their order. Out of line, so the waiter slot's path needs no frame. */
__attribute__((noinline)) static int add_await_record(ringo_future *fut, ringo_task *task)
{
	/* A task runs: its layer installed the waker. */
	RINGO_ASSERT(atomic_load_explicit(&await_wake, memory_order_relaxed) != NULL);
	struct ringo__cb *cb = ringo__cb_new(fut->loop);
	if (!cb)
		return -ENOMEM;
	cb->kind = RINGO__CB_AWAIT;
	cb->done_fn = NULL;
	cb->arg = task;
	cb->work.run = ringo__cb_run; /* never queued: see schedule_done */
	list_cb(fut, cb);
	return 0;
}

int ringo__future_add_waiter(ringo_future *fut, ringo_task *task)
{
	RINGO_ASSERT(fut->state == RINGO__FUT_PENDING);
	if (!fut->waiter && !fut->cbs_head) {
		fut->waiter = task;
		return 0;
	}
	return add_await_record(fut, task);
}

/* Drop the records of the done list that match (kind, fn, arg); fn is
 * not compared for RINGO__CB_AWAIT. How many went. */
static int unlist_cbs(ringo_future *fut, uint8_t kind, ringo_done_fn *fn, void *arg)
{
	int removed = 0;
	struct ringo__work **link = &fut->cbs_head;
	fut->cbs_tail = &fut->cbs_head;
	while (*link) {
		struct ringo__cb *cb = ringo__container_of(*link, struct ringo__cb, work);
		if (cb->kind == kind && cb->arg == arg &&
		    (kind == RINGO__CB_AWAIT || cb->done_fn == fn)) {
			*link = cb->work.next;
			ringo__cb_free(fut->loop, cb);
			removed++;
			continue;
		}
		link = &cb->work.next;
		fut->cbs_tail = link;
	}
	return removed;
}

void ringo__future_remove_waiter(ringo_future *fut, ringo_task *task)
{
	if (fut->waiter == task)
		fut->waiter = NULL;
	else
		unlist_cbs(fut, RINGO__CB_AWAIT, NULL, task);
}

static int check_settable(const ringo_future *fut)
{
	if (!fut)
		return -EINVAL;
	if (fut->ops && fut->ops->never_settable)
		return -EPERM;
	if (fut->state != RINGO__FUT_PENDING)
		return -EALREADY;
	if (fut->ops)
		return -EPERM; /* its owner completes it (a job: when fn returns) */
	return 0;
}

int ringo_future_set_result(ringo_future *fut, void *value)
{
	int err = check_settable(fut);
	if (err < 0)
		return err;
	ringo__future_complete(fut, RINGO__FUT_RESULT, value, 0, NULL);
	return 0;
}

int ringo_future_set_error(ringo_future *fut, int error)
{
	int err = check_settable(fut);
	if (err < 0)
		return err;
	if (error >= 0 || error == -EINPROGRESS || error == -ECANCELED)
		return -EINVAL;
	ringo__future_complete(fut, RINGO__FUT_ERROR, NULL, error, NULL);
	return 0;
}

bool ringo_future_cancel(ringo_future *fut, const char *msg)
{
	if (!fut)
		return false;
	if (fut->ops && fut->ops->cancel)
		return fut->ops->cancel(fut, msg);
	if (fut->state != RINGO__FUT_PENDING)
		return false;
	ringo__future_complete(fut, RINGO__FUT_CANCELLED, NULL, -ECANCELED, msg);
	return true;
}

bool ringo_future_done(const ringo_future *fut)
{
	return fut && fut->state != RINGO__FUT_PENDING;
}

bool ringo_future_cancelled(const ringo_future *fut)
{
	return fut && fut->state == RINGO__FUT_CANCELLED;
}

int ringo_future_result(const ringo_future *fut, void **value)
{
	if (!fut)
		return -EINVAL;
	switch (fut->state) {
	case RINGO__FUT_PENDING:
		return -EINPROGRESS;
	case RINGO__FUT_RESULT:
		if (value)
			*value = fut->value;
		return 0;
	case RINGO__FUT_CANCELLED:
		return -ECANCELED;
	default:
		return fut->error;
	}
}

int ringo_future_error(const ringo_future *fut)
{
	return ringo_future_result(fut, NULL);
}

const char *ringo_future_cancel_message(const ringo_future *fut)
{
	return fut && fut->state == RINGO__FUT_CANCELLED ? fut->cancel_msg : NULL;
}

int ringo_future_add_done_callback(ringo_future *fut, ringo_done_fn *fn, void *arg)
{
	if (!fut || !fn)
		return -EINVAL;
	int err = ringo__check_open(fut->loop);
	if (err < 0)
		return err;
	struct ringo__cb *cb = ringo__cb_new(fut->loop);
	if (!cb)
		return -ENOMEM;
	/* The record's run (callback.c) lets go of the reference it will
	 * hold through this hook: callback.c sits below us. */
	fut->loop->release_future = ringo_future_release;
	cb->kind = RINGO__CB_DONE;
	cb->done_fn = fn;
	cb->arg = arg;
	cb->work.run = ringo__cb_run;
	if (fut->state != RINGO__FUT_PENDING)
		schedule_done(fut, cb);
	else
		list_cb(fut, cb);
	return 0;
}

int ringo_future_remove_done_callback(ringo_future *fut, ringo_done_fn *fn, void *arg)
{
	if (!fut || !fn)
		return -EINVAL;
	return unlist_cbs(fut, RINGO__CB_DONE, fn, arg);
}

ringo_loop *ringo_future_loop(const ringo_future *fut)
{
	return fut ? fut->loop : NULL;
}

/* A task waiting on a future, for repr, as asyncio shows its __wakeup. */
static void describe_waiter(const ringo_task *task, char *buf, size_t len)
{
	const ringo_future *head = ringo__task_head(task);
	char name[40];
	RINGO_ASSERT(head->ops != NULL);
	RINGO_ASSERT(head->ops->name != NULL);
	head->ops->name(head, name, sizeof(name));
	snprintf(buf, len, "wakeup('%s')", name);
}

/* One done callback, for repr: a task waiting on the future names itself;
 * anything else by its function's symbol when it has one. */
static int describe_cb(const struct ringo__cb *cb, char *buf, size_t len)
{
	if (cb->kind == RINGO__CB_AWAIT) {
		describe_waiter(cb->arg, buf, len);
		return 0;
	}
	Dl_info info;
	if (dladdr((void *)cb->done_fn, &info) && info.dli_sname)
		snprintf(buf, len, "%s()", info.dli_sname);
	else
		snprintf(buf, len, "%p()", (void *)cb->done_fn);
	return 0;
}

char *ringo_future_repr(const ringo_future *fut, char *buf, size_t len)
{
	if (!buf || len == 0)
		return buf;
	if (!fut) {
		snprintf(buf, len, "<Future NULL>");
		return buf;
	}
	char head[64];
	const struct ringo__future_ops *ops = fut->ops;
	const char *what = ops && ops->what ? ops->what : "Future";
	if (ops && ops->name) {
		char name[40];
		ops->name(fut, name, sizeof(name));
		snprintf(head, sizeof(head), "%s '%s'", what, name);
	} else
		snprintf(head, sizeof(head), "%s", what);
	switch (fut->state) {
	case RINGO__FUT_RESULT:
		snprintf(buf, len, "<%s finished result=%p>", head, fut->value);
		return buf;
	case RINGO__FUT_ERROR:
		snprintf(buf, len, "<%s finished error=%d (%s)>", head, fut->error,
			 ringo_strerror(fut->error));
		return buf;
	case RINGO__FUT_CANCELLED:
		snprintf(buf, len, "<%s cancelled>", head);
		return buf;
	default:
		break;
	}
	size_t n = (size_t)snprintf(buf, len, "<%s pending", head);
	const char *sep = " cb=[";
	if (fut->waiter && n < len) {
		char one[64];
		describe_waiter(fut->waiter, one, sizeof(one));
		n += (size_t)snprintf(buf + n, len - n, "%s%s", sep, one);
		sep = ", ";
	}
	for (const struct ringo__work *w = fut->cbs_head; w && n < len; w = w->next) {
		char one[64];
		describe_cb(ringo__container_of(w, struct ringo__cb, work), one, sizeof(one));
		n += (size_t)snprintf(buf + n, len - n, "%s%s", sep, one);
		sep = ", ";
	}
	if (n < len)
		snprintf(buf + n, len - n, "%s>", fut->cbs_head || fut->waiter ? "]" : "");
	return buf;
}
