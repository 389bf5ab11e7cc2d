/* Networking helpers: listeners (v4, v6, Unix), connect with a timeout,
 * multishot accept, provided buffers, EMFILE. Streams are test_stream.c's;
 * signals test_signal.c's; UDP test_udp.c's. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "support.h"

/* An echo handler task: one per accepted connection. */
static int echo_conn(void *arg, void **result)
{
	int fd = (int)(intptr_t)arg;
	char buf[4096];
	for (;;) {
		int n = ringo_recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		if (ringo_send_all(fd, buf, (size_t)n) < 0)
			break;
	}
	ringo_close(fd);
	return 0;
}

/* Accept one connection and echo on it. */
static int accept_one_echo(void *arg, void **result)
{
	int lfd = (int)(intptr_t)arg;
	int fd = ringo_accept(lfd, NULL, NULL, 0);
	if (fd < 0)
		return fd;
	return echo_conn((void *)(intptr_t)fd, result);
}

static int ping(int fd)
{
	if (ringo_send_all(fd, "ping", 4) != 4)
		return -EIO;
	char buf[4];
	int n = ringo_recv(fd, buf, 4, MSG_WAITALL);
	if (n != 4 || memcmp(buf, "ping", 4))
		return -EIO;
	return 0;
}

struct connect_arg {
	const char *host;
	int port;
};

static int connect_ping_body(void *arg, void **result)
{
	struct connect_arg *d = arg;
	int fd = d->port < 0 ? ringo_unix_connect(d->host, RINGO_SEC(10))
			     : ringo_tcp_connect(d->host, d->port, RINGO_SEC(10));
	if (fd < 0)
		return fd;
	int rc = ping(fd);
	ringo_close(fd);
	return rc;
}

static void echo_roundtrip(int lfd, const char *host, int port)
{
	ringo_task *srv;
	assert_int_equal(ringo_spawn(fx_loop, accept_one_echo, (void *)(intptr_t)lfd, NULL, &srv), 0);
	struct connect_arg d = {host, port};
	assert_int_equal(fx_run_task(connect_ping_body, &d), 0);
	assert_int_equal(ringo_loop_run_until_complete(fx_loop, ringo_task_future(srv), NULL), 0);
	ringo_task_release(srv);
}

static void test_tcp_listen_v4_and_connect(void **state)
{
	int lfd = ringo_tcp_listen(NULL, 0, 16, 0);
	assert_true(lfd >= 0);
	int port = ringo_socket_port(lfd);
	assert_true(port > 0);
	echo_roundtrip(lfd, "127.0.0.1", port);
	close(lfd);
}

static void test_tcp_listen_v6_and_connect(void **state)
{
	int lfd = ringo_tcp_listen("::1", 0, 16, RINGO_TCP_LISTEN_V6ONLY);
	if (lfd == -EADDRNOTAVAIL || lfd == -EAFNOSUPPORT)
		skip(); /* no IPv6 loopback in this sandbox */
	assert_true(lfd >= 0);
	echo_roundtrip(lfd, "::1", ringo_socket_port(lfd));
	close(lfd);
}

static void test_unix_listen_and_connect(void **state)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/ringo-net-%d.sock", (int)getpid());
	int lfd = ringo_unix_listen(path, 16);
	assert_true(lfd >= 0);
	echo_roundtrip(lfd, path, -1);
	close(lfd);
	unlink(path);
}

static void test_reuseport_lets_two_listeners_share_a_port(void **state)
{
	int a = ringo_tcp_listen(NULL, 0, 16, RINGO_TCP_LISTEN_REUSEPORT);
	assert_true(a >= 0);
	int port = ringo_socket_port(a);
	int b = ringo_tcp_listen(NULL, port, 16, RINGO_TCP_LISTEN_REUSEPORT);
	assert_true(b >= 0);
	/* Without the option the port is taken. */
	assert_int_equal(ringo_tcp_listen(NULL, port, 16, 0), -EADDRINUSE);
	close(a);
	close(b);
}

static void test_listen_rejects_bad_addresses(void **state)
{
	assert_int_equal(ringo_tcp_listen("not-an-ip", 0, 16, 0), -EINVAL);
	assert_int_equal(ringo_tcp_listen(NULL, 70000, 16, 0), -EINVAL);
	assert_int_equal(ringo_unix_listen("", 16), -EINVAL);
}

static int connect_refused_body(void *arg, void **result)
{
	int lfd = ringo_tcp_listen(NULL, 0, 16, 0);
	int port = ringo_socket_port(lfd);
	close(lfd);
	assert_int_equal(ringo_tcp_connect("127.0.0.1", port, RINGO_FOREVER), -ECONNREFUSED);
	assert_int_equal(ringo_tcp_connect("bad host", 1, RINGO_FOREVER), -EINVAL);
	return 0;
}

static void test_tcp_connect_refused(void **state)
{
	assert_int_equal(fx_run_task(connect_refused_body, NULL), 0);
}

static int connect_timeout_body(void *arg, void **result)
{
	/* A listener that never accepts, its queue full: SYNs are dropped,
	 * connect hangs until the deadline. */
	int lfd = ringo_tcp_listen(NULL, 0, 1, 0); /* 0 would mean 4096 */
	int port = ringo_socket_port(lfd);
	int fill[8];
	for (int i = 0; i < 8; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(0x7f000001)};
		connect(fill[i], (struct sockaddr *)&a, sizeof(a));
	}
	ringo_sleep(RINGO_MSEC(20));
	int fd = ringo_tcp_connect("127.0.0.1", port, RINGO_MSEC(100));
	for (int i = 0; i < 8; i++)
		close(fill[i]);
	close(lfd);
	if (fd >= 0) {
		close(fd);
		return 1; /* the kernel let it through: cannot test here */
	}
	assert_int_equal(fd, -ETIMEDOUT);
	return 0;
}

static void test_tcp_connect_with_timeout_times_out(void **state)
{
	int rc = fx_run_task(connect_timeout_body, NULL);
	if (rc == 1)
		skip();
	assert_int_equal(rc, 0);
}

/* timeout_ns 0: connect only if it can be done at once. A Unix
 * listener with room takes the connection at once; once its backlog is
 * full, the connect would have to wait: -ETIMEDOUT, no fd left open. */
static int unix_zero_body(void *arg, void **result)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/ringo-net0-%d.sock", (int)getpid());
	int lfd = ringo_unix_listen(path, 1);
	assert_true(lfd >= 0);
	int fds[8], n = 0, rc;
	while (n < 8 && (rc = ringo_unix_connect(path, 0)) >= 0)
		fds[n++] = rc;
	/* At least one fitted; then the backlog was full. */
	assert_true(n >= 1 && n < 8);
	assert_int_equal(rc, -ETIMEDOUT);
	/* Room again: accept one, and a connect with no limit goes through. */
	int a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(a >= 0);
	rc = ringo_unix_connect(path, RINGO_FOREVER);
	assert_true(rc >= 0);
	close(rc);
	close(a);
	while (n)
		close(fds[--n]);
	close(lfd);
	unlink(path);
	return 0;
}

static void test_unix_connect_zero_timeout_does_not_wait(void **state)
{
	assert_int_equal(fx_run_task(unix_zero_body, NULL), 0);
}

static void test_connect_rejects_bad_arguments(void **state)
{
	assert_int_equal(ringo_unix_connect(NULL, RINGO_FOREVER), -EINVAL);
	assert_int_equal(ringo_unix_connect("", RINGO_FOREVER), -EINVAL);
	assert_int_equal(ringo_tcp_connect("127.0.0.1", 70000, RINGO_FOREVER), -EINVAL);
	assert_int_equal(ringo_tcp_connect("::1", -1, RINGO_FOREVER), -EINVAL);
	/* Valid, but outside a task. */
	assert_int_equal(ringo_tcp_connect("127.0.0.1", 1, RINGO_FOREVER), -EPERM);
}

/* ---- multishot accept ---- */

#define NCLIENTS 5

static int acceptor_body(void *arg, void **result)
{
	int lfd = ringo_tcp_listen(NULL, 0, 64, 0);
	int port = ringo_socket_port(lfd);
	ringo_acceptor acc;
	assert_int_equal(ringo_acceptor_init(&acc, lfd), 0);
	int c[NCLIENTS];
	for (int i = 0; i < NCLIENTS; i++) {
		c[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(0x7f000001)};
		assert_int_equal(connect(c[i], (struct sockaddr *)&a, sizeof(a)), 0);
	}
	for (int i = 0; i < NCLIENTS; i++) {
		int fd = ringo_acceptor_next(&acc);
		assert_true(fd >= 0);
		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		close(fd);
	}
	/* One more client left queued: close() frees it. */
	int extra = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(0x7f000001)};
	connect(extra, (struct sockaddr *)&a, sizeof(a));
	ringo_sleep(RINGO_MSEC(5));
	assert_int_equal(ringo_acceptor_destroy(&acc), 0);
	assert_null(acc.impl);
	for (int i = 0; i < NCLIENTS; i++)
		close(c[i]);
	close(extra);
	close(lfd);
	return 0;
}

static void test_multishot_acceptor_queues_connections(void **state)
{
	assert_int_equal(fx_run_task(acceptor_body, NULL), 0);
}

struct acc_wait {
	ringo_acceptor acc;
	int rc;
};

static int acc_waiter(void *arg, void **result)
{
	struct acc_wait *w = arg;
	w->rc = ringo_acceptor_next(&w->acc);
	return 0;
}

/* A listener, an acceptor on it and a task suspended in
 * ringo_acceptor_next (w->rc stays 1 until it returns). */
static int start_waiting_acceptor(struct acc_wait *w, ringo_task **t)
{
	int lfd = ringo_tcp_listen(NULL, 0, 64, 0);
	assert_true(lfd >= 0);
	w->rc = 1;
	assert_int_equal(ringo_acceptor_init(&w->acc, lfd), 0);
	assert_int_equal(ringo_spawn(ringo_loop_current(), acc_waiter, w, NULL, t), 0);
	for (int i = 0; i < 4 && ringo_task_state(*t) != RINGO_TASK_SUSPENDED; i++)
		ringo_sleep(0);
	assert_int_equal(ringo_task_state(*t), RINGO_TASK_SUSPENDED);
	return lfd;
}

static int acceptor_cancel_body(void *arg, void **result)
{
	struct acc_wait w;
	ringo_task *t;
	int lfd = start_waiting_acceptor(&w, &t);
	ringo_task_cancel(t, NULL);
	ringo_await(ringo_task_future(t), NULL);
	assert_int_equal(w.rc, -ECANCELED);
	ringo_task_release(t);
	assert_int_equal(ringo_acceptor_destroy(&w.acc), 0);
	close(lfd);
	return 0;
}

static void test_acceptor_wait_is_cancellable(void **state)
{
	assert_int_equal(fx_run_task(acceptor_cancel_body, NULL), 0);
}

/* destroy between the waiter's wake-up and its run: ringo_close on the
 * listener ends the multishot, whose final CQE wakes the waiter; the
 * destroyer, queued before that CQE was reaped, runs first and finds the
 * multishot disarmed. It used to free the impl at once, under the woken
 * waiter; now it waits for the waiter to leave, which gets -ECANCELED. */
static int close_listener(void *arg, void **result)
{
	return ringo_close(*(int *)arg);
}

static int acceptor_destroy_woken_waiter_body(void *arg, void **result)
{
	struct acc_wait w;
	ringo_task *t, *closer;
	int lfd = start_waiting_acceptor(&w, &t);
	assert_int_equal(ringo_spawn(ringo_loop_current(), close_listener, &lfd, NULL, &closer), 0);
	for (int i = 0; i < 100 && ringo_task_state(t) == RINGO_TASK_SUSPENDED; i++)
		ringo_sleep(0);
	assert_int_equal(ringo_task_state(t), RINGO_TASK_READY); /* woken, not run */
	assert_int_equal(ringo_acceptor_destroy(&w.acc), 0);
	assert_null(w.acc.impl);
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), 0);
	assert_int_equal(w.rc, -ECANCELED);
	assert_int_equal(ringo_await(ringo_task_future(closer), NULL), 0);
	ringo_task_release(t);
	ringo_task_release(closer);
	return 0;
}

static void test_acceptor_destroy_waits_for_a_woken_waiter_to_leave(void **state)
{
	assert_int_equal(fx_run_task(acceptor_destroy_woken_waiter_body, NULL), 0);
}

/* destroy with a waiter still suspended and the multishot armed: the
 * waiter gets -ECANCELED, destroy returns after both the final CQE and
 * waiter's exit, and the storage can be initialised again at once. */
static int acceptor_destroy_suspended_waiter_body(void *arg, void **result)
{
	struct acc_wait w;
	ringo_task *t;
	int lfd = start_waiting_acceptor(&w, &t);
	assert_int_equal(ringo_acceptor_destroy(&w.acc), 0);
	assert_null(w.acc.impl);
	assert_int_equal(ringo_task_state(t), RINGO_TASK_DONE); /* it left before destroy returned */
	assert_int_equal(w.rc, -ECANCELED);
	ringo_task_release(t);
	/* The storage is the caller's again: init reuses it. */
	assert_int_equal(ringo_acceptor_init(&w.acc, lfd), 0);
	assert_int_equal(ringo_acceptor_destroy(&w.acc), 0);
	close(lfd);
	return 0;
}

static void test_acceptor_destroy_cancels_a_suspended_waiter_and_outlives_it(void **state)
{
	assert_int_equal(fx_run_task(acceptor_destroy_suspended_waiter_body, NULL), 0);
}

/* ringo_close on the listener of a running acceptor: the multishot is
 * cancelled, the waiting consumer wakes with -EBADF, and the acceptor
 * never arms again on that number, which the next socket reuses. */
static int acceptor_listener_closed_body(void *arg, void **result)
{
	struct acc_wait w;
	ringo_task *t;
	int lfd = start_waiting_acceptor(&w, &t);
	assert_int_equal(ringo_close(lfd), 0);
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), 0);
	assert_int_equal(w.rc, -EBADF);
	ringo_task_release(t);
	/* A new listener takes the number; the old acceptor leaves it alone. */
	int lfd2 = ringo_tcp_listen(NULL, 0, 64, 0);
	assert_int_equal(lfd2, lfd);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)ringo_socket_port(lfd2)),
				.sin_addr.s_addr = htonl(0x7f000001)};
	assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(ringo_acceptor_next(&w.acc), -EBADF);
	assert_int_equal(ringo_acceptor_next(&w.acc), -EBADF);
	ringo_sleep(0);
	ringo_sleep(0);
	/* Still in the backlog: nobody accepted it. */
	struct pollfd pfd = {.fd = lfd2, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 0), 1);
	int s = ringo_accept(lfd2, NULL, NULL, 0);
	assert_true(s >= 0);
	assert_int_equal(ringo_acceptor_destroy(&w.acc), 0);
	close(s);
	close(c);
	assert_int_equal(ringo_close(lfd2), 0);
	return 0;
}

static void test_close_of_the_listener_stops_its_acceptor(void **state)
{
	assert_int_equal(fx_run_task(acceptor_listener_closed_body, NULL), 0);
}

/* A cancel pending when acceptor_close starts is put off until the
 * kernel is done with the acceptor, then delivered: counted once. */
static int acceptor_close_pending_body(void *arg, void **result)
{
	int lfd = ringo_tcp_listen(NULL, 0, 16, 0);
	assert_true(lfd >= 0);
	ringo_acceptor acc;
	assert_int_equal(ringo_acceptor_init(&acc, lfd), 0);
	ringo_task *self = ringo_task_current();
	assert_true(ringo_task_cancel(self, NULL));
	assert_int_equal(ringo_acceptor_destroy(&acc), 0);
	assert_null(acc.impl);
	int n = ringo_task_cancelling(self);
	int next = ringo_sleep(0);
	close(lfd);
	assert_int_equal(n, 1);
	assert_int_equal(next, -ECANCELED);
	return 0;
}

static void test_acceptor_close_with_a_cancel_pending_counts_it_once(void **state)
{
	assert_int_equal(fx_run_task(acceptor_close_pending_body, NULL), 0);
}

/* A writer whose peer does not read: its socket fills and a send waits. */
#define BIG (256 * 1024)

struct stuck_writer {
	int sv[2];
	char *wb;
	int rc;
};

static int stuck_writer_body(void *arg, void **result)
{
	struct stuck_writer *w = arg;
	w->rc = ringo_send_all(w->sv[0], w->wb, BIG);
	/* A short count leaves the cancel for the next suspension. */
	int next = ringo_sleep(0);
	return w->rc > 0 && w->rc < BIG ? next : 0;
}

static size_t drain(int fd, char *into, size_t cap)
{
	size_t got = 0;
	for (;;) {
		ssize_t n = recv(fd, into + got, cap - got, MSG_DONTWAIT);
		if (n <= 0)
			return got;
		got += (size_t)n;
	}
}

static char *pattern(size_t n)
{
	char *p = malloc(n);
	for (size_t i = 0; i < n; i++)
		p[i] = (char)(i * 7 + i / 251);
	return p;
}

/* Start w's body on a socket with a small send buffer, let the peer take
 * some bytes (the send makes progress) and cancel the writer while its
 * next send waits. Returns how many bytes the peer got (copied to got);
 * *task_rc is the writer task's outcome. */
static size_t cancel_stuck_writer(struct stuck_writer *w, char *got, int *task_rc)
{
	fx_socketpair(w->sv);
	int small = 4096;
	setsockopt(w->sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	w->wb = pattern(BIG);
	ringo_task *t;
	assert_int_equal(ringo_spawn(ringo_loop_current(), stuck_writer_body, w, NULL, &t), 0);
	for (int i = 0; i < 4; i++)
		ringo_sleep(0);
	size_t n = drain(w->sv[1], got, BIG);
	for (int i = 0; i < 4; i++)
		ringo_sleep(0);
	assert_true(ringo_task_cancel(t, NULL));
	*task_rc = ringo_await(ringo_task_future(t), NULL);
	ringo_task_release(t);
	return n + drain(w->sv[1], got + n, BIG - n);
}

static int send_all_cancel_body(void *arg, void **result)
{
	struct stuck_writer w = {0};
	char *got = malloc(BIG);
	int trc;
	size_t n = cancel_stuck_writer(&w, got, &trc);
	/* The cancel is not lost: the task takes it at its next suspension. */
	assert_int_equal(trc, -ECANCELED);
	/* The return value says how much went out: exactly what arrived. */
	assert_true(n > 0 && n < BIG);
	assert_int_equal(w.rc, (int)n);
	assert_memory_equal(got, w.wb, n);
	free(w.wb);
	free(got);
	close(w.sv[0]);
	close(w.sv[1]);
	return 0;
}

static void test_send_all_cancelled_returns_the_bytes_sent(void **state)
{
	assert_int_equal(fx_run_task(send_all_cancel_body, NULL), 0);
}

/* ---- listen_unix replaces only a stale socket ---- */

static void unix_path(char *path, size_t cap, const char *what)
{
	snprintf(path, cap, "/tmp/ringo-net-%d-%s.sock", (int)getpid(), what);
	unlink(path);
}

static void test_listen_unix_leaves_a_regular_file_alone(void **state)
{
	char path[96];
	unix_path(path, sizeof(path), "file");
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("precious", f);
	fclose(f);
	assert_int_equal(ringo_unix_listen(path, 16), -EEXIST);
	char buf[16] = {0};
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "precious");
	unlink(path);
	/* A directory is not replaced either. */
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(ringo_unix_listen(path, 16), -EEXIST);
	assert_int_equal(rmdir(path), 0);
}

static void test_listen_unix_refuses_a_path_a_live_server_listens_on(void **state)
{
	char path[96];
	unix_path(path, sizeof(path), "live");
	int live = ringo_unix_listen(path, 16);
	assert_true(live >= 0);
	assert_int_equal(ringo_unix_listen(path, 16), -EADDRINUSE);
	/* The live server still owns the path: a client reaches it. */
	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	close(c);
	close(live);
	unlink(path);
}

static void test_listen_unix_replaces_a_stale_socket(void **state)
{
	char path[96];
	unix_path(path, sizeof(path), "stale");
	int old = ringo_unix_listen(path, 16);
	assert_true(old >= 0);
	close(old); /* the server died without unlinking */
	int fd = ringo_unix_listen(path, 16);
	assert_true(fd >= 0);
	echo_roundtrip(fd, path, -1);
	close(fd);
	unlink(path);
}

/* ---- provided buffer rings ---- */

static int bufring_body(void *arg, void **result)
{
	ringo_bufring *br;
	int err = ringo_bufring_new(ringo_loop_current(), 4, 64, 7, &br);
	if (err == -EOPNOTSUPP)
		return 1;
	assert_int_equal(err, 0);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	for (int round = 0; round < 10; round++) {
		assert_int_equal(send(sv[0], "buffer!", 7, 0), 7);
		void *data;
		unsigned bid;
		assert_int_equal(ringo_recv_buf(sv[1], br, &data, &bid), 7);
		assert_true(bid < 4);
		assert_memory_equal(data, "buffer!", 7);
		assert_int_equal(ringo_bufring_put(br, bid), 0);
	}
	/* A buffer id the ring never had is refused, not a crash. */
	assert_int_equal(ringo_bufring_put(br, 4), -EINVAL);
	assert_int_equal(ringo_bufring_put(NULL, 0), -EINVAL);
	/* Take every buffer without giving any back: -ENOBUFS. */
	for (int i = 0; i < 4; i++) {
		send(sv[0], "x", 1, 0);
		void *data;
		unsigned bid;
		assert_int_equal(ringo_recv_buf(sv[1], br, &data, &bid), 1);
	}
	send(sv[0], "y", 1, 0);
	void *data;
	unsigned bid;
	assert_int_equal(ringo_recv_buf(sv[1], br, &data, &bid), -ENOBUFS);
	ringo_bufring_free(br);
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_recv_with_provided_buffer_ring(void **state)
{
	int rc = fx_run_task(bufring_body, NULL);
	if (rc == 1)
		skip();
	assert_int_equal(rc, 0);
}

/* ---- EMFILE: the server keeps running ---- */

struct emfile_server {
	int lfd;
	int emfile_seen;
	int served;
	int stop;
};

static int emfile_server_body(void *arg, void **result)
{
	struct emfile_server *s = arg;
	ringo_acceptor acc;
	assert_int_equal(ringo_acceptor_init(&acc, s->lfd), 0);
	while (!s->stop) {
		int fd = ringo_acceptor_next(&acc);
		if (fd == -EMFILE || fd == -ENFILE) {
			s->emfile_seen++;
			ringo_sleep(RINGO_MSEC(1)); /* back off, then accept again */
			continue;
		}
		if (fd < 0)
			break;
		char buf[8];
		int n = ringo_recv(fd, buf, sizeof(buf), 0);
		if (n > 0)
			ringo_send_all(fd, buf, (size_t)n);
		ringo_close(fd);
		s->served++;
	}
	ringo_acceptor_destroy(&acc);
	return 0;
}

static int emfile_client_body(void *arg, void **result)
{
	struct emfile_server *s = arg;
	int port = ringo_socket_port(s->lfd);
	/* Use up every descriptor up to the limit (20000 here). */
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	int cap = (int)(rl.rlim_cur < 65536 ? rl.rlim_cur : 65536);
	int *fill = malloc(sizeof(int) * (size_t)cap);
	int nfill = 0;
	for (;;) {
		int fd = dup(0 <= s->lfd ? s->lfd : 0);
		if (fd < 0) {
			assert_int_equal(errno, EMFILE);
			break;
		}
		fill[nfill++] = fd;
	}
	/* One descriptor for the client socket; none left for the server. */
	close(fill[--nfill]);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(0x7f000001)};
	assert_int_equal(ringo_connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	while (s->emfile_seen == 0)
		ringo_sleep(RINGO_MSEC(1));
	/* Give descriptors back: the same server serves the client. */
	for (int i = 0; i < 16 && nfill; i++)
		close(fill[--nfill]);
	assert_int_equal(ringo_send_all(c, "hi", 2), 2);
	char buf[2];
	assert_int_equal(ringo_recv(c, buf, 2, MSG_WAITALL), 2);
	assert_memory_equal(buf, "hi", 2);
	close(c);
	while (nfill)
		close(fill[--nfill]);
	free(fill);
	s->stop = 1;
	/* Wake the server's accept with one last connection. */
	int last = ringo_tcp_connect("127.0.0.1", port, RINGO_FOREVER);
	if (last >= 0)
		close(last);
	return 0;
}

static void test_emfile_at_fd_limit_server_keeps_running(void **state)
{
	const char *vg = getenv("RINGO_UNDER_VALGRIND");
	if (vg && vg[0] == '1')
		skip(); /* Valgrind fakes RLIMIT_NOFILE; io_uring's accept uses the real one */
	struct emfile_server s = {0};
	s.lfd = ringo_tcp_listen(NULL, 0, 64, 0);
	assert_true(s.lfd >= 0);
	ringo_task *srv;
	assert_int_equal(ringo_spawn(fx_loop, emfile_server_body, &s, NULL, &srv), 0);
	assert_int_equal(fx_run_task(emfile_client_body, &s), 0);
	assert_int_equal(ringo_loop_run_until_complete(fx_loop, ringo_task_future(srv), NULL), 0);
	ringo_task_release(srv);
	assert_true(s.emfile_seen > 0);
	assert_true(s.served >= 1);
	close(s.lfd);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tcp_listen_v4_and_connect, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tcp_listen_v6_and_connect, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unix_listen_and_connect, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_reuseport_lets_two_listeners_share_a_port, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_listen_rejects_bad_addresses, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tcp_connect_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tcp_connect_with_timeout_times_out, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unix_connect_zero_timeout_does_not_wait, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_connect_rejects_bad_arguments, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_multishot_acceptor_queues_connections, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_acceptor_wait_is_cancellable, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_acceptor_destroy_waits_for_a_woken_waiter_to_leave, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_acceptor_destroy_cancels_a_suspended_waiter_and_outlives_it, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_close_of_the_listener_stops_its_acceptor, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_acceptor_close_with_a_cancel_pending_counts_it_once, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_send_all_cancelled_returns_the_bytes_sent, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_listen_unix_leaves_a_regular_file_alone, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_listen_unix_refuses_a_path_a_live_server_listens_on, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_listen_unix_replaces_a_stale_socket, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_recv_with_provided_buffer_ring, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_emfile_at_fd_limit_server_keeps_running, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
