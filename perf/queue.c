/*
 * queue: one producer and one consumer task pass 10,000,000 items through
 * a bounded ringo_queue (maxsize 1024, as perf/go/chan's channel), on one
 * loop. Prints ns per item, producer start to consumer end.
 *   build/perf/queue [N]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ringo.h"

static long n;
static ringo_queue q;
static uint64_t sum;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

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

int main(int argc, char **argv)
{
	n = argc > 1 ? atol(argv[1]) : 10000000;
	ringo_loop *loop;
	if (ringo_loop_new(&loop, NULL) < 0 || ringo_queue_init(&q, loop, 1024) < 0)
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
		return 1;
	}
	ringo_task_release(p);
	ringo_task_release(c);
	ringo_queue_destroy(&q);
	ringo_loop_free(loop);
	printf("queue_ns_per_item %.2f\n", el * 1e9 / n);
	return 0;
}
