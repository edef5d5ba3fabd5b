/* Writes to the stack guard page, which is unmapped: a fault. */
#include "hostile.h"

OPERATION_ENTRY void _start(const struct call_table *ct)
{
	(void)ct;
	*(volatile uint32_t *)(uintptr_t)STACK_GUARD_ADDR = 1;
	for (;;)
		;
}
