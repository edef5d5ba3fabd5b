//go:build cgo

package format

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"instar/shared"
)

// qemuProbe is what qemu-img detects for path, without -f.
func qemuProbe(t *testing.T, path string) (format string, size uint64) {
	t.Helper()
	out, err := exec.Command(qemuImg, "info", "--output=json", path).Output()
	if err != nil {
		t.Fatalf("qemu-img info %s: %v", path, err)
	}
	var r struct {
		Format      string `json:"format"`
		VirtualSize uint64 `json:"virtual-size"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	return r.Format, r.VirtualSize
}

// Images of every format and subformat qemu-img can make, probed by us and
// by qemu-img: same format, same virtual size.
func TestProbeQemuImages(t *testing.T) {
	needQemuImg(t)
	dir := t.TempDir()
	type img struct{ name, fmt, opts, size string }
	imgs := []img{
		{"raw0", "raw", "", "0"}, {"raw", "raw", "", "1000"}, {"raw1m", "raw", "", "1M"},
		{"q2", "qcow2", "", "1G"}, {"q2v2", "qcow2", "compat=0.10", "1536"},
		{"q2c512", "qcow2", "cluster_size=512,refcount_bits=1", "10M"},
		{"q2ext", "qcow2", "extended_l2=on,cluster_size=2M", "3T"},
		{"q2meta", "qcow2", "preallocation=metadata", "5M"},
		{"q2big", "qcow2", "", "2P"},
		{"vpc", "vpc", "", "1G"}, {"vpcfixed", "vpc", "subformat=fixed", "1M"},
		{"vpcforce", "vpc", "force_size=on", "1000M"},
		{"vhdx", "vhdx", "", "1G"}, {"vhdxfixed", "vhdx", "subformat=fixed", "8M"},
		{"vmdk", "vmdk", "", "1G"}, {"vmdkstream", "vmdk", "subformat=streamOptimized", "5M"},
		{"vmdkflat", "vmdk", "subformat=monolithicFlat", "5M"},
		{"vmdk2g", "vmdk", "subformat=twoGbMaxExtentSparse", "5M"},
	}
	for _, m := range imgs {
		p := filepath.Join(dir, m.name)
		args := []string{"-f", m.fmt}
		if m.opts != "" {
			args = append(args, "-o", m.opts)
		}
		if out, err := qemuCreate(append(args, p, m.size)...); err != nil {
			t.Fatalf("%s: %v %s", m.name, err, out)
		}
	}
	for _, m := range imgs {
		t.Run(m.name, func(t *testing.T) {
			p := filepath.Join(dir, m.name)
			wantFmt, wantSize := qemuProbe(t, p)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			f, code := Detect(bytesReader(data), int64(len(data)), DetectMinScratch)
			if code != shared.CreateErrOK || f != formatNumber(wantFmt) {
				t.Fatalf("fmt_detect = %d (code %d), qemu-img says %s", f, code, wantFmt)
			}
			got, code := Probe(bytesReader(data), int64(len(data)), scratchDefault)
			if code != shared.CreateErrOK {
				t.Fatalf("fmt_probe = %d, qemu-img says %s %d", code, wantFmt, wantSize)
			}
			if got.Format != formatNumber(wantFmt) || got.VirtualSize != wantSize {
				t.Fatalf("fmt_probe = %+v, qemu-img says %s %d", got, wantFmt, wantSize)
			}
		})
	}
}

// Text descriptors: qemu accepts comments and blank lines before
// "version=N".
func TestDetectVmdkText(t *testing.T) {
	for _, c := range []struct {
		text string
		vmdk bool
	}{
		{"# Disk DescriptorFile\nversion=1\nCID=1\n", true},
		{"version=3\r\n", true},
		{"# a\n   \n# b\r\n  \r\nversion=2\n", true},
		{"# only comments\n", false},
		{"version=4\n", false},
		{"version=1", false},
		{"Version=1\n", false},
		{" x\nversion=1\n", false},
		{"\nversion=1\n", false}, // an empty line is not blank to qemu
		{"# Disk DescriptorFile\nCID=1\nversion=1\n", false},
	} {
		var f uint32
		code := detectOnly(t, []byte(c.text), &f)
		if code != shared.CreateErrOK || (f == shared.FormatVmdk) != c.vmdk {
			t.Errorf("%q: code %d format %d, want vmdk=%v", c.text, code, f, c.vmdk)
		}
	}
}

// Formats qemu would open but instar cannot: refused, not taken for raw.
func TestDetectOtherFormats(t *testing.T) {
	vdi := make([]byte, 512)
	vdi[0x40], vdi[0x41], vdi[0x42], vdi[0x43] = 0x7f, 0x10, 0xda, 0xbe
	for name, data := range map[string][]byte{
		"qcow1":     append([]byte("QFI\xfb\x00\x00\x00\x01"), make([]byte, 64)...),
		"qed":       append([]byte("QED\x00"), make([]byte, 64)...),
		"vdi":       vdi,
		"parallels": []byte("WithoutFreeSpace........"),
		"bochs":     []byte("Bochs Virtual HD Image\x00\x00"),
		"luks":      []byte("LUKS\xba\xbe\x00\x01"),
	} {
		var f uint32
		if code := detectOnly(t, data, &f); code != shared.CreateErrBackingFormat {
			t.Errorf("%s: code %d format %d", name, code, f)
		}
	}
	// and qemu agrees that they are not raw
	needQemuImg(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "q")
	if out, err := qemuCreate("-f", "qed", p, "1M"); err != nil {
		t.Fatal(err, out)
	}
	if f, _ := qemuProbe(t, p); f != "qed" {
		t.Fatalf("qemu-img probes qed as %s", f)
	}
}

func detectOnly(t *testing.T, data []byte, f *uint32) uint32 {
	t.Helper()
	var code uint32
	*f, code = Detect(bytesReader(data), int64(len(data)), DetectMinScratch)
	return code
}

// errReader fails every read.
type errReader struct{}

func (errReader) ReadAt(p []byte, off int64) (int, error) { return 0, errors.New("I/O error") }

func TestProbeErrors(t *testing.T) {
	if _, code := Probe(errReader{}, 4096, scratchDefault); code != shared.CreateErrBackingReadFailed {
		t.Errorf("read failure: %d", code)
	}
	data := make([]byte, 4096)
	if _, code := Probe(bytesReader(data), 4096, DetectMinScratch-1); code != shared.CreateErrScratchTooSmall {
		t.Errorf("small scratch: %d", code)
	}
	if _, code := Parse(99, bytesReader(data), 4096, scratchDefault); code != shared.CreateErrBackingFormat {
		t.Errorf("unknown format: %d", code)
	}
	got, code := Parse(shared.FormatRaw, bytesReader(data[:1000]), 1000, 0)
	if code != shared.CreateErrOK || got.Format != shared.FormatRaw || got.VirtualSize != 1000 {
		t.Errorf("raw: %+v %d", got, code)
	}
	got, code = Probe(bytesReader(nil), 0, scratchDefault)
	if code != shared.CreateErrOK || got.Format != shared.FormatRaw || got.VirtualSize != 0 {
		t.Errorf("empty: %+v %d", got, code)
	}
}
