/*
 * chat: a line-based chat server on ringo's server API.
 *
 *   chat [--host ADDR] [--idle-timeout-ms MS] PORT
 *
 * Every line a client sends goes to every other client, as it was sent
 * (exactly once each, and in the order its sender sent them). Lines from
 * the server itself start with "* ": a client is greeted once it is in
 * the room ("* welcome: N here"), one that sends nothing for
 * --idle-timeout-ms (300000; 0: never) is told and disconnected, and on
 * SIGINT or SIGTERM every client gets "* server shutting down: goodbye"
 * before its connection closes. Try it with a few `nc 127.0.0.1 PORT`.
 *
 * How a line reaches everyone: the sender's handler copies it into every
 * other client's stream (ringo_stream_write never waits, so a broadcast
 * is one step: lines from different senders never interleave within a
 * line, and each recipient gets a sender's lines in order). Then
 * backpressure: if a recipient does not read, its write buffer grows past
 * the high-water mark and the sender drains it (ringo_stream_drain) before
 * reading its own next line, so one slow reader slows the senders down
 * instead of growing memory. A recipient so far behind that its buffer
 * reaches the stream's hard cap (16 x the high-water mark: its writes fail
 * with -ENOBUFS), or that takes nothing for the idle timeout while a
 * sender waits, is disconnected. No queue per client, no copies of a
 * message kept beyond the write buffers.
 *
 * One loop serves every client (the room is a plain list).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "ringo.h"

#define LINE_MAX_LEN 4096
#define WRITE_HIGH (64 * 1024) /* each stream's high-water mark */

static const char *host = "127.0.0.1";
static int port = -1;
static int64_t idle_timeout = RINGO_SEC(300);

/* A client, on the heap: a sender waiting for it to drain holds a
 * reference, so it outlives its handler if need be. */
struct client {
	struct client *prev, *next; /* the room */
	ringo_stream *s;            /* valid while !gone (the server frees it
				     * after the handler returned) */
	ringo_lock drain_lock;      /* one sender drains it at a time */
	bool gone;                  /* disconnected: skip it */
	int refs;                   /* its handler, and senders draining it */
};

static void client_unref(struct client *c)
{
	if (--c->refs == 0) {
		ringo_lock_destroy(&c->drain_lock);
		free(c);
	}
}

static struct client room = {.prev = &room, .next = &room}; /* the sentinel */
static size_t nclients;

static void join(struct client *c)
{
	c->next = room.next;
	c->prev = &room;
	room.next->prev = c;
	room.next = c;
	nclients++;
}

static void leave(struct client *c)
{
	c->prev->next = c->next;
	c->next->prev = c->prev;
	nclients--;
}

/* Disconnect a client from outside its handler: its buffered lines still
 * go out, then the connection closes; its handler's read ends. */
static void kick(struct client *c, const char *why)
{
	if (c->gone)
		return;
	c->gone = true;
	if (why)
		ringo_stream_write(c->s, why, strlen(why));
	ringo_stream_close(c->s);
}

/* Wait until c is below its high-water mark (or gone), at most the idle
 * timeout. Senders take turns through the lock: only one task may drain
 * a stream. */
static void wait_drained(struct client *c)
{
	if (ringo_lock_acquire(&c->drain_lock) < 0)
		return;
	ringo_timeout to;
	bool scoped = idle_timeout > 0 && ringo_timeout_enter(&to, idle_timeout) == 0;
	int rc = c->gone ? 0 : ringo_stream_drain(c->s);
	if (scoped)
		rc = ringo_timeout_exit(&to, rc);
	ringo_lock_release(&c->drain_lock);
	if (rc == -ETIMEDOUT)
		kick(c, "* you stopped reading: goodbye\n");
	else if (rc < 0 && rc != -ECANCELED)
		kick(c, NULL);
}

/* Send line to everyone but from, then wait for those who fell behind. */
static void broadcast(struct client *from, const char *line, size_t len)
{
	bool behind = false;
	for (struct client *c = room.next; c != &room; c = c->next) {
		if (c == from || c->gone)
			continue;
		int err = ringo_stream_write(c->s, line, len);
		if (err < 0)
			kick(c, NULL); /* -ENOBUFS: hopelessly behind; or it broke */
		else if (ringo_stream_write_buffered(c->s) > WRITE_HIGH)
			behind = true;
	}
	if (!behind)
		return;
	/* Drain one at a time; a client that leaves meanwhile is skipped
	 * (the list is walked again from the start each time). */
	for (bool again = true; again;) {
		again = false;
		for (struct client *c = room.next; c != &room; c = c->next) {
			if (c != from && !c->gone && ringo_stream_write_buffered(c->s) > WRITE_HIGH) {
				c->refs++;
				wait_drained(c);
				client_unref(c);
				again = true;
				break;
			}
		}
	}
}

/* Read one line, waiting at most the idle timeout: its length, 0 at EOF,
 * -ETIMEDOUT, or another error. */
static int read_line(struct client *c, char *line, size_t cap)
{
	if (idle_timeout <= 0)
		return ringo_stream_readline(c->s, line, cap);
	ringo_timeout to;
	int err = ringo_timeout_enter(&to, idle_timeout);
	if (err < 0)
		return err;
	int n = ringo_stream_readline(c->s, line, cap);
	return ringo_timeout_exit(&to, n);
}

static int chat_client(ringo_stream *s, void *arg)
{
	struct client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->s = s;
	c->refs = 1;
	ringo_lock_init(&c->drain_lock);
	join(c);
	char line[LINE_MAX_LEN + 2];
	int n = snprintf(line, sizeof(line), "* welcome: %zu here\n", nclients);
	ringo_stream_write(s, line, (size_t)n);
	while (!c->gone) {
		n = read_line(c, line, LINE_MAX_LEN);
		if (n == -ETIMEDOUT) {
			kick(c, "* idle for too long: goodbye\n");
			break;
		}
		if (n == -EMSGSIZE) {
			kick(c, "* line too long: goodbye\n");
			break;
		}
		if (n <= 0)
			break; /* EOF, a reset, or kicked (-ESHUTDOWN) */
		if (line[n - 1] != '\n')
			line[n++] = '\n'; /* the last line, at EOF */
		broadcast(c, line, (size_t)n);
	}
	c->gone = true; /* before the server frees s */
	leave(c);
	client_unref(c);
	return 0; /* the server sends what is buffered, then closes */
}

static int chat_main(void *arg, void **result)
{
	ringo_stream_options so = {.write_high = WRITE_HIGH};
	ringo_server_options opts = {.stream = &so};
	ringo_server *srv;
	int err = ringo_server_start(ringo_loop_current(), host, port, chat_client, NULL, &opts, &srv);
	if (err < 0) {
		fprintf(stderr, "chat: listen on %s:%d: %s\n", host, port, ringo_strerror(err));
		return err;
	}
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	ringo_signal_wait(&stop);
	ringo_server_close(srv);
	/* Everyone gets the goodbye line, then the close. */
	for (struct client *c = room.next; c != &room; c = c->next)
		kick(c, "* server shutting down: goodbye\n");
	ringo_server_wait_closed(srv, RINGO_SEC(5));
	ringo_server_free(srv);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: chat [--host ADDR] [--idle-timeout-ms MS] PORT\n"
		     "  Line chat: every line a client sends goes to every other client.\n"
		     "  --host ADDR            address or name to listen on (default 127.0.0.1)\n"
		     "  --idle-timeout-ms MS   disconnect a client silent this long (300000;\n"
		     "                         0: never)\n"
		     "  SIGINT/SIGTERM say goodbye to everyone and stop.\n");
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--host") && more) {
			host = argv[++i];
		} else if (!strcmp(a, "--idle-timeout-ms") && more) {
			char *end;
			long long ms = strtoll(argv[++i], &end, 10);
			if (*end || ms < 0) {
				usage(stderr);
				return 2;
			}
			idle_timeout = RINGO_MSEC(ms);
		} else if (a[0] != '-' && port < 0) {
			port = atoi(a);
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (port < 0 || port > 65535) {
		usage(stderr);
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	int err = ringo_run(chat_main, NULL, NULL, NULL);
	const char *why = err < 0 ? ringo_setup_diagnosis() : NULL;
	if (why)
		fprintf(stderr, "chat: %s\n", why);
	return err < 0;
}
