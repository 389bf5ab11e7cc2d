/*
 * The sweep's harness: one run is one loop (on a counting allocator) with
 * a driver task that sets the scenario up, spawns the victim, waits for it
 * and the peers, and checks. The cancel is injected through the public
 * API only: a call_soon chain counting iterations (or, on virtual time, a
 * call_later chain counting ticks of loop time) calls ringo_task_cancel at
 * tick k; in random rounds a noise task does it at a random step instead.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <liburing.h>

#include "run.h"
#include "support.h"

#if defined(__SANITIZE_ADDRESS__)
#define SWEEP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SWEEP_ASAN 1
#endif
#endif
#ifdef SWEEP_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define poison(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define poison(p, n) ((void)(p), (void)(n))
#define unpoison(p, n) ((void)(p), (void)(n))
#endif

#define CANARY 0xA5
#define POST_YIELDS 3   /* iterations the victim lives on after the call */
#define MAX_PEERS 12
#define MAX_NOISE 4

/* ---- one run ---- */

struct noise {
	struct sweep_ctx *c;
	int steps;
	int inject_at; /* step at which this task injects the cancel, or -1 */
	uint64_t rng;
};

struct sweep_ctx {
	const struct sweep_scenario *sc;
	struct plan plan;
	ringo_loop *loop;
	struct counting_allocator ca;
	void *priv;
	ringo_task *victim;
	ringo_task *peers[MAX_PEERS];
	size_t npeers;
	struct noise noise[MAX_NOISE];
	size_t nnoise;
	bool inject_from_task;  /* a noise task injects, not the tick */
	/* what happened, in order: events get increasing stamps */
	unsigned stamp;
	unsigned ticks;
	bool injected;          /* the injector acted (landed or not) */
	bool landed;
	unsigned landed_at;     /* stamp */
	bool finished_first;    /* the victim was done before tick k */
	bool started;           /* the victim's body ran */
	bool returned;          /* the call returned (sweep_returned) */
	unsigned returned_at;   /* stamp */
	int rc;
	int post_cancels;       /* -ECANCELED taken after the call returned */
	int victim_rc;
	_Atomic int *post_until; /* the post-phase lasts until *post_until != 0 */
	bool hung;
	bool zombie;            /* its loop could not be freed */
	char fail[600];
};

static struct sweep_ctx *current; /* for the death report */
#define MAX_ZOMBIES 16
static struct sweep_ctx *zombies[MAX_ZOMBIES];
static size_t nzombies;

int sweep_reap(void)
{
	int err = 0;
	while (nzombies) {
		struct sweep_ctx *c = zombies[--nzombies];
		int e = ringo_loop_free(c->loop);
		err = err ? err : e;
		free(c->priv);
		free(c);
	}
	return err;
}

void *sweep_priv(struct sweep_ctx *c)
{
	return c->priv;
}

ringo_loop *sweep_loop(struct sweep_ctx *c)
{
	return c->loop;
}

int sweep_rc(const struct sweep_ctx *c)
{
	return c->rc;
}

bool sweep_called(const struct sweep_ctx *c)
{
	return c->returned;
}

bool sweep_landed(const struct sweep_ctx *c)
{
	return c->landed;
}

bool sweep_kept(struct sweep_ctx *c, bool completed)
{
	if (!c->returned || !completed)
		return false;
	return !c->plan.bare || !ringo_future_cancelled(ringo_task_future(c->victim));
}

ringo_task *sweep_victim(struct sweep_ctx *c)
{
	return c->victim;
}

void sweep_fail(struct sweep_ctx *c, const char *fmt, ...)
{
	if (c->fail[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->fail, sizeof(c->fail), fmt, ap);
	va_end(ap);
}

void sweep_fail_at(struct sweep_ctx *c, const char *file, int line, const char *cond,
		   const char *fmt, ...)
{
	if (c->fail[0])
		return;
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->fail, sizeof(c->fail), "%s:%d: %s: %s", file, line, cond, msg);
}

void sweep_post_until(struct sweep_ctx *c, _Atomic int *flag)
{
	c->post_until = flag;
}

/* RINGO_SWEEP_STACK=n: the victim's and peers' stack size (0: the loop's
 * default). A compact size (under 16 KiB) runs every scenario on packed,
 * canary-checked stacks: a path too deep for them aborts by name. */
static size_t task_stack(void)
{
	static long size = -1;
	if (size < 0) {
		const char *v = getenv("RINGO_SWEEP_STACK");
		size = v && *v ? strtol(v, NULL, 0) : 0;
	}
	return (size_t)size;
}

ringo_task *sweep_spawn_peer(struct sweep_ctx *c, ringo_task_fn *fn, void *arg)
{
	if (c->npeers == MAX_PEERS) {
		sweep_fail(c, "too many peers");
		return NULL;
	}
	ringo_task_options o = {.name = "peer", .stack_size = task_stack()};
	if (ringo_spawn(c->loop, fn, arg, &o, &c->peers[c->npeers]) < 0) {
		sweep_fail(c, "spawning a peer failed");
		return NULL;
	}
	return c->peers[c->npeers++];
}

/* ---- the victim ---- */

int sweep_returned_mem(struct sweep_ctx *c, int rc, const struct sweep_mem *mem, size_t n)
{
	c->rc = rc;
	c->returned = true;
	c->returned_at = ++c->stamp;
	if (c->plan.bare)
		return rc == -ECANCELED ? -ECANCELED : 0;
	for (size_t i = 0; i < n; i++) {
		if (!mem[i].p)
			continue;
		memset(mem[i].p, CANARY, mem[i].n);
		poison(mem[i].p, mem[i].n);
	}
	bool seen = rc == -ECANCELED;
	/* ... or until the worker is done, for at most ~4 ms of real time
	 * (a worker that never runs the job never sets the flag). */
	for (int i = 0; i < POST_YIELDS || (c->post_until && !*c->post_until && i < 200); i++) {
		/* Waiting for a worker thread: let real time pass too. */
		int r = ringo_sleep(i < POST_YIELDS ? 0 : RINGO_USEC(20));
		if (r == -ECANCELED) {
			c->post_cancels++;
			seen = true;
		} else if (r != 0) {
			sweep_fail(c, "a yield after the call returned %d", r);
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!mem[i].p)
			continue;
		unpoison(mem[i].p, mem[i].n);
		const unsigned char *p = mem[i].p;
		for (size_t j = 0; j < mem[i].n; j++) {
			if (p[j] != CANARY) {
				sweep_fail(c, "memory passed to the call (region %zu, byte %zu of %zu) "
					      "was written after the call returned %d",
					   i, j, mem[i].n, rc);
				break;
			}
		}
	}
	return seen ? -ECANCELED : 0;
}

static void prep_nop(struct io_uring_sqe *sqe, void *ctx)
{
	memset(sqe, 0, sizeof(*sqe)); /* IORING_OP_NOP is 0 */
}

static int victim_main(void *arg, void **result)
{
	struct sweep_ctx *c = arg;
	c->started = true;
	if (c->plan.pre_io) {
		int rc = ringo_io_submit(prep_nop, NULL, NULL);
		if (rc < 0) {
			/* Cancelled before the call: it is never made. */
			if (rc != -ECANCELED)
				sweep_fail(c, "the NOP before the call failed: %d", rc);
			c->victim_rc = rc;
			return rc;
		}
	}
	c->victim_rc = c->sc->victim(c);
	return c->victim_rc;
}

/* ---- injecting the cancel ---- */

static bool victim_done(struct sweep_ctx *c)
{
	return ringo_task_state(c->victim) == RINGO_TASK_DONE;
}

static void inject(struct sweep_ctx *c)
{
	if (c->injected)
		return;
	c->injected = true;
	if (c->sc->inject)
		c->landed = c->sc->inject(c);
	else
		c->landed = ringo_task_cancel(c->victim, NULL);
	c->landed_at = ++c->stamp;
	if (!c->landed)
		c->finished_first = true;
}

static void arm_tick(struct sweep_ctx *c);

static void tick(void *arg)
{
	struct sweep_ctx *c = arg;
	c->ticks++;
	if (c->injected)
		return;
	if (victim_done(c)) {
		c->finished_first = true;
		c->injected = true;
		return;
	}
	if (c->ticks >= c->plan.k) {
		inject(c);
		return;
	}
	arm_tick(c);
}

static void arm_tick(struct sweep_ctx *c)
{
	/* Iterations are ~1 us: a worker thread's round trip (~60 us) would
	 * take hundreds, so thread scenarios tick on real time instead. */
	int err;
	if (c->sc->flags & SWEEP_VIRTUAL)
		err = ringo_call_later(c->loop, SWEEP_STEP_NS, tick, c, NULL);
	else if (c->sc->flags & SWEEP_THREADS)
		err = ringo_call_later(c->loop, RINGO_USEC(10), tick, c, NULL);
	else
		err = ringo_call_soon(c->loop, tick, c, NULL);
	if (err < 0)
		sweep_fail(c, "arming the injector failed: %d", err);
}

/* ---- noise (random rounds) ---- */

static int noise_main(void *arg, void **result)
{
	struct noise *n = arg;
	for (int i = 0; i < n->steps; i++) {
		if (i == n->inject_at)
			inject(n->c);
		switch (rnd(&n->rng) % 4) {
		case 0:
			/* a little time, on virtual clocks a tick or two */
			ringo_sleep((n->c->sc->flags & SWEEP_VIRTUAL) ? (int64_t)(rnd(&n->rng) % 3) * SWEEP_STEP_NS : 0);
			break;
		default:
			ringo_sleep(0);
		}
	}
	if (n->inject_at >= n->steps)
		inject(n->c);
	return 0;
}

static void plan_noise(struct sweep_ctx *c, uint64_t *rng)
{
	c->nnoise = 1 + rnd(rng) % MAX_NOISE;
	c->inject_from_task = rnd(rng) % 2;
	for (size_t i = 0; i < c->nnoise; i++) {
		struct noise *n = &c->noise[i];
		n->c = c;
		n->rng = rnd(rng) | 1;
		n->steps = 1 + (int)(rnd(rng) % (c->plan.k + 4));
		n->inject_at = -1;
	}
	if (c->inject_from_task)
		c->noise[0].inject_at = (int)c->plan.k; /* may be past its steps: at its end */
}

static void spawn_noise(struct sweep_ctx *c, size_t from, size_t to)
{
	for (size_t i = from; i < to && i < c->nnoise; i++)
		sweep_spawn_peer(c, noise_main, &c->noise[i]);
}

/* ---- the driver ---- */

static void wait_done(ringo_task *t)
{
	while (!ringo_future_done(ringo_task_future(t)))
		ringo_await(ringo_task_future(t), NULL);
}

static int driver_main(void *arg, void **result)
{
	struct sweep_ctx *c = arg;
	uint64_t rng = c->plan.seed;
	if (c->plan.seed)
		plan_noise(c, &rng);
	int err = c->sc->setup ? c->sc->setup(c) : 0;
	if (err < 0) {
		sweep_fail(c, "set-up failed: %d (%s)", err, ringo_strerror(err));
		return 0;
	}
	/* Noise before and after the victim: different places in a batch. */
	size_t before = c->nnoise ? rnd(&rng) % (c->nnoise + 1) : 0;
	spawn_noise(c, 0, before);
	ringo_task_options o = {.name = "victim", .stack_size = task_stack()};
	if (ringo_spawn(c->loop, victim_main, c, &o, &c->victim) < 0) {
		sweep_fail(c, "spawning the victim failed");
		return 0;
	}
	spawn_noise(c, before, c->nnoise);
	if (!c->inject_from_task) {
		if (c->plan.k == 0)
			inject(c);
		else
			arm_tick(c);
	}
	wait_done(c->victim);
	for (size_t i = 0; i < c->npeers; i++)
		wait_done(c->peers[i]);
	if (c->sc->check && !c->hung)
		c->sc->check(c);
	return 0;
}

static void watchdog(void *arg)
{
	struct sweep_ctx *c = arg;
	c->hung = true;
	fprintf(stderr, "sweep %s: hung; tasks left:\n", c->sc->name);
	ringo_loop_dump_tasks(c->loop, stderr);
	ringo_loop_stop(c->loop);
}

/* ---- the rules every call follows ---- */

static void check_rules(struct sweep_ctx *c)
{
	if (c->sc->flags & SWEEP_OWN_INJECT)
		return;
	ringo_future *vf = ringo_task_future(c->victim);
	bool cancelled = ringo_future_cancelled(vf);
	if (c->returned && c->rc == -ECANCELED && (!c->landed || c->landed_at > c->returned_at))
		sweep_fail(c, "the call returned -ECANCELED but no cancel had landed");
	if (!c->landed) {
		if (!c->returned)
			sweep_fail(c, "no cancel, yet the call never returned");
		else if (c->post_cancels)
			sweep_fail(c, "no cancel, yet a cancellation was delivered after the call");
		if (cancelled)
			sweep_fail(c, "no cancel, yet the victim ended cancelled");
		return;
	}
	bool absorbed = (c->sc->flags & SWEEP_MAY_ABSORB) && !cancelled && c->returned &&
			c->rc >= 0 && !c->post_cancels;
	if (!cancelled && !absorbed)
		sweep_fail(c, "the cancel landed but the victim did not end cancelled");
	/* One request, counted once (a call that re-requests a cancel it
	 * put off would count two: timeout scopes then misjudge). */
	int n = ringo_task_cancelling(c->victim);
	if (n != 1)
		sweep_fail(c, "one cancel landed, cancelling() says %d", n);
	if (c->plan.bare || absorbed)
		return; /* taken at the end, or by what the call waited for */
	/* The cancel landed: the victim takes it exactly once, never zero
	 * times (lost) or twice. */
	int seen;
	if (!c->started)
		seen = 1; /* cancelled before its first step: the body never ran */
	else if (!c->returned)
		seen = c->victim_rc == -ECANCELED; /* taken before the call */
	else
		seen = (c->rc == -ECANCELED) + c->post_cancels;
	if (seen != 1)
		sweep_fail(c, "the cancel was delivered %d times (call returned %d, %d after)", seen,
			   c->rc, c->post_cancels);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void describe(const struct sweep_ctx *c, char *buf, size_t len)
{
	snprintf(buf, len, "sweep %s (%s): k=%u seed=%#llx%s%s%s", c->sc->name, c->sc->call,
		 c->plan.k, (unsigned long long)c->plan.seed, c->plan.pre_io ? " after an I/O step" : "",
		 c->plan.bare ? " bare" : "",
		 c->plan.seed ? (c->inject_from_task ? ", cancel from a task" : ", cancel from the tick")
			      : "");
}

void sweep__on_death(void)
{
	if (!current)
		return;
	char buf[256];
	describe(current, buf, sizeof(buf));
	fprintf(stderr, "\n%s: died here (replay: RINGO_SWEEP_ONLY=%s RINGO_SWEEP_K=%u "
			"RINGO_SWEEP_SEED=%#llx RINGO_SWEEP_PRE_IO=%d RINGO_SWEEP_BARE=%d)\n",
		buf, current->sc->name, current->plan.k, (unsigned long long)current->plan.seed,
		current->plan.pre_io, current->plan.bare);
}

static void on_abort(int sig)
{
	sweep__on_death();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Tear the loop down and prove nothing leaked (no cmocka asserts here:
 * a failure is reported with the run's description). */
static void finish_loop(struct sweep_ctx *c)
{
	ringo_loop_close(c->loop);
	int err = ringo_loop_free(c->loop);
	c->zombie = err < 0;
	if (err < 0)
		sweep_fail(c, "ringo_loop_free: %d (tasks or futures still referenced)", err);
	else if (c->ca.live_blocks || c->ca.live_bytes)
		sweep_fail(c, "leaked %zu bytes in %zu blocks", c->ca.live_bytes, c->ca.live_blocks);
}

bool sweep__run_one(const struct sweep_scenario *sc, struct plan plan, bool quiet,
		    bool *finished_first)
{
	struct sweep_ctx *c = calloc(1, sizeof(*c));
	c->sc = sc;
	c->plan = plan;
	c->priv = calloc(1, sc->priv_size ? sc->priv_size : 1);
	current = c;
	int fds = count_fds();
	c->loop = test_loop_new(&c->ca, (sc->flags & SWEEP_VIRTUAL) ? RINGO_LOOP_VIRTUAL_CLOCK : 0);
	ringo_task *driver;
	ringo_task_options o = {.name = "driver"};
	assert_int_equal(ringo_spawn(c->loop, driver_main, c, &o, &driver), 0);
	ringo_handle wd;
	int64_t limit = (sc->flags & SWEEP_VIRTUAL) ? RINGO_SEC(1000) : RINGO_SEC(10);
	ringo_call_later(c->loop, limit, watchdog, c, &wd);
	int rc = ringo_loop_run_until_complete(c->loop, ringo_task_future(driver), NULL);
	ringo_handle_cancel(wd);
	if (!c->injected)
		c->finished_first = true; /* the run ended before tick k */
	if (c->hung)
		sweep_fail(c, "hung: the run did not finish (tasks listed above)");
	else if (rc != 0)
		sweep_fail(c, "the driver ended with %d", rc);
	else
		check_rules(c);
	ringo_task_release(driver);
	if (c->victim)
		ringo_task_release(c->victim);
	for (size_t i = 0; i < c->npeers; i++)
		ringo_task_release(c->peers[i]);
	if (sc->cleanup)
		sc->cleanup(c);
	finish_loop(c);
	if (c->zombie) {
		/* The loop could not be freed (its allocator lives in c): keep
		 * both for sweep_reap, reachable, rather than free under it. */
		zombies[nzombies < MAX_ZOMBIES ? nzombies++ : 0] = c;
		*finished_first = true;
		current = NULL;
		return false;
	}
	if (count_fds() != fds)
		sweep_fail(c, "file descriptors leaked: %d open before, %d after", fds, count_fds());
	*finished_first = c->finished_first;
	bool ok = !c->fail[0];
	if (!ok && !quiet) {
		char buf[256];
		describe(c, buf, sizeof(buf));
		fprintf(stderr, "%s: %s\n  (the call returned %d%s; cancel %s; replay: RINGO_SWEEP_ONLY=%s "
				"RINGO_SWEEP_K=%u RINGO_SWEEP_SEED=%#llx RINGO_SWEEP_PRE_IO=%d "
				"RINGO_SWEEP_BARE=%d)\n",
			buf, c->fail, c->rc, c->returned ? "" : " - never called",
			c->landed ? "landed" : "did not land", sc->name, plan.k,
			(unsigned long long)plan.seed, plan.pre_io, plan.bare);
	}
	current = NULL;
	free(c->priv);
	free(c);
	return ok;
}

void sweep__install_handlers(void)
{
	signal(SIGABRT, on_abort);
	signal(SIGPIPE, SIG_IGN);
#ifdef SWEEP_ASAN
	__sanitizer_set_death_callback(sweep__on_death);
#endif
}
