/*
 * Signals delivered to a loop: ringo_signal_add/remove (asyncio's
 * add_signal_handler) and ringo_signal_wait.
 *
 * The process-wide side: a table with, per signal, the loop state that
 * owns it and the disposition it replaced. The handler (on_signal) is the
 * same for every signal and loop and only does async-signal-safe things:
 * it bumps the owner's per-signal pending count and writes the owner's
 * eventfd, once per burst (`signalled` coalesces as the cross-thread
 * queue's bell does). So it may run on any thread and no mask needs
 * blocking.
 *
 * The loop side: one read of that eventfd is kept in flight through
 * io_uring (counted idle, like the cross-thread queue's: it never makes
 * the loop enter the kernel by itself); its completion turns the counts
 * into callbacks (call_soon) and wakes the tasks in ringo_signal_wait.
 *
 * Lifetime: a handler on another thread may be looking at a loop's state
 * while that loop releases the signal and then frees the state. The
 * handler announces itself in slot->busy before it reads slot->owner
 * (both seq_cst); a release restores the old disposition, clears owner,
 * then waits for busy to drop to 0. A handler that read the old owner
 * has then finished with it; one that reads after sees NULL (or a new
 * owner) and never touches the old state.
 */
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"
#include "fiber.h" /* RINGO_TSAN; after internal.h (RINGO_ASSERT) */

/* ---- per loop ---- */

struct sig_reg {
	struct ringo__signals *s;
	int signo;
	ringo_callback_fn *fn;   /* ringo_signal_add's handler, NULL if none */
	void *arg;
	uint32_t due;            /* deliveries whose fn call has not run yet */
	uint32_t unclaimed;      /* deliveries nobody took while held (waiters only) */
	uint32_t waiters;        /* ringo_signal_wait calls holding it */
	bool held;               /* this loop owns the signal (table[signo].owner) */
	bool scheduled;          /* run_due is queued: handle is live */
	ringo_handle handle;
};

struct ringo__signals {
	/* First (internal.h reads it): head.signalled is set by the handler
	 * that writes efd, cleared by the loop before it collects the
	 * counts: a delivery after the clear writes again. */
	struct ringo__signals_head head;
	ringo_loop *loop;
	int efd;                           /* the handler writes, the loop reads */
	_Atomic uint32_t pending[NSIG];    /* deliveries not collected yet */
	bool armed;                        /* the efd read is in flight */
	uint64_t ud;                       /* its op slot */
	uint64_t buf;                      /* its 8-byte target */
	struct ringo__list waiters;        /* struct sig_waiter, on task stacks */
	struct sig_reg reg[NSIG];
};

/* A task in ringo_signal_wait; lives on its stack. */
struct sig_waiter {
	struct ringo__list link;   /* on s->waiters until woken or cancelled */
	ringo_task *task;
	sigset_t set;
	struct ringo__signals *s;  /* holding set's signals for the wait */
};

/* ---- process-wide ---- */

struct sig_slot {
	_Atomic(struct ringo__signals *) owner; /* NULL: no loop holds it */
	_Atomic unsigned busy;                  /* handlers looking at owner */
	struct sigaction saved;                 /* (table_lock) replaced disposition */
};

static struct sig_slot table[NSIG];
/* Taking and releasing signals (rare): one lock for the whole table. */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_signal(int signo)
{
	int saved_errno = errno;
	struct sig_slot *slot = &table[signo];
	atomic_fetch_add(&slot->busy, 1);
	struct ringo__signals *s = atomic_load(&slot->owner);
	if (s) {
		atomic_fetch_add(&s->pending[signo], 1);
		if (!atomic_exchange(&s->head.signalled, true)) {
			uint64_t one = 1;
			while (write(s->efd, &one, sizeof(one)) < 0 && errno == EINTR)
				;
		}
	} else {
		/* Delivered as ours just before a release put the old
		 * disposition back (the kernel chose the action earlier):
		 * hand it to that disposition, after this handler returns. */
		raise(signo);
	}
	atomic_fetch_sub(&slot->busy, 1);
	errno = saved_errno;
}

static bool signo_allowed(int signo)
{
	if (signo <= 0 || signo >= NSIG)
		return false;
	switch (signo) {
	case SIGKILL:
	case SIGSTOP:
	case SIGSEGV:
	case SIGBUS:
	case SIGILL:
	case SIGFPE:
		return false;
	default:
		return true;
	}
}

/* Make the loop the signal's owner and install the handler. 0, -EBUSY
 * (another loop holds it), or sigaction's error. */
static int take(struct ringo__signals *s, int signo)
{
	RINGO_ASSERT(signo_allowed(signo)); /* the public calls checked */
	struct sig_reg *r = &s->reg[signo];
	if (r->held)
		return 0;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	/* SA_ONSTACK: a task stack may be nearly full; the thread's
	 * alternate stack (set up by ringo for overflow reports) is roomier. */
	sa.sa_flags = SA_RESTART | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	struct sig_slot *slot = &table[signo];
	pthread_mutex_lock(&table_lock);
	if (atomic_load(&slot->owner)) {
		pthread_mutex_unlock(&table_lock);
		return -EBUSY;
	}
	/* Owner first: from the moment the handler is installed it must
	 * find us. */
	atomic_store(&slot->owner, s);
	if (sigaction(signo, &sa, &slot->saved) < 0) {
		int err = -errno;
		atomic_store(&slot->owner, NULL);
		pthread_mutex_unlock(&table_lock);
		return err;
	}
	pthread_mutex_unlock(&table_lock);
	r->held = true;
	atomic_fetch_add(&ringo__signals_held_total, 1);
	return 0;
}

/* Give the signal back: restore the disposition, forget the owner, wait
 * out handlers still looking at it. Returns the deliveries nobody took
 * (not yet collected, or collected while only waiters that had gone held
 * it). */
static uint32_t release(struct ringo__signals *s, int signo)
{
	struct sig_reg *r = &s->reg[signo];
	RINGO_ASSERT(r->held);
	struct sig_slot *slot = &table[signo];
	pthread_mutex_lock(&table_lock);
	RINGO_ASSERT(atomic_load(&slot->owner) == s);
	/* Disposition first: from the moment owner is NULL, on_signal must
	 * not be what the kernel runs for a new delivery. */
	sigaction(signo, &slot->saved, NULL);
	atomic_store(&slot->owner, NULL);
	/* Under the lock, so no new owner's handlers count in busy. */
	while (atomic_load(&slot->busy))
		sched_yield();
	pthread_mutex_unlock(&table_lock);
	r->held = false;
	atomic_fetch_sub(&ringo__signals_held_total, 1);
	uint32_t n = atomic_exchange(&s->pending[signo], 0) + r->unclaimed;
	r->unclaimed = 0;
	return n;
}

/* The signal is no longer wanted by a waiter: release it if nothing else
 * on the loop wants it, and hand deliveries nobody took to the restored
 * disposition. */
static void unhold(struct ringo__signals *s, int signo)
{
	RINGO_ASSERT(signo > 0 && signo < NSIG);
	struct sig_reg *r = &s->reg[signo];
	if (!r->held || r->fn || r->waiters)
		return;
	for (uint32_t n = release(s, signo); n > 0; n--)
		raise(signo);
}

/* ---- collecting deliveries on the loop ---- */

static void run_due(void *arg)
{
	struct sig_reg *r = arg;
	RINGO_ASSERT(r->scheduled); /* remove cancels it and clears the flag */
	r->scheduled = false;
	/* fn may remove itself (fn NULL, due 0) or be replaced. */
	while (r->due > 0 && r->fn) {
		r->due--;
		r->fn(r->arg);
	}
}

/* Wake every task waiting for signo. true if there was one. */
static bool wake_waiters(struct ringo__signals *s, int signo)
{
	RINGO_ASSERT(s->reg[signo].held); /* collected only for held signals */
	bool any = false;
	struct ringo__list *l = s->waiters.next;
	while (l != &s->waiters) {
		struct sig_waiter *w = ringo__container_of(l, struct sig_waiter, link);
		l = l->next;
		if (sigismember(&w->set, signo) != 1)
			continue;
		ringo__list_remove(&w->link);
		ringo__task_wake(w->task, signo);
		any = true;
	}
	return any;
}

static void deliver(struct ringo__signals *s, int signo, uint32_t n)
{
	RINGO_ASSERT(n > 0 && s->reg[signo].held);
	struct sig_reg *r = &s->reg[signo];
	bool taken = wake_waiters(s, signo);
	if (r->fn) {
		r->due += n;
		taken = true;
		/* -ENOMEM: due stays counted, scheduled by the next delivery. */
		if (!r->scheduled && ringo_call_soon(s->loop, run_due, r, &r->handle) == 0)
			r->scheduled = true;
	}
	if (!taken)
		r->unclaimed += n;
}

static void collect(struct ringo__signals *s)
{
	RINGO_ASSERT(s->armed); /* the next read is in flight first */
	/* Before reading the counts: a delivery after this rings again. */
	atomic_store(&s->head.signalled, false);
	for (int signo = 1; signo < NSIG; signo++) {
		if (!s->reg[signo].held)
			continue;
		uint32_t n = atomic_exchange(&s->pending[signo], 0);
		if (n)
			deliver(s, signo, n);
	}
}

static void efd_done(ringo_loop *loop, void *ctx, int32_t res, uint32_t flags);

/* Keep the eventfd read in flight. Idle: it alone never makes the loop
 * enter the kernel (ringo__signals_pending does when a signal came). */
static int arm(struct ringo__signals *s)
{
	RINGO_ASSERT(!s->loop->closed);
	ringo_loop *loop = s->loop;
	if (s->armed)
		return 0;
	int err = ringo__op_open(loop, efd_done, s, &s->ud);
	if (err < 0)
		return err;
	struct io_uring_sqe *sqe = ringo__sqe(loop);
	RINGO_ASSERT(sqe != NULL); /* the ring exists until close */
	io_uring_prep_read(sqe, s->efd, &s->buf, sizeof(s->buf), 0);
	io_uring_sqe_set_data64(sqe, s->ud);
	s->armed = true;
	loop->ops_idle++;
	return 0;
}

static void efd_done(ringo_loop *loop, void *ctx, int32_t res, uint32_t flags)
{
	struct ringo__signals *s = ctx;
	RINGO_ASSERT(s->armed && loop->signals == s);
	ringo__op_close(loop, s->ud);
	s->armed = false;
	loop->ops_idle--;
	if (loop->closed)
		return; /* the close cancelled it */
	/* Reuses the slot just closed: cannot fail. */
	int err = arm(s);
	RINGO_ASSERT(err == 0);
	collect(s);
}

/* ---- the state's life ---- */

/* At loop close: every signal goes back (deliveries not collected are
 * dropped, as pending callbacks are). Tasks still in ringo_signal_wait
 * are abandoned by the close and their waiter records (on their stacks)
 * are not touched. */
static void signals_close(ringo_loop *loop, void *ctx)
{
	RINGO_ASSERT(loop->signals == ctx);
	struct ringo__signals *s = ctx;
	for (int signo = 1; signo < NSIG; signo++) {
		if (s->reg[signo].held)
			release(s, signo);
	}
	if (s->armed) {
		/* Never submitted (the loop never ran): the ring goes next. */
		ringo__op_close(loop, s->ud);
		loop->ops_idle--;
		s->armed = false;
	}
	close(s->efd);
	loop->signals = NULL;
	ringo__free(loop, s, sizeof(*s));
}

static int signals_state(ringo_loop *loop, struct ringo__signals **out)
{
	if (loop->signals) {
		*out = loop->signals;
		return 0;
	}
	if (!loop->ring_ready)
		return -ESHUTDOWN;
	struct ringo__signals *s = ringo__alloc(loop, sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	atomic_init(&s->head.signalled, false);
	for (int signo = 0; signo < NSIG; signo++) {
		atomic_init(&s->pending[signo], 0);
		s->reg[signo].s = s;
		s->reg[signo].signo = signo;
	}
	ringo__list_init(&s->waiters);
	/* Blocking: io_uring returns -EAGAIN for a read of an O_NONBLOCK fd
	 * instead of waiting. The handler's write cannot block either: the
	 * count would have to reach 2^64 - 1. */
	s->efd = eventfd(0, EFD_CLOEXEC);
	if (s->efd < 0) {
		int err = -errno;
		ringo__free(loop, s, sizeof(*s));
		return err;
	}
	if (ringo__add_close_hook(loop, signals_close, s) < 0) {
		close(s->efd);
		ringo__free(loop, s, sizeof(*s));
		return -ENOMEM;
	}
	loop->signals = s;
	*out = s;
	return 0;
}

/* The loop's state with the eventfd read armed, and signo taken. */
static int hold(ringo_loop *loop, int signo, struct ringo__signals **out)
{
	RINGO_ASSERT(signo > 0 && signo < NSIG);
	int err = signals_state(loop, out);
	if (err == 0)
		err = arm(*out);
	if (err == 0)
		err = take(*out, signo);
	return err;
}

/* ---- add / remove ---- */

int ringo_signal_add(ringo_loop *loop, int signo, ringo_callback_fn *fn, void *arg)
{
	if (!loop || !fn || !signo_allowed(signo))
		return -EINVAL;
	int err = ringo__check_open(loop);
	if (err == 0)
		err = ringo__check_thread(loop);
	if (err < 0)
		return err;
	struct ringo__signals *s;
	err = hold(loop, signo, &s);
	if (err < 0)
		return err;
	RINGO_ASSERT(s->reg[signo].held); /* hold took it */
	struct sig_reg *r = &s->reg[signo];
	r->fn = fn;
	r->arg = arg;
	if (r->unclaimed) {
		/* Came while only a waiter that had just gone held it: the
		 * handler takes it rather than nobody. */
		uint32_t n = r->unclaimed;
		r->unclaimed = 0;
		deliver(s, signo, n);
	}
	return 0;
}

int ringo_signal_remove(ringo_loop *loop, int signo)
{
	if (!loop || signo <= 0 || signo >= NSIG)
		return -EINVAL;
	int err = ringo__check_open(loop);
	if (err == 0)
		err = ringo__check_thread(loop);
	if (err < 0)
		return err;
	struct ringo__signals *s = loop->signals;
	if (!s || !s->reg[signo].fn)
		return -ENOENT;
	RINGO_ASSERT(s->reg[signo].held); /* a handler holds its signal */
	struct sig_reg *r = &s->reg[signo];
	r->fn = NULL;
	r->arg = NULL;
	r->due = 0;
	if (r->scheduled) {
		ringo_handle_cancel(r->handle);
		r->scheduled = false;
	}
	if (!r->waiters)
		release(s, signo); /* deliveries not run yet are dropped */
	return 0;
}

/* ---- ringo_signal_wait ---- */

static void wait_interrupt(ringo_task *t)
{
	struct sig_waiter *w = ringo__task_wait_ctx(t);
	RINGO_ASSERT(w->task == t && w->link.next != &w->link); /* still queued */
	ringo__list_remove(&w->link);
	/* This -ECANCELED is the cancellation: not again at the next
	 * suspension (keep_result leaves that to the wait). */
	ringo__task_clear_cancel(t);
	ringo__task_wake(t, -ECANCELED);
}

/* keep_result: a signal handed to a woken waiter cannot be given back;
 * a cancel that comes before it runs is delivered at its next
 * suspension. */
static void unhold_set(struct ringo__signals *s, const sigset_t *set, int upto);

/* The loop closes under the waiter: off the list (a no-op if a delivery
 * took it off) and its hold on the set's signals released, as the wait's
 * return would. */
static void wait_abandon(ringo_task *t)
{
	struct sig_waiter *w = ringo__task_wait_ctx(t);
	ringo__list_remove(&w->link);
	unhold_set(w->s, &w->set, NSIG);
}

static const struct ringo__wait_ops wait_ops = {
	.what = "signal", .interrupt = wait_interrupt, .keep_result = true, .abandon = wait_abandon};

static int check_set(const sigset_t *set)
{
	if (!set)
		return -EINVAL;
	int n = 0;
	for (int signo = 1; signo < NSIG; signo++) {
		if (sigismember(set, signo) != 1)
			continue;
		if (!signo_allowed(signo))
			return -EINVAL;
		n++;
	}
	return n ? 0 : -EINVAL;
}

static void unhold_set(struct ringo__signals *s, const sigset_t *set, int upto)
{
	RINGO_ASSERT(upto > 0 && upto <= NSIG);
	for (int signo = 1; signo < upto; signo++) {
		if (sigismember(set, signo) == 1) {
			RINGO_ASSERT(s->reg[signo].waiters > 0); /* hold_set counted it */
			s->reg[signo].waiters--;
			unhold(s, signo);
		}
	}
}

/* Register a waiter on every signal of set; all or nothing. */
static int hold_set(ringo_loop *loop, const sigset_t *set, struct ringo__signals **out)
{
	RINGO_ASSERT(*out == NULL);
	for (int signo = 1; signo < NSIG; signo++) {
		if (sigismember(set, signo) != 1)
			continue;
		int err = hold(loop, signo, out);
		if (err < 0) {
			if (*out)
				unhold_set(*out, set, signo);
			return err;
		}
		(*out)->reg[signo].waiters++;
	}
	return 0;
}

/* A delivery collected while nobody waited: take it now. */
static int take_unclaimed(struct ringo__signals *s, const sigset_t *set)
{
	for (int signo = 1; s && signo < NSIG; signo++) {
		if (s->reg[signo].unclaimed && sigismember(set, signo) == 1) {
			s->reg[signo].unclaimed--;
			return signo;
		}
	}
	return 0;
}

int ringo_signal_wait(const sigset_t *set)
{
	int err = check_set(set);
	if (err < 0)
		return err;
	ringo_loop *loop = ringo__current_loop;
	ringo_task *t = ringo_task_current();
	if (!loop || !t)
		return -EPERM;
	if (ringo__task_cancel_pending(t)) {
		ringo__task_clear_cancel(t); /* taken here, as a suspension would */
		return -ECANCELED;
	}
	struct sig_waiter w;
	w.task = t;
	w.set = *set;
	int signo = take_unclaimed(loop->signals, &w.set);
	if (signo)
		return signo;
	struct ringo__signals *s = NULL;
	err = hold_set(loop, &w.set, &s);
	if (err < 0)
		return err;
	w.s = s;
	ringo__list_init(&w.link);
	ringo__list_insert_tail(&s->waiters, &w.link);
	int rc = ringo__task_suspend(&wait_ops, &w);
	/* Off the list: the delivery or the cancel took it off. */
	RINGO_ASSERT(w.link.next == &w.link);
	unhold_set(s, &w.set, NSIG);
	return rc;
}
