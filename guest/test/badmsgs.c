/*
 * Sends one REQ_MESSAGES list, good or malformed as the first byte of the
 * operation config chooses, for the host to check what the VMM makes of
 * it. The messages are encoded by hand (this guest links no encoder):
 * LogMessage "a" and "b", CompleteMessage {operation "x", success}.
 */
#include "hostile.h"

static const uint8_t log_a[] = {0x1a, 0x03, 0x0a, 0x01, 'a'};
static const uint8_t log_b[] = {0x1a, 0x03, 0x0a, 0x01, 'b'};
static const uint8_t complete[] = {0x22, 0x05, 0x0a, 0x01, 'x', 0x18, 0x01};
static const uint8_t garbage[] = {0xff, 0xff, 0xff};

/* put appends a length (as given, even a wrong one) and len bytes of msg. */
static uint32_t put(uint8_t *list, uint32_t at, uint32_t length, const uint8_t *msg, uint32_t len)
{
	list[at] = (uint8_t)length;
	list[at + 1] = (uint8_t)(length >> 8);
	list[at + 2] = (uint8_t)(length >> 16);
	list[at + 3] = (uint8_t)(length >> 24);
	for (uint32_t i = 0; i < len; i++)
		list[at + 4 + i] = msg[i];
	return at + 4 + len;
}

OPERATION_ENTRY void _start(const struct call_table *ct)
{
	(void)ct;
	uint8_t *list = (uint8_t *)(uintptr_t)SCRATCH_MEM_BASE;
	uint8_t which = *(const volatile uint8_t *)(uintptr_t)OPERATION_CONFIG_ADDR;
	uint32_t n = 0;
	switch (which) {
	case 0: /* good: two logs and the completion, in one exit */
		n = put(list, n, sizeof log_a, log_a, sizeof log_a);
		n = put(list, n, sizeof log_b, log_b, sizeof log_b);
		n = put(list, n, sizeof complete, complete, sizeof complete);
		break;
	case 1: /* a message after the completion */
		n = put(list, n, sizeof complete, complete, sizeof complete);
		n = put(list, n, sizeof log_a, log_a, sizeof log_a);
		break;
	case 2: /* a length past the list's end */
		n = put(list, n, 100, log_a, sizeof log_a);
		break;
	case 3: /* a zero length */
		n = put(list, n, 0, log_a, 0);
		break;
	case 4: /* a list too short to hold a length */
		n = put(list, n, sizeof log_a, log_a, sizeof log_a);
		n += 2;
		break;
	case 5: /* a list longer than any */
		n = MAX_MESSAGES_BYTES + 1;
		break;
	default: /* a message that does not decode */
		n = put(list, n, sizeof garbage, garbage, sizeof garbage);
		break;
	}
	struct request r = {.op = REQ_MESSAGES, .length = n, .buffer = SCRATCH_MEM_BASE};
	raw_request(&r);
	for (;;)
		;
}
