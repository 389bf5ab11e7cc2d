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
	RINGO_ASSERT(s->task != NULL); /* entered */
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

/* when_ns + ... without overflow, and never RINGO_FOREVER by accident. */
static int64_t deadline_after(ringo_loop *loop, int64_t timeout_ns)
{
	RINGO_ASSERT(timeout_ns >= 0); /* callers map < 0 to RINGO_FOREVER */
	int64_t now = ringo_loop_time_ns(loop);
	return timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

static ringo_loop *scope_loop(const ringo_timeout *s)
{
	RINGO_ASSERT(s->task != NULL); /* set by enter */
	return ringo_future_loop(ringo_task_future(s->task));
}

int ringo_timeout_reschedule_at(ringo_timeout *s, int64_t when_ns)
{
	if (!s || s->state != TO_ENTERED)
		return -EINVAL;
	drop_timer(s);
	if (when_ns < 0) {
		s->when = RINGO_FOREVER;
		return 0;
	}
	s->when = when_ns;
	ringo_loop *loop = scope_loop(s);
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

int ringo_timeout_reschedule(ringo_timeout *s, int64_t timeout_ns)
{
	if (!s || s->state != TO_ENTERED)
		return -EINVAL;
	RINGO_ASSERT(s->task != NULL);
	if (timeout_ns < 0)
		return ringo_timeout_reschedule_at(s, RINGO_FOREVER);
	return ringo_timeout_reschedule_at(s, deadline_after(scope_loop(s), timeout_ns));
}

int ringo_timeout_enter_at(ringo_timeout *s, int64_t when_ns)
{
	if (!s)
		return -EINVAL;
	ringo_task *t = ringo_task_current();
	if (!t) {
		s->state = TO_CREATED; /* not entered: reschedule and exit refuse it */
		return -EPERM;
	}
	s->task = t;
	s->has_timer = false;
	s->cancelling = ringo_task_cancelling(t);
	s->state = TO_ENTERED;
	int err = ringo_timeout_reschedule_at(s, when_ns);
	if (err < 0)
		s->state = TO_EXITED;
	return err;
}

int ringo_timeout_enter(ringo_timeout *s, int64_t timeout_ns)
{
	ringo_loop *loop = ringo_loop_current();
	if (timeout_ns < 0 || !loop)
		return ringo_timeout_enter_at(s, RINGO_FOREVER);
	return ringo_timeout_enter_at(s, deadline_after(loop, timeout_ns));
}

int64_t ringo_timeout_expires_at(const ringo_timeout *s)
{
	return s && s->state != TO_CREATED ? s->when : RINGO_FOREVER;
}

bool ringo_timeout_expired(const ringo_timeout *s)
{
	return s && (s->state == TO_EXPIRING || s->state == TO_EXPIRED);
}

int ringo_timeout_exit(ringo_timeout *s, int rc)
{
	if (!s || (s->state != TO_ENTERED && s->state != TO_EXPIRING))
		return -EINVAL;
	if (s->task != ringo_task_current())
		return -EPERM;
	/* Expiring: on_timeout fired, and reschedule refuses from then on. */
	RINGO_ASSERT(s->state == TO_ENTERED || !s->has_timer);
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
