/* The tour: each seed example prints what the seed shows (run on virtual
 * time, so timings are exact and the suite stays fast). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static char out[65536];

static void run_tour(const char *name)
{
	char path[512], cmd[1024];
	build_path("examples/tour/", path, sizeof(path));
	/* make valgrind sets RINGO_TEST_WRAP so the examples run under it too. */
	const char *wrap = getenv("RINGO_TEST_WRAP");
	snprintf(cmd, sizeof(cmd), "RINGO_VIRTUAL_CLOCK=1 %s %s%s", wrap ? wrap : "", path, name);
	int rc = run_capture(cmd, out, sizeof(out));
	if (rc != 0)
		fail_msg("%s exited with %d, output:\n%s", name, rc, out);
}

static void expect(const char *name, const char *want)
{
	run_tour(name);
	assert_string_equal(out, want);
}

static void test_hello_world(void **state)
{
	expect("hello_world", "hello\nworld\n");
}

static void test_call_soon(void **state)
{
	expect("call_soon", "-- version 1: foo() does not suspend\n"
			    "Start run_until_complete...\nStart main...\ncall_soon...\n"
			    "async foo...\nfoo...\ncallback_foo...Jackson\nEnd main...\n"
			    "End run_until_complete...\n"
			    "-- version 2: foo() sleeps 0.2 s\n"
			    "Start run_until_complete...\nStart main...\ncall_soon...\n"
			    "callback_foo...Jackson\nasync foo...\nfoo...\nEnd main...\n"
			    "End run_until_complete...\n");
}

static void test_call_later(void **state)
{
	expect("call_later", "注册callbacks\ncallback 3 invoked\ncallback 2 invoked\n"
			     "callback 1 invoked\n");
}

static void test_call_at(void **state)
{
	expect("call_at", "进入事件循环\n当前的内部时间 0.000000000\n循环时间 0.000000000\n"
			  "注册callback\ncallback 3 运行时间点0.000000000\n"
			  "callback 1 运行时间点0.100000000\ncallback 2 运行时间点0.200000000\n"
			  "关闭循环\n");
}

static void test_future_set_after(void **state)
{
	run_tour("future_set_after");
	const char *lines[] = {
		"loop.create_future() = <Future pending>\n",
		"hello ...\n",
		"set_after() = <Future pending cb=[wakeup('main')]>\n",
		"asyncio.sleep() = <Future pending cb=[wakeup('main')]>\n",
		"set_result() = <Future finished result=0x",
		">, value='... world'\n... world\n",
	};
	const char *p = out;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		const char *q = strstr(p, lines[i]);
		if (!q)
			fail_msg("missing %s in:\n%s", lines[i], out);
		p = q + strlen(lines[i]);
	}
}

static void test_done_callback(void **state)
{
	expect("done_callback", "Waiting:  3\nCallback:  Done after 3s\nTask ret:  Done after 3s\n"
				"TIME:  0.000\n");
}

static void test_say_after_takes_three_seconds(void **state)
{
	expect("say_after", "开始时间为: 0.0\nhello\nworld\n结束时间为: 3.0\n");
}

static void test_create_task_runs_concurrently(void **state)
{
	expect("create_task", "started at 0.0\nhello\nworld\nfinished at 2.0\n");
}

static void test_task_result(void **state)
{
	expect("task_result", "Hello world 01 begin\nHello again 01 end\n"
			      "-------------------------------------\n15\n"
			      "Hello world 01 begin\nHello again 01 end\n15\n");
}

static void test_hundred_tasks_finish_in_five_seconds(void **state)
{
	run_tour("hundred_tasks");
	int count = 0, last = 0;
	char *save = NULL;
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int id, secs;
		if (sscanf(line, "协程：%d, 执行完毕。用时：%d秒", &id, &secs) == 2) {
			assert_true(secs >= 1 && secs <= 5);
			assert_true(secs >= last); /* completion order follows the sleeps */
			last = secs;
			count++;
		} else {
			assert_string_equal(line, "all 100 tasks done in 5.0 s");
		}
	}
	assert_int_equal(count, 100);
}

/* asyncio's subprocess example: ls's exit code and what it printed, then
 * two commands at once (the one that sleeps 1 s, real time, ends last).
 * LC_ALL=C: ls's message in its untranslated words and quotes. */
static void test_subprocess_prints_ls_output_and_exit_codes(void **state)
{
	char path[512], cmd[1024];
	build_path("examples/tour/subprocess", path, sizeof(path));
	const char *wrap = getenv("RINGO_TEST_WRAP");
	snprintf(cmd, sizeof(cmd), "LC_ALL=C RINGO_VIRTUAL_CLOCK=1 %s %s", wrap ? wrap : "", path);
	int rc = run_capture(cmd, out, sizeof(out));
	if (rc != 0)
		fail_msg("subprocess exited with %d, output:\n%s", rc, out);
	assert_string_equal(out, "['ls /zzz' exited with 2]\n"
				 "[stderr]\nls: cannot access '/zzz': No such file or directory\n\n"
				 "['ls /dev/null' exited with 0]\n"
				 "[stdout]\n/dev/null\n\n"
				 "['sleep 1; echo \"hello\"' exited with 0]\n"
				 "[stdout]\nhello\n\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_world),
		cmocka_unit_test(test_subprocess_prints_ls_output_and_exit_codes),
		cmocka_unit_test(test_call_soon),
		cmocka_unit_test(test_call_later),
		cmocka_unit_test(test_call_at),
		cmocka_unit_test(test_future_set_after),
		cmocka_unit_test(test_done_callback),
		cmocka_unit_test(test_say_after_takes_three_seconds),
		cmocka_unit_test(test_create_task_runs_concurrently),
		cmocka_unit_test(test_task_result),
		cmocka_unit_test(test_hundred_tasks_finish_in_five_seconds),
	};
	return cmocka_run_group_tests_name("tour", tests, NULL, NULL);
}
