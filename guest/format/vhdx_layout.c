/*
 * Where qemu-img 7.2 puts things in a new VHDX (observed):
 *   0       file identifier       1 MiB      log (log_size, left unwritten)
 *   64 KiB  header 1              1M+log     BAT (its entry count * 8,
 *   128 KiB header 2                         rounded up to 1 MiB)
 *   192 KiB region table 1        after BAT  metadata region (1 MiB)
 *   256 KiB region table 2        +4 MiB     first payload block
 * A dynamic file ends where payload would start; a fixed one holds the
 * whole virtual size from there.
 */
#include "vhdx_internal.h"

#include "instar/shared.h"

/* qemu leaves 4 MiB between the metadata region and the data. */
#define VHDX_DATA_GAP (4 * VHDX_MIB)

static uint32_t auto_block_size(uint64_t size)
{
	if (size > 32 * VHDX_TIB)
		return 64 * VHDX_MIB;
	if (size > 100ull * 1024 * VHDX_MIB)
		return 32 * VHDX_MIB;
	if (size > 1024 * VHDX_MIB)
		return 16 * VHDX_MIB;
	return 8 * VHDX_MIB;
}

static uint64_t round_up(uint64_t v, uint64_t unit)
{
	return (v + unit - 1) / unit * unit;
}

uint32_t vhdx_layout_for(uint64_t virtual_size, uint32_t block_size, uint32_t log_size,
			 int fixed, struct vhdx_layout *l, const char **reason)
{
	if (virtual_size > VHDX_MAX_SIZE) {
		*reason = "Image size too large; max of 64TB";
		return CREATE_ERR_INVALID_SIZE;
	}
	l->size = round_up(virtual_size, VHDX_SECTOR);

	/* Log: whole MiB (qemu rounds up), below 4 GiB. */
	if (log_size == 0) {
		*reason = "Log size must be a multiple of 1 MB";
		return CREATE_ERR_INVALID_OPTION;
	}
	uint64_t log = round_up(log_size, VHDX_MIB);
	if (log >= 4ull * 1024 * VHDX_MIB) {
		*reason = "Log size must be smaller than 4 GB";
		return CREATE_ERR_INVALID_OPTION;
	}
	l->log_size = (uint32_t)log;

	/* Block size: whole MiB, capped at 256 MiB, then a power of two. */
	uint64_t bs = block_size == 0 ? auto_block_size(l->size) : round_up(block_size, VHDX_MIB);
	if (bs > VHDX_MAX_BLOCK)
		bs = VHDX_MAX_BLOCK;
	if ((bs & (bs - 1)) != 0) {
		*reason = "Block size must be a power of two";
		return CREATE_ERR_INVALID_OPTION;
	}
	l->block_size = (uint32_t)bs;

	/* One sector bitmap block covers 2^23 sectors of 512 bytes. */
	l->chunk_ratio = (uint32_t)((1ull << 23) * VHDX_SECTOR / bs);
	l->data_blocks = (uint32_t)((l->size + bs - 1) / bs);
	/* A sector bitmap entry follows every chunk_ratio payload entries but
	 * the last. qemu computes this in 32 bits, so an empty image wraps to
	 * 2^32/chunk_ratio - 1 entries: reproduce it. */
	l->bat_entries = l->data_blocks + (uint32_t)(l->data_blocks - 1u) / l->chunk_ratio;

	l->bat_offset = VHDX_LOG_OFFSET + l->log_size;
	l->bat_length = round_up((uint64_t)l->bat_entries * 8, VHDX_MIB);
	l->meta_offset = l->bat_offset + l->bat_length;
	l->data_offset = l->meta_offset + VHDX_META_REGION_SIZE + VHDX_DATA_GAP;
	l->file_size = l->data_offset + (fixed ? l->size : 0);
	return CREATE_ERR_OK;
}
