/*
 * The VMDK backing-file parser. It accepts what qemu 7.2's vmdk driver
 * opens read-only and reports the virtual size `qemu-img info` shows:
 *  - a file starting with "KDMV" is a hosted sparse extent: version at most
 *    3, at most 512 entries per grain table, a non-zero grain table span,
 *    grains of at most 1 GiB, at most 32M grain directory entries, the file
 *    at least as long as the header's overhead; a grain directory "at the
 *    end" (streamOptimized) means the header in the footer counts, after
 *    checking the footer and end-of-stream markers. Its size is its
 *    capacity, unless the capacity is 0 and it names a descriptor, which is
 *    then read as a descriptor file; the grain directories' offsets must
 *    be ones qemu's block layer reads at;
 *  - "COWD" is the old sparse format: its size is its sector count, its
 *    grains of at most 1 GiB, its L1 table of at most 32M entries;
 *  - anything else is a descriptor file (its first 1 MiB - 1 bytes, up to
 *    the first NUL): createType must be a multi-file type, and the size is
 *    the sum of its "RW" extent lines, scanned as qemu's sscanf does;
 *  - the descriptor (at 512 for sparse files, 0 for descriptor files) must
 *    have a "CID" and a "parentCID" with hex values, and a
 *    parentFileNameHint, if any, must be quoted and under 4 KiB.
 * Divergence, by design: extent files are not opened (the guest sees only
 * the descriptor), so missing extents pass, and a sparse extent's size is
 * taken from its descriptor line rather than its own header (info reads
 * them: vmdk_info.c).
 */
#include "vmdk.h"

#include "detect.h"
#include "endian.h"
#include "instar/mem.h"
#include "read_padded.h"
#include "vmdk_internal.h"
#include "vmdk_scan.h"
#include "info.h"

#define P_ERR CREATE_ERR_BACKING_PARSE

_Static_assert(VMDK_MIN_SCRATCH >= VMDK_DESC_READ_MAX + 1 + VMDK_CID_DESC_SIZE + 1, "scratch");

uint32_t vmdk_read_desc(const struct fmt_source *src, const struct fmt_scratch *scratch, uint64_t off)
{
	uint64_t len = padded_length(src);
	if (src->size < 4)
		return P_ERR;
	uint32_t n = len < VMDK_DESC_READ_MAX ? (uint32_t)len : VMDK_DESC_READ_MAX;
	/* qemu's read at an offset its block layer refuses fails. */
	if (!vmdk_pread_ok(off, n) || read_padded(src, off, scratch->buf, n) != 0)
		return P_ERR;
	scratch->buf[n] = 0;
	return CREATE_ERR_OK;
}

int vmdk_pread_ok(uint64_t off, uint64_t bytes)
{
	/* bdrv_check_request: a non-negative int64 offset, and offset plus
	 * length within BDRV_MAX_LENGTH (INT64_MAX aligned down to 1 GiB). */
	const uint64_t max_length = (uint64_t)INT64_MAX - ((1ull << 30) - 1);
	return bytes <= max_length && off <= max_length - bytes;
}

int vmdk_extent_line(const uint8_t *line, struct vmdk_extent_line *out)
{
	struct vmdk_cursor c = { line };
	uint8_t access[11] = {0}, type[11] = {0}, name[512] = {0};
	int64_t sectors = 0, offset = -1;
	int matches = 0;

	if (vmdk_scan_token(&c, access, 10)) {
		matches++;
		if (vmdk_scan_i64(&c, &sectors)) {
			matches++;
			if (vmdk_scan_token(&c, type, 10)) {
				matches++;
				vmdk_scan_space(&c);
				if (vmdk_scan_char(&c, '"') && vmdk_scan_name(&c, name, 511)) {
					matches++;
					if (vmdk_scan_char(&c, '"') && vmdk_scan_i64(&c, &offset))
						matches++;
				}
			}
		}
	}
	if (matches < 4 || !vmdk_streq(access, "RW"))
		return 0; /* not an extent line */
	if (vmdk_streq(type, "FLAT")) {
		if (matches != 5 || offset < 0)
			return -1;
	} else if (vmdk_streq(type, "VMFS")) {
		if (matches != 4)
			return -1;
	} else if (matches != 4) {
		return -1;
	}
	if (sectors <= 0 ||
	    !(vmdk_streq(type, "FLAT") || vmdk_streq(type, "SPARSE") || vmdk_streq(type, "VMFS") ||
	      vmdk_streq(type, "VMFSSPARSE") || vmdk_streq(type, "SESPARSE")))
		return 0;
	memcpy(out->type, type, sizeof type);
	memcpy(out->name, name, sizeof name);
	out->type[sizeof out->type - 1] = 0;
	out->name[sizeof out->name - 1] = 0;
	out->sectors = (uint64_t)sectors;
	out->flat = vmdk_streq(type, "FLAT") || vmdk_streq(type, "VMFS");
	return 1;
}

const uint8_t *vmdk_create_type(const uint8_t *desc, uint32_t *len)
{
	static const char *const types[] = {
		"monolithicFlat", "vmfs", "vmfsSparse", "seSparse", "twoGbMaxExtentSparse",
		"twoGbMaxExtentFlat",
	};
	const uint8_t *ct = vmdk_strstr(desc, "createType");
	if (ct == 0)
		return 0;
	ct += 10;
	if (ct[0] == 0 || ct[1] == 0)
		return 0;
	ct += 2;
	uint8_t value[128];
	uint32_t n = 0;
	while (ct[n] != 0 && ct[n] != '"') {
		if (n + 1 >= sizeof(value))
			return 0;
		value[n] = ct[n];
		n++;
	}
	if (ct[n] == 0)
		return 0;
	value[n] = 0;
	int known = 0;
	for (uint32_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		known |= vmdk_streq(value, types[i]);
	if (!known)
		return 0;
	*len = n;
	return ct;
}

/* A descriptor file's size: createType must name a multi-file type, and
 * the size is the sum of its extent lines. */
static uint32_t desc_file_size(const uint8_t *desc, uint64_t *sectors)
{
	uint32_t n;
	if (vmdk_create_type(desc, &n) == 0)
		return P_ERR;
	uint64_t total = 0;
	for (const uint8_t *p = desc; *p != 0;) {
		struct vmdk_extent_line x;
		int k = vmdk_extent_line(p, &x);
		if (k < 0)
			return P_ERR;
		if (k > 0) {
			if (x.sectors > (uint64_t)INT64_MAX / VMDK_SECTOR - total)
				return P_ERR;
			total += x.sectors;
		}
		while (*p != 0 && *p++ != '\n')
			;
	}
	*sectors = total;
	return CREATE_ERR_OK;
}

uint32_t vmdk_check_cids(const struct fmt_source *src, const struct fmt_scratch *scratch, uint64_t off,
			 uint32_t *cid, uint32_t *parent_cid, struct info_name *hint)
{
	/* qemu reads the hint from these 20 sectors NUL-terminated after
	 * them, and the CIDs with their last byte made a NUL. */
	uint8_t *d = scratch->buf + VMDK_DESC_READ_MAX + 1;
	if (read_padded(src, off, d, VMDK_CID_DESC_SIZE) != 0)
		return P_ERR;
	d[VMDK_CID_DESC_SIZE] = 0;
	const uint8_t *key = vmdk_strstr(d, "parentFileNameHint");
	if (key != 0) {
		/* qemu skips the key, '=' and '"' without looking at them. */
		const uint8_t *p = key;
		for (uint32_t i = 0; i < 20 && *p != 0; i++)
			p++;
		uint32_t n = 0;
		while (p[n] != 0 && p[n] != '"')
			n++;
		if (p[n] != '"' || n > INFO_MAX_BACKING)
			return P_ERR;
		/* An empty hint names no backing file. */
		if (hint && n > 0)
			info_copy_name(hint, p, n, INFO_MAX_BACKING);
	}
	d[VMDK_CID_DESC_SIZE - 1] = 0;
	const char *keys[2] = { "CID", "parentCID" };
	uint32_t *vals[2] = { cid, parent_cid };
	for (uint32_t k = 0; k < 2; k++) {
		const uint8_t *p = vmdk_strstr(d, keys[k]);
		if (p == 0)
			return P_ERR;
		/* Skip the key and one more byte (the '='), as qemu. */
		uint32_t skip = k == 0 ? 4 : 10;
		for (uint32_t i = 0; i < skip && *p != 0; i++)
			p++;
		struct vmdk_cursor c = { p };
		if (!vmdk_scan_hex32(&c, vals[k]))
			return P_ERR;
	}
	return CREATE_ERR_OK;
}

int vmdk_sparse_open(const struct fmt_source *f, uint64_t footer_len, struct vmdk_sparse *x)
{
	uint8_t h[VMDK_SECTOR];
	memset(x, 0, sizeof *x);
	/* vmdk_read_desc: a file under 4 bytes is refused. */
	if (f->size < 4 || f->size > READ_PADDED_MAX_SIZE)
		return VMDK_SPARSE_INVALID;
	if (read_padded(f, 0, h, VMDK_SECTOR) != 0)
		return VMDK_SPARSE_READ_FAILED;
	if (memcmp(h, "COWD", 4) == 0) {
		/* vmdk_open_vmfs_sparse: version, flags, disk sectors,
		 * granularity, L1 offset and size, 32 bits each. Its L1 table
		 * (at most 32M entries at a 32-bit sector) is always readable. */
		uint32_t grain = get_le32(h + 16), l1 = get_le32(h + 24);
		if (grain > VMDK_MAX_GRAIN || l1 > VMDK_MAX_L1)
			return VMDK_SPARSE_INVALID;
		x->cowd = 1;
		x->sectors = get_le32(h + 12);
		x->cluster_sectors = grain;
		return VMDK_SPARSE_OK;
	}
	if (memcmp(h, "KDMV", 4) != 0)
		return VMDK_SPARSE_INVALID; /* "Image not in VMDK format" */
	if (get_le64(h + VMDK_H_CAPACITY) == 0 && get_le64(h + VMDK_H_DESC_OFFSET) != 0) {
		x->desc_offset = get_le64(h + VMDK_H_DESC_OFFSET);
		return VMDK_SPARSE_DESCRIPTOR;
	}
	if (get_le64(h + VMDK_H_GD) == VMDK_GD_AT_END) {
		/* The footer (marker, header copy, end-of-stream marker) is
		 * read 1536 bytes before the end of the file that names this
		 * one, as qemu reads it: the file itself when it is the image,
		 * the descriptor when it is an extent. */
		uint8_t f3[3 * VMDK_SECTOR];
		if (footer_len < sizeof f3)
			return VMDK_SPARSE_NO_FOOTER;
		if (read_padded(f, footer_len - sizeof f3, f3, sizeof f3) != 0)
			return VMDK_SPARSE_READ_FAILED;
		const uint8_t *fm = f3, *fh = f3 + VMDK_SECTOR, *eos = f3 + 2 * VMDK_SECTOR;
		if (memcmp(fh, "KDMV", 4) != 0 || get_le32(fm + 8) != 0 ||
		    get_le32(fm + 12) != VMDK_MARKER_FOOTER || get_le64(eos) != 0 ||
		    get_le32(eos + 8) != 0 || get_le32(eos + 12) != VMDK_MARKER_EOS)
			return VMDK_SPARSE_BAD_FOOTER;
		memcpy(h + 4, fh + 4, 75); /* the header fields qemu reads */
	}
	uint32_t gtes = get_le32(h + VMDK_H_GTES), flags = get_le32(h + VMDK_H_FLAGS);
	uint64_t grain = get_le64(h + VMDK_H_GRAIN);
	uint64_t capacity = get_le64(h + VMDK_H_CAPACITY);
	if (get_le32(h + VMDK_H_VERSION) > 3 || gtes > VMDK_GTES_PER_GT)
		return VMDK_SPARSE_INVALID;
	/* Sectors per grain table and the L1 size, in qemu's 32 bits. */
	uint32_t span = (uint32_t)(gtes * grain);
	if (span == 0)
		return VMDK_SPARSE_INVALID;
	uint32_t l1 = (uint32_t)((capacity + span - 1) / span);
	if (padded_length(f) / VMDK_SECTOR < get_le64(h + VMDK_H_OVERHEAD))
		return VMDK_SPARSE_INVALID; /* "File truncated" */
	if (grain > VMDK_MAX_GRAIN || l1 > VMDK_MAX_L1)
		return VMDK_SPARSE_INVALID;
	/* qemu reads the grain directory, and the redundant one when the
	 * flag says there is one: past the end reads zeros, but an offset
	 * its block layer refuses fails the open. */
	uint64_t gd = get_le64(h + VMDK_H_GD) << 9, rgd = get_le64(h + VMDK_H_RGD) << 9;
	if (!vmdk_pread_ok(gd, (uint64_t)l1 * 4))
		return VMDK_SPARSE_INVALID;
	if ((flags & VMDK_FLAG_RGD) && rgd != 0 && !vmdk_pread_ok(rgd, (uint64_t)l1 * 4))
		return VMDK_SPARSE_INVALID;
	x->sectors = capacity;
	x->cluster_sectors = grain;
	x->compressed = get_le16(h + VMDK_H_COMPRESS) == 1;
	return VMDK_SPARSE_OK;
}

/* Size and the CID check, shared by vmdk_parse and vmdk_parent_cid. */
static uint32_t vmdk_open(const struct fmt_source *src, const struct fmt_scratch *scratch,
			  uint64_t *sectors, uint32_t *cid)
{
	uint32_t parent;
	if (scratch->buf == 0 || scratch->size < VMDK_MIN_SCRATCH ||
	    src->size > READ_PADDED_MAX_SIZE || src->size < 4)
		return P_ERR;
	uint8_t magic[4];
	if (read_padded(src, 0, magic, 4) != 0)
		return P_ERR;
	uint64_t desc_off = 0;
	uint32_t err = CREATE_ERR_OK;
	if (memcmp(magic, "KDMV", 4) == 0 || memcmp(magic, "COWD", 4) == 0) {
		struct vmdk_sparse x;
		desc_off = VMDK_SECTOR;
		switch (vmdk_sparse_open(src, padded_length(src), &x)) {
		case VMDK_SPARSE_OK:
			*sectors = x.sectors;
			break;
		case VMDK_SPARSE_DESCRIPTOR:
			/* An empty sparse file carrying a descriptor: read as one. */
			err = vmdk_read_desc(src, scratch, x.desc_offset << 9);
			if (err == CREATE_ERR_OK)
				err = desc_file_size(scratch->buf, sectors);
			break;
		default:
			return P_ERR;
		}
	} else {
		err = vmdk_read_desc(src, scratch, 0);
		if (err == CREATE_ERR_OK)
			err = desc_file_size(scratch->buf, sectors);
	}
	if (err != CREATE_ERR_OK)
		return err;
	/* A size qemu cannot hold in bytes: the planner's read of a backing
	 * file (vmdk_parent_cid) refuses it as the parse does. */
	if (*sectors > (uint64_t)INT64_MAX / VMDK_SECTOR)
		return P_ERR;
	return vmdk_check_cids(src, scratch, desc_off, cid, &parent, 0);
}

uint32_t vmdk_parse(const struct fmt_source *src, const struct fmt_scratch *scratch,
		    struct backing_info *out)
{
	uint64_t sectors;
	uint32_t cid;
	uint32_t err = vmdk_open(src, scratch, &sectors, &cid);
	if (err != CREATE_ERR_OK)
		return err;
	out->format = FORMAT_VMDK;
	out->virtual_size = sectors * VMDK_SECTOR;
	return CREATE_ERR_OK;
}

uint32_t vmdk_parent_cid(const struct fmt_source *src, const struct fmt_scratch *scratch,
			 uint32_t *cid)
{
	uint64_t sectors;
	return vmdk_open(src, scratch, &sectors, cid);
}

/* vmdk's text probe: comment lines (starting with '#') and lines of only
 * spaces may come first; the next line must be version=1, 2 or 3, ended by
 * "\n" or "\r\n". */
static int vmdk_text(const uint8_t *b, uint32_t n)
{
	uint32_t p = 0;
	while (p < n) {
		if (b[p] == '#') {
			while (p < n && b[p] != '\n')
				p++;
			p++;
			continue;
		}
		if (b[p] == ' ') {
			while (p < n && b[p] == ' ')
				p++;
			if (p < n && b[p] == '\r')
				p++;
			if (p == n || b[p] != '\n')
				return 0;
			p++;
			continue;
		}
		if (n - p < 10 || !probe_has(b, n, p, "version=", 8) || b[p + 8] < '1' || b[p + 8] > '3')
			return 0;
		if (b[p + 9] == '\n')
			return 1;
		return n - p >= 11 && b[p + 9] == '\r' && b[p + 10] == '\n';
	}
	return 0;
}

/* "KDMV" or "COWD", or a text descriptor whose first line that is neither
 * a comment nor blank is "version=1|2|3". */
int vmdk_probe(const uint8_t *b, uint32_t n)
{
	return probe_has(b, n, 0, "KDMV", 4) || probe_has(b, n, 0, "COWD", 4) || vmdk_text(b, n) ? PROBE_MATCH : 0;
}
