/* Returns without sending its completion message. */
#include "hostile.h"

OPERATION_ENTRY void _start(const struct call_table *ct)
{
	ct->send_error(7, "early: giving up");
}
