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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "sweep/sweep.h"

static void run(void **state)
{
	sweep_run_scenario(*state);
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
		{sweep_sync_scenarios, &sweep_sync_count},
		{sweep_thread_scenarios, &sweep_thread_count},
	};
	const char *only = getenv("RINGO_SWEEP_ONLY");
	size_t total = 0;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		total += *tables[t].n;
	struct CMUnitTest *tests = calloc(total, sizeof(*tests));
	char (*names)[64] = calloc(total, sizeof(*names));
	size_t n = 0;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (size_t i = 0; i < *tables[t].n; i++) {
			const struct sweep_scenario *sc = &tables[t].v[i];
			if (only && strcmp(only, sc->name))
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
