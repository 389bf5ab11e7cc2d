/* test_fiber.c - context switch and fiber behaviour. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>

#include "fiber.h"
#include "stack.h"

/* One pool for the whole file keeps each test short. */
static ringo__stack_pool pool;

static int setup(void **state)
{
	struct ringo__stack_options o = { .stack_size = 256 * 1024 };

	(void)state;
	return ringo__stack_pool_init(&pool, &o);
}

static int teardown(void **state)
{
	(void)state;
	ringo__stack_pool_destroy(&pool);
	return 0;
}

/* A fiber with its stack, for tests. */
struct tfiber {
	ringo__fiber f;
	ringo__stack s;
};

static ringo__fiber sched;	/* the test thread, as a fiber */

static void tfiber_start(struct tfiber *t, ringo__fiber_entry *entry)
{
	assert_int_equal(ringo__stack_alloc(&pool, &t->s), 0);
	assert_int_equal(ringo__fiber_init(&t->f, t->s.lo, t->s.hi, entry), 0);
}

static void tfiber_end(struct tfiber *t)
{
	ringo__fiber_destroy(&t->f);
	ringo__stack_free(&pool, &t->s);
}

/* ---- first transfer and ping-pong ------------------------------------ */

static struct tfiber t1;
static void *first_seen;

static void entry_records_transfer(void *transfer)
{
	first_seen = transfer;
	ringo__fiber_exit_to(&t1.f, &sched, (void *)0x5a);
}

static void entry_receives_first_transfer(void **state)
{
	int marker;

	(void)state;
	ringo__fiber_init_thread(&sched);
	tfiber_start(&t1, entry_records_transfer);
	void *back = ringo__fiber_switch(&sched, &t1.f, &marker);
	assert_ptr_equal(first_seen, &marker);
	assert_ptr_equal(back, (void *)0x5a);
	tfiber_end(&t1);
}

static void entry_doubles(void *transfer)
{
	uintptr_t v = (uintptr_t)transfer;

	while (v != 0)
		v = (uintptr_t)ringo__fiber_switch(&t1.f, &sched,
						   (void *)(v * 2));
	ringo__fiber_exit_to(&t1.f, &sched, (void *)(uintptr_t)0xdead);
}

static void switch_passes_transfer_both_ways(void **state)
{
	(void)state;
	ringo__fiber_init_thread(&sched);
	tfiber_start(&t1, entry_doubles);
	for (uintptr_t i = 1; i < 1000; i++) {
		void *r = ringo__fiber_switch(&sched, &t1.f, (void *)i);
		assert_int_equal((uintptr_t)r, 2 * i);
	}
	assert_int_equal((uintptr_t)ringo__fiber_switch(&sched, &t1.f, NULL),
			 0xdead);
	tfiber_end(&t1);
}

/* ---- callee-saved state --------------------------------------------- */

static volatile long seed = 3;
static volatile double dseed = 1.25;

/* More live values than caller-saved registers, so -O2 must keep some in
 * callee-saved integer and (on aarch64) d8-d15 registers across the call. */
static long mix_across_switches(ringo__fiber *self, ringo__fiber *other,
				int rounds)
{
	long a = seed, b = seed * 3, c = seed * 5, d = seed * 7, e = seed * 11,
	     f = seed * 13, g = seed * 17, h = seed * 19;
	double x = dseed, y = dseed * 2, z = dseed * 3, w = dseed * 4,
	       u = dseed * 5, v = dseed * 6, s = dseed * 7, t = dseed * 8;

	for (int i = 0; i < rounds; i++) {
		ringo__fiber_switch(self, other, NULL);
		a += 1; b += 2; c += 3; d += 4; e += 5; f += 6; g += 7; h += 8;
		x += 1; y += 2; z += 3; w += 4; u += 5; v += 6; s += 7; t += 8;
	}
	long n = rounds, sd = seed;
	double dd = dseed;
	assert_int_equal(a, sd + n);
	assert_int_equal(b, sd * 3 + 2 * n);
	assert_int_equal(c, sd * 5 + 3 * n);
	assert_int_equal(d, sd * 7 + 4 * n);
	assert_int_equal(e, sd * 11 + 5 * n);
	assert_int_equal(f, sd * 13 + 6 * n);
	assert_int_equal(g, sd * 17 + 7 * n);
	assert_int_equal(h, sd * 19 + 8 * n);
	assert_true(x == dd + n && y == dd * 2 + 2 * n);
	assert_true(z == dd * 3 + 3 * n && w == dd * 4 + 4 * n);
	assert_true(u == dd * 5 + 5 * n && v == dd * 6 + 6 * n);
	assert_true(s == dd * 7 + 7 * n && t == dd * 8 + 8 * n);
	return a + h;
}

static void entry_mixes(void *transfer)
{
	mix_across_switches(&t1.f, &sched, (int)(intptr_t)transfer);
	ringo__fiber_exit_to(&t1.f, &sched, NULL);
}

static void callee_saved_registers_survive_switches(void **state)
{
	(void)state;
	ringo__fiber_init_thread(&sched);
	tfiber_start(&t1, entry_mixes);
	ringo__fiber_switch(&sched, &t1.f, (void *)100);
	/* The fiber is now parked inside its loop; run ours against it. */
	mix_across_switches(&sched, &t1.f, 100);
	tfiber_end(&t1);
}

#if defined(__x86_64__) && !defined(RINGO_FIBER_ANNOTATED)
/*
 * Register-exact check: load known patterns into every callee-saved
 * register, switch to a fiber that trashes them and switches back, and
 * report (non-zero) any register that did not come back.  Plain builds
 * only: it calls the raw switch, which sanitizers must not see.
 */
unsigned long regs_switch_check(void **save_sp, void *load_sp);
__asm__(
	".text\n"
	".p2align 4\n"
	"regs_switch_check:\n"
	"	push %rbp\n push %rbx\n push %r12\n push %r13\n"
	"	push %r14\n push %r15\n sub $8, %rsp\n"
	"	movabs $0x1111111111111111, %rbx\n"
	"	movabs $0x2222222222222222, %rbp\n"
	"	movabs $0x3333333333333333, %r12\n"
	"	movabs $0x4444444444444444, %r13\n"
	"	movabs $0x5555555555555555, %r14\n"
	"	movabs $0x6666666666666666, %r15\n"
	"	xor %edx, %edx\n"
	"	call ringo__ctx_switch\n"
	"	xor %eax, %eax\n"
	"	movabs $0x1111111111111111, %rcx\n xor %rcx, %rbx\n or %rbx, %rax\n"
	"	movabs $0x2222222222222222, %rcx\n xor %rcx, %rbp\n or %rbp, %rax\n"
	"	movabs $0x3333333333333333, %rcx\n xor %rcx, %r12\n or %r12, %rax\n"
	"	movabs $0x4444444444444444, %rcx\n xor %rcx, %r13\n or %r13, %rax\n"
	"	movabs $0x5555555555555555, %rcx\n xor %rcx, %r14\n or %r14, %rax\n"
	"	movabs $0x6666666666666666, %rcx\n xor %rcx, %r15\n or %r15, %rax\n"
	"	add $8, %rsp\n pop %r15\n pop %r14\n pop %r13\n pop %r12\n"
	"	pop %rbx\n pop %rbp\n ret\n");

static void entry_trashes_registers(void *t)
{
	for (;;) {
		__asm__ volatile("mov $-1, %%rbx\n mov $-1, %%r12\n"
				 "mov $-1, %%r13\n mov $-1, %%r14\n"
				 "mov $-1, %%r15"
				 : : : "rbx", "r12", "r13", "r14", "r15");
		t = ringo__fiber_switch(&t1.f, &sched, t);
	}
}

static void callee_saved_registers_exact(void **state)
{
	(void)state;
	ringo__fiber_init_thread(&sched);
	tfiber_start(&t1, entry_trashes_registers);
	for (int i = 0; i < 3; i++)
		assert_int_equal(regs_switch_check(&sched.sp, t1.f.sp), 0);
	tfiber_end(&t1);	/* parked forever in its loop: just drop it */
}
#else
static void callee_saved_registers_exact(void **state)
{
	(void)state;
	skip();		/* x86-64 plain builds only */
}
#endif

/* The FP control state, read without libm: MXCSR + x87 control word on
 * x86-64, FPCR on aarch64. */
static unsigned long fp_control(void)
{
#if defined(__x86_64__)
	unsigned int mxcsr;
	unsigned short cw;

	__asm__ volatile("stmxcsr %0; fnstcw %1" : "=m"(mxcsr), "=m"(cw));
	return (unsigned long)mxcsr << 16 | cw;
#elif defined(__aarch64__)
	unsigned long fpcr;

	__asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
	return fpcr;
#endif
}

/* Switch rounding to "upward" in both the SSE and x87 units. */
static void fp_round_upward(void)
{
#if defined(__x86_64__)
	unsigned int mxcsr;
	unsigned short cw;

	__asm__ volatile("stmxcsr %0; fnstcw %1" : "=m"(mxcsr), "=m"(cw));
	mxcsr = (mxcsr & ~0x6000u) | 0x4000u;
	cw = (unsigned short)((cw & ~0x0c00u) | 0x0800u);
	__asm__ volatile("ldmxcsr %0; fldcw %1" : : "m"(mxcsr), "m"(cw));
#elif defined(__aarch64__)
	unsigned long fpcr = (fp_control() & ~(3ul << 22)) | (1ul << 22);

	__asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
#endif
}

static unsigned long fiber_fp, fiber_fp_set;

static void entry_sets_rounding(void *transfer)
{
	(void)transfer;
	fp_round_upward();
	fiber_fp_set = fp_control();
	ringo__fiber_switch(&t1.f, &sched, NULL);
	fiber_fp = fp_control();
	fp_round_upward();	/* harmless; restored by the switch out */
	ringo__fiber_exit_to(&t1.f, &sched, NULL);
}

static void fp_control_word_is_per_fiber(void **state)
{
	unsigned long mine = fp_control();

	(void)state;
	ringo__fiber_init_thread(&sched);
	tfiber_start(&t1, entry_sets_rounding);
	ringo__fiber_switch(&sched, &t1.f, NULL);
	assert_int_equal(fp_control(), mine);
	assert_true(fiber_fp_set != mine);
	ringo__fiber_switch(&sched, &t1.f, NULL);
	assert_int_equal(fiber_fp, fiber_fp_set);
	assert_int_equal(fp_control(), mine);
	tfiber_end(&t1);
}

/* ---- many fibers ------------------------------------------------------ */

#define NFIBERS 1000
#define ROUNDS 20

static struct tfiber many[NFIBERS];
static int counts[NFIBERS];

static void entry_counts(void *transfer)
{
	int id = (int)(intptr_t)transfer;

	for (int r = 0; r < ROUNDS; r++) {
		counts[id]++;
		ringo__fiber_switch(&many[id].f, &sched, NULL);
	}
	ringo__fiber_exit_to(&many[id].f, &sched, (void *)-1);
}

static void thousand_fibers_round_robin(void **state)
{
	(void)state;
	ringo__fiber_init_thread(&sched);
	for (int i = 0; i < NFIBERS; i++)
		tfiber_start(&many[i], entry_counts);
	for (int r = 0; r <= ROUNDS; r++) {
		for (int i = 0; i < NFIBERS; i++) {
			void *t = ringo__fiber_switch(&sched, &many[i].f,
						      (void *)(intptr_t)i);
			assert_true(t == (r == ROUNDS ? (void *)-1 : NULL));
			assert_int_equal(counts[i], r < ROUNDS ? r + 1 : ROUNDS);
		}
	}
	for (int i = 0; i < NFIBERS; i++)
		tfiber_end(&many[i]);
}

/* ---- deep recursion ---------------------------------------------------- */

static volatile int sink;

static long recurse(int depth)
{
	volatile char frame[128];

	frame[0] = (char)depth;
	if (depth == 0)
		return frame[0];
	return recurse(depth - 1) + frame[0] + sink;
}

static void entry_recurses(void *transfer)
{
	long r = recurse((int)(intptr_t)transfer);
	ringo__fiber_exit_to(&t1.f, &sched, (void *)r);
}

static void deep_recursion_on_fiber_stack(void **state)
{
	long expect = 0;

	(void)state;
	for (int d = 1000; d >= 0; d--)
		expect += (char)d;
	ringo__fiber_init_thread(&sched);
	tfiber_start(&t1, entry_recurses);
	void *r = ringo__fiber_switch(&sched, &t1.f, (void *)(intptr_t)1000);
	assert_int_equal((long)(intptr_t)r, expect);
	tfiber_end(&t1);
}

/* A task cancelled before its first step: made, never run, destroyed. */
static void fiber_destroyed_before_first_switch(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++) {
		tfiber_start(&t1, entry_doubles);
		tfiber_end(&t1);
	}
}

static void init_rejects_bad_bounds(void **state)
{
	ringo__fiber f;
	char buf[64];

	(void)state;
	assert_int_equal(ringo__fiber_init(&f, buf, buf + sizeof(buf),
					   entry_doubles), -EINVAL);
	assert_int_equal(ringo__fiber_init(&f, buf + 8, buf, entry_doubles),
			 -EINVAL);
}

/* ringo__ctx_call_on: fn runs on the given stack and returns its value;
 * the caller's own frame is untouched. */
static volatile uintptr_t seen_sp;

static void *times_three_on_other_stack(void *arg)
{
	volatile char here = 0;
	seen_sp = (uintptr_t)&here;
	return (void *)((uintptr_t)arg * 3);
}

static void call_on_runs_on_the_given_stack(void **state)
{
	static char area[16384] __attribute__((aligned(16)));
	volatile long mine = 12345;

	(void)state;
	for (uintptr_t i = 1; i < 100; i++) {
		void *r = ringo__ctx_call_on(times_three_on_other_stack, (void *)i,
					     area + sizeof(area));
		assert_int_equal((uintptr_t)r, 3 * i);
		assert_true(seen_sp > (uintptr_t)area &&
			    seen_sp < (uintptr_t)area + sizeof(area));
	}
	assert_int_equal(mine, 12345);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(entry_receives_first_transfer),
		cmocka_unit_test(switch_passes_transfer_both_ways),
		cmocka_unit_test(callee_saved_registers_survive_switches),
		cmocka_unit_test(callee_saved_registers_exact),
		cmocka_unit_test(fp_control_word_is_per_fiber),
		cmocka_unit_test(thousand_fibers_round_robin),
		cmocka_unit_test(deep_recursion_on_fiber_stack),
		cmocka_unit_test(fiber_destroyed_before_first_switch),
		cmocka_unit_test(init_rejects_bad_bounds),
		cmocka_unit_test(call_on_runs_on_the_given_stack),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
