#include "info.h"
#include "read_padded.h"

/* A raw image is its bytes: its size is the file's, rounded up to a
 * sector as qemu's bdrv_getlength. */
uint32_t raw_info(const struct fmt_source *src, const struct fmt_scratch *scratch, const struct info_sink *sink,
		  struct fmt_info *out)
{
	(void)scratch;
	(void)sink;
	out->format = FORMAT_RAW;
	out->virtual_size = padded_length(src);
	return INFO_ERR_OK;
}
