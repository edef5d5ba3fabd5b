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

// TestInterruptLeavesNothing: an interrupted create exits 1, says so, leaves
// an existing file of that name untouched and no temporary file behind.
func TestInterruptLeavesNothing(t *testing.T) {
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
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("interrupted create: %v; want exit status 1", err)
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr %q does not say it was interrupted", stderr.String())
	}
	if data, err := os.ReadFile(img); err != nil || string(data) != "old" {
		t.Errorf("existing file changed: %q, %v", data, err)
	}
	assertOnly(t, dir, "img")
}
