//go:build cgo

package format

// Differential fuzz targets: each format's parser against qemu-img 7.2 on
// the same (mutated) bytes, their checksums made right (fixChecksums): both
// refuse, or both accept with the same virtual size. An input on which
// qemu-img does not finish within qemuInfoTimeout is skipped: it gives no
// verdict. qemu-img runs once per input, far too slow for every
// check, so the targets run only with INSTAR_FUZZ_QEMU=1 (`mage fuzz`
// sets it). Differences that are deliberate, and documented in
// docs/formats-matrix.md, are told apart by the named list divergences.

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"instar/shared"
)

// divergence is a documented, deliberate difference from qemu-img.
type divergence struct {
	name string
	// match reports whether a disagreement on format's image in is this
	// divergence: ours is the parser's code, qemuSize qemu-img's size
	// (-1: refused) and stderr its message.
	match func(format uint32, in []byte, ours uint32, qemuSize int64, stderr string) bool
}

// divergences are those of docs/formats-matrix.md that a single file can
// show.
var divergences = []divergence{
	{
		// vmdk: "extent files are not opened (qemu refuses missing
		// ones)": the guest sees only the descriptor.
		name: "vmdk-extents-not-opened",
		match: func(format uint32, _ []byte, ours uint32, qemuSize int64, stderr string) bool {
			return format == shared.FormatVmdk && ours == shared.CreateErrOK && qemuSize < 0 &&
				strings.Contains(stderr, "': Could not open '")
		},
	},
}

// fuzzAgainstQemu is the differential target of format (qemu-img's name
// fmtName, files named *.ext), seeded with its parser targets' corpora.
func fuzzAgainstQemu(f *testing.F, format uint32, fmtName, ext string) {
	if os.Getenv("INSTAR_FUZZ_QEMU") == "" {
		f.Skip("runs qemu-img per input: set INSTAR_FUZZ_QEMU=1 (mage fuzz does)")
	}
	if _, err := os.Stat(qemuImg); err != nil {
		f.Skipf("%s not available: %v", qemuImg, err)
	}
	for _, target := range parserTargets[format] {
		for _, in := range readCorpus(f, target) {
			f.Add(in)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		im := decodeImage(in)
		fixChecksums(im, format)
		p := filepath.Join(t.TempDir(), "img."+ext)
		if err := im.writeFile(p); err != nil {
			t.Fatal(err)
		}
		got, code := Parse(format, im, im.size, MinScratch(format))
		want, stderr := qemuInfoSize(t, p, fmtName)
		if want == qemuTimedOut {
			// No verdict to compare with; the parser has finished, within
			// its own CPU bound, to get here.
			t.Skip(stderr)
		}
		if format == shared.FormatVmdk && want < 0 && strings.Contains(stderr, "Assertion `s->num_extents' failed") {
			want = 0 // qemu-img create opens it fine: see qemuBackingSize
		}
		// The host takes the parser's size down to whole sectors, as
		// qemu's block layer does (a qcow2 of 1000 bytes is 512).
		if (want < 0 && code != shared.CreateErrOK) || (code == shared.CreateErrOK && int64(got.VirtualSize&^511) == want) {
			return
		}
		for _, d := range divergences {
			if d.match(format, in, code, want, stderr) {
				return
			}
		}
		t.Fatalf("qemu-img gives size %d (%s); the parser %+v, code %d", want,
			strings.TrimSpace(string(bytes.ToValidUTF8([]byte(stderr), []byte("?")))), got, code)
	})
}

func FuzzQemuQcow2(f *testing.F) { fuzzAgainstQemu(f, shared.FormatQcow2, "qcow2", "qcow2") }

func FuzzQemuVmdk(f *testing.F) { fuzzAgainstQemu(f, shared.FormatVmdk, "vmdk", "vmdk") }

func FuzzQemuVpc(f *testing.F) { fuzzAgainstQemu(f, shared.FormatVpc, "vpc", "vhd") }

func FuzzQemuVhdx(f *testing.F) { fuzzAgainstQemu(f, shared.FormatVhdx, "vhdx", "vhdx") }
