/*
 * The client side of streams: getaddrinfo off the loop, and connect with
 * name resolution (asyncio open_connection).
 *
 * A lookup is a job on the loop's default executor that owns copies of
 * everything it reads, so a cancelled caller can leave at once: the job
 * finishes on its worker and frees itself. Whoever is done with the job
 * last frees it (three references: the worker's fn, the waiting task, the
 * future's done callback). It comes from malloc, not the loop's allocator,
 * because a worker thread may be the one that frees it; getaddrinfo's own
 * result is malloc's too. A loop that closes runs no more callbacks: its
 * close hook gives up the references of the callbacks (and of tasks it
 * abandons) that will never run, and the worker frees the job.
 *
 * A numeric address never goes to the executor: getaddrinfo with
 * AI_NUMERICHOST does no I/O.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stream_internal.h"

/* ---- getaddrinfo ---- */

struct gai_job {
	_Atomic int refs;          /* see the file comment */
	int rc;                    /* the lookup's outcome (worker, then read
				    * by the waiter once the future is done) */
	struct addrinfo *res;      /* its result, until the waiter takes it */
	ringo_task *waiter;        /* loop thread: the waiting task, or NULL
				    * once it left */
	ringo_future *fut;         /* loop thread: the executor's future */
	struct ringo__list link;   /* loop thread: on the loop's lookups until
				    * the done callback runs */
	bool has_hints;
	struct addrinfo hints;     /* copied: only the four input fields */
	char *node, *service;      /* NULL or into strings[] */
	char strings[];
};

/* EAI_* to a negative errno (ringo_strerror reads them for names). */
static int gai_errno(int rc, int saved_errno)
{
	switch (rc) {
	case 0:
		return 0;
	case EAI_NONAME:
		return -ENOENT;
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_FAMILY:
		return -EAFNOSUPPORT;
	case EAI_SERVICE:
		return -ESRCH;
#ifdef EAI_NODATA
	case EAI_NODATA:
		return -ENODATA;
#endif
#ifdef EAI_ADDRFAMILY
	case EAI_ADDRFAMILY:
		return -ENODATA; /* no address in the family asked for */
#endif
	case EAI_BADFLAGS:
		return -EINVAL;
	case EAI_SOCKTYPE:
		return -ESOCKTNOSUPPORT;
	case EAI_SYSTEM:
		return saved_errno > 0 ? -saved_errno : -EIO;
	default:
		return -EIO;
	}
}

_Atomic long ringo__resolve_jobs;

static void job_put(struct gai_job *j)
{
	if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (j->res)
		freeaddrinfo(j->res);
	free(j);
	atomic_fetch_sub_explicit(&ringo__resolve_jobs, 1, memory_order_relaxed);
}

int (*ringo__resolve_fn)(const char *node, const char *service, const struct addrinfo *hints,
			 struct addrinfo **res) = getaddrinfo;

/* Worker thread. */
static int gai_fn(void *arg, void **result)
{
	struct gai_job *j = arg;
	struct addrinfo *res = NULL;
	int rc = ringo__resolve_fn(j->node, j->service, j->has_hints ? &j->hints : NULL, &res);
	j->rc = gai_errno(rc, errno);
	j->res = rc == 0 ? res : NULL;
	job_put(j);
	return 0;
}

/* Per loop (loop->resolve), made with the first lookup, freed at close. */
struct resolve_loop {
	struct ringo__list lookups; /* jobs whose done callback has not run */
};

/* Loop thread, once fn returned or will never run. */
static void gai_done(ringo_future *fut, void *arg)
{
	struct gai_job *j = arg;
	RINGO_ASSERT(j->fut == fut);
	RINGO_ASSERT(!ringo__list_empty(&j->link));
	ringo__list_remove(&j->link);
	if (ringo_future_cancelled(fut))
		job_put(j); /* withdrawn: fn never ran, its reference is ours */
	if (j->waiter) {
		ringo_task *t = j->waiter;
		j->waiter = NULL;
		ringo__task_wake(t, 0);
	}
	ringo_future_release(fut);
	job_put(j);
}

/* Cancelled while waiting: leave at once. A job not started is withdrawn;
 * a running one finishes on its own and gai_done frees what is left. */
static void gai_interrupt(ringo_task *t)
{
	struct gai_job *j = ringo__task_wait_ctx(t);
	RINGO_ASSERT(j->waiter == t);
	j->waiter = NULL;
	ringo_future_cancel(j->fut, NULL);
	job_put(j);
	/* keep_result: deliver the cancel here, not again later. */
	ringo__task_clear_cancel(t);
	ringo__task_wake(t, -ECANCELED);
}

/* keep_result: once the lookup is done and the task woken, its result is
 * the call's even if a cancel comes before the task runs (the cancel then
 * comes at the next suspension). */
/* The task's reference goes; the lookup itself is let go of by the close
 * hook (resolve_close). */
static void gai_abandon(ringo_task *t)
{
	struct gai_job *j = ringo__task_wait_ctx(t);
	RINGO_ASSERT(j->waiter == t);
	j->waiter = NULL;
	job_put(j);
}

static const struct ringo__wait_ops gai_wait = {
	.what = "getaddrinfo", .interrupt = gai_interrupt, .keep_result = true,
	.abandon = gai_abandon};

static struct gai_job *job_new(const char *node, const char *service,
			       const struct addrinfo *hints)
{
	size_t nlen = node ? strlen(node) + 1 : 0, slen = service ? strlen(service) + 1 : 0;
	struct gai_job *j = malloc(sizeof(*j) + nlen + slen);
	if (!j)
		return NULL;
	memset(j, 0, sizeof(*j));
	atomic_fetch_add_explicit(&ringo__resolve_jobs, 1, memory_order_relaxed);
	atomic_init(&j->refs, 3);
	ringo__list_init(&j->link);
	if (node)
		j->node = memcpy(j->strings, node, nlen);
	if (service)
		j->service = memcpy(j->strings + nlen, service, slen);
	if (hints) {
		j->has_hints = true;
		j->hints.ai_flags = hints->ai_flags;
		j->hints.ai_family = hints->ai_family;
		j->hints.ai_socktype = hints->ai_socktype;
		j->hints.ai_protocol = hints->ai_protocol;
	}
	return j;
}

/* Close: lookups whose done callback will never run now give up the
 * references it held. */
static void resolve_close(ringo_loop *loop, void *ctx)
{
	struct resolve_loop *rl = ctx;
	RINGO_ASSERT(loop->resolve == rl);
	while (!ringo__list_empty(&rl->lookups)) {
		struct gai_job *j = ringo__container_of(rl->lookups.next, struct gai_job, link);
		ringo__list_remove(&j->link);
		/* The callback is dropped (done) or never scheduled (pending:
		 * take it off); either way it will not run. */
		if (!ringo_future_done(j->fut))
			ringo_future_remove_done_callback(j->fut, gai_done, j);
		else if (ringo_future_cancelled(j->fut))
			job_put(j); /* withdrawn: fn never ran */
		/* A task still waiting is abandoned with the loop. */
		if (j->waiter) {
			j->waiter = NULL;
			job_put(j);
		}
		ringo_future_release(j->fut);
		job_put(j);
	}
	loop->resolve = NULL;
	ringo__free(loop, rl, sizeof(*rl));
}

static struct resolve_loop *resolve_loop_get(ringo_loop *loop)
{
	if (loop->resolve)
		return loop->resolve;
	struct resolve_loop *rl = ringo__alloc(loop, sizeof(*rl));
	if (!rl)
		return NULL;
	ringo__list_init(&rl->lookups);
	if (ringo__add_close_hook(loop, resolve_close, rl) < 0) {
		ringo__free(loop, rl, sizeof(*rl));
		return NULL;
	}
	loop->resolve = rl;
	return rl;
}

static bool is_numeric_host(const char *node)
{
	unsigned char a[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, node, a) == 1 || inet_pton(AF_INET6, node, a) == 1;
}

static bool is_numeric_service(const char *service)
{
	if (!service)
		return true;
	if (!*service)
		return false;
	for (const char *p = service; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

/* Nothing to look up (a numeric host and port, or no host): answered on
 * the spot. */
static int gai_now(const char *node, const char *service, const struct addrinfo *hints,
		   struct addrinfo **res)
{
	struct addrinfo h = {0};
	if (hints) {
		h.ai_flags = hints->ai_flags;
		h.ai_family = hints->ai_family;
		h.ai_socktype = hints->ai_socktype;
		h.ai_protocol = hints->ai_protocol;
	}
	h.ai_flags |= AI_NUMERICSERV | (node ? AI_NUMERICHOST : 0);
	struct addrinfo *r = NULL;
	int rc = getaddrinfo(node, service, &h, &r);
	if (rc == 0)
		*res = r;
	return gai_errno(rc, errno);
}

int ringo_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		      struct addrinfo **res)
{
	if (!res || (!node && !service))
		return -EINVAL;
	ringo_task *self = ringo_task_current();
	if (!self)
		return -EPERM;
	if ((!node || is_numeric_host(node)) && is_numeric_service(service))
		return gai_now(node, service, hints, res);
	/* Taken here, so that once suspended only the interrupt ends the
	 * wait with an error (and then the job is no longer ours to touch). */
	if (ringo__task_cancel_pending(self)) {
		ringo__task_clear_cancel(self);
		return -ECANCELED;
	}
	struct resolve_loop *rl = resolve_loop_get(ringo_loop_current());
	struct gai_job *j = rl ? job_new(node, service, hints) : NULL;
	if (!j)
		return -ENOMEM;
	int err = ringo_run_in_executor(ringo_loop_current(), NULL, gai_fn, j, &j->fut);
	if (err < 0) {
		free(j);
		atomic_fetch_sub_explicit(&ringo__resolve_jobs, 1, memory_order_relaxed);
		return err;
	}
	err = ringo_future_add_done_callback(j->fut, gai_done, j);
	if (err < 0) {
		/* Withdraw the job if it has not started, else let it run out. */
		ringo_future_cancel(j->fut, NULL);
		if (ringo_future_done(j->fut))
			job_put(j); /* fn never runs */
		ringo_future_release(j->fut);
		job_put(j); /* the callback's */
		job_put(j); /* ours */
		return err;
	}
	ringo__list_insert_tail(&rl->lookups, &j->link);
	j->waiter = self;
	int rc = ringo__task_suspend(&gai_wait, j);
	if (rc < 0)
		return rc; /* the interrupt left the job to finish alone */
	rc = j->rc;
	if (rc == 0) {
		*res = j->res;
		j->res = NULL;
	}
	job_put(j);
	return rc;
}

/* ---- connect ---- */

/* One attempt: a socket, connected, or -errno (nothing left open). */
static int connect_one(const struct sockaddr *addr, socklen_t len)
{
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (addr->sa_family != AF_UNIX) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	int err = ringo_connect(fd, addr, len);
	if (err < 0) {
		close(fd); /* nothing in flight on it any more */
		return err;
	}
	return fd;
}

/* The address family or the route is not there: worth reporting only if
 * no other attempt says more. */
static bool unavailable(int err)
{
	return err == -EAFNOSUPPORT || err == -EADDRNOTAVAIL || err == -ENETUNREACH ||
	       err == -EHOSTUNREACH || err == -EPROTONOSUPPORT;
}

/* RFC 8305 section 4, without the racing: alternate the families,
 * starting with the one the resolver put first. Fills order[0, n). */
void ringo__connect_order(const struct addrinfo *list, const struct addrinfo **order, size_t n)
{
	RINGO_ASSERT(order || n == 0);
	size_t k = 0;
	int first = list ? list->ai_family : AF_UNSPEC;
	const struct addrinfo *a = list, *b = list;
	while (k < n) {
		while (a && a->ai_family != first)
			a = a->ai_next;
		while (b && b->ai_family == first)
			b = b->ai_next;
		if (a) {
			order[k++] = a;
			a = a->ai_next;
		}
		if (b && k < n) {
			order[k++] = b;
			b = b->ai_next;
		}
		if (!a && !b)
			break;
	}
}

/* Try each address in turn; the connected fd or the most telling error. */
int ringo__connect_list(const struct addrinfo *list)
{
	size_t n = 0;
	for (const struct addrinfo *p = list; p; p = p->ai_next)
		n++;
	if (n == 0)
		return -ENODATA;
	const struct addrinfo *stack_order[16];
	const struct addrinfo **order = n <= 16 ? stack_order : malloc(n * sizeof(*order));
	if (!order)
		return -ENOMEM;
	ringo__connect_order(list, order, n);
	int best = 0;
	int fd = -1;
	for (size_t i = 0; i < n && fd < 0; i++) {
		int rc = connect_one(order[i]->ai_addr, order[i]->ai_addrlen);
		if (rc >= 0)
			fd = rc;
		else if (rc == -ECANCELED)
			best = rc, i = n; /* cancelled or timed out: stop here */
		else if (!best || (unavailable(best) && !unavailable(rc)))
			best = rc;
	}
	if (order != stack_order)
		free(order);
	return fd >= 0 ? fd : best;
}

static int stream_from_fd(int fd, const ringo_stream_options *opts, ringo_stream **out)
{
	int err = ringo_stream_new(ringo_loop_current(), fd, opts, out);
	if (err < 0)
		close(fd);
	return err;
}

/* Resolve (if need be) and connect, inside the caller's timeout scope. */
static int connect_host(const char *host, int port)
{
	char service[8];
	snprintf(service, sizeof(service), "%d", port);
	struct addrinfo hints = {0}, *res = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int err = ringo_getaddrinfo(host, service, &hints, &res);
	if (err < 0)
		return err;
	int fd = ringo__connect_list(res);
	freeaddrinfo(res);
	return fd;
}

int ringo_stream_connect(const char *host, int port, int64_t timeout_ns,
			 const ringo_stream_options *opts, ringo_stream **out)
{
	if (out)
		*out = NULL;
	if (!host || !out || port < 0 || port > 65535)
		return -EINVAL;
	int err = ringo__stream_check_options(opts);
	if (err < 0)
		return err;
	if (!ringo_task_current())
		return -EPERM;
	ringo_timeout scope;
	err = ringo_timeout_enter(&scope, timeout_ns);
	if (err < 0)
		return err;
	int fd = connect_host(host, port);
	fd = ringo_timeout_exit(&scope, fd);
	if (fd < 0)
		return fd;
	return stream_from_fd(fd, opts, out);
}

int ringo_stream_connect_unix(const char *path, int64_t timeout_ns,
			      const ringo_stream_options *opts, ringo_stream **out)
{
	if (out)
		*out = NULL;
	if (!out)
		return -EINVAL;
	int err = ringo__stream_check_options(opts);
	if (err < 0)
		return err;
	int fd = ringo_unix_connect(path, timeout_ns);
	if (fd < 0)
		return fd;
	return stream_from_fd(fd, opts, out);
}
