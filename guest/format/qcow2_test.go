//go:build cgo

package format

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"instar/shared"
	"instar/tools/imgcompare"
)

// q2Case is one `qemu-img create -f qcow2` command line and the same
// request as a CreateConfig.
type q2Case struct {
	size      int64
	v2        bool // compat=0.10
	cluster   int  // 0: default
	refbits   int  // 0: default
	extL2     bool
	lazy      bool
	zstd      bool
	prealloc  string // "", off, metadata, falloc, full
	backing   string // backing file name as typed, created beside the image
	backFmt   string // -F
	dataFile  string // data_file, created beside the image
	dataRaw   bool   // data_file_raw=on
	want      uint32 // CREATE_ERR_*
	scratch   int    // 0: scratchDefault
	noCompare bool   // skip qemu-img compare (reads the whole disk)
}

// options are the case's qemu-img options, each with the short form the
// case's name uses for it.
func (c q2Case) options() (short, opts []string) {
	add := func(on bool, s, o string) {
		if on {
			short, opts = append(short, s), append(opts, o)
		}
	}
	add(c.v2, "v2", "compat=0.10")
	add(c.cluster != 0, fmt.Sprintf("c%d", c.cluster), fmt.Sprintf("cluster_size=%d", c.cluster))
	add(c.refbits != 0, fmt.Sprintf("r%d", c.refbits), fmt.Sprintf("refcount_bits=%d", c.refbits))
	add(c.extL2, "extl2", "extended_l2=on")
	add(c.lazy, "lazy", "lazy_refcounts=on")
	add(c.zstd, "zstd", "compression_type=zstd")
	add(c.prealloc != "", c.prealloc, "preallocation="+c.prealloc)
	add(c.dataFile != "", "df-"+c.dataFile, "data_file="+c.dataFile)
	add(c.dataRaw, "dfraw", "data_file_raw=on")
	return short, opts
}

func (c q2Case) name() string {
	short, _ := c.options()
	p := append([]string{fmt.Sprint(c.size)}, short...)
	if c.backing != "" {
		p = append(p, "b-"+strings.ReplaceAll(c.backing, "/", "_")+"-"+c.backFmt)
	}
	if c.scratch != 0 {
		p = append(p, fmt.Sprintf("s%d", c.scratch))
	}
	return strings.Join(p, "_")
}

func (c q2Case) args() []string {
	_, o := c.options()
	a := []string{"-f", "qcow2"}
	if len(o) > 0 {
		a = append(a, "-o", strings.Join(o, ","))
	}
	if c.backing != "" {
		a = append(a, "-b", c.backing, "-F", c.backFmt, "-u")
	}
	return a
}

func (c q2Case) config() *shared.CreateConfig {
	cfg := baseConfig(shared.FormatQcow2, uint64(c.size))
	if !c.v2 {
		cfg.Flags |= shared.FlagCompatV3
	}
	if c.extL2 {
		cfg.Flags |= shared.FlagExtendedL2
	}
	if c.lazy {
		cfg.Flags |= shared.FlagLazyRefcounts
	}
	if c.zstd {
		cfg.Flags |= shared.FlagCompressionZstd
	}
	// The host sends the defaults; 0 is refused.
	cfg.Qcow2ClusterSize, cfg.Qcow2RefcountBits = 65536, 16
	if c.cluster != 0 {
		cfg.Qcow2ClusterSize = uint32(c.cluster)
	}
	if c.refbits != 0 {
		cfg.Qcow2RefcountBits = uint8(c.refbits)
	}
	cfg.Preallocation = map[string]uint8{"": shared.PreallocOff, "off": shared.PreallocOff,
		"metadata": shared.PreallocMetadata, "falloc": shared.PreallocFalloc, "full": shared.PreallocFull}[c.prealloc]
	if c.dataFile != "" {
		cfg.DataFileLen = uint32(copy(cfg.DataFile[:], c.dataFile))
	}
	if c.dataRaw {
		cfg.Flags |= shared.FlagDataFileRaw
	}
	if c.backing != "" {
		cfg.Flags |= shared.FlagBackingUnsafe
		cfg.BackingFileLen = uint32(copy(cfg.BackingFile[:], c.backing))
		cfg.BackingFormat = formatNumber(c.backFmt)
	}
	return cfg
}

const (
	kib = int64(1) << 10
	mib = int64(1) << 20
)

func q2Cases() []q2Case {
	var cs []q2Case
	add := func(c q2Case) { cs = append(cs, c) }
	// compat x cluster size x refcount width, prealloc off
	for _, v2 := range []bool{true, false} {
		for _, cl := range []int{512, 4096, 65536, 2 << 20} {
			rbs := []int{0}
			if !v2 {
				rbs = []int{1, 8, 16, 64}
			}
			for _, rb := range rbs {
				for _, sz := range []int64{0, 1, 1536, mib, 10 * gib} {
					add(q2Case{size: sz, v2: v2, cluster: cl, refbits: rb})
				}
			}
		}
	}
	// largest sizes per cluster size: the L1 table reaches its 32 MiB cap
	add(q2Case{size: 128*gib + 512, cluster: 512, want: shared.CreateErrInvalidSize})
	add(q2Case{size: 32 * gib, cluster: 1024, refbits: 64})
	add(q2Case{size: tib})
	add(q2Case{size: 2 * 1024 * tib})
	add(q2Case{size: 2*1024*tib + 1, want: shared.CreateErrInvalidSize})
	add(q2Case{size: 1 << 61, cluster: 2 << 20})
	add(q2Case{size: 1<<61 + 512, cluster: 2 << 20, want: shared.CreateErrInvalidSize})
	add(q2Case{size: 1 << 60, cluster: 2 << 20, extL2: true})
	add(q2Case{size: 1<<60 + 1, cluster: 2 << 20, extL2: true, want: shared.CreateErrInvalidSize})
	add(q2Case{size: 1<<63 - 1, want: shared.CreateErrInvalidSize})
	// features
	for _, cl := range []int{16384, 65536, 2 << 20} {
		add(q2Case{size: 10 * gib, cluster: cl, extL2: true})
		add(q2Case{size: 1536, cluster: cl, extL2: true, prealloc: "metadata"})
	}
	add(q2Case{size: 10 * gib, lazy: true})
	add(q2Case{size: 10 * gib, zstd: true})
	add(q2Case{size: 10 * gib, zstd: true, lazy: true, extL2: true, refbits: 8, cluster: 32768})
	add(q2Case{size: 3*mib + 512, lazy: true, prealloc: "metadata"})
	// backing files: relative, absolute, nested path, with extended L2 and
	// preallocation, every -F
	for _, f := range []string{"raw", "qcow2", "vmdk", "vpc", "vhdx"} {
		add(q2Case{size: 10 * mib, backing: "base." + f, backFmt: f})
	}
	add(q2Case{size: 10 * mib, v2: true, backing: "base.qcow2", backFmt: "qcow2"})
	add(q2Case{size: 10 * mib, cluster: 512, backing: "dir/../base.raw", backFmt: "raw"})
	add(q2Case{size: 10 * mib, cluster: 4096, backing: strings.Repeat("b", 300), backFmt: "raw"})
	add(q2Case{size: 10 * mib, backing: "/nonexistent/abs.raw", backFmt: "raw"})
	add(q2Case{size: 10 * mib, backing: strings.Repeat("n", 1023), backFmt: "raw"})
	add(q2Case{size: 10 * mib, backing: strings.Repeat("n", 1024), backFmt: "raw", want: shared.CreateErrBackingTooLong})
	add(q2Case{size: 10 * mib, cluster: 512, backing: strings.Repeat("n", 400), backFmt: "raw", want: shared.CreateErrBackingTooLong})
	add(q2Case{size: 10 * mib, cluster: 512, backing: strings.Repeat("n", 376), backFmt: "qcow2"})
	add(q2Case{size: 10 * mib, cluster: 512, backing: strings.Repeat("n", 377), backFmt: "qcow2", want: shared.CreateErrBackingTooLong})
	add(q2Case{size: 5*mib + 1536, extL2: true, prealloc: "metadata", backing: "base.raw", backFmt: "raw"})
	add(q2Case{size: 5*mib + 1536, extL2: true, prealloc: "falloc", backing: "base.raw", backFmt: "raw"})
	// preallocation
	for _, pa := range []string{"off", "metadata", "falloc", "full"} {
		for _, cl := range []int{512, 4096, 65536, 2 << 20} {
			for _, sz := range []int64{0, 1536, 3*mib + 512} {
				add(q2Case{size: sz, cluster: cl, prealloc: pa})
			}
		}
		// small clusters with wide refcounts: the refcount table grows
		// several times, leaving replaced tables behind
		add(q2Case{size: 6*mib + 1536, cluster: 512, refbits: 64, prealloc: pa})
		add(q2Case{size: 3*mib + 1536, cluster: 512, refbits: 1, prealloc: pa})
		add(q2Case{size: 8 * mib, v2: true, cluster: 1024, prealloc: pa})
	}
	add(q2Case{size: 20*mib + 1536, cluster: 512, refbits: 64, prealloc: "metadata"})
	add(q2Case{size: 10 * gib, prealloc: "metadata"})
	add(q2Case{size: 200 * gib, cluster: 2 << 20, prealloc: "metadata"})
	// Slow in qemu-img itself (a minute or more each): QCOW2_SLOW=1.
	if os.Getenv("QCOW2_SLOW") != "" {
		add(q2Case{size: 128 * gib, cluster: 512})
		add(q2Case{size: 128 * gib, cluster: 512, refbits: 64})
		add(q2Case{size: 512 * mib, cluster: 512, prealloc: "metadata"})
		add(q2Case{size: 64 * mib, cluster: 512, refbits: 64, prealloc: "metadata", scratch: MinScratch(shared.FormatQcow2)})
		add(q2Case{size: 64 * mib, cluster: 512, refbits: 64, prealloc: "falloc", scratch: MinScratch(shared.FormatQcow2)})
		add(q2Case{size: 2 * gib, cluster: 512, refbits: 64, prealloc: "metadata", scratch: MinScratch(shared.FormatQcow2)})
	}
	// external data files, every preallocation mode, raw or not; sizes
	// that end inside a cluster (qemu's copy-on-write then writes the
	// data file's tail and skips its preallocation)
	for _, pa := range []string{"off", "metadata", "falloc", "full"} {
		for _, raw := range []bool{false, true} {
			for _, sz := range []int64{0, 1536, 3 * mib, 3*mib + 512} {
				add(q2Case{size: sz, prealloc: pa, dataFile: "img.data", dataRaw: raw})
			}
			add(q2Case{size: 5*mib + 1536, cluster: 512, refbits: 64, prealloc: pa, dataFile: "d", dataRaw: raw})
			add(q2Case{size: 5*mib + 1536, cluster: 2 << 20, extL2: true, prealloc: pa, dataFile: "img.data", dataRaw: raw})
		}
	}
	add(q2Case{size: 10 * gib, dataFile: "img.data", lazy: true, zstd: true})
	add(q2Case{size: 10 * gib, dataFile: "img.data", dataRaw: true, noCompare: true})
	add(q2Case{size: 10 * mib, cluster: 4096, dataFile: strings.Repeat("d", 200)})
	// a name that fills the 512-byte header cluster, and one too long
	long := strings.Repeat("dddddddddd/", 40)
	add(q2Case{size: 10 * mib, cluster: 512, dataFile: long[:33*11] + "f"})
	add(q2Case{size: 10 * mib, cluster: 512, dataFile: long + "f", want: shared.CreateErrInvalidOption})
	add(q2Case{size: 10 * mib, dataFile: "img.data", backing: "base.qcow2", backFmt: "qcow2"})
	add(q2Case{size: 10 * mib, dataFile: "img.data", extL2: true, prealloc: "metadata", backing: "base.raw", backFmt: "raw"})
	// refusals
	bad := uint32(shared.CreateErrInvalidOption)
	for _, c := range []q2Case{
		{cluster: 256}, {cluster: 3 << 10}, {cluster: 4 << 20}, {cluster: 1000},
		{refbits: 3}, {refbits: 128}, {v2: true, refbits: 8},
		{v2: true, extL2: true, cluster: 65536}, {extL2: true, cluster: 8192},
		{v2: true, lazy: true}, {v2: true, zstd: true},
		{prealloc: "metadata", backing: "base.raw", backFmt: "raw"},
		{prealloc: "full", backing: "base.raw", backFmt: "raw"},
		{dataRaw: true}, {dataRaw: true, prealloc: "metadata"},
		{v2: true, dataFile: "img.data"},
		{dataFile: "img.data", dataRaw: true, backing: "base.raw", backFmt: "raw"},
	} {
		c.size, c.want = mib, bad
		add(c)
	}
	return cs
}

// q2BackingExists says whether the test can create c's backing file.
func (c q2Case) backingExists() bool {
	return c.backing == "" || !filepath.IsAbs(c.backing) && len(c.backing) <= 255
}

// q2Backing creates the backing file c names in dir, as qemu-img would
// find it (so qemu-img compare can open both images).
func q2Backing(t *testing.T, dir string, c q2Case) {
	if c.backing == "" || !c.backingExists() {
		return
	}
	p := filepath.Join(dir, c.backing)
	// every directory the name passes through must exist ("dir/../x")
	if i := strings.LastIndex(c.backing, "/"); i > 0 {
		if err := os.MkdirAll(dir+"/"+c.backing[:i], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(p); err == nil {
		return
	}
	if out, err := qemuCreate("-f", c.backFmt, p, "64M"); err != nil {
		t.Fatalf("backing: %v: %s", err, out)
	}
}

// q2Host is the host's step after the plan: preallocate the data area,
// then set the final length.
func q2Host(path string, prealloc string, info PlanInfo) error {
	size := info.FileSize[0]
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	n := int64(info.PreallocEnd - info.PreallocStart)
	switch {
	case n == 0:
	case prealloc == "falloc":
		if err := unix.Fallocate(int(f.Fd()), 0, int64(info.PreallocStart), n); err != nil {
			return err
		}
	case prealloc == "full":
		zero := make([]byte, 1<<20)
		for off := int64(info.PreallocStart); off < int64(info.PreallocEnd); off += int64(len(zero)) {
			k := min(int64(len(zero)), int64(info.PreallocEnd)-off)
			if _, err := f.WriteAt(zero[:k], off); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("area [%d, %d) for preallocation %q", info.PreallocStart, info.PreallocEnd, prealloc)
	}
	return f.Truncate(int64(size))
}

// q2HostDataFile is the host's step for an external data file: grow it
// from what the guest wrote to size as qemu's file driver does (a file
// long enough already is left; an empty one gets its first block
// written, unless preallocated).
func q2HostDataFile(path, prealloc string, size uint64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	cur := uint64(st.Size())
	if size <= cur {
		return f.Sync()
	}
	if err := f.Truncate(int64(size)); err != nil {
		return err
	}
	switch prealloc {
	case "falloc":
		err = unix.Fallocate(int(f.Fd()), 0, int64(cur), int64(size-cur))
	case "full":
		zero := make([]byte, 1<<20)
		for off := cur; off < size && err == nil; off += uint64(len(zero)) {
			_, err = f.WriteAt(zero[:min(uint64(len(zero)), size-off)], int64(off))
		}
	default:
		if cur == 0 {
			_, err = f.WriteAt(make([]byte, min(size, 4096)), 0)
		}
	}
	if err != nil {
		return err
	}
	return f.Sync()
}

// qemuCreateIn runs qemu-img create in dir.
func qemuCreateIn(dir string, args ...string) (string, error) {
	cmd := exec.Command(qemuImg, append([]string{"create", "-q"}, args...)...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

func TestQcow2Matrix(t *testing.T) {
	needQemuImg(t)
	seen := map[string]bool{}
	for _, c := range q2Cases() {
		if seen[c.name()] {
			t.Fatalf("duplicate case %s", c.name())
		}
		seen[c.name()] = true
		t.Run(c.name(), func(t *testing.T) {
			t.Parallel()
			runQ2Case(t, c)
		})
	}
}

func runQ2Case(t *testing.T, c q2Case) {
	ours, theirs := pairDirs(t)
	q2Backing(t, ours, c)
	q2Backing(t, theirs, c)
	op, tp := filepath.Join(ours, "img"), filepath.Join(theirs, "img")
	if i := strings.LastIndex(c.dataFile, "/"); i > 0 {
		for _, d := range []string{ours, theirs} {
			if err := os.MkdirAll(filepath.Join(d, c.dataFile[:i]), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}

	// qemu-img makes a data file relative to its working directory
	out, qerr := qemuCreateIn(theirs, append(c.args(), "img", fmt.Sprint(c.size))...)
	outputs := []string{op}
	var dataFiles [2]string
	if c.dataFile != "" {
		dataFiles = [2]string{filepath.Join(ours, c.dataFile), filepath.Join(theirs, c.dataFile)}
		outputs = append(outputs, dataFiles[0])
	}
	sink, err := newFileSink(outputs)
	if err != nil {
		t.Fatal(err)
	}
	scratch := c.scratch
	if scratch == 0 {
		scratch = scratchDefault
	}
	info, code, serr := Plan(c.config(), uint64(c.size), scratch, sink, nil)
	if serr != nil {
		sink.close()
		t.Fatalf("sink: %v", serr)
	}
	if code != c.want {
		sink.close()
		t.Fatalf("plan = %d, want %d (qemu-img: %v %s)", code, c.want, qerr, out)
	}
	if c.want != shared.CreateErrOK {
		sink.close()
		if qerr == nil {
			t.Fatalf("qemu-img accepted what we refuse")
		}
		return
	}
	if qerr != nil {
		sink.close()
		t.Fatalf("qemu-img refused: %v: %s", qerr, out)
	}
	sizes := info.FileSize
	if c.dataFile != "" && len(sizes) == 2 {
		// the data file keeps what the guest wrote; the host grows it
		// to the reported size below
		var end int64
		for _, r := range sink.ranges[1] {
			end = max(end, r[1])
		}
		if uint64(end) > sizes[1] {
			t.Fatalf("data file written to %d, past its reported size %d", end, sizes[1])
		}
		sizes = []uint64{sizes[0], uint64(end)}
	}
	if err := sink.finish(sizes); err != nil {
		t.Fatal(err)
	}
	if err := q2Host(op, c.prealloc, info); err != nil {
		t.Fatal(err)
	}
	if c.dataFile != "" {
		if err := q2HostDataFile(dataFiles[0], c.prealloc, info.FileSize[1]); err != nil {
			t.Fatal(err)
		}
	}
	if info.UnitSize == 0 || info.VirtualSize != (uint64(c.size)+511)&^511 {
		t.Errorf("result %+v", info)
	}
	opt := imgcompare.Options{Format: "qcow2", Check: true, DataFiles: dataFiles}
	if c.noCompare || c.size > 16*tib || !c.backingExists() {
		// qemu-img compare walks the whole disk, or cannot open the
		// backing file: skip it, run the rest
		errs := []error{imgcompare.CompareInfo(op, tp, opt), imgcompare.CompareSizes(op, tp), imgcompare.CompareBytes(op, tp, nil)}
		if c.dataFile != "" {
			errs = append(errs, imgcompare.CompareSizes(dataFiles[0], dataFiles[1]), imgcompare.CompareBytes(dataFiles[0], dataFiles[1], nil))
		} else {
			errs = append(errs, imgcompare.Check(op, "qcow2"))
		}
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	if err := imgcompare.Compare(op, tp, opt); err != nil {
		t.Fatal(err)
	}
}
