/*
 * VHDX: planner and backing-file parser. Output matches qemu-img 7.2's
 * `create -f vhdx` byte for byte, apart from the random fields (header
 * sequence number, file and data write GUIDs, page 83 GUID) and the header
 * checksums over them, which come from create_config.entropy.
 */
#ifndef FORMAT_VHDX_H
#define FORMAT_VHDX_H

#include <stdint.h>

#include "format.h"

/* Scratch the planner and parser need: one 64 KiB structure (region table
 * or metadata table) at a time, and for the parser 32 KiB more for the list
 * of regions; BAT writes and reads go in scratch-sized chunks (at most
 * MAX_TRANSFER), so more scratch means fewer requests. */
#define VHDX_MIN_SCRATCH (128u * 1024)
/* The BAT is written in pieces of this size through one reused buffer:
 * every fresh page of guest memory costs a fault and every write an exit,
 * and this size balances the two under --accel process. */
#define VHDX_BAT_CHUNK (128u * 1024)

/* The planner (vhdx_driver.plan) makes a VHDX of the virtual size. Honours
 * cfg->vhd_subformat (VHD_DYNAMIC, VHD_FIXED), cfg->block_size (0 = auto;
 * else rounded up to 1 MiB and capped at 256 MiB as qemu does, then it must
 * be a power of two), cfg->vhdx_log_size (rounded up to 1 MiB, not 0, below
 * 4 GiB), FLAG_VHDX_BLOCK_STATE_ZERO and cfg->entropy.
 * Output 0 only. A fixed image's data area is left to the host's truncate. */

/* Checks a VHDX as qemu's vhdx driver does on a read-only open (file
 * identifier, headers, region table, metadata, BAT) and reports its virtual
 * size. CREATE_ERR_OK or CREATE_ERR_BACKING_PARSE. */
uint32_t vhdx_parse(const struct fmt_source *src, const struct fmt_scratch *scratch,
		    struct backing_info *out);

/* The driver's probe: "vhdxfile" at 0. */
int vhdx_probe(const uint8_t *buf, uint32_t len);

#endif
