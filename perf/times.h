/* perf/times.h: wall and thread-CPU time together, for the perf programs
 * that print both. CPU time of this thread: on a shared machine, time
 * spent waiting for a core does not count, so the cpu lines move less
 * between runs than the wall-clock ones. */
#ifndef RINGO_PERF_TIMES_H
#define RINGO_PERF_TIMES_H

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

static inline struct times now(void)
{
	return (struct times){clock_s(CLOCK_MONOTONIC), clock_s(CLOCK_THREAD_CPUTIME_ID)};
}

#endif
