/*
 * tls_echo: an echo server over TLS, on the server API's wrap hook.
 *
 *   tls_echo --cert FILE --key FILE [--sni-cert FILE KEY]... [--alpn PROTO]...
 *            [--host ADDR] [--threads N] [--ca FILE [--require-client-cert]] PORT
 *
 * The handler is the plain echo_server's, word for word: the TLS stream
 * is a ringo_stream. --ca FILE asks clients for a certificate and checks
 * it against FILE (--require-client-cert: refuse clients without one).
 * --sni-cert adds a certificate picked for clients that ask for one of its
 * names (SNI); --alpn lists the protocols offered, preferred first.
 * SIGINT/SIGTERM stop it cleanly. Try it with examples/tls_client, or
 * `openssl s_client -connect 127.0.0.1:PORT`.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringo.h"
#include "stop_signals.h"
#include "ringo/tls.h"

static const char *host = "127.0.0.1";
static int port = -1;
static unsigned threads = 1;
static ringo_tls_options tls_opts = {.flags = RINGO_TLS_SERVER};
#define MAX_EXTRA 8
static const char *sni_cert[MAX_EXTRA], *sni_key[MAX_EXTRA];
static int nsni;
static const char *alpn[MAX_EXTRA];

static int echo(ringo_stream *s, void *arg)
{
	char peer[128] = "";
	if (ringo_tls_peer_verified(s))
		ringo_tls_peer_subject(s, peer, sizeof(peer));
	if (peer[0])
		fprintf(stderr, "tls_echo: client %s\n", peer);
	for (;;) {
		size_t len;
		ringo_stream_peek(s, &len);
		if (len == 0) {
			if (ringo_stream_fill(s) <= 0)
				break; /* EOF or an error */
			continue;
		}
		/* What was decrypted goes back to be encrypted, from the same
		 * block when nothing else waits to go out. */
		if (ringo_stream_forward(s, s, len) < 0)
			break;
		if (ringo_stream_drain(s) < 0)
			break;
	}
	return 0;
}

static int serve(void *arg, void **result)
{
	int err = stop_signals_catch();
	if (err < 0) {
		fprintf(stderr, "tls_echo: catching SIGINT/SIGTERM: %s\n", ringo_strerror(err));
		return err;
	}
	ringo_tls_config *tls;
	err = ringo_tls_config_new(&tls_opts, &tls);
	if (err < 0) {
		fprintf(stderr, "tls_echo: %s (%s)\n", ringo_strerror(err), ringo_tls_last_error());
		return err;
	}
	for (int i = 0; i < nsni; i++) {
		err = ringo_tls_config_add_cert(tls, sni_cert[i], sni_key[i]);
		if (err < 0) {
			fprintf(stderr, "tls_echo: %s: %s (%s)\n", sni_cert[i], ringo_strerror(err),
				ringo_tls_last_error());
			ringo_tls_config_release(tls);
			return err;
		}
	}
	ringo_server_options opts = {
		.threads = threads,
		.wrap = ringo_tls_server_wrap, /* each connection: a TLS handshake, then echo */
		.wrap_ctx = tls,
	};
	ringo_server *srv;
	err = ringo_server_start(ringo_loop_current(), host, port, echo, NULL, &opts, &srv);
	if (err < 0) {
		fprintf(stderr, "tls_echo: listen on %s:%d: %s\n", host, port, ringo_strerror(err));
		ringo_tls_config_release(tls);
		return err;
	}
	stop_signals_wait();
	ringo_server_close(srv);
	ringo_server_wait_closed(srv, 0);
	ringo_server_free(srv);
	ringo_tls_config_release(tls);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: tls_echo --cert FILE --key FILE [--sni-cert FILE KEY]... [--alpn PROTO]...\n"
		     "                [--host ADDR] [--threads N] [--ca FILE [--require-client-cert]] PORT\n"
		     "  TLS echo server, one ringo task per connection.\n");
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool v = i + 1 < argc;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--cert") && v) {
			tls_opts.cert_file = argv[++i];
		} else if (!strcmp(a, "--key") && v) {
			tls_opts.key_file = argv[++i];
		} else if (!strcmp(a, "--sni-cert") && i + 2 < argc && nsni < MAX_EXTRA) {
			sni_cert[nsni] = argv[++i];
			sni_key[nsni++] = argv[++i];
		} else if (!strcmp(a, "--alpn") && v && tls_opts.nalpn < MAX_EXTRA) {
			alpn[tls_opts.nalpn++] = argv[++i];
			tls_opts.alpn = alpn;
		} else if (!strcmp(a, "--ca") && v) {
			tls_opts.ca_file = argv[++i];
			tls_opts.flags |= RINGO_TLS_VERIFY_CLIENT;
		} else if (!strcmp(a, "--require-client-cert")) {
			tls_opts.flags |= RINGO_TLS_REQUIRE_CLIENT_CERT;
		} else if (!strcmp(a, "--host") && v) {
			host = argv[++i];
		} else if (!strcmp(a, "--threads") && v) {
			threads = (unsigned)atoi(argv[++i]);
		} else if (a[0] != '-' && port < 0) {
			port = atoi(a);
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (port < 0 || port > 65535 || threads < 1 || !tls_opts.cert_file || !tls_opts.key_file) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	return ringo_run(serve, NULL, NULL, NULL) < 0;
}
