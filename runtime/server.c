/*
 * The server's life on its loops: accepting, a handler task per
 * connection, shutting down (include/ringo/net.h has the contract;
 * server_internal.h the structures; server_start.c makes them).
 *
 * Accepting. Each listener has one accept request in the kernel: a
 * multishot one normally (every connection is a completion, no system
 * call), one at a time under max_connections, so that the server never
 * takes a connection it may not serve yet: it arms only while running
 * handlers plus accepts in flight stay under the limit, and a handler
 * that ends arms again. A connection the limit holds back waits in the
 * kernel's backlog. An accept that fails for want of resources (EMFILE:
 * the kernel leaves the connection queued) sends the listener to a
 * back-off timer instead of retrying hot; the handlers go on meanwhile.
 *
 * Connections. The accept completion spawns the handler task directly
 * (no acceptor task in between); the task makes the stream, runs the
 * handler, lets the bytes it left buffered go out, and frees the stream.
 * A conn record lists the task on its shard so that the grace period can
 * cancel it. A task cancelled before its first step never runs its body,
 * so the server does not cancel such a task: it marks it, and the body
 * only cleans up; and a loop that closes with such tasks (ringo_run's
 * final cancel) has our close hook close their sockets.
 *
 * Shutting down. close() makes every shard cancel its accepts and close
 * its listeners as their requests end. A shard is drained once it is
 * closing, has no accept in flight and no handler left; it reports that
 * to the starting loop (a post, when it runs on a thread of its own),
 * where wait_closed waits for every shard.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server_internal.h"

static void shard_pump(struct shard *sh);
static void shard_check_drained(struct shard *sh);

/* ---- accepting ---- */

static void accept_cqe(ringo_loop *loop, void *ctx, int32_t res, uint32_t flags);

static int arm(struct listener *l)
{
	RINGO_ASSERT(l->ud == 0 && l->fd >= 0 && !l->backoff); /* idle (shard_pump) */
	struct shard *sh = l->sh;
	struct io_uring_sqe *sqe = ringo__sqe(sh->loop);
	if (!sqe)
		return -ESHUTDOWN;
	int err = ringo__op_open(sh->loop, accept_cqe, l, &l->ud);
	if (err < 0) {
		io_uring_prep_nop(sqe);
		sqe->user_data = 0;
		return err;
	}
	if (sh->multishot)
		io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
	else
		io_uring_prep_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
	sqe->user_data = l->ud;
	sh->armed++;
	return 0;
}

static void cancel_accept(struct listener *l)
{
	RINGO_ASSERT(l->ud != 0 || !l->cancel_sent); /* cancel_sent: in flight */
	if (!l->ud || l->cancel_sent)
		return;
	struct io_uring_sqe *sqe = ringo__sqe(l->sh->loop);
	if (!sqe)
		return;
	l->cancel_sent = true;
	io_uring_prep_cancel64(sqe, l->ud, 0);
	sqe->user_data = 0;
}

static void backoff_fire(void *arg)
{
	struct listener *l = arg;
	RINGO_ASSERT(l->backoff && l->ud == 0);
	l->backoff = false;
	shard_pump(l->sh);
}

/* Wait emfile_backoff_ns before this listener accepts again. Without a
 * timer (no memory) the next handler to end re-arms it. */
static void start_backoff(struct listener *l)
{
	RINGO_ASSERT(l->ud == 0); /* the request ended, or was never armed */
	struct shard *sh = l->sh;
	l->backoff = ringo_call_later(sh->loop, sh->srv->backoff_ns, backoff_fire, l,
				      &l->timer) == 0;
}

/* accept(2)'s advice: errors about the one connection being accepted (it
 * was reset, a firewall said no, the network went down under it) are
 * retried at once; anything else (EMFILE, ENFILE, ENOBUFS, ENOMEM, or the
 * listener itself broken) waits for the back-off, so the loop never
 * spins on a failing accept. */
static bool transient(int err)
{
	switch (-err) {
	case ECONNABORTED: case EINTR: case EAGAIN: case EPERM: case EPROTO:
	case ENETDOWN: case ENOPROTOOPT: case EHOSTDOWN: case ENONET:
	case EHOSTUNREACH: case EOPNOTSUPP: case ENETUNREACH: case ETIMEDOUT:
		return true;
	default:
		return false;
	}
}

static void conn_start(struct shard *sh, int fd);

static void listener_close(struct listener *l)
{
	if (l->fd >= 0) {
		close(l->fd);
		l->fd = -1;
	}
}

static void accept_cqe(ringo_loop *loop, void *ctx, int32_t res, uint32_t flags)
{
	struct listener *l = ctx;
	RINGO_ASSERT(l->ud != 0 && l->sh->armed > 0);
	struct shard *sh = l->sh;
	if (res >= 0) {
		conn_start(sh, res);
	} else if (res != -ECANCELED) {
		ringo__server_count(&sh->srv->accept_errors, 1);
		if (!transient(res) && !sh->closing) {
			l->backoff = true; /* the timer starts once the request ended */
			cancel_accept(l);
		}
	}
	if (flags & IORING_CQE_F_MORE) {
		if (ringo__mshot_cancel_lost(&l->cancel_sent, l->cancel_seen))
			cancel_accept(l);
		l->cancel_seen = l->cancel_sent;
		return;
	}
	ringo__op_close(loop, l->ud);
	l->ud = 0;
	l->cancel_sent = false;
	l->cancel_seen = false;
	sh->armed--;
	if (sh->closing || loop->closed) {
		l->backoff = false;
		listener_close(l);
		shard_check_drained(sh);
	} else if (l->backoff) {
		start_backoff(l);
	} else {
		shard_pump(sh);
	}
}

/* Arm every idle listener, as far as the limit allows (starting with a
 * different one each time, so that under a limit no listener starves). */
static void shard_pump(struct shard *sh)
{
	RINGO_ASSERT(sh->nls > 0 && sh->ls != NULL);
	if (sh->closing || sh->loop->closed || sh->loop->ending)
		return;
	for (unsigned k = 0; k < sh->nls; k++) {
		if (sh->limit && sh->active + sh->armed >= sh->limit)
			break;
		struct listener *l = &sh->ls[(sh->next_ls + k) % sh->nls];
		if (l->ud || l->backoff || l->fd < 0)
			continue;
		if (arm(l) < 0)
			start_backoff(l);
	}
	if (sh->nls > 1)
		sh->next_ls = (sh->next_ls + 1) % sh->nls;
}

/* ---- connections ---- */

static void conn_end(struct conn *c);

/* After the handler: the bytes it left buffered go out (at most
 * flush_ns), then the stream is freed. A cancelled handler (the grace
 * period is over) is cut at once. */
static void conn_finish(struct ringo_server *srv, ringo_stream *s)
{
	RINGO_ASSERT(s != NULL);
	ringo_task *self = ringo_task_current();
	if (ringo_stream_write_buffered(s) > 0 && ringo_task_cancelling(self) == 0 &&
	    srv->flush_ns != 0) {
		ringo_stream_close(s);
		ringo_timeout to;
		bool scoped = srv->flush_ns > 0 && ringo_timeout_enter(&to, srv->flush_ns) == 0;
		int rc = ringo_stream_wait_closed(s);
		if (scoped)
			ringo_timeout_exit(&to, rc);
	}
	ringo_stream_free(s);
}

static int conn_main(void *arg, void **result)
{
	struct conn *c = arg;
	RINGO_ASSERT(!c->started && c->task != NULL); /* the body runs once */
	struct shard *sh = c->sh;
	struct ringo_server *srv = sh->srv;
	c->started = true;
	ringo_stream *s = NULL;
	int err = c->cancelled ? -ECANCELED : ringo_stream_new(sh->loop, c->fd, &srv->stream_opts, &s);
	if (err < 0) {
		close(c->fd);
		ringo__server_count(&srv->refused, 1);
	} else {
		ringo_stream *w = s;
		if (srv->wrap && srv->wrap(s, srv->wrap_ctx, &w) < 0) {
			ringo__server_count(&srv->wrap_errors, 1);
			w = NULL;
			ringo_stream_free(s);
		}
		if (w) {
			srv->fn(w, srv->arg);
			conn_finish(srv, w);
		}
		ringo__server_count(&srv->closed_conns, 1);
	}
	conn_end(c); /* may free the server: touch nothing after */
	return 0;
}

static void conn_start(struct shard *sh, int fd)
{
	RINGO_ASSERT(fd >= 0);
	struct ringo_server *srv = sh->srv;
	ringo_loop *loop = sh->loop;
	ringo__server_count(&srv->accepted, 1);
	loop->n_server_conns++; /* the loop's own count, for ringo_loop_stats */
	struct conn *c = NULL;
	/* A loop that is ending (its every task was just cancelled) would
	 * wait for a handler started now: such a connection is refused. */
	if (!sh->closing && !loop->closed && !loop->ending)
		c = ringo__alloc(loop, sizeof(*c));
	if (c) {
		memset(c, 0, sizeof(*c));
		c->sh = sh;
		c->fd = fd;
		ringo__list_init(&c->node);
		ringo_task *t;
		if (ringo_spawn(loop, conn_main, c, &sh->task_opts, &t) == 0) {
			c->task = t;
			ringo_task_release(t); /* the loop holds it until it ends */
			ringo__list_insert_tail(&sh->conns, &c->node);
			sh->active++;
			ringo__server_count(&srv->active, 1);
			return;
		}
		ringo__free(loop, c, sizeof(*c));
	}
	close(fd);
	ringo__server_count(&srv->refused, 1);
}

static void conn_end(struct conn *c)
{
	RINGO_ASSERT(c->started); /* only the body ends a conn */
	struct shard *sh = c->sh;
	ringo__list_remove(&c->node);
	ringo__free(sh->loop, c, sizeof(*c));
	RINGO_ASSERT(sh->active > 0);
	sh->active--;
	ringo__server_count(&sh->srv->active, -1);
	if (sh->closing)
		shard_check_drained(sh);
	else
		shard_pump(sh);
}

/* ---- shutting down, on each shard's loop ---- */

static void server_note_drained(void *arg);

static void shard_check_drained(struct shard *sh)
{
	RINGO_ASSERT(sh->srv != NULL);
	if (!sh->closing || sh->drained || sh->active || sh->armed)
		return;
	sh->drained = true;
	struct ringo_server *srv = sh->srv;
	if (!srv->threaded) {
		server_note_drained(sh);
		return;
	}
	__atomic_fetch_add(&srv->posts, 1, __ATOMIC_RELAXED);
	if (ringo_call_soon_threadsafe(srv->loop, server_note_drained, sh) < 0)
		__atomic_fetch_sub(&srv->posts, 1, __ATOMIC_RELAXED); /* its loop is gone */
}

/* Stop accepting: cancel the accepts; each listener closes as its
 * request ends (closing one with a request in flight would not stop the
 * request). */
static void shard_close(void *arg)
{
	struct shard *sh = arg;
	RINGO_ASSERT(sh->srv != NULL && sh->ls != NULL);
	if (sh->closing)
		return;
	sh->closing = true;
	for (unsigned i = 0; i < sh->nls; i++) {
		struct listener *l = &sh->ls[i];
		if (l->backoff && !sh->loop_closed)
			ringo_handle_cancel(l->timer);
		l->backoff = false;
		if (l->ud)
			cancel_accept(l);
		else
			listener_close(l);
	}
	shard_check_drained(sh);
}

/* The grace period is over: cancel every handler still running. */
static void shard_cancel(void *arg)
{
	struct shard *sh = arg;
	RINGO_ASSERT(sh->srv != NULL);
	for (struct ringo__list *n = sh->conns.next; n != &sh->conns; n = n->next) {
		struct conn *c = ringo__container_of(n, struct conn, node);
		if (c->cancelled)
			continue;
		c->cancelled = true;
		ringo__server_count(&sh->srv->cancelled, 1);
		if (c->started)
			ringo_task_cancel(c->task, "server closed");
	}
}

/* The shard's loop closes (before the server was freed, or while it was
 * draining): handler tasks that never started (the final cancel of
 * ringo_run or of a loop thread skips their bodies) have their sockets
 * closed here, records of abandoned ones are dropped, listeners closed. */
static void shard_loop_closing(ringo_loop *loop, void *arg)
{
	struct shard *sh = arg;
	RINGO_ASSERT(sh->loop == loop && !sh->loop_closed);
	sh->loop_closed = true;
	sh->closing = true;
	while (!ringo__list_empty(&sh->conns)) {
		struct conn *c = ringo__container_of(sh->conns.next, struct conn, node);
		if (!c->started) {
			close(c->fd);
			ringo__server_count(&sh->srv->refused, 1);
		} else {
			ringo__server_count(&sh->srv->closed_conns, 1);
		}
		ringo__list_remove(&c->node);
		ringo__free(loop, c, sizeof(*c));
		sh->active--;
		ringo__server_count(&sh->srv->active, -1);
	}
	for (unsigned i = 0; i < sh->nls; i++) {
		sh->ls[i].backoff = false;
		listener_close(&sh->ls[i]);
	}
	sh->armed = 0; /* the ring was drained before the hooks run */
	shard_check_drained(sh);
}

/* A loop thread of the server's: the hook is the shard's. (On the
 * starting loop the server's hook calls shard_loop_closing itself.) */
void ringo__server_shard_begin(void *arg)
{
	struct shard *sh = arg;
	if (sh->loop->closed)
		return;
	RINGO_ASSERT(sh->srv != NULL && sh->nls > 0);
	/* The probe is the loop's own (made on its thread). */
	struct ringo__io_state *io = ringo__io_state(sh->loop);
	sh->multishot = !sh->limit && io && io->multishot_accept;
	if (sh->srv->threaded && !sh->hooked)
		sh->hooked = ringo__add_close_hook(sh->loop, shard_loop_closing, sh) == 0;
	shard_pump(sh);
}

/* ---- the server, on the starting loop ---- */

/* Freed, and nothing refers to the memory any more: every shard is
 * drained and no drained report is on its way to us (a report still
 * queued when the loop closes is dropped unrun: the hook frees then). */
static bool destroyable(const struct ringo_server *srv)
{
	return srv->freed && srv->drained == srv->nshards &&
	       __atomic_load_n(&srv->posts, __ATOMIC_ACQUIRE) == 0;
}

static void server_note_drained(void *arg)
{
	struct shard *sh = arg;
	struct ringo_server *srv = sh->srv;
	RINGO_ASSERT(sh->drained);
	if (srv->threaded)
		__atomic_fetch_sub(&srv->posts, 1, __ATOMIC_ACQ_REL);
	/* After a threaded free every shard counts as drained already. */
	if (srv->drained < srv->nshards && ++srv->drained == srv->nshards)
		ringo_event_set(&srv->drained_ev);
	if (destroyable(srv) && !srv->loop_closed) /* else the hook frees it */
		ringo__server_destroy(srv);
}

/* The starting loop closes. A single-threaded server's shard goes with
 * it; a threaded one's shards live on until ringo_server_free. A server
 * already freed goes now: what it waited for will never come. */
void ringo__server_loop_closing(ringo_loop *loop, void *arg)
{
	struct ringo_server *srv = arg;
	RINGO_ASSERT(srv->loop == loop && !srv->loop_closed);
	srv->loop_closed = true;
	if (!srv->threaded)
		shard_loop_closing(loop, &srv->shards[0]);
	if (srv->freed)
		ringo__server_destroy(srv);
}

/* Run fn(sh) on the shard's loop. */
static int shard_post(struct shard *sh, ringo_callback_fn *fn)
{
	if (!sh->srv->threaded) {
		fn(sh);
		return 0;
	}
	return ringo_call_soon_threadsafe(sh->loop, fn, sh);
}

static void unlink_unix_path(struct ringo_server *srv)
{
	struct stat st;
	if (srv->unix_path && lstat(srv->unix_path, &st) == 0 && st.st_dev == srv->unix_dev &&
	    st.st_ino == srv->unix_ino)
		unlink(srv->unix_path);
}

int ringo_server_close(ringo_server *srv)
{
	if (!srv)
		return -EINVAL;
	if (srv->closed)
		return 0;
	for (unsigned i = 0; i < srv->nshards; i++) {
		int err = shard_post(&srv->shards[i], shard_close);
		if (err < 0 && err != -ESHUTDOWN)
			return err; /* shard_close is idempotent: call again */
	}
	srv->closed = true;
	unlink_unix_path(srv);
	ringo_event_set(&srv->closed_ev);
	return 0;
}

bool ringo_server_is_serving(const ringo_server *srv)
{
	return srv && !srv->closed;
}

static int cancel_handlers(struct ringo_server *srv)
{
	for (unsigned i = 0; i < srv->nshards; i++) {
		int err = shard_post(&srv->shards[i], shard_cancel);
		if (err < 0 && err != -ESHUTDOWN)
			return err;
	}
	return 0;
}

static int wait_drained(struct ringo_server *srv)
{
	RINGO_ASSERT(srv->closed); /* only a closed server drains */
	while (srv->drained < srv->nshards) {
		int rc = ringo_event_wait(&srv->drained_ev);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int ringo_server_wait_closed(ringo_server *srv, int64_t grace_timeout_ns)
{
	if (!srv)
		return -EINVAL;
	if (!ringo_task_current())
		return -EPERM;
	while (!srv->closed) {
		int rc = ringo_event_wait(&srv->closed_ev);
		if (rc < 0)
			return rc;
	}
	if (grace_timeout_ns != 0 && srv->drained < srv->nshards) {
		ringo_timeout to;
		bool scoped = grace_timeout_ns > 0;
		if (scoped) {
			int err = ringo_timeout_enter(&to, grace_timeout_ns);
			if (err < 0)
				return err;
		}
		int rc = wait_drained(srv);
		if (scoped)
			rc = ringo_timeout_exit(&to, rc);
		if (rc != -ETIMEDOUT)
			return rc < 0 ? rc : 0;
	}
	if (srv->drained < srv->nshards) {
		uint64_t before = __atomic_load_n(&srv->cancelled, __ATOMIC_RELAXED);
		int err = cancel_handlers(srv);
		if (err < 0)
			return err;
		err = wait_drained(srv);
		if (err < 0)
			return err;
		return (int)(__atomic_load_n(&srv->cancelled, __ATOMIC_RELAXED) - before);
	}
	return 0;
}

int ringo_server_serve_forever(ringo_server *srv)
{
	if (!srv)
		return -EINVAL;
	while (!srv->closed) {
		if (!ringo_task_current())
			return -EPERM;
		int rc = ringo_event_wait(&srv->closed_ev);
		if (rc == -ECANCELED)
			ringo_server_close(srv);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void ringo_server_stats(const ringo_server *srv, struct ringo_server_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!srv)
		return;
	out->accepted = __atomic_load_n(&srv->accepted, __ATOMIC_RELAXED);
	out->active = __atomic_load_n(&srv->active, __ATOMIC_RELAXED);
	out->refused = __atomic_load_n(&srv->refused, __ATOMIC_RELAXED);
	out->closed = __atomic_load_n(&srv->closed_conns, __ATOMIC_RELAXED);
	out->accept_errors = __atomic_load_n(&srv->accept_errors, __ATOMIC_RELAXED);
	out->wrap_errors = __atomic_load_n(&srv->wrap_errors, __ATOMIC_RELAXED);
}

int ringo_server_port(const ringo_server *srv)
{
	if (!srv)
		return -EINVAL;
	return srv->port >= 0 ? srv->port : -EAFNOSUPPORT;
}

void ringo__server_destroy(struct ringo_server *srv)
{
	RINGO_ASSERT(srv->nshards > 0);
	if (srv->hooked && !srv->loop_closed)
		ringo__remove_close_hook(srv->loop, ringo__server_loop_closing, srv);
	for (unsigned i = 0; srv->shards && i < srv->nshards; i++) {
		struct shard *sh = &srv->shards[i];
		for (unsigned j = 0; sh->ls && j < sh->nls; j++)
			if (sh->ls[j].fd >= 0)
				close(sh->ls[j].fd); /* never armed: start failed */
		free(sh->ls);
	}
	free(srv->shards);
	free(srv->unix_path);
	free(srv);
}

void ringo_server_free(ringo_server *srv)
{
	if (!srv)
		return;
	while (ringo_server_close(srv) == -ENOMEM)
		;
	if (srv->drained < srv->nshards)
		while (cancel_handlers(srv) == -ENOMEM)
			;
	srv->freed = true;
	if (srv->threaded) {
		/* Each loop runs what was posted to it (the close, the cancel),
		 * then its remaining tasks are cancelled and waited for, and it
		 * closes (our hook closes what never started). */
		for (unsigned i = 0; i < srv->nshards; i++) {
			ringo_loop_thread_free(srv->shards[i].lt);
			srv->shards[i].lt = NULL;
			srv->shards[i].loop = NULL;
		}
		/* Drained reports still queued on our loop hold srv->posts. */
		srv->drained = srv->nshards;
	}
	/* With the loop closed, nothing will ever come back to it. */
	if (destroyable(srv) || srv->loop_closed)
		ringo__server_destroy(srv);
}
