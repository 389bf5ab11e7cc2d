/*
 * The bottom layer: how a broken invariant or a fatal condition ends the
 * process (base.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

/* Here rather than in fiber.c: arch/<arch>/switch.S calls it, and the
 * assembly sits below fiber.c (runtime/LAYERS.md). */
void ringo__ctx_entry_returned(void)
{
	static const char msg[] = "ringo: a fiber entry function returned; aborting\n";
	/* write(2) only: the stack we are on may be nearly exhausted. */
	ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)r;
	abort();
}
