/*
 * Sweep scenarios: the I/O operations of include/ringo/io.h.
 *
 * Reads: a peer feeds a pattern into a pipe or socket in chunks; the bytes
 * the call returned plus those still readable afterwards must be exactly
 * what the peer wrote, in order. Writes: the pipe or socket starts full
 * and a peer drains it slowly; what the reader got must be exactly what
 * was there before plus what the call says it wrote. Buffers are poisoned
 * after return: a late kernel read sends canary bytes (the reader sees a
 * broken pattern), a late kernel write breaks the canary.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <liburing.h>
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

#include "sweep.h"

#define SEED 7

/* ---- byte streams into and out of an fd pair ---- */

struct feed {
	int fd;
	int chunks, every;
	size_t chunk;
	uint64_t sent;
};

/* Write `chunks` chunks of the pattern into fd, `every` iterations apart. */
static int feed_main(void *arg, void **result)
{
	struct feed *f = arg;
	for (int i = 0; i < f->chunks; i++) {
		sweep_yield(f->every);
		char buf[512];
		sweep_pattern(buf, f->chunk, f->sent, SEED);
		ssize_t n = write(f->fd, buf, f->chunk);
		if (n > 0)
			f->sent += (uint64_t)n;
	}
	return 0;
}

struct sink {
	int fd;
	int reads, every;
	uint64_t at; /* bytes received (and checked) so far */
	bool broken;
};

/* Take up to 4 KiB `reads` times, `every` iterations apart. */
static int sink_main(void *arg, void **result)
{
	struct sink *k = arg;
	for (int i = 0; i < k->reads; i++) {
		sweep_yield(k->every);
		char buf[4096];
		ssize_t n = recv(k->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == ENOTSOCK) {
			int fl = fcntl(k->fd, F_GETFL);
			fcntl(k->fd, F_SETFL, fl | O_NONBLOCK);
			n = read(k->fd, buf, sizeof(buf));
			fcntl(k->fd, F_SETFL, fl);
		}
		if (n <= 0)
			continue;
		if (!sweep_pattern_ok(buf, (size_t)n, k->at, SEED))
			k->broken = true;
		k->at += (uint64_t)n;
	}
	return 0;
}

/* Fill fd (the write end) until it would block; returns bytes written. */
static uint64_t fill_up(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	uint64_t total = 0;
	char buf[1024];
	for (;;) {
		sweep_pattern(buf, sizeof(buf), total, SEED);
		ssize_t n = write(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		total += (uint64_t)n;
	}
	fcntl(fd, F_SETFL, fl);
	return total;
}

struct pair_st {
	int fd[2];       /* [0] the victim's end, [1] the peer's */
	bool is_pipe;
	struct feed feed;
	struct sink sink;
	uint64_t prefill;
	int got;         /* read: bytes the call returned */
	bool got_ok;     /* ... and they continue the pattern */
	int tmpfd;       /* file scenarios */
	char path[64];
	bool path_made;
};

/* A pipe (victim reads from fd[0]) or a socket pair. */
static int make_pair(struct sweep_ctx *c, bool pipe_, bool victim_reads)
{
	struct pair_st *st = sweep_priv(c);
	int p[2];
	st->is_pipe = pipe_;
	if (pipe_) {
		if (pipe2(p, O_CLOEXEC) < 0)
			return -errno;
		fcntl(p[0], F_SETPIPE_SZ, 4096);
		st->fd[0] = victim_reads ? p[0] : p[1];
		st->fd[1] = victim_reads ? p[1] : p[0];
	} else {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
			return -errno;
		int small = 4096;
		setsockopt(p[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		st->fd[0] = p[0];
		st->fd[1] = p[1];
	}
	return 0;
}

static int reader_setup(struct sweep_ctx *c, bool pipe_)
{
	struct pair_st *st = sweep_priv(c);
	int err = make_pair(c, pipe_, true);
	if (err < 0)
		return err;
	st->feed = (struct feed){.fd = st->fd[1], .chunks = 4, .every = 2, .chunk = 20};
	sweep_spawn_peer(c, feed_main, &st->feed);
	return 0;
}

static int pipe_reader_setup(struct sweep_ctx *c)
{
	return reader_setup(c, true);
}

static int socket_reader_setup(struct sweep_ctx *c)
{
	return reader_setup(c, false);
}

/* What a read returned: remember it, checked against the pattern. */
static void got_bytes(struct pair_st *st, const void *buf, int rc)
{
	st->got = rc;
	st->got_ok = rc <= 0 || sweep_pattern_ok(buf, (size_t)rc, 0, SEED);
}

/* Every byte fed is either returned by the call or still readable. */
static void reader_check(struct sweep_ctx *c, bool may_time_out)
{
	struct pair_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	uint64_t at = 0;
	if (sweep_called(c)) {
		SWEEP_CHECK(c, rc > 0 || rc == -ECANCELED || (may_time_out && rc == -ETIMEDOUT),
			    "rc %d", rc);
		SWEEP_CHECK(c, st->got_ok, "the bytes read do not continue the stream");
		if (rc > 0)
			at = (uint64_t)rc;
	}
	long left = sweep_drain(st->fd[0], &at, SEED);
	SWEEP_CHECK(c, left >= 0, "the bytes left unread do not continue the stream");
	SWEEP_CHECK(c, at == st->feed.sent, "fed %llu, read %d, left %ld: bytes lost",
		    (unsigned long long)st->feed.sent, rc, left);
}

static void plain_reader_check(struct sweep_ctx *c)
{
	reader_check(c, false);
}

static void pair_cleanup(struct sweep_ctx *c)
{
	struct pair_st *st = sweep_priv(c);
	for (int i = 0; i < 2; i++)
		if (st->fd[i] > 0)
			close(st->fd[i]);
	if (st->tmpfd > 0)
		close(st->tmpfd);
	if (st->path_made)
		unlink(st->path);
}

static int writer_setup(struct sweep_ctx *c, bool pipe_)
{
	struct pair_st *st = sweep_priv(c);
	int err = make_pair(c, pipe_, false);
	if (err < 0)
		return err;
	st->prefill = fill_up(st->fd[0]);
	st->sink = (struct sink){.fd = st->fd[1], .reads = 5, .every = 3};
	sweep_spawn_peer(c, sink_main, &st->sink);
	return 0;
}

static int pipe_writer_setup(struct sweep_ctx *c)
{
	return writer_setup(c, true);
}

static int socket_writer_setup(struct sweep_ctx *c)
{
	return writer_setup(c, false);
}

/* What the reader got is the prefill plus what the call says it wrote. */
static void writer_check(struct sweep_ctx *c, int len)
{
	struct pair_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	uint64_t wrote = 0;
	if (sweep_called(c)) {
		SWEEP_CHECK(c, (rc > 0 && rc <= len) || rc == -ECANCELED, "rc %d", rc);
		if (rc > 0)
			wrote = (uint64_t)rc;
	}
	SWEEP_CHECK(c, !st->sink.broken, "the reader saw bytes out of order or canary bytes");
	uint64_t at = st->sink.at;
	long left = sweep_drain(st->fd[1], &at, SEED);
	SWEEP_CHECK(c, left >= 0, "the reader saw bytes out of order or canary bytes");
	SWEEP_CHECK(c, at == st->prefill + wrote, "reader got %llu, prefill %llu + written %d",
		    (unsigned long long)at, (unsigned long long)st->prefill, rc);
}

#define WLEN 6000

static void write_check(struct sweep_ctx *c)
{
	writer_check(c, WLEN);
}

/* ---- the operations ---- */

static int read_victim(struct sweep_ctx *c)
{
	struct pair_st *st = sweep_priv(c);
	char buf[48];
	int rc = ringo_read(st->fd[0], buf, sizeof(buf), -1);
	got_bytes(st, buf, rc);
	return sweep_returned(c, rc, SWEEP_MEM(buf, sizeof(buf)));
}

static int readv_victim(struct sweep_ctx *c)
{
	struct pair_st *st = sweep_priv(c);
	char a[16], b[32], all[48];
	struct iovec iov[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
	int rc = ringo_readv(st->fd[0], iov, 2, -1);
	memcpy(all, a, sizeof(a));
	memcpy(all + sizeof(a), b, sizeof(b));
	got_bytes(st, all, rc);
	return sweep_returned(c, rc, SWEEP_MEM(a, sizeof(a)), SWEEP_MEM(b, sizeof(b)),
			      SWEEP_MEM(iov, sizeof(iov)));
}

static int recv_victim(struct sweep_ctx *c)
{
	struct pair_st *st = sweep_priv(c);
	char buf[48];
	int rc = ringo_recv(st->fd[0], buf, sizeof(buf), 0);
	got_bytes(st, buf, rc);
	return sweep_returned(c, rc, SWEEP_MEM(buf, sizeof(buf)));
}

static int recvmsg_victim(struct sweep_ctx *c)
{
	struct pair_st *st = sweep_priv(c);
	char buf[48];
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr msg;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	int rc = ringo_recvmsg(st->fd[0], &msg, 0);
	got_bytes(st, buf, rc);
	return sweep_returned(c, rc, SWEEP_MEM(buf, sizeof(buf)), SWEEP_MEM(&iov, sizeof(iov)),
			      SWEEP_MEM(&msg, sizeof(msg)));
}

/* Under a timeout scope: bytes, -ETIMEDOUT or -ECANCELED, nothing lost. */
static int recv_deadline_victim(struct sweep_ctx *c)
{
	struct pair_st *st = sweep_priv(c);
	char buf[48];
	ringo_timeout to;
	int rc = ringo_timeout_enter(&to, RINGO_USEC(300));
	if (rc == 0)
		rc = ringo_timeout_exit(&to, ringo_recv(st->fd[0], buf, sizeof(buf), 0));
	got_bytes(st, buf, rc);
	return sweep_returned(c, rc, SWEEP_MEM(buf, sizeof(buf)));
}

static void deadline_reader_check(struct sweep_ctx *c)
{
	reader_check(c, true);
}

struct recv_ctx {
	int fd;
	void *buf;
	size_t len;
};

static void prep_recv(struct io_uring_sqe *sqe, void *arg)
{
	struct recv_ctx *r = arg;
	io_uring_prep_recv(sqe, r->fd, r->buf, r->len, 0);
}

static int io_submit_victim(struct sweep_ctx *c)
{
	struct pair_st *st = sweep_priv(c);
	char buf[48];
	struct recv_ctx r = {st->fd[0], buf, sizeof(buf)};
	uint32_t flags = 0;
	int rc = ringo_io_submit(prep_recv, &r, &flags);
	if (rc > 0) /* the escape hatch leaves that to the caller (io.h) */
		VALGRIND_MAKE_MEM_DEFINED(buf, (size_t)rc);
	got_bytes(st, buf, rc);
	return sweep_returned(c, rc, SWEEP_MEM(buf, sizeof(buf)), SWEEP_MEM(&flags, sizeof(flags)));
}

/* Wait for POLLIN: nothing is consumed either way. */
static int poll_victim(struct sweep_ctx *c)
{
	struct pair_st *st = sweep_priv(c);
	int rc = ringo_poll(st->fd[0], POLLIN);
	st->got = 0;
	st->got_ok = rc < 0 || (rc & POLLIN);
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

static void poll_check(struct sweep_ctx *c)
{
	struct pair_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, (rc > 0 && st->got_ok) || rc == -ECANCELED, "rc %d", rc);
	uint64_t at = 0;
	long left = sweep_drain(st->fd[0], &at, SEED);
	SWEEP_CHECK(c, left >= 0 && at == st->feed.sent, "poll consumed bytes: fed %llu, left %ld",
		    (unsigned long long)st->feed.sent, left);
}

static int write_victim(struct sweep_ctx *c)
{
	struct pair_st *st = sweep_priv(c);
	char buf[WLEN];
	sweep_pattern(buf, sizeof(buf), st->prefill, SEED);
	int rc = ringo_write(st->fd[0], buf, sizeof(buf), -1);
	return sweep_returned(c, rc, SWEEP_MEM(buf, sizeof(buf)));
}

static int writev_victim(struct sweep_ctx *c)
{
	struct pair_st *st = sweep_priv(c);
	char a[1000], b[WLEN - 1000];
	sweep_pattern(a, sizeof(a), st->prefill, SEED);
	sweep_pattern(b, sizeof(b), st->prefill + sizeof(a), SEED);
	struct iovec iov[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
	int rc = ringo_writev(st->fd[0], iov, 2, -1);
	return sweep_returned(c, rc, SWEEP_MEM(a, sizeof(a)), SWEEP_MEM(b, sizeof(b)),
			      SWEEP_MEM(iov, sizeof(iov)));
}

static int send_victim(struct sweep_ctx *c)
{
	struct pair_st *st = sweep_priv(c);
	char buf[WLEN];
	sweep_pattern(buf, sizeof(buf), st->prefill, SEED);
	int rc = ringo_send(st->fd[0], buf, sizeof(buf), 0);
	return sweep_returned(c, rc, SWEEP_MEM(buf, sizeof(buf)));
}

static int sendmsg_victim(struct sweep_ctx *c)
{
	struct pair_st *st = sweep_priv(c);
	char buf[WLEN];
	sweep_pattern(buf, sizeof(buf), st->prefill, SEED);
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr msg;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	int rc = ringo_sendmsg(st->fd[0], &msg, 0);
	return sweep_returned(c, rc, SWEEP_MEM(buf, sizeof(buf)), SWEEP_MEM(&iov, sizeof(iov)),
			      SWEEP_MEM(&msg, sizeof(msg)));
}

/* ---- splice: pipe to pipe ---- */

struct splice_st {
	struct pair_st in;   /* must stay first: the reader helpers use it */
	int out[2];
};

static int splice_setup(struct sweep_ctx *c)
{
	struct splice_st *st = sweep_priv(c);
	int err = reader_setup(c, true);
	if (err < 0)
		return err;
	if (pipe2(st->out, O_CLOEXEC) < 0)
		return -errno;
	return 0;
}

static int splice_victim(struct sweep_ctx *c)
{
	struct splice_st *st = sweep_priv(c);
	int rc = ringo_splice(st->in.fd[0], -1, st->out[1], -1, 4096, 0);
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

static void splice_check(struct sweep_ctx *c)
{
	struct splice_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	uint64_t moved = 0, at = 0;
	if (sweep_called(c)) {
		SWEEP_CHECK(c, rc > 0 || rc == -ECANCELED, "rc %d", rc);
		if (rc > 0)
			moved = (uint64_t)rc;
	}
	long out = sweep_drain(st->out[0], &at, SEED);
	SWEEP_CHECK(c, out >= 0 && (uint64_t)out == moved, "spliced %d, found %ld in the output",
		    rc, out);
	long left = sweep_drain(st->in.fd[0], &at, SEED);
	SWEEP_CHECK(c, left >= 0 && at == st->in.feed.sent, "fed %llu, moved %d, left %ld",
		    (unsigned long long)st->in.feed.sent, rc, left);
}

static void splice_cleanup(struct sweep_ctx *c)
{
	struct splice_st *st = sweep_priv(c);
	close(st->out[0]);
	close(st->out[1]);
	pair_cleanup(c);
}

/* ---- accept and connect on a TCP listener ---- */

#define NCLIENTS 2

struct listen_st {
	int lfd;
	struct sockaddr_in addr;
	int client[NCLIENTS];
	int nclients;
};

static int listener(struct listen_st *st)
{
	st->lfd = ringo_tcp_listen("127.0.0.1", 0, 16, 0);
	if (st->lfd < 0)
		return st->lfd;
	memset(&st->addr, 0, sizeof(st->addr));
	st->addr.sin_family = AF_INET;
	st->addr.sin_port = htons((uint16_t)ringo_socket_port(st->lfd));
	st->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return 0;
}

/* Clients connect (non-blocking) a few iterations apart. */
static int clients_main(void *arg, void **result)
{
	struct listen_st *st = arg;
	for (int i = 0; i < NCLIENTS; i++) {
		sweep_yield(2);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		connect(fd, (struct sockaddr *)&st->addr, sizeof(st->addr));
		st->client[st->nclients++] = fd;
	}
	return 0;
}

static int accept_setup(struct sweep_ctx *c)
{
	struct listen_st *st = sweep_priv(c);
	int err = listener(st);
	if (err < 0)
		return err;
	sweep_spawn_peer(c, clients_main, st);
	return 0;
}

/* An accepted connection is marked: the client reads 'A'. */
static int accept_victim(struct sweep_ctx *c)
{
	struct listen_st *st = sweep_priv(c);
	struct sockaddr_in addr;
	socklen_t alen = sizeof(addr);
	int rc = ringo_accept(st->lfd, (struct sockaddr *)&addr, &alen, 0);
	if (rc >= 0) {
		if (write(rc, "A", 1) != 1)
			sweep_fail(c, "marking the accepted connection failed");
		close(rc);
	}
	return sweep_returned(c, rc, SWEEP_MEM(&addr, sizeof(addr)), SWEEP_MEM(&alen, sizeof(alen)));
}

/* Connections accepted = connections marked: none lost or taken twice.
 * A mark written before the victim returned may still be crossing
 * loopback: wait (a little) only for as many as expected. */
static int count_marked(struct listen_st *st, int expected)
{
	int marked = 0;
	bool seen[NCLIENTS] = {false};
	for (int tries = 0; tries < 100; tries++) {
		for (int i = 0; i < st->nclients; i++) {
			char ch;
			if (!seen[i] && recv(st->client[i], &ch, 1, MSG_DONTWAIT) == 1 && ch == 'A') {
				seen[i] = true;
				marked++;
			}
		}
		if (marked >= expected)
			break;
		usleep(1000);
	}
	return marked;
}

static void accept_check(struct sweep_ctx *c)
{
	struct listen_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, rc >= 0 || rc == -ECANCELED, "rc %d", rc);
	int taken = sweep_called(c) && rc >= 0;
	int marked = count_marked(st, taken);
	SWEEP_CHECK(c, marked == taken, "%d connections marked, the call took %d", marked, taken);
}

static void listen_cleanup(struct sweep_ctx *c)
{
	struct listen_st *st = sweep_priv(c);
	int fd;
	fcntl(st->lfd, F_SETFL, fcntl(st->lfd, F_GETFL) | O_NONBLOCK);
	while ((fd = accept4(st->lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(fd);
	for (int i = 0; i < st->nclients; i++)
		close(st->client[i]);
	close(st->lfd);
}

static int connect_setup(struct sweep_ctx *c)
{
	return listener(sweep_priv(c));
}

static int connect_victim(struct sweep_ctx *c)
{
	struct listen_st *st = sweep_priv(c);
	struct sockaddr_in addr = st->addr;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = ringo_connect(fd, (struct sockaddr *)&addr, sizeof(addr));
	close(fd);
	return sweep_returned(c, rc, SWEEP_MEM(&addr, sizeof(addr)));
}

static void connect_check(struct sweep_ctx *c)
{
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
}

/* ---- close, shutdown ---- */

struct fd_st {
	int fd, other;
	bool open_after;
};

static int close_setup(struct sweep_ctx *c)
{
	struct fd_st *st = sweep_priv(c);
	st->fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	st->other = -1;
	return st->fd < 0 ? -errno : 0;
}

static int close_victim(struct sweep_ctx *c)
{
	struct fd_st *st = sweep_priv(c);
	int rc = ringo_close(st->fd);
	st->open_after = fcntl(st->fd, F_GETFD) >= 0;
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

/* Closed exactly when the call says so. */
static void close_check(struct sweep_ctx *c)
{
	struct fd_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	bool closed = sweep_called(c) && rc == 0;
	if (sweep_called(c)) {
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
		SWEEP_CHECK(c, st->open_after == !closed, "rc %d but the fd is %s", rc,
			    st->open_after ? "open" : "closed");
	}
	if (!closed) {
		close(st->fd);
	}
}

static int shutdown_setup(struct sweep_ctx *c)
{
	struct fd_st *st = sweep_priv(c);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	st->fd = sv[0];
	st->other = sv[1];
	return 0;
}

static int shutdown_victim(struct sweep_ctx *c)
{
	struct fd_st *st = sweep_priv(c);
	int rc = ringo_shutdown(st->fd, SHUT_WR);
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

/* The peer sees EOF exactly when the call says it shut down. */
static void shutdown_check(struct sweep_ctx *c)
{
	struct fd_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	bool done = sweep_called(c) && rc == 0;
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
	char ch;
	ssize_t n = recv(st->other, &ch, 1, MSG_DONTWAIT);
	SWEEP_CHECK(c, done ? n == 0 : (n < 0 && errno == EAGAIN), "rc %d, the peer read %zd", rc, n);
}

static void fd_cleanup(struct sweep_ctx *c)
{
	struct fd_st *st = sweep_priv(c);
	if (st->other >= 0) {
		close(st->fd);
		close(st->other);
	}
}

/* ---- files: openat, statx, fsync, fallocate ---- */

/* On tmpfs where there is one: fsync there costs no disk flush. */
static void tmp_path(struct pair_st *st, const char *what)
{
	const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(st->path, sizeof(st->path), "%s/ringo-sweep-%d-%s", dir, (int)getpid(), what);
	unlink(st->path);
	st->path_made = true;
}

static int openat_setup(struct sweep_ctx *c)
{
	tmp_path(sweep_priv(c), "open");
	return 0;
}

static int openat_victim(struct sweep_ctx *c)
{
	struct pair_st *st = sweep_priv(c);
	char path[64];
	memcpy(path, st->path, sizeof(path));
	int rc = ringo_openat(AT_FDCWD, path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (rc >= 0)
		close(rc);
	return sweep_returned(c, rc, SWEEP_MEM(path, sizeof(path)));
}

/* The file exists exactly when the call says it opened (created) it. */
static void openat_check(struct sweep_ctx *c)
{
	struct pair_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	bool made = access(st->path, F_OK) == 0;
	if (sweep_called(c)) {
		SWEEP_CHECK(c, rc >= 0 || rc == -ECANCELED, "rc %d", rc);
		SWEEP_CHECK(c, made == (rc >= 0), "rc %d but the file %s", rc,
			    made ? "exists" : "does not exist");
	}
}

#define FILE_SIZE 1234

static int file_setup(struct sweep_ctx *c, const char *what, bool filled)
{
	struct pair_st *st = sweep_priv(c);
	tmp_path(st, what);
	st->tmpfd = open(st->path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	if (st->tmpfd < 0)
		return -errno;
	char buf[FILE_SIZE];
	memset(buf, 'f', sizeof(buf));
	if (filled && write(st->tmpfd, buf, sizeof(buf)) != FILE_SIZE)
		return -EIO;
	return 0;
}

static int statx_setup(struct sweep_ctx *c)
{
	return file_setup(c, "statx", true);
}

static int statx_victim(struct sweep_ctx *c)
{
	struct pair_st *st = sweep_priv(c);
	struct statx stx;
	memset(&stx, 0x5a, sizeof(stx));
	int rc = ringo_statx(AT_FDCWD, st->path, 0, STATX_SIZE, &stx);
	st->got = rc == 0 ? (int)stx.stx_size : -1;
	const unsigned char *p = (const unsigned char *)&stx;
	st->got_ok = true;
	for (size_t i = 0; i < sizeof(stx); i++)
		st->got_ok &= p[i] == 0x5a; /* untouched */
	return sweep_returned(c, rc, SWEEP_MEM(&stx, sizeof(stx)));
}

/* Filled in exactly when it succeeded. */
static void statx_check(struct sweep_ctx *c)
{
	struct pair_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	if (!sweep_called(c))
		return;
	SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
	SWEEP_CHECK(c, rc != 0 || st->got == FILE_SIZE, "size %d", st->got);
	SWEEP_CHECK(c, rc != -ECANCELED || st->got_ok, "a cancelled statx wrote its output");
}

static int fsync_setup(struct sweep_ctx *c)
{
	return file_setup(c, "fsync", true);
}

static int fsync_victim(struct sweep_ctx *c)
{
	struct pair_st *st = sweep_priv(c);
	int rc = ringo_fsync(st->tmpfd, 0);
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

static void status_check(struct sweep_ctx *c)
{
	int rc = sweep_rc(c);
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
}

static int fallocate_setup(struct sweep_ctx *c)
{
	return file_setup(c, "falloc", false);
}

static int fallocate_victim(struct sweep_ctx *c)
{
	struct pair_st *st = sweep_priv(c);
	int rc = ringo_fallocate(st->tmpfd, 0, 0, 8192);
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

/* The file grew exactly when the call says it did. */
static void fallocate_check(struct sweep_ctx *c)
{
	struct pair_st *st = sweep_priv(c);
	int rc = sweep_rc(c);
	struct stat sb;
	fstat(st->tmpfd, &sb);
	bool grown = sweep_called(c) && rc == 0;
	if (sweep_called(c))
		SWEEP_CHECK(c, rc == 0 || rc == -ECANCELED, "rc %d", rc);
	SWEEP_CHECK(c, sb.st_size == (grown ? 8192 : 0), "rc %d, size %lld", rc,
		    (long long)sb.st_size);
}

#define READER(nm, cl, pipe_, v)                                                               \
	{.name = nm, .call = cl, .priv_size = sizeof(struct pair_st),                         \
	 .setup = pipe_ ? pipe_reader_setup : socket_reader_setup, .victim = v,               \
	 .check = plain_reader_check, .cleanup = pair_cleanup}
#define WRITER(nm, cl, pipe_, v)                                                               \
	{.name = nm, .call = cl, .priv_size = sizeof(struct pair_st),                         \
	 .setup = pipe_ ? pipe_writer_setup : socket_writer_setup, .victim = v,               \
	 .check = write_check, .cleanup = pair_cleanup}

const struct sweep_scenario sweep_io_scenarios[] = {
	READER("read", "ringo_read (pipe)", true, read_victim),
	WRITER("write", "ringo_write (pipe)", true, write_victim),
	READER("readv", "ringo_readv (pipe)", true, readv_victim),
	WRITER("writev", "ringo_writev (pipe)", true, writev_victim),
	READER("recv", "ringo_recv", false, recv_victim),
	WRITER("send", "ringo_send", false, send_victim),
	READER("recvmsg", "ringo_recvmsg", false, recvmsg_victim),
	WRITER("sendmsg", "ringo_sendmsg", false, sendmsg_victim),
	READER("io_submit", "ringo_io_submit (recv)", false, io_submit_victim),
	{.name = "recv_deadline", .call = "ringo_recv (deadline scope)",
	 .priv_size = sizeof(struct pair_st), .setup = socket_reader_setup,
	 .victim = recv_deadline_victim, .check = deadline_reader_check, .cleanup = pair_cleanup},
	{.name = "poll", .call = "ringo_poll", .priv_size = sizeof(struct pair_st),
	 .setup = socket_reader_setup, .victim = poll_victim, .check = poll_check,
	 .cleanup = pair_cleanup},
	{.name = "splice", .call = "ringo_splice (pipe to pipe)",
	 .priv_size = sizeof(struct splice_st), .setup = splice_setup, .victim = splice_victim,
	 .check = splice_check, .cleanup = splice_cleanup},
	{.name = "accept", .call = "ringo_accept", .priv_size = sizeof(struct listen_st),
	 .setup = accept_setup, .victim = accept_victim, .check = accept_check,
	 .cleanup = listen_cleanup},
	{.name = "connect", .call = "ringo_connect", .priv_size = sizeof(struct listen_st),
	 .setup = connect_setup, .victim = connect_victim, .check = connect_check,
	 .cleanup = listen_cleanup},
	{.name = "close", .call = "ringo_close", .priv_size = sizeof(struct fd_st),
	 .setup = close_setup, .victim = close_victim, .check = close_check},
	{.name = "shutdown", .call = "ringo_shutdown", .priv_size = sizeof(struct fd_st),
	 .setup = shutdown_setup, .victim = shutdown_victim, .check = shutdown_check,
	 .cleanup = fd_cleanup},
	{.name = "openat", .call = "ringo_openat (O_CREAT|O_EXCL)",
	 .priv_size = sizeof(struct pair_st), .setup = openat_setup, .victim = openat_victim,
	 .check = openat_check, .cleanup = pair_cleanup},
	{.name = "statx", .call = "ringo_statx", .priv_size = sizeof(struct pair_st),
	 .setup = statx_setup, .victim = statx_victim, .check = statx_check,
	 .cleanup = pair_cleanup},
	{.name = "fsync", .call = "ringo_fsync", .priv_size = sizeof(struct pair_st),
	 .setup = fsync_setup, .victim = fsync_victim, .check = status_check,
	 .cleanup = pair_cleanup},
	{.name = "fallocate", .call = "ringo_fallocate", .priv_size = sizeof(struct pair_st),
	 .setup = fallocate_setup, .victim = fallocate_victim, .check = fallocate_check,
	 .cleanup = pair_cleanup},
};
const size_t sweep_io_count = sizeof(sweep_io_scenarios) / sizeof(sweep_io_scenarios[0]);
