/*
 * fixed_files: what registered (direct) files save per socket operation on
 * the raw ring, in one run. CONNS TCP loopback connections, both ends in
 * one ring on one thread, each playing ping-pong (64 B send, recv on the
 * other end, send back, recv): four ring operations per round trip. The
 * same sockets are used both ways: plain descriptors, or their slots in a
 * registered file table (IOSQE_FIXED_FILE). Rounds alternate plain /
 * fixed (ABAB...) and medians are printed.
 *
 * A plain descriptor costs each operation an fget/fput (an atomic
 * increment and decrement on the file, and the fd-table lookup); a direct
 * one a table index. Whether that shows beside the rest of a socket
 * operation is the question.
 *
 *   build/perf/fixed_files [ROUNDS [ROUND_TRIPS]]   (defaults 7, 20000)
 *
 * Lines for CONNS in 1 and 64: fixed_files_c<CONNS>_<plain|fixed>_ns (wall
 * ns per round trip), fixed_files_c<CONNS>_<plain|fixed>_cpu_ns (process
 * CPU ns per round trip), fixed_files_c<CONNS>_cpu_ratio (fixed / plain:
 * below 1 means direct files are cheaper).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#define MSG 64
#define MAX_CONNS 64

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "fixed_files: %s: %s\n", what, strerror(err));
	exit(1);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* fds[2i] is connection i's client end, fds[2i+1] its server end. */
static void tcp_pairs(int *fds, int conns)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	if (l < 0 || bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(l, MAX_CONNS) < 0 || getsockname(l, (struct sockaddr *)&sin, &len) < 0)
		die("listen", errno);
	for (int i = 0; i < conns; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&sin, sizeof(sin)) < 0)
			die("connect", errno);
		int s = accept(l, NULL, NULL);
		if (s < 0)
			die("accept", errno);
		int one = 1;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fds[2 * i] = c;
		fds[2 * i + 1] = s;
	}
	close(l);
}

/* One connection's ping-pong: the step says which operation is next. */
enum step { CLIENT_SEND, SERVER_RECV, SERVER_SEND, CLIENT_RECV };

struct conn {
	enum step step;
	char buf[MSG];
};

static void queue_step(struct io_uring *ring, const int *fds, struct conn *c, int i, bool fixed)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	if (!sqe) {
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	int side = c->step == CLIENT_SEND || c->step == CLIENT_RECV ? 2 * i : 2 * i + 1;
	int fd = fixed ? side : fds[side];
	if (c->step == CLIENT_SEND || c->step == SERVER_SEND)
		io_uring_prep_send(sqe, fd, c->buf, MSG, MSG_WAITALL);
	else
		io_uring_prep_recv(sqe, fd, c->buf, MSG, MSG_WAITALL);
	if (fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, (uint64_t)i);
}

/* Wall and CPU ns per round trip over `trips` round trips in all. */
static void pass(struct io_uring *ring, const int *fds, int conns, int trips, bool fixed,
		 int64_t *wall, int64_t *cpu)
{
	static struct conn cs[MAX_CONNS];
	int per_conn = trips / conns, left = 0;
	int remaining[MAX_CONNS];
	for (int i = 0; i < conns; i++) {
		cs[i].step = CLIENT_SEND;
		memset(cs[i].buf, 'p', MSG);
		remaining[i] = per_conn;
		left += per_conn;
		queue_step(ring, fds, &cs[i], i, fixed);
	}
	int64_t w0 = clock_ns(CLOCK_MONOTONIC), c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	while (left > 0) {
		int ret = io_uring_submit_and_wait(ring, 1);
		if (ret < 0 && ret != -EINTR)
			die("io_uring_submit_and_wait", -ret);
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(ring, head, cqe) {
			seen++;
			int i = (int)cqe->user_data;
			if (cqe->res != MSG)
				die("send/recv", cqe->res < 0 ? -cqe->res : EPROTO);
			struct conn *c = &cs[i];
			if (c->step == CLIENT_RECV) {
				left--;
				if (--remaining[i] == 0)
					continue;
				c->step = CLIENT_SEND;
			} else {
				c->step++;
			}
			queue_step(ring, fds, c, i, fixed);
		}
		io_uring_cq_advance(ring, seen);
	}
	int64_t w1 = clock_ns(CLOCK_MONOTONIC), c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	int done = per_conn * conns;
	*wall = (w1 - w0) / done;
	*cpu = (c1 - c0) / done;
}

static void measure(int conns, int rounds, int trips)
{
	struct io_uring ring;
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL;
	int err = io_uring_queue_init_params(256, &ring, &p);
	if (err < 0)
		die("io_uring_queue_init", -err);
	int fds[2 * MAX_CONNS];
	tcp_pairs(fds, conns);
	err = io_uring_register_files(&ring, fds, (unsigned)(2 * conns));
	if (err < 0)
		die("io_uring_register_files", -err);
	int64_t pw[64], pc[64], fw[64], fc[64], w, c;
	pass(&ring, fds, conns, trips / 10, true, &w, &c); /* warm up */
	for (int r = 0; r < rounds; r++) {
		pass(&ring, fds, conns, trips, false, &pw[r], &pc[r]);
		pass(&ring, fds, conns, trips, true, &fw[r], &fc[r]);
	}
	io_uring_queue_exit(&ring);
	for (int i = 0; i < 2 * conns; i++)
		close(fds[i]);
	qsort(pw, (size_t)rounds, sizeof(pw[0]), cmp_i64);
	qsort(pc, (size_t)rounds, sizeof(pc[0]), cmp_i64);
	qsort(fw, (size_t)rounds, sizeof(fw[0]), cmp_i64);
	qsort(fc, (size_t)rounds, sizeof(fc[0]), cmp_i64);
	int m = rounds / 2;
	printf("fixed_files_c%d_plain_ns %lld\n", conns, (long long)pw[m]);
	printf("fixed_files_c%d_fixed_ns %lld\n", conns, (long long)fw[m]);
	printf("fixed_files_c%d_plain_cpu_ns %lld\n", conns, (long long)pc[m]);
	printf("fixed_files_c%d_fixed_cpu_ns %lld\n", conns, (long long)fc[m]);
	printf("fixed_files_c%d_cpu_ratio %.3f\n", conns, (double)fc[m] / (double)pc[m]);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 7;
	int trips = argc > 2 ? atoi(argv[2]) : 20000;
	if (rounds < 1 || rounds > 64 || trips < 640) {
		fprintf(stderr, "usage: fixed_files [ROUNDS (1..64) [ROUND_TRIPS (>= 640)]]\n");
		return 2;
	}
	measure(1, rounds, trips);
	measure(MAX_CONNS, rounds, trips);
	return 0;
}
