/* UDP: ringo_udp_bind / ringo_udp_connect, ringo_sendto / ringo_recvfrom
 * (and ringo_send / ringo_recv on connected sockets), and the udp_echo
 * example under several clients. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "servers.h"
#include "support.h"

/* ---- helpers ---- */

static struct sockaddr_in local4(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	return a;
}

static int sockopt(int fd, int level, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);
	assert_int_equal(getsockopt(fd, level, opt, &v, &len), 0);
	return v;
}

static bool have_ipv6(void)
{
	int fd = ringo_udp_bind("::1", 0, 0);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* A UDP port nobody uses right now. */
static int free_udp_port(void)
{
	int fd = ringo_udp_bind("127.0.0.1", 0, 0);
	assert_true(fd >= 0);
	int port = ringo_socket_port(fd);
	close(fd);
	return port;
}

/* ---- bind and connect ---- */

static void test_udp_bind_picks_a_port_and_sets_no_reuse_option_unasked(void **state)
{
	int fd = ringo_udp_bind("127.0.0.1", 0, 0);
	assert_true(fd >= 0);
	int port = ringo_socket_port(fd);
	assert_true(port > 0);
	assert_int_equal(sockopt(fd, SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
	assert_int_equal(sockopt(fd, SOL_SOCKET, SO_REUSEADDR), 0);
	assert_int_equal(sockopt(fd, SOL_SOCKET, SO_REUSEPORT), 0);
	/* Nobody else takes the port (and its datagrams) from under it. */
	assert_int_equal(ringo_udp_bind("127.0.0.1", port, 0), -EADDRINUSE);
	assert_int_equal(ringo_udp_bind("127.0.0.1", port, RINGO_UDP_REUSEADDR), -EADDRINUSE);
	close(fd);
}

static void test_udp_bind_reuseport_and_reuseaddr_share_a_port(void **state)
{
	const unsigned flags[] = {RINGO_UDP_REUSEPORT, RINGO_UDP_REUSEADDR};
	const int opts[] = {SO_REUSEPORT, SO_REUSEADDR};
	for (int i = 0; i < 2; i++) {
		int a = ringo_udp_bind("127.0.0.1", 0, flags[i]);
		assert_true(a >= 0);
		int port = ringo_socket_port(a);
		assert_int_equal(sockopt(a, SOL_SOCKET, opts[i]), 1);
		int b = ringo_udp_bind("127.0.0.1", port, flags[i]);
		assert_true(b >= 0);
		/* Only sockets that all asked share it. */
		assert_int_equal(ringo_udp_bind("127.0.0.1", port, 0), -EADDRINUSE);
		close(a);
		close(b);
	}
}

static void test_udp_bind_null_is_every_address_v6_and_v4(void **state)
{
	int fd = ringo_udp_bind(NULL, 0, 0);
	assert_true(fd >= 0);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	if (ss.ss_family == AF_INET6) {
		assert_int_equal(sockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY), 0);
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
		assert_true(IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr));
	} else {
		assert_int_equal(ss.ss_family, AF_INET);
	}
	/* An IPv4 client reaches it either way. */
	int c = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ringo_socket_port(fd)),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(sendto(c, "v4", 2, 0, (struct sockaddr *)&to, sizeof(to)), 2);
	char buf[8];
	struct pollfd p = {fd, POLLIN, 0};
	assert_int_equal(poll(&p, 1, 10000), 1);
	assert_int_equal(recv(fd, buf, sizeof(buf), 0), 2);
	close(c);
	close(fd);
}

static void test_udp_bind_v6only(void **state)
{
	if (!have_ipv6())
		skip();
	int fd = ringo_udp_bind("::1", 0, RINGO_UDP_V6ONLY);
	assert_true(fd >= 0);
	assert_int_equal(sockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY), 1);
	close(fd);
	fd = ringo_udp_bind("::", 0, 0);
	assert_true(fd >= 0);
	assert_int_equal(sockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY), 0);
	close(fd);
}

static void test_udp_bind_and_connect_refuse_bad_input(void **state)
{
	assert_int_equal(ringo_udp_bind("localhost", 0, 0), -EINVAL); /* names: resolve first */
	assert_int_equal(ringo_udp_bind("300.1.1.1", 0, 0), -EINVAL);
	assert_int_equal(ringo_udp_bind("127.0.0.1", -1, 0), -EINVAL);
	assert_int_equal(ringo_udp_bind("127.0.0.1", 65536, 0), -EINVAL);
	assert_int_equal(ringo_udp_bind("127.0.0.1", 0, 1u << 7), -EINVAL);
	assert_int_equal(ringo_udp_bind("192.0.2.1", 0, 0), -EADDRNOTAVAIL); /* not ours */
	assert_int_equal(ringo_udp_connect(NULL, 53), -EINVAL);
	assert_int_equal(ringo_udp_connect("127.0.0.1", 0), -EINVAL);
	assert_int_equal(ringo_udp_connect("127.0.0.1", 65536), -EINVAL);
	assert_int_equal(ringo_udp_connect("example.com", 53), -EINVAL);
}

/* ---- sendto / recvfrom ---- */

struct pair {
	int a, b;
	struct sockaddr_in aa, ba;
};

static void pair_open(struct pair *p)
{
	p->a = ringo_udp_bind("127.0.0.1", 0, 0);
	p->b = ringo_udp_bind("127.0.0.1", 0, 0);
	assert_true(p->a >= 0 && p->b >= 0);
	p->aa = local4(p->a);
	p->ba = local4(p->b);
}

static void pair_close(struct pair *p)
{
	close(p->a);
	close(p->b);
}

static int sendto_recvfrom_body(void *arg, void **result)
{
	struct pair *p = arg;
	assert_int_equal(ringo_sendto(p->a, "ping", 4, 0, (struct sockaddr *)&p->ba, sizeof(p->ba)), 4);
	char buf[16];
	struct sockaddr_in from;
	socklen_t fromlen = sizeof(from);
	memset(&from, 0, sizeof(from));
	assert_int_equal(ringo_recvfrom(p->b, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(fromlen, sizeof(from));
	assert_int_equal(from.sin_family, AF_INET);
	assert_int_equal(from.sin_port, p->aa.sin_port);
	assert_int_equal(from.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	/* Answer to the address it came from. */
	assert_int_equal(ringo_sendto(p->b, "pong", 4, 0, (struct sockaddr *)&from, fromlen), 4);
	assert_int_equal(ringo_recvfrom(p->a, buf, sizeof(buf), 0, NULL, NULL), 4);
	assert_memory_equal(buf, "pong", 4);
	return 0;
}

static void test_sendto_and_recvfrom_carry_the_peer_address(void **state)
{
	struct pair p;
	pair_open(&p);
	assert_int_equal(fx_run_task(sendto_recvfrom_body, &p), 0);
	pair_close(&p);
}

static int v6_body(void *arg, void **result)
{
	int a = ringo_udp_bind("::1", 0, 0), b = ringo_udp_bind("::1", 0, 0);
	assert_true(a >= 0 && b >= 0);
	struct sockaddr_in6 ba, aa;
	socklen_t len = sizeof(ba);
	getsockname(b, (struct sockaddr *)&ba, &len);
	len = sizeof(aa);
	getsockname(a, (struct sockaddr *)&aa, &len);
	assert_int_equal(ringo_sendto(a, "six", 3, 0, (struct sockaddr *)&ba, sizeof(ba)), 3);
	char buf[8];
	struct sockaddr_in6 from;
	socklen_t fromlen = sizeof(from);
	assert_int_equal(ringo_recvfrom(b, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen), 3);
	assert_int_equal(fromlen, sizeof(from));
	assert_int_equal(from.sin6_family, AF_INET6);
	assert_int_equal(from.sin6_port, aa.sin6_port);
	assert_true(IN6_IS_ADDR_LOOPBACK(&from.sin6_addr));
	close(a);
	close(b);
	return 0;
}

static void test_sendto_and_recvfrom_over_ipv6(void **state)
{
	if (!have_ipv6())
		skip();
	assert_int_equal(fx_run_task(v6_body, NULL), 0);
}

static int trunc_body(void *arg, void **result)
{
	struct pair *p = arg;
	char big[100], buf[10];
	memset(big, 'x', sizeof(big));
	for (int i = 0; i < 2; i++)
		assert_int_equal(sendto(p->a, big, sizeof(big), 0, (struct sockaddr *)&p->ba, sizeof(p->ba)), 100);
	/* recvfrom's rules: the rest of the datagram is gone ... */
	assert_int_equal(ringo_recvfrom(p->b, buf, sizeof(buf), 0, NULL, NULL), 10);
	/* ... unless MSG_TRUNC asks for the real length. */
	assert_int_equal(ringo_recvfrom(p->b, buf, sizeof(buf), MSG_TRUNC, NULL, NULL), 100);
	/* An empty datagram is a datagram: 0, not EOF. */
	assert_int_equal(ringo_sendto(p->a, "", 0, 0, (struct sockaddr *)&p->ba, sizeof(p->ba)), 0);
	struct sockaddr_in from;
	socklen_t fromlen = sizeof(from);
	assert_int_equal(ringo_recvfrom(p->b, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen), 0);
	assert_int_equal(from.sin_port, p->aa.sin_port);
	/* An address without room for its length. */
	assert_int_equal(ringo_recvfrom(p->b, buf, sizeof(buf), 0, (struct sockaddr *)&from, NULL), -EINVAL);
	return 0;
}

static void test_recvfrom_truncates_as_recvfrom_and_msg_trunc_gives_the_length(void **state)
{
	struct pair p;
	pair_open(&p);
	assert_int_equal(fx_run_task(trunc_body, &p), 0);
	pair_close(&p);
}

static int size_body(void *arg, void **result)
{
	struct pair *p = arg;
	size_t max = 65507; /* 65535 - IPv4 header - UDP header */
	char *buf = malloc(max + 2), *got = malloc(max + 2);
	for (size_t i = 0; i < max + 1; i++)
		buf[i] = (char)(i * 7 + 1);
	assert_int_equal(ringo_sendto(p->a, buf, max + 1, 0, (struct sockaddr *)&p->ba, sizeof(p->ba)), -EMSGSIZE);
	assert_int_equal(ringo_sendto(p->a, buf, max, 0, (struct sockaddr *)&p->ba, sizeof(p->ba)), (int)max);
	assert_int_equal(ringo_recvfrom(p->b, got, max + 2, 0, NULL, NULL), (int)max);
	assert_memory_equal(buf, got, max);
	free(buf);
	free(got);
	return 0;
}

static void test_the_largest_datagram_goes_whole_and_one_byte_more_is_emsgsize(void **state)
{
	struct pair p;
	pair_open(&p);
	assert_int_equal(fx_run_task(size_body, &p), 0);
	pair_close(&p);
}

static int connected_body(void *arg, void **result)
{
	struct pair *p = arg;
	int c = ringo_udp_connect("127.0.0.1", ntohs(p->ba.sin_port));
	assert_true(c >= 0);
	struct sockaddr_in ca = local4(c);
	/* A stranger's datagram to c is not received: c hears only b. */
	assert_int_equal(sendto(p->a, "stranger", 8, 0, (struct sockaddr *)&ca, sizeof(ca)), 8);
	assert_int_equal(ringo_send(c, "hello", 5, 0), 5);
	char buf[16];
	struct sockaddr_in from;
	socklen_t fromlen = sizeof(from);
	assert_int_equal(ringo_recvfrom(p->b, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen), 5);
	assert_int_equal(from.sin_port, ca.sin_port);
	assert_int_equal(ringo_sendto(p->b, "world", 5, 0, (struct sockaddr *)&from, fromlen), 5);
	assert_int_equal(ringo_recv(c, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "world", 5);
	/* sendto with no address on a connected socket goes to its peer. */
	assert_int_equal(ringo_sendto(c, "again", 5, 0, NULL, 0), 5);
	assert_int_equal(ringo_recv(p->b, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "again", 5);
	close(c);
	return 0;
}

static void test_a_connected_socket_sends_and_receives_with_send_and_recv(void **state)
{
	struct pair p;
	pair_open(&p);
	assert_int_equal(fx_run_task(connected_body, &p), 0);
	pair_close(&p);
}

static int refused_body(void *arg, void **result)
{
	int port = free_udp_port();
	int c = ringo_udp_connect("127.0.0.1", port);
	assert_true(c >= 0);
	assert_int_equal(ringo_send(c, "anyone?", 7, 0), 7);
	/* The ICMP port unreachable comes back as the socket's error. */
	char buf[8];
	assert_int_equal(ringo_recv(c, buf, sizeof(buf), 0), -ECONNREFUSED);
	/* Reported once; the socket stays usable. */
	assert_int_equal(ringo_send(c, "anyone?", 7, 0), 7);
	assert_int_equal(ringo_recvfrom(c, buf, sizeof(buf), 0, NULL, NULL), -ECONNREFUSED);
	close(c);
	/* An unconnected socket hears nothing of it: sendto just works. */
	int u = ringo_udp_bind("127.0.0.1", 0, 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(ringo_sendto(u, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)), 1);
	assert_int_equal(ringo_sendto(u, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)), 1);
	close(u);
	return 0;
}

static void test_a_connected_socket_whose_peer_is_gone_gets_econnrefused(void **state)
{
	assert_int_equal(fx_run_task(refused_body, NULL), 0);
}

static int cancelled_recv_body(void *arg, void **result)
{
	struct pair *p = arg;
	char buf[16];
	return ringo_recvfrom(p->b, buf, sizeof(buf), 0, NULL, NULL);
}

static void test_a_cancelled_recvfrom_leaves_the_next_datagram_queued(void **state)
{
	struct pair p;
	pair_open(&p);
	ringo_task *t;
	assert_int_equal(ringo_spawn(fx_loop, cancelled_recv_body, &p, NULL, &t), 0);
	while (ringo_task_state(t) != RINGO_TASK_SUSPENDED) {
		ringo_loop_stop(fx_loop);
		ringo_loop_run_forever(fx_loop);
	}
	ringo_task_cancel(t, NULL);
	assert_int_equal(ringo_loop_run_until_complete(fx_loop, ringo_task_future(t), NULL), -ECANCELED);
	ringo_task_release(t);
	assert_int_equal(sendto(p.a, "late", 4, 0, (struct sockaddr *)&p.ba, sizeof(p.ba)), 4);
	char buf[8];
	struct pollfd pf = {p.b, POLLIN, 0};
	assert_int_equal(poll(&pf, 1, 10000), 1);
	assert_int_equal(recv(p.b, buf, sizeof(buf), MSG_DONTWAIT), 4);
	pair_close(&p);
}

static int timeout_body(void *arg, void **result)
{
	struct pair *p = arg;
	char buf[8];
	assert_int_equal(ringo_io_timeout(RINGO_MSEC(5)), 0);
	return ringo_recvfrom(p->b, buf, sizeof(buf), 0, NULL, NULL);
}

static void test_recvfrom_with_nothing_coming_times_out(void **state)
{
	struct pair p;
	pair_open(&p);
	assert_int_equal(fx_run_task(timeout_body, &p), -ETIMEDOUT);
	pair_close(&p);
}

static void test_sendto_and_recvfrom_outside_a_task_are_eperm(void **state)
{
	struct pair p;
	pair_open(&p);
	char buf[4];
	assert_int_equal(ringo_sendto(p.a, "x", 1, 0, (struct sockaddr *)&p.ba, sizeof(p.ba)), -EPERM);
	assert_int_equal(ringo_recvfrom(p.b, buf, sizeof(buf), 0, NULL, NULL), -EPERM);
	pair_close(&p);
}

/* ---- the udp_echo example ---- */

static pid_t g_child;

static pid_t echo_start(int port)
{
	char path[256], portbuf[16], wrapbuf[512];
	const char *argv[48];
	int n = 0;
	build_path("examples/udp_echo", path, sizeof(path));
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	if (server_wrapped()) {
		snprintf(wrapbuf, sizeof(wrapbuf), "%s", getenv("RINGO_TEST_WRAP"));
		for (char *save, *w = strtok_r(wrapbuf, " ", &save); w && n < 40; w = strtok_r(NULL, " ", &save))
			argv[n++] = w;
	}
	argv[n++] = path;
	argv[n++] = portbuf;
	argv[n] = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execvp(argv[0], (char **)argv);
		_exit(127);
	}
	g_child = pid;
	/* Up once it answers (under valgrind that takes seconds). */
	int c = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {0, 100000};
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	for (int i = 0; i < 600; i++) {
		char b;
		sendto(c, "?", 1, 0, (struct sockaddr *)&to, sizeof(to));
		if (recv(c, &b, 1, 0) == 1) {
			close(c);
			return pid;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid)
			break;
	}
	close(c);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	g_child = 0;
	fail_msg("udp_echo did not answer");
	return -1;
}

static int echo_wait(pid_t pid)
{
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	g_child = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int kill_leftover(void **state)
{
	if (g_child > 0) {
		kill(g_child, SIGKILL);
		waitpid(g_child, NULL, 0);
		g_child = 0;
	}
	return 0;
}

#define CLIENTS 4

struct client {
	int id;
	int port;
	int answered;   /* sizes answered correctly */
	int retries;    /* datagrams sent again after a loss */
};

static const size_t sizes[] = {1, 2, 100, 1472, 1473, 9000, 32768, 65507};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define HEADER 8 /* client id, size index, attempt: tells replies apart */

static void fill(unsigned char *buf, size_t len, int id, int k, int attempt)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 31 + (size_t)id * 7 + (size_t)k + 3);
	if (len >= HEADER) {
		buf[0] = (unsigned char)id;
		buf[1] = (unsigned char)k;
		buf[2] = (unsigned char)attempt;
	}
}

/* Each size in turn, waiting for its echo; a datagram lost on the
 * loopback (a full socket buffer) is sent again. The echo must come from
 * the address the request went to and carry the same bytes. */
static int client_body(void *arg, void **result)
{
	struct client *cl = arg;
	int fd = ringo_udp_bind("127.0.0.1", 0, 0);
	assert_true(fd >= 0);
	struct sockaddr_in srv = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cl->port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	unsigned char *out = malloc(65536), *in = malloc(65536);
	int64_t patience = RINGO_SEC(under_valgrind() || server_wrapped() ? 10 : 2);
	for (int k = 0; k < (int)NSIZES; k++) {
		size_t len = sizes[k];
		bool ok = false;
		for (int attempt = 0; attempt < 5 && !ok; attempt++) {
			fill(out, len, cl->id, k, attempt);
			assert_int_equal(ringo_sendto(fd, out, len, 0, (struct sockaddr *)&srv, sizeof(srv)), (int)len);
			for (;;) {
				struct sockaddr_in from;
				socklen_t fromlen = sizeof(from);
				ringo_timeout to;
				assert_int_equal(ringo_timeout_enter(&to, patience), 0);
				int n = ringo_recvfrom(fd, in, 65536, 0, (struct sockaddr *)&from, &fromlen);
				n = ringo_timeout_exit(&to, n);
				if (n == -ETIMEDOUT) {
					cl->retries++;
					break;
				}
				assert_true(n >= 0);
				assert_int_equal(fromlen, sizeof(from));
				assert_int_equal(from.sin_family, AF_INET);
				assert_int_equal(from.sin_port, srv.sin_port);
				assert_int_equal(from.sin_addr.s_addr, srv.sin_addr.s_addr);
				if ((size_t)n != len || (len >= HEADER && in[2] != (unsigned char)attempt))
					continue; /* the late echo of an earlier attempt */
				assert_memory_equal(in, out, len);
				ok = true;
				break;
			}
		}
		assert_true(ok);
		cl->answered++;
	}
	free(out);
	free(in);
	close(fd);
	return 0;
}

static void run_clients(int port)
{
	struct client cl[CLIENTS];
	ringo_task *t[CLIENTS];
	for (int i = 0; i < CLIENTS; i++) {
		cl[i] = (struct client){.id = i + 1, .port = port};
		assert_int_equal(ringo_spawn(fx_loop, client_body, &cl[i], NULL, &t[i]), 0);
	}
	for (int i = 0; i < CLIENTS; i++) {
		assert_int_equal(ringo_loop_run_until_complete(fx_loop, ringo_task_future(t[i]), NULL), 0);
		ringo_task_release(t[i]);
		assert_int_equal(cl[i].answered, (int)NSIZES);
	}
}

static void test_udp_echo_answers_every_size_from_several_clients_and_stops_on_sigint(void **state)
{
	int port = free_udp_port();
	pid_t pid = echo_start(port);
	run_clients(port);
	kill(pid, SIGINT);
	assert_int_equal(echo_wait(pid), 0);
}

static void test_udp_echo_stops_on_sigterm(void **state)
{
	int port = free_udp_port();
	pid_t pid = echo_start(port);
	kill(pid, SIGTERM);
	assert_int_equal(echo_wait(pid), 0);
}

static void test_udp_echo_prints_help(void **state)
{
	char path[256], cmd[300], out[2048];
	build_path("examples/udp_echo", path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "%s --help", path);
	assert_int_equal(run_capture(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "usage: udp_echo"));
	snprintf(cmd, sizeof(cmd), "%s 2>/dev/null", path);
	assert_int_equal(run_capture(cmd, out, sizeof(out)), 2);
}

static int fx_teardown_kill(void **state)
{
	kill_leftover(state);
	return fx_teardown(state);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_bind_picks_a_port_and_sets_no_reuse_option_unasked),
		cmocka_unit_test(test_udp_bind_reuseport_and_reuseaddr_share_a_port),
		cmocka_unit_test(test_udp_bind_null_is_every_address_v6_and_v4),
		cmocka_unit_test(test_udp_bind_v6only),
		cmocka_unit_test(test_udp_bind_and_connect_refuse_bad_input),
		cmocka_unit_test_setup_teardown(test_sendto_and_recvfrom_carry_the_peer_address, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_sendto_and_recvfrom_over_ipv6, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_recvfrom_truncates_as_recvfrom_and_msg_trunc_gives_the_length, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_the_largest_datagram_goes_whole_and_one_byte_more_is_emsgsize, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_a_connected_socket_sends_and_receives_with_send_and_recv, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_a_connected_socket_whose_peer_is_gone_gets_econnrefused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_a_cancelled_recvfrom_leaves_the_next_datagram_queued, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_recvfrom_with_nothing_coming_times_out, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_sendto_and_recvfrom_outside_a_task_are_eperm, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_udp_echo_answers_every_size_from_several_clients_and_stops_on_sigint, fx_setup, fx_teardown_kill),
		cmocka_unit_test_setup_teardown(test_udp_echo_stops_on_sigterm, fx_setup, fx_teardown_kill),
		cmocka_unit_test(test_udp_echo_prints_help),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
