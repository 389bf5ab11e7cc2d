/*
 * million: spawn N tasks, then let them all go at once: each waits for
 * the start (an event set once all N are spawned), then sleeps MS
 * milliseconds; wait for all. All N are alive at the same time, whatever
 * spawning them costs (without the start, a runtime that spawns slowly
 * would have its first tasks done before its last ones began, and its
 * peak RSS would be for fewer). Prints tasks, spawn_s (time to spawn
 * them all), wall_s (start to the last one done) and peak_rss_kb (VmHWM). STACK is the tasks' stack size:
 * 0 (the default) is the loop's default guarded 64 KiB stack; 1024 ..
 * 16383 is the compact class (packed, canary-checked; ringo.h). Guard
 * pages stay on for guarded stacks.
 * perf/million_compare runs it beside the Go program doing the same.
 *   build/perf/million [N [MS [STACK]]]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ringo.h"
#include "times.h"

static long n_tasks, ms, remaining;
static ringo_task_options task_opts;
static ringo_future *all_done;
static ringo_event start;

static int sleeper(void *arg, void **result)
{
	int err = ringo_event_wait(&start);
	if (err == 0)
		err = ringo_sleep(RINGO_MSEC(ms));
	if (--remaining == 0)
		ringo_future_set_result(all_done, NULL);
	return err;
}

static long peak_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = atol(line + 6);
	if (f)
		fclose(f);
	return kb;
}

static double spawn_s, wall_s, start_s;

static int main_task(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	int err = ringo_future_new(loop, &all_done);
	if (err < 0)
		return err;
	remaining = n_tasks;
	double t0 = now_s();
	for (long i = 0; i < n_tasks; i++) {
		err = ringo_spawn(loop, sleeper, NULL, &task_opts, NULL);
		if (err < 0) {
			fprintf(stderr, "million: spawn %ld: %s\n", i, ringo_strerror(err));
			exit(1);
		}
	}
	spawn_s = now_s() - t0;
	ringo_event_set(&start);
	err = ringo_await(all_done, NULL);
	/* Measured when the last one is done, as the Go program does: loop
	 * teardown (unmapping a million stacks) is not part of the work. */
	wall_s = now_s() - start_s;
	ringo_future_release(all_done);
	return err;
}

int main(int argc, char **argv)
{
	n_tasks = argc > 1 ? atol(argv[1]) : 1000000;
	ms = argc > 2 ? atol(argv[2]) : 2000;
	long stack = argc > 3 ? atol(argv[3]) : 0;
	if (n_tasks <= 0 || ms < 0 || stack < 0) {
		fprintf(stderr, "usage: million [N [MS [STACK]]]\n");
		return 2;
	}
	task_opts.stack_size = (size_t)stack;
	ringo_event_init(&start);
	start_s = now_s();
	int err = ringo_run(main_task, NULL, NULL, NULL);
	if (err < 0) {
		fprintf(stderr, "million: %s\n", ringo_strerror(err));
		return 1;
	}
	printf("tasks %ld\n", n_tasks);
	printf("stack_bytes %ld\n", stack);
	printf("spawn_s %.3f\n", spawn_s);
	printf("wall_s %.3f\n", wall_s);
	printf("peak_rss_kb %ld\n", peak_rss_kb());
	return 0;
}
