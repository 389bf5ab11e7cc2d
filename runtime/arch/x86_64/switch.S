/*
 * ringo context switch, x86-64 System V.
 *
 * Only callee-saved state is saved: rbx, rbp, r12-r15, the MXCSR control
 * bits and the x87 control word.  Everything else is caller-saved, so the C
 * compiler has already spilled what it needs before calling us.
 *
 * Saved frame, from the saved stack pointer upwards (64 bytes):
 *
 *   +0  mxcsr (4 bytes), x87 control word (2 bytes), pad
 *   +8  r15   +16 r14   +24 r13   +32 r12   +40 rbx   +48 rbp
 *   +56 return address (resume point in the caller of ringo__ctx_switch)
 *
 * void *ringo__ctx_switch(void **save_sp, void *load_sp, void *transfer);
 * void *ringo__ctx_make(void *stack_hi, void (*entry)(void *transfer));
 */

	.text

	.globl	ringo__ctx_switch
	.hidden	ringo__ctx_switch
	.type	ringo__ctx_switch, @function
	.p2align 4
ringo__ctx_switch:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbx, 0
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r12, 0
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r13, 0
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r14, 0
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r15, 0
	subq	$8, %rsp
	.cfi_adjust_cfa_offset 8
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)

	movq	%rsp, (%rdi)
	movq	%rsi, %rsp

	/*
	 * From here on we run on the resumed stack.  Its frame has the same
	 * layout, so the CFI above still describes it: a debugger stopped
	 * here (or given $rsp = fiber->sp, $rip = ringo__ctx_switch_resume)
	 * unwinds into the suspended task.
	 */
	.globl	ringo__ctx_switch_resume
	.hidden	ringo__ctx_switch_resume
ringo__ctx_switch_resume:
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	.cfi_adjust_cfa_offset -8
	popq	%r15
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r15
	popq	%r14
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r14
	popq	%r13
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r13
	popq	%r12
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r12
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbx
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbp
	/*
	 * pop + jmp instead of ret: the return-stack predictor holds the
	 * call site of the *other* context, so a ret here mispredicts on
	 * every switch (about 10 ns); the indirect-branch predictor learns
	 * the ping-pong pattern.
	 */
	popq	%rcx
	.cfi_adjust_cfa_offset -8
	.cfi_register %rip, %rcx
	movq	%rdx, %rax
	jmp	*%rcx
	.cfi_endproc
	.size	ringo__ctx_switch, .-ringo__ctx_switch

/*
 * Build a frame at the top of a fresh stack that ringo__ctx_switch can
 * "return" into.  r12 holds entry; the return address is ctx_start.  Two
 * zero words sit above the frame (a null return address for unwinders) and
 * keep ctx_start's call site 16-byte aligned as the ABI requires.
 * The control words are copied from the caller so a task starts with the
 * rounding mode of the thread that created it.
 */
	/*
	 * ringo__ctx_switch_peer: the same switch, ending in a plain ret.
	 * Used between two tasks that both suspend through the same call site
	 * (the scheduler's switch_out): then the return-stack predictor's
	 * guess, the site this context called from, is exactly where the
	 * other one resumes, and every return after the switch predicts right
	 * (measured: 26 -> 12 ns per switch among 100 tasks). Switches to and
	 * from the scheduler, which resume at different sites, keep the
	 * pop + jmp version above.
	 */
	.globl	ringo__ctx_switch_peer
	.hidden	ringo__ctx_switch_peer
	.type	ringo__ctx_switch_peer, @function
	.p2align 4
ringo__ctx_switch_peer:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	subq	$8, %rsp
	.cfi_adjust_cfa_offset 8
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	movq	%rdx, %rax
	ret
	.cfi_endproc
	.size	ringo__ctx_switch_peer, .-ringo__ctx_switch_peer

	.globl	ringo__ctx_make
	.hidden	ringo__ctx_make
	.type	ringo__ctx_make, @function
	.p2align 4
ringo__ctx_make:
	.cfi_startproc
	movq	%rdi, %rax
	andq	$-16, %rax
	subq	$80, %rax
	stmxcsr	(%rax)
	fnstcw	4(%rax)
	xorl	%ecx, %ecx
	movq	%rcx, 8(%rax)		/* r15 */
	movq	%rcx, 16(%rax)		/* r14 */
	movq	%rcx, 24(%rax)		/* r13 */
	movq	%rsi, 32(%rax)		/* r12 = entry */
	movq	%rcx, 40(%rax)		/* rbx */
	movq	%rcx, 48(%rax)		/* rbp = 0: end of frame-pointer chain */
	leaq	ctx_start(%rip), %rdx
	movq	%rdx, 56(%rax)		/* return address */
	movq	%rcx, 64(%rax)
	movq	%rcx, 72(%rax)
	ret
	.cfi_endproc
	.size	ringo__ctx_make, .-ringo__ctx_make

/* First code run on a new stack: rax = transfer, r12 = entry. */
	.type	ctx_start, @function
	.p2align 4
ctx_start:
	.cfi_startproc
	.cfi_undefined %rip	/* outermost frame: stop unwinding here */
	movq	%rax, %rdi
	call	*%r12
	/* entry must never return */
	call	ringo__ctx_entry_returned@PLT
	ud2
	.cfi_endproc
	.size	ctx_start, .-ctx_start

/*
 * void *ringo__ctx_call_on(void *(*fn)(void *), void *arg, void *sp);
 * Call fn(arg) with the stack pointer at sp (16-byte aligned, with room
 * below it), then come back to the caller's stack: Go's systemstack in
 * one frame. A compact task runs its allocations this way, on the loop
 * thread's idle stack, so malloc's deep frames never touch its own.
 */
	.globl	ringo__ctx_call_on
	.hidden	ringo__ctx_call_on
	.type	ringo__ctx_call_on, @function
	.p2align 4
ringo__ctx_call_on:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	movq	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	movq	%rdx, %rsp
	movq	%rdi, %rax
	movq	%rsi, %rdi
	call	*%rax
	movq	%rbp, %rsp
	.cfi_def_cfa_register %rsp
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbp
	ret
	.cfi_endproc
	.size	ringo__ctx_call_on, .-ringo__ctx_call_on

	.section .note.GNU-stack, "", @progbits
