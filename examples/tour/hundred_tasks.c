/*
 * The seed's hundred tasks: each sleeps a random 1-5 s; they overlap, so
 * all are done in about 5 s.
 *
 *     async def MyCoroutine(id):
 *         process_time = random.randint(1, 5)
 *         await asyncio.sleep(process_time)
 *         print('协程：{}, 执行完毕。用时：{}秒'.format(id, process_time))
 *     tasks = [asyncio.ensure_future(MyCoroutine(i)) for i in range(100)]
 *     await asyncio.gather(*tasks)
 *
 * (ringo's gather comes with the combinators; here main awaits each task.)
 * Usage: hundred_tasks [SEED]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <ringo.h>

enum { N = 100 };

static int process_time[N];

static int my_coroutine(void *arg, void **result)
{
	int id = (int)(intptr_t)arg;
	int err = ringo_sleep(RINGO_SEC(process_time[id]));
	if (err < 0)
		return err;
	printf("协程：%d, 执行完毕。用时：%d秒\n", id, process_time[id]);
	return 0;
}

static int main_task(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	double t0 = ringo_loop_time(loop);
	ringo_task *tasks[N];
	int err = 0, n = 0;
	for (; n < N && err == 0; n++)
		err = ringo_spawn(loop, my_coroutine, (void *)(intptr_t)n, NULL, &tasks[n]);
	if (err < 0)
		n--;
	for (int i = 0; i < n; i++) {
		if (err == 0)
			err = ringo_await(ringo_task_future(tasks[i]), NULL);
		ringo_task_release(tasks[i]);
	}
	printf("all %d tasks done in %.1f s\n", n, ringo_loop_time(loop) - t0);
	return err;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	srand(argc > 1 ? (unsigned)atoi(argv[1]) : 1);
	for (int i = 0; i < N; i++)
		process_time[i] = 1 + rand() % 5;
	int err = ringo_run(main_task, NULL, NULL, NULL);
	if (err < 0) {
		fprintf(stderr, "hundred_tasks: %s\n", ringo_strerror(err));
		return 1;
	}
	return 0;
}
