/*
 * A small set of disjoint half-open uint64 intervals [s, e), kept sorted.
 * The qcow2 allocator model uses it for "which host clusters have a
 * non-zero refcount" and "which refcount-table slots hold a block": both
 * are a handful of runs however large the image, so a fixed capacity is
 * enough and nothing is allocated.
 */
#ifndef FORMAT_QCOW2_RUNSET_H
#define FORMAT_QCOW2_RUNSET_H

#include <stdbool.h>
#include <stdint.h>

#define Q2_RUNSET_CAP 256

struct q2_run {
	uint64_t s, e;
};

struct q2_runset {
	uint32_t n;
	bool overflow; /* set when an insert did not fit; the model is then void */
	struct q2_run r[Q2_RUNSET_CAP];
};

void q2rs_clear(struct q2_runset *rs);
bool q2rs_contains(const struct q2_runset *rs, uint64_t x);
/* Adds [s, e); overlapping and touching runs merge. */
void q2rs_add(struct q2_runset *rs, uint64_t s, uint64_t e);
/* Removes [s, e) from the set. */
void q2rs_remove(struct q2_runset *rs, uint64_t s, uint64_t e);
/* The first x >= from such that [x, x+n) holds no member (first fit). */
uint64_t q2rs_first_gap(const struct q2_runset *rs, uint64_t from, uint64_t n);
/* The number of non-members in [x, x+n) before the first member. */
uint64_t q2rs_gap_len(const struct q2_runset *rs, uint64_t x, uint64_t n);
/* One past the largest member, or 0 when empty. */
uint64_t q2rs_end(const struct q2_runset *rs);
/* Members in [s, e) are reported as runs clipped to [s, e), in order:
 * *it starts at 0; returns false when there are no more. */
bool q2rs_next_in(const struct q2_runset *rs, uint64_t s, uint64_t e, uint32_t *it, struct q2_run *out);

#endif
