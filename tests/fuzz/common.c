/* The helpers of fuzz.h, linked into every fuzz target and replay program. */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#endif

#ifdef FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

const char *fuzz_input_name;

void fuzz_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "fuzz: %s:%d: property failed: %s\n", file, line, what);
	if (fuzz_input_name)
		fprintf(stderr, "fuzz: input: %s\n", fuzz_input_name);
	fflush(stderr);
	abort();
}

void fuzz_window_init(struct fuzz_window *w, const void *data, size_t size)
{
	/* One byte more than needed so that malloc(0) never happens; that
	 * byte stays poisoned like any byte outside the window. */
	w->buf = malloc(size + 1);
	if (!w->buf) {
		fprintf(stderr, "fuzz: out of memory\n");
		abort();
	}
	if (size)
		memcpy(w->buf, data, size);
	w->size = size;
	POISON(w->buf, size + 1);
}

void fuzz_window_show(struct fuzz_window *w, size_t lo, size_t hi)
{
	FUZZ_CHECK(lo <= hi && hi <= w->size);
	/* ASan tracks 8-byte granules whose first k bytes are readable: the
	 * end of the window is exact, but the bytes before lo in its granule
	 * stay readable (reads before the window are caught past them). */
	POISON(w->buf, w->size + 1);
	UNPOISON(w->buf + lo, hi - lo);
}

void fuzz_window_free(struct fuzz_window *w)
{
	UNPOISON(w->buf, w->size + 1);
	free(w->buf);
	w->buf = NULL;
}
