/*
 * udp_echo: a UDP echo server.
 *
 *   udp_echo [--host ADDR] [--tasks N] PORT
 *
 * Every datagram is sent back, whole, to the address it came from. By
 * default it listens on every address (IPv6 and IPv4). N tasks (default
 * 4) share the one socket, each receiving with ringo_recvfrom and
 * answering with ringo_sendto, so N datagrams are in hand at once.
 * SIGINT or SIGTERM stops it cleanly (exit status 0): a handler added
 * with ringo_signal_add cancels the tasks, whose pending receives are
 * cancelled in the kernel, and the socket is closed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ringo.h"

#define MAX_DATAGRAM 65536
#define MAX_TASKS 64

struct server {
	const char *host;   /* NULL: every address */
	int port;
	int ntasks;
	int fd;
	ringo_task *tasks[MAX_TASKS];
	int status;         /* exit status */
};

/* Receive, send back, until cancelled. Errors that concern one peer or
 * one datagram (an ICMP error for an earlier answer, a full buffer) do
 * not stop the server. */
static int echo_task(void *arg, void **result)
{
	struct server *srv = arg;
	char *buf = malloc(MAX_DATAGRAM);
	if (!buf)
		return -ENOMEM;
	int err = 0;
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int n = ringo_recvfrom(srv->fd, buf, MAX_DATAGRAM, 0, (struct sockaddr *)&peer,
				       &plen);
		if (n == -ECANCELED)
			break;
		if (n < 0) {
			if (n == -ECONNREFUSED || n == -ENOMEM || n == -ENOBUFS || n == -EINTR)
				continue;
			err = n;
			fprintf(stderr, "udp_echo: receive: %s\n", ringo_strerror(n));
			break;
		}
		int m = ringo_sendto(srv->fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, plen);
		if (m == -ECANCELED)
			break;
	}
	free(buf);
	return err;
}

/* SIGINT/SIGTERM: stop every echo task. */
static void on_stop(void *arg)
{
	struct server *srv = arg;
	for (int i = 0; i < srv->ntasks; i++)
		ringo_task_cancel(srv->tasks[i], "signal");
}

static int main_task(void *arg, void **result)
{
	struct server *srv = arg;
	ringo_loop *loop = ringo_loop_current();
	/* Before the socket exists: whoever sees the port answer may signal. */
	int err = ringo_signal_add(loop, SIGINT, on_stop, srv);
	if (err == 0)
		err = ringo_signal_add(loop, SIGTERM, on_stop, srv);
	if (err == 0) {
		srv->fd = ringo_udp_bind(srv->host, srv->port, 0);
		err = srv->fd < 0 ? srv->fd : 0;
	}
	if (err < 0) {
		fprintf(stderr, "udp_echo: %s port %d: %s\n", srv->host ? srv->host : "*",
			srv->port, ringo_strerror(err));
		srv->status = 1;
		return 0;
	}
	int n = 0;
	while (n < srv->ntasks && ringo_spawn(loop, echo_task, srv, NULL, &srv->tasks[n]) == 0)
		n++;
	srv->ntasks = n;
	for (int i = 0; i < n; i++) {
		int rc;
		while ((rc = ringo_await(ringo_task_future(srv->tasks[i]), NULL)) == -ECANCELED &&
		       !ringo_future_done(ringo_task_future(srv->tasks[i])))
			;
		if (rc < 0 && rc != -ECANCELED)
			srv->status = 1;
	}
	ringo_signal_remove(loop, SIGINT);
	ringo_signal_remove(loop, SIGTERM);
	for (int i = 0; i < n; i++)
		ringo_task_release(srv->tasks[i]);
	ringo_close(srv->fd);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: udp_echo [--host ADDR] [--tasks N] PORT\n"
		     "  UDP echo server: every datagram goes back to its sender.\n"
		     "  --host ADDR   numeric address to bind (default: every address)\n"
		     "  --tasks N     tasks receiving on the socket (default 4)\n"
		     "  SIGINT/SIGTERM shut it down cleanly.\n");
}

int main(int argc, char **argv)
{
	struct server srv = {.port = -1, .ntasks = 4, .fd = -1};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--host") && i + 1 < argc) {
			srv.host = argv[++i];
		} else if (!strcmp(argv[i], "--tasks") && i + 1 < argc) {
			srv.ntasks = atoi(argv[++i]);
		} else if (argv[i][0] != '-' && srv.port < 0) {
			srv.port = atoi(argv[i]);
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (srv.port < 0 || srv.port > 65535 || srv.ntasks < 1 || srv.ntasks > MAX_TASKS) {
		usage(stderr);
		return 2;
	}
	int rc = ringo_run(main_task, &srv, NULL, NULL);
	if (rc < 0) {
		const char *why = ringo_setup_diagnosis();
		fprintf(stderr, "udp_echo: %s\n", why ? why : ringo_strerror(rc));
		return 1;
	}
	return srv.status;
}
