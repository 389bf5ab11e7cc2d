/*
 * proxy: a TCP proxy on ringo's server API.
 *
 *   proxy [--host ADDR] [--threads N] [--idle-timeout-ms MS]
 *         [--connect-timeout-ms MS] PORT UPSTREAM_HOST UPSTREAM_PORT
 *
 * Each connection to PORT gets its own connection to UPSTREAM_HOST:
 * UPSTREAM_PORT (a name is resolved off the loop; every address is tried
 * in turn), and bytes flow both ways until both sides are done. A
 * half-close goes through: when one side sends EOF (shutdown SHUT_WR) the
 * proxy half-closes the other connection once everything before it was
 * delivered, and keeps the opposite direction open, so a client may send
 * its request, shut its side, and still read the whole answer. A
 * connection with no bytes moving either way for --idle-timeout-ms
 * (300000; 0: never) is closed; so is one whose upstream does not accept
 * within --connect-timeout-ms (10000).
 *
 * Per connection: the handler task copies client -> upstream and a second
 * task upstream -> client (a stream takes one reader and one writer task
 * at a time: each task reads one stream and writes the other). Bytes are
 * copied once, from one stream's read buffer into the other's write
 * buffer; drain keeps a fast sender from outrunning a slow receiver.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "ringo.h"

static const char *host = "127.0.0.1";
static int port = -1;
static const char *up_host;
static int up_port = -1;
static unsigned threads = 1;
static int64_t idle_timeout = RINGO_SEC(300);
static int64_t connect_timeout = RINGO_SEC(10);

/* One proxied connection. */
struct pipe {
	ringo_stream *client, *upstream;
	int64_t last;      /* loop time of the last bytes moved, either way */
	bool idle;         /* the idle timeout ended it */
};

/* How long to look for bytes once the idle deadline has passed without
 * a wait (see fill_or_idle). */
#define LAST_LOOK RINGO_MSEC(5)

/* Wait for bytes on from, but give up once nothing has moved in either
 * direction for the idle timeout. >0 bytes, 0 at EOF, or an error
 * (-ETIMEDOUT when idle). */
static int fill_or_idle(struct pipe *p, ringo_stream *from)
{
	if (idle_timeout <= 0)
		return ringo_stream_fill(from);
	ringo_loop *loop = ringo_stream_loop(from);
	bool looked = false;
	for (;;) {
		int64_t left = p->last + idle_timeout - ringo_loop_time_ns(loop);
		if (left <= 0 && !p->idle && !looked) {
			/* A stall (a loaded machine, a slow callback) can move
			 * the loop's clock past the deadline before the bytes
			 * already in the socket were received: look once more,
			 * briefly, before calling the connection idle. */
			looked = true;
			left = LAST_LOOK;
		} else if (left <= 0 || p->idle) {
			p->idle = true;
			return -ETIMEDOUT;
		}
		ringo_timeout to;
		int err = ringo_timeout_enter(&to, left);
		if (err < 0)
			return err;
		int n = ringo_timeout_exit(&to, ringo_stream_fill(from));
		if (n != -ETIMEDOUT)
			return n;
		size_t len; /* bytes that came with the deadline */
		if (ringo_stream_peek(from, &len))
			return len > INT_MAX ? INT_MAX : (int)len;
		/* The other direction may have moved bytes meanwhile: look again. */
	}
}

/* Move from -> to until from's EOF (then half-close to) or an error. 0
 * when the direction finished cleanly. forward hands what from holds to
 * to's write side; when to has nothing waiting, the block the bytes were
 * received into is sent as it is (no copy). */
static int pump(struct pipe *p, ringo_stream *from, ringo_stream *to)
{
	ringo_loop *loop = ringo_stream_loop(from);
	for (;;) {
		size_t len;
		ringo_stream_peek(from, &len);
		if (len == 0) {
			int n = fill_or_idle(p, from);
			if (n == 0)
				return ringo_stream_write_eof(to); /* sent after the rest */
			if (n < 0)
				return n;
			continue;
		}
		int err = ringo_stream_forward(from, to, len);
		if (err < 0)
			return err;
		p->last = ringo_loop_time_ns(loop);
		err = ringo_stream_drain(to);
		if (err < 0)
			return err;
	}
}

static int downstream(void *arg, void **result)
{
	struct pipe *p = arg;
	int rc = pump(p, p->upstream, p->client);
	/* The upstream broke (or went idle): the client gets what came
	 * before, then EOF; its direction then ends too. */
	if (rc < 0 && rc != -ECANCELED)
		ringo_stream_close(p->client);
	return rc;
}

static int proxy_conn(ringo_stream *client, void *arg)
{
	struct pipe p = {.client = client};
	int err = ringo_stream_connect(up_host, up_port, connect_timeout, NULL, &p.upstream);
	if (err < 0)
		return err; /* the server closes the client */
	p.last = ringo_loop_time_ns(ringo_stream_loop(client));
	ringo_task *down;
	err = ringo_spawn(ringo_stream_loop(client), downstream, &p, NULL, &down);
	if (err < 0) {
		ringo_stream_free(p.upstream);
		return err;
	}
	int up_rc = pump(&p, client, p.upstream);
	/* Client -> upstream is done. If it ended cleanly, the answer may
	 * still be coming: let the other direction finish (it ends at the
	 * upstream's EOF, or when idle). Otherwise cut it. */
	if (up_rc < 0)
		ringo_task_cancel(down, NULL);
	/* Cancelled meanwhile (the server is stopping), the await cancels it
	 * too and still waits for it: p is never used after we return. */
	ringo_await(ringo_task_future(down), NULL);
	ringo_task_release(down);
	/* What the upstream was sent goes out before its connection closes
	 * (bounded by the idle timeout); the server does the same for the
	 * client once we return. */
	if (ringo_stream_write_buffered(p.upstream) > 0 && ringo_task_cancelling(ringo_task_current()) == 0) {
		ringo_stream_close(p.upstream);
		ringo_timeout to;
		if (idle_timeout > 0 && ringo_timeout_enter(&to, idle_timeout) == 0)
			ringo_timeout_exit(&to, ringo_stream_wait_closed(p.upstream));
		else if (idle_timeout <= 0)
			ringo_stream_wait_closed(p.upstream);
	}
	ringo_stream_free(p.upstream);
	return 0;
}

static int proxy_main(void *arg, void **result)
{
	ringo_server_options opts = {.threads = threads,
				     .flush_timeout_ns = idle_timeout > 0 ? idle_timeout : -1};
	ringo_server *srv;
	int err = ringo_server_start(ringo_loop_current(), host, port, proxy_conn, NULL, &opts, &srv);
	if (err < 0) {
		fprintf(stderr, "proxy: listen on %s:%d: %s\n", host, port, ringo_strerror(err));
		return err;
	}
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	ringo_signal_wait(&stop);
	/* Transfers in progress get a moment to finish, then are cut. */
	ringo_server_close(srv);
	ringo_server_wait_closed(srv, RINGO_SEC(1));
	ringo_server_free(srv);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: proxy [--host ADDR] [--threads N] [--idle-timeout-ms MS]\n"
		     "             [--connect-timeout-ms MS] PORT UPSTREAM_HOST UPSTREAM_PORT\n"
		     "  TCP proxy: each connection to PORT is joined to a new connection to the\n"
		     "  upstream; both directions, half-close passed on.\n"
		     "  --host ADDR              address or name to listen on (default 127.0.0.1)\n"
		     "  --threads N              N loops, one per thread, on a SO_REUSEPORT port\n"
		     "  --idle-timeout-ms MS     close a connection idle both ways this long\n"
		     "                           (300000; 0: never)\n"
		     "  --connect-timeout-ms MS  give up on the upstream after this long (10000)\n"
		     "  SIGINT/SIGTERM stop it (transfers get 1 s to finish).\n");
}

static bool parse_ms(const char *s, int64_t *out)
{
	char *end;
	long long ms = strtoll(s, &end, 10);
	if (*end || end == s || ms < 0)
		return false;
	*out = RINGO_MSEC(ms);
	return true;
}

int main(int argc, char **argv)
{
	int npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--host") && more) {
			host = argv[++i];
		} else if (!strcmp(a, "--threads") && more) {
			threads = (unsigned)atoi(argv[++i]);
		} else if (!strcmp(a, "--idle-timeout-ms") && more && parse_ms(argv[i + 1], &idle_timeout)) {
			i++;
		} else if (!strcmp(a, "--connect-timeout-ms") && more &&
			   parse_ms(argv[i + 1], &connect_timeout)) {
			i++;
		} else if (a[0] != '-' && npos == 0) {
			port = atoi(a);
			npos++;
		} else if (npos == 1) {
			up_host = a;
			npos++;
		} else if (a[0] != '-' && npos == 2) {
			up_port = atoi(a);
			npos++;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (npos != 3 || port < 0 || port > 65535 || up_port < 1 || up_port > 65535 || threads < 1 ||
	    threads > 1024) {
		usage(stderr);
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	int err = ringo_run(proxy_main, NULL, NULL, NULL);
	const char *why = err < 0 ? ringo_setup_diagnosis() : NULL;
	if (why)
		fprintf(stderr, "proxy: %s\n", why);
	return err < 0;
}
