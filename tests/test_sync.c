/* Event, Lock, Semaphore, Condition, Barrier. */
#include <errno.h>
#include <string.h>

#include "support.h"

static struct log g_log;

static int64_t now_s(void)
{
	return ringo_loop_time_ns(ringo_loop_current()) / RINGO_SEC(1);
}

static void cancel_cb(void *arg)
{
	ringo_task_cancel(arg, NULL);
}

#define MAXT 4
struct world {
	ringo_loop *loop;
	struct counting_allocator ca;
	ringo_task *t[MAXT];
	size_t n;
};

static void world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	w->loop = test_loop_new(&w->ca, RINGO_LOOP_VIRTUAL_CLOCK);
	log_reset(&g_log);
}

static ringo_task *world_spawn(struct world *w, ringo_task_fn *fn, void *arg, const char *name)
{
	ringo_task_options o = {.name = name};
	assert_int_equal(ringo_spawn(w->loop, fn, arg, &o, &w->t[w->n]), 0);
	return w->t[w->n++];
}

/* Run every task to its end, release them, check for leaks. */
static void world_finish(struct world *w)
{
	for (size_t i = 0; i < w->n; i++) {
		ringo_loop_run_until_complete(w->loop, ringo_task_future(w->t[i]), NULL);
		ringo_task_release(w->t[i]);
	}
	test_loop_free(w->loop, &w->ca);
}

static const char *me(void)
{
	return ringo_task_name(ringo_current_task());
}

/* ---- Event ---- */

static int event_waiter(void *arg, void **result)
{
	int rc = ringo_event_wait(arg);
	log_add(&g_log, "%s(%d)@%lld", me(), rc, (long long)now_s());
	return rc;
}

static void set_event(void *arg)
{
	ringo_event_set(arg);
}

static void test_event_set_wakes_every_waiter(void **state)
{
	struct world w;
	world_init(&w);
	ringo_event e;
	ringo_event_init(&e);
	world_spawn(&w, event_waiter, &e, "a");
	world_spawn(&w, event_waiter, &e, "b");
	ringo_call_later(w.loop, RINGO_SEC(1), set_event, &e, NULL);
	world_spawn(&w, event_waiter, &e, "c");
	ringo_call_later(w.loop, RINGO_MSEC(500), cancel_cb, w.t[2], NULL);
	world_finish(&w);
	assert_string_equal(g_log.buf, "c(-125)@0 a(0)@1 b(0)@1");
	assert_true(ringo_event_is_set(&e));
	assert_int_equal(ringo_event_destroy(&e), 0);
}

static int event_wait_set(void *arg, void **result)
{
	ringo_event *e = arg;
	ringo_event_set(e);
	assert_int_equal(ringo_event_wait(e), 0); /* no suspension */
	ringo_event_clear(e);
	assert_false(ringo_event_is_set(e));
	return 0;
}

static void test_event_already_set_returns_at_once(void **state)
{
	struct world w;
	world_init(&w);
	ringo_event e;
	ringo_event_init(&e);
	world_spawn(&w, event_wait_set, &e, "a");
	world_finish(&w);
	assert_int_equal(ringo_event_wait(&e), -EPERM);
}

/* ---- Lock ---- */

struct lock_user {
	ringo_lock *lock;
	int64_t hold;
	ringo_task *cancel_after_release; /* cancelled right after release */
};

static int lock_user_fn(void *arg, void **result)
{
	struct lock_user *u = arg;
	int rc = ringo_lock_acquire(u->lock);
	log_add(&g_log, "%s+(%d)@%lld", me(), rc, (long long)now_s());
	if (rc < 0)
		return rc;
	rc = ringo_sleep(u->hold);
	/* Released whatever happened, also when cancelled while holding. */
	assert_int_equal(ringo_lock_release(u->lock), 0);
	log_add(&g_log, "%s-(%d)", me(), rc);
	if (u->cancel_after_release)
		ringo_task_cancel(u->cancel_after_release, NULL);
	return rc;
}

static void test_lock_is_fifo_fair(void **state)
{
	struct world w;
	world_init(&w);
	ringo_lock l;
	ringo_lock_init(&l);
	struct lock_user u = {&l, RINGO_SEC(1), NULL};
	world_spawn(&w, lock_user_fn, &u, "a");
	world_spawn(&w, lock_user_fn, &u, "b");
	world_spawn(&w, lock_user_fn, &u, "c");
	world_finish(&w);
	assert_string_equal(g_log.buf, "a+(0)@0 a-(0) b+(0)@1 b-(0) c+(0)@2 c-(0)");
	assert_false(ringo_lock_locked(&l));
	assert_int_equal(ringo_lock_destroy(&l), 0);
}

static void test_releasing_an_unlocked_lock_is_eperm(void **state)
{
	ringo_lock l;
	ringo_lock_init(&l);
	assert_int_equal(ringo_lock_release(&l), -EPERM);
	assert_int_equal(ringo_lock_try_acquire(&l), 0);
	assert_int_equal(ringo_lock_try_acquire(&l), -EBUSY);
	assert_int_equal(ringo_lock_destroy(&l), -EBUSY);
	assert_int_equal(ringo_lock_release(&l), 0);
	assert_int_equal(ringo_lock_release(&l), -EPERM);
}

static void test_cancel_while_holding_the_lock_passes_it_on(void **state)
{
	struct world w;
	world_init(&w);
	ringo_lock l;
	ringo_lock_init(&l);
	struct lock_user u = {&l, RINGO_SEC(5), NULL};
	struct lock_user v = {&l, RINGO_SEC(1), NULL};
	ringo_task *a = world_spawn(&w, lock_user_fn, &u, "a");
	world_spawn(&w, lock_user_fn, &v, "b");
	ringo_call_later(w.loop, RINGO_SEC(1), cancel_cb, a, NULL);
	world_finish(&w);
	assert_string_equal(g_log.buf, "a+(0)@0 a-(-125) b+(0)@1 b-(0)");
	assert_false(ringo_lock_locked(&l));
}

static void test_cancelled_lock_waiter_leaves_the_queue(void **state)
{
	struct world w;
	world_init(&w);
	ringo_lock l;
	ringo_lock_init(&l);
	struct lock_user u = {&l, RINGO_SEC(2), NULL};
	world_spawn(&w, lock_user_fn, &u, "a");
	ringo_task *b = world_spawn(&w, lock_user_fn, &u, "b");
	world_spawn(&w, lock_user_fn, &u, "c");
	ringo_call_later(w.loop, RINGO_SEC(1), cancel_cb, b, NULL);
	world_finish(&w);
	assert_string_equal(g_log.buf, "a+(0)@0 b+(-125)@1 a-(0) c+(0)@2 c-(0)");
	assert_false(ringo_lock_locked(&l));
}

static void test_woken_then_cancelled_lock_waiter_passes_the_lock_on(void **state)
{
	struct world w;
	world_init(&w);
	ringo_lock l;
	ringo_lock_init(&l);
	struct lock_user a_u = {&l, RINGO_SEC(1), NULL};
	struct lock_user rest = {&l, RINGO_SEC(1), NULL};
	world_spawn(&w, lock_user_fn, &a_u, "a");
	ringo_task *b = world_spawn(&w, lock_user_fn, &rest, "b");
	world_spawn(&w, lock_user_fn, &rest, "c");
	/* a releases (b is handed the lock and queued to run), then cancels b
	 * before b runs: b must give the lock to c. */
	a_u.cancel_after_release = b;
	world_finish(&w);
	assert_string_equal(g_log.buf, "a+(0)@0 a-(0) b+(-125)@1 c+(0)@1 c-(0)");
	assert_false(ringo_lock_locked(&l));
}

/* ---- Semaphore ---- */

struct sem_user {
	ringo_semaphore *s;
	int64_t hold;
	ringo_task *cancel_after_release;
};

static int sem_user_fn(void *arg, void **result)
{
	struct sem_user *u = arg;
	int rc = ringo_semaphore_acquire(u->s);
	log_add(&g_log, "%s+(%d)@%lld", me(), rc, (long long)now_s());
	if (rc < 0)
		return rc;
	ringo_sleep(u->hold);
	ringo_semaphore_release(u->s);
	if (u->cancel_after_release)
		ringo_task_cancel(u->cancel_after_release, NULL);
	return 0;
}

static void test_semaphore_admits_value_tasks_at_a_time(void **state)
{
	struct world w;
	world_init(&w);
	ringo_semaphore s;
	ringo_semaphore_init(&s, 2);
	struct sem_user u = {&s, RINGO_SEC(1), NULL};
	world_spawn(&w, sem_user_fn, &u, "a");
	world_spawn(&w, sem_user_fn, &u, "b");
	world_spawn(&w, sem_user_fn, &u, "c");
	world_finish(&w);
	assert_string_equal(g_log.buf, "a+(0)@0 b+(0)@0 c+(0)@1");
	assert_int_equal(ringo_semaphore_value(&s), 2);
	assert_int_equal(ringo_semaphore_destroy(&s), 0);
}

static void test_woken_then_cancelled_semaphore_waiter_passes_the_unit_on(void **state)
{
	struct world w;
	world_init(&w);
	ringo_semaphore s;
	ringo_semaphore_init(&s, 1);
	struct sem_user a_u = {&s, RINGO_SEC(1), NULL};
	struct sem_user rest = {&s, RINGO_SEC(1), NULL};
	world_spawn(&w, sem_user_fn, &a_u, "a");
	ringo_task *b = world_spawn(&w, sem_user_fn, &rest, "b");
	world_spawn(&w, sem_user_fn, &rest, "c");
	a_u.cancel_after_release = b;
	world_finish(&w);
	assert_string_equal(g_log.buf, "a+(0)@0 b+(-125)@1 c+(0)@1");
	assert_int_equal(ringo_semaphore_value(&s), 1);
}

static void test_bounded_semaphore_rejects_extra_release(void **state)
{
	ringo_semaphore s;
	ringo_bounded_semaphore_init(&s, 1);
	assert_int_equal(ringo_semaphore_release(&s), -EOVERFLOW);
	assert_int_equal(ringo_semaphore_try_acquire(&s), 0);
	assert_true(ringo_semaphore_locked(&s));
	assert_int_equal(ringo_semaphore_try_acquire(&s), -EBUSY);
	assert_int_equal(ringo_semaphore_release(&s), 0);
	assert_int_equal(ringo_semaphore_release(&s), -EOVERFLOW);
	ringo_semaphore plain;
	ringo_semaphore_init(&plain, 0);
	assert_int_equal(ringo_semaphore_release(&plain), 0);
	assert_int_equal(ringo_semaphore_value(&plain), 1);
}

/* ---- Condition ---- */

struct cond_world {
	ringo_lock lock;
	ringo_condition cond;
	int items;
	bool held_after_cancel;
};

static bool has_items(void *arg)
{
	return ((struct cond_world *)arg)->items > 0;
}

static int consumer(void *arg, void **result)
{
	struct cond_world *c = arg;
	ringo_lock_acquire(&c->lock);
	int rc = ringo_condition_wait_for(&c->cond, has_items, c);
	if (rc == 0)
		c->items--;
	log_add(&g_log, "%s(%d)@%lld", me(), rc, (long long)now_s());
	c->held_after_cancel = ringo_lock_locked(&c->lock);
	ringo_lock_release(&c->lock);
	return rc;
}

static int producer(void *arg, void **result)
{
	struct cond_world *c = arg;
	for (int i = 0; i < 2; i++) {
		ringo_sleep(RINGO_SEC(1));
		ringo_lock_acquire(&c->lock);
		c->items++;
		ringo_condition_notify(&c->cond, 1);
		ringo_lock_release(&c->lock);
	}
	return 0;
}

static void test_condition_wait_for_predicate(void **state)
{
	struct world w;
	world_init(&w);
	struct cond_world c = {0};
	ringo_lock_init(&c.lock);
	ringo_condition_init(&c.cond, &c.lock);
	world_spawn(&w, consumer, &c, "a");
	world_spawn(&w, consumer, &c, "b");
	world_spawn(&w, producer, &c, "p");
	world_finish(&w);
	assert_string_equal(g_log.buf, "a(0)@1 b(0)@2");
	assert_int_equal(c.items, 0);
	assert_int_equal(ringo_condition_destroy(&c.cond), 0);
}

static void test_cancelled_condition_waiter_holds_the_lock_again(void **state)
{
	struct world w;
	world_init(&w);
	struct cond_world c = {0};
	ringo_lock_init(&c.lock);
	ringo_condition_init(&c.cond, &c.lock);
	ringo_task *a = world_spawn(&w, consumer, &c, "a");
	ringo_call_later(w.loop, RINGO_SEC(1), cancel_cb, a, NULL);
	world_finish(&w);
	assert_string_equal(g_log.buf, "a(-125)@1");
	assert_true(c.held_after_cancel);
	assert_false(ringo_lock_locked(&c.lock));
}

static void test_notify_without_the_lock_is_eperm(void **state)
{
	ringo_lock l;
	ringo_condition c;
	ringo_lock_init(&l);
	ringo_condition_init(&c, &l);
	assert_int_equal(ringo_condition_notify(&c, 1), -EPERM);
	assert_int_equal(ringo_condition_notify_all(&c), -EPERM);
}

/* ---- Barrier ---- */

static int barrier_party(void *arg, void **result)
{
	int rc = ringo_barrier_wait(arg);
	log_add(&g_log, "%s(%d)@%lld", me(), rc, (long long)now_s());
	return rc < 0 ? rc : 0;
}

static int late_party(void *arg, void **result)
{
	ringo_sleep(RINGO_SEC(1));
	return barrier_party(arg, result);
}

static void test_barrier_releases_when_all_parties_arrive(void **state)
{
	struct world w;
	world_init(&w);
	ringo_barrier b;
	assert_int_equal(ringo_barrier_init(&b, 3), 0);
	world_spawn(&w, barrier_party, &b, "a");
	world_spawn(&w, barrier_party, &b, "b");
	world_spawn(&w, late_party, &b, "c");
	world_finish(&w);
	assert_string_equal(g_log.buf, "c(2)@1 a(0)@1 b(1)@1");
	assert_int_equal(ringo_barrier_n_waiting(&b), 0);
	assert_int_equal(ringo_barrier_destroy(&b), 0);
	assert_int_equal(ringo_barrier_init(&b, 0), -EINVAL);
}

static void abort_cb(void *arg)
{
	ringo_barrier_abort(arg);
}

static void test_barrier_abort_breaks_waiters(void **state)
{
	struct world w;
	world_init(&w);
	ringo_barrier b;
	ringo_barrier_init(&b, 3);
	world_spawn(&w, barrier_party, &b, "a");
	ringo_call_later(w.loop, RINGO_SEC(1), abort_cb, &b, NULL);
	world_spawn(&w, late_party, &b, "c");
	world_finish(&w);
	assert_string_equal(g_log.buf, "a(-32)@1 c(-32)@1");
	assert_true(ringo_barrier_broken(&b));
}

static void test_cancelled_barrier_waiter_leaves_the_count(void **state)
{
	struct world w;
	world_init(&w);
	ringo_barrier b;
	ringo_barrier_init(&b, 2);
	ringo_task *a = world_spawn(&w, barrier_party, &b, "a");
	ringo_call_later(w.loop, RINGO_MSEC(500), cancel_cb, a, NULL);
	world_spawn(&w, late_party, &b, "c");
	world_spawn(&w, late_party, &b, "d");
	world_finish(&w);
	assert_string_equal(g_log.buf, "a(-125)@0 d(1)@1 c(0)@1");
	assert_false(ringo_barrier_broken(&b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_set_wakes_every_waiter),
		cmocka_unit_test(test_event_already_set_returns_at_once),
		cmocka_unit_test(test_lock_is_fifo_fair),
		cmocka_unit_test(test_releasing_an_unlocked_lock_is_eperm),
		cmocka_unit_test(test_cancel_while_holding_the_lock_passes_it_on),
		cmocka_unit_test(test_cancelled_lock_waiter_leaves_the_queue),
		cmocka_unit_test(test_woken_then_cancelled_lock_waiter_passes_the_lock_on),
		cmocka_unit_test(test_semaphore_admits_value_tasks_at_a_time),
		cmocka_unit_test(test_woken_then_cancelled_semaphore_waiter_passes_the_unit_on),
		cmocka_unit_test(test_bounded_semaphore_rejects_extra_release),
		cmocka_unit_test(test_condition_wait_for_predicate),
		cmocka_unit_test(test_cancelled_condition_waiter_holds_the_lock_again),
		cmocka_unit_test(test_notify_without_the_lock_is_eperm),
		cmocka_unit_test(test_barrier_releases_when_all_parties_arrive),
		cmocka_unit_test(test_barrier_abort_breaks_waiters),
		cmocka_unit_test(test_cancelled_barrier_waiter_leaves_the_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
