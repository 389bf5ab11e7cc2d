/*
 * Sweep scenarios: TLS streams (ringo/tls.h; built only with OpenSSL, as
 * libringo_tls). A cancel at any point of the handshake, a read, a drain
 * or a graceful close (close_notify) leaves nothing of OpenSSL's in use
 * (the harness counts the loop's memory and the fds) and accounts for
 * every byte: the handshake either made a working stream or closed raw
 * (the server side then fails on its own); a read hands over a prefix
 * and the rest comes out of the stream after it; a cancelled drain or
 * wait_closed still delivers everything written, then close_notify.
 *
 * The test CA is made once per process (tests/tls-ca.sh into a temporary
 * directory, removed at exit) and the two configs are shared by all runs
 * (a config is not the loop's memory: OpenSSL's own allocations).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ringo/tls.h"
#include "sweep.h"

#define SEED 17

static char ca_dir[64];
static ringo_tls_config *server_cfg, *client_cfg;

static void configs_free(void)
{
	ringo_tls_config_release(server_cfg);
	ringo_tls_config_release(client_cfg);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", ca_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "sc_tls: could not remove %s\n", ca_dir);
}

static int configs(void)
{
	if (server_cfg)
		return 0;
	snprintf(ca_dir, sizeof(ca_dir), "/tmp/ringo-sweep-tls-XXXXXX");
	if (!mkdtemp(ca_dir))
		return -errno;
	char cmd[256], cert[128], key[128], ca[128];
	snprintf(cmd, sizeof(cmd), "bash tests/tls-ca.sh %s >/dev/null", ca_dir);
	if (system(cmd) != 0)
		return -EIO;
	snprintf(cert, sizeof(cert), "%s/server.pem", ca_dir);
	snprintf(key, sizeof(key), "%s/server.key", ca_dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", ca_dir);
	/* A server handshake waiting for a client that never started (the
	 * victim cancelled before its call, raw still open) gives up soon. */
	ringo_tls_options so = {.cert_file = cert, .key_file = key, .flags = RINGO_TLS_SERVER,
				.handshake_timeout_ns = RINGO_MSEC(100)};
	ringo_tls_options co = {.ca_file = ca, .flags = RINGO_TLS_NO_RESUMPTION};
	int err = ringo_tls_config_new(&so, &server_cfg);
	if (err == 0)
		err = ringo_tls_config_new(&co, &client_cfg);
	if (err < 0) {
		fprintf(stderr, "sc_tls: config: %s\n", ringo_tls_last_error());
		return err;
	}
	atexit(configs_free);
	return 0;
}

struct tl {
	struct sweep_ctx *c;
	int sv[2];
	ringo_stream *craw, *sraw;  /* raw streams, until the handshake took them */
	ringo_stream *cli, *srv;    /* TLS streams */
	int srv_rc;
	uint64_t fed, written, received;
	int got;
	bool got_ok, broken;
	size_t buffered_at_return;
};

/* Raw streams on a socket pair; o for the client's (the TLS stream takes
 * its raw stream's options). */
static int raw_pair(struct tl *t, const ringo_stream_options *o)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, t->sv) < 0)
		return -errno;
	int err = ringo_stream_new(ringo_loop_current(), t->sv[0], o, &t->craw);
	if (err < 0) {
		close(t->sv[0]);
		close(t->sv[1]);
		return err;
	}
	err = ringo_stream_new(ringo_loop_current(), t->sv[1], NULL, &t->sraw);
	if (err < 0) {
		close(t->sv[1]);
		ringo_stream_free(t->craw);
		t->craw = NULL;
	}
	return err;
}

static int server_hs(void *arg, void **result)
{
	struct tl *t = arg;
	t->srv_rc = ringo_tls_server(t->sraw, server_cfg, &t->srv);
	if (t->srv_rc < 0) {
		ringo_stream_free(t->sraw);
		t->srv = NULL;
	}
	t->sraw = NULL;
	return 0;
}

/* ---- the handshake ---- */

/* The server side: on success, say "hi" and close (close_notify). */
static int hs_peer(void *arg, void **result)
{
	struct tl *t = arg;
	server_hs(t, NULL);
	if (t->srv) {
		ringo_stream_write(t->srv, "hi", 2);
		ringo_stream_close(t->srv);
		ringo_stream_wait_closed(t->srv);
		ringo_stream_free(t->srv);
		t->srv = NULL;
	}
	return 0;
}

static int hs_setup(struct sweep_ctx *c)
{
	struct tl *t = sweep_priv(c);
	int err = configs();
	if (err == 0)
		err = raw_pair(t, NULL);
	if (err == 0)
		sweep_spawn_peer(c, hs_peer, t);
	return err;
}

static int hs_victim(struct sweep_ctx *c)
{
	struct tl *t = sweep_priv(c);
	int rc = ringo_tls_client(t->craw, client_cfg, "localhost", &t->cli);
	if (rc == 0)
		t->craw = NULL; /* the TLS stream owns it */
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

static void hs_check(struct sweep_ctx *c)
{
	struct tl *t = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d (%s)", rc, ringo_tls_last_error());
	if (t->cli) {
		/* A stream that works: the server's "hi", then its close_notify. */
		SWEEP_CHECK(c, t->srv_rc == 0, "the client finished, the server failed: %d",
			    t->srv_rc);
		char buf[8];
		int n = ringo_stream_read_exactly(t->cli, buf, 2);
		SWEEP_CHECK(c, n == 2 && !memcmp(buf, "hi", 2), "read %d", n);
		SWEEP_CHECK(c, ringo_stream_read(t->cli, buf, sizeof(buf)) == 0, "no EOF");
		SWEEP_CHECK(c, ringo_tls_close_notify_received(t->cli), "no close_notify");
		ringo_stream_close(t->cli);
		ringo_stream_wait_closed(t->cli);
		ringo_stream_free(t->cli);
	} else {
		/* Failed or cancelled: raw was closed (or never used). */
		if (sweep_called(c))
			SWEEP_CHECK(c, ringo_stream_fd(t->craw) == -EBADF,
				    "a failed handshake left raw open");
		ringo_stream_free(t->craw);
	}
}

/* ---- TLS streams made in set-up ---- */

static int tls_pair(struct sweep_ctx *c, const ringo_stream_options *o)
{
	struct tl *t = sweep_priv(c);
	t->c = c;
	int err = configs();
	if (err == 0)
		err = raw_pair(t, o);
	if (err < 0)
		return err;
	ringo_task *st;
	err = ringo_spawn(ringo_loop_current(), server_hs, t, NULL, &st);
	if (err < 0)
		return err;
	int rc = ringo_tls_client(t->craw, client_cfg, "localhost", &t->cli);
	ringo_await(ringo_task_future(st), NULL);
	ringo_task_release(st);
	if (rc < 0 || t->srv_rc < 0) {
		if (rc < 0)
			ringo_stream_free(t->craw);
		else
			ringo_stream_free(t->cli);
		ringo_stream_free(t->srv);
		return rc < 0 ? rc : t->srv_rc;
	}
	return 0;
}

/* The server writes the pattern in four pieces, then closes. */
static int feeder(void *arg, void **result)
{
	struct tl *t = arg;
	for (int i = 0; i < 4; i++) {
		sweep_yield(2);
		char buf[20];
		sweep_pattern(buf, sizeof(buf), t->fed, SEED);
		if (ringo_stream_write(t->srv, buf, sizeof(buf)) == 0)
			t->fed += sizeof(buf);
	}
	ringo_stream_close(t->srv);
	ringo_stream_wait_closed(t->srv);
	ringo_stream_free(t->srv);
	return 0;
}

static int read_setup(struct sweep_ctx *c)
{
	int err = tls_pair(c, NULL);
	if (err == 0)
		sweep_spawn_peer(c, feeder, sweep_priv(c));
	return err;
}

#define EXACT 30

static int read_victim(struct sweep_ctx *c)
{
	struct tl *t = sweep_priv(c);
	char dst[EXACT];
	int rc = ringo_stream_read_exactly(t->cli, dst, sizeof(dst));
	t->got = rc;
	t->got_ok = rc <= 0 || sweep_pattern_ok(dst, (size_t)rc, 0, SEED);
	return sweep_returned(c, rc, SWEEP_MEM(dst, sizeof(dst)));
}

/* Fed = handed over + the rest, read through the TLS stream to EOF. */
static void read_check(struct sweep_ctx *c)
{
	struct tl *t = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == EXACT || rc == -ECANCELED, "rc %d", rc);
	SWEEP_CHECK(c, !sweep_called(c) || t->got_ok, "the bytes handed over do not start the stream");
	uint64_t at = sweep_called(c) && t->got > 0 ? (uint64_t)t->got : 0;
	char buf[64];
	int n;
	while ((n = ringo_stream_read(t->cli, buf, sizeof(buf))) > 0) {
		SWEEP_CHECK(c, sweep_pattern_ok(buf, (size_t)n, at, SEED),
			    "the bytes left do not continue the stream at %llu",
			    (unsigned long long)at);
		at += (uint64_t)n;
	}
	SWEEP_CHECK(c, n == 0, "reading the rest: %d", n);
	SWEEP_CHECK(c, at == t->fed, "fed %llu, read %llu in all", (unsigned long long)t->fed,
		    (unsigned long long)at);
	ringo_stream_close(t->cli);
	ringo_stream_wait_closed(t->cli);
	ringo_stream_free(t->cli);
}

/* ---- writers: drain and wait_closed (close_notify) ---- */

#define WRITTEN 12000

/* The server reads a little every third iteration until the victim is
 * done. */
static int slow_reader(void *arg, void **result)
{
	struct tl *t = arg;
	ringo_task *victim = sweep_victim(t->c);
	for (int i = 0; i < 1000 && ringo_task_state(victim) != RINGO_TASK_DONE; i++) {
		sweep_yield(3);
		size_t len;
		const void *p = ringo_stream_peek(t->srv, &len);
		if (len == 0)
			continue;
		if (len > 4096)
			len = 4096;
		if (!sweep_pattern_ok(p, len, t->received, SEED))
			t->broken = true;
		t->received += len;
		ringo_stream_consume(t->srv, len);
	}
	return 0;
}

static int writer_setup(struct sweep_ctx *c)
{
	ringo_stream_options o = {.write_high = 2048, .write_low = 512};
	int err = tls_pair(c, &o);
	if (err < 0)
		return err;
	struct tl *t = sweep_priv(c);
	int small = 4096;
	setsockopt(t->sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	char buf[WRITTEN];
	sweep_pattern(buf, sizeof(buf), 0, SEED);
	err = ringo_stream_write(t->cli, buf, sizeof(buf));
	if (err < 0)
		return err;
	t->written = WRITTEN;
	sweep_spawn_peer(c, slow_reader, t);
	return 0;
}

static int wait_closed_setup(struct sweep_ctx *c)
{
	int err = writer_setup(c);
	if (err == 0)
		err = ringo_stream_close(((struct tl *)sweep_priv(c))->cli);
	return err;
}

/* Every byte written reaches the server, in order; then_eof: and then
 * close_notify. */
static void server_gets_everything(struct sweep_ctx *c, bool then_eof)
{
	struct tl *t = sweep_priv(c);
	SWEEP_CHECK(c, !t->broken, "the server saw bytes out of order");
	char buf[4096];
	while (t->received < t->written) {
		int n = ringo_stream_read(t->srv, buf, sizeof(buf));
		if (n <= 0) {
			sweep_fail(c, "the server got %llu of %llu bytes, then %d",
				   (unsigned long long)t->received, (unsigned long long)t->written, n);
			break;
		}
		SWEEP_CHECK(c, sweep_pattern_ok(buf, (size_t)n, t->received, SEED),
			    "the server saw bytes out of order at %llu",
			    (unsigned long long)t->received);
		t->received += (uint64_t)n;
	}
	if (then_eof) {
		SWEEP_CHECK(c, ringo_stream_read(t->srv, buf, sizeof(buf)) == 0, "no EOF");
		SWEEP_CHECK(c, ringo_tls_close_notify_received(t->srv), "no close_notify");
	}
	ringo_stream_close(t->srv);
	ringo_stream_wait_closed(t->srv);
	ringo_stream_free(t->srv);
}

static int drain_victim(struct sweep_ctx *c)
{
	struct tl *t = sweep_priv(c);
	int rc = ringo_stream_drain(t->cli);
	t->buffered_at_return = ringo_stream_write_buffered(t->cli);
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

static void drain_check(struct sweep_ctx *c)
{
	struct tl *t = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c)) {
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
		SWEEP_CHECK(c, rc != 0 || t->buffered_at_return <= 512,
			    "drain returned with %zu bytes buffered (write_low 512)",
			    t->buffered_at_return);
	}
	/* A cancelled drain leaves the bytes buffered: they still go out.
	 * The client's close then sends close_notify. */
	ringo_stream_close(t->cli);
	server_gets_everything(c, true);
	SWEEP_CHECK(c, ringo_stream_wait_closed(t->cli) == 0, "the client's close failed");
	ringo_stream_free(t->cli);
}

static int wait_closed_victim(struct sweep_ctx *c)
{
	struct tl *t = sweep_priv(c);
	int rc = ringo_stream_wait_closed(t->cli);
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

static void wait_closed_check(struct sweep_ctx *c)
{
	struct tl *t = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
	if (sweep_called(c) && rc == 0)
		SWEEP_CHECK(c, ringo_stream_fd(t->cli) == -EBADF, "returned 0 before the close");
	/* Cancelled or not, the close goes on: everything, close_notify. */
	server_gets_everything(c, true);
	int again = ringo_stream_wait_closed(t->cli);
	SWEEP_CHECK(c, again == 0, "wait_closed afterwards: %d", again);
	ringo_stream_free(t->cli);
}

#define TLS(nm, cl, su, v, ck)                                                                 \
	{.name = nm, .call = cl, .priv_size = sizeof(struct tl), .setup = su, .victim = v,     \
	 .check = ck}

const struct sweep_scenario sweep_tls_scenarios[] = {
	TLS("tls_handshake", "ringo_tls_client (the handshake)", hs_setup, hs_victim, hs_check),
	TLS("tls_read_exactly", "ringo_stream_read_exactly (TLS)", read_setup, read_victim,
	    read_check),
	TLS("tls_drain", "ringo_stream_drain (TLS)", writer_setup, drain_victim, drain_check),
	TLS("tls_wait_closed", "ringo_stream_wait_closed (TLS: close_notify)", wait_closed_setup,
	    wait_closed_victim, wait_closed_check),
};
const size_t sweep_tls_count = sizeof(sweep_tls_scenarios) / sizeof(sweep_tls_scenarios[0]);
