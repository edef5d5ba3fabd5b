/* The two privileged instructions guest code may execute: OUT and HLT. */
#ifndef CORE_PORTIO_H
#define CORE_PORTIO_H

#include <stdint.h>

static inline void outl(uint16_t port, uint32_t value)
{
	__asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline void __attribute__((noreturn)) halt_forever(void)
{
	for (;;)
		__asm__ volatile("hlt" : : : "memory");
}

#endif
