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

/* A record for n slots, none filled; NULL if there is no memory. */
static struct aio_watch *watch_alloc(ringo_loop *loop, size_t n)
{
	if (n > (SIZE_MAX - sizeof(struct aio_watch)) / sizeof(struct aio_watch_slot))
		return NULL;
	struct aio_watch *w = ringo__alloc(loop, watch_size(n));
	if (!w)
		return NULL;
	w->loop = loop;
	w->refs = 1;
	w->n = n;
	w->on_done = NULL;
	w->ctx = NULL;
	w->task = NULL;
	return w;
}

int ringo__watch_new(ringo_loop *loop, ringo_future *const *futs, size_t n,
		     struct aio_watch **out)
{
	struct aio_watch *w = watch_alloc(loop, n);
	if (!w)
		return -ENOMEM;
	/* One pass checks and references (each future costs a cache and TLB
	 * miss when there are many); a bad one undoes the references taken. */
	for (size_t i = 0; i < n; i++) {
		if (i + AIO_PREFETCH_AHEAD < n)
			__builtin_prefetch(futs[i + AIO_PREFETCH_AHEAD], 1);
		if (!futs[i] || ringo_future_loop(futs[i]) != loop) {
			while (i-- > 0)
				ringo_future_release(futs[i]); /* the caller's stay */
			ringo__free(loop, w, watch_size(n));
			return -EINVAL;
		}
		w->slots[i].w = w;
		w->slots[i].fut = futs[i];
		ringo_future_ref(futs[i]);
	}
	*out = w;
	return 0;
}

int ringo__watch_arm(struct aio_watch *w, size_t i)
{
	RINGO_ASSERT(i < w->n);
	RINGO_ASSERT(w->on_done);
	int err = ringo_future_add_done_callback(w->slots[i].fut, watch_done, &w->slots[i]);
	if (err == 0)
		w->refs++;
	return err;
}

void ringo__watch_leave(struct aio_watch *w)
{
	ringo__watch_leave_collect(w, NULL);
}

void ringo__watch_leave_collect(struct aio_watch *w, struct ringo_gather_result *out)
{
	RINGO_ASSERT(w->refs > 0); /* the owner's */
	w->on_done = NULL;
	w->ctx = NULL;
	w->task = NULL;
	for (size_t i = 0; i < w->n; i++) {
		aio_prefetch_slot(w, i);
		ringo_future *fut = w->slots[i].fut;
		if (out) {
			out[i].value = NULL;
			out[i].err = ringo_future_result(fut, &out[i].value);
		}
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
	if (ringo__unlikely(w->loop->closed)) {
		/* Callbacks of ours that were queued were dropped by close
		 * without running, and none can run any more: nothing else
		 * will let go of the record. */
		ringo__free(w->loop, w, watch_size(w->n));
		return;
	}
	watch_unref(w);
}

void ringo__watch_abandon(ringo_task *t)
{
	struct aio_watch *w = ringo__task_wait_ctx(t);
	w->task = NULL;
	ringo__watch_leave(w);
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
	size_t first_idx;        /* which child that was */
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
		g->first_idx = i;
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

static const struct ringo__wait_ops gather_wait = {
	.what = "gather", .interrupt = gather_interrupt, .abandon = ringo__watch_abandon};

/* A bad future was met at slot k: give back what slots [0, k) took (no
 * callback of ours has run: the loop has not) and free the record. */
static void gather_unwind(struct aio_watch *w, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		ringo_future *fut = w->slots[i].fut;
		if (!ringo_future_done(fut)) {
			int removed = ringo_future_remove_done_callback(fut, watch_done, &w->slots[i]);
			RINGO_ASSERT(removed >= 0);
			w->refs -= (size_t)removed;
		}
		ringo_future_release(fut); /* the caller's stay */
	}
	RINGO_ASSERT(w->refs == 1);
	ringo__free(w->loop, w, watch_size(w->n));
}

/* Fill the record from futs in one pass: check and reference each child
 * (as ringo__watch_new), note those already done (argument order) and
 * arm the others. One pass, not a checking pass and then an arming one:
 * with 100k children each child's record is a cache miss, and the second
 * pass missed again (the records sit at the same offsets of their stack
 * pages, so they compete for a few cache sets). A bad future (NULL, or of
 * another loop) is -EINVAL with the record freed (*wp = NULL) and nothing
 * else changed; a failure to arm is returned once every slot is filled,
 * the record kept for the caller to leave. */
static int gather_start(struct aio_watch **wp, ringo_future *const *futs, struct gather *g)
{
	struct aio_watch *w = *wp;
	int err = 0;
	for (size_t i = 0; i < w->n; i++) {
		if (i + AIO_PREFETCH_AHEAD < w->n)
			__builtin_prefetch(futs[i + AIO_PREFETCH_AHEAD], 1);
		ringo_future *fut = futs[i];
		if (!fut || ringo_future_loop(fut) != w->loop) {
			gather_unwind(w, i);
			*wp = NULL;
			return -EINVAL;
		}
		w->slots[i].w = w;
		w->slots[i].fut = fut;
		ringo_future_ref(fut);
		if (ringo_future_done(fut)) {
			int rc = ringo_future_error(fut);
			if (rc < 0 && g->first_err == 0) {
				g->first_err = rc;
				g->first_idx = i;
			}
		} else if (err == 0) {
			err = ringo__watch_arm(w, i);
			if (err == 0)
				g->remaining++;
		}
	}
	return err;
}

static int gather_suspend(struct aio_watch *w, struct gather *g)
{
	for (;;) {
		w->task = ringo_task_current();
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
	if (!ringo_task_current())
		return -EPERM;
	struct aio_watch *w = watch_alloc(ringo_loop_current(), n);
	if (!w)
		return -ENOMEM;
	struct gather g = {.return_exceptions = return_exceptions};
	w->ctx = &g;
	w->on_done = gather_child_done;
	int rc = gather_start(&w, futs, &g);
	if (!w)
		return rc;
	bool wait = g.remaining > 0 && (return_exceptions || g.first_err == 0);
	if (rc == 0 && wait)
		rc = gather_suspend(w, &g);
	/* futs[i] is slot i's future, and the caller's reference keeps it
	 * after ours goes: results are read in the leaving pass. */
	ringo__watch_leave_collect(w, out);
	if (rc < 0)
		return rc;
	if (return_exceptions)
		return 0;
	if (g.first_err == -ECANCELED) /* a child's cancellation, with its message */
		ringo__task_note_cancel(ringo_future_cancel_message(futs[g.first_idx]));
	return g.first_err;
}

/* ---- gather as a future ---- */

struct gather_fut {
	ringo_future *outer;        /* referenced until its done callback ran */
	struct ringo_gather_result *out;
	bool return_exceptions;
	bool completing;            /* we finish outer: not a user cancel */
	size_t remaining;
	struct aio_watch *w;
	struct ringo__list link;    /* on the loop's aio_state list */
};

/* Per loop: the gather futures whose clean-up (gf_outer_done) has not run
 * and the live shields, so that closing the loop, which drops callbacks
 * without running them, can let go of what those callbacks would have. */
struct aio_state {
	struct ringo__list gfs;
	struct ringo__list shields; /* struct shield, see below */
	struct ringo_wq groups;     /* open ringo_groups (group.c) */
	/* releases and unlinks one of groups at close (group.c's, given
	 * to ringo__aio_track); NULL until the first group */
	ringo__aio_abandon_fn *group_abandon;
	bool groups_hooked;         /* abandon_groups is an early close hook */
};

static void shields_close(ringo_loop *loop, struct ringo__list *shields);
static void abandon_groups(ringo_loop *loop, void *ctx);

static void gf_outer_done(ringo_future *outer, void *arg);

static void gf_free(ringo_loop *loop, struct gather_fut *gf)
{
	ringo__list_remove(&gf->link);
	ringo__free(loop, gf, sizeof(*gf));
}

static void aio_close(ringo_loop *loop, void *ctx)
{
	struct aio_state *st = ctx;
	RINGO_ASSERT(aio_wq_empty(&st->groups)); /* left by abandon_groups */
	while (!ringo__list_empty(&st->gfs)) {
		struct gather_fut *gf = ringo__container_of(st->gfs.next, struct gather_fut, link);
		ringo_future *outer = gf->outer;
		gf->w->on_done = NULL;
		ringo_future_remove_done_callback(outer, gf_outer_done, gf->w);
		ringo__watch_leave(gf->w);
		gf_free(loop, gf);
		ringo_future_release(outer); /* gf_outer_done's */
	}
	shields_close(loop, &st->shields);
	ringo__free(loop, st, sizeof(*st));
	loop->aio = NULL;
}

static struct aio_state *aio_state(ringo_loop *loop)
{
	if (loop->aio)
		return loop->aio;
	struct aio_state *st = ringo__alloc(loop, sizeof(*st));
	if (!st)
		return NULL;
	ringo__list_init(&st->gfs);
	ringo__list_init(&st->shields);
	aio_wq_init(&st->groups);
	st->group_abandon = NULL;
	st->groups_hooked = false;
	if (ringo__add_close_hook(loop, aio_close, st) < 0) {
		ringo__free(loop, st, sizeof(*st));
		return NULL;
	}
	loop->aio = st;
	return st;
}

int ringo__aio_track(ringo_loop *loop, struct ringo_wq *link, ringo__aio_abandon_fn *abandon)
{
	RINGO_ASSERT(abandon);
	struct aio_state *st = aio_state(loop);
	if (!st)
		return -ENOMEM;
	if (!st->groups_hooked) {
		int err = ringo__add_early_close_hook(loop, abandon_groups, NULL);
		if (err < 0)
			return err;
		st->groups_hooked = true;
	}
	RINGO_ASSERT(!st->group_abandon || st->group_abandon == abandon);
	st->group_abandon = abandon;
	aio_wq_init(link);
	aio_wq_push(&st->groups, link);
	return 0;
}

/* Early close hook: open groups live on their parents' stacks, so what
 * they hold is released while those are still there. */
static void abandon_groups(ringo_loop *loop, void *ctx)
{
	struct aio_state *st = loop->aio;
	while (st && !aio_wq_empty(&st->groups))
		st->group_abandon(st->groups.next); /* unlinks it */
}

static void gf_slot(struct gather_fut *gf, ringo_future *fut, size_t i)
{
	gf->out[i].value = NULL;
	gf->out[i].err = ringo_future_result(fut, &gf->out[i].value);
}

/* Finish outer with a child's outcome (0: all succeeded). */
static void gf_finish(struct gather_fut *gf, int rc)
{
	RINGO_ASSERT(!ringo_future_done(gf->outer));
	gf->completing = true;
	if (rc == 0)
		ringo_future_set_result(gf->outer, NULL);
	else if (rc == -ECANCELED)
		ringo_future_cancel(gf->outer, NULL);
	else
		ringo_future_set_error(gf->outer, rc);
}

static void gf_child_done(struct aio_watch *w, size_t i)
{
	struct gather_fut *gf = w->ctx;
	if (ringo_future_done(gf->outer))
		return;
	ringo_future *fut = w->slots[i].fut;
	RINGO_ASSERT(gf->remaining > 0);
	gf_slot(gf, fut, i);
	gf->remaining--;
	int rc = gf->out[i].err;
	if (rc < 0 && !gf->return_exceptions)
		gf_finish(gf, rc);
	else if (gf->remaining == 0)
		gf_finish(gf, 0);
}

/* outer is done (by us or by a user's cancel): stop watching. */
static void gf_outer_done(ringo_future *outer, void *arg)
{
	struct aio_watch *w = arg;
	struct gather_fut *gf = w->ctx;
	if (!gf->completing && ringo_future_cancelled(outer)) {
		/* Unhook first, so cancelling queues no callback of ours. */
		w->on_done = NULL;
		for (size_t i = 0; i < w->n; i++) {
			ringo_future *fut = w->slots[i].fut;
			int removed = ringo_future_remove_done_callback(fut, watch_done, &w->slots[i]);
			w->refs -= removed > 0 ? (size_t)removed : 0;
			ringo_future_cancel(fut, NULL);
		}
	}
	ringo_loop *loop = w->loop;
	ringo__watch_leave(w);
	gf_free(loop, gf);
	ringo_future_release(outer);
}

static int gf_start(struct aio_watch *w, struct gather_fut *gf)
{
	int first = 0;
	for (size_t i = 0; i < w->n; i++) {
		aio_prefetch_slot(w, i);
		ringo_future *fut = w->slots[i].fut;
		if (!ringo_future_done(fut)) {
			int err = ringo__watch_arm(w, i);
			if (err < 0)
				return err;
			gf->remaining++;
			continue;
		}
		gf_slot(gf, fut, i);
		if (gf->out[i].err < 0 && first == 0)
			first = gf->out[i].err;
	}
	if (first < 0 && !gf->return_exceptions)
		gf_finish(gf, first);
	else if (gf->remaining == 0)
		gf_finish(gf, 0);
	return 0;
}

int ringo_gather_future(ringo_loop *loop, ringo_future *const *futs, size_t n,
			bool return_exceptions, struct ringo_gather_result *out,
			ringo_future **outer)
{
	if (!outer)
		return -EINVAL;
	*outer = NULL;
	if (!loop || (n && (!futs || !out)))
		return -EINVAL;
	ringo_future *o;
	int err = ringo_future_new(loop, &o);
	if (err < 0)
		return err;
	struct aio_state *st = aio_state(loop);
	struct aio_watch *w = NULL;
	struct gather_fut *gf = st ? ringo__alloc(loop, sizeof(*gf)) : NULL;
	err = gf ? ringo__watch_new(loop, futs, n, &w) : -ENOMEM;
	if (err == 0)
		err = ringo_future_add_done_callback(o, gf_outer_done, w);
	if (err < 0) {
		if (w)
			ringo__watch_leave(w);
		ringo__free(loop, gf, sizeof(*gf));
		ringo_future_release(o);
		return err;
	}
	*gf = (struct gather_fut){o, out, return_exceptions, false, 0, w, {&gf->link, &gf->link}};
	ringo__list_insert_tail(&st->gfs, &gf->link);
	ringo_future_ref(o); /* gf_outer_done's */
	w->ctx = gf;
	w->on_done = gf_child_done;
	err = gf_start(w, gf);
	if (err < 0 && !ringo_future_done(o)) {
		gf->completing = true;
		ringo_future_set_error(o, err); /* cleanup runs in gf_outer_done */
	}
	*outer = o;
	return 0;
}

/* ---- shield ----
 * A record holds a reference on inner and one on outer. inner lists
 * shield_done, outer lists shield_outer_done, both with the record as
 * argument; the record goes when neither is left (run or taken off).
 * When inner ends first, shield_done takes shield_outer_done off outer
 * before completing it; when outer ends first (cancelled by its holder),
 * shield_outer_done takes shield_done off inner, as asyncio's
 * _outer_done_callback does, so a cancelled shield pins nothing. Records
 * are listed per loop so that closing the loop, which drops callbacks
 * without running them, can let go of them too. */

struct shield {
	ringo_future *inner, *outer;
	struct ringo__list link;    /* aio_state->shields */
	int callbacks;              /* listed or queued, not yet run */
};

static void shield_put(ringo_loop *loop, struct shield *sh)
{
	RINGO_ASSERT(sh->callbacks > 0);
	if (--sh->callbacks > 0)
		return;
	ringo__list_remove(&sh->link);
	ringo_future_release(sh->inner);
	ringo_future_release(sh->outer);
	ringo__free(loop, sh, sizeof(*sh));
}

static void shield_outer_done(ringo_future *outer, void *arg);

static void copy_outcome(ringo_future *from, ringo_future *to)
{
	void *value = NULL;
	int rc = ringo_future_result(from, &value);
	if (rc == 0)
		ringo_future_set_result(to, value);
	else if (rc == -ECANCELED)
		ringo_future_cancel(to, ringo_future_cancel_message(from));
	else
		ringo_future_set_error(to, rc);
}

static void shield_done(ringo_future *inner, void *arg)
{
	struct shield *sh = arg;
	ringo_loop *loop = ringo_future_loop(inner);
	if (!ringo_future_done(sh->outer)) {
		if (ringo_future_remove_done_callback(sh->outer, shield_outer_done, sh) > 0)
			sh->callbacks--;
		copy_outcome(inner, sh->outer);
	}
	shield_put(loop, sh);
}

static void shield_outer_done(ringo_future *outer, void *arg)
{
	struct shield *sh = arg;
	ringo_loop *loop = ringo_future_loop(outer);
	if (!ringo_future_done(sh->inner) &&
	    ringo_future_remove_done_callback(sh->inner, shield_done, sh) > 0)
		sh->callbacks--;
	shield_put(loop, sh);
}

static void shields_close(ringo_loop *loop, struct ringo__list *shields)
{
	while (!ringo__list_empty(shields)) {
		struct shield *sh = ringo__container_of(shields->next, struct shield, link);
		/* Queued callbacks were dropped by close; take off the listed. */
		ringo_future_remove_done_callback(sh->inner, shield_done, sh);
		ringo_future_remove_done_callback(sh->outer, shield_outer_done, sh);
		sh->callbacks = 1;
		shield_put(loop, sh);
	}
}

int ringo_shield(ringo_future *inner, ringo_future **outer)
{
	if (!inner || !outer)
		return -EINVAL;
	*outer = NULL;
	ringo_loop *loop = ringo_future_loop(inner);
	ringo_future *o;
	int err = ringo_future_new(loop, &o);
	if (err < 0)
		return err;
	if (ringo_future_done(inner)) {
		copy_outcome(inner, o);
		*outer = o;
		return 0;
	}
	struct aio_state *st = aio_state(loop);
	struct shield *sh = st ? ringo__alloc(loop, sizeof(*sh)) : NULL;
	if (!sh) {
		ringo_future_release(o);
		return -ENOMEM;
	}
	*sh = (struct shield){inner, o, {&sh->link, &sh->link}, 2};
	err = ringo_future_add_done_callback(o, shield_outer_done, sh);
	if (err == 0) {
		err = ringo_future_add_done_callback(inner, shield_done, sh);
		if (err < 0)
			ringo_future_remove_done_callback(o, shield_outer_done, sh);
	}
	if (err < 0) {
		ringo__free(loop, sh, sizeof(*sh));
		ringo_future_release(o);
		return err;
	}
	ringo__list_insert_tail(&st->shields, &sh->link);
	ringo_future_ref(inner);
	ringo_future_ref(o);
	*outer = o;
	return 0;
}
