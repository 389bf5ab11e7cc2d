/*
 * resolve: what a name lookup costs a task, ringo_getaddrinfo (the system
 * resolver on an executor thread) beside c-ares (on the loop's thread) when
 * the program was built with it (make builds it so if libc-ares-dev is
 * installed: pkg-config libcares). Two names that need no name server:
 * "localhost" and the first other name in /etc/hosts. Medians of ROUNDS
 * lookups one at a time:
 *   resolve_<name>_executor_us   ringo_getaddrinfo, from a task
 *   resolve_<name>_cares_us      ares_getaddrinfo answered from the hosts
 *                                file (no socket: its callback runs inside
 *                                the call), from a task
 *   resolve_<name>_*_loop_cpu_us the loop thread's CPU per lookup (what the
 *                                loop cannot spend on other tasks meanwhile;
 *                                waiting for the worker, the loop spins a
 *                                little before it sleeps: counted here)
 *   resolve_<name>_cares_ratio   c-ares / executor (and _loop_cpu_ratio)
 *   resolve_executor_floor_us    ringo_to_thread of a function that does
 *                                nothing: the thread hop alone
 *   resolve_parallel_executor_us 64 tasks each looking up localhost at
 *                                once: wall time per lookup (and the loop's
 *                                CPU per lookup: _loop_cpu_us), 20 rounds
 *
 *   build/perf/resolve [ROUNDS]        (default 2000)
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <ringo.h>

#include "times.h"

#ifdef HAVE_CARES
#include <ares.h>
#endif

static int rounds = 2000;

/* CPU time of the calling (loop) thread. */
static int64_t loop_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double last_loop_cpu_us; /* per lookup, of the last measurement */

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmpd);
	return v[n / 2];
}

/* The first name in /etc/hosts other than localhost (NULL if none). */
static char hosts_name[256];

static const char *find_hosts_name(void)
{
	FILE *f = fopen("/etc/hosts", "r");
	if (!f)
		return NULL;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		char *save, *addr = strtok_r(line, " \t\n", &save);
		if (!addr || addr[0] == '#' || strchr(addr, ':'))
			continue;
		for (char *n; (n = strtok_r(NULL, " \t\n", &save));) {
			if (n[0] == '#')
				break;
			if (strcmp(n, "localhost")) {
				snprintf(hosts_name, sizeof(hosts_name), "%s", n);
				fclose(f);
				return hosts_name;
			}
		}
	}
	fclose(f);
	return NULL;
}

static double executor_lookup(const char *name, double *v)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	int64_t c0 = loop_cpu_ns();
	for (int i = 0; i < rounds; i++) {
		struct addrinfo *res;
		int64_t t0 = now_ns();
		int err = ringo_getaddrinfo(name, NULL, &hints, &res);
		v[i] = (double)(now_ns() - t0) / 1e3;
		if (err < 0) {
			fprintf(stderr, "resolve: %s: %s\n", name, ringo_strerror(err));
			exit(1);
		}
		freeaddrinfo(res);
	}
	last_loop_cpu_us = (double)(loop_cpu_ns() - c0) / 1e3 / rounds;
	return median(v, rounds);
}

#ifdef HAVE_CARES
static ares_channel channel;

struct answer {
	bool done;
	int status;
};

static void on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct answer *a = arg;
	a->done = true;
	a->status = status;
	ares_freeaddrinfo(res);
}

static double cares_lookup(const char *name, double *v)
{
	struct ares_addrinfo_hints hints = {.ai_socktype = SOCK_STREAM};
	int64_t c0 = loop_cpu_ns();
	for (int i = 0; i < rounds; i++) {
		struct answer a = {false, 0};
		int64_t t0 = now_ns();
		ares_getaddrinfo(channel, name, NULL, &hints, on_answer, &a);
		v[i] = (double)(now_ns() - t0) / 1e3;
		if (!a.done || a.status != ARES_SUCCESS) {
			/* Not from the hosts file: a query went out. Not what is
			 * compared here. */
			fprintf(stderr, "resolve: c-ares did not answer %s from the hosts file\n", name);
			return -1;
		}
	}
	last_loop_cpu_us = (double)(loop_cpu_ns() - c0) / 1e3 / rounds;
	return median(v, rounds);
}
#endif

static int nothing(void *arg, void **result)
{
	return 0;
}

struct par {
	int rc;
};

static int par_lookup(void *arg, void **result)
{
	struct par *p = arg;
	struct addrinfo *res;
	p->rc = ringo_getaddrinfo("localhost", NULL, NULL, &res);
	if (p->rc == 0)
		freeaddrinfo(res);
	return 0;
}

static int main_task(void *arg, void **result)
{
	double *v = malloc(sizeof(double) * (size_t)rounds);
	for (int i = 0; i < rounds; i++) {
		int64_t t0 = now_ns();
		ringo_to_thread(nothing, NULL, NULL);
		v[i] = (double)(now_ns() - t0) / 1e3;
	}
	printf("resolve_executor_floor_us %.1f\n", median(v, rounds));
	const char *names[2] = {"localhost", find_hosts_name()};
	const char *labels[2] = {"localhost", "hosts"};
	for (int n = 0; n < 2 && names[n]; n++) {
		double ex = executor_lookup(names[n], v);
		double ex_cpu = last_loop_cpu_us;
		printf("resolve_%s_executor_us %.1f\n", labels[n], ex);
		printf("resolve_%s_executor_loop_cpu_us %.1f\n", labels[n], ex_cpu);
#ifdef HAVE_CARES
		double ca = cares_lookup(names[n], v);
		if (ca >= 0) {
			printf("resolve_%s_cares_us %.1f\n", labels[n], ca);
			printf("resolve_%s_cares_loop_cpu_us %.1f\n", labels[n], last_loop_cpu_us);
			printf("resolve_%s_cares_ratio %.3f\n", labels[n], ca / ex);
			printf("resolve_%s_cares_loop_cpu_ratio %.3f\n", labels[n],
			       last_loop_cpu_us / ex_cpu);
		}
#endif
	}
	/* 64 lookups at once: the executor's workers share them. */
	enum { PAR = 64 };
	struct par p[PAR];
	ringo_task *t[PAR];
	double wall = 0, cpu = 0;
	for (int r = 0; r < 20; r++) {
		int64_t t0 = now_ns(), c0 = loop_cpu_ns();
		for (int i = 0; i < PAR; i++)
			ringo_spawn(ringo_loop_current(), par_lookup, &p[i], NULL, &t[i]);
		for (int i = 0; i < PAR; i++) {
			ringo_await(ringo_task_future(t[i]), NULL);
			ringo_task_release(t[i]);
		}
		wall += (double)(now_ns() - t0) / 1e3 / PAR;
		cpu += (double)(loop_cpu_ns() - c0) / 1e3 / PAR;
	}
	printf("resolve_parallel_executor_us %.1f\n", wall / 20);
	printf("resolve_parallel_executor_loop_cpu_us %.1f\n", cpu / 20);
	free(v);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		rounds = atoi(argv[1]);
	if (rounds < 1)
		rounds = 2000;
#ifdef HAVE_CARES
	ares_library_init(ARES_LIB_INIT_ALL);
	struct ares_options o = {.lookups = (char *)"fb"};
	if (ares_init_options(&channel, &o, ARES_OPT_LOOKUPS) != ARES_SUCCESS) {
		fprintf(stderr, "resolve: ares_init failed\n");
		return 1;
	}
#endif
	int err = ringo_run(main_task, NULL, NULL, NULL);
#ifdef HAVE_CARES
	ares_destroy(channel);
	ares_library_cleanup();
#endif
	if (err < 0) {
		fprintf(stderr, "resolve: %s\n", ringo_strerror(err));
		return 1;
	}
	return 0;
}
