//go:build cgo

package format

/*
#cgo CFLAGS: -I${SRCDIR}/../include -std=c11 -Wall -Wextra -Werror
#include "cgo_vio.h"
#include "qcow2.h"

static uint32_t call_qcow2_plan(const struct create_config *cfg, uint64_t vsize, void *scr,
				size_t scr_size, uintptr_t h, struct plan_result *res,
				struct qcow2_area *area)
{
	struct fmt_scratch s = vio_scratch(scr, scr_size);
	struct fmt_sink k = vio_sink(h);
	return qcow2_plan_ex(cfg, vsize, &s, &k, res, area);
}

static uint32_t call_qcow2_parse(void *scr, size_t scr_size, uintptr_t h, uint64_t size,
				 struct backing_info *out)
{
	struct fmt_scratch s = vio_scratch(scr, scr_size);
	struct fmt_source src = vio_source(h, size);
	return qcow2_parse(&src, &s, out);
}
*/
import "C"

import (
	"io"
	"unsafe"

	"instar/shared"
)

// Qcow2MinScratch is QCOW2_MIN_SCRATCH.
const Qcow2MinScratch = C.QCOW2_MIN_SCRATCH

// Qcow2Area is struct qcow2_area: the data area the host preallocates for
// preallocation=falloc/full, in bytes.
type Qcow2Area struct {
	Start, End uint64
}

// Qcow2Plan runs qcow2_plan_ex with scratchSize bytes of scratch, sending
// its writes to sink. It returns the result, the data area, the
// CREATE_ERR_* code and any sink error.
func Qcow2Plan(cfg *shared.CreateConfig, virtualSize uint64, scratchSize int, sink OutputSink) (PlanInfo, Qcow2Area, uint32, error) {
	var area C.struct_qcow2_area
	info, code, err := planCall(cfg, scratchSize, sink, func(c *C.struct_create_config, scr unsafe.Pointer, n C.size_t, h C.uintptr_t, res *C.struct_plan_result) C.uint32_t {
		return C.call_qcow2_plan(c, C.uint64_t(virtualSize), scr, n, h, res, &area)
	})
	return info, Qcow2Area{Start: uint64(area.start), End: uint64(area.end)}, code, err
}

// Qcow2Parse runs qcow2_parse over the size bytes of r.
func Qcow2Parse(r io.ReaderAt, size int64, scratchSize int) (ParsedBacking, uint32) {
	return parseCall(r, size, scratchSize, func(scr unsafe.Pointer, n C.size_t, h C.uintptr_t, sz C.uint64_t, out *C.struct_backing_info) C.uint32_t {
		return C.call_qcow2_parse(scr, n, h, sz, out)
	})
}
