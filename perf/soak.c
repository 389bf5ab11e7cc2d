/*
 * soak: hold an echo server under sustained, varied load, check every byte
 * it returns, and watch its memory.
 *
 *   soak [options] --port P --pid SERVER_PID
 *   soak [options] -- SERVER_CMD [ARGS...]     (the port is appended)
 *
 *   --conns N        connections (default 2000)
 *   --seconds T      length of the run (default 20)
 *   --warmup W       seconds before the RSS reference is taken
 *                    (default T/4, at most 5)
 *   --seed S         seeds sizes and contents (default 1): a run repeats
 *   --max-size B     largest message (default 65536)
 *   --churn M        reconnect after M messages on average (default 100;
 *                    0: never), so per-connection leaks show up too
 *   --threads N      client threads (default 1)
 *   --cpu C, --server-cpu C   pin the client / a started server
 *   --host H         server address (default 127.0.0.1)
 *
 * Each connection sends a message, reads its echo back in full, and sends
 * the next: sizes from 1 B to --max-size, log-uniform (every power of two
 * equally likely, so both tiny and 64 KiB messages are common), contents a
 * keyed pseudo-random stream computed from the byte's offset, so nothing is
 * stored and every byte returned is compared with what was sent.
 *
 * Meanwhile the server's VmRSS (/proc/PID/status) and open descriptors
 * (/proc/PID/fd) are sampled twice a second. Output, one "name value" a
 * line, plus a "# rss t_s kb fds" comment line per second:
 *   messages, bytes_verified, mismatches, errors, reconnects
 *   rss_warm_kb (at the end of the warm-up), rss_end_kb, rss_max_kb,
 *   rss_limit_kb, fds_warm, fds_end
 *
 * Exit status 1 on any mismatch or error (refused or reset connection, a
 * server that died), or if the RSS at the end exceeds the level at the end
 * of the warm-up by more than 20% AND by more than 8 MiB: the warm-up has
 * brought every buffer size and connection count near its steady state,
 * so what is still growing after it, beyond allocator noise, is a leak.
 * Allocator noise here is steps: with 2000 connections and sizes up to
 * 64 KiB, glibc's heap grew in steps of 2-12 MB until 20-35 s, to the
 * same plateau (154-156 MB) for two builds; at 10% a 20 s run failed on
 * such a step after a 5 s warm-up (+14.7%, and +16% in a run of the
 * build before). A leak of 64 bytes a message (about 40 MB after the
 * warm-up of such a run) still fails it.
 * Also 1 if open descriptors grew by more than 10% + 64. Exit 2: usage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
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

#define MAX_EVENTS 256
#define CHUNK 65536u         /* largest read or write at once */
#define SAMPLE_NS 500000000u /* RSS sampling period */
#define RSS_GROWTH_PCT 20
#define RSS_GROWTH_KB (8 * 1024)
#define FDS_GROWTH_PCT 10
#define FDS_GROWTH_ABS 64

struct sconn {
	int fd;
	unsigned id;
	uint32_t lives;     /* how many times it (re)connected */
	uint64_t key;       /* content key of the current connection */
	uint64_t rng;       /* sizes and churn */
	uint64_t tx_off;    /* stream bytes sent on this connection */
	uint64_t rx_off;    /* stream bytes received and checked */
	uint32_t msg_size;  /* the message in flight */
	uint32_t msg_sent, msg_rcvd;
	uint32_t msgs_left; /* before the next reconnect; 0: never */
	bool connecting;    /* a non-blocking connect is in progress */
	bool want_out;      /* EPOLLOUT armed (short write or connecting) */
};

struct worker {
	pthread_t thread;
	int epfd;
	struct sconn *conns;
	unsigned count;
	unsigned char txbuf[CHUNK], rxbuf[CHUNK], expect[CHUNK];
	/* Written by the worker, read by main at the end (after join). */
	uint64_t messages, bytes, mismatches, errors, reconnects;
};

static struct {
	const char *host;
	int port, pid, conns, threads, cpu, server_cpu;
	double seconds, warmup;
	uint64_t seed;
	uint32_t max_size, churn;
	char **server_argv;
} opt = { .host = "127.0.0.1", .conns = 2000, .threads = 1, .cpu = -1,
	  .server_cpu = -1, .seconds = 20, .warmup = -1, .seed = 1,
	  .max_size = 65536, .churn = 100 };

static struct sockaddr_in server_addr;
static atomic_int stop_flag;

/* ---- content and sizes -------------------------------------------------- */

/* splitmix64's finaliser: a good 64-bit mix of its input. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t next_rand(uint64_t *state)
{
	*state += 0x9e3779b97f4a7c15ull;
	return mix(*state);
}

/* The bytes at stream offsets [off, off+len) of the stream `key`: byte o
 * is byte o%8 of mix(key ^ o/8), so any range is computed on its own. */
static void stream_bytes(uint64_t key, uint64_t off, unsigned char *out,
			 size_t len)
{
	while (len > 0) {
		uint64_t w = mix(key ^ (off >> 3));
		size_t s = off & 7, n = 8 - s < len ? 8 - s : len;

		memcpy(out, (unsigned char *)&w + s, n);
		out += n;
		off += n;
		len -= n;
	}
}

/* Log-uniform in [1, max_size]: a power-of-two class, then a uniform size
 * within it. */
static uint32_t random_size(uint64_t *rng)
{
	unsigned top = 31u - (unsigned)__builtin_clz(opt.max_size);
	uint64_t r = next_rand(rng);
	unsigned cls = (unsigned)(r % (top + 1));
	uint32_t lo = 1u << cls, span = lo;
	uint32_t size = lo + (uint32_t)((r >> 32) % span);

	return size > opt.max_size ? opt.max_size : size;
}

/* ---- connections -------------------------------------------------------- */

static void report_error(struct worker *w, struct sconn *c, const char *what,
			 int err)
{
	if (atomic_load(&stop_flag))
		return; /* the end of the run tears connections down */
	if (w->errors < 10)
		fprintf(stderr, "soak: connection %u: %s: %s\n", c->id, what,
			strerror(err));
	w->errors++;
}

static int set_events(struct worker *w, struct sconn *c, int op, bool out)
{
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0),
				  .data.ptr = c };

	c->want_out = out;
	return epoll_ctl(w->epfd, op, c->fd, &ev) == 0 ? 0 : -errno;
}

static void start_message(struct sconn *c)
{
	c->msg_size = random_size(&c->rng);
	c->msg_sent = 0;
	c->msg_rcvd = 0;
}

/* A fresh connection (first or after churn): a new content stream. */
static void conn_fresh(struct sconn *c)
{
	c->lives++;
	c->key = mix(opt.seed ^ mix(((uint64_t)c->id << 32) | c->lives));
	c->tx_off = c->rx_off = 0;
	c->msgs_left = opt.churn == 0 ? 0 : 1 + (uint32_t)(next_rand(&c->rng) %
							   (2 * opt.churn));
	start_message(c);
}

/* Start a non-blocking connect; completion shows up as EPOLLOUT. */
static int conn_open(struct worker *w, struct sconn *c, bool blocking)
{
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC |
				 (blocking ? 0 : SOCK_NONBLOCK), 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	if ((connect(fd, (struct sockaddr *)&server_addr,
		     sizeof(server_addr)) != 0 && errno != EINPROGRESS) ||
	    (blocking && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK))) {
		int err = errno;
		close(fd);
		c->fd = -1;
		return -err;
	}
	c->connecting = !blocking;
	conn_fresh(c);
	return set_events(w, c, EPOLL_CTL_ADD, true);
}

static void conn_reopen(struct worker *w, struct sconn *c)
{
	int ret;

	if (c->fd >= 0)
		close(c->fd);
	w->reconnects++;
	ret = conn_open(w, c, false);
	if (ret < 0) {
		report_error(w, c, "reconnect", -ret);
		atomic_store(&stop_flag, 1);
	}
}

/* Write what is left of the message, generated from the stream. Returns 0
 * or -errno. */
static int conn_write(struct worker *w, struct sconn *c)
{
	while (c->msg_sent < c->msg_size) {
		size_t len = c->msg_size - c->msg_sent;
		ssize_t n;

		if (len > CHUNK)
			len = CHUNK;
		stream_bytes(c->key, c->tx_off, w->txbuf, len);
		n = send(c->fd, w->txbuf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return c->want_out ? 0 : set_events(w, c, EPOLL_CTL_MOD, true);
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		c->msg_sent += (uint32_t)n;
		c->tx_off += (uint64_t)n;
	}
	return c->want_out ? set_events(w, c, EPOLL_CTL_MOD, false) : 0;
}

/* Compare received bytes with the stream; count a mismatch once and
 * report where it starts. Returns false on a mismatch. */
static bool check(struct worker *w, struct sconn *c, size_t n)
{
	stream_bytes(c->key, c->rx_off, w->expect, n);
	if (memcmp(w->rxbuf, w->expect, n) == 0)
		return true;
	for (size_t i = 0; i < n; i++) {
		if (w->rxbuf[i] != w->expect[i]) {
			if (w->mismatches < 10)
				fprintf(stderr,
					"soak: connection %u: mismatch at "
					"stream byte %llu (got %02x, sent %02x)\n",
					c->id,
					(unsigned long long)(c->rx_off + i),
					w->rxbuf[i], w->expect[i]);
			break;
		}
	}
	w->mismatches++;
	return false;
}

/* A message came back whole: the next one, or a new connection. */
static int message_done(struct worker *w, struct sconn *c)
{
	w->messages++;
	w->bytes += c->msg_size;
	if (c->msgs_left > 0 && --c->msgs_left == 0) {
		conn_reopen(w, c);
		return 1; /* c->fd changed: stop handling the old event */
	}
	start_message(c);
	return conn_write(w, c);
}

/* Read the rest of the message's echo, never more: anything beyond it is
 * counted as a mismatch against the next message. Returns 1 if the
 * connection was replaced, 0, or -errno. */
static int conn_read(struct worker *w, struct sconn *c)
{
	for (;;) {
		size_t want = c->msg_size - c->msg_rcvd;
		ssize_t n;

		n = recv(c->fd, w->rxbuf, want < CHUNK ? want : CHUNK, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		if (!check(w, c, (size_t)n)) {
			conn_reopen(w, c); /* the stream is out of step */
			return 1;
		}
		c->rx_off += (uint64_t)n;
		c->msg_rcvd += (uint32_t)n;
		if (c->msg_rcvd < c->msg_size)
			continue;
		/* Level-triggered: anything more is reported again. */
		return message_done(w, c);
	}
}

static int connect_done(struct worker *w, struct sconn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		return -errno;
	if (err != 0)
		return -err;
	c->connecting = false;
	return conn_write(w, c);
}

static void handle(struct worker *w, struct epoll_event *ev)
{
	struct sconn *c = ev->data.ptr;
	int ret = 0;

	if (c->connecting) {
		if (!(ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		ret = connect_done(w, c);
		if (ret < 0)
			report_error(w, c, "connect", -ret);
		return;
	}
	if (ev->events & EPOLLOUT)
		ret = conn_write(w, c);
	if (ret == 0 && (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		ret = conn_read(w, c);
	if (ret < 0) {
		report_error(w, c, ret == -ECONNRESET ? "peer closed" : "I/O",
			     -ret);
		conn_reopen(w, c);
	}
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		perror("soak: sched_setaffinity");
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event events[MAX_EVENTS];

	pin(opt.cpu);
	for (unsigned i = 0; i < w->count; i++) {
		int ret = conn_write(w, &w->conns[i]);
		if (ret < 0)
			report_error(w, &w->conns[i], "first write", -ret);
	}
	while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
		int n = epoll_wait(w->epfd, events, MAX_EVENTS, 100);

		if (n < 0 && errno != EINTR) {
			perror("soak: epoll_wait");
			atomic_store(&stop_flag, 1);
		}
		for (int i = 0; i < n; i++)
			handle(w, &events[i]);
	}
	return NULL;
}

/* ---- the server process ------------------------------------------------- */

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			perror("soak: setrlimit");
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)opt.conns + 64)
		fprintf(stderr, "soak: open-file limit %llu is below %d "
			"connections\n", (unsigned long long)rl.rlim_cur,
			opt.conns);
}

/* A port below the ephemeral range that nothing is bound to now. */
static int pick_port(void)
{
	srand((unsigned)(getpid() ^ time(NULL)));
	for (int i = 0; i < 200; i++) {
		struct sockaddr_in a = server_addr;
		int p = 20000 + rand() % 12000;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int ok;

		a.sin_port = htons((uint16_t)p);
		ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return p;
	}
	return -1;
}

static bool port_open(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&server_addr,
				     sizeof(server_addr)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* Start SERVER_CMD... PORT (pinned if asked) and wait until it listens. */
static int start_server(void)
{
	char port[16];
	int n = 0, status;
	char **argv;
	pid_t pid;

	while (opt.server_argv[n] != NULL)
		n++;
	argv = calloc((size_t)n + 2, sizeof(*argv));
	if (argv == NULL)
		return -1;
	memcpy(argv, opt.server_argv, (size_t)n * sizeof(*argv));
	snprintf(port, sizeof(port), "%d", opt.port);
	argv[n] = port;
	pid = fork();
	if (pid == 0) {
		pin(opt.server_cpu);
		execvp(argv[0], argv);
		fprintf(stderr, "soak: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	free(argv);
	if (pid < 0)
		return -1;
	opt.pid = (int)pid;
	for (int i = 0; i < 200; i++) {
		if (port_open())
			return 0;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			fprintf(stderr, "soak: the server exited at start\n");
			opt.pid = 0;
			return -1;
		}
		usleep(50000);
	}
	fprintf(stderr, "soak: the server did not listen within 10 s\n");
	return -1;
}

/* Stop a server we started; false if it had died before. */
static bool stop_server(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, WNOHANG) == pid) {
		fprintf(stderr, "soak: the server died during the run "
			"(status 0x%x)\n", status);
		return false;
	}
	kill(pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return true;
		usleep(100000);
	}
	fprintf(stderr, "soak: the server ignored SIGTERM for 5 s, killing it\n");
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return true;
}

/* VmRSS in kB, or -1. */
static long proc_rss_kb(int pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Open descriptors of the process, or -1. */
static long proc_fds(int pid)
{
	char path[64];
	struct dirent *d;
	long n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (dir == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL)
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* ---- the run ------------------------------------------------------------ */

struct samples {
	long rss_warm, rss_end, rss_max, fds_warm, fds_end;
	bool lost; /* the server's /proc entry went away */
};

static void sleep_until(uint64_t t)
{
	uint64_t now = now_ns();

	if (t > now) {
		struct timespec ts = { .tv_sec = (time_t)((t - now) / 1000000000u),
				       .tv_nsec = (long)((t - now) % 1000000000u) };
		nanosleep(&ts, NULL);
	}
}

/* Sample the server until the run's end. */
static void watch(struct samples *s)
{
	uint64_t t0 = now_ns();
	uint64_t warm = t0 + (uint64_t)(opt.warmup * 1e9);
	uint64_t end = t0 + (uint64_t)(opt.seconds * 1e9);
	bool warm_taken = false;

	memset(s, 0, sizeof(*s));
	for (unsigned k = 1;; k++) {
		uint64_t t = t0 + (uint64_t)k * SAMPLE_NS;
		long rss, fds;

		sleep_until(t < end ? t : end);
		rss = proc_rss_kb(opt.pid);
		fds = proc_fds(opt.pid);
		if (rss < 0 || fds < 0) {
			s->lost = true;
			return;
		}
		if (rss > s->rss_max)
			s->rss_max = rss;
		if (k % 2 == 0 || t >= end)
			printf("# rss %.1f %ld %ld\n", (double)(now_ns() - t0) / 1e9,
			       rss, fds);
		if (!warm_taken && t >= warm) {
			s->rss_warm = rss;
			s->fds_warm = fds;
			warm_taken = true;
		}
		if (t >= end) {
			s->rss_end = rss;
			s->fds_end = fds;
			return;
		}
	}
}

static int verdict(const struct worker *ws, const struct samples *s)
{
	uint64_t msgs = 0, bytes = 0, bad = 0, errs = 0, reco = 0;
	long rss_limit = s->rss_warm + s->rss_warm * RSS_GROWTH_PCT / 100;
	long fds_limit = s->fds_warm + s->fds_warm * FDS_GROWTH_PCT / 100 +
			 FDS_GROWTH_ABS;
	int rc = 0;

	if (rss_limit < s->rss_warm + RSS_GROWTH_KB)
		rss_limit = s->rss_warm + RSS_GROWTH_KB;
	for (int t = 0; t < opt.threads; t++) {
		msgs += ws[t].messages;
		bytes += ws[t].bytes;
		bad += ws[t].mismatches;
		errs += ws[t].errors;
		reco += ws[t].reconnects;
	}
	printf("conns %d\nseconds %.1f\n", opt.conns, opt.seconds);
	printf("messages %llu\nbytes_verified %llu\nmismatches %llu\n"
	       "errors %llu\nreconnects %llu\n", (unsigned long long)msgs,
	       (unsigned long long)bytes, (unsigned long long)bad,
	       (unsigned long long)errs, (unsigned long long)reco);
	printf("rss_warm_kb %ld\nrss_end_kb %ld\nrss_max_kb %ld\n"
	       "rss_limit_kb %ld\nfds_warm %ld\nfds_end %ld\n", s->rss_warm,
	       s->rss_end, s->rss_max, rss_limit, s->fds_warm, s->fds_end);
	if (s->lost) {
		fprintf(stderr, "soak: the server's /proc entry vanished\n");
		rc = 1;
	}
	if (bad > 0 || errs > 0 || msgs == 0) {
		fprintf(stderr, "soak: %llu mismatches, %llu errors, %llu "
			"messages\n", (unsigned long long)bad,
			(unsigned long long)errs, (unsigned long long)msgs);
		rc = 1;
	}
	if (!s->lost && s->rss_end > rss_limit) {
		fprintf(stderr, "soak: RSS grew from %ld kB after warm-up to "
			"%ld kB (limit %ld kB)\n", s->rss_warm, s->rss_end,
			rss_limit);
		rc = 1;
	}
	if (!s->lost && s->fds_end > fds_limit) {
		fprintf(stderr, "soak: open descriptors grew from %ld to %ld\n",
			s->fds_warm, s->fds_end);
		rc = 1;
	}
	return rc;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--conns N] [--seconds T] [--warmup W] [--seed S]\n"
		"          [--max-size B] [--churn M] [--threads N] [--cpu C]\n"
		"          [--server-cpu C] [--host H]\n"
		"          (--port P --pid SERVER_PID | -- SERVER_CMD [ARGS...])\n",
		argv0);
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "conns", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 'T' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "seed", required_argument, NULL, 's' },
		{ "max-size", required_argument, NULL, 'm' },
		{ "churn", required_argument, NULL, 'u' },
		{ "threads", required_argument, NULL, 't' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "server-cpu", required_argument, NULL, 'S' },
		{ "host", required_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'p' },
		{ "pid", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': opt.conns = atoi(optarg); break;
		case 'T': opt.seconds = atof(optarg); break;
		case 'w': opt.warmup = atof(optarg); break;
		case 's': opt.seed = strtoull(optarg, NULL, 0); break;
		case 'm': opt.max_size = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'u': opt.churn = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 't': opt.threads = atoi(optarg); break;
		case 'C': opt.cpu = atoi(optarg); break;
		case 'S': opt.server_cpu = atoi(optarg); break;
		case 'h': opt.host = optarg; break;
		case 'p': opt.port = atoi(optarg); break;
		case 'P': opt.pid = atoi(optarg); break;
		default: usage(argv[0]);
		}
	}
	if (optind < argc)
		opt.server_argv = &argv[optind];
	/* Either a server to start, or its port and pid (RSS needs the pid). */
	if (opt.server_argv != NULL ? opt.port != 0 || opt.pid != 0
				    : opt.port <= 0 || opt.pid <= 0)
		usage(argv[0]);
	if (opt.port > 65535 || opt.conns <= 0 ||
	    opt.threads <= 0 || opt.threads > opt.conns ||
	    !(opt.seconds > 0) || opt.seconds > 86400 || opt.max_size == 0 ||
	    opt.max_size > (1u << 30))
		usage(argv[0]);
	if (opt.warmup < 0)
		opt.warmup = opt.seconds / 4 < 5 ? opt.seconds / 4 : 5;
	if (opt.warmup >= opt.seconds)
		usage(argv[0]);
}

/* Connect everything up front, blocking, before the load starts. */
static struct worker *setup(void)
{
	struct worker *ws = calloc((size_t)opt.threads, sizeof(*ws));
	struct sconn *conns = calloc((size_t)opt.conns, sizeof(*conns));
	unsigned first = 0;

	if (ws == NULL || conns == NULL)
		return NULL;
	for (int t = 0; t < opt.threads; t++) {
		struct worker *w = &ws[t];
		w->count = (unsigned)(opt.conns / opt.threads +
				      (t < opt.conns % opt.threads));
		w->conns = &conns[first];
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (w->epfd < 0)
			return NULL;
		for (unsigned i = 0; i < w->count; i++) {
			struct sconn *c = &w->conns[i];
			int ret;
			c->id = first + i;
			c->rng = mix(opt.seed ^ 0x5eed0000u) + c->id;
			ret = conn_open(w, c, true);
			if (ret < 0) {
				fprintf(stderr, "soak: connect %s:%d "
					"(connection %u): %s\n", opt.host,
					opt.port, c->id, strerror(-ret));
				return NULL;
			}
		}
		first += w->count;
	}
	return ws;
}

static void teardown(struct worker *ws)
{
	for (int t = 0; t < opt.threads; t++) {
		for (unsigned i = 0; i < ws[t].count; i++)
			if (ws[t].conns[i].fd >= 0)
				close(ws[t].conns[i].fd);
		close(ws[t].epfd);
	}
	free(ws[0].conns); /* one array, shared out in setup() */
	free(ws);
}

int main(int argc, char **argv)
{
	struct samples s;
	struct worker *ws;
	int rc;

	parse_args(argc, argv);
	raise_nofile(); /* before the fork: a started server inherits it */
	server_addr.sin_family = AF_INET;
	if (inet_pton(AF_INET, opt.host, &server_addr.sin_addr) != 1) {
		fprintf(stderr, "soak: --host wants an IPv4 address\n");
		return 2;
	}
	if (opt.server_argv != NULL && (opt.port = pick_port()) < 0) {
		fprintf(stderr, "soak: no free port\n");
		return 1;
	}
	server_addr.sin_port = htons((uint16_t)opt.port);
	if (opt.server_argv != NULL && start_server() != 0)
		return 1;
	pin(opt.cpu);
	ws = setup();
	if (ws == NULL) {
		if (opt.server_argv != NULL)
			stop_server(opt.pid);
		return 1;
	}
	for (int t = 0; t < opt.threads; t++)
		if (pthread_create(&ws[t].thread, NULL, worker_main, &ws[t]))
			return 1;
	watch(&s);
	atomic_store(&stop_flag, 1);
	for (int t = 0; t < opt.threads; t++)
		pthread_join(ws[t].thread, NULL);
	rc = verdict(ws, &s);
	if (opt.server_argv != NULL && !stop_server(opt.pid))
		rc = 1;
	teardown(ws);
	return rc;
}
