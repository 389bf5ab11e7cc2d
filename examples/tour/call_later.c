/*
 * The seed's call_later example: call_soon runs before call_later, and
 * the smaller delay first, wherever they were registered.
 *
 *     loop.call_later(0.2, callback, 1)
 *     loop.call_later(0.1, callback, 2)
 *     loop.call_soon(callback, 3)
 *     await asyncio.sleep(0.4)
 *
 * prints "注册callbacks", then callbacks 3, 2, 1.
 */
#include <stdint.h>
#include <stdio.h>

#include <ringo.h>

static void callback(void *n)
{
	printf("callback %d invoked\n", (int)(intptr_t)n);
}

static int main_task(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	printf("注册callbacks\n");
	ringo_call_later(loop, RINGO_MSEC(200), callback, (void *)1, NULL);
	ringo_call_later(loop, RINGO_MSEC(100), callback, (void *)2, NULL);
	ringo_call_soon(loop, callback, (void *)3, NULL);
	return ringo_sleep(RINGO_MSEC(400));
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int err = ringo_run(main_task, NULL, NULL, NULL);
	if (err < 0) {
		fprintf(stderr, "call_later: %s\n", ringo_strerror(err));
		return 1;
	}
	return 0;
}
