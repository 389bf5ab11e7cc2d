/*
 * fiber.h - execution contexts for ringo tasks (internal).
 *
 * A fiber is a saved stack pointer plus the bounds of its stack and the
 * bookkeeping that AddressSanitizer, ThreadSanitizer and Valgrind need to
 * follow a stack switch.  It owns no memory: the stack comes from stack.c
 * (or is the thread's own stack, for the scheduler fiber).
 *
 * In a plain build ringo__fiber_switch is one call to the assembly switch.
 * Under ASan or TSan it becomes an out-of-line function in fiber.c that
 * tells the sanitizer about each switch.
 */
#ifndef RINGO_FIBER_H
#define RINGO_FIBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "base.h" /* RINGO_ASSERT */

#if defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define RINGO_ASAN 1
# endif
# if __has_feature(thread_sanitizer)
#  define RINGO_TSAN 1
# endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(RINGO_ASAN)
# define RINGO_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(RINGO_TSAN)
# define RINGO_TSAN 1
#endif
#if defined(RINGO_ASAN) || defined(RINGO_TSAN)
# define RINGO_FIBER_ANNOTATED 1
#endif

/* Assembly primitives, runtime/arch/<arch>/switch.S. */

/* Save callee-saved state on the current stack, store the stack pointer in
 * *save_sp, continue on load_sp.  Returns, in the resumed context, the
 * transfer value given by whoever switches back to it. */
void *ringo__ctx_switch(void **save_sp, void *load_sp, void *transfer);

/* The same switch for two contexts suspended at the same call site (two
 * tasks, both in the scheduler's switch_out): it returns with ret, which
 * the return-stack predictor gets right in that case. */
void *ringo__ctx_switch_peer(void **save_sp, void *load_sp, void *transfer);

/* Prepare a context at the top of a stack; the first switch into the
 * returned stack pointer calls entry(transfer).  entry must not return.
 * Writes about 80 (x86-64) or 176 (aarch64) bytes just below stack_hi. */
void *ringo__ctx_make(void *stack_hi, void (*entry)(void *transfer));

/* Call fn(arg) with the stack pointer at sp (16-byte aligned, room below
 * it), then return to the caller's stack with fn's result. */
void *ringo__ctx_call_on(void *(*fn)(void *), void *arg, void *sp);

/* A call into an allocator (ringo.h's ringo_allocator) made on another
 * stack: the idle stack below *away_sp, a suspended fiber's saved stack
 * pointer (the loop thread's, while a compact task runs). A compact
 * task's stack has room for ringo's own frames, not for malloc's. */
enum { RINGO__ALLOC_NEW, RINGO__ALLOC_RESIZE, RINGO__ALLOC_FREE };
/* The stack pointer for ringo__ctx_call_on below *away_sp (and, under
 * valgrind, that stack's room made addressable). */
void *ringo__fiber_away_stack(void *const *away_sp);
struct ringo_allocator; /* ringo.h */
void *ringo__fiber_alloc_away(void *const *away_sp, const struct ringo_allocator *allocator,
			      int op, void *ptr, size_t old_size, size_t size);

/* If an entry function returns, the assembly calls
 * ringo__ctx_entry_returned (base.h), which aborts. */

typedef void ringo__fiber_entry(void *transfer);

typedef struct ringo__fiber {
	/* Saved stack pointer while suspended; garbage while running. */
	void *sp;
	/* Usable stack [stack_lo, stack_hi).  NULL for a thread fiber whose
	 * bounds are not known (see asan_from_* below). */
	void *stack_lo;
	void *stack_hi;
	/* Entry function; only used by the annotated start path. */
	ringo__fiber_entry *entry;
	/* Valgrind: id from VALGRIND_STACK_REGISTER, 0 if not registered. */
	unsigned valgrind_stack_id;
	/* 1 for the fiber made by ringo__fiber_init_thread. */
	unsigned char is_thread;
#ifdef RINGO_FIBER_ANNOTATED
	/* Sanitizer bookkeeping, absent from plain builds (a task record
	 * stays a cache line smaller). */
	/* ASan: fake stack saved while this fiber is suspended. */
	void *asan_fake_stack;
	/* ASan: bounds of this fiber's stack as ASan reported them when we
	 * last switched away from it; lets a thread fiber, whose bounds we
	 * never computed, be switched back to. */
	const void *asan_from_bottom;
	size_t asan_from_size;
	/* TSan: fiber handle (the thread's own for a thread fiber). */
	void *tsan_fiber;
	/* While this fiber is switching away, the
	 * fiber it resumes and the transfer value.  They live here, not on
	 * the stack, because ASan may free the departing frame's fake stack
	 * before the arriving side reads them. */
	struct ringo__fiber *hop_to;
	void *hop_transfer;
#endif
} ringo__fiber;

/* Describe the calling thread's own stack (the scheduler) as a fiber.
 * Allocates nothing; ringo__fiber_destroy on it is a no-op. */
void ringo__fiber_init_thread(ringo__fiber *f);

/* Make a fiber on [stack_lo, stack_hi); the first switch into it calls
 * entry(transfer) on that stack.  entry must end with ringo__fiber_exit_to
 * (or otherwise never return).  The stack memory stays owned by the caller
 * and must outlive the fiber.  Returns 0 or -EINVAL (bad bounds), -ENOMEM. */
int ringo__fiber_init(ringo__fiber *f, void *stack_lo, void *stack_hi,
		      ringo__fiber_entry *entry);

/* Final switch out of a finished fiber.  Never returns; the fiber must not
 * be switched to again, only destroyed (from another fiber). */
__attribute__((noreturn)) void ringo__fiber_exit_to(ringo__fiber *from,
						   ringo__fiber *to,
						   void *transfer);

/* Release sanitizer/valgrind state.  Call after the fiber's last switch,
 * from another fiber. */
void ringo__fiber_destroy(ringo__fiber *f);

#ifdef RINGO_FIBER_ANNOTATED
void *ringo__fiber_switch(ringo__fiber *from, ringo__fiber *to,
			  void *transfer);
#define ringo__fiber_switch_peer ringo__fiber_switch
#else
/* A switch between two fibers that suspend through the same call site
 * (see ringo__ctx_switch_peer); otherwise as ringo__fiber_switch. */
static inline void *ringo__fiber_switch_peer(ringo__fiber *from, ringo__fiber *to,
					     void *transfer)
{
	return ringo__ctx_switch_peer(&from->sp, to->sp, transfer);
}

/* Suspend `from` (the running fiber) and resume `to`, handing it
 * `transfer`.  Returns the transfer value given when `from` is resumed. */
static inline void *ringo__fiber_switch(ringo__fiber *from, ringo__fiber *to,
					void *transfer)
{
	return ringo__ctx_switch(&from->sp, to->sp, transfer);
}
#endif

#endif /* RINGO_FIBER_H */
