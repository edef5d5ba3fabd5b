/* Rings the doorbell with a descriptor address outside guest RAM. */
#include "hostile.h"

OPERATION_ENTRY void _start(const struct call_table *ct)
{
	(void)ct;
	raw_out(PORT_REQUEST, 0xFFFFFFF0u);
	for (;;)
		;
}
