/* Where io_uring is refused (a container's seccomp profile, the
 * kernel.io_uring_disabled sysctl, a kernel without it), loop creation
 * fails with -EPERM or -ENOSYS and ringo's text names the cause and the
 * fix. Each case runs in a forked child that refuses io_uring to itself
 * with a seccomp filter like Docker's and writes what ringo said into
 * shared memory; the parent checks it. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include "support.h"
#include "../tools/io_uring_block.h"

/* What a child saw. */
struct report {
	int err;              /* what loop creation returned */
	bool skipped;         /* the child could not arrange the case */
	bool main_ran;        /* ringo_run's main task body ran */
	char text[1024];      /* ringo_strerror(err) */
	char other[1024];     /* ringo_strerror of the other refusal errno */
	char diagnosis[1024]; /* ringo_setup_diagnosis(), "(null)" for NULL */
	char after[1024];     /* ringo_strerror(err) after a later event */
};

static void copy(char *dst, const char *src)
{
	snprintf(dst, sizeof(((struct report *)0)->text), "%s", src ? src : "(null)");
}

/* Run fn in a child and return its report; fails the test if it died. */
static struct report *in_child(void (*fn)(struct report *r, int arg), int arg)
{
	static struct report *r;
	if (!r) {
		r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		assert_true(r != MAP_FAILED);
	}
	memset(r, 0, sizeof(*r));
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fn(r, arg);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("child ended with status %#x", st);
	if (r->skipped)
		skip();
	return r;
}

static void block_or_skip(struct report *r, int errno_value)
{
	if (io_uring_block(errno_value) < 0) {
		r->skipped = true;
		_exit(0);
	}
}

static void fill_loop_new(struct report *r, int other_errno)
{
	ringo_loop *loop = NULL;
	r->err = ringo_loop_new(NULL, &loop);
	if (loop)
		ringo_loop_free(loop);
	copy(r->text, ringo_strerror(r->err));
	copy(r->other, ringo_strerror(-other_errno));
	copy(r->diagnosis, ringo_setup_diagnosis());
}

static void child_loop_new(struct report *r, int errno_value)
{
	block_or_skip(r, errno_value);
	fill_loop_new(r, errno_value == EPERM ? ENOSYS : EPERM);
}

static void test_diagnosis_is_null_where_io_uring_works(void **state)
{
	assert_null(ringo_setup_diagnosis());
	assert_null(strstr(ringo_strerror(-EPERM), "io_uring"));
	assert_null(strstr(ringo_strerror(-ENOSYS), "io_uring"));
}

static void test_seccomp_eperm_makes_loop_new_name_seccomp(void **state)
{
	struct report *r = in_child(child_loop_new, EPERM);
	assert_int_equal(r->err, -EPERM);
	assert_non_null(strstr(r->text, "seccomp filter"));
	assert_non_null(strstr(r->text, "--security-opt seccomp="));
	assert_non_null(strstr(r->text, "--privileged"));
	assert_string_equal(r->diagnosis, r->text);
	/* The other errno keeps its plain meaning. */
	assert_null(strstr(r->other, "io_uring"));
}

static void test_seccomp_enosys_names_seccomp_and_kernel(void **state)
{
	struct report *r = in_child(child_loop_new, ENOSYS);
	assert_int_equal(r->err, -ENOSYS);
	assert_non_null(strstr(r->text, "seccomp filter that answers ENOSYS"));
	assert_non_null(strstr(r->text, "CONFIG_IO_URING"));
	assert_string_equal(r->diagnosis, r->text);
	assert_null(strstr(r->other, "io_uring"));
}

static int main_body(void *arg, void **result)
{
	((struct report *)arg)->main_ran = true;
	return 0;
}

static void child_run(struct report *r, int unused)
{
	block_or_skip(r, EPERM);
	r->err = ringo_run(main_body, r, NULL, NULL);
	copy(r->text, ringo_strerror(r->err));
}

static void test_ringo_run_under_seccomp_returns_eperm_naming_it(void **state)
{
	struct report *r = in_child(child_run, 0);
	assert_int_equal(r->err, -EPERM);
	assert_false(r->main_ran);
	assert_non_null(strstr(r->text, "seccomp filter"));
}

static void child_loop_thread(struct report *r, int unused)
{
	block_or_skip(r, EPERM);
	ringo_loop_thread *lt = NULL;
	r->err = ringo_loop_thread_start(NULL, &lt);
	if (lt)
		ringo_loop_thread_free(lt);
	copy(r->text, ringo_strerror(r->err));
}

static void test_loop_thread_start_under_seccomp_names_it(void **state)
{
	struct report *r = in_child(child_loop_thread, 0);
	assert_int_equal(r->err, -EPERM);
	assert_non_null(strstr(r->text, "seccomp filter"));
}

/* Only this thread refuses io_uring (a filter installed without TSYNC). */
static void *blocked_thread(void *arg)
{
	struct report *r = arg;
	if (io_uring_block(EPERM) < 0) {
		r->skipped = true;
		return NULL;
	}
	ringo_loop *loop = NULL;
	r->err = ringo_loop_new(NULL, &loop);
	return NULL;
}

static void child_thread_then_main(struct report *r, int unused)
{
	pthread_t t;
	if (pthread_create(&t, NULL, blocked_thread, r) != 0)
		_exit(1);
	pthread_join(t, NULL);
	if (r->skipped)
		return;
	/* The text was found from the refused thread's seccomp state, and
	 * any thread reads it. */
	copy(r->text, ringo_strerror(r->err));
	copy(r->diagnosis, ringo_setup_diagnosis());
	ringo_loop *loop = NULL;
	if (ringo_loop_new(NULL, &loop) < 0)
		_exit(1);
	ringo_loop_free(loop);
	copy(r->after, ringo_strerror(r->err));
}

static void test_strerror_is_plain_again_once_a_ring_is_set_up(void **state)
{
	struct report *r = in_child(child_thread_then_main, 0);
	assert_int_equal(r->err, -EPERM);
	assert_non_null(strstr(r->text, "seccomp filter"));
	/* This thread has no filter: nothing refuses it io_uring. */
	assert_string_equal(r->diagnosis, "(null)");
	assert_null(strstr(r->after, "io_uring"));
}

/* ---- the io_uring_disabled sysctl, seen through a private mount ----
 * The real sysctl is global to the machine; the child instead mounts
 * files holding the values over it in a mount namespace of its own and
 * refuses io_uring with EPERM as the kernel would. Needs root. */

static bool mount_value(const char *target, const char *value)
{
	char path[] = "/tmp/ringo-sysctl-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return false;
	/* Readable by the unprivileged user the child may become, as /proc/sys is. */
	bool ok = fchmod(fd, 0644) == 0 && write(fd, value, strlen(value)) == (ssize_t)strlen(value);
	close(fd);
	ok = ok && mount(path, target, "none", MS_BIND, NULL) == 0;
	unlink(path);
	return ok;
}

/* arg: disabled * 100 + who, who: 0 stay root, 1 drop to uid/gid 65534,
 * 2 drop to 65534 but in the group kernel.io_uring_group names. */
static void child_sysctl(struct report *r, int arg)
{
	int disabled = arg / 100, who = arg % 100;
	char value[16];
	snprintf(value, sizeof(value), "%d\n", disabled);
	/* /proc private first, so the bind mounts stay in this namespace
	 * (the host's, or a chroot's, never sees them). The type "none" is
	 * ignored by the kernel; NULL makes valgrind complain. */
	if (access("/proc/sys/kernel/io_uring_disabled", F_OK) != 0 || unshare(CLONE_NEWNS) != 0 ||
	    mount("none", "/proc", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
	    !mount_value("/proc/sys/kernel/io_uring_disabled", value) ||
	    !mount_value("/proc/sys/kernel/io_uring_group", who == 2 ? "4242\n" : "-1\n")) {
		r->skipped = true;
		return;
	}
	if (who > 0) {
		gid_t g = who == 2 ? 4242 : 65534;
		if (setgroups(0, NULL) != 0 || setresgid(g, g, g) != 0 ||
		    setresuid(65534, 65534, 65534) != 0)
			_exit(1);
	}
	block_or_skip(r, EPERM);
	fill_loop_new(r, ENOSYS);
}

static void test_io_uring_disabled_2_is_named_with_the_sysctl_to_change(void **state)
{
	struct report *r = in_child(child_sysctl, 200);
	assert_int_equal(r->err, -EPERM);
	assert_non_null(strstr(r->text, "/proc/sys/kernel/io_uring_disabled is 2"));
	assert_non_null(strstr(r->text, "sysctl -w kernel.io_uring_disabled=0"));
	assert_string_equal(r->diagnosis, r->text);
}

static void test_io_uring_disabled_1_is_named_for_an_unprivileged_user(void **state)
{
	struct report *r = in_child(child_sysctl, 101);
	assert_int_equal(r->err, -EPERM);
	assert_non_null(strstr(r->text, "/proc/sys/kernel/io_uring_disabled is 1"));
	assert_non_null(strstr(r->text, "kernel.io_uring_group"));
}

/* io_uring_disabled=1 lets CAP_SYS_ADMIN and the group through: there the
 * refusal has another cause (here the filter), and the sysctl is not blamed. */
static void test_io_uring_disabled_1_is_not_blamed_for_root(void **state)
{
	struct report *r = in_child(child_sysctl, 100);
	assert_int_equal(r->err, -EPERM);
	assert_null(strstr(r->text, "io_uring_disabled is"));
	assert_non_null(strstr(r->text, "seccomp filter"));
}

static void test_io_uring_disabled_1_is_not_blamed_for_the_group(void **state)
{
	struct report *r = in_child(child_sysctl, 102);
	assert_int_equal(r->err, -EPERM);
	assert_null(strstr(r->text, "io_uring_disabled is"));
	assert_non_null(strstr(r->text, "seccomp filter"));
}

/* ---- programs under tools/no_io_uring: what a user sees ---- */

static char out[8192];

static int run_blocked(const char *opt, const char *program, const char *args)
{
	char wrapper[512], path[512], cmd[2048];
	build_path("tools/no_io_uring", wrapper, sizeof(wrapper));
	build_path(program, path, sizeof(path));
	/* make valgrind sets RINGO_TEST_WRAP so the programs run under it too. */
	const char *wrap = getenv("RINGO_TEST_WRAP");
	snprintf(cmd, sizeof(cmd), "%s %s %s %s %s 2>&1", wrapper, opt, wrap ? wrap : "", path,
		 args);
	return run_capture(cmd, out, sizeof(out));
}

static void test_echo_server_under_seccomp_says_seccomp(void **state)
{
	assert_int_equal(run_blocked("", "examples/echo_server", "0"), 1);
	assert_non_null(strstr(out, "echo_server: io_uring is blocked by a seccomp filter"));
}

static void test_threaded_echo_server_under_seccomp_says_it_once(void **state)
{
	assert_int_equal(run_blocked("", "examples/echo_server", "--threads 2 0"), 1);
	char *first = strstr(out, "seccomp filter");
	assert_non_null(first);
	assert_null(strstr(first + 1, "seccomp filter"));
}

static void test_tour_example_under_seccomp_says_seccomp(void **state)
{
	assert_int_equal(run_blocked("", "examples/tour/hello_world", ""), 1);
	assert_non_null(strstr(out, "hello_world: io_uring is blocked by a seccomp filter"));
	assert_null(strstr(out, "hello\n"));
}

static void test_tour_example_under_enosys_filter_says_so(void **state)
{
	assert_int_equal(run_blocked("--enosys", "examples/tour/hello_world", ""), 1);
	assert_non_null(strstr(out, "seccomp filter that answers ENOSYS"));
}

/* ---- tools/deps: what `make test` and `make demo` do first ----
 * apt-get and dnf are stubs here that log their arguments: the tests see
 * what would be installed without installing anything. */

static char stub_dir[64];
static char stub_log[128];

static void write_stub(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", stub_dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\necho \"%s $*\" >> %s\n", name, stub_log);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
}

static int deps_setup(void **state)
{
	if (access("tools/deps", X_OK) != 0)
		return 0; /* not run from the source tree: the tests skip */
	snprintf(stub_dir, sizeof(stub_dir), "/tmp/ringo-deps-XXXXXX");
	if (!mkdtemp(stub_dir) || chmod(stub_dir, 0755) != 0)
		return -1;
	snprintf(stub_log, sizeof(stub_log), "%s/log", stub_dir);
	write_stub("apt-get");
	write_stub("dnf");
	/* A copy beside the stubs: the user nobody may not reach the tree. */
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "cp tools/deps %s/deps", stub_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int deps_teardown(void **state)
{
	if (!stub_dir[0])
		return 0;
	char path[128];
	unlink(stub_log);
	snprintf(path, sizeof(path), "%s/deps", stub_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/apt-get", stub_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/dnf", stub_dir);
	unlink(path);
	return rmdir(stub_dir);
}

/* Run (a copy of) tools/deps with env and args, the stubs first on PATH
 * (as the user nobody when as_user and this is root); stdout and stderr
 * in out. */
static int run_deps(bool as_user, const char *env, const char *args)
{
	if (!stub_dir[0])
		skip();
	unlink(stub_log);
	const char *drop = "";
	if (as_user && geteuid() == 0) {
		if (system("command -v setpriv >/dev/null 2>&1") != 0)
			skip();
		drop = "setpriv --reuid=65534 --regid=65534 --clear-groups";
	}
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "cd %s && %s env PATH=%s:$PATH %s ./deps %s 2>&1", stub_dir, drop,
		 stub_dir, env, args);
	return run_capture(cmd, out, sizeof(out));
}

static const char *stub_calls(void)
{
	static char calls[1024];
	calls[0] = 0;
	FILE *f = fopen(stub_log, "r");
	if (f) {
		calls[fread(calls, 1, sizeof(calls) - 1, f)] = 0;
		fclose(f);
	}
	return calls;
}

static void test_deps_pass_quietly_without_a_package_manager(void **state)
{
	/* This suite was built and runs: what make test needs is here. */
	assert_int_equal(run_deps(false, "", "build test"), 0);
	assert_string_equal(out, "");
	assert_string_equal(stub_calls(), "");
}

static void test_deps_tell_a_user_the_command_to_run_with_sudo(void **state)
{
	assert_int_equal(run_deps(true, "CC=/nonexistent/cc", "test"), 1);
	assert_non_null(strstr(out, "missing for make test: a C compiler"));
	assert_non_null(strstr(out, "sudo sh -c 'apt-get update && apt-get install -y "
				    "--no-install-recommends build-essential liburing-dev "
				    "libcmocka-dev'"));
	assert_string_equal(stub_calls(), "");
}

static void test_deps_install_as_root_with_apt_get_then_check_again(void **state)
{
	if (geteuid() != 0)
		skip();
	/* The stub installs nothing, so the second check still misses it. */
	assert_int_equal(run_deps(false, "CC=/nonexistent/cc", "test"), 1);
	assert_string_equal(stub_calls(), "apt-get update -qq\n"
					  "apt-get install -y -qq --no-install-recommends "
					  "build-essential liburing-dev libcmocka-dev\n");
	assert_non_null(strstr(out, "still missing after the install"));
}

static void test_deps_name_the_dnf_packages_for_the_demo(void **state)
{
	assert_int_equal(run_deps(false, "DEPS_PM=dnf CC=/nonexistent/gcc CXX=/nonexistent/g++",
				  "--check demo"),
			 1);
	/* Each package, whatever else this machine lacks (ss, taskset...). */
	assert_non_null(strstr(out, "dnf install -y "));
	const char *pkgs[] = {" gcc ", " gcc-c++ ", " liburing-devel", " boost-devel"};
	for (size_t i = 0; i < sizeof(pkgs) / sizeof(pkgs[0]); i++)
		assert_non_null(strstr(out, pkgs[i]));
	assert_string_equal(stub_calls(), "");
}

static void test_deps_reject_an_unknown_goal(void **state)
{
	assert_int_equal(run_deps(false, "", "everything"), 2);
	assert_non_null(strstr(out, "unknown goal 'everything'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diagnosis_is_null_where_io_uring_works),
		cmocka_unit_test(test_seccomp_eperm_makes_loop_new_name_seccomp),
		cmocka_unit_test(test_seccomp_enosys_names_seccomp_and_kernel),
		cmocka_unit_test(test_ringo_run_under_seccomp_returns_eperm_naming_it),
		cmocka_unit_test(test_loop_thread_start_under_seccomp_names_it),
		cmocka_unit_test(test_strerror_is_plain_again_once_a_ring_is_set_up),
		cmocka_unit_test(test_io_uring_disabled_2_is_named_with_the_sysctl_to_change),
		cmocka_unit_test(test_io_uring_disabled_1_is_named_for_an_unprivileged_user),
		cmocka_unit_test(test_io_uring_disabled_1_is_not_blamed_for_root),
		cmocka_unit_test(test_io_uring_disabled_1_is_not_blamed_for_the_group),
		cmocka_unit_test(test_echo_server_under_seccomp_says_seccomp),
		cmocka_unit_test(test_threaded_echo_server_under_seccomp_says_it_once),
		cmocka_unit_test(test_tour_example_under_seccomp_says_seccomp),
		cmocka_unit_test(test_tour_example_under_enosys_filter_says_so),
		cmocka_unit_test(test_deps_pass_quietly_without_a_package_manager),
		cmocka_unit_test(test_deps_tell_a_user_the_command_to_run_with_sudo),
		cmocka_unit_test(test_deps_install_as_root_with_apt_get_then_check_again),
		cmocka_unit_test(test_deps_name_the_dnf_packages_for_the_demo),
		cmocka_unit_test(test_deps_reject_an_unknown_goal),
	};
	return cmocka_run_group_tests_name("setup", tests, deps_setup, deps_teardown);
}
