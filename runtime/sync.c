/*
 * Synchronisation primitives: Event, Lock, Semaphore/BoundedSemaphore,
 * Condition, Barrier (asyncio 3.12+'s, for stackful tasks).
 *
 * Every primitive keeps a FIFO list of aio_waiter records that live on the
 * blocked tasks' stacks, so nothing here allocates. Waking is asyncio's
 * "wake, then take" (see aio_internal.h): a woken waiter acquires for
 * itself when it runs, so a cancel that arrives between the wake and the
 * run leaves it with nothing, and it passes the wake on to the next in
 * line exactly where asyncio's except-clauses do. A woken waiter that has
 * not run yet still keeps later callers from jumping the queue (asyncio
 * keeps its done future in _waiters until it runs): that is what `woken`
 * counts.
 *
 * `waiting` counts tasks inside a blocking call on the object, from
 * queueing until they return: a woken or cancelled task still touches the
 * object when it runs, so destroy refuses (-EBUSY) until they have.
 */
#include <limits.h>

#include "aio_internal.h"

/* ---- shared by the aio layer ---- */

void ringo__aio_interrupt(ringo_task *t)
{
	struct aio_waiter *w = ringo__task_wait_ctx(t);
	RINGO_ASSERT(!w->woken);
	aio_wq_remove(&w->link);
	ringo__task_wake(t, -ECANCELED);
}

struct aio_waiter *ringo__aio_abandon(ringo_task *t)
{
	struct aio_waiter *w = ringo__task_wait_ctx(t);
	RINGO_ASSERT(w->task == t);
	if (w->link.next != &w->link)
		aio_wq_remove(&w->link);
	return w;
}

static void event_abandon(ringo_task *t)
{
	ringo__aio_abandon(t); /* a woken waiter never touches the event again */
}

int ringo__aio_block(struct ringo_wq *head, struct aio_waiter *w,
		     const struct ringo__wait_ops *ops)
{
	RINGO_ASSERT(w->task != NULL); /* aio_waiter_init's, in a task */
	RINGO_ASSERT(!ops->keep_result);
	aio_wq_push(head, &w->link);
	int rc = ringo__task_suspend(ops, w);
	/* A cancel already pending returns at once, still linked. */
	if (w->link.next != &w->link) {
		RINGO_ASSERT(rc < 0 && !w->woken);
		aio_wq_remove(&w->link);
	}
	RINGO_ASSERT(rc == 0 || rc == -ECANCELED);
	return rc;
}

/* ---- Event ---- */

static const struct ringo__wait_ops event_wait = {
	.what = "event", .interrupt = ringo__aio_interrupt, .abandon = event_abandon};

void ringo_event_init(ringo_event *e)
{
	if (!e)
		return;
	aio_wq_init(&e->waiters);
	e->set = false;
}

int ringo_event_destroy(ringo_event *e)
{
	if (!e)
		return -EINVAL;
	/* A woken waiter never touches the event again. */
	return aio_wq_empty(&e->waiters) ? 0 : -EBUSY;
}

void ringo_event_set(ringo_event *e)
{
	if (!e)
		return;
	if (e->set)
		return;
	e->set = true;
	aio_wake_all(&e->waiters);
}

void ringo_event_clear(ringo_event *e)
{
	if (!e)
		return;
	e->set = false;
}

bool ringo_event_is_set(const ringo_event *e)
{
	return e && e->set;
}

int ringo_event_wait(ringo_event *e)
{
	if (!e)
		return -EINVAL;
	if (!ringo_task_current())
		return -EPERM;
	if (e->set)
		return 0;
	/* A wake stays a wake even if the flag is cleared before the task
	 * runs (asyncio: the waiter's future is already done). */
	struct aio_waiter w;
	aio_waiter_init(&w, e);
	return ringo__aio_block(&e->waiters, &w, &event_wait);
}

/* ---- Lock ---- */

/* As ringo_lock_acquire after a cancel, minus passing the wake on (the
 * other waiters, all of the closing loop, are abandoned too). */
static void lock_abandon(ringo_task *t)
{
	struct aio_waiter *w = ringo__aio_abandon(t);
	ringo_lock *l = w->owner;
	RINGO_ASSERT(l->waiting > 0);
	l->waiting--;
	if (w->woken) {
		RINGO_ASSERT(l->woken > 0);
		l->woken--;
	}
}

static const struct ringo__wait_ops lock_wait = {
	.what = "lock", .interrupt = ringo__aio_interrupt, .abandon = lock_abandon};

void ringo_lock_init(ringo_lock *l)
{
	if (!l)
		return;
	aio_wq_init(&l->waiters);
	l->woken = 0;
	l->waiting = 0;
	l->locked = false;
}

int ringo_lock_destroy(ringo_lock *l)
{
	if (!l)
		return -EINVAL;
	return l->locked || l->waiting ? -EBUSY : 0;
}

/* asyncio's _wake_up_first: only the head of the line. A head already
 * woken will take the lock (or pass it on) itself. */
static void lock_wake_first(ringo_lock *l)
{
	RINGO_ASSERT(!l->locked); /* released, or a cancelled waiter found it free */
	if (l->woken == 0 && !aio_wq_empty(&l->waiters)) {
		l->woken++;
		aio_wake_first(&l->waiters);
	}
}

int ringo_lock_try_acquire(ringo_lock *l)
{
	if (!l)
		return -EINVAL;
	RINGO_ASSERT(l->woken <= l->waiting);
	/* FIFO: not over the heads of waiters, woken or not. */
	if (l->locked || l->woken || !aio_wq_empty(&l->waiters))
		return -EBUSY;
	l->locked = true;
	return 0;
}

/* Acquire, waiting in w with ops (lock_wait, or the condition's relock,
 * whose abandon also leaves the condition). */
static int lock_acquire(ringo_lock *l, struct aio_waiter *w, const struct ringo__wait_ops *ops)
{
	RINGO_ASSERT(w->owner == l && w->task != NULL);
	if (ringo_lock_try_acquire(l) == 0)
		return 0;
	l->waiting++;
	int rc = ringo__aio_block(&l->waiters, w, ops);
	l->waiting--;
	if (w->woken)
		l->woken--;
	if (rc < 0) {
		/* Not taking it: make sure the head of the line runs (it may
		 * have been us that release woke). */
		if (!l->locked)
			lock_wake_first(l);
		return rc;
	}
	/* Nobody can take the lock between our wake and now: we were the
	 * woken head, which every other acquire waits behind. */
	RINGO_ASSERT(!l->locked);
	l->locked = true;
	return 0;
}

int ringo_lock_acquire(ringo_lock *l)
{
	if (!l)
		return -EINVAL;
	if (!ringo_task_current())
		return -EPERM;
	struct aio_waiter w;
	aio_waiter_init(&w, l);
	return lock_acquire(l, &w, &lock_wait);
}

int ringo_lock_release(ringo_lock *l)
{
	if (!l)
		return -EINVAL;
	if (!l->locked)
		return -EPERM;
	RINGO_ASSERT(l->woken <= l->waiting);
	l->locked = false;
	lock_wake_first(l);
	return 0;
}

bool ringo_lock_locked(const ringo_lock *l)
{
	return l && l->locked;
}

/* ---- Semaphore ----
 * Unlike the Lock, asyncio's Semaphore (3.12+) takes the unit for the
 * waiter when it wakes it (value drops at the wake) and gives it back if
 * the waiter is cancelled before it runs; ringo does the same. */

/* As ringo_semaphore_acquire after a cancel: a unit it was woken with
 * goes back (not on to the next waiter: all are being abandoned). */
static void sem_abandon(ringo_task *t)
{
	struct aio_waiter *w = ringo__aio_abandon(t);
	ringo_semaphore *s = w->owner;
	RINGO_ASSERT(s->waiting > 0);
	s->waiting--;
	if (w->woken) {
		RINGO_ASSERT(s->woken > 0);
		s->woken--;
		s->value++;
	}
}

static const struct ringo__wait_ops sem_wait = {
	.what = "semaphore", .interrupt = ringo__aio_interrupt, .abandon = sem_abandon};

void ringo_semaphore_init(ringo_semaphore *s, unsigned value)
{
	if (!s)
		return;
	aio_wq_init(&s->waiters);
	s->value = value;
	s->bound = 0;
	s->woken = 0;
	s->waiting = 0;
}

void ringo_semaphore_init_bounded(ringo_semaphore *s, unsigned value)
{
	if (!s)
		return;
	ringo_semaphore_init(s, value);
	s->bound = value; /* 0 reads "unbounded": a bound of 0 is meaningless */
}

int ringo_semaphore_destroy(ringo_semaphore *s)
{
	if (!s)
		return -EINVAL;
	return s->waiting ? -EBUSY : 0;
}

/* asyncio's _wake_up_next: the first waiter not yet woken gets a unit. */
static bool sem_wake_next(ringo_semaphore *s)
{
	if (aio_wq_empty(&s->waiters))
		return false;
	RINGO_ASSERT(s->value > 0);
	s->value--;
	s->woken++;
	aio_wake_first(&s->waiters);
	return true;
}

bool ringo_semaphore_locked(const ringo_semaphore *s)
{
	/* Also while woken waiters have not run: they go first (FIFO). */
	return !s || s->value == 0 || s->woken || !aio_wq_empty(&s->waiters);
}

int ringo_semaphore_try_acquire(ringo_semaphore *s)
{
	if (!s)
		return -EINVAL;
	RINGO_ASSERT(s->woken <= s->waiting);
	if (ringo_semaphore_locked(s))
		return -EBUSY;
	s->value--;
	return 0;
}

int ringo_semaphore_acquire(ringo_semaphore *s)
{
	if (!s)
		return -EINVAL;
	if (!ringo_task_current())
		return -EPERM;
	if (ringo_semaphore_try_acquire(s) == 0)
		return 0;
	struct aio_waiter w;
	aio_waiter_init(&w, s);
	s->waiting++;
	int rc = ringo__aio_block(&s->waiters, &w, &sem_wait);
	s->waiting--;
	if (w.woken) {
		s->woken--;
		if (rc < 0)
			s->value++; /* woken with a unit, cancelled before running */
	}
	/* Waiters queued behind us while we were woken may go now. */
	while (s->value > 0 && sem_wake_next(s))
		;
	return rc;
}

int ringo_semaphore_release(ringo_semaphore *s)
{
	if (!s)
		return -EINVAL;
	RINGO_ASSERT(s->woken <= s->waiting);
	if ((s->bound && s->value >= s->bound) || s->value == UINT_MAX)
		return -EOVERFLOW;
	s->value++;
	sem_wake_next(s);
	return 0;
}

unsigned ringo_semaphore_value(const ringo_semaphore *s)
{
	return s ? s->value : 0;
}

/* ---- Condition ---- */

/* Waiting to be notified: the lock is not held, only the count. */
static void cond_abandon(ringo_task *t)
{
	struct aio_waiter *w = ringo__aio_abandon(t);
	ringo_condition *c = w->owner;
	RINGO_ASSERT(c->waiting > 0);
	c->waiting--;
}

static const struct ringo__wait_ops cond_wait = {
	.what = "condition", .interrupt = ringo__aio_interrupt, .abandon = cond_abandon};

/* Re-acquiring the lock after the wait: the waiter is the lock's, inside
 * a record that names the condition as well. */
struct cond_relock {
	struct aio_waiter w;     /* owner: the lock */
	ringo_condition *c;
};

static void relock_abandon(ringo_task *t)
{
	struct cond_relock *r = ringo__task_wait_ctx(t);
	lock_abandon(t);
	RINGO_ASSERT(r->c->waiting > 0);
	r->c->waiting--;
}

static const struct ringo__wait_ops relock_wait = {
	.what = "condition relock", .interrupt = ringo__aio_interrupt, .abandon = relock_abandon};

void ringo_condition_init(ringo_condition *c, ringo_lock *lock)
{
	if (!c)
		return;
	aio_wq_init(&c->waiters);
	c->lock = lock;
	c->waiting = 0;
}

int ringo_condition_destroy(ringo_condition *c)
{
	if (!c)
		return -EINVAL;
	return c->waiting ? -EBUSY : 0;
}

/* asyncio: the lock must be re-acquired even if the wait is cancelled;
 * a cancel during re-acquisition is remembered and reported after. */
static int reacquire(ringo_condition *c)
{
	RINGO_ASSERT(c->lock != NULL && c->waiting > 0);
	int err = 0;
	int rc;
	for (;;) {
		struct cond_relock r = {.c = c};
		aio_waiter_init(&r.w, c->lock);
		rc = lock_acquire(c->lock, &r.w, &relock_wait);
		if (rc != -ECANCELED)
			break;
		err = rc;
	}
	RINGO_ASSERT(rc == 0);
	return err;
}

static void cond_notify(ringo_condition *c, size_t n)
{
	RINGO_ASSERT(c->lock->locked); /* notify's rule, checked by its callers */
	for (size_t i = 0; i < n && !aio_wq_empty(&c->waiters); i++)
		aio_wake_first(&c->waiters);
}

int ringo_condition_wait(ringo_condition *c)
{
	if (!c || !c->lock)
		return -EINVAL;
	if (!ringo_task_current() || !c->lock->locked)
		return -EPERM;
	struct aio_waiter w;
	aio_waiter_init(&w, c);
	ringo_lock_release(c->lock);
	c->waiting++;
	int rc = ringo__aio_block(&c->waiters, &w, &cond_wait);
	int err = reacquire(c);
	if (err < 0)
		rc = err;
	/* asyncio: any error may have come after we were notified, so pass
	 * one notification on (a spurious wake-up is allowed; a lost one is
	 * not). The lock is held here, as notify requires. */
	if (rc < 0)
		cond_notify(c, 1);
	c->waiting--;
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
	if (!c || !c->lock)
		return -EINVAL;
	if (!c->lock->locked)
		return -EPERM;
	cond_notify(c, n);
	return 0;
}

int ringo_condition_notify_all(ringo_condition *c)
{
	return ringo_condition_notify(c, SIZE_MAX);
}

/* ---- Barrier ----
 * asyncio's Barrier: a state machine over a Condition. Its lock is never
 * held across a suspension (every wait in it is Condition.wait, which
 * releases it), so it is never contended and is left out here; the
 * condition's waiters are `waiters`, and every state change wakes them
 * all to re-check. The last party to arrive switches to DRAINING; parties
 * arriving meanwhile wait until every released one has left (count back
 * to 0), then start the next cycle. */

enum { BARRIER_FILLING, BARRIER_DRAINING, BARRIER_RESETTING, BARRIER_BROKEN };

/* Waiting out a draining or resetting cycle: not counted in it yet. */
static void barrier_enter_abandon(ringo_task *t)
{
	struct aio_waiter *w = ringo__aio_abandon(t);
	ringo_barrier *b = w->owner;
	RINGO_ASSERT(b->waiting > 0);
	b->waiting--;
}

/* Counted in the filling cycle: leaves it as barrier_leave would, minus
 * the wake (the others waiting are abandoned too). */
static void barrier_release_abandon(ringo_task *t)
{
	struct aio_waiter *w = ringo__aio_abandon(t);
	ringo_barrier *b = w->owner;
	RINGO_ASSERT(b->waiting > 0 && b->count > 0);
	b->waiting--;
	if (--b->count == 0 && (b->state == BARRIER_RESETTING || b->state == BARRIER_DRAINING))
		b->state = BARRIER_FILLING;
}

static const struct ringo__wait_ops barrier_enter_wait = {
	.what = "barrier", .interrupt = ringo__aio_interrupt, .abandon = barrier_enter_abandon};
static const struct ringo__wait_ops barrier_release_wait = {
	.what = "barrier", .interrupt = ringo__aio_interrupt, .abandon = barrier_release_abandon};

int ringo_barrier_init(ringo_barrier *b, unsigned parties)
{
	if (!b || parties == 0 || parties > INT_MAX)
		return -EINVAL;
	aio_wq_init(&b->waiters);
	b->parties = parties;
	b->count = 0;
	b->waiting = 0;
	b->state = BARRIER_FILLING;
	return 0;
}

int ringo_barrier_destroy(ringo_barrier *b)
{
	if (!b)
		return -EINVAL;
	return b->waiting ? -EBUSY : 0;
}

/* Wait for the next state change: 0, or -ECANCELED. */
static int barrier_block(ringo_barrier *b, const struct ringo__wait_ops *ops)
{
	RINGO_ASSERT(b->waiting > 0); /* counted by ringo_barrier_wait */
	struct aio_waiter w;
	aio_waiter_init(&w, b);
	return ringo__aio_block(&b->waiters, &w, ops);
}

/* asyncio's _block: wait out a draining or resetting cycle. */
static int barrier_enter(ringo_barrier *b)
{
	RINGO_ASSERT(b->parties > 0 && b->count <= b->parties);
	while (b->state == BARRIER_DRAINING || b->state == BARRIER_RESETTING) {
		int rc = barrier_block(b, &barrier_enter_wait);
		if (rc < 0)
			return rc;
	}
	return b->state == BARRIER_BROKEN ? -EPIPE : 0;
}

/* asyncio's _wait: wait for the cycle to be released (or broken). */
static int barrier_await_release(ringo_barrier *b)
{
	RINGO_ASSERT(b->count > 0 && b->count < b->parties); /* in, not the last */
	while (b->state == BARRIER_FILLING) {
		int rc = barrier_block(b, &barrier_release_wait);
		if (rc < 0)
			return rc;
	}
	if (b->state == BARRIER_BROKEN || b->state == BARRIER_RESETTING)
		return -EPIPE;
	return 0;
}

/* asyncio's _exit: the last task out ends draining or resetting. */
static void barrier_leave(ringo_barrier *b)
{
	RINGO_ASSERT(b->count > 0);
	b->count--;
	if (b->count == 0) {
		if (b->state == BARRIER_RESETTING || b->state == BARRIER_DRAINING)
			b->state = BARRIER_FILLING;
		aio_wake_all(&b->waiters);
	}
}

int ringo_barrier_wait(ringo_barrier *b)
{
	if (!b)
		return -EINVAL;
	if (!ringo_task_current())
		return -EPERM;
	b->waiting++;
	int rc = barrier_enter(b);
	if (rc == 0) {
		unsigned index = b->count++;
		if (index + 1 == b->parties) {
			b->state = BARRIER_DRAINING;
			aio_wake_all(&b->waiters);
		} else {
			rc = barrier_await_release(b);
		}
		if (rc == 0)
			rc = (int)index;
		barrier_leave(b);
	}
	b->waiting--;
	return rc;
}

void ringo_barrier_abort(ringo_barrier *b)
{
	if (!b)
		return;
	b->state = BARRIER_BROKEN;
	aio_wake_all(&b->waiters);
}

void ringo_barrier_reset(ringo_barrier *b)
{
	if (!b)
		return;
	/* Tasks still inside fail with -EPIPE; the last of them to leave
	 * opens the next cycle. */
	b->state = b->count > 0 ? BARRIER_RESETTING : BARRIER_FILLING;
	aio_wake_all(&b->waiters);
}

unsigned ringo_barrier_n_waiting(const ringo_barrier *b)
{
	return !b || b->state != BARRIER_FILLING ? 0 : b->count;
}

bool ringo_barrier_broken(const ringo_barrier *b)
{
	return b && b->state == BARRIER_BROKEN;
}
