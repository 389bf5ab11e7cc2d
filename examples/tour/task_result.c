/*
 * The seed's two ways to get a task's result: task.result() after
 * run_until_complete, and a done callback.
 *
 *     async def hello1(a, b):
 *         print("Hello world 01 begin")
 *         await asyncio.sleep(3)
 *         print("Hello again 01 end")
 *         return a + b
 */
#include <stdint.h>
#include <stdio.h>

#include <ringo.h>

struct args {
	intptr_t a, b;
};

static int hello1(void *arg, void **result)
{
	struct args *x = arg;
	printf("Hello world 01 begin\n");
	int err = ringo_sleep(RINGO_SEC(3));
	if (err < 0)
		return err;
	printf("Hello again 01 end\n");
	*result = (void *)(x->a + x->b);
	return 0;
}

static void callback(ringo_future *fut, void *arg)
{
	void *value;
	if (ringo_future_result(fut, &value) == 0)
		printf("%ld\n", (long)(intptr_t)value);
}

/* One run: spawn hello1(10, 5), optionally with the callback. */
static int run(int with_callback)
{
	ringo_loop *loop;
	int err = ringo_loop_new(NULL, &loop);
	if (err < 0)
		return err;
	static struct args args = {10, 5};
	ringo_task *task;
	err = ringo_spawn(loop, hello1, &args, NULL, &task);
	if (err == 0) {
		ringo_future *fut = ringo_task_future(task);
		if (with_callback)
			ringo_future_add_done_callback(fut, callback, NULL);
		void *value;
		err = ringo_loop_run_until_complete(loop, fut, &value);
		if (err == 0 && !with_callback) {
			printf("-------------------------------------\n");
			printf("%ld\n", (long)(intptr_t)value);
		}
		ringo_task_release(task);
	}
	ringo_loop_free(loop);
	return err;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int err = run(0);
	if (err == 0)
		err = run(1);
	if (err < 0) {
		fprintf(stderr, "task_result: %s\n", ringo_strerror(err));
		return 1;
	}
	return 0;
}
