/* tools/ringo-gdb.py: gdb lists every task with its state and wait, and
 * prints the backtrace of a suspended task from its saved context. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static char out[65536];

static void test_ringo_tasks_lists_tasks_with_backtraces(void **state)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	skip(); /* the sanitizers' own frames make the check meaningless */
#endif
	if (getenv("RINGO_UNDER_VALGRIND") || system("command -v gdb >/dev/null 2>&1") != 0)
		skip();
	char bin[512], cmd[2048];
	build_path("examples/tour/create_task", bin, sizeof(bin));
	/* At task-2's first puts: main awaits task-2, task-3 sleeps. */
	snprintf(cmd, sizeof(cmd),
		 "RINGO_VIRTUAL_CLOCK=1 gdb -batch -nx -ex 'source tools/ringo-gdb.py' "
		 "-ex 'break puts' -ex run -ex 'ringo-tasks bt' -ex 'bt 2' -ex kill %s 2>&1",
		 bin);
	run_capture(cmd, out, sizeof(out));
	const char *want[] = {
		"ringo: 1 loop(s)",    "3 live task(s)",      "#1 'main' suspended, in await",
		"ringo_await (",       "main_task (",        "#2 'task-2' running",
		"#3 'task-3' suspended, in sleep", "ringo_sleep (", "say_after (",
	};
	const char *p = out;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *q = strstr(p, want[i]);
		if (!q)
			fail_msg("missing \"%s\" (in order) in gdb output:\n%s", want[i], out);
		p = q + strlen(want[i]);
	}
	/* The thread's own registers are back: its backtrace is the puts. */
	assert_non_null(strstr(p, "puts"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ringo_tasks_lists_tasks_with_backtraces),
	};
	return cmocka_run_group_tests_name("gdb", tests, NULL, NULL);
}
