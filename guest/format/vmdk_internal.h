/* VMDK on-disk layout shared by the planner and parser (VMware "Virtual
 * Disk Format 5.0": hosted sparse extent header, grain directories). */
#ifndef FORMAT_VMDK_INTERNAL_H
#define FORMAT_VMDK_INTERNAL_H

#include <stdint.h>

#include "format.h"
#include "vmdk_text.h"

#define VMDK_SECTOR 512u
#define VMDK_GRAIN_SECTORS 128u /* 64 KiB grains */
#define VMDK_GTES_PER_GT 512u
#define VMDK_GT_SECTORS 4u /* 512 entries of 4 bytes */
#define VMDK_DESC_OFFSET 1u /* sectors */
#define VMDK_DESC_SECTORS 20u
#define VMDK_EXTENT_2GB (2ull * 1024 * 1024 * 1024 / VMDK_SECTOR)

/* Sparse header fields (little-endian). */
#define VMDK_H_MAGIC 0
#define VMDK_H_VERSION 4
#define VMDK_H_FLAGS 8
#define VMDK_H_CAPACITY 12
#define VMDK_H_GRAIN 20
#define VMDK_H_DESC_OFFSET 28
#define VMDK_H_DESC_SIZE 36
#define VMDK_H_GTES 44
#define VMDK_H_RGD 48
#define VMDK_H_GD 56
#define VMDK_H_OVERHEAD 64
#define VMDK_H_UNCLEAN 72
#define VMDK_H_CHECK_BYTES 73
#define VMDK_H_COMPRESS 77

#define VMDK_FLAG_NL_DETECT 0x1u
#define VMDK_FLAG_RGD 0x2u
#define VMDK_FLAG_ZERO_GRAIN 0x4u
#define VMDK_FLAG_COMPRESS 0x10000u
#define VMDK_FLAG_MARKER 0x20000u

/* Where a new sparse extent puts things, all in sectors, with qemu's
 * 32-bit counts (which wrap for extents of 256 TiB and more). */
struct vmdk_sparse_layout {
	uint64_t capacity;
	uint32_t gt_count;
	uint32_t gd_sectors;
	uint64_t rgd_offset;
	uint64_t gd_offset;
	uint64_t grain_offset; /* the file's length */
};

void vmdk_sparse_layout_for(uint64_t capacity, struct vmdk_sparse_layout *l);

/* Writes a sparse extent's header and both grain directories to output.
 * stream selects streamOptimized's header; zeroed_grain its flag. */
uint32_t vmdk_write_sparse(const struct fmt_sink *sink, uint32_t output,
			   const struct vmdk_sparse_layout *l, int stream, int zeroed_grain,
			   const struct fmt_scratch *scratch, uint64_t *written);

/* Appends extent file name number index (1-based) of the given subformat,
 * derived from the image's base name as qemu-img does. */
void vmdk_extent_name(struct vmdk_text *t, const uint8_t *image_name, uint32_t len,
		      uint32_t subformat, uint32_t index);

/* Reads the CID a new image records as its parentCID: qemu-img reads the
 * backing file's descriptor (embedded or text) even with -u. */
uint32_t vmdk_parent_cid(const struct fmt_source *src, const struct fmt_scratch *scratch,
			 uint32_t *cid);

/* Inspect's hook into a refused open (vmdk_inspect.c): the bits
 * 1<<INSPECT_CHECK_* that explain the refusal, for fmt_info's
 * inspect_checks; a streamOptimized file whose grain directory is at the
 * end without a footer marker, footer header and end-of-stream marker
 * closing it fails footer. */
uint32_t vmdk_refusal_checks(const struct fmt_source *src);

#endif
