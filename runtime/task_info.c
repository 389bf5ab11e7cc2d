/*
 * What can be asked of tasks: names (a default "task-N" is written only
 * when first asked for), states, the live tasks of a loop and their dump,
 * and the task layer's statistics. Reads task records and the scheduler
 * only.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "task_internal.h" /* first: internal.h's RINGO_ASSERT is the one to use */

/* "task-N" without snprintf, which would be a third of a spawn's cost. */
void ringo__task_default_name(char *name, uint64_t id)
{
	char digits[24];
	int n = 0;
	do {
		digits[n++] = (char)('0' + id % 10);
		id /= 10;
	} while (id);
	memcpy(name, "task-", 5);
	for (int i = 0; i < n; i++)
		name[5 + i] = digits[n - 1 - i];
	name[5 + n] = 0;
}

void ringo__task_metrics(ringo_loop *loop, struct ringo_loop_stats *st)
{
	struct ringo__sched *s = loop->tasks;
	if (!s)
		return; /* no task was ever spawned */
	st->tasks_spawned = s->next_id;
	st->tasks_live = s->nlive;
	st->tasks_peak = s->nlive_peak;
	for (int i = 0; i < RINGO__TASK_POOLS; i++) {
		if (!s->pool_size[i])
			continue;
		struct ringo__stack_stats pst;
		ringo__stack_pool_stats(&s->pools[i], &pst);
		st->stack_bytes_reserved += pst.reserved_bytes;
		/* Not given back: live stacks and free ones kept warm, whole.
		 * (Which of their pages are resident would take mincore over
		 * every stack: 7 ms at 10,000 tasks, too slow for a scrape.) */
		st->stack_bytes_committed +=
			(uint64_t)(pst.stacks_live + pst.stacks_hot) * s->pools[i].stack_size;
	}
}

void ringo__task_stack_stats(ringo_loop *loop, size_t *hot, size_t *cold, size_t *live)
{
	*hot = *cold = *live = 0;
	struct ringo__sched *s = loop->tasks;
	for (int i = 0; s && i < RINGO__TASK_POOLS; i++) {
		if (!s->pool_size[i])
			continue;
		struct ringo__stack_stats st;
		ringo__stack_pool_stats(&s->pools[i], &st);
		*hot += st.stacks_hot;
		*cold += st.stacks_free - st.stacks_hot;
		*live += st.stacks_live;
	}
}

const char *ringo_task_name(ringo_task *t)
{
	if (!t)
		return NULL;
	if (!t->name[0]) /* named on first use: the record is the task's own */
		ringo__task_default_name(t->name, t->id);
	return t->name;
}

/* repr takes a const future: the default name is not written here. */
void ringo__task_label(const ringo_task *t, char *buf, size_t len)
{
	if (t->name[0]) {
		snprintf(buf, len, "%s", t->name);
	} else {
		char name[sizeof(t->name)];
		ringo__task_default_name(name, t->id);
		snprintf(buf, len, "%s", name);
	}
}

int ringo_task_set_name(ringo_task *t, const char *name)
{
	if (!t || !name)
		return -EINVAL;
	snprintf(t->name, sizeof(t->name), "%s", name);
	return 0;
}

enum ringo_task_state ringo_task_state(const ringo_task *t)
{
	return t ? (enum ringo_task_state)t->state : RINGO_TASK_DONE;
}

const char *ringo_task_state_name(enum ringo_task_state st)
{
	switch (st) {
	case RINGO_TASK_PENDING:
		return "pending";
	case RINGO_TASK_RUNNING:
		return "running";
	case RINGO_TASK_SUSPENDED:
		return "suspended";
	case RINGO_TASK_READY:
		return "ready";
	case RINGO_TASK_DONE:
		return "done";
	}
	return "unknown";
}

int ringo_loop_tasks(ringo_loop *loop, ringo_task **tasks, size_t cap)
{
	if (!loop || (cap && !tasks))
		return -EINVAL;
	struct ringo__sched *s = loop->tasks;
	if (!s)
		return 0;
	size_t n = 0;
	for (struct ringo__list *l = s->live.next; l != &s->live; l = l->next, n++)
		if (n < cap)
			tasks[n] = ringo__container_of(l, ringo_task, link);
	return (int)n;
}

static const char *symbol(void *addr, char *buf, size_t len)
{
	Dl_info info;
	if (addr && dladdr(addr, &info) && info.dli_sname)
		snprintf(buf, len, "%s", info.dli_sname);
	else
		snprintf(buf, len, "%p", addr);
	return buf;
}

void ringo_loop_dump_tasks(ringo_loop *loop, FILE *out)
{
	if (!loop || !out)
		return;
	struct ringo__sched *s = loop->tasks;
	size_t n = s ? s->nlive : 0;
	fprintf(out, "ringo: %zu live task%s on loop %p\n", n, n == 1 ? "" : "s", (void *)loop);
	if (!s)
		return;
	for (struct ringo__list *l = s->live.next; l != &s->live; l = l->next) {
		ringo_task *t = ringo__container_of(l, ringo_task, link);
		char fn[64], at[64];
		fprintf(out, "  #%llu '%s' %s, runs %s()", (unsigned long long)t->id,
			ringo_task_name(t),
			ringo_task_state_name((enum ringo_task_state)t->state),
			symbol((void *)t->fn, fn, sizeof(fn)));
		if (t->wait)
			fprintf(out, ", in %s called from %s", t->wait->what,
				symbol(t->suspended_at, at, sizeof(at)));
		if (t->cancel_requests)
			fprintf(out, ", cancelling=%d", t->cancel_requests);
		fputc('\n', out);
	}
}
