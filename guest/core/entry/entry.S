/* Core's entry: the VMM starts the vCPU here in 64-bit mode with the stack
 * pointer at STACK_TOP. Align the stack as the ABI wants, run core_main,
 * and halt for good if it ever returns. */
	.section .text.entry, "ax"
	.globl _start
_start:
	andq $-16, %rsp
	call core_main
1:	hlt
	jmp 1b
	.section .note.GNU-stack, "", @progbits
