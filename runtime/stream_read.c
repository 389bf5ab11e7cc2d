/*
 * Streams, the reading half: the read buffer the transport receives into,
 * backpressure, and the reads (see stream.c for the model).
 */
#include <limits.h>
#include <string.h>

#include "stream_internal.h"

#define RBUF_MIN 4096 /* a read buffer's first size */

/* ---- the read buffer ---- */

static bool recv_wanted(const ringo_stream *s)
{
	if (!s->readable || s->eof || s->rerr || s->closing || s->freed || s->loop->closed)
		return false;
	if (s->reader && s->rlen < s->want)
		return true;
	return !s->paused;
}

void ringo__stream_maybe_arm(ringo_stream *s)
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
		ringo__stream_wake(&s->reader, 0);
	}
}

/* The most the read buffer may hold: how far the stream receives ahead,
 * or what a waiting reader needs. */
static size_t rbuf_limit(const ringo_stream *s)
{
	size_t lim = ringo__stream_ahead(s);
	if (s->reader && s->want > lim)
		lim = s->want;
	return lim;
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
	ringo__stream_rbuf_count(s, s->rcap, cap);
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
	return rbuf_resize(s, ringo__stream_grow(s->rcap, s->rlen + room, RBUF_MIN));
}

void *ringo__stream_recv_room(ringo_stream *s, size_t *len)
{
	RINGO_ASSERT(s->recv_busy); /* only a receive that started asks */
	size_t lim = rbuf_limit(s);
	bool demand = s->reader && s->want > s->rlen;
	/* The last receive filled all the room it had: bulk data. */
	bool bulk = s->recv_filled;
	if (s->rlen == 0) {
		s->rpos = 0;
		/* A buffer grown for one big read goes back once empty. */
		if (s->rcap > lim && s->rcap > RBUF_MIN) {
			ringo__free(s->loop, s->rbuf, s->rcap);
			ringo__stream_rbuf_count(s, s->rcap, 0);
			s->rbuf = NULL;
			s->rcap = 0;
			s->recv_filled = false;
		}
	}
	/* A new buffer starts at the least, or, amid bulk data, at the mark
	 * (a relay's forward hands its read buffer on each time: it would
	 * start from the least every time otherwise). Grow when the last
	 * receive filled all the room it had, or for a reader that needs
	 * more than fits. */
	size_t cap = s->rcap ? s->rcap : bulk && lim > RBUF_MIN ? lim : RBUF_MIN;
	if (s->recv_filled && cap < lim)
		cap *= 2;
	if (demand && s->want > cap)
		cap = ringo__stream_grow(cap, s->want, RBUF_MIN);
	if (cap <= s->rlen)
		cap = ringo__stream_grow(cap, s->rlen + 1, RBUF_MIN);
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
	if (room > RINGO__STREAM_IO_MAX)
		room = RINGO__STREAM_IO_MAX;
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
		ringo__stream_wake(&s->reader, 0);
	if (s->on_readable)
		s->on_readable(s, s->on_readable_ctx);
}

int ringo__stream_recv_data(ringo_stream *s, const void *p, size_t n)
{
	RINGO_ASSERT(n > 0);
	RINGO_ASSERT(s->recv_busy);
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
	if (s->rlen >= ringo__stream_ahead(s)) {
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
	ringo__stream_wake(&s->drainer, 0);
}

void ringo__stream_recv_end(ringo_stream *s, int res)
{
	RINGO_ASSERT(s->recv_busy);
	s->recv_busy = false;
	s->recv_at = NULL;
	if (res == 0) {
		s->eof = true;
	} else if (res < 0 && res != -ECANCELED && !s->rerr) {
		s->rerr = res;
		connection_lost(s, res);
	}
	if (res <= 0)
		notify_reader(s);
	if (s->freed) {
		ringo__stream_maybe_destroy(s);
		return;
	}
	if (s->closing) {
		ringo__stream_progress_close(s);
		return;
	}
	/* The next receive starts before the loop's next io_uring_enter, not
	 * now: until then no receive lands in the read buffer, so a task
	 * woken by these bytes may hand the whole block on
	 * (ringo_stream_forward) and the next receive takes the new one. */
	if (!s->loop->closed)
		ringo__presubmit_add(s->loop, &s->arm);
}

void ringo__stream_arm_run(ringo_loop *loop, struct ringo__presubmit *p)
{
	ringo_stream *s = ringo__container_of(p, ringo_stream, arm);
	ringo__stream_maybe_arm(s);
}

/* Below half the mark again: receive again. */
static void maybe_unpause(ringo_stream *s)
{
	if (s->paused && s->rlen <= ringo__stream_ahead(s) / 2) {
		s->paused = false;
		ringo__stream_maybe_arm(s);
	}
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
	maybe_unpause(s);
}

bool ringo__stream_rbuf_movable(const ringo_stream *s, size_t n)
{
	return s->rlen == n && n > 0 && !(s->recv_busy && s->recv_at);
}

void ringo__stream_rbuf_replace(ringo_stream *s, char *blk, size_t cap)
{
	RINGO_ASSERT(!(s->recv_busy && s->recv_at));
	ringo__stream_rbuf_count(s, s->rcap, cap);
	s->rbuf = blk;
	s->rcap = cap;
	s->rpos = 0;
	s->rlen = 0;
	maybe_unpause(s);
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
	ringo__stream_maybe_arm(s);
	if (s->rerr) { /* the receive could not start */
		s->reader = NULL;
		return s->rerr;
	}
	s->reader = NULL;
	return ringo__stream_wait_reader(s);
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
	ringo__stream_ask(s, n);
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
	ringo__stream_ask(s, n);
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
