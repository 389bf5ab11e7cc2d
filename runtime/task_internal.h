/*
 * Private to the task layer (task.c, task_cancel.c, task_info.c): the
 * task record and the per-loop scheduler. The rest of the runtime sees a
 * task only through internal.h's ringo__task_* calls.
 *
 * The files, bottom to top (runtime/LAYERS.md): task_cancel.c
 * (cancellation delivery) and task_info.c (names, state, listings,
 * statistics) read and write records only and call nothing of the
 * layer; task.c (the core: spawn, run, switch, suspend, wake, free, sleep
 * and await, the scheduler's life) calls down into them.
 */
#ifndef RINGO_TASK_INTERNAL_H
#define RINGO_TASK_INTERNAL_H

#include "internal.h" /* first: its RINGO_ASSERT is the one to use */
#include "fiber.h"
#include "stack.h"

/* Stack pools, one per distinct stack size in use (few in practice). */
#define RINGO__TASK_POOLS 4

struct ringo__sched {
	ringo_loop *loop;
	ringo__stack_pool pools[RINGO__TASK_POOLS];
	size_t pool_size[RINGO__TASK_POOLS];  /* requested size; 0 = unused entry */
	size_t nstacks;              /* stacks held by tasks not yet freed */
	bool closed;                 /* loop closed: free all at nstacks == 0 */
	bool trim_armed;             /* the stack trim timer is scheduled */
	ringo__fiber main_fiber;     /* the thread's own stack */
	bool main_ready;             /* main_fiber describes the loop's thread */
	ringo_task *current;         /* the running task, NULL in callbacks */
	/* Cancellation delivery (see deliver_cancels): true while the
	 * outermost ringo_task_cancel interrupts waits; the cancels those
	 * interrupts forward are queued on fresh_head instead of recursing. */
	bool delivering;
	ringo_task *fresh_head;
	ringo_task **fresh_tail;
	struct ringo__list live;     /* not-done tasks, in spawn order */
	size_t nlive;
	size_t nlive_peak;           /* the most nlive has been (metrics) */
	uint64_t next_id;            /* for default names "task-N"; = spawns */
};

struct ringo_task {
	ringo_future fut;            /* must stay first: a task is a future */
	struct ringo__work work;     /* ready-queue node: resume this task */
	ringo__fiber fiber;
	ringo__stack stack;          /* this record sits just below stack.hi */
	ringo__stack_pool *pool;     /* where the stack goes back */
	struct ringo__list link;     /* sched->live while not done */
	struct ringo__sched *sched;
	ringo_task_fn *fn;
	void *arg;
	uint8_t state;               /* enum ringo_task_state */
	bool started;                /* first step has run */
	bool cancel_pending;         /* deliver -ECANCELED at next suspension */
	bool cancel_queued;          /* queued or interrupted in the current
				      * delivery (deliver_cancels) */
	int cancel_requests;         /* asyncio cancelling() */
	const char *cancel_msg;
	/* The current wait, while SUSPENDED or READY after one. */
	const struct ringo__wait_ops *wait;
	void *wait_ctx;
	int wake_value;              /* what the suspension call returns */
	ringo_handle timer;          /* sleep's timer */
	struct ringo__task_io io;    /* the next I/O operation's timeout (io_timeout.c) */
	void *suspended_at;          /* return address of the suspending call */
	ringo_task *cancel_next;     /* delivery worklist link, while cancel_queued */
	struct ringo__ctx *ctx;      /* task-local context (context.c), one
				      * reference, until done; NULL: none */
	uint64_t id;
	char name[32];
};

/* ---- task_info.c ---- */

/* "task-N" into name (at least 26 bytes); async-signal-safe. */
void ringo__task_default_name(char *name, uint64_t id);
/* The name, or the default "task-N" without writing it (const). */
void ringo__task_label(const ringo_task *t, char *buf, size_t len);

#endif /* RINGO_TASK_INTERNAL_H */
