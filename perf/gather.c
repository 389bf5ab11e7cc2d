/*
 * gather: spawn 100,000 trivial tasks, gather them from a task and collect
 * every result. Prints ns per task for the whole spawn + run + collect,
 * best of 3 rounds on one loop after a warm-up round (so stacks are
 * already touched).
 *
 * With 100,000 tasks alive at once each task's record and first frames sit
 * in their own stack page, so every task costs a few cache and TLB misses
 * (about 250 ns each on these machines); the stacks themselves stay
 * committed between rounds (idle stacks give memory back only after about
 * a second). The second line, gather64_ns_per_task, gathers batches of 64
 * until N tasks have run: the cost of spawn + run + collect when the
 * tasks' memory stays in cache. The *_cpu_* lines are the same rounds in
 * this thread's CPU time, and ratio_cpu their quotient (the issue's
 * "within 2x the batched case").
 *   build/perf/gather [N]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ringo.h"
#include "times.h"

static long n;
static long batch; /* tasks per gather */
static ringo_task **tasks;
static ringo_future **futs;
static struct ringo_gather_result *out;

static int trivial(void *arg, void **result)
{
	*result = arg;
	return 0;
}

/* One round: returns seconds, or < 0 on error. */
static int round_task(void *arg, void **result)
{
	struct times *secs = arg;
	ringo_loop *loop = ringo_loop_current();
	struct times t0 = now();
	int err = 0;
	for (long done = 0; done < n && err == 0; done += batch) {
		long m = n - done < batch ? n - done : batch;
		for (long i = 0; i < m; i++) {
			if (ringo_spawn(loop, trivial, (void *)(intptr_t)i, NULL, &tasks[i]) < 0)
				return -ENOMEM;
			futs[i] = ringo_task_future(tasks[i]);
		}
		err = ringo_gather(futs, (size_t)m, false, out);
		for (long i = 0; i < m; i++) {
			if (err == 0 && out[i].value != (void *)(intptr_t)i)
				err = -EIO;
			ringo_task_release(tasks[i]);
		}
	}
	struct times t1 = now();
	secs->wall = t1.wall - t0.wall;
	secs->cpu = t1.cpu - t0.cpu;
	return err;
}

static struct times measure(void);

int main(int argc, char **argv)
{
	n = argc > 1 ? atol(argv[1]) : 100000;
	tasks = calloc((size_t)n, sizeof(*tasks));
	futs = calloc((size_t)n, sizeof(*futs));
	out = calloc((size_t)n, sizeof(*out));
	if (!tasks || !futs || !out)
		abort();
	batch = n;
	struct times whole = measure();
	batch = 64;
	struct times hot = measure();
	if (whole.wall < 0 || hot.wall < 0)
		return 1;
	printf("gather_ns_per_task %.1f\n", whole.wall * 1e9 / n);
	printf("gather64_ns_per_task %.1f\n", hot.wall * 1e9 / n);
	printf("gather_cpu_ns_per_task %.1f\n", whole.cpu * 1e9 / n);
	printf("gather64_cpu_ns_per_task %.1f\n", hot.cpu * 1e9 / n);
	printf("ratio_cpu gather/gather64 %.2f\n", whole.cpu / hot.cpu);
	free(tasks);
	free(futs);
	free(out);
	return 0;
}

/* Best of 3 rounds after a warm-up (wall and CPU each), in seconds; wall
 * < 0 on error. */
static struct times measure(void)
{
	ringo_loop *loop;
	if (ringo_loop_new(NULL, &loop) < 0)
		abort();
	struct times best = {1e18, 1e18};
	for (int r = 0; r < 4; r++) {
		struct times secs = {0, 0};
		ringo_task *t;
		if (ringo_spawn(loop, round_task, &secs, NULL, &t) < 0)
			abort();
		int err = ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL);
		ringo_task_release(t);
		if (err < 0) {
			fprintf(stderr, "gather: %s\n", ringo_strerror(err));
			ringo_loop_free(loop);
			return (struct times){-1, -1};
		}
		if (r > 0 && secs.wall < best.wall)
			best.wall = secs.wall;
		if (r > 0 && secs.cpu < best.cpu)
			best.cpu = secs.cpu;
	}
	ringo_loop_free(loop);
	return best;
}
