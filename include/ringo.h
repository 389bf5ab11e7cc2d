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
#define RINGO_VERSION_MINOR 1
#define RINGO_VERSION_PATCH 0

/* "MAJOR.MINOR.PATCH" of the library actually linked. */
const char *ringo_version(void);
/* True if the linked library is at least major.minor (same major). */
bool ringo_check_version(int major, int minor);

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
int ringo_loop_new(ringo_loop **out, const ringo_loop_options *opts);

/* Run until ringo_loop_stop(). Returns 0, -EBUSY if this loop (or another
 * one) is already running on this thread, -ESHUTDOWN if closed. */
int ringo_loop_run_forever(ringo_loop *loop);

/* Run until fut is done and return its outcome as ringo_future_result()
 * would (storing the value in *result if result is not NULL). Returns
 * -EBUSY/-ESHUTDOWN as run_forever, -EINVAL if fut belongs to another loop,
 * and -EINTR if the loop was stopped before fut was done. */
int ringo_loop_run_until_complete(ringo_loop *loop, ringo_future *fut, void **result);

/* Ask the loop to stop after the current batch of callbacks (asyncio: the
 * callbacks those callbacks schedule run on the next run). If the loop is
 * not running, the next run does one iteration and returns. */
int ringo_loop_stop(ringo_loop *loop);

bool ringo_loop_is_running(const ringo_loop *loop);
bool ringo_loop_is_closed(const ringo_loop *loop);

/* Close the loop: pending callbacks and timers are dropped, unfinished
 * tasks are freed without running, the ring is torn down. Idempotent.
 * Returns 0, or -EBUSY while it is running. Futures still referenced by
 * the caller stay valid (but can no longer complete) until released. */
int ringo_loop_close(ringo_loop *loop);

/* Close (if needed) and free the loop. -EBUSY (and nothing freed) while
 * running, or while futures or tasks of this loop are still referenced
 * (release them first; the loop is then closed but not freed). After
 * this, handles of this loop are invalid. */
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
 * -ESHUTDOWN (loop closed), -ENOMEM. */
int ringo_call_soon(ringo_loop *loop, ringo_callback_fn *fn, void *arg, ringo_handle *handle);

/* Schedule fn(arg) once delay_ns have passed (>= 0; negative means 0).
 * Callbacks already queued with call_soon run before timers that fall due;
 * equal deadlines run in registration order. Errors as call_soon. */
int ringo_call_later(ringo_loop *loop, int64_t delay_ns, ringo_callback_fn *fn, void *arg,
		     ringo_handle *handle);

/* As call_later, at an absolute ringo_loop_time_ns() value. */
int ringo_call_at(ringo_loop *loop, int64_t when_ns, ringo_callback_fn *fn, void *arg,
		  ringo_handle *handle);

/* Cancel a scheduled callback. Returns 0 if it was pending and now will not
 * run; -EALREADY if it already ran or was already cancelled (a second
 * cancel changes nothing); -EINVAL for a handle that never was one. */
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

/* Create a pending future on loop. 0, -EINVAL, -ESHUTDOWN, -ENOMEM. */
int ringo_future_new(ringo_loop *loop, ringo_future **out);

/* Take and drop a reference. Release frees at the last reference. */
void ringo_future_ref(ringo_future *fut);
void ringo_future_release(ringo_future *fut);

/* Mark done with a result. 0, or -EALREADY if already done (the first
 * outcome stays). Schedules the done callbacks with call_soon. */
int ringo_future_set_result(ringo_future *fut, void *value);

/* Mark done with an error: err must be negative and neither -EINPROGRESS
 * nor -ECANCELED (those mean "pending" and "cancelled"; use
 * ringo_future_cancel) else -EINVAL. -EALREADY if already done. */
int ringo_future_set_error(ringo_future *fut, int err);

/* Cancel: true if the future was pending and is now cancelled, false if it
 * was already done. msg (may be NULL) is kept by pointer: pass a string
 * that outlives the future (a literal). */
bool ringo_future_cancel(ringo_future *fut, const char *msg);

bool ringo_future_done(const ringo_future *fut);
bool ringo_future_cancelled(const ringo_future *fut);

/* The outcome: 0 and *value (if value is not NULL) for a result;
 * -EINPROGRESS while pending; -ECANCELED if cancelled; the error given to
 * set_error if it failed. */
int ringo_future_result(const ringo_future *fut, void **value);

/* asyncio's exception(): 0 if it has a result, else as ringo_future_result. */
int ringo_future_error(const ringo_future *fut);

/* The message given to cancel, or NULL. */
const char *ringo_future_cancel_message(const ringo_future *fut);

/* Run fn(fut, arg) once the future is done, always through call_soon, even
 * if it is done already. Callbacks run in the order added. 0, -EINVAL,
 * -ESHUTDOWN, -ENOMEM. */
int ringo_future_add_done_callback(ringo_future *fut, ringo_done_fn *fn, void *arg);

/* Remove every not-yet-scheduled done callback equal to (fn, arg); returns
 * how many were removed (0 if none), or -EINVAL. */
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
 * with call_soon). opts may be NULL. out may be NULL (fire and forget).
 * 0, -EINVAL, -ESHUTDOWN, -ENOMEM. */
int ringo_spawn(ringo_loop *loop, ringo_task_fn *fn, void *arg, const ringo_task_options *opts,
		ringo_task **out);

/* The task seen as a future (same object, no new reference). */
ringo_future *ringo_task_future(ringo_task *task);
/* The task behind a future, or NULL if fut is a plain future. */
ringo_task *ringo_future_task(ringo_future *fut);

void ringo_task_ref(ringo_task *task);
void ringo_task_release(ringo_task *task);

/* Request cancellation: -ECANCELED is delivered at the task's current or
 * next suspension point. A task cancelled before its first step never runs
 * its body. Returns true if requested, false if the task is done. msg as
 * for ringo_future_cancel. */
bool ringo_task_cancel(ringo_task *task, const char *msg);

/* Number of pending cancellation requests (asyncio cancelling()). */
int ringo_task_cancelling(const ringo_task *task);
/* Decrement that count; returns the new value (asyncio uncancel()). */
int ringo_task_uncancel(ringo_task *task);

const char *ringo_task_name(const ringo_task *task);
int ringo_task_set_name(ringo_task *task, const char *name);
enum ringo_task_state ringo_task_state(const ringo_task *task);
const char *ringo_task_state_name(enum ringo_task_state state);

/* The task running on this thread, or NULL outside any task. */
ringo_task *ringo_current_task(void);

/* Fill tasks[0..cap) with the loop's not-done tasks (no references taken);
 * returns how many exist (may exceed cap), or -EINVAL. */
int ringo_all_tasks(ringo_loop *loop, ringo_task **tasks, size_t cap);

/* Print every live task: name, state, and where it is suspended. */
void ringo_dump_tasks(ringo_loop *loop, FILE *out);

/* May suspend. Sleep delay_ns (<= 0 yields exactly one loop iteration).
 * 0, -ECANCELED, -EPERM outside a task. */
int ringo_sleep(int64_t delay_ns);

/* May suspend. Wait for fut to be done and return its outcome as
 * ringo_future_result(). A done future returns at once without suspending.
 * Cancelling the waiting task cancels fut too, as asyncio does (a task is
 * asked to cancel and its outcome is returned when it ends; wrap fut with
 * ringo_shield to protect it). -EPERM outside a task, -EDEADLK if a task
 * awaits itself, -EINVAL for a future of another loop. */
int ringo_await(ringo_future *fut, void **result);

/* asyncio.run(): create a loop (opts may be NULL), run main(arg) as a task
 * named "main" until it finishes, cancel and wait for every task left,
 * close and free the loop. Returns main's outcome; *result gets its value.
 * If the loop cannot be created, returns ringo_loop_new's error (where
 * io_uring is refused, ringo_strerror() of it says why and what to change). */
int ringo_run(ringo_task_fn *main, void *arg, const ringo_loop_options *opts, void **result);

#include "ringo/aio.h"
#include "ringo/io.h"
#include "ringo/net.h"
#include "ringo/thread.h"

#ifdef __cplusplus
}
#endif

#endif /* RINGO_H */
