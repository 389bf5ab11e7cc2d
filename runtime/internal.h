/*
 * Private to the runtime: the loop's layout and the helpers every part of
 * ringo shares. Users must not include this.
 */
#ifndef RINGO_INTERNAL_H
#define RINGO_INTERNAL_H

#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ringo.h"
#include "base.h"
#include "fiber.h" /* ringo__fiber_alloc_away */

/* ---- intrusive doubly linked list (circular, with a head node) ---- */
struct ringo__list {
	struct ringo__list *next;
	struct ringo__list *prev;
};

static inline void ringo__list_init(struct ringo__list *l)
{
	l->next = l;
	l->prev = l;
}

static inline int ringo__list_empty(const struct ringo__list *l)
{
	return l->next == l;
}

/* A node is "unlinked" when it points at itself. */
static inline void ringo__list_insert_tail(struct ringo__list *head, struct ringo__list *n)
{
	RINGO_ASSERT(n->next == n || n->next == NULL);
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static inline void ringo__list_remove(struct ringo__list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n;
	n->prev = n;
}


/* ---- the ready queue ----
 * Everything that runs on the loop is a work item: a scheduled callback
 * record, a task to resume, ... Work items are linked intrusively through
 * `next`, so queueing never allocates. */
struct ringo__work {
	struct ringo__work *next;
	void (*run)(ringo_loop *loop, struct ringo__work *work);
};

/* ---- callback records ----
 * One record per scheduled callback, timer, or future done-callback. The
 * record's (index, generation) is the public handle; generation moves on
 * every time the record is freed, so an old handle never matches again. */
enum ringo__cb_state {
	RINGO__CB_FREE,
	RINGO__CB_READY,     /* in the ready queue */
	RINGO__CB_WAITING,   /* on a pending future's done-callback list */
	RINGO__CB_CANCELLED, /* still queued, will be skipped and freed */
};

enum ringo__cb_kind {
	RINGO__CB_PLAIN, /* fn(arg) */
	RINGO__CB_DONE,  /* done_fn(fut, arg), holds a reference on fut */
	RINGO__CB_AWAIT, /* the task arg awaits fut, behind other callbacks:
			  * woken by the completion itself, never queued */
};

struct ringo__cb {
	struct ringo__work work;  /* ready-queue / done-list / free-list link */
	union {
		ringo_callback_fn *fn;
		ringo_done_fn *done_fn;
	};
	void *arg;
	ringo_future *fut;        /* RINGO__CB_DONE: the future */
	uint32_t generation;      /* bumped on free */
	uint32_t index;           /* position in the record table */
	uint8_t state;            /* enum ringo__cb_state */
	uint8_t kind;             /* enum ringo__cb_kind */
};

#define RINGO__CB_CHUNK_SHIFT 12
#define RINGO__CB_CHUNK (1u << RINGO__CB_CHUNK_SHIFT)

/* ---- timers (timer.c) ----
 * A timer is an entry {when, fn, arg} in a two-level timing wheel with
 * per-slot arrays; when the wheel reaches a slot its entries move into a
 * small "near" heap ordered by (when, seq). Entries carry fn/arg inline and
 * a timer slot number whose liveness lives in the compact live_seq array,
 * so scheduling, cancelling and firing never touch scattered memory. */
struct ringo__tentry {
	int64_t when;
	ringo_callback_fn *fn;
	void *arg;
	uint32_t slot;  /* timer slot: live iff live_seq[slot] == seq */
	uint32_t seq;   /* registration order, never 0 */
};

struct ringo__tvec {
	struct ringo__tentry *v;
	uint32_t len;
	uint32_t cap;
};

#define RINGO__WHEEL_BITS 10
#define RINGO__WHEEL_SLOTS (1u << RINGO__WHEEL_BITS)
#define RINGO__W0_SHIFT 20 /* level-0 slot width: 2^20 ns, about 1 ms */
#define RINGO__W1_SHIFT (RINGO__W0_SHIFT + RINGO__WHEEL_BITS) /* level-1: about 1.07 s */
/* Timer handles have this bit set in their index (callback records never do). */
#define RINGO__TIMER_HANDLE 0x80000000u

struct ringo__timers {
	struct ringo__tvec near;           /* heap of every timer before `base` */
	struct ringo__tvec l0[RINGO__WHEEL_SLOTS]; /* [base, base + 2^W1): by 2^W0 */
	struct ringo__tvec l1[RINGO__WHEEL_SLOTS]; /* next 1023 blocks of 2^W1 */
	uint64_t l0_bits[RINGO__WHEEL_SLOTS / 64]; /* non-empty l0 slots */
	struct ringo__tvec far;            /* heap of timers beyond level 1 */
	struct ringo__tvec due;            /* this iteration's due timers, in order */
	size_t l0_count, l1_count;         /* entries stored per level */
	int64_t base;                      /* multiple of 2^W0 */
	uint32_t *live_seq;                /* per timer slot */
	uint32_t *free_slots;              /* LIFO stack of free timer slots */
	uint32_t nfree;
	uint32_t nslots;                   /* slots ever handed out */
	uint32_t seq;                      /* last registration number */
	size_t live;                       /* timers scheduled, not run/cancelled */
	size_t stale;                      /* cancelled entries still stored */
	size_t bytes;                      /* held by the arrays above and the pool */
	/* Drained wheel arrays kept for the next burst: one LIFO list per
	 * power-of-two capacity, threaded through the arrays (timer.c). */
	struct ringo__tpooled *pool[32];
	uint32_t pool_classes;             /* bit c: pool[c] is not empty */
	uint32_t trims;                    /* trim decisions taken so far */
	int64_t trim_at;                   /* loop time of the next keep-or-give-back
	                                    * decision (the end of this period) */
	size_t peak_live;                  /* most timers live at once this period */
	uint32_t shrink_to;                /* a shrink waits for the live slots
	                                    * at or above this to go (else ~0) */
	uint32_t high_live;                /* live slots >= shrink_to; never 0 but
	                                    * when a waiting shrink may go ahead */
};

/* ---- completion dispatch ----
 * Every SQE the loop submits carries user_data = generation << 32 | slot+1
 * naming an op slot; 0 means "nobody waits for this CQE" (cancels, linked
 * timeouts). A stale or unknown user_data is counted and dropped, never
 * delivered to a reused slot. */
typedef void ringo__cqe_fn(ringo_loop *loop, void *ctx, int32_t res, uint32_t flags);

struct ringo__op_slot {
	ringo__cqe_fn *fn;   /* NULL while free */
	void *ctx;
	uint32_t generation;
	uint32_t next_free;  /* free-list link (slot index + 1), 0 = end */
};

/* Work run right before the iteration's io_uring_enter, after the batch
 * and the due timers: whatever the batch left to send is turned into SQEs
 * there, once (a stream's writes of one iteration go out in one send). */
struct ringo__presubmit {
	struct ringo__list node; /* on loop->presubmit; points at itself when off */
	void (*fn)(ringo_loop *loop, struct ringo__presubmit *p);
};

/* Hooks for parts built on top of the loop (tasks, executor, ...): each
 * registers once per loop; the loop calls them at close. */
struct ringo__close_hook {
	struct ringo__close_hook *next;
	void (*fn)(ringo_loop *loop, void *ctx);
	void *ctx;
};

struct ringo_loop {
	struct io_uring ring;
	unsigned ring_flags;           /* IORING_SETUP_* in effect */
	bool ring_ready;               /* ring created (false after close) */
	bool ring_enabled;             /* R_DISABLED ring enabled on first run */
	bool ring_fd_registered;       /* ring fd registered, only while running */
	bool running;
	bool stopping;
	bool closed;
	bool virtual_clock;
	bool ending;                   /* cancelling every task before the close
	                                * (ringo_run, a loop thread's stop): a
	                                * server accepts no more */
	pthread_t owner;               /* thread that runs it (set on first run) */
	bool has_owner;

	ringo_allocator allocator;
	/* While a compact task runs: where the loop thread's stack was left
	 * (the scheduler fiber's saved stack pointer), for ringo__alloc. */
	void *const *away_sp;
	int64_t slow_callback_ns;      /* <= 0: no stall reports */
	size_t stack_size;             /* default task stack size */

	int64_t vnow;                  /* virtual clock: current time */

	/* ready queue: FIFO of work items; a batch is detached whole */
	struct ringo__work *ready_head;
	struct ringo__work **ready_tail;
	struct ringo__work *batch;     /* rest of the batch being run */

	/* callback records */
	struct ringo__cb **cb_chunks;
	uint32_t cb_nchunks;
	uint32_t cb_used;              /* records carved so far */
	struct ringo__cb *cb_free;     /* LIFO free list (hot records first) */
	size_t cb_live;                /* records not free */
	/* Drops the future reference a queued RINGO__CB_DONE record holds,
	 * so that callback.c and loop.c need not name future.c (the layer
	 * above them). future.c sets it before it makes the first such
	 * record: set whenever one exists. */
	void (*release_future)(ringo_future *fut);

	struct ringo__timers timers;

	/* in-flight kernel operations */
	struct ringo__op_slot *ops;
	uint32_t ops_cap;
	uint32_t ops_free;             /* free-list head (index + 1) */
	uint32_t ops_inflight;
	uint32_t ops_idle;             /* of those, reads that never justify a
	                                * kernel entry (the thread queue's eventfd) */
	uint64_t stale_cqes;           /* completions that matched no op */
	/* Counters for ringo_loop_stats (metrics.c): plain increments, on
	 * paths that touch these lines anyway. */
	uint64_t n_iterations;         /* run_once calls */
	uint64_t n_enters;             /* io_uring_enter calls (ring.c) */
	uint64_t n_sqes;               /* SQEs handed to the kernel */
	uint64_t n_cqes;               /* CQEs reaped */
	uint64_t n_server_conns;       /* connections servers accepted here */

	size_t held;                   /* objects the user holds (ringo__held_inc) */
	struct ringo__close_hook *close_hooks;
	/* Set by the task layer with its scheduler: at close, before any
	 * close hook, every task blocked in a wait leaves it (wait ops'
	 * abandon). NULL: no task was ever spawned. */
	void (*abandon_waits)(ringo_loop *loop);
	/* Run after abandon_waits, before the close hooks, while every
	 * task's stack is still there (ringo__add_early_close_hook). */
	struct ringo__close_hook *early_hooks;

	/* task layer (task.c) */
	void *tasks;                   /* struct ringo__sched *, NULL until first spawn */

	struct ringo__list all_link;   /* on ringo__all_loops (for debuggers) */
	/* I/O layer (io.c): struct ringo__io_state *, NULL until first use */
	void *io;
	/* thread layer (xq.c, threadsafe.c, executor.c) */
	struct ringo__xq *xq;          /* cross-thread queue + eventfd (xq.c), from creation */
	void *exec;                    /* executor.c's per-loop state, NULL until used */
	void *aio;                     /* gather.c's per-loop state, NULL until used */
	void *tsf;                     /* threadsafe.c's per-loop state, NULL until used */
	void *proc;                    /* process.c's per-loop state, NULL until a spawn */
	void *compose;                 /* compose.c's per-loop state, NULL until used */
	/* signal.c: signals this loop handles, NULL until the first is added */
	struct ringo__signals *signals;
	bool check_thread;             /* RINGO_LOOP_CHECK_THREAD or RINGO_DEBUG */
	/* run before each io_uring_enter (struct ringo__presubmit), FIFO */
	struct ringo__list presubmit;
	/* stream layer (stream.c): struct ringo__stream_loop *, NULL until
	 * the first stream; and the bytes every stream of the loop received
	 * and sent (for the metrics: streams add theirs as they go) */
	void *streams;
	/* resolve.c: its getaddrinfo lookups, NULL until the first */
	void *resolve;
	uint64_t stream_bytes_read;
	uint64_t stream_bytes_written;
};

/* ---- allocation through the loop's allocator, and the loop's clock ----
 * Base layer: they read the loop's fields and call nothing in loop.c. */
/* While a compact task runs (loop->away_sp set by the task layer), the
 * allocator is called on the loop thread's idle stack instead of the
 * task's small one (fiber.h). */
static inline void *ringo__alloc(ringo_loop *loop, size_t size)
{
	if (ringo__unlikely(loop->away_sp != NULL))
		return ringo__fiber_alloc_away(loop->away_sp, &loop->allocator,
					       RINGO__ALLOC_NEW, NULL, 0, size);
	return loop->allocator.alloc(loop->allocator.ctx, size);
}

static inline void *ringo__realloc(ringo_loop *loop, void *ptr, size_t old_size, size_t new_size)
{
	if (ringo__unlikely(loop->away_sp != NULL))
		return ringo__fiber_alloc_away(loop->away_sp, &loop->allocator,
					       RINGO__ALLOC_RESIZE, ptr, old_size, new_size);
	return loop->allocator.realloc(loop->allocator.ctx, ptr, old_size, new_size);
}

static inline void ringo__free(ringo_loop *loop, void *ptr, size_t size)
{
	if (!ptr)
		return;
	if (ringo__unlikely(loop->away_sp != NULL))
		ringo__fiber_alloc_away(loop->away_sp, &loop->allocator,
					RINGO__ALLOC_FREE, ptr, size, 0);
	else
		loop->allocator.free(loop->allocator.ctx, ptr, size);
}

static inline int64_t ringo__monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Now on the loop's clock (virtual in tests). */
static inline int64_t ringo__now(ringo_loop *loop)
{
	return loop->virtual_clock ? loop->vnow : ringo__monotonic_ns();
}

/* ---- objects the user holds ----
 * Every object of a loop handed to the user (a future or task, a stream,
 * a process, an as_completed iterator) counts in loop->held from its
 * creation until its memory goes back to the loop's allocator:
 * ringo_loop_free refuses (-EBUSY) while any is alive, since freeing it
 * later would use the freed loop. */
static inline void ringo__held_inc(ringo_loop *loop)
{
	loop->held++;
}

static inline void ringo__held_dec(ringo_loop *loop)
{
	RINGO_ASSERT(loop->held > 0);
	loop->held--;
}

/* Every loop in the process, for debuggers (tools/ringo-gdb.py walks it);
 * guarded by a mutex, touched only at loop creation and free. */
extern struct ringo__list ringo__all_loops;

/* Thread-local: the loop running on this thread, if any. */
extern __thread ringo_loop *ringo__current_loop;


/* Queue a work item at the tail of the ready queue. */
static inline void ringo__ready_push(ringo_loop *loop, struct ringo__work *w)
{
	w->next = NULL;
	*loop->ready_tail = w;
	loop->ready_tail = &w->next;
}

/* A task ending a batch: start the next iteration's batch in place if
 * that iteration would have nothing else to do (loop.c). */
bool ringo__loop_turn_inline(ringo_loop *loop);

/* Callback records. */
struct ringo__cb *ringo__cb_new(ringo_loop *loop);
void ringo__cb_free(ringo_loop *loop, struct ringo__cb *cb);
void ringo__cb_run(ringo_loop *loop, struct ringo__work *w);
static inline ringo_handle ringo__cb_handle(ringo_loop *loop, const struct ringo__cb *cb)
{
	ringo_handle h = {loop, cb->index, cb->generation};
	return h;
}

/* Timers (timer.c). */
void ringo__timers_init(ringo_loop *loop, int64_t now);
int ringo__timer_add(ringo_loop *loop, int64_t when, ringo_callback_fn *fn, void *arg,
		     ringo_handle *handle);
int ringo__timer_cancel(ringo_loop *loop, uint32_t slot, uint32_t seq);
bool ringo__timer_pending(ringo_loop *loop, uint32_t slot, uint32_t seq);
/* The earliest live deadline, if any (may advance the wheel). */
bool ringo__timer_next(ringo_loop *loop, int64_t *when);
/* Collect every timer due at `now` into the due list, in order. */
void ringo__timer_collect_due(ringo_loop *loop, int64_t now);
/* Run the collected due timers (skipping any cancelled meanwhile). */
void ringo__timer_run_due(ringo_loop *loop);
void ringo__timer_destroy(ringo_loop *loop);

/* Futures (future.c). */
struct ringo__future_ops;

struct ringo_future {
	ringo_loop *loop;
	uint32_t refs;
	uint8_t state;                 /* enum ringo__future_state */
	/* NULL: a plain future. Else the kind of a future a higher layer owns
	 * (a task's, a run_in_executor job's), set by that layer right after
	 * ringo__future_init and never changed. */
	const struct ringo__future_ops *ops;
	union {                        /* one or the other, by state: */
		int error;             /* ERROR: the negative errno */
		const char *cancel_msg; /* CANCELLED: message or NULL */
	};
	void *value;                   /* state RESULT: the value; a pending job
					* future: its executor job (to_thread.c) */
	ringo_task *waiter;            /* a task awaiting it, registered before any
					* done callback: woken first, needs no record */
	struct ringo__work *cbs_head;  /* done callback records, FIFO, while pending */
	struct ringo__work **cbs_tail;
};

/* What differs for the futures a higher layer owns, called by future.c
 * without naming that layer (as libuv's uv__io_t). A NULL member means
 * the plain future's behaviour. */
struct ringo__future_ops {
	const char *what;              /* repr's word for it ("Task"); NULL: "Future" */
	/* The last reference is gone (callbacks dropped, held count down):
	 * give back the memory (a task: its stack, where the record lives). */
	void (*free)(ringo_future *fut);
	/* ringo_future_cancel, in any state: the kind's own rule (a task:
	 * ringo_task_cancel; a job: withdraw it from the executor). */
	bool (*cancel)(ringo_future *fut, const char *msg);
	/* The name repr shows, and a waiting task's in a future's repr. */
	void (*name)(const ringo_future *fut, char *buf, size_t len);
	/* set_result/set_error are always refused (-EPERM): asyncio's Task
	 * has none. false: refused while pending (the owner completes it),
	 * -EALREADY once done, as a plain future. */
	bool never_settable;
};

enum ringo__future_state {
	RINGO__FUT_PENDING,
	RINGO__FUT_RESULT,
	RINGO__FUT_ERROR,
	RINGO__FUT_CANCELLED,
};

void ringo__future_init(ringo_future *fut, ringo_loop *loop);
/* Finish a pending future and schedule its callbacks. */
void ringo__future_complete(ringo_future *fut, int state, void *value, int error,
			    const char *msg);
/* A task waits on the pending future (ringo_await): registered in the
 * waiter slot when free, else as a RINGO__CB_AWAIT record after the done
 * callbacks listed so far. 0 or -ENOMEM. */
int ringo__future_add_waiter(ringo_future *fut, ringo_task *task);
void ringo__future_remove_waiter(ringo_future *fut, ringo_task *task);
/* Completion wakes a task that awaits the future (the waiter slot or a
 * RINGO__CB_AWAIT record) through this, directly, in its callback's place
 * in the ready queue (asyncio: the task's __wakeup runs in its call_soon
 * slot), with no extra hop. One waker, the task layer's, installed before
 * its first task runs. */
typedef void ringo__await_wake_fn(ringo_future *fut, ringo_task *task);
void ringo__future_set_waker(ringo__await_wake_fn *fn);
/* A task's record begins with its future (task.c): how future.c reaches
 * a waiting task's name (its future's ops) without naming the task layer. */
static inline const ringo_future *ringo__task_head(const ringo_task *t)
{
	return (const ringo_future *)t;
}
/* Describe a work item for reports; the task layer knows its own. */
void ringo__work_describe(struct ringo__work *w, char *buf, size_t len);
/* A higher layer that queues work items of its own describes them: fn
 * writes buf and returns true for one of its items. One describer (the
 * task layer's), installed before its first item is queued. */
typedef bool ringo__describe_fn(struct ringo__work *w, char *buf, size_t len);
void ringo__set_work_describer(ringo__describe_fn *fn);
/* Open task groups (group.c) are listed per loop (gather.c keeps the
 * list, below group.c): ringo__aio_track links one (0 or -ENOMEM); at
 * close, before its tasks are freed, an early close hook calls abandon on
 * each, which must release what the group still holds and unlink it.
 * abandon is the same for every link of a loop (group.c's). */
typedef void ringo__aio_abandon_fn(struct ringo_wq *link);
int ringo__aio_track(ringo_loop *loop, struct ringo_wq *link, ringo__aio_abandon_fn *abandon);
/* ---- building blocking primitives on tasks ----
 * A primitive (lock, queue, I/O op, ...) suspends the current task with
 * ringo__task_suspend(ops, ctx) after registering it somewhere; whoever
 * completes the wait calls ringo__task_wake(t, value), and the suspend
 * call returns value. ringo_task_cancel() on a suspended task calls
 * ops->interrupt(t): it must either wake the task now (usually with
 * -ECANCELED, after unregistering it) or make sure the wait's own
 * completion wakes it soon (I/O: after the kernel's final CQE). */
struct ringo__wait_ops {
	const char *what;            /* for ringo_loop_dump_tasks: "sleep", "lock", ... */
	void (*interrupt)(ringo_task *t);
	/* true: a wake already queued wins over a cancel that arrives before
	 * the task runs (results that cannot be undone, e.g. I/O); the cancel
	 * is then delivered at the next suspension.
	 * false: the cancel replaces the wake value with -ECANCELED (the
	 * queue and sync primitives: their waiter then takes nothing). */
	bool keep_result;
	/* The loop is closing and t, SUSPENDED in this wait or READY after
	 * it (woken, never to run again), is abandoned where it stands: undo
	 * what the wait left in shared state (a waiter node on the task's
	 * stack linked in a user's lock, a count, a reference) as the task
	 * would after returning, so that nothing points at the stack once it
	 * is freed. Wakes nobody: every task of the loop is being abandoned.
	 * Runs before any close hook (the objects waited on are intact).
	 * Required of every wait kind. */
	void (*abandon)(ringo_task *t);
};

/* Suspend the current task. Returns the wake value; -EPERM outside a
 * task; -ECANCELED at once (nothing waited for) if a cancellation is
 * pending. */
int ringo__task_suspend(const struct ringo__wait_ops *ops, void *ctx);
/* Wake a suspended task; its suspending call returns value. */
void ringo__task_wake(ringo_task *t, int value);
/* The ctx given to ringo__task_suspend (for interrupt handlers). */
void *ringo__task_wait_ctx(const ringo_task *t);
/* Inside interrupt: the cancellation will be delivered by other means
 * (e.g. through an awaited future), do not deliver it again. */
bool ringo__task_cancel_pending(const ringo_task *t);
void ringo__task_clear_cancel(ringo_task *t);
/* The current task received a cancellation from what it waited on (a
 * future cancelled with msg): asyncio's CancelledError carries msg, and
 * the task reports it if it ends cancelled by letting it through. */
void ringo__task_note_cancel(const char *msg);
/* A call consumed the running task's cancellation but reports a partial
 * result instead (ringo_send_all's short count): put the cancellation
 * back so the next suspension delivers it. cancelling() is unchanged. */
void ringo__task_defer_cancel(ringo_task *t);
/* Stacks of the loop's task pools: free and committed, free and given
 * back, in use. For tests and diagnostics. */
void ringo__task_stack_stats(ringo_loop *loop, size_t *hot, size_t *cold, size_t *live);
/* For ringo_loop_stats (metrics.c): each layer fills its fields of *st
 * (task.c: tasks and stacks; to_thread.c: the default executor). */
void ringo__task_metrics(ringo_loop *loop, struct ringo_loop_stats *st);
void ringo__exec_metrics(ringo_loop *loop, struct ringo_loop_stats *st);
/* Per-task I/O state kept in the task record for the I/O layer
 * (io_timeout.c). */
struct ringo__task_io {
	int64_t next_timeout;        /* ns, for the next I/O operation only; < 0: none */
};
struct ringo__task_io *ringo__task_io(ringo_task *t);
/* An I/O operation starts in the current task: the task and its I/O
 * state in *tio, or NULL with *err (-EPERM outside a task; -ECANCELED for
 * a pending cancel, which this consumes). One call where there were three:
 * it is on every operation's path. */
ringo_task *ringo__task_io_begin(struct ringo__task_io **tio, int *err);
/* asyncio's _cancel_all_tasks: cancel every live task and run the loop
 * until they are all done (ringo_run does this before closing). */
void ringo__cancel_all_and_wait(ringo_loop *loop);

/* Completion slots (loop.c). */
int ringo__op_open(ringo_loop *loop, ringo__cqe_fn *fn, void *ctx, uint64_t *user_data);
void ringo__op_close(ringo_loop *loop, uint64_t user_data);
/* An SQE, flushing the submission queue if it is full. NULL only if the
 * ring is gone. */
struct io_uring_sqe *ringo__sqe(ringo_loop *loop);
/* Hand the queued SQEs to the kernel now (io_uring_submit), counted for
 * the metrics. Returns io_uring_submit's result. */
int ringo__ring_submit(ringo_loop *loop);

/* Ring set-up and the per-iteration wait (ring.c). */
int ringo__ring_init(ringo_loop *loop, unsigned entries, bool no_flags);
/* diagnose.c: ring set-up's outcome, so ringo_strerror() can name why
 * io_uring was refused (-EPERM, -ENOSYS) until a ring is set up again. */
void ringo__setup_failed(int err);
void ringo__setup_succeeded(void);
const char *ringo__setup_refusal_text(int err);
int ringo__ring_enable(ringo_loop *loop);
void ringo__ring_exit(ringo_loop *loop);
/* Register the ring fd for the running thread's enters (run start) and
 * drop it (run end, same thread). */
void ringo__ring_fd_register(ringo_loop *loop);
void ringo__ring_fd_unregister(ringo_loop *loop);
void ringo__ring_wait(ringo_loop *loop, int64_t timeout_ns);
/* At close: cancel every operation in flight and wait for the final
 * completions, so nothing writes into memory close frees. */
void ringo__ring_drain(ringo_loop *loop);

int ringo__add_close_hook(ringo_loop *loop, void (*fn)(ringo_loop *, void *), void *ctx);
/* A hook for what lives on task stacks (open task groups): it runs at
 * close before every ordinary hook, after the tasks left their waits. */
int ringo__add_early_close_hook(ringo_loop *loop, void (*fn)(ringo_loop *, void *), void *ctx);
/* Take back a hook added with exactly fn and ctx (before the loop closes;
 * a no-op if there is none). */
void ringo__remove_close_hook(ringo_loop *loop, void (*fn)(ringo_loop *, void *), void *ctx);

/* Queue p to run before the next io_uring_enter (a no-op if queued). */
static inline void ringo__presubmit_add(ringo_loop *loop, struct ringo__presubmit *p)
{
	if (p->node.next == &p->node)
		ringo__list_insert_tail(&loop->presubmit, &p->node);
}
/* Take p off the list (a no-op if it is not on it). */
static inline void ringo__presubmit_del(struct ringo__presubmit *p)
{
	ringo__list_remove(&p->node);
}
static inline void ringo__presubmit_init(struct ringo__presubmit *p,
					 void (*fn)(ringo_loop *, struct ringo__presubmit *))
{
	ringo__list_init(&p->node);
	p->fn = fn;
}

/* signal.c: a signal reached the loop and is not collected yet (its
 * eventfd read's completion is waiting in the kernel). */
/* A signal came for this loop and was not collected yet: one relaxed
 * load of the flag that begins signal.c's per-loop state (set by the
 * handler, cleared by the loop's collect), read by the ring's and the
 * scheduler's "nothing to do in the kernel" shortcuts, which must not
 * skip the eventfd read that delivers it. */
struct ringo__signals_head {
	atomic_bool signalled;
};
static inline bool ringo__signals_pending(const ringo_loop *loop)
{
	const struct ringo__signals_head *h = (const struct ringo__signals_head *)loop->signals;
	return h && atomic_load_explicit(&h->signalled, memory_order_relaxed);
}
/* Signals held by any loop of the process: signal.c counts them, loop.c
 * reads the count in ThreadSanitizer builds to bound its waits (TSan runs
 * a handler only inside an intercepted call). Defined in loop.c, below
 * signal.c, so the loop never calls up into it. */
extern _Atomic unsigned ringo__signals_held_total;

/* Validate "may be called from here": NULL loop, closed loop. */
static inline int ringo__check_open(const ringo_loop *loop)
{
	if (!loop)
		return -EINVAL;
	if (loop->closed)
		return -ESHUTDOWN;
	return 0;
}

/* Debug check for the scheduling calls: refuse a thread other than the
 * loop's (-EXDEV). owner is read unlocked: a foreign caller is the bug
 * being reported, and the loop's own thread always reads its own write. */
static inline int ringo__check_thread(const ringo_loop *loop)
{
	if (ringo__unlikely(loop->check_thread) && loop->has_owner &&
	    !pthread_equal(loop->owner, pthread_self()))
		return -EXDEV;
	return 0;
}

#endif /* RINGO_INTERNAL_H */
