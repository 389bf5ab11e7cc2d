/* Shared by the cmocka suites: a counting allocator that can fail on
 * purpose, and loop set-up/tear-down that proves nothing leaked. */
#ifndef RINGO_TEST_SUPPORT_H
#define RINGO_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ringo.h"

/* The tests' pseudo-random numbers (Marsaglia's xorshift32): *s is the
 * state, never 0; returns the next value, also left in *s. */
static inline uint32_t test_xorshift(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

struct counting_allocator {
	ringo_allocator iface;
	size_t live_blocks;   /* allocations not yet freed */
	size_t live_bytes;
	size_t total;         /* successful allocations so far */
	long fail_at;         /* fail the allocation with this 1-based number; 0 = never */
	long attempts;
};

void counting_allocator_init(struct counting_allocator *ca);

/* A loop on a counting allocator; flags e.g. RINGO_LOOP_VIRTUAL_CLOCK. */
ringo_loop *test_loop_new(struct counting_allocator *ca, unsigned flags);
/* Free the loop and assert every byte it allocated came back. */
void test_loop_free(ringo_loop *loop, struct counting_allocator *ca);

/* A fixture for suites whose tests share one loop each: cmocka's
 * setup/teardown make fx_loop (virtual clock off) on fx_ca and prove on
 * teardown that it leaked nothing. */
extern ringo_loop *fx_loop;
extern struct counting_allocator fx_ca;
int fx_setup(void **state);
int fx_teardown(void **state);
/* Spawn fn(arg) on fx_loop, run until it is done; its outcome. */
int fx_run_task(ringo_task_fn *fn, void *arg);
/* A connected AF_UNIX stream pair (close-on-exec). */
void fx_socketpair(int sv[2]);

/* A growable text log that callbacks append to, to check orderings. */
struct log {
	char buf[8192];
	size_t len;
};
void log_add(struct log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_reset(struct log *l);

/* Capture what the process writes to stderr between begin and end into
 * buf (terminated). */
void stderr_capture_begin(void);
void stderr_capture_end(char *buf, size_t cap);

/* Run a program, capture stdout; returns exit status or -1. */
int run_capture(const char *path, char *out, size_t cap);
/* Path of a built binary under RINGO_BUILD (default "build"). */
const char *build_path(const char *rel, char *buf, size_t cap);


/* Whether "localhost" resolves here without a network (/etc/hosts). A
 * minimal root file system (a debootstrap chroot, some containers) has
 * none: tests that need a host name skip there, saying why. */
bool fx_localhost_resolves(void);
#define FX_NEED_LOCALHOST()                                                                     \
	do {                                                                                    \
		if (!fx_localhost_resolves()) {                                                 \
			print_message("skipped: \"localhost\" does not resolve here (no "        \
				      "/etc/hosts entry)\n");                                       \
			skip();                                                                 \
		}                                                                               \
	} while (0)

#endif
