/*
 * Private to the runtime: the task-local context's hooks (context.c) for
 * the task layer (spawn inherits, a finished task lets go) and the
 * executor (a worker call sees its job's context). The public side is
 * include/ringo/context.h.
 */
#ifndef RINGO_CONTEXT_INTERNAL_H
#define RINGO_CONTEXT_INTERNAL_H

#include <stdbool.h>

/* An immutable, reference-counted map from keys to value cells; opaque
 * outside context.c. NULL is the empty context, so a task that never
 * sets anything holds (and copies at spawn) a NULL pointer and nothing
 * else. Counts are atomic: executor jobs hold references on workers. */
struct ringo__ctx;

/* One more holder of m (a spawned child, a job); returns m. m != NULL. */
struct ringo__ctx *ringo__context_ref(struct ringo__ctx *m);
/* Drop one holder; the last one releases the map's values (a value no
 * other map holds is destroyed here). NULL is ignored. */
void ringo__context_release(struct ringo__ctx *m);
/* The calling thread's current context as a new reference (NULL for
 * none): the running task's, else the executor call's running on this
 * thread, else none. What ringo_spawn and job submission capture. */
struct ringo__ctx *ringo__context_capture(void);

/* An executor worker runs a job's fn between enter and leave: m (the
 * job's reference, borrowed: may be NULL) is the current context, and a
 * set inside fn makes a private copy that leave releases. saved keeps
 * the thread's previous state (enter/leave nest). */
struct ringo__ctx_frame {
	struct ringo__ctx *map;  /* the call's current context */
	bool owned;              /* map is the call's private copy (a set made it) */
	bool active;             /* inside an executor call */
};
void ringo__context_enter(struct ringo__ctx *m, struct ringo__ctx_frame *saved);
void ringo__context_leave(const struct ringo__ctx_frame *saved);

#endif /* RINGO_CONTEXT_INTERNAL_H */
