/* Spins forever: the deadline must stop it. */
#include "hostile.h"

OPERATION_ENTRY void _start(const struct call_table *ct)
{
	(void)ct;
	for (;;)
		__asm__ volatile("" ::: "memory");
}
