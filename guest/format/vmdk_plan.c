/*
 * The VMDK planner: checks the options as qemu-img 7.2 does, builds the
 * descriptor, and writes the subformat's files.
 */
#include "info.h"
#include "inspect.h"
#include "vmdk.h"

#include "endian.h"
#include "entropy.h"
#include "instar/mem.h"
#include "vmdk_internal.h"


/* What the options resolve to. */
struct vmdk_job {
	const struct create_config *cfg;
	uint64_t capacity; /* sectors */
	uint32_t subformat;
	int flat;        /* monolithicFlat, twoGbMaxExtentFlat */
	int split;       /* twoGbMaxExtent*: 2 GiB extents */
	int embedded;    /* monolithicSparse, streamOptimized: one file */
	uint32_t extents;
	const uint8_t *name;
	uint32_t name_len;
	uint32_t cid;
	uint32_t parent_cid;
};

/* check_options refuses what qemu-img refuses, with qemu's reason where a
 * user can reach the refusal. */
static uint32_t check_options(const struct create_config *cfg, uint64_t virtual_size,
			      const uint8_t *name, uint32_t name_len, struct plan_result *res)
{
	if (cfg->vmdk_subformat > VMDK_TWO_GB_MAX_EXTENT_FLAT ||
	    cfg->vmdk_adapter_type > VMDK_ADAPTER_LEGACY_ESX)
		return CREATE_ERR_INVALID_OPTION;
	/* In qemu-img's order: the backing file's format, compat6 with
	 * hwversion, then what a flat image cannot have. */
	/* qemu checks the backing format even with no backing file. */
	if (cfg->backing_format != FORMAT_UNSET && cfg->backing_format != FORMAT_VMDK) {
		res->reason = "backing_file must be a vmdk image";
		return CREATE_ERR_BACKING_FORMAT;
	}
	if ((cfg->flags & FLAG_VMDK_COMPAT6) && cfg->vmdk_hwversion != 0) {
		res->reason = "compat6 cannot be enabled with hwversion set";
		return CREATE_ERR_INVALID_OPTION;
	}
	int flat = cfg->vmdk_subformat == VMDK_MONOLITHIC_FLAT ||
		   cfg->vmdk_subformat == VMDK_TWO_GB_MAX_EXTENT_FLAT;
	if (flat && cfg->backing_file_len != 0) {
		res->reason = "Flat image can't have backing file";
		return CREATE_ERR_INVALID_OPTION;
	}
	if (flat && (cfg->flags & FLAG_VMDK_ZEROED_GRAIN)) {
		res->reason = "Flat image can't enable zeroed grain";
		return CREATE_ERR_INVALID_OPTION;
	}
	/* qemu's vmdk driver has fixed 64 KiB grains and no preallocation. */
	if ((cfg->vmdk_grain_size != 0 && cfg->vmdk_grain_size != VMDK_GRAIN_SECTORS * VMDK_SECTOR) ||
	    cfg->preallocation != PREALLOC_OFF)
		return CREATE_ERR_INVALID_OPTION;
	if (cfg->backing_file_len > CREATE_CONFIG_MAX_BACKING_FILE)
		return CREATE_ERR_BACKING_TOO_LONG;
	if (virtual_size > (uint64_t)INT64_MAX)
		return CREATE_ERR_INVALID_SIZE;
	if (name_len == 0 || name_len > VMDK_MAX_NAME)
		return CREATE_ERR_BAD_CONFIG;
	for (uint32_t i = 0; i < name_len; i++) {
		if (name[i] == '/' || name[i] == '\0' || name[i] == '"' || name[i] == '\n')
			return CREATE_ERR_BAD_CONFIG;
	}
	return CREATE_ERR_OK;
}

static uint64_t extent_sectors(const struct vmdk_job *j, uint32_t i)
{
	if (!j->split)
		return j->capacity;
	uint64_t start = (uint64_t)i * VMDK_EXTENT_2GB;
	uint64_t left = j->capacity - start;
	return left < VMDK_EXTENT_2GB ? left : VMDK_EXTENT_2GB;
}

/* The descriptor, in qemu-img 7.2's exact layout. */
static void build_descriptor(struct vmdk_text *t, const struct vmdk_job *j)
{
	const struct create_config *cfg = j->cfg;
	uint32_t heads = cfg->vmdk_adapter_type == VMDK_ADAPTER_IDE ? 16 : 255;

	vmdk_text_str(t, "# Disk DescriptorFile\nversion=1\nCID=");
	vmdk_text_hex(t, j->cid);
	vmdk_text_str(t, "\nparentCID=");
	vmdk_text_hex(t, cfg->backing_file_len != 0 ? j->parent_cid : 0xFFFFFFFFu);
	vmdk_text_str(t, "\ncreateType=\"");
	vmdk_text_str(t, vmdk_subformat_word(j->subformat));
	vmdk_text_str(t, "\"\n");
	if (cfg->backing_file_len != 0) {
		vmdk_text_str(t, "parentFileNameHint=\"");
		vmdk_text_bytes(t, cfg->backing_file, cfg->backing_file_len);
		vmdk_text_str(t, "\"");
	}
	vmdk_text_str(t, "\n# Extent description\n");
	for (uint32_t i = 0; i < j->extents; i++) {
		vmdk_text_str(t, "RW ");
		vmdk_text_dec(t, extent_sectors(j, i));
		vmdk_text_str(t, j->flat ? " FLAT \"" : " SPARSE \"");
		if (j->embedded)
			vmdk_text_bytes(t, j->name, j->name_len);
		else
			vmdk_extent_name(t, j->name, j->name_len, j->subformat, i + 1);
		vmdk_text_str(t, j->flat ? "\" 0\n" : "\"\n");
	}
	vmdk_text_str(t, "\n# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"");
	if (cfg->vmdk_hwversion != 0)
		vmdk_text_dec(t, cfg->vmdk_hwversion);
	else
		vmdk_text_str(t, (cfg->flags & FLAG_VMDK_COMPAT6) ? "6" : "4");
	vmdk_text_str(t, "\"\nddb.geometry.cylinders = \"");
	vmdk_text_dec(t, j->capacity / (63ull * heads));
	vmdk_text_str(t, "\"\nddb.geometry.heads = \"");
	vmdk_text_dec(t, heads);
	vmdk_text_str(t, "\"\nddb.geometry.sectors = \"63\"\nddb.adapterType = \"");
	vmdk_text_str(t, vmdk_adapter_type_word(cfg->vmdk_adapter_type));
	vmdk_text_str(t, "\"\nddb.toolsVersion = \"");
	vmdk_text_dec(t, cfg->vmdk_toolsversion);
	vmdk_text_str(t, "\"\n");
}

/* monolithicSparse and streamOptimized: one sparse extent with the
 * descriptor at sector 1. */
static uint32_t plan_embedded(const struct vmdk_job *j, const struct vmdk_text *desc,
			      const struct fmt_scratch *scratch, const struct fmt_sink *sink,
			      struct plan_result *res)
{
	if (desc->len > VMDK_DESC_SECTORS * VMDK_SECTOR)
		return CREATE_ERR_INVALID_OPTION; /* cannot happen with names <= 1 KiB */
	if (fmt_put(&(struct fmt_out){sink, res}, 0, VMDK_DESC_OFFSET * VMDK_SECTOR, desc->buf, desc->len) != 0)
		return CREATE_ERR_WRITE_FAILED;
	struct vmdk_sparse_layout l;
	vmdk_sparse_layout_for(j->capacity, &l);
	/* The descriptor is written: the scratch is free for the directories. */
	uint32_t err = vmdk_write_sparse(sink, 0, &l, j->subformat == VMDK_STREAM_OPTIMIZED,
					 (j->cfg->flags & FLAG_VMDK_ZEROED_GRAIN) != 0, scratch,
					 &res->bytes_written);
	if (err != CREATE_ERR_OK)
		return err;
	res->output_count = 1;
	res->file_size[0] = l.grain_offset * VMDK_SECTOR;
	res->unit_size = VMDK_GRAIN_SECTORS * VMDK_SECTOR;
	return CREATE_ERR_OK;
}

/* The multi-file subformats: descriptor file, then the extents. */
static uint32_t plan_split(const struct vmdk_job *j, const struct vmdk_text *desc,
			   const struct fmt_scratch *scratch, const struct fmt_sink *sink,
			   struct plan_result *res)
{
	if (desc->len > 0 && fmt_put(&(struct fmt_out){sink, res}, 0, 0, desc->buf, desc->len) != 0)
		return CREATE_ERR_WRITE_FAILED;
	res->file_size[0] = desc->len;
	res->output_count = 1 + j->extents;
	for (uint32_t i = 0; i < j->extents; i++) {
		uint64_t sectors = extent_sectors(j, i);
		if (j->flat) {
			/* qemu's file driver writes zeros over the first 4 KiB of
			 * each file it creates at a size (to probe alignment). */
			uint64_t bytes = sectors * VMDK_SECTOR;
			uint32_t n = bytes < 4096 ? (uint32_t)bytes : 4096;
			memset(scratch->buf, 0, n);
			if (n > 0 && fmt_put(&(struct fmt_out){sink, res}, 1 + i, 0, scratch->buf, n) != 0)
				return CREATE_ERR_WRITE_FAILED;
			res->file_size[1 + i] = bytes;
			continue;
		}
		struct vmdk_sparse_layout l;
		vmdk_sparse_layout_for(sectors, &l);
		uint32_t err = vmdk_write_sparse(sink, 1 + i, &l, 0,
						 (j->cfg->flags & FLAG_VMDK_ZEROED_GRAIN) != 0, scratch,
						 &res->bytes_written);
		if (err != CREATE_ERR_OK)
			return err;
		res->file_size[1 + i] = l.grain_offset * VMDK_SECTOR;
	}
	res->unit_size = j->flat ? 0 : VMDK_GRAIN_SECTORS * VMDK_SECTOR;
	return CREATE_ERR_OK;
}

static uint32_t vmdk_plan(const struct fmt_plan *pl, struct plan_result *res)
{
	const struct create_config *cfg = pl->cfg;
	uint32_t err = check_options(cfg, pl->virtual_size, pl->image_name, pl->image_name_len, res);
	if (err != CREATE_ERR_OK)
		return err;
	/* The new descriptor records the backing file's CID; without an
	 * attached backing file (-u) there is none to read. A backing file
	 * given as another format check_options has refused, with qemu's
	 * reason, before it is read as a vmdk. */
	uint32_t parent_cid = 0xffffffffu;
	if (cfg->backing_file_len > 0 && pl->backing &&
	    (err = vmdk_parent_cid(pl->backing, &pl->scratch, &parent_cid)) != CREATE_ERR_OK)
		return err;

	struct vmdk_job j;
	memset(&j, 0, sizeof(j));
	j.cfg = cfg;
	j.capacity = (pl->virtual_size + VMDK_SECTOR - 1) / VMDK_SECTOR;
	j.subformat = cfg->vmdk_subformat;
	j.flat = j.subformat == VMDK_MONOLITHIC_FLAT || j.subformat == VMDK_TWO_GB_MAX_EXTENT_FLAT;
	j.split = j.subformat == VMDK_TWO_GB_MAX_EXTENT_SPARSE ||
		  j.subformat == VMDK_TWO_GB_MAX_EXTENT_FLAT;
	j.embedded = j.subformat == VMDK_MONOLITHIC_SPARSE || j.subformat == VMDK_STREAM_OPTIMIZED;
	uint64_t extents = 1;
	if (j.split)
		extents = (j.capacity + VMDK_EXTENT_2GB - 1) / VMDK_EXTENT_2GB;
	else if (j.flat)
		extents = j.capacity != 0; /* an empty flat image has no extent */
	if (!j.embedded && extents + 1 > MAX_OUTPUTS)
		return CREATE_ERR_INVALID_SIZE; /* more extent files than outputs */
	j.extents = (uint32_t)extents;
	j.name = pl->image_name;
	j.name_len = pl->image_name_len;
	j.parent_cid = parent_cid;
	struct entropy_stream es;
	uint8_t cid[4];
	entropy_init(&es, cfg->entropy);
	entropy_bytes(&es, cid, 4);
	j.cid = get_le32(cid);

	memset(res, 0, sizeof(*res));
	res->virtual_size = j.capacity * VMDK_SECTOR;
	struct vmdk_text desc;
	uint32_t cap = pl->scratch.size < MAX_TRANSFER ? (uint32_t)pl->scratch.size : MAX_TRANSFER;
	vmdk_text_init(&desc, pl->scratch.buf, cap);
	build_descriptor(&desc, &j);
	if (desc.overflow)
		return CREATE_ERR_SCRATCH_TOO_SMALL;
	if (j.embedded)
		return plan_embedded(&j, &desc, &pl->scratch, pl->sink, res);
	return plan_split(&j, &desc, &pl->scratch, pl->sink, res);
}

FMT_DRIVER(vmdk, VMDK, VMDK_MIN_SCRATCH, vmdk_inspect);
