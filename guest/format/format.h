/*
 * The format library: planners that produce an image's metadata, and
 * parsers that read a backing file's header. Pure functions: buffers in,
 * buffers out. I/O happens only through the sink and source callbacks the
 * caller passes, so the same sources run in the guest (callbacks go to the
 * call table) and on the host in tests (callbacks go to files).
 */
#ifndef FORMAT_FORMAT_H
#define FORMAT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "instar/shared.h"

/* Where a planner's writes go. write() gets at most MAX_TRANSFER bytes at a
 * time and returns 0 or a negative error; a planner stops at the first
 * error and returns CREATE_ERR_WRITE_FAILED. output is the output device:
 * 0 is the image (or a multi-file vmdk's descriptor), 1.. are extents. */
struct fmt_sink {
	int (*write)(void *ctx, uint32_t output, uint64_t offset, const void *buf, uint32_t len);
	void *ctx;
};

/* Where a parser's reads come from: read len bytes at offset of the backing
 * file into buf; returns 0, or a negative error (including reads past the
 * end). size is the backing file's length in bytes. */
struct fmt_source {
	int (*read)(void *ctx, uint64_t offset, void *buf, uint32_t len);
	void *ctx;
	uint64_t size;
};

/* Working memory a planner or parser may use; nothing else is allocated. */
struct fmt_scratch {
	uint8_t *buf;
	size_t size;
};

/* What a planner reports. Sizes are per output device. */
struct plan_result {
	uint64_t virtual_size;    /* after any rounding (vpc CHS) */
	uint64_t bytes_written;   /* sum of all write lengths */
	uint32_t unit_size;       /* cluster, grain or block size; 0 if none */
	uint32_t output_count;    /* how many output devices were used */
	uint64_t file_size[MAX_OUTPUTS]; /* final length of each output */
	/* On an error, the rule that was broken, in qemu-img's words where a
	 * planner knows them (else NULL): a static string. */
	const char *reason;
};

/* What a parser reports about a backing file. */
struct backing_info {
	uint32_t format;       /* FORMAT_* detected */
	uint64_t virtual_size; /* in bytes */
};

#endif
