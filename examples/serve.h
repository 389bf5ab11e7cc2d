/*
 * serve.h: the scaffolding the example servers share (echo_server,
 * http_server, kv_server): listen, accept, a task per connection, one loop
 * per thread on a SO_REUSEPORT port with --threads N, and a clean stop on
 * SIGINT/SIGTERM (every connection task cancelled, sockets closed, loops
 * closed). Header-only so each example stays one file to build.
 *
 *   struct serve s = {.name = "echo_server", .host = ..., .port = ...,
 *                     .threads = 1, .conn = echo_conn};
 *   return serve_run(&s);
 */
#ifndef RINGO_EXAMPLES_SERVE_H
#define RINGO_EXAMPLES_SERVE_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ringo.h"

struct serve {
	const char *name;            /* for messages */
	const char *host;
	int port;
	int threads;                 /* loops, one per thread */
	ringo_task_fn *conn;         /* a task per connection: arg is the fd, it closes it */
	ringo_task_options conn_opts;
	ringo_task_fn *per_loop;     /* optional: a task spawned on every loop */
	int stop_fd;                 /* eventfd (semaphore): one count per worker to stop */
};

/* A write buffer over a connected socket, the caller's memory: bytes are
 * copied in and sent when it fills or on flush, the sends counted so that
 * one stopped part-way (cancelled, timed out) keeps the unsent rest in
 * order. A connection error is sticky. (ringo_stream does all this and
 * more, with its own buffers; these servers keep theirs for now.) */
struct outbuf {
	int fd;
	char *wbuf;
	size_t wcap, wlen;  /* bytes buffered, not sent yet: wbuf[0, wlen) */
	int error;          /* first connection error of a send, sticky */
};

static inline void outbuf_init(struct outbuf *o, int fd, char *wbuf, size_t wcap)
{
	*o = (struct outbuf){.fd = fd, .wbuf = wbuf, .wcap = wcap};
}

/* Send buf[0, len): 0 or the error that stopped it; *sent counts what
 * went out either way. */
static inline int outbuf_send(int fd, const char *buf, size_t len, size_t *sent)
{
	*sent = 0;
	while (*sent < len) {
		int n = ringo_send(fd, buf + *sent, len - *sent, 0);
		if (n <= 0)
			return n < 0 ? n : -EIO;
		*sent += (size_t)n;
	}
	return 0;
}

/* Errors about the task, not the connection, leave the buffer usable. */
static inline void outbuf_note(struct outbuf *o, int err)
{
	if (err < 0 && err != -ECANCELED && err != -ETIMEDOUT && err != -ENOMEM &&
	    err != -EPERM && err != -ESHUTDOWN)
		o->error = err;
}

/* May suspend. Send everything buffered. */
static inline int outbuf_flush(struct outbuf *o)
{
	if (o->error)
		return o->error;
	size_t sent;
	int err = outbuf_send(o->fd, o->wbuf, o->wlen, &sent);
	o->wlen -= sent;
	if (o->wlen && sent)
		memmove(o->wbuf, o->wbuf + sent, o->wlen);
	outbuf_note(o, err);
	return err;
}

/* May suspend (when the buffer fills). */
static inline int outbuf_write(struct outbuf *o, const void *src, size_t len)
{
	if (o->error)
		return o->error;
	if (len <= o->wcap - o->wlen) {
		memcpy(o->wbuf + o->wlen, src, len);
		o->wlen += len;
		return 0;
	}
	int err = outbuf_flush(o);
	if (err < 0)
		return err;
	if (len <= o->wcap) {
		memcpy(o->wbuf, src, len);
		o->wlen = len;
		return 0;
	}
	size_t sent;
	err = outbuf_send(o->fd, src, len, &sent);
	outbuf_note(o, err);
	return err;
}

/* The server being run; worker threads read it. */
static struct serve *serve_cfg;

static void serve_stop_mask(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGTERM);
}

static int serve_accept_loop(void *arg, void **result)
{
	struct serve *s = serve_cfg;
	int lfd = (int)(intptr_t)arg;
	ringo_loop *loop = ringo_loop_current();
	ringo_acceptor acc;
	int err = ringo_acceptor_init(&acc, lfd);
	if (err < 0) {
		fprintf(stderr, "%s: accept: %s\n", s->name, ringo_strerror(err));
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
		err = ringo_spawn(loop, s->conn, (void *)(intptr_t)fd, &s->conn_opts, NULL);
		if (err < 0) {
			fprintf(stderr, "%s: dropping a connection: %s\n", s->name,
				ringo_strerror(err));
			close(fd);
		}
	}
	ringo_acceptor_destroy(&acc);
	return 0;
}

/* A worker: its own listener and loop; returns when told to stop (by the
 * signal itself when arg is not NULL, else through stop_fd). */
static int serve_worker_main(void *arg, void **result)
{
	struct serve *s = serve_cfg;
	int lfd = ringo_tcp_listen(s->host, s->port, 4096, s->threads > 1 ? RINGO_TCP_LISTEN_REUSEPORT : 0);
	if (lfd < 0) {
		fprintf(stderr, "%s: listen on %s:%d: %s\n", s->name, s->host, s->port,
			ringo_strerror(lfd));
		return lfd;
	}
	ringo_loop *loop = ringo_loop_current();
	if (s->per_loop)
		ringo_spawn(loop, s->per_loop, NULL, NULL, NULL);
	ringo_spawn(loop, serve_accept_loop, (void *)(intptr_t)lfd, NULL, NULL);
	if (arg) {
		sigset_t mask;
		serve_stop_mask(&mask);
		ringo_signal_wait(&mask);
	} else {
		uint64_t v;
		ringo_read(s->stop_fd, &v, sizeof(v), -1);
	}
	/* Returning makes ringo_run cancel every task and wait for them. */
	close(lfd);
	return 0;
}

static void *serve_worker_thread(void *arg)
{
	return (void *)(intptr_t)ringo_run(serve_worker_main, NULL, NULL, NULL);
}

/* The main thread when there are worker threads: wait for the signal on
 * a loop of its own, then stop every worker. */
static int serve_signal_main(void *arg, void **result)
{
	sigset_t mask;
	serve_stop_mask(&mask);
	int sig = ringo_signal_wait(&mask);
	uint64_t n = (uint64_t)serve_cfg->threads;
	if (write(serve_cfg->stop_fd, &n, sizeof(n)) != sizeof(n))
		return -errno;
	return sig < 0 ? sig : 0;
}

/* The exit status for ringo_run's outcome. Errors inside the server were
 * printed where they happened; a loop that could not be created was not:
 * where io_uring is refused (a container's seccomp profile, the
 * io_uring_disabled sysctl) say why and what to change. */
static int serve_status(struct serve *s, int err)
{
	const char *why = err < 0 ? ringo_setup_diagnosis() : NULL;
	if (why)
		fprintf(stderr, "%s: %s\n", s->name, why);
	return err < 0;
}

/* Run the server until SIGINT/SIGTERM. Returns the process exit status. */
static int serve_run(struct serve *s)
{
	serve_cfg = s;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	/* Blocked in every thread (inherited), read through a signalfd. */
	sigset_t mask;
	serve_stop_mask(&mask);
	ringo_signal_block(&mask);
	if (s->threads == 1)
		return serve_status(s, ringo_run(serve_worker_main, s, NULL, NULL));
	s->stop_fd = eventfd(0, EFD_SEMAPHORE | EFD_CLOEXEC);
	pthread_t *th = calloc((size_t)s->threads, sizeof(*th));
	if (s->stop_fd < 0 || !th) {
		fprintf(stderr, "%s: cannot start %d threads\n", s->name, s->threads);
		return 1;
	}
	for (int i = 0; i < s->threads; i++)
		pthread_create(&th[i], NULL, serve_worker_thread, NULL);
	int err = ringo_run(serve_signal_main, NULL, NULL, NULL);
	for (int i = 0; i < s->threads; i++) {
		void *ret;
		pthread_join(th[i], &ret);
		if (err == 0)
			err = (int)(intptr_t)ret;
	}
	int status = serve_status(s, err);
	free(th);
	close(s->stop_fd);
	return status;
}

#endif
