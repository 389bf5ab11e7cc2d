/*
 * switch: one task-to-task switch through the scheduler. Two tasks take
 * turns with ringo_sleep(0) (asyncio.sleep(0)): each turn is a switch from
 * one task to the other, including the ready queue and the loop iteration.
 * Prints switch_ns, then runs the Boost.Context fcontext baseline built
 * beside it (build/perf/fcontext_switch) so both figures come from one run.
 *   build/perf/switch [TURNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ringo.h"
#include "times.h"

static long turns;

static int pinger(void *arg, void **result)
{
	for (long i = 0; i < turns; i++)
		ringo_sleep(0);
	return 0;
}

/* ntasks tasks take turns; each turn of each task is one switch. */
static double run_once(int ntasks)
{
	ringo_loop *loop;
	if (ringo_loop_new(NULL, &loop) < 0)
		abort();
	ringo_task *t[100];
	for (int i = 0; i < ntasks; i++)
		ringo_spawn(loop, pinger, NULL, NULL, &t[i]);
	double t0 = now_ns();
	ringo_loop_run_until_complete(loop, ringo_task_future(t[ntasks - 1]), NULL);
	double t1 = now_ns();
	for (int i = 0; i < ntasks; i++)
		ringo_task_release(t[i]);
	ringo_loop_free(loop);
	return (t1 - t0) / ((double)ntasks * turns);
}

static double best_of(int ntasks)
{
	double best = 1e18;
	for (int r = 0; r < 5; r++) {
		double v = run_once(ntasks);
		if (v < best)
			best = v;
	}
	return best;
}

int main(int argc, char **argv)
{
	turns = argc > 1 ? atol(argv[1]) : 5000000;
	/* Two tasks: every other switch goes through a loop iteration. */
	printf("switch_ns %.1f\n", best_of(2));
	/* A hundred: tasks hand over to each other directly within a batch. */
	turns /= 50;
	printf("switch_ns_100_tasks %.1f\n", best_of(100));
	fflush(stdout);
	/* The baseline, same run: the binary sits next to this one. */
	char self[4096], cmd[4200];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = 0;
		snprintf(cmd, sizeof(cmd), "%s/fcontext_switch", self);
		if (access(cmd, X_OK) == 0) {
			if (system(cmd) != 0)
				fprintf(stderr, "switch: fcontext baseline failed\n");
		} else {
			fprintf(stderr, "switch: %s not built (needs libboost-context-dev)\n", cmd);
		}
	}
	return 0;
}
