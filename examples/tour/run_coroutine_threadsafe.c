/*
 * The seed's run_coroutine_threadsafe example: a loop runs in a new
 * thread; main submits three coroutines sleeping 3, 2 and 1 s, then prints
 * "iloveu" letter by letter while they run; they finish in 1, 2, 3 order.
 *
 *     def start_loop(loop):
 *         asyncio.set_event_loop(loop)
 *         loop.run_forever()
 *     new_loop = asyncio.new_event_loop()
 *     threading.Thread(target=start_loop, args=(new_loop,)).start()
 *     for n in (3, 2, 1):
 *         asyncio.run_coroutine_threadsafe(do_some_work(n), new_loop)
 *     for c in "iloveu": print(c); time.sleep(0.1)
 */
#include <stdio.h>
#include <unistd.h>

#include <ringo.h>

static int do_some_work(void *arg, void **result)
{
	intptr_t n = (intptr_t)arg;
	printf("Waiting %ld\n", (long)n);
	fflush(stdout);
	int err = ringo_sleep(RINGO_SEC(n));
	if (err < 0)
		return err;
	printf("Done after %lds\n", (long)n);
	fflush(stdout);
	return 0;
}

int main(void)
{
	ringo_loop_thread *lt;
	int err = ringo_loop_thread_start(NULL, &lt);
	if (err < 0) {
		fprintf(stderr, "run_coroutine_threadsafe: %s\n", ringo_strerror(err));
		return 1;
	}
	ringo_loop *loop = ringo_loop_thread_loop(lt);
	ringo_tsfuture *f[3];
	for (int i = 0; i < 3; i++) {
		err = ringo_spawn_threadsafe(loop, do_some_work, (void *)(intptr_t)(3 - i), &f[i]);
		if (err < 0) {
			fprintf(stderr, "spawn: %s\n", ringo_strerror(err));
			return 1;
		}
	}
	for (const char *c = "iloveu"; *c; c++) {
		printf("%c\n", *c);
		fflush(stdout);
		usleep(100000);
	}
	int rc = 0;
	for (int i = 0; i < 3; i++) {
		if (ringo_tsfuture_result(f[i], -1, NULL) < 0)
			rc = 1;
		ringo_tsfuture_release(f[i]);
	}
	ringo_loop_thread_free(lt);
	return rc;
}
