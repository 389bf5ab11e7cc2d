/*
 * ringo — an io_uring runtime with stackful tasks and asyncio's model, in C.
 *
 * This header is the whole contract. Conventions used everywhere:
 *
 *  - Errors: functions that can fail return a negative errno (-EINVAL,
 *    -ECANCELED, -ETIMEDOUT, ...), never -1 plus errno. ringo_strerror()
 *    turns one into text. Functions that hand back an object do so through
 *    an out-parameter and return 0 or -errno.
 *  - Threads: a loop belongs to the thread that runs it. Every function here
 *    must be called from that thread unless its comment says otherwise.
 *  - Time: nanoseconds as int64_t on the loop's monotonic clock
 *    (RINGO_MSEC(), RINGO_SEC() help); ringo_loop_time() also gives seconds
 *    as a double, like asyncio's loop.time().
 *  - "May suspend": the call can switch away from the calling task; it is
 *    only valid inside a task and returns -EPERM anywhere else.
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

/* "MAJOR.MINOR.PATCH" of the library actually linked. */
const char *ringo_version(void);
/* True if the linked library is at least major.minor (same major). */
bool ringo_version_check(int major, int minor);

/* Text for a negative errno as ringo uses it, e.g. -EINPROGRESS reads
 * "future is not done yet". After loop creation failed because io_uring
 * was refused, -EPERM or -ENOSYS (whichever it returned) reads as
 * ringo_setup_diagnosis() explains it, until a ring is set up again.
 * Never NULL; the string is static. */
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
 * Tries to set up a one-entry ring itself (and closes it). Any thread; the
 * string is static. Other set-up failures (-ENOMEM, -EMFILE) give NULL. */
const char *ringo_setup_diagnosis(void);

#define RINGO_USEC(x) ((int64_t)(x) * 1000)
#define RINGO_MSEC(x) ((int64_t)(x) * 1000000)
#define RINGO_SEC(x) ((int64_t)(x) * 1000000000)
/* No time limit: pass as a timeout_ns (any negative timeout_ns means
 * the same), or read back from ringo_timeout_expires_at. */
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
enum {
	/* Time moves only when the loop has nothing else to do: it then jumps
	 * to the next timer's deadline instead of sleeping. For tests. */
	RINGO_LOOP_VIRTUAL_CLOCK = 1u << 0,
	/* Do not probe SINGLE_ISSUER/DEFER_TASKRUN/COOP_TASKRUN/SUBMIT_ALL:
	 * set the ring up with no flags (what a pre-5.19 kernel gets). */
	RINGO_LOOP_NO_SETUP_FLAGS = 1u << 1,
	/* The scheduling calls (call_soon, call_later/at, spawn, ...) refuse
	 * with -EXDEV when called from a thread other than the one that runs
	 * the loop. Always on in builds with RINGO_DEBUG defined; off by
	 * default otherwise (one compare per call). */
	RINGO_LOOP_CHECK_THREAD = 1u << 8,
};

typedef struct ringo_loop_options {
	unsigned flags;             /* RINGO_LOOP_* */
	unsigned ring_entries;      /* submission queue size; 0 = 256 */
	const ringo_allocator *allocator; /* NULL = malloc; must outlive the loop */
	size_t stack_size;          /* default task stack, bytes; 0 = 64 KiB */
	/* Debug aid: a callback or task step that runs longer than this is
	 * reported on stderr with its name (asyncio's slow_callback_duration
	 * in debug mode): "ringo: task 'name' blocked the loop for 31.2 ms".
	 * Callbacks are named by symbol when the program exports it (link
	 * with -rdynamic), else by address. 0 = off (the default: timing every
	 * callback costs a clock read). */
	int64_t slow_callback_ns;
} ringo_loop_options;

/* Fill *opts with the defaults. If the environment has
 * RINGO_VIRTUAL_CLOCK=1, the defaults include RINGO_LOOP_VIRTUAL_CLOCK (so
 * a test can run an unchanged program on virtual time). */
void ringo_loop_options_init(ringo_loop_options *opts);

/* Create a loop with its own io_uring. opts may be NULL for defaults.
 * Returns 0 and *out, or -EINVAL (bad option), -ENOMEM, or the error of
 * io_uring_setup (-EPERM: refused by the kernel.io_uring_disabled sysctl
 * or a seccomp filter; -ENOSYS: no io_uring; ringo_strerror() of either
 * then names the cause and the fix, see ringo_setup_diagnosis()). The
 * caller owns the loop and must ringo_loop_free() it. */
int ringo_loop_new(const ringo_loop_options *opts, ringo_loop **out);

/* Run until ringo_loop_stop(). Returns 0 once stopped, or at once:
 * -EINVAL (NULL loop), -ESHUTDOWN (closed), -EBUSY (this loop, or another
 * one, is already running on this thread), -EPERM (the loop first ran on
 * another thread and stays there: a loop never changes threads), or the
 * error of enabling the ring on the first run (io_uring_register). */
int ringo_loop_run_forever(ringo_loop *loop);

/* Run until fut is done and return its outcome as ringo_future_result()
 * would (storing the value in *result if result is not NULL and it is a
 * result). The caller keeps its reference to fut. Returns that outcome,
 * or -EINVAL (NULL loop or fut, fut of another loop), -EINTR (the loop was
 * stopped before fut was done; fut is left as it is), -ENOMEM, or
 * run_forever's errors. */
int ringo_loop_run_until_complete(ringo_loop *loop, ringo_future *fut, void **result);

/* Ask the loop to stop after the current batch of callbacks (asyncio: the
 * callbacks those callbacks schedule run on the next run). If the loop is
 * not running, the next run does one iteration and returns. Returns 0,
 * -EINVAL (NULL), -ESHUTDOWN (closed). */
int ringo_loop_stop(ringo_loop *loop);

bool ringo_loop_is_running(const ringo_loop *loop);
bool ringo_loop_is_closed(const ringo_loop *loop);

/* Close the loop: pending callbacks and timers are dropped (their handles
 * read as already done), unfinished tasks are abandoned without running
 * further and end cancelled ("event loop closed"), the ring is torn down.
 * Idempotent. Returns 0, -EINVAL (NULL), or -EBUSY while it is running.
 * Futures and tasks still referenced by the caller stay valid objects
 * until released: they can still be read and completed, but no callback
 * of theirs runs any more. */
int ringo_loop_close(ringo_loop *loop);

/* Close (if needed) and free the loop. NULL is ignored (0). -EBUSY (and
 * nothing freed) while running, or while futures or tasks of this loop
 * are still referenced (release them first; the loop is then closed but
 * not freed). After this, handles of this loop are invalid. */
int ringo_loop_free(ringo_loop *loop);

/* The loop's monotonic clock: seconds (asyncio loop.time()) and ns. On a
 * virtual-clock loop this is the virtual time, starting at 0. */
double ringo_loop_time(const ringo_loop *loop);
int64_t ringo_loop_time_ns(const ringo_loop *loop);

/* The loop running on this thread, or NULL (asyncio get_running_loop). */
ringo_loop *ringo_loop_current(void);

/* IORING_SETUP_* flags the ring was created with (after probing). */
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
 * the next batch. handle may be NULL. Returns 0, -EINVAL (NULL loop/fn),
 * -ESHUTDOWN (loop closed), -ENOMEM, -EXDEV (RINGO_LOOP_CHECK_THREAD and
 * called from another thread than the loop's). Does not suspend. */
int ringo_call_soon(ringo_loop *loop, ringo_callback_fn *fn, void *arg, ringo_handle *handle);

/* Schedule fn(arg) once delay_ns have passed. A negative delay is a
 * deadline already passed, ordered as such (asyncio: call_later(-1) runs
 * after call_later(-2)); it runs on the next iteration. Callbacks already
 * queued with call_soon run before timers that fall due; equal deadlines
 * run in registration order. Errors as call_soon. */
int ringo_call_later(ringo_loop *loop, int64_t delay_ns, ringo_callback_fn *fn, void *arg,
		     ringo_handle *handle);

/* As call_later, at an absolute ringo_loop_time_ns() value. */
int ringo_call_at(ringo_loop *loop, int64_t when_ns, ringo_callback_fn *fn, void *arg,
		  ringo_handle *handle);

/* Cancel a scheduled callback. Returns 0 if it was pending and now will not
 * run; -EALREADY if it already ran, was already cancelled (a second cancel
 * changes nothing) or was dropped by close; -EINVAL for a handle that
 * never was one (zeroed, or naming no record of its loop). */
int ringo_handle_cancel(ringo_handle handle);

/* True while the callback is scheduled and not cancelled. */
bool ringo_handle_pending(ringo_handle handle);

/* ------------------------------------------------------------------------
 * Futures
 *
 * A future is reference counted. ringo_future_new() gives the caller one
 * reference; ringo_future_release() drops it. The loop takes its own
 * references while it needs the future (scheduled done callbacks, a task
 * waiting on it), so releasing early is always safe. A future belongs to
 * the loop it was created on and must not outlive ringo_loop_free().
 *
 * Outcomes: pending -> exactly one of result (a void *), error (a
 * negative errno) or cancelled (with an optional message).
 * ---------------------------------------------------------------------- */
typedef void ringo_done_fn(ringo_future *fut, void *arg);

/* Create a pending future on loop; *out is the caller's reference (NULL
 * on error). 0, -EINVAL (NULL loop or out), -ESHUTDOWN, -ENOMEM. */
int ringo_future_new(ringo_loop *loop, ringo_future **out);

/* Take and drop a reference. Release frees at the last reference. NULL
 * is ignored. Releasing more references than were taken is undefined (the
 * future is freed under its other holders; a use may abort). */
void ringo_future_ref(ringo_future *fut);
void ringo_future_release(ringo_future *fut);

/* Mark done with a result. 0, -EINVAL (NULL), -EPERM for a task's future
 * (a task's outcome is its body's, as asyncio's Task refuses set_result;
 * the task is unaffected), or -EALREADY if already done (the first outcome
 * stays). Schedules the done callbacks with call_soon. */
int ringo_future_set_result(ringo_future *fut, void *value);

/* Mark done with an error: err must be negative and neither -EINPROGRESS
 * nor -ECANCELED (those mean "pending" and "cancelled"; use
 * ringo_future_cancel) else -EINVAL. -EPERM and -EALREADY as set_result. */
int ringo_future_set_error(ringo_future *fut, int err);

/* Cancel. For a plain future: true if it was pending and is now
 * cancelled, false if it was already done (or NULL). For a task's future
 * this is ringo_task_cancel(): true if cancellation was requested (the
 * task was not done; whether it ends cancelled is up to its body). msg
 * (may be NULL) is kept by pointer: pass a string that outlives the
 * future (a literal). */
bool ringo_future_cancel(ringo_future *fut, const char *msg);

bool ringo_future_done(const ringo_future *fut);
bool ringo_future_cancelled(const ringo_future *fut);

/* The outcome: 0 and *value (if value is not NULL) for a result;
 * -EINPROGRESS while pending; -ECANCELED if cancelled; the error given to
 * set_error if it failed; -EINVAL for NULL. */
int ringo_future_result(const ringo_future *fut, void **value);

/* asyncio's exception(): 0 if it has a result, else as ringo_future_result. */
int ringo_future_error(const ringo_future *fut);

/* The message given to cancel, or NULL. */
const char *ringo_future_cancel_message(const ringo_future *fut);

/* Run fn(fut, arg) once the future is done, always through call_soon, even
 * if it is done already. Callbacks run in the order added. 0, -EINVAL
 * (NULL fut or fn), -ESHUTDOWN (loop closed), -ENOMEM. */
int ringo_future_add_done_callback(ringo_future *fut, ringo_done_fn *fn, void *arg);

/* Remove every not-yet-scheduled done callback equal to (fn, arg); returns
 * how many were removed (0 if none), or -EINVAL (NULL fut or fn). Once
 * the future is done its callbacks are scheduled: they run regardless. */
int ringo_future_remove_done_callback(ringo_future *fut, ringo_done_fn *fn, void *arg);

/* The loop the future belongs to. */
ringo_loop *ringo_future_loop(const ringo_future *fut);

/* Describe the future as asyncio's repr does, into buf (always
 * terminated): "<Future pending>", "<Future pending cb=[wakeup('main')]>",
 * "<Future finished result=0x...>", "<Future finished error=-5 (...)>",
 * "<Future cancelled>"; tasks read "<Task 'name' ...>". Returns buf. */
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

typedef struct ringo_task_options {
	const char *name;   /* copied (truncated to 31 bytes); NULL = "task-N" */
	size_t stack_size;  /* 0 = the loop's default */
} ringo_task_options;

enum ringo_task_state {
	RINGO_TASK_PENDING,   /* spawned, first step not run yet */
	RINGO_TASK_RUNNING,   /* the current task */
	RINGO_TASK_SUSPENDED, /* waiting (sleep, future, I/O) */
	RINGO_TASK_READY,     /* woken, waiting for its turn */
	RINGO_TASK_DONE,      /* finished: result, error or cancelled */
};

/* Spawn fn(arg) as a task on loop; it starts on a later iteration (FIFO
 * with call_soon). opts may be NULL. out may be NULL (fire and forget);
 * else *out is the caller's reference (NULL on error). Does not suspend.
 * 0, -EINVAL (NULL loop or fn; stack size outside 16 KiB .. 1 GiB),
 * -ESHUTDOWN (loop closed), -ENOMEM (no memory for the stack or the
 * scheduler), -ENOSPC (a fifth distinct stack size on this loop: stacks
 * come from at most four pools, one per size), -EXDEV
 * (RINGO_LOOP_CHECK_THREAD and called from another thread). */
int ringo_spawn(ringo_loop *loop, ringo_task_fn *fn, void *arg, const ringo_task_options *opts,
		ringo_task **out);

/* The task seen as a future (same object, no new reference; NULL for
 * NULL). Every ringo_future_* call works on it, except that set_result and
 * set_error refuse it (-EPERM) and cancel means ringo_task_cancel. */
ringo_future *ringo_task_future(ringo_task *task);
/* The task behind a future, or NULL if fut is a plain future (or NULL). */
ringo_task *ringo_future_task(ringo_future *fut);

/* Take and drop a reference (as for futures: NULL ignored, releasing more
 * than was taken is undefined). */
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
 * -EINVAL for NULL. */
int ringo_task_cancelling(const ringo_task *task);
/* Decrement that count (not below 0) and return the new value (asyncio
 * uncancel()); at 0 a cancellation not yet delivered is dropped. -EINVAL
 * for NULL. */
int ringo_task_uncancel(ringo_task *task);

/* The task's name (NULL for NULL). A default name "task-N" is written
 * into the task on first use, hence the non-const task. The string lives
 * as long as the task. */
const char *ringo_task_name(ringo_task *task);
/* Copy name (truncated to 31 bytes) as the task's name. 0, -EINVAL (NULL
 * task or name). */
int ringo_task_set_name(ringo_task *task, const char *name);
/* The task's state; RINGO_TASK_DONE for NULL. */
enum ringo_task_state ringo_task_state(const ringo_task *task);
/* "pending", "running", ... ("unknown" for other values). */
const char *ringo_task_state_name(enum ringo_task_state state);

/* The task running on this thread, or NULL outside any task. */
ringo_task *ringo_task_current(void);

/* Fill tasks[0..cap) with the loop's not-done tasks in spawn order (no
 * references taken: valid until they finish); returns how many exist (may
 * exceed cap), or -EINVAL (NULL loop, or NULL tasks with cap > 0). */
int ringo_loop_tasks(ringo_loop *loop, ringo_task **tasks, size_t cap);

/* Print every live task: name, state, and where it is suspended. NULL
 * arguments print nothing. */
void ringo_loop_dump_tasks(ringo_loop *loop, FILE *out);

/* May suspend. Sleep delay_ns (<= 0 yields exactly one loop iteration,
 * as asyncio.sleep(0)). 0 when the time has passed; -ECANCELED if the
 * task was cancelled (while sleeping, or before: then it returns at once
 * without waiting); -EPERM outside a task; -ENOMEM (no timer could be
 * scheduled). A cancelled sleep leaves nothing behind (its timer is
 * cancelled). */
int ringo_sleep(int64_t delay_ns);

/* May suspend. Wait for fut to be done and return its outcome as
 * ringo_future_result() (*result is written only on 0). The caller keeps
 * its reference; ringo_await takes its own while waiting, so fut may be
 * released by others meanwhile. A done future returns its outcome at once
 * without suspending (a pending cancellation then waits for the next
 * suspension point). Otherwise it returns only once fut is done:
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
 * the wait; nothing waited). */
int ringo_await(ringo_future *fut, void **result);

/* asyncio.run(): create a loop (opts may be NULL), run main(arg) as a task
 * named "main" until it finishes, cancel and wait for every task left,
 * close and free the loop. Returns main's outcome (its error, -ECANCELED)
 * and *result gets its value; or -EINVAL (NULL main), ringo_spawn's
 * errors, or ringo_loop_new's error if the loop cannot be created (where
 * io_uring is refused, ringo_strerror() of it says why and what to change). */
int ringo_run(ringo_task_fn *main, void *arg, const ringo_loop_options *opts, void **result);

#include "ringo/aio.h"
#include "ringo/io.h"
#include "ringo/net.h"
#include "ringo/stream.h"
#include "ringo/process.h"
#include "ringo/thread.h"

#ifdef __cplusplus
}
#endif

#endif /* RINGO_H */
