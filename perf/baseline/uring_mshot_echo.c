/*
 * uring_mshot_echo: the best plain-liburing TCP echo server we can write,
 * using every io_uring feature that helps a stream echo. The second floor
 * ringo's echo server is compared against (see perf/README.md); uring_echo
 * is the first, simpler one.
 *
 *   uring_mshot_echo [options] PORT     listens on 127.0.0.1:PORT
 *     --bundle auto|on|off   receive bundles (Linux 6.10+; default auto)
 *     --buf-size N           bytes per provided buffer (default 16384)
 *     --bufs N               provided buffers, a power of two (default 4096)
 *     --no-regring           do not register the ring fd
 *     --no-fixed             plain descriptors instead of direct ones
 *   exits on SIGINT/SIGTERM, printing what it used on stderr
 *
 * Shape of the loop:
 *   - ring set up with SINGLE_ISSUER|DEFER_TASKRUN (falling back to
 *     COOP_TASKRUN, then to no flags), its fd registered so each enter
 *     skips the fd table (io_uring_register_ring_fd);
 *   - one multishot accept installing direct descriptors;
 *   - one multishot recv per connection selecting buffers from a shared
 *     provided-buffer ring, optionally as bundles (one CQE for several
 *     buffers);
 *   - the received buffers are queued on their connection in order and
 *     sent straight from the buffer ring (send for one buffer, sendmsg
 *     gathering up to SEND_IOVS for more); one send in flight per
 *     connection keeps the byte order; a short send is resumed where it
 *     stopped; a buffer goes back to the ring when its last byte is sent;
 *   - buffers returned during a batch are published with one tail store
 *     before the next io_uring_submit_and_wait(); CQEs are handled in
 *     batches and the CQ head advanced once.
 *
 * The multishot recv ends on its own (a CQE without IORING_CQE_F_MORE):
 * after data it is re-armed at once; on -ENOBUFS (buffer ring empty) the
 * connection waits in a FIFO list and is re-armed when buffers come back
 * (see rearm_waiting()); on EOF the queued bytes are still sent, then the
 * connection is closed.
 */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* liburing 2.3's headers predate bundles (Linux 6.10); the values are the
 * kernel's UAPI. */
#ifndef IORING_RECVSEND_BUNDLE
#define IORING_RECVSEND_BUNDLE (1U << 4)
#endif
#ifndef IORING_FEAT_RECVSEND_BUNDLE
#define IORING_FEAT_RECVSEND_BUNDLE (1U << 14)
#endif

#define RING_ENTRIES 4096u
#define CQ_ENTRIES (4u * RING_ENTRIES)
#define MAX_FIXED_FILES 16384u
#define BGID 1
#define NO_BID 0xffffu
#define MAX_BUFS 32768u /* buffer ids are 16 bits; NO_BID stays free */
#define SEND_IOVS 16

/* Low bits of user_data say which operation completed. */
enum op {
	OP_ACCEPT = 0, /* the multishot accept; the pointer part is NULL */
	OP_RECV = 1,
	OP_SEND = 2,
	OP_OTHER = 3, /* close and cancel, fire and forget; pointer NULL */
};
#define OP_MASK 3u

/* One per provided buffer, indexed by buffer id. */
struct buf {
	uint16_t next; /* next buffer in the owning connection's send queue */
	uint16_t pos;  /* ring position (tail counter) it was last added at */
	bool in_ring;  /* added to the ring and not yet reported by a CQE */
	uint32_t off;  /* while queued: bytes [off, len) are still to send */
	uint32_t len;
};

struct conn {
	int fd;              /* direct index if srv.fixed, else a plain fd */
	uint16_t head, tail; /* send queue of buffer ids, NO_BID when empty */
	bool recv_armed;     /* a multishot recv is in flight */
	bool send_busy;      /* a send/sendmsg is in flight */
	bool in_done;        /* input ended (EOF or error): close when idle */
	bool failed;         /* output failed: drop the queue, close when idle */
	bool waiting;        /* on srv.waiting: recv ended with -ENOBUFS */
	struct conn *wprev, *wnext; /* srv.waiting links, valid while waiting */
	struct conn *prev, *next;   /* srv.conns: every open connection */
	struct msghdr msg;   /* for sendmsg; kernel-owned while send_busy */
	struct iovec iov[SEND_IOVS];
};

static struct {
	struct io_uring ring;
	int listen_fd;
	bool fixed;        /* connections use direct descriptors */
	bool bundle;       /* recv asks for bundles */
	bool regring;      /* the ring fd is registered */
	unsigned live;     /* open connections */
	struct conn *conns; /* all of them, freed at exit */
	/* The provided-buffer ring. */
	struct io_uring_buf_ring *br;
	char *bufs;        /* nbufs * buf_size bytes */
	struct buf *meta;  /* nbufs entries */
	uint16_t *slot_bid; /* the buffer id last added at each ring slot */
	unsigned nbufs, buf_size, mask;
	uint16_t tail;     /* our tail, ahead of br->tail by `unpublished` */
	unsigned unpublished;
	uint64_t published; /* buffers ever made visible to the kernel */
	uint64_t taken;     /* buffers ever reported taken by a recv CQE */
	/* Connections waiting for buffers (recv ended with -ENOBUFS), FIFO. */
	struct conn *waiting, *waiting_tail;
	/* Counters printed at exit. */
	unsigned long long recv_cqes, recv_bufs, enobufs, sendmsgs, sends,
		short_sends;
} srv;

static struct {
	int bundle; /* -1 auto, 0 off, 1 on */
	unsigned buf_size, nbufs;
	bool regring, fixed;
	int port;
} opt = { .bundle = -1, .buf_size = 16384, .nbufs = 4096,
	  .regring = true, .fixed = true };

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "uring_mshot_echo: %s: %s\n", what, strerror(err));
	exit(1);
}

static char *buf_addr(unsigned bid)
{
	return srv.bufs + (size_t)bid * srv.buf_size;
}

/* Put a buffer back at our tail; the kernel sees it after publish(). */
static void buf_recycle(uint16_t bid)
{
	struct io_uring_buf *b = &srv.br->bufs[srv.tail & srv.mask];

	b->addr = (uint64_t)(uintptr_t)buf_addr(bid);
	b->len = srv.buf_size;
	b->bid = bid;
	srv.slot_bid[srv.tail & srv.mask] = bid;
	assert(!srv.meta[bid].in_ring);
	srv.meta[bid].pos = srv.tail;
	srv.meta[bid].in_ring = true;
	srv.tail++;
	srv.unpublished++;
}

/* Never fails: a full SQ is flushed to the kernel and the grab retried. */
static struct io_uring_sqe *get_sqe(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&srv.ring);

	while (sqe == NULL) {
		int ret = io_uring_submit(&srv.ring);
		if (ret < 0 && ret != -EBUSY && ret != -EINTR)
			die("io_uring_submit", -ret);
		sqe = io_uring_get_sqe(&srv.ring);
	}
	return sqe;
}

static void set_data(struct io_uring_sqe *sqe, struct conn *c, enum op op)
{
	assert(((uintptr_t)c & OP_MASK) == 0);
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | op);
}

static uint64_t conn_data(struct conn *c, enum op op)
{
	return (uint64_t)(uintptr_t)c | op;
}

static void conn_sqe(struct io_uring_sqe *sqe, struct conn *c, enum op op)
{
	if (srv.fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
	set_data(sqe, c, op);
}

static void queue_accept(void)
{
	struct io_uring_sqe *sqe = get_sqe();

	if (srv.fixed)
		io_uring_prep_multishot_accept_direct(sqe, srv.listen_fd, NULL,
						      NULL, 0);
	else
		io_uring_prep_multishot_accept(sqe, srv.listen_fd, NULL, NULL,
					       0);
	set_data(sqe, NULL, OP_ACCEPT);
}

static void arm_recv(struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe();

	assert(!c->recv_armed && !c->waiting);
	io_uring_prep_recv(sqe, c->fd, NULL, 0, 0);
	sqe->ioprio |= IORING_RECV_MULTISHOT;
	if (srv.bundle)
		sqe->ioprio |= IORING_RECVSEND_BUNDLE;
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	conn_sqe(sqe, c, OP_RECV);
	c->recv_armed = true;
}

/* Send everything queued, up to SEND_IOVS buffers, in one request. */
static void send_queued(struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe();
	unsigned n = 0;

	assert(!c->send_busy && c->head != NO_BID);
	for (uint16_t b = c->head; b != NO_BID && n < SEND_IOVS;
	     b = srv.meta[b].next, n++) {
		c->iov[n].iov_base = buf_addr(b) + srv.meta[b].off;
		c->iov[n].iov_len = srv.meta[b].len - srv.meta[b].off;
	}
	/* MSG_WAITALL: on a stream socket the kernel finishes a short send
	 * itself instead of completing early (one CQE per message). */
	if (n == 1) {
		io_uring_prep_send(sqe, c->fd, c->iov[0].iov_base,
				   c->iov[0].iov_len, MSG_NOSIGNAL | MSG_WAITALL);
		srv.sends++;
	} else {
		memset(&c->msg, 0, sizeof(c->msg));
		c->msg.msg_iov = c->iov;
		c->msg.msg_iovlen = n;
		io_uring_prep_sendmsg(sqe, c->fd, &c->msg,
				      MSG_NOSIGNAL | MSG_WAITALL);
		srv.sendmsgs++;
	}
	conn_sqe(sqe, c, OP_SEND);
	c->send_busy = true;
}

static void queue_append(struct conn *c, uint16_t bid, uint32_t len)
{
	assert(srv.meta[bid].in_ring);
	srv.meta[bid].in_ring = false;
	srv.taken++;
	srv.meta[bid].next = NO_BID;
	srv.meta[bid].off = 0;
	srv.meta[bid].len = len;
	if (c->head == NO_BID)
		c->head = bid;
	else
		srv.meta[c->tail].next = bid;
	c->tail = bid;
}

/* Return every queued buffer to the ring (the output side failed). */
static void queue_drop(struct conn *c)
{
	while (c->head != NO_BID) {
		uint16_t b = c->head;
		c->head = srv.meta[b].next;
		buf_recycle(b);
	}
}

static void wait_link(struct conn *c)
{
	c->waiting = true;
	c->wnext = NULL;
	c->wprev = srv.waiting_tail;
	if (srv.waiting_tail != NULL)
		srv.waiting_tail->wnext = c;
	else
		srv.waiting = c;
	srv.waiting_tail = c;
}

static void wait_unlink(struct conn *c)
{
	if (c->wprev != NULL)
		c->wprev->wnext = c->wnext;
	else
		srv.waiting = c->wnext;
	if (c->wnext != NULL)
		c->wnext->wprev = c->wprev;
	else
		srv.waiting_tail = c->wprev;
	c->waiting = false;
}

static void close_fd(int fd)
{
	struct io_uring_sqe *sqe = get_sqe();

	if (srv.fixed)
		io_uring_prep_close_direct(sqe, (unsigned)fd);
	else
		io_uring_prep_close(sqe, fd);
	set_data(sqe, NULL, OP_OTHER);
}

/* Close and free the connection once it is finished and nothing of it is
 * in flight (the kernel may still write into a buffer or read c->msg). */
static void conn_maybe_close(struct conn *c)
{
	if (c->recv_armed || c->send_busy)
		return;
	if (!c->failed && !(c->in_done && c->head == NO_BID))
		return;
	if (c->waiting)
		wait_unlink(c);
	queue_drop(c);
	close_fd(c->fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv.conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
	assert(srv.live > 0);
	srv.live--;
}

/* Output failed: stop reading too. The multishot recv is cancelled and
 * its final CQE lets conn_maybe_close() free the connection. */
static void conn_fail(struct conn *c)
{
	c->failed = true;
	queue_drop(c);
	if (c->recv_armed) {
		struct io_uring_sqe *sqe = get_sqe();
		io_uring_prep_cancel64(sqe, conn_data(c, OP_RECV), 0);
		set_data(sqe, NULL, OP_OTHER);
	}
	conn_maybe_close(c);
}

static void on_accept(struct io_uring_cqe *cqe)
{
	struct conn *c;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		queue_accept(); /* multishot ended (error or overflow) */
	if (cqe->res < 0) {
		if (cqe->res != -EINTR && cqe->res != -ECANCELED)
			fprintf(stderr, "uring_mshot_echo: accept: %s\n",
				strerror(-cqe->res));
		return;
	}
	if (posix_memalign((void **)&c, 64, sizeof(*c)) != 0) {
		fprintf(stderr, "uring_mshot_echo: out of memory\n");
		close_fd(cqe->res);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->fd = cqe->res;
	c->head = c->tail = NO_BID;
	c->next = srv.conns;
	if (srv.conns != NULL)
		srv.conns->prev = c;
	srv.conns = c;
	srv.live++;
	arm_recv(c);
}

/* Queue the buffers one recv CQE filled. A bundle covers consecutive ring
 * slots from the first buffer's, each full but the last (all buffers have
 * the same size), so the ids come from our record of what each slot held.
 * That record is still right when the CQE is handled: a slot is refilled
 * only once we recycle a buffer, and the buffers the kernel took after
 * this CQE's are reported by later CQEs (CQEs come in the order buffers
 * were taken), so not enough can have come back to wrap the ring onto
 * these slots. queue_append() asserts each id is one the kernel holds. */
static void take_buffers(struct conn *c, const struct io_uring_cqe *cqe)
{
	uint16_t first = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
	uint32_t left = (uint32_t)cqe->res;
	uint16_t pos = srv.meta[first].pos;

	assert(cqe->flags & IORING_CQE_F_BUFFER);
	assert(srv.slot_bid[pos & srv.mask] == first);
	srv.recv_cqes++;
	while (left > 0) {
		uint16_t bid = srv.slot_bid[pos & srv.mask];
		uint32_t n = left < srv.buf_size ? left : srv.buf_size;

		queue_append(c, bid, n);
		left -= n;
		pos++;
		srv.recv_bufs++;
	}
}

/* The multishot recv ended (no IORING_CQE_F_MORE) with `res`. */
static void recv_ended(struct conn *c, int res)
{
	c->recv_armed = false;
	if (c->failed) {
		conn_maybe_close(c);
	} else if (res > 0) {
		arm_recv(c); /* the kernel ended the multishot; go on */
	} else if (res == -ENOBUFS) {
		srv.enobufs++;
		wait_link(c); /* see rearm_waiting() */
	} else {
		if (res < 0 && res != -ECONNRESET && res != -ECANCELED)
			fprintf(stderr, "uring_mshot_echo: recv: %s\n",
				strerror(-res));
		c->in_done = true;
		conn_maybe_close(c);
	}
}

static void on_recv(struct conn *c, struct io_uring_cqe *cqe)
{
	if (cqe->res > 0) {
		take_buffers(c, cqe);
		if (c->failed)
			queue_drop(c); /* nowhere to send it */
		else if (!c->send_busy)
			send_queued(c);
	} else if (cqe->flags & IORING_CQE_F_BUFFER) {
		/* No data but a buffer taken: not expected; return it. */
		uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		srv.meta[bid].in_ring = false;
		srv.taken++;
		buf_recycle(bid);
	}
	if (!(cqe->flags & IORING_CQE_F_MORE))
		recv_ended(c, cqe->res);
}

/* Account `res` bytes sent from the head of the queue. */
static void queue_consume(struct conn *c, uint32_t res)
{
	while (res > 0) {
		uint16_t b = c->head;
		struct buf *m = &srv.meta[b];
		uint32_t avail = m->len - m->off;

		assert(b != NO_BID);
		if (res < avail) {
			m->off += res;
			srv.short_sends++;
			return;
		}
		res -= avail;
		c->head = m->next;
		buf_recycle(b);
	}
}

static void on_send(struct conn *c, int res)
{
	c->send_busy = false;
	if (res <= 0) {
		if (res < 0 && res != -EPIPE && res != -ECONNRESET &&
		    res != -ECANCELED)
			fprintf(stderr, "uring_mshot_echo: send: %s\n",
				strerror(-res));
		conn_fail(c);
		return;
	}
	queue_consume(c, (uint32_t)res);
	if (c->head != NO_BID)
		send_queued(c);
	else
		conn_maybe_close(c);
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
		on_recv(c, cqe);
		break;
	case OP_SEND:
		on_send(c, cqe->res);
		break;
	case OP_OTHER:
		break;
	}
}

/* Make the buffers returned since the last call visible to the kernel,
 * with one release store of the tail. */
static void publish(void)
{
	if (srv.unpublished == 0)
		return;
	io_uring_smp_store_release(&srv.br->tail, srv.tail);
	srv.published += srv.unpublished;
	srv.unpublished = 0;
}

/* Re-arm connections that ran out of buffers, oldest first, one per buffer
 * the ring may hold (published minus reported taken: an upper bound, as
 * the kernel may have taken some whose CQEs are still to come). Re-arming
 * them all at every return would have each one that finds the ring empty
 * fail again at once: thousands of -ENOBUFS per buffer when the ring runs
 * dry. A re-armed connection without data takes nothing and completes
 * nothing, so the bound stays positive and run() waits with a timeout
 * while anyone waits: the rest are re-armed on the next pass, never
 * stranded beside free buffers. */
static void rearm_waiting(void)
{
	unsigned avail = (unsigned)(srv.published - srv.taken);

	while (srv.waiting != NULL && avail > 0) {
		struct conn *c = srv.waiting;
		wait_unlink(c);
		arm_recv(c);
		avail--;
	}
}

static void bufs_init(void)
{
	size_t ring_bytes = (size_t)srv.nbufs * sizeof(struct io_uring_buf);
	struct io_uring_buf_reg reg;
	int ret;

	srv.br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* Only the pages touched by traffic become resident. */
	srv.bufs = mmap(NULL, (size_t)srv.nbufs * srv.buf_size,
			PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	srv.meta = calloc(srv.nbufs, sizeof(*srv.meta));
	srv.slot_bid = calloc(srv.nbufs, sizeof(*srv.slot_bid));
	if (srv.br == MAP_FAILED || srv.bufs == MAP_FAILED ||
	    srv.meta == NULL || srv.slot_bid == NULL)
		die("buffer allocation", ENOMEM);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)srv.br;
	reg.ring_entries = srv.nbufs;
	reg.bgid = BGID;
	ret = io_uring_register_buf_ring(&srv.ring, &reg, 0);
	if (ret < 0)
		die("io_uring_register_buf_ring (needs Linux 5.19)", -ret);
	srv.mask = srv.nbufs - 1;
	srv.tail = 0;
	io_uring_buf_ring_init(srv.br);
	for (unsigned i = 0; i < srv.nbufs; i++)
		buf_recycle((uint16_t)i);
	publish();
}

/* Try the fastest setup first; older kernels answer -EINVAL. */
static unsigned ring_init(void)
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
		ret = io_uring_queue_init_params(RING_ENTRIES, &srv.ring, &p);
		if (ret != -EINVAL)
			break;
	}
	if (ret < 0)
		die("io_uring_queue_init_params", -ret);
	return p.features;
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
		int ret;

		publish();
		rearm_waiting();
		if (srv.waiting == NULL) {
			ret = io_uring_submit_and_wait(&srv.ring, 1);
		} else {
			/* 1 ms: see rearm_waiting(). */
			struct __kernel_timespec ts = { .tv_nsec = 1000000 };
			ret = io_uring_submit_and_wait_timeout(&srv.ring, &cqe,
							       1, &ts, NULL);
		}
		if (ret < 0 && ret != -EINTR && ret != -EBUSY &&
		    ret != -EAGAIN && ret != -ETIME)
			die("io_uring_submit_and_wait", -ret);
		io_uring_for_each_cqe(&srv.ring, head, cqe) {
			handle_cqe(cqe);
			seen++;
		}
		io_uring_cq_advance(&srv.ring, seen);
	}
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--bundle auto|on|off] [--buf-size N] [--bufs N]\n"
		"          [--no-regring] [--no-fixed] PORT\n",
		argv0);
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "bundle", required_argument, NULL, 'b' },
		{ "buf-size", required_argument, NULL, 's' },
		{ "bufs", required_argument, NULL, 'n' },
		{ "no-regring", no_argument, NULL, 'r' },
		{ "no-fixed", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			if (strcmp(optarg, "auto") == 0)
				opt.bundle = -1;
			else if (strcmp(optarg, "on") == 0)
				opt.bundle = 1;
			else if (strcmp(optarg, "off") == 0)
				opt.bundle = 0;
			else
				usage(argv[0]);
			break;
		case 's': opt.buf_size = (unsigned)atoi(optarg); break;
		case 'n': opt.nbufs = (unsigned)atoi(optarg); break;
		case 'r': opt.regring = false; break;
		case 'f': opt.fixed = false; break;
		default: usage(argv[0]);
		}
	}
	if (optind != argc - 1)
		usage(argv[0]);
	opt.port = atoi(argv[optind]);
	if (opt.port <= 0 || opt.port > 65535 || opt.buf_size < 64 ||
	    opt.buf_size > (1u << 20) || opt.nbufs == 0 ||
	    opt.nbufs > MAX_BUFS || (opt.nbufs & (opt.nbufs - 1)) != 0)
		usage(argv[0]);
}

static void features_init(unsigned features, unsigned nfiles)
{
	bool has_bundle = features & IORING_FEAT_RECVSEND_BUNDLE;

	if (opt.bundle == 1 && !has_bundle)
		die("--bundle on", EOPNOTSUPP);
	srv.bundle = opt.bundle == 1 || (opt.bundle == -1 && has_bundle);
	/* liburing then enters through the registered index, not the fd. */
	srv.regring = opt.regring && io_uring_register_ring_fd(&srv.ring) == 1;
	srv.fixed = opt.fixed &&
		    io_uring_register_files_sparse(&srv.ring, nfiles) == 0;
	srv.nbufs = opt.nbufs;
	srv.buf_size = opt.buf_size;
}

int main(int argc, char **argv)
{
	unsigned nfiles;

	parse_args(argc, argv);
	nfiles = raise_nofile();
	install_signals();
	srv.listen_fd = listen_on(opt.port);
	features_init(ring_init(), nfiles);
	bufs_init();
	queue_accept();
	run();
	/* Tearing the ring down ends every request, so nothing the kernel
	 * could still write to is freed below. */
	io_uring_queue_exit(&srv.ring);
	close(srv.listen_fd);
	while (srv.conns != NULL) {
		struct conn *c = srv.conns;
		srv.conns = c->next;
		if (!srv.fixed)
			close(c->fd);
		free(c);
	}
	munmap(srv.bufs, (size_t)srv.nbufs * srv.buf_size);
	munmap(srv.br, (size_t)srv.nbufs * sizeof(struct io_uring_buf));
	free(srv.meta);
	free(srv.slot_bid);
	fprintf(stderr,
		"uring_mshot_echo: exiting, %u connections open, fixed=%d "
		"regring=%d bundle=%d bufs=%u x %u, recv_cqes=%llu "
		"recv_bufs=%llu enobufs=%llu sends=%llu sendmsgs=%llu "
		"short_sends=%llu\n",
		srv.live, srv.fixed, srv.regring, srv.bundle, srv.nbufs,
		srv.buf_size, srv.recv_cqes, srv.recv_bufs, srv.enobufs,
		srv.sends, srv.sendmsgs, srv.short_sends);
	return 0;
}
