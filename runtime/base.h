/*
 * The bottom layer every runtime file shares (runtime/LAYERS.md): the one
 * assertion, panic, branch hints and container_of. Knows nothing of the
 * loop; fiber.c and stack.c build with this alone (mk/fiber.mk).
 */
#ifndef RINGO_BASE_H
#define RINGO_BASE_H

#include <stddef.h>

/* Assertions: on in every build; a broken internal invariant is a bug,
 * never a user error (user errors get a negative errno). One condition
 * each, so the report names the one that failed. */
#define RINGO_ASSERT(cond)                                                                    \
	do {                                                                                  \
		if (__builtin_expect(!(cond), 0))                                             \
			ringo__assert_fail(#cond, __FILE__, __LINE__, __func__);              \
	} while (0)

/* Print "ringo: assertion failed: expr (file:line, func)" and abort. */
__attribute__((noreturn, cold)) void ringo__assert_fail(const char *expr, const char *file,
							int line, const char *func);
/* A fatal runtime condition (stack overflow, corrupted canary): print and abort. */
__attribute__((noreturn, cold, format(printf, 1, 2))) void ringo__panic(const char *fmt, ...);

/* Called by arch/<arch>/switch.S when a context's entry function returns
 * (it must not): reports it with write(2) alone and aborts. */
__attribute__((noreturn, cold)) void ringo__ctx_entry_returned(void);

#define ringo__likely(x) __builtin_expect(!!(x), 1)
#define ringo__unlikely(x) __builtin_expect(!!(x), 0)

#define ringo__container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif /* RINGO_BASE_H */
