/*
 * echo_server: a TCP echo server, one task per connection.
 *
 *   echo_server [--host ADDR] [--threads N] PORT
 *
 * Listens on 127.0.0.1:PORT by default. With --threads N, N threads each
 * run their own loop on their own SO_REUSEPORT listener for the same port
 * (the kernel spreads connections across them): how ringo uses more cores.
 * SIGINT or SIGTERM stops it cleanly: every connection task is cancelled,
 * its socket closed, and the loops closed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringo.h"
#include "serve.h"

/* One connection: read what comes, send it back, until EOF or error. */
static int echo_conn(void *arg, void **result)
{
	int fd = (int)(intptr_t)arg;
	char buf[16384];
	for (;;) {
		int n = ringo_recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		if (ringo_send_all(fd, buf, (size_t)n) < 0)
			break;
	}
	ringo_close(fd);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: echo_server [--host ADDR] [--threads N] PORT\n"
		     "  TCP echo server, one ringo task per connection.\n"
		     "  --host ADDR   address to listen on (default 127.0.0.1)\n"
		     "  --threads N   N loops, one per thread, on a shared SO_REUSEPORT port\n"
		     "  SIGINT/SIGTERM shut it down cleanly.\n");
}

int main(int argc, char **argv)
{
	struct serve g = {.name = "echo_server", .host = "127.0.0.1", .port = -1, .threads = 1,
			  .conn = echo_conn};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--host") && i + 1 < argc) {
			g.host = argv[++i];
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			g.threads = atoi(argv[++i]);
		} else if (argv[i][0] != '-' && g.port < 0) {
			g.port = atoi(argv[i]);
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (g.port < 0 || g.port > 65535 || g.threads < 1 || g.threads > 1024) {
		usage(stderr);
		return 2;
	}
	return serve_run(&g);
}
