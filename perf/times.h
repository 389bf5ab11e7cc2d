/* perf/times.h: the clocks every perf program reads.
 *   now_ns(), now_s(): CLOCK_MONOTONIC, in ns (integer) or s (double);
 *   now(): wall and this thread's CPU time together. CPU time of this
 *   thread: on a shared machine, time spent waiting for a core does not
 *   count, so the cpu lines move less between runs than the wall-clock
 *   ones. */
#ifndef RINGO_PERF_TIMES_H
#define RINGO_PERF_TIMES_H

#include <stdint.h>
#include <time.h>

struct times {
	double wall, cpu;
};

static inline double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline double now_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static inline struct times now(void)
{
	return (struct times){clock_s(CLOCK_MONOTONIC), clock_s(CLOCK_THREAD_CPUTIME_ID)};
}

#endif
