/*
 * A sink that gathers the planners' writes into as few exits as it can.
 * Every write the guest makes costs an exit, which costs far more than
 * copying a few KiB: a 10 GiB vpc's footer, header and BAT, or a vmdk's
 * header and descriptor, lie end to end in the file, and a qcow2 with
 * preallocated metadata writes thousands of L2 tables a cluster apart.
 * Writes are copied into a staging buffer: one that extends the last
 * queued run at either end joins it, any other starts a new run; when
 * the buffer or the run list is full, the runs go to the next sink as one
 * list, and a write larger than the buffer goes straight through after
 * them. The bytes that reach the next sink, and where, are the same as
 * without gathering, in an order that differs only within a run.
 */
#ifndef FORMAT_GATHER_H
#define FORMAT_GATHER_H

#include "format.h"

/* One write: len bytes of buf at offset of output. */
struct fmt_write {
	const uint8_t *buf;
	uint64_t offset;
	uint32_t output;
	uint32_t len;
};

/* Where a gather's writes go: n of them (1 or more), to be made in order.
 * Returns 0 or a negative error. */
struct fmt_list_sink {
	int (*write)(void *ctx, const struct fmt_write *w, uint32_t n);
	void *ctx;
};

struct fmt_gather {
	const struct fmt_list_sink *next;
	uint8_t *buf;
	uint32_t cap;
	uint32_t used; /* staging bytes queued: the runs' data, end to end */
	struct fmt_write *runs;
	uint32_t max_runs;
	uint32_t nruns;
	int status; /* the first failure of the next sink: sticky */
};

/* fmt_gather_init sets g up to stage into buf[0..cap) and queue up to
 * max_runs (at least 1) runs in runs[] for next. cap bounds both a run and
 * a list, so it must not exceed what next takes in one write. */
void fmt_gather_init(struct fmt_gather *g, const struct fmt_list_sink *next, uint8_t *buf, uint32_t cap,
		     struct fmt_write *runs, uint32_t max_runs);

/* fmt_gather_sink is the sink to give a planner. A write it only queues
 * returns 0; a failure of the next sink is returned by the write that
 * flushes, by every later write, and by fmt_gather_flush. */
struct fmt_sink fmt_gather_sink(struct fmt_gather *g);

/* fmt_gather_flush writes what is queued and returns 0 or the first
 * failure. */
int fmt_gather_flush(struct fmt_gather *g);

#endif
