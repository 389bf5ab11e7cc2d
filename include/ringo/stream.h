/*
 * ringo streams: asyncio's StreamReader and StreamWriter on one object, over
 * a connected socket, a pipe or another file descriptor; and the client side
 * of the server layer (connect with name resolution, getaddrinfo off the
 * loop). Included by ringo.h; compiles on its own too.
 *
 * The model (asyncio's streams, with ringo's byte-keeping rule):
 *
 *  - A stream owns its fd and two buffers. A receive of the stream's own
 *    (not a task's) runs in the background and lands bytes in the read
 *    buffer; reads take them from there. So a read that is cancelled, or
 *    times out, returns at once and loses nothing: a read that fails hands
 *    over nothing and consumes nothing, and every byte not handed to the
 *    caller stays readable (peek, or the next read).
 *  - Receive backpressure: the stream receives ahead of its reader only as
 *    far as the last ringo_stream_read or read_exactly asked for (its n),
 *    at least 32 KiB and at most 2 x read_limit (32 KiB before any read);
 *    while all the loop's streams together hold little (their read
 *    buffers less than 4 MiB past 32 KiB each), up to 2 x read_limit.
 *    Once that much waits unread it stops receiving (the kernel's socket
 *    buffer then fills and TCP flow control slows the peer); it starts
 *    again when the reader has taken them down to half, or when a read
 *    needs more than is buffered. So a busy connection leaves its backlog
 *    in the kernel, not in the process; read with a big buffer for bulk.
 *  - Writes never suspend: they copy into the write buffer, and the stream
 *    sends from there in the background (every write of one loop iteration
 *    goes out in one send, in the loop's next submission). drain() is the
 *    backpressure: it suspends while more than write_high bytes are buffered,
 *    until they are down to write_low. A writer that never drains grows the
 *    buffer without bound (up to the hard cap below): call drain after
 *    writes, as in asyncio.
 *  - Errors: a failed send makes the stream's write side fail for good (the
 *    error is sticky: the next write, drain, close report it); a receive
 *    error (the peer reset the connection) fails reads once the buffered
 *    bytes are taken, wakes a blocked reader, and fails writes too.
 *  - One reader task and one writer task may use a stream at the same time
 *    (a second task blocking in a read, or in drain, while one is already
 *    there gets -EBUSY). Calls that do not suspend may come from any task or
 *    callback of the stream's loop. Loop thread only.
 *
 * Cancellation and timeouts: a read, fill, drain or wait_closed cancelled
 * (ringo_task_cancel, or a timeout scope's deadline: ringo_timeout_enter
 * around the call is the way to put a time limit on any of them) returns
 * -ECANCELED at once, having consumed nothing, and the stream stays usable.
 * There is no per-stream timeout: a timeout scope gives idle and per-call
 * limits alike. (ringo_io_timeout does not apply: stream calls make no I/O
 * operation of the task's own; it would bound the task's next one.)
 */
/* ringo.h first: it includes every sub-header, this one included, in
 * dependency order. */
#include "../ringo.h"

#ifndef RINGO_STREAM_H
#define RINGO_STREAM_H


#ifdef __cplusplus
extern "C" {
#endif

struct iovec;
struct addrinfo;
typedef struct ringo_stream ringo_stream;

enum {
	/* Receive with one recv at a time straight into the stream's buffer
	 * (one SQE per receive). */
	RINGO_STREAM_RECV_ONESHOT = 1u << 0,
	/* Receive with one multishot recv that picks buffers from a provided
	 * buffer ring the loop shares between its streams (idle streams hold
	 * no kernel-side buffer); bytes are copied into the stream's buffer.
	 * Linux 6.0+; where the kernel lacks it the stream uses one-shot recv.
	 * Neither flag: the default, whichever measured faster
	 * (perf/stream; see ringo_stream_new). Sockets only. */
	RINGO_STREAM_RECV_MULTISHOT = 1u << 1,
};

typedef struct ringo_stream_options {
	/* The most bytes read_until/readline may buffer looking for the
	 * delimiter (asyncio's `limit`); the stream receives at most 2 x
	 * read_limit ahead of its reader (see the model above). 0 = 64 KiB. */
	size_t read_limit;
	/* drain() waits while more than this is buffered. 0 = 64 KiB. */
	size_t write_high;
	/* ...until it is down to this. 0 = write_high / 4; must be <=
	 * write_high. */
	size_t write_low;
	unsigned flags; /* RINGO_STREAM_* */
} ringo_stream_options;

/* Per stream: bytes that went through the transport (received into the
 * read buffer; confirmed sent from the write buffer). */
struct ringo_stream_stats {
	uint64_t bytes_read;
	uint64_t bytes_written;
	/* Bytes ringo_stream_forward gave this stream to write without a
	 * copy (the read buffer's block became its write buffer); counted
	 * when forwarded, so some may not be sent yet. */
	uint64_t bytes_forwarded_in_place;
};

/* ---- life cycle ---- */

/* Does not suspend. Make a stream on fd, which must be a connected
 * SOCK_STREAM socket, a pipe, a character device or a regular file (read
 * and written at the file position, with read/write instead of
 * recv/send); which one is found with fstat. The stream owns fd from then
 * on: it closes it (ringo_stream_close, ringo_stream_free); do not close
 * it or use it for I/O yourself. A read-only fd (a pipe's read end) fails
 * writes with -EBADF; a write-only one (a pipe's write end) fails reads
 * with -EBADF. A non-socket fd in O_NONBLOCK mode is switched to blocking
 * mode (the ring waits for it without blocking the thread; io_uring would
 * fail a read of an empty non-blocking pipe with -EAGAIN instead). A write
 * to a pipe whose reader is gone fails with -EPIPE (Linux 6.18+:
 * RWF_NOSIGNAL); older kernels raise SIGPIPE there as write(2) does, so a
 * program writing to pipes must ignore SIGPIPE on them. Starts receiving
 * at once. opts may be NULL (defaults).
 * Returns 0 and *out (the caller's, until ringo_stream_free), or -EINVAL
 * (NULL loop/out, fd < 0, a bad option, write_low > write_high, a
 * datagram socket or a directory), -EBADF (fd not open), -ESHUTDOWN (loop
 * closed), -ENOMEM; on failure fd stays the caller's (not closed). */
int ringo_stream_new(ringo_loop *loop, int fd, const ringo_stream_options *opts,
		     ringo_stream **out);

/* Does not suspend. The stream's fd (for getsockopt, getpeername...), or
 * -EBADF once it was closed, -EINVAL for NULL. Do not read, write or close
 * it. */
int ringo_stream_fd(const ringo_stream *s);

/* Does not suspend. The loop the stream belongs to (NULL for NULL). */
ringo_loop *ringo_stream_loop(const ringo_stream *s);

/* Does not suspend. asyncio's writer.close(): stop receiving (a blocked
 * reader wakes with -ESHUTDOWN; bytes already buffered stay readable at
 * peek), send what is buffered, then close the fd; wait_closed waits for
 * that. Afterwards read/write/drain/fill/write_eof return -ESHUTDOWN; the
 * queries (peek, at_eof, write_buffered, stats) keep working until free.
 * A peer that never reads keeps the fd open with the bytes unsent: bound
 * wait_closed with a timeout scope and free the stream to abort. 0 (also
 * when already closing), -EINVAL (NULL). */
int ringo_stream_close(ringo_stream *s);

/* May suspend until the fd is closed after ringo_stream_close (at once if
 * it is). Returns 0 when everything buffered was sent before the close, or
 * the sticky write error that cut the flush short (-EPIPE,
 * -ECONNRESET...: those bytes were not delivered). -EINVAL (NULL, or the
 * stream is not closing: nothing would ever close it), -ESHUTDOWN (freed
 * while waiting), -EPERM outside a task when it would have to wait.
 * Cancelled: -ECANCELED at once; the close goes on in the background. Any
 * number of tasks may wait. */
int ringo_stream_wait_closed(ringo_stream *s);

/* Does not suspend. Abort and free: if the stream is not closed yet (a
 * close still flushing included), bytes not yet sent are dropped, its
 * receive and send are cancelled and its fd is closed as soon as the kernel
 * gave them back; tasks blocked on it wake with -ESHUTDOWN. The memory is
 * released once the kernel holds nothing of it any more (the final
 * completions of its receive and send, normally within the loop's next
 * iteration; at the latest when the loop closes) and no task is inside a
 * call on it; the handle is invalid at once. To deliver what is buffered,
 * close and wait_closed first. Free every stream before ringo_loop_free.
 * NULL is a no-op. */
void ringo_stream_free(ringo_stream *s);

/* ---- reading ----
 * Every read may suspend (only while it must wait for bytes: one that can
 * be served from the buffer returns at once, inside or outside a task, and
 * a cancellation pending on the task is then delivered at its next
 * suspension). Common returns: -EBUSY (another task is blocked reading),
 * -ESHUTDOWN (closed), -EPERM (it would have to wait and there is no
 * task), -EBADF (a write-only fd), the receive error (-ECONNRESET...) once
 * the buffered bytes cannot serve the read, -ECANCELED (nothing consumed,
 * dst not written). A read that fails consumes nothing and writes nothing
 * to dst; one that returns a count consumed exactly that many bytes. dst
 * may be reused as soon as the call returned. */

/* May suspend. 1..n buffered bytes (waiting for at least one), 0 at EOF
 * with nothing buffered, or 0 for n == 0. n > INT_MAX reads at most
 * INT_MAX. -EINVAL (NULL s, or NULL dst with n > 0), and the common
 * returns above (-EBUSY, -ESHUTDOWN, -EPERM, -EBADF, -ECANCELED, the
 * receive error). */
int ringo_stream_read(ringo_stream *s, void *dst, size_t n);

/* May suspend. Exactly n bytes: returns n (0 for n == 0). -ENODATA at EOF
 * with fewer buffered (they stay buffered: peek shows them; at_eof tells a
 * clean EOF from a message cut short), -EINVAL (NULL s, n > INT_MAX, NULL
 * dst with n > 0), and the common returns above (-EBUSY, -ESHUTDOWN,
 * -EPERM, -EBADF, -ECANCELED, the receive error). The buffer grows to
 * hold n. */
int ringo_stream_read_exactly(ringo_stream *s, void *dst, size_t n);

/* May suspend. Up to and including the first occurrence of delim (dlen
 * bytes), which delim points at only during the call: copies
 * the line into dst and consumes it; returns its length. -EMSGSIZE when
 * the line without delim would be longer than read_limit (asyncio's
 * LimitOverrunError: as soon as read_limit bytes are buffered without the
 * delimiter) or the line longer than cap: nothing is consumed, the bytes
 * stay buffered (peek, consume); -ENODATA at EOF without the delimiter
 * (the partial line stays buffered); -EINVAL (NULL s, a NULL or empty
 * delim, NULL dst with cap > 0), and the common returns above. */
int ringo_stream_read_until(ringo_stream *s, const void *delim, size_t dlen, void *dst,
			    size_t cap);

/* May suspend. read_until with "\n", except at EOF as asyncio's
 * readline: the last line without "\n" is returned (and consumed) as it
 * is, and 0 means EOF with nothing buffered. -EMSGSIZE as read_until
 * (nothing consumed; asyncio would drop the line), -EINVAL (NULL s, or
 * NULL dst with cap > 0), and the common returns above. */
int ringo_stream_readline(ringo_stream *s, void *dst, size_t cap);

/* May suspend. Wait until more bytes than are buffered now have arrived
 * (at least one), receiving even past the backpressure mark: returns how
 * many were added (nothing is consumed), 0 at EOF; the common returns
 * above (-EBUSY, -ESHUTDOWN, -EPERM, -EBADF, -ECANCELED, the receive
 * error). For parsers that work on peek. */
int ringo_stream_fill(ringo_stream *s);

/* Does not suspend. The bytes buffered and not consumed: *len of them at
 * the returned address (NULL when none), valid until the next call on the
 * stream that may suspend, consume, or free. len may not be NULL. */
const void *ringo_stream_peek(const ringo_stream *s, size_t *len);

/* Does not suspend. Drop the first n buffered bytes (after peek). 0,
 * -EINVAL if fewer are buffered (nothing consumed) or s is NULL. */
int ringo_stream_consume(ringo_stream *s, size_t n);

/* Does not suspend. EOF received and every buffered byte consumed
 * (asyncio at_eof); false for NULL. */
bool ringo_stream_at_eof(const ringo_stream *s);

/* ---- writing ---- */

/* Does not suspend. Copy buf[0, n) into the write buffer; it goes out in
 * the background, in order (buf may be reused at once). 0; the sticky
 * write error (-EPIPE, -ECONNRESET, ... or the receive error) and nothing
 * taken; -ESHUTDOWN after write_eof or close; -EBADF on a read-only fd;
 * -ENOBUFS when more than 16 x write_high was already buffered (the caller
 * does not drain: nothing taken); -ENOMEM; -EINVAL (NULL s, or NULL buf
 * with n > 0). */
int ringo_stream_write(ringo_stream *s, const void *buf, size_t n);

/* Does not suspend. As ringo_stream_write for the iovcnt buffers in
 * order, all or nothing. -EINVAL also for iovcnt < 0, a NULL iov with
 * iovcnt > 0, or a NULL base with a length. */
int ringo_stream_writev(ringo_stream *s, const struct iovec *iov, int iovcnt);

/* May suspend, while more than write_high bytes are buffered, until they
 * are down to write_low (asyncio drain). 0; the sticky write error
 * (returned at once if set; the buffered bytes will not be sent);
 * -EINVAL (NULL s); -EBUSY (another task is draining); -ESHUTDOWN (freed meanwhile);
 * -EPERM outside a task when it would have to wait. Cancelled:
 * -ECANCELED at once; the bytes stay buffered and are still sent. */
int ringo_stream_drain(ringo_stream *s);

/* Does not suspend. Bytes written and not yet confirmed sent (those of a
 * send in flight included); 0 for NULL. */
size_t ringo_stream_write_buffered(const ringo_stream *s);

/* Does not suspend. Half-close (asyncio write_eof): once the buffered
 * bytes are sent, the peer sees EOF (shutdown SHUT_WR on a socket; a
 * pipe's write end is closed), while this side still reads. Later
 * writes: -ESHUTDOWN. 0 (also if called before), the sticky write
 * error, -EINVAL (NULL s), -ESHUTDOWN (closed), -EBADF (a read-only
 * stream), -EOPNOTSUPP (an fd that is both read and written and not a socket: it
 * cannot be half-closed). */
int ringo_stream_write_eof(ringo_stream *s);

/* Does not suspend. Write the first n buffered bytes of `from` to `to`
 * and consume them from `from`: ringo_stream_write(to, peek(from), n)
 * then ringo_stream_consume(from, n), without the copy when it can be
 * avoided (an echo or a proxy's loop). When `from` holds just those n
 * bytes, none of its receives is landing in its buffer and `to` has
 * nothing buffered or in flight, the two streams' buffers change places:
 * the bytes go out from where they were received. `from` and `to` may be
 * the same stream (an echo) and must be on the same loop. 0; to's write
 * errors as ringo_stream_write (-ESHUTDOWN, -EBADF, -ENOBUFS, -ENOMEM,
 * the sticky error) with nothing written and nothing consumed; -EINVAL
 * (NULL stream, streams of two loops, or fewer than n bytes buffered:
 * nothing done). A pointer from peek(from) is invalid afterwards. */
int ringo_stream_forward(ringo_stream *from, ringo_stream *to, size_t n);

/* Does not suspend. The stream's counters into *out (zeros for a NULL s;
 * out NULL: nothing). */
void ringo_stream_stats(const ringo_stream *s, struct ringo_stream_stats *out);

/* ---- the client side ---- */

/* May suspend. asyncio open_connection: connect to host:port and make a
 * stream of the connection (opts as ringo_stream_new; NULL = defaults).
 * host is a numeric IPv4/IPv6 address (used as it is: no executor
 * detour) or a name, resolved with ringo_getaddrinfo; each address is then
 * tried in turn, IPv6 and IPv4 interleaved starting with the family the
 * resolver put first (RFC 8305's order, one attempt at a time), until one
 * connects. timeout_ns bounds the whole (resolution and every attempt):
 * RINGO_FOREVER (< 0) none; 0 fails with -ETIMEDOUT unless nothing needs
 * to wait. Returns 0 and *out (the caller's, until ringo_stream_free), or:
 * -ETIMEDOUT; the error of the attempts (the first one that did not just
 * say the address family or route is unavailable: -ECONNREFUSED,
 * -ENETUNREACH, ...); getaddrinfo's (-ENOENT: no such name, -EAGAIN,
 * ...); -EINVAL (NULL host/out, port outside 0..65535, a bad option);
 * -EPERM outside a task; -ENOMEM. Cancelled: -ECANCELED, no fd left open
 * (a peer may have seen a connection that closed at once) and nothing
 * else left behind (a lookup still running on a worker thread finishes
 * and is freed there). */
int ringo_stream_connect(const char *host, int port, int64_t timeout_ns,
			 const ringo_stream_options *opts, ringo_stream **out);

/* May suspend. The same for the Unix stream socket at path (as
 * ringo_unix_connect: 0 succeeds only if the listener's backlog has room
 * now). -EINVAL for a
 * NULL, empty or too long path; -ENOENT (no socket there), -ECONNREFUSED
 * (nobody listens), -ETIMEDOUT (the backlog stayed full), and as
 * ringo_stream_connect. Cancelled: -ECANCELED, no fd left open. */
int ringo_stream_connect_unix(const char *path, int64_t timeout_ns,
			      const ringo_stream_options *opts, ringo_stream **out);

/* May suspend. getaddrinfo(3) on a worker thread of the loop's default
 * executor (the system resolver: /etc/hosts, DNS, nsswitch). node,
 * service and hints (NULL = any family, any socket type) are copied
 * before the call suspends. Returns 0 and *res (free it with
 * freeaddrinfo), or getaddrinfo's error as a negative errno: EAI_NONAME
 * -ENOENT (no such name), EAI_AGAIN -EAGAIN (no answer yet: try again),
 * EAI_MEMORY -ENOMEM, EAI_FAMILY -EAFNOSUPPORT, EAI_SERVICE -ESRCH (no
 * such service), EAI_NODATA -ENODATA (the name has no address), EAI_SYSTEM
 * the errno, EAI_BADFLAGS -EINVAL, others -EIO; -EINVAL (NULL res, or
 * node and service both NULL), -EPERM outside a task, -ESHUTDOWN (the
 * default executor was shut down). Cancelled: -ECANCELED at once and *res
 * untouched: a lookup not started is dropped, one running finishes on its
 * thread and its result is freed there (the job owns its copies). */
int ringo_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		      struct addrinfo **res);

#ifdef __cplusplus
}
#endif

#endif /* RINGO_STREAM_H */
