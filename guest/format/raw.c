#include "raw.h"

#include "detect.h"
#include "info.h"

uint32_t raw_parse(const struct fmt_source *src, const struct fmt_scratch *scratch,
		   struct backing_info *out)
{
	(void)scratch;
	if (!src || !out)
		return CREATE_ERR_BAD_CONFIG;
	out->format = FORMAT_RAW;
	out->virtual_size = src->size;
	return CREATE_ERR_OK;
}

/* Any file is raw, when no other format claims it. */
static int raw_probe(const uint8_t *buf, uint32_t len)
{
	(void)buf;
	(void)len;
	return PROBE_FALLBACK;
}

/* Raw images are made on the host: there is nothing to plan. */
const struct fmt_driver raw_driver = {
	.format = FORMAT_RAW,
	.probe = raw_probe,
	.parse = raw_parse,
	.info = raw_info,
};
