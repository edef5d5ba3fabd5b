/* Reading a backing file the way qemu's block layer does for the vpc, vhdx
 * and vmdk parsers: what lies past the end reads as zeros, and the length
 * counts in whole 512-byte sectors. */
#ifndef FORMAT_READ_PADDED_H
#define FORMAT_READ_PADDED_H

#include <stdint.h>

#include "format.h"

/* The largest backing file the parsers accept; keeps offset sums far from
 * overflowing. */
#define READ_PADDED_MAX_SIZE (1ull << 62)

/* Reads len bytes at off into buf, zero-filling past src->size. Returns 0,
 * or -1 when off+len overflows or the source fails. */
int read_padded(const struct fmt_source *src, uint64_t off, uint8_t *buf, uint32_t len);

/* src->size rounded up to a whole sector, as qemu's bdrv_getlength(). */
uint64_t padded_length(const struct fmt_source *src);

#endif
