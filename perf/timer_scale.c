/*
 * timer_scale: N timers inserted and fired with all N live at once,
 * against the same N timers with only 64 live at a time (issue 14's
 * "scale without a cliff"). One loop on a virtual clock, so nothing
 * sleeps; nothing is cancelled.
 *
 *   timer_fire: the N timers are inserted first, with random deadlines
 *     over one second, then the loop runs until all have fired.
 *   timer_fire64: 64 timers are inserted; each one that fires inserts the
 *     next, until N have fired. Their random delays are scaled so that
 *     the deadlines are as dense in time as in the first case (N per
 *     second): the wheel slots hold as many timers per slot either way,
 *     and only how many are live differs.
 *
 * Prints ns per timer (insert + fire), best of 3 rounds after a warm-up
 * round, in wall time and in this thread's CPU time, and the CPU ratio
 * (1.0: no cliff).
 *   build/perf/timer_scale [N]     default 1,000,000
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ringo.h"
#include "times.h"

#define LIVE_SMALL 64

static ringo_loop *loop;
static long n, fired, inserted;
static int64_t *delay; /* delay[i]: the i-th timer's, for this case */
static int64_t *spread_1s, *spread_small;

static void insert_next(ringo_callback_fn *fn)
{
	if (ringo_call_later(loop, delay[inserted], fn, NULL, NULL) < 0)
		abort();
	inserted++;
}

static void on_fire(void *arg)
{
	if (++fired == n)
		ringo_loop_stop(loop);
}

/* Keeps LIVE_SMALL live: each firing inserts the next. */
static void on_fire_rearm(void *arg)
{
	if (inserted < n)
		insert_next(on_fire_rearm);
	if (++fired == n)
		ringo_loop_stop(loop);
}

/* One round with `live` timers live at once (n or LIVE_SMALL). */
static struct times one_round(long live)
{
	ringo_callback_fn *fn = live == n ? on_fire : on_fire_rearm;
	fired = inserted = 0;
	struct times t0 = now();
	while (inserted < live)
		insert_next(fn);
	ringo_loop_run_forever(loop);
	struct times t1 = now();
	if (fired != n || inserted != n) {
		fprintf(stderr, "timer_scale: fired %ld of %ld\n", fired, n);
		exit(1);
	}
	return (struct times){t1.wall - t0.wall, t1.cpu - t0.cpu};
}

static struct times measure(long live)
{
	ringo_loop_options o;
	ringo_loop_options_init(&o);
	o.flags = RINGO_LOOP_VIRTUAL_CLOCK;
	if (ringo_loop_new(&o, &loop) < 0)
		abort();
	delay = live == n ? spread_1s : spread_small;
	struct times best = {1e18, 1e18};
	for (int r = 0; r < 4; r++) {
		struct times t = one_round(live);
		if (r > 0 && t.wall < best.wall)
			best.wall = t.wall;
		if (r > 0 && t.cpu < best.cpu)
			best.cpu = t.cpu;
	}
	ringo_loop_free(loop);
	return best;
}

int main(int argc, char **argv)
{
	n = argc > 1 ? atol(argv[1]) : 1000000;
	if (n < LIVE_SMALL) {
		fprintf(stderr, "usage: timer_scale [N >= %d]\n", LIVE_SMALL);
		return 2;
	}
	spread_1s = malloc((size_t)n * sizeof(*spread_1s));
	spread_small = malloc((size_t)n * sizeof(*spread_small));
	if (!spread_1s || !spread_small)
		abort();
	/* N per second either way: with LIVE_SMALL live, a mean delay of
	 * LIVE_SMALL / N seconds (uniform over twice that). */
	srand(42);
	for (long i = 0; i < n; i++) {
		double u = (double)rand() / ((double)RAND_MAX + 1);
		spread_1s[i] = (int64_t)(u * 1e9);
		spread_small[i] = (int64_t)(u * 2e9 * LIVE_SMALL / (double)n);
	}
	struct times all = measure(n);
	struct times small = measure(LIVE_SMALL);
	printf("timer_fire_ns_per_timer %.1f\n", all.wall * 1e9 / n);
	printf("timer_fire64_ns_per_timer %.1f\n", small.wall * 1e9 / n);
	printf("timer_fire_cpu_ns_per_timer %.1f\n", all.cpu * 1e9 / n);
	printf("timer_fire64_cpu_ns_per_timer %.1f\n", small.cpu * 1e9 / n);
	printf("ratio_cpu timer_fire/timer_fire64 %.2f\n", all.cpu / small.cpu);
	free(spread_1s);
	free(spread_small);
	return 0;
}
