/* Task-local context (asyncio's contextvars): keys, per-task values,
 * inheritance by copy at spawn, executor calls, destructors counted. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* ---- counted values: destroy frees and counts, so a double destroy is
 * a double free (ASan, valgrind) and a missing one a leak and a count ---- */

static atomic_int destroyed;

struct val {
	int id;
};

static void *val_new(int id)
{
	struct val *v = malloc(sizeof(*v));
	assert_non_null(v);
	v->id = id;
	return v;
}

static int val_id(void *p)
{
	return p ? ((struct val *)p)->id : -1;
}

static void val_destroy(void *p)
{
	free(p);
	atomic_fetch_add(&destroyed, 1);
}

static ringo_context_key *key_a, *key_b;

static int setup(void **state)
{
	atomic_store(&destroyed, 0);
	assert_int_equal(ringo_context_key_new(val_destroy, &key_a), 0);
	assert_int_equal(ringo_context_key_new(val_destroy, &key_b), 0);
	return fx_setup(state);
}

static int teardown(void **state)
{
	ringo_context_key_free(key_a);
	ringo_context_key_free(key_b);
	return fx_teardown(state);
}

/* ---- basics ---- */

static int basics_body(void *arg, void **result)
{
	assert_null(ringo_context_get(key_a));
	assert_null(ringo_context_get(NULL));
	assert_int_equal(ringo_context_set(NULL, arg), -EINVAL);
	assert_int_equal(ringo_context_set(key_a, val_new(1)), 0);
	assert_int_equal(val_id(ringo_context_get(key_a)), 1);
	assert_null(ringo_context_get(key_b));
	/* Replacing a value nobody else sees destroys it at once. */
	assert_int_equal(ringo_context_set(key_a, val_new(2)), 0);
	assert_int_equal(val_id(ringo_context_get(key_a)), 2);
	assert_int_equal(atomic_load(&destroyed), 1);
	/* Removing likewise; removing an unset key is a no-op. */
	assert_int_equal(ringo_context_set(key_b, val_new(3)), 0);
	assert_int_equal(ringo_context_set(key_b, NULL), 0);
	assert_null(ringo_context_get(key_b));
	assert_int_equal(atomic_load(&destroyed), 2);
	assert_int_equal(ringo_context_set(key_b, NULL), 0);
	/* What the task still holds goes when it finishes. */
	return 0;
}

static void test_context_set_get_replace_remove(void **state)
{
	assert_int_equal(fx_run_task(basics_body, NULL), 0);
	assert_int_equal(atomic_load(&destroyed), 3);
}

static int ten_calls = 0;

static void count_destroy(void *p)
{
	ten_calls++;
}

/* A key without destructor borrows its values; with one, it is called
 * once per value, never for NULL. */
static int borrowed_body(void *arg, void **result)
{
	ringo_context_key *k;
	assert_int_equal(ringo_context_key_new(NULL, &k), 0);
	int x = 5;
	assert_int_equal(ringo_context_set(k, &x), 0);
	assert_ptr_equal(ringo_context_get(k), &x);
	assert_int_equal(ringo_context_set(k, NULL), 0);
	ringo_context_key_free(k);

	assert_int_equal(ringo_context_key_new(count_destroy, &k), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(ringo_context_set(k, &x), 0); /* each replaces the last */
	assert_int_equal(ten_calls, 9);
	assert_int_equal(ringo_context_set(k, NULL), 0);
	assert_int_equal(ten_calls, 10);
	ringo_context_key_free(k);
	return 0;
}

static void test_context_borrowed_values_and_one_destroy_per_set(void **state)
{
	ten_calls = 0;
	assert_int_equal(fx_run_task(borrowed_body, NULL), 0);
	assert_int_equal(ten_calls, 10);
	assert_int_equal(ringo_context_key_new(NULL, NULL), -EINVAL);
}

/* ---- inheritance ---- */

struct family {
	int child_saw;           /* key_a in the child at its start */
	int child_saw_after;     /* ... after the parent's later set */
	int parent_saw_after;    /* key_a in the parent after the child's set */
	ringo_event parent_set, child_set;
};

static int child_body(void *arg, void **result)
{
	struct family *f = arg;
	f->child_saw = val_id(ringo_context_get(key_a));
	assert_int_equal(ringo_context_set(key_a, val_new(20)), 0);
	ringo_event_set(&f->child_set);
	assert_int_equal(ringo_event_wait(&f->parent_set), 0);
	f->child_saw_after = val_id(ringo_context_get(key_a));
	return 0;
}

static int parent_body(void *arg, void **result)
{
	struct family *f = arg;
	assert_int_equal(ringo_context_set(key_a, val_new(10)), 0);
	ringo_task *c;
	assert_int_equal(ringo_spawn(ringo_loop_current(), child_body, f, NULL, &c), 0);
	assert_int_equal(ringo_event_wait(&f->child_set), 0);
	f->parent_saw_after = val_id(ringo_context_get(key_a));
	assert_int_equal(ringo_context_set(key_a, val_new(11)), 0);
	ringo_event_set(&f->parent_set);
	assert_int_equal(ringo_await(ringo_task_future(c), NULL), 0);
	ringo_task_release(c);
	assert_int_equal(val_id(ringo_context_get(key_a)), 11);
	return 0;
}

static void test_context_child_gets_a_copy_at_spawn(void **state)
{
	struct family f = {0};
	ringo_event_init(&f.parent_set);
	ringo_event_init(&f.child_set);
	assert_int_equal(fx_run_task(parent_body, &f), 0);
	assert_int_equal(f.child_saw, 10);
	assert_int_equal(f.parent_saw_after, 10);  /* the child's set is its own */
	assert_int_equal(f.child_saw_after, 20);   /* the parent's later set is not seen */
	/* 10 (replaced by the parent once the child had its own), 11, 20. */
	assert_int_equal(atomic_load(&destroyed), 3);
}

/* A value shared by a parent and children that never touch it is
 * destroyed once, when the last of them finishes. */
static ringo_event release_kid[3];

static int kid_body(void *arg, void **result)
{
	assert_int_equal(val_id(ringo_context_get(key_a)), 7);
	assert_int_equal(ringo_event_wait(&release_kid[RINGO_INT(arg)]), 0);
	assert_int_equal(atomic_load(&destroyed), 0);
	assert_int_equal(val_id(ringo_context_get(key_a)), 7);
	return 0;
}

static int shared_parent(void *arg, void **result)
{
	ringo_task **kids = arg;
	assert_int_equal(ringo_context_set(key_a, val_new(7)), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ringo_spawn(ringo_loop_current(), kid_body, RINGO_PTR(i), NULL,
					     &kids[i]), 0);
	return 0; /* finishes first: the children still see the value */
}

static int shared_main(void *arg, void **result)
{
	ringo_task *kids[3], *p;
	for (int i = 0; i < 3; i++)
		ringo_event_init(&release_kid[i]);
	assert_int_equal(ringo_spawn(ringo_loop_current(), shared_parent, kids, NULL, &p), 0);
	assert_int_equal(ringo_await(ringo_task_future(p), NULL), 0);
	ringo_task_release(p);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(atomic_load(&destroyed), 0);
		ringo_event_set(&release_kid[i]);
		assert_int_equal(ringo_await(ringo_task_future(kids[i]), NULL), 0);
		ringo_task_release(kids[i]);
	}
	/* The last one out let go of it, before this task resumed. */
	assert_int_equal(atomic_load(&destroyed), 1);
	return 0;
}

static void test_context_shared_value_destroyed_once_after_last_task(void **state)
{
	assert_int_equal(fx_run_task(shared_main, NULL), 0);
	assert_int_equal(atomic_load(&destroyed), 1);
}

/* ---- no context outside tasks ---- */

struct outside {
	void *got;
	int set_rc;
	int ran;
};

static void outside_cb(void *arg)
{
	struct outside *o = arg;
	o->got = ringo_context_get(key_a);
	o->set_rc = ringo_context_set(key_a, o);
	o->ran++;
}

static void outside_done_cb(ringo_future *fut, void *arg)
{
	outside_cb(arg);
}

static int spawns_callbacks(void *arg, void **result)
{
	struct outside *o = arg;
	assert_int_equal(ringo_context_set(key_a, val_new(1)), 0);
	assert_int_equal(ringo_call_soon(ringo_loop_current(), outside_cb, &o[0], NULL), 0);
	ringo_future *f;
	assert_int_equal(ringo_future_new(ringo_loop_current(), &f), 0);
	assert_int_equal(ringo_future_add_done_callback(f, outside_done_cb, &o[1]), 0);
	assert_int_equal(ringo_future_set_result(f, NULL), 0);
	ringo_future_release(f);
	assert_int_equal(ringo_sleep(0), 0);
	assert_int_equal(ringo_sleep(0), 0);
	return 0;
}

static void test_context_callbacks_see_none_and_cannot_set(void **state)
{
	struct outside o[2] = {{0}};
	assert_int_equal(fx_run_task(spawns_callbacks, o), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(o[i].ran, 1);
		assert_null(o[i].got);
		assert_int_equal(o[i].set_rc, -EPERM);
	}
	/* Outside any loop too. */
	assert_null(ringo_context_get(key_a));
	assert_int_equal(ringo_context_set(key_a, o), -EPERM);
}

static int reads_a(void *arg, void **result)
{
	*result = ringo_context_get(key_a);
	return 0;
}

static void spawn_from_cb(void *arg)
{
	ringo_task **t = arg;
	assert_int_equal(ringo_spawn(fx_loop, reads_a, NULL, NULL, t), 0);
}

static int callback_spawner(void *arg, void **result)
{
	assert_int_equal(ringo_context_set(key_a, val_new(1)), 0);
	assert_int_equal(ringo_call_soon(ringo_loop_current(), spawn_from_cb, arg, NULL), 0);
	assert_int_equal(ringo_sleep(0), 0);
	ringo_task **t = arg;
	assert_non_null(*t);
	void *v = (void *)1;
	assert_int_equal(ringo_await(ringo_task_future(*t), &v), 0);
	*result = v;
	return 0;
}

static void test_context_task_spawned_from_callback_starts_empty(void **state)
{
	ringo_task *t = NULL, *m;
	assert_int_equal(ringo_spawn(fx_loop, callback_spawner, &t, NULL, &m), 0);
	void *v = (void *)1;
	assert_int_equal(ringo_loop_run_until_complete(fx_loop, ringo_task_future(m), &v), 0);
	assert_null(v);
	ringo_task_release(m);
	ringo_task_release(t);
	assert_int_equal(atomic_load(&destroyed), 1);
}

/* ---- executor calls ---- */

static int worker_reads_and_sets(void *arg, void **result)
{
	int *seen = arg;
	seen[0] = val_id(ringo_context_get(key_a));
	/* Private to this call: a new value, and a replaced inherited one. */
	assert_int_equal(ringo_context_set(key_b, val_new(50)), 0);
	assert_int_equal(ringo_context_set(key_a, val_new(51)), 0);
	seen[1] = val_id(ringo_context_get(key_b));
	seen[2] = val_id(ringo_context_get(key_a));
	assert_int_equal(ringo_context_set(key_b, val_new(52)), 0); /* 50 goes now */
	seen[3] = atomic_load(&destroyed);
	return 0;
}

static int to_thread_body(void *arg, void **result)
{
	int seen[4] = {0};
	assert_int_equal(ringo_context_set(key_a, val_new(5)), 0);
	assert_int_equal(ringo_to_thread(worker_reads_and_sets, seen, NULL), 0);
	assert_int_equal(seen[0], 5);
	assert_int_equal(seen[1], 50);
	assert_int_equal(seen[2], 51);
	assert_int_equal(seen[3], 1);
	/* The call's values died with it (on the worker); ours is intact. */
	assert_int_equal(atomic_load(&destroyed), 3);
	assert_int_equal(val_id(ringo_context_get(key_a)), 5);
	assert_null(ringo_context_get(key_b));
	return 0;
}

static void test_context_to_thread_sees_task_context_sets_are_private(void **state)
{
	assert_int_equal(fx_run_task(to_thread_body, NULL), 0);
	assert_int_equal(atomic_load(&destroyed), 4);
}

struct snap {
	sem_t go;
	int seen;
};

static int worker_waits_then_reads(void *arg, void **result)
{
	struct snap *s = arg;
	while (sem_wait(&s->go) != 0)
		;
	s->seen = val_id(ringo_context_get(key_a));
	return 0;
}

static int executor_snapshot_body(void *arg, void **result)
{
	struct snap *s = arg;
	assert_int_equal(ringo_context_set(key_a, val_new(1)), 0);
	ringo_future *f;
	assert_int_equal(ringo_run_in_executor(ringo_loop_current(), NULL, worker_waits_then_reads,
					       s, &f), 0);
	/* The job holds the context as it was: this set copies it. */
	assert_int_equal(ringo_context_set(key_a, val_new(2)), 0);
	assert_int_equal(atomic_load(&destroyed), 0);
	sem_post(&s->go);
	assert_int_equal(ringo_await(f, NULL), 0);
	ringo_future_release(f);
	assert_int_equal(s->seen, 1);
	/* The job was freed on the loop thread before the await returned:
	 * value 1 is seen by nobody any more. */
	assert_int_equal(atomic_load(&destroyed), 1);
	return 0;
}

static void test_context_run_in_executor_sees_context_at_submission(void **state)
{
	struct snap s;
	sem_init(&s.go, 0, 0);
	s.seen = 0;
	assert_int_equal(fx_run_task(executor_snapshot_body, &s), 0);
	sem_destroy(&s.go);
	assert_int_equal(atomic_load(&destroyed), 2);
}

static int worker_in_empty_context(void *arg, void **result)
{
	int *seen = arg;
	seen[0] = ringo_context_get(key_a) != NULL;
	seen[1] = ringo_context_set(key_a, val_new(9));
	seen[2] = val_id(ringo_context_get(key_a));
	return 0;
}

static void submit_from_cb(void *arg)
{
	ringo_future **f = arg;
	assert_int_equal(ringo_run_in_executor(fx_loop, NULL, worker_in_empty_context, f[1], &f[0]),
			 0);
}

/* From a callback there is no context: the call starts empty, and may
 * still set values of its own. */
static void test_context_run_in_executor_from_callback_starts_empty(void **state)
{
	int seen[3] = {-1, -1, -1};
	ringo_future *f[2] = {NULL, (ringo_future *)seen};
	assert_int_equal(ringo_call_soon(fx_loop, submit_from_cb, f, NULL), 0);
	ringo_loop_stop(fx_loop);
	assert_int_equal(ringo_loop_run_forever(fx_loop), 0); /* one iteration */
	assert_non_null(f[0]);
	assert_int_equal(ringo_loop_run_until_complete(fx_loop, f[0], NULL), 0);
	ringo_future_release(f[0]);
	assert_int_equal(seen[0], 0);
	assert_int_equal(seen[1], 0);
	assert_int_equal(seen[2], 9);
	assert_int_equal(atomic_load(&destroyed), 1);
}

/* A task spawned thread-safe (here from a worker that sees a context)
 * starts with none: the loop spawns it from a callback. */
static int spawns_threadsafe(void *arg, void **result)
{
	void **got = arg;
	got[0] = RINGO_PTR(val_id(ringo_context_get(key_a)));
	ringo_tsfuture *tf;
	assert_int_equal(ringo_spawn_threadsafe(got[2], reads_a, NULL, &tf), 0);
	void *v = (void *)1;
	assert_int_equal(ringo_tsfuture_result(tf, -1, &v), 0);
	ringo_tsfuture_release(tf);
	got[1] = v;
	return 0;
}

static int threadsafe_body(void *arg, void **result)
{
	assert_int_equal(ringo_context_set(key_a, val_new(3)), 0);
	assert_int_equal(ringo_to_thread(spawns_threadsafe, arg, NULL), 0);
	return 0;
}

static void test_context_spawn_threadsafe_task_starts_empty(void **state)
{
	void *got[3] = {NULL, (void *)1, fx_loop};
	assert_int_equal(fx_run_task(threadsafe_body, got), 0);
	assert_int_equal(RINGO_INT(got[0]), 3);
	assert_null(got[1]);
}

/* ---- groups, gather: children of a task inherit ---- */

static int group_child(void *arg, void **result)
{
	*result = RINGO_PTR(val_id(ringo_context_get(key_a)));
	assert_int_equal(ringo_context_set(key_a, val_new(100)), 0);
	return 0;
}

static int group_body(void *arg, void **result)
{
	assert_int_equal(ringo_context_set(key_a, val_new(4)), 0);
	ringo_group g;
	assert_int_equal(ringo_group_init(&g), 0);
	ringo_task *t[3];
	for (int i = 0; i < 3; i++)
		assert_int_equal(ringo_group_spawn(&g, group_child, NULL, NULL, &t[i]), 0);
	assert_int_equal(ringo_group_wait(&g, 0, NULL, 0, NULL), 0);
	for (int i = 0; i < 3; i++) {
		void *v;
		assert_int_equal(ringo_future_result(ringo_task_future(t[i]), &v), 0);
		assert_int_equal(RINGO_INT(v), 4);
		ringo_task_release(t[i]);
	}
	assert_int_equal(val_id(ringo_context_get(key_a)), 4);
	assert_int_equal(atomic_load(&destroyed), 3);
	return 0;
}

static void test_context_group_children_inherit(void **state)
{
	assert_int_equal(fx_run_task(group_body, NULL), 0);
	assert_int_equal(atomic_load(&destroyed), 4);
}

/* ---- many keys ---- */

static int many_keys_body(void *arg, void **result)
{
	enum { N = 64 };
	ringo_context_key *k[N];
	for (int i = 0; i < N; i++)
		assert_int_equal(ringo_context_key_new(val_destroy, &k[i]), 0);
	/* In a scrambled order, so inserts land everywhere in the map. */
	for (int j = 0; j < N; j++) {
		int i = (j * 37) % N;
		assert_int_equal(ringo_context_set(k[i], val_new(i)), 0);
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(val_id(ringo_context_get(k[i])), i);
	for (int i = 0; i < N; i += 2)
		assert_int_equal(ringo_context_set(k[i], NULL), 0);
	assert_int_equal(atomic_load(&destroyed), N / 2);
	for (int i = 0; i < N; i++)
		assert_int_equal(val_id(ringo_context_get(k[i])), i % 2 ? i : -1);
	/* A child sees the same, and its edits copy. */
	ringo_task *c;
	assert_int_equal(ringo_spawn(ringo_loop_current(), group_child, NULL, NULL, &c), 0);
	assert_int_equal(ringo_await(ringo_task_future(c), NULL), 0);
	ringo_task_release(c);
	for (int i = 0; i < N; i++) {
		assert_int_equal(val_id(ringo_context_get(k[i])), i % 2 ? i : -1);
		ringo_context_key_free(k[i]); /* values still held stay */
	}
	return 0;
}

static void test_context_many_keys_insert_remove(void **state)
{
	assert_int_equal(fx_run_task(many_keys_body, NULL), 0);
	assert_int_equal(atomic_load(&destroyed), 64 + 1); /* + the child's own */
}

/* ---- key freed and loop closed while values live ---- */

static int holds_forever(void *arg, void **result)
{
	ringo_context_key *k = arg;
	assert_int_equal(ringo_context_set(k, val_new(1)), 0);
	assert_int_equal(ringo_context_set(key_a, val_new(2)), 0);
	return ringo_sleep(RINGO_SEC(3600));
}

static void test_context_loop_close_destroys_values_of_abandoned_tasks(void **state)
{
	struct counting_allocator ca;
	ringo_loop *loop = test_loop_new(&ca, RINGO_LOOP_VIRTUAL_CLOCK);
	ringo_context_key *k;
	assert_int_equal(ringo_context_key_new(val_destroy, &k), 0);
	ringo_task *t;
	assert_int_equal(ringo_spawn(loop, holds_forever, k, NULL, &t), 0);
	ringo_loop_stop(loop);
	ringo_loop_run_forever(loop); /* one iteration: the task sets and sleeps */
	ringo_context_key_free(k);    /* the task's value keeps its destructor */
	assert_int_equal(atomic_load(&destroyed), 0);
	ringo_task_release(t);
	test_loop_free(loop, &ca);
	assert_int_equal(atomic_load(&destroyed), 2);
}

/* ---- threads: jobs read shared maps while the task copies and drops
 * them (TSan checks the counts and the hand-over) ---- */

static int reader_job(void *arg, void **result)
{
	void *v = ringo_context_get(key_a);
	int id = val_id(v);
	/* A private set on the worker, destroyed there as the call returns. */
	assert_int_equal(ringo_context_set(key_b, val_new(id)), 0);
	*result = RINGO_PTR(id);
	return 0;
}

static int stress_body(void *arg, void **result)
{
	enum { ROUNDS = 200, JOBS = 4 };
	ringo_loop *loop = ringo_loop_current();
	for (int r = 0; r < ROUNDS; r++) {
		ringo_future *f[JOBS];
		for (int j = 0; j < JOBS; j++) {
			assert_int_equal(ringo_context_set(key_a, val_new(r * JOBS + j)), 0);
			assert_int_equal(ringo_run_in_executor(loop, NULL, reader_job, NULL, &f[j]), 0);
		}
		assert_int_equal(ringo_context_set(key_a, NULL), 0);
		for (int j = 0; j < JOBS; j++) {
			void *v;
			assert_int_equal(ringo_await(f[j], &v), 0);
			assert_int_equal(RINGO_INT(v), r * JOBS + j);
			ringo_future_release(f[j]);
		}
	}
	return 0;
}

static void test_context_executor_jobs_race_with_sets(void **state)
{
	assert_int_equal(fx_run_task(stress_body, NULL), 0);
	/* Each round: JOBS values set by the task, JOBS set on workers. */
	assert_int_equal(atomic_load(&destroyed), 200 * 4 * 2);
}

/* ---- a loop run inside an executor call: its tasks inherit the call's
 * context ---- */

static int inner_main(void *arg, void **result)
{
	*result = RINGO_PTR(val_id(ringo_context_get(key_a)));
	return 0;
}

static int runs_a_loop(void *arg, void **result)
{
	return ringo_run(inner_main, NULL, NULL, result);
}

static int nested_body(void *arg, void **result)
{
	assert_int_equal(ringo_context_set(key_a, val_new(8)), 0);
	void *v = NULL;
	assert_int_equal(ringo_to_thread(runs_a_loop, NULL, &v), 0);
	assert_int_equal(RINGO_INT(v), 8);
	return 0;
}

static void test_context_loop_inside_executor_call_inherits(void **state)
{
	assert_int_equal(fx_run_task(nested_body, NULL), 0);
	assert_int_equal(atomic_load(&destroyed), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_context_set_get_replace_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_context_borrowed_values_and_one_destroy_per_set,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_context_child_gets_a_copy_at_spawn, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_context_shared_value_destroyed_once_after_last_task, setup, teardown),
		cmocka_unit_test_setup_teardown(test_context_callbacks_see_none_and_cannot_set,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_context_task_spawned_from_callback_starts_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_context_to_thread_sees_task_context_sets_are_private, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_context_run_in_executor_sees_context_at_submission, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_context_run_in_executor_from_callback_starts_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_context_spawn_threadsafe_task_starts_empty,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_context_group_children_inherit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_context_many_keys_insert_remove, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_context_loop_close_destroys_values_of_abandoned_tasks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_context_executor_jobs_race_with_sets, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_context_loop_inside_executor_call_inherits,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
