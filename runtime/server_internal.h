/*
 * Private to the server (server.c: accepting, connections, shutting down;
 * server_start.c: options, addresses, listening sockets, threads).
 *
 * A server is one or more shards: a shard is one loop's part of it (its
 * listening sockets, its accept requests, its handler tasks). With
 * threads <= 1 there is one shard, on the caller's loop; with N > 1 there
 * are N, each on a loop thread the server owns. Everything in a shard is
 * touched only on its loop's thread; the server's own fields only on the
 * starting loop's thread, except the counters (atomics) and refs.
 */
#ifndef RINGO_SERVER_INTERNAL_H
#define RINGO_SERVER_INTERNAL_H

#include <sys/types.h>

#include "io_internal.h"

struct shard;

/* One listening socket of a shard and its accept request. */
struct listener {
	struct shard *sh;
	int fd;              /* the listening socket; -1 once closed */
	uint64_t ud;         /* the accept request's tag while the kernel has
			      * it, 0 when none */
	bool cancel_sent;    /* ASYNC_CANCEL queued for it */
	bool cancel_seen;    /* an accept came after it was queued */
	bool backoff;        /* an accept failed for want of resources: the
			      * timer re-arms it */
	ringo_handle timer;  /* that timer, while backoff */
};

/* A connection with its handler task, from accept until the handler's
 * clean-up ends; on the shard's list meanwhile. In the loop's allocator. */
struct conn {
	struct ringo__list node; /* on sh->conns */
	struct shard *sh;
	ringo_task *task;        /* its handler task (the loop holds it) */
	int fd;                  /* the accepted socket, until the stream owns it */
	bool started;            /* the task's body runs: it cleans up */
	bool cancelled;          /* the server cancelled it before it started */
};

struct shard {
	struct ringo_server *srv;
	ringo_loop *loop;
	ringo_loop_thread *lt;   /* threads > 1: the thread running loop */
	struct listener *ls;
	unsigned nls;
	unsigned next_ls;        /* limited: where the next arming starts */
	size_t limit;            /* the most handlers on this loop, 0 = none */
	size_t active;           /* handler tasks spawned and not yet ended */
	unsigned armed;          /* accept requests in the kernel */
	struct ringo__list conns;
	bool multishot;          /* multishot accepts (else one at a time) */
	bool closing;            /* stop accepting */
	bool drained;            /* closing and nothing left: reported */
	bool hooked;             /* our close hook is on loop */
	bool loop_closed;        /* the loop closed (the hook ran) */
	ringo_task_options task_opts;
};

struct ringo_server {
	ringo_loop *loop;             /* the starting loop */
	ringo_server_handler_fn *fn;
	void *arg;
	int (*wrap)(ringo_stream *raw, void *ctx, ringo_stream **out); /* or NULL */
	void *wrap_ctx;
	ringo_stream_options stream_opts;
	int64_t backoff_ns;           /* emfile_backoff_ns, resolved */
	int64_t flush_ns;             /* flush_timeout_ns, resolved; < 0 none */
	unsigned nshards;
	bool threaded;                /* shards on loop threads of our own */
	struct shard *shards;
	int port;                     /* -1 for a Unix server */
	char *unix_path;              /* a Unix server's socket file */
	dev_t unix_dev;               /* ...as bound: removed only if still it */
	ino_t unix_ino;

	bool closed;                  /* ringo_server_close was called */
	bool freed;                   /* ringo_server_free was called */
	bool hooked;                  /* our close hook is on loop */
	bool loop_closed;             /* loop closed (the hook ran) */
	unsigned drained;             /* shards that reported drained */
	ringo_event closed_ev;        /* set by close */
	ringo_event drained_ev;       /* set when every shard drained */
	/* Drained reports posted from shard threads and not yet run: each
	 * holds the server's memory (atomic: posted on shard threads). */
	unsigned posts;

	/* Counters: ringo_server_stats; atomics, any thread. */
	uint64_t accepted, active, refused, closed_conns, accept_errors, wrap_errors;
	uint64_t cancelled;           /* handlers the grace period cancelled */
};

/* server.c: a shard's life on its loop. */
/* Start accepting (on the shard's loop thread): hook the loop, arm. */
void ringo__server_shard_begin(void *shard);
/* The close hook on the starting loop. */
void ringo__server_loop_closing(ringo_loop *loop, void *srv);
/* server_start.c: free the server's memory (listeners, shards, server;
 * the hook taken off the loop if it is still open); every shard must be
 * done with it. */
void ringo__server_destroy(struct ringo_server *srv);

/* Counters. */
static inline void ringo__server_count(uint64_t *c, int64_t d)
{
	__atomic_fetch_add(c, (uint64_t)d, __ATOMIC_RELAXED);
}

#endif /* RINGO_SERVER_INTERNAL_H */
