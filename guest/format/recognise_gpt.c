/*
 * MBR and GPT partition tables: OpenStack's mbr rules (boot flags, the
 * protective entry's start, nothing beside it, at least one partition)
 * and, beyond them, the GPT header a protective entry promises.
 */
#include "endian.h"
#include "inspect.h"

/* A FAT boot sector also ends in 0x55AA: two FATs, media 0xF8 and a
 * jump at 0 tell it apart (OpenStack's rule). */
static int is_fat(const uint8_t *s)
{
	return (s[0] == 0xEB || s[0] == 0xE9) && s[16] == 2 && s[21] == 0xF8;
}

static int gpt_match(const struct inspect_input *in)
{
	if (in->head_len < 512)
		return 0;
	const uint8_t *s = in->head;
	return s[510] == 0x55 && s[511] == 0xAA && !is_fat(s);
}

/* Plain CRC-32 (IEEE, reflected 0xEDB88320), bitwise: one header. */
static uint32_t crc32_ieee(const uint8_t *p, uint32_t n)
{
	uint32_t c = 0xFFFFFFFFu;
	for (uint32_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
	}
	return ~c;
}

static void gpt_header_check(const struct inspect_input *in, struct inspect_report *r)
{
	if (in->head_len < 1024) {
		inspect_fail(r, INSPECT_CHECK_MBR, "protective MBR but no GPT header at LBA 1");
		return;
	}
	uint8_t h[512];
	for (int i = 0; i < 512; i++)
		h[i] = in->head[512 + i];
	static const char sig[8] = {'E', 'F', 'I', ' ', 'P', 'A', 'R', 'T'};
	for (int i = 0; i < 8; i++)
		if (h[i] != (uint8_t)sig[i]) {
			inspect_fail(r, INSPECT_CHECK_MBR, "protective MBR but no GPT header at LBA 1");
			return;
		}
	uint32_t hsize = get_le32(h + 12);
	if (hsize < 92 || hsize > 512) {
		inspect_failf(r, INSPECT_CHECK_MBR, "GPT header size out of range: ", hsize);
		return;
	}
	uint32_t crc = get_le32(h + 16);
	put_le32(h + 16, 0);
	if (crc32_ieee(h, hsize) != crc) {
		inspect_fail(r, INSPECT_CHECK_MBR, "GPT header CRC32 does not match");
		return;
	}
	uint64_t my_lba = get_le64(h + 24);
	if (my_lba != 1)
		inspect_failf(r, INSPECT_CHECK_MBR, "GPT header my_lba is not 1: ", my_lba);
	uint64_t entries_lba = get_le64(h + 72);
	uint32_t count = get_le32(h + 80), esize = get_le32(h + 84);
	uint64_t bytes = (uint64_t)count * esize;
	uint64_t sectors = in->src->size / 512;
	if (entries_lba < 2 || entries_lba >= sectors || bytes > (sectors - entries_lba) * 512)
		inspect_fail(r, INSPECT_CHECK_MBR, "GPT partition entry array is outside the file");
}

static void gpt_check(const struct inspect_input *in, const struct fmt_scratch *scratch, struct inspect_report *r)
{
	(void)scratch;
	const uint8_t *s = in->head;
	int used = 0, protective = 0, bad = 0;
	for (int i = 0; i < 4; i++) {
		const uint8_t *e = s + 446 + 16 * i;
		if (e[0] != 0x00 && e[0] != 0x80) {
			inspect_failf(r, INSPECT_CHECK_MBR, "MBR partition has a bad boot flag, entry ", (uint64_t)i);
			bad = 1;
		}
		if (e[4] == 0)
			continue;
		used++;
		if (e[4] == 0xEE) {
			protective = 1;
			if (e[1] != 0x00 || e[2] != 0x02 || e[3] != 0x00 || get_le32(e + 8) != 1) {
				inspect_fail(r, INSPECT_CHECK_MBR, "protective MBR entry does not start at LBA 1");
				bad = 1;
			}
		}
	}
	if (used == 0)
		inspect_fail(r, INSPECT_CHECK_MBR, "MBR has no partitions");
	else if (protective && used > 1)
		inspect_fail(r, INSPECT_CHECK_MBR, "MBR has partitions beside a protective GPT entry");
	else if (protective && !bad)
		gpt_header_check(in, r);
}

const struct fmt_recogniser gpt_recogniser = {INSPECT_FMT_GPT, gpt_match, gpt_check};
