//go:build cgo

package format

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"instar/shared"
	"instar/tools/imgcompare"
)

const (
	gib = int64(1) << 30
	tib = int64(1) << 40
)

type vpcCase struct {
	name    string
	size    int64
	fixed   bool
	force   bool
	want    uint32 // CREATE_ERR_*
	scratch int    // 0: scratchDefault
	// noQemuCompare skips `qemu-img compare`, which reads every byte of a
	// large fixed image.
	noQemuCompare bool
}

func vpcCases() []vpcCase {
	var cs []vpcCase
	for _, sub := range []bool{false, true} {
		for _, force := range []bool{false, true} {
			sizes := []int64{0, 1, 511, 512, 1000, 34816, 34817, 1 << 20, 10<<20 + 3, 64 << 20}
			if !sub {
				sizes = append(sizes, gib, gib+1, 127*gib, 65535*16*63*512, 65535*16*255*512-512,
					65535*16*255*512, 128*gib, tib, 2040*gib)
			}
			for _, s := range sizes {
				cs = append(cs, vpcCase{size: s, fixed: sub, force: force})
			}
			cs = append(cs, vpcCase{size: 2040*gib + 1, fixed: sub, force: force, want: shared.CreateErrInvalidSize},
				vpcCase{size: 3 * tib, fixed: sub, force: force, want: shared.CreateErrInvalidSize})
		}
	}
	cs = append(cs,
		vpcCase{name: "fixed-1T", size: tib, fixed: true, noQemuCompare: true},
		vpcCase{name: "fixed-2040G-force", size: 2040 * gib, fixed: true, force: true, noQemuCompare: true},
		vpcCase{name: "min-scratch-2040G", size: 2040 * gib, scratch: MinScratch(shared.FormatVpc)},
		vpcCase{name: "odd-scratch-1T", size: tib, scratch: MinScratch(shared.FormatVpc) + 1000},
		vpcCase{name: "min-scratch-fixed", size: 5 << 20, fixed: true, scratch: MinScratch(shared.FormatVpc)},
		vpcCase{name: "scratch-too-small", size: gib, scratch: MinScratch(shared.FormatVpc) - 1, want: shared.CreateErrScratchTooSmall},
	)
	for i := range cs {
		c := &cs[i]
		if c.name == "" {
			c.name = fmt.Sprintf("sub=%s,force=%v,size=%d", c.subformat(), c.force, c.size)
		}
	}
	return cs
}

func (c vpcCase) subformat() string {
	if c.fixed {
		return "fixed"
	}
	return "dynamic"
}

func (c vpcCase) config() *shared.CreateConfig {
	cfg := baseConfig(shared.FormatVpc, uint64(c.size))
	if c.fixed {
		cfg.VhdSubformat = shared.VhdFixed
	}
	if c.force {
		cfg.Flags |= shared.FlagForceSize
	}
	return cfg
}

// planToFiles runs a planner into files and applies the host step.
func planToFiles(t *testing.T, paths []string, run func(OutputSink) (PlanInfo, uint32, error)) (PlanInfo, uint32) {
	t.Helper()
	sink, err := newFileSink(paths)
	if err != nil {
		t.Fatal(err)
	}
	info, code, err := run(sink)
	if err != nil {
		sink.close()
		t.Fatalf("sink: %v", err)
	}
	if code != shared.CreateErrOK {
		sink.close()
		return info, code
	}
	if err := sink.finish(info.FileSize); err != nil {
		t.Fatal(err)
	}
	return info, code
}

func TestVpcMatrix(t *testing.T) {
	needQemuImg(t)
	t.Parallel()
	for _, c := range vpcCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := c.config()
			o, th, info, ok := runPlanCase(t, planCase{
				format: "vpc", file: "img.vhd", scratch: c.scratch, want: c.want, size: c.size,
				qemuOpts: fmt.Sprintf("subformat=%s,force_size=%v", c.subformat(), onOff(c.force)),
				plan: func(s OutputSink, scratch int) (PlanInfo, uint32, error) {
					return Plan(cfg, uint64(c.size), scratch, s, nil)
				}})
			if !ok {
				return
			}
			want := qemuVirtualSize(t, th, "vpc")
			if want >= 0 && int64(info.VirtualSize) != want {
				t.Errorf("virtual size %d, qemu-img says %d", info.VirtualSize, want)
			}
			opt := imgcompare.Options{Format: "vpc", Mask: imgcompare.VpcMask}
			// qemu-img cannot open its own fixed 0-byte VHD (the footer at
			// 0 makes it look dynamic): compare files only.
			if c.noQemuCompare || want < 0 {
				compareWithoutQemuCheck(t, o, th, opt, want >= 0)
				return
			}
			if err := imgcompare.Compare(o, th, opt); err != nil {
				t.Error(err)
			}
		})
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// TestVpcFields checks what the masks hide: the timestamp counts from 2000,
// the UUID is a version-4 UUID from the entropy, the checksums are right,
// and the same config gives the same bytes.
func TestVpcFields(t *testing.T) {
	for _, fixed := range []bool{false, true} {
		c := vpcCase{size: 100 << 20, fixed: fixed}
		dir := t.TempDir()
		p := filepath.Join(dir, "a.vhd")
		planToFiles(t, []string{p}, func(s OutputSink) (PlanInfo, uint32, error) {
			return Plan(c.config(), uint64(c.size), scratchDefault, s, nil)
		})
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f := data[len(data)-512:]
		if got := binary.BigEndian.Uint32(f[24:]); got != testTimestamp-946684800 {
			t.Errorf("timestamp %d", got)
		}
		if f[68+6]>>4 != 4 || f[68+8]>>6 != 2 {
			t.Errorf("UUID % x is not version 4", f[68:84])
		}
		var sum uint32
		for i, b := range f {
			if i < 64 || i >= 68 {
				sum += uint32(b)
			}
		}
		if binary.BigEndian.Uint32(f[64:]) != ^sum {
			t.Errorf("footer checksum wrong")
		}
		if !fixed && !bytes.Equal(data[:512], f) {
			t.Errorf("footer copy at 0 differs from the footer")
		}
		// Same config: same bytes; other entropy: another UUID.
		p2 := filepath.Join(dir, "b.vhd")
		cfg := c.config()
		planToFiles(t, []string{p2}, func(s OutputSink) (PlanInfo, uint32, error) {
			return Plan(cfg, uint64(c.size), scratchDefault, s, nil)
		})
		data2, _ := os.ReadFile(p2)
		if !bytes.Equal(data, data2) {
			t.Errorf("same config, different bytes")
		}
		cfg.Entropy[0] ^= 1
		planToFiles(t, []string{p2}, func(s OutputSink) (PlanInfo, uint32, error) {
			return Plan(cfg, uint64(c.size), scratchDefault, s, nil)
		})
		data2, _ = os.ReadFile(p2)
		if bytes.Equal(data[len(data)-512+68:len(data)-512+84], data2[len(data2)-512+68:len(data2)-512+84]) {
			t.Errorf("other entropy, same UUID")
		}
	}
}

// vpcSamples makes qemu-img images of every kind for the parser tests.
func vpcSamples(t *testing.T, dir string) map[string]string {
	t.Helper()
	return qemuSamples(t, dir, "vpc", "vhd", map[string]sample{
		"dynamic": {"subformat=dynamic", "1G"}, "dynamic-force": {"subformat=dynamic,force_size=on", "1G"},
		"fixed": {"subformat=fixed", "3M"}, "fixed-force": {"subformat=fixed,force_size=on", "3M"},
		"dynamic-0": {"subformat=dynamic", "0"}, "fixed-0": {"subformat=fixed", "0"}, "dynamic-200G": {"subformat=dynamic", "200G"},
		"dynamic-force-1000": {"subformat=dynamic,force_size=on", "1000"}, "dynamic-2040G": {"subformat=dynamic", "2040G"},
	})
}

func TestVpcParseQemuImages(t *testing.T) {
	needQemuImg(t)
	t.Parallel()
	parseQemuSamples(t, shared.FormatVpc, vpcSamples(t, t.TempDir()),
		func(p string) int64 { return qemuVirtualSize(t, p, "vpc") }, nil)
}

// vhdFixChecksum recomputes the footer checksum at off.
func vhdFixChecksum(d []byte, off int) {
	f := d[off : off+512]
	binary.BigEndian.PutUint32(f[64:], 0)
	var s uint32
	for _, b := range f {
		s += uint32(b)
	}
	binary.BigEndian.PutUint32(f[64:], ^s)
}

// TestVpcParseMalformed mutates qemu-made images and checks that the parser
// agrees with qemu-img info on each: both refuse, or both accept with the
// same size. Nothing may read out of bounds (run under -asan too).
func TestVpcParseMalformed(t *testing.T) {
	needQemuImg(t)
	t.Parallel()
	dir := t.TempDir()
	samples := vpcSamples(t, dir)
	const dyn, fixed = "dynamic", "fixed"
	be32 := func(off int, v uint32, fix bool) func([]byte) []byte {
		return func(d []byte) []byte {
			binary.BigEndian.PutUint32(d[off:], v)
			if fix {
				vhdFixChecksum(d, 0)
			}
			return d
		}
	}
	be64 := func(off int, v uint64, fix bool) func([]byte) []byte {
		return func(d []byte) []byte {
			binary.BigEndian.PutUint64(d[off:], v)
			if fix {
				vhdFixChecksum(d, 0)
			}
			return d
		}
	}
	muts := []mutation{
		{"empty", dyn, func(d []byte) []byte { return nil }},
		{"511", dyn, func(d []byte) []byte { return d[:511] }},
		{"footer-only", dyn, func(d []byte) []byte { return d[:512] }},
		{"cut-header", dyn, func(d []byte) []byte { return d[:1000] }},
		{"cut-bat", dyn, func(d []byte) []byte { return d[:2000] }},
		{"cut-last", dyn, func(d []byte) []byte { return d[:len(d)-512] }},
		{"bad-checksum", dyn, be32(64, 0, false)},
		{"bad-cookie-at-0", dyn, func(d []byte) []byte { d[0] = 'x'; return d }},
		{"no-cookie-anywhere", dyn, func(d []byte) []byte { d[0] = 'x'; d[len(d)-512] = 'x'; return d }},
		{"dyn-cookie", dyn, func(d []byte) []byte { d[512] = 'x'; return d }},
		{"dyn-checksum-ignored", dyn, be32(512+36, 1, false)},
		{"type-fixed-at-0", dyn, be32(60, 2, true)},
		{"type-diff", dyn, be32(60, 4, true)},
		{"data-offset-past-end", dyn, be64(16, 1<<20, true)},
		{"data-offset-max", dyn, be64(16, ^uint64(0), true)},
		{"data-offset-near-end", dyn, be64(16, 4096, true)},
		{"block-size-1M", dyn, be32(512+32, 1<<20, false)},
		{"block-size-256", dyn, be32(512+32, 256, false)},
		{"block-size-768", dyn, be32(512+32, 768, false)},
		{"block-size-0", dyn, be32(512+32, 0, false)},
		{"block-size-2G", dyn, be32(512+32, 1<<31, false)},
		{"entries-max", dyn, be32(512+28, ^uint32(0), false)},
		{"entries-2^29", dyn, be32(512+28, 1<<29, false)},
		{"entries-2^29-1", dyn, be32(512+28, 1<<29-1, false)},
		{"entries-0", dyn, be32(512+28, 0, false)},
		{"table-offset-max", dyn, be64(512+16, ^uint64(0), false)},
		{"table-offset-4G", dyn, be64(512+16, 1<<32, false)},
		{"table-offset-end", dyn, be64(512+16, 4096, false)},
		{"bat-entry-past-end", dyn, be32(1536, 0x1000, false)},
		{"bat-entry-max", dyn, be32(1536+8, 0xFFFFFFFE, false)},
		{"bat-entry-near", dyn, be32(1536, 8, false)},
		{"creator-qem2", dyn, func(d []byte) []byte { copy(d[28:], "qem2"); vhdFixChecksum(d, 0); return d }},
		{"creator-win-size-1G", dyn, func(d []byte) []byte {
			copy(d[28:], "win ")
			binary.BigEndian.PutUint64(d[48:], 1<<30)
			vhdFixChecksum(d, 0)
			return d
		}},
		{"creator-tap0-size-1G", dyn, func(d []byte) []byte {
			copy(d[28:], "tap\x00")
			binary.BigEndian.PutUint64(d[48:], 1<<30)
			vhdFixChecksum(d, 0)
			return d
		}},
		{"creator-tap-space", dyn, func(d []byte) []byte {
			copy(d[28:], "tap ")
			binary.BigEndian.PutUint64(d[48:], 1<<30)
			vhdFixChecksum(d, 0)
			return d
		}},
		{"qem2-size-too-big", dyn, func(d []byte) []byte {
			copy(d[28:], "qem2")
			binary.BigEndian.PutUint64(d[48:], 2040<<30+512)
			vhdFixChecksum(d, 0)
			return d
		}},
		{"qem2-size-beyond-table", dyn, func(d []byte) []byte {
			copy(d[28:], "qem2")
			binary.BigEndian.PutUint64(d[48:], 2<<30)
			vhdFixChecksum(d, 0)
			return d
		}},
		{"qem2-size-odd", dyn, func(d []byte) []byte {
			copy(d[28:], "qem2")
			binary.BigEndian.PutUint64(d[48:], 1000)
			vhdFixChecksum(d, 0)
			return d
		}},
		{"geometry-max-size-4T", dyn, func(d []byte) []byte {
			binary.BigEndian.PutUint32(d[56:], 0xFFFF10FF)
			binary.BigEndian.PutUint64(d[48:], 4<<40)
			vhdFixChecksum(d, 0)
			return d
		}},
		{"geometry-0", dyn, be32(56, 0, true)},
		{"geometry-all-ff", dyn, be32(56, ^uint32(0), true)},
		{"fixed-ok", fixed, func(d []byte) []byte { return d }},
		{"fixed-cut-100", fixed, func(d []byte) []byte { return d[:len(d)-100] }},
		{"fixed-cut-512", fixed, func(d []byte) []byte { return d[:len(d)-512] }},
		{"fixed-footer-only", fixed, func(d []byte) []byte { return d[len(d)-512:] }},
		{"fixed-footer-short", fixed, func(d []byte) []byte { return d[len(d)-512 : len(d)-12] }},
		{"fixed-type-dynamic", fixed, func(d []byte) []byte {
			binary.BigEndian.PutUint32(d[len(d)-512+60:], 3)
			vhdFixChecksum(d, len(d)-512)
			return d
		}},
		{"fixed-qem2-1T", fixed, func(d []byte) []byte {
			f := len(d) - 512
			copy(d[f+28:], "qem2")
			binary.BigEndian.PutUint64(d[f+48:], 1<<40)
			vhdFixChecksum(d, f)
			return d
		}},
		{"fixed-cookie-at-0-bad-sum", fixed, func(d []byte) []byte { copy(d, "conectix"); return d }},
		{"dyn-end-footer-only", dyn, func(d []byte) []byte { d[0] = 'x'; return d }},
		{"tiny-cookie", dyn, func(d []byte) []byte { return d[:100] }},
		{"fixed-bad-checksum", fixed, func(d []byte) []byte { d[len(d)-512+64] ^= 1; return d }},
		{"fixed-qem2-huge", fixed, func(d []byte) []byte {
			f := len(d) - 512
			copy(d[f+28:], "qem2")
			binary.BigEndian.PutUint64(d[f+48:], 3<<40)
			vhdFixChecksum(d, f)
			return d
		}},
	}
	parseMutations(t, shared.FormatVpc, samples, muts, func(p string) int64 { return qemuVirtualSize(t, p, "vpc") })
}

// TestVpcParseScratch checks the parser's scratch checks.
func TestVpcParseScratch(t *testing.T) {
	if _, code := Parse(shared.FormatVpc, bytesReader(make([]byte, 4096)), 4096, MinScratch(shared.FormatVpc)-1); code != shared.CreateErrBackingParse {
		t.Errorf("small scratch: %d", code)
	}
}
