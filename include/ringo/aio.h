/*
 * ringo/aio.h — combinators, structured concurrency, synchronisation and
 * queues (asyncio's gather/wait/wait_for/as_completed/shield, TaskGroup,
 * timeout(), Event/Lock/Semaphore/Condition/Barrier, Queue).
 *
 * Included by ringo.h, and may be included on its own (it includes
 * ringo.h). The conventions at the top of ringo.h apply; in particular
 * "May suspend" means the call is only valid inside a task (-EPERM
 * elsewhere) and returns -ECANCELED when the calling task is cancelled
 * while it waits, or when a timeout scope around it expires.
 *
 * Embeddable objects (ringo_group, ringo_timeout, ringo_event, ringo_lock,
 * ...) are plain structs the caller allocates (usually on the task's stack
 * or inside its own structures). Their fields are private: use only the
 * functions below. Each has an init and, where it owns memory or waiters,
 * a destroy; destroying an object that still has waiting tasks is refused
 * (-EBUSY, nothing changes).
 */
/* ringo.h first: it includes every sub-header, this one included, in
 * dependency order. */
#include "../ringo.h"

#ifndef RINGO_AIO_H
#define RINGO_AIO_H


#ifdef __cplusplus
extern "C" {
#endif

/* Private: a node of the intrusive wait lists below. */
struct ringo_wq {
	struct ringo_wq *next;
	struct ringo_wq *prev;
};

/* ------------------------------------------------------------------------
 * gather / wait / wait_for / as_completed / shield
 * ---------------------------------------------------------------------- */

/* One slot of ringo_gather's output: err is 0 (value valid) or the child's
 * negative errno (-ECANCELED if it was cancelled, -EINPROGRESS if it was
 * still running when gather returned early). */
struct ringo_gather_result {
	int err;
	void *value;
};

/* May suspend. Wait for futs[0..n) (tasks or plain futures; the caller
 * keeps its references, gather takes its own while it waits) and store
 * each outcome in out[i], in argument order. n == 0 returns 0 at once.
 * Without return_exceptions: returns 0 when all succeeded, else the first
 * failure (in completion order; a cancelled child counts, -ECANCELED, and
 * its cancel message passes to the caller as for ringo_await) as soon as
 * it is seen; the other children keep running and their slots
 * read -EINPROGRESS if not yet done. With it: waits for all and returns 0;
 * each slot holds its own outcome.
 * Cancellation (asyncio's gather cancel; also a timeout scope's deadline):
 * cancelling the calling task while it waits, or calling gather with a
 * cancellation pending, cancels every unfinished child (a task is asked
 * to; it may still finish with a result), waits until all of them have
 * finished, then returns -ECANCELED whatever they ended with; out[] then
 * holds each child's outcome.
 * On every return but -EINVAL, -EPERM and -ENOMEM, out[0..n) has been
 * written. On every return gather holds nothing any more: futs and out may
 * be reused, the children left running are the caller's.
 * Errors: -EINVAL (NULL futs/out with n > 0, a NULL entry, a future of
 * another loop), -EPERM outside a task, -ENOMEM; else a child's error. */
int ringo_gather(ringo_future *const *futs, size_t n, bool return_exceptions,
		 struct ringo_gather_result *out);

/* gather without suspending, usable from callbacks: *outer (owned by the
 * caller, ringo_future_release) completes like ringo_gather would return:
 * result NULL when all succeeded (or always, with return_exceptions),
 * else the first failure as its error (a cancelled child cancels outer;
 * asyncio fails it with CancelledError instead, which a ringo future cannot
 * hold). out[0..n) is written as children finish, until outer is done; it
 * must stay valid until then. Cancelling outer cancels every unfinished
 * child (unlike asyncio, outer is cancelled at once rather than when they
 * end). n == 0 gives a future already done. Does not suspend. 0, -EINVAL
 * (NULL loop or outer, NULL futs/out with n > 0, a NULL entry, a future of
 * another loop), -ESHUTDOWN (loop closed), -ENOMEM. */
int ringo_gather_future(ringo_loop *loop, ringo_future *const *futs, size_t n,
			bool return_exceptions, struct ringo_gather_result *out,
			ringo_future **outer);

enum ringo_wait_mode {
	RINGO_FIRST_COMPLETED = 1, /* return when any future is done */
	RINGO_FIRST_EXCEPTION = 2, /* ... when any fails (or all done) */
	RINGO_ALL_COMPLETED = 3,   /* ... when all are done */
};

/* May suspend. asyncio.wait: wait until the condition `mode` holds or
 * timeout_ns passed (negative, RINGO_FOREVER: no limit; 0: do not wait,
 * report what is done now). Never cancels anything. If the condition holds
 * already (or timeout_ns is 0), returns without suspending. done (may be
 * NULL) gets n flags: true for the done set, false for the pending set.
 * Returns the size of the done set (>= 0; a timeout is not an error),
 * -EINVAL (n == 0, NULL futs, a NULL entry, bad mode, a future of another
 * loop), -EPERM outside a task, -ENOMEM, or -ECANCELED: the calling task
 * was cancelled while waiting, or had a cancellation pending; then nothing
 * was consumed or cancelled (the futures keep running) and done[] is not
 * written. On every return wait holds nothing: futs and done may be
 * reused. */
int ringo_wait(ringo_future *const *futs, size_t n, enum ringo_wait_mode mode,
	       int64_t timeout_ns, bool *done);

/* May suspend. asyncio.wait_for as of Python 3.12, where it is
 * `async with timeout(t): return await fut`:
 *  - timeout_ns negative (RINGO_FOREVER): ringo_await(fut, result);
 *  - timeout_ns 0: if fut is done, its outcome at once; else fut is
 *    cancelled and waited for, and its outcome returned, -ETIMEDOUT if it
 *    ended cancelled (a result it returned anyway wins). A cancellation of
 *    the caller meanwhile returns -ECANCELED at once (fut was cancelled
 *    already; it is not waited for further);
 *  - timeout_ns > 0: a timeout scope (ringo_timeout_enter) around
 *    ringo_await(fut). At the deadline the scope cancels the caller, whose
 *    await forwards the cancellation to fut and waits for fut to finish:
 *    wait_for returns only once fut is done. It returns fut's outcome: its
 *    result (0 and *result), also when fut swallowed the cancellation and
 *    returned one, whether the timeout or a cancellation of the caller
 *    caused it; its error; or, if it ended cancelled, -ETIMEDOUT when the
 *    cancellation was the scope's own and no other request for the caller
 *    arrived meanwhile, else -ECANCELED (an outside cancel is never
 *    swallowed). A result fut reaches after the deadline fired but before
 *    the caller ran is not returned (-ETIMEDOUT): fut keeps it.
 * *result is written only on 0 (result may be NULL). The caller keeps its
 * reference to fut. Errors: -EINVAL (NULL fut, a future of another loop),
 * -EPERM outside a task, -EDEADLK (fut is the calling task), -ENOMEM;
 * else fut's own error. */
int ringo_wait_for(ringo_future *fut, int64_t timeout_ns, void **result);

/* An iterator yielding futures in completion order (asyncio.as_completed). */
typedef struct ringo_as_completed ringo_as_completed;

/* Create an iterator over futs[0..n) (n may be 0) with a deadline
 * timeout_ns from now for the whole iteration (negative, RINGO_FOREVER:
 * none; 0: do not wait, only futures already done are yielded). Takes a
 * reference on each future (futs itself may be reused at once). The
 * caller owns *out and frees it with ringo_as_completed_free(). Does not
 * suspend; may be called outside a task. 0, -EINVAL (NULL loop or out,
 * NULL futs with n > 0, a NULL entry, a future of another loop),
 * -ESHUTDOWN (loop closed), -ENOMEM. */
int ringo_as_completed_new(ringo_loop *loop, ringo_future *const *futs, size_t n,
			   int64_t timeout_ns, ringo_as_completed **out);

/* May suspend. Wait for the next future to finish and return 0 with it in
 * *fut (borrowed: valid while the iterator lives); futures that finished
 * are yielded in completion order, also after the deadline. -ENOENT when
 * every future has been yielded; -ETIMEDOUT when the deadline has passed
 * and no finished future is left to yield (the others keep running and
 * may still be yielded by later calls once they finish); -ECANCELED if
 * the calling task was cancelled (nothing was yielded: the next finished
 * future stays for the next call; nothing is cancelled), also when
 * ringo_as_completed_free freed the iterator while this call waited (then
 * it is gone: do not call again); -EPERM outside a task; -EBUSY if
 * another task is already waiting on this iterator; -EINVAL (NULL). */
int ringo_as_completed_next(ringo_as_completed *it, ringo_future **fut);

/* Free the iterator and drop its references. NULL is a no-op. A task
 * waiting in ringo_as_completed_next (also one woken that has not run
 * yet) returns -ECANCELED from it, and the last of the two to leave frees
 * the memory. Does not suspend. */
void ringo_as_completed_free(ringo_as_completed *it);

/* asyncio.shield: make *outer, a new future that completes like inner,
 * but cancelling outer (e.g. by cancelling a task awaiting it) does not
 * cancel inner. Takes a reference on inner until it is done; the caller
 * owns *outer (ringo_future_release). Does not suspend. 0, -EINVAL (NULL
 * inner or outer), -ESHUTDOWN (inner's loop closed), -ENOMEM. If inner is
 * already done, *outer is a done copy. */
int ringo_shield(ringo_future *inner, ringo_future **outer);

/* ------------------------------------------------------------------------
 * Task groups (asyncio.TaskGroup)
 *
 *     ringo_group g;
 *     ringo_group_init(&g);
 *     ringo_group_spawn(&g, child, arg, NULL, NULL);
 *     int rc = do_body_work();            // may be cancelled by the group
 *     rc = ringo_group_wait(&g, rc, errs, 8, &nerrs);
 *
 * The first child to fail cancels its siblings and the parent (so the
 * body's pending wait returns -ECANCELED); ringo_group_wait() waits for
 * every child and reports every error. The group must be waited for
 * before it goes out of scope.
 * ---------------------------------------------------------------------- */
typedef struct ringo_group {
	/* private */
	ringo_loop *loop;
	ringo_task *parent;      /* the task that called init */
	ringo_task *waiter;      /* parent while suspended in group_wait */
	ringo_task **tasks;      /* children spawned (referenced), maybe done */
	size_t ntasks, cap;
	size_t live;             /* children whose done callback has not run */
	int *errs;               /* child errors, in completion order */
	size_t nerrs, errs_cap;
	bool aborting;           /* siblings were cancelled */
	bool exiting;            /* group_wait entered */
	bool finished;           /* group_wait returned */
	bool parent_cancel_requested; /* the group cancelled the parent */
	bool propagate_cancel;   /* parent was cancelled from outside */
	struct ringo_wq link;    /* on its loop's list of open groups */
} ringo_group;

/* Start a group owned by the current task (g is the caller's storage; it
 * must stay put until ringo_group_wait returns). 0, -EPERM outside a
 * task, -EINVAL (NULL), -ENOMEM. Does not suspend. An open group
 * (initialised, not yet waited for) must not be initialised again. If the
 * loop is closed while the group is open (its parent abandoned), close
 * releases what the group holds. */
int ringo_group_init(ringo_group *g);

/* Spawn fn(arg) as a child of the group (see ringo_spawn; out, if not
 * NULL, is an extra reference for the caller). Any task (or callback) of
 * the group's loop may call it. -EINVAL (NULL g, or a group never
 * initialised: zeroed), -ESHUTDOWN once the group is aborting or finished
 * (asyncio: RuntimeError), -ENOMEM, else ringo_spawn's errors. Does not
 * suspend. */
int ringo_group_spawn(ringo_group *g, ringo_task_fn *fn, void *arg,
		      const ringo_task_options *opts, ringo_task **out);

/* May suspend (only the group's parent may call it). Leave the group:
 * body_rc is what the body ended with (0, an error, or -ECANCELED if it
 * was cancelled). A failing body aborts the group. Waits for every child:
 * it returns only when all have finished, so no child outlives the call.
 * Cancelling the caller while it waits (or calling it with a cancellation
 * pending, or a timeout scope expiring) aborts the group (every child is
 * asked to cancel) and it keeps waiting; then it returns -ECANCELED unless
 * something failed.
 * Stores child errors (and the body's error, last, if body_rc < 0 and is
 * not -ECANCELED) in errs[0..cap), and their total count in *nerrs (both
 * may be NULL/0). Returns 0, the first error recorded (errors win over a
 * cancellation from outside, which then stays pending: the parent's next
 * suspension returns -ECANCELED, as asyncio 3.13), or -ECANCELED if the
 * parent was cancelled from outside the group and nothing failed. The
 * group's own cancellation of the parent is taken back (uncancel).
 * Afterwards the group holds nothing: g may be reused (group_init) or
 * go out of scope. -EINVAL (NULL, not initialised, already waited for),
 * -EPERM (not the parent). */
int ringo_group_wait(ringo_group *g, int body_rc, int *errs, size_t cap, size_t *nerrs);

/* ------------------------------------------------------------------------
 * Timeout scopes (asyncio.timeout / timeout_at): the one deadline
 * mechanism. Every suspension inside the scope honours it.
 *
 *     ringo_timeout to;
 *     ringo_timeout_enter(&to, RINGO_SEC(1));
 *     int rc = work();                    // -ECANCELED when it expires
 *     rc = ringo_timeout_exit(&to, rc);   // -> -ETIMEDOUT
 *
 * At the deadline the scope cancels its task (ringo_task_cancel): the
 * call the task is suspended in returns -ECANCELED after its usual cancel
 * clean-up (an I/O operation is cancelled in the kernel and the task
 * resumes on its final completion; an item not taken stays queued, ...).
 * exit converts that cancellation into -ETIMEDOUT only if no other
 * cancellation arrived meanwhile (cancelling() counting, as asyncio), so
 * nested scopes and an outer cancel are never swallowed. An inner scope
 * cannot extend an outer one: whichever expires first fires, and only the
 * one that fired reports -ETIMEDOUT (ringo_timeout_expired tells which).
 *
 * The struct is plain storage: enter initialises it (a zeroed one reads
 * as not entered) and it may be entered again after exit. An entered
 * scope's timer points at it: exit it before its storage goes (returning
 * from the function that holds it without exit is undefined), and do not
 * enter it again while it is entered.
 * ---------------------------------------------------------------------- */
typedef struct ringo_timeout {
	/* private */
	ringo_task *task;
	int64_t when;            /* absolute deadline, or RINGO_FOREVER */
	ringo_handle timer;
	bool has_timer;
	int state;               /* enum in timeout.c */
	int cancelling;          /* task's cancelling() at enter */
} ringo_timeout;

/* Enter a scope in the current task expiring timeout_ns from now
 * (negative, RINGO_FOREVER: no deadline; 0: already expired, so the first
 * suspension is cancelled, as asyncio.timeout(0)). 0, -EINVAL (NULL),
 * -EPERM outside a task (the scope is then not entered), -ENOMEM. Does
 * not suspend. */
int ringo_timeout_enter(ringo_timeout *s, int64_t timeout_ns);
/* As enter, with the deadline at the loop time when_ns (negative,
 * RINGO_FOREVER: none; a time already passed expires on the next
 * iteration, as asyncio.timeout_at). 0, -EINVAL (NULL), -EPERM outside a
 * task, -ENOMEM. Does not suspend. */
int ringo_timeout_enter_at(ringo_timeout *s, int64_t when_ns);
/* Move the deadline to timeout_ns from now (negative, RINGO_FOREVER:
 * remove it; 0: expire on the next iteration). Any task of the loop may
 * call it. 0; -EINVAL if s is NULL, not entered, already expired or
 * exited; -ENOMEM. Does not suspend. */
int ringo_timeout_reschedule(ringo_timeout *s, int64_t timeout_ns);
/* As reschedule, to the loop time when_ns (negative: no deadline; a time
 * already passed expires on the next iteration). 0, -EINVAL, -ENOMEM as
 * reschedule. Does not suspend. */
int ringo_timeout_reschedule_at(ringo_timeout *s, int64_t when_ns);
/* The deadline (loop time) as last set, or RINGO_FOREVER if there is
 * none (also for NULL and a scope never entered). Does not suspend. */
int64_t ringo_timeout_expires_at(const ringo_timeout *s);
/* True once the deadline has fired (false for NULL): tells which of
 * nested scopes expired. Does not suspend. */
bool ringo_timeout_expired(const ringo_timeout *s);
/* Leave the scope: rc is what the guarded work returned. Returns
 * -ETIMEDOUT if the scope expired, rc is -ECANCELED and no other
 * cancellation is pending; else rc unchanged (a result that arrived as the
 * deadline fired wins; an error raised while handling the cancellation is
 * returned as is). The scope's own cancellation request is taken back
 * (uncancel) whatever is returned, so a cancellation it made but that was
 * not delivered yet is dropped. Does not suspend. -EINVAL if the scope is
 * not entered (misuse: not told apart from an rc of -EINVAL), -EPERM from
 * another task than the one that entered it. */
int ringo_timeout_exit(ringo_timeout *s, int rc);

/* ------------------------------------------------------------------------
 * Synchronisation: asyncio's Event, Lock, Semaphore, BoundedSemaphore,
 * Condition and Barrier (3.12+ semantics).
 *
 * Waiters are served FIFO, by asyncio's "wake, then take": a release (set,
 * notify, ...) only wakes the first waiter, which acquires for itself when
 * it runs. So a task cancelled while it waits (or whose timeout scope
 * expires), or after it was woken but before it ran, gets -ECANCELED and
 * holds nothing; whatever its wake announced goes to the next waiter. A
 * call that returns 0 completed: the task holds what it asked for,
 * whatever happens to it afterwards.
 *
 * Objects are plain structs (fields private) that need no memory of their
 * own; init never fails on valid input. An object may be destroyed (or its
 * memory reused) only once destroy returns 0: -EBUSY while a task is still
 * inside a blocking call on it, woken or not. An object is used by the
 * tasks and callbacks of one loop only (asyncio binds it to one loop).
 * ---------------------------------------------------------------------- */

typedef struct ringo_event {
	struct ringo_wq waiters; /* private */
	bool set;
} ringo_event;

/* Initialise (flag clear). NULL is ignored. Does not suspend. */
void ringo_event_init(ringo_event *e);
/* 0, -EBUSY while tasks wait on it, -EINVAL (NULL). Does not suspend. */
int ringo_event_destroy(ringo_event *e);
/* Set the flag and wake every waiter (they run on the next iteration;
 * clearing the flag before then does not stop them). NULL is ignored.
 * Does not suspend. */
void ringo_event_set(ringo_event *e);
/* Clear the flag; later waits block again. NULL is ignored. Does not
 * suspend. */
void ringo_event_clear(ringo_event *e);
/* The flag (false for NULL). Does not suspend. */
bool ringo_event_is_set(const ringo_event *e);
/* May suspend until the flag is set (returns at once if it is). 0;
 * -ECANCELED if the task was cancelled while waiting or after set woke it
 * but before it ran (nothing is consumed: the flag and the other waiters
 * are unaffected); -EPERM outside a task; -EINVAL (NULL). */
int ringo_event_wait(ringo_event *e);

typedef struct ringo_lock {
	struct ringo_wq waiters; /* private: acquirers not yet woken */
	unsigned woken;          /* the head woken by release, not yet run */
	unsigned waiting;        /* tasks inside acquire's wait */
	bool locked;
} ringo_lock;

/* Initialise unlocked. NULL is ignored. Does not suspend. */
void ringo_lock_init(ringo_lock *l);
/* 0, -EBUSY if locked or a task is inside acquire, -EINVAL (NULL). Does
 * not suspend. */
int ringo_lock_destroy(ringo_lock *l);
/* May suspend. Acquire, FIFO-fair: a free lock with waiters queued is not
 * taken over their heads. 0: the lock is held (release it, also if the
 * task is cancelled later). -ECANCELED: the lock is not held by this call;
 * if release had woken this task, the next waiter is woken instead.
 * -EPERM outside a task; -EINVAL (NULL). */
int ringo_lock_acquire(ringo_lock *l);
/* Acquire without waiting: 0, or -EBUSY if locked or others wait (also a
 * woken waiter that has not run yet); -EINVAL (NULL). Does not suspend. */
int ringo_lock_try_acquire(ringo_lock *l);
/* Release and wake the first waiter (it takes the lock when it runs).
 * Locks are not owned (asyncio): any task or callback may release.
 * 0; -EPERM if not locked (asyncio's RuntimeError); -EINVAL (NULL). Does
 * not suspend. */
int ringo_lock_release(ringo_lock *l);
/* True while held (false for NULL). False between a release and the woken
 * waiter's run, as asyncio (ringo_lock_try_acquire still refuses then).
 * Does not suspend. */
bool ringo_lock_locked(const ringo_lock *l);

typedef struct ringo_semaphore {
	struct ringo_wq waiters; /* private: acquirers not yet woken */
	unsigned value;          /* units free (not promised to a woken waiter) */
	unsigned bound;          /* BoundedSemaphore's initial value, 0 = unbounded */
	unsigned woken;          /* waiters woken with a unit, not yet run */
	unsigned waiting;        /* tasks inside acquire's wait */
} ringo_semaphore;

/* Semaphore with an initial value. NULL is ignored. Does not suspend. */
void ringo_semaphore_init(ringo_semaphore *s, unsigned value);
/* BoundedSemaphore: a release above the initial value is -EOVERFLOW. NULL
 * is ignored. Does not suspend. */
void ringo_semaphore_init_bounded(ringo_semaphore *s, unsigned value);
/* 0, -EBUSY while a task is inside acquire, -EINVAL (NULL). Does not
 * suspend. */
int ringo_semaphore_destroy(ringo_semaphore *s);
/* May suspend while the value is 0 or others wait first (FIFO, woken
 * waiters included). 0: one unit acquired. -ECANCELED: no unit acquired;
 * a unit release had given this task goes back and on to the next
 * waiter. -EPERM outside a task; -EINVAL (NULL). */
int ringo_semaphore_acquire(ringo_semaphore *s);
/* 0, or -EBUSY if acquire would wait; -EINVAL (NULL). Does not suspend. */
int ringo_semaphore_try_acquire(ringo_semaphore *s);
/* Release one unit; the first waiter is woken with it. 0; -EOVERFLOW for
 * a bounded semaphore at its bound (or a value at UINT_MAX); -EINVAL
 * (NULL). Does not suspend. */
int ringo_semaphore_release(ringo_semaphore *s);
/* True if acquire would wait (true for NULL). Does not suspend. */
bool ringo_semaphore_locked(const ringo_semaphore *s);
/* Units free now (asyncio's _value: a unit given to a woken waiter is no
 * longer counted); 0 for NULL. Does not suspend. */
unsigned ringo_semaphore_value(const ringo_semaphore *s);

typedef struct ringo_condition {
	struct ringo_wq waiters; /* private */
	ringo_lock *lock;        /* the associated lock (not owned) */
	unsigned waiting;        /* tasks inside wait */
} ringo_condition;

/* Initialise with its lock, which must outlive the condition (asyncio's
 * Condition(lock)). NULL c is ignored. Does not suspend. */
void ringo_condition_init(ringo_condition *c, ringo_lock *lock);
/* 0, -EBUSY while a task is inside wait, -EINVAL (NULL). Does not
 * suspend. */
int ringo_condition_destroy(ringo_condition *c);
/* May suspend. The lock must be locked: release it, wait for a notify,
 * re-acquire it. Whatever is returned, the lock is held again on return
 * (asyncio: it is re-acquired even when cancelled; a cancel that arrives
 * while re-acquiring is reported once it is held). 0: notified.
 * -ECANCELED: cancelled while waiting or re-acquiring; one notification
 * is passed on to another waiter, since this one may have consumed it
 * (a spurious wake-up is allowed, a lost one is not). Before waiting:
 * -EPERM outside a task or if the lock is not locked; -EINVAL (NULL c,
 * or no lock). */
int ringo_condition_wait(ringo_condition *c);
/* May suspend: wait until pred(arg) is true (checked first, with the lock
 * held). 0, -EINVAL (NULL pred), or the first error of condition_wait
 * (-ECANCELED, -EPERM, -EINVAL): the lock is held on every return but
 * those two before the first wait. */
int ringo_condition_wait_for(ringo_condition *c, bool (*pred)(void *arg), void *arg);
/* Wake up to n waiters (FIFO); they return once they hold the lock
 * again. 0; -EPERM if the lock is not locked; -EINVAL (NULL c, or no
 * lock). Does not suspend. */
int ringo_condition_notify(ringo_condition *c, size_t n);
/* Wake every waiter. 0, -EPERM, -EINVAL as notify. Does not suspend. */
int ringo_condition_notify_all(ringo_condition *c);

typedef struct ringo_barrier {
	struct ringo_wq waiters; /* private */
	unsigned parties;
	unsigned count;          /* tasks inside the current cycle (asyncio's _count) */
	unsigned waiting;        /* tasks inside ringo_barrier_wait */
	int state;               /* enum in sync.c */
} ringo_barrier;

/* A barrier for `parties` tasks. 0, or -EINVAL (NULL, 0, > INT_MAX). Does
 * not suspend. */
int ringo_barrier_init(ringo_barrier *b, unsigned parties);
/* 0, -EBUSY while a task is inside wait, -EINVAL (NULL). Does not
 * suspend. */
int ringo_barrier_destroy(ringo_barrier *b);
/* May suspend until `parties` tasks are waiting, as asyncio's Barrier:
 * the last to arrive releases the others; tasks arriving before all the
 * released ones have left wait for the next cycle. Returns the arrival
 * index (0 .. parties-1). -EPIPE if the barrier is or becomes broken
 * (abort) or is reset while waiting (asyncio's BrokenBarrierError).
 * -ECANCELED: the task left the barrier (the count drops when it does);
 * this also holds for a task released by the last party but cancelled
 * before it ran: the others still pass, the barrier is not broken.
 * -EPERM outside a task; -EINVAL (NULL). */
int ringo_barrier_wait(ringo_barrier *b);
/* Break the barrier: waiters and later callers get -EPIPE (until reset).
 * NULL is ignored. Does not suspend. */
void ringo_barrier_abort(ringo_barrier *b);
/* Back to filling: tasks still inside the current cycle get -EPIPE, and
 * the next cycle starts once they have all left. NULL is ignored. Does
 * not suspend. */
void ringo_barrier_reset(ringo_barrier *b);
/* Tasks waiting in the current (filling) cycle; 0 while draining (and for
 * NULL). Does not suspend. */
unsigned ringo_barrier_n_waiting(const ringo_barrier *b);
/* True after abort (until reset); false for NULL. Does not suspend. */
bool ringo_barrier_broken(const ringo_barrier *b);

/* ------------------------------------------------------------------------
 * Queues: FIFO (Queue), LIFO (LifoQueue), priority (PriorityQueue, the
 * smallest item per cmp first), with asyncio 3.13's shutdown. Items are
 * void * owned by the caller: the queue stores the pointer, never what it
 * points to.
 * maxsize 0 = unbounded (the buffer grows through the loop's allocator);
 * a bounded queue allocates its buffer once at init and never again.
 *
 * Waiting getters and putters are served FIFO by "wake, then take"
 * (asyncio): put stores its item and wakes the first getter, which takes
 * an item (the first in the queue's order at that moment) when it runs;
 * get frees a slot and wakes the first putter likewise. Under
 * cancellation every item is in exactly one place: queued, or returned by
 * a get that returned 0. A get or put that returns -ECANCELED took or
 * queued nothing, and passes its wake-up on to the next waiter.
 * A queue belongs to its loop: only that loop's tasks and callbacks may
 * use it. After ringo_queue_destroy (or a failed init) every call below
 * that returns int fails with -EINVAL and changes nothing (shutdown is
 * ignored; the size queries read an empty queue) until init again.
 * ---------------------------------------------------------------------- */
typedef int ringo_queue_cmp_fn(const void *a, const void *b);

typedef struct ringo_queue {
	/* private */
	ringo_loop *loop;
	void **buf;
	size_t cap;              /* slots in buf */
	size_t head, len;        /* FIFO ring: first item, item count */
	size_t maxsize;          /* 0 = unbounded */
	int kind;                /* enum in queue.c */
	ringo_queue_cmp_fn *cmp; /* priority queue order */
	struct ringo_wq getters, putters; /* waiting, not yet woken */
	unsigned waiting;        /* tasks inside a blocking get or put */
	ringo_event finished;    /* set while unfinished == 0 */
	size_t unfinished;       /* put minus task_done */
	bool shutdown;
} ringo_queue;

/* Initialise a FIFO queue on loop (which must outlive it); q is the
 * caller's storage until ringo_queue_destroy. 0, -EINVAL (NULL, maxsize
 * too large), -ENOMEM. Does not suspend. */
int ringo_queue_init(ringo_queue *q, ringo_loop *loop, size_t maxsize);
/* LifoQueue: the newest item first. 0, -EINVAL, -ENOMEM as
 * ringo_queue_init. Does not suspend. */
int ringo_queue_init_lifo(ringo_queue *q, ringo_loop *loop, size_t maxsize);
/* PriorityQueue: cmp orders items like strcmp-style comparators
 * (negative: a first); NULL cmp is -EINVAL. Else as ringo_queue_init
 * (-EINVAL, -ENOMEM). Does not suspend. */
int ringo_queue_init_priority(ringo_queue *q, ringo_loop *loop, size_t maxsize,
			      ringo_queue_cmp_fn *cmp);
/* Free the buffer; q's storage is the caller's again. Items still queued
 * are dropped (they are the caller's). 0; -EBUSY (nothing freed) while a
 * task is inside a blocking get, put or join (also one woken that has not
 * run yet); -EINVAL (NULL, or already destroyed). Does not suspend. */
int ringo_queue_destroy(ringo_queue *q);

/* May suspend while the queue is full. 0: item queued (and counted for
 * join). -ECANCELED: item not queued (the caller still owns it; retrying
 * the put queues it once); a slot a get had announced to this task goes
 * to the next putter. -ESHUTDOWN: shut down (before or while waiting;
 * item not queued). -EPERM outside a task when it would have to wait;
 * -ENOMEM (unbounded growth); -EINVAL (NULL, destroyed, or a task of
 * another loop). */
int ringo_queue_put(ringo_queue *q, void *item);
/* Put without waiting: 0, -ENOBUFS (full), -ESHUTDOWN, -ENOMEM, -EINVAL
 * (NULL or destroyed). Does not suspend. */
int ringo_queue_put_nowait(ringo_queue *q, void *item);
/* May suspend while empty. 0 and *item: taken (*item is written only
 * then). -ECANCELED: nothing taken (an item a put had announced to this
 * task stays queued and the next getter is woken for it). -ESHUTDOWN:
 * shut down and empty (before or while waiting). -EPERM outside a task
 * when it would have to wait; -EINVAL (NULL q or item, destroyed, or a
 * task of another loop). */
int ringo_queue_get(ringo_queue *q, void **item);
/* Get without waiting: 0 and *item, -EAGAIN (empty), -ESHUTDOWN (shut
 * down and empty), -EINVAL (NULL q or item, destroyed). Does not suspend. */
int ringo_queue_get_nowait(ringo_queue *q, void **item);
/* One item taken by get is fully processed. 0, -EINVAL (more task_done
 * than items put, NULL, or destroyed). Does not suspend. */
int ringo_queue_task_done(ringo_queue *q);
/* May suspend until every item put has been marked task_done (at once if
 * none is pending). 0; -ECANCELED (nothing changes in the queue); -EPERM
 * outside a task; -EINVAL (NULL, destroyed, or a task of another loop). */
int ringo_queue_join(ringo_queue *q);
/* Shut down: put fails with -ESHUTDOWN from now on (blocked putters
 * too); get keeps taking what is queued, then fails with -ESHUTDOWN
 * (blocked getters too). immediate also drops the queued items (counting
 * each as task_done, so join can return) so that get fails at once.
 * NULL is ignored. Does not suspend. */
void ringo_queue_shutdown(ringo_queue *q, bool immediate);
/* Items queued now; the maxsize given at init (0: unbounded); size == 0;
 * size >= maxsize for a bounded queue. NULL reads as an empty unbounded
 * queue (0, 0, true, false). Does not suspend. */
size_t ringo_queue_size(const ringo_queue *q);
size_t ringo_queue_maxsize(const ringo_queue *q);
bool ringo_queue_empty(const ringo_queue *q);
bool ringo_queue_full(const ringo_queue *q);

#ifdef __cplusplus
}
#endif

#endif /* RINGO_AIO_H */
