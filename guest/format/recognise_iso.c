/*
 * ISO 9660 and UDF: recognised by their volume descriptors from 32768
 * on, with the virtual size from the primary volume descriptor. An ISO
 * may carry an MBR or GPT in its system area; which of those is allowed
 * is the dispatcher's polyglot rule, not this recogniser's.
 */
#include "endian.h"
#include "inspect.h"

#define ISO_DESC_START 32768u
#define ISO_DESC_SIZE 2048u

static int id_at(const uint8_t *p, const char *id)
{
	for (int i = 0; i < 5; i++)
		if (p[i] != (uint8_t)id[i])
			return 0;
	return 1;
}

/* Each 2048-byte descriptor in the head, from 32768: type, 5-byte id. */
static int iso_match(const struct inspect_input *in)
{
	for (uint32_t off = ISO_DESC_START; off <= in->head_len && in->head_len - off >= ISO_DESC_SIZE;
	     off += ISO_DESC_SIZE) {
		const uint8_t *d = in->head + off + 1;
		if (id_at(d, "CD001") || id_at(d, "BEA01") || id_at(d, "NSR02") || id_at(d, "NSR03"))
			return 1;
	}
	return 0;
}

/* The primary volume descriptor (type 1, "CD001") in the head, or NULL. */
static const uint8_t *iso_pvd(const struct inspect_input *in)
{
	for (uint32_t off = ISO_DESC_START; off <= in->head_len && in->head_len - off >= ISO_DESC_SIZE;
	     off += ISO_DESC_SIZE) {
		const uint8_t *d = in->head + off;
		if (d[0] == 1 && id_at(d + 1, "CD001"))
			return d;
		if (d[0] == 255 && id_at(d + 1, "CD001"))
			return NULL; /* the set terminator */
	}
	return NULL;
}

static void iso_check(const struct inspect_input *in, const struct fmt_scratch *scratch, struct inspect_report *r)
{
	(void)scratch;
	const uint8_t *d = iso_pvd(in);
	if (!d)
		return; /* UDF without an ISO 9660 bridge: no size to give */
	/* Both-endian fields: little-endian half first, big-endian second. */
	uint32_t blocks = get_le32(d + 80), blocks_be = get_be32(d + 84);
	uint16_t bsize = get_le16(d + 128), bsize_be = get_be16(d + 130);
	if (blocks != blocks_be || bsize != bsize_be)
		return; /* a corrupt descriptor: no size rather than a guess */
	r->has_virtual_size = 1;
	r->virtual_size = (uint64_t)blocks * bsize;
}

const struct fmt_recogniser iso_recogniser = {INSPECT_FMT_ISO, iso_match, iso_check};
