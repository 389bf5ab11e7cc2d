/*
 * Sweep scenarios: send_all, the multishot acceptor, provided-buffer
 * receive, signal_wait, dial. (Streams: sc_stream.c.)
 *
 * Receives keep what they do not hand over: bytes fed = bytes the call
 * returned + bytes still in the socket, in order. send_all is counted:
 * bytes the reader got = what was in the socket before + what the call
 * says went out.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
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
	uint64_t fed;          /* bytes the feeder wrote */
	uint64_t prefill;      /* bytes in the socket before the writer started */
	uint64_t received;     /* bytes the drainer got (checked) */
	bool broken;           /* the drainer saw the pattern broken */
	int got;               /* bytes handed to the victim */
	bool got_ok;
	/* acceptor, dial */
	int lfd;
	struct sockaddr_in addr;
	int client[2];
	int nclients;
	ringo_acceptor acc;
	bool acc_open;
	ringo_bufring *br;
	sigset_t mask;
	pthread_t self;
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

static int reader_setup(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	int err = pair(st);
	if (err < 0)
		return err;
	sweep_spawn_peer(c, feeder, st);
	return 0;
}

/* Fed = handed over + still in the socket, in order. */
static void reader_check(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	uint64_t at = sweep_called(c) && st->got > 0 ? (uint64_t)st->got : 0;
	SWEEP_CHECK(c, !sweep_called(c) || st->got_ok, "the bytes handed over do not start the stream");
	long left = sweep_drain(st->fd[0], &at, SEED);
	SWEEP_CHECK(c, left >= 0, "the bytes left in the socket do not continue the stream");
	SWEEP_CHECK(c, at == st->fed, "fed %llu; handed over %d, left %ld",
		    (unsigned long long)st->fed, st->got, left);
}

/* ---- send_all: the socket starts full ---- */

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

static int send_all_setup(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	int err = pair(st);
	if (err < 0)
		return err;
	st->prefill = fill_up(st->fd[0]);
	st->c = c;
	sweep_spawn_peer(c, drainer, st);
	return 0;
}

/* The reader got the prefill and then exactly `sent` bytes. */
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
	st->lfd = ringo_tcp_listen("127.0.0.1", 0, 16, 0);
	if (st->lfd < 0)
		return st->lfd;
	memset(&st->addr, 0, sizeof(st->addr));
	st->addr.sin_family = AF_INET;
	st->addr.sin_port = htons((uint16_t)ringo_socket_port(st->lfd));
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
	int rc = ringo_tcp_connect("127.0.0.1", ntohs(st->addr.sin_port), RINGO_FOREVER);
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
	return reader_setup(c);
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
	reader_check(c);
	for (int i = 0; i < 2; i++) {
		void *data;
		unsigned bid;
		send(st->fd[1], "x", 1, 0);
		int n = ringo_recv_buf(st->fd[0], st->br, &data, &bid);
		SWEEP_CHECK(c, n == 1, "buffer %d of 2: %d (a buffer was not given back)", i, n);
	}
	ringo_bufring_free(st->br);
}

/* ---- ringo_signal_wait ---- */

static int raiser(void *arg, void **result)
{
	struct net_st *st = arg;
	sweep_yield(3);
	/* Directed at the loop's thread: it stays pending there (blocked),
	 * whatever other threads of the process (executor workers) do. */
	pthread_kill(st->self, SIGUSR2);
	return 0;
}

static int signal_setup(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	sigemptyset(&st->mask);
	sigaddset(&st->mask, SIGUSR2);
	int err = ringo_signal_block(&st->mask);
	if (err < 0)
		return err;
	st->self = pthread_self();
	sweep_spawn_peer(c, raiser, st);
	return 0;
}

static int signal_victim(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	sigset_t mask = st->mask;
	int rc = ringo_signal_wait(&mask);
	return sweep_returned(c, rc, SWEEP_MEM(&mask, sizeof(mask)));
}

/* The one signal raised was taken by the call or is still pending. */
static void signal_check(struct sweep_ctx *c)
{
	struct net_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	bool taken = sweep_called(c) && rc == SIGUSR2;
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == SIGUSR2 || rc == -ECANCELED, "rc %d", rc);
	sigset_t pending;
	sigpending(&pending);
	bool is_pending = sigismember(&pending, SIGUSR2) == 1;
	SWEEP_CHECK(c, is_pending != taken, "signal %s and %s", taken ? "taken" : "not taken",
		    is_pending ? "still pending" : "gone");
	struct timespec zero = {0, 0};
	while (sigtimedwait(&st->mask, NULL, &zero) == SIGUSR2)
		;
}

const struct sweep_scenario sweep_net_scenarios[] = {
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
	{.name = "signal_wait", .call = "ringo_signal_wait", .priv_size = sizeof(struct net_st),
	 .setup = signal_setup, .victim = signal_victim, .check = signal_check},
	{.name = "dial", .call = "ringo_tcp_connect", .priv_size = sizeof(struct net_st),
	 .setup = dial_setup, .victim = dial_victim, .check = dial_check,
	 .cleanup = listen_cleanup},
};
const size_t sweep_net_count = sizeof(sweep_net_scenarios) / sizeof(sweep_net_scenarios[0]);
