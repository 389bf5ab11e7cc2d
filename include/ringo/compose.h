/*
 * ringo/compose.h — composition helpers built on tasks, gather and
 * timeout scopes: ringo_map (a bounded fan-out), ringo_timeout_call,
 * scope guards that release on every return path, and RINGO_INT /
 * RINGO_PTR for small integers passed as void *.
 */
/* ringo.h first: it includes every sub-header, this one included, in
 * dependency order. */
#include "../ringo.h"

#ifndef RINGO_COMPOSE_H
#define RINGO_COMPOSE_H

#include <errno.h>
#include <stdint.h>


#ifdef __cplusplus
extern "C" {
#endif

/* Small integers through void * arguments and results, without casts in
 * user code: ringo_spawn(loop, fn, RINGO_PTR(i), NULL, &t) and, in fn,
 * int i = (int)RINGO_INT(arg); *result = RINGO_PTR(n) ... RINGO_INT(v).
 * Any value that fits in intptr_t round-trips. */
#define RINGO_PTR(i) ((void *)(intptr_t)(i))
#define RINGO_INT(p) ((intptr_t)(p))

/* ------------------------------------------------------------------------
 * ringo_map: fn over many arguments, a bounded number at a time
 *
 *     // fetch 10,000 URLs, at most 100 connections open at once
 *     static int fetch(void *arg, void **result);   // a task body
 *     struct ringo_gather_result *res = calloc(n, sizeof(*res));
 *     ringo_map_options mo = {.concurrency = 100, .return_exceptions = true};
 *     int rc = ringo_map(fetch, (void *const *)urls, n, &mo, res);
 *     // rc: 0, or -ECANCELED if this task was cancelled (or timed out
 *     // under a timeout scope); res[i] is urls[i]'s outcome
 * ---------------------------------------------------------------------- */
typedef struct ringo_map_options {
	/* At most this many of the tasks run at once (started, not yet
	 * finished); the next starts as one finishes. 0 = all at once. */
	size_t concurrency;
	/* false: the first failure stops the map (see ringo_map); true:
	 * every item runs, each slot holds its own outcome. */
	bool return_exceptions;
	/* Options for each task (name, stack size); NULL = defaults. */
	const ringo_task_options *task;
} ringo_map_options;

/* May suspend. Run fn(args[i]) as a task for each i in [0, n), at most
 * opts->concurrency at a time, in argument order of starting, and store
 * each task's outcome in out[i] (err 0 and value, or its negative errno;
 * -ECANCELED also for an item never started). opts may be NULL (all at
 * once, stop at the first failure). The tasks are spawned by the calling
 * task on its loop and inherit its context (ringo/context.h); a spawn
 * that fails (-ENOMEM, ...) is that item's outcome. n == 0 returns 0 at
 * once.
 * Returns only when every task it started has finished: no task
 * outlives the call, and the map holds no reference afterwards; args,
 * what they point to and out may be reused at once. Returns:
 *  - 0: every item ran to a result, or, with return_exceptions, every
 *    item ran (each slot tells how);
 *  - without return_exceptions, the first failure in completion order
 *    (a task that ended cancelled counts, -ECANCELED with its cancel
 *    message passed to the caller as for ringo_await): then nothing more
 *    is started, the tasks still running are cancelled and waited for,
 *    and their slots hold what they ended with (a task may still finish
 *    with a result);
 *  - -ECANCELED: the calling task was cancelled while it waited (a timeout
 *    scope expiring included), or had a cancellation pending at the call:
 *    nothing more is started, every running task is cancelled and waited
 *    for, and slots hold their outcomes (-ECANCELED for those never
 *    started; with a cancellation pending at the call nothing starts).
 * Errors (nothing started, out not written): -EINVAL (NULL fn, NULL args
 * or out with n > 0), -EPERM outside a task, -ENOMEM (the call's record). */
int ringo_map(ringo_task_fn *fn, void *const *args, size_t n, const ringo_map_options *opts,
	      struct ringo_gather_result *out);

/* May suspend (as fn does). Run fn(arg, &value) in the calling task (no
 * task is spawned) under a timeout scope of timeout_ns (< 0: no limit;
 * 0: fn must finish without suspending; see ringo_timeout_enter). Returns
 * fn's outcome (0 or more, with *result = value if result is not NULL;
 * *result is written only then), or -ETIMEDOUT if the scope expired and
 * fn gave up (returned -ECANCELED). A result fn returns after the
 * deadline fired is kept (and the scope's cancellation taken back).
 * Nested under an outer scope or cancelled from outside, the outer
 * cancellation is never swallowed: -ECANCELED, so an outer deadline that
 * is earlier wins, and a plain cancel stays a cancel. What a timeout or
 * cancel leaves behind is what fn's own calls leave (each suspending
 * call's comment). -EINVAL (NULL fn), -EPERM outside a task (fn not
 * run), -ENOMEM (no timer: fn not run). */
int ringo_timeout_call(int64_t timeout_ns, ringo_task_fn *fn, void *arg, void **result);

/* ------------------------------------------------------------------------
 * Scope guards (GCC and Clang: __attribute__((cleanup))). A guard is a
 * local variable that releases what it holds when it goes out of scope,
 * on every return path. The guard macros declare it; acquire through the
 * guard; a failed acquire leaves it holding nothing, so nothing is
 * released. One guard holds one thing at a time: -EBUSY if it already
 * holds. The release functions let go early (the scope's end then does
 * nothing). Guards belong to the task that declares them.
 *
 * Lock:
 *     int account_add(struct account *a, int64_t amount)
 *     {
 *             RINGO_LOCK_GUARD(g);
 *             int rc = ringo_lock_guard_acquire(&g, &a->lock);
 *             if (rc < 0)
 *                     return rc;          // -ECANCELED: nothing held
 *             if (a->balance + amount < 0)
 *                     return -EINVAL;     // the lock is released here
 *             rc = ledger_write(a, amount); // may suspend, be cancelled
 *             a->balance += amount;
 *             return rc;                  // ... and here
 *     }
 *
 * Semaphore (a connection limit):
 *     RINGO_SEMAPHORE_GUARD(slot);
 *     int rc = ringo_semaphore_guard_acquire(&slot, &conn_limit);
 *     if (rc < 0)
 *             return rc;
 *     return serve(fd);                   // the unit goes back on return
 *
 * Timeout scope (exits the scope on every path; exit through the guard
 * to get -ETIMEDOUT, an early return gives what it returns):
 *     RINGO_TIMEOUT_GUARD(to);
 *     int rc = ringo_timeout_guard_enter(&to, RINGO_SEC(5));
 *     if (rc < 0)
 *             return rc;
 *     rc = handshake(fd);
 *     if (rc < 0)
 *             return rc;                  // scope exited: -ECANCELED here
 *     rc = read_request(fd, &req);
 *     return ringo_timeout_guard_exit(&to, rc); // -ETIMEDOUT on expiry
 * ---------------------------------------------------------------------- */
#ifdef __cplusplus
#define RINGO__GUARD_INIT {}
#else
#define RINGO__GUARD_INIT {0}
#endif

typedef struct ringo_lock_guard {
	ringo_lock *held; /* released at scope exit; NULL: nothing held */
} ringo_lock_guard;

/* May suspend, as ringo_lock_acquire(l), whose outcome it returns: on 0
 * the guard holds l; on -ECANCELED (or any error) it holds nothing.
 * -EBUSY: the guard already holds a lock (nothing done). */
static inline int ringo_lock_guard_acquire(ringo_lock_guard *g, ringo_lock *l)
{
	if (g->held)
		return -EBUSY;
	int rc = ringo_lock_acquire(l);
	if (rc == 0)
		g->held = l;
	return rc;
}

/* Does not suspend. Release the lock now if the guard holds one: 0 (also
 * when it held nothing) or ringo_lock_release's error. */
static inline int ringo_lock_guard_release(ringo_lock_guard *g)
{
	ringo_lock *l = g->held;
	g->held = NULL;
	return l ? ringo_lock_release(l) : 0;
}

static inline void ringo__lock_guard_cleanup(ringo_lock_guard *g)
{
	(void)ringo_lock_guard_release(g);
}

/* Declare a lock guard `name` that releases at the end of its scope. */
#define RINGO_LOCK_GUARD(name)                                                                \
	__attribute__((cleanup(ringo__lock_guard_cleanup))) ringo_lock_guard name =         \
		RINGO__GUARD_INIT

typedef struct ringo_semaphore_guard {
	ringo_semaphore *held; /* one unit released at scope exit; NULL: none */
} ringo_semaphore_guard;

/* May suspend, as ringo_semaphore_acquire(s): on 0 the guard holds one
 * unit of s; on -ECANCELED (or any error) nothing. -EBUSY: the guard
 * already holds a unit (nothing done). */
static inline int ringo_semaphore_guard_acquire(ringo_semaphore_guard *g, ringo_semaphore *s)
{
	if (g->held)
		return -EBUSY;
	int rc = ringo_semaphore_acquire(s);
	if (rc == 0)
		g->held = s;
	return rc;
}

/* Does not suspend. Give the unit back now if the guard holds one: 0
 * (also when it held nothing) or ringo_semaphore_release's error. */
static inline int ringo_semaphore_guard_release(ringo_semaphore_guard *g)
{
	ringo_semaphore *s = g->held;
	g->held = NULL;
	return s ? ringo_semaphore_release(s) : 0;
}

static inline void ringo__semaphore_guard_cleanup(ringo_semaphore_guard *g)
{
	(void)ringo_semaphore_guard_release(g);
}

#define RINGO_SEMAPHORE_GUARD(name)                                                           \
	__attribute__((cleanup(ringo__semaphore_guard_cleanup))) ringo_semaphore_guard name = \
		RINGO__GUARD_INIT

typedef struct ringo_timeout_guard {
	bool entered;          /* the scope is entered, not yet exited */
	ringo_timeout scope;
} ringo_timeout_guard;

/* Does not suspend. Enter a timeout scope of timeout_ns (< 0: no limit)
 * in the calling task, as ringo_timeout_enter, whose outcome it returns;
 * on 0 the guard exits it at the end of its scope. -EBUSY: the guard's
 * scope is already entered. */
static inline int ringo_timeout_guard_enter(ringo_timeout_guard *g, int64_t timeout_ns)
{
	if (g->entered)
		return -EBUSY;
	int rc = ringo_timeout_enter(&g->scope, timeout_ns);
	g->entered = rc == 0;
	return rc;
}

/* Does not suspend. Exit the scope as ringo_timeout_exit(scope, rc): the
 * work's rc, with -ECANCELED turned into -ETIMEDOUT when the scope's own
 * deadline caused it. If the scope is not entered (enter failed, or it was
 * exited already), returns rc unchanged. */
static inline int ringo_timeout_guard_exit(ringo_timeout_guard *g, int rc)
{
	if (!g->entered)
		return rc;
	g->entered = false;
	return ringo_timeout_exit(&g->scope, rc);
}

/* At scope end without an exit: the scope's timer is cancelled and its
 * own cancellation request taken back, as exit does; the function's
 * return value is what it returned (no conversion). */
static inline void ringo__timeout_guard_cleanup(ringo_timeout_guard *g)
{
	(void)ringo_timeout_guard_exit(g, 0);
}

#define RINGO_TIMEOUT_GUARD(name)                                                             \
	__attribute__((cleanup(ringo__timeout_guard_cleanup))) ringo_timeout_guard name =     \
		RINGO__GUARD_INIT

#ifdef __cplusplus
}
#endif

#endif /* RINGO_COMPOSE_H */
