/*
 * churn: connection churn against an echo server, with and without many
 * idle connections open, and the stall a mass close causes.
 *
 *   churn [--server BIN] [--idle N] [--seconds T] [--parallel C]
 *         [--rounds R] [--server-cpu A] [--client-cpu B]
 *
 * Starts `BIN PORT` (default build/examples/echo_server) pinned to CPU A
 * (default 0) and drives it from CPU B (default 1). Each round:
 *
 *   1. churn for T s (default 5) with no idle connection: C (default 16)
 *      connections at a time, each connecting, sending 64 bytes, reading
 *      the 64-byte echo back and closing, then starting over;
 *   2. opens N (default 15000) idle connections and makes one round trip
 *      on each, so the server has a receive in flight on every one;
 *   3. churns for T s again beside the N idle connections;
 *   4. a live connection makes back-to-back 64-byte round trips, first for
 *      a quiet 0.5 s, then while all N idle connections are shut down at
 *      once (each sends its FIN; the server sees EOF and closes its end;
 *      churn waits for every server-side close, seen as EOF, to finish).
 *
 * Churn connections close with an RST (SO_LINGER 0) so that neither side
 * keeps TIME_WAIT sockets: tens of thousands of connections a second would
 * otherwise use up the ephemeral ports. The echo server sees the RST as
 * -ECONNRESET on its next receive and closes the socket as it would at EOF.
 *
 * Output, one "name value" pair a line (medians over the rounds; each
 * round's figures first as `# round` comments):
 *   churn_conn_per_s_idle0            completed connections per second
 *   churn_conn_per_s_idle<N>          the same beside N idle connections
 *   churn_ratio                       idle0 / idle<N>: 1.0 = no slowdown
 *   churn_server_cpu_us_per_conn_idle0, _idle<N>   server CPU per connection
 *                                     (utime+stime from /proc/PID/stat)
 *   churn_cpu_ratio                   idle<N> / idle0 server CPU per conn
 *   quiet_max_rtt_ms                  worst live round trip, nothing closing
 *   mass_close_max_rtt_ms             worst live round trip while the server
 *                                     closes the N idle connections
 *   mass_close_s                      from the first FIN to the last close
 *
 * The open-file limit is raised to its hard limit; N + C + a few must fit
 * in it, in this process and in the server. Any failure prints a message
 * and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "times.h"

#define MSG 64
#define MAX_ROUNDS 16
#define OPEN_BATCH 500

static struct {
	const char *server;
	int idle, parallel, rounds, server_cpu, client_cpu;
	double seconds;
} opt = {.server = "build/examples/echo_server", .idle = 15000, .parallel = 16,
	 .rounds = 1, .server_cpu = 0, .client_cpu = 1, .seconds = 5};

static struct sockaddr_in server_addr;
static pid_t server_pid;

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("churn: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (server_pid > 0) {
		kill(server_pid, SIGKILL);
		waitpid(server_pid, NULL, 0);
	}
	exit(1);
}

static void pin(int cpu)
{
	cpu_set_t set;
	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		perror("churn: sched_setaffinity");
}

/* utime+stime of the server in clock ticks (fields 14 and 15 of stat,
 * counted after the ')' that ends the command name). */
static long long server_ticks(void)
{
	char path[64], buf[4096];
	unsigned long long ut, st;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)server_pid);
	FILE *f = fopen(path, "r");
	if (!f)
		die("cannot read %s", path);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		die("cannot parse %s", path);
	return (long long)(ut + st);
}

/* ---- the server ---- */

/* A port below the ephemeral range that nothing is bound to now. */
static int free_port(void)
{
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	for (int i = 0; i < 200; i++) {
		int port = 20000 + rand() % 12000;
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return port;
	}
	die("no free port");
}

/* Blocking connect from 127.0.0.src (0: let the kernel pick). */
static int try_connect(int src)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (src) {
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK + (uint32_t)src)};
		int one = 1;
		/* The port is picked at connect, unique per 4-tuple. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
			die("bind 127.0.0.%d: %s", src + 1, strerror(errno));
	}
	if (connect(fd, (struct sockaddr *)&server_addr, sizeof(server_addr)) != 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void start_server(void)
{
	int port = free_port();
	server_addr.sin_family = AF_INET;
	server_addr.sin_port = htons((uint16_t)port);
	server_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	char port_s[16];
	snprintf(port_s, sizeof(port_s), "%d", port);
	server_pid = fork();
	if (server_pid < 0)
		die("fork: %s", strerror(errno));
	if (server_pid == 0) {
		pin(opt.server_cpu);
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, STDOUT_FILENO);
		execl(opt.server, opt.server, port_s, (char *)NULL);
		fprintf(stderr, "churn: exec %s: %s\n", opt.server, strerror(errno));
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		int fd = try_connect(0);
		if (fd >= 0) {
			close(fd);
			return;
		}
		if (waitpid(server_pid, NULL, WNOHANG) == server_pid) {
			server_pid = 0;
			die("%s exited at start", opt.server);
		}
		usleep(25000);
	}
	die("%s did not listen on port %d within 5 s", opt.server, port);
}

static void stop_server(void)
{
	kill(server_pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(server_pid, NULL, WNOHANG) == server_pid) {
			server_pid = 0;
			return;
		}
		usleep(50000);
	}
	fprintf(stderr, "churn: %s ignored SIGTERM for 5 s, killing it\n", opt.server);
	kill(server_pid, SIGKILL);
	waitpid(server_pid, NULL, 0);
	server_pid = 0;
}

/* ---- blocking round trips ---- */

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("send: %s", n < 0 ? strerror(errno) : "nothing sent");
		buf += n;
		len -= (size_t)n;
	}
}

static void read_exactly(int fd, char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = recv(fd, buf, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("recv: %s", n < 0 ? strerror(errno) : "the server closed");
		buf += n;
		len -= (size_t)n;
	}
}

/* ---- churn ---- */

enum { CONNECTING, READING };

struct churner {
	int fd;
	int state;
	size_t got;
	char rx[MSG];
};

static const char request[MSG] = "churn: one request per connection, then close ........";

static void churn_open(int ep, struct churner *c)
{
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket: %s", strerror(errno));
	int one = 1;
	struct linger rst = {.l_onoff = 1, .l_linger = 0};
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
	if (connect(c->fd, (struct sockaddr *)&server_addr, sizeof(server_addr)) != 0 &&
	    errno != EINPROGRESS)
		die("connect: %s", strerror(errno));
	c->state = CONNECTING;
	c->got = 0;
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		die("epoll_ctl: %s", strerror(errno));
}

/* One readiness event; returns 1 when the connection completed. */
static int churn_step(int ep, struct churner *c)
{
	if (c->state == CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err)
			die("connect: %s", strerror(err));
		/* 64 bytes always fit a fresh socket's send buffer. */
		if (send(c->fd, request, MSG, MSG_NOSIGNAL) != MSG)
			die("send: %s", strerror(errno));
		c->state = READING;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
			die("epoll_ctl: %s", strerror(errno));
		return 0;
	}
	ssize_t n = recv(c->fd, c->rx + c->got, MSG - c->got, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		die("churn recv: %s", n < 0 ? strerror(errno) : "the server closed first");
	c->got += (size_t)n;
	if (c->got < MSG)
		return 0;
	if (memcmp(c->rx, request, MSG) != 0)
		die("churn: the echo differs from the request");
	close(c->fd); /* SO_LINGER 0: an RST, no TIME_WAIT */
	churn_open(ep, c);
	return 1;
}

struct churn_result {
	double conn_per_s;
	double cpu_us_per_conn;
};

static struct churn_result churn(double seconds)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1: %s", strerror(errno));
	struct churner *cs = calloc((size_t)opt.parallel, sizeof(*cs));
	if (!cs)
		die("out of memory");
	for (int i = 0; i < opt.parallel; i++)
		churn_open(ep, &cs[i]);
	uint64_t done = 0;
	long long t0 = server_ticks();
	double start = now_s(), end = start + seconds, now = start;
	struct epoll_event evs[64];
	while (now < end) {
		int n = epoll_wait(ep, evs, 64, 100);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++)
			done += (uint64_t)churn_step(ep, evs[i].data.ptr);
		now = now_s();
	}
	long long ticks = server_ticks() - t0;
	double elapsed = now - start;
	for (int i = 0; i < opt.parallel; i++)
		close(cs[i].fd);
	free(cs);
	close(ep);
	if (done == 0)
		die("no connection completed in %.1f s", seconds);
	struct churn_result r;
	r.conn_per_s = (double)done / elapsed;
	r.cpu_us_per_conn = (double)ticks / (double)sysconf(_SC_CLK_TCK) * 1e6 / (double)done;
	return r;
}

/* ---- idle connections ---- */

/* Idle connections come from 127.0.0.2-9, churn from 127.0.0.1. connect()
 * looks for a local port whose 4-tuple is free, even ports first: 15,000
 * connections from one address to one server use up the even half, and
 * every later connect from that address would scan all of them (client
 * CPU, not the server's, would then set the churn rate). */
#define IDLE_SRC(i) (1 + (i) % 8)

/* Open n connections and make one round trip on each (in batches, so the
 * accept queue never overflows): then the server has a receive in flight
 * on every one of them. */
static int *open_idle(int n)
{
	int *fds = malloc((size_t)n * sizeof(int));
	if (!fds)
		die("out of memory");
	for (int base = 0; base < n; base += OPEN_BATCH) {
		int k = n - base < OPEN_BATCH ? n - base : OPEN_BATCH;
		for (int i = 0; i < k; i++) {
			int fd = try_connect(IDLE_SRC(base + i));
			if (fd < 0)
				die("idle connection %d: %s", base + i, strerror(-fd));
			fds[base + i] = fd;
			write_all(fd, "i", 1);
		}
		for (int i = 0; i < k; i++) {
			char c;
			read_exactly(fds[base + i], &c, 1);
		}
	}
	return fds;
}

/* Shut every idle connection down at once, then wait until the server has
 * closed each one (EOF on our side). Returns the seconds that took. */
static double mass_close(int *fds, int n)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)i};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) != 0)
			die("epoll_ctl: %s", strerror(errno));
	}
	double start = now_s();
	for (int i = 0; i < n; i++)
		shutdown(fds[i], SHUT_WR);
	int left = n;
	struct epoll_event evs[256];
	while (left > 0) {
		int k = epoll_wait(ep, evs, 256, 60000);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			die("the server did not close %d idle connections within 60 s", left);
		for (int i = 0; i < k; i++) {
			int fd = fds[evs[i].data.u32];
			char c;
			if (recv(fd, &c, 1, MSG_DONTWAIT) > 0)
				die("data on an idle connection");
			epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
			struct linger rst = {.l_onoff = 1, .l_linger = 0};
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
			close(fd);
			left--;
		}
	}
	double took = now_s() - start;
	close(ep);
	return took;
}

/* ---- the live connection ---- */

static struct {
	pthread_t thread;
	int fd;
	atomic_int stop;
	atomic_int reset;      /* set by main: start a new window */
	_Atomic uint64_t max_ns; /* worst round trip in the window */
} live;

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *live_main(void *arg)
{
	char rx[MSG];
	pin(opt.client_cpu);
	while (!atomic_load(&live.stop)) {
		if (atomic_exchange(&live.reset, 0))
			atomic_store(&live.max_ns, 0);
		uint64_t t = mono_ns();
		write_all(live.fd, request, MSG);
		read_exactly(live.fd, rx, MSG);
		uint64_t rtt = mono_ns() - t;
		if (rtt > atomic_load(&live.max_ns))
			atomic_store(&live.max_ns, rtt);
	}
	return NULL;
}

/* Reset the window and wait until the live thread has seen it. */
static void live_window(void)
{
	atomic_store(&live.reset, 1);
	while (atomic_load(&live.reset))
		usleep(100);
}

static double live_max_ms(void)
{
	return (double)atomic_load(&live.max_ns) / 1e6;
}

/* ---- rounds and output ---- */

struct round {
	struct churn_result idle0, idlen;
	double quiet_ms, close_ms, close_s;
};

static double median(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static struct round run_round(void)
{
	struct round r;
	r.idle0 = churn(opt.seconds);
	int *fds = open_idle(opt.idle);
	r.idlen = churn(opt.seconds);
	live.fd = try_connect(0);
	if (live.fd < 0)
		die("live connection: %s", strerror(-live.fd));
	atomic_store(&live.stop, 0);
	atomic_store(&live.reset, 1);
	if (pthread_create(&live.thread, NULL, live_main, NULL) != 0)
		die("pthread_create failed");
	live_window();
	usleep(500000);
	r.quiet_ms = live_max_ms();
	live_window();
	r.close_s = mass_close(fds, opt.idle);
	r.close_ms = live_max_ms();
	atomic_store(&live.stop, 1);
	pthread_join(live.thread, NULL);
	close(live.fd);
	free(fds);
	return r;
}

#define MEDIAN_OF(field)                                                                      \
	({                                                                                    \
		double v_[MAX_ROUNDS];                                                        \
		for (int i_ = 0; i_ < opt.rounds; i_++)                                       \
			v_[i_] = rs[i_].field;                                                \
		median(v_, opt.rounds);                                                       \
	})

static void report(struct round *rs)
{
	for (int i = 0; i < opt.rounds; i++)
		printf("# round %d conn_per_s idle0 %.0f idle%d %.0f cpu_us %.2f %.2f "
		       "quiet_ms %.2f mass_close_ms %.2f mass_close_s %.3f\n",
		       i + 1, rs[i].idle0.conn_per_s, opt.idle, rs[i].idlen.conn_per_s,
		       rs[i].idle0.cpu_us_per_conn, rs[i].idlen.cpu_us_per_conn, rs[i].quiet_ms,
		       rs[i].close_ms, rs[i].close_s);
	double c0 = MEDIAN_OF(idle0.conn_per_s), cn = MEDIAN_OF(idlen.conn_per_s);
	double u0 = MEDIAN_OF(idle0.cpu_us_per_conn), un = MEDIAN_OF(idlen.cpu_us_per_conn);
	printf("churn_conn_per_s_idle0 %.0f\n", c0);
	printf("churn_conn_per_s_idle%d %.0f\n", opt.idle, cn);
	printf("churn_ratio %.3f\n", c0 / cn);
	printf("churn_server_cpu_us_per_conn_idle0 %.2f\n", u0);
	printf("churn_server_cpu_us_per_conn_idle%d %.2f\n", opt.idle, un);
	printf("churn_cpu_ratio %.3f\n", u0 > 0 ? un / u0 : 0.0);
	printf("quiet_max_rtt_ms %.3f\n", MEDIAN_OF(quiet_ms));
	printf("mass_close_max_rtt_ms %.3f\n", MEDIAN_OF(close_ms));
	printf("mass_close_s %.3f\n", MEDIAN_OF(close_s));
}

static void usage(FILE *out)
{
	fprintf(out, "usage: churn [--server BIN] [--idle N] [--seconds T] [--parallel C]\n"
		     "             [--rounds R] [--server-cpu A] [--client-cpu B]\n"
		     "  connection churn against BIN (an echo server started as `BIN PORT`)\n"
		     "  with 0 and N idle connections, then the stall of closing those N\n"
		     "  (CPU -1: do not pin)\n");
}

static void parse(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"server", required_argument, NULL, 's'},
		{"idle", required_argument, NULL, 'i'},
		{"seconds", required_argument, NULL, 't'},
		{"parallel", required_argument, NULL, 'p'},
		{"rounds", required_argument, NULL, 'r'},
		{"server-cpu", required_argument, NULL, 'A'},
		{"client-cpu", required_argument, NULL, 'B'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': opt.server = optarg; break;
		case 'i': opt.idle = atoi(optarg); break;
		case 't': opt.seconds = atof(optarg); break;
		case 'p': opt.parallel = atoi(optarg); break;
		case 'r': opt.rounds = atoi(optarg); break;
		case 'A': opt.server_cpu = atoi(optarg); break;
		case 'B': opt.client_cpu = atoi(optarg); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc || opt.idle < 1 || opt.parallel < 1 || opt.seconds <= 0 ||
	    opt.rounds < 1 || opt.rounds > MAX_ROUNDS) {
		usage(stderr);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	parse(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < (rlim_t)(opt.idle + opt.parallel + 64))
			die("the open-file limit (%llu) is too small for %d idle connections",
			    (unsigned long long)rl.rlim_cur, opt.idle);
	}
	start_server(); /* inherits the raised limit */
	pin(opt.client_cpu);
	printf("# churn: server %s on cpu %d, client on cpu %d, %d idle, %d parallel, "
	       "%.1f s per phase, %d round(s)\n",
	       opt.server, opt.server_cpu, opt.client_cpu, opt.idle, opt.parallel, opt.seconds,
	       opt.rounds);
	fflush(stdout);
	struct round rs[MAX_ROUNDS];
	for (int i = 0; i < opt.rounds; i++)
		rs[i] = run_round();
	stop_server();
	report(rs);
	return 0;
}
