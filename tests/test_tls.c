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

	/* forward: what was decrypted goes back, from the block it was
	 * decrypted into (nothing lands there between records) */
	assert_int_equal(ringo_stream_write(cli.s, "echo me", 7), 0);
	while (ringo_stream_peek(srv.s, &len), len < 7)
		assert_true(ringo_stream_fill(srv.s) > 0);
	assert_int_equal(ringo_stream_forward(srv.s, srv.s, 7), 0);
	struct ringo_stream_stats fw;
	ringo_stream_stats(srv.s, &fw);
	assert_int_equal(fw.bytes_forwarded_in_place, 7);
	assert_int_equal(ringo_stream_read_exactly(cli.s, buf, 7), 7);
	assert_memory_equal(buf, "echo me", 7);

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
	assert_int_equal(st.bytes_written, 29);
	assert_int_equal(st.bytes_read, 11);

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

/* ---- SNI: the server picks a certificate by name ---- */

static int sni_body(void *arg, void **result)
{
	ringo_tls_config *sc = server_config(NULL);
	assert_int_equal(ringo_tls_config_add_cert(sc, P("other.pem"), P("other.key")), 0);
	ringo_tls_config *cc = client_config(NULL);
	static const char *const names[] = {"localhost", "other.test", "www.other.test"};
	for (int i = 0; i < 3; i++) {
		struct hs srv = {.cfg = sc}, cli = {.cfg = cc, .name = names[i]};
		handshake_pair(&srv, &cli);
		assert_int_equal(cli.rc, 0); /* verified against the name asked */
		assert_int_equal(srv.rc, 0);
		assert_string_equal(ringo_tls_server_name(srv.s), names[i]);
		char subj[128];
		assert_true(ringo_tls_peer_subject(cli.s, subj, sizeof(subj)) > 0);
		assert_non_null(strstr(subj, i == 0 ? "CN = localhost" : "CN = other.test"));
		close_free(cli.s);
		close_free(srv.s);
	}
	/* A config in use takes no more certificates. */
	assert_int_equal(ringo_tls_config_add_cert(sc, P("other.pem"), P("other.key")), -EINVAL);
	ringo_tls_config_release(sc);
	ringo_tls_config_release(cc);
	return 0;
}

static void test_tls_sni_picks_the_certificate_by_name(void **state)
{
	assert_int_equal(fx_run_task(sni_body, NULL), 0);
}

/* ---- ALPN: the server's preference wins; nothing in common fails ---- */

static int alpn_body(void *arg, void **result)
{
	static const char *const sp[] = {"h2", "http/1.1"};
	static const char *const cp[] = {"http/1.1", "h2"};
	static const char *const none[] = {"smtp"};
	ringo_tls_options so = {.alpn = sp, .nalpn = 2};
	ringo_tls_options co = {.alpn = cp, .nalpn = 2};
	ringo_tls_options no = {.alpn = none, .nalpn = 1};
	ringo_tls_config *sc = server_config(&so);
	ringo_tls_config *cc = client_config(&co);
	ringo_tls_config *nc = client_config(&no);
	struct hs srv = {.cfg = sc}, cli = {.cfg = cc, .name = "localhost"};
	handshake_pair(&srv, &cli);
	assert_int_equal(cli.rc, 0);
	assert_string_equal(ringo_tls_alpn(cli.s), "h2");
	assert_string_equal(ringo_tls_alpn(srv.s), "h2");
	close_free(cli.s);
	close_free(srv.s);
	struct hs srv2 = {.cfg = sc}, cli2 = {.cfg = nc, .name = "localhost"};
	handshake_pair(&srv2, &cli2);
	assert_int_equal(srv2.rc, -EPROTO);
	assert_int_equal(cli2.rc, -EPROTO);
	assert_non_null(strstr(cli2.err, "no application protocol"));
	/* bad lists */
	static const char *const empty[] = {""};
	ringo_tls_options bo = {.alpn = empty, .nalpn = 1};
	ringo_tls_config *bad;
	assert_int_equal(ringo_tls_config_new(&bo, &bad), -EINVAL);
	ringo_tls_config_release(sc);
	ringo_tls_config_release(cc);
	ringo_tls_config_release(nc);
	return 0;
}

static void test_tls_alpn_server_preference_and_no_overlap(void **state)
{
	assert_int_equal(fx_run_task(alpn_body, NULL), 0);
}

/* ---- client certificates ---- */

static int client_cert_body(void *arg, void **result)
{
	ringo_tls_options so = {.ca_file = P("ca.pem"), .flags = RINGO_TLS_REQUIRE_CLIENT_CERT};
	ringo_tls_config *sc = server_config(&so);
	ringo_tls_options with = {.cert_file = P("client.pem"), .key_file = P("client.key")};
	ringo_tls_options rogue = {.cert_file = P("rogueclient.pem"),
				   .key_file = P("rogueclient.key")};
	ringo_tls_config *cc = client_config(&with);
	ringo_tls_config *nc = client_config(NULL);
	ringo_tls_config *rc = client_config(&rogue);

	/* required and given */
	struct hs srv = {.cfg = sc}, cli = {.cfg = cc, .name = "localhost"};
	handshake_pair(&srv, &cli);
	assert_int_equal(srv.rc, 0);
	assert_int_equal(cli.rc, 0);
	assert_true(ringo_tls_peer_verified(srv.s));
	char subj[128];
	assert_true(ringo_tls_peer_subject(srv.s, subj, sizeof(subj)) > 0);
	assert_string_equal(subj, "CN = ringo-client");
	close_free(cli.s);
	close_free(srv.s);

	/* required and missing: the server refuses; in TLS 1.3 the client's
	 * handshake is over first, and its first read gets the alert */
	char buf[16];
	for (int i = 0; i < 2; i++) {
		struct hs s2 = {.cfg = sc}, c2 = {.cfg = i ? rc : nc, .name = "localhost"};
		handshake_pair(&s2, &c2);
		assert_int_equal(s2.rc, -EKEYREJECTED);
		assert_non_null(strstr(s2.err, i ? "self-signed certificate in certificate chain" : "did not send"));
		assert_int_equal(c2.rc, 0);
		assert_int_equal(ringo_stream_read(c2.s, buf, sizeof(buf)), -EPROTO);
		assert_non_null(strstr(ringo_tls_error(c2.s),
				       i ? "unknown ca" : "certificate required"));
		ringo_stream_free(c2.s);
	}
	ringo_tls_config_release(sc);
	ringo_tls_config_release(cc);
	ringo_tls_config_release(nc);
	ringo_tls_config_release(rc);
	return 0;
}

static void test_tls_client_certificates_required_given_missing_untrusted(void **state)
{
	assert_int_equal(fx_run_task(client_cert_body, NULL), 0);
}

/* ---- session resumption ---- */

static int resume_body(void *arg, void **result)
{
	bool off = arg != NULL;
	ringo_tls_options o = {.flags = off ? RINGO_TLS_NO_RESUMPTION : 0};
	ringo_tls_config *sc = server_config(NULL);
	ringo_tls_config *cc = client_config(&o);
	char buf[8];
	for (int i = 0; i < 3; i++) {
		struct hs srv = {.cfg = sc}, cli = {.cfg = cc, .name = "localhost"};
		handshake_pair(&srv, &cli);
		assert_int_equal(cli.rc, 0);
		/* TLS 1.3 tickets come after the handshake: one exchange. */
		assert_int_equal(ringo_stream_write(srv.s, "hi", 2), 0);
		assert_int_equal(ringo_stream_read_exactly(cli.s, buf, 2), 2);
		bool want = i > 0 && !off;
		assert_int_equal(ringo_tls_session_reused(cli.s), want);
		assert_int_equal(ringo_tls_session_reused(srv.s), want);
		close_free(cli.s);
		close_free(srv.s);
	}
	ringo_tls_config_release(sc);
	ringo_tls_config_release(cc);
	return 0;
}

static void test_tls_session_resumed_on_the_next_connection(void **state)
{
	assert_int_equal(fx_run_task(resume_body, NULL), 0);
	assert_int_equal(fx_run_task(resume_body, (void *)1), 0);
}

/* ---- bad input: each a clear error on that connection ---- */

/* The server side of a handshake with a raw peer that the test drives
 * with plain socket calls. */
struct rawpeer {
	ringo_tls_config *cfg;
	int fd;
	int rc;
	char err[200];
};

static int raw_server_task(void *arg, void **result)
{
	struct rawpeer *r = arg;
	ringo_stream *raw, *s = NULL;
	assert_int_equal(ringo_stream_new(ringo_loop_current(), r->fd, NULL, &raw), 0);
	r->rc = ringo_tls_server(raw, r->cfg, &s);
	snprintf(r->err, sizeof(r->err), "%s", ringo_tls_last_error());
	if (r->rc < 0)
		ringo_stream_free(raw);
	else
		close_free(s);
	return 0;
}

static int bad_input_body(void *arg, void **result)
{
	ringo_tls_options so = {.handshake_timeout_ns = RINGO_MSEC(300)};
	ringo_tls_config *sc = server_config(&so);
	ringo_loop *loop = ringo_loop_current();
	struct {
		const char *what;
		const char *bytes;
		size_t n;
		bool close;
		int rc;
		const char *text;
	} cases[] = {
		{"plain http", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, false, -EPROTO, "http request"},
		{"plain text", "hello there, are you TLS?\n", 26, false, -EPROTO, "wrong version number"},
		/* a ClientHello record header promising 512 bytes, 4 given */
		{"truncated", "\x16\x03\x01\x02\x00\x01\x00\x01", 8, true, -ECONNRESET, "closed"},
		{"garbage record", "\x17\x03\x03\x00\x05zzzzz", 10, false, -EPROTO, ""},
		{"silent", "", 0, false, -ETIMEDOUT, "timed out"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int sv[2];
		fx_socketpair(sv);
		struct rawpeer r = {.cfg = sc, .fd = sv[0]};
		ringo_task *t;
		assert_int_equal(ringo_spawn(loop, raw_server_task, &r, NULL, &t), 0);
		if (cases[i].n)
			assert_int_equal(send(sv[1], cases[i].bytes, cases[i].n, 0), (ssize_t)cases[i].n);
		if (cases[i].close)
			shutdown(sv[1], SHUT_WR);
		assert_int_equal(ringo_await(ringo_task_future(t), NULL), 0);
		ringo_task_release(t);
		if (r.rc != cases[i].rc || !strstr(r.err, cases[i].text))
			fprintf(stderr, "%s: %d \"%s\"\n", cases[i].what, r.rc, r.err);
		assert_int_equal(r.rc, cases[i].rc);
		assert_non_null(strstr(r.err, cases[i].text));
		close(sv[1]);
	}
	ringo_tls_config_release(sc);
	return 0;
}

static void test_tls_server_bad_input_fails_that_handshake_with_its_error(void **state)
{
	assert_int_equal(fx_run_task(bad_input_body, NULL), 0);
}

/* Garbage after the handshake: a record that does not decrypt fails the
 * reader with -EPROTO ("bad record mac"), and writes fail after it. */
static int garbage_after_handshake_body(void *arg, void **result)
{
	ringo_tls_config *sc = server_config(NULL);
	ringo_tls_config *cc = client_config(NULL);
	struct hs srv = {.cfg = sc}, cli = {.cfg = cc, .name = "localhost"};
	handshake_pair(&srv, &cli);
	assert_int_equal(cli.rc, 0);
	char buf[64];
	assert_int_equal(ringo_stream_write(cli.s, "ok", 2), 0);
	assert_int_equal(ringo_stream_read_exactly(srv.s, buf, 2), 2);
	/* Under the client's TLS, straight onto the socket. */
	static const char rec[] = "\x17\x03\x03\x00\x20"
				   "0123456789abcdef0123456789abcdef";
	assert_int_equal(send(ringo_stream_fd(cli.s), rec, sizeof(rec) - 1, 0), (ssize_t)sizeof(rec) - 1);
	assert_int_equal(ringo_stream_read(srv.s, buf, sizeof(buf)), -EPROTO);
	assert_non_null(strstr(ringo_tls_error(srv.s), "bad record mac"));
	assert_int_equal(ringo_stream_write(srv.s, "x", 1), -EPROTO);
	ringo_stream_free(srv.s);
	ringo_stream_free(cli.s);
	ringo_tls_config_release(sc);
	ringo_tls_config_release(cc);
	return 0;
}

static void test_tls_garbage_record_after_handshake_is_eproto(void **state)
{
	assert_int_equal(fx_run_task(garbage_after_handshake_body, NULL), 0);
}

/* A peer that closes without close_notify: EOF (ragged), or
 * -ECONNRESET with RINGO_TLS_STRICT_EOF. */
static int ragged_body(void *arg, void **result)
{
	bool strict = arg != NULL;
	ringo_tls_config *sc = server_config(NULL);
	ringo_tls_options co = {.flags = strict ? RINGO_TLS_STRICT_EOF : 0};
	ringo_tls_config *cc = client_config(&co);
	struct hs srv = {.cfg = sc}, cli = {.cfg = cc, .name = "localhost"};
	handshake_pair(&srv, &cli);
	assert_int_equal(cli.rc, 0);
	assert_int_equal(ringo_stream_write(srv.s, "bye", 3), 0);
	ringo_sleep(0);
	ringo_sleep(0);
	shutdown(ringo_stream_fd(srv.s), SHUT_WR); /* no close_notify */
	char buf[8];
	assert_int_equal(ringo_stream_read_exactly(cli.s, buf, 3), 3);
	assert_int_equal(ringo_stream_read(cli.s, buf, sizeof(buf)), strict ? -ECONNRESET : 0);
	assert_false(ringo_tls_close_notify_received(cli.s));
	assert_non_null(strstr(ringo_tls_error(cli.s), "without close_notify"));
	ringo_stream_free(srv.s);
	ringo_stream_free(cli.s);
	ringo_tls_config_release(sc);
	ringo_tls_config_release(cc);
	return 0;
}

static void test_tls_close_without_close_notify_is_eof_or_strict_reset(void **state)
{
	assert_int_equal(fx_run_task(ragged_body, NULL), 0);
	assert_int_equal(fx_run_task(ragged_body, (void *)1), 0);
}

/* ---- cancellation and timeouts keep bytes; backpressure ---- */

static int cancel_read_body(void *arg, void **result)
{
	ringo_tls_config *sc = server_config(NULL);
	ringo_tls_config *cc = client_config(NULL);
	struct hs srv = {.cfg = sc}, cli = {.cfg = cc, .name = "localhost"};
	handshake_pair(&srv, &cli);
	assert_int_equal(cli.rc, 0);
	char buf[16];
	/* a read under a timeout scope that expires: nothing lost */
	ringo_timeout to;
	assert_int_equal(ringo_timeout_enter(&to, RINGO_MSEC(20)), 0);
	int rc = ringo_stream_read_exactly(srv.s, buf, 10);
	assert_int_equal(ringo_timeout_exit(&to, rc), -ETIMEDOUT);
	assert_int_equal(ringo_stream_write(cli.s, "0123456789", 10), 0);
	assert_int_equal(ringo_timeout_enter(&to, RINGO_MSEC(20)), 0);
	rc = ringo_stream_read_exactly(srv.s, buf, 12); /* 10 arrive, 12 wanted */
	assert_int_equal(ringo_timeout_exit(&to, rc), -ETIMEDOUT);
	size_t len;
	ringo_stream_peek(srv.s, &len);
	assert_int_equal(len, 10);
	assert_int_equal(ringo_stream_read_exactly(srv.s, buf, 10), 10);
	assert_memory_equal(buf, "0123456789", 10);

	/* a peer that never reads: drain blocks once write_high is passed.
	 * Each drain gets 200 ms: one that times out with bytes still
	 * buffered is blocked (one that timed out on a slow machine with
	 * everything handed on was not: write more). */
	static char big[256 * 1024];
	int n = 0;
	for (; n < 64; n++) {
		assert_int_equal(ringo_stream_write(cli.s, big, sizeof(big)), 0);
		assert_int_equal(ringo_timeout_enter(&to, RINGO_MSEC(200)), 0);
		rc = ringo_timeout_exit(&to, ringo_stream_drain(cli.s));
		if (rc == -ETIMEDOUT && ringo_stream_write_buffered(cli.s) > 0)
			break;
		assert_true(rc == 0 || rc == -ETIMEDOUT);
	}
	assert_true(n < 64); /* the kernel's buffers and both marks: bounded */
	assert_true(ringo_stream_write_buffered(cli.s) > 0);
	assert_true(cli.s->tp_ctx != NULL);
	ringo_stream_free(cli.s); /* abort with bytes unsent */
	ringo_stream_free(srv.s);
	ringo_tls_config_release(sc);
	ringo_tls_config_release(cc);
	return 0;
}

static void test_tls_timeouts_keep_bytes_and_drain_blocks_on_a_silent_peer(void **state)
{
	assert_int_equal(fx_run_task(cancel_read_body, NULL), 0);
}

/* ---- configs ---- */

static void test_tls_config_errors(void **state)
{
	ringo_tls_config *c = NULL;
	ringo_tls_options o = {.flags = RINGO_TLS_SERVER};
	assert_int_equal(ringo_tls_config_new(NULL, &c), -EINVAL);
	assert_int_equal(ringo_tls_config_new(&o, &c), -EINVAL); /* no certificate */
	o.cert_file = P("nope.pem");
	o.key_file = P("server.key");
	assert_int_equal(ringo_tls_config_new(&o, &c), -ENOENT);
	assert_non_null(strstr(ringo_tls_last_error(), "nope.pem"));
	o.cert_file = P("server.pem");
	o.key_file = P("other.key");
	assert_int_equal(ringo_tls_config_new(&o, &c), -EBADMSG);
	assert_non_null(strstr(ringo_tls_last_error(), "mismatch"));
	o.key_file = P("ca.pem"); /* not a key */
	assert_int_equal(ringo_tls_config_new(&o, &c), -EBADMSG);
	o.key_file = P("server.key");
	o.flags |= RINGO_TLS_VERIFY_CLIENT; /* without a CA */
	assert_int_equal(ringo_tls_config_new(&o, &c), -EINVAL);
	o.flags = RINGO_TLS_SERVER | (1u << 20);
	assert_int_equal(ringo_tls_config_new(&o, &c), -EINVAL);
	o.flags = RINGO_TLS_SERVER;
	o.ciphersuites = "TLS_NOPE";
	assert_int_equal(ringo_tls_config_new(&o, &c), -EINVAL);
	o.ciphersuites = NULL;
	o.min_version = 0x0301;
	assert_int_equal(ringo_tls_config_new(&o, &c), -EINVAL);
	o.min_version = RINGO_TLS_VERSION_1_3;
	assert_int_equal(ringo_tls_config_new(&o, &c), 0);
	assert_int_equal(ringo_tls_config_add_cert(c, P("other.pem"), P("nope.key")), -ENOENT);
	assert_int_equal(ringo_tls_config_add_cert(c, P("other.pem"), P("server.key")), -EBADMSG);
	ringo_tls_config_ref(c);
	ringo_tls_config_release(c);
	ringo_tls_config_release(c);
	ringo_tls_config_release(NULL);
	/* a client that verifies needs a name */
	ringo_tls_options co = {.ca_file = P("ca.pem")};
	assert_int_equal(ringo_tls_config_new(&co, &c), 0);
	assert_int_equal(ringo_tls_client(NULL, c, "x", NULL), -EINVAL);
	ringo_tls_config_release(c);
	/* queries on a stream that is not TLS */
	assert_null(ringo_tls_alpn(NULL));
	assert_false(ringo_tls_session_reused(NULL));
	assert_string_equal(ringo_tls_error(NULL), "");
	assert_true(ringo_tls_ktls_available() == 0 || ringo_tls_ktls_available() == 1);
}

/* ---- the server hook ---- */

static int hook_handler(ringo_stream *s, void *arg)
{
	char line[128];
	int n;
	while ((n = ringo_stream_readline(s, line, sizeof(line))) > 0) {
		ringo_stream_write(s, line, (size_t)n);
		if (ringo_stream_drain(s) < 0)
			break;
	}
	return 0;
}

static int hook_body(void *arg, void **result)
{
	ringo_tls_config *sc = server_config(NULL);
	ringo_tls_config *cc = client_config(NULL);
	ringo_server_options so = {.wrap = ringo_tls_server_wrap, .wrap_ctx = sc};
	ringo_server *srv;
	assert_int_equal(ringo_server_start(ringo_loop_current(), "127.0.0.1", 0, hook_handler, NULL,
					    &so, &srv),
			 0);
	int port = ringo_server_port(srv);
	/* a plain-text client first: its connection fails alone */
	ringo_stream *plain;
	assert_int_equal(ringo_stream_connect("127.0.0.1", port, RINGO_SEC(5), NULL, &plain), 0);
	assert_int_equal(ringo_stream_write(plain, "PING\r\n", 6), 0);
	char buf[128];
	int n = ringo_stream_read(plain, buf, sizeof(buf));
	assert_true(n >= 0); /* an alert record, or EOF */
	while (n > 0)
		n = ringo_stream_read(plain, buf, sizeof(buf));
	assert_int_equal(n, 0);
	ringo_stream_free(plain);
	/* then TLS clients are served */
	for (int i = 0; i < 3; i++) {
		ringo_stream *s;
		assert_int_equal(ringo_tls_connect("127.0.0.1", port, RINGO_SEC(5), cc, NULL, &s), 0);
		assert_int_equal(ringo_stream_write(s, "hello\n", 6), 0);
		assert_int_equal(ringo_stream_readline(s, buf, sizeof(buf)), 6);
		assert_memory_equal(buf, "hello\n", 6);
		assert_int_equal(ringo_tls_session_reused(s), i > 0);
		close_free(s);
	}
	ringo_server_close(srv);
	assert_int_equal(ringo_server_wait_closed(srv, RINGO_SEC(5)), 0);
	struct ringo_server_stats st;
	ringo_server_stats(srv, &st);
	assert_int_equal(st.accepted, 4);
	assert_int_equal(st.wrap_errors, 1);
	assert_int_equal(st.closed, 4);
	ringo_server_free(srv);
	/* a refused connection: ringo_tls_connect's error, nothing left */
	ringo_stream *s = NULL;
	assert_int_equal(ringo_tls_connect("127.0.0.1", port, RINGO_SEC(5), cc, NULL, &s),
			 -ECONNREFUSED);
	assert_null(s);
	ringo_tls_config_release(sc);
	ringo_tls_config_release(cc);
	return 0;
}

static void test_tls_server_hook_serves_tls_and_survives_a_plaintext_client(void **state)
{
	assert_int_equal(fx_run_task(hook_body, NULL), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tls_stream_interface_ringo_to_ringo, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_tls_bulk_both_ways_checksummed, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_tls_client_rejects_expired_wrong_host_untrusted,
						fx_setup, fx_teardown),
		T(test_tls_sni_picks_the_certificate_by_name),
		T(test_tls_alpn_server_preference_and_no_overlap),
		T(test_tls_client_certificates_required_given_missing_untrusted),
		T(test_tls_session_resumed_on_the_next_connection),
		T(test_tls_server_bad_input_fails_that_handshake_with_its_error),
		T(test_tls_garbage_record_after_handshake_is_eproto),
		T(test_tls_close_without_close_notify_is_eof_or_strict_reset),
		T(test_tls_timeouts_keep_bytes_and_drain_blocks_on_a_silent_peer),
		T(test_tls_config_errors),
		T(test_tls_server_hook_serves_tls_and_survives_a_plaintext_client),
	};
	if (getenv("RINGO_TEST_FILTER")) /* one test by name (cmocka's * and ? work) */
		cmocka_set_test_filter(getenv("RINGO_TEST_FILTER"));
	return cmocka_run_group_tests(tests, tls_ca_setup, tls_ca_teardown);
}
