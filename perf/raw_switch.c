/*
 * raw_switch - ns per one-way ringo__fiber_switch between two fibers
 * (the thread and one task).  Best of 5 runs of 10M switches each.
 * Prints: raw_switch_ns <v>
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "fiber.h"
#include "stack.h"
#include "times.h"

#define SWITCHES 10000000L	/* one-way switches per run */
#define RUNS 5

static ringo__fiber sched, task;

static void entry_bounce(void *t)
{
	for (;;)
		t = ringo__fiber_switch(&task, &sched, t);
}

int main(void)
{
	ringo__stack_pool pool;
	ringo__stack s;
	double best = 1e30;

	if (ringo__stack_pool_init(&pool, NULL) || ringo__stack_alloc(&pool, &s))
		return 1;
	ringo__fiber_init_thread(&sched);
	if (ringo__fiber_init(&task, s.lo, s.hi, entry_bounce))
		return 1;
	ringo__fiber_switch(&sched, &task, NULL);	/* warm up, start it */
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ns();
		for (long i = 0; i < SWITCHES / 2; i++)
			ringo__fiber_switch(&sched, &task, (void *)i);
		double ns = (now_ns() - t0) / SWITCHES;
		if (ns < best)
			best = ns;
	}
	printf("raw_switch_ns %.2f\n", best);
	/* The task is parked in its loop forever; its stack is simply
	 * dropped with the pool (no fiber_exit_to needed for a benchmark). */
	ringo__fiber_destroy(&task);
	ringo__stack_free(&pool, &s);
	ringo__stack_pool_destroy(&pool);
	return 0;
}
