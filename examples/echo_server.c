/*
 * echo_server: a TCP echo server on ringo's server API, a task per
 * connection.
 *
 *   echo_server [--host ADDR] [--threads N] PORT
 *
 * Listens on 127.0.0.1:PORT by default (--host: an address or a name;
 * "::" or "" for every address). With --threads N the server runs N loops
 * on N threads, each with its own SO_REUSEPORT listener for the port (the
 * kernel spreads connections across them): how ringo uses more cores.
 * SIGINT or SIGTERM stops it cleanly: the listeners close, every
 * connection is closed, and the loops end.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "ringo.h"
#include "stop_signals.h"

static const char *host = "127.0.0.1";
static int port = -1;
static unsigned threads = 1;

/* One connection: send back whatever comes, until EOF or an error.
 * forward hands what the read buffer holds (peek) to the write side and
 * consumes it: the block the bytes were received into is sent as it is
 * when the write side is idle (else they are copied into the write
 * buffer; forward never waits: it goes out with the loop's next
 * submission). fill waits for more; drain waits only if the peer does not
 * read what it is sent. */
static int echo(ringo_stream *s, void *arg)
{
	for (;;) {
		size_t len;
		ringo_stream_peek(s, &len);
		if (len == 0) {
			if (ringo_stream_fill(s) <= 0)
				break; /* EOF or an error */
			continue;
		}
		if (ringo_stream_forward(s, s, len) < 0)
			break;
		if (ringo_stream_drain(s) < 0)
			break;
	}
	return 0;
}

static int serve(void *arg, void **result)
{
	int err = stop_signals_catch();
	if (err < 0) {
		fprintf(stderr, "echo_server: catching SIGINT/SIGTERM: %s\n", ringo_strerror(err));
		return err;
	}
	ringo_server_options opts = {.threads = threads};
	ringo_server *srv;
	err = ringo_server_start(ringo_loop_current(), host, port, echo, NULL, &opts, &srv);
	if (err < 0) {
		fprintf(stderr, "echo_server: listen on %s:%d: %s\n", host, port, ringo_strerror(err));
		return err;
	}
	stop_signals_wait();
	/* An echo connection has no request in progress to finish: no grace. */
	ringo_server_close(srv);
	ringo_server_wait_closed(srv, 0);
	ringo_server_free(srv);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: echo_server [--host ADDR] [--threads N] PORT\n"
		     "  TCP echo server, one ringo task per connection.\n"
		     "  --host ADDR   address or name to listen on (default 127.0.0.1)\n"
		     "  --threads N   N loops, one per thread, on a shared SO_REUSEPORT port\n"
		     "  SIGINT/SIGTERM shut it down cleanly.\n");
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--host") && i + 1 < argc) {
			host = argv[++i];
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			threads = (unsigned)atoi(argv[++i]);
		} else if (argv[i][0] != '-' && port < 0) {
			port = atoi(argv[i]);
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (port < 0 || port > 65535 || threads < 1 || threads > 1024) {
		usage(stderr);
		return 2;
	}
	/* As many connections as the hard limit allows. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	int err = ringo_run(serve, NULL, NULL, NULL);
	/* Where io_uring is refused (seccomp, the sysctl) say why. */
	const char *why = err < 0 ? ringo_setup_diagnosis() : NULL;
	if (why)
		fprintf(stderr, "echo_server: %s\n", why);
	return err < 0;
}
