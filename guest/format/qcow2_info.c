/*
 * qcow2 info: the header, its extensions, the snapshot table and the
 * bitmap directory, with the checks qemu 7.2's qcow2_do_open makes before
 * it trusts them, refused in qemu's words. Reads past the end of the file
 * give zeros, as qemu's do. The snapshot table and bitmap directory are
 * read through a window in scratch and reported entry by entry.
 */
#include "info.h"
#include "qcow2_format.h"
#include "qcow2.h"

#include "endian.h"
#include "instar/mem.h"
#include "read_padded.h"



/* A read window over the file in scratch: sequential tables of any
 * length are read a window at a time. */
struct window {
	const struct fmt_source *src;
	uint8_t *buf;
	uint32_t cap;
	uint64_t start;
	uint32_t len;
	uint32_t ahead; /* the next refill's read-ahead */
};

/* A refill reads what is asked and a read-ahead that starts at
 * WINDOW_FIRST and doubles with each refill up to the window's capacity:
 * a table of a few entries costs one small read, a long one few reads. */
#define WINDOW_FIRST 4096u

static void window_reset(struct window *w)
{
	w->len = 0;
	w->ahead = WINDOW_FIRST;
}

/* at returns len bytes (len <= cap) at off, reading them in if needed;
 * NULL when the read fails. */
static const uint8_t *at(struct window *w, uint64_t off, uint32_t len)
{
	if (len > w->cap)
		return 0;
	if (w->len && off >= w->start && off - w->start <= w->len && len <= w->len - (off - w->start))
		return w->buf + (off - w->start);
	uint32_t n = w->ahead > len ? w->ahead : len;
	if (n > w->cap)
		n = w->cap;
	if (read_padded(w->src, off, w->buf, n) != 0)
		return 0;
	w->start = off;
	w->len = n;
	w->ahead = w->ahead > w->cap / 2 ? w->cap : w->ahead * 2;
	return w->buf;
}

/* qcow2_validate_table's checks, in its words. */
static uint32_t table(uint64_t off, uint64_t entries, uint64_t entry_len, uint64_t max_bytes, uint64_t cs,
		      const char *too_large, const char *bad_offset, struct fmt_info *out)
{
	if (entries > max_bytes / entry_len) {
		out->reason = too_large;
		return INFO_ERR_INVALID;
	}
	if ((uint64_t)INT64_MAX - entries * entry_len < off || (off & (cs - 1))) {
		out->reason = bad_offset;
		return INFO_ERR_INVALID;
	}
	return INFO_ERR_OK;
}

static uint32_t fail(struct fmt_info *out, const char *reason)
{
	out->reason = reason;
	return INFO_ERR_INVALID;
}

struct bitmaps_ext {
	int present;
	uint32_t count;
	uint64_t dir_size, dir_off;
};

/* The header extensions from hlen to end, as qcow2_read_extensions. */
static uint32_t extensions(const struct fmt_source *src, uint64_t hlen, uint64_t end, uint64_t cs,
			   uint32_t crypt, uint64_t autoclear, struct bitmaps_ext *bm, struct fmt_info *out)
{
	uint64_t off = hlen;
	while (off < end) {
		uint8_t e[8];
		if (read_padded(src, off, e, 8) != 0)
			return INFO_ERR_READ_FAILED;
		uint32_t magic = get_be32(e), len = get_be32(e + 4);
		off += 8;
		if (off > end || len > end - off)
			return fail(out, "Header extension too large");
		switch (magic) {
		case QCOW2_EXT_END:
			return INFO_ERR_OK;
		case QCOW2_EXT_BACKING_FORMAT: {
			uint8_t f[16];
			if (len >= sizeof f)
				return fail(out, "ERROR: ext_backing_format: len too large");
			if (read_padded(src, off, f, len) != 0)
				return INFO_ERR_READ_FAILED;
			info_copy_name(&out->backing_format, f, len, sizeof f - 1);
			break;
		}
		case QCOW2_EXT_CRYPTO:
			if (crypt != 2)
				return fail(out, "CRYPTO header extension only expected with LUKS encryption method");
			if (len != 16)
				return fail(out, "CRYPTO header extension size is not 16");
			break;
		case QCOW2_EXT_BITMAPS: {
			uint8_t b[24];
			if (len != sizeof b)
				return fail(out, "bitmaps_ext: Invalid extension length");
			if (!(autoclear & QCOW2_AUTOCLEAR_BITMAPS))
				break; /* qemu warns that every bitmap is inconsistent, and ignores them */
			if (read_padded(src, off, b, sizeof b) != 0)
				return INFO_ERR_READ_FAILED;
			bm->count = get_be32(b);
			bm->dir_size = get_be64(b + 8);
			bm->dir_off = get_be64(b + 16);
			if (get_be32(b + 4) != 0)
				return fail(out, "bitmaps_ext: Reserved field is not zero");
			if (bm->count > QCOW2_MAX_BITMAPS)
				return fail(out, "bitmaps_ext: Image has too many bitmaps");
			if (bm->count == 0)
				return fail(out, "found bitmaps extension with zero bitmaps");
			if (bm->dir_off & (cs - 1))
				return fail(out, "bitmaps_ext: invalid bitmap directory offset");
			if (bm->dir_size > QCOW2_MAX_BITMAP_DIR)
				return fail(out, "bitmaps_ext: bitmap directory size exceeds the maximum supported size");
			bm->present = 1;
			break;
		}
		case QCOW2_EXT_DATA_FILE: {
			/* Reported as stored; never opened by info. */
			uint8_t name[INFO_MAX_NAME];
			uint32_t n = len < sizeof name ? len : (uint32_t)sizeof name;
			if (read_padded(src, off, name, n) != 0)
				return INFO_ERR_READ_FAILED;
			info_copy_name(&out->qcow2_data_file, name, n, sizeof name);
			break;
		}
		default:
			break;
		}
		off += ((uint64_t)len + 7) & ~(uint64_t)7;
	}
	return INFO_ERR_OK;
}

/* The snapshot table, as qcow2_read_snapshots reads it; report is clear
 * for an image with an external data file, whose snapshots qemu reads
 * but does not list. */
static uint32_t snapshots(struct window *w, uint64_t table_off, uint32_t count, int report,
			  const struct info_sink *sink, struct fmt_info *out)
{
	uint64_t off = table_off;
	for (uint32_t i = 0; i < count; i++) {
		off = (off + 7) & ~(uint64_t)7;
		const uint8_t *h = at(w, off, QCOW2_SNAPSHOT_HEADER);
		if (!h)
			return INFO_ERR_READ_FAILED;
		struct info_snapshot s = {0};
		uint32_t id_len = get_be16(h + 12), name_len = get_be16(h + 14);
		s.date_sec = get_be32(h + 16);
		s.date_nsec = get_be32(h + 20);
		s.vm_clock_nsec = get_be64(h + 24);
		s.vm_state_size = get_be32(h + 32);
		uint32_t extra = get_be32(h + 36);
		off += QCOW2_SNAPSHOT_HEADER;
		if (extra > QCOW2_MAX_SNAPSHOT_EXTRA)
			return info_fail_num(out, "Too much extra metadata in snapshot table entry ", i, INFO_NUM_UNSIGNED);
		const uint8_t *x = at(w, off, 24);
		if (!x)
			return INFO_ERR_READ_FAILED;
		if (extra >= 8)
			s.vm_state_size = get_be64(x);
		if (extra >= 24) {
			s.icount = get_be64(x + 16);
			s.has_icount = s.icount != UINT64_MAX;
		}
		off += extra;
		/* qemu keeps the ID and name as strings and copies them into
		 * 128- and 256-byte buffers: cut at a NUL and at 127 and 255. */
		uint8_t id[127], name[255];
		const uint8_t *p = at(w, off, id_len);
		if (!p)
			return INFO_ERR_READ_FAILED;
		struct info_name n;
		info_copy_name(&n, p, id_len, sizeof id);
		memcpy(id, n.bytes, n.len);
		s.id = id;
		s.id_len = n.len;
		off += id_len;
		if (!(p = at(w, off, name_len)))
			return INFO_ERR_READ_FAILED;
		info_copy_name(&n, p, name_len, sizeof name);
		memcpy(name, n.bytes, n.len);
		s.name = name;
		s.name_len = n.len;
		off += name_len;
		if (off - table_off > QCOW2_MAX_SNAPSHOTS_BYTES)
			return fail(out, "Snapshot table is too big");
		if (!report)
			continue;
		if (sink->snapshot && sink->snapshot(sink->ctx, &s) != 0)
			return INFO_ERR_TOO_BIG;
		out->snapshots++;
	}
	return INFO_ERR_OK;
}

/* The bitmap directory, with bitmap_list_load's and check_dir_entry's
 * checks. */
static uint32_t bitmaps(struct window *w, const struct bitmaps_ext *bm, uint64_t cs, const struct info_sink *sink,
			struct fmt_info *out)
{
	if (bm->dir_size == 0)
		return fail(out, "Requested bitmap directory size is zero");
	uint64_t off = bm->dir_off, end = bm->dir_off + bm->dir_size;
	uint32_t n = 0;
	while (off < end) {
		if (end - off < QCOW2_BITMAP_ENTRY)
			return fail(out, "Broken bitmap directory");
		const uint8_t *e = at(w, off, QCOW2_BITMAP_ENTRY);
		if (!e)
			return INFO_ERR_READ_FAILED;
		if (++n > bm->count)
			return fail(out, "More bitmaps found than specified in header extension");
		uint64_t table_off = get_be64(e);
		uint32_t table_size = get_be32(e + 8), flags = get_be32(e + 12);
		uint32_t type = e[16], gran = e[17], name_size = get_be16(e + 18), extra = get_be32(e + 20);
		uint64_t next = ((uint64_t)QCOW2_BITMAP_ENTRY + extra + name_size + 7) & ~(uint64_t)7;
		if (next > end - off)
			return fail(out, "Broken bitmap directory");
		if (extra != 0)
			return fail(out, "Bitmap extra data is not supported");
		if (name_size == 0 || name_size > 1023 || (uint64_t)table_size * cs > (UINT64_C(1) << 29) ||
		    table_size == 0 || table_off == 0 || (table_off & (cs - 1)) || type != 1 || (flags & ~3u) ||
		    gran < 9 || gran > 31)
			return fail(out, "Bitmap doesn't satisfy the constraints");
		const uint8_t *name = at(w, off + QCOW2_BITMAP_ENTRY, name_size);
		if (!name)
			return INFO_ERR_READ_FAILED;
		struct info_bitmap b = {.name = name, .name_len = name_size, .granularity_bits = gran,
					.in_use = (flags & 1) != 0, .autoflag = (flags & 2) != 0};
		if (sink->bitmap && sink->bitmap(sink->ctx, &b) != 0)
			return INFO_ERR_TOO_BIG;
		out->bitmaps++;
		off += next;
	}
	if (n != bm->count)
		return fail(out, "Less bitmaps found than specified in header extension");
	return INFO_ERR_OK;
}

uint32_t qcow2_info(const struct fmt_source *src, const struct fmt_scratch *scratch, const struct info_sink *sink,
		    struct fmt_info *out)
{
	uint8_t h[QCOW2_HEADER_SIZE];
	if (read_padded(src, 0, h, sizeof h) != 0)
		return INFO_ERR_READ_FAILED;
	if (get_be32(h) != QCOW_MAGIC)
		return fail(out, "Image is not in qcow2 format");
	uint32_t version = get_be32(h + 4);
	if (version < 2 || version > 3) {
		out->inspect_checks |= 1u << INSPECT_CHECK_UNKNOWN_FEATURES;
		return info_fail_num(out, "Unsupported qcow2 version ", version, INFO_NUM_UNSIGNED);
	}
	uint64_t bf_off = get_be64(h + 8);
	uint32_t bf_len = get_be32(h + 16);
	uint32_t cbits = get_be32(h + 20);
	uint64_t size = get_be64(h + 24);
	uint32_t crypt = get_be32(h + 32);
	uint32_t l1_size = get_be32(h + 36);
	uint64_t l1_off = get_be64(h + 40);
	uint64_t rt_off = get_be64(h + 48);
	uint32_t rt_clusters = get_be32(h + 56);
	uint32_t nb_snapshots = get_be32(h + 60);
	uint64_t snapshots_off = get_be64(h + 64);
	if (cbits < 9 || cbits > 21)
		return info_fail_num(out, "Unsupported cluster size: 2^", cbits, INFO_NUM_UNSIGNED);
	uint64_t cs = UINT64_C(1) << cbits;

	uint64_t incompat = 0, compat = 0, autoclear = 0;
	uint32_t refcount_order = 4, hlen = 72, compression = 0;
	if (version == 3) {
		incompat = get_be64(h + 72);
		compat = get_be64(h + 80);
		autoclear = get_be64(h + 88);
		refcount_order = get_be32(h + 96);
		hlen = get_be32(h + 100);
		if (hlen < 104)
			return fail(out, "qcow2 header too short");
		if (hlen > 104)
			compression = h[104];
	}
	if (hlen > cs)
		return fail(out, "qcow2 header exceeds cluster size");
	if (bf_off > cs)
		return fail(out, "Invalid backing file offset");
	uint64_t ext_end = bf_off ? bf_off : cs;

	/* validate_compression_type */
	if (compression > 1)
		return info_fail_num(out, "qcow2: unknown compression type: ", compression, INFO_NUM_UNSIGNED);
	if (compression == 0 && (incompat & QCOW2_INCOMPAT_COMPRESSION))
		return fail(out, "qcow2: Compression type incompatible feature bit must not be set");
	if (compression == 1 && !(incompat & QCOW2_INCOMPAT_COMPRESSION))
		return fail(out, "qcow2: Compression type incompatible feature bit must be set");

	struct bitmaps_ext bm = {0};
	/* qemu names the bits its feature table extension names; qemu-img
	 * writes names only for the bits it knows, so the rest read so. */
	if (incompat & ~(uint64_t)QCOW2_INCOMPAT_MASK) {
		out->inspect_checks |= 1u << INSPECT_CHECK_UNKNOWN_FEATURES;
		return info_fail_num(out, "Unsupported qcow2 feature(s): Unknown incompatible feature: ",
				     incompat & ~(uint64_t)QCOW2_INCOMPAT_MASK, INFO_NUM_HEX);
	}
	if (refcount_order > 6)
		return fail(out, "Reference count entry width too large; may not exceed 64 bits");
	if (crypt > 2)
		return info_fail_num(out, "Unsupported encryption method ", crypt, INFO_NUM_SIGNED32);
	if (crypt == 2)
		return fail(out, "LUKS-encrypted qcow2 images are not supported yet");
	uint32_t l2_bits = cbits - ((incompat & QCOW2_INCOMPAT_EXTL2) ? 4 : 3);

	if (rt_clusters == 0)
		return fail(out, "Image does not contain a reference count table");
	uint32_t e;
	if ((e = table(rt_off, rt_clusters, cs, QCOW2_MAX_REFTABLE_BYTES, cs, "Reference count table too large",
		       "Reference count table offset invalid", out)) != INFO_ERR_OK)
		return e;
	if ((e = table(snapshots_off, nb_snapshots, QCOW2_SNAPSHOT_HEADER, (uint64_t)QCOW2_SNAPSHOT_HEADER * QCOW2_MAX_SNAPSHOTS, cs,
		       "Snapshot table too large", "Snapshot table offset invalid", out)) != INFO_ERR_OK)
		return e;
	if ((e = table(l1_off, l1_size, 8, QCOW2_MAX_L1_BYTES, cs, "Active L1 table too large",
		       "Active L1 table offset invalid", out)) != INFO_ERR_OK)
		return e;
	uint32_t shift = cbits + l2_bits;
	uint64_t l1_need = (size >> shift) + ((size & ((UINT64_C(1) << shift) - 1)) != 0);
	if (l1_need > INT32_MAX || l1_size < l1_need)
		out->inspect_checks |= 1u << INSPECT_CHECK_VIRTUAL_SIZE;
	if (l1_need > INT32_MAX)
		return fail(out, "Image is too big");
	if (l1_size < l1_need)
		return fail(out, "L1 table is too small");

	if ((e = extensions(src, hlen, ext_end, cs, crypt, autoclear, &bm, out)) != INFO_ERR_OK)
		return e;
	/* The data file is never opened by info (qemu-img 7.2 opens images
	 * for info without I/O, and so no data file, named or not). */

	if (bf_off) {
		uint64_t room = cs - bf_off < 1023 ? cs - bf_off : 1023;
		if (bf_len > room)
			return fail(out, "Backing file name too long");
		uint8_t name[1023];
		if (read_padded(src, bf_off, name, bf_len) != 0)
			return INFO_ERR_READ_FAILED;
		info_copy_name(&out->backing, name, bf_len, sizeof name);
	}

	uint32_t win = scratch->size < MAX_TRANSFER ? (uint32_t)scratch->size : MAX_TRANSFER;
	struct window w = {.src = src, .buf = scratch->buf, .cap = win};
	window_reset(&w);
	if ((e = snapshots(&w, snapshots_off, nb_snapshots, !(incompat & QCOW2_INCOMPAT_DATA_FILE), sink, out)) != INFO_ERR_OK)
		return e;
	if (version == 3 && bm.present) {
		window_reset(&w);
		if ((e = bitmaps(&w, &bm, cs, sink, out)) != INFO_ERR_OK)
			return e;
	}

	out->format = FORMAT_QCOW2;
	out->virtual_size = size / 512 * 512; /* qemu keeps whole sectors */
	out->has_cluster_size = 1;
	out->cluster_size = cs;
	out->dirty = (incompat & QCOW2_INCOMPAT_DIRTY) != 0;
	out->encrypted = crypt != 0;
	out->qcow2_version = version;
	out->qcow2_encrypt_method = crypt;
	out->qcow2_compression_type = compression;
	out->qcow2_refcount_bits = 1u << refcount_order;
	out->qcow2_lazy_refcounts = (compat & QCOW2_COMPAT_LAZY_REFCOUNTS) != 0;
	out->qcow2_corrupt = (incompat & QCOW2_INCOMPAT_CORRUPT) != 0;
	out->qcow2_extended_l2 = (incompat & QCOW2_INCOMPAT_EXTL2) != 0;
	out->qcow2_data_file_raw = (autoclear & QCOW2_AUTOCLEAR_DATA_FILE_RAW) != 0;
	out->qcow2_external_data = (incompat & QCOW2_INCOMPAT_DATA_FILE) != 0;
	return INFO_ERR_OK;
}
