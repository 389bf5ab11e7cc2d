/*
 * Task-local context: asyncio's contextvars.
 *
 * A context is an immutable map from keys to values, shared by reference
 * and copied on write: ringo_spawn hands the child the parent's map with
 * one more reference (nothing at all when the parent has none), and
 * whichever of them sets a value first makes its own copy. So a child
 * never sees its parent's later sets, nor the parent the child's. A map
 * held by one holder only is edited in place (no other holder exists to
 * notice), which keeps a task's repeated sets cheap.
 *
 * Values live in reference-counted cells: a map copy takes a reference on
 * every cell it keeps, so a value shared by a parent and its children is
 * destroyed once, when the last map listing it goes (the last task or
 * executor call that could see it finished, or replaced it).
 *
 * Threads: executor jobs hold a reference on their task's map and a
 * worker reads it while the loop thread may copy or release its own
 * reference, so every count is atomic (acq_rel on the way down, so the
 * holder that frees sees every other holder's reads as done). A map is
 * edited in place only by a holder that sees the count at 1.
 *
 * Memory comes from malloc: keys are process-wide and maps cross loops
 * and threads, where no loop's allocator applies.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "context_internal.h"
#include "task_internal.h"

struct ringo_context_key {
	_Atomic size_t refs;          /* the owner's (until key_free) + one per cell */
	void (*destroy)(void *value); /* NULL: values are borrowed */
};

/* One value as set by one ringo_context_set call. */
struct ctx_cell {
	_Atomic size_t refs;          /* maps listing it */
	ringo_context_key *key;       /* referenced: destroy outlives key_free */
	void *value;                  /* never NULL: set(key, NULL) removes */
};

struct ctx_entry {
	const ringo_context_key *key; /* the order: by address */
	struct ctx_cell *cell;
};

struct ringo__ctx {
	_Atomic size_t refs;          /* tasks, jobs and worker calls holding it */
	uint32_t n;                   /* entries, sorted by key address; n > 0 */
	uint32_t cap;
	struct ctx_entry e[];
};

/* The executor call running on this thread (worker threads only). */
static __thread struct ringo__ctx_frame call;

/* ---- reference counts ---- */

static void key_unref(ringo_context_key *k)
{
	if (atomic_fetch_sub_explicit(&k->refs, 1, memory_order_acq_rel) == 1)
		free(k);
}

static void cell_unref(struct ctx_cell *c)
{
	if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	ringo_context_key *k = c->key;
	void *value = c->value;
	free(c);
	if (k->destroy)
		k->destroy(value);
	key_unref(k);
}

struct ringo__ctx *ringo__context_ref(struct ringo__ctx *m)
{
	RINGO_ASSERT(m != NULL);
	atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
	return m;
}

void ringo__context_release(struct ringo__ctx *m)
{
	if (!m)
		return;
	size_t was = atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel);
	RINGO_ASSERT(was > 0);
	if (was != 1)
		return;
	for (uint32_t i = 0; i < m->n; i++)
		cell_unref(m->e[i].cell);
	free(m);
}

/* ---- the current context ---- */

/* The running task's context pointer, or NULL outside tasks; context.c
 * reads and replaces the map through it. Found through the running loop
 * and its scheduler's `current` (task_internal.h), which task.c keeps in
 * step with the task it runs: task.c calls into this file, so this file
 * reads the record instead of calling back (runtime/LAYERS.md). */
static struct ringo__ctx **task_slot(void)
{
	ringo_loop *loop = ringo__current_loop;
	struct ringo__sched *s = loop ? loop->tasks : NULL;
	ringo_task *t = s ? s->current : NULL;
	return t ? &t->ctx : NULL;
}

static struct ringo__ctx *current_map(void)
{
	struct ringo__ctx **slot = task_slot();
	if (slot)
		return *slot;
	return call.active ? call.map : NULL;
}

struct ringo__ctx *ringo__context_capture(void)
{
	struct ringo__ctx *m = current_map();
	return m ? ringo__context_ref(m) : NULL;
}

void ringo__context_enter(struct ringo__ctx *m, struct ringo__ctx_frame *saved)
{
	RINGO_ASSERT(saved != NULL);
	*saved = call;
	call.map = m;
	call.owned = false;
	call.active = true;
}

void ringo__context_leave(const struct ringo__ctx_frame *saved)
{
	/* Values set inside the call are destroyed here, on the worker: the
	 * call's private copy is the only map that listed them. Restored
	 * first, so a destructor never sees the map being freed. */
	RINGO_ASSERT(saved != NULL);
	RINGO_ASSERT(call.active); /* paired with ringo__context_enter */
	struct ringo__ctx *mine = call.owned ? call.map : NULL;
	call = *saved;
	ringo__context_release(mine);
}

/* ---- maps ---- */

/* Where key is in m, or would go; *found says which. m may be NULL. */
static uint32_t find(const struct ringo__ctx *m, const ringo_context_key *key, bool *found)
{
	uint32_t lo = 0, hi = m ? m->n : 0;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if ((uintptr_t)m->e[mid].key < (uintptr_t)key)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = m && lo < m->n && m->e[lo].key == key;
	return lo;
}

static struct ringo__ctx *map_alloc(uint32_t n)
{
	uint32_t cap = n < 4 ? 4 : n;
	struct ringo__ctx *m = malloc(sizeof(*m) + cap * sizeof(m->e[0]));
	if (!m)
		return NULL;
	atomic_init(&m->refs, 1);
	m->n = n;
	m->cap = cap;
	return m;
}

/* A new map: old with entry i replaced by cell (found), cell inserted at
 * i (!found), or entry i removed (cell NULL). Every cell it keeps from
 * old gets one more reference. NULL with *err: out of memory; NULL and
 * no error: the result is empty. */
static struct ringo__ctx *map_copy_with(const struct ringo__ctx *old, uint32_t i, bool found,
					struct ctx_cell *cell, int *err)
{
	uint32_t n_old = old ? old->n : 0;
	uint32_t n = n_old - (found ? 1 : 0) + (cell ? 1 : 0);
	*err = 0;
	if (n == 0)
		return NULL;
	struct ringo__ctx *m = map_alloc(n);
	if (!m) {
		*err = -ENOMEM;
		return NULL;
	}
	uint32_t k = 0;
	for (uint32_t j = 0; j < n_old; j++) {
		if (j == i && cell)
			m->e[k++] = (struct ctx_entry){cell->key, cell};
		if (j == i && found)
			continue;
		m->e[k] = old->e[j];
		atomic_fetch_add_explicit(&m->e[k].cell->refs, 1, memory_order_relaxed);
		k++;
	}
	if (i == n_old && cell)
		m->e[k++] = (struct ctx_entry){cell->key, cell};
	RINGO_ASSERT(k == n);
	return m;
}

/* The same edit on a map nobody else holds. Returns the cell it drops
 * (for the caller to unref once the slot is updated), and the map's new
 * address in *slot (NULL when it became empty). -ENOMEM: unchanged. */
static int map_edit(struct ringo__ctx **slot, uint32_t i, bool found, struct ctx_cell *cell,
		    struct ctx_cell **dropped)
{
	struct ringo__ctx *m = *slot;
	RINGO_ASSERT(m != NULL);
	RINGO_ASSERT(found || cell != NULL); /* an insert has a cell */
	RINGO_ASSERT(i <= m->n);
	*dropped = found ? m->e[i].cell : NULL;
	if (found && cell) {
		m->e[i].cell = cell;
	} else if (found) {
		memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof(m->e[0]));
		if (--m->n == 0) {
			free(m);
			*slot = NULL;
		}
	} else {
		if (m->n == m->cap) {
			uint32_t cap = m->cap * 2;
			struct ringo__ctx *g = realloc(m, sizeof(*m) + cap * sizeof(m->e[0]));
			if (!g)
				return -ENOMEM;
			g->cap = cap;
			*slot = m = g;
		}
		memmove(&m->e[i + 1], &m->e[i], (m->n - i) * sizeof(m->e[0]));
		m->e[i] = (struct ctx_entry){cell->key, cell};
		m->n++;
	}
	return 0;
}

/* ---- the public calls ---- */

int ringo_context_key_new(void (*destroy)(void *value), ringo_context_key **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	ringo_context_key *k = malloc(sizeof(*k));
	if (!k)
		return -ENOMEM;
	atomic_init(&k->refs, 1);
	k->destroy = destroy;
	*out = k;
	return 0;
}

void ringo_context_key_free(ringo_context_key *key)
{
	if (key)
		key_unref(key);
}

void *ringo_context_get(const ringo_context_key *key)
{
	if (!key)
		return NULL;
	const struct ringo__ctx *m = current_map();
	bool found;
	uint32_t i = find(m, key, &found);
	return found ? m->e[i].cell->value : NULL;
}

static struct ctx_cell *cell_new(ringo_context_key *key, void *value)
{
	struct ctx_cell *c = malloc(sizeof(*c));
	if (!c)
		return NULL;
	atomic_init(&c->refs, 1);
	atomic_fetch_add_explicit(&key->refs, 1, memory_order_relaxed);
	c->key = key;
	c->value = value;
	return c;
}

/* A cell that never made it into a map: its value stays the caller's. */
static void cell_discard(struct ctx_cell *c)
{
	key_unref(c->key);
	free(c);
}

int ringo_context_set(ringo_context_key *key, void *value)
{
	if (!key)
		return -EINVAL;
	/* The slot to change, and whether the map in it is ours to release:
	 * a task holds a reference on its own; an executor call borrows its
	 * job's until a set gives it a private copy. */
	struct ringo__ctx **slot = task_slot();
	bool holds = true;
	if (!slot) {
		if (!call.active)
			return -EPERM;
		slot = &call.map;
		holds = call.owned;
	}
	struct ringo__ctx *old = *slot;
	bool found;
	uint32_t i = find(old, key, &found);
	if (!value && !found)
		return 0;
	if (value && found && holds && atomic_load_explicit(&old->refs, memory_order_acquire) == 1 &&
	    atomic_load_explicit(&old->e[i].cell->refs, memory_order_acquire) == 1) {
		/* Nobody else sees this value: replace it where it is. */
		struct ctx_cell *c = old->e[i].cell;
		void *prev = c->value;
		c->value = value;
		if (key->destroy)
			key->destroy(prev);
		return 0;
	}
	struct ctx_cell *cell = NULL;
	if (value && !(cell = cell_new(key, value)))
		return -ENOMEM;
	struct ctx_cell *dropped = NULL;
	int err;
	if (holds && old && atomic_load_explicit(&old->refs, memory_order_acquire) == 1) {
		err = map_edit(slot, i, found, cell, &dropped);
		if (slot == &call.map && !*slot)
			call.owned = false;
	} else {
		struct ringo__ctx *m = map_copy_with(old, i, found, cell, &err);
		if (err == 0) {
			*slot = m;
			if (slot == &call.map)
				call.owned = m != NULL;
			if (holds)
				ringo__context_release(old); /* may destroy the value replaced */
		}
	}
	if (err < 0) {
		if (cell)
			cell_discard(cell);
		return err;
	}
	/* After the slot is updated: its destructor may look at the context. */
	if (dropped)
		cell_unref(dropped);
	return 0;
}
