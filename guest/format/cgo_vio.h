/*
 * Host-only glue for the cgo wrappers of the format library: a sink
 * and a source whose callbacks go to Go (cgo_format.go), identified by a
 * runtime/cgo.Handle passed as ctx. Included only from cgo preambles.
 */
#ifndef FORMAT_CGO_VIO_H
#define FORMAT_CGO_VIO_H

#include <stdint.h>

#include "format.h"

extern int instarVioWrite(uintptr_t h, uint32_t output, uint64_t off, void *buf, uint32_t n);
extern int instarVioRead(uintptr_t h, uint64_t off, void *buf, uint32_t n);

static int vio_write(void *ctx, uint32_t output, uint64_t off, const void *buf, uint32_t n)
{
	return instarVioWrite((uintptr_t)ctx, output, off, (void *)buf, n);
}

static int vio_read(void *ctx, uint64_t off, void *buf, uint32_t n)
{
	return instarVioRead((uintptr_t)ctx, off, buf, n);
}

static inline struct fmt_sink vio_sink(uintptr_t h)
{
	struct fmt_sink s = { vio_write, (void *)h };
	return s;
}

static inline struct fmt_source vio_source(uintptr_t h, uint64_t size)
{
	struct fmt_source s = { vio_read, (void *)h, size };
	return s;
}

static inline struct fmt_scratch vio_scratch(void *buf, size_t size)
{
	struct fmt_scratch s = { (uint8_t *)buf, size };
	return s;
}

#endif
