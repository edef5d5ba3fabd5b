/* The stub's entry and its handoff to the guest. */
#include "stub.h"

	.section .text.entry, "ax"
	.globl _start
/* The kernel enters here with RSP at argc, argv[0], ... Pass that pointer
 * to stub_main with the stack aligned as the ABI wants. The large code
 * model is needed because the stub lives above 4 GiB. */
_start:
	movq %rsp, %rdi
	andq $-16, %rsp
	movabsq $stub_main, %rax
	call *%rax
1:	ud2		/* stub_main never returns */
	jmp 1b

	.text
	.globl stub_enter
/* stub_enter(entry, stack_top): the last thing the stub does. Seccomp strict
 * is on, so no system call will ever succeed again. Stop at int3 with the
 * ready magic in RAX (the VMM checks it and switches to trapping every
 * system call), then zero every general register and jump to the guest
 * with RSP at its stack top. The entry is kept in memory, not a register,
 * so that no register carries stub state into the guest. */
stub_enter:
	movabsq $entry_slot, %rax
	movq %rdi, (%rax)
	movq %rsi, %rsp
	movabsq $STUB_READY_MAGIC, %rax
	int3
	xorl %eax, %eax
	xorl %ebx, %ebx
	xorl %ecx, %ecx
	xorl %edx, %edx
	xorl %esi, %esi
	xorl %edi, %edi
	xorl %ebp, %ebp
	xorl %r8d, %r8d
	xorl %r9d, %r9d
	xorl %r10d, %r10d
	xorl %r11d, %r11d
	xorl %r12d, %r12d
	xorl %r13d, %r13d
	xorl %r14d, %r14d
	xorl %r15d, %r15d
	cld
	jmp *entry_slot(%rip)

	.bss
	.balign 8
entry_slot:
	.quad 0

	.section .note.GNU-stack, "", @progbits
