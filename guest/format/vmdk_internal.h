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

#define VMDK_DESC_READ_MAX ((1u << 20) - 1) /* qemu's vmdk_read_desc cap */
#define VMDK_CID_DESC_SIZE (VMDK_DESC_SECTORS * VMDK_SECTOR)
#define VMDK_MAX_L1 (32u * 1024 * 1024)
#define VMDK_MAX_GRAIN 0x200000u
#define VMDK_GD_AT_END UINT64_MAX
#define VMDK_MARKER_EOS 0u
#define VMDK_MARKER_FOOTER 3u

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
/* The reading side, shared by the backing-file parser and info. */

struct info_name;

/* Reads the descriptor text at off as qemu's vmdk_read_desc: up to 1 MiB
 * - 1 bytes (the file's length at most), NUL-terminated, into scratch. */
uint32_t vmdk_read_desc(const struct fmt_source *src, const struct fmt_scratch *scratch, uint64_t off);

/* Whether qemu's block layer accepts a read of bytes at off (an int64
 * offset and BDRV_MAX_LENGTH): reads past the end give zeros, these
 * fail. */
int vmdk_pread_ok(uint64_t off, uint64_t bytes);

/* An extent line's fields. */
struct vmdk_extent_line {
	uint8_t type[11], name[512]; /* NUL-terminated */
	uint64_t sectors;
	int flat; /* FLAT or VMFS */
};

/* One descriptor line, scanned with qemu's format
 * "%10s %lld %10s \"%511[^\n\r\"]\" %lld": 1 for an extent (an RW line
 * of a known type with sectors), 0 for another line, -1 for a line qemu
 * refuses. */
int vmdk_extent_line(const uint8_t *line, struct vmdk_extent_line *out);

/* The descriptor's createType value (two bytes after the key, as qemu
 * skips "=\"" blindly, up to the quote), if it names a multi-file type;
 * else 0. */
const uint8_t *vmdk_create_type(const uint8_t *desc, uint32_t *len);

/* The checks qemu makes on the descriptor at off (20 sectors of it): a
 * readable CID and parentCID, a well-formed parentFileNameHint, copied
 * to hint (when set) if it is not empty. */
uint32_t vmdk_check_cids(const struct fmt_source *src, const struct fmt_scratch *scratch, uint64_t off,
			 uint32_t *cid, uint32_t *parent_cid, struct info_name *hint);

/* A sparse extent file as qemu's vmdk_open_sparse opens it. */
struct vmdk_sparse {
	uint64_t sectors;         /* capacity (KDMV) or disk sectors (COWD) */
	uint64_t cluster_sectors; /* grain */
	int compressed;           /* KDMV, deflate */
	int cowd;
	uint64_t desc_offset;     /* VMDK_SPARSE_DESCRIPTOR: its sector */
};

enum {
	VMDK_SPARSE_OK,
	VMDK_SPARSE_INVALID,
	VMDK_SPARSE_READ_FAILED,
	/* A KDMV header of capacity 0 that names a descriptor, which qemu
	 * then reads as a descriptor file. */
	VMDK_SPARSE_DESCRIPTOR,
	/* A grain directory at the end, and a file too short for a footer
	 * (qemu's read at a negative offset fails), or a footer whose
	 * markers or magic are not qemu's. */
	VMDK_SPARSE_NO_FOOTER,
	VMDK_SPARSE_BAD_FOOTER,
};

/* Opens f (KDMV or COWD) with qemu's checks; footer_len is the length of
 * the file qemu takes a streamOptimized footer's place from (f itself
 * when it is the image, the descriptor when f is its extent). */
int vmdk_sparse_open(const struct fmt_source *f, uint64_t footer_len, struct vmdk_sparse *x);

#endif
