/*
 * Error text, version, and the two ways ringo stops a program: a broken
 * internal invariant (assert) and a fatal runtime condition (panic).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *ringo_version(void)
{
#define RINGO__STR2(x) #x
#define RINGO__STR(x) RINGO__STR2(x)
	return RINGO__STR(RINGO_VERSION_MAJOR) "." RINGO__STR(RINGO_VERSION_MINOR) "." RINGO__STR(
		RINGO_VERSION_PATCH);
}

bool ringo_version_check(int major, int minor)
{
	return major == RINGO_VERSION_MAJOR && minor <= RINGO_VERSION_MINOR;
}

/* The errors that carry a ringo-specific meaning; the rest read as the
 * C library describes them. */
static const char *ringo_meaning(int err)
{
	switch (err) {
	case -EINPROGRESS:
		return "future is not done yet";
	case -ECANCELED:
		return "cancelled";
	case -EALREADY:
		return "already done or already cancelled";
	case -ESHUTDOWN:
		return "event loop is closed";
	case -EBUSY:
		return "event loop is running";
	case -EPERM:
		return "not allowed here (a suspending call outside a task?)";
	case -EDEADLK:
		return "a task cannot wait for itself";
	case -ETIMEDOUT:
		return "timed out";
	case -EINTR:
		return "event loop stopped before the future was done";
	case -EXDEV:
		return "called from a thread that does not own the event loop";
	case -ENOBUFS:
		return "no room: the queue is full, or no provided buffer is left";
	case -EOPNOTSUPP:
		return "operation not supported by this kernel's io_uring";
	/* getaddrinfo's EAI_* codes come back as these errnos. */
	case -ENOENT:
		return "no such file, directory or host name";
	case -ESRCH:
		return "no such process or service name";
	case -ENODATA:
		return "no data: the stream ended in the middle of a message, or the name has no address";
	case -EMSGSIZE:
		return "message too long (for the stream's read_limit or the buffer given)";
	default:
		return NULL;
	}
}

const char *ringo_strerror(int err)
{
	if (err == 0)
		return "success";
	if (err > 0)
		return "not an error code (ringo errors are negative errno values)";
	/* After io_uring set-up was refused, and until a ring is set up again,
	 * -EPERM and -ENOSYS almost surely come from there: without a loop a
	 * program makes no other ringo call that fails so. */
	const char *m = ringo__setup_refusal_text(err);
	if (m)
		return m;
	m = ringo_meaning(err);
	if (m)
		return m;
	const char *d = strerrordesc_np(-err);
	return d ? d : "unknown error";
}

void ringo__assert_fail(const char *expr, const char *file, int line, const char *func)
{
	fprintf(stderr, "ringo: assertion failed: %s (%s:%d, %s)\n", expr, file, line, func);
	fflush(stderr);
	abort();
}

void ringo__panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("ringo: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	fflush(stderr);
	abort();
}
