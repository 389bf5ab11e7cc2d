/*
 * await: a task awaits a pending plain future that a callback completes
 * (ringo_future_new, call_soon of set_result, ringo_await, release): the
 * path of every future-based wait. await_ns: the task waits in the
 * future's waiter slot. await_cb_ns: a done callback is added first, so
 * the task waits through a callback record after it (asyncio's order).
 * Best of 5 runs, ns per future.
 *   build/perf/await [N]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ringo.h"
#include "times.h"

static long n;
static long done_calls;

static void complete(void *arg)
{
	if (ringo_future_set_result(arg, (void *)1) < 0)
		abort();
}

static void on_done(ringo_future *fut, void *arg)
{
	done_calls++;
}

static int awaiter(void *arg, void **result)
{
	bool with_cb = arg != NULL;
	ringo_loop *loop = ringo_loop_current();
	intptr_t sum = 0;
	for (long i = 0; i < n; i++) {
		ringo_future *f;
		if (ringo_future_new(loop, &f) < 0 || ringo_call_soon(loop, complete, f, NULL) < 0)
			abort();
		if (with_cb && ringo_future_add_done_callback(f, on_done, NULL) < 0)
			abort();
		void *v;
		if (ringo_await(f, &v) < 0)
			abort();
		sum += (intptr_t)v;
		ringo_future_release(f);
	}
	*result = (void *)sum;
	return 0;
}

static double best_of_5(bool with_cb)
{
	double best = 1e18;
	for (int r = 0; r < 5; r++) {
		done_calls = 0;
		double t0 = now_ns();
		void *sum;
		if (ringo_run(awaiter, with_cb ? (void *)1 : NULL, NULL, &sum) < 0 ||
		    (intptr_t)sum != (intptr_t)n)
			abort();
		double v = (now_ns() - t0) / n;
		if (with_cb && done_calls != n)
			abort();
		if (v < best)
			best = v;
	}
	return best;
}

int main(int argc, char **argv)
{
	n = argc > 1 ? atol(argv[1]) : 1000000;
	printf("await_ns %.1f\n", best_of_5(false));
	printf("await_cb_ns %.1f\n", best_of_5(true));
	return 0;
}
