#include "qcow2_geom.h"

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static uint32_t log2u(uint64_t v)
{
	uint32_t n = 0;
	while (v > 1) {
		v >>= 1;
		n++;
	}
	return n;
}

static uint32_t refuse(const char **reason, uint32_t err, const char *why)
{
	if (reason)
		*reason = why;
	return err;
}

uint32_t q2_geom_init(const struct create_config *cfg, uint64_t virtual_size, struct q2_geom *g,
		     const char **reason)
{
	uint32_t flags = cfg->flags;
	/* No 0 for "the default": qemu-img refuses a cluster size or
	 * refcount width of 0, and so must the planner. */
	uint64_t cs = cfg->qcow2_cluster_size;
	uint64_t rbits = cfg->qcow2_refcount_bits;

	g->version = (flags & FLAG_COMPAT_V3) ? 3 : 2;
	g->extended_l2 = (flags & FLAG_EXTENDED_L2) != 0;
	g->lazy_refcounts = (flags & FLAG_LAZY_REFCOUNTS) != 0;
	g->zstd = (flags & FLAG_COMPRESSION_ZSTD) != 0;
	g->prealloc = cfg->preallocation;

	/* The same refusals as qemu's qcow2_co_create, in its order. */
	if (g->extended_l2 && g->version < 3)
		return refuse(reason, CREATE_ERR_INVALID_OPTION,
			      "Extended L2 entries are only supported with compatibility level 1.1 and above (use version=v3 or greater)");
	if (!pow2(cs) || cs < 512 || cs > MAX_CLUSTER_SIZE)
		return refuse(reason, CREATE_ERR_INVALID_OPTION,
			      "Cluster size must be a power of two between 512 and 2048k");
	if (g->extended_l2 && cs < 512u * 32u) /* 32 subclusters of >= 512 */
		return refuse(reason, CREATE_ERR_INVALID_OPTION,
			      "Extended L2 entries are only supported with cluster sizes of at least 16384 bytes");
	if (g->prealloc > PREALLOC_FULL)
		return CREATE_ERR_INVALID_OPTION;
	if (cfg->backing_file_len > CREATE_CONFIG_MAX_BACKING_FILE)
		return CREATE_ERR_BAD_CONFIG;
	if (cfg->backing_file_len && g->prealloc != PREALLOC_OFF && !g->extended_l2)
		return refuse(reason, CREATE_ERR_INVALID_OPTION,
			      "Backing file and preallocation can only be used at the same time if extended_l2 is on");
	if (!cfg->backing_file_len && cfg->backing_format != FORMAT_UNSET)
		return refuse(reason, CREATE_ERR_INVALID_OPTION, "Backing format cannot be used without backing file");
	if (g->lazy_refcounts && g->version < 3)
		return refuse(reason, CREATE_ERR_INVALID_OPTION,
			      "Lazy refcounts only supported with compatibility level 1.1 and above (use version=v3 or greater)");
	if (rbits > 64 || !pow2(rbits))
		return refuse(reason, CREATE_ERR_INVALID_OPTION,
			      "Refcount width must be a power of two and may not exceed 64 bits");
	if (g->version < 3 && rbits != 16)
		return refuse(reason, CREATE_ERR_INVALID_OPTION,
			      "Different refcount widths than 16 bits require compatibility level 1.1 or above (use version=v3 or greater)");
	bool data_raw = (flags & FLAG_DATA_FILE_RAW) != 0;
	if (cfg->data_file_len > CREATE_CONFIG_MAX_DATA_FILE)
		return CREATE_ERR_BAD_CONFIG;
	if (data_raw && !cfg->data_file_len)
		return refuse(reason, CREATE_ERR_INVALID_OPTION, "data-file-raw requires data-file");
	if (data_raw && cfg->backing_file_len)
		return refuse(reason, CREATE_ERR_INVALID_OPTION,
			      "Backing file and data-file-raw cannot be used at the same time");
	if (cfg->data_file_len && g->version < 3)
		return refuse(reason, CREATE_ERR_INVALID_OPTION,
			      "External data files are only supported with compatibility level 1.1 and above (use version=v3 or greater)");
	g->data_file = cfg->data_file_len ? cfg->data_file : 0;
	g->data_file_len = cfg->data_file_len;
	g->data_file_raw = data_raw;
	for (uint32_t i = 0; i < g->data_file_len; i++)
		if (!g->data_file[i])
			return CREATE_ERR_INVALID_OPTION;
	/* qemu preallocates a raw data file's metadata (the L2 tables must
	 * map it 1:1), and with any data file, falloc and full allocate only
	 * metadata in the image, forwarding the rest to the data file. */
	if (g->data_file && (data_raw || g->prealloc != PREALLOC_OFF))
		g->prealloc = PREALLOC_METADATA;
	if (g->zstd && g->version < 3)
		return refuse(reason, CREATE_ERR_INVALID_OPTION,
			      "Non-zlib compression type is only supported with compatibility level 1.1 and above (use version=v3 or greater)");
	if (cfg->backing_format > FORMAT_VHDX)
		return CREATE_ERR_BACKING_FORMAT;

	g->cluster_bits = log2u(cs);
	g->cs = cs;
	g->subcluster_bits = g->extended_l2 ? g->cluster_bits - 5 : g->cluster_bits;
	g->refcount_order = log2u(rbits);
	g->rb_bits = g->cluster_bits + 3 - g->refcount_order;
	g->l2e_size = g->extended_l2 ? 16 : 8;
	g->l2_bits = g->cluster_bits - (g->extended_l2 ? 4 : 3);

	/* qemu-img rounds the size up to a sector silently. */
	if (virtual_size > (uint64_t)INT64_MAX - 511)
		return CREATE_ERR_INVALID_SIZE;
	g->vsize = (virtual_size + 511) & ~(uint64_t)511;
	uint32_t shift = g->cluster_bits + g->l2_bits;
	g->l1_size = (g->vsize >> shift) + ((g->vsize & (((uint64_t)1 << shift) - 1)) != 0);
	if (g->l1_size > Q2_MAX_L1_ENTRIES)
		return refuse(reason, CREATE_ERR_INVALID_SIZE,
			      "The image size is too large for file format 'qcow2' (try using a larger cluster size)");

	g->backing = cfg->backing_file_len ? cfg->backing_file : 0;
	g->backing_len = cfg->backing_file_len;
	g->backing_format = cfg->backing_format;
	/* qemu keeps backing names in 1024-byte buffers: at most 1023 bytes,
	 * and a NUL would end the name early. */
	if (g->backing_len > 1023)
		return CREATE_ERR_BACKING_TOO_LONG;
	for (uint32_t i = 0; i < g->backing_len; i++)
		if (!g->backing[i])
			return CREATE_ERR_INVALID_OPTION;
	return CREATE_ERR_OK;
}
