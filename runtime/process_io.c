/*
 * communicate(): feed the child's stdin, drain its stdout and stderr, all
 * at once, then wait for it.
 *
 * One job per pipe; the calling task runs one of them itself and, when
 * there are more, runs the others as tasks of a task group, so a child
 * that fills its stdout pipe while ringo still writes its stdin (or fills
 * stderr while ringo reads stdout) never deadlocks. Cancelling the caller
 * (or its timeout) cancels the group, which waits for every job before
 * communicate returns: no job touches the caller's input afterwards.
 *
 * Progress lives in the process record, not in the call: input bytes
 * written (in_sent) and output read (acc[]), so a cancelled or timed-out
 * communicate loses nothing and the next one goes on from there.
 *
 * Writing a pipe whose reader has gone raises SIGPIPE in the writer,
 * io_uring writes included: that would kill a program that keeps the
 * default disposition. Linux 6.18's RWF_NOSIGNAL stops it per write;
 * before that, the write is made here with SIGPIPE blocked in this thread
 * and a SIGPIPE it raised is taken back (sigtimedwait), as libraries that
 * cannot touch the program's dispositions do.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "process_internal.h"

/* Not in this libc's headers before Linux 6.18's uapi. */
#define RINGO__RWF_NOSIGNAL 0x00000100

/* Per operation: big enough to need few completions, small enough that
 * one write does not hold the pipe for long. */
#define IO_CHUNK (1u << 20)
/* First size of an output buffer; it doubles as it fills. */
#define ACC_FIRST (64u << 10)

/* ---- writing stdin ---- */

struct write_args {
	int fd;
	const void *buf;
	unsigned len;
};

static void prep_write_nosignal(struct io_uring_sqe *sqe, void *ctx)
{
	const struct write_args *w = ctx;
	io_uring_prep_write(sqe, w->fd, w->buf, w->len, (uint64_t)-1);
	sqe->rw_flags = RINGO__RWF_NOSIGNAL;
}

/* write(2) that cannot raise SIGPIPE: blocked in this thread for the
 * call; one the call raised is taken back before unblocking (a SIGPIPE
 * already pending from elsewhere is left alone). */
static ssize_t write_no_sigpipe(int fd, const void *buf, size_t len)
{
	sigset_t pipe_set, old, pending;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigpending(&pending);
	bool was_pending = sigismember(&pending, SIGPIPE);
	ssize_t n = write(fd, buf, len);
	int e = errno;
	if (n < 0 && e == EPIPE && !was_pending) {
		const struct timespec zero = {0, 0};
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return n;
}

/* Kernels before 6.18: a non-blocking write(2) when the pipe has room,
 * io_uring's poll to wait for room. The caller's end becomes non-blocking
 * (only it: the child's end is its own open file). */
static int write_fallback(int fd, const void *buf, size_t len)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && !(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	for (;;) {
		ssize_t n = write_no_sigpipe(fd, buf, len);
		if (n >= 0)
			return (int)n;
		if (errno != EAGAIN)
			return -errno;
		int r = ringo_poll(fd, POLLOUT);
		if (r < 0)
			return r;
	}
}

static int pipe_write(struct ringo__proc_state *ps, int fd, const void *buf, size_t len)
{
	if (ps->nosignal >= 0 && !ringo__process_force_sigpipe_fallback) {
		struct write_args w = {fd, buf, (unsigned)len};
		int r = ringo_io_submit(prep_write_nosignal, &w, NULL);
		/* The flag is checked before anything is written. */
		if (r != -EOPNOTSUPP || ps->nosignal > 0) {
			if (r >= 0)
				ps->nosignal = 1;
			return r;
		}
		ps->nosignal = -1;
	}
	return write_fallback(fd, buf, len);
}

static int feed_stdin(ringo_process *p, const char *in, size_t inlen)
{
	int fd = p->fds[0];
	while (p->in_sent < inlen) {
		size_t n = inlen - p->in_sent;
		int r = pipe_write(p->ps, fd, in + p->in_sent, n < IO_CHUNK ? n : IO_CHUNK);
		/* The child closed its stdin, or exited: the rest is not
		 * wanted (asyncio ignores BrokenPipeError here too). */
		if (r == -EPIPE)
			break;
		if (r < 0)
			return r;
		p->in_sent += (size_t)r;
	}
	close(fd);
	p->fds[0] = -1;
	return 0;
}

/* ---- reading stdout and stderr ---- */

/* Room for at least ACC_FIRST more bytes and the final '\0'. */
static int acc_reserve(struct ringo__proc_acc *a)
{
	if (a->buf && a->cap - a->len > ACC_FIRST)
		return 0;
	size_t cap = a->cap ? a->cap : ACC_FIRST;
	while (cap - a->len <= ACC_FIRST)
		cap *= 2;
	char *buf = realloc(a->buf, cap);
	if (!buf)
		return -ENOMEM;
	a->buf = buf;
	a->cap = cap;
	return 0;
}

static int drain_output(ringo_process *p, int i, bool keep)
{
	struct ringo__proc_acc *a = &p->acc[i];
	while (!a->eof) {
		if (!keep)
			a->len = 0;
		int err = acc_reserve(a);
		if (err < 0)
			return err;
		size_t room = a->cap - a->len - 1;
		int n = ringo_read(p->fds[i], a->buf + a->len, room < IO_CHUNK ? room : IO_CHUNK, -1);
		if (n < 0)
			return n;
		if (n == 0)
			a->eof = true;
		a->len += (size_t)n;
	}
	if (!keep) {
		free(a->buf);
		a->buf = NULL;
		a->len = a->cap = 0;
	}
	close(p->fds[i]);
	p->fds[i] = -1;
	return 0;
}

/* ---- the jobs ---- */

struct comm {
	ringo_process *p;
	const char *in;
	size_t inlen;
	bool keep[3]; /* [1], [2]: the caller wants that output */
};

struct job {
	struct comm *c;
	int fd; /* 0, 1 or 2 */
};

static int run_job(struct comm *c, int fd)
{
	if (fd == 0)
		return feed_stdin(c->p, c->in, c->inlen);
	return drain_output(c->p, fd, c->keep[fd]);
}

static int job_task(void *arg, void **result)
{
	struct job *j = arg;
	return run_job(j->c, j->fd);
}

static int run_jobs(struct comm *c)
{
	static const char *const names[3] = {"communicate-stdin", "communicate-stdout",
					     "communicate-stderr"};
	struct job jobs[3];
	int n = 0;
	for (int fd = 0; fd < 3; fd++) {
		if (c->p->fds[fd] >= 0)
			jobs[n++] = (struct job){c, fd};
	}
	if (n == 0)
		return 0;
	if (n == 1)
		return run_job(c, jobs[0].fd);
	ringo_group g;
	int err = ringo_group_init(&g);
	if (err < 0)
		return err;
	for (int k = 1; k < n && err == 0; k++) {
		ringo_task_options to = {.name = names[jobs[k].fd]};
		err = ringo_group_spawn(&g, job_task, &jobs[k], &to, NULL);
	}
	/* The body: the first job, here (one task fewer). A spawn failure is
	 * the body's failure: the group cancels what it started. */
	int body = err < 0 ? err : run_job(c, jobs[0].fd);
	return ringo_group_wait(&g, body, NULL, 0, NULL);
}

/* ---- communicate ---- */

/* Nothing is left to do: stdin closed, both outputs at end of file (or
 * not pipes), the child reaped. */
static bool all_done(const ringo_process *p)
{
	return p->fds[0] < 0 && p->fds[1] < 0 && p->fds[2] < 0 &&
	       p->phase != RINGO__PROC_RUNNING;
}

/* A buffer to hand out, also when nothing was read. */
static int acc_ensure(struct ringo__proc_acc *a)
{
	if (a->buf)
		return 0;
	a->buf = malloc(1);
	if (!a->buf)
		return -ENOMEM;
	a->cap = 1;
	return 0;
}

/* Give the collected output of fd i (a pipe, acc_ensure'd) to the caller. */
static void hand_out(ringo_process *p, int i, char **out, size_t *outlen)
{
	struct ringo__proc_acc *a = &p->acc[i];
	if (!(p->pipes & (1u << i))) {
		*out = NULL;
		*outlen = 0;
		return;
	}
	a->buf[a->len] = '\0';
	*out = a->buf;
	*outlen = a->len;
	memset(a, 0, sizeof(*a));
}

static int check_args(const ringo_process *p, const void *in, size_t inlen, char **out,
		      size_t *outlen, char **err, size_t *errlen)
{
	if (!p || (out && !outlen) || (err && !errlen) || (!in && inlen > 0))
		return -EINVAL;
	if (inlen > 0 && !(p->pipes & 1u))
		return -EINVAL;
	if (!ringo_current_task())
		return -EPERM;
	if (p->communicating)
		return -EBUSY;
	return 0;
}

int ringo_process_communicate(ringo_process *p, const void *in, size_t inlen, int64_t timeout_ns,
			      char **out, size_t *outlen, char **err, size_t *errlen)
{
	int rc = check_args(p, in, inlen, out, outlen, err, errlen);
	if (rc < 0)
		return rc;
	if (timeout_ns == 0 && !all_done(p))
		return -ETIMEDOUT;
	struct comm c = {p, in, inlen, {false, out != NULL, err != NULL}};
	p->busy++;
	p->communicating = true;
	ringo_timeout scope;
	bool scoped = timeout_ns > 0;
	rc = scoped ? ringo_timeout_enter(&scope, timeout_ns) : 0;
	if (rc == 0) {
		rc = run_jobs(&c);
		if (rc == 0)
			rc = ringo__process_wait_exit(p);
		if (scoped)
			rc = ringo_timeout_exit(&scope, rc);
	}
	p->communicating = false;
	p->busy--;
	if (rc < 0)
		return rc;
	/* Both or neither: a failure here keeps all output for next time. */
	if ((out && (p->pipes & 2u) && acc_ensure(&p->acc[1]) < 0) ||
	    (err && (p->pipes & 4u) && acc_ensure(&p->acc[2]) < 0))
		return -ENOMEM;
	if (out)
		hand_out(p, 1, out, outlen);
	if (err)
		hand_out(p, 2, err, errlen);
	return 0;
}
