#include "vmdk_text.h"

void vmdk_text_init(struct vmdk_text *t, uint8_t *buf, uint32_t cap)
{
	t->buf = buf;
	t->cap = cap;
	t->len = 0;
	t->overflow = 0;
}

void vmdk_text_bytes(struct vmdk_text *t, const uint8_t *p, uint32_t n)
{
	if (t->overflow || n > t->cap - t->len) {
		t->overflow = 1;
		return;
	}
	for (uint32_t i = 0; i < n; i++)
		t->buf[t->len + i] = p[i];
	t->len += n;
}

void vmdk_text_str(struct vmdk_text *t, const char *s)
{
	uint32_t n = 0;
	while (s[n] != '\0')
		n++;
	vmdk_text_bytes(t, (const uint8_t *)s, n);
}

void vmdk_text_dec(struct vmdk_text *t, uint64_t v)
{
	uint8_t d[20];
	uint32_t n = 0;
	do {
		d[sizeof(d) - 1 - n++] = (uint8_t)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	vmdk_text_bytes(t, d + sizeof(d) - n, n);
}

void vmdk_text_hex(struct vmdk_text *t, uint32_t v)
{
	uint8_t d[8];
	uint32_t n = 0;
	do {
		d[sizeof(d) - 1 - n++] = (uint8_t)"0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v != 0);
	vmdk_text_bytes(t, d + sizeof(d) - n, n);
}
