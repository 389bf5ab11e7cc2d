/*
 * loadgen: TCP ping-pong load for echo servers, closed-loop or at a fixed
 * rate, with round-trip latency percentiles.
 *
 *   loadgen --port P [--host 127.0.0.1] --conns C --size S --seconds T
 *           [--rate R] [--pid SERVER_PID] [--threads N] [--cpu CPU]
 *           [--warmup W]
 *
 * Each of C connections sends S-byte messages and reads back exactly S
 * bytes per message, checking every byte (a sequence number is stamped at
 * both ends of each message, so a stale or shifted reply is caught). The
 * connections are spread over N threads (default 1), each driving its share
 * with level-triggered epoll, all pinned to CPU if given. After W seconds
 * of warm-up (default 1, or T/5 if shorter) the window opens for T
 * seconds; the process then stops whatever is still in flight, so the run
 * is bounded in time.
 *
 * Closed loop (default): a connection sends its next message as soon as
 * the previous reply is complete; latency is measured from the start of
 * the send. Open loop (--rate R): R messages per second in all, each
 * connection on its own fixed schedule (connection j of a thread's n sends
 * its k-th message at t0 + (k*n + j)/R_thread, so the thread's sends are
 * evenly spaced); a connection whose schedule is ahead pipelines up to
 * MAX_PIPELINE messages, and latency is measured from the time the message
 * was due, not from when it could be sent, so a stalled server is charged
 * for the whole wait (no coordinated omission).
 *
 * Output, one "name value" pair a line:
 *   reqs_per_s              completed round trips per second in the window
 *   offered_per_s           (with --rate) the schedule's rate
 *   server_cpu_us_per_req   (with --pid) utime+stime of the server process
 *                           over the window, from /proc/PID/stat, per request
 *   client_cpu_us_per_req   loadgen's own CPU over the window, per request
 *   lat_p50_us, lat_p99_us, lat_p999_us, lat_max_us
 *                           round-trip latency of the replies completed in
 *                           the window (percentiles within 1%, see hist_*)
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
#include <stdbool.h>
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
#include "times.h"

#define MAX_SIZE (1u << 20)
#define MAX_EVENTS 256
#define MAX_PIPELINE 64 /* open loop: messages in flight per connection */

/*
 * Latency histogram, HdrHistogram's log-linear layout: values below
 * 2*HIST_SUB nanoseconds have a bucket each; above, every power of two is
 * split into HIST_SUB equal buckets, so a bucket is at most 1/HIST_SUB
 * (0.8%) wide relative to its values. Fixed memory (30 KiB), no allocation
 * per request; values from 2^HIST_MAX_BITS ns (68 s) up share the last
 * bucket (the exact maximum is kept apart).
 */
#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_BITS 36
#define HIST_BUCKETS ((HIST_MAX_BITS - 1 - HIST_SUB_BITS) * HIST_SUB + 2 * HIST_SUB)

struct hist {
	uint64_t count, max_ns;
	uint64_t buckets[HIST_BUCKETS];
};

struct conn {
	int fd;
	unsigned id;    /* global connection number, for messages */
	unsigned local; /* index within its worker: its schedule phase */
	uint64_t next_seq; /* sequence number of the next message to start */
	uint64_t wseq;  /* the message being written, while writing */
	uint64_t rseq;  /* the reply being read */
	uint64_t due;   /* open loop: messages whose send time has come */
	uint64_t t_start_ns; /* closed loop: when the message in flight began */
	size_t woff;    /* bytes of the message being written already sent */
	size_t roff;    /* bytes of the reply already read into rx */
	bool writing;   /* a message is partly written */
	bool want_out;  /* EPOLLOUT is armed because a write was short */
	unsigned char *tx; /* the message: constant body, stamps of wseq */
	unsigned char *rx;
};

struct worker {
	pthread_t thread;
	int epfd;
	unsigned first, count; /* the connections this thread drives */
	struct conn *conns;
	double step_ns;   /* open loop: ns between two sends of this thread */
	uint64_t t0_ns;   /* open loop: when the schedule started */
	uint64_t next_i;  /* open loop: the next send slot to hand out */
	struct hist hist; /* replies completed in the window */
	/* Completed round trips; written by the worker, read by main. */
	_Atomic uint64_t done __attribute__((aligned(64)));
	char pad[64 - sizeof(uint64_t)];
};

static struct {
	const char *host;
	int port, conns, threads, cpu, pid;
	size_t size;
	double seconds, warmup, rate;
} opt = { .host = "127.0.0.1", .conns = 1, .threads = 1, .cpu = -1,
	  .size = 64, .seconds = 5, .warmup = -1 };

static atomic_int stop_flag;
static atomic_int failed;
static atomic_int measuring; /* the window is open: record latencies */

/* Report an error, mark the run failed and stop every worker. */
static void fail(const char *what, unsigned id, int err)
{
	atomic_store(&failed, 1);
	fprintf(stderr, "loadgen: %s on connection %u: %s\n", what, id,
		strerror(err));
	atomic_store(&stop_flag, 1);
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

/* ---- histogram ---------------------------------------------------------- */

static unsigned hist_index(uint64_t v)
{
	unsigned e, shift;

	if (v >= (uint64_t)1 << HIST_MAX_BITS)
		v = ((uint64_t)1 << HIST_MAX_BITS) - 1;
	if (v < 2 * HIST_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	shift = e - HIST_SUB_BITS;
	return shift * HIST_SUB + (unsigned)(v >> shift);
}

/* The highest value that lands in bucket i. */
static uint64_t hist_upper(unsigned i)
{
	unsigned shift;

	if (i < 2 * HIST_SUB)
		return i;
	shift = i / HIST_SUB - 1;
	return (((uint64_t)(i - shift * HIST_SUB) + 1) << shift) - 1;
}

static void hist_record(struct hist *h, uint64_t v)
{
	h->buckets[hist_index(v)]++;
	h->count++;
	if (v > h->max_ns)
		h->max_ns = v;
}

static void hist_merge(struct hist *into, const struct hist *h)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->buckets[i] += h->buckets[i];
	into->count += h->count;
	if (h->max_ns > into->max_ns)
		into->max_ns = h->max_ns;
}

/* The value at quantile q: the upper end of the bucket holding the
 * ceil(q * count)-th smallest value, never above the recorded maximum. */
static uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
	uint64_t seen = 0;

	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			uint64_t v = hist_upper(i);
			return v < h->max_ns ? v : h->max_ns;
		}
	}
	return h->max_ns;
}

/* ---- messages ----------------------------------------------------------- */

static size_t head_len(void)
{
	return opt.size < 8 ? opt.size : 8;
}

/* Stamp a sequence number at both ends of a message (the tail stamp only
 * if the two cannot overlap). */
static void put_stamps(unsigned char *m, uint64_t seq)
{
	memcpy(m, &seq, head_len());
	if (opt.size >= 16)
		memcpy(m + opt.size - 8, &seq, 8);
}

/* rx must be message rseq: its stamps, and tx's constant body between. */
static bool reply_ok(const struct conn *c)
{
	size_t h = head_len(), end = opt.size >= 16 ? opt.size - 8 : opt.size;
	unsigned char want[8];

	memcpy(want, &c->rseq, sizeof(want));
	if (memcmp(c->rx, want, h) != 0)
		return false;
	if (opt.size >= 16 && memcmp(c->rx + end, want, 8) != 0)
		return false;
	return memcmp(c->rx + h, c->tx + h, end - h) == 0;
}

static int conn_init(struct conn *c, unsigned id, unsigned local)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->id = id;
	c->local = local;
	c->tx = malloc(opt.size);
	c->rx = malloc(opt.size);
	if (c->tx == NULL || c->rx == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < opt.size; i++)
		c->tx[i] = (unsigned char)(id * 31u + i * 7u + 1u);
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

/* ---- the state machine -------------------------------------------------- */

static int arm(struct worker *w, struct conn *c, int op, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	return epoll_ctl(w->epfd, op, c->fd, &ev) == 0 ? 0 : -errno;
}

static int set_want_out(struct worker *w, struct conn *c, bool on)
{
	if (c->want_out == on)
		return 0;
	c->want_out = on;
	return arm(w, c, EPOLL_CTL_MOD, on ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

/* Write what is left of the current message. Returns 1 when it is all
 * written, 0 when the socket is full (EPOLLOUT armed), or -errno. */
static int write_some(struct worker *w, struct conn *c)
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
		if (n < 0 && errno == EAGAIN)
			return set_want_out(w, c, true);
		return n < 0 ? -errno : -EPIPE;
	}
	c->writing = false;
	return 1;
}

/* May the next message start now? */
static bool may_start(const struct conn *c)
{
	if (c->writing)
		return false;
	if (opt.rate <= 0)
		return c->next_seq == c->rseq; /* closed loop: one at a time */
	return c->next_seq < c->due && c->next_seq - c->rseq < MAX_PIPELINE;
}

/* Start (and write) every message the connection may send now. */
static int pump(struct worker *w, struct conn *c, uint64_t now)
{
	int ret = 1;

	if (c->writing)
		ret = write_some(w, c);
	while (ret == 1 && may_start(c)) {
		c->wseq = c->next_seq++;
		c->t_start_ns = now;
		put_stamps(c->tx, c->wseq);
		c->woff = 0;
		c->writing = true;
		ret = write_some(w, c);
	}
	if (ret == 1)
		ret = set_want_out(w, c, false);
	return ret < 0 ? ret : 0;
}

/* When message `seq` of connection c was meant to be sent. */
static uint64_t intended_ns(const struct worker *w, const struct conn *c,
			    uint64_t seq)
{
	if (opt.rate <= 0)
		return c->t_start_ns;
	return w->t0_ns + (uint64_t)((double)(seq * w->count + c->local) *
				     w->step_ns);
}

static int reply_complete(struct worker *w, struct conn *c, uint64_t now)
{
	uint64_t t;

	if (!reply_ok(c)) {
		fail("mismatched data", c->id, EBADMSG);
		return -EBADMSG;
	}
	if (atomic_load_explicit(&measuring, memory_order_relaxed)) {
		t = intended_ns(w, c, c->rseq);
		hist_record(&w->hist, now > t ? now - t : 0);
	}
	atomic_store_explicit(&w->done,
			      atomic_load_explicit(&w->done,
						   memory_order_relaxed) + 1,
			      memory_order_relaxed);
	c->rseq++;
	c->roff = 0;
	return pump(w, c, now);
}

/* Read never more than the rest of the reply in progress: bytes beyond it
 * belong to the next reply, and bytes nobody asked for are an error. After
 * a reply, go on reading only if another one is due (open loop): level
 * triggering reports anything else, which saves the read that would only
 * say EAGAIN. */
static int do_read(struct worker *w, struct conn *c)
{
	for (;;) {
		ssize_t n;

		if (c->rseq == c->next_seq) {
			char extra;
			n = recv(c->fd, &extra, 1, MSG_PEEK);
			if (n > 0) {
				fail("data nobody asked for", c->id, EBADMSG);
				return -EBADMSG;
			}
		} else {
			n = recv(c->fd, c->rx + c->roff, opt.size - c->roff, 0);
		}
		if (n > 0) {
			int ret;

			c->roff += (size_t)n;
			if (c->roff < opt.size)
				continue;
			ret = reply_complete(w, c, now_ns());
			if (ret < 0 || opt.rate <= 0 || c->rseq == c->next_seq)
				return ret;
			continue;
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
		ret = pump(w, c, now_ns());
	if (ret == 0 && (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		ret = do_read(w, c);
	if (ret < 0 && ret != -EBADMSG && !atomic_load(&stop_flag))
		fail(ret == -ECONNRESET ? "peer closed" : "I/O error", c->id,
		     -ret);
}

/* Open loop: hand out every send slot whose time has come. Returns the
 * time of the next one. */
static uint64_t schedule(struct worker *w, uint64_t now)
{
	for (;;) {
		uint64_t t = w->t0_ns +
			     (uint64_t)((double)w->next_i * w->step_ns);
		struct conn *c;
		int ret;

		if (t > now)
			return t;
		c = &w->conns[w->next_i % w->count];
		w->next_i++;
		c->due++;
		ret = pump(w, c, now);
		if (ret < 0) {
			fail("write", c->id, -ret);
			return now;
		}
	}
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

/* Wait for events until `until_ns` at the latest. */
static int wait_events(struct worker *w, struct epoll_event *events,
		       uint64_t until_ns)
{
	uint64_t now = now_ns();
	uint64_t left = until_ns > now ? until_ns - now : 0;
	struct timespec ts = { .tv_sec = (time_t)(left / 1000000000u),
			       .tv_nsec = (long)(left % 1000000000u) };

	return epoll_pwait2(w->epfd, events, MAX_EVENTS, &ts, NULL);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event events[MAX_EVENTS];
	uint64_t now = now_ns();

	pin();
	w->t0_ns = now;
	for (unsigned i = 0; opt.rate <= 0 && i < w->count; i++) {
		int ret = pump(w, &w->conns[i], now);
		if (ret < 0) {
			fail("first write", w->conns[i].id, -ret);
			return NULL;
		}
	}
	while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
		uint64_t until = now_ns() + 100000000u; /* 100 ms */
		int n;

		if (opt.rate > 0) {
			uint64_t next = schedule(w, now_ns());
			until = next < until ? next : until;
		}
		n = wait_events(w, events, until);
		if (n < 0 && errno != EINTR) {
			fail("epoll_pwait2, first", w->first, errno);
			break;
		}
		for (int i = 0; i < n; i++)
			handle(w, &events[i]);
	}
	return NULL;
}

/* ---- set-up and report -------------------------------------------------- */

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

static int setup_conn(struct worker *w, unsigned i,
		      const struct sockaddr_in *addr)
{
	struct conn *c = &w->conns[i];
	unsigned id = w->first + i;
	int ret = conn_init(c, id, i);

	if (ret == 0)
		ret = conn_connect(c, addr);
	if (ret == 0 && fcntl_nonblock(c->fd) != 0)
		ret = -errno;
	if (ret == 0)
		ret = arm(w, c, EPOLL_CTL_ADD, EPOLLIN);
	if (ret < 0)
		fprintf(stderr, "loadgen: connect %s:%d (connection %u): %s\n",
			opt.host, opt.port, id, strerror(-ret));
	return ret;
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
		/* This thread's share of the rate, spread over its sends. */
		if (opt.rate > 0)
			w->step_ns = 1e9 * opt.conns / (opt.rate * w->count);
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		atomic_init(&w->done, 0);
		if (w->epfd < 0)
			return -1;
		first += w->count;
	}
	for (int t = 0; t < opt.threads; t++)
		for (unsigned i = 0; i < ws[t].count; i++)
			if (setup_conn(&ws[t], i, &addr) != 0)
				return -1;
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
		"          [--rate R] [--pid SERVER_PID] [--threads N] "
		"[--cpu CPU] [--warmup W]\n",
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
		{ "rate", required_argument, NULL, 'r' },
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
		case 'r': opt.rate = atof(optarg); break;
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
	    opt.threads > opt.conns || opt.rate < 0 || opt.rate > 1e8)
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

static void report_latency(struct worker *ws)
{
	static struct hist all; /* 30 KiB: not on the stack */

	for (int t = 0; t < opt.threads; t++)
		hist_merge(&all, &ws[t].hist);
	if (all.count == 0)
		return;
	printf("lat_p50_us %.1f\n", (double)hist_quantile(&all, 0.50) / 1e3);
	printf("lat_p99_us %.1f\n", (double)hist_quantile(&all, 0.99) / 1e3);
	printf("lat_p999_us %.1f\n", (double)hist_quantile(&all, 0.999) / 1e3);
	printf("lat_max_us %.1f\n", (double)all.max_ns / 1e3);
}

static int report(const struct sample *a, const struct sample *b,
		  struct worker *ws)
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
	if (opt.rate > 0)
		printf("offered_per_s %.0f\n", opt.rate);
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
	report_latency(ws);
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
	atomic_store(&measuring, 1);
	sleep_s(opt.seconds);
	atomic_store(&measuring, 0);
	take_sample(&b, ws);
	atomic_store(&stop_flag, 1);
	for (int t = 0; t < opt.threads; t++)
		pthread_join(ws[t].thread, NULL);
	if (atomic_load(&failed))
		rc = 1;
	else
		rc = report(&a, &b, ws);
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
