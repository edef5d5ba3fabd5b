/*
 * vmdk's inspect entry point: only a sparse file whose one extent is
 * itself is safe: monolithic sparse, streamOptimized, or VMware's old
 * COWD. A KDMV file's embedded descriptor is read line by line; a
 * streamOptimized file with its grain directory at the end must end in
 * a footer that matches its header. qemu sizes a KDMV grain directory
 * from the capacity, so no virtual size is beyond what it maps; a COWD
 * header gives both, and they must agree.
 */
#include "inspect.h"

#include "endian.h"
#include "instar/mem.h"
#include "read_padded.h"
#include "vmdk.h"
#include "vmdk_internal.h"
#include "vmdk_scan.h"

#define VMDK_GD_END UINT64_C(0xFFFFFFFFFFFFFFFF)
/* The longest embedded descriptor read: qemu reads at most 1 MiB. */
#define VMDK_INSPECT_MAX_DESC (1024u * 1024)

static int has_prefix(const uint8_t *p, uint32_t n, const char *s)
{
	uint32_t i = 0;
	for (; s[i] != 0; i++)
		if (i >= n || p[i] != (uint8_t)s[i])
			return 0;
	return 1;
}

/* Whether line p[0..n) is key = "value" (spaces allowed) with value v. */
static int value_is(const uint8_t *p, uint32_t n, const char *v)
{
	uint32_t i = 0;
	while (i < n && p[i] != '=')
		i++;
	i++;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i < n && p[i] == '"')
		i++;
	uint32_t k = 0;
	for (; v[k] != 0; k++, i++)
		if (i >= n || p[i] != (uint8_t)v[k])
			return 0;
	if (i < n && p[i] == '"')
		i++;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
		i++;
	return i >= n;
}

/* Checks the descriptor d[0..n) line by line. */
static void check_descriptor(const uint8_t *d, uint32_t n, struct inspect_report *r)
{
	uint32_t extents = 0;
	int bad_line = 0, other_file = 0, bad_type = 0, parent_hint = 0;
	for (uint32_t at = 0; at < n && d[at] != 0;) {
		uint32_t end = at;
		while (end < n && d[end] != 0 && d[end] != '\n')
			end++;
		const uint8_t *p = d + at;
		uint32_t len = end - at;
		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0 || p[0] == '#') {
			/* blank or a comment */
		} else if (has_prefix(p, len, "RW ") || has_prefix(p, len, "RDONLY ") ||
			   has_prefix(p, len, "NOACCESS ")) {
			extents++;
			for (uint32_t i = 0; i < len; i++)
				if (p[i] == '/' || p[i] == '\\')
					other_file = 1;
		} else if (has_prefix(p, len, "ddb.")) {
			/* disk database entries */
		} else {
			uint32_t eq = 0;
			while (eq < len && p[eq] != '=')
				eq++;
			if (eq == len)
				bad_line = 1;
			else if (has_prefix(p, len, "createType") &&
				 !value_is(p, len, "monolithicSparse") && !value_is(p, len, "streamOptimized"))
				bad_type = 1;
			else if (has_prefix(p, len, "parentFileNameHint"))
				parent_hint = 1;
		}
		at = end < n && d[end] == '\n' ? end + 1 : end;
	}
	if (bad_type)
		inspect_fail(r, INSPECT_CHECK_DESCRIPTOR, "descriptor has a create type other than monolithicSparse or streamOptimized");
	if (bad_line)
		inspect_fail(r, INSPECT_CHECK_DESCRIPTOR, "descriptor has a line that is not understood");
	if (other_file)
		inspect_fail(r, INSPECT_CHECK_DESCRIPTOR, "descriptor has an extent naming another file");
	if (extents == 0)
		inspect_fail(r, INSPECT_CHECK_DESCRIPTOR, "descriptor has no extent");
	if (extents > 1)
		inspect_fail(r, INSPECT_CHECK_DESCRIPTOR, "descriptor has more than one extent");
	if (parent_hint)
		inspect_fail(r, INSPECT_CHECK_BACKING_FILE, "descriptor names a parent file");
}

static int all_zero(const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* The footer of a streamOptimized file with its grain directory at the
 * end: a footer marker, a header copy, an end-of-stream marker. */
static void check_footer(const struct fmt_source *src, const uint8_t *h, struct inspect_report *r)
{
	uint64_t len = padded_length(src);
	uint8_t f[3 * VMDK_SECTOR];
	if (len < 4 * VMDK_SECTOR || read_padded(src, len - 3 * VMDK_SECTOR, f, sizeof f) != 0) {
		inspect_fail(r, INSPECT_CHECK_FOOTER, "image has no footer");
		return;
	}
	const uint8_t *marker = f, *footer = f + VMDK_SECTOR, *eos = f + 2 * VMDK_SECTOR;
	if (get_le32(marker + 8) != 0 || get_le32(marker + 12) != 3)
		inspect_fail(r, INSPECT_CHECK_FOOTER, "footer marker is not a footer marker");
	if (!all_zero(eos, VMDK_SECTOR))
		inspect_fail(r, INSPECT_CHECK_FOOTER, "end-of-stream marker is not zero");
	/* Every header field but the grain directory's offset is the same. */
	if (memcmp(footer, h, VMDK_H_GD) != 0 ||
	    memcmp(footer + VMDK_H_OVERHEAD, h + VMDK_H_OVERHEAD, VMDK_H_COMPRESS + 2 - VMDK_H_OVERHEAD) != 0)
		inspect_fail(r, INSPECT_CHECK_FOOTER, "footer does not match the header");
	if (get_le64(footer + VMDK_H_GD) == VMDK_GD_END)
		inspect_fail(r, INSPECT_CHECK_FOOTER, "footer has no grain directory");
}

uint32_t vmdk_refusal_checks(const struct fmt_source *src)
{
	uint8_t h[VMDK_SECTOR], f[3 * VMDK_SECTOR];
	uint64_t len = padded_length(src);
	if (read_padded(src, 0, h, VMDK_SECTOR) != 0 || memcmp(h, "KDMV", 4) != 0 ||
	    get_le64(h + VMDK_H_GD) != VMDK_GD_END)
		return 0;
	if (len < sizeof f || read_padded(src, len - sizeof f, f, sizeof f) != 0)
		return 1u << INSPECT_CHECK_FOOTER;
	const uint8_t *marker = f, *footer = f + VMDK_SECTOR, *eos = f + 2 * VMDK_SECTOR;
	/* The markers' sector count (0) and type (footer 3, end of stream
	 * 0), and the footer's header magic. */
	if (memcmp(footer, "KDMV", 4) != 0 || get_le32(marker + 8) != 0 || get_le32(marker + 12) != 3 ||
	    get_le64(eos) != 0 || get_le32(eos + 8) != 0 || get_le32(eos + 12) != 0)
		return 1u << INSPECT_CHECK_FOOTER;
	return 0;
}

/* A COWD file has no descriptor of its own, but qemu reads the 20
 * sectors at sector 1 as one for its CIDs and parentFileNameHint (and
 * nothing else), and maps its disk with the header's grain directory
 * of l1dir_size entries, each 4096 grains. */
static void cowd_inspect(const struct fmt_source *src, const struct fmt_scratch *scratch, const uint8_t *h,
			 struct inspect_report *r)
{
	uint64_t sectors = get_le32(h + 12), grain = get_le32(h + 16), l1 = get_le32(h + 24);
	/* qemu reads zeros beyond the directory; with a grain of 0 it maps
	 * nothing, and qemu's reads divide by it (a crash). */
	if (sectors > 0 && grain == 0)
		inspect_fail(r, INSPECT_CHECK_VIRTUAL_SIZE, "grain size is 0");
	else if (sectors > l1 * 4096 * grain)
		inspect_fail(r, INSPECT_CHECK_VIRTUAL_SIZE, "disk is larger than its grain directory maps");
	if (scratch->size < VMDK_CID_DESC_SIZE + 1)
		return;
	uint8_t *d = scratch->buf;
	if (read_padded(src, VMDK_SECTOR, d, VMDK_CID_DESC_SIZE) != 0)
		return;
	d[VMDK_CID_DESC_SIZE] = 0;
	if (vmdk_strstr(d, "parentFileNameHint") != 0)
		inspect_fail(r, INSPECT_CHECK_BACKING_FILE, "descriptor names a parent file");
}

void vmdk_inspect(const struct fmt_source *src, const struct fmt_scratch *scratch, const struct fmt_info *info,
		  struct inspect_report *r)
{
	if (info->vmdk_parent_cid != 0xFFFFFFFFu)
		inspect_fail(r, INSPECT_CHECK_BACKING_FILE, "image has a parent");
	uint8_t h[VMDK_SECTOR];
	if (read_padded(src, 0, h, VMDK_SECTOR) != 0)
		return;
	if (memcmp(h, "COWD", 4) == 0) {
		cowd_inspect(src, scratch, h, r);
		return;
	}
	if (memcmp(h, "KDMV", 4) != 0) {
		/* A descriptor file: its extents are other files. */
		inspect_fail(r, INSPECT_CHECK_DESCRIPTOR, "image is a descriptor file whose extents are other files");
		uint64_t n = src->size < VMDK_INSPECT_MAX_DESC ? src->size : VMDK_INSPECT_MAX_DESC;
		if (n > scratch->size)
			n = scratch->size;
		for (uint32_t done = 0; done < n;) {
			uint32_t k = n - done < MAX_TRANSFER ? (uint32_t)n - done : MAX_TRANSFER;
			if (src->read(src->ctx, done, scratch->buf + done, k) != 0)
				return;
			done += k;
		}
		check_descriptor(scratch->buf, (uint32_t)n, r);
		return;
	}
	uint64_t desc_off = get_le64(h + VMDK_H_DESC_OFFSET), desc_size = get_le64(h + VMDK_H_DESC_SIZE);
	if (desc_off != 1) {
		inspect_fail(r, INSPECT_CHECK_DESCRIPTOR, "descriptor is not at sector 1");
	} else {
		uint64_t bytes = desc_size * VMDK_SECTOR;
		uint32_t cap = scratch->size < VMDK_INSPECT_MAX_DESC ? (uint32_t)scratch->size : VMDK_INSPECT_MAX_DESC;
		if (desc_size == 0 || desc_size > cap / VMDK_SECTOR) {
			inspect_fail(r, INSPECT_CHECK_DESCRIPTOR, "descriptor size is out of range");
		} else {
			uint32_t n = (uint32_t)bytes, done = 0;
			while (done < n) {
				uint32_t k = n - done < MAX_TRANSFER ? n - done : MAX_TRANSFER;
				if (read_padded(src, desc_off * VMDK_SECTOR + done, scratch->buf + done, k) != 0)
					return;
				done += k;
			}
			check_descriptor(scratch->buf, n, r);
		}
	}
	if (get_le64(h + VMDK_H_GD) == VMDK_GD_END)
		check_footer(src, h, r);
}
