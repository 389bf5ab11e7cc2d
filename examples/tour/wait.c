/*
 * asyncio.wait: start three tasks, wait at most 2.5 s, and look at the
 * done and pending sets. wait never cancels: the pending task is then
 * awaited to its end.
 *
 *     done, pending = await asyncio.wait(tasks, timeout=2.5)
 */
#include <stdbool.h>
#include <stdio.h>

#include <ringo.h>

struct job {
	const char *name;
	int64_t delay;
};

static int job(void *arg, void **result)
{
	struct job *j = arg;
	int err = ringo_sleep(j->delay);
	if (err < 0)
		return err;
	*result = (void *)j->name;
	return 0;
}

static void print_set(const char *label, ringo_task **tasks, const bool *done, bool want)
{
	printf("%s:", label);
	for (int i = 0; i < 3; i++)
		if (done[i] == want)
			printf(" %s", ringo_task_name(tasks[i]));
	printf("\n");
}

static int main_task(void *arg, void **result)
{
	static struct job jobs[3] = {
		{"fast", RINGO_SEC(1)}, {"medium", RINGO_SEC(2)}, {"slow", RINGO_SEC(3)}};
	ringo_loop *loop = ringo_loop_current();
	ringo_task *tasks[3] = {NULL, NULL, NULL};
	ringo_future *futs[3];
	int err = 0;
	for (int i = 0; i < 3 && err == 0; i++) {
		ringo_task_options o = {.name = jobs[i].name};
		err = ringo_spawn(loop, job, &jobs[i], &o, &tasks[i]);
		futs[i] = ringo_task_future(tasks[i]);
	}
	bool done[3];
	int n = err ? err : ringo_wait(futs, 3, RINGO_ALL_COMPLETED, RINGO_MSEC(2500), done);
	if (n >= 0) {
		printf("after %.1f s: %d done\n", ringo_loop_time(loop), n);
		print_set("done", tasks, done, true);
		print_set("pending", tasks, done, false);
		void *v;
		err = ringo_await(futs[2], &v);
		if (err == 0)
			printf("then %s finished at %.1f s\n", (const char *)v, ringo_loop_time(loop));
	} else {
		err = n;
	}
	for (int i = 0; i < 3; i++)
		ringo_task_release(tasks[i]);
	return err;
}

int main(void)
{
	int err = ringo_run(main_task, NULL, NULL, NULL);
	if (err < 0) {
		fprintf(stderr, "wait: %s\n", ringo_strerror(err));
		return 1;
	}
	return 0;
}
