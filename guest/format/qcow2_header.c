#include "qcow2_header.h"
#include "qcow2_format.h"
#include "instar/shared.h"

#include "endian.h"
#include "instar/mem.h"



/* The feature name table qemu writes for compat 1.1 with clusters above
 * 4 KiB (smaller clusters would leave too little room for a backing
 * name): type (0 incompatible, 1 compatible, 2 autoclear), bit, name. */
static const struct {
	uint8_t type, bit;
	const char *name;
} features[] = {
	{0, 0, "dirty bit"},
	{0, 1, "corrupt bit"},
	{0, 2, "external data file"},
	{0, 3, "compression type"},
	{0, 4, "extended L2 entries"},
	{1, 0, "lazy refcounts"},
	{2, 0, "bitmaps"},
	{2, 1, "raw external data"},
};
#define FEATURE_ENTRY 48u
#define NFEATURES (sizeof(features) / sizeof(features[0]))

static uint32_t cstrlen(const char *s)
{
	uint32_t n = 0;
	while (s[n])
		n++;
	return n;
}

static uint32_t pad8(uint32_t n)
{
	return (n + 7) & ~7u;
}

static int has_feature_table(const struct q2_geom *g)
{
	return g->version >= 3 && g->cs > 4096;
}

uint32_t q2_header_len(const struct q2_geom *g)
{
	uint32_t n = g->version >= 3 ? QCOW2_HEADER_SIZE : QCOW2_V2_HEADER_LEN;
	const char *fmt = g->backing ? format_name(g->backing_format) : 0;
	if (fmt)
		n += 8 + pad8(cstrlen(fmt));
	if (g->data_file)
		n += 8 + pad8(g->data_file_len);
	if (has_feature_table(g))
		n += 8 + NFEATURES * FEATURE_ENTRY;
	n += 8; /* end of extensions */
	return n + g->backing_len;
}

/* One header extension: magic, length, data padded to 8 bytes. */
static uint32_t put_ext(uint8_t *p, uint32_t magic, const void *data, uint32_t len)
{
	put_be32(p, magic);
	put_be32(p + 4, len);
	if (len)
		memcpy(p + 8, data, len);
	return 8 + pad8(len);
}

void q2_render_header(const struct q2_geom *g, const struct q2_header_layout *l, uint8_t *buf, uint32_t len)
{
	memset(buf, 0, len);
	put_be32(buf + 0, QCOW_MAGIC);
	put_be32(buf + 4, g->version);
	put_be32(buf + 20, g->cluster_bits);
	put_be64(buf + 24, g->vsize);
	/* crypt_method (32) stays 0: no encryption */
	put_be32(buf + 36, (uint32_t)g->l1_size);
	put_be64(buf + 40, l->l1_off);
	put_be64(buf + 48, l->rt_off);
	put_be32(buf + 56, (uint32_t)l->rt_clusters);
	/* nb_snapshots (60) and snapshots_offset (64) stay 0 */

	uint32_t p = QCOW2_V2_HEADER_LEN;
	if (g->version >= 3) {
		uint64_t incompat = 0, compat = 0, autoclear = 0;
		if (g->data_file)
			incompat |= QCOW2_INCOMPAT_DATA_FILE;
		if (g->data_file_raw)
			autoclear |= QCOW2_AUTOCLEAR_DATA_FILE_RAW;
		if (g->zstd)
			incompat |= QCOW2_INCOMPAT_COMPRESSION;
		if (g->extended_l2)
			incompat |= QCOW2_INCOMPAT_EXTL2;
		if (g->lazy_refcounts)
			compat |= QCOW2_COMPAT_LAZY_REFCOUNTS;
		put_be64(buf + 72, incompat);
		put_be64(buf + 80, compat);
		put_be64(buf + 88, autoclear);
		put_be32(buf + 96, g->refcount_order);
		put_be32(buf + 100, QCOW2_HEADER_SIZE);
		buf[104] = g->zstd ? 1 : 0; /* compression_type; 105..111 padding */
		p = QCOW2_HEADER_SIZE;
	}

	const char *fmt = g->backing ? format_name(g->backing_format) : 0;
	if (fmt)
		p += put_ext(buf + p, QCOW2_EXT_BACKING_FORMAT, fmt, cstrlen(fmt));
	/* the data file's name as recorded, not NUL-terminated */
	if (g->data_file)
		p += put_ext(buf + p, QCOW2_EXT_DATA_FILE, g->data_file, g->data_file_len);
	if (has_feature_table(g)) {
		put_be32(buf + p, QCOW2_EXT_FEATURE_TABLE);
		put_be32(buf + p + 4, NFEATURES * FEATURE_ENTRY);
		p += 8;
		for (uint32_t i = 0; i < NFEATURES; i++) {
			uint8_t *e = buf + p + i * FEATURE_ENTRY;
			e[0] = features[i].type;
			e[1] = features[i].bit;
			memcpy(e + 2, features[i].name, cstrlen(features[i].name));
		}
		p += NFEATURES * FEATURE_ENTRY;
	}
	p += put_ext(buf + p, 0, 0, 0); /* end of extensions */

	if (g->backing) {
		/* the name follows the extensions, as typed, not NUL-terminated */
		memcpy(buf + p, g->backing, g->backing_len);
		put_be64(buf + 8, p);
		put_be32(buf + 16, g->backing_len);
	}
}
