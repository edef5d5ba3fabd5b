/* Sends a message one byte over the limit. */
#include "hostile.h"

OPERATION_ENTRY void _start(const struct call_table *ct)
{
	(void)ct;
	struct request r = {
		.op = REQ_MESSAGE,
		.length = MAX_MESSAGE_SIZE + 1,
		.buffer = SCRATCH_MEM_BASE,
	};
	raw_request(&r);
	for (;;)
		;
}
