/*
 * to_thread: cost of a blocking call handed to a worker and back.
 *   to_thread_roundtrip_us  median of one call at a time
 *   eventfd_pingpong_us     raw floor: two threads bouncing through two eventfds
 *   to_thread_per_s         10,000 tasks calling a trivial function at once
 *                           (CALLS times each, after a warm-up round)
 *   to_thread_burst_ms      16 tasks each blocking 10 ms in to_thread at once,
 *   to_thread_burst_max_ms  on the default pool (6 workers on 2 CPUs): median
 *                           and worst wall time of 20 bursts; spread over the
 *                           workers that is about 30 ms, serialised 160 ms
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <ringo.h>
#include "times.h"

#define ROUNDS 2000
#define TASKS 10000
#define CALLS 20 /* per task: spawning 10,000 tasks is spawn's cost, not ours */

static int cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int trivial(void *arg, void **result)
{
	*result = arg;
	return 0;
}

static int64_t samples[ROUNDS];

static int one_at_a_time(void *arg, void **result)
{
	for (int i = 0; i < ROUNDS; i++) {
		int64_t t0 = now_ns();
		void *v;
		int err = ringo_to_thread(trivial, NULL, &v);
		if (err < 0)
			return err;
		samples[i] = now_ns() - t0;
	}
	return 0;
}

static int caller(void *arg, void **result)
{
	for (int i = 0; i < CALLS; i++) {
		void *v;
		int err = ringo_to_thread(trivial, NULL, &v);
		if (err < 0)
			return err;
	}
	return 0;
}

static int many(void *arg, void **result)
{
	static ringo_task *ts[TASKS];
	ringo_loop *loop = ringo_loop_current();
	for (int i = 0; i < TASKS; i++)
		if (ringo_spawn(loop, caller, NULL, NULL, &ts[i]) < 0)
			return -1;
	for (int i = 0; i < TASKS; i++) {
		ringo_await(ringo_task_future(ts[i]), NULL);
		ringo_task_release(ts[i]);
	}
	return 0;
}

#define BURST 16
#define BURSTS 20
static int64_t burst_ns[BURSTS];

static int block_10ms(void *arg, void **result)
{
	usleep(10000);
	return 0;
}

static int burst_caller(void *arg, void **result)
{
	return ringo_to_thread(block_10ms, NULL, result);
}

static int bursts(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	for (int b = 0; b < BURSTS; b++) {
		ringo_task *ts[BURST];
		int64_t t0 = now_ns();
		for (int i = 0; i < BURST; i++)
			if (ringo_spawn(loop, burst_caller, NULL, NULL, &ts[i]) < 0)
				return -1;
		for (int i = 0; i < BURST; i++) {
			ringo_await(ringo_task_future(ts[i]), NULL);
			ringo_task_release(ts[i]);
		}
		burst_ns[b] = now_ns() - t0;
		ringo_sleep(RINGO_USEC(20 * (b % 4))); /* idle workers: one spins, others sleep */
	}
	return 0;
}

static int efd_a, efd_b;

static void *bouncer(void *arg)
{
	uint64_t v;
	for (int i = 0; i < ROUNDS; i++) {
		if (read(efd_a, &v, 8) != 8)
			break;
		v = 1;
		if (write(efd_b, &v, 8) != 8)
			break;
	}
	return NULL;
}

static double eventfd_pingpong_us(void)
{
	efd_a = eventfd(0, 0);
	efd_b = eventfd(0, 0);
	pthread_t th;
	pthread_create(&th, NULL, bouncer, NULL);
	for (int i = 0; i < ROUNDS; i++) {
		int64_t t0 = now_ns();
		uint64_t v = 1;
		if (write(efd_a, &v, 8) != 8 || read(efd_b, &v, 8) != 8)
			break;
		samples[i] = now_ns() - t0;
	}
	pthread_join(th, NULL);
	close(efd_a);
	close(efd_b);
	qsort(samples, ROUNDS, sizeof(samples[0]), cmp);
	return samples[ROUNDS / 2] / 1e3;
}

int main(void)
{
	ringo_loop *loop;
	if (ringo_loop_new(NULL, &loop) < 0)
		return 1;
	if (getenv("WORKERS"))
		ringo_loop_set_default_executor_workers(loop, (unsigned)atoi(getenv("WORKERS")));
	ringo_task *t;
	ringo_spawn(loop, one_at_a_time, NULL, NULL, &t);
	if (ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL) < 0)
		return 1;
	ringo_task_release(t);
	qsort(samples, ROUNDS, sizeof(samples[0]), cmp);
	printf("to_thread_roundtrip_us %.2f\n", samples[ROUNDS / 2] / 1e3);
	printf("eventfd_pingpong_us %.2f\n", eventfd_pingpong_us());

	/* A first round warms the stack pool: fresh stacks cost page faults
	 * (about 3 us a page here), which is spawn's cost, not to_thread's. */
	ringo_spawn(loop, many, NULL, NULL, &t);
	ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL);
	ringo_task_release(t);
	ringo_spawn(loop, many, NULL, NULL, &t);
	int64_t t0 = now_ns();
	ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL);
	int64_t took = now_ns() - t0;
	ringo_task_release(t);
	printf("to_thread_per_s %.0f\n", (double)TASKS * CALLS / (took / 1e9));

	ringo_spawn(loop, bursts, NULL, NULL, &t);
	ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL);
	ringo_task_release(t);
	qsort(burst_ns, BURSTS, sizeof(burst_ns[0]), cmp);
	printf("to_thread_burst_ms %.1f\n", burst_ns[BURSTS / 2] / 1e6);
	printf("to_thread_burst_max_ms %.1f\n", burst_ns[BURSTS - 1] / 1e6);
	ringo_loop_free(loop);
	return 0;
}
