#include "support.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void *ca_alloc(void *ctx, size_t size)
{
	struct counting_allocator *ca = ctx;
	ca->attempts++;
	if (ca->fail_at && ca->attempts == ca->fail_at)
		return NULL;
	void *p = malloc(size);
	if (p) {
		ca->live_blocks++;
		ca->live_bytes += size;
		ca->total++;
	}
	return p;
}

static void *ca_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size)
{
	struct counting_allocator *ca = ctx;
	ca->attempts++;
	if (ca->fail_at && ca->attempts == ca->fail_at)
		return NULL;
	void *p = realloc(ptr, new_size);
	if (p) {
		if (!ptr)
			ca->live_blocks++;
		ca->live_bytes += new_size - old_size;
		ca->total++;
	}
	return p;
}

static void ca_free(void *ctx, void *ptr, size_t size)
{
	struct counting_allocator *ca = ctx;
	if (!ptr)
		return;
	assert_true(ca->live_blocks > 0);
	ca->live_blocks--;
	ca->live_bytes -= size;
	free(ptr);
}

void counting_allocator_init(struct counting_allocator *ca)
{
	memset(ca, 0, sizeof(*ca));
	ca->iface.alloc = ca_alloc;
	ca->iface.realloc = ca_realloc;
	ca->iface.free = ca_free;
	ca->iface.ctx = ca;
}

ringo_loop *test_loop_new(struct counting_allocator *ca, unsigned flags)
{
	counting_allocator_init(ca);
	ringo_loop_options o;
	ringo_loop_options_init(&o);
	o.flags = flags;
	o.allocator = &ca->iface;
	ringo_loop *loop = NULL;
	int err = ringo_loop_new(&o, &loop);
	assert_int_equal(err, 0);
	assert_non_null(loop);
	return loop;
}

void test_loop_free(ringo_loop *loop, struct counting_allocator *ca)
{
	assert_int_equal(ringo_loop_close(loop), 0);
	assert_true(ringo_loop_is_closed(loop));
	assert_int_equal(ringo_loop_free(loop), 0);
	assert_int_equal(ca->live_blocks, 0);
	assert_int_equal(ca->live_bytes, 0);
}

void log_add(struct log *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (l->len && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = ' ';
	int n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len += (size_t)n;
	if (l->len >= sizeof(l->buf))
		l->len = sizeof(l->buf) - 1;
}

void log_reset(struct log *l)
{
	l->len = 0;
	l->buf[0] = 0;
}

const char *build_path(const char *rel, char *buf, size_t cap)
{
	const char *b = getenv("RINGO_BUILD");
	snprintf(buf, cap, "%s/%s", b && *b ? b : "build", rel);
	return buf;
}

int run_capture(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = 0;
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int saved_stderr = -1;
static FILE *capture_file;

void stderr_capture_begin(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	assert_non_null(capture_file);
	saved_stderr = dup(2);
	dup2(fileno(capture_file), 2);
}

void stderr_capture_end(char *buf, size_t cap)
{
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	rewind(capture_file);
	size_t n = fread(buf, 1, cap - 1, capture_file);
	buf[n] = 0;
	fclose(capture_file);
}

ringo_loop *fx_loop;
struct counting_allocator fx_ca;

int fx_setup(void **state)
{
	fx_loop = test_loop_new(&fx_ca, 0);
	return 0;
}

int fx_teardown(void **state)
{
	test_loop_free(fx_loop, &fx_ca);
	fx_loop = NULL;
	return 0;
}

int fx_run_task(ringo_task_fn *fn, void *arg)
{
	ringo_task *t;
	assert_int_equal(ringo_spawn(fx_loop, fn, arg, NULL, &t), 0);
	int rc = ringo_loop_run_until_complete(fx_loop, ringo_task_future(t), NULL);
	ringo_task_release(t);
	return rc;
}

void fx_socketpair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

/* Is "localhost" a line of /etc/hosts? */
static bool hosts_names_localhost(void)
{
	FILE *f = fopen("/etc/hosts", "re");
	if (!f)
		return false;
	char line[512];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save); /* the address */
		while (!found && tok && (tok = strtok_r(NULL, " \t\r\n", &save)))
			found = !strcmp(tok, "localhost");
	}
	fclose(f);
	return found;
}

/* "localhost" from /etc/hosts, never from a name server: a minimal root
 * (debootstrap) has no /etc/hosts, and a lookup that goes out to the
 * network is slow and may fail by itself (EAI_AGAIN). */
bool fx_localhost_resolves(void)
{
	static int known; /* 0 unknown, 1 yes, 2 no */
	if (!known) {
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
		known = hosts_names_localhost() && getaddrinfo("localhost", NULL, &hints, &res) == 0
				? 1
				: 2;
		if (res)
			freeaddrinfo(res);
	}
	return known == 1;
}
