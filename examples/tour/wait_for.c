/*
 * The seed's wait_for example: on timeout the inner task is cancelled,
 * waited for, and the caller gets a timeout.
 *
 *     try:
 *         await asyncio.wait_for(fun(), timeout=1.0)
 *     except asyncio.TimeoutError:
 *         print('timeout!')
 */
#include <errno.h>
#include <stdio.h>

#include <ringo.h>

static int fun(void *arg, void **result)
{
	printf("fun: working for an hour\n");
	int err = ringo_sleep(RINGO_SEC(3600));
	if (err == -ECANCELED)
		printf("fun: cancelled at %.1f s\n", ringo_loop_time(ringo_loop_current()));
	return err;
}

static int main_task(void *arg, void **result)
{
	ringo_task *t;
	int err = ringo_spawn(ringo_loop_current(), fun, NULL, NULL, &t);
	if (err < 0)
		return err;
	err = ringo_wait_for(ringo_task_future(t), RINGO_SEC(1), NULL);
	if (err == -ETIMEDOUT) {
		printf("timeout!\n");
		err = 0;
	}
	ringo_task_release(t);
	return err;
}

int main(void)
{
	int err = ringo_run(main_task, NULL, NULL, NULL);
	if (err < 0) {
		fprintf(stderr, "wait_for: %s\n", ringo_strerror(err));
		return 1;
	}
	return 0;
}
