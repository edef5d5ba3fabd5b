/* Helpers for the hostile test guests: raw requests that bypass core's
 * driver, so a test can send the VMM what no well-behaved guest would. */
#ifndef TEST_HOSTILE_H
#define TEST_HOSTILE_H

#include "instar/op.h"

static inline void raw_out(uint16_t port, uint32_t value)
{
	__asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline int32_t raw_request(struct request *r)
{
	r->status = STATUS_PENDING;
	raw_out(PORT_REQUEST, (uint32_t)(uintptr_t)r);
	return ((volatile struct request *)r)->status;
}

/* report logs "<name>=<status>" for the host to check. */
static inline void report(const struct call_table *ct, const char *name, int32_t status)
{
	char line[64];
	uint32_t n = 0;
	while (*name && n < 40)
		line[n++] = *name++;
	line[n++] = '=';
	if (status < 0) {
		line[n++] = '-';
		status = -status;
	}
	char digits[12];
	int d = 0;
	do {
		digits[d++] = (char)('0' + status % 10);
		status /= 10;
	} while (status > 0 && d < 11);
	while (d > 0)
		line[n++] = digits[--d];
	line[n] = '\0';
	ct->debug_print(line);
}

#endif
