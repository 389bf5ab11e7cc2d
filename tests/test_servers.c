/* The example servers as real programs: started from $RINGO_BUILD/examples,
 * driven by ringo client tasks, stopped with SIGTERM. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "servers.h"
#include "support.h"

static ringo_loop *g_loop;
static struct counting_allocator g_ca;

static int setup(void **state)
{
	g_loop = test_loop_new(&g_ca, 0);
	return 0;
}

static int teardown(void **state)
{
	server_kill_leftover();
	test_loop_free(g_loop, &g_ca);
	return 0;
}

/* Start an example server: `NAME [extra...] PORT`; waits until it accepts. */
static pid_t start_server(const char *name, const char *extra1, const char *extra2, int port)
{
	const char *args[] = {extra1, extra2, NULL};
	return server_start(name, args, port, false);
}

static int stop_server(pid_t pid)
{
	return server_stop(pid);
}

/* ---- echo: many connections, random sizes, checksums ---- */

struct client {
	int port;
	uint32_t seed;
	int rounds;
	int ok_rounds;
	int err;
};


static uint32_t fnv1a(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

#define MAX_MSG 16384

static int echo_client(void *arg, void **result)
{
	struct client *c = arg;
	unsigned char *out = malloc(2 * MAX_MSG), *in = out + MAX_MSG;
	int fd = ringo_tcp_connect("127.0.0.1", c->port, RINGO_SEC(30));
	if (fd < 0) {
		c->err = fd;
		free(out);
		return 0;
	}
	ringo_stream *s;
	int err = ringo_stream_new(ringo_loop_current(), fd, NULL, &s);
	if (err < 0) {
		c->err = err;
		ringo_close(fd);
		free(out);
		return 0;
	}
	for (int r = 0; r < c->rounds; r++) {
		size_t len = 1 + test_xorshift(&c->seed) % MAX_MSG;
		uint32_t seed = c->seed;
		for (size_t i = 0; i < len; i++)
			out[i] = (unsigned char)test_xorshift(&seed);
		uint32_t sum = fnv1a(out, len);
		int n = ringo_stream_write(s, out, len);
		if (n == 0)
			n = ringo_stream_drain(s);
		if (n < 0) {
			c->err = n;
			break;
		}
		n = ringo_stream_read_exactly(s, in, len);
		if (n != (int)len) {
			if (n >= 0)
				fprintf(stderr, "client: read %d of %zu\n", n, len);
			c->err = n < 0 ? n : -EIO;
			break;
		}
		if (fnv1a(in, len) != sum) {
			c->err = -EBADMSG;
			break;
		}
		c->ok_rounds++;
	}
	ringo_stream_free(s);
	free(out);
	return 0;
}

static void run_clients(int port, int nconns, int rounds)
{
	struct client *cs = calloc((size_t)nconns, sizeof(*cs));
	ringo_task **ts = calloc((size_t)nconns, sizeof(*ts));
	for (int i = 0; i < nconns; i++) {
		cs[i] = (struct client){port, 0x9e3779b9u ^ (uint32_t)(i * 7919 + 1), rounds, 0, 0};
		assert_int_equal(ringo_spawn(g_loop, echo_client, &cs[i], NULL, &ts[i]), 0);
	}
	for (int i = 0; i < nconns; i++) {
		assert_int_equal(ringo_loop_run_until_complete(g_loop, ringo_task_future(ts[i]), NULL), 0);
		ringo_task_release(ts[i]);
	}
	for (int i = 0; i < nconns; i++) {
		if (cs[i].err)
			fail_msg("client %d: %s after %d rounds", i, ringo_strerror(cs[i].err),
				 cs[i].ok_rounds);
		assert_int_equal(cs[i].ok_rounds, rounds);
	}
	free(cs);
	free(ts);
}

static void test_echo_server_1000_connections_random_sizes_checksums(void **state)
{
	int port = free_port();
	pid_t pid = start_server("examples/echo_server", NULL, NULL, port);
	int n = under_valgrind() ? 20 : 1000;
	run_clients(port, n, under_valgrind() ? 2 : 5);
	assert_int_equal(stop_server(pid), 0);
}

static void test_echo_server_threads_share_the_port(void **state)
{
	int port = free_port();
	pid_t pid = start_server("examples/echo_server", "--threads", "2", port);
	run_clients(port, under_valgrind() ? 10 : 100, 3);
	assert_int_equal(stop_server(pid), 0);
}

static void test_echo_server_stops_on_sigint_with_open_connections(void **state)
{
	int port = free_port();
	pid_t pid = start_server("examples/echo_server", NULL, NULL, port);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(0x7f000001)};
	assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(send(c, "x", 1, 0), 1);
	char b;
	assert_int_equal(recv(c, &b, 1, 0), 1);
	kill(pid, SIGINT);
	assert_int_equal(server_wait(pid), 0);
	/* Its connection was closed on the way out. */
	assert_int_equal(recv(c, &b, 1, 0), 0);
	close(c);
}

/* ---- kv_server ---- */

/* kv_server args... on a free port, under valgrind in `make valgrind`. */
static pid_t start_kv(int *port, const char *const *args)
{
	*port = free_port();
	return server_start("examples/kv_server", args, *port, true);
}

static void test_kv_server_speaks_resp(void **state)
{
	int port;
	pid_t pid = start_kv(&port, NULL);
	static char out[4096];
	const char req[] = "*1\r\n$4\r\nPING\r\n"
			   "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n41\r\n"
			   "*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n"
			   "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
			   "*3\r\n$3\r\nDEL\r\n$1\r\nk\r\n$1\r\nz\r\n"
			   "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
			   "INCR k\r\n"
			   "*3\r\n$3\r\nSET\r\n$1\r\ns\r\n$3\r\nabc\r\n"
			   "*2\r\n$4\r\nINCR\r\n$1\r\ns\r\n"
			   "*1\r\n$5\r\nBOGUS\r\n"
			   "GET\r\n"
			   "\r\n*0\r\n";
	exchange(port, req, sizeof(req) - 1, out, sizeof(out));
	assert_string_equal(out, "+PONG\r\n+OK\r\n:42\r\n$2\r\n42\r\n:1\r\n$-1\r\n:1\r\n+OK\r\n"
				 "-ERR value is not an integer or out of range\r\n"
				 "-ERR unknown command 'BOGUS', with args beginning with: \r\n"
				 "-ERR wrong number of arguments for 'get' command\r\n");
	/* A protocol error closes that connection only. */
	const char bad[] = "*x\r\n";
	exchange(port, bad, sizeof(bad) - 1, out, sizeof(out));
	assert_string_equal(out, "-ERR Protocol error: invalid multibulk length\r\n");
	const char ping[] = "PING\r\n";
	exchange(port, ping, sizeof(ping) - 1, out, sizeof(out));
	assert_string_equal(out, "+PONG\r\n");
	assert_int_equal(server_stop(pid), 0);
}

/* Redis's answers, checked against redis-server 7.0: an overflowing
 * INCR/DECR/INCRBY/DECRBY is an error and changes nothing. */
static void test_kv_incr_family_refuses_overflow_and_non_integers(void **state)
{
	int port;
	pid_t pid = start_kv(&port, NULL);
	static char out[4096];
	const char req[] = "SET k 9223372036854775807\r\nINCR k\r\nINCRBY k 1\r\nGET k\r\n"
			   "SET k -9223372036854775808\r\nDECR k\r\nDECRBY k 1\r\nINCRBY k -1\r\nGET k\r\n"
			   "SET k 0\r\nDECRBY k -9223372036854775808\r\n"
			   "INCRBY k 9223372036854775807\r\nDECRBY k 9223372036854775807\r\nDECR k\r\n"
			   "INCRBY k 9223372036854775808\r\nINCRBY k abc\r\nINCRBY k 01\r\n"
			   "SET s 01\r\nINCR s\r\nSET s +1\r\nDECR s\r\nSET s 1.5\r\nINCR s\r\n"
			   "INCR fresh\r\nDECR fresh2\r\nINCRBY fresh3 -5\r\nDECRBY fresh4 -5\r\nINCR\r\n";
	exchange(port, req, sizeof(req) - 1, out, sizeof(out));
	assert_string_equal(out, "+OK\r\n"
				 "-ERR increment or decrement would overflow\r\n"
				 "-ERR increment or decrement would overflow\r\n"
				 "$19\r\n9223372036854775807\r\n"
				 "+OK\r\n"
				 "-ERR increment or decrement would overflow\r\n"
				 "-ERR increment or decrement would overflow\r\n"
				 "-ERR increment or decrement would overflow\r\n"
				 "$20\r\n-9223372036854775808\r\n"
				 "+OK\r\n"
				 "-ERR decrement would overflow\r\n"
				 ":9223372036854775807\r\n:0\r\n:-1\r\n"
				 "-ERR value is not an integer or out of range\r\n"
				 "-ERR value is not an integer or out of range\r\n"
				 "-ERR value is not an integer or out of range\r\n"
				 "+OK\r\n-ERR value is not an integer or out of range\r\n"
				 "+OK\r\n-ERR value is not an integer or out of range\r\n"
				 "+OK\r\n-ERR value is not an integer or out of range\r\n"
				 ":1\r\n:-1\r\n:-5\r\n:5\r\n"
				 "-ERR wrong number of arguments for 'incr' command\r\n");
	assert_int_equal(server_stop(pid), 0);
}

/* Text from a request is put into an error reply with CR and LF made
 * spaces (as redis): a command named "X\r\n+OK" cannot forge a reply. */
static void test_kv_error_replies_never_carry_request_crlf(void **state)
{
	int port;
	pid_t pid = start_kv(&port, NULL);
	static char out[4096];
	const char req[] = "*1\r\n$6\r\nX\r\n+OK\r\n"
			   "*3\r\n$3\r\nFOO\r\n$4\r\na\r\n:\r\n$3\r\nb\nc\r\n"
			   "PING\r\n";
	exchange(port, req, sizeof(req) - 1, out, sizeof(out));
	assert_string_equal(out, "-ERR unknown command 'X  +OK', with args beginning with: \r\n"
				 "-ERR unknown command 'FOO', with args beginning with: 'a  :' 'b c' \r\n"
				 "+PONG\r\n");
	/* Long names and arguments are cut to 128 bytes, as redis does. */
	static char big[1024];
	int n = snprintf(big, sizeof(big), "*2\r\n$300\r\n");
	memset(big + n, 'n', 300);
	n += 300;
	n += snprintf(big + n, sizeof(big) - (size_t)n, "\r\n$300\r\n");
	memset(big + n, 'a', 300);
	n += 300;
	n += snprintf(big + n, sizeof(big) - (size_t)n, "\r\n");
	exchange(port, big, (size_t)n, out, sizeof(out));
	assert_int_equal(strlen(out), strlen("-ERR unknown command '', with args beginning with: '' \r\n") + 256);
	assert_int_equal(count(out, "\r\n"), 1);
	assert_int_equal(server_stop(pid), 0);
}

static char *resp_command(size_t *len, int argc, const char *const *argv, const size_t *lens)
{
	size_t cap = 32;
	for (int i = 0; i < argc; i++)
		cap += lens[i] + 32;
	char *p = malloc(cap);
	size_t n = (size_t)snprintf(p, cap, "*%d\r\n", argc);
	for (int i = 0; i < argc; i++) {
		n += (size_t)snprintf(p + n, cap - n, "$%zu\r\n", lens[i]);
		memcpy(p + n, argv[i], lens[i]);
		n += lens[i];
		memcpy(p + n, "\r\n", 2);
		n += 2;
	}
	*len = n;
	return p;
}

/* A request no longer has to fit in 64 KiB: a 4 MiB value goes in and
 * comes back whole (read as it arrives, in a buffer that grows). */
static void test_kv_large_bulk_is_read_incrementally(void **state)
{
	int port;
	pid_t pid = start_kv(&port, NULL);
	size_t vlen = 4 << 20, n;
	char *val = malloc(vlen);
	for (size_t i = 0; i < vlen; i++)
		val[i] = (char)('a' + i % 23);
	const char *argv[] = {"SET", "big", val};
	size_t lens[] = {3, 3, vlen};
	char *set = resp_command(&n, 3, argv, lens);
	int fd = connect_port(port);
	assert_int_equal(send(fd, set, n, 0), (ssize_t)n);
	const char get[] = "GET big\r\nDEL big\r\n";
	assert_int_equal(send(fd, get, sizeof(get) - 1, 0), (ssize_t)sizeof(get) - 1);
	shutdown(fd, SHUT_WR);
	size_t cap = vlen + 256;
	char *out = malloc(cap);
	size_t got = read_all(fd, out, cap);
	close(fd);
	char head[64];
	int hn = snprintf(head, sizeof(head), "+OK\r\n$%zu\r\n", vlen);
	assert_int_equal(got, (size_t)hn + vlen + 2 + 4);
	assert_memory_equal(out, head, (size_t)hn);
	assert_memory_equal(out + hn, val, vlen);
	assert_memory_equal(out + hn + vlen, "\r\n:1\r\n", 6);
	free(out);
	free(set);
	free(val);
	assert_int_equal(server_stop(pid), 0);
}

/* A bulk over --max-bulk-len gets redis's error, and the client can read
 * it: the server shuts its side and drains instead of resetting the
 * connection, though the client goes on sending. */
static void test_kv_bulk_over_max_gets_the_error_before_close(void **state)
{
	int port;
	const char *args[] = {"--max-bulk-len", "1000", NULL};
	pid_t pid = start_kv(&port, args);
	static char out[4096];
	const char ok[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000\r\n";
	static char req[300000];
	size_t n = sizeof(ok) - 1;
	memcpy(req, ok, n);
	memset(req + n, 'v', 1000);
	n += 1000;
	memcpy(req + n, "\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1001\r\n", 29);
	n += 29;
	memset(req + n, 'w', sizeof(req) - n); /* more than the socket buffers take at once */
	int fd = connect_port(port);
	for (size_t done = 0; done < sizeof(req);) {
		ssize_t r = send(fd, req + done, sizeof(req) - done, MSG_NOSIGNAL);
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	size_t got = read_all(fd, out, sizeof(out));
	close(fd);
	assert_int_equal(got, strlen(out));
	assert_string_equal(out, "+OK\r\n-ERR Protocol error: invalid bulk length\r\n");
	/* A request over --max-query-len in all: an error too. */
	assert_int_equal(server_stop(pid), 0);
	const char *args2[] = {"--max-query-len", "5000", NULL};
	pid = start_kv(&port, args2);
	const char *argv[] = {"SET", "k", req + 2000};
	size_t lens[] = {3, 1, 6000};
	char *big = resp_command(&n, 3, argv, lens);
	exchange(port, big, n, out, sizeof(out));
	assert_string_equal(out, "-ERR Protocol error: query buffer limit reached\r\n");
	free(big);
	assert_int_equal(server_stop(pid), 0);
}

/* Any reasonable argument count (64 was a protocol error): DEL of 5000
 * keys; over 1M arguments is redis's error. */
static void test_kv_commands_with_many_arguments(void **state)
{
	int port;
	pid_t pid = start_kv(&port, NULL);
	size_t nkeys = 5000, cap = nkeys * 40 + 64, n = 0;
	char *req = malloc(cap);
	for (size_t i = 0; i < nkeys; i++)
		n += (size_t)snprintf(req + n, cap - n, "SET key:%zu %zu\r\n", i, i);
	n += (size_t)snprintf(req + n, cap - n, "*%zu\r\n$3\r\nDEL\r\n", nkeys + 1);
	for (size_t i = 0; i < nkeys; i++) {
		char k[32];
		int kl = snprintf(k, sizeof(k), "key:%zu", i);
		n += (size_t)snprintf(req + n, cap - n, "$%d\r\n%s\r\n", kl, k);
	}
	size_t ocap = nkeys * 5 + 64;
	char *out = malloc(ocap);
	exchange(port, req, n, out, ocap);
	assert_int_equal(count(out, "+OK\r\n"), (int)nkeys);
	assert_non_null(strstr(out, "+OK\r\n:5000\r\n"));
	const char over[] = "*1048577\r\n";
	exchange(port, over, sizeof(over) - 1, out, ocap);
	assert_string_equal(out, "-ERR Protocol error: invalid multibulk length\r\n");
	free(out);
	free(req);
	assert_int_equal(server_stop(pid), 0);
}

/* A GET whose reply does not fit the socket buffers suspends in send;
 * meanwhile another client deletes and overwrites the value. The reply
 * must still be the value as it was (the server used to send straight
 * from the stored value, freed by the DEL under the kernel's feet). */
static void test_kv_get_of_a_large_value_survives_a_concurrent_del(void **state)
{
	int port;
	pid_t pid = start_kv(&port, NULL);
	size_t vlen = 32 << 20, n;
	char *val = malloc(vlen);
	for (size_t i = 0; i < vlen; i++)
		val[i] = (char)('a' + i % 13);
	const char *argv[] = {"SET", "big", val};
	size_t lens[] = {3, 3, vlen};
	char *set = resp_command(&n, 3, argv, lens);
	int b = connect_port(port);
	for (size_t done = 0; done < n;)
		done += (size_t)send(b, set + done, n - done, 0);
	char line[64];
	assert_int_equal(recv(b, line, 5, MSG_WAITALL), 5);
	int a = connect_port(port);
	assert_int_equal(send(a, "GET big\r\n", 9, 0), 9);
	/* The reply has begun: read its head and a little, then stop. */
	char head[64];
	int hn = snprintf(head, sizeof(head), "$%zu\r\n", vlen);
	char *got = malloc(vlen + 64);
	assert_int_equal(recv(a, got, (size_t)hn + 100, MSG_WAITALL), hn + 100);
	memset(set + n - vlen - 2, 'X', vlen); /* the new value */
	for (size_t done = 0; done < n;)
		done += (size_t)send(b, set + done, n - done, 0);
	const char del[] = "DEL big\r\nGET nothing\r\n";
	assert_int_equal(send(b, del, sizeof(del) - 1, 0), (ssize_t)sizeof(del) - 1);
	/* SET then DEL then GET answered: the server went on with b while a's
	 * 32 MiB reply could not have been sent yet. */
	assert_int_equal(recv(b, line, 14, MSG_WAITALL), 14);
	assert_memory_equal(line, "+OK\r\n:1\r\n$-1\r\n", 14);
	size_t total = (size_t)hn + 100;
	while (total < (size_t)hn + vlen + 2) {
		ssize_t r = recv(a, got + total, (size_t)hn + vlen + 2 - total, 0);
		if (r <= 0)
			break;
		total += (size_t)r;
	}
	assert_int_equal(total, (size_t)hn + vlen + 2);
	assert_memory_equal(got, head, (size_t)hn);
	assert_true(memcmp(got + hn, val, vlen) == 0);
	close(a);
	close(b);
	free(got);
	free(set);
	free(val);
	assert_int_equal(server_stop(pid), 0);
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = atol(line + 6);
	if (f)
		fclose(f);
	return kb;
}

/* Read replies until want of them (counted by their "\r\n") arrived. */
static void await_replies(int fd, int want)
{
	char buf[65536];
	int seen = 0;
	while (seen < want) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		assert_true(r > 0);
		for (ssize_t i = 0; i < r; i++)
			seen += buf[i] == '\n';
	}
}

/* DEL gives the memory back while the client stays connected: values
 * freed, the connection's buffer shrunk (64 MiB SET as one request), and
 * glibc's free pages trimmed. Measured as the server's RSS; skipped where
 * another allocator (ASan, TSan, valgrind) keeps freed memory on purpose. */
static void test_kv_memory_goes_back_after_del(void **state)
{
	if (built_with_sanitizer() || server_wrapped())
		skip();
	int port;
	pid_t pid = start_kv(&port, NULL);
	long base = rss_kb(pid);
	int fd = connect_port(port);
	size_t vlen = 32 * 1024, nkeys = 2000, n;
	char *val = malloc(64 << 20);
	memset(val, 'v', 64 << 20);
	for (size_t i = 0; i < nkeys; i++) {
		char cmd[64];
		int hn = snprintf(cmd, sizeof(cmd), "*3\r\n$3\r\nSET\r\n$8\r\nkey:%04zu\r\n$%zu\r\n", i, vlen);
		assert_int_equal(send(fd, cmd, (size_t)hn, 0), hn);
		assert_int_equal(send(fd, val, vlen, 0), (ssize_t)vlen);
		assert_int_equal(send(fd, "\r\n", 2, 0), 2);
	}
	await_replies(fd, (int)nkeys);
	const char *argv[] = {"SET", "huge", val};
	size_t lens[] = {3, 4, 64 << 20};
	char *huge = resp_command(&n, 3, argv, lens);
	for (size_t done = 0; done < n;)
		done += (size_t)send(fd, huge + done, n - done, 0);
	await_replies(fd, 1);
	long peak = rss_kb(pid);
	assert_true(peak - base > 100 * 1024); /* 64 MiB of values, 64 MiB in "huge" */
	size_t cap = nkeys * 24 + 64, m = 0;
	char *del = malloc(cap);
	m += (size_t)snprintf(del, cap, "*%zu\r\n$3\r\nDEL\r\n$4\r\nhuge\r\n", nkeys + 2);
	for (size_t i = 0; i < nkeys; i++)
		m += (size_t)snprintf(del + m, cap - m, "$8\r\nkey:%04zu\r\n", i);
	assert_int_equal(send(fd, del, m, 0), (ssize_t)m);
	await_replies(fd, 1);
	long after = rss_kb(pid);
	if (after - base > (peak - base) / 4)
		fail_msg("RSS: %ld kB at start, %ld at the peak, %ld after DEL", base, peak, after);
	close(fd);
	free(del);
	free(huge);
	free(val);
	assert_int_equal(server_stop(pid), 0);
}

/* --threads 2: two loops, one store behind its lock (TSan checks it). */
struct kv_client {
	int port, id, err;
};

static int kv_client_task(void *arg, void **result)
{
	struct kv_client *c = arg;
	int fd = ringo_tcp_connect("127.0.0.1", c->port, RINGO_FOREVER);
	if (fd < 0) {
		c->err = fd;
		return 0;
	}
	ringo_stream *s;
	c->err = ringo_stream_new(ringo_loop_current(), fd, NULL, &s);
	if (c->err < 0) {
		ringo_close(fd);
		return 0;
	}
	for (int i = 0; i < 200 && !c->err; i++) {
		char cmd[128];
		int n = snprintf(cmd, sizeof(cmd), "SET k%d:%d %d\r\nINCR counter\r\nDEL k%d:%d\r\n", c->id, i,
				 i, c->id, i);
		if (ringo_stream_write(s, cmd, (size_t)n) < 0)
			c->err = -EIO;
		for (int r = 0; r < 3 && !c->err; r++) {
			char line[256];
			int len = ringo_stream_read_until(s, "\r\n", 2, line, sizeof(line));
			if (len <= 0) {
				c->err = len < 0 ? len : -ENODATA;
				break;
			}
			if (line[0] == '-')
				c->err = -EPROTO;
		}
	}
	ringo_stream_free(s);
	return 0;
}

static void test_kv_threads_share_one_store(void **state)
{
	int port;
	const char *args[] = {"--threads", "2", NULL};
	pid_t pid = start_kv(&port, args);
	struct kv_client cs[8];
	ringo_task *ts[8];
	for (int i = 0; i < 8; i++) {
		cs[i] = (struct kv_client){port, i, 0};
		assert_int_equal(ringo_spawn(g_loop, kv_client_task, &cs[i], NULL, &ts[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(ringo_loop_run_until_complete(g_loop, ringo_task_future(ts[i]), NULL), 0);
		ringo_task_release(ts[i]);
		assert_int_equal(cs[i].err, 0);
	}
	static char out[256];
	const char get[] = "GET counter\r\n";
	exchange(port, get, sizeof(get) - 1, out, sizeof(out));
	assert_string_equal(out, "$4\r\n1600\r\n");
	assert_int_equal(server_stop(pid), 0);
}

/* ---- cat and cp ---- */

static void test_cat_and_cp_copy_files(void **state)
{
	char dir[64], src[96], dst[96], cmd[512], path[256], path2[256];
	snprintf(dir, sizeof(dir), "/tmp/ringo-cp-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(dst, sizeof(dst), "%s/dst", dir);
	FILE *f = fopen(src, "w");
	uint32_t seed = 12345;
	size_t size = under_valgrind() ? 100000 : 1000003; /* not a chunk multiple */
	unsigned char *data = malloc(size);
	for (size_t i = 0; i < size; i++)
		data[i] = (unsigned char)test_xorshift(&seed);
	fwrite(data, 1, size, f);
	fclose(f);
	build_path("examples/cp", path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "%s --depth 3 %s %s", path, src, dst);
	static char out[4096];
	assert_int_equal(run_capture(cmd, out, sizeof(out)), 0);
	snprintf(cmd, sizeof(cmd), "cmp -s %s %s", src, dst);
	assert_int_equal(system(cmd), 0);
	build_path("examples/cat", path2, sizeof(path2));
	snprintf(cmd, sizeof(cmd), "%s %s | cksum; cksum < %s", path2, src, src);
	assert_int_equal(run_capture(cmd, out, sizeof(out)), 0);
	char *nl = strchr(out, '\n');
	assert_non_null(nl);
	assert_int_equal(strncmp(out, nl + 1, (size_t)(nl - out)), 0);
	snprintf(cmd, sizeof(cmd), "%s %s/missing 2>/dev/null", path2, dir);
	assert_int_equal(run_capture(cmd, out, sizeof(out)), 1);
	unlink(src);
	unlink(dst);
	rmdir(dir);
	free(data);
}

static void test_examples_print_help(void **state)
{
	const char *names[] = {"examples/echo_server", "examples/http_server", "examples/kv_server",
			       "examples/cat", "examples/cp"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[256], cmd[300], out[2048];
		build_path(names[i], path, sizeof(path));
		if (access(path, X_OK) != 0)
			continue; /* not built in this tree */
		snprintf(cmd, sizeof(cmd), "%s --help", path);
		assert_int_equal(run_capture(cmd, out, sizeof(out)), 0);
		assert_non_null(strstr(out, "usage:"));
	}
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_echo_server_1000_connections_random_sizes_checksums, setup, teardown),
		cmocka_unit_test_setup_teardown(test_echo_server_threads_share_the_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_echo_server_stops_on_sigint_with_open_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv_server_speaks_resp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv_incr_family_refuses_overflow_and_non_integers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv_error_replies_never_carry_request_crlf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv_large_bulk_is_read_incrementally, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv_bulk_over_max_gets_the_error_before_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv_commands_with_many_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv_get_of_a_large_value_survives_a_concurrent_del, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv_memory_goes_back_after_del, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv_threads_share_one_store, setup, teardown),
		cmocka_unit_test(test_cat_and_cp_copy_files),
		cmocka_unit_test(test_examples_print_help),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
