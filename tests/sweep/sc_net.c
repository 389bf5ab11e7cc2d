/*
 * Sweep scenarios: streams (read_exactly, read_until, read_some, write,
 * flush), send_all, the multishot acceptor, provided-buffer receive,
 * dial. (signal_wait: sc_misc.c.)
 *
 * Streams keep what they do not hand over: bytes fed = bytes the call
 * returned + bytes still buffered in the stream + bytes still in the
 * socket, in order. Writes are counted: bytes the reader got = what was
 * in the socket before + s->wsent, and the bytes the call took (change
 * of wsent + wlen) agree with what it returned.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sweep.h"

#define SEED 11

/* ---- a socket pair, a peer feeding or draining it ---- */

struct net_st {
	struct sweep_ctx *c;
	int fd[2];             /* [0] the victim's end */
	ringo_stream s;
	char rbuf[64];
	char wbuf[16384];
	uint64_t fed;          /* bytes the feeder wrote */
	uint64_t prefill;      /* bytes in the socket before the writer started */
	uint64_t taken_before; /* wsent + wlen before the call */
	uint64_t received;     /* bytes the drainer got (checked) */
	bool broken;           /* the drainer saw the pattern broken */
	int got;               /* bytes handed to the victim */
	bool got_ok;
	char delim[2];
	size_t line;           /* read_until: length of the first line */
	/* acceptor, dial */
	int lfd;
	struct sockaddr_in addr;
	int client[2];
	int nclients;
	ringo_acceptor acc;
	bool acc_open;
	ringo_bufring *br;
};

static int feeder(void *arg, void **result)
{
	struct net_st *st = arg;
	for (int i = 0; i < 4; i++) {
		sweep_yield(2);
		char buf[20];
		sweep_pattern(buf, sizeof(buf), st->fed, SEED);
		ssize_t n = send(st->fd[1], buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			st->fed += (uint64_t)n;
	}
	return 0;
}

/* Take up to 4 KiB every third iteration until the victim is done. */
static int drainer(void *arg, void **result)
{
	struct net_st *st = arg;
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

static int pair(struct net_st *st)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st->fd) < 0)
		return -errno;
	int small = 4096;
	setsockopt(st->fd[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	ringo_stream_init(&st->s, st->fd[0], st->rbuf, sizeof(st->rbuf), st->wbuf,
			  sizeof(st->wbuf));
	return 0;
}

static void net_cleanup(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	for (int i = 0; i < 2; i++)
		if (st->fd[i] > 0)
			close(st->fd[i]);
}

/* ---- stream reads ---- */

static int stream_reader_setup(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	int err = pair(st);
	if (err < 0)
		return err;
	sweep_spawn_peer(c, feeder, st);
	return 0;
}

/* Fed = handed over + buffered + still in the socket, in order. */
static void stream_reader_check(struct sweep_ctx *c, bool consumes)
{
	struct net_st *st = sweep_priv(c);
	uint64_t at = sweep_called(c) && consumes && st->got > 0 ? (uint64_t)st->got : 0;
	SWEEP_CHECK(c, !sweep_called(c) || st->got_ok, "the bytes handed over do not start the stream");
	size_t buffered;
	const char *p = ringo_stream_peek(&st->s, &buffered);
	SWEEP_CHECK(c, sweep_pattern_ok(p, buffered, at, SEED),
		    "the buffered bytes do not continue the stream");
	at += buffered;
	long left = sweep_drain(st->fd[0], &at, SEED);
	SWEEP_CHECK(c, left >= 0, "the bytes left in the socket do not continue the stream");
	SWEEP_CHECK(c, at == st->fed, "fed %llu; handed over %d, buffered %zu, left %ld",
		    (unsigned long long)st->fed, st->got, buffered, left);
}

#define EXACT 30

static int read_exactly_victim(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	char dst[EXACT];
	int rc = ringo_stream_read_exactly(&st->s, dst, sizeof(dst));
	st->got = rc;
	st->got_ok = rc <= 0 || sweep_pattern_ok(dst, (size_t)rc, 0, SEED);
	return sweep_returned(c, rc, SWEEP_MEM(dst, sizeof(dst)));
}

static void read_exactly_check(struct sweep_ctx *c)
{
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == EXACT || rc == -ECANCELED, "rc %d", rc);
	stream_reader_check(c, true);
}

/* A 2-byte delimiter whose first occurrence in the pattern ends a line
 * of about 45 bytes. */
static int read_until_setup(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	unsigned char pat[80];
	sweep_pattern(pat, sizeof(pat), 0, SEED);
	for (size_t d = 45; d < 70; d++) {
		if (memmem(pat, d + 2, pat + d, 2) == pat + d) {
			memcpy(st->delim, pat + d, 2);
			st->line = d + 2;
			return stream_reader_setup(c);
		}
	}
	return -EINVAL;
}

static int read_until_victim(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	char delim[2];
	memcpy(delim, st->delim, 2);
	int rc = ringo_stream_read_until(&st->s, delim, 2);
	st->got = 0; /* nothing is consumed, even on success */
	st->got_ok = true;
	return sweep_returned(c, rc, SWEEP_MEM(delim, sizeof(delim)));
}

static void read_until_check(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == (int)st->line || rc == -ECANCELED, "rc %d (line %zu)", rc,
			    st->line);
	stream_reader_check(c, false);
}

static int read_some_victim(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	char dst[16];
	int rc = ringo_stream_read_some(&st->s, dst, sizeof(dst));
	st->got = rc;
	st->got_ok = rc <= 0 || sweep_pattern_ok(dst, (size_t)rc, 0, SEED);
	return sweep_returned(c, rc, SWEEP_MEM(dst, sizeof(dst)));
}

static void read_some_check(struct sweep_ctx *c)
{
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, (rc > 0 && rc <= 16) || rc == -ECANCELED, "rc %d", rc);
	stream_reader_check(c, true);
}

/* ---- stream writes and send_all: the socket starts full ---- */

static uint64_t fill_up(int fd)
{
	uint64_t total = 0;
	char buf[1024];
	for (;;) {
		sweep_pattern(buf, sizeof(buf), total, SEED);
		ssize_t n = send(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0)
			return total;
		total += (uint64_t)n;
	}
}

#define FLUSHED 12000 /* bytes buffered before flush */

/* buffered: bytes put in the stream's buffer before the victim runs. */
static int writer_setup(struct sweep_ctx *c, size_t wcap, size_t buffered)
{
	struct net_st *st = sweep_priv(c);
	int err = pair(st);
	if (err < 0)
		return err;
	st->s.wcap = wcap;
	st->prefill = fill_up(st->fd[0]);
	char buf[FLUSHED];
	sweep_pattern(buf, buffered, st->prefill, SEED);
	if (ringo_stream_write(&st->s, buf, buffered) != 0) /* fits: no suspension */
		return -EIO;
	st->taken_before = st->s.wsent + st->s.wlen;
	st->c = c;
	sweep_spawn_peer(c, drainer, st);
	return 0;
}

static int write_setup(struct sweep_ctx *c)
{
	return writer_setup(c, 256, 200);
}

static int write_big_setup(struct sweep_ctx *c)
{
	return writer_setup(c, 64, 0);
}

static int flush_setup(struct sweep_ctx *c)
{
	return writer_setup(c, sizeof(((struct net_st *)0)->wbuf), FLUSHED);
}

static int send_all_setup(struct sweep_ctx *c)
{
	return writer_setup(c, 0, 0);
}

/* The reader got the prefill and then exactly s->wsent bytes of the
 * stream (or `sent` for send_all), and what is still buffered follows. */
static void writer_check(struct sweep_ctx *c, uint64_t sent)
{
	struct net_st *st = sweep_priv(c);
	SWEEP_CHECK(c, !st->broken, "the reader saw bytes out of order or canary bytes");
	uint64_t at = st->received;
	long left = sweep_drain(st->fd[1], &at, SEED);
	SWEEP_CHECK(c, left >= 0, "the reader saw bytes out of order or canary bytes");
	SWEEP_CHECK(c, at == st->prefill + sent, "reader got %llu = prefill %llu + %llu sent?",
		    (unsigned long long)at, (unsigned long long)st->prefill,
		    (unsigned long long)sent);
	SWEEP_CHECK(c, sweep_pattern_ok(st->wbuf, st->s.wlen, st->prefill + st->s.wsent, SEED),
		    "the bytes still buffered do not follow those sent");
	int rc = sweep_rc(c);
	SWEEP_CHECK(c, !sweep_called(c) || rc != -ECANCELED || st->s.error == 0,
		    "a cancellation left a sticky error on the stream");
}

#define SMALL 100
#define BIG 12000 /* several sends: cancelled part-way */

static int write_victim(struct sweep_ctx *c, size_t len)
{
	struct net_st *st = sweep_priv(c);
	char src[BIG];
	sweep_pattern(src, len, st->prefill + st->taken_before, SEED);
	int rc = ringo_stream_write(&st->s, src, len);
	return sweep_returned(c, rc, SWEEP_MEM(src, len));
}

static int write_small_victim(struct sweep_ctx *c)
{
	return write_victim(c, SMALL);
}

static int write_big_victim(struct sweep_ctx *c)
{
	return write_victim(c, BIG);
}

/* Taken all (0) or, for a len that fits the buffer, nothing (-errno). */
static void write_check_len(struct sweep_ctx *c, size_t len, bool all_or_nothing)
{
	struct net_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	uint64_t taken = st->s.wsent + st->s.wlen - st->taken_before;
	if (sweep_called(c)) {
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
		SWEEP_CHECK(c, rc != 0 || taken == len, "returned 0 having taken %llu of %zu",
			    (unsigned long long)taken, len);
		SWEEP_CHECK(c, rc == 0 || !all_or_nothing || taken == 0,
			    "failed (%d) having taken %llu of %zu", rc, (unsigned long long)taken, len);
		SWEEP_CHECK(c, taken <= len, "took %llu of %zu", (unsigned long long)taken, len);
	}
	writer_check(c, st->s.wsent);
}

static void write_small_check(struct sweep_ctx *c)
{
	write_check_len(c, SMALL, true);
}

static void write_big_check(struct sweep_ctx *c)
{
	write_check_len(c, BIG, false);
}

static int flush_victim(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	int rc = ringo_stream_flush(&st->s);
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

static void flush_check(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c)) {
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
		SWEEP_CHECK(c, rc != 0 || st->s.wlen == 0, "flushed but %zu bytes still buffered",
			    st->s.wlen);
	}
	SWEEP_CHECK(c, st->s.wsent + st->s.wlen == FLUSHED, "sent %llu + buffered %zu != %d",
		    (unsigned long long)st->s.wsent, st->s.wlen, FLUSHED);
	writer_check(c, st->s.wsent);
}

#define ALL 20000

static int send_all_victim(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	char src[ALL];
	sweep_pattern(src, sizeof(src), st->prefill, SEED);
	int rc = ringo_send_all(st->fd[0], src, sizeof(src));
	return sweep_returned(c, rc, SWEEP_MEM(src, sizeof(src)));
}

/* len, a short count (stopped part-way: the count is what went out), or
 * -ECANCELED with nothing sent. */
static void send_all_check(struct sweep_ctx *c)
{
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, (rc > 0 && rc <= ALL) || rc == -ECANCELED, "rc %d", rc);
	writer_check(c, sweep_called(c) && rc > 0 ? (uint64_t)rc : 0);
}

/* ---- listeners: the multishot acceptor, dial ---- */

static int listener(struct net_st *st)
{
	st->lfd = ringo_listen_tcp("127.0.0.1", 0, 16, 0);
	if (st->lfd < 0)
		return st->lfd;
	memset(&st->addr, 0, sizeof(st->addr));
	st->addr.sin_family = AF_INET;
	st->addr.sin_port = htons((uint16_t)ringo_local_port(st->lfd));
	st->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return 0;
}

static void connect_client(struct net_st *st)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	connect(fd, (struct sockaddr *)&st->addr, sizeof(st->addr));
	st->client[st->nclients++] = fd;
}

static int clients(void *arg, void **result)
{
	struct net_st *st = arg;
	for (int i = 0; i < 2; i++) {
		sweep_yield(2);
		connect_client(st);
	}
	return 0;
}

static int acceptor_setup(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	int err = listener(st);
	if (err < 0)
		return err;
	err = ringo_acceptor_init(&st->acc, st->lfd);
	if (err < 0)
		return err;
	st->acc_open = true;
	sweep_spawn_peer(c, clients, st);
	return 0;
}

static int acceptor_next_victim(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	int rc = ringo_acceptor_next(&st->acc);
	if (rc >= 0) {
		if (write(rc, "A", 1) != 1)
			sweep_fail(c, "marking the accepted connection failed");
		close(rc);
	}
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

/* Connections taken = connections marked. Accepted ones not taken are
 * closed by acceptor_close, unmarked. */
static int count_marked(struct net_st *st, int expected)
{
	int marked = 0;
	bool seen[2] = {false, false};
	for (int tries = 0; tries < 100; tries++) {
		for (int i = 0; i < st->nclients; i++) {
			char ch;
			if (!seen[i] && recv(st->client[i], &ch, 1, MSG_DONTWAIT) == 1 && ch == 'A') {
				seen[i] = true;
				marked++;
			}
		}
		if (marked >= expected)
			break;
		usleep(1000);
	}
	return marked;
}

static void acceptor_close_now(struct sweep_ctx *c, struct net_st *st)
{
	if (st->acc_open && st->acc.impl) {
		int err = ringo_acceptor_close(&st->acc);
		SWEEP_CHECK(c, err == 0, "acceptor_close: %d", err);
	}
	st->acc_open = false;
}

static void acceptor_next_check(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, rc >= 0 || rc == -ECANCELED, "rc %d", rc);
	acceptor_close_now(c, st);
	int taken = sweep_called(c) && rc >= 0;
	int marked = count_marked(st, taken);
	SWEEP_CHECK(c, marked == taken, "%d connections marked, the call took %d", marked, taken);
}

static int acceptor_close_setup(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	int err = listener(st);
	if (err < 0)
		return err;
	err = ringo_acceptor_init(&st->acc, st->lfd);
	if (err < 0)
		return err;
	st->acc_open = true;
	connect_client(st); /* accepted and queued: close must close it */
	return 0;
}

/* Closing waits for the kernel whatever happens: it always completes,
 * and a cancel is delivered at the next suspension. */
static int acceptor_close_victim(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	int rc = ringo_acceptor_close(&st->acc);
	st->got_ok = st->acc.impl == NULL;
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

static void acceptor_close_check(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c)) {
		SWEEP_CHECK(c, rc == 0, "rc %d", rc);
		SWEEP_CHECK(c, st->got_ok, "the acceptor is still open");
	}
	acceptor_close_now(c, st); /* if the victim never ran */
	SWEEP_CHECK(c, count_marked(st, 0) == 0, "a queued connection was handed out");
}

static void listen_cleanup(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	int fd;
	fcntl(st->lfd, F_SETFL, fcntl(st->lfd, F_GETFL) | O_NONBLOCK);
	while ((fd = accept4(st->lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(fd);
	for (int i = 0; i < st->nclients; i++)
		close(st->client[i]);
	close(st->lfd);
}

static int dial_setup(struct sweep_ctx *c)
{
	return listener(sweep_priv(c));
}

static int dial_victim(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	int rc = ringo_dial("127.0.0.1", ntohs(st->addr.sin_port), 0);
	if (rc >= 0)
		close(rc);
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

static void dial_check(struct sweep_ctx *c)
{
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, rc >= 0 || rc == -ECANCELED, "rc %d", rc);
}

/* ---- ringo_recv_buf ---- */

static int recv_buf_setup(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	int err = ringo_bufring_new(sweep_loop(c), 2, 64, 1, &st->br);
	if (err < 0)
		return err;
	return stream_reader_setup(c);
}

static int recv_buf_victim(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	void *data = NULL;
	unsigned bid = 0;
	int rc = ringo_recv_buf(st->fd[0], st->br, &data, &bid);
	st->got = rc;
	st->got_ok = rc <= 0 || sweep_pattern_ok(data, (size_t)rc, 0, SEED);
	if (rc > 0)
		ringo_bufring_put(st->br, bid);
	return sweep_returned(c, rc, SWEEP_MEM(&data, sizeof(data)), SWEEP_MEM(&bid, sizeof(bid)));
}

/* Bytes accounted for, and every buffer back in the ring: two receives
 * in a row without giving any back both get one. */
static void recv_buf_check(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, rc > 0 || rc == -ECANCELED, "rc %d", rc);
	stream_reader_check(c, true);
	for (int i = 0; i < 2; i++) {
		void *data;
		unsigned bid;
		send(st->fd[1], "x", 1, 0);
		int n = ringo_recv_buf(st->fd[0], st->br, &data, &bid);
		SWEEP_CHECK(c, n == 1, "buffer %d of 2: %d (a buffer was not given back)", i, n);
	}
	ringo_bufring_free(st->br);
}

#define STREAM_READER(nm, cl, v, ck)                                                           \
	{.name = nm, .call = cl, .priv_size = sizeof(struct net_st),                          \
	 .setup = stream_reader_setup, .victim = v, .check = ck, .cleanup = net_cleanup}

const struct sweep_scenario sweep_net_scenarios[] = {
	STREAM_READER("stream_read_exactly", "ringo_stream_read_exactly", read_exactly_victim,
		      read_exactly_check),
	{.name = "stream_read_until", .call = "ringo_stream_read_until",
	 .priv_size = sizeof(struct net_st), .setup = read_until_setup,
	 .victim = read_until_victim, .check = read_until_check, .cleanup = net_cleanup},
	STREAM_READER("stream_read_some", "ringo_stream_read_some", read_some_victim,
		      read_some_check),
	{.name = "stream_write", .call = "ringo_stream_write (flushes)",
	 .priv_size = sizeof(struct net_st), .setup = write_setup, .victim = write_small_victim,
	 .check = write_small_check, .cleanup = net_cleanup},
	{.name = "stream_write_big", .call = "ringo_stream_write (> wcap)",
	 .priv_size = sizeof(struct net_st), .setup = write_big_setup, .victim = write_big_victim,
	 .check = write_big_check, .cleanup = net_cleanup},
	{.name = "stream_flush", .call = "ringo_stream_flush", .priv_size = sizeof(struct net_st),
	 .setup = flush_setup, .victim = flush_victim, .check = flush_check,
	 .cleanup = net_cleanup},
	{.name = "send_all", .call = "ringo_send_all", .priv_size = sizeof(struct net_st),
	 .setup = send_all_setup, .victim = send_all_victim, .check = send_all_check,
	 .cleanup = net_cleanup},
	{.name = "acceptor_next", .call = "ringo_acceptor_next", .priv_size = sizeof(struct net_st),
	 .setup = acceptor_setup, .victim = acceptor_next_victim, .check = acceptor_next_check,
	 .cleanup = listen_cleanup},
	{.name = "acceptor_close", .call = "ringo_acceptor_close",
	 .priv_size = sizeof(struct net_st), .setup = acceptor_close_setup,
	 .victim = acceptor_close_victim, .check = acceptor_close_check,
	 .cleanup = listen_cleanup},
	{.name = "recv_buf", .call = "ringo_recv_buf", .priv_size = sizeof(struct net_st),
	 .setup = recv_buf_setup, .victim = recv_buf_victim, .check = recv_buf_check,
	 .cleanup = net_cleanup},
	{.name = "dial", .call = "ringo_dial", .priv_size = sizeof(struct net_st),
	 .setup = dial_setup, .victim = dial_victim, .check = dial_check,
	 .cleanup = listen_cleanup},
};
const size_t sweep_net_count = sizeof(sweep_net_scenarios) / sizeof(sweep_net_scenarios[0]);
