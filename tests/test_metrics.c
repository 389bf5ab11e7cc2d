/* ringo_loop_stats and the Prometheus text (ringo/metrics.h): each
 * counter moves with the work it counts, and the text is strict 0.0.4. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support.h"

static struct ringo_loop_stats snap(void)
{
	struct ringo_loop_stats st;
	assert_int_equal(ringo_loop_stats(fx_loop, &st), 0);
	return st;
}

/* ---- tasks and stacks ---- */

#define NTASKS 300

static int parked(void *arg, void **result)
{
	ringo_event *ev = arg;
	/* touch a few pages of the stack, as real work would */
	volatile char scratch[12000];
	for (size_t i = 0; i < sizeof(scratch); i += 512)
		scratch[i] = 1;
	return ringo_event_wait(ev);
}

static int spawn_many(void *arg, void **result)
{
	struct ringo_loop_stats before = snap();
	ringo_event ev;
	ringo_event_init(&ev);
	ringo_task *tasks[NTASKS];
	for (int i = 0; i < NTASKS; i++)
		assert_int_equal(ringo_spawn(fx_loop, parked, &ev, NULL, &tasks[i]), 0);
	assert_int_equal(ringo_sleep(0), 0); /* each runs up to its wait */
	struct ringo_loop_stats live = snap();
	assert_true(live.tasks_spawned - before.tasks_spawned == NTASKS);
	assert_true(live.tasks_live == before.tasks_live + NTASKS);
	assert_true(live.tasks_peak >= NTASKS + 1); /* and this one */
	/* Every parked task holds its whole stack (64 KiB by default). */
	if (live.stack_bytes_committed < (uint64_t)NTASKS * 65536)
		fail_msg("stack_bytes_committed %llu for %d tasks",
			 (unsigned long long)live.stack_bytes_committed, NTASKS);
	assert_true(live.stack_bytes_reserved >= live.stack_bytes_committed);
	ringo_event_set(&ev);
	for (int i = 0; i < NTASKS; i++) {
		assert_int_equal(ringo_await(ringo_task_future(tasks[i]), NULL), 0);
		ringo_task_release(tasks[i]);
	}
	ringo_event_destroy(&ev);
	struct ringo_loop_stats after = snap();
	assert_true(after.tasks_live == before.tasks_live);
	assert_true(after.tasks_peak == live.tasks_peak); /* the peak stays */
	return 0;
}

static void test_spawning_n_tasks_raises_live_and_peak_by_n(void **state)
{
	assert_int_equal(fx_run_task(spawn_many, NULL), 0);
}

/* ---- the ring: SQEs, CQEs, kernel entries, iterations ---- */

#define NRECV 50

static int recv_many(void *arg, void **result)
{
	int sv[2];
	fx_socketpair(sv);
	struct ringo_loop_stats before = snap();
	for (int i = 0; i < NRECV; i++) {
		char c = (char)i, got = 0;
		assert_int_equal(write(sv[1], &c, 1), 1);
		assert_int_equal(ringo_recv(sv[0], &got, 1, 0), 1);
		assert_int_equal(got, c);
	}
	struct ringo_loop_stats after = snap();
	/* One SQE and one CQE per recv at least; each recv waited for its
	 * completion, so the loop went round (and into the kernel) for it. */
	assert_true(after.sqes_submitted - before.sqes_submitted >= NRECV);
	assert_true(after.cqes_reaped - before.cqes_reaped >= NRECV);
	assert_true(after.kernel_entries - before.kernel_entries >= NRECV);
	assert_true(after.iterations - before.iterations >= NRECV);
	assert_int_equal(after.io_inflight, before.io_inflight);
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_each_recv_is_an_sqe_a_cqe_and_a_kernel_entry(void **state)
{
	assert_int_equal(fx_run_task(recv_many, NULL), 0);
}

#define NCALLBACKS 100

struct chain {
	int left;
};

static void chain_step(void *arg)
{
	struct chain *c = arg;
	if (--c->left > 0)
		assert_int_equal(ringo_call_soon(fx_loop, chain_step, c, NULL), 0);
	else
		ringo_loop_stop(fx_loop);
}

static void test_callbacks_alone_never_enter_the_kernel(void **state)
{
	/* A first run: the ring is enabled and the cross-thread wake-up read
	 * armed (one kernel entry submits it). */
	struct chain c = {1};
	assert_int_equal(ringo_call_soon(fx_loop, chain_step, &c, NULL), 0);
	assert_int_equal(ringo_loop_run_forever(fx_loop), 0);
	struct ringo_loop_stats before = snap();
	c.left = NCALLBACKS;
	assert_int_equal(ringo_call_soon(fx_loop, chain_step, &c, NULL), 0);
	assert_int_equal(ringo_loop_run_forever(fx_loop), 0);
	struct ringo_loop_stats after = snap();
	assert_true(after.iterations - before.iterations >= NCALLBACKS);
	assert_true(after.kernel_entries == before.kernel_entries);
	assert_true(after.sqes_submitted == before.sqes_submitted);
}

/* ---- timers ---- */

static void never(void *arg)
{
	fail_msg("a cancelled or far timer ran");
}

static void test_timers_pending_counts_scheduled_timers(void **state)
{
	struct ringo_loop_stats before = snap();
	ringo_handle h[3];
	for (int i = 0; i < 3; i++)
		assert_int_equal(ringo_call_later(fx_loop, RINGO_SEC(3600), never, NULL, &h[i]), 0);
	assert_true(snap().timers_pending == before.timers_pending + 3);
	assert_int_equal(ringo_handle_cancel(h[1]), 0);
	assert_true(snap().timers_pending == before.timers_pending + 2);
	ringo_handle_cancel(h[0]);
	ringo_handle_cancel(h[2]);
	assert_true(snap().timers_pending == before.timers_pending);
}

/* ---- the stream layer ---- */

#define STREAM_BYTES 123457

static int stream_bytes(void *arg, void **result)
{
	int sv[2];
	fx_socketpair(sv);
	ringo_stream *a, *b;
	assert_int_equal(ringo_stream_new(fx_loop, sv[0], NULL, &a), 0);
	assert_int_equal(ringo_stream_new(fx_loop, sv[1], NULL, &b), 0);
	struct ringo_loop_stats before = snap();
	char *buf = malloc(STREAM_BYTES), *got = malloc(STREAM_BYTES);
	for (int i = 0; i < STREAM_BYTES; i++)
		buf[i] = (char)(i * 7);
	assert_int_equal(ringo_stream_write(a, buf, STREAM_BYTES), 0);
	assert_int_equal(ringo_stream_drain(a), 0);
	assert_int_equal(ringo_stream_read_exactly(b, got, STREAM_BYTES), STREAM_BYTES);
	assert_memory_equal(buf, got, STREAM_BYTES);
	struct ringo_loop_stats after = snap();
	/* Exact: nothing else on this loop moves bytes through a stream. */
	assert_true(after.stream_bytes_written - before.stream_bytes_written == STREAM_BYTES);
	assert_true(after.stream_bytes_read - before.stream_bytes_read == STREAM_BYTES);
	free(buf);
	free(got);
	ringo_stream_free(a);
	ringo_stream_free(b);
	return 0;
}

static void test_stream_bytes_are_counted_exactly(void **state)
{
	assert_int_equal(fx_run_task(stream_bytes, NULL), 0);
}

/* ---- the default executor ---- */

struct gate {
	int started[2]; /* a job writes a byte when it starts */
	int release[2]; /* and runs until it reads one */
};

static int blocking_job(void *arg, void **result)
{
	struct gate *g = arg;
	char c = 's';
	if (write(g->started[1], &c, 1) != 1 || read(g->release[0], &c, 1) != 1)
		return -EIO;
	return 0;
}

static int executor_load(void *arg, void **result)
{
	struct gate g;
	assert_int_equal(pipe(g.started), 0);
	assert_int_equal(pipe(g.release), 0);
	struct ringo_loop_stats st = snap();
	assert_true(st.executor_workers == 0 && st.executor_queued == 0 && st.executor_busy == 0);
	ringo_future *f[3];
	assert_int_equal(ringo_run_in_executor(fx_loop, NULL, blocking_job, &g, &f[0]), 0);
	char c;
	assert_int_equal(ringo_read(g.started[0], &c, 1, -1), 1); /* the worker runs it */
	/* One worker, blocked: two more jobs can only wait in the queue. */
	assert_int_equal(ringo_run_in_executor(fx_loop, NULL, blocking_job, &g, &f[1]), 0);
	assert_int_equal(ringo_run_in_executor(fx_loop, NULL, blocking_job, &g, &f[2]), 0);
	st = snap();
	assert_true(st.executor_workers == 1);
	assert_true(st.executor_busy == 1);
	assert_true(st.executor_queued == 2);
	assert_int_equal(ringo_sleep(0), 0); /* handed over to the executor now */
	st = snap();
	assert_true(st.executor_queued == 2 && st.executor_busy == 1);
	assert_int_equal(write(g.release[1], "rrr", 3), 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ringo_await(f[i], NULL), 0);
		ringo_future_release(f[i]);
	}
	assert_true(snap().executor_queued == 0);
	for (int i = 0; i < 2; i++) {
		close(g.started[i]);
		close(g.release[i]);
	}
	return 0;
}

static void test_executor_queue_depth_and_busy_workers(void **state)
{
	assert_int_equal(ringo_loop_set_default_executor_workers(fx_loop, 1), 0);
	assert_int_equal(fx_run_task(executor_load, NULL), 0);
}

/* ---- the server layer ---- */

#define NCONNS 7

static int hang_up(ringo_stream *s, void *arg)
{
	return 0; /* the server closes the connection */
}

static int server_conns(void *arg, void **result)
{
	struct ringo_loop_stats before = snap();
	ringo_server *srv;
	assert_int_equal(ringo_server_start(fx_loop, "127.0.0.1", 0, hang_up, NULL, NULL, &srv), 0);
	for (int i = 0; i < NCONNS; i++) {
		int fd = ringo_tcp_connect("127.0.0.1", ringo_server_port(srv), RINGO_FOREVER);
		assert_true(fd >= 0);
		char c;
		assert_int_equal(ringo_read(fd, &c, 1, -1), 0); /* served: hung up */
		close(fd);
	}
	struct ringo_server_stats ss;
	ringo_server_stats(srv, &ss);
	assert_true(ss.accepted == NCONNS);
	assert_true(snap().server_connections - before.server_connections == NCONNS);
	assert_int_equal(ringo_server_close(srv), 0);
	assert_int_equal(ringo_server_wait_closed(srv, RINGO_FOREVER), 0);
	ringo_server_free(srv);
	return 0;
}

static void test_server_connections_are_counted_per_loop(void **state)
{
	assert_int_equal(fx_run_task(server_conns, NULL), 0);
}

/* ---- the Prometheus text ---- */

/* A strict reader of the text exposition format 0.0.4 as ringo writes it:
 * every line is "# HELP name text", "# TYPE name counter|gauge" or a
 * sample "name[{labels}] value"; each family has HELP then TYPE before
 * its samples, all of its samples together, and appears once; counters
 * end in _total; values are unsigned integers; the text ends in "\n".
 * Returns the number of samples; fails the test on anything else. */
static int check_exposition(const char *text, bool labelled)
{
	assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
	char family[128] = "", seen[64][128];
	int nseen = 0, samples = 0;
	bool have_type = false, counter = false;
	char *copy = strdup(text), *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128], rest[256];
		if (sscanf(line, "# HELP %127s %255[^\n]", name, rest) == 2) {
			for (int i = 0; i < nseen; i++)
				assert_string_not_equal(seen[i], name); /* once only */
			assert_true(nseen < 64);
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", name);
			snprintf(family, sizeof(family), "%s", name);
			have_type = false;
			continue;
		}
		if (sscanf(line, "# TYPE %127s %255s", name, rest) == 2) {
			assert_string_equal(name, family);
			assert_false(have_type);
			assert_true(strcmp(rest, "counter") == 0 || strcmp(rest, "gauge") == 0);
			counter = strcmp(rest, "counter") == 0;
			size_t l = strlen(name);
			assert_int_equal(counter, l > 6 && strcmp(name + l - 6, "_total") == 0);
			have_type = true;
			continue;
		}
		assert_true(line[0] != '#');
		/* a sample of the current family */
		assert_true(have_type);
		size_t fl = strlen(family);
		assert_memory_equal(line, family, fl);
		const char *p = line + fl;
		assert_int_equal(*p == '{', labelled);
		if (*p == '{') {
			const char *end = strrchr(p, '}');
			assert_non_null(end);
			p = end + 1;
		}
		assert_true(*p == ' ');
		p++;
		assert_true(*p >= '0' && *p <= '9');
		char *end;
		strtoull(p, &end, 10);
		assert_true(*end == 0);
		samples++;
	}
	free(copy);
	return samples;
}

static int metrics_text(void *arg, void **result)
{
	char buf[16384];
	int n = ringo_metrics_write(fx_loop, buf, sizeof(buf));
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	assert_int_equal(strlen(buf), n);
	int samples = check_exposition(buf, false);
	assert_true(samples >= 17);
	/* the text says what the snapshot says */
	struct ringo_loop_stats st = snap();
	char line[128];
	snprintf(line, sizeof(line), "\nringo_tasks_spawned_total %llu\n",
		 (unsigned long long)st.tasks_spawned);
	assert_non_null(strstr(buf, line));
	assert_non_null(strstr(buf, "# TYPE ringo_cqes_reaped_total counter\n"));
	assert_non_null(strstr(buf, "# TYPE ringo_tasks_live gauge\n"));
	return 0;
}

static void test_metrics_text_is_strict_prometheus_0_0_4(void **state)
{
	assert_int_equal(fx_run_task(metrics_text, NULL), 0);
}

static void test_many_loops_in_one_text_with_labels(void **state)
{
	struct ringo_loop_stats st[2];
	assert_int_equal(ringo_loop_stats(fx_loop, &st[0]), 0);
	st[1] = st[0];
	st[1].iterations += 5;
	const char *labels[2] = {"loop=\"0\"", "loop=\"1\",role=\"a \\\"b\\\"\""};
	char buf[16384];
	int n = ringo_metrics_format(st, labels, 2, buf, sizeof(buf));
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	int samples = check_exposition(buf, true);
	assert_true(samples >= 34 && samples % 2 == 0);
	char want[128];
	snprintf(want, sizeof(want),
		 "ringo_loop_iterations_total{loop=\"0\"} %llu\n"
		 "ringo_loop_iterations_total{loop=\"1\",role=\"a \\\"b\\\"\"} %llu\n",
		 (unsigned long long)st[0].iterations, (unsigned long long)st[1].iterations);
	assert_non_null(strstr(buf, want));
}

static void test_a_short_buffer_gets_the_length_as_snprintf(void **state)
{
	char full[16384], small[100];
	int n = ringo_metrics_write(fx_loop, full, sizeof(full));
	assert_true(n > (int)sizeof(small));
	int m = ringo_metrics_write(fx_loop, small, sizeof(small));
	assert_int_equal(m, n); /* the whole length, not what fitted */
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, full, sizeof(small) - 1);
	assert_int_equal(ringo_metrics_write(fx_loop, NULL, 0), n); /* a size query */
}

static void test_bad_arguments_are_refused(void **state)
{
	struct ringo_loop_stats st;
	char buf[64];
	assert_int_equal(ringo_loop_stats(NULL, &st), -EINVAL);
	assert_int_equal(ringo_loop_stats(fx_loop, NULL), -EINVAL);
	assert_int_equal(ringo_metrics_write(NULL, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(ringo_metrics_write(fx_loop, NULL, 10), -EINVAL);
	assert_int_equal(ringo_metrics_format(NULL, NULL, 1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(ringo_loop_stats(fx_loop, &st), 0);
	const char *bad[] = {"loop", "loop=0", "loop=\"0", "1x=\"a\"", "a=\"b\",", "a=\"\\q\"",
			     "a=\"x\"b=\"y\"", "a=\"new\nline\""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *l[1] = {bad[i]};
		assert_int_equal(ringo_metrics_format(&st, l, 1, buf, sizeof(buf)), -EINVAL);
	}
	const char *empty[1] = {""};
	assert_true(ringo_metrics_format(&st, empty, 1, buf, sizeof(buf)) > 0);
	/* no loops: the HELP and TYPE lines alone */
	assert_true(ringo_metrics_format(NULL, NULL, 0, buf, sizeof(buf)) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_spawning_n_tasks_raises_live_and_peak_by_n, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_each_recv_is_an_sqe_a_cqe_and_a_kernel_entry, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_callbacks_alone_never_enter_the_kernel, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_timers_pending_counts_scheduled_timers, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stream_bytes_are_counted_exactly, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_executor_queue_depth_and_busy_workers, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_server_connections_are_counted_per_loop, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_metrics_text_is_strict_prometheus_0_0_4, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_many_loops_in_one_text_with_labels, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_a_short_buffer_gets_the_length_as_snprintf, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments_are_refused, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
