/*
 * The VHDX planner. It issues the writes qemu-img 7.2 issues, with the same
 * extents, so file contents and allocation match: file identifier, the two
 * headers (80 bytes each; the rest of their 4 KiB stays a hole), the BAT
 * region (whole, but only for fixed images or block_state_zero: otherwise
 * it is all zeros and left a hole), both 64 KiB region tables, the 64 KiB
 * metadata table and the 40 bytes of metadata items.
 */
#include "info.h"
#include "vhdx.h"

#include "crc32c.h"
#include "endian.h"
#include "entropy.h"
#include "instar/mem.h"
#include "uuid.h"
#include "vhdx_internal.h"

/* The creator qemu-img 7.2.22 records: "QEMU v" and its version, UTF-16LE. */
static const char vhdx_creator[] = "QEMU v7.2.22";

/* The random fields, drawn in a fixed order from the entropy stream. */
struct vhdx_random {
	uint32_t sequence;
	uint8_t file_write_guid[16];
	uint8_t data_write_guid[16];
	uint8_t page83[16];
};

static void draw_random(const struct create_config *cfg, struct vhdx_random *r)
{
	struct entropy_stream es;
	uint8_t seq[4];

	entropy_init(&es, cfg->entropy);
	entropy_bytes(&es, seq, 4);
	r->sequence = get_le32(seq);
	uuid_v4(&es, r->file_write_guid);
	uuid_v4(&es, r->data_write_guid);
	uuid_v4(&es, r->page83);
}

static uint32_t write_file_id(struct fmt_out *w, uint8_t *buf)
{
	memset(buf, 0, 32);
	memcpy(buf, "vhdxfile", 8);
	for (uint32_t i = 0; i < sizeof(vhdx_creator) - 1; i++)
		put_le16(buf + 8 + 2 * i, (uint16_t)vhdx_creator[i]);
	return fmt_put(w, 0, VHDX_FILE_ID_OFFSET, buf, 32) == 0 ? CREATE_ERR_OK : CREATE_ERR_WRITE_FAILED;
}

/* Both headers carry the same GUIDs; header 2 is one sequence newer. The
 * checksum covers all 4 KiB, of which qemu writes only the first 80. */
static uint32_t write_headers(struct fmt_out *w, uint8_t *buf, const struct vhdx_layout *l,
			      const struct vhdx_random *r)
{
	for (uint32_t i = 0; i < 2; i++) {
		memset(buf, 0, VHDX_HEADER_SIZE);
		memcpy(buf + VHDX_H_SIGNATURE, "head", 4);
		put_le64(buf + VHDX_H_SEQUENCE, (uint64_t)r->sequence + i);
		memcpy(buf + VHDX_H_FILE_WRITE_GUID, r->file_write_guid, 16);
		memcpy(buf + VHDX_H_DATA_WRITE_GUID, r->data_write_guid, 16);
		put_le16(buf + VHDX_H_LOG_VERSION, 0);
		put_le16(buf + VHDX_H_VERSION, 1);
		put_le32(buf + VHDX_H_LOG_LENGTH, l->log_size);
		put_le64(buf + VHDX_H_LOG_OFFSET, VHDX_LOG_OFFSET);
		put_le32(buf + VHDX_H_CHECKSUM, crc32c_update(0, buf, VHDX_HEADER_SIZE));
		uint64_t off = i == 0 ? VHDX_HEADER1_OFFSET : VHDX_HEADER2_OFFSET;
		if (fmt_put(w, 0, off, buf, VHDX_H_USED) != 0)
			return CREATE_ERR_WRITE_FAILED;
	}
	return CREATE_ERR_OK;
}

/* The BAT entry at index j: payload entries interleaved with a sector
 * bitmap entry (always "not present") after every chunk_ratio of them. */
static uint64_t bat_entry(const struct vhdx_layout *l, uint64_t j, int fixed, int zero)
{
	uint64_t group = (uint64_t)l->chunk_ratio + 1;
	if (j % group == l->chunk_ratio)
		return 0;
	uint64_t p = j - j / group;
	if (p >= l->data_blocks)
		return 0;
	if (zero)
		return VHDX_BAT_ZERO; /* qemu records no offset, even when fixed */
	if (fixed)
		return (l->data_offset + p * l->block_size) | VHDX_BAT_FULLY_PRESENT;
	return 0;
}

static uint32_t write_bat(struct fmt_out *w, const struct fmt_scratch *scratch,
			  const struct vhdx_layout *l, int fixed, int zero)
{
	uint32_t chunk = scratch->size < VHDX_BAT_CHUNK ? (uint32_t)scratch->size : VHDX_BAT_CHUNK;
	chunk &= ~7u;
	uint64_t j = 0;
	for (uint64_t done = 0; done < l->bat_length;) {
		uint64_t left = l->bat_length - done;
		uint32_t n = left < chunk ? (uint32_t)left : chunk;
		for (uint32_t i = 0; i < n; i += 8, j++)
			put_le64(scratch->buf + i, j < l->bat_entries ? bat_entry(l, j, fixed, zero) : 0);
		if (fmt_put(w, 0, l->bat_offset + done, scratch->buf, n) != 0)
			return CREATE_ERR_WRITE_FAILED;
		done += n;
	}
	return CREATE_ERR_OK;
}

static void region_entry(uint8_t *e, const uint8_t guid[16], uint64_t off, uint64_t len)
{
	memcpy(e, guid, 16);
	put_le64(e + 16, off);
	put_le32(e + 24, (uint32_t)len);
	put_le32(e + 28, 0); /* qemu leaves "required" clear */
}

static uint32_t write_region_tables(struct fmt_out *w, uint8_t *buf, const struct vhdx_layout *l)
{
	memset(buf, 0, VHDX_REGION_SIZE);
	memcpy(buf + VHDX_R_SIGNATURE, "regi", 4);
	put_le32(buf + VHDX_R_COUNT, 2);
	region_entry(buf + VHDX_R_ENTRIES, vhdx_guid_bat, l->bat_offset, l->bat_length);
	region_entry(buf + VHDX_R_ENTRIES + VHDX_R_ENTRY_SIZE, vhdx_guid_metadata, l->meta_offset,
		     VHDX_META_REGION_SIZE);
	put_le32(buf + VHDX_R_CHECKSUM, crc32c_update(0, buf, VHDX_REGION_SIZE));
	if (fmt_put(w, 0, VHDX_REGION1_OFFSET, buf, VHDX_REGION_SIZE) != 0 ||
	    fmt_put(w, 0, VHDX_REGION2_OFFSET, buf, VHDX_REGION_SIZE) != 0)
		return CREATE_ERR_WRITE_FAILED;
	return CREATE_ERR_OK;
}

static void meta_entry(uint8_t *e, const uint8_t guid[16], uint32_t off, uint32_t len, uint32_t flags)
{
	memcpy(e, guid, 16);
	put_le32(e + 16, off);
	put_le32(e + 20, len);
	put_le32(e + 24, flags);
}

static uint32_t write_metadata(struct fmt_out *w, uint8_t *buf, const struct vhdx_layout *l,
			       int fixed, const struct vhdx_random *r)
{
	const uint32_t vd = VHDX_M_FLAG_IS_VIRTUAL_DISK | VHDX_M_FLAG_IS_REQUIRED;
	const uint32_t items = VHDX_M_TABLE_SIZE;

	memset(buf, 0, VHDX_M_TABLE_SIZE);
	memcpy(buf + VHDX_M_SIGNATURE, "metadata", 8);
	put_le16(buf + VHDX_M_COUNT, 5);
	uint8_t *e = buf + VHDX_M_ENTRIES;
	meta_entry(e, vhdx_guid_file_parameters, items, 8, VHDX_M_FLAG_IS_REQUIRED);
	meta_entry(e + 32, vhdx_guid_virtual_disk_size, items + 8, 8, vd);
	meta_entry(e + 64, vhdx_guid_page83, items + 16, 16, vd);
	meta_entry(e + 96, vhdx_guid_logical_sector, items + 32, 4, vd);
	meta_entry(e + 128, vhdx_guid_physical_sector, items + 36, 4, vd);
	if (fmt_put(w, 0, l->meta_offset, buf, VHDX_M_TABLE_SIZE) != 0)
		return CREATE_ERR_WRITE_FAILED;

	memset(buf, 0, 40);
	put_le32(buf, l->block_size);
	put_le32(buf + 4, fixed ? VHDX_FP_LEAVE_BLOCKS_ALLOCATED : 0);
	put_le64(buf + 8, l->size);
	memcpy(buf + 16, r->page83, 16);
	put_le32(buf + 32, VHDX_SECTOR); /* logical sector size */
	put_le32(buf + 36, VHDX_SECTOR); /* physical: qemu always says 512 */
	if (fmt_put(w, 0, l->meta_offset + items, buf, 40) != 0)
		return CREATE_ERR_WRITE_FAILED;
	return CREATE_ERR_OK;
}

static uint32_t check_config(const struct create_config *cfg)
{
	if (cfg->vhd_subformat != VHD_DYNAMIC && cfg->vhd_subformat != VHD_FIXED)
		return CREATE_ERR_INVALID_OPTION;
	/* qemu's vhdx driver has no preallocation or backing. */
	if (cfg->preallocation != PREALLOC_OFF || cfg->backing_file_len != 0)
		return CREATE_ERR_INVALID_OPTION;
	return CREATE_ERR_OK;
}

static uint32_t vhdx_plan(const struct fmt_plan *pl, struct plan_result *res)
{
	const struct create_config *cfg = pl->cfg;
	uint32_t err = check_config(cfg);
	if (err != CREATE_ERR_OK)
		return err;
	int fixed = cfg->vhd_subformat == VHD_FIXED;
	int zero = (cfg->flags & FLAG_VHDX_BLOCK_STATE_ZERO) != 0;
	struct vhdx_layout l;
	err = vhdx_layout_for(pl->virtual_size, cfg->block_size, cfg->vhdx_log_size, fixed, &l, &res->reason);
	if (err != CREATE_ERR_OK)
		return err;

	memset(res, 0, sizeof(*res));
	res->virtual_size = l.size;
	res->unit_size = l.block_size;
	res->output_count = 1;
	res->file_size[0] = l.file_size;

	struct vhdx_random r;
	draw_random(cfg, &r);
	struct fmt_out w = { pl->sink, res };
	uint8_t *buf = pl->scratch.buf;
	if ((err = write_file_id(&w, buf)) != CREATE_ERR_OK ||
	    (err = write_headers(&w, buf, &l, &r)) != CREATE_ERR_OK)
		return err;
	if ((fixed || zero) && (err = write_bat(&w, &pl->scratch, &l, fixed, zero)) != CREATE_ERR_OK)
		return err;
	if ((err = write_region_tables(&w, buf, &l)) != CREATE_ERR_OK ||
	    (err = write_metadata(&w, buf, &l, fixed, &r)) != CREATE_ERR_OK)
		return err;
	return CREATE_ERR_OK;
}

FMT_DRIVER(vhdx, VHDX, VHDX_MIN_SCRATCH, NULL);
