package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInterruptLeavesNothing: an interrupted create says so in one line,
// leaves an existing file of that name untouched and no temporary file
// behind, and exits as a shell reports a process the signal killed.
func TestInterruptLeavesNothing(t *testing.T) {
	for _, c := range []struct {
		sig    syscall.Signal
		status int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(c.sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			img := filepath.Join(dir, "img")
			if err := os.WriteFile(img, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			// Writing 64 GiB of zeros takes far longer than the interrupt below.
			cmd := exec.Command(os.Args[0], "create", "-q", "-o", "preallocation=full", img, "64G")
			cmd.Env = append(os.Environ(), "INSTAR_TEST_MAIN=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond)
			cmd.Process.Signal(c.sig)
			err := cmd.Wait()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != c.status {
				t.Fatalf("interrupted create: %v; want exit status %d", err, c.status)
			}
			if lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n"); len(lines) != 1 ||
				!strings.HasPrefix(lines[0], "instar: ") || !strings.HasSuffix(lines[0], "interrupted; nothing was written") {
				t.Errorf("stderr %q; want one line saying it was interrupted", stderr.String())
			}
			if data, err := os.ReadFile(img); err != nil || string(data) != "old" {
				t.Errorf("existing file changed: %q, %v", data, err)
			}
			assertOnly(t, dir, "img")
		})
	}
}

// TestKilledLeavesNothing: a create killed outright (no chance to clean
// up) still leaves an existing file untouched and no file behind, since
// the image has no name until it is complete.
func TestKilledLeavesNothing(t *testing.T) {
	for _, c := range []struct{ name, format, opts string }{
		{"raw", "raw", ""}, {"qcow2", "qcow2", ""},
		// the zeros go to the data file, which exists too
		{"qcow2-data-file", "qcow2", ",data_file=img.data"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			names := []string{"img"}
			if c.opts != "" {
				names = append(names, "img.data")
			}
			for _, n := range names {
				if err := os.WriteFile(filepath.Join(dir, n), []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(os.Args[0], "create", "-q", "-f", c.format, "-o", "preallocation=full"+c.opts, "img", "64G")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "INSTAR_TEST_MAIN=1")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond)
			cmd.Process.Kill()
			cmd.Wait()
			for _, n := range names {
				if data, err := os.ReadFile(filepath.Join(dir, n)); err != nil || string(data) != "old" {
					t.Errorf("existing file %s changed: %q, %v", n, data, err)
				}
			}
			assertOnly(t, dir, names...)
		})
	}
}

// TestNewFileMode: a new image gets 0644 less the umask, as qemu-img's do
// (targets_test.go tries other umasks).
func TestNewFileMode(t *testing.T) {
	dir := t.TempDir()
	for _, format := range []string{"raw", "qcow2"} {
		ours, theirs := filepath.Join(dir, "ours."+format), filepath.Join(dir, "theirs."+format)
		if _, stderr, status := instar(t, dir, "create", "-q", "-f", format, ours, "1M"); status != 0 {
			t.Fatalf("instar: status %d: %s", status, stderr)
		}
		if out, err := exec.Command("qemu-img", "create", "-q", "-f", format, theirs, "1M").CombinedOutput(); err != nil {
			t.Fatalf("qemu-img: %v: %s", err, out)
		}
		a, err := os.Stat(ours)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.Stat(theirs)
		if err != nil {
			t.Fatal(err)
		}
		if a.Mode() != b.Mode() {
			t.Errorf("%s: mode %v, qemu-img's %v", format, a.Mode(), b.Mode())
		}
	}
}
