/* examples/http_server as a real program (under valgrind in `make
 * valgrind`), serving a temporary root that holds files, a directory, a
 * FIFO, and symlinks inside and out of it. Every answer here was compared
 * with nginx 1.22 on the same requests (see the report of issue 9). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "servers.h"
#include "support.h"

static char g_root[64];    /* the document root */
static char g_outside[64]; /* a directory beside it, never to be served */
#define SECRET "TOP SECRET, never served\n"
#define NUMS_SIZE 3893     /* "1\n2\n...1000\n" */

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void make_root(void)
{
	char path[256], target[256];
	snprintf(g_root, sizeof(g_root), "/tmp/ringo-http-XXXXXX");
	snprintf(g_outside, sizeof(g_outside), "/tmp/ringo-out-XXXXXX");
	assert_non_null(mkdtemp(g_root));
	assert_non_null(mkdtemp(g_outside));
	write_file(g_outside, "secret.txt", SECRET);
	write_file(g_root, "hello.txt", "file body\n");
	snprintf(path, sizeof(path), "%s/nums.txt", g_root);
	FILE *f = fopen(path, "w");
	for (int i = 1; i <= 1000; i++)
		fprintf(f, "%d\n", i);
	fclose(f);
	snprintf(path, sizeof(path), "%s/a", g_root);
	assert_int_equal(mkdir(path, 0755), 0);
	write_file(g_root, "a/inner.txt", "inner\n");
	snprintf(path, sizeof(path), "%s/fifo", g_root);
	assert_int_equal(mkfifo(path, 0644), 0);
	snprintf(path, sizeof(path), "%s/link-out", g_root);
	snprintf(target, sizeof(target), "%s/secret.txt", g_outside);
	assert_int_equal(symlink(target, path), 0);
	snprintf(path, sizeof(path), "%s/link-up", g_root);
	snprintf(target, sizeof(target), "../%s/secret.txt", g_outside + 5);
	assert_int_equal(symlink(target, path), 0);
	snprintf(path, sizeof(path), "%s/link-dir-out", g_root);
	assert_int_equal(symlink(g_outside, path), 0);
	snprintf(path, sizeof(path), "%s/link-in", g_root);
	assert_int_equal(symlink("hello.txt", path), 0);
	snprintf(path, sizeof(path), "%s/link-proc", g_root);
	assert_int_equal(symlink("/proc/self/root/etc/passwd", path), 0);
}

static void remove_root(void)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", g_root, g_outside);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	make_root();
	return 0;
}

static int teardown(void **state)
{
	server_kill_leftover();
	remove_root();
	return 0;
}

/* http_server --root ROOT --timeout-ms 300 args... on a free port. */
static pid_t start_http(int *port, const char *const *args)
{
	const char *argv[16] = {"--root", g_root, "--timeout-ms", "300"};
	int n = 4;
	for (int i = 0; args && args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	*port = free_port();
	return server_start("examples/http_server", argv, *port, true);
}

static void stop_http(pid_t pid)
{
	assert_int_equal(server_stop(pid), 0);
}

/* ---- a keep-alive client: one response at a time ---- */

struct client {
	int fd;
	char buf[1 << 16];
	size_t len;
};

static void client_open(struct client *c, int port)
{
	c->fd = connect_port(port);
	c->len = 0;
}

static void client_send(struct client *c, const char *req, size_t len)
{
	assert_int_equal(send(c->fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* A string literal, its NUL left out. */
#define SEND(c, literal) client_send(c, literal, sizeof(literal) - 1)

/* The next response, head and body (none for HEAD and 1xx), copied to
 * out NUL-terminated. Returns its status, or -1 if the connection ended
 * (or 10 s passed) before a whole response came. */
static int next_response(struct client *c, bool head_only, char *out, size_t cap)
{
	for (;;) {
		char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
		if (end) {
			size_t head = (size_t)(end + 4 - c->buf), body = 0;
			int status = atoi(c->buf + 9);
			const char *cl = memmem(c->buf, head, "Content-Length: ", 16);
			if (cl && !head_only && status >= 200)
				body = (size_t)atol(cl + 16);
			if (c->len >= head + body) {
				size_t n = head + body < cap ? head + body : cap - 1;
				memcpy(out, c->buf, n);
				out[n] = '\0';
				memmove(c->buf, c->buf + head + body, c->len - head - body);
				c->len -= head + body;
				return status;
			}
		}
		assert_true(c->len < sizeof(c->buf));
		ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (r <= 0)
			return -1;
		c->len += (size_t)r;
	}
}

/* After the last response: the server closes, nothing else comes. */
static void expect_eof(struct client *c)
{
	assert_int_equal(c->len, 0);
	char b;
	assert_int_equal(recv(c->fd, &b, 1, 0), 0);
}

static const char *body_of(const char *resp)
{
	const char *p = strstr(resp, "\r\n\r\n");
	return p ? p + 4 : "";
}

/* Status of the answer to one request on its own connection. */
static int status_of(int port, const char *req, char *out, size_t cap)
{
	size_t n = exchange(port, req, strlen(req), out, cap);
	return n > 12 && !strncmp(out, "HTTP/1.1 ", 9) ? atoi(out + 9) : -1;
}

/* ---- the basics, as before ---- */

static void test_http_keep_alive_pipelined_requests(void **state)
{
	int port;
	pid_t pid = start_http(&port, NULL);
	static char out[65536];
	const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
			   "HEAD / HTTP/1.1\r\n\r\n";
	exchange(port, req, sizeof(req) - 1, out, sizeof(out));
	assert_int_equal(count(out, "HTTP/1.1 200 OK"), 3);
	assert_int_equal(count(out, "Hello, World!"), 2);
	assert_int_equal(count(out, "Connection: keep-alive"), 3);
	stop_http(pid);
}

static void test_http_metrics_answers_the_loops_statistics_as_prometheus_text(void **state)
{
	int port;
	pid_t pid = start_http(&port, NULL);
	static char out[65536];
	const char req[] = "GET / HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n"
			   "HEAD /metrics HTTP/1.1\r\nConnection: close\r\n\r\n";
	exchange(port, req, sizeof(req) - 1, out, sizeof(out));
	assert_int_equal(count(out, "HTTP/1.1 200 OK"), 3);
	assert_int_equal(count(out, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), 2);
	/* GET has the text once; HEAD only the head */
	assert_int_equal(count(out, "# TYPE ringo_server_connections_total counter\n"), 1);
	const char *conns = strstr(out, "\nringo_server_connections_total ");
	assert_non_null(conns);
	assert_true(atoi(conns + strlen("\nringo_server_connections_total ")) >= 1);
	const char *bytes = strstr(out, "\nringo_stream_read_bytes_total ");
	assert_non_null(bytes); /* at least the two requests before it */
	assert_true(atoi(bytes + strlen("\nringo_stream_read_bytes_total ")) >= 20);
	stop_http(pid);
}

static void test_http_malformed_request_gets_400_and_server_keeps_serving(void **state)
{
	int port;
	pid_t pid = start_http(&port, NULL);
	static char out[65536];
	assert_int_equal(status_of(port, "this is not http\r\n\r\n", out, sizeof(out)), 400);
	assert_non_null(strstr(out, "Connection: close"));
	assert_int_equal(status_of(port, "GET / HTTP/1.1\r\nno colon here\r\n\r\n", out, sizeof(out)), 400);
	assert_int_equal(status_of(port, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", out, sizeof(out)), 200);
	assert_string_equal(body_of(out), "Hello, World!\n");
	stop_http(pid);
}

static void test_http_head_and_body_limits(void **state)
{
	int port;
	pid_t pid = start_http(&port, NULL);
	static char out[65536], big[12000];
	/* A head over 8 KiB: 431. */
	int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX-Big: ");
	memset(big + n, 'a', 10000);
	memcpy(big + n + 10000, "\r\n\r\n", 5);
	assert_int_equal(status_of(port, big, out, sizeof(out)), 431);
	/* A body over 1 MiB: 413, before any of it is read. */
	assert_int_equal(status_of(port, "POST /echo HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", out,
				   sizeof(out)), 413);
	stop_http(pid);
}

static void test_http_slow_client_times_out(void **state)
{
	int port;
	pid_t pid = start_http(&port, NULL); /* --timeout-ms 300 */
	int fd = connect_port(port);
	const char part[] = "GET / HTTP/1.1\r\nHost: x\r\n";
	assert_int_equal(send(fd, part, sizeof(part) - 1, 0), (ssize_t)(sizeof(part) - 1));
	char buf[64];
	/* The server drops us (EOF), it does not wait forever. */
	ssize_t r;
	do
		r = recv(fd, buf, sizeof(buf), 0);
	while (r < 0 && errno == EINTR);
	if (r != 0)
		fail_msg("recv: %zd %s", r, strerror(errno));
	close(fd);
	/* Others are still served. */
	static char out[4096];
	assert_int_equal(status_of(port, "GET / HTTP/1.1\r\n\r\n", out, sizeof(out)), 200);
	stop_http(pid);
}

/* ---- A1: nothing outside the root, in any spelling ---- */

static void expect_never_served(int port, const char *target)
{
	static char req[512], out[65536];
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target);
	int status = status_of(port, req, out, sizeof(out));
	if (status != 400 && status != 404)
		fail_msg("%s: status %d", target, status);
	if (strstr(out, "root:") || strstr(out, "TOP SECRET"))
		fail_msg("%s: served a file outside the root", target);
}

static void check_traversals(int port)
{
	char abs[160];
	const char *targets[] = {
		"//etc/passwd", "/../etc/passwd", "/%2e%2e/etc/passwd", "/%2E%2E/etc/passwd",
		"/..%2fetc/passwd", "/%2e%2e%2fetc%2fpasswd", "/a/../../etc/passwd",
		"/a/%2e%2e/%2e%2e/etc/passwd", "/%2f%2fetc%2fpasswd", "/%2fetc/passwd",
		"/./../etc/passwd", "/hello.txt/../../etc/passwd", "/etc/passwd",
		"http://x//etc/passwd", "http://x/../etc/passwd", "/link-out", "/link-up",
		"/link-dir-out/secret.txt", "/link-proc", "/hello.txt%00", "/hello.txt%00.html",
		"/%00/etc/passwd", "/..", "/..%00/etc/passwd", "/.%2e/etc/passwd",
	};
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
		expect_never_served(port, targets[i]);
	/* The outside file by its absolute path, after a second slash. */
	snprintf(abs, sizeof(abs), "/%s/secret.txt", g_outside);
	expect_never_served(port, abs);
	snprintf(abs, sizeof(abs), "/..%s/secret.txt", g_outside);
	expect_never_served(port, abs);
}

static void test_http_never_serves_outside_the_root(void **state)
{
	int port;
	pid_t pid = start_http(&port, NULL);
	check_traversals(port);
	stop_http(pid);
}

/* The same without openat2: the component walk, as on Linux < 5.6. */
static void test_http_never_serves_outside_the_root_without_openat2(void **state)
{
	int port;
	const char *args[] = {"--resolve-fallback", NULL};
	pid_t pid = start_http(&port, args);
	check_traversals(port);
	stop_http(pid);
}

/* What is inside the root is still served: files, subdirectories, "."
 * and ".." that stay inside; a link inside to inside with openat2 (the
 * fallback refuses every link); never a FIFO (whose open would block) or
 * a directory. */
static void check_inside(int port, bool links)
{
	static char out[65536];
	const struct {
		const char *target;
		int status;
		const char *body;
	} cases[] = {
		{"/hello.txt", 200, "file body\n"},
		{"/a/inner.txt", 200, "inner\n"},
		{"/a/../hello.txt", 200, "file body\n"},
		{"/./a/./inner.txt", 200, "inner\n"},
		{"/a//inner.txt", 200, "inner\n"},
		{"/%61/inner%2etxt", 200, "inner\n"},
		{"/a%2finner.txt", 200, "inner\n"},
		{"/link-in", links ? 200 : 404, links ? "file body\n" : NULL},
		{"/fifo", 404, NULL},
		{"/a", 404, NULL},
		{"/missing", 404, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char req[256];
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n\r\n", cases[i].target);
		int status = status_of(port, req, out, sizeof(out));
		if (status != cases[i].status)
			fail_msg("%s: status %d, want %d", cases[i].target, status, cases[i].status);
		if (cases[i].body)
			assert_string_equal(body_of(out), cases[i].body);
	}
}

static void test_http_serves_what_is_inside_the_root(void **state)
{
	int port;
	pid_t pid = start_http(&port, NULL);
	check_inside(port, true);
	stop_http(pid);
	const char *args[] = {"--resolve-fallback", NULL};
	pid = start_http(&port, args);
	check_inside(port, false);
	stop_http(pid);
}

/* ---- B: odd input, as nginx ---- */

static void test_http_control_bytes_in_headers_get_400(void **state)
{
	int port;
	pid_t pid = start_http(&port, NULL);
	static char out[4096];
	const char *reqs[] = {"GET / HTTP/1.1\r\nX: a\001b\r\n\r\n", "GET / HTTP/1.1\r\nX: a\177\r\n\r\n",
			      "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", "GET / HTTP/1.1\r\nX: \033[31m\r\n\r\n"};
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		assert_int_equal(status_of(port, reqs[i], out, sizeof(out)), 400);
	const char nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
	exchange(port, nul, sizeof(nul) - 1, out, sizeof(out));
	assert_int_equal(strncmp(out, "HTTP/1.1 400 ", 13), 0);
	stop_http(pid);
}

/* The response must go out although bytes of a next request (here a
 * stray CRLF) are already buffered: it used to wait for them to become a
 * request, until the timeout. The connection then serves the next one. */
static void test_http_response_is_not_held_back_by_bytes_after_the_request(void **state)
{
	int port;
	const char *args[] = {"--timeout-ms", "10000", NULL};
	pid_t pid = start_http(&port, args);
	static char out[4096];
	struct client c;
	client_open(&c, port);
	SEND(&c, "GET / HTTP/1.1\r\n\r\n\r\n");
	assert_int_equal(next_response(&c, false, out, sizeof(out)), 200);
	SEND(&c, "GET /hello.txt HTTP/1.1\r\n\r\n");
	assert_int_equal(next_response(&c, false, out, sizeof(out)), 200);
	assert_string_equal(body_of(out), "file body\n");
	close(c.fd);
	stop_http(pid);
}

/* Bare LF line ends (as nginx takes them), and empty lines before a
 * request line (RFC 9112 2.2). */
static void test_http_bare_lf_and_leading_empty_lines_are_accepted(void **state)
{
	int port;
	const char *args[] = {"--timeout-ms", "10000", NULL};
	pid_t pid = start_http(&port, args);
	static char out[4096];
	struct client c;
	client_open(&c, port);
	SEND(&c, "GET / HTTP/1.1\n\n");
	assert_int_equal(next_response(&c, false, out, sizeof(out)), 200);
	SEND(&c, "GET /hello.txt HTTP/1.1\nHost: x\n\n");
	assert_int_equal(next_response(&c, false, out, sizeof(out)), 200);
	assert_string_equal(body_of(out), "file body\n");
	SEND(&c, "\r\n\r\n\nGET /a/inner.txt HTTP/1.1\r\nConnection: close\r\n\r\n");
	assert_int_equal(next_response(&c, false, out, sizeof(out)), 200);
	assert_string_equal(body_of(out), "inner\n");
	expect_eof(&c);
	close(c.fd);
	stop_http(pid);
}

/* HEAD of a file: its headers, no body; no answer to HEAD carries a body
 * (a 404 with one would be read as the next response). */
static void test_http_head_is_headers_only(void **state)
{
	int port;
	pid_t pid = start_http(&port, NULL);
	static char out[4096];
	struct client c;
	client_open(&c, port);
	const char req[] = "HEAD /hello.txt HTTP/1.1\r\n\r\nHEAD /missing HTTP/1.1\r\n\r\n"
			   "HEAD / HTTP/1.1\r\n\r\nHEAD /nums.txt HTTP/1.1\r\nRange: bytes=0-1\r\n\r\n"
			   "GET /hello.txt HTTP/1.1\r\nConnection: close\r\n\r\n";
	client_send(&c, req, sizeof(req) - 1);
	assert_int_equal(next_response(&c, true, out, sizeof(out)), 200);
	assert_non_null(strstr(out, "Content-Length: 10\r\n"));
	assert_non_null(strstr(out, "Accept-Ranges: bytes\r\n"));
	assert_int_equal(next_response(&c, true, out, sizeof(out)), 404);
	assert_int_equal(next_response(&c, true, out, sizeof(out)), 200);
	assert_non_null(strstr(out, "Content-Length: 14\r\n"));
	assert_int_equal(next_response(&c, true, out, sizeof(out)), 206);
	assert_non_null(strstr(out, "Content-Range: bytes 0-1/3893\r\n"));
	assert_int_equal(next_response(&c, false, out, sizeof(out)), 200);
	assert_string_equal(body_of(out), "file body\n");
	expect_eof(&c); /* not a byte more: no body after any HEAD */
	close(c.fd);
	stop_http(pid);
}

static void test_http_long_targets_get_414(void **state)
{
	int port;
	pid_t pid = start_http(&port, NULL);
	static char req[12000], out[4096];
	const size_t lens[] = {1023, 1024, 6000, 9500};
	for (size_t i = 0; i < 4; i++) {
		int n = snprintf(req, sizeof(req), "GET /");
		memset(req + n, 'a', lens[i] - 1);
		n += (int)lens[i] - 1;
		snprintf(req + n, sizeof(req) - (size_t)n, " HTTP/1.1\r\n\r\n");
		int status = status_of(port, req, out, sizeof(out));
		assert_int_equal(status, lens[i] <= 1023 ? 404 : 414);
	}
	stop_http(pid);
}

static void test_http_query_is_dropped_and_escapes_decoded(void **state)
{
	int port;
	pid_t pid = start_http(&port, NULL);
	static char out[4096];
	assert_int_equal(status_of(port, "GET /hello%2etxt?x=1&y=../.. HTTP/1.1\r\n\r\n", out, sizeof(out)), 200);
	assert_string_equal(body_of(out), "file body\n");
	assert_int_equal(status_of(port, "GET /hello.txt? HTTP/1.1\r\n\r\n", out, sizeof(out)), 200);
	assert_int_equal(status_of(port, "GET /?q HTTP/1.1\r\n\r\n", out, sizeof(out)), 200);
	assert_string_equal(body_of(out), "Hello, World!\n");
	assert_int_equal(status_of(port, "GET /%zz HTTP/1.1\r\n\r\n", out, sizeof(out)), 400);
	assert_int_equal(status_of(port, "GET /hello.txt%2 HTTP/1.1\r\n\r\n", out, sizeof(out)), 400);
	stop_http(pid);
}

/* Expect: 100-continue gets "100 Continue" before the body is read (the
 * client waits for it; curl gives up after 1 s and sends anyway). */
static void test_http_expect_100_continue(void **state)
{
	int port;
	pid_t pid = start_http(&port, NULL);
	static char out[4096];
	struct client c;
	client_open(&c, port);
	SEND(&c, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
	assert_int_equal(next_response(&c, false, out, sizeof(out)), 100);
	assert_string_equal(out, "HTTP/1.1 100 Continue\r\n\r\n");
	SEND(&c, "hello");
	assert_int_equal(next_response(&c, false, out, sizeof(out)), 200);
	assert_string_equal(body_of(out), "hello");
	/* Too large: 413 at once, no 100, the body never read. */
	SEND(&c, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 9999999\r\n\r\n");
	assert_int_equal(next_response(&c, false, out, sizeof(out)), 413);
	expect_eof(&c);
	close(c.fd);
	stop_http(pid);
}

static void test_http_chunked_request_bodies(void **state)
{
	int port;
	pid_t pid = start_http(&port, NULL);
	static char out[65536];
	struct client c;
	client_open(&c, port);
	/* In pieces, with an extension and a trailer, then a request after. */
	const char *parts[] = {"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r",
			       "\nhel", "lo\r\n6;name=value\r\n wor", "ld\r\n0\r\nX-Trailer: 1\r\n\r\n",
			       "GET /hello.txt HTTP/1.1\r\n\r\n"};
	for (size_t i = 0; i < 5; i++)
		client_send(&c, parts[i], strlen(parts[i]));
	assert_int_equal(next_response(&c, false, out, sizeof(out)), 200);
	assert_string_equal(body_of(out), "hello world");
	assert_int_equal(next_response(&c, false, out, sizeof(out)), 200);
	assert_string_equal(body_of(out), "file body\n");
	/* A chunked body is decoded (and dropped) for any request. */
	SEND(&c, "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
	assert_int_equal(next_response(&c, false, out, sizeof(out)), 405);
	assert_non_null(strstr(out, "Allow: GET, HEAD\r\n"));
	/* Over 1 MiB in all: 413. */
	SEND(&c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n");
	assert_int_equal(next_response(&c, false, out, sizeof(out)), 413);
	expect_eof(&c);
	close(c.fd);
	/* Both framings: 400 (request smuggling); an unknown coding: 501. */
	assert_int_equal(status_of(port, "POST /echo HTTP/1.1\r\nContent-Length: 5\r\n"
					 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", out, sizeof(out)), 400);
	assert_int_equal(status_of(port, "POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", out,
				   sizeof(out)), 501);
	assert_int_equal(status_of(port, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
				   out, sizeof(out)), 400);
	stop_http(pid);
}

static void test_http_single_byte_ranges(void **state)
{
	int port;
	pid_t pid = start_http(&port, NULL);
	static char out[65536];
	const struct {
		const char *range;
		int status;
		const char *content_range, *body;
	} cases[] = {
		{"bytes=0-9", 206, "bytes 0-9/3893", "1\n2\n3\n4\n5\n"},
		{"bytes=3888-", 206, "bytes 3888-3892/3893", "1000\n"},
		{"bytes=-5", 206, "bytes 3888-3892/3893", "1000\n"},
		{"bytes=3890-99999", 206, "bytes 3890-3892/3893", "00\n"},
		{"bytes=3893-", 416, "bytes */3893", NULL},
		{"bytes=5-2", 416, "bytes */3893", NULL},
		{"bytes=-0", 416, "bytes */3893", NULL},
		{"bytes=x", 416, "bytes */3893", NULL},
		{"bytes=0-1,5-6", 200, NULL, NULL},
		{"items=0-1", 200, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char req[256], want[64];
		snprintf(req, sizeof(req), "GET /nums.txt HTTP/1.1\r\nRange: %s\r\n\r\n", cases[i].range);
		assert_int_equal(status_of(port, req, out, sizeof(out)), cases[i].status);
		if (cases[i].content_range) {
			snprintf(want, sizeof(want), "\r\nContent-Range: %s\r\n", cases[i].content_range);
			assert_non_null(strstr(out, want));
		} else {
			assert_null(strstr(out, "Content-Range"));
			assert_int_equal(strlen(body_of(out)), NUMS_SIZE);
		}
		if (cases[i].body)
			assert_string_equal(body_of(out), cases[i].body);
		if (cases[i].status != 416)
			assert_non_null(strstr(out, "\r\nAccept-Ranges: bytes\r\n"));
	}
	stop_http(pid);
}

/* ---- timeouts on bodies and on sending ---- */

/* A client that stops in the middle of a body is dropped after
 * --body-timeout-ms (the head timeout is long here: only this one can). */
static void test_http_body_timeout_drops_a_stalled_upload(void **state)
{
	int port;
	const char *args[] = {"--timeout-ms", "600000", "--body-timeout-ms", "300", NULL};
	pid_t pid = start_http(&port, args);
	int fd = connect_port(port);
	const char req[] = "POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc";
	assert_int_equal(send(fd, req, sizeof(req) - 1, 0), (ssize_t)sizeof(req) - 1);
	char b;
	ssize_t r;
	do
		r = recv(fd, &b, 1, 0);
	while (r < 0 && errno == EINTR);
	if (r != 0)
		fail_msg("recv: %zd %s (not dropped)", r, strerror(errno));
	close(fd);
	stop_http(pid);
}

/* A client that never reads its response is dropped after
 * --send-timeout-ms: the server's connection (and file) descriptors go,
 * and the client gets less than the file, then the end. */
static void test_http_send_timeout_drops_a_client_that_never_reads(void **state)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/big.bin", g_root);
	int file = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	off_t size = 64 << 20;
	assert_int_equal(ftruncate(file, size), 0); /* sparse: no disk used */
	close(file);
	int port;
	const char *args[] = {"--timeout-ms", "600000", "--send-timeout-ms", "300", NULL};
	pid_t pid = start_http(&port, args);
	/* Once it has served a request it is fully started (its signalfd
	 * comes after the listening socket): count its descriptors then. */
	static char out[4096];
	assert_int_equal(status_of(port, "GET / HTTP/1.1\r\n\r\n", out, sizeof(out)), 200);
	int base = count_fds(pid);
	/* A small receive window, so the server's sends stall soon. */
	struct client c;
	c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int small = 4096;
	setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(0x7f000001)};
	assert_int_equal(connect(c.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	SEND(&c, "GET /big.bin HTTP/1.1\r\n\r\n");
	/* Wait (bounded) for the server to let go of the connection. */
	int i = 0;
	while (count_fds(pid) <= base && i++ < 500)
		usleep(10000); /* first it accepts and opens the file */
	while (count_fds(pid) > base && i++ < 6000)
		usleep(10000);
	if (count_fds(pid) > base)
		fail_msg("the server still holds %d descriptors more", count_fds(pid) - base);
	size_t total = 0;
	for (;;) {
		ssize_t r = recv(c.fd, c.buf, sizeof(c.buf), 0);
		if (r <= 0) {
			assert_true(r == 0 || errno == ECONNRESET);
			break;
		}
		total += (size_t)r;
	}
	assert_true(total < (size_t)size);
	close(c.fd);
	stop_http(pid);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_http_keep_alive_pipelined_requests),
		T(test_http_metrics_answers_the_loops_statistics_as_prometheus_text),
		T(test_http_malformed_request_gets_400_and_server_keeps_serving),
		T(test_http_head_and_body_limits),
		T(test_http_slow_client_times_out),
		T(test_http_never_serves_outside_the_root),
		T(test_http_never_serves_outside_the_root_without_openat2),
		T(test_http_serves_what_is_inside_the_root),
		T(test_http_control_bytes_in_headers_get_400),
		T(test_http_response_is_not_held_back_by_bytes_after_the_request),
		T(test_http_bare_lf_and_leading_empty_lines_are_accepted),
		T(test_http_head_is_headers_only),
		T(test_http_long_targets_get_414),
		T(test_http_query_is_dropped_and_escapes_decoded),
		T(test_http_expect_100_continue),
		T(test_http_chunked_request_bodies),
		T(test_http_single_byte_ranges),
		T(test_http_body_timeout_drops_a_stalled_upload),
		T(test_http_send_timeout_drops_a_client_that_never_reads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
