/*
 * Private to the stream layer (stream_core.c, stream_read.c,
 * stream_write.c, stream_io.c, stream.c, resolve.c, bottom to top; see
 * stream.c): the stream object and the seam between it and its transport.
 *
 * The core (stream_core.c and the two halves) owns the two buffers and
 * every rule users see: reads served from the read buffer, backpressure,
 * drain, close. A
 * transport moves bytes: it receives into the read buffer (or hands the
 * core bytes to copy) and sends from the write buffer, and tells the core
 * through the upcalls below. Transports today (stream_io.c), all on an fd
 * through io_uring:
 *   - socket, one-shot: one IORING_OP_RECV at a time into the buffer's
 *     free tail; IORING_OP_SEND;
 *   - socket, multishot: one multishot RECV picking buffers from a
 *     provided buffer ring the loop shares; the core copies each;
 *   - fd: IORING_OP_READ / IORING_OP_WRITE at the file position (pipes,
 *     character devices, regular files: a subprocess's stdin/stdout).
 * A filter such as TLS (issue 13) is a transport with no fd of its own:
 * its recv_start asks the stream below for ciphertext (as a listener, see
 * on_readable, or from a pump task), decrypts, and calls
 * ringo__stream_recv_data on the stream above; its send_start encrypts and
 * writes to the stream below, calling ringo__stream_sent when the stream
 * below has taken the bytes. Nothing in the core knows about fds except
 * ringo_stream_fd; the transport is chosen in ringo_stream_new (stream.c).
 */
#ifndef RINGO_STREAM_INTERNAL_H
#define RINGO_STREAM_INTERNAL_H

#include <stdatomic.h>

#include "io_internal.h"

/* A transport's receive ended on its own, neither EOF nor an error (a
 * one-shot recv that delivered its bytes; a multishot one the kernel
 * ended, e.g. when the buffer ring ran dry): receive again if wanted. */
#define RINGO__STREAM_ENDED 1

struct ringo__stream_transport {
	const char *name;
	/* The core wants bytes and no receive is in flight: start one.
	 * 0, or -errno (the stream's reads then fail with it). */
	int (*recv_start)(ringo_stream *s);
	/* Stop the receive in flight (backpressure, close, free). Its end
	 * still comes through ringo__stream_recv_end. */
	void (*recv_stop)(ringo_stream *s);
	/* Send n > 0 bytes at p; p stays valid and unchanged until
	 * ringo__stream_sent, which must follow exactly once. 0 or -errno
	 * (then nothing was started). */
	int (*send_start)(ringo_stream *s, const void *p, size_t n);
	/* Stop the send in flight (free); ringo__stream_sent still follows. */
	void (*send_stop)(ringo_stream *s);
	/* The write side is done and everything is sent: half-close (the peer
	 * reads EOF). 0 or -errno. NULL: the transport cannot half-close. */
	int (*shutdown_write)(ringo_stream *s);
	/* Nothing is in flight any more: give back the OS resources (close
	 * the fd). Called once. */
	void (*release)(ringo_stream *s);
	/* Optional (NULL: release at once). A graceful close found nothing
	 * in flight and everything sent: start giving back what takes time
	 * (a filter closes the stream below, flushing it). 0: done, release
	 * follows at once; > 0: pending, the transport calls
	 * ringo__stream_released when it is done (then release follows). A
	 * free meanwhile calls release at once instead: it must abort. */
	int (*close_begin)(ringo_stream *s);
};

extern const struct ringo__stream_transport ringo__stream_socket;
extern const struct ringo__stream_transport ringo__stream_socket_mshot;
extern const struct ringo__stream_transport ringo__stream_fd;

/* One kernel request of a stream's transport (its receive, its send). */
struct ringo__stream_req {
	struct ringo__fd_link link; /* on the fd index while in flight; user_data
				     * is the request's tag, 0 when idle */
	bool cancel_sent;           /* ASYNC_CANCEL queued for it */
	bool cancel_seen;           /* a completion came after it was queued
				     * (multishot: ringo__mshot_cancel_lost) */
};

struct ringo_stream {
	ringo_loop *loop;
	int fd;                     /* -1 once closed */
	const struct ringo__stream_transport *tp;
	unsigned flags;             /* RINGO_STREAM_* as given */
	size_t read_limit, write_high, write_low;
	bool readable, writable;    /* the fd's access mode allows it */

	/* ---- reading: unread bytes are rbuf[rpos, rpos + rlen) ---- */
	char *rbuf;
	size_t rcap, rpos, rlen;
	bool recv_busy;             /* a transport receive is in flight */
	bool recv_filled;           /* the last one-shot receive filled all the
				     * room it had: give the next one more */
	char *recv_at;              /* where the receive in flight lands
				     * (rbuf's tail when it started), NULL if
				     * it lands elsewhere or none is */
	struct ringo__presubmit arm; /* on the loop's list: receive again
				      * before the next io_uring_enter */
	size_t ahead;               /* how far receiving runs ahead of the
				     * reader: see ringo__stream_ask */
	bool paused;                /* backpressure: `ahead` bytes buffered;
				     * cleared at ahead / 2 */
	bool eof;                   /* the transport reported EOF */
	int rerr;                   /* receive error, sticky; 0 = none */
	ringo_task *reader;         /* the task blocked in a read, or NULL */
	size_t want;                /* ...until rlen >= want (or EOF/error) */
	/* An internal consumer instead of a reader task (a filter stacked on
	 * this stream): called after bytes, EOF or an error arrived. */
	void (*on_readable)(ringo_stream *s, void *ctx);
	void *on_readable_ctx;      /* ctx of on_readable, on_sent, on_closed */
	/* ...called after a send ended (wlen fell, or werr was set), before
	 * the stream acts on it (drainer, close); must not free s. */
	void (*on_sent)(ringo_stream *s, void *ctx);
	/* ...called once the stream is closed (fd released) by a graceful
	 * close; must not free s (its caller may still touch it). */
	void (*on_closed)(ringo_stream *s, void *ctx);

	/* ---- writing: wlen unsent bytes, wbuf[wpos, wpos + wlen - wwrap)
	 * and then wbuf[0, wwrap) (see stream_write.c) ---- */
	char *wbuf;
	size_t wcap, wpos, wlen;
	size_t wwrap;               /* the second run's length; 0 = one run */
	size_t sending;             /* bytes of the send in flight: the first
				     * `sending` unsent bytes; 0 = none */
	char *send_block;           /* the old wbuf the send in flight reads
				     * from, when wbuf had to move; NULL if none */
	size_t send_block_size;
	struct ringo__presubmit flush; /* on the loop's list: send before the
					* next io_uring_enter */
	int werr;                   /* write error, sticky; 0 = none */
	bool eof_wanted;            /* write_eof: half-close once flushed */
	bool eof_done;              /* ...done */
	ringo_task *drainer;        /* the task blocked in drain, or NULL */

	/* ---- transport state (fd transports) ---- */
	struct ringo__stream_req rreq, sreq;
	void *tp_ctx;               /* a transport's own state (filters) */
	size_t recv_asked;          /* one-shot: the room the receive in flight has */
	bool recv_auto;             /* sockets without a RECV flag: multishot for
				     * small messages, one-shot for bulk */
	bool recv_switch;           /* a switch waits for the receive to end */
	bool recv_tcp;              /* recv_auto on TCP: see note_mshot */
	bool recv_uncap;            /* the capped receive in flight is being
				     * cancelled for an uncapped one */
	bool recv_limited;          /* the multishot in flight has a total */
	size_t recv_reserved;       /* ...taken from the loop's budget */
	bool recv_capped;           /* the multishot in flight asked for at most
				     * a cap per completion (sqe->len) */
	uint8_t recv_streak;        /* receives in a row that call for a switch */

	/* ---- closing ---- */
	bool closing;               /* close(): flush, then release */
	bool releasing;             /* close_begin pending (ringo__stream_released) */
	bool closed;                /* released: the fd is closed */
	bool freed;                 /* free(): destroy once nothing refers to it */
	unsigned users;             /* tasks inside a suspending call on it */
	ringo_event closed_ev;      /* set once closed (wait_closed) */

	struct ringo_stream_stats stats;
	struct ringo__list node;    /* on the loop's stream list */
};

/* Per loop (loop->streams), made with the first stream, freed at close. */
struct ringo__stream_loop {
	ringo_loop *loop;
	struct ringo__list streams;   /* every stream not yet destroyed */
	ringo_bufring *br;            /* multishot receive buffers, made on
				       * first use; NULL until then */
	bool br_failed;               /* could not be made: one-shot only */
	bool multishot;               /* the kernel has multishot recv (6.0+) */
	bool mshot_cap;               /* ...that takes a cap per completion of
				       * a bundle (6.16+); cleared on -EINVAL */
	bool mshot_lim;               /* ...and a total for the whole receive
				       * (recent kernels); cleared on -EINVAL */
	uint16_t group;               /* br's buffer group id */
	size_t rbuf_over;             /* the read buffers' bytes past
				       * RINGO__STREAM_AHEAD_MIN each, in all */
	size_t rbuf_budget;           /* RINGO__STREAM_LOOP_BUDGET (tests
				       * change it): ringo__stream_ahead */
	size_t mshot_reserved;        /* what the multishot receives in flight
				       * may still bring, on the budget's
				       * account (mshot_recv_start) */
};

struct ringo__stream_loop *ringo__stream_loop_get(ringo_loop *loop);

/* ---- upcalls: the transport tells the core (stream_read.c,
 * stream_write.c, stream_core.c): transports sit above all three ---- */

/* Room at the read buffer's tail for a receive to land in (a one-shot
 * transport calls it in recv_start): *len bytes at the address returned,
 * which stays put until the receive ended. NULL on -ENOMEM. */
void *ringo__stream_recv_room(ringo_stream *s, size_t *len);
/* n > 0 bytes arrived at p: the room recv_room gave (appended in place),
 * or the transport's memory (copied; 0 or -ENOMEM, then the bytes are
 * lost and the stream fails with -ENOMEM). */
int ringo__stream_recv_data(ringo_stream *s, const void *p, size_t n);
/* The receive request ended: RINGO__STREAM_ENDED, 0 (EOF), -ECANCELED
 * (recv_stop), or an error. */
void ringo__stream_recv_end(ringo_stream *s, int res);
/* The send ended: res bytes of those given went out (res >= 0), or an
 * error (-ECANCELED after send_stop). */
void ringo__stream_sent(ringo_stream *s, int res);

/* A graceful release that close_begin left pending is done (never after
 * a free: that released at once). */
void ringo__stream_released(ringo_stream *s);

/* Make a stream on transport tp with its state ctx (s->tp_ctx), for a
 * transport that is not chosen by ringo_stream_new (a filter): fd is -1
 * or the fd ringo_stream_fd reports (the filter's lower stream's: not
 * the new stream's to close). Starts receiving at once (recv_start may
 * be called before this returns). 0, -EINVAL (bad option), -ESHUTDOWN,
 * -ENOMEM. */
int ringo__stream_make(ringo_loop *loop, int fd, const struct ringo__stream_transport *tp,
		       void *ctx, const ringo_stream_options *opts, ringo_stream **out);

/* ---- the core's parts: the halves (stream_read.c, stream_write.c)
 * call down into stream_core.c, never the other way ---- */

/* The most one receive or send asks for: an SQE's length is 32 bits. */
#define RINGO__STREAM_IO_MAX (1u << 30)

/* How far a stream receives ahead of its reader, unasked: as much as the
 * last read asked for (its buffer's size), at least this, at most 2 x
 * read_limit. Bounded so that a connection whose task is busy elsewhere
 * (blocked in drain, say) leaves its backlog in the kernel's socket
 * buffer instead of growing its own: under an open-loop load with a
 * thousand connections, receiving up to 2 x read_limit (and whole
 * bundles) ahead grew the echo server to 400 MB of freshly faulted
 * buffers and collapsed it at 40% of its capacity (perf/loadgen
 * --rate; see CHANGES.md, 0.2). */
#define RINGO__STREAM_AHEAD_MIN (32 * 1024)

/* ...except while the loop's read buffers, counting what each has past
 * RINGO__STREAM_AHEAD_MIN, together hold less than this: then any
 * stream receives up to 2 x read_limit ahead (and a multishot receive
 * goes uncapped if the budget also holds all it may bring: see
 * mshot_recv_start). A reader that works on peek/fill (a proxy: it asks
 * for no size) then moves bulk as fast as one reading big buffers, and a
 * thousand connections still cannot grow past this plus their least
 * each. */
#define RINGO__STREAM_LOOP_BUDGET (4u << 20)

static inline void ringo__stream_ask(ringo_stream *s, size_t n)
{
	size_t hi = 2 * s->read_limit;
	size_t a = n > RINGO__STREAM_AHEAD_MIN ? n : RINGO__STREAM_AHEAD_MIN;
	s->ahead = a < hi ? a : hi;
}

/* The mark a stream receives up to now: its own (above), or 2 x
 * read_limit while the loop is within its budget. */
static inline size_t ringo__stream_ahead(const ringo_stream *s)
{
	const struct ringo__stream_loop *sl = s->loop->streams;
	if (sl && sl->rbuf_over < sl->rbuf_budget) /* none once the loop closed */
		return 2 * s->read_limit > s->ahead ? 2 * s->read_limit : s->ahead;
	return s->ahead;
}

/* A stream whose reads ask for more than the least (big buffers): its
 * bundles go uncapped, and a TCP one stays multishot (see note_mshot and
 * mshot_recv_start in stream_io.c). */
static inline bool ringo__stream_big_reads(const ringo_stream *s)
{
	return s->ahead > RINGO__STREAM_AHEAD_MIN;
}

/* What a read buffer of cap bytes counts against the loop's budget. */
static inline size_t ringo__stream_over(size_t cap)
{
	return cap > RINGO__STREAM_AHEAD_MIN ? cap - RINGO__STREAM_AHEAD_MIN : 0;
}

/* s's read buffer went from old to cap bytes (0: freed): the loop's
 * budget (ringo__stream_ahead) counts it. */
static inline void ringo__stream_rbuf_count(ringo_stream *s, size_t old, size_t cap)
{
	struct ringo__stream_loop *sl = s->loop->streams;
	if (!sl) /* none once the loop closed */
		return;
	sl->rbuf_over -= ringo__stream_over(old);
	sl->rbuf_over += ringo__stream_over(cap);
}

/* cur doubled (from min if 0) until it holds need. */
static inline size_t ringo__stream_grow(size_t cur, size_t need, size_t min)
{
	size_t n = cur ? cur : min;
	while (n < need)
		n *= 2;
	return n;
}

/* Wake the task in *slot (if any) with value and empty the slot. */
void ringo__stream_wake(ringo_task **slot, int value);
/* Suspend the current task as the stream's reader / drainer until woken.
 * 0 (look again), or -ECANCELED, -ESHUTDOWN (closed or freed meanwhile:
 * if freed, s may be gone once this returns: return at once), -EPERM (no
 * task). */
int ringo__stream_wait_reader(ringo_stream *s);
int ringo__stream_wait_drainer(ringo_stream *s);
/* Receive if the stream wants bytes and no receive is in flight. */
void ringo__stream_maybe_arm(ringo_stream *s);
/* The pre-submit step a receive's end queues (s->arm): maybe_arm. */
void ringo__stream_arm_run(ringo_loop *loop, struct ringo__presubmit *p);

/* ---- handing a block from one stream's read buffer to a write buffer
 * (ringo_stream_forward, stream.c) ---- */

/* s's read buffer holds exactly n unread bytes and no receive lands in
 * it: its block may go elsewhere. */
bool ringo__stream_rbuf_movable(const ringo_stream *s, size_t n);
/* Give s the empty block blk of cap bytes (NULL, 0: none) as its read
 * buffer in place of the one it had, whose bytes count as consumed. */
void ringo__stream_rbuf_replace(ringo_stream *s, char *blk, size_t cap);
/* The write buffer is empty and no send reads from it: 0 if s takes
 * writes, else why not (write's errors). */
int ringo__stream_wbuf_idle(const ringo_stream *s);
/* Make blk (cap bytes, n to send at pos) s's write buffer, as a write of
 * them would (ringo__stream_wbuf_idle said yes). */
void ringo__stream_wbuf_replace(ringo_stream *s, char *blk, size_t cap, size_t pos, size_t n);
/* Queue the pre-submit step if bytes wait and no send is in flight. The
 * writer's step (s->flush runs ringo__stream_flush_run, set at creation);
 * inline, as it was inside the writer: every write calls it, and closing
 * (stream_core.c, below the writer) needs it too. */
static inline void ringo__stream_queue_flush(ringo_stream *s)
{
	if (!s->sending && s->wlen && !s->loop->closed)
		ringo__presubmit_add(s->loop, &s->flush);
}
/* The pre-submit step: send what is buffered. */
void ringo__stream_flush_run(ringo_loop *loop, struct ringo__presubmit *p);
/* Closing: release once nothing is in flight and the buffer is out.
 * (The closing functions, waiting and the per-loop state are in
 * stream_core.c; maybe_arm is the reader's, flush_run the writer's.) */
void ringo__stream_progress_close(ringo_stream *s);
/* Freed: destroy once neither the kernel nor a task refers to it. */
void ringo__stream_maybe_destroy(ringo_stream *s);

/* ---- helpers the fd transports share (stream_io.c) ---- */

/* Give the socket stream s its transport (s->flags: RINGO_STREAM_*). */
void ringo__stream_socket_transport(ringo_stream *s);

/* Options as ringo_stream_new checks them (NULL: defaults). 0 or -EINVAL. */
int ringo__stream_check_options(const ringo_stream_options *opts);

/* The lookup ringo_getaddrinfo runs on a worker: getaddrinfo(3). Tests
 * put a stand-in here (a slow one, one that knows made-up names); its
 * result is freed with freeaddrinfo, so it must come from getaddrinfo. */
extern int (*ringo__resolve_fn)(const char *node, const char *service,
				const struct addrinfo *hints, struct addrinfo **res);

/* Lookup jobs not yet freed, in the whole process (tests). */
extern _Atomic long ringo__resolve_jobs;

/* Connecting (resolve.c): order[0, n) gets list's n addresses in the
 * order they are tried (families interleaved, the first one first). */
void ringo__connect_order(const struct addrinfo *list, const struct addrinfo **order, size_t n);
/* Try each address in turn: the connected fd, or the error. */
int ringo__connect_list(const struct addrinfo *list);

/* For tests: the transport in use ("socket", "socket-multishot", "fd"). */
const char *ringo__stream_transport_name(const ringo_stream *s);

#endif /* RINGO_STREAM_INTERNAL_H */
