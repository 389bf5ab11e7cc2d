/*
 * process: subprocesses through the loop beside the blocking calls a C
 * program would make, in the same run.
 *   spawn_wait_per_s          ringo_process_spawn("true") + ringo_process_wait,
 *                             one at a time
 *   spawn_wait_base_per_s     posix_spawnp + waitpid, one at a time (baseline)
 *   spawn_wait_ratio          ringo / baseline
 *   spawn_wait_16_per_s       16 tasks doing the same at once
 *   cat_mib_s                 ringo_process_communicate: MIB MiB through cat
 *                             (stdin and stdout pipes) and back
 *   cat_base_mib_s            the same by hand: posix_spawnp + a poll() loop
 *                             of non-blocking write/read (baseline)
 *   cat_ratio                 ringo / baseline
 * Both sides alternate in rounds (5 for spawns, 3 for cat); ratios > 1
 * mean ringo is faster.
 * Usage: process [spawns] [mib]   (defaults 2000 and 128)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ringo.h>
#include "times.h"

extern char **environ;

static int spawns = 2000;
static size_t mib = 128;

/* ---- spawn + wait ---- */

static int spawn_wait_some(void *arg, void **result)
{
	int n = *(int *)arg;
	ringo_loop *loop = ringo_loop_current();
	for (int i = 0; i < n; i++) {
		ringo_process *p;
		int err = ringo_process_spawn(loop, "true", NULL, NULL, &p);
		if (err < 0)
			return err;
		err = ringo_process_wait(p, NULL);
		ringo_process_free(p);
		if (err < 0)
			return err;
	}
	return 0;
}

static int spawn_wait_16(void *arg, void **result)
{
	int per = *(int *)arg / 16;
	ringo_future *f[16];
	for (int i = 0; i < 16; i++) {
		ringo_task *t;
		if (ringo_spawn(ringo_loop_current(), spawn_wait_some, &per, NULL, &t) < 0)
			return -ENOMEM;
		f[i] = ringo_task_future(t);
	}
	struct ringo_gather_result r[16];
	int err = ringo_gather(f, 16, false, r);
	for (int i = 0; i < 16; i++)
		ringo_task_release(ringo_future_task(f[i]));
	return err;
}

static double base_spawn_wait(int n)
{
	char *argv[] = {"true", NULL};
	int64_t t0 = now_ns();
	for (int i = 0; i < n; i++) {
		pid_t pid;
		if (posix_spawnp(&pid, "true", NULL, NULL, argv, environ) != 0)
			return 0;
		waitpid(pid, NULL, 0);
	}
	return n / ((now_ns() - t0) / 1e9);
}

/* ---- data through cat ---- */

static unsigned char *data;

static int cat_once(void *arg, void **result)
{
	size_t len = mib << 20;
	ringo_process_options o = {.in = RINGO_STDIO_PIPE, .out = RINGO_STDIO_PIPE};
	ringo_process *p;
	int err = ringo_process_spawn(ringo_loop_current(), "cat", NULL, &o, &p);
	if (err < 0)
		return err;
	char *out = NULL;
	size_t outlen = 0;
	err = ringo_process_communicate(p, data, len, RINGO_FOREVER, &out, &outlen, NULL, NULL);
	if (err == 0 && (outlen != len || memcmp(out, data, len) != 0))
		err = -EIO;
	free(out);
	ringo_process_free(p);
	return err;
}

/* What a C program does without a runtime: both pipes non-blocking,
 * poll() for whichever can move, into one growing buffer. */
static int base_cat(void)
{
	size_t len = mib << 20, sent = 0, got = 0;
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	char *argv[] = {"cat", NULL};
	pid_t pid;
	int err = posix_spawnp(&pid, "cat", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	if (err)
		return -1;
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	char *buf = malloc(len);
	while (got < len) {
		struct pollfd pf[2] = {{out[0], POLLIN, 0}, {sent < len ? in[1] : -1, POLLOUT, 0}};
		poll(pf, 2, -1);
		if (pf[1].revents) {
			ssize_t n = write(in[1], data + sent, len - sent);
			if (n > 0 && (sent += (size_t)n) == len)
				close(in[1]);
		}
		if (pf[0].revents) {
			ssize_t n = read(out[0], buf + got, len - got);
			if (n > 0)
				got += (size_t)n;
		}
	}
	close(out[0]);
	waitpid(pid, NULL, 0);
	int ok = memcmp(buf, data, len) == 0;
	free(buf);
	return ok ? 0 : -1;
}

static double run(ringo_task_fn *fn, void *arg)
{
	int64_t t0 = now_ns();
	int err = ringo_run(fn, arg, NULL, NULL);
	if (err < 0) {
		fprintf(stderr, "process: %s\n", ringo_strerror(err));
		exit(1);
	}
	return (now_ns() - t0) / 1e9;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		spawns = atoi(argv[1]);
	if (argc > 2)
		mib = (size_t)atol(argv[2]);
	if (spawns < 16)
		spawns = 16;
	/* Warm both paths (page cache, PATH lookup), then measure. */
	int warm = 50;
	run(spawn_wait_some, &warm);
	base_spawn_wait(warm);
	/* The machine is shared and noisy: both sides alternate in rounds
	 * and their times add up, so a slow patch hurts both alike. */
	enum { ROUNDS = 5 };
	int per = spawns / ROUNDS;
	double base_t = 0, ringo_t = 0;
	for (int r = 0; r < ROUNDS; r++) {
		base_t += per / base_spawn_wait(per);
		ringo_t += run(spawn_wait_some, &per);
	}
	double at16 = spawns / run(spawn_wait_16, &spawns);
	printf("spawn_wait_per_s %.0f\n", ROUNDS * per / ringo_t);
	printf("spawn_wait_base_per_s %.0f\n", ROUNDS * per / base_t);
	printf("spawn_wait_ratio %.2f\n", base_t / ringo_t);
	printf("spawn_wait_16_per_s %.0f\n", at16);

	data = malloc(mib << 20);
	for (size_t i = 0; i < mib << 20; i++)
		data[i] = (unsigned char)(i * 31 + (i >> 12));
	double base_s = 0, ringo_s = 0;
	for (int r = 0; r < 3; r++) {
		int64_t t0 = now_ns();
		if (base_cat() < 0) {
			fprintf(stderr, "process: the baseline's cat failed\n");
			return 1;
		}
		base_s += (now_ns() - t0) / 1e9;
		ringo_s += run(cat_once, NULL);
	}
	printf("cat_mib_s %.0f\n", 3 * mib / ringo_s);
	printf("cat_base_mib_s %.0f\n", 3 * mib / base_s);
	printf("cat_ratio %.2f\n", base_s / ringo_s);
	free(data);
	return 0;
}
