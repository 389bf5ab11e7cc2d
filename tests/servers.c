#include "servers.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

/* Servers started and not yet reaped: a test that fails (cmocka jumps
 * out of it) leaves them running, and teardown kills them. Every one: a
 * server left running holds the suite's stdout open, and the run
 * waits for it. */
#define MAX_LEFTOVER 16
static pid_t g_leftover[MAX_LEFTOVER];

static void leftover_add(pid_t pid)
{
	for (int i = 0; i < MAX_LEFTOVER; i++) {
		if (g_leftover[i] <= 0) {
			g_leftover[i] = pid;
			return;
		}
	}
}

static void leftover_del(pid_t pid)
{
	for (int i = 0; i < MAX_LEFTOVER; i++)
		if (g_leftover[i] == pid)
			g_leftover[i] = 0;
}

bool under_valgrind(void)
{
	const char *v = getenv("RINGO_UNDER_VALGRIND");
	return v && v[0] == '1';
}

bool server_wrapped(void)
{
	const char *w = getenv("RINGO_TEST_WRAP");
	return w && *w;
}

bool built_with_sanitizer(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
	return true;
#else
	return false;
#endif
#else
	return false;
#endif
}

int free_port(void)
{
	int fd = ringo_tcp_listen(NULL, 0, 1, 0);
	assert_true(fd >= 0);
	int port = ringo_socket_port(fd);
	close(fd);
	return port;
}

int refused_port(int *holder)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t len = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*holder = fd;
	return ntohs(a.sin_port);
}

static bool accepts(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(0x7f000001)};
	int rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	return rc == 0;
}

static pid_t start(const char *name, const char *const *args, int port, bool append_port,
		   bool wrap)
{
	char path[256], portbuf[16], wrapbuf[512];
	const char *argv[64];
	int n = 0;
	build_path(name, path, sizeof(path));
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	if (wrap && server_wrapped()) {
		/* valgrind and its options, split at spaces */
		snprintf(wrapbuf, sizeof(wrapbuf), "%s", getenv("RINGO_TEST_WRAP"));
		for (char *save, *w = strtok_r(wrapbuf, " ", &save); w && n < 40; w = strtok_r(NULL, " ", &save))
			argv[n++] = w;
	}
	int first = n;
	argv[n++] = path;
	for (int i = 0; args && args[i] && n < 62; i++)
		argv[n++] = args[i];
	if (append_port)
		argv[n++] = portbuf;
	argv[n] = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execvp(argv[0], (char **)argv);
		_exit(127);
	}
	/* Under valgrind a server takes seconds to start. */
	for (int i = 0; i < 3000; i++) {
		if (accepts(port)) {
			leftover_add(pid);
			return pid;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid)
			break;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("%s did not start listening", argv[first]);
	return -1;
}

pid_t server_start(const char *name, const char *const *args, int port, bool wrap)
{
	return start(name, args, port, true, wrap);
}

pid_t server_start_args(const char *name, const char *const *args, int port, bool wrap)
{
	return start(name, args, port, false, wrap);
}

int server_wait(pid_t pid)
{
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	leftover_del(pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* SIGTERM, and again every 20 s while the server has not exited (long
 * enough for a graceful stop even under valgrind, after which a second
 * SIGTERM would meet the default disposition). Under ThreadSanitizer an
 * asynchronous signal is queued by TSan until the thread makes an
 * intercepted call; once in a CI run a server asleep in io_uring_enter
 * never ran its handler for the first SIGTERM. After 120 s: SIGKILL. */
int server_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	for (int i = 0; i < 1200; i++) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			leftover_del(pid);
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		assert_int_equal(r, 0);
		usleep(100 * 1000);
		if (i % 200 == 199)
			kill(pid, SIGTERM);
	}
	kill(pid, SIGKILL);
	return server_wait(pid);
}

void server_kill_leftover(void)
{
	for (int i = 0; i < MAX_LEFTOVER; i++) {
		if (g_leftover[i] > 0) {
			kill(g_leftover[i], SIGKILL);
			waitpid(g_leftover[i], NULL, 0);
			g_leftover[i] = 0;
		}
	}
}

int connect_port(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(0x7f000001)};
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct timeval tv = {10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

size_t read_all(int fd, char *out, size_t cap)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = recv(fd, out + n, cap - 1 - n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	out[n] = 0;
	return n;
}

size_t exchange(int port, const void *req, size_t len, char *out, size_t cap)
{
	int fd = connect_port(port);
	const char *p = req;
	for (size_t done = 0; done < len;) {
		ssize_t r = send(fd, p + done, len - done, MSG_NOSIGNAL);
		if (r <= 0)
			break; /* the server may close early (an error): read its answer */
		done += (size_t)r;
	}
	shutdown(fd, SHUT_WR);
	size_t n = read_all(fd, out, cap);
	close(fd);
	return n;
}

int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

int count_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}
