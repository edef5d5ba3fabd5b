/* A bounded text builder for VMDK descriptors: appends never write past
 * the buffer; an overflow is remembered and reported once at the end. */
#ifndef FORMAT_VMDK_TEXT_H
#define FORMAT_VMDK_TEXT_H

#include <stdint.h>

struct vmdk_text {
	uint8_t *buf;
	uint32_t cap;
	uint32_t len;
	int overflow;
};

void vmdk_text_init(struct vmdk_text *t, uint8_t *buf, uint32_t cap);
void vmdk_text_bytes(struct vmdk_text *t, const uint8_t *p, uint32_t n);
void vmdk_text_str(struct vmdk_text *t, const char *s);
/* Unsigned decimal, as printf's %llu / PRId64 for non-negative values. */
void vmdk_text_dec(struct vmdk_text *t, uint64_t v);
/* Lower-case hex without leading zeros, as printf's %x. */
void vmdk_text_hex(struct vmdk_text *t, uint32_t v);

#endif
