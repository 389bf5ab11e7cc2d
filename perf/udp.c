/*
 * udp: what a UDP round trip on loopback costs through ringo_sendto and
 * ringo_recvfrom (io_uring SENDMSG/RECVMSG from tasks), beside the floor
 * of plain blocking sendto/recvfrom calls on one thread, in the same run.
 *
 * P pairs of sockets; each round trip is a 64-byte datagram from a to b
 * and back, addressed with sendto. ringo: per pair one task pings (send,
 * then wait for the answer) and one answers (receive, send back to the
 * address it came from), all on one loop. Baseline: one thread sends on
 * every pair's a, receives and answers on every b, then receives on every
 * a: four system calls per round trip, none of which waits (loopback
 * queues a datagram at once), so it is the system calls' own cost.
 * Both run on one thread, which is measured by its CPU time (on a shared
 * machine wall time mostly counts the waits for a core). Medians of REPS
 * alternating runs:
 *   udp_p<P>_syscall_cpu_ns   baseline, CPU time per round trip
 *   udp_p<P>_ringo_cpu_ns     ringo, CPU time per round trip
 *   udp_p<P>_ringo_cpu_ratio  ringo / baseline (< 1: ringo is cheaper, as
 *                             one submission carries several pairs' calls)
 *
 *   build/perf/udp [ROUND_TRIPS] [REPS]     (defaults 100000, 5)
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ringo.h>
#include "times.h"

#define MAX_PAIRS 64
#define MSG 64

struct pair {
	int a, b;
	struct sockaddr_storage a_addr, b_addr;
	socklen_t a_len, b_len;
};

struct run {
	struct pair pairs[MAX_PAIRS];
	int npairs;
	long per_pair; /* round trips each pair makes */
	int err;
};

/* The calling thread's CPU time: ringo_run's loop runs on it too. */
static int cmpd(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmpd);
	return v[n / 2];
}

static void die(const char *what, int err)
{
	fprintf(stderr, "udp: %s: %s\n", what, ringo_strerror(err));
	exit(1);
}

static int local_addr(int fd, struct sockaddr_storage *ss, socklen_t *len)
{
	*len = sizeof(*ss);
	return getsockname(fd, (struct sockaddr *)ss, len) < 0 ? -errno : 0;
}

static void open_pairs(struct run *r)
{
	for (int i = 0; i < r->npairs; i++) {
		struct pair *p = &r->pairs[i];
		p->a = ringo_udp_bind("127.0.0.1", 0, 0);
		p->b = ringo_udp_bind("127.0.0.1", 0, 0);
		if (p->a < 0 || p->b < 0)
			die("ringo_udp_bind", p->a < 0 ? p->a : p->b);
		int err = local_addr(p->a, &p->a_addr, &p->a_len);
		if (!err)
			err = local_addr(p->b, &p->b_addr, &p->b_len);
		if (err)
			die("getsockname", err);
	}
}

static void close_pairs(struct run *r)
{
	for (int i = 0; i < r->npairs; i++) {
		close(r->pairs[i].a);
		close(r->pairs[i].b);
	}
}

/* ---- baseline: blocking system calls, all pairs in step ---- */

static void must(ssize_t got, const char *what)
{
	if (got != MSG)
		die(what, got < 0 ? -errno : -EIO);
}

static double syscall_run(struct run *r)
{
	char buf[MSG] = {0};
	struct sockaddr_storage from;
	socklen_t flen;
	int64_t t0 = now_ns();
	for (long k = 0; k < r->per_pair; k++) {
		for (int i = 0; i < r->npairs; i++) {
			struct pair *p = &r->pairs[i];
			must(sendto(p->a, buf, MSG, 0, (struct sockaddr *)&p->b_addr, p->b_len),
			     "sendto");
		}
		for (int i = 0; i < r->npairs; i++) {
			struct pair *p = &r->pairs[i];
			flen = sizeof(from);
			must(recvfrom(p->b, buf, MSG, 0, (struct sockaddr *)&from, &flen), "recvfrom");
			must(sendto(p->b, buf, MSG, 0, (struct sockaddr *)&from, flen), "sendto");
		}
		for (int i = 0; i < r->npairs; i++) {
			struct pair *p = &r->pairs[i];
			flen = sizeof(from);
			must(recvfrom(p->a, buf, MSG, 0, (struct sockaddr *)&from, &flen), "recvfrom");
		}
	}
	return (double)(now_ns() - t0) / (double)(r->per_pair * r->npairs);
}

/* ---- ringo: a pinging and an answering task per pair ---- */

struct side {
	struct run *run;
	struct pair *pair;
};

static int answer_task(void *arg, void **result)
{
	struct side *s = arg;
	char buf[MSG];
	struct sockaddr_storage from;
	for (;;) {
		socklen_t flen = sizeof(from);
		int n = ringo_recvfrom(s->pair->b, buf, sizeof(buf), 0, (struct sockaddr *)&from,
				       &flen);
		if (n < 0)
			return n; /* -ECANCELED when the run is over */
		n = ringo_sendto(s->pair->b, buf, (size_t)n, 0, (struct sockaddr *)&from, flen);
		if (n < 0)
			return n;
	}
}

static int ping_task(void *arg, void **result)
{
	struct side *s = arg;
	struct pair *p = s->pair;
	char buf[MSG] = {0};
	for (long k = 0; k < s->run->per_pair; k++) {
		int n = ringo_sendto(p->a, buf, MSG, 0, (struct sockaddr *)&p->b_addr, p->b_len);
		if (n == MSG)
			n = ringo_recvfrom(p->a, buf, MSG, 0, NULL, NULL);
		if (n != MSG)
			return n < 0 ? n : -EIO;
	}
	return 0;
}

struct ringo_run_arg {
	struct run *run;
	double ns; /* per round trip */
};

static int ringo_main(void *arg, void **result)
{
	struct ringo_run_arg *ra = arg;
	struct run *r = ra->run;
	ringo_loop *loop = ringo_loop_current();
	struct side sides[MAX_PAIRS];
	ringo_task *ping[MAX_PAIRS], *answer[MAX_PAIRS];
	int64_t t0 = now_ns();
	for (int i = 0; i < r->npairs; i++) {
		sides[i] = (struct side){r, &r->pairs[i]};
		int err = ringo_spawn(loop, answer_task, &sides[i], NULL, &answer[i]);
		if (!err)
			err = ringo_spawn(loop, ping_task, &sides[i], NULL, &ping[i]);
		if (err)
			die("ringo_spawn", err);
	}
	for (int i = 0; i < r->npairs; i++) {
		int err = ringo_await(ringo_task_future(ping[i]), NULL);
		if (err)
			die("ping", err);
	}
	ra->ns = (double)(now_ns() - t0) / (double)(r->per_pair * r->npairs);
	for (int i = 0; i < r->npairs; i++) {
		ringo_task_cancel(answer[i], NULL);
		int err = ringo_await(ringo_task_future(answer[i]), NULL);
		if (err != -ECANCELED)
			die("answer", err);
		ringo_task_release(answer[i]);
		ringo_task_release(ping[i]);
	}
	return 0;
}

static double ringo_once(struct run *r)
{
	struct ringo_run_arg ra = {r, 0};
	int err = ringo_run(ringo_main, &ra, NULL, NULL);
	if (err)
		die("ringo_run", err);
	return ra.ns;
}

int main(int argc, char **argv)
{
	long total = argc > 1 ? atol(argv[1]) : 100000;
	int reps = argc > 2 ? atoi(argv[2]) : 5;
	if (total < MAX_PAIRS || reps < 1 || reps > 99) {
		fprintf(stderr, "usage: udp [ROUND_TRIPS >= %d] [REPS 1..99]\n", MAX_PAIRS);
		return 2;
	}
	static const int pair_counts[] = {1, 8, MAX_PAIRS};
	for (size_t c = 0; c < sizeof(pair_counts) / sizeof(pair_counts[0]); c++) {
		struct run r = {.npairs = pair_counts[c]};
		r.per_pair = total / r.npairs;
		open_pairs(&r);
		double sys[99], rin[99];
		for (int k = 0; k < reps; k++) {
			sys[k] = syscall_run(&r);
			rin[k] = ringo_once(&r);
		}
		close_pairs(&r);
		double s = median(sys, reps), g = median(rin, reps);
		printf("udp_p%d_syscall_cpu_ns %.0f\n", r.npairs, s);
		printf("udp_p%d_ringo_cpu_ns %.0f\n", r.npairs, g);
		printf("udp_p%d_ringo_cpu_ratio %.3f\n", r.npairs, g / s);
		fflush(stdout);
	}
	return 0;
}
