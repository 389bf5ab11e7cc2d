/*
 * ringo/io.h — io_uring operations from tasks, timeouts, networking
 * helpers (UDP and signals: ringo/net.h). Included by ringo.h, and may
 * be included on its own (it includes ringo.h). The conventions at the
 * top of ringo.h apply.
 *
 * Every operation marked "May suspend. An I/O operation." here:
 *   - suspends the calling task (and only it) until the operation's final
 *     completion; called outside a task it returns -EPERM;
 *   - returns what the system call would return (its -errno included);
 *   - returns -ECANCELED if the task is cancelled, or its timeout scope
 *     expires (the scope's exit then gives -ETIMEDOUT): the kernel is
 *     asked to cancel the operation and the task resumes only after the
 *     operation's final completion, so no buffer it passed is written
 *     after the call returned. If the operation completed anyway its
 *     result is returned and the cancellation is delivered at the task's
 *     next suspension. A cancellation already pending at the call returns
 *     -ECANCELED at once, and nothing is submitted;
 *   - returns -ETIMEDOUT when a ringo_io_timeout set just before it passes
 *     (the operation is cancelled as above);
 *   - returns -EBADF if ringo_close() on this loop closed its fd (either
 *     fd of a splice) while it was blocked, and only then;
 *   - returns -EOPNOTSUPP if the running kernel lacks the io_uring opcode
 *     (probed once per loop), -ENOMEM if the loop could not track one more
 *     request, -ESHUTDOWN if the loop is closing;
 *   - allocates nothing in the common case: its record lives on the
 *     task's stack. Submissions of all tasks are batched into the loop's
 *     one io_uring_enter per iteration.
 * Buffers and structs passed by pointer must stay valid until the call
 * returns (they do: the caller is suspended meanwhile), and may be reused
 * as soon as it returns, whatever it returned.
 */
/* ringo.h first: it includes every sub-header, this one included, in
 * dependency order. */
#include "../ringo.h"

#ifndef RINGO_IO_H
#define RINGO_IO_H

#include <stdint.h>
#include <sys/socket.h> /* socklen_t, struct sockaddr */
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct io_uring_sqe;
struct iovec;
struct msghdr;
struct sockaddr;
struct statx;

/* ---- operations ---- */

/* May suspend. An I/O operation: read(2)/pread(2) into buf (offset -1:
 * the file position). Returns the byte count (0 at EOF) or -errno. */
int ringo_read(int fd, void *buf, size_t len, int64_t offset);
/* May suspend. An I/O operation: write(2)/pwrite(2) (offset -1: the file
 * position). Returns the byte count or -errno. */
int ringo_write(int fd, const void *buf, size_t len, int64_t offset);
/* May suspend. An I/O operation: preadv(2) (offset -1: the file
 * position). iov and the buffers it names stay the caller's. */
int ringo_readv(int fd, const struct iovec *iov, int iovcnt, int64_t offset);
/* May suspend. An I/O operation: pwritev(2) (offset -1: the file
 * position). */
int ringo_writev(int fd, const struct iovec *iov, int iovcnt, int64_t offset);
/* May suspend. An I/O operation: recv(2). Returns the byte count (0 at
 * EOF) or -errno. */
int ringo_recv(int fd, void *buf, size_t len, int flags);
/* May suspend. An I/O operation: send(2) with MSG_NOSIGNAL added (a
 * closed peer gives -EPIPE, never SIGPIPE). May send less than len. */
int ringo_send(int fd, const void *buf, size_t len, int flags);
/* May suspend. An I/O operation: recvmsg(2). */
int ringo_recvmsg(int fd, struct msghdr *msg, int flags);
/* May suspend. An I/O operation: sendmsg(2), MSG_NOSIGNAL added. */
int ringo_sendmsg(int fd, const struct msghdr *msg, int flags);
/* May suspend. An I/O operation: accept4(2) with SOCK_CLOEXEC added to
 * flags. Returns the new fd (the caller's to close) or -errno. addr and
 * addrlen may be NULL. Cancelled: no fd is left open. */
int ringo_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);
/* May suspend. An I/O operation: connect(2). A cancelled connect leaves
 * fd in an unspecified state (close it). */
int ringo_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);
/* May suspend. Cancels what this loop has in flight on fd first (the
 * operations above, the escape hatch's, an acceptor on it: their tasks
 * see -EBADF), then closes fd. The cost does not depend on how many
 * other fds are open: with nothing in flight on fd (the usual case, the
 * task that used the fd closing it) only the close is submitted. Not
 * covered: requests on fd submitted by other loops or outside ringo, and
 * requests on registered (fixed) files. Returns 0 or close(2)'s -errno;
 * -EBADF for a negative fd; -EPERM outside a task; -ENOMEM, -ESHUTDOWN,
 * -EOPNOTSUPP as the operations above. No ringo_io_timeout applies (it
 * stays for the next operation). Cancelled with the cancellation already
 * pending, it returns -ECANCELED and does nothing (fd stays open); once
 * submitted, the close runs to the end and its result is returned, the
 * cancellation coming at the next suspension (a close the kernel had not
 * yet started: -ECANCELED, fd still open). */
int ringo_close(int fd);
/* May suspend. An I/O operation: shutdown(2). */
int ringo_shutdown(int fd, int how);
/* May suspend. An I/O operation: openat(2). O_CLOEXEC is not added: pass
 * it. path is read by the kernel during the call. Returns the new fd (the
 * caller's) or -errno. */
int ringo_openat(int dirfd, const char *path, int flags, mode_t mode);
/* May suspend. An I/O operation: statx(2) into *out. */
int ringo_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *out);
/* May suspend. An I/O operation: fsync(2), or fdatasync(2) with flags
 * IORING_FSYNC_DATASYNC (1). */
int ringo_fsync(int fd, unsigned flags);
/* May suspend. An I/O operation: fallocate(2). */
int ringo_fallocate(int fd, int mode, int64_t offset, int64_t len);
/* May suspend. An I/O operation: splice(2); off_in/off_out -1: use the
 * file position (pipes must use -1). io_uring runs it on a kernel worker:
 * a cancel interrupts it there. */
int ringo_splice(int fd_in, int64_t off_in, int fd_out, int64_t off_out, size_t len,
		 unsigned flags);
/* May suspend. An I/O operation: wait until fd is ready for events
 * (POLLIN, POLLOUT, ...); returns the ready mask or -errno. */
int ringo_poll(int fd, unsigned events);

/* The escape hatch: prep(sqe, ctx) fills an SQE (any opcode; do not set
 * user_data, and IOSQE_IO_LINK only if you know there is no timeout);
 * the task waits for its final completion. ringo_close(fd) stops such a
 * request when the SQE names fd as the file it works on: sqe->fd for the
 * opcodes whose fd is a file (read/write/send/recv/poll/accept/connect/
 * fsync/splice/tee/uring_cmd/... as the kernel's needs_file), and
 * splice_fd_in for splice and tee; not when IOSQE_FIXED_FILE (or
 * SPLICE_F_FD_IN_FIXED) makes it a registered-file index. */
typedef void ringo_io_prep_fn(struct io_uring_sqe *sqe, void *ctx);
/* May suspend. An I/O operation of the SQE prep fills (called once,
 * before suspending; ctx is passed through). Returns the CQE's res and,
 * if cqe_flags is not NULL, its flags; -EINVAL (NULL prep); -EOPNOTSUPP
 * (an opcode the kernel lacks: nothing submitted). Intermediate
 * completions of a multishot request (IORING_CQE_F_MORE) are dropped.
 * Under Valgrind, memory the kernel fills for such a request is not known
 * to be defined (the named operations above mark their buffers
 * themselves). */
int ringo_io_submit(ringo_io_prep_fn *prep, void *ctx, uint32_t *cqe_flags);
/* May suspend. ringo_io_submit with a prepared SQE copied as a template
 * (tmpl is read before suspending). -EINVAL (NULL tmpl), else as
 * ringo_io_submit. */
int ringo_io_submit_sqe(const struct io_uring_sqe *tmpl, uint32_t *cqe_flags);
/* True if the current loop's kernel supports this IORING_OP_* (probe;
 * false outside a running loop). Does not suspend. */
bool ringo_io_supported(int opcode);

/* ---- timeouts ----
 * A timeout scope (ringo_timeout_enter, aio.h) bounds any number of
 * suspensions, I/O included: at its deadline the task is cancelled, the
 * operation in flight is cancelled in the kernel and returns -ECANCELED,
 * and ringo_timeout_exit turns that into -ETIMEDOUT. For a single
 * operation, ringo_io_timeout is a cheaper shorthand. */

/* The calling task's next I/O operation (only that one) is cancelled in
 * the kernel if it has not completed timeout_ns after it started, and
 * then returns -ETIMEDOUT itself (a linked timeout in the same
 * submission; for splice and tee, which io_uring runs on a worker thread
 * where a linked timeout is never armed, a loop timer). timeout_ns 0: the
 * operation is tried once and fails with -ETIMEDOUT if it cannot complete
 * at once (no data to read, no room to write); negative (RINGO_FOREVER):
 * clears a timeout set before. Buffer safety is as for a cancel: the
 * operation returns only after its final completion. ringo_close takes no
 * timeout (and leaves the one set for the next operation). 0, or -EPERM
 * outside a task. Does not suspend. */
int ringo_io_timeout(int64_t timeout_ns);

/* ---- networking ---- */

/* ringo_tcp_listen's flags. */
enum {
	RINGO_TCP_LISTEN_REUSEPORT = 1u << 0, /* SO_REUSEPORT: one listener per thread */
	RINGO_TCP_LISTEN_V6ONLY = 1u << 1,    /* IPv6 listener without v4-mapped */
};

/* Listen on TCP host:port (host NULL = "127.0.0.1"; "::" / "0.0.0.0" for
 * all; IPv6 literals accepted). port 0 picks one: see ringo_socket_port.
 * backlog <= 0 means 4096. SO_REUSEADDR and TCP_NODELAY (inherited by
 * accepted sockets) are set. Returns the listening fd (the caller's,
 * SOCK_CLOEXEC) or -EINVAL (host not a numeric address, port outside
 * 0..65535) or the socket calls' -errno (-EADDRINUSE, ...). Any thread.
 * Does not suspend. */
int ringo_tcp_listen(const char *host, int port, int backlog, unsigned flags);
/* Listen on a Unix stream socket at path. A stale socket file there (one
 * nobody listens on: connect is refused) is replaced; anything else is
 * left alone: -EEXIST if path is not a socket (a regular file, a
 * directory, ...), -EADDRINUSE if a server listens on it (it sees one
 * connection that closes at once: the probe). -EINVAL for a NULL, empty
 * or too long path. Returns the fd (the caller's) or -errno. Any thread.
 * Does not suspend. */
int ringo_unix_listen(const char *path, int backlog);
/* The local port of a bound TCP socket, or -errno (getsockname's), or
 * -EAFNOSUPPORT for a socket that is neither IPv4 nor IPv6. Any thread.
 * Does not suspend. */
int ringo_socket_port(int fd);
/* May suspend. Connect to host:port (a numeric v4/v6 address; NULL =
 * "127.0.0.1") within timeout_ns (negative, RINGO_FOREVER: no limit; 0:
 * only if the connection is made at once). Returns the connected fd (the
 * caller's; TCP_NODELAY, SOCK_CLOEXEC) or -errno: -EINVAL (bad host or
 * port), -ETIMEDOUT, -ECONNREFUSED, ..., -EPERM outside a task, or the
 * socket's -errno. Cancelled: -ECANCELED and no fd is left open (the peer
 * may see a connection that closes at once); a connect that completed
 * first is returned, and the cancel comes at the next suspension. */
int ringo_tcp_connect(const char *host, int port, int64_t timeout_ns);
/* May suspend. As ringo_tcp_connect, to the Unix stream socket at path
 * (0: succeeds only if the listener's backlog has room now). -EINVAL for
 * a NULL, empty or too long path. */
int ringo_unix_connect(const char *path, int64_t timeout_ns);

/* Multishot accept: one SQE keeps accepting; accepted fds queue here until
 * taken. The struct is the caller's (it may sit on a task's stack) and
 * must stay put from init until ringo_acceptor_destroy returns. */
typedef struct ringo_acceptor {
	struct ringo__acceptor_impl *impl;
} ringo_acceptor;
/* Start accepting on listen_fd (which stays the caller's; the acceptor
 * stops when ringo_close closes it). From a task. 0, -EINVAL (NULL acc,
 * negative fd), -EPERM outside a task, -ENOMEM, -EOPNOTSUPP (no multishot
 * accept: before 5.19), or the first submission's error. Does not
 * suspend. */
int ringo_acceptor_init(ringo_acceptor *acc, int listen_fd);
/* May suspend. The next accepted fd (the caller's), or -errno: an accept
 * error (-EMFILE etc.) is reported once and accepting goes on. Once
 * ringo_close(listen_fd) has been called, fds accepted before it are
 * still returned, then -EBADF on every call: the acceptor never accepts
 * on that fd number again. -EINVAL (NULL, not initialised, or closing);
 * -EBUSY if another task is already waiting on it (also one woken that
 * has not run yet); -ENOMEM; -ECANCELED when cancelled (nothing taken: an
 * fd accepted meanwhile stays queued for the next call), or when
 * ringo_acceptor_destroy began while this call waited, even if it had
 * been woken for an fd (nothing taken: destroy closes it). */
int ringo_acceptor_next(ringo_acceptor *acc);
/* May suspend (until the kernel's final completion). Tear down what init
 * made: stop accepting, close fds accepted but not taken (listen_fd stays
 * open: the caller's), free what init allocated; acc's storage is the
 * caller's again (init may reuse it). A task waiting in
 * ringo_acceptor_next (also one woken that has not run yet) gets
 * -ECANCELED, and destroy returns only after that task has left the
 * call, so the acceptor may live on the waiter's stack. 0 (also for a NULL, zeroed or
 * already destroyed acceptor), -EPERM outside a task (then nothing is
 * freed: call it from a task), or -EBUSY while another task is
 * destroying it (that one frees it). A cancellation
 * does not interrupt it (the kernel's completion must be waited for): it
 * is delivered at the next suspension. */
int ringo_acceptor_destroy(ringo_acceptor *acc);

/* May suspend. Send all len bytes (short sends resumed). Returns len; or,
 * if it stopped part-way (cancelled, timed out, error) after k > 0 bytes
 * went out, k, as write(2) does after a signal: the reason comes with the
 * next call (a cancellation is delivered at the task's next suspension);
 * or -errno if nothing went out (-ECANCELED, an I/O operation's error).
 * -EINVAL: len > INT_MAX. buf may be reused once it returns. */
int ringo_send_all(int fd, const void *buf, size_t len);

/* Provided buffer ring: nbufs buffers of bufsize bytes the kernel picks
 * from as data arrives, so idle connections hold no buffer. */
typedef struct ringo_bufring ringo_bufring;
/* Make a ring of nbufs (a power of two <= 32768) buffers of bufsize bytes
 * (<= 1 GiB) for buffer group id group (<= 65535, unique per loop); the
 * caller owns *out until ringo_bufring_free, which must come before the
 * loop is closed. 0, -EINVAL (NULL loop or out, a bad size or group),
 * -ESHUTDOWN (loop closed), -ENOMEM, -EOPNOTSUPP (no buffer rings: before
 * 5.19), or io_uring_register's error (-EEXIST: group taken). Does not
 * suspend. */
int ringo_bufring_new(ringo_loop *loop, unsigned nbufs, size_t bufsize, unsigned group,
		      ringo_bufring **out);
/* Unregister and free the ring; buffers handed out are invalid after it.
 * NULL is a no-op. Does not suspend. */
void ringo_bufring_free(ringo_bufring *br);
/* May suspend. An I/O operation: recv into a buffer of the ring. Returns
 * the byte count (0 at EOF) and sets *data and *bid; the buffer is the
 * caller's until ringo_bufring_put(br, bid). On 0 or an error no buffer is
 * held (*data NULL). -ENOBUFS if the ring was empty; -EINVAL (NULL br,
 * data or bid). */
int ringo_recv_buf(int fd, ringo_bufring *br, void **data, unsigned *bid);
/* Give buffer bid back to the ring. 0, or -EINVAL (NULL br, bid out of
 * range). Does not suspend. */
int ringo_bufring_put(ringo_bufring *br, unsigned bid);

#ifdef __cplusplus
}
#endif

#endif /* RINGO_IO_H */
