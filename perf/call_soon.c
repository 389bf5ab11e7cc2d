/*
 * call_soon: schedule and run 10,000,000 callbacks. Each callback schedules
 * the next, batches of 64 in flight, so the ready queue is exercised the
 * way a busy server uses it. Prints ns per scheduled-and-run callback.
 *   build/perf/call_soon [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ringo.h"
#include "times.h"

static ringo_loop *loop;
static long remaining;

static void cb(void *arg)
{
	if (--remaining <= 0) {
		ringo_loop_stop(loop);
		return;
	}
	ringo_call_soon(loop, cb, arg, NULL);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000000;
	double best = 1e18;
	for (int r = 0; r < 3; r++) {
		if (ringo_loop_new(NULL, &loop) < 0)
			abort();
		remaining = n;
		double t0 = now_s();
		for (int i = 0; i < 64; i++)
			ringo_call_soon(loop, cb, NULL, NULL);
		ringo_loop_run_forever(loop);
		double t1 = now_s();
		ringo_loop_free(loop);
		double v = (t1 - t0) * 1e9 / (n + 63);
		if (v < best)
			best = v;
	}
	printf("call_soon_ns_per_op %.1f\n", best);
	return 0;
}
