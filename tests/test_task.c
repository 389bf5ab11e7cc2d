/* Tasks: spawning, sleeping, awaiting, cancellation, introspection, run. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "support.h"
#include "task_internal.h" /* a task's stack, for the compact class */

static struct log g_log;

struct say_arg {
	const char *what;
	int64_t delay;
	int rc;
};

static int sayer(void *arg, void **result)
{
	struct say_arg *a = arg;
	log_add(&g_log, "%s-start", a->what);
	a->rc = ringo_sleep(a->delay);
	log_add(&g_log, "%s-end(%d)", a->what, a->rc);
	*result = (void *)a->what;
	return a->rc;
}

static void log_cb(void *arg)
{
	log_add(&g_log, "%s", (const char *)arg);
}

static void test_spawned_task_runs_after_earlier_callbacks(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	log_reset(&g_log);
	struct say_arg a = {"t", 0, 0};
	ringo_call_soon(loop, log_cb, "cb1", NULL);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, sayer, &a, NULL, &t), 0);
	ringo_call_soon(loop, log_cb, "cb2", NULL);
	assert_int_equal(ringo_task_state(t), RINGO_TASK_PENDING);
	void *v;
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), &v), 0);
	assert_string_equal(v, "t");
	/* sleep(0) yields exactly one iteration: cb2 runs in between. */
	assert_string_equal(g_log.buf, "cb1 t-start cb2 t-end(0)");
	assert_int_equal(ringo_task_state(t), RINGO_TASK_DONE);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void test_sleeps_interleave_on_virtual_time(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	log_reset(&g_log);
	struct say_arg a = {"a", RINGO_SEC(2), 0}, b = {"b", RINGO_SEC(1), 0};
	ringo_task *ta, *tb;
	ringo_spawn(loop, sayer, &a, NULL, &ta);
	ringo_spawn(loop, sayer, &b, NULL, &tb);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(ta), NULL), 0);
	assert_string_equal(g_log.buf, "a-start b-start b-end(0) a-end(0)");
	assert_int_equal(ringo_loop_time_ns(loop), RINGO_SEC(2));
	ringo_task_release(ta);
	ringo_task_release(tb);
	test_loop_free(loop, &ca);
}

static int yielder(void *arg, void **result)
{
	for (int i = 0; i < 3; i++) {
		log_add(&g_log, "%s%d", (char *)arg, i);
		int rc = ringo_sleep(0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void test_sleep_zero_round_robins(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	log_reset(&g_log);
	ringo_task *a, *b;
	ringo_spawn(loop, yielder, "a", NULL, &a);
	ringo_spawn(loop, yielder, "b", NULL, &b);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(b), NULL), 0);
	assert_string_equal(g_log.buf, "a0 b0 a1 b1 a2 b2");
	ringo_task_release(a);
	ringo_task_release(b);
	test_loop_free(loop, &ca);
}

/* Tasks that only yield to each other hand over directly, batch after
 * batch, without going back to the scheduler (task.c switch_out, loop.c
 * ringo__loop_turn_inline). Whatever the loop iteration would have done
 * between two batches must still happen: a due timer, an I/O completion,
 * a call from another thread, a stop. Each test below ends only if it
 * does (the yielders spin until a flag is set). */
static volatile int spin_stop;

static int spin_yielder(void *arg, void **result)
{
	long *turns = arg;
	while (!spin_stop) {
		int rc = ringo_sleep(0);
		if (rc < 0)
			return rc;
		(*turns)++;
	}
	return 0;
}

static void set_spin_stop(void *arg)
{
	spin_stop = 1;
}

static void run_two_spinners(ringo_loop *loop, ringo_task *t[2], long turns[2])
{
	turns[0] = turns[1] = 0;
	assert_int_equal(ringo_spawn(loop, spin_yielder, &turns[0], NULL, &t[0]), 0);
	assert_int_equal(ringo_spawn(loop, spin_yielder, &turns[1], NULL, &t[1]), 0);
}

static void finish_spinners(ringo_loop *loop, ringo_task *t[2], long turns[2])
{
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t[1]), NULL), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t[0]), NULL), 0);
	/* Round robin: neither ran more than one turn ahead of the other. */
	assert_true(turns[0] - turns[1] <= 1 && turns[1] - turns[0] <= 1);
	ringo_task_release(t[0]);
	ringo_task_release(t[1]);
}

static void test_yielding_tasks_let_a_timer_fire(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t[2];
	long turns[2];
	spin_stop = 0;
	run_two_spinners(loop, t, turns);
	assert_int_equal(ringo_call_later(loop, RINGO_MSEC(1), set_spin_stop, NULL, NULL), 0);
	finish_spinners(loop, t, turns);
	test_loop_free(loop, &ca);
}

/* A lone task yielding: the next batch starts with the task itself. */
static void test_a_lone_yielding_task_carries_on_and_lets_a_timer_fire(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	long turns = 0;
	spin_stop = 0;
	assert_int_equal(ringo_spawn(loop, spin_yielder, &turns, NULL, &t), 0);
	assert_int_equal(ringo_call_later(loop, RINGO_MSEC(1), set_spin_stop, NULL, NULL), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	assert_true(turns > 0);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int pipe_reader(void *arg, void **result)
{
	int fd = *(int *)arg;
	char c;
	int rc = ringo_read(fd, &c, 1, -1);
	spin_stop = 1;
	return rc == 1 ? 0 : rc;
}

static void test_yielding_tasks_let_io_complete(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	ringo_task *t[2], *r;
	long turns[2];
	spin_stop = 0;
	run_two_spinners(loop, t, turns);
	assert_int_equal(ringo_spawn(loop, pipe_reader, &p[0], NULL, &r), 0);
	finish_spinners(loop, t, turns);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(r), NULL), 0);
	ringo_task_release(r);
	close(p[0]);
	close(p[1]);
	test_loop_free(loop, &ca);
}

static void *post_stop(void *arg)
{
	ringo_call_soon_threadsafe(arg, set_spin_stop, NULL);
	return NULL;
}

static void test_yielding_tasks_let_a_threadsafe_call_run(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t[2];
	long turns[2];
	spin_stop = 0;
	run_two_spinners(loop, t, turns);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, post_stop, loop), 0);
	finish_spinners(loop, t, turns);
	pthread_join(th, NULL);
	test_loop_free(loop, &ca);
}

static void stop_cb(void *arg)
{
	ringo_loop_stop(arg);
}

static void test_yielding_tasks_let_the_loop_stop(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t[2];
	long turns[2];
	spin_stop = 0;
	run_two_spinners(loop, t, turns);
	assert_int_equal(ringo_call_later(loop, RINGO_MSEC(1), stop_cb, loop, NULL), 0);
	assert_int_equal(ringo_loop_run_forever(loop), 0);
	assert_false(ringo_future_done(ringo_task_future(t[0])) || ringo_future_done(ringo_task_future(t[1])));
	spin_stop = 1;
	finish_spinners(loop, t, turns);
	test_loop_free(loop, &ca);
}

static int failer(void *arg, void **result)
{
	ringo_sleep(0);
	return -EPIPE;
}

static void test_task_error_is_its_outcome(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	ringo_spawn(loop, failer, NULL, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), -EPIPE);
	assert_int_equal(ringo_future_error(ringo_task_future(t)), -EPIPE);
	assert_false(ringo_future_cancelled(ringo_task_future(t)));
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void set_soon(void *arg)
{
	ringo_future_set_result(arg, (void *)"ready");
}

struct awaiter {
	ringo_future *fut;
	int rc;
	void *value;
};

static int await_body(void *arg, void **result)
{
	struct awaiter *w = arg;
	w->rc = ringo_await(w->fut, &w->value);
	return w->rc;
}

static void test_await_future_set_by_callback(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	struct awaiter w = {0};
	ringo_future_new(loop, &w.fut);
	ringo_task *t;
	ringo_spawn(loop, await_body, &w, NULL, &t);
	ringo_call_later(loop, RINGO_SEC(1), set_soon, w.fut, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	assert_int_equal(w.rc, 0);
	assert_string_equal(w.value, "ready");
	assert_int_equal(ringo_loop_time_ns(loop), RINGO_SEC(1));
	ringo_future_release(w.fut);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int returns_15(void *arg, void **result)
{
	ringo_sleep(RINGO_SEC(3));
	*result = (void *)(intptr_t)15;
	return 0;
}

static void test_await_another_task(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_task *inner, *outer;
	ringo_spawn(loop, returns_15, NULL, NULL, &inner);
	struct awaiter w = {.fut = ringo_task_future(inner)};
	ringo_spawn(loop, await_body, &w, NULL, &outer);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(outer), NULL), 0);
	assert_int_equal((intptr_t)w.value, 15);
	ringo_task_release(inner);
	ringo_task_release(outer);
	test_loop_free(loop, &ca);
}

static int await_self(void *arg, void **result)
{
	*(int *)arg = ringo_await(ringo_task_future(ringo_task_current()), NULL);
	return 0;
}

static void test_suspending_outside_a_task_and_awaiting_self_are_errors(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	assert_int_equal(ringo_sleep(1), -EPERM);
	ringo_future *f;
	ringo_future_new(loop, &f);
	assert_int_equal(ringo_await(f, NULL), -EPERM);
	assert_null(ringo_task_current());
	int rc = 0;
	ringo_task *t;
	ringo_spawn(loop, await_self, &rc, NULL, &t);
	ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL);
	assert_int_equal(rc, -EDEADLK);
	ringo_future_release(f);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int stubborn(void *arg, void **result)
{
	struct say_arg *a = arg;
	a->rc = ringo_sleep(RINGO_SEC(10));
	/* Handle the cancellation and carry on. */
	ringo_task_uncancel(ringo_task_current());
	int again = ringo_sleep(RINGO_SEC(1));
	*result = (void *)"survived";
	return again;
}

static void cancel_cb(void *arg)
{
	assert_true(ringo_task_cancel(arg, "stop it"));
}

static void test_cancel_interrupts_a_sleep_and_the_task_may_carry_on(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	struct say_arg a = {0};
	ringo_task *t;
	ringo_spawn(loop, stubborn, &a, NULL, &t);
	ringo_call_later(loop, RINGO_SEC(1), cancel_cb, t, NULL);
	void *v;
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), &v), 0);
	assert_int_equal(a.rc, -ECANCELED);
	assert_string_equal(v, "survived");
	assert_int_equal(ringo_loop_time_ns(loop), RINGO_SEC(2));
	assert_int_equal(ringo_task_cancelling(t), 0);
	assert_false(ringo_task_cancel(t, NULL)); /* done: false */
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void test_cancelled_task_reports_its_message(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	log_reset(&g_log);
	struct say_arg a = {"s", RINGO_SEC(5), 0};
	ringo_task *t;
	ringo_spawn(loop, sayer, &a, NULL, &t);
	ringo_call_later(loop, RINGO_SEC(1), cancel_cb, t, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	assert_true(ringo_future_cancelled(ringo_task_future(t)));
	assert_string_equal(ringo_future_cancel_message(ringo_task_future(t)), "stop it");
	assert_int_equal(ringo_task_cancelling(t), 1);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int must_not_run(void *arg, void **result)
{
	fail_msg("the body of a task cancelled before its first step ran");
	return 0;
}

static void test_task_cancelled_before_first_step_never_runs(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	ringo_spawn(loop, must_not_run, NULL, NULL, &t);
	assert_true(ringo_task_cancel(t, "early"));
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	assert_string_equal(ringo_future_cancel_message(ringo_task_future(t)), "early");
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int self_canceller(void *arg, void **result)
{
	ringo_task_cancel(ringo_task_current(), NULL);
	log_add(&g_log, "still-running");
	int rc = ringo_sleep(0);
	log_add(&g_log, "sleep=%d", rc);
	return rc;
}

static void test_self_cancel_is_delivered_at_next_suspension(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	log_reset(&g_log);
	ringo_task *t;
	ringo_spawn(loop, self_canceller, NULL, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	char want[64];
	snprintf(want, sizeof(want), "still-running sleep=%d", -ECANCELED);
	assert_string_equal(g_log.buf, want);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

struct wake_then_cancel {
	ringo_future *fut;
	ringo_task *task;
};

static void set_then_cancel(void *arg)
{
	struct wake_then_cancel *w = arg;
	/* The awaiting task becomes ready... then is cancelled before it runs. */
	ringo_future_set_result(w->fut, NULL);
}

static void cancel_task_cb(void *arg)
{
	struct wake_then_cancel *w = arg;
	ringo_task_cancel(w->task, NULL);
}

static void test_cancel_after_wake_before_run_is_delivered_there(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	struct awaiter aw = {0};
	ringo_future_new(loop, &aw.fut);
	struct wake_then_cancel w = {aw.fut, NULL};
	ringo_spawn(loop, await_body, &aw, NULL, &w.task);
	ringo_call_later(loop, RINGO_SEC(1), set_then_cancel, &w, NULL);
	ringo_call_later(loop, RINGO_SEC(1), cancel_task_cb, &w, NULL);
	ringo_loop_run_until_complete(loop, ringo_task_future(w.task), NULL);
	assert_int_equal(aw.rc, -ECANCELED);
	assert_true(ringo_future_cancelled(ringo_task_future(w.task)));
	/* The future itself kept its result. */
	assert_int_equal(ringo_future_result(aw.fut, NULL), 0);
	ringo_future_release(aw.fut);
	ringo_task_release(w.task);
	test_loop_free(loop, &ca);
}

static void test_cancelling_an_awaiting_task_cancels_what_it_awaits(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	log_reset(&g_log);
	struct say_arg a = {"inner", RINGO_SEC(10), 0};
	ringo_task *inner, *outer;
	ringo_spawn(loop, sayer, &a, NULL, &inner);
	struct awaiter w = {.fut = ringo_task_future(inner)};
	ringo_spawn(loop, await_body, &w, NULL, &outer);
	ringo_call_later(loop, RINGO_SEC(1), cancel_cb, outer, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(outer), NULL),
			 -ECANCELED);
	assert_true(ringo_future_cancelled(ringo_task_future(inner)));
	assert_int_equal(a.rc, -ECANCELED);
	assert_int_equal(ringo_loop_time_ns(loop), RINGO_SEC(1));
	ringo_task_release(inner);
	ringo_task_release(outer);
	test_loop_free(loop, &ca);
}

static void test_cancelling_a_task_awaiting_a_future_cancels_the_future(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	struct awaiter w = {0};
	ringo_future_new(loop, &w.fut);
	ringo_task *t;
	ringo_spawn(loop, await_body, &w, NULL, &t);
	ringo_call_later(loop, RINGO_SEC(1), cancel_cb, t, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	assert_true(ringo_future_cancelled(w.fut));
	assert_string_equal(ringo_future_cancel_message(w.fut), "stop it");
	ringo_future_release(w.fut);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

struct intro {
	ringo_loop *loop;
	int count;
	const char *names[4];
	enum ringo_task_state states[4];
	ringo_task *self;
};

static int introspect(void *arg, void **result)
{
	struct intro *in = arg;
	ringo_task *all[4];
	in->self = ringo_task_current();
	in->count = ringo_loop_tasks(in->loop, all, 4);
	for (int i = 0; i < in->count && i < 4; i++) {
		in->names[i] = ringo_task_name(all[i]);
		in->states[i] = ringo_task_state(all[i]);
	}
	return 0;
}

static void test_current_task_and_all_tasks(void **state)
{
	struct counting_allocator ca;
	struct intro in = {.loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK)};
	struct say_arg a = {"sleeper", RINGO_SEC(1), 0};
	ringo_task *sleeper, *me, *done;
	ringo_task_options o = {.name = "sleeper"};
	ringo_spawn(in.loop, sayer, &a, &o, &sleeper);
	ringo_spawn(in.loop, failer, NULL, NULL, &done);
	ringo_loop_run_until_complete(in.loop, ringo_task_future(done), NULL);
	o.name = "looker";
	ringo_spawn(in.loop, introspect, &in, &o, &me);
	ringo_loop_run_until_complete(in.loop, ringo_task_future(me), NULL);
	assert_ptr_equal(in.self, me);
	/* Not-done tasks only: the sleeper and the looker itself. */
	assert_int_equal(in.count, 2);
	assert_string_equal(in.names[0], "sleeper");
	assert_int_equal(in.states[0], RINGO_TASK_SUSPENDED);
	assert_string_equal(in.names[1], "looker");
	assert_int_equal(in.states[1], RINGO_TASK_RUNNING);
	assert_string_equal(ringo_task_name(done), "task-2");
	assert_string_equal(ringo_task_state_name(RINGO_TASK_SUSPENDED), "suspended");
	assert_int_equal(ringo_task_set_name(me, "renamed"), 0);
	assert_string_equal(ringo_task_name(me), "renamed");
	ringo_loop_run_until_complete(in.loop, ringo_task_future(sleeper), NULL);
	assert_int_equal(ringo_loop_tasks(in.loop, NULL, 0), 0);
	ringo_task_release(sleeper);
	ringo_task_release(me);
	ringo_task_release(done);
	test_loop_free(in.loop, &ca);
}

static void test_dump_tasks_lists_name_state_and_wait(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	struct say_arg a = {"x", RINGO_SEC(5), 0};
	ringo_task_options o = {.name = "napper"};
	ringo_task *t;
	ringo_spawn(loop, sayer, &a, &o, &t);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	ringo_loop_dump_tasks(loop, out);
	fclose(out);
	assert_non_null(strstr(buf, "1 live task"));
	assert_non_null(strstr(buf, "'napper' suspended"));
	assert_non_null(strstr(buf, "in sleep"));
	free(buf);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int spawn_many_and_sleep(void *arg, void **result)
{
	ringo_sleep(RINGO_MSEC((intptr_t)arg));
	return 0;
}

/* ThreadSanitizer keeps one thread context per fiber and stops at 8128. */
#if defined(__SANITIZE_THREAD__)
#define MANY_TASKS 2000
#else
#define MANY_TASKS 10000
#endif

static void test_fire_and_forget_tasks_are_kept_alive_and_freed(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	for (int i = 0; i < MANY_TASKS; i++)
		assert_int_equal(ringo_spawn(loop, spawn_many_and_sleep, (void *)(intptr_t)(i % 97),
					     NULL, NULL), 0);
	assert_int_equal(ringo_loop_tasks(loop, NULL, 0), MANY_TASKS);
	ringo_task *last;
	ringo_spawn(loop, spawn_many_and_sleep, (void *)(intptr_t)200, NULL, &last);
	ringo_loop_run_until_complete(loop, ringo_task_future(last), NULL);
	assert_int_equal(ringo_loop_tasks(loop, NULL, 0), 0);
	ringo_task_release(last);
	test_loop_free(loop, &ca);
}

static int recurse(int depth)
{
	volatile char pad[512];
	pad[0] = (char)depth;
	if (depth == 0)
		return pad[0];
	return recurse(depth - 1) + pad[0];
}

static int deep(void *arg, void **result)
{
	ringo_sleep(0);
	*result = (void *)(intptr_t)recurse((int)(intptr_t)arg);
	return 0;
}

static void test_stack_size_option(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task_options o = {.name = "big", .stack_size = 1024 * 1024};
	ringo_task *t;
	/* ~600 KiB of frames: needs the bigger stack. */
	assert_int_equal(ringo_spawn(loop, deep, (void *)(intptr_t)1000, &o, &t), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	ringo_task_release(t);
	o.stack_size = 1000;
	assert_int_equal(ringo_spawn(loop, deep, NULL, &o, &t), -EINVAL);
	assert_int_equal(ringo_spawn(loop, NULL, NULL, NULL, &t), -EINVAL);
	assert_null(t);
	test_loop_free(loop, &ca);
}

static int forever(void *arg, void **result)
{
	for (;;) {
		int rc = ringo_sleep(RINGO_SEC(1));
		if (rc < 0)
			return rc;
	}
}

static void test_close_with_live_tasks_leaks_nothing(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_task *held;
	ringo_future *f;
	ringo_future_new(loop, &f);
	struct awaiter w = {.fut = f};
	ringo_spawn(loop, forever, NULL, NULL, &held);
	ringo_spawn(loop, forever, NULL, NULL, NULL);
	ringo_spawn(loop, await_body, &w, NULL, NULL);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop);
	/* And one that never started. */
	ringo_spawn(loop, must_not_run, NULL, NULL, NULL);
	assert_int_equal(ringo_loop_close(loop), 0);
	/* A task held across close reads as done (cancelled). */
	assert_true(ringo_future_done(ringo_task_future(held)));
	assert_true(ringo_future_cancelled(ringo_task_future(held)));
	assert_int_equal(ringo_spawn(loop, forever, NULL, NULL, NULL), -ESHUTDOWN);
	ringo_task_release(held);
	ringo_future_release(f);
	test_loop_free(loop, &ca);
}

static int main_with_leftovers(void *arg, void **result)
{
	int *cancelled = arg;
	(void)cancelled;
	ringo_spawn(ringo_loop_current(), forever, NULL, NULL, NULL);
	ringo_sleep(RINGO_MSEC(10));
	*result = (void *)"main done";
	return 0;
}

static void test_run_cancels_leftover_tasks(void **state)
{
	void *v = NULL;
	assert_int_equal(ringo_run(main_with_leftovers, NULL, NULL, &v), 0);
	assert_string_equal(v, "main done");
	assert_int_equal(ringo_run(failer, NULL, NULL, NULL), -EPIPE);
	assert_int_equal(ringo_run(NULL, NULL, NULL, NULL), -EINVAL);
}

static void done_cb(ringo_future *f, void *arg)
{
	void *v;
	ringo_future_result(f, &v);
	log_add(&g_log, "callback(%ld)", (long)(intptr_t)v);
}

static void test_done_callback_on_a_task(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	log_reset(&g_log);
	ringo_task *t;
	ringo_spawn(loop, returns_15, NULL, NULL, &t);
	ringo_future_add_done_callback(ringo_task_future(t), done_cb, NULL);
	void *v;
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), &v), 0);
	assert_int_equal((intptr_t)v, 15);
	assert_string_equal(g_log.buf, "callback(15)");
	assert_ptr_equal(ringo_future_task(ringo_task_future(t)), t);
	ringo_future *plain;
	ringo_future_new(loop, &plain);
	assert_null(ringo_future_task(plain));
	ringo_future_release(plain);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int overflow(void *arg, void **result)
{
	return recurse(1 << 20);
}

static void test_stack_overflow_is_reported_by_task_name(void **state)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		ringo_loop *loop;
		ringo_loop_new(NULL, &loop);
		ringo_task_options o = {.name = "overflower"};
		ringo_task *t;
		ringo_spawn(loop, overflow, NULL, &o, &t);
		ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL);
		_exit(0);
	}
	close(fds[1]);
	char buf[4096];
	ssize_t n, total = 0;
	while ((n = read(fds[0], buf + total, sizeof(buf) - 1 - total)) > 0)
		total += n;
	buf[total] = 0;
	close(fds[0]);
	int st;
	waitpid(pid, &st, 0);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
	assert_non_null(strstr(buf, "stack overflow in task 'overflower'"));
}

/* ---- the compact class (stacks under RINGO_TASK_STACK_MIN) ---- */

static int compact_sleeper(void *arg, void **result)
{
	int err = ringo_sleep(RINGO_MSEC(1));
	*result = arg;
	return err;
}

static void test_compact_tasks_sleep_and_finish(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	enum { N = 3000 };
	ringo_task **t = calloc(N, sizeof(*t));
	ringo_task_options o = {.stack_size = RINGO_TASK_COMPACT_MIN};
	assert_non_null(t);
	for (long i = 0; i < N; i++)
		assert_int_equal(ringo_spawn(loop, compact_sleeper, (void *)i, &o, &t[i]), 0);
	for (long i = 0; i < N; i++) {
		void *v = NULL;
		assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t[i]), &v), 0);
		assert_int_equal((intptr_t)v, i);
	}
	/* Packed: neighbours a stack apart, no page between them. */
	assert_true(t[0]->stack.compact);
	assert_ptr_equal(t[1]->stack.lo, t[0]->stack.hi);
	for (long i = 0; i < N; i++)
		ringo_task_release(t[i]);
	free(t);
	test_loop_free(loop, &ca);
}

static int nothing(void *arg, void **result)
{
	return 0;
}

static void test_stack_size_picks_the_class(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task_options o = {.stack_size = RINGO_TASK_COMPACT_MIN - 1};
	ringo_task *t = (ringo_task *)1;
	assert_int_equal(ringo_spawn(loop, nothing, NULL, &o, &t), -EINVAL);
	assert_null(t);
	o.stack_size = RINGO_TASK_STACK_MAX + 1;
	assert_int_equal(ringo_spawn(loop, nothing, NULL, &o, &t), -EINVAL);
	const struct {
		size_t size;
		bool compact;
	} cases[] = {
		{RINGO_TASK_COMPACT_MIN, true},
		{RINGO_TASK_STACK_MIN - 1, true},
		{RINGO_TASK_STACK_MIN, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		o.stack_size = cases[i].size;
		assert_int_equal(ringo_spawn(loop, nothing, NULL, &o, &t), 0);
		assert_int_equal(t->stack.compact, cases[i].compact);
		size_t have = (size_t)((char *)t->stack.hi - (char *)t->stack.lo);
		assert_true(have >= cases[i].size);
		assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
		ringo_task_release(t);
	}
	test_loop_free(loop, &ca);
}

/* An allocator that notes how deep the stack is at each call. */
struct stack_spy {
	ringo_allocator iface;
	uintptr_t lowest, highest;
	size_t calls;
};

static void spy_note(struct stack_spy *s)
{
	volatile char here = 0;
	uintptr_t a = (uintptr_t)&here;
	if (!s->calls || a < s->lowest)
		s->lowest = a;
	if (!s->calls || a > s->highest)
		s->highest = a;
	s->calls++;
}

static void *spy_alloc(void *ctx, size_t size)
{
	spy_note(ctx);
	return malloc(size);
}

static void *spy_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size)
{
	spy_note(ctx);
	return realloc(ptr, new_size);
}

static void spy_free(void *ctx, void *ptr, size_t size)
{
	spy_note(ctx);
	free(ptr);
}

struct many_timers {
	struct stack_spy *spy;
	ringo_handle *h;
	int n;
	uintptr_t task_sp;
	size_t calls;
	uintptr_t lowest, highest;
};

static void never_runs(void *arg)
{
	fail();
}

/* A 1 KiB task arms (and cancels) thousands of timers: the wheel grows
 * with realloc, deeper than the task's stack, so the allocator must run
 * on the loop thread's stack. */
static int arm_many_timers(void *arg, void **result)
{
	struct many_timers *m = arg;
	volatile char here = 0;
	m->task_sp = (uintptr_t)&here;
	m->spy->calls = 0;
	ringo_loop *loop = ringo_loop_current();
	for (int i = 0; i < m->n; i++) {
		int err = ringo_call_later(loop, RINGO_SEC(10) + i * 1000, never_runs, NULL, &m->h[i]);
		if (err < 0)
			return err;
	}
	m->calls = m->spy->calls;
	m->lowest = m->spy->lowest;
	m->highest = m->spy->highest;
	for (int i = 0; i < m->n; i++)
		ringo_handle_cancel(m->h[i]);
	return ringo_sleep(0);
}

static void test_compact_task_allocates_on_the_loop_threads_stack(void **state)
{
	struct stack_spy spy = {.iface = {spy_alloc, spy_realloc, spy_free, &spy}};
	ringo_loop_options lo;
	ringo_loop_options_init(&lo);
	lo.allocator = &spy.iface;
	ringo_loop *loop;
	assert_int_equal(ringo_loop_new(&lo, &loop), 0);
	struct many_timers m = {.spy = &spy, .n = 20000};
	m.h = calloc((size_t)m.n, sizeof(*m.h));
	assert_non_null(m.h);
	ringo_task_options o = {.stack_size = RINGO_TASK_COMPACT_MIN, .name = "armer"};
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, arm_many_timers, &m, &o, &t), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	assert_true(m.calls > 0);
#ifndef RINGO_FIBER_ANNOTATED
	/* Not one allocator call ran on the task's 1 KiB stack (sanitized
	 * builds give compact stacks room instead, and call it in place). */
	uintptr_t lo_ = (uintptr_t)t->stack.lo, hi_ = (uintptr_t)t->stack.hi;
	assert_true(m.task_sp > lo_ && m.task_sp < hi_);
	assert_true(m.highest < lo_ || m.lowest >= hi_);
#endif
	ringo_task_release(t);
	free(m.h);
	assert_int_equal(ringo_loop_free(loop), 0);
}

/* A 1 KiB task spawns tasks of new sizes: the new pools and slabs (mmap,
 * madvise, sigaction) are set up on the loop thread's stack. */
static int child_yields(void *arg, void **result)
{
	*result = arg;
	return ringo_sleep(0);
}

static int compact_spawner(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	const size_t sizes[] = {RINGO_TASK_COMPACT_MIN, 2048, RINGO_TASK_STACK_MIN};
	ringo_task **kids = arg;
	for (int i = 0; i < 30; i++) {
		ringo_task_options o = {.stack_size = sizes[i % 3]};
		int err = ringo_spawn(loop, child_yields, (void *)(intptr_t)i, &o, &kids[i]);
		if (err < 0)
			return err;
	}
	for (int i = 0; i < 30; i++) {
		void *v = NULL;
		int err = ringo_await(ringo_task_future(kids[i]), &v);
		if (err < 0 || (intptr_t)v != i)
			return err < 0 ? err : -EPROTO;
		ringo_task_release(kids[i]);
	}
	return 0;
}

static void test_compact_task_spawns_tasks_of_new_sizes(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_task *kids[30];
	ringo_task_options o = {.stack_size = RINGO_TASK_COMPACT_MIN, .name = "spawner"};
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, compact_spawner, kids, &o, &t), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

/* A signal handler installed with SA_ONSTACK runs on the loop thread's
 * alternate signal stack (ringo gives each loop thread one), not on the
 * interrupted compact task's 1 KiB: the task carries on. */
static volatile sig_atomic_t handled;
static volatile uintptr_t handler_frame;

static void on_usr1(int sig)
{
	volatile char here = 0;
	handler_frame = (uintptr_t)&here;
	handled = sig;
}

static int signalled_compact(void *arg, void **result)
{
	syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGUSR1);
	return ringo_sleep(0);
}

static void test_compact_task_survives_a_signal_handled_on_the_alternate_stack(void **state)
{
#if defined(__SANITIZE_THREAD__)
	skip(); /* TSan defers the handler to a later intercepted call, off this task */
#endif
	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_ONSTACK}, old;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task_options o = {.stack_size = RINGO_TASK_COMPACT_MIN, .name = "signalled"};
	ringo_task *t;
	handled = 0;
	assert_int_equal(ringo_spawn(loop, signalled_compact, NULL, &o, &t), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	assert_int_equal(handled, SIGUSR1);
	assert_false(handler_frame >= (uintptr_t)t->stack.lo && handler_frame < (uintptr_t)t->stack.hi);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
	sigaction(SIGUSR1, &old, NULL);
}

/* The neighbour a compact task overflows into is the stack just below. */
struct neighbours {
	ringo_future *f;
	volatile uintptr_t victim_frame;
};

static int victim_body(void *arg, void **result)
{
	struct neighbours *n = arg;
	volatile char here = 1;
	n->victim_frame = (uintptr_t)&here;
	return ringo_await(n->f, NULL);
}

/* noinline: one pad per frame, each checked before the next is made. */
static __attribute__((noinline)) long dig_to(uintptr_t to)
{
	volatile char pad[256];
	memset((char *)pad, 0x5a, sizeof(pad));
	if ((uintptr_t)pad <= to)
		return pad[0];
	return dig_to(to) + pad[1];
}

static int overflower_body(void *arg, void **result)
{
	struct neighbours *n = arg;
	/* Down through this stack's canary into the victim's frames. */
	*result = (void *)(intptr_t)dig_to(n->victim_frame - 64);
	return ringo_sleep(0);
}

static int overflow_forever(void *arg, void **result)
{
	return recurse(1 << 20);
}

/* Runs in a child: how = 0, a compact task overflows its neighbour below
 * and is caught when it next suspends; how = 1, the lowest stack of the
 * slab runs into the slab's guard page. */
__attribute__((noreturn)) static void compact_overflow_child(int how)
{
	ringo_loop *loop;
	if (ringo_loop_new(NULL, &loop) < 0)
		_exit(3);
	ringo_task_options o = {.stack_size = RINGO_TASK_COMPACT_MIN, .name = "victim"};
	struct neighbours n = {0};
	ringo_task *t;
	if (how == 0) {
		if (ringo_future_new(loop, &n.f) < 0 ||
		    ringo_spawn(loop, victim_body, &n, &o, NULL) < 0)
			_exit(4);
		o.name = "overflower";
		if (ringo_spawn(loop, overflower_body, &n, &o, &t) < 0)
			_exit(5);
	} else {
		o.name = "overflower";
		if (ringo_spawn(loop, overflow_forever, NULL, &o, &t) < 0)
			_exit(5);
	}
	ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL);
	_exit(0);
}

static void expect_compact_overflow_report(int how)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		compact_overflow_child(how);
	}
	close(fds[1]);
	char buf[4096];
	ssize_t n, total = 0;
	while ((n = read(fds[0], buf + total, sizeof(buf) - 1 - total)) > 0)
		total += n;
	buf[total] = 0;
	close(fds[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
		fail_msg("child status %#x, stderr: %s", st, buf);
	if (!strstr(buf, "stack overflow in task 'overflower'"))
		fail_msg("stderr: %s", buf);
}

static void test_compact_overflow_into_a_neighbour_is_reported_by_name(void **state)
{
	expect_compact_overflow_report(0);
}

static void test_compact_overflow_into_the_slab_guard_is_reported_by_name(void **state)
{
	expect_compact_overflow_report(1);
}

static void test_spawn_allocation_failure(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ca.fail_at = ca.attempts + 1;
	ringo_task *t = (ringo_task *)1;
	assert_int_equal(ringo_spawn(loop, failer, NULL, NULL, &t), -ENOMEM);
	assert_null(t);
	ca.fail_at = 0;
	assert_int_equal(ringo_spawn(loop, failer, NULL, NULL, &t), 0);
	ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int quick(void *arg, void **result)
{
	return ringo_sleep(0);
}

static int burst_then_idle(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	size_t *seen = arg;
	for (int round = 0; round < 2; round++) {
		ringo_task *t[500];
		for (int i = 0; i < 500; i++)
			ringo_spawn(loop, quick, NULL, NULL, &t[i]);
		for (int i = 0; i < 500; i++) {
			ringo_await(ringo_task_future(t[i]), NULL);
			ringo_task_release(t[i]);
		}
	}
	size_t cold, live;
	ringo__task_stack_stats(loop, &seen[0], &cold, &live);
	ringo_sleep(RINGO_SEC(3));
	ringo__task_stack_stats(loop, &seen[1], &seen[2], &live);
	return 0;
}

static void test_idle_stacks_give_memory_back_later(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	size_t seen[3] = {0};
	ringo_task *t;
	ringo_spawn(loop, burst_then_idle, seen, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	/* Right after the bursts the 500 stacks are still hot (the second
	 * burst reused them: no page faults), a few idle seconds later all but
	 * the pool's reserve gave their memory back. */
	assert_true(seen[0] >= 500);
	assert_true(seen[1] <= 64 + 1);
	assert_true(seen[2] >= 500 - 64);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void busy_ms(int ms)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

static int hog(void *arg, void **result)
{
	busy_ms(30);
	return 0;
}

static void hog_cb(void *arg)
{
	busy_ms(30);
}

static void test_slow_task_and_callback_are_reported_by_name(void **state)
{
	struct counting_allocator ca;
	counting_allocator_init(&ca);
	ringo_loop_options o;
	ringo_loop_options_init(&o);
	o.allocator = &ca.iface;
	o.slow_callback_ns = RINGO_MSEC(10);
	ringo_loop *loop;
	assert_int_equal(ringo_loop_new(&o, &loop), 0);
	ringo_task_options to = {.name = "hog"};
	ringo_task *t;
	ringo_spawn(loop, hog, NULL, &to, &t);
	ringo_call_soon(loop, hog_cb, NULL, NULL);
	char err[4096];
	stderr_capture_begin();
	ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL);
	stderr_capture_end(err, sizeof(err));
	assert_non_null(strstr(err, "ringo: task 'hog' blocked the loop for"));
	/* Static functions have no dynamic symbol: named by address then
	 * (link with -rdynamic to see names). */
	assert_non_null(strstr(err, "ringo: callback "));
	assert_non_null(strstr(strstr(err, "ringo: callback "), "blocked the loop for"));
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

/* ---- the task's outcome belongs to its body (asyncio: a Task does not
 * support set_result / set_exception) ---- */

static int returns_ko_later(void *arg, void **result)
{
	int rc = ringo_sleep(0);
	*result = (void *)"ko";
	return rc;
}

static void test_task_set_methods_are_refused(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, returns_ko_later, NULL, NULL, &t), 0);
	ringo_future *f = ringo_task_future(t);
	assert_int_equal(ringo_future_set_result(f, (void *)"ok"), -EPERM);
	assert_int_equal(ringo_future_set_error(f, -EIO), -EPERM);
	assert_false(ringo_future_done(f));
	/* Once it runs, the same: the body still decides. */
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop);
	assert_int_equal(ringo_task_state(t), RINGO_TASK_READY);
	assert_int_equal(ringo_future_set_result(f, (void *)"ok"), -EPERM);
	void *v = NULL;
	assert_int_equal(ringo_loop_run_until_complete(loop, f, &v), 0);
	assert_string_equal(v, "ko");
	assert_int_equal(ringo_future_set_result(f, NULL), -EPERM);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int sets_own_result(void *arg, void **result)
{
	int *rc = arg;
	ringo_future *self = ringo_task_future(ringo_task_current());
	rc[0] = ringo_future_set_result(self, (void *)"x");
	rc[1] = ringo_future_set_error(self, -EIO);
	*result = (void *)"body";
	return ringo_sleep(0);
}

static void test_task_setting_its_own_result_is_refused(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	int rc[2] = {0, 0};
	ringo_task *t;
	ringo_spawn(loop, sets_own_result, rc, NULL, &t);
	void *v = NULL;
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), &v), 0);
	assert_int_equal(rc[0], -EPERM);
	assert_int_equal(rc[1], -EPERM);
	assert_string_equal(v, "body");
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void test_future_cancel_on_a_task_is_task_cancel(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	struct say_arg a = {"s", RINGO_SEC(10), 0};
	ringo_task *t;
	ringo_spawn(loop, sayer, &a, NULL, &t);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop);
	/* True: cancellation was requested (the task is not done yet). */
	assert_true(ringo_future_cancel(ringo_task_future(t), "via future"));
	assert_false(ringo_future_done(ringo_task_future(t)));
	assert_int_equal(ringo_task_cancelling(t), 1);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	assert_int_equal(a.rc, -ECANCELED);
	assert_string_equal(ringo_future_cancel_message(ringo_task_future(t)), "via future");
	assert_false(ringo_future_cancel(ringo_task_future(t), NULL));
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

/* ---- a cancel requested before an await reaches what is awaited
 * (CPython bpo-34872) ---- */

struct nested {
	ringo_future *fut;     /* what the nested task awaits */
	ringo_task *nested;
	int rc;
};

static int await_fut_body(void *arg, void **result)
{
	struct nested *n = arg;
	return ringo_await(n->fut, NULL);
}

static int cancel_self_then_await_nested(void *arg, void **result)
{
	struct nested *n = arg;
	ringo_spawn(ringo_loop_current(), await_fut_body, n, NULL, &n->nested);
	ringo_sleep(0); /* the nested task runs and blocks on fut */
	assert_true(ringo_task_cancel(ringo_task_current(), NULL));
	n->rc = ringo_await(ringo_task_future(n->nested), NULL);
	return n->rc;
}

static void test_cancel_awaited_task(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct nested n = {0};
	ringo_future_new(loop, &n.fut);
	ringo_task *t;
	ringo_spawn(loop, cancel_self_then_await_nested, &n, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	assert_int_equal(n.rc, -ECANCELED);
	assert_true(ringo_future_cancelled(ringo_task_future(t)));
	assert_true(ringo_future_cancelled(ringo_task_future(n.nested)));
	assert_true(ringo_future_cancelled(n.fut));
	ringo_task_release(n.nested);
	ringo_task_release(t);
	ringo_future_release(n.fut);
	test_loop_free(loop, &ca);
}

static int cancel_self_then_await_fut(void *arg, void **result)
{
	struct nested *n = arg;
	ringo_task_cancel(ringo_task_current(), "mine");
	n->rc = ringo_await(n->fut, NULL);
	return n->rc;
}

static void test_cancel_before_await_cancels_the_awaited_future(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct nested n = {0};
	ringo_future_new(loop, &n.fut);
	ringo_task *t;
	ringo_spawn(loop, cancel_self_then_await_fut, &n, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	assert_int_equal(n.rc, -ECANCELED);
	assert_true(ringo_future_cancelled(n.fut));
	assert_string_equal(ringo_future_cancel_message(n.fut), "mine");
	ringo_task_release(t);
	ringo_future_release(n.fut);
	test_loop_free(loop, &ca);
}

static int absorbs_cancel_returns_42(void *arg, void **result)
{
	*(int *)arg = ringo_sleep(RINGO_SEC(10));
	*result = (void *)(intptr_t)42;
	return 0;
}

struct absorb {
	ringo_task *inner;
	int inner_rc;
	int rc;
	void *value;
};

static int cancel_self_then_await_absorber(void *arg, void **result)
{
	struct absorb *a = arg;
	ringo_spawn(ringo_loop_current(), absorbs_cancel_returns_42, &a->inner_rc, NULL, &a->inner);
	ringo_sleep(0);
	ringo_task_cancel(ringo_task_current(), NULL);
	a->rc = ringo_await(ringo_task_future(a->inner), &a->value);
	*result = (void *)"outer done";
	return a->rc;
}

static void test_cancel_before_await_waits_for_a_task_that_absorbs_it(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	struct absorb a = {0};
	ringo_task *t;
	ringo_spawn(loop, cancel_self_then_await_absorber, &a, NULL, &t);
	void *v = NULL;
	/* asyncio: the cancel went to the awaited task (_must_cancel is
	 * cleared), which swallowed it; the await returns its result. */
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), &v), 0);
	assert_string_equal(v, "outer done");
	assert_int_equal(a.inner_rc, -ECANCELED);
	assert_int_equal(a.rc, 0);
	assert_int_equal((intptr_t)a.value, 42);
	assert_int_equal(ringo_task_cancelling(t), 1);
	assert_int_equal(ringo_loop_time_ns(loop), 0);
	ringo_task_release(a.inner);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

/* ---- deep chains: cancellation and wake-ups without recursion ---- */

#if defined(__SANITIZE_THREAD__)
#define DEEP 2000 /* TSan stops at 8128 fiber contexts */
#else
#define DEEP 100000
#endif

static size_t deep_n(void)
{
	/* Valgrind is ~100x slower; 5000 links still overflow a recursive
	 * delivery on a 64 KiB stack several times over. */
	return getenv("RINGO_UNDER_VALGRIND") ? 5000 : DEEP;
}

enum link_kind { LINK_AWAIT, LINK_GATHER };

struct chain;
struct chain_arg {
	struct chain *c;
	size_t i;
};

struct chain {
	ringo_task **tasks;
	struct chain_arg *args;
	size_t n;
	enum link_kind kind;
	bool end_returns;      /* the last link returns 1 instead of sleeping */
	size_t cancelled;      /* links whose wait returned -ECANCELED */
};

static int chain_link(void *arg, void **result)
{
	struct chain_arg *a = arg;
	struct chain *c = a->c;
	int rc;
	void *v = NULL;
	if (a->i + 1 == c->n) {
		if (c->end_returns) {
			*result = (void *)(uintptr_t)1;
			return 0;
		}
		rc = ringo_sleep(RINGO_SEC(3600));
	} else if (c->kind == LINK_AWAIT) {
		rc = ringo_await(ringo_task_future(c->tasks[a->i + 1]), &v);
	} else {
		ringo_future *next = ringo_task_future(c->tasks[a->i + 1]);
		struct ringo_gather_result out;
		rc = ringo_gather(&next, 1, false, &out);
		v = out.value;
	}
	if (rc == -ECANCELED)
		c->cancelled++;
	*result = (void *)((uintptr_t)v + 1);
	return rc;
}

static void chain_build(ringo_loop *loop, struct chain *c)
{
	c->tasks = calloc(c->n, sizeof(*c->tasks));
	c->args = calloc(c->n, sizeof(*c->args));
	assert_non_null(c->tasks);
	assert_non_null(c->args);
	/* Spawned first, run in one batch: link i finds link i+1 spawned. */
	for (size_t i = 0; i < c->n; i++) {
		c->args[i] = (struct chain_arg){c, i};
		assert_int_equal(ringo_spawn(loop, chain_link, &c->args[i], NULL, &c->tasks[i]), 0);
	}
}

static void chain_free(struct chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		ringo_task_release(c->tasks[i]);
	free(c->tasks);
	free(c->args);
}

static int cancel_chain_head(void *arg, void **result)
{
	struct chain *c = arg;
	/* From a task on the default 64 KiB stack: delivering by recursion
	 * overflowed it at about 1,500 links. */
	assert_true(ringo_task_cancel(c->tasks[0], "deep"));
	return ringo_await(ringo_task_future(c->tasks[0]), NULL);
}

static void cancel_deep_chain(enum link_kind kind)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	struct chain c = {.n = deep_n(), .kind = kind};
	chain_build(loop, &c);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop); /* every link is now waiting */
	assert_int_equal(ringo_loop_tasks(loop, NULL, 0), (int)c.n);
	ringo_task *canceller;
	ringo_spawn(loop, cancel_chain_head, &c, NULL, &canceller);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(canceller), NULL),
			 -ECANCELED);
	assert_int_equal(c.cancelled, c.n);
	for (size_t i = 0; i < c.n; i++)
		assert_true(ringo_future_cancelled(ringo_task_future(c.tasks[i])));
	assert_int_equal(ringo_loop_tasks(loop, NULL, 0), 0);
	ringo_task_release(canceller);
	chain_free(&c);
	test_loop_free(loop, &ca);
}

static void test_deep_await_chain_cancels_without_recursion(void **state)
{
	cancel_deep_chain(LINK_AWAIT);
}

static void test_deep_gather_nesting_cancels_without_recursion(void **state)
{
	cancel_deep_chain(LINK_GATHER);
}

static void test_deep_await_chain_completes_through_wake_ups(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct chain c = {.n = deep_n(), .kind = LINK_AWAIT, .end_returns = true};
	chain_build(loop, &c);
	void *v = NULL;
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(c.tasks[0]), &v),
			 0);
	/* Each link adds one to what it awaited. */
	assert_int_equal((uintptr_t)v, c.n);
	assert_int_equal(c.cancelled, 0);
	chain_free(&c);
	test_loop_free(loop, &ca);
}

struct pair {
	ringo_task *other;
};

static int await_other(void *arg, void **result)
{
	struct pair *p = arg;
	return ringo_await(ringo_task_future(p->other), NULL);
}

static void test_cancelling_tasks_that_await_each_other_returns(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct pair pa, pb;
	ringo_task *a, *b;
	ringo_spawn(loop, await_other, &pa, NULL, &a);
	ringo_spawn(loop, await_other, &pb, NULL, &b);
	pa.other = b;
	pb.other = a;
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop); /* a awaits b, b awaits a: a deadlock */
	/* The cancellation goes a -> b -> a: each is interrupted once, the
	 * second request on a is counted, and the call returns (asyncio
	 * recurses until RecursionError). */
	assert_true(ringo_task_cancel(a, NULL));
	assert_int_equal(ringo_task_cancelling(a), 2);
	assert_int_equal(ringo_task_cancelling(b), 1);
	assert_int_equal(ringo_task_state(a), RINGO_TASK_SUSPENDED);
	assert_int_equal(ringo_task_state(b), RINGO_TASK_SUSPENDED);
	/* Still deadlocked, as the program made them; close abandons them. */
	assert_int_equal(ringo_loop_close(loop), 0);
	assert_true(ringo_future_cancelled(ringo_task_future(a)));
	ringo_task_release(a);
	ringo_task_release(b);
	test_loop_free(loop, &ca);
}

static void test_null_task_and_future_arguments(void **state)
{
	ringo_task_ref(NULL);
	ringo_task_release(NULL);
	ringo_future_ref(NULL);
	ringo_future_release(NULL);
	assert_false(ringo_task_cancel(NULL, NULL));
	assert_false(ringo_future_cancel(NULL, NULL));
	assert_int_equal(ringo_task_cancelling(NULL), -EINVAL);
	assert_int_equal(ringo_task_uncancel(NULL), -EINVAL);
	assert_null(ringo_task_name(NULL));
	assert_int_equal(ringo_task_set_name(NULL, "x"), -EINVAL);
	assert_null(ringo_task_future(NULL));
	assert_null(ringo_future_task(NULL));
	assert_int_equal(ringo_await(NULL, NULL), -EINVAL);
	assert_int_equal(ringo_loop_tasks(NULL, NULL, 0), -EINVAL);
	assert_int_equal(ringo_spawn(NULL, returns_ko_later, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(ringo_run(NULL, NULL, NULL, NULL), -EINVAL);
	ringo_loop_dump_tasks(NULL, stderr);
}

/* ---- ported from CPython's Lib/test/test_asyncio/test_tasks.py ---- */

static int returns_ok(void *arg, void **result)
{
	*result = (void *)"ok";
	return 0;
}

static void test_task_class(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	ringo_spawn(loop, returns_ok, NULL, NULL, &t);
	void *v = NULL;
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), &v), 0);
	assert_true(ringo_future_done(ringo_task_future(t)));
	assert_string_equal(v, "ok");
	assert_ptr_equal(ringo_future_loop(ringo_task_future(t)), loop);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void test_task_cancel_message_getter(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	ringo_spawn(loop, returns_ok, NULL, NULL, &t);
	assert_null(ringo_future_cancel_message(ringo_task_future(t)));
	assert_true(ringo_task_cancel(t, "my message"));
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	assert_string_equal(ringo_future_cancel_message(ringo_task_future(t)), "my message");
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int await_other_loop(void *arg, void **result)
{
	return ringo_await(arg, NULL);
}

static void test_other_loop_future(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_loop *other;
	assert_int_equal(ringo_loop_new(NULL, &other), 0);
	ringo_future *f;
	ringo_future_new(other, &f);
	ringo_task *t;
	ringo_spawn(loop, await_other_loop, f, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), -EINVAL);
	ringo_future_release(f);
	ringo_task_release(t);
	assert_int_equal(ringo_loop_free(other), 0);
	test_loop_free(loop, &ca);
}

static int awaits_itself(void *arg, void **result)
{
	return ringo_await(ringo_task_future(ringo_task_current()), NULL);
}

static void test_task_awaits_on_itself(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	ringo_spawn(loop, awaits_itself, NULL, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), -EDEADLK);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void test_task_repr_autogenerated(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t1, *t2;
	ringo_spawn(loop, returns_ok, NULL, NULL, &t1);
	ringo_spawn(loop, returns_ok, NULL, NULL, &t2);
	const char *n1 = ringo_task_name(t1), *n2 = ringo_task_name(t2);
	assert_int_equal(strncmp(n1, "task-", 5), 0);
	assert_int_equal(strncmp(n2, "task-", 5), 0);
	/* Default names have monotonically increasing numbers. */
	assert_true(atol(n1 + 5) < atol(n2 + 5));
	char buf[128];
	snprintf(buf, sizeof(buf), "<Task '%s' pending>", n1);
	char repr[128];
	assert_string_equal(ringo_future_repr(ringo_task_future(t1), repr, sizeof(repr)), buf);
	ringo_loop_run_until_complete(loop, ringo_task_future(t2), NULL);
	ringo_task_release(t1);
	ringo_task_release(t2);
	test_loop_free(loop, &ca);
}

static int returns_n(void *arg, void **result)
{
	*result = arg;
	return 0;
}

static int task_basics_outer(void *arg, void **result)
{
	ringo_task *t1, *t2;
	ringo_spawn(ringo_loop_current(), returns_n, (void *)(intptr_t)42, NULL, &t1);
	ringo_spawn(ringo_loop_current(), returns_n, (void *)(intptr_t)1000, NULL, &t2);
	void *a = NULL, *b = NULL;
	int rc = ringo_await(ringo_task_future(t1), &a);
	if (rc == 0)
		rc = ringo_await(ringo_task_future(t2), &b);
	ringo_task_release(t1);
	ringo_task_release(t2);
	*result = (void *)((intptr_t)a + (intptr_t)b);
	return rc;
}

static void test_task_basics(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	ringo_spawn(loop, task_basics_outer, NULL, NULL, &t);
	void *v = NULL;
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), &v), 0);
	assert_int_equal((intptr_t)v, 1042);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int sleeps_10s(void *arg, void **result)
{
	return ringo_sleep(RINGO_SEC(10));
}

static void test_cancelling(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_task *t;
	ringo_spawn(loop, sleeps_10s, NULL, NULL, &t);
	assert_int_equal(ringo_task_cancelling(t), 0);
	assert_true(ringo_task_cancel(t, NULL));
	assert_int_equal(ringo_task_cancelling(t), 1);
	assert_true(ringo_task_cancel(t, NULL)); /* counted again */
	assert_int_equal(ringo_task_cancelling(t), 2);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int uncancels_once(void *arg, void **result)
{
	if (ringo_sleep(RINGO_SEC(10)) == -ECANCELED)
		ringo_task_uncancel(ringo_task_current());
	return ringo_sleep(RINGO_SEC(10));
}

static void run_for(ringo_loop *loop, int64_t ns)
{
	ringo_task *t;
	ringo_spawn(loop, spawn_many_and_sleep, (void *)(intptr_t)(ns / RINGO_MSEC(1)), NULL, &t);
	ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL);
	ringo_task_release(t);
}

static void test_uncancel_basic(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_task *t;
	ringo_spawn(loop, uncancels_once, NULL, NULL, &t);
	run_for(loop, RINGO_MSEC(10));
	assert_true(ringo_task_cancel(t, NULL)); /* cancel the first sleep */
	assert_int_equal(ringo_task_cancelling(t), 1);
	assert_false(ringo_future_cancelled(ringo_task_future(t)));
	run_for(loop, RINGO_MSEC(10));
	assert_int_equal(ringo_task_cancelling(t), 0); /* after uncancel */
	assert_true(ringo_task_cancel(t, NULL)); /* cancel the second sleep */
	assert_int_equal(ringo_task_cancelling(t), 1);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	assert_true(ringo_future_cancelled(ringo_task_future(t)));
	/* uncancel no longer matters once the task is done. */
	ringo_task_uncancel(t);
	assert_true(ringo_future_cancelled(ringo_task_future(t)));
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

struct structured {
	int64_t sleep, timeout;
	bool timed_out, block_finished, outer_reached;
};

static void structured_on_timeout(void *arg)
{
	struct structured *s = ((void **)arg)[0];
	s->timed_out = true;
	ringo_task_cancel(((void **)arg)[1], NULL);
}

static int make_request_with_timeout(void *arg, void **result)
{
	struct structured *s = arg;
	void *cb_arg[2] = {s, ringo_task_current()};
	ringo_handle h;
	ringo_call_later(ringo_loop_current(), s->timeout, structured_on_timeout, cb_arg, &h);
	/* The structured block affected by the timeout. */
	int rc = ringo_sleep(s->sleep);
	if (rc == 0)
		s->block_finished = true;
	/* "finally": unschedule the stimulus, take our cancel back, and only
	 * if that brings the count to 0 turn the cancellation into a timeout. */
	ringo_handle_cancel(h);
	if (s->timed_out && ringo_task_uncancel(ringo_task_current()) == 0 && rc == -ECANCELED)
		rc = -ETIMEDOUT;
	assert_true(rc == 0 || rc == -ETIMEDOUT);
	s->outer_reached = true;
	return ringo_sleep(0);
}

static void test_uncancel_structured_blocks(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	struct structured s1 = {.sleep = RINGO_SEC(10), .timeout = RINGO_MSEC(100)};
	struct structured s2 = {.sleep = 0, .timeout = RINGO_SEC(10)};
	ringo_task *t1, *t2;
	ringo_spawn(loop, make_request_with_timeout, &s1, NULL, &t1);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t1), NULL), 0);
	assert_true(s1.timed_out);
	assert_false(s1.block_finished);
	assert_true(s1.outer_reached);
	assert_int_equal(ringo_task_cancelling(t1), 0);
	ringo_spawn(loop, make_request_with_timeout, &s2, NULL, &t2);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t2), NULL), 0);
	assert_false(s2.timed_out);
	assert_true(s2.block_finished);
	assert_true(s2.outer_reached);
	assert_int_equal(ringo_task_cancelling(t2), 0);
	ringo_task_release(t1);
	ringo_task_release(t2);
	test_loop_free(loop, &ca);
}

static int await_then_42(void *arg, void **result)
{
	int rc = ringo_await(arg, NULL);
	*result = (void *)(intptr_t)42;
	return rc;
}

static void test_uncancel_resets_must_cancel(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	ringo_future_new(loop, &f);
	ringo_task *t;
	ringo_spawn(loop, await_then_42, f, NULL, &t);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop); /* the task waits for f */
	ringo_future_set_result(f, NULL); /* runnable */
	assert_true(ringo_task_cancel(t, NULL));
	assert_int_equal(ringo_task_cancelling(t), 1);
	assert_int_equal(ringo_task_uncancel(t), 0); /* undone before it ran */
	void *v = NULL;
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), &v), 0);
	assert_int_equal((intptr_t)v, 42);
	ringo_future_release(f);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void cancel_task_soon(void *arg)
{
	ringo_task_cancel(arg, NULL);
}

static void test_cancel(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_task *t;
	ringo_spawn(loop, sleeps_10s, NULL, NULL, &t);
	ringo_call_soon(loop, cancel_task_soon, t, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	assert_true(ringo_future_done(ringo_task_future(t)));
	assert_true(ringo_future_cancelled(ringo_task_future(t)));
	assert_false(ringo_task_cancel(t, NULL));
	assert_int_equal(ringo_loop_time_ns(loop), 0);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

struct msg_case {
	const char *msg;
	bool before_start;
	bool use_error;     /* read it with ringo_future_error, else result */
	int rc;
	const char *seen;
};

static int cancel_then_wait(void *arg, void **result)
{
	struct msg_case *m = arg;
	ringo_task *t;
	ringo_spawn(ringo_loop_current(), sleeps_10s, NULL, NULL, &t);
	if (!m->before_start)
		ringo_sleep(0);
	ringo_task_cancel(t, m->msg);
	ringo_future *f = ringo_task_future(t);
	assert_int_equal(ringo_wait(&f, 1, RINGO_ALL_COMPLETED, RINGO_FOREVER, NULL), 1);
	m->rc = m->use_error ? ringo_future_error(f) : ringo_future_result(f, NULL);
	m->seen = ringo_future_cancel_message(f);
	ringo_task_release(t);
	return m->rc;
}

static void check_cancel_message(bool before_start, bool use_error)
{
	const char *msgs[] = {NULL, "my message"};
	for (int i = 0; i < 2; i++) {
		struct counting_allocator ca;
		ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
		struct msg_case m = {.msg = msgs[i], .before_start = before_start, .use_error = use_error};
		ringo_task *t;
		ringo_spawn(loop, cancel_then_wait, &m, NULL, &t);
		assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
				 -ECANCELED);
		assert_int_equal(m.rc, -ECANCELED);
		if (msgs[i])
			assert_string_equal(m.seen, msgs[i]);
		else
			assert_null(m.seen);
		ringo_task_release(t);
		test_loop_free(loop, &ca);
	}
}

static void test_cancel_with_message_then_future_result(void **state)
{
	check_cancel_message(false, false);
}

static void test_cancel_with_message_then_future_exception(void **state)
{
	check_cancel_message(false, true);
}

static void test_cancel_with_message_before_starting_task(void **state)
{
	check_cancel_message(true, true);
}

static int sleeps_0_twice(void *arg, void **result)
{
	int rc = ringo_sleep(0);
	if (rc == 0)
		rc = ringo_sleep(0);
	*result = (void *)(intptr_t)12;
	return rc;
}

static void test_cancel_yield(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	ringo_spawn(loop, sleeps_0_twice, NULL, NULL, &t);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop); /* start it */
	ringo_task_cancel(t, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	assert_true(ringo_future_cancelled(ringo_task_future(t)));
	assert_false(ringo_task_cancel(t, NULL));
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void test_cancel_inner_future(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	ringo_future_new(loop, &f);
	ringo_task *t;
	ringo_spawn(loop, await_then_42, f, NULL, &t);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop);
	ringo_future_cancel(f, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	assert_true(ringo_future_cancelled(f));
	assert_true(ringo_future_cancelled(ringo_task_future(t)));
	ringo_future_release(f);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void test_cancel_both_task_and_inner_future(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	ringo_future_new(loop, &f);
	ringo_task *t;
	ringo_spawn(loop, await_then_42, f, NULL, &t);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop);
	ringo_future_cancel(f, NULL);
	ringo_task_cancel(t, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	assert_true(ringo_future_done(ringo_task_future(t)));
	assert_true(ringo_future_cancelled(f));
	assert_true(ringo_future_cancelled(ringo_task_future(t)));
	ringo_future_release(f);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

struct three_futs {
	ringo_future *f[3];
	bool ignore;         /* test_cancel_task_ignoring, else catching */
};

static int catch_on_second(void *arg, void **result)
{
	struct three_futs *tf = arg;
	ringo_await(tf->f[0], NULL);
	if (ringo_await(tf->f[1], NULL) == -ECANCELED && !tf->ignore) {
		*result = (void *)(intptr_t)42;
		return 0;
	}
	return ringo_await(tf->f[2], result);
}

static void cancel_on_second_future(bool ignore)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct three_futs tf = {.ignore = ignore};
	for (int i = 0; i < 3; i++)
		ringo_future_new(loop, &tf.f[i]);
	ringo_task *t;
	ringo_spawn(loop, catch_on_second, &tf, NULL, &t);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop);
	ringo_future_set_result(tf.f[0], NULL);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop); /* now waiting on f[1] */
	ringo_task_cancel(t, NULL);
	assert_true(ringo_future_cancelled(tf.f[1])); /* at once */
	if (ignore) {
		ringo_loop_stop(loop);
		ringo_loop_run_forever(loop); /* now waiting on f[2] */
		ringo_future_set_result(tf.f[2], (void *)(intptr_t)42);
	}
	void *v = NULL;
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), &v), 0);
	assert_int_equal((intptr_t)v, 42);
	assert_false(ringo_future_cancelled(ringo_task_future(t)));
	assert_false(ringo_future_cancelled(tf.f[2]));
	for (int i = 0; i < 3; i++) {
		if (!ringo_future_done(tf.f[i]))
			ringo_future_cancel(tf.f[i], NULL);
		ringo_future_release(tf.f[i]);
	}
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void test_cancel_task_catching(void **state)
{
	cancel_on_second_future(false);
}

static void test_cancel_task_ignoring(void **state)
{
	cancel_on_second_future(true);
}

static int cancels_itself_then_sleeps(void *arg, void **result)
{
	ringo_task_cancel(ringo_task_current(), NULL);
	int rc = ringo_sleep(RINGO_SEC(100)); /* cancelled at once */
	*result = (void *)(intptr_t)12;
	return rc;
}

static void test_cancel_current_task(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_task *t;
	ringo_spawn(loop, cancels_itself_then_sleeps, NULL, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	assert_true(ringo_future_cancelled(ringo_task_future(t)));
	assert_int_equal(ringo_loop_time_ns(loop), 0);
	assert_false(ringo_task_cancel(t, NULL));
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int cancels_itself_then_returns(void *arg, void **result)
{
	ringo_task_cancel(ringo_task_current(), NULL);
	*result = (void *)(intptr_t)12;
	return 0;
}

static void test_cancel_at_end(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	ringo_spawn(loop, cancels_itself_then_returns, NULL, NULL, &t);
	/* A cancellation still pending when the body returns wins. */
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	assert_true(ringo_future_cancelled(ringo_task_future(t)));
	assert_false(ringo_task_cancel(t, NULL));
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int counts_to_ten(void *arg, void **result)
{
	int *x = arg;
	while (*x < 10) {
		int rc = ringo_sleep(RINGO_MSEC(100));
		if (rc < 0)
			return rc;
		if (++*x == 2)
			ringo_loop_stop(ringo_loop_current());
	}
	return 0;
}

static void test_stop_while_run_in_complete(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	int x = 0;
	ringo_task *t;
	ringo_spawn(loop, counts_to_ten, &x, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), -EINTR);
	assert_false(ringo_future_done(ringo_task_future(t)));
	assert_int_equal(x, 2);
	assert_int_equal(ringo_loop_time_ns(loop), RINGO_MSEC(200));
	ringo_task_cancel(t, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int sleeper_twice(void *arg, void **result)
{
	int rc = ringo_sleep(RINGO_MSEC(50));
	if (rc == 0)
		rc = ringo_sleep(RINGO_MSEC(50));
	*result = arg;
	return rc;
}

static void test_sleep(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_task *t;
	ringo_spawn(loop, sleeper_twice, "yeah", NULL, &t);
	void *v = NULL;
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), &v), 0);
	assert_string_equal(v, "yeah");
	assert_int_equal(ringo_loop_time_ns(loop), RINGO_MSEC(100));
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void test_sleep_cancel(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_task *t;
	ringo_spawn(loop, sleeps_10s, NULL, NULL, &t);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop);
	assert_int_equal(loop->timers.live, 1); /* the sleep's timer */
	ringo_task_cancel(t, NULL);
	assert_int_equal(loop->timers.live, 0); /* cancelled with it */
	ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int sleeps_5000s(void *arg, void **result)
{
	return ringo_sleep(RINGO_SEC(5000));
}

static int cancel_sleeping_task(void *arg, void **result)
{
	ringo_task *sleeper;
	ringo_spawn(ringo_loop_current(), sleeps_5000s, NULL, NULL, &sleeper);
	ringo_call_later(ringo_loop_current(), RINGO_MSEC(100), cancel_task_soon, sleeper, NULL);
	int rc = ringo_await(ringo_task_future(sleeper), NULL);
	ringo_task_release(sleeper);
	*result = rc == -ECANCELED ? (void *)"cancelled" : (void *)"slept in";
	return 0;
}

static void test_task_cancel_sleeping_task(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_task *t;
	ringo_spawn(loop, cancel_sleeping_task, NULL, NULL, &t);
	void *v = NULL;
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), &v), 0);
	assert_string_equal(v, "cancelled");
	assert_int_equal(ringo_loop_time_ns(loop), RINGO_MSEC(100));
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void test_task_cancel_waiter_future(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	ringo_future_new(loop, &f);
	ringo_task *t;
	ringo_spawn(loop, await_then_42, f, NULL, &t);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop);
	ringo_task_cancel(t, NULL);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	assert_true(ringo_future_cancelled(f));
	ringo_future_release(f);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int fails_when_cancelled(void *arg, void **result)
{
	int rc = ringo_sleep(RINGO_SEC(10));
	return rc == -ECANCELED ? -EPIPE : rc; /* "raise base_exc" */
}

static void test_baseexception_during_cancel(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_task *t;
	ringo_spawn(loop, fails_when_cancelled, NULL, NULL, &t);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop);
	ringo_task_cancel(t, NULL);
	assert_false(ringo_future_done(ringo_task_future(t)));
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), -EPIPE);
	assert_false(ringo_future_cancelled(ringo_task_future(t)));
	assert_int_equal(ringo_future_error(ringo_task_future(t)), -EPIPE);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int returns_a_future(void *arg, void **result)
{
	*result = arg; /* a value like any other: not awaited */
	return 0;
}

static int sets_it(void *arg, void **result)
{
	return ringo_future_set_result(arg, (void *)"test");
}

static void test_coroutine_non_gen_function_return_future(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_future *f;
	ringo_future_new(loop, &f);
	ringo_task *t1, *t2;
	ringo_spawn(loop, returns_a_future, f, NULL, &t1);
	ringo_spawn(loop, sets_it, f, NULL, &t2);
	void *v = NULL;
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t1), &v), 0);
	assert_ptr_equal(v, f);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t2), NULL), 0);
	ringo_future_release(f);
	ringo_task_release(t1);
	ringo_task_release(t2);
	test_loop_free(loop, &ca);
}

static int checks_current(void *arg, void **result)
{
	assert_ptr_equal(ringo_task_current(), *(ringo_task **)arg);
	return 0;
}

static void test_current_task(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	assert_null(ringo_task_current());
	ringo_task *t;
	ringo_spawn(loop, checks_current, &t, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	assert_null(ringo_task_current());
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

struct interleave {
	ringo_future *f1, *f2;
	ringo_task *t1, *t2;
};

static int coro1(void *arg, void **result)
{
	struct interleave *in = arg;
	assert_ptr_equal(ringo_task_current(), in->t1);
	ringo_await(in->f1, NULL);
	assert_ptr_equal(ringo_task_current(), in->t1);
	return ringo_future_set_result(in->f2, NULL);
}

static int coro2(void *arg, void **result)
{
	struct interleave *in = arg;
	assert_ptr_equal(ringo_task_current(), in->t2);
	ringo_future_set_result(in->f1, NULL);
	ringo_await(in->f2, NULL);
	assert_ptr_equal(ringo_task_current(), in->t2);
	return 0;
}

static void test_current_task_with_interleaving_tasks(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct interleave in;
	ringo_future_new(loop, &in.f1);
	ringo_future_new(loop, &in.f2);
	ringo_spawn(loop, coro1, &in, NULL, &in.t1);
	ringo_spawn(loop, coro2, &in, NULL, &in.t2);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(in.t1), NULL), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(in.t2), NULL), 0);
	assert_null(ringo_task_current());
	ringo_future_release(in.f1);
	ringo_future_release(in.f2);
	ringo_task_release(in.t1);
	ringo_task_release(in.t2);
	test_loop_free(loop, &ca);
}

struct proof {
	ringo_future *waiter;
	int proof;
};

/* A plain function called by the task: with stackful tasks, "await
 * inner()" is just a call. */
static int inner_awaits_waiter(struct proof *p)
{
	int rc = ringo_await(p->waiter, NULL);
	if (rc == -ECANCELED)
		p->proof += 1;
	return rc;
}

static int outer_calls_inner(void *arg, void **result)
{
	struct proof *p = arg;
	if (inner_awaits_waiter(p) == -ECANCELED)
		p->proof += 100; /* expect this path */
	else
		p->proof += 10;
	return 0;
}

static void test_yield_future_passes_cancel(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct proof p = {0};
	ringo_future_new(loop, &p.waiter);
	ringo_task *t;
	ringo_spawn(loop, outer_calls_inner, &p, NULL, &t);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop);
	ringo_task_cancel(t, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	assert_int_equal(p.proof, 101);
	assert_true(ringo_future_cancelled(p.waiter));
	ringo_future_release(p.waiter);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int inner_task(void *arg, void **result)
{
	struct proof *p = arg;
	ringo_await(p->waiter, NULL);
	p->proof += 1;
	return 0;
}

static int outer_waits(void *arg, void **result)
{
	struct proof *p = arg;
	ringo_task *in;
	ringo_spawn(ringo_loop_current(), inner_task, p, NULL, &in);
	ringo_future *f = ringo_task_future(in);
	int rc = ringo_wait(&f, 1, RINGO_ALL_COMPLETED, RINGO_FOREVER, NULL);
	ringo_task_release(in);
	if (rc < 0)
		return rc;
	p->proof += 100;
	return 0;
}

static void test_yield_wait_does_not_shield_cancel(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct proof p = {0};
	ringo_future_new(loop, &p.waiter);
	ringo_task *t;
	ringo_spawn(loop, outer_waits, &p, NULL, &t);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop);
	ringo_task_cancel(t, NULL);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	/* wait returned early and left inner running. */
	ringo_future_set_result(p.waiter, NULL);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop);
	assert_int_equal(p.proof, 1);
	ringo_future_release(p.waiter);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static int returns_1(void *arg, void **result)
{
	*result = (void *)(intptr_t)1;
	return 0;
}

static int bare_create_task(void *arg, void **result)
{
	ringo_task_options o = {.name = "No-op"};
	ringo_task *t;
	assert_int_equal(ringo_spawn(ringo_loop_current(), returns_1, NULL, &o, &t), 0);
	assert_string_equal(ringo_task_name(t), "No-op");
	void *v = NULL;
	int rc = ringo_await(ringo_task_future(t), &v);
	assert_int_equal((intptr_t)v, 1);
	ringo_task_release(t);
	return rc;
}

static void test_bare_create_task(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	ringo_spawn(loop, bare_create_task, NULL, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void inc_result(void *arg)
{
	*(int *)arg += 1;
}

static int sleep_zero_lets_callbacks_run(void *arg, void **result)
{
	int *r = arg;
	ringo_call_soon(ringo_loop_current(), inc_result, r, NULL);
	assert_int_equal(*r, 0);
	int rc = ringo_sleep(0);
	assert_int_equal(*r, 1); /* inc'ed by call_soon */
	*r += 10;
	return rc;
}

static void test_sleep_zero(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	int r = 0;
	ringo_task *t;
	ringo_spawn(loop, sleep_zero_lets_callbacks_run, &r, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	assert_int_equal(r, 11);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void cancel_with_msg_soon(void *arg)
{
	ringo_task_cancel(arg, "msg");
}

static int awaits_inner_cancelled_with_msg(void *arg, void **result)
{
	ringo_task *inner;
	ringo_spawn(ringo_loop_current(), sleeps_10s, NULL, NULL, &inner);
	ringo_call_soon(ringo_loop_current(), cancel_with_msg_soon, inner, NULL);
	int rc = ringo_await(ringo_task_future(inner), NULL);
	ringo_task_release(inner);
	return rc; /* lets the inner task's cancellation through */
}

static void test_cancellation_exception_context(void **state)
{
	/* asyncio: the CancelledError raised by awaiting a task cancelled
	 * with 'msg' carries 'msg'; a task that lets it through ends
	 * cancelled with it. */
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_task *t;
	ringo_spawn(loop, awaits_inner_cancelled_with_msg, NULL, NULL, &t);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ECANCELED);
	assert_string_equal(ringo_future_cancel_message(ringo_task_future(t)), "msg");
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spawned_task_runs_after_earlier_callbacks),
		cmocka_unit_test(test_sleeps_interleave_on_virtual_time),
		cmocka_unit_test(test_sleep_zero_round_robins),
		cmocka_unit_test(test_yielding_tasks_let_a_timer_fire),
		cmocka_unit_test(test_a_lone_yielding_task_carries_on_and_lets_a_timer_fire),
		cmocka_unit_test(test_yielding_tasks_let_io_complete),
		cmocka_unit_test(test_yielding_tasks_let_a_threadsafe_call_run),
		cmocka_unit_test(test_yielding_tasks_let_the_loop_stop),
		cmocka_unit_test(test_task_error_is_its_outcome),
		cmocka_unit_test(test_await_future_set_by_callback),
		cmocka_unit_test(test_await_another_task),
		cmocka_unit_test(test_suspending_outside_a_task_and_awaiting_self_are_errors),
		cmocka_unit_test(test_cancel_interrupts_a_sleep_and_the_task_may_carry_on),
		cmocka_unit_test(test_cancelled_task_reports_its_message),
		cmocka_unit_test(test_task_cancelled_before_first_step_never_runs),
		cmocka_unit_test(test_self_cancel_is_delivered_at_next_suspension),
		cmocka_unit_test(test_cancel_after_wake_before_run_is_delivered_there),
		cmocka_unit_test(test_cancelling_an_awaiting_task_cancels_what_it_awaits),
		cmocka_unit_test(test_cancelling_a_task_awaiting_a_future_cancels_the_future),
		cmocka_unit_test(test_current_task_and_all_tasks),
		cmocka_unit_test(test_dump_tasks_lists_name_state_and_wait),
		cmocka_unit_test(test_fire_and_forget_tasks_are_kept_alive_and_freed),
		cmocka_unit_test(test_stack_size_option),
		cmocka_unit_test(test_close_with_live_tasks_leaks_nothing),
		cmocka_unit_test(test_run_cancels_leftover_tasks),
		cmocka_unit_test(test_done_callback_on_a_task),
		cmocka_unit_test(test_stack_overflow_is_reported_by_task_name),
		cmocka_unit_test(test_compact_tasks_sleep_and_finish),
		cmocka_unit_test(test_stack_size_picks_the_class),
		cmocka_unit_test(test_compact_task_allocates_on_the_loop_threads_stack),
		cmocka_unit_test(test_compact_task_spawns_tasks_of_new_sizes),
		cmocka_unit_test(test_compact_task_survives_a_signal_handled_on_the_alternate_stack),
		cmocka_unit_test(test_compact_overflow_into_a_neighbour_is_reported_by_name),
		cmocka_unit_test(test_compact_overflow_into_the_slab_guard_is_reported_by_name),
		cmocka_unit_test(test_spawn_allocation_failure),
		cmocka_unit_test(test_slow_task_and_callback_are_reported_by_name),
		cmocka_unit_test(test_idle_stacks_give_memory_back_later),
		cmocka_unit_test(test_task_set_methods_are_refused),
		cmocka_unit_test(test_task_setting_its_own_result_is_refused),
		cmocka_unit_test(test_future_cancel_on_a_task_is_task_cancel),
		cmocka_unit_test(test_cancel_awaited_task),
		cmocka_unit_test(test_cancel_before_await_cancels_the_awaited_future),
		cmocka_unit_test(test_cancel_before_await_waits_for_a_task_that_absorbs_it),
		cmocka_unit_test(test_deep_await_chain_cancels_without_recursion),
		cmocka_unit_test(test_deep_gather_nesting_cancels_without_recursion),
		cmocka_unit_test(test_deep_await_chain_completes_through_wake_ups),
		cmocka_unit_test(test_cancelling_tasks_that_await_each_other_returns),
		cmocka_unit_test(test_null_task_and_future_arguments),
		cmocka_unit_test(test_task_class),
		cmocka_unit_test(test_task_cancel_message_getter),
		cmocka_unit_test(test_other_loop_future),
		cmocka_unit_test(test_task_awaits_on_itself),
		cmocka_unit_test(test_task_repr_autogenerated),
		cmocka_unit_test(test_task_basics),
		cmocka_unit_test(test_cancelling),
		cmocka_unit_test(test_uncancel_basic),
		cmocka_unit_test(test_uncancel_structured_blocks),
		cmocka_unit_test(test_uncancel_resets_must_cancel),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_cancel_with_message_then_future_result),
		cmocka_unit_test(test_cancel_with_message_then_future_exception),
		cmocka_unit_test(test_cancel_with_message_before_starting_task),
		cmocka_unit_test(test_cancel_yield),
		cmocka_unit_test(test_cancel_inner_future),
		cmocka_unit_test(test_cancel_both_task_and_inner_future),
		cmocka_unit_test(test_cancel_task_catching),
		cmocka_unit_test(test_cancel_task_ignoring),
		cmocka_unit_test(test_cancel_current_task),
		cmocka_unit_test(test_cancel_at_end),
		cmocka_unit_test(test_stop_while_run_in_complete),
		cmocka_unit_test(test_sleep),
		cmocka_unit_test(test_sleep_cancel),
		cmocka_unit_test(test_task_cancel_sleeping_task),
		cmocka_unit_test(test_task_cancel_waiter_future),
		cmocka_unit_test(test_baseexception_during_cancel),
		cmocka_unit_test(test_coroutine_non_gen_function_return_future),
		cmocka_unit_test(test_current_task),
		cmocka_unit_test(test_current_task_with_interleaving_tasks),
		cmocka_unit_test(test_yield_future_passes_cancel),
		cmocka_unit_test(test_yield_wait_does_not_shield_cancel),
		cmocka_unit_test(test_bare_create_task),
		cmocka_unit_test(test_sleep_zero),
		cmocka_unit_test(test_cancellation_exception_context),
	};
	/* RINGO_TEST_FILTER=pattern runs only the matching tests. */
	if (getenv("RINGO_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RINGO_TEST_FILTER"));
	return cmocka_run_group_tests_name("task", tests, NULL, NULL);
}
