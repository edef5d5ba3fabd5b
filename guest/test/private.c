/* Overwrites the VMM-private region (the page tables): it is unmapped, so
 * this must fault rather than let the guest remap memory. */
#include "hostile.h"

OPERATION_ENTRY void _start(const struct call_table *ct)
{
	(void)ct;
	*(volatile uint64_t *)(uintptr_t)0x1000 = 0;
	for (;;)
		;
}
