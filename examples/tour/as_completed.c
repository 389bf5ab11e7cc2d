/*
 * asyncio.as_completed: results in the order the work finishes, not the
 * order it was started, with an overall timeout.
 *
 *     for coro in asyncio.as_completed(aws, timeout=5):
 *         earliest = await coro
 */
#include <errno.h>
#include <stdio.h>

#include <ringo.h>

struct job {
	const char *what;
	int64_t delay;
};

static int job(void *arg, void **result)
{
	struct job *j = arg;
	int err = ringo_sleep(j->delay);
	if (err < 0)
		return err;
	*result = (void *)j->what;
	return 0;
}

static int main_task(void *arg, void **result)
{
	static struct job jobs[3] = {
		{"three seconds", RINGO_SEC(3)}, {"one second", RINGO_SEC(1)}, {"two seconds", RINGO_SEC(2)}};
	ringo_loop *loop = ringo_loop_current();
	ringo_task *tasks[3] = {NULL, NULL, NULL};
	ringo_future *futs[3];
	int err = 0;
	for (int i = 0; i < 3 && err == 0; i++) {
		err = ringo_spawn(loop, job, &jobs[i], NULL, &tasks[i]);
		futs[i] = ringo_task_future(tasks[i]);
	}
	ringo_as_completed *it = NULL;
	if (err == 0)
		err = ringo_as_completed_new(loop, futs, 3, RINGO_SEC(5), &it);
	ringo_future *next;
	while (err == 0 && (err = ringo_as_completed_next(it, &next)) == 0) {
		void *v;
		if (ringo_future_result(next, &v) == 0)
			printf("%.0f s: %s\n", ringo_loop_time(loop), (const char *)v);
	}
	if (err == -ENOENT)
		err = 0;
	ringo_as_completed_free(it);
	for (int i = 0; i < 3; i++)
		ringo_task_release(tasks[i]);
	return err;
}

int main(void)
{
	int err = ringo_run(main_task, NULL, NULL, NULL);
	if (err < 0) {
		fprintf(stderr, "as_completed: %s\n", ringo_strerror(err));
		return 1;
	}
	return 0;
}
