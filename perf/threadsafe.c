/*
 * call_soon_threadsafe throughput with two producer threads, and the cost
 * of posting between two loop threads (eventfd vs IORING_OP_MSG_RING).
 *   call_soon_threadsafe_per_s  callbacks run per second, 2 producers
 *   loop_post_eventfd_us        median one-way hop between loops (ping-pong / 2)
 *   loop_post_msg_ring_us       same, through MSG_RING
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include <ringo.h>
#include "times.h"

#define PER_PRODUCER 2000000
#define HOPS 20000

static ringo_loop *g_loop;
static long g_count;

static void count_cb(void *arg)
{
	if (++g_count == 2L * PER_PRODUCER)
		ringo_loop_stop(g_loop);
}

static void *produce(void *arg)
{
	for (int i = 0; i < PER_PRODUCER; i++)
		while (ringo_call_soon_threadsafe(g_loop, count_cb, NULL) < 0)
			;
	return NULL;
}

struct pp {
	ringo_loop *a, *b;
	enum ringo_post_mode mode;
	int left;
	pthread_mutex_t m;
	pthread_cond_t c;
	bool done;
};

static void hop(void *arg);

static void hop_b(void *arg)
{
	struct pp *p = arg;
	ringo_loop_post(p->b, p->a, hop, p, p->mode);
}

static void hop(void *arg)
{
	struct pp *p = arg;
	if (--p->left == 0) {
		pthread_mutex_lock(&p->m);
		p->done = true;
		pthread_cond_signal(&p->c);
		pthread_mutex_unlock(&p->m);
		return;
	}
	ringo_loop_post(p->a, p->b, hop_b, p, p->mode);
}

static double hop_us(enum ringo_post_mode mode)
{
	ringo_loop_thread *ta, *tb;
	ringo_loop_thread_options oa = {.pin = true, .cpu = 0}, ob = {.pin = true, .cpu = 1};
	ringo_loop_thread_start(&oa, &ta);
	ringo_loop_thread_start(&ob, &tb);
	struct pp p = {.a = ringo_loop_thread_loop(ta), .b = ringo_loop_thread_loop(tb),
		       .mode = mode, .left = HOPS};
	pthread_mutex_init(&p.m, NULL);
	pthread_cond_init(&p.c, NULL);
	int64_t t0 = now_ns();
	ringo_call_soon_threadsafe(p.a, hop, &p);
	pthread_mutex_lock(&p.m);
	while (!p.done)
		pthread_cond_wait(&p.c, &p.m);
	pthread_mutex_unlock(&p.m);
	int64_t took = now_ns() - t0;
	ringo_loop_thread_free(ta);
	ringo_loop_thread_free(tb);
	return took / 1e3 / (2.0 * HOPS);
}

int main(void)
{
	if (ringo_loop_new(NULL, &g_loop) < 0)
		return 1;
	pthread_t a, b;
	int64_t t0 = now_ns();
	pthread_create(&a, NULL, produce, NULL);
	pthread_create(&b, NULL, produce, NULL);
	ringo_loop_run_forever(g_loop);
	int64_t took = now_ns() - t0;
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	printf("call_soon_threadsafe_per_s %.0f\n", 2.0 * PER_PRODUCER / (took / 1e9));
	ringo_loop_free(g_loop);
	printf("loop_post_eventfd_us %.2f\n", hop_us(RINGO_POST_EVENTFD));
	printf("loop_post_msg_ring_us %.2f\n", hop_us(RINGO_POST_MSG_RING));
	return 0;
}
