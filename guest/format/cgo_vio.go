//go:build cgo

package format

/*
#cgo CFLAGS: -I${SRCDIR}/../include -std=c11 -Wall -Wextra -Werror
#include <stdint.h>
#include <stdlib.h>
#include "format.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"runtime/cgo"
	"unsafe"

	"instar/shared"
)

// OutputSink receives a planner's writes: output device (0 is the image or
// a multi-file vmdk's descriptor, 1.. are extents), bytes, offset.
type OutputSink interface {
	WriteAt(output uint32, p []byte, off int64) error
}

// PlanInfo is struct plan_result in Go terms.
type PlanInfo struct {
	VirtualSize  uint64
	BytesWritten uint64
	UnitSize     uint32
	// FileSize holds the final length of each output; its length is the
	// planner's output_count.
	FileSize []uint64
}

// ParsedBacking is struct backing_info in Go terms.
type ParsedBacking struct {
	Format      uint32
	VirtualSize uint64
}

// sinkState is what a cgo.Handle passed as the sink's ctx refers to.
type sinkState struct {
	sink    OutputSink
	written uint64
	err     error
}

// sourceState is what a cgo.Handle passed as the source's ctx refers to.
type sourceState struct {
	r    io.ReaderAt
	size int64
}

// errTransfer reports a planner write the VMM would refuse.
var errTransfer = errors.New("write longer than MAX_TRANSFER")

//export instarVioWrite
func instarVioWrite(h C.uintptr_t, output C.uint32_t, off C.uint64_t, buf unsafe.Pointer, n C.uint32_t) C.int {
	st := cgo.Handle(h).Value().(*sinkState)
	if st.err != nil {
		return -1
	}
	if n > shared.MaxTransfer {
		st.err = fmt.Errorf("%w: %d bytes at %d of output %d", errTransfer, n, off, output)
		return -1
	}
	if uint32(output) >= shared.MaxOutputs {
		st.err = fmt.Errorf("write to output %d: there are at most %d", output, shared.MaxOutputs)
		return -1
	}
	if uint64(off) > 1<<62 {
		st.err = fmt.Errorf("write at offset %d of output %d", off, output)
		return -1
	}
	var p []byte
	if n > 0 {
		p = unsafe.Slice((*byte)(buf), int(n))
	}
	if err := st.sink.WriteAt(uint32(output), p, int64(off)); err != nil {
		st.err = err
		return -1
	}
	st.written += uint64(n)
	return 0
}

//export instarVioRead
func instarVioRead(h C.uintptr_t, off C.uint64_t, buf unsafe.Pointer, n C.uint32_t) C.int {
	st := cgo.Handle(h).Value().(*sourceState)
	if uint64(off) > uint64(st.size) || uint64(n) > uint64(st.size)-uint64(off) {
		return -1
	}
	if n == 0 {
		return 0
	}
	p := unsafe.Slice((*byte)(buf), int(n))
	if k, _ := st.r.ReadAt(p, int64(off)); k != len(p) {
		return -1
	}
	return 0
}

// cScratch is scratch memory from the C heap, so that the sanitizers see
// any access past its end.
type cScratch struct {
	p    unsafe.Pointer
	size int
}

func newScratch(size int) cScratch {
	if size <= 0 {
		return cScratch{}
	}
	return cScratch{p: C.malloc(C.size_t(size)), size: size}
}

func (s cScratch) free() {
	if s.p != nil {
		C.free(s.p)
	}
}

// planCall runs one planner through call, which gets the config, scratch,
// sink handle and result. It returns the planner's CREATE_ERR_* code and
// the sink's error, if any.
func planCall(cfg *shared.CreateConfig, scratchSize int, sink OutputSink,
	call func(cfg *C.struct_create_config, scr unsafe.Pointer, scrSize C.size_t, h C.uintptr_t, res *C.struct_plan_result) C.uint32_t,
) (PlanInfo, uint32, error) {
	st := &sinkState{sink: sink}
	h := cgo.NewHandle(st)
	defer h.Delete()
	scr := newScratch(scratchSize)
	defer scr.free()
	// The C code reads the config in place: shared.CreateConfig has the
	// layout of struct create_config (checked by shared's layout test)
	// and holds no Go pointers.
	ccfg := (*C.struct_create_config)(unsafe.Pointer(cfg))
	var res C.struct_plan_result
	code := uint32(call(ccfg, scr.p, C.size_t(scr.size), C.uintptr_t(h), &res))
	info := PlanInfo{
		VirtualSize:  uint64(res.virtual_size),
		BytesWritten: uint64(res.bytes_written),
		UnitSize:     uint32(res.unit_size),
	}
	if code == shared.CreateErrOK {
		n := int(res.output_count)
		if n > shared.MaxOutputs {
			return info, code, fmt.Errorf("output_count %d", n)
		}
		for i := 0; i < n; i++ {
			info.FileSize = append(info.FileSize, uint64(res.file_size[i]))
		}
		if info.BytesWritten != st.written {
			return info, code, fmt.Errorf("bytes_written %d, but the sink got %d", info.BytesWritten, st.written)
		}
	}
	return info, code, st.err
}

// parseCall runs one parser over r (size bytes) through call.
func parseCall(r io.ReaderAt, size int64, scratchSize int,
	call func(scr unsafe.Pointer, scrSize C.size_t, h C.uintptr_t, size C.uint64_t, out *C.struct_backing_info) C.uint32_t,
) (ParsedBacking, uint32) {
	h := cgo.NewHandle(&sourceState{r: r, size: size})
	defer h.Delete()
	scr := newScratch(scratchSize)
	defer scr.free()
	var out C.struct_backing_info
	code := uint32(call(scr.p, C.size_t(scr.size), C.uintptr_t(h), C.uint64_t(size), &out))
	return ParsedBacking{Format: uint32(out.format), VirtualSize: uint64(out.virtual_size)}, code
}
