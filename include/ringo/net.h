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

#ifdef __cplusplus
extern "C" {
#endif

/* ========================================================================
 * Server
 *
 * (The server layer's section goes here: ringo_server_*.)
 * ====================================================================== */

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
