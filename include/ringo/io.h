/*
 * ringo I/O: io_uring operations from tasks, timeouts, networking helpers,
 * signals. Included by ringo.h; do not include on its own.
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
 *   - under a timeout scope (ringo_timeout_enter) that expires, is
 *     cancelled like this (-ECANCELED; the scope's exit gives
 *     -ETIMEDOUT); after ringo_io_timeout, returns -ETIMEDOUT when that
 *     timeout passes;
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

#include <signal.h>
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

/* ---- timeouts ----
 * A timeout scope (ringo_timeout_enter, aio.h) bounds any number of
 * suspensions, I/O included: at its deadline the task is cancelled, the
 * operation in flight is cancelled in the kernel and returns -ECANCELED,
 * and ringo_timeout_exit turns that into -ETIMEDOUT. For a single
 * operation, ringo_io_timeout is a cheaper shorthand. */

/* The calling task's next I/O operation (only that one) is cancelled in
 * the kernel if it has not completed timeout_ns after it started, and
 * then returns -ETIMEDOUT directly (a linked timeout; for splice and tee,
 * which io_uring runs on a worker thread where a linked timeout is never
 * armed, a loop timer). timeout_ns 0: the operation is tried once and
 * fails with -ETIMEDOUT if it cannot complete at once (no data to read,
 * no room to write); negative (RINGO_FOREVER): clears a timeout set
 * before. Buffer safety is as for a cancel: the operation returns only
 * after its final completion. ringo_close takes no timeout (and leaves
 * the one set for the next operation). 0, or -EPERM outside a task.
 * Does not suspend. */
int ringo_io_timeout(int64_t timeout_ns);

/* ---- networking ---- */

/* ringo_tcp_listen's flags. */
enum {
	RINGO_TCP_LISTEN_REUSEPORT = 1u << 0, /* SO_REUSEPORT: one listener per thread */
	RINGO_TCP_LISTEN_V6ONLY = 1u << 1,    /* IPv6 listener without v4-mapped */
};

/* Listen on TCP host:port (host NULL = "127.0.0.1"; "::" / "0.0.0.0" for
 * all; IPv6 literals accepted). port 0 picks one: see ringo_socket_port.
 * SO_REUSEADDR and TCP_NODELAY (inherited by accepted sockets) are set.
 * Returns the listening fd or -errno. Does not suspend. */
int ringo_tcp_listen(const char *host, int port, int backlog, unsigned flags);
/* Listen on a Unix stream socket at path. A stale socket file there (one
 * nobody listens on: connect is refused) is replaced; anything else is
 * left alone: -EEXIST if path is not a socket (a regular file, a
 * directory, ...), -EADDRINUSE if a server listens on it (it sees one
 * connection that closes at once: the probe). Returns the fd or -errno.
 * Does not suspend. */
int ringo_unix_listen(const char *path, int backlog);
/* The local port of a bound socket, or -errno. */
int ringo_socket_port(int fd);
/* May suspend. Connect to host:port (a numeric v4/v6 address; NULL =
 * "127.0.0.1") within timeout_ns (negative, RINGO_FOREVER: no limit; 0:
 * only if the connection is made at once). Returns the connected fd
 * (TCP_NODELAY set, SOCK_CLOEXEC) or -errno: -EINVAL (bad host or port),
 * -ETIMEDOUT, -ECONNREFUSED, ..., -EPERM outside a task. Cancelled:
 * -ECANCELED and no fd is left open (the peer may see a connection that
 * closes at once); a connect that completed first is returned, and the
 * cancel comes at the next suspension. */
int ringo_tcp_connect(const char *host, int port, int64_t timeout_ns);
/* May suspend. As ringo_tcp_connect, to the Unix stream socket at path
 * (0: succeeds only if the listener's backlog has room now). -EINVAL for
 * a NULL, empty or too long path. */
int ringo_unix_connect(const char *path, int64_t timeout_ns);

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

/* ---- signals ----
 * May suspend. Wait until one of the signals in mask arrives; returns its
 * number or -errno. The signals are blocked in the calling thread (so
 * they queue instead of killing the process) and read through a signalfd
 * with io_uring. Block them in every thread of the process first (call
 * ringo_signal_block before creating threads) so none is delivered
 * elsewhere. */
int ringo_signal_block(const sigset_t *mask);
int ringo_signal_wait(const sigset_t *mask);

#endif /* RINGO_IO_H */
