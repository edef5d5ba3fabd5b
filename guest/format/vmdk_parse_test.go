//go:build cgo

package format

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"instar/shared"
)

// vmdkStreamAtEnd rewrites a qemu-made streamOptimized image the way a
// streaming writer lays it out: grain directory "at the end" in the
// header, and footer marker, footer and end-of-stream marker closing the
// file.
func vmdkStreamAtEnd(d []byte) []byte {
	hdr := bytes.Clone(d[:512])
	binary.LittleEndian.PutUint64(d[56:], ^uint64(0))
	tail := make([]byte, 1536)
	binary.LittleEndian.PutUint64(tail[0:], 1)
	binary.LittleEndian.PutUint32(tail[12:], 3) // footer marker
	copy(tail[512:], hdr)
	return append(d, tail...)
}

// vmdkParseSamples makes one image of each kind with qemu-img in dir and
// returns the path of each (the descriptor for multi-file ones).
func vmdkParseSamples(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := qemuSamples(t, dir, "vmdk", "vmdk", map[string]sample{
		"sparse":      {"subformat=monolithicSparse", "1G"},
		"sparse0":     {"subformat=monolithicSparse", "0"},
		"sparse1P":    {"subformat=monolithicSparse", "1P"},
		"stream":      {"subformat=streamOptimized", "3G"},
		"flat":        {"subformat=monolithicFlat", "10M"},
		"twogbsparse": {"subformat=twoGbMaxExtentSparse", "5G"},
		"twogbflat":   {"subformat=twoGbMaxExtentFlat", "3000"},
		"flat0":       {"subformat=monolithicFlat", "0"},
		"zeroed":      {"subformat=monolithicSparse,zeroed_grain=on", "1G"},
	})
	// A child with a backing file: its descriptor has parentFileNameHint.
	child := filepath.Join(dir, "sparse", "child.vmdk")
	if o, err := qemuCreate("-f", "vmdk", "-b", "img.vmdk", "-F", "vmdk", child); err != nil {
		t.Fatalf("qemu-img create: %v: %s", err, o)
	}
	out["child"] = child
	// A stream with its grain directory at the end.
	d, err := os.ReadFile(out["stream"])
	if err != nil {
		t.Fatal(err)
	}
	atEnd := filepath.Join(dir, "stream", "atend.vmdk")
	if err := os.WriteFile(atEnd, vmdkStreamAtEnd(d), 0o644); err != nil {
		t.Fatal(err)
	}
	out["streamatend"] = atEnd
	return out
}

var parentCIDLine = regexp.MustCompile(`\nparentCID=([0-9a-f]+)\n`)

func TestVmdkParseQemuImages(t *testing.T) {
	needQemuImg(t)
	t.Parallel()
	parseQemuSamples(t, shared.FormatVmdk, vmdkParseSamples(t, t.TempDir()),
		func(p string) int64 { return qemuBackingSize(t, p) },
		func(name, p string, d []byte) {
			// A new image on it records its CID as the parent's.
			cfg := (vmdkCase{size: mib, backing: true, image: "child.vmdk"}).config()
			s := &pageSink{pages: map[int64][]byte{}}
			_, code, err := Plan(cfg, uint64(mib), scratchDefault, s, &Backing{R: bytesReader(d), Size: int64(len(d))})
			m := parentCIDLine.FindSubmatch(s.pages[0])
			if code != shared.CreateErrOK || err != nil || m == nil || string(m[1]) != vmdkCID(t, p) {
				t.Errorf("%s: plan on it: code %d, %v, parent %q; its CID is %s", name, code, err, m, vmdkCID(t, p))
			}
		})
}

// TestVmdkParseMalformed mutates qemu-made images and checks that the
// parser agrees with qemu-img info on each, without reading out of bounds.
func TestVmdkParseMalformed(t *testing.T) {
	needQemuImg(t)
	t.Parallel()
	samples := vmdkParseSamples(t, t.TempDir())
	le32 := func(off int, v uint32) func([]byte) []byte {
		return func(d []byte) []byte { binary.LittleEndian.PutUint32(d[off:], v); return d }
	}
	le64 := func(off int, v uint64) func([]byte) []byte {
		return func(d []byte) []byte { binary.LittleEndian.PutUint64(d[off:], v); return d }
	}
	replace := func(from, to string) func([]byte) []byte {
		return func(d []byte) []byte { return bytes.Replace(d, []byte(from), []byte(to), 1) }
	}
	// In the embedded descriptor, keep the length: pad with spaces.
	replaceSame := func(from, to string) func([]byte) []byte {
		return func(d []byte) []byte {
			if len(to) < len(from) {
				to += strings.Repeat(" ", len(from)-len(to))
			}
			return bytes.Replace(d, []byte(from), []byte(to[:len(from)]), 1)
		}
	}
	muts := []mutation{
		{"ok", "sparse", func(d []byte) []byte { return d }},
		{"empty", "sparse", func(d []byte) []byte { return nil }},
		{"3-bytes", "sparse", func(d []byte) []byte { return d[:3] }},
		{"magic-only", "sparse", func(d []byte) []byte { return d[:4] }},
		{"header-only", "sparse", func(d []byte) []byte { return d[:512] }},
		{"cut-overhead", "sparse", func(d []byte) []byte { return d[:len(d)-512] }},
		{"cut-odd", "sparse", func(d []byte) []byte { return d[:len(d)-100] }},
		{"version-3", "sparse", le32(4, 3)},
		{"version-4", "sparse", le32(4, 4)},
		{"gtes-0", "sparse", le32(44, 0)},
		{"gtes-513", "sparse", le32(44, 513)},
		{"gtes-256", "sparse", le32(44, 256)},
		{"grain-0", "sparse", le64(20, 0)},
		{"grain-2M-sectors", "sparse", le64(20, 0x200000)},
		{"grain-too-big", "sparse", le64(20, 0x200001)},
		{"grain-huge", "sparse", le64(20, 1<<60)},
		{"capacity-huge", "sparse", le64(12, 1<<62)},
		{"capacity-l1-limit", "sparse", le64(12, 32<<20*65536)},
		{"capacity-l1-over", "sparse", le64(12, 32<<20*65536+1)},
		{"capacity-max", "sparse", le64(12, ^uint64(0))},
		{"overhead-past-end", "sparse", le64(64, 1<<20)},
		{"overhead-max", "sparse", le64(64, ^uint64(0))},
		{"gd-past-end", "sparse", le64(56, 1<<30)},
		{"rgd-past-end", "sparse", le64(48, 1<<30)},
		{"gd-entry-past-end", "sparse", le32(150*512, 1<<30)},
		{"desc-offset-0", "sparse", le64(28, 0)},
		{"capacity-0-desc", "sparse0", func(d []byte) []byte { return d }},
		{"capacity-0-no-desc", "sparse0", le64(28, 0)},
		{"capacity-0-desc-far", "sparse0", le64(28, 1<<40)},
		{"capacity-0-desc-max", "sparse0", le64(28, ^uint64(0))},
		{"no-cid", "sparse", replaceSame("\nCID=", "\nXID=")},
		{"cid-bad", "sparse", replaceSame("\nCID=", "\nCID=z")},
		{"cid-0x", "sparse", replaceSame("\nCID=", "\nCID=0x")},
		{"cid-space", "sparse", replaceSame("CID=", "CID= ")},
		{"no-parent-cid", "sparse", replaceSame("parentCID=", "parentXID=")},
		{"parent-cid-bad", "sparse", replaceSame("parentCID=ffffffff", "parentCID=gfffffff")},
		{"parent-cid-long", "sparse", replaceSame("parentCID=ffffffff\n", "parentCID=fffffffff")},
		{"hint-unterminated", "child", replaceSame(`vmdk"`, `vmdk `)},
		{"hint-ok", "child", func(d []byte) []byte { return d }},
		{"create-type-other", "sparse", replaceSame(`"monolithicSparse"`, `"whatever"`)},
		{"stream-at-end", "streamatend", func(d []byte) []byte { return d }},
		{"stream-at-end-bad-magic", "streamatend", func(d []byte) []byte { d[len(d)-1024] = 'x'; return d }},
		{"stream-at-end-marker-size", "streamatend", func(d []byte) []byte { d[len(d)-1536+8] = 1; return d }},
		{"stream-at-end-marker-type", "streamatend", func(d []byte) []byte { d[len(d)-1536+12] = 2; return d }},
		{"stream-at-end-eos-val", "streamatend", func(d []byte) []byte { d[len(d)-512] = 1; return d }},
		{"stream-at-end-eos-type", "streamatend", func(d []byte) []byte { d[len(d)-512+12] = 1; return d }},
		{"stream-at-end-footer-capacity", "streamatend", func(d []byte) []byte {
			binary.LittleEndian.PutUint64(d[len(d)-1024+12:], 4096)
			return d
		}},
		{"stream-at-end-cut", "streamatend", func(d []byte) []byte { return d[:len(d)-512] }},
		{"stream-at-end-tiny", "streamatend", func(d []byte) []byte { return d[:1024] }},
		// Descriptor files.
		{"flat-ok", "flat", func(d []byte) []byte { return d }},
		{"flat-no-extents", "flat0", func(d []byte) []byte { return d }},
		{"flat-size-1000", "flat", replace("RW 20480 FLAT", "RW 1000 FLAT")},
		{"flat-size-0", "flat", replace("RW 20480 FLAT", "RW 0 FLAT")},
		{"flat-size-neg", "flat", replace("RW 20480 FLAT", "RW -5 FLAT")},
		{"flat-size-huge", "flat", replace("RW 20480 FLAT", "RW 99999999999999999999 FLAT")},
		{"flat-no-offset", "flat", replace(`vmdk" 0`, `vmdk"`)},
		{"flat-neg-offset", "flat", replace(`vmdk" 0`, `vmdk" -1`)},
		{"flat-big-offset", "flat", replace(`vmdk" 0`, `vmdk" 12`)},
		{"flat-rdonly", "flat", replace("RW 20480", "RDONLY 20480")},
		{"flat-type-zero", "flat", replace("FLAT", "ZERO")},
		{"flat-type-vmfs-offset", "flat", replace("FLAT", "VMFS")},
		{"flat-type-long", "flat", replace("FLAT", "FLATFLATFLATX")},
		{"flat-no-quote", "flat", replace(`"img-flat.vmdk"`, `img-flat.vmdk`)},
		{"flat-unterminated-quote", "flat", replace(`img-flat.vmdk" 0`, `img-flat.vmdk 0`)},
		{"flat-extra-blank-lines", "flat", replace("\nRW", "\n\n\nRW")},
		{"flat-leading-spaces", "flat", replace("\nRW", "\n   RW")},
		{"flat-crlf", "flat", func(d []byte) []byte { return bytes.ReplaceAll(d, []byte("\n"), []byte("\r\n")) }},
		{"flat-two-lines", "flat", replace("RW 20480 FLAT \"img-flat.vmdk\" 0\n", "RW 20480 FLAT \"img-flat.vmdk\" 0\nRW 100 FLAT \"img-flat.vmdk\" 0\n")},
		{"no-create-type", "flat", replace("createType", "createTypo")},
		{"create-type-unquoted", "flat", replace(`createType="monolithicFlat"`, `createType=monolithicFlat`)},
		{"create-type-sparse", "flat", replace(`"monolithicFlat"`, `"monolithicSparse"`)},
		{"create-type-vmfs", "flat", replace(`"monolithicFlat"`, `"vmfs"`)},
		{"create-type-long", "flat", replace(`"monolithicFlat"`, `"`+strings.Repeat("x", 200)+`"`)},
		{"desc-no-cid", "flat", replace("\nCID=", "\nXID=")},
		{"desc-nul-early", "flat", func(d []byte) []byte { d[100] = 0; return d }},
		{"desc-garbage", "flat", func(d []byte) []byte { return []byte("hello world, not a vmdk at all\n") }},
		{"twogb-sparse-ok", "twogbsparse", func(d []byte) []byte { return d }},
		{"twogb-flat-ok", "twogbflat", func(d []byte) []byte { return d }},
		{"cowd-magic", "sparse", func(d []byte) []byte { copy(d, "COWD"); return d }},
		{"sparse-1P", "sparse1P", func(d []byte) []byte { return d }},
		{"zeroed", "zeroed", func(d []byte) []byte { return d }},
	}
	parseMutations(t, shared.FormatVmdk, samples, muts, func(p string) int64 { return qemuBackingSize(t, p) })
}

func TestVmdkParseScratch(t *testing.T) {
	if _, code := Parse(shared.FormatVmdk, bytesReader(make([]byte, 4096)), 4096, MinScratch(shared.FormatVmdk)-1); code != shared.CreateErrBackingParse {
		t.Errorf("small scratch: %d", code)
	}
}
