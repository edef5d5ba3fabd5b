//go:build cgo

package format

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"instar/shared"
	"instar/tools/imgcompare"
)

var vmdkSubformats = []string{"monolithicSparse", "streamOptimized", "monolithicFlat", "twoGbMaxExtentSparse", "twoGbMaxExtentFlat"}

// vmdkExtentNames is the host's side of the naming rule: the files
// qemu-img creates next to a multi-file image, in descriptor order.
func vmdkExtentNames(image string, subformat uint8, size int64) []string {
	sectors := (size + 511) / 512
	dot := strings.LastIndexByte(image, '.')
	if dot < 0 {
		dot = len(image)
	}
	pre, post := image[:dot], image[dot:]
	switch subformat {
	case shared.VmdkMonolithicFlat:
		if sectors == 0 {
			return nil
		}
		return []string{pre + "-flat" + post}
	case shared.VmdkTwoGbMaxExtentSparse, shared.VmdkTwoGbMaxExtentFlat:
		c := "s"
		if subformat == shared.VmdkTwoGbMaxExtentFlat {
			c = "f"
		}
		var names []string
		for i := int64(1); (i-1)*(4<<20) < sectors; i++ {
			names = append(names, fmt.Sprintf("%s-%s%03d%s", pre, c, i, post))
		}
		return names
	}
	return nil
}

var cidLine = regexp.MustCompile(`(?m)^CID=([0-9a-f]+)$`)

// vmdkCID returns the CID in a vmdk's descriptor.
func vmdkCID(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 512+10240)
	n, _ := f.ReadAt(buf, 0)
	m := cidLine.FindSubmatch(buf[:n])
	if m == nil {
		t.Fatalf("%s: no CID", path)
	}
	return string(m[1])
}

type vmdkCase struct {
	name        string
	size        int64
	subformat   uint8
	adapter     uint8
	hwversion   uint32
	compat6     bool
	tools       int64 // -1: default
	zeroedGrain bool
	backing     bool
	image       string // base name; "" is img.vmdk
	want        uint32
	// noQemuCompare skips `qemu-img compare` and check (they read every
	// byte of large flat extents).
	noQemuCompare bool
}

func (c vmdkCase) opts() string {
	o := []string{"subformat=" + vmdkSubformats[c.subformat],
		"adapter_type=" + []string{"ide", "lsilogic", "buslogic", "legacyESX"}[c.adapter]}
	if c.hwversion != 0 {
		o = append(o, fmt.Sprintf("hwversion=%d", c.hwversion))
	}
	if c.compat6 {
		o = append(o, "compat6=on")
	}
	if c.tools >= 0 {
		o = append(o, fmt.Sprintf("toolsversion=%d", c.tools))
	}
	if c.zeroedGrain {
		o = append(o, "zeroed_grain=on")
	}
	return strings.Join(o, ",")
}

func (c vmdkCase) config() *shared.CreateConfig {
	cfg := baseConfig(shared.FormatVmdk, uint64(c.size))
	cfg.VmdkSubformat = c.subformat
	cfg.VmdkAdapterType = c.adapter
	cfg.VmdkHwversion = c.hwversion
	cfg.VmdkToolsversion = 2147483647
	if c.tools >= 0 {
		cfg.VmdkToolsversion = uint32(c.tools)
	}
	if c.compat6 {
		cfg.Flags |= shared.FlagVmdkCompat6
	}
	if c.zeroedGrain {
		cfg.Flags |= shared.FlagVmdkZeroedGrain
	}
	cfg.ImageNameLen = uint32(copy(cfg.ImageName[:], c.image))
	if c.backing {
		cfg.BackingFileLen = uint32(copy(cfg.BackingFile[:], "base.vmdk"))
		cfg.BackingFormat = shared.FormatVmdk
	}
	return cfg
}

func vmdkCases() []vmdkCase {
	const mib = 1 << 20
	var cs []vmdkCase
	add := func(c vmdkCase) { cs = append(cs, c) }
	for sf := uint8(0); sf < 5; sf++ {
		flat := sf == shared.VmdkMonolithicFlat || sf == shared.VmdkTwoGbMaxExtentFlat
		sizes := []int64{0, 1, 512, 3000, 64 << 10, 64<<10 + 1, mib, 100 * mib}
		big := []int64{2 * gib, 2*gib + 512, 5 * gib, 100 * gib}
		switch sf {
		case shared.VmdkMonolithicSparse:
			// qemu's 32-bit grain counts wrap at 256 TiB; 1 PiB is its
			// largest grain directory (qemu-img info reads all 128 MiB).
			big = append(big, 2*tib, 16*tib, 256*tib-64<<10, 256*tib+64<<10, 1<<50, 1<<63-512)
		case shared.VmdkStreamOptimized:
			big = append(big, 2*tib, 1<<63-512)
		case shared.VmdkTwoGbMaxExtentSparse:
			big = append(big, 508*gib) // 254 extents: every output used
		}
		if sf >= shared.VmdkTwoGbMaxExtentSparse {
			big = append(big, 508*gib+512, tib)
		}
		for _, s := range sizes {
			add(vmdkCase{size: s, subformat: sf, tools: -1})
		}
		for _, s := range big {
			// twoGbMaxExtent* is limited to MAX_OUTPUTS-1 extents.
			if sf >= shared.VmdkTwoGbMaxExtentSparse && s > 254*2*gib {
				add(vmdkCase{size: s, subformat: sf, tools: -1, want: shared.CreateErrInvalidSize})
				continue
			}
			add(vmdkCase{size: s, subformat: sf, tools: -1, noQemuCompare: flat})
		}
		for a := uint8(1); a < 4; a++ {
			add(vmdkCase{size: gib, subformat: sf, adapter: a, tools: -1})
		}
		add(vmdkCase{size: gib, subformat: sf, hwversion: 7, tools: 0})
		add(vmdkCase{size: gib, subformat: sf, compat6: true, tools: 12345})
		add(vmdkCase{size: gib, subformat: sf, compat6: true, hwversion: 6, tools: -1, want: shared.CreateErrInvalidOption})
		add(vmdkCase{size: 8 * gib, subformat: sf, image: "disk.img", tools: -1})
		add(vmdkCase{size: 8 * gib, subformat: sf, image: "disk", tools: -1})
		add(vmdkCase{size: 8 * gib, subformat: sf, image: "a.b.c", tools: -1})
		add(vmdkCase{size: 8 * gib, subformat: sf, image: ".hidden", tools: -1})
		add(vmdkCase{size: 8 * gib, subformat: sf, image: "sp ace.vmdk", tools: -1})
		if flat {
			add(vmdkCase{size: gib, subformat: sf, zeroedGrain: true, tools: -1, want: shared.CreateErrInvalidOption})
			add(vmdkCase{size: gib, subformat: sf, backing: true, tools: -1, want: shared.CreateErrInvalidOption})
		} else {
			add(vmdkCase{size: gib, subformat: sf, zeroedGrain: true, tools: -1})
			add(vmdkCase{size: 3 * gib, subformat: sf, backing: true, tools: -1})
			add(vmdkCase{size: 3 * gib, subformat: sf, backing: true, zeroedGrain: true, adapter: 2, tools: -1})
		}
	}
	for i := range cs {
		c := &cs[i]
		if c.image == "" {
			c.image = "img.vmdk"
		}
		if c.name == "" {
			c.name = fmt.Sprintf("%s,size=%d,%s", c.opts(), c.size, c.image)
		}
	}
	return cs
}

// qemuCreateVmdk runs qemu-img create until the random CID has 8 hex
// digits, so masked descriptors line up with ours.
func qemuCreateVmdk(t *testing.T, c vmdkCase, path string) error {
	t.Helper()
	args := []string{"-f", "vmdk", "-o", c.opts()}
	if c.backing {
		args = append(args, "-b", "base.vmdk", "-F", "vmdk")
	}
	args = append(args, path, strconv.FormatInt(c.size, 10))
	for try := 0; try < 20; try++ {
		if out, err := qemuCreate(args...); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if len(vmdkCID(t, path)) == 8 {
			return nil
		}
	}
	return fmt.Errorf("no 8-digit CID in 20 tries")
}

// makeVmdkBase makes base.vmdk with qemu-img in dir.
func makeVmdkBase(t *testing.T, dir string) {
	t.Helper()
	if out, err := qemuCreate("-f", "vmdk", filepath.Join(dir, "base.vmdk"), "3G"); err != nil {
		t.Fatalf("qemu-img create base: %v: %s", err, out)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	d, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, d, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVmdkMatrix(t *testing.T) {
	needQemuImg(t)
	t.Parallel()
	baseDir := t.TempDir()
	makeVmdkBase(t, baseDir)
	baseData, err := os.ReadFile(filepath.Join(baseDir, "base.vmdk"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range vmdkCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ours, theirs := pairDirs(t)
			var backing *Backing
			if c.backing {
				copyFile(t, filepath.Join(baseDir, "base.vmdk"), filepath.Join(ours, "base.vmdk"))
				copyFile(t, filepath.Join(baseDir, "base.vmdk"), filepath.Join(theirs, "base.vmdk"))
				backing = &Backing{R: bytesReader(baseData), Size: int64(len(baseData))}
			}
			cfg := c.config()
			paths := []string{filepath.Join(ours, c.image)}
			if c.want != shared.CreateErrOK {
				sink, err := newFileSink(paths[:1])
				if err != nil {
					t.Fatal(err)
				}
				defer sink.close()
				if _, code, _ := Plan(cfg, uint64(c.size), scratchDefault, sink, backing); code != c.want {
					t.Fatalf("vmdk_plan = %d, want %d", code, c.want)
				}
				if c.want != shared.CreateErrInvalidSize { // qemu accepts > 254 extents
					if err := qemuCreateVmdk(t, c, filepath.Join(theirs, c.image)); err == nil {
						t.Fatalf("we refuse, qemu-img accepts")
					}
				}
				return
			}
			var extents []string
			if c.subformat > shared.VmdkStreamOptimized {
				extents = vmdkExtentNames(c.image, c.subformat, c.size)
			}
			for _, e := range extents {
				paths = append(paths, filepath.Join(ours, e))
			}
			info, code := planToFiles(t, paths, func(s OutputSink) (PlanInfo, uint32, error) {
				return Plan(cfg, uint64(c.size), scratchDefault, s, backing)
			})
			if code != shared.CreateErrOK {
				t.Fatalf("vmdk_plan = %d", code)
			}
			if got := vmdkCID(t, paths[0]); len(got) != 8 {
				t.Fatalf("our CID %s: pick test entropy with an 8-digit CID", got)
			}
			o, th := paths[0], filepath.Join(theirs, c.image)
			if err := qemuCreateVmdk(t, c, th); err != nil {
				t.Fatalf("qemu-img create: %v", err)
			}
			opt := imgcompare.Options{Format: "vmdk", Mask: imgcompare.VmdkMask, Check: true,
				InfoIgnore: []string{"format-specific.data.cid"}}
			for _, e := range extents {
				opt.Extra = append(opt.Extra, [2]string{filepath.Join(ours, e), filepath.Join(theirs, e)})
			}
			want := qemuVirtualSize(t, th, "vmdk")
			if want >= 0 && int64(info.VirtualSize) != want {
				t.Errorf("virtual size %d, qemu-img says %d", info.VirtualSize, want)
			}
			// qemu-img cannot open some of its own images (no extents,
			// wrapped 32-bit grain counts): compare files only there. Its
			// check and compare walk every grain: skipped for large disks.
			if want < 0 || c.noQemuCompare || c.size > 8*gib {
				compareWithoutQemuCheck(t, o, th, opt, want >= 0)
				return
			}
			if err := imgcompare.Compare(o, th, opt); err != nil {
				t.Error(err)
			}
		})
	}
}
