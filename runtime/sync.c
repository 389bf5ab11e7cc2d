/*
 * Synchronisation primitives: Event, Lock, Semaphore/BoundedSemaphore,
 * Condition, Barrier (asyncio's, for stackful tasks).
 *
 * Every primitive keeps a FIFO list of aio_waiter records that live on the
 * blocked tasks' stacks, so nothing here allocates. Serving a waiter is a
 * hand-over: the releasing side unlinks the first waiter, gives it what it
 * waited for (lock ownership, a semaphore unit, a notification) and wakes
 * it. If that task is cancelled after the hand-over but before it runs,
 * its wait returns -ECANCELED (asyncio throws CancelledError there), so it
 * gives the unit back, which serves the next waiter: nothing is lost and
 * nobody is skipped.
 */
#include "aio_internal.h"

/* ---- shared by the aio layer ---- */

void ringo__aio_interrupt(ringo_task *t)
{
	struct aio_waiter *w = ringo__task_wait_ctx(t);
	RINGO_ASSERT(!w->granted);
	aio_wq_remove(&w->link);
	ringo__task_wake(t, -ECANCELED);
}

void ringo__aio_interrupt_keep(ringo_task *t)
{
	/* keep_result waits: task_run would deliver the pending cancel again
	 * at the next suspension; this wake delivers it. */
	ringo__task_clear_cancel(t);
	ringo__aio_interrupt(t);
}

int ringo__aio_block(struct aio_waiter *w, const struct ringo__wait_ops *ops)
{
	int rc = ringo__task_suspend(ops, w);
	/* A cancel already pending returns at once, still linked. */
	if (w->link.next != &w->link) {
		RINGO_ASSERT(rc < 0 && !w->granted);
		aio_wq_remove(&w->link);
	}
	return rc;
}

/* ---- Event ---- */

static const struct ringo__wait_ops event_wait = {"event", ringo__aio_interrupt, false};

void ringo_event_init(ringo_event *e)
{
	aio_wq_init(&e->waiters);
	e->set = false;
}

int ringo_event_destroy(ringo_event *e)
{
	return aio_wq_empty(&e->waiters) ? 0 : -EBUSY;
}

void ringo_event_set(ringo_event *e)
{
	if (e->set)
		return;
	e->set = true;
	while (!aio_wq_empty(&e->waiters))
		aio_wake_first(&e->waiters, 0);
}

void ringo_event_clear(ringo_event *e)
{
	e->set = false;
}

bool ringo_event_is_set(const ringo_event *e)
{
	return e->set;
}

int ringo_event_wait(ringo_event *e)
{
	if (!ringo_current_task())
		return -EPERM;
	if (e->set)
		return 0;
	struct aio_waiter w;
	aio_waiter_init(&w);
	aio_wq_push(&e->waiters, &w.link);
	return ringo__aio_block(&w, &event_wait);
}

/* ---- Lock ---- */

static const struct ringo__wait_ops lock_wait = {"lock", ringo__aio_interrupt, false};

void ringo_lock_init(ringo_lock *l)
{
	aio_wq_init(&l->waiters);
	l->owner = NULL;
	l->locked = false;
}

int ringo_lock_destroy(ringo_lock *l)
{
	return l->locked || !aio_wq_empty(&l->waiters) ? -EBUSY : 0;
}

int ringo_lock_try_acquire(ringo_lock *l)
{
	if (l->locked || !aio_wq_empty(&l->waiters))
		return -EBUSY;
	l->locked = true;
	l->owner = ringo_current_task();
	return 0;
}

int ringo_lock_acquire(ringo_lock *l)
{
	ringo_task *self = ringo_current_task();
	if (!self)
		return -EPERM;
	if (ringo_lock_try_acquire(l) == 0)
		return 0;
	struct aio_waiter w;
	aio_waiter_init(&w);
	aio_wq_push(&l->waiters, &w.link);
	int rc = ringo__aio_block(&w, &lock_wait);
	if (rc < 0 && w.granted) {
		/* Handed the lock, cancelled before running: pass it on. */
		RINGO_ASSERT(l->owner == self);
		ringo_lock_release(l);
	}
	RINGO_ASSERT(rc < 0 || l->owner == self);
	return rc;
}

int ringo_lock_release(ringo_lock *l)
{
	if (!l->locked)
		return -EPERM;
	if (aio_wq_empty(&l->waiters)) {
		l->locked = false;
		l->owner = NULL;
		return 0;
	}
	/* FIFO hand-over: the lock stays locked, owned by the first waiter. */
	struct aio_waiter *w = aio_wake_first(&l->waiters, 0);
	l->owner = w->task;
	return 0;
}

bool ringo_lock_locked(const ringo_lock *l)
{
	return l->locked;
}

/* ---- Semaphore ---- */

static const struct ringo__wait_ops sem_wait = {"semaphore", ringo__aio_interrupt, false};

void ringo_semaphore_init(ringo_semaphore *s, unsigned value)
{
	aio_wq_init(&s->waiters);
	s->value = value;
	s->bound = 0;
}

void ringo_bounded_semaphore_init(ringo_semaphore *s, unsigned value)
{
	ringo_semaphore_init(s, value);
	s->bound = value; /* 0 reads "unbounded": a bound of 0 is meaningless */
}

int ringo_semaphore_destroy(ringo_semaphore *s)
{
	return aio_wq_empty(&s->waiters) ? 0 : -EBUSY;
}

int ringo_semaphore_try_acquire(ringo_semaphore *s)
{
	if (s->value == 0 || !aio_wq_empty(&s->waiters))
		return -EBUSY;
	s->value--;
	return 0;
}

int ringo_semaphore_acquire(ringo_semaphore *s)
{
	if (!ringo_current_task())
		return -EPERM;
	if (ringo_semaphore_try_acquire(s) == 0)
		return 0;
	struct aio_waiter w;
	aio_waiter_init(&w);
	aio_wq_push(&s->waiters, &w.link);
	int rc = ringo__aio_block(&w, &sem_wait);
	if (rc < 0 && w.granted)
		ringo_semaphore_release(s); /* pass the unit on */
	return rc;
}

int ringo_semaphore_release(ringo_semaphore *s)
{
	if (!aio_wq_empty(&s->waiters)) {
		RINGO_ASSERT(s->value == 0);
		aio_wake_first(&s->waiters, 0);
		return 0;
	}
	if (s->bound && s->value >= s->bound)
		return -EOVERFLOW;
	s->value++;
	return 0;
}

bool ringo_semaphore_locked(const ringo_semaphore *s)
{
	return s->value == 0 || !aio_wq_empty(&s->waiters);
}

unsigned ringo_semaphore_value(const ringo_semaphore *s)
{
	return s->value;
}

/* ---- Condition ---- */

static const struct ringo__wait_ops cond_wait = {"condition", ringo__aio_interrupt, false};

void ringo_condition_init(ringo_condition *c, ringo_lock *lock)
{
	aio_wq_init(&c->waiters);
	c->lock = lock;
}

int ringo_condition_destroy(ringo_condition *c)
{
	return aio_wq_empty(&c->waiters) ? 0 : -EBUSY;
}

/* asyncio: the lock must be re-acquired even if the wait is cancelled;
 * a cancel during re-acquisition is remembered and reported after. */
static int reacquire(ringo_lock *l)
{
	int err = 0;
	int rc;
	while ((rc = ringo_lock_acquire(l)) == -ECANCELED)
		err = rc;
	RINGO_ASSERT(rc == 0);
	return err;
}

int ringo_condition_wait(ringo_condition *c)
{
	if (!ringo_current_task())
		return -EPERM;
	if (!c->lock->locked)
		return -EPERM;
	ringo_lock_release(c->lock);
	struct aio_waiter w;
	aio_waiter_init(&w);
	aio_wq_push(&c->waiters, &w.link);
	int rc = ringo__aio_block(&w, &cond_wait);
	int err = reacquire(c->lock);
	if (rc == 0)
		rc = err;
	if (rc < 0 && w.granted)
		ringo_condition_notify(c, 1); /* a lost notification: pass it on */
	return rc;
}

int ringo_condition_wait_for(ringo_condition *c, bool (*pred)(void *arg), void *arg)
{
	if (!pred)
		return -EINVAL;
	while (!pred(arg)) {
		int rc = ringo_condition_wait(c);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int ringo_condition_notify(ringo_condition *c, size_t n)
{
	if (!c->lock->locked)
		return -EPERM;
	for (size_t i = 0; i < n && !aio_wq_empty(&c->waiters); i++)
		aio_wake_first(&c->waiters, 0);
	return 0;
}

int ringo_condition_notify_all(ringo_condition *c)
{
	return ringo_condition_notify(c, SIZE_MAX);
}

/* ---- Barrier ----
 * The last party to arrive releases the others by hand-over (each wakes
 * with its arrival index), so a new cycle can start at once: asyncio's
 * draining phase is not needed. */

enum { BARRIER_FILLING, BARRIER_BROKEN };

static void barrier_interrupt(ringo_task *t)
{
	struct aio_waiter *w = ringo__task_wait_ctx(t);
	ringo_barrier *b = w->item;
	/* asyncio: a cancelled waiter leaves; the count drops by one (now,
	 * so a party arriving before this task runs does not count it). */
	b->count--;
	w->item = NULL;
	ringo__aio_interrupt_keep(t);
}

/* keep_result: once released, the cycle has passed for this task too. */
static const struct ringo__wait_ops barrier_wait = {"barrier", barrier_interrupt, true};

int ringo_barrier_init(ringo_barrier *b, unsigned parties)
{
	if (!b || parties == 0)
		return -EINVAL;
	aio_wq_init(&b->waiters);
	b->parties = parties;
	b->count = 0;
	b->state = BARRIER_FILLING;
	return 0;
}

int ringo_barrier_destroy(ringo_barrier *b)
{
	return aio_wq_empty(&b->waiters) ? 0 : -EBUSY;
}

int ringo_barrier_wait(ringo_barrier *b)
{
	if (!ringo_current_task())
		return -EPERM;
	if (b->state == BARRIER_BROKEN)
		return -EPIPE;
	unsigned index = b->count++;
	if (b->count == b->parties) {
		b->count = 0;
		while (!aio_wq_empty(&b->waiters)) {
			struct aio_waiter *w = aio_waiter_of(b->waiters.next);
			aio_wake_first(&b->waiters, w->index);
		}
		return (int)index;
	}
	struct aio_waiter w;
	aio_waiter_init(&w);
	w.item = b;
	w.index = (int)index;
	aio_wq_push(&b->waiters, &w.link);
	int rc = ringo__aio_block(&w, &barrier_wait);
	if (!w.granted && w.item)
		b->count--; /* a cancel already pending: never really waited */
	return rc;
}

static void barrier_fail_all(ringo_barrier *b)
{
	while (!aio_wq_empty(&b->waiters))
		aio_wake_first(&b->waiters, -EPIPE);
	b->count = 0;
}

void ringo_barrier_abort(ringo_barrier *b)
{
	b->state = BARRIER_BROKEN;
	barrier_fail_all(b);
}

void ringo_barrier_reset(ringo_barrier *b)
{
	barrier_fail_all(b);
	b->state = BARRIER_FILLING;
}

unsigned ringo_barrier_n_waiting(const ringo_barrier *b)
{
	return b->count;
}

bool ringo_barrier_broken(const ringo_barrier *b)
{
	return b->state == BARRIER_BROKEN;
}
