/*
 * Cancellation of tasks (asyncio's rules, see task.c): ringo_task_cancel
 * requests it; a suspended task has its wait interrupted at once (the
 * wait kind's interrupt), one that runs or is ready gets it at its next
 * suspension point (cancel_pending, which the core checks). Reads and
 * writes task records only: the wait kinds do the interrupting.
 */
#include "task_internal.h" /* first: internal.h's RINGO_ASSERT is the one to use */

/* Interrupt the waits of the tasks queued during one delivery. An
 * interrupt may forward the cancellation (a task awaiting a task, gather
 * cancelling its children, a group aborting): those cancels are queued
 * on the fresh list rather than delivered by recursion, and are spliced
 * in front of the rest, so the order is the depth-first order recursion
 * would give while the stack stays flat however deep the chain. A task
 * is interrupted at most once per delivery (it stays cancel_queued until
 * the end): a second request meanwhile is counted and left pending, and
 * tasks awaiting each other in a cycle cannot keep the delivery going. */
static void deliver_cancels(struct ringo__sched *s, ringo_task *first)
{
	RINGO_ASSERT(!s->delivering);
	RINGO_ASSERT(first->cancel_queued);
	s->delivering = true;
	first->cancel_next = NULL;
	ringo_task *work = first, *visited = NULL;
	while (work) {
		ringo_task *t = work;
		work = t->cancel_next;
		t->cancel_next = visited;
		visited = t;
		s->fresh_head = NULL;
		s->fresh_tail = &s->fresh_head;
		/* Woken meanwhile: the pending cancel is delivered when it runs. */
		if (t->state == RINGO_TASK_SUSPENDED && t->cancel_pending)
			t->wait->interrupt(t);
		if (s->fresh_head) {
			*s->fresh_tail = work;
			work = s->fresh_head;
		}
	}
	for (ringo_task *t = visited; t; t = t->cancel_next)
		t->cancel_queued = false;
	s->fresh_head = NULL;
	s->delivering = false;
}

bool ringo_task_cancel(ringo_task *t, const char *msg)
{
	if (!t || t->state == RINGO_TASK_DONE)
		return false;
	t->cancel_requests++;
	t->cancel_msg = msg;
	t->cancel_pending = true;
	if (t->state != RINGO_TASK_SUSPENDED)
		return true; /* delivered at its next suspension point */
	struct ringo__sched *s = t->sched;
	if (s->delivering) {
		if (!t->cancel_queued) {
			t->cancel_queued = true;
			t->cancel_next = NULL;
			*s->fresh_tail = t;
			s->fresh_tail = &t->cancel_next;
		}
		return true;
	}
	t->cancel_queued = true;
	deliver_cancels(s, t);
	return true;
}

int ringo_task_cancelling(const ringo_task *t)
{
	return t ? t->cancel_requests : -EINVAL;
}

int ringo_task_uncancel(ringo_task *t)
{
	if (!t)
		return -EINVAL;
	if (t->cancel_requests > 0)
		t->cancel_requests--;
	if (t->cancel_requests == 0)
		t->cancel_pending = false;
	return t->cancel_requests;
}

/* For the wait kinds' interrupts (internal.h). */
bool ringo__task_cancel_pending(const ringo_task *t)
{
	return t->cancel_pending;
}

void ringo__task_clear_cancel(ringo_task *t)
{
	t->cancel_pending = false;
}

void ringo__task_defer_cancel(ringo_task *t)
{
	RINGO_ASSERT(t->state == RINGO_TASK_RUNNING);
	t->cancel_pending = true;
}
