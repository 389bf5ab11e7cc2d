/*
 * Sweep scenarios: ringo_signal_wait, and UDP's ringo_sendto and
 * ringo_recvfrom.
 *
 * A signal is taken by the call or goes to the disposition that was there
 * before (a counting handler), exactly once. A datagram is received by
 * the call or still queued in the socket; one sent by the call arrived
 * whole, one the call did not send never arrives.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sweep.h"

#define SEED 23
#define DGRAM 700

struct misc_st {
	struct sweep_ctx *c;
	/* signal_wait */
	struct sigaction before;   /* SIGUSR2's disposition before the run */
	/* udp */
	int fd[2];                 /* [0] the victim's socket, [1] the peer's */
	struct sockaddr_in addr[2];
	unsigned char buf[DGRAM];  /* the victim's datagram buffer */
	struct sockaddr_in from;
	socklen_t fromlen;
};

/* ---- ringo_signal_wait ---- */

static _Atomic int counted; /* SIGUSR2s the previous disposition saw */

static void count_usr2(int signo)
{
	(void)signo;
	atomic_fetch_add(&counted, 1);
}

static bool ringo_holds_usr2(void)
{
	struct sigaction sa;
	sigaction(SIGUSR2, NULL, &sa);
	return sa.sa_handler != count_usr2;
}

/* Raise SIGUSR2 once, while the victim waits for it (ringo's handler is
 * installed) or once the victim is done, whichever comes first. */
static int raiser(void *arg, void **result)
{
	struct misc_st *st = arg;
	for (;;) {
		sweep_yield(1);
		ringo_task *v = sweep_victim(st->c);
		if (v && (ringo_task_state(v) == RINGO_TASK_DONE || ringo_holds_usr2()))
			break;
	}
	raise(SIGUSR2);
	return 0;
}

static int signal_setup(struct sweep_ctx *c)
{
	struct misc_st *st = sweep_priv(c);
	st->c = c;
	atomic_store(&counted, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = count_usr2;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR2, &sa, &st->before) < 0)
		return -errno;
	sweep_spawn_peer(c, raiser, st);
	return 0;
}

static int signal_victim(struct sweep_ctx *c)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	int rc = ringo_signal_wait(&set);
	return sweep_returned(c, rc, SWEEP_MEM(&set, sizeof(set)));
}

static void signal_check(struct sweep_ctx *c)
{
	int rc = sweep_rc(c);
	bool taken = sweep_called(c) && rc == SIGUSR2;
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == SIGUSR2 || rc == -ECANCELED, "rc %d", rc);
	int n = atomic_load(&counted);
	SWEEP_CHECK(c, n == (taken ? 0 : 1), "signal %s by the call, %d by the old handler",
		    taken ? "taken" : "not taken", n);
	SWEEP_CHECK(c, !ringo_holds_usr2(), "the old disposition was not restored");
}

static void signal_cleanup(struct sweep_ctx *c)
{
	struct misc_st *st = sweep_priv(c);
	sigaction(SIGUSR2, &st->before, NULL);
}

/* ---- UDP ---- */

static int udp_setup(struct sweep_ctx *c)
{
	struct misc_st *st = sweep_priv(c);
	st->c = c;
	st->fd[0] = st->fd[1] = -1;
	for (int i = 0; i < 2; i++) {
		st->fd[i] = ringo_udp_bind("127.0.0.1", 0, 0);
		if (st->fd[i] < 0)
			return st->fd[i];
		socklen_t len = sizeof(st->addr[i]);
		getsockname(st->fd[i], (struct sockaddr *)&st->addr[i], &len);
	}
	return 0;
}

static void udp_cleanup(struct sweep_ctx *c)
{
	struct misc_st *st = sweep_priv(c);
	for (int i = 0; i < 2; i++) {
		if (st->fd[i] >= 0)
			close(st->fd[i]);
	}
}

/* The next datagram on fd, waiting up to 1 s for one in flight on the
 * loopback; its length, or -1 if none came. */
static ssize_t take_dgram(int fd, void *buf, size_t len, int wait_ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	if (poll(&p, 1, wait_ms) != 1)
		return -1;
	return recv(fd, buf, len, MSG_DONTWAIT);
}

/* recvfrom: a peer sends one datagram after a few iterations. */
static int sender(void *arg, void **result)
{
	struct misc_st *st = arg;
	sweep_yield(3);
	unsigned char d[DGRAM];
	sweep_pattern(d, sizeof(d), 0, SEED);
	sendto(st->fd[1], d, sizeof(d), 0, (struct sockaddr *)&st->addr[0], sizeof(st->addr[0]));
	return 0;
}

static int recvfrom_setup(struct sweep_ctx *c)
{
	int err = udp_setup(c);
	if (err == 0)
		sweep_spawn_peer(c, sender, sweep_priv(c));
	return err;
}

static int recvfrom_victim(struct sweep_ctx *c)
{
	struct misc_st *st = sweep_priv(c);
	st->fromlen = sizeof(st->from);
	int rc = ringo_recvfrom(st->fd[0], st->buf, sizeof(st->buf), 0,
				(struct sockaddr *)&st->from, &st->fromlen);
	if (rc == DGRAM) {
		SWEEP_CHECK(c, sweep_pattern_ok(st->buf, DGRAM, 0, SEED), "datagram corrupted");
		SWEEP_CHECK(c, st->fromlen == sizeof(st->from) &&
				       st->from.sin_port == st->addr[1].sin_port,
			    "sender address wrong (len %u)", (unsigned)st->fromlen);
	}
	return sweep_returned(c, rc, SWEEP_MEM(st->buf, sizeof(st->buf)),
			      SWEEP_MEM(&st->from, sizeof(st->from)),
			      SWEEP_MEM(&st->fromlen, sizeof(st->fromlen)));
}

/* The one datagram: received by the call, or still in the socket. */
static void recvfrom_check(struct sweep_ctx *c)
{
	struct misc_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	bool taken = sweep_called(c) && rc == DGRAM;
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == DGRAM || rc == -ECANCELED, "rc %d", rc);
	unsigned char d[DGRAM + 1];
	ssize_t n = take_dgram(st->fd[0], d, sizeof(d), taken ? 0 : 1000);
	if (taken)
		SWEEP_CHECK(c, n < 0, "received, yet %zd more bytes queued", n);
	else
		SWEEP_CHECK(c, n == DGRAM && sweep_pattern_ok(d, DGRAM, 0, SEED),
			    "not received, and the socket holds %zd bytes", n);
}

static int sendto_victim(struct sweep_ctx *c)
{
	struct misc_st *st = sweep_priv(c);
	sweep_pattern(st->buf, sizeof(st->buf), 0, SEED);
	struct sockaddr_in to = st->addr[1];
	int rc = ringo_sendto(st->fd[0], st->buf, sizeof(st->buf), 0, (struct sockaddr *)&to,
			      sizeof(to));
	return sweep_returned(c, rc, SWEEP_MEM(st->buf, sizeof(st->buf)),
			      SWEEP_MEM(&to, sizeof(to)));
}

/* Sent whole and arrived once, or not sent and never arrives. */
static void sendto_check(struct sweep_ctx *c)
{
	struct misc_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	bool sent = sweep_called(c) && rc == DGRAM;
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == DGRAM || rc == -ECANCELED, "rc %d", rc);
	unsigned char d[DGRAM + 1];
	ssize_t n = take_dgram(st->fd[1], d, sizeof(d), sent ? 1000 : 0);
	if (sent) {
		SWEEP_CHECK(c, n == DGRAM && sweep_pattern_ok(d, DGRAM, 0, SEED),
			    "sent, and the peer got %zd bytes", n);
		n = take_dgram(st->fd[1], d, sizeof(d), 0);
	}
	SWEEP_CHECK(c, n < 0, "a datagram more than was sent: %zd bytes", n);
}

const struct sweep_scenario sweep_misc_scenarios[] = {
	{.name = "signal_wait", .call = "ringo_signal_wait", .priv_size = sizeof(struct misc_st),
	 .setup = signal_setup, .victim = signal_victim, .check = signal_check,
	 .cleanup = signal_cleanup},
	{.name = "recvfrom", .call = "ringo_recvfrom", .priv_size = sizeof(struct misc_st),
	 .setup = recvfrom_setup, .victim = recvfrom_victim, .check = recvfrom_check,
	 .cleanup = udp_cleanup},
	{.name = "sendto", .call = "ringo_sendto", .priv_size = sizeof(struct misc_st),
	 .setup = udp_setup, .victim = sendto_victim, .check = sendto_check,
	 .cleanup = udp_cleanup},
};
const size_t sweep_misc_count = sizeof(sweep_misc_scenarios) / sizeof(sweep_misc_scenarios[0]);
