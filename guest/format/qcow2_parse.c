/*
 * qcow2 backing-file header parser. Checks what qemu checks before it
 * trusts a header, with every length bounded before use: the input is
 * untrusted.
 */
#include "qcow2.h"
#include "qcow2_format.h"

#include "detect.h"
#include "endian.h"
#include "read_padded.h"


/* qcow2_validate_table's offset rule: cluster-aligned, and offset + len
 * within INT64_MAX; len is bounded by each caller. */
static int table_ok(uint64_t off, uint64_t len, uint64_t cs)
{
	if (off & (cs - 1))
		return 0;
	if (len > (uint64_t)INT64_MAX || (uint64_t)INT64_MAX - len < off)
		return 0;
	return 1;
}

/* The snapshot table, as qemu reads it when it opens an image: its offset
 * cluster-aligned (even with no snapshots), at most QCOW_MAX_SNAPSHOTS
 * entries, each entry's extra data at most 1 KiB, the whole table at most
 * 64 MiB. Only the fixed part of each entry is read (past the end of the
 * file as zeros, as qemu reads it), through scratch when there is room, so
 * that a large table costs few reads. */
#define SN_KNOWN_EXTRA 24u

static uint32_t check_snapshots(const struct fmt_source *src, const struct fmt_scratch *scratch, uint32_t count,
				uint64_t table, uint64_t cs)
{
	if (count > QCOW2_MAX_SNAPSHOTS)
		return CREATE_ERR_BACKING_PARSE; /* "Too many snapshots" */
	if ((uint64_t)INT64_MAX - (uint64_t)count * QCOW2_SNAPSHOT_HEADER < table || (table & (cs - 1)))
		return CREATE_ERR_BACKING_PARSE; /* "Snapshot table offset invalid" */
	uint8_t one[QCOW2_SNAPSHOT_HEADER];
	uint8_t *win = one;
	uint32_t cap = QCOW2_SNAPSHOT_HEADER;
	if (scratch && scratch->buf && scratch->size >= 4096) {
		win = scratch->buf;
		cap = scratch->size < MAX_TRANSFER ? (uint32_t)scratch->size : MAX_TRANSFER;
	}
	uint64_t win_off = 0, win_len = 0; /* what win holds */
	uint64_t off = table;
	for (uint32_t i = 0; i < count; i++) {
		off = (off + 7) & ~(uint64_t)7;
		if (off < win_off || off + QCOW2_SNAPSHOT_HEADER > win_off + win_len) {
			if (read_padded(src, off, win, cap))
				return CREATE_ERR_BACKING_READ_FAILED;
			win_off = off;
			win_len = cap;
		}
		const uint8_t *e = win + (off - win_off);
		uint32_t extra = get_be32(e + 36);
		if (extra > QCOW2_MAX_SNAPSHOT_EXTRA)
			return CREATE_ERR_BACKING_PARSE; /* "Too much extra metadata" */
		/* fixed part, extra data, id, name; off stays below 2^63 + 2^27 */
		off += QCOW2_SNAPSHOT_HEADER + extra + get_be16(e + 12) + get_be16(e + 14);
		if (off - table > QCOW2_MAX_SNAPSHOTS_BYTES)
			return CREATE_ERR_BACKING_PARSE; /* "Snapshot table is too big" */
	}
	return CREATE_ERR_OK;
}

uint32_t qcow2_parse(const struct fmt_source *src, const struct fmt_scratch *scratch,
		     struct backing_info *out)
{
	uint8_t h[QCOW2_HEADER_SIZE];

	if (!src || !out || !src->read)
		return CREATE_ERR_BAD_CONFIG;
	/* qemu reads the header whatever the file's length, past its end as
	 * zeros: a version 2 header cut short can still open (a version 3
	 * one then has a header length of 0, refused below). */
	if (read_padded(src, 0, h, QCOW2_HEADER_SIZE))
		return CREATE_ERR_BACKING_READ_FAILED;

	if (get_be32(h) != QCOW_MAGIC)
		return CREATE_ERR_BACKING_PARSE;
	uint32_t version = get_be32(h + 4);
	uint64_t bf_off = get_be64(h + 8);
	uint32_t bf_len = get_be32(h + 16);
	uint32_t cbits = get_be32(h + 20);
	uint64_t size = get_be64(h + 24);
	uint32_t crypt = get_be32(h + 32);
	uint32_t l1_size = get_be32(h + 36);
	uint64_t l1_off = get_be64(h + 40);
	uint64_t rt_off = get_be64(h + 48);
	uint32_t rt_clusters = get_be32(h + 56);

	if (version != 2 && version != 3)
		return CREATE_ERR_BACKING_PARSE;
	if (cbits < 9 || cbits > 21)
		return CREATE_ERR_BACKING_PARSE;
	uint64_t cs = UINT64_C(1) << cbits;

	uint32_t hlen = QCOW2_V2_HEADER_LEN;
	if (version == 3) {
		if (get_be64(h + 72) & ~(uint64_t)QCOW2_INCOMPAT_MASK)
			return CREATE_ERR_BACKING_PARSE;
		if (get_be32(h + 96) > 6) /* refcount_order */
			return CREATE_ERR_BACKING_PARSE;
		hlen = get_be32(h + 100);
		if (hlen < QCOW2_V3_MIN_HEADER_LEN || hlen > cs)
			return CREATE_ERR_BACKING_PARSE;
		/* qemu's validate_compression_type: zlib (0) or zstd (1), and
		 * the incompatible bit set exactly for zstd. */
		uint32_t compression = hlen > QCOW2_V3_MIN_HEADER_LEN ? h[QCOW2_V3_MIN_HEADER_LEN] : 0;
		int zstd_bit = (get_be64(h + 72) & QCOW2_INCOMPAT_COMPRESSION) != 0;
		if (compression > 1 || (compression == 1) != zstd_bit)
			return CREATE_ERR_BACKING_PARSE;
	}
	if (crypt > 2)
		return CREATE_ERR_BACKING_PARSE;
	if (size > (uint64_t)INT64_MAX)
		return CREATE_ERR_BACKING_PARSE;

	/* The L1 table must map the whole disk and stay below qemu's cap. */
	uint32_t shift = cbits + cbits - 3;
	if (version == 3 && (get_be64(h + 72) & 0x10))
		shift--; /* extended L2 entries are 16 bytes */
	uint64_t need = (size >> shift) + ((size & ((UINT64_C(1) << shift) - 1)) != 0);
	if (l1_size > (QCOW2_MAX_L1_BYTES / 8) || l1_size < need)
		return CREATE_ERR_BACKING_PARSE;
	/* Checked with no entries too, as qemu checks it. */
	if (!table_ok(l1_off, (uint64_t)l1_size * 8, cs))
		return CREATE_ERR_BACKING_PARSE;
	/* A refcount table at 0 (over the header) opens: qemu checks only its
	 * alignment and size. */
	if (rt_clusters == 0 || (uint64_t)rt_clusters * cs > QCOW2_MAX_REFTABLE_BYTES ||
	    !table_ok(rt_off, (uint64_t)rt_clusters * cs, cs))
		return CREATE_ERR_BACKING_PARSE;

	/* The backing file name lives in the header cluster. */
	uint64_t ext_end = cs;
	if (bf_off) {
		if (bf_len > 1023 || bf_off < hlen || bf_off > cs || bf_len > cs - bf_off)
			return CREATE_ERR_BACKING_PARSE;
		ext_end = bf_off;
	}

	/* Header extensions, as qemu walks them: while the walk is short of
	 * ext_end, an extension header and its data must fit before it (the
	 * end marker's length too: qemu checks it first), and past the end
	 * of the file reads as zeros (an end marker). Each step moves
	 * forward by at least 8 bytes, so the walk ends. */
	uint64_t off = hlen;
	while (off < ext_end) {
		uint8_t e[8];
		if (ext_end - off < 8)
			return CREATE_ERR_BACKING_PARSE; /* "Header extension too large" */
		if (read_padded(src, off, e, 8))
			return CREATE_ERR_BACKING_READ_FAILED;
		uint32_t magic = get_be32(e), len = get_be32(e + 4);
		off += 8;
		if (len > ext_end - off)
			return CREATE_ERR_BACKING_PARSE;
		if (magic == 0)
			break;
		off += ((uint64_t)len + 7) & ~(uint64_t)7;
	}

	uint32_t err = check_snapshots(src, scratch, get_be32(h + 60), get_be64(h + 64), cs);
	if (err != CREATE_ERR_OK)
		return err;
	out->format = FORMAT_QCOW2;
	out->virtual_size = size;
	return CREATE_ERR_OK;
}

/* "QFI\xfb" and version 2 or later (version 1 is qcow, not instar's). */
int qcow2_probe(const uint8_t *b, uint32_t n)
{
	return probe_has(b, n, 0, "QFI\xfb", 4) && n >= 8 && get_be32(b + 4) >= 2 ? PROBE_MATCH : 0;
}
