//go:build cgo

package format

// Test helpers shared by the vpc, vhdx and vmdk tests: a sink that writes
// plan output to files, the host step, and running qemu-img.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"instar/shared"
	"instar/shared/formats"
	"instar/tools/imgcompare"
)

// qemuImg is the oracle.
const qemuImg = "/usr/bin/qemu-img"

// testTimestamp is a fixed time for reproducible output (2024-01-02).
const testTimestamp = 1704153600

// scratchDefault is what the guest will give planners: 2 MiB + 64 KiB.
const scratchDefault = 2<<20 + 64<<10

func needQemuImg(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(qemuImg); err != nil {
		t.Fatalf("%s is needed (mage check installs it): %v", qemuImg, err)
	}
}

// baseConfig returns a config for format with fixed time and entropy.
func baseConfig(format uint32, size uint64) *shared.CreateConfig {
	cfg := &shared.CreateConfig{
		Magic:        shared.CreateConfigMagic,
		TargetFormat: format,
		SectorSize:   512,
		VirtualSize:  size,
		Timestamp:    testTimestamp,
	}
	for i := range cfg.Entropy {
		cfg.Entropy[i] = byte(i*37 + 11)
	}
	return cfg
}

// fileSink writes each output to its own file and checks that no write
// goes past the end the planner will report.
type fileSink struct {
	mu     sync.Mutex
	files  []*os.File
	ranges [][][2]int64 // per output, what was written
}

func newFileSink(paths []string) (*fileSink, error) {
	s := &fileSink{}
	for _, p := range paths {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			s.close()
			return nil, err
		}
		s.files = append(s.files, f)
		s.ranges = append(s.ranges, nil)
	}
	return s, nil
}

func (s *fileSink) WriteAt(output uint32, p []byte, off int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if int(output) >= len(s.files) {
		return fmt.Errorf("write to output %d; only %d files", output, len(s.files))
	}
	s.ranges[output] = append(s.ranges[output], [2]int64{off, off + int64(len(p))})
	_, err := s.files[output].WriteAt(p, off)
	return err
}

func (s *fileSink) close() {
	for _, f := range s.files {
		f.Close()
	}
}

// finish applies the host step: each output is truncated to its final
// size (which leaves unwritten space sparse) and synced. Writes past that
// size are an error: the host would refuse them.
func (s *fileSink) finish(sizes []uint64) error {
	defer s.close()
	if len(sizes) != len(s.files) {
		return fmt.Errorf("planner used %d outputs, test expected %d", len(sizes), len(s.files))
	}
	for i, f := range s.files {
		for _, r := range s.ranges[i] {
			if uint64(r[1]) > sizes[i] {
				return fmt.Errorf("output %d: write [%d,%d) past the final size %d", i, r[0], r[1], sizes[i])
			}
		}
		if err := f.Truncate(int64(sizes[i])); err != nil {
			return err
		}
		// qemu-img flushes on close; until then ext4's delayed allocation
		// leaves extent-tree blocks out of st_blocks, and allocated sizes
		// would differ by a block.
		if err := f.Sync(); err != nil {
			return err
		}
	}
	return nil
}

// qemuCreate runs qemu-img create and returns its combined output.
func qemuCreate(args ...string) (string, error) {
	cmd := exec.Command(qemuImg, append([]string{"create", "-q"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// pairDirs makes ours/ and theirs/ under a fresh temporary directory.
func pairDirs(t *testing.T) (ours, theirs string) {
	t.Helper()
	d := t.TempDir()
	// FORMAT_TEST_KEEP=dir keeps the images for a look after the test.
	if keep := os.Getenv("FORMAT_TEST_KEEP"); keep != "" {
		var err error
		if d, err = os.MkdirTemp(keep, "case"); err != nil {
			t.Fatal(err)
		}
		t.Logf("images in %s", d)
	}
	ours, theirs = filepath.Join(d, "ours"), filepath.Join(d, "theirs")
	for _, p := range []string{ours, theirs} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return ours, theirs
}

// bytesReader is an io.ReaderAt over a byte slice for parser tests.
type bytesReader []byte

func (b bytesReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(b)) {
		return 0, fmt.Errorf("read at %d of %d", off, len(b))
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, fmt.Errorf("short read at %d", off)
	}
	return n, nil
}

// checkParsedSize compares a parser's verdict on a file with qemu-img's:
// want is the virtual size qemu-img reports, or negative when it refuses
// the file.
func checkParsedSize(t *testing.T, want int64, got ParsedBacking, code uint32) {
	t.Helper()
	switch {
	case want < 0 && code != shared.CreateErrBackingParse:
		t.Errorf("qemu-img refuses it, we give %+v (code %d)", got, code)
	case want >= 0 && (code != shared.CreateErrOK || int64(got.VirtualSize) != want):
		t.Errorf("qemu-img says size %d, we give %+v (code %d)", want, got, code)
	}
}

// planCase is one single-file planner run in a matrix test, next to
// qemu-img create with the matching options.
type planCase struct {
	format, file string
	scratch      int    // 0: scratchDefault
	want         uint32 // the planner's expected code
	qemuOpts     string // qemu-img's -o
	size         int64
	plan         func(s OutputSink, scratch int) (PlanInfo, uint32, error)
}

// runPlanCase plans into ours/ and has qemu-img create into theirs/. It
// checks the planner's code against want, and a refusal against qemu-img's
// (a scratch refusal is ours alone); ok is false when the case ends there.
func runPlanCase(t *testing.T, c planCase) (ours, theirs string, info PlanInfo, ok bool) {
	t.Helper()
	o, th := pairDirs(t)
	ours, theirs = filepath.Join(o, c.file), filepath.Join(th, c.file)
	scratch := c.scratch
	if scratch == 0 {
		scratch = scratchDefault
	}
	info, code := planToFiles(t, []string{ours}, func(s OutputSink) (PlanInfo, uint32, error) {
		return c.plan(s, scratch)
	})
	qout, qerr := qemuCreate("-f", c.format, "-o", c.qemuOpts, theirs, fmt.Sprint(c.size))
	if code != c.want {
		t.Fatalf("%s plan = %d, want %d (qemu-img: %v %s)", c.format, code, c.want, qerr, qout)
	}
	if c.want != shared.CreateErrOK {
		if qerr == nil && c.want != shared.CreateErrScratchTooSmall {
			t.Fatalf("we refuse (%d) but qemu-img accepts", code)
		}
		return ours, theirs, info, false
	}
	if qerr != nil {
		t.Fatalf("qemu-img create: %v: %s", qerr, qout)
	}
	return ours, theirs, info, true
}

// qemuVirtualSize returns qemu-img info's virtual-size, or -1 when qemu-img
// cannot open the image.
func qemuVirtualSize(t *testing.T, path, format string) int64 {
	t.Helper()
	size, stderr := qemuInfoSize(t, path, format)
	if size == qemuTimedOut {
		t.Fatal(stderr)
	}
	return size
}

// qemuBackingSize is the size qemu-img create sees in a vmdk it opens as a
// backing file: qemu-img info's, or 0 where info asserts on a descriptor
// without extents after opening it fine; -1 when it cannot be opened.
func qemuBackingSize(t *testing.T, path string) int64 {
	t.Helper()
	size, stderr := qemuInfoSize(t, path, "vmdk")
	if size == qemuTimedOut {
		t.Fatal(stderr)
	}
	if size < 0 && strings.Contains(stderr, "Assertion `s->num_extents' failed") {
		return 0
	}
	return size
}

// qemuInfoTimeout bounds one qemu-img info: crafted images (a vhdx log,
// for one) can keep it busy for minutes, and an oracle that does not answer
// cannot judge the input.
const qemuInfoTimeout = 30 * time.Second

// qemuTimedOut is qemuInfoSize's size when qemu-img did not finish.
const qemuTimedOut = -2

// qemuInfoSize runs qemu-img info: the virtual size (-1 when it fails,
// qemuTimedOut when it did not finish in time) and its stderr.
func qemuInfoSize(t *testing.T, path, format string) (int64, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), qemuInfoTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemuImg, "info", "--output=json", "-f", format, path)
	cmd.WaitDelay = time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return qemuTimedOut, fmt.Sprintf("qemu-img info did not finish within %v", qemuInfoTimeout)
	}
	if err != nil {
		return -1, stderr.String()
	}
	var v struct {
		VirtualSize int64 `json:"virtual-size"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("qemu-img info: %v", err)
	}
	return v.VirtualSize, stderr.String()
}

// compareWithoutQemuCheck compares our image ours (and extra pairs) with
// qemu-img's theirs byte for byte, by size and, when qemu-img can open
// them (info), by qemu-img info: for images qemu-img cannot check or
// compare.
func compareWithoutQemuCheck(t *testing.T, ours, theirs string, opt imgcompare.Options, info bool) {
	t.Helper()
	pairs := append([][2]string{{ours, theirs}}, opt.Extra...)
	var errs []error
	for _, p := range pairs {
		errs = append(errs, imgcompare.CompareSizes(p[0], p[1]), imgcompare.CompareBytes(p[0], p[1], opt.Mask))
	}
	if info {
		errs = append(errs, imgcompare.CompareInfo(ours, theirs, opt))
	}
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// formatNumber is the FORMAT_* of a format named in the format table (0
// for a name it does not have).
func formatNumber(name string) uint32 {
	f, ok := formats.Named(name)
	if !ok {
		return shared.FormatUnset
	}
	return f.Number
}

// sample is an image qemu-img makes for the parser tests.
type sample struct{ opts, size string }

// qemuSamples makes each sample with qemu-img in a directory of its own
// (multi-file images keep their extents apart) and returns each one's
// path by name.
func qemuSamples(t *testing.T, dir, format, ext string, samples map[string]sample) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, s := range samples {
		sub := filepath.Join(dir, name)
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(sub, "img."+ext)
		if o, err := qemuCreate("-f", format, "-o", s.opts, p, s.size); err != nil {
			t.Fatalf("qemu-img create %s: %v: %s", name, err, o)
		}
		out[name] = p
	}
	return out
}

// parseQemuSamples parses each qemu-img sample as format and checks that
// it gives the size qemu-img gives (qemuSize); a sample qemu-img cannot
// open may be refused. each, when set, checks more on the sample's bytes.
func parseQemuSamples(t *testing.T, format uint32, samples map[string]string, qemuSize func(path string) int64,
	each func(name, path string, data []byte)) {
	t.Helper()
	for name, p := range samples {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		got, code := Parse(format, bytesReader(data), int64(len(data)), MinScratch(format))
		want := qemuSize(p)
		if want < 0 && code == shared.CreateErrBackingParse {
			continue // qemu-img cannot open it either
		}
		if code != shared.CreateErrOK || got.Format != format || int64(got.VirtualSize) != want {
			t.Errorf("%s: parse = %+v, %d; qemu-img says %d", name, got, code, want)
		}
		if each != nil {
			each(name, p, data)
		}
	}
}

// mutation is a change to a qemu-img sample (src names it) for a parser
// test.
type mutation struct {
	name, src string
	f         func(d []byte) []byte
}

// parseMutations checks the parser of format against qemu-img on each
// mutated sample: both refuse, or both accept with the same size
// (qemuSize is qemu-img's). The mutated file is written next to its
// sample, so that a vmdk's extents resolve; the parser gets an exact-size
// copy, so that the sanitizers catch any overrun.
func parseMutations(t *testing.T, format uint32, samples map[string]string, muts []mutation, qemuSize func(string) int64) {
	t.Helper()
	for _, m := range muts {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			src := samples[m.src]
			orig, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			d := m.f(orig)
			p := filepath.Join(filepath.Dir(src), "m-"+m.name+filepath.Ext(src))
			if err := os.WriteFile(p, d, 0o644); err != nil {
				t.Fatal(err)
			}
			want := qemuSize(p)
			got, code := Parse(format, bytesReader(bytes.Clone(d)), int64(len(d)), MinScratch(format))
			checkParsedSize(t, want, got, code)
		})
	}
}
