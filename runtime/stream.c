/*
 * Streams: asyncio's StreamReader + StreamWriter on one object (see
 * include/ringo/stream.h for the contract, stream_internal.h for the seam
 * to the transports). This file, on top of the other stream files: the
 * constructors, which pick the transport.
 *
 * The files are layered, each calling only those below it:
 *   stream.c        creation (names the transports it chooses from)
 *   stream_io.c     the fd transports (tls/ is one more, above this file:
 *                   it makes its stream with ringo__stream_make)
 *   stream_read.c,  the reading and writing halves; a transport's upcalls
 *   stream_write.c  (recv_data, recv_end, sent) land here
 *   stream_core.c   per-loop state, waiting, close, free; reaches the
 *                   transport only through s->tp
 *
 * Reading (stream_read.c). The transport receives in the background into
 * the stream's buffer (never into a task's memory), so a reader only ever
 * waits for the buffer to hold what it needs and copies out when it does:
 * a read that is cancelled simply stops waiting, and nothing it did not
 * hand over is lost. Receiving stops once `ahead` bytes wait unread (the
 * last read's size, 32 KiB to 2 x read_limit: ringo__stream_ask; the
 * kernel's socket buffer and TCP flow control take over) and starts again
 * at half that, or when a reader needs more than is buffered (asyncio
 * resumes reading for a waiting reader too).
 *
 * Writing (stream_write.c). write copies into the write buffer and queues
 * the stream on the loop's pre-submit list; right before the loop's next
 * io_uring_enter the whole buffer goes out in one send (so every write of
 * one iteration shares a send).
 *
 * Forwarding (here, on top of both halves): write what one stream's read
 * buffer holds to a stream and consume it. When the read buffer holds
 * just those bytes, no receive lands in it and the write buffer is empty
 * and idle, the two blocks change places instead of being copied: the
 * read buffer's block becomes the write buffer (its send goes out from
 * it) and the empty write buffer becomes the read buffer. An echo or a
 * proxy moves its bytes with no copy in user space then. (A receive's
 * end starts the next one only before the loop's next io_uring_enter,
 * so a task woken by the bytes finds its read buffer free to move.)
 *
 * Lifetime: see stream_core.c.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "stream_internal.h"

#define DEFAULT_LIMIT (64 * 1024)
#define MAX_OPTION (1u << 30)

/* ---- creation ---- */

int ringo__stream_check_options(const ringo_stream_options *o)
{
	if (!o)
		return 0;
	if (o->flags & ~(unsigned)(RINGO_STREAM_RECV_ONESHOT | RINGO_STREAM_RECV_MULTISHOT))
		return -EINVAL;
	if ((o->flags & RINGO_STREAM_RECV_ONESHOT) && (o->flags & RINGO_STREAM_RECV_MULTISHOT))
		return -EINVAL;
	if (o->read_limit > MAX_OPTION || o->write_high > MAX_OPTION)
		return -EINVAL;
	size_t high = o->write_high ? o->write_high : DEFAULT_LIMIT;
	if (o->write_low > high)
		return -EINVAL;
	return 0;
}

/* What fd is decides the transport and what the stream may do with it. */
static int classify(ringo_stream *s, int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISSOCK(st.st_mode)) {
		int type = 0;
		socklen_t len = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
			return -errno;
		if (type != SOCK_STREAM)
			return -EINVAL;
		s->readable = s->writable = true;
		ringo__stream_socket_transport(s);
		return 0;
	}
	if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode) && !S_ISREG(st.st_mode))
		return -EINVAL;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	/* io_uring honours O_NONBLOCK on a file: a read of an empty pipe
	 * would fail with -EAGAIN instead of waiting. The ring waits
	 * without blocking anyone, so the fd goes to blocking mode. */
	if ((fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return -errno;
	int mode = fl & O_ACCMODE;
	s->readable = mode == O_RDONLY || mode == O_RDWR;
	s->writable = mode == O_WRONLY || mode == O_RDWR;
	s->tp = &ringo__stream_fd;
	return 0;
}

/* fd's stream with transport tp (NULL: classify fd). */
static int stream_make(ringo_loop *loop, int fd, const struct ringo__stream_transport *tp,
		       void *ctx, const ringo_stream_options *opts, ringo_stream **out)
{
	ringo_stream_options defaults = {0};
	if (!opts)
		opts = &defaults;
	int err = ringo__stream_check_options(opts);
	if (err < 0)
		return err;
	err = ringo__check_open(loop);
	if (err < 0)
		return err;
	struct ringo__stream_loop *sl = ringo__stream_loop_get(loop);
	if (!sl)
		return loop->ring_ready ? -ENOMEM : -ESHUTDOWN;
	ringo_stream *s = ringo__alloc(loop, sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->fd = fd;
	s->flags = opts->flags;
	s->read_limit = opts->read_limit ? opts->read_limit : DEFAULT_LIMIT;
	ringo__stream_ask(s, 0);
	s->write_high = opts->write_high ? opts->write_high : DEFAULT_LIMIT;
	s->write_low = opts->write_low ? opts->write_low : s->write_high / 4;
	s->tp = tp;
	s->tp_ctx = ctx;
	s->readable = s->writable = true;
	err = tp ? 0 : classify(s, fd);
	if (err < 0) {
		ringo__free(loop, s, sizeof(*s));
		return err;
	}
	ringo__list_init(&s->rreq.link.node);
	ringo__list_init(&s->sreq.link.node);
	ringo__presubmit_init(&s->flush, ringo__stream_flush_run);
	ringo__presubmit_init(&s->arm, ringo__stream_arm_run);
	ringo_event_init(&s->closed_ev);
	ringo__list_init(&s->node);
	ringo__list_insert_tail(&sl->streams, &s->node);
	ringo__held_inc(loop);
	*out = s;
	ringo__stream_maybe_arm(s);
	return 0;
}

int ringo_stream_new(ringo_loop *loop, int fd, const ringo_stream_options *opts,
		     ringo_stream **out)
{
	if (!loop || !out || fd < 0)
		return -EINVAL;
	*out = NULL;
	return stream_make(loop, fd, NULL, NULL, opts, out);
}

int ringo__stream_make(ringo_loop *loop, int fd, const struct ringo__stream_transport *tp,
		       void *ctx, const ringo_stream_options *opts, ringo_stream **out)
{
	RINGO_ASSERT(loop && tp && out);
	*out = NULL;
	return stream_make(loop, fd, tp, ctx, opts, out);
}

/* ---- forwarding ---- */

int ringo_stream_forward(ringo_stream *from, ringo_stream *to, size_t n)
{
	if (!from || !to || from->loop != to->loop || n > from->rlen)
		return -EINVAL;
	int err = ringo__stream_wbuf_idle(to);
	if (err < 0 && err != -EBUSY)
		return err; /* to takes no writes: nothing consumed */
	if (n == 0)
		return 0;
	if (err == 0 && ringo__stream_rbuf_movable(from, n)) {
		char *blk = from->rbuf, *spare = to->wbuf;
		size_t cap = from->rcap, pos = from->rpos, spare_cap = to->wcap;
		ringo__stream_wbuf_replace(to, blk, cap, pos, n);
		ringo__stream_rbuf_replace(from, spare, spare_cap);
		return 0;
	}
	err = ringo_stream_write(to, from->rbuf + from->rpos, n);
	if (err < 0)
		return err;
	return ringo_stream_consume(from, n);
}
