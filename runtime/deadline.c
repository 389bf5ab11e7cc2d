/*
 * Deadlines for I/O: a one-shot deadline for the next operation and
 * nestable deadline scopes on a task. Both end up as the deadline of each
 * operation, which io.c turns into an IORING_OP_LINK_TIMEOUT linked to the
 * operation's SQE: the kernel cancels the operation when it passes, and the
 * task still resumes only on the operation's own final completion (buffer
 * safety is the same as for a cancel).
 *
 * The state lives in the task record (struct ringo__task_io): the scope
 * deadline is the minimum over the scopes pushed, each scope remembering
 * the value before it, so push/pop cost nothing and allocate nothing.
 */
#include "io_internal.h"


int ringo_io_deadline(int64_t deadline_ns)
{
	ringo_task *t = ringo_current_task();
	if (!t)
		return -EPERM;
	if (deadline_ns < 0)
		return -EINVAL;
	ringo__task_io(t)->next_deadline = deadline_ns;
	return 0;
}

int ringo_io_timeout(int64_t timeout_ns)
{
	ringo_loop *loop = ringo__current_loop;
	if (!loop || !ringo_current_task())
		return -EPERM;
	if (timeout_ns < 0)
		timeout_ns = 0;
	/* A deadline of exactly "now" still has to be non-zero (0 = none). */
	int64_t when = ringo_loop_time_ns(loop) + timeout_ns;
	return ringo_io_deadline(when > 0 ? when : 1);
}

int ringo_deadline_push(ringo_deadline *scope, int64_t deadline_ns)
{
	ringo_task *t = ringo_current_task();
	if (!scope)
		return -EINVAL;
	if (!t)
		return -EPERM;
	if (deadline_ns <= 0)
		deadline_ns = 1; /* already passed; 0 would mean "none" */
	struct ringo__task_io *tio = ringo__task_io(t);
	scope->deadline = deadline_ns;
	scope->saved = tio->scope_deadline;
	scope->task = t;
	tio->scope_deadline = ringo__earliest(tio->scope_deadline, deadline_ns);
	return 0;
}

void ringo_deadline_pop(ringo_deadline *scope)
{
	if (!scope || !scope->task)
		return;
	/* Popping out of order would restore a wrong deadline: a bug. */
	RINGO_ASSERT(scope->task == ringo_current_task());
	ringo__task_io(scope->task)->scope_deadline = scope->saved;
	scope->task = NULL;
}

bool ringo_deadline_expired(const ringo_deadline *scope)
{
	ringo_loop *loop = ringo__current_loop;
	return scope && loop && ringo_loop_time_ns(loop) >= scope->deadline;
}
