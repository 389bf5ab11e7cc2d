/*
 * The seed's call_soon example, both versions:
 *
 *     def callback_foo(name): print(f'callback_foo...{name}')
 *     async def foo():
 *         await asyncio.sleep(0.2)      # version 2 only
 *         print('async foo...')
 *     async def main(loop):
 *         print('Start main...')
 *         loop.call_soon(callback_foo, 'Jackson')
 *         print('call_soon...')
 *         await foo()
 *         print('foo...')
 *         await asyncio.sleep(0.2)
 *         print('End main...')
 *
 * A call_soon callback runs only when the task gives the loop a turn: in
 * version 1 at main's sleep, in version 2 already at foo's.
 */
#include <stdbool.h>
#include <stdio.h>

#include <ringo.h>

static void callback_foo(void *name)
{
	printf("callback_foo...%s\n", (const char *)name);
}

static int foo(bool sleeps)
{
	if (sleeps) {
		int err = ringo_sleep(RINGO_MSEC(200));
		if (err < 0)
			return err;
	}
	printf("async foo...\n");
	return 0;
}

static int main_task(void *arg, void **result)
{
	bool foo_sleeps = arg != NULL;
	printf("Start main...\n");
	ringo_call_soon(ringo_loop_current(), callback_foo, "Jackson", NULL);
	printf("call_soon...\n");
	int err = foo(foo_sleeps);
	if (err < 0)
		return err;
	printf("foo...\n");
	err = ringo_sleep(RINGO_MSEC(200));
	if (err < 0)
		return err;
	printf("End main...\n");
	return 0;
}

static int run(bool foo_sleeps)
{
	ringo_loop *loop;
	int err = ringo_loop_new(NULL, &loop);
	if (err < 0)
		return err;
	printf("Start run_until_complete...\n");
	ringo_task *t;
	err = ringo_spawn(loop, main_task, foo_sleeps ? "" : NULL, NULL, &t);
	if (err == 0) {
		err = ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL);
		ringo_task_release(t);
	}
	printf("End run_until_complete...\n");
	ringo_loop_free(loop);
	return err;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("-- version 1: foo() does not suspend\n");
	int err = run(false);
	printf("-- version 2: foo() sleeps 0.2 s\n");
	if (err == 0)
		err = run(true);
	if (err < 0) {
		fprintf(stderr, "call_soon: %s\n", ringo_strerror(err));
		return 1;
	}
	return 0;
}
