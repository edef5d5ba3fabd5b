/* The bits of C-library text scanning qemu's vmdk driver relies on
 * (strstr, sscanf's %s, %lld, %x, %[...]), reimplemented over a
 * NUL-terminated buffer so the parser accepts and reads descriptors exactly
 * as qemu does. */
#ifndef FORMAT_VMDK_SCAN_H
#define FORMAT_VMDK_SCAN_H

#include <stdint.h>

/* Text from p up to its terminating NUL (which must exist). */
struct vmdk_cursor {
	const uint8_t *p;
};

/* The first occurrence of needle at or after s, or 0 (strstr). */
const uint8_t *vmdk_strstr(const uint8_t *s, const char *needle);

/* sscanf "%<max>s": skips white space, copies 1..max non-space bytes to
 * out (NUL-terminated; out holds max+1). Returns 1 on a conversion. */
int vmdk_scan_token(struct vmdk_cursor *c, uint8_t *out, uint32_t max);

/* sscanf "%lld": skips white space, optional sign, decimal digits;
 * saturates on overflow as glibc does. */
int vmdk_scan_i64(struct vmdk_cursor *c, int64_t *v);

/* sscanf "%x" into a uint32_t: white space, optional sign and 0x, hex
 * digits; the value is glibc's strtoul result cut to 32 bits. */
int vmdk_scan_hex32(struct vmdk_cursor *c, uint32_t *v);

/* sscanf " ": skips white space. */
void vmdk_scan_space(struct vmdk_cursor *c);

/* sscanf literal ch: consumes it if next. */
int vmdk_scan_char(struct vmdk_cursor *c, uint8_t ch);

/* sscanf "%<max>[^\n\r\"]": 1..max such bytes (not NUL); out holds max+1. */
int vmdk_scan_name(struct vmdk_cursor *c, uint8_t *out, uint32_t max);

int vmdk_streq(const uint8_t *a, const char *b);

#endif
