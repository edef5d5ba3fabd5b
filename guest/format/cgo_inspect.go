//go:build cgo

package format

// The inspect entry point through cgo, for tests (and fuzz targets):
// fmt_inspect_image over a reader, with its failures sent back to Go as
// they fail.

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
				    struct inspect_report *r)
{
	struct fmt_scratch s = vio_scratch(scr, scr_size);
	struct fmt_source src = vio_source(src_h, size);
	struct inspect_sink sink = {inspect_failure_cb, (void *)sink_h};
	return fmt_inspect_image(&src, &s, &sink, r);
}
*/
import "C"

import (
	"fmt"
	"io"
	"runtime/cgo"
)

// InspectScratch is the scratch Inspect gives the guest code: as much as
// the inspect operation has.
const InspectScratch = 0xF70000 - 0x300000

// InspectFailure is one failed check: a shared.InspectCheck* and its
// reason.
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
	Failures       []InspectFailure
	// Stats counts the reads, for fuzz targets.
	Stats ReadStats
}

//export instarInspectFailure
func instarInspectFailure(h C.uintptr_t, check C.uint32_t, reason *C.char) C.int {
	r := cgo.Handle(h).Value().(*InspectResult)
	r.Failures = append(r.Failures, InspectFailure{Check: uint32(check), Reason: C.GoString(reason)})
	return 0
}

// Inspect runs fmt_inspect_image over r (size bytes) with the inspect
// operation's scratch. The error is the INSPECT_ERR_* code when there is
// no verdict.
func Inspect(r io.ReaderAt, size int64) (InspectResult, error) {
	return InspectWithScratch(r, size, InspectScratch)
}

// InspectWithScratch is Inspect with scratchSize bytes of scratch.
func InspectWithScratch(r io.ReaderAt, size int64, scratchSize int) (InspectResult, error) {
	state := &sourceState{r: r, size: size}
	src := cgo.NewHandle(state)
	defer src.Delete()
	res := &InspectResult{}
	sink := cgo.NewHandle(res)
	defer sink.Delete()
	scr := newScratch(scratchSize)
	defer scr.free()
	var rep C.struct_inspect_report
	code := uint32(C.call_inspect(scr.p, C.size_t(scr.size), C.uintptr_t(src), C.uint64_t(size),
		C.uintptr_t(sink), &rep))
	res.Formats, res.Format = uint64(rep.formats), uint32(rep.format)
	res.HasVirtualSize, res.VirtualSize = rep.has_virtual_size != 0, uint64(rep.virtual_size)
	res.Stats = state.stats
	if code != 0 {
		return *res, fmt.Errorf("inspect: error %d", code)
	}
	if int(rep.failures) != len(res.Failures) {
		return *res, fmt.Errorf("inspect: %d failures counted, %d sent", rep.failures, len(res.Failures))
	}
	return *res, nil
}
