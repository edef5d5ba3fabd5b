/* VHD on-disk layout shared by the vpc planner and parser (VHD spec,
 * "Hard Disk Footer Format" and "Dynamic Disk Header Format"). */
#ifndef FORMAT_VPC_INTERNAL_H
#define FORMAT_VPC_INTERNAL_H

#include <stdint.h>

#define VPC_FOOTER_SIZE 512u
#define VPC_DYN_HEADER_SIZE 1024u
#define VPC_SECTOR 512u

/* Footer fields (big-endian). */
#define VPC_F_COOKIE 0
#define VPC_F_FEATURES 8
#define VPC_F_VERSION 12
#define VPC_F_DATA_OFFSET 16
#define VPC_F_TIMESTAMP 24
#define VPC_F_CREATOR_APP 28
#define VPC_F_CREATOR_VERSION 32
#define VPC_F_CREATOR_OS 36
#define VPC_F_ORIGINAL_SIZE 40
#define VPC_F_CURRENT_SIZE 48
#define VPC_F_GEOMETRY 56
#define VPC_F_DISK_TYPE 60
#define VPC_F_CHECKSUM 64
#define VPC_F_UUID 68
#define VPC_F_SAVED_STATE 84

/* Dynamic header fields (big-endian). */
#define VPC_D_COOKIE 0
#define VPC_D_DATA_OFFSET 8
#define VPC_D_TABLE_OFFSET 16
#define VPC_D_VERSION 24
#define VPC_D_MAX_ENTRIES 28
#define VPC_D_BLOCK_SIZE 32
#define VPC_D_CHECKSUM 36

#define VPC_DISK_FIXED 2u
#define VPC_DISK_DYNAMIC 3u

/* The largest CHS geometry the footer can hold, and qemu's size cap. */
#define VPC_CHS_MAX_SECTORS (65535ull * 16 * 255)
#define VPC_MAX_SECTORS (2040ull * 1024 * 1024 * 1024 / VPC_SECTOR)

/* VHD timestamps count seconds from 2000-01-01 00:00:00 UTC. */
#define VPC_EPOCH_OFFSET 946684800ull

struct vpc_geometry {
	uint16_t cylinders;
	uint8_t heads;
	uint8_t sectors_per_track;
};

/* The VHD spec's CHS for total_sectors, as qemu computes it (it switches to
 * 255 sectors per track from 65535*16*63 sectors on, where the spec would
 * leave the geometry short). */
struct vpc_geometry vpc_chs_for(uint64_t total_sectors);

/* Rounds a requested sector count up to what qemu-img stores without
 * force_size: the smallest CHS geometry covering it, or, past the largest
 * geometry, the request itself. Sets *geo to the geometry to record. */
uint64_t vpc_round_sectors(uint64_t requested, struct vpc_geometry *geo);

/* The one's complement of the byte sum with the checksum field counted as
 * zero: the checksum of both footer and dynamic header. */
uint32_t vpc_checksum(const uint8_t *p, uint32_t len, uint32_t checksum_offset);

#endif
