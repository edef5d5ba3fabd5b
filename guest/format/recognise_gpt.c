/*
 * MBR and GPT partition tables: OpenStack's mbr rules (boot flags, the
 * protective entry's start, nothing beside it, at least one partition)
 * and, beyond them, the GPT header a protective entry promises and its
 * partition entry array (bounded: at most GPT_MAX_ARRAY bytes are read),
 * then the backup header the primary points at and its array, which
 * must agree with the primary (firmware and kernels fall back to the
 * backup, so a disagreeing one is a second table).
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

/* Plain CRC-32 (IEEE, reflected 0xEDB88320), bitwise, continued from c
(0 to start): the header and the entry array, read in chunks. */
static uint32_t crc32_ieee_update(uint32_t c, const uint8_t *p, uint32_t n)
{
	c = ~c;
	for (uint32_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
	}
	return ~c;
}

/* The largest entry array checked: UEFI's usual is 128 entries of 128
 * bytes (16 KiB); a header asking for more than this is refused rather
 * than read. */
#define GPT_MAX_ARRAY (1u << 20)
/* The largest entry size taken: UEFI's sizes are 128 * 2^n. */
#define GPT_MAX_ENTRY 4096u

/* The entry array's CRC-32 against the header's (offset 88), reading
 * bytes from byte offset off through scratch in chunks. */
static int gpt_array_check(const struct inspect_input *in, const struct fmt_scratch *scratch, uint64_t off,
			   uint32_t bytes, uint32_t want, const char *which, struct inspect_report *r)
{
	struct inspect_reason w = {.n = 0};
	w.b[0] = 0;
	inspect_reason_add(&w, which);
	uint32_t chunk = scratch && scratch->buf ? (scratch->size < 65536 ? (uint32_t)scratch->size : 65536u) : 0;
	chunk &= ~511u;
	if (chunk == 0) {
		inspect_reason_add(&w, " partition entry array could not be read");
		inspect_fail(r, INSPECT_CHECK_MBR, w.b);
		return 0;
	}
	uint32_t c = 0;
	for (uint32_t done = 0; done < bytes;) {
		uint32_t n = bytes - done < chunk ? bytes - done : chunk;
		if (in->src->read(in->src->ctx, off + done, scratch->buf, n) != 0) {
			inspect_reason_add(&w, " partition entry array could not be read");
			inspect_fail(r, INSPECT_CHECK_MBR, w.b);
			return 0;
		}
		c = crc32_ieee_update(c, scratch->buf, n);
		done += n;
	}
	if (c != want) {
		inspect_reason_add(&w, " partition entry array CRC32 does not match");
		inspect_fail(r, INSPECT_CHECK_MBR, w.b);
		return 0;
	}
	return 1;
}

/* Whether a header's CRC32 (over its size, the CRC field zeroed) holds;
 * h is a copy, changed. */
static int gpt_crc_ok(uint8_t *h, uint32_t hsize)
{
	uint32_t crc = get_le32(h + 16);
	put_le32(h + 16, 0);
	return crc32_ieee_update(0, h, hsize) == crc;
}

/* The backup header at the primary's alternate LBA: a header there, of
 * a sane size and a good CRC, pointing back at LBA 1, with the primary's
 * usable range, disk GUID, entry count and size and array CRC, and its
 * own array (which may be elsewhere) inside the file with that CRC. */
static void gpt_backup_check(const struct inspect_input *in, const struct fmt_scratch *scratch, const uint8_t *p,
			     uint64_t sectors, struct inspect_report *r)
{
	uint64_t alt = get_le64(p + 32);
	uint8_t h[512];
	if (alt < 2 || alt >= sectors) {
		inspect_failf(r, INSPECT_CHECK_MBR, "GPT backup header is outside the file: LBA ", alt);
		return;
	}
	if (in->src->read(in->src->ctx, alt * 512, h, sizeof h) != 0) {
		inspect_fail(r, INSPECT_CHECK_MBR, "GPT backup header could not be read");
		return;
	}
	static const char sig[8] = {'E', 'F', 'I', ' ', 'P', 'A', 'R', 'T'};
	for (int i = 0; i < 8; i++)
		if (h[i] != (uint8_t)sig[i]) {
			inspect_failf(r, INSPECT_CHECK_MBR, "no GPT backup header at the primary's alternate LBA ", alt);
			return;
		}
	uint32_t hsize = get_le32(h + 12);
	if (hsize < 92 || hsize > 512 || !gpt_crc_ok(h, hsize)) {
		inspect_fail(r, INSPECT_CHECK_MBR, "GPT backup header CRC32 does not match");
		return;
	}
	int same = get_le64(h + 24) == alt && get_le64(h + 32) == 1;
	/* first and last usable LBA, disk GUID, then entry count, size and
	 * array CRC */
	for (int i = 40; i < 72; i++)
		same &= h[i] == p[i];
	for (int i = 80; i < 92; i++)
		same &= h[i] == p[i];
	if (!same) {
		inspect_fail(r, INSPECT_CHECK_MBR, "GPT backup header disagrees with the primary");
		return;
	}
	/* Entry size and count are the primary's, already bounded. */
	uint64_t bytes = (uint64_t)get_le32(h + 80) * get_le32(h + 84), at = get_le64(h + 72);
	if (at < 2 || at >= sectors || bytes > (sectors - at) * 512) {
		inspect_fail(r, INSPECT_CHECK_MBR, "GPT backup partition entry array is outside the file");
		return;
	}
	gpt_array_check(in, scratch, at * 512, (uint32_t)bytes, get_le32(h + 88), "GPT backup", r);
}

static void gpt_header_check(const struct inspect_input *in, const struct fmt_scratch *scratch,
			     struct inspect_report *r)
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
	if (!gpt_crc_ok(h, hsize)) {
		inspect_fail(r, INSPECT_CHECK_MBR, "GPT header CRC32 does not match");
		return;
	}
	uint64_t my_lba = get_le64(h + 24);
	int ok = my_lba == 1;
	if (!ok)
		inspect_failf(r, INSPECT_CHECK_MBR, "GPT header my_lba is not 1: ", my_lba);
	uint64_t entries_lba = get_le64(h + 72);
	uint32_t count = get_le32(h + 80), esize = get_le32(h + 84);
	if (esize < 128 || esize > GPT_MAX_ENTRY || (esize & (esize - 1)) != 0) {
		inspect_failf(r, INSPECT_CHECK_MBR, "GPT partition entry size is not 128 * 2^n: ", esize);
		return;
	}
	/* count < 2^32 and esize <= 2^12: the product fits 64 bits. */
	uint64_t bytes = (uint64_t)count * esize;
	if (bytes > GPT_MAX_ARRAY) {
		inspect_failf(r, INSPECT_CHECK_MBR, "GPT partition entry array is too large: entries ", count);
		return;
	}
	uint64_t sectors = in->src->size / 512;
	if (entries_lba < 2 || entries_lba >= sectors || bytes > (sectors - entries_lba) * 512) {
		inspect_fail(r, INSPECT_CHECK_MBR, "GPT partition entry array is outside the file");
		return;
	}
	ok &= gpt_array_check(in, scratch, entries_lba * 512, (uint32_t)bytes, get_le32(h + 88), "GPT", r);
	/* Only a sound primary is compared with its backup: one failure
	 * per broken table. */
	if (ok)
		gpt_backup_check(in, scratch, in->head + 512, sectors, r);
}

static void gpt_check(const struct inspect_input *in, const struct fmt_scratch *scratch, struct inspect_report *r)
{
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
		gpt_header_check(in, scratch, r);
}

const struct fmt_recogniser gpt_recogniser = {INSPECT_FMT_GPT, gpt_match, gpt_check};
