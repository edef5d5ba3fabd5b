#include "uuid.h"

void uuid_v4(struct entropy_stream *s, uint8_t out[16])
{
	entropy_bytes(s, out, 16);
	out[6] = (uint8_t)((out[6] & 0x0F) | 0x40); /* version 4 */
	out[8] = (uint8_t)((out[8] & 0x3F) | 0x80); /* RFC 4122 variant */
}
