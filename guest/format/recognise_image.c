/*
 * Recognisers of disk image formats instar has no driver for: named so
 * that they are never taken for raw, and checked as OpenStack's format
 * inspector would (most are banned outright).
 */
#include "endian.h"
#include "inspect.h"

static int head_has(const struct inspect_input *in, uint32_t off, const char *magic, uint32_t n)
{
	if (in->head_len < off || in->head_len - off < n)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		if (in->head[off + i] != (uint8_t)magic[i])
			return 0;
	return 1;
}

/* qcow version 1: "QFI\xfb", big-endian version 1, size at 24. */
static int qcow_match(const struct inspect_input *in)
{
	return head_has(in, 0, "QFI\xfb", 4) && in->head_len >= 32 && get_be32(in->head + 4) == 1;
}

static void qcow_check(const struct inspect_input *in, const struct fmt_scratch *scratch, struct inspect_report *r)
{
	(void)scratch;
	r->has_virtual_size = 1;
	r->virtual_size = get_be64(in->head + 24);
	inspect_fail(r, INSPECT_CHECK_UNKNOWN_FEATURES, "qcow version 1 is not supported");
}

const struct fmt_recogniser qcow_recogniser = {INSPECT_FMT_QCOW, qcow_match, qcow_check};

/* qed: "QED\0", little-endian image size at 48. */
static int qed_match(const struct inspect_input *in)
{
	return head_has(in, 0, "QED\0", 4);
}

static void qed_check(const struct inspect_input *in, const struct fmt_scratch *scratch, struct inspect_report *r)
{
	(void)scratch;
	if (in->head_len >= 56) {
		r->has_virtual_size = 1;
		r->virtual_size = get_le64(in->head + 48);
	}
	inspect_fail(r, INSPECT_CHECK_BANNED, "qed images are not accepted");
}

const struct fmt_recogniser qed_recogniser = {INSPECT_FMT_QED, qed_match, qed_check};


static void banned(struct inspect_report *r, const char *reason)
{
	inspect_fail(r, INSPECT_CHECK_BANNED, reason);
}

/* parallels: the signature at 0, little-endian sector count at 36. */
static int parallels_match(const struct inspect_input *in)
{
	return head_has(in, 0, "WithoutFreeSpace", 16) || head_has(in, 0, "WithouFreSpacExt", 16);
}

static void parallels_check(const struct inspect_input *in, const struct fmt_scratch *scratch,
			    struct inspect_report *r)
{
	(void)scratch;
	if (in->head_len >= 44) {
		uint64_t sectors = get_le64(in->head + 36);
		if (sectors <= UINT64_MAX / 512) {
			r->has_virtual_size = 1;
			r->virtual_size = sectors * 512;
		}
	}
	banned(r, "parallels images are not accepted");
}

const struct fmt_recogniser parallels_recogniser = {INSPECT_FMT_PARALLELS, parallels_match, parallels_check};

/* bochs: "Bochs Virtual HD Image" at 0, type "Redolog" at 64. */
static int bochs_match(const struct inspect_input *in)
{
	return head_has(in, 0, "Bochs Virtual HD Image", 22) && head_has(in, 64, "Redolog", 7);
}

static void bochs_check(const struct inspect_input *in, const struct fmt_scratch *scratch, struct inspect_report *r)
{
	(void)in;
	(void)scratch;
	banned(r, "bochs images are not accepted");
}

const struct fmt_recogniser bochs_recogniser = {INSPECT_FMT_BOCHS, bochs_match, bochs_check};

/* cloop: a shell script preamble naming cloop at 0. */
static int cloop_match(const struct inspect_input *in)
{
	return head_has(in, 0, "#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n",
			83);
}

static void cloop_check(const struct inspect_input *in, const struct fmt_scratch *scratch, struct inspect_report *r)
{
	(void)in;
	(void)scratch;
	banned(r, "cloop images are not accepted");
}

const struct fmt_recogniser cloop_recogniser = {INSPECT_FMT_CLOOP, cloop_match, cloop_check};

/* dmg: a "koly" trailer (magic, version 4, header size 512) in the last
 * 512 bytes. */
#define DMG_TRAILER 512u

static int koly_at(const uint8_t *p)
{
	return p[0] == 'k' && p[1] == 'o' && p[2] == 'l' && p[3] == 'y' && get_be32(p + 4) == 4 &&
	       get_be32(p + 8) == DMG_TRAILER;
}

/* The one read a match makes outside the head: a file larger than the
 * head is asked for exactly its last DMG_TRAILER bytes, in one request
 * into a buffer of that size; a smaller file is all in the head. */
static int dmg_match(const struct inspect_input *in)
{
	uint8_t tail[DMG_TRAILER];
	uint64_t size = in->src->size;
	if (size < DMG_TRAILER)
		return 0;
	if (size <= in->head_len)
		return koly_at(in->head + (uint32_t)size - DMG_TRAILER);
	if (in->src->read(in->src->ctx, size - DMG_TRAILER, tail, DMG_TRAILER) != 0)
		return 0;
	return koly_at(tail);
}

static void dmg_check(const struct inspect_input *in, const struct fmt_scratch *scratch, struct inspect_report *r)
{
	(void)in;
	(void)scratch;
	banned(r, "dmg images are not accepted");
}

const struct fmt_recogniser dmg_recogniser = {INSPECT_FMT_DMG, dmg_match, dmg_check};
