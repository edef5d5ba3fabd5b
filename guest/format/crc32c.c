#include "crc32c.h"

/* Four bits at a time: a 16-entry constant table keeps the guest small and
 * is fast enough for the few hundred KiB of metadata a create touches. */
static const uint32_t crc32c_nibble[16] = {
	0x00000000, 0x105EC76F, 0x20BD8EDE, 0x30E349B1, 0x417B1DBC, 0x5125DAD3,
	0x61C69362, 0x7198540D, 0x82F63B78, 0x92A8FC17, 0xA24BB5A6, 0xB21572C9,
	0xC38D26C4, 0xD3D3E1AB, 0xE330A81A, 0xF36E6F75,
};

uint32_t crc32c_update(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		crc = (crc >> 4) ^ crc32c_nibble[crc & 15];
		crc = (crc >> 4) ^ crc32c_nibble[crc & 15];
	}
	return ~crc;
}

/* The CRC register after a zero byte is a linear map of the register
 * before it (over GF(2)): a 32x32 bit matrix, one column (the image of
 * bit i) per word. Feeding 2^k zero bytes is that matrix squared k times. */
static uint32_t gf2_apply(const uint32_t m[32], uint32_t v)
{
	uint32_t r = 0;
	for (int i = 0; v != 0; i++, v >>= 1) {
		if (v & 1)
			r ^= m[i];
	}
	return r;
}

uint32_t crc32c_zeros(uint32_t crc, uint64_t len)
{
	uint32_t m[32], sq[32];
	for (int i = 0; i < 32; i++) {
		uint32_t r = (uint32_t)1 << i;
		r = (r >> 4) ^ crc32c_nibble[r & 15];
		m[i] = (r >> 4) ^ crc32c_nibble[r & 15];
	}
	crc = ~crc;
	while (len != 0) {
		if (len & 1)
			crc = gf2_apply(m, crc);
		len >>= 1;
		if (len == 0)
			break;
		for (int i = 0; i < 32; i++)
			sq[i] = gf2_apply(m, m[i]);
		for (int i = 0; i < 32; i++)
			m[i] = sq[i];
	}
	return ~crc;
}
