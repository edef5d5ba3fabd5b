#include "raw.h"

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
