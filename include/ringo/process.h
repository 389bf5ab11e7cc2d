/*
 * ringo/process.h — subprocesses: asyncio's create_subprocess_exec and
 * Process (wait, communicate, send_signal, terminate, kill, returncode).
 * Included by <ringo.h>; compiles on its own too.
 *
 * How a child is made: posix_spawn (glibc runs it as clone(CLONE_VM |
 * CLONE_VFORK) + exec, so the loop's ring is never copied into a forked
 * address space, and an exec failure comes back as the spawn call's
 * error). The child starts with every signal at its default disposition
 * and an empty signal mask, whatever the loop blocks or handles (glibc
 * leaves its own two internal signals, 32 and 33, below SIGRTMIN and
 * reserved to it, ignored; a glibc program sets them up again); it gets
 * its three standard fds and nothing else (every fd ringo opens is
 * close-on-exec, and the child closes fds 3 and up before exec, as
 * Python's close_fds).
 *
 * How its exit is seen: a pidfd (pidfd_open) that the loop waits on with
 * IORING_OP_WAITID (Linux 6.7+) where the kernel has it, else
 * IORING_OP_POLL_ADD on the pidfd followed by waitid(P_PIDFD, WNOHANG).
 * The wait is the loop's, not a task's: it runs from spawn until the
 * child is reaped, whether or not a task waits, so a child that ends while
 * the loop runs never stays a zombie, and the exit status is kept for
 * ringo_process_wait / ringo_process_returncode. Signals go through
 * pidfd_send_signal, so a recycled pid is never signalled.
 *
 * ringo must be the only one reaping its children: a waitpid(-1) elsewhere
 * in the program, or SIGCHLD set to SIG_IGN (the kernel then reaps them
 * itself), takes the exit status away (-ECHILD below).
 *
 * Lifetime: ringo_process_free() gives the object back at any time; a
 * child still running then is left running and reaped in the background
 * by the loop when it exits (its status is dropped). At loop close, a
 * child that has exited is reaped; one still running is left running
 * (asyncio leaves it too) unless RINGO_PROCESS_KILL_ON_CLOSE asked for it
 * to be killed and reaped. A child left running at close is no longer
 * watched: when it exits it stays a zombie until the program reaps it
 * (waitpid on ringo_process_pid) or ends.
 *
 * All calls are loop-thread-only (the loop the process was spawned on).
 */
/* ringo.h first: it includes every sub-header, this one included, in
 * dependency order. */
#include "../ringo.h"

#ifndef RINGO_PROCESS_H
#define RINGO_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


#ifdef __cplusplus
extern "C" {
#endif

typedef struct ringo_process ringo_process;

/* Where a standard fd of the child goes (asyncio's stdin=/stdout=/stderr=
 * arguments). Zero is the default: inherit. */
enum ringo_stdio {
	RINGO_STDIO_INHERIT = 0, /* the child shares the caller's fd (asyncio None) */
	RINGO_STDIO_PIPE,        /* a pipe; the caller's end is a ringo_stream
	                          * (ringo_process_stdin/stdout/stderr) */
	RINGO_STDIO_DEVNULL,     /* /dev/null */
	RINGO_STDIO_FD,          /* the fd in in_fd/out_fd/err_fd (duplicated into the
	                          * child; the caller keeps and still owns its fd) */
	RINGO_STDIO_STDOUT,      /* stderr only: wherever stdout goes (asyncio STDOUT) */
};

/* ringo_process_options.flags */
enum {
	/* The child calls setsid() (asyncio's start_new_session=True). */
	RINGO_PROCESS_NEW_SESSION = 1u << 0,
	/* At loop close, a child still running is sent SIGKILL and reaped
	 * (loop close then waits for it, at most about 5 s). Without it the
	 * child is left running (see above). */
	RINGO_PROCESS_KILL_ON_CLOSE = 1u << 1,
	/* Let the child inherit the caller's fds that are not close-on-exec
	 * (Python's close_fds=False). Default: the child has only 0, 1, 2. */
	RINGO_PROCESS_KEEP_FDS = 1u << 2,
};

/* All zero (or a NULL options pointer) means: inherit the environment,
 * the working directory and all three standard fds. */
typedef struct ringo_process_options {
	const char *const *envp; /* NULL-terminated "NAME=value" list; NULL = the
	                          * caller's environ. Copied by the call. */
	const char *cwd;         /* the child's working directory; NULL = the caller's */
	enum ringo_stdio in, out, err; /* the child's fds 0, 1 and 2 */
	int in_fd, out_fd, err_fd;     /* for RINGO_STDIO_FD; ignored otherwise */
	unsigned flags;                /* RINGO_PROCESS_* */
	const ringo_stream_options *stream; /* for the pipes' streams (asyncio's
	                                     * `limit` is read_limit); NULL =
	                                     * defaults; copied */
} ringo_process_options;

/* How the child ended (the parts of waitid's siginfo a program needs). */
struct ringo_process_status {
	int returncode;   /* asyncio's: the exit status (>= 0), or -signo if a signal
	                   * killed it (SIGKILL reads -9) */
	bool exited;      /* it called exit (WIFEXITED): exit_status is valid */
	int exit_status;  /* 0..255 */
	bool signaled;    /* a signal killed it (WIFSIGNALED): term_signal is valid */
	int term_signal;  /* the signal's number */
	bool core_dumped; /* ... and it dumped core */
};

/* Does not suspend (the calling thread waits until the child has called
 * exec, a fraction of a millisecond, and the loop with it: so a missing
 * program is the call's error, not the child's exit code). Start path
 * with argv (argv[0] is the program's name as it sees it; NULL means
 * { path, NULL }). A path without '/' is searched in the caller's PATH
 * (execvp's rules; asyncio create_subprocess_exec), not the PATH in envp.
 * May be called from a task, a callback, or before the loop runs, on the
 * loop's thread.
 *
 * On success *out is the process, owned by the caller until
 * ringo_process_free(); opts and everything it points to may be reused
 * when the call returns.
 * Errors (no child is left behind by any of them):
 *   -EINVAL: NULL loop, path, or out; an in/out/err value out of range;
 *            RINGO_STDIO_STDOUT for in or out; RINGO_STDIO_FD with a
 *            negative fd; unknown flags;
 *   -EBADF: an fd given with RINGO_STDIO_FD is not open;
 *   -ESHUTDOWN: the loop is closed;
 *   -ENOENT, -EACCES, -ENOEXEC, -ENOTDIR, -ELOOP, -ENAMETOOLONG, -E2BIG,
 *            -ETXTBSY, ...: exec failed (as execve(2) says), or -ENOENT /
 *            -ENOTDIR / -EACCES for a cwd that cannot be entered;
 *   -EAGAIN: the process limit (RLIMIT_NPROC) is reached;
 *   -EMFILE, -ENFILE: no fd left for a pipe or the pidfd;
 *   -ENOMEM;
 *   -ENOSYS: neither pidfd_open (Linux 5.3) nor IORING_OP_WAITID (6.7).
 * Valgrind runs glibc's vfork-style child as a fork with its own memory:
 * there posix_spawn cannot see exec fail, so the call succeeds and the
 * child exits with status 127 (what a shell reports for it). */
int ringo_process_spawn(ringo_loop *loop, const char *path, const char *const argv[],
			const ringo_process_options *opts, ringo_process **out);

/* Does not suspend. The child's pid (it stays the same number after the
 * child was reaped, when the kernel may already have given it to another
 * process: use it for logging, signal the process through the calls
 * below). -EINVAL for NULL. */
int ringo_process_pid(const ringo_process *p);

/* Does not suspend. The caller's end of a RINGO_STDIO_PIPE pipe as a
 * stream (asyncio's proc.stdin, a StreamWriter, and proc.stdout /
 * proc.stderr, StreamReaders), or NULL if that fd of the child is not a
 * pipe (or p is NULL). The stream is the process's: use it (write, drain,
 * read, readline, ringo_stream_close to let the child see EOF on its
 * stdin), never ringo_stream_free it; ringo_process_free frees it.
 * ringo_process_communicate closes these streams as it finishes with
 * them (they stay valid for queries: at_eof, stats). A child that writes
 * a lot to a pipe nobody reads blocks once the stream's buffer is full
 * (32 KiB to 2 x read_limit, see stream.h): read it, or use communicate. */
ringo_stream *ringo_process_stdin(const ringo_process *p);
ringo_stream *ringo_process_stdout(const ringo_process *p);
ringo_stream *ringo_process_stderr(const ringo_process *p);

/* May suspend. Wait until the child has exited (at once, without
 * suspending, if it has), then 0 and *returncode (may be NULL) set as
 * ringo_process_returncode gives it. Any number of tasks may wait at once.
 * Cancelled (or a timeout scope expiring): -ECANCELED, and nothing else
 * happens: the child is not signalled and is still watched; its exit is
 * recorded whenever it comes. Errors: -EINVAL (NULL p), -EPERM outside a
 * task, -ECHILD (the exit status was taken by someone else, see above),
 * -ESHUTDOWN (the loop closed while the child was running). */
int ringo_process_wait(ringo_process *p, int *returncode);

/* Does not suspend. 0 and *returncode once the loop has seen the child
 * exit: the exit status (>= 0), or -signo if a signal killed it (asyncio's
 * Process.returncode); -EINPROGRESS while it runs (asyncio's None);
 * -ECHILD, -ESHUTDOWN as ringo_process_wait; -EINVAL for NULL p or
 * returncode. */
int ringo_process_returncode(const ringo_process *p, int *returncode);

/* Does not suspend. The exit in detail: 0 and *status, or the errors of
 * ringo_process_returncode (-EINPROGRESS, -ECHILD, -ESHUTDOWN, -EINVAL). */
int ringo_process_status(const ringo_process *p, struct ringo_process_status *status);

/* May suspend. asyncio's communicate(): write in[0, inlen) to the child's
 * stdin and close it, read its stdout and stderr until end of file, all
 * three at once (a child filling one pipe while ringo writes another
 * never deadlocks), then wait for the child to exit.
 * On success returns 0, and *out / *err (each may be NULL: that output is
 * read and dropped) get what the child wrote, malloc'd, with a '\0' after
 * the last byte (not counted in *outlen / *errlen), owned by the caller
 * (free()). A stream that is not a pipe gives NULL and 0. The child's exit
 * is then in ringo_process_returncode.
 * Stdin: closed even when inlen is 0 (a child reading it sees end of
 * file); what is still buffered in it goes out first, in the background.
 * A child that exits or closes its stdin before reading all of the input
 * is not an error (asyncio ignores BrokenPipeError too); nor is a stdin
 * stream the caller already closed (the input is then not written).
 * Linux before 6.18 (no RWF_NOSIGNAL) raises SIGPIPE for a write to a
 * pipe whose reader is gone: there, a program writing to a child's stdin
 * must ignore SIGPIPE (its children still start with the default).
 * timeout_ns: negative (RINGO_FOREVER) = no limit; > 0 = at most that
 * long (a timeout scope around the call, the same as writing one); 0 =
 * only what can be done without waiting: -ETIMEDOUT unless the child has
 * already exited and every pipe is drained. A timeout scope around the
 * call works as well.
 * Cancelled, or timed out (-ECANCELED / -ETIMEDOUT): the child is not
 * signalled (call ringo_process_kill, then wait or communicate again, as
 * with Python's TimeoutExpired). What was done stays done and nothing is
 * lost: input bytes taken so far went to the stdin stream and are still
 * sent (a later communicate given the same in and inlen writes only the
 * rest); output read so far is kept in the process and handed out, before
 * anything read later, by the next communicate that succeeds; bytes not
 * read yet stay in the stdout/stderr streams. *out and *err are not
 * written. in may be reused as soon as the call returns (the stream holds
 * its own copy of what it took).
 * Errors: -EINVAL (NULL p; outlen NULL with out given, or errlen with err;
 * inlen > 0 without a stdin pipe; in NULL with inlen > 0), -EPERM outside
 * a task, -EBUSY (another task is in communicate on p, or is reading or
 * draining one of its streams), -ENOMEM, -ECHILD / -ESHUTDOWN as
 * ringo_process_wait, or an error of a stream (-ESHUTDOWN for a stdout or
 * stderr stream the caller closed). */
int ringo_process_communicate(ringo_process *p, const void *in, size_t inlen, int64_t timeout_ns,
			      char **out, size_t *outlen, char **err, size_t *errlen);

/* Does not suspend. Send signo to the child (asyncio send_signal) through
 * its pidfd, so never to another process that took the pid. signo 0 only
 * checks that the child can be signalled. 0; -ESRCH once the loop has
 * reaped the child (asyncio: ProcessLookupError) — a child that exited
 * but was not reaped yet takes the signal without effect and gives 0;
 * -EINVAL (NULL p, bad signo); -EPERM (not allowed, kill(2)). */
int ringo_process_send_signal(ringo_process *p, int signo);
/* Does not suspend. send_signal(SIGTERM) and send_signal(SIGKILL). */
int ringo_process_terminate(ringo_process *p);
int ringo_process_kill(ringo_process *p);

/* Does not suspend. Give p back: its streams are freed (aborted: stdin
 * bytes not yet sent are dropped, tasks blocked on them wake with
 * -ESHUTDOWN); if the child
 * has been reaped, or its status lost, everything is freed; if it is
 * still running it is left running (not signalled) and the loop reaps it
 * in the background when it exits, then frees what is left. 0, or -EBUSY
 * (nothing done) while a task is inside ringo_process_wait or
 * ringo_process_communicate on p. NULL is a no-op (0). Call it before
 * ringo_loop_free (after ringo_loop_close is fine): ringo_loop_free
 * returns -EBUSY while a process of the loop is not freed. */
int ringo_process_free(ringo_process *p);

#ifdef __cplusplus
}
#endif

#endif /* RINGO_PROCESS_H */
