/*
 * Kernel TLS probe: does this kernel have the `tls` upper-layer protocol?
 * A connected loopback TCP socket is needed (TCP_ULP is refused on an
 * unconnected one with ENOTCONN); setsockopt(TCP_ULP, "tls") then fails
 * with ENOENT when the module is missing. Asked once per process.
 *
 * ringo does not hand the record layer to the kernel yet (no machine it
 * is tested on has the module, and an untested path is worse than none):
 * the answer is for information and for the day it does.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls_internal.h"

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

static int ktls_answer;
static pthread_once_t ktls_once = PTHREAD_ONCE_INIT;

static int probe(void)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int a = -1, ok = 0;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	if (l >= 0 && c >= 0 && bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    listen(l, 1) == 0 && getsockname(l, (struct sockaddr *)&sa, &len) == 0 &&
	    connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		ok = setsockopt(c, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) == 0;
	}
	if (a >= 0)
		close(a);
	if (c >= 0)
		close(c);
	if (l >= 0)
		close(l);
	return ok;
}

static void ktls_probe_once(void)
{
	ktls_answer = probe();
}

int ringo_tls_ktls_available(void)
{
	pthread_once(&ktls_once, ktls_probe_once);
	return ktls_answer;
}
