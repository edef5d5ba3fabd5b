/*
 * The inspect operation's messages: pure functions from what inspect
 * reports (inspect.h) to GuestMessage bytes, with core's encoder, so
 * that the same code is what the guest sends and what host tests decode.
 * Each returns the encoded length, or 0 if it would not fit in cap.
 */
#ifndef INSPECT_ENC_H
#define INSPECT_ENC_H

#include "inspect.h"

/* One failed check: an InspectFailureMessage. */
uint32_t inspectenc_failure(uint8_t *out, uint32_t cap, uint32_t check, const char *reason);
/* The completion, with an InspectResultMessage of err and r. */
uint32_t inspectenc_complete(uint8_t *out, uint32_t cap, uint32_t err, const struct inspect_report *r);

#endif
