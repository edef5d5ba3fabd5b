//go:build cgo

package format

// The inspect entry point through cgo, for tests (and fuzz targets):
// fmt_inspect_image over a reader, with its failures sent back to Go.

/*
#cgo CFLAGS: -I${SRCDIR}/../include -std=c11 -Wall -Wextra -Werror
#include <stdint.h>
#include <stdlib.h>
#include "cgo_vio.h"
#include "inspect.h"

extern int instarInspectFailure(uintptr_t h, uint32_t check, char *reason);

static int inspect_failure_cb(void *ctx, uint32_t check, const char *reason)
{
	return instarInspectFailure((uintptr_t)ctx, check, (char *)reason);
}

static inline uint32_t call_inspect(void *scr, size_t scr_size, uintptr_t src_h, uint64_t size, uintptr_t sink_h,
				    struct inspect_report *out)
{
	struct fmt_scratch s = vio_scratch(scr, scr_size);
	struct fmt_source src = vio_source(src_h, size);
	struct inspect_sink sink = {inspect_failure_cb, (void *)sink_h};
	return fmt_inspect_image(&src, &s, &sink, out);
}
*/
import "C"

import (
	"io"
	"runtime/cgo"
)

// InspectFailure is one failed check: an INSPECT_CHECK_* and its reason.
type InspectFailure struct {
	Check  uint32
	Reason string
}

// InspectResult is struct inspect_report in Go terms, with the failures
// the checks sent.
type InspectResult struct {
	Formats        uint64
	Format         uint32
	HasVirtualSize bool
	VirtualSize    uint64
	// Failures counts what the checks sent; FailureList holds them.
	Failures    uint32
	FailureList []InspectFailure
}

//export instarInspectFailure
func instarInspectFailure(h C.uintptr_t, check C.uint32_t, reason *C.char) C.int {
	r := cgo.Handle(h).Value().(*InspectResult)
	r.FailureList = append(r.FailureList, InspectFailure{Check: uint32(check), Reason: C.GoString(reason)})
	return 0
}

// Inspect runs fmt_inspect_image over r (size bytes) with scratchSize
// bytes of scratch and returns the verdict and the INSPECT_ERR_* code.
func Inspect(r io.ReaderAt, size int64, scratchSize int) (InspectResult, uint32) {
	src := cgo.NewHandle(&sourceState{r: r, size: size})
	defer src.Delete()
	res := &InspectResult{}
	sink := cgo.NewHandle(res)
	defer sink.Delete()
	scr := newScratch(scratchSize)
	defer scr.free()
	var out C.struct_inspect_report
	code := uint32(C.call_inspect(scr.p, C.size_t(scr.size), C.uintptr_t(src), C.uint64_t(size), C.uintptr_t(sink), &out))
	res.Formats, res.Format = uint64(out.formats), uint32(out.format)
	res.HasVirtualSize, res.VirtualSize = out.has_virtual_size != 0, uint64(out.virtual_size)
	res.Failures = uint32(out.failures)
	return *res, code
}
