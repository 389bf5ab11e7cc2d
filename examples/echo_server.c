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
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ringo.h"

struct server {
	const char *host;
	int port;
	int threads;
	int stop_fd;   /* eventfd (semaphore): one count per worker to stop */
};

static struct server g;

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

static int accept_loop(void *arg, void **result)
{
	int lfd = (int)(intptr_t)arg;
	ringo_loop *loop = ringo_loop_current();
	ringo_acceptor acc;
	int err = ringo_acceptor_init(&acc, lfd);
	if (err < 0) {
		fprintf(stderr, "echo_server: accept: %s\n", ringo_strerror(err));
		return err;
	}
	for (;;) {
		int fd = ringo_acceptor_next(&acc);
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM || fd == -ENOBUFS) {
			/* Out of descriptors: keep serving the others, retry soon. */
			if (ringo_sleep(RINGO_MSEC(10)) == -ECANCELED)
				break;
			continue;
		}
		if (fd < 0)
			break; /* cancelled: shutting down */
		err = ringo_spawn(loop, echo_conn, (void *)(intptr_t)fd, NULL, NULL);
		if (err < 0) {
			fprintf(stderr, "echo_server: dropping a connection: %s\n",
				ringo_strerror(err));
			close(fd);
		}
	}
	ringo_acceptor_close(&acc);
	return 0;
}

/* A worker: its own listener and loop; returns when told to stop. */
static int worker_main(void *arg, void **result)
{
	bool wait_signal = arg != NULL;
	int lfd = ringo_listen_tcp(g.host, g.port, 4096, g.threads > 1 ? RINGO_NET_REUSEPORT : 0);
	if (lfd < 0) {
		fprintf(stderr, "echo_server: listen on %s:%d: %s\n", g.host, g.port,
			ringo_strerror(lfd));
		return lfd;
	}
	ringo_spawn(ringo_loop_current(), accept_loop, (void *)(intptr_t)lfd, NULL, NULL);
	if (wait_signal) {
		sigset_t mask;
		sigemptyset(&mask);
		sigaddset(&mask, SIGINT);
		sigaddset(&mask, SIGTERM);
		ringo_signal_wait(&mask);
	} else {
		uint64_t v;
		ringo_read(g.stop_fd, &v, sizeof(v), -1);
	}
	/* Returning makes ringo_run cancel every task and wait for them. */
	close(lfd);
	return 0;
}

static void *worker_thread(void *arg)
{
	int rc = ringo_run(worker_main, NULL, NULL, NULL);
	return (void *)(intptr_t)rc;
}

/* The main thread when there are worker threads: wait for the signal on
 * a loop of its own, then stop every worker. */
static int signal_main(void *arg, void **result)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	int sig = ringo_signal_wait(&mask);
	uint64_t n = (uint64_t)g.threads;
	if (write(g.stop_fd, &n, sizeof(n)) != sizeof(n))
		return -errno;
	return sig < 0 ? sig : 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: echo_server [--host ADDR] [--threads N] PORT\n"
		     "  TCP echo server, one ringo task per connection.\n"
		     "  --host ADDR   address to listen on (default 127.0.0.1)\n"
		     "  --threads N   N loops, one per thread, on a shared SO_REUSEPORT port\n"
		     "  SIGINT/SIGTERM shut it down cleanly.\n");
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	g.host = "127.0.0.1";
	g.threads = 1;
	g.port = -1;
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
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	/* Blocked in every thread (inherited), read through a signalfd. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	ringo_signal_block(&mask);
	if (g.threads == 1) {
		int rc = ringo_run(worker_main, &g, NULL, NULL);
		return rc < 0 ? 1 : 0;
	}
	g.stop_fd = eventfd(0, EFD_SEMAPHORE | EFD_CLOEXEC);
	pthread_t *th = calloc((size_t)g.threads, sizeof(*th));
	for (int i = 0; i < g.threads; i++)
		pthread_create(&th[i], NULL, worker_thread, NULL);
	int rc = ringo_run(signal_main, NULL, NULL, NULL);
	int status = rc < 0 ? 1 : 0;
	for (int i = 0; i < g.threads; i++) {
		void *ret;
		pthread_join(th[i], &ret);
		if ((intptr_t)ret < 0)
			status = 1;
	}
	free(th);
	close(g.stop_fd);
	return status;
}
