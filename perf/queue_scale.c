/*
 * queue_scale: queue hand-offs with N tasks blocked at once against the
 * same work with 64 (issue 14's "scale without a cliff").
 *
 *   handoff: a ring of N tasks, task i blocked in get on its own 1-slot
 *     queue; a token goes round once, each task putting it into the next
 *     one's queue, so each of the N hand-offs wakes a task nobody has run
 *     since the previous round (put + wake + switch + get).
 *   handoff64: a ring of 64 tasks; the token goes round N / 64 times.
 *   deep_queue: N items put into an N-slot queue, then all taken
 *     (put_nowait / get_nowait: no task switch, the queue's own storage).
 *   deep_queue64: the same N items, 64 at a time through a 64-slot queue.
 *
 * The rings are spawned once per case and the token sent round 4 times:
 * a warm-up, then best of 3 (the tasks' stacks are touched but, with N
 * of them, no longer in cache). Prints ns per item in wall time and in
 * this thread's CPU time, and the CPU ratios (1.0: no cliff).
 *   build/perf/queue_scale [N]     default 1,000,000
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ringo.h"
#include "times.h"

#define LIVE_SMALL 64
#define ROUNDS 4 /* the first is a warm-up */

static long n;            /* hand-offs (items) per round */
static long ring_len;     /* tasks in the ring */
static ringo_queue *slots; /* slots[i]: task i's 1-slot queue */
static ringo_queue done;  /* the last hand-off of a round goes here */

static void keep_best(struct times *best, struct times t0, struct times t1)
{
	if (t1.wall - t0.wall < best->wall)
		best->wall = t1.wall - t0.wall;
	if (t1.cpu - t0.cpu < best->cpu)
		best->cpu = t1.cpu - t0.cpu;
}

/* The token counts its hand-offs; the one that makes n ends the round. */
static int relay(void *arg, void **result)
{
	long i = (long)(intptr_t)arg;
	ringo_queue *next = &slots[i + 1 == ring_len ? 0 : i + 1];
	void *token;
	int err;
	while ((err = ringo_queue_get(&slots[i], &token)) == 0) {
		uintptr_t k = (uintptr_t)token + 1;
		err = ringo_queue_put(k == (uintptr_t)n ? &done : next, (void *)k);
		if (err < 0)
			return err;
	}
	return err == -ESHUTDOWN ? 0 : err;
}

static int ring_rounds(void *arg, void **result)
{
	struct times *best = arg;
	ringo_loop *loop = ringo_loop_current();
	ringo_task **tasks = calloc((size_t)ring_len, sizeof(*tasks));
	if (!tasks)
		return -ENOMEM;
	int err = 0;
	for (long i = 0; i < ring_len && err == 0; i++)
		err = ringo_spawn(loop, relay, (void *)(intptr_t)i, NULL, &tasks[i]);
	if (err == 0)
		err = ringo_sleep(0); /* every relay runs into its get */
	for (int r = 0; r < ROUNDS && err == 0; r++) {
		void *last;
		struct times t0 = now();
		err = ringo_queue_put_nowait(&slots[0], (void *)(uintptr_t)0);
		if (err == 0)
			err = ringo_queue_get(&done, &last);
		struct times t1 = now();
		if (err == 0 && (uintptr_t)last != (uintptr_t)n)
			err = -EIO;
		if (r > 0)
			keep_best(best, t0, t1);
	}
	for (long i = 0; i < ring_len; i++)
		ringo_queue_shutdown(&slots[i], false);
	for (long i = 0; i < ring_len && tasks[i]; i++) {
		int rc = ringo_await(ringo_task_future(tasks[i]), NULL);
		if (err == 0)
			err = rc;
		ringo_task_release(tasks[i]);
	}
	free(tasks);
	return err;
}

static struct times handoff(long len)
{
	ring_len = len;
	ringo_loop *loop;
	if (ringo_loop_new(NULL, &loop) < 0)
		abort();
	slots = calloc((size_t)len, sizeof(*slots));
	if (!slots || ringo_queue_init(&done, loop, 1) < 0)
		abort();
	for (long i = 0; i < len; i++)
		if (ringo_queue_init(&slots[i], loop, 1) < 0)
			abort();
	struct times best = {1e18, 1e18};
	ringo_task *t;
	if (ringo_spawn(loop, ring_rounds, &best, NULL, &t) < 0)
		abort();
	int err = ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL);
	ringo_task_release(t);
	if (err < 0) {
		fprintf(stderr, "queue_scale: %s\n", ringo_strerror(err));
		exit(1);
	}
	for (long i = 0; i < len; i++)
		ringo_queue_destroy(&slots[i]);
	ringo_queue_destroy(&done);
	free(slots);
	ringo_loop_free(loop);
	return best;
}

/* n items through a queue of `depth` slots, filled and emptied in turn. */
static struct times deep(long depth)
{
	ringo_loop *loop;
	ringo_queue q;
	if (ringo_loop_new(NULL, &loop) < 0 || ringo_queue_init(&q, loop, (size_t)depth) < 0)
		abort();
	struct times best = {1e18, 1e18};
	for (int r = 0; r < ROUNDS; r++) {
		uintptr_t sum = 0;
		struct times t0 = now();
		for (long done_items = 0; done_items < n; done_items += depth) {
			long m = n - done_items < depth ? n - done_items : depth;
			for (long i = 0; i < m; i++)
				if (ringo_queue_put_nowait(&q, (void *)(uintptr_t)(done_items + i)) < 0)
					abort();
			for (long i = 0; i < m; i++) {
				void *item;
				if (ringo_queue_get_nowait(&q, &item) < 0)
					abort();
				sum += (uintptr_t)item;
			}
		}
		struct times t1 = now();
		if (sum != (uintptr_t)n * (uintptr_t)(n - 1) / 2) {
			fprintf(stderr, "queue_scale: wrong sum\n");
			exit(1);
		}
		if (r > 0)
			keep_best(&best, t0, t1);
	}
	ringo_queue_destroy(&q);
	ringo_loop_free(loop);
	return best;
}

static void print(const char *name, struct times all, struct times small)
{
	printf("%s_ns_per_item %.1f\n", name, all.wall * 1e9 / n);
	printf("%s64_ns_per_item %.1f\n", name, small.wall * 1e9 / n);
	printf("%s_cpu_ns_per_item %.1f\n", name, all.cpu * 1e9 / n);
	printf("%s64_cpu_ns_per_item %.1f\n", name, small.cpu * 1e9 / n);
	printf("ratio_cpu %s/%s64 %.2f\n", name, name, all.cpu / small.cpu);
}

int main(int argc, char **argv)
{
	n = argc > 1 ? atol(argv[1]) : 1000000;
	if (n < LIVE_SMALL) {
		fprintf(stderr, "usage: queue_scale [N >= %d]\n", LIVE_SMALL);
		return 2;
	}
	struct times all = handoff(n);
	struct times small = handoff(LIVE_SMALL);
	print("handoff", all, small);
	all = deep(n);
	small = deep(LIVE_SMALL);
	print("deep_queue", all, small);
	return 0;
}
