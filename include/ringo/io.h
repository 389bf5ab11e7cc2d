/*
 * ringo I/O: io_uring operations from tasks, deadlines, networking helpers.
 * Included by ringo.h; do not include on its own. (UDP and signals: net.h.)
 *
 * Every operation here:
 *   - may suspend the calling task (and only it) until the operation's final
 *     completion; called outside a task it returns -EPERM;
 *   - returns what the system call would return, or a negative errno;
 *   - returns -ECANCELED if the task is cancelled: the kernel is asked to
 *     cancel the operation and the task resumes only after the operation's
 *     final completion, so no buffer it passed is written after the call
 *     returned. If the operation completed anyway its result is returned
 *     and the cancellation is delivered at the task's next suspension;
 *   - returns -ETIMEDOUT once the task's deadline (ringo_deadline_push) or
 *     the per-operation deadline (ringo_io_deadline) has passed;
 *   - returns -EBADF if ringo_close() on this loop closed its fd (either
 *     fd of a splice) while it was blocked, and only then;
 *   - returns -EOPNOTSUPP if the running kernel lacks the io_uring opcode
 *     (probed once per loop);
 *   - allocates nothing: its record lives on the task's stack. Submissions
 *     of all tasks are batched into the loop's one io_uring_enter per
 *     iteration.
 * Buffers and structs passed by pointer must stay valid until the call
 * returns (they do: the caller is suspended meanwhile).
 */
#ifndef RINGO_IO_H
#define RINGO_IO_H

#include <stdint.h>
#include <sys/socket.h> /* socklen_t, struct sockaddr */
#include <sys/types.h>

struct io_uring_sqe;
struct iovec;
struct msghdr;
struct sockaddr;
struct statx;
struct open_how;

/* ---- operations ---- */

int ringo_read(int fd, void *buf, size_t len, int64_t offset);    /* offset -1: current */
int ringo_write(int fd, const void *buf, size_t len, int64_t offset);
int ringo_readv(int fd, const struct iovec *iov, int iovcnt, int64_t offset);
int ringo_writev(int fd, const struct iovec *iov, int iovcnt, int64_t offset);
int ringo_recv(int fd, void *buf, size_t len, int flags);
/* MSG_NOSIGNAL is added: a closed peer gives -EPIPE, never SIGPIPE. */
int ringo_send(int fd, const void *buf, size_t len, int flags);
int ringo_recvmsg(int fd, struct msghdr *msg, int flags);
int ringo_sendmsg(int fd, const struct msghdr *msg, int flags);
/* Returns the new fd (SOCK_CLOEXEC is added to flags). addr/addrlen may be NULL. */
int ringo_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);
int ringo_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);
/* May suspend. Cancels what this loop has in flight on fd first (the
 * operations above, the escape hatch's, an acceptor on it: their tasks
 * see -EBADF), then closes fd. The cost does not depend on how many
 * other fds are open: with nothing in flight on fd (the usual case, the
 * task that used the fd closing it) only the close is submitted. Not
 * covered: requests on fd submitted by other loops or outside ringo, and
 * requests on registered (fixed) files. Returns 0 or -errno. Cancelled
 * with the cancellation already pending, it returns -ECANCELED and does
 * nothing (fd stays open); once submitted, the close runs to the end and
 * its result is returned, the cancellation coming at the next suspension
 * (a close the kernel had not yet started: -ECANCELED, fd still open). */
int ringo_close(int fd);
int ringo_shutdown(int fd, int how);
/* Returns the new fd. O_CLOEXEC is not added: pass it. */
int ringo_openat(int dirfd, const char *path, int flags, mode_t mode);
int ringo_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *out);
/* flags: 0 or IORING_FSYNC_DATASYNC (1). */
int ringo_fsync(int fd, unsigned flags);
int ringo_fallocate(int fd, int mode, int64_t offset, int64_t len);
/* off_in/off_out -1: use the file position (pipes must use -1). */
int ringo_splice(int fd_in, int64_t off_in, int fd_out, int64_t off_out, size_t len,
		 unsigned flags);
/* Wait until fd is ready for events (POLLIN, POLLOUT, ...); returns the
 * ready mask. */
int ringo_poll(int fd, unsigned events);

/* The escape hatch: prep(sqe, ctx) fills an SQE (any opcode; do not set
 * user_data, and IOSQE_IO_LINK only if you know there is no deadline);
 * the task waits for its final completion. ringo_close(fd) stops such a
 * request when the SQE names fd as the file it works on: sqe->fd for the
 * opcodes whose fd is a file (read/write/send/recv/poll/accept/connect/
 * fsync/splice/tee/uring_cmd/... as the kernel's needs_file), and
 * splice_fd_in for splice and tee; not when IOSQE_FIXED_FILE (or
 * SPLICE_F_FD_IN_FIXED) makes it a registered-file index. Returns the CQE's res and, if
 * cqe_flags is not NULL, its flags. Intermediate completions of a
 * multishot request (IORING_CQE_F_MORE) are dropped. Under Valgrind,
 * memory the kernel fills for such a request is not known to be defined
 * (the named operations above mark their buffers themselves). */
typedef void ringo_io_prep_fn(struct io_uring_sqe *sqe, void *ctx);
int ringo_io_submit(ringo_io_prep_fn *prep, void *ctx, uint32_t *cqe_flags);
/* The same with a prepared SQE copied as a template. */
int ringo_io_submit_sqe(const struct io_uring_sqe *tmpl, uint32_t *cqe_flags);
/* True if the current loop's kernel supports this IORING_OP_* (probe). */
bool ringo_io_supported(int opcode);

/* ---- deadlines ----
 * Times are absolute ringo_loop_time_ns() values. An operation that
 * reaches its deadline is cancelled in the kernel (a linked timeout; for
 * splice and tee, which io_uring runs on a worker thread where a linked
 * timeout is never armed, a loop timer) and returns -ETIMEDOUT. */

/* The next I/O operation of the calling task (only that one) fails with
 * -ETIMEDOUT unless it completes by deadline_ns. 0 clears it. -EPERM
 * outside a task. Does not suspend. */
int ringo_io_deadline(int64_t deadline_ns);
/* Same, relative to now. */
int ringo_io_timeout(int64_t timeout_ns);

/* A deadline scope on the calling task: every I/O operation between push
 * and pop fails with -ETIMEDOUT once deadline_ns has passed (an inner
 * scope cannot extend an outer one). The scope lives on the caller's stack;
 * pop in reverse order of push. push returns -EPERM outside a task. */
typedef struct ringo_deadline {
	int64_t deadline;  /* this scope's own deadline */
	int64_t saved;     /* the task's deadline before push */
	ringo_task *task;
} ringo_deadline;
int ringo_deadline_push(ringo_deadline *scope, int64_t deadline_ns);
void ringo_deadline_pop(ringo_deadline *scope);
/* True if the scope's deadline has passed (to tell which scope fired). */
bool ringo_deadline_expired(const ringo_deadline *scope);

/* ---- networking ---- */

enum {
	RINGO_NET_REUSEPORT = 1u << 0, /* SO_REUSEPORT: one listener per thread */
	RINGO_NET_V6ONLY = 1u << 1,    /* IPv6 listener without v4-mapped */
};

/* Listen on TCP host:port (host NULL = "127.0.0.1"; "::" / "0.0.0.0" for
 * all; IPv6 literals accepted). port 0 picks one: see ringo_local_port.
 * SO_REUSEADDR and TCP_NODELAY (inherited by accepted sockets) are set.
 * Returns the listening fd or -errno. Does not suspend. */
int ringo_listen_tcp(const char *host, int port, int backlog, unsigned flags);
/* Listen on a Unix stream socket at path. A stale socket file there (one
 * nobody listens on: connect is refused) is replaced; anything else is
 * left alone: -EEXIST if path is not a socket (a regular file, a
 * directory, ...), -EADDRINUSE if a server listens on it (it sees one
 * connection that closes at once: the probe). Returns the fd or -errno.
 * Does not suspend. */
int ringo_listen_unix(const char *path, int backlog);
/* The local port of a bound socket, or -errno. */
int ringo_local_port(int fd);
/* May suspend. Connect to host:port (numeric v4/v6 address) or, with
 * port < 0, to the Unix socket at host. deadline_ns 0 = none. Returns the
 * connected fd (TCP_NODELAY set) or -errno (-ETIMEDOUT at the deadline).
 * Cancelled: -ECANCELED and no fd is left open (the peer may see a
 * connection that closes at once); a connect that completed first is
 * returned, and the cancel comes at the next suspension. */
int ringo_dial(const char *host, int port, int64_t deadline_ns);

/* Multishot accept: one SQE keeps accepting; accepted fds queue here until
 * taken. The struct is the caller's (it may sit on a task's stack) and
 * must stay put from init until ringo_acceptor_close returns. */
typedef struct ringo_acceptor {
	struct ringo__acceptor_impl *impl;
} ringo_acceptor;
/* Start accepting on listen_fd. 0, -ENOMEM, -EOPNOTSUPP, -EPERM. */
int ringo_acceptor_init(ringo_acceptor *acc, int listen_fd);
/* May suspend. The next accepted fd, or -errno (-EMFILE etc. are
 * reported once and accepting goes on). Once ringo_close(listen_fd) has
 * been called, fds accepted before it are still returned, then -EBADF on
 * every call: the acceptor never accepts on that fd number again. */
int ringo_acceptor_next(ringo_acceptor *acc);
/* May suspend (until the kernel's final completion). Stops accepting,
 * closes fds accepted but not taken, frees the impl. 0, or -EPERM
 * outside a task (then nothing is freed: call it from a task). */
int ringo_acceptor_close(ringo_acceptor *acc);

/* A buffered stream on a connected fd (asyncio StreamReader/Writer's
 * essentials). The buffers are the caller's: rbuf of rcap bytes for
 * reading (NULL: unbuffered, read_some only), wbuf of wcap bytes for
 * writing (NULL: writes go straight out). Both must stay valid while the
 * stream is used. Does not own fd. The fields may be read, not written.
 *
 * Reads, under cancellation and every other failure: a read that fails
 * (-ECANCELED, -ETIMEDOUT, -ENODATA at EOF mid-message, -EMSGSIZE, an
 * error) hands the caller nothing and consumes nothing: every byte
 * received stays buffered, readable with ringo_stream_peek or the next
 * read, and dst is not written. A read that returns a count consumed
 * exactly that many bytes. (asyncio keeps the bytes on cancellation too;
 * at EOF it hands them over in IncompleteReadError, ringo leaves them at
 * peek.) So a message must fit in rbuf to be read whole: read_exactly
 * and read_until need len, or the line, <= rcap.
 *
 * Writes cannot be taken back once sent, so they are counted: s->wsent
 * is the bytes sent so far, s->wlen the bytes buffered and not sent. A
 * write or flush that fails part-way (cancelled, deadline, error) removes
 * from the buffer exactly the bytes that went out and keeps the rest, in
 * order, for the next flush; -ECANCELED and -ETIMEDOUT leave the stream
 * usable, a connection error is sticky (s->error, returned by every later
 * write and flush).
 *
 * Deadlines: use a deadline scope (ringo_deadline_push) around a stream
 * call; a one-shot ringo_io_deadline bounds only its first operation. */
typedef struct ringo_stream {
	int fd;
	char *rbuf;
	size_t rcap, rpos, rlen;  /* unread bytes: rbuf[rpos, rpos + rlen) */
	char *wbuf;
	size_t wcap, wlen;        /* bytes buffered, not sent yet: wbuf[0, wlen) */
	uint64_t wsent;           /* bytes sent so far by write and flush */
	int error;                /* first connection error of a write, sticky */
} ringo_stream;
void ringo_stream_init(ringo_stream *s, int fd, void *rbuf, size_t rcap, void *wbuf,
		       size_t wcap);
/* May suspend. Read exactly len bytes into dst. Returns len (0 for len
 * 0); 0 at a clean EOF with nothing buffered; -ENODATA at EOF after some
 * but not all bytes (they stay buffered: peek, then consume or close);
 * -EMSGSIZE at once if len > rcap (a partial message could not be kept:
 * read such a message in pieces with read_some); -ECANCELED, -ETIMEDOUT
 * (the bytes received so far stay buffered); or -errno (-ECONNRESET...). */
int ringo_stream_read_exactly(ringo_stream *s, void *dst, size_t len);
/* May suspend. Read until delim (a byte string) has been seen; returns the
 * length of the line including delim, which stays readable at
 * ringo_stream_peek() until ringo_stream_consume() (nothing is consumed,
 * even on success). 0 at EOF with nothing buffered, -ENODATA at EOF
 * mid-line, -EMSGSIZE if the buffer fills first, -ECANCELED/-ETIMEDOUT;
 * on every failure the bytes received stay buffered. */
int ringo_stream_read_until(ringo_stream *s, const char *delim, size_t dlen);
/* May suspend. Read whatever is available (at least one byte, at most
 * len; buffered bytes first, without suspending); 0 at EOF (and for len
 * 0). On -ECANCELED / -ETIMEDOUT / -errno nothing was consumed. Works
 * unbuffered (rcap 0): one recv into dst. */
int ringo_stream_read_some(ringo_stream *s, void *dst, size_t len);
/* Buffered bytes not yet consumed. */
const char *ringo_stream_peek(const ringo_stream *s, size_t *len);
void ringo_stream_consume(ringo_stream *s, size_t n);
/* May suspend (when the write buffer fills). Take len bytes of src: copy
 * them into the buffer if they fit (no suspension); else flush first
 * and then copy them, or, if len > wcap, send them straight out. Returns
 * 0 when all len bytes were taken (sent, or buffered for a later write or
 * flush), or -errno. After a failure, src[0, k) was taken where k is
 * s->wsent + s->wlen after the call minus the same sum before it: 0 for a
 * len <= wcap (a failed flush of older bytes takes nothing of src), and
 * the bytes that went out for a larger len. src may be reused as soon as
 * the call returns. */
int ringo_stream_write(ringo_stream *s, const void *src, size_t len);
/* May suspend. Send everything buffered: 0, or -errno with the bytes that
 * were not sent still buffered (s->wlen; s->wsent grew by what went). */
int ringo_stream_flush(ringo_stream *s);
/* May suspend. Send all len bytes (short sends resumed). Returns len; or,
 * if it stopped part-way (cancelled, deadline, error) after k > 0 bytes
 * went out, k, as write(2) does after a signal: the reason comes with the
 * next call (a cancellation is delivered at the task's next suspension);
 * or -errno if nothing went out. len > INT_MAX: -EINVAL. */
int ringo_send_all(int fd, const void *buf, size_t len);

/* Provided buffer ring: nbufs buffers of bufsize bytes (nbufs a power of
 * two <= 32768) the kernel picks from as data arrives, so idle
 * connections hold no buffer. group is the buffer group id (unique per
 * loop). The ring is the loop's until ringo_bufring_free. */
typedef struct ringo_bufring ringo_bufring;
int ringo_bufring_new(ringo_loop *loop, unsigned nbufs, size_t bufsize, unsigned group,
		      ringo_bufring **out);
void ringo_bufring_free(ringo_bufring *br);
/* May suspend. Receive into a buffer of the ring: returns the byte count
 * (0 at EOF) and sets *data and *bid; the buffer is the caller's until
 * ringo_bufring_put(br, bid). -ENOBUFS if the ring was empty. */
int ringo_recv_buf(int fd, ringo_bufring *br, void **data, unsigned *bid);
void ringo_bufring_put(ringo_bufring *br, unsigned bid);

#endif /* RINGO_IO_H */
