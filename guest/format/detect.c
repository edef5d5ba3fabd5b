#include "detect.h"

#include "endian.h"
#include "instar/mem.h"

const char *fmt_unreadable(const uint8_t *b, uint32_t n)
{
	static const char cloop[] = "#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n";
	if (probe_has(b, n, 0, "QFI\xfb", 4) && n >= 8 && get_be32(b + 4) == 1)
		return "the image is in qcow format (version 1), which instar cannot read";
	if (probe_has(b, n, 0, "QED\0", 4))
		return "the image is in qed format, which instar cannot read";
	if (n >= 0x44 && get_le32(b + 0x40) == 0xbeda107fu)
		return "the image is in vdi format, which instar cannot read";
	if (probe_has(b, n, 0, "WithoutFreeSpace", 16) || probe_has(b, n, 0, "WithouFreSpacExt", 16))
		return "the image is in parallels format, which instar cannot read";
	if (probe_has(b, n, 0, "Bochs Virtual HD Image", 22))
		return "the image is in bochs format, which instar cannot read";
	if (probe_has(b, n, 0, cloop, sizeof(cloop) - 1))
		return "the image is in cloop format, which instar cannot read";
	if (probe_has(b, n, 0, "LUKS\xba\xbe", 6))
		return "the image is in luks format, which instar cannot read";
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

	if (fmt_unreadable(b, n))
		return CREATE_ERR_BACKING_FORMAT;
	int best = 0;
	for (uint32_t i = 0; i < fmt_driver_count(); i++) {
		const struct fmt_driver *d = fmt_driver_at(i);
		int score = d->probe ? d->probe(b, n) : 0;
		if (score > best) {
			best = score;
			*format = d->format;
		}
	}
	return best > 0 ? CREATE_ERR_OK : CREATE_ERR_BACKING_FORMAT;
}

uint32_t fmt_parse(uint32_t format, const struct fmt_source *src, const struct fmt_scratch *scratch,
		   struct backing_info *out)
{
	if (!src || !src->read || !out)
		return CREATE_ERR_BAD_CONFIG;
	const struct fmt_driver *d = fmt_driver(format);
	if (!d || !d->parse)
		return CREATE_ERR_BACKING_FORMAT;
	return d->parse(src, scratch, out);
}

uint32_t fmt_probe(const struct fmt_source *src, const struct fmt_scratch *scratch, struct backing_info *out)
{
	uint32_t format = FORMAT_UNSET;
	uint32_t e = fmt_detect(src, scratch, &format);
	if (e != CREATE_ERR_OK)
		return e;
	return fmt_parse(format, src, scratch, out);
}
