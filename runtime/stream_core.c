/*
 * Streams, the core under the reader (stream_read.c), the writer
 * (stream_write.c) and the transports (stream_io.c, tls/): the per-loop
 * state, waiting, close and free. It reaches a transport only through
 * s->tp; the constructors that choose one are on top (stream.c, whose
 * comment gives the model).
 *
 * Lifetime. free() may come while the kernel still holds the stream's
 * receive or send, or while a task is inside a call on it: the memory goes
 * only when neither is true (ringo__stream_maybe_destroy).
 */
#include <string.h>

#include "stream_internal.h"

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
	sl->mshot_cap = true;
	sl->mshot_lim = true;
	sl->rbuf_budget = RINGO__STREAM_LOOP_BUDGET;
	if (ringo__add_close_hook(loop, streams_close, sl) < 0) {
		ringo__free(loop, sl, sizeof(*sl));
		return NULL;
	}
	loop->streams = sl;
	return sl;
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
/* As wait_in after the suspension: a stream the user freed meanwhile goes
 * once its last user has left. */
static void leave_abandoned(ringo_stream *s, ringo_task **slot, ringo_task *t)
{
	if (*slot == t)
		*slot = NULL;
	RINGO_ASSERT(s->users > 0);
	s->users--;
	if (s->freed)
		ringo__stream_maybe_destroy(s);
}

static void reader_abandon(ringo_task *t)
{
	ringo_stream *s = ringo__task_wait_ctx(t);
	leave_abandoned(s, &s->reader, t);
}

static void drainer_abandon(ringo_task *t)
{
	ringo_stream *s = ringo__task_wait_ctx(t);
	leave_abandoned(s, &s->drainer, t);
}

static const struct ringo__wait_ops reader_wait = {
	.what = "stream read", .interrupt = reader_interrupt, .abandon = reader_abandon};
static const struct ringo__wait_ops drainer_wait = {
	.what = "stream drain", .interrupt = drainer_interrupt, .abandon = drainer_abandon};

void ringo__stream_wake(ringo_task **slot, int value)
{
	ringo_task *t = *slot;
	if (!t)
		return;
	*slot = NULL;
	ringo__task_wake(t, value);
}

static int wait_in(ringo_stream *s, ringo_task **slot, const struct ringo__wait_ops *ops)
{
	RINGO_ASSERT(*slot == NULL); /* one reader, one drainer */
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
		ringo__stream_maybe_destroy(s);
		return -ESHUTDOWN;
	}
	return rc;
}

int ringo__stream_wait_reader(ringo_stream *s)
{
	return wait_in(s, &s->reader, &reader_wait);
}

int ringo__stream_wait_drainer(ringo_stream *s)
{
	return wait_in(s, &s->drainer, &drainer_wait);
}

/* ---- close and free ---- */

/* Release once no receive or send is in flight and, unless the flush
 * failed, everything buffered is out. */
void ringo__stream_progress_close(ringo_stream *s)
{
	RINGO_ASSERT(s->closing);
	if (s->closed || s->releasing || s->recv_busy || s->sending)
		return;
	if (s->wlen && !s->werr && !s->freed) {
		ringo__stream_queue_flush(s);
		return;
	}
	ringo__presubmit_del(&s->flush);
	if (s->tp->close_begin) {
		s->releasing = true;
		if (s->tp->close_begin(s) > 0)
			return; /* ringo__stream_released follows */
	}
	ringo__stream_released(s);
}

void ringo__stream_released(ringo_stream *s)
{
	RINGO_ASSERT(!s->closed);
	s->releasing = false;
	s->tp->release(s);
	s->fd = -1;
	s->closed = true;
	ringo__stream_wake(&s->drainer, 0);
	ringo_event_set(&s->closed_ev);
	if (s->on_closed)
		s->on_closed(s, s->on_readable_ctx);
}

int ringo_stream_close(ringo_stream *s)
{
	if (!s)
		return -EINVAL;
	if (s->closing)
		return 0;
	s->closing = true;
	ringo__stream_wake(&s->reader, -ESHUTDOWN);
	if (s->recv_busy)
		s->tp->recv_stop(s);
	ringo__stream_progress_close(s);
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
			ringo__stream_maybe_destroy(s);
			return -ESHUTDOWN;
		}
		if (rc < 0)
			return rc;
	}
	return s->werr && s->wlen ? s->werr : 0;
}

static void destroy(ringo_stream *s)
{
	RINGO_ASSERT(s->closed);
	RINGO_ASSERT(!s->users && !s->recv_busy && !s->sending);
	ringo_loop *loop = s->loop;
	ringo__presubmit_del(&s->flush);
	ringo__presubmit_del(&s->arm);
	ringo__list_remove(&s->node);
	ringo__free(loop, s->rbuf, s->rcap);
	ringo__stream_rbuf_count(s, s->rcap, 0);
	ringo__free(loop, s->wbuf, s->wcap);
	RINGO_ASSERT(!s->send_block);
	ringo__free(loop, s, sizeof(*s));
	ringo__held_dec(loop);
}

void ringo__stream_maybe_destroy(ringo_stream *s)
{
	RINGO_ASSERT(s->freed);
	if (s->recv_busy || s->sending || s->users)
		return;
	if (!s->closed) {
		/* Also when a close_begin is pending: release aborts it. */
		s->releasing = false;
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
	ringo__presubmit_del(&s->arm);
	if (!s->closed) {
		/* Abort: nothing more goes out. */
		s->wlen = 0;
		s->wwrap = 0;
		if (s->recv_busy)
			s->tp->recv_stop(s);
		if (s->sending)
			s->tp->send_stop(s);
	}
	ringo__stream_wake(&s->reader, -ESHUTDOWN);
	ringo__stream_wake(&s->drainer, -ESHUTDOWN);
	ringo_event_set(&s->closed_ev);
	ringo__stream_maybe_destroy(s);
}
