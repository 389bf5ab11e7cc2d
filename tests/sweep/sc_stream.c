/*
 * Sweep scenarios: streams (read, read_exactly on both receive paths,
 * read_until, readline, fill, drain, wait_closed), stream_connect (numeric
 * and by name) and getaddrinfo.
 *
 * Reads keep what they do not hand over: bytes fed = bytes the call handed
 * over + every byte still to come out of the stream (buffered, in flight,
 * in the socket), in order; the check reads the rest through the stream
 * to EOF. Writes are never lost: after drain or wait_closed, cancelled or
 * not, the peer gets every byte written, in order.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support.h" /* fx_localhost_resolves: a minimal root has no /etc/hosts */
#include "sweep.h"

#define SEED 13

struct st {
	struct sweep_ctx *c;
	int fd[2];             /* [0] the stream's (it owns it), [1] the peer's */
	ringo_stream *s;
	unsigned seed;         /* the pattern's */
	uint64_t fed;          /* bytes the feeder sent */
	int got;               /* bytes the call consumed */
	bool got_ok;           /* ...and they start the pattern */
	char delim[2];
	size_t line;           /* read_until/readline: the first line's length */
	/* writers */
	uint64_t written;      /* bytes written to the stream before the call */
	uint64_t received;     /* bytes the peer read (checked) */
	bool broken;           /* the peer saw the pattern broken */
	size_t buffered_at_return;
	/* connect */
	int lfd;
	int port;
};

/* ---- a stream on one end of a socket pair ---- */

static int stream_pair(struct st *st, const ringo_stream_options *o)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st->fd) < 0)
		return -errno;
	int err = ringo_stream_new(ringo_loop_current(), st->fd[0], o, &st->s);
	if (err < 0) {
		close(st->fd[0]);
		close(st->fd[1]);
		st->fd[0] = st->fd[1] = -1;
	}
	return err;
}

static void stream_cleanup(struct sweep_ctx *c)
{
	struct st *st = sweep_priv(c);
	if (st->fd[1] > 0)
		close(st->fd[1]);
}

/* ---- readers ---- */

static int feeder(void *arg, void **result)
{
	struct st *st = arg;
	for (int i = 0; i < 4; i++) {
		sweep_yield(2);
		char buf[20];
		sweep_pattern(buf, sizeof(buf), st->fed, st->seed);
		ssize_t n = send(st->fd[1], buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			st->fed += (uint64_t)n;
	}
	return 0;
}

static int reader_setup_with(struct sweep_ctx *c, unsigned flags)
{
	struct st *st = sweep_priv(c);
	if (!st->seed)
		st->seed = SEED;
	ringo_stream_options o = {.flags = flags};
	int err = stream_pair(st, &o);
	if (err < 0)
		return err;
	sweep_spawn_peer(c, feeder, st);
	return 0;
}

static int reader_setup(struct sweep_ctx *c)
{
	return reader_setup_with(c, 0);
}

static int reader_setup_oneshot(struct sweep_ctx *c)
{
	return reader_setup_with(c, RINGO_STREAM_RECV_ONESHOT);
}

/* Fed = handed over + the rest, read through the stream to EOF. */
static void reader_check(struct sweep_ctx *c)
{
	struct st *st = sweep_priv(c);
	SWEEP_CHECK(c, !sweep_called(c) || st->got_ok, "the bytes handed over do not start the stream");
	uint64_t at = sweep_called(c) && st->got > 0 ? (uint64_t)st->got : 0;
	shutdown(st->fd[1], SHUT_WR);
	char buf[64];
	int n;
	while ((n = ringo_stream_read(st->s, buf, sizeof(buf))) > 0) {
		SWEEP_CHECK(c, sweep_pattern_ok(buf, (size_t)n, at, st->seed),
			    "the bytes left do not continue the stream at %llu",
			    (unsigned long long)at);
		at += (uint64_t)n;
	}
	SWEEP_CHECK(c, n == 0, "reading the rest: %d", n);
	SWEEP_CHECK(c, at == st->fed, "fed %llu; handed over %d, then %llu more",
		    (unsigned long long)st->fed, st->got,
		    (unsigned long long)(at - (uint64_t)(st->got > 0 ? st->got : 0)));
	ringo_stream_free(st->s);
}

#define EXACT 30

static int read_exactly_victim(struct sweep_ctx *c)
{
	struct st *st = sweep_priv(c);
	char dst[EXACT];
	int rc = ringo_stream_read_exactly(st->s, dst, sizeof(dst));
	st->got = rc;
	st->got_ok = rc <= 0 || sweep_pattern_ok(dst, (size_t)rc, 0, st->seed);
	return sweep_returned(c, rc, SWEEP_MEM(dst, sizeof(dst)));
}

static void read_exactly_check(struct sweep_ctx *c)
{
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == EXACT || rc == -ECANCELED, "rc %d", rc);
	reader_check(c);
}

static int read_victim(struct sweep_ctx *c)
{
	struct st *st = sweep_priv(c);
	char dst[16];
	int rc = ringo_stream_read(st->s, dst, sizeof(dst));
	st->got = rc;
	st->got_ok = rc <= 0 || sweep_pattern_ok(dst, (size_t)rc, 0, st->seed);
	return sweep_returned(c, rc, SWEEP_MEM(dst, sizeof(dst)));
}

static void read_check(struct sweep_ctx *c)
{
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, (rc > 0 && rc <= 16) || rc == -ECANCELED, "rc %d", rc);
	reader_check(c);
}

/* A delimiter whose first occurrence in the pattern ends a line of about
 * 45 bytes: two bytes of it (read_until), or "\n" with a pattern seed
 * that puts the first one there (readline). */
static int read_until_setup(struct sweep_ctx *c)
{
	struct st *st = sweep_priv(c);
	st->seed = SEED;
	unsigned char pat[80];
	sweep_pattern(pat, sizeof(pat), 0, st->seed);
	for (size_t d = 45; d < 70; d++) {
		if (memmem(pat, d + 2, pat + d, 2) == pat + d) {
			memcpy(st->delim, pat + d, 2);
			st->line = d + 2;
			return reader_setup(c);
		}
	}
	return -EINVAL;
}

static int readline_setup(struct sweep_ctx *c)
{
	struct st *st = sweep_priv(c);
	for (unsigned seed = 1; seed < 256; seed++) {
		unsigned char pat[80];
		sweep_pattern(pat, sizeof(pat), 0, seed);
		const unsigned char *nl = memchr(pat, '\n', sizeof(pat));
		if (nl && nl - pat >= 40) {
			st->seed = seed;
			st->line = (size_t)(nl - pat) + 1;
			return reader_setup(c);
		}
	}
	return -EINVAL;
}

static int line_victim(struct sweep_ctx *c, bool readline)
{
	struct st *st = sweep_priv(c);
	char delim[2], dst[80];
	memcpy(delim, st->delim, 2);
	int rc = readline ? ringo_stream_readline(st->s, dst, sizeof(dst))
			  : ringo_stream_read_until(st->s, delim, 2, dst, sizeof(dst));
	st->got = rc;
	st->got_ok = rc <= 0 || sweep_pattern_ok(dst, (size_t)rc, 0, st->seed);
	return sweep_returned(c, rc, SWEEP_MEM(dst, sizeof(dst)), SWEEP_MEM(delim, sizeof(delim)));
}

static int read_until_victim(struct sweep_ctx *c)
{
	return line_victim(c, false);
}

static int readline_victim(struct sweep_ctx *c)
{
	return line_victim(c, true);
}

static void line_check(struct sweep_ctx *c)
{
	struct st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == (int)st->line || rc == -ECANCELED, "rc %d (line %zu)", rc,
			    st->line);
	reader_check(c);
}

static int fill_victim(struct sweep_ctx *c)
{
	struct st *st = sweep_priv(c);
	int rc = ringo_stream_fill(st->s);
	st->got = 0; /* fill hands nothing over: the bytes stay buffered */
	st->got_ok = true;
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

static void fill_check(struct sweep_ctx *c)
{
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, rc > 0 || rc == -ECANCELED, "rc %d", rc);
	reader_check(c);
}

/* ---- writers: drain and wait_closed ---- */

#define WRITTEN 12000

/* Take up to 4 KiB every third iteration until the victim is done. */
static int slow_peer(void *arg, void **result)
{
	struct st *st = arg;
	ringo_task *victim = sweep_victim(st->c);
	for (int i = 0; i < 1000 && ringo_task_state(victim) != RINGO_TASK_DONE; i++) {
		sweep_yield(3);
		char buf[4096];
		ssize_t n = recv(st->fd[1], buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0)
			continue;
		if (!sweep_pattern_ok(buf, (size_t)n, st->received, SEED))
			st->broken = true;
		st->received += (uint64_t)n;
	}
	return 0;
}

/* A stream whose peer reads slowly, with WRITTEN bytes written. */
static int writer_setup(struct sweep_ctx *c)
{
	struct st *st = sweep_priv(c);
	st->c = c;
	ringo_stream_options o = {.write_high = 2048, .write_low = 512};
	int err = stream_pair(st, &o);
	if (err < 0)
		return err;
	int small = 4096;
	setsockopt(st->fd[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	char buf[WRITTEN];
	sweep_pattern(buf, sizeof(buf), 0, SEED);
	err = ringo_stream_write(st->s, buf, sizeof(buf));
	if (err < 0)
		return err;
	st->written = WRITTEN;
	sweep_spawn_peer(c, slow_peer, st);
	return 0;
}

static int wait_closed_setup(struct sweep_ctx *c)
{
	int err = writer_setup(c);
	if (err == 0)
		err = ringo_stream_close(((struct st *)sweep_priv(c))->s);
	return err;
}

/* Every byte written reaches the peer, in order, whatever the call did. */
static void peer_gets_everything(struct sweep_ctx *c, bool then_eof)
{
	struct st *st = sweep_priv(c);
	SWEEP_CHECK(c, !st->broken, "the peer saw bytes out of order");
	char buf[4096];
	while (st->received < st->written) {
		int n = ringo_recv(st->fd[1], buf, sizeof(buf), 0);
		if (n <= 0) {
			sweep_fail(c, "the peer got %llu of %llu bytes, then %d",
				   (unsigned long long)st->received, (unsigned long long)st->written,
				   n);
			return;
		}
		SWEEP_CHECK(c, sweep_pattern_ok(buf, (size_t)n, st->received, SEED),
			    "the peer saw bytes out of order at %llu",
			    (unsigned long long)st->received);
		st->received += (uint64_t)n;
	}
	SWEEP_CHECK(c, st->received == st->written, "the peer got %llu of %llu",
		    (unsigned long long)st->received, (unsigned long long)st->written);
	if (then_eof)
		SWEEP_CHECK(c, ringo_recv(st->fd[1], buf, sizeof(buf), 0) == 0,
			    "no EOF after the bytes");
}

static int drain_victim(struct sweep_ctx *c)
{
	struct st *st = sweep_priv(c);
	int rc = ringo_stream_drain(st->s);
	st->buffered_at_return = ringo_stream_write_buffered(st->s);
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

static void drain_check(struct sweep_ctx *c)
{
	struct st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c)) {
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
		SWEEP_CHECK(c, rc != 0 || st->buffered_at_return <= 512,
			    "drain returned with %zu bytes buffered (write_low 512)",
			    st->buffered_at_return);
	}
	/* A cancelled drain leaves the bytes buffered: they still go out. */
	peer_gets_everything(c, false);
	ringo_stream_free(st->s);
}

static int wait_closed_victim(struct sweep_ctx *c)
{
	struct st *st = sweep_priv(c);
	int rc = ringo_stream_wait_closed(st->s);
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

static void wait_closed_check(struct sweep_ctx *c)
{
	struct st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
	if (sweep_called(c) && rc == 0)
		SWEEP_CHECK(c, ringo_stream_fd(st->s) == -EBADF, "returned 0 before the close");
	/* Cancelled or not, the close goes on: everything, then EOF. */
	peer_gets_everything(c, true);
	int again = ringo_stream_wait_closed(st->s);
	SWEEP_CHECK(c, again == 0, "wait_closed afterwards: %d", again);
	ringo_stream_free(st->s);
}

/* ---- connect, getaddrinfo ---- */

static int listener_setup(struct sweep_ctx *c)
{
	struct st *st = sweep_priv(c);
	st->lfd = ringo_tcp_listen("127.0.0.1", 0, 16, 0);
	if (st->lfd < 0)
		return st->lfd;
	st->port = ringo_socket_port(st->lfd);
	return 0;
}

static void listener_cleanup(struct sweep_ctx *c)
{
	struct st *st = sweep_priv(c);
	close(st->lfd); /* connections still in the backlog go with it */
}

static int connect_victim_to(struct sweep_ctx *c, const char *host)
{
	struct st *st = sweep_priv(c);
	ringo_stream *s = NULL;
	int rc = ringo_stream_connect(host, st->port, RINGO_SEC(5), NULL, &s);
	if (rc == 0)
		ringo_stream_free(s);
	else if (s)
		sweep_fail(c, "a failed connect handed out a stream");
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

static int connect_victim(struct sweep_ctx *c)
{
	return connect_victim_to(c, "127.0.0.1");
}

static int connect_name_victim(struct sweep_ctx *c)
{
	return connect_victim_to(c, "localhost");
}

/* rc of a call that resolves "localhost": 0 or -ECANCELED, or where the
 * name does not resolve, the resolver's "no such name" error. */
static bool name_rc_ok(int rc)
{
	return rc == 0 || rc == -ECANCELED ||
	       (!fx_localhost_resolves() && (rc == -ENOENT || rc == -EAGAIN));
}

static void connect_check(struct sweep_ctx *c)
{
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
}

static void connect_name_check(struct sweep_ctx *c)
{
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, name_rc_ok(rc), "rc %d", rc);
}

static int getaddrinfo_victim(struct sweep_ctx *c)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int rc = ringo_getaddrinfo("localhost", "80", &hints, &res);
	if (rc == 0 && !res)
		sweep_fail(c, "0 without a result");
	if (rc != 0 && res)
		sweep_fail(c, "an error with a result");
	if (res)
		freeaddrinfo(res);
	return sweep_returned(c, rc, SWEEP_MEM(&hints, sizeof(hints)));
}

static void getaddrinfo_check(struct sweep_ctx *c)
{
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, name_rc_ok(rc), "rc %d", rc);
}

#define READER(nm, cl, su, v, ck)                                                              \
	{.name = nm, .call = cl, .priv_size = sizeof(struct st), .setup = su, .victim = v,     \
	 .check = ck, .cleanup = stream_cleanup}

const struct sweep_scenario sweep_stream_scenarios[] = {
	READER("stream_read", "ringo_stream_read", reader_setup, read_victim, read_check),
	READER("stream_read_exactly", "ringo_stream_read_exactly", reader_setup,
	       read_exactly_victim, read_exactly_check),
	READER("stream_read_exactly_oneshot", "ringo_stream_read_exactly (one-shot receive)",
	       reader_setup_oneshot, read_exactly_victim, read_exactly_check),
	READER("stream_read_until", "ringo_stream_read_until", read_until_setup,
	       read_until_victim, line_check),
	READER("stream_readline", "ringo_stream_readline", readline_setup, readline_victim,
	       line_check),
	READER("stream_fill", "ringo_stream_fill", reader_setup, fill_victim, fill_check),
	READER("stream_drain", "ringo_stream_drain", writer_setup, drain_victim, drain_check),
	READER("stream_wait_closed", "ringo_stream_wait_closed", wait_closed_setup,
	       wait_closed_victim, wait_closed_check),
	{.name = "stream_connect", .call = "ringo_stream_connect (numeric)",
	 .priv_size = sizeof(struct st), .setup = listener_setup, .victim = connect_victim,
	 .check = connect_check, .cleanup = listener_cleanup},
	{.name = "stream_connect_name", .call = "ringo_stream_connect (a name)",
	 .flags = SWEEP_THREADS, .priv_size = sizeof(struct st), .setup = listener_setup,
	 .victim = connect_name_victim, .check = connect_name_check, .cleanup = listener_cleanup},
	{.name = "getaddrinfo", .call = "ringo_getaddrinfo", .flags = SWEEP_THREADS,
	 .priv_size = sizeof(struct st), .victim = getaddrinfo_victim,
	 .check = getaddrinfo_check},
};
const size_t sweep_stream_count = sizeof(sweep_stream_scenarios) / sizeof(sweep_stream_scenarios[0]);
