/* Shared by the TLS suites (tests/test_tls*.c): the test CA made at test
 * time (tests/tls-ca.sh into a temporary directory), configs, and a
 * handshake between two ringo tasks over a socket pair. Header-only: the
 * core suites never see OpenSSL. */
#ifndef RINGO_TLS_SUPPORT_H
#define RINGO_TLS_SUPPORT_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ringo/tls.h>

#include "support.h"

static char tls_dir[64];

/* The path of file in the test CA's directory (a rotating buffer: up to
 * eight at once). */
static const char *P(const char *file)
{
	static char bufs[8][128];
	static unsigned next;
	char *b = bufs[next++ % 8];
	snprintf(b, sizeof(bufs[0]), "%s/%s", tls_dir, file);
	return b;
}

/* cmocka group setup/teardown: make the CA (KEYTYPE env: ec or rsa). */
static inline int tls_ca_setup(void **state)
{
	snprintf(tls_dir, sizeof(tls_dir), "/tmp/ringo-tls-XXXXXX");
	if (!mkdtemp(tls_dir))
		return -1;
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "bash tests/tls-ca.sh %s >/dev/null", tls_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static inline int tls_ca_teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tls_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static inline ringo_tls_config *server_config(const ringo_tls_options *base)
{
	ringo_tls_options o = {0};
	if (base)
		o = *base;
	o.flags |= RINGO_TLS_SERVER;
	if (!o.cert_file) {
		o.cert_file = P("server.pem");
		o.key_file = P("server.key");
	}
	ringo_tls_config *c = NULL;
	int rc = ringo_tls_config_new(&o, &c);
	if (rc)
		fprintf(stderr, "server config: %d %s\n", rc, ringo_tls_last_error());
	assert_int_equal(rc, 0);
	return c;
}

static inline ringo_tls_config *client_config(const ringo_tls_options *base)
{
	ringo_tls_options o = {0};
	if (base)
		o = *base;
	if (!o.ca_file)
		o.ca_file = P("ca.pem");
	ringo_tls_config *c = NULL;
	int rc = ringo_tls_config_new(&o, &c);
	if (rc)
		fprintf(stderr, "client config: %d %s\n", rc, ringo_tls_last_error());
	assert_int_equal(rc, 0);
	return c;
}

/* One side of a handshake between two tasks. */
struct hs {
	ringo_tls_config *cfg;
	bool server;
	const char *name;        /* client: the server name */
	int fd;
	int rc;                  /* the handshake's outcome */
	ringo_stream *s;         /* the TLS stream, on success */
	char err[200];           /* ringo_tls_last_error() on failure */
};

static inline int hs_task(void *arg, void **result)
{
	struct hs *h = arg;
	ringo_stream *raw = NULL;
	h->s = NULL;
	assert_int_equal(ringo_stream_new(ringo_loop_current(), h->fd, NULL, &raw), 0);
	h->rc = h->server ? ringo_tls_server(raw, h->cfg, &h->s)
			  : ringo_tls_client(raw, h->cfg, h->name, &h->s);
	snprintf(h->err, sizeof(h->err), "%s", ringo_tls_last_error());
	if (h->rc < 0)
		ringo_stream_free(raw);
	return 0;
}

/* Inside a task: handshake srv and cli with each other over a socket
 * pair (both run as tasks; this waits for both). */
static inline void handshake_pair(struct hs *srv, struct hs *cli)
{
	int sv[2];
	fx_socketpair(sv);
	srv->fd = sv[0];
	cli->fd = sv[1];
	srv->server = true;
	ringo_task *ts, *tc;
	ringo_loop *loop = ringo_loop_current();
	assert_int_equal(ringo_spawn(loop, hs_task, srv, NULL, &ts), 0);
	assert_int_equal(ringo_spawn(loop, hs_task, cli, NULL, &tc), 0);
	assert_int_equal(ringo_await(ringo_task_future(ts), NULL), 0);
	assert_int_equal(ringo_await(ringo_task_future(tc), NULL), 0);
	ringo_task_release(ts);
	ringo_task_release(tc);
}

/* Close a TLS stream cleanly and free it. */
static inline void close_free(ringo_stream *s)
{
	if (!s)
		return;
	ringo_stream_close(s);
	ringo_stream_wait_closed(s);
	ringo_stream_free(s);
}

#ifndef RINGO_TEST_SERVERS_H /* servers.h has its own */
static inline bool under_valgrind(void)
{
	return getenv("RINGO_UNDER_VALGRIND") != NULL;
}
#endif

#endif
