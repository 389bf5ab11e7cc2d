/*
 * timers: 1,000,000 timers with random deadlines over one second on a
 * virtual clock, a tenth cancelled, the rest run. Prints ns per timer for
 * insert + fire (the cancels are included in the total time), and the
 * memory the loop holds at the burst's peak and once the timers are gone
 * (KiB above the figure of a loop that has only run one timer).
 *   build/perf/timers [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ringo.h"
#include "times.h"

static long fired;

/* Bytes held through the loop's allocator. */
static size_t held;

static void *count_alloc(void *ctx, size_t size)
{
	void *p = malloc(size);
	if (p)
		held += size;
	return p;
}

static void *count_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size)
{
	void *p = realloc(ptr, new_size);
	if (p)
		held += new_size - old_size;
	return p;
}

static void count_free(void *ctx, void *ptr, size_t size)
{
	if (ptr)
		held -= size;
	free(ptr);
}

static const ringo_allocator counting = {count_alloc, count_realloc, count_free, NULL};

static void on_timer(void *arg)
{
	fired++;
}

static void stop(void *arg)
{
	ringo_loop_stop(arg);
}

static double insert_ns, fire_ns;
static size_t idle_bytes, peak_bytes, after_bytes;

static double run(long n, ringo_handle *h, int64_t *when)
{
	ringo_loop_options o;
	ringo_loop_options_init(&o);
	o.flags = RINGO_LOOP_VIRTUAL_CLOCK;
	o.allocator = &counting;
	ringo_loop *loop;
	if (ringo_loop_new(&o, &loop) < 0)
		abort();
	/* The idle figure: a loop that has run one timer. */
	ringo_call_at(loop, 0, stop, loop, NULL);
	ringo_loop_run_forever(loop);
	idle_bytes = held;
	fired = 0;
	double t0 = now_s();
	for (long i = 0; i < n; i++)
		if (ringo_call_at(loop, when[i], on_timer, NULL, &h[i]) < 0)
			abort();
	peak_bytes = held;
	for (long i = 0; i < n; i += 10)
		ringo_handle_cancel(h[i]);
	ringo_call_at(loop, RINGO_SEC(2), stop, loop, NULL);
	double tm = now_s();
	ringo_loop_run_forever(loop);
	double t1 = now_s();
	after_bytes = held;
	insert_ns = (tm - t0) * 1e9 / n;
	fire_ns = (t1 - tm) * 1e9 / n;
	if (fired != n - (n + 9) / 10) {
		fprintf(stderr, "timers: fired %ld, expected %ld\n", fired, n - (n + 9) / 10);
		exit(1);
	}
	ringo_loop_free(loop);
	return (t1 - t0) * 1e9 / n;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	ringo_handle *h = malloc(n * sizeof(*h));
	int64_t *when = malloc(n * sizeof(*when));
	srand(42);
	for (long i = 0; i < n; i++)
		when[i] = (int64_t)((double)rand() / RAND_MAX * 1e9);
	double best = 1e18;
	for (int r = 0; r < 3; r++) {
		double v = run(n, h, when);
		if (v < best)
			best = v;
		fprintf(stderr, "timers: insert+cancel %.1f ns, fire %.1f ns per timer\n", insert_ns,
			fire_ns);
	}
	printf("timers_ns_per_op %.1f\n", best);
	/* Above the idle figure (after the burst it may even be below it:
	 * what the first timer left was given back too). */
	printf("timers_kib_at_peak %.0f\n", ((double)peak_bytes - (double)idle_bytes) / 1024);
	printf("timers_kib_after_burst %.0f\n", ((double)after_bytes - (double)idle_bytes) / 1024);
	free(h);
	free(when);
	return 0;
}
