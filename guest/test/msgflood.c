/* Sends long error and log messages as fast as it can, then completes: the
 * VMM must keep a bounded part of them. The count is large enough that
 * keeping them all would show in the VMM's memory. */
#include "hostile.h"

#define FLOOD_COUNT 20000
#define FLOOD_TEXT 4000

OPERATION_ENTRY void _start(const struct call_table *ct)
{
	static char text[FLOOD_TEXT + 1];
	for (uint32_t i = 0; i < FLOOD_TEXT; i++)
		text[i] = (char)('a' + i % 26);
	text[FLOOD_TEXT] = 0;
	for (uint32_t i = 0; i < FLOOD_COUNT; i++) {
		text[0] = (char)('A' + i % 26);
		ct->send_error(i, text);
		ct->debug_print(text);
	}
	ct->send_complete("msgflood", 0, 1);
	for (;;)
		;
}
