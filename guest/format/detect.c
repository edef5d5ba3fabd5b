#include "detect.h"

#include "endian.h"
#include "instar/mem.h"

static int has(const uint8_t *b, uint32_t n, uint32_t off, const char *s, uint32_t len)
{
	return off <= n && len <= n - off && memcmp(b + off, s, len) == 0;
}

/* vmdk's text probe: comment lines (starting with '#') and lines of only
 * spaces may come first; the next line must be version=1, 2 or 3, ended by
 * "\n" or "\r\n". */
static int vmdk_text(const uint8_t *b, uint32_t n)
{
	uint32_t p = 0;
	while (p < n) {
		if (b[p] == '#') {
			while (p < n && b[p] != '\n')
				p++;
			p++;
			continue;
		}
		if (b[p] == ' ') {
			while (p < n && b[p] == ' ')
				p++;
			if (p < n && b[p] == '\r')
				p++;
			if (p == n || b[p] != '\n')
				return 0;
			p++;
			continue;
		}
		if (n - p < 10 || !has(b, n, p, "version=", 8) || b[p + 8] < '1' || b[p + 8] > '3')
			return 0;
		if (b[p + 9] == '\n')
			return 1;
		return n - p >= 11 && b[p + 9] == '\r' && b[p + 10] == '\n';
	}
	return 0;
}

/* Signatures of formats qemu would open that instar cannot. */
static int other_format(const uint8_t *b, uint32_t n)
{
	static const char cloop[] = "#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n";
	if (has(b, n, 0, "QFI\xfb", 4) && n >= 8 && get_be32(b + 4) == 1)
		return 1; /* qcow version 1 */
	if (has(b, n, 0, "QED\0", 4))
		return 1;
	if (n >= 0x44 && get_le32(b + 0x40) == 0xbeda107fu)
		return 1; /* VDI */
	if (has(b, n, 0, "WithoutFreeSpace", 16) || has(b, n, 0, "WithouFreSpacExt", 16))
		return 1; /* Parallels */
	if (has(b, n, 0, "Bochs Virtual HD Image", 22))
		return 1;
	if (has(b, n, 0, cloop, sizeof(cloop) - 1))
		return 1;
	if (has(b, n, 0, "LUKS\xba\xbe", 6))
		return 1;
	return 0;
}

uint32_t fmt_detect(const struct fmt_source *src, const struct fmt_scratch *scratch, uint32_t *format)
{
	if (!src || !src->read || !format)
		return CREATE_ERR_BAD_CONFIG;
	if (!scratch || !scratch->buf || scratch->size < DETECT_MIN_SCRATCH)
		return CREATE_ERR_SCRATCH_TOO_SMALL;
	uint8_t *b = scratch->buf;
	uint32_t n = src->size < DETECT_PROBE_SIZE ? (uint32_t)src->size : DETECT_PROBE_SIZE;
	if (n && src->read(src->ctx, 0, b, n) < 0)
		return CREATE_ERR_BACKING_READ_FAILED;

	if (other_format(b, n))
		return CREATE_ERR_BACKING_FORMAT;
	if (has(b, n, 0, "QFI\xfb", 4) && n >= 8 && get_be32(b + 4) >= 2)
		*format = FORMAT_QCOW2;
	else if (has(b, n, 0, "KDMV", 4) || has(b, n, 0, "COWD", 4) || vmdk_text(b, n))
		*format = FORMAT_VMDK;
	else if (has(b, n, 0, "conectix", 8))
		*format = FORMAT_VPC;
	else if (has(b, n, 0, "vhdxfile", 8))
		*format = FORMAT_VHDX;
	else
		*format = FORMAT_RAW;
	return CREATE_ERR_OK;
}

uint32_t fmt_parse(uint32_t format, const struct fmt_source *src, const struct fmt_scratch *scratch,
		   struct backing_info *out)
{
	if (!src || !src->read || !out)
		return CREATE_ERR_BAD_CONFIG;
	switch (format) {
	case FORMAT_RAW:
		return raw_parse(src, scratch, out);
	case FORMAT_QCOW2:
		return qcow2_parse(src, scratch, out);
	case FORMAT_VMDK:
		return vmdk_parse(src, scratch, out);
	case FORMAT_VPC:
		return vpc_parse(src, scratch, out);
	case FORMAT_VHDX:
		return vhdx_parse(src, scratch, out);
	}
	return CREATE_ERR_BACKING_FORMAT;
}

uint32_t fmt_probe(const struct fmt_source *src, const struct fmt_scratch *scratch, struct backing_info *out)
{
	uint32_t format = FORMAT_UNSET;
	uint32_t e = fmt_detect(src, scratch, &format);
	if (e != CREATE_ERR_OK)
		return e;
	return fmt_parse(format, src, scratch, out);
}
