/*
 * vdi (VirtualBox): recognised by its signature, and refused with qemu
 * 7.2's words when vdi_open would refuse it. qemu reads the first 512
 * bytes as the header (zeros past the end of a shorter file) and checks,
 * in this order: the disk size against its maximum (after which a size
 * that is not a multiple of 512 is rounded up), the version (1.1), the
 * block map and data offsets (sector aligned), the sector size (512),
 * the block size (1 MiB), the disk size against the blocks in the image,
 * the link and parent UUIDs (null), and the number of blocks. It does
 * not check the header size, image type, flags or the count of
 * allocated blocks, and reads the block map zero-padded wherever it is;
 * neither does inspect.
 */
#include "endian.h"
#include "inspect.h"

#define VDI_SIGNATURE 0xbeda107fu
#define VDI_VERSION_1_1 0x00010001u
#define VDI_HEADER 512u
#define VDI_SECTOR 512u
#define VDI_BLOCK (1u << 20)
/* qemu 7.2's bounds: the block map is at most INT_MAX bytes rounded to
 * a sector's worth of entries, and the disk at most that many blocks. */
#define VDI_BLOCKS_MAX 0x1fffff80u
#define VDI_DISK_MAX ((uint64_t)VDI_BLOCKS_MAX * VDI_BLOCK)

/* Header fields (little-endian). */
#define VDI_H_SIGNATURE 0x40u
#define VDI_H_VERSION 0x44u
#define VDI_H_OFFSET_BMAP 0x154u
#define VDI_H_OFFSET_DATA 0x158u
#define VDI_H_SECTOR_SIZE 0x168u
#define VDI_H_DISK_SIZE 0x170u
#define VDI_H_BLOCK_SIZE 0x178u
#define VDI_H_BLOCKS 0x180u
#define VDI_H_UUID_LINK 0x1a8u
#define VDI_H_UUID_PARENT 0x1b8u

static int vdi_match(const struct inspect_input *in)
{
	return in->head_len >= VDI_H_SIGNATURE + 4 && get_le32(in->head + VDI_H_SIGNATURE) == VDI_SIGNATURE;
}

static int uuid_null(const uint8_t *u)
{
	for (int i = 0; i < 16; i++)
		if (u[i] != 0)
			return 0;
	return 1;
}

/* "unsupported VDI image (" prefix + text + value in hex or decimal. */
static void vdi_refuse(struct inspect_report *r, const char *what, uint64_t v, int hex, const char *rest)
{
	struct inspect_reason w = {.n = 0};
	inspect_reason_add(&w, "unsupported VDI image (");
	inspect_reason_add(&w, what);
	if (hex)
		inspect_reason_hex(&w, v);
	else
		inspect_reason_num(&w, v);
	inspect_reason_add(&w, rest);
	inspect_fail(r, INSPECT_CHECK_OPEN, w.b);
}

static void vdi_check(const struct inspect_input *in, const struct fmt_scratch *scratch, struct inspect_report *r)
{
	(void)scratch;
	uint8_t h[VDI_HEADER];
	uint32_t n = in->head_len < VDI_HEADER ? in->head_len : VDI_HEADER;
	for (uint32_t i = 0; i < VDI_HEADER; i++)
		h[i] = i < n ? in->head[i] : 0;
	uint64_t disk = get_le64(h + VDI_H_DISK_SIZE);
	uint32_t version = get_le32(h + VDI_H_VERSION), bmap = get_le32(h + VDI_H_OFFSET_BMAP);
	uint32_t data = get_le32(h + VDI_H_OFFSET_DATA), sector = get_le32(h + VDI_H_SECTOR_SIZE);
	uint32_t block = get_le32(h + VDI_H_BLOCK_SIZE), blocks = get_le32(h + VDI_H_BLOCKS);
	if (disk > VDI_DISK_MAX) {
		struct inspect_reason w = {.n = 0};
		inspect_reason_add(&w, "Unsupported VDI image size (size is 0x");
		inspect_reason_hex(&w, disk);
		inspect_reason_add(&w, ", max supported is 0x");
		inspect_reason_hex(&w, VDI_DISK_MAX);
		inspect_reason_add(&w, ")");
		inspect_fail(r, INSPECT_CHECK_OPEN, w.b);
		return;
	}
	/* disk <= VDI_DISK_MAX < 2^50: rounding up cannot overflow. */
	disk = (disk + VDI_SECTOR - 1) & ~(uint64_t)(VDI_SECTOR - 1);
	uint64_t room = (uint64_t)blocks * block;
	if (version != VDI_VERSION_1_1) {
		struct inspect_reason w = {.n = 0};
		inspect_reason_add(&w, "unsupported VDI image (version ");
		inspect_reason_num(&w, version >> 16);
		inspect_reason_add(&w, ".");
		inspect_reason_num(&w, version & 0xffffu);
		inspect_reason_add(&w, ")");
		inspect_fail(r, INSPECT_CHECK_OPEN, w.b);
	} else if (bmap % VDI_SECTOR != 0) {
		vdi_refuse(r, "unaligned block map offset 0x", bmap, 1, ")");
	} else if (data % VDI_SECTOR != 0) {
		vdi_refuse(r, "unaligned data offset 0x", data, 1, ")");
	} else if (sector != VDI_SECTOR) {
		vdi_refuse(r, "sector size ", sector, 0, " is not 512)");
	} else if (block != VDI_BLOCK) {
		vdi_refuse(r, "block size ", block, 0, " is not 1048576)");
	} else if (disk > room) {
		struct inspect_reason w = {.n = 0};
		inspect_reason_add(&w, "unsupported VDI image (disk size ");
		inspect_reason_num(&w, disk);
		inspect_reason_add(&w, ", image bitmap has room for ");
		inspect_reason_num(&w, room);
		inspect_reason_add(&w, ")");
		inspect_fail(r, INSPECT_CHECK_OPEN, w.b);
		inspect_fail(r, INSPECT_CHECK_VIRTUAL_SIZE, "virtual size is beyond what the image's block map maps");
	} else if (!uuid_null(h + VDI_H_UUID_LINK)) {
		inspect_fail(r, INSPECT_CHECK_OPEN, "unsupported VDI image (non-NULL link UUID)");
	} else if (!uuid_null(h + VDI_H_UUID_PARENT)) {
		inspect_fail(r, INSPECT_CHECK_OPEN, "unsupported VDI image (non-NULL parent UUID)");
		inspect_fail(r, INSPECT_CHECK_BACKING_FILE, "image is a differencing vdi with a parent");
	} else if (blocks > VDI_BLOCKS_MAX) {
		vdi_refuse(r, "too many blocks ", blocks, 0, ", max is 536870784)");
	} else {
		r->has_virtual_size = 1;
		r->virtual_size = disk;
	}
}

const struct fmt_recogniser vdi_recogniser = {INSPECT_FMT_VDI, vdi_match, vdi_check};
