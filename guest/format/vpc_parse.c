/*
 * The VHD backing-file parser. It accepts what qemu 7.2's vpc driver opens,
 * refuses the rest with vpc_open's words (for info and inspect), and
 * reports the virtual size `qemu-img info` shows (observed rules):
 *  - the file's length counts in whole sectors (qemu rounds it up), and
 *    bytes read past the end are zeros;
 *  - a footer at offset 0 means a dynamic image (its dynamic header is then
 *    always read, whatever the disk type says); otherwise the footer must be
 *    in the last sector and say "fixed";
 *  - the footer checksum must match;
 *  - the size is cylinders*heads*sectors, unless the creator is one known to
 *    write exact sizes ("win ", "qem2", "d2v ", "CTXS", "tap\0") or the
 *    geometry is the largest (65535/16/255): then it is the current size;
 *  - at most 2040 GiB;
 *  - dynamic: "cxsparse" header, block size a power of two >= 512, at most
 *    2^29-1 BAT entries covering the size, BAT and every allocated block
 *    (with its bitmap) inside the file.
 */
#include "vpc.h"

#include "detect.h"
#include "endian.h"
#include "instar/mem.h"
#include "read_padded.h"
#include "vpc_internal.h"
#include "info.h"

#define VPC_MAX_TABLE_ENTRIES 0x1FFFFFFFu

static int creator_gives_exact_size(const uint8_t *app)
{
	static const char exact[][4] = { "win ", "qem2", "d2v ", "CTXS", { 't', 'a', 'p', 0 } };
	for (uint32_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
		if (memcmp(app, exact[i], 4) == 0)
			return 1;
	}
	return 0;
}

/* Refuses the image: qemu's words go to why (when there is one). */
static uint32_t refuse(struct fmt_info *why, const char *reason)
{
	if (why)
		why->reason = reason;
	return CREATE_ERR_BACKING_PARSE;
}

static const char truncated[] =
	"block-vpc: free_data_block_offset points after the end of file. The image has been truncated.";

/* Ends of allocated blocks must stay inside the file; so must the BAT
 * (qemu reads it zero-padded, then finds the end of its last block, at
 * least the BAT's end, past the file's). */
static uint32_t scan_bat(const struct fmt_source *src, const struct fmt_scratch *scratch,
			 uint64_t table_offset, uint32_t entries, uint32_t block_size, struct fmt_info *why)
{
	uint64_t bitmap = ((uint64_t)block_size / VPC_SECTOR / 8 + VPC_SECTOR - 1) / VPC_SECTOR *
			  VPC_SECTOR;
	uint64_t table_bytes = (uint64_t)entries * 4;
	uint64_t len = padded_length(src);
	if (table_offset > len || table_bytes > len - table_offset)
		return refuse(why, truncated);
	uint64_t table_end = (table_offset + table_bytes + VPC_SECTOR - 1) / VPC_SECTOR * VPC_SECTOR;
	if (table_end > len)
		return refuse(why, truncated);

	uint32_t chunk = scratch->size < MAX_TRANSFER ? (uint32_t)scratch->size : MAX_TRANSFER;
	chunk &= ~3u;
	uint64_t done = 0;
	while (done < table_bytes) {
		uint32_t n = table_bytes - done < chunk ? (uint32_t)(table_bytes - done) : chunk;
		if (read_padded(src, table_offset + done, scratch->buf, n) != 0)
			return refuse(why, "Error reading pagetable");
		for (uint32_t i = 0; i < n; i += 4) {
			uint32_t e = get_be32(scratch->buf + i);
			if (e == 0xFFFFFFFFu)
				continue;
			/* e*512 < 2^41 and bitmap+block < 2^33: no overflow. */
			uint64_t end = (uint64_t)e * VPC_SECTOR + bitmap + block_size;
			if (end > len)
				return refuse(why, truncated);
		}
		done += n;
	}
	return CREATE_ERR_OK;
}

/* qemu's checks of the dynamic header, in its order. */
static uint32_t check_dynamic(const struct fmt_source *src, const struct fmt_scratch *scratch,
			      const uint8_t *footer, uint64_t sectors, struct fmt_info *why)
{
	uint8_t *h = scratch->buf;
	uint64_t off = get_be64(footer + VPC_F_DATA_OFFSET);
	if (read_padded(src, off, h, VPC_DYN_HEADER_SIZE) != 0)
		return refuse(why, "Error reading dynamic VHD header");
	if (memcmp(h + VPC_D_COOKIE, "cxsparse", 8) != 0)
		return refuse(why, "Invalid header magic");
	uint32_t block_size = get_be32(h + VPC_D_BLOCK_SIZE);
	if (block_size < VPC_SECTOR || (block_size & (block_size - 1)) != 0) {
		if (why)
			info_fail_num(why, "Invalid block size ", block_size, INFO_NUM_UNSIGNED);
		return CREATE_ERR_BACKING_PARSE;
	}
	uint32_t entries = get_be32(h + VPC_D_MAX_ENTRIES);
	/* entries < 2^32 and block_size <= 2^31: the product fits 64 bits. */
	if ((uint64_t)entries * block_size < sectors * VPC_SECTOR)
		return refuse(why, "Page table too small");
	if (entries > VPC_MAX_TABLE_ENTRIES) {
		if (why) {
			info_fail_num(why, "Max Table Entries too large (", entries, INFO_NUM_SIGNED32);
			/* info_fail_num leaves room for its number and more. */
			uint32_t n = 0;
			while (why->reason_buf[n] != 0)
				n++;
			if (n + 1 < sizeof why->reason_buf) {
				why->reason_buf[n] = ')';
				why->reason_buf[n + 1] = 0;
			}
		}
		return CREATE_ERR_BACKING_PARSE;
	}
	uint32_t e = scan_bat(src, scratch, get_be64(h + VPC_D_TABLE_OFFSET), entries, block_size, why);
	if (e != CREATE_ERR_OK && why && !why->reason)
		why->reason = truncated;
	return e;
}

/* qemu 7.2's vpc_open checks, in its order, with its words in why (when
 * there is one): the parse for create's backing files and for info. */
static uint32_t vpc_open(const struct fmt_source *src, const struct fmt_scratch *scratch,
			 struct backing_info *out, struct fmt_info *why)
{
	uint8_t footer[VPC_FOOTER_SIZE];
	int dynamic = 1;

	if (scratch->buf == 0 || scratch->size < VPC_MIN_SCRATCH || src->size > READ_PADDED_MAX_SIZE)
		return CREATE_ERR_BACKING_PARSE;
	if (src->size == 0)
		return refuse(why, "File too small for a VHD header");
	if (read_padded(src, 0, footer, VPC_FOOTER_SIZE) != 0)
		return refuse(why, "Unable to read VHD header");
	if (memcmp(footer + VPC_F_COOKIE, "conectix", 8) != 0) {
		dynamic = 0;
		if (padded_length(src) < VPC_FOOTER_SIZE)
			return refuse(why, "File too small for a VHD header");
		if (read_padded(src, padded_length(src) - VPC_FOOTER_SIZE, footer, VPC_FOOTER_SIZE) != 0)
			return CREATE_ERR_BACKING_PARSE;
		if (memcmp(footer + VPC_F_COOKIE, "conectix", 8) != 0 ||
		    get_be32(footer + VPC_F_DISK_TYPE) != VPC_DISK_FIXED)
			return refuse(why, "invalid VPC image");
	}
	if (get_be32(footer + VPC_F_CHECKSUM) !=
	    vpc_checksum(footer, VPC_FOOTER_SIZE, VPC_F_CHECKSUM))
		return refuse(why, "Incorrect header checksum");

	uint64_t sectors = (uint64_t)get_be16(footer + VPC_F_GEOMETRY) *
			   footer[VPC_F_GEOMETRY + 2] * footer[VPC_F_GEOMETRY + 3];
	if (creator_gives_exact_size(footer + VPC_F_CREATOR_APP) || sectors == VPC_CHS_MAX_SECTORS)
		sectors = get_be64(footer + VPC_F_CURRENT_SIZE) / VPC_SECTOR;
	/* qemu returns -EFBIG without a message of its own. */
	if (sectors > VPC_MAX_SECTORS)
		return refuse(why, "File too large");
	if (dynamic) {
		uint32_t err = check_dynamic(src, scratch, footer, sectors, why);
		if (err != CREATE_ERR_OK)
			return err;
	}
	out->format = FORMAT_VPC;
	out->virtual_size = sectors * VPC_SECTOR;
	return CREATE_ERR_OK;
}

uint32_t vpc_parse(const struct fmt_source *src, const struct fmt_scratch *scratch,
		   struct backing_info *out)
{
	return vpc_open(src, scratch, out, 0);
}

/* "conectix" at offset 0 only: qemu probes a fixed VHD, whose only footer
 * is at the end, as raw. */
int vpc_probe(const uint8_t *b, uint32_t n)
{
	return probe_has(b, n, 0, "conectix", 8) ? PROBE_MATCH : 0;
}

/* Marks a refused dynamic image whose block table cannot map its size
 * (inspect's virtual_size check). */
static void vpc_size_check(const struct fmt_source *src, struct fmt_info *out)
{
	uint8_t footer[VPC_FOOTER_SIZE], dyn[VPC_DYN_HEADER_SIZE];
	if (src->size < VPC_FOOTER_SIZE || read_padded(src, 0, footer, VPC_FOOTER_SIZE) != 0 ||
	    memcmp(footer + VPC_F_COOKIE, "conectix", 8) != 0 ||
	    read_padded(src, get_be64(footer + VPC_F_DATA_OFFSET), dyn, sizeof dyn) != 0 ||
	    memcmp(dyn + VPC_D_COOKIE, "cxsparse", 8) != 0)
		return;
	uint64_t sectors = (uint64_t)get_be16(footer + VPC_F_GEOMETRY) * footer[VPC_F_GEOMETRY + 2] *
			   footer[VPC_F_GEOMETRY + 3];
	if (creator_gives_exact_size(footer + VPC_F_CREATOR_APP) || sectors == VPC_CHS_MAX_SECTORS)
		sectors = get_be64(footer + VPC_F_CURRENT_SIZE) / VPC_SECTOR;
	uint64_t entries = get_be32(dyn + VPC_D_MAX_ENTRIES), block = get_be32(dyn + VPC_D_BLOCK_SIZE);
	if (sectors > VPC_MAX_SECTORS || entries > VPC_MAX_TABLE_ENTRIES || entries * block < sectors * VPC_SECTOR)
		out->inspect_checks |= 1u << INSPECT_CHECK_VIRTUAL_SIZE;
}

/* qemu's vpc_get_info: a dynamic image's block size is its cluster size;
 * a fixed one has none. */
uint32_t vpc_info(const struct fmt_source *src, const struct fmt_scratch *scratch, const struct info_sink *sink,
		  struct fmt_info *out)
{
	(void)sink;
	struct backing_info b = {0};
	out->reason = 0;
	uint32_t err = vpc_open(src, scratch, &b, out);
	if (err == CREATE_ERR_BACKING_READ_FAILED)
		return INFO_ERR_READ_FAILED;
	if (err != CREATE_ERR_OK) {
		vpc_size_check(src, out);
		if (!out->reason)
			out->reason = "the image is not a valid vpc image";
		return INFO_ERR_INVALID;
	}
	uint8_t footer[VPC_FOOTER_SIZE], dyn[64];
	if (read_padded(src, 0, footer, VPC_FOOTER_SIZE) != 0)
		return INFO_ERR_READ_FAILED;
	if (memcmp(footer + VPC_F_COOKIE, "conectix", 8) == 0 &&
	    get_be32(footer + VPC_F_DISK_TYPE) != VPC_DISK_FIXED) {
		if (read_padded(src, get_be64(footer + VPC_F_DATA_OFFSET), dyn, sizeof dyn) != 0)
			return INFO_ERR_READ_FAILED;
		out->has_cluster_size = 1;
		out->cluster_size = get_be32(dyn + VPC_D_BLOCK_SIZE);
	}
	out->format = FORMAT_VPC;
	out->virtual_size = b.virtual_size;
	return INFO_ERR_OK;
}
