/*
 * Why io_uring cannot be set up here, in words a user can act on.
 *
 * io_uring_setup answers a bare EPERM when the kernel.io_uring_disabled
 * sysctl (Linux 6.6+) forbids this process a ring, or when a seccomp filter
 * refuses the call (Docker 25+, containerd 2.0+ and Podman default
 * profiles); it answers ENOSYS when the kernel was built without io_uring,
 * a sandbox does not implement it, or a filter says so. The cause is read
 * from /proc when loop creation fails (a cold path) and remembered for the
 * process, so that ringo_strerror() of the error the program got back
 * names it, whatever thread prints it.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

enum cause {
	CAUSE_NONE,
	CAUSE_DISABLED_ALL,        /* io_uring_disabled = 2 */
	CAUSE_DISABLED_UNPRIVILEGED, /* io_uring_disabled = 1, not admin, not in the group */
	CAUSE_SECCOMP,             /* EPERM under a seccomp filter */
	CAUSE_SECCOMP_ENOSYS,      /* ENOSYS under a seccomp filter */
	CAUSE_NOT_BUILT,           /* ENOSYS, no filter: no io_uring in this kernel */
	CAUSE_DENIED,              /* EPERM, neither sysctl nor seccomp: an LSM? */
};

/* One line each: the cause, what was read, and the fix. */
static const char *const texts[] = {
	[CAUSE_DISABLED_ALL] =
		"io_uring is disabled on this machine: /proc/sys/kernel/io_uring_disabled is 2 "
		"(no process may create a ring); as root on the host run "
		"`sysctl -w kernel.io_uring_disabled=0` (keep it in /etc/sysctl.d/)",
	[CAUSE_DISABLED_UNPRIVILEGED] =
		"io_uring is disabled for this process: /proc/sys/kernel/io_uring_disabled is 1 "
		"(only CAP_SYS_ADMIN or members of the group kernel.io_uring_group may create "
		"rings); as root on the host run `sysctl -w kernel.io_uring_disabled=0`, or set "
		"kernel.io_uring_group to a group this user is in",
	[CAUSE_SECCOMP] =
		"io_uring is blocked by a seccomp filter (/proc/self/status has Seccomp: 2), as "
		"Docker's, Podman's and containerd's default profiles do: run the container with "
		"--security-opt seccomp=PROFILE.json allowing io_uring_setup, io_uring_enter and "
		"io_uring_register (or seccomp=unconfined), or --privileged; see \"Running in "
		"containers\" in ringo's README",
	[CAUSE_SECCOMP_ENOSYS] =
		"io_uring is blocked by a seccomp filter that answers ENOSYS (/proc/self/status "
		"has Seccomp: 2): allow io_uring_setup, io_uring_enter and io_uring_register in "
		"the container's profile (--security-opt seccomp=PROFILE.json or unconfined), or "
		"the kernel has no io_uring (CONFIG_IO_URING)",
	[CAUSE_NOT_BUILT] =
		"io_uring is not available: io_uring_setup does not exist here (ENOSYS): the "
		"kernel was built without CONFIG_IO_URING, or a sandbox such as gVisor does not "
		"implement it; ringo needs Linux 5.10+ with io_uring",
	[CAUSE_DENIED] =
		"io_uring_setup was refused (EPERM) although neither kernel.io_uring_disabled nor "
		"a seccomp filter forbids it: a security module (SELinux, AppArmor) or a sandbox "
		"denies it; see its audit log",
};

/* The cause of the last refused set-up in this process; CAUSE_NONE once a
 * ring was set up again. */
static _Atomic int last_refusal = CAUSE_NONE;

/* A number from a one-line /proc file, or -1 where there is none (older
 * kernels have no io_uring_disabled). */
static long read_number(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long v;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* The value of `name:` in this thread's status file (seccomp filters are
 * per thread), copied into out; false if absent. */
static bool status_field(const char *name, char *out, size_t cap)
{
	RINGO_ASSERT(name != NULL && out != NULL && cap > 0);
	FILE *f = fopen("/proc/thread-self/status", "re");
	if (!f)
		f = fopen("/proc/self/status", "re");
	if (!f)
		return false;
	char line[256];
	size_t len = strlen(name);
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, len) != 0 || line[len] != ':')
			continue;
		const char *v = line + len + 1;
		v += strspn(v, " \t");
		snprintf(out, cap, "%.*s", (int)strcspn(v, "\n"), v);
		found = true;
	}
	fclose(f);
	return found;
}

static bool under_seccomp_filter(void)
{
	char v[32];
	return status_field("Seccomp", v, sizeof(v)) && strcmp(v, "2") == 0;
}

/* CAP_SYS_ADMIN (bit 21) in the effective set lets a process past
 * io_uring_disabled=1. */
static bool has_sys_admin(void)
{
	char v[32];
	if (!status_field("CapEff", v, sizeof(v)))
		return false;
	return (strtoull(v, NULL, 16) >> 21) & 1;
}

static bool in_group(long gid)
{
	if (gid < 0)
		return false;
	if ((long)getegid() == gid)
		return true;
	int n = getgroups(0, NULL);
	gid_t *groups = n > 0 ? calloc((size_t)n, sizeof(*groups)) : NULL;
	if (groups)
		n = getgroups(n, groups);
	bool found = false;
	for (int i = 0; groups && i < n && !found; i++)
		found = (long)groups[i] == gid;
	free(groups);
	return found;
}

/* The kernel's rule (io_uring_allowed()) for the sysctl, read from outside. */
static enum cause classify_eperm(void)
{
	long disabled = read_number("/proc/sys/kernel/io_uring_disabled");
	if (disabled == 2)
		return CAUSE_DISABLED_ALL;
	if (disabled == 1 && !has_sys_admin() &&
	    !in_group(read_number("/proc/sys/kernel/io_uring_group")))
		return CAUSE_DISABLED_UNPRIVILEGED;
	return under_seccomp_filter() ? CAUSE_SECCOMP : CAUSE_DENIED;
}

static enum cause classify(int err)
{
	if (err == -EPERM)
		return classify_eperm();
	if (err == -ENOSYS)
		return under_seccomp_filter() ? CAUSE_SECCOMP_ENOSYS : CAUSE_NOT_BUILT;
	return CAUSE_NONE;
}

static int cause_errno(enum cause c)
{
	RINGO_ASSERT(c != CAUSE_NONE); /* only a cause has an errno */
	return c == CAUSE_SECCOMP_ENOSYS || c == CAUSE_NOT_BUILT ? -ENOSYS : -EPERM;
}

void ringo__setup_failed(int err)
{
	RINGO_ASSERT(err < 0); /* io_uring_queue_init's -errno */
	enum cause c = classify(err);
	if (c != CAUSE_NONE)
		atomic_store(&last_refusal, c);
}

void ringo__setup_succeeded(void)
{
	/* A load first: loop creation should not write a shared line each time. */
	if (atomic_load_explicit(&last_refusal, memory_order_relaxed) != CAUSE_NONE)
		atomic_store(&last_refusal, CAUSE_NONE);
}

const char *ringo__setup_refusal_text(int err)
{
	if (err != -EPERM && err != -ENOSYS)
		return NULL;
	enum cause c = atomic_load(&last_refusal);
	RINGO_ASSERT(c >= CAUSE_NONE && c <= CAUSE_DENIED);
	return c != CAUSE_NONE && cause_errno(c) == err ? texts[c] : NULL;
}

const char *ringo_setup_diagnosis(void)
{
	/* The bare syscall, no flags: the question is whether any ring may be
	 * made, not which features the kernel has. */
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	long fd = syscall(__NR_io_uring_setup, 1, &p);
	if (fd >= 0) {
		close((int)fd);
		ringo__setup_succeeded();
		return NULL;
	}
	enum cause c = classify(-errno);
	if (c == CAUSE_NONE)
		return NULL;
	atomic_store(&last_refusal, c);
	return texts[c];
}
