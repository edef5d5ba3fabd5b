/*
 * The VHDX backing-file parser. It accepts what qemu 7.2's vhdx driver
 * opens read-only and reports the same virtual size. Observed rules:
 *  - "vhdxfile" at 0;
 *  - a header is valid with "head", a good CRC-32C over its 4 KiB and
 *    version 1; of two valid ones the higher sequence number wins, and equal
 *    numbers are only accepted when the headers are identical;
 *  - the current header's log version is 0 and its log offset a whole,
 *    non-zero number of MiB; with a non-zero log GUID, the log length is a
 *    whole number of MiB, and a valid log entry means a log replay, which a
 *    read-only open refuses;
 *  - region table 1 (table 2 is never read) has "regi", a good CRC-32C, at
 *    most 2047 entries, exactly one BAT and one metadata region, and no
 *    unknown required region; log, BAT and metadata must not overlap;
 *  - the metadata table has "metadata", at most 2047 entries, each known
 *    item once at an offset of at least 64 KiB, no unknown required item,
 *    all five required items; block size a power of two from 1 to 256 MiB,
 *    no parent, 512-byte logical sectors;
 *  - the BAT region holds every entry the size needs, is one read qemu's
 *    block layer allows (at most 0x7ffffe00 bytes, ending at most at
 *    0x7fffffffc0000000), and every entry in state 6 points inside the
 *    file and overlaps no region.
 * Bytes past the end of the file read as zeros, as in qemu.
 */
#include "vhdx.h"

#include "crc32c.h"
#include "detect.h"
#include "endian.h"
#include "instar/mem.h"
#include "read_padded.h"
#include "vhdx_internal.h"
#include "info.h"

#define P_ERR CREATE_ERR_BACKING_PARSE
#define VHDX_LOG_SECTOR 4096u
#define VHDX_LOG_ENTRY_HEADER 64u

/* Scratch use: the region list (log plus up to 2047 region table entries,
 * 16 bytes each), then the I/O buffer. */
#define VHDX_MAX_REGIONS (1u + VHDX_R_MAX_ENTRIES)
#define VHDX_REGION_LIST_SIZE (32u * 1024)
_Static_assert(VHDX_MAX_REGIONS * 16 <= VHDX_REGION_LIST_SIZE, "region list fits");
_Static_assert(VHDX_MIN_SCRATCH - VHDX_REGION_LIST_SIZE >= VHDX_REGION_SIZE, "I/O buffer fits");

struct vhdx_parse_state {
	const struct fmt_source *src;
	uint8_t *regions; /* nregions (start, end) pairs, little-endian */
	uint32_t nregions;
	uint8_t *io;
	uint32_t io_size; /* at most MAX_TRANSFER */
	uint64_t length; /* file length in whole sectors */
	uint8_t log_guid[16];
	uint64_t log_offset;
	uint32_t log_length;
	uint64_t bat_offset;
	uint32_t bat_length;
	uint64_t meta_offset;
	uint32_t block_size;
	uint64_t disk_size;
	/* Bit 1<<INSPECT_CHECK_* for each safety check found failed. */
	uint32_t checks;
	/* qemu's words for a refusal, where they are known; or NULL. */
	const char *reason;
};

static int is_zero(const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (p[i] != 0)
			return 0;
	}
	return 1;
}

static uint64_t region_start(const struct vhdx_parse_state *st, uint32_t i)
{
	return get_le64(st->regions + 16 * i);
}

static uint64_t region_end(const struct vhdx_parse_state *st, uint32_t i)
{
	return get_le64(st->regions + 16 * i + 8);
}

/* Adds [start, start+len) unless it overlaps a region already known, as
 * qemu registers the log and every region table entry. A zero-length
 * region overlaps what strictly contains it. */
static uint32_t add_region(struct vhdx_parse_state *st, uint64_t start, uint64_t len)
{
	if (start > UINT64_MAX - len || st->nregions >= VHDX_MAX_REGIONS)
		return P_ERR;
	uint64_t end = start + len;
	for (uint32_t i = 0; i < st->nregions; i++) {
		if (start < region_end(st, i) && end > region_start(st, i))
			return P_ERR;
	}
	put_le64(st->regions + 16 * st->nregions, start);
	put_le64(st->regions + 16 * st->nregions + 8, end);
	st->nregions++;
	return CREATE_ERR_OK;
}

/* Sorts the regions by (start, end). They do not overlap one another, so
 * their ends then rise too. Insertion sort: at most 2048 entries, once. */
static void sort_regions(struct vhdx_parse_state *st)
{
	for (uint32_t i = 1; i < st->nregions; i++) {
		uint8_t cur[16];
		memcpy(cur, st->regions + 16 * i, 16);
		uint64_t s = get_le64(cur), e = get_le64(cur + 8);
		uint32_t j = i;
		while (j > 0 && (region_start(st, j - 1) > s ||
				 (region_start(st, j - 1) == s && region_end(st, j - 1) > e))) {
			memcpy(st->regions + 16 * j, st->regions + 16 * (j - 1), 16);
			j--;
		}
		memcpy(st->regions + 16 * j, cur, 16);
	}
}

/* Whether [start, end) overlaps a (sorted) region: among the regions that
 * start before end, the last has the largest end. */
static int overlaps_region(const struct vhdx_parse_state *st, uint64_t start, uint64_t end)
{
	uint32_t lo = 0, hi = st->nregions; /* count of regions with start < end */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (region_start(st, mid) < end)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && region_end(st, lo - 1) > start;
}

static int header_valid(const uint8_t *h)
{
	uint8_t sum[4];
	if (memcmp(h + VHDX_H_SIGNATURE, "head", 4) != 0 || get_le16(h + VHDX_H_VERSION) != 1)
		return 0;
	/* CRC with the checksum field counted as zero. */
	memset(sum, 0, 4);
	uint32_t crc = crc32c_update(0, h, VHDX_H_CHECKSUM);
	crc = crc32c_update(crc, sum, 4);
	crc = crc32c_update(crc, h + VHDX_H_CHECKSUM + 4, VHDX_HEADER_SIZE - VHDX_H_CHECKSUM - 4);
	return crc == get_le32(h + VHDX_H_CHECKSUM);
}

static uint32_t parse_headers(struct vhdx_parse_state *st)
{
	uint8_t *h1 = st->io, *h2 = h1 + VHDX_HEADER_SIZE;
	if (read_padded(st->src, VHDX_HEADER1_OFFSET, h1, VHDX_HEADER_SIZE) != 0 ||
	    read_padded(st->src, VHDX_HEADER2_OFFSET, h2, VHDX_HEADER_SIZE) != 0)
		return P_ERR;
	int v1 = header_valid(h1), v2 = header_valid(h2);
	const uint8_t *h;
	if (v1 && v2) {
		uint64_t s1 = get_le64(h1 + VHDX_H_SEQUENCE), s2 = get_le64(h2 + VHDX_H_SEQUENCE);
		if (s1 == s2 && memcmp(h1, h2, VHDX_HEADER_SIZE) != 0)
			return P_ERR;
		h = s2 > s1 ? h2 : h1;
	} else if (v1 || v2) {
		h = v1 ? h1 : h2;
	} else {
		return P_ERR;
	}
	if (get_le16(h + VHDX_H_LOG_VERSION) != 0)
		return P_ERR;
	memcpy(st->log_guid, h + VHDX_H_LOG_GUID, 16);
	st->log_length = get_le32(h + VHDX_H_LOG_LENGTH);
	st->log_offset = get_le64(h + VHDX_H_LOG_OFFSET);
	/* qemu checks the log offset whether or not there is a log. */
	if (st->log_offset < VHDX_MIB || st->log_offset % VHDX_MIB != 0)
		return P_ERR;
	return add_region(st, st->log_offset, st->log_length);
}

static uint32_t parse_region_table(struct vhdx_parse_state *st)
{
	uint8_t *r = st->io;
	if (read_padded(st->src, VHDX_REGION1_OFFSET, r, VHDX_REGION_SIZE) != 0)
		return P_ERR;
	if (memcmp(r + VHDX_R_SIGNATURE, "regi", 4) != 0)
		return P_ERR;
	uint32_t want = get_le32(r + VHDX_R_CHECKSUM);
	put_le32(r + VHDX_R_CHECKSUM, 0);
	if (crc32c_update(0, r, VHDX_REGION_SIZE) != want)
		return P_ERR;
	uint32_t count = get_le32(r + VHDX_R_COUNT);
	if (count > VHDX_R_MAX_ENTRIES)
		return P_ERR;
	int have_bat = 0, have_meta = 0;
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *e = r + VHDX_R_ENTRIES + i * VHDX_R_ENTRY_SIZE;
		uint64_t off = get_le64(e + 16);
		uint32_t len = get_le32(e + 24);
		if (add_region(st, off, len) != CREATE_ERR_OK)
			return P_ERR;
		if (memcmp(e, vhdx_guid_bat, 16) == 0) {
			if (have_bat++)
				return P_ERR;
			st->bat_offset = off;
			st->bat_length = len;
		} else if (memcmp(e, vhdx_guid_metadata, 16) == 0) {
			if (have_meta++)
				return P_ERR;
			st->meta_offset = off;
		} else if (get_le32(e + 28) & 1) {
			return P_ERR; /* a required region we do not know */
		}
	}
	return have_bat && have_meta ? CREATE_ERR_OK : P_ERR;
}

enum { M_FP, M_VDS, M_P83, M_LSS, M_PSS, M_PARENT, M_KNOWN };

static uint32_t parse_metadata(struct vhdx_parse_state *st)
{
	const uint8_t *guids[M_KNOWN] = {
		vhdx_guid_file_parameters, vhdx_guid_virtual_disk_size, vhdx_guid_page83,
		vhdx_guid_logical_sector, vhdx_guid_physical_sector, vhdx_guid_parent_locator,
	};
	uint32_t offset[M_KNOWN];
	uint32_t present = 0;
	uint8_t *m = st->io;

	if (read_padded(st->src, st->meta_offset, m, VHDX_M_ENTRIES) != 0)
		return P_ERR;
	if (memcmp(m + VHDX_M_SIGNATURE, "metadata", 8) != 0)
		return P_ERR;
	uint32_t count = get_le16(m + VHDX_M_COUNT);
	if (count > VHDX_M_MAX_ENTRIES)
		return P_ERR;
	/* 32 + 2047 * 32 bytes fit the (at least 64 KiB) I/O buffer. */
	if (read_padded(st->src, st->meta_offset + VHDX_M_ENTRIES, m, count * VHDX_M_ENTRY_SIZE) != 0)
		return P_ERR;
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *e = m + i * VHDX_M_ENTRY_SIZE;
		uint32_t k = 0;
		while (k < M_KNOWN && memcmp(e, guids[k], 16) != 0)
			k++;
		if (k == M_KNOWN) {
			if (get_le32(e + 24) & VHDX_M_FLAG_IS_REQUIRED)
				return P_ERR;
			continue;
		}
		/* qemu checks no item's offset: one inside the table itself is
		 * read from there (or, for the page 83 data, not read at all). */
		if (present & (1u << k))
			return P_ERR;
		present |= 1u << k;
		offset[k] = get_le32(e + 16);
	}
	const uint32_t required = (1u << M_FP) | (1u << M_VDS) | (1u << M_P83) | (1u << M_LSS) |
				  (1u << M_PSS);
	if ((present & required) != required)
		return P_ERR;
	if (present & (1u << M_PARENT)) {
		/* qemu: -ENOTSUP, without a message of its own. */
		st->checks |= 1u << INSPECT_CHECK_BACKING_FILE;
		st->reason = "Operation not supported";
		return P_ERR; /* differencing images are not supported */
	}

	uint8_t fp[8], vds[8], lss[4];
	if (read_padded(st->src, st->meta_offset + offset[M_FP], fp, 8) != 0 ||
	    read_padded(st->src, st->meta_offset + offset[M_VDS], vds, 8) != 0 ||
	    read_padded(st->src, st->meta_offset + offset[M_LSS], lss, 4) != 0)
		return P_ERR;
	st->block_size = get_le32(fp);
	if (st->block_size < VHDX_MIN_BLOCK || st->block_size > VHDX_MAX_BLOCK ||
	    (st->block_size & (st->block_size - 1)) != 0)
		return P_ERR;
	if (get_le32(fp + 4) & VHDX_FP_HAS_PARENT) {
		/* qemu: -EINVAL (a parent without a parent locator). */
		st->checks |= 1u << INSPECT_CHECK_BACKING_FILE;
		st->reason = "Invalid argument";
		return P_ERR; /* differencing images are not supported */
	}
	if (get_le32(lss) != VHDX_SECTOR)
		return P_ERR;
	st->disk_size = get_le64(vds);
	return CREATE_ERR_OK;
}

/* CRC-32C of the len-byte log entry at pos (which wraps around the circular
 * log), with its checksum field counted as zero. What lies past the end of
 * the file reads as zeros and is folded in without reading: an entry may be
 * 4 GiB long. */
static int log_entry_crc(struct vhdx_parse_state *st, uint64_t pos, uint32_t len, uint32_t *crc)
{
	uint8_t *buf = st->io;
	uint32_t chunk = st->io_size;
	uint32_t c = 0;
	for (uint32_t done = 0; done < len;) {
		uint64_t p = (pos + done) % st->log_length;
		uint64_t contiguous = st->log_length - p;
		uint64_t at = st->log_offset + p;
		uint32_t n = len - done;
		if (n > contiguous)
			n = (uint32_t)contiguous;
		if (at >= st->src->size) {
			/* done > 0: the header, with the checksum, is in the file. */
			c = crc32c_zeros(c, n);
			done += n;
			continue;
		}
		if (n > chunk)
			n = chunk;
		if (read_padded(st->src, at, buf, n) != 0)
			return -1;
		if (done == 0)
			memset(buf + 4, 0, 4);
		c = crc32c_update(c, buf, n);
		done += n;
	}
	*crc = c;
	return 0;
}

/* Whether the 64-byte log entry header h could start an entry qemu would
 * replay; the CRC is checked separately. */
static int log_header_plausible(const struct vhdx_parse_state *st, const uint8_t *h)
{
	uint32_t len = get_le32(h + 8);
	return memcmp(h, "loge", 4) == 0 && memcmp(h + 32, st->log_guid, 16) == 0 && len != 0 &&
	       len % VHDX_LOG_SECTOR == 0 && len <= st->log_length && get_le64(h + 16) != 0 &&
	       (uint64_t)get_le32(h + 24) * 32 <= len;
}

/* A log entry qemu would replay, which its read-only open refuses. The
 * approximation checks the header fields qemu checks and the entry's
 * CRC-32C, not its descriptors. As qemu's search, it walks the log a
 * sector at a time, goes on after the whole of an entry whose CRC is wrong,
 * and ends once an entry wraps round the log's end. Sectors past the end
 * of the file read as zeros, which hold no entry: the walk ends there, so
 * the work is bounded by the file, not by the 4 GiB a log may claim. The
 * log is read an I/O buffer at a time. */
static uint32_t check_log(struct vhdx_parse_state *st)
{
	if (is_zero(st->log_guid, 16) || st->log_length == 0)
		return CREATE_ERR_OK;
	st->checks |= 1u << INSPECT_CHECK_DIRTY_LOG;
	/* qemu refuses a log GUID with a log length not a whole MiB. */
	if (st->log_length % VHDX_MIB != 0)
		return P_ERR;
	uint32_t chunk = st->io_size & ~(VHDX_LOG_SECTOR - 1);
	uint8_t *buf = st->io;
	uint64_t in_file = st->log_offset < st->src->size ? st->src->size - st->log_offset : 0;
	uint64_t end = in_file < st->log_length ? in_file : st->log_length;
	uint64_t base = 0;
	uint32_t n = 0; /* bytes of the log at base in buf */
	for (uint64_t p = 0; p < end;) {
		if (p < base || p + VHDX_LOG_ENTRY_HEADER > base + n) {
			base = p;
			n = st->log_length - p < chunk ? (uint32_t)(st->log_length - p) : chunk;
			if (read_padded(st->src, st->log_offset + base, buf, n) != 0)
				return P_ERR;
		}
		uint8_t h[VHDX_LOG_ENTRY_HEADER];
		memcpy(h, buf + (p - base), sizeof(h));
		if (!log_header_plausible(st, h)) {
			p += VHDX_LOG_SECTOR;
			continue;
		}
		uint32_t len = get_le32(h + 8), crc;
		if (log_entry_crc(st, p, len, &crc) != 0)
			return P_ERR;
		if (crc == get_le32(h + 4))
			return P_ERR;
		if (len >= st->log_length - p)
			break; /* wrapped: qemu's search ends */
		p += len;
		n = 0; /* the CRC reused the buffer */
	}
	return CREATE_ERR_OK;
}

/* qemu's check of each "fully present" entry (state 6, which for a
 * sector bitmap entry means "present"): it lies inside the file, its
 * block's end too (the last block may be short), and, for payload blocks,
 * it overlaps no region. qemu tells payload from bitmap entries by counting
 * fully present entries, not by position: mirrored. */
static uint32_t check_bat_entry(struct vhdx_parse_state *st, uint64_t i, uint64_t e,
				uint32_t chunk_ratio, uint32_t *payblocks)
{
	if ((e & 7) != VHDX_BAT_FULLY_PRESENT)
		return CREATE_ERR_OK;
	uint64_t off = e & VHDX_BAT_OFFSET_MASK;
	uint64_t rest = st->disk_size / VHDX_SECTOR * VHDX_SECTOR - i * st->block_size; /* wraps, as in qemu */
	uint64_t block_length = rest < st->block_size ? rest : st->block_size;
	if (off > (uint64_t)INT64_MAX - st->block_size || off >= st->length ||
	    off + block_length > st->length)
		return P_ERR;
	if (*payblocks == 0) {
		*payblocks = chunk_ratio;
		return CREATE_ERR_OK;
	}
	(*payblocks)--;
	return overlaps_region(st, off, off + st->block_size) ? P_ERR : CREATE_ERR_OK;
}

static uint32_t check_bat(struct vhdx_parse_state *st)
{
	/* As qemu: block and entry counts in 32 bits, one sector bitmap entry
	 * per chunk_ratio payload entries. */
	uint64_t blocks = (st->disk_size + st->block_size - 1) / st->block_size;
	if (st->disk_size > UINT64_MAX - st->block_size || blocks > UINT32_MAX) {
		st->checks |= 1u << INSPECT_CHECK_VIRTUAL_SIZE;
		return P_ERR;
	}
	uint32_t chunk_ratio = (uint32_t)((1ull << 23) * VHDX_SECTOR / st->block_size);
	uint32_t nblocks = (uint32_t)blocks;
	uint32_t entries = nblocks + (uint32_t)(nblocks - 1u) / chunk_ratio;
	if (entries < nblocks || entries > st->bat_length / 8) {
		st->checks |= 1u << INSPECT_CHECK_VIRTUAL_SIZE;
		return P_ERR;
	}
	/* qemu reads the whole BAT region in one request, even past the end
	 * of the file. */
	if (st->bat_length > VHDX_BDRV_REQUEST_MAX || st->bat_offset > VHDX_BDRV_MAX_LENGTH - st->bat_length)
		return P_ERR;

	sort_regions(st);
	uint32_t payblocks = chunk_ratio;
	uint32_t chunk = st->io_size & ~7u;
	uint64_t total = (uint64_t)entries * 8;
	/* Past the end of the file the BAT reads as zeros: nothing to check. */
	if (st->bat_offset >= st->length)
		return CREATE_ERR_OK;
	if (total > st->length - st->bat_offset)
		total = st->length - st->bat_offset;
	for (uint64_t done = 0; done < total;) {
		uint32_t n = total - done < chunk ? (uint32_t)(total - done) : chunk;
		if (read_padded(st->src, st->bat_offset + done, st->io, n) != 0)
			return P_ERR;
		for (uint32_t k = 0; k + 8 <= n; k += 8) {
			if (check_bat_entry(st, (done + k) / 8, get_le64(st->io + k), chunk_ratio,
					    &payblocks) != CREATE_ERR_OK)
				return P_ERR;
		}
		done += n;
	}
	return CREATE_ERR_OK;
}

/* vhdx_open makes every check of a read-only open into st. */
static uint32_t vhdx_open(const struct fmt_source *src, const struct fmt_scratch *scratch,
			  struct vhdx_parse_state *out)
{
	struct vhdx_parse_state st;
	uint8_t id[8];

	if (scratch->buf == 0 || scratch->size < VHDX_MIN_SCRATCH || src->size > READ_PADDED_MAX_SIZE)
		return P_ERR;
	memset(&st, 0, sizeof(st));
	st.src = src;
	st.regions = scratch->buf;
	st.io = scratch->buf + VHDX_REGION_LIST_SIZE;
	uint64_t io = scratch->size - VHDX_REGION_LIST_SIZE;
	st.io_size = io < MAX_TRANSFER ? (uint32_t)io : MAX_TRANSFER;
	st.length = padded_length(src);
	if (read_padded(src, VHDX_FILE_ID_OFFSET, id, 8) != 0 || memcmp(id, "vhdxfile", 8) != 0)
		return P_ERR;
	uint32_t err;
	if ((err = parse_headers(&st)) != CREATE_ERR_OK ||
	    (err = parse_region_table(&st)) != CREATE_ERR_OK ||
	    (err = check_log(&st)) != CREATE_ERR_OK ||
	    (err = parse_metadata(&st)) != CREATE_ERR_OK ||
	    (err = check_bat(&st)) != CREATE_ERR_OK) {
		out->checks = st.checks;
		out->reason = st.reason;
		return err;
	}
	*out = st;
	return CREATE_ERR_OK;
}

uint32_t vhdx_parse(const struct fmt_source *src, const struct fmt_scratch *scratch,
		    struct backing_info *out)
{
	struct vhdx_parse_state st;
	uint32_t err = vhdx_open(src, scratch, &st);
	if (err != CREATE_ERR_OK)
		return err;
	out->format = FORMAT_VHDX;
	out->virtual_size = st.disk_size / VHDX_SECTOR * VHDX_SECTOR;
	return CREATE_ERR_OK;
}

/* qemu's vhdx_get_info reports the block size as the cluster size. */
uint32_t vhdx_info(const struct fmt_source *src, const struct fmt_scratch *scratch, const struct info_sink *sink,
		   struct fmt_info *out)
{
	(void)sink;
	struct vhdx_parse_state st;
	st.checks = 0;
	st.reason = 0;
	uint32_t err = vhdx_open(src, scratch, &st);
	out->inspect_checks |= st.checks;
	if (err == CREATE_ERR_BACKING_READ_FAILED)
		return INFO_ERR_READ_FAILED;
	if (err != CREATE_ERR_OK) {
		out->reason = st.reason ? st.reason : "the image is not a valid vhdx image";
		return INFO_ERR_INVALID;
	}
	out->format = FORMAT_VHDX;
	out->virtual_size = st.disk_size / VHDX_SECTOR * VHDX_SECTOR;
	out->has_cluster_size = 1;
	out->cluster_size = st.block_size;
	return INFO_ERR_OK;
}

int vhdx_probe(const uint8_t *b, uint32_t n)
{
	return probe_has(b, n, 0, "vhdxfile", 8) ? PROBE_MATCH : 0;
}
