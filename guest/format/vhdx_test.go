//go:build cgo

package format

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"instar/shared"
	"instar/shared/formats"
	"instar/tools/imgcompare"
)

type vhdxCase struct {
	name      string
	size      int64
	fixed     bool
	noZero    bool   // block_state_zero=off
	blockSize uint32 // 0: auto
	logSize   uint32 // 0: default
	want      uint32
	scratch   int
	// noQemuCompare skips `qemu-img compare` (reads all of a large fixed
	// image).
	noQemuCompare bool
}

func (c vhdxCase) opts() string {
	o := []string{"subformat=dynamic", "block_state_zero=on"}
	if c.fixed {
		o[0] = "subformat=fixed"
	}
	if c.noZero {
		o[1] = "block_state_zero=off"
	}
	if c.blockSize != 0 {
		o = append(o, fmt.Sprintf("block_size=%d", c.blockSize))
	}
	if c.logSize != 0 {
		o = append(o, fmt.Sprintf("log_size=%d", c.logSize))
	}
	return strings.Join(o, ",")
}

func (c vhdxCase) config() *shared.CreateConfig {
	cfg := baseConfig(shared.FormatVhdx, uint64(c.size))
	if c.fixed {
		cfg.VhdSubformat = shared.VhdFixed
	}
	if !c.noZero {
		cfg.Flags |= shared.FlagVhdxBlockStateZero
	}
	cfg.BlockSize = c.blockSize
	cfg.VhdxLogSize = c.logSize
	if c.logSize == 0 {
		f, _ := formats.Named("vhdx")
		o, _ := f.Option("log_size")
		def, _ := o.Value(o.Default)
		cfg.VhdxLogSize = uint32(def)
	}
	return cfg
}

func vhdxCases() []vhdxCase {
	const mib = 1 << 20
	var cs []vhdxCase
	for _, fixed := range []bool{false, true} {
		for _, noZero := range []bool{false, true} {
			sizes := []int64{1, 512, 1000, mib, 20 * mib, 24*mib + 512}
			// An empty image gets a 64 MiB BAT (qemu's 32-bit entry count
			// wraps): costly to write, so only once (and once with 1 MiB
			// blocks below).
			if !fixed && !noZero {
				sizes = append(sizes, 0)
			}
			if !fixed {
				sizes = append(sizes, gib, gib+1, gib+512, 100*gib, 100*gib+512, 32*tib, 32*tib+512, 64*tib)
			}
			for _, s := range sizes {
				cs = append(cs, vhdxCase{size: s, fixed: fixed, noZero: noZero})
			}
			cs = append(cs, vhdxCase{size: 64*tib + 1, fixed: fixed, noZero: noZero, want: shared.CreateErrInvalidSize})
		}
	}
	for _, bs := range []uint32{1, 512 << 10, mib, mib + 1, 2 * mib, 4 * mib, 16 * mib, 32 * mib, 64 * mib, 128 * mib, 256 * mib, 300 * mib, 0xFFFFFFFF} {
		cs = append(cs, vhdxCase{size: gib + 512, blockSize: bs},
			vhdxCase{size: 5*mib + 512, blockSize: bs, fixed: true, noZero: true})
	}
	for _, bs := range []uint32{3 * mib, 2*mib + 1, 5 * mib, 255 * mib} {
		cs = append(cs, vhdxCase{size: gib, blockSize: bs, want: shared.CreateErrInvalidOption})
	}
	for _, ls := range []uint32{1, 512 << 10, mib, mib + 1, 3 * mib / 2, 2 * mib, 5 * mib, 100 * mib, 0xFFF00000} {
		cs = append(cs, vhdxCase{size: gib, logSize: ls})
	}
	cs = append(cs,
		vhdxCase{size: gib, logSize: 0xFFF00001, want: shared.CreateErrInvalidOption},
		vhdxCase{size: gib, logSize: 0xFFFFFFFF, want: shared.CreateErrInvalidOption},
		vhdxCase{name: "empty-1M-blocks", size: 0, blockSize: mib},
		vhdxCase{name: "1T-1M-blocks", size: tib, blockSize: mib},
		vhdxCase{name: "1T-1M-blocks-min-scratch", size: tib, blockSize: mib, scratch: MinScratch(shared.FormatVhdx)},
		vhdxCase{name: "5G-fixed-1M-blocks", size: 5 * gib, blockSize: mib, fixed: true, noZero: true, noQemuCompare: true},
		vhdxCase{name: "5G-fixed-1M-blocks-zero", size: 5 * gib, blockSize: mib, fixed: true},
		vhdxCase{name: "1T-fixed", size: tib, fixed: true, noZero: true, noQemuCompare: true},
		vhdxCase{name: "scratch-too-small", size: gib, scratch: MinScratch(shared.FormatVhdx) - 1, want: shared.CreateErrScratchTooSmall},
	)
	for i := range cs {
		if cs[i].name == "" {
			cs[i].name = fmt.Sprintf("%s,size=%d", cs[i].opts(), cs[i].size)
		}
	}
	return cs
}

func TestVhdxMatrix(t *testing.T) {
	needQemuImg(t)
	t.Parallel()
	for _, c := range vhdxCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := c.config()
			o, th, info, ok := runPlanCase(t, planCase{
				format: "vhdx", file: "img.vhdx", scratch: c.scratch, want: c.want, qemuOpts: c.opts(), size: c.size,
				plan: func(s OutputSink, scratch int) (PlanInfo, uint32, error) {
					return Plan(cfg, uint64(c.size), scratch, s, nil)
				}})
			if !ok {
				return
			}
			if want := qemuVirtualSize(t, th, "vhdx"); int64(info.VirtualSize) != want {
				t.Errorf("virtual size %d, qemu-img says %d", info.VirtualSize, want)
			}
			opt := imgcompare.Options{Format: "vhdx", Mask: imgcompare.VhdxMask, Check: true}
			// qemu's vhdx driver reports no block status, so `qemu-img
			// compare` reads every byte: only for modest sizes.
			if c.noQemuCompare || c.size > 4*gib {
				for _, err := range []error{imgcompare.CompareInfo(o, th, opt), imgcompare.Check(o, "vhdx"),
					imgcompare.CompareSizes(o, th), imgcompare.CompareBytes(o, th, imgcompare.VhdxMask)} {
					if err != nil {
						t.Error(err)
					}
				}
				return
			}
			if err := imgcompare.Compare(o, th, opt); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestVhdxFields checks what the masks hide: both headers valid with
// consecutive sequence numbers and equal GUIDs, version-4 GUIDs, and
// determinism.
func TestVhdxFields(t *testing.T) {
	dir := t.TempDir()
	c := vhdxCase{size: gib}
	run := func(name string, cfg *shared.CreateConfig) []byte {
		p := filepath.Join(dir, name)
		planToFiles(t, []string{p}, func(s OutputSink) (PlanInfo, uint32, error) {
			return Plan(cfg, uint64(c.size), scratchDefault, s, nil)
		})
		d, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a := run("a", c.config())
	h1, h2 := a[64<<10:68<<10], a[128<<10:132<<10]
	if binary.LittleEndian.Uint64(h2[8:]) != binary.LittleEndian.Uint64(h1[8:])+1 {
		t.Errorf("sequence numbers %d, %d", binary.LittleEndian.Uint64(h1[8:]), binary.LittleEndian.Uint64(h2[8:]))
	}
	if !bytes.Equal(h1[16:48], h2[16:48]) {
		t.Errorf("headers' GUIDs differ")
	}
	for _, g := range [][]byte{h1[16:32], h1[32:48], a[0x310010:0x310020]} {
		if g[6]>>4 != 4 || g[8]>>6 != 2 {
			t.Errorf("GUID % x is not version 4", g)
		}
	}
	if !bytes.Equal(a, run("b", c.config())) {
		t.Errorf("same config, different bytes")
	}
	cfg := c.config()
	cfg.Entropy[5] ^= 0x80
	b := run("c", cfg)
	if bytes.Equal(a[64<<10+16:64<<10+48], b[64<<10+16:64<<10+48]) {
		t.Errorf("other entropy, same GUIDs")
	}
}
