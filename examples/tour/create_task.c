/*
 * create_task: two tasks sleeping 1 s and 2 s run concurrently, so main
 * is done after 2 s, not 3.
 *
 *     task1 = asyncio.create_task(say_after(1, 'hello'))
 *     task2 = asyncio.create_task(say_after(2, 'world'))
 *     print(f"started at {time.strftime('%X')}")
 *     await task1
 *     await task2
 *     print(f"finished at {time.strftime('%X')}")
 */
#include <stdio.h>

#include <ringo.h>

struct say {
	int64_t delay;
	const char *what;
};

static int say_after(void *arg, void **result)
{
	struct say *s = arg;
	int err = ringo_sleep(s->delay);
	if (err < 0)
		return err;
	printf("%s\n", s->what);
	return 0;
}

static int main_task(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	static struct say hello = {RINGO_SEC(1), "hello"}, world = {RINGO_SEC(2), "world"};
	ringo_task *task1, *task2;
	int err = ringo_spawn(loop, say_after, &hello, NULL, &task1);
	if (err < 0)
		return err;
	err = ringo_spawn(loop, say_after, &world, NULL, &task2);
	if (err < 0) {
		ringo_task_release(task1);
		return err;
	}
	double t0 = ringo_loop_time(loop);
	printf("started at %.1f\n", 0.0);
	err = ringo_await(ringo_task_future(task1), NULL);
	if (err == 0)
		err = ringo_await(ringo_task_future(task2), NULL);
	printf("finished at %.1f\n", ringo_loop_time(loop) - t0);
	ringo_task_release(task1);
	ringo_task_release(task2);
	return err;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int err = ringo_run(main_task, NULL, NULL, NULL);
	if (err < 0) {
		fprintf(stderr, "create_task: %s\n", ringo_strerror(err));
		return 1;
	}
	return 0;
}
