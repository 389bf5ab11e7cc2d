/* Signals delivered to a loop: ringo_signal_add / remove (asyncio's
 * add_signal_handler) and ringo_signal_wait. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

/* ---- helpers ---- */

struct hits {
	int n;              /* handler calls */
	int signo;          /* the signal it was added for */
	ringo_loop *loop;   /* ringo_loop_current() at the last call */
	ringo_event *ev;    /* set by each call, if not NULL */
	ringo_loop *remove_from; /* remove the handler inside the call */
};

static void on_hit(void *arg)
{
	struct hits *h = arg;
	h->n++;
	h->loop = ringo_loop_current();
	if (h->ev)
		ringo_event_set(h->ev);
	if (h->remove_from)
		assert_int_equal(ringo_signal_remove(h->remove_from, h->signo), 0);
}

/* The disposition of signo right now. */
static struct sigaction disposition(int signo)
{
	struct sigaction sa;
	assert_int_equal(sigaction(signo, NULL, &sa), 0);
	return sa;
}

static void set_default(int signo)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	assert_int_equal(sigaction(signo, &sa, NULL), 0);
}

/* A previous disposition that counts what reaches it. */
static _Atomic int old_handler_hits[NSIG];

static void old_handler(int signo, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	atomic_fetch_add(&old_handler_hits[signo], 1);
}

static struct sigaction install_old_handler(int signo)
{
	atomic_store(&old_handler_hits[signo], 0);
	struct sigaction sa, before;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = old_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGWINCH);
	assert_int_equal(sigaction(signo, &sa, &before), 0);
	return before;
}

static bool is_old_handler(int signo)
{
	struct sigaction sa = disposition(signo);
	return (sa.sa_flags & SA_SIGINFO) && sa.sa_sigaction == old_handler &&
	       (sa.sa_flags & SA_NODEFER) && sigismember(&sa.sa_mask, SIGWINCH) == 1;
}

/* One iteration of a loop that is not running. */
static void iterate(ringo_loop *loop)
{
	ringo_loop_stop(loop);
	assert_int_equal(ringo_loop_run_forever(loop), 0);
}

/* Wait for ev with a generous guard, so a lost wake-up fails the test
 * rather than hanging it. */
static int wait_event(ringo_event *ev)
{
	ringo_timeout to;
	assert_int_equal(ringo_timeout_enter(&to, RINGO_SEC(30)), 0);
	int rc = ringo_event_wait(ev);
	return ringo_timeout_exit(&to, rc);
}

/* ---- ringo_signal_add ---- */

static int raise_and_wait_body(void *arg, void **result)
{
	struct hits *h = arg;
	ringo_event ev;
	ringo_event_init(&ev);
	h->ev = &ev;
	assert_int_equal(raise(h->signo), 0);
	/* Delivered to the process, not run yet: it runs as a callback. */
	assert_int_equal(h->n, 0);
	assert_int_equal(wait_event(&ev), 0);
	h->ev = NULL;
	return 0;
}

static void test_signal_add_runs_the_handler_as_a_loop_callback(void **state)
{
	set_default(SIGUSR1);
	struct hits h = {.signo = SIGUSR1};
	assert_int_equal(ringo_signal_add(fx_loop, SIGUSR1, on_hit, &h), 0);
	assert_true(disposition(SIGUSR1).sa_handler != SIG_DFL);
	assert_int_equal(fx_run_task(raise_and_wait_body, &h), 0);
	assert_int_equal(h.n, 1);
	assert_ptr_equal(h.loop, fx_loop);
	assert_int_equal(ringo_signal_remove(fx_loop, SIGUSR1), 0);
	assert_true(disposition(SIGUSR1).sa_handler == SIG_DFL);
}

static int kill_each_body(void *arg, void **result)
{
	struct hits *h = arg;
	for (int i = 0; i < 3; i++) {
		ringo_event ev;
		ringo_event_init(&ev);
		h[i].ev = &ev;
		assert_int_equal(kill(getpid(), h[i].signo), 0);
		assert_int_equal(wait_event(&ev), 0);
		h[i].ev = NULL;
		for (int j = 0; j < 3; j++)
			assert_int_equal(h[j].n, j <= i);
	}
	return 0;
}

static void test_sigusr1_sighup_sigterm_each_run_their_own_handler(void **state)
{
	struct hits h[3] = {{.signo = SIGUSR1}, {.signo = SIGHUP}, {.signo = SIGTERM}};
	for (int i = 0; i < 3; i++)
		assert_int_equal(ringo_signal_add(fx_loop, h[i].signo, on_hit, &h[i]), 0);
	assert_int_equal(fx_run_task(kill_each_body, h), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ringo_signal_remove(fx_loop, h[i].signo), 0);
}

static int raise_thrice_body(void *arg, void **result)
{
	struct hits *h = arg;
	/* raise() delivers before it returns: three deliveries, all counted
	 * before the loop looks. */
	for (int i = 0; i < 3; i++)
		raise(h->signo);
	while (h->n < 3)
		assert_int_equal(ringo_sleep(0), 0);
	for (int i = 0; i < 5; i++)
		ringo_sleep(0);
	assert_int_equal(h->n, 3);
	return 0;
}

static void test_each_delivery_runs_the_handler_once(void **state)
{
	struct hits h = {.signo = SIGUSR2};
	assert_int_equal(ringo_signal_add(fx_loop, SIGUSR2, on_hit, &h), 0);
	assert_int_equal(fx_run_task(raise_thrice_body, &h), 0);
	assert_int_equal(ringo_signal_remove(fx_loop, SIGUSR2), 0);
}

static void test_signal_add_again_replaces_the_handler(void **state)
{
	struct hits first = {.signo = SIGUSR1}, second = {.signo = SIGUSR1};
	assert_int_equal(ringo_signal_add(fx_loop, SIGUSR1, on_hit, &first), 0);
	assert_int_equal(ringo_signal_add(fx_loop, SIGUSR1, on_hit, &second), 0);
	assert_int_equal(fx_run_task(raise_and_wait_body, &second), 0);
	assert_int_equal(first.n, 0);
	assert_int_equal(second.n, 1);
	assert_int_equal(ringo_signal_remove(fx_loop, SIGUSR1), 0);
	assert_int_equal(ringo_signal_remove(fx_loop, SIGUSR1), -ENOENT);
}

static void test_remove_restores_a_previous_handler_with_its_flags_and_mask(void **state)
{
	struct sigaction before = install_old_handler(SIGUSR1);
	struct hits h = {.signo = SIGUSR1};
	assert_int_equal(ringo_signal_add(fx_loop, SIGUSR1, on_hit, &h), 0);
	assert_false(is_old_handler(SIGUSR1));
	assert_int_equal(fx_run_task(raise_and_wait_body, &h), 0);
	assert_int_equal(atomic_load(&old_handler_hits[SIGUSR1]), 0);
	assert_int_equal(ringo_signal_remove(fx_loop, SIGUSR1), 0);
	assert_true(is_old_handler(SIGUSR1));
	raise(SIGUSR1);
	assert_int_equal(atomic_load(&old_handler_hits[SIGUSR1]), 1);
	assert_int_equal(h.n, 1);
	sigaction(SIGUSR1, &before, NULL);
}

static void test_remove_restores_sig_ign(void **state)
{
	struct sigaction ign, before;
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &ign, &before);
	struct hits h = {.signo = SIGHUP};
	assert_int_equal(ringo_signal_add(fx_loop, SIGHUP, on_hit, &h), 0);
	assert_int_equal(ringo_signal_remove(fx_loop, SIGHUP), 0);
	assert_true(disposition(SIGHUP).sa_handler == SIG_IGN);
	sigaction(SIGHUP, &before, NULL);
}

static void test_loop_close_restores_every_disposition(void **state)
{
	set_default(SIGUSR1);
	struct sigaction before = install_old_handler(SIGUSR2);
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	struct hits h = {0};
	assert_int_equal(ringo_signal_add(loop, SIGUSR1, on_hit, &h), 0);
	assert_int_equal(ringo_signal_add(loop, SIGUSR2, on_hit, &h), 0);
	test_loop_free(loop, &ca); /* a loop that never ran, too */
	assert_true(disposition(SIGUSR1).sa_handler == SIG_DFL);
	assert_true(is_old_handler(SIGUSR2));
	sigaction(SIGUSR2, &before, NULL);
}

static int remove_inside_body(void *arg, void **result)
{
	struct hits *h = arg;
	raise(h->signo);
	raise(h->signo);
	for (int i = 0; i < 10; i++)
		ringo_sleep(0);
	return 0;
}

static void test_a_handler_may_remove_itself_and_is_not_called_again(void **state)
{
	set_default(SIGUSR1);
	struct hits h = {.signo = SIGUSR1, .remove_from = fx_loop};
	assert_int_equal(ringo_signal_add(fx_loop, SIGUSR1, on_hit, &h), 0);
	/* Both deliveries are collected together; the first call removes. */
	assert_int_equal(fx_run_task(remove_inside_body, &h), 0);
	assert_int_equal(h.n, 1);
	assert_true(disposition(SIGUSR1).sa_handler == SIG_DFL);
}

static int remove_before_run_body(void *arg, void **result)
{
	struct hits *h = arg;
	raise(h->signo);
	assert_int_equal(ringo_signal_remove(ringo_loop_current(), h->signo), 0);
	for (int i = 0; i < 10; i++)
		ringo_sleep(0);
	return 0;
}

static void test_remove_drops_deliveries_whose_handler_has_not_run(void **state)
{
	struct sigaction before = install_old_handler(SIGUSR1);
	struct hits h = {.signo = SIGUSR1};
	assert_int_equal(ringo_signal_add(fx_loop, SIGUSR1, on_hit, &h), 0);
	assert_int_equal(fx_run_task(remove_before_run_body, &h), 0);
	assert_int_equal(h.n, 0);
	assert_int_equal(atomic_load(&old_handler_hits[SIGUSR1]), 0);
	sigaction(SIGUSR1, &before, NULL);
}

static void test_signal_add_refuses_bad_arguments(void **state)
{
	struct hits h = {0};
	const int bad[] = {0, -1, NSIG, SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGILL, SIGFPE};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ringo_signal_add(fx_loop, bad[i], on_hit, &h), -EINVAL);
	assert_int_equal(ringo_signal_add(NULL, SIGUSR1, on_hit, &h), -EINVAL);
	assert_int_equal(ringo_signal_add(fx_loop, SIGUSR1, NULL, &h), -EINVAL);
	assert_int_equal(ringo_signal_remove(NULL, SIGUSR1), -EINVAL);
	assert_int_equal(ringo_signal_remove(fx_loop, 0), -EINVAL);
	assert_int_equal(ringo_signal_remove(fx_loop, SIGUSR1), -ENOENT);
	/* glibc keeps 32 and 33 for itself: sigaction refuses them. */
	if (SIGRTMIN > 32)
		assert_int_equal(ringo_signal_add(fx_loop, 32, on_hit, &h), -EINVAL);
}

static void test_signal_add_on_a_closed_loop_is_eshutdown(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, 0);
	assert_int_equal(ringo_loop_close(loop), 0);
	struct hits h = {0};
	assert_int_equal(ringo_signal_add(loop, SIGUSR1, on_hit, &h), -ESHUTDOWN);
	assert_int_equal(ringo_signal_remove(loop, SIGUSR1), -ESHUTDOWN);
	test_loop_free(loop, &ca);
}

static void test_signal_add_out_of_memory_leaves_the_disposition_alone(void **state)
{
	set_default(SIGUSR1);
	struct hits h = {.signo = SIGUSR1};
	bool failed = false;
	/* Fail each allocation in turn until the add goes through. */
	for (long k = 1; k < 20; k++) {
		struct counting_allocator ca;
		ringo_loop *loop = test_loop_new(&ca, 0);
		ca.fail_at = ca.attempts + k; /* the k-th allocation from here */
		int rc = ringo_signal_add(loop, SIGUSR1, on_hit, &h);
		if (rc == 0) {
			test_loop_free(loop, &ca);
			break;
		}
		assert_int_equal(rc, -ENOMEM);
		failed = true;
		assert_true(disposition(SIGUSR1).sa_handler == SIG_DFL);
		test_loop_free(loop, &ca);
	}
	assert_true(failed);
	assert_true(disposition(SIGUSR1).sa_handler == SIG_DFL);
}

static void test_a_signal_held_by_another_loop_is_ebusy(void **state)
{
	set_default(SIGUSR1);
	struct counting_allocator ca;
	ringo_loop *other = test_loop_new(&ca, 0);
	struct hits h = {0};
	assert_int_equal(ringo_signal_add(other, SIGUSR1, on_hit, &h), 0);
	assert_int_equal(ringo_signal_add(fx_loop, SIGUSR1, on_hit, &h), -EBUSY);
	assert_non_null(strstr(ringo_strerror(-EBUSY), "another loop"));
	assert_int_equal(ringo_signal_remove(fx_loop, SIGUSR1), -ENOENT);
	assert_int_equal(ringo_signal_remove(other, SIGUSR1), 0);
	assert_int_equal(ringo_signal_add(fx_loop, SIGUSR1, on_hit, &h), 0);
	assert_int_equal(ringo_signal_add(other, SIGUSR1, on_hit, &h), -EBUSY);
	assert_int_equal(ringo_signal_remove(fx_loop, SIGUSR1), 0);
	test_loop_free(other, &ca);
}

/* ---- delivery: busy loops, sleeping loops, several threads ---- */

struct busy {
	ringo_loop *loop;
	int iter;           /* iterations of the callback chain */
	int handled_at;     /* iter when the handler ran, 0 = not yet */
};

static void busy_handler(void *arg)
{
	struct busy *b = arg;
	b->handled_at = b->iter;
	ringo_loop_stop(b->loop);
}

static void busy_tick(void *arg)
{
	struct busy *b = arg;
	if (++b->iter == 5)
		raise(SIGUSR1);
	if (b->iter < 10000)
		ringo_call_soon(b->loop, busy_tick, b, NULL);
	else
		ringo_loop_stop(b->loop);
}

/* A loop with callbacks always ready never waits in the kernel; it must
 * still look at a signal that came (its eventfd read's completion). */
static void test_a_loop_busy_with_callbacks_still_sees_a_signal(void **state)
{
	struct busy b = {.loop = fx_loop};
	assert_int_equal(ringo_signal_add(fx_loop, SIGUSR1, busy_handler, &b), 0);
	ringo_call_soon(fx_loop, busy_tick, &b, NULL);
	assert_int_equal(ringo_loop_run_forever(fx_loop), 0);
	assert_int_equal(ringo_signal_remove(fx_loop, SIGUSR1), 0);
	assert_true(b.handled_at > 0);
	assert_true(b.handled_at <= 8);
}

struct sleeper {
	ringo_loop *loop;
	_Atomic pid_t tid;
	_Atomic int handled;
};

static void sleeper_handler(void *arg)
{
	struct sleeper *s = arg;
	atomic_store(&s->handled, 1);
	ringo_loop_stop(s->loop);
}

static void *sleeper_thread(void *arg)
{
	struct sleeper *s = arg;
	atomic_store(&s->tid, (pid_t)syscall(SYS_gettid));
	ringo_loop_run_forever(s->loop);
	ringo_loop_close(s->loop); /* on its own thread: it cancels its reads */
	return NULL;
}

/* True once thread tid sits in io_uring_enter (426 on every arch). */
static bool in_io_uring_enter(pid_t tid)
{
	char path[64], buf[64] = {0};
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool in = fgets(buf, sizeof(buf), f) && strncmp(buf, "426 ", 4) == 0;
	fclose(f);
	return in;
}

/* The loop has nothing to do and no timer: it sleeps in the kernel with
 * no time limit, and only the signal can wake it. */
static void test_a_signal_wakes_a_loop_asleep_in_the_kernel(void **state)
{
	set_default(SIGUSR1);
	struct counting_allocator ca;
	struct sleeper s = {.loop = test_loop_new(&ca, 0)};
	/* Added before the loop runs, from this thread (allowed). */
	assert_int_equal(ringo_signal_add(s.loop, SIGUSR1, sleeper_handler, &s), 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, sleeper_thread, &s), 0);
	while (!atomic_load(&s.tid))
		usleep(1000);
	for (int i = 0; i < 2000 && !in_io_uring_enter(atomic_load(&s.tid)); i++)
		usleep(1000);
	/* To the process: the kernel may pick this thread to run it. */
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	struct timespec limit;
	clock_gettime(CLOCK_REALTIME, &limit);
	limit.tv_sec += 60; /* a hang guard, not a measurement */
	if (pthread_timedjoin_np(th, NULL, &limit) != 0)
		fail_msg("the signal did not wake the loop");
	assert_int_equal(atomic_load(&s.handled), 1);
	test_loop_free(s.loop, &ca);
	assert_true(disposition(SIGUSR1).sa_handler == SIG_DFL);
}

struct side {
	ringo_loop_thread *lt;
	pthread_t thread;         /* the loop's thread */
	_Atomic int hits;
	_Atomic int wrong_thread; /* handler calls off the loop's thread */
};

static void side_handler(void *arg)
{
	struct side *s = arg;
	if (!pthread_equal(pthread_self(), s->thread))
		atomic_fetch_add(&s->wrong_thread, 1);
	atomic_fetch_add(&s->hits, 1);
}

static int side_add(void *arg, void **result)
{
	struct side *s = arg;
	s->thread = pthread_self();
	return ringo_signal_add(ringo_loop_current(), SIGUSR1, side_handler, s);
}

static int side_remove(void *arg, void **result)
{
	return ringo_signal_remove(ringo_loop_current(), SIGUSR1);
}

/* Run fn(s) as a task on s's loop and return its outcome. */
static int on_side(struct side *s, ringo_task_fn *fn)
{
	ringo_tsfuture *f;
	assert_int_equal(ringo_spawn_threadsafe(ringo_loop_thread_loop(s->lt), fn, s, &f), 0);
	int rc = ringo_tsfuture_result(f, RINGO_SEC(60), NULL);
	ringo_tsfuture_release(f);
	return rc;
}

static void wait_hits(struct side *s, int n)
{
	for (int i = 0; i < 60000 && atomic_load(&s->hits) < n; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&s->hits), n);
}

static void test_two_loops_on_two_threads_one_receives_each_signal(void **state)
{
	set_default(SIGUSR1);
	struct side a = {0}, b = {0};
	assert_int_equal(ringo_loop_thread_start(NULL, &a.lt), 0);
	assert_int_equal(ringo_loop_thread_start(NULL, &b.lt), 0);
	assert_int_equal(on_side(&a, side_add), 0);
	assert_int_equal(on_side(&b, side_add), -EBUSY);
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	wait_hits(&a, 1);
	assert_int_equal(on_side(&b, side_remove), -ENOENT);
	assert_int_equal(atomic_load(&b.hits), 0);
	/* Hand it over. */
	assert_int_equal(on_side(&a, side_remove), 0);
	assert_int_equal(on_side(&b, side_add), 0);
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	wait_hits(&b, 1);
	assert_int_equal(on_side(&a, side_remove), -ENOENT);
	assert_int_equal(atomic_load(&a.hits), 1);
	assert_int_equal(on_side(&b, side_remove), 0);
	assert_int_equal(atomic_load(&a.wrong_thread) + atomic_load(&b.wrong_thread), 0);
	assert_int_equal(ringo_loop_thread_free(a.lt), 0);
	assert_int_equal(ringo_loop_thread_free(b.lt), 0);
	assert_true(disposition(SIGUSR1).sa_handler == SIG_DFL);
}

/* ---- with ringo_run ---- */

static int run_main(void *arg, void **result)
{
	struct hits *h = arg;
	assert_int_equal(ringo_signal_add(ringo_loop_current(), SIGTERM, on_hit, h), 0);
	ringo_event ev;
	ringo_event_init(&ev);
	h->ev = &ev;
	kill(getpid(), SIGTERM);
	int rc = wait_event(&ev);
	h->ev = NULL;
	return rc; /* the handler stays: ringo_run's close releases it */
}

static void test_ringo_run_handles_sigterm_and_its_close_restores_it(void **state)
{
	set_default(SIGTERM);
	struct hits h = {.signo = SIGTERM};
	assert_int_equal(ringo_run(run_main, &h, NULL, NULL), 0);
	assert_int_equal(h.n, 1);
	assert_true(disposition(SIGTERM).sa_handler == SIG_DFL);
}

/* ---- ringo_signal_wait ---- */

struct waiter {
	sigset_t set;
	int rc;
	int raise_signo;        /* the raiser's signal */
	int raise_second;       /* raised right after, if not 0 */
	ringo_task *cancel;     /* the raiser cancels this task instead of waiting */
};

static int wait_body(void *arg, void **result)
{
	struct waiter *w = arg;
	/* A hang guard: a lost signal fails the test instead. */
	ringo_timeout to;
	assert_int_equal(ringo_timeout_enter(&to, RINGO_SEC(30)), 0);
	w->rc = ringo_timeout_exit(&to, ringo_signal_wait(&w->set));
	return w->rc < 0 ? w->rc : 0;
}

/* Raises once the waiter is registered (ringo's handler installed). */
static int raiser_body(void *arg, void **result)
{
	struct waiter *w = arg;
	while (disposition(w->raise_signo).sa_handler == SIG_DFL ||
	       is_old_handler(w->raise_signo))
		ringo_sleep(0);
	if (w->cancel)
		ringo_task_cancel(w->cancel, NULL);
	raise(w->raise_signo);
	if (w->raise_second)
		raise(w->raise_second);
	return 0;
}

static void run_wait_and_raise(struct waiter *w, bool cancel)
{
	ringo_task *t, *r;
	assert_int_equal(ringo_spawn(fx_loop, wait_body, w, NULL, &t), 0);
	w->cancel = cancel ? t : NULL;
	assert_int_equal(ringo_spawn(fx_loop, raiser_body, w, NULL, &r), 0);
	assert_int_equal(ringo_loop_run_until_complete(fx_loop, ringo_task_future(t), NULL),
			 cancel ? -ECANCELED : 0);
	assert_int_equal(ringo_loop_run_until_complete(fx_loop, ringo_task_future(r), NULL), 0);
	ringo_task_release(t);
	ringo_task_release(r);
}

static void test_signal_wait_returns_the_signal_that_came(void **state)
{
	set_default(SIGUSR1);
	set_default(SIGUSR2);
	struct waiter w = {.raise_signo = SIGUSR2};
	sigemptyset(&w.set);
	sigaddset(&w.set, SIGUSR1);
	sigaddset(&w.set, SIGUSR2);
	run_wait_and_raise(&w, false);
	assert_int_equal(w.rc, SIGUSR2);
	/* Registered for the call only. */
	assert_true(disposition(SIGUSR1).sa_handler == SIG_DFL);
	assert_true(disposition(SIGUSR2).sa_handler == SIG_DFL);
}

static void test_signal_wait_and_a_handler_both_see_the_signal(void **state)
{
	set_default(SIGUSR1);
	struct hits h = {.signo = SIGUSR1};
	assert_int_equal(ringo_signal_add(fx_loop, SIGUSR1, on_hit, &h), 0);
	struct waiter w = {.raise_signo = SIGUSR1};
	sigemptyset(&w.set);
	sigaddset(&w.set, SIGUSR1);
	/* The raiser cannot tell the waiter's registration from the handler's:
	 * wait until the waiter is in. */
	ringo_task *t;
	assert_int_equal(ringo_spawn(fx_loop, wait_body, &w, NULL, &t), 0);
	while (ringo_task_state(t) != RINGO_TASK_SUSPENDED)
		iterate(fx_loop);
	raise(SIGUSR1);
	assert_int_equal(ringo_loop_run_until_complete(fx_loop, ringo_task_future(t), NULL), 0);
	ringo_task_release(t);
	assert_int_equal(w.rc, SIGUSR1);
	while (h.n == 0)
		iterate(fx_loop);
	assert_int_equal(h.n, 1);
	/* The handler still holds it after the wait. */
	assert_true(disposition(SIGUSR1).sa_handler != SIG_DFL);
	assert_int_equal(ringo_signal_remove(fx_loop, SIGUSR1), 0);
	assert_true(disposition(SIGUSR1).sa_handler == SIG_DFL);
}

/* Cancelled as the signal comes: the call returns -ECANCELED and the
 * signal goes to the disposition that was there before. */
static void test_a_signal_a_cancelled_wait_did_not_take_goes_to_the_old_handler(void **state)
{
	struct sigaction before = install_old_handler(SIGUSR1);
	struct waiter w = {.raise_signo = SIGUSR1};
	sigemptyset(&w.set);
	sigaddset(&w.set, SIGUSR1);
	run_wait_and_raise(&w, true);
	assert_int_equal(w.rc, -ECANCELED);
	assert_int_equal(atomic_load(&old_handler_hits[SIGUSR1]), 1);
	assert_true(is_old_handler(SIGUSR1));
	sigaction(SIGUSR1, &before, NULL);
}

/* Two signals of the set in one go: the call returns one, the other goes
 * to the old disposition when the call releases the set. */
static void test_a_second_signal_of_the_set_goes_to_the_old_handler(void **state)
{
	struct sigaction b1 = install_old_handler(SIGUSR1);
	struct sigaction b2 = install_old_handler(SIGUSR2);
	struct waiter w = {.raise_signo = SIGUSR1, .raise_second = SIGUSR2};
	sigemptyset(&w.set);
	sigaddset(&w.set, SIGUSR1);
	sigaddset(&w.set, SIGUSR2);
	run_wait_and_raise(&w, false);
	assert_int_equal(w.rc, SIGUSR1);
	assert_int_equal(atomic_load(&old_handler_hits[SIGUSR1]), 0);
	assert_int_equal(atomic_load(&old_handler_hits[SIGUSR2]), 1);
	sigaction(SIGUSR1, &b1, NULL);
	sigaction(SIGUSR2, &b2, NULL);
}

static void run_until_suspended(ringo_task *t)
{
	while (ringo_task_state(t) != RINGO_TASK_SUSPENDED)
		iterate(fx_loop);
}

static void finish(ringo_task *t, int expect)
{
	assert_int_equal(ringo_loop_run_until_complete(fx_loop, ringo_task_future(t), NULL), expect);
	ringo_task_release(t);
}

static void test_every_task_waiting_for_a_signal_gets_it(void **state)
{
	set_default(SIGUSR1);
	struct waiter w[3];
	ringo_task *t[3];
	for (int i = 0; i < 3; i++) {
		w[i] = (struct waiter){0};
		sigemptyset(&w[i].set);
		sigaddset(&w[i].set, SIGUSR1);
		if (i == 2)
			sigaddset(&w[i].set, SIGUSR2);
		assert_int_equal(ringo_spawn(fx_loop, wait_body, &w[i], NULL, &t[i]), 0);
		run_until_suspended(t[i]);
	}
	raise(SIGUSR1);
	for (int i = 0; i < 3; i++) {
		finish(t[i], 0);
		assert_int_equal(w[i].rc, SIGUSR1);
	}
	assert_true(disposition(SIGUSR1).sa_handler == SIG_DFL);
	assert_true(disposition(SIGUSR2).sa_handler == SIG_DFL);
}

/* A signal the loop collects while its only waiter has been woken (by
 * another signal) and has not returned yet is not lost: a wait that
 * starts meanwhile takes it. */
static void test_a_signal_collected_between_waits_goes_to_the_next_wait(void **state)
{
	struct sigaction before = install_old_handler(SIGUSR2);
	set_default(SIGUSR1);
	struct waiter a = {0}, d = {0};
	sigemptyset(&a.set);
	sigaddset(&a.set, SIGUSR1);
	sigaddset(&a.set, SIGUSR2);
	sigemptyset(&d.set);
	sigaddset(&d.set, SIGUSR2);
	ringo_task *ta, *td;
	assert_int_equal(ringo_spawn(fx_loop, wait_body, &a, NULL, &ta), 0);
	run_until_suspended(ta);
	/* Both counted for the loop now; d is queued before a wakes. */
	raise(SIGUSR1);
	raise(SIGUSR2);
	assert_int_equal(ringo_spawn(fx_loop, wait_body, &d, NULL, &td), 0);
	finish(td, 0);
	finish(ta, 0);
	assert_int_equal(a.rc, SIGUSR1);
	assert_int_equal(d.rc, SIGUSR2);
	assert_int_equal(atomic_load(&old_handler_hits[SIGUSR2]), 0);
	assert_true(is_old_handler(SIGUSR2));
	sigaction(SIGUSR2, &before, NULL);
}

static int timeout_body(void *arg, void **result)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	ringo_timeout to;
	assert_int_equal(ringo_timeout_enter(&to, RINGO_MSEC(5)), 0);
	int rc = ringo_signal_wait(&set);
	return ringo_timeout_exit(&to, rc);
}

static void test_signal_wait_under_a_timeout_scope_times_out(void **state)
{
	set_default(SIGUSR1);
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, timeout_body, NULL, NULL, &t), 0);
	assert_int_equal(ringo_loop_run_until_complete(loop, ringo_task_future(t), NULL),
			 -ETIMEDOUT);
	ringo_task_release(t);
	assert_true(disposition(SIGUSR1).sa_handler == SIG_DFL);
	test_loop_free(loop, &ca);
}

static int busy_wait_body(void *arg, void **result)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGUSR1);
	return ringo_signal_wait(&set);
}

static void test_signal_wait_for_a_signal_another_loop_holds_is_ebusy(void **state)
{
	set_default(SIGUSR1);
	set_default(SIGUSR2);
	struct counting_allocator ca;
	ringo_loop *other = test_loop_new(&ca, 0);
	struct hits h = {0};
	assert_int_equal(ringo_signal_add(other, SIGUSR2, on_hit, &h), 0);
	assert_int_equal(fx_run_task(busy_wait_body, NULL), -EBUSY);
	/* All or nothing: SIGUSR1, taken first, was given back. */
	assert_true(disposition(SIGUSR1).sa_handler == SIG_DFL);
	test_loop_free(other, &ca);
	assert_true(disposition(SIGUSR2).sa_handler == SIG_DFL);
}

static int bad_sets_body(void *arg, void **result)
{
	sigset_t set;
	assert_int_equal(ringo_signal_wait(NULL), -EINVAL);
	sigemptyset(&set);
	assert_int_equal(ringo_signal_wait(&set), -EINVAL);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGKILL);
	assert_int_equal(ringo_signal_wait(&set), -EINVAL);
	sigfillset(&set);
	assert_int_equal(ringo_signal_wait(&set), -EINVAL);
	return 0;
}

static void test_signal_wait_refuses_bad_sets_and_callers_outside_a_task(void **state)
{
	assert_int_equal(fx_run_task(bad_sets_body, NULL), 0);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	assert_int_equal(ringo_signal_wait(&set), -EPERM);
}

static int cancelled_first_body(void *arg, void **result)
{
	ringo_task_cancel(ringo_task_current(), NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	int rc = ringo_signal_wait(&set);
	assert_int_equal(rc, -ECANCELED);
	/* Taken once: the next suspension is not cancelled again. */
	ringo_task_uncancel(ringo_task_current());
	assert_int_equal(ringo_sleep(0), 0);
	return 0;
}

static void test_signal_wait_with_a_cancel_pending_registers_nothing(void **state)
{
	set_default(SIGUSR1);
	assert_int_equal(fx_run_task(cancelled_first_body, NULL), 0);
	assert_true(disposition(SIGUSR1).sa_handler == SIG_DFL);
}

/* ---- an example: cat ---- */

/* True once process pid has a handler for signo (SigCgt). */
static bool catches(pid_t pid, int signo)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	unsigned long long mask = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SigCgt: %llx", &mask) == 1)
			break;
	fclose(f);
	return mask & (1ull << (signo - 1));
}

/* True once process pid runs the program whose path ends with name (it
 * went through exec: before, a parent under valgrind shows valgrind's
 * handlers for every signal). */
static bool runs(pid_t pid, const char *name)
{
	char path[64], exe[512];
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = 0;
	size_t k = strlen(name);
	return (size_t)n >= k && strcmp(exe + n - k, name) == 0;
}

/* cat blocked reading a pipe that stays open: SIGINT or SIGTERM cancels
 * the read and it exits with 130, as a shell's interrupted command. */
static void test_cat_exits_130_on_sigint_and_sigterm(void **state)
{
	char path[256];
	build_path("examples/cat", path, sizeof(path));
	const int sigs[] = {SIGINT, SIGTERM};
	for (int i = 0; i < 2; i++) {
		int in[2];
		assert_int_equal(pipe2(in, O_CLOEXEC), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			int null = open("/dev/null", O_WRONLY);
			dup2(in[0], 0);
			dup2(null, 1);
			execl(path, path, (char *)NULL);
			_exit(127);
		}
		close(in[0]);
		/* Its handlers are in once its loop runs; before, the default
		 * action would just kill it. */
		for (int k = 0; k < 30000 && !(runs(pid, "/examples/cat") && catches(pid, SIGINT) &&
					       catches(pid, SIGTERM));
		     k++)
			usleep(1000);
		assert_int_equal(kill(pid, sigs[i]), 0);
		int st;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		close(in[1]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 130);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_signal_add_runs_the_handler_as_a_loop_callback, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_sigusr1_sighup_sigterm_each_run_their_own_handler, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_each_delivery_runs_the_handler_once, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_signal_add_again_replaces_the_handler, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_remove_restores_a_previous_handler_with_its_flags_and_mask, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_remove_restores_sig_ign, fx_setup, fx_teardown),
		cmocka_unit_test(test_loop_close_restores_every_disposition),
		cmocka_unit_test_setup_teardown(test_a_handler_may_remove_itself_and_is_not_called_again, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_remove_drops_deliveries_whose_handler_has_not_run, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_signal_add_refuses_bad_arguments, fx_setup, fx_teardown),
		cmocka_unit_test(test_signal_add_on_a_closed_loop_is_eshutdown),
		cmocka_unit_test(test_signal_add_out_of_memory_leaves_the_disposition_alone),
		cmocka_unit_test_setup_teardown(test_a_signal_held_by_another_loop_is_ebusy, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_a_loop_busy_with_callbacks_still_sees_a_signal, fx_setup, fx_teardown),
		cmocka_unit_test(test_a_signal_wakes_a_loop_asleep_in_the_kernel),
		cmocka_unit_test(test_two_loops_on_two_threads_one_receives_each_signal),
		cmocka_unit_test(test_ringo_run_handles_sigterm_and_its_close_restores_it),
		cmocka_unit_test_setup_teardown(test_signal_wait_returns_the_signal_that_came, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_signal_wait_and_a_handler_both_see_the_signal, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_a_signal_a_cancelled_wait_did_not_take_goes_to_the_old_handler, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_a_second_signal_of_the_set_goes_to_the_old_handler, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_every_task_waiting_for_a_signal_gets_it, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_a_signal_collected_between_waits_goes_to_the_next_wait, fx_setup, fx_teardown),
		cmocka_unit_test(test_signal_wait_under_a_timeout_scope_times_out),
		cmocka_unit_test_setup_teardown(test_signal_wait_for_a_signal_another_loop_holds_is_ebusy, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_signal_wait_refuses_bad_sets_and_callers_outside_a_task, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_signal_wait_with_a_cancel_pending_registers_nothing, fx_setup, fx_teardown),
		cmocka_unit_test(test_cat_exits_130_on_sigint_and_sigterm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
