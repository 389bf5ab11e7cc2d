/*
 * ringo networking beyond single I/O operations: servers (asyncio's
 * start_server), UDP, and signals delivered to a loop (asyncio's
 * add_signal_handler). Streams, clients and the resolver are in
 * stream.h. Included by ringo.h, and may be included on its own (it
 * includes ringo.h). The conventions at the top of ringo.h apply.
 *
 * Each area keeps its own section below.
 */
/* ringo.h first: it includes every sub-header, this one included, in
 * dependency order. */
#include "../ringo.h"

#ifndef RINGO_NET_H
#define RINGO_NET_H

#include <signal.h>     /* sigset_t */
#include <sys/socket.h> /* socklen_t, struct sockaddr */

#include "stream.h" /* ringo_stream, ringo_stream_options */

#ifdef __cplusplus
extern "C" {
#endif

/* ========================================================================
 * Server, client and resolver
 *
 * The client side (ringo_stream_connect, ringo_stream_connect_unix) and
 * ringo_getaddrinfo are declared with the streams, in ringo/stream.h.
 *
 * A server is asyncio's start_server: it listens, accepts (one multishot
 * accept request per listener, so a burst of connections costs one
 * completion each and no system call), and runs the handler as a task
 * per connection, given the connection's stream. The stream is the
 * server's: it frees it when the handler returns, after the bytes the
 * handler left in its write buffer went out (bounded by flush_timeout_ns;
 * a handler that closed it itself is waited for the same way). The
 * handler must not free it.
 *
 *     static int echo(ringo_stream *s, void *arg)
 *     {
 *         char line[1024];
 *         int n;
 *         while ((n = ringo_stream_readline(s, line, sizeof(line))) > 0) {
 *             ringo_stream_write(s, line, (size_t)n);
 *             if (ringo_stream_drain(s) < 0)
 *                 break;
 *         }
 *         return 0;
 *     }
 *     ...
 *     ringo_server *srv;
 *     int err = ringo_server_start(loop, "127.0.0.1", 8888, echo, NULL, NULL, &srv);
 *     err = ringo_server_serve_forever(srv);       // until ringo_server_close
 *     err = ringo_server_wait_closed(srv, RINGO_SEC(5));
 *     ringo_server_free(srv);
 *
 * Shutting down (asyncio's Server.close + wait_closed, with the grace
 * period made explicit): ringo_server_close stops accepting at once (the
 * listening sockets are closed: new connections are refused by the
 * kernel) and lets the handlers run on; ringo_server_wait_closed waits
 * for them, cancels those still running after the grace period, and waits
 * for those too. Then nothing of the server is open and ringo_server_free
 * releases it.
 *
 * Handler tasks: cancellation reaches a handler only from the server's
 * grace period (or ringo_server_free, or the loop's shutdown); a handler
 * puts a time limit on its own waits with a timeout scope
 * (ringo_timeout_enter around a read: an idle timeout). What a handler
 * returns is ignored.
 *
 * Threads: with threads = N > 1, the server runs N loops on N threads of
 * its own, each with its own listening socket on the same port
 * (SO_REUSEPORT: the kernel spreads connections over them by address
 * hash), and the handler runs on those loops: arg is shared between them
 * and must be thread-safe; a handler's stream belongs to its loop. The
 * calls below are made on the loop that started the server (the loop
 * thread), whatever the threads.
 *
 * Counters (ringo_server_stats): every connection the kernel handed over
 * is `accepted`; it is then either `refused` (closed at once without a
 * handler: the server was closing, or no memory for its task or stream),
 * or served by a handler: `active` while the handler runs, `closed` once
 * it returned and the connection is closed. So accepted == refused +
 * active + closed whenever the server's loops are between callbacks.
 * ====================================================================== */

typedef struct ringo_server ringo_server;

/* The handler: runs as a task per connection, on the loop that accepted
 * it, with the connection's stream s (the server's: do not free it) and
 * the arg given to ringo_server_start. Its return value is ignored. */
typedef int ringo_server_handler_fn(ringo_stream *s, void *arg);

enum {
	/* threads > 1: pin thread i to the i-th CPU the process may run on
	 * (wrapping round). */
	RINGO_SERVER_PIN_CPUS = 1u << 0,
	/* IPv6 listening sockets take IPv6 only (no v4-mapped addresses).
	 * With a NULL host: an IPv6 and an IPv4 socket on the same port. */
	RINGO_SERVER_V6ONLY = 1u << 1,
};

typedef struct ringo_server_options {
	/* listen(2)'s backlog; 0 = 4096 (the kernel caps it at
	 * net.core.somaxconn). */
	int backlog;
	/* The most handlers running at once (per server; with threads = N,
	 * each loop serves at most its share: max_connections / N, the
	 * remainder spread over the first loops, so it must be >= N). Past
	 * it the server stops accepting and new connections wait in the
	 * kernel's backlog until a handler returns: none is refused. 0 =
	 * unlimited. */
	size_t max_connections;
	/* The handler tasks' stack size, RINGO_TASK_STACK_MIN (16 KiB) ..
	 * RINGO_TASK_STACK_MAX; 0 = the loop's default. Not compact: a
	 * handler's stream calls need more than a compact stack holds. */
	size_t stack_size;
	/* 0 or 1: serve on the given loop; N > 1 (up to 1024): N loops on N
	 * threads, see above. */
	unsigned threads;
	unsigned flags; /* RINGO_SERVER_* */
	/* Options of each connection's stream; NULL = defaults. Copied. */
	const ringo_stream_options *stream;
	/* When accepting fails for want of resources (EMFILE, ENFILE,
	 * ENOBUFS, ENOMEM; or any error that is not a network error about
	 * that one connection), the listener waits this long before it tries
	 * again, and the handlers already running go on meanwhile; 0 = 100
	 * ms. Must not be negative. */
	int64_t emfile_backoff_ns;
	/* After the handler returned, how long the bytes it left in the
	 * stream's write buffer may take to go out before the connection is
	 * cut (a peer that does not read); 0 = 10 s, negative = no limit. */
	int64_t flush_timeout_ns;
	/* threads > 1: the options of the server's loops (copied); NULL =
	 * defaults. */
	const ringo_loop_options *loop;
	/* Optional: turn each accepted connection's stream into the one the
	 * handler gets (a transform such as TLS: ringo_tls_server_wrap from
	 * ringo/tls.h with its config as wrap_ctx). Called in the
	 * connection's task before the handler, so it may suspend (a
	 * handshake); it is cancelled as a handler would be. On success it
	 * returns 0 and *out, which owns raw from then on (freeing *out
	 * frees raw); the server frees *out after the handler. On failure
	 * (a negative errno) raw is still the server's: it is freed, the
	 * handler is not run, and the connection counts as closed and in
	 * wrap_errors. With threads > 1 it runs on every loop: wrap_ctx
	 * must be thread-safe. NULL: the handler gets the raw stream. */
	int (*wrap)(ringo_stream *raw, void *ctx, ringo_stream **out);
	void *wrap_ctx;
} ringo_server_options;

/* The server's counters (see above). Read without stopping anything:
 * with threads > 1 each is exact but they may be of slightly different
 * moments. accept_errors counts failed accepts (EMFILE and the like);
 * wrap_errors the connections whose wrap hook failed (also in closed). */
struct ringo_server_stats {
	uint64_t accepted;
	uint64_t active;
	uint64_t refused;
	uint64_t closed;
	uint64_t accept_errors;
	uint64_t wrap_errors; /* connections the wrap hook failed (a TLS handshake) */
};

/* Start a TCP server on host:port, running fn(stream, arg) for each
 * connection (asyncio start_server).
 *
 * host: NULL (or "") = every address: "::" with IPv4 mapped in (one
 * socket for both families), or "0.0.0.0" where the system has no IPv6;
 * a numeric IPv4 or IPv6 address (an IPv6 one may carry a scope,
 * "fe80::1%eth0"): used as it is; or a name, resolved with
 * ringo_getaddrinfo (off the loop), and then every address it has is
 * listened on (as asyncio does: "localhost" is often ::1 and 127.0.0.1;
 * IPv6 sockets then take IPv6 only). port 0 picks a free port (the same
 * for every address and thread): ringo_server_port tells it.
 * SO_REUSEADDR and TCP_NODELAY (inherited by connections) are set.
 *
 * May suspend when host is a name (the lookup runs on a worker thread);
 * otherwise does not suspend. opts may be NULL (defaults). Loop thread:
 * loop must be the calling thread's loop, and the handlers of a
 * single-threaded server run on it.
 *
 * Returns 0 and *out, which the caller owns: ringo_server_close, then
 * ringo_server_wait_closed, then ringo_server_free it, all before the
 * loop is closed. Errors (nothing is left open): -EINVAL (NULL loop, fn
 * or out; port outside 0..65535; unknown flags; threads > 1024;
 * max_connections below threads; a negative emfile_backoff_ns; a
 * stack_size outside 16 KiB .. 1 GiB; a bad stream option), -ESHUTDOWN (loop closed), -EPERM (host is a name and
 * the caller is not a task), ringo_getaddrinfo's errors (-ENOENT: no
 * such name, ...), -EADDRINUSE, -EADDRNOTAVAIL, -EACCES (a privileged
 * port), -EMFILE, -ENOMEM, -EAGAIN (no thread could be started), or
 * -ECANCELED: the task was cancelled while the name was being resolved
 * (nothing was opened). host and opts are not used after the call
 * returned. */
int ringo_server_start(ringo_loop *loop, const char *host, int port,
		       ringo_server_handler_fn *fn, void *arg, const ringo_server_options *opts,
		       ringo_server **out);

/* Start a server on a Unix stream socket at path (as ringo_unix_listen:
 * a stale socket file there is replaced; -EEXIST if path is some other
 * file, -EADDRINUSE if a server listens on it). The socket file is
 * removed by ringo_server_close (unless it was replaced meanwhile).
 * With threads > 1 every loop accepts on the one socket. Does not
 * suspend. Returns as ringo_server_start (-ENOMEM among them); -EINVAL
 * also for an empty path or one longer than sun_path. */
int ringo_server_start_unix(ringo_loop *loop, const char *path, ringo_server_handler_fn *fn,
			    void *arg, const ringo_server_options *opts, ringo_server **out);

/* Does not suspend. The port the server listens on (the one picked for
 * port 0), or -EAFNOSUPPORT for a Unix server, -EINVAL for NULL. */
int ringo_server_port(const ringo_server *srv);

/* Does not suspend. True from ringo_server_start until
 * ringo_server_close (asyncio is_serving). */
bool ringo_server_is_serving(const ringo_server *srv);

/* Stop accepting (asyncio Server.close): the listening sockets are
 * closed (with threads > 1 each on its own loop, within that loop's next
 * iteration; the kernel then refuses new connections) and a Unix
 * server's socket file is removed; handlers already running go on. Does
 * not suspend; loop thread. 0 (also when already closed), -EINVAL
 * (NULL), -ENOMEM (threads > 1: the request could not be posted to a
 * loop; call again). */
int ringo_server_close(ringo_server *srv);

/* May suspend: until the server is closed (by ringo_server_close from
 * another task, if it is not yet) and every handler has returned and its
 * connection is closed (asyncio wait_closed). Handlers still running
 * grace_timeout_ns after that wait began (or after the close, if it came
 * later) are cancelled, and waited for: their connections are then cut
 * (buffered bytes dropped). grace_timeout_ns: RINGO_FOREVER (< 0) =
 * never cancel; 0 = cancel at once whatever still runs.
 *
 * Returns how many handlers had to be cancelled (0: all finished in
 * time); -EINVAL (NULL), -EPERM (not a task), or -ECANCELED if the
 * calling task was cancelled: the server keeps closing in the background
 * (handlers already told to cancel are cancelled), and wait_closed may be
 * called again. Any number of tasks may wait. Afterwards every socket the
 * server opened is closed (no fd is left) and the listening ones too. */
int ringo_server_wait_closed(ringo_server *srv, int64_t grace_timeout_ns);

/* May suspend until the server is closed (asyncio serve_forever; serving
 * starts with ringo_server_start, this only waits). Returns 0 once it is
 * closed (at once if it is), -EINVAL (NULL), -EPERM (not a task), or
 * -ECANCELED: the calling task was cancelled, and as asyncio does, the
 * server was closed (ringo_server_close); wait_closed is still the
 * caller's to call. */
int ringo_server_serve_forever(ringo_server *srv);

/* The counters into *out (zeros for NULL srv). Does not suspend; any
 * thread while srv exists. */
void ringo_server_stats(const ringo_server *srv, struct ringo_server_stats *out);

/* Free the server, after ringo_server_wait_closed returned (then it only
 * gives back memory, and with threads > 1 stops and joins the server's
 * threads, which are idle by then). Called earlier, it closes the server
 * and cancels the handlers (their connections are cut): with threads > 1
 * it blocks the calling thread until they have ended and the threads are
 * joined; otherwise it returns at once and the memory goes when the last
 * handler has returned (or at the loop's close). The handle is invalid
 * afterwards. Does not suspend; loop thread. NULL is a no-op. */
void ringo_server_free(ringo_server *srv);

/* ========================================================================
 * UDP
 *
 * Datagram sockets made without suspending; the transfers are I/O
 * operations like those of io.h (they suspend the calling task only, and
 * follow io.h's rules on cancellation, deadlines and ringo_close).
 * ringo_send and ringo_recv work on a connected datagram socket too, one
 * datagram per call.
 * ====================================================================== */

enum {
	RINGO_UDP_REUSEPORT = 1u << 0, /* SO_REUSEPORT: several sockets share the port,
					* the kernel spreads datagrams by peer */
	RINGO_UDP_V6ONLY = 1u << 1,    /* an IPv6 socket without v4-mapped addresses */
	/* SO_REUSEADDR. Off by default, unlike TCP listeners: on a datagram
	 * socket it lets any later socket that sets it too bind the same
	 * address and port and take its unicast datagrams (asyncio stopped
	 * offering it for UDP for that reason, bpo-37228). Multicast
	 * receivers sharing a group port need it. */
	RINGO_UDP_REUSEADDR = 1u << 2,
};

/* Bind a UDP socket to host:port. host: a numeric IPv4 or IPv6 address
 * (an IPv6 one may carry a scope, "fe80::1%eth0"), or NULL for every
 * address ("::" with v4-mapped addresses, or "0.0.0.0" where the system
 * has no IPv6). Names are not resolved: resolve first. port 0 picks a
 * free one (read it back with ringo_socket_port). flags: RINGO_UDP_*; a
 * port already bound is -EADDRINUSE unless every socket on it asked for
 * RINGO_UDP_REUSEPORT. Returns the fd (close-on-exec, blocking: use it
 * with the operations below) or -EINVAL (not a numeric address, port out
 * of 0..65535, unknown flag), -EADDRINUSE, -EADDRNOTAVAIL, -EACCES (a
 * privileged port), -EMFILE, ... Does not suspend; any thread. The
 * caller owns the fd. */
int ringo_udp_bind(const char *host, int port, unsigned flags);

/* A UDP socket connected to host:port (numeric, as for ringo_udp_bind;
 * not NULL; port 1..65535): the kernel picks the local address and port,
 * ringo_send/ringo_recv need no address, and datagrams from any other
 * peer are not received. Nothing is sent: no reply is awaited. Returns
 * the fd, or -EINVAL, -ENETUNREACH, -EMFILE, ... Does not suspend; any
 * thread. The caller owns the fd.
 *
 * Once a datagram sent on it reached a port nobody listens on, the
 * kernel hears back (ICMP port unreachable) and the next ringo_send,
 * ringo_recv, ringo_sendto or ringo_recvfrom on it fails with
 * -ECONNREFUSED, once; the socket stays usable. */
int ringo_udp_connect(const char *host, int port);

/* May suspend. Send one datagram of len bytes to addr (sendto(2), as an
 * io_uring SENDMSG). addr may be NULL on a connected socket (then
 * addrlen is ignored). MSG_NOSIGNAL is added. Returns len, or -errno:
 * -EMSGSIZE if the datagram is larger than the protocol allows (65507
 * bytes of payload over IPv4, 65527 over IPv6), -ECONNREFUSED (see
 * ringo_udp_connect), -EDESTADDRREQ (no addr on an unconnected socket),
 * -EAFNOSUPPORT, -ENETUNREACH, -ECANCELED, -ETIMEDOUT, -EBADF, -EPERM
 * outside a task. Cancelled: the datagram was sent whole (len is
 * returned, the cancel comes at the next suspension) or not at all
 * (-ECANCELED). buf and addr are read until the call returns and may be
 * reused as soon as it has. */
int ringo_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
		 socklen_t addrlen);

/* May suspend. Receive one datagram into buf (recvfrom(2), as an io_uring
 * RECVMSG): returns its length, at most len: the rest of a longer
 * datagram is discarded, as recvfrom does (pass MSG_TRUNC in flags to get
 * the datagram's real length back instead). A datagram of 0 bytes returns
 * 0. If addr is not NULL it receives the sender's address and *addrlen
 * (in: the room at addr; out: the address's real size) is updated; addr
 * NULL ignores addrlen. Returns -errno: -ECONNREFUSED (see
 * ringo_udp_connect), -ECANCELED, -ETIMEDOUT, -EBADF, -EINVAL (addr
 * without addrlen), -EPERM outside a task. Cancelled: either the datagram
 * was received (its length is returned, buf and addr are filled, the
 * cancel comes at the next suspension) or the call took nothing
 * (-ECANCELED: the next datagram stays queued in the socket, buf and
 * addr are not written after the call returned). */
int ringo_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr,
		   socklen_t *addrlen);

/* ========================================================================
 * Signals (asyncio's loop.add_signal_handler / remove_signal_handler)
 *
 * ringo installs a process-wide handler (sigaction with SA_RESTART) for
 * each signal a loop asks for, saving the disposition it replaces. The
 * handler is async-signal-safe: it only counts the signal for the loop
 * and wakes it through an eventfd the loop reads with io_uring, so it
 * works whichever thread the kernel picks, a loop asleep in the kernel
 * wakes at once, and no signal mask needs blocking anywhere.
 *
 * One loop per signal: the first loop that asks for a signal holds it
 * until nothing on that loop wants it any more (no handler, no task in
 * ringo_signal_wait); meanwhile other loops get -EBUSY for it. Then the
 * saved disposition is put back. Closing a loop releases its signals.
 *
 * Counting: each signal delivered runs the handler once; like any POSIX
 * signal (other than the real-time ones), a signal sent again before the
 * first one was delivered may be merged with it by the kernel, so N
 * kill()s may run it fewer than N times, but at least once after the
 * last of them.
 *
 * Not allowed (-EINVAL): SIGKILL and SIGSTOP (they cannot be caught), and
 * SIGSEGV, SIGBUS, SIGILL and SIGFPE (raised by a faulting instruction,
 * which would just fault again after a deferred handler; ringo uses
 * SIGSEGV/SIGBUS to report task stack overflows). The C library's own
 * signals (32 and 33 with glibc) give sigaction's -EINVAL.
 * ====================================================================== */

/* Run fn(arg) on loop, as a callback queued with call_soon, each time
 * signo is delivered to the process. Calling it again for a signal the
 * loop already handles replaces fn and arg (asyncio does the same).
 * Returns 0, or -EINVAL (NULL loop or fn, signo out of 1..NSIG-1 or not
 * allowed, see above), -ESHUTDOWN (loop closed), -EBUSY (another loop
 * holds signo), -ENOMEM, -EXDEV (another thread than the loop's, with
 * RINGO_LOOP_CHECK_THREAD). Does not suspend. Loop thread (or any thread
 * while the loop is not running). arg is the caller's: it must stay
 * valid until ringo_signal_remove (or the loop's close) returns. */
int ringo_signal_add(ringo_loop *loop, int signo, ringo_callback_fn *fn, void *arg);

/* Stop handling signo on loop: after this returns fn is never called
 * again for it (deliveries whose callback had not run yet are dropped)
 * and, unless a task of this loop waits for signo in ringo_signal_wait,
 * the disposition saved by ringo_signal_add is restored. Returns 0,
 * -ENOENT (no handler for signo on loop), -EINVAL (NULL loop, bad
 * signo), -ESHUTDOWN (loop closed: its close already removed them all),
 * -EXDEV (as for add). Does not suspend. Loop thread, or any thread while it is not running;
 * may be called from fn itself. */
int ringo_signal_remove(ringo_loop *loop, int signo);

/* May suspend. Wait until one of the signals in set is delivered and
 * return its number. The signals are registered on the current loop for
 * the duration of the call only (held as by ringo_signal_add: -EBUSY if
 * another loop holds one of them) and released when it returns; before
 * and after, their previous disposition applies (SIG_DFL ends the
 * process for SIGINT and SIGTERM: use ringo_signal_add for a signal that
 * may come at any time). Every task waiting for a signal when it comes
 * returns it, and a handler added with ringo_signal_add for it runs too.
 * A signal delivered while the registration is held but nobody waits
 * (the moment between a wake-up and the call returning) is returned by
 * the next ringo_signal_wait on the loop for it that starts before the
 * registration is released, else raised again once the previous
 * disposition is back, so none is lost.
 *
 * Returns the signal number, or -EINVAL (set NULL, empty, or holding a
 * signal not allowed, see above), -EBUSY, -ENOMEM, -ESHUTDOWN, -EPERM
 * outside a task, -ECANCELED. Cancelled (or a timeout scope expired):
 * either a signal was taken (its number is returned, the cancel comes at
 * the next suspension) or none was: -ECANCELED, and a signal that arrived
 * meanwhile is raised again for the previous disposition. set is copied
 * at the call. */
int ringo_signal_wait(const sigset_t *set);

#ifdef __cplusplus
}
#endif

#endif /* RINGO_NET_H */
