/*
 * Compressed data and archives: never a disk image, however a guest
 * would see them, so each is named and refused (check container).
 */
#include "inspect.h"

static int head_has(const struct inspect_input *in, uint32_t off, const uint8_t *magic, uint32_t n)
{
	if (in->head_len < off || in->head_len - off < n)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		if (in->head[off + i] != magic[i])
			return 0;
	return 1;
}

static void container(struct inspect_report *r, const char *reason)
{
	inspect_fail(r, INSPECT_CHECK_CONTAINER, reason);
}

static int gzip_match(const struct inspect_input *in)
{
	static const uint8_t m[] = {0x1f, 0x8b, 0x08};
	return head_has(in, 0, m, sizeof m);
}

static void gzip_check(const struct inspect_input *in, const struct fmt_scratch *s, struct inspect_report *r)
{
	(void)in;
	(void)s;
	container(r, "gzip-compressed data, not a disk image");
}

const struct fmt_recogniser gzip_recogniser = {INSPECT_FMT_GZIP, gzip_match, gzip_check};

static int xz_match(const struct inspect_input *in)
{
	static const uint8_t m[] = {0xFD, '7', 'z', 'X', 'Z', 0x00};
	return head_has(in, 0, m, sizeof m);
}

static void xz_check(const struct inspect_input *in, const struct fmt_scratch *s, struct inspect_report *r)
{
	(void)in;
	(void)s;
	container(r, "xz-compressed data, not a disk image");
}

const struct fmt_recogniser xz_recogniser = {INSPECT_FMT_XZ, xz_match, xz_check};

static int zstd_match(const struct inspect_input *in)
{
	static const uint8_t m[] = {0x28, 0xB5, 0x2F, 0xFD};
	return head_has(in, 0, m, sizeof m);
}

static void zstd_check(const struct inspect_input *in, const struct fmt_scratch *s, struct inspect_report *r)
{
	(void)in;
	(void)s;
	container(r, "zstd-compressed data, not a disk image");
}

const struct fmt_recogniser zstd_recogniser = {INSPECT_FMT_ZSTD, zstd_match, zstd_check};

/* bzip2: "BZh", a block size digit, then the block magic (pi). */
static int bzip2_match(const struct inspect_input *in)
{
	static const uint8_t m[] = {'B', 'Z', 'h'};
	static const uint8_t blk[] = {0x31, 0x41, 0x59, 0x26, 0x53, 0x59};
	return head_has(in, 0, m, sizeof m) && in->head_len >= 10 && in->head[3] >= '1' && in->head[3] <= '9' &&
	       head_has(in, 4, blk, sizeof blk);
}

static void bzip2_check(const struct inspect_input *in, const struct fmt_scratch *s, struct inspect_report *r)
{
	(void)in;
	(void)s;
	container(r, "bzip2-compressed data, not a disk image");
}

const struct fmt_recogniser bzip2_recogniser = {INSPECT_FMT_BZIP2, bzip2_match, bzip2_check};

/* tar: "ustar" at 257 and the header checksum at 148 (octal) equal to
 * the sum of the header's bytes with the checksum field as spaces. */
static int tar_header(const struct inspect_input *in)
{
	static const uint8_t m[] = {'u', 's', 't', 'a', 'r'};
	if (in->head_len < 512 || !head_has(in, 257, m, sizeof m))
		return 0;
	uint32_t sum = 0, want = 0;
	int digits = 0;
	for (uint32_t i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? (uint32_t)' ' : in->head[i];
	for (uint32_t i = 148; i < 156; i++) {
		uint8_t c = in->head[i];
		if (c >= '0' && c <= '7') {
			want = want * 8 + (uint32_t)(c - '0');
			digits++;
		} else if (c == ' ' || c == 0) {
			if (digits)
				break;
		} else {
			return 0;
		}
	}
	return digits > 0 && sum == want;
}

/* The first member's name (at 0, up to 100 bytes) ends in ".ovf". */
static int first_is_ovf(const struct inspect_input *in)
{
	uint32_t n = 0;
	while (n < 100 && in->head[n] != 0)
		n++;
	if (n < 4)
		return 0;
	const uint8_t *e = in->head + n - 4;
	return e[0] == '.' && (e[1] | 0x20) == 'o' && (e[2] | 0x20) == 'v' && (e[3] | 0x20) == 'f';
}

static int tar_match(const struct inspect_input *in)
{
	return tar_header(in) && !first_is_ovf(in);
}

static void tar_check(const struct inspect_input *in, const struct fmt_scratch *s, struct inspect_report *r)
{
	(void)in;
	(void)s;
	container(r, "tar archive, not a disk image");
}

const struct fmt_recogniser tar_recogniser = {INSPECT_FMT_TAR, tar_match, tar_check};

static int ova_match(const struct inspect_input *in)
{
	return tar_header(in) && first_is_ovf(in);
}

static void ova_check(const struct inspect_input *in, const struct fmt_scratch *s, struct inspect_report *r)
{
	(void)in;
	(void)s;
	container(r, "ova archive (a tar with an .ovf first), not a disk image");
}

const struct fmt_recogniser ova_recogniser = {INSPECT_FMT_OVA, ova_match, ova_check};
