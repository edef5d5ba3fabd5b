//go:build cgo

package format

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"instar/shared"
)

// vdiField is one header field of a vdi (offset and width in bytes).
type vdiField struct {
	off, width int
}

var (
	vdiVersion  = vdiField{0x44, 4}
	vdiHdrSize  = vdiField{0x48, 4}
	vdiType     = vdiField{0x4c, 4}
	vdiBmap     = vdiField{0x154, 4}
	vdiData     = vdiField{0x158, 4}
	vdiSector   = vdiField{0x168, 4}
	vdiDisk     = vdiField{0x170, 8}
	vdiBlock    = vdiField{0x178, 4}
	vdiBlocks   = vdiField{0x180, 4}
	vdiAlloc    = vdiField{0x184, 4}
	vdiLink     = vdiField{0x1a8, 4}
	vdiParent   = vdiField{0x1b8, 4}
	vdiTruncate = vdiField{-1, 0} // cut the file to the value's length
)

type vdiSet struct {
	f vdiField
	v uint64
}

// TestVdiAgainstQemu: a vdi made by qemu-img, with header edits, is
// refused by the vdi recogniser exactly when qemu-img info refuses to
// open it, with qemu's message as the open failure's reason (and the
// explanatory check beside it); otherwise its virtual size is qemu's.
func TestVdiAgainstQemu(t *testing.T) {
	needQemuImg(t)
	cases := []struct {
		name  string
		sets  []vdiSet
		extra []uint32 // checks failed beside open
	}{
		{"as made", nil, nil},
		{"static", nil, nil},
		{"image type 9", []vdiSet{{vdiType, 9}}, nil},
		{"header size 0", []vdiSet{{vdiHdrSize, 0}}, nil},
		{"blocks allocated beyond blocks", []vdiSet{{vdiAlloc, 100}}, nil},
		{"block map far away", []vdiSet{{vdiBmap, 0x7ffffe00}}, nil},
		{"odd disk size", []vdiSet{{vdiDisk, 0x6fff01}}, nil},
		{"largest disk", []vdiSet{{vdiDisk, 0x1fffff8000000}, {vdiBlocks, 0x1fffff80}}, nil},
		{"version 1.2", []vdiSet{{vdiVersion, 0x10002}}, nil},
		{"version 0.0", []vdiSet{{vdiVersion, 0}}, nil},
		{"unaligned block map", []vdiSet{{vdiBmap, 0x201}}, nil},
		{"unaligned data", []vdiSet{{vdiData, 0x1001}}, nil},
		{"sector size 4096", []vdiSet{{vdiSector, 4096}}, nil},
		{"block size 2M", []vdiSet{{vdiBlock, 2 << 20}}, nil},
		{"disk beyond blocks", []vdiSet{{vdiDisk, 8 << 20}}, []uint32{shared.InspectCheckVirtualSize}},
		{"odd disk beyond blocks", []vdiSet{{vdiDisk, 0x700001}}, []uint32{shared.InspectCheckVirtualSize}},
		{"too few blocks", []vdiSet{{vdiBlocks, 6}}, []uint32{shared.InspectCheckVirtualSize}},
		{"too many blocks", []vdiSet{{vdiBlocks, 0x1fffff81}}, nil},
		{"disk too large", []vdiSet{{vdiDisk, 0x1fffff8000200}, {vdiBlocks, 0x1fffff80}}, nil},
		{"disk 2^63", []vdiSet{{vdiDisk, 1 << 63}}, nil},
		{"link uuid", []vdiSet{{vdiLink, 1}}, nil},
		{"parent uuid", []vdiSet{{vdiParent, 1}}, []uint32{shared.InspectCheckBackingFile}},
		{"two faults: qemu's first", []vdiSet{{vdiSector, 1}, {vdiVersion, 3}}, nil},
		{"truncated to 256 bytes", []vdiSet{{vdiTruncate, 256}}, nil},
		{"truncated to 0x174 bytes", []vdiSet{{vdiTruncate, 0x174}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "img.vdi")
			args := []string{"create", "-q", "-f", "vdi"}
			if c.name == "static" {
				args = append(args, "-o", "static=on")
			}
			runQemuImgIn(t, dir, append(args, p, "7M")...)
			b := readFile(t, p)
			for _, s := range c.sets {
				switch s.f.width {
				case 0:
					b = b[:s.v]
				case 4:
					binary.LittleEndian.PutUint32(b[s.f.off:], uint32(s.v))
				case 8:
					binary.LittleEndian.PutUint64(b[s.f.off:], s.v)
				}
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd := exec.Command(qemuImg, "info", "--output=json", p)
			cmd.Stderr = &stderr
			out, qerr := cmd.Output()
			var res Recognised
			for i := range RecogniserCount() {
				r, ok := Recognise(i, bytes.NewReader(b), int64(len(b)), 64<<10)
				if ok && r.Format == shared.InspectFmtVdi {
					res = r
				}
			}
			if !res.Matched {
				t.Fatal("vdi did not match")
			}
			var checks []uint32
			reason := ""
			for _, f := range res.Failures {
				checks = append(checks, f.Check)
				if f.Check == shared.InspectCheckOpen {
					reason = f.Reason
				}
			}
			if qerr != nil {
				msg := strings.TrimSpace(stderr.String())
				want, ok := strings.CutPrefix(msg, "qemu-img: Could not open '"+p+"': ")
				if !ok {
					t.Fatalf("qemu-img: %s", msg)
				}
				if reason != want || !slices.Equal(checks, append([]uint32{shared.InspectCheckOpen}, c.extra...)) || res.HasVirtualSize {
					t.Errorf("qemu refuses: %q; inspect: %+v (size %v)", want, res.Failures, res.HasVirtualSize)
				}
				return
			}
			var info struct {
				Format      string `json:"format"`
				VirtualSize uint64 `json:"virtual-size"`
			}
			if err := json.Unmarshal(out, &info); err != nil {
				t.Fatal(err)
			}
			if info.Format != "vdi" {
				t.Fatalf("qemu-img reads it as %s", info.Format)
			}
			if len(res.Failures) != 0 || !res.HasVirtualSize || res.VirtualSize != info.VirtualSize {
				t.Errorf("qemu opens it (size %d); inspect: %+v, size %v %d", info.VirtualSize, res.Failures, res.HasVirtualSize, res.VirtualSize)
			}
		})
	}
}
