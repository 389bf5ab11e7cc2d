/*
 * Running a loop until something is done: ringo_loop_run_until_complete
 * (one future) and ringo_run (asyncio.run: a main task on a fresh loop,
 * then every task still alive cancelled and waited for).
 *
 * Above future.c and task.c (runtime/LAYERS.md), which is why this is not
 * in loop.c: the run loop itself knows neither. It goes through the task
 * layer's public calls (ringo_loop_tasks, ringo_task_cancel, ringo_await)
 * and so needs nothing of its internals.
 */
#include "internal.h"

static void stop_when_done(ringo_future *fut, void *arg)
{
	RINGO_ASSERT(fut->loop->running); /* a closed loop runs no callback */
	ringo_loop_stop(fut->loop);
}

int ringo_loop_run_until_complete(ringo_loop *loop, ringo_future *fut, void **result)
{
	if (!loop || !fut)
		return -EINVAL;
	if (fut->loop != loop)
		return -EINVAL;
	/* Checked here too so a refused run leaves no callback behind. */
	if (loop->closed)
		return -ESHUTDOWN;
	if (loop->running || ringo__current_loop)
		return -EBUSY;
	ringo_future_ref(fut);
	int err = ringo_future_add_done_callback(fut, stop_when_done, NULL);
	if (err == 0)
		err = ringo_loop_run_forever(loop);
	ringo_future_remove_done_callback(fut, stop_when_done, NULL);
	if (err == 0)
		err = ringo_future_done(fut) ? ringo_future_result(fut, result) : -EINTR;
	ringo_future_release(fut);
	return err;
}

/* ---- asyncio.run ---- */

/* The loop's not-done tasks at one moment, but one (the caller's own),
 * each held by a reference: ringo_loop_tasks lends them only until they
 * finish, and waiting for them is what makes them finish. */
struct live_set {
	ringo_task **v;
	size_t n;   /* tasks in v */
	size_t cap; /* v's size, for ringo__free */
};

/* 0 (set->n may be 0) or -ENOMEM (set empty). */
static int take_live(ringo_loop *loop, ringo_task *self, struct live_set *set)
{
	*set = (struct live_set){0};
	int total = ringo_loop_tasks(loop, NULL, 0);
	RINGO_ASSERT(total >= 0);
	if (total == 0)
		return 0;
	size_t cap = (size_t)total;
	ringo_task **v = ringo__alloc(loop, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	int again = ringo_loop_tasks(loop, v, cap);
	RINGO_ASSERT(again == total); /* nothing ran in between */
	size_t n = 0;
	for (size_t i = 0; i < cap; i++) {
		if (v[i] == self)
			continue;
		ringo_future_ref(ringo_task_future(v[i]));
		v[n++] = v[i];
	}
	*set = (struct live_set){.v = v, .n = n, .cap = cap};
	return 0;
}

static void drop_live(ringo_loop *loop, struct live_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		ringo_task_release(set->v[i]);
	ringo__free(loop, set->v, set->cap * sizeof(*set->v));
	*set = (struct live_set){0};
}

/* The cancel-all task: wait until it is the last task alive, round by
 * round, since a task may spawn others while it winds down. Out of memory
 * it stops waiting; the loop's close then abandons what is left, as it
 * does for any task alive at close. */
static int wait_all(void *arg, void **result)
{
	ringo_loop *loop = arg;
	ringo_task *self = ringo_task_current();
	RINGO_ASSERT(self != NULL);
	for (;;) {
		struct live_set set;
		int err = take_live(loop, self, &set);
		if (err < 0)
			return err;
		if (set.n == 0) {
			drop_live(loop, &set);
			return 0;
		}
		for (size_t i = 0; i < set.n; i++) {
			ringo_future *f = ringo_task_future(set.v[i]);
			/* -ECANCELED with f pending was aimed at us: keep waiting. */
			while (ringo_await(f, NULL) == -ECANCELED && !ringo_future_done(f))
				;
		}
		drop_live(loop, &set);
	}
}

/* asyncio's _cancel_all_tasks: cancel every live task, then run the loop
 * until all of them have finished. */
void ringo__cancel_all_and_wait(ringo_loop *loop)
{
	RINGO_ASSERT(loop != NULL);
	RINGO_ASSERT(!loop->running);
	loop->ending = true;
	if (loop->closed)
		return;
	struct live_set set;
	if (take_live(loop, NULL, &set) < 0 || set.n == 0) {
		drop_live(loop, &set);
		return; /* out of memory: left to the close, as above */
	}
	for (size_t i = 0; i < set.n; i++)
		ringo_task_cancel(set.v[i], NULL);
	drop_live(loop, &set);
	ringo_task *waiter;
	ringo_task_options to = {.name = "cancel-all"};
	if (ringo_spawn(loop, wait_all, loop, &to, &waiter) < 0)
		return;
	ringo_loop_run_until_complete(loop, ringo_task_future(waiter), NULL);
	ringo_task_release(waiter);
}

int ringo_run(ringo_task_fn *main_fn, void *arg, const ringo_loop_options *opts, void **result)
{
	if (!main_fn)
		return -EINVAL;
	ringo_loop *loop;
	int err = ringo_loop_new(opts, &loop);
	if (err < 0)
		return err;
	ringo_task *main_task;
	ringo_task_options to = {.name = "main"};
	err = ringo_spawn(loop, main_fn, arg, &to, &main_task);
	if (err < 0) {
		ringo_loop_free(loop);
		return err;
	}
	int rc = ringo_loop_run_until_complete(loop, ringo_task_future(main_task), result);
	ringo__cancel_all_and_wait(loop);
	ringo_task_release(main_task);
	ringo_loop_close(loop);
	ringo_loop_free(loop);
	return rc;
}
