/*
 * ringo_io_timeout: a timeout for the calling task's next I/O operation
 * only. io.c turns it into an IORING_OP_LINK_TIMEOUT linked to that
 * operation's SQE (a loop timer for splice and tee): the kernel cancels
 * the operation when it passes, and the task still resumes only on the
 * operation's own final completion (buffer safety is the same as for a
 * cancel). It is a shorthand for one operation; a timeout scope
 * (timeout.c) bounds any number of suspensions.
 *
 * The value waits in the task record (struct ringo__task_io) until the
 * next operation takes it: setting it costs a store.
 */
#include "io_internal.h"

int ringo_io_timeout(int64_t timeout_ns)
{
	ringo_task *t = ringo_task_current();
	if (!t)
		return -EPERM;
	ringo__task_io(t)->next_timeout = timeout_ns < 0 ? -1 : timeout_ns;
	return 0;
}
