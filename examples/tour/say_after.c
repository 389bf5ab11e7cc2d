/*
 * The seed's say_after: two awaited sleeps in sequence, 3 s in all.
 *
 *     async def say_after_time(delay, what):
 *         await asyncio.sleep(delay)
 *         print(what)
 *     async def main():
 *         print(f"开始时间为: {time.time()}")
 *         await say_after_time(1, "hello")
 *         await say_after_time(2, "world")
 *         print(f"结束时间为: {time.time()}")
 *
 * Times are printed as loop.time() since the start, so the run reads the
 * same on real and on virtual time.
 */
#include <stdio.h>

#include <ringo.h>

static int say_after_time(int64_t delay, const char *what)
{
	int err = ringo_sleep(delay);
	if (err < 0)
		return err;
	printf("%s\n", what);
	return 0;
}

static int main_task(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	double t0 = ringo_loop_time(loop);
	printf("开始时间为: %.1f\n", 0.0);
	int err = say_after_time(RINGO_SEC(1), "hello");
	if (err == 0)
		err = say_after_time(RINGO_SEC(2), "world");
	printf("结束时间为: %.1f\n", ringo_loop_time(loop) - t0);
	return err;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int err = ringo_run(main_task, NULL, NULL, NULL);
	if (err < 0) {
		fprintf(stderr, "say_after: %s\n", ringo_strerror(err));
		return 1;
	}
	return 0;
}
