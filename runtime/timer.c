/*
 * Timers: a two-level timing wheel of per-slot arrays feeding a small heap.
 *
 * Why this shape (a dependent cache miss costs ~250 ns on the machines we
 * measure on, so a million pending timers must not mean a miss per heap
 * level):
 *  - Inserting appends a 32-byte entry {when, fn, arg, slot, seq} to the
 *    array of the wheel slot that covers `when`: O(1), sequential writes.
 *  - Level 0 has 1024 slots of 2^20 ns (about 1 ms) covering [base, base +
 *    2^30); level 1 has 1024 slots of 2^30 ns (about 1.07 s, ~18 min in
 *    all); anything further waits in a heap ("far") that is consulted once
 *    per level-1 block. When `base` reaches a slot, its entries move into
 *    the "near" heap, which therefore only ever holds about one slot's
 *    worth of timers and stays in cache.
 *  - The near heap orders by (when, seq): exact deadlines, and equal
 *    deadlines fire in registration order (asyncio's rule).
 *  - Cancel is O(1): live_seq[slot] (4 bytes per timer, a compact array)
 *    is cleared and the entry goes stale where it lies; stale entries are
 *    dropped as they are met and swept out when they outnumber live ones.
 *  - Firing reads fn/arg from the entry itself: no record is touched.
 *
 * Memory follows the load down as well as up, with hysteresis in time:
 * a burst of a million timers must not pin ~60 MB for the loop's life,
 * but a burst that comes back (a benchmark's rounds, a periodic flush,
 * a reconnect storm) must not fault those pages in again either (that
 * was 0.5 of 2.1 s in timer_scale, re-faulting ~60 MB per round).
 *  - A drained wheel array larger than KEEP_CAP goes to a pool of arrays
 *    (per power-of-two capacity) that any slot's array takes from when
 *    it grows, largest first; so a burst reuses the last one's arrays
 *    whichever slots it falls on, and no doubling copies either.
 *  - Once per period (TRIM_PERIOD, one level-0 lap, about 1.07 s of loop
 *    time; checked where the loop already has the time: collecting due
 *    timers, or about to sleep with none) the period's peak live count
 *    decides: memory beyond BYTES_PER_PEAK_TIMER bytes per peak timer is
 *    given back (the pool, empty arrays, the heaps' and the slot table's
 *    room beyond twice their use). Pooled arrays that sat through a
 *    whole period unused go back in any case. So a finished burst's
 *    memory goes one to two periods after its last use.
 *  - A period that passed unseen (the loop stopped or asleep, a virtual
 *    clock jumping) needed nothing beyond what is live now.
 *  - A real-clock loop about to sleep with nothing scheduled and more
 *    than IDLE_KEEP held wakes at the period's end to decide; a virtual
 *    clock does not move without a timer, so it gives back then.
 * The hot paths pay one compare on add (the peak) and one per iteration
 * (the period's end); the emptied-heap and idle checks they made before
 * are gone. timer_scale (1M timers, 4 rounds on one loop), against the
 * give-back per drain, 3 alternating runs: CPU ratio 10.3-11.5 down to
 * 2.15-2.32, 61k minor faults down to 21k (the first round's), system
 * time 0.50-0.64 s down to 0.14-0.41 s.
 */
#include <string.h>

#include "internal.h"

#define W0 ((int64_t)1 << RINGO__W0_SHIFT)
#define W1 ((int64_t)1 << RINGO__W1_SHIFT)
#define SLOT_MASK (RINGO__WHEEL_SLOTS - 1)
#define HEAP_ARITY 4
/* A drained wheel array up to this many entries (512 B) stays with its
 * slot; a larger one goes to the pool. */
#define KEEP_CAP 16
/* When memory is given back, a heap (near, due, far) still in use does
 * not shrink below this many entries (32 KB); an empty one goes. */
#define KEEP_HEAP 1024
/* The slot table never shrinks below this many slots (2 KB). */
#define MIN_SLOTS 256u
/* What a loop may hold with nothing scheduled. */
#define IDLE_KEEP (64 * 1024)
/* The keep-or-give-back period: one level-0 lap of loop time (about
 * 1.07 s). A load that comes round the wheel reuses a slot's memory
 * once a lap, so a shorter period would give back what it is about to
 * need; a longer one pins a finished burst longer. */
#define TRIM_PERIOD W1
/* Bytes per timer that a period's peak justifies keeping. A live timer
 * costs 8 bytes of slot table and a 32-byte entry; power-of-two arrays,
 * stale entries (up to one per live timer before a sweep) and the heaps'
 * copies can make that about 150. */
#define BYTES_PER_PEAK_TIMER 256

static inline int64_t floor_div(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* ---- entry arrays and their pool ---- */

/* A pooled array: its first bytes, while it waits in the pool. */
struct ringo__tpooled {
	struct ringo__tpooled *next;
	uint32_t cap;   /* entries, a power of two > KEEP_CAP */
	uint32_t trims; /* t->trims when it was pooled */
};
_Static_assert(sizeof(struct ringo__tpooled) <= (KEEP_CAP + 1) * sizeof(struct ringo__tentry),
	       "a pooled array holds its list node");

static void tvec_release(ringo_loop *loop, struct ringo__tvec *v)
{
	RINGO_ASSERT(loop->timers.bytes >= (size_t)v->cap * sizeof(*v->v));
	ringo__free(loop, v->v, (size_t)v->cap * sizeof(*v->v));
	loop->timers.bytes -= (size_t)v->cap * sizeof(*v->v);
	v->v = NULL;
	v->len = v->cap = 0;
}

/* Lend an array to the pool; it stays counted in bytes. Only arrays
 * larger than KEEP_CAP (so always a power of two, 16 < cap) come here. */
static void pool_put(struct ringo__timers *t, struct ringo__tentry *a, uint32_t cap)
{
	RINGO_ASSERT(cap > KEEP_CAP && (cap & (cap - 1)) == 0);
	uint32_t c = (uint32_t)__builtin_ctz(cap);
	struct ringo__tpooled *p = (struct ringo__tpooled *)(void *)a;
	p->next = t->pool[c];
	p->cap = cap;
	p->trims = t->trims;
	t->pool[c] = p;
	t->pool_classes |= 1u << c;
}

/* Take the largest pooled array, if it holds `need` entries: an array
 * being filled does not know how far it will grow, and after a burst the
 * largest are what the next one needs. NULL if none fits. */
static struct ringo__tentry *pool_take(struct ringo__timers *t, uint32_t need, uint32_t *cap)
{
	if (!t->pool_classes)
		return NULL;
	uint32_t c = 31 - (uint32_t)__builtin_clz(t->pool_classes);
	struct ringo__tpooled *p = t->pool[c];
	if (p->cap < need)
		return NULL;
	t->pool[c] = p->next;
	if (!p->next)
		t->pool_classes &= ~(1u << c);
	*cap = p->cap;
	return (struct ringo__tentry *)(void *)p;
}

/* Free pooled arrays; with keep_young, those pooled since the last trim
 * stay (each list is newest first, so the rest of a list is older). */
static void pool_free(ringo_loop *loop, bool keep_young)
{
	struct ringo__timers *t = &loop->timers;
	for (uint32_t c = 0; c < 32; c++) {
		struct ringo__tpooled **link = &t->pool[c];
		while (*link && keep_young && (*link)->trims == t->trims)
			link = &(*link)->next;
		struct ringo__tpooled *p = *link;
		*link = NULL;
		while (p) {
			struct ringo__tpooled *next = p->next;
			size_t size = (size_t)p->cap * sizeof(struct ringo__tentry);
			RINGO_ASSERT(t->bytes >= size);
			ringo__free(loop, p, size);
			t->bytes -= size;
			p = next;
		}
		if (!t->pool[c])
			t->pool_classes &= ~(1u << c);
	}
}

/* The slow half of tvec_reserve: for a wheel array, a pooled array if
 * one fits (the one it replaces goes back to the pool, or is freed if
 * small); else the array doubles. The heaps keep their own arrays: they
 * are never pooled, and taking from the pool would leave a burst's
 * slots one array short the next time. */
__attribute__((noinline)) static int tvec_grow(ringo_loop *loop, struct ringo__tvec *v,
					       uint32_t need, bool wheel)
{
	struct ringo__timers *t = &loop->timers;
	uint32_t cap;
	struct ringo__tentry *a = wheel ? pool_take(t, need, &cap) : NULL;
	if (a) {
		if (v->len)
			memcpy(a, v->v, (size_t)v->len * sizeof(*v->v));
		if (v->cap > KEEP_CAP) {
			pool_put(t, v->v, v->cap);
		} else if (v->cap) {
			ringo__free(loop, v->v, (size_t)v->cap * sizeof(*v->v));
			t->bytes -= (size_t)v->cap * sizeof(*v->v);
		}
		v->v = a;
		v->cap = cap;
		return 0;
	}
	cap = v->cap ? v->cap : 8;
	while (cap < need) {
		if (cap > UINT32_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	void *p = ringo__realloc(loop, v->v, (size_t)v->cap * sizeof(*v->v),
				 (size_t)cap * sizeof(*v->v));
	if (!p)
		return -ENOMEM;
	t->bytes += (size_t)(cap - v->cap) * sizeof(*v->v);
	v->v = p;
	v->cap = cap;
	return 0;
}

static inline int tvec_reserve(ringo_loop *loop, struct ringo__tvec *v, uint32_t need)
{
	if (ringo__likely(need <= v->cap))
		return 0;
	return tvec_grow(loop, v, need, false);
}

static inline int wheel_reserve(ringo_loop *loop, struct ringo__tvec *v, uint32_t need)
{
	if (ringo__likely(need <= v->cap))
		return 0;
	return tvec_grow(loop, v, need, true);
}

/* A wheel array emptied: a small one stays with its slot (a steady load
 * reuses it next lap), a larger one waits in the pool for any slot. */
static void tvec_drained(struct ringo__timers *t, struct ringo__tvec *v)
{
	v->len = 0;
	if (v->cap > KEEP_CAP) {
		pool_put(t, v->v, v->cap);
		v->v = NULL;
		v->cap = 0;
	}
}

/* Giving back: an empty array goes, one at most a quarter full shrinks
 * to twice its length but not below keep (a power of two). A failed
 * shrink leaves the array as it was. */
static void tvec_fit(ringo_loop *loop, struct ringo__tvec *v, uint32_t keep)
{
	if (v->len == 0) {
		tvec_release(loop, v);
		return;
	}
	if (v->cap <= keep || v->len > v->cap / 4)
		return;
	uint32_t cap = keep;
	while (cap < 2 * v->len)
		cap *= 2;
	void *p = ringo__realloc(loop, v->v, (size_t)v->cap * sizeof(*v->v),
				 (size_t)cap * sizeof(*v->v));
	if (!p)
		return;
	loop->timers.bytes -= (size_t)(v->cap - cap) * sizeof(*v->v);
	v->v = p;
	v->cap = cap;
}

/* Stale entries may name slots the table no longer has (it shrank). */
static inline bool entry_live(const struct ringo__timers *t, const struct ringo__tentry *e)
{
	return e->slot < t->nslots && t->live_seq[e->slot] == e->seq;
}

/* ---- heaps (near and far) ---- */

static inline bool before(const struct ringo__tentry *a, const struct ringo__tentry *b)
{
	if (a->when != b->when)
		return a->when < b->when;
	/* Sequence numbers wrap; pending ties never span 2^31 registrations. */
	return (int32_t)(a->seq - b->seq) < 0;
}

static void heap_up(struct ringo__tentry *h, uint32_t i)
{
	struct ringo__tentry e = h[i];
	while (i > 0) {
		uint32_t parent = (i - 1) / HEAP_ARITY;
		if (!before(&e, &h[parent]))
			break;
		h[i] = h[parent];
		i = parent;
	}
	h[i] = e;
}

static void heap_down(struct ringo__tentry *h, uint32_t len, uint32_t i)
{
	struct ringo__tentry e = h[i];
	for (;;) {
		uint32_t first = i * HEAP_ARITY + 1;
		if (first >= len)
			break;
		uint32_t end = first + HEAP_ARITY < len ? first + HEAP_ARITY : len;
		uint32_t best = first;
		for (uint32_t c = first + 1; c < end; c++)
			if (before(&h[c], &h[best]))
				best = c;
		if (!before(&h[best], &e))
			break;
		h[i] = h[best];
		i = best;
	}
	h[i] = e;
}

/* Push into a heap whose room was reserved. */
static void heap_push(struct ringo__tvec *v, const struct ringo__tentry *e)
{
	RINGO_ASSERT(v->len < v->cap);
	v->v[v->len] = *e;
	heap_up(v->v, v->len++);
}

static void heap_pop(struct ringo__tvec *v)
{
	RINGO_ASSERT(v->len > 0);
	if (--v->len > 0) {
		v->v[0] = v->v[v->len];
		heap_down(v->v, v->len, 0);
	}
}

static void heapify(struct ringo__tvec *v)
{
	for (uint32_t i = v->len / HEAP_ARITY + 1; i-- > 0;)
		if (i < v->len)
			heap_down(v->v, v->len, i);
}

/* ---- placing entries ---- */

static inline void bit_set(uint64_t *bits, uint32_t i)
{
	bits[i / 64] |= (uint64_t)1 << (i % 64);
}

static inline void bit_clear(uint64_t *bits, uint32_t i)
{
	bits[i / 64] &= ~((uint64_t)1 << (i % 64));
}

/* File an entry where its deadline says. Room must have been reserved in
 * the destination when called from a path that cannot fail; insert paths
 * reserve first. */
static int place(ringo_loop *loop, const struct ringo__tentry *e)
{
	struct ringo__timers *t = &loop->timers;
	struct ringo__tvec *v;
	if (e->when < t->base) {
		v = &t->near;
		if (tvec_reserve(loop, v, v->len + 1) < 0)
			return -ENOMEM;
		heap_push(v, e);
		return 0;
	}
	if (e->when - t->base < W1) {
		uint32_t s = (uint32_t)(e->when >> RINGO__W0_SHIFT) & SLOT_MASK;
		v = &t->l0[s];
		if (wheel_reserve(loop, v, v->len + 1) < 0)
			return -ENOMEM;
		v->v[v->len++] = *e;
		bit_set(t->l0_bits, s);
		t->l0_count++;
		return 0;
	}
	int64_t block = floor_div(e->when, W1);
	if (block - floor_div(t->base, W1) < (int64_t)RINGO__WHEEL_SLOTS) {
		v = &t->l1[block & SLOT_MASK];
		if (wheel_reserve(loop, v, v->len + 1) < 0)
			return -ENOMEM;
		v->v[v->len++] = *e;
		t->l1_count++;
		return 0;
	}
	v = &t->far;
	if (tvec_reserve(loop, v, v->len + 1) < 0)
		return -ENOMEM;
	heap_push(v, e);
	return 0;
}

/* Moving entries between levels must not fail half-way: a failure leaves
 * the entry where it was and is retried on the next advance. In practice
 * the destinations already have room most of the time. */

/* Drain level-0 slot s (all its entries are < base now) into near. */
static bool drain_l0(ringo_loop *loop, uint32_t s)
{
	struct ringo__timers *t = &loop->timers;
	struct ringo__tvec *v = &t->l0[s];
	if (tvec_reserve(loop, &t->near, t->near.len + v->len) < 0)
		return false;
	for (uint32_t i = 0; i < v->len; i++) {
		if (entry_live(t, &v->v[i]))
			heap_push(&t->near, &v->v[i]);
		else
			t->stale--;
	}
	t->l0_count -= v->len;
	tvec_drained(t, v);
	bit_clear(t->l0_bits, s);
	return true;
}

/* base just became the start of a new level-1 block: bring that block's
 * timers down to level 0, and the far timers that now fit up to level 1. */
static bool cascade(ringo_loop *loop)
{
	struct ringo__timers *t = &loop->timers;
	int64_t block = floor_div(t->base, W1);
	struct ringo__tvec *v = &t->l1[block & SLOT_MASK];
	while (v->len > 0) {
		struct ringo__tentry *e = &v->v[v->len - 1];
		if (!entry_live(t, e)) {
			t->stale--;
		} else if (place(loop, e) < 0) {
			return false;
		}
		v->len--;
		t->l1_count--;
	}
	tvec_drained(t, v);
	while (t->far.len > 0 &&
	       floor_div(t->far.v[0].when, W1) - block < (int64_t)RINGO__WHEEL_SLOTS) {
		struct ringo__tentry e = t->far.v[0];
		if (!entry_live(t, &e)) {
			heap_pop(&t->far);
			t->stale--;
			continue;
		}
		if (place(loop, &e) < 0)
			return false;
		heap_pop(&t->far);
	}
	return true;
}

/* The next non-empty level-0 slot at or after s, within the current block
 * (slots s..1023); RINGO__WHEEL_SLOTS if none. */
static uint32_t next_l0(const struct ringo__timers *t, uint32_t s)
{
	while (s < RINGO__WHEEL_SLOTS) {
		uint64_t w = t->l0_bits[s / 64] >> (s % 64);
		if (w)
			return s + (uint32_t)__builtin_ctzll(w);
		s = (s / 64 + 1) * 64;
	}
	return RINGO__WHEEL_SLOTS;
}

/* Move base forward, draining slots into near, until base > limit or
 * (if stop_at_first) one non-empty slot has been drained. Returns false
 * only if memory ran out (nothing is lost; the caller retries later). */
static bool advance(ringo_loop *loop, int64_t limit, bool stop_at_first)
{
	struct ringo__timers *t = &loop->timers;
	while (t->base <= limit) {
		if (t->l0_count == 0 && t->l1_count == 0) {
			/* Nothing on the wheel: jump, then let far refill it. */
			int64_t to = floor_div(limit, W0) * W0 + W0;
			if (t->far.len > 0) {
				int64_t fb = floor_div(t->far.v[0].when, W1) * W1;
				if (fb < to)
					to = fb;
			}
			if (to <= t->base)
				to = t->base + W0;
			int64_t old_block = floor_div(t->base, W1);
			t->base = to;
			if (floor_div(to, W1) != old_block && !cascade(loop))
				return false;
			if (t->l0_count == 0 && t->l1_count == 0 && t->far.len == 0)
				return true;
			continue;
		}
		uint32_t s = (uint32_t)(t->base >> RINGO__W0_SHIFT) & SLOT_MASK;
		uint32_t n = next_l0(t, s);
		int64_t block_start = floor_div(t->base, W1) * W1;
		if (n == RINGO__WHEEL_SLOTS) {
			/* Rest of this block is empty: cross into the next one. */
			t->base = block_start + W1;
			if (!cascade(loop))
				return false;
			continue;
		}
		int64_t slot_start = block_start + (int64_t)n * W0;
		if (slot_start > limit) {
			t->base = floor_div(limit, W0) * W0 + W0;
			return true;
		}
		if (!drain_l0(loop, n))
			return false;
		t->base = slot_start + W0;
		if ((t->base & (W1 - 1)) == 0 && !cascade(loop))
			return false;
		if (stop_at_first && t->near.len > 0)
			return true;
	}
	return true;
}

/* ---- public-facing internals ---- */

/* No slot-table shrink is waiting: high_live is kept at 1 (add and free
 * change it only for slots >= shrink_to), so the one test the hot paths
 * make, high_live == 0, stays false. */
static void slots_settled(struct ringo__timers *t)
{
	t->shrink_to = UINT32_MAX;
	t->high_live = 1;
}

void ringo__timers_init(ringo_loop *loop, int64_t now)
{
	memset(&loop->timers, 0, sizeof(loop->timers));
	loop->timers.base = floor_div(now, W0) * W0;
	loop->timers.trim_at = now + TRIM_PERIOD;
	slots_settled(&loop->timers);
}

/* live_seq and free_slots share one block of 2 * nslots entries, so a
 * resize either happens whole or not at all. */
static int slots_resize(ringo_loop *loop, uint32_t cap)
{
	/* Live slots cannot move: a shrink waits until none is at or above cap. */
	RINGO_ASSERT(cap >= MIN_SLOTS && cap >= loop->timers.live);
	struct ringo__timers *t = &loop->timers;
	uint32_t *block = ringo__alloc(loop, 2 * (size_t)cap * sizeof(uint32_t));
	if (!block)
		return -ENOMEM;
	uint32_t old = t->nslots;
	uint32_t keep = old < cap ? old : cap;
	if (old) {
		memcpy(block, t->live_seq, keep * sizeof(uint32_t));
		ringo__free(loop, t->live_seq, 2 * (size_t)old * sizeof(uint32_t));
	}
	if (cap > keep)
		memset(block + keep, 0, (cap - keep) * sizeof(uint32_t));
	t->live_seq = block;
	t->free_slots = block + cap;
	t->bytes += 2 * sizeof(uint32_t) * (size_t)cap;
	t->bytes -= 2 * sizeof(uint32_t) * (size_t)old;
	t->nslots = cap;
	slots_settled(t);
	/* The free stack, lowest slot on top (handed out first). Growing
	 * happens with every slot in use: only the new ones are free. */
	t->nfree = 0;
	if (cap > old) {
		for (uint32_t i = cap; i-- > old;)
			t->free_slots[t->nfree++] = i;
	} else {
		for (uint32_t i = cap; i-- > 0;)
			if (block[i] == 0)
				t->free_slots[t->nfree++] = i;
	}
	return 0;
}

__attribute__((cold)) static int slots_grow(ringo_loop *loop)
{
	RINGO_ASSERT(loop->timers.nfree == 0 && loop->timers.live == loop->timers.nslots);
	uint32_t old = loop->timers.nslots;
	uint32_t cap = old ? old * 2 : MIN_SLOTS;
	if (cap > RINGO__TIMER_HANDLE)
		return -ENOMEM;
	return slots_resize(loop, cap);
}

/* Shrink the slot table to twice the live count (at least MIN_SLOTS),
 * when memory is given back. Live slots cannot move (handles name them),
 * so if some sit above the new size the shrink waits for them: they are
 * counted (high_live, kept up to date by add and free at the cost of one
 * compare), the free stack is rebuilt lowest-first so new timers fill the
 * bottom, and the shrink happens when the last of them goes. Each try is
 * O(slots), at most once per trim period or drained high region. */
__attribute__((cold, noinline)) static void slots_shrink(ringo_loop *loop)
{
	/* Every slot is either free (on the stack) or holds a live timer. */
	RINGO_ASSERT(loop->timers.nfree + loop->timers.live == loop->timers.nslots);
	struct ringo__timers *t = &loop->timers;
	uint32_t cap = MIN_SLOTS;
	while (cap < 2 * t->live && cap < t->nslots)
		cap *= 2;
	if (cap > t->nslots / 2) {
		slots_settled(t); /* not worth it */
		return;
	}
	if (t->shrink_to != UINT32_MAX && t->high_live == 0) {
		/* The awaited high slots are gone: everything from shrink_to up
		 * is free, only [cap, shrink_to) needs a look. (A give-back
		 * while they are still there takes the full pass below.) */
		uint32_t end = t->shrink_to < t->nslots ? t->shrink_to : t->nslots;
		uint32_t high = 0;
		for (uint32_t i = cap; i < end; i++)
			high += t->live_seq[i] != 0;
		if (high == 0 && slots_resize(loop, cap) == 0)
			return;
	}
	/* One pass: count the live slots above cap, and rebuild the free
	 * stack lowest-first in case they make us wait. */
	uint32_t high = 0;
	t->nfree = 0;
	for (uint32_t i = t->nslots; i-- > 0;) {
		if (t->live_seq[i] == 0)
			t->free_slots[t->nfree++] = i;
		else if (i >= cap)
			high++;
	}
	if (high == 0 && slots_resize(loop, cap) == 0)
		return;
	if (high == 0) {
		slots_settled(t); /* out of memory: the next give-back retries */
		return;
	}
	t->shrink_to = cap;
	t->high_live = high;
}

int ringo__timer_add(ringo_loop *loop, int64_t when, ringo_callback_fn *fn, void *arg,
		     ringo_handle *handle)
{
	RINGO_ASSERT(fn != NULL); /* ringo_call_at checked it */
	struct ringo__timers *t = &loop->timers;
	if (ringo__unlikely(t->nfree == 0) && slots_grow(loop) < 0)
		return -ENOMEM;
	uint32_t seq = ++t->seq;
	if (ringo__unlikely(seq == 0))
		seq = ++t->seq;
	struct ringo__tentry e = {when, fn, arg, t->free_slots[t->nfree - 1], seq};
	if (ringo__unlikely(place(loop, &e) < 0))
		return -ENOMEM;
	t->nfree--;
	t->live_seq[e.slot] = seq;
	t->live++;
	if (t->live > t->peak_live)
		t->peak_live = t->live;
	if (ringo__unlikely(e.slot >= t->shrink_to))
		t->high_live++;
	if (handle) {
		handle->loop = loop;
		handle->index = e.slot | RINGO__TIMER_HANDLE;
		handle->generation = seq;
	}
	return 0;
}

static inline void slot_free(struct ringo__timers *t, uint32_t slot)
{
	t->live_seq[slot] = 0;
	t->free_slots[t->nfree++] = slot;
	t->live--;
	if (ringo__unlikely(slot >= t->shrink_to))
		t->high_live--;
}

/* After slots were freed: may a waiting slot-table shrink go ahead? */
static inline void shrink_check(ringo_loop *loop)
{
	if (ringo__unlikely(loop->timers.high_live == 0))
		slots_shrink(loop);
}

/* Nothing is scheduled: every stored entry is stale. */
static void drop_all(struct ringo__timers *t)
{
	RINGO_ASSERT(t->live == 0);
	for (uint32_t i = 0; i < RINGO__WHEEL_SLOTS; i++)
		t->l0[i].len = t->l1[i].len = 0;
	t->near.len = t->far.len = t->due.len = 0;
	memset(t->l0_bits, 0, sizeof(t->l0_bits));
	t->l0_count = t->l1_count = 0;
	t->stale = 0;
}

/* Give back what the last period did not need: the whole pool, every
 * empty array (the small ones a burst left in a thousand slots add up),
 * room beyond twice the entries of arrays at most a quarter full, and
 * the slot table beyond twice the live count. */
__attribute__((cold, noinline)) static void give_back(ringo_loop *loop)
{
	struct ringo__timers *t = &loop->timers;
	if (t->live == 0)
		drop_all(t);
	pool_free(loop, false);
	for (uint32_t i = 0; i < RINGO__WHEEL_SLOTS; i++) {
		tvec_fit(loop, &t->l0[i], KEEP_CAP);
		tvec_fit(loop, &t->l1[i], KEEP_CAP);
	}
	tvec_fit(loop, &t->near, KEEP_HEAP);
	tvec_fit(loop, &t->far, KEEP_HEAP);
	tvec_fit(loop, &t->due, KEEP_HEAP);
	slots_shrink(loop);
}

/* The end of a period (first seen at or after trim_at): keep what the
 * period's peak justifies, else give back. Pooled arrays that sat unused
 * through the whole period go either way. */
__attribute__((cold, noinline)) static void trim(ringo_loop *loop, int64_t now)
{
	struct ringo__timers *t = &loop->timers;
	size_t need = t->live;
	/* If a whole period more has gone by unseen (the loop was stopped or
	 * asleep, or its virtual clock jumped), nothing was needed in it:
	 * only what is live now counts. */
	if (now - t->trim_at < TRIM_PERIOD && t->peak_live > need)
		need = t->peak_live;
	if (t->bytes > IDLE_KEEP && (t->bytes - IDLE_KEEP) / BYTES_PER_PEAK_TIMER > need)
		give_back(loop);
	else
		pool_free(loop, true);
	t->trims++;
	t->peak_live = t->live;
	t->trim_at = now + TRIM_PERIOD;
}

/* Nothing is scheduled, the loop is about to sleep, and it holds more
 * than an idle loop should. A virtual clock does not move without a
 * timer, so its period would never end: give back now. On a real clock,
 * decide at the period's end, waking for it if need be (so at most two
 * wake-ups after a burst, a period apart). Returns whether to wake at
 * *when. */
__attribute__((cold, noinline)) static bool idle_hold(ringo_loop *loop, int64_t *when)
{
	struct ringo__timers *t = &loop->timers;
	if (loop->virtual_clock) {
		give_back(loop);
		return false;
	}
	int64_t now = ringo__now(loop);
	if (now >= t->trim_at)
		trim(loop, now);
	if (t->bytes <= IDLE_KEEP)
		return false;
	*when = t->trim_at;
	return true;
}

/* Drop the stale entries of one array; how many went. */
static uint32_t sweep_vec(struct ringo__timers *t, struct ringo__tvec *v)
{
	uint32_t kept = 0, was = v->len;
	for (uint32_t i = 0; i < was; i++)
		if (entry_live(t, &v->v[i]))
			v->v[kept++] = v->v[i];
	v->len = kept;
	return was - kept;
}

/* Sweep stale entries out of every array: O(stored), amortised over the
 * cancellations that made them. It runs on whatever stack cancelled, a
 * compact task's among them: no arrays on the stack. */
__attribute__((cold)) static void sweep(ringo_loop *loop)
{
	RINGO_ASSERT(loop->timers.stale > loop->timers.live);
	struct ringo__timers *t = &loop->timers;
	for (uint32_t i = 0; i < RINGO__WHEEL_SLOTS; i++) {
		t->l0_count -= sweep_vec(t, &t->l0[i]);
		if (t->l0[i].len == 0)
			tvec_drained(t, &t->l0[i]);
		t->l1_count -= sweep_vec(t, &t->l1[i]);
		if (t->l1[i].len == 0)
			tvec_drained(t, &t->l1[i]);
	}
	sweep_vec(t, &t->near);
	sweep_vec(t, &t->far);
	for (uint32_t i = 0; i < RINGO__WHEEL_SLOTS; i++)
		if (t->l0[i].len == 0)
			bit_clear(t->l0_bits, i);
	heapify(&t->near);
	heapify(&t->far);
	t->stale = 0;
}

int ringo__timer_cancel(ringo_loop *loop, uint32_t slot, uint32_t seq)
{
	struct ringo__timers *t = &loop->timers;
	/* seq beyond the last one issued: never a handle (a wrap of 2^32
	 * registrations aside). A slot past the table: it ran, and the table
	 * shrank since. */
	if (seq == 0 || seq > t->seq)
		return -EINVAL;
	if (slot >= t->nslots || t->live_seq[slot] != seq)
		return -EALREADY;
	slot_free(t, slot);
	shrink_check(loop);
	t->stale++;
	if (t->stale > 1024 && t->stale > t->live)
		sweep(loop);
	return 0;
}

bool ringo__timer_pending(ringo_loop *loop, uint32_t slot, uint32_t seq)
{
	struct ringo__timers *t = &loop->timers;
	return slot < t->nslots && seq != 0 && t->live_seq[slot] == seq;
}

/* Drop stale entries from the top of near. */
static void near_trim(struct ringo__timers *t)
{
	while (t->near.len > 0 && !entry_live(t, &t->near.v[0])) {
		heap_pop(&t->near);
		t->stale--;
	}
}

bool ringo__timer_next(ringo_loop *loop, int64_t *when)
{
	struct ringo__timers *t = &loop->timers;
	for (;;) {
		near_trim(t);
		if (t->near.len > 0) {
			*when = t->near.v[0].when;
			return true;
		}
		if (t->live == 0)
			return ringo__unlikely(t->bytes > IDLE_KEEP) && idle_hold(loop, when);
		if (t->l0_count == 0 && t->l1_count == 0 && t->far.len == 0)
			return false;
		/* Bring the next non-empty slot into near. Out of memory, the
		 * timers stay on the wheel, all at or after base: wake there
		 * and try again, rather than sleep as if there were none. */
		if (!advance(loop, INT64_MAX - W1, true)) {
			*when = t->base;
			return true;
		}
	}
}

void ringo__timer_collect_due(ringo_loop *loop, int64_t now)
{
	struct ringo__timers *t = &loop->timers;
	if (t->live == 0)
		return;
	if (ringo__unlikely(now >= t->trim_at))
		trim(loop, now);
	/* On allocation failure the wheel keeps the rest; they are collected
	 * on a later iteration, late but never lost. */
	advance(loop, now, false);
	while (t->near.len > 0 && t->near.v[0].when <= now) {
		struct ringo__tentry *top = &t->near.v[0];
		if (!entry_live(t, top)) {
			t->stale--;
		} else {
			if (tvec_reserve(loop, &t->due, t->due.len + 1) < 0)
				return;
			t->due.v[t->due.len++] = *top;
		}
		heap_pop(&t->near);
	}
}

void ringo__timer_run_due(ringo_loop *loop)
{
	struct ringo__timers *t = &loop->timers;
	/* Entries are read one at a time: a callback may add timers (never to
	 * this list) or cancel later ones in it (they are skipped). */
	for (uint32_t i = 0; i < t->due.len; i++) {
		struct ringo__tentry e = t->due.v[i];
		/* The callbacks' arguments (a sleeping task's record, say) are
		 * scattered: fetch a few entries ahead. */
		if (i + 4 < t->due.len)
			__builtin_prefetch(t->due.v[i + 4].arg, 1);
		if (!entry_live(t, &e))
			continue;
		slot_free(t, e.slot);
		e.fn(e.arg);
	}
	t->due.len = 0;
	shrink_check(loop);
}

void ringo__timer_destroy(ringo_loop *loop)
{
	struct ringo__timers *t = &loop->timers;
	for (uint32_t i = 0; i < RINGO__WHEEL_SLOTS; i++) {
		tvec_release(loop, &t->l0[i]);
		tvec_release(loop, &t->l1[i]);
	}
	tvec_release(loop, &t->near);
	tvec_release(loop, &t->far);
	tvec_release(loop, &t->due);
	pool_free(loop, false);
	ringo__free(loop, t->live_seq, 2 * (size_t)t->nslots * sizeof(uint32_t));
	/* base and seq stay: handles issued before close still read as
	 * "already ran or cancelled", not as bogus. */
	int64_t base = t->base;
	uint32_t seq = t->seq;
	memset(t, 0, sizeof(*t));
	t->base = base;
	t->seq = seq;
	slots_settled(t);
}
