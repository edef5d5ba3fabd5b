/*
 * The VHD planner. Layouts, as qemu-img 7.2 writes them:
 *   dynamic: footer copy @0, dynamic header @512, BAT @1536 (all entries
 *            0xFFFFFFFF, padded to a sector with 0xFF), footer after the BAT.
 *   fixed:   data area, then the footer; the data area stays sparse except
 *            its first 4 KiB, which qemu's file driver writes as zeros when
 *            it creates the file (so later opens can probe alignment).
 */
#include "info.h"
#include "inspect.h"
#include "vpc.h"

#include "endian.h"
#include "entropy.h"
#include "instar/mem.h"
#include "uuid.h"
#include "vpc_internal.h"

#define VPC_BLOCK_SIZE (2u * 1024 * 1024)
#define VPC_TABLE_OFFSET (VPC_FOOTER_SIZE + VPC_DYN_HEADER_SIZE)
/* qemu's file driver zeroes the start of every file it creates. */
#define VPC_FIRST_BLOCK 4096u

static void put_ascii(uint8_t *p, const char *s, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)s[i];
}

static void build_footer(uint8_t *f, const struct create_config *cfg, uint64_t size,
			 struct vpc_geometry geo, int dynamic)
{
	struct entropy_stream es;

	memset(f, 0, VPC_FOOTER_SIZE);
	put_ascii(f + VPC_F_COOKIE, "conectix", 8);
	put_be32(f + VPC_F_FEATURES, 2); /* "reserved", always set */
	put_be32(f + VPC_F_VERSION, 0x00010000);
	put_be64(f + VPC_F_DATA_OFFSET, dynamic ? VPC_FOOTER_SIZE : ~0ull);
	/* Wraps for dates before 2000 exactly as qemu's 32-bit store does. */
	put_be32(f + VPC_F_TIMESTAMP, (uint32_t)(cfg->timestamp - VPC_EPOCH_OFFSET));
	/* "qem2" tells readers to trust the size field over CHS. */
	put_ascii(f + VPC_F_CREATOR_APP, (cfg->flags & FLAG_FORCE_SIZE) ? "qem2" : "qemu", 4);
	put_be32(f + VPC_F_CREATOR_VERSION, 0x00050003);
	put_ascii(f + VPC_F_CREATOR_OS, "Wi2k", 4);
	put_be64(f + VPC_F_ORIGINAL_SIZE, size);
	put_be64(f + VPC_F_CURRENT_SIZE, size);
	put_be16(f + VPC_F_GEOMETRY, geo.cylinders);
	f[VPC_F_GEOMETRY + 2] = geo.heads;
	f[VPC_F_GEOMETRY + 3] = geo.sectors_per_track;
	put_be32(f + VPC_F_DISK_TYPE, dynamic ? VPC_DISK_DYNAMIC : VPC_DISK_FIXED);
	entropy_init(&es, cfg->entropy);
	uuid_v4(&es, f + VPC_F_UUID);
	put_be32(f + VPC_F_CHECKSUM, vpc_checksum(f, VPC_FOOTER_SIZE, VPC_F_CHECKSUM));
}

static void build_dyn_header(uint8_t *h, uint32_t entries)
{
	memset(h, 0, VPC_DYN_HEADER_SIZE);
	put_ascii(h + VPC_D_COOKIE, "cxsparse", 8);
	put_be64(h + VPC_D_DATA_OFFSET, ~0ull);
	put_be64(h + VPC_D_TABLE_OFFSET, VPC_TABLE_OFFSET);
	put_be32(h + VPC_D_VERSION, 0x00010000);
	put_be32(h + VPC_D_MAX_ENTRIES, entries);
	put_be32(h + VPC_D_BLOCK_SIZE, VPC_BLOCK_SIZE);
	put_be32(h + VPC_D_CHECKSUM, vpc_checksum(h, VPC_DYN_HEADER_SIZE, VPC_D_CHECKSUM));
}

/* Writes len bytes of value c from off, in chunks of the scratch buffer.
 * Only the part of the buffer a write uses is filled: len is usually a few
 * KiB, the chunk up to 1 MiB of fresh memory. */
static int fill(struct fmt_out *w, uint8_t *buf, uint32_t chunk, uint64_t off, uint64_t len,
		uint8_t c)
{
	if (len < chunk)
		chunk = (uint32_t)len;
	memset(buf, c, chunk);
	while (len > 0) {
		uint32_t n = len < chunk ? (uint32_t)len : chunk;
		if (fmt_put(w, 0, off, buf, n) != 0)
			return -1;
		off += n;
		len -= n;
	}
	return 0;
}

static uint32_t check_config(const struct create_config *cfg, uint64_t virtual_size)
{
	if (cfg->vhd_subformat != VHD_DYNAMIC && cfg->vhd_subformat != VHD_FIXED)
		return CREATE_ERR_INVALID_OPTION;
	/* qemu's vpc driver has no block_size, preallocation or backing. */
	if (cfg->block_size != 0 && cfg->block_size != VPC_BLOCK_SIZE)
		return CREATE_ERR_INVALID_OPTION;
	if (cfg->preallocation != PREALLOC_OFF || cfg->backing_file_len != 0)
		return CREATE_ERR_INVALID_OPTION;
	/* qemu-img checks the size as given, before any rounding. */
	if (virtual_size > VPC_MAX_SECTORS * VPC_SECTOR)
		return CREATE_ERR_INVALID_SIZE;
	return CREATE_ERR_OK;
}

static uint32_t vpc_plan(const struct fmt_plan *pl, struct plan_result *res)
{
	const struct create_config *cfg = pl->cfg;
	uint32_t err = check_config(cfg, pl->virtual_size);
	if (err == CREATE_ERR_INVALID_SIZE)
		res->reason = "The image size is too large for file format 'vpc'";
	if (err != CREATE_ERR_OK)
		return err;

	int dynamic = cfg->vhd_subformat == VHD_DYNAMIC;
	uint64_t sectors = (pl->virtual_size + VPC_SECTOR - 1) / VPC_SECTOR;
	struct vpc_geometry geo;
	if (cfg->flags & FLAG_FORCE_SIZE) {
		/* The largest geometry is the marker for "use the size field". */
		geo.cylinders = 65535;
		geo.heads = 16;
		geo.sectors_per_track = 255;
	} else {
		sectors = vpc_round_sectors(sectors, &geo);
	}
	uint64_t size = sectors * VPC_SECTOR;

	memset(res, 0, sizeof(*res));
	res->virtual_size = size;
	res->output_count = 1;
	struct fmt_out w = { pl->sink, res };
	uint8_t *buf = pl->scratch.buf;
	uint32_t chunk = pl->scratch.size < MAX_TRANSFER ? (uint32_t)pl->scratch.size : MAX_TRANSFER;
	chunk &= ~(VPC_SECTOR - 1);

	if (!dynamic) {
		uint64_t zeros = size < VPC_FIRST_BLOCK ? size : VPC_FIRST_BLOCK;
		if (zeros > 0 && fill(&w, buf, chunk, 0, zeros, 0) != 0)
			return CREATE_ERR_WRITE_FAILED;
		build_footer(buf, cfg, size, geo, 0);
		if (fmt_put(&w, 0, size, buf, VPC_FOOTER_SIZE) != 0)
			return CREATE_ERR_WRITE_FAILED;
		res->file_size[0] = size + VPC_FOOTER_SIZE;
		return CREATE_ERR_OK;
	}

	/* At most 2040 GiB / 2 MiB = 1044480 entries: fits 32 bits. */
	uint32_t entries = (uint32_t)((size + VPC_BLOCK_SIZE - 1) / VPC_BLOCK_SIZE);
	uint64_t bat_bytes = ((uint64_t)entries * 4 + VPC_SECTOR - 1) / VPC_SECTOR * VPC_SECTOR;
	res->unit_size = VPC_BLOCK_SIZE;

	build_footer(buf, cfg, size, geo, 1);
	build_dyn_header(buf + VPC_FOOTER_SIZE, entries);
	if (fmt_put(&w, 0, 0, buf, VPC_TABLE_OFFSET) != 0)
		return CREATE_ERR_WRITE_FAILED;
	if (fill(&w, buf, chunk, VPC_TABLE_OFFSET, bat_bytes, 0xFF) != 0)
		return CREATE_ERR_WRITE_FAILED;
	build_footer(buf, cfg, size, geo, 1);
	if (fmt_put(&w, 0, VPC_TABLE_OFFSET + bat_bytes, buf, VPC_FOOTER_SIZE) != 0)
		return CREATE_ERR_WRITE_FAILED;
	res->file_size[0] = VPC_TABLE_OFFSET + bat_bytes + VPC_FOOTER_SIZE;
	return CREATE_ERR_OK;
}

FMT_DRIVER(vpc, VPC, VPC_MIN_SCRATCH, vpc_inspect);
