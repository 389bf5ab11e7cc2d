/*
 * Subprocesses: spawn, the loop's watch on each child, signals, free.
 *
 * Spawning is posix_spawn: glibc makes the child with clone(CLONE_VM |
 * CLONE_VFORK), so nothing of the parent is copied (the ring's mappings
 * included) and the parent resumes only once the child has called exec or
 * failed to; an exec failure comes back as posix_spawn's return value and
 * glibc reaps that child itself. fork() is never used: a forked child of
 * a process with a ring would share the ring's pages until it execs.
 *
 * The pidfd is opened after posix_spawn returns. No other process can
 * take the pid meanwhile: until we reap it, the child (even exited, as a
 * zombie) holds it. Only a reaper other than ringo (waitpid(-1) elsewhere,
 * SIGCHLD ignored) could free it, and the watch reports that as -ECHILD.
 * Where pidfd_open is missing (ENOSYS: valgrind 3.19 does not know the
 * pidfd calls) but IORING_OP_WAITID is there, the child is watched by
 * pid instead (WAITID(P_PID)) and signalled with kill(); the one thing
 * lost is that a signal sent in the instant between the kernel reaping
 * the child and the loop seeing it could reach a process that reused
 * the pid.
 *
 * The watch: from spawn until the child is reaped, the loop keeps one
 * request on the child's pidfd in flight, owned by the process record
 * (not by a task): IORING_OP_WAITID(P_PIDFD, WEXITED), which reaps the
 * child and fills the record's siginfo, or where the kernel lacks it
 * (before 6.7) POLL_ADD(POLLIN) on the pidfd, which fires when the child
 * exits, then waitid(WNOHANG) to reap it. So a child that exits while the
 * loop runs is reaped at once, waited for or not, and a record the caller
 * freed early lives on until then.
 */
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io_internal.h"
#include "process_internal.h"

extern char **environ;

bool ringo__process_force_poll;
bool ringo__process_force_sigpipe_fallback;

/* ---- per-loop state ---- */

static void proc_close(ringo_loop *loop, void *ctx);

/* IORING_OP_WAITID is past liburing 2.3's IORING_OP_LAST, so the I/O
 * layer's probe does not cover it: ask the kernel here. */
__attribute__((cold)) static bool probe_waitid(ringo_loop *loop)
{
	struct io_uring_probe *probe = io_uring_get_probe_ring(&loop->ring);
	if (!probe)
		return false;
	bool ok = probe->last_op >= RINGO__OP_WAITID &&
		  (probe->ops[RINGO__OP_WAITID].flags & IO_URING_OP_SUPPORTED);
	io_uring_free_probe(probe);
	return ok;
}

__attribute__((cold)) static struct ringo__proc_state *proc_state(ringo_loop *loop)
{
	RINGO_ASSERT(!loop->closed); /* spawn checked */
	if (loop->proc)
		return loop->proc;
	struct ringo__proc_state *ps = ringo__alloc(loop, sizeof(*ps));
	if (!ps)
		return NULL;
	memset(ps, 0, sizeof(*ps));
	ps->loop = loop;
	ringo__list_init(&ps->procs);
	ps->waitid = probe_waitid(loop);
	if (ringo__add_close_hook(loop, proc_close, ps) < 0) {
		ringo__free(loop, ps, sizeof(*ps));
		return NULL;
	}
	loop->proc = ps;
	return ps;
}

/* ---- small system-call wrappers (glibc 2.36 has pidfd_open, older
 * ones do not: the raw call works everywhere) ---- */

static int sys_pidfd_open(pid_t pid)
{
	/* ENOSYS is for good: not asked again (valgrind warns at each). */
	static _Atomic bool missing;
	if (atomic_load_explicit(&missing, memory_order_relaxed))
		return -ENOSYS;
	long fd = syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0 && errno == ENOSYS)
		atomic_store_explicit(&missing, true, memory_order_relaxed);
	return fd < 0 ? -errno : (int)fd;
}

static int sys_pidfd_send_signal(int pidfd, int signo)
{
	return syscall(SYS_pidfd_send_signal, pidfd, signo, NULL, 0) < 0 ? -errno : 0;
}

/* ---- the record ---- */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The pipes' streams: aborted (bytes not yet sent to stdin are dropped)
 * and freed once the kernel is done with them. */
static void free_pipes(ringo_process *p)
{
	for (int i = 0; i < 3; i++) {
		ringo_stream_free(p->pipes[i]);
		p->pipes[i] = NULL;
	}
}

/* Everything but the memory: pipes, pidfd, collected output. */
static void release_resources(ringo_process *p)
{
	RINGO_ASSERT(p->wait_ud == 0); /* the watch is over: nothing reads the pidfd */
	free_pipes(p);
	for (int i = 0; i < 3; i++) {
		free(p->acc[i].buf);
		memset(&p->acc[i], 0, sizeof(p->acc[i]));
	}
	close_fd(&p->pidfd);
}

static void destroy(ringo_process *p)
{
	RINGO_ASSERT(p->wait_ud == 0); /* the kernel may still write p->info */
	if (p->ps)
		ringo__list_remove(&p->link);
	release_resources(p);
	ringo__free(p->loop, p, sizeof(*p));
}

/* ---- waiters ---- */

struct waiter {
	struct ringo__list link; /* on p->waiters until woken or cancelled */
	ringo_task *task;
};

static void waiter_interrupt(ringo_task *t)
{
	struct waiter *w = ringo__task_wait_ctx(t);
	RINGO_ASSERT(w->task == t && w->link.next != &w->link); /* still queued */
	ringo__list_remove(&w->link);
	ringo__task_wake(t, -ECANCELED);
}

/* keep_result false: a cancel that comes after the exit woke the task
 * still wins; the exit stays recorded either way, so nothing is lost. */
static void waiter_abandon(ringo_task *t)
{
	struct waiter *w = ringo__task_wait_ctx(t);
	if (w->link.next != &w->link)
		ringo__list_remove(&w->link);
}

static const struct ringo__wait_ops proc_wait_ops = {
	.what = "process", .interrupt = waiter_interrupt, .abandon = waiter_abandon};

static void wake_waiters(ringo_process *p)
{
	RINGO_ASSERT(p->phase != RINGO__PROC_RUNNING);
	while (!ringo__list_empty(&p->waiters)) {
		struct waiter *w = ringo__container_of(p->waiters.next, struct waiter, link);
		ringo__list_remove(&w->link);
		ringo__task_wake(w->task, 0);
	}
}

int ringo__process_wait_exit(ringo_process *p)
{
	RINGO_ASSERT(p->busy > 0); /* the caller holds p (free refuses meanwhile) */
	for (;;) {
		switch (p->phase) {
		case RINGO__PROC_EXITED:
			return 0;
		case RINGO__PROC_LOST:
			return p->lost_err;
		case RINGO__PROC_DETACHED:
			return -ESHUTDOWN;
		}
		struct waiter w = {.task = ringo_task_current()};
		if (!w.task)
			return -EPERM;
		ringo__list_init(&w.link);
		ringo__list_insert_tail(&p->waiters, &w.link);
		int rc = ringo__task_suspend(&proc_wait_ops, &w);
		/* A cancel already pending returns at once, still linked. */
		if (w.link.next != &w.link)
			ringo__list_remove(&w.link);
		if (rc < 0)
			return rc;
	}
}

/* ---- the watch ---- */

static void watch_done(ringo_loop *loop, void *ctx, int32_t res, uint32_t flags);

/* Fill an SQE for the watch request, whose op slot is already open. */
static void watch_submit(ringo_process *p)
{
	RINGO_ASSERT(p->wait_ud != 0 && p->ps != NULL); /* its op slot is open */
	struct io_uring_sqe *sqe = ringo__sqe(p->loop);
	RINGO_ASSERT(sqe != NULL); /* the loop is open: its ring is there */
	/* Without a pidfd there is nothing to poll: WAITID by pid only. */
	p->wait_poll = !p->by_pid && (!p->ps->waitid || ringo__process_force_poll);
	if (p->wait_poll) {
		io_uring_prep_poll_add(sqe, p->pidfd, POLLIN);
	} else {
		/* liburing's io_uring_prep_waitid (2.5+) layout: fd = the id,
		 * len = idtype, file_index = options, addr2 = infop. */
		if (p->by_pid)
			io_uring_prep_rw(RINGO__OP_WAITID, sqe, p->pid, NULL, P_PID, 0);
		else
			io_uring_prep_rw(RINGO__OP_WAITID, sqe, p->pidfd, NULL, P_PIDFD, 0);
		sqe->file_index = WEXITED;
		sqe->addr2 = (uint64_t)(uintptr_t)&p->info;
	}
	sqe->user_data = p->wait_ud;
}

/* Arm the watch again. Cannot fail: the op slot the finished request just
 * gave back is taken again, and the ring is there while the loop is open. */
static void watch_again(ringo_process *p)
{
	RINGO_ASSERT(p->wait_ud == 0 && p->phase == RINGO__PROC_RUNNING);
	int err = ringo__op_open(p->loop, watch_done, p, &p->wait_ud);
	RINGO_ASSERT(err == 0);
	watch_submit(p);
}

static void record_exit(ringo_process *p, const siginfo_t *si)
{
	RINGO_ASSERT(p->phase == RINGO__PROC_RUNNING); /* reaped once */
	struct ringo_process_status *st = &p->status;
	memset(st, 0, sizeof(*st));
	if (si->si_code == CLD_EXITED) {
		st->exited = true;
		st->exit_status = si->si_status;
		st->returncode = si->si_status;
	} else {
		st->signaled = true;
		st->core_dumped = si->si_code == CLD_DUMPED;
		st->term_signal = si->si_status;
		st->returncode = -si->si_status;
	}
	p->phase = RINGO__PROC_EXITED;
}

/* The child is gone (reaped, or its status lost): wake the waiters, and
 * free the record if the caller already gave it back. */
static void finish(ringo_process *p)
{
	RINGO_ASSERT(p->phase != RINGO__PROC_RUNNING && p->wait_ud == 0);
	close_fd(&p->pidfd);
	wake_waiters(p);
	if (p->freed)
		destroy(p);
}

static void lose(ringo_process *p, int err)
{
	RINGO_ASSERT(err < 0 && p->phase == RINGO__PROC_RUNNING);
	p->phase = RINGO__PROC_LOST;
	p->lost_err = err;
	finish(p);
}

/* waitid(WNOHANG): 1 reaped (recorded), 0 still running, or -errno. */
static int try_reap(ringo_process *p)
{
	RINGO_ASSERT(p->by_pid || p->pidfd >= 0); /* something names the child */
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	int rc = p->by_pid ? waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG)
			   : waitid(P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG);
	if (rc < 0)
		return -errno;
	if (si.si_pid == 0)
		return 0;
	record_exit(p, &si);
	return 1;
}

static void watch_done(ringo_loop *loop, void *ctx, int32_t res, uint32_t flags)
{
	ringo_process *p = ctx;
	RINGO_ASSERT(p->wait_ud != 0 && p->phase == RINGO__PROC_RUNNING);
	ringo__op_close(loop, p->wait_ud);
	p->wait_ud = 0;
	/* Loop close cancelled it (ringo__ring_drain): proc_close takes over. */
	if (loop->closed)
		return;
	if (!p->wait_poll) {
		if (res == 0) {
			ringo__io_defined(&p->info, sizeof(p->info));
			record_exit(p, &p->info);
			finish(p);
			return;
		}
		if (res == -ECHILD) {
			lose(p, -ECHILD);
			return;
		}
		/* Refused by this kernel: poll the pidfd from now on (by pid
		 * there is no other way: the status is lost). */
		if (res == -EINVAL || res == -EOPNOTSUPP) {
			if (p->by_pid) {
				lose(p, res);
				return;
			}
			p->ps->waitid = false;
		}
	}
	/* The pidfd polled readable (or the request ended early): look. */
	int r = try_reap(p);
	if (r > 0) {
		finish(p);
		return;
	}
	if (r < 0) {
		lose(p, r);
		return;
	}
	/* Still running. A poll that failed for good (not a cancel or a
	 * signal) would fail again at once: stop watching rather than spin. */
	if (p->wait_poll && res < 0 && res != -ECANCELED && res != -EINTR) {
		lose(p, res);
		return;
	}
	watch_again(p);
}

/* ---- spawn ---- */

static int check_options(const ringo_process_options *o)
{
	const unsigned known =
		RINGO_PROCESS_NEW_SESSION | RINGO_PROCESS_KILL_ON_CLOSE | RINGO_PROCESS_KEEP_FDS;
	if (o->flags & ~known)
		return -EINVAL;
	const enum ringo_stdio mode[3] = {o->in, o->out, o->err};
	const int fd[3] = {o->in_fd, o->out_fd, o->err_fd};
	for (int i = 0; i < 3; i++) {
		if ((unsigned)mode[i] > RINGO_STDIO_STDOUT)
			return -EINVAL;
		if (mode[i] == RINGO_STDIO_STDOUT && i != 2)
			return -EINVAL;
		if (mode[i] == RINGO_STDIO_FD && fd[i] < 0)
			return -EINVAL;
	}
	return 0;
}

/* What spawn sets up before posix_spawn, undone by spawn_cleanup. */
struct spawn_plan {
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int child_fd[3];  /* fds the child's 0/1/2 are dup2'd from, closed after */
	int parent_fd[3]; /* the caller's pipe ends, kept on success */
};

/* An fd >= 3, close-on-exec, for fd: a pipe end that landed on 0..2 (the
 * caller had closed its stdio) must not be a dup2 target of another. */
static int above_stdio(int fd)
{
	RINGO_ASSERT(fd >= 0);
	if (fd >= 3)
		return fd;
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int err = hi < 0 ? -errno : 0;
	close(fd);
	return hi < 0 ? err : hi;
}

static int plan_pipe(struct spawn_plan *sp, int i)
{
	RINGO_ASSERT(i >= 0 && i < 3 && sp->parent_fd[i] < 0 && sp->child_fd[i] < 0);
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	/* stdin: the child reads pfd[0]; stdout/stderr: it writes pfd[1]. */
	int child = i == 0 ? pfd[0] : pfd[1];
	sp->parent_fd[i] = i == 0 ? pfd[1] : pfd[0];
	child = above_stdio(child);
	if (child < 0)
		return child;
	sp->child_fd[i] = child;
	int parent = above_stdio(sp->parent_fd[i]);
	sp->parent_fd[i] = parent;
	if (parent < 0)
		return parent;
	return -posix_spawn_file_actions_adddup2(&sp->fa, child, i);
}

static int plan_stdio(struct spawn_plan *sp, int i, enum ringo_stdio mode, int fd)
{
	RINGO_ASSERT(i >= 0 && i < 3);
	switch (mode) {
	case RINGO_STDIO_INHERIT:
		return 0;
	case RINGO_STDIO_PIPE:
		return plan_pipe(sp, i);
	case RINGO_STDIO_DEVNULL:
		return -posix_spawn_file_actions_addopen(&sp->fa, i, "/dev/null",
							 i == 0 ? O_RDONLY : O_WRONLY, 0);
	case RINGO_STDIO_FD:
		/* Through a copy >= 3: the caller's fd may itself be one of
		 * 0..2 that an earlier dup2 in the child replaces. */
		sp->child_fd[i] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (sp->child_fd[i] < 0)
			return -errno;
		return -posix_spawn_file_actions_adddup2(&sp->fa, sp->child_fd[i], i);
	case RINGO_STDIO_STDOUT:
		return -posix_spawn_file_actions_adddup2(&sp->fa, 1, 2);
	}
	return -EINVAL;
}

static int plan_attr(struct spawn_plan *sp, unsigned flags)
{
	/* The child starts clean whatever the loop did to signals: an empty
	 * mask, and every handled or ignored signal back to its default. */
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	short sflags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	if (flags & RINGO_PROCESS_NEW_SESSION)
		sflags |= POSIX_SPAWN_SETSID;
	int err = posix_spawnattr_setsigmask(&sp->attr, &none);
	if (!err)
		err = posix_spawnattr_setsigdefault(&sp->attr, &all);
	if (!err)
		err = posix_spawnattr_setflags(&sp->attr, sflags);
	return -err;
}

static int plan(struct spawn_plan *sp, const ringo_process_options *o)
{
	const enum ringo_stdio mode[3] = {o->in, o->out, o->err};
	const int fd[3] = {o->in_fd, o->out_fd, o->err_fd};
	for (int i = 0; i < 3; i++) {
		int err = plan_stdio(sp, i, mode[i], fd[i]);
		if (err < 0)
			return err;
	}
	/* After the dup2s (file actions run in order): the child keeps 0, 1
	 * and 2 only, as Python's close_fds=True. */
	if (!(o->flags & RINGO_PROCESS_KEEP_FDS)) {
		int err = posix_spawn_file_actions_addclosefrom_np(&sp->fa, 3);
		if (err)
			return -err;
	}
	if (o->cwd) {
		int err = posix_spawn_file_actions_addchdir_np(&sp->fa, o->cwd);
		if (err)
			return -err;
	}
	return plan_attr(sp, o->flags);
}

/* The child's ends (it has its copies, or it failed), and the caller's
 * ends that did not become streams (a failure on the way). */
static void spawn_cleanup(struct spawn_plan *sp)
{
	for (int i = 0; i < 3; i++) {
		close_fd(&sp->child_fd[i]);
		close_fd(&sp->parent_fd[i]);
	}
	posix_spawn_file_actions_destroy(&sp->fa);
	posix_spawnattr_destroy(&sp->attr);
}

/* The child runs but cannot be watched (no pidfd): stop it and reap it
 * here, so the failed spawn leaves nothing behind. */
__attribute__((cold)) static void abandon_child(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static int start_child(ringo_process *p, const char *path, const char *const argv[],
		       const ringo_process_options *o)
{
	RINGO_ASSERT(p->wait_ud != 0 && p->pid == 0); /* slot open, nothing started */
	struct spawn_plan sp;
	for (int i = 0; i < 3; i++)
		sp.child_fd[i] = sp.parent_fd[i] = -1;
	int err = -posix_spawn_file_actions_init(&sp.fa);
	if (err < 0)
		return err;
	err = -posix_spawnattr_init(&sp.attr);
	if (err < 0) {
		posix_spawn_file_actions_destroy(&sp.fa);
		return err;
	}
	err = plan(&sp, o);
	/* The caller's ends become streams before the child exists, so that
	 * nothing can fail once it runs; the streams own the fds from now. */
	for (int i = 0; i < 3 && err == 0; i++) {
		if (sp.parent_fd[i] < 0)
			continue;
		err = ringo_stream_new(p->loop, sp.parent_fd[i], o->stream, &p->pipes[i]);
		if (err == 0)
			sp.parent_fd[i] = -1;
	}
	const char *const fallback_argv[] = {path, NULL};
	char *const *av = (char *const *)(argv ? argv : fallback_argv);
	char *const *env = o->envp ? (char *const *)o->envp : environ;
	pid_t pid = 0;
	if (err == 0)
		err = -posix_spawnp(&pid, path, &sp.fa, &sp.attr, av, env);
	if (err == 0) {
		p->pid = pid;
		p->pidfd = sys_pidfd_open(pid);
		if (p->pidfd == -ENOSYS && p->ps->waitid) {
			p->pidfd = -1;
			p->by_pid = true;
		} else if (p->pidfd < 0) {
			err = p->pidfd;
			p->pidfd = -1;
			abandon_child(pid);
		}
	}
	spawn_cleanup(&sp);
	if (err < 0)
		free_pipes(p);
	return err;
}

int ringo_process_spawn(ringo_loop *loop, const char *path, const char *const argv[],
			const ringo_process_options *opts, ringo_process **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!loop || !path)
		return -EINVAL;
	static const ringo_process_options defaults;
	const ringo_process_options *o = opts ? opts : &defaults;
	int err = check_options(o);
	if (err < 0)
		return err;
	err = ringo__check_open(loop);
	if (err < 0)
		return err;
	struct ringo__proc_state *ps = proc_state(loop);
	ringo_process *p = ps ? ringo__alloc(loop, sizeof(*p)) : NULL;
	if (!p)
		return -ENOMEM;
	memset(p, 0, sizeof(*p));
	p->loop = loop;
	p->ps = ps;
	p->pidfd = -1;
	p->kill_on_close = o->flags & RINGO_PROCESS_KILL_ON_CLOSE;
	ringo__list_init(&p->waiters);
	/* The op slot first: once the child runs, nothing may fail. */
	err = ringo__op_open(loop, watch_done, p, &p->wait_ud);
	if (err == 0) {
		err = start_child(p, path, argv, o);
		if (err < 0)
			ringo__op_close(loop, p->wait_ud);
	}
	if (err < 0) {
		ringo__free(loop, p, sizeof(*p));
		return err;
	}
	watch_submit(p);
	ringo__list_init(&p->link);
	ringo__list_insert_tail(&ps->procs, &p->link);
	ringo__held_inc(loop);
	*out = p;
	return 0;
}

/* ---- queries and signals ---- */

int ringo_process_pid(const ringo_process *p)
{
	return p ? p->pid : -EINVAL;
}

ringo_stream *ringo_process_stdin(const ringo_process *p)
{
	return p ? p->pipes[0] : NULL;
}

ringo_stream *ringo_process_stdout(const ringo_process *p)
{
	return p ? p->pipes[1] : NULL;
}

ringo_stream *ringo_process_stderr(const ringo_process *p)
{
	return p ? p->pipes[2] : NULL;
}

int ringo_process_status(const ringo_process *p, struct ringo_process_status *status)
{
	if (!p || !status)
		return -EINVAL;
	switch (p->phase) {
	case RINGO__PROC_EXITED:
		*status = p->status;
		return 0;
	case RINGO__PROC_LOST:
		return p->lost_err;
	case RINGO__PROC_DETACHED:
		return -ESHUTDOWN;
	default:
		return -EINPROGRESS;
	}
}

int ringo_process_returncode(const ringo_process *p, int *returncode)
{
	if (!returncode)
		return -EINVAL;
	struct ringo_process_status st;
	int err = ringo_process_status(p, &st);
	if (err == 0)
		*returncode = st.returncode;
	return err;
}

int ringo_process_wait(ringo_process *p, int *returncode)
{
	if (!p)
		return -EINVAL;
	p->busy++;
	int err = ringo__process_wait_exit(p);
	p->busy--;
	if (err == 0 && returncode)
		*returncode = p->status.returncode;
	return err;
}

/* Once reaped the pidfd is closed: the pid may belong to another process
 * by now, and nothing is sent. By pid: only while the child is ours
 * (running, or left running at loop close: nobody reaps it then). */
static int send_signal(ringo_process *p, int signo)
{
	RINGO_ASSERT(signo >= 0 && signo < NSIG);
	if (p->pidfd >= 0)
		return sys_pidfd_send_signal(p->pidfd, signo);
	if (p->by_pid && (p->phase == RINGO__PROC_RUNNING || p->phase == RINGO__PROC_DETACHED))
		return kill(p->pid, signo) < 0 ? -errno : 0;
	return -ESRCH;
}

int ringo_process_send_signal(ringo_process *p, int signo)
{
	if (!p || signo < 0 || signo >= NSIG)
		return -EINVAL;
	return send_signal(p, signo);
}

int ringo_process_terminate(ringo_process *p)
{
	return ringo_process_send_signal(p, SIGTERM);
}

int ringo_process_kill(ringo_process *p)
{
	return ringo_process_send_signal(p, SIGKILL);
}

/* ---- free and close ---- */

int ringo_process_free(ringo_process *p)
{
	if (!p)
		return 0;
	if (p->busy)
		return -EBUSY;
	RINGO_ASSERT(!p->freed);
	ringo__held_dec(p->loop);
	if (!p->ps && p->wait_ud) {
		/* The loop closed with the watch still in the kernel (its
		 * drain gave up): p->info may yet be written. Leak it. */
		p->freed = true;
		return 0;
	}
	if (p->ps && p->phase == RINGO__PROC_RUNNING) {
		/* The watch keeps going and frees the record once the child is
		 * reaped (finish()). The pipes go now. */
		free_pipes(p);
		p->freed = true;
		return 0;
	}
	destroy(p);
	return 0;
}

/* A child still running at close: killed and reaped if asked, else left
 * running with its pidfd kept (the caller may still signal it). */
__attribute__((cold)) static void close_running(ringo_process *p)
{
	RINGO_ASSERT(p->phase == RINGO__PROC_RUNNING && p->wait_ud == 0 && p->ps == NULL);
	int r = try_reap(p);
	if (r < 0) {
		p->phase = RINGO__PROC_LOST;
		p->lost_err = r;
	}
	if (r != 0)
		return;
	if (!p->kill_on_close) {
		p->phase = RINGO__PROC_DETACHED;
		return;
	}
	send_signal(p, SIGKILL);
	/* SIGKILL ends it promptly unless it is stuck in the kernel (D
	 * state): wait a bounded time (about 5 s), then leave it. */
	const struct timespec ms = {0, 1000000};
	r = try_reap(p);
	for (int i = 0; r == 0 && i < 5000; i++) {
		nanosleep(&ms, NULL);
		r = try_reap(p);
	}
	if (r < 0) {
		p->phase = RINGO__PROC_LOST;
		p->lost_err = r;
	} else if (r == 0) {
		p->phase = RINGO__PROC_DETACHED;
	}
}

/* Loop close, after ringo__ring_drain: no watch is in flight any more
 * (each was cancelled, or never submitted if the loop never ran, and its
 * completion ran in closed mode). Tasks that
 * waited are abandoned by the task layer, so their waiter records are
 * dropped unread. */
static void proc_close(ringo_loop *loop, void *ctx)
{
	RINGO_ASSERT(loop->proc == ctx);
	struct ringo__proc_state *ps = ctx;
	while (!ringo__list_empty(&ps->procs)) {
		ringo_process *p = ringo__container_of(ps->procs.next, ringo_process, link);
		ringo__list_remove(&p->link);
		ringo__list_init(&p->waiters);
		p->busy = 0;
		p->communicating = false;
		p->ps = NULL;
		if (p->wait_ud) {
			/* Still in the kernel (the drain gave up): p->info may yet
			 * be written, so the record is left as it is. */
			continue;
		}
		if (p->phase == RINGO__PROC_RUNNING)
			close_running(p);
		if (p->freed) {
			release_resources(p);
			ringo__free(loop, p, sizeof(*p));
			continue;
		}
		/* The caller's: its streams are freed with it (the stream
		 * layer keeps them valid until then); the pidfd stays while
		 * the child may still run. */
		if (p->phase != RINGO__PROC_DETACHED)
			close_fd(&p->pidfd);
	}
	loop->proc = NULL;
	ringo__free(loop, ps, sizeof(*ps));
}
