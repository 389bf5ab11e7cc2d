/*
 * kv_store: kv_server's key-value store (see kv_store.h): a chained hash
 * table of malloc'd values, and the memory they free given back.
 */
#include "kv_store.h"

#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TRIM_EVERY (32u << 20) /* freed bytes between two malloc_trim calls */

static struct {
	pthread_mutex_t lock;
	bool shared;   /* several threads use the store: take the lock */
	struct kv_entry **b;
	size_t nb;     /* buckets, a power of two */
	size_t n;      /* entries */
	size_t freed;  /* bytes freed since the last malloc_trim (see "memory");
			  atomic: connections add to it without the lock */
} store = {.lock = PTHREAD_MUTEX_INITIALIZER};

void kv_store_init(bool shared)
{
	store.shared = shared;
}

/* Only worker loops touch the store, so a single loop needs no lock: two
 * uncontended atomics per command are a measurable share of a GET. */
void kv_store_lock(void)
{
	if (store.shared)
		pthread_mutex_lock(&store.lock);
}

void kv_store_unlock(void)
{
	if (store.shared)
		pthread_mutex_unlock(&store.lock);
}

/* ---- memory ----
 * glibc keeps freed memory in its heap for reuse; it goes back to the
 * system only when it sits at the top of the heap. After deleting many
 * values, or shrinking a connection's large buffer, the process would stay
 * at its peak size. So once TRIM_EVERY bytes have been freed, malloc_trim
 * hands the free pages back (it walks the free lists: rare enough not to
 * matter, and never with the store lock held). */

void kv_note_freed(size_t n)
{
	__atomic_fetch_add(&store.freed, n, __ATOMIC_RELAXED);
}

/* After each request: one relaxed load unless there is work. */
void kv_maybe_trim(void)
{
	if (__atomic_load_n(&store.freed, __ATOMIC_RELAXED) < TRIM_EVERY)
		return;
	if (__atomic_exchange_n(&store.freed, 0, __ATOMIC_RELAXED) >= TRIM_EVERY)
		malloc_trim(0);
}

static uint64_t hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	return h;
}

static struct kv_entry **find(const char *k, size_t klen, uint64_t h)
{
	struct kv_entry **pp = &store.b[h & (store.nb - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->klen == klen && !memcmp((*pp)->key, k, klen))
			return pp;
	return pp;
}

static void grow(void)
{
	size_t nb = store.nb ? store.nb * 2 : 1024;
	struct kv_entry **b = calloc(nb, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < store.nb; i++) {
		for (struct kv_entry *e = store.b[i], *next; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(store.b);
	store.b = b;
	store.nb = nb;
}

/* Set key to val; returns false on out of memory. Lock held. */
bool kv_store_set(const char *k, size_t klen, const char *v, size_t vlen)
{
	if (store.n >= store.nb)
		grow();
	if (!store.nb)
		return false;
	uint64_t h = hash(k, klen);
	struct kv_entry **pp = find(k, klen, h);
	if (*pp && vlen <= (*pp)->vcap && (*pp)->vcap <= 2 * vlen + 64) {
		/* Overwriting with a value that fits (and does not leave most
		 * of the old allocation idle): no malloc/free pair. */
		memcpy((*pp)->val, v, vlen);
		(*pp)->vlen = vlen;
		return true;
	}
	size_t cap = vlen ? vlen : 1;
	char *val = malloc(cap);
	if (!val)
		return false;
	memcpy(val, v, vlen);
	if (*pp) {
		free((*pp)->val);
		kv_note_freed((*pp)->vcap);
	} else {
		struct kv_entry *e = malloc(sizeof(*e) + klen);
		if (!e) {
			free(val);
			return false;
		}
		e->next = NULL;
		e->hash = h;
		e->klen = klen;
		memcpy(e->key, k, klen);
		*pp = e;
		store.n++;
	}
	(*pp)->val = val;
	(*pp)->vlen = vlen;
	(*pp)->vcap = cap;
	return true;
}

struct kv_entry *kv_store_get(const char *k, size_t klen)
{
	if (!store.nb)
		return NULL;
	return *find(k, klen, hash(k, klen));
}

/* Lock held. */
bool kv_store_del(const char *k, size_t klen)
{
	if (!store.nb)
		return false;
	struct kv_entry **pp = find(k, klen, hash(k, klen));
	struct kv_entry *e = *pp;
	if (!e)
		return false;
	*pp = e->next;
	kv_note_freed(e->vcap + sizeof(*e) + e->klen);
	free(e->val);
	free(e);
	store.n--;
	return true;
}

void kv_store_free(void)
{
	for (size_t i = 0; i < store.nb; i++) {
		for (struct kv_entry *e = store.b[i], *next; e; e = next) {
			next = e->next;
			free(e->val);
			free(e);
		}
	}
	free(store.b);
}
