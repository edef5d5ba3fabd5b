//go:build cgo

package format

/*
#cgo CFLAGS: -I${SRCDIR}/../include -std=c11 -Wall -Wextra -Werror
#include "cgo_vio.h"
#include "vhdx.h"

static uint32_t call_vhdx_plan(const struct create_config *cfg, uint64_t vsize, void *scr,
			       size_t scr_size, uintptr_t h, struct plan_result *res)
{
	struct fmt_scratch s = vio_scratch(scr, scr_size);
	struct fmt_sink k = vio_sink(h);
	return vhdx_plan(cfg, vsize, &s, &k, res);
}

static uint32_t call_vhdx_parse(void *scr, size_t scr_size, uintptr_t h, uint64_t size,
				struct backing_info *out)
{
	struct fmt_scratch s = vio_scratch(scr, scr_size);
	struct fmt_source src = vio_source(h, size);
	return vhdx_parse(&src, &s, out);
}
*/
import "C"

import (
	"io"
	"unsafe"

	"instar/shared"
)

// VhdxMinScratch is VHDX_MIN_SCRATCH.
const VhdxMinScratch = C.VHDX_MIN_SCRATCH

// VhdxPlan runs vhdx_plan with scratchSize bytes of scratch, sending its
// writes to sink. It returns the CREATE_ERR_* code and any sink error.
func VhdxPlan(cfg *shared.CreateConfig, virtualSize uint64, scratchSize int, sink OutputSink) (PlanInfo, uint32, error) {
	return planCall(cfg, scratchSize, sink, func(c *C.struct_create_config, scr unsafe.Pointer, n C.size_t, h C.uintptr_t, res *C.struct_plan_result) C.uint32_t {
		return C.call_vhdx_plan(c, C.uint64_t(virtualSize), scr, n, h, res)
	})
}

// VhdxParse runs vhdx_parse over the size bytes of r.
func VhdxParse(r io.ReaderAt, size int64, scratchSize int) (ParsedBacking, uint32) {
	return parseCall(r, size, scratchSize, func(scr unsafe.Pointer, n C.size_t, h C.uintptr_t, sz C.uint64_t, out *C.struct_backing_info) C.uint32_t {
		return C.call_vhdx_parse(scr, n, h, sz, out)
	})
}
