/*
 * tls_client: a TLS client (asyncio's open_connection(ssl=...)): connect,
 * verify the server, send each line of stdin and print what comes back.
 *
 *   tls_client [--ca FILE] [--cert FILE --key FILE] [--alpn PROTO]
 *              [--insecure] [--sessions N] HOST PORT
 *
 * The server's certificate is checked against the system's CA store (or
 * --ca FILE) and HOST (a name or an IP address); --insecure skips that,
 * loudly. --cert/--key present a client certificate. --sessions N
 * connects N times in a row with one config and reports whether each
 * handshake resumed the session kept from the one before. Failures print
 * ringo's errno text and OpenSSL's reason ("certificate has expired"...).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringo.h"
#include "ringo/tls.h"

static const char *host;
static int port = -1;
static int sessions = 1;
static const char *alpn[1];
static ringo_tls_options opts;

/* Send stdin line by line (an echo server answers each). */
static int talk(ringo_stream *s)
{
	char line[4096];
	while (fgets(line, sizeof(line), stdin)) {
		size_t n = strlen(line);
		int err = ringo_stream_write(s, line, n);
		if (err == 0)
			err = ringo_stream_drain(s);
		int got = err < 0 ? err : ringo_stream_read_exactly(s, line, n);
		if (got < 0) {
			fprintf(stderr, "tls_client: %s (%s)\n", ringo_strerror(got), ringo_tls_error(s));
			return got;
		}
		fwrite(line, 1, n, stdout);
	}
	return 0;
}

static int client(void *arg, void **result)
{
	ringo_tls_config *cfg;
	int err = ringo_tls_config_new(&opts, &cfg);
	if (err < 0) {
		fprintf(stderr, "tls_client: %s (%s)\n", ringo_strerror(err), ringo_tls_last_error());
		return err;
	}
	for (int i = 0; i < sessions && err == 0; i++) {
		ringo_stream *s;
		err = ringo_tls_connect(host, port, RINGO_SEC(10), cfg, NULL, &s);
		if (err < 0) {
			fprintf(stderr, "tls_client: %s:%d: %s (%s)\n", host, port, ringo_strerror(err),
				ringo_tls_last_error());
			break;
		}
		const char *proto = ringo_tls_alpn(s);
		fprintf(stderr, "tls_client: %s %s, alpn %s, %s\n", ringo_tls_version(s),
			ringo_tls_cipher(s), proto ? proto : "-",
			ringo_tls_session_reused(s) ? "resumed" : "new session");
		if (i == sessions - 1) {
			err = talk(s);
		} else {
			/* A round trip: TLS 1.3 session tickets follow the handshake. */
			char c[2];
			err = ringo_stream_write(s, "\n", 1);
			if (err == 0 && ringo_stream_readline(s, c, sizeof(c)) != 1)
				err = -EIO;
		}
		ringo_stream_close(s);
		ringo_stream_wait_closed(s);
		ringo_stream_free(s);
	}
	ringo_tls_config_release(cfg);
	return err;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: tls_client [--ca FILE] [--cert FILE --key FILE] [--alpn PROTO]\n"
		     "                  [--insecure] [--sessions N] HOST PORT\n");
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool v = i + 1 < argc;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--ca") && v) {
			opts.ca_file = argv[++i];
		} else if (!strcmp(a, "--cert") && v) {
			opts.cert_file = argv[++i];
		} else if (!strcmp(a, "--key") && v) {
			opts.key_file = argv[++i];
		} else if (!strcmp(a, "--alpn") && v) {
			alpn[0] = argv[++i];
			opts.alpn = alpn;
			opts.nalpn = 1;
		} else if (!strcmp(a, "--insecure")) {
			fprintf(stderr, "tls_client: WARNING: not verifying the server\n");
			opts.flags |= RINGO_TLS_INSECURE_NO_VERIFY;
		} else if (!strcmp(a, "--sessions") && v) {
			sessions = atoi(argv[++i]);
		} else if (a[0] != '-' && !host) {
			host = a;
		} else if (a[0] != '-' && port < 0) {
			port = atoi(a);
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!host || port < 0 || port > 65535 || sessions < 1) {
		usage(stderr);
		return 2;
	}
	return ringo_run(client, NULL, NULL, NULL) < 0;
}
