/*
 * VHD ("vpc" in qemu): planner and backing-file parser. Output matches
 * qemu-img 7.2's `create -f vpc` byte for byte, apart from the footer's
 * timestamp and UUID (and the checksums over them), which come from
 * create_config.timestamp and .entropy.
 */
#ifndef FORMAT_VPC_H
#define FORMAT_VPC_H

#include <stdint.h>

#include "format.h"

/* Scratch the planner and parser need: the planner builds footer plus
 * dynamic header (1536 bytes) and fills the BAT in chunks of the scratch
 * size; the parser reads the 1024-byte dynamic header and scans the BAT in
 * scratch-sized chunks. More scratch only means fewer, larger writes. */
#define VPC_MIN_SCRATCH 4096u

/* The planner (vpc_driver.plan) makes a VHD of the virtual size (rounded
 * as qemu does: up to a whole CHS geometry unless FLAG_FORCE_SIZE). Honours cfg->vhd_subformat (VHD_DYNAMIC,
 * VHD_FIXED), FLAG_FORCE_SIZE, cfg->block_size (0 or 2 MiB: qemu offers no
 * other), cfg->timestamp and cfg->entropy. Output 0 only. */

/* Reads a VHD's footer (at 0 for dynamic images, at the end for fixed ones),
 * checks it as qemu's vpc driver does on open, and reports the virtual size
 * qemu-img info would. CREATE_ERR_OK or CREATE_ERR_BACKING_PARSE. */
uint32_t vpc_parse(const struct fmt_source *src, const struct fmt_scratch *scratch,
		   struct backing_info *out);

/* The driver's probe: "conectix" at 0. */
int vpc_probe(const uint8_t *buf, uint32_t len);

#endif
