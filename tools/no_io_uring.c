/*
 * no_io_uring: run a program where io_uring is refused, as in a Docker
 * container with the default seccomp profile.
 *
 *   no_io_uring [--enosys] PROGRAM [ARG...]
 *
 * Installs a seccomp filter that answers EPERM (or ENOSYS with --enosys)
 * to io_uring_setup, io_uring_enter and io_uring_register, then execs
 * PROGRAM (searched in PATH). Everything PROGRAM starts inherits the
 * filter. Exit status: PROGRAM's, or 127 if it cannot be run.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io_uring_block.h"

int main(int argc, char **argv)
{
	int first = 1, errno_value = EPERM;
	if (argc > 1 && strcmp(argv[1], "--enosys") == 0) {
		errno_value = ENOSYS;
		first = 2;
	}
	if (first >= argc || argv[first][0] == '-') {
		fprintf(stderr, "usage: no_io_uring [--enosys] PROGRAM [ARG...]\n");
		return 2;
	}
	int err = io_uring_block(errno_value);
	if (err < 0) {
		fprintf(stderr, "no_io_uring: cannot install the seccomp filter: %s\n", strerror(-err));
		return 127;
	}
	execvp(argv[first], argv + first);
	fprintf(stderr, "no_io_uring: %s: %s\n", argv[first], strerror(errno));
	return 127;
}
