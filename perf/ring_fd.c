/*
 * ring_fd: what a registered ring fd (io_uring_register_ring_fd) saves per
 * io_uring_enter, on the raw ring, in one run. Each enter submits one NOP
 * and waits for its completion (the shape of a loop iteration that has
 * one thing to do). Rounds alternate plain / registered (ABAB...) and the
 * median is printed, so the machine's drift hits both alike.
 *
 * The saving is the fd-table lookup (fdget/fdput) of every enter. In a
 * single-threaded process that lookup takes no reference; once a second
 * thread shares the fd table (ringo's executor, any helper thread) it does
 * an atomic increment and decrement. Both cases are measured: the second
 * with an idle thread parked for the whole pass.
 *
 *   build/perf/ring_fd [ROUNDS [ENTERS]]     (defaults 7, 200000)
 *
 * Lines: ring_fd_<plain|registered>_<1thread|2threads>_ns (ns per enter,
 * median), ring_fd_ratio_<1thread|2threads> (registered / plain: below 1
 * means the registered ring is cheaper).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <liburing.h>
#include "times.h"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* ns per enter for ENTERS enters of one NOP each. */
static int64_t pass(struct io_uring *ring, int enters)
{
	int64_t t0 = now_ns();
	for (int i = 0; i < enters; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
		io_uring_prep_nop(sqe);
		struct io_uring_cqe *cqe;
		int ret = io_uring_submit_and_wait(ring, 1);
		if (ret < 0 || io_uring_peek_cqe(ring, &cqe) < 0) {
			fprintf(stderr, "ring_fd: enter failed: %s\n", strerror(-ret));
			exit(1);
		}
		io_uring_cqe_seen(ring, cqe);
	}
	return (now_ns() - t0) / enters;
}

static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cond = PTHREAD_COND_INITIALIZER;
static int park_done;

static void *parked(void *arg)
{
	pthread_mutex_lock(&park_lock);
	while (!park_done)
		pthread_cond_wait(&park_cond, &park_lock);
	pthread_mutex_unlock(&park_lock);
	return arg;
}

static void measure(const char *label, int rounds, int enters)
{
	struct io_uring ring;
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL;
	int err = io_uring_queue_init_params(64, &ring, &p);
	if (err < 0) {
		fprintf(stderr, "ring_fd: io_uring_queue_init: %s\n", strerror(-err));
		exit(1);
	}
	int64_t plain[64], reg[64];
	pass(&ring, enters / 10); /* warm up */
	for (int r = 0; r < rounds; r++) {
		plain[r] = pass(&ring, enters);
		if (io_uring_register_ring_fd(&ring) != 1) {
			fprintf(stderr, "ring_fd: io_uring_register_ring_fd refused\n");
			exit(1);
		}
		reg[r] = pass(&ring, enters);
		io_uring_unregister_ring_fd(&ring);
	}
	io_uring_queue_exit(&ring);
	qsort(plain, (size_t)rounds, sizeof(plain[0]), cmp_i64);
	qsort(reg, (size_t)rounds, sizeof(reg[0]), cmp_i64);
	int64_t a = plain[rounds / 2], b = reg[rounds / 2];
	printf("ring_fd_plain_%s_ns %lld\n", label, (long long)a);
	printf("ring_fd_registered_%s_ns %lld\n", label, (long long)b);
	printf("ring_fd_ratio_%s %.3f\n", label, (double)b / (double)a);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 7;
	int enters = argc > 2 ? atoi(argv[2]) : 200000;
	if (rounds < 1 || rounds > 64 || enters < 10) {
		fprintf(stderr, "usage: ring_fd [ROUNDS (1..64) [ENTERS (>= 10)]]\n");
		return 2;
	}
	measure("1thread", rounds, enters);
	pthread_t t;
	if (pthread_create(&t, NULL, parked, NULL) != 0) {
		fprintf(stderr, "ring_fd: pthread_create failed\n");
		return 1;
	}
	measure("2threads", rounds, enters);
	pthread_mutex_lock(&park_lock);
	park_done = 1;
	pthread_cond_signal(&park_cond);
	pthread_mutex_unlock(&park_lock);
	pthread_join(t, NULL);
	return 0;
}
