/*
 * asyncio.to_thread: a blocking call runs on a worker thread while the
 * loop keeps going.
 *
 *     def blocking_io():
 *         print(f"start blocking_io at {time.strftime('%X')}")
 *         time.sleep(1)
 *         print(f"blocking_io complete at {time.strftime('%X')}")
 *     async def main():
 *         print(f"started main at {time.strftime('%X')}")
 *         await asyncio.gather(asyncio.to_thread(blocking_io), asyncio.sleep(1))
 *         print(f"finished main at {time.strftime('%X')}")
 */
#include <stdio.h>
#include <unistd.h>

#include <ringo.h>

static int blocking_io(void *arg, void **result)
{
	printf("start blocking_io\n");
	fflush(stdout);
	sleep(1); /* blocks this worker, not the loop */
	printf("blocking_io complete\n");
	fflush(stdout);
	*result = "io result";
	return 0;
}

static int in_thread(void *arg, void **result)
{
	return ringo_to_thread(blocking_io, NULL, result);
}

static int ticker(void *arg, void **result)
{
	for (int i = 0; i < 3; i++) {
		int err = ringo_sleep(RINGO_MSEC(100));
		if (err < 0)
			return err;
		printf("loop still running\n");
		fflush(stdout);
	}
	return 0;
}

static int main_task(void *arg, void **result)
{
	printf("started main\n");
	fflush(stdout);
	ringo_loop *loop = ringo_loop_current();
	ringo_task *io, *tick;
	int err = ringo_spawn(loop, in_thread, NULL, NULL, &io);
	if (err < 0)
		return err;
	err = ringo_spawn(loop, ticker, NULL, NULL, &tick);
	if (err < 0) {
		ringo_task_release(io);
		return err;
	}
	void *v = NULL;
	err = ringo_await(ringo_task_future(io), &v);
	if (err == 0)
		err = ringo_await(ringo_task_future(tick), NULL);
	ringo_task_release(io);
	ringo_task_release(tick);
	if (err < 0)
		return err;
	printf("finished main: %s\n", (const char *)v);
	return 0;
}

int main(void)
{
	int err = ringo_run(main_task, NULL, NULL, NULL);
	if (err < 0) {
		fprintf(stderr, "to_thread: %s\n", ringo_strerror(err));
		return 1;
	}
	return 0;
}
