/* Writes a byte to a port the protocol does not have. */
#include "hostile.h"

OPERATION_ENTRY void _start(const struct call_table *ct)
{
	(void)ct;
	__asm__ volatile("outb %0, %1" : : "a"((uint8_t)1), "Nd"((uint16_t)0x80));
	for (;;)
		;
}
