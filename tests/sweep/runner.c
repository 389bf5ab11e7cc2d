/*
 * The sweep over a scenario: every k (plain, after an I/O step, bare)
 * until it finishes on its own before the cancel lands, then random
 * rounds; known defects of other branches skipped with their reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "run.h"
#include "support.h"

/* ---- settings (environment) ---- */

struct settings {
	unsigned kmax;      /* highest k swept */
	unsigned rounds;    /* random rounds per scenario */
	uint64_t seed;      /* base of the random rounds' seeds */
	bool all;           /* run scenarios marked known-failing too */
	const char *only;   /* run only this scenario */
	long replay_k;      /* >= 0: only this k (with replay_seed) */
	uint64_t replay_seed;
};

static struct settings S;

static unsigned long env_num(const char *name, unsigned long dflt)
{
	const char *v = getenv(name);
	return v && *v ? strtoul(v, NULL, 0) : dflt;
}

static void settings_load(void)
{
	static bool loaded;
	if (loaded)
		return;
	loaded = true;
	const char *vg = getenv("RINGO_UNDER_VALGRIND");
	bool slow = vg && vg[0] == '1';
	/* Bounded for make test (a few seconds; Valgrind is ~30x slower):
	 * most scenarios finish on their own within 20 iterations. */
	S.kmax = (unsigned)env_num("RINGO_SWEEP_KMAX", slow ? 16 : 48);
	S.rounds = (unsigned)env_num("RINGO_SWEEP_ROUNDS", slow ? 1 : 3);
	S.seed = env_num("RINGO_SWEEP_SEED", 1);
	S.all = env_num("RINGO_SWEEP_ALL", 0) != 0;
	S.only = getenv("RINGO_SWEEP_ONLY");
	S.replay_k = getenv("RINGO_SWEEP_K") ? (long)env_num("RINGO_SWEEP_K", 0) : -1;
	S.replay_seed = env_num("RINGO_SWEEP_SEED", 0);
}

static uint64_t mix(uint64_t a, const char *s)
{
	uint64_t h = a ^ 0x9e3779b97f4a7c15ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h ? h : 1;
}

static int nothing(void *arg, void **result)
{
	return ringo_sleep(0);
}

/* Whatever the runtime opens once per process (and keeps) is opened here,
 * before any run counts file descriptors. */
static void warm_up(void)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, nothing, NULL, NULL, &t), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL), 0);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
}

static void harness_init(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	settings_load();
	warm_up();
	sweep__install_handlers();
}

bool sweep_run_once(const struct sweep_scenario *sc, unsigned k, uint64_t seed, bool pre_io,
		    bool bare, bool quiet)
{
	harness_init();
	struct plan p = {k, seed, pre_io, bare};
	bool finished;
	return sweep__run_one(sc, p, quiet, &finished);
}

/* Every k from 0 until the scenario finishes before the cancel lands (or
 * the cap). Returns the last k run; counts failures. */
static unsigned sweep_ks(const struct sweep_scenario *sc, bool pre_io, bool bare,
			 unsigned *failures, bool *finished)
{
	unsigned k = 0;
	*finished = false;
	for (; k <= S.kmax && !*finished; k++) {
		struct plan p = {k, 0, pre_io, bare};
		*failures += !sweep__run_one(sc, p, false, finished);
	}
	return k - 1;
}

/* Runs of this kind hit a known defect (and RINGO_SWEEP_ALL is not set). */
static bool known_broken(const struct sweep_scenario *sc, bool pre_io, bool bare)
{
	if (!sc->known || S.all)
		return false;
	unsigned in = sc->known_in ? sc->known_in
				   : SWEEP_KNOWN_PLAIN | SWEEP_KNOWN_PRE_IO | SWEEP_KNOWN_BARE;
	return ((in & SWEEP_KNOWN_PRE_IO) && pre_io) || ((in & SWEEP_KNOWN_BARE) && bare) ||
	       ((in & SWEEP_KNOWN_PLAIN) && !pre_io && !bare);
}

/* One pass of the k sweep, or "skipped" in the summary. */
struct pass {
	bool pre_io, bare, skipped, done;
	unsigned k;
	const char *label;
};

static void pass_text(const struct pass *p, char *buf, size_t len)
{
	if (p->skipped)
		snprintf(buf, len, "%s skipped", p->label);
	else
		snprintf(buf, len, "%s 0..%u%s", p->label, p->k, p->done ? "" : " (cap)");
}

void sweep_run_scenario(const struct sweep_scenario *sc)
{
	harness_init();
	if (S.replay_k >= 0) {
		bool pre = env_num("RINGO_SWEEP_PRE_IO", 0) != 0;
		bool bare = env_num("RINGO_SWEEP_BARE", 0) != 0;
		if (!sweep_run_once(sc, (unsigned)S.replay_k, S.replay_seed, pre, bare, false))
			fail_msg("sweep %s failed (replay)", sc->name);
		return;
	}
	struct pass passes[3] = {
		{.label = "k"}, {.pre_io = true, .label = "after I/O"}, {.bare = true, .label = "bare"}};
	unsigned failures = 0, kmax = 0;
	bool all_skipped = true;
	for (int i = 0; i < 3; i++) {
		struct pass *p = &passes[i];
		p->skipped = known_broken(sc, p->pre_io, p->bare);
		if (p->skipped)
			continue;
		all_skipped = false;
		p->k = sweep_ks(sc, p->pre_io, p->bare, &failures, &p->done);
		kmax = p->k > kmax ? p->k : kmax;
	}
	if (all_skipped) {
		printf("sweep %-20s %-30s skipped: %s\n", sc->name, sc->call, sc->known);
		fflush(stdout);
		skip();
	}
	uint64_t rng = mix(S.seed, sc->name);
	unsigned rounds = 0;
	for (unsigned r = 0; r < S.rounds; r++) {
		struct plan p;
		p.seed = rnd(&rng) | 1;
		p.k = (unsigned)(rnd(&rng) % (kmax + 2));
		p.pre_io = rnd(&rng) & 1;
		p.bare = rnd(&rng) & 1;
		if (known_broken(sc, p.pre_io, p.bare))
			p.pre_io = p.bare = false;
		if (known_broken(sc, p.pre_io, p.bare))
			continue;
		bool finished;
		failures += !sweep__run_one(sc, p, false, &finished);
		rounds++;
	}
	char t[3][48];
	for (int i = 0; i < 3; i++)
		pass_text(&passes[i], t[i], sizeof(t[i]));
	printf("sweep %-20s %-30s %s, %s, %s; %u random: %s\n", sc->name, sc->call, t[0], t[1],
	       t[2], rounds, failures ? "FAILED" : "ok");
	for (int i = 0; i < 3; i++)
		if (passes[i].skipped)
			printf("      %s runs skipped: %s\n", passes[i].label, sc->known);
	fflush(stdout);
	if (failures)
		fail_msg("sweep %s: %u failing runs (details above)", sc->name, failures);
}
