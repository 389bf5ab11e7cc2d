/*
 * fiber.c - fiber set-up, teardown and the sanitizer-annotated switch.
 *
 * The plain switch is inline in fiber.h.  Under ASan/TSan every switch is
 * wrapped: ASan must be told which stack we move to (start_switch_fiber) and
 * that we arrived (finish_switch_fiber), TSan which fiber now runs.  To let
 * the arriving side finish the ASan protocol, the value that crosses the
 * switch is the departing fiber itself; the real transfer value (and the
 * fiber being resumed, for fiber_start) travel in its hop_* fields.  The
 * arriving side reads them at once, before anyone can switch again.
 */
#include "fiber.h"
#include "ringo.h" /* ringo_allocator */

#include <errno.h>
#include <stdint.h>

#ifdef RINGO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef RINGO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#if defined(__has_include)
# if __has_include(<valgrind/valgrind.h>)
#  include <valgrind/valgrind.h>
#  define RINGO_VALGRIND 1
# endif
# if __has_include(<valgrind/memcheck.h>)
#  include <valgrind/memcheck.h>
#  define RINGO_MEMCHECK 1
# endif
#endif

void ringo__fiber_init_thread(ringo__fiber *f)
{
	RINGO_ASSERT(f != NULL);
	*f = (ringo__fiber){ .is_thread = 1 };
#ifdef RINGO_TSAN
	f->tsan_fiber = __tsan_get_current_fiber();
#endif
}

#ifdef RINGO_FIBER_ANNOTATED
static void fiber_start(void *transfer);
#endif

int ringo__fiber_init(ringo__fiber *f, void *stack_lo, void *stack_hi,
		      ringo__fiber_entry *entry)
{
	uintptr_t lo = (uintptr_t)stack_lo, hi = (uintptr_t)stack_hi;

	/* Room for the initial frame plus a little; anything smaller is a
	 * caller bug, but it is cheap to report rather than corrupt. */
	if (!entry || !stack_lo || hi <= lo || hi - lo < 256)
		return -EINVAL;
	*f = (ringo__fiber){ .stack_lo = stack_lo, .stack_hi = stack_hi,
			     .entry = entry };
#ifdef RINGO_ASAN
	/* A reused stack still carries the shadow of the frames its last
	 * fiber abandoned when it exited; start clean. */
	__asan_unpoison_memory_region(stack_lo, (size_t)(hi - lo));
#endif
#ifdef RINGO_TSAN
	f->tsan_fiber = __tsan_create_fiber(0);
	if (!f->tsan_fiber)
		return -ENOMEM;
#endif
#ifdef RINGO_VALGRIND
	f->valgrind_stack_id = VALGRIND_STACK_REGISTER(stack_lo, stack_hi);
#endif
#ifdef RINGO_FIBER_ANNOTATED
	f->sp = ringo__ctx_make(stack_hi, fiber_start);
#else
	f->sp = ringo__ctx_make(stack_hi, entry);
#endif
	RINGO_ASSERT(((uintptr_t)f->sp & 15) == 0);
	RINGO_ASSERT((uintptr_t)f->sp > lo && (uintptr_t)f->sp < hi);
	return 0;
}

void ringo__fiber_destroy(ringo__fiber *f)
{
	if (f->is_thread)
		return;
#ifdef RINGO_TSAN
	if (f->tsan_fiber) {
		/* libtsan reads uninitialised trace state when a fiber that
		 * never recorded an event is destroyed (fixed upstream in LLVM
		 * commit cdfdb06c9155, Dec 2025): make it current once first.
		 * A task cancelled before its first step hits exactly this. */
		void *cur = __tsan_get_current_fiber();

		__tsan_switch_to_fiber(f->tsan_fiber, 0);
		__tsan_switch_to_fiber(cur, 0);
		__tsan_destroy_fiber(f->tsan_fiber);
	}
#endif
#ifdef RINGO_VALGRIND
	if (f->valgrind_stack_id)
		VALGRIND_STACK_DEREGISTER(f->valgrind_stack_id);
#endif
#ifdef RINGO_TSAN
	f->tsan_fiber = NULL;
#endif
	f->valgrind_stack_id = 0;
	f->sp = NULL;
}

#ifndef RINGO_FIBER_ANNOTATED

void ringo__fiber_exit_to(ringo__fiber *from, ringo__fiber *to,
			  void *transfer)
{
	ringo__ctx_switch(&from->sp, to->sp, transfer);
	RINGO_ASSERT(!"a finished fiber was resumed");
	abort();
}

#else /* RINGO_FIBER_ANNOTATED */

/*
 * Tell the sanitizers we are about to leave `from` for `to`.  A NULL
 * fake-stack slot tells ASan `from` is gone for good.
 *
 * always_inline matters: TSan instruments every function with a push on
 * entry and a pop on exit of the *current* fiber's shadow stack.  Were
 * this a real call, its entry would push on `from`'s stack and its exit
 * pop `to`'s, underflowing a fresh fiber's shadow stack.  Inlined into
 * ringo__fiber_switch, entry and exit both happen while `from` runs.
 */
__attribute__((always_inline)) static inline void before_switch(ringo__fiber *from, ringo__fiber *to, bool final)
{
#ifdef RINGO_ASAN
	const void *bottom = to->stack_lo;
	size_t size = (size_t)((char *)to->stack_hi - (char *)to->stack_lo);

	if (!bottom) {
		bottom = to->asan_from_bottom;
		size = to->asan_from_size;
	}
	__sanitizer_start_switch_fiber(final ? NULL : &from->asan_fake_stack,
				       bottom, size);
#else
	(void)from;
	(void)final;
#endif
#ifdef RINGO_TSAN
	__tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
}

/* Arrived from fiber `in`; record its stack bounds as ASan saw them. */
__attribute__((always_inline)) static inline void after_switch(void *fake_stack, ringo__fiber *in)
{
#ifdef RINGO_ASAN
	__sanitizer_finish_switch_fiber(fake_stack, &in->asan_from_bottom,
					&in->asan_from_size);
#else
	(void)fake_stack;
	(void)in;
#endif
}

static void fiber_start(void *transfer)
{
	ringo__fiber *in = transfer;
	ringo__fiber *self = in->hop_to;

	after_switch(NULL, in);
	self->entry(in->hop_transfer);
	ringo__ctx_entry_returned();
}

void *ringo__fiber_switch(ringo__fiber *from, ringo__fiber *to,
			  void *transfer)
{
	ringo__fiber *in;

	RINGO_ASSERT(from != to);
	RINGO_ASSERT(to->sp != NULL);
	from->hop_to = to;
	from->hop_transfer = transfer;
	before_switch(from, to, false);
	in = ringo__ctx_switch(&from->sp, to->sp, from);
	after_switch(from->asan_fake_stack, in);
	return in->hop_transfer;
}

void ringo__fiber_exit_to(ringo__fiber *from, ringo__fiber *to,
			  void *transfer)
{
	RINGO_ASSERT(from != to);
	RINGO_ASSERT(to->sp != NULL);
	from->hop_to = to;
	from->hop_transfer = transfer;
	before_switch(from, to, true);
	ringo__ctx_switch(&from->sp, to->sp, from);
	RINGO_ASSERT(!"a finished fiber was resumed");
	abort();
}

#endif /* RINGO_FIBER_ANNOTATED */

/* ---- allocations away from a small stack ---- */

struct alloc_call {
	const ringo_allocator *a;
	int op;
	void *ptr;
	size_t old_size, size;
};

static void *alloc_call_run(void *arg)
{
	struct alloc_call *c = arg;

	switch (c->op) {
	case RINGO__ALLOC_NEW:
		return c->a->alloc(c->a->ctx, c->size);
	case RINGO__ALLOC_RESIZE:
		return c->a->realloc(c->a->ctx, c->ptr, c->old_size, c->size);
	default:
		c->a->free(c->a->ctx, c->ptr, c->old_size);
		return NULL;
	}
}

/* Room a call away may use, for memcheck's sake (below). */
#define AWAY_ROOM (64 * 1024)

void *ringo__fiber_away_stack(void *const *away_sp)
{
	RINGO_ASSERT(*away_sp != NULL);
	/* Below the suspended fiber's saved registers, past any red zone,
	 * aligned as a call site needs. */
	uintptr_t sp = ((uintptr_t)*away_sp - 256) & ~(uintptr_t)15;
#ifdef RINGO_MEMCHECK
	/* Memcheck takes the jump there for a stack switch, and holds what
	 * lies below that stack's last pointer unaddressable. */
	if (RUNNING_ON_VALGRIND)
		VALGRIND_MAKE_MEM_UNDEFINED((void *)(sp - AWAY_ROOM), AWAY_ROOM);
#endif
	return (void *)sp;
}

void *ringo__fiber_alloc_away(void *const *away_sp, const struct ringo_allocator *allocator,
			      int op, void *ptr, size_t old_size, size_t size)
{
	struct alloc_call c = { allocator, op, ptr, old_size, size };

	return ringo__ctx_call_on(alloc_call_run, &c, ringo__fiber_away_stack(away_sp));
}
