/*
 * A thread waits on a loop's result with a timeout, and cancels on
 * timeout (asyncio's concurrent future from run_coroutine_threadsafe):
 *
 *     future = asyncio.run_coroutine_threadsafe(coro, loop)
 *     try:
 *         result = future.result(timeout)
 *     except TimeoutError:
 *         print('The coroutine took too long, cancelling the task...')
 *         future.cancel()
 */
#include <errno.h>
#include <stdio.h>

#include <ringo.h>

static int quick(void *arg, void **result)
{
	int err = ringo_sleep(RINGO_MSEC(10));
	*result = (void *)(intptr_t)42;
	return err;
}

static int slow(void *arg, void **result)
{
	int err = ringo_sleep(RINGO_SEC(10));
	if (err == -ECANCELED) {
		printf("slow: cancelled inside the loop\n");
		fflush(stdout);
	}
	return err;
}

int main(void)
{
	ringo_loop_thread *lt;
	int err = ringo_loop_thread_start(NULL, &lt);
	if (err < 0) {
		fprintf(stderr, "threadsafe_future: %s\n", ringo_strerror(err));
		return 1;
	}
	ringo_loop *loop = ringo_loop_thread_loop(lt);
	ringo_tsfuture *f;
	void *v = NULL;
	if (ringo_spawn_threadsafe(loop, quick, NULL, &f) < 0)
		return 1;
	int rc = ringo_tsfuture_result(f, RINGO_SEC(5), &v);
	printf("quick: rc=%d result=%ld\n", rc, (long)(intptr_t)v);
	ringo_tsfuture_release(f);

	if (ringo_spawn_threadsafe(loop, slow, NULL, &f) < 0)
		return 1;
	rc = ringo_tsfuture_result(f, RINGO_MSEC(100), &v);
	if (rc == -ETIMEDOUT) {
		printf("The coroutine took too long, cancelling the task...\n");
		fflush(stdout);
		ringo_tsfuture_cancel(f);
	}
	rc = ringo_tsfuture_result(f, -1, NULL);
	printf("slow: %s\n", ringo_strerror(rc));
	fflush(stdout);
	ringo_tsfuture_release(f);
	return ringo_loop_thread_free(lt) == 0 ? 0 : 1;
}
