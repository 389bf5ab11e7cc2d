/* TLS against peers that are not ringo, on loopback: openssl s_client
 * (handshake, verification, SNI with two certificates, ALPN, session
 * resumption with -sess_out/-sess_in) against examples/tls_echo; curl
 * --cacert fetching from the HTTPS examples/http_server (keep-alive);
 * Python's ssl module (asyncio streams, tests/tls_peer.py) as a client of
 * tls_echo (with and without a required client certificate) and as a
 * server for ringo's client (ALPN, SNI, resumption, a wrong-host
 * failure). The test CA is made at test time (tests/tls-ca.sh). A peer
 * program that is not installed skips its test, saying so. */
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>

#include "servers.h"
#include "tls_support.h"

static bool have(const char *prog)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

#define NEED(prog)                                                                          \
	do {                                                                                \
		if (!have(prog)) {                                                          \
			fprintf(stderr, "skipped: %s is not installed\n", prog);            \
			skip();                                                             \
		}                                                                           \
	} while (0)

/* Run a shell command, its stdout and stderr into out (terminated); the
 * exit status. Every command has its own time bound (timeout 30). */
static int sh(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int sh(char *out, size_t cap, const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(cmd, sizeof(cmd) - 16, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(cmd) - 16);
	strcat(cmd, " 2>&1");
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	size_t len = 0;
	while (len + 1 < cap) {
		size_t got = fread(out + len, 1, cap - 1 - len, f);
		if (got == 0)
			break;
		len += got;
	}
	out[len] = '\0';
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static bool has(const char *out, const char *needle)
{
	if (strstr(out, needle))
		return true;
	fprintf(stderr, "expected \"%s\" in:\n%s\n", needle, out);
	return false;
}

static pid_t start_tls_echo(int port, const char *extra1, const char *extra2,
			    const char *extra3)
{
	const char *args[16] = {"--cert", P("server.pem"), "--key", P("server.key")};
	int n = 4;
	const char *extra[] = {extra1, extra2, extra3};
	for (int i = 0; i < 3 && extra[i]; i++) {
		/* each extra: a space-separated group of arguments */
		static char bufs[3][512];
		snprintf(bufs[i], sizeof(bufs[i]), "%s", extra[i]);
		for (char *t = strtok(bufs[i], " "); t; t = strtok(NULL, " "))
			args[n++] = t;
	}
	args[n] = NULL;
	return server_start("examples/tls_echo", args, port, true);
}

/* ---- openssl s_client ---- */

static void test_tls_peers_s_client_verifies_picks_sni_alpn_and_resumes(void **state)
{
	NEED("openssl");
	int port = free_port();
	char sni[256];
	snprintf(sni, sizeof(sni), "--sni-cert %s %s", P("other.pem"), P("other.key"));
	pid_t pid = start_tls_echo(port, sni, "--alpn h2 --alpn http/1.1", NULL);
	static char out[16384];
	char sess[128];
	snprintf(sess, sizeof(sess), "%s/s_client.sess", tls_dir);

	/* No SNI match: the first certificate, checked against localhost. */
	assert_int_equal(sh(out, sizeof(out),
			    "timeout 30 openssl s_client -connect 127.0.0.1:%d -CAfile %s "
			    "-verify_hostname localhost -verify_return_error </dev/null",
			    port, P("ca.pem")),
			 0);
	assert_true(has(out, "subject=CN = localhost"));
	assert_true(has(out, "Verification: OK"));
	assert_true(has(out, "No ALPN negotiated"));

	/* SNI other.test: the second certificate; ALPN: the server's
	 * preference (h2) over the client's order. */
	assert_int_equal(sh(out, sizeof(out),
			    "timeout 30 openssl s_client -connect 127.0.0.1:%d -CAfile %s "
			    "-servername other.test -verify_hostname other.test "
			    "-verify_return_error -alpn http/1.1,h2 </dev/null",
			    port, P("ca.pem")),
			 0);
	assert_true(has(out, "subject=CN = other.test"));
	assert_true(has(out, "Verified peername: other.test"));
	assert_true(has(out, "ALPN protocol: h2"));
	assert_true(has(out, "New, TLSv1.3"));

	/* Resumption: the session kept with -sess_out, offered again with
	 * -sess_in. TLS 1.2 here: its session exists when the handshake
	 * ends, while a TLS 1.3 ticket comes after it and s_client, its
	 * stdin at EOF, may leave before reading it (TLS 1.3 resumption with
	 * Python's client is in the next test). */
	assert_int_equal(sh(out, sizeof(out),
			    "timeout 30 openssl s_client -connect 127.0.0.1:%d -CAfile %s -tls1_2 "
			    "-servername other.test -verify_return_error -sess_out %s </dev/null",
			    port, P("ca.pem"), sess),
			 0);
	assert_true(has(out, "New, TLSv1.2"));
	assert_int_equal(sh(out, sizeof(out),
			    "timeout 30 openssl s_client -connect 127.0.0.1:%d -CAfile %s -tls1_2 "
			    "-servername other.test -verify_return_error -sess_in %s </dev/null",
			    port, P("ca.pem"), sess),
			 0);
	assert_true(has(out, "Reused, TLSv1.2"));
	assert_true(has(out, "subject=CN = other.test"));

	/* Pinned TLS 1.2 with the ECDSA cipher the perf comparison uses. */
	assert_int_equal(sh(out, sizeof(out),
			    "timeout 30 openssl s_client -connect 127.0.0.1:%d -CAfile %s "
			    "-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 -verify_return_error "
			    "</dev/null",
			    port, P("ca.pem")),
			 0);
	assert_true(has(out, "Cipher is ECDHE-ECDSA-AES128-GCM-SHA256"));

	/* Renegotiation is refused (TLS 1.2: "R" asks for it); the server
	 * goes on serving the next client. */
	sh(out, sizeof(out),
	   "(echo R; sleep 1) | timeout 30 openssl s_client -connect 127.0.0.1:%d -CAfile %s "
	   "-tls1_2 -verify_return_error",
	   port, P("ca.pem"));
	assert_true(has(out, "RENEGOTIATING"));
	assert_true(strstr(out, "no renegotiation") || strstr(out, "alert") ||
		    strstr(out, "errno"));
	assert_int_equal(sh(out, sizeof(out),
			    "timeout 30 openssl s_client -connect 127.0.0.1:%d -CAfile %s "
			    "-verify_return_error </dev/null",
			    port, P("ca.pem")),
			 0);
	assert_int_equal(server_stop(pid), 0);
}

/* ---- curl against the HTTPS http_server ---- */

static void test_tls_peers_curl_fetches_from_https_http_server(void **state)
{
	NEED("curl");
	int port = free_port();
	const char *args[] = {"--tls-cert", P("server.pem"), "--tls-key", P("server.key"), NULL};
	pid_t pid = server_start("examples/http_server", args, port, true);
	static char out[8192];
	/* Two requests, one connection (keep-alive over TLS). */
	assert_int_equal(sh(out, sizeof(out),
			    "timeout 30 curl -sS --cacert %s https://localhost:%d/ "
			    "https://localhost:%d/ -w '|%%{http_code} %%{num_connects} "
			    "%%{ssl_verify_result}|'",
			    P("ca.pem"), port, port),
			 0);
	assert_int_equal(count(out, "Hello, World!"), 2);
	assert_true(has(out, "|200 1 0|"));
	assert_true(has(out, "|200 0 0|"));
	/* By IP address (checked against the certificate's IP entry). */
	assert_int_equal(sh(out, sizeof(out),
			    "timeout 30 curl -sS --cacert %s https://127.0.0.1:%d/ -w '|%%{http_code}|'",
			    P("ca.pem"), port),
			 0);
	assert_true(has(out, "|200|"));
	/* Without the test CA, curl refuses the server (and the server lives
	 * on: the next fetch works). */
	assert_int_equal(sh(out, sizeof(out), "timeout 30 curl -sS https://localhost:%d/", port),
			 60);
	/* Plain HTTP on the HTTPS port: that connection fails alone. */
	sh(out, sizeof(out), "timeout 30 curl -sS http://localhost:%d/", port);
	assert_null(strstr(out, "Hello, World!"));
	assert_int_equal(sh(out, sizeof(out),
			    "timeout 30 curl -sS --cacert %s https://localhost:%d/ -w '|%%{http_code}|'",
			    P("ca.pem"), port),
			 0);
	assert_true(has(out, "|200|"));
	assert_int_equal(server_stop(pid), 0);
}

/* ---- Python as the client ---- */

static void test_tls_peers_python_client_echoes_resumes_and_sends_client_certs(void **state)
{
	NEED("python3");
	int port = free_port();
	pid_t pid = start_tls_echo(port, "--alpn h2 --alpn http/1.1", NULL, NULL);
	static char out[4096];
	int lines = under_valgrind() ? 20 : 2000;
	assert_int_equal(sh(out, sizeof(out),
			    "timeout 60 python3 tests/tls_peer.py client %d %s localhost %d "
			    "--alpn http/1.1",
			    port, P("ca.pem"), lines),
			 0);
	char want[64];
	snprintf(want, sizeof(want), "ok %d alpn=http/1.1 version=TLSv1.3", lines);
	assert_true(has(out, want));
	/* Python checks the name too. */
	assert_int_equal(sh(out, sizeof(out),
			    "timeout 60 python3 tests/tls_peer.py client %d %s wrong.test 1", port,
			    P("ca.pem")),
			 1);
	assert_true(has(out, "Hostname mismatch"));
	/* TLS 1.3 resumption: the second connection offers the first one's
	 * ticket and the server takes it. */
	assert_int_equal(sh(out, sizeof(out),
			    "timeout 60 python3 tests/tls_peer.py resume %d %s localhost", port,
			    P("ca.pem")),
			 0);
	assert_true(has(out, "reused=False reused=True"));
	assert_int_equal(server_stop(pid), 0);

	/* A server that requires client certificates. */
	port = free_port();
	char ca[256];
	snprintf(ca, sizeof(ca), "--ca %s --require-client-cert", P("ca.pem"));
	pid = start_tls_echo(port, ca, NULL, NULL);
	assert_int_equal(sh(out, sizeof(out),
			    "timeout 60 python3 tests/tls_peer.py client %d %s localhost 3 "
			    "--cert %s --key %s",
			    port, P("ca.pem"), P("client.pem"), P("client.key")),
			 0);
	assert_true(has(out, "ok 3 "));
	/* Without one: TLS 1.3 completes the client's side first, so the
	 * refusal shows at its first read. A blocking ssl socket reports the
	 * alert ("certificate required") every time; asyncio's streams,
	 * getting the alert and the EOF together, sometimes report "Connection
	 * lost" instead (not a reset: the same happens against the alert
	 * alone). Either way: an error, no echo. */
	assert_int_equal(sh(out, sizeof(out),
			    "timeout 60 python3 tests/tls_peer.py client %d %s localhost 3", port,
			    P("ca.pem")),
			 1);
	assert_true(has(out, "error "));
	assert_null(strstr(out, "ok "));
	assert_int_equal(sh(out, sizeof(out),
			    "timeout 60 python3 tests/tls_peer.py blocking %d %s localhost", port,
			    P("ca.pem")),
			 1);
	assert_true(has(out, "CERTIFICATE_REQUIRED"));
	/* A certificate from another CA. */
	assert_int_equal(sh(out, sizeof(out),
			    "timeout 60 python3 tests/tls_peer.py client %d %s localhost 3 "
			    "--cert %s --key %s",
			    port, P("ca.pem"), P("rogueclient.pem"), P("rogueclient.key")),
			 1);
	assert_int_equal(server_stop(pid), 0);
}

/* ---- Python as the server, ringo the client ---- */

struct pyserver {
	pid_t pid;
	int out;   /* its stdout */
	int in;    /* its stdin (closing it stops it too) */
	int port;
};

static void pyserver_start(struct pyserver *ps, const char *cert, const char *key)
{
	int o[2], i[2];
	assert_int_equal(pipe(o), 0);
	assert_int_equal(pipe(i), 0);
	ps->pid = fork();
	assert_true(ps->pid >= 0);
	if (ps->pid == 0) {
		dup2(i[0], 0);
		dup2(o[1], 1);
		dup2(o[1], 2);
		execlp("timeout", "timeout", "120", "python3", "tests/tls_peer.py", "server", cert,
		       key, "--alpn", "h2", "--alpn", "http/1.1", (char *)NULL);
		_exit(127);
	}
	close(o[1]);
	close(i[0]);
	ps->out = o[0];
	ps->in = i[1];
	char line[64] = "";
	size_t len = 0;
	while (len + 1 < sizeof(line) && !strchr(line, '\n')) {
		ssize_t n = read(ps->out, line + len, 1);
		if (n <= 0)
			break;
		len += (size_t)n;
		line[len] = '\0';
	}
	assert_int_equal(sscanf(line, "port %d", &ps->port), 1);
}

/* Stop it; what it printed after the port line. */
static void pyserver_stop(struct pyserver *ps, char *out, size_t cap)
{
	close(ps->in);
	kill(ps->pid, SIGTERM);
	size_t len = 0;
	ssize_t n;
	while (len + 1 < cap && (n = read(ps->out, out + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(ps->out);
	int st;
	waitpid(ps->pid, &st, 0);
}

struct pyclient {
	int port;
	const char *name;
	ringo_tls_config *cfg;
	int rc;
	char err[200];
	char alpn[32];
	bool reused;
};

static int pyclient_body(void *arg, void **result)
{
	struct pyclient *pc = arg;
	ringo_stream *raw, *s;
	assert_int_equal(ringo_stream_connect("127.0.0.1", pc->port, RINGO_SEC(10), NULL, &raw), 0);
	pc->rc = ringo_tls_client(raw, pc->cfg, pc->name, &s);
	snprintf(pc->err, sizeof(pc->err), "%s", ringo_tls_last_error());
	if (pc->rc < 0) {
		ringo_stream_free(raw);
		return 0;
	}
	snprintf(pc->alpn, sizeof(pc->alpn), "%s", ringo_tls_alpn(s) ? ringo_tls_alpn(s) : "");
	pc->reused = ringo_tls_session_reused(s);
	/* 64 KiB through the echo in lines. */
	char line[64], back[64];
	for (int i = 0; i < 1024; i++) {
		int n = snprintf(line, sizeof(line), "ringo line %d to python\n", i);
		assert_int_equal(ringo_stream_write(s, line, (size_t)n), 0);
		assert_int_equal(ringo_stream_readline(s, back, sizeof(back)), n);
		assert_memory_equal(back, line, (size_t)n);
	}
	/* Half-close: Python sees EOF, closes, and so does the stream. */
	assert_int_equal(ringo_stream_write_eof(s), 0);
	assert_int_equal(ringo_stream_read(s, back, sizeof(back)), 0);
	close_free(s);
	return 0;
}

static void test_tls_peers_ringo_client_against_python_server(void **state)
{
	NEED("python3");
	struct pyserver ps;
	pyserver_start(&ps, P("server.pem"), P("server.key"));
	static const char *const alpn[] = {"http/1.1", "h2"};
	ringo_tls_options o = {.alpn = alpn, .nalpn = 2};
	ringo_tls_config *cfg = client_config(&o);
	struct pyclient pc = {.port = ps.port, .name = "localhost", .cfg = cfg};
	assert_int_equal(fx_run_task(pyclient_body, &pc), 0);
	if (pc.rc)
		fprintf(stderr, "handshake: %d %s\n", pc.rc, pc.err);
	assert_int_equal(pc.rc, 0);
	assert_string_equal(pc.alpn, "h2"); /* Python's preference */
	assert_false(pc.reused);
	/* The second connection offers the session Python's ticket gave. */
	pc = (struct pyclient){.port = ps.port, .name = "localhost", .cfg = cfg};
	assert_int_equal(fx_run_task(pyclient_body, &pc), 0);
	assert_int_equal(pc.rc, 0);
	assert_true(pc.reused);
	/* A name the certificate does not carry. */
	pc = (struct pyclient){.port = ps.port, .name = "other.test", .cfg = cfg};
	assert_int_equal(fx_run_task(pyclient_body, &pc), 0);
	assert_int_equal(pc.rc, -EKEYREJECTED);
	assert_non_null(strstr(pc.err, "hostname mismatch"));
	ringo_tls_config_release(cfg);
	static char out[4096];
	pyserver_stop(&ps, out, sizeof(out));
	assert_true(has(out, "conn alpn=h2 version=TLSv1.3 sni=localhost reused=False"));
	assert_true(has(out, "conn alpn=h2 version=TLSv1.3 sni=localhost reused=True"));
}

static int teardown(void **state)
{
	server_kill_leftover();
	return fx_teardown(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, teardown)

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		T(test_tls_peers_s_client_verifies_picks_sni_alpn_and_resumes),
		T(test_tls_peers_curl_fetches_from_https_http_server),
		T(test_tls_peers_python_client_echoes_resumes_and_sends_client_certs),
		T(test_tls_peers_ringo_client_against_python_server),
	};
	if (getenv("RINGO_TEST_FILTER")) /* one test by name (cmocka's * and ? work) */
		cmocka_set_test_filter(getenv("RINGO_TEST_FILTER"));
	return cmocka_run_group_tests(tests, tls_ca_setup, tls_ca_teardown);
}
