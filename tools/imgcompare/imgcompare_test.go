package imgcompare

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func needQemuImg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(QemuImg); err != nil {
		t.Fatal("qemu-img is needed (mage check installs it: qemu-utils)")
	}
}

// pair creates the same image with qemu-img in two sibling directories and
// returns their paths.
func pair(t *testing.T, args ...string) (string, string) {
	t.Helper()
	root := t.TempDir()
	var paths [2]string
	for i, d := range []string{"ours", "theirs"} {
		dir := filepath.Join(root, d)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		paths[i] = filepath.Join(dir, "img")
		qemuCreate(t, dir, append(args[:len(args)-1:len(args)-1], "img", args[len(args)-1])...)
	}
	return paths[0], paths[1]
}

// qemuCreate runs `qemu-img create -q args...` in dir.
func qemuCreate(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(QemuImg, append([]string{"create", "-q"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create %v: %v\n%s", args, err, out)
	}
}

func patch(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err error, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", substr)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Fatalf("error %q does not mention %q", err, substr)
	}
}

var qcow2 = Options{Format: "qcow2", Check: true}

func TestIdentical(t *testing.T) {
	needQemuImg(t)
	t.Parallel()
	a, b := pair(t, "-f", "qcow2", "-o", "cluster_size=4096", "1G")
	if err := Compare(a, b, qcow2); err != nil {
		t.Fatal(err)
	}
	a, b = pair(t, "-f", "raw", "1T")
	if err := Compare(a, b, Options{Format: "raw"}); err != nil {
		t.Fatal(err)
	}
}

func TestBackingInSiblingDirs(t *testing.T) {
	needQemuImg(t)
	t.Parallel()
	root := t.TempDir()
	var p [2]string
	for i, d := range []string{"ours", "theirs"} {
		dir := filepath.Join(root, d)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		qemuCreate(t, dir, "-f", "raw", "base.raw", "1M")
		qemuCreate(t, dir, "-f", "qcow2", "-b", "base.raw", "-F", "raw", "img")
		p[i] = filepath.Join(dir, "img")
	}
	if err := Compare(p[0], p[1], qcow2); err != nil {
		t.Fatal(err)
	}
}

// Criterion 1: info differs (lazy_refcounts), and InfoIgnore hides it.
func TestInfoDiffers(t *testing.T) {
	needQemuImg(t)
	t.Parallel()
	root := t.TempDir()
	qemuCreate(t, root, "-f", "qcow2", "a", "1M")
	qemuCreate(t, root, "-f", "qcow2", "-o", "lazy_refcounts=on", "b", "1M")
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	wantErr(t, CompareInfo(a, b, qcow2), "format-specific.data.lazy-refcounts: ours false, theirs true")
	wantErr(t, Compare(a, b, qcow2), "1 info")
	ign := qcow2
	ign.InfoIgnore = []string{"format-specific.data.lazy-refcounts"}
	if err := CompareInfo(a, b, ign); err != nil {
		t.Fatal(err)
	}
}

// Criterion 2: a leaked cluster (refcount 1 on a cluster nobody uses).
func TestCheckCatchesLeak(t *testing.T) {
	needQemuImg(t)
	t.Parallel()
	a, b := pair(t, "-f", "qcow2", "1M")
	// 64 KiB clusters: the refcount block is cluster 2; entry 3 (16 bits)
	// is the L1 table's. Refcount 2 with one reference is a leak. (A
	// refcount past the end of the file is not reported by qemu-img.)
	patch(t, a, 0x20000+2*3, []byte{0, 2})
	if err := Check(b, "qcow2"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, Check(a, "qcow2"), "leaks=1")
	wantErr(t, Compare(a, b, qcow2), "2 check")
}

// Criterion 3: guest-visible contents differ.
func TestQemuCompareCatchesData(t *testing.T) {
	needQemuImg(t)
	t.Parallel()
	a, b := pair(t, "-f", "raw", "1M")
	patch(t, a, 4096, []byte{1})
	wantErr(t, QemuCompare(a, b, "raw"), "exit code 1")
	wantErr(t, Compare(a, b, Options{Format: "raw"}), "3 compare")
}

// Criterion 4: length and allocation.
func TestSizes(t *testing.T) {
	needQemuImg(t)
	t.Parallel()
	a, b := pair(t, "-f", "raw", "1M")
	if err := os.Truncate(a, 1<<20+512); err != nil {
		t.Fatal(err)
	}
	wantErr(t, CompareSizes(a, b), "file size ours 1049088, theirs 1048576")
	wantErr(t, CompareBytes(a, b, nil), "lengths differ")

	a, b = pair(t, "-f", "raw", "1M")
	// zeros: same content, more blocks. (qemu-img allocates the first
	// 4 KiB of a raw image itself, for alignment probing.)
	patch(t, a, 65536, make([]byte, 4096))
	wantErr(t, CompareSizes(a, b), "allocated size ours 8192, theirs 4096")
	if err := QemuCompare(a, b, "raw"); err != nil {
		t.Fatal(err)
	}
}

// Criterion 5: a byte the guest cannot see (qcow2 header cluster padding),
// and a mask that hides it.
func TestBytes(t *testing.T) {
	needQemuImg(t)
	t.Parallel()
	a, b := pair(t, "-f", "qcow2", "1M")
	patch(t, a, 0x8000, []byte{0xee})
	for _, err := range []error{CompareInfo(a, b, qcow2), Check(a, "qcow2"), QemuCompare(a, b, "qcow2"), CompareSizes(a, b)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, CompareBytes(a, b, nil), "[0x8000,0x8001): ours ee, theirs 00")
	wantErr(t, Compare(a, b, qcow2), "5 bytes")
	mask := func([]byte) [][2]int64 { return [][2]int64{{0x7ff0, 0x8001}} }
	opt := qcow2
	opt.Mask = mask
	if err := Compare(a, b, opt); err != nil {
		t.Fatal(err)
	}
}

// Extra files are compared byte-wise too.
func TestExtra(t *testing.T) {
	needQemuImg(t)
	t.Parallel()
	a, b := pair(t, "-f", "raw", "64k")
	c, d := pair(t, "-f", "raw", "64k")
	patch(t, c, 100, []byte{7})
	patch(t, d, 100, []byte{8})
	wantErr(t, Compare(a, b, Options{Format: "raw", Extra: [][2]string{{c, d}}}), "5 bytes img: 1 differing bytes in 1 runs, first ones:\n  [0x64,0x65): ours 07, theirs 08")
}

func TestSubtract(t *testing.T) {
	got := subtract([][2]int64{{0, 10}, {20, 30}}, merge([][2]int64{{5, 7}, {25, 40}, {2, 3}}, 30))
	want := [][2]int64{{0, 2}, {3, 5}, {7, 10}, {20, 25}}
	if len(got) != len(want) {
		t.Fatalf("got %v want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("got %v want %v", got, want)
		}
	}
}

// qemu-img 7.2 cannot check vpc images: Check has nothing to do then.
func TestCheckUnsupportedFormat(t *testing.T) {
	needQemuImg(t)
	t.Parallel()
	a, _ := pair(t, "-f", "vpc", "1M")
	if err := Check(a, "vpc"); err != nil {
		t.Fatal(err)
	}
}

// A qcow2 image is checked without its backing file.
func TestCheckMissingBacking(t *testing.T) {
	needQemuImg(t)
	t.Parallel()
	a, _ := pair(t, "-f", "qcow2", "-b", "/nonexistent/base.raw", "-F", "raw", "-u", "1M")
	if err := Check(a, "qcow2"); err != nil {
		t.Fatal(err)
	}
}
