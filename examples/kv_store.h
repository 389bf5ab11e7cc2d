/*
 * kv_store: the key-value store of examples/kv_server: a chained hash
 * table from byte-string keys to byte-string values, one per process.
 *
 * With kv_store_init(true) several threads share it: every call but
 * kv_note_freed and kv_maybe_trim is made with kv_store_lock held, and an
 * entry or value pointer is valid only until kv_store_unlock (or until the
 * caller's task suspends, since another task of the same thread may
 * change the store meanwhile).
 */
#ifndef RINGO_EXAMPLES_KV_STORE_H
#define RINGO_EXAMPLES_KV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kv_entry {
	struct kv_entry *next;
	uint64_t hash;
	char *val;
	size_t vlen;
	size_t vcap; /* bytes allocated at val: a SET that fits reuses them */
	size_t klen;
	char key[];
};

/* shared: several threads use the store (the lock is taken). */
void kv_store_init(bool shared);
void kv_store_lock(void);
void kv_store_unlock(void);
/* Set key to val (copied); false if out of memory (nothing changed). */
bool kv_store_set(const char *k, size_t klen, const char *v, size_t vlen);
/* The entry for key, or NULL. */
struct kv_entry *kv_store_get(const char *k, size_t klen);
/* Delete key; false if it was not there. */
bool kv_store_del(const char *k, size_t klen);
/* Free everything (at exit, no other thread running). */
void kv_store_free(void);

/* Account n bytes given back to malloc (values, a connection's buffer);
 * no lock needed. */
void kv_note_freed(size_t n);
/* Hand free memory back to the system once enough was freed; call
 * without the lock, between requests. */
void kv_maybe_trim(void);

#endif
