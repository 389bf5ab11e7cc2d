/*
 * Sweep scenarios: sleep, await (future and task), gather, wait,
 * wait_for, as_completed, shield, task groups, timeout scopes.
 */
#include <errno.h>
#include <string.h>

#include "sweep.h"

#define VALUE(n) ((void *)(uintptr_t)(0x1000 + (n)))

/* A child task: yields `steps` times, then returns VALUE(id). */
struct child {
	int steps;
	int id;
	int saw_cancel; /* its yields returned -ECANCELED */
};

static int child_main(void *arg, void **result)
{
	struct child *ch = arg;
	for (int i = 0; i < ch->steps; i++) {
		if (ringo_sleep(0) == -ECANCELED) {
			ch->saw_cancel = 1;
			return -ECANCELED;
		}
	}
	*result = VALUE(ch->id);
	return 0;
}

/* The outcome of a done task is its value or cancelled, nothing else. */
static void check_child(struct sweep_ctx *c, ringo_task *t, int id, bool may_cancel)
{
	ringo_future *f = ringo_task_future(t);
	void *v = NULL;
	int rc = ringo_future_result(f, &v);
	SWEEP_CHECK(c, rc == 0 || (may_cancel && rc == -ECANCELED), "child %d ended %d", id, rc);
	SWEEP_CHECK(c, rc != 0 || v == VALUE(id), "child %d value %p", id, v);
}

/* ---- ringo_sleep ---- */

struct sleep_st {
	int64_t start, end;
};

static int sleep_victim(struct sweep_ctx *c)
{
	struct sleep_st *st = sweep_priv(c);
	st->start = ringo_loop_time_ns(sweep_loop(c));
	int rc = ringo_sleep(5 * SWEEP_STEP_NS);
	st->end = ringo_loop_time_ns(sweep_loop(c));
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

static void sleep_check(struct sweep_ctx *c)
{
	struct sleep_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (!sweep_called(c))
		return;
	SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
	SWEEP_CHECK(c, rc != 0 || st->end - st->start >= 5 * SWEEP_STEP_NS, "woke early");
}

/* ---- ringo_await on a plain future ---- */

struct await_fut_st {
	ringo_future *f;
	int set_rc;
	bool done_at_return;
	void *got;
};

static int await_fut_setter(void *arg, void **result)
{
	struct await_fut_st *st = arg;
	sweep_yield(3);
	st->set_rc = ringo_future_set_result(st->f, VALUE(1));
	return 0;
}

static int await_fut_setup(struct sweep_ctx *c)
{
	struct await_fut_st *st = sweep_priv(c);
	int err = ringo_future_new(sweep_loop(c), &st->f);
	if (err < 0)
		return err;
	sweep_spawn_peer(c, await_fut_setter, st);
	return 0;
}

static int await_fut_victim(struct sweep_ctx *c)
{
	struct await_fut_st *st = sweep_priv(c);
	void *v = NULL;
	int rc = ringo_await(st->f, &v);
	st->got = v;
	st->done_at_return = ringo_future_done(st->f);
	return sweep_returned(c, rc, SWEEP_MEM(&v, sizeof(v)));
}

static void await_fut_check(struct sweep_ctx *c)
{
	struct await_fut_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c)) {
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
		SWEEP_CHECK(c, rc != 0 || st->got == VALUE(1), "value %p", st->got);
		/* asyncio: cancelling the awaiting task cancels the future, and
		 * the await returns once it is done, never leaving it pending. */
		SWEEP_CHECK(c, rc != -ECANCELED || st->done_at_return,
			    "await returned -ECANCELED with the future still pending");
	}
	ringo_future_release(st->f);
}

/* ---- ringo_await on a task ---- */

struct await_task_st {
	struct child ch;
	ringo_task *t;
	bool done_at_return;
	void *got;
};

static int await_task_setup(struct sweep_ctx *c)
{
	struct await_task_st *st = sweep_priv(c);
	st->ch = (struct child){.steps = 4, .id = 2};
	st->t = sweep_spawn_peer(c, child_main, &st->ch);
	return st->t ? 0 : -ENOMEM;
}

static int await_task_victim(struct sweep_ctx *c)
{
	struct await_task_st *st = sweep_priv(c);
	void *v = NULL;
	int rc = ringo_await(ringo_task_future(st->t), &v);
	st->got = v;
	st->done_at_return = ringo_future_done(ringo_task_future(st->t));
	return sweep_returned(c, rc, SWEEP_MEM(&v, sizeof(v)));
}

static void await_task_check(struct sweep_ctx *c)
{
	struct await_task_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	check_child(c, st->t, 2, true);
	if (!sweep_called(c))
		return;
	SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
	SWEEP_CHECK(c, rc != 0 || st->got == VALUE(2), "value %p", st->got);
	/* The awaited task is asked to cancel and waited for. */
	SWEEP_CHECK(c, rc != -ECANCELED || st->done_at_return,
		    "await returned -ECANCELED before the awaited task finished");
}

/* ---- ringo_gather ---- */

struct gather_st {
	struct child ch[2];
	ringo_task *t[2];
	bool done_at_return[2];
	struct ringo_gather_result out[2];
};

static int gather_setup(struct sweep_ctx *c)
{
	struct gather_st *st = sweep_priv(c);
	for (int i = 0; i < 2; i++) {
		st->ch[i] = (struct child){.steps = 2 + 2 * i, .id = 10 + i};
		st->t[i] = sweep_spawn_peer(c, child_main, &st->ch[i]);
		if (!st->t[i])
			return -ENOMEM;
	}
	return 0;
}

static int gather_victim(struct sweep_ctx *c)
{
	struct gather_st *st = sweep_priv(c);
	struct ringo_gather_result out[2];
	ringo_future *futs[2] = {ringo_task_future(st->t[0]), ringo_task_future(st->t[1])};
	int rc = ringo_gather(futs, 2, false, out);
	memcpy(st->out, out, sizeof(out));
	for (int i = 0; i < 2; i++)
		st->done_at_return[i] = ringo_future_done(futs[i]);
	return sweep_returned(c, rc, SWEEP_MEM(out, sizeof(out)), SWEEP_MEM(futs, sizeof(futs)));
}

static void gather_check(struct sweep_ctx *c)
{
	struct gather_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	for (int i = 0; i < 2; i++)
		check_child(c, st->t[i], 10 + i, true);
	if (!sweep_called(c))
		return;
	SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
	for (int i = 0; rc == 0 && i < 2; i++)
		SWEEP_CHECK(c, st->out[i].err == 0 && st->out[i].value == VALUE(10 + i),
			    "slot %d: %d %p", i, st->out[i].err, st->out[i].value);
	/* Cancelling gather cancels the children and waits for them. */
	for (int i = 0; rc == -ECANCELED && i < 2; i++)
		SWEEP_CHECK(c, st->done_at_return[i], "child %d still running after gather returned", i);
}

/* ---- ringo_wait (FIRST_COMPLETED) ---- */

struct wait_st {
	struct child ch[2];
	ringo_task *t[2];
	bool done[2];
	bool really_done[2];
};

static int wait_victim(struct sweep_ctx *c)
{
	struct wait_st *st = sweep_priv(c);
	bool done[2] = {false, false};
	ringo_future *futs[2] = {ringo_task_future(st->t[0]), ringo_task_future(st->t[1])};
	int rc = ringo_wait(futs, 2, RINGO_FIRST_COMPLETED, RINGO_FOREVER, done);
	memcpy(st->done, done, sizeof(done));
	for (int i = 0; i < 2; i++)
		st->really_done[i] = ringo_future_done(futs[i]);
	return sweep_returned(c, rc, SWEEP_MEM(done, sizeof(done)), SWEEP_MEM(futs, sizeof(futs)));
}

static int wait_setup(struct sweep_ctx *c)
{
	struct wait_st *st = sweep_priv(c);
	for (int i = 0; i < 2; i++) {
		st->ch[i] = (struct child){.steps = 3 + 2 * i, .id = 20 + i};
		st->t[i] = sweep_spawn_peer(c, child_main, &st->ch[i]);
		if (!st->t[i])
			return -ENOMEM;
	}
	return 0;
}

static void wait_check(struct sweep_ctx *c)
{
	struct wait_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	/* wait never cancels what it waits for. */
	for (int i = 0; i < 2; i++)
		check_child(c, st->t[i], 20 + i, false);
	if (!sweep_called(c))
		return;
	SWEEP_CHECK(c, rc == -ECANCELED || (rc >= 1 && rc <= 2), "rc %d", rc);
	if (rc < 1)
		return;
	int n = 0;
	for (int i = 0; i < 2; i++) {
		n += st->done[i];
		SWEEP_CHECK(c, !st->done[i] || st->really_done[i], "future %d reported done early", i);
	}
	SWEEP_CHECK(c, n == rc, "%d flagged done, %d returned", n, rc);
}

/* ---- ringo_wait_for: in time and timing out ---- */

struct sleeper {
	int64_t sleep_ns;
	int id;
	int rc;
};

static int sleeper_main(void *arg, void **result)
{
	struct sleeper *s = arg;
	s->rc = ringo_sleep(s->sleep_ns);
	if (s->rc < 0)
		return s->rc;
	*result = VALUE(s->id);
	return 0;
}

struct wait_for_st {
	struct sleeper sl;
	ringo_task *t;
	int64_t timeout;
	bool done_at_return;
	void *got;
};

static int wait_for_setup_common(struct sweep_ctx *c, int64_t timeout)
{
	struct wait_for_st *st = sweep_priv(c);
	st->sl = (struct sleeper){.sleep_ns = 4 * SWEEP_STEP_NS, .id = 30};
	st->timeout = timeout;
	st->t = sweep_spawn_peer(c, sleeper_main, &st->sl);
	return st->t ? 0 : -ENOMEM;
}

static int wait_for_setup(struct sweep_ctx *c)
{
	return wait_for_setup_common(c, 8 * SWEEP_STEP_NS);
}

static int wait_for_timeout_setup(struct sweep_ctx *c)
{
	return wait_for_setup_common(c, 2 * SWEEP_STEP_NS);
}

static int wait_for_victim(struct sweep_ctx *c)
{
	struct wait_for_st *st = sweep_priv(c);
	void *v = NULL;
	int rc = ringo_wait_for(ringo_task_future(st->t), st->timeout, &v);
	st->got = v;
	st->done_at_return = ringo_future_done(ringo_task_future(st->t));
	return sweep_returned(c, rc, SWEEP_MEM(&v, sizeof(v)));
}

static void wait_for_check(struct sweep_ctx *c)
{
	struct wait_for_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	check_child(c, st->t, 30, true);
	if (!sweep_called(c))
		return;
	SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED || rc == -ETIMEDOUT, "rc %d", rc);
	SWEEP_CHECK(c, rc != 0 || st->got == VALUE(30), "value %p", st->got);
	SWEEP_CHECK(c, rc != -ETIMEDOUT || st->timeout < st->sl.sleep_ns, "timed out early");
	/* On timeout and on cancel the inner task is cancelled and waited for. */
	SWEEP_CHECK(c, rc == 0 || st->done_at_return, "returned %d with the inner task running", rc);
}

/* ---- ringo_as_completed_next ---- */

struct as_completed_st {
	struct child ch[2];
	ringo_task *t[2];
	ringo_as_completed *it;
	ringo_future *got;
	bool got_done;
};

static int as_completed_setup(struct sweep_ctx *c)
{
	struct as_completed_st *st = sweep_priv(c);
	ringo_future *futs[2];
	for (int i = 0; i < 2; i++) {
		st->ch[i] = (struct child){.steps = 2 + 2 * i, .id = 40 + i};
		st->t[i] = sweep_spawn_peer(c, child_main, &st->ch[i]);
		if (!st->t[i])
			return -ENOMEM;
		futs[i] = ringo_task_future(st->t[i]);
	}
	return ringo_as_completed_new(sweep_loop(c), futs, 2, RINGO_FOREVER, &st->it);
}

static int as_completed_victim(struct sweep_ctx *c)
{
	struct as_completed_st *st = sweep_priv(c);
	ringo_future *f = NULL;
	int rc = ringo_as_completed_next(st->it, &f);
	st->got = f;
	st->got_done = f && ringo_future_done(f);
	return sweep_returned(c, rc, SWEEP_MEM(&f, sizeof(f)));
}

static void as_completed_check(struct sweep_ctx *c)
{
	struct as_completed_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	int yielded[2] = {0, 0};
	if (sweep_called(c)) {
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
		if (rc == 0) {
			SWEEP_CHECK(c, st->got_done, "yielded a future not done");
			for (int i = 0; i < 2; i++)
				yielded[i] += st->got == ringo_task_future(st->t[i]);
		}
	}
	/* Every future is yielded exactly once, by the victim or after. */
	ringo_future *f;
	int n = 0;
	while ((rc = ringo_as_completed_next(st->it, &f)) == 0 && n++ < 4)
		for (int i = 0; i < 2; i++)
			yielded[i] += f == ringo_task_future(st->t[i]);
	SWEEP_CHECK(c, rc == -ENOENT, "draining the iterator: %d", rc);
	for (int i = 0; i < 2; i++)
		SWEEP_CHECK(c, yielded[i] == 1, "future %d yielded %d times", i, yielded[i]);
	for (int i = 0; i < 2; i++)
		check_child(c, st->t[i], 40 + i, false);
	ringo_as_completed_free(st->it);
}

/* ---- ringo_shield: cancelling the outer spares the inner ---- */

struct shield_st {
	struct child ch;
	ringo_task *t;
	ringo_future *outer;
	void *got;
};

static int shield_setup(struct sweep_ctx *c)
{
	struct shield_st *st = sweep_priv(c);
	st->ch = (struct child){.steps = 4, .id = 50};
	st->t = sweep_spawn_peer(c, child_main, &st->ch);
	if (!st->t)
		return -ENOMEM;
	return ringo_shield(ringo_task_future(st->t), &st->outer);
}

static int shield_victim(struct sweep_ctx *c)
{
	struct shield_st *st = sweep_priv(c);
	void *v = NULL;
	int rc = ringo_await(st->outer, &v);
	st->got = v;
	return sweep_returned(c, rc, SWEEP_MEM(&v, sizeof(v)));
}

static void shield_check(struct sweep_ctx *c)
{
	struct shield_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	check_child(c, st->t, 50, false); /* the inner task is never cancelled */
	if (sweep_called(c)) {
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
		SWEEP_CHECK(c, rc != 0 || st->got == VALUE(50), "value %p", st->got);
	}
	ringo_future_release(st->outer);
}

/* ---- ringo_group_wait ---- */

struct group_st {
	struct child ch[2];
	int state_at_return[2]; /* 1 done, 0 running */
	int outcome[2];
	void *value[2];
	size_t nerrs;
};

static int group_victim(struct sweep_ctx *c)
{
	struct group_st *st = sweep_priv(c);
	ringo_group g;
	int err = ringo_group_init(&g);
	if (err < 0)
		return err;
	ringo_task *t[2] = {NULL, NULL};
	for (int i = 0; i < 2; i++) {
		st->ch[i] = (struct child){.steps = 2 + 2 * i, .id = 60 + i};
		ringo_group_spawn(&g, child_main, &st->ch[i], NULL, &t[i]);
	}
	int errs[4];
	size_t nerrs = 0;
	int rc = ringo_group_wait(&g, 0, errs, 4, &nerrs);
	st->nerrs = nerrs;
	for (int i = 0; i < 2; i++) {
		ringo_future *f = t[i] ? ringo_task_future(t[i]) : NULL;
		st->state_at_return[i] = f ? ringo_future_done(f) : -1;
		st->outcome[i] = f ? ringo_future_result(f, &st->value[i]) : -ENOENT;
		if (t[i])
			ringo_task_release(t[i]);
	}
	return sweep_returned(c, rc, SWEEP_MEM(errs, sizeof(errs)), SWEEP_MEM(&nerrs, sizeof(nerrs)),
			      SWEEP_MEM(&g, sizeof(g)));
}

static void group_check(struct sweep_ctx *c)
{
	struct group_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (!sweep_called(c))
		return;
	SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
	SWEEP_CHECK(c, st->nerrs == 0, "%zu child errors", st->nerrs);
	for (int i = 0; i < 2; i++) {
		SWEEP_CHECK(c, st->state_at_return[i] == 1, "child %d not done when the group returned", i);
		SWEEP_CHECK(c, st->outcome[i] == -ECANCELED ||
				       (st->outcome[i] == 0 && st->value[i] == VALUE(60 + i)),
			    "child %d ended %d", i, st->outcome[i]);
		SWEEP_CHECK(c, rc != 0 || st->outcome[i] == 0, "group ok but child %d ended %d", i,
			    st->outcome[i]);
	}
}

/* ---- timeout scopes: the work inside expires or finishes ---- */

struct timeout_st {
	int64_t scope_ns, work_ns;
	int inner;
	bool expired;
};

static int timeout_victim(struct sweep_ctx *c)
{
	struct timeout_st *st = sweep_priv(c);
	ringo_timeout to;
	int err = ringo_timeout_enter(&to, st->scope_ns);
	if (err < 0)
		return err;
	st->inner = ringo_sleep(st->work_ns);
	st->expired = ringo_timeout_expired(&to);
	int rc = ringo_timeout_exit(&to, st->inner);
	return sweep_returned(c, rc, SWEEP_MEM(&to, sizeof(to)));
}

static int timeout_expires_setup(struct sweep_ctx *c)
{
	struct timeout_st *st = sweep_priv(c);
	st->scope_ns = 3 * SWEEP_STEP_NS;
	st->work_ns = 6 * SWEEP_STEP_NS;
	return 0;
}

static int timeout_in_time_setup(struct sweep_ctx *c)
{
	struct timeout_st *st = sweep_priv(c);
	st->scope_ns = 6 * SWEEP_STEP_NS;
	st->work_ns = 3 * SWEEP_STEP_NS;
	return 0;
}

static void timeout_check(struct sweep_ctx *c)
{
	struct timeout_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (!sweep_called(c))
		return;
	bool expires = st->scope_ns < st->work_ns;
	SWEEP_CHECK(c, rc == -ECANCELED || rc == (expires ? -ETIMEDOUT : 0), "rc %d (inner %d)", rc,
		    st->inner);
	/* -ETIMEDOUT only when the scope fired; an outer cancel is never
	 * turned into a timeout (the harness checks it is seen once). */
	SWEEP_CHECK(c, rc != -ETIMEDOUT || st->expired, "-ETIMEDOUT but the scope did not expire");
}

const struct sweep_scenario sweep_core_scenarios[] = {
	{.name = "sleep", .call = "ringo_sleep", .flags = SWEEP_VIRTUAL,
	 .priv_size = sizeof(struct sleep_st), .victim = sleep_victim, .check = sleep_check},
	{.name = "await_future", .call = "ringo_await (future)",
	 .priv_size = sizeof(struct await_fut_st), .setup = await_fut_setup,
	 .victim = await_fut_victim, .check = await_fut_check},
	{.name = "await_task", .call = "ringo_await (task)",
	 .priv_size = sizeof(struct await_task_st), .setup = await_task_setup,
	 .victim = await_task_victim, .check = await_task_check},
	{.name = "gather", .call = "ringo_gather", .priv_size = sizeof(struct gather_st),
	 .setup = gather_setup, .victim = gather_victim, .check = gather_check},
	{.name = "wait", .call = "ringo_wait", .priv_size = sizeof(struct wait_st),
	 .setup = wait_setup, .victim = wait_victim, .check = wait_check},
	{.name = "wait_for", .call = "ringo_wait_for", .flags = SWEEP_VIRTUAL,
	 .priv_size = sizeof(struct wait_for_st), .setup = wait_for_setup,
	 .victim = wait_for_victim, .check = wait_for_check},
	{.name = "wait_for_timeout", .call = "ringo_wait_for (times out)", .flags = SWEEP_VIRTUAL,
	 .priv_size = sizeof(struct wait_for_st), .setup = wait_for_timeout_setup,
	 .victim = wait_for_victim, .check = wait_for_check},
	{.name = "as_completed", .call = "ringo_as_completed_next",
	 .priv_size = sizeof(struct as_completed_st), .setup = as_completed_setup,
	 .victim = as_completed_victim, .check = as_completed_check},
	{.name = "shield", .call = "ringo_shield (cancel the outer)",
	 .priv_size = sizeof(struct shield_st), .setup = shield_setup, .victim = shield_victim,
	 .check = shield_check},
	{.name = "group_wait", .call = "ringo_group_wait", .priv_size = sizeof(struct group_st),
	 .victim = group_victim, .check = group_check},
	{.name = "timeout_expires", .call = "ringo_timeout scope (expires)", .flags = SWEEP_VIRTUAL,
	 .priv_size = sizeof(struct timeout_st), .setup = timeout_expires_setup,
	 .victim = timeout_victim, .check = timeout_check},
	{.name = "timeout_in_time", .call = "ringo_timeout scope (in time)", .flags = SWEEP_VIRTUAL,
	 .priv_size = sizeof(struct timeout_st), .setup = timeout_in_time_setup,
	 .victim = timeout_victim, .check = timeout_check},
};
const size_t sweep_core_count = sizeof(sweep_core_scenarios) / sizeof(sweep_core_scenarios[0]);
