//go:build cgo

package format

/*
#cgo CFLAGS: -I${SRCDIR}/../include -std=c11 -Wall -Wextra -Werror
#include "cgo_vio.h"
#include "detect.h"

static uint32_t call_fmt_probe(void *scr, size_t scr_size, uintptr_t h, uint64_t size,
			       struct backing_info *out)
{
	struct fmt_scratch s = vio_scratch(scr, scr_size);
	struct fmt_source src = vio_source(h, size);
	return fmt_probe(&src, &s, out);
}

static uint32_t call_fmt_parse(uint32_t format, void *scr, size_t scr_size, uintptr_t h,
			       uint64_t size, struct backing_info *out)
{
	struct fmt_scratch s = vio_scratch(scr, scr_size);
	struct fmt_source src = vio_source(h, size);
	return fmt_parse(format, &src, &s, out);
}

static uint32_t call_fmt_detect(void *scr, size_t scr_size, uintptr_t h, uint64_t size,
				struct backing_info *out)
{
	struct fmt_scratch s = vio_scratch(scr, scr_size);
	struct fmt_source src = vio_source(h, size);
	return fmt_detect(&src, &s, &out->format);
}

static uint32_t call_raw_parse(void *scr, size_t scr_size, uintptr_t h, uint64_t size,
			       struct backing_info *out)
{
	struct fmt_scratch s = vio_scratch(scr, scr_size);
	struct fmt_source src = vio_source(h, size);
	return raw_parse(&src, &s, out);
}
*/
import "C"

import (
	"io"
	"unsafe"
)

// DetectMinScratch is DETECT_MIN_SCRATCH.
const DetectMinScratch = C.DETECT_MIN_SCRATCH

// FmtProbe runs fmt_probe (detect the format, then parse) over the size
// bytes of r.
func FmtProbe(r io.ReaderAt, size int64, scratchSize int) (ParsedBacking, uint32) {
	return parseCall(r, size, scratchSize, func(scr unsafe.Pointer, n C.size_t, h C.uintptr_t, sz C.uint64_t, out *C.struct_backing_info) C.uint32_t {
		return C.call_fmt_probe(scr, n, h, sz, out)
	})
}

// FmtDetect runs fmt_detect over the size bytes of r: the FORMAT_* only.
func FmtDetect(r io.ReaderAt, size int64, scratchSize int) (uint32, uint32) {
	got, code := parseCall(r, size, scratchSize, func(scr unsafe.Pointer, n C.size_t, h C.uintptr_t, sz C.uint64_t, out *C.struct_backing_info) C.uint32_t {
		return C.call_fmt_detect(scr, n, h, sz, out)
	})
	return got.Format, code
}

// FmtParse runs fmt_parse: r parsed as format (a shared.Format*).
func FmtParse(format uint32, r io.ReaderAt, size int64, scratchSize int) (ParsedBacking, uint32) {
	return parseCall(r, size, scratchSize, func(scr unsafe.Pointer, n C.size_t, h C.uintptr_t, sz C.uint64_t, out *C.struct_backing_info) C.uint32_t {
		return C.call_fmt_parse(C.uint32_t(format), scr, n, h, sz, out)
	})
}

// RawParse runs raw_parse over the size bytes of r.
func RawParse(r io.ReaderAt, size int64, scratchSize int) (ParsedBacking, uint32) {
	return parseCall(r, size, scratchSize, func(scr unsafe.Pointer, n C.size_t, h C.uintptr_t, sz C.uint64_t, out *C.struct_backing_info) C.uint32_t {
		return C.call_raw_parse(scr, n, h, sz, out)
	})
}
