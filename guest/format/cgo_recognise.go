//go:build cgo

package format

// The recognisers through cgo, for tests and fuzz targets: each one's
// match, and the check of those that match, over a reader, without the
// dispatcher (inspect.c) between them.

/*
#cgo CFLAGS: -I${SRCDIR}/../include -std=c11 -Wall -Wextra -Werror
#include <stdint.h>
#include <stdlib.h>
#include "cgo_vio.h"
#include "inspect.h"

extern int instarRecogniseFailure(uintptr_t h, uint32_t check, char *reason);

static int recognise_failure_cb(void *ctx, uint32_t check, const char *reason)
{
	return instarRecogniseFailure((uintptr_t)ctx, check, (char *)reason);
}

// Reads the head, runs recogniser i's match and, when it matches, its
// check; returns -1 when the head cannot be read, else whether it matched.
static inline int call_recognise(uint32_t i, void *scr, size_t scr_size, uintptr_t src_h, uint64_t size,
				 uintptr_t sink_h, uint8_t *head, struct inspect_report *r, uint32_t *format)
{
	const struct fmt_recogniser *rec = fmt_recogniser_at(i);
	if (!rec)
		return -1;
	*format = rec->format;
	struct fmt_scratch s = vio_scratch(scr, scr_size);
	struct fmt_source src = vio_source(src_h, size);
	struct inspect_sink sink = {recognise_failure_cb, (void *)sink_h};
	uint32_t head_len = size < INSPECT_HEAD_SIZE ? (uint32_t)size : INSPECT_HEAD_SIZE;
	if (head_len && src.read(src.ctx, 0, head, head_len) != 0)
		return -1;
	struct inspect_input in = {&src, head, head_len};
	r->sink = &sink;
	if (!rec->match(&in))
		return 0;
	rec->check(&in, &s, r);
	r->sink = NULL;
	return 1;
}
*/
import "C"

import (
	"io"
	"runtime/cgo"
	"unsafe"
)

// Recognised is what one recogniser said of a file.
type Recognised struct {
	Format         uint32 // shared.InspectFmt*
	Matched        bool
	HasVirtualSize bool
	VirtualSize    uint64
	Failures       []InspectFailure
	Reads          ReadStats // what match and check read through the source
}

// RecogniserCount is how many recognisers there are.
func RecogniserCount() int { return int(C.fmt_recogniser_count()) }

//export instarRecogniseFailure
func instarRecogniseFailure(h C.uintptr_t, check C.uint32_t, reason *C.char) C.int {
	res := cgo.Handle(h).Value().(*Recognised)
	res.Failures = append(res.Failures, InspectFailure{uint32(check), C.GoString(reason)})
	return 0
}

// Recognise runs recogniser i over r (size bytes) with scratchSize bytes
// of scratch: its match, then its check if it matched. ok is false when
// there is no recogniser i or the head cannot be read.
func Recognise(i int, r io.ReaderAt, size int64, scratchSize int) (res Recognised, ok bool) {
	st := &sourceState{r: r, size: size}
	src := cgo.NewHandle(st)
	defer src.Delete()
	out := &Recognised{}
	sink := cgo.NewHandle(out)
	defer sink.Delete()
	scr := newScratch(scratchSize)
	defer scr.free()
	head := C.malloc(C.INSPECT_HEAD_SIZE)
	defer C.free(head)
	rep := (*C.struct_inspect_report)(C.calloc(1, C.size_t(unsafe.Sizeof(C.struct_inspect_report{}))))
	defer C.free(unsafe.Pointer(rep))
	var format C.uint32_t
	m := C.call_recognise(C.uint32_t(i), scr.p, C.size_t(scr.size), C.uintptr_t(src), C.uint64_t(size),
		C.uintptr_t(sink), (*C.uint8_t)(head), rep, &format)
	if m < 0 {
		return Recognised{}, false
	}
	out.Format, out.Matched = uint32(format), m == 1
	out.HasVirtualSize, out.VirtualSize = rep.has_virtual_size != 0, uint64(rep.virtual_size)
	out.Reads = st.stats
	return *out, true
}
