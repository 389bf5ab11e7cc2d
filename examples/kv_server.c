/*
 * kv_server: an in-memory key-value server speaking enough of the Redis
 * protocol (RESP) for redis-cli and the stock redis-benchmark: PING, SET,
 * GET, DEL, INCR, plus QUIT and an empty answer to CONFIG/COMMAND.
 *
 *   kv_server [--host ADDR] [--threads N] PORT
 *
 * One task per connection; pipelined commands are answered in one send.
 * A request (all its arguments) must fit in 64 KiB. With --threads N,
 * N loops share the port (SO_REUSEPORT) and one store behind a mutex (with
 * one loop nothing else touches the store, so the mutex is skipped).
 * SIGINT/SIGTERM stop it cleanly.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ringo.h"
#include "serve.h"

#define REQ_MAX 65536
#define MAX_ARGS 64

/* Where and how it listens (examples/serve.h). */
static struct serve srv = {.name = "kv_server", .host = "127.0.0.1", .port = -1, .threads = 1};

/* ---- the store: chained hash table ---- */

struct entry {
	struct entry *next;
	uint64_t hash;
	char *val;
	size_t vlen;
	size_t vcap; /* bytes allocated at val: a SET that fits reuses them */
	size_t klen;
	char key[];
};

static struct {
	pthread_mutex_t lock;
	struct entry **b;
	size_t nb;    /* buckets, a power of two */
	size_t n;     /* entries */
} store = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};

/* Only worker loops touch the store, so a single loop needs no lock: two
 * uncontended atomics per command are a measurable share of a GET. */
static void store_lock(void)
{
	if (srv.threads > 1)
		pthread_mutex_lock(&store.lock);
}

static void store_unlock(void)
{
	if (srv.threads > 1)
		pthread_mutex_unlock(&store.lock);
}

static uint64_t hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	return h;
}

static struct entry **find(const char *k, size_t klen, uint64_t h)
{
	struct entry **pp = &store.b[h & (store.nb - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->klen == klen && !memcmp((*pp)->key, k, klen))
			return pp;
	return pp;
}

static void grow(void)
{
	size_t nb = store.nb ? store.nb * 2 : 1024;
	struct entry **b = calloc(nb, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < store.nb; i++) {
		for (struct entry *e = store.b[i], *next; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(store.b);
	store.b = b;
	store.nb = nb;
}

/* Set key to val; returns false on out of memory. Lock held. */
static bool store_set(const char *k, size_t klen, const char *v, size_t vlen)
{
	if (store.n >= store.nb)
		grow();
	uint64_t h = hash(k, klen);
	struct entry **pp = find(k, klen, h);
	if (*pp && vlen <= (*pp)->vcap) {
		/* Overwriting with a value that fits: no malloc/free pair. */
		memcpy((*pp)->val, v, vlen);
		(*pp)->vlen = vlen;
		return true;
	}
	size_t cap = vlen ? vlen : 1;
	char *val = malloc(cap);
	if (!val)
		return false;
	memcpy(val, v, vlen);
	if (*pp) {
		free((*pp)->val);
	} else {
		struct entry *e = malloc(sizeof(*e) + klen);
		if (!e) {
			free(val);
			return false;
		}
		e->next = NULL;
		e->hash = h;
		e->klen = klen;
		memcpy(e->key, k, klen);
		*pp = e;
		store.n++;
	}
	(*pp)->val = val;
	(*pp)->vlen = vlen;
	(*pp)->vcap = cap;
	return true;
}

static struct entry *store_get(const char *k, size_t klen)
{
	if (!store.nb)
		return NULL;
	return *find(k, klen, hash(k, klen));
}

static bool store_del(const char *k, size_t klen)
{
	if (!store.nb)
		return false;
	struct entry **pp = find(k, klen, hash(k, klen));
	struct entry *e = *pp;
	if (!e)
		return false;
	*pp = e->next;
	free(e->val);
	free(e);
	store.n--;
	return true;
}

static void store_free(void)
{
	for (size_t i = 0; i < store.nb; i++) {
		for (struct entry *e = store.b[i], *next; e; e = next) {
			next = e->next;
			free(e->val);
			free(e);
		}
	}
	free(store.b);
}

/* ---- the protocol ---- */

struct req {
	int argc;
	const char *argv[MAX_ARGS];
	size_t len[MAX_ARGS];
	char arena[REQ_MAX];
	size_t used;
};

static bool is(const struct req *r, int i, const char *name)
{
	return strlen(name) == r->len[i] && !strncasecmp(r->argv[i], name, r->len[i]);
}

static int reply(ringo_stream *out, const char *s)
{
	return ringo_stream_write(out, s, strlen(s));
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

static int reply_bulk(ringo_stream *out, const char *v, size_t n)
{
	char head[32];
	size_t hn = format_ll(head, '$', (long long)n);
	int err = ringo_stream_write(out, head, hn);
	if (!err)
		err = ringo_stream_write(out, v, n);
	return err ? err : ringo_stream_write(out, "\r\n", 2);
}

static int reply_int(ringo_stream *out, long long v)
{
	char b[32];
	return ringo_stream_write(out, b, format_ll(b, ':', v));
}

static bool parse_ll(const char *p, size_t n, long long *out)
{
	char b[32];
	if (n == 0 || n >= sizeof(b))
		return false;
	memcpy(b, p, n);
	b[n] = 0;
	char *end;
	errno = 0;
	*out = strtoll(b, &end, 10);
	return errno == 0 && *end == 0;
}

static int cmd_incr(ringo_stream *out, const struct req *r)
{
	store_lock();
	struct entry *e = store_get(r->argv[1], r->len[1]);
	long long v = 0;
	if (e && !parse_ll(e->val, e->vlen, &v)) {
		store_unlock();
		return reply(out, "-ERR value is not an integer or out of range\r\n");
	}
	char b[32];
	int n = snprintf(b, sizeof(b), "%lld", ++v);
	bool ok = store_set(r->argv[1], r->len[1], b, (size_t)n);
	store_unlock();
	return ok ? reply_int(out, v) : reply(out, "-ERR out of memory\r\n");
}

/* Execute one command; returns <0 on a write error, 1 for QUIT. */
static int execute(ringo_stream *out, const struct req *r)
{
	if (r->argc == 0)
		return 0;
	if (is(r, 0, "PING") && r->argc <= 2)
		return r->argc == 2 ? reply_bulk(out, r->argv[1], r->len[1]) : reply(out, "+PONG\r\n");
	if (is(r, 0, "SET") && r->argc == 3) {
		store_lock();
		bool ok = store_set(r->argv[1], r->len[1], r->argv[2], r->len[2]);
		store_unlock();
		return reply(out, ok ? "+OK\r\n" : "-ERR out of memory\r\n");
	}
	if (is(r, 0, "GET") && r->argc == 2) {
		store_lock();
		struct entry *e = store_get(r->argv[1], r->len[1]);
		int err = e ? reply_bulk(out, e->val, e->vlen) : reply(out, "$-1\r\n");
		store_unlock();
		return err;
	}
	if (is(r, 0, "DEL") && r->argc >= 2) {
		long long n = 0;
		store_lock();
		for (int i = 1; i < r->argc; i++)
			n += store_del(r->argv[i], r->len[i]);
		store_unlock();
		return reply_int(out, n);
	}
	if (is(r, 0, "INCR") && r->argc == 2)
		return cmd_incr(out, r);
	if (is(r, 0, "CONFIG") && r->argc == 3 && is(r, 1, "GET")) {
		/* redis-benchmark asks for a few settings: name them, empty. */
		int err = reply(out, "*2\r\n");
		if (!err)
			err = reply_bulk(out, r->argv[2], r->len[2]);
		return err ? err : reply_bulk(out, "", 0);
	}
	if (is(r, 0, "CONFIG") || is(r, 0, "COMMAND"))
		return reply(out, "*0\r\n");
	if (is(r, 0, "QUIT")) {
		int err = reply(out, "+OK\r\n");
		return err < 0 ? err : 1;
	}
	char msg[128];
	snprintf(msg, sizeof(msg), "-ERR unknown command or wrong number of arguments for '%.*s'\r\n",
		 (int)(r->len[0] < 32 ? r->len[0] : 32), r->argv[0]);
	return reply(out, msg);
}

/* Read a CRLF line; returns its length without CRLF, consumed from the
 * stream into the arena. */
static int read_line(ringo_stream *in, struct req *r, const char **line)
{
	int n = ringo_stream_read_until(in, "\r\n", 2);
	if (n <= 0)
		return n == 0 ? -ENODATA : n;
	size_t avail;
	const char *p = ringo_stream_peek(in, &avail);
	if (r->used + (size_t)n > REQ_MAX)
		return -EMSGSIZE;
	memcpy(r->arena + r->used, p, (size_t)n);
	*line = r->arena + r->used;
	r->used += (size_t)n;
	ringo_stream_consume(in, (size_t)n);
	return n - 2;
}

/* A bulk string: read_exactly keeps a partial one buffered, so it needs
 * one that fits the read buffer; a longer one arrives in pieces (a
 * failure part-way closes the connection, so the pieces cannot matter). */
static int read_bulk(ringo_stream *in, char *dst, size_t n)
{
	if (n <= in->rcap)
		return ringo_stream_read_exactly(in, dst, n);
	for (size_t got = 0; got < n;) {
		int k = ringo_stream_read_some(in, dst + got, n - got);
		if (k <= 0)
			return k < 0 ? k : -ENODATA;
		got += (size_t)k;
	}
	return (int)n;
}

static int read_multibulk(ringo_stream *in, struct req *r, const char *line, int n)
{
	long long count;
	if (!parse_ll(line + 1, (size_t)n - 1, &count) || count < 0 || count > MAX_ARGS)
		return -EPROTO;
	for (int i = 0; i < count; i++) {
		const char *l;
		int ln = read_line(in, r, &l);
		if (ln < 0)
			return ln;
		long long len;
		if (ln < 2 || l[0] != '$' || !parse_ll(l + 1, (size_t)ln - 1, &len) || len < 0)
			return -EPROTO;
		if (r->used + (size_t)len + 2 > REQ_MAX)
			return -EMSGSIZE;
		int got = read_bulk(in, r->arena + r->used, (size_t)len + 2);
		if (got <= 0)
			return got == 0 ? -ENODATA : got;
		r->argv[i] = r->arena + r->used;
		r->len[i] = (size_t)len;
		r->used += (size_t)len + 2;
	}
	r->argc = (int)count;
	return 0;
}

static int read_inline(struct req *r, const char *line, int n)
{
	r->argc = 0;
	for (int i = 0; i < n;) {
		while (i < n && line[i] == ' ')
			i++;
		int start = i;
		while (i < n && line[i] != ' ')
			i++;
		if (i > start) {
			if (r->argc == MAX_ARGS)
				return -EPROTO;
			r->argv[r->argc] = line + start;
			r->len[r->argc++] = (size_t)(i - start);
		}
	}
	return 0;
}

static int read_request(ringo_stream *in, struct req *r)
{
	r->used = 0;
	r->argc = 0;
	const char *line;
	int n = read_line(in, r, &line);
	if (n < 0)
		return n;
	if (n > 0 && line[0] == '*')
		return read_multibulk(in, r, line, n);
	return read_inline(r, line, n);
}

static int kv_conn(void *arg, void **result)
{
	int fd = (int)(intptr_t)arg;
	struct req *r = malloc(sizeof(*r) + 2 * 16384);
	if (!r) {
		ringo_close(fd);
		return 0;
	}
	char *rbuf = (char *)(r + 1), *wbuf = rbuf + 16384;
	ringo_stream in, out;
	ringo_stream_init(&in, fd, rbuf, 16384, NULL, 0);
	ringo_stream_init(&out, fd, NULL, 0, wbuf, 16384);
	for (;;) {
		int err = read_request(&in, r);
		if (err == -EPROTO || err == -EMSGSIZE) {
			reply(&out, err == -EPROTO ? "-ERR Protocol error\r\n"
						   : "-ERR request too large\r\n");
			break;
		}
		if (err < 0)
			break;
		err = execute(&out, r);
		if (err < 0)
			break;
		size_t pending;
		ringo_stream_peek(&in, &pending);
		/* Pipelined commands already here: answer them in one send. */
		if ((pending == 0 || err == 1) && ringo_stream_flush(&out) < 0)
			break;
		if (err == 1)
			break;
	}
	ringo_stream_flush(&out);
	ringo_close(fd);
	free(r);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: kv_server [--host ADDR] [--threads N] PORT\n"
		     "  In-memory key-value server speaking RESP: PING SET GET DEL INCR.\n"
		     "  --host ADDR   address to listen on (default 127.0.0.1)\n"
		     "  --threads N   N loops, one per thread, on a shared SO_REUSEPORT port\n"
		     "  SIGINT/SIGTERM shut it down cleanly.\n");
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--host") && i + 1 < argc) {
			srv.host = argv[++i];
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			srv.threads = atoi(argv[++i]);
		} else if (argv[i][0] != '-' && srv.port < 0) {
			srv.port = atoi(argv[i]);
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (srv.port < 0 || srv.port > 65535 || srv.threads < 1 || srv.threads > 1024) {
		usage(stderr);
		return 2;
	}
	srv.conn = kv_conn;
	int status = serve_run(&srv);
	store_free();
	return status;
}
