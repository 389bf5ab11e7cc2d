/*
 * fiber_aarch64_main.c - self-checking switch test for targets without
 * cmocka (built static for aarch64 and run under qemu-user by
 * `make -f mk/fiber.mk aarch64-test`).  Prints one PASS line or fails
 * with the first broken check.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fiber.h"
#include "stack.h"

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__,	\
				__LINE__, #cond);			\
			exit(1);					\
		}							\
	} while (0)

static ringo__stack_pool pool;
static ringo__fiber sched, fib;
static ringo__stack stk;

static void start(ringo__fiber *f, ringo__stack *s, ringo__fiber_entry *e)
{
	CHECK(ringo__stack_alloc(&pool, s) == 0);
	CHECK(ringo__fiber_init(f, s->lo, s->hi, e) == 0);
}

static void finish(ringo__fiber *f, ringo__stack *s)
{
	ringo__fiber_destroy(f);
	ringo__stack_free(&pool, s);
}

/* transfer values both ways, first transfer reaches entry */
static void entry_doubles(void *t)
{
	uintptr_t v = (uintptr_t)t;

	while (v)
		v = (uintptr_t)ringo__fiber_switch(&fib, &sched, (void *)(v * 2));
	ringo__fiber_exit_to(&fib, &sched, (void *)0xdead);
}

static void test_transfer(void)
{
	start(&fib, &stk, entry_doubles);
	for (uintptr_t i = 1; i < 1000; i++)
		CHECK((uintptr_t)ringo__fiber_switch(&sched, &fib, (void *)i) == 2 * i);
	CHECK(ringo__fiber_switch(&sched, &fib, NULL) == (void *)0xdead);
	finish(&fib, &stk);
}

/* callee-saved x19-x28 and d8-d15 */
static volatile long seed = 7;
static volatile double dseed = 0.5;

static void mix(ringo__fiber *self, ringo__fiber *other, int rounds)
{
	long a = seed, b = seed * 3, c = seed * 5, d = seed * 7, e = seed * 11,
	     f = seed * 13, g = seed * 17, h = seed * 19, i2 = seed * 23,
	     j = seed * 29, k = seed * 31;
	double x = dseed, y = dseed * 2, z = dseed * 3, w = dseed * 4,
	       u = dseed * 5, v = dseed * 6, s = dseed * 7, t = dseed * 8,
	       q = dseed * 9;

	for (int r = 0; r < rounds; r++) {
		ringo__fiber_switch(self, other, NULL);
		a++; b++; c++; d++; e++; f++; g++; h++; i2++; j++; k++;
		x++; y++; z++; w++; u++; v++; s++; t++; q++;
	}
	long sd = seed, n = rounds;
	double dd = dseed;
	CHECK(a == sd + n && b == sd * 3 + n && c == sd * 5 + n);
	CHECK(d == sd * 7 + n && e == sd * 11 + n && f == sd * 13 + n);
	CHECK(g == sd * 17 + n && h == sd * 19 + n && i2 == sd * 23 + n);
	CHECK(j == sd * 29 + n && k == sd * 31 + n);
	CHECK(x == dd + n && y == dd * 2 + n && z == dd * 3 + n);
	CHECK(w == dd * 4 + n && u == dd * 5 + n && v == dd * 6 + n);
	CHECK(s == dd * 7 + n && t == dd * 8 + n && q == dd * 9 + n);
}

static void entry_mix(void *t)
{
	mix(&fib, &sched, (int)(intptr_t)t);
	ringo__fiber_exit_to(&fib, &sched, NULL);
}

static void test_callee_saved(void)
{
	start(&fib, &stk, entry_mix);
	ringo__fiber_switch(&sched, &fib, (void *)50);
	mix(&sched, &fib, 50);
	finish(&fib, &stk);
}

/* FPCR is per fiber */
static unsigned long fpcr_get(void)
{
	unsigned long v;

	__asm__ volatile("mrs %0, fpcr" : "=r"(v));
	return v;
}

static unsigned long fiber_fpcr;

static void entry_fpcr(void *t)
{
	unsigned long v = (fpcr_get() & ~(3ul << 22)) | (1ul << 22);

	(void)t;
	__asm__ volatile("msr fpcr, %0" : : "r"(v));
	ringo__fiber_switch(&fib, &sched, NULL);
	fiber_fpcr = fpcr_get();
	ringo__fiber_exit_to(&fib, &sched, NULL);
}

static void test_fpcr(void)
{
	unsigned long mine = fpcr_get();

	start(&fib, &stk, entry_fpcr);
	ringo__fiber_switch(&sched, &fib, NULL);
	CHECK(fpcr_get() == mine);
	ringo__fiber_switch(&sched, &fib, NULL);
	CHECK(((fiber_fpcr >> 22) & 3) == 1);
	CHECK(fpcr_get() == mine);
	finish(&fib, &stk);
}

/* 1000 fibers round robin */
#define N 1000
static ringo__fiber many[N];
static ringo__stack many_s[N];
static int counts[N];

static void entry_count(void *t)
{
	int id = (int)(intptr_t)t;

	for (int r = 0; r < 10; r++) {
		counts[id]++;
		ringo__fiber_switch(&many[id], &sched, NULL);
	}
	ringo__fiber_exit_to(&many[id], &sched, (void *)-1);
}

static void test_round_robin(void)
{
	for (int i = 0; i < N; i++)
		start(&many[i], &many_s[i], entry_count);
	for (int r = 0; r <= 10; r++)
		for (int i = 0; i < N; i++) {
			void *t = ringo__fiber_switch(&sched, &many[i],
						      (void *)(intptr_t)i);
			CHECK(t == (r == 10 ? (void *)-1 : NULL));
			CHECK(counts[i] == (r < 10 ? r + 1 : 10));
		}
	for (int i = 0; i < N; i++)
		finish(&many[i], &many_s[i]);
}

/* deep recursion */
static volatile int sink;

static long recurse(int depth)
{
	volatile char frame[128];

	frame[0] = (char)depth;
	if (depth == 0)
		return frame[0];
	return recurse(depth - 1) + frame[0] + sink;
}

static void entry_recurse(void *t)
{
	long r = recurse((int)(intptr_t)t);
	ringo__fiber_exit_to(&fib, &sched, (void *)r);
}

static void test_recursion(void)
{
	long expect = 0;

	for (int d = 300; d >= 0; d--)
		expect += (char)d;
	start(&fib, &stk, entry_recurse);
	CHECK((long)(intptr_t)ringo__fiber_switch(&sched, &fib,
						  (void *)300) == expect);
	finish(&fib, &stk);
}

static void test_lifo(void)
{
	ringo__stack a, b;

	CHECK(ringo__stack_alloc(&pool, &a) == 0);
	void *lo = a.lo;
	ringo__stack_free(&pool, &a);
	CHECK(ringo__stack_alloc(&pool, &b) == 0);
	CHECK(b.lo == lo);
	ringo__stack_free(&pool, &b);
}

/* ringo__ctx_call_on: fn runs with sp inside the given stack, returns its
 * value, and the caller's callee-saved state survives. */
static volatile uintptr_t seen_sp;

static void *on_other_stack(void *arg)
{
	volatile char here = 0;
	seen_sp = (uintptr_t)&here;
	return (void *)((uintptr_t)arg * 3);
}

static void test_call_on(void)
{
	static char area[16384] __attribute__((aligned(16)));
	long a = seed, b = seed * 2;
	double d = dseed;

	for (uintptr_t i = 1; i < 100; i++) {
		void *r = ringo__ctx_call_on(on_other_stack, (void *)i, area + sizeof(area));
		CHECK((uintptr_t)r == 3 * i);
		CHECK(seen_sp > (uintptr_t)area && seen_sp < (uintptr_t)area + sizeof(area));
	}
	CHECK(a == seed && b == seed * 2 && d == dseed);
}

/* A compact pool: packed stacks a fiber can run on. */
static void test_compact(void)
{
	struct ringo__stack_options o = { .compact = true, .stack_size = 4096 };
	ringo__stack_pool cp;
	ringo__stack s[2];

	CHECK(ringo__stack_pool_init(&cp, &o) == 0);
	CHECK(ringo__stack_alloc(&cp, &s[0]) == 0);
	CHECK(ringo__stack_alloc(&cp, &s[1]) == 0);
	CHECK(s[1].lo == s[0].hi && s[0].compact);
	CHECK(ringo__fiber_init(&fib, s[1].lo, s[1].hi, entry_doubles) == 0);
	CHECK((uintptr_t)ringo__fiber_switch(&sched, &fib, (void *)21) == 42);
	CHECK(ringo__fiber_switch(&sched, &fib, NULL) == (void *)0xdead);
	ringo__fiber_destroy(&fib);
	CHECK(ringo__stack_canary_ok(&s[1]));
	ringo__stack_free(&cp, &s[0]);
	ringo__stack_free(&cp, &s[1]);
	ringo__stack_pool_destroy(&cp);
}

int main(void)
{
	struct ringo__stack_options o = { .stack_size = 64 * 1024 };

	CHECK(ringo__stack_pool_init(&pool, &o) == 0);
	ringo__fiber_init_thread(&sched);
	test_transfer();
	test_callee_saved();
	test_fpcr();
	test_round_robin();
	test_recursion();
	test_lifo();
	test_call_on();
	test_compact();
	ringo__stack_pool_destroy(&pool);
	printf("PASS fiber aarch64: transfer, callee-saved, fpcr, "
	       "1000-fiber round robin, recursion, LIFO stacks, call_on, "
	       "compact stacks\n");
	return 0;
}
