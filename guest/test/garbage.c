/* Sends bytes that are not a GuestMessage. */
#include "hostile.h"

OPERATION_ENTRY void _start(const struct call_table *ct)
{
	(void)ct;
	uint8_t *buf = (uint8_t *)(uintptr_t)SCRATCH_MEM_BASE;
	for (int i = 0; i < 64; i++)
		buf[i] = 0xff;
	struct request r = {.op = REQ_MESSAGE, .length = 64, .buffer = SCRATCH_MEM_BASE};
	raw_request(&r);
	for (;;)
		;
}
