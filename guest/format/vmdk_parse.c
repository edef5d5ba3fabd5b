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
 *    then read as a descriptor file;
 *  - "COWD" is the old sparse format: its size is its sector count;
 *  - anything else is a descriptor file (its first 1 MiB - 1 bytes, up to
 *    the first NUL): createType must be a multi-file type, and the size is
 *    the sum of its "RW" extent lines, scanned as qemu's sscanf does;
 *  - the descriptor (at 512 for sparse files, 0 for descriptor files) must
 *    have a "CID" and a "parentCID" with hex values, and a
 *    parentFileNameHint, if any, must be quoted and under 4 KiB.
 * Divergence, by design: extent files are not opened (the guest sees only
 * the descriptor), so missing extents pass, and a sparse extent's size is
 * taken from its descriptor line rather than its own header.
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
#define VMDK_DESC_READ_MAX ((1u << 20) - 1) /* qemu's vmdk_read_desc cap */
#define VMDK_CID_DESC_SIZE (VMDK_DESC_SECTORS * VMDK_SECTOR)
#define VMDK_MAX_L1 (32u * 1024 * 1024)
#define VMDK_MAX_GRAIN 0x200000u
#define VMDK_GD_AT_END UINT64_MAX
#define VMDK_MARKER_EOS 0u
#define VMDK_MARKER_FOOTER 3u

_Static_assert(VMDK_MIN_SCRATCH >= VMDK_DESC_READ_MAX + 1 + VMDK_CID_DESC_SIZE, "scratch");

/* Reads the descriptor text at off as qemu's vmdk_read_desc: up to 1 MiB - 1
 * bytes (the file's length at most), NUL-terminated. */
static uint32_t read_desc(const struct fmt_source *src, const struct fmt_scratch *scratch,
			  uint64_t off)
{
	uint64_t len = padded_length(src);
	if (src->size < 4)
		return P_ERR;
	uint32_t n = len < VMDK_DESC_READ_MAX ? (uint32_t)len : VMDK_DESC_READ_MAX;
	if (read_padded(src, off, scratch->buf, n) != 0)
		return P_ERR;
	scratch->buf[n] = 0;
	return CREATE_ERR_OK;
}

/* An extent line as extent_line scans it. */
struct extent_line_fields {
	int is_extent; /* an RW line of a known type with sectors */
	uint8_t type[11], name[512]; /* NUL-terminated */
	uint64_t sectors;
};

/* One extent line, scanned with qemu's format
 * "%10s %lld %10s \"%511[^\n\r\"]\" %lld"; adds its sectors to *total
 * and, when out is set, gives its fields. */
static uint32_t extent_line(const uint8_t *line, uint64_t *total, struct extent_line_fields *out)
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
		return CREATE_ERR_OK; /* not an extent line */
	if (vmdk_streq(type, "FLAT")) {
		if (matches != 5 || offset < 0)
			return P_ERR;
	} else if (vmdk_streq(type, "VMFS")) {
		if (matches != 4)
			return P_ERR;
	} else if (matches != 4) {
		return P_ERR;
	}
	if (sectors <= 0 ||
	    !(vmdk_streq(type, "FLAT") || vmdk_streq(type, "SPARSE") || vmdk_streq(type, "VMFS") ||
	      vmdk_streq(type, "VMFSSPARSE") || vmdk_streq(type, "SESPARSE")))
		return CREATE_ERR_OK;
	if ((uint64_t)sectors > (uint64_t)INT64_MAX / VMDK_SECTOR - *total)
		return P_ERR;
	*total += (uint64_t)sectors;
	if (out) {
		out->is_extent = 1;
		memcpy(out->type, type, sizeof type);
		memcpy(out->name, name, sizeof name);
		out->type[sizeof out->type - 1] = 0;
		out->name[sizeof out->name - 1] = 0;
		out->sectors = (uint64_t)sectors;
	}
	return CREATE_ERR_OK;
}

/* A descriptor file's size: createType must name a multi-file type (the
 * value starts two bytes after the key, as qemu skips "=\"" blindly). */
static uint32_t desc_file_size(const uint8_t *desc, uint64_t *sectors)
{
	static const char *const types[] = {
		"monolithicFlat", "vmfs", "vmfsSparse", "seSparse", "twoGbMaxExtentSparse",
		"twoGbMaxExtentFlat",
	};
	const uint8_t *ct = vmdk_strstr(desc, "createType");
	if (ct == 0)
		return P_ERR;
	ct += 10;
	if (ct[0] == 0 || ct[1] == 0)
		return P_ERR;
	ct += 2;
	uint8_t value[128];
	uint32_t n = 0;
	while (ct[n] != 0 && ct[n] != '"') {
		if (n + 1 >= sizeof(value))
			return P_ERR;
		value[n] = ct[n];
		n++;
	}
	if (ct[n] == 0)
		return P_ERR;
	value[n] = 0;
	int known = 0;
	for (uint32_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		known |= vmdk_streq(value, types[i]);
	if (!known)
		return P_ERR;

	uint64_t total = 0;
	for (const uint8_t *p = desc; *p != 0;) {
		if (extent_line(p, &total, 0) != CREATE_ERR_OK)
			return P_ERR;
		while (*p != 0 && *p++ != '\n')
			;
	}
	*sectors = total;
	return CREATE_ERR_OK;
}

/* The checks qemu makes on the descriptor at off (20 sectors of it): a
 * readable CID and parentCID, a well-formed parentFileNameHint. */
static uint32_t check_cids(const struct fmt_source *src, const struct fmt_scratch *scratch,
			   uint64_t off, uint32_t *cid, uint32_t *parent_cid)
{
	uint8_t *d = scratch->buf + VMDK_DESC_READ_MAX + 1;
	if (read_padded(src, off, d, VMDK_CID_DESC_SIZE) != 0)
		return P_ERR;
	d[VMDK_CID_DESC_SIZE - 1] = 0;
	const uint8_t *hint = vmdk_strstr(d, "parentFileNameHint");
	if (hint != 0) {
		/* qemu skips the key, '=' and '"' without looking at them. */
		const uint8_t *p = hint;
		for (uint32_t i = 0; i < 20 && *p != 0; i++)
			p++;
		uint32_t n = 0;
		while (p[n] != 0 && p[n] != '"')
			n++;
		if (p[n] != '"' || n > 4095)
			return P_ERR;
	}
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

static uint32_t sparse_size(const struct fmt_source *src, const struct fmt_scratch *scratch,
			    uint64_t *sectors, uint64_t *desc_off)
{
	uint8_t h[VMDK_SECTOR];
	uint64_t len = padded_length(src);
	if (read_padded(src, 0, h, VMDK_SECTOR) != 0)
		return P_ERR;
	*desc_off = VMDK_SECTOR;
	if (get_le64(h + VMDK_H_CAPACITY) == 0 && get_le64(h + VMDK_H_DESC_OFFSET) != 0) {
		/* An empty sparse file carrying a descriptor: read as one. */
		uint64_t off = get_le64(h + VMDK_H_DESC_OFFSET);
		if (off > UINT64_MAX / VMDK_SECTOR ||
		    read_desc(src, scratch, off * VMDK_SECTOR) != CREATE_ERR_OK)
			return P_ERR;
		return desc_file_size(scratch->buf, sectors);
	}
	if (get_le64(h + VMDK_H_GD) == VMDK_GD_AT_END) {
		/* streamOptimized written by a stream: footer marker, footer
		 * (a header copy), end-of-stream marker close the file. */
		uint8_t f[3 * VMDK_SECTOR];
		if (len < sizeof(f) || read_padded(src, len - sizeof(f), f, sizeof(f)) != 0)
			return P_ERR;
		const uint8_t *fm = f, *fh = f + VMDK_SECTOR, *eos = f + 2 * VMDK_SECTOR;
		if (memcmp(fh, "KDMV", 4) != 0 || get_le32(fm + 8) != 0 ||
		    get_le32(fm + 12) != VMDK_MARKER_FOOTER || get_le64(eos) != 0 ||
		    get_le32(eos + 8) != 0 || get_le32(eos + 12) != VMDK_MARKER_EOS)
			return P_ERR;
		memcpy(h + 4, fh + 4, 75); /* the header fields qemu reads */
	}
	uint32_t gtes = get_le32(h + VMDK_H_GTES);
	uint64_t grain = get_le64(h + VMDK_H_GRAIN);
	uint64_t capacity = get_le64(h + VMDK_H_CAPACITY);
	if (get_le32(h + VMDK_H_VERSION) > 3 || gtes > VMDK_GTES_PER_GT)
		return P_ERR;
	uint64_t span = gtes * grain; /* sectors per grain table; wraps as qemu's */
	if (span == 0)
		return P_ERR;
	uint64_t l1 = (capacity + span - 1) / span;
	if (len / VMDK_SECTOR < get_le64(h + VMDK_H_OVERHEAD))
		return P_ERR; /* "File truncated" */
	if (grain > VMDK_MAX_GRAIN || (uint32_t)l1 > VMDK_MAX_L1)
		return P_ERR;
	*sectors = capacity;
	return CREATE_ERR_OK;
}

static uint32_t cowd_size(const struct fmt_source *src, uint64_t *sectors)
{
	uint8_t h[32];
	if (read_padded(src, 0, h, sizeof(h)) != 0)
		return P_ERR;
	if (get_le32(h + 16) > VMDK_MAX_GRAIN) /* granularity */
		return P_ERR;
	*sectors = get_le32(h + 12); /* disk sectors */
	return CREATE_ERR_OK;
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
	uint32_t err;
	if (memcmp(magic, "KDMV", 4) == 0) {
		err = sparse_size(src, scratch, sectors, &desc_off);
	} else if (memcmp(magic, "COWD", 4) == 0) {
		desc_off = VMDK_SECTOR;
		err = cowd_size(src, sectors);
	} else {
		err = read_desc(src, scratch, 0);
		if (err == CREATE_ERR_OK)
			err = desc_file_size(scratch->buf, sectors);
	}
	if (err != CREATE_ERR_OK)
		return err;
	/* A size qemu cannot hold in bytes: the planner's read of a backing
	 * file (vmdk_parent_cid) refuses it as the parse does. */
	if (*sectors > (uint64_t)INT64_MAX / VMDK_SECTOR)
		return P_ERR;
	return check_cids(src, scratch, desc_off, cid, &parent);
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


static uint32_t str_len(const uint8_t *s, uint32_t max)
{
	uint32_t n = 0;
	while (n < max && s[n] != 0)
		n++;
	return n;
}

/* A descriptor file's info: its CIDs, createType and extent lines, each
 * extent reported with its name as stored (the host opens it, under its
 * rules, to stat it; qemu opens every extent). Extents whose own
 * headers would be read (sparse ones) are not supported yet. */
static uint32_t descriptor_info(const struct fmt_source *src, const struct fmt_scratch *scratch,
				const struct info_sink *sink, struct fmt_info *out, uint64_t virtual_size)
{
	uint32_t cid, parent;
	if (read_desc(src, scratch, 0) != CREATE_ERR_OK ||
	    check_cids(src, scratch, 0, &cid, &parent) != CREATE_ERR_OK || read_desc(src, scratch, 0) != CREATE_ERR_OK) {
		out->reason = "the image is not a valid vmdk image";
		return INFO_ERR_INVALID;
	}
	const uint8_t *desc = scratch->buf;
	/* createType's value, as desc_file_size found it: two bytes after the
	 * key, up to the closing quote. */
	const uint8_t *ct = vmdk_strstr(desc, "createType") + 12;
	uint32_t n = 0;
	while (ct[n] != 0 && ct[n] != '"')
		n++;
	info_copy_name(&out->vmdk_create_type, ct, n, 127);
	uint64_t total = 0;
	uint32_t index = 0;
	for (const uint8_t *p = desc; *p != 0;) {
		struct extent_line_fields x = {0};
		if (extent_line(p, &total, &x) != CREATE_ERR_OK) {
			out->reason = "the image is not a valid vmdk image";
			return INFO_ERR_INVALID;
		}
		if (x.is_extent) {
			if (!vmdk_streq(x.type, "FLAT") && !vmdk_streq(x.type, "VMFS")) {
				out->reason = "vmdk images with sparse extent files are not supported yet";
				out->inspect_checks |= 1u << INSPECT_CHECK_DESCRIPTOR;
				return INFO_ERR_UNSUPPORTED;
			}
			struct info_extent e = {
				.index = ++index,
				.type = (const char *)x.type,
				.virtual_size = x.sectors * VMDK_SECTOR,
				.name = x.name,
				.name_len = str_len(x.name, sizeof x.name),
			};
			if (sink->extent && sink->extent(sink->ctx, &e) != 0)
				return INFO_ERR_TOO_BIG;
			out->extents++;
		}
		while (*p != 0 && *p++ != '\n')
			;
	}
	if (index == 0) {
		/* qemu-img 7.2 opens it, then aborts on an assertion. */
		out->reason = "the vmdk descriptor names no extent";
		return INFO_ERR_INVALID;
	}
	out->format = FORMAT_VMDK;
	out->virtual_size = virtual_size;
	out->vmdk_cid = cid;
	out->vmdk_parent_cid = parent;
	return INFO_ERR_OK;
}

/* vmdk info: a monolithic sparse or streamOptimized file is its own one
 * extent, with its descriptor embedded; descriptor files and their
 * extent files are not read yet. */
uint32_t vmdk_info(const struct fmt_source *src, const struct fmt_scratch *scratch, const struct info_sink *sink,
		   struct fmt_info *out)
{
	struct backing_info b = {0};
	uint32_t err = vmdk_parse(src, scratch, &b);
	if (err == CREATE_ERR_BACKING_READ_FAILED)
		return INFO_ERR_READ_FAILED;
	if (err != CREATE_ERR_OK) {
		out->reason = "the image is not a valid vmdk image";
		out->inspect_checks |= vmdk_refusal_checks(src);
		return INFO_ERR_INVALID;
	}
	uint8_t h[VMDK_SECTOR];
	if (read_padded(src, 0, h, VMDK_SECTOR) != 0)
		return INFO_ERR_READ_FAILED;
	if (memcmp(h, "KDMV", 4) != 0 && memcmp(h, "COWD", 4) != 0)
		return descriptor_info(src, scratch, sink, out, b.virtual_size);
	if (memcmp(h, "KDMV", 4) != 0 || get_le64(h + VMDK_H_CAPACITY) == 0) {
		out->reason = "this kind of vmdk image is not supported yet";
		return INFO_ERR_UNSUPPORTED;
	}
	if (get_le64(h + VMDK_H_GD) == VMDK_GD_AT_END) {
		uint8_t f[2 * VMDK_SECTOR];
		uint64_t len = padded_length(src);
		if (read_padded(src, len - 3 * VMDK_SECTOR, f, sizeof f) != 0)
			return INFO_ERR_READ_FAILED;
		memcpy(h + 4, f + VMDK_SECTOR + 4, 75);
	}
	uint32_t cid, parent;
	if (check_cids(src, scratch, VMDK_SECTOR, &cid, &parent) != CREATE_ERR_OK) {
		out->reason = "the image is not a valid vmdk image";
		return INFO_ERR_INVALID;
	}
	struct info_extent e = {
		.index = 0,
		.type = "",
		.virtual_size = get_le64(h + VMDK_H_CAPACITY) * VMDK_SECTOR,
		.has_cluster_size = 1,
		.cluster_size = get_le64(h + VMDK_H_GRAIN) * VMDK_SECTOR,
		.compressed = get_le16(h + VMDK_H_COMPRESS) == 1,
	};
	if (sink->extent && sink->extent(sink->ctx, &e) != 0)
		return INFO_ERR_TOO_BIG;
	/* qemu names a sparse file's type by its compression, whatever its
	 * descriptor says. */
	const char *type = e.compressed ? "streamOptimized" : "monolithicSparse";
	uint32_t n = 0;
	while (type[n] != 0)
		n++;
	info_copy_name(&out->vmdk_create_type, (const uint8_t *)type, n, n);
	out->extents = 1;
	out->format = FORMAT_VMDK;
	out->virtual_size = b.virtual_size;
	out->has_cluster_size = 1;
	out->cluster_size = e.cluster_size;
	out->vmdk_cid = cid;
	out->vmdk_parent_cid = parent;
	return INFO_ERR_OK;
}
