/*
 * cp: copy a file over io_uring.
 *
 *   cp [--depth N] SRC DST
 *
 * DST is created (or truncated) with SRC's permission bits. The copy runs
 * as N tasks (default 4), each moving 128 KiB chunks with ringo_read /
 * ringo_write at explicit offsets, so N reads or writes are in flight at
 * once; the space is reserved first with ringo_fallocate (where the file
 * system supports it) and the result made durable with ringo_fsync.
 * SIGINT/SIGTERM cancel the copy cleanly (exit status 130).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ringo.h"

#define CHUNK (128 * 1024)

struct copy {
	const char *src, *dst;
	int in, out;
	uint64_t size;
	uint64_t next;   /* next chunk offset to hand out */
	int error;       /* first error */
	int depth;
};

/* One of N copiers: takes the next chunk until none is left. */
static int copier(void *arg, void **result)
{
	struct copy *c = arg;
	char *buf = malloc(CHUNK);
	if (!buf)
		return -ENOMEM;
	while (!c->error && c->next < c->size) {
		uint64_t off = c->next;
		c->next += CHUNK;
		size_t want = c->size - off < CHUNK ? (size_t)(c->size - off) : CHUNK;
		size_t done = 0;
		while (done < want) {
			int n = ringo_read(c->in, buf + done, want - done, (int64_t)(off + done));
			if (n <= 0) {
				c->error = n < 0 ? n : -EIO; /* the source shrank */
				break;
			}
			done += (size_t)n;
		}
		for (size_t w = 0; !c->error && w < done;) {
			int n = ringo_write(c->out, buf + w, done - w, (int64_t)(off + w));
			if (n < 0)
				c->error = n;
			else
				w += (size_t)n;
		}
	}
	free(buf);
	return c->error;
}

static int run_copiers(struct copy *c)
{
	ringo_task *t[64];
	int n = c->depth;
	for (int i = 0; i < n; i++) {
		int err = ringo_spawn(ringo_loop_current(), copier, c, NULL, &t[i]);
		if (err < 0) {
			n = i;
			c->error = err;
			break;
		}
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		int err = ringo_await(ringo_task_future(t[i]), NULL);
		if (err == -ECANCELED) {
			/* We were cancelled: pass it on and wait for them all. */
			for (int k = i; k < n; k++)
				ringo_task_cancel(t[k], "signal");
			rc = -ECANCELED;
			ringo_task_uncancel(ringo_task_current());
			err = ringo_await(ringo_task_future(t[i]), NULL);
		}
		ringo_task_release(t[i]);
	}
	return rc ? rc : c->error;
}

static int do_copy(void *arg, void **result)
{
	struct copy *c = arg;
	c->in = ringo_openat(AT_FDCWD, c->src, O_RDONLY | O_CLOEXEC, 0);
	if (c->in < 0) {
		fprintf(stderr, "cp: %s: %s\n", c->src, ringo_strerror(c->in));
		return c->in;
	}
	struct statx st;
	int err = ringo_statx(c->in, "", AT_EMPTY_PATH, STATX_SIZE | STATX_MODE, &st);
	if (err == 0 && !S_ISREG(st.stx_mode))
		err = -EINVAL;
	if (err < 0) {
		fprintf(stderr, "cp: %s: %s\n", c->src, ringo_strerror(err));
		ringo_close(c->in);
		return err;
	}
	c->size = st.stx_size;
	c->out = ringo_openat(AT_FDCWD, c->dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			      st.stx_mode & 07777);
	if (c->out < 0) {
		fprintf(stderr, "cp: %s: %s\n", c->dst, ringo_strerror(c->out));
		ringo_close(c->in);
		return c->out;
	}
	if (c->size)
		ringo_fallocate(c->out, 0, 0, (int64_t)c->size); /* a hint: errors ignored */
	err = run_copiers(c);
	if (err == 0)
		err = ringo_fsync(c->out, 0);
	if (err < 0 && err != -ECANCELED)
		fprintf(stderr, "cp: %s -> %s: %s\n", c->src, c->dst, ringo_strerror(err));
	ringo_close(c->in);
	int cerr = ringo_close(c->out);
	return err < 0 ? err : cerr;
}

static int watch_signals(void *arg, void **result)
{
	ringo_task *worker = arg;
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (ringo_signal_wait(&mask) > 0)
		ringo_task_cancel(worker, "signal");
	ringo_task_release(worker);
	return 0;
}

static int main_task(void *arg, void **result)
{
	ringo_loop *loop = ringo_loop_current();
	ringo_task *worker;
	int err = ringo_spawn(loop, do_copy, arg, NULL, &worker);
	if (err < 0)
		return err;
	ringo_task_ref(worker);
	if (ringo_spawn(loop, watch_signals, worker, NULL, NULL) < 0)
		ringo_task_release(worker);
	ringo_await(ringo_task_future(worker), NULL);
	err = ringo_future_error(ringo_task_future(worker));
	ringo_task_release(worker);
	return err;
}

int main(int argc, char **argv)
{
	struct copy c;
	memset(&c, 0, sizeof(c));
	c.depth = 4;
	int i = 1;
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: cp [--depth N] SRC DST\n"
		       "  Copy the regular file SRC to DST with io_uring, N chunks in flight\n"
		       "  (default 4). SIGINT/SIGTERM cancel the copy cleanly.\n");
		return 0;
	}
	if (argc > 2 && !strcmp(argv[1], "--depth")) {
		c.depth = atoi(argv[2]);
		i = 3;
	}
	if (argc - i != 2 || c.depth < 1 || c.depth > 64) {
		fprintf(stderr, "usage: cp [--depth N] SRC DST\n");
		return 2;
	}
	c.src = argv[i];
	c.dst = argv[i + 1];
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	ringo_signal_block(&mask);
	int rc = ringo_run(main_task, &c, NULL, NULL);
	if (rc == -ECANCELED)
		return 130;
	/* The copy printed its own errors; a loop that could not be made did not. */
	const char *why = rc < 0 ? ringo_setup_diagnosis() : NULL;
	if (why)
		fprintf(stderr, "cp: %s\n", why);
	return rc < 0 ? 1 : 0;
}
