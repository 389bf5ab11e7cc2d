/* call_soon, call_later, call_at and handles: asyncio's ordering rules. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"
#include "ringo/thread.h"

struct ctx {
	ringo_loop *loop;
	struct log log;
	ringo_handle h[8];
	int64_t at[16];
	int n;
};

struct tagged {
	struct ctx *c;
	const char *tag;
};

static void say(void *arg)
{
	struct tagged *t = arg;
	log_add(&t->c->log, "%s", t->tag);
}

static void say_stop(void *arg)
{
	struct tagged *t = arg;
	log_add(&t->c->log, "%s", t->tag);
	ringo_loop_stop(t->c->loop);
}

static void test_call_soon_is_fifo(void **state)
{
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, 0)};
	struct tagged t[5] = {{&c, "a"}, {&c, "b"}, {&c, "c"}, {&c, "d"}, {&c, "stop"}};
	for (int i = 0; i < 4; i++)
		assert_int_equal(ringo_call_soon(c.loop, say, &t[i], NULL), 0);
	ringo_call_soon(c.loop, say_stop, &t[4], NULL);
	assert_int_equal(ringo_loop_run_forever(c.loop), 0);
	assert_string_equal(c.log.buf, "a b c d stop");
	test_loop_free(c.loop, &ca);
}

/* The seed: call_later(0.2, 1), call_later(0.1, 2), call_soon(3) prints
 * 3, 2, 1. */
static void test_seed_call_later_order(void **state)
{
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK)};
	struct tagged t1 = {&c, "1"}, t2 = {&c, "2"}, t3 = {&c, "3"}, ts = {&c, "end"};
	ringo_call_later(c.loop, RINGO_MSEC(200), say, &t1, NULL);
	ringo_call_later(c.loop, RINGO_MSEC(100), say, &t2, NULL);
	ringo_call_soon(c.loop, say, &t3, NULL);
	ringo_call_later(c.loop, RINGO_MSEC(400), say_stop, &ts, NULL);
	assert_int_equal(ringo_loop_run_forever(c.loop), 0);
	assert_string_equal(c.log.buf, "3 2 1 end");
	assert_int_equal(ringo_loop_time_ns(c.loop), RINGO_MSEC(400));
	test_loop_free(c.loop, &ca);
}

static void test_call_later_zero_runs_after_call_soon(void **state)
{
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK)};
	struct tagged later = {&c, "later0"}, soon = {&c, "soon"}, end = {&c, "end"};
	ringo_call_later(c.loop, 0, say, &later, NULL);
	ringo_call_soon(c.loop, say, &soon, NULL);
	ringo_call_later(c.loop, 1, say_stop, &end, NULL);
	assert_int_equal(ringo_loop_run_forever(c.loop), 0);
	assert_string_equal(c.log.buf, "soon later0 end");
	test_loop_free(c.loop, &ca);
}

static void test_equal_deadlines_fire_in_registration_order(void **state)
{
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK)};
	static const char *tags[] = {"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"};
	struct tagged t[10];
	for (int i = 0; i < 10; i++) {
		t[i] = (struct tagged){&c, tags[i]};
		ringo_call_at(c.loop, RINGO_SEC(5), say, &t[i], NULL);
	}
	struct tagged end = {&c, "end"};
	ringo_call_at(c.loop, RINGO_SEC(5), say_stop, &end, NULL);
	assert_int_equal(ringo_loop_run_forever(c.loop), 0);
	assert_string_equal(c.log.buf, "t0 t1 t2 t3 t4 t5 t6 t7 t8 t9 end");
	test_loop_free(c.loop, &ca);
}

static void test_past_deadline_runs_next_iteration_after_queued_callbacks(void **state)
{
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK)};
	struct tagged past = {&c, "past"}, soon = {&c, "soon"}, end = {&c, "end"};
	ringo_call_at(c.loop, -RINGO_SEC(1), say, &past, NULL);
	ringo_call_soon(c.loop, say, &soon, NULL);
	ringo_call_soon(c.loop, say_stop, &end, NULL);
	assert_int_equal(ringo_loop_run_forever(c.loop), 0);
	/* The due timer joins the batch after the queued callbacks. */
	assert_string_equal(c.log.buf, "soon end past");
	test_loop_free(c.loop, &ca);
}

static void record_time(void *arg)
{
	struct ctx *c = arg;
	c->at[c->n++] = ringo_loop_time_ns(c->loop);
	if (c->n == 3)
		ringo_loop_stop(c->loop);
}

/* The seed: call_at(now+0.1), call_at(now+0.2), call_soon: the soon one
 * first at "now", then the others at their times. */
static void test_seed_call_at_times(void **state)
{
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK)};
	int64_t now = ringo_loop_time_ns(c.loop);
	ringo_call_at(c.loop, now + RINGO_MSEC(100), record_time, &c, NULL);
	ringo_call_at(c.loop, now + RINGO_MSEC(200), record_time, &c, NULL);
	ringo_call_soon(c.loop, record_time, &c, NULL);
	assert_int_equal(ringo_loop_run_forever(c.loop), 0);
	assert_int_equal(c.at[0], now);
	assert_int_equal(c.at[1], now + RINGO_MSEC(100));
	assert_int_equal(c.at[2], now + RINGO_MSEC(200));
	test_loop_free(c.loop, &ca);
}

static void test_cancel_soon_and_timer(void **state)
{
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK)};
	struct tagged a = {&c, "a"}, b = {&c, "b"}, t = {&c, "t"}, end = {&c, "end"};
	ringo_handle ha, hb, ht;
	ringo_call_soon(c.loop, say, &a, &ha);
	ringo_call_soon(c.loop, say, &b, &hb);
	ringo_call_later(c.loop, RINGO_SEC(1), say, &t, &ht);
	ringo_call_later(c.loop, RINGO_SEC(2), say_stop, &end, NULL);
	assert_true(ringo_handle_pending(ha));
	assert_true(ringo_handle_pending(ht));
	assert_int_equal(ringo_handle_cancel(ha), 0);
	assert_int_equal(ringo_handle_cancel(ht), 0);
	assert_false(ringo_handle_pending(ha));
	assert_false(ringo_handle_pending(ht));
	/* A second cancel is harmless and says so. */
	assert_int_equal(ringo_handle_cancel(ha), -EALREADY);
	assert_int_equal(ringo_handle_cancel(ht), -EALREADY);
	assert_int_equal(ringo_loop_run_forever(c.loop), 0);
	assert_string_equal(c.log.buf, "b end");
	/* After it ran, cancel is -EALREADY too, even once the record is reused. */
	assert_int_equal(ringo_handle_cancel(hb), -EALREADY);
	assert_false(ringo_handle_pending(hb));
	test_loop_free(c.loop, &ca);
}

static void cancel_other(void *arg)
{
	struct ctx *c = arg;
	log_add(&c->log, "canceller");
	c->n = ringo_handle_cancel(c->h[0]);
	ringo_loop_stop(c->loop);
}

static void test_cancel_from_an_earlier_callback_of_the_same_batch(void **state)
{
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, 0)};
	struct tagged victim = {&c, "victim"};
	ringo_call_soon(c.loop, cancel_other, &c, NULL);
	ringo_call_soon(c.loop, say, &victim, &c.h[0]);
	assert_int_equal(ringo_loop_run_forever(c.loop), 0);
	assert_int_equal(c.n, 0);
	assert_string_equal(c.log.buf, "canceller");
	test_loop_free(c.loop, &ca);
}

static void cancel_self(void *arg)
{
	struct ctx *c = arg;
	c->n = ringo_handle_cancel(c->h[0]);
	ringo_loop_stop(c->loop);
}

static void test_cancel_inside_own_callback_is_ealready(void **state)
{
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, 0)};
	ringo_call_soon(c.loop, cancel_self, &c, &c.h[0]);
	assert_int_equal(ringo_loop_run_forever(c.loop), 0);
	assert_int_equal(c.n, -EALREADY);
	test_loop_free(c.loop, &ca);
}

static void test_bogus_handles_are_einval(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_handle none = {0};
	assert_int_equal(ringo_handle_cancel(none), -EINVAL);
	ringo_handle wild = {loop, 12345, 7};
	assert_int_equal(ringo_handle_cancel(wild), -EINVAL);
	assert_false(ringo_handle_pending(wild));
	assert_false(ringo_handle_pending(none));
	assert_int_equal(ringo_call_soon(loop, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(ringo_call_at(loop, 0, NULL, NULL, NULL), -EINVAL);
	test_loop_free(loop, &ca);
}

/* Many random timers, a tenth cancelled: the rest fire exactly once, in
 * (deadline, registration) order, and the cancelled never do. */
struct many {
	ringo_loop *loop;
	int64_t last_when;
	uint32_t last_id;
	int fired;
	unsigned char *seen;
	int64_t *when;
};

struct many *g_many;

static void many_fire(void *arg)
{
	struct many *m = g_many;
	uint32_t id = (uint32_t)(uintptr_t)arg;
	int64_t now = ringo_loop_time_ns(m->loop);
	assert_int_equal(now, m->when[id]);
	assert_true(now > m->last_when || (now == m->last_when && id > m->last_id));
	assert_int_equal(m->seen[id], 0);
	m->seen[id] = 1;
	m->last_when = now;
	m->last_id = id;
	m->fired++;
}

static void stop_loop(void *arg)
{
	ringo_loop_stop(arg);
}

static void test_many_random_timers_with_cancellation(void **state)
{
	enum { N = 200000 };
	struct counting_allocator ca;
	struct many m = {.loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK), .last_when = -1};
	m.seen = calloc(N, 1);
	m.when = calloc(N, sizeof(int64_t));
	ringo_handle *h = calloc(N, sizeof(*h));
	g_many = &m;
	srand(7);
	for (uint32_t i = 0; i < N; i++) {
		m.when[i] = (rand() % 1000) * RINGO_MSEC(1); /* many equal deadlines */
		assert_int_equal(ringo_call_at(m.loop, m.when[i], many_fire, (void *)(uintptr_t)i, &h[i]), 0);
	}
	int cancelled = 0;
	for (uint32_t i = 0; i < N; i += 10) {
		assert_int_equal(ringo_handle_cancel(h[i]), 0);
		m.seen[i] = 2;
		cancelled++;
	}
	ringo_call_at(m.loop, RINGO_SEC(2), stop_loop, m.loop, NULL);
	assert_int_equal(ringo_loop_run_forever(m.loop), 0);
	assert_int_equal(m.fired, N - cancelled);
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(m.seen[i], i % 10 == 0 ? 2 : 1);
	free(m.seen);
	free(m.when);
	free(h);
	test_loop_free(m.loop, &ca);
}

static void test_cancelling_most_timers_keeps_memory_bounded(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_handle h;
	/* Schedule and cancel far more timers than are ever pending. */
	for (int i = 0; i < 1000000; i++) {
		assert_int_equal(ringo_call_later(loop, RINGO_SEC(1000), say, NULL, &h), 0);
		assert_int_equal(ringo_handle_cancel(h), 0);
	}
	/* The heap compacts: it never held a million stale entries. */
	assert_true(ca.live_bytes < 1024 * 1024);
	test_loop_free(loop, &ca);
}

/* ---- timer memory follows the load down ---- */

static void count_fired(void *arg)
{
	(*(long *)arg)++;
}

static void stop_cb(void *arg)
{
	ringo_loop_stop(arg);
}

static long burst_n(void)
{
	return getenv("RINGO_UNDER_VALGRIND") ? 100000 : 1000000;
}

/* A burst of timers with random deadlines over one second, 90% of them
 * cancelled at once, the rest run; the loop is stopped at 2 s. Returns
 * the bytes held at the burst's peak. */
static size_t run_burst(ringo_loop *loop, struct counting_allocator *ca, long n)
{
	ringo_handle *h = malloc((size_t)n * sizeof(*h));
	assert_non_null(h);
	long fired = 0;
	int64_t base = ringo_loop_time_ns(loop);
	srand(7);
	for (long i = 0; i < n; i++) {
		int64_t when = base + (int64_t)((double)rand() / RAND_MAX * 1e9);
		assert_int_equal(ringo_call_at(loop, when, count_fired, &fired, &h[i]), 0);
	}
	size_t peak = ca->live_bytes;
	for (long i = 0; i < n; i++)
		if (i % 10)
			assert_int_equal(ringo_handle_cancel(h[i]), 0);
	ringo_call_at(loop, base + RINGO_SEC(2), stop_cb, loop, NULL);
	assert_int_equal(ringo_loop_run_forever(loop), 0);
	assert_int_equal(fired, (n + 9) / 10);
	free(h);
	return peak;
}

/* Run the loop for `ns` of virtual time with only what is scheduled. */
static void run_for(ringo_loop *loop, int64_t ns)
{
	ringo_call_later(loop, ns, stop_cb, loop, NULL);
	assert_int_equal(ringo_loop_run_forever(loop), 0);
}

/* The idle figure: a loop that has run a timer. */
static size_t idle_bytes(ringo_loop *loop, struct counting_allocator *ca)
{
	long fired = 0;
	ringo_call_later(loop, RINGO_MSEC(1), count_fired, &fired, NULL);
	run_for(loop, RINGO_MSEC(2));
	return ca->live_bytes;
}

static void test_timer_memory_goes_back_to_idle_after_a_burst(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	size_t idle = idle_bytes(loop, &ca);
	long n = burst_n();
	size_t peak = run_burst(loop, &ca, n);
	/* The burst did need memory: at least 8 bytes of slot per timer. */
	assert_true(peak > idle + (size_t)n * 8);
	/* Right after it, the memory stays for the next burst... */
	assert_true(ca.live_bytes > idle + (size_t)n * 8);
	/* ...and goes once the loop has run without needing it for more
	 * than two periods (a period is about a second of loop time): the
	 * table and arrays were sized to the peak (about 60 MB after a
	 * million) and now are back near idle. */
	run_for(loop, RINGO_SEC(3));
	assert_true(ca.live_bytes <= idle + 64 * 1024);
	/* And the loop still works, from small tables again. */
	run_for(loop, RINGO_MSEC(1));
	test_loop_free(loop, &ca);
}

/* Half a second after a burst the memory is still there; a loop that
 * then sleeps for a long while gives it back at its first look (its
 * virtual clock jumps over whole periods at once). */
static void test_timer_memory_stays_a_while_then_goes_back(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	size_t idle = idle_bytes(loop, &ca);
	long n = burst_n() / 10;
	run_burst(loop, &ca, n);
	size_t after = ca.live_bytes;
	assert_true(after > idle + (size_t)n * 8);
	run_for(loop, RINGO_MSEC(500));
	assert_int_equal(ca.live_bytes, after);
	run_for(loop, RINGO_SEC(100));
	assert_true(ca.live_bytes <= idle + 64 * 1024);
	test_loop_free(loop, &ca);
}

/* Timers evenly spread over a second from `base`; the last one to fire
 * stops the loop. */
struct even_burst {
	ringo_loop *loop;
	long n, fired;
};

static void even_fired(void *arg)
{
	struct even_burst *b = arg;
	if (++b->fired == b->n)
		ringo_loop_stop(b->loop);
}

static void run_even_burst(struct even_burst *b, int64_t base)
{
	b->fired = 0;
	for (long i = 0; i < b->n; i++)
		assert_int_equal(ringo_call_at(b->loop, base + i * (RINGO_SEC(1) / b->n), even_fired, b,
					       NULL),
				 0);
	assert_int_equal(ringo_loop_run_forever(b->loop), 0);
	assert_int_equal(b->fired, b->n);
}

/* Back-to-back bursts (a benchmark's rounds, a server's periodic
 * flush) reuse what the first one grew: the second allocates nothing,
 * whichever wheel slots it falls on. */
static void test_a_second_timer_burst_allocates_nothing(void **state)
{
	struct counting_allocator ca;
	struct even_burst b = {.loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK), .n = burst_n()};
	/* Both bursts start on a millisecond-slot boundary (2^20 ns), so
	 * each fills as many slots as the other, as full. */
	const int64_t slot = (int64_t)1 << 20;
	run_even_burst(&b, slot);
	size_t held = ca.live_bytes;
	long before = ca.attempts;
	int64_t now = ringo_loop_time_ns(b.loop);
	run_even_burst(&b, (now / slot + 2) * slot);
	assert_int_equal(ca.attempts, before);
	assert_int_equal(ca.live_bytes, held);
	test_loop_free(b.loop, &ca);
}

/* On a real clock, a loop left with nothing scheduled gives a burst's
 * memory back once the period is over, though it never collects a due
 * timer again. A thread knocks every 20 ms; the knock, run on the loop's
 * thread, stops the loop once the memory is back (if it never is, the
 * alarm fails the test). About two seconds. (The knocks wake the loop
 * too, so this does not tell whether it would have woken by itself at
 * the period's end: only timing could.) */
struct knock {
	ringo_loop *loop;
	struct counting_allocator *ca;
	size_t target;
	atomic_bool done;
};

static void knock_check(void *arg)
{
	struct knock *k = arg;
	if (k->ca->live_bytes <= k->target) {
		atomic_store(&k->done, true);
		ringo_loop_stop(k->loop);
	}
}

static void *knocker(void *arg)
{
	struct knock *k = arg;
	while (!atomic_load(&k->done)) {
		usleep(20000);
		assert_int_equal(ringo_call_soon_threadsafe(k->loop, knock_check, k), 0);
	}
	return NULL;
}

static void test_idle_real_clock_loop_gives_timer_memory_back(void **state)
{
	alarm(30);
	struct counting_allocator ca;
	struct knock k = {.loop = test_loop_new(&ca, 0), .ca = &ca};
	/* A burst due at once: 20000 timers make a slot table of 160 KB. */
	long fired = 0;
	for (int i = 0; i < 20000; i++)
		assert_int_equal(ringo_call_later(k.loop, 0, count_fired, &fired, NULL), 0);
	size_t peak = ca.live_bytes;
	ringo_call_later(k.loop, 0, stop_cb, k.loop, NULL);
	assert_int_equal(ringo_loop_run_forever(k.loop), 0);
	assert_int_equal(fired, 20000);
	k.target = peak - 128 * 1024;
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, knocker, &k), 0);
	assert_int_equal(ringo_loop_run_forever(k.loop), 0);
	assert_true(ca.live_bytes <= k.target);
	pthread_join(th, NULL);
	/* Run what the knocker posted last. */
	ringo_call_soon(k.loop, stop_cb, k.loop, NULL);
	ringo_loop_run_forever(k.loop);
	test_loop_free(k.loop, &ca);
	alarm(0);
}

static void test_timer_memory_shrinks_while_other_timers_stay(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	size_t idle = idle_bytes(loop, &ca);
	/* A watchdog that outlives the burst (a server's idle timer, the
	 * stack trimmer): the loop never goes timer-idle. */
	long fired = 0;
	ringo_handle watchdog;
	ringo_call_later(loop, RINGO_SEC(3600), count_fired, &fired, &watchdog);
	run_burst(loop, &ca, burst_n());
	run_for(loop, RINGO_SEC(3));
	assert_true(ringo_handle_pending(watchdog));
	assert_true(ca.live_bytes <= idle + 128 * 1024);
	assert_int_equal(ringo_handle_cancel(watchdog), 0);
	test_loop_free(loop, &ca);
}

static void test_steady_timers_keep_their_memory(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	/* A steady load of 64 timers alive at all times, each re-armed as it
	 * fires: once warm, the tables neither grow nor shrink. */
	long fired = 0;
	for (int i = 0; i < 64; i++)
		ringo_call_later(loop, RINGO_MSEC(i), count_fired, &fired, NULL);
	ringo_call_later(loop, RINGO_MSEC(64), stop_cb, loop, NULL);
	ringo_loop_run_forever(loop);
	long allocs = 0;
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 64; i++)
			ringo_call_later(loop, RINGO_MSEC(i), count_fired, &fired, NULL);
		ringo_call_later(loop, RINGO_MSEC(64), stop_cb, loop, NULL);
		long before = ca.attempts;
		ringo_loop_run_forever(loop);
		if (round >= 10)
			allocs += ca.attempts - before;
	}
	assert_int_equal(fired, 51 * 64);
	/* The wheel moves on by 65 slots a round, reaching fresh slots until
	 * it wraps (about 16 rounds): only those allocate, a few bytes each. */
	assert_true(allocs < 40 * 64);
	test_loop_free(loop, &ca);
}

static void test_handles_of_a_closed_loop_read_as_already_done(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_handle soon, later;
	assert_int_equal(ringo_call_soon(loop, say, "x", &soon), 0);
	assert_int_equal(ringo_call_later(loop, RINGO_SEC(10), say, "y", &later), 0);
	assert_int_equal(ringo_loop_close(loop), 0);
	/* Dropped by close: they will not run, and a cancel is a no-op. */
	assert_false(ringo_handle_pending(soon));
	assert_false(ringo_handle_pending(later));
	assert_int_equal(ringo_handle_cancel(soon), -EALREADY);
	assert_int_equal(ringo_handle_cancel(later), -EALREADY);
	test_loop_free(loop, &ca);
}

/* ---- ported from CPython's test_base_events.py / test_events.py ---- */

static void test_call_later_negative_delays(void **state)
{
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK)};
	ringo_loop_stop(c.loop);
	ringo_loop_run_forever(c.loop);
	struct tagged a = {&c, "a"}, b = {&c, "b"}, end = {&c, "end"};
	ringo_call_later(c.loop, -1, say, &a, NULL);
	ringo_call_later(c.loop, -2, say, &b, NULL);
	ringo_call_later(c.loop, 0, say_stop, &end, NULL);
	assert_int_equal(ringo_loop_run_forever(c.loop), 0);
	/* A negative delay is a deadline in the past: the earlier runs first. */
	assert_string_equal(c.log.buf, "b a end");
	test_loop_free(c.loop, &ca);
}

static void test_time_and_call_at(void **state)
{
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK)};
	struct tagged end = {&c, "end"};
	int64_t when = ringo_loop_time_ns(c.loop) + RINGO_MSEC(100);
	ringo_call_at(c.loop, when, say_stop, &end, NULL);
	int64_t t0 = ringo_loop_time_ns(c.loop);
	ringo_loop_run_forever(c.loop);
	assert_int_equal(ringo_loop_time_ns(c.loop) - t0, RINGO_MSEC(100));
	assert_true(ringo_loop_time(c.loop) >= 0.1);
	test_loop_free(c.loop, &ca);
}

static void test__run_once(void **state)
{
	/* A cancelled timer earlier than the live one does not set how long
	 * the loop waits: virtual time jumps straight to the live one. */
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK)};
	struct tagged h1 = {&c, "h1"}, h2 = {&c, "h2"};
	ringo_handle handle;
	ringo_call_later(c.loop, RINGO_SEC(5), say, &h1, &handle);
	ringo_call_later(c.loop, RINGO_SEC(10), say_stop, &h2, NULL);
	assert_int_equal(ringo_handle_cancel(handle), 0);
	ringo_loop_run_forever(c.loop);
	assert_string_equal(c.log.buf, "h2");
	assert_int_equal(ringo_loop_time_ns(c.loop), RINGO_SEC(10));
	test_loop_free(c.loop, &ca);
}

static void schedule_soon(void *arg)
{
	struct tagged *t = arg;
	log_add(&t->c->log, "timer");
	ringo_call_soon(t->c->loop, say, t + 1, &t->c->h[0]);
	ringo_loop_stop(t->c->loop);
}

static void test__run_once_schedule_handle(void **state)
{
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK)};
	struct tagged t[2] = {{&c, "t"}, {&c, "soon"}};
	ringo_call_later(c.loop, -RINGO_SEC(1), schedule_soon, t, NULL);
	ringo_loop_run_forever(c.loop);
	/* Processed, and what it scheduled waits for the next iteration. */
	assert_string_equal(c.log.buf, "timer");
	assert_true(ringo_handle_pending(c.h[0]));
	ringo_loop_stop(c.loop);
	ringo_loop_run_forever(c.loop);
	assert_string_equal(c.log.buf, "timer soon");
	test_loop_free(c.loop, &ca);
}

static void test_handle_cancel(void **state)
{
	/* HandleTests: a cancelled handle reads as such; a second cancel is a
	 * no-op; the callback never runs. */
	struct counting_allocator ca;
	struct ctx c = {.loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK)};
	struct tagged a = {&c, "a"}, b = {&c, "b"}, end = {&c, "end"};
	ringo_handle ha, hb;
	ringo_call_soon(c.loop, say, &a, &ha);
	ringo_call_later(c.loop, RINGO_SEC(1), say, &b, &hb);
	assert_true(ringo_handle_pending(ha));
	assert_true(ringo_handle_pending(hb));
	assert_int_equal(ringo_handle_cancel(ha), 0);
	assert_int_equal(ringo_handle_cancel(hb), 0);
	assert_false(ringo_handle_pending(ha));
	assert_false(ringo_handle_pending(hb));
	assert_int_equal(ringo_handle_cancel(ha), -EALREADY);
	assert_int_equal(ringo_handle_cancel(hb), -EALREADY);
	ringo_call_later(c.loop, RINGO_SEC(2), say_stop, &end, NULL);
	ringo_loop_run_forever(c.loop);
	assert_string_equal(c.log.buf, "end");
	test_loop_free(c.loop, &ca);
}

/* ---- handles stay exact while the tables grow and shrink ---- */

enum { T_PENDING = 1, T_FIRED, T_CANCELLED };

struct model {
	ringo_loop *loop;
	ringo_handle *h;
	unsigned char *st;
	size_t n, cap;
	size_t fired;
};

static struct model *g_model;

static void model_fire(void *arg)
{
	struct model *m = g_model;
	size_t i = (size_t)(uintptr_t)arg;
	assert_int_equal(m->st[i], T_PENDING);
	m->st[i] = T_FIRED;
	m->fired++;
	/* Now and then a callback cancels another pending timer. */
	size_t j = (size_t)rand() % m->n;
	if (i % 7 == 0 && m->st[j] == T_PENDING) {
		assert_int_equal(ringo_handle_cancel(m->h[j]), 0);
		m->st[j] = T_CANCELLED;
	}
}

static void model_add(struct model *m, int64_t delay)
{
	size_t i = m->n++;
	assert_true(i < m->cap);
	assert_int_equal(ringo_call_later(m->loop, delay, model_fire, (void *)(uintptr_t)i, &m->h[i]),
			 0);
	m->st[i] = T_PENDING;
}

static void model_check(struct model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		bool pending = m->st[i] == T_PENDING;
		assert_int_equal(ringo_handle_pending(m->h[i]), pending);
		if (!pending)
			assert_int_equal(ringo_handle_cancel(m->h[i]), -EALREADY);
	}
}

static void test_timer_handles_stay_exact_while_tables_grow_and_shrink(void **state)
{
	struct counting_allocator ca;
	struct model m = {.loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK)};
	bool vg = getenv("RINGO_UNDER_VALGRIND") != NULL;
	const size_t waves[] = {50000, 10, 20000, 0, 3000, 40000, 5, 0};
	m.cap = 0;
	for (size_t w = 0; w < sizeof(waves) / sizeof(waves[0]); w++)
		m.cap += (vg ? waves[w] / 10 : waves[w]) + 100;
	m.h = calloc(m.cap, sizeof(*m.h));
	m.st = calloc(m.cap, 1);
	g_model = &m;
	srand(11);
	ringo_handle keeper;
	/* A long timer registered mid-burst sits in a high slot: shrinking
	 * must wait for it, and its handle must stay valid meanwhile. */
	bool keeper_live = false;
	for (size_t w = 0; w < sizeof(waves) / sizeof(waves[0]); w++) {
		size_t k = vg ? waves[w] / 10 : waves[w];
		for (size_t i = 0; i < k; i++) {
			model_add(&m, (int64_t)(rand() % 2000) * RINGO_USEC(500));
			if (w == 0 && i == k / 2) {
				ringo_call_later(m.loop, RINGO_SEC(3600), model_fire, NULL, &keeper);
				keeper_live = true;
			}
		}
		/* Cancel about half of what is pending. */
		for (size_t i = 0; i < m.n; i++)
			if (m.st[i] == T_PENDING && rand() % 2) {
				assert_int_equal(ringo_handle_cancel(m.h[i]), 0);
				m.st[i] = T_CANCELLED;
			}
		model_check(&m);
		/* Run half a second or a second and a half: some fire. */
		ringo_call_later(m.loop, (w % 2 ? 3 : 1) * RINGO_MSEC(500), stop_cb, m.loop, NULL);
		ringo_loop_run_forever(m.loop);
		model_check(&m);
		if (keeper_live)
			assert_true(ringo_handle_pending(keeper));
	}
	assert_int_equal(ringo_handle_cancel(keeper), 0);
	ringo_call_later(m.loop, RINGO_SEC(2), stop_cb, m.loop, NULL);
	ringo_loop_run_forever(m.loop);
	model_check(&m);
	for (size_t i = 0; i < m.n; i++)
		assert_true(m.st[i] != T_PENDING);
	free(m.h);
	free(m.st);
	test_loop_free(m.loop, &ca);
}

/* The callback table grows by a pointer array and a chunk: when the
 * chunk's allocation fails, the grown array must not be freed later with
 * its old size (a sized allocator then loses track of bytes). */
static void nothing(void *arg)
{
}

static void test_call_soon_out_of_memory_growing_the_table_leaks_nothing(void **state)
{
	for (long k = 1; k <= 2; k++) {
		struct counting_allocator ca;
		ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
		ca.attempts = 0;
		ca.fail_at = k; /* 1: the array; 2: the chunk */
		assert_int_equal(ringo_call_soon(loop, nothing, NULL, NULL), -ENOMEM);
		ca.fail_at = 0;
		assert_int_equal(ringo_call_soon(loop, nothing, NULL, NULL), 0);
		test_loop_free(loop, &ca);
	}
}

/* Out of memory while the timer wheel moves a slot's timers into its
 * near heap (when the loop asks for the next deadline): the timers stay
 * on the wheel, and the loop must still wake for them rather than sleep
 * as if there were none. */
static void stop_at(void *arg)
{
	ringo_loop *loop = ringo_loop_current();
	*(int64_t *)arg = ringo_loop_time_ns(loop);
	ringo_loop_stop(loop);
}

static void test_timer_fires_when_memory_runs_out_moving_it(void **state)
{
	alarm(20); /* before the fix the loop slept forever: fail, do not hang */
	for (long k = 1; k <= 8; k++) {
		struct counting_allocator ca;
		ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
		int64_t fired = -1;
		assert_int_equal(ringo_call_later(loop, RINGO_MSEC(5), stop_at, &fired, NULL), 0);
		ca.attempts = 0;
		ca.fail_at = k;
		assert_int_equal(ringo_loop_run_forever(loop), 0);
		ca.fail_at = 0;
		assert_int_equal(fired, RINGO_MSEC(5));
		test_loop_free(loop, &ca);
	}
	alarm(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_call_soon_is_fifo),
		cmocka_unit_test(test_seed_call_later_order),
		cmocka_unit_test(test_call_later_zero_runs_after_call_soon),
		cmocka_unit_test(test_equal_deadlines_fire_in_registration_order),
		cmocka_unit_test(test_past_deadline_runs_next_iteration_after_queued_callbacks),
		cmocka_unit_test(test_seed_call_at_times),
		cmocka_unit_test(test_cancel_soon_and_timer),
		cmocka_unit_test(test_cancel_from_an_earlier_callback_of_the_same_batch),
		cmocka_unit_test(test_cancel_inside_own_callback_is_ealready),
		cmocka_unit_test(test_bogus_handles_are_einval),
		cmocka_unit_test(test_many_random_timers_with_cancellation),
		cmocka_unit_test(test_cancelling_most_timers_keeps_memory_bounded),
		cmocka_unit_test(test_timer_memory_goes_back_to_idle_after_a_burst),
		cmocka_unit_test(test_timer_memory_stays_a_while_then_goes_back),
		cmocka_unit_test(test_a_second_timer_burst_allocates_nothing),
		cmocka_unit_test(test_idle_real_clock_loop_gives_timer_memory_back),
		cmocka_unit_test(test_timer_memory_shrinks_while_other_timers_stay),
		cmocka_unit_test(test_steady_timers_keep_their_memory),
		cmocka_unit_test(test_handles_of_a_closed_loop_read_as_already_done),
		cmocka_unit_test(test_call_later_negative_delays),
		cmocka_unit_test(test_time_and_call_at),
		cmocka_unit_test(test__run_once),
		cmocka_unit_test(test__run_once_schedule_handle),
		cmocka_unit_test(test_handle_cancel),
		cmocka_unit_test(test_timer_handles_stay_exact_while_tables_grow_and_shrink),
		cmocka_unit_test(test_call_soon_out_of_memory_growing_the_table_leaks_nothing),
		cmocka_unit_test(test_timer_fires_when_memory_runs_out_moving_it),
	};
	/* RINGO_TEST_FILTER=pattern runs only the matching tests. */
	if (getenv("RINGO_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RINGO_TEST_FILTER"));
	return cmocka_run_group_tests_name("callback", tests, NULL, NULL);
}
