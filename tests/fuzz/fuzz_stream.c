/*
 * Fuzz target: ringo's streams (include/ringo/stream.h) on a real
 * socketpair under a real loop, fed in random chunkings.
 *
 * Input: rsize, wsize, script length L, L script bytes, the payload.
 *   rsize:  the reader's read_limit: 1 + rsize % 64 bytes, larger ones
 *           (128 << rsize % 6) from 0xc0, the default (64 KiB) at 0xff
 *   wsize:  the writer's write_high: wsize % 64 bytes (0: the default);
 *           its top 2 bits pick how the reader receives: 01 one-shot,
 *           10 multishot, else the default
 *   script: one byte per step, cycled. The writer takes chunk sizes from
 *           it (1 + low 6 bits) and what to do after the chunk (top 2
 *           bits: 00 nothing, 01 drain, 10 yield a loop iteration, 11
 *           write it with writev in two pieces, then drain in an expired
 *           timeout scope); the reader its calls (low 2 bits: read_exactly
 *           / read_until or readline / read / peek + consume (fill first
 *           when nothing is buffered); the next 5 bits a length - 1 or the
 *           delimiter; the top bit: call it in an expired timeout scope
 *           first).
 *
 * A writer task writes the payload in those chunks, drains, half-closes
 * (write_eof) and closes; a reader task on the other end reads it with
 * those calls until EOF. Checked: every call returns what stream.h says
 * and fails only as it says (a read that fails consumed nothing and the
 * bytes buffered before are still buffered first; a write refused with
 * -ENOBUFS took nothing; a drain cancelled leaves its bytes to be sent;
 * the scope's exit says -ETIMEDOUT), the counters agree, and the bytes
 * read are the payload: none lost, none twice, in order.
 *
 * One loop serves every input (set up on the first), as a server's loop
 * serves many connections; each input gets a fresh socketpair.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fuzz.h"
#include "ringo.h"

struct run {
	const uint8_t *script;
	size_t script_len;
	const char *payload;
	size_t len;
	ringo_stream *rs, *ws; /* the reader's and the writer's streams */
	char *got;             /* what the reader read, len bytes at most */
	size_t got_len;
};

static uint8_t script_at(const struct run *r, size_t i)
{
	return r->script_len ? r->script[i % r->script_len] : 0x3f;
}

/* An expired timeout scope around one call (asyncio.timeout(0)): the
 * first suspension that has to wait is cancelled, so a call that must wait
 * returns -ECANCELED (one served at once is not touched). */
static void timeout_now(ringo_timeout *scope)
{
	FUZZ_CHECK(ringo_timeout_enter(scope, 0) == 0);
}

/* Leave the scope: a call it cancelled (rc -ECANCELED) turns into
 * -ETIMEDOUT, one it did not keeps its rc. */
static void timeout_leave(ringo_timeout *scope, int rc)
{
	int out = ringo_timeout_exit(scope, rc);
	FUZZ_CHECK(rc == -ECANCELED ? out == -ETIMEDOUT : out == rc);
}

/* ---- the writer ---- */

/* Write p[0, n), all or nothing: a write refused because the writer did
 * not drain (-ENOBUFS) took nothing, and goes through after a drain. */
static void write_chunk(ringo_stream *s, const char *p, size_t n, bool vectored)
{
	size_t half = n / 2;
	struct iovec iov[2] = {{(void *)p, half}, {(void *)(p + half), n - half}};
	for (;;) {
		size_t before = ringo_stream_write_buffered(s);
		int rc = vectored ? ringo_stream_writev(s, iov, 2) : ringo_stream_write(s, p, n);
		if (rc == 0)
			return;
		FUZZ_CHECK(rc == -ENOBUFS && ringo_stream_write_buffered(s) <= before);
		FUZZ_CHECK(ringo_stream_drain(s) == 0);
	}
}

/* A drain in an expired scope: done at once if little is buffered, else
 * cancelled; the bytes stay buffered and are still sent. */
static void drain_timed_out(ringo_stream *s)
{
	ringo_timeout scope;
	timeout_now(&scope);
	int rc = ringo_stream_drain(s);
	timeout_leave(&scope, rc);
	FUZZ_CHECK(rc == 0 || rc == -ECANCELED);
}

static int writer(void *arg, void **result)
{
	struct run *r = arg;
	ringo_stream *s = r->ws;
	size_t off = 0;
	/* Start half-way through the script so that chunk sizes and read
	 * calls do not move in step. */
	for (size_t i = r->script_len / 2; off < r->len; i++) {
		uint8_t c = script_at(r, i);
		size_t n = 1 + (c & 0x3f);
		if (n > r->len - off)
			n = r->len - off;
		write_chunk(s, r->payload + off, n, (c & 0xc0) == 0xc0);
		off += n;
		if ((c & 0xc0) == 0x40)
			FUZZ_CHECK(ringo_stream_drain(s) == 0);
		else if ((c & 0xc0) == 0x80)
			FUZZ_CHECK(ringo_sleep(0) == 0);
		else if ((c & 0xc0) == 0xc0)
			drain_timed_out(s);
	}
	FUZZ_CHECK(ringo_stream_drain(s) == 0);
	FUZZ_CHECK(ringo_stream_write_eof(s) == 0);
	FUZZ_CHECK(ringo_stream_write(s, "x", 1) == -ESHUTDOWN);
	FUZZ_CHECK(ringo_stream_close(s) == 0 && ringo_stream_wait_closed(s) == 0);
	struct ringo_stream_stats st;
	ringo_stream_stats(s, &st);
	FUZZ_CHECK(st.bytes_written == r->len && ringo_stream_write_buffered(s) == 0);
	return 0;
}

/* ---- the reader ---- */

/* What a reader step came to. */
enum step { GO_ON, AT_END, CANCELLED };

static void got_bytes(struct run *r, const void *p, size_t n)
{
	FUZZ_CHECK(r->got_len + n <= r->len);
	if (n) /* peek gives NULL when nothing is buffered */
		memcpy(r->got + r->got_len, p, n);
	r->got_len += n;
}

/* Move n buffered bytes into what was read, through peek and consume. */
static void take_buffered(struct run *r, ringo_stream *s, size_t n)
{
	size_t have;
	const void *p = ringo_stream_peek(s, &have);
	FUZZ_CHECK(n <= have && (have == 0) == (p == NULL));
	got_bytes(r, p, n);
	FUZZ_CHECK(ringo_stream_consume(s, n) == 0);
}

static size_t buffered(const ringo_stream *s)
{
	size_t have;
	ringo_stream_peek(s, &have);
	return have;
}

/* A read ended at EOF: what it left buffered is the rest of the payload;
 * take it. */
static enum step at_eof(struct run *r, ringo_stream *s)
{
	take_buffered(r, s, buffered(s));
	FUZZ_CHECK(ringo_stream_at_eof(s));
	return AT_END;
}

static enum step op_read(struct run *r, ringo_stream *s, size_t len)
{
	char *dst = malloc(len);
	size_t before = buffered(s);
	int rc = ringo_stream_read(s, dst, len);
	if (rc != -ECANCELED) {
		FUZZ_CHECK(rc >= 0 && (size_t)rc <= len);
		/* Buffered bytes come first, without waiting for more. */
		FUZZ_CHECK(before == 0 || (size_t)rc == (before < len ? before : len));
		got_bytes(r, dst, (size_t)rc);
	}
	free(dst);
	return rc == -ECANCELED ? CANCELLED : rc == 0 ? at_eof(r, s) : GO_ON;
}

static enum step op_read_exactly(struct run *r, ringo_stream *s, size_t len)
{
	char *dst = malloc(len);
	int rc = ringo_stream_read_exactly(s, dst, len);
	enum step st = GO_ON;
	if (rc == (int)len) {
		got_bytes(r, dst, len);
	} else if (rc == -ECANCELED) {
		st = CANCELLED;
	} else {
		/* EOF with fewer than len: they stay buffered. */
		FUZZ_CHECK(rc == -ENODATA && buffered(s) < len);
		st = at_eof(r, s);
	}
	free(dst);
	return st;
}

/* A line too long for the buffer or for read_limit (-EMSGSIZE): nothing
 * was consumed; take the bytes with peek and consume, as a caller that
 * skips a long line would. */
static enum step too_long(struct run *r, ringo_stream *s, size_t cap)
{
	size_t have = buffered(s);
	FUZZ_CHECK(have > 0);
	take_buffered(r, s, have < cap ? have : cap);
	return GO_ON;
}

/* read_until with one of four delimiters (readline for "\n"), into a
 * buffer of cap bytes. */
static enum step op_read_until(struct run *r, ringo_stream *s, uint8_t arg, size_t cap)
{
	static const char *delims[] = {"\n", "\r\n", "aa"};
	char one = (char)(arg | 0x40);
	const char *d = (arg & 3) < 3 ? delims[arg & 3] : &one;
	size_t dlen = (arg & 3) < 3 ? strlen(d) : 1;
	bool readline = (arg & 3) == 0;
	char *dst = malloc(cap);
	int rc = readline ? ringo_stream_readline(s, dst, cap)
			  : ringo_stream_read_until(s, d, dlen, dst, cap);
	enum step st = GO_ON;
	if (rc > 0) {
		/* A line: ends with the delimiter (or, from readline, is the
		 * last bytes before EOF), holds no earlier one. */
		size_t n = (size_t)rc;
		bool ends = n >= dlen && !memcmp(dst + n - dlen, d, dlen);
		FUZZ_CHECK(n <= cap && (ends || (readline && buffered(s) == 0)));
		FUZZ_CHECK(!memmem(dst, n - 1, d, dlen));
		got_bytes(r, dst, n);
		st = readline && !ends ? at_eof(r, s) : GO_ON;
	} else if (rc == -ECANCELED) {
		st = CANCELLED;
	} else if (rc == -EMSGSIZE) {
		st = too_long(r, s, cap);
	} else {
		/* 0 from readline at a clean EOF; -ENODATA at EOF mid-line,
		 * the partial line buffered, without the delimiter. */
		size_t have;
		const void *p = ringo_stream_peek(s, &have);
		FUZZ_CHECK(readline ? rc == 0 && have == 0 : rc == -ENODATA);
		FUZZ_CHECK(have == 0 || !memmem(p, have, d, dlen));
		st = at_eof(r, s);
	}
	free(dst);
	return st;
}

static enum step op_peek_consume(struct run *r, ringo_stream *s, size_t want)
{
	size_t have = buffered(s);
	if (have == 0) {
		int rc = ringo_stream_fill(s);
		if (rc == -ECANCELED)
			return CANCELLED;
		FUZZ_CHECK(rc >= 0 && (size_t)rc == buffered(s));
		if (rc == 0)
			return at_eof(r, s);
		have = (size_t)rc;
	}
	take_buffered(r, s, want < have ? want : have);
	return GO_ON;
}

/* One reader call for script byte c. */
static enum step read_step(struct run *r, ringo_stream *s, uint8_t c)
{
	size_t len = 1 + ((c >> 2) & 0x1f);
	switch (c & 3) {
	case 0:
		return op_read_exactly(r, s, len);
	case 1:
		/* The line buffer: from 1 byte up, so that lines longer than
		 * it come up as often as lines longer than read_limit. */
		return op_read_until(r, s, (uint8_t)((c >> 2) & 0x1f), 2 * len);
	case 2:
		return op_read(r, s, len);
	default:
		return op_peek_consume(r, s, len);
	}
}

/* A step in an expired timeout scope: it succeeds (from the buffer), or is
 * cancelled having consumed nothing: nothing read, the bytes buffered
 * before still buffered first (more may have arrived behind them). Then
 * it is done again outside the scope, as a caller retries after a
 * timeout. */
static enum step read_step_timed_out(struct run *r, ringo_stream *s, uint8_t c)
{
	size_t had, got_before = r->got_len;
	const void *p = ringo_stream_peek(s, &had);
	char *snapshot = malloc(had + 1);
	if (had)
		memcpy(snapshot, p, had);
	ringo_timeout scope;
	timeout_now(&scope);
	enum step st = read_step(r, s, c);
	timeout_leave(&scope, st == CANCELLED ? -ECANCELED : 0);
	if (st == CANCELLED) {
		size_t have;
		p = ringo_stream_peek(s, &have);
		FUZZ_CHECK(r->got_len == got_before && have >= had);
		FUZZ_CHECK(had == 0 || !memcmp(p, snapshot, had));
		st = read_step(r, s, c);
		FUZZ_CHECK(st != CANCELLED);
	}
	free(snapshot);
	return st;
}

static int reader(void *arg, void **result)
{
	struct run *r = arg;
	ringo_stream *s = r->rs;
	char none;
	FUZZ_CHECK(ringo_stream_read(s, &none, 0) == 0);
	FUZZ_CHECK(ringo_stream_read_until(s, "", 0, &none, 1) == -EINVAL);
	for (size_t i = 0;; i++) {
		uint8_t c = script_at(r, i);
		enum step st = c & 0x80 ? read_step_timed_out(r, s, c) : read_step(r, s, c);
		FUZZ_CHECK(st != CANCELLED);
		if (st == AT_END)
			break;
	}
	/* At EOF: every later read says so, and nothing is left. */
	char b[8];
	FUZZ_CHECK(ringo_stream_read(s, b, sizeof(b)) == 0 && buffered(s) == 0);
	FUZZ_CHECK(ringo_stream_at_eof(s));
	struct ringo_stream_stats st;
	ringo_stream_stats(s, &st);
	FUZZ_CHECK(st.bytes_read == r->len);
	FUZZ_CHECK(ringo_stream_close(s) == 0 && ringo_stream_wait_closed(s) == 0);
	return 0;
}

/* ---- one input ---- */

static ringo_loop *loop;

static void free_loop(void)
{
	ringo_loop_free(loop);
	loop = NULL;
}

static size_t read_limit_of(uint8_t b)
{
	if (b == 0xff)
		return 0;
	return b >= 0xc0 ? (size_t)128 << (b % 6) : 1 + (size_t)(b % 64);
}

static unsigned recv_flags_of(uint8_t b)
{
	switch (b >> 6) {
	case 1: return RINGO_STREAM_RECV_ONESHOT;
	case 2: return RINGO_STREAM_RECV_MULTISHOT;
	default: return 0;
	}
}

/* Both ends as streams (which own the fds from then on). */
static void open_streams(struct run *r, const uint8_t *data)
{
	int sv[2];
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	ringo_stream_options ro = {.read_limit = read_limit_of(data[0]), .flags = recv_flags_of(data[1])};
	ringo_stream_options wo = {.write_high = data[1] & 0x3f};
	FUZZ_CHECK(ringo_stream_new(loop, sv[0], &ro, &r->rs) == 0);
	FUZZ_CHECK(ringo_stream_new(loop, sv[1], &wo, &r->ws) == 0);
}

/* A task that waits for the two others, then frees the streams and lets
 * the loop take their last completions, so that an input leaves nothing
 * behind for the next one. */
static int run_input(void *arg, void **result)
{
	struct run *r = arg;
	ringo_task *w, *rd;
	FUZZ_CHECK(ringo_spawn(loop, writer, r, NULL, &w) == 0);
	FUZZ_CHECK(ringo_spawn(loop, reader, r, NULL, &rd) == 0);
	FUZZ_CHECK(ringo_await(ringo_task_future(rd), NULL) == 0);
	FUZZ_CHECK(ringo_await(ringo_task_future(w), NULL) == 0);
	ringo_task_release(w);
	ringo_task_release(rd);
	ringo_stream_free(r->rs);
	ringo_stream_free(r->ws);
	FUZZ_CHECK(ringo_sleep(0) == 0 && ringo_sleep(0) == 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3 || size - 3 < data[2])
		return 0;
	if (!loop) {
		/* Real time even if the environment asks for virtual time
		 * (nothing here waits for a timer). */
		ringo_loop_options opts;
		ringo_loop_options_init(&opts);
		opts.flags &= ~(unsigned)RINGO_LOOP_VIRTUAL_CLOCK;
		int err = ringo_loop_new(&opts, &loop);
		if (err) {
			fprintf(stderr, "fuzz_stream: no loop: %s\n", ringo_strerror(err));
			abort();
		}
		atexit(free_loop);
	}
	struct run r = {
		.script = data + 3,
		.script_len = data[2],
		.payload = (const char *)data + 3 + data[2],
		.len = size - 3 - data[2],
	};
	r.got = malloc(r.len + 1);
	open_streams(&r, data);
	ringo_task *t;
	FUZZ_CHECK(ringo_spawn(loop, run_input, &r, NULL, &t) == 0);
	FUZZ_CHECK(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL) == 0);
	ringo_task_release(t);
	/* No loss, no duplication, order kept. */
	FUZZ_CHECK(r.got_len == r.len && !memcmp(r.got, r.payload, r.len));
	free(r.got);
	return 0;
}
