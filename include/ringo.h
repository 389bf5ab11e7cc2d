/*
 * ringo — an io_uring runtime with stackful tasks and asyncio's model, in C.
 *
 * This header and the ones it includes (ringo/aio.h, io.h, stream.h,
 * net.h, process.h, thread.h, context.h, compose.h, metrics.h; each may
 * also be included on its own) are the whole contract of libringo;
 * ringo/tls.h is libringo_tls's. The rules below hold for every function;
 * each comment says only what is particular to it.
 *
 *  1. Errors. A function that can fail returns a negative errno (-EINVAL,
 *     -ECANCELED, -ETIMEDOUT, ...), never -1 plus errno; ringo_strerror()
 *     turns one into text. A function that hands back an object does so
 *     through an out-parameter and returns 0 or -errno. Bad input from the
 *     caller is an error return (-EINVAL, ...), never a crash.
 *  2. Out-parameters come last, after every input: ringo_loop_new(opts,
 *     &loop), ringo_spawn(loop, fn, arg, opts, &task), ringo_await(fut,
 *     &result). One documented as optional may be NULL.
 *  3. Time is int64_t nanoseconds on the loop's monotonic clock
 *     (RINGO_USEC/MSEC/SEC build them).
 *     - A duration is relative: timeout_ns (how long to wait for
 *       something) or delay_ns (when to run something).
 *     - An absolute loop-clock time (ringo_loop_time_ns()) appears only in
 *       functions whose name ends in _at, as when_ns.
 *     - timeout_ns: negative means no limit (RINGO_FOREVER names it); 0
 *       means do not wait (succeed only if it can be done at once, else
 *       -ETIMEDOUT, or for wait-style calls return what is done now);
 *       positive waits at most that long.
 *     - delay_ns <= 0 means as soon as possible.
 *  4. One deadline mechanism: the timeout scope (ringo_timeout_enter ...
 *     ringo_timeout_exit, asyncio.timeout()). Every suspension in the task
 *     honours it: at the deadline the task is cancelled, the suspended
 *     call returns -ECANCELED after its usual cancel clean-up, and
 *     ringo_timeout_exit turns that into -ETIMEDOUT. A timeout_ns argument
 *     of a single call is a shorthand for a scope around it
 *     (ringo_io_timeout: for the next I/O operation, cheaper).
 *  5. Names are ringo_<noun>_<verb> (ringo_loop_run_forever,
 *     ringo_task_cancel, ringo_queue_get). Exceptions keep the name users
 *     look for, from asyncio or the system call: ringo_run, ringo_spawn,
 *     ringo_sleep, ringo_await, ringo_gather, ringo_gather_future,
 *     ringo_wait, ringo_wait_for, ringo_shield, ringo_to_thread,
 *     ringo_run_in_executor, ringo_call_soon/later/at,
 *     ringo_call_soon_threadsafe, ringo_spawn_threadsafe, ringo_strerror,
 *     and the I/O operations shaped like system calls (ringo_read,
 *     ringo_write, ..., ringo_close, ringo_send_all, ringo_recv_buf).
 *  6. Teardown verbs, one meaning each:
 *     - _free: destroy an object the caller owns, made by _new or _start
 *       (stopping, closing or joining what it runs first), and free its
 *       memory. NULL is a no-op.
 *     - _destroy: tear down an object whose storage the caller provides,
 *       made by _init; the storage is the caller's again afterwards.
 *     - _release: drop one reference of a reference-counted object
 *       (future, task, tsfuture); the last one frees it. _ref takes one.
 *     - _close: end an object's activity and give back its OS resources
 *       (ring, fds); its memory stays valid until _free or _release,
 *       queries on it keep working, new work is refused (-ESHUTDOWN).
 *     - _stop: ask something running to stop; returns at once.
 *     - _shutdown: stop accepting new work and let work in progress
 *       finish (an executor, a queue; and the shutdown(2) system call).
 *  7. Flags are enums in the header of their object, named
 *     RINGO_<OBJECT>_<FLAG>. In an options struct, zero in any field means
 *     the default, and an options pointer may be NULL for all defaults; a
 *     setting that must be turned off where 0 is the default gets a flag.
 *  8. Each function's comment says what it does, every errno it can
 *     return (errors passed up from a callee or the kernel are named as
 *     such), who owns each pointer and until when, and whether it may
 *     suspend: "May suspend." (the call can switch away from the calling
 *     task; valid only inside a task, -EPERM elsewhere) or "Does not
 *     suspend.". A suspending call also says what a cancel (or a scope's
 *     deadline) leaves behind: what completed, what was not consumed, and
 *     when memory passed in may be reused. tools/check-contracts checks
 *     the errnos a function returns itself against its comment.
 *  9. Threads: a loop belongs to the thread that runs it. A function may
 *     be called only on that thread unless its comment says "Any thread".
 * 10. Every public header compiles on its own, in C11 with POSIX and in
 *     C++11: #include <ringo/io.h> alone works.
 */
#ifndef RINGO_H
#define RINGO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ringo's I/O and thread interfaces use POSIX types (sigset_t, socklen_t):
 * compile with -std=gnu11 (or gnu99, c++), or define _POSIX_C_SOURCE
 * 200809L (or _GNU_SOURCE) before including any header. */
#if !defined(_POSIX_C_SOURCE) && !defined(__cplusplus)
#error "ringo.h needs POSIX declarations: use -std=gnu11 or define _POSIX_C_SOURCE 200809L"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define RINGO_VERSION_MAJOR 0
#define RINGO_VERSION_MINOR 2
#define RINGO_VERSION_PATCH 0

/* "MAJOR.MINOR.PATCH" of the library actually linked (a static string).
 * Any thread. Does not suspend. */
const char *ringo_version(void);
/* True if the linked library is compatible with a program built against
 * major.minor: the same major and at least that minor. Any thread. Does
 * not suspend. */
bool ringo_version_check(int major, int minor);

/* Text for a negative errno as ringo uses it, e.g. -EINPROGRESS reads
 * "future is not done yet". After loop creation failed because io_uring
 * was refused, -EPERM or -ENOSYS (whichever it returned) reads as
 * ringo_setup_diagnosis() explains it, until a ring is set up again.
 * Never NULL; the string is static. Any thread. Does not suspend. */
const char *ringo_strerror(int err);

/* Why this process cannot use io_uring, as one line naming the cause and
 * the fix, or NULL if nothing refuses it. Where io_uring is refused,
 * ringo_loop_new (and so ringo_run, ringo_loop_thread_start) fails with
 * -EPERM or -ENOSYS; this tells which of these it is:
 *  - kernel.io_uring_disabled is 2 (nobody), or 1 and this process has
 *    neither CAP_SYS_ADMIN nor the group kernel.io_uring_group: the sysctl
 *    to change is named;
 *  - a seccomp filter (Seccomp: 2 in /proc/self/status), e.g. Docker's,
 *    Podman's or containerd's default profile: the container options to
 *    allow io_uring_setup/enter/register are named;
 *  - ENOSYS without a filter: a kernel without io_uring (or gVisor).
 * Tries to set up a one-entry ring itself (and closes it). Other set-up
 * failures (-ENOMEM, -EMFILE) give NULL. The string is static. Any
 * thread. Does not suspend. */
const char *ringo_setup_diagnosis(void);

/* Durations in nanoseconds. */
#define RINGO_USEC(x) ((int64_t)(x) * 1000)
#define RINGO_MSEC(x) ((int64_t)(x) * 1000000)
#define RINGO_SEC(x) ((int64_t)(x) * 1000000000)
/* No time limit: pass it as a timeout_ns (any negative timeout_ns means
 * the same); ringo_timeout_expires_at returns it for "no deadline". */
#define RINGO_FOREVER ((int64_t)-1)

typedef struct ringo_loop ringo_loop;
typedef struct ringo_future ringo_future;
typedef struct ringo_task ringo_task;

/* ------------------------------------------------------------------------
 * Memory
 *
 * Every allocation ringo makes for a loop goes through the loop's
 * allocator (tests inject failures through it). Default: malloc/free.
 * ---------------------------------------------------------------------- */
typedef struct ringo_allocator {
	void *(*alloc)(void *ctx, size_t size);
	void *(*realloc)(void *ctx, void *ptr, size_t old_size, size_t new_size);
	void (*free)(void *ctx, void *ptr, size_t size);
	void *ctx;
} ringo_allocator;

/* ------------------------------------------------------------------------
 * The loop
 * ---------------------------------------------------------------------- */

/* ringo_loop_options.flags. */
enum {
	/* Time moves only when the loop has nothing else to do: it then jumps
	 * to the next timer's deadline instead of sleeping. For tests. */
	RINGO_LOOP_VIRTUAL_CLOCK = 1u << 0,
	/* Do not probe SINGLE_ISSUER/DEFER_TASKRUN/COOP_TASKRUN/SUBMIT_ALL:
	 * set the ring up with no flags (what a pre-5.19 kernel gets). */
	RINGO_LOOP_NO_SETUP_FLAGS = 1u << 1,
	/* The scheduling calls (call_soon, call_later/at, spawn,
	 * run_in_executor, loop_post) refuse with -EXDEV when called from a
	 * thread other than the one that runs the loop. Always on in builds
	 * with RINGO_DEBUG defined; off by default otherwise (one compare per
	 * call). */
	RINGO_LOOP_CHECK_THREAD = 1u << 8,
};

/* Zero in any field means its default. */
typedef struct ringo_loop_options {
	unsigned flags;             /* RINGO_LOOP_* */
	unsigned ring_entries;      /* submission queue size, at most 32768; 0 = 256 */
	const ringo_allocator *allocator; /* NULL = malloc; must outlive the loop */
	size_t stack_size;          /* default task stack, 16 KiB .. 1 GiB; 0 = 64 KiB */
	/* Debug aid: a callback or task step that runs longer than this is
	 * reported on stderr with its name (asyncio's slow_callback_duration
	 * in debug mode): "ringo: task 'name' blocked the loop for 31.2 ms".
	 * Callbacks are named by symbol when the program exports it (link
	 * with -rdynamic), else by address. 0 = off (the default: timing every
	 * callback costs a clock read). */
	int64_t slow_callback_ns;
} ringo_loop_options;

/* Fill *opts with the defaults (what zeroed options mean, spelled out).
 * If the environment has RINGO_VIRTUAL_CLOCK=1, the defaults include
 * RINGO_LOOP_VIRTUAL_CLOCK (so a test can run an unchanged program on
 * virtual time). Any thread. Does not suspend. */
void ringo_loop_options_init(ringo_loop_options *opts);

/* Create a loop with its own io_uring. opts may be NULL for defaults (it
 * is read during the call only). Returns 0 and *out, the caller's to
 * ringo_loop_free(); or -EINVAL (NULL out, an unknown flag, ring_entries
 * over 32768, stack_size out of range, an allocator missing a function),
 * -ENOMEM, or io_uring_setup's error (-EPERM: refused by the
 * kernel.io_uring_disabled sysctl or a seccomp filter; -ENOSYS: no
 * io_uring; ringo_strerror() of either then names the cause and the fix,
 * see ringo_setup_diagnosis()), or an eventfd's (-EMFILE, ...). *out is
 * NULL on error. Any thread (the loop then belongs to the thread that
 * first runs it). Does not suspend. */
int ringo_loop_new(const ringo_loop_options *opts, ringo_loop **out);

/* Run until ringo_loop_stop(). Returns 0 once stopped, or at once:
 * -EINVAL (NULL loop), -ESHUTDOWN (closed), -EBUSY (this loop, or another
 * one, is already running on this thread), -EPERM (the loop first ran on
 * another thread and stays there: a loop never changes threads), or the
 * error of enabling the ring on the first run (io_uring_register). Does
 * not suspend: it runs the loop on the calling thread, so it is not for
 * tasks or callbacks (their loop is running: -EBUSY). */
int ringo_loop_run_forever(ringo_loop *loop);

/* Run until fut is done and return its outcome as ringo_future_result()
 * would (storing the value in *result, if result is not NULL, when it is
 * a result). The caller keeps its reference to fut. Returns that outcome,
 * or -EINVAL (NULL loop or fut, fut of another loop), -ESHUTDOWN (loop
 * closed), -EBUSY (a loop is already running on this thread), -EINTR (the
 * loop was stopped before fut was done; fut is left as it is), -ENOMEM,
 * or run_forever's errors. Does not suspend (runs the loop: not from a
 * task or callback, -EBUSY). */
int ringo_loop_run_until_complete(ringo_loop *loop, ringo_future *fut, void **result);

/* Ask the loop to stop after the current batch of callbacks (asyncio: the
 * callbacks those callbacks schedule run on the next run). If the loop is
 * not running, the next run does one iteration and returns. Returns 0,
 * -EINVAL (NULL), -ESHUTDOWN (closed). Does not suspend; callable from
 * callbacks and tasks (from another thread: post it with
 * ringo_call_soon_threadsafe). */
int ringo_loop_stop(ringo_loop *loop);

/* True while run_forever (or run_until_complete) runs it; false for NULL.
 * Does not suspend. */
bool ringo_loop_is_running(const ringo_loop *loop);
/* True once ringo_loop_close() has run; false for NULL. Does not
 * suspend. */
bool ringo_loop_is_closed(const ringo_loop *loop);

/* Close the loop: pending callbacks and timers are dropped (their handles
 * read as already done), unfinished tasks are abandoned without running
 * further and end cancelled ("event loop closed"), kernel operations in
 * flight are cancelled and waited for, worker jobs are waited for, the
 * ring is torn down. Idempotent. Returns 0, -EINVAL (NULL), or -EBUSY
 * while it is running (nothing done). Futures and tasks still referenced
 * by the caller stay valid objects until released: they can still be
 * read and completed, but no callback of theirs runs any more. Does not
 * suspend (it may block the thread while the kernel finishes cancelled
 * operations). */
int ringo_loop_close(ringo_loop *loop);

/* Close (if needed) and free the loop. NULL is a no-op (0). -EBUSY (and
 * nothing freed) while running, or while futures or tasks of this loop
 * are still referenced (release them first; the loop is then closed but
 * not freed: call ringo_loop_free again). After 0, the loop and handles of
 * this loop are invalid. Does not suspend. */
int ringo_loop_free(ringo_loop *loop);

/* The loop's monotonic clock, in seconds (asyncio loop.time()). On a
 * virtual-clock loop this is the virtual time, starting at 0. 0 for NULL.
 * Any thread for a loop on the real clock (a virtual clock is read on
 * the loop's thread only). Does not suspend. */
double ringo_loop_time(const ringo_loop *loop);
/* The same in nanoseconds: the clock every when_ns refers to. 0 for
 * NULL. Threads as ringo_loop_time. Does not suspend. */
int64_t ringo_loop_time_ns(const ringo_loop *loop);

/* The loop running on this thread, or NULL (asyncio get_running_loop).
 * Any thread. Does not suspend. */
ringo_loop *ringo_loop_current(void);

/* IORING_SETUP_* flags the ring was created with (after probing); 0 for
 * NULL. Does not suspend. */
unsigned ringo_loop_ring_flags(const ringo_loop *loop);

/* ------------------------------------------------------------------------
 * Callbacks and timers
 *
 * A handle names one scheduled callback. It is a small value, not an
 * allocation: copy it freely, never free it. It stays safe to use after
 * the callback ran or was cancelled (it then simply no longer matches),
 * until the loop is freed.
 * ---------------------------------------------------------------------- */
typedef void ringo_callback_fn(void *arg);

typedef struct ringo_handle {
	ringo_loop *loop;
	uint32_t index;
	uint32_t generation;
} ringo_handle;

/* Schedule fn(arg) to run on the next iteration, after the callbacks
 * already scheduled (FIFO). Callbacks scheduled while a batch runs go to
 * the next batch. arg is passed through untouched. handle may be NULL;
 * else *handle names the callback. Returns 0, -EINVAL (NULL loop/fn),
 * -ESHUTDOWN (loop closed), -ENOMEM, -EXDEV (RINGO_LOOP_CHECK_THREAD and
 * called from another thread than the loop's). Does not suspend. */
int ringo_call_soon(ringo_loop *loop, ringo_callback_fn *fn, void *arg, ringo_handle *handle);

/* Schedule fn(arg) once delay_ns have passed (<= 0: as soon as possible,
 * on the next iteration; a negative delay is ordered as a time already
 * passed, as asyncio: call_later(-1) runs after call_later(-2)).
 * Callbacks already queued with call_soon run before timers that fall
 * due; equal times run in registration order. Errors as call_soon
 * (-EINVAL, -ESHUTDOWN, -ENOMEM, -EXDEV). Does not suspend. */
int ringo_call_later(ringo_loop *loop, int64_t delay_ns, ringo_callback_fn *fn, void *arg,
		     ringo_handle *handle);

/* As call_later, at the loop time when_ns (ringo_loop_time_ns(); a time
 * already passed runs on the next iteration). Errors as call_soon
 * (-EINVAL, -ESHUTDOWN, -ENOMEM, -EXDEV). Does not suspend. */
int ringo_call_at(ringo_loop *loop, int64_t when_ns, ringo_callback_fn *fn, void *arg,
		  ringo_handle *handle);

/* Cancel a scheduled callback. Returns 0 if it was pending and now will not
 * run; -EALREADY if it already ran, was already cancelled (a second cancel
 * changes nothing) or was dropped by close; -EINVAL for a handle that
 * never was one (zeroed, or naming no record of its loop). Does not
 * suspend. */
int ringo_handle_cancel(ringo_handle handle);

/* True while the callback is scheduled and not cancelled. Does not
 * suspend. */
bool ringo_handle_pending(ringo_handle handle);

/* ------------------------------------------------------------------------
 * Futures
 *
 * A future is reference counted. ringo_future_new() gives the caller one
 * reference; ringo_future_release() drops it. The loop takes its own
 * references while it needs the future (scheduled done callbacks, a task
 * waiting on it), so releasing early is always safe. A future belongs to
 * the loop it was created on and must not outlive ringo_loop_free(). None
 * of these calls suspends.
 *
 * Outcomes: pending -> exactly one of result (a void *), error (a
 * negative errno) or cancelled (with an optional message).
 * ---------------------------------------------------------------------- */
typedef void ringo_done_fn(ringo_future *fut, void *arg);

/* Create a pending future on loop; *out is the caller's reference (NULL
 * on error). 0, -EINVAL (NULL loop or out), -ESHUTDOWN (loop closed),
 * -ENOMEM. Does not suspend. */
int ringo_future_new(ringo_loop *loop, ringo_future **out);

/* Take and drop a reference. Release frees at the last reference. NULL
 * is ignored. Releasing more references than were taken is undefined (the
 * future is freed under its other holders; a use may abort). Does not
 * suspend. */
void ringo_future_ref(ringo_future *fut);
void ringo_future_release(ringo_future *fut);

/* Mark done with a result (value is stored by pointer, never touched).
 * 0, -EINVAL (NULL), -EPERM for a task's future (a task's outcome is its
 * body's, as asyncio's Task refuses set_result; the task is unaffected)
 * or for the future of a run_in_executor job while it is pending, or
 * -EALREADY if already done (the first outcome stays). Schedules the done
 * callbacks with call_soon. Does not suspend. */
int ringo_future_set_result(ringo_future *fut, void *value);

/* Mark done with an error: err must be negative and neither -EINPROGRESS
 * nor -ECANCELED (those mean "pending" and "cancelled"; use
 * ringo_future_cancel) else -EINVAL. -EPERM and -EALREADY as set_result.
 * Does not suspend. */
int ringo_future_set_error(ringo_future *fut, int err);

/* Cancel. For a plain future: true if it was pending and is now
 * cancelled, false if it was already done (or NULL). For a task's future
 * this is ringo_task_cancel(): true if cancellation was requested (the
 * task was not done; whether it ends cancelled is up to its body). For a
 * run_in_executor future: see there (true, and cancelled only if its
 * function never runs). msg (may be NULL) is kept by pointer: pass a
 * string that outlives the future (a literal). Does not suspend. */
bool ringo_future_cancel(ringo_future *fut, const char *msg);

/* True once done (any outcome); false for NULL. Does not suspend. */
bool ringo_future_done(const ringo_future *fut);
/* True if the outcome is "cancelled"; false for NULL. Does not suspend. */
bool ringo_future_cancelled(const ringo_future *fut);

/* The outcome: 0 and *value (if value is not NULL) for a result;
 * -EINPROGRESS while pending; -ECANCELED if cancelled; the error given to
 * set_error if it failed; -EINVAL for NULL. Does not suspend. */
int ringo_future_result(const ringo_future *fut, void **value);

/* asyncio's exception(): 0 if it has a result, else as ringo_future_result
 * (-EINPROGRESS, -ECANCELED, the error, -EINVAL for NULL). Does not
 * suspend. */
int ringo_future_error(const ringo_future *fut);

/* The message given to cancel (the pointer passed to it), or NULL: not
 * cancelled, no message, or NULL fut. Does not suspend. */
const char *ringo_future_cancel_message(const ringo_future *fut);

/* Run fn(fut, arg) once the future is done, always through call_soon, even
 * if it is done already. Callbacks run in the order added. 0, -EINVAL
 * (NULL fut or fn), -ESHUTDOWN (loop closed), -ENOMEM. Does not suspend. */
int ringo_future_add_done_callback(ringo_future *fut, ringo_done_fn *fn, void *arg);

/* Remove every not-yet-scheduled done callback equal to (fn, arg); returns
 * how many were removed (0 if none), or -EINVAL (NULL fut or fn). Once
 * the future is done its callbacks are scheduled: they run regardless.
 * Does not suspend. */
int ringo_future_remove_done_callback(ringo_future *fut, ringo_done_fn *fn, void *arg);

/* The loop the future belongs to (NULL for NULL). Does not suspend. */
ringo_loop *ringo_future_loop(const ringo_future *fut);

/* Describe the future as asyncio's repr does, into buf (len bytes, always
 * terminated if len > 0): "<Future pending>", "<Future pending
 * cb=[wakeup('main')]>", "<Future finished result=0x...>", "<Future
 * finished error=-5 (...)>", "<Future cancelled>"; tasks read "<Task
 * 'name' ...>". Returns buf. Does not suspend. */
char *ringo_future_repr(const ringo_future *fut, char *buf, size_t len);

/* ------------------------------------------------------------------------
 * Tasks
 *
 * A task runs a function on its own stack; any call inside it that may
 * suspend (ringo_sleep, ringo_await, I/O) switches to the loop and only
 * this task waits. A task is a future: ringo_task_future() gives the view,
 * and its outcome is fn's.
 *
 * Lifetime: the loop keeps every unfinished task alive. ringo_spawn()'s
 * *out (if not NULL) is one more reference for the caller, dropped with
 * ringo_task_release(); a task nobody holds is freed when it finishes.
 * The task's record lives at the top of its stack, so a finished task
 * still referenced keeps its stack until released.
 * ---------------------------------------------------------------------- */

/* The task body. Return 0 and set *result (it starts NULL) to finish with
 * a result, or return a negative errno to fail; returning -ECANCELED after
 * a cancellation marks the task cancelled. */
typedef int ringo_task_fn(void *arg, void **result);

/* Task stack sizes. A guarded stack (RINGO_TASK_STACK_MIN and up) has an
 * unmapped page below it: an overflow faults at once and is reported by
 * the task's name. A compact stack (RINGO_TASK_COMPACT_MIN up to, not
 * including, RINGO_TASK_STACK_MIN) is the opt-in class for a great many
 * tasks that only wait: such stacks are packed side by side with no page
 * between them (rounded up to 64 bytes; a 1 KiB task holds a quarter of a
 * page instead of a page). The task's record takes 320 bytes of it, and
 * a sleep or an await 200 to 400 bytes of frames (x86-64, -O2; ringo
 * runs the allocator, spawns and overflow reports of a compact task on
 * the loop thread's idle stack instead), so a 1 KiB task has room for a
 * small body that calls ringo and not much else: no printf, no deep
 * library calls, no stream or TLS calls (8 KiB holds the socket and
 * stream calls). An overflow is caught when the task next suspends or
 * finishes, by a canary word at the stack's bottom and the stack
 * pointer's depth, or at once if it reaches the slab's one guard page,
 * and ends the process with "stack overflow in task '<name>'"; by then it
 * may have overwritten the neighbouring stack's top. A signal handler
 * runs on the interrupted stack unless installed with SA_ONSTACK, and its
 * frame (up to 3 KiB with AVX-512 state) does not fit a small compact
 * stack: install handlers with SA_ONSTACK (ringo gives each thread that
 * runs a loop an alternate signal stack), or take signals with
 * ringo_signal_wait. Under ASan or TSan a compact stack is built 8 times
 * larger (at least RINGO_TASK_STACK_MIN), still packed. */
#define RINGO_TASK_COMPACT_MIN ((size_t)1024)
#define RINGO_TASK_STACK_MIN   ((size_t)16 * 1024)
#define RINGO_TASK_STACK_MAX   ((size_t)1 << 30)

/* Zero in any field means its default. */
typedef struct ringo_task_options {
	const char *name;   /* copied (truncated to 31 bytes); NULL = "task-N" */
	size_t stack_size;  /* RINGO_TASK_STACK_MIN (16 KiB) .. 1 GiB, guarded;
			     * RINGO_TASK_COMPACT_MIN (1 KiB) .. 16 KiB - 1,
			     * compact (see above); 0 = the loop's default */
} ringo_task_options;

enum ringo_task_state {
	RINGO_TASK_PENDING,   /* spawned, first step not run yet */
	RINGO_TASK_RUNNING,   /* the current task */
	RINGO_TASK_SUSPENDED, /* waiting (sleep, future, I/O) */
	RINGO_TASK_READY,     /* woken, waiting for its turn */
	RINGO_TASK_DONE,      /* finished: result, error or cancelled */
};

/* Spawn fn(arg) as a task on loop; it starts on a later iteration (FIFO
 * with call_soon). arg belongs to the task (ringo never touches it).
 * opts may be NULL (read during the call only). out may be NULL (fire and
 * forget); else *out is the caller's reference (NULL on error). 0,
 * -EINVAL (NULL loop or fn; stack size outside 1 KiB .. 1 GiB),
 * -ESHUTDOWN (loop closed), -ENOMEM (no memory for the stack or the
 * scheduler), -ENOSPC (a fifth distinct stack size on this loop: stacks
 * come from at most four pools, one per size), -EXDEV
 * (RINGO_LOOP_CHECK_THREAD and called from another thread).
 * The task starts with a copy of the current context (ringo/context.h):
 * the calling task's; none when called from a callback. Does not suspend. */
int ringo_spawn(ringo_loop *loop, ringo_task_fn *fn, void *arg, const ringo_task_options *opts,
		ringo_task **out);

/* The task seen as a future (same object, no new reference; NULL for
 * NULL). Every ringo_future_* call works on it, except that set_result and
 * set_error refuse it (-EPERM) and cancel means ringo_task_cancel. Does
 * not suspend. */
ringo_future *ringo_task_future(ringo_task *task);
/* The task behind a future, or NULL if fut is a plain future (or NULL).
 * No new reference. Does not suspend. */
ringo_task *ringo_future_task(ringo_future *fut);

/* Take and drop a reference (as for futures: NULL ignored, releasing more
 * than was taken is undefined). Does not suspend. */
void ringo_task_ref(ringo_task *task);
void ringo_task_release(ringo_task *task);

/* Request cancellation (asyncio Task.cancel). Returns true if it was
 * requested (the task is not done; it may still not end cancelled: its
 * body decides), false if the task is done (or NULL). It counts one more
 * request (ringo_task_cancelling) and keeps msg (by pointer, as
 * ringo_future_cancel) as the message the task's future reports if it
 * ends cancelled. Delivery:
 *  - a task suspended in a wait is interrupted now, as that call's
 *    comment says (its call returns -ECANCELED; ringo_await forwards the
 *    cancellation to the awaited future; an I/O operation is cancelled in
 *    the kernel and the task resumes on its final completion);
 *  - a task that is running, or ready to run, gets -ECANCELED from its
 *    next suspending call (ringo_await forwards it to what it awaits), or
 *    from the call it was woken in if that result is not one that must be
 *    kept (see each call); a body that returns with a cancellation still
 *    pending ends cancelled (asyncio's rule);
 *  - a task cancelled before its first step never runs its body.
 * Cancellations forwarded from task to task (await, gather, group) are
 * delivered without recursion: chains of any depth are fine, and a task
 * is interrupted at most once per call (further requests made meanwhile,
 * e.g. by tasks awaiting each other in a cycle, are counted and left
 * pending). Does not suspend; callable from callbacks. */
bool ringo_task_cancel(ringo_task *task, const char *msg);

/* Number of cancellation requests not taken back (asyncio cancelling()),
 * -EINVAL for NULL. Does not suspend. */
int ringo_task_cancelling(const ringo_task *task);
/* Decrement that count (not below 0) and return the new value (asyncio
 * uncancel()); at 0 a cancellation not yet delivered is dropped. -EINVAL
 * for NULL. Does not suspend. */
int ringo_task_uncancel(ringo_task *task);

/* The task's name (NULL for NULL). A default name "task-N" is written
 * into the task on first use (formatting it at every spawn would cost a
 * tenth of a spawn), hence the non-const task. The string lives as long
 * as the task and changes with ringo_task_set_name. Does not suspend. */
const char *ringo_task_name(ringo_task *task);
/* Copy name (truncated to 31 bytes) as the task's name; name is read
 * during the call only. 0, -EINVAL (NULL task or name). Does not
 * suspend. */
int ringo_task_set_name(ringo_task *task, const char *name);
/* The task's state; RINGO_TASK_DONE for NULL. Does not suspend. */
enum ringo_task_state ringo_task_state(const ringo_task *task);
/* "pending", "running", ... ("unknown" for other values); static. Any
 * thread. Does not suspend. */
const char *ringo_task_state_name(enum ringo_task_state state);

/* The task running on this thread, or NULL outside any task (asyncio
 * current_task). No new reference. Any thread. Does not suspend. */
ringo_task *ringo_task_current(void);

/* Fill tasks[0..cap) with the loop's not-done tasks in spawn order (no
 * references taken: valid until they finish); returns how many exist (may
 * exceed cap), or -EINVAL (NULL loop, or NULL tasks with cap > 0).
 * asyncio's all_tasks. Does not suspend. */
int ringo_loop_tasks(ringo_loop *loop, ringo_task **tasks, size_t cap);

/* Print every live task to out: name, state, and where it is suspended.
 * NULL arguments print nothing. Does not suspend. */
void ringo_loop_dump_tasks(ringo_loop *loop, FILE *out);

/* May suspend. Sleep delay_ns (<= 0 yields exactly one loop iteration,
 * as asyncio.sleep(0)). 0 when the time has passed; -ECANCELED if the
 * task was cancelled (while sleeping, or before: then it returns at once
 * without waiting); -EPERM outside a task; -ENOMEM (no timer could be
 * scheduled). A cancelled sleep leaves nothing behind (its timer is
 * cancelled). */
int ringo_sleep(int64_t delay_ns);

/* May suspend. Wait for fut to be done and return its outcome as
 * ringo_future_result() (*result is written only on 0; result may be
 * NULL). The caller keeps its reference; ringo_await takes its own while
 * waiting, so fut may be released by others meanwhile. A done future
 * returns its outcome at once without suspending (a pending cancellation
 * then waits for the next suspension point). Otherwise it returns only
 * once fut is done:
 *  - cancelling the waiting task cancels fut, as asyncio does: a plain
 *    future is cancelled at once; a task is asked to cancel and waited
 *    for, and its outcome is returned when it ends (a result, if it
 *    swallowed the cancellation). The same happens when the task already
 *    had a cancellation pending when it called ringo_await (asyncio's
 *    _must_cancel, bpo-34872). Wrap fut with ringo_shield to protect it;
 *  - a cancellation that arrives after fut completed but before the
 *    waiting task ran returns -ECANCELED; fut keeps its outcome (read it
 *    with ringo_future_result).
 * When -ECANCELED is fut's own outcome, the calling task takes fut's
 * cancel message: if it ends cancelled by returning that -ECANCELED, its
 * future reports the message (asyncio's CancelledError carries it).
 * Errors: -EINVAL (NULL fut, or a future of another loop), -EPERM outside
 * a task, -EDEADLK if a task awaits itself, -ENOMEM (could not register
 * the wait; nothing waited); else fut's own error. */
int ringo_await(ringo_future *fut, void **result);

/* asyncio.run(): create a loop (opts may be NULL), run main(arg) as a task
 * named "main" until it finishes, cancel and wait for every task left,
 * close and free the loop. Returns main's outcome (its error, -ECANCELED)
 * and *result gets its value (result may be NULL); or -EINVAL (NULL
 * main), ringo_spawn's errors, or ringo_loop_new's error if the loop
 * cannot be created (where io_uring is refused, ringo_strerror() of it
 * says why and what to change). Any thread without a running loop (the
 * loop it makes runs on the calling thread). Does not suspend (not
 * callable from a task: -EBUSY, the thread already runs a loop). */
int ringo_run(ringo_task_fn *main, void *arg, const ringo_loop_options *opts, void **result);

#include "ringo/aio.h"
#include "ringo/io.h"
#include "ringo/net.h"
#include "ringo/stream.h"
#include "ringo/process.h"
#include "ringo/net.h"
#include "ringo/thread.h"
#include "ringo/context.h"
#include "ringo/compose.h"
#include "ringo/metrics.h"
/* ringo/tls.h is not among them: it is the header of a separate library
 * (libringo_tls, pkg-config ringo-tls, on OpenSSL 3); include it where
 * that library is linked. */

#ifdef __cplusplus
}
#endif

#endif /* RINGO_H */
