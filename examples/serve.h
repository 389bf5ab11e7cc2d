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
	int started;                 /* worker threads started */
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

/* SIGINT/SIGTERM: handled on the loop that asks first, from then on (no
 * mask to block): the handler sets the event the main task waits on. */
static void serve_on_signal(void *arg)
{
	ringo_event_set(arg);
}

static int serve_catch_signals(ringo_loop *loop, ringo_event *stop)
{
	int err = ringo_signal_add(loop, SIGINT, serve_on_signal, stop);
	if (err == 0)
		err = ringo_signal_add(loop, SIGTERM, serve_on_signal, stop);
	if (err < 0)
		fprintf(stderr, "%s: cannot handle SIGINT/SIGTERM: %s\n", serve_cfg->name,
			ringo_strerror(err));
	return err;
}

/* Before stop goes: no handler may set it afterwards. */
static void serve_release_signals(ringo_loop *loop)
{
	ringo_signal_remove(loop, SIGINT);
	ringo_signal_remove(loop, SIGTERM);
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

/* A worker: its own listener and loop; returns when told to stop (by
 * SIGINT/SIGTERM when arg is not NULL, else through stop_fd). */
static int serve_worker_main(void *arg, void **result)
{
	struct serve *s = serve_cfg;
	ringo_loop *loop = ringo_loop_current();
	ringo_event stop;
	ringo_event_init(&stop);
	/* Before listening: a client that sees the port open may signal. */
	int err = arg ? serve_catch_signals(loop, &stop) : 0;
	int lfd = err < 0 ? err : ringo_tcp_listen(s->host, s->port, 4096,
						   s->threads > 1 ? RINGO_TCP_LISTEN_REUSEPORT : 0);
	if (lfd < 0) {
		if (err == 0)
			fprintf(stderr, "%s: listen on %s:%d: %s\n", s->name, s->host, s->port,
				ringo_strerror(lfd));
		if (arg)
			serve_release_signals(loop);
		return lfd;
	}
	if (s->per_loop)
		ringo_spawn(loop, s->per_loop, NULL, NULL, NULL);
	ringo_spawn(loop, serve_accept_loop, (void *)(intptr_t)lfd, NULL, NULL);
	if (arg) {
		ringo_event_wait(&stop);
		serve_release_signals(loop);
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

/* The main thread when there are worker threads: catch the signals on a
 * loop of its own, start the workers (after: a client that sees the port
 * open may signal), wait, then stop every worker. */
static int serve_signal_main(void *arg, void **result)
{
	pthread_t *th = arg;
	ringo_loop *loop = ringo_loop_current();
	ringo_event stop;
	ringo_event_init(&stop);
	int err = serve_catch_signals(loop, &stop);
	if (err < 0)
		return err;
	while (serve_cfg->started < serve_cfg->threads &&
	       pthread_create(&th[serve_cfg->started], NULL, serve_worker_thread, NULL) == 0)
		serve_cfg->started++;
	err = ringo_event_wait(&stop);
	serve_release_signals(loop);
	uint64_t n = (uint64_t)serve_cfg->started;
	if (write(serve_cfg->stop_fd, &n, sizeof(n)) != sizeof(n))
		return -errno;
	return err;
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
	if (s->threads == 1)
		return serve_status(s, ringo_run(serve_worker_main, s, NULL, NULL));
	s->stop_fd = eventfd(0, EFD_SEMAPHORE | EFD_CLOEXEC);
	pthread_t *th = calloc((size_t)s->threads, sizeof(*th));
	if (s->stop_fd < 0 || !th) {
		fprintf(stderr, "%s: cannot start %d threads\n", s->name, s->threads);
		return 1;
	}
	int err = ringo_run(serve_signal_main, th, NULL, NULL);
	for (int i = 0; i < s->started; i++) {
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
