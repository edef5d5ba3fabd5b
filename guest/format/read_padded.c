#include "read_padded.h"

#include "instar/mem.h"

int read_padded(const struct fmt_source *src, uint64_t off, uint8_t *buf, uint32_t len)
{
	if (off > UINT64_MAX - len)
		return -1;
	uint32_t n = 0;
	if (off < src->size)
		n = src->size - off < len ? (uint32_t)(src->size - off) : len;
	if (n > 0 && src->read(src->ctx, off, buf, n) != 0)
		return -1;
	memset(buf + n, 0, len - n);
	return 0;
}

uint64_t padded_length(const struct fmt_source *src)
{
	return (src->size + 511) / 512 * 512;
}
