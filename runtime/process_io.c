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
 * The pipes are the process's streams, so the byte rules are theirs: a
 * write copies into the stream (those bytes are taken: they go out even if
 * the call is then cancelled), a read that is cancelled consumes nothing.
 * Progress lives in the process record, not in the call: input bytes
 * taken (in_sent) and output read (acc[]), so a cancelled or timed-out
 * communicate loses nothing and the next one goes on from there.
 */
#include <stdlib.h>
#include <string.h>

#include "process_internal.h"

/* Input is copied into the stdin stream this much at a time, each piece
 * drained (asyncio: write, then drain) before the next. */
#define IN_CHUNK (256u << 10)
/* Reads take at most this much at once (the stream's buffer holds less). */
#define IO_CHUNK (1u << 20)
/* First size of an output buffer; it doubles as it fills. */
#define ACC_FIRST (64u << 10)

/* ---- writing stdin ---- */

/* The child closed its stdin, or exited: the rest is not wanted (asyncio
 * ignores BrokenPipeError and ConnectionResetError here). -ESHUTDOWN: the
 * caller closed the stream itself. */
static bool input_refused(int err)
{
	return err == -EPIPE || err == -ECONNRESET || err == -ESHUTDOWN;
}

static int feed_stdin(ringo_process *p, const char *in, size_t inlen)
{
	ringo_stream *s = p->pipes[0];
	RINGO_ASSERT(s != NULL && !p->done[0]); /* run_jobs picks unfinished pipes */
	while (p->in_sent < inlen) {
		size_t n = inlen - p->in_sent;
		n = n < IN_CHUNK ? n : IN_CHUNK;
		int err = ringo_stream_write(s, in + p->in_sent, n);
		if (input_refused(err))
			break;
		if (err < 0)
			return err;
		p->in_sent += n;
		/* Cancelled here, the bytes are the stream's and still go. */
		err = ringo_stream_drain(s);
		if (input_refused(err))
			break;
		if (err < 0)
			return err;
	}
	/* Flushes what is buffered, then closes: the child reads EOF. */
	ringo_stream_close(s);
	p->done[0] = true;
	return 0;
}

/* ---- reading stdout and stderr ---- */

/* Room for at least ACC_FIRST more bytes and the final '\0'. */
static int acc_reserve(struct ringo__proc_acc *a)
{
	RINGO_ASSERT(a->buf == NULL || a->len < a->cap); /* room for the '\0' */
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
	ringo_stream *s = p->pipes[i];
	RINGO_ASSERT((i == 1 || i == 2) && s != NULL && !p->done[i]);
	for (;;) {
		if (!keep)
			a->len = 0;
		int err = acc_reserve(a);
		if (err < 0)
			return err;
		size_t room = a->cap - a->len - 1;
		int n = ringo_stream_read(s, a->buf + a->len, room < IO_CHUNK ? room : IO_CHUNK);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		a->len += (size_t)n;
	}
	if (!keep) {
		free(a->buf);
		memset(a, 0, sizeof(*a));
	}
	/* asyncio closes the pipe once read(): the stream stays (at EOF)
	 * for the caller's queries until the process is freed. */
	ringo_stream_close(s);
	p->done[i] = true;
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
	RINGO_ASSERT(fd >= 0 && fd < 3);
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
	RINGO_ASSERT(c->p->communicating && c->p->busy > 0);
	static const char *const names[3] = {"communicate-stdin", "communicate-stdout",
					     "communicate-stderr"};
	struct job jobs[3];
	int n = 0;
	for (int fd = 0; fd < 3; fd++) {
		if (c->p->pipes[fd] && !c->p->done[fd])
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
	for (int i = 0; i < 3; i++)
		if (p->pipes[i] && !p->done[i])
			return false;
	return p->phase != RINGO__PROC_RUNNING;
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
	RINGO_ASSERT(i == 1 || i == 2);
	RINGO_ASSERT(!p->pipes[i] || a->buf != NULL); /* acc_ensure'd */
	if (!p->pipes[i]) {
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
	if (inlen > 0 && !p->pipes[0])
		return -EINVAL;
	if (!ringo_task_current())
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
	if ((out && p->pipes[1] && acc_ensure(&p->acc[1]) < 0) ||
	    (err && p->pipes[2] && acc_ensure(&p->acc[2]) < 0))
		return -ENOMEM;
	if (out)
		hand_out(p, 1, out, outlen);
	if (err)
		hand_out(p, 2, err, errlen);
	return 0;
}
