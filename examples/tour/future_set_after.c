/*
 * The seed's future example: a future resolved one second later by another
 * task, awaited by main.
 *
 *     async def set_after(fut, delay, value):
 *         await asyncio.sleep(delay)
 *         fut.set_result(value)
 *     async def main():
 *         fut = loop.create_future()
 *         loop.create_task(set_after(fut, 1, '... world'))
 *         print('hello ...')
 *         print(await fut)
 */
#include <stdio.h>

#include <ringo.h>

static int set_after(void *arg, void **result)
{
	ringo_future *fut = arg;
	char repr[128];
	printf("set_after() = %s\n", ringo_future_repr(fut, repr, sizeof(repr)));
	int err = ringo_sleep(RINGO_SEC(1));
	if (err < 0)
		return err;
	printf("asyncio.sleep() = %s\n", ringo_future_repr(fut, repr, sizeof(repr)));
	const char *value = "... world";
	ringo_future_set_result(fut, (void *)value);
	printf("set_result() = %s, value='%s'\n", ringo_future_repr(fut, repr, sizeof(repr)),
	       value);
	return 0;
}

static int main_task(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	ringo_future *fut;
	int err = ringo_future_new(loop, &fut);
	if (err < 0)
		return err;
	char repr[128];
	printf("loop.create_future() = %s\n", ringo_future_repr(fut, repr, sizeof(repr)));
	err = ringo_spawn(loop, set_after, fut, NULL, NULL);
	if (err == 0) {
		printf("hello ...\n");
		void *value;
		err = ringo_await(fut, &value);
		if (err == 0)
			printf("%s\n", (const char *)value);
	}
	ringo_future_release(fut);
	return err;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int err = ringo_run(main_task, NULL, NULL, NULL);
	if (err < 0) {
		fprintf(stderr, "future_set_after: %s\n", ringo_strerror(err));
		return 1;
	}
	return 0;
}
