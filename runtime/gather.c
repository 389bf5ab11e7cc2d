/*
 * gather and shield, and the "watch many futures" record that gather,
 * wait and as_completed share.
 *
 * gather follows asyncio: results in argument order; without
 * return_exceptions the first failure is reported at once and the other
 * children keep running; cancelling the caller cancels every unfinished
 * child and gather returns -ECANCELED once all of them have finished.
 */
#include <string.h>

#include "aio_internal.h"

/* ---- the watch record ---- */

static size_t watch_size(size_t n)
{
	return sizeof(struct aio_watch) + n * sizeof(struct aio_watch_slot);
}

static void watch_unref(struct aio_watch *w)
{
	RINGO_ASSERT(w->refs > 0);
	if (--w->refs == 0)
		ringo__free(w->loop, w, watch_size(w->n));
}

static void watch_done(ringo_future *fut, void *arg)
{
	struct aio_watch_slot *slot = arg;
	struct aio_watch *w = slot->w;
	RINGO_ASSERT(slot->fut == fut || slot->fut == NULL);
	if (w->on_done)
		w->on_done(w, (size_t)(slot - w->slots));
	watch_unref(w);
}

int ringo__watch_new(ringo_loop *loop, ringo_future *const *futs, size_t n,
		     struct aio_watch **out)
{
	if (n > (SIZE_MAX - sizeof(struct aio_watch)) / sizeof(struct aio_watch_slot))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!futs[i] || ringo_future_loop(futs[i]) != loop)
			return -EINVAL;
	struct aio_watch *w = ringo__alloc(loop, watch_size(n));
	if (!w)
		return -ENOMEM;
	w->loop = loop;
	w->refs = 1;
	w->n = n;
	w->on_done = NULL;
	w->ctx = NULL;
	w->task = NULL;
	for (size_t i = 0; i < n; i++) {
		w->slots[i].w = w;
		w->slots[i].fut = futs[i];
		ringo_future_ref(futs[i]);
	}
	*out = w;
	return 0;
}

int ringo__watch_arm(struct aio_watch *w, size_t i)
{
	int err = ringo_future_add_done_callback(w->slots[i].fut, watch_done, &w->slots[i]);
	if (err == 0)
		w->refs++;
	return err;
}

void ringo__watch_leave(struct aio_watch *w)
{
	w->on_done = NULL;
	w->ctx = NULL;
	w->task = NULL;
	for (size_t i = 0; i < w->n; i++) {
		ringo_future *fut = w->slots[i].fut;
		/* Only a pending future still lists our callback; a queued one
		 * holds its own reference and runs later (then only unrefs). */
		if (!ringo_future_done(fut)) {
			int removed = ringo_future_remove_done_callback(fut, watch_done, &w->slots[i]);
			RINGO_ASSERT(removed >= 0);
			w->refs -= (size_t)removed;
		}
		w->slots[i].fut = NULL;
		ringo_future_release(fut);
	}
	watch_unref(w);
}

void ringo__watch_wake(struct aio_watch *w, int value)
{
	ringo_task *t = w->task;
	if (!t)
		return;
	w->task = NULL;
	ringo__task_wake(t, value);
}

/* ---- gather ---- */

struct gather {
	bool return_exceptions;
	bool cancelled;          /* the caller was cancelled: children too */
	bool woken;
	size_t remaining;        /* children not finished */
	int first_err;           /* first failure seen (no return_exceptions) */
};

static void gather_wake(struct aio_watch *w, struct gather *g, int value)
{
	g->woken = true;
	ringo__watch_wake(w, value);
}

static void gather_child_done(struct aio_watch *w, size_t i)
{
	struct gather *g = w->ctx;
	RINGO_ASSERT(g->remaining > 0);
	g->remaining--;
	int rc = ringo_future_error(w->slots[i].fut);
	if (g->cancelled) {
		if (g->remaining == 0)
			gather_wake(w, g, -ECANCELED);
		return;
	}
	if (rc < 0 && !g->return_exceptions && g->first_err == 0) {
		g->first_err = rc;
		gather_wake(w, g, 0);
	} else if (g->remaining == 0) {
		gather_wake(w, g, 0);
	}
}

static void gather_cancel_children(struct aio_watch *w, struct gather *g)
{
	g->cancelled = true;
	for (size_t i = 0; i < w->n; i++)
		ringo_future_cancel(w->slots[i].fut, NULL);
}

static void gather_interrupt(ringo_task *t)
{
	struct aio_watch *w = ringo__task_wait_ctx(t);
	struct gather *g = w->ctx;
	/* As asyncio's _GatheringFuture.cancel: the cancellation goes to the
	 * children; gather itself ends when they all have. */
	ringo__task_clear_cancel(t);
	gather_cancel_children(w, g);
	if (g->remaining == 0)
		gather_wake(w, g, -ECANCELED);
}

static const struct ringo__wait_ops gather_wait = {"gather", gather_interrupt, false};

/* Scan the children already done (argument order) and arm the others. */
static int gather_start(struct aio_watch *w, struct gather *g)
{
	for (size_t i = 0; i < w->n; i++) {
		ringo_future *fut = w->slots[i].fut;
		if (ringo_future_done(fut)) {
			int rc = ringo_future_error(fut);
			if (rc < 0 && g->first_err == 0)
				g->first_err = rc;
			continue;
		}
		int err = ringo__watch_arm(w, i);
		if (err < 0)
			return err;
		g->remaining++;
	}
	return 0;
}

static int gather_suspend(struct aio_watch *w, struct gather *g)
{
	for (;;) {
		w->task = ringo_current_task();
		int rc = ringo__task_suspend(&gather_wait, w);
		if (g->woken || rc != -ECANCELED || g->cancelled)
			return rc;
		/* A cancellation was already pending: it never reached us
		 * through interrupt. Forward it to the children and wait. */
		w->task = NULL;
		gather_cancel_children(w, g);
		if (g->remaining == 0)
			return -ECANCELED;
	}
}

int ringo_gather(ringo_future *const *futs, size_t n, bool return_exceptions,
		 struct ringo_gather_result *out)
{
	if (n == 0)
		return 0;
	if (!futs || !out || !futs[0])
		return -EINVAL;
	if (!ringo_current_task())
		return -EPERM;
	struct aio_watch *w;
	int err = ringo__watch_new(ringo_loop_current(), futs, n, &w);
	if (err < 0)
		return err;
	struct gather g = {.return_exceptions = return_exceptions};
	w->ctx = &g;
	w->on_done = gather_child_done;
	int rc = gather_start(w, &g);
	bool wait = g.remaining > 0 && (return_exceptions || g.first_err == 0);
	if (rc == 0 && wait)
		rc = gather_suspend(w, &g);
	ringo__watch_leave(w);
	for (size_t i = 0; i < n; i++) {
		out[i].value = NULL;
		out[i].err = ringo_future_result(futs[i], &out[i].value);
	}
	if (rc < 0)
		return rc;
	return return_exceptions ? 0 : g.first_err;
}

/* ---- shield ---- */

static void shield_done(ringo_future *inner, void *arg)
{
	ringo_future *outer = arg;
	if (!ringo_future_done(outer)) {
		void *value = NULL;
		int rc = ringo_future_result(inner, &value);
		if (rc == 0)
			ringo_future_set_result(outer, value);
		else if (rc == -ECANCELED)
			ringo_future_cancel(outer, ringo_future_cancel_message(inner));
		else
			ringo_future_set_error(outer, rc);
	}
	ringo_future_release(outer);
	ringo_future_release(inner); /* shield's own reference */
}

int ringo_shield(ringo_future *inner, ringo_future **outer)
{
	if (!inner || !outer)
		return -EINVAL;
	*outer = NULL;
	ringo_future *o;
	int err = ringo_future_new(ringo_future_loop(inner), &o);
	if (err < 0)
		return err;
	if (ringo_future_done(inner)) {
		ringo_future_ref(inner);
		ringo_future_ref(o);
		shield_done(inner, o);
		*outer = o;
		return 0;
	}
	err = ringo_future_add_done_callback(inner, shield_done, o);
	if (err < 0) {
		ringo_future_release(o);
		return err;
	}
	ringo_future_ref(o);     /* the callback's */
	ringo_future_ref(inner); /* keeps inner (and the callback) alive */
	*outer = o;
	return 0;
}
