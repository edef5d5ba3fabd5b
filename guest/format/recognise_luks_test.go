//go:build cgo

package format

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"instar/shared"
)

// TestLuksAgainstQemu: a LUKS1 header made by cryptsetup, with edits, is
// refused by the luks recogniser exactly when qemu-img info refuses to
// open it, with qemu's message; otherwise its virtual size is qemu's
// (qemu-img info needs no key for it).
func TestLuksAgainstQemu(t *testing.T) {
	needQemuImg(t)
	if _, err := exec.LookPath("cryptsetup"); err != nil {
		t.Fatalf("cryptsetup is needed (mage check installs it): %v", err)
	}
	base := luks("luks1")(t, t.TempDir())
	slot := func(i, field int) int { return 208 + 48*i + field }
	set := func(off int, v uint32) func(b []byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint32(b[off:], v); return b }
	}
	fill := func(off int) func(b []byte) []byte {
		return func(b []byte) []byte { copy(b[off:off+32], bytes.Repeat([]byte("a"), 32)); return b }
	}
	cases := []struct {
		name string
		edit func(b []byte) []byte
	}{
		{"as made", func(b []byte) []byte { return b }},
		{"odd size", func(b []byte) []byte { return append(b, 1) }},
		{"cipher name unterminated", fill(8)},
		{"cipher mode unterminated", fill(40)},
		{"hash spec unterminated", fill(72)},
		{"payload in the header", set(104, 1)},
		{"payload offset 2^32-1", set(104, 0xffffffff)},
		{"key iterations zero", set(164, 0)},
		{"slot 3 stripes 5", set(slot(3, 44), 5)},
		{"slot 1 stripes 2^32-1", set(slot(1, 44), 0xffffffff)},
		{"slot 2 state", set(slot(2, 0), 1)},
		{"slot 0 iterations zero", set(slot(0, 4), 0)},
		{"slot 1 disabled iterations zero", set(slot(1, 4), 0)},
		{"slot 0 in the header", set(slot(0, 40), 1)},
		{"slot 7 over the payload", set(slot(7, 40), 4000)},
		{"slot 7 wrapping", set(slot(7, 40), 0xffffff00)},
		{"slots 4 and 5 overlap", func(b []byte) []byte {
			copy(b[slot(5, 40):slot(5, 44)], b[slot(4, 40):slot(4, 44)])
			return b
		}},
		{"two faults: qemu's first", func(b []byte) []byte { return set(slot(2, 0), 1)(set(164, 0)(b)) }},
		{"payload past the end", func(b []byte) []byte { return b[:1<<20] }},
		{"header only", func(b []byte) []byte { return b[:4096] }},
		{"magic and version only", func(b []byte) []byte { return b[:8] }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.edit(bytes.Clone(base))
			p := filepath.Join(t.TempDir(), "img")
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd := exec.Command(qemuImg, "info", "--output=json", p)
			cmd.Stderr = &stderr
			out, qerr := cmd.Output()
			var res Recognised
			for i := range RecogniserCount() {
				if r, ok := Recognise(i, bytes.NewReader(b), int64(len(b)), 64<<10); ok && r.Format == shared.InspectFmtLuks {
					res = r
				}
			}
			if !res.Matched {
				t.Fatal("luks did not match")
			}
			if qerr != nil {
				want, ok := strings.CutPrefix(strings.TrimSpace(stderr.String()), "qemu-img: Could not open '"+p+"': ")
				if !ok {
					t.Fatalf("qemu-img: %s", stderr.String())
				}
				if len(res.Failures) != 1 || res.Failures[0].Check != shared.InspectCheckOpen || res.Failures[0].Reason != want || res.HasVirtualSize {
					t.Errorf("qemu refuses: %q; inspect: %+v", want, res.Failures)
				}
				return
			}
			var info struct {
				Format      string `json:"format"`
				VirtualSize uint64 `json:"virtual-size"`
			}
			if err := json.Unmarshal(out, &info); err != nil || info.Format != "luks" {
				t.Fatalf("qemu-img: %s %v", out, err)
			}
			if len(res.Failures) != 0 || !res.HasVirtualSize || res.VirtualSize != info.VirtualSize {
				t.Errorf("qemu opens it (size %d); inspect: %+v, size %v %d", info.VirtualSize, res.Failures, res.HasVirtualSize, res.VirtualSize)
			}
		})
	}
}
