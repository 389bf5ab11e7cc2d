/* The client side of streams: ringo_getaddrinfo on the executor (the loop
 * keeps running; a cancel returns at once; errors as errnos), and
 * ringo_stream_connect / connect_unix (each address tried in turn, v6 and
 * v4 interleaved, one timeout for all). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "support.h"
#include "stream_internal.h"

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* ---- stand-in resolvers ---- */

/* Names ending in ".test" are made up: "v6first.test" is ::1 then
 * 127.0.0.1, "v4first.test" the other way round; anything else goes to
 * getaddrinfo. Built from getaddrinfo's own lists so freeaddrinfo frees
 * them. */
static int two_numeric(const char *a, const char *b, const char *service,
		       const struct addrinfo *hints, struct addrinfo **res)
{
	struct addrinfo h = hints ? *hints : (struct addrinfo){0};
	h.ai_flags |= AI_NUMERICHOST;
	h.ai_family = AF_UNSPEC;
	struct addrinfo *ra, *rb;
	int rc = getaddrinfo(a, service, &h, &ra);
	if (rc)
		return rc;
	rc = getaddrinfo(b, service, &h, &rb);
	if (rc) {
		freeaddrinfo(ra);
		return rc;
	}
	struct addrinfo *t = ra;
	while (t->ai_next)
		t = t->ai_next;
	t->ai_next = rb;
	*res = ra;
	return 0;
}

static int fake_resolve(const char *node, const char *service, const struct addrinfo *hints,
			struct addrinfo **res)
{
	if (node && !strcmp(node, "v6first.test"))
		return two_numeric("::1", "127.0.0.1", service, hints, res);
	if (node && !strcmp(node, "v4first.test"))
		return two_numeric("127.0.0.1", "::1", service, hints, res);
	return getaddrinfo(node, service, hints, res);
}

/* A lookup that waits until the test lets it go. */
static sem_t gate;
static atomic_int slow_started, slow_finished;

static int slow_resolve(const char *node, const char *service, const struct addrinfo *hints,
			struct addrinfo **res)
{
	atomic_fetch_add(&slow_started, 1);
	sem_wait(&gate);
	int rc = getaddrinfo(node, service, hints, res);
	atomic_fetch_add(&slow_finished, 1);
	return rc;
}

static int resolver_setup(void **state)
{
	ringo__resolve_fn = fake_resolve;
	return fx_setup(state);
}

static int resolver_teardown(void **state)
{
	int rc = fx_teardown(state);
	ringo__resolve_fn = getaddrinfo;
	/* Every lookup job is gone once the loop is (close waits for them). */
	assert_int_equal(atomic_load(&ringo__resolve_jobs), 0);
	return rc;
}

/* ---- getaddrinfo ---- */

static int ticks;
static bool ticking;

static int ticker_body(void *arg, void **result)
{
	while (ticking) {
		ticks++;
		ringo_sleep(0);
	}
	return 0;
}

static bool has_family(const struct addrinfo *r, int family)
{
	for (; r; r = r->ai_next)
		if (r->ai_family == family)
			return true;
	return false;
}

static int localhost_body(void *arg, void **result)
{
	ticking = true;
	ticks = 0;
	ringo_task *t;
	assert_int_equal(ringo_spawn(ringo_loop_current(), ticker_body, NULL, NULL, &t), 0);
	ringo_sleep(0);
	int before = ticks;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	assert_int_equal(ringo_getaddrinfo("localhost", "80", &hints, &res), 0);
	/* The loop ran while a worker looked the name up. */
	assert_true(ticks > before);
	assert_non_null(res);
	assert_true(has_family(res, AF_INET) || has_family(res, AF_INET6));
	for (struct addrinfo *r = res; r; r = r->ai_next) {
		assert_int_equal(r->ai_socktype, SOCK_STREAM);
		int port = r->ai_family == AF_INET
				   ? ntohs(((struct sockaddr_in *)r->ai_addr)->sin_port)
				   : ntohs(((struct sockaddr_in6 *)r->ai_addr)->sin6_port);
		assert_int_equal(port, 80);
	}
	freeaddrinfo(res);
	ticking = false;
	ringo_await(ringo_task_future(t), NULL);
	ringo_task_release(t);
	return 0;
}

static void test_getaddrinfo_resolves_localhost_while_the_loop_runs(void **state)
{
	FX_NEED_LOCALHOST();
	assert_int_equal(fx_run_task(localhost_body, NULL), 0);
}

static int numeric_body(void *arg, void **result)
{
	struct addrinfo *res = NULL;
	assert_int_equal(ringo_getaddrinfo("127.0.0.1", "8080", NULL, &res), 0);
	assert_int_equal(res->ai_family, AF_INET);
	freeaddrinfo(res);
	assert_int_equal(ringo_getaddrinfo("::1", NULL, NULL, &res), 0);
	assert_int_equal(res->ai_family, AF_INET6);
	freeaddrinfo(res);
	assert_int_equal(ringo_getaddrinfo(NULL, "99", NULL, &res), 0);
	freeaddrinfo(res);
	/* No worker was ever asked: the executor was never even made. */
	assert_null(ringo_loop_current()->exec);
	return 0;
}

static void test_numeric_addresses_never_touch_the_executor(void **state)
{
	FX_NEED_LOCALHOST();
	assert_int_equal(fx_run_task(numeric_body, NULL), 0);
}

static int errors_body(void *arg, void **result)
{
	struct addrinfo *res = (struct addrinfo *)1;
	int rc = ringo_getaddrinfo("no-such-host.invalid", NULL, NULL, &res);
	/* NXDOMAIN, or no name server reachable here at all. */
	assert_true(rc == -ENOENT || rc == -EAGAIN);
	assert_ptr_equal(res, (struct addrinfo *)1); /* untouched */
	assert_non_null(strstr(ringo_strerror(-ENOENT), "name"));
	assert_int_equal(ringo_getaddrinfo("localhost", "no-such-service-xyz", NULL, &res), -ESRCH);
	assert_non_null(strstr(ringo_strerror(-ESRCH), "service"));
	struct addrinfo bad = {.ai_family = 12345};
	assert_int_equal(ringo_getaddrinfo("localhost", NULL, &bad, &res), -EAFNOSUPPORT);
	assert_int_equal(ringo_getaddrinfo(NULL, NULL, NULL, &res), -EINVAL);
	assert_int_equal(ringo_getaddrinfo("localhost", NULL, NULL, NULL), -EINVAL);
	return 0;
}

static void test_getaddrinfo_errors_are_errnos_with_clear_texts(void **state)
{
	FX_NEED_LOCALHOST();
	assert_int_equal(fx_run_task(errors_body, NULL), 0);
	/* Outside a task: refused. */
	struct addrinfo *res;
	assert_int_equal(ringo_getaddrinfo("localhost", NULL, NULL, &res), -EPERM);
}

struct lookup {
	const char *node;
	int rc;
	struct addrinfo *res;
};

static int lookup_body(void *arg, void **result)
{
	struct lookup *l = arg;
	l->rc = ringo_getaddrinfo(l->node, "1", NULL, &l->res);
	return 0;
}

/* Cancelled while the lookup runs on its worker: -ECANCELED at once; the
 * job finishes later on its own and frees everything (the teardown
 * checks the allocator, valgrind the rest). */
static int cancel_running_body(void *arg, void **result)
{
	atomic_store(&slow_started, 0);
	atomic_store(&slow_finished, 0);
	ringo__resolve_fn = slow_resolve;
	struct lookup l = {.node = "localhost", .rc = 1};
	ringo_task *t;
	assert_int_equal(ringo_spawn(ringo_loop_current(), lookup_body, &l, NULL, &t), 0);
	while (atomic_load(&slow_started) == 0)
		ringo_sleep(RINGO_MSEC(1));
	assert_true(ringo_task_cancel(t, NULL));
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), 0);
	ringo_task_release(t);
	assert_int_equal(l.rc, -ECANCELED);
	assert_null(l.res);
	assert_int_equal(atomic_load(&slow_finished), 0); /* still running */
	sem_post(&gate);
	while (atomic_load(&slow_finished) == 0)
		ringo_sleep(RINGO_MSEC(1));
	ringo__resolve_fn = fake_resolve;
	return 0;
}

static void test_cancel_returns_at_once_while_the_lookup_runs(void **state)
{
	FX_NEED_LOCALHOST();
	sem_init(&gate, 0, 0);
	assert_int_equal(fx_run_task(cancel_running_body, NULL), 0);
	/* The worker's job comes back to the loop before the teardown. */
	sem_destroy(&gate);
}

/* Cancelled while its job still waits for a worker (one worker, busy):
 * the job is withdrawn and never runs. */
static int busy_worker(void *arg, void **result)
{
	sem_wait(&gate);
	return 0;
}

static int cancel_queued_body(void *arg, void **result)
{
	atomic_store(&slow_started, 0);
	ringo__resolve_fn = slow_resolve;
	ringo_future *busy;
	assert_int_equal(ringo_run_in_executor(ringo_loop_current(), NULL, busy_worker, NULL, &busy),
			 0);
	struct lookup l = {.node = "localhost", .rc = 1};
	ringo_task *t;
	assert_int_equal(ringo_spawn(ringo_loop_current(), lookup_body, &l, NULL, &t), 0);
	for (int i = 0; i < 5; i++)
		ringo_sleep(0);
	assert_true(ringo_task_cancel(t, NULL));
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), 0);
	ringo_task_release(t);
	assert_int_equal(l.rc, -ECANCELED);
	sem_post(&gate);
	assert_int_equal(ringo_await(busy, NULL), 0);
	ringo_future_release(busy);
	for (int i = 0; i < 20; i++)
		ringo_sleep(RINGO_MSEC(1));
	assert_int_equal(atomic_load(&slow_started), 0); /* withdrawn: never ran */
	ringo__resolve_fn = fake_resolve;
	return 0;
}

static void test_cancel_withdraws_a_lookup_not_started(void **state)
{
	FX_NEED_LOCALHOST();
	sem_init(&gate, 0, 0);
	assert_int_equal(ringo_loop_set_default_executor_workers(fx_loop, 1), 0);
	assert_int_equal(fx_run_task(cancel_queued_body, NULL), 0);
	sem_destroy(&gate);
}

/* The loop closes while a lookup still runs on its worker, its caller
 * gone (cancelled, or abandoned by a close that cancels nothing): close
 * waits for the worker, and the job is freed all the same. */
static void *open_gate_later(void *arg)
{
	usleep(50 * 1000);
	sem_post(&gate);
	return NULL;
}

static struct lookup closing_lookup = {.node = "localhost"};

static int start_lookup(void *arg, void **result)
{
	ringo__resolve_fn = slow_resolve;
	ringo_task **t = arg;
	closing_lookup.rc = 1;
	assert_int_equal(ringo_spawn(ringo_loop_current(), lookup_body, &closing_lookup, NULL, t), 0);
	while (atomic_load(&slow_started) == 0)
		ringo_sleep(RINGO_MSEC(1));
	return 0;
}

static void close_during_lookup(bool cancel_first)
{
	sem_init(&gate, 0, 0);
	atomic_store(&slow_started, 0);
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *lt, *t;
	assert_int_equal(ringo_spawn(loop, start_lookup, &lt, NULL, &t), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	ringo_task_release(t);
	if (cancel_first) {
		assert_true(ringo_task_cancel(lt, NULL));
		assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(lt), NULL), 0);
		assert_int_equal(closing_lookup.rc, -ECANCELED);
	}
	ringo_task_release(lt);
	pthread_t th;
	pthread_create(&th, NULL, open_gate_later, NULL);
	test_loop_free(loop, &ca); /* waits for the worker */
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&ringo__resolve_jobs), 0);
	sem_destroy(&gate);
	ringo__resolve_fn = fake_resolve;
}

static void test_a_loop_closed_during_a_cancelled_lookup_frees_the_job(void **state)
{
	FX_NEED_LOCALHOST();
	close_during_lookup(true);
}

static void test_a_loop_closed_under_a_waiting_lookup_frees_the_job(void **state)
{
	FX_NEED_LOCALHOST();
	close_during_lookup(false);
}

/* ---- connect ---- */

struct acceptor {
	int lfd;
	int fd;
	int family;
};

static int accept_body(void *arg, void **result)
{
	struct acceptor *a = arg;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	a->fd = ringo_accept(a->lfd, (struct sockaddr *)&ss, &len, 0);
	a->family = ss.ss_family;
	return a->fd < 0 ? a->fd : 0;
}

/* Connect to host:port with a listener on lhost only; the family the
 * connection came from, or the error. */
static int connect_via(const char *host, const char *lhost, unsigned lflags)
{
	int lfd = ringo_tcp_listen(lhost, 0, 16, lflags);
	if (lfd < 0)
		return lfd;
	struct acceptor a = {.lfd = lfd, .fd = -1};
	ringo_task *t;
	assert_int_equal(ringo_spawn(ringo_loop_current(), accept_body, &a, NULL, &t), 0);
	ringo_stream *s;
	int rc = ringo_stream_connect(host, ringo_socket_port(lfd), RINGO_SEC(10), NULL, &s);
	if (rc == 0) {
		assert_int_equal(ringo_await(ringo_task_future(t), NULL), 0);
		/* A working stream: one byte each way. */
		assert_int_equal(ringo_stream_write(s, "?", 1), 0);
		char c;
		assert_int_equal(ringo_recv(a.fd, &c, 1, 0), 1);
		assert_int_equal(ringo_send(a.fd, "!", 1, 0), 1);
		assert_int_equal(ringo_stream_read(s, &c, 1), 1);
		assert_int_equal(c, '!');
		ringo_stream_free(s);
		close(a.fd);
		rc = a.family;
	} else {
		ringo_task_cancel(t, NULL);
		ringo_await(ringo_task_future(t), NULL);
	}
	ringo_task_release(t);
	close(lfd);
	return rc;
}

static bool have_ipv6_loopback(void)
{
	int fd = ringo_tcp_listen("::1", 0, 1, RINGO_TCP_LISTEN_V6ONLY);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static int both_families_body(void *arg, void **result)
{
	if (!have_ipv6_loopback())
		return 1;
	/* The first address refused, the second (the other family) taken. */
	assert_int_equal(connect_via("v6first.test", "127.0.0.1", 0), AF_INET);
	assert_int_equal(connect_via("v4first.test", "::1", RINGO_TCP_LISTEN_V6ONLY), AF_INET6);
	/* The first one taken when it works. */
	assert_int_equal(connect_via("v6first.test", "::1", RINGO_TCP_LISTEN_V6ONLY), AF_INET6);
	assert_int_equal(connect_via("v4first.test", "127.0.0.1", 0), AF_INET);
	/* Numeric hosts: as given. */
	assert_int_equal(connect_via("127.0.0.1", "127.0.0.1", 0), AF_INET);
	assert_int_equal(connect_via("::1", "::1", RINGO_TCP_LISTEN_V6ONLY), AF_INET6);
	return 0;
}

static void test_connect_tries_v6_and_v4_each_in_turn(void **state)
{
	int rc = fx_run_task(both_families_body, NULL);
	if (rc == 1)
		skip(); /* no IPv6 loopback here */
	assert_int_equal(rc, 0);
}

/* The real "localhost": every family it resolves to is reachable through
 * it, whichever comes first. */
static int localhost_connect_body(void *arg, void **result)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	assert_int_equal(ringo_getaddrinfo("localhost", NULL, &hints, &res), 0);
	bool v4 = has_family(res, AF_INET), v6 = has_family(res, AF_INET6);
	freeaddrinfo(res);
	/* A task keeps ticking while the connects resolve the name. */
	ticking = true;
	ticks = 0;
	ringo_task *t;
	assert_int_equal(ringo_spawn(ringo_loop_current(), ticker_body, NULL, NULL, &t), 0);
	ringo_sleep(0);
	int before = ticks;
	if (v4)
		assert_int_equal(connect_via("localhost", "127.0.0.1", 0), AF_INET);
	if (v6 && have_ipv6_loopback())
		assert_int_equal(connect_via("localhost", "::1", RINGO_TCP_LISTEN_V6ONLY), AF_INET6);
	assert_true(ticks > before);
	ticking = false;
	ringo_await(ringo_task_future(t), NULL);
	ringo_task_release(t);
	return 0;
}

static void test_connect_to_localhost_reaches_each_of_its_families(void **state)
{
	FX_NEED_LOCALHOST();
	assert_int_equal(fx_run_task(localhost_connect_body, NULL), 0);
}

static int refused_body(void *arg, void **result)
{
	int lfd = ringo_tcp_listen("127.0.0.1", 0, 16, 0);
	int port = ringo_socket_port(lfd);
	close(lfd);
	ringo_stream *s = (ringo_stream *)1;
	int fds = count_fds();
	assert_int_equal(ringo_stream_connect("localhost", port, RINGO_SEC(5), NULL, &s),
			 -ECONNREFUSED);
	assert_null(s);
	assert_int_equal(ringo_stream_connect("127.0.0.1", port, -1, NULL, &s), -ECONNREFUSED);
	assert_int_equal(count_fds(), fds);
	int rc = ringo_stream_connect("no-such-host.invalid", 80, RINGO_SEC(5), NULL, &s);
	assert_true(rc == -ENOENT || rc == -EAGAIN);
	/* Bad input */
	assert_int_equal(ringo_stream_connect(NULL, 80, -1, NULL, &s), -EINVAL);
	assert_int_equal(ringo_stream_connect("localhost", 70000, -1, NULL, &s), -EINVAL);
	assert_int_equal(ringo_stream_connect("localhost", 80, -1, NULL, NULL), -EINVAL);
	ringo_stream_options bad = {.flags = 1u << 30};
	assert_int_equal(ringo_stream_connect("localhost", 80, -1, &bad, &s), -EINVAL);
	return 0;
}

static void test_connect_refused_unknown_name_and_bad_input(void **state)
{
	FX_NEED_LOCALHOST();
	assert_int_equal(fx_run_task(refused_body, NULL), 0);
	ringo_stream *s;
	assert_int_equal(ringo_stream_connect("127.0.0.1", 1, -1, NULL, &s), -EPERM);
}

/* A listener that never accepts, its queue full (backlog 1: two
 * connections): SYNs are dropped and connect waits until the timeout. */
static int timeout_body(void *arg, void **result)
{
	int lfd = ringo_tcp_listen("127.0.0.1", 0, 1, 0);
	int port = ringo_socket_port(lfd);
	int fill[8];
	for (int i = 0; i < 8; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(0x7f000001)};
		connect(fill[i], (struct sockaddr *)&a, sizeof(a));
	}
	ringo_sleep(RINGO_MSEC(20));
	int fds = count_fds();
	ringo_stream *s = NULL, *s0 = NULL;
	int rc = ringo_stream_connect("localhost", port, RINGO_MSEC(100), NULL, &s);
	int rc0 = ringo_stream_connect("127.0.0.1", port, 0, NULL, &s0);
	int after = count_fds();
	for (int i = 0; i < 8; i++)
		close(fill[i]);
	close(lfd);
	if (rc == 0 || rc0 == 0) {
		ringo_stream_free(s);
		ringo_stream_free(s0);
		return 1; /* the kernel let it through: cannot test here */
	}
	assert_int_equal(rc, -ETIMEDOUT);
	assert_int_equal(rc0, -ETIMEDOUT); /* 0: do not wait */
	assert_int_equal(after, fds);
	return 0;
}

static void test_connect_times_out_within_one_timeout(void **state)
{
	FX_NEED_LOCALHOST();
	int rc = fx_run_task(timeout_body, NULL);
	if (rc == 1)
		skip();
	assert_int_equal(rc, 0);
}

struct connector {
	const char *host;
	int port;
	int rc;
	ringo_stream *s;
};

static int connector_body(void *arg, void **result)
{
	struct connector *c = arg;
	c->rc = ringo_stream_connect(c->host, c->port, RINGO_SEC(10), NULL, &c->s);
	return 0;
}

/* Cancelled in the middle (the lookup, then the connect): -ECANCELED, no
 * fd left behind. */
static int connect_cancel_body(void *arg, void **result)
{
	int lfd = ringo_tcp_listen("127.0.0.1", 0, 1, 0);
	int port = ringo_socket_port(lfd);
	int fill[8];
	for (int i = 0; i < 8; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(0x7f000001)};
		connect(fill[i], (struct sockaddr *)&a, sizeof(a));
	}
	ringo_sleep(RINGO_MSEC(20));
	int fds = count_fds();
	const char *hosts[] = {"localhost", "127.0.0.1"};
	for (int h = 0; h < 2; h++) {
		struct connector c = {hosts[h], port, 1, NULL};
		ringo_task *t;
		assert_int_equal(ringo_spawn(ringo_loop_current(), connector_body, &c, NULL, &t), 0);
		ringo_sleep(RINGO_MSEC(10));
		assert_true(ringo_task_cancel(t, NULL));
		assert_int_equal(ringo_await(ringo_task_future(t), NULL), 0);
		ringo_task_release(t);
		if (c.rc == 0)
			ringo_stream_free(c.s); /* let through: nothing to check */
		else
			assert_int_equal(c.rc, -ECANCELED);
		/* A cancel returns at once while the lookup runs on; the
		 * resolver (glibc: /etc/hosts, a netlink socket) may hold an
		 * fd of its own until its job ends: wait for that, bounded. */
		for (int i = 0; i < 2000 && atomic_load(&ringo__resolve_jobs) != 0; i++)
			ringo_sleep(RINGO_MSEC(5));
		assert_int_equal(count_fds(), fds);
	}
	for (int i = 0; i < 8; i++)
		close(fill[i]);
	close(lfd);
	return 0;
}

static void test_connect_cancelled_leaves_no_fd(void **state)
{
	FX_NEED_LOCALHOST();
	assert_int_equal(fx_run_task(connect_cancel_body, NULL), 0);
}

static int unix_body(void *arg, void **result)
{
	char path[96];
	snprintf(path, sizeof(path), "/tmp/ringo-resolve-%d.sock", (int)getpid());
	unlink(path);
	ringo_stream *s = NULL;
	assert_int_equal(ringo_stream_connect_unix(path, RINGO_SEC(1), NULL, &s), -ENOENT);
	int lfd = ringo_unix_listen(path, 16);
	assert_true(lfd >= 0);
	struct acceptor a = {.lfd = lfd, .fd = -1};
	ringo_task *t;
	assert_int_equal(ringo_spawn(ringo_loop_current(), accept_body, &a, NULL, &t), 0);
	assert_int_equal(ringo_stream_connect_unix(path, RINGO_SEC(1), NULL, &s), 0);
	assert_int_equal(ringo_await(ringo_task_future(t), NULL), 0);
	ringo_task_release(t);
	assert_int_equal(a.family, AF_UNIX);
	assert_int_equal(ringo_stream_write(s, "unix", 4), 0);
	char buf[4];
	assert_int_equal(ringo_recv(a.fd, buf, 4, MSG_WAITALL), 4);
	assert_memory_equal(buf, "unix", 4);
	ringo_stream_free(s);
	close(a.fd);
	close(lfd);
	/* A stale socket file: nobody listens. */
	assert_int_equal(ringo_stream_connect_unix(path, RINGO_SEC(1), NULL, &s), -ECONNREFUSED);
	unlink(path);
	assert_int_equal(ringo_stream_connect_unix("", -1, NULL, &s), -EINVAL);
	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = 0;
	assert_int_equal(ringo_stream_connect_unix(longp, -1, NULL, &s), -EINVAL);
	return 0;
}

static void test_connect_unix(void **state)
{
	assert_int_equal(fx_run_task(unix_body, NULL), 0);
}

/* RFC 8305's order without the racing: the families alternate, starting
 * with the first one's, each keeping its own order. */
static void test_connect_order_interleaves_the_families(void **state)
{
	struct sockaddr_in6 six[3];
	struct sockaddr_in four[2];
	struct addrinfo ai[5];
	int fam[5] = {AF_INET6, AF_INET6, AF_INET6, AF_INET, AF_INET};
	for (int i = 0, a6 = 0, a4 = 0; i < 5; i++) {
		memset(&ai[i], 0, sizeof(ai[i]));
		ai[i].ai_family = fam[i];
		ai[i].ai_addr = fam[i] == AF_INET6 ? (struct sockaddr *)&six[a6++]
						   : (struct sockaddr *)&four[a4++];
		ai[i].ai_next = i < 4 ? &ai[i + 1] : NULL;
	}
	const struct addrinfo *order[5];
	ringo__connect_order(ai, order, 5);
	const struct addrinfo *want[5] = {&ai[0], &ai[3], &ai[1], &ai[4], &ai[2]};
	for (int i = 0; i < 5; i++)
		assert_ptr_equal(order[i], want[i]);
	/* v4 first this time */
	ai[4].ai_next = &ai[0];
	ai[2].ai_next = NULL;
	ai[3].ai_next = &ai[4];
	ringo__connect_order(&ai[3], order, 5);
	const struct addrinfo *want2[5] = {&ai[3], &ai[0], &ai[4], &ai[1], &ai[2]};
	for (int i = 0; i < 5; i++)
		assert_ptr_equal(order[i], want2[i]);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1)
		cmocka_set_test_filter(argv[1]); /* e.g. "test_connect_*" */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_getaddrinfo_resolves_localhost_while_the_loop_runs, resolver_setup, resolver_teardown),
		cmocka_unit_test_setup_teardown(test_numeric_addresses_never_touch_the_executor, resolver_setup, resolver_teardown),
		cmocka_unit_test_setup_teardown(test_getaddrinfo_errors_are_errnos_with_clear_texts, resolver_setup, resolver_teardown),
		cmocka_unit_test_setup_teardown(test_cancel_returns_at_once_while_the_lookup_runs, resolver_setup, resolver_teardown),
		cmocka_unit_test_setup_teardown(test_cancel_withdraws_a_lookup_not_started, resolver_setup, resolver_teardown),
		cmocka_unit_test(test_a_loop_closed_during_a_cancelled_lookup_frees_the_job),
		cmocka_unit_test(test_a_loop_closed_under_a_waiting_lookup_frees_the_job),
		cmocka_unit_test_setup_teardown(test_connect_tries_v6_and_v4_each_in_turn, resolver_setup, resolver_teardown),
		cmocka_unit_test_setup_teardown(test_connect_to_localhost_reaches_each_of_its_families, resolver_setup, resolver_teardown),
		cmocka_unit_test_setup_teardown(test_connect_refused_unknown_name_and_bad_input, resolver_setup, resolver_teardown),
		cmocka_unit_test_setup_teardown(test_connect_times_out_within_one_timeout, resolver_setup, resolver_teardown),
		cmocka_unit_test_setup_teardown(test_connect_cancelled_leaves_no_fd, resolver_setup, resolver_teardown),
		cmocka_unit_test_setup_teardown(test_connect_unix, resolver_setup, resolver_teardown),
		cmocka_unit_test(test_connect_order_interleaves_the_families),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
