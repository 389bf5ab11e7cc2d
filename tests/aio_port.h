/*
 * For tests ported from CPython's Lib/test/test_asyncio: each test body
 * runs as the task "main" on a fresh virtual-clock loop, like
 * IsolatedAsyncioTestCase; tasks it spawns are tracked, cancelled if still
 * running when main returns (asyncio's runner does the same), and checked
 * for leaks with the loop.
 *
 * CHECK records the first failure and carries on: cmocka's asserts
 * longjmp, which must not cross from a task's stack to the test's.
 * (A header of static functions: each suite that includes it is one
 * translation unit.)
 */
#ifndef RINGO_TEST_AIO_PORT_H
#define RINGO_TEST_AIO_PORT_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

#define PORT_MAXT 64

static struct port {
	ringo_loop *loop;
	struct counting_allocator ca;
	ringo_task *tasks[PORT_MAXT]; /* spawned by the test, referenced */
	size_t ntasks;
	char failed[512];             /* first failed CHECK, or "" */
} P;

static struct log g_log;

#define I(x) ((void *)(intptr_t)(x))
#define V(p) ((int)(intptr_t)(p))

static void port_fail(const char *what, const char *file, int line)
{
	if (!P.failed[0])
		snprintf(P.failed, sizeof(P.failed), "%s:%d: %s", file, line, what);
}

#define CHECK(c) ((c) ? (void)0 : port_fail(#c, __FILE__, __LINE__))
/* Integer equality, with both values in the message. */
#define CHECK_EQ(a, b)                                                                      \
	do {                                                                                \
		long long a_ = (long long)(a), b_ = (long long)(b);                         \
		if (a_ != b_) {                                                             \
			char m_[256];                                                       \
			snprintf(m_, sizeof(m_), "%s == %s (%lld != %lld)", #a, #b, a_, b_); \
			port_fail(m_, __FILE__, __LINE__);                                  \
		}                                                                           \
	} while (0)
#define CHECK_STR(a, b)                                                                     \
	do {                                                                                \
		if (strcmp((a), (b)) != 0) {                                                \
			char m_[400];                                                       \
			snprintf(m_, sizeof(m_), "\"%.180s\" == \"%.180s\"", (a), (b));     \
			port_fail(m_, __FILE__, __LINE__);                                  \
		}                                                                           \
	} while (0)

/* asyncio.create_task. */
static ringo_task *spawn(ringo_task_fn *fn, void *arg)
{
	if (P.ntasks == PORT_MAXT) {
		port_fail("too many tasks", __FILE__, __LINE__);
		return NULL;
	}
	ringo_task *t = NULL;
	int rc = ringo_spawn(P.loop, fn, arg, NULL, &t);
	if (rc < 0) {
		port_fail("ringo_spawn failed", __FILE__, __LINE__);
		return NULL;
	}
	P.tasks[P.ntasks++] = t;
	return t;
}

/* await asyncio.sleep(0): one loop iteration. */
static void sleep0(void)
{
	CHECK_EQ(ringo_sleep(0), 0);
}

static bool done(ringo_task *t)
{
	return ringo_future_done(ringo_task_future(t));
}

static bool cancelled(ringo_task *t)
{
	return ringo_future_cancelled(ringo_task_future(t));
}

/* The outcome of a finished task: its return code (0, or the error it
 * ended with; -ECANCELED if cancelled), and its result in *value. */
static int outcome(ringo_task *t, void **value)
{
	void *v = NULL;
	int rc = ringo_future_result(ringo_task_future(t), &v);
	if (value)
		*value = v;
	return rc;
}

/* await t: its outcome (as outcome()). */
static int await_task(ringo_task *t, void **value)
{
	int rc = ringo_await(ringo_task_future(t), value);
	return rc;
}

/* asyncio.gather(*ts, return_exceptions=True): wait for all. */
static void gather_all(ringo_task **ts, size_t n)
{
	ringo_future *f[PORT_MAXT];
	struct ringo_gather_result r[PORT_MAXT];
	for (size_t i = 0; i < n; i++)
		f[i] = ringo_task_future(ts[i]);
	CHECK_EQ(ringo_gather(f, n, true, r), 0);
}

static void cancel_cb(void *arg)
{
	ringo_task_cancel(arg, NULL);
}

/* Run body(arg) as the task "main" on a fresh loop, then finish every
 * task it left (cancelled), free the loop (no leak allowed) and fail the
 * cmocka test if any CHECK failed or main did not return 0. */
static void port_run(ringo_task_fn *body, void *arg)
{
	memset(&P, 0, sizeof(P));
	log_reset(&g_log);
	P.loop = test_loop_new(&P.ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_task_options o = {.name = "main"};
	ringo_task *main_task;
	assert_int_equal(ringo_spawn(P.loop, body, arg, &o, &main_task), 0);
	int rc = ringo_loop_run_until_complete(P.loop, ringo_task_future(main_task), NULL);
	CHECK_EQ(rc, 0);
	ringo_task_release(main_task);
	for (size_t i = 0; i < P.ntasks; i++) {
		ringo_future *f = ringo_task_future(P.tasks[i]);
		if (!ringo_future_done(f))
			ringo_task_cancel(P.tasks[i], NULL);
		ringo_loop_run_until_complete(P.loop, f, NULL);
		ringo_task_release(P.tasks[i]);
	}
	test_loop_free(P.loop, &P.ca);
	if (P.failed[0])
		fail_msg("%s", P.failed);
}

/* Declare a cmocka test that runs body on a fresh loop. */
#define PORT_TEST(name)                                          \
	static int name##_body(void *arg, void **result);        \
	static void name(void **state)                           \
	{                                                        \
		port_run(name##_body, NULL);                     \
	}                                                        \
	static int name##_body(void *arg, void **result)

#endif
