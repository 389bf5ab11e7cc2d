/*
 * send_zc: IORING_OP_SEND_ZC against plain IORING_OP_SEND, on the raw ring,
 * over TCP loopback, for a range of write sizes: where (if anywhere) does
 * zero-copy send win? One thread sends BYTES through one ring with up to
 * INFLIGHT sends of SIZE bytes in flight, each from its own buffer; another
 * thread drains the other end with recv(2). A zero-copy send's buffer is
 * reused only after its notification CQE (IORING_CQE_F_NOTIF), as the
 * kernel requires; a plain send's after its result. Rounds alternate plain
 * / zero-copy (ABAB...) and medians are printed.
 *
 * Every notification is asked to report whether the kernel copied after
 * all (IORING_SEND_ZC_REPORT_USAGE): a packet delivered to a local socket
 * (loopback, veth) is copied at delivery whatever the sender asked, so
 * here zero-copy can only add its pinning and notification costs. A real
 * NIC with scatter-gather is where it can win; this VM has none.
 *
 *   build/perf/send_zc [ROUNDS [MIB_PER_PASS [SIZES...]]]
 *                      (defaults 5, 256, 4096 16384 65536 262144 1048576)
 *
 * Lines per size S: send_zc_S_<plain|zc>_mib_s (throughput),
 * send_zc_S_<plain|zc>_cpu_ms_per_gib (process CPU, both ends and the
 * kernel's work for them, per GiB), send_zc_S_cpu_ratio and
 * send_zc_S_mib_s_ratio (zc / plain: cpu below 1 and MiB/s above 1 mean
 * zero-copy wins), send_zc_S_copied_fraction (notifications reporting
 * that the kernel copied anyway).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

/* Newer than liburing 2.3's headers (Linux 6.2). */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

#define INFLIGHT 4

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "send_zc: %s: %s\n", what, strerror(err));
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void *drain(void *arg)
{
	int fd = (int)(intptr_t)arg;
	static char sink[1 << 20];
	for (;;) {
		ssize_t n = recv(fd, sink, sizeof(sink), 0);
		if (n == 0)
			break;
		if (n < 0 && errno != EINTR)
			die("recv", errno);
	}
	return NULL;
}

/* A connected TCP loopback pair: *a sends, *b receives. */
static void tcp_pair(int *a, int *b)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	if (l < 0 || bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) < 0)
		die("listen", errno);
	*a = socket(AF_INET, SOCK_STREAM, 0);
	if (*a < 0 || connect(*a, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("connect", errno);
	*b = accept(l, NULL, NULL);
	if (*b < 0)
		die("accept", errno);
	close(l);
	int one = 1;
	setsockopt(*a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

struct result {
	double mib_s, cpu_ms_per_gib;
	uint64_t notifs, copied;
};

/* user_data is the buffer's index; a CQE's flags tell a send's result
 * from its notification. */
static void one_pass(struct io_uring *ring, char *bufs, size_t size, uint64_t total, bool zc,
		     struct result *out)
{
	int s, r;
	tcp_pair(&s, &r);
	pthread_t t;
	if (pthread_create(&t, NULL, drain, (void *)(intptr_t)r) != 0)
		die("pthread_create", EAGAIN);
	bool busy[INFLIGHT] = {0};
	unsigned inflight = 0;
	uint64_t queued = 0, done = 0;
	out->notifs = out->copied = 0;
	int64_t w0 = clock_ns(CLOCK_MONOTONIC), c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	while (done < total || inflight > 0) {
		for (unsigned i = 0; i < INFLIGHT && queued < total; i++) {
			if (busy[i])
				continue;
			size_t n = total - queued < size ? (size_t)(total - queued) : size;
			struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
			if (zc) {
				io_uring_prep_send_zc(sqe, s, bufs + i * size, n, MSG_WAITALL, 0);
				sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
			} else {
				io_uring_prep_send(sqe, s, bufs + i * size, n, MSG_WAITALL);
			}
			io_uring_sqe_set_data64(sqe, i);
			busy[i] = true;
			inflight++;
			queued += n;
		}
		int ret = io_uring_submit_and_wait(ring, 1);
		if (ret < 0 && ret != -EINTR)
			die("io_uring_submit_and_wait", -ret);
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(ring, head, cqe) {
			unsigned i = (unsigned)cqe->user_data;
			seen++;
			if (cqe->flags & IORING_CQE_F_NOTIF) {
				out->notifs++;
				if ((uint32_t)cqe->res & IORING_NOTIF_USAGE_ZC_COPIED)
					out->copied++;
				busy[i] = false;
				inflight--;
				continue;
			}
			if (cqe->res < 0)
				die("send", -cqe->res);
			done += (uint64_t)cqe->res;
			/* F_MORE: a notification follows; the buffer is the kernel's
			 * until then. */
			if (!(cqe->flags & IORING_CQE_F_MORE)) {
				busy[i] = false;
				inflight--;
			}
		}
		io_uring_cq_advance(ring, seen);
	}
	shutdown(s, SHUT_WR);
	pthread_join(t, NULL);
	int64_t w1 = clock_ns(CLOCK_MONOTONIC), c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	close(s);
	close(r);
	double gib = (double)total / (1 << 30);
	out->mib_s = (double)total / (1 << 20) / ((double)(w1 - w0) / 1e9);
	out->cpu_ms_per_gib = (double)(c1 - c0) / 1e6 / gib;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void measure(struct io_uring *ring, size_t size, int rounds, uint64_t total)
{
	char *bufs = malloc(size * INFLIGHT);
	if (!bufs)
		die("malloc", ENOMEM);
	memset(bufs, 'x', size * INFLIGHT);
	double p_mib[64], z_mib[64], p_cpu[64], z_cpu[64];
	uint64_t notifs = 0, copied = 0;
	struct result res;
	one_pass(ring, bufs, size, total / 8, true, &res); /* warm up */
	for (int i = 0; i < rounds; i++) {
		one_pass(ring, bufs, size, total, false, &res);
		p_mib[i] = res.mib_s;
		p_cpu[i] = res.cpu_ms_per_gib;
		one_pass(ring, bufs, size, total, true, &res);
		z_mib[i] = res.mib_s;
		z_cpu[i] = res.cpu_ms_per_gib;
		notifs += res.notifs;
		copied += res.copied;
	}
	free(bufs);
	double pm = median(p_mib, rounds), zm = median(z_mib, rounds);
	double pc = median(p_cpu, rounds), zcpu = median(z_cpu, rounds);
	printf("send_zc_%zu_plain_mib_s %.0f\n", size, pm);
	printf("send_zc_%zu_zc_mib_s %.0f\n", size, zm);
	printf("send_zc_%zu_plain_cpu_ms_per_gib %.1f\n", size, pc);
	printf("send_zc_%zu_zc_cpu_ms_per_gib %.1f\n", size, zcpu);
	printf("send_zc_%zu_cpu_ratio %.3f\n", size, zcpu / pc);
	printf("send_zc_%zu_mib_s_ratio %.3f\n", size, zm / pm);
	printf("send_zc_%zu_copied_fraction %.3f\n", size,
	       notifs ? (double)copied / (double)notifs : 0.0);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5;
	long mib = argc > 2 ? atol(argv[2]) : 256;
	if (rounds < 1 || rounds > 64 || mib < 1) {
		fprintf(stderr, "usage: send_zc [ROUNDS (1..64) [MIB_PER_PASS [SIZES...]]]\n");
		return 2;
	}
	struct io_uring ring;
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL;
	int err = io_uring_queue_init_params(64, &ring, &p);
	if (err < 0)
		die("io_uring_queue_init", -err);
	static const size_t defaults[] = {4096, 16384, 65536, 262144, 1048576};
	uint64_t total = (uint64_t)mib << 20;
	if (argc > 3) {
		for (int i = 3; i < argc; i++) {
			long size = atol(argv[i]);
			if (size < 1 || size > (64L << 20)) {
				fprintf(stderr, "send_zc: size %s out of range\n", argv[i]);
				return 2;
			}
			measure(&ring, (size_t)size, rounds, total);
		}
	} else {
		for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
			measure(&ring, defaults[i], rounds, total);
	}
	io_uring_queue_exit(&ring);
	return 0;
}
