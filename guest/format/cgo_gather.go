//go:build cgo

package format

/*
#cgo CFLAGS: -I${SRCDIR}/../include -std=c11 -Wall -Wextra -Werror
#include <stdlib.h>
#include <string.h>
#include "cgo_vio.h"
#include "gather.h"

static struct fmt_gather *gather_new(uintptr_t h, uint32_t cap)
{
	struct fmt_gather *g = malloc(sizeof *g + sizeof(struct fmt_sink));
	struct fmt_sink *next = (struct fmt_sink *)(g + 1);
	*next = vio_sink(h);
	fmt_gather_init(g, next, malloc(cap), cap);
	return g;
}

static int gather_write_copy(struct fmt_gather *g, uint32_t output, uint64_t off, const void *data, uint32_t len)
{
	// The planner's buffer is reused after each write: so is this copy.
	void *buf = malloc(len ? len : 1);
	if (len)
		memcpy(buf, data, len);
	struct fmt_sink s = fmt_gather_sink(g);
	int r = s.write(s.ctx, output, off, buf, len);
	memset(buf, 0xAA, len);
	free(buf);
	return r;
}

static void gather_free(struct fmt_gather *g)
{
	free(g->buf);
	free(g);
}
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// GatherWrite is one write given to the gathering sink.
type GatherWrite struct {
	Output uint32
	Off    uint64
	Data   []byte
}

// Gather passes writes, in order, through a gathering sink with a
// capacity-byte buffer to sink, and flushes it. It returns what each write
// and the flush returned (0 or negative).
func Gather(capacity int, writes []GatherWrite, sink OutputSink) (statuses []int, flush int) {
	st := &sinkState{sink: sink}
	h := cgo.NewHandle(st)
	defer h.Delete()
	g := C.gather_new(C.uintptr_t(h), C.uint32_t(capacity))
	defer C.gather_free(g)
	for _, w := range writes {
		var p unsafe.Pointer
		if len(w.Data) > 0 {
			p = C.CBytes(w.Data)
		}
		statuses = append(statuses, int(C.gather_write_copy(g, C.uint32_t(w.Output), C.uint64_t(w.Off), p, C.uint32_t(len(w.Data)))))
		if p != nil {
			C.free(p)
		}
	}
	return statuses, int(C.fmt_gather_flush(g))
}
