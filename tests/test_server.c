/* The server (include/ringo/net.h): real peers on loopback, bounded.
 * Handler per connection with its stream, TCP v4/v6/names and Unix
 * sockets, the connection limit, accepting through EMFILE, graceful
 * shutdown with a grace period, loops on threads, counters, no fd or
 * byte leaked. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "servers.h"
#include "support.h"

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own fd */
}

/* A few loop iterations: let frees that wait for a final completion (a
 * stream's receive, the listener's accept) finish. */
static void settle(void)
{
	for (int i = 0; i < 4; i++)
		assert_int_equal(ringo_sleep(0), 0);
}

static struct ringo_server_stats stats_of(ringo_server *srv)
{
	struct ringo_server_stats st;
	ringo_server_stats(srv, &st);
	return st;
}

/* The counters once `closed` connections have ended (the clients are
 * done; the server sees their EOF and frees its side within a few
 * iterations). Bounded: 10 s. */
static struct ringo_server_stats await_closed_conns(ringo_server *srv, uint64_t closed)
{
	struct ringo_server_stats st = stats_of(srv);
	for (int i = 0; i < 10000 && st.closed < closed; i++) {
		assert_int_equal(ringo_sleep(RINGO_MSEC(1)), 0);
		st = stats_of(srv);
	}
	return st;
}

/* ---- handlers ---- */

/* Echo each line until EOF. */
static int echo_lines(ringo_stream *s, void *arg)
{
	char line[4096];
	int n;
	while ((n = ringo_stream_readline(s, line, sizeof(line))) > 0) {
		if (ringo_stream_write(s, line, (size_t)n) < 0 || ringo_stream_drain(s) < 0)
			break;
	}
	return 0;
}

/* ---- clients ---- */

struct client {
	const char *host;   /* NULL: unix at path */
	const char *path;
	int port;
	int id;
	int lines;
	int ok;             /* lines echoed correctly */
	int err;
};

static int client_main(void *arg, void **result)
{
	struct client *c = arg;
	ringo_stream *s;
	int err = c->host ? ringo_stream_connect(c->host, c->port, RINGO_SEC(30), NULL, &s)
			  : ringo_stream_connect_unix(c->path, RINGO_SEC(30), NULL, &s);
	if (err < 0) {
		c->err = err;
		return 0;
	}
	for (int i = 0; i < c->lines; i++) {
		char out[64], in[64];
		int n = snprintf(out, sizeof(out), "client %d line %d\n", c->id, i);
		err = ringo_stream_write(s, out, (size_t)n);
		int got = err < 0 ? err : ringo_stream_readline(s, in, sizeof(in));
		if (got != n || memcmp(in, out, (size_t)n)) {
			c->err = got < 0 ? got : -EBADMSG;
			break;
		}
		c->ok++;
	}
	ringo_stream_free(s);
	return 0;
}

/* Run n clients at once (all spawned before any runs: one burst) and
 * check every one of them. */
static void run_clients(const char *host, const char *path, int port, int n, int lines)
{
	struct client *cs = calloc((size_t)n, sizeof(*cs));
	ringo_task **ts = calloc((size_t)n, sizeof(*ts));
	for (int i = 0; i < n; i++) {
		cs[i] = (struct client){.host = host, .path = path, .port = port, .id = i, .lines = lines};
		assert_int_equal(ringo_spawn(ringo_loop_current(), client_main, &cs[i], NULL, &ts[i]), 0);
	}
	for (int i = 0; i < n; i++) {
		assert_int_equal(ringo_await(ringo_task_future(ts[i]), NULL), 0);
		ringo_task_release(ts[i]);
	}
	for (int i = 0; i < n; i++) {
		if (cs[i].err)
			fail_msg("client %d: %s after %d lines", i, ringo_strerror(cs[i].err), cs[i].ok);
		assert_int_equal(cs[i].ok, lines);
	}
	free(cs);
	free(ts);
}

static void close_and_free(ringo_server *srv)
{
	assert_int_equal(ringo_server_close(srv), 0);
	assert_false(ringo_server_is_serving(srv));
	assert_int_equal(ringo_server_wait_closed(srv, RINGO_FOREVER), 0);
	ringo_server_free(srv);
}

/* ---- addresses ---- */

static int echo_v4_body(void *arg, void **result)
{
	int fds = open_fds();
	ringo_server *srv;
	assert_int_equal(ringo_server_start(ringo_loop_current(), "127.0.0.1", 0, echo_lines, NULL,
					    NULL, &srv),
			 0);
	int port = ringo_server_port(srv);
	assert_true(port > 0);
	assert_true(ringo_server_is_serving(srv));
	run_clients("127.0.0.1", NULL, port, 10, 5);
	struct ringo_server_stats st = await_closed_conns(srv, 10);
	assert_int_equal(st.accepted, 10);
	assert_int_equal(st.closed, 10);
	assert_int_equal(st.active, 0);
	assert_int_equal(st.refused, 0);
	close_and_free(srv);
	settle();
	assert_int_equal(open_fds(), fds);
	return 0;
}

static void test_server_echo_v4_counts_every_connection(void **state)
{
	assert_int_equal(fx_run_task(echo_v4_body, NULL), 0);
}

static bool ipv6_loopback(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	bool ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static int dual_stack_body(void *arg, void **result)
{
	ringo_server *srv;
	assert_int_equal(ringo_server_start(ringo_loop_current(), NULL, 0, echo_lines, NULL, NULL,
					    &srv),
			 0);
	int port = ringo_server_port(srv);
	run_clients("127.0.0.1", NULL, port, 3, 2);
	if (ipv6_loopback())
		run_clients("::1", NULL, port, 3, 2);
	close_and_free(srv);
	return 0;
}

static void test_server_null_host_takes_v4_and_v6(void **state)
{
	assert_int_equal(fx_run_task(dual_stack_body, NULL), 0);
}

static int v6only_body(void *arg, void **result)
{
	ringo_server *srv;
	ringo_server_options o = {.flags = RINGO_SERVER_V6ONLY};
	assert_int_equal(ringo_server_start(ringo_loop_current(), NULL, 0, echo_lines, NULL, &o, &srv),
			 0);
	int port = ringo_server_port(srv);
	/* Two sockets (:: v6only and 0.0.0.0) on one port: both answer. */
	run_clients("127.0.0.1", NULL, port, 2, 2);
	run_clients("::1", NULL, port, 2, 2);
	close_and_free(srv);
	/* A numeric IPv6 address. */
	assert_int_equal(ringo_server_start(ringo_loop_current(), "::1", 0, echo_lines, NULL, NULL,
					    &srv),
			 0);
	run_clients("::1", NULL, ringo_server_port(srv), 2, 2);
	ringo_stream *s;
	assert_int_equal(ringo_stream_connect("127.0.0.1", ringo_server_port(srv), RINGO_SEC(5),
					      NULL, &s),
			 -ECONNREFUSED);
	close_and_free(srv);
	return 0;
}

static void test_server_v6only_and_numeric_v6(void **state)
{
	if (!ipv6_loopback())
		skip();
	assert_int_equal(fx_run_task(v6only_body, NULL), 0);
}

static int name_body(void *arg, void **result)
{
	ringo_server *srv;
	int err = ringo_server_start(ringo_loop_current(), "localhost", 0, echo_lines, NULL, NULL,
				     &srv);
	assert_int_equal(err, 0);
	int port = ringo_server_port(srv);
	/* Every address of the name listens, on one port. */
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *list;
	assert_int_equal(ringo_getaddrinfo("localhost", NULL, &hints, &list), 0);
	for (struct addrinfo *ai = list; ai; ai = ai->ai_next) {
		char host[64];
		if (ai->ai_family == AF_INET6 && !ipv6_loopback())
			continue; /* left out by the server too */
		assert_int_equal(getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), NULL,
					     0, NI_NUMERICHOST),
				 0);
		run_clients(host, NULL, port, 2, 2);
	}
	freeaddrinfo(list);
	close_and_free(srv);
	/* No such name: the resolver's error (NXDOMAIN, or no name server
	 * answered here: -EAGAIN), nothing opened. */
	srv = (ringo_server *)1;
	err = ringo_server_start(ringo_loop_current(), "no-such-host.invalid", 0, echo_lines, NULL,
				 NULL, &srv);
	if (err != -ENOENT && err != -EAGAIN)
		fail_msg("no-such-host.invalid: %s", ringo_strerror(err));
	assert_null(srv);
	return 0;
}

static void test_server_host_name_listens_on_every_address(void **state)
{
	FX_NEED_LOCALHOST();
	assert_int_equal(fx_run_task(name_body, NULL), 0);
	/* A name needs a task (the lookup suspends). */
	ringo_server *srv;
	assert_int_equal(ringo_server_start(fx_loop, "localhost", 0, echo_lines, NULL, NULL, &srv),
			 -EPERM);
}

static int unix_body(void *arg, void **result)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/ringo-test-server-%d.sock", (int)getpid());
	unlink(path);
	ringo_server *srv;
	assert_int_equal(ringo_server_start_unix(ringo_loop_current(), path, echo_lines, NULL, NULL,
						 &srv),
			 0);
	assert_int_equal(ringo_server_port(srv), -EAFNOSUPPORT);
	run_clients(NULL, path, 0, 5, 3);
	/* A second server on the same path: someone listens there. */
	ringo_server *other;
	assert_int_equal(ringo_server_start_unix(ringo_loop_current(), path, echo_lines, NULL, NULL,
						 &other),
			 -EADDRINUSE);
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	close_and_free(srv);
	/* close() removed the socket file. */
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	return 0;
}

static void test_server_unix_socket_file_removed_on_close(void **state)
{
	assert_int_equal(fx_run_task(unix_body, NULL), 0);
}

static void test_server_bad_arguments(void **state)
{
	ringo_server *srv = (ringo_server *)&srv;
	ringo_loop *l = fx_loop;
	assert_int_equal(ringo_server_start(NULL, NULL, 0, echo_lines, NULL, NULL, &srv), -EINVAL);
	assert_null(srv);
	assert_int_equal(ringo_server_start(l, NULL, 0, NULL, NULL, NULL, &srv), -EINVAL);
	assert_int_equal(ringo_server_start(l, NULL, 0, echo_lines, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(ringo_server_start(l, NULL, 65536, echo_lines, NULL, NULL, &srv), -EINVAL);
	assert_int_equal(ringo_server_start(l, NULL, -1, echo_lines, NULL, NULL, &srv), -EINVAL);
	assert_int_equal(ringo_server_start(l, "1.2.3.4.5", 0, echo_lines, NULL, NULL, &srv), -EPERM);
	ringo_server_options o = {.flags = 1u << 7};
	assert_int_equal(ringo_server_start(l, NULL, 0, echo_lines, NULL, &o, &srv), -EINVAL);
	o = (ringo_server_options){.threads = 1025};
	assert_int_equal(ringo_server_start(l, NULL, 0, echo_lines, NULL, &o, &srv), -EINVAL);
	o = (ringo_server_options){.threads = 4, .max_connections = 3};
	assert_int_equal(ringo_server_start(l, NULL, 0, echo_lines, NULL, &o, &srv), -EINVAL);
	o = (ringo_server_options){.emfile_backoff_ns = -1};
	assert_int_equal(ringo_server_start(l, NULL, 0, echo_lines, NULL, &o, &srv), -EINVAL);
	o = (ringo_server_options){.backlog = -1};
	assert_int_equal(ringo_server_start(l, NULL, 0, echo_lines, NULL, &o, &srv), -EINVAL);
	ringo_stream_options so = {.write_high = 100, .write_low = 200};
	o = (ringo_server_options){.stream = &so};
	assert_int_equal(ringo_server_start(l, NULL, 0, echo_lines, NULL, &o, &srv), -EINVAL);
	assert_int_equal(ringo_server_start_unix(l, "", echo_lines, NULL, NULL, &srv), -EINVAL);
	assert_int_equal(ringo_server_start_unix(l, NULL, echo_lines, NULL, NULL, &srv), -EINVAL);
	char longpath[200];
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(ringo_server_start_unix(l, longpath, echo_lines, NULL, NULL, &srv), -EINVAL);
	/* A port in use: nothing is left open. */
	int fds = open_fds();
	assert_int_equal(ringo_server_start(l, "127.0.0.1", 0, echo_lines, NULL, NULL, &srv), 0);
	ringo_server *dup = NULL;
	assert_int_equal(ringo_server_start(l, "127.0.0.1", ringo_server_port(srv), echo_lines, NULL,
					    NULL, &dup),
			 -EADDRINUSE);
	assert_null(dup);
	assert_int_equal(ringo_server_close(srv), 0);
	ringo_server_free(srv); /* done when the loop runs or closes */
	/* The NULL-tolerant calls. */
	ringo_server_free(NULL);
	assert_int_equal(ringo_server_close(NULL), -EINVAL);
	assert_int_equal(ringo_server_port(NULL), -EINVAL);
	assert_false(ringo_server_is_serving(NULL));
	struct ringo_server_stats st = {.accepted = 9};
	ringo_server_stats(NULL, &st);
	assert_int_equal(st.accepted, 0);
	(void)fds;
}

/* ---- what a handler leaves behind ---- */

#define BIG (1 << 20)

static int write_big_and_return(ringo_stream *s, void *arg)
{
	char *buf = malloc(BIG);
	for (size_t i = 0; i < BIG; i++)
		buf[i] = (char)(i * 7);
	int err = ringo_stream_write(s, buf, BIG);
	free(buf);
	return err; /* no drain: the server sends the rest after we return */
}

static int flush_body(void *arg, void **result)
{
	ringo_server *srv;
	assert_int_equal(ringo_server_start(ringo_loop_current(), "127.0.0.1", 0,
					    write_big_and_return, NULL, NULL, &srv),
			 0);
	ringo_stream *s;
	assert_int_equal(ringo_stream_connect("127.0.0.1", ringo_server_port(srv), RINGO_SEC(10),
					      NULL, &s),
			 0);
	char *buf = malloc(BIG);
	assert_int_equal(ringo_stream_read_exactly(s, buf, BIG), BIG);
	for (size_t i = 0; i < BIG; i++)
		if (buf[i] != (char)(i * 7))
			fail_msg("byte %zu differs", i);
	/* ...and then EOF: the server closed it. */
	assert_int_equal(ringo_stream_read(s, buf, 1), 0);
	free(buf);
	ringo_stream_free(s);
	close_and_free(srv);
	return 0;
}

static void test_server_bytes_left_buffered_are_sent_after_the_handler(void **state)
{
	assert_int_equal(fx_run_task(flush_body, NULL), 0);
}

/* A handler that asks for a big stack gets it. */
static int big_stack_handler(ringo_stream *s, void *arg)
{
	volatile char big[192 * 1024];
	memset((char *)big, 1, sizeof(big));
	return echo_lines(s, (void *)(uintptr_t)big[1000]);
}

static int stack_body(void *arg, void **result)
{
	ringo_server *srv;
	ringo_server_options o = {.stack_size = RINGO_TASK_STACK_MIN - 1};
	/* Compact stacks are for tasks that only wait, not for handlers. */
	assert_int_equal(ringo_server_start(ringo_loop_current(), "127.0.0.1", 0, big_stack_handler,
					    NULL, &o, &srv),
			 -EINVAL);
	o.stack_size = 512 * 1024;
	assert_int_equal(ringo_server_start(ringo_loop_current(), "127.0.0.1", 0, big_stack_handler,
					    NULL, &o, &srv),
			 0);
	run_clients("127.0.0.1", NULL, ringo_server_port(srv), 3, 2);
	close_and_free(srv);
	return 0;
}

static void test_server_handler_stack_size_option(void **state)
{
	assert_int_equal(fx_run_task(stack_body, NULL), 0);
}

/* ---- a burst of clients ---- */

/* Room for n clients and their server sides (raised to the hard limit). */
static int clients_fitting(int want)
{
	struct rlimit rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	long room = ((long)rl.rlim_cur - 200) / 2;
	return room < want ? (int)room : want;
}

static int burst_body(void *arg, void **result)
{
	int n = *(int *)arg;
	ringo_server *srv;
	assert_int_equal(ringo_server_start(ringo_loop_current(), "127.0.0.1", 0, echo_lines, NULL,
					    NULL, &srv),
			 0);
	run_clients("127.0.0.1", NULL, ringo_server_port(srv), n, 2);
	struct ringo_server_stats st = await_closed_conns(srv, (uint64_t)n);
	assert_int_equal(st.accepted, (uint64_t)n);
	assert_int_equal(st.closed, (uint64_t)n);
	assert_int_equal(st.refused, 0);
	close_and_free(srv);
	return 0;
}

static void test_server_2000_clients_in_one_burst_all_served(void **state)
{
	int n = clients_fitting(under_valgrind() ? 200 : 2000);
	if (n < 2000 && !under_valgrind())
		print_message("only %d clients fit under RLIMIT_NOFILE\n", n);
	assert_int_equal(fx_run_task(burst_body, &n), 0);
}

/* ---- max_connections ---- */

struct limit_probe {
	ringo_server *srv;
	int now, max;         /* handlers running, the most seen */
	uint64_t max_active;  /* the most the server's counter said */
};

static int limited_handler(ringo_stream *s, void *arg)
{
	struct limit_probe *p = arg;
	if (++p->now > p->max)
		p->max = p->now;
	struct ringo_server_stats st = stats_of(p->srv);
	if (st.active > p->max_active)
		p->max_active = st.active;
	/* Stay a while, so that others pile up behind the limit. */
	ringo_sleep(RINGO_MSEC(2));
	int rc = echo_lines(s, NULL);
	p->now--;
	return rc;
}

static int limit_body(void *arg, void **result)
{
	struct limit_probe p = {0};
	ringo_server_options o = {.max_connections = 4};
	assert_int_equal(ringo_server_start(ringo_loop_current(), "127.0.0.1", 0, limited_handler,
					    &p, &o, &p.srv),
			 0);
	run_clients("127.0.0.1", NULL, ringo_server_port(p.srv), 40, 3);
	assert_int_equal(p.max, 4);
	assert_int_equal(p.max_active, 4);
	struct ringo_server_stats st = await_closed_conns(p.srv, 40);
	assert_int_equal(st.accepted, 40);
	assert_int_equal(st.closed, 40);
	assert_int_equal(st.refused, 0);
	close_and_free(p.srv);
	return 0;
}

static void test_server_max_connections_never_exceeded_none_refused(void **state)
{
	assert_int_equal(fx_run_task(limit_body, NULL), 0);
}

/* ---- EMFILE ---- */

/* The child: a server whose RLIMIT_NOFILE leaves room for `room`
 * connections; it serves until ctl (a pipe) reaches EOF, then writes its
 * counters to report and exits. */
struct emfile_child {
	int port;
	int ctl, report;
	int room;
};

/* Lower RLIMIT_NOFILE so that exactly `room` more fds can be opened. */
static int leave_room(int room)
{
	int top = 0;
	DIR *d = opendir("/proc/self/fd");
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.' && atoi(e->d_name) > top)
			top = atoi(e->d_name);
	closedir(d);
	/* Fill the holes below the highest fd: only numbers above it stay. */
	for (;;) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (fd > top) {
			close(fd);
			break;
		}
	}
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = (rlim_t)(top + 1 + room);
	return setrlimit(RLIMIT_NOFILE, &rl) < 0 ? -errno : 0;
}

static int emfile_child_main(void *arg, void **result)
{
	struct emfile_child *c = arg;
	ringo_server *srv;
	ringo_server_options o = {.emfile_backoff_ns = RINGO_MSEC(20)};
	/* A stream's first use sets up per-loop state: do it before the
	 * limit, with a first server and a connection to itself. */
	int err = ringo_server_start(ringo_loop_current(), "127.0.0.1", c->port, echo_lines, NULL, &o,
				     &srv);
	if (err < 0)
		return err;
	ringo_stream *s;
	err = ringo_stream_connect("127.0.0.1", c->port, RINGO_SEC(5), NULL, &s);
	if (err < 0)
		return err;
	char line[8];
	ringo_stream_write(s, "x\n", 2);
	if (ringo_stream_readline(s, line, sizeof(line)) != 2)
		return -EIO;
	ringo_stream_free(s);
	ringo_server_close(srv);
	ringo_server_wait_closed(srv, RINGO_FOREVER);
	ringo_server_free(srv);
	/* The freed streams' fds close through the ring: wait until the
	 * count has stopped moving (a few turns used to do, but not on a
	 * loaded machine, and a late close left room for a fourth client). */
	int fds = open_fds(), same = 0;
	for (int i = 0; i < 1000 && same < 5; i++) {
		ringo_sleep(RINGO_MSEC(2));
		int now = open_fds();
		same = now == fds ? same + 1 : 0;
		fds = now;
	}
	/* The kernel reads the limit when an accept is submitted: lower it
	 * first, then start the server (its listener takes one more fd). */
	err = leave_room(1 + c->room);
	if (!err)
		err = ringo_server_start(ringo_loop_current(), "127.0.0.1", c->port, echo_lines, NULL,
					 &o, &srv);
	if (err < 0)
		return err;
	char ready = 'r';
	if (write(c->report, &ready, 1) != 1)
		return -EIO;
	char b;
	ringo_read(c->ctl, &b, 1, -1); /* EOF: stop */
	ringo_server_close(srv);
	ringo_server_wait_closed(srv, 0);
	struct ringo_server_stats st;
	ringo_server_stats(srv, &st);
	ringo_server_free(srv);
	return write(c->report, &st, sizeof(st)) == sizeof(st) ? 0 : -EIO;
}

static int plain_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(0x7f000001)};
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct timeval tv = {10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static bool echoes(int fd, const char *line)
{
	size_t n = strlen(line);
	if (send(fd, line, n, MSG_NOSIGNAL) != (ssize_t)n)
		return false;
	char buf[64];
	size_t got = 0;
	while (got < n) {
		ssize_t r = recv(fd, buf + got, n - got, 0);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return !memcmp(buf, line, n);
}

/* Is a line answered within a short wait? (The negative check: a
 * connection held in the backlog gets no answer.) */
static bool answered_soon(int fd)
{
	struct timeval tv = {0, 200 * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char b;
	ssize_t r = recv(fd, &b, 1, MSG_PEEK);
	tv.tv_sec = 10;
	tv.tv_usec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return r > 0;
}

static void test_server_emfile_keeps_serving_and_recovers(void **state)
{
	/* Valgrind keeps fds of its own under the limit and refuses to let
	 * it move: the fd arithmetic does not hold there. */
	if (under_valgrind())
		skip();
	int port = free_port();
	int ctl[2], report[2];
	assert_int_equal(pipe2(ctl, O_CLOEXEC), 0);
	assert_int_equal(pipe2(report, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ctl[1]);
		close(report[0]);
		struct emfile_child c = {port, ctl[0], report[1], 3};
		_exit(ringo_run(emfile_child_main, &c, NULL, NULL) == 0 ? 0 : 1);
	}
	close(ctl[0]);
	close(report[1]);
	char ready;
	assert_int_equal(read(report[0], &ready, 1), 1);
	/* Three fit; the fourth and fifth wait in the backlog (EMFILE). */
	int a = plain_connect(port), b = plain_connect(port), c = plain_connect(port);
	assert_true(echoes(a, "a1\n"));
	assert_true(echoes(b, "b1\n"));
	assert_true(echoes(c, "c1\n"));
	int d = plain_connect(port), e = plain_connect(port);
	assert_int_equal(send(d, "d1\n", 3, 0), 3);
	assert_int_equal(send(e, "e1\n", 3, 0), 3);
	assert_false(answered_soon(d));
	/* The others are still served meanwhile. */
	assert_true(echoes(a, "a2\n"));
	assert_true(echoes(c, "c2\n"));
	/* A slot frees: one waiting connection is served, by itself. */
	close(a);
	char buf[8];
	int served = -1;
	for (int i = 0; i < 50 && served < 0; i++) {
		if (answered_soon(d))
			served = d;
		else if (answered_soon(e))
			served = e;
	}
	assert_true(served >= 0);
	assert_int_equal(recv(served, buf, 3, MSG_WAITALL), 3);
	int other = served == d ? e : d;
	close(b);
	assert_int_equal(recv(other, buf, 3, MSG_WAITALL), 3);
	assert_true(echoes(c, "c3\n"));
	assert_true(echoes(other, "x\n"));
	close(c);
	close(d);
	close(e);
	close(ctl[1]);
	struct ringo_server_stats st;
	assert_int_equal(read(report[0], &st, sizeof(st)), (ssize_t)sizeof(st));
	close(report[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(st.accept_errors > 0);
	assert_int_equal(st.accepted, 5); /* a..e */
	assert_int_equal(st.refused, 0);
}

/* ---- graceful shutdown ---- */

struct shutdown_probe {
	ringo_event release;  /* lets the "fast" handlers answer */
	ringo_event never;    /* the "slow" ones wait here until cancelled */
	int requests;         /* handlers that read their request */
	int cancelled;        /* handlers whose wait was cancelled */
};

static int shutdown_handler(ringo_stream *s, void *arg)
{
	struct shutdown_probe *p = arg;
	char line[64];
	int n = ringo_stream_readline(s, line, sizeof(line));
	if (n <= 0)
		return 0;
	p->requests++;
	bool slow = !strncmp(line, "slow", 4);
	int rc = ringo_event_wait(slow ? &p->never : &p->release);
	if (rc == -ECANCELED) {
		p->cancelled++;
		/* What a cancelled handler writes is dropped: it is cut. */
		ringo_stream_write(s, "late\n", 5);
		return rc;
	}
	ringo_stream_write(s, "done\n", 5);
	return 0;
}

struct shutdown_client {
	int port;
	bool slow;
	int got; /* the answer's length, 0 at EOF, or -errno */
	char answer[16];
};

static int shutdown_client_main(void *arg, void **result)
{
	struct shutdown_client *c = arg;
	ringo_stream *s;
	c->got = ringo_stream_connect("127.0.0.1", c->port, RINGO_SEC(10), NULL, &s);
	if (c->got < 0)
		return 0;
	ringo_stream_write(s, c->slow ? "slow\n" : "fast\n", 5);
	c->got = ringo_stream_readline(s, c->answer, sizeof(c->answer));
	ringo_stream_free(s);
	return 0;
}

static int shutdown_body(void *arg, void **result)
{
	int fds = open_fds();
	struct shutdown_probe p = {0};
	ringo_event_init(&p.release);
	ringo_event_init(&p.never);
	ringo_server *srv;
	assert_int_equal(ringo_server_start(ringo_loop_current(), "127.0.0.1", 0, shutdown_handler,
					    &p, NULL, &srv),
			 0);
	int port = ringo_server_port(srv);
	struct shutdown_client cs[6];
	ringo_task *ts[6];
	for (int i = 0; i < 6; i++) {
		cs[i] = (struct shutdown_client){.port = port, .slow = i % 2};
		assert_int_equal(ringo_spawn(ringo_loop_current(), shutdown_client_main, &cs[i], NULL,
					     &ts[i]),
				 0);
	}
	while (p.requests < 6)
		assert_int_equal(ringo_sleep(RINGO_MSEC(1)), 0);
	/* Closing stops accepting at once: the listener is gone. */
	assert_int_equal(ringo_server_close(srv), 0);
	settle();
	ringo_stream *s;
	assert_int_equal(ringo_stream_connect("127.0.0.1", port, RINGO_SEC(5), NULL, &s),
			 -ECONNREFUSED);
	assert_int_equal(stats_of(srv).active, 6);
	/* The fast ones finish within the grace period; the slow ones are
	 * cancelled at its end. */
	ringo_event_set(&p.release);
	assert_int_equal(ringo_server_wait_closed(srv, RINGO_MSEC(500)), 3);
	assert_int_equal(p.cancelled, 3);
	struct ringo_server_stats st = stats_of(srv);
	assert_int_equal(st.active, 0);
	assert_int_equal(st.closed, 6);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(ringo_await(ringo_task_future(ts[i]), NULL), 0);
		ringo_task_release(ts[i]);
		if (cs[i].slow) {
			assert_int_equal(cs[i].got, 0); /* cut: EOF, nothing written */
		} else {
			assert_int_equal(cs[i].got, 5);
			assert_memory_equal(cs[i].answer, "done\n", 5);
		}
	}
	/* A second wait returns at once. */
	assert_int_equal(ringo_server_wait_closed(srv, 0), 0);
	ringo_server_free(srv);
	settle();
	assert_int_equal(open_fds(), fds);
	ringo_event_destroy(&p.release);
	ringo_event_destroy(&p.never);
	return 0;
}

static void test_server_graceful_shutdown_grace_then_cancel_no_fd_left(void **state)
{
	assert_int_equal(fx_run_task(shutdown_body, NULL), 0);
}

/* wait_closed before close: it waits for the close, then for handlers. */
struct closer {
	ringo_server *srv;
};

static int close_later(void *arg, void **result)
{
	struct closer *c = arg;
	ringo_sleep(RINGO_MSEC(5));
	return ringo_server_close(c->srv);
}

static int serve_forever_body(void *arg, void **result)
{
	struct closer c;
	assert_int_equal(ringo_server_start(ringo_loop_current(), "127.0.0.1", 0, echo_lines, NULL,
					    NULL, &c.srv),
			 0);
	assert_int_equal(ringo_spawn(ringo_loop_current(), close_later, &c, NULL, NULL), 0);
	assert_int_equal(ringo_server_serve_forever(c.srv), 0);
	assert_false(ringo_server_is_serving(c.srv));
	assert_int_equal(ringo_server_serve_forever(c.srv), 0); /* closed: at once */
	assert_int_equal(ringo_server_wait_closed(c.srv, RINGO_FOREVER), 0);
	ringo_server_free(c.srv);
	/* wait_closed before anyone closed it waits for the close. */
	assert_int_equal(ringo_server_start(ringo_loop_current(), "127.0.0.1", 0, echo_lines, NULL,
					    NULL, &c.srv),
			 0);
	assert_int_equal(ringo_spawn(ringo_loop_current(), close_later, &c, NULL, NULL), 0);
	assert_int_equal(ringo_server_wait_closed(c.srv, RINGO_FOREVER), 0);
	ringo_server_free(c.srv);
	return 0;
}

static void test_server_serve_forever_returns_at_close(void **state)
{
	assert_int_equal(fx_run_task(serve_forever_body, NULL), 0);
}

static int serve_task(void *arg, void **result)
{
	return ringo_server_serve_forever(arg);
}

static int serve_cancel_body(void *arg, void **result)
{
	ringo_server *srv;
	assert_int_equal(ringo_server_start(ringo_loop_current(), "127.0.0.1", 0, echo_lines, NULL,
					    NULL, &srv),
			 0);
	ringo_task *t;
	assert_int_equal(ringo_spawn(ringo_loop_current(), serve_task, srv, NULL, &t), 0);
	assert_int_equal(ringo_sleep(0), 0);
	ringo_task_cancel(t, NULL);
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), -ECANCELED);
	ringo_task_release(t);
	/* As asyncio: cancelling serve_forever closed the server. */
	assert_false(ringo_server_is_serving(srv));
	assert_int_equal(ringo_server_wait_closed(srv, 0), 0);
	ringo_server_free(srv);
	return 0;
}

static void test_server_cancelling_serve_forever_closes_the_server(void **state)
{
	assert_int_equal(fx_run_task(serve_cancel_body, NULL), 0);
}

/* A cancelled wait_closed leaves the shutdown going. */
static int stuck_handler(ringo_stream *s, void *arg)
{
	ringo_event *never = arg;
	return ringo_event_wait(never);
}

static int wait_task(void *arg, void **result)
{
	return ringo_server_wait_closed(arg, RINGO_FOREVER);
}

static int wait_cancel_body(void *arg, void **result)
{
	ringo_event never;
	ringo_event_init(&never);
	ringo_server *srv;
	assert_int_equal(ringo_server_start(ringo_loop_current(), "127.0.0.1", 0, stuck_handler,
					    &never, NULL, &srv),
			 0);
	ringo_stream *s;
	assert_int_equal(ringo_stream_connect("127.0.0.1", ringo_server_port(srv), RINGO_SEC(5),
					      NULL, &s),
			 0);
	while (stats_of(srv).active < 1)
		ringo_sleep(0);
	ringo_server_close(srv);
	ringo_task *t;
	assert_int_equal(ringo_spawn(ringo_loop_current(), wait_task, srv, NULL, &t), 0);
	settle();
	ringo_task_cancel(t, NULL);
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), -ECANCELED);
	ringo_task_release(t);
	assert_int_equal(stats_of(srv).active, 1);
	/* Waiting again, with no grace: cancelled now. */
	assert_int_equal(ringo_server_wait_closed(srv, 0), 1);
	char b;
	assert_int_equal(ringo_stream_read(s, &b, 1), 0);
	ringo_stream_free(s);
	ringo_server_free(srv);
	ringo_event_destroy(&never);
	return 0;
}

static void test_server_cancelled_wait_closed_can_wait_again(void **state)
{
	assert_int_equal(fx_run_task(wait_cancel_body, NULL), 0);
}

/* free() without wait_closed: handlers cancelled, memory given back. */
static int free_early_body(void *arg, void **result)
{
	int fds = open_fds();
	static ringo_event never;
	ringo_event_init(&never);
	ringo_server *srv;
	assert_int_equal(ringo_server_start(ringo_loop_current(), "127.0.0.1", 0, stuck_handler,
					    &never, NULL, &srv),
			 0);
	ringo_stream *s[3];
	for (int i = 0; i < 3; i++)
		assert_int_equal(ringo_stream_connect("127.0.0.1", ringo_server_port(srv),
						      RINGO_SEC(5), NULL, &s[i]),
				 0);
	settle();
	ringo_server_free(srv);
	for (int i = 0; i < 3; i++) {
		char b;
		assert_int_equal(ringo_stream_read(s[i], &b, 1), 0);
		ringo_stream_free(s[i]);
	}
	settle();
	assert_int_equal(open_fds(), fds);
	return 0;
}

static void test_server_free_before_wait_closed_cancels_handlers(void **state)
{
	assert_int_equal(fx_run_task(free_early_body, NULL), 0);
}

/* ringo_run's end with a server still running and a connection whose
 * handler has not started yet: nothing leaks (ASan/valgrind), no fd. */
struct run_leftover {
	ringo_server *srv;
	int cfd;
};

static int run_leftover_main(void *arg, void **result)
{
	struct run_leftover *r = arg;
	int err = ringo_server_start(ringo_loop_current(), "127.0.0.1", 0, echo_lines, NULL, NULL,
				     &r->srv);
	if (err < 0)
		return err;
	r->cfd = plain_connect(ringo_server_port(r->srv));
	/* Return once the accept completed: its handler task exists (it
	 * may not have started yet: then the loop's end closes its socket). */
	struct ringo_server_stats st;
	do {
		ringo_sleep(0);
		ringo_server_stats(r->srv, &st);
	} while (st.accepted < 1);
	return 0;
}

static void test_server_loop_ends_with_server_running_nothing_leaks(void **state)
{
	int fds = open_fds();
	struct run_leftover r = {0};
	assert_int_equal(ringo_run(run_leftover_main, &r, NULL, NULL), 0);
	char b;
	assert_int_equal(recv(r.cfd, &b, 1, 0), 0); /* its socket was closed */
	close(r.cfd);
	ringo_server_free(r.srv); /* the loop is gone: only memory */
	assert_int_equal(open_fds(), fds);
}

/* ---- threads ---- */

struct thread_probe {
	pthread_mutex_t lock;
	pthread_t seen[8];
	int count[8];
	int nseen;
};

static int threaded_echo(ringo_stream *s, void *arg)
{
	struct thread_probe *p = arg;
	pthread_mutex_lock(&p->lock);
	int i = 0;
	while (i < p->nseen && !pthread_equal(p->seen[i], pthread_self()))
		i++;
	if (i == p->nseen && i < 8)
		p->seen[p->nseen++] = pthread_self();
	if (i < 8)
		p->count[i]++;
	pthread_mutex_unlock(&p->lock);
	return echo_lines(s, NULL);
}

static int threads_body(void *arg, void **result)
{
	struct thread_probe p = {.lock = PTHREAD_MUTEX_INITIALIZER};
	ringo_server_options o = {.threads = 2};
	ringo_server *srv;
	assert_int_equal(ringo_server_start(ringo_loop_current(), "127.0.0.1", 0, threaded_echo, &p,
					    &o, &srv),
			 0);
	run_clients("127.0.0.1", NULL, ringo_server_port(srv), under_valgrind() ? 40 : 200, 2);
	close_and_free(srv);
	assert_int_equal(p.nseen, 2);
	for (int i = 0; i < 2; i++) {
		assert_false(pthread_equal(p.seen[i], pthread_self()));
		assert_true(p.count[i] > 0);
	}
	return 0;
}

static void test_server_threads_two_loops_both_serve(void **state)
{
	assert_int_equal(fx_run_task(threads_body, NULL), 0);
}

static int threads_limit_body(void *arg, void **result)
{
	ringo_server_options o = {.threads = 2, .max_connections = 3};
	ringo_server *srv;
	assert_int_equal(ringo_server_start(ringo_loop_current(), "127.0.0.1", 0, echo_lines, NULL,
					    &o, &srv),
			 0);
	run_clients("127.0.0.1", NULL, ringo_server_port(srv), 30, 2);
	struct ringo_server_stats st = await_closed_conns(srv, 30);
	assert_int_equal(st.accepted, 30);
	assert_int_equal(st.closed, 30);
	close_and_free(srv);
	/* free() of a threaded server whose handlers still run. */
	assert_int_equal(ringo_server_start(ringo_loop_current(), "127.0.0.1", 0, echo_lines, NULL,
					    &o, &srv),
			 0);
	ringo_stream *s;
	assert_int_equal(ringo_stream_connect("127.0.0.1", ringo_server_port(srv), RINGO_SEC(5),
					      NULL, &s),
			 0);
	assert_int_equal(ringo_stream_write(s, "hi\n", 3), 0);
	char line[8];
	assert_int_equal(ringo_stream_readline(s, line, sizeof(line)), 3);
	ringo_server_free(srv);
	assert_int_equal(ringo_stream_read(s, line, 1), 0);
	ringo_stream_free(s);
	return 0;
}

static void test_server_threads_limit_and_early_free(void **state)
{
	assert_int_equal(fx_run_task(threads_limit_body, NULL), 0);
}

/* Unix socket with two loops: both accept on the one socket. */
static int threads_unix_body(void *arg, void **result)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/ringo-test-server-t%d.sock", (int)getpid());
	ringo_server_options o = {.threads = 2, .flags = RINGO_SERVER_PIN_CPUS};
	ringo_server *srv;
	assert_int_equal(ringo_server_start_unix(ringo_loop_current(), path, echo_lines, NULL, &o,
						 &srv),
			 0);
	run_clients(NULL, path, 0, 20, 2);
	close_and_free(srv);
	struct stat st;
	assert_int_equal(lstat(path, &st), -1);
	return 0;
}

static void test_server_threads_unix(void **state)
{
	assert_int_equal(fx_run_task(threads_unix_body, NULL), 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_server_echo_v4_counts_every_connection, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_server_null_host_takes_v4_and_v6, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_server_v6only_and_numeric_v6, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_server_host_name_listens_on_every_address, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_server_unix_socket_file_removed_on_close, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_server_bad_arguments, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_server_bytes_left_buffered_are_sent_after_the_handler, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_server_handler_stack_size_option, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_server_2000_clients_in_one_burst_all_served, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_server_max_connections_never_exceeded_none_refused, fx_setup, fx_teardown),
		cmocka_unit_test(test_server_emfile_keeps_serving_and_recovers),
		cmocka_unit_test_setup_teardown(test_server_graceful_shutdown_grace_then_cancel_no_fd_left, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_server_serve_forever_returns_at_close, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_server_cancelling_serve_forever_closes_the_server, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_server_cancelled_wait_closed_can_wait_again, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_server_free_before_wait_closed_cancels_handlers, fx_setup, fx_teardown),
		cmocka_unit_test(test_server_loop_ends_with_server_running_nothing_leaks),
		cmocka_unit_test_setup_teardown(test_server_threads_two_loops_both_serve, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_server_threads_limit_and_early_free, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_server_threads_unix, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
