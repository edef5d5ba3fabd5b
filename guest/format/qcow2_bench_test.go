//go:build cgo

package format

import (
	"os"
	"strings"
	"syscall"
	"testing"

	"instar/shared"
)

// q2GuestScratch is the scratch the create operation hands the planner in
// the guest: SCRATCH_MEM_BASE..ALLOC_HEAP_BASE.
const q2GuestScratch = shared.AllocHeapBase - shared.ScratchMemBase

// discardSink counts nothing and keeps nothing: the benchmark measures
// the planner, not a file system.
type discardSink struct{}

func (discardSink) WriteAt(uint32, []byte, int64) error { return nil }

func minorFaults(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Minflt
}

// BenchmarkQcow2Plan plans ordinary images with the guest's scratch size.
// In the guest every run starts on fresh memory, so what the planner
// touches costs page faults; to see that here, run with
//
//	GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072
//
// so that the wrapper's malloc of the scratch is a fresh mmap on every
// iteration (glibc otherwise raises its threshold after the first free
// and recycles the same, already faulted, heap memory). faults/op reports
// the minor page faults of the whole process per plan.
func BenchmarkQcow2Plan(b *testing.B) {
	if !strings.Contains(os.Getenv("GLIBC_TUNABLES"), "mmap_threshold") {
		b.Log("GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072 is not set: scratch memory is recycled, page faults hardly show")
	}
	for _, c := range []struct {
		name string
		c    q2Case
	}{
		{"10G", q2Case{size: 10 * gib}},
		{"100G_metadata", q2Case{size: 100 * gib, prealloc: "metadata"}},
		{"1T", q2Case{size: tib}},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg := c.c.config()
			f0 := minorFaults(b)
			for b.Loop() {
				_, code, err := Plan(cfg, uint64(c.c.size), q2GuestScratch, discardSink{}, nil)
				if code != shared.CreateErrOK || err != nil {
					b.Fatal(code, err)
				}
			}
			b.ReportMetric(float64(minorFaults(b)-f0)/float64(b.N), "faults/op")
		})
	}
}
