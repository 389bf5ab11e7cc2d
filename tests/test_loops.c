/* Many loops: loop threads, pinning, posting between loops both ways. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "support.h"

struct done {
	pthread_mutex_t m;
	pthread_cond_t c;
	int hits;
};

static void done_init(struct done *d)
{
	pthread_mutex_init(&d->m, NULL);
	pthread_cond_init(&d->c, NULL);
	d->hits = 0;
}

static void done_hit(struct done *d)
{
	pthread_mutex_lock(&d->m);
	d->hits++;
	pthread_cond_broadcast(&d->c);
	pthread_mutex_unlock(&d->m);
}

static void done_wait(struct done *d, int n)
{
	pthread_mutex_lock(&d->m);
	while (d->hits < n)
		pthread_cond_wait(&d->c, &d->m);
	pthread_mutex_unlock(&d->m);
}

static void hit_cb(void *arg)
{
	done_hit(arg);
}

static void test_loop_thread_runs_posted_callbacks_and_stops(void **state)
{
	ringo_loop_thread *lt;
	ringo_loop_thread_options o = {.pin = true, .cpu = 0, .loop = NULL};
	assert_int_equal(ringo_loop_thread_start(&o, &lt), 0);
	struct done d;
	done_init(&d);
	for (int i = 0; i < 10; i++)
		assert_int_equal(ringo_call_soon_threadsafe(ringo_loop_thread_loop(lt), hit_cb, &d), 0);
	done_wait(&d, 10);
	assert_int_equal(ringo_loop_thread_free(lt), 0);
}

static void test_bad_cpu_is_einval(void **state)
{
	ringo_loop_thread *lt;
	ringo_loop_thread_options o = {.pin = true, .cpu = -2};
	assert_int_equal(ringo_loop_thread_start(&o, &lt), -EINVAL);
}

/* Ping-pong: each hop posts to the other loop until n hops are done. */
struct pp {
	ringo_loop *a, *b;
	enum ringo_post_mode mode;
	int left;
	struct done d;
};

static void hop(void *arg);

static void hop_b(void *arg)
{
	struct pp *p = arg;
	assert_int_equal(ringo_loop_post(p->b, p->a, hop, p, p->mode), 0);
}

static void hop(void *arg)
{
	struct pp *p = arg;
	if (--p->left == 0) {
		done_hit(&p->d);
		return;
	}
	assert_int_equal(ringo_loop_post(p->a, p->b, hop_b, p, p->mode), 0);
}

static void ping_pong(enum ringo_post_mode mode)
{
	ringo_loop_thread *ta, *tb;
	assert_int_equal(ringo_loop_thread_start(NULL, &ta), 0);
	assert_int_equal(ringo_loop_thread_start(NULL, &tb), 0);
	struct pp p = {.a = ringo_loop_thread_loop(ta), .b = ringo_loop_thread_loop(tb), .mode = mode, .left = 1000};
	done_init(&p.d);
	assert_int_equal(ringo_call_soon_threadsafe(p.a, hop, &p), 0);
	done_wait(&p.d, 1);
	assert_int_equal(p.left, 0);
	assert_int_equal(ringo_loop_thread_free(ta), 0);
	assert_int_equal(ringo_loop_thread_free(tb), 0);
}

static void test_post_between_loops_via_eventfd(void **state)
{
	ping_pong(RINGO_POST_EVENTFD);
}

static void test_post_between_loops_via_msg_ring(void **state)
{
	ping_pong(RINGO_POST_MSG_RING);
}

static void test_post_between_loops_default(void **state)
{
	ping_pong(RINGO_POST_DEFAULT);
}

static void test_post_rejects_bad_arguments(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	assert_int_equal(ringo_loop_post(loop, NULL, hit_cb, NULL, RINGO_POST_DEFAULT), -EINVAL);
	assert_int_equal(ringo_loop_post(loop, loop, NULL, NULL, RINGO_POST_DEFAULT), -EINVAL);
	assert_int_equal(ringo_loop_post(loop, loop, hit_cb, NULL, (enum ringo_post_mode)9), -EINVAL);
	test_loop_free(loop, &ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop_thread_runs_posted_callbacks_and_stops),
		cmocka_unit_test(test_bad_cpu_is_einval),
		cmocka_unit_test(test_post_between_loops_via_eventfd),
		cmocka_unit_test(test_post_between_loops_via_msg_ring),
		cmocka_unit_test(test_post_between_loops_default),
		cmocka_unit_test(test_post_rejects_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
