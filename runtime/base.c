/*
 * The bottom layer: how a broken invariant or a fatal condition ends the
 * process (base.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base.h"

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
