/*
 * Task groups: asyncio's TaskGroup (3.13 semantics) for stackful tasks.
 *
 * The group keeps a reference on every child it spawned (an array swept of
 * finished children when it grows) so abort can cancel the live ones.
 * A child's done callback points at the group, which lives in the parent's
 * frame: ringo_group_wait() returns only once every child's callback has
 * run, so no callback outlives it.
 *
 * The first child failure aborts: siblings are cancelled and so is the
 * parent (once), so whatever the body waits on returns -ECANCELED; the
 * group takes that cancellation back with uncancel() when it is left,
 * which is how the body's -ECANCELED is told apart from a cancel that came
 * from outside (that one keeps cancelling() above zero and propagates).
 */
#include <string.h>

#include "aio_internal.h"

/* Release the children and the arrays; leave the loop's list. */
static void group_release(ringo_group *g)
{
	RINGO_ASSERT(!g->finished);
	g->finished = true;
	for (size_t i = 0; i < g->ntasks; i++)
		ringo_task_release(g->tasks[i]);
	ringo__free(g->loop, g->tasks, g->cap * sizeof(*g->tasks));
	ringo__free(g->loop, g->errs, g->errs_cap * sizeof(int));
	g->tasks = NULL;
	g->errs = NULL;
	g->ntasks = g->cap = g->errs_cap = 0;
	aio_wq_remove(&g->link);
}

/* The aio layer's early close hook (gather.c) calls this through the
 * pointer given to ringo__aio_track: the loop closes with the group open,
 * its parent and children are abandoned, and no callback of theirs will
 * run. */
static void group_drop_at_close(struct ringo_wq *link)
{
	group_release(ringo__container_of(link, ringo_group, link));
}

int ringo_group_init(ringo_group *g)
{
	if (!g)
		return -EINVAL;
	ringo_task *t = ringo_task_current();
	if (!t)
		return -EPERM;
	memset(g, 0, sizeof(*g));
	g->loop = ringo_future_loop(ringo_task_future(t));
	int err = ringo__aio_track(g->loop, &g->link, group_drop_at_close);
	if (err < 0)
		return err;
	g->parent = t;
	return 0;
}

static void group_abort(ringo_group *g)
{
	RINGO_ASSERT(!g->finished);
	g->aborting = true;
	for (size_t i = 0; i < g->ntasks; i++)
		ringo_task_cancel(g->tasks[i], NULL);
}

static void record_error(ringo_group *g, int err)
{
	if (g->nerrs == g->errs_cap) {
		size_t ncap = g->errs_cap ? g->errs_cap * 2 : 4;
		int *n = ringo__realloc(g->loop, g->errs, g->errs_cap * sizeof(int),
					ncap * sizeof(int));
		if (!n) {
			/* Out of memory: keep the count; the first errors stay. */
			g->nerrs++;
			return;
		}
		g->errs = n;
		g->errs_cap = ncap;
	}
	g->errs[g->nerrs++] = err;
}

static void child_done(ringo_future *fut, void *arg)
{
	ringo_group *g = arg;
	RINGO_ASSERT(g->live > 0);
	g->live--;
	if (g->live == 0 && g->waiter) {
		ringo_task *w = g->waiter;
		g->waiter = NULL;
		ringo__task_wake(w, 0);
	}
	int rc = ringo_future_error(fut);
	if (rc == 0 || rc == -ECANCELED)
		return;
	record_error(g, rc);
	if (!g->aborting && !g->parent_cancel_requested) {
		/* Abort the body too: it must stop what it is doing. */
		group_abort(g);
		g->parent_cancel_requested = true;
		ringo_task_cancel(g->parent, NULL);
	}
}

/* Drop finished children (their callbacks may still be queued: those hold
 * their own reference). */
static void sweep(ringo_group *g)
{
	size_t k = 0;
	for (size_t i = 0; i < g->ntasks; i++) {
		if (ringo_future_done(ringo_task_future(g->tasks[i])))
			ringo_task_release(g->tasks[i]);
		else
			g->tasks[k++] = g->tasks[i];
	}
	g->ntasks = k;
}

static int reserve(ringo_group *g)
{
	if (g->ntasks < g->cap)
		return 0;
	sweep(g);
	if (g->ntasks < g->cap / 2 + 1 && g->ntasks < g->cap)
		return 0;
	size_t ncap = g->cap ? g->cap * 2 : 8;
	ringo_task **n = ringo__realloc(g->loop, g->tasks, g->cap * sizeof(*n), ncap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	g->tasks = n;
	g->cap = ncap;
	return 0;
}

int ringo_group_spawn(ringo_group *g, ringo_task_fn *fn, void *arg,
		      const ringo_task_options *opts, ringo_task **out)
{
	if (out)
		*out = NULL;
	if (!g || !g->parent)
		return -EINVAL;
	if (g->aborting || g->finished)
		return -ESHUTDOWN;
	int err = reserve(g);
	if (err < 0)
		return err;
	ringo_task *t;
	err = ringo_spawn(g->loop, fn, arg, opts, &t);
	if (err < 0)
		return err;
	err = ringo_future_add_done_callback(ringo_task_future(t), child_done, g);
	if (err < 0) {
		ringo_task_cancel(t, NULL);
		ringo_task_release(t);
		return err;
	}
	g->tasks[g->ntasks++] = t;
	g->live++;
	if (out) {
		ringo_task_ref(t);
		*out = t;
	}
	return 0;
}

static void group_interrupt(ringo_task *t)
{
	ringo_group *g = ringo__task_wait_ctx(t);
	/* asyncio: the CancelledError from awaiting the children is caught;
	 * a cancel from outside aborts the group and is re-raised after. */
	ringo__task_clear_cancel(t);
	if (!g->aborting) {
		g->propagate_cancel = true;
		group_abort(g);
	}
}

/* The group itself is let go of by the aio layer's early close hook
 * (gather.c), while the parents' stacks still exist. */
static void group_abandon(ringo_task *t)
{
	(void)t;
}

static const struct ringo__wait_ops group_wait = {
	.what = "task group", .interrupt = group_interrupt, .abandon = group_abandon};

static void wait_children(ringo_group *g)
{
	RINGO_ASSERT(ringo_task_current() == g->parent);
	RINGO_ASSERT(!g->waiter);
	while (g->live > 0) {
		g->waiter = g->parent;
		int rc = ringo__task_suspend(&group_wait, g);
		g->waiter = NULL;
		if (rc == -ECANCELED && !g->aborting) {
			/* Pending at entry, or arrived after the wake. */
			g->propagate_cancel = true;
			group_abort(g);
		}
	}
}

static int group_result(ringo_group *g, int body_rc, int *errs, size_t cap, size_t *nerrs)
{
	if (body_rc < 0 && body_rc != -ECANCELED)
		record_error(g, body_rc);
	size_t stored = g->nerrs < g->errs_cap ? g->nerrs : g->errs_cap;
	for (size_t i = 0; i < stored && i < cap && errs; i++)
		errs[i] = g->errs[i];
	if (nerrs)
		*nerrs = g->nerrs;
	int rc = 0;
	if (g->nerrs)
		rc = stored ? g->errs[0] : -ENOMEM;
	else if (g->propagate_cancel)
		rc = -ECANCELED;
	return rc;
}

int ringo_group_wait(ringo_group *g, int body_rc, int *errs, size_t cap, size_t *nerrs)
{
	if (!g || !g->parent || g->finished)
		return -EINVAL;
	if (ringo_task_current() != g->parent)
		return -EPERM;
	g->exiting = true;
	g->propagate_cancel = body_rc == -ECANCELED;
	if (body_rc < 0 && !g->aborting)
		group_abort(g);
	wait_children(g);
	RINGO_ASSERT(g->live == 0);
	/* Take back the group's own cancellation of the parent; if nothing
	 * else is pending the body's -ECANCELED was ours, not to propagate. */
	if (g->parent_cancel_requested && ringo_task_uncancel(g->parent) == 0)
		g->propagate_cancel = false;
	int rc = group_result(g, body_rc, errs, cap, nerrs);
	if (rc != -ECANCELED && rc < 0 && ringo_task_cancelling(g->parent) > 0) {
		/* 3.13: errors win over an outside cancel, which is kept
		 * pending (uncancel + cancel keeps the count stable). */
		ringo_task_uncancel(g->parent);
		ringo_task_cancel(g->parent, NULL);
	}
	group_release(g);
	return rc;
}
