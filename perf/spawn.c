/*
 * spawn: spawn a task that returns at once, run it, collect its result and
 * free it, one at a time, from a parent task (ringo_spawn + ringo_await +
 * ringo_task_release). Prints ns per spawn+join.
 *   build/perf/spawn [N]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ringo.h"
#include "times.h"

static long n;

static int child(void *arg, void **result)
{
	*result = arg;
	return 0;
}

static int parent(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	intptr_t sum = 0;
	for (long i = 0; i < n; i++) {
		ringo_task *t;
		if (ringo_spawn(loop, child, (void *)(intptr_t)i, NULL, &t) < 0)
			abort();
		void *v;
		if (ringo_await(ringo_task_future(t), &v) < 0)
			abort();
		sum += (intptr_t)v;
		ringo_task_release(t);
	}
	*result = (void *)sum;
	return 0;
}

int main(int argc, char **argv)
{
	n = argc > 1 ? atol(argv[1]) : 1000000;
	double best = 1e18;
	for (int r = 0; r < 5; r++) {
		double t0 = now_ns();
		void *sum;
		if (ringo_run(parent, NULL, NULL, &sum) < 0 || (intptr_t)sum != (intptr_t)n * (n - 1) / 2)
			abort();
		double v = (now_ns() - t0) / n;
		if (v < best)
			best = v;
	}
	printf("spawn_join_ns %.1f\n", best);
	return 0;
}
