/*
 * A loop's statistics (ringo/metrics.h) and their Prometheus text.
 *
 * The counters are kept where the work happens (loop.c: iterations;
 * ring.c: kernel entries, SQEs, CQEs; stream_read.c/stream_write.c:
 * bytes), as plain increments; the gauges are read here, from the
 * structures that already hold them, only when someone asks.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

int ringo_loop_stats(ringo_loop *loop, struct ringo_loop_stats *out)
{
	if (!loop || !out)
		return -EINVAL;
	/* Idle reads are a subset of what is in flight. */
	RINGO_ASSERT(loop->ops_idle <= loop->ops_inflight);
	*out = (struct ringo_loop_stats){
		.iterations = loop->n_iterations,
		.kernel_entries = loop->n_enters,
		.sqes_submitted = loop->n_sqes,
		.cqes_reaped = loop->n_cqes,
		.server_connections = loop->n_server_conns,
		.stream_bytes_read = loop->stream_bytes_read,
		.stream_bytes_written = loop->stream_bytes_written,
		.timers_pending = loop->timers.live,
		.io_inflight = loop->ops_inflight - loop->ops_idle,
	};
	ringo__task_metrics(loop, out);
	ringo__exec_metrics(loop, out);
	return 0;
}

/* ---- the Prometheus text format, version 0.0.4 ---- */

struct metric {
	const char *name;
	const char *type; /* "counter" (name ends in _total) or "gauge" */
	const char *help;
	size_t offset;    /* of its uint64_t in struct ringo_loop_stats */
};

#define M(name, type, field, help) {name, type, help, offsetof(struct ringo_loop_stats, field)}
static const struct metric metrics[] = {
	M("ringo_loop_iterations_total", "counter", iterations, "Loop iterations run."),
	M("ringo_kernel_entries_total", "counter", kernel_entries,
	  "io_uring_enter calls made by the loop."),
	M("ringo_sqes_submitted_total", "counter", sqes_submitted,
	  "Submission queue entries handed to the kernel."),
	M("ringo_cqes_reaped_total", "counter", cqes_reaped, "Completions taken from the ring."),
	M("ringo_tasks_spawned_total", "counter", tasks_spawned, "Tasks spawned."),
	M("ringo_stream_read_bytes_total", "counter", stream_bytes_read,
	  "Bytes received by the loop's streams."),
	M("ringo_stream_written_bytes_total", "counter", stream_bytes_written,
	  "Bytes sent by the loop's streams."),
	M("ringo_server_connections_total", "counter", server_connections,
	  "Connections the loop's servers accepted."),
	M("ringo_tasks_live", "gauge", tasks_live, "Tasks spawned and not done."),
	M("ringo_tasks_peak", "gauge", tasks_peak, "The most tasks live at once."),
	M("ringo_stack_committed_bytes", "gauge", stack_bytes_committed,
	  "Task stack memory not given back to the kernel (live and warm stacks)."),
	M("ringo_stack_reserved_bytes", "gauge", stack_bytes_reserved,
	  "Address space reserved for task stacks."),
	M("ringo_timers_pending", "gauge", timers_pending, "Timers scheduled, not yet run."),
	M("ringo_io_inflight", "gauge", io_inflight,
	  "Kernel operations submitted, not yet completed."),
	M("ringo_executor_queued", "gauge", executor_queued,
	  "Jobs waiting for a worker of the default executor."),
	M("ringo_executor_workers", "gauge", executor_workers,
	  "Worker threads of the default executor."),
	M("ringo_executor_busy", "gauge", executor_busy,
	  "Workers of the default executor not waiting for work."),
};
#undef M

/* A label set as the exposition format takes it inside braces:
 * name="value" pairs, commas between, values escaped. */
static bool labels_valid(const char *s)
{
	RINGO_ASSERT(s != NULL);
	while (*s) {
		if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			return false;
		while (*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		       (*s >= '0' && *s <= '9'))
			s++;
		if (*s++ != '=' || *s++ != '"')
			return false;
		for (; *s != '"'; s++) {
			if (*s == 0 || *s == '\n')
				return false;
			if (*s == '\\' && (s[1] != '\\' && s[1] != '"' && s[1] != 'n'))
				return false;
			if (*s == '\\')
				s++;
		}
		s++;
		if (*s == ',' && s[1])
			s++;
		else if (*s)
			return false;
	}
	return true;
}

/* snprintf into what is left of buf, counting the whole length. */
struct out {
	char *buf;
	size_t cap;
	size_t len;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	RINGO_ASSERT(o->buf != NULL || o->cap == 0); /* checked by ringo_metrics_format */
	va_list ap;
	va_start(ap, fmt);
	size_t room = o->len < o->cap ? o->cap - o->len : 0;
	int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

int ringo_metrics_format(const struct ringo_loop_stats *stats, const char *const *labels,
			 size_t n, char *buf, size_t cap)
{
	if ((!stats && n > 0) || (!buf && cap > 0))
		return -EINVAL;
	for (size_t i = 0; labels && i < n; i++)
		if (labels[i] && !labels_valid(labels[i]))
			return -EINVAL;
	struct out o = {buf, cap, 0};
	if (cap > 0)
		buf[0] = 0;
	for (size_t m = 0; m < sizeof(metrics) / sizeof(metrics[0]); m++) {
		const struct metric *mt = &metrics[m];
		put(&o, "# HELP %s %s\n# TYPE %s %s\n", mt->name, mt->help, mt->name, mt->type);
		for (size_t i = 0; i < n; i++) {
			uint64_t v;
			memcpy(&v, (const char *)&stats[i] + mt->offset, sizeof(v));
			const char *l = labels && labels[i] && labels[i][0] ? labels[i] : NULL;
			if (l)
				put(&o, "%s{%s} %llu\n", mt->name, l, (unsigned long long)v);
			else
				put(&o, "%s %llu\n", mt->name, (unsigned long long)v);
		}
	}
	if (o.len > INT_MAX)
		return -EOVERFLOW;
	return (int)o.len;
}

int ringo_metrics_write(ringo_loop *loop, char *buf, size_t cap)
{
	struct ringo_loop_stats st;
	int err = ringo_loop_stats(loop, &st);
	if (err < 0)
		return err;
	return ringo_metrics_format(&st, NULL, 1, buf, cap);
}
