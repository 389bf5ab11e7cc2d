/*
 * Streams: asyncio's StreamReader + StreamWriter on one object (see
 * include/ringo/stream.h for the contract, stream_internal.h for the seam
 * to the transports).
 *
 * Reading. The transport receives in the background into the stream's
 * buffer (never into a task's memory), so a reader only ever waits for the
 * buffer to hold what it needs and copies out when it does: a read that is
 * cancelled simply stops waiting, and nothing it did not hand over is
 * lost. Receiving stops at 2 x read_limit unread (the kernel's socket
 * buffer and TCP flow control take over) and starts again at read_limit,
 * or when a reader needs more than is buffered (asyncio resumes reading
 * for a waiting reader too).
 *
 * Writing. write copies into the write buffer and queues the stream on the
 * loop's pre-submit list; right before the loop's next io_uring_enter the
 * whole buffer goes out in one send (so every write of one iteration shares
 * a send). Only one send is in flight at a time: bytes stay in order. The
 * kernel reads the send's bytes from the buffer until its completion, so
 * while a send is in flight the buffer is never moved in place: if it must
 * grow, the unsent bytes are copied to a new block and the old one is kept
 * until the send ends (send_block).
 *
 * Lifetime. free() may come while the kernel still holds the stream's
 * receive or send, or while a task is inside a call on it: the memory goes
 * only when neither is true (maybe_destroy).
 */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "stream_internal.h"

#define DEFAULT_LIMIT (64 * 1024)
#define MAX_OPTION (1u << 30)
#define RBUF_MIN 4096          /* a read buffer's first size */
#define WBUF_MIN 4096
#define SEND_MAX (1u << 30)    /* an SQE's length is 32 bits */
#define HARD_CAP_FACTOR 16     /* write: -ENOBUFS past 16 x write_high */

static void maybe_arm(ringo_stream *s);
static void progress_close(ringo_stream *s);
static void maybe_destroy(ringo_stream *s);
static void flush_run(ringo_loop *loop, struct ringo__presubmit *p);

/* ---- per loop ---- */

static void streams_close(ringo_loop *loop, void *ctx)
{
	struct ringo__stream_loop *sl = ctx;
	/* Streams still alive (owned by the user) forget the list. */
	while (!ringo__list_empty(&sl->streams))
		ringo__list_remove(sl->streams.next);
	ringo_bufring_free(sl->br);
	loop->streams = NULL;
	ringo__free(loop, sl, sizeof(*sl));
}

struct ringo__stream_loop *ringo__stream_loop_get(ringo_loop *loop)
{
	if (loop->streams)
		return loop->streams;
	struct ringo__io_state *io = ringo__io_state(loop);
	if (!io)
		return NULL;
	struct ringo__stream_loop *sl = ringo__alloc(loop, sizeof(*sl));
	if (!sl)
		return NULL;
	memset(sl, 0, sizeof(*sl));
	sl->loop = loop;
	ringo__list_init(&sl->streams);
	/* Multishot recv came with 6.0, as did SEND_ZC: no probe names
	 * recv flags, so the opcode stands in. */
	sl->multishot = io->supported[IORING_OP_SEND_ZC] && io->supported[IORING_OP_RECV];
	if (ringo__add_close_hook(loop, streams_close, sl) < 0) {
		ringo__free(loop, sl, sizeof(*sl));
		return NULL;
	}
	loop->streams = sl;
	return sl;
}

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
		s->tp = ringo__stream_socket_transport(s->loop, s->flags);
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

int ringo_stream_new(ringo_loop *loop, int fd, const ringo_stream_options *opts,
		     ringo_stream **out)
{
	if (!loop || !out || fd < 0)
		return -EINVAL;
	*out = NULL;
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
	s->write_high = opts->write_high ? opts->write_high : DEFAULT_LIMIT;
	s->write_low = opts->write_low ? opts->write_low : s->write_high / 4;
	err = classify(s, fd);
	if (err < 0) {
		ringo__free(loop, s, sizeof(*s));
		return err;
	}
	ringo__list_init(&s->rreq.link.node);
	ringo__list_init(&s->sreq.link.node);
	ringo__presubmit_init(&s->flush, flush_run);
	ringo_event_init(&s->closed_ev);
	ringo__list_init(&s->node);
	ringo__list_insert_tail(&sl->streams, &s->node);
	maybe_arm(s);
	*out = s;
	return 0;
}

int ringo_stream_fd(const ringo_stream *s)
{
	if (!s)
		return -EINVAL;
	return s->fd >= 0 ? s->fd : -EBADF;
}

ringo_loop *ringo_stream_loop(const ringo_stream *s)
{
	return s ? s->loop : NULL;
}

void ringo_stream_stats(const ringo_stream *s, struct ringo_stream_stats *out)
{
	if (!out)
		return;
	if (!s) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = s->stats;
}

const char *ringo__stream_transport_name(const ringo_stream *s)
{
	return s->tp->name;
}

/* ---- waiting: one reader, one drainer; free() wakes them ---- */

static void reader_interrupt(ringo_task *t)
{
	ringo_stream *s = ringo__task_wait_ctx(t);
	RINGO_ASSERT(s->reader == t);
	s->reader = NULL;
	ringo__task_wake(t, -ECANCELED);
}

static void drainer_interrupt(ringo_task *t)
{
	ringo_stream *s = ringo__task_wait_ctx(t);
	RINGO_ASSERT(s->drainer == t);
	s->drainer = NULL;
	ringo__task_wake(t, -ECANCELED);
}

/* keep_result false: a wake only says "look again"; a cancel that comes
 * after it still wins, and the reader takes nothing. */
static const struct ringo__wait_ops reader_wait = {"stream read", reader_interrupt, false};
static const struct ringo__wait_ops drainer_wait = {"stream drain", drainer_interrupt, false};

static void wake(ringo_task **slot, int value)
{
	ringo_task *t = *slot;
	if (!t)
		return;
	*slot = NULL;
	ringo__task_wake(t, value);
}

/* Suspend the current task in *slot until woken. 0 (look again), or
 * -ECANCELED, -ESHUTDOWN (closed or freed meanwhile: if freed, s may be
 * gone once this returns), -EPERM (no task). */
static int wait_in(ringo_stream *s, ringo_task **slot, const struct ringo__wait_ops *ops)
{
	ringo_task *self = ringo_task_current();
	if (!self)
		return -EPERM;
	*slot = self;
	s->users++;
	int rc = ringo__task_suspend(ops, s);
	if (*slot == self)
		*slot = NULL; /* suspend refused (a pending cancel) */
	s->users--;
	if (s->freed) {
		maybe_destroy(s);
		return -ESHUTDOWN;
	}
	return rc;
}

/* ---- the read buffer ---- */

static bool recv_wanted(const ringo_stream *s)
{
	if (!s->readable || s->eof || s->rerr || s->closing || s->freed || s->loop->closed)
		return false;
	if (s->reader && s->rlen < s->want)
		return true;
	return !s->paused;
}

/* Receive if the stream wants bytes and no receive is in flight; stop a
 * multishot one that runs past the backpressure mark. */
static void maybe_arm(ringo_stream *s)
{
	if (s->recv_busy)
		return;
	if (!recv_wanted(s))
		return;
	s->recv_busy = true;
	int err = s->tp->recv_start(s);
	if (err < 0) {
		s->recv_busy = false;
		s->rerr = err;
		wake(&s->reader, 0);
	}
}

/* The most the read buffer may hold: twice the limit, or what a waiting
 * reader needs. */
static size_t rbuf_limit(const ringo_stream *s)
{
	size_t lim = 2 * s->read_limit;
	if (s->reader && s->want > lim)
		lim = s->want;
	return lim;
}

static size_t grow_size(size_t cur, size_t need, size_t min)
{
	size_t n = cur ? cur : min;
	while (n < need)
		n *= 2;
	return n;
}

/* Resize the read buffer to cap (>= rlen), moving the unread bytes to its
 * start. Only while the kernel is not writing into it. */
static int rbuf_resize(ringo_stream *s, size_t cap)
{
	char *nb = ringo__alloc(s->loop, cap);
	if (!nb)
		return -ENOMEM;
	if (s->rlen)
		memcpy(nb, s->rbuf + s->rpos, s->rlen);
	ringo__free(s->loop, s->rbuf, s->rcap);
	s->rbuf = nb;
	s->rcap = cap;
	s->rpos = 0;
	return 0;
}

static void rbuf_compact(ringo_stream *s)
{
	if (s->rpos && s->rlen)
		memmove(s->rbuf, s->rbuf + s->rpos, s->rlen);
	s->rpos = 0;
}

/* Make room for `room` more bytes at the tail (growing up to what is
 * needed). Only while the kernel is not writing into the buffer. */
static int rbuf_reserve(ringo_stream *s, size_t room)
{
	if (s->rcap - s->rpos - s->rlen >= room)
		return 0;
	if (s->rcap - s->rlen >= room && s->rlen <= s->rcap / 2) {
		rbuf_compact(s);
		return 0;
	}
	return rbuf_resize(s, grow_size(s->rcap, s->rlen + room, RBUF_MIN));
}

void *ringo__stream_recv_room(ringo_stream *s, size_t *len)
{
	size_t lim = rbuf_limit(s);
	bool demand = s->reader && s->want > s->rlen;
	if (s->rlen == 0) {
		s->rpos = 0;
		/* A buffer grown for one big read goes back once empty. */
		if (s->rcap > lim && s->rcap > RBUF_MIN) {
			ringo__free(s->loop, s->rbuf, s->rcap);
			s->rbuf = NULL;
			s->rcap = 0;
			s->recv_filled = false;
		}
	}
	/* Grow when the last receive filled all the room it had (bulk
	 * data), or for a reader that needs more than fits. */
	size_t cap = s->rcap ? s->rcap : RBUF_MIN;
	if (s->recv_filled && cap < lim)
		cap *= 2;
	if (demand && s->want > cap)
		cap = grow_size(cap, s->want, RBUF_MIN);
	if (cap <= s->rlen)
		cap = grow_size(cap, s->rlen + 1, RBUF_MIN);
	if (cap != s->rcap) {
		if (rbuf_resize(s, cap) < 0)
			return NULL;
	} else if (s->rpos && s->rcap - s->rpos - s->rlen < s->rcap / 4) {
		rbuf_compact(s);
	}
	size_t room = s->rcap - s->rpos - s->rlen;
	/* Backpressure is exact for one-shot receives: never past the mark
	 * unless a reader asks for more. */
	if (!demand && lim > s->rlen && room > lim - s->rlen)
		room = lim - s->rlen;
	if (room > SEND_MAX)
		room = SEND_MAX;
	*len = room;
	s->recv_at = s->rbuf + s->rpos + s->rlen;
	return s->recv_at;
}

static void count_read(ringo_stream *s, size_t n)
{
	s->stats.bytes_read += n;
	s->loop->stream_bytes_read += n;
}

/* New bytes, EOF or an error: whoever waits for them looks again. */
static void notify_reader(ringo_stream *s)
{
	if (s->reader && (s->rlen >= s->want || s->eof || s->rerr))
		wake(&s->reader, 0);
	if (s->on_readable)
		s->on_readable(s, s->on_readable_ctx);
}

int ringo__stream_recv_data(ringo_stream *s, const void *p, size_t n)
{
	RINGO_ASSERT(n > 0);
	char *tail = s->rbuf ? s->rbuf + s->rpos + s->rlen : NULL;
	if (p == tail) {
		/* A one-shot receive landed in place. */
		RINGO_ASSERT(s->rpos + s->rlen + n <= s->rcap);
		s->recv_filled = s->rpos + s->rlen + n == s->rcap;
	} else {
		/* The transport's own memory (a provided buffer): copy. */
		if (rbuf_reserve(s, n) < 0) {
			s->rerr = -ENOMEM;
			notify_reader(s);
			return -ENOMEM;
		}
		memcpy(s->rbuf + s->rpos + s->rlen, p, n);
	}
	s->rlen += n;
	count_read(s, n);
	if (s->rlen >= 2 * s->read_limit) {
		s->paused = true;
		/* A multishot receive goes on by itself: stop it. */
		if (!recv_wanted(s))
			s->tp->recv_stop(s);
	}
	notify_reader(s);
	return 0;
}

/* A receive error that means the connection is gone fails the writes too
 * (asyncio: connection_lost ends both halves). */
static void connection_lost(ringo_stream *s, int err)
{
	if (s->writable && !s->werr && err != -ENOMEM && err != -EBADF)
		s->werr = err;
	wake(&s->drainer, 0);
}

void ringo__stream_recv_end(ringo_stream *s, int res)
{
	RINGO_ASSERT(s->recv_busy);
	s->recv_busy = false;
	if (res == 0) {
		s->eof = true;
	} else if (res < 0 && res != -ECANCELED && !s->rerr) {
		s->rerr = res;
		connection_lost(s, res);
	}
	if (res <= 0)
		notify_reader(s);
	if (s->freed) {
		maybe_destroy(s);
		return;
	}
	if (s->closing) {
		progress_close(s);
		return;
	}
	maybe_arm(s);
}

/* Take n buffered bytes off the front. */
static void consume(ringo_stream *s, size_t n)
{
	RINGO_ASSERT(n <= s->rlen);
	s->rpos += n;
	s->rlen -= n;
	/* While a one-shot receive is in flight the tail must stay put. */
	if (s->rlen == 0 && !s->recv_busy)
		s->rpos = 0;
	if (s->paused && s->rlen <= s->read_limit) {
		s->paused = false;
		maybe_arm(s);
	}
}

/* ---- reads ---- */

static int read_check(ringo_stream *s)
{
	if (!s)
		return -EINVAL;
	if (s->closing)
		return -ESHUTDOWN;
	if (!s->readable)
		return -EBADF;
	if (s->reader)
		return -EBUSY;
	return 0;
}

/* Nothing buffered can serve the read: why not, or 0 to wait for want. */
static int read_wait(ringo_stream *s, size_t want)
{
	if (s->rerr)
		return s->rerr;
	s->want = want;
	ringo_task *self = ringo_task_current();
	if (!self)
		return -EPERM;
	s->reader = self; /* recv_wanted sees the demand */
	maybe_arm(s);
	if (s->rerr) { /* the receive could not start */
		s->reader = NULL;
		return s->rerr;
	}
	s->reader = NULL;
	return wait_in(s, &s->reader, &reader_wait);
}

static int take(ringo_stream *s, void *dst, size_t n)
{
	memcpy(dst, s->rbuf + s->rpos, n);
	consume(s, n);
	return (int)n;
}

int ringo_stream_read(ringo_stream *s, void *dst, size_t n)
{
	int err = read_check(s);
	if (err < 0)
		return err;
	if (n == 0)
		return 0;
	if (!dst)
		return -EINVAL;
	if (n > INT_MAX)
		n = INT_MAX;
	for (;;) {
		if (s->rlen)
			return take(s, dst, n < s->rlen ? n : s->rlen);
		if (s->eof)
			return 0;
		err = read_wait(s, 1);
		if (err < 0)
			return err;
		if (s->closing)
			return -ESHUTDOWN;
	}
}

int ringo_stream_read_exactly(ringo_stream *s, void *dst, size_t n)
{
	int err = read_check(s);
	if (err < 0)
		return err;
	if (n > INT_MAX || (n && !dst))
		return -EINVAL;
	for (;;) {
		if (s->rlen >= n)
			return n ? take(s, dst, n) : 0;
		if (s->eof)
			return -ENODATA;
		err = read_wait(s, n);
		if (err < 0)
			return err;
		if (s->closing)
			return -ESHUTDOWN;
	}
}

/* read_until and readline: at_eof_partial says what EOF without the
 * delimiter means (readline: hand over the rest). */
static int read_line(ringo_stream *s, const void *delim, size_t dlen, void *dst, size_t cap,
		     bool eof_partial)
{
	int err = read_check(s);
	if (err < 0)
		return err;
	if (!delim || dlen == 0 || (cap && !dst))
		return -EINVAL;
	size_t scanned = 0; /* bytes known not to start the delimiter */
	for (;;) {
		const char *base = s->rbuf ? s->rbuf + s->rpos : NULL;
		const char *hit = s->rlen > scanned
					  ? memmem(base + scanned, s->rlen - scanned, delim, dlen)
					  : NULL;
		if (hit) {
			size_t at = (size_t)(hit - base);
			size_t len = at + dlen;
			/* asyncio: LimitOverrunError when the separator starts
			 * past the limit; the bytes stay. */
			if (at > s->read_limit || len > cap || len > INT_MAX)
				return -EMSGSIZE;
			return take(s, dst, len);
		}
		if (s->rlen >= dlen)
			scanned = s->rlen - dlen + 1;
		if (scanned > s->read_limit)
			return -EMSGSIZE;
		if (s->eof) {
			if (!eof_partial)
				return -ENODATA;
			if (s->rlen > cap)
				return -EMSGSIZE;
			return s->rlen ? take(s, dst, s->rlen) : 0;
		}
		err = read_wait(s, s->rlen + 1);
		if (err < 0)
			return err;
		if (s->closing)
			return -ESHUTDOWN;
	}
}

int ringo_stream_read_until(ringo_stream *s, const void *delim, size_t dlen, void *dst,
			    size_t cap)
{
	return read_line(s, delim, dlen, dst, cap, false);
}

int ringo_stream_readline(ringo_stream *s, void *dst, size_t cap)
{
	return read_line(s, "\n", 1, dst, cap, true);
}

int ringo_stream_fill(ringo_stream *s)
{
	int err = read_check(s);
	if (err < 0)
		return err;
	size_t before = s->rlen;
	for (;;) {
		if (s->rlen > before)
			return (int)(s->rlen - before > INT_MAX ? INT_MAX : s->rlen - before);
		if (s->eof)
			return 0;
		err = read_wait(s, before + 1);
		if (err < 0)
			return err;
		if (s->closing)
			return -ESHUTDOWN;
	}
}

const void *ringo_stream_peek(const ringo_stream *s, size_t *len)
{
	if (!s || !s->rlen) {
		*len = 0;
		return NULL;
	}
	*len = s->rlen;
	return s->rbuf + s->rpos;
}

int ringo_stream_consume(ringo_stream *s, size_t n)
{
	if (!s || n > s->rlen)
		return -EINVAL;
	if (n)
		consume(s, n);
	return 0;
}

bool ringo_stream_at_eof(const ringo_stream *s)
{
	return s && s->eof && s->rlen == 0;
}

/* ---- the write buffer ---- */

static int write_check(ringo_stream *s)
{
	if (!s)
		return -EINVAL;
	if (s->werr)
		return s->werr;
	if (s->closing || s->eof_wanted)
		return -ESHUTDOWN;
	if (!s->writable)
		return -EBADF;
	return 0;
}

/* Move the unsent bytes to a new block of cap bytes. A send in flight
 * keeps reading the old block: it is kept until the send ends. */
static int wbuf_move(ringo_stream *s, size_t cap)
{
	char *nb = ringo__alloc(s->loop, cap);
	if (!nb)
		return -ENOMEM;
	if (s->wlen)
		memcpy(nb, s->wbuf + s->wpos, s->wlen);
	if (s->sending && !s->send_block) {
		s->send_block = s->wbuf;
		s->send_block_size = s->wcap;
	} else {
		ringo__free(s->loop, s->wbuf, s->wcap);
	}
	s->wbuf = nb;
	s->wcap = cap;
	s->wpos = 0;
	return 0;
}

/* Room for n more bytes at the tail. */
static int wbuf_reserve(ringo_stream *s, size_t n)
{
	size_t room = s->wcap - s->wpos - s->wlen;
	if (room >= n)
		return 0;
	if (s->wlen > SIZE_MAX - n)
		return -ENOMEM;
	/* Compacting in place moves bytes under a send in flight: only
	 * without one, and when it frees enough. */
	if (!s->sending && s->wcap - s->wlen >= n && s->wlen <= s->wcap / 2) {
		if (s->wlen)
			memmove(s->wbuf, s->wbuf + s->wpos, s->wlen);
		s->wpos = 0;
		return 0;
	}
	return wbuf_move(s, grow_size(s->wcap, s->wlen + n, WBUF_MIN));
}

static void wbuf_append(ringo_stream *s, const void *p, size_t n)
{
	memcpy(s->wbuf + s->wpos + s->wlen, p, n);
	s->wlen += n;
}

/* Refuse a write onto a buffer piled up past the hard cap: the writer
 * does not drain. */
static int over_cap(const ringo_stream *s)
{
	return s->wlen > HARD_CAP_FACTOR * s->write_high ? -ENOBUFS : 0;
}

static void queue_flush(ringo_stream *s)
{
	if (!s->sending && s->wlen && !s->loop->closed)
		ringo__presubmit_add(s->loop, &s->flush);
}

int ringo_stream_write(ringo_stream *s, const void *buf, size_t n)
{
	int err = write_check(s);
	if (err < 0)
		return err;
	if (n == 0)
		return 0;
	if (!buf)
		return -EINVAL;
	err = over_cap(s);
	if (!err)
		err = wbuf_reserve(s, n);
	if (err < 0)
		return err;
	wbuf_append(s, buf, n);
	queue_flush(s);
	return 0;
}

int ringo_stream_writev(ringo_stream *s, const struct iovec *iov, int iovcnt)
{
	int err = write_check(s);
	if (err < 0)
		return err;
	if (iovcnt < 0 || (iovcnt && !iov))
		return -EINVAL;
	size_t total = 0;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len && !iov[i].iov_base)
			return -EINVAL;
		if (total > SIZE_MAX - iov[i].iov_len)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	if (total == 0)
		return 0;
	err = over_cap(s);
	if (!err)
		err = wbuf_reserve(s, total);
	if (err < 0)
		return err;
	for (int i = 0; i < iovcnt; i++)
		if (iov[i].iov_len)
			wbuf_append(s, iov[i].iov_base, iov[i].iov_len);
	queue_flush(s);
	return 0;
}

size_t ringo_stream_write_buffered(const ringo_stream *s)
{
	return s ? s->wlen : 0;
}

/* Pre-submit: everything buffered goes out in one send. */
static void flush_run(ringo_loop *loop, struct ringo__presubmit *p)
{
	ringo_stream *s = ringo__container_of(p, ringo_stream, flush);
	if (s->sending || !s->wlen || s->werr || s->freed || loop->closed)
		return;
	size_t n = s->wlen < SEND_MAX ? s->wlen : SEND_MAX;
	int err = s->tp->send_start(s, s->wbuf + s->wpos, n);
	if (err < 0) {
		s->werr = err;
		wake(&s->drainer, 0);
		if (s->closing)
			progress_close(s);
		return;
	}
	s->sending = n;
}

static void count_written(ringo_stream *s, size_t n)
{
	s->stats.bytes_written += n;
	s->loop->stream_bytes_written += n;
}

/* The write buffer emptied: a pending half-close goes now; a buffer
 * grown for a burst is given back. */
static void write_idle(ringo_stream *s)
{
	s->wpos = 0;
	if (s->wcap > 4 * s->write_high && s->wcap > WBUF_MIN) {
		ringo__free(s->loop, s->wbuf, s->wcap);
		s->wbuf = NULL;
		s->wcap = 0;
	}
	if (s->eof_wanted && !s->eof_done && !s->closing) {
		s->eof_done = true;
		int err = s->tp->shutdown_write(s);
		if (err < 0 && !s->werr)
			s->werr = err;
	}
}

void ringo__stream_sent(ringo_stream *s, int res)
{
	RINGO_ASSERT(s->sending > 0);
	RINGO_ASSERT(res < 0 || (size_t)res <= s->sending);
	s->sending = 0;
	if (s->send_block) {
		ringo__free(s->loop, s->send_block, s->send_block_size);
		s->send_block = NULL;
	}
	if (res == 0)
		res = -EIO; /* a stream never sends nothing of a non-empty buffer */
	if (res > 0) {
		s->wpos += (size_t)res;
		s->wlen -= (size_t)res;
		count_written(s, (size_t)res);
	} else if (!s->werr && !s->freed) {
		/* -ECANCELED comes after free, or from the loop's close. */
		s->werr = res == -ECANCELED ? -ESHUTDOWN : res;
	}
	if (s->freed) {
		maybe_destroy(s);
		return;
	}
	if (s->wlen == 0)
		write_idle(s);
	if (s->drainer && (s->wlen <= s->write_low || s->werr))
		wake(&s->drainer, 0);
	if (s->closing)
		progress_close(s);
	else if (!s->werr)
		queue_flush(s);
}

int ringo_stream_drain(ringo_stream *s)
{
	if (!s)
		return -EINVAL;
	for (;;) {
		if (s->werr)
			return s->werr;
		if (s->wlen <= s->write_high)
			return 0;
		if (s->drainer)
			return -EBUSY;
		int rc = wait_in(s, &s->drainer, &drainer_wait);
		if (rc < 0)
			return rc;
		if (!s->werr && s->wlen <= s->write_low)
			return 0;
	}
}

int ringo_stream_write_eof(ringo_stream *s)
{
	if (!s)
		return -EINVAL;
	if (s->werr)
		return s->werr;
	if (s->closing)
		return -ESHUTDOWN;
	if (s->eof_wanted)
		return 0;
	if (!s->writable)
		return -EBADF;
	if (!s->tp->shutdown_write) {
		/* A pipe's write end: EOF for the reader is the close. */
		if (s->readable)
			return -EOPNOTSUPP;
		return ringo_stream_close(s);
	}
	s->eof_wanted = true;
	if (!s->wlen && !s->sending)
		write_idle(s);
	return s->werr;
}

/* ---- close and free ---- */

/* Release once no receive or send is in flight and, unless the flush
 * failed, everything buffered is out. */
static void progress_close(ringo_stream *s)
{
	if (s->closed || s->recv_busy || s->sending)
		return;
	if (s->wlen && !s->werr && !s->freed) {
		queue_flush(s);
		return;
	}
	ringo__presubmit_del(&s->flush);
	s->tp->release(s);
	s->fd = -1;
	s->closed = true;
	wake(&s->drainer, 0);
	ringo_event_set(&s->closed_ev);
}

int ringo_stream_close(ringo_stream *s)
{
	if (!s)
		return -EINVAL;
	if (s->closing)
		return 0;
	s->closing = true;
	wake(&s->reader, -ESHUTDOWN);
	if (s->recv_busy)
		s->tp->recv_stop(s);
	progress_close(s);
	return 0;
}

int ringo_stream_wait_closed(ringo_stream *s)
{
	if (!s || !s->closing)
		return -EINVAL;
	while (!s->closed) {
		if (!ringo_task_current())
			return -EPERM;
		s->users++;
		int rc = ringo_event_wait(&s->closed_ev);
		s->users--;
		if (s->freed) {
			maybe_destroy(s);
			return -ESHUTDOWN;
		}
		if (rc < 0)
			return rc;
	}
	return s->werr && s->wlen ? s->werr : 0;
}

static void destroy(ringo_stream *s)
{
	ringo_loop *loop = s->loop;
	ringo__presubmit_del(&s->flush);
	ringo__list_remove(&s->node);
	ringo__free(loop, s->rbuf, s->rcap);
	ringo__free(loop, s->wbuf, s->wcap);
	RINGO_ASSERT(!s->send_block);
	ringo__free(loop, s, sizeof(*s));
}

static void maybe_destroy(ringo_stream *s)
{
	RINGO_ASSERT(s->freed);
	if (s->recv_busy || s->sending || s->users)
		return;
	if (!s->closed) {
		s->tp->release(s);
		s->fd = -1;
		s->closed = true;
	}
	destroy(s);
}

void ringo_stream_free(ringo_stream *s)
{
	if (!s || s->freed)
		return;
	s->freed = true;
	ringo__presubmit_del(&s->flush);
	if (!s->closed) {
		/* Abort: nothing more goes out. */
		s->wlen = 0;
		if (s->recv_busy)
			s->tp->recv_stop(s);
		if (s->sending)
			s->tp->send_stop(s);
	}
	wake(&s->reader, -ESHUTDOWN);
	wake(&s->drainer, -ESHUTDOWN);
	ringo_event_set(&s->closed_ev);
	maybe_destroy(s);
}
