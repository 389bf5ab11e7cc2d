/*
 * Making a server (include/ringo/net.h; server.c runs it): options, the
 * addresses to listen on, the listening sockets, the shards and their
 * loop threads; and giving the memory back.
 *
 * Every listening socket is opened on the calling thread before any loop
 * accepts, so that a failure (a port in use, a bad address) is returned
 * by ringo_server_start with nothing left open. With threads = N > 1
 * each shard gets its own socket per address, bound to the same port with
 * SO_REUSEPORT (the kernel spreads connections by address hash); a Unix
 * socket cannot be shared that way, so the shards accept on duplicates of
 * one socket.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "server_internal.h"
#include "stream_internal.h"

#define DEFAULT_BACKLOG 4096
#define DEFAULT_BACKOFF RINGO_MSEC(100)
#define DEFAULT_FLUSH RINGO_SEC(10)
#define MAX_THREADS 1024
#define MAX_ADDRS 16 /* a name with more addresses: the first 16 */

/* ---- options ---- */

static int check_options(const ringo_server_options *o)
{
	if (o->flags & ~(unsigned)(RINGO_SERVER_PIN_CPUS | RINGO_SERVER_V6ONLY))
		return -EINVAL;
	if (o->threads > MAX_THREADS || o->backlog < 0 || o->emfile_backoff_ns < 0)
		return -EINVAL;
	unsigned n = o->threads > 1 ? o->threads : 1;
	if (o->max_connections && o->max_connections < n)
		return -EINVAL;
	/* A handler reads and writes streams: no compact stacks. */
	if (o->stack_size && (o->stack_size < RINGO_TASK_STACK_MIN ||
			      o->stack_size > RINGO_TASK_STACK_MAX))
		return -EINVAL;
	return ringo__stream_check_options(o->stream);
}

/* A server with its shards, nothing open yet. */
static struct ringo_server *server_new(ringo_loop *loop, ringo_server_handler_fn *fn, void *arg,
				       const ringo_server_options *o, unsigned nls)
{
	RINGO_ASSERT(nls > 0 && nls <= MAX_ADDRS); /* one listener per address */
	struct ringo_server *srv = calloc(1, sizeof(*srv));
	if (!srv)
		return NULL;
	srv->loop = loop;
	srv->fn = fn;
	srv->arg = arg;
	srv->wrap = o->wrap;
	srv->wrap_ctx = o->wrap_ctx;
	srv->port = -1;
	if (o->stream)
		srv->stream_opts = *o->stream;
	srv->backoff_ns = o->emfile_backoff_ns ? o->emfile_backoff_ns : DEFAULT_BACKOFF;
	srv->flush_ns = o->flush_timeout_ns ? o->flush_timeout_ns : DEFAULT_FLUSH;
	srv->nshards = o->threads > 1 ? o->threads : 1;
	srv->threaded = o->threads > 1;
	ringo_event_init(&srv->closed_ev);
	ringo_event_init(&srv->drained_ev);
	srv->shards = calloc(srv->nshards, sizeof(*srv->shards));
	if (!srv->shards) {
		free(srv);
		return NULL;
	}
	for (unsigned i = 0; i < srv->nshards; i++) {
		struct shard *sh = &srv->shards[i];
		sh->srv = srv;
		sh->loop = loop;
		/* The limit's share: the remainder goes to the first shards. */
		if (o->max_connections)
			sh->limit = o->max_connections / srv->nshards +
				    (i < o->max_connections % srv->nshards);
		sh->task_opts.stack_size = o->stack_size;
		ringo__list_init(&sh->conns);
		sh->ls = calloc(nls, sizeof(*sh->ls));
		if (!sh->ls) {
			ringo__server_destroy(srv);
			return NULL;
		}
		sh->nls = nls;
		for (unsigned j = 0; j < nls; j++) {
			sh->ls[j].sh = sh;
			sh->ls[j].fd = -1;
		}
	}
	return srv;
}

/* ---- addresses ---- */

struct addrs {
	unsigned n;
	struct sockaddr_storage a[MAX_ADDRS];
	socklen_t len[MAX_ADDRS];
	bool v6only[MAX_ADDRS];
};

static void addrs_add(struct addrs *as, const struct sockaddr *sa, socklen_t len)
{
	RINGO_ASSERT(as->n <= MAX_ADDRS);
	if (as->n == MAX_ADDRS || len > sizeof(as->a[0]) ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return;
	for (unsigned i = 0; i < as->n; i++)
		if (as->len[i] == len && !memcmp(&as->a[i], sa, len))
			return; /* a name listed twice (e.g. per socket type) */
	memcpy(&as->a[as->n], sa, len);
	as->len[as->n++] = len;
}

static void set_port(struct sockaddr_storage *a, int port)
{
	RINGO_ASSERT(port >= 0 && port <= 65535);
	RINGO_ASSERT(a->ss_family == AF_INET || a->ss_family == AF_INET6); /* addrs_add's filter */
	if (a->ss_family == AF_INET)
		((struct sockaddr_in *)a)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)a)->sin6_port = htons((uint16_t)port);
}

static bool have_ipv6(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Every address: "::" taking IPv4 too, or with V6ONLY "::" and
 * "0.0.0.0"; "0.0.0.0" alone without IPv6. */
static void wildcard_addrs(unsigned flags, struct addrs *as)
{
	RINGO_ASSERT(as->n == 0);
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	struct sockaddr_in in4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
	bool v6 = have_ipv6();
	if (v6) {
		addrs_add(as, (struct sockaddr *)&in6, sizeof(in6));
		as->v6only[0] = flags & RINGO_SERVER_V6ONLY;
	}
	if (!v6 || (flags & RINGO_SERVER_V6ONLY))
		addrs_add(as, (struct sockaddr *)&in4, sizeof(in4));
}

/* getaddrinfo's list into as; IPv6 sockets take IPv6 only when IPv4
 * addresses are listened on too (they could collide), or when asked. */
static int addrs_from(const struct addrinfo *list, unsigned flags, struct addrs *as)
{
	RINGO_ASSERT(as->n == 0);
	for (const struct addrinfo *ai = list; ai; ai = ai->ai_next)
		addrs_add(as, ai->ai_addr, ai->ai_addrlen);
	if (as->n == 0)
		return -EADDRNOTAVAIL;
	bool v4 = false;
	for (unsigned i = 0; i < as->n; i++)
		v4 |= as->a[i].ss_family == AF_INET;
	for (unsigned i = 0; i < as->n; i++)
		as->v6only[i] = as->a[i].ss_family == AF_INET6 && (v4 || (flags & RINGO_SERVER_V6ONLY));
	return 0;
}

/* May suspend (a name). The addresses for host, port not set yet. */
static int resolve(const char *host, unsigned flags, struct addrs *as)
{
	memset(as, 0, sizeof(*as));
	if (!host || !*host) {
		wildcard_addrs(flags, as);
		return 0;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICHOST};
	struct addrinfo *list = NULL;
	/* Numeric: the C library parses it without any lookup (and knows
	 * IPv6 scopes); a name says EAI_NONAME and goes off the loop. */
	int rc = getaddrinfo(host, NULL, &hints, &list);
	if (rc == EAI_NONAME) {
		hints.ai_flags = AI_PASSIVE;
		int err = ringo_getaddrinfo(host, NULL, &hints, &list);
		if (err < 0)
			return err;
	} else if (rc != 0) {
		return rc == EAI_MEMORY ? -ENOMEM : -EINVAL;
	}
	int err = addrs_from(list, flags, as);
	freeaddrinfo(list);
	return err;
}

/* ---- listening sockets ---- */

static int set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v)) < 0 ? -errno : 0;
}

static int listen_on(const struct sockaddr_storage *a, socklen_t len, bool v6only, bool reuseport,
		     int backlog)
{
	RINGO_ASSERT(len > 0 && backlog > 0);
	int fd = socket(a->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int err = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (!err && reuseport)
		err = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
	if (!err && a->ss_family == AF_INET6)
		err = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only);
	/* Accepted sockets inherit TCP_NODELAY from the listener on Linux. */
	if (!err)
		err = set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
	if (!err && (bind(fd, (const struct sockaddr *)a, len) < 0 || listen(fd, backlog) < 0))
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

static int bound_port(int fd)
{
	RINGO_ASSERT(fd >= 0);
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);
	if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -errno;
	return ntohs(a.ss_family == AF_INET ? ((struct sockaddr_in *)&a)->sin_port
					    : ((struct sockaddr_in6 *)&a)->sin6_port);
}

/* The address cannot be had here at all (an IPv6 address where the
 * system has no IPv6: "localhost" is often ::1 too in /etc/hosts). */
static bool unavailable(int err)
{
	return err == -EADDRNOTAVAIL || err == -EAFNOSUPPORT;
}

/* Every shard's socket for every address, on one port (port 0: the one
 * the first socket got). Of several addresses, those unavailable here are
 * left out (their listeners stay closed), as long as one is not. */
static int open_tcp(struct ringo_server *srv, struct addrs *as, int port, int backlog)
{
	RINGO_ASSERT(as->n > 0 && as->n == srv->shards[0].nls && srv->port == -1);
	bool skip[MAX_ADDRS] = {false};
	unsigned opened = 0;
	int first_err = 0;
	for (unsigned i = 0; i < srv->nshards; i++) {
		for (unsigned j = 0; j < as->n; j++) {
			if (skip[j])
				continue;
			set_port(&as->a[j], port);
			int fd = listen_on(&as->a[j], as->len[j], as->v6only[j], srv->threaded, backlog);
			if (fd < 0 && i == 0 && unavailable(fd) && as->n > 1) {
				skip[j] = true;
				first_err = first_err ? first_err : fd;
				continue;
			}
			if (fd < 0)
				return fd;
			srv->shards[i].ls[j].fd = fd;
			opened++;
			if (port == 0) {
				port = bound_port(fd);
				if (port < 0)
					return port;
			}
		}
	}
	if (!opened)
		return first_err;
	srv->port = port;
	return 0;
}

/* ---- starting ---- */

/* The n-th CPU this process may run on (wrapping round), or -1. */
static int nth_cpu(unsigned n)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return -1;
	int count = CPU_COUNT(&set);
	if (count <= 0)
		return -1;
	unsigned want = n % (unsigned)count;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set) && want-- == 0)
			return cpu;
	return -1;
}

/* Loop threads for the shards (none accepts yet). */
static int start_threads(struct ringo_server *srv, const ringo_server_options *o)
{
	RINGO_ASSERT(srv->threaded && srv->nshards > 1);
	for (unsigned i = 0; i < srv->nshards; i++) {
		struct shard *sh = &srv->shards[i];
		ringo_loop_thread_options to = {.loop = o->loop};
		if (o->flags & RINGO_SERVER_PIN_CPUS) {
			to.cpu = nth_cpu(i);
			to.pin = to.cpu >= 0;
		}
		int err = ringo_loop_thread_start(&to, &sh->lt);
		if (err < 0)
			return err;
		sh->loop = ringo_loop_thread_loop(sh->lt);
	}
	return 0;
}

/* Undo a start that failed part-way: loop threads stopped (their hooks
 * close what they had begun), sockets closed, memory freed. */
static void start_failed(struct ringo_server *srv)
{
	if (srv->unix_ino) /* we bound it: take the file away */
		unlink(srv->unix_path);
	for (unsigned i = 0; i < srv->nshards; i++)
		if (srv->shards[i].lt)
			ringo_loop_thread_free(srv->shards[i].lt);
	ringo__server_destroy(srv);
}

/* The sockets are open: hook the starting loop and let the shards accept. */
static int begin(struct ringo_server *srv, const ringo_server_options *o, ringo_server **out)
{
	RINGO_ASSERT(!srv->hooked && srv->nshards > 0 && out != NULL);
	int err = srv->threaded ? start_threads(srv, o) : 0;
	if (!err) {
		err = ringo__add_close_hook(srv->loop, ringo__server_loop_closing, srv);
		srv->hooked = err == 0;
	}
	for (unsigned i = 0; !err && i < srv->nshards; i++) {
		struct shard *sh = &srv->shards[i];
		if (srv->threaded)
			err = ringo_call_soon_threadsafe(sh->loop, ringo__server_shard_begin, sh);
		else
			ringo__server_shard_begin(sh);
	}
	if (err < 0) {
		start_failed(srv);
		return err;
	}
	*out = srv;
	return 0;
}

static int check_start(ringo_loop *loop, ringo_server_handler_fn *fn, ringo_server **out,
		       const ringo_server_options *o)
{
	if (out)
		*out = NULL;
	if (!loop || !fn || !out)
		return -EINVAL;
	int err = check_options(o);
	return err < 0 ? err : ringo__check_open(loop);
}

int ringo_server_start(ringo_loop *loop, const char *host, int port, ringo_server_handler_fn *fn,
		       void *arg, const ringo_server_options *opts, ringo_server **out)
{
	ringo_server_options defaults = {0};
	const ringo_server_options *o = opts ? opts : &defaults;
	int err = check_start(loop, fn, out, o);
	if (err < 0)
		return err;
	if (port < 0 || port > 65535)
		return -EINVAL;
	struct addrs *as = malloc(sizeof(*as));
	if (!as)
		return -ENOMEM;
	err = resolve(host, o->flags, as);
	struct ringo_server *srv = err < 0 ? NULL : server_new(loop, fn, arg, o, as->n);
	if (!err && !srv)
		err = -ENOMEM;
	if (!err)
		err = open_tcp(srv, as, port, o->backlog ? o->backlog : DEFAULT_BACKLOG);
	free(as);
	if (err < 0) {
		if (srv)
			ringo__server_destroy(srv);
		return err;
	}
	return begin(srv, o, out);
}

int ringo_server_start_unix(ringo_loop *loop, const char *path, ringo_server_handler_fn *fn,
			    void *arg, const ringo_server_options *opts, ringo_server **out)
{
	ringo_server_options defaults = {0};
	const ringo_server_options *o = opts ? opts : &defaults;
	int err = check_start(loop, fn, out, o);
	if (err < 0)
		return err;
	struct ringo_server *srv = server_new(loop, fn, arg, o, 1);
	if (!srv || !(srv->unix_path = strdup(path ? path : ""))) {
		if (srv)
			ringo__server_destroy(srv);
		return -ENOMEM;
	}
	int fd = ringo_unix_listen(path, o->backlog ? o->backlog : DEFAULT_BACKLOG);
	struct stat st;
	if (fd >= 0 && lstat(path, &st) == 0) {
		srv->unix_dev = st.st_dev;
		srv->unix_ino = st.st_ino;
	}
	/* Every shard accepts on its own duplicate of the one socket. */
	for (unsigned i = 0; fd >= 0 && i < srv->nshards; i++) {
		int d = i == 0 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (d < 0) {
			fd = -errno;
			break;
		}
		srv->shards[i].ls[0].fd = d;
	}
	if (fd < 0) {
		start_failed(srv);
		return fd;
	}
	return begin(srv, o, out);
}
