/*
 * ringo context switch, AArch64 (AAPCS64).
 *
 * Callee-saved state: x19-x28, fp (x29), lr (x30), d8-d15 and FPCR.
 * sp itself is what we store in *save_sp.  x18 is the platform register
 * and is left alone.
 *
 * Saved frame, from the saved stack pointer upwards (176 bytes, keeps sp
 * 16-byte aligned):
 *
 *   +0   x19 x20   +16 x21 x22   +32 x23 x24   +48 x25 x26   +64 x27 x28
 *   +80  x29 x30   +96 d8 d9     +112 d10 d11  +128 d12 d13  +144 d14 d15
 *   +160 fpcr      +168 pad
 *
 * void *ringo__ctx_switch(void **save_sp, void *load_sp, void *transfer);
 * void *ringo__ctx_make(void *stack_hi, void (*entry)(void *transfer));
 */

	.text

	.globl	ringo__ctx_switch
	.hidden	ringo__ctx_switch
	.type	ringo__ctx_switch, %function
	.p2align 4
ringo__ctx_switch:
	/* aarch64 returns with ret already: one entry serves both uses. */
	.globl	ringo__ctx_switch_peer
	.hidden	ringo__ctx_switch_peer
ringo__ctx_switch_peer:
	.cfi_startproc
	sub	sp, sp, #176
	.cfi_def_cfa_offset 176
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	.cfi_offset x19, -176
	.cfi_offset x20, -168
	.cfi_offset x21, -160
	.cfi_offset x22, -152
	.cfi_offset x23, -144
	.cfi_offset x24, -136
	.cfi_offset x25, -128
	.cfi_offset x26, -120
	.cfi_offset x27, -112
	.cfi_offset x28, -104
	.cfi_offset x29, -96
	.cfi_offset x30, -88
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mrs	x3, fpcr
	str	x3, [sp, #160]

	mov	x3, sp
	str	x3, [x0]
	mov	sp, x1

	/* Now on the resumed stack; same frame layout, same CFI. */
	.globl	ringo__ctx_switch_resume
	.hidden	ringo__ctx_switch_resume
ringo__ctx_switch_resume:
	ldr	x3, [sp, #160]
	msr	fpcr, x3
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	add	sp, sp, #176
	.cfi_def_cfa_offset 0
	mov	x0, x2
	ret
	.cfi_endproc
	.size	ringo__ctx_switch, .-ringo__ctx_switch

/*
 * Fresh frame at the top of a stack: x19 = entry, lr = ctx_start, fp = 0.
 * After the restore sp equals the 16-aligned top of the stack.
 */
	.globl	ringo__ctx_make
	.hidden	ringo__ctx_make
	.type	ringo__ctx_make, %function
	.p2align 4
ringo__ctx_make:
	.cfi_startproc
	and	x0, x0, #-16
	sub	x0, x0, #176
	stp	x1, xzr, [x0, #0]	/* x19 = entry, x20 */
	stp	xzr, xzr, [x0, #16]
	stp	xzr, xzr, [x0, #32]
	stp	xzr, xzr, [x0, #48]
	stp	xzr, xzr, [x0, #64]
	adr	x2, ctx_start
	stp	xzr, x2, [x0, #80]	/* fp = 0, lr = ctx_start */
	stp	xzr, xzr, [x0, #96]
	stp	xzr, xzr, [x0, #112]
	stp	xzr, xzr, [x0, #128]
	stp	xzr, xzr, [x0, #144]
	mrs	x2, fpcr
	stp	x2, xzr, [x0, #160]
	ret
	.cfi_endproc
	.size	ringo__ctx_make, .-ringo__ctx_make

/* First code run on a new stack: x0 = transfer, x19 = entry. */
	.type	ctx_start, %function
	.p2align 4
ctx_start:
	.cfi_startproc
	.cfi_undefined x30	/* outermost frame: stop unwinding here */
	mov	x29, xzr
	blr	x19
	/* entry must never return */
	bl	ringo__ctx_entry_returned
	brk	#0
	.cfi_endproc
	.size	ctx_start, .-ctx_start

/*
 * void *ringo__ctx_call_on(void *(*fn)(void *), void *arg, void *sp);
 * Call fn(arg) with sp (16-byte aligned) as the stack pointer, then come
 * back to the caller's stack; see the x86-64 version.
 */
	.globl	ringo__ctx_call_on
	.hidden	ringo__ctx_call_on
	.type	ringo__ctx_call_on, %function
	.p2align 4
ringo__ctx_call_on:
	.cfi_startproc
	stp	x29, x30, [sp, #-16]!
	.cfi_def_cfa_offset 16
	.cfi_offset x29, -16
	.cfi_offset x30, -8
	mov	x29, sp
	.cfi_def_cfa_register x29
	mov	sp, x2
	mov	x3, x0
	mov	x0, x1
	blr	x3
	mov	sp, x29
	.cfi_def_cfa_register sp
	ldp	x29, x30, [sp], #16
	.cfi_def_cfa_offset 0
	.cfi_restore x29
	.cfi_restore x30
	ret
	.cfi_endproc
	.size	ringo__ctx_call_on, .-ringo__ctx_call_on

	.section .note.GNU-stack, "", %progbits
