/* CRC-32C (Castagnoli), as VHDX uses for its headers, region tables and
 * log entries. */
#ifndef FORMAT_CRC32C_H
#define FORMAT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC-32C over len bytes: start with crc = 0; feeding a buffer
 * in pieces gives the same result as feeding it whole. */
uint32_t crc32c_update(uint32_t crc, const uint8_t *p, size_t len);

/* crc32c_update(crc, p, len) for len zero bytes, in time logarithmic in
 * len: for the runs of zeros a file reads as past its end, which may be
 * gigabytes. */
uint32_t crc32c_zeros(uint32_t crc, uint64_t len);

#endif
