/*
 * vmdk's safety checks, as OpenStack's inspector makes them and a little
 * stricter: the descriptor (embedded in a sparse file, or the whole file)
 * must be a monolithicSparse or streamOptimized one made only of lines
 * understood, naming no other file; a streamOptimized image whose grain
 * directory is at its end must end in a footer matching its header and
 * an end-of-stream marker.
 */
#include "inspect.h"
#include "vmdk.h"
#include "vmdk_internal.h"

#include "endian.h"
#include "instar/mem.h"

#define VMDK_MAGIC 0x564d444bu /* "KDMV" */
/* The longest descriptor qemu reads. */
#define DESC_MAX (1024u * 1024u - 1u)
#define GD_AT_END 0xffffffffffffffffull
#define MARKER_EOS 0u
#define MARKER_FOOTER 3u

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Whether p[0..n) starts with the lower-case word w, case-insensitively. */
static int starts_with(const uint8_t *p, uint32_t n, const char *w)
{
	uint32_t i = 0;
	for (; w[i] != 0; i++)
		if (i >= n || lower(p[i]) != (uint8_t)w[i])
			return 0;
	return 1;
}

static int is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* What a descriptor holds, for the checks. */
struct desc_scan {
	uint32_t extents;
	int unknown_line, slash_in_extent, not_ascii;
	int create_type_ok, create_type_seen;
	int parent_hint; /* a parentFileNameHint: a child of another image */
};

static void scan_line(const uint8_t *p, uint32_t n, struct desc_scan *s)
{
	while (n > 0 && is_space(p[0])) {
		p++;
		n--;
	}
	while (n > 0 && is_space(p[n - 1]))
		n--;
	if (n == 0 || p[0] == '#')
		return;
	if (starts_with(p, n, "ddb"))
		return;
	uint32_t eq = 0, sp = 0;
	while (eq < n && p[eq] != '=')
		eq++;
	while (sp < n && p[sp] != ' ' && p[sp] != '\t')
		sp++;
	if (eq < n && eq <= sp) {
		/* key=value: createType is the one whose value matters. */
		if (eq == 10 && starts_with(p, n, "createtype")) {
			s->create_type_seen = 1;
			const uint8_t *v = p + eq + 1;
			uint32_t vn = n - eq - 1;
			while (vn > 0 && is_space(v[0])) {
				v++;
				vn--;
			}
			s->create_type_ok = (vn == 18 && starts_with(v, vn, "\"monolithicsparse\"")) ||
					    (vn == 17 && starts_with(v, vn, "\"streamoptimized\""));
		}
		if (eq == 18 && starts_with(p, n, "parentfilenamehint"))
			s->parent_hint = 1;
		return;
	}
	if ((sp == 2 && starts_with(p, n, "rw")) || (sp == 6 && starts_with(p, n, "rdonly")) ||
	    (sp == 8 && starts_with(p, n, "noaccess"))) {
		s->extents++;
		for (uint32_t i = 0; i < n; i++)
			if (p[i] == '/')
				s->slash_in_extent = 1;
		return;
	}
	s->unknown_line = 1;
}

static void check_descriptor(const uint8_t *d, uint32_t n, struct inspect_report *r)
{
	struct desc_scan s = {0};
	uint32_t end = 0;
	while (end < n && d[end] != 0)
		end++;
	for (uint32_t i = 0; i < end; i++)
		if (d[i] >= 0x80)
			s.not_ascii = 1;
	if (s.not_ascii) {
		inspect_fail(r, INSPECT_CHECK_DESCRIPTOR, "descriptor is not ASCII text");
		return;
	}
	for (uint32_t start = 0; start < end;) {
		uint32_t stop = start;
		while (stop < end && d[stop] != '\n')
			stop++;
		scan_line(d + start, stop - start, &s);
		start = stop + 1;
	}
	if (!s.create_type_seen || !s.create_type_ok)
		inspect_fail(r, INSPECT_CHECK_DESCRIPTOR, "createType is not monolithicSparse or streamOptimized");
	if (s.unknown_line)
		inspect_fail(r, INSPECT_CHECK_DESCRIPTOR, "descriptor line not understood");
	if (s.slash_in_extent)
		inspect_fail(r, INSPECT_CHECK_DESCRIPTOR, "extent names a file in another directory");
	if (s.extents == 0)
		inspect_fail(r, INSPECT_CHECK_DESCRIPTOR, "no extents");
	if (s.parent_hint)
		inspect_fail(r, INSPECT_CHECK_BACKING_FILE, "image names a parent file");
}

/* Whether the 512-byte marker m is of type with zero size and padding;
 * the end-of-stream marker's value must be zero too. */
static int marker_ok(const uint8_t *m, uint32_t type)
{
	if (get_le32(m + 8) != 0 || get_le32(m + 12) != type)
		return 0;
	if (type == MARKER_EOS && get_le64(m) != 0)
		return 0;
	for (uint32_t i = 16; i < VMDK_SECTOR; i++)
		if (m[i] != 0)
			return 0;
	return 1;
}

static void check_footer(const struct fmt_source *src, const uint8_t *h, uint8_t *buf, struct inspect_report *r)
{
	if (src->size < 4 * VMDK_SECTOR || src->read(src->ctx, src->size - 3 * VMDK_SECTOR, buf, 3 * VMDK_SECTOR) != 0) {
		inspect_fail(r, INSPECT_CHECK_FOOTER, "no room for a footer");
		return;
	}
	const uint8_t *f = buf + VMDK_SECTOR;
	if (get_le32(f + VMDK_H_MAGIC) != get_le32(h + VMDK_H_MAGIC))
		inspect_fail(r, INSPECT_CHECK_FOOTER, "header and footer signatures differ");
	if (get_le32(f + VMDK_H_VERSION) != get_le32(h + VMDK_H_VERSION))
		inspect_fail(r, INSPECT_CHECK_FOOTER, "header and footer versions differ");
	if (get_le64(f + VMDK_H_DESC_OFFSET) != get_le64(h + VMDK_H_DESC_OFFSET) ||
	    get_le64(f + VMDK_H_DESC_SIZE) != get_le64(h + VMDK_H_DESC_SIZE))
		inspect_fail(r, INSPECT_CHECK_FOOTER, "footer names a different descriptor");
	if (get_le64(f + VMDK_H_GD) == GD_AT_END)
		inspect_fail(r, INSPECT_CHECK_FOOTER, "footer points at another footer");
	if (!marker_ok(buf, MARKER_FOOTER))
		inspect_fail(r, INSPECT_CHECK_FOOTER, "footer marker is invalid");
	if (!marker_ok(buf + 2 * VMDK_SECTOR, MARKER_EOS))
		inspect_fail(r, INSPECT_CHECK_FOOTER, "end-of-stream marker is invalid");
}

void vmdk_inspect(const struct fmt_source *src, const struct fmt_scratch *scratch, const struct fmt_info *info,
		  uint32_t info_err, struct inspect_report *r)
{
	(void)info;
	(void)info_err;
	/* header, footer sectors, then the descriptor */
	if (scratch->size < 4 * VMDK_SECTOR + DESC_MAX) {
		inspect_fail(r, INSPECT_CHECK_DESCRIPTOR, "not enough working memory for the descriptor");
		return;
	}
	uint8_t *h = scratch->buf, *tail = h + VMDK_SECTOR, *desc = h + 4 * VMDK_SECTOR;
	if (src->size >= VMDK_SECTOR && src->read(src->ctx, 0, h, VMDK_SECTOR) == 0 &&
	    get_le32(h + VMDK_H_MAGIC) == VMDK_MAGIC) {
		uint64_t off = get_le64(h + VMDK_H_DESC_OFFSET), size = get_le64(h + VMDK_H_DESC_SIZE);
		if (off != VMDK_DESC_OFFSET || size == 0) {
			inspect_fail(r, INSPECT_CHECK_DESCRIPTOR, "descriptor is not where the header says");
			return;
		}
		uint64_t bytes = size * VMDK_SECTOR;
		if (size > DESC_MAX / VMDK_SECTOR)
			bytes = DESC_MAX;
		if (off * VMDK_SECTOR > src->size || bytes > src->size - off * VMDK_SECTOR ||
		    src->read(src->ctx, off * VMDK_SECTOR, desc, (uint32_t)bytes) != 0) {
			inspect_fail(r, INSPECT_CHECK_DESCRIPTOR, "descriptor lies past the end of the file");
			return;
		}
		check_descriptor(desc, (uint32_t)bytes, r);
		if (get_le64(h + VMDK_H_GD) == GD_AT_END)
			check_footer(src, h, tail, r);
		return;
	}
	/* A descriptor file: the whole file is the descriptor. */
	uint64_t n = src->size;
	if (n > DESC_MAX) {
		inspect_fail(r, INSPECT_CHECK_DESCRIPTOR, "descriptor file too large");
		return;
	}
	if (n > 0 && src->read(src->ctx, 0, desc, (uint32_t)n) != 0) {
		inspect_fail(r, INSPECT_CHECK_DESCRIPTOR, "descriptor could not be read");
		return;
	}
	check_descriptor(desc, (uint32_t)n, r);
}
