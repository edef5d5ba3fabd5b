/*
 * qcow2 options as qemu-img 7.2 validates them, and the geometry that
 * follows from them. Internal to the qcow2 planner.
 */
#ifndef FORMAT_QCOW2_GEOM_H
#define FORMAT_QCOW2_GEOM_H

#include <stdbool.h>
#include <stdint.h>

#include "instar/shared.h"

/* QCOW_MAX_L1_SIZE / 8: qemu refuses larger L1 tables with EFBIG, which
 * qemu-img reports as "The image size is too large for file format". */
#define Q2_MAX_L1_ENTRIES (4u << 20)
/* QCOW_MAX_REFTABLE_SIZE as qemu compares it: against entry counts. */
#define Q2_MAX_REFTABLE_ENTRIES (8u << 20)
/* BDRV_REQUEST_MAX_BYTES: the most one block-layer request may cover. */
#define Q2_REQUEST_MAX_BYTES 2147483136u
/* INT_MAX: preallocation walks the disk in requests of at most this. */
#define Q2_INT_MAX 2147483647u

struct q2_geom {
	uint32_t version;        /* 2 (compat 0.10) or 3 (compat 1.1) */
	uint32_t cluster_bits;
	uint64_t cs;             /* cluster size in bytes */
	uint32_t subcluster_bits;
	uint32_t refcount_order; /* log2 of refcount_bits */
	uint32_t rb_bits;        /* log2 of refcounts per refcount block */
	uint32_t l2e_size;       /* 8, or 16 with extended L2 entries */
	uint32_t l2_bits;        /* log2 of entries per L2 table */
	bool extended_l2, lazy_refcounts, zstd;
	uint32_t prealloc;       /* PREALLOC_* */
	uint64_t vsize;          /* bytes, rounded up to 512 like qemu-img */
	uint64_t l1_size;        /* L1 entries */
	const uint8_t *backing;  /* NULL when there is no backing file */
	uint32_t backing_len;
	uint32_t backing_format; /* FORMAT_*; FORMAT_UNSET writes no extension */
	/* External data file: its name as the header records it (NULL when
	 * there is none), and data_file_raw. With a data file, prealloc is
	 * what the image gets: falloc and full are metadata there, their
	 * data is the data file's (the host's). */
	const uint8_t *data_file;
	uint32_t data_file_len;
	bool data_file_raw;
};

/* Fills g from cfg and the virtual size, or returns the CREATE_ERR_* that
 * qemu-img's refusal corresponds to. */
/* On a refusal, *reason (when reason is not NULL) is qemu-img's message. */
uint32_t q2_geom_init(const struct create_config *cfg, uint64_t virtual_size, struct q2_geom *g,
		     const char **reason);

#endif
