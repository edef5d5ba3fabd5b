/*
 * A small protobuf encoder: just what GuestMessage needs (varints and
 * length-delimited fields), writing into a caller's fixed buffer. Once the
 * buffer is full it sets overflow and writes nothing more, so a message is
 * either whole or rejected, never truncated silently.
 */
#ifndef INSTAR_PB_H
#define INSTAR_PB_H

#include <stdint.h>

struct pb_buf {
	uint8_t *data;
	uint32_t cap;
	uint32_t len;
	int overflow;
};

/* PB_MAX_STRING caps every string field; longer strings are cut there. */
#define PB_MAX_STRING 1024

void pb_init(struct pb_buf *b, uint8_t *data, uint32_t cap);
void pb_varint(struct pb_buf *b, uint64_t v);
void pb_uint_field(struct pb_buf *b, uint32_t field, uint64_t v);
void pb_bool_field(struct pb_buf *b, uint32_t field, int v);
/* Writes at most PB_MAX_STRING bytes of the NUL-terminated s, with bytes
 * outside printable ASCII replaced by '?', so the host always gets valid
 * UTF-8 with no control characters to print. */
void pb_string_field(struct pb_buf *b, uint32_t field, const char *s);
/* Writes len bytes of data as they are (a bytes field: the reader
 * escapes them before printing). */
void pb_bytes_field(struct pb_buf *b, uint32_t field, const uint8_t *data, uint32_t len);
/* Writes a length-delimited field whose bytes are sub's contents. */
void pb_message_field(struct pb_buf *b, uint32_t field, const struct pb_buf *sub);

#endif
