/*
 * UDP: datagram sockets bound or connected without suspending, and
 * sendto/recvfrom as io_uring SENDMSG/RECVMSG operations, so they batch,
 * cancel and time out like every other operation (io.c). The msghdr and
 * its iovec live in the caller's frame, which stays put while the task
 * is suspended in the operation.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "io_internal.h"

union udp_addr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr_storage ss;
};

/* A numeric address (IPv6 with an optional %scope) and a port; never a
 * name lookup (AI_NUMERICHOST: getaddrinfo answers from the string). */
static int parse_numeric(const char *host, int port, union udp_addr *a, socklen_t *len)
{
	if (!host || port < 0 || port > 65535)
		return -EINVAL;
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc == EAI_MEMORY)
		return -ENOMEM;
	if (rc != 0 || !res || res->ai_addrlen > sizeof(*a)) {
		if (res)
			freeaddrinfo(res);
		return -EINVAL;
	}
	memset(a, 0, sizeof(*a));
	memcpy(a, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	if (a->sa.sa_family == AF_INET)
		a->in4.sin_port = htons((uint16_t)port);
	else if (a->sa.sa_family == AF_INET6)
		a->in6.sin6_port = htons((uint16_t)port);
	else
		return -EAFNOSUPPORT;
	return 0;
}

static int set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v)) < 0 ? -errno : 0;
}

static int bind_one(const char *host, int port, unsigned flags)
{
	RINGO_ASSERT(host != NULL); /* ringo_udp_bind picks the wildcard */
	union udp_addr a;
	socklen_t len;
	int err = parse_numeric(host, port, &a, &len);
	if (err < 0)
		return err;
	int fd = socket(a.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = 0;
	if (flags & RINGO_UDP_REUSEADDR)
		err = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (!err && (flags & RINGO_UDP_REUSEPORT))
		err = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
	/* Set either way: the default follows the net.ipv6.bindv6only sysctl. */
	if (!err && a.sa.sa_family == AF_INET6)
		err = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, (flags & RINGO_UDP_V6ONLY) ? 1 : 0);
	if (!err && bind(fd, &a.sa, len) < 0)
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int ringo_udp_bind(const char *host, int port, unsigned flags)
{
	if (flags & ~(unsigned)(RINGO_UDP_REUSEPORT | RINGO_UDP_V6ONLY | RINGO_UDP_REUSEADDR))
		return -EINVAL;
	if (host)
		return bind_one(host, port, flags);
	int fd = bind_one("::", port, flags);
	/* No IPv6 on this system (disabled, or not built in): v4 only. */
	if ((fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL) && !(flags & RINGO_UDP_V6ONLY))
		fd = bind_one("0.0.0.0", port, flags);
	return fd;
}

int ringo_udp_connect(const char *host, int port)
{
	if (port == 0)
		return -EINVAL; /* there is no port 0 to send to */
	union udp_addr a;
	socklen_t len;
	int err = parse_numeric(host, port, &a, &len);
	if (err < 0)
		return err;
	int fd = socket(a.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A datagram connect only records the peer and picks a route and a
	 * local port: it never blocks. */
	if (connect(fd, &a.sa, len) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int ringo_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
		 socklen_t addrlen)
{
	struct iovec iov = {(void *)buf, len};
	struct msghdr msg;
	memset(&msg, 0, sizeof(msg));
	msg.msg_name = (void *)addr;
	msg.msg_namelen = addr ? addrlen : 0;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	return ringo_sendmsg(fd, &msg, flags);
}

int ringo_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr,
		   socklen_t *addrlen)
{
	if (addr && !addrlen)
		return -EINVAL;
	struct iovec iov = {buf, len};
	struct msghdr msg;
	memset(&msg, 0, sizeof(msg));
	msg.msg_name = addr;
	msg.msg_namelen = addr ? *addrlen : 0;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	int rc = ringo_recvmsg(fd, &msg, flags);
	if (rc >= 0 && addr)
		*addrlen = msg.msg_namelen;
	return rc;
}
