/*
 * ringo/context.h — task-local context (asyncio's contextvars).
 *
 * A key (asyncio's ContextVar) is process-wide; each task has its own
 * value for it. A task's values are its context:
 *
 *     static ringo_context_key *request_id;     // made once at start-up
 *     ringo_context_key_new(NULL, &request_id);
 *
 *     // in a connection's task
 *     ringo_context_set(request_id, RINGO_PTR(42));
 *     log_line("...");      // reads ringo_context_get(request_id)
 *
 * Which context is current:
 *  - in a task: the task's own;
 *  - inside an executor call (fn of ringo_to_thread or
 *    ringo_run_in_executor, on a worker thread): a view of the context
 *    of the task that submitted it, as it was at the submission; a set
 *    there is private to that call and gone when fn returns;
 *  - anywhere else (callbacks, done callbacks, the loop between tasks,
 *    threads of your own): none. ringo_context_get returns NULL and
 *    ringo_context_set -EPERM there.
 *
 * Inheritance, by copy: ringo_spawn (also ringo_group_spawn, ringo_map)
 * gives the child a copy of the current context at the call. After that
 * the two are independent: the child's sets are not seen by its parent,
 * nor the parent's later sets by the child. A task spawned where there is
 * no current context (from a callback; ringo_spawn_threadsafe's task,
 * which the loop spawns from a callback) starts with none: pass what it
 * needs through arg. The copy is O(1) (the map is shared, and copied on
 * the first set by either side); a program that never sets a value pays
 * nothing on spawn.
 *
 * Values are void *. With a destructor, a set hands the value to the
 * context: destroy(value) runs exactly once, when no task or executor
 * call can see that value any more (every task that had it finished, or
 * replaced or removed it). It runs on the thread that lets go last: the
 * loop's thread (inside the set that replaced it, or as the last task
 * holding it finishes or the loop closes), or a worker thread when fn
 * returns, for values set inside an executor call. It must not suspend.
 * Without a destructor the value is borrowed: keep it valid while any
 * task may still see it.
 *
 * Costs: get is a binary search over the keys set in the context (a few
 * loads for a few keys); set on a context no other task shares edits it
 * in place, on a shared one copies it (O(keys set)).
 */
/* ringo.h first: it includes every sub-header, this one included, in
 * dependency order. */
#include "../ringo.h"

#ifndef RINGO_CONTEXT_H
#define RINGO_CONTEXT_H


#ifdef __cplusplus
extern "C" {
#endif

/* A context key: opaque, process-wide, usable by every loop and thread. */
typedef struct ringo_context_key ringo_context_key;

/* Any thread. Make a key; destroy (may be NULL: values are borrowed) is
 * called once per value set with it, as above. The caller owns *out and
 * frees it with ringo_context_key_free. Does not suspend.
 * 0, -EINVAL (NULL out), -ENOMEM. */
int ringo_context_key_new(void (*destroy)(void *value), ringo_context_key **out);

/* Any thread. Give up the key: it must not be passed to get or set any
 * more. Values set with it that tasks still hold stay until those let go
 * and are destroyed then as usual (the key's memory lives until the last
 * of them). NULL is a no-op. Does not suspend. */
void ringo_context_key_free(ringo_context_key *key);

/* Any thread. Set key's value in the current context (see above): the
 * calling task's, or the executor call's (private to the call). value
 * NULL removes key's value (get then returns NULL). The value replaced or
 * removed is destroyed now if no other task can see it. Does not suspend.
 * 0; -EINVAL (NULL key); -EPERM (no current context: a callback, a thread
 * outside executor calls); -ENOMEM (nothing changed, value is still the
 * caller's and will not be destroyed). */
int ringo_context_set(ringo_context_key *key, void *value);

/* Any thread. key's value in the current context, or NULL (unset, no
 * current context, NULL key). The pointer is valid while the current
 * context can see it: until this task (or call) replaces or removes it,
 * or finishes. Does not suspend. */
void *ringo_context_get(const ringo_context_key *key);

#ifdef __cplusplus
}
#endif

#endif /* RINGO_CONTEXT_H */
