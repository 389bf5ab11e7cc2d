/*
 * epoll_echo: a single-threaded non-blocking epoll TCP echo server, written
 * the way redis's ae.c or libuv would drive one. The classic readiness-based
 * baseline ringo's echo server is compared against (see perf/README.md).
 *
 *   epoll_echo PORT        listens on 127.0.0.1:PORT, exits on SIGINT/SIGTERM
 *
 * Shape of the loop:
 *   - level-triggered EPOLLIN on every socket; the listener drains its
 *     backlog with accept4(SOCK_NONBLOCK) until EAGAIN;
 *   - a readable connection is read into its buffer and written straight
 *     back; reading continues while a read fills the whole buffer and stops
 *     on a short read or EAGAIN (level triggering reports anything that
 *     arrives later, so the extra read that would only return EAGAIN is
 *     saved: one epoll_wait, one read and one write per ping-pong);
 *   - if a write is short the rest stays in the buffer, the connection
 *     switches to EPOLLOUT and stops reading until it is flushed
 *     (back-pressure, bounded memory).
 */
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONN_BUF 16384u
#define MAX_EVENTS 512

struct conn {
	int fd;
	unsigned len;  /* bytes in buf waiting to go out; valid while > 0 */
	unsigned sent; /* of those, bytes already written */
	char buf[CONN_BUF];
};

static struct {
	int epfd;
	int listen_fd;
	unsigned live; /* open connections */
} server;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void die(const char *what)
{
	fprintf(stderr, "epoll_echo: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void conn_close(struct conn *c)
{
	close(c->fd); /* also removes it from the epoll set */
	free(c);
	assert(server.live > 0);
	server.live--;
}

static int set_interest(struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	return epoll_ctl(server.epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Returns 0 when everything pending went out, 1 if the socket is full,
 * -1 on a fatal error. */
static int flush(struct conn *c)
{
	while (c->sent < c->len) {
		ssize_t n = send(c->fd, c->buf + c->sent, c->len - c->sent,
				 MSG_NOSIGNAL);
		if (n > 0) {
			c->sent += (unsigned)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			return 1;
		} else {
			return -1;
		}
	}
	c->len = 0;
	c->sent = 0;
	return 0;
}

static void on_readable(struct conn *c)
{
	for (;;) {
		ssize_t n = read(c->fd, c->buf, CONN_BUF);
		int ret;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->len = (unsigned)n;
		c->sent = 0;
		ret = flush(c);
		if (ret < 0 || (ret > 0 && set_interest(c, EPOLLOUT) != 0)) {
			conn_close(c);
			return;
		}
		if (ret > 0 || (size_t)n < CONN_BUF)
			return;
	}
}

static void on_writable(struct conn *c)
{
	int ret = flush(c);

	if (ret < 0 || (ret == 0 && set_interest(c, EPOLLIN) != 0))
		conn_close(c);
}

static void on_listener(void)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct conn *c;
		int fd = accept4(server.listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				perror("epoll_echo: accept4");
			return;
		}
		c = malloc(sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->len = 0;
		c->sent = 0;
		ev.data.ptr = c;
		if (epoll_ctl(server.epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			perror("epoll_echo: epoll_ctl");
			close(fd);
			free(c);
			continue;
		}
		server.live++;
	}
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int listen_on(int port)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Linux copies TCP_NODELAY from the listener to accepted sockets. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		die("bind");
	if (listen(fd, 4096) != 0)
		die("listen");
	return fd;
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait must see EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void dispatch(struct epoll_event *ev)
{
	struct conn *c = ev->data.ptr;

	if (c == NULL) {
		on_listener();
	} else if (ev->events & EPOLLOUT) {
		on_writable(c);
	} else if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		on_readable(c); /* read() reports the error or EOF */
	}
}

int main(int argc, char **argv)
{
	struct epoll_event events[MAX_EVENTS];
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
	int port;

	if (argc != 2 || (port = atoi(argv[1])) <= 0 || port > 65535) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
	raise_nofile();
	install_signals();
	server.listen_fd = listen_on(port);
	server.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (server.epfd < 0)
		die("epoll_create1");
	if (epoll_ctl(server.epfd, EPOLL_CTL_ADD, server.listen_fd, &lev) != 0)
		die("epoll_ctl");
	while (!stop_requested) {
		int n = epoll_wait(server.epfd, events, MAX_EVENTS, -1);

		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++)
			dispatch(&events[i]);
	}
	close(server.epfd);
	close(server.listen_fd);
	fprintf(stderr, "epoll_echo: exiting, %u connections open\n",
		server.live);
	return 0;
}
