//go:build cgo

package format

import (
	"encoding/binary"
	"os"
	"sort"
	"strings"
	"testing"

	"instar/shared"
)

// inspectScratch is what the inspect guest has, about.
const inspectScratch = 12 << 20

// checkNames are a verdict's failed checks by name, sorted, each once.
func checkNames(r InspectResult) []string {
	seen := map[string]bool{}
	var names []string
	for _, f := range r.FailureList {
		n := shared.InspectChecks[f.Check].Name
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// TestInspectSamples inspects the images qemu-img makes for the info
// tests: each is safe, or fails exactly the checks listed.
func TestInspectSamples(t *testing.T) {
	paths := makeInfoSamples(t)
	want := map[string][]string{
		"qcow2-backing":      {"backing_file"},
		"qcow2-backing-json": {"backing_file", "protocol"},
		"qcow2-datafile":     {"data_file"},
		"vmdk-flat":          {"descriptor"},
		"vmdk-2gflat":        {"descriptor"},
	}
	formats := map[string]uint32{"raw": shared.InspectFmtRaw, "qcow2": shared.InspectFmtQcow2,
		"vmdk": shared.InspectFmtVmdk, "vpc": shared.InspectFmtVpc, "vhdx": shared.InspectFmtVhdx}
	for _, s := range infoSamples() {
		data, err := os.ReadFile(paths[s.name])
		if err != nil {
			t.Fatal(err)
		}
		got, code := Inspect(bytesReader(data), int64(len(data)), inspectScratch)
		if code != shared.InspectErrOK {
			t.Errorf("%s: inspect = %d", s.name, code)
			continue
		}
		wantFormat := formats[s.format]
		if s.name == "vpc-fixed" {
			wantFormat = shared.InspectFmtRaw // its footer is at the end: qemu probes it as raw
		}
		if got.Format != wantFormat {
			t.Errorf("%s: format %d, want %d", s.name, got.Format, wantFormat)
		}
		if g, w := strings.Join(checkNames(got), ","), strings.Join(want[s.name], ","); g != w {
			t.Errorf("%s: failed checks %q, want %q (%v)", s.name, g, w, got.FailureList)
		}
		if int(got.Failures) != len(got.FailureList) {
			t.Errorf("%s: %d failures counted, %d sent", s.name, got.Failures, len(got.FailureList))
		}
		if !got.HasVirtualSize && len(want[s.name]) == 0 {
			t.Errorf("%s: safe but no virtual size", s.name)
		}
	}
}

// TestInspectUnsafeShapes edits qemu-img's images into the shapes the
// checks refuse; each must fail the checks listed (and may fail open).
func TestInspectUnsafeShapes(t *testing.T) {
	paths := makeInfoSamples(t)
	read := func(name string) []byte {
		d, err := os.ReadFile(paths[name])
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// descriptor returns a sparse vmdk's embedded descriptor region.
	descriptor := func(d []byte) []byte {
		off := binary.LittleEndian.Uint64(d[28:]) * 512
		size := binary.LittleEndian.Uint64(d[36:]) * 512
		return d[off : off+size]
	}
	replaceIn := func(region []byte, old, new string) {
		i := strings.Index(string(region), old)
		if i < 0 {
			t.Fatalf("%q not in the descriptor", old)
		}
		copy(region[i:], new)
	}
	cases := []struct {
		name, sample string
		edit         func(d []byte) []byte
		want         []string
	}{
		{"qcow2 version 4", "qcow2", func(d []byte) []byte { binary.BigEndian.PutUint32(d[4:], 4); return d },
			[]string{"unknown_features"}},
		{"qcow2 unknown incompatible bit", "qcow2", func(d []byte) []byte { d[72+6] |= 0x80; return d },
			[]string{"unknown_features"}},
		{"qcow2 data file bit without a name", "qcow2", func(d []byte) []byte { d[72+7] |= 0x04; return d },
			[]string{"data_file", "data_file_extension"}},
		{"qcow2 data file name without the bit", "qcow2-datafile", func(d []byte) []byte { d[72+7] &^= 0x04; return d },
			[]string{"data_file_extension"}},
		{"qcow2 backing offset, header unreadable", "qcow2-backing", func(d []byte) []byte {
			binary.BigEndian.PutUint64(d[24:], 1<<62) // a size qemu refuses
			return d
		}, []string{"backing_file"}},
		{"vmdk unknown descriptor line", "vmdk", func(d []byte) []byte {
			replaceIn(descriptor(d), "# Extent description", "rm -rf /home/a/b/cc")
			return d
		}, []string{"descriptor"}},
		{"vmdk extent in another directory", "vmdk", func(d []byte) []byte {
			replaceIn(descriptor(d), "RW 20480 SPARSE \"img\"", "RW 20480 SPARSE \"/e/x\"")
			return d
		}, []string{"descriptor"}},
		{"vmdk no extent", "vmdk", func(d []byte) []byte {
			replaceIn(descriptor(d), "RW 20480 SPARSE \"img\"", "#W 20480 SPARSE \"img\"")
			return d
		}, []string{"descriptor"}},
		{"vmdk other createType", "vmdk", func(d []byte) []byte {
			replaceIn(descriptor(d), "createType=\"monolithicSparse\"", "createType=\"vmfsSparse\"      ")
			return d
		}, []string{"descriptor"}},
		{"vmdk descriptor moved", "vmdk", func(d []byte) []byte { binary.LittleEndian.PutUint64(d[28:], 2); return d },
			[]string{"descriptor"}},
		{"vmdk child of another image", "vmdk", func(d []byte) []byte {
			replaceIn(descriptor(d), "# Extent description", "parentFileNameHint=b")
			return d
		}, []string{"backing_file"}},
		{"streamOptimized with a footer", "vmdk-stream", withFooter, nil},
		{"streamOptimized bad end-of-stream marker", "vmdk-stream", func(d []byte) []byte {
			d = withFooter(d)
			d[len(d)-1] = 1
			return d
		}, []string{"footer"}},
		{"streamOptimized footer with another descriptor", "vmdk-stream", func(d []byte) []byte {
			d = withFooter(d)
			binary.LittleEndian.PutUint64(d[len(d)-1024+36:], 7)
			return d
		}, []string{"footer"}},
		{"streamOptimized footer pointing at a footer", "vmdk-stream", func(d []byte) []byte {
			d = withFooter(d)
			binary.LittleEndian.PutUint64(d[len(d)-1024+56:], ^uint64(0))
			return d
		}, []string{"footer"}},
		{"streamOptimized bad footer marker", "vmdk-stream", func(d []byte) []byte {
			d = withFooter(d)
			d[len(d)-1536+12] = 2
			return d
		}, []string{"footer"}},
	}
	for _, c := range cases {
		d := c.edit(read(c.sample))
		got, code := Inspect(bytesReader(d), int64(len(d)), inspectScratch)
		if code != shared.InspectErrOK {
			t.Errorf("%s: inspect = %d", c.name, code)
			continue
		}
		names := checkNames(got)
		have := map[string]bool{}
		for _, n := range names {
			have[n] = true
		}
		for _, w := range c.want {
			if !have[w] {
				t.Errorf("%s: failed %v, want %s among them (%v)", c.name, names, w, got.FailureList)
			}
		}
		for _, n := range names {
			if n != "open" && !contains(c.want, n) {
				t.Errorf("%s: %s failed too (%v)", c.name, n, got.FailureList)
			}
		}
	}
}

// withFooter turns qemu-img's streamOptimized vmdk into the shape VMware
// writes: the header's grain directory offset "at the end", and a footer
// marker, the header as footer, and an end-of-stream marker appended.
func withFooter(d []byte) []byte {
	header := append([]byte(nil), d[:512]...)
	binary.LittleEndian.PutUint64(d[56:], ^uint64(0))
	marker := make([]byte, 512)
	binary.LittleEndian.PutUint32(marker[12:], 3)
	d = append(d, marker...)
	d = append(d, header...)
	return append(d, make([]byte, 512)...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
