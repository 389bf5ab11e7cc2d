/*
 * Signals through io_uring: the signals are blocked (so they stay pending
 * instead of running a handler or killing the process) and a task reads
 * them from a signalfd with an ordinary ringo_read, so a signal is just
 * another completion of the loop's one io_uring_enter.
 */
#include <pthread.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "io_internal.h"

int ringo_signal_block(const sigset_t *mask)
{
	if (!mask)
		return -EINVAL;
	return -pthread_sigmask(SIG_BLOCK, mask, NULL);
}

int ringo_signal_wait(const sigset_t *mask)
{
	if (!mask)
		return -EINVAL;
	ringo_loop *loop = ringo__current_loop;
	if (!loop || !ringo_task_current())
		return -EPERM;
	struct ringo__io_state *io = ringo__io_state(loop);
	if (!io)
		return -ENOMEM;
	int err = ringo_signal_block(mask);
	if (err < 0)
		return err;
	/* One signalfd per loop; a new mask replaces the old one. */
	int fd = signalfd(io->signal_fd, mask, SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	io->signal_fd = fd;
	io->signal_mask = *mask;
	struct signalfd_siginfo si;
	for (;;) {
		int n = ringo_read(fd, &si, sizeof(si), -1);
		if (n < 0)
			return n;
		if (n == (int)sizeof(si) && sigismember(mask, (int)si.ssi_signo) == 1)
			return (int)si.ssi_signo;
	}
}
