//go:build cgo

package format

// The format library through cgo, for tests: every format through the
// same entry points as the create operation uses (its driver), with a
// sink and a source whose callbacks come back to Go.

/*
#cgo CFLAGS: -I${SRCDIR}/../include -std=c11 -Wall -Wextra -Werror
#include <stdint.h>
#include <stdlib.h>
#include "cgo_vio.h"
#include "detect.h"
#include "crc32c.h"

static inline uint32_t call_plan(const struct create_config *cfg, uint64_t vsize, void *scr, size_t scr_size,
				 uintptr_t sink, uintptr_t backing, uint64_t backing_size, struct plan_result *res)
{
	struct fmt_sink k = vio_sink(sink);
	struct fmt_source src = vio_source(backing, backing_size);
	return fmt_plan_image(cfg, vsize, vio_scratch(scr, scr_size), &k, backing ? &src : 0, res);
}

enum { CALL_PARSE, CALL_PROBE, CALL_DETECT };

static inline uint32_t call_parser(int call, uint32_t format, void *scr, size_t scr_size, uintptr_t h, uint64_t size,
			    struct backing_info *out)
{
	struct fmt_scratch s = vio_scratch(scr, scr_size);
	struct fmt_source src = vio_source(h, size);
	switch (call) {
	case CALL_PARSE:
		return fmt_parse(format, &src, &s, out);
	case CALL_PROBE:
		return fmt_probe(&src, &s, out);
	}
	return fmt_detect(&src, &s, &out->format);
}

static inline uint32_t min_scratch(uint32_t format)
{
	const struct fmt_driver *d = fmt_driver(format);
	return d ? d->min_scratch : 0;
}
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
	// PreallocStart and PreallocEnd bound the data area the host
	// preallocates.
	PreallocStart, PreallocEnd uint64
}

// Backing is a backing file attached to a plan.
type Backing struct {
	R    io.ReaderAt
	Size int64
	// Stats, when set, receives the counts of the planner's reads.
	Stats *ReadStats
}

// ReadStats counts what a parser asked of its source: every read, the
// bytes read, and the first read that reached outside the source (which
// the source refused; a parser must never ask for one).
type ReadStats struct {
	Reads, Bytes uint64
	OutOfBounds  string
}

// DetectMinScratch is DETECT_MIN_SCRATCH.
const DetectMinScratch = C.DETECT_MIN_SCRATCH

// MinScratch is the least scratch the format's driver accepts.
func MinScratch(format uint32) int { return int(C.min_scratch(C.uint32_t(format))) }

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
	r     io.ReaderAt
	size  int64
	stats ReadStats
	// handle is the state's own handle, when it is an extent file's.
	handle cgo.Handle
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
	st.stats.Reads++
	if uint64(off) > uint64(st.size) || uint64(n) > uint64(st.size)-uint64(off) {
		if st.stats.OutOfBounds == "" {
			st.stats.OutOfBounds = fmt.Sprintf("read of %d bytes at %d from a source of %d", n, off, st.size)
		}
		return -1
	}
	st.stats.Bytes += uint64(n)
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

// Plan plans cfg's image (cfg.TargetFormat, named cfg.ImageName) with
// scratchSize bytes of scratch, sending its writes to sink, with backing
// attached when set. It returns the result, the CREATE_ERR_* code and any
// sink error.
func Plan(cfg *shared.CreateConfig, virtualSize uint64, scratchSize int, sink OutputSink, backing *Backing) (PlanInfo, uint32, error) {
	st := &sinkState{sink: sink}
	h := cgo.NewHandle(st)
	defer h.Delete()
	var bh cgo.Handle
	var bsize int64
	if backing != nil {
		bst := &sourceState{r: backing.R, size: backing.Size}
		bh, bsize = cgo.NewHandle(bst), backing.Size
		defer bh.Delete()
		if backing.Stats != nil {
			defer func() { *backing.Stats = bst.stats }()
		}
	}
	scr := newScratch(scratchSize)
	defer scr.free()
	// The C code reads the config in place: shared.CreateConfig has the
	// layout of struct create_config (checked by shared's layout test)
	// and holds no Go pointers.
	ccfg := (*C.struct_create_config)(unsafe.Pointer(cfg))
	var res C.struct_plan_result
	code := uint32(C.call_plan(ccfg, C.uint64_t(virtualSize), scr.p, C.size_t(scr.size), C.uintptr_t(h),
		C.uintptr_t(bh), C.uint64_t(bsize), &res))
	coverFeed()
	info := PlanInfo{
		VirtualSize:   uint64(res.virtual_size),
		BytesWritten:  uint64(res.bytes_written),
		UnitSize:      uint32(res.unit_size),
		PreallocStart: uint64(res.prealloc_start),
		PreallocEnd:   uint64(res.prealloc_end),
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

// Entry names one of the parsing entry points.
type Entry int

// The parsing entry points: fmt_parse, fmt_probe, fmt_detect.
const (
	EntryParse  Entry = C.CALL_PARSE
	EntryProbe  Entry = C.CALL_PROBE
	EntryDetect Entry = C.CALL_DETECT
)

// ParseCounted runs entry over r (size bytes; format is fmt_parse's) and
// counts its reads. fmt_detect's verdict is in the result's Format.
func ParseCounted(entry Entry, format uint32, r io.ReaderAt, size int64, scratchSize int) (ParsedBacking, uint32, ReadStats) {
	st := &sourceState{r: r, size: size}
	h := cgo.NewHandle(st)
	defer h.Delete()
	scr := newScratch(scratchSize)
	defer scr.free()
	var out C.struct_backing_info
	code := uint32(C.call_parser(C.int(entry), C.uint32_t(format), scr.p, C.size_t(scr.size), C.uintptr_t(h), C.uint64_t(size), &out))
	coverFeed()
	return ParsedBacking{Format: uint32(out.format), VirtualSize: uint64(out.virtual_size)}, code, st.stats
}

// Parse runs fmt_parse: r parsed as format (a shared.Format*), through its
// driver.
func Parse(format uint32, r io.ReaderAt, size int64, scratchSize int) (ParsedBacking, uint32) {
	got, code, _ := ParseCounted(EntryParse, format, r, size, scratchSize)
	return got, code
}

// Probe runs fmt_probe (detect the format, then parse) over r.
func Probe(r io.ReaderAt, size int64, scratchSize int) (ParsedBacking, uint32) {
	got, code, _ := ParseCounted(EntryProbe, 0, r, size, scratchSize)
	return got, code
}

// Detect runs fmt_detect over r: the FORMAT_* only.
func Detect(r io.ReaderAt, size int64, scratchSize int) (uint32, uint32) {
	got, code, _ := ParseCounted(EntryDetect, 0, r, size, scratchSize)
	return got.Format, code
}

// crc32cZeros is crc32c_zeros, for its test.
func crc32cZeros(crc uint32, n uint64) uint32 {
	return uint32(C.crc32c_zeros(C.uint32_t(crc), C.uint64_t(n)))
}
