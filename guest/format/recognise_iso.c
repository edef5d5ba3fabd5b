/*
 * ISO 9660 and UDF: recognised by their volume descriptors from 32768
 * on, with qemu's virtual size for them (the file's). An ISO
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

/* qemu has no ISO driver: it reads an ISO 9660 or UDF disc as raw, and
 * its virtual size is the file's, in whole sectors (what qemu-img info
 * reports), whatever the volume descriptors say. */
static void iso_check(const struct inspect_input *in, const struct fmt_scratch *scratch, struct inspect_report *r)
{
	(void)scratch;
	uint64_t size = in->src->size;
	uint64_t sectors = size / 512 + (size % 512 != 0);
	r->has_virtual_size = 1;
	r->virtual_size = sectors * 512; /* sectors < 2^55 */
}

const struct fmt_recogniser iso_recogniser = {INSPECT_FMT_ISO, iso_match, iso_check};
