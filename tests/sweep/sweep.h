/*
 * The cancellation sweep (tests/test_cancel_sweep.c): every public call
 * that may suspend runs in a small scenario, and the task making it is
 * cancelled at loop iteration k for k = 0, 1, 2, ... until the scenario
 * finishes on its own before the cancel lands, then at random points
 * while other tasks run (seeded). Each run has its own loop on a counting
 * allocator; the harness checks what holds for every call (DESIGN.md,
 * "Cancellation, stated once"), each scenario what its call took and left.
 *
 * A scenario is one table entry: set-up (in the driver task, before the
 * victim starts: fds, peer tasks), the victim (makes the call, hands the
 * result to sweep_returned), and the check (in the driver task once
 * everyone finished: take stock, compare with what the call returned).
 */
#ifndef RINGO_SWEEP_H
#define RINGO_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringo.h"

struct sweep_ctx;

enum {
	/* Virtual clock; the injector ticks in loop time (SWEEP_STEP_NS a
	 * tick) instead of iterations, so timers are swept deterministically
	 * (a call_soon chain would freeze virtual time). */
	SWEEP_VIRTUAL = 1u << 0,
	/* The scenario cancels something else than the victim task (its
	 * inject hook) and checks the outcome itself: the harness skips its
	 * rules about the victim's view of the cancellation. */
	SWEEP_OWN_INJECT = 1u << 1,
	/* Worker threads are involved: the injector ticks every 10 us of
	 * real time (a worker's round trip is hundreds of iterations). */
	SWEEP_THREADS = 1u << 2,
	/* What the call waits for may finish despite the cancel (asyncio: a
	 * task awaiting one that refuses cancellation gets its result and
	 * is not cancelled): then the call returns it, and the victim need
	 * not end cancelled. */
	SWEEP_MAY_ABSORB = 1u << 3,
};

#define SWEEP_STEP_NS RINGO_USEC(1)

struct sweep_scenario {
	const char *name;  /* names the cmocka test: sweep_<name> */
	const char *call;  /* the public call swept, for the report */
	unsigned flags;    /* SWEEP_* */
	size_t priv_size;  /* per-run state, zeroed: sweep_priv() */
	/* Driver task, before the victim is spawned. 0, or a negative errno
	 * to fail the run. */
	int (*setup)(struct sweep_ctx *c);
	/* The victim's body: make the call, then
	 * `return sweep_returned(c, rc, SWEEP_MEM(buf, len), ...)`. */
	int (*victim)(struct sweep_ctx *c);
	/* Driver task, after victim and peers are done: accounting. */
	void (*check)(struct sweep_ctx *c);
	/* Optional, outside the loop after it ran (closes fds, joins threads). */
	void (*cleanup)(struct sweep_ctx *c);
	/* Optional (SWEEP_OWN_INJECT): cancel what the scenario sweeps;
	 * true if the cancel landed (the thing was not done yet). */
	bool (*inject)(struct sweep_ctx *c);
	/* Non-NULL: a known defect fixed on another branch. The runs it
	 * breaks (known_in: SWEEP_KNOWN_*, 0 = all) are skipped with this
	 * reason printed, unless RINGO_SWEEP_ALL=1. */
	const char *known;
	unsigned known_in;
};

enum {
	SWEEP_KNOWN_PLAIN = 1u << 0,  /* runs with neither of the below */
	SWEEP_KNOWN_PRE_IO = 1u << 1, /* runs with an I/O step before the call */
	SWEEP_KNOWN_BARE = 1u << 2,   /* bare runs */
};

/* Memory passed to the call, checked after it returned. */
struct sweep_mem {
	void *p;
	size_t n;
};
#define SWEEP_MEM(p, n) {(void *)(p), (size_t)(n)}
#define SWEEP_NOMEM {NULL, 0}

/* The victim hands over the call's result rc and the memory it passed in.
 * The memory is poisoned (a canary pattern, and ASan poisoning in ASan
 * builds) while the victim lives on for a few iterations and the peers
 * keep going; a write into it fails the run. A cancellation still
 * pending is taken there. Returns what the victim should return:
 * -ECANCELED if it saw a cancellation (from the call or after), else 0.
 * In a bare run it returns at once (no suspension after the call). */
int sweep_returned_mem(struct sweep_ctx *c, int rc, const struct sweep_mem *mem, size_t n);
#define sweep_returned(c, rc, ...)                                                             \
	sweep_returned_mem((c), (rc), (const struct sweep_mem[]){__VA_ARGS__},                \
			   sizeof((const struct sweep_mem[]){__VA_ARGS__}) / sizeof(struct sweep_mem))

/* Make the watch after the call last until *flag is set (by a worker
 * thread that may still write into memory passed to the call). */
void sweep_post_until(struct sweep_ctx *c, _Atomic int *flag);

/* The scenario's zeroed per-run state. */
void *sweep_priv(struct sweep_ctx *c);
ringo_loop *sweep_loop(struct sweep_ctx *c);
/* What the call returned (valid in check once the victim returned). */
int sweep_rc(const struct sweep_ctx *c);
/* The victim made the call and it returned (false: cancelled before). */
bool sweep_called(const struct sweep_ctx *c);
/* The injected cancel landed (ringo_task_cancel / inject returned true). */
bool sweep_landed(const struct sweep_ctx *c);
/* The victim kept what a call that `completed` took: it returned and, in
 * a bare run, the task did not end cancelled (its result, and with it
 * what the call took, is then discarded, as asyncio discards it). */
bool sweep_kept(struct sweep_ctx *c, bool completed);
/* The victim task (check may inspect its outcome). */
ringo_task *sweep_victim(struct sweep_ctx *c);

/* Spawn a peer task (driver task, set-up); the driver waits for it before
 * check. Peers must finish on their own whatever the victim did. Returns
 * the task (the harness holds a reference until the run ends) or NULL. */
ringo_task *sweep_spawn_peer(struct sweep_ctx *c, ringo_task_fn *fn, void *arg);
/* Yield n loop iterations (a peer's way of acting "later"); -ECANCELED
 * if cancelled. */
int sweep_yield(int n);

/* Record a failure (first one wins; the run then fails with it). */
void sweep_fail(struct sweep_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Check cond; if false record "file:line: cond: message". */
void sweep_fail_at(struct sweep_ctx *c, const char *file, int line, const char *cond,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define SWEEP_CHECK(c, cond, ...)                                                              \
	do {                                                                                   \
		if (!(cond))                                                                   \
			sweep_fail_at((c), __FILE__, __LINE__, #cond, __VA_ARGS__);            \
	} while (0)

/* A byte pattern for data streams: byte i of stream `seed`. */
static inline unsigned char sweep_byte(uint64_t i, unsigned seed)
{
	return (unsigned char)(i * 131 + (i >> 8) * 7 + seed * 29 + 1);
}
void sweep_pattern(void *buf, size_t n, uint64_t from, unsigned seed);
/* True if buf holds bytes [from, from + n) of the pattern. */
bool sweep_pattern_ok(const void *buf, size_t n, uint64_t from, unsigned seed);

/* Read everything readable now from fd (non-blocking); checks it
 * continues the pattern at *at and advances *at. -1 on a mismatch. */
long sweep_drain(int fd, uint64_t *at, unsigned seed);

/* The tables, one per area (tests/sweep/sc_*.c). */
extern const struct sweep_scenario sweep_core_scenarios[];
extern const size_t sweep_core_count;
extern const struct sweep_scenario sweep_io_scenarios[];
extern const size_t sweep_io_count;
extern const struct sweep_scenario sweep_net_scenarios[];
extern const size_t sweep_net_count;
extern const struct sweep_scenario sweep_stream_scenarios[];
extern const size_t sweep_stream_count;
extern const struct sweep_scenario sweep_sync_scenarios[];
extern const size_t sweep_sync_count;
extern const struct sweep_scenario sweep_thread_scenarios[];
extern const size_t sweep_thread_count;
extern const struct sweep_scenario sweep_process_scenarios[];
extern const size_t sweep_process_count;

/* Sweep one scenario: every k (plain, with an I/O step before the call,
 * bare), then the random rounds. Fails the cmocka test if a run broke a
 * rule, after printing each broken run (scenario, k, seed, replay line). */
void sweep_run_scenario(const struct sweep_scenario *sc);
/* Free the loops of runs whose loop could not be freed (still referenced
 * futures or tasks, released since). 0 or the first error. */
int sweep_reap(void);
/* One run; true if it kept every rule (quiet: print nothing). For the
 * harness's own tests. */
bool sweep_run_once(const struct sweep_scenario *sc, unsigned k, uint64_t seed, bool pre_io,
		    bool bare, bool quiet);

#endif
