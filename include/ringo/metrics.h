/*
 * ringo/metrics.h — a loop's statistics, and the Prometheus text format.
 * Included by ringo.h; compiles on its own too.
 *
 * Cost when nobody reads them: the counters are plain increments on paths
 * that already touch the same cache lines (one per loop iteration, per
 * kernel entry, per batch of completions, per spawn); everything else
 * (tasks, timers, stack memory, the executor) is read from the structures
 * that already keep it, only when a snapshot is taken.
 *
 *     struct ringo_loop_stats st;
 *     ringo_loop_stats(loop, &st);             // the numbers
 *     char buf[8192];
 *     int n = ringo_metrics_write(loop, buf, sizeof(buf)); // GET /metrics
 *
 * Counters count from the loop's creation and only grow (a scraper takes
 * rates); the others are gauges, read at the snapshot.
 */
/* ringo.h first: it includes every sub-header, this one included, in
 * dependency order. */
#include "../ringo.h"

#ifndef RINGO_METRICS_H
#define RINGO_METRICS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One loop at one moment. Fields may be added at the end in later
 * versions (minor); none is removed or changes meaning. */
struct ringo_loop_stats {
	/* Counters, since the loop was created. */
	uint64_t iterations;       /* loop iterations run */
	uint64_t kernel_entries;   /* io_uring_enter calls: one per iteration
	                            * with I/O to submit or wait for, plus
	                            * early submits when the submission queue
	                            * filled (none for pure callback work) */
	uint64_t sqes_submitted;   /* submission entries handed to the kernel */
	uint64_t cqes_reaped;      /* completions taken from the ring */
	uint64_t tasks_spawned;    /* tasks ever spawned */
	uint64_t stream_bytes_read;    /* bytes every stream of the loop
	                                * received (ringo/stream.h) */
	uint64_t stream_bytes_written; /* bytes they sent */
	/* Connections the servers (ringo/net.h) accepted on this loop, the
	 * refused ones included (ringo_server_stats has the breakdown). */
	uint64_t server_connections;

	/* Gauges, at the snapshot. */
	uint64_t tasks_live;       /* spawned and not done */
	uint64_t tasks_peak;       /* the most tasks_live has been */
	uint64_t stack_bytes_committed; /* task stacks not given back to the
	                                 * kernel: live ones and free ones kept
	                                 * warm, at their full size (an upper
	                                 * bound of their RSS: only pages a
	                                 * task touched are resident) */
	uint64_t stack_bytes_reserved;  /* address space reserved for stacks */
	uint64_t timers_pending;   /* call_later/call_at callbacks and
	                            * internal timers (sleeps, scopes)
	                            * scheduled, not yet run or cancelled */
	uint64_t io_inflight;      /* kernel operations submitted, not yet
	                            * completed (tasks' I/O, stream receives) */
	uint64_t executor_queued;  /* the loop's default executor: jobs
	                            * (to_thread, run_in_executor) waiting for
	                            * a worker; 0 if it was never used */
	uint64_t executor_workers; /* its worker threads started */
	uint64_t executor_busy;    /* of those, not waiting for work */
};

/* Does not suspend. Fill *out with the loop's statistics now. Returns 0,
 * or -EINVAL (NULL loop or out). Loop thread only (the counters are plain
 * variables of the loop's thread), or any thread while the loop does not
 * run. Costs a lock of the default executor's mutex (when it exists),
 * nothing that grows with the number of tasks. */
int ringo_loop_stats(ringo_loop *loop, struct ringo_loop_stats *out);

/* Does not suspend. Write stats[0..n) in the Prometheus text exposition
 * format (version 0.0.4) into buf: for each metric a "# HELP" and a
 * "# TYPE" line (counter or gauge; counters end in _total), then one
 * sample per loop, labelled with labels[i] when labels is not NULL
 * (labels[i] is the inside of the braces, such as `loop="3"`, or NULL or
 * "" for none). Many loops of one process go in one text this way (a
 * metric's samples must be together). The text always ends in a newline
 * and buf is always terminated when cap > 0.
 * Returns the length of the whole text (without the terminating NUL), as
 * snprintf does: a result >= cap means buf was too small and holds a
 * truncated text; call again with a larger one (result + 1 bytes). Or
 * -EINVAL: NULL stats with n > 0, NULL buf with cap > 0, or a label set
 * that is not name="value" pairs separated by commas (names
 * [a-zA-Z_][a-zA-Z0-9_]*, values with \\, \" and \n escaped), or
 * -EOVERFLOW if the text would pass INT_MAX bytes. Any thread (it only
 * reads stats). */
int ringo_metrics_format(const struct ringo_loop_stats *stats, const char *const *labels,
			 size_t n, char *buf, size_t cap);

/* Does not suspend. ringo_loop_stats(loop) written by
 * ringo_metrics_format without labels: what a GET /metrics of a one-loop
 * server answers. Returns as ringo_metrics_format (the length; >= cap:
 * buf too small), or -EINVAL (NULL loop, NULL buf with cap > 0). Threads
 * as ringo_loop_stats. */
int ringo_metrics_write(ringo_loop *loop, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* RINGO_METRICS_H */
