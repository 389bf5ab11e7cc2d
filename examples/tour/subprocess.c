/*
 * asyncio's subprocess example (Doc/library/asyncio-subprocess.rst):
 *
 *     async def run(cmd):
 *         proc = await asyncio.create_subprocess_shell(
 *             cmd,
 *             stdout=asyncio.subprocess.PIPE,
 *             stderr=asyncio.subprocess.PIPE)
 *
 *         stdout, stderr = await proc.communicate()
 *
 *         print(f'[{cmd!r} exited with {proc.returncode}]')
 *         if stdout:
 *             print(f'[stdout]\n{stdout.decode()}')
 *         if stderr:
 *             print(f'[stderr]\n{stderr.decode()}')
 *
 *     asyncio.run(run('ls /zzz'))
 *
 * and, as the docs go on, several commands at once ("ls /dev/null" here,
 * so that one of them prints on its stdout):
 *
 *     async def main():
 *         await asyncio.gather(
 *             run('ls /dev/null'),
 *             run('sleep 1; echo "hello"'))
 *
 * create_subprocess_shell(cmd) is sh -c cmd.
 */
#include <stdio.h>
#include <stdlib.h>

#include <ringo.h>

static int run(void *arg, void **result)
{
	const char *cmd = arg;
	const char *argv[] = {"sh", "-c", cmd, NULL};
	ringo_process_options opts = {.out = RINGO_STDIO_PIPE, .err = RINGO_STDIO_PIPE};
	ringo_process *proc;
	int err = ringo_process_spawn(ringo_loop_current(), "sh", argv, &opts, &proc);
	if (err < 0)
		return err;

	char *out, *errout;
	size_t outlen, errlen;
	err = ringo_process_communicate(proc, NULL, 0, RINGO_FOREVER, &out, &outlen, &errout,
					&errlen);
	if (err == 0) {
		int returncode;
		ringo_process_returncode(proc, &returncode);
		printf("['%s' exited with %d]\n", cmd, returncode);
		if (outlen)
			printf("[stdout]\n%s\n", out);
		if (errlen)
			printf("[stderr]\n%s\n", errout);
		fflush(stdout);
		free(out);
		free(errout);
	}
	ringo_process_free(proc);
	return err;
}

static int main_task(void *arg, void **result)
{
	int err = run("ls /zzz", NULL);
	if (err < 0)
		return err;

	ringo_task *a, *b;
	ringo_loop *loop = ringo_loop_current();
	ringo_spawn(loop, run, "ls /dev/null", NULL, &a);
	ringo_spawn(loop, run, "sleep 1; echo \"hello\"", NULL, &b);
	ringo_future *both[] = {ringo_task_future(a), ringo_task_future(b)};
	struct ringo_gather_result res[2];
	err = ringo_gather(both, 2, false, res);
	ringo_task_release(a);
	ringo_task_release(b);
	return err;
}

int main(void)
{
	int err = ringo_run(main_task, NULL, NULL, NULL);
	if (err < 0) {
		fprintf(stderr, "subprocess: %s\n", ringo_strerror(err));
		return 1;
	}
	return 0;
}
