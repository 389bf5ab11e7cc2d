/*
 * Sweep scenarios: subprocesses (include/ringo/process.h).
 *
 * wait: the child is `cat` on a stdin pipe, and exits when a peer closes
 * that pipe a few iterations in. A wait that returns 0 saw it exit 0; one
 * cancelled kills nothing: the check waits again and must see the same
 * normal exit (never a signal).
 *
 * communicate: `tee /dev/stderr` echoes 600 KiB of input to both stdout
 * and stderr (three jobs: the stdin writer and two readers, the caller
 * running one of them and a task group the others). A call that returns 0
 * handed over exactly the input twice; one cancelled (at any point: while
 * spawning the jobs, writing, draining, reading, waiting) lost nothing: a
 * second communicate with the same input, in the check, must complete
 * both outputs exactly, with no byte missing or repeated.
 *
 * Both run on real-time ticks (SWEEP_THREADS): a child's progress is
 * another process's, not loop iterations.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sweep.h"

#define SEED 13
#define COMM_BYTES (600u << 10)

struct proc_st {
	ringo_process *p;
	int code;
	/* communicate */
	unsigned char *in;       /* the input, kept for the check */
	unsigned char *call_in;  /* the copy given to the victim's call */
	char *out, *err;
	size_t outlen, errlen;
};

static void proc_cleanup(struct sweep_ctx *c)
{
	struct proc_st *st = sweep_priv(c);
	free(st->in);
	free(st->call_in);
	free(st->out);
	free(st->err);
}

/* The child is gone and was never signalled; the process is freed. */
static void reap_and_free(struct sweep_ctx *c, struct proc_st *st)
{
	int code = -1000;
	int rc = ringo_process_wait(st->p, &code);
	SWEEP_CHECK(c, rc == 0 && code == 0, "the child's end: wait %d, returncode %d", rc, code);
	SWEEP_CHECK(c, ringo_process_free(st->p) == 0, "free refused");
	st->p = NULL;
}

/* ---- ringo_process_wait ---- */

static int close_stdin_later(void *arg, void **result)
{
	struct proc_st *st = arg;
	sweep_yield(6);
	ringo_stream_close(ringo_process_stdin(st->p));
	return 0;
}

static int wait_setup(struct sweep_ctx *c)
{
	struct proc_st *st = sweep_priv(c);
	ringo_process_options o = {.in = RINGO_STDIO_PIPE};
	int err = ringo_process_spawn(sweep_loop(c), "cat", NULL, &o, &st->p);
	if (err < 0)
		return err;
	sweep_spawn_peer(c, close_stdin_later, st);
	return 0;
}

static int wait_victim(struct sweep_ctx *c)
{
	struct proc_st *st = sweep_priv(c);
	int code = -1000;
	int rc = ringo_process_wait(st->p, &code);
	st->code = code;
	return sweep_returned(c, rc, SWEEP_MEM(&code, sizeof(code)));
}

static void wait_check(struct sweep_ctx *c)
{
	struct proc_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c)) {
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "wait returned %d", rc);
		SWEEP_CHECK(c, rc != 0 || st->code == 0, "returncode %d", st->code);
	}
	reap_and_free(c, st);
}

/* ---- ringo_process_communicate ---- */

static int comm_setup(struct sweep_ctx *c)
{
	struct proc_st *st = sweep_priv(c);
	st->in = malloc(COMM_BYTES);
	st->call_in = malloc(COMM_BYTES);
	if (!st->in || !st->call_in)
		return -ENOMEM;
	sweep_pattern(st->in, COMM_BYTES, 0, SEED);
	memcpy(st->call_in, st->in, COMM_BYTES);
	const char *argv[] = {"tee", "/dev/stderr", NULL};
	ringo_process_options o = {
		.in = RINGO_STDIO_PIPE, .out = RINGO_STDIO_PIPE, .err = RINGO_STDIO_PIPE};
	return ringo_process_spawn(sweep_loop(c), "tee", argv, &o, &st->p);
}

static int comm_victim(struct sweep_ctx *c)
{
	struct proc_st *st = sweep_priv(c);
	/* The input the call sees is poisoned once it returned, so a late
	 * read of it would show in the child's output. */
	unsigned char *in = st->call_in;
	char *out = NULL, *err = NULL;
	size_t outlen = 0, errlen = 0;
	int rc = ringo_process_communicate(st->p, in, COMM_BYTES, -1, &out, &outlen, &err, &errlen);
	st->out = out;
	st->err = err;
	st->outlen = outlen;
	st->errlen = errlen;
	if (rc != 0)
		SWEEP_CHECK(c, !out && !err, "a failed communicate handed out output");
	return sweep_returned(c, rc, SWEEP_MEM(in, COMM_BYTES));
}

static bool is_input(const struct proc_st *st, const char *buf, size_t len)
{
	return buf && len == COMM_BYTES && sweep_pattern_ok(buf, len, 0, SEED);
}

static void comm_check(struct sweep_ctx *c)
{
	struct proc_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "communicate returned %d", rc);
	if (!sweep_called(c) || rc != 0) {
		/* Go on where the cancelled call stopped, same input. */
		rc = ringo_process_communicate(st->p, st->in, COMM_BYTES, -1, &st->out, &st->outlen,
					       &st->err, &st->errlen);
		SWEEP_CHECK(c, rc == 0, "the second communicate returned %d", rc);
	}
	SWEEP_CHECK(c, is_input(st, st->out, st->outlen), "stdout: %zu bytes, not the input",
		    st->outlen);
	SWEEP_CHECK(c, is_input(st, st->err, st->errlen), "stderr: %zu bytes, not the input",
		    st->errlen);
	reap_and_free(c, st);
}

const struct sweep_scenario sweep_process_scenarios[] = {
	{.name = "process_wait", .call = "ringo_process_wait", .flags = SWEEP_THREADS,
	 .priv_size = sizeof(struct proc_st), .setup = wait_setup, .victim = wait_victim,
	 .check = wait_check},
	{.name = "process_communicate", .call = "ringo_process_communicate",
	 .flags = SWEEP_THREADS, .priv_size = sizeof(struct proc_st), .setup = comm_setup,
	 .victim = comm_victim, .check = comm_check, .cleanup = proc_cleanup},
};
const size_t sweep_process_count =
	sizeof(sweep_process_scenarios) / sizeof(sweep_process_scenarios[0]);
