/*
 * Scheduled callbacks: call_soon, call_later, call_at and their handles.
 *
 * Records come from chunked tables that never move (a handle's index stays
 * meaningful for the loop's life) and are reused LIFO so the hottest record
 * is handed out next: scheduling a callback touches one cache line.
 */
#include "internal.h"
#include "xq.h"

static struct ringo__cb *cb_at(const ringo_loop *loop, uint32_t index)
{
	if (index >= loop->cb_used)
		return NULL;
	return &loop->cb_chunks[index >> RINGO__CB_CHUNK_SHIFT][index & (RINGO__CB_CHUNK - 1)];
}

__attribute__((cold)) static int cb_grow(ringo_loop *loop)
{
	uint32_t n = loop->cb_nchunks;
	if (n >= (UINT32_MAX >> RINGO__CB_CHUNK_SHIFT))
		return -ENOMEM;
	/* The chunk first: the array's size is known only as cb_nchunks, so
	 * it must not grow unless cb_nchunks does too. */
	struct ringo__cb *chunk = ringo__alloc(loop, RINGO__CB_CHUNK * sizeof(*chunk));
	if (!chunk)
		return -ENOMEM;
	struct ringo__cb **chunks = ringo__realloc(loop, loop->cb_chunks, n * sizeof(*chunks),
						   (n + 1) * sizeof(*chunks));
	if (!chunks) {
		ringo__free(loop, chunk, RINGO__CB_CHUNK * sizeof(*chunk));
		return -ENOMEM;
	}
	loop->cb_chunks = chunks;
	chunks[n] = chunk;
	loop->cb_nchunks = n + 1;
	return 0;
}

struct ringo__cb *ringo__cb_new(ringo_loop *loop)
{
	struct ringo__cb *cb = loop->cb_free;
	if (ringo__likely(cb != NULL)) {
		loop->cb_free = (struct ringo__cb *)cb->work.next;
	} else {
		if (loop->cb_used == loop->cb_nchunks * RINGO__CB_CHUNK && cb_grow(loop) < 0)
			return NULL;
		uint32_t index = loop->cb_used++;
		cb = cb_at(loop, index);
		cb->index = index;
		cb->generation = 1;
		cb->state = RINGO__CB_FREE;
	}
	RINGO_ASSERT(cb->state == RINGO__CB_FREE);
	loop->cb_live++;
	return cb;
}

void ringo__cb_free(ringo_loop *loop, struct ringo__cb *cb)
{
	RINGO_ASSERT(cb->state != RINGO__CB_FREE);
	cb->state = RINGO__CB_FREE;
	cb->generation++;
	cb->fut = NULL;
	cb->work.next = (struct ringo__work *)loop->cb_free;
	loop->cb_free = cb;
	loop->cb_live--;
}

/* A future's done callback (RINGO__CB_DONE), apart from the plain run
 * below so that call_soon's path keeps its short prologue. The record's
 * reference on the future goes through the loop's release_future hook:
 * future.c is above us. */
__attribute__((noinline)) static void done_run(ringo_loop *loop, struct ringo__cb *cb)
{
	uint8_t state = cb->state;
	ringo_future *fut = cb->fut;
	void *arg = cb->arg;
	ringo_done_fn *done_fn = cb->done_fn;

	RINGO_ASSERT(state == RINGO__CB_READY || state == RINGO__CB_CANCELLED);
	RINGO_ASSERT(fut != NULL);
	ringo__cb_free(loop, cb);
	if (state == RINGO__CB_READY)
		done_fn(fut, arg);
	loop->release_future(fut);
}

/* Runs one record from the ready queue. The record is freed before the
 * callback runs: the handle then reads as "already ran" (cancelling it from
 * inside its own callback is a no-op, as in asyncio) and a callback that
 * schedules another reuses the same, hot, record. */
void ringo__cb_run(ringo_loop *loop, struct ringo__work *w)
{
	struct ringo__cb *cb = ringo__container_of(w, struct ringo__cb, work);

	/* First, before anything is live: the done path then costs no
	 * register saves here. */
	if (cb->kind != RINGO__CB_PLAIN) {
		done_run(loop, cb);
		return;
	}
	uint8_t state = cb->state;
	void *arg = cb->arg;
	ringo_callback_fn *fn = cb->fn;

	RINGO_ASSERT(state == RINGO__CB_READY || state == RINGO__CB_CANCELLED);
	ringo__cb_free(loop, cb);
	if (state == RINGO__CB_READY)
		fn(arg);
}

static int schedule_check(ringo_loop *loop, ringo_callback_fn *fn)
{
	if (!loop || !fn)
		return -EINVAL;
	int err = ringo__check_thread(loop);
	if (ringo__unlikely(err < 0))
		return err;
	return ringo__check_open(loop);
}

int ringo_call_soon(ringo_loop *loop, ringo_callback_fn *fn, void *arg, ringo_handle *handle)
{
	int err = schedule_check(loop, fn);
	if (ringo__unlikely(err < 0))
		return err;
	/* asyncio's order: what was posted with call_soon_threadsafe before
	 * this call (by this thread, or by one that synchronised with it)
	 * runs first. One relaxed load when nothing is waiting. */
	if (ringo__unlikely(ringo__xq_pending(loop)))
		ringo__xq_catch_up(loop);
	struct ringo__cb *cb = ringo__cb_new(loop);
	if (ringo__unlikely(!cb))
		return -ENOMEM;
	cb->state = RINGO__CB_READY;
	cb->kind = RINGO__CB_PLAIN;
	cb->fn = fn;
	cb->arg = arg;
	cb->work.run = ringo__cb_run;
	ringo__ready_push(loop, &cb->work);
	if (handle)
		*handle = ringo__cb_handle(loop, cb);
	return 0;
}

int ringo_call_at(ringo_loop *loop, int64_t when_ns, ringo_callback_fn *fn, void *arg,
		  ringo_handle *handle)
{
	int err = schedule_check(loop, fn);
	if (ringo__unlikely(err < 0))
		return err;
	return ringo__timer_add(loop, when_ns, fn, arg, handle);
}

int ringo_call_later(ringo_loop *loop, int64_t delay_ns, ringo_callback_fn *fn, void *arg,
		     ringo_handle *handle)
{
	if (!loop)
		return -EINVAL;
	/* A negative delay is a deadline already passed, ordered as such
	 * (asyncio: call_later(-1) runs after call_later(-2)). */
	int64_t now = ringo__now(loop);
	int64_t when = delay_ns > INT64_MAX - now ? INT64_MAX : now + delay_ns;
	return ringo_call_at(loop, when, fn, arg, handle);
}

/* The live record a handle names, or NULL if it ran, was cancelled, or the
 * record has been reused since. */
static struct ringo__cb *handle_lookup(ringo_handle h)
{
	struct ringo__cb *cb = cb_at(h.loop, h.index);
	if (!cb || cb->generation != h.generation)
		return NULL;
	return cb;
}

int ringo_handle_cancel(ringo_handle h)
{
	if (!h.loop || h.generation == 0)
		return -EINVAL;
	if (h.index & RINGO__TIMER_HANDLE)
		return ringo__timer_cancel(h.loop, h.index & ~RINGO__TIMER_HANDLE, h.generation);
	if (h.index >= h.loop->cb_used)
		return -EINVAL;
	struct ringo__cb *cb = handle_lookup(h);
	if (!cb || cb->kind != RINGO__CB_PLAIN || cb->state != RINGO__CB_READY)
		return -EALREADY;
	/* Left in the queue; the run skips and frees it. */
	cb->state = RINGO__CB_CANCELLED;
	return 0;
}

bool ringo_handle_pending(ringo_handle h)
{
	if (!h.loop || h.generation == 0)
		return false;
	if (h.index & RINGO__TIMER_HANDLE)
		return ringo__timer_pending(h.loop, h.index & ~RINGO__TIMER_HANDLE, h.generation);
	struct ringo__cb *cb = handle_lookup(h);
	return cb && cb->kind == RINGO__CB_PLAIN && cb->state == RINGO__CB_READY;
}
