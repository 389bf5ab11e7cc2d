/*
 * recv_bundle: multishot receive from a provided buffer ring with and
 * without receive bundles (IORING_RECVSEND_BUNDLE, Linux 6.10+), on the raw
 * ring, in one run. A sender thread writes BYTES over TCP loopback in
 * blocks of BLOCK bytes with send(2); the receiver holds one multishot
 * recv on a ring of 256 buffers of BUFSIZE bytes (the stream layer's
 * shape), recycling each buffer as soon as its CQE is handled. Without
 * bundles every CQE carries one buffer; with them one CQE may carry
 * several. Rounds alternate plain / bundle (ABAB...) and medians are
 * printed.
 *
 *   build/perf/recv_bundle [ROUNDS [MIB_PER_PASS [BUFSIZE [BLOCK]]]]
 *                          (defaults 5, 256, 16384, 65536)
 *
 * Lines: recv_bundle_<plain|bundle>_mib_s, recv_bundle_<plain|bundle>_
 * cpu_ms_per_gib (process CPU: both ends and the kernel's work for them),
 * recv_bundle_<plain|bundle>_bufs_per_cqe, recv_bundle_cpu_ratio and
 * recv_bundle_mib_s_ratio (bundle / plain: cpu below 1 and MiB/s above 1
 * mean bundles win). A kernel without bundles prints
 * recv_bundle_unsupported 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

/* Newer than liburing 2.3's headers (Linux 6.10). */
#ifndef IORING_RECVSEND_BUNDLE
#define IORING_RECVSEND_BUNDLE (1U << 4)
#endif
#ifndef IORING_FEAT_RECVSEND_BUNDLE
#define IORING_FEAT_RECVSEND_BUNDLE (1U << 14)
#endif

#define NBUFS 256
#define GROUP 7

static size_t bufsize = 16384, block = 65536;

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "recv_bundle: %s: %s\n", what, strerror(err));
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct sender {
	int fd;
	uint64_t total;
};

static void *send_all(void *arg)
{
	struct sender *s = arg;
	char *buf = malloc(block);
	if (!buf)
		die("malloc", ENOMEM);
	memset(buf, 's', block);
	for (uint64_t sent = 0; sent < s->total;) {
		size_t n = s->total - sent < block ? (size_t)(s->total - sent) : block;
		ssize_t r = send(s->fd, buf, n, 0);
		if (r < 0 && errno != EINTR)
			die("send", errno);
		if (r > 0)
			sent += (uint64_t)r;
	}
	shutdown(s->fd, SHUT_WR);
	free(buf);
	return NULL;
}

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
}

/* The buffer ring and, per ring slot, which buffer it holds: a bundle
 * covers consecutive slots from its first buffer's, each full but the
 * last, and recycling reorders ids, so the ids come from this record. */
struct bufs {
	struct io_uring_buf_ring *br;
	char *mem;
	uint16_t slot_bid[NBUFS];
	uint16_t bid_slot[NBUFS];
	unsigned tail; /* slots added so far */
};

static void buf_add(struct bufs *b, uint16_t bid)
{
	io_uring_buf_ring_add(b->br, b->mem + (size_t)bid * bufsize, (unsigned)bufsize, bid,
			      NBUFS - 1, 0);
	b->slot_bid[b->tail % NBUFS] = bid;
	b->bid_slot[bid] = (uint16_t)(b->tail % NBUFS);
	b->tail++;
	io_uring_buf_ring_advance(b->br, 1);
}

static void arm(struct io_uring *ring, int fd, bool bundle)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = GROUP;
	if (bundle)
		sqe->ioprio |= IORING_RECVSEND_BUNDLE;
}

struct result {
	double mib_s, cpu_ms_per_gib, bufs_per_cqe;
};

static void one_pass(struct io_uring *ring, struct bufs *b, uint64_t total, bool bundle,
		     struct result *out)
{
	int s, r;
	tcp_pair(&s, &r);
	struct sender snd = {.fd = s, .total = total};
	pthread_t t;
	int64_t w0 = clock_ns(CLOCK_MONOTONIC), c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	if (pthread_create(&t, NULL, send_all, &snd) != 0)
		die("pthread_create", EAGAIN);
	uint64_t got = 0, cqes = 0, nbufs = 0;
	bool armed = false, eof = false;
	while (!eof || armed) {
		if (!armed && !eof) {
			arm(ring, r, bundle);
			armed = true;
		}
		int ret = io_uring_submit_and_wait(ring, 1);
		if (ret < 0 && ret != -EINTR)
			die("io_uring_submit_and_wait", -ret);
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(ring, head, cqe) {
			seen++;
			if (cqe->flags & IORING_CQE_F_BUFFER) {
				uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
				unsigned slot = b->bid_slot[bid];
				int32_t left = cqe->res > 0 ? cqe->res : 1;
				cqes++;
				/* Each buffer the CQE covers goes straight back. */
				while (left > 0) {
					buf_add(b, b->slot_bid[slot % NBUFS]);
					slot++;
					nbufs++;
					left -= (int32_t)bufsize;
				}
				if (cqe->res > 0)
					got += (uint64_t)cqe->res;
			}
			if (!(cqe->flags & IORING_CQE_F_MORE)) {
				armed = false;
				if (cqe->res == 0)
					eof = true;
				else if (cqe->res < 0 && cqe->res != -ENOBUFS)
					die("recv", -cqe->res);
			}
		}
		io_uring_cq_advance(ring, seen);
	}
	pthread_join(t, NULL);
	int64_t w1 = clock_ns(CLOCK_MONOTONIC), c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	close(s);
	close(r);
	if (got != total)
		die("short transfer", EPROTO);
	out->mib_s = (double)total / (1 << 20) / ((double)(w1 - w0) / 1e9);
	out->cpu_ms_per_gib = (double)(c1 - c0) / 1e6 / ((double)total / (1 << 30));
	out->bufs_per_cqe = cqes ? (double)nbufs / (double)cqes : 0;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5;
	long mib = argc > 2 ? atol(argv[2]) : 256;
	if (argc > 3)
		bufsize = (size_t)atol(argv[3]);
	if (argc > 4)
		block = (size_t)atol(argv[4]);
	if (rounds < 1 || rounds > 64 || mib < 1 || bufsize < 64 || bufsize > (1u << 20) ||
	    block < 1 || block > (64u << 20)) {
		fprintf(stderr, "usage: recv_bundle [ROUNDS [MIB_PER_PASS [BUFSIZE [BLOCK]]]]\n");
		return 2;
	}
	struct io_uring ring;
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
	p.cq_entries = 1024;
	int err = io_uring_queue_init_params(64, &ring, &p);
	if (err < 0)
		die("io_uring_queue_init", -err);
	if (!(p.features & IORING_FEAT_RECVSEND_BUNDLE)) {
		printf("recv_bundle_unsupported 1\n");
		return 0;
	}
	static struct bufs b;
	b.br = mmap(NULL, NBUFS * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b.mem = malloc(NBUFS * bufsize);
	if (b.br == MAP_FAILED || !b.mem)
		die("buffers", ENOMEM);
	struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)b.br,
				       .ring_entries = NBUFS, .bgid = GROUP};
	err = io_uring_register_buf_ring(&ring, &reg, 0);
	if (err < 0)
		die("io_uring_register_buf_ring", -err);
	io_uring_buf_ring_init(b.br);
	for (unsigned i = 0; i < NBUFS; i++)
		buf_add(&b, (uint16_t)i);
	uint64_t total = (uint64_t)mib << 20;
	double pm[64], bm[64], pc[64], bc[64], pb[64], bb[64];
	struct result res;
	one_pass(&ring, &b, total / 8, true, &res); /* warm up */
	for (int i = 0; i < rounds; i++) {
		one_pass(&ring, &b, total, false, &res);
		pm[i] = res.mib_s, pc[i] = res.cpu_ms_per_gib, pb[i] = res.bufs_per_cqe;
		one_pass(&ring, &b, total, true, &res);
		bm[i] = res.mib_s, bc[i] = res.cpu_ms_per_gib, bb[i] = res.bufs_per_cqe;
	}
	double m_p = median(pm, rounds), m_b = median(bm, rounds);
	double c_p = median(pc, rounds), c_b = median(bc, rounds);
	printf("recv_bundle_plain_mib_s %.0f\n", m_p);
	printf("recv_bundle_bundle_mib_s %.0f\n", m_b);
	printf("recv_bundle_plain_cpu_ms_per_gib %.1f\n", c_p);
	printf("recv_bundle_bundle_cpu_ms_per_gib %.1f\n", c_b);
	printf("recv_bundle_plain_bufs_per_cqe %.2f\n", median(pb, rounds));
	printf("recv_bundle_bundle_bufs_per_cqe %.2f\n", median(bb, rounds));
	printf("recv_bundle_cpu_ratio %.3f\n", c_b / c_p);
	printf("recv_bundle_mib_s_ratio %.3f\n", m_b / m_p);
	io_uring_queue_exit(&ring);
	munmap(b.br, NBUFS * sizeof(struct io_uring_buf));
	free(b.mem);
	return 0;
}
