/*
 * io_uring_block.h: refuse io_uring to this thread and everything it
 * starts, the way a container's seccomp profile does (Docker 25+ answers
 * EPERM to io_uring_setup, io_uring_enter and io_uring_register). Used by
 * tools/no_io_uring.c and the tests, to see what a program says there.
 */
#ifndef RINGO_TOOLS_IO_URING_BLOCK_H
#define RINGO_TOOLS_IO_URING_BLOCK_H

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define IO_URING_BLOCK_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define IO_URING_BLOCK_ARCH AUDIT_ARCH_AARCH64
#else
#error "io_uring_block.h: add this architecture's AUDIT_ARCH_"
#endif

/* Install a seccomp filter answering errno_value (EPERM as Docker, or
 * ENOSYS) to the three io_uring syscalls; every other call is allowed.
 * Sets no_new_privs first, so no privilege is needed. It cannot be
 * undone: it holds for this thread and every thread and program it
 * starts. Returns 0 or -errno. */
static inline int io_uring_block(int errno_value)
{
	struct sock_filter code[] = {
		/* Another syscall ABI has other numbers: leave it alone. */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IO_URING_BLOCK_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)errno_value & SECCOMP_RET_DATA)),
	};
	struct sock_fprog prog = {
		.len = (unsigned short)(sizeof(code) / sizeof(code[0])),
		.filter = code,
	};
	if (errno_value <= 0 || errno_value > (int)SECCOMP_RET_DATA)
		return -EINVAL;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return -errno;
	return 0;
}

#endif
