/*
 * loadgen: closed-loop TCP ping-pong load for echo servers.
 *
 *   loadgen --port P [--host 127.0.0.1] --conns C --size S --seconds T
 *           [--pid SERVER_PID] [--threads N] [--cpu CPU] [--warmup W]
 *
 * Each of C connections sends an S-byte message, reads back exactly S bytes,
 * checks them against what it sent (every byte, with a sequence number
 * stamped at both ends), and repeats. The connections are spread over N
 * threads (default 1), each driving its share with level-triggered epoll,
 * all pinned to CPU if given. After W seconds of warm-up (default 1, or
 * T/5 if shorter) the window opens for T seconds; the process then stops
 * whatever is still in flight, so the run is bounded in time.
 *
 * Output, one "name value" pair a line:
 *   reqs_per_s              completed round trips per second in the window
 *   server_cpu_us_per_req   (with --pid) utime+stime of the server process
 *                           over the window, from /proc/PID/stat, per request
 *   client_cpu_us_per_req   loadgen's own CPU over the window, per request
 *   requests, window_s      the raw counts behind those
 *
 * Any error (connect failure, peer closing, mismatched data, no progress at
 * all) is reported on stderr and makes the exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE (1u << 20)
#define MAX_EVENTS 256

struct conn {
	int fd;
	unsigned id;
	uint64_t seq;   /* sequence number of the message in flight */
	size_t woff;    /* bytes of tx already written */
	size_t roff;    /* bytes of the reply already read into rx */
	int want_out;   /* EPOLLOUT is armed because a write was short */
	unsigned char *tx;
	unsigned char *rx;
};

struct worker {
	pthread_t thread;
	int epfd;
	unsigned first, count; /* the connections this thread drives */
	struct conn *conns;
	/* Completed round trips; written by the worker, read by main. */
	_Atomic uint64_t done __attribute__((aligned(64)));
	char pad[64 - sizeof(uint64_t)];
};

static struct {
	const char *host;
	int port, conns, threads, cpu, pid;
	size_t size;
	double seconds, warmup;
} opt = { .host = "127.0.0.1", .conns = 1, .threads = 1, .cpu = -1,
	  .size = 64, .seconds = 5, .warmup = -1 };

static atomic_int stop_flag;
static atomic_int failed;

/* Report an error, mark the run failed and stop every worker. */
static void fail(const char *what, unsigned id, int err)
{
	atomic_store(&failed, 1);
	fprintf(stderr, "loadgen: %s on connection %u: %s\n", what, id,
		strerror(err));
	atomic_store(&stop_flag, 1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
	double end = now_s() + s;

	while (!atomic_load(&stop_flag)) {
		double left = end - now_s();
		struct timespec ts;

		if (left <= 0)
			return;
		if (left > 0.05)
			left = 0.05;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(left * 1e9);
		nanosleep(&ts, NULL);
	}
}

/* Stamp the sequence number at both ends of the message, so a reply from
 * the wrong round trip or a shifted stream is caught. */
static void stamp(struct conn *c)
{
	uint64_t s = c->seq;
	size_t n = opt.size < 8 ? opt.size : 8;

	memcpy(c->tx, &s, n);
	if (opt.size >= 16)
		memcpy(c->tx + opt.size - 8, &s, 8);
	c->woff = 0;
	c->roff = 0;
}

static int conn_init(struct conn *c, unsigned id)
{
	c->id = id;
	c->seq = 0;
	c->want_out = 0;
	c->tx = malloc(opt.size);
	c->rx = malloc(opt.size);
	if (c->tx == NULL || c->rx == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < opt.size; i++)
		c->tx[i] = (unsigned char)(id * 31u + i * 7u + 1u);
	stamp(c);
	return 0;
}

static int conn_connect(struct conn *c, const struct sockaddr_in *addr)
{
	/* Bounds a connect to a server that never answers the handshake;
	 * the socket turns non-blocking afterwards, so sends never see it. */
	struct timeval limit = { .tv_sec = 5 };
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
	if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	return 0;
}

static int arm(struct worker *w, struct conn *c, int op, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	return epoll_ctl(w->epfd, op, c->fd, &ev) == 0 ? 0 : -errno;
}

/* Write what is left of the message; arm EPOLLOUT only if the socket is
 * full. Returns 0 or -errno. */
static int do_write(struct worker *w, struct conn *c)
{
	while (c->woff < opt.size) {
		ssize_t n = send(c->fd, c->tx + c->woff, opt.size - c->woff,
				 MSG_NOSIGNAL);
		if (n > 0) {
			c->woff += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!c->want_out) {
				c->want_out = 1;
				return arm(w, c, EPOLL_CTL_MOD,
					   EPOLLIN | EPOLLOUT);
			}
			return 0;
		}
		return n < 0 ? -errno : -EPIPE;
	}
	if (c->want_out) {
		c->want_out = 0;
		return arm(w, c, EPOLL_CTL_MOD, EPOLLIN);
	}
	return 0;
}

static int reply_complete(struct worker *w, struct conn *c)
{
	if (memcmp(c->rx, c->tx, opt.size) != 0) {
		fail("mismatched data", c->id, EBADMSG);
		return -EBADMSG;
	}
	atomic_store_explicit(&w->done,
			      atomic_load_explicit(&w->done,
						   memory_order_relaxed) + 1,
			      memory_order_relaxed);
	c->seq++;
	stamp(c);
	return do_write(w, c);
}

/* Read never more than the rest of the reply: bytes beyond it would be an
 * echo of something never sent and are caught on the next check. */
static int do_read(struct worker *w, struct conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->rx + c->roff, opt.size - c->roff, 0);

		if (n > 0) {
			c->roff += (size_t)n;
			if (c->roff < opt.size)
				continue;
			return reply_complete(w, c);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		return n < 0 ? -errno : -ECONNRESET;
	}
}

static void handle(struct worker *w, struct epoll_event *ev)
{
	struct conn *c = ev->data.ptr;
	int ret = 0;

	if (ev->events & EPOLLOUT)
		ret = do_write(w, c);
	if (ret == 0 && (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		ret = do_read(w, c);
	if (ret < 0 && ret != -EBADMSG && !atomic_load(&stop_flag))
		fail(ret == -ECONNRESET ? "peer closed" : "I/O error", c->id,
		     -ret);
}

static void pin(void)
{
	cpu_set_t set;

	if (opt.cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(opt.cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		perror("loadgen: sched_setaffinity");
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event events[MAX_EVENTS];

	pin();
	for (unsigned i = 0; i < w->count; i++) {
		struct conn *c = &w->conns[i];
		int ret = do_write(w, c);
		if (ret < 0) {
			fail("first write", c->id, -ret);
			return NULL;
		}
	}
	while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
		int n = epoll_wait(w->epfd, events, MAX_EVENTS, 100);

		if (n < 0 && errno != EINTR) {
			fail("epoll_wait, first", w->first, errno);
			break;
		}
		for (int i = 0; i < n; i++)
			handle(w, &events[i]);
	}
	return NULL;
}

static int resolve(struct sockaddr_in *addr)
{
	struct addrinfo hints = { .ai_family = AF_INET,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;
	int ret = getaddrinfo(opt.host, NULL, &hints, &res);

	if (ret != 0) {
		fprintf(stderr, "loadgen: %s: %s\n", opt.host,
			gai_strerror(ret));
		return -1;
	}
	*addr = *(struct sockaddr_in *)res->ai_addr;
	addr->sin_port = htons((uint16_t)opt.port);
	freeaddrinfo(res);
	return 0;
}

static int fcntl_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Connect every connection up front, before any load. */
static int setup(struct worker *ws, struct conn *conns)
{
	struct sockaddr_in addr;
	unsigned per = (unsigned)(opt.conns / opt.threads);
	unsigned extra = (unsigned)(opt.conns % opt.threads), first = 0;

	if (resolve(&addr) != 0)
		return -1;
	for (int t = 0; t < opt.threads; t++) {
		struct worker *w = &ws[t];
		w->first = first;
		w->count = per + ((unsigned)t < extra);
		w->conns = &conns[first];
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		atomic_init(&w->done, 0);
		if (w->epfd < 0)
			return -1;
		first += w->count;
	}
	for (int t = 0; t < opt.threads; t++) {
		for (unsigned i = 0; i < ws[t].count; i++) {
			struct conn *c = &ws[t].conns[i];
			unsigned id = ws[t].first + i;
			int ret = conn_init(c, id);
			if (ret == 0)
				ret = conn_connect(c, &addr);
			if (ret == 0 && fcntl_nonblock(c->fd) != 0)
				ret = -errno;
			if (ret == 0)
				ret = arm(&ws[t], c, EPOLL_CTL_ADD, EPOLLIN);
			if (ret < 0) {
				fprintf(stderr,
					"loadgen: connect %s:%d (connection %u): %s\n",
					opt.host, opt.port, id, strerror(-ret));
				return -1;
			}
		}
	}
	return 0;
}

/* utime+stime of a process, in clock ticks; -1 if it cannot be read. */
static long long proc_cpu_ticks(int pid)
{
	char path[64], buf[4096];
	unsigned long long ut, st;
	FILE *f;
	size_t n;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields resume after the last
	 * ')'. utime and stime are fields 14 and 15, i.e. the 12th and 13th
	 * after the state field. */
	p = strrchr(buf, ')');
	if (p == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

static double self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) *
		       1e-6;
}

static uint64_t total_done(struct worker *ws)
{
	uint64_t sum = 0;

	for (int t = 0; t < opt.threads; t++)
		sum += atomic_load_explicit(&ws[t].done, memory_order_relaxed);
	return sum;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			perror("loadgen: setrlimit");
	}
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s --port P [--host 127.0.0.1] --conns C --size S "
		"--seconds T\n"
		"          [--pid SERVER_PID] [--threads N] [--cpu CPU] "
		"[--warmup W]\n",
		argv0);
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "host", required_argument, NULL, 'h' },
		{ "conns", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 'T' },
		{ "pid", required_argument, NULL, 'P' },
		{ "threads", required_argument, NULL, 't' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "warmup", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p': opt.port = atoi(optarg); break;
		case 'h': opt.host = optarg; break;
		case 'c': opt.conns = atoi(optarg); break;
		case 's': opt.size = (size_t)strtoul(optarg, NULL, 10); break;
		case 'T': opt.seconds = atof(optarg); break;
		case 'P': opt.pid = atoi(optarg); break;
		case 't': opt.threads = atoi(optarg); break;
		case 'C': opt.cpu = atoi(optarg); break;
		case 'w': opt.warmup = atof(optarg); break;
		default: usage(argv[0]);
		}
	}
	if (optind != argc || opt.port <= 0 || opt.port > 65535 ||
	    opt.conns <= 0 || opt.size == 0 || opt.size > MAX_SIZE ||
	    !(opt.seconds > 0) || opt.seconds > 3600 || opt.threads <= 0 ||
	    opt.threads > opt.conns)
		usage(argv[0]);
	if (opt.warmup < 0)
		opt.warmup = opt.seconds / 5 < 1 ? opt.seconds / 5 : 1;
}

struct sample {
	double t, self_cpu;
	uint64_t done;
	long long server_ticks;
};

static void take_sample(struct sample *s, struct worker *ws)
{
	s->server_ticks = opt.pid > 0 ? proc_cpu_ticks(opt.pid) : -1;
	s->self_cpu = self_cpu_s();
	s->done = total_done(ws);
	s->t = now_s();
}

static int report(const struct sample *a, const struct sample *b)
{
	uint64_t reqs = b->done - a->done;
	double window = b->t - a->t;

	if (reqs == 0) {
		fprintf(stderr, "loadgen: no request completed in the window\n");
		return 1;
	}
	printf("requests %llu\n", (unsigned long long)reqs);
	printf("window_s %.3f\n", window);
	printf("reqs_per_s %.0f\n", (double)reqs / window);
	printf("client_cpu_us_per_req %.3f\n",
	       (b->self_cpu - a->self_cpu) * 1e6 / (double)reqs);
	if (opt.pid > 0) {
		if (a->server_ticks < 0 || b->server_ticks < 0) {
			fprintf(stderr, "loadgen: cannot read /proc/%d/stat\n",
				opt.pid);
			return 1;
		}
		printf("server_cpu_us_per_req %.3f\n",
		       (double)(b->server_ticks - a->server_ticks) * 1e6 /
			       (double)sysconf(_SC_CLK_TCK) / (double)reqs);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct worker *ws;
	struct conn *conns;
	struct sample a, b;
	int rc = 0;

	parse_args(argc, argv);
	raise_nofile();
	pin();
	ws = aligned_alloc(64, sizeof(*ws) * (size_t)opt.threads);
	conns = calloc((size_t)opt.conns, sizeof(*conns));
	if (ws == NULL || conns == NULL) {
		fprintf(stderr, "loadgen: out of memory\n");
		return 1;
	}
	memset(ws, 0, sizeof(*ws) * (size_t)opt.threads);
	if (setup(ws, conns) != 0)
		return 1;
	for (int t = 0; t < opt.threads; t++) {
		if (pthread_create(&ws[t].thread, NULL, worker_main, &ws[t])) {
			fprintf(stderr, "loadgen: pthread_create failed\n");
			return 1;
		}
	}
	sleep_s(opt.warmup);
	take_sample(&a, ws);
	sleep_s(opt.seconds);
	take_sample(&b, ws);
	atomic_store(&stop_flag, 1);
	for (int t = 0; t < opt.threads; t++)
		pthread_join(ws[t].thread, NULL);
	if (atomic_load(&failed))
		rc = 1;
	else
		rc = report(&a, &b);
	for (int i = 0; i < opt.conns; i++) {
		close(conns[i].fd);
		free(conns[i].tx);
		free(conns[i].rx);
	}
	for (int t = 0; t < opt.threads; t++)
		close(ws[t].epfd);
	free(conns);
	free(ws);
	return rc;
}
