/*
 * A model of how qemu-img 7.2 allocates clusters while it creates a qcow2
 * image: header and first refcount structures, the L1 table, then the
 * preallocation modes. qemu grows its refcount table, places refcount
 * blocks and leaves holes in ways that depend on the exact order of its
 * allocations, so this replays that order (first-fit search from a moving
 * free_cluster_index, "try again" after a new refcount block, refcount
 * areas placed past the end) over an interval set instead of per-cluster
 * state: memory stays constant whatever the image size.
 *
 * The model only decides where things go. What is written is reported
 * through hooks, so the planner can run it several times and keep only
 * what each pass needs.
 */
#ifndef FORMAT_QCOW2_SIM_H
#define FORMAT_QCOW2_SIM_H

#include <stdint.h>

#include "qcow2_geom.h"
#include "qcow2_runset.h"

/* Results inside the model. */
enum {
	Q2_OK = 0,
	Q2_AGAIN = 1,      /* qemu's -EAGAIN: a refcount block was added, retry */
	Q2_EFBIG = -1,     /* qemu's -EFBIG: the image is too large */
	Q2_EHOOK = -2,     /* a hook failed (a write) */
	Q2_EMODEL = -3,    /* an interval set overflowed: never expected */
};

/* Hooks return 0, or non-zero to stop the model. Clusters are indices. */
struct q2_hooks {
	/* Refcount block for table index idx lives at cluster c and is now in
	 * the refcount table that is on disk. */
	int (*refblock)(void *ctx, uint64_t idx, uint64_t c);
	/* The refcount table at cluster c with entries slots was replaced and
	 * freed. Its bytes stay on disk: the blocks reported so far with an
	 * index below entries, zeros elsewhere. */
	int (*table_freed)(void *ctx, uint64_t c, uint64_t entries);
	/* The L2 table for L1 index l1i was allocated at cluster c. L2 tables
	 * are allocated in increasing l1i. */
	int (*l2)(void *ctx, uint64_t l1i, uint64_t c);
	/* Guest clusters [gc, gc+n) now map to host clusters [hc, hc+n); they
	 * belong to the L2 table reported last. */
	int (*map)(void *ctx, uint64_t gc, uint64_t hc, uint64_t n);
	/* qemu wrote zeros at host bytes [off, off+len) (copy-on-write of the
	 * unaligned tail of the last preallocated cluster): in the external
	 * data file when there is one, else in the image. */
	int (*cow)(void *ctx, uint64_t off, uint64_t len);
	void *ctx;
};

struct q2_sim {
	const struct q2_geom *g;
	const struct q2_hooks *h;
	struct q2_runset alloc;  /* host clusters with refcount 1 */
	struct q2_runset blocks; /* refcount table slots that hold a block */
	uint64_t fci;            /* qemu's free_cluster_index */
	uint64_t rt_off;         /* refcount table: cluster, entries */
	uint64_t rt_size;
	uint64_t l1_off;         /* cluster of the L1 table */
	uint64_t l2_next;        /* L1 indices below this have an L2 table */
	uint64_t written_end;    /* one past the last byte qemu wrote */
	uint64_t file_size;      /* the image file's final length */
	uint64_t area_start;     /* falloc/full data area, bytes; 0,0 if none */
	uint64_t area_end;
	uint64_t data_end;       /* one past the last byte written to the
	                          * external data file */
};

/* Runs the whole create sequence; returns Q2_OK or a negative Q2_E*. */
int q2_sim_run(struct q2_sim *s, const struct q2_geom *g, const struct q2_hooks *h);

/* Refcount blocks qemu needs to cover clusters (its fixed-point formula),
 * optionally with the table 1.5 times as large as needed. */
uint64_t q2_refblocks_needed(const struct q2_geom *g, uint64_t clusters, int generous);

#endif
