/* Random (version 4) UUIDs from the entropy stream. */
#ifndef FORMAT_UUID_H
#define FORMAT_UUID_H

#include <stdint.h>

#include "entropy.h"

/* Fills out[16] with a version-4, RFC 4122 variant UUID in its canonical
 * (big-endian field) byte order, as qemu's qemu_uuid_generate() does. */
void uuid_v4(struct entropy_stream *s, uint8_t out[16]);

#endif
