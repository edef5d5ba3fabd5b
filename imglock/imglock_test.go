package imglock

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// image makes a small qcow2 image with qemu-img.
func image(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", path, "16M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v\n%s", err, out)
	}
	return path
}

// lockedBytes counts, for each byte of path that open files have locked,
// the locks on it, from /proc/locks.
func lockedBytes(t *testing.T, path string) map[int64]int {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	ino := st.Sys().(*syscall.Stat_t).Ino
	f, err := os.Open("/proc/locks")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[int64]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "1: OFDLCK ADVISORY  READ -1 fe:00:9979233 203 203"
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || !strings.HasSuffix(fields[5], fmt.Sprintf(":%d", ino)) {
			continue
		}
		var lo, hi int64
		fmt.Sscan(fields[6], &lo)
		fmt.Sscan(fields[7], &hi)
		for b := lo; b <= hi; b++ {
			got[b]++
		}
	}
	return got
}

// holder runs qemu-io on path (read-only when ro is set), holding the image
// until the test ends, and returns once its locks are in place.
func holder(t *testing.T, path string, ro bool) {
	t.Helper()
	args := []string{"-f", "qcow2", "-c", "sleep 60000", path}
	want := int64(permBase + 1) // write
	if ro {
		args = append([]string{"-r"}, args...)
		want = permBase // consistent read
	}
	cmd := exec.Command("qemu-io", args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); lockedBytes(t, path)[want] == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("qemu-io %v took no lock on byte %d", args, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// qemuImgInfo runs qemu-img info and returns its error line, or "".
func qemuImgInfo(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("qemu-img", "info", path).CombinedOutput()
	if err == nil {
		return ""
	}
	return string(out)
}

func open(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestInfoBesideQEMU checks that instar's info locking agrees with
// qemu-img info's beside a qemu process that has the image open for
// writing and for reading.
func TestInfoBesideQEMU(t *testing.T) {
	for _, ro := range []bool{false, true} {
		t.Run(fmt.Sprintf("qemu-io read-only=%v", ro), func(t *testing.T) {
			path := image(t)
			holder(t, path, ro)
			theirs := qemuImgInfo(t, path)
			before := lockedBytes(t, path)
			l, err := Acquire(open(t, path), Info)
			if ro {
				if err != nil || theirs != "" {
					t.Fatalf("beside a reader: instar %v, qemu-img %q; both should open the image", err, theirs)
				}
				l.Release()
				return
			}
			var ce *ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("beside a writer: instar got %v, want a conflict", err)
			}
			if !strings.Contains(theirs, ce.Error()) {
				t.Errorf("instar says %q; qemu-img said %q", ce.Error(), theirs)
			}
			if after := lockedBytes(t, path); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("a refused Acquire left locks behind: %v before, %v after", before, after)
			}
		})
	}
}

// TestQEMUBesideInfo checks that a qemu process sees instar's info lock as
// it sees qemu-img info's: writers are refused, readers are not, and once
// released the image is free.
func TestQEMUBesideInfo(t *testing.T) {
	path := image(t)
	f := open(t, path)
	l, err := Acquire(f, Info)
	if err != nil {
		t.Fatal(err)
	}
	got := lockedBytes(t, path)
	if want := map[int64]int{sharedBase + 1: 1, sharedBase + 3: 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("instar holds bytes %v; qemu-img info holds %v", got, want)
	}
	io := func(args ...string) (string, error) {
		out, err := exec.Command("qemu-io", append(args, "-f", "qcow2", "-c", "read 0 512", path)...).CombinedOutput()
		return string(out), err
	}
	if out, err := io(); err == nil || !strings.Contains(out, `Failed to get "write" lock`) {
		t.Errorf("a writer beside instar's info: %v %q; want qemu's write-lock refusal", err, out)
	}
	if out, err := io("-r"); err != nil {
		t.Errorf("a reader beside instar's info was refused: %v %q", err, out)
	}
	if msg := qemuImgInfo(t, path); msg != "" {
		t.Errorf("qemu-img info beside instar's info: %s", msg)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if got := lockedBytes(t, path); len(got) != 0 {
		t.Errorf("bytes still locked after Release: %v", got)
	}
	if out, err := io(); err != nil {
		t.Errorf("a writer after Release: %v %q", err, out)
	}
}

// TestConflicts checks the protocol between two open files of one image,
// for every pair of uses from a table.
func TestConflicts(t *testing.T) {
	writer := Use{Perm: ConsistentRead | Write | Resize, Shared: ConsistentRead | WriteUnchanged}
	reader := Use{Perm: ConsistentRead, Shared: All &^ Resize}
	tests := []struct {
		name        string
		first, then Use
		want        string // the second Acquire's error, or ""
	}{
		{"info then info", Info, Info, ""},
		{"info then writer", Info, writer, `Failed to get "write" lock`},
		{"writer then info", writer, Info, `Failed to get shared "write" lock`},
		{"reader then info", reader, Info, ""},
		{"info then reader", Info, reader, ""},
		{"reader then writer", reader, writer, `Failed to get "resize" lock`},
		{"writer then reader", writer, reader, `Failed to get shared "resize" lock`},
		{"writer then writer", writer, writer, `Failed to get "write" lock`},
		{"sharing all beside a writer", writer, Use{Shared: All}, ""},
		{"create then info", Create, Info, `Failed to get shared "write" lock`},
		{"info then create", Info, Create, `Failed to get "write" lock`},
		{"create then create", Create, Create, `Failed to get "resize" lock`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := image(t)
			a, err := Acquire(open(t, path), tc.first)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Release()
			b, err := Acquire(open(t, path), tc.then)
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				b.Release()
			}
			if got != tc.want {
				t.Errorf("second Acquire: %q, want %q", got, tc.want)
			}
		})
	}
}
