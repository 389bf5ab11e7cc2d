/* The tour's combinator examples, run on the virtual clock: exact output. */
#include <stdio.h>
#include <string.h>

#include "support.h"

static void check_tour(const char *name, const char *expected)
{
	char rel[64], path[512], cmd[640], out[4096];
	snprintf(rel, sizeof(rel), "examples/tour/%s", name);
	build_path(rel, path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "RINGO_VIRTUAL_CLOCK=1 '%s'", path);
	assert_int_equal(run_capture(cmd, out, sizeof(out)), 0);
	assert_string_equal(out, expected);
}

static void test_gather_prints_results_in_argument_order_after_4s(void **state)
{
	check_tour("gather", "Hello world 01 begin\n"
			     "Hello world 02 begin\n"
			     "Hello world 03 begin\n"
			     "Hello again 02 end\n"
			     "Hello again 01 end\n"
			     "Hello again 03 end\n"
			     "15\n"
			     "5\n"
			     "50\n"
			     "took 4.0 s\n");
}

static void test_wait_prints_done_and_pending_sets(void **state)
{
	check_tour("wait", "after 2.5 s: 2 done\n"
			   "done: fast medium\n"
			   "pending: slow\n"
			   "then slow finished at 3.0 s\n");
}

static void test_wait_for_prints_timeout(void **state)
{
	check_tour("wait_for", "fun: working for an hour\n"
			       "fun: cancelled at 1.0 s\n"
			       "timeout!\n");
}

static void test_as_completed_prints_in_completion_order(void **state)
{
	check_tour("as_completed", "1 s: one second\n"
				   "2 s: two seconds\n"
				   "3 s: three seconds\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gather_prints_results_in_argument_order_after_4s),
		cmocka_unit_test(test_wait_prints_done_and_pending_sets),
		cmocka_unit_test(test_wait_for_prints_timeout),
		cmocka_unit_test(test_as_completed_prints_in_completion_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
