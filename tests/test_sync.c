/*
 * Event, Lock, Semaphore, BoundedSemaphore, Condition, Barrier:
 * CPython's Lib/test/test_asyncio/test_locks.py (3.13+) ported test by
 * test (same names, prefixed by the class where CPython repeats a name:
 * test_lock_acquire is LockTests.test_acquire), then ringo's own:
 * hand-overs under cancellation, sweeps, misuse.
 */
#include "aio_port.h"

static int64_t now_s(void)
{
	return ringo_loop_time_ns(ringo_loop_current()) / RINGO_SEC(1);
}

static const char *me(void)
{
	return ringo_task_name(ringo_task_current());
}

/* The order in which tasks reached some point (CPython's result lists). */
static int order[64], norder;

static void reached(int i)
{
	if (norder < 64)
		order[norder++] = i;
}

/* "1,2,3" for CHECK_STR. */
static const char *order_str(void)
{
	static char buf[256];
	size_t n = 0;
	buf[0] = 0;
	for (int i = 0; i < norder && n < sizeof(buf) - 16; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, i ? ",%d" : "%d", order[i]);
	return buf;
}

/* ==== LockTests ==== */

static ringo_lock lock;

/* if await lock.acquire(): result.append(i); return True */
static int lock_c(void *arg, void **result)
{
	int rc = ringo_lock_acquire(&lock);
	if (rc == 0)
		reached(V(arg));
	*result = I(rc == 0);
	return rc;
}

PORT_TEST(test_lock_acquire)
{
	ringo_lock_init(&lock);
	norder = 0;
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	ringo_task *t1 = spawn(lock_c, I(1));
	ringo_task *t2 = spawn(lock_c, I(2));
	sleep0();
	CHECK_STR(order_str(), "");
	ringo_lock_release(&lock);
	sleep0();
	CHECK_STR(order_str(), "1");
	sleep0();
	CHECK_STR(order_str(), "1");
	ringo_task *t3 = spawn(lock_c, I(3));
	ringo_lock_release(&lock);
	sleep0();
	CHECK_STR(order_str(), "1,2");
	ringo_lock_release(&lock);
	sleep0();
	CHECK_STR(order_str(), "1,2,3");
	ringo_task *ts[] = {t1, t2, t3};
	for (int i = 0; i < 3; i++) {
		void *v;
		CHECK(done(ts[i]));
		CHECK_EQ(outcome(ts[i], &v), 0);
		CHECK_EQ(V(v), 1);
	}
	ringo_lock_release(&lock);
	CHECK_EQ(ringo_lock_destroy(&lock), 0);
	return 0;
}

static int lock_acquire_task(void *arg, void **result)
{
	return ringo_lock_acquire(&lock);
}

PORT_TEST(test_lock_acquire_cancel)
{
	ringo_lock_init(&lock);
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	ringo_task *task = spawn(lock_acquire_task, NULL);
	ringo_call_soon(P.loop, cancel_cb, task, NULL);
	CHECK_EQ(await_task(task, NULL), -ECANCELED);
	/* lock._waiters is empty: once released, nothing holds the lock. */
	CHECK_EQ(ringo_lock_release(&lock), 0);
	CHECK_EQ(ringo_lock_destroy(&lock), 0);
	return 0;
}

/* lockit(name, blocker): acquire; await blocker if any; release. */
static int lockit(void *arg, void **result)
{
	int rc = ringo_lock_acquire(&lock);
	if (rc < 0)
		return rc;
	if (arg)
		rc = ringo_await(arg, NULL);
	ringo_lock_release(&lock);
	return rc;
}

PORT_TEST(test_cancel_race)
{
	/* A acquires the lock, B and C block in acquire(); then B is
	 * cancelled while A releases: C must get the lock. */
	ringo_lock_init(&lock);
	ringo_future *fa;
	CHECK_EQ(ringo_future_new(P.loop, &fa), 0);
	ringo_task *ta = spawn(lockit, fa);
	sleep0();
	CHECK(ringo_lock_locked(&lock));
	ringo_task *tb = spawn(lockit, NULL);
	sleep0();
	ringo_task *tc = spawn(lockit, NULL);
	sleep0();
	/* Create the race and check. */
	ringo_future_set_result(fa, NULL);
	ringo_task_cancel(tb, NULL);
	sleep0();
	CHECK(!ringo_lock_locked(&lock));
	CHECK(done(ta));
	CHECK(cancelled(tb));
	CHECK_EQ(await_task(tc, NULL), 0);
	ringo_future_release(fa);
	CHECK_EQ(ringo_lock_destroy(&lock), 0);
	return 0;
}

static int lock_count, call_count;
static ringo_task *race_t1;

static int lockit_count(void *arg, void **result)
{
	call_count++;
	int rc = ringo_lock_acquire(&lock);
	if (rc == 0)
		lock_count++;
	return rc;
}

static void trigger(void *arg)
{
	ringo_task_cancel(race_t1, NULL);
	ringo_lock_release(&lock);
}

/* Issue 32734: four lockers, cancel the second, release the first: only
 * one lock must be taken. */
PORT_TEST(test_cancel_release_race)
{
	ringo_lock_init(&lock);
	lock_count = call_count = 0;
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	ringo_task *t1 = race_t1 = spawn(lockit_count, NULL);
	ringo_task *t2 = spawn(lockit_count, NULL);
	ringo_task *t3 = spawn(lockit_count, NULL);
	sleep0(); /* start scheduled tasks */
	ringo_call_soon(P.loop, trigger, NULL, NULL);
	CHECK_EQ(await_task(t1, NULL), -ECANCELED);
	/* Make sure only one lock was taken, while 3 calls were made. */
	CHECK_EQ(lock_count, 1);
	CHECK_EQ(call_count, 3);
	CHECK(cancelled(t1) && done(t2));
	/* Clean up the task that is stuck on acquire. */
	ringo_task_cancel(t3, NULL);
	sleep0();
	CHECK(cancelled(t3));
	ringo_lock_release(&lock);
	CHECK_EQ(ringo_lock_destroy(&lock), 0);
	return 0;
}

PORT_TEST(test_finished_waiter_cancelled)
{
	ringo_lock_init(&lock);
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	CHECK(ringo_lock_locked(&lock));
	ringo_task *tb = spawn(lock_acquire_task, NULL);
	sleep0();
	/* A second waiter; wake the first and cancel it: the second must
	 * still get the lock. */
	ringo_task *tc = spawn(lock_acquire_task, NULL);
	ringo_task_cancel(tb, NULL);
	ringo_lock_release(&lock);
	sleep0();
	CHECK(ringo_lock_locked(&lock));
	CHECK(cancelled(tb));
	CHECK_EQ(await_task(tc, NULL), 0);
	ringo_lock_release(&lock);
	CHECK_EQ(ringo_lock_destroy(&lock), 0);
	return 0;
}

PORT_TEST(test_lock_release_not_acquired)
{
	ringo_lock_init(&lock);
	CHECK_EQ(ringo_lock_release(&lock), -EPERM);
	return 0;
}

PORT_TEST(test_lock_release_no_waiters)
{
	ringo_lock_init(&lock);
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	CHECK(ringo_lock_locked(&lock));
	CHECK_EQ(ringo_lock_release(&lock), 0);
	CHECK(!ringo_lock_locked(&lock));
	return 0;
}

/* ==== EventTests ==== */

static ringo_event ev;

static int ev_c(void *arg, void **result)
{
	int rc = ringo_event_wait(&ev);
	if (rc == 0)
		reached(V(arg));
	*result = I(rc == 0);
	return rc;
}

PORT_TEST(test_event_wait)
{
	ringo_event_init(&ev);
	norder = 0;
	CHECK(!ringo_event_is_set(&ev));
	ringo_task *t1 = spawn(ev_c, I(1));
	ringo_task *t2 = spawn(ev_c, I(2));
	sleep0();
	CHECK_STR(order_str(), "");
	ringo_task *t3 = spawn(ev_c, I(3));
	ringo_event_set(&ev);
	sleep0();
	CHECK_STR(order_str(), "3,1,2");
	CHECK(done(t1) && done(t2) && done(t3));
	CHECK_EQ(ringo_event_destroy(&ev), 0);
	return 0;
}

PORT_TEST(test_event_wait_on_set)
{
	ringo_event_init(&ev);
	ringo_event_set(&ev);
	CHECK_EQ(ringo_event_wait(&ev), 0);
	return 0;
}

static int event_wait_task(void *arg, void **result)
{
	return ringo_event_wait(&ev);
}

PORT_TEST(test_event_wait_cancel)
{
	ringo_event_init(&ev);
	ringo_task *wait = spawn(event_wait_task, NULL);
	ringo_call_soon(P.loop, cancel_cb, wait, NULL);
	CHECK_EQ(await_task(wait, NULL), -ECANCELED);
	CHECK_EQ(ringo_event_destroy(&ev), 0); /* ev._waiters is empty */
	return 0;
}

PORT_TEST(test_event_clear)
{
	ringo_event_init(&ev);
	CHECK(!ringo_event_is_set(&ev));
	ringo_event_set(&ev);
	CHECK(ringo_event_is_set(&ev));
	ringo_event_clear(&ev);
	CHECK(!ringo_event_is_set(&ev));
	return 0;
}

PORT_TEST(test_event_clear_with_waiters)
{
	ringo_event_init(&ev);
	norder = 0;
	ringo_task *t = spawn(ev_c, I(1));
	sleep0();
	CHECK_STR(order_str(), "");
	ringo_event_set(&ev);
	ringo_event_clear(&ev);
	CHECK(!ringo_event_is_set(&ev));
	ringo_event_set(&ev);
	ringo_event_set(&ev);
	sleep0();
	CHECK_STR(order_str(), "1");
	CHECK(done(t));
	void *v;
	CHECK_EQ(outcome(t, &v), 0);
	CHECK_EQ(V(v), 1);
	return 0;
}

/* A waiter woken by set and cancelled before it runs reports the cancel
 * (asyncio: CancelledError at its await); nothing is consumed, so the
 * other waiters still return 0 and the flag stays set. */
static int ev_logged(void *arg, void **result)
{
	int rc = ringo_event_wait(&ev);
	log_add(&g_log, "%s(%d)", (const char *)arg, rc);
	return 0;
}

PORT_TEST(test_event_waiter_cancelled_after_set_reports_the_cancel)
{
	ringo_event_init(&ev);
	ringo_task *ts[2] = {spawn(ev_logged, "a"), spawn(ev_logged, "b")};
	sleep0();
	ringo_event_set(&ev);
	ringo_task_cancel(ts[0], NULL);
	gather_all(ts, 2);
	CHECK_STR(g_log.buf, "a(-125) b(0)");
	CHECK(ringo_event_is_set(&ev));
	CHECK_EQ(ringo_event_destroy(&ev), 0);
	return 0;
}

/* ==== ConditionTests ==== */

static ringo_condition cond;

static void cond_init(void)
{
	ringo_lock_init(&lock);
	ringo_condition_init(&cond, &lock);
}

static void cond_destroy(void)
{
	CHECK_EQ(ringo_condition_destroy(&cond), 0);
}

/* await cond.acquire(); if await cond.wait(): result.append(i) */
static int cond_c(void *arg, void **result)
{
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	int rc = ringo_condition_wait(&cond);
	if (rc == 0)
		reached(V(arg));
	*result = I(rc == 0);
	return rc;
}

/* ... and cond.release() */
static int cond_c_release(void *arg, void **result)
{
	int rc = cond_c(arg, result);
	ringo_lock_release(&lock);
	return rc;
}

PORT_TEST(test_condition_wait)
{
	cond_init();
	norder = 0;
	ringo_task *ts[3] = {spawn(cond_c, I(1)), spawn(cond_c, I(2)), spawn(cond_c, I(3))};
	sleep0();
	CHECK_STR(order_str(), "");
	CHECK(!ringo_lock_locked(&lock));
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	ringo_condition_notify(&cond, 1);
	sleep0();
	CHECK_STR(order_str(), "");
	CHECK(ringo_lock_locked(&lock));
	ringo_lock_release(&lock);
	sleep0();
	CHECK_STR(order_str(), "1");
	CHECK(ringo_lock_locked(&lock));
	ringo_condition_notify(&cond, 2);
	sleep0();
	CHECK_STR(order_str(), "1");
	CHECK(ringo_lock_locked(&lock));
	ringo_lock_release(&lock);
	sleep0();
	CHECK_STR(order_str(), "1,2");
	CHECK(ringo_lock_locked(&lock));
	ringo_lock_release(&lock);
	sleep0();
	CHECK_STR(order_str(), "1,2,3");
	CHECK(ringo_lock_locked(&lock));
	for (int i = 0; i < 3; i++) {
		void *v;
		CHECK(done(ts[i]));
		CHECK_EQ(outcome(ts[i], &v), 0);
		CHECK_EQ(V(v), 1);
	}
	ringo_lock_release(&lock);
	cond_destroy();
	return 0;
}

static int cond_wait_task(void *arg, void **result)
{
	return ringo_condition_wait(&cond);
}

PORT_TEST(test_condition_wait_cancel)
{
	cond_init();
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	ringo_task *wait = spawn(cond_wait_task, NULL);
	ringo_call_soon(P.loop, cancel_cb, wait, NULL);
	CHECK_EQ(await_task(wait, NULL), -ECANCELED);
	cond_destroy(); /* cond._waiters is empty */
	CHECK(ringo_lock_locked(&lock));
	return 0;
}

static void release_cb(void *arg)
{
	ringo_lock_release(arg);
}

PORT_TEST(test_wait_cancel_contested)
{
	cond_init();
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	CHECK(ringo_lock_locked(&lock));
	ringo_task *wait_task = spawn(cond_wait_task, NULL);
	sleep0();
	CHECK(!ringo_lock_locked(&lock));
	/* Notify, but contest the lock before cancelling. */
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	CHECK(ringo_lock_locked(&lock));
	ringo_condition_notify(&cond, 1);
	ringo_call_soon(P.loop, cancel_cb, wait_task, NULL);
	ringo_call_soon(P.loop, release_cb, &lock, NULL);
	int rc = await_task(wait_task, NULL);
	CHECK(rc == 0 || rc == -ECANCELED); /* either is allowed */
	CHECK(ringo_lock_locked(&lock));
	cond_destroy();
	return 0;
}

static bool waited;

static int wait_on_cond(void *arg, void **result)
{
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	waited = true; /* make sure this area was reached */
	int rc = ringo_condition_wait(&cond);
	ringo_lock_release(&lock);
	return rc;
}

/* bpo-32841 */
PORT_TEST(test_wait_cancel_after_notify)
{
	cond_init();
	waited = false;
	ringo_task *waiter = spawn(wait_on_cond, NULL);
	sleep0(); /* start waiting */
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	ringo_condition_notify(&cond, 1);
	sleep0(); /* get to acquire() */
	ringo_task_cancel(waiter, NULL);
	sleep0(); /* activate cancellation */
	ringo_lock_release(&lock);
	sleep0(); /* cancellation should occur */
	CHECK(cancelled(waiter));
	CHECK(waited);
	cond_destroy();
	return 0;
}

PORT_TEST(test_wait_unacquired)
{
	cond_init();
	CHECK_EQ(ringo_condition_wait(&cond), -EPERM);
	return 0;
}

static bool presult;

static bool predicate(void *arg)
{
	return presult;
}

static int cond_wait_for_c(void *arg, void **result)
{
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	int rc = ringo_condition_wait_for(&cond, predicate, NULL);
	if (rc == 0) {
		reached(1);
		ringo_lock_release(&lock);
	}
	*result = I(rc == 0);
	return rc;
}

PORT_TEST(test_wait_for)
{
	cond_init();
	norder = 0;
	presult = false;
	ringo_task *t = spawn(cond_wait_for_c, NULL);
	sleep0();
	CHECK_STR(order_str(), "");
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	ringo_condition_notify(&cond, 1);
	ringo_lock_release(&lock);
	sleep0();
	CHECK_STR(order_str(), "");
	presult = true;
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	ringo_condition_notify(&cond, 1);
	ringo_lock_release(&lock);
	sleep0();
	CHECK_STR(order_str(), "1");
	CHECK(done(t));
	CHECK_EQ(outcome(t, NULL), 0);
	cond_destroy();
	return 0;
}

PORT_TEST(test_wait_for_unacquired)
{
	cond_init();
	/* predicate can return true immediately */
	presult = true;
	CHECK_EQ(ringo_condition_wait_for(&cond, predicate, NULL), 0);
	presult = false;
	CHECK_EQ(ringo_condition_wait_for(&cond, predicate, NULL), -EPERM);
	return 0;
}

PORT_TEST(test_notify)
{
	cond_init();
	norder = 0;
	ringo_task *ts[3] = {spawn(cond_c_release, I(1)), spawn(cond_c_release, I(2)),
			     spawn(cond_c_release, I(3))};
	sleep0();
	CHECK_STR(order_str(), "");
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	ringo_condition_notify(&cond, 1);
	ringo_lock_release(&lock);
	sleep0();
	CHECK_STR(order_str(), "1");
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	ringo_condition_notify(&cond, 1);
	ringo_condition_notify(&cond, 2048);
	ringo_lock_release(&lock);
	sleep0();
	CHECK_STR(order_str(), "1,2,3");
	for (int i = 0; i < 3; i++)
		CHECK(done(ts[i]) && outcome(ts[i], NULL) == 0);
	cond_destroy();
	return 0;
}

PORT_TEST(test_notify_all)
{
	cond_init();
	norder = 0;
	ringo_task *ts[2] = {spawn(cond_c_release, I(1)), spawn(cond_c_release, I(2))};
	sleep0();
	CHECK_STR(order_str(), "");
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	ringo_condition_notify_all(&cond);
	ringo_lock_release(&lock);
	sleep0();
	CHECK_STR(order_str(), "1,2");
	for (int i = 0; i < 2; i++)
		CHECK(done(ts[i]) && outcome(ts[i], NULL) == 0);
	cond_destroy();
	return 0;
}

PORT_TEST(test_notify_unacquired)
{
	cond_init();
	CHECK_EQ(ringo_condition_notify(&cond, 1), -EPERM);
	return 0;
}

PORT_TEST(test_notify_all_unacquired)
{
	cond_init();
	CHECK_EQ(ringo_condition_notify_all(&cond), -EPERM);
	return 0;
}

/* wait_for(condition.wait(), 0.5) inside `async with condition`: here a
 * timeout scope; the lock is held again afterwards. */
PORT_TEST(test_timeout_in_block)
{
	cond_init();
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	ringo_timeout to;
	CHECK_EQ(ringo_timeout_enter(&to, RINGO_MSEC(500)), 0);
	int rc = ringo_condition_wait(&cond);
	CHECK_EQ(ringo_timeout_exit(&to, rc), -ETIMEDOUT);
	CHECK(ringo_lock_locked(&lock));
	ringo_lock_release(&lock);
	cond_destroy();
	return 0;
}

static bool wake;

static bool wake_pred(void *arg)
{
	return wake;
}

/* async with cond: await cond.wait_for(lambda: wake) (cancelled) */
static int cond_func(void *arg, void **result)
{
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	int rc = ringo_condition_wait_for(&cond, wake_pred, NULL);
	CHECK_EQ(rc, -ECANCELED);
	CHECK(ringo_lock_locked(&lock));
	ringo_lock_release(&lock);
	return rc;
}

/* A cancel received while waiting for the wake-up is what the task ends
 * with (CPython: the same exception; here its message). */
PORT_TEST(test_cancelled_error_wakeup)
{
	cond_init();
	wake = false;
	ringo_task *task = spawn(cond_func, NULL);
	sleep0();
	/* Task is waiting on the condition, cancel it there. */
	ringo_task_cancel(task, "foo");
	CHECK_EQ(await_task(task, NULL), -ECANCELED);
	CHECK(cancelled(task));
	const char *msg = ringo_future_cancel_message(ringo_task_future(task));
	CHECK(msg && strcmp(msg, "foo") == 0);
	cond_destroy();
	return 0;
}

/* ... and so is one received while re-acquiring the lock. */
PORT_TEST(test_cancelled_error_re_aquire)
{
	cond_init();
	wake = false;
	ringo_task *task = spawn(cond_func, NULL);
	sleep0();
	/* Task is waiting on the condition */
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	wake = true;
	ringo_condition_notify(&cond, 1);
	sleep0();
	/* Task is now trying to re-acquire the lock, cancel it there. */
	ringo_task_cancel(task, "foo");
	ringo_lock_release(&lock);
	CHECK_EQ(await_task(task, NULL), -ECANCELED);
	const char *msg = ringo_future_cancel_message(ringo_task_future(task));
	CHECK(msg && strcmp(msg, "foo") == 0);
	cond_destroy();
	return 0;
}

static int cstate;

static bool state_nonzero(void *arg)
{
	return cstate != 0;
}

static bool state_zero(void *arg)
{
	return cstate == 0;
}

static int consumer(void *arg, void **result)
{
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	int rc;
	for (;;) {
		rc = ringo_condition_wait_for(&cond, state_nonzero, NULL);
		if (rc < 0 || cstate < 0)
			break;
		cstate -= 1;
	}
	ringo_lock_release(&lock);
	return rc;
}

/* wait_for(cstate == 0) for at most 10 ms, the lock held. */
static void wait_state_zero_briefly(void)
{
	ringo_timeout to;
	CHECK_EQ(ringo_timeout_enter(&to, RINGO_MSEC(10)), 0);
	int rc = ringo_condition_wait_for(&cond, state_zero, NULL);
	rc = ringo_timeout_exit(&to, rc);
	CHECK(rc == 0 || rc == -ETIMEDOUT);
}

/* A task cancelled at the "same" time as notify wakes it must not lose
 * the wake-up: here while it waits to be run. */
PORT_TEST(test_cancelled_wakeup)
{
	cond_init();
	cstate = 0;
	ringo_task *c[2] = {spawn(consumer, NULL), spawn(consumer, NULL)};
	sleep0(); /* let them settle */
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	/* produce one item and wake up one */
	cstate += 1;
	ringo_condition_notify(&cond, 1);
	/* Cancel it while it is waiting to be run. */
	ringo_task_cancel(c[0], NULL);
	/* Now wait for the item to be consumed; if it is not, the notify
	 * did not take hold because it raced with the cancel. */
	wait_state_zero_briefly();
	CHECK_EQ(cstate, 0);
	/* clean up */
	cstate = -1;
	ringo_condition_notify_all(&cond);
	ringo_lock_release(&lock);
	CHECK_EQ(await_task(c[1], NULL), 0);
	CHECK(cancelled(c[0]));
	cond_destroy();
	return 0;
}

/* ... here while it is re-acquiring the lock. */
PORT_TEST(test_cancelled_wakeup_relock)
{
	cond_init();
	cstate = 0;
	ringo_task *c[2] = {spawn(consumer, NULL), spawn(consumer, NULL)};
	sleep0();
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	cstate += 1;
	ringo_condition_notify(&cond, 1);
	/* Let the target wake up and settle on re-acquiring the lock. */
	sleep0();
	ringo_task_cancel(c[0], NULL);
	wait_state_zero_briefly();
	CHECK_EQ(cstate, 0);
	cstate = -1;
	ringo_condition_notify_all(&cond);
	ringo_lock_release(&lock);
	CHECK_EQ(await_task(c[1], NULL), 0);
	CHECK(cancelled(c[0]));
	cond_destroy();
	return 0;
}

/* ==== SemaphoreTests ==== */

static ringo_semaphore sem;

PORT_TEST(test_initial_value_zero)
{
	ringo_semaphore_init(&sem, 0);
	CHECK(ringo_semaphore_locked(&sem));
	return 0;
}

PORT_TEST(test_semaphore)
{
	ringo_semaphore_init(&sem, 1);
	CHECK_EQ(ringo_semaphore_value(&sem), 1);
	CHECK(!ringo_semaphore_locked(&sem));
	return 0;
}

/* await sem.acquire(); result.append(i); return True */
static int sem_c(void *arg, void **result)
{
	int rc = ringo_semaphore_acquire(&sem);
	if (rc == 0)
		reached(V(arg));
	*result = I(rc == 0);
	return rc;
}

PORT_TEST(test_semaphore_acquire)
{
	ringo_semaphore_init(&sem, 3);
	norder = 0;
	CHECK_EQ(ringo_semaphore_acquire(&sem), 0);
	CHECK_EQ(ringo_semaphore_acquire(&sem), 0);
	CHECK(!ringo_semaphore_locked(&sem));
	ringo_task *t1 = spawn(sem_c, I(1));
	ringo_task *t2 = spawn(sem_c, I(2));
	ringo_task *t3 = spawn(sem_c, I(3));
	sleep0();
	CHECK_STR(order_str(), "1");
	CHECK(ringo_semaphore_locked(&sem));
	CHECK_EQ(ringo_semaphore_destroy(&sem), -EBUSY); /* 2 waiters */
	CHECK_EQ(ringo_semaphore_value(&sem), 0);
	ringo_task *t4 = spawn(sem_c, I(4));
	ringo_semaphore_release(&sem);
	ringo_semaphore_release(&sem);
	CHECK_EQ(ringo_semaphore_value(&sem), 0);
	sleep0();
	CHECK_EQ(ringo_semaphore_value(&sem), 0);
	CHECK_EQ(norder, 3);
	CHECK(ringo_semaphore_locked(&sem));
	CHECK_EQ(ringo_semaphore_value(&sem), 0);
	CHECK(done(t1));
	ringo_task *race[3] = {t2, t3, t4};
	int ndone = 0;
	for (int i = 0; i < 3; i++)
		ndone += done(race[i]) && outcome(race[i], NULL) == 0;
	CHECK_EQ(ndone, 2);
	/* clean up the locked semaphore */
	ringo_semaphore_release(&sem);
	gather_all(race, 3);
	CHECK_EQ(ringo_semaphore_destroy(&sem), 0);
	return 0;
}

static int sem_acquire_task(void *arg, void **result)
{
	return ringo_semaphore_acquire(&sem);
}

PORT_TEST(test_semaphore_acquire_cancel)
{
	ringo_semaphore_init(&sem, 1);
	CHECK_EQ(ringo_semaphore_acquire(&sem), 0);
	ringo_task *acquire = spawn(sem_acquire_task, NULL);
	ringo_call_soon(P.loop, cancel_cb, acquire, NULL);
	CHECK_EQ(await_task(acquire, NULL), -ECANCELED);
	CHECK_EQ(ringo_semaphore_destroy(&sem), 0); /* no waiter left */
	return 0;
}

PORT_TEST(test_acquire_cancel_before_awoken)
{
	ringo_semaphore_init(&sem, 0);
	ringo_task *t[4];
	for (int i = 0; i < 4; i++)
		t[i] = spawn(sem_acquire_task, NULL);
	sleep0();
	ringo_task_cancel(t[0], NULL);
	ringo_task_cancel(t[1], NULL);
	ringo_semaphore_release(&sem);
	sleep0();
	sleep0();
	CHECK_EQ(done(t[2]) + done(t[3]), 1);
	CHECK(done(t[2]));
	CHECK(!done(t[3]));
	ringo_task_cancel(t[2], NULL);
	ringo_task_cancel(t[3], NULL);
	sleep0();
	return 0;
}

PORT_TEST(test_acquire_hang)
{
	ringo_semaphore_init(&sem, 0);
	ringo_task *t1 = spawn(sem_acquire_task, NULL);
	ringo_task *t2 = spawn(sem_acquire_task, NULL);
	sleep0();
	ringo_task_cancel(t1, NULL);
	ringo_semaphore_release(&sem);
	sleep0();
	sleep0();
	CHECK(ringo_semaphore_locked(&sem));
	CHECK(done(t2));
	return 0;
}

static ringo_task *no_hang_t2;

static int no_hang_c1(void *arg, void **result)
{
	CHECK_EQ(ringo_semaphore_acquire(&sem), 0);
	sleep0();
	ringo_semaphore_release(&sem);
	ringo_task_cancel(no_hang_t2, NULL);
	return 0;
}

static int no_hang_c2(void *arg, void **result)
{
	int rc = ringo_semaphore_acquire(&sem);
	CHECK(rc < 0); /* never gets in */
	if (rc == 0)
		ringo_semaphore_release(&sem);
	return rc;
}

PORT_TEST(test_acquire_no_hang)
{
	ringo_semaphore_init(&sem, 1);
	ringo_task *t1 = spawn(no_hang_c1, NULL);
	ringo_task *t2 = no_hang_t2 = spawn(no_hang_c2, NULL);
	ringo_task *ts[2] = {t1, t2};
	gather_all(ts, 2);
	CHECK_EQ(outcome(t1, NULL), 0);
	CHECK_EQ(outcome(t2, NULL), -ECANCELED);
	/* await wait_for(sem.acquire(), 1.0) */
	ringo_task *t3 = spawn(sem_acquire_task, NULL);
	CHECK_EQ(ringo_wait_for(ringo_task_future(t3), RINGO_SEC(1), NULL), 0);
	return 0;
}

PORT_TEST(test_semaphore_release_not_acquired)
{
	ringo_semaphore_init_bounded(&sem, 1);
	CHECK_EQ(ringo_semaphore_release(&sem), -EOVERFLOW);
	return 0;
}

PORT_TEST(test_semaphore_release_no_waiters)
{
	ringo_semaphore_init(&sem, 1);
	CHECK_EQ(ringo_semaphore_acquire(&sem), 0);
	CHECK(ringo_semaphore_locked(&sem));
	ringo_semaphore_release(&sem);
	CHECK(!ringo_semaphore_locked(&sem));
	return 0;
}

static char fifo_log[64][8];
static int nfifo;

static int fifo_coro(void *arg, void **result)
{
	for (int round = 1; round <= 2; round++) {
		CHECK_EQ(ringo_semaphore_acquire(&sem), 0);
		snprintf(fifo_log[nfifo++], 8, "c%d_%d", V(arg), round);
		ringo_sleep(RINGO_MSEC(10));
		ringo_semaphore_release(&sem);
	}
	return 0;
}

PORT_TEST(test_acquire_fifo_order)
{
	ringo_semaphore_init(&sem, 1);
	nfifo = 0;
	ringo_task *ts[3] = {spawn(fifo_coro, I(1)), spawn(fifo_coro, I(2)),
			     spawn(fifo_coro, I(3))};
	gather_all(ts, 3);
	char all[128] = "";
	for (int i = 0; i < nfifo; i++) {
		strcat(all, i ? " " : "");
		strcat(all, fifo_log[i]);
	}
	CHECK_STR(all, "c1_1 c2_1 c3_1 c1_2 c2_2 c3_2");
	return 0;
}

/* c2: acquire, append 2, release, acquire again, append 4 */
static int fifo2_c2(void *arg, void **result)
{
	CHECK_EQ(ringo_semaphore_acquire(&sem), 0);
	reached(2);
	ringo_semaphore_release(&sem);
	CHECK_EQ(ringo_semaphore_acquire(&sem), 0);
	reached(4);
	return 0;
}

/* Issue 10, 7: a woken waiter keeps its turn over one that re-acquires. */
PORT_TEST(test_acquire_fifo_order_2)
{
	ringo_semaphore_init(&sem, 1);
	norder = 0;
	ringo_task *ts[3] = {spawn(sem_c, I(1)), spawn(fifo2_c2, NULL), spawn(sem_c, I(3))};
	sleep0();
	ringo_semaphore_release(&sem);
	ringo_semaphore_release(&sem);
	gather_all(ts, 3);
	CHECK_STR(order_str(), "1,2,3,4");
	return 0;
}

PORT_TEST(test_acquire_fifo_order_3)
{
	ringo_semaphore_init(&sem, 0);
	norder = 0;
	ringo_task *ts[3] = {spawn(sem_c, I(1)), spawn(sem_c, I(2)), spawn(sem_c, I(3))};
	sleep0();
	ringo_task_cancel(ts[0], NULL);
	sleep0();
	ringo_semaphore_release(&sem);
	ringo_semaphore_release(&sem);
	gather_all(ts, 3);
	CHECK_STR(order_str(), "2,3");
	return 0;
}

static ringo_task *fifo4_t4;

static int fifo4_c4(void *arg, void **result)
{
	reached(4);
	return 0;
}

static int fifo4_c1(void *arg, void **result)
{
	/* Waits at once; woken by c2. */
	CHECK_EQ(ringo_semaphore_value(&sem), 0);
	CHECK_EQ(ringo_semaphore_acquire(&sem), 0);
	/* All waiting tasks have been woken now. */
	CHECK_EQ(ringo_semaphore_value(&sem), 0);
	/* A fourth task: it runs after c3, not c2. */
	fifo4_t4 = spawn(fifo4_c4, NULL);
	reached(1);
	return 0;
}

static int fifo4_c2(void *arg, void **result)
{
	/* Release three times, for c1, c2 and c3. */
	ringo_semaphore_release(&sem);
	ringo_semaphore_release(&sem);
	ringo_semaphore_release(&sem);
	CHECK_EQ(ringo_semaphore_value(&sem), 2);
	/* Locked, because c1 has not woken up yet. */
	CHECK(ringo_semaphore_locked(&sem));
	CHECK_EQ(ringo_semaphore_acquire(&sem), 0);
	reached(2);
	return 0;
}

static int fifo4_c3(void *arg, void **result)
{
	CHECK_EQ(ringo_semaphore_acquire(&sem), 0);
	CHECK(ringo_semaphore_locked(&sem));
	reached(3);
	return 0;
}

/* A successful acquire wakes every task the FIFO rule kept waiting. */
PORT_TEST(test_acquire_fifo_order_4)
{
	ringo_semaphore_init(&sem, 0);
	norder = 0;
	fifo4_t4 = NULL;
	ringo_task *ts[4] = {spawn(fifo4_c1, NULL), spawn(fifo4_c2, NULL), spawn(fifo4_c3, NULL)};
	sleep0();
	/* Three tasks are in the queue, the first has not woken up yet. */
	CHECK_EQ(ringo_semaphore_value(&sem), 2);
	sleep0();
	ts[3] = fifo4_t4;
	CHECK(ts[3] != NULL);
	if (ts[3])
		gather_all(ts, 4);
	CHECK_STR(order_str(), "1,2,3,4");
	return 0;
}

/* ==== BarrierTests ==== */

#define N 5
static ringo_barrier barrier;
static int results1, results2, results3;

static int barrier_wait_task(void *arg, void **result)
{
	int rc = ringo_barrier_wait(arg ? arg : &barrier);
	*result = I(rc);
	return rc < 0 ? rc : 0;
}

/* Spawn n tasks running fn and gather them. */
static void gather_tasks(int n, ringo_task_fn *fn, ringo_task **out)
{
	ringo_task *ts[PORT_MAXT];
	for (int i = 0; i < n; i++)
		ts[i] = spawn(fn, NULL);
	gather_all(ts, (size_t)n);
	if (out)
		memcpy(out, ts, (size_t)n * sizeof(*ts));
}

PORT_TEST(test_barrier_parties)
{
	CHECK_EQ(ringo_barrier_init(&barrier, 0), -EINVAL);
	CHECK_EQ(ringo_barrier_init(NULL, 1), -EINVAL);
	CHECK_EQ(ringo_barrier_init(&barrier, N), 0);
	return 0;
}

/* async with barrier as i: results.append(i) */
static int bar_index(void *arg, void **result)
{
	int i = ringo_barrier_wait(&barrier);
	CHECK(i >= 0);
	reached(i);
	return 0;
}

PORT_TEST(test_barrier_context_manager)
{
	CHECK_EQ(ringo_barrier_init(&barrier, 3), 0);
	norder = 0;
	gather_tasks(3, bar_index, NULL);
	CHECK_EQ(norder, 3);
	int seen = 0;
	for (int i = 0; i < norder; i++)
		seen |= 1 << order[i];
	CHECK_EQ(seen, 7);
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 0);
	CHECK(!ringo_barrier_broken(&barrier));
	CHECK_EQ(ringo_barrier_destroy(&barrier), 0);
	return 0;
}

PORT_TEST(test_filling_one_task)
{
	CHECK_EQ(ringo_barrier_init(&barrier, 1), 0);
	CHECK_EQ(ringo_barrier_wait(&barrier), 0);
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 0);
	CHECK(!ringo_barrier_broken(&barrier));
	return 0;
}

PORT_TEST(test_filling_one_task_twice)
{
	CHECK_EQ(ringo_barrier_init(&barrier, 1), 0);
	ringo_task *t1 = spawn(barrier_wait_task, NULL);
	sleep0();
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 0);
	ringo_task *t2 = spawn(barrier_wait_task, NULL);
	sleep0();
	void *r1, *r2;
	CHECK(done(t1) && done(t2));
	CHECK_EQ(outcome(t1, &r1), 0);
	CHECK_EQ(outcome(t2, &r2), 0);
	CHECK_EQ(V(r1), V(r2));
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 0);
	CHECK(!ringo_barrier_broken(&barrier));
	return 0;
}

PORT_TEST(test_filling_task_by_task)
{
	CHECK_EQ(ringo_barrier_init(&barrier, 3), 0);
	ringo_task *t[3];
	t[0] = spawn(barrier_wait_task, NULL);
	sleep0();
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 1);
	t[1] = spawn(barrier_wait_task, NULL);
	sleep0();
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 2);
	t[2] = spawn(barrier_wait_task, NULL);
	sleep0();
	ringo_future *f[3] = {ringo_task_future(t[0]), ringo_task_future(t[1]),
			      ringo_task_future(t[2])};
	CHECK_EQ(ringo_wait(f, 3, RINGO_ALL_COMPLETED, RINGO_FOREVER, NULL), 3);
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 0);
	CHECK(!ringo_barrier_broken(&barrier));
	return 0;
}

static int bar_twice(void *arg, void **result)
{
	CHECK(ringo_barrier_wait(&barrier) >= 0);
	results1++;
	int i = ringo_barrier_wait(&barrier);
	CHECK(i >= 0);
	results2++;
	reached(i);
	return 0;
}

PORT_TEST(test_filling_tasks_wait_twice)
{
	CHECK_EQ(ringo_barrier_init(&barrier, N), 0);
	results1 = results2 = norder = 0;
	gather_tasks(N, bar_twice, NULL);
	CHECK_EQ(results1, N);
	CHECK_EQ(results2, N);
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 0);
	CHECK(!ringo_barrier_broken(&barrier));
	return 0;
}

PORT_TEST(test_filling_tasks_check_return_value)
{
	CHECK_EQ(ringo_barrier_init(&barrier, N), 0);
	results1 = results2 = norder = 0;
	gather_tasks(N, bar_twice, NULL);
	int seen = 0;
	for (int i = 0; i < norder; i++)
		seen |= 1 << order[i];
	CHECK_EQ(norder, N);
	CHECK_EQ(seen, (1 << N) - 1);
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 0);
	return 0;
}

static ringo_barrier barrier_nowaiting;
static int rewait_n;

static int bar_rewait(void *arg, void **result)
{
	CHECK(ringo_barrier_wait(&barrier) >= 0); /* first time waiting */
	if (rewait_n > 0) {
		rewait_n--;
		/* wait again only for rewait tasks */
		CHECK(ringo_barrier_wait(&barrier) >= 0);
	} else {
		/* wait for the end of the draining cstate */
		CHECK(ringo_barrier_wait(&barrier_nowaiting) >= 0);
		/* wait for the other waiting tasks */
		CHECK(ringo_barrier_wait(&barrier) >= 0);
	}
	return 0;
}

/* Success means barrier_nowaiting was waited for exactly N - rewait
 * times: tasks arriving while the barrier drains wait for the next
 * cycle. */
PORT_TEST(test_blocking_tasks_while_draining)
{
	int rewait = 2;
	CHECK_EQ(ringo_barrier_init(&barrier, N), 0);
	CHECK_EQ(ringo_barrier_init(&barrier_nowaiting, N - rewait), 0);
	rewait_n = rewait;
	ringo_task *ts[N];
	gather_tasks(N, bar_rewait, ts);
	for (int i = 0; i < N; i++)
		CHECK_EQ(outcome(ts[i], NULL), 0);
	CHECK_EQ(ringo_barrier_destroy(&barrier_nowaiting), 0);
	return 0;
}

static int bar_then_count(void *arg, void **result)
{
	int rc = ringo_barrier_wait(&barrier);
	if (rc >= 0)
		results1++;
	return rc < 0 ? rc : 0;
}

PORT_TEST(test_filling_tasks_cancel_one)
{
	CHECK_EQ(ringo_barrier_init(&barrier, 3), 0);
	results1 = 0;
	ringo_task *t1 = spawn(bar_then_count, NULL);
	sleep0();
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 1);
	ringo_task *t2 = spawn(bar_then_count, NULL);
	sleep0();
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 2);
	ringo_task_cancel(t1, NULL);
	sleep0();
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 1);
	CHECK_EQ(await_task(t1, NULL), -ECANCELED);
	CHECK(cancelled(t1));
	ringo_task *t3 = spawn(bar_then_count, NULL);
	sleep0();
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 2);
	ringo_task *t4 = spawn(bar_then_count, NULL);
	ringo_task *ts[3] = {t2, t3, t4};
	gather_all(ts, 3);
	CHECK_EQ(results1, 3);
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 0);
	CHECK(!ringo_barrier_broken(&barrier));
	return 0;
}

static int bar_reset_task(void *arg, void **result)
{
	ringo_barrier_reset(&barrier);
	return 0;
}

static int bar_abort_task(void *arg, void **result)
{
	ringo_barrier_abort(&barrier);
	return 0;
}

/* The barrier is back to filling: a full cycle passes. */
static void check_fresh_cycle(unsigned parties)
{
	ringo_task *ts[PORT_MAXT];
	for (unsigned i = 0; i < parties; i++)
		ts[i] = spawn(barrier_wait_task, NULL);
	gather_all(ts, parties);
	for (unsigned i = 0; i < parties; i++)
		CHECK_EQ(outcome(ts[i], NULL), 0);
}

PORT_TEST(test_reset_barrier)
{
	CHECK_EQ(ringo_barrier_init(&barrier, 1), 0);
	spawn(bar_reset_task, NULL);
	sleep0();
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 0);
	CHECK(!ringo_barrier_broken(&barrier));
	return 0;
}

static int bar_broken_counts(void *arg, void **result)
{
	int rc = ringo_barrier_wait(&barrier);
	if (rc == -EPIPE)
		results1++;
	return 0;
}

PORT_TEST(test_reset_barrier_while_tasks_waiting)
{
	CHECK_EQ(ringo_barrier_init(&barrier, N), 0);
	results1 = 0;
	/* N-1 tasks waiting on a barrier of N parties */
	ringo_task *ts[N - 1];
	for (int i = 0; i < N - 1; i++)
		ts[i] = spawn(bar_broken_counts, NULL);
	sleep0();
	/* reset the barrier */
	spawn(bar_reset_task, NULL);
	gather_all(ts, N - 1);
	CHECK_EQ(results1, N - 1);
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 0);
	CHECK(!ringo_barrier_broken(&barrier));
	check_fresh_cycle(N); /* not left resetting */
	return 0;
}

static int rest_of_tasks;

static int bar_half_draining(void *arg, void **result)
{
	int rc = ringo_barrier_wait(&barrier);
	if (rc == -EPIPE) {
		results1++; /* waiting tasks caught here */
	} else if (rc >= 0) {
		/* here a drained task outside the barrier */
		if ((unsigned)rest_of_tasks == barrier.count)
			ringo_barrier_reset(&barrier); /* tasks outside the barrier */
	}
	return 0;
}

PORT_TEST(test_reset_barrier_when_tasks_half_draining)
{
	CHECK_EQ(ringo_barrier_init(&barrier, N), 0);
	results1 = 0;
	rest_of_tasks = N / 2;
	gather_tasks(N, bar_half_draining, NULL);
	CHECK_EQ(results1, rest_of_tasks);
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 0);
	CHECK(!ringo_barrier_broken(&barrier));
	check_fresh_cycle(N);
	return 0;
}

static int blocking_tasks, count;

static int bar_half_draining_half_blocking(void *arg, void **result)
{
	int rc = ringo_barrier_wait(&barrier);
	if (rc == -EPIPE) {
		/* still waiting tasks caught here */
		results1++;
		/* so now waiting again to reach nb_parties */
		CHECK(ringo_barrier_wait(&barrier) >= 0);
	} else {
		count++;
		if (count > blocking_tasks) {
			/* reset now: waiting tasks get BrokenBarrierError */
			ringo_barrier_reset(&barrier);
			/* so now waiting again to reach nb_parties */
			CHECK(ringo_barrier_wait(&barrier) >= 0);
		} else {
			/* here no catch: blocked tasks go on waiting */
			if (ringo_barrier_wait(&barrier) == -EPIPE)
				results2++;
		}
	}
	return 0;
}

PORT_TEST(test_reset_barrier_when_tasks_half_draining_half_blocking)
{
	CHECK_EQ(ringo_barrier_init(&barrier, N), 0);
	results1 = results2 = count = 0;
	blocking_tasks = N / 2;
	gather_tasks(N, bar_half_draining_half_blocking, NULL);
	CHECK_EQ(results1, blocking_tasks);
	CHECK_EQ(results2, 0);
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 0);
	CHECK(!ringo_barrier_broken(&barrier));
	check_fresh_cycle(N);
	return 0;
}

static int bar_coro1(void *arg, void **result)
{
	if (ringo_barrier_wait(&barrier) == -EPIPE)
		results1++;
	/* finally: */
	CHECK(ringo_barrier_wait(&barrier) >= 0);
	results2++;
	return 0;
}

static int bar_coro2(void *arg, void **result)
{
	CHECK(ringo_barrier_wait(&barrier) >= 0);
	results2++;
	return 0;
}

PORT_TEST(test_reset_barrier_while_tasks_waiting_and_waiting_again)
{
	CHECK_EQ(ringo_barrier_init(&barrier, N), 0);
	results1 = results2 = 0;
	ringo_task *ts[N - 1];
	for (int i = 0; i < N - 1; i++)
		ts[i] = spawn(bar_coro1, NULL);
	/* reset: the N-1 waiting tasks get BrokenBarrierError */
	spawn(bar_reset_task, NULL);
	sleep0();
	/* complete the waiting tasks' second wait */
	spawn(bar_coro2, NULL);
	gather_all(ts, N - 1);
	CHECK(!ringo_barrier_broken(&barrier));
	CHECK_EQ(results1, N - 1);
	CHECK_EQ(results2, N);
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 0);
	return 0;
}

static int bar_reset_while_draining(void *arg, void **result)
{
	CHECK(ringo_barrier_wait(&barrier) >= 0);
	count++;
	if (count == N) {
		/* the last task out of the barrier resets it */
		ringo_barrier_reset(&barrier);
		/* and waits to reach the parties */
		CHECK(ringo_barrier_wait(&barrier) >= 0);
	} else {
		/* second wait: N-1 tasks get here */
		if (ringo_barrier_wait(&barrier) >= 0)
			results1++;
		else
			results2++; /* never */
	}
	/* pass the barrier again: the last wait must complete */
	CHECK(ringo_barrier_wait(&barrier) >= 0);
	results3++;
	return 0;
}

PORT_TEST(test_reset_barrier_while_tasks_draining)
{
	CHECK_EQ(ringo_barrier_init(&barrier, N), 0);
	results1 = results2 = results3 = count = 0;
	gather_tasks(N, bar_reset_while_draining, NULL);
	CHECK(!ringo_barrier_broken(&barrier));
	CHECK_EQ(results1, N - 1);
	CHECK_EQ(results2, 0);
	CHECK_EQ(results3, N);
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 0);
	return 0;
}

PORT_TEST(test_abort_barrier)
{
	CHECK_EQ(ringo_barrier_init(&barrier, 1), 0);
	spawn(bar_abort_task, NULL);
	sleep0();
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 0);
	CHECK(ringo_barrier_broken(&barrier));
	return 0;
}

static int bar_abort_half(void *arg, void **result)
{
	int rc = ringo_barrier_wait(&barrier);
	if (rc == -EPIPE) {
		results1++; /* tasks waiting to drain */
	} else {
		count++;
		if (count > blocking_tasks) {
			/* abort: BrokenBarrierError for all tasks */
			ringo_barrier_abort(&barrier);
		} else if (ringo_barrier_wait(&barrier) == -EPIPE) {
			results2++; /* blocked tasks (already drained) */
		}
	}
	return 0;
}

PORT_TEST(test_abort_barrier_when_tasks_half_draining_half_blocking)
{
	CHECK_EQ(ringo_barrier_init(&barrier, N), 0);
	results1 = results2 = count = 0;
	blocking_tasks = N / 2;
	gather_tasks(N, bar_abort_half, NULL);
	CHECK(ringo_barrier_broken(&barrier));
	CHECK_EQ(results1, blocking_tasks);
	CHECK_EQ(results2, N - blocking_tasks - 1);
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 0);
	return 0;
}

static int bar_raise_one(void *arg, void **result)
{
	int i = ringo_barrier_wait(&barrier);
	if (i == N / 2) {
		/* raise RuntimeError -> except: await barrier.abort() */
		ringo_barrier_abort(&barrier);
		return 0;
	}
	if (i == -EPIPE || ringo_barrier_wait(&barrier) == -EPIPE) {
		results2++;
		return 0;
	}
	results1++;
	return 0;
}

/* From threading.Barrier's lock_tests.test_reset. */
PORT_TEST(test_abort_barrier_when_exception)
{
	CHECK_EQ(ringo_barrier_init(&barrier, N), 0);
	results1 = results2 = 0;
	gather_tasks(N, bar_raise_one, NULL);
	CHECK(ringo_barrier_broken(&barrier));
	CHECK_EQ(results1, 0);
	CHECK_EQ(results2, N - 1);
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 0);
	return 0;
}

static ringo_barrier barrier2;

static int bar_abort_then_reset(void *arg, void **result)
{
	int i = ringo_barrier_wait(&barrier);
	if (i == N / 2) {
		ringo_barrier_abort(&barrier);
	} else if (i == -EPIPE || ringo_barrier_wait(&barrier) == -EPIPE) {
		results2++;
	} else {
		results1++;
	}
	/* Synchronize and reset the barrier. Must synchronize first so that
	 * everyone has left it when we reset, and after so that no one
	 * enters it before the reset. */
	i = ringo_barrier_wait(&barrier2);
	if (i == N / 2)
		ringo_barrier_reset(&barrier);
	CHECK(ringo_barrier_wait(&barrier2) >= 0);
	CHECK(ringo_barrier_wait(&barrier) >= 0);
	results3++;
	return 0;
}

/* From threading.Barrier's lock_tests.test_abort_and_reset. */
PORT_TEST(test_abort_barrier_when_exception_then_resetting)
{
	CHECK_EQ(ringo_barrier_init(&barrier, N), 0);
	CHECK_EQ(ringo_barrier_init(&barrier2, N), 0);
	results1 = results2 = results3 = 0;
	gather_tasks(N, bar_abort_then_reset, NULL);
	CHECK(!ringo_barrier_broken(&barrier));
	CHECK_EQ(results1, 0);
	CHECK_EQ(results2, N - 1);
	CHECK_EQ(results3, N);
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 0);
	return 0;
}

/* ==== ringo's own: timing, hand-overs under cancellation ==== */

struct lock_user {
	int64_t hold;
	ringo_task *cancel_after_release; /* cancelled right after release */
};

static int lock_user_fn(void *arg, void **result)
{
	struct lock_user *u = arg;
	int rc = ringo_lock_acquire(&lock);
	log_add(&g_log, "%s+(%d)@%lld", me(), rc, (long long)now_s());
	if (rc < 0)
		return rc;
	rc = ringo_sleep(u->hold);
	/* Released whatever happened, also when cancelled while holding. */
	CHECK_EQ(ringo_lock_release(&lock), 0);
	log_add(&g_log, "%s-(%d)", me(), rc);
	if (u->cancel_after_release)
		ringo_task_cancel(u->cancel_after_release, NULL);
	return rc;
}

static ringo_task *spawn_named(ringo_task_fn *fn, void *arg, const char *name)
{
	ringo_task *t = spawn(fn, arg);
	if (t)
		ringo_task_set_name(t, name);
	return t;
}

PORT_TEST(test_lock_is_fifo_fair)
{
	ringo_lock_init(&lock);
	struct lock_user u = {RINGO_SEC(1), NULL};
	ringo_task *ts[3] = {spawn_named(lock_user_fn, &u, "a"), spawn_named(lock_user_fn, &u, "b"),
			     spawn_named(lock_user_fn, &u, "c")};
	gather_all(ts, 3);
	CHECK_STR(g_log.buf, "a+(0)@0 a-(0) b+(0)@1 b-(0) c+(0)@2 c-(0)");
	CHECK(!ringo_lock_locked(&lock));
	CHECK_EQ(ringo_lock_destroy(&lock), 0);
	return 0;
}

PORT_TEST(test_releasing_an_unlocked_lock_is_eperm)
{
	ringo_lock_init(&lock);
	CHECK_EQ(ringo_lock_release(&lock), -EPERM);
	CHECK_EQ(ringo_lock_try_acquire(&lock), 0);
	CHECK_EQ(ringo_lock_try_acquire(&lock), -EBUSY);
	CHECK_EQ(ringo_lock_destroy(&lock), -EBUSY);
	CHECK_EQ(ringo_lock_release(&lock), 0);
	CHECK_EQ(ringo_lock_release(&lock), -EPERM);
	return 0;
}

PORT_TEST(test_cancel_while_holding_the_lock_passes_it_on)
{
	ringo_lock_init(&lock);
	struct lock_user u = {RINGO_SEC(5), NULL};
	struct lock_user v = {RINGO_SEC(1), NULL};
	ringo_task *ts[2] = {spawn_named(lock_user_fn, &u, "a"), spawn_named(lock_user_fn, &v, "b")};
	ringo_call_later(P.loop, RINGO_SEC(1), cancel_cb, ts[0], NULL);
	gather_all(ts, 2);
	CHECK_STR(g_log.buf, "a+(0)@0 a-(-125) b+(0)@1 b-(0)");
	CHECK(!ringo_lock_locked(&lock));
	return 0;
}

PORT_TEST(test_cancelled_lock_waiter_leaves_the_queue)
{
	ringo_lock_init(&lock);
	struct lock_user u = {RINGO_SEC(2), NULL};
	ringo_task *ts[3] = {spawn_named(lock_user_fn, &u, "a"), spawn_named(lock_user_fn, &u, "b"),
			     spawn_named(lock_user_fn, &u, "c")};
	ringo_call_later(P.loop, RINGO_SEC(1), cancel_cb, ts[1], NULL);
	gather_all(ts, 3);
	CHECK_STR(g_log.buf, "a+(0)@0 b+(-125)@1 a-(0) c+(0)@2 c-(0)");
	CHECK(!ringo_lock_locked(&lock));
	return 0;
}

/* a releases (b is woken), then cancels b before b runs: the lock must go
 * to c, not stay with a finished task. */
PORT_TEST(test_woken_then_cancelled_lock_waiter_passes_the_lock_on)
{
	ringo_lock_init(&lock);
	struct lock_user a_u = {RINGO_SEC(1), NULL};
	struct lock_user rest = {RINGO_SEC(1), NULL};
	ringo_task *ts[3] = {spawn_named(lock_user_fn, &a_u, "a"),
			     spawn_named(lock_user_fn, &rest, "b"),
			     spawn_named(lock_user_fn, &rest, "c")};
	a_u.cancel_after_release = ts[1];
	gather_all(ts, 3);
	CHECK_STR(g_log.buf, "a+(0)@0 a-(0) b+(-125)@1 c+(0)@1 c-(0)");
	CHECK(!ringo_lock_locked(&lock));
	CHECK_EQ(ringo_lock_destroy(&lock), 0);
	return 0;
}

/* ... and with nobody behind it the lock ends free, not held by the
 * cancelled task. */
PORT_TEST(test_woken_then_cancelled_sole_lock_waiter_leaves_it_free)
{
	ringo_lock_init(&lock);
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	ringo_task *b = spawn(lock_acquire_task, NULL);
	sleep0();
	ringo_lock_release(&lock);
	ringo_task_cancel(b, NULL);
	CHECK_EQ(await_task(b, NULL), -ECANCELED);
	CHECK(!ringo_lock_locked(&lock));
	CHECK_EQ(ringo_lock_try_acquire(&lock), 0);
	ringo_lock_release(&lock);
	CHECK_EQ(ringo_lock_destroy(&lock), 0);
	return 0;
}

/* A woken waiter that has not run yet keeps its turn: try_acquire and a
 * new acquire wait behind it, although locked() already reads false. */
static int lock_take_log(void *arg, void **result)
{
	int rc = ringo_lock_acquire(&lock);
	log_add(&g_log, "%s(%d)", (const char *)arg, rc);
	if (rc == 0)
		ringo_lock_release(&lock);
	return rc;
}

PORT_TEST(test_woken_lock_waiter_keeps_its_turn)
{
	ringo_lock_init(&lock);
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	ringo_task *b = spawn(lock_take_log, "b");
	sleep0();
	ringo_lock_release(&lock);
	CHECK(!ringo_lock_locked(&lock));
	CHECK_EQ(ringo_lock_try_acquire(&lock), -EBUSY);
	CHECK_EQ(ringo_lock_destroy(&lock), -EBUSY);
	ringo_task *c = spawn(lock_take_log, "c");
	ringo_task *ts[2] = {b, c};
	gather_all(ts, 2);
	CHECK_STR(g_log.buf, "b(0) c(0)");
	CHECK_EQ(ringo_lock_destroy(&lock), 0);
	return 0;
}

struct sem_user {
	int64_t hold;
	ringo_task *cancel_after_release;
};

static int sem_user_fn(void *arg, void **result)
{
	struct sem_user *u = arg;
	int rc = ringo_semaphore_acquire(&sem);
	log_add(&g_log, "%s+(%d)@%lld", me(), rc, (long long)now_s());
	if (rc < 0)
		return rc;
	ringo_sleep(u->hold);
	ringo_semaphore_release(&sem);
	if (u->cancel_after_release)
		ringo_task_cancel(u->cancel_after_release, NULL);
	return 0;
}

PORT_TEST(test_semaphore_admits_value_tasks_at_a_time)
{
	ringo_semaphore_init(&sem, 2);
	struct sem_user u = {RINGO_SEC(1), NULL};
	ringo_task *ts[3] = {spawn_named(sem_user_fn, &u, "a"), spawn_named(sem_user_fn, &u, "b"),
			     spawn_named(sem_user_fn, &u, "c")};
	gather_all(ts, 3);
	CHECK_STR(g_log.buf, "a+(0)@0 b+(0)@0 c+(0)@1");
	CHECK_EQ(ringo_semaphore_value(&sem), 2);
	CHECK_EQ(ringo_semaphore_destroy(&sem), 0);
	return 0;
}

PORT_TEST(test_woken_then_cancelled_semaphore_waiter_passes_the_unit_on)
{
	ringo_semaphore_init(&sem, 1);
	struct sem_user a_u = {RINGO_SEC(1), NULL};
	struct sem_user rest = {RINGO_SEC(1), NULL};
	ringo_task *ts[3] = {spawn_named(sem_user_fn, &a_u, "a"), spawn_named(sem_user_fn, &rest, "b"),
			     spawn_named(sem_user_fn, &rest, "c")};
	a_u.cancel_after_release = ts[1];
	gather_all(ts, 3);
	CHECK_STR(g_log.buf, "a+(0)@0 b+(-125)@1 c+(0)@1");
	CHECK_EQ(ringo_semaphore_value(&sem), 1);
	CHECK_EQ(ringo_semaphore_destroy(&sem), 0);
	return 0;
}

/* A bounded semaphore given a unit that its woken waiter then gives back
 * stays within its bound. */
PORT_TEST(test_bounded_semaphore_rejects_extra_release)
{
	ringo_semaphore_init_bounded(&sem, 1);
	CHECK_EQ(ringo_semaphore_release(&sem), -EOVERFLOW);
	CHECK_EQ(ringo_semaphore_try_acquire(&sem), 0);
	CHECK(ringo_semaphore_locked(&sem));
	CHECK_EQ(ringo_semaphore_try_acquire(&sem), -EBUSY);
	ringo_task *w = spawn(sem_acquire_task, NULL);
	sleep0();
	CHECK_EQ(ringo_semaphore_release(&sem), 0); /* to w */
	ringo_task_cancel(w, NULL);
	CHECK_EQ(await_task(w, NULL), -ECANCELED);
	CHECK_EQ(ringo_semaphore_value(&sem), 1);
	CHECK_EQ(ringo_semaphore_release(&sem), -EOVERFLOW);
	ringo_semaphore plain;
	ringo_semaphore_init(&plain, 0);
	CHECK_EQ(ringo_semaphore_release(&plain), 0);
	CHECK_EQ(ringo_semaphore_value(&plain), 1);
	return 0;
}

struct cond_world {
	int items;
	bool held_after;
};

static struct cond_world cw;

static bool has_items(void *arg)
{
	return cw.items > 0;
}

static int cw_consumer(void *arg, void **result)
{
	ringo_lock_acquire(&lock);
	int rc = ringo_condition_wait_for(&cond, has_items, NULL);
	if (rc == 0)
		cw.items--;
	log_add(&g_log, "%s(%d)@%lld", me(), rc, (long long)now_s());
	cw.held_after = ringo_lock_locked(&lock);
	ringo_lock_release(&lock);
	return rc;
}

static int cw_producer(void *arg, void **result)
{
	for (int i = 0; i < 2; i++) {
		ringo_sleep(RINGO_SEC(1));
		ringo_lock_acquire(&lock);
		cw.items++;
		ringo_condition_notify(&cond, 1);
		ringo_lock_release(&lock);
	}
	return 0;
}

PORT_TEST(test_condition_wait_for_predicate)
{
	cond_init();
	memset(&cw, 0, sizeof(cw));
	ringo_task *ts[3] = {spawn_named(cw_consumer, NULL, "a"), spawn_named(cw_consumer, NULL, "b"),
			     spawn_named(cw_producer, NULL, "p")};
	gather_all(ts, 3);
	CHECK_STR(g_log.buf, "a(0)@1 b(0)@2");
	CHECK_EQ(cw.items, 0);
	cond_destroy();
	return 0;
}

PORT_TEST(test_cancelled_condition_waiter_holds_the_lock_again)
{
	cond_init();
	memset(&cw, 0, sizeof(cw));
	ringo_task *a = spawn_named(cw_consumer, NULL, "a");
	ringo_call_later(P.loop, RINGO_SEC(1), cancel_cb, a, NULL);
	CHECK_EQ(await_task(a, NULL), -ECANCELED);
	CHECK_STR(g_log.buf, "a(-125)@1");
	CHECK(cw.held_after);
	CHECK(!ringo_lock_locked(&lock));
	cond_destroy();
	return 0;
}

/* asyncio: a waiter that leaves with an error (here cancelled before
 * any notify) passes one wake-up on, since it cannot know whether it had
 * consumed one; the other waiter sees a spurious wake-up. */
static int cond_wait_logged(void *arg, void **result)
{
	CHECK_EQ(ringo_lock_acquire(&lock), 0);
	int rc = ringo_condition_wait(&cond);
	log_add(&g_log, "%s(%d)", (const char *)arg, rc);
	ringo_lock_release(&lock);
	return 0;
}

PORT_TEST(test_cancelled_condition_waiter_passes_a_wakeup_on)
{
	cond_init();
	ringo_task *a = spawn(cond_wait_logged, "a");
	ringo_task *b = spawn(cond_wait_logged, "b");
	sleep0();
	ringo_task_cancel(a, NULL);
	ringo_task *ts[2] = {a, b};
	gather_all(ts, 2);
	CHECK_STR(g_log.buf, "a(-125) b(0)");
	cond_destroy();
	return 0;
}

/* A barrier party released by the last arrival but cancelled before it
 * runs reports the cancel from its wait (asyncio; before, it got its
 * index and the cancel came later); the others pass, and the barrier is
 * ready for the next cycle once it has left. */
static int barrier_wait_logged(void *arg, void **result)
{
	int rc = ringo_barrier_wait(&barrier);
	log_add(&g_log, "%s(%d)", (const char *)arg, rc);
	return 0;
}

PORT_TEST(test_released_then_cancelled_barrier_party_is_cancelled)
{
	CHECK_EQ(ringo_barrier_init(&barrier, 3), 0);
	ringo_task *a = spawn(barrier_wait_logged, "a");
	ringo_task *b = spawn(barrier_wait_logged, "b");
	sleep0();
	CHECK_EQ(ringo_barrier_wait(&barrier), 2);
	ringo_task_cancel(a, NULL);
	ringo_task *ts[2] = {a, b};
	gather_all(ts, 2);
	CHECK_STR(g_log.buf, "a(-125) b(1)");
	CHECK(!ringo_barrier_broken(&barrier));
	check_fresh_cycle(3);
	CHECK_EQ(ringo_barrier_destroy(&barrier), 0);
	return 0;
}

/* Until a cancelled party has run, it still counts (asyncio decrements
 * the count in wait()'s finally): a party arriving meanwhile trips the
 * barrier. */
PORT_TEST(test_cancelled_barrier_party_counts_until_it_runs)
{
	CHECK_EQ(ringo_barrier_init(&barrier, 3), 0);
	ringo_task *a = spawn(barrier_wait_task, NULL);
	ringo_task *b = spawn(barrier_wait_task, NULL);
	sleep0();
	ringo_task_cancel(a, NULL);
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 2);
	CHECK_EQ(ringo_barrier_wait(&barrier), 2);
	CHECK_EQ(await_task(a, NULL), -ECANCELED);
	CHECK_EQ(await_task(b, NULL), 0);
	CHECK_EQ(ringo_barrier_n_waiting(&barrier), 0);
	check_fresh_cycle(3);
	return 0;
}

/* A party arriving while the released ones drain waits for the next
 * cycle and gets index 0 there. */
PORT_TEST(test_barrier_party_arriving_while_draining_starts_the_next_cycle)
{
	CHECK_EQ(ringo_barrier_init(&barrier, 2), 0);
	ringo_task *a = spawn(barrier_wait_task, NULL);
	sleep0();
	CHECK_EQ(ringo_barrier_wait(&barrier), 1); /* a released, not yet run */
	ringo_task *c = spawn(barrier_wait_task, NULL);
	ringo_task *d = spawn(barrier_wait_task, NULL);
	ringo_task *ts[3] = {a, c, d};
	gather_all(ts, 3);
	void *va, *vc, *vd;
	CHECK_EQ(outcome(a, &va), 0);
	CHECK_EQ(outcome(c, &vc), 0);
	CHECK_EQ(outcome(d, &vd), 0);
	CHECK_EQ(V(va), 0);
	CHECK_EQ(V(vc), 0);
	CHECK_EQ(V(vd), 1);
	return 0;
}

/* ==== the sweep: lock and semaphore holders under cancellation ====
 * Tasks take a semaphore of 2 units (or the lock), hold it across a
 * yield and give it back; at iteration k one task is cancelled. A task
 * whose acquire returned 0 must release (it holds a unit); one that got
 * -ECANCELED must not. At the end every unit is free again and no two
 * lock holders ever overlapped. */

#define SWEEP_TASKS 6

static int holders, max_holders, acquired, released;
static bool use_lock;

static int sweep_worker(void *arg, void **result)
{
	for (int round = 0; round < 3; round++) {
		int rc = use_lock ? ringo_lock_acquire(&lock) : ringo_semaphore_acquire(&sem);
		if (rc < 0) {
			CHECK_EQ(rc, -ECANCELED);
			return rc;
		}
		acquired++;
		if (++holders > max_holders)
			max_holders = holders;
		int slept = ringo_sleep(0);
		holders--;
		released++;
		if (use_lock)
			CHECK_EQ(ringo_lock_release(&lock), 0);
		else
			CHECK_EQ(ringo_semaphore_release(&sem), 0);
		if (slept < 0)
			return slept;
	}
	return 0;
}

struct countdown {
	int left;
	ringo_task *victim;
};

static void countdown_cb(void *arg)
{
	struct countdown *c = arg;
	if (c->left-- > 0)
		ringo_call_soon(P.loop, countdown_cb, c, NULL);
	else
		ringo_task_cancel(c->victim, NULL);
}

static int sync_sweep_round(void *arg, void **result)
{
	int k = V(arg);
	use_lock = k % 2;
	ringo_lock_init(&lock);
	ringo_semaphore_init_bounded(&sem, 2);
	holders = max_holders = acquired = released = 0;
	ringo_task *ts[SWEEP_TASKS];
	for (int i = 0; i < SWEEP_TASKS; i++)
		ts[i] = spawn(sweep_worker, NULL);
	static struct countdown c;
	c.left = k / (2 * SWEEP_TASKS);
	c.victim = ts[(k / 2) % SWEEP_TASKS];
	ringo_call_soon(P.loop, countdown_cb, &c, NULL);
	gather_all(ts, SWEEP_TASKS);
	CHECK_EQ(acquired, released);
	CHECK_EQ(holders, 0);
	CHECK(max_holders <= (use_lock ? 1 : 2));
	CHECK(!ringo_lock_locked(&lock));
	CHECK_EQ(ringo_lock_destroy(&lock), 0);
	CHECK_EQ(ringo_semaphore_value(&sem), 2);
	CHECK_EQ(ringo_semaphore_destroy(&sem), 0);
	return 0;
}

static void test_cancel_sweep_never_loses_or_duplicates_a_unit(void **state)
{
	for (int k = 0; k < 2 * SWEEP_TASKS * 30; k++)
		port_run(sync_sweep_round, I(k));
}

/* ==== misuse ==== */

PORT_TEST(test_null_objects_are_einval)
{
	CHECK_EQ(ringo_event_wait(NULL), -EINVAL);
	CHECK_EQ(ringo_event_destroy(NULL), -EINVAL);
	ringo_event_set(NULL);
	CHECK(!ringo_event_is_set(NULL));
	CHECK_EQ(ringo_lock_acquire(NULL), -EINVAL);
	CHECK_EQ(ringo_lock_try_acquire(NULL), -EINVAL);
	CHECK_EQ(ringo_lock_release(NULL), -EINVAL);
	CHECK_EQ(ringo_lock_destroy(NULL), -EINVAL);
	CHECK_EQ(ringo_semaphore_acquire(NULL), -EINVAL);
	CHECK_EQ(ringo_semaphore_try_acquire(NULL), -EINVAL);
	CHECK_EQ(ringo_semaphore_release(NULL), -EINVAL);
	CHECK_EQ(ringo_semaphore_destroy(NULL), -EINVAL);
	CHECK_EQ(ringo_condition_wait(NULL), -EINVAL);
	CHECK_EQ(ringo_condition_notify(NULL, 1), -EINVAL);
	CHECK_EQ(ringo_condition_destroy(NULL), -EINVAL);
	CHECK_EQ(ringo_barrier_wait(NULL), -EINVAL);
	CHECK_EQ(ringo_barrier_destroy(NULL), -EINVAL);
	ringo_condition c;
	ringo_condition_init(&c, NULL);
	CHECK_EQ(ringo_condition_wait(&c), -EINVAL);
	CHECK_EQ(ringo_condition_notify_all(&c), -EINVAL);
	CHECK_EQ(ringo_condition_wait_for(&c, NULL, NULL), -EINVAL);
	return 0;
}

static void test_blocking_calls_outside_a_task_are_eperm(void **state)
{
	ringo_event e;
	ringo_event_init(&e);
	assert_int_equal(ringo_event_wait(&e), -EPERM);
	ringo_lock l;
	ringo_lock_init(&l);
	assert_int_equal(ringo_lock_acquire(&l), -EPERM);
	ringo_semaphore s;
	ringo_semaphore_init(&s, 1);
	assert_int_equal(ringo_semaphore_acquire(&s), -EPERM);
	ringo_condition c;
	ringo_condition_init(&c, &l);
	assert_int_equal(ringo_condition_wait(&c), -EPERM);
	ringo_barrier b;
	ringo_barrier_init(&b, 1);
	assert_int_equal(ringo_barrier_wait(&b), -EPERM);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		cmocka_set_test_filter(argv[1]); /* e.g. "test_acquire_*" */
	const struct CMUnitTest tests[] = {
		/* test_locks.py: LockTests */
		cmocka_unit_test(test_lock_acquire),
		cmocka_unit_test(test_lock_acquire_cancel),
		cmocka_unit_test(test_cancel_race),
		cmocka_unit_test(test_cancel_release_race),
		cmocka_unit_test(test_finished_waiter_cancelled),
		cmocka_unit_test(test_lock_release_not_acquired),
		cmocka_unit_test(test_lock_release_no_waiters),
		/* EventTests */
		cmocka_unit_test(test_event_wait),
		cmocka_unit_test(test_event_wait_on_set),
		cmocka_unit_test(test_event_wait_cancel),
		cmocka_unit_test(test_event_clear),
		cmocka_unit_test(test_event_clear_with_waiters),
		/* ConditionTests */
		cmocka_unit_test(test_condition_wait),
		cmocka_unit_test(test_condition_wait_cancel),
		cmocka_unit_test(test_wait_cancel_contested),
		cmocka_unit_test(test_wait_cancel_after_notify),
		cmocka_unit_test(test_wait_unacquired),
		cmocka_unit_test(test_wait_for),
		cmocka_unit_test(test_wait_for_unacquired),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_notify_all),
		cmocka_unit_test(test_notify_unacquired),
		cmocka_unit_test(test_notify_all_unacquired),
		cmocka_unit_test(test_timeout_in_block),
		cmocka_unit_test(test_cancelled_error_wakeup),
		cmocka_unit_test(test_cancelled_error_re_aquire),
		cmocka_unit_test(test_cancelled_wakeup),
		cmocka_unit_test(test_cancelled_wakeup_relock),
		/* SemaphoreTests */
		cmocka_unit_test(test_initial_value_zero),
		cmocka_unit_test(test_semaphore),
		cmocka_unit_test(test_semaphore_acquire),
		cmocka_unit_test(test_semaphore_acquire_cancel),
		cmocka_unit_test(test_acquire_cancel_before_awoken),
		cmocka_unit_test(test_acquire_hang),
		cmocka_unit_test(test_acquire_no_hang),
		cmocka_unit_test(test_semaphore_release_not_acquired),
		cmocka_unit_test(test_semaphore_release_no_waiters),
		cmocka_unit_test(test_acquire_fifo_order),
		cmocka_unit_test(test_acquire_fifo_order_2),
		cmocka_unit_test(test_acquire_fifo_order_3),
		cmocka_unit_test(test_acquire_fifo_order_4),
		/* BarrierTests */
		cmocka_unit_test(test_barrier_parties),
		cmocka_unit_test(test_barrier_context_manager),
		cmocka_unit_test(test_filling_one_task),
		cmocka_unit_test(test_filling_one_task_twice),
		cmocka_unit_test(test_filling_task_by_task),
		cmocka_unit_test(test_filling_tasks_wait_twice),
		cmocka_unit_test(test_filling_tasks_check_return_value),
		cmocka_unit_test(test_blocking_tasks_while_draining),
		cmocka_unit_test(test_filling_tasks_cancel_one),
		cmocka_unit_test(test_reset_barrier),
		cmocka_unit_test(test_reset_barrier_while_tasks_waiting),
		cmocka_unit_test(test_reset_barrier_when_tasks_half_draining),
		cmocka_unit_test(test_reset_barrier_when_tasks_half_draining_half_blocking),
		cmocka_unit_test(test_reset_barrier_while_tasks_waiting_and_waiting_again),
		cmocka_unit_test(test_reset_barrier_while_tasks_draining),
		cmocka_unit_test(test_abort_barrier),
		cmocka_unit_test(test_abort_barrier_when_tasks_half_draining_half_blocking),
		cmocka_unit_test(test_abort_barrier_when_exception),
		cmocka_unit_test(test_abort_barrier_when_exception_then_resetting),
		/* ringo's own */
		cmocka_unit_test(test_lock_is_fifo_fair),
		cmocka_unit_test(test_releasing_an_unlocked_lock_is_eperm),
		cmocka_unit_test(test_cancel_while_holding_the_lock_passes_it_on),
		cmocka_unit_test(test_cancelled_lock_waiter_leaves_the_queue),
		cmocka_unit_test(test_woken_then_cancelled_lock_waiter_passes_the_lock_on),
		cmocka_unit_test(test_woken_then_cancelled_sole_lock_waiter_leaves_it_free),
		cmocka_unit_test(test_woken_lock_waiter_keeps_its_turn),
		cmocka_unit_test(test_event_waiter_cancelled_after_set_reports_the_cancel),
		cmocka_unit_test(test_semaphore_admits_value_tasks_at_a_time),
		cmocka_unit_test(test_woken_then_cancelled_semaphore_waiter_passes_the_unit_on),
		cmocka_unit_test(test_bounded_semaphore_rejects_extra_release),
		cmocka_unit_test(test_condition_wait_for_predicate),
		cmocka_unit_test(test_cancelled_condition_waiter_holds_the_lock_again),
		cmocka_unit_test(test_cancelled_condition_waiter_passes_a_wakeup_on),
		cmocka_unit_test(test_released_then_cancelled_barrier_party_is_cancelled),
		cmocka_unit_test(test_cancelled_barrier_party_counts_until_it_runs),
		cmocka_unit_test(test_barrier_party_arriving_while_draining_starts_the_next_cycle),
		cmocka_unit_test(test_cancel_sweep_never_loses_or_duplicates_a_unit),
		cmocka_unit_test(test_null_objects_are_einval),
		cmocka_unit_test(test_blocking_calls_outside_a_task_are_eperm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
