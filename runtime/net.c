/*
 * Networking helpers on top of the operations: listeners, connect with a
 * timeout, multishot accept, send_all and provided buffer rings. Streams
 * are stream*.c's.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "io_internal.h"

/* ---- addresses and listeners ---- */

union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr_un un;
};

static int parse_inet(const char *host, int port, union sockaddr_any *a, socklen_t *len)
{
	if (port < 0 || port > 65535)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	if (!host)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &a->in4.sin_addr) == 1) {
		a->in4.sin_family = AF_INET;
		a->in4.sin_port = htons((uint16_t)port);
		*len = sizeof(a->in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a->in6.sin6_addr) == 1) {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons((uint16_t)port);
		*len = sizeof(a->in6);
		return 0;
	}
	return -EINVAL;
}

static int parse_unix(const char *path, union sockaddr_any *a, socklen_t *len)
{
	size_t n = path ? strlen(path) : 0;
	if (n == 0 || n >= sizeof(a->un.sun_path))
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	a->un.sun_family = AF_UNIX;
	memcpy(a->un.sun_path, path, n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

static int set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v)) < 0 ? -errno : 0;
}

static int bind_listen(int fd, const union sockaddr_any *a, socklen_t len, int backlog)
{
	RINGO_ASSERT(fd >= 0 && len > 0);
	if (bind(fd, &a->sa, len) < 0 || listen(fd, backlog > 0 ? backlog : 4096) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int ringo_tcp_listen(const char *host, int port, int backlog, unsigned flags)
{
	union sockaddr_any a;
	socklen_t len;
	int err = parse_inet(host, port, &a, &len);
	if (err < 0)
		return err;
	int fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (!err && (flags & RINGO_TCP_LISTEN_REUSEPORT))
		err = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
	if (!err && a.sa.sa_family == AF_INET6)
		err = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, (flags & RINGO_TCP_LISTEN_V6ONLY) ? 1 : 0);
	/* Accepted sockets inherit TCP_NODELAY from the listener on Linux. */
	if (!err)
		err = set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
	if (err) {
		close(fd);
		return err;
	}
	return bind_listen(fd, &a, len, backlog);
}

/* Is the socket file at a live (someone listens: -EADDRINUSE) or stale
 * (connect refused: 0)? A non-blocking connect never waits; a live server
 * sees one connection that closes at once. */
static int probe_unix(const union sockaddr_any *a, socklen_t len)
{
	RINGO_ASSERT(a->sa.sa_family == AF_UNIX); /* parse_unix made it */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int err = connect(fd, &a->sa, len) == 0 ? 0 : errno;
	close(fd);
	if (err == ECONNREFUSED)
		return 0;
	if (err == 0 || err == EAGAIN || err == EINPROGRESS)
		return -EADDRINUSE; /* accepted, or its backlog is full */
	return -err;
}

/* Make room at path for a new socket: nothing there, or a stale socket
 * (removed). Anything else stays: -EEXIST for a file that is not a
 * socket, -EADDRINUSE for a socket a server listens on. */
static int clear_unix_path(const char *path, const union sockaddr_any *a, socklen_t len)
{
	RINGO_ASSERT(path != NULL && a->sa.sa_family == AF_UNIX);
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	int err = probe_unix(a, len);
	if (err < 0)
		return err;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int ringo_unix_listen(const char *path, int backlog)
{
	union sockaddr_any a;
	socklen_t len;
	int err = parse_unix(path, &a, &len);
	if (err < 0)
		return err;
	err = clear_unix_path(path, &a, len);
	if (err < 0)
		return err;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Another process may have bound path since: bind says -EADDRINUSE. */
	return bind_listen(fd, &a, len, backlog);
}

int ringo_socket_port(int fd)
{
	union sockaddr_any a;
	socklen_t len = sizeof(a);
	if (getsockname(fd, &a.sa, &len) < 0)
		return -errno;
	if (a.sa.sa_family == AF_INET)
		return ntohs(a.in4.sin_port);
	if (a.sa.sa_family == AF_INET6)
		return ntohs(a.in6.sin6_port);
	return -EAFNOSUPPORT;
}

/* Connect a new socket to a; the fd or -errno (no fd left open). */
static int connect_to(const union sockaddr_any *a, socklen_t len, int64_t timeout_ns)
{
	RINGO_ASSERT(a->sa.sa_family != AF_UNSPEC && len > 0); /* parse_* filled it */
	int fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int err = 0;
	if (a->sa.sa_family != AF_UNIX)
		err = set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
	if (!err)
		err = ringo_io_timeout(timeout_ns);
	if (!err)
		err = ringo_connect(fd, &a->sa, len);
	if (err < 0) {
		close(fd); /* nothing in flight on it any more */
		return err;
	}
	return fd;
}

int ringo_tcp_connect(const char *host, int port, int64_t timeout_ns)
{
	union sockaddr_any a;
	socklen_t len;
	int err = parse_inet(host, port, &a, &len);
	if (err < 0)
		return err;
	return connect_to(&a, len, timeout_ns);
}

int ringo_unix_connect(const char *path, int64_t timeout_ns)
{
	union sockaddr_any a;
	socklen_t len;
	int err = parse_unix(path, &a, &len);
	if (err < 0)
		return err;
	return connect_to(&a, len, timeout_ns);
}

/* ---- multishot accept ---- */

/* Accepted fds queue here; past ACCEPT_HIGH the multishot is cancelled
 * until the consumer catches up. The kernel may post many more before the
 * cancel reaches it (a whole backlog in one batch), so the queue grows
 * rather than drop a connection. */
#define ACCEPT_INITIAL 64
#define ACCEPT_HIGH 1024

struct ringo__acceptor_impl {
	ringo_loop *loop;
	int lfd;
	/* On lfd's list in the fd index from init to close, so that
	 * ringo_close(lfd) stops the multishot (user_data: its tag while
	 * armed, else 0) and marks the acceptor closed for good. */
	struct ringo__fd_link link;
	bool stopping;        /* close requested: accept nothing more */
	bool cancel_sent;
	bool cancel_seen;     /* an accept came after the cancel was queued */
	int error;            /* an error to report once, 0 = none */
	/* The task in ringo_acceptor_next's wait, from its suspension until
	 * it runs again (also while woken and not yet run), so that destroy
	 * knows someone will still touch the impl. */
	ringo_task *waiter;
	bool woken;           /* waiter has been woken: never wake it twice */
	/* The task in ringo_acceptor_destroy, from its start; it frees the
	 * impl once the final CQE has come and the waiter has left, and is
	 * woken once, by whichever of the two happens last. */
	ringo_task *closer;
	bool closer_gone;     /* the loop abandoned the closer (closing) */
	unsigned head, count; /* queue of accepted fds: q[head..head+count) mod cap */
	unsigned cap;         /* a power of two */
	int *q;
	uint64_t dropped;     /* fds closed because the queue could not grow */
};

static void acc_cancel(struct ringo__acceptor_impl *a)
{
	RINGO_ASSERT(a->link.user_data != 0 || !a->cancel_sent); /* cancel_sent: armed */
	if (!a->link.user_data || a->cancel_sent)
		return;
	struct io_uring_sqe *sqe = ringo__sqe(a->loop);
	if (!sqe)
		return;
	a->cancel_sent = true;
	io_uring_prep_cancel64(sqe, a->link.user_data, 0);
	sqe->user_data = 0;
}

__attribute__((cold)) static bool acc_grow(struct ringo__acceptor_impl *a)
{
	RINGO_ASSERT(a->count == a->cap); /* only a full queue grows */
	unsigned cap = a->cap * 2;
	int *q = ringo__alloc(a->loop, cap * sizeof(int));
	if (!q)
		return false;
	for (unsigned i = 0; i < a->count; i++)
		q[i] = a->q[(a->head + i) & (a->cap - 1)];
	ringo__free(a->loop, a->q, a->cap * sizeof(int));
	a->q = q;
	a->cap = cap;
	a->head = 0;
	return true;
}

static void acc_push(struct ringo__acceptor_impl *a, int fd)
{
	RINGO_ASSERT(fd >= 0 && a->count <= a->cap);
	if (a->stopping || (a->count == a->cap && !acc_grow(a))) {
		close(fd);
		a->dropped++;
		return;
	}
	a->q[(a->head + a->count++) & (a->cap - 1)] = fd;
}

/* The waiter stays named until it runs (it clears a->waiter itself). */
static void acc_wake_waiter(struct ringo__acceptor_impl *a, int value)
{
	RINGO_ASSERT(a->waiter != NULL && !a->woken);
	a->woken = true;
	ringo__task_wake(a->waiter, value);
}

static void acc_cqe(ringo_loop *loop, void *ctx, int32_t res, uint32_t flags)
{
	struct ringo__acceptor_impl *a = ctx;
	RINGO_ASSERT(a->link.user_data != 0); /* the slot is open until the final CQE */
	if (res >= 0) {
		acc_push(a, res);
		/* The consumer lags: stop the flow, next() re-arms. */
		if (a->count >= ACCEPT_HIGH)
			acc_cancel(a);
	} else if (res != -ECANCELED && !a->stopping && !a->link.closed) {
		a->error = res;
	}
	if (flags & IORING_CQE_F_MORE) {
		if (ringo__mshot_cancel_lost(&a->cancel_sent, a->cancel_seen))
			acc_cancel(a);
		a->cancel_seen = a->cancel_sent;
	} else {
		ringo__op_close(loop, a->link.user_data);
		a->link.user_data = 0;
		a->cancel_sent = false;
		a->cancel_seen = false;
		if (a->closer && !a->waiter)
			ringo__task_wake(a->closer, 0);
	}
	if (a->waiter && !a->woken && (a->count || a->error || !a->link.user_data))
		acc_wake_waiter(a, 0);
}

static int acc_arm(struct ringo__acceptor_impl *a)
{
	RINGO_ASSERT(a->link.user_data == 0 && !a->cancel_sent); /* not armed */
	RINGO_ASSERT(!a->link.closed); /* lfd may name another file by now */
	struct io_uring_sqe *sqe = ringo__sqe(a->loop);
	if (!sqe)
		return -ESHUTDOWN;
	int err = ringo__op_open(a->loop, acc_cqe, a, &a->link.user_data);
	if (err < 0) {
		io_uring_prep_nop(sqe);
		sqe->user_data = 0;
		return err;
	}
	io_uring_prep_multishot_accept(sqe, a->lfd, NULL, NULL, SOCK_CLOEXEC);
	sqe->user_data = a->link.user_data;
	return 0;
}

int ringo_acceptor_init(ringo_acceptor *acc, int listen_fd)
{
	if (!acc || listen_fd < 0)
		return -EINVAL;
	acc->impl = NULL;
	ringo_loop *loop = ringo__current_loop;
	if (!loop || !ringo_task_current())
		return -EPERM;
	struct ringo__io_state *io = ringo__io_state(loop);
	if (!io)
		return -ENOMEM;
	if (!io->supported[IORING_OP_ACCEPT] || !io->multishot_accept)
		return -EOPNOTSUPP;
	struct ringo__acceptor_impl *a = ringo__alloc(loop, sizeof(*a));
	if (!a)
		return -ENOMEM;
	memset(a, 0, sizeof(*a));
	a->loop = loop;
	a->lfd = listen_fd;
	a->cap = ACCEPT_INITIAL;
	a->q = ringo__alloc(loop, a->cap * sizeof(int));
	ringo__list_init(&a->link.node);
	int err = a->q ? ringo__fd_link_add(io, listen_fd, &a->link) : -ENOMEM;
	if (!err)
		err = acc_arm(a);
	if (err < 0) {
		ringo__fd_link_del(&a->link);
		ringo__free(loop, a->q, a->cap * sizeof(int));
		ringo__free(loop, a, sizeof(*a));
		return err;
	}
	acc->impl = a;
	return 0;
}

static void acc_wait_interrupt(ringo_task *t)
{
	struct ringo__acceptor_impl *a = ringo__task_wait_ctx(t);
	RINGO_ASSERT(a->waiter == t); /* suspended, so not woken yet */
	acc_wake_waiter(a, -ECANCELED);
}

static void acc_free(struct ringo__acceptor_impl *a);

/* The last of waiter and closer to be abandoned frees the impl, and
 * only once the kernel is done with it: a multishot still in flight
 * when the drain gave up keeps its op slot naming the impl, so it stays. */
static void acc_abandon_free(struct ringo__acceptor_impl *a)
{
	if (a->closer_gone && !a->waiter && !a->link.user_data)
		acc_free(a);
}

static void acc_wait_abandon(ringo_task *t)
{
	struct ringo__acceptor_impl *a = ringo__task_wait_ctx(t);
	RINGO_ASSERT(a->waiter == t);
	a->waiter = NULL;
	a->woken = false;
	acc_abandon_free(a);
}

static const struct ringo__wait_ops acc_wait_ops = {
	.what = "accept", .interrupt = acc_wait_interrupt, .abandon = acc_wait_abandon};

/* destroy began while we waited: it frees the impl once we are gone and
 * the final CQE has come, so wake it if that was all it waited for, and
 * touch nothing after. */
static int acc_leave_to_closer(struct ringo__acceptor_impl *a)
{
	RINGO_ASSERT(a->stopping && a->waiter == NULL);
	if (!a->link.user_data)
		ringo__task_wake(a->closer, 0);
	return -ECANCELED;
}

int ringo_acceptor_next(ringo_acceptor *acc)
{
	struct ringo__acceptor_impl *a = acc ? acc->impl : NULL;
	if (!a || a->stopping)
		return -EINVAL;
	RINGO_ASSERT(a->cap > 0 && a->count <= a->cap);
	for (;;) {
		if (a->count) {
			int fd = a->q[a->head];
			a->head = (a->head + 1) & (a->cap - 1);
			a->count--;
			return fd;
		}
		if (a->error) {
			int err = a->error;
			a->error = 0;
			return err;
		}
		/* ringo_close(lfd): the number may name another file by now,
		 * so never arm on it again. */
		if (a->link.closed && !a->link.user_data)
			return -EBADF;
		if (!a->link.user_data && a->count < ACCEPT_HIGH) {
			int err = acc_arm(a);
			if (err < 0)
				return err;
		}
		if (a->waiter)
			return -EBUSY; /* one consumer per acceptor */
		a->waiter = ringo_task_current();
		int rc = ringo__task_suspend(&acc_wait_ops, a);
		a->waiter = NULL;
		a->woken = false;
		if (a->closer)
			return acc_leave_to_closer(a);
		if (rc < 0)
			return rc;
	}
}

/* Waiting for the multishot's final CQE: a cancel must not cut it short
 * (the op slot points at the impl about to be freed). */
static void acc_close_interrupt(ringo_task *t)
{
}

/* READY: the final CQE came and the waiter left, the impl is ours to
 * free as destroy would. SUSPENDED: the waiter (abandoned too) frees it
 * if it is abandoned last; if the drain gave up on the multishot, its
 * op slot still names the impl: it stays. */
static void acc_close_abandon(ringo_task *t)
{
	struct ringo__acceptor_impl *a = ringo__task_wait_ctx(t);
	RINGO_ASSERT(a->closer == t && !a->closer_gone);
	a->closer_gone = true;
	acc_abandon_free(a);
}

static const struct ringo__wait_ops acc_close_ops = {
	.what = "accept-close", .interrupt = acc_close_interrupt, .keep_result = true,
	.abandon = acc_close_abandon};

static void acc_free(struct ringo__acceptor_impl *a)
{
	/* Out of the kernel (the final CQE came) and nobody waits. */
	RINGO_ASSERT(a->link.user_data == 0 && a->waiter == NULL);
	ringo__fd_link_del(&a->link);
	while (a->count) {
		close(a->q[a->head]);
		a->head = (a->head + 1) & (a->cap - 1);
		a->count--;
	}
	ringo__free(a->loop, a->q, a->cap * sizeof(int));
	ringo__free(a->loop, a, sizeof(*a));
}

int ringo_acceptor_destroy(ringo_acceptor *acc)
{
	struct ringo__acceptor_impl *a = acc ? acc->impl : NULL;
	if (!a)
		return 0;
	ringo_task *self = ringo_task_current();
	if (!self)
		return -EPERM;
	if (a->closer)
		return -EBUSY; /* another task is destroying it */
	a->stopping = true;
	a->closer = self;
	RINGO_ASSERT(a->count <= a->cap);
	/* A waiter already woken finds closer set when it runs. */
	if (a->waiter && !a->woken)
		acc_wake_waiter(a, -ECANCELED);
	if (a->link.user_data)
		acc_cancel(a);
	if (a->link.user_data || a->waiter) {
		bool was_pending = ringo__task_cancel_pending(self);
		ringo__task_clear_cancel(self); /* suspend must really wait */
		ringo__task_suspend(&acc_close_ops, a);
		/* Put back, not requested again: cancelling() stays as it was. */
		if (was_pending)
			ringo__task_defer_cancel(self);
	}
	acc_free(a);
	acc->impl = NULL;
	return 0;
}

/* ---- sending everything ---- */

/* Send buf[0, len) with as many sends as it takes. 0, or the error that
 * stopped it; *sent counts the bytes that went out either way. */
static int send_counted(int fd, const char *buf, size_t len, size_t *sent)
{
	*sent = 0;
	while (*sent < len) {
		int n = ringo_send(fd, buf + *sent, len - *sent, 0);
		if (n < 0)
			return n;
		if (n == 0)
			return -EIO; /* a stream socket never sends nothing */
		*sent += (size_t)n;
	}
	return 0;
}

int ringo_send_all(int fd, const void *buf, size_t len)
{
	if (len > INT_MAX)
		return -EINVAL;
	size_t sent;
	int err = send_counted(fd, buf, len, &sent);
	if (err == 0 || sent == 0)
		return err == 0 ? (int)len : err;
	/* Stopped part-way: the count is what the caller must know (write(2)
	 * after a signal does the same). The cancellation the last send
	 * consumed is put back, for the task's next suspension. */
	ringo_task *self = ringo_task_current();
	if (err == -ECANCELED && self && ringo_task_cancelling(self) > 0)
		ringo__task_defer_cancel(self);
	return (int)sent;
}

/* ---- provided buffer rings ---- */

int ringo_bufring_new(ringo_loop *loop, unsigned nbufs, size_t bufsize, unsigned group,
		      ringo_bufring **out)
{
	if (!loop || !out || nbufs == 0 || nbufs > 32768 || (nbufs & (nbufs - 1)) ||
	    bufsize == 0 || bufsize > (1u << 30) || group > 65535)
		return -EINVAL;
	*out = NULL;
	if (!loop->ring_ready)
		return -ESHUTDOWN;
	ringo_bufring *b = ringo__alloc(loop, sizeof(*b));
	if (!b)
		return -ENOMEM;
	memset(b, 0, sizeof(*b));
	b->loop = loop;
	b->nbufs = nbufs;
	b->bufsize = bufsize;
	b->group = group;
	b->ring_bytes = nbufs * sizeof(struct io_uring_buf);
	b->mem_bytes = nbufs * bufsize;
	void *r = mmap(NULL, b->ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *m = mmap(NULL, b->mem_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b->slot_bid = ringo__alloc(loop, 2 * nbufs * sizeof(uint16_t));
	b->bid_slot = b->slot_bid ? b->slot_bid + nbufs : NULL;
	int err = 0;
	if (r == MAP_FAILED || m == MAP_FAILED || !b->slot_bid) {
		err = -ENOMEM;
	} else {
		struct io_uring_buf_reg reg;
		memset(&reg, 0, sizeof(reg));
		reg.ring_addr = (uint64_t)(uintptr_t)r;
		reg.ring_entries = nbufs;
		reg.bgid = (uint16_t)group;
		err = io_uring_register_buf_ring(&loop->ring, &reg, 0);
	}
	if (err < 0) {
		if (r != MAP_FAILED)
			munmap(r, b->ring_bytes);
		if (m != MAP_FAILED)
			munmap(m, b->mem_bytes);
		if (b->slot_bid)
			ringo__free(loop, b->slot_bid, 2 * nbufs * sizeof(uint16_t));
		ringo__free(loop, b, sizeof(*b));
		return err == -EINVAL ? -EOPNOTSUPP : err;
	}
	b->br = r;
	b->mem = m;
	io_uring_buf_ring_init(b->br);
	for (unsigned i = 0; i < nbufs; i++) {
		io_uring_buf_ring_add(b->br, b->mem + i * bufsize, (unsigned)bufsize, (unsigned short)i,
				      (int)nbufs - 1, (int)i);
		b->slot_bid[i] = (uint16_t)i;
		b->bid_slot[i] = (uint16_t)i;
	}
	io_uring_buf_ring_advance(b->br, (int)nbufs);
	*out = b;
	return 0;
}

void ringo_bufring_free(ringo_bufring *b)
{
	RINGO_ASSERT(b == NULL || (b->br != NULL && b->nbufs > 0));
	if (!b)
		return;
	if (b->loop->ring_ready)
		io_uring_unregister_buf_ring(&b->loop->ring, (int)b->group);
	munmap(b->br, b->ring_bytes);
	munmap(b->mem, b->mem_bytes);
	ringo__free(b->loop, b->slot_bid, 2 * b->nbufs * sizeof(uint16_t));
	ringo__free(b->loop, b, sizeof(*b));
}

int ringo_bufring_put(ringo_bufring *b, unsigned bid)
{
	if (!b || bid >= b->nbufs)
		return -EINVAL;
	RINGO_ASSERT(b->br != NULL && b->slot_bid != NULL); /* made by ringo_bufring_new */
	/* The slot written is the tail's. It is never one of a bundle's
	 * slots not yet read: every buffer taken after the bundle's first
	 * slot that is still out keeps the tail that far behind. */
	unsigned slot = b->br->tail & (b->nbufs - 1);
	io_uring_buf_ring_add(b->br, b->mem + bid * b->bufsize, (unsigned)b->bufsize,
			      (unsigned short)bid, (int)b->nbufs - 1, 0);
	b->slot_bid[slot] = (uint16_t)bid;
	b->bid_slot[bid] = (uint16_t)slot;
	io_uring_buf_ring_advance(b->br, 1);
	return 0;
}

int ringo_recv_buf(int fd, ringo_bufring *b, void **data, unsigned *bid)
{
	if (!b || !data || !bid)
		return -EINVAL;
	struct ringo__io_op op;
	int err;
	struct io_uring_sqe *sqe = ringo__io_prepare(&op, IORING_OP_RECV, &err);
	if (!sqe)
		return err;
	io_uring_prep_recv(sqe, fd, NULL, b->bufsize, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = (uint16_t)b->group;
	int res = ringo__io_wait(&op, sqe);
	*data = NULL;
	if (op.cqe_flags & IORING_CQE_F_BUFFER) {
		*bid = op.cqe_flags >> IORING_CQE_BUFFER_SHIFT;
		RINGO_ASSERT(*bid < b->nbufs); /* the kernel picks from b's group */
		*data = b->mem + (size_t)*bid * b->bufsize;
		if (res > 0)
			ringo__io_defined(*data, (size_t)res);
		if (res <= 0) { /* a buffer picked but nothing useful in it */
			ringo_bufring_put(b, *bid);
			*data = NULL;
		}
	}
	return res;
}
