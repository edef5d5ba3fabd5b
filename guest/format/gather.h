/*
 * A sink that gathers adjacent small writes into one. Every write the guest
 * makes costs an exit, which costs far more than copying a few KiB: a 10
 * GiB vpc's footer, header and BAT, or a vmdk's header and descriptor, are
 * written separately by their planners but lie end to end in the file.
 * Writes are copied into the caller's buffer while they extend the pending
 * run at either end and the run stays within the buffer; anything else
 * flushes the run first, and a write larger than the buffer goes straight
 * through. The bytes that reach the next sink, and where, are the same as
 * without gathering, in an order that differs only within a run.
 */
#ifndef FORMAT_GATHER_H
#define FORMAT_GATHER_H

#include "format.h"

struct fmt_gather {
	const struct fmt_sink *next;
	uint8_t *buf;
	uint32_t cap;
	uint32_t output;
	uint64_t offset; /* of buf[0] */
	uint32_t len;    /* bytes pending; 0: none */
	int status;      /* the first failure of the next sink: sticky */
};

/* fmt_gather_init sets g up to gather into buf[0..cap) for next. */
void fmt_gather_init(struct fmt_gather *g, const struct fmt_sink *next, uint8_t *buf, uint32_t cap);

/* fmt_gather_sink is the sink to give a planner. A write it only gathers
 * returns 0; a failure of the next sink is returned by the write that
 * flushes, by every later write, and by fmt_gather_flush. */
struct fmt_sink fmt_gather_sink(struct fmt_gather *g);

/* fmt_gather_flush writes what is pending and returns 0 or the first
 * failure. */
int fmt_gather_flush(struct fmt_gather *g);

#endif
