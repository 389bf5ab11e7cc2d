/*
 * The cancellation sweep: every public call that may suspend, cancelled
 * at every loop iteration and at random points (tests/sweep/). One cmocka
 * test per scenario, named sweep_<scenario>.
 *
 *   build/tests/test_cancel_sweep              bounded: part of make test
 *   make sweep                                 long: many random rounds
 *   RINGO_SWEEP_KMAX=n RINGO_SWEEP_ROUNDS=n RINGO_SWEEP_SEED=s
 *   RINGO_SWEEP_ONLY=name [RINGO_SWEEP_K=k RINGO_SWEEP_SEED=s]   one scenario / one run
 *   RINGO_SWEEP_ALL=1                          also the scenarios of known defects
 *   RINGO_SWEEP_STACK=n                        victims and peers on n-byte stacks
 *                                              (n < 16384: the compact class)
 *   RINGO_SWEEP_SKIP=a,b,...                   leave out these scenarios
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"
#include "sweep/sweep.h"

static void run(void **state)
{
	sweep_run_scenario(*state);
}

/* ---- the harness catches what it is meant to catch ----
 * Broken scenarios, each run once at a k where its flaw shows: the run
 * must be reported as failing. */

static int swallow_victim(struct sweep_ctx *c)
{
	int rc = ringo_sleep(RINGO_MSEC(1));
	if (rc == -ECANCELED) {
		ringo_task_uncancel(ringo_task_current());
		rc = 0; /* the cancel is lost */
	}
	return sweep_returned(c, rc, SWEEP_NOMEM);
}

static int fake_cancel_victim(struct sweep_ctx *c)
{
	sweep_yield(1);
	return sweep_returned(c, -ECANCELED, SWEEP_NOMEM);
}

struct late_writer {
	char *target;
};

static int late_writer_main(void *arg, void **result)
{
	struct late_writer *w = arg;
	while (!w->target)
		ringo_sleep(0);
	ringo_sleep(0); /* the victim has returned and poisoned it */
	w->target[0] = 'x';
	return 0;
}

static int late_write_setup(struct sweep_ctx *c)
{
	sweep_spawn_peer(c, late_writer_main, sweep_priv(c));
	return 0;
}

static int late_write_victim(struct sweep_ctx *c)
{
	struct late_writer *w = sweep_priv(c);
	char buf[8];
	w->target = buf;
	return sweep_returned(c, 0, SWEEP_MEM(buf, sizeof(buf)));
}

static ringo_future *leaked_future;

static int leak_setup(struct sweep_ctx *c)
{
	return ringo_future_new(sweep_loop(c), &leaked_future); /* never released */
}

static int leaked_fd = -1;

static int fd_leak_setup(struct sweep_ctx *c)
{
	leaked_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return leaked_fd < 0 ? -errno : 0;
}

static int plain_victim(struct sweep_ctx *c)
{
	return sweep_returned(c, ringo_sleep(0), SWEEP_NOMEM);
}

static void test_harness_catches_a_lost_cancel(void **state)
{
	const struct sweep_scenario sc = {.name = "selftest", .call = "lost cancel",
					  .victim = swallow_victim};
	assert_false(sweep_run_once(&sc, 1, 0, false, false, true));
}

static void test_harness_catches_ecanceled_without_a_cancel(void **state)
{
	const struct sweep_scenario sc = {.name = "selftest", .call = "spurious -ECANCELED",
					  .victim = fake_cancel_victim};
	assert_false(sweep_run_once(&sc, 40, 0, false, false, true));
}

static void test_harness_catches_a_write_after_return(void **state)
{
#if defined(__SANITIZE_ADDRESS__)
	skip(); /* ASan itself stops the process there: that is its job */
#endif
	const struct sweep_scenario sc = {.name = "selftest", .call = "late write",
					  .priv_size = sizeof(struct late_writer),
					  .setup = late_write_setup, .victim = late_write_victim};
	assert_false(sweep_run_once(&sc, 40, 0, false, false, true));
}

static void test_harness_catches_leaked_memory(void **state)
{
	const struct sweep_scenario sc = {.name = "selftest", .call = "leak", .setup = leak_setup,
					  .victim = plain_victim};
	assert_false(sweep_run_once(&sc, 40, 0, false, false, true));
	ringo_future_release(leaked_future); /* now the loop can go */
	assert_int_equal(sweep_reap(), 0);
}

static void test_harness_catches_a_leaked_fd(void **state)
{
	const struct sweep_scenario sc = {.name = "selftest", .call = "fd leak",
					  .setup = fd_leak_setup, .victim = plain_victim};
	assert_false(sweep_run_once(&sc, 40, 0, false, false, true));
	close(leaked_fd);
}

/* name is one of the comma-separated names in list. */
static bool in_list(const char *list, const char *name)
{
	size_t len = strlen(name);
	for (const char *p = list; *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n == len && strncmp(p, name, len) == 0)
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

struct table {
	const struct sweep_scenario *v;
	const size_t *n;
};

int main(void)
{
	const struct table tables[] = {
		{sweep_core_scenarios, &sweep_core_count},
		{sweep_io_scenarios, &sweep_io_count},
		{sweep_net_scenarios, &sweep_net_count},
		{sweep_stream_scenarios, &sweep_stream_count},
		{sweep_sync_scenarios, &sweep_sync_count},
		{sweep_thread_scenarios, &sweep_thread_count},
		{sweep_process_scenarios, &sweep_process_count},
		{sweep_misc_scenarios, &sweep_misc_count},
#ifdef RINGO_HAVE_TLS
		{sweep_tls_scenarios, &sweep_tls_count},
#endif
	};
	const struct CMUnitTest selftests[] = {
		cmocka_unit_test(test_harness_catches_a_lost_cancel),
		cmocka_unit_test(test_harness_catches_ecanceled_without_a_cancel),
		cmocka_unit_test(test_harness_catches_a_write_after_return),
		cmocka_unit_test(test_harness_catches_leaked_memory),
		cmocka_unit_test(test_harness_catches_a_leaked_fd),
	};
	const size_t nself = sizeof(selftests) / sizeof(selftests[0]);
	const char *only = getenv("RINGO_SWEEP_ONLY");
	if (only && !*only)
		only = NULL;
	const char *skip_list = getenv("RINGO_SWEEP_SKIP");
	size_t total = nself;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		total += *tables[t].n;
	struct CMUnitTest *tests = calloc(total, sizeof(*tests));
	char (*names)[64] = calloc(total, sizeof(*names));
	size_t n = 0;
	for (size_t i = 0; !only && i < nself; i++)
		tests[n++] = selftests[i];
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (size_t i = 0; i < *tables[t].n; i++) {
			const struct sweep_scenario *sc = &tables[t].v[i];
			if (only && strcmp(only, sc->name))
				continue;
			if (skip_list && in_list(skip_list, sc->name))
				continue;
			snprintf(names[n], sizeof(names[n]), "sweep_%s", sc->name);
			tests[n].name = names[n];
			tests[n].test_func = run;
			tests[n].initial_state = (void *)sc;
			n++;
		}
	}
	int rc = _cmocka_run_group_tests("cancel_sweep", tests, n, NULL, NULL);
	free(tests);
	free(names);
	return rc;
}
