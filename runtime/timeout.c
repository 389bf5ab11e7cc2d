/*
 * Timeout scopes: asyncio.timeout() / timeout_at().
 *
 * The scope remembers its task's cancelling() count at enter. At the
 * deadline it cancels the task (one more request) and becomes EXPIRING.
 * At exit it takes its own request back with uncancel(); only if the count
 * is then back to what it was at enter (nobody else asked) and the work
 * ended cancelled does the cancellation become -ETIMEDOUT. An outer scope
 * or an outer cancel() keeps the count above, so it is never swallowed.
 */
#include "aio_internal.h"

enum { TO_CREATED, TO_ENTERED, TO_EXPIRING, TO_EXPIRED, TO_EXITED };

static void on_timeout(void *arg)
{
	ringo_timeout *s = arg;
	/* Only a scope entered twice without exit (a bug) leaves a second
	 * timer behind; it finds the scope expired or exited: nothing to do. */
	if (s->state != TO_ENTERED)
		return;
	s->has_timer = false;
	ringo_task_cancel(s->task, "timeout");
	s->state = TO_EXPIRING;
}

static void drop_timer(ringo_timeout *s)
{
	if (s->has_timer)
		ringo_handle_cancel(s->timer);
	s->has_timer = false;
}

int ringo_timeout_reschedule(ringo_timeout *s, int64_t when_ns)
{
	if (!s || s->state != TO_ENTERED)
		return -EINVAL;
	drop_timer(s);
	s->when = when_ns;
	if (when_ns == RINGO_NO_TIMEOUT)
		return 0;
	ringo_loop *loop = ringo_future_loop(ringo_task_future(s->task));
	int err;
	/* asyncio: a deadline already past fires through call_soon. */
	if (when_ns <= ringo_loop_time_ns(loop))
		err = ringo_call_soon(loop, on_timeout, s, &s->timer);
	else
		err = ringo_call_at(loop, when_ns, on_timeout, s, &s->timer);
	if (err < 0)
		return err;
	s->has_timer = true;
	return 0;
}

int ringo_timeout_enter_at(ringo_timeout *s, int64_t when_ns)
{
	if (!s)
		return -EINVAL;
	ringo_task *t = ringo_current_task();
	if (!t) {
		s->state = TO_CREATED; /* not entered: reschedule and exit refuse it */
		return -EPERM;
	}
	s->task = t;
	s->has_timer = false;
	s->cancelling = ringo_task_cancelling(t);
	s->state = TO_ENTERED;
	int err = ringo_timeout_reschedule(s, when_ns);
	if (err < 0)
		s->state = TO_EXITED;
	return err;
}

int ringo_timeout_enter(ringo_timeout *s, int64_t delay_ns)
{
	ringo_loop *loop = ringo_loop_current();
	if (delay_ns == RINGO_NO_TIMEOUT || !loop)
		return ringo_timeout_enter_at(s, RINGO_NO_TIMEOUT);
	/* asyncio.timeout(-11): a deadline already passed, it fires at once. */
	int64_t now = ringo_loop_time_ns(loop);
	int64_t when = delay_ns > INT64_MAX - now ? INT64_MAX : now + delay_ns;
	if (when == RINGO_NO_TIMEOUT)
		when = RINGO_NO_TIMEOUT - 1;
	return ringo_timeout_enter_at(s, when);
}

int64_t ringo_timeout_when(const ringo_timeout *s)
{
	return s ? s->when : RINGO_NO_TIMEOUT;
}

bool ringo_timeout_expired(const ringo_timeout *s)
{
	return s && (s->state == TO_EXPIRING || s->state == TO_EXPIRED);
}

int ringo_timeout_exit(ringo_timeout *s, int rc)
{
	if (!s || (s->state != TO_ENTERED && s->state != TO_EXPIRING))
		return -EINVAL;
	if (s->task != ringo_current_task())
		return -EPERM;
	drop_timer(s);
	if (s->state == TO_ENTERED) {
		s->state = TO_EXITED;
		return rc;
	}
	s->state = TO_EXPIRED;
	/* Ours is taken back; a result (rc >= 0) always wins. */
	if (ringo_task_uncancel(s->task) <= s->cancelling && rc == -ECANCELED)
		return -ETIMEDOUT;
	return rc;
}
