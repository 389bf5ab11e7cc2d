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

#include "support.h"

static ringo_loop *g_loop;
static struct counting_allocator g_ca;
static pid_t g_server; /* a server still running, killed by teardown */

static int setup(void **state)
{
	g_loop = test_loop_new(&g_ca, 0);
	return 0;
}

static int teardown(void **state)
{
	if (g_server > 0) {
		kill(g_server, SIGKILL);
		waitpid(g_server, NULL, 0);
		g_server = 0;
	}
	test_loop_free(g_loop, &g_ca);
	return 0;
}

static bool under_valgrind(void)
{
	const char *v = getenv("RINGO_UNDER_VALGRIND");
	return v && v[0] == '1';
}

static int free_port(void)
{
	int fd = ringo_listen_tcp(NULL, 0, 1, 0);
	assert_true(fd >= 0);
	int port = ringo_local_port(fd);
	close(fd);
	return port;
}

/* Start an example server: `NAME [extra...] PORT`; waits until it accepts. */
static pid_t start_server(const char *name, const char *extra1, const char *extra2, int port)
{
	char path[256], portbuf[16];
	build_path(name, path, sizeof(path));
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const char *argv[6] = {path};
		int i = 1;
		if (extra1)
			argv[i++] = extra1;
		if (extra2)
			argv[i++] = extra2;
		argv[i++] = portbuf;
		argv[i] = NULL;
		execv(path, (char **)argv);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(0x7f000001)};
		int rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
		close(fd);
		if (rc == 0) {
			g_server = pid;
			return pid;
		}
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("%s did not start listening", name);
	return -1;
}

static int stop_server(pid_t pid)
{
	kill(pid, SIGTERM);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	g_server = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- echo: many connections, random sizes, checksums ---- */

struct client {
	int port;
	uint32_t seed;
	int rounds;
	int ok_rounds;
	int err;
};

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

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
	int fd = ringo_dial("127.0.0.1", c->port, ringo_loop_time_ns(ringo_loop_current()) + RINGO_SEC(30));
	if (fd < 0) {
		c->err = fd;
		free(out);
		return 0;
	}
	/* read_exactly keeps a partial message buffered: room for the largest. */
	char rb[MAX_MSG];
	ringo_stream s;
	ringo_stream_init(&s, fd, rb, sizeof(rb), NULL, 0);
	for (int r = 0; r < c->rounds; r++) {
		size_t len = 1 + xorshift(&c->seed) % MAX_MSG;
		uint32_t seed = c->seed;
		for (size_t i = 0; i < len; i++)
			out[i] = (unsigned char)xorshift(&seed);
		uint32_t sum = fnv1a(out, len);
		int n = ringo_send_all(fd, out, len);
		if (n < 0) {
			c->err = n;
			break;
		}
		n = ringo_stream_read_exactly(&s, in, len);
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
	ringo_close(fd);
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
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	g_server = 0;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* Its connection was closed on the way out. */
	assert_int_equal(recv(c, &b, 1, 0), 0);
	close(c);
}

/* ---- plain blocking client helpers ---- */

static int connect_port(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(0x7f000001)};
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct timeval tv = {10, 0}; /* bounds every test below */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Read until the peer closes; returns the byte count (NUL-terminated). */
static size_t read_all(int fd, char *out, size_t cap)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = recv(fd, out + n, cap - 1 - n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	out[n] = 0;
	return n;
}

/* Send req, close our side, collect everything the server answers. */
static size_t exchange(int port, const char *req, size_t len, char *out, size_t cap)
{
	int fd = connect_port(port);
	assert_int_equal(send(fd, req, len, 0), (ssize_t)len);
	shutdown(fd, SHUT_WR);
	size_t n = read_all(fd, out, cap);
	close(fd);
	return n;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* ---- http_server ---- */

static char g_root[64];

static pid_t start_http(int port)
{
	snprintf(g_root, sizeof(g_root), "/tmp/ringo-http-XXXXXX");
	assert_non_null(mkdtemp(g_root));
	char file[128];
	snprintf(file, sizeof(file), "%s/hello.txt", g_root);
	FILE *f = fopen(file, "w");
	fputs("file body\n", f);
	fclose(f);
	char path[256], portbuf[16];
	build_path("examples/http_server", path, sizeof(path));
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	pid_t pid = fork();
	if (pid == 0) {
		execl(path, path, "--root", g_root, "--timeout-ms", "300", portbuf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(0x7f000001)};
		int rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
		close(fd);
		if (rc == 0) {
			g_server = pid;
			return pid;
		}
		usleep(10000);
	}
	fail_msg("http_server did not start");
	return -1;
}

static void stop_http(pid_t pid)
{
	assert_int_equal(stop_server(pid), 0);
	char file[128];
	snprintf(file, sizeof(file), "%s/hello.txt", g_root);
	unlink(file);
	rmdir(g_root);
}

static void test_http_keep_alive_pipelined_requests(void **state)
{
	int port = free_port();
	pid_t pid = start_http(port);
	static char out[65536];
	const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
			   "HEAD / HTTP/1.1\r\n\r\n";
	exchange(port, req, sizeof(req) - 1, out, sizeof(out));
	assert_int_equal(count(out, "HTTP/1.1 200 OK"), 3);
	assert_int_equal(count(out, "Hello, World!"), 2);
	assert_int_equal(count(out, "Connection: keep-alive"), 3);
	stop_http(pid);
}

static void test_http_malformed_request_gets_400_and_server_keeps_serving(void **state)
{
	int port = free_port();
	pid_t pid = start_http(port);
	static char out[65536];
	const char bad[] = "this is not http\r\n\r\n";
	exchange(port, bad, sizeof(bad) - 1, out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 400 Bad Request"));
	const char bad2[] = "GET / HTTP/1.1\r\nno colon here\r\n\r\n";
	exchange(port, bad2, sizeof(bad2) - 1, out, sizeof(out));
	assert_non_null(strstr(out, "400 Bad Request"));
	const char good[] = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
	exchange(port, good, sizeof(good) - 1, out, sizeof(out));
	assert_non_null(strstr(out, "200 OK"));
	stop_http(pid);
}

static void test_http_limits_and_files(void **state)
{
	int port = free_port();
	pid_t pid = start_http(port);
	static char out[65536], big[12000];
	/* A head over 8 KiB: 431. */
	int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX-Big: ");
	memset(big + n, 'a', 10000);
	memcpy(big + n + 10000, "\r\n\r\n", 4);
	exchange(port, big, (size_t)n + 10004, out, sizeof(out));
	assert_non_null(strstr(out, "431"));
	/* A body over 1 MiB: 413. */
	const char huge[] = "POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n";
	exchange(port, huge, sizeof(huge) - 1, out, sizeof(out));
	assert_non_null(strstr(out, "413"));
	/* Files from --root; no escaping it. */
	const char file[] = "GET /hello.txt HTTP/1.1\r\n\r\nGET /../etc/passwd HTTP/1.1\r\n\r\n"
			    "GET /missing HTTP/1.1\r\n\r\n";
	exchange(port, file, sizeof(file) - 1, out, sizeof(out));
	assert_non_null(strstr(out, "file body"));
	assert_int_equal(count(out, "404 Not Found"), 2);
	stop_http(pid);
}

static void test_http_slow_client_times_out(void **state)
{
	int port = free_port();
	pid_t pid = start_http(port); /* --timeout-ms 300 */
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
	const char good[] = "GET / HTTP/1.1\r\n\r\n";
	exchange(port, good, sizeof(good) - 1, out, sizeof(out));
	assert_non_null(strstr(out, "200 OK"));
	stop_http(pid);
}

/* ---- kv_server ---- */

static void test_kv_server_speaks_resp(void **state)
{
	int port = free_port();
	pid_t pid = start_server("examples/kv_server", NULL, NULL, port);
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
			   "*1\r\n$5\r\nBOGUS\r\n";
	exchange(port, req, sizeof(req) - 1, out, sizeof(out));
	assert_string_equal(out, "+PONG\r\n+OK\r\n:42\r\n$2\r\n42\r\n:1\r\n$-1\r\n:1\r\n+OK\r\n"
				 "-ERR value is not an integer or out of range\r\n"
				 "-ERR unknown command or wrong number of arguments for 'BOGUS'\r\n");
	/* A protocol error closes that connection only. */
	const char bad[] = "*x\r\n";
	exchange(port, bad, sizeof(bad) - 1, out, sizeof(out));
	assert_string_equal(out, "-ERR Protocol error\r\n");
	const char ping[] = "PING\r\n";
	exchange(port, ping, sizeof(ping) - 1, out, sizeof(out));
	assert_string_equal(out, "+PONG\r\n");
	assert_int_equal(stop_server(pid), 0);
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
		data[i] = (unsigned char)xorshift(&seed);
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
		cmocka_unit_test_setup_teardown(test_http_keep_alive_pipelined_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_malformed_request_gets_400_and_server_keeps_serving, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_limits_and_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_slow_client_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv_server_speaks_resp, setup, teardown),
		cmocka_unit_test(test_cat_and_cp_copy_files),
		cmocka_unit_test(test_examples_print_help),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
