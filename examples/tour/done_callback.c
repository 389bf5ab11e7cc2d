/*
 * The seed's "bind a callback" example: a done callback on a task reads
 * its result; the callback receives the task (a future) itself.
 *
 *     async def MyCoroutine(x):
 *         print('Waiting: ', x)
 *         return 'Done after {}s'.format(x)
 *     def callback(future): print('Callback: ', future.result())
 *     task = asyncio.ensure_future(MyCoroutine(3))
 *     task.add_done_callback(callback)
 *     loop.run_until_complete(task)
 *     print('Task ret: ', task.result())
 */
#include <stdint.h>
#include <stdio.h>

#include <ringo.h>

static char text[64];

static int my_coroutine(void *arg, void **result)
{
	int x = (int)(intptr_t)arg;
	printf("Waiting:  %d\n", x);
	snprintf(text, sizeof(text), "Done after %ds", x);
	*result = text;
	return 0;
}

static void callback(ringo_future *fut, void *arg)
{
	void *value;
	if (ringo_future_result(fut, &value) == 0)
		printf("Callback:  %s\n", (const char *)value);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	ringo_loop *loop;
	int err = ringo_loop_new(NULL, &loop);
	if (err < 0)
		goto fail;
	double start = ringo_loop_time(loop);
	ringo_task *task;
	err = ringo_spawn(loop, my_coroutine, (void *)3, NULL, &task);
	if (err < 0)
		goto fail;
	ringo_future *fut = ringo_task_future(task);
	ringo_future_add_done_callback(fut, callback, NULL);
	err = ringo_loop_run_until_complete(loop, fut, NULL);
	void *value;
	if (err == 0 && ringo_future_result(fut, &value) == 0)
		printf("Task ret:  %s\n", (const char *)value);
	printf("TIME:  %.3f\n", ringo_loop_time(loop) - start);
	ringo_task_release(task);
	ringo_loop_free(loop);
	if (err == 0)
		return 0;
fail:
	fprintf(stderr, "done_callback: %s\n", ringo_strerror(err));
	return 1;
}
