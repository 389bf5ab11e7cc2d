/*
 * http_server: HTTP/1.1 with keep-alive, one task per connection.
 *
 *   http_server [--host ADDR] [--threads N] [--root DIR] [--timeout-ms MS] PORT
 *
 * GET / answers a small fixed text ("Hello, World!\n"); with --root, GET
 * /PATH serves that file from DIR (no "..", regular files only). Requests
 * whose head is malformed get 400 and the connection is closed; the server
 * goes on serving everyone else. Limits: the request head must fit in
 * 8 KiB (431 otherwise), a body at most 1 MiB (413). A client that takes
 * longer than the timeout (default 10 s) to send a request is dropped, by a
 * watchdog task per loop (see "request timeouts").
 * SIGINT/SIGTERM stop it cleanly; --threads N runs N loops on one
 * SO_REUSEPORT port.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ringo.h"
#include "serve.h"

#define HEAD_MAX 8192
#define BODY_MAX (1 << 20)
#define HELLO "Hello, World!\n"

struct server {
	int root_fd;       /* --root directory, -1 if none */
	int64_t timeout;   /* per request, ns */
};

static struct server g;
/* Where and how it listens (examples/serve.h). */
static struct serve srv = {.name = "http_server", .host = "127.0.0.1", .port = -1, .threads = 1};

struct request {
	const char *method;
	size_t method_len;
	const char *path;
	size_t path_len;
	int minor;         /* HTTP/1.minor */
	long content_length;
	bool close;        /* Connection: close (or HTTP/1.0 without keep-alive) */
};

/* ---- parsing ---- */

static bool header_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);
	return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

static const char *header_value(const char *line, size_t len, size_t *vlen)
{
	const char *v = memchr(line, ':', len) + 1;
	const char *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*vlen = (size_t)(end - v);
	return v;
}

static int parse_request_line(const char *p, size_t len, struct request *r)
{
	const char *sp1 = memchr(p, ' ', len);
	if (!sp1 || sp1 == p)
		return -1;
	const char *sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - p));
	if (!sp2 || sp2 == sp1 + 1)
		return -1;
	size_t vlen = len - (size_t)(sp2 + 1 - p);
	if (vlen != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) || (sp2[8] != '0' && sp2[8] != '1'))
		return -1;
	r->method = p;
	r->method_len = (size_t)(sp1 - p);
	r->path = sp1 + 1;
	r->path_len = (size_t)(sp2 - sp1 - 1);
	r->minor = sp2[8] - '0';
	r->close = r->minor == 0;
	if (r->path[0] != '/')
		return -1;
	return 0;
}

static int parse_header(const char *line, size_t len, struct request *r)
{
	if (!memchr(line, ':', len))
		return -1;
	size_t vlen;
	const char *v = header_value(line, len, &vlen);
	if (header_is(line, len, "Content-Length")) {
		if (vlen == 0 || vlen > 10)
			return -1;
		long n = 0;
		for (size_t i = 0; i < vlen; i++) {
			if (v[i] < '0' || v[i] > '9')
				return -1;
			n = n * 10 + (v[i] - '0');
		}
		r->content_length = n;
	} else if (header_is(line, len, "Transfer-Encoding")) {
		return -1; /* chunked bodies are not supported: 400 */
	} else if (header_is(line, len, "Connection")) {
		if (vlen == 5 && !strncasecmp(v, "close", 5))
			r->close = true;
		else if (vlen == 10 && !strncasecmp(v, "keep-alive", 10))
			r->close = false;
	}
	return 0;
}

/* Parse the head (request line + headers, ending in CRLFCRLF). */
static int parse_head(const char *p, size_t len, struct request *r)
{
	memset(r, 0, sizeof(*r));
	const char *end = p + len - 2; /* the final empty line's CRLF */
	const char *line = p;
	bool first = true;
	while (line < end) {
		const char *eol = memmem(line, (size_t)(end - line) + 2, "\r\n", 2);
		if (!eol)
			return -1;
		size_t n = (size_t)(eol - line);
		int rc = first ? parse_request_line(line, n, r) : parse_header(line, n, r);
		if (rc < 0)
			return rc;
		first = false;
		line = eol + 2;
	}
	return first ? -1 : 0;
}

/* ---- request timeouts ----
 *
 * A ringo deadline scope around each request's read would link a kernel
 * timeout to every recv: measured at about 0.5 us a request, 11% of this
 * server's CPU under wrk. Instead each loop runs one watchdog task that
 * wakes every WATCH_SLICES-th of the timeout and cancels the connections
 * that have been reading one request for longer than the timeout (nginx
 * keeps a timer per connection; this is the same, coarser): a client is
 * dropped between 1 and 1.25 timeouts after its request began, at the
 * cost of one store per request. Each loop has its own thread, hence the
 * thread-local list. */

#define WATCH_SLICES 4

struct conn {
	struct conn *prev, *next; /* the loop's watch list */
	ringo_task *task;         /* the connection's task, to cancel */
	uint64_t reading_since;   /* watch_tick when the request read began; 0: not reading */
};

static __thread struct conn watch_list; /* the sentinel */
static __thread uint64_t watch_tick = 1;

static void watch_add(struct conn *c)
{
	c->task = ringo_current_task();
	c->reading_since = 0;
	c->next = watch_list.next;
	c->prev = &watch_list;
	watch_list.next->prev = c;
	watch_list.next = c;
}

static void watch_remove(struct conn *c)
{
	c->prev->next = c->next;
	c->next->prev = c->prev;
}

/* Runs until cancelled (ringo_run cancels it at shutdown). Spawned first
 * on its loop, before any connection, so it sets up the list. */
static int watchdog(void *arg, void **result)
{
	watch_list.next = watch_list.prev = &watch_list;
	int64_t period = g.timeout / WATCH_SLICES;
	if (period < RINGO_MSEC(1))
		period = RINGO_MSEC(1);
	while (ringo_sleep(period) == 0) {
		watch_tick++;
		for (struct conn *c = watch_list.next; c != &watch_list; c = c->next) {
			if (c->reading_since && watch_tick - c->reading_since > WATCH_SLICES) {
				c->reading_since = 0;
				ringo_task_cancel(c->task, "request timeout");
			}
		}
	}
	return 0;
}

/* ---- responses ---- */

static void http_date(char *buf, size_t cap)
{
	static __thread time_t cached_at;
	static __thread char cached[64];
	time_t now = time(NULL);
	if (now != cached_at) {
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(cached, sizeof(cached), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		cached_at = now;
	}
	snprintf(buf, cap, "%s", cached);
}

static int send_head(ringo_stream *out, int status, const char *reason, const char *type,
		     long long length, bool close)
{
	char date[64], head[512];
	http_date(date, sizeof(date));
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nServer: ringo\r\nDate: %s\r\nContent-Type: %s\r\n"
			 "Content-Length: %lld\r\nConnection: %s\r\n\r\n",
			 status, reason, date, type, length, close ? "close" : "keep-alive");
	return ringo_stream_write(out, head, (size_t)n);
}

static int send_text(ringo_stream *out, int status, const char *reason, const char *body,
		     bool close)
{
	int err = send_head(out, status, reason, "text/plain", (long long)strlen(body), close);
	if (err == 0)
		err = ringo_stream_write(out, body, strlen(body));
	return err;
}

/* The hot path: the keep-alive "Hello" response, formatted once a second
 * (when the Date changes) instead of once a request. */
static int send_hello(ringo_stream *out)
{
	static __thread time_t built_at;
	static __thread char resp[512];
	static __thread size_t len;
	time_t now = time(NULL);
	if (now != built_at || !len) {
		char date[64];
		http_date(date, sizeof(date));
		len = (size_t)snprintf(resp, sizeof(resp),
				       "HTTP/1.1 200 OK\r\nServer: ringo\r\nDate: %s\r\n"
				       "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
				       "Connection: keep-alive\r\n\r\n%s",
				       date, strlen(HELLO), HELLO);
		built_at = now;
	}
	return ringo_stream_write(out, resp, len);
}

static bool safe_path(const char *p, size_t n)
{
	if (n == 0 || n >= 1024 || memchr(p, '\0', n))
		return false;
	for (size_t i = 0; i + 1 < n; i++)
		if (p[i] == '.' && p[i + 1] == '.')
			return false;
	return true;
}

/* Serve path (without the leading '/') from the root directory. */
static int send_file(ringo_stream *out, const char *p, size_t n, bool close)
{
	char path[1024];
	if (!safe_path(p, n))
		return send_text(out, 404, "Not Found", "not found\n", close);
	memcpy(path, p, n);
	path[n] = 0;
	int fd = ringo_openat(g.root_fd, path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return send_text(out, 404, "Not Found", "not found\n", close);
	struct statx st;
	int err = ringo_statx(fd, "", AT_EMPTY_PATH, STATX_SIZE | STATX_TYPE, &st);
	if (err < 0 || !S_ISREG(st.stx_mode)) {
		ringo_close(fd);
		return send_text(out, 404, "Not Found", "not found\n", close);
	}
	err = send_head(out, 200, "OK", "application/octet-stream", (long long)st.stx_size, close);
	if (err == 0)
		err = ringo_stream_flush(out);
	char buf[16384];
	for (uint64_t off = 0; err == 0 && off < st.stx_size;) {
		int got = ringo_read(fd, buf, sizeof(buf), (int64_t)off);
		if (got <= 0) {
			err = got < 0 ? got : -EIO; /* the file shrank: cut the connection */
			break;
		}
		err = ringo_send_all(out->fd, buf, (size_t)got);
		err = err < 0 ? err : 0;
		off += (uint64_t)got;
	}
	ringo_close(fd);
	return err;
}

static int discard_body(ringo_stream *in, long n)
{
	char buf[4096];
	while (n > 0) {
		int got = ringo_stream_read_some(in, buf, n < (long)sizeof(buf) ? (size_t)n : sizeof(buf));
		if (got <= 0)
			return got < 0 ? got : -ENODATA;
		n -= got;
	}
	return 0;
}

/* One request: returns 1 to keep the connection, 0 to close it. */
static int serve_one(ringo_stream *in, ringo_stream *out, struct conn *c)
{
	c->reading_since = watch_tick;
	int n = ringo_stream_read_until(in, "\r\n\r\n", 4);
	c->reading_since = 0;
	if (n == 0 || n == -ETIMEDOUT || n == -ECANCELED || n == -ECONNRESET || n == -ENODATA)
		return 0; /* gone, too slow, or shutting down */
	if (n == -EMSGSIZE) {
		send_text(out, 431, "Request Header Fields Too Large", "request head too large\n", true);
		return 0;
	}
	if (n < 0)
		return 0;
	struct request r;
	size_t avail;
	const char *head = ringo_stream_peek(in, &avail);
	if (parse_head(head, (size_t)n, &r) < 0) {
		send_text(out, 400, "Bad Request", "bad request\n", true);
		return 0;
	}
	if (r.content_length > BODY_MAX) {
		send_text(out, 413, "Payload Too Large", "body too large\n", true);
		return 0;
	}
	bool is_get = r.method_len == 3 && !memcmp(r.method, "GET", 3);
	bool is_head = r.method_len == 4 && !memcmp(r.method, "HEAD", 4);
	bool root = r.path_len == 1;
	/* The head lives in the read buffer: decide, then consume it. */
	char path[1024];
	size_t plen = r.path_len - 1 < sizeof(path) ? r.path_len - 1 : sizeof(path) - 1;
	memcpy(path, r.path + 1, plen);
	ringo_stream_consume(in, (size_t)n);
	if (r.content_length && discard_body(in, r.content_length) < 0)
		return 0;
	int err;
	if (!is_get && !is_head)
		err = send_text(out, 405, "Method Not Allowed", "method not allowed\n", r.close);
	else if (root && !is_head && !r.close)
		err = send_hello(out);
	else if (root)
		err = is_head ? send_head(out, 200, "OK", "text/plain", (long long)strlen(HELLO), r.close)
			      : send_text(out, 200, "OK", HELLO, r.close);
	else if (g.root_fd >= 0 && is_get)
		err = send_file(out, path, plen, r.close);
	else
		err = send_text(out, 404, "Not Found", "not found\n", r.close);
	if (err < 0)
		return 0;
	/* Pipelined requests already buffered: answer them in one send. */
	ringo_stream_peek(in, &avail);
	if (avail == 0 || r.close)
		err = ringo_stream_flush(out);
	return err < 0 || r.close ? 0 : 1;
}

static int http_conn(void *arg, void **result)
{
	int fd = (int)(intptr_t)arg;
	char rbuf[HEAD_MAX], wbuf[4096];
	ringo_stream in, out;
	ringo_stream_init(&in, fd, rbuf, sizeof(rbuf), NULL, 0);
	ringo_stream_init(&out, fd, NULL, 0, wbuf, sizeof(wbuf));
	struct conn c;
	watch_add(&c);
	while (serve_one(&in, &out, &c))
		;
	watch_remove(&c);
	ringo_stream_flush(&out);
	ringo_close(fd);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: http_server [--host ADDR] [--threads N] [--root DIR] [--timeout-ms MS] PORT\n"
		"  HTTP/1.1 keep-alive server: GET / answers \"Hello, World!\", --root DIR serves files.\n"
		"  --host ADDR      address to listen on (default 127.0.0.1)\n"
		"  --threads N      N loops, one per thread, on a shared SO_REUSEPORT port\n"
		"  --root DIR       serve files from DIR\n"
		"  --timeout-ms MS  drop a client that takes longer to send a request (10000)\n"
		"  SIGINT/SIGTERM shut it down cleanly.\n");
}

int main(int argc, char **argv)
{
	g.root_fd = -1;
	g.timeout = RINGO_SEC(10);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--host") && more) {
			srv.host = argv[++i];
		} else if (!strcmp(a, "--threads") && more) {
			srv.threads = atoi(argv[++i]);
		} else if (!strcmp(a, "--timeout-ms") && more) {
			g.timeout = RINGO_MSEC(atol(argv[++i]));
		} else if (!strcmp(a, "--root") && more) {
			g.root_fd = open(argv[++i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (g.root_fd < 0) {
				perror("http_server: --root");
				return 2;
			}
		} else if (a[0] != '-' && srv.port < 0) {
			srv.port = atoi(a);
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (srv.port < 0 || srv.port > 65535 || srv.threads < 1 || srv.threads > 1024 || g.timeout <= 0) {
		usage(stderr);
		return 2;
	}
	srv.conn = http_conn;
	srv.conn_opts = (ringo_task_options){.stack_size = 64 * 1024};
	srv.per_loop = watchdog;
	int status = serve_run(&srv);
	if (g.root_fd >= 0)
		close(g.root_fd);
	return status;
}
