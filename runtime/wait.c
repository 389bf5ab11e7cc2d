/*
 * wait, wait_for and as_completed (asyncio's).
 *
 * wait never cancels anything: it only watches. wait_for is what asyncio
 * made it in 3.12: a timeout scope around ringo_await. At the deadline the
 * scope cancels the caller, whose await forwards the cancellation to the
 * future and waits until it has finished; the scope then turns the
 * caller's -ECANCELED into -ETIMEDOUT if the cancellation was its own.
 */
#include "aio_internal.h"

/* ---- wait ---- */

struct waitst {
	enum ringo_wait_mode mode;
	size_t ndone;
	bool met;                /* the return condition holds */
};

static bool failed(ringo_future *fut)
{
	/* asyncio FIRST_EXCEPTION: an exception, not a cancellation. */
	int rc = ringo_future_error(fut);
	return rc < 0 && rc != -ECANCELED && rc != -EINPROGRESS;
}

static void wait_check(struct aio_watch *w, struct waitst *st, size_t i)
{
	RINGO_ASSERT(i < w->n);
	RINGO_ASSERT(st->ndone <= w->n);
	if (st->mode == RINGO_FIRST_COMPLETED && st->ndone > 0)
		st->met = true;
	if (st->mode == RINGO_FIRST_EXCEPTION && failed(w->slots[i].fut))
		st->met = true;
	if (st->ndone == w->n)
		st->met = true;
}

static void wait_child_done(struct aio_watch *w, size_t i)
{
	struct waitst *st = w->ctx;
	RINGO_ASSERT(st != NULL && st->ndone < w->n);
	st->ndone++;
	wait_check(w, st, i);
	if (st->met)
		ringo__watch_wake(w, 0);
}

static void wait_timeout(void *arg)
{
	ringo__watch_wake(arg, 0);
}

static void wait_interrupt(ringo_task *t)
{
	struct aio_watch *w = ringo__task_wait_ctx(t);
	RINGO_ASSERT(w->task == t); /* set before the suspension */
	ringo__watch_wake(w, -ECANCELED);
}

static const struct ringo__wait_ops wait_wait = {
	.what = "wait", .interrupt = wait_interrupt, .abandon = ringo__watch_abandon};

static int wait_watch(struct aio_watch *w, struct waitst *st, int64_t timeout_ns)
{
	RINGO_ASSERT(w->ctx == st && w->task == NULL);
	RINGO_ASSERT(st->ndone == 0 && !st->met);
	for (size_t i = 0; i < w->n; i++) {
		aio_prefetch_slot(w, i);
		if (ringo_future_done(w->slots[i].fut)) {
			st->ndone++;
			wait_check(w, st, i);
			continue;
		}
		int err = ringo__watch_arm(w, i);
		if (err < 0)
			return err;
	}
	/* Met, or timeout 0 (do not wait): what is done now, no suspension. */
	if (st->met || timeout_ns == 0)
		return 0;
	ringo_handle timer;
	bool has_timer = timeout_ns > 0; /* negative: no limit */
	if (has_timer) {
		int err = ringo_call_later(w->loop, timeout_ns, wait_timeout, w, &timer);
		if (err < 0)
			return err;
	}
	w->task = ringo_task_current();
	int rc = ringo__task_suspend(&wait_wait, w);
	w->task = NULL;
	RINGO_ASSERT(rc <= 0);
	if (has_timer)
		ringo_handle_cancel(timer);
	return rc;
}

int ringo_wait(ringo_future *const *futs, size_t n, enum ringo_wait_mode mode,
	       int64_t timeout_ns, bool *done)
{
	if (!futs || n == 0 || !futs[0])
		return -EINVAL;
	if (mode != RINGO_FIRST_COMPLETED && mode != RINGO_FIRST_EXCEPTION &&
	    mode != RINGO_ALL_COMPLETED)
		return -EINVAL;
	if (!ringo_task_current())
		return -EPERM;
	struct aio_watch *w;
	int err = ringo__watch_new(ringo_loop_current(), futs, n, &w);
	if (err < 0)
		return err;
	struct waitst st = {.mode = mode};
	w->ctx = &st;
	w->on_done = wait_child_done;
	int rc = wait_watch(w, &st, timeout_ns);
	ringo__watch_leave(w);
	if (rc < 0)
		return rc;
	int ndone = 0;
	for (size_t i = 0; i < n; i++) {
		bool d = ringo_future_done(futs[i]);
		ndone += d;
		if (done)
			done[i] = d;
	}
	return ndone;
}

/* ---- wait_for ---- */

/* asyncio's _cancel_and_wait: cancel fut and wait for it to finish
 * through a watch (ringo_wait), so a cancellation of the caller stops the
 * waiting without being forwarded to fut a second time. */
static int cancel_and_wait(ringo_future *fut, void **result)
{
	RINGO_ASSERT(fut != NULL && ringo_task_current() != NULL); /* ringo_wait_for checked */
	ringo_future_ref(fut);
	ringo_future_cancel(fut, NULL);
	int rc = 0;
	if (!ringo_future_done(fut))
		rc = ringo_wait(&fut, 1, RINGO_ALL_COMPLETED, RINGO_FOREVER, NULL);
	if (rc >= 0) {
		rc = ringo_future_result(fut, result);
		if (rc == -ECANCELED)
			rc = -ETIMEDOUT;
	}
	ringo_future_release(fut);
	return rc;
}

int ringo_wait_for(ringo_future *fut, int64_t timeout_ns, void **result)
{
	if (!fut)
		return -EINVAL;
	ringo_task *self = ringo_task_current();
	if (!self)
		return -EPERM;
	if (fut == ringo_task_future(self))
		return -EDEADLK;
	if (ringo_future_loop(fut) != ringo_future_loop(ringo_task_future(self)))
		return -EINVAL;
	/* asyncio 3.12+: with no timeout (negative), `async with
	 * timeout(None)`, a plain await; with timeout 0, a done future's
	 * outcome or cancel-and-wait; else `async with timeout(t): return
	 * await fut`. */
	if (timeout_ns < 0)
		return ringo_await(fut, result);
	if (timeout_ns == 0) {
		if (ringo_future_done(fut))
			return ringo_future_result(fut, result);
		return cancel_and_wait(fut, result);
	}
	ringo_timeout scope;
	int err = ringo_timeout_enter(&scope, timeout_ns);
	if (err < 0)
		return err;
	return ringo_timeout_exit(&scope, ringo_await(fut, result));
}

/* ---- as_completed ---- */

struct ringo_as_completed {
	ringo_loop *loop;
	size_t n;                /* futures watched: order has room for n */
	struct aio_watch *w;     /* NULL once freed while a task was inside */
	size_t *order;           /* indices of finished futures, in order */
	size_t finished;         /* entries in order */
	size_t yielded;          /* entries handed out */
	ringo_handle timer;
	bool has_timer;
	bool timed_out;
	/* A task is inside ringo_as_completed_next's wait (suspended, or
	 * woken and not yet run): the record must outlive it. */
	bool inside;
	/* ringo_as_completed_free came while inside: w is gone, and the
	 * task inside frees the record when it leaves. */
	bool freed;
};

static void ac_release(ringo_as_completed *it);

static void ac_child_done(struct aio_watch *w, size_t i)
{
	ringo_as_completed *it = w->ctx;
	RINGO_ASSERT(i < w->n && it->finished < w->n);
	it->order[it->finished++] = i;
	ringo__watch_wake(w, 0);
}

static void ac_timeout(void *arg)
{
	ringo_as_completed *it = arg;
	RINGO_ASSERT(it->has_timer && !it->timed_out);
	it->has_timer = false;
	it->timed_out = true;
	ringo__watch_wake(it->w, -ETIMEDOUT);
}

/* ctx is the iterator: its watch may be gone (freed while waiting). */
static void ac_interrupt(ringo_task *t)
{
	ringo_as_completed *it = ringo__task_wait_ctx(t);
	RINGO_ASSERT(it->inside && !it->freed); /* free wakes a suspended waiter */
	RINGO_ASSERT(it->w->task == t);
	ringo__watch_wake(it->w, -ECANCELED);
}

/* The task never runs again: leave as it would have. The record is the
 * iterator's (freed with it), unless free already came: then it is ours. */
static void ac_abandon(ringo_task *t)
{
	ringo_as_completed *it = ringo__task_wait_ctx(t);
	RINGO_ASSERT(it->inside);
	it->inside = false;
	if (it->freed) {
		ac_release(it);
		return;
	}
	RINGO_ASSERT(it->w->task == t || it->w->task == NULL); /* NULL: woken, not yet run */
	it->w->task = NULL;
}

static const struct ringo__wait_ops ac_wait = {
	.what = "as_completed", .interrupt = ac_interrupt, .abandon = ac_abandon};

static int ac_start(ringo_as_completed *it, int64_t timeout_ns)
{
	struct aio_watch *w = it->w;
	RINGO_ASSERT(it->finished == 0 && !it->has_timer && !it->timed_out); /* fresh */
	for (size_t i = 0; i < w->n; i++) {
		aio_prefetch_slot(w, i);
		if (ringo_future_done(w->slots[i].fut)) {
			it->order[it->finished++] = i;
			continue;
		}
		int err = ringo__watch_arm(w, i);
		if (err < 0)
			return err;
	}
	if (timeout_ns < 0)
		return 0; /* no limit */
	if (timeout_ns == 0) {
		it->timed_out = true; /* do not wait: yield only what is done */
		return 0;
	}
	int err = ringo_call_later(w->loop, timeout_ns, ac_timeout, it, &it->timer);
	if (err == 0)
		it->has_timer = true;
	return err;
}

int ringo_as_completed_new(ringo_loop *loop, ringo_future *const *futs, size_t n,
			   int64_t timeout_ns, ringo_as_completed **out)
{
	if (!loop || !out || (n && !futs))
		return -EINVAL;
	*out = NULL;
	ringo_as_completed *it = ringo__alloc(loop, sizeof(*it));
	if (!it)
		return -ENOMEM;
	*it = (ringo_as_completed){.loop = loop, .n = n};
	it->order = ringo__alloc(loop, (n ? n : 1) * sizeof(size_t));
	int err = it->order ? ringo__watch_new(loop, futs, n, &it->w) : -ENOMEM;
	if (err < 0) {
		if (it->order)
			ringo__free(loop, it->order, (n ? n : 1) * sizeof(size_t));
		ringo__free(loop, it, sizeof(*it));
		return err;
	}
	ringo__held_inc(loop);
	it->w->ctx = it;
	it->w->on_done = ac_child_done;
	err = ac_start(it, timeout_ns);
	if (err < 0) {
		ringo_as_completed_free(it);
		return err;
	}
	*out = it;
	return 0;
}

int ringo_as_completed_next(ringo_as_completed *it, ringo_future **fut)
{
	if (!it || !fut)
		return -EINVAL;
	if (!ringo_task_current())
		return -EPERM;
	struct aio_watch *w = it->w;
	if (w->task)
		return -EBUSY; /* another task is waiting on this iterator */
	RINGO_ASSERT(it->yielded <= it->finished && it->finished <= w->n);
	while (it->yielded == it->finished) {
		if (it->yielded == w->n)
			return -ENOENT;
		if (it->timed_out)
			return -ETIMEDOUT;
		w->task = ringo_task_current();
		it->inside = true;
		int rc = ringo__task_suspend(&ac_wait, it);
		it->inside = false;
		if (it->freed) {
			ac_release(it); /* w went with the free */
			return -ECANCELED;
		}
		w->task = NULL;
		if (rc < 0 && rc != -ETIMEDOUT)
			return rc;
	}
	*fut = w->slots[it->order[it->yielded++]].fut;
	return 0;
}

/* The record's own memory, last: nobody is inside next any more. */
static void ac_release(ringo_as_completed *it)
{
	RINGO_ASSERT(!it->inside && it->w == NULL);
	ringo_loop *loop = it->loop;
	ringo__free(loop, it->order, (it->n ? it->n : 1) * sizeof(size_t));
	ringo__free(loop, it, sizeof(*it));
	ringo__held_dec(loop);
}

void ringo_as_completed_free(ringo_as_completed *it)
{
	/* freed: a second free while the waiter has not left yet; the
	 * record is still there, so it can simply be ignored. */
	if (!it || it->freed)
		return;
	if (it->has_timer)
		ringo_handle_cancel(it->timer);
	it->has_timer = false;
	/* A waiter still suspended gets -ECANCELED; one already woken finds
	 * freed when it runs. Either way it frees the record as it leaves. */
	if (it->inside)
		ringo__watch_wake(it->w, -ECANCELED);
	ringo__watch_leave(it->w);
	it->w = NULL;
	if (it->inside)
		it->freed = true;
	else
		ac_release(it);
}
