/*
 * A hosted sparse extent as qemu-img 7.2 creates it: header at sector 0
 * (descriptor space at sectors 1-20, filled only for monolithic images),
 * redundant grain directory at 21, its grain tables, the grain directory
 * and its tables, then the first grain at the next 64 KiB boundary. Grain
 * tables are all zeros, so only the header and the two directories are
 * written; the rest stays a hole.
 */
#include "endian.h"
#include "instar/mem.h"
#include "vmdk_internal.h"

void vmdk_sparse_layout_for(uint64_t capacity, struct vmdk_sparse_layout *l)
{
	/* qemu keeps these counts in 32 bits: reproduce its wrap-around. */
	uint32_t grains = (uint32_t)((capacity + VMDK_GRAIN_SECTORS - 1) / VMDK_GRAIN_SECTORS);
	l->capacity = capacity;
	l->gt_count = (uint32_t)(grains + VMDK_GTES_PER_GT - 1u) / VMDK_GTES_PER_GT;
	l->gd_sectors = (uint32_t)(((uint64_t)l->gt_count * 4 + VMDK_SECTOR - 1) / VMDK_SECTOR);
	uint64_t tables = (uint64_t)VMDK_GT_SECTORS * l->gt_count;
	l->rgd_offset = VMDK_DESC_OFFSET + VMDK_DESC_SECTORS;
	l->gd_offset = l->rgd_offset + l->gd_sectors + tables;
	uint64_t end = l->gd_offset + l->gd_sectors + tables;
	l->grain_offset = (end + VMDK_GRAIN_SECTORS - 1) / VMDK_GRAIN_SECTORS * VMDK_GRAIN_SECTORS;
}

static void build_header(uint8_t *h, const struct vmdk_sparse_layout *l, int stream, int zeroed)
{
	uint32_t flags = VMDK_FLAG_NL_DETECT | VMDK_FLAG_RGD;
	if (zeroed)
		flags |= VMDK_FLAG_ZERO_GRAIN;
	if (stream)
		flags |= VMDK_FLAG_COMPRESS | VMDK_FLAG_MARKER;

	memset(h, 0, VMDK_SECTOR);
	memcpy(h + VMDK_H_MAGIC, "KDMV", 4);
	put_le32(h + VMDK_H_VERSION, stream ? 3 : zeroed ? 2 : 1);
	put_le32(h + VMDK_H_FLAGS, flags);
	put_le64(h + VMDK_H_CAPACITY, l->capacity);
	put_le64(h + VMDK_H_GRAIN, VMDK_GRAIN_SECTORS);
	put_le64(h + VMDK_H_DESC_OFFSET, VMDK_DESC_OFFSET);
	put_le64(h + VMDK_H_DESC_SIZE, VMDK_DESC_SECTORS);
	put_le32(h + VMDK_H_GTES, VMDK_GTES_PER_GT);
	put_le64(h + VMDK_H_RGD, l->rgd_offset);
	put_le64(h + VMDK_H_GD, l->gd_offset);
	put_le64(h + VMDK_H_OVERHEAD, l->grain_offset);
	/* Line-ending check bytes, so transfers that mangle them show. */
	memcpy(h + VMDK_H_CHECK_BYTES, "\n \r\n", 4);
	put_le16(h + VMDK_H_COMPRESS, stream ? 1 : 0); /* 1: deflate */
}

/* Writes a grain directory at sector dir: entry i points at the i-th grain
 * table, which follow the directory. */
static uint32_t write_gd(const struct fmt_sink *sink, uint32_t output, uint64_t dir,
			 const struct vmdk_sparse_layout *l, const struct fmt_scratch *scratch,
			 uint64_t *written)
{
	uint64_t bytes = (uint64_t)l->gd_sectors * VMDK_SECTOR;
	uint32_t chunk = scratch->size < MAX_TRANSFER ? (uint32_t)scratch->size : MAX_TRANSFER;
	chunk &= ~(VMDK_SECTOR - 1);
	/* qemu counts in 32 bits here too (never near wrapping: at most
	 * 2^23 tables of 4 sectors). */
	uint32_t first = (uint32_t)(dir + l->gd_sectors);
	uint64_t entry = 0;
	for (uint64_t done = 0; done < bytes;) {
		uint32_t n = bytes - done < chunk ? (uint32_t)(bytes - done) : chunk;
		for (uint32_t i = 0; i < n; i += 4, entry++) {
			uint32_t v = entry < l->gt_count ? first + (uint32_t)entry * VMDK_GT_SECTORS : 0;
			put_le32(scratch->buf + i, v);
		}
		if (sink->write(sink->ctx, output, dir * VMDK_SECTOR + done, scratch->buf, n) != 0)
			return CREATE_ERR_WRITE_FAILED;
		*written += n;
		done += n;
	}
	return CREATE_ERR_OK;
}

uint32_t vmdk_write_sparse(const struct fmt_sink *sink, uint32_t output,
			   const struct vmdk_sparse_layout *l, int stream, int zeroed_grain,
			   const struct fmt_scratch *scratch, uint64_t *written)
{
	uint8_t h[VMDK_SECTOR];
	build_header(h, l, stream, zeroed_grain);
	if (sink->write(sink->ctx, output, 0, h, VMDK_SECTOR) != 0)
		return CREATE_ERR_WRITE_FAILED;
	*written += VMDK_SECTOR;
	uint32_t err = write_gd(sink, output, l->rgd_offset, l, scratch, written);
	if (err != CREATE_ERR_OK)
		return err;
	return write_gd(sink, output, l->gd_offset, l, scratch, written);
}
