package process

import (
	"testing"

	"instar/vmm"
)

// BenchmarkSelftestRun is one whole guest run: NewVM, load, run the
// selftest operation to HLT, Close.
func BenchmarkSelftestRun(b *testing.B) {
	core, op := guestBinary(b, "core"), guestBinary(b, "selftest")
	for b.Loop() {
		h := newHost()
		v := h.load(b, core, op)
		e, err := h.serve(v)
		if err != nil || e.Kind != vmm.ExitHalt {
			b.Fatalf("%+v, %v", e, err)
		}
		if err := v.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
