/* The loop's lifecycle: create, run, stop, close, errors and failure paths. */
#include <errno.h>
#include <stdlib.h>
#include <liburing.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>

#include "support.h"

static void test_new_and_free_leaves_nothing(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	assert_false(ringo_loop_is_running(loop));
	assert_false(ringo_loop_is_closed(loop));
	test_loop_free(loop, &ca);
}

static void test_bad_options_are_einval(void **state)
{
	ringo_loop *loop = (ringo_loop *)1;
	ringo_loop_options o;
	ringo_loop_options_init(&o);
	o.flags = 1u << 30;
	assert_int_equal(ringo_loop_new(&o, &loop), -EINVAL);
	assert_null(loop);
	ringo_loop_options_init(&o);
	o.ring_entries = 1u << 20;
	assert_int_equal(ringo_loop_new(&o, &loop), -EINVAL);
	ringo_loop_options_init(&o);
	o.stack_size = 100;
	assert_int_equal(ringo_loop_new(&o, &loop), -EINVAL);
	ringo_allocator half = {0};
	ringo_loop_options_init(&o);
	o.allocator = &half;
	assert_int_equal(ringo_loop_new(&o, &loop), -EINVAL);
	assert_int_equal(ringo_loop_new(NULL, NULL), -EINVAL);
}

static void test_ring_uses_best_flags(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	unsigned f = ringo_loop_ring_flags(loop);
	/* Every kernel with io_uring has SUBMIT_ALL since 5.18; the test
	 * machine (6.x) has all four. Older kernels fall back: skip there. */
	if (!(f & IORING_SETUP_DEFER_TASKRUN)) {
		test_loop_free(loop, &ca);
		skip();
	}
	assert_true(f & IORING_SETUP_SINGLE_ISSUER);
	assert_true(f & IORING_SETUP_COOP_TASKRUN);
	assert_true(f & IORING_SETUP_SUBMIT_ALL);
	test_loop_free(loop, &ca);
}

static void test_no_setup_flags_option(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_NO_SETUP_FLAGS);
	assert_int_equal(ringo_loop_ring_flags(loop), 0);
	test_loop_free(loop, &ca);
}

struct stopper {
	ringo_loop *loop;
	struct log log;
	int n;
};

static void log_and_stop(void *arg)
{
	struct stopper *s = arg;
	log_add(&s->log, "stop%d", ++s->n);
	assert_true(ringo_loop_is_running(s->loop));
	assert_ptr_equal(ringo_loop_current(), s->loop);
	ringo_loop_stop(s->loop);
}

static void log_cb(void *arg)
{
	struct stopper *s = arg;
	log_add(&s->log, "cb%d", ++s->n);
}

static void test_stop_lets_current_batch_finish(void **state)
{
	struct counting_allocator ca;
	struct stopper s = {.loop = test_loop_new(&ca, 0)};
	assert_int_equal(ringo_call_soon(s.loop, log_and_stop, &s, NULL), 0);
	assert_int_equal(ringo_call_soon(s.loop, log_cb, &s, NULL), 0);
	assert_int_equal(ringo_loop_run_forever(s.loop), 0);
	assert_string_equal(s.log.buf, "stop1 cb2");
	assert_false(ringo_loop_is_running(s.loop));
	assert_null(ringo_loop_current());
	test_loop_free(s.loop, &ca);
}

static void schedule_then_stop(void *arg)
{
	struct stopper *s = arg;
	log_add(&s->log, "first");
	ringo_call_soon(s->loop, log_cb, s, NULL);
	ringo_loop_stop(s->loop);
}

static void test_callbacks_added_by_a_batch_run_on_the_next_run(void **state)
{
	struct counting_allocator ca;
	struct stopper s = {.loop = test_loop_new(&ca, 0)};
	ringo_call_soon(s.loop, schedule_then_stop, &s, NULL);
	assert_int_equal(ringo_loop_run_forever(s.loop), 0);
	assert_string_equal(s.log.buf, "first");
	/* stop() before run: one iteration, then return. */
	ringo_loop_stop(s.loop);
	assert_int_equal(ringo_loop_run_forever(s.loop), 0);
	assert_string_equal(s.log.buf, "first cb1");
	test_loop_free(s.loop, &ca);
}

static void test_stop_before_run_does_one_iteration(void **state)
{
	struct counting_allocator ca;
	struct stopper s = {.loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK)};
	ringo_call_soon(s.loop, log_cb, &s, NULL);
	ringo_call_later(s.loop, RINGO_SEC(10), log_cb, &s, NULL);
	assert_int_equal(ringo_loop_stop(s.loop), 0);
	assert_int_equal(ringo_loop_run_forever(s.loop), 0);
	assert_string_equal(s.log.buf, "cb1");
	assert_int_equal(ringo_loop_time_ns(s.loop), 0);
	test_loop_free(s.loop, &ca);
}

static void set_result_cb(void *arg)
{
	ringo_future_set_result(arg, (void *)(intptr_t)42);
}

static void test_run_until_complete_returns_the_result(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_future *f;
	assert_int_equal(ringo_future_new(loop, &f), 0);
	ringo_call_later(loop, RINGO_SEC(1), set_result_cb, f, NULL);
	void *v = NULL;
	assert_int_equal(ringo_loop_run_until_complete(loop, f, &v), 0);
	assert_int_equal((intptr_t)v, 42);
	assert_int_equal(ringo_loop_time_ns(loop), RINGO_SEC(1));
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void fail_cb(void *arg)
{
	ringo_future_set_error(arg, -ENOENT);
}

static void test_run_until_complete_returns_the_error(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	assert_int_equal(ringo_future_new(loop, &f), 0);
	ringo_call_soon(loop, fail_cb, f, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, f, NULL), -ENOENT);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void stop_cb(void *arg)
{
	ringo_loop_stop(arg);
}

static void test_run_until_complete_stopped_early_is_eintr(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_future *f;
	assert_int_equal(ringo_future_new(loop, &f), 0);
	ringo_call_soon(loop, stop_cb, loop, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, f, NULL), -EINTR);
	assert_false(ringo_future_done(f));
	/* The loop is reusable, and the future can still finish it. */
	ringo_call_soon(loop, set_result_cb, f, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, f, NULL), 0);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void test_run_until_complete_foreign_future_is_einval(void **state)
{
	struct counting_allocator ca, cb;
	ringo_loop *a = test_loop_new(&ca, 0);
	ringo_loop *b = test_loop_new(&cb, 0);
	ringo_future *f;
	assert_int_equal(ringo_future_new(b, &f), 0);
	assert_int_equal(ringo_loop_run_until_complete(a, f, NULL), -EINVAL);
	assert_int_equal(ringo_loop_run_until_complete(a, NULL, NULL), -EINVAL);
	ringo_future_release(f);
	test_loop_free(a, &ca);
	test_loop_free(b, &cb);
}

struct nested {
	ringo_loop *loop;
	ringo_loop *other;
	int run_self, run_other, close_self, close_other;
};

static void try_nested(void *arg)
{
	struct nested *n = arg;
	n->run_self = ringo_loop_run_forever(n->loop);
	n->run_other = ringo_loop_run_forever(n->other);
	n->close_self = ringo_loop_close(n->loop);
	n->close_other = ringo_loop_free(n->loop);
	ringo_loop_stop(n->loop);
}

static void test_running_a_loop_from_inside_is_ebusy(void **state)
{
	struct counting_allocator ca, cb;
	struct nested n = {.loop = test_loop_new(&ca, 0), .other = test_loop_new(&cb, 0)};
	ringo_call_soon(n.loop, try_nested, &n, NULL);
	assert_int_equal(ringo_loop_run_forever(n.loop), 0);
	assert_int_equal(n.run_self, -EBUSY);
	assert_int_equal(n.run_other, -EBUSY);
	assert_int_equal(n.close_self, -EBUSY);
	assert_int_equal(n.close_other, -EBUSY);
	assert_false(ringo_loop_is_closed(n.loop));
	test_loop_free(n.loop, &ca);
	test_loop_free(n.other, &cb);
}

static void never_runs(void *arg)
{
	fail_msg("a callback of a closed loop ran");
}

static void done_never_runs(ringo_future *f, void *arg)
{
	fail_msg("a done callback of a closed loop ran");
}

static void done_stop(ringo_future *f, void *arg)
{
	ringo_loop_stop(arg);
}

static void test_closed_loop_refuses_work(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	assert_int_equal(ringo_future_new(loop, &f), 0);
	assert_int_equal(ringo_call_soon(loop, never_runs, NULL, NULL), 0);
	assert_int_equal(ringo_future_add_done_callback(f, done_never_runs, NULL), 0);
	assert_int_equal(ringo_loop_close(loop), 0);
	assert_int_equal(ringo_loop_close(loop), 0); /* idempotent */
	assert_true(ringo_loop_is_closed(loop));
	assert_int_equal(ringo_call_soon(loop, never_runs, NULL, NULL), -ESHUTDOWN);
	assert_int_equal(ringo_call_later(loop, 1, never_runs, NULL, NULL), -ESHUTDOWN);
	assert_int_equal(ringo_call_at(loop, 1, never_runs, NULL, NULL), -ESHUTDOWN);
	assert_int_equal(ringo_loop_run_forever(loop), -ESHUTDOWN);
	assert_int_equal(ringo_loop_run_until_complete(loop, f, NULL), -ESHUTDOWN);
	assert_int_equal(ringo_loop_stop(loop), -ESHUTDOWN);
	ringo_future *g = (ringo_future *)1;
	assert_int_equal(ringo_future_new(loop, &g), -ESHUTDOWN);
	assert_null(g);
	/* A future held across close stays usable as an object. */
	assert_false(ringo_future_done(f));
	assert_int_equal(ringo_future_set_result(f, NULL), 0);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static void test_close_drops_pending_timers_and_callbacks(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	for (int i = 0; i < 10000; i++) {
		assert_int_equal(ringo_call_soon(loop, never_runs, NULL, NULL), 0);
		assert_int_equal(ringo_call_later(loop, RINGO_SEC(100 + i), never_runs, NULL, NULL), 0);
	}
	test_loop_free(loop, &ca);
}

static void test_time_is_monotonic_and_virtual_starts_at_zero(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	int64_t a = ringo_loop_time_ns(loop);
	int64_t b = ringo_loop_time_ns(loop);
	assert_true(a > 0 && b >= a);
	assert_true(ringo_loop_time(loop) > 0.0);
	test_loop_free(loop, &ca);
	loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	assert_int_equal(ringo_loop_time_ns(loop), 0);
	test_loop_free(loop, &ca);
}

static void test_real_clock_timer_sleeps_in_the_kernel(void **state)
{
	struct counting_allocator ca;
	struct stopper s = {.loop = test_loop_new(&ca, 0)};
	int64_t t0 = ringo_loop_time_ns(s.loop);
	ringo_call_later(s.loop, RINGO_MSEC(20), log_and_stop, &s, NULL);
	assert_int_equal(ringo_loop_run_forever(s.loop), 0);
	/* Not a timing threshold: only that the timer did not fire early. */
	assert_true(ringo_loop_time_ns(s.loop) - t0 >= RINGO_MSEC(20));
	assert_string_equal(s.log.buf, "stop1");
	test_loop_free(s.loop, &ca);
}

static void test_allocation_failure_in_new_leaks_nothing(void **state)
{
	struct counting_allocator ca;
	counting_allocator_init(&ca);
	ca.fail_at = 1;
	ringo_loop_options o;
	ringo_loop_options_init(&o);
	o.allocator = &ca.iface;
	ringo_loop *loop = NULL;
	assert_int_equal(ringo_loop_new(&o, &loop), -ENOMEM);
	assert_null(loop);
	assert_int_equal(ca.live_blocks, 0);
}

/* A scenario run with the Nth allocation failing, for every N until it
 * passes with no failure: each step either works or says -ENOMEM, and the
 * loop stays consistent and leak-free either way. */
static int oom_scenario(long fail_at, int *ran)
{
	struct counting_allocator ca;
	counting_allocator_init(&ca);
	ca.fail_at = fail_at;
	ringo_loop_options o;
	ringo_loop_options_init(&o);
	o.allocator = &ca.iface;
	o.flags = RINGO_LOOP_VIRTUAL_CLOCK;
	ringo_loop *loop = NULL;
	int err = ringo_loop_new(&o, &loop);
	if (err < 0) {
		assert_int_equal(err, -ENOMEM);
		assert_int_equal(ca.live_blocks, 0);
		return err;
	}
	int failures = 0;
	ringo_future *f = NULL;
	if (ringo_future_new(loop, &f) < 0)
		failures++;
	for (int i = 0; i < 5000; i++) {
		err = ringo_call_later(loop, i % 7, never_runs, NULL, NULL);
		if (err < 0) {
			assert_int_equal(err, -ENOMEM);
			failures++;
		}
	}
	if (f && ringo_future_add_done_callback(f, done_stop, loop) < 0)
		failures++;
	(void)ran;
	if (f)
		ringo_future_release(f);
	assert_int_equal(ringo_loop_free(loop), 0);
	assert_int_equal(ca.live_blocks, 0);
	return failures ? -ENOMEM : 0;
}

static void test_allocation_failure_anywhere_is_enomem_and_leak_free(void **state)
{
	int ran = 0;
	long n;
	for (n = 1; n < 200; n++)
		if (oom_scenario(n, &ran) == 0)
			break;
	assert_true(n > 1);
	assert_int_equal(oom_scenario(0, &ran), 0);
}

static void test_ring_that_cannot_be_created_is_reported(void **state)
{
	/* With no file descriptors left, io_uring_setup fails with EMFILE. */
	struct rlimit old, none;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	none = old;
	none.rlim_cur = 3;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &none), 0);
	struct counting_allocator ca;
	counting_allocator_init(&ca);
	ringo_loop_options o;
	ringo_loop_options_init(&o);
	o.allocator = &ca.iface;
	ringo_loop *loop = NULL;
	int err = ringo_loop_new(&o, &loop);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(err, -EMFILE);
	assert_null(loop);
	assert_int_equal(ca.live_blocks, 0);
	assert_string_equal(ringo_strerror(err), "Too many open files");
}

static void *run_from_thread(void *arg)
{
	return (void *)(intptr_t)ringo_loop_run_forever(arg);
}

static void test_loop_created_on_one_thread_runs_on_another_but_stays_there(void **state)
{
	struct counting_allocator ca;
	struct stopper s = {.loop = test_loop_new(&ca, 0)};
	ringo_call_soon(s.loop, log_and_stop, &s, NULL);
	pthread_t t;
	void *ret;
	assert_int_equal(pthread_create(&t, NULL, run_from_thread, s.loop), 0);
	pthread_join(t, &ret);
	assert_int_equal((intptr_t)ret, 0);
	assert_string_equal(s.log.buf, "stop1");
	/* It now belongs to that thread. */
	assert_int_equal(ringo_loop_run_forever(s.loop), -EPERM);
	test_loop_free(s.loop, &ca);
}

static void test_strerror_and_version(void **state)
{
	assert_string_equal(ringo_strerror(-EINPROGRESS), "future is not done yet");
	assert_string_equal(ringo_strerror(-ESHUTDOWN), "event loop is closed");
	assert_string_equal(ringo_strerror(-ENOTDIR), "Not a directory");
	/* getaddrinfo's EAI_NONAME comes back as -ENOENT: its text says so. */
	assert_string_equal(ringo_strerror(-ENOENT), "no such file, directory or host name");
	assert_string_equal(ringo_strerror(-EXDEV), "called from a thread that does not own the event loop");
	assert_string_equal(ringo_strerror(-ENOBUFS), "no room: the queue is full, or no provided buffer is left");
	assert_non_null(ringo_strerror(-99999));
	assert_non_null(ringo_strerror(5));
	char want[32];
	snprintf(want, sizeof(want), "%d.%d.%d", RINGO_VERSION_MAJOR, RINGO_VERSION_MINOR,
		 RINGO_VERSION_PATCH);
	assert_string_equal(ringo_version(), want);
	assert_true(ringo_version_check(RINGO_VERSION_MAJOR, 0));
	assert_false(ringo_version_check(RINGO_VERSION_MAJOR + 1, 0));
}

static void test_null_arguments_are_einval(void **state)
{
	assert_int_equal(ringo_loop_run_forever(NULL), -EINVAL);
	assert_int_equal(ringo_loop_stop(NULL), -EINVAL);
	assert_int_equal(ringo_loop_close(NULL), -EINVAL);
	assert_int_equal(ringo_loop_free(NULL), 0);
	assert_false(ringo_loop_is_running(NULL));
	assert_false(ringo_loop_is_closed(NULL));
	assert_int_equal(ringo_call_soon(NULL, log_cb, NULL, NULL), -EINVAL);
	assert_int_equal(ringo_call_later(NULL, 0, log_cb, NULL, NULL), -EINVAL);
}

/* ---- ported from CPython's test_base_events.py / test_events.py ---- */

static int stops_then_sleeps(void *arg, void **result)
{
	ringo_loop_stop(ringo_loop_current());
	return ringo_sleep(RINGO_MSEC(100));
}

static void test_run_until_complete_stopped(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_task *t;
	ringo_spawn(loop, stops_then_sleeps, NULL, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), -EINTR);
	assert_false(ringo_future_done(ringo_task_future(t)));
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void test_run_until_complete_loop_orphan_future_close_loop(void **state)
{
	/* run_until_complete stopped early must take its done callback off
	 * the future: a later run on another future is not stopped by it. */
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_future *f1, *f2;
	ringo_future_new(loop, &f1);
	ringo_future_new(loop, &f2);
	ringo_call_soon(loop, stop_cb, loop, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, f1, NULL), -EINTR);
	char buf[64];
	assert_string_equal(ringo_future_repr(f1, buf, sizeof(buf)), "<Future pending>");
	ringo_future_set_result(f1, NULL); /* completes with nothing attached */
	ringo_call_later(loop, RINGO_MSEC(200), set_result_cb, f2, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, f2, NULL), 0);
	assert_int_equal(ringo_loop_time_ns(loop), RINGO_MSEC(200));
	ringo_future_release(f1);
	ringo_future_release(f2);
	test_loop_free(loop, &ca);
}

static int fails_at_once(void *arg, void **result)
{
	return -EINTR;
}

static bool func_called;

static void func_stops(void *arg)
{
	func_called = true;
	ringo_loop_stop(arg);
}

static void schedule_func(void *arg)
{
	ringo_call_soon(arg, func_stops, arg, NULL);
}

static void test_run_until_complete_baseexception(void **state)
{
	/* A failed run_until_complete leaves no stop behind: the next
	 * run_forever runs until func() stops it, one iteration later. */
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	ringo_spawn(loop, fails_at_once, NULL, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), -EINTR);
	func_called = false;
	ringo_call_soon(loop, schedule_func, loop, NULL);
	assert_int_equal(ringo_loop_run_forever(loop), 0);
	assert_true(func_called);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void count_cb(void *arg)
{
	(*(int *)arg)++;
}

static void test_run_once(void **state)
{
	/* The idiom: call_soon(loop.stop); run_forever() runs one iteration. */
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	int count = 0;
	ringo_call_soon(loop, count_cb, &count, NULL);
	ringo_call_soon(loop, stop_cb, loop, NULL);
	assert_int_equal(ringo_loop_run_forever(loop), 0);
	assert_int_equal(count, 1);
	test_loop_free(loop, &ca);
}

static int nests(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	assert_true(ringo_loop_is_running(loop));
	ringo_future *f;
	ringo_future_new(loop, &f);
	int rc = ringo_loop_run_until_complete(loop, f, NULL);
	ringo_future_release(f);
	return rc;
}

static void test_run_until_complete_nesting(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	ringo_spawn(loop, nests, NULL, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), -EBUSY);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void test_close(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	assert_false(ringo_loop_is_closed(loop));
	assert_int_equal(ringo_loop_close(loop), 0);
	assert_true(ringo_loop_is_closed(loop));
	/* More than once is fine. */
	assert_int_equal(ringo_loop_close(loop), 0);
	assert_int_equal(ringo_loop_close(loop), 0);
	assert_int_equal(ringo_loop_run_forever(loop), -ESHUTDOWN);
	ringo_future *f;
	assert_int_equal(ringo_future_new(loop, &f), -ESHUTDOWN);
	test_loop_free(loop, &ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_and_free_leaves_nothing),
		cmocka_unit_test(test_bad_options_are_einval),
		cmocka_unit_test(test_ring_uses_best_flags),
		cmocka_unit_test(test_no_setup_flags_option),
		cmocka_unit_test(test_stop_lets_current_batch_finish),
		cmocka_unit_test(test_callbacks_added_by_a_batch_run_on_the_next_run),
		cmocka_unit_test(test_stop_before_run_does_one_iteration),
		cmocka_unit_test(test_run_until_complete_returns_the_result),
		cmocka_unit_test(test_run_until_complete_returns_the_error),
		cmocka_unit_test(test_run_until_complete_stopped_early_is_eintr),
		cmocka_unit_test(test_run_until_complete_foreign_future_is_einval),
		cmocka_unit_test(test_running_a_loop_from_inside_is_ebusy),
		cmocka_unit_test(test_closed_loop_refuses_work),
		cmocka_unit_test(test_close_drops_pending_timers_and_callbacks),
		cmocka_unit_test(test_time_is_monotonic_and_virtual_starts_at_zero),
		cmocka_unit_test(test_real_clock_timer_sleeps_in_the_kernel),
		cmocka_unit_test(test_allocation_failure_in_new_leaks_nothing),
		cmocka_unit_test(test_allocation_failure_anywhere_is_enomem_and_leak_free),
		cmocka_unit_test(test_ring_that_cannot_be_created_is_reported),
		cmocka_unit_test(test_loop_created_on_one_thread_runs_on_another_but_stays_there),
		cmocka_unit_test(test_strerror_and_version),
		cmocka_unit_test(test_null_arguments_are_einval),
		cmocka_unit_test(test_run_until_complete_stopped),
		cmocka_unit_test(test_run_until_complete_loop_orphan_future_close_loop),
		cmocka_unit_test(test_run_until_complete_baseexception),
		cmocka_unit_test(test_run_once),
		cmocka_unit_test(test_run_until_complete_nesting),
		cmocka_unit_test(test_close),
	};
	/* RINGO_TEST_FILTER=pattern runs only the matching tests. */
	if (getenv("RINGO_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RINGO_TEST_FILTER"));
	return cmocka_run_group_tests_name("loop", tests, NULL, NULL);
}
