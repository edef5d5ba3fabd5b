/* Sends valid progress messages forever: the exit budget must stop it. */
#include "hostile.h"

OPERATION_ENTRY void _start(const struct call_table *ct)
{
	for (uint64_t i = 0;; i++)
		ct->send_progress(i, 0);
}
