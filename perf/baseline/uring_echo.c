/*
 * uring_echo: the best single-threaded io_uring TCP echo server we can write
 * by hand, without any runtime. It is the floor ringo's echo server is
 * compared against (see perf/README.md).
 *
 *   uring_echo PORT        listens on 127.0.0.1:PORT, exits on SIGINT/SIGTERM
 *
 * Shape of the loop:
 *   - ring set up with SINGLE_ISSUER|DEFER_TASKRUN (falling back to
 *     COOP_TASKRUN, then to no flags, when the kernel refuses);
 *   - one multishot accept, installing direct (registered) descriptors when
 *     the kernel supports a sparse file table, so recv/send skip the fd
 *     table lookup; plain descriptors otherwise;
 *   - one recv per connection into that connection's own buffer; the bytes
 *     received are sent back, a short send is resumed from where it stopped,
 *     and only when everything went out is the next recv queued;
 *   - one io_uring_submit_and_wait() per iteration, then every ready CQE is
 *     handled in one batch and the CQ head advanced once.
 *
 * Per-connection buffers rather than a provided-buffer ring with multishot
 * recv: a connection has at most one request in flight here, and a buffer
 * ring would need a second state machine for -ENOBUFS and buffer return that
 * gains nothing for ping-pong traffic. IORING_RECVSEND_POLL_FIRST on the
 * recv was tried and made no difference beyond noise at 64 B/100 conns and
 * 4 KiB/1000 conns, so it is left out.
 */
#include <assert.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define RING_ENTRIES 4096u
#define CQ_ENTRIES (4u * RING_ENTRIES)
#define CONN_BUF 16384u
#define MAX_FIXED_FILES 16384u

/* Low bits of user_data say which operation completed. */
enum op {
	OP_ACCEPT = 0, /* the multishot accept; the pointer part is NULL */
	OP_RECV = 1,
	OP_SEND = 2,
	OP_CLOSE = 3, /* fire and forget; the pointer part is NULL */
};
#define OP_MASK 3u

struct conn {
	int fd;        /* direct index if server.fixed, else a plain fd */
	unsigned len;  /* bytes received and not yet fully sent back */
	unsigned sent; /* of those, bytes already sent; valid while sending */
	char buf[CONN_BUF] __attribute__((aligned(64)));
};

static struct {
	struct io_uring ring;
	int listen_fd;
	int fixed;     /* connections use direct descriptors */
	unsigned live; /* open connections */
} server;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "uring_echo: %s: %s\n", what, strerror(err));
	exit(1);
}

/* Never fails: a full SQ is flushed to the kernel and the grab retried. */
static struct io_uring_sqe *get_sqe(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&server.ring);

	while (sqe == NULL) {
		int ret = io_uring_submit(&server.ring);
		if (ret < 0 && ret != -EBUSY && ret != -EINTR)
			die("io_uring_submit", -ret);
		sqe = io_uring_get_sqe(&server.ring);
	}
	return sqe;
}

static void set_data(struct io_uring_sqe *sqe, struct conn *c, enum op op)
{
	assert(((uintptr_t)c & OP_MASK) == 0);
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | op);
}

static void queue_accept(void)
{
	struct io_uring_sqe *sqe = get_sqe();

	if (server.fixed)
		io_uring_prep_multishot_accept_direct(sqe, server.listen_fd,
						      NULL, NULL, 0);
	else
		io_uring_prep_multishot_accept(sqe, server.listen_fd, NULL,
					       NULL, 0);
	set_data(sqe, NULL, OP_ACCEPT);
}

static void prep_conn_sqe(struct io_uring_sqe *sqe, struct conn *c,
			  enum op op)
{
	if (server.fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
	set_data(sqe, c, op);
}

static void queue_recv(struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe();

	io_uring_prep_recv(sqe, c->fd, c->buf, CONN_BUF, 0);
	prep_conn_sqe(sqe, c, OP_RECV);
}

static void queue_send(struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe();

	assert(c->sent < c->len);
	io_uring_prep_send(sqe, c->fd, c->buf + c->sent, c->len - c->sent,
			   MSG_NOSIGNAL);
	prep_conn_sqe(sqe, c, OP_SEND);
}

static void close_fd(int fd)
{
	struct io_uring_sqe *sqe = get_sqe();

	if (server.fixed)
		io_uring_prep_close_direct(sqe, (unsigned)fd);
	else
		io_uring_prep_close(sqe, fd);
	set_data(sqe, NULL, OP_CLOSE);
}

/* The connection has no operation in flight when this is called. */
static void conn_close(struct conn *c)
{
	close_fd(c->fd);
	free(c);
	assert(server.live > 0);
	server.live--;
}

static void on_accept(struct io_uring_cqe *cqe)
{
	struct conn *c;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		queue_accept(); /* multishot ended (error or overflow) */
	if (cqe->res < 0) {
		if (cqe->res != -EINTR && cqe->res != -ECANCELED)
			fprintf(stderr, "uring_echo: accept: %s\n",
				strerror(-cqe->res));
		return;
	}
	if (posix_memalign((void **)&c, 64, sizeof(*c)) != 0) {
		fprintf(stderr, "uring_echo: out of memory, dropping client\n");
		close_fd(cqe->res);
		return;
	}
	c->fd = cqe->res;
	c->len = 0;
	c->sent = 0;
	server.live++;
	queue_recv(c);
}

static void on_recv(struct conn *c, int res)
{
	if (res <= 0) {
		if (res < 0 && res != -ECONNRESET && res != -ECANCELED)
			fprintf(stderr, "uring_echo: recv: %s\n",
				strerror(-res));
		conn_close(c);
		return;
	}
	c->len = (unsigned)res;
	c->sent = 0;
	queue_send(c);
}

static void on_send(struct conn *c, int res)
{
	if (res <= 0) {
		if (res < 0 && res != -EPIPE && res != -ECONNRESET &&
		    res != -ECANCELED)
			fprintf(stderr, "uring_echo: send: %s\n",
				strerror(-res));
		conn_close(c);
		return;
	}
	c->sent += (unsigned)res;
	assert(c->sent <= c->len);
	if (c->sent < c->len)
		queue_send(c); /* short send: resume where it stopped */
	else
		queue_recv(c);
}

static void handle_cqe(struct io_uring_cqe *cqe)
{
	uint64_t data = io_uring_cqe_get_data64(cqe);
	struct conn *c = (struct conn *)(uintptr_t)(data & ~(uint64_t)OP_MASK);

	switch ((enum op)(data & OP_MASK)) {
	case OP_ACCEPT:
		on_accept(cqe);
		break;
	case OP_RECV:
		on_recv(c, cqe->res);
		break;
	case OP_SEND:
		on_send(c, cqe->res);
		break;
	case OP_CLOSE:
		break;
	}
}

/* Try the fastest setup first; older kernels answer -EINVAL. */
static void ring_init(void)
{
	static const unsigned flag_sets[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	struct io_uring_params p;
	int ret = -EINVAL;

	for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = flag_sets[i] | IORING_SETUP_CQSIZE |
			  IORING_SETUP_SUBMIT_ALL;
		p.cq_entries = CQ_ENTRIES;
		ret = io_uring_queue_init_params(RING_ENTRIES, &server.ring,
						 &p);
		if (ret != -EINVAL)
			break;
	}
	if (ret < 0)
		die("io_uring_queue_init_params", -ret);
}

static unsigned raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_cur > MAX_FIXED_FILES ? MAX_FIXED_FILES
					     : (unsigned)rl.rlim_cur;
}

static int listen_on(int port)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket", errno);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Linux copies TCP_NODELAY from the listener to accepted sockets. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		die("bind", errno);
	if (listen(fd, 4096) != 0)
		die("listen", errno);
	return fd;
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: the wait must see EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void run(void)
{
	while (!stop_requested) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		int ret = io_uring_submit_and_wait(&server.ring, 1);

		if (ret < 0 && ret != -EINTR && ret != -EBUSY &&
		    ret != -EAGAIN)
			die("io_uring_submit_and_wait", -ret);
		io_uring_for_each_cqe(&server.ring, head, cqe) {
			handle_cqe(cqe);
			seen++;
		}
		io_uring_cq_advance(&server.ring, seen);
	}
}

int main(int argc, char **argv)
{
	unsigned nfiles;
	int port;

	if (argc != 2 || (port = atoi(argv[1])) <= 0 || port > 65535) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
	nfiles = raise_nofile();
	install_signals();
	server.listen_fd = listen_on(port);
	ring_init();
	server.fixed = io_uring_register_files_sparse(&server.ring, nfiles) == 0;
	queue_accept();
	run();
	/* Connections still open are reclaimed with the ring and the process. */
	io_uring_queue_exit(&server.ring);
	close(server.listen_fd);
	fprintf(stderr, "uring_echo: exiting, %u connections open, fixed=%d\n",
		server.live, server.fixed);
	return 0;
}
