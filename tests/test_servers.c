/* The example servers as real programs: started from $RINGO_BUILD/examples,
 * driven by ringo client tasks, stopped with SIGTERM. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
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
	char rb[4096];
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
		cmocka_unit_test(test_examples_print_help),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
