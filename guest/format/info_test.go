package format

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"instar/imginfo"
	"instar/shared"
)

// infoSample is one image qemu-img (and qemu-io) make for the info tests.
type infoSample struct {
	name, format string
	// make builds the image at path with qemu's tools.
	make [][]string
}

func run(t *testing.T, dir string, args ...string) {
	t.Helper()
	if craftCommand(t, dir, args) {
		return
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v: %s", args, err, out)
	}
}

// infoSamples are images in the shapes info reports differently.
func infoSamples() []infoSample {
	c := func(args ...string) []string { return append([]string{"qemu-img", "create", "-q"}, args...) }
	io := func(img string, cmds ...string) []string {
		a := []string{"qemu-io", "-f", "qcow2"}
		for _, x := range cmds {
			a = append(a, "-c", x)
		}
		return append(a, img)
	}
	return []infoSample{
		{"raw", "raw", [][]string{c("-f", "raw", "img", "1000")}},
		{"qcow2", "qcow2", [][]string{c("-f", "qcow2", "img", "10M")}},
		{"qcow2-v2", "qcow2", [][]string{c("-f", "qcow2", "-o", "compat=0.10", "img", "10M")}},
		{"qcow2-options", "qcow2", [][]string{c("-f", "qcow2", "-o", "cluster_size=4096,lazy_refcounts=on,refcount_bits=1,compression_type=zstd", "img", "1G")}},
		{"qcow2-extl2", "qcow2", [][]string{c("-f", "qcow2", "-o", "extended_l2=on,cluster_size=2M", "img", "64G")}},
		{"qcow2-backing", "qcow2", [][]string{c("-f", "raw", "base", "1M"), c("-f", "qcow2", "-b", "base", "-F", "raw", "img")}},
		{"qcow2-backing-json", "qcow2", [][]string{c("-f", "qcow2", "-u", "-b", "json:{\"a\":1}", "-F", "qcow2", "img", "1M")}},
		{"qcow2-datafile", "qcow2", [][]string{c("-f", "qcow2", "-o", "data_file=img.data,data_file_raw=on", "img", "1M")}},
		{"qcow2-snapshots", "qcow2", [][]string{c("-f", "qcow2", "img", "4M"),
			io("img", "write 0 64k"), {"qemu-img", "snapshot", "-c", "first", "img"},
			io("img", "write 64k 64k"), {"qemu-img", "snapshot", "-c", "a second, longer name", "img"}}},
		{"qcow2-bitmaps", "qcow2", [][]string{c("-f", "qcow2", "img", "4M"),
			{"qemu-img", "bitmap", "--add", "img", "b0"},
			{"qemu-img", "bitmap", "--add", "-g", "1M", "img", "b1"},
			{"qemu-img", "bitmap", "--add", "--disable", "img", "b2"}}},
		{"vmdk", "vmdk", [][]string{c("-f", "vmdk", "img", "10M")}},
		{"vmdk-stream", "vmdk", [][]string{c("-f", "vmdk", "-o", "subformat=streamOptimized", "img", "10M")}},
		{"vmdk-flat", "vmdk", [][]string{c("-f", "vmdk", "-o", "subformat=monolithicFlat", "img", "10M")}},
		{"vmdk-2gflat", "vmdk", [][]string{c("-f", "vmdk", "-o", "subformat=twoGbMaxExtentFlat", "img", "5G")}},
		{"vmdk-child", "vmdk", [][]string{c("-f", "vmdk", "base.vmdk", "10M"), c("-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", "img")}},
		{"vmdk-2gsparse", "vmdk", [][]string{c("-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", "img", "5G")}},
		{"vmdk-2gsparse-child", "vmdk", [][]string{c("-f", "vmdk", "base.vmdk", "3G"),
			c("-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", "-b", "base.vmdk", "-F", "vmdk", "img")}},
		// A parentFileNameHint of up to 4095 bytes, as qemu keeps it.
		{"vmdk-longhint", "vmdk", [][]string{c("-f", "vmdk", "base.vmdk", "1M"),
			c("-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", "-b", "base.vmdk", "-F", "vmdk", "img"),
			{"sed", "-i", `s|parentFileNameHint="base.vmdk"|parentFileNameHint="` + strings.Repeat("d/", 1500) + `b"|`, "img"}}},
		{"vmdk-cowd", "vmdk", [][]string{{"craft-cowd", "img", "20480", "8"}}},
		{"vmdk-vmfssparse", "vmdk", [][]string{{"craft-cowd", "c.vmdk", "2048", "16"}, c("-f", "vmdk", "s.vmdk", "1M"),
			{"craft-desc", "img", "vmfsSparse", `RW 2048 VMFSSPARSE "c.vmdk"`, `RW 4096 VMFSSPARSE "s.vmdk"`}}},
		{"vmdk-sesparse", "vmdk", [][]string{{"craft-sesparse", "e.vmdk", "20480"}, {"craft-sesparse", "f.vmdk", "2048"},
			{"craft-desc", "img", "seSparse", `RW 20480 SESPARSE "e.vmdk"`, `RW 2048 SESPARSE "f.vmdk"`}}},
		{"vmdk-vmfs", "vmdk", [][]string{{"truncate", "-s", "1M", "f.vmdk"}, {"craft-desc", "img", "vmfs", `RW 2048 VMFS "f.vmdk"`}}},
		{"vmdk-mixed", "vmdk", [][]string{{"truncate", "-s", "1M", "f.vmdk"}, c("-f", "vmdk", "-o", "subformat=streamOptimized", "s.vmdk", "2M"),
			{"craft-desc", "img", "twoGbMaxExtentSparse", `RW 4096 SPARSE "s.vmdk"`, `RW 2048 FLAT "f.vmdk" 0`}}},
		{"vpc", "vpc", [][]string{c("-f", "vpc", "img", "10M")}},
		{"vpc-fixed", "vpc", [][]string{c("-f", "vpc", "-o", "subformat=fixed", "img", "10M")}},
		{"vhdx", "vhdx", [][]string{c("-f", "vhdx", "img", "10M")}},
		{"vhdx-block", "vhdx", [][]string{c("-f", "vhdx", "-o", "block_size=1M", "img", "100M")}},
	}
}

// qemuInfo is qemu-img info's JSON for path (with -f format when set),
// or nil when qemu-img refuses it.
func qemuInfo(t *testing.T, path, format string) *imginfo.ImageInfo {
	t.Helper()
	args := []string{"info", "-U", "--output=json"}
	if format != "" {
		args = append(args, "-f", format)
	}
	out, err := exec.Command("qemu-img", append(args, path)...).Output()
	if err != nil {
		return nil
	}
	var info imginfo.ImageInfo
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("qemu-img info %s: %v", path, err)
	}
	return &info
}

// compareInfo says how the driver's report differs from qemu-img's.
func compareInfo(got InfoResult, want *imginfo.ImageInfo) error {
	if name := formatName(got.Format); name != want.Format {
		return fmt.Errorf("format %s, qemu-img %s", name, want.Format)
	}
	if int64(got.VirtualSize) != want.VirtualSize {
		return fmt.Errorf("virtual size %d, qemu-img %d", got.VirtualSize, want.VirtualSize)
	}
	if got.HasClusterSize != (want.ClusterSize != nil) || want.ClusterSize != nil && int64(got.ClusterSize) != *want.ClusterSize {
		return fmt.Errorf("cluster size %v %d, qemu-img %v", got.HasClusterSize, got.ClusterSize, want.ClusterSize)
	}
	if (want.DirtyFlag == nil) != got.NoDirtyFlag || want.DirtyFlag != nil && got.Dirty != *want.DirtyFlag {
		return fmt.Errorf("dirty %v (none: %v), qemu-img %v", got.Dirty, got.NoDirtyFlag, want.DirtyFlag)
	}
	if !sameStr(got.Backing, want.BackingFilename) || !sameStr(got.BackingFormat, want.BackingFilenameFormat) {
		return fmt.Errorf("backing %v %v, qemu-img %v %v", str(got.Backing), str(got.BackingFormat),
			str(want.BackingFilename), str(want.BackingFilenameFormat))
	}
	if len(got.SnapshotList) != len(want.Snapshots) {
		return fmt.Errorf("%d snapshots, qemu-img %d", len(got.SnapshotList), len(want.Snapshots))
	}
	for k, s := range got.SnapshotList {
		w := want.Snapshots[k]
		if s.ID != w.ID || s.Name != w.Name || int64(s.VMStateSize) != w.VMStateSize || int64(s.DateSec) != w.DateSec ||
			int64(s.DateNsec) != w.DateNsec || int64(s.VMClockNsec) != w.VMClockSec*1e9+w.VMClockNsec ||
			s.HasICount != (w.ICount != nil) {
			return fmt.Errorf("snapshot %d: %+v, qemu-img %+v", k, s, w)
		}
	}
	switch spec := want.FormatSpecific.(type) {
	case *imginfo.ImageInfoSpecificQCow2:
		compat := map[uint32]string{2: "0.10", 3: "1.1"}[got.Qcow2Version]
		ct := map[uint32]string{0: "zlib", 1: "zstd"}[got.Qcow2CompressionType]
		if compat != spec.Compat || int64(got.Qcow2RefcountBits) != spec.RefcountBits || ct != spec.CompressionType {
			return fmt.Errorf("qcow2 %s %d %s, qemu-img %s %d %s", compat, got.Qcow2RefcountBits, ct,
				spec.Compat, spec.RefcountBits, spec.CompressionType)
		}
		if spec.LazyRefcounts != nil && (*spec.LazyRefcounts != got.Qcow2LazyRefcounts ||
			*spec.Corrupt != got.Qcow2Corrupt || *spec.ExtendedL2 != got.Qcow2ExtendedL2) {
			return fmt.Errorf("qcow2 flags %v %v %v, qemu-img %v %v %v", got.Qcow2LazyRefcounts, got.Qcow2Corrupt,
				got.Qcow2ExtendedL2, *spec.LazyRefcounts, *spec.Corrupt, *spec.ExtendedL2)
		}
		if !sameStr(got.Qcow2DataFile, spec.DataFile) {
			return fmt.Errorf("data file %v, qemu-img %v", str(got.Qcow2DataFile), str(spec.DataFile))
		}
		if len(got.BitmapList) != len(spec.Bitmaps) {
			return fmt.Errorf("%d bitmaps, qemu-img %d", len(got.BitmapList), len(spec.Bitmaps))
		}
		for k, b := range got.BitmapList {
			w := spec.Bitmaps[k]
			flags := []string{}
			if b.InUse {
				flags = append(flags, "in-use")
			}
			if b.Auto {
				flags = append(flags, "auto")
			}
			if b.Name != w.Name || uint32(1)<<b.GranularityBits != w.Granularity || fmt.Sprint(flags) != fmt.Sprint(w.Flags) {
				return fmt.Errorf("bitmap %d: %+v, qemu-img %+v", k, b, w)
			}
		}
	case *imginfo.ImageInfoSpecificVMDK:
		// qemu prints a create type it has none of (a COWD image's) as "".
		ct := ""
		if got.VmdkCreateType != nil {
			ct = *got.VmdkCreateType
		}
		if int64(got.VmdkCID) != spec.CID || int64(got.VmdkParentCID) != spec.ParentCID || ct != spec.CreateType {
			return fmt.Errorf("vmdk %d %d %s, qemu-img %d %d %s", got.VmdkCID, got.VmdkParentCID, str(got.VmdkCreateType),
				spec.CID, spec.ParentCID, spec.CreateType)
		}
		if len(got.ExtentList) != len(spec.Extents) {
			return fmt.Errorf("%d extents, qemu-img %d", len(got.ExtentList), len(spec.Extents))
		}
		for k, e := range got.ExtentList {
			w := spec.Extents[k]
			if e.Type != w.Format || int64(e.VirtualSize) != w.VirtualSize || e.Compressed != (w.Compressed != nil && *w.Compressed) ||
				e.HasClusterSize != (w.ClusterSize != nil) || w.ClusterSize != nil && int64(e.ClusterSize) != *w.ClusterSize ||
				e.Index > 0 && e.Name != filepath.Base(w.Filename) {
				return fmt.Errorf("extent %d: %+v, qemu-img %+v", k, e, w)
			}
		}
	case nil:
		if got.Format == shared.FormatQcow2 || got.Format == shared.FormatVmdk {
			return fmt.Errorf("qemu-img reports no format-specific data")
		}
	}
	return nil
}

// sameStr says whether the driver's name a is qemu-img's b, which its
// JSON gives with each byte that is not UTF-8 as U+FFFD.
func sameStr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	var s string
	if j, err := json.Marshal(*a); err != nil || json.Unmarshal(j, &s) != nil {
		return false
	}
	return s == *b
}

func str(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}

// makeInfoSamples builds every sample in a directory of its own and
// returns each one's image path.
func makeInfoSamples(t *testing.T) map[string]string {
	t.Helper()
	needQemuImg(t)
	dir := t.TempDir()
	paths := map[string]string{}
	for _, s := range infoSamples() {
		sub := filepath.Join(dir, s.name)
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, c := range s.make {
			run(t, sub, c...)
		}
		paths[s.name] = filepath.Join(sub, "img")
	}
	return paths
}

// TestInfoAgainstQemuImg holds every driver's info entry point to
// qemu-img info on its samples, probed and with the format given.
func TestInfoAgainstQemuImg(t *testing.T) {
	paths := makeInfoSamples(t)
	for _, s := range infoSamples() {
		data, err := os.ReadFile(paths[s.name])
		if err != nil {
			t.Fatal(err)
		}
		for _, given := range []bool{false, true} {
			format, qformat := uint32(0), ""
			if given {
				format, qformat = formatNumber(s.format), s.format
			}
			want := qemuInfo(t, paths[s.name], qformat)
			if want == nil {
				t.Fatalf("%s: qemu-img refuses its own sample", s.name)
			}
			got, code := infoPath(t, format, paths[s.name], data)
			if code != shared.InfoErrOK {
				t.Errorf("%s (-f %q): info = %d (%s), qemu-img accepts it", s.name, qformat, code, got.Reason)
				continue
			}
			if err := compareInfo(got, want); err != nil {
				t.Errorf("%s (-f %q): %v", s.name, qformat, err)
			}
		}
	}
}

// TestInfoMutationsAgainstQemuImg mutates the samples with a seeded
// generator (bytes of the first 4 KiB, and the header fields qemu
// checks) and holds each driver to qemu-img's verdict: both refuse, or
// both accept and report the same.
func TestInfoMutationsAgainstQemuImg(t *testing.T) {
	paths := makeInfoSamples(t)
	rng := rand.New(rand.NewSource(12))
	var agree, mismatches int
	for _, s := range infoSamples() {
		orig, err := os.ReadFile(paths[s.name])
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 40; k++ {
			d := bytes.Clone(orig)
			mutate(rng, d, s.format)
			// Beside its sample, so that a vmdk's extent files resolve.
			p := filepath.Join(filepath.Dir(paths[s.name]), fmt.Sprintf("m%d", k))
			if err := os.WriteFile(p, d, 0o644); err != nil {
				t.Fatal(err)
			}
			want := qemuInfo(t, p, s.format)
			got, code := infoPath(t, formatNumber(s.format), p, d)
			if code == shared.InfoErrNeedExtents {
				code = shared.InfoErrReadFailed // an extent file is missing: the host refuses the image
			}
			if code == shared.InfoErrOK && !extentsExist(filepath.Dir(p), got) {
				code = shared.InfoErrReadFailed // the host cannot open them: it refuses the image
			}
			switch {
			case want == nil && code != shared.InfoErrOK, want != nil && code == shared.InfoErrOK && compareInfo(got, want) == nil:
				agree++
			default:
				mismatches++
				detail := got.Reason
				if want != nil && code == shared.InfoErrOK {
					detail = compareInfo(got, want).Error()
				}
				t.Errorf("%s mutation %d: info %d (%s), qemu-img accepts: %v", s.name, k, code, detail, want != nil)
			}
		}
	}
	t.Logf("%d mutated images agree with qemu-img, %d do not", agree, mismatches)
}

// extentsExist says whether every extent file the driver names exists in
// dir, as the host's open of them would find.
func extentsExist(dir string, r InfoResult) bool {
	for _, e := range r.ExtentList {
		if e.Index == 0 {
			continue
		}
		name := e.Name
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		if _, err := os.Stat(name); err != nil {
			return false
		}
	}
	return true
}

// mutate changes d in place: a few random bytes in the first 4 KiB, or
// (for qcow2) a header field set to a boundary value.
func mutate(rng *rand.Rand, d []byte, format string) {
	if format == "qcow2" && rng.Intn(2) == 0 {
		fields := []struct{ off, size int }{{4, 4}, {16, 4}, {20, 4}, {24, 8}, {32, 4}, {36, 4}, {40, 8}, {48, 8},
			{56, 4}, {60, 4}, {64, 8}, {72, 8}, {80, 8}, {88, 8}, {96, 4}, {100, 4}, {104, 1}}
		f := fields[rng.Intn(len(fields))]
		vals := []uint64{0, 1, 2, 3, 7, 8, 9, 21, 22, 104, 112, 0xffffffff, 1 << 31, 1 << 40, 1<<63 - 1, 1 << 63}
		v := vals[rng.Intn(len(vals))]
		if f.off+f.size > len(d) {
			return
		}
		switch f.size {
		case 1:
			d[f.off] = byte(v)
		case 4:
			binary.BigEndian.PutUint32(d[f.off:], uint32(v))
		case 8:
			binary.BigEndian.PutUint64(d[f.off:], v)
		}
		return
	}
	n := min(len(d), 4096)
	for k := rng.Intn(3) + 1; k > 0; k-- {
		d[rng.Intn(n)] ^= byte(rng.Intn(255) + 1)
	}
}
