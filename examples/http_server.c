/*
 * http_server: HTTP/1.1 with keep-alive on ringo's server API, a handler
 * task per connection.
 *
 *   http_server [--host ADDR] [--threads N] [--root DIR] [--timeout-ms MS]
 *               [--body-timeout-ms MS] [--send-timeout-ms MS]
 *               [--grace-ms MS] [--resolve-fallback]
 *               [--tls-cert FILE --tls-key FILE [--tls-ciphers LIST]] PORT
 *
 * GET or HEAD / answers a small fixed text ("Hello, World!\n"); with --root,
 * GET or HEAD /PATH serves that file from DIR, with single byte ranges
 * (Range: bytes=a-b, a-, -n: 206, or 416); POST /echo answers with the
 * request's body; GET or HEAD /metrics answers the statistics of the loop
 * that took the connection in the Prometheus text format (ringo/metrics.h;
 * with --threads N, each loop counts its own connections). Paths are
 * percent-decoded, their query dropped, "." and
 * ".." applied (climbing above the root: 400), and then opened beneath DIR
 * by the kernel (openat2 RESOLVE_BENEATH through io_uring), so no path or
 * symlink reaches outside it. Request heads are parsed by http_parse.c;
 * its header says what is accepted.
 *
 * Limits: the request head must fit in 8 KiB (431 otherwise), the target
 * in 1023 bytes (414), a body in 1 MiB (413; Content-Length or chunked).
 * Malformed requests get 400 and the connection is closed; the server goes
 * on serving everyone else. Timeouts (see "timeouts"): a client that takes
 * longer than --timeout-ms (10 s) to send a request head, sends nothing of
 * a body for --body-timeout-ms (60 s), or takes none of its response for
 * --send-timeout-ms (60 s) is dropped.
 * Requests are parsed in place in the connection's stream buffer (peek,
 * fill, consume); responses are written into its write buffer, so the
 * answers to pipelined requests leave in one send.
 * SIGINT/SIGTERM stop it cleanly: no new connection is accepted, requests
 * in progress get --grace-ms (1 s) to finish, then every connection is
 * closed. --threads N runs N loops on one SO_REUSEPORT port.
 *
 * HTTPS: --tls-cert and --tls-key (PEM chain and key) serve TLS 1.2/1.3
 * instead (ALPN http/1.1) through the server's wrap hook: each connection's
 * stream becomes a TLS stream (ringo/tls.h) before the handler sees it,
 * and nothing else changes. --tls-ciphers pins the ciphers (an OpenSSL
 * TLS 1.3 suite name such as TLS_AES_128_GCM_SHA256, or a TLS 1.2 cipher
 * list, which then also caps the version at 1.2). Only in builds with
 * OpenSSL (RINGO_HAVE_TLS; the Makefile sets it when libssl-dev is there).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http_parse.h"
#include "ringo.h"
#include "stop_signals.h"
#ifdef RINGO_HAVE_TLS
#include "ringo/tls.h"
#endif

#define HEAD_MAX 8192
#define BODY_MAX (1 << 20)
#define RANGE_MAX 256 /* a longer Range value is ignored */
#define HELLO "Hello, World!\n"
#define LINGER RINGO_SEC(2)

struct server {
	int root_fd;            /* --root directory, -1 if none */
	bool resolve_fallback;  /* --resolve-fallback: never use openat2 */
	int64_t timeout[4];     /* ns, by enum wait (WAIT_NONE unused) */
	int64_t period;         /* the watchdog's wake-up period, ns */
	uint64_t ticks[4];      /* timeout[] in periods, rounded up */
	int64_t grace;          /* --grace-ms, ns */
	const char *host;       /* where it listens */
	int port;
	unsigned threads;
	const char *tls_cert;   /* --tls-cert, --tls-key: HTTPS */
	const char *tls_key;
	const char *tls_ciphers;/* --tls-ciphers */
};

static struct server g;

/* ---- timeouts ----
 *
 * A ringo timeout scope around each request's read would set and cancel a
 * timer per request: measured (as a linked kernel timeout) at about 0.5 us
 * a request, 11% of this server's CPU under wrk. Instead each loop runs
 * one watchdog task that
 * wakes every WATCH_SLICES-th of the shortest timeout and cancels the
 * connections that have been waiting longer than the timeout of what they
 * wait for (nginx keeps a timer per connection; this is the same, coarser):
 *   WAIT_HEAD  for a whole request head (nginx client_header_timeout; the
 *              idle time between keep-alive requests counts);
 *   WAIT_BODY  for one read of a request body (client_body_timeout);
 *   WAIT_SEND  for one write of a response (send_timeout: a client that
 *              never reads fills the socket buffers, then the send waits).
 * A client is dropped between 1 and 1 + 1/WATCH_SLICES timeouts after the
 * wait began, at the cost of two stores a wait. Each loop has its own
 * thread, hence the thread-local list. */

#define WATCH_SLICES 4

enum wait { WAIT_NONE, WAIT_HEAD, WAIT_BODY, WAIT_SEND };

struct conn {
	struct conn *prev, *next; /* the loop's watch list */
	ringo_task *task;         /* the connection's task, to cancel */
	enum wait phase;          /* what it waits for now; WAIT_NONE: not watched */
	uint64_t since;           /* watch_tick when that wait began */
	ringo_stream *s;          /* the connection (the server's) */
};

static __thread struct conn watch_list; /* the sentinel; next NULL: no watchdog yet */
static __thread uint64_t watch_tick = 1;

static int watchdog(void *arg, void **result);

/* The first connection on a loop starts its watchdog (with --threads the
 * server's loops are its own: one watchdog each). It runs until the loop
 * ends, which cancels it. */
static void watch_add(struct conn *c)
{
	if (!watch_list.next) {
		watch_list.next = watch_list.prev = &watch_list;
		ringo_task_options o = {.name = "watchdog"};
		ringo_spawn(ringo_loop_current(), watchdog, NULL, &o, NULL);
	}
	c->task = ringo_task_current();
	c->phase = WAIT_NONE;
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

/* Runs until cancelled (the loop's end cancels it). */
static int watchdog(void *arg, void **result)
{
	while (ringo_sleep(g.period) == 0) {
		watch_tick++;
		for (struct conn *c = watch_list.next; c != &watch_list; c = c->next) {
			if (c->phase != WAIT_NONE && watch_tick - c->since > g.ticks[c->phase]) {
				c->phase = WAIT_NONE;
				ringo_task_cancel(c->task, "timeout");
			}
		}
	}
	return 0;
}

static void set_timeouts(void)
{
	int64_t shortest = g.timeout[WAIT_HEAD];
	for (int w = WAIT_BODY; w <= WAIT_SEND; w++)
		if (g.timeout[w] < shortest)
			shortest = g.timeout[w];
	g.period = shortest / WATCH_SLICES;
	if (g.period < RINGO_MSEC(1))
		g.period = RINGO_MSEC(1);
	for (int w = WAIT_HEAD; w <= WAIT_SEND; w++)
		g.ticks[w] = (uint64_t)((g.timeout[w] + g.period - 1) / g.period);
}

/* ---- input and output, watched ---- */

/* Receive more into the stream's buffer, as a wait of kind phase that
 * began at since. >0 bytes, 0 at EOF, -errno (-ECANCELED when the
 * watchdog dropped the connection). */
static int fill(struct conn *c, enum wait phase, uint64_t since)
{
	c->since = since;
	c->phase = phase;
	int n = ringo_stream_fill(c->s);
	c->phase = WAIT_NONE;
	return n;
}

/* Wait while the client does not take its responses (past the stream's
 * high-water mark), as a WAIT_SEND. Writing never waits: the bytes go out
 * with the loop's next submission. */
static int flush(struct conn *c)
{
	c->since = watch_tick;
	c->phase = WAIT_SEND;
	int err = ringo_stream_drain(c->s);
	c->phase = WAIT_NONE;
	return err;
}

static int put(struct conn *c, const void *p, size_t n)
{
	int err = ringo_stream_write(c->s, p, n);
	return err ? err : flush(c);
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

/* The status line and headers; extra is more header lines, each ending
 * in CRLF ("" for none). */
static int send_head(struct conn *c, int status, const char *type, uint64_t length,
		     const char *extra, bool close)
{
	char date[64], head[768];
	http_date(date, sizeof(date));
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nServer: ringo\r\nDate: %s\r\nContent-Type: %s\r\n"
			 "Content-Length: %" PRIu64 "\r\n%sConnection: %s\r\n\r\n",
			 status, http_reason(status), date, type, length, extra,
			 close ? "close" : "keep-alive");
	return put(c, head, (size_t)n);
}

/* A short text answer; a HEAD request gets its head only (RFC 9110 9.3.2:
 * a body there would be read as the start of the next response). */
static int send_text(struct conn *c, int status, const char *extra, const char *body,
		     bool head_only, bool close)
{
	int err = send_head(c, status, "text/plain", strlen(body), extra, close);
	if (err == 0 && !head_only)
		err = put(c, body, strlen(body));
	return err;
}

static int send_status(struct conn *c, int status, const char *extra, bool head_only, bool close)
{
	char body[64];
	snprintf(body, sizeof(body), "%d %s\n", status, http_reason(status));
	return send_text(c, status, extra, body, head_only, close);
}

/* The hot path: the keep-alive "Hello" response, formatted once a second
 * (when the Date changes) instead of once a request. */
static int send_hello(struct conn *c)
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
	return put(c, resp, len);
}

/* Close after an error answer without losing it: closing a socket with
 * unread bytes from the client resets the connection, and the client may
 * never see the answer. So shut our side down once the answer is sent
 * (write_eof: the client reads the answer, then EOF) and discard what it
 * still sends, for at most LINGER (nginx's lingering close). */
static void linger(struct conn *c)
{
	if (ringo_stream_write_eof(c->s) < 0)
		return;
	ringo_timeout to;
	if (ringo_timeout_enter(&to, LINGER) < 0)
		return;
	int rc;
	do {
		size_t len;
		ringo_stream_peek(c->s, &len);
		ringo_stream_consume(c->s, len);
	} while ((rc = ringo_stream_fill(c->s)) > 0);
	ringo_timeout_exit(&to, rc);
}

/* Answer status and close the connection: returns 0 for serve_one. */
static int fail(struct conn *c, int status, bool head_only)
{
	if (send_status(c, status, "", head_only, true) == 0)
		linger(c);
	return 0;
}

/* ---- files ---- */

struct open2 {
	int dirfd;
	const char *path;
	struct open_how how;
};

static void prep_openat2(struct io_uring_sqe *sqe, void *arg)
{
	struct open2 *o = arg;
	io_uring_prep_openat2(sqe, o->dirfd, o->path, &o->how);
}

#define FILE_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK) /* a FIFO must not block the open */

/* Without openat2 (Linux < 5.6, or --resolve-fallback): walk the path one
 * component at a time, refusing every symlink (O_NOFOLLOW), so nothing
 * outside the root is reached even through a link inside it. The path
 * comes from http_target_path: no "", "." or ".." components. */
static int open_by_components(const char *path)
{
	int dir = g.root_fd;
	for (;;) {
		const char *slash = strchr(path, '/');
		char part[HTTP_TARGET_MAX + 1];
		size_t n = slash ? (size_t)(slash - path) : strlen(path);
		if (n == 0 || n >= sizeof(part) || (path[0] == '.' && (n == 1 || (n == 2 && path[1] == '.')))) {
			if (dir != g.root_fd)
				ringo_close(dir);
			return -ENOENT; /* cannot come from http_target_path: refuse anyway */
		}
		memcpy(part, path, n);
		part[n] = '\0';
		int flags = slash ? O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC : FILE_FLAGS | O_NOFOLLOW;
		int fd = ringo_openat(dir, part, flags, 0);
		if (dir != g.root_fd)
			ringo_close(dir);
		if (fd < 0 || !slash)
			return fd;
		dir = fd;
		path = slash + 1;
	}
}

/* Open path (relative, from http_target_path) beneath the root: the
 * kernel refuses any resolution that leaves it ("..", absolute symlinks,
 * links to outside: -EXDEV) and /proc magic links. */
static int open_beneath(const char *path)
{
	if (!g.resolve_fallback && ringo_io_supported(IORING_OP_OPENAT2)) {
		struct open2 o = {g.root_fd, path, {.flags = FILE_FLAGS,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS}};
		int fd = ringo_io_submit(prep_openat2, &o, NULL);
		if (fd != -ENOSYS)
			return fd;
	}
	return open_by_components(path);
}

/* Send [first, first + len) of fd, in pieces: each wait for the client
 * to take them is one watched wait. */
static int send_range(struct conn *c, int fd, uint64_t first, uint64_t len)
{
	char buf[16384];
	int err = 0;
	for (uint64_t off = first, end = first + len; err == 0 && off < end;) {
		size_t want = end - off < sizeof(buf) ? (size_t)(end - off) : sizeof(buf);
		int got = ringo_read(fd, buf, want, (int64_t)off);
		if (got <= 0)
			return got < 0 ? got : -EIO; /* the file shrank: cut the connection */
		err = put(c, buf, (size_t)got);
		off += (uint64_t)got;
	}
	return err;
}

/* Answer a GET or HEAD of path beneath the root, range (NUL-terminated)
 * from the Range field or NULL. */
static int send_file(struct conn *c, const char *path, const char *range, bool head_only,
		     bool close)
{
	int fd = open_beneath(path);
	if (fd < 0)
		return send_status(c, fd == -EACCES || fd == -EPERM ? 403 : 404, "", head_only, close);
	struct statx st;
	int err = ringo_statx(fd, "", AT_EMPTY_PATH, STATX_SIZE | STATX_TYPE, &st);
	if (err < 0 || !S_ISREG(st.stx_mode)) {
		ringo_close(fd);
		return send_status(c, 404, "", head_only, close);
	}
	uint64_t size = st.stx_size, first = 0, last = size ? size - 1 : 0;
	int ranged = range ? http_parse_range(range, strlen(range), size, &first, &last) : 0;
	char extra[160];
	if (ranged < 0) {
		ringo_close(fd);
		snprintf(extra, sizeof(extra), "Content-Range: bytes */%" PRIu64 "\r\n", size);
		return send_status(c, 416, extra, head_only, close);
	}
	uint64_t len = ranged ? last - first + 1 : size;
	if (ranged)
		snprintf(extra, sizeof(extra),
			 "Accept-Ranges: bytes\r\nContent-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n",
			 first, last, size);
	else
		snprintf(extra, sizeof(extra), "Accept-Ranges: bytes\r\n");
	err = send_head(c, ranged ? 206 : 200, "application/octet-stream", len, extra, close);
	if (err == 0 && !head_only)
		err = send_range(c, fd, first, len);
	ringo_close(fd);
	return err;
}

/* ---- request bodies ---- */

/* A body kept for POST /echo (keep), else discarded as it arrives. */
struct body {
	bool keep;
	char *p;
	size_t len, cap;
};

static int body_add(struct body *b, const char *p, size_t n)
{
	if (!b->keep || n == 0)
		return 0;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np)
			return 500;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

/* What reading a body returns besides 0 (read) and an HTTP status to
 * answer: the client went away, was too slow, or the server is stopping. */
#define DROP (-1)

static int read_length_body(struct conn *c, uint64_t left, struct body *b)
{
	while (left > 0) {
		size_t len;
		const char *in = ringo_stream_peek(c->s, &len);
		if (len == 0) {
			if (fill(c, WAIT_BODY, watch_tick) <= 0)
				return DROP;
			continue;
		}
		size_t take = len < left ? len : (size_t)left;
		int status = body_add(b, in, take);
		if (status)
			return status;
		ringo_stream_consume(c->s, take);
		left -= take;
	}
	return 0;
}

static int read_chunked_body(struct conn *c, struct body *b)
{
	struct http_chunked ch = {.max = BODY_MAX};
	for (;;) {
		size_t used, dlen, len;
		const char *data, *in = ringo_stream_peek(c->s, &len);
		int rc = http_chunked_step(&ch, in ? in : "", len, &used, &data, &dlen);
		if (rc < 0)
			return -rc;
		int status = body_add(b, data, dlen);
		if (status)
			return status;
		ringo_stream_consume(c->s, used);
		if (rc == HTTP_CHUNK_DONE)
			return 0;
		if (rc == HTTP_CHUNK_MORE && fill(c, WAIT_BODY, watch_tick) <= 0)
			return DROP; /* (a line always fits: HTTP_CHUNK_LINE_MAX < HEAD_MAX) */
	}
}

/* ---- requests ---- */

/* Read until a whole request head is buffered. Returns its length (> 0),
 * 0 if the connection is done (EOF, timeout, stopping), or a negative
 * status to answer. The head is at the stream's peek (valid until it
 * is consumed or the task waits). Responses written so far go out while
 * it waits, so a response is never held back by bytes of a next request. */
static int read_head(struct conn *c, struct http_request *r)
{
	uint64_t since = watch_tick;
	for (;;) {
		size_t len;
		const char *in = ringo_stream_peek(c->s, &len);
		/* A head must end within HEAD_MAX bytes, however many came. */
		int n = len ? http_parse_request(in, len < HEAD_MAX ? len : HEAD_MAX, r) : 0;
		if (n != 0)
			return n;
		if (len >= HEAD_MAX)
			return -431;
		if (fill(c, WAIT_HEAD, since) <= 0)
			return 0;
	}
}

/* GET /metrics: this loop's statistics, as a Prometheus scraper reads
 * them (text format 0.0.4). */
static int send_metrics(struct conn *c, bool head_only, bool close)
{
	char text[8192];
	int n = ringo_metrics_write(ringo_loop_current(), text, sizeof(text));
	if (n < 0 || (size_t)n >= sizeof(text))
		return send_status(c, 500, "", head_only, close);
	int err = send_head(c, 200, "text/plain; version=0.0.4; charset=utf-8", (uint64_t)n, "",
			    close);
	return err || head_only ? err : put(c, text, (size_t)n);
}

/* The answer, once the body has been read. path is decoded. */
static int respond(struct conn *c, const struct http_request *r, const char *path,
		   const char *range, struct body *b)
{
	bool close = !r->keep_alive, head_only = r->method == HTTP_HEAD;
	if (r->method == HTTP_POST) {
		if (strcmp(path, "echo") != 0)
			return send_status(c, 405, "Allow: GET, HEAD\r\n", false, close);
		int err = send_head(c, 200, "application/octet-stream", b->len, "", close);
		return err || b->len == 0 ? err : put(c, b->p, b->len);
	}
	if (r->method != HTTP_GET && r->method != HTTP_HEAD)
		return send_status(c, 405, "Allow: GET, HEAD, POST\r\n", false, close);
	if (path[0] == '\0')
		return send_text(c, 200, "", HELLO, head_only, close);
	if (strcmp(path, "metrics") == 0)
		return send_metrics(c, head_only, close);
	if (g.root_fd < 0)
		return send_status(c, 404, "", head_only, close);
	return send_file(c, path, range, head_only, close);
}

/* The request's body (discarded unless POST /echo), then the answer.
 * 1 to keep the connection, 0 to close it. */
static int finish_request(struct conn *c, const struct http_request *r, const char *path,
			  const char *range)
{
	bool head_only = r->method == HTTP_HEAD;
	struct body b = {.keep = r->method == HTTP_POST && !strcmp(path, "echo")};
	int status = 0;
	if ((r->has_length && r->content_length > 0) || r->chunked) {
		if (r->expect_continue) {
			const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
			if (put(c, cont, sizeof(cont) - 1) < 0 || flush(c) < 0)
				return 0;
		}
		status = r->chunked ? read_chunked_body(c, &b) : read_length_body(c, r->content_length, &b);
	}
	int keep = 0;
	if (status == DROP)
		keep = 0;
	else if (status)
		fail(c, status, head_only);
	else if (respond(c, r, path, range, &b) == 0 && r->keep_alive)
		keep = 1;
	else if (!r->keep_alive)
		linger(c); /* the client may have sent more: let it read the answer */
	free(b.p);
	return keep;
}

/* One request: returns 1 to keep the connection, 0 to close it. */
static int serve_one(struct conn *c)
{
	struct http_request r;
	int n = read_head(c, &r);
	if (n == 0)
		return 0;
	if (n < 0)
		return fail(c, -n, false);
	bool head_only = r.method == HTTP_HEAD;
	if (r.method == HTTP_GET && r.keep_alive && r.path_len == 1 && !r.has_length && !r.chunked) {
		ringo_stream_consume(c->s, (size_t)n); /* the hot path: GET / */
		return send_hello(c) == 0;
	}
	if (r.has_length && r.content_length > BODY_MAX)
		return fail(c, 413, head_only);
	/* The head lives in the stream's buffer, which reading the body
	 * moves on: copy out what the answer needs, then consume it. */
	char path[HTTP_TARGET_MAX + 1], range[RANGE_MAX];
	int plen = http_target_path(r.path, r.path_len, path, sizeof(path));
	if (plen < 0)
		return fail(c, -plen, head_only);
	bool has_range = r.range && r.range_len < sizeof(range);
	if (has_range) {
		memcpy(range, r.range, r.range_len);
		range[r.range_len] = '\0';
	}
	ringo_stream_consume(c->s, (size_t)n);
	return finish_request(c, &r, path, has_range ? range : NULL);
}

/* The handler. What it leaves in the write buffer the server sends after
 * it returned (within --send-timeout-ms), then closes the connection. */
static int http_conn(ringo_stream *s, void *arg)
{
	struct conn c = {.s = s};
	watch_add(&c);
	while (serve_one(&c))
		;
	watch_remove(&c);
	return 0;
}

static int http_main(void *arg, void **result)
{
	int err = stop_signals_catch();
	if (err < 0) {
		fprintf(stderr, "http_server: catching SIGINT/SIGTERM: %s\n", ringo_strerror(err));
		return err;
	}
	ringo_server_options opts = {
		.threads = g.threads,
		.stack_size = 64 * 1024,
		.flush_timeout_ns = g.timeout[WAIT_SEND],
	};
	ringo_server *srv;
#ifdef RINGO_HAVE_TLS
	ringo_tls_config *tls = NULL;
	if (g.tls_cert) {
		static const char *const alpn[] = {"http/1.1"};
		bool v13 = g.tls_ciphers && !strncmp(g.tls_ciphers, "TLS_", 4);
		ringo_tls_options to = {
			.cert_file = g.tls_cert,
			.key_file = g.tls_key,
			.flags = RINGO_TLS_SERVER,
			.alpn = alpn,
			.nalpn = 1,
			.ciphersuites = v13 ? g.tls_ciphers : NULL,
			.ciphers = g.tls_ciphers && !v13 ? g.tls_ciphers : NULL,
			.max_version = g.tls_ciphers && !v13 ? RINGO_TLS_VERSION_1_2 : 0,
			.handshake_timeout_ns = g.timeout[WAIT_HEAD],
		};
		int terr = ringo_tls_config_new(&to, &tls);
		if (terr < 0) {
			fprintf(stderr, "http_server: TLS: %s (%s)\n", ringo_strerror(terr),
				ringo_tls_last_error());
			return terr;
		}
		opts.wrap = ringo_tls_server_wrap;
		opts.wrap_ctx = tls;
	}
#endif
	err = ringo_server_start(ringo_loop_current(), g.host, g.port, http_conn, NULL, &opts,
				     &srv);
	if (err < 0) {
		fprintf(stderr, "http_server: listen on %s:%d: %s\n", g.host, g.port,
			ringo_strerror(err));
#ifdef RINGO_HAVE_TLS
		ringo_tls_config_release(tls);
#endif
		return err;
	}
	stop_signals_wait();
	ringo_server_close(srv);
	ringo_server_wait_closed(srv, g.grace);
	ringo_server_free(srv);
#ifdef RINGO_HAVE_TLS
	ringo_tls_config_release(tls);
#endif
	return 0;
}

/* ---- options ---- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: http_server [--host ADDR] [--threads N] [--root DIR] [--timeout-ms MS]\n"
		"                   [--body-timeout-ms MS] [--send-timeout-ms MS]\n"
		"                   [--grace-ms MS] [--resolve-fallback]\n"
		"                   [--tls-cert FILE --tls-key FILE [--tls-ciphers LIST]] PORT\n"
		"  HTTP/1.1 keep-alive server: GET / answers \"Hello, World!\", --root DIR serves\n"
		"  files (GET, HEAD, single byte ranges), POST /echo answers with the body,\n"
		"  GET /metrics the loop's statistics (Prometheus text format).\n"
		"  --host ADDR            address to listen on (default 127.0.0.1)\n"
		"  --threads N            N loops, one per thread, on a shared SO_REUSEPORT port\n"
		"  --root DIR             serve files from DIR; nothing outside it is ever served\n"
		"  --timeout-ms MS        drop a client that takes longer to send a request head,\n"
		"                         or stays idle longer between requests (10000)\n"
		"  --body-timeout-ms MS   drop a client that sends nothing of a request body for\n"
		"                         this long (60000, nginx client_body_timeout)\n"
		"  --send-timeout-ms MS   drop a client that takes none of its response for this\n"
		"                         long (60000, nginx send_timeout)\n"
		"  --grace-ms MS          on SIGINT/SIGTERM, requests in progress get this long\n"
		"                         to finish before every connection is closed (1000)\n"
		"  --resolve-fallback     open files component by component without openat2, as\n"
		"                         on kernels before 5.6 (symlinks are then never followed)\n"
		"  --tls-cert FILE        serve HTTPS with this PEM certificate chain ...\n"
		"  --tls-key FILE         ... and this PEM private key (builds with OpenSSL)\n"
		"  --tls-ciphers LIST     pin the cipher: a TLS 1.3 suite (TLS_AES_128_GCM_SHA256)\n"
		"                         or a TLS 1.2 list (then TLS 1.2 only)\n"
		"  SIGINT/SIGTERM shut it down cleanly.\n");
}

/* A positive number of milliseconds, in ns; false if s is not one. */
static bool parse_ms(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > 365LL * 24 * 3600 * 1000)
		return false;
	*out = RINGO_MSEC(v);
	return true;
}

static bool parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--host") && v) {
			g.host = argv[++i];
		} else if (!strcmp(a, "--threads") && v) {
			g.threads = (unsigned)atoi(argv[++i]);
		} else if (!strcmp(a, "--grace-ms") && v) {
			if (!parse_ms(argv[++i], &g.grace))
				return false;
		} else if (!strcmp(a, "--timeout-ms") && v) {
			if (!parse_ms(argv[++i], &g.timeout[WAIT_HEAD]))
				return false;
		} else if (!strcmp(a, "--body-timeout-ms") && v) {
			if (!parse_ms(argv[++i], &g.timeout[WAIT_BODY]))
				return false;
		} else if (!strcmp(a, "--send-timeout-ms") && v) {
			if (!parse_ms(argv[++i], &g.timeout[WAIT_SEND]))
				return false;
		} else if (!strcmp(a, "--tls-cert") && v) {
			g.tls_cert = argv[++i];
		} else if (!strcmp(a, "--tls-key") && v) {
			g.tls_key = argv[++i];
		} else if (!strcmp(a, "--tls-ciphers") && v) {
			g.tls_ciphers = argv[++i];
		} else if (!strcmp(a, "--resolve-fallback")) {
			g.resolve_fallback = true;
		} else if (!strcmp(a, "--root") && v) {
			if (g.root_fd >= 0)
				close(g.root_fd);
			g.root_fd = open(argv[++i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (g.root_fd < 0) {
				perror("http_server: --root");
				exit(2);
			}
		} else if (a[0] != '-' && g.port < 0) {
			g.port = atoi(a);
		} else {
			return false;
		}
	}
	return g.port >= 0 && g.port <= 65535 && g.threads >= 1 && g.threads <= 1024;
}

int main(int argc, char **argv)
{
	g.root_fd = -1;
	g.host = "127.0.0.1";
	g.port = -1;
	g.threads = 1;
	g.grace = RINGO_SEC(1);
	g.timeout[WAIT_HEAD] = RINGO_SEC(10);
	g.timeout[WAIT_BODY] = RINGO_SEC(60);
	g.timeout[WAIT_SEND] = RINGO_SEC(60);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
	}
	if (!parse_args(argc, argv) || !g.tls_cert != !g.tls_key) {
		usage(stderr);
		return 2;
	}
#ifndef RINGO_HAVE_TLS
	if (g.tls_cert) {
		fprintf(stderr, "http_server: built without TLS (install libssl-dev and rebuild)\n");
		return 2;
	}
#endif
	set_timeouts();
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	int err = ringo_run(http_main, NULL, NULL, NULL);
	if (g.root_fd >= 0)
		close(g.root_fd);
	const char *why = err < 0 ? ringo_setup_diagnosis() : NULL;
	if (why)
		fprintf(stderr, "http_server: %s\n", why);
	return err < 0;
}
