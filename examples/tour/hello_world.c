/*
 * The seed's first example:
 *
 *     async def main():
 *         print('hello')
 *         await asyncio.sleep(1)
 *         print('world')
 *     asyncio.run(main())
 */
#include <stdio.h>

#include <ringo.h>

static int main_task(void *arg, void **result)
{
	printf("hello\n");
	fflush(stdout);
	int err = ringo_sleep(RINGO_SEC(1));
	if (err < 0)
		return err;
	printf("world\n");
	return 0;
}

int main(void)
{
	int err = ringo_run(main_task, NULL, NULL, NULL);
	if (err < 0) {
		fprintf(stderr, "hello_world: %s\n", ringo_strerror(err));
		return 1;
	}
	return 0;
}
