/*
 * vmdk info: what qemu 7.2's vmdk_open finds, as qemu-img info reports
 * it. A sparse file (KDMV, or VMware's old COWD) is its own one extent,
 * its descriptor at sector 1 (a KDMV header of capacity 0 may instead
 * name a descriptor inside it, read as a descriptor file). A descriptor
 * file names its extents in order: flat ones (FLAT, VMFS) are as big as
 * their line says; sparse ones (SPARSE, VMFSSPARSE: KDMV or COWD files;
 * SESPARSE: ESXi's seSparse files) are files whose own headers give
 * their size, grain and compression, read here from the
 * extent files the caller attaches (sink->extent_file). Without them,
 * the driver sends every extent's name and asks for them
 * (INFO_ERR_NEED_EXTENTS), so that the host opens them under its rules.
 * The descriptor's parentFileNameHint is the backing file, in vmdk
 * format.
 */
#include "info.h"
#include "vmdk.h"

#include "endian.h"
#include "inspect.h"
#include "instar/mem.h"
#include "read_padded.h"
#include "vmdk_internal.h"
#include "vmdk_scan.h"

/* The extents as qemu adds them up. */
struct totals {
	uint64_t sectors;
	uint32_t n;
	/* The first extent's kind, and whether every extent is of it:
	 * otherwise qemu's bdrv_get_info fails. */
	int flat, compressed, same;
	uint64_t cluster_sectors;
	/* A compressed KDMV extent makes qemu's create type streamOptimized. */
	int stream;
};

static uint32_t invalid(struct fmt_info *out)
{
	out->reason = "the image is not a valid vmdk image";
	return INFO_ERR_INVALID;
}

static uint32_t str_len(const uint8_t *s, uint32_t max)
{
	uint32_t n = 0;
	while (n < max && s[n] != 0)
		n++;
	return n;
}

static void set_name(struct info_name *n, const char *s)
{
	info_copy_name(n, (const uint8_t *)s, str_len((const uint8_t *)s, INFO_MAX_NAME), INFO_MAX_NAME);
}

/* add_extent counts extent e of the given kind and sends it. */
static uint32_t add_extent(struct totals *t, const struct info_sink *sink, struct fmt_info *out,
			   struct info_extent *e, uint64_t sectors, int flat, uint64_t cluster_sectors, int compressed)
{
	/* qemu's size in bytes must fit in 63 bits (bdrv_getlength). */
	if (sectors > (uint64_t)INT64_MAX / VMDK_SECTOR - t->sectors)
		return invalid(out);
	t->sectors += sectors;
	if (t->n == 0) {
		t->flat = flat;
		t->compressed = compressed;
		t->cluster_sectors = cluster_sectors;
		t->same = 1;
	} else if (flat != t->flat || compressed != t->compressed || (!flat && cluster_sectors != t->cluster_sectors)) {
		t->same = 0;
	}
	t->n++;
	e->virtual_size = sectors * VMDK_SECTOR;
	e->has_cluster_size = !flat;
	e->cluster_size = flat ? 0 : cluster_sectors * VMDK_SECTOR;
	e->compressed = compressed;
	if (sink->extent && sink->extent(sink->ctx, e) != 0)
		return INFO_ERR_TOO_BIG;
	out->extents++;
	return INFO_ERR_OK;
}

/* sparse_error is info's code for a vmdk_sparse_open result. */
static uint32_t sparse_error(int k, struct fmt_info *out)
{
	switch (k) {
	case VMDK_SPARSE_READ_FAILED:
		return INFO_ERR_READ_FAILED;
	case VMDK_SPARSE_DESCRIPTOR:
		/* qemu would read the descriptor inside as the image's own,
		 * its extents added to the image's, recursively. */
		out->reason = "vmdk sparse extents that hold a descriptor are not supported";
		return INFO_ERR_UNSUPPORTED;
	case VMDK_SPARSE_NO_FOOTER:
		out->reason = "Failed to read footer: Input/output error";
		return INFO_ERR_INVALID;
	case VMDK_SPARSE_BAD_FOOTER:
		out->reason = "Invalid footer";
		return INFO_ERR_INVALID;
	default:
		return invalid(out);
	}
}

/* seSparse's header values qemu accepts (it checks them strictly: the
 * format is not documented). */
#define SE_CONST_MAGIC 0xcafebabeull
#define SE_VOLATILE_MAGIC 0xcafecafeull
#define SE_VERSION 0x0000000200000001ull

static int all_zero(const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* sesparse_open opens an seSparse extent file as qemu's
 * vmdk_open_se_sparse: its constant header at 0, its volatile header
 * where that says, and the grain directory's offset. */
static int sesparse_open(const struct fmt_source *f, struct vmdk_sparse *x)
{
	uint8_t h[VMDK_SECTOR], v[VMDK_SECTOR];
	memset(x, 0, sizeof *x);
	if (f->size > READ_PADDED_MAX_SIZE)
		return VMDK_SPARSE_INVALID;
	if (read_padded(f, 0, h, sizeof h) != 0)
		return VMDK_SPARSE_READ_FAILED;
	/* magic, version, capacity, grain size, grain table size, flags,
	 * four reserved words, then offset and size pairs: volatile header
	 * (80), journal header, journal, grain directory (128), grain
	 * tables, free bitmap, backmap, grains; zero padding from 208. */
	if (get_le64(h) != SE_CONST_MAGIC || get_le64(h + 8) != SE_VERSION || get_le64(h + 24) != 8 ||
	    get_le64(h + 32) != 64 || get_le64(h + 40) != 0 || !all_zero(h + 48, 32) || !all_zero(h + 208, 304))
		return VMDK_SPARSE_INVALID;
	uint64_t voff = get_le64(h + 80) * VMDK_SECTOR; /* wraps as qemu's */
	if (!vmdk_pread_ok(voff, sizeof v))
		return VMDK_SPARSE_INVALID;
	if (read_padded(f, voff, v, sizeof v) != 0)
		return VMDK_SPARSE_READ_FAILED;
	/* magic, free grain tables, next transaction, replay flag, padding */
	if (get_le64(v) != SE_VOLATILE_MAGIC || get_le64(v + 24) != 0 || !all_zero(v + 32, 480))
		return VMDK_SPARSE_INVALID;
	/* qemu's L1 of 64-bit entries: its count cut to 32 bits. */
	uint32_t l1 = (uint32_t)(get_le64(h + 136) * VMDK_SECTOR / 8);
	if (l1 > VMDK_MAX_L1 || !vmdk_pread_ok(get_le64(h + 128) * VMDK_SECTOR, (uint64_t)l1 * 8))
		return VMDK_SPARSE_INVALID;
	x->sectors = get_le64(h + 16);
	x->cluster_sectors = 8;
	return VMDK_SPARSE_OK;
}

/* need_extents sends every extent line's name (when none was sent yet)
 * and asks for the extent files. */
static uint32_t need_extents(const uint8_t *desc, uint32_t sent, const struct info_sink *sink, struct fmt_info *out)
{
	uint32_t index = 0;
	for (const uint8_t *p = desc; *p != 0 && sent == 0;) {
		struct vmdk_extent_line x;
		if (vmdk_extent_line(p, &x) > 0) {
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
	out->reason = "the vmdk image's extent files are needed to read it";
	out->inspect_checks |= 1u << INSPECT_CHECK_DESCRIPTOR;
	return INFO_ERR_NEED_EXTENTS;
}

/* descriptor_info reads the descriptor at desc_off of src and its
 * extents, as qemu's vmdk_open_desc_file; footer_len is the length
 * qemu places a streamOptimized extent's footer by (src's own). */
static uint32_t descriptor_info(const struct fmt_source *src, uint64_t desc_off, const struct fmt_scratch *scratch,
				const struct info_sink *sink, struct fmt_info *out, struct totals *t)
{
	if (vmdk_read_desc(src, scratch, desc_off) != CREATE_ERR_OK)
		return invalid(out);
	const uint8_t *desc = scratch->buf;
	uint32_t ct_len;
	const uint8_t *ct = vmdk_create_type(desc, &ct_len);
	if (ct == 0)
		return invalid(out);
	info_copy_name(&out->vmdk_create_type, ct, ct_len, 127);
	/* Every line is checked before a file is asked for; a sparse extent
	 * anywhere means the files are read (from the first on, in qemu's
	 * order). */
	int files = 0;
	for (const uint8_t *p = desc; *p != 0;) {
		struct vmdk_extent_line x;
		int k = vmdk_extent_line(p, &x);
		if (k < 0)
			return invalid(out); /* "Invalid extent line" */
		files |= k > 0 && !x.flat;
		while (*p != 0 && *p++ != '\n')
			;
	}
	uint64_t footer_len = padded_length(src);
	uint32_t index = 0;
	for (const uint8_t *p = desc; *p != 0;) {
		struct vmdk_extent_line x;
		int k = vmdk_extent_line(p, &x);
		while (*p != 0 && *p++ != '\n')
			;
		if (k <= 0)
			continue;
		index++;
		struct fmt_source f = {0};
		if (files && (!sink->extent_file || sink->extent_file(sink->ctx, index, &f) != INFO_EXTENT_OK))
			return need_extents(desc, index - 1, sink, out);
		struct info_extent e = {
			.index = index,
			.type = (const char *)x.type,
			.name = x.name,
			.name_len = str_len(x.name, sizeof x.name),
		};
		uint32_t err;
		if (x.flat) {
			err = add_extent(t, sink, out, &e, x.sectors, 1, x.sectors, 0);
		} else {
			struct vmdk_sparse sp;
			int sk = vmdk_streq(x.type, "SESPARSE") ? sesparse_open(&f, &sp) : vmdk_sparse_open(&f, footer_len, &sp);
			if (sk != VMDK_SPARSE_OK)
				return sparse_error(sk, out);
			t->stream |= !sp.cowd && sp.compressed;
			err = add_extent(t, sink, out, &e, sp.sectors, 0, sp.cluster_sectors, sp.compressed);
		}
		if (err != INFO_ERR_OK)
			return err;
	}
	if (index == 0) {
		/* qemu-img 7.2 opens it, then aborts on an assertion. */
		out->reason = "the vmdk descriptor names no extent";
		return INFO_ERR_INVALID;
	}
	return INFO_ERR_OK;
}

uint32_t vmdk_info(const struct fmt_source *src, const struct fmt_scratch *scratch, const struct info_sink *sink,
		   struct fmt_info *out)
{
	if (!scratch->buf || scratch->size < VMDK_MIN_SCRATCH)
		return INFO_ERR_BAD_CONFIG;
	/* vmdk_read_desc refuses a file under 4 bytes. */
	if (src->size < 4 || src->size > READ_PADDED_MAX_SIZE)
		return invalid(out);
	uint8_t magic[4];
	if (read_padded(src, 0, magic, sizeof magic) != 0)
		return INFO_ERR_READ_FAILED;
	struct totals t = {0};
	uint64_t cid_off = 0; /* where the CIDs and the parent hint are read */
	uint32_t err;
	if (memcmp(magic, "KDMV", 4) == 0 || memcmp(magic, "COWD", 4) == 0) {
		struct vmdk_sparse sp;
		cid_off = VMDK_SECTOR;
		int k = vmdk_sparse_open(src, padded_length(src), &sp);
		if (k == VMDK_SPARSE_DESCRIPTOR) {
			err = descriptor_info(src, sp.desc_offset << 9, scratch, sink, out, &t);
		} else if (k != VMDK_SPARSE_OK) {
			out->inspect_checks |= vmdk_refusal_checks(src);
			return sparse_error(k, out);
		} else {
			/* The image is its own extent, of no type; qemu names a
			 * KDMV file's type by its compression, whatever its
			 * descriptor says, and a COWD file's not at all. */
			struct info_extent e = {.index = 0, .type = ""};
			err = add_extent(&t, sink, out, &e, sp.sectors, 0, sp.cluster_sectors, sp.compressed);
			if (!sp.cowd)
				set_name(&out->vmdk_create_type, sp.compressed ? "streamOptimized" : "monolithicSparse");
		}
	} else {
		err = descriptor_info(src, 0, scratch, sink, out, &t);
	}
	if (err != INFO_ERR_OK)
		return err;
	if (t.stream)
		set_name(&out->vmdk_create_type, "streamOptimized");
	uint32_t cid, parent;
	if (vmdk_check_cids(src, scratch, cid_off, &cid, &parent, &out->backing) != CREATE_ERR_OK)
		return invalid(out);
	if (out->backing.present)
		set_name(&out->backing_format, "vmdk");
	out->format = FORMAT_VMDK;
	out->virtual_size = t.sectors * VMDK_SECTOR;
	if (!t.same) {
		out->no_dirty_flag = 1;
	} else if (!t.flat && t.cluster_sectors != 0) {
		out->has_cluster_size = 1;
		out->cluster_size = t.cluster_sectors * VMDK_SECTOR;
	}
	out->vmdk_cid = cid;
	out->vmdk_parent_cid = parent;
	return INFO_ERR_OK;
}
