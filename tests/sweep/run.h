/*
 * Private to the sweep's harness: one run (harness.c) and the sweep over
 * k and seeds that makes runs (runner.c).
 */
#ifndef RINGO_SWEEP_RUN_H
#define RINGO_SWEEP_RUN_H

#include "sweep.h"

/* A plan: where the cancel goes. seed 0 is the plain k sweep (no noise). */
struct plan {
	unsigned k;
	uint64_t seed;
	/* The victim first completes an I/O operation (a NOP): a cancel that
	 * lands while it is ready to run after it is still pending when the
	 * call starts (an I/O result is never replaced by a cancel). */
	bool pre_io;
	/* The victim returns right after the call, its result unread by any
	 * suspension: a cancel that landed after the call completed makes the
	 * task end cancelled (asyncio), and what the call took is kept only
	 * if the task did not (sweep_kept). */
	bool bare;
};

/* One run of sc by plan. Returns true if it kept every rule (quiet:
 * print nothing); *finished_first tells the k sweep to stop. */
bool sweep__run_one(const struct sweep_scenario *sc, struct plan plan, bool quiet,
		    bool *finished_first);
/* Report the run under way (a crash, ASan) and a replay line. */
void sweep__on_death(void);
/* SIGABRT and ASan death report the run; SIGPIPE ignored. */
void sweep__install_handlers(void);

/* xorshift64: the random rounds' generator (state never 0). */
static inline uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

#endif
