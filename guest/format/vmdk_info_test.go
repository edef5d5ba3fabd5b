//go:build cgo

package format

// What the vmdk info tests share: the vmdk files qemu-img cannot create
// (COWD sparse files, vmfs and vmfsSparse descriptors), written by the
// pseudo-commands of the sample lists, and info as the host runs it over
// an image whose extent files the guest reads.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"instar/guest/format/vmdktest"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"instar/shared"
)

// craftCommand writes the file a pseudo-command names, in dir, and says
// whether a was one:
//
//	craft-cowd NAME SECTORS GRAIN      a COWD sparse file with a descriptor at sector 1
//	craft-sesparse NAME SECTORS        an ESXi seSparse extent file
//	craft-desc NAME CREATETYPE LINE... a descriptor file with these extent lines
func craftCommand(t *testing.T, dir string, a []string) bool {
	t.Helper()
	switch a[0] {
	case "craft-cowd":
		sectors, err1 := strconv.ParseUint(a[2], 10, 32)
		grain, err2 := strconv.ParseUint(a[3], 10, 32)
		if err1 != nil || err2 != nil {
			t.Fatalf("%v: bad numbers", a)
		}
		if err := os.WriteFile(filepath.Join(dir, a[1]), vmdktest.COWD(uint32(sectors), uint32(grain)), 0o644); err != nil {
			t.Fatal(err)
		}
	case "craft-sesparse":
		sectors, err := strconv.ParseUint(a[2], 10, 64)
		if err != nil {
			t.Fatalf("%v: bad number", a)
		}
		if err := os.WriteFile(filepath.Join(dir, a[1]), vmdktest.SeSparse(sectors), 0o644); err != nil {
			t.Fatal(err)
		}
	case "craft-desc":
		if err := os.WriteFile(filepath.Join(dir, a[1]), []byte(vmdktest.Descriptor(a[2], a[3:])), 0o644); err != nil {
			t.Fatal(err)
		}
	default:
		return false
	}
	return true
}

// infoPath runs info over the image at path as the host does: without
// extent files, then, when the driver asks for them, with those that
// exist in the image's directory (in order, up to the first missing).
func infoPath(t *testing.T, format uint32, path string, data []byte) (InfoResult, uint32) {
	t.Helper()
	got, code := Info(format, bytesReader(data), int64(len(data)), 4<<20)
	if code != shared.InfoErrNeedExtents {
		return got, code
	}
	var files []InfoFile
	for _, e := range got.ExtentList {
		name := e.Name
		if !filepath.IsAbs(name) {
			name = filepath.Join(filepath.Dir(path), name)
		}
		b, err := os.ReadFile(name)
		if err != nil {
			break
		}
		files = append(files, InfoFile{R: bytesReader(b), Size: int64(len(b))})
	}
	got, code, _ = InfoFiles(format, bytesReader(data), int64(len(data)), 4<<20, files)
	return got, code
}

// TestVmdkInfoExtentFiles: a descriptor with sparse extents asks for its
// files with every extent's name, reads those it is given in order, and
// asks again from the first it lacks.
func TestVmdkInfoExtentFiles(t *testing.T) {
	dir := t.TempDir()
	run(t, dir, "qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", "img", "5G")
	desc, err := os.ReadFile(filepath.Join(dir, "img"))
	if err != nil {
		t.Fatal(err)
	}
	var files []InfoFile
	for _, n := range []string{"img-s001", "img-s002", "img-s003"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, InfoFile{R: bytesReader(b), Size: int64(len(b))})
	}
	for _, c := range []struct {
		files []InfoFile
		code  uint32
		// extents is how many extents the driver sends; named, whether
		// they carry only their names.
		extents int
		named   bool
	}{
		{nil, shared.InfoErrNeedExtents, 3, true},
		{files[:0], shared.InfoErrNeedExtents, 3, true},
		{files[:2], shared.InfoErrNeedExtents, 2, false},
		{files, shared.InfoErrOK, 3, false},
	} {
		got, code, _ := InfoFiles(shared.FormatVmdk, bytesReader(desc), int64(len(desc)), 4<<20, c.files)
		if code != c.code || len(got.ExtentList) != c.extents || int(got.Extents) != c.extents {
			t.Errorf("%d files: code %d (%s), %d extents; want %d, %d", len(c.files), code, got.Reason, len(got.ExtentList), c.code, c.extents)
			continue
		}
		for k, e := range got.ExtentList {
			if e.Index != uint32(k+1) || e.Name != fmt.Sprintf("img-s%03d", k+1) || e.HasClusterSize == c.named {
				t.Errorf("%d files: extent %d: %+v", len(c.files), k, e)
			}
		}
		if code == shared.InfoErrOK && (got.VirtualSize != 5<<30 || got.ClusterSize != 65536 || got.NoDirtyFlag) {
			t.Errorf("%+v", got)
		}
	}
}

// TestVmdkExtentMutationsAgainstQemuImg sets header fields of a
// descriptor's sparse extent files (KDMV, COWD, seSparse) to boundary
// values, seeded, and holds info to qemu-img's verdict on the
// descriptor: both refuse, or both accept and report the same.
func TestVmdkExtentMutationsAgainstQemuImg(t *testing.T) {
	needQemuImg(t)
	type field struct{ off, size int }
	var accepted, refused int
	for _, c := range []struct {
		name   string
		make   [][]string
		extent string
		fields []field
	}{
		{"kdmv", [][]string{{"qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", "img", "1M"}},
			"img-s001", []field{{4, 4}, {8, 4}, {12, 8}, {20, 8}, {28, 8}, {36, 8}, {44, 4}, {48, 8}, {56, 8}, {64, 8}, {77, 2}}},
		{"cowd", [][]string{{"craft-cowd", "c.vmdk", "2048", "8"}, {"craft-desc", "img", "vmfsSparse", `RW 2048 VMFSSPARSE "c.vmdk"`}},
			"c.vmdk", []field{{0, 4}, {12, 4}, {16, 4}, {20, 4}, {24, 4}}},
		{"sesparse", [][]string{{"craft-sesparse", "e.vmdk", "2048"}, {"craft-desc", "img", "seSparse", `RW 2048 SESPARSE "e.vmdk"`}},
			"e.vmdk", []field{{0, 8}, {8, 8}, {16, 8}, {24, 8}, {32, 8}, {40, 8}, {64, 8}, {80, 8}, {128, 8}, {136, 8}, {300, 8},
				{512, 8}, {536, 8}, {600, 8}}},
	} {
		dir := t.TempDir()
		for _, a := range c.make {
			run(t, dir, a...)
		}
		img := filepath.Join(dir, "img")
		desc, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		orig, err := os.ReadFile(filepath.Join(dir, c.extent))
		if err != nil {
			t.Fatal(err)
		}
		vals := []uint64{0, 1, 2, 3, 4, 8, 64, 512, 513, 0x200000, 0x200001, 0x2000000, 0x2000001, 0xcafebabe, 0xcafecafe,
			0xffffffff, 1 << 32, 1 << 53, 1 << 54, 1<<63 - 1, 1 << 63, 1<<64 - 1}
		rng := rand.New(rand.NewSource(12))
		for k := 0; k < 60; k++ {
			f, v := c.fields[rng.Intn(len(c.fields))], vals[rng.Intn(len(vals))]
			d := bytes.Clone(orig)
			b := binary.LittleEndian.AppendUint64(nil, v)
			copy(d[f.off:f.off+f.size], b[:f.size])
			if err := os.WriteFile(filepath.Join(dir, c.extent), d, 0o644); err != nil {
				t.Fatal(err)
			}
			want := qemuInfo(t, img, "vmdk")
			got, code := infoPath(t, shared.FormatVmdk, img, desc)
			switch {
			case want == nil && code != shared.InfoErrOK:
				refused++
			case want != nil && code == shared.InfoErrOK && compareInfo(got, want) == nil:
				accepted++
			default:
				detail := got.Reason
				if want != nil && code == shared.InfoErrOK {
					detail = compareInfo(got, want).Error()
				}
				t.Errorf("%s: %d bytes at %d = %#x: info %d (%s), qemu-img accepts: %v", c.name, f.size, f.off, v, code, detail, want != nil)
			}
		}
	}
	t.Logf("%d mutated extent files accepted as qemu-img accepts them, %d refused by both", accepted, refused)
	if accepted == 0 || refused == 0 {
		t.Error("the mutations reach only one verdict")
	}
}
