/*
 * The info operation's messages: pure functions from what a driver
 * reports (info.h) to GuestMessage bytes, with core's encoder, so that
 * the same code is what the guest sends and what the host tests decode.
 * Each returns the encoded length, or 0 if it would not fit in cap.
 */
#ifndef INFO_ENC_H
#define INFO_ENC_H

#include "info.h"

uint32_t infoenc_snapshot(uint8_t *out, uint32_t cap, const struct info_snapshot *s);
uint32_t infoenc_bitmap(uint8_t *out, uint32_t cap, const struct info_bitmap *b);
uint32_t infoenc_extent(uint8_t *out, uint32_t cap, const struct info_extent *e);
/* The completion, with an InfoResultMessage of err and i as its result. */
uint32_t infoenc_complete(uint8_t *out, uint32_t cap, uint32_t err, const struct fmt_info *i);

#endif
