/*
 * stack.c - slab-carved task stacks, guard pages, overflow reports.
 */
#include "stack.h"
#include "base.h"
#include "fiber.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102	/* Linux 6.13, <linux/mman.h> may lack it */
#endif

#define DEFAULT_STACK_SIZE	(64u * 1024)
#define DEFAULT_KEEP_HOT	64u
#define DEFAULT_SLAB_STACKS	1024u
#define COMPACT_SLAB_BYTES	(4u << 20)	/* a compact pool's slab, about */
#define COMPACT_ALIGN		64u
#define SLOT_LIVE		0x80u
#define MAP_COUNT_MARGIN	1000	/* maps left for the rest of the program */
#define POPULATE_CHUNK		(64u * 1024)	/* compact stacks faulted in at once */

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23	/* Linux 5.14 */
#endif
#define REGISTRY_MAX		4096	/* slabs the overflow reporter can see */

uintptr_t ringo__stack_canary_key;

/* ---- once-per-process probe ------------------------------------------ */

static struct ringo__stack_probe probed;
static atomic_long mprotect_budget;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

/* True if the kernel refuses to read addr: write(2) from it into a pipe
 * fails with EFAULT instead of faulting us. */
static bool unreadable(const void *addr)
{
	int fds[2];
	bool r;
	char c;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return false;
	r = write(fds[1], addr, 1) < 0 && errno == EFAULT;
	if (!r && read(fds[0], &c, 1) < 0)
		r = false;
	close(fds[0]);
	close(fds[1]);
	return r;
}

static long read_long_file(const char *path)
{
	char buf[32] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

static long count_maps(void)
{
	char buf[512];	/* small: this may run on a task's stack */
	long lines = 0;
	ssize_t n;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
	close(fd);
	return lines;
}

static void probe_madv_guard(size_t page)
{
	char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (m == MAP_FAILED)
		return;
	if (madvise(m, page, MADV_GUARD_INSTALL) == 0 && unreadable(m)) {
		probed.madv_guard = true;
		m[page] = 1;
		madvise(m, 2 * page, MADV_DONTNEED);
		probed.guard_survives_dontneed = unreadable(m);
	}
	munmap(m, 2 * page);
}

static void probe(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const unsigned char *rnd = (const void *)getauxval(AT_RANDOM);
	long budget = 0;

	if (rnd)
		memcpy(&ringo__stack_canary_key, rnd + 8, sizeof(uintptr_t));
	ringo__stack_canary_key |= 1;	/* never 0, so a zeroed page fails */
	probe_madv_guard(page);
	probed.max_map_count = read_long_file("/proc/sys/vm/max_map_count");
	if (probed.max_map_count > 0) {
		/* Each mprotect guard inside a slab splits one VMA into three. */
		budget = (probed.max_map_count - count_maps() -
			  MAP_COUNT_MARGIN) / 2;
		if (budget < 0)
			budget = 0;
	}
	atomic_store(&mprotect_budget, budget);
}

void ringo__stack_probe_info(struct ringo__stack_probe *out)
{
	pthread_once(&probe_once, probe);
	*out = probed;
	out->mprotect_budget = atomic_load(&mprotect_budget);
}

void ringo__stack_test_set_budget(long guards)
{
	pthread_once(&probe_once, probe);
	atomic_store(&mprotect_budget, guards);
}

static bool take_budget(void)
{
	long b = atomic_load_explicit(&mprotect_budget, memory_order_relaxed);

	while (b > 0)
		if (atomic_compare_exchange_weak(&mprotect_budget, &b, b - 1))
			return true;
	return false;
}

/* ---- process-wide slab registry, read by the signal handler ---------- */

/* An entry is published by a release store of base after the other fields
 * are written; the handler reads base with acquire.  claimed serialises
 * writers (pools on different threads). */
struct reg_entry {
	atomic_uintptr_t base;
	atomic_size_t len, stride, page;
	atomic_bool compact;	/* one guard page at base, stacks packed above */
	atomic_int claimed;
};

static struct reg_entry registry[REGISTRY_MAX];
static atomic_int registry_hi;	/* entries [0, hi) may be in use */

static int registry_add(const ringo__stack_pool *p, char *base, size_t len)
{
	RINGO_ASSERT(base != NULL && len > 0);
	for (int i = 0; i < REGISTRY_MAX; i++) {
		struct reg_entry *e = &registry[i];
		int zero = 0, hi;

		if (!atomic_compare_exchange_strong(&e->claimed, &zero, 1))
			continue;
		atomic_store_explicit(&e->len, len, memory_order_relaxed);
		atomic_store_explicit(&e->stride, p->stride, memory_order_relaxed);
		atomic_store_explicit(&e->page, p->page, memory_order_relaxed);
		atomic_store_explicit(&e->compact, p->compact,
				      memory_order_relaxed);
		atomic_store_explicit(&e->base, (uintptr_t)base,
				      memory_order_release);
		hi = atomic_load(&registry_hi);
		while (hi < i + 1 &&
		       !atomic_compare_exchange_weak(&registry_hi, &hi, i + 1))
			;
		return i;
	}
	return -1;	/* full: overflows in this slab go unreported */
}

static void registry_remove(int i)
{
	RINGO_ASSERT(i < REGISTRY_MAX); /* registry_add's index, or -1 */
	if (i < 0)
		return;
	atomic_store_explicit(&registry[i].base, 0, memory_order_release);
	atomic_store_explicit(&registry[i].claimed, 0, memory_order_release);
}

/* ---- overflow reporter ------------------------------------------------ */

static const char *(*_Atomic reporter)(void *stack_hi, bool compact);
static struct sigaction prev_segv, prev_bus;
static __thread void *altstack;		/* ours, if we installed one */
static __thread bool thread_ready;

void ringo__stack_set_reporter(const char *(*name_of)(void *stack_hi, bool compact))
{
	atomic_store(&reporter, name_of);
}

/* Find the guard page containing addr; fills the stack's bounds. */
static bool find_guard(uintptr_t addr, uintptr_t *lo, uintptr_t *hi,
		       bool *compact)
{
	int n = atomic_load_explicit(&registry_hi, memory_order_acquire);

	for (int i = 0; i < n; i++) {
		struct reg_entry *e = &registry[i];
		uintptr_t base = atomic_load_explicit(&e->base,
						      memory_order_acquire);
		size_t len = atomic_load_explicit(&e->len, memory_order_relaxed);
		size_t stride = atomic_load_explicit(&e->stride,
						     memory_order_relaxed);
		size_t page = atomic_load_explicit(&e->page,
						   memory_order_relaxed);

		if (!base || addr < base || addr - base >= len)
			continue;
		*compact = atomic_load_explicit(&e->compact, memory_order_relaxed);
		if (*compact) {
			/* Only the slab's first page is a guard: the lowest
			 * stack ran into it. */
			if (addr - base >= page)
				return false;
			*lo = base + page;
			*hi = *lo + stride;
			return true;
		}
		if ((addr - base) % stride >= page)
			return false;	/* inside a stack, not a guard */
		*lo = addr - (addr - base) % stride + page;
		*hi = *lo + stride - page;
		return true;
	}
	return false;
}

static size_t fmt_hex(char *out, uintptr_t v)
{
	char tmp[2 + 2 * sizeof(v)];
	size_t n = 0, len = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	out[len++] = '0';
	out[len++] = 'x';
	while (n)
		out[len++] = tmp[--n];
	return len;
}

static size_t append(char *buf, size_t len, size_t cap, const char *s)
{
	while (*s && len < cap)
		buf[len++] = *s++;
	return len;
}

__attribute__((noreturn)) static void report_overflow(uintptr_t lo,
						      uintptr_t hi,
						      uintptr_t addr,
						      bool compact)
{
	const char *(*name_of)(void *, bool) = atomic_load(&reporter);
	const char *name = name_of ? name_of((void *)hi, compact) : NULL;
	char buf[512], hex[32];
	size_t n = 0, cap = sizeof(buf) - 1;

	n = append(buf, n, cap, "ringo: stack overflow in task '");
	n = append(buf, n, cap, name ? name : "?");
	n = append(buf, n, cap, "' (stack ");
	hex[fmt_hex(hex, lo)] = 0;
	n = append(buf, n, cap, hex);
	n = append(buf, n, cap, "-");
	hex[fmt_hex(hex, hi)] = 0;
	n = append(buf, n, cap, hex);
	n = append(buf, n, cap, ", fault at ");
	hex[fmt_hex(hex, addr)] = 0;
	n = append(buf, n, cap, hex);
	n = append(buf, n, cap, ")\n");
	if (write(STDERR_FILENO, buf, n) < 0)
		n = 0;
	abort();
}

/* Not ours: hand the fault to whoever had the signal before us. */
static void chain(int sig, siginfo_t *si, void *uc)
{
	const struct sigaction *pa = sig == SIGSEGV ? &prev_segv : &prev_bus;

	if (pa->sa_flags & SA_SIGINFO) {
		pa->sa_sigaction(sig, si, uc);
		return;
	}
	if (pa->sa_handler != SIG_DFL && pa->sa_handler != SIG_IGN) {
		pa->sa_handler(sig);
		return;
	}
	/* Default action: restore it; a hardware fault re-triggers on return,
	 * a sent signal is re-raised. */
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigaction(sig, &dfl, NULL);
	if (si->si_code <= 0)
		raise(sig);
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	uintptr_t addr = (uintptr_t)si->si_addr, lo, hi;
	bool compact = false;

	if (si->si_code > 0 && find_guard(addr, &lo, &hi, &compact))
		report_overflow(lo, hi, addr, compact);
	chain(sig, si, uc);
}

static void install_one(int sig, struct sigaction *prev)
{
	struct sigaction sa = { .sa_sigaction = on_fault,
				.sa_flags = SA_SIGINFO | SA_ONSTACK }, cur;

	if (sigaction(sig, NULL, &cur) < 0)
		return;
	if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_fault)
		return;
	sigemptyset(&sa.sa_mask);
	/* on_fault is not installed for sig right now, so no handler run
	 * can read prev while we write it. */
	*prev = cur;
	sigaction(sig, &sa, NULL);
}

/* (Re)install the fault handler if someone replaced it since: a test
 * harness or a library may install its own SIGSEGV handler after ours.
 * Whatever was there before becomes the handler we chain to. */
static void ensure_handler(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

	pthread_mutex_lock(&lock);
	install_one(SIGSEGV, &prev_segv);
	install_one(SIGBUS, &prev_bus);
	pthread_mutex_unlock(&lock);
}

int ringo__stack_thread_init(void)
{
	stack_t cur, ss;
	size_t size = 64 * 1024;

	ensure_handler();
	if (thread_ready)
		return 0;
	if (sigaltstack(NULL, &cur) < 0)
		return -errno;
	if (!(cur.ss_flags & SS_DISABLE)) {	/* someone (ASan) set one */
		thread_ready = true;
		return 0;
	}
	if ((size_t)sysconf(_SC_SIGSTKSZ) > size)
		size = (size_t)sysconf(_SC_SIGSTKSZ);
	ss.ss_sp = mmap(NULL, size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ss.ss_sp == MAP_FAILED)
		return -ENOMEM;
	ss.ss_size = size;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) < 0) {
		int err = -errno;
		munmap(ss.ss_sp, size);
		return err;
	}
	altstack = ss.ss_sp;
	thread_ready = true;
	return 0;
}

void ringo__stack_thread_fini(void)
{
	stack_t cur, off = { .ss_flags = SS_DISABLE };

	if (altstack && sigaltstack(NULL, &cur) == 0 &&
	    cur.ss_sp == altstack && !(cur.ss_flags & SS_ONSTACK)) {
		sigaltstack(&off, NULL);
		munmap(altstack, cur.ss_size);
	}
	altstack = NULL;
	thread_ready = false;
}

/* ---- the pool ----------------------------------------------------------- */

static size_t round_up(size_t v, size_t to)
{
	RINGO_ASSERT(to > 0);
	return (v + to - 1) / to * to;
}

static int resolve_mode(int mode)
{
	switch (mode) {
	case RINGO__GUARD_AUTO:
		if (probed.madv_guard)
			return RINGO__GUARD_MADV;
		return atomic_load(&mprotect_budget) > 0 ?
			RINGO__GUARD_MPROTECT : RINGO__GUARD_CANARY;
	case RINGO__GUARD_MADV:
		return probed.madv_guard ? mode : -EINVAL;
	case RINGO__GUARD_MPROTECT:
	case RINGO__GUARD_CANARY:
	case RINGO__GUARD_NONE:
		return mode;
	default:
		return -EINVAL;
	}
}

int ringo__stack_pool_init(ringo__stack_pool *p,
			   const struct ringo__stack_options *o)
{
	struct ringo__stack_options d = { 0 };
	int mode;

	pthread_once(&probe_once, probe);
	ensure_handler();
	if (!o)
		o = &d;
	mode = resolve_mode(o->guard_mode);
	if (mode < 0)
		return mode;
	if (o->slab_stacks > UINT32_MAX / 2 || o->keep_hot > UINT32_MAX ||
	    o->stack_size > ((size_t)1 << 40))
		return -EINVAL;
	if (o->compact && (o->guard_mode != RINGO__GUARD_AUTO ||
			   o->stack_size < COMPACT_ALIGN))
		return -EINVAL;
	*p = (ringo__stack_pool){ .page = (size_t)sysconf(_SC_PAGESIZE) };
	if (o->compact) {
		/* Packed: each slot's canary is its only protection. */
		p->compact = true;
		mode = RINGO__GUARD_CANARY;
		p->stack_size = round_up(o->stack_size, COMPACT_ALIGN);
		p->stride = p->stack_size;
		p->slab_stacks = o->slab_stacks ? (uint32_t)o->slab_stacks :
				 (uint32_t)(COMPACT_SLAB_BYTES / p->stride) + 1;
	} else {
		p->stack_size = round_up(o->stack_size ? o->stack_size :
					 DEFAULT_STACK_SIZE, p->page);
		p->stride = p->stack_size + p->page;
		p->slab_stacks = o->slab_stacks ? (uint32_t)o->slab_stacks :
				 DEFAULT_SLAB_STACKS;
	}
	p->keep_hot = o->keep_hot ? (uint32_t)o->keep_hot : DEFAULT_KEEP_HOT;
	p->guard_mode = (uint8_t)mode;
	return 0;
}

/* Reserve one more slab; grows the id and state arrays to match.  Called
 * only when both free lists are empty, so no cold ids need moving. */
/* pidfd of this process for process_madvise, opened once; -1 if none. */
static int self_pidfd(void)
{
	static _Atomic int fd = -2;
	int v = atomic_load(&fd);
	if (v != -2)
		return v;
	int nfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (nfd < 0)
		nfd = -1;
	int expected = -2;
	if (!atomic_compare_exchange_strong(&fd, &expected, nfd)) {
		if (nfd >= 0)
			close(nfd);
		return expected;
	}
	return nfd;
}

/* Guards per process_madvise call: its iovec array is on the stack of
 * whoever spawns (a task's, maybe), so 2 KiB of it at most. */
#define GUARD_BATCH 128

/* Install the guard page of every slot of a new slab with a few
 * process_madvise() calls (one per 128 guards) instead of one madvise
 * per stack: about 0.4 us a stack on the machines we measure. Linux 6.13+
 * accepts MADV_GUARD_INSTALL there for the calling process; anywhere it
 * does not, slots are guarded one at a time as they are first used. */
static bool guard_whole_slab(ringo__stack_pool *p, char *base)
{
	RINGO_ASSERT(p->guard_mode == RINGO__GUARD_MADV);
	int pidfd = self_pidfd();
	if (pidfd < 0)
		return false;
	struct iovec iov[GUARD_BATCH];
	for (uint32_t first = 0; first < p->slab_stacks; first += GUARD_BATCH) {
		uint32_t n = p->slab_stacks - first < GUARD_BATCH ? p->slab_stacks - first
								  : GUARD_BATCH;
		for (uint32_t i = 0; i < n; i++) {
			iov[i].iov_base = base + (size_t)(first + i) * p->stride;
			iov[i].iov_len = p->page;
		}
		long done = syscall(SYS_process_madvise, pidfd, iov, (size_t)n,
				    MADV_GUARD_INSTALL, 0);
		if (done != (long)((size_t)n * p->page))
			return false;
	}
	return true;
}

/* Bytes of one slab's mapping: the slots, and for a compact pool the
 * guard page below them, in whole pages. */
static size_t slab_len(const ringo__stack_pool *p)
{
	size_t len = (size_t)p->slab_stacks * p->stride;

	return p->compact ? round_up(len + p->page, p->page) : len;
}

/* A compact slab's one guard page, at its base: MADV_GUARD_INSTALL, else
 * an mprotect from the budget, else none (the canaries still check). */
/* Protect one guard page with mprotect, paid from the map-count budget
 * (refunded if the kernel refuses). */
static bool mprotect_guard(char *page, size_t len)
{
	if (!take_budget())
		return false;
	if (mprotect(page, len, PROT_NONE) == 0)
		return true;
	atomic_fetch_add(&mprotect_budget, 1);
	return false;
}

static uint8_t guard_compact_slab(const ringo__stack_pool *p, char *base)
{
	RINGO_ASSERT(p->compact);
	if (probed.madv_guard && madvise(base, p->page, MADV_GUARD_INSTALL) == 0)
		return RINGO__GUARD_MADV;
	return mprotect_guard(base, p->page) ? RINGO__GUARD_MPROTECT : RINGO__GUARD_NONE;
}

static int add_slab(ringo__stack_pool *p)
{
	size_t len = slab_len(p);
	uint32_t cap = p->cap + p->slab_stacks;
	struct ringo__stack_slab *slabs;
	uint32_t *ids;
	uint8_t *st;
	char *base;

	RINGO_ASSERT(p->nhot == 0 && p->ncold == 0);
	if (cap < p->cap)
		return -ENOMEM;
	slabs = realloc(p->slabs, (p->nslabs + 1) * sizeof(*slabs));
	if (!slabs)
		return -ENOMEM;
	p->slabs = slabs;
	ids = realloc(p->ids, (size_t)cap * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	p->ids = ids;
	st = realloc(p->slot_state, cap);
	if (!st)
		return -ENOMEM;
	p->slot_state = st;
	base = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -ENOMEM;
	/* THP would turn a one-page touch into 2 MiB of RSS per stack. */
	madvise(base, len, MADV_NOHUGEPAGE);
	p->slabs[p->nslabs].base = base;
	p->slabs[p->nslabs].reg = registry_add(p, base, len);
	if (p->compact) {
		p->slabs[p->nslabs].base_guard = guard_compact_slab(p, base);
		p->slabs[p->nslabs].guarded = false;
	} else {
		p->slabs[p->nslabs].base_guard = RINGO__GUARD_NONE;
		p->slabs[p->nslabs].guarded = p->guard_mode == RINGO__GUARD_MADV &&
					      guard_whole_slab(p, base);
	}
	p->nslabs++;
	p->cap = cap;
	return 0;
}

static char *slot_lo(const ringo__stack_pool *p, uint32_t slot)
{
	char *base = p->slabs[slot / p->slab_stacks].base;

	/* Both layouts: one page (a slot's guard, or a compact slab's) then
	 * the slot's stack, stride apart. */
	return base + (size_t)(slot % p->slab_stacks) * p->stride + p->page;
}

/* First use of a slot: protect its guard page, once for its lifetime.
 * MPROTECT degrades to CANARY when the map-count budget runs out. */
static uint8_t carve(ringo__stack_pool *p, uint32_t slot)
{
	RINGO_ASSERT(slot + 1 == p->carved); /* first use, just counted */
	char *guard = slot_lo(p, slot) - p->page;
	uint8_t kind = p->guard_mode;

	if (kind == RINGO__GUARD_MADV && !p->slabs[slot / p->slab_stacks].guarded &&
	    madvise(guard, p->page, MADV_GUARD_INSTALL) != 0)
		kind = RINGO__GUARD_CANARY;
	if (kind == RINGO__GUARD_MPROTECT && !mprotect_guard(guard, p->page))
		kind = RINGO__GUARD_CANARY;
	p->guards[kind]++;
	return kind;
}

/* Fault in [lo, hi) (page-aligned) with one call, before the task's first
 * writes would fault it page by page. The kernel's work is the same; a
 * fault costs a trap each, which a VM makes an exit: on the PVM guest we
 * measure, 19-20 us a page against 2.5-2.9 us this way. Best effort: a
 * kernel without MADV_POPULATE_WRITE (before 5.14) just faults later. */
static atomic_bool no_populate;

static void populate(uintptr_t lo, uintptr_t hi)
{
	if (hi <= lo || atomic_load_explicit(&no_populate, memory_order_relaxed))
		return;
	if (madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE) != 0 && errno == EINVAL)
		atomic_store_explicit(&no_populate, true, memory_order_relaxed);
}

/* A compact stack about to be used for the first time, or again after a
 * trim gave its memory back: fault in its pages, and when fresh the
 * chunk of the slab after it (its neighbours come next), once. Guarded
 * stacks are left to fault: one madvise per stack top measured no
 * faster there (1M tasks: 31.0 s against 31.5 s, the system time
 * doubled). */
static void populate_slot(ringo__stack_pool *p, uint32_t slot, bool fresh)
{
	uintptr_t lo = (uintptr_t)slot_lo(p, slot), hi = lo + p->stack_size;
	uintptr_t mask = ~(uintptr_t)(p->page - 1);

	if (!p->compact)
		return;
	if (!fresh) {
		populate(lo & mask, round_up(hi, p->page));
		return;
	}
	/* Fresh slots are carved in address order within a slab. */
	if (slot / p->slab_stacks == p->fill_slab && hi <= p->filled)
		return;
	uintptr_t base = (uintptr_t)p->slabs[slot / p->slab_stacks].base;
	uintptr_t end = base + slab_len(p);
	uintptr_t from = lo & mask;
	uintptr_t to = from + POPULATE_CHUNK < end ? from + POPULATE_CHUNK : end;
	if (to < hi)
		to = round_up(hi, p->page);
	populate(from, to);
	p->filled = to;
	p->fill_slab = slot / p->slab_stacks;
}

static uint32_t pop_slot(ringo__stack_pool *p)
{
	if (p->nhot) {
		if (--p->nhot < p->low_water)
			p->low_water = p->nhot;
		return p->ids[p->nhot];
	}
	RINGO_ASSERT(p->ncold > 0);
	uint32_t slot = p->ids[p->cap - p->ncold--];
	populate_slot(p, slot, false);
	return slot;
}

int ringo__stack_alloc(ringo__stack_pool *p, ringo__stack *out)
{
	uint32_t slot;

	if (p->nhot || p->ncold) {
		slot = pop_slot(p);
	} else {
		if (p->carved == p->cap && add_slab(p) < 0)
			return -ENOMEM;
		slot = p->carved++;
		p->slot_state[slot] = carve(p, slot);
		populate_slot(p, slot, true);
	}
	RINGO_ASSERT(!(p->slot_state[slot] & SLOT_LIVE));
	p->slot_state[slot] |= SLOT_LIVE;
	p->nlive++;
	out->lo = slot_lo(p, slot);
	out->hi = (char *)out->lo + p->stack_size;
	out->slot = slot;
	out->guard = p->slot_state[slot] & ~SLOT_LIVE;
	out->compact = p->compact;
	if (out->guard == RINGO__GUARD_CANARY)
		*(uintptr_t *)out->lo = ringo__stack_canary(out->lo);
	return 0;
}

void *ringo__stack_peek_hi(const ringo__stack_pool *p, uint32_t ahead)
{
	if (ahead >= p->nhot)
		return NULL;
	return slot_lo(p, p->ids[p->nhot - 1 - ahead]) + p->stack_size;
}

static int cmp_slot(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Return the memory of n stacks (sorted in place): one madvise per run of
 * neighbouring slots (the guard pages in between survive MADV_DONTNEED),
 * so a million stacks cost about a thousand calls, not a million
 * TLB-flushing ones. */
static void release_memory(ringo__stack_pool *p, uint32_t *slots, uint32_t n)
{
	RINGO_ASSERT(n > 0 && n <= p->carved);
	qsort(slots, n, sizeof(uint32_t), cmp_slot);
	for (uint32_t i = 0; i < n;) {
		uint32_t j = i + 1;
		while (j < n && slots[j] == slots[j - 1] + 1 &&
		       slots[j] / p->slab_stacks == slots[i] / p->slab_stacks)
			j++;
		uintptr_t lo = (uintptr_t)slot_lo(p, slots[i]);
		uintptr_t hi = (uintptr_t)slot_lo(p, slots[j - 1]) + p->stack_size;
		if (p->compact) {
			/* Packed stacks share pages: only the pages wholly
			 * inside the run go (a neighbour may be live). */
			lo = round_up(lo, p->page);
			hi &= ~(uintptr_t)(p->page - 1);
		}
		if (hi > lo)
			madvise((void *)lo, (size_t)(hi - lo), MADV_DONTNEED);
		i = j;
	}
}

uint32_t ringo__stack_trim(ringo__stack_pool *p)
{
	RINGO_ASSERT(p->nhot + p->ncold + p->nlive == p->carved);
	/* Stacks below the low-water mark of the hot list were not handed
	 * out since the last trim: those (the least recently freed, at the
	 * bottom of the LIFO) give their memory back, down to keep_hot. */
	uint32_t idle = p->low_water < p->nhot ? p->low_water : p->nhot;
	uint32_t n = idle > p->keep_hot ? idle - p->keep_hot : 0;
	if (n > 0) {
		uint32_t *slots = malloc((size_t)n * sizeof(uint32_t));
		if (slots) {
			memcpy(slots, p->ids, (size_t)n * sizeof(uint32_t));
			memmove(p->ids, p->ids + n, (size_t)(p->nhot - n) * sizeof(uint32_t));
			p->nhot -= n;
			release_memory(p, slots, n);
			for (uint32_t i = 0; i < n; i++)
				p->ids[p->cap - ++p->ncold] = slots[i];
			free(slots);
		} else {
			n = 0;
		}
	}
	p->low_water = p->nhot;
	return n;
}

bool ringo__stack_trim_wanted(const ringo__stack_pool *p)
{
	return p->nhot > p->keep_hot;
}

void ringo__stack_free(ringo__stack_pool *p, ringo__stack *s)
{
	uint32_t slot = s->slot;

	RINGO_ASSERT(slot < p->carved);
	RINGO_ASSERT(p->slot_state[slot] & SLOT_LIVE);
	RINGO_ASSERT(s->lo == slot_lo(p, slot));
	p->slot_state[slot] &= ~SLOT_LIVE;
	p->nlive--;
	/* LIFO: the next alloc gets the hottest stack. Memory past keep_hot
	 * is given back by ringo__stack_trim, for stacks that stayed idle. */
	p->ids[p->nhot++] = slot;
	RINGO_ASSERT(p->nhot + p->ncold + p->nlive == p->carved);
	s->lo = s->hi = NULL;
}

void ringo__stack_pool_destroy(ringo__stack_pool *p)
{
	size_t len = slab_len(p);

	RINGO_ASSERT(p->nlive == 0);
	for (uint32_t i = 0; i < p->nslabs; i++) {
		registry_remove(p->slabs[i].reg);
		munmap(p->slabs[i].base, len);
		if (p->slabs[i].base_guard == RINGO__GUARD_MPROTECT)
			atomic_fetch_add(&mprotect_budget, 1);
	}
	atomic_fetch_add(&mprotect_budget, p->guards[RINGO__GUARD_MPROTECT]);
	free(p->slabs);
	free(p->ids);
	free(p->slot_state);
	*p = (ringo__stack_pool){ 0 };
}

void ringo__stack_pool_stats(const ringo__stack_pool *p,
			     struct ringo__stack_stats *st)
{
	*st = (struct ringo__stack_stats){
		.reserved_bytes = (size_t)p->nslabs * slab_len(p),
		.stacks_live = p->nlive,
		.stacks_free = (size_t)p->nhot + p->ncold,
		.stacks_hot = p->nhot,
		.stacks_carved = p->carved,
		.slabs = p->nslabs,
		.guard_kind = p->guard_mode,
		.guards_madv = p->guards[RINGO__GUARD_MADV],
		.guards_mprotect = p->guards[RINGO__GUARD_MPROTECT],
		.guards_canary = p->guards[RINGO__GUARD_CANARY],
		.guards_none = p->guards[RINGO__GUARD_NONE],
	};
}
