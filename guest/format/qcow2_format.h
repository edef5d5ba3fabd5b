/*
 * qcow2's on-disk numbers and the bounds qemu 7.2 puts on a header when it
 * opens an image (block/qcow2.h), for the writer, the backing-file parser
 * and info alike.
 */
#ifndef FORMAT_QCOW2_FORMAT_H
#define FORMAT_QCOW2_FORMAT_H

#include <stdint.h>

#define QCOW_MAGIC 0x514649fbu /* "QFI\xfb" */

#define QCOW2_V2_HEADER_LEN 72u     /* up to incompatible_features */
#define QCOW2_V3_MIN_HEADER_LEN 104u /* the least header_length of a version 3 */
#define QCOW2_HEADER_SIZE 112u      /* sizeof(QCowHeader): with compression_type, padded */

#define QCOW2_INCOMPAT_DIRTY 0x1u
#define QCOW2_INCOMPAT_CORRUPT 0x2u
#define QCOW2_INCOMPAT_DATA_FILE 0x4u
#define QCOW2_INCOMPAT_COMPRESSION 0x8u
#define QCOW2_INCOMPAT_EXTL2 0x10u
#define QCOW2_INCOMPAT_MASK 0x1fu
#define QCOW2_COMPAT_LAZY_REFCOUNTS 0x1u
#define QCOW2_AUTOCLEAR_BITMAPS 0x1u
#define QCOW2_AUTOCLEAR_DATA_FILE_RAW 0x2u

/* Header extensions. */
#define QCOW2_EXT_END 0u
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_EXT_FEATURE_TABLE 0x6803f857u
#define QCOW2_EXT_CRYPTO 0x0537be77u
#define QCOW2_EXT_BITMAPS 0x23852875u
#define QCOW2_EXT_DATA_FILE 0x44415441u /* "DATA" */

/* qemu's open-time bounds. */
#define QCOW2_MAX_L1_BYTES (UINT64_C(32) << 20)
#define QCOW2_MAX_REFTABLE_BYTES (UINT64_C(8) << 20)
#define QCOW2_MAX_SNAPSHOTS 65536u
#define QCOW2_SNAPSHOT_HEADER 40u /* a snapshot table entry's fixed part */
#define QCOW2_MAX_SNAPSHOT_EXTRA 1024u
#define QCOW2_MAX_SNAPSHOTS_BYTES (UINT64_C(64) << 20)
#define QCOW2_MAX_BITMAPS 65535u
#define QCOW2_BITMAP_ENTRY 24u /* a bitmap directory entry's fixed part */
#define QCOW2_MAX_BITMAP_DIR ((uint64_t)1024 * QCOW2_MAX_BITMAPS)

#endif
