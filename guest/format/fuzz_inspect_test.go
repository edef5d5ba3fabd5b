//go:build cgo

package format

import (
	"os"
	"path/filepath"
	"testing"

	"instar/shared"
)

// inspectScratchFuzz is less than the guest's scratch, to keep each run
// quick; every driver's minimum and the head fit.
const inspectScratchFuzz = 4 << 20

// FuzzInspect is fmt_inspect_image. Its seeds are every parser target's
// and the images TestInspect makes (when qemu-img is there). For any
// input: no read outside the file, bounded work, a verdict, at most
// InspectMaxFailures failures of known checks with short printable
// reasons, and a format among the claimants.
func FuzzInspect(f *testing.F) {
	addParserSeeds(f, func(_ uint32, in []byte) { f.Add(in) })
	if _, err := os.Stat(qemuImg); err == nil {
		for _, c := range inspectCases() {
			dir := f.TempDir()
			c.make(f, dir, "img.vmdk")
			b, err := os.ReadFile(filepath.Join(dir, "img.vmdk"))
			if err != nil {
				continue
			}
			if enc, err := encodeImage(b); err == nil && len(enc) <= 256<<10 {
				f.Add(enc)
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		im := decodeImage(in)
		var res InspectResult
		var err error
		checkCPU(t, "inspect", threadCPU(func() { res, err = InspectWithScratch(im, im.size, inspectScratchFuzz) }))
		if res.Stats.OutOfBounds != "" {
			t.Fatalf("inspect asked for a %s", res.Stats.OutOfBounds)
		}
		if res.Stats.Bytes > parseWork(im.size)+2<<20 || res.Stats.Reads > 2*parseReads(im.size) {
			t.Fatalf("unbounded work: %d reads of %d bytes from an image of %d", res.Stats.Reads, res.Stats.Bytes, im.size)
		}
		if err != nil {
			t.Fatalf("no verdict: %v", err)
		}
		if len(res.Failures) > shared.InspectMaxFailures {
			t.Fatalf("%d failures", len(res.Failures))
		}
		for _, fl := range res.Failures {
			if fl.Check >= shared.InspectCheckCount || fl.Reason == "" || len(fl.Reason) >= 160 {
				t.Fatalf("failure %+v", fl)
			}
			for _, c := range []byte(fl.Reason) {
				if c < 0x20 || c >= 0x7f {
					t.Fatalf("reason %q is not printable", fl.Reason)
				}
			}
		}
		if res.Format >= shared.InspectFmtCount || res.Format != shared.InspectFmtRaw && res.Formats&(1<<res.Format) == 0 {
			t.Fatalf("format %d among %b", res.Format, res.Formats)
		}
	})
}
