/* The tour's thread examples run and print what the seeds show. */
#include <string.h>

#include "support.h"

static void run_tour(const char *name, char *out, size_t cap)
{
	char rel[128], path[512];
	snprintf(rel, sizeof(rel), "examples/tour/%s", name);
	build_path(rel, path, sizeof(path));
	assert_int_equal(run_capture(path, out, cap), 0);
}

static void test_to_thread_example_keeps_the_loop_running(void **state)
{
	char out[4096];
	run_tour("to_thread", out, sizeof(out));
	const char *start = strstr(out, "start blocking_io");
	const char *tick = strstr(out, "loop still running");
	const char *done = strstr(out, "blocking_io complete");
	assert_non_null(start);
	assert_non_null(tick);
	assert_non_null(done);
	assert_true(tick < done); /* the loop ran while the worker blocked */
	assert_non_null(strstr(out, "finished main: io result"));
}

static void test_run_coroutine_threadsafe_finishes_in_1_2_3_order(void **state)
{
	char out[4096];
	run_tour("run_coroutine_threadsafe", out, sizeof(out));
	const char *u = strstr(out, "u\n");
	const char *d1 = strstr(out, "Done after 1s");
	const char *d2 = strstr(out, "Done after 2s");
	const char *d3 = strstr(out, "Done after 3s");
	assert_non_null(u);
	assert_non_null(d1);
	assert_non_null(d2);
	assert_non_null(d3);
	assert_true(d1 < d2 && d2 < d3);
	/* every letter printed, in order */
	const char *p = out;
	for (const char *c = "iloveu"; *c; c++) {
		char line[3] = {*c, '\n', 0};
		p = strstr(p, line);
		assert_non_null(p);
	}
}

static void test_threadsafe_future_example_times_out_and_cancels(void **state)
{
	char out[4096];
	run_tour("threadsafe_future", out, sizeof(out));
	assert_non_null(strstr(out, "quick: rc=0 result=42"));
	assert_non_null(strstr(out, "took too long, cancelling"));
	assert_non_null(strstr(out, "slow: cancelled inside the loop"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_to_thread_example_keeps_the_loop_running),
		cmocka_unit_test(test_run_coroutine_threadsafe_finishes_in_1_2_3_order),
		cmocka_unit_test(test_threadsafe_future_example_times_out_and_cancels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
