/*
 * Streams, the writing half: the write buffer, the send that empties it
 * before each io_uring_enter, drain, write_eof (see stream.c for the model).
 *
 * Only one send is in flight at a time: bytes stay in order. The kernel
 * reads the send's bytes from the buffer until its completion, so while a
 * send is in flight those bytes never move. The buffer is a ring of two
 * runs (a bip buffer): the unsent bytes are wbuf[wpos, wpos + wlen -
 * wwrap), then, once the tail is full, wbuf[0, wwrap). A write that finds
 * no room at the tail goes on at the front, below the bytes in flight,
 * instead of moving them. Sends take the first run; when it is all sent
 * the second one becomes the first. Only when both runs together have no
 * room does the buffer grow: the unsent bytes are copied, in order, to a
 * bigger block, and the old one is kept until the send in flight ends
 * (send_block).
 */
#include <sys/uio.h>
#include <string.h>

#include "stream_internal.h"

#define WBUF_MIN 4096
#define HARD_CAP_FACTOR 16 /* write: -ENOBUFS past 16 x write_high */

/* ---- the write buffer ---- */

static int write_check(const ringo_stream *s)
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

/* The first run's length: the next send's bytes. */
static size_t wbuf_first(const ringo_stream *s)
{
	return s->wlen - s->wwrap;
}

/* Move the unsent bytes, both runs in order, to a new block of cap
 * bytes. A send in flight keeps reading the old block: it is kept until
 * the send ends. */
static int wbuf_move(ringo_stream *s, size_t cap)
{
	char *nb = ringo__alloc(s->loop, cap);
	if (!nb)
		return -ENOMEM;
	size_t first = wbuf_first(s);
	if (first)
		memcpy(nb, s->wbuf + s->wpos, first);
	if (s->wwrap)
		memcpy(nb + first, s->wbuf, s->wwrap);
	if (s->sending && !s->send_block) {
		s->send_block = s->wbuf;
		s->send_block_size = s->wcap;
	} else {
		ringo__free(s->loop, s->wbuf, s->wcap);
	}
	s->wbuf = nb;
	s->wcap = cap;
	s->wpos = 0;
	s->wwrap = 0;
	return 0;
}

/* Room for n more bytes, at the first run's tail and then at the front,
 * below wpos. */
static int wbuf_reserve(ringo_stream *s, size_t n)
{
	if (s->wwrap) {
		if (s->wpos - s->wwrap >= n)
			return 0;
	} else {
		size_t tail = s->wcap - s->wpos - s->wlen;
		if (tail >= n)
			return 0;
		/* With no send in flight, a small first run moves down
		 * (one send takes it all); else the write wraps. */
		if (!s->sending && s->wcap - s->wlen >= n && s->wlen <= s->wcap / 2) {
			if (s->wlen)
				memmove(s->wbuf, s->wbuf + s->wpos, s->wlen);
			s->wpos = 0;
			return 0;
		}
		if (s->wlen && tail + s->wpos >= n)
			return 0;
	}
	if (s->wlen > SIZE_MAX - n)
		return -ENOMEM;
	return wbuf_move(s, ringo__stream_grow(s->wcap, s->wlen + n, WBUF_MIN));
}

/* Append n bytes wbuf_reserve made room for: the first run's tail, then
 * the front. */
static void wbuf_append(ringo_stream *s, const void *p, size_t n)
{
	if (!s->wwrap) {
		size_t end = s->wpos + s->wlen;
		size_t tail = s->wcap - end;
		size_t k = n < tail ? n : tail;
		memcpy(s->wbuf + end, p, k);
		s->wlen += k;
		p = (const char *)p + k;
		n -= k;
		if (!n)
			return;
	}
	memcpy(s->wbuf + s->wwrap, p, n);
	s->wwrap += n;
	s->wlen += n;
}

/* Refuse a write onto a buffer piled up past the hard cap: the writer
 * does not drain. */
static int over_cap(const ringo_stream *s)
{
	return s->wlen > HARD_CAP_FACTOR * s->write_high ? -ENOBUFS : 0;
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
	ringo__stream_queue_flush(s);
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
	ringo__stream_queue_flush(s);
	return 0;
}

int ringo__stream_wbuf_idle(const ringo_stream *s)
{
	int err = write_check(s);
	if (err < 0)
		return err;
	return s->wlen || s->sending || s->send_block ? -EBUSY : 0;
}

void ringo__stream_wbuf_replace(ringo_stream *s, char *blk, size_t cap, size_t pos, size_t n)
{
	RINGO_ASSERT(!s->wlen && !s->sending && !s->send_block && pos + n <= cap);
	s->wbuf = blk;
	s->wcap = cap;
	s->wpos = pos;
	s->wlen = n;
	s->wwrap = 0;
	s->stats.bytes_forwarded_in_place += n;
	ringo__stream_queue_flush(s);
}

size_t ringo_stream_write_buffered(const ringo_stream *s)
{
	return s ? s->wlen : 0;
}

/* Pre-submit: everything buffered goes out in one send. */
void ringo__stream_flush_run(ringo_loop *loop, struct ringo__presubmit *p)
{
	ringo_stream *s = ringo__container_of(p, ringo_stream, flush);
	if (s->sending || !s->wlen || s->werr || s->freed || loop->closed)
		return;
	size_t n = wbuf_first(s);
	if (n > RINGO__STREAM_IO_MAX)
		n = RINGO__STREAM_IO_MAX;
	int err = s->tp->send_start(s, s->wbuf + s->wpos, n);
	if (err < 0) {
		s->werr = err;
		ringo__stream_wake(&s->drainer, 0);
		if (s->closing)
			ringo__stream_progress_close(s);
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
	if (s->freed) {
		/* Aborted: the buffer was dropped, bytes sent count no more. */
		ringo__stream_maybe_destroy(s);
		return;
	}
	if (res == 0)
		res = -EIO; /* a stream never sends nothing of a non-empty buffer */
	if (res > 0) {
		s->wpos += (size_t)res;
		s->wlen -= (size_t)res;
		if (s->wwrap && s->wlen == s->wwrap) {
			/* The first run is all sent: the second one is first. */
			s->wpos = 0;
			s->wwrap = 0;
		}
		count_written(s, (size_t)res);
	} else if (!s->werr) {
		/* -ECANCELED comes from the loop's close. */
		s->werr = res == -ECANCELED ? -ESHUTDOWN : res;
	}
	if (s->on_sent)
		s->on_sent(s, s->on_readable_ctx);
	if (s->wlen == 0)
		write_idle(s);
	if (s->drainer && (s->wlen <= s->write_low || s->werr))
		ringo__stream_wake(&s->drainer, 0);
	if (s->closing)
		ringo__stream_progress_close(s);
	else if (!s->werr)
		ringo__stream_queue_flush(s);
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
		int rc = ringo__stream_wait_drainer(s);
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
