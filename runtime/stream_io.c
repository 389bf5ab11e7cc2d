/*
 * The stream transports on an fd, through io_uring (see stream_internal.h
 * for the seam): sockets with one-shot or multishot receive, and other fds
 * (pipes, terminals, files) with read/write at the file position.
 *
 * Each request is tagged with an op slot (generation-checked, as every
 * ringo request) and sits on the fd index while in flight, so that
 * ringo_close(fd) by someone else stops it; the stream then sees -EBADF.
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "stream_internal.h"

/* Linux 6.18's pwritev2 flag, also honoured by io_uring writes (not in
 * this libc's headers yet). */
#define RINGO__RWF_NOSIGNAL 0x00000100

/* The loop's buffer ring for multishot receives: 256 buffers of 16 KiB
 * (4 MiB, touched as traffic comes). A receive holds a buffer only from
 * the kernel filling it to the completion's handler, which copies it out
 * and gives it back at once. */
#define MSHOT_NBUFS 256
#define MSHOT_BUFSIZE (16 * 1024)

/* Receive bundles (Linux 6.10), newer than liburing 2.3's headers. */
#define RINGO__RECVSEND_BUNDLE (1U << 4)
#define RINGO__FEAT_RECVSEND_BUNDLE (1U << 14)

/* ---- requests ---- */

/* Tag sqe for request r of s (handler fn) and put it on the fd index. 0,
 * or -errno with the SQE made a no-op. */
static int req_open(ringo_stream *s, struct ringo__stream_req *r, struct io_uring_sqe *sqe,
		    ringo__cqe_fn *fn)
{
	ringo_loop *loop = s->loop;
	struct ringo__io_state *io = ringo__io_state(loop);
	int err = io ? ringo__op_open(loop, fn, s, &r->link.user_data) : -ENOMEM;
	if (err == 0) {
		err = ringo__fd_link_add(io, s->fd, &r->link);
		if (err < 0)
			ringo__op_close(loop, r->link.user_data);
	}
	if (err < 0) {
		r->link.user_data = 0;
		io_uring_prep_nop(sqe);
		sqe->user_data = 0;
		return err;
	}
	r->cancel_sent = false;
	r->cancel_seen = false;
	sqe->user_data = r->link.user_data;
	return 0;
}

/* The request's final completion: untag it. Returns res, with a cancel
 * that ringo_close(fd) caused reported as -EBADF. */
static int req_done(ringo_stream *s, struct ringo__stream_req *r, int res)
{
	ringo__fd_link_del(&r->link);
	ringo__op_close(s->loop, r->link.user_data);
	r->link.user_data = 0;
	if (r->link.closed && res < 0)
		return -EBADF;
	/* An io-wq worker interrupted by the cancel says so instead. */
	if (r->cancel_sent && (res == -EINTR || res == -512 /* ERESTARTSYS */))
		return -ECANCELED;
	return res;
}

static void req_cancel(ringo_stream *s, struct ringo__stream_req *r)
{
	if (!r->link.user_data || r->cancel_sent)
		return;
	struct io_uring_sqe *sqe = ringo__sqe(s->loop);
	if (!sqe)
		return; /* the ring is gone: the loop's close drains it */
	r->cancel_sent = true;
	io_uring_prep_cancel64(sqe, r->link.user_data, 0);
	sqe->user_data = 0;
}

/* ---- choosing the receive per traffic (sockets, no RECV flag) ----
 * perf/stream measured multishot cheaper for request/response traffic
 * (no SQE per message) and one-shot cheaper for bulk (no copy out of a
 * provided buffer, and receives as big as the stream's buffer). A socket
 * stream without a RECV flag starts multishot; SWITCH_STREAK full
 * provided buffers in a row mean bulk: it goes one-shot; SWITCH_STREAK
 * short one-shot receives in a row (the socket drained with little in
 * it) bring it back.
 * Except a TCP stream whose reads ask for more than the least (a bulk
 * reader: see ringo__stream_ask): it stays multishot, where uncapped
 * bundles moved 3.2x more than one-shot receives (perf/stream's TCP
 * bulk, 4.4-4.6 against 1.3-1.5 GiB/s; on a Unix socket the two were
 * even, so those still switch). A TCP stream with small reads and
 * bulk data (an echo of 64 KiB messages) still switches: its bundles
 * are capped, and capped ones cost it 1.2-1.5x more CPU per message
 * than one-shot receives (perf/echo_compare). */
#define SWITCH_STREAK 4
#define SHORT_RECV (MSHOT_BUFSIZE / 4)
#define TOTAL_MIN (256 * 1024) /* the least total of a multishot receive */

static void note_mshot(ringo_stream *s, int32_t res)
{
	/* Full buffers in a row; a bundle may bring several at once. */
	unsigned full = (unsigned)res / MSHOT_BUFSIZE;
	unsigned streak = s->recv_streak + full;
	s->recv_streak = full ? (uint8_t)(streak < SWITCH_STREAK ? streak : SWITCH_STREAK) : 0;
	bool bulk_tcp = s->recv_tcp && ringo__stream_big_reads(s);
	if (s->recv_streak >= SWITCH_STREAK && !s->recv_switch && !bulk_tcp) {
		s->recv_switch = true;
		req_cancel(s, &s->rreq);
	}
}

static void note_oneshot(ringo_stream *s, int32_t res)
{
	bool short_recv = (size_t)res < s->recv_asked / 2 && res < SHORT_RECV;
	s->recv_streak = short_recv ? s->recv_streak + 1 : 0;
	if (s->recv_streak >= SWITCH_STREAK || (s->recv_tcp && ringo__stream_big_reads(s))) {
		s->recv_streak = 0;
		s->tp = &ringo__stream_socket_mshot; /* the next receive */
	}
}

/* ---- one-shot receive (sockets and other fds) ---- */

static void oneshot_cqe(ringo_loop *loop, void *ctx, int32_t res, uint32_t flags)
{
	ringo_stream *s = ctx;
	res = req_done(s, &s->rreq, res);
	if (res > 0 && s->recv_auto)
		note_oneshot(s, res);
	if (res > 0) {
		ringo__io_defined(s->recv_at, (size_t)res);
		ringo__stream_recv_data(s, s->recv_at, (size_t)res);
		ringo__stream_recv_end(s, RINGO__STREAM_ENDED);
		return;
	}
	ringo__stream_recv_end(s, res);
}

static int oneshot_start(ringo_stream *s, int opcode)
{
	size_t len;
	void *p = ringo__stream_recv_room(s, &len);
	if (!p)
		return -ENOMEM;
	struct io_uring_sqe *sqe = ringo__sqe(s->loop);
	if (!sqe)
		return -ESHUTDOWN;
	s->recv_asked = len;
	if (opcode == IORING_OP_RECV)
		io_uring_prep_recv(sqe, s->fd, p, len, 0);
	else
		io_uring_prep_read(sqe, s->fd, p, (unsigned)len, (uint64_t)-1);
	return req_open(s, &s->rreq, sqe, oneshot_cqe);
}

static int sock_recv_start(ringo_stream *s)
{
	return oneshot_start(s, IORING_OP_RECV);
}

static int fd_recv_start(ringo_stream *s)
{
	return oneshot_start(s, IORING_OP_READ);
}

static void recv_stop(ringo_stream *s)
{
	req_cancel(s, &s->rreq);
}

/* ---- multishot receive from the loop's buffer ring ---- */

/* The loop's ring, made on first use; NULL if it cannot be (then every
 * stream receives one-shot). Buffer group ids are the user's to pick for
 * their own rings: the streams take the highest one that is free. */
static ringo_bufring *mshot_ring(ringo_loop *loop)
{
	struct ringo__stream_loop *sl = ringo__stream_loop_get(loop);
	if (!sl || !sl->multishot || sl->br_failed)
		return NULL;
	if (sl->br)
		return sl->br;
	for (unsigned g = 65535; g > 65535 - 64; g--) {
		int err = ringo_bufring_new(loop, MSHOT_NBUFS, MSHOT_BUFSIZE, g, &sl->br);
		if (err == 0) {
			sl->group = (uint16_t)g;
			return sl->br;
		}
		if (err != -EEXIST)
			break;
	}
	sl->br_failed = true;
	return NULL;
}

/* Copy out what one completion delivered and give its buffers back. With
 * bundles, res may span several buffers from first on, each full but the
 * last; the ids come from the ring's slot record (read before each put,
 * which may refill that very slot). */
static void mshot_take(ringo_stream *s, ringo_bufring *br, unsigned first, int32_t res)
{
	if (res > 0 && s->recv_auto)
		note_mshot(s, res);
	/* A capped receive for a stream whose reads now ask for more (a bulk
	 * reader, see mshot_recv_start): end it, the next one is uncapped. */
	if (s->recv_capped && !s->recv_uncap && ringo__stream_big_reads(s)) {
		s->recv_uncap = true;
		req_cancel(s, &s->rreq);
	}
	size_t left = res > 0 ? (size_t)res : 0;
	unsigned slot = ringo__bufring_slot_of(br, first);
	do {
		unsigned bid = ringo__bufring_slot_bid(br, slot++);
		size_t n = left < br->bufsize ? left : br->bufsize;
		if (n > 0) {
			char *data = br->mem + (size_t)bid * br->bufsize;
			ringo__io_defined(data, n);
			ringo__stream_recv_data(s, data, n);
		}
		ringo_bufring_put(br, bid);
		left -= n;
	} while (left > 0);
}

static void mshot_cqe(ringo_loop *loop, void *ctx, int32_t res, uint32_t flags)
{
	ringo_stream *s = ctx;
	struct ringo__stream_loop *sl = loop->streams;
	if (flags & IORING_CQE_F_BUFFER)
		mshot_take(s, sl->br, flags >> IORING_CQE_BUFFER_SHIFT, res);
	if (flags & IORING_CQE_F_MORE) {
		if (ringo__mshot_cancel_lost(&s->rreq.cancel_sent, s->rreq.cancel_seen))
			req_cancel(s, &s->rreq);
		s->rreq.cancel_seen = s->rreq.cancel_sent;
		return;
	}
	res = req_done(s, &s->rreq, res);
	sl->mshot_reserved -= s->recv_reserved;
	s->recv_reserved = 0;
	if (s->recv_switch) {
		/* Bulk: one-shot from the next receive on. */
		s->recv_switch = false;
		s->recv_streak = 0;
		s->tp = &ringo__stream_socket;
		if (res == -ECANCELED)
			res = RINGO__STREAM_ENDED;
	}
	if (s->recv_uncap) {
		s->recv_uncap = false;
		if (res == -ECANCELED)
			res = RINGO__STREAM_ENDED; /* uncapped from the next receive on */
	} else if (res == -EINVAL && s->recv_limited && sl->mshot_lim) {
		/* A kernel that takes no total: none from the next
		 * receive on. */
		sl->mshot_lim = false;
		res = RINGO__STREAM_ENDED;
	} else if (res == -EINVAL && s->recv_capped && sl->mshot_cap) {
		/* A kernel that takes no cap on a multishot recv (before
		 * 6.16): uncapped bundles from the next receive on. */
		sl->mshot_cap = false;
		res = RINGO__STREAM_ENDED;
	} else if (res == -EINVAL && !s->stats.bytes_read) {
		/* A kernel without multishot recv: one-shot from now on. */
		sl->multishot = false;
		s->recv_auto = false;
		s->tp = &ringo__stream_socket;
		res = RINGO__STREAM_ENDED;
	} else if (res > 0 || res == -ENOBUFS) {
		/* Ended by the kernel (ring ran dry, or it chose to): the
		 * buffers are back by the time the next receive starts. */
		res = RINGO__STREAM_ENDED;
	}
	ringo__stream_recv_end(s, res);
}

/* The total a multishot receive for a stream at this mark carries
 * (sqe->optlen, which is file_index in liburing 2.3's header; recent
 * kernels take it, 6.18 here does). Backpressure cancels a multishot
 * receive at the mark, but a cancel finds a receive that the kernel keeps
 * re-running (its socket never empties: a fast peer) busy and leaves it
 * going; the stream then took every byte a sender on another thread sent
 * (test_stream: a sender that never lets up). With a total the receive
 * ends itself: twice the mark past where it started, at least TOTAL_MIN
 * (a smaller total cost a new receive per 64 KiB message in
 * perf/echo_compare). An older kernel refuses it (-EINVAL, see
 * mshot_cqe). */
static size_t mshot_total(size_t mark)
{
	size_t total = 2 * mark > TOTAL_MIN ? 2 * mark : TOTAL_MIN;
	return total < RINGO__STREAM_IO_MAX ? total : RINGO__STREAM_IO_MAX;
}

static int mshot_recv_start(ringo_stream *s)
{
	ringo_bufring *br = mshot_ring(s->loop);
	if (!br) {
		s->recv_auto = false;
		s->tp = &ringo__stream_socket;
		return sock_recv_start(s);
	}
	struct io_uring_sqe *sqe = ringo__sqe(s->loop);
	if (!sqe)
		return -ESHUTDOWN;
	io_uring_prep_recv_multishot(sqe, s->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = (uint16_t)br->group;
	/* Bundles: one completion for the data the socket holds, over as
	 * many buffers as it needs, instead of one per buffer
	 * (perf/recv_bundle, perf/stream). Uncapped, one completion takes
	 * all a pipelining peer has sent (up to the whole ring, starving the
	 * loop's other streams) and overshoots the stream's mark by as much.
	 * So a stream that receives ahead only the least (no read asked for
	 * more: a request/response server) caps each at half of that
	 * (Linux 6.16+ takes the cap; an older kernel refuses it, see
	 * mshot_cqe). A bulk reader (big reads) goes uncapped: the kernel
	 * requeues a capped receive behind the loop's other work, and one
	 * TCP stream then moved 3.7x less (perf/stream, explicit multishot).
	 * So does any stream while the loop's budget has room for all it
	 * may take (its total, below, reserved until the receive ends): a
	 * proxy reading through peek/fill moved 1.3-1.5x more so. */
	struct ringo__stream_loop *sl = s->loop->streams;
	size_t mark = s->ahead;
	bool uncapped = ringo__stream_big_reads(s);
	size_t wide = ringo__stream_ahead(s);
	if (!uncapped && wide > mark &&
	    sl->rbuf_over + sl->mshot_reserved + mshot_total(wide) <= sl->rbuf_budget) {
		mark = wide;
		uncapped = true;
	}
	s->recv_capped = false;
	if (s->loop->ring.features & RINGO__FEAT_RECVSEND_BUNDLE) {
		sqe->ioprio |= RINGO__RECVSEND_BUNDLE;
		if (sl->mshot_cap && !uncapped) {
			sqe->len = RINGO__STREAM_AHEAD_MIN / 2;
			s->recv_capped = true;
		}
	}
	/* A total for the whole receive: see mshot_total. */
	size_t total = mshot_total(mark);
	s->recv_limited = false;
	if (sl->mshot_lim) {
		sqe->file_index = (uint32_t)total;
		s->recv_limited = true;
	}
	int err = req_open(s, &s->rreq, sqe, mshot_cqe);
	if (err == 0 && mark > s->ahead) {
		s->recv_reserved = total;
		sl->mshot_reserved += total;
	}
	return err;
}

/* ---- sending ---- */

static void send_cqe(ringo_loop *loop, void *ctx, int32_t res, uint32_t flags)
{
	ringo_stream *s = ctx;
	/* A zero-copy send would post a notification: not used here. */
	if (flags & IORING_CQE_F_MORE)
		return;
	ringo__stream_sent(s, req_done(s, &s->sreq, res));
}

/* Writing a pipe whose reader is gone raises SIGPIPE in the writer, an
 * io_uring write as much as write(2) (seen on 6.18: the program dies),
 * where a send has MSG_NOSIGNAL. RWF_NOSIGNAL (Linux 6.18) stops it per
 * write; an older kernel refuses the flag (-EOPNOTSUPP) before writing
 * anything, so it is probed once per process on a pipe of our own. */
static bool write_nosignal(void)
{
	static _Atomic int known; /* 0 not probed, 1 works, -1 refused */
	int k = atomic_load_explicit(&known, memory_order_relaxed);
	if (k)
		return k > 0;
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return false; /* try again next time */
	char byte = 0;
	struct iovec iov = {&byte, 1};
	k = pwritev2(pfd[1], &iov, 1, -1, RINGO__RWF_NOSIGNAL) == 1 ? 1 : -1;
	close(pfd[0]);
	close(pfd[1]);
	atomic_store_explicit(&known, k, memory_order_relaxed);
	return k > 0;
}

static int send_start(ringo_stream *s, const void *p, size_t n, int opcode)
{
	struct io_uring_sqe *sqe = ringo__sqe(s->loop);
	if (!sqe)
		return -ESHUTDOWN;
	if (opcode == IORING_OP_SEND) {
		io_uring_prep_send(sqe, s->fd, p, n, MSG_NOSIGNAL);
	} else {
		io_uring_prep_write(sqe, s->fd, p, (unsigned)n, (uint64_t)-1);
		/* Before 6.18 a broken pipe still raises SIGPIPE here: a
		 * program writing to pipes (a subprocess's stdin) on such a
		 * kernel must ignore SIGPIPE (ringo's children get it back
		 * at its default). */
		if (write_nosignal())
			sqe->rw_flags = RINGO__RWF_NOSIGNAL;
	}
	return req_open(s, &s->sreq, sqe, send_cqe);
}

static int sock_send_start(ringo_stream *s, const void *p, size_t n)
{
	return send_start(s, p, n, IORING_OP_SEND);
}

static int fd_send_start(ringo_stream *s, const void *p, size_t n)
{
	return send_start(s, p, n, IORING_OP_WRITE);
}

static void send_stop(ringo_stream *s)
{
	req_cancel(s, &s->sreq);
}

/* ---- the rest ---- */

/* Nothing is queued behind it and a FIN is one syscall that never
 * blocks: no need for a ring round trip. */
static int sock_shutdown_write(ringo_stream *s)
{
	return shutdown(s->fd, SHUT_WR) < 0 ? -errno : 0;
}

static void fd_release(ringo_stream *s)
{
	if (s->fd >= 0)
		close(s->fd);
}

const struct ringo__stream_transport ringo__stream_socket = {
	.name = "socket",
	.recv_start = sock_recv_start,
	.recv_stop = recv_stop,
	.send_start = sock_send_start,
	.send_stop = send_stop,
	.shutdown_write = sock_shutdown_write,
	.release = fd_release,
};

const struct ringo__stream_transport ringo__stream_socket_mshot = {
	.name = "socket-multishot",
	.recv_start = mshot_recv_start,
	.recv_stop = recv_stop,
	.send_start = sock_send_start,
	.send_stop = send_stop,
	.shutdown_write = sock_shutdown_write,
	.release = fd_release,
};

const struct ringo__stream_transport ringo__stream_fd = {
	.name = "fd",
	.recv_start = fd_recv_start,
	.recv_stop = recv_stop,
	.send_start = fd_send_start,
	.send_stop = send_stop,
	.shutdown_write = NULL,
	.release = fd_release,
};

void ringo__stream_socket_transport(ringo_stream *s)
{
	struct ringo__stream_loop *sl = ringo__stream_loop_get(s->loop);
	bool mshot = sl && sl->multishot && !sl->br_failed;
	s->tp = &ringo__stream_socket;
	if (s->flags & RINGO_STREAM_RECV_ONESHOT)
		return;
	if (mshot)
		s->tp = &ringo__stream_socket_mshot;
	/* No flag: both, as the traffic asks (see note_mshot). */
	s->recv_auto = mshot && !(s->flags & RINGO_STREAM_RECV_MULTISHOT);
	int domain = 0;
	socklen_t len = sizeof(domain);
	s->recv_tcp = s->recv_auto &&
		      getsockopt(s->fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
		      (domain == AF_INET || domain == AF_INET6);
}
