/*
 * qcow2: the planner that writes exactly the image qemu-img 7.2
 * `create -f qcow2` writes, and the header parser for qcow2 backing files.
 *
 * Planner
 * -------
 * The planner writes every byte qemu-img writes (header cluster, refcount
 * table and blocks, L1 and L2 tables, stale copies of refcount tables
 * qemu replaced, the zeros of its copy-on-write of a partial last
 * cluster), through the sink, in writes of at most MAX_TRANSFER bytes, and
 * nothing else: regions qemu never writes stay holes, so the allocated
 * size matches too. The sink's file must start empty (all zeros, length
 * 0). Offsets are not ascending across the whole plan (it runs in passes),
 * but a byte may be written more than once only where qemu also wrote it
 * more than once; the last write is final.
 *
 * After the writes the host must:
 *  1. PREALLOC_FALLOC: fallocate(fd, 0, area.start, area.end - area.start);
 *     PREALLOC_FULL: write zeros over [area.start, area.end) (this is what
 *     qemu's file driver does: it fills from the old end of file, which
 *     is area.start, to the new one). The area is the plan result's
 *     prealloc_start and prealloc_end; it is empty for the other modes.
 *  2. Set the file length to res->file_size[0] (ftruncate; for
 *     PREALLOC_METADATA this extends the file over unwritten data
 *     clusters, as qemu does).
 *  3. With an external data file (output 1, which the planner writes
 *     only copy-on-write zeros to): grow it to res->file_size[1] as
 *     qemu's file driver grows a file: nothing if the writes made it that
 *     long; else set the length and, if it was empty and the mode is off
 *     or metadata, write its first 4 KiB of zeros; falloc and full
 *     preallocate the growth. The image's own area is then empty.
 * Nothing else: no other zero-filling, no discard.
 *
 * Memory: the planner keeps constant-size state whatever the virtual size
 * (interval sets instead of per-cluster tables) and uses at most
 * the scratch it is given; it needs QCOW2_MIN_SCRATCH. More scratch means
 * fewer passes for very large refcount tables (up to 1 MiB is used for the
 * write buffer, the rest for refcount-table windows and L1 chunks).
 */
#ifndef FORMAT_QCOW2_H
#define FORMAT_QCOW2_H

#include <stdint.h>

#include "format.h"

/* The least scratch the planner accepts. */
#define QCOW2_MIN_SCRATCH (256u * 1024u)

/*
 * The planner (qcow2_driver.plan) honours FLAG_COMPAT_V3, FLAG_EXTENDED_L2,
 * FLAG_LAZY_REFCOUNTS, FLAG_COMPRESSION_ZSTD, qcow2_cluster_size,
 * qcow2_refcount_bits (0: their defaults), preallocation, backing_file,
 * backing_format, data_file and FLAG_DATA_FILE_RAW (the data file is
 * output 1). Besides CREATE_ERR_OK it returns
 * CREATE_ERR_INVALID_OPTION for what qemu-img refuses as options;
 * CREATE_ERR_INVALID_SIZE when the size is too large for the cluster size
 * (the L1 table would exceed 32 MiB); CREATE_ERR_BACKING_TOO_LONG when the
 * backing name is over 1023 bytes or does not fit in the header cluster;
 * CREATE_ERR_SCRATCH_TOO_SMALL; CREATE_ERR_WRITE_FAILED at the first sink
 * error. unit_size is the cluster size; output 0, and output 1 with a
 * data file.
 */

/*
 * Parses a qcow2 backing file's header: version 2 or 3, a header length
 * that fits, cluster_bits 9..21, a size below 2^63, an L1 table and a
 * refcount table inside sane bounds, a backing name inside the header
 * cluster. Sets out->format = FORMAT_QCOW2 and out->virtual_size.
 * Returns CREATE_ERR_OK, CREATE_ERR_BACKING_READ_FAILED, or
 * CREATE_ERR_BACKING_PARSE. Uses no scratch (scratch may be NULL).
 */
uint32_t qcow2_parse(const struct fmt_source *src, const struct fmt_scratch *scratch,
		     struct backing_info *out);

/* The driver's probe: "QFI\xfb", version 2 or later. */
int qcow2_probe(const uint8_t *buf, uint32_t len);

#endif
