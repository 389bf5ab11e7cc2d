/*
 * The seed's gather example: three coroutines started together, results
 * printed in argument order, 4 s in all (the longest sleep), not 9.
 *
 *     async def hello1(a, b):
 *         print("Hello world 01 begin")
 *         await asyncio.sleep(3)
 *         print("Hello again 01 end")
 *         return a + b
 *     ...                                  # hello2: 2 s, a - b; hello3: 4 s, a * b
 *     results = await asyncio.gather(hello1(10, 5), hello2(10, 5), hello3(10, 5))
 *     for result in results:
 *         print(result)
 */
#include <stdint.h>
#include <stdio.h>

#include <ringo.h>

struct hello {
	int id;
	int64_t delay;
	char op;
	intptr_t a, b;
};

static int hello(void *arg, void **result)
{
	struct hello *h = arg;
	printf("Hello world %02d begin\n", h->id);
	int err = ringo_sleep(h->delay);
	if (err < 0)
		return err;
	printf("Hello again %02d end\n", h->id);
	intptr_t r = h->op == '+' ? h->a + h->b : h->op == '-' ? h->a - h->b : h->a * h->b;
	*result = (void *)r;
	return 0;
}

static int main_task(void *arg, void **result)
{
	static struct hello hellos[3] = {
		{1, RINGO_SEC(3), '+', 10, 5},
		{2, RINGO_SEC(2), '-', 10, 5},
		{3, RINGO_SEC(4), '*', 10, 5},
	};
	ringo_loop *loop = ringo_loop_current();
	double start = ringo_loop_time(loop);
	ringo_task *tasks[3] = {NULL, NULL, NULL};
	ringo_future *futs[3];
	struct ringo_gather_result out[3];
	int err = 0;
	for (int i = 0; i < 3 && err == 0; i++) {
		err = ringo_spawn(loop, hello, &hellos[i], NULL, &tasks[i]);
		futs[i] = ringo_task_future(tasks[i]);
	}
	if (err == 0)
		err = ringo_gather(futs, 3, false, out);
	for (int i = 0; i < 3 && err == 0; i++)
		printf("%ld\n", (long)(intptr_t)out[i].value);
	if (err == 0)
		printf("took %.1f s\n", ringo_loop_time(loop) - start);
	for (int i = 0; i < 3; i++)
		ringo_task_release(tasks[i]);
	return err;
}

int main(void)
{
	int err = ringo_run(main_task, NULL, NULL, NULL);
	if (err < 0) {
		fprintf(stderr, "gather: %s\n", ringo_strerror(err));
		return 1;
	}
	return 0;
}
