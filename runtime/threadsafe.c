/*
 * The thread-safe calls of a loop: call_soon_threadsafe, and
 * spawn_threadsafe with its thread-side future. Both post to the loop's
 * cross-thread queue (xq.c) and do their work on the loop thread.
 */
#include <stdlib.h>
#include <time.h>

#include "thread_internal.h"

/* ---- call_soon_threadsafe ---- */

static void ts_call(ringo_loop *loop, void *a, void *b)
{
	ringo_callback_fn *fn = (ringo_callback_fn *)a;
	RINGO_ASSERT(fn != NULL); /* ringo_call_soon_threadsafe refused NULL */
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
	return ringo__xq_post_user(loop, ts_call, (void *)fn, arg);
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
	RINGO_ASSERT(f->task != NULL); /* the live list holds spawned ones only */
	RINGO_ASSERT(f->loop->tsf != NULL);
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
	RINGO_ASSERT(s == loop->tsf);
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
	RINGO_ASSERT(f->loop == loop);
	RINGO_ASSERT(f->task == NULL); /* spawned once */
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
	int err = ringo__xq_post_user(loop, spawn_entry, f, NULL);
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
	RINGO_ASSERT(f->loop == loop);
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
