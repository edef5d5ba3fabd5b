//go:build cgo

package format

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"instar/shared"
)

// vpcFooterFix rewrites both copies of a dynamic vpc's footer (at 0 and
// at the end) after f edits the first, with its checksum.
func vpcFooterFix(f func(footer []byte)) func(t testing.TB, b []byte) []byte {
	return func(t testing.TB, b []byte) []byte {
		f(b[:512])
		binary.BigEndian.PutUint32(b[64:], 0)
		var sum uint32
		for _, c := range b[:512] {
			sum += uint32(c)
		}
		binary.BigEndian.PutUint32(b[64:], ^sum)
		copy(b[len(b)-512:], b[:512])
		return b
	}
}

// TestVpcRefusalsAgainstQemu: a dynamic vpc made by qemu-img, with edits,
// fails inspect's open check exactly when qemu-img info refuses to open
// it, with qemu's message as the reason.
func TestVpcRefusalsAgainstQemu(t *testing.T) {
	needQemuImg(t)
	dyn := func(off int, v uint32) func(t testing.TB, b []byte) []byte {
		return func(t testing.TB, b []byte) []byte { binary.BigEndian.PutUint32(b[512+off:], v); return b }
	}
	cases := []struct {
		name string
		edit func(t testing.TB, b []byte) []byte
	}{
		{"as made", func(t testing.TB, b []byte) []byte { return b }},
		{"footer checksum", func(t testing.TB, b []byte) []byte { b[64] ^= 1; return b }},
		{"dynamic header magic", func(t testing.TB, b []byte) []byte { b[512] = 'X'; return b }},
		{"dynamic header past the end", vpcFooterFix(func(f []byte) { binary.BigEndian.PutUint64(f[16:], 1<<30) })},
		{"block size 1000", dyn(32, 1000)},
		{"block size 256", dyn(32, 256)},
		{"page table too small", dyn(28, 2)},
		{"max table entries 2^29", dyn(28, 1<<29)},
		{"max table entries 2^31", dyn(28, 1<<31)},
		{"table past the end", func(t testing.TB, b []byte) []byte {
			binary.BigEndian.PutUint64(b[512+16:], uint64(len(b))+4096)
			return b
		}},
		{"block past the end", func(t testing.TB, b []byte) []byte {
			table := binary.BigEndian.Uint64(b[512+16:])
			binary.BigEndian.PutUint32(b[table:], uint32(len(b)/512))
			return b
		}},
		{"size beyond 2040 GiB", vpcFooterFix(func(f []byte) {
			copy(f[28:], "qem2")
			binary.BigEndian.PutUint64(f[48:], 2041<<30)
		})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "img.vhd")
			runQemuImgIn(t, dir, "create", "-q", "-f", "vpc", p, "16M")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b = c.edit(t, b)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd := exec.Command(qemuImg, "info", "-f", "vpc", p)
			cmd.Stderr = &stderr
			qerr := cmd.Run()
			res, err := Inspect(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			if res.Format != shared.InspectFmtVpc {
				t.Fatalf("format %d", res.Format)
			}
			reason := ""
			for _, f := range res.Failures {
				if f.Check == shared.InspectCheckOpen {
					reason = f.Reason
				}
			}
			want := ""
			if qerr != nil {
				var ok bool
				if want, ok = strings.CutPrefix(strings.TrimSpace(stderr.String()), "qemu-img: Could not open '"+p+"': "); !ok {
					t.Fatalf("qemu-img: %s", stderr.String())
				}
				// An error without qemu's own message (EFBIG) names the
				// file twice; the guest, which has no name, gives the rest.
				want = strings.TrimPrefix(want, "Could not open '"+p+"': ")
			}
			if reason != want {
				t.Errorf("open failure %q, qemu-img says %q (failures %+v)", reason, want, res.Failures)
			}
		})
	}
}

// TestVhdxParentAgainstQemu: the differencing vhdx images inspect's table
// crafts are refused by qemu-img info too, and inspect's open reason is
// qemu's (its errno text: qemu has no message of its own for them).
func TestVhdxParentAgainstQemu(t *testing.T) {
	needQemuImg(t)
	for _, c := range []struct {
		name              string
		hasParent, locate bool
	}{{"both", true, true}, {"locator", false, true}, {"has parent", true, false}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "img.vhdx")
			edited(create("16M", "-f", "vhdx"), vhdxParent(c.hasParent, c.locate))(t, dir, "img.vhdx")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd := exec.Command(qemuImg, "info", p)
			cmd.Stderr = &stderr
			if cmd.Run() == nil {
				t.Fatal("qemu-img opens it")
			}
			pre := "qemu-img: Could not open '" + p + "': Could not open '" + p + "': "
			want, ok := strings.CutPrefix(strings.TrimSpace(stderr.String()), pre)
			if !ok {
				t.Fatalf("qemu-img: %s", stderr.String())
			}
			res, err := Inspect(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Failures) != 2 || res.Failures[0].Check != shared.InspectCheckOpen || res.Failures[0].Reason != want ||
				res.Failures[1].Check != shared.InspectCheckBackingFile {
				t.Errorf("qemu-img says %q; inspect: %+v", want, res.Failures)
			}
		})
	}
}
