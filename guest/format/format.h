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
	/* The data area [prealloc_start, prealloc_end) of output 0 the host
	 * preallocates for PREALLOC_FALLOC and PREALLOC_FULL; empty when
	 * the format or mode has none. It never overlaps a planned write. */
	uint64_t prealloc_start, prealloc_end;
	/* On an error, the rule that was broken, in qemu-img's words where a
	 * planner knows them (else NULL): a static string. */
	const char *reason;
};

/* Where a planner's writes go, counted into res->bytes_written. */
struct fmt_out {
	const struct fmt_sink *sink;
	struct plan_result *res;
};

/* fmt_put writes len bytes of buf at off of output through w; 0, or -1 at
 * the sink's first error. */
int fmt_put(const struct fmt_out *w, uint32_t output, uint64_t off, const void *buf, uint32_t len);

/* What a parser reports about a backing file. */
struct backing_info {
	uint32_t format;       /* FORMAT_* detected */
	uint64_t virtual_size; /* in bytes */
};

/* Everything a planner is given. */
struct fmt_plan {
	const struct create_config *cfg;
	uint64_t virtual_size; /* in bytes, a multiple of 512 */
	struct fmt_scratch scratch;
	const struct fmt_sink *sink;
	/* The attached backing file, or NULL (none given, or -u). */
	const struct fmt_source *backing;
	/* The base name of the image file, which multi-file formats name
	 * their other files after. */
	const uint8_t *image_name;
	uint32_t image_name_len;
};

struct info_sink;
struct fmt_info;
struct inspect_report;

/*
 * A format driver: the same entry points for every format, so that an
 * operation runs any format without naming it. An entry a format does not
 * have is NULL (raw has no planner: the host makes raw images). Each
 * format defines its record, <name>_driver, at the end of its planner;
 * fmt_driver finds it by FORMAT_* through the list generated from the
 * format table (FORMAT_DRIVERS in instar/shared.h).
 */
struct fmt_driver {
	uint32_t format; /* FORMAT_* */
	/* The least scratch plan accepts (fmt_plan_image checks it). */
	uint32_t min_scratch;
	/* probe scores a file's first bytes (at most DETECT_PROBE_SIZE):
	 * 0 is "not this format"; the highest score wins. */
	int (*probe)(const uint8_t *buf, uint32_t len);
	/* parse reads a backing file's header (see detect.h for the
	 * contract every parser keeps). */
	uint32_t (*parse)(const struct fmt_source *src, const struct fmt_scratch *scratch,
			  struct backing_info *out);
	/* plan writes a new image's metadata through p->sink and fills res:
	 * CREATE_ERR_OK, or why not (with res->reason where qemu-img has
	 * words for it). */
	uint32_t (*plan)(const struct fmt_plan *p, struct plan_result *res);
	/* info reports what qemu-img info reports (see info.h); the
	 * check operation adds its entry point here. */
	uint32_t (*info)(const struct fmt_source *src, const struct fmt_scratch *scratch,
			 const struct info_sink *sink, struct fmt_info *out);
	/* inspect runs the format's safety checks (fmt_inspect_fn in
	 * inspect.h); NULL when it has none beyond info's. */
	void (*inspect)(const struct fmt_source *src, const struct fmt_scratch *scratch,
			const struct fmt_info *info, struct inspect_report *r);
};

/* FMT_DRIVER(name, NAME, min_scratch, inspect) defines name_driver for
 * FORMAT_NAME from name_probe, name_parse, name_plan and name_info, with
 * inspect (a function or NULL) as its inspect entry point. */
#define FMT_DRIVER(name, upper, scratch, insp)                                                \
	const struct fmt_driver name##_driver = {                                             \
		.format = FORMAT_##upper, .min_scratch = (scratch), .probe = name##_probe, \
		.parse = name##_parse, .plan = name##_plan, .info = name##_info,              \
		.inspect = (insp),                                                            \
	}

/* The driver of format (FORMAT_*), or NULL. */
const struct fmt_driver *fmt_driver(uint32_t format);

/* Plans cfg's image (cfg->target_format) with its driver, with the image
 * name from cfg and backing (NULL: none attached): the one way to a
 * planner, for the create operation and the tests alike. */
uint32_t fmt_plan_image(const struct create_config *cfg, uint64_t virtual_size, struct fmt_scratch scratch,
			const struct fmt_sink *sink, const struct fmt_source *backing, struct plan_result *res);

/* Drivers are numbered 0..fmt_driver_count()-1 for iteration. */
uint32_t fmt_driver_count(void);
const struct fmt_driver *fmt_driver_at(uint32_t i);

#endif
