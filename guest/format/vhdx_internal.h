/* VHDX on-disk layout shared by the planner and parser ([MS-VHDX] 2.2). All
 * fields are little-endian; GUIDs are stored in their mixed-endian on-disk
 * byte order. */
#ifndef FORMAT_VHDX_INTERNAL_H
#define FORMAT_VHDX_INTERNAL_H

#include <stdint.h>

#define VHDX_KIB 1024ull
#define VHDX_MIB (1024ull * 1024)
#define VHDX_TIB (1024ull * 1024 * 1024 * 1024)

/* qemu's block layer refuses (EIO) a read longer than
 * BDRV_REQUEST_MAX_BYTES or ending past BDRV_MAX_LENGTH. */
#define VHDX_BDRV_REQUEST_MAX 0x7ffffe00ull
#define VHDX_BDRV_MAX_LENGTH 0x7fffffffc0000000ull

/* Fixed structures of the first megabyte. */
#define VHDX_FILE_ID_OFFSET 0
#define VHDX_HEADER1_OFFSET (64 * VHDX_KIB)
#define VHDX_HEADER2_OFFSET (128 * VHDX_KIB)
#define VHDX_HEADER_SIZE (4 * VHDX_KIB)
#define VHDX_REGION1_OFFSET (192 * VHDX_KIB)
#define VHDX_REGION2_OFFSET (256 * VHDX_KIB)
#define VHDX_REGION_SIZE (64 * VHDX_KIB)
#define VHDX_LOG_OFFSET VHDX_MIB

/* Header fields. */
#define VHDX_H_SIGNATURE 0
#define VHDX_H_CHECKSUM 4
#define VHDX_H_SEQUENCE 8
#define VHDX_H_FILE_WRITE_GUID 16
#define VHDX_H_DATA_WRITE_GUID 32
#define VHDX_H_LOG_GUID 48
#define VHDX_H_LOG_VERSION 64
#define VHDX_H_VERSION 66
#define VHDX_H_LOG_LENGTH 68
#define VHDX_H_LOG_OFFSET 72
#define VHDX_H_USED 80 /* bytes of the header qemu writes; the rest is zero */

/* Region table: 16-byte header, then 32-byte entries. */
#define VHDX_R_SIGNATURE 0
#define VHDX_R_CHECKSUM 4
#define VHDX_R_COUNT 8
#define VHDX_R_ENTRIES 16
#define VHDX_R_ENTRY_SIZE 32
#define VHDX_R_MAX_ENTRIES 2047u

/* Metadata table: 32-byte header, then 32-byte entries; the items follow
 * the 64 KiB table. */
#define VHDX_M_SIGNATURE 0
#define VHDX_M_COUNT 10
#define VHDX_M_ENTRIES 32
#define VHDX_M_ENTRY_SIZE 32
#define VHDX_M_MAX_ENTRIES 2047u
#define VHDX_M_TABLE_SIZE (64 * VHDX_KIB)
#define VHDX_META_REGION_SIZE VHDX_MIB
#define VHDX_M_FLAG_IS_USER 1u
#define VHDX_M_FLAG_IS_VIRTUAL_DISK 2u
#define VHDX_M_FLAG_IS_REQUIRED 4u

/* File parameters flags. */
#define VHDX_FP_LEAVE_BLOCKS_ALLOCATED 1u
#define VHDX_FP_HAS_PARENT 2u

/* BAT entry states (low 3 bits); the file offset in MiB is bits 20..63. */
#define VHDX_BAT_NOT_PRESENT 0u
#define VHDX_BAT_UNDEFINED 1u
#define VHDX_BAT_ZERO 2u
#define VHDX_BAT_UNMAPPED 3u
#define VHDX_BAT_FULLY_PRESENT 6u
#define VHDX_BAT_PARTIALLY_PRESENT 7u
#define VHDX_BAT_OFFSET_MASK 0xFFFFFFFFFFF00000ull

#define VHDX_MAX_SIZE (64 * VHDX_TIB)
#define VHDX_MIN_BLOCK VHDX_MIB
#define VHDX_MAX_BLOCK (256 * VHDX_MIB)
#define VHDX_SECTOR 512u

/* Known GUIDs, in on-disk byte order. */
extern const uint8_t vhdx_guid_bat[16];
extern const uint8_t vhdx_guid_metadata[16];
extern const uint8_t vhdx_guid_file_parameters[16];
extern const uint8_t vhdx_guid_virtual_disk_size[16];
extern const uint8_t vhdx_guid_page83[16];
extern const uint8_t vhdx_guid_logical_sector[16];
extern const uint8_t vhdx_guid_physical_sector[16];
extern const uint8_t vhdx_guid_parent_locator[16];

/* Where everything goes in a new image. */
struct vhdx_layout {
	uint64_t size;        /* virtual size, a multiple of 512 */
	uint32_t block_size;
	uint32_t log_size;
	uint32_t chunk_ratio; /* payload blocks per sector bitmap block */
	uint32_t data_blocks;
	uint32_t bat_entries; /* payload and sector bitmap entries */
	uint64_t bat_offset;
	uint64_t bat_length;
	uint64_t meta_offset;
	uint64_t data_offset; /* first payload block */
	uint64_t file_size;
};

/* Chooses block size, log size and region placement as qemu-img 7.2 does;
 * CREATE_ERR_OK, CREATE_ERR_INVALID_OPTION or CREATE_ERR_INVALID_SIZE. */
uint32_t vhdx_layout_for(uint64_t virtual_size, uint32_t block_size, uint32_t log_size,
			 int fixed, struct vhdx_layout *l, const char **reason);

#endif
