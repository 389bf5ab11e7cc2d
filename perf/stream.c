/*
 * stream: ringo_stream's socket receive paths side by side, in one run,
 * over TCP loopback and then a Unix socketpair (lines prefixed tcp_ and
 * unix_), with both ends in one loop (one thread, so the time is the CPU
 * both ends cost):
 *   - one-shot: one IORING_OP_RECV at a time into the stream's buffer;
 *   - multishot: one multishot RECV from the loop's provided buffer ring,
 *     copied into the stream's buffer;
 *   - auto (the default, no flag): multishot, switching to one-shot while
 *     the traffic is bulk.
 * Rounds alternate between the two (ABAB...) and the median is printed, so
 * the machine's drift hits both alike. Lines:
 *   stream_pingpong_<mode>_ns   64 B request, 64 B reply, one connection:
 *                               ns per round trip (client read_exactly +
 *                               write, server read_exactly + write)
 *   stream_pingpong64_<mode>_ns the same with 64 connections at once: ns per
 *                               round trip (batching: many completions per
 *                               io_uring_enter)
 *   stream_bulk_<mode>_mib_s    BULK bytes one way (write + drain of 64 KiB
 *                               blocks; read of up to 256 KiB): MiB/s
 *   raw_pingpong_ns             the 64 B ping-pong with ringo_recv/ringo_send
 *                               on the fds (no stream): the floor
 *   *_cpu_ns                    process CPU time per round trip (bulk: per
 *                               MiB), both ends and the kernel's work for them
 *   *_<mode>_ratio, *_cpu_ratio mode / one-shot (ns: < 1 is better;
 *                               MiB/s: > 1 is better)
 *
 *   build/perf/stream [ROUNDS [BULK_MIB [PINGS]]]   (defaults 5, 1024, 20000)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ringo.h>
#include "times.h"

#define MSG 64
#define CONNS 64

static int pings = 20000; /* round trips of the one-connection ping-pong;
			   * the 64-connection one does a tenth each */

static int64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CPU time of the last measurement, ns (the process: both ends, with the
 * kernel's work on their behalf). */
static int64_t last_cpu;

static void die(const char *what, int err)
{
	fprintf(stderr, "stream: %s: %s\n", what, ringo_strerror(err));
	exit(1);
}

/* ---- a connected pair of streams over TCP loopback ---- */

struct acc {
	int lfd, fd;
};

static int accept_body(void *arg, void **result)
{
	struct acc *a = arg;
	a->fd = ringo_accept(a->lfd, NULL, NULL, 0);
	return a->fd < 0 ? a->fd : 0;
}

static int lfd = -1, port;

/* Two connected fds (client, server). */
static void tcp_fds(int *c, int *s)
{
	struct acc a = {lfd, -1};
	ringo_task *t;
	int err = ringo_spawn(ringo_loop_current(), accept_body, &a, NULL, &t);
	if (err < 0)
		die("spawn", err);
	int fd = ringo_tcp_connect("127.0.0.1", port, RINGO_FOREVER);
	if (fd < 0)
		die("connect", fd);
	err = ringo_await(ringo_task_future(t), NULL);
	ringo_task_release(t);
	if (err < 0)
		die("accept", err);
	*c = fd;
	*s = a.fd;
}

/* TCP loopback, or with `unix_pairs` a Unix socketpair (less kernel work
 * per message, so the receive path's own cost shows more). */
static int unix_pairs;

static void pair_fds(int *c, int *s)
{
	if (!unix_pairs) {
		tcp_fds(c, s);
		return;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair", -errno);
	*c = sv[0];
	*s = sv[1];
}

static void stream_pair(unsigned flags, ringo_stream **c, ringo_stream **s)
{
	int cfd, sfd;
	pair_fds(&cfd, &sfd);
	ringo_stream_options o = {.flags = flags};
	int err = ringo_stream_new(ringo_loop_current(), cfd, &o, c);
	if (!err)
		err = ringo_stream_new(ringo_loop_current(), sfd, &o, s);
	if (err < 0)
		die("stream_new", err);
}

/* ---- ping-pong ---- */

struct pp {
	ringo_stream *s;
	int n;
	int rc;
};

static int echo_body(void *arg, void **result)
{
	struct pp *p = arg;
	char buf[MSG];
	for (int i = 0; i < p->n; i++) {
		int n = ringo_stream_read_exactly(p->s, buf, MSG);
		if (n != MSG)
			return p->rc = n < 0 ? n : -EIO;
		if ((n = ringo_stream_write(p->s, buf, MSG)) < 0)
			return p->rc = n;
	}
	return 0;
}

static int ping_body(void *arg, void **result)
{
	struct pp *p = arg;
	char buf[MSG];
	memset(buf, 'p', sizeof(buf));
	for (int i = 0; i < p->n; i++) {
		int n = ringo_stream_write(p->s, buf, MSG);
		if (n < 0)
			return p->rc = n;
		n = ringo_stream_read_exactly(p->s, buf, MSG);
		if (n != MSG)
			return p->rc = n < 0 ? n : -EIO;
	}
	return 0;
}

/* conns connections, n round trips each, all at once: ns per round trip. */
static double pingpong(unsigned flags, int conns, int n)
{
	ringo_stream *c[CONNS], *s[CONNS];
	struct pp pc[CONNS], ps[CONNS];
	ringo_task *tc[CONNS], *ts[CONNS];
	for (int i = 0; i < conns; i++)
		stream_pair(flags, &c[i], &s[i]);
	int64_t t0 = now_ns(), c0 = cpu_ns();
	for (int i = 0; i < conns; i++) {
		pc[i] = (struct pp){c[i], n, 0};
		ps[i] = (struct pp){s[i], n, 0};
		ringo_spawn(ringo_loop_current(), echo_body, &ps[i], NULL, &ts[i]);
		ringo_spawn(ringo_loop_current(), ping_body, &pc[i], NULL, &tc[i]);
	}
	for (int i = 0; i < conns; i++) {
		ringo_await(ringo_task_future(tc[i]), NULL);
		ringo_await(ringo_task_future(ts[i]), NULL);
		ringo_task_release(tc[i]);
		ringo_task_release(ts[i]);
		if (pc[i].rc || ps[i].rc)
			die("pingpong", pc[i].rc ? pc[i].rc : ps[i].rc);
	}
	int64_t t = now_ns() - t0;
	last_cpu = cpu_ns() - c0;
	for (int i = 0; i < conns; i++) {
		ringo_stream_free(c[i]);
		ringo_stream_free(s[i]);
	}
	return (double)t / ((double)conns * n);
}

/* The floor: the same exchange with the I/O operations themselves. */
struct raw {
	int fd, n, rc;
};

static int raw_echo(void *arg, void **result)
{
	struct raw *r = arg;
	char buf[MSG];
	for (int i = 0; i < r->n; i++) {
		if (ringo_recv(r->fd, buf, MSG, MSG_WAITALL) != MSG ||
		    ringo_send(r->fd, buf, MSG, 0) != MSG)
			return r->rc = -EIO;
	}
	return 0;
}

static int raw_ping(void *arg, void **result)
{
	struct raw *r = arg;
	char buf[MSG];
	memset(buf, 'p', sizeof(buf));
	for (int i = 0; i < r->n; i++) {
		if (ringo_send(r->fd, buf, MSG, 0) != MSG ||
		    ringo_recv(r->fd, buf, MSG, MSG_WAITALL) != MSG)
			return r->rc = -EIO;
	}
	return 0;
}

static double raw_pingpong(int n)
{
	int cfd, sfd;
	pair_fds(&cfd, &sfd);
	struct raw rc = {cfd, n, 0}, rs = {sfd, n, 0};
	ringo_task *tc, *ts;
	int64_t t0 = now_ns(), c0 = cpu_ns();
	ringo_spawn(ringo_loop_current(), raw_echo, &rs, NULL, &ts);
	ringo_spawn(ringo_loop_current(), raw_ping, &rc, NULL, &tc);
	ringo_await(ringo_task_future(tc), NULL);
	ringo_await(ringo_task_future(ts), NULL);
	int64_t t = now_ns() - t0;
	last_cpu = cpu_ns() - c0;
	ringo_task_release(tc);
	ringo_task_release(ts);
	if (rc.rc || rs.rc)
		die("raw pingpong", -EIO);
	close(cfd);
	close(sfd);
	return (double)t / n;
}

/* ---- bulk ---- */

static uint64_t bulk_bytes;

struct bulk {
	ringo_stream *s;
	int rc;
	uint64_t got;
};

static int bulk_writer(void *arg, void **result)
{
	struct bulk *b = arg;
	static char block[64 * 1024];
	for (uint64_t sent = 0; sent < bulk_bytes; sent += sizeof(block)) {
		int err = ringo_stream_write(b->s, block, sizeof(block));
		if (!err)
			err = ringo_stream_drain(b->s);
		if (err < 0)
			return b->rc = err;
	}
	return b->rc = ringo_stream_write_eof(b->s);
}

static int bulk_reader(void *arg, void **result)
{
	struct bulk *b = arg;
	char *buf = malloc(256 * 1024);
	int n;
	while ((n = ringo_stream_read(b->s, buf, 256 * 1024)) > 0)
		b->got += (uint64_t)n;
	free(buf);
	return b->rc = n;
}

static double bulk(unsigned flags)
{
	ringo_stream *c, *s;
	stream_pair(flags, &c, &s);
	struct bulk w = {c, 0, 0}, r = {s, 0, 0};
	ringo_task *tw, *tr;
	int64_t t0 = now_ns(), c0 = cpu_ns();
	ringo_spawn(ringo_loop_current(), bulk_writer, &w, NULL, &tw);
	ringo_spawn(ringo_loop_current(), bulk_reader, &r, NULL, &tr);
	ringo_await(ringo_task_future(tw), NULL);
	ringo_await(ringo_task_future(tr), NULL);
	int64_t t = now_ns() - t0;
	last_cpu = cpu_ns() - c0;
	ringo_task_release(tw);
	ringo_task_release(tr);
	if (w.rc || r.rc || r.got != bulk_bytes)
		die("bulk", w.rc ? w.rc : r.rc ? r.rc : -EIO);
	ringo_stream_free(c);
	ringo_stream_free(s);
	return (double)bulk_bytes / (1 << 20) / ((double)t / 1e9);
}

/* ---- the run ---- */

static int rounds = 5;

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmpd);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MODES 3
static const unsigned mode_flags[MODES] = {RINGO_STREAM_RECV_ONESHOT,
					   RINGO_STREAM_RECV_MULTISHOT, 0};
static const char *const mode_name[MODES] = {"oneshot", "mshot", "auto"};

/* One figure, per mode: wall and CPU medians. */
struct fig {
	double wall[MODES][64], cpu[MODES][64];
};

static void put(struct fig *f, int m, int r, double wall, double per)
{
	f->wall[m][r] = wall;
	f->cpu[m][r] = (double)last_cpu / per;
}

static void report(const char *sock, const char *name, const char *unit, struct fig *f,
		   bool higher_better)
{
	double w[MODES], c[MODES];
	for (int m = 0; m < MODES; m++) {
		w[m] = median(f->wall[m], rounds);
		c[m] = median(f->cpu[m], rounds);
		printf("%s%s_%s_%s %.0f\n", sock, name, mode_name[m], unit, w[m]);
		printf("%s%s_%s_cpu_ns %.0f\n", sock, name, mode_name[m], c[m]);
	}
	(void)higher_better;
	for (int m = 1; m < MODES; m++) {
		printf("%s%s_%s_ratio %.3f\n", sock, name, mode_name[m], w[m] / w[0]);
		printf("%s%s_%s_cpu_ratio %.3f\n", sock, name, mode_name[m], c[m] / c[0]);
	}
}

static void measure(const char *sock)
{
	static struct fig pp, pp64, bk;
	double raw[64];
	for (int r = 0; r < rounds; r++) {
		raw[r] = raw_pingpong(pings);
		for (int m = 0; m < MODES; m++) {
			put(&pp, m, r, pingpong(mode_flags[m], 1, pings), pings);
			put(&pp64, m, r, pingpong(mode_flags[m], CONNS, pings / 10),
			    (double)CONNS * (pings / 10));
			/* CPU per MiB */
			put(&bk, m, r, bulk(mode_flags[m]), (double)(bulk_bytes >> 20));
		}
	}
	report(sock, "stream_pingpong", "ns", &pp, false);
	report(sock, "stream_pingpong64", "ns", &pp64, false);
	report(sock, "stream_bulk", "mib_s", &bk, true);
	printf("%sraw_pingpong_ns %.0f\n", sock, median(raw, rounds));
	fflush(stdout);
}

static int main_task(void *arg, void **result)
{
	lfd = ringo_tcp_listen("127.0.0.1", 0, 4096, 0);
	if (lfd < 0)
		die("listen", lfd);
	port = ringo_socket_port(lfd);
	/* Warm-up: buffers, the buffer ring, task stacks. */
	for (int m = 0; m < MODES; m++)
		pingpong(mode_flags[m], CONNS, 100);
	for (unix_pairs = 0; unix_pairs < 2; unix_pairs++)
		measure(unix_pairs ? "unix_" : "tcp_");
	close(lfd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		rounds = atoi(argv[1]);
	if (rounds < 1 || rounds > 64)
		rounds = 5;
	bulk_bytes = (uint64_t)(argc > 2 ? atoi(argv[2]) : 1024) << 20;
	if (bulk_bytes == 0)
		bulk_bytes = 1u << 20;
	if (argc > 3)
		pings = atoi(argv[3]);
	if (pings < 10)
		pings = 10;
	int err = ringo_run(main_task, NULL, NULL, NULL);
	if (err < 0)
		die("run", err);
	return 0;
}
