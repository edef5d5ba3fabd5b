/* The freestanding memory routines the guest needs (gcc may emit calls to
 * them itself). */
#ifndef INSTAR_MEM_H
#define INSTAR_MEM_H

#include <stddef.h>
#include <stdint.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#endif
