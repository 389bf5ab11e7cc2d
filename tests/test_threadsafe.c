/* Thread-safe entry points: call_soon_threadsafe, spawn_threadsafe and its
 * thread-side future, and the debug foreign-thread check. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>

#include "support.h"

struct producer {
	ringo_loop *loop;
	int n;
	atomic_int *count;
};

static void count_cb(void *arg)
{
	struct producer *p = arg;
	atomic_fetch_add(p->count, 1);
}

static void *produce(void *arg)
{
	struct producer *p = arg;
	for (int i = 0; i < p->n; i++)
		assert_int_equal(ringo_call_soon_threadsafe(p->loop, count_cb, p), 0);
	return NULL;
}

static void stop_cb(void *arg)
{
	ringo_loop_stop(arg);
}

static void test_posts_before_the_loop_runs_are_kept(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	atomic_int count;
	atomic_init(&count, 0);
	struct producer p = {loop, 100, &count};
	pthread_t th;
	pthread_create(&th, NULL, produce, &p);
	pthread_join(th, NULL);
	assert_int_equal(ringo_call_soon_threadsafe(loop, stop_cb, loop), 0);
	assert_int_equal(ringo_loop_run_forever(loop), 0);
	assert_int_equal(atomic_load(&count), 100);
	test_loop_free(loop, &ca);
}

/* Run the loop on this thread until stopped, then close it here: only
 * the loop's own thread may cancel what it has in flight. */
static void *run_loop(void *arg)
{
	ringo_loop_run_forever(arg);
	ringo_loop_close(arg);
	return NULL;
}

static void test_two_producers_into_a_running_loop_lose_nothing(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	atomic_int count;
	atomic_init(&count, 0);
	pthread_t lt, a, b;
	pthread_create(&lt, NULL, run_loop, loop);
	struct producer p = {loop, 20000, &count};
	pthread_create(&a, NULL, produce, &p);
	pthread_create(&b, NULL, produce, &p);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	/* FIFO per producer: the stop comes after everything this thread saw. */
	assert_int_equal(ringo_call_soon_threadsafe(loop, stop_cb, loop), 0);
	pthread_join(lt, NULL);
	assert_int_equal(atomic_load(&count), 40000);
	test_loop_free(loop, &ca);
}

static void test_post_to_a_closed_loop_is_eshutdown(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	assert_int_equal(ringo_call_soon_threadsafe(NULL, stop_cb, NULL), -EINVAL);
	assert_int_equal(ringo_call_soon_threadsafe(loop, stop_cb, loop), 0);
	assert_int_equal(ringo_loop_close(loop), 0);
	assert_int_equal(ringo_call_soon_threadsafe(loop, stop_cb, loop), -ESHUTDOWN);
	ringo_tsfuture *f;
	assert_int_equal(ringo_spawn_threadsafe(loop, NULL, NULL, &f), -EINVAL);
	test_loop_free(loop, &ca);
}

static int slow_double(void *arg, void **result)
{
	int rc = ringo_sleep(RINGO_MSEC(1));
	*result = (void *)((intptr_t)arg * 2);
	return rc;
}

static void test_spawn_threadsafe_result_blocks_until_done(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	pthread_t lt;
	pthread_create(&lt, NULL, run_loop, loop);
	ringo_tsfuture *f;
	assert_int_equal(ringo_spawn_threadsafe(loop, slow_double, (void *)21, &f), 0);
	void *v = NULL;
	assert_int_equal(ringo_tsfuture_result(f, -1, &v), 0);
	assert_int_equal((intptr_t)v, 42);
	assert_true(ringo_tsfuture_done(f));
	assert_false(ringo_tsfuture_cancel(f));
	ringo_tsfuture_release(f);
	ringo_call_soon_threadsafe(loop, stop_cb, loop);
	pthread_join(lt, NULL);
	test_loop_free(loop, &ca);
}

/* A task that sleeps until cancelled; started lets the test cancel only
 * once it runs (a tsfuture cancelled before its task starts never runs
 * it at all). */
struct sleeper {
	sem_t started;
	atomic_int cancelled;
};

static void sleeper_init(struct sleeper *sl)
{
	sem_init(&sl->started, 0, 0);
	atomic_init(&sl->cancelled, 0);
}

static int sleeps_long(void *arg, void **result)
{
	struct sleeper *sl = arg;
	sem_post(&sl->started);
	int rc = ringo_sleep(RINGO_SEC(3600));
	if (rc == -ECANCELED)
		atomic_store(&sl->cancelled, 1);
	return rc;
}

static void test_result_times_out_and_cancel_cancels_the_task(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	pthread_t lt;
	pthread_create(&lt, NULL, run_loop, loop);
	struct sleeper sl;
	sleeper_init(&sl);
	ringo_tsfuture *f;
	assert_int_equal(ringo_spawn_threadsafe(loop, sleeps_long, &sl, &f), 0);
	sem_wait(&sl.started);
	assert_int_equal(ringo_tsfuture_result(f, 0, NULL), -ETIMEDOUT);
	assert_int_equal(ringo_tsfuture_result(f, RINGO_MSEC(5), NULL), -ETIMEDOUT);
	assert_true(ringo_tsfuture_cancel(f));
	assert_int_equal(ringo_tsfuture_result(f, -1, NULL), -ECANCELED);
	ringo_tsfuture_release(f);
	/* The cancel is posted before the stop: it reaches the task first. */
	ringo_call_soon_threadsafe(loop, stop_cb, loop);
	pthread_join(lt, NULL);
	ringo_loop_run_until_complete(loop, NULL, NULL); /* -EINVAL: no-op */
	test_loop_free(loop, &ca);
	assert_int_equal(atomic_load(&sl.cancelled), 1);
}

static int fails_einval(void *arg, void **result)
{
	return -EBADMSG;
}

static void test_spawn_threadsafe_delivers_the_task_error(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_tsfuture *f;
	assert_int_equal(ringo_spawn_threadsafe(loop, fails_einval, NULL, &f), 0);
	/* The loop has not run yet on this thread: waiting would deadlock
	 * only if this thread were running it; poll instead. */
	assert_int_equal(ringo_tsfuture_result(f, 0, NULL), -ETIMEDOUT);
	ringo_call_soon_threadsafe(loop, stop_cb, loop);
	ringo_loop_run_forever(loop);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop); /* one iteration: the task's done callback */
	assert_int_equal(ringo_tsfuture_result(f, -1, NULL), -EBADMSG);
	ringo_tsfuture_release(f);
	test_loop_free(loop, &ca);
}

static void test_loop_closing_first_cancels_the_thread_side_future(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct sleeper sl;
	sleeper_init(&sl);
	ringo_tsfuture *started, *queued;
	assert_int_equal(ringo_spawn_threadsafe(loop, sleeps_long, &sl, &started), 0);
	ringo_call_soon_threadsafe(loop, stop_cb, loop);
	ringo_loop_run_forever(loop); /* spawned and sleeping */
	assert_int_equal(ringo_spawn_threadsafe(loop, sleeps_long, &sl, &queued), 0);
	test_loop_free(loop, &ca);
	assert_int_equal(ringo_tsfuture_result(started, -1, NULL), -ECANCELED);
	assert_int_equal(ringo_tsfuture_result(queued, -1, NULL), -ESHUTDOWN);
	ringo_tsfuture_release(started);
	ringo_tsfuture_release(queued);
}

static void *call_soon_from_here(void *arg)
{
	return (void *)(intptr_t)ringo_call_soon(arg, stop_cb, arg, NULL);
}

static void test_foreign_thread_is_refused_with_check_thread(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_CHECK_THREAD);
	ringo_loop_stop(loop);
	assert_int_equal(ringo_loop_run_forever(loop), 0); /* this thread owns it */
	pthread_t th;
	void *rc;
	pthread_create(&th, NULL, call_soon_from_here, loop);
	pthread_join(th, &rc);
	assert_int_equal((intptr_t)rc, -EXDEV);
	assert_int_equal(ringo_call_soon(loop, stop_cb, loop, NULL), 0);
	test_loop_free(loop, &ca);
}

/* ---- call_soon_threadsafe's order (CPython test_events.py) ---- */

struct order {
	ringo_loop *loop;
	struct log log;
	int want;            /* stop after this many entries */
	int seen;
};

struct tagged {
	struct order *o;
	const char *tag;
};

static void log_cb(void *arg)
{
	struct tagged *t = arg;
	log_add(&t->o->log, "%s", t->tag);
	if (++t->o->seen == t->o->want)
		ringo_loop_stop(t->o->loop);
}

/* test_call_soon_threadsafe_same_thread */
static void test_call_soon_threadsafe_then_call_soon_from_one_thread_run_in_order(void **state)
{
	struct counting_allocator ca;
	struct order o = {.loop = test_loop_new(&ca, 0), .want = 2};
	log_reset(&o.log);
	struct tagged hello = {&o, "hello"}, world = {&o, "world"};
	assert_int_equal(ringo_call_soon_threadsafe(o.loop, log_cb, &hello), 0);
	assert_int_equal(ringo_call_soon(o.loop, log_cb, &world, NULL), 0);
	assert_int_equal(ringo_loop_run_forever(o.loop), 0);
	assert_string_equal(o.log.buf, "hello world");
	test_loop_free(o.loop, &ca);
}

static void *post_hello(void *arg)
{
	struct tagged *t = arg;
	assert_int_equal(ringo_call_soon_threadsafe(t->o->loop, log_cb, t), 0);
	return NULL;
}

/* test_call_soon_threadsafe: the post happens before the call_soon (the
 * thread is joined first), so it runs first. */
static void test_a_post_from_a_joined_thread_runs_before_a_later_call_soon(void **state)
{
	struct counting_allocator ca;
	struct order o = {.loop = test_loop_new(&ca, 0), .want = 2};
	log_reset(&o.log);
	struct tagged hello = {&o, "hello"}, world = {&o, "world"};
	pthread_t th;
	pthread_create(&th, NULL, post_hello, &hello);
	pthread_join(th, NULL);
	assert_int_equal(ringo_call_soon(o.loop, log_cb, &world, NULL), 0);
	assert_int_equal(ringo_loop_run_forever(o.loop), 0);
	assert_string_equal(o.log.buf, "hello world");
	test_loop_free(o.loop, &ca);
}

struct in_loop {
	struct order o;
	struct tagged a, b, c, d;
};

static void post_three(void *arg)
{
	struct in_loop *l = arg;
	assert_int_equal(ringo_call_soon_threadsafe(l->o.loop, log_cb, &l->a), 0);
	assert_int_equal(ringo_call_soon(l->o.loop, log_cb, &l->b, NULL), 0);
	assert_int_equal(ringo_call_soon_threadsafe(l->o.loop, log_cb, &l->c), 0);
	pthread_t th;
	pthread_create(&th, NULL, post_hello, &l->d);
	pthread_join(th, NULL); /* blocks the loop a moment: fine for a test */
	assert_int_equal(ringo_call_soon(l->o.loop, log_cb, &l->b, NULL), 0);
}

static void test_posts_and_call_soons_of_a_running_loop_keep_their_order(void **state)
{
	struct counting_allocator ca;
	struct in_loop l = {.o = {.loop = test_loop_new(&ca, 0), .want = 5}};
	log_reset(&l.o.log);
	l.a = (struct tagged){&l.o, "a"};
	l.b = (struct tagged){&l.o, "b"};
	l.c = (struct tagged){&l.o, "c"};
	l.d = (struct tagged){&l.o, "d"};
	assert_int_equal(ringo_call_soon(l.o.loop, post_three, &l, NULL), 0);
	assert_int_equal(ringo_loop_run_forever(l.o.loop), 0);
	assert_string_equal(l.o.log.buf, "a b c d b");
	test_loop_free(l.o.loop, &ca);
}

/* Producers post while the loop runs; after each post a producer
 * publishes its number. A loop callback that reads number k and then
 * call_soons a check must find post k already run. */
#define ORDERED_POSTS 20000

struct hb {
	ringo_loop *loop;
	atomic_int posted;   /* release-stored after each post returns */
	int ran;             /* loop thread: posts run so far */
	int k;               /* loop thread: posted, as last read */
	int checks, bad;
};

static void hb_count(void *arg)
{
	((struct hb *)arg)->ran++;
}

static void hb_check(void *arg);

static void *hb_produce(void *arg)
{
	struct hb *h = arg;
	for (int i = 1; i <= ORDERED_POSTS; i++) {
		while (ringo_call_soon_threadsafe(h->loop, hb_count, h) < 0)
			;
		atomic_store_explicit(&h->posted, i, memory_order_release);
	}
	return NULL;
}

static void hb_verify(void *arg)
{
	struct hb *h = arg;
	h->checks++;
	if (h->ran < h->k)
		h->bad++;
	if (h->k == ORDERED_POSTS)
		ringo_loop_stop(h->loop);
	else
		ringo_call_soon(h->loop, hb_check, h, NULL);
}

/* Read how far the producer got, then queue the check behind it. */
static void hb_check(void *arg)
{
	struct hb *h = arg;
	h->k = atomic_load_explicit(&h->posted, memory_order_acquire);
	ringo_call_soon(h->loop, hb_verify, h, NULL);
}

static void test_a_call_soon_never_overtakes_a_post_that_happened_before_it(void **state)
{
	struct counting_allocator ca;
	struct hb h = {.loop = test_loop_new(&ca, 0)};
	atomic_init(&h.posted, 0);
	pthread_t th;
	pthread_create(&th, NULL, hb_produce, &h);
	assert_int_equal(ringo_call_soon(h.loop, hb_check, &h, NULL), 0);
	assert_int_equal(ringo_loop_run_forever(h.loop), 0);
	pthread_join(th, NULL);
	assert_true(h.checks > 0);
	assert_int_equal(h.bad, 0);
	test_loop_free(h.loop, &ca);
}

/* ---- run_coroutine_threadsafe (CPython test_tasks.py) ---- */

struct target {
	ringo_loop *loop;
	bool fail, cancel;
	int64_t timeout_ns;
};

/* add(1, 2) after a short sleep; may fail or cancel itself. */
static int add(void *arg, void **result)
{
	struct target *t = arg;
	int rc = ringo_sleep(RINGO_MSEC(1));
	if (rc < 0)
		return rc;
	if (t->fail)
		return -EIO;
	if (t->cancel) {
		ringo_task_cancel(ringo_task_current(), NULL);
		rc = ringo_sleep(0);
		if (rc < 0)
			return rc;
	}
	*result = (void *)(intptr_t)3;
	return 0;
}

/* Runs on an executor worker: submit add() to the loop and wait. */
static int target(void *arg, void **result)
{
	struct target *t = arg;
	ringo_tsfuture *f;
	int rc = ringo_spawn_threadsafe(t->loop, add, t, &f);
	if (rc < 0)
		return rc;
	rc = ringo_tsfuture_result(f, t->timeout_ns, result);
	if (!ringo_tsfuture_done(f))
		ringo_tsfuture_cancel(f);
	ringo_tsfuture_release(f);
	return rc;
}

static int run_target(ringo_loop *loop, struct target *t, void **v)
{
	t->loop = loop;
	ringo_future *f;
	assert_int_equal(ringo_run_in_executor(loop, NULL, target, t, &f), 0);
	int rc = ringo_loop_run_until_complete(loop, f, v);
	ringo_future_release(f);
	return rc;
}

static void test_run_coroutine_threadsafe(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct target t = {.timeout_ns = -1};
	void *v = NULL;
	assert_int_equal(run_target(loop, &t, &v), 0);
	assert_int_equal((intptr_t)v, 3);
	test_loop_free(loop, &ca);
}

static void test_run_coroutine_threadsafe_with_exception(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct target t = {.timeout_ns = -1, .fail = true};
	assert_int_equal(run_target(loop, &t, NULL), -EIO);
	test_loop_free(loop, &ca);
}

static void test_run_coroutine_threadsafe_with_timeout(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct target t = {.timeout_ns = 0};
	assert_int_equal(run_target(loop, &t, NULL), -ETIMEDOUT);
	/* add was cancelled (or never started): no task is left. */
	for (int i = 0; i < 10000 && ringo_loop_tasks(loop, NULL, 0) > 0; i++) {
		ringo_call_soon(loop, stop_cb, loop, NULL);
		ringo_loop_run_forever(loop);
	}
	assert_int_equal(ringo_loop_tasks(loop, NULL, 0), 0);
	test_loop_free(loop, &ca);
}

static void test_run_coroutine_threadsafe_task_cancelled(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct target t = {.timeout_ns = -1, .cancel = true};
	assert_int_equal(run_target(loop, &t, NULL), -ECANCELED);
	test_loop_free(loop, &ca);
}

struct deadlock {
	ringo_loop *loop;
	int rc;
};

static void wait_on_own_loop(void *arg)
{
	struct deadlock *d = arg;
	ringo_tsfuture *f;
	assert_int_equal(ringo_spawn_threadsafe(d->loop, slow_double, (void *)1, &f), 0);
	d->rc = ringo_tsfuture_result(f, -1, NULL);
	ringo_tsfuture_release(f);
	ringo_loop_stop(d->loop);
}

static void test_waiting_on_the_loops_own_thread_is_edeadlk(void **state)
{
	struct counting_allocator ca;
	struct deadlock d = {.loop = test_loop_new(&ca, 0)};
	ringo_call_soon(d.loop, wait_on_own_loop, &d, NULL);
	assert_int_equal(ringo_loop_run_forever(d.loop), 0);
	assert_int_equal(d.rc, -EDEADLK);
	test_loop_free(d.loop, &ca); /* the task is cancelled at close */
}

/* ---- cancelling a tsfuture (issue 10) ---- */

struct cleanup {
	sem_t started;
	atomic_int cleaned;  /* written by the task after it took the cancel */
};

static int cleans_up_after_cancel(void *arg, void **result)
{
	struct cleanup *c = arg;
	sem_post(&c->started);
	int rc = ringo_sleep(RINGO_SEC(3600));
	if (rc != -ECANCELED)
		return -EBADMSG;
	/* Still using arg after the cancel, as a real task would. */
	rc = ringo_sleep(RINGO_MSEC(2));
	atomic_store(&c->cleaned, 1);
	*result = (void *)(intptr_t)7;
	return rc;
}

static void test_tsfuture_cancel_completes_only_when_the_task_is_done(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	pthread_t lt;
	pthread_create(&lt, NULL, run_loop, loop);
	struct cleanup c;
	sem_init(&c.started, 0, 0);
	atomic_init(&c.cleaned, 0);
	ringo_tsfuture *f;
	assert_int_equal(ringo_spawn_threadsafe(loop, cleans_up_after_cancel, &c, &f), 0);
	sem_wait(&c.started);
	assert_int_equal(ringo_tsfuture_result(f, 0, NULL), -ETIMEDOUT);
	assert_true(ringo_tsfuture_cancel(f));
	/* The task has not even seen the cancel yet: still pending. */
	assert_false(ringo_tsfuture_done(f));
	assert_true(ringo_tsfuture_cancel(f)); /* pending: requested again */
	void *v = NULL;
	/* It finished anyway (it took the cancel and went on): its outcome
	 * is the tsfuture's, and once done, arg is no longer in use. */
	assert_int_equal(ringo_tsfuture_result(f, -1, &v), 0);
	assert_int_equal((intptr_t)v, 7);
	assert_int_equal(atomic_load(&c.cleaned), 1);
	assert_false(ringo_tsfuture_cancel(f));
	ringo_tsfuture_release(f);
	ringo_call_soon_threadsafe(loop, stop_cb, loop);
	pthread_join(lt, NULL);
	test_loop_free(loop, &ca);
}

static int must_not_run(void *arg, void **result)
{
	atomic_store((atomic_int *)arg, 1);
	return 0;
}

static void test_tsfuture_cancelled_before_its_task_starts_never_runs_it(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	atomic_int ran;
	atomic_init(&ran, 0);
	ringo_tsfuture *f;
	assert_int_equal(ringo_spawn_threadsafe(loop, must_not_run, &ran, &f), 0);
	assert_true(ringo_tsfuture_cancel(f));
	ringo_call_soon_threadsafe(loop, stop_cb, loop);
	ringo_loop_run_forever(loop);
	assert_int_equal(ringo_tsfuture_result(f, -1, NULL), -ECANCELED);
	ringo_tsfuture_release(f);
	test_loop_free(loop, &ca);
	assert_int_equal(atomic_load(&ran), 0);
}

static int wait_on_tsfuture(void *arg, void **result)
{
	return ringo_tsfuture_result(arg, -1, result);
}

/* An executor job blocked on a tsfuture of the same loop, the tsfuture's
 * state made first: close (whose hooks run newest first) must complete
 * the tsfuture before it waits for the worker, or it waits forever. */
static void test_close_completes_a_tsfuture_a_worker_waits_on(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct sleeper sl;
	sleeper_init(&sl);
	ringo_tsfuture *f;
	assert_int_equal(ringo_spawn_threadsafe(loop, sleeps_long, &sl, &f), 0);
	ringo_call_soon_threadsafe(loop, stop_cb, loop);
	ringo_loop_run_forever(loop);
	sem_wait(&sl.started);
	ringo_future *job;
	assert_int_equal(ringo_run_in_executor(loop, NULL, wait_on_tsfuture, f, &job), 0);
	assert_int_equal(ringo_loop_close(loop), 0);
	assert_int_equal(ringo_future_result(job, NULL), -ECANCELED);
	assert_int_equal(ringo_tsfuture_result(f, 0, NULL), -ECANCELED);
	ringo_future_release(job);
	ringo_tsfuture_release(f);
	test_loop_free(loop, &ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_posts_before_the_loop_runs_are_kept),
		cmocka_unit_test(test_two_producers_into_a_running_loop_lose_nothing),
		cmocka_unit_test(test_post_to_a_closed_loop_is_eshutdown),
		cmocka_unit_test(test_spawn_threadsafe_result_blocks_until_done),
		cmocka_unit_test(test_result_times_out_and_cancel_cancels_the_task),
		cmocka_unit_test(test_spawn_threadsafe_delivers_the_task_error),
		cmocka_unit_test(test_loop_closing_first_cancels_the_thread_side_future),
		cmocka_unit_test(test_foreign_thread_is_refused_with_check_thread),
		cmocka_unit_test(test_call_soon_threadsafe_then_call_soon_from_one_thread_run_in_order),
		cmocka_unit_test(test_a_post_from_a_joined_thread_runs_before_a_later_call_soon),
		cmocka_unit_test(test_posts_and_call_soons_of_a_running_loop_keep_their_order),
		cmocka_unit_test(test_a_call_soon_never_overtakes_a_post_that_happened_before_it),
		cmocka_unit_test(test_run_coroutine_threadsafe),
		cmocka_unit_test(test_run_coroutine_threadsafe_with_exception),
		cmocka_unit_test(test_run_coroutine_threadsafe_with_timeout),
		cmocka_unit_test(test_run_coroutine_threadsafe_task_cancelled),
		cmocka_unit_test(test_waiting_on_the_loops_own_thread_is_edeadlk),
		cmocka_unit_test(test_tsfuture_cancel_completes_only_when_the_task_is_done),
		cmocka_unit_test(test_tsfuture_cancelled_before_its_task_starts_never_runs_it),
		cmocka_unit_test(test_close_completes_a_tsfuture_a_worker_waits_on),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
