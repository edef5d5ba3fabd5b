/* raw: the backing-file "parser" (a raw file's virtual size is its
 * length, exactly as qemu reports it, not rounded). */
#ifndef FORMAT_RAW_H
#define FORMAT_RAW_H

#include "format.h"

/* Sets out->format = FORMAT_RAW and out->virtual_size = src->size.
 * Reads nothing and uses no scratch. Always CREATE_ERR_OK for a source. */
uint32_t raw_parse(const struct fmt_source *src, const struct fmt_scratch *scratch,
		   struct backing_info *out);

#endif
