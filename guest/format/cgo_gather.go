//go:build cgo

package format

/*
#cgo CFLAGS: -I${SRCDIR}/../include -std=c11 -Wall -Wextra -Werror
#include <stdlib.h>
#include <string.h>
#include "cgo_vio.h"
#include "gather.h"

// A list sink that makes each write through the Go sink and counts the
// lists: one list is one exit in the guest.
struct gather_test {
	struct fmt_gather g;
	struct fmt_list_sink next;
	uintptr_t h;
	uint32_t lists;
};

static int list_write(void *ctx, const struct fmt_write *w, uint32_t n)
{
	struct gather_test *t = ctx;
	t->lists++;
	for (uint32_t i = 0; i < n; i++) {
		int r = vio_write((void *)t->h, w[i].output, w[i].offset, w[i].buf, w[i].len);
		if (r != 0)
			return r;
	}
	return 0;
}

static struct fmt_gather *gather_new(uintptr_t h, uint32_t cap, uint32_t max_runs)
{
	struct gather_test *t = malloc(sizeof *t);
	t->h = h;
	t->lists = 0;
	t->next = (struct fmt_list_sink){.write = list_write, .ctx = t};
	fmt_gather_init(&t->g, &t->next, malloc(cap), cap, malloc(max_runs * sizeof(struct fmt_write)), max_runs);
	return &t->g;
}

static uint32_t gather_lists(struct fmt_gather *g)
{
	return ((struct gather_test *)g)->lists;
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
	free(g->runs);
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
// capacity-byte buffer and a list of maxRuns runs to sink, and flushes it.
// It returns what each write and the flush returned (0 or negative), and
// how many lists reached sink (the guest's exits).
func Gather(capacity, maxRuns int, writes []GatherWrite, sink OutputSink) (statuses []int, flush, lists int) {
	st := &sinkState{sink: sink}
	h := cgo.NewHandle(st)
	defer h.Delete()
	g := C.gather_new(C.uintptr_t(h), C.uint32_t(capacity), C.uint32_t(maxRuns))
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
	flush = int(C.fmt_gather_flush(g))
	return statuses, flush, int(C.gather_lists(g))
}
