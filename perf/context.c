/*
 * context: what task-local context costs (ringo/context.h).
 *   build/perf/context [N]
 * Prints, best of 5 rounds of N operations:
 *   spawn_join_ns          spawn+await+release, the parent has no context
 *   spawn_join_ctx_ns      the same with 4 values set in the parent (the
 *                          child shares its map: one atomic inc and dec)
 *   spawn_ctx_ratio        the second over the first, same run
 *   context_get_ns         a get with 4 keys set
 *   context_set_ns         a set replacing a value no other task sees
 *                          (edited in place)
 *   context_set_shared_ns  a child's first set, which copies the map it
 *                          shares with its parent (spawn+join excluded)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ringo.h"
#include "times.h"

static long n;
static ringo_context_key *keys[4];
static double best[5];

static int child(void *arg, void **result)
{
	*result = arg;
	return 0;
}

static int child_sets(void *arg, void **result)
{
	double t0 = now_ns();
	if (ringo_context_set(keys[0], arg) < 0)
		abort();
	*(double *)arg += now_ns() - t0;
	return 0;
}

static double spawn_join(ringo_task_fn *fn, void *arg)
{
	ringo_loop *loop = ringo_loop_current();
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		ringo_task *t;
		if (ringo_spawn(loop, fn, arg ? arg : RINGO_PTR(i), NULL, &t) < 0 ||
		    ringo_await(ringo_task_future(t), NULL) < 0)
			abort();
		ringo_task_release(t);
	}
	return (now_ns() - t0) / n;
}

static void keep_best(int i, double v)
{
	if (best[i] == 0 || v < best[i])
		best[i] = v;
}

static int round_body(void *arg, void **result)
{
	keep_best(0, spawn_join(child, NULL));
	for (int k = 0; k < 4; k++)
		if (ringo_context_set(keys[k], RINGO_PTR(k + 1)) < 0)
			abort();
	keep_best(1, spawn_join(child, NULL));

	volatile intptr_t sum = 0;
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		sum += RINGO_INT(ringo_context_get(keys[i & 3]));
	keep_best(2, (now_ns() - t0) / n);

	t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (ringo_context_set(keys[i & 3], RINGO_PTR(i + 1)) < 0)
			abort();
	keep_best(3, (now_ns() - t0) / n);

	double set_time = 0;
	spawn_join(child_sets, &set_time);
	keep_best(4, set_time / n);
	for (int k = 0; k < 4; k++)
		ringo_context_set(keys[k], NULL);
	(void)sum;
	return 0;
}

int main(int argc, char **argv)
{
	n = argc > 1 ? atol(argv[1]) : 1000000;
	for (int k = 0; k < 4; k++)
		if (ringo_context_key_new(NULL, &keys[k]) < 0)
			abort();
	for (int r = 0; r < 5; r++)
		if (ringo_run(round_body, NULL, NULL, NULL) < 0)
			abort();
	printf("spawn_join_ns %.1f\n", best[0]);
	printf("spawn_join_ctx_ns %.1f\n", best[1]);
	printf("spawn_ctx_ratio %.3f\n", best[1] / best[0]);
	printf("context_get_ns %.1f\n", best[2]);
	printf("context_set_ns %.1f\n", best[3]);
	printf("context_set_shared_ns %.1f\n", best[4]);
	for (int k = 0; k < 4; k++)
		ringo_context_key_free(keys[k]);
	return 0;
}
