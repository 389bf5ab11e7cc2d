/*
 * Shared by the libFuzzer targets (tests/fuzz/fuzz_*.c) and the replay
 * program that runs their seed corpora under make test (replay.c).
 *
 * A target is one LLVMFuzzerTestOneInput. It checks properties with
 * FUZZ_CHECK, which prints what failed and aborts: libFuzzer then saves
 * the input as a crash artifact, and the replay names the corpus file.
 */
#ifndef RINGO_FUZZ_H
#define RINGO_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The corpus file being replayed, or NULL under libFuzzer. */
extern const char *fuzz_input_name;

__attribute__((noreturn)) void fuzz_fail(const char *what, const char *file, int line);

#define FUZZ_CHECK(cond) ((cond) ? (void)0 : fuzz_fail(#cond, __FILE__, __LINE__))

/* A private copy of an input in which only a window may be read: the bytes
 * that have "arrived" and are not consumed yet. Under AddressSanitizer the
 * rest is poisoned, so a parser that reads a byte it was not given is
 * caught even when that byte exists in the copy (without ASan the window
 * is only bookkeeping). */
struct fuzz_window {
	char *buf;       /* size bytes, a copy of the input */
	size_t size;
};

void fuzz_window_init(struct fuzz_window *w, const void *data, size_t size);
/* Make buf[lo, hi) readable and every other byte of buf not. */
void fuzz_window_show(struct fuzz_window *w, size_t lo, size_t hi);
void fuzz_window_free(struct fuzz_window *w);

/* Where an input is split, from a control byte: 0 .. n. */
static inline size_t fuzz_split(uint8_t knob, size_t n)
{
	return (size_t)knob * (n + 1) / 256;
}

#endif
