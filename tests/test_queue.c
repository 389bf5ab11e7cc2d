/*
 * Queue, LifoQueue, PriorityQueue: CPython's Lib/test/test_asyncio/
 * test_queues.py ported test by test (same names; the three join and
 * shutdown mixins run once per kind, suffixed _fifo/_lifo/_prio), then
 * ringo's own: nowait errors, storage, cancellation at every point with
 * item accounting, allocation failure.
 */
#include "aio_port.h"

enum kind { FIFO, LIFO, PRIO };

static int cmp_int(const void *a, const void *b)
{
	return V(a) - V(b);
}

static ringo_queue q;

static void q_init(enum kind k, size_t maxsize)
{
	int rc = k == FIFO   ? ringo_queue_init(&q, P.loop, maxsize)
		 : k == LIFO ? ringo_queue_init_lifo(&q, P.loop, maxsize)
			     : ringo_queue_init_priority(&q, P.loop, maxsize, cmp_int);
	CHECK_EQ(rc, 0);
}

static void q_destroy(void)
{
	CHECK_EQ(ringo_queue_destroy(&q), 0);
}

static int get_now(void)
{
	void *item = NULL;
	int rc = ringo_queue_get_nowait(&q, &item);
	return rc < 0 ? rc : V(item);
}

static int get_wait(void)
{
	void *item = NULL;
	int rc = ringo_queue_get(&q, &item);
	return rc < 0 ? rc : V(item);
}

/* Tasks: q.get() (result: the item) and q.put(item). */
static int task_get(void *arg, void **result)
{
	void *item = NULL;
	int rc = ringo_queue_get(&q, &item);
	*result = item;
	return rc;
}

static int task_put(void *arg, void **result)
{
	return ringo_queue_put(&q, arg);
}

static int result_of(ringo_task *t)
{
	void *v = NULL;
	int rc = outcome(t, &v);
	return rc < 0 ? rc : V(v);
}

/* ==== QueueBasicTests ==== */

PORT_TEST(test_empty)
{
	q_init(FIFO, 0);
	CHECK(ringo_queue_empty(&q));
	CHECK_EQ(ringo_queue_put(&q, I(1)), 0);
	CHECK(!ringo_queue_empty(&q));
	CHECK_EQ(get_wait(), 1);
	CHECK(ringo_queue_empty(&q));
	q_destroy();
	return 0;
}

PORT_TEST(test_full)
{
	q_init(FIFO, 0);
	CHECK(!ringo_queue_full(&q));
	q_destroy();
	q_init(FIFO, 1);
	CHECK_EQ(ringo_queue_put(&q, I(1)), 0);
	CHECK(ringo_queue_full(&q));
	q_destroy();
	return 0;
}

static void order_test(enum kind k, const int *want)
{
	q_init(k, 0);
	int in[] = {1, 3, 2};
	for (int i = 0; i < 3; i++)
		CHECK_EQ(ringo_queue_put(&q, I(in[i])), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(get_wait(), want[i]);
	q_destroy();
}

PORT_TEST(test_order)
{
	order_test(FIFO, (int[]){1, 3, 2});
	return 0;
}

static int have_been_put[8], nput;

static int putter_0_1_2(void *arg, void **result)
{
	for (int i = 0; i < 3; i++) {
		int rc = ringo_queue_put(&q, I(i));
		if (rc < 0)
			return rc;
		have_been_put[nput++] = i;
	}
	*result = I(1);
	return 0;
}

PORT_TEST(test_maxsize)
{
	q_init(FIFO, 2);
	CHECK_EQ(ringo_queue_maxsize(&q), 2);
	nput = 0;
	ringo_task *t = spawn(putter_0_1_2, NULL);
	sleep0();
	sleep0();
	/* The putter is blocked after putting two items. */
	CHECK_EQ(nput, 2);
	CHECK_EQ(get_wait(), 0);
	/* Let the putter resume and put the last item. */
	sleep0();
	CHECK_EQ(nput, 3);
	CHECK_EQ(have_been_put[2], 2);
	CHECK_EQ(get_wait(), 1);
	CHECK_EQ(get_wait(), 2);
	CHECK(done(t));
	CHECK_EQ(result_of(t), 1);
	q_destroy();
	return 0;
}

/* ==== QueueGetTests ==== */

PORT_TEST(test_blocking_get)
{
	q_init(FIFO, 0);
	ringo_queue_put_nowait(&q, I(1));
	CHECK_EQ(get_wait(), 1);
	q_destroy();
	return 0;
}

/* CPython appends a bare future to q._putters; here a real putter. */
PORT_TEST(test_get_with_putters)
{
	q_init(FIFO, 1);
	CHECK_EQ(ringo_queue_put(&q, I(1)), 0);
	ringo_task *p = spawn(task_put, I(2));
	sleep0();
	CHECK(!done(p));
	CHECK_EQ(get_wait(), 1);
	sleep0();
	CHECK(done(p));
	CHECK_EQ(result_of(p), 0);
	CHECK_EQ(get_now(), 2);
	q_destroy();
	return 0;
}

static ringo_event started;
static bool finished;

static int queue_get_flagged(void *arg, void **result)
{
	ringo_event_set(&started);
	int rc = task_get(arg, result);
	finished = true;
	return rc;
}

static void put_1_cb(void *arg)
{
	ringo_queue_put_nowait(&q, I(1));
}

PORT_TEST(test_blocking_get_wait)
{
	q_init(FIFO, 0);
	ringo_event_init(&started);
	finished = false;
	ringo_task *t = spawn(queue_get_flagged, NULL);
	CHECK_EQ(ringo_event_wait(&started), 0);
	CHECK(!finished);
	ringo_call_later(P.loop, RINGO_MSEC(10), put_1_cb, NULL, NULL);
	void *res = NULL;
	CHECK_EQ(await_task(t, &res), 0);
	CHECK(finished);
	CHECK_EQ(V(res), 1);
	q_destroy();
	return 0;
}

PORT_TEST(test_nonblocking_get)
{
	q_init(FIFO, 0);
	ringo_queue_put_nowait(&q, I(1));
	CHECK_EQ(get_now(), 1);
	q_destroy();
	return 0;
}

PORT_TEST(test_nonblocking_get_exception)
{
	q_init(FIFO, 0);
	CHECK_EQ(get_now(), -EAGAIN);
	q_destroy();
	return 0;
}

PORT_TEST(test_get_cancelled_race)
{
	q_init(FIFO, 0);
	ringo_task *t1 = spawn(task_get, NULL);
	ringo_task *t2 = spawn(task_get, NULL);
	sleep0();
	ringo_task_cancel(t1, NULL);
	sleep0();
	CHECK(done(t1));
	CHECK_EQ(ringo_queue_put(&q, I('a')), 0);
	sleep0();
	void *v = NULL;
	CHECK_EQ(await_task(t2, &v), 0);
	CHECK_EQ(V(v), 'a');
	q_destroy();
	return 0;
}

PORT_TEST(test_get_with_waiting_putters)
{
	q_init(FIFO, 1);
	spawn(task_put, I('a'));
	spawn(task_put, I('b'));
	CHECK_EQ(get_wait(), 'a');
	CHECK_EQ(get_wait(), 'b');
	q_destroy();
	return 0;
}

static int consume_n(void *arg, void **result)
{
	for (int i = 0; i < V(arg); i++)
		if (get_wait() < 0)
			return -EIO;
	return 0;
}

static int produce_n(void *arg, void **result)
{
	for (int i = 0; i < V(arg); i++)
		if (ringo_queue_put(&q, I(i)) < 0)
			return -EIO;
	return 0;
}

PORT_TEST(test_why_are_getters_waiting)
{
	q_init(FIFO, 1);
	ringo_task *ts[2] = {spawn(produce_n, I(5)), spawn(consume_n, I(5))};
	gather_all(ts, 2);
	CHECK_EQ(outcome(ts[0], NULL), 0);
	CHECK_EQ(outcome(ts[1], NULL), 0);
	q_destroy();
	return 0;
}

/* The getter left by wait_for's timeout is gone from the queue: destroy
 * (which refuses while a task waits in get) succeeds. */
PORT_TEST(test_cancelled_getters_not_being_held_in_self_getters)
{
	q_init(FIFO, 5);
	ringo_task *t = spawn(task_get, NULL);
	CHECK_EQ(ringo_wait_for(ringo_task_future(t), RINGO_MSEC(100), NULL), -ETIMEDOUT);
	q_destroy();
	return 0;
}

/* ==== QueuePutTests ==== */

PORT_TEST(test_blocking_put)
{
	q_init(FIFO, 0);
	/* No maxsize, won't block. */
	CHECK_EQ(ringo_queue_put(&q, I(1)), 0);
	CHECK_EQ(get_wait(), 1);
	q_destroy();
	return 0;
}

static void get_nowait_cb(void *arg)
{
	void *item;
	ringo_queue_get_nowait(&q, &item);
}

static int queue_put_flagged(void *arg, void **result)
{
	ringo_event_set(&started);
	int rc = ringo_queue_put(&q, I(1));
	if (rc == 0)
		rc = ringo_queue_put(&q, I(2));
	finished = rc == 0;
	return rc;
}

PORT_TEST(test_blocking_put_wait)
{
	q_init(FIFO, 1);
	ringo_event_init(&started);
	finished = false;
	ringo_call_later(P.loop, RINGO_MSEC(10), get_nowait_cb, NULL, NULL);
	ringo_task *t = spawn(queue_put_flagged, NULL);
	CHECK_EQ(ringo_event_wait(&started), 0);
	CHECK(!finished);
	CHECK_EQ(await_task(t, NULL), 0);
	CHECK(finished);
	q_destroy();
	return 0;
}

PORT_TEST(test_nonblocking_put)
{
	q_init(FIFO, 0);
	CHECK_EQ(ringo_queue_put_nowait(&q, I(1)), 0);
	CHECK_EQ(get_now(), 1);
	q_destroy();
	return 0;
}

/* Issue 10, 2a: a reader handed item 1 and cancelled before it runs must
 * not lose it. */
PORT_TEST(test_get_cancel_drop_one_pending_reader)
{
	q_init(FIFO, 0);
	ringo_task *reader = spawn(task_get, NULL);
	sleep0();
	ringo_queue_put_nowait(&q, I(1));
	ringo_queue_put_nowait(&q, I(2));
	ringo_task_cancel(reader, NULL);
	void *v = NULL;
	int rc = await_task(reader, &v);
	if (rc == -ECANCELED) {
		/* try again */
		reader = spawn(task_get, NULL);
		rc = await_task(reader, &v);
	}
	CHECK_EQ(rc, 0);
	/* if we get 2, it means 1 got dropped! */
	CHECK_EQ(V(v), 1);
	q_destroy();
	return 0;
}

PORT_TEST(test_get_cancel_drop_many_pending_readers)
{
	q_init(FIFO, 0);
	ringo_task *r1 = spawn(task_get, NULL);
	ringo_task *r2 = spawn(task_get, NULL);
	ringo_task *r3 = spawn(task_get, NULL);
	sleep0();
	ringo_queue_put_nowait(&q, I(1));
	ringo_queue_put_nowait(&q, I(2));
	ringo_task_cancel(r1, NULL);
	CHECK_EQ(await_task(r1, NULL), -ECANCELED);
	CHECK(cancelled(r1));
	CHECK_EQ(await_task(r3, NULL), 0);
	CHECK_EQ(await_task(r2, NULL), 0);
	/* It is undefined in which order concurrent readers receive results. */
	int a = result_of(r2), b = result_of(r3);
	CHECK((a == 1 && b == 2) || (a == 2 && b == 1));
	q_destroy();
	return 0;
}

/* Issue 10, 2b: a putter woken for a free slot and cancelled before it
 * runs must not have queued its item. */
PORT_TEST(test_put_cancel_drop)
{
	q_init(FIFO, 1);
	ringo_queue_put_nowait(&q, I(1));
	/* putting a second item in the queue has to block (qsize=1) */
	ringo_task *writer = spawn(task_put, I(2));
	sleep0();
	CHECK_EQ(get_now(), 1);
	ringo_task_cancel(writer, NULL);
	int rc = await_task(writer, NULL);
	if (rc == -ECANCELED) {
		/* try again */
		writer = spawn(task_put, I(2));
		rc = await_task(writer, NULL);
	}
	CHECK_EQ(rc, 0);
	CHECK_EQ(get_now(), 2);
	CHECK_EQ(ringo_queue_size(&q), 0);
	q_destroy();
	return 0;
}

PORT_TEST(test_nonblocking_put_exception)
{
	q_init(FIFO, 1);
	ringo_queue_put_nowait(&q, I(1));
	CHECK_EQ(ringo_queue_put_nowait(&q, I(2)), -ENOBUFS);
	q_destroy();
	return 0;
}

static int queue_put_1(void *arg, void **result)
{
	int rc = ringo_queue_put(&q, I(1));
	*result = I(rc == 0);
	return rc;
}

PORT_TEST(test_put_cancelled)
{
	q_init(FIFO, 0);
	ringo_task *t = spawn(queue_put_1, NULL);
	CHECK_EQ(get_wait(), 1);
	CHECK(done(t));
	CHECK_EQ(result_of(t), 1);
	q_destroy();
	return 0;
}

PORT_TEST(test_put_cancelled_race)
{
	q_init(FIFO, 1);
	ringo_task *put_a = spawn(task_put, I('a'));
	ringo_task *put_b = spawn(task_put, I('b'));
	ringo_task *put_c = spawn(task_put, I('X'));
	sleep0();
	CHECK(done(put_a));
	CHECK(!done(put_b));
	ringo_task_cancel(put_c, NULL);
	sleep0();
	CHECK(done(put_c));
	CHECK_EQ(get_now(), 'a');
	sleep0();
	CHECK_EQ(get_now(), 'b');
	CHECK_EQ(await_task(put_b, NULL), 0);
	q_destroy();
	return 0;
}

PORT_TEST(test_put_with_waiting_getters)
{
	q_init(FIFO, 0);
	ringo_task *t = spawn(task_get, NULL);
	sleep0();
	CHECK_EQ(ringo_queue_put(&q, I('a')), 0);
	void *v = NULL;
	CHECK_EQ(await_task(t, &v), 0);
	CHECK_EQ(V(v), 'a');
	q_destroy();
	return 0;
}

static int drain_after_a_turn(void *arg, void **result)
{
	sleep0();
	size_t n = ringo_queue_size(&q);
	for (size_t i = 0; i < n; i++)
		CHECK(get_now() >= 0);
	return 0;
}

PORT_TEST(test_why_are_putters_waiting)
{
	q_init(FIFO, 2);
	ringo_task *ts[5] = {spawn(drain_after_a_turn, NULL), spawn(task_put, I(0)),
			     spawn(task_put, I(1)), spawn(task_put, I(2)), spawn(task_put, I(3))};
	gather_all(ts, 5);
	for (int i = 0; i < 5; i++)
		CHECK_EQ(outcome(ts[i], NULL), 0);
	q_destroy();
	return 0;
}

/* CPython counts q._putters; here destroy (which refuses while a task
 * waits in put) tells whether the putter is still held. */
PORT_TEST(test_cancelled_puts_not_being_held_in_self_putters)
{
	q_init(FIFO, 1);
	ringo_queue_put_nowait(&q, I(1));
	ringo_task *put_task = spawn(task_put, I(1));
	sleep0();
	CHECK_EQ(ringo_queue_destroy(&q), -EBUSY);
	ringo_task_cancel(put_task, NULL);
	CHECK_EQ(await_task(put_task, NULL), -ECANCELED);
	q_destroy();
	return 0;
}

PORT_TEST(test_cancelled_put_silence_value_error_exception)
{
	q_init(FIFO, 1);
	ringo_queue_put_nowait(&q, I(1));
	ringo_task *put_task = spawn(task_put, I(1));
	sleep0();
	/* get_nowait() wakes put_task; it is cancelled before it runs. */
	CHECK_EQ(get_now(), 1);
	ringo_task_cancel(put_task, NULL);
	CHECK_EQ(await_task(put_task, NULL), -ECANCELED);
	CHECK_EQ(ringo_queue_size(&q), 0);
	q_destroy();
	return 0;
}

/* ==== LifoQueueTests, PriorityQueueTests ==== */

PORT_TEST(test_lifo_order)
{
	order_test(LIFO, (int[]){2, 3, 1});
	return 0;
}

PORT_TEST(test_priority_order)
{
	order_test(PRIO, (int[]){1, 2, 3});
	return 0;
}

/* ==== _QueueJoinTestMixin, run for each kind ==== */

/* Generate name_fifo, name_lifo, name_prio from body name(enum kind). */
#define EACH_KIND(name)                                                        \
	static int name##_run(void *arg, void **result)                        \
	{                                                                      \
		name((enum kind)V(arg));                                       \
		return 0;                                                      \
	}                                                                      \
	static void name##_fifo(void **state)                                  \
	{                                                                      \
		port_run(name##_run, I(FIFO));                                 \
	}                                                                      \
	static void name##_lifo(void **state)                                  \
	{                                                                      \
		port_run(name##_run, I(LIFO));                                 \
	}                                                                      \
	static void name##_prio(void **state)                                  \
	{                                                                      \
		port_run(name##_run, I(PRIO));                                 \
	}
#define EACH_KIND_TESTS(name)                                                  \
	cmocka_unit_test(name##_fifo), cmocka_unit_test(name##_lifo),          \
		cmocka_unit_test(name##_prio)

static void test_task_done_underflow(enum kind k)
{
	q_init(k, 0);
	CHECK_EQ(ringo_queue_task_done(&q), -EINVAL);
	q_destroy();
}
EACH_KIND(test_task_done_underflow)

static int accumulator;
static bool running;

static int join_worker(void *arg, void **result)
{
	while (running) {
		int item = get_wait();
		if (item < 0)
			return item;
		accumulator += item;
		ringo_queue_task_done(&q);
	}
	return 0;
}

static void test_task_done(enum kind k)
{
	q_init(k, 0);
	for (int i = 0; i < 100; i++)
		ringo_queue_put_nowait(&q, I(i));
	accumulator = 0;
	running = true;
	/* Two workers get items and call task_done after each. */
	ringo_task *ts[2] = {spawn(join_worker, NULL), spawn(join_worker, NULL)};
	CHECK_EQ(ringo_queue_join(&q), 0);
	CHECK_EQ(accumulator, 99 * 100 / 2);
	/* close running workers */
	running = false;
	ringo_queue_put_nowait(&q, I(0));
	ringo_queue_put_nowait(&q, I(0));
	gather_all(ts, 2);
	CHECK_EQ(outcome(ts[0], NULL), 0);
	CHECK_EQ(outcome(ts[1], NULL), 0);
	q_destroy();
}
EACH_KIND(test_task_done)

static void test_join_empty_queue(enum kind k)
{
	q_init(k, 0);
	/* join()s successfully, and before anything else (twice for insurance) */
	CHECK_EQ(ringo_queue_join(&q), 0);
	CHECK_EQ(ringo_queue_join(&q), 0);
	q_destroy();
}
EACH_KIND(test_join_empty_queue)

/* ==== _QueueShutdownTestMixin, run for each kind ==== */

static int task_join(void *arg, void **result)
{
	return ringo_queue_join(&q);
}

static void test_shutdown_empty(enum kind k)
{
	q_init(k, 0);
	ringo_task *get_task = spawn(task_get, NULL);
	sleep0(); /* want get task pending before shutdown */
	ringo_queue_shutdown(&q, false);
	CHECK_EQ(ringo_queue_size(&q), 0);
	/* join() finishes */
	CHECK_EQ(ringo_queue_join(&q), 0);
	/* the get task is finished and failed with ShutDown */
	sleep0();
	CHECK(done(get_task));
	CHECK_EQ(outcome(get_task, NULL), -ESHUTDOWN);
	/* put() and get() fail with ShutDown */
	CHECK_EQ(ringo_queue_put(&q, I(1)), -ESHUTDOWN);
	CHECK_EQ(ringo_queue_put_nowait(&q, I(1)), -ESHUTDOWN);
	CHECK_EQ(get_wait(), -ESHUTDOWN);
	CHECK_EQ(get_now(), -ESHUTDOWN);
	q_destroy();
}
EACH_KIND(test_shutdown_empty)

static void test_shutdown_nonempty(enum kind k)
{
	q_init(k, 1);
	ringo_queue_put_nowait(&q, I(1));
	ringo_task *join_task = spawn(task_join, NULL);
	ringo_task *put_task = spawn(task_put, I(2));
	/* the put task is not finished */
	sleep0();
	CHECK(!done(put_task));
	ringo_queue_shutdown(&q, false); /* unfinished tasks: 1 -> 1 */
	CHECK_EQ(ringo_queue_size(&q), 1);
	/* the put task finishes with ShutDown */
	sleep0();
	CHECK(done(put_task));
	CHECK_EQ(outcome(put_task, NULL), -ESHUTDOWN);
	/* get() succeeds on the queued item */
	CHECK_EQ(get_wait(), 1);
	/* join is not finished */
	sleep0();
	CHECK(!done(join_task));
	CHECK_EQ(ringo_queue_put(&q, I(3)), -ESHUTDOWN);
	CHECK_EQ(ringo_queue_put_nowait(&q, I(3)), -ESHUTDOWN);
	CHECK_EQ(get_wait(), -ESHUTDOWN);
	CHECK_EQ(get_now(), -ESHUTDOWN);
	/* one unfinished task: join succeeds after task_done */
	CHECK_EQ(ringo_queue_task_done(&q), 0);
	sleep0();
	CHECK(done(join_task));
	CHECK_EQ(outcome(join_task, NULL), 0);
	CHECK_EQ(ringo_queue_task_done(&q), -EINVAL);
	q_destroy();
}
EACH_KIND(test_shutdown_nonempty)

static void test_shutdown_immediate(enum kind k)
{
	q_init(k, 0);
	ringo_queue_put_nowait(&q, I(1));
	ringo_task *join_task = spawn(task_join, NULL);
	ringo_queue_shutdown(&q, true); /* unfinished tasks: 1 -> 0 */
	CHECK_EQ(ringo_queue_size(&q), 0);
	/* join has finished */
	sleep0();
	CHECK(done(join_task));
	CHECK_EQ(outcome(join_task, NULL), 0);
	CHECK_EQ(ringo_queue_put(&q, I(2)), -ESHUTDOWN);
	CHECK_EQ(ringo_queue_put_nowait(&q, I(2)), -ESHUTDOWN);
	CHECK_EQ(get_wait(), -ESHUTDOWN);
	CHECK_EQ(get_now(), -ESHUTDOWN);
	/* no unfinished tasks */
	CHECK_EQ(ringo_queue_task_done(&q), -EINVAL);
	q_destroy();
}
EACH_KIND(test_shutdown_immediate)

static void test_shutdown_immediate_with_unfinished(enum kind k)
{
	q_init(k, 0);
	ringo_queue_put_nowait(&q, I(1));
	ringo_queue_put_nowait(&q, I(1));
	ringo_task *join_task = spawn(task_join, NULL);
	CHECK_EQ(get_wait(), 1);
	ringo_queue_shutdown(&q, true); /* unfinished tasks: 2 -> 1 */
	CHECK_EQ(ringo_queue_size(&q), 0);
	/* join is not finished */
	sleep0();
	CHECK(!done(join_task));
	CHECK_EQ(ringo_queue_put(&q, I(2)), -ESHUTDOWN);
	CHECK_EQ(ringo_queue_put_nowait(&q, I(2)), -ESHUTDOWN);
	CHECK_EQ(get_wait(), -ESHUTDOWN);
	CHECK_EQ(get_now(), -ESHUTDOWN);
	/* one unfinished task */
	CHECK_EQ(ringo_queue_task_done(&q), 0);
	CHECK_EQ(ringo_queue_task_done(&q), -EINVAL);
	/* join has finished */
	sleep0();
	CHECK(done(join_task));
	CHECK_EQ(outcome(join_task, NULL), 0);
	q_destroy();
}
EACH_KIND(test_shutdown_immediate_with_unfinished)

/* ==== ringo's own: storage and nowait errors ==== */

PORT_TEST(test_nowait_errors_are_distinct)
{
	q_init(FIFO, 2);
	CHECK_EQ(get_now(), -EAGAIN);
	CHECK_EQ(ringo_queue_put_nowait(&q, I(1)), 0);
	CHECK_EQ(ringo_queue_put_nowait(&q, I(2)), 0);
	CHECK(ringo_queue_full(&q));
	CHECK_EQ(ringo_queue_put_nowait(&q, I(3)), -ENOBUFS);
	CHECK_EQ(ringo_queue_size(&q), 2);
	CHECK_EQ(get_now(), 1);
	ringo_queue_shutdown(&q, false);
	CHECK_EQ(ringo_queue_put_nowait(&q, I(4)), -ESHUTDOWN);
	/* After a plain shutdown, what is queued can still be taken. */
	CHECK_EQ(get_now(), 2);
	CHECK_EQ(get_now(), -ESHUTDOWN);
	q_destroy();
	return 0;
}

PORT_TEST(test_null_arguments_are_einval)
{
	void *item;
	CHECK_EQ(ringo_queue_init(NULL, P.loop, 0), -EINVAL);
	CHECK_EQ(ringo_queue_init(&q, NULL, 0), -EINVAL);
	CHECK_EQ(ringo_queue_init(&q, P.loop, SIZE_MAX), -EINVAL);
	CHECK_EQ(ringo_queue_init_priority(&q, P.loop, 0, NULL), -EINVAL);
	CHECK_EQ(ringo_queue_put(NULL, I(1)), -EINVAL);
	CHECK_EQ(ringo_queue_put_nowait(NULL, I(1)), -EINVAL);
	CHECK_EQ(ringo_queue_get(NULL, &item), -EINVAL);
	CHECK_EQ(ringo_queue_get_nowait(NULL, &item), -EINVAL);
	CHECK_EQ(ringo_queue_task_done(NULL), -EINVAL);
	CHECK_EQ(ringo_queue_join(NULL), -EINVAL);
	CHECK_EQ(ringo_queue_destroy(NULL), -EINVAL);
	ringo_queue_shutdown(NULL, true);
	CHECK(ringo_queue_empty(NULL) && !ringo_queue_full(NULL));
	CHECK_EQ(ringo_queue_size(NULL), 0);
	q_init(FIFO, 0);
	ringo_queue_put_nowait(&q, I(1));
	CHECK_EQ(ringo_queue_get(&q, NULL), -EINVAL);
	CHECK_EQ(ringo_queue_get_nowait(&q, NULL), -EINVAL);
	CHECK_EQ(ringo_queue_size(&q), 1);
	q_destroy();
	return 0;
}

PORT_TEST(test_fifo_order_and_wraparound)
{
	q_init(FIFO, 3);
	for (int round = 0; round < 5; round++) {
		ringo_queue_put_nowait(&q, I(round * 10 + 1));
		ringo_queue_put_nowait(&q, I(round * 10 + 2));
		CHECK_EQ(get_now(), round * 10 + 1);
		CHECK_EQ(get_now(), round * 10 + 2);
	}
	q_destroy();
	return 0;
}

PORT_TEST(test_unbounded_queue_grows)
{
	q_init(FIFO, 0);
	for (int i = 0; i < 5; i++)
		ringo_queue_put_nowait(&q, I(100 + i)); /* wrap the ring first */
	for (int i = 0; i < 3; i++)
		get_now();
	for (int i = 0; i < 1000; i++)
		CHECK_EQ(ringo_queue_put_nowait(&q, I(i)), 0);
	CHECK(!ringo_queue_full(&q));
	CHECK_EQ(get_now(), 103);
	CHECK_EQ(get_now(), 104);
	for (int i = 0; i < 1000; i++)
		CHECK_EQ(get_now(), i);
	q_destroy();
	return 0;
}

PORT_TEST(test_lifo_queue_pops_the_newest)
{
	q_init(LIFO, 0);
	for (int i = 1; i <= 20; i++)
		ringo_queue_put_nowait(&q, I(i));
	for (int i = 20; i >= 1; i--)
		CHECK_EQ(get_now(), i);
	q_destroy();
	return 0;
}

PORT_TEST(test_priority_queue_pops_the_smallest)
{
	q_init(PRIO, 64);
	int vals[] = {5, 3, 9, 1, 7, 2, 8, 6, 4, 0};
	for (int i = 0; i < 10; i++)
		ringo_queue_put_nowait(&q, I(vals[i]));
	for (int i = 0; i < 10; i++)
		CHECK_EQ(get_now(), i);
	q_destroy();
	return 0;
}

/* Which item a woken getter receives is decided when it runs (asyncio):
 * a smaller item put after the wake comes out first. */
PORT_TEST(test_woken_getter_takes_the_first_item_when_it_runs)
{
	q_init(PRIO, 0);
	ringo_task *g = spawn(task_get, NULL);
	sleep0();
	ringo_queue_put_nowait(&q, I(5));
	ringo_queue_put_nowait(&q, I(1));
	CHECK_EQ(await_task(g, NULL), 0);
	CHECK_EQ(result_of(g), 1);
	CHECK_EQ(get_now(), 5);
	q_destroy();
	q_init(LIFO, 0);
	g = spawn(task_get, NULL);
	sleep0();
	ringo_queue_put_nowait(&q, I(1));
	ringo_queue_put_nowait(&q, I(2));
	CHECK_EQ(await_task(g, NULL), 0);
	CHECK_EQ(result_of(g), 2);
	CHECK_EQ(get_now(), 1);
	q_destroy();
	return 0;
}

/* An item put for a woken getter stays in the queue (and counts against
 * maxsize) until the getter runs, as in asyncio: a second put on a
 * one-slot queue waits (a direct hand-over let it through). */
PORT_TEST(test_item_for_a_woken_getter_counts_against_maxsize)
{
	q_init(FIFO, 1);
	ringo_task *g = spawn(task_get, NULL);
	sleep0();
	CHECK_EQ(ringo_queue_put_nowait(&q, I(1)), 0);
	CHECK_EQ(ringo_queue_size(&q), 1);
	CHECK(ringo_queue_full(&q));
	CHECK_EQ(ringo_queue_put_nowait(&q, I(2)), -ENOBUFS);
	CHECK_EQ(await_task(g, NULL), 0);
	CHECK_EQ(result_of(g), 1);
	CHECK(ringo_queue_empty(&q));
	q_destroy();
	return 0;
}

/* ==== ringo's own: blocking, timing (virtual clock) ==== */

static int64_t now_s(void)
{
	return ringo_loop_time_ns(ringo_loop_current()) / RINGO_SEC(1);
}

static int producer_1_to_4(void *arg, void **result)
{
	for (int i = 1; i <= 4; i++) {
		int rc = ringo_queue_put(&q, I(i));
		log_add(&g_log, "put%d(%d)@%lld", i, rc, (long long)now_s());
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int slow_consumer(void *arg, void **result)
{
	for (;;) {
		if (ringo_sleep(RINGO_SEC(1)) < 0)
			return 0;
		int item = get_wait();
		log_add(&g_log, "get%d@%lld", item, (long long)now_s());
		if (item < 0)
			return item == -ESHUTDOWN ? 0 : item;
		ringo_queue_task_done(&q);
	}
}

PORT_TEST(test_put_waits_while_full_and_get_wakes_it)
{
	q_init(FIFO, 2);
	ringo_task *ts[2] = {spawn(producer_1_to_4, NULL), spawn(slow_consumer, NULL)};
	ringo_call_later(P.loop, RINGO_MSEC(4500), cancel_cb, ts[1], NULL);
	gather_all(ts, 2);
	CHECK_STR(g_log.buf, "put1(0)@0 put2(0)@0 get1@1 put3(0)@1 get2@2 put4(0)@2 get3@3 get4@4");
	q_destroy();
	return 0;
}

static int named_get(void *arg, void **result)
{
	int item = get_wait();
	log_add(&g_log, "%s(%d)@%lld", (const char *)arg, item, (long long)now_s());
	return item < 0 ? item : 0;
}

static void put_7_cb(void *arg)
{
	ringo_queue_put_nowait(&q, I(7));
}

PORT_TEST(test_getters_are_served_fifo)
{
	q_init(FIFO, 0);
	ringo_task *ts[2] = {spawn(named_get, "a"), spawn(named_get, "b")};
	ringo_call_later(P.loop, RINGO_SEC(1), put_7_cb, NULL, NULL);
	ringo_call_later(P.loop, RINGO_SEC(2), put_7_cb, NULL, NULL);
	gather_all(ts, 2);
	CHECK_STR(g_log.buf, "a(7)@1 b(7)@2");
	q_destroy();
	return 0;
}

PORT_TEST(test_cancelled_getter_takes_nothing)
{
	q_init(FIFO, 0);
	ringo_task *ts[2] = {spawn(named_get, "a"), spawn(named_get, "b")};
	ringo_call_later(P.loop, RINGO_MSEC(500), cancel_cb, ts[0], NULL);
	ringo_call_later(P.loop, RINGO_SEC(1), put_7_cb, NULL, NULL);
	gather_all(ts, 2);
	CHECK_STR(g_log.buf, "a(-125)@0 b(7)@1");
	CHECK(ringo_queue_empty(&q));
	q_destroy();
	return 0;
}

PORT_TEST(test_cancelled_putter_leaves_its_item_out)
{
	q_init(FIFO, 1);
	ringo_queue_put_nowait(&q, I(1));
	ringo_task *p = spawn(producer_1_to_4, NULL);
	ringo_call_later(P.loop, RINGO_SEC(1), cancel_cb, p, NULL);
	CHECK_EQ(await_task(p, NULL), -ECANCELED);
	CHECK_STR(g_log.buf, "put1(-125)@1");
	CHECK_EQ(ringo_queue_size(&q), 1);
	CHECK_EQ(get_now(), 1);
	CHECK_EQ(ringo_queue_task_done(&q), 0);
	/* The cancelled put never counted. */
	CHECK_EQ(ringo_queue_task_done(&q), -EINVAL);
	q_destroy();
	return 0;
}

/* A getter woken for an item and cancelled before it runs: before the
 * fix its get returned 0 with the item and the task, still cancelled,
 * ended CANCELLED when its body returned, its result (the item) lost
 * (issue 10, 2a). Now get reports the cancel and the item stays queued;
 * this body swallows the error and returns normally. */
static int get_then_return(void *arg, void **result)
{
	void *item = NULL;
	int rc = ringo_queue_get(&q, &item);
	log_add(&g_log, "get(%d,%d)", rc, V(item));
	*result = item;
	return 0;
}

PORT_TEST(test_getter_cancelled_after_wake_leaves_the_item_queued)
{
	q_init(FIFO, 0);
	ringo_task *g = spawn(get_then_return, NULL);
	sleep0();
	ringo_queue_put_nowait(&q, I(9));
	ringo_task_cancel(g, NULL);
	CHECK_EQ(await_task(g, NULL), 0);
	CHECK_STR(g_log.buf, "get(-125,0)");
	CHECK_EQ(ringo_queue_size(&q), 1);
	CHECK_EQ(get_now(), 9);
	q_destroy();
	return 0;
}

/* ==== ringo's own: join, task_done, shutdown under cancellation ==== */

PORT_TEST(test_cancelled_join_changes_nothing)
{
	q_init(FIFO, 0);
	ringo_queue_put_nowait(&q, I(1));
	ringo_task *j = spawn(task_join, NULL);
	sleep0();
	ringo_task_cancel(j, NULL);
	CHECK_EQ(await_task(j, NULL), -ECANCELED);
	CHECK_EQ(ringo_queue_size(&q), 1);
	/* The unfinished count is intact: a new join waits for task_done. */
	j = spawn(task_join, NULL);
	CHECK_EQ(get_now(), 1);
	sleep0();
	CHECK(!done(j));
	CHECK_EQ(ringo_queue_task_done(&q), 0);
	CHECK_EQ(await_task(j, NULL), 0);
	CHECK_EQ(ringo_queue_task_done(&q), -EINVAL);
	q_destroy();
	return 0;
}

/* A getter woken by put still gets the item after a plain shutdown
 * (asyncio: shutdown lets what is queued be taken). */
PORT_TEST(test_getter_woken_then_shutdown_still_takes_the_item)
{
	q_init(FIFO, 0);
	ringo_task *g = spawn(task_get, NULL);
	sleep0();
	ringo_queue_put_nowait(&q, I(4));
	ringo_queue_shutdown(&q, false);
	CHECK_EQ(await_task(g, NULL), 0);
	CHECK_EQ(result_of(g), 4);
	q_destroy();
	return 0;
}

/* ... but not after an immediate one, which drops it (and counts it
 * done for join). */
PORT_TEST(test_getter_woken_then_shutdown_immediate_gets_eshutdown)
{
	q_init(FIFO, 0);
	ringo_task *g = spawn(task_get, NULL);
	sleep0();
	ringo_queue_put_nowait(&q, I(4));
	ringo_queue_shutdown(&q, true);
	CHECK_EQ(await_task(g, NULL), -ESHUTDOWN);
	CHECK_EQ(ringo_queue_join(&q), 0);
	q_destroy();
	return 0;
}

/* A putter woken for a free slot puts nothing once the queue is shut
 * down, and the slot stays free. */
PORT_TEST(test_putter_woken_then_shutdown_puts_nothing)
{
	q_init(FIFO, 1);
	ringo_queue_put_nowait(&q, I(1));
	ringo_task *p = spawn(task_put, I(2));
	sleep0();
	CHECK_EQ(get_now(), 1);
	ringo_queue_shutdown(&q, false);
	CHECK_EQ(await_task(p, NULL), -ESHUTDOWN);
	CHECK_EQ(ringo_queue_size(&q), 0);
	CHECK_EQ(ringo_queue_task_done(&q), 0);
	CHECK_EQ(ringo_queue_task_done(&q), -EINVAL);
	q_destroy();
	return 0;
}

/* Shutdown wakes a getter, which is then cancelled before it runs: it
 * reports the cancel (asyncio: CancelledError). */
PORT_TEST(test_getter_woken_by_shutdown_then_cancelled_is_cancelled)
{
	q_init(FIFO, 0);
	ringo_task *g = spawn(task_get, NULL);
	sleep0();
	ringo_queue_shutdown(&q, false);
	ringo_task_cancel(g, NULL);
	CHECK_EQ(await_task(g, NULL), -ECANCELED);
	q_destroy();
	return 0;
}

/* A woken getter whose item another caller took first waits again (at
 * the back of the line), as in asyncio. */
PORT_TEST(test_woken_getter_whose_item_is_taken_waits_again)
{
	q_init(FIFO, 0);
	ringo_task *g = spawn(task_get, NULL);
	sleep0();
	ringo_queue_put_nowait(&q, I(1));
	CHECK_EQ(get_now(), 1); /* taken before g runs */
	sleep0();
	CHECK(!done(g));
	ringo_queue_put_nowait(&q, I(2));
	CHECK_EQ(await_task(g, NULL), 0);
	CHECK_EQ(result_of(g), 2);
	q_destroy();
	return 0;
}

/* ==== the sweep: cancel a task at every iteration, account every item ====
 * Producers put distinct items through a small queue to consumers (and
 * a get_nowait thief); at iteration k one of the tasks is cancelled (the
 * victim cycles through all of them). Looping producers and consumers
 * count an item when put or get returns 0; one-shot ones count it by
 * their task's outcome (a task cancelled before it ran again ends
 * cancelled, whatever its last call returned: asyncio's rule). Every item
 * put must come out exactly once (got, or still queued); nothing else. */

#define SWEEP_LOOPERS 2
#define SWEEP_PER_LOOPER 6
#define SWEEP_ONESHOTS 2
#define SWEEP_ITEMS (SWEEP_LOOPERS * SWEEP_PER_LOOPER + SWEEP_ONESHOTS)
#define SWEEP_TASKS (2 * SWEEP_LOOPERS + 2 * SWEEP_ONESHOTS + 1)

static int put_ok[SWEEP_ITEMS + 1];  /* times item i was put */
static int got[SWEEP_ITEMS + 1];     /* times item i came out */

static int sweep_producer(void *arg, void **result)
{
	int base = V(arg) * SWEEP_PER_LOOPER;
	for (int i = 1; i <= SWEEP_PER_LOOPER; i++) {
		int item = base + i;
		int rc = ringo_queue_put(&q, I(item));
		if (rc == 0)
			put_ok[item]++;
		else if (rc != -ECANCELED && rc != -ESHUTDOWN)
			port_fail("unexpected put error", __FILE__, __LINE__);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int sweep_consumer(void *arg, void **result)
{
	for (;;) {
		void *item = NULL;
		int rc = ringo_queue_get(&q, &item);
		if (rc == 0) {
			CHECK(V(item) >= 1 && V(item) <= SWEEP_ITEMS);
			got[V(item)]++;
			ringo_queue_task_done(&q);
			continue;
		}
		if (rc != -ECANCELED && rc != -ESHUTDOWN)
			port_fail("unexpected get error", __FILE__, __LINE__);
		return rc;
	}
}

static int sweep_thief(void *arg, void **result)
{
	for (int i = 0; i < 40; i++) {
		void *item = NULL;
		if (ringo_queue_get_nowait(&q, &item) == 0) {
			got[V(item)]++;
			ringo_queue_task_done(&q);
		}
		if (ringo_sleep(0) < 0)
			return -ECANCELED;
	}
	return 0;
}

struct countdown {
	int left;
	ringo_task *victim;
};

static void countdown_cb(void *arg)
{
	struct countdown *c = arg;
	if (c->left-- > 0)
		ringo_call_soon(P.loop, countdown_cb, c, NULL);
	else
		ringo_task_cancel(c->victim, NULL);
}

static void sweep_account(int k, ringo_task **oneshot_put, ringo_task **oneshot_get)
{
	for (int i = 0; i < SWEEP_ONESHOTS; i++) {
		if (outcome(oneshot_put[i], NULL) == 0)
			put_ok[SWEEP_LOOPERS * SWEEP_PER_LOOPER + 1 + i]++;
		void *v = NULL;
		if (outcome(oneshot_get[i], &v) == 0)
			got[V(v)]++;
	}
	/* Whatever is left queued counts as not yet taken. */
	void *item;
	while (ringo_queue_get_nowait(&q, &item) == 0)
		got[V(item)]++;
	for (int i = 1; i <= SWEEP_ITEMS; i++) {
		if (got[i] != put_ok[i]) {
			char m[128];
			snprintf(m, sizeof(m), "round %d item %d: put %d, got %d", k, i, put_ok[i],
				 got[i]);
			port_fail(m, __FILE__, __LINE__);
		}
	}
}

static int sweep_round(void *arg, void **result)
{
	int k = V(arg);
	q_init((enum kind)(k % 3), (size_t)(k % 2 + 1));
	memset(put_ok, 0, sizeof(put_ok));
	memset(got, 0, sizeof(got));
	ringo_task *ts[SWEEP_TASKS], *oneshot_put[SWEEP_ONESHOTS], *oneshot_get[SWEEP_ONESHOTS];
	size_t n = 0;
	for (int i = 0; i < SWEEP_LOOPERS; i++)
		ts[n++] = spawn(sweep_producer, I(i));
	for (int i = 0; i < SWEEP_ONESHOTS; i++)
		ts[n++] = oneshot_put[i] =
			spawn(task_put, I(SWEEP_LOOPERS * SWEEP_PER_LOOPER + 1 + i));
	for (int i = 0; i < SWEEP_ONESHOTS; i++)
		ts[n++] = oneshot_get[i] = spawn(task_get, NULL);
	for (int i = 0; i < SWEEP_LOOPERS; i++)
		ts[n++] = spawn(sweep_consumer, NULL);
	ts[n++] = spawn(sweep_thief, NULL);
	static struct countdown c;
	c.left = k / (int)n;
	c.victim = ts[k % n];
	ringo_call_soon(P.loop, countdown_cb, &c, NULL);
	/* Let the producers finish (or be cancelled), then stop the rest. */
	for (int i = 0; i < SWEEP_LOOPERS + SWEEP_ONESHOTS; i++)
		ringo_await(ringo_task_future(ts[i]), NULL);
	for (int i = 0; i < 20; i++)
		sleep0();
	ringo_queue_shutdown(&q, false);
	gather_all(ts, n);
	sweep_account(k, oneshot_put, oneshot_get);
	q_destroy();
	return 0;
}

static void test_cancel_sweep_keeps_every_item_exactly_once(void **state)
{
	for (int k = 0; k < 40 * SWEEP_TASKS; k++)
		port_run(sweep_round, I(k));
}

/* ==== failure paths ==== */

static void test_bounded_queue_init_allocation_failure(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_queue fq;
	ca.fail_at = ca.attempts + 1;
	assert_int_equal(ringo_queue_init(&fq, loop, 8), -ENOMEM);
	ca.fail_at = 0;
	test_loop_free(loop, &ca);
}

PORT_TEST(test_unbounded_growth_failure_is_enomem_and_keeps_the_items)
{
	q_init(FIFO, 0);
	for (int i = 0; i < 16; i++)
		CHECK_EQ(ringo_queue_put_nowait(&q, I(i)), 0);
	P.ca.fail_at = P.ca.attempts + 1;
	CHECK_EQ(ringo_queue_put(&q, I(16)), -ENOMEM);
	P.ca.fail_at = 0;
	CHECK_EQ(ringo_queue_size(&q), 16);
	for (int i = 0; i < 16; i++)
		CHECK_EQ(get_now(), i);
	CHECK_EQ(ringo_queue_task_done(&q), 0); /* 16 counted, not 17 */
	q_destroy();
	return 0;
}

static void test_blocking_calls_outside_a_task_are_eperm(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_queue bq;
	assert_int_equal(ringo_queue_init(&bq, loop, 1), 0);
	void *item;
	assert_int_equal(ringo_queue_get(&bq, &item), -EPERM);
	assert_int_equal(ringo_queue_put(&bq, I(1)), 0); /* room: no wait */
	assert_int_equal(ringo_queue_put(&bq, I(2)), -EPERM);
	assert_int_equal(ringo_queue_join(&bq), -EPERM);
	assert_int_equal(ringo_queue_destroy(&bq), 0);
	test_loop_free(loop, &ca);
}

/* After destroy a bounded queue must not grow as an unbounded one would
 * (it used to: put found len == cap == 0 and doubled the buffer): every
 * call refuses with -EINVAL, outside a task and inside one. */
static int use_destroyed_queue(void *arg, void **result)
{
	ringo_queue *dq = arg;
	void *item = NULL;
	CHECK_EQ(ringo_queue_put(dq, I(1)), -EINVAL);
	CHECK_EQ(ringo_queue_put_nowait(dq, I(1)), -EINVAL);
	CHECK_EQ(ringo_queue_get(dq, &item), -EINVAL);
	CHECK_EQ(ringo_queue_get_nowait(dq, &item), -EINVAL);
	CHECK_EQ(ringo_queue_join(dq), -EINVAL);
	CHECK_EQ(ringo_queue_task_done(dq), -EINVAL);
	CHECK_EQ(ringo_queue_destroy(dq), -EINVAL);
	return 0;
}

static void test_destroyed_queue_refuses_every_call(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	for (size_t maxsize = 0; maxsize <= 2; maxsize++) {
		ringo_queue dq;
		assert_int_equal(ringo_queue_init(&dq, loop, maxsize), 0);
		assert_int_equal(ringo_queue_put_nowait(&dq, I(7)), 0);
		assert_int_equal(ringo_queue_destroy(&dq), 0);
		assert_int_equal(ringo_queue_put_nowait(&dq, I(1)), -EINVAL);
		assert_int_equal(ringo_queue_put(&dq, I(1)), -EINVAL);
		ringo_queue_shutdown(&dq, true);
		assert_int_equal(ringo_queue_size(&dq), 0);
		ringo_task *t;
		assert_int_equal(ringo_spawn(loop, use_destroyed_queue, &dq, NULL, &t), 0);
		assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
		ringo_task_release(t);
		assert_int_equal(ringo_queue_put_nowait(&dq, I(1)), -EINVAL);
	}
	test_loop_free(loop, &ca);
}

/* A task of another loop must not wait on the queue: its wake-up would
 * go to the wrong loop. */
static ringo_queue other_q;

static int get_other_loop(void *arg, void **result)
{
	void *item;
	return ringo_queue_get(&other_q, &item);
}

static void test_waiting_from_another_loop_is_einval(void **state)
{
	struct counting_allocator ca1, ca2;
	ringo_loop *l1 = test_loop_new(&ca1, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_loop *l2 = test_loop_new(&ca2, RINGO_LOOP_VIRTUAL_CLOCK);
	assert_int_equal(ringo_queue_init(&other_q, l1, 1), 0);
	ringo_task *t;
	assert_int_equal(ringo_spawn(l2, get_other_loop, NULL, NULL, &t), 0);
	assert_int_equal(ringo_loop_run_until_complete(l2, ringo_task_future(t), NULL), -EINVAL);
	ringo_task_release(t);
	assert_int_equal(ringo_queue_destroy(&other_q), 0);
	test_loop_free(l2, &ca2);
	test_loop_free(l1, &ca1);
}

/* A loop closed with tasks blocked in get and put: their waiter nodes
 * (on the freed stacks) leave the queue, which then works and destroys. */
static ringo_queue ab_q;

static int ab_get(void *arg, void **result)
{
	void *item;
	return ringo_queue_get(&ab_q, &item);
}

static int ab_put(void *arg, void **result)
{
	return ringo_queue_put(&ab_q, arg);
}

static int ab_settle(void *arg, void **result)
{
	for (int i = 0; i < 4; i++)
		ringo_sleep(0);
	return 0;
}

static void abandon_on(ringo_loop *loop, ringo_task_fn *fn, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(ringo_spawn(loop, fn, I(100 + i), NULL, NULL), 0);
	ringo_task *m;
	assert_int_equal(ringo_spawn(loop, ab_settle, NULL, NULL, &m), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(m), NULL), 0);
	ringo_task_release(m);
	assert_int_equal(ringo_loop_close(loop), 0);
}

static void test_getters_abandoned_by_close_leave_the_queue(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	assert_int_equal(ringo_queue_init(&ab_q, loop, 0), 0);
	abandon_on(loop, ab_get, 2);
	assert_int_equal(ringo_queue_put_nowait(&ab_q, I(1)), 0);
	void *item = NULL;
	assert_int_equal(ringo_queue_get_nowait(&ab_q, &item), 0);
	assert_int_equal(V(item), 1);
	assert_int_equal(ringo_queue_destroy(&ab_q), 0);
	test_loop_free(loop, &ca);
}

static void test_putters_abandoned_by_close_leave_the_queue(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	assert_int_equal(ringo_queue_init(&ab_q, loop, 1), 0);
	assert_int_equal(ringo_queue_put_nowait(&ab_q, I(1)), 0);
	abandon_on(loop, ab_put, 2);
	void *item = NULL;
	assert_int_equal(ringo_queue_get_nowait(&ab_q, &item), 0);
	assert_int_equal(V(item), 1);
	assert_int_equal(ringo_queue_get_nowait(&ab_q, &item), -EAGAIN);
	assert_int_equal(ringo_queue_destroy(&ab_q), 0);
	test_loop_free(loop, &ca);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		cmocka_set_test_filter(argv[1]); /* e.g. "test_put_*" */
	const struct CMUnitTest tests[] = {
		/* test_queues.py */
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_maxsize),
		cmocka_unit_test(test_blocking_get),
		cmocka_unit_test(test_get_with_putters),
		cmocka_unit_test(test_blocking_get_wait),
		cmocka_unit_test(test_nonblocking_get),
		cmocka_unit_test(test_nonblocking_get_exception),
		cmocka_unit_test(test_get_cancelled_race),
		cmocka_unit_test(test_get_with_waiting_putters),
		cmocka_unit_test(test_why_are_getters_waiting),
		cmocka_unit_test(test_cancelled_getters_not_being_held_in_self_getters),
		cmocka_unit_test(test_blocking_put),
		cmocka_unit_test(test_blocking_put_wait),
		cmocka_unit_test(test_nonblocking_put),
		cmocka_unit_test(test_get_cancel_drop_one_pending_reader),
		cmocka_unit_test(test_get_cancel_drop_many_pending_readers),
		cmocka_unit_test(test_put_cancel_drop),
		cmocka_unit_test(test_nonblocking_put_exception),
		cmocka_unit_test(test_put_cancelled),
		cmocka_unit_test(test_put_cancelled_race),
		cmocka_unit_test(test_put_with_waiting_getters),
		cmocka_unit_test(test_why_are_putters_waiting),
		cmocka_unit_test(test_cancelled_puts_not_being_held_in_self_putters),
		cmocka_unit_test(test_cancelled_put_silence_value_error_exception),
		cmocka_unit_test(test_lifo_order),
		cmocka_unit_test(test_priority_order),
		EACH_KIND_TESTS(test_task_done_underflow),
		EACH_KIND_TESTS(test_task_done),
		EACH_KIND_TESTS(test_join_empty_queue),
		EACH_KIND_TESTS(test_shutdown_empty),
		EACH_KIND_TESTS(test_shutdown_nonempty),
		EACH_KIND_TESTS(test_shutdown_immediate),
		EACH_KIND_TESTS(test_shutdown_immediate_with_unfinished),
		/* ringo's own */
		cmocka_unit_test(test_nowait_errors_are_distinct),
		cmocka_unit_test(test_null_arguments_are_einval),
		cmocka_unit_test(test_fifo_order_and_wraparound),
		cmocka_unit_test(test_unbounded_queue_grows),
		cmocka_unit_test(test_lifo_queue_pops_the_newest),
		cmocka_unit_test(test_priority_queue_pops_the_smallest),
		cmocka_unit_test(test_woken_getter_takes_the_first_item_when_it_runs),
		cmocka_unit_test(test_item_for_a_woken_getter_counts_against_maxsize),
		cmocka_unit_test(test_put_waits_while_full_and_get_wakes_it),
		cmocka_unit_test(test_getters_are_served_fifo),
		cmocka_unit_test(test_cancelled_getter_takes_nothing),
		cmocka_unit_test(test_cancelled_putter_leaves_its_item_out),
		cmocka_unit_test(test_getter_cancelled_after_wake_leaves_the_item_queued),
		cmocka_unit_test(test_cancelled_join_changes_nothing),
		cmocka_unit_test(test_getter_woken_then_shutdown_still_takes_the_item),
		cmocka_unit_test(test_getter_woken_then_shutdown_immediate_gets_eshutdown),
		cmocka_unit_test(test_putter_woken_then_shutdown_puts_nothing),
		cmocka_unit_test(test_getter_woken_by_shutdown_then_cancelled_is_cancelled),
		cmocka_unit_test(test_woken_getter_whose_item_is_taken_waits_again),
		cmocka_unit_test(test_cancel_sweep_keeps_every_item_exactly_once),
		cmocka_unit_test(test_bounded_queue_init_allocation_failure),
		cmocka_unit_test(test_unbounded_growth_failure_is_enomem_and_keeps_the_items),
		cmocka_unit_test(test_blocking_calls_outside_a_task_are_eperm),
		cmocka_unit_test(test_waiting_from_another_loop_is_einval),
		cmocka_unit_test(test_destroyed_queue_refuses_every_call),
		cmocka_unit_test(test_getters_abandoned_by_close_leave_the_queue),
		cmocka_unit_test(test_putters_abandoned_by_close_leave_the_queue),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
