/*
 * stack.h - task stacks at scale (internal).
 *
 * Stacks are carved from large MAP_NORESERVE slabs (never one mmap per
 * stack: vm.max_map_count would stop us near 32K tasks).  Each slot is a
 * guard page followed by the usable stack:
 *
 *   slab: [guard|stack 0][guard|stack 1] ... [guard|stack N-1]
 *
 * A compact pool (the opt-in class for tasks that only wait) packs small
 * stacks with no page between them: one guard page below the whole slab,
 * and a canary word at each stack's bottom, checked whenever its task
 * switches out:
 *
 *   slab: [guard|stack 0|stack 1|stack 2| ... |stack N-1]
 *
 * Memory is committed by the first touch only; free stacks are reused LIFO
 * (hottest first) and, when they stay idle past keep_hot free stacks,
 * given back with MADV_DONTNEED by ringo__stack_trim.  A pool belongs to one thread (one loop); the slab
 * registry used by the overflow reporter is process-global.
 */
#ifndef RINGO_STACK_H
#define RINGO_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How the page below each stack is protected. */
enum ringo__guard_mode {
	RINGO__GUARD_AUTO = 0,	/* best available: MADV, else MPROTECT, else CANARY */
	RINGO__GUARD_MADV,	/* MADV_GUARD_INSTALL (Linux 6.13+), no extra VMA */
	RINGO__GUARD_MPROTECT,	/* mprotect(PROT_NONE); 2 VMAs each, budgeted */
	RINGO__GUARD_CANARY,	/* word at the stack bottom, checked at switch-out */
	RINGO__GUARD_NONE,	/* nothing */
};

struct ringo__stack_options {
	size_t stack_size;	/* usable bytes; 0 = 64 KiB; rounded up to pages */
	size_t keep_hot;	/* free stacks kept committed; 0 = 64 */
	int guard_mode;		/* enum ringo__guard_mode; AUTO probes */
	size_t slab_stacks;	/* slots per slab reservation; 0 = 1024 */
	bool compact;		/* packed, no page between stacks: stack_size
				 * is rounded up to 64 bytes only, every slot
				 * is CANARY (guard_mode must be AUTO) */
};

typedef struct ringo__stack {
	void *lo;		/* usable region is [lo, hi); the canary, if any, is at lo */
	void *hi;		/* 16-byte aligned; the task keeps its struct just below */
	uint32_t slot;		/* pool-wide slot index, for ringo__stack_free */
	uint8_t guard;		/* enum ringo__guard_mode actually protecting this stack */
	bool compact;		/* from a compact pool: packed, canary only */
} ringo__stack;

/* Per-slab record kept by the pool. */
struct ringo__stack_slab {
	char *base;		/* start of the mapping (guard of slot 0) */
	int reg;		/* index in the process-wide registry, -1 if none */
	bool guarded;		/* every slot's MADV guard installed at creation */
	uint8_t base_guard;	/* compact: how the page at base is guarded */
};

typedef struct ringo__stack_pool {
	size_t page;		/* system page size */
	size_t stack_size;	/* usable bytes per stack, page multiple
				 * (compact: a multiple of 64) */
	size_t stride;		/* stack_size + one guard page (compact:
				 * stack_size; the slab starts with a guard) */
	bool compact;
	uint32_t slab_stacks;	/* slots per slab */
	uint32_t keep_hot;	/* max free stacks kept committed */
	uint8_t guard_mode;	/* resolved mode for newly carved slots */
	struct ringo__stack_slab *slabs;	/* nslabs entries */
	uint32_t nslabs;
	/* Free slot ids, one array of cap entries: hot (committed) ones grow
	 * up from ids[0], cold (returned with MADV_DONTNEED) ones grow down
	 * from ids[cap-1].  Both are LIFO. */
	uint32_t *ids;
	/* Per carved slot: guard kind (low 7 bits) | SLOT_LIVE bit. */
	uint8_t *slot_state;
	uint32_t cap;		/* nslabs * slab_stacks */
	uint32_t carved;	/* slots [0, carved) were handed out at least once */
	uint32_t nhot, ncold, nlive;
	uint32_t low_water;	/* fewest hot stacks since the last trim */
	uint32_t guards[5];	/* carved slots per guard kind (index = mode) */
	/* Compact pools: slab fill_slab is populated (its pages faulted in
	 * with MADV_POPULATE_WRITE) up to the address filled, from where
	 * carving reached. */
	uintptr_t filled;
	uint32_t fill_slab;
} ringo__stack_pool;

struct ringo__stack_stats {
	size_t reserved_bytes;	/* address space reserved by slabs */
	size_t stacks_live;	/* allocated and not freed */
	size_t stacks_free;	/* free, hot + cold */
	size_t stacks_hot;	/* free and still committed */
	size_t stacks_carved;	/* slots ever handed out */
	size_t slabs;
	int guard_kind;		/* mode used for new slots */
	size_t guards_madv, guards_mprotect, guards_canary, guards_none;
};

/* What the once-per-process probe found. */
struct ringo__stack_probe {
	bool madv_guard;		/* MADV_GUARD_INSTALL works */
	bool guard_survives_dontneed;	/* and a guard outlives MADV_DONTNEED */
	long max_map_count;		/* vm.max_map_count, or -1 */
	long mprotect_budget;		/* mprotect guards still allowed */
};

/* 0, -EINVAL (bad options, or a forced mode the kernel lacks), -ENOMEM.
 * o may be NULL for defaults.  Also installs the overflow reporter
 * (once per process). */
int ringo__stack_pool_init(ringo__stack_pool *p,
			   const struct ringo__stack_options *o);

/* Unmaps every slab.  All stacks must have been freed. */
void ringo__stack_pool_destroy(ringo__stack_pool *p);

/* Hand out a stack, hottest free one first.  0 or -ENOMEM.  The memory is
 * not touched (except the canary word in CANARY mode). */
int ringo__stack_alloc(ringo__stack_pool *p, ringo__stack *out);

/* The top (hi) of the hot free stack that the alloc `ahead` calls after
 * the next one hands out (0: the next), or NULL if that one would not be
 * a hot stack; changes nothing. Lets a caller start fetching the lines it
 * will write there. */
void *ringo__stack_peek_hi(const ringo__stack_pool *p, uint32_t ahead);

/* Give back the memory of free stacks that were not reused since the
 * previous call, keeping keep_hot of them committed: call it now and then
 * (the task layer does, about once a second while there is excess), so a
 * burst of tasks reuses its stacks hot and an idle pool shrinks. Returns
 * how many stacks gave their memory back. */
uint32_t ringo__stack_trim(ringo__stack_pool *p);
/* True while more than keep_hot free stacks hold memory. */
bool ringo__stack_trim_wanted(const ringo__stack_pool *p);

/* Give a stack back (LIFO); its memory stays committed until a trim finds
 * it idle. */
void ringo__stack_free(ringo__stack_pool *p, ringo__stack *s);

void ringo__stack_pool_stats(const ringo__stack_pool *p,
			     struct ringo__stack_stats *st);

void ringo__stack_probe_info(struct ringo__stack_probe *out);

/* Per-thread set-up for the overflow reporter: gives the thread an
 * alternate signal stack if it has none.  Idempotent; 0 or -errno.
 * ringo__stack_thread_fini undoes it (call before the thread exits). */
int ringo__stack_thread_init(void);
void ringo__stack_thread_fini(void);

/* The overflow reporter asks name_of(stack_hi, compact) for the task's
 * name (compact: the stack is from a compact pool).  It runs in a signal
 * handler: it must be async-signal-safe and only read. */
void ringo__stack_set_reporter(const char *(*name_of)(void *stack_hi, bool compact));

/* Tests only: override the mprotect guard budget. */
void ringo__stack_test_set_budget(long guards);

/* Key mixed into canaries; set once by the probe. */
extern uintptr_t ringo__stack_canary_key;

static inline uintptr_t ringo__stack_canary(const void *lo)
{
	return ringo__stack_canary_key ^ (uintptr_t)lo;
}

/* Cheap check for CANARY stacks (the scheduler calls it whenever a task
 * switches out); always true for stacks protected another way. */
static inline bool ringo__stack_canary_ok(const ringo__stack *s)
{
	if (s->guard != RINGO__GUARD_CANARY)
		return true;
	return *(const volatile uintptr_t *)s->lo == ringo__stack_canary(s->lo);
}

#endif /* RINGO_STACK_H */
