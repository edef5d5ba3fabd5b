#include "pb.h"

enum { WIRE_VARINT = 0, WIRE_LEN = 2 };

void pb_init(struct pb_buf *b, uint8_t *data, uint32_t cap)
{
	b->data = data;
	b->cap = cap;
	b->len = 0;
	b->overflow = 0;
}

static void put(struct pb_buf *b, uint8_t c)
{
	if (b->overflow || b->len >= b->cap) {
		b->overflow = 1;
		return;
	}
	b->data[b->len++] = c;
}

void pb_varint(struct pb_buf *b, uint64_t v)
{
	while (v >= 0x80) {
		put(b, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	put(b, (uint8_t)v);
}

static void tag(struct pb_buf *b, uint32_t field, uint32_t wire)
{
	pb_varint(b, ((uint64_t)field << 3) | wire);
}

void pb_uint_field(struct pb_buf *b, uint32_t field, uint64_t v)
{
	tag(b, field, WIRE_VARINT);
	pb_varint(b, v);
}

void pb_bool_field(struct pb_buf *b, uint32_t field, int v)
{
	pb_uint_field(b, field, v ? 1 : 0);
}

static uint32_t bounded_strlen(const char *s, uint32_t max)
{
	uint32_t n = 0;
	while (n < max && s[n] != '\0')
		n++;
	return n;
}

void pb_string_field(struct pb_buf *b, uint32_t field, const char *s)
{
	uint32_t n = s ? bounded_strlen(s, PB_MAX_STRING) : 0;
	tag(b, field, WIRE_LEN);
	pb_varint(b, n);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];
		put(b, (c >= 0x20 && c < 0x7f) ? c : '?');
	}
}

void pb_bytes_field(struct pb_buf *b, uint32_t field, const uint8_t *data, uint32_t len)
{
	tag(b, field, WIRE_LEN);
	pb_varint(b, len);
	for (uint32_t i = 0; i < len; i++)
		put(b, data[i]);
}

void pb_message_field(struct pb_buf *b, uint32_t field, const struct pb_buf *sub)
{
	if (sub->overflow) {
		b->overflow = 1;
		return;
	}
	tag(b, field, WIRE_LEN);
	pb_varint(b, sub->len);
	for (uint32_t i = 0; i < sub->len; i++)
		put(b, sub->data[i]);
}
