/*
 * Many loops: a loop per thread (optionally pinned to a CPU), and posting
 * work from one loop to another.
 *
 * Two ways to post, both measured by build/perf/threadsafe (ping-pong
 * between two pinned loop threads, one post per hop):
 *   - eventfd: the target's thread-safe queue (a short lock, and a write
 *     to its eventfd unless it is already signalled);
 *   - IORING_OP_MSG_RING: the sender submits, on ITS OWN ring (rings stay
 *     SINGLE_ISSUER), an SQE that posts a CQE straight into the target's
 *     CQ; the CQE's user_data is a tagged pointer to the message (bit 63,
 *     which op-slot user_data never has), dispatched by ring.c.
 * Measured on this 2-vCPU VM (build/perf/threadsafe, loops pinned to CPUs
 * 0 and 1): eventfd 39.7 us per hop, MSG_RING 29.8 us, so MSG_RING is
 * the default (no eventfd read to complete and re-arm, no queue lock).
 * Caveat: with DEFER_TASKRUN a MSG_RING delivery is task work the target
 * runs when it next enters the kernel, so a target kept busy by ready
 * callbacks and no I/O in flight picks it up only when it next waits;
 * the eventfd path is checked every iteration. A failed MSG_RING (target
 * CQ full, ring not enabled yet, old kernel) falls back to the eventfd
 * path, so a post is never lost.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "thread_internal.h"

#define DEFAULT_POST_MODE RINGO_POST_MSG_RING

/* ---- loop threads ---- */

struct ringo_loop_thread {
	pthread_t thread;
	ringo_loop *loop;            /* created by start, freed by stop */
	int cpu;                     /* -1: not pinned */
	int run_err;                 /* run_forever's result (read after join) */
};

static void *loop_thread_main(void *arg)
{
	ringo_loop_thread *lt = arg;
	RINGO_ASSERT(lt->loop != NULL && !lt->loop->has_owner); /* this thread runs it first */
	if (lt->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(lt->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	lt->run_err = ringo_loop_run_forever(lt->loop);
	/* As ringo_run: cancel what is left and let it finish, on this thread. */
	ringo__cancel_all_and_wait(lt->loop);
	ringo_loop_close(lt->loop);
	return NULL;
}

int ringo_loop_thread_start(const ringo_loop_thread_options *opts, ringo_loop_thread **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	int cpu = opts && opts->pin ? opts->cpu : -1;
	if (opts && opts->pin && (cpu < 0 || cpu >= CPU_SETSIZE))
		return -EINVAL;
	ringo_loop_thread *lt = calloc(1, sizeof(*lt));
	if (!lt)
		return -ENOMEM;
	lt->cpu = cpu;
	int err = ringo_loop_new(opts ? opts->loop : NULL, &lt->loop);
	if (err < 0) {
		free(lt);
		return err;
	}
	err = -pthread_create(&lt->thread, NULL, loop_thread_main, lt);
	if (err < 0) {
		ringo_loop_free(lt->loop);
		free(lt);
		return err;
	}
	*out = lt;
	return 0;
}

ringo_loop *ringo_loop_thread_loop(ringo_loop_thread *lt)
{
	return lt ? lt->loop : NULL;
}

static void stop_cb(void *arg)
{
	ringo_loop_stop(arg);
}

int ringo_loop_thread_free(ringo_loop_thread *lt)
{
	if (!lt)
		return 0;
	if (pthread_equal(lt->thread, pthread_self()))
		return -EDEADLK;
	RINGO_ASSERT(lt->loop != NULL); /* start made it; only this frees it */
	int err = ringo_call_soon_threadsafe(lt->loop, stop_cb, lt->loop);
	if (err < 0 && err != -ESHUTDOWN)
		return err;
	pthread_join(lt->thread, NULL);
	err = ringo_loop_free(lt->loop);
	free(lt);
	return err;
}

/* ---- posting between loops ---- */

struct msg {
	ringo_callback_fn *fn;
	void *arg;
	ringo_loop *to;
	/* Release by the sender, acquire by the target: the kernel orders the
	 * hand-off, but this makes it explicit (and visible to TSan), and
	 * carries everything the sender wrote before posting. */
	_Atomic int published;
};

/* A CQE tagged RINGO__UD_MSG. On the target (res >= 0): a message to run.
 * On the sender (res < 0; its success CQE is skipped): the send failed and
 * the message never left, so it goes the eventfd way instead. */
void ringo__msg_dispatch(ringo_loop *loop, uint64_t user_data, int32_t res)
{
	struct msg *m = (struct msg *)(uintptr_t)(user_data & ~RINGO__UD_MSG);
	RINGO_ASSERT(atomic_load_explicit(&m->published, memory_order_acquire) == 1);
	ringo_callback_fn *fn = m->fn;
	void *arg = m->arg;
	if (res < 0) {
		int err = ringo_call_soon_threadsafe(m->to, fn, arg);
		RINGO_ASSERT(err == 0 || err == -ESHUTDOWN || err == -ENOMEM);
		free(m);
		return;
	}
	RINGO_ASSERT(m->to == loop);
	free(m);
	if (loop->closed)
		return;
	if (ringo__unlikely(ringo_call_soon(loop, fn, arg, NULL) < 0))
		fn(arg); /* -ENOMEM: run now rather than lose it */
}

static int post_msg_ring(ringo_loop *from, ringo_loop *to, ringo_callback_fn *fn, void *arg)
{
	RINGO_ASSERT(from != to && fn != NULL); /* to itself: the eventfd path */
	/* malloc: freed on the target's thread. */
	struct msg *m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	ringo__ring_set_msg_handler(ringo__msg_dispatch);
	m->fn = fn;
	m->arg = arg;
	m->to = to;
	int fd = to->ring.ring_fd; /* read before publishing, like all of to */
	atomic_store_explicit(&m->published, 1, memory_order_release);
	struct io_uring_sqe *sqe = ringo__sqe(from);
	RINGO_ASSERT(sqe != NULL);
	uint64_t ud = RINGO__UD_MSG | (uintptr_t)m;
	io_uring_prep_msg_ring(sqe, fd, 0, ud, 0);
	io_uring_sqe_set_data64(sqe, ud);
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	return 0;
}

int ringo_loop_post(ringo_loop *from, ringo_loop *to, ringo_callback_fn *fn, void *arg,
		    enum ringo_post_mode mode)
{
	if (!from || !to || !fn || mode > RINGO_POST_MSG_RING)
		return -EINVAL;
	if (mode == RINGO_POST_DEFAULT)
		mode = DEFAULT_POST_MODE;
	if (mode == RINGO_POST_EVENTFD || from == to)
		return ringo_call_soon_threadsafe(to, fn, arg);
	int err = ringo__check_thread(from);
	if (err < 0)
		return err;
	err = ringo__check_open(from);
	if (err < 0)
		return err;
	return post_msg_ring(from, to, fn, arg);
}
