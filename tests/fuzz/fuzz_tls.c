/*
 * Fuzz target: the TLS record path (include/ringo/tls.h). The fuzzed
 * bytes are what a ringo TLS server stream receives from its peer over a
 * socketpair, under a real loop.
 *
 * Input: mode, chunk, the bytes.
 *   mode:  low 2 bits, where the bytes go:
 *            0  the peer's first bytes: the server's handshake reads them
 *            1  after a real client's ClientHello (taken from a ringo
 *               client once per process): the bytes stand for the
 *               client's second flight
 *            2, 3  after a complete handshake with a ringo client, which
 *               then sent "ping" through TLS: the bytes follow its records
 *          bit 2: the server speaks TLS 1.2 at most (else 1.3 too);
 *          bit 3: the server's config has RINGO_TLS_STRICT_EOF.
 *   chunk: the bytes go out in chunks of this many (0: at once), each on
 *          its own loop iteration.
 * The peer half-closes after the bytes, so nothing waits for more.
 *
 * Checked, beyond no crash, leak or sanitizer report:
 *   - a handshake fed garbage fails with -EPROTO or -ECONNRESET (a
 *     timeout means the server hung) and says why (ringo_tls_last_error);
 *   - after the handshake, the server reads exactly "ping", then the
 *     stream ends with an error: garbage never reads as plaintext nor as a
 *     clean close (close_notify); only a ragged EOF (the bytes cut inside
 *     a record, or none) may read as EOF, and not under STRICT_EOF;
 *   - on that stream only: a TLS connection made once per process on the
 *     same loop still carries a round trip after every input, and no
 *     task is left behind.
 *
 * The keys are fresh per process (a self-signed P-256 certificate made at
 * start-up, no key file in the tree), so inputs in modes 1-3 replay the
 * same parser paths, not the same bytes on the wire.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fuzz.h"
#include "ringo.h"
#include <ringo/tls.h>

#define HANDSHAKE_NS RINGO_SEC(5)

static ringo_loop *loop;
static ringo_tls_config *server_cfg[4]; /* by mode bits 2-3 */
static ringo_tls_config *client_cfg;
static uint8_t hello[4096];             /* a ringo client's first flight */
static size_t hello_len;
static ringo_stream *ctl_server, *ctl_client; /* the connection that must survive */

/* ---- set-up, once per process ---- */

static void die(const char *what, int err)
{
	fprintf(stderr, "fuzz_tls: %s: %s (%s)\n", what, err ? ringo_strerror(err) : "",
		ringo_tls_last_error());
	abort();
}

/* A self-signed certificate for "localhost" and its key, written as PEM
 * into dir (the configs read files). */
static void make_certificate(const char *dir, char *cert, char *key, size_t cap)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FUZZ_CHECK(pkey && x);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
	X509_set_pubkey(x, pkey);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
				   -1, 0);
	X509_set_issuer_name(x, name);
	FUZZ_CHECK(X509_sign(x, pkey, EVP_sha256()) > 0);
	snprintf(cert, cap, "%s/cert.pem", dir);
	snprintf(key, cap, "%s/key.pem", dir);
	FILE *f = fopen(cert, "w");
	FUZZ_CHECK(f && PEM_write_X509(f, x) == 1 && fclose(f) == 0);
	f = fopen(key, "w");
	FUZZ_CHECK(f && PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) == 1 &&
		   fclose(f) == 0);
	X509_free(x);
	EVP_PKEY_free(pkey);
}

static void make_configs(void)
{
	char dir[] = "/tmp/ringo-fuzz-tls-XXXXXX", cert[64], key[64];
	FUZZ_CHECK(mkdtemp(dir) != NULL);
	make_certificate(dir, cert, key, sizeof(cert));
	for (unsigned i = 0; i < 4; i++) {
		ringo_tls_options o = {
			.cert_file = cert,
			.key_file = key,
			.flags = RINGO_TLS_SERVER | RINGO_TLS_NO_RESUMPTION | ((i & 2) ? RINGO_TLS_STRICT_EOF : 0),
			.max_version = (i & 1) ? RINGO_TLS_VERSION_1_2 : 0,
			.handshake_timeout_ns = HANDSHAKE_NS,
		};
		int err = ringo_tls_config_new(&o, &server_cfg[i]);
		if (err)
			die("server config", err);
	}
	ringo_tls_options c = {
		.flags = RINGO_TLS_INSECURE_NO_VERIFY | RINGO_TLS_NO_RESUMPTION,
		.handshake_timeout_ns = HANDSHAKE_NS,
	};
	int err = ringo_tls_config_new(&c, &client_cfg);
	if (err)
		die("client config", err);
	/* The configs hold the certificate and key now. */
	unlink(cert);
	unlink(key);
	rmdir(dir);
}

static void stream_pair(ringo_stream **a, ringo_stream **b)
{
	int sv[2];
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	FUZZ_CHECK(ringo_stream_new(loop, sv[0], NULL, a) == 0);
	FUZZ_CHECK(ringo_stream_new(loop, sv[1], NULL, b) == 0);
}

/* One side of a handshake, as a task: rc and the TLS stream. */
struct side {
	ringo_stream *raw, *tls;
	int fd; /* raw's socket (the TLS stream owns it after the handshake) */
	ringo_tls_config *cfg;
	bool server;
	int rc;
};

static int handshake_task(void *arg, void **result)
{
	struct side *h = arg;
	h->tls = NULL;
	h->rc = h->server ? ringo_tls_server(h->raw, h->cfg, &h->tls)
			  : ringo_tls_client(h->raw, h->cfg, NULL, &h->tls);
	if (h->rc < 0) {
		ringo_stream_free(h->raw);
		h->raw = NULL;
	}
	return 0;
}

static void spawn(ringo_task **t, int (*fn)(void *, void **), void *arg)
{
	FUZZ_CHECK(ringo_spawn(loop, fn, arg, NULL, t) == 0);
}

static void join(ringo_task *t)
{
	FUZZ_CHECK(ringo_await(ringo_task_future(t), NULL) == 0);
	ringo_task_release(t);
}

/* A ringo client and server shake hands on a fresh socketpair. */
static void handshake_pair(ringo_tls_config *scfg, struct side *srv, struct side *cli)
{
	*srv = (struct side){.cfg = scfg, .server = true};
	*cli = (struct side){.cfg = client_cfg};
	stream_pair(&srv->raw, &cli->raw);
	cli->fd = ringo_stream_fd(cli->raw);
	ringo_task *ts, *tc;
	spawn(&ts, handshake_task, srv);
	spawn(&tc, handshake_task, cli);
	join(ts);
	join(tc);
	if (srv->rc || cli->rc)
		die("handshake between ringo client and server", srv->rc ? srv->rc : cli->rc);
}

/* The client's first flight, as the server would receive it: the bytes
 * until the client waits for an answer (its first record). */
static void capture_hello(void)
{
	struct side cli = {.cfg = client_cfg};
	ringo_stream *peer;
	stream_pair(&peer, &cli.raw);
	ringo_task *tc;
	spawn(&tc, handshake_task, &cli);
	uint8_t head[5];
	FUZZ_CHECK(ringo_stream_read_exactly(peer, head, 5) == 5);
	hello_len = 5 + ((size_t)head[3] << 8 | head[4]);
	FUZZ_CHECK(head[0] == 22 && hello_len <= sizeof(hello));
	memcpy(hello, head, 5);
	FUZZ_CHECK(ringo_stream_read_exactly(peer, hello + 5, hello_len - 5) ==
		   (int)(hello_len - 5));
	/* No answer: the client fails (the peer closed). */
	FUZZ_CHECK(ringo_stream_close(peer) == 0 && ringo_stream_wait_closed(peer) == 0);
	ringo_stream_free(peer);
	join(tc);
	FUZZ_CHECK(cli.rc < 0);
}

static int setup_task(void *arg, void **result)
{
	capture_hello();
	struct side srv, cli;
	handshake_pair(server_cfg[0], &srv, &cli);
	ctl_server = srv.tls;
	ctl_client = cli.tls;
	return 0;
}

static void run_task(int (*fn)(void *, void **), void *arg)
{
	ringo_task *t;
	spawn(&t, fn, arg);
	FUZZ_CHECK(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL) == 0);
	ringo_task_release(t);
}

static void close_free(ringo_stream *s)
{
	if (!s)
		return;
	ringo_stream_close(s);
	ringo_stream_wait_closed(s);
	ringo_stream_free(s);
}

static int teardown_task(void *arg, void **result)
{
	close_free(ctl_client);
	close_free(ctl_server);
	return 0;
}

static void teardown(void)
{
	run_task(teardown_task, NULL);
	for (unsigned i = 0; i < 4; i++)
		ringo_tls_config_release(server_cfg[i]);
	ringo_tls_config_release(client_cfg);
	ringo_loop_free(loop);
	loop = NULL;
}

static void setup(void)
{
	/* Real time even if the environment asks for virtual time: the
	 * handshake timeout must be a real bound. */
	ringo_loop_options opts;
	ringo_loop_options_init(&opts);
	opts.flags &= ~(unsigned)RINGO_LOOP_VIRTUAL_CLOCK;
	int err = ringo_loop_new(&opts, &loop);
	if (err)
		die("no loop", err);
	make_configs();
	run_task(setup_task, NULL);
	atexit(teardown);
}

/* ---- one input ---- */

struct run {
	const uint8_t *bytes;
	size_t len, chunk;
	ringo_stream *out; /* the peer's writing end (plain) */
};

/* Send the bytes in chunks, one loop iteration apart, then half-close. */
static int send_task(void *arg, void **result)
{
	struct run *r = arg;
	size_t step = r->chunk ? r->chunk : r->len;
	for (size_t at = 0; at < r->len; at += step) {
		size_t n = r->len - at < step ? r->len - at : step;
		/* A server that failed already closed its end: the write
		 * errors are the point, not a failure of the target. */
		if (ringo_stream_write(r->out, r->bytes + at, n) < 0 || ringo_stream_drain(r->out) < 0)
			return 0;
		FUZZ_CHECK(ringo_sleep(0) == 0);
	}
	ringo_stream_write_eof(r->out);
	return 0;
}

/* Read and drop what s receives until EOF or an error. */
static void discard(ringo_stream *s)
{
	char buf[4096];
	while (ringo_stream_read(s, buf, sizeof(buf)) > 0)
		;
}

/* Modes 0 and 1: the bytes (after the ClientHello in mode 1) as the
 * client's; the handshake must fail. */
static void fuzz_handshake(struct run *r, ringo_tls_config *cfg, bool after_hello)
{
	struct side srv = {.cfg = cfg, .server = true};
	ringo_stream *peer;
	stream_pair(&srv.raw, &peer);
	if (after_hello)
		FUZZ_CHECK(ringo_stream_write(peer, hello, hello_len) == 0);
	r->out = peer;
	ringo_task *ts, *tw;
	spawn(&ts, handshake_task, &srv);
	spawn(&tw, send_task, r);
	/* Take what the server answers (ServerHello..., an alert) until it
	 * closes its end. */
	discard(peer);
	join(tw);
	join(ts);
	if (srv.rc == 0)
		fprintf(stderr, "fuzz_tls: the handshake succeeded on fuzzed bytes\n");
	FUZZ_CHECK(srv.rc == -EPROTO || srv.rc == -ECONNRESET);
	FUZZ_CHECK(ringo_tls_last_error()[0] != '\0');
	close_free(peer);
}

/* Modes 2 and 3: after a handshake and "ping", the bytes follow the
 * client's records on the same socket (written through a second
 * descriptor of the client's socket, as a man in the middle would). */
static void fuzz_records(struct run *r, ringo_tls_config *cfg, bool strict)
{
	struct side srv, cli;
	handshake_pair(cfg, &srv, &cli);
	char buf[4096];
	FUZZ_CHECK(ringo_stream_write(cli.tls, "ping", 4) == 0);
	FUZZ_CHECK(ringo_stream_read_exactly(srv.tls, buf, 4) == 4 && !memcmp(buf, "ping", 4));

	int fd = dup(cli.fd);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(ringo_stream_new(loop, fd, NULL, &r->out) == 0);
	ringo_task *tw;
	spawn(&tw, send_task, r);
	int rc = ringo_stream_read(srv.tls, buf, sizeof(buf));
	join(tw);
	if (rc > 0)
		fprintf(stderr, "fuzz_tls: %d bytes of fuzzed records read as plaintext\n", rc);
	FUZZ_CHECK(rc <= 0);
	FUZZ_CHECK(!ringo_tls_close_notify_received(srv.tls));
	if (rc == 0)
		FUZZ_CHECK(!strict); /* a ragged EOF, as documented */
	else
		FUZZ_CHECK(ringo_tls_error(srv.tls)[0] != '\0');
	/* The error stays: the next read says it again. */
	FUZZ_CHECK(ringo_stream_read(srv.tls, buf, sizeof(buf)) == rc);
	close_free(r->out);
	close_free(srv.tls);
	close_free(cli.tls);
}

/* The connection made at start-up still works. */
static void control_round_trip(void)
{
	static unsigned n;
	char msg[32], got[32];
	int len = snprintf(msg, sizeof(msg), "round trip %u\n", n++);
	FUZZ_CHECK(ringo_stream_write(ctl_client, msg, (size_t)len) == 0);
	FUZZ_CHECK(ringo_stream_readline(ctl_server, got, sizeof(got)) == len);
	FUZZ_CHECK(!memcmp(got, msg, (size_t)len));
}

struct input {
	const uint8_t *data;
	size_t size;
};

static int input_task(void *arg, void **result)
{
	struct input *in = arg;
	uint8_t mode = in->data[0];
	struct run r = {.bytes = in->data + 2, .len = in->size - 2, .chunk = in->data[1]};
	ringo_tls_config *cfg = server_cfg[(mode >> 2) & 3];
	switch (mode & 3) {
	case 0: fuzz_handshake(&r, cfg, false); break;
	case 1: fuzz_handshake(&r, cfg, true); break;
	default: fuzz_records(&r, cfg, mode & 8); break;
	}
	control_round_trip();
	/* Let the closed streams' last completions come in. */
	FUZZ_CHECK(ringo_sleep(0) == 0 && ringo_sleep(0) == 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	if (!loop)
		setup();
	struct input in = {data, size};
	run_task(input_task, &in);
	/* Every task of the input has finished (none hangs on a dead peer). */
	FUZZ_CHECK(ringo_loop_tasks(loop, NULL, 0) == 0);
	return 0;
}
