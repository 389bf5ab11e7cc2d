/* test_stack.c - the slab stack pool, guard modes, overflow reports. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fiber.h"
#include "stack.h"

#if defined(__has_include)
# if __has_include(<valgrind/valgrind.h>)
#  include <valgrind/valgrind.h>
# endif
#endif
#ifndef RUNNING_ON_VALGRIND
# define RUNNING_ON_VALGRIND 0
#endif

static long count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	long n = 0;
	int c;

	assert_non_null(f);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* True if reading addr faults: the kernel reports EFAULT instead. */
static bool unreadable(const void *addr)
{
	int fds[2];
	bool r;
	char c;

	assert_int_equal(pipe(fds), 0);
	r = write(fds[1], addr, 1) < 0 && errno == EFAULT;
	if (!r)
		assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	close(fds[1]);
	return r;
}

static bool page_resident(void *addr)
{
	unsigned char v = 0;
	long page = sysconf(_SC_PAGESIZE);
	void *p = (void *)((uintptr_t)addr & ~(uintptr_t)(page - 1));

	assert_int_equal(mincore(p, (size_t)page, &v), 0);
	return v & 1;
}

static bool have_madv_guard(void)
{
	struct ringo__stack_probe pr;

	ringo__stack_probe_info(&pr);
	return pr.madv_guard;
}

static void pool_with(ringo__stack_pool *p, int mode, size_t keep_hot,
		      size_t slab_stacks)
{
	struct ringo__stack_options o = { .guard_mode = mode,
					  .keep_hot = keep_hot,
					  .slab_stacks = slab_stacks };

	assert_int_equal(ringo__stack_pool_init(p, &o), 0);
}

/* ---- reuse ------------------------------------------------------------- */

static void free_then_alloc_returns_same_stack(void **state)
{
	ringo__stack_pool p;
	ringo__stack a, b, c, d;

	(void)state;
	pool_with(&p, RINGO__GUARD_AUTO, 0, 0);
	assert_int_equal(ringo__stack_alloc(&p, &a), 0);
	assert_int_equal(ringo__stack_alloc(&p, &b), 0);
	void *a_lo = a.lo, *b_lo = b.lo;
	ringo__stack_free(&p, &a);
	ringo__stack_free(&p, &b);
	assert_int_equal(ringo__stack_alloc(&p, &c), 0);
	assert_int_equal(ringo__stack_alloc(&p, &d), 0);
	assert_ptr_equal(c.lo, b_lo);	/* last freed comes back first */
	assert_ptr_equal(d.lo, a_lo);
	ringo__stack_free(&p, &c);
	ringo__stack_free(&p, &d);
	ringo__stack_pool_destroy(&p);
}

static void defaults_are_64k_page_aligned_and_untouched(void **state)
{
	ringo__stack_pool p;
	ringo__stack s;
	struct ringo__stack_stats st;

	(void)state;
	assert_int_equal(ringo__stack_pool_init(&p, NULL), 0);
	assert_int_equal(ringo__stack_alloc(&p, &s), 0);
	assert_int_equal((char *)s.hi - (char *)s.lo, 64 * 1024);
	assert_int_equal((uintptr_t)s.hi % (uintptr_t)sysconf(_SC_PAGESIZE), 0);
	if (s.guard != RINGO__GUARD_CANARY)
		assert_false(page_resident((char *)s.hi - 1));
	ringo__stack_pool_stats(&p, &st);
	assert_int_equal(st.stacks_live, 1);
	assert_int_equal(st.slabs, 1);
	ringo__stack_free(&p, &s);
	ringo__stack_pool_destroy(&p);
}

static void bad_options_are_rejected(void **state)
{
	ringo__stack_pool p;
	struct ringo__stack_options o = { .guard_mode = 42 };

	(void)state;
	assert_int_equal(ringo__stack_pool_init(&p, &o), -EINVAL);
}

/* ---- scale --------------------------------------------------------------- */

static void many_stacks_use_few_mappings(void **state)
{
	size_t n = RUNNING_ON_VALGRIND ? 10000 : 100000;
	ringo__stack_pool p;
	ringo__stack *s;
	long before, after;

	(void)state;
	if (!have_madv_guard())
		skip();
	s = calloc(n, sizeof(*s));
	assert_non_null(s);
	before = count_maps();	/* after calloc: its mapping is not ours */
	pool_with(&p, RINGO__GUARD_MADV, 0, 4096);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ringo__stack_alloc(&p, &s[i]), 0);
	after = count_maps();
#ifdef RINGO_FIBER_ANNOTATED
	/* ASan/TSan map shadow for each new slab: a few maps per slab, still
	 * nothing per stack. */
	struct ringo__stack_stats st;
	ringo__stack_pool_stats(&p, &st);
	assert_true((size_t)(after - before) <= 30 + 8 * st.slabs);
#else
	assert_true(after - before <= 30);
#endif
	assert_true(unreadable((char *)s[n - 1].lo - 1));
	for (size_t i = 0; i < n; i++)
		ringo__stack_free(&p, &s[i]);
	ringo__stack_pool_destroy(&p);
	free(s);
}

static void memory_is_returned_past_keep_hot(void **state)
{
	enum { HOT = 4, N = 64 };
	ringo__stack_pool p;
	ringo__stack s[N];
	void *top[N];
	struct ringo__stack_stats st;

	(void)state;
	pool_with(&p, RINGO__GUARD_AUTO, HOT, 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(ringo__stack_alloc(&p, &s[i]), 0);
		top[i] = (char *)s[i].hi - 64;
		memset(top[i], 1, 64);
	}
	for (int i = 0; i < N; i++) {
		assert_true(page_resident(top[i]));
		ringo__stack_free(&p, &s[i]);
	}
	/* Freed just now: a first trim keeps them (a burst may come back). */
	assert_true(ringo__stack_trim_wanted(&p));
	assert_int_equal(ringo__stack_trim(&p), 0);
	/* Reuse a few between trims: those stay hot, the idle ones go. */
	ringo__stack again[2];
	assert_int_equal(ringo__stack_alloc(&p, &again[0]), 0);
	assert_int_equal(ringo__stack_alloc(&p, &again[1]), 0);
	ringo__stack_free(&p, &again[1]);
	ringo__stack_free(&p, &again[0]);
	assert_int_equal(ringo__stack_trim(&p), N - 2 - HOT);
	assert_true(ringo__stack_trim_wanted(&p)); /* the 2 reused, above keep_hot */
	/* The least recently freed gave their memory back; the rest stay. */
	int resident = 0;
	for (int i = 0; i < N; i++) {
		assert_int_equal(page_resident(top[i]), i >= N - 2 - HOT);
		resident += page_resident(top[i]);
	}
	assert_int_equal(resident, HOT + 2);
	ringo__stack_pool_stats(&p, &st);
	assert_int_equal(st.stacks_hot, HOT + 2);
	assert_int_equal(st.stacks_free, N);
	/* Idle through one more period: down to keep_hot. */
	assert_int_equal(ringo__stack_trim(&p), 2);
	assert_false(ringo__stack_trim_wanted(&p));
	ringo__stack_pool_stats(&p, &st);
	assert_int_equal(st.stacks_hot, HOT);
	ringo__stack_pool_destroy(&p);
}

/* ---- guard modes ------------------------------------------------------- */

static void madv_guard_survives_dontneed(void **state)
{
	ringo__stack_pool p;
	ringo__stack s, t;
	struct ringo__stack_probe pr;

	(void)state;
	if (!have_madv_guard())
		skip();
	ringo__stack_probe_info(&pr);
	assert_true(pr.guard_survives_dontneed);
	long before = count_maps();
	pool_with(&p, RINGO__GUARD_MADV, 1, 0);
	assert_int_equal(ringo__stack_alloc(&p, &s), 0);
	assert_int_equal(ringo__stack_alloc(&p, &t), 0);
	assert_int_equal(s.guard, RINGO__GUARD_MADV);
	void *guard = (char *)s.lo - 1;
	assert_true(unreadable(guard));
	assert_false(unreadable(s.lo));
	ringo__stack_free(&p, &t);
	ringo__stack_free(&p, &s);	/* past keep_hot: MADV_DONTNEED */
	assert_true(unreadable(guard));
	assert_true(count_maps() - before <= 1);
	ringo__stack_pool_destroy(&p);
}

static void mprotect_guard_is_unreadable(void **state)
{
	ringo__stack_pool p;
	ringo__stack s;
	struct ringo__stack_stats st;

	(void)state;
	pool_with(&p, RINGO__GUARD_MPROTECT, 0, 0);
	assert_int_equal(ringo__stack_alloc(&p, &s), 0);
	assert_int_equal(s.guard, RINGO__GUARD_MPROTECT);
	assert_true(unreadable((char *)s.lo - 1));
	assert_false(unreadable(s.lo));
	ringo__stack_pool_stats(&p, &st);
	assert_int_equal(st.guards_mprotect, 1);
	ringo__stack_free(&p, &s);
	ringo__stack_pool_destroy(&p);
}

static void mprotect_budget_falls_back_to_canary(void **state)
{
	ringo__stack_pool p;
	ringo__stack s[4];
	struct ringo__stack_probe pr;

	(void)state;
	ringo__stack_probe_info(&pr);
	ringo__stack_test_set_budget(2);
	pool_with(&p, RINGO__GUARD_MPROTECT, 0, 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(ringo__stack_alloc(&p, &s[i]), 0);
	assert_int_equal(s[1].guard, RINGO__GUARD_MPROTECT);
	assert_int_equal(s[2].guard, RINGO__GUARD_CANARY);
	assert_true(ringo__stack_canary_ok(&s[3]));
	for (int i = 0; i < 4; i++)
		ringo__stack_free(&p, &s[i]);
	ringo__stack_pool_destroy(&p);
	ringo__stack_probe_info(&pr);	/* destroy gave the 2 guards back */
	assert_int_equal(pr.mprotect_budget, 2);
	ringo__stack_test_set_budget(1000);
}

static void canary_detects_clobber(void **state)
{
	ringo__stack_pool p;
	ringo__stack s;

	(void)state;
	pool_with(&p, RINGO__GUARD_CANARY, 1, 0);
	assert_int_equal(ringo__stack_alloc(&p, &s), 0);
	assert_int_equal(s.guard, RINGO__GUARD_CANARY);
	assert_true(ringo__stack_canary_ok(&s));
	((volatile char *)s.lo)[3] ^= 0x40;
	assert_false(ringo__stack_canary_ok(&s));
	ringo__stack_free(&p, &s);
	/* A reused stack gets a fresh canary. */
	assert_int_equal(ringo__stack_alloc(&p, &s), 0);
	assert_true(ringo__stack_canary_ok(&s));
	ringo__stack_free(&p, &s);
	ringo__stack_pool_destroy(&p);
}

static void guard_none_leaves_page_readable(void **state)
{
	ringo__stack_pool p;
	ringo__stack s;

	(void)state;
	pool_with(&p, RINGO__GUARD_NONE, 0, 0);
	assert_int_equal(ringo__stack_alloc(&p, &s), 0);
	assert_int_equal(s.guard, RINGO__GUARD_NONE);
	assert_false(unreadable((char *)s.lo - 1));
	assert_true(ringo__stack_canary_ok(&s));
	ringo__stack_free(&p, &s);
	ringo__stack_pool_destroy(&p);
}

static void thread_init_is_idempotent(void **state)
{
	(void)state;
	assert_int_equal(ringo__stack_thread_init(), 0);
	assert_int_equal(ringo__stack_thread_init(), 0);
	ringo__stack_thread_fini();
}

/* ---- the compact class: packed stacks, one guard below the slab -------- */

static void compact_pool_packs_stacks_side_by_side(void **state)
{
	struct ringo__stack_options o = { .compact = true, .stack_size = 1000 };
	ringo__stack_pool p;
	ringo__stack s[3];
	struct ringo__stack_stats st;

	(void)state;
	assert_int_equal(ringo__stack_pool_init(&p, &o), 0);
	assert_int_equal(p.stack_size, 1024);	/* rounded up to 64 bytes */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ringo__stack_alloc(&p, &s[i]), 0);
		assert_true(s[i].compact);
		assert_int_equal(s[i].guard, RINGO__GUARD_CANARY);
		assert_true(ringo__stack_canary_ok(&s[i]));
		assert_int_equal((uintptr_t)s[i].hi & 15, 0);
		assert_int_equal((char *)s[i].hi - (char *)s[i].lo, 1024);
	}
	/* No page between them: each starts where the one before ends. */
	assert_ptr_equal(s[1].lo, s[0].hi);
	assert_ptr_equal(s[2].lo, s[1].hi);
	/* The page below the slab is a guard (where the kernel gives one). */
	if (have_madv_guard())
		assert_true(unreadable((char *)s[0].lo - 1));
	/* A write that runs off the top of stack 0 clobbers stack 1's
	 * canary, and the check sees it. */
	memset((char *)s[1].lo, 0x5a, 16);
	assert_false(ringo__stack_canary_ok(&s[1]));
	ringo__stack_pool_stats(&p, &st);
	assert_int_equal(st.guards_canary, 3);
	assert_int_equal(st.stacks_live, 3);
	for (int i = 0; i < 3; i++)
		ringo__stack_free(&p, &s[i]);
	/* A reused stack gets its canary again. */
	assert_int_equal(ringo__stack_alloc(&p, &s[0]), 0);
	assert_true(ringo__stack_canary_ok(&s[0]));
	ringo__stack_free(&p, &s[0]);
	ringo__stack_pool_destroy(&p);
}

/* A fresh compact stack comes with the slab's next pages faulted in
 * (MADV_POPULATE_WRITE), so the stacks after it take no page faults. */
static void compact_pool_populates_a_chunk_ahead(void **state)
{
	struct ringo__stack_options o = { .compact = true, .stack_size = 1024 };
	ringo__stack_pool p;
	ringo__stack s;

	(void)state;
	if (RUNNING_ON_VALGRIND)
		skip();	/* mincore sees valgrind's view of the pages */
	assert_int_equal(ringo__stack_pool_init(&p, &o), 0);
	assert_int_equal(ringo__stack_alloc(&p, &s), 0);
	/* Never written: resident only because it was populated. */
	assert_true(page_resident((char *)s.hi + 16 * 1024));
	ringo__stack_free(&p, &s);
	ringo__stack_pool_destroy(&p);
}

static void compact_pool_refuses_guard_modes_and_tiny_stacks(void **state)
{
	struct ringo__stack_options o = { .compact = true, .stack_size = 1024,
					  .guard_mode = RINGO__GUARD_MPROTECT };
	ringo__stack_pool p;

	(void)state;
	assert_int_equal(ringo__stack_pool_init(&p, &o), -EINVAL);
	o.guard_mode = RINGO__GUARD_AUTO;
	o.stack_size = 0;
	assert_int_equal(ringo__stack_pool_init(&p, &o), -EINVAL);
}

/* Trimming packed stacks gives back only pages no live stack shares. */
static void compact_trim_keeps_pages_a_live_stack_shares(void **state)
{
	struct ringo__stack_options o = { .compact = true, .stack_size = 1024,
					  .keep_hot = 1 };
	long page = sysconf(_SC_PAGESIZE);
	enum { N = 64 };
	ringo__stack_pool p;
	ringo__stack s[N];
	char *lo[N];	/* free clears s[i] */
	int live = -1;

	(void)state;
	if (RUNNING_ON_VALGRIND)
		skip();	/* mincore sees valgrind's view of the pages */
	assert_int_equal(ringo__stack_pool_init(&p, &o), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(ringo__stack_alloc(&p, &s[i]), 0);
		memset((char *)s[i].hi - 64, i + 1, 64);
		lo[i] = s[i].lo;
	}
	/* Keep one stack in the middle of a page, free the rest. */
	for (int i = N / 2; i < N; i++)
		if (((uintptr_t)s[i].lo & (uintptr_t)(page - 1)) != 0) {
			live = i;
			break;
		}
	assert_true(live > 0);
	for (int i = 0; i < N; i++)
		if (i != live)
			ringo__stack_free(&p, &s[i]);
	ringo__stack_trim(&p);	/* sets the low-water mark */
	assert_true(ringo__stack_trim(&p) > 0);
	/* The live stack's data and page stay; a page wholly made of free
	 * stacks far from it went back. */
	assert_true(page_resident(s[live].lo));
	assert_int_equal(((unsigned char *)s[live].hi)[-1], live + 1);
	int gone = 0;
	for (int i = 0; i < N; i++)
		if ((uintptr_t)lo[i] / (uintptr_t)page !=
		    (uintptr_t)lo[live] / (uintptr_t)page &&
		    !page_resident(lo[i]))
			gone++;
	assert_true(gone > 0);
	ringo__stack_free(&p, &s[live]);
	ringo__stack_pool_destroy(&p);
}

/* ---- a real overflow, in a child --------------------------------------- */

struct fake_task {		/* what the task module keeps at the top */
	char name[16];
};

static const char *name_of(void *stack_hi, bool compact)
{
	(void)compact;
	return ((struct fake_task *)stack_hi - 1)->name;
}

static ringo__fiber child_sched, child_fiber;
static volatile int never;

static long dive(long depth)
{
	volatile char frame[256];

	frame[0] = (char)depth;
	if (depth == never)
		return 0;
	return dive(depth + 1) + frame[0];
}

static void entry_overflows(void *transfer)
{
	long r = dive(1);
	ringo__fiber_exit_to(&child_fiber, &child_sched, transfer ? (void *)r : 0);
}

/* mode -1: a compact pool's lowest stack, which runs into the page below
 * its slab. */
__attribute__((noreturn)) static void overflow_child(int mode)
{
	ringo__stack_pool p;
	ringo__stack s;
	struct ringo__stack_options o = { .guard_mode = mode };

	if (mode < 0)
		o = (struct ringo__stack_options){ .compact = true,
						   .stack_size = 4096 };
	struct fake_task *t;

	never = -1;
	if (ringo__stack_thread_init() || ringo__stack_pool_init(&p, &o) ||
	    ringo__stack_alloc(&p, &s))
		_exit(3);
	t = (struct fake_task *)s.hi - 1;
	strcpy(t->name, "overflower");
	ringo__stack_set_reporter(name_of);
	ringo__fiber_init_thread(&child_sched);
	if (ringo__fiber_init(&child_fiber, s.lo, t, entry_overflows))
		_exit(4);
	ringo__fiber_switch(&child_sched, &child_fiber, &p);
	_exit(5);	/* the overflow never returns */
}

static void expect_overflow_report(int mode)
{
	int fds[2], status;
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		overflow_child(mode);
	}
	close(fds[1]);
	while (len < sizeof(buf) - 1 &&
	       (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = 0;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
		fail_msg("child status %#x, stderr: %s", status, buf);
	assert_non_null(strstr(buf, "stack overflow in task 'overflower'"));
}

static void overflow_into_madv_guard_is_reported(void **state)
{
	(void)state;
	if (!have_madv_guard())
		skip();
	expect_overflow_report(RINGO__GUARD_MADV);
}

static void overflow_into_mprotect_guard_is_reported(void **state)
{
	(void)state;
	expect_overflow_report(RINGO__GUARD_MPROTECT);
}

static void overflow_of_a_compact_slab_into_its_guard_is_reported(void **state)
{
	(void)state;
	if (!have_madv_guard())
		skip();
	expect_overflow_report(-1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(free_then_alloc_returns_same_stack),
		cmocka_unit_test(defaults_are_64k_page_aligned_and_untouched),
		cmocka_unit_test(bad_options_are_rejected),
		cmocka_unit_test(many_stacks_use_few_mappings),
		cmocka_unit_test(memory_is_returned_past_keep_hot),
		cmocka_unit_test(madv_guard_survives_dontneed),
		cmocka_unit_test(mprotect_guard_is_unreadable),
		cmocka_unit_test(mprotect_budget_falls_back_to_canary),
		cmocka_unit_test(canary_detects_clobber),
		cmocka_unit_test(guard_none_leaves_page_readable),
		cmocka_unit_test(thread_init_is_idempotent),
		cmocka_unit_test(overflow_into_madv_guard_is_reported),
		cmocka_unit_test(overflow_into_mprotect_guard_is_reported),
		cmocka_unit_test(compact_pool_packs_stacks_side_by_side),
		cmocka_unit_test(compact_pool_populates_a_chunk_ahead),
		cmocka_unit_test(compact_pool_refuses_guard_modes_and_tiny_stacks),
		cmocka_unit_test(compact_trim_keeps_pages_a_live_stack_shares),
		cmocka_unit_test(overflow_of_a_compact_slab_into_its_guard_is_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
