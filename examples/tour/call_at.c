/*
 * The seed's call_at example: deadlines on the loop's own monotonic clock
 * (loop.time()); the call_soon callback still runs first.
 *
 *     now = loop.time()
 *     loop.call_at(now + 0.1, call_back, 1, loop)
 *     loop.call_at(now + 0.2, call_back, 2, loop)
 *     loop.call_soon(call_back, 3, loop)
 *     await asyncio.sleep(1)
 */
#include <stdint.h>
#include <stdio.h>

#include <ringo.h>

static void call_back(void *n)
{
	printf("callback %d 运行时间点%.9f\n", (int)(intptr_t)n,
	       ringo_loop_time(ringo_loop_current()));
}

static int main_task(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	int64_t now = ringo_loop_time_ns(loop);
	printf("当前的内部时间 %.9f\n", (double)now / 1e9);
	printf("循环时间 %.9f\n", (double)now / 1e9);
	printf("注册callback\n");
	ringo_call_at(loop, now + RINGO_MSEC(100), call_back, (void *)1, NULL);
	ringo_call_at(loop, now + RINGO_MSEC(200), call_back, (void *)2, NULL);
	ringo_call_soon(loop, call_back, (void *)3, NULL);
	return ringo_sleep(RINGO_SEC(1));
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("进入事件循环\n");
	int err = ringo_run(main_task, NULL, NULL, NULL);
	printf("关闭循环\n");
	if (err < 0) {
		fprintf(stderr, "call_at: %s\n", ringo_strerror(err));
		return 1;
	}
	return 0;
}
