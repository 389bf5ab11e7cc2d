/* TLS streams (include/ringo/tls.h), ringo to ringo over real sockets:
 * the stream interface on TLS, bulk data with a checksum, verification
 * failures with their errors and texts, SNI, ALPN, client certificates,
 * session resumption, bad input on one connection only, timeouts,
 * backpressure, and the server hook. The test CA is made at test time
 * (tests/tls-ca.sh). Peers other than ringo: tests/test_tls_peers.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls_support.h"
#include "stream_internal.h"

/* ---- the stream interface over TLS ---- */

static int echo_body(void *arg, void **result)
{
	ringo_tls_config *sc = server_config(NULL);
	ringo_tls_config *cc = client_config(NULL);
	struct hs srv = {.cfg = sc}, cli = {.cfg = cc, .name = "localhost"};
	handshake_pair(&srv, &cli);
	assert_int_equal(srv.rc, 0);
	assert_int_equal(cli.rc, 0);
	assert_string_equal(ringo__stream_transport_name(cli.s), "tls");
	assert_string_equal(ringo_tls_version(cli.s), "TLSv1.3");
	assert_true(ringo_tls_peer_verified(cli.s));
	assert_false(ringo_tls_peer_verified(srv.s)); /* no client certificate asked */
	assert_string_equal(ringo_tls_server_name(srv.s), "localhost");
	assert_null(ringo_tls_alpn(cli.s));
	assert_false(ringo_tls_session_reused(cli.s));
	assert_true(ringo_stream_fd(cli.s) >= 0);

	/* write, writev, readline, read_exactly, read_until, peek, consume */
	assert_int_equal(ringo_stream_write(cli.s, "hello\nworld", 11), 0);
	struct iovec iov[2] = {{"!\r\n", 3}, {"tail", 4}};
	assert_int_equal(ringo_stream_writev(cli.s, iov, 2), 0);
	assert_int_equal(ringo_stream_drain(cli.s), 0);
	char buf[64];
	assert_int_equal(ringo_stream_readline(srv.s, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "hello\n", 6);
	assert_int_equal(ringo_stream_read_until(srv.s, "\r\n", 2, buf, sizeof(buf)), 8);
	assert_memory_equal(buf, "world!\r\n", 8);
	assert_int_equal(ringo_stream_read_exactly(srv.s, buf, 2), 2);
	size_t len;
	const char *p;
	while ((p = ringo_stream_peek(srv.s, &len)) == NULL || len < 2)
		assert_true(ringo_stream_fill(srv.s) > 0);
	assert_memory_equal(p, "il", 2);
	assert_int_equal(ringo_stream_consume(srv.s, 2), 0);

	/* the other way, then a half-close: EOF with close_notify */
	assert_int_equal(ringo_stream_write(srv.s, "pong", 4), 0);
	assert_int_equal(ringo_stream_write_eof(srv.s), 0);
	assert_int_equal(ringo_stream_read_exactly(cli.s, buf, 4), 4);
	assert_memory_equal(buf, "pong", 4);
	assert_int_equal(ringo_stream_read(cli.s, buf, sizeof(buf)), 0);
	assert_true(ringo_stream_at_eof(cli.s));
	assert_true(ringo_tls_close_notify_received(cli.s));
	/* the half-closed side still reads */
	assert_int_equal(ringo_stream_write(cli.s, "late", 4), 0);
	assert_int_equal(ringo_stream_read_exactly(srv.s, buf, 4), 4);
	assert_memory_equal(buf, "late", 4);
	assert_int_equal(ringo_stream_write(srv.s, "x", 1), -ESHUTDOWN);

	struct ringo_stream_stats st;
	ringo_stream_stats(cli.s, &st);
	assert_int_equal(st.bytes_written, 22);
	assert_int_equal(st.bytes_read, 4);

	/* close: close_notify, then the socket; the peer reads EOF */
	assert_int_equal(ringo_stream_close(cli.s), 0);
	assert_int_equal(ringo_stream_wait_closed(cli.s), 0);
	assert_int_equal(ringo_stream_fd(cli.s), -EBADF);
	assert_int_equal(ringo_stream_read(srv.s, buf, sizeof(buf)), 0);
	assert_true(ringo_tls_close_notify_received(srv.s));
	ringo_stream_free(cli.s);
	close_free(srv.s);
	ringo_tls_config_release(sc);
	ringo_tls_config_release(cc);
	return 0;
}

static void test_tls_stream_interface_ringo_to_ringo(void **state)
{
	assert_int_equal(fx_run_task(echo_body, NULL), 0);
}

/* ---- bulk: every byte through, checksummed, both ways at once ---- */

struct bulk {
	ringo_stream *s;
	uint64_t n;
	uint64_t sum;
	int rc;
};

static uint64_t mix(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static int bulk_writer(void *arg, void **result)
{
	struct bulk *b = arg;
	static __thread unsigned char chunk[64 * 1024];
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	uint64_t sent = 0, h = 0xcbf29ce484222325ull;
	while (sent < b->n) {
		size_t k = b->n - sent < sizeof(chunk) ? (size_t)(b->n - sent) : sizeof(chunk);
		for (size_t i = 0; i < k; i += 8) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			memcpy(chunk + i, &seed, k - i < 8 ? k - i : 8);
		}
		h = mix(h, chunk, k);
		b->rc = ringo_stream_write(b->s, chunk, k);
		if (b->rc == 0)
			b->rc = ringo_stream_drain(b->s);
		if (b->rc < 0)
			return 0;
		sent += k;
	}
	b->sum = h;
	b->rc = ringo_stream_write_eof(b->s);
	return 0;
}

static int bulk_reader(void *arg, void **result)
{
	struct bulk *b = arg;
	static __thread unsigned char buf[100000];
	uint64_t h = 0xcbf29ce484222325ull;
	int n;
	while ((n = ringo_stream_read(b->s, buf, sizeof(buf))) > 0) {
		h = mix(h, buf, (size_t)n);
		b->n += (uint64_t)n;
	}
	b->rc = n;
	b->sum = h;
	return 0;
}

static int bulk_body(void *arg, void **result)
{
	uint64_t total = under_valgrind() ? (8u << 20) : (1ull << 30);
	ringo_tls_config *sc = server_config(NULL);
	ringo_tls_config *cc = client_config(NULL);
	struct hs srv = {.cfg = sc}, cli = {.cfg = cc, .name = "localhost"};
	handshake_pair(&srv, &cli);
	assert_int_equal(cli.rc, 0);
	/* client -> server and server -> client at once */
	struct bulk w1 = {.s = cli.s, .n = total}, r1 = {.s = srv.s};
	struct bulk w2 = {.s = srv.s, .n = total / 8}, r2 = {.s = cli.s};
	ringo_task *t[4];
	ringo_loop *loop = ringo_loop_current();
	assert_int_equal(ringo_spawn(loop, bulk_writer, &w1, NULL, &t[0]), 0);
	assert_int_equal(ringo_spawn(loop, bulk_reader, &r1, NULL, &t[1]), 0);
	assert_int_equal(ringo_spawn(loop, bulk_writer, &w2, NULL, &t[2]), 0);
	assert_int_equal(ringo_spawn(loop, bulk_reader, &r2, NULL, &t[3]), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(ringo_await(ringo_task_future(t[i]), NULL), 0);
		ringo_task_release(t[i]);
	}
	assert_int_equal(w1.rc, 0);
	assert_int_equal(r1.rc, 0);
	assert_true(r1.n == total);
	assert_true(r1.sum == w1.sum);
	assert_int_equal(w2.rc, 0);
	assert_int_equal(r2.rc, 0);
	assert_true(r2.n == total / 8);
	assert_true(r2.sum == w2.sum);
	/* The buffers stayed within their marks (no unbounded growth). */
	assert_true(srv.s->rcap <= 4 * 64 * 1024);
	close_free(cli.s);
	close_free(srv.s);
	ringo_tls_config_release(sc);
	ringo_tls_config_release(cc);
	return 0;
}

static void test_tls_bulk_both_ways_checksummed(void **state)
{
	assert_int_equal(fx_run_task(bulk_body, NULL), 0);
}

/* ---- verification failures: errno and text on the client ---- */

struct vcase {
	const char *cert;      /* the server's certificate (name without .pem) */
	const char *name;      /* what the client asks for */
	int rc;                /* the client's handshake outcome */
	const char *text;      /* in ringo_tls_last_error() */
};

static int verify_body(void *arg, void **result)
{
	const struct vcase *v = arg;
	char cert[64], key[64];
	snprintf(cert, sizeof(cert), "%s.pem", v->cert);
	snprintf(key, sizeof(key), "%s.key", v->cert);
	ringo_tls_options so = {.cert_file = P(cert), .key_file = P(key)};
	ringo_tls_config *sc = server_config(&so);
	ringo_tls_config *cc = client_config(NULL);
	struct hs srv = {.cfg = sc}, cli = {.cfg = cc, .name = v->name};
	handshake_pair(&srv, &cli);
	if (cli.rc != v->rc || !strstr(cli.err, v->text))
		fprintf(stderr, "%s as %s: %d \"%s\"\n", v->cert, v->name, cli.rc, cli.err);
	assert_int_equal(cli.rc, v->rc);
	assert_non_null(strstr(cli.err, v->text));
	if (v->rc == 0) {
		assert_true(ringo_tls_peer_verified(cli.s));
		close_free(cli.s);
		close_free(srv.s);
	} else {
		/* The server saw the client's alert: its handshake failed too. */
		assert_int_equal(srv.rc, -EPROTO);
		assert_null(srv.s);
	}
	ringo_tls_config_release(sc);
	ringo_tls_config_release(cc);
	return 0;
}

static void test_tls_client_rejects_expired_wrong_host_untrusted(void **state)
{
	static const struct vcase cases[] = {
		{"server", "localhost", 0, ""},
		{"server", "127.0.0.1", 0, ""},
		{"server", "::1", 0, ""},
		{"expired", "localhost", -EKEYREJECTED, "certificate has expired"},
		{"wronghost", "localhost", -EKEYREJECTED, "hostname mismatch"},
		{"server", "10.1.2.3", -EKEYREJECTED, "IP address mismatch"},
		{"server", "other.test", -EKEYREJECTED, "hostname mismatch"},
		{"untrusted", "localhost", -EKEYREJECTED, "self-signed certificate in certificate chain"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(fx_run_task(verify_body, (void *)&cases[i]), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tls_stream_interface_ringo_to_ringo, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_tls_bulk_both_ways_checksummed, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_tls_client_rejects_expired_wrong_host_untrusted,
						fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, tls_ca_setup, tls_ca_teardown);
}
