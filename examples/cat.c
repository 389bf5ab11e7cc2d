/*
 * cat: concatenate files to standard output over io_uring.
 *
 *   cat [FILE...]       no FILE, or "-": standard input
 *
 * Each file is opened with ringo_openat and copied with ringo_read /
 * ringo_write in 64 KiB chunks (short writes resumed) by one task.
 * SIGINT/SIGTERM stop it cleanly (exit status 130): a handler added with
 * ringo_signal_add runs on the loop and cancels the copying task, whose
 * blocked read or write is cancelled in the kernel before it unwinds.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ringo.h"

struct job {
	int argc;
	char **argv;
	int status;
};

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		int w = ringo_write(fd, p, n, -1);
		if (w < 0)
			return w;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int copy_fd(int in, const char *name)
{
	static char buf[65536];
	for (;;) {
		int n = ringo_read(in, buf, sizeof(buf), -1);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (n != -ECANCELED)
				fprintf(stderr, "cat: %s: %s\n", name, ringo_strerror(n));
			return n;
		}
		int err = write_all(STDOUT_FILENO, buf, (size_t)n);
		if (err < 0) {
			if (err != -ECANCELED && err != -EPIPE)
				fprintf(stderr, "cat: write: %s\n", ringo_strerror(err));
			return err;
		}
	}
}

static int cat_files(void *arg, void **result)
{
	struct job *j = arg;
	if (j->argc == 0) {
		int err = copy_fd(STDIN_FILENO, "stdin");
		if (err < 0)
			j->status = err == -ECANCELED ? 130 : 1;
		return 0;
	}
	for (int i = 0; i < j->argc; i++) {
		const char *name = j->argv[i];
		int fd = strcmp(name, "-") ? ringo_openat(AT_FDCWD, name, O_RDONLY | O_CLOEXEC, 0)
					   : STDIN_FILENO;
		if (fd < 0) {
			fprintf(stderr, "cat: %s: %s\n", name, ringo_strerror(fd));
			j->status = 1;
			continue;
		}
		int err = copy_fd(fd, name);
		if (fd != STDIN_FILENO)
			ringo_close(fd);
		if (err < 0) {
			j->status = err == -ECANCELED ? 130 : 1;
			if (err == -ECANCELED || err == -EPIPE)
				break;
		}
	}
	return 0;
}

/* SIGINT/SIGTERM cancel the copying task (arg). */
static void on_stop_signal(void *arg)
{
	ringo_task_cancel(arg, "signal");
}

/* Handled from now until the copy is over (the task must outlive them). */
static void catch_signals(ringo_loop *loop, ringo_task *worker, bool on)
{
	const int sigs[] = {SIGINT, SIGTERM};
	for (int i = 0; i < 2; i++) {
		if (on)
			ringo_signal_add(loop, sigs[i], on_stop_signal, worker);
		else
			ringo_signal_remove(loop, sigs[i]);
	}
}

static int main_task(void *arg, void **result)
{
	struct job *j = arg;
	ringo_loop *loop = ringo_loop_current();
	ringo_task *worker;
	int err = ringo_spawn(loop, cat_files, j, NULL, &worker);
	if (err < 0)
		return err;
	catch_signals(loop, worker, true);
	err = ringo_await(ringo_task_future(worker), NULL);
	catch_signals(loop, worker, false);
	if (err == -ECANCELED)
		j->status = 130;
	ringo_task_release(worker);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: cat [FILE...]\n"
		       "  Copy each FILE (or standard input, or \"-\") to standard output\n"
		       "  with io_uring reads and writes. SIGINT/SIGTERM stop it cleanly.\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	struct job j = {argc - 1, argv + 1, 0};
	int rc = ringo_run(main_task, &j, NULL, NULL);
	if (rc < 0) {
		fprintf(stderr, "cat: %s\n", ringo_strerror(rc));
		return 1;
	}
	return j.status;
}
