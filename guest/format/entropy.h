/*
 * A deterministic byte stream derived from the host's entropy
 * (create_config.entropy): formats need more random bytes than the 32 the
 * config carries (vhdx wants several GUIDs), and the output must stay a pure
 * function of the config.
 */
#ifndef FORMAT_ENTROPY_H
#define FORMAT_ENTROPY_H

#include <stdint.h>

#include "instar/shared.h"

struct entropy_stream {
	uint8_t seed[CREATE_ENTROPY_SIZE];
	uint64_t counter; /* 64-bit words produced so far */
};

void entropy_init(struct entropy_stream *s, const uint8_t seed[CREATE_ENTROPY_SIZE]);

/* Fills out with the next n bytes of the stream. */
void entropy_bytes(struct entropy_stream *s, uint8_t *out, uint32_t n);

#endif
