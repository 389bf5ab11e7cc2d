/*
 * kv_server: an in-memory key-value server speaking enough of the Redis
 * protocol (RESP) for redis-cli and the stock redis-benchmark: PING, SET,
 * GET, DEL, INCR, DECR, INCRBY, DECRBY, plus QUIT and an empty answer to
 * CONFIG/COMMAND. Replies and error texts are redis's.
 *
 *   kv_server [--host ADDR] [--threads N] [--max-bulk-len BYTES]
 *             [--max-query-len BYTES] PORT
 *
 * On ringo's server API: a handler task per connection, with its stream.
 * Requests are parsed in place in the stream's read buffer (peek, fill,
 * consume); replies are written into its write buffer, so pipelined
 * commands are answered in one send. Requests are parsed by resp_parse.c
 * (its header says what is accepted): a bulk argument may be up to
 * --max-bulk-len bytes (512 MiB, redis proto-max-bulk-len), a request up
 * to --max-query-len bytes in all (1 GiB, redis
 * client-query-buffer-limit) and 1M arguments. The stream's buffer grows
 * with the request it holds and goes back after it; deleted values go
 * back to the system (kv_store.c, "memory").
 * With --threads N, the server runs N loops on the port (SO_REUSEPORT)
 * over one store behind a mutex (with one loop nothing else touches the
 * store, so the mutex is skipped). SIGINT/SIGTERM stop it cleanly.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kv_store.h"
#include "resp_parse.h"
#include "ringo.h"
#include "stop_signals.h"

#define BIG_REQUEST (64 * 1024)  /* the stream gives back a buffer this big */
#define LINGER RINGO_SEC(2)

/* Where it listens. */
static const char *host = "127.0.0.1";
static int port = -1;
static unsigned threads = 1;

/* Read-only once the loops run. */
static struct {
	uint64_t max_bulk;  /* --max-bulk-len */
	uint64_t max_query; /* --max-query-len */
} opt = {RESP_DEFAULT_MAX_BULK, 1ull << 30};

/* ---- a connection ---- */

struct conn {
	ringo_stream *s;           /* requests in its read buffer, replies into
				    * its write buffer */
	struct resp_parser parser; /* the request at the read buffer's start */
};

/* A request, as the commands see it. */
struct cmd {
	struct conn *c;
	const char *base;          /* the request's first byte */
	const struct resp_arg *a;
	size_t argc;
};

static const char *arg(const struct cmd *m, size_t i)
{
	return m->base + m->a[i].off;
}

static size_t alen(const struct cmd *m, size_t i)
{
	return m->a[i].len;
}

static bool arg_is(const struct cmd *m, size_t i, const char *name)
{
	return strlen(name) == alen(m, i) && !strncasecmp(arg(m, i), name, alen(m, i));
}

/* ---- replies ---- */

/* Replies are copied into the stream's write buffer (never suspends):
 * the serving loop drains after each request. */
static int reply(struct conn *c, const char *s)
{
	return ringo_stream_write(c->s, s, strlen(s));
}

/* "<prefix><v>\r\n" into b (24 bytes are enough); returns the length.
 * By hand: snprintf costs more than the rest of a GET's reply. */
static size_t format_ll(char *b, char prefix, long long v)
{
	char digits[24];
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
	int n = 0;
	do {
		digits[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	size_t len = 0;
	b[len++] = prefix;
	if (v < 0)
		b[len++] = '-';
	while (n)
		b[len++] = digits[--n];
	b[len++] = '\r';
	b[len++] = '\n';
	return len;
}

static int reply_bulk(struct conn *c, const char *v, size_t n)
{
	char head[32];
	struct iovec iov[3] = {{head, format_ll(head, '$', (long long)n)},
			       {(void *)v, n},
			       {"\r\n", 2}};
	return ringo_stream_writev(c->s, iov, 3);
}

static int reply_int(struct conn *c, long long v)
{
	char b[32];
	return ringo_stream_write(c->s, b, format_ll(b, ':', v));
}

/* Append text from a request to an error reply as redis does: up to its
 * first NUL (redis formats it with %s), at most max bytes, CR and LF made
 * spaces, so that the reply stays one line whatever the client sent
 * (otherwise a command named "X\r\n+OK" would forge a reply). */
static size_t append_text(char *out, size_t at, size_t cap, const char *s, size_t n, size_t max)
{
	for (size_t i = 0; i < n && i < max && s[i] && at + 1 < cap; i++)
		out[at++] = s[i] == '\r' || s[i] == '\n' ? ' ' : s[i];
	out[at] = '\0';
	return at;
}

/* Append our own text (no sanitising: it holds the final CRLF). */
static size_t append(char *out, size_t at, size_t cap, const char *s)
{
	size_t n = strlen(s);
	if (at + n >= cap)
		n = cap - 1 - at;
	memcpy(out + at, s, n);
	out[at + n] = '\0';
	return at + n;
}

static int reply_unknown(const struct cmd *m)
{
	char msg[512];
	size_t n = append(msg, 0, sizeof(msg), "-ERR unknown command '");
	n = append_text(msg, n, sizeof(msg), arg(m, 0), alen(m, 0), 128);
	n = append(msg, n, sizeof(msg), "', with args beginning with: ");
	size_t args_start = n;
	for (size_t i = 1; i < m->argc && n - args_start < 128; i++) {
		n = append(msg, n, sizeof(msg), "'");
		n = append_text(msg, n, sizeof(msg), arg(m, i), alen(m, i), 128 - (n - 1 - args_start));
		n = append(msg, n, sizeof(msg), "' ");
	}
	append(msg, n, sizeof(msg), "\r\n");
	return reply(m->c, msg);
}

static int reply_arity(struct conn *c, const char *name)
{
	char msg[96];
	snprintf(msg, sizeof(msg), "-ERR wrong number of arguments for '%s' command\r\n", name);
	return reply(c, msg);
}

#define ERR_NOT_INT "-ERR value is not an integer or out of range\r\n"
#define ERR_OOM "-ERR out of memory\r\n"

/* ---- commands ---- */

static int cmd_ping(const struct cmd *m)
{
	return m->argc == 2 ? reply_bulk(m->c, arg(m, 1), alen(m, 1)) : reply(m->c, "+PONG\r\n");
}

static int cmd_set(const struct cmd *m)
{
	if (m->argc != 3)
		return reply(m->c, "-ERR syntax error\r\n"); /* options (EX, NX, ...) */
	kv_store_lock();
	bool ok = kv_store_set(arg(m, 1), alen(m, 1), arg(m, 2), alen(m, 2));
	kv_store_unlock();
	return reply(m->c, ok ? "+OK\r\n" : ERR_OOM);
}

/* The value must not be used after the lock is dropped or the task
 * suspends (a DEL from another connection may free it meanwhile; with
 * --threads the lock must not be held across a suspension either). The
 * stream's write copies it under the lock and never suspends. */
static int cmd_get(const struct cmd *m)
{
	kv_store_lock();
	struct kv_entry *e = kv_store_get(arg(m, 1), alen(m, 1));
	int err = e ? reply_bulk(m->c, e->val, e->vlen) : reply(m->c, "$-1\r\n");
	kv_store_unlock();
	return err;
}

static int cmd_del(const struct cmd *m)
{
	long long n = 0;
	kv_store_lock();
	for (size_t i = 1; i < m->argc; i++)
		n += kv_store_del(arg(m, i), alen(m, i));
	kv_store_unlock();
	return reply_int(m->c, n);
}

/* INCR, DECR, INCRBY, DECRBY: add by to the key's integer value (0 if
 * absent). Nothing changes if the value is not an integer or the sum would
 * not fit in 64 bits (redis's checks, same texts). */
static int incr_by(const struct cmd *m, long long by)
{
	const char *err = NULL;
	long long v = 0, sum = 0;
	kv_store_lock();
	struct kv_entry *e = kv_store_get(arg(m, 1), alen(m, 1));
	if (e && !resp_string2ll(e->val, e->vlen, &v)) {
		err = ERR_NOT_INT;
	} else if (__builtin_add_overflow(v, by, &sum)) {
		err = "-ERR increment or decrement would overflow\r\n";
	} else {
		char b[24];
		int n = snprintf(b, sizeof(b), "%lld", sum);
		if (!kv_store_set(arg(m, 1), alen(m, 1), b, (size_t)n))
			err = ERR_OOM;
	}
	kv_store_unlock();
	return err ? reply(m->c, err) : reply_int(m->c, sum);
}

static int cmd_incr(const struct cmd *m)
{
	return incr_by(m, 1);
}

static int cmd_decr(const struct cmd *m)
{
	return incr_by(m, -1);
}

static int cmd_incrby(const struct cmd *m)
{
	long long by;
	if (!resp_string2ll(arg(m, 2), alen(m, 2), &by))
		return reply(m->c, ERR_NOT_INT);
	return incr_by(m, by);
}

static int cmd_decrby(const struct cmd *m)
{
	long long by;
	if (!resp_string2ll(arg(m, 2), alen(m, 2), &by))
		return reply(m->c, ERR_NOT_INT);
	if (by == LLONG_MIN)
		return reply(m->c, "-ERR decrement would overflow\r\n"); /* -by does not exist */
	return incr_by(m, -by);
}

static int cmd_config(const struct cmd *m)
{
	if (m->argc != 3 || !arg_is(m, 1, "GET"))
		return reply(m->c, "*0\r\n");
	/* redis-benchmark asks for a few settings: name them, empty. */
	int err = reply(m->c, "*2\r\n");
	if (!err)
		err = reply_bulk(m->c, arg(m, 2), alen(m, 2));
	return err ? err : reply_bulk(m->c, "", 0);
}

static int cmd_command(const struct cmd *m)
{
	return reply(m->c, "*0\r\n");
}

static int cmd_quit(const struct cmd *m)
{
	int err = reply(m->c, "+OK\r\n");
	return err < 0 ? err : 1;
}

/* Arities as redis counts them: the command name included. */
static const struct command {
	const char *name;
	size_t min_args, max_args; /* max 0: no limit */
	int (*run)(const struct cmd *m); /* <0 a write error, 0, 1 to close */
} commands[] = {
	{"get", 2, 2, cmd_get},       {"set", 3, 0, cmd_set},       {"ping", 1, 2, cmd_ping},
	{"del", 2, 0, cmd_del},       {"incr", 2, 2, cmd_incr},     {"decr", 2, 2, cmd_decr},
	{"incrby", 3, 3, cmd_incrby}, {"decrby", 3, 3, cmd_decrby}, {"config", 2, 0, cmd_config},
	{"command", 1, 0, cmd_command}, {"quit", 1, 0, cmd_quit},
};

/* Execute one request; returns <0 on a write error, 1 for QUIT. */
static int execute(const struct cmd *m)
{
	if (m->argc == 0)
		return 0; /* an empty line, "*0": nothing (as redis) */
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *k = &commands[i];
		if (!arg_is(m, 0, k->name))
			continue;
		if (m->argc < k->min_args || (k->max_args && m->argc > k->max_args))
			return reply_arity(m->c, k->name);
		return k->run(m);
	}
	return reply_unknown(m);
}

/* ---- serving a connection ---- */

/* See http_server.c: close after an error reply without the client losing
 * it to a reset: once the reply is sent our side is shut (write_eof),
 * then what the client still sends is discarded. The whole of it, the
 * reply's send included, is bounded by LINGER (this server has no other
 * timeout for a client that does not read). */
static void linger(struct conn *c)
{
	ringo_timeout to;
	if (ringo_timeout_enter(&to, LINGER) < 0)
		return;
	int rc = ringo_stream_write_eof(c->s);
	while (rc == 0) {
		size_t len;
		ringo_stream_peek(c->s, &len);
		ringo_stream_consume(c->s, len);
		rc = ringo_stream_fill(c->s) > 0 ? 0 : -1;
	}
	ringo_timeout_exit(&to, rc);
}

#define ERR_QUERY_LIMIT "-ERR Protocol error: query buffer limit reached\r\n"

/* Answer text, then close without the client losing it (linger). */
static void refuse(struct conn *c, const char *text, size_t len)
{
	ringo_stream_write(c->s, text, len);
	linger(c);
}

/* Serve requests until the client leaves, errs, or the server stops. */
static void serve(struct conn *c)
{
	for (;;) {
		size_t len;
		const char *in = ringo_stream_peek(c->s, &len);
		int rc = len ? resp_parse(&c->parser, in, len) : RESP_MORE;
		if (rc == RESP_DONE && c->parser.pos > opt.max_query) {
			refuse(c, ERR_QUERY_LIMIT, strlen(ERR_QUERY_LIMIT)); /* came in one piece */
			return;
		}
		if (rc == RESP_DONE) {
			size_t used = c->parser.pos;
			struct cmd m = {c, in, c->parser.args, c->parser.argc};
			int err = execute(&m);
			ringo_stream_consume(c->s, used);
			resp_next(&c->parser);
			if (used > BIG_REQUEST)
				kv_note_freed(used); /* the stream's grown buffer goes back */
			kv_maybe_trim();
			/* Replies pile up in the write buffer: wait only if the
			 * client does not read them. */
			if (err || ringo_stream_drain(c->s) < 0)
				return;
			continue;
		}
		if (rc < 0) {
			char msg[96];
			refuse(c, msg, resp_error_text(&c->parser, rc, msg, sizeof(msg)));
			return;
		}
		/* Every byte buffered belongs to the request not complete yet. */
		if (len >= opt.max_query || c->parser.need > opt.max_query) {
			refuse(c, ERR_QUERY_LIMIT, strlen(ERR_QUERY_LIMIT));
			return;
		}
		/* More bytes needed (the replies so far go out meanwhile). */
		if (ringo_stream_fill(c->s) <= 0)
			return;
	}
}

static int kv_conn(ringo_stream *s, void *arg)
{
	struct conn c = {.s = s};
	resp_init(&c.parser, opt.max_bulk);
	serve(&c);
	resp_free(&c.parser);
	kv_maybe_trim();
	return 0;
}

static int kv_main(void *arg, void **result)
{
	int err = stop_signals_catch();
	if (err < 0) {
		fprintf(stderr, "kv_server: catching SIGINT/SIGTERM: %s\n", ringo_strerror(err));
		return err;
	}
	ringo_server_options opts = {.threads = threads, .flush_timeout_ns = LINGER};
	ringo_server *srv;
	err = ringo_server_start(ringo_loop_current(), host, port, kv_conn, NULL, &opts, &srv);
	if (err < 0) {
		fprintf(stderr, "kv_server: listen on %s:%d: %s\n", host, port, ringo_strerror(err));
		return err;
	}
	stop_signals_wait();
	/* Clients idle between requests would hold the stop: cut them. */
	ringo_server_close(srv);
	ringo_server_wait_closed(srv, 0);
	ringo_server_free(srv);
	return 0;
}

/* ---- options ---- */

static void usage(FILE *out)
{
	fprintf(out, "usage: kv_server [--host ADDR] [--threads N] [--max-bulk-len BYTES]\n"
		     "                 [--max-query-len BYTES] PORT\n"
		     "  In-memory key-value server speaking RESP: PING SET GET DEL INCR DECR INCRBY\n"
		     "  DECRBY QUIT.\n"
		     "  --host ADDR             address to listen on (default 127.0.0.1)\n"
		     "  --threads N             N loops, one per thread, on a shared SO_REUSEPORT port\n"
		     "  --max-bulk-len BYTES    longest bulk argument (536870912, as redis\n"
		     "                          proto-max-bulk-len); longer: a protocol error\n"
		     "  --max-query-len BYTES   longest request, all arguments (1073741824, as redis\n"
		     "                          client-query-buffer-limit)\n"
		     "  SIGINT/SIGTERM shut it down cleanly.\n");
}

static bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v == 0 || v > (1ull << 40))
		return false;
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--host") && more) {
			host = argv[++i];
		} else if (!strcmp(a, "--threads") && more) {
			threads = (unsigned)atoi(argv[++i]);
		} else if (!strcmp(a, "--max-bulk-len") && more && parse_size(argv[i + 1], &opt.max_bulk)) {
			i++;
		} else if (!strcmp(a, "--max-query-len") && more && parse_size(argv[i + 1], &opt.max_query)) {
			i++;
		} else if (a[0] != '-' && port < 0) {
			port = atoi(a);
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (port < 0 || port > 65535 || threads < 1 || threads > 1024) {
		usage(stderr);
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	kv_store_init(threads > 1);
	int err = ringo_run(kv_main, NULL, NULL, NULL);
	kv_store_free();
	const char *why = err < 0 ? ringo_setup_diagnosis() : NULL;
	if (why)
		fprintf(stderr, "kv_server: %s\n", why);
	return err < 0;
}
