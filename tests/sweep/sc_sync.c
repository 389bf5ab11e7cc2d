/*
 * Sweep scenarios: queue get / put / join, lock, semaphore, condition,
 * event, barrier.
 *
 * Items and units are counted: items put = items got (by the victim and
 * the other tasks) + items still queued, each exactly once; a lock is held
 * by exactly the task whose acquire returned 0, or by nobody at the end;
 * semaphore units released = units acquired + units left. A second waiter
 * behind the victim must always be served (a hand-over lost to a cancel
 * would leave it waiting: the run then hangs and fails).
 */
#include <errno.h>
#include <string.h>

#include "sweep.h"

#define ITEM(n) ((void *)(uintptr_t)(n))

struct sync_st {
	ringo_queue q;
	ringo_lock lock;
	ringo_semaphore sem;
	ringo_condition cond;
	ringo_event ev;
	ringo_barrier bar;
	void *got;           /* what the victim got */
	void *got2;          /* what the second waiter got */
	int rc2;             /* the second waiter's call */
	void *taken[4];      /* items a peer took with get_nowait */
	int ntaken;
	int done_count;      /* task_done calls made */
	int holders;         /* tasks between a successful acquire and their release */
	bool overlap;        /* two tasks held the lock at once */
	bool held;           /* the victim held the lock at return */
	bool state_ok;
};

/* Each of 1..n exactly once among found[0..nfound). */
static void check_items(struct sweep_ctx *c, void **found, int nfound, int n, const char *what)
{
	int count[8] = {0};
	for (int i = 0; i < nfound; i++) {
		uintptr_t v = (uintptr_t)found[i];
		SWEEP_CHECK(c, v >= 1 && v <= (uintptr_t)n, "%s: stray item %p", what, found[i]);
		if (v >= 1 && v <= (uintptr_t)n)
			count[v]++;
	}
	for (int v = 1; v <= n; v++)
		SWEEP_CHECK(c, count[v] == 1, "%s: item %d seen %d times", what, v, count[v]);
}

/* Everything still queued, then the queue is destroyed (no waiters left). */
static int drain_queue(struct sweep_ctx *c, struct sync_st *st, void **into, int n)
{
	void *item;
	while (n < 8 && ringo_queue_get_nowait(&st->q, &item) == 0)
		into[n++] = item;
	SWEEP_CHECK(c, ringo_queue_destroy(&st->q) == 0, "tasks still wait on the queue");
	return n;
}

/* ---- queue get: two getters, three items put later ---- */

static int putter_later(void *arg, void **result)
{
	struct sync_st *st = arg;
	sweep_yield(3);
	ringo_queue_put_nowait(&st->q, ITEM(1));
	ringo_queue_put_nowait(&st->q, ITEM(2));
	sweep_yield(2);
	ringo_queue_put_nowait(&st->q, ITEM(3));
	return 0;
}

static int second_getter(void *arg, void **result)
{
	struct sync_st *st = arg;
	sweep_yield(1); /* behind the victim in the queue's line */
	st->rc2 = ringo_queue_get(&st->q, &st->got2);
	return 0;
}

static int get_setup(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	int err = ringo_queue_init(&st->q, sweep_loop(c), 0);
	if (err < 0)
		return err;
	st->rc2 = 1;
	sweep_spawn_peer(c, putter_later, st);
	sweep_spawn_peer(c, second_getter, st);
	return 0;
}

static int get_victim(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	void *item = NULL;
	int rc = ringo_queue_get(&st->q, &item);
	st->got = item;
	return sweep_returned(c, rc, SWEEP_MEM(&item, sizeof(item)));
}

static void get_check(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	void *found[8];
	int n = 0;
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
	if (sweep_kept(c, rc == 0))
		found[n++] = st->got;
	SWEEP_CHECK(c, st->rc2 == 0, "the second getter's get: %d", st->rc2);
	if (st->rc2 == 0)
		found[n++] = st->got2;
	n = drain_queue(c, st, found, n);
	check_items(c, found, n, 3, "put 1, 2, 3");
}

/* ---- queue put: a full queue of one, a second putter, a slow taker ---- */

static int slow_taker(void *arg, void **result)
{
	struct sync_st *st = arg;
	for (int i = 0; i < 3; i++) {
		sweep_yield(3);
		void *item;
		if (ringo_queue_get_nowait(&st->q, &item) == 0)
			st->taken[st->ntaken++] = item;
	}
	return 0;
}

static int second_putter(void *arg, void **result)
{
	struct sync_st *st = arg;
	sweep_yield(1);
	st->rc2 = ringo_queue_put(&st->q, ITEM(3));
	return 0;
}

static int put_setup(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	int err = ringo_queue_init(&st->q, sweep_loop(c), 1);
	if (err < 0)
		return err;
	ringo_queue_put_nowait(&st->q, ITEM(1));
	st->rc2 = 1;
	sweep_spawn_peer(c, slow_taker, st);
	sweep_spawn_peer(c, second_putter, st);
	return 0;
}

static int put_victim(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	int rc = ringo_queue_put(&st->q, ITEM(2));
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

/* Item 2 is in the queue or taken exactly when put returned 0 (and, in a
 * bare run, the putter did not end cancelled: asyncio's cancelled putter
 * never puts). */
static void put_check(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	bool put = sweep_kept(c, rc == 0);
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
	SWEEP_CHECK(c, st->rc2 == 0, "the second putter's put: %d", st->rc2);
	void *found[8];
	int n = 0;
	for (int i = 0; i < st->ntaken; i++)
		found[n++] = st->taken[i];
	n = drain_queue(c, st, found, n);
	if (!put)
		found[n++] = ITEM(2); /* as if: counted once, by the call that did not put it */
	check_items(c, found, n, 3, put ? "put 1, 2, 3" : "put 1, 3 (2 cancelled)");
}

/* ---- queue join ---- */

static int worker(void *arg, void **result)
{
	struct sync_st *st = arg;
	for (int i = 0; i < 2; i++) {
		sweep_yield(2);
		void *item;
		if (ringo_queue_get_nowait(&st->q, &item) == 0) {
			ringo_queue_task_done(&st->q);
			st->done_count++;
		}
	}
	return 0;
}

static int join_setup(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	int err = ringo_queue_init(&st->q, sweep_loop(c), 0);
	if (err < 0)
		return err;
	ringo_queue_put_nowait(&st->q, ITEM(1));
	ringo_queue_put_nowait(&st->q, ITEM(2));
	sweep_spawn_peer(c, worker, st);
	return 0;
}

static int join_victim(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	int rc = ringo_queue_join(&st->q);
	st->state_ok = st->done_count == 2;
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

static void join_check(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c)) {
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
		SWEEP_CHECK(c, rc != 0 || st->state_ok, "join returned with work not done");
	}
	void *found[8];
	drain_queue(c, st, found, 0);
}

/* ---- lock: held by the driver, released later; a second waiter ---- */

/* Every task that acquired says so, and says when it releases: a lock is
 * held by exactly one of them at a time. */
static void took_lock(struct sync_st *st)
{
	if (++st->holders != 1)
		st->overlap = true;
}

static void release_lock(struct sync_st *st)
{
	st->holders--;
	ringo_lock_release(&st->lock);
}

static int releaser(void *arg, void **result)
{
	struct sync_st *st = arg;
	sweep_yield(3);
	release_lock(st); /* the driver's */
	return 0;
}

static int second_locker(void *arg, void **result)
{
	struct sync_st *st = arg;
	sweep_yield(1);
	st->rc2 = ringo_lock_acquire(&st->lock);
	if (st->rc2 == 0) {
		took_lock(st);
		st->state_ok = ringo_lock_locked(&st->lock);
		sweep_yield(1);
		release_lock(st);
	}
	return 0;
}

static int lock_setup(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	ringo_lock_init(&st->lock);
	st->rc2 = 1;
	if (ringo_lock_try_acquire(&st->lock) != 0)
		return -EBUSY;
	took_lock(st);
	sweep_spawn_peer(c, releaser, st);
	sweep_spawn_peer(c, second_locker, st);
	return 0;
}

static int lock_victim(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	int rc = ringo_lock_acquire(&st->lock);
	if (rc == 0)
		took_lock(st);
	st->held = rc == 0 && ringo_lock_locked(&st->lock);
	int ret = sweep_returned(c, rc, SWEEP_NOMEM);
	if (rc == 0)
		release_lock(st);
	return ret;
}

static void lock_check(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c)) {
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
		SWEEP_CHECK(c, st->held == (rc == 0), "rc %d but the victim %s the lock", rc,
			    st->held ? "held" : "did not hold");
	}
	SWEEP_CHECK(c, st->rc2 == 0 && st->state_ok, "the second waiter: %d", st->rc2);
	SWEEP_CHECK(c, !st->overlap, "two tasks held the lock at once");
	SWEEP_CHECK(c, !ringo_lock_locked(&st->lock), "the lock is still held at the end");
	SWEEP_CHECK(c, ringo_lock_destroy(&st->lock) == 0, "tasks still wait on the lock");
}

/* ---- semaphore: two units released later, two waiters ---- */

static int unit_releaser(void *arg, void **result)
{
	struct sync_st *st = arg;
	sweep_yield(3);
	ringo_semaphore_release(&st->sem);
	sweep_yield(2);
	ringo_semaphore_release(&st->sem);
	return 0;
}

static int second_acquirer(void *arg, void **result)
{
	struct sync_st *st = arg;
	sweep_yield(1);
	st->rc2 = ringo_semaphore_acquire(&st->sem);
	return 0;
}

static int sem_setup(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	ringo_semaphore_init(&st->sem, 0);
	st->rc2 = 1;
	sweep_spawn_peer(c, unit_releaser, st);
	sweep_spawn_peer(c, second_acquirer, st);
	return 0;
}

static int sem_victim(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	int rc = ringo_semaphore_acquire(&st->sem);
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

static void sem_check(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	int mine = sweep_kept(c, rc == 0);
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
	SWEEP_CHECK(c, st->rc2 == 0, "the second waiter: %d", st->rc2);
	unsigned left = ringo_semaphore_value(&st->sem);
	SWEEP_CHECK(c, mine + (st->rc2 == 0) + left == 2, "2 units released: victim %d, other %d, left %u",
		    mine, st->rc2 == 0, left);
	SWEEP_CHECK(c, ringo_semaphore_destroy(&st->sem) == 0, "tasks still wait");
}

/* ---- condition: notify one, later notify all; a second waiter ---- */

static int notifier(void *arg, void **result)
{
	struct sync_st *st = arg;
	for (int round = 0; round < 2; round++) {
		sweep_yield(3);
		if (ringo_lock_acquire(&st->lock) < 0)
			return 0;
		took_lock(st);
		if (round == 0)
			ringo_condition_notify(&st->cond, 1);
		else
			ringo_condition_notify_all(&st->cond);
		release_lock(st);
	}
	return 0;
}

static int second_cond_waiter(void *arg, void **result)
{
	struct sync_st *st = arg;
	sweep_yield(1);
	if (ringo_lock_acquire(&st->lock) < 0)
		return 0;
	took_lock(st);
	st->holders--; /* wait lets go of the lock and takes it back */
	st->rc2 = ringo_condition_wait(&st->cond);
	took_lock(st);
	release_lock(st);
	return 0;
}

static int cond_setup(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	ringo_lock_init(&st->lock);
	ringo_condition_init(&st->cond, &st->lock);
	st->rc2 = 1;
	sweep_spawn_peer(c, notifier, st);
	sweep_spawn_peer(c, second_cond_waiter, st);
	return 0;
}

static int cond_victim(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	int err = ringo_lock_acquire(&st->lock);
	if (err < 0)
		return err; /* cancelled before the call */
	took_lock(st);
	st->holders--; /* wait lets go of the lock and takes it back */
	int rc = ringo_condition_wait(&st->cond);
	/* asyncio: the lock is held again on return, whatever is returned. */
	took_lock(st);
	st->held = ringo_lock_locked(&st->lock);
	release_lock(st);
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

static void cond_check(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c)) {
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
		SWEEP_CHECK(c, st->held, "condition_wait returned %d without the lock", rc);
	}
	SWEEP_CHECK(c, !st->overlap, "two tasks held the lock at once");
	SWEEP_CHECK(c, st->rc2 == 0 || st->rc2 == 1, "the second waiter: %d", st->rc2);
	SWEEP_CHECK(c, !ringo_lock_locked(&st->lock), "the lock is still held at the end");
	SWEEP_CHECK(c, ringo_condition_destroy(&st->cond) == 0, "tasks still wait");
	SWEEP_CHECK(c, ringo_lock_destroy(&st->lock) == 0, "tasks still wait on the lock");
}

/* ---- event ---- */

static int setter(void *arg, void **result)
{
	struct sync_st *st = arg;
	sweep_yield(3);
	ringo_event_set(&st->ev);
	return 0;
}

static int event_setup(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	ringo_event_init(&st->ev);
	sweep_spawn_peer(c, setter, st);
	return 0;
}

static int event_victim(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	int rc = ringo_event_wait(&st->ev);
	st->state_ok = ringo_event_is_set(&st->ev);
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

static void event_check(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c)) {
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
		SWEEP_CHECK(c, rc != 0 || st->state_ok, "woke with the event clear");
	}
	SWEEP_CHECK(c, ringo_event_destroy(&st->ev) == 0, "tasks still wait");
}

/* ---- barrier of two: the other party comes later; an aborter ends a
 * lonely wait ---- */

static int other_party(void *arg, void **result)
{
	struct sync_st *st = arg;
	sweep_yield(3);
	st->rc2 = ringo_barrier_wait(&st->bar);
	return 0;
}

static int aborter(void *arg, void **result)
{
	struct sync_st *st = arg;
	sweep_yield(12);
	ringo_barrier_abort(&st->bar);
	return 0;
}

static int barrier_setup(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	int err = ringo_barrier_init(&st->bar, 2);
	if (err < 0)
		return err;
	st->rc2 = 1;
	sweep_spawn_peer(c, other_party, st);
	sweep_spawn_peer(c, aborter, st);
	return 0;
}

static int barrier_victim(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	int rc = ringo_barrier_wait(&st->bar);
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

/* Passed together (indices 0 and 1); or the victim left: the other
 * party was alone and freed by the abort, or (asyncio) the victim had
 * arrived first and was released but cancelled before it ran, and the
 * other passed with index 1. */
static void barrier_check(struct sweep_ctx *c)
{
	struct sync_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	bool passed = sweep_called(c) && rc >= 0;
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == 0 || rc == 1 || rc == -ECANCELED, "rc %d", rc);
	if (passed)
		SWEEP_CHECK(c, st->rc2 == 1 - rc, "indices %d and %d", rc, st->rc2);
	else
		SWEEP_CHECK(c, st->rc2 == -EPIPE || (sweep_called(c) && st->rc2 == 1),
			    "the victim left (%d), the other party: %d", rc, st->rc2);
	SWEEP_CHECK(c, ringo_barrier_destroy(&st->bar) == 0, "tasks still wait");
}

#define SYNC(nm, cl, pre, v, ck)                                                               \
	{.name = nm, .call = cl, .priv_size = sizeof(struct sync_st), .setup = pre, .victim = v, \
	 .check = ck}

const struct sweep_scenario sweep_sync_scenarios[] = {
	SYNC("queue_get", "ringo_queue_get", get_setup, get_victim, get_check),
	SYNC("queue_put", "ringo_queue_put (full)", put_setup, put_victim, put_check),
	SYNC("queue_join", "ringo_queue_join", join_setup, join_victim, join_check),
	SYNC("lock", "ringo_lock_acquire", lock_setup, lock_victim, lock_check),
	SYNC("semaphore", "ringo_semaphore_acquire", sem_setup, sem_victim, sem_check),
	SYNC("condition", "ringo_condition_wait", cond_setup, cond_victim, cond_check),
	SYNC("event", "ringo_event_wait", event_setup, event_victim, event_check),
	SYNC("barrier", "ringo_barrier_wait", barrier_setup, barrier_victim, barrier_check),
};
const size_t sweep_sync_count = sizeof(sweep_sync_scenarios) / sizeof(sweep_sync_scenarios[0]);
