/* The way to a driver's info entry point, and what every one shares. */
#include "info.h"

#include "detect.h"

void info_copy_name(struct info_name *name, const uint8_t *p, uint32_t n, uint32_t max)
{
	if (max > INFO_MAX_BACKING)
		max = INFO_MAX_BACKING;
	uint32_t len = 0;
	while (len < n && len < max && p[len] != 0) {
		name->bytes[len] = p[len];
		len++;
	}
	name->len = len;
	name->present = 1;
}

uint32_t info_fail_num(struct fmt_info *out, const char *prefix, uint64_t v, int kind)
{
	char *b = out->reason_buf;
	uint32_t cap = sizeof out->reason_buf, n = 0;
	while (prefix[n] != 0 && n < cap - 22) {
		b[n] = prefix[n];
		n++;
	}
	if (kind == INFO_NUM_SIGNED32 && (v & 0x80000000u)) {
		b[n++] = '-';
		v = (uint64_t)(-(int64_t)(int32_t)(uint32_t)v);
	}
	char digits[20];
	uint32_t k = 0, base = kind == INFO_NUM_HEX ? 16 : 10;
	do {
		digits[k++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v != 0);
	while (k > 0)
		b[n++] = digits[--k];
	b[n] = 0;
	out->reason = b;
	return INFO_ERR_INVALID;
}

uint32_t fmt_info_image(uint32_t format, const struct fmt_source *src, const struct fmt_scratch *scratch,
			const struct info_sink *sink, struct fmt_info *out)
{
	if (!src || !src->read || !scratch || !sink || !out)
		return INFO_ERR_BAD_CONFIG;
	if (format == FORMAT_UNSET) {
		uint32_t e = fmt_detect(src, scratch, &format);
		if (e == CREATE_ERR_BACKING_READ_FAILED)
			return INFO_ERR_READ_FAILED;
		if (e == CREATE_ERR_BACKING_FORMAT) {
			/* The probe's bytes are still at the start of scratch. */
			uint32_t n = src->size < DETECT_PROBE_SIZE ? (uint32_t)src->size : DETECT_PROBE_SIZE;
			out->reason = fmt_unreadable(scratch->buf, n);
			return INFO_ERR_UNSUPPORTED;
		}
		if (e != CREATE_ERR_OK)
			return INFO_ERR_BAD_CONFIG;
	}
	const struct fmt_driver *d = fmt_driver(format);
	if (!d || !d->info)
		return INFO_ERR_UNKNOWN_FMT;
	if (!scratch->buf || scratch->size < d->min_scratch)
		return INFO_ERR_BAD_CONFIG;
	out->format = format;
	return d->info(src, scratch, sink, out);
}
