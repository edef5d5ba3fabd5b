/* GuestMessage encoders: pure functions from values to bytes, so the same
 * code is what core sends and what the host tests decode. Each returns the
 * encoded length, or 0 if it would not fit in cap bytes. */
#ifndef CORE_MSGENC_H
#define CORE_MSGENC_H

#include "instar/shared.h"

uint32_t msgenc_progress(uint8_t *out, uint32_t cap, uint64_t done, uint64_t total);
uint32_t msgenc_error(uint8_t *out, uint32_t cap, uint32_t code, const char *text);
uint32_t msgenc_log(uint8_t *out, uint32_t cap, const char *text);
uint32_t msgenc_complete(uint8_t *out, uint32_t cap, const char *op, uint64_t bytes_written, int success);
/* A CompleteMessage that carries a create's result. */
uint32_t msgenc_complete_create(uint8_t *out, uint32_t cap, const char *op, uint64_t bytes_written, int success,
				const struct create_result *r);
uint32_t msgenc_output_size(uint8_t *out, uint32_t cap, uint32_t output, uint64_t size);

#endif
