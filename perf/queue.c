/*
 * queue: one producer and one consumer task pass items through a bounded
 * ringo_queue on one loop. Prints ns per item, producer start to consumer
 * end:
 *   queue_ns_per_item           N items, maxsize 1024 (as perf/go/chan's
 *                               channel): the tasks switch once per 1024
 *   queue_pingpong_ns_per_item  N/10 items, maxsize 1: every item wakes the
 *                               consumer and then the producer (the wake
 *                               path, two task switches per item)
 *   build/perf/queue [N]        default N = 10,000,000
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ringo.h"
#include "times.h"

static long n;
static ringo_queue q;
static uint64_t sum;

static int producer(void *arg, void **result)
{
	for (long i = 0; i < n; i++) {
		int err = ringo_queue_put(&q, (void *)(uintptr_t)i);
		if (err < 0)
			return err;
	}
	ringo_queue_shutdown(&q, false); /* Go: close(ch) */
	return 0;
}

static int consumer(void *arg, void **result)
{
	void *item;
	int err;
	while ((err = ringo_queue_get(&q, &item)) == 0)
		sum += (uintptr_t)item;
	return err == -ESHUTDOWN ? 0 : err;
}

/* Pass `items` items through a queue of `maxsize` slots: ns per item. */
static double run(ringo_loop *loop, long items, size_t maxsize)
{
	n = items;
	sum = 0;
	if (ringo_queue_init(&q, loop, maxsize) < 0)
		abort();
	ringo_task *p, *c;
	double t0 = now_s();
	if (ringo_spawn(loop, consumer, NULL, NULL, &c) < 0 ||
	    ringo_spawn(loop, producer, NULL, NULL, &p) < 0)
		abort();
	int err = ringo_loop_run_until_complete(loop, ringo_task_future(c), NULL);
	double el = now_s() - t0;
	if (err == 0)
		err = ringo_loop_run_until_complete(loop, ringo_task_future(p), NULL);
	if (err < 0 || sum != (uint64_t)n * (uint64_t)(n - 1) / 2) {
		fprintf(stderr, "queue: wrong sum or error %d\n", err);
		exit(1);
	}
	ringo_task_release(p);
	ringo_task_release(c);
	ringo_queue_destroy(&q);
	return el * 1e9 / (double)items;
}

int main(int argc, char **argv)
{
	long items = argc > 1 ? atol(argv[1]) : 10000000;
	if (items < 10) {
		fprintf(stderr, "usage: queue [N >= 10]\n");
		return 2;
	}
	ringo_loop *loop;
	if (ringo_loop_new(NULL, &loop) < 0)
		abort();
	printf("queue_ns_per_item %.2f\n", run(loop, items, 1024));
	printf("queue_pingpong_ns_per_item %.2f\n", run(loop, items / 10, 1));
	ringo_loop_free(loop);
	return 0;
}
