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

#endif
