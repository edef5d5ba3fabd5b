package vmtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// EnableEnv names the environment variable that must be 1 for the tests
// that download a kernel and boot it under QEMU.
const EnableEnv = "INSTAR_VMTEST"

// requireVMTest skips the test unless EnableEnv=1.
func requireVMTest(t *testing.T) {
	t.Helper()
	if os.Getenv(EnableEnv) != "1" {
		t.Skipf("set %s=1 to boot a kernel under QEMU (takes 10-60 s and downloads a kernel package on first use)", EnableEnv)
	}
}

// consoleOut returns where a test sends the VM's console: a buffer, and
// stderr too under -v.
func consoleOut(buf *bytes.Buffer) io.Writer {
	if testing.Verbose() {
		return io.MultiWriter(buf, os.Stderr)
	}
	return buf
}

// TestKVMUnderQEMU proves the whole path: a kernel under QEMU's emulator
// loads kvm-amd, and a static Go program runs a real KVM guest in it.
func TestKVMUnderQEMU(t *testing.T) {
	requireVMTest(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cache, err := DefaultCacheDir()
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	k, err := EnsureKernel(cache)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("EnsureKernel: %v (%s, %s)", time.Since(start).Round(time.Millisecond), k.Package, k.Vmlinux)
	start = time.Now()
	if _, err := EnsureKernel(cache); err != nil {
		t.Fatal(err)
	}
	t.Logf("EnsureKernel again (cached): %v", time.Since(start).Round(time.Millisecond))

	probe := filepath.Join(t.TempDir(), "kvmprobe")
	start = time.Now()
	if err := BuildStatic(ctx, "instar/tools/vmtest/kvmprobe", probe); err != nil {
		t.Fatal(err)
	}
	t.Logf("building kvmprobe: %v", time.Since(start).Round(time.Millisecond))

	t.Run("RunStatic", func(t *testing.T) {
		var con bytes.Buffer
		start := time.Now()
		code, err := RunStatic(ctx, cache, map[string]string{"/bin/kvmprobe": probe}, []string{"/bin/kvmprobe"}, consoleOut(&con))
		t.Logf("RunStatic (initramfs and boot): %v", time.Since(start).Round(time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if code != 0 {
			t.Fatalf("kvmprobe exited %d; console:\n%s", code, con.String())
		}
		if !strings.Contains(con.String(), "kvmprobe: ok io port=0x600 value=0x42, hlt") {
			t.Fatalf("no ok line; console:\n%s", con.String())
		}
	})

	// One initramfs, commands given to Run on the kernel command line.
	initrd := filepath.Join(t.TempDir(), "initramfs.cpio")
	if err := BuildInitramfs(initrd, k, map[string]string{"/bin/kvmprobe": probe}, nil); err != nil {
		t.Fatal(err)
	}
	t.Run("ExitCode", func(t *testing.T) {
		var con bytes.Buffer
		start := time.Now()
		code, err := Run(ctx, k, initrd, []string{"/bin/kvmprobe", "unexpected argument"}, consoleOut(&con))
		t.Logf("Run: %v", time.Since(start).Round(time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if code != 2 || !strings.Contains(con.String(), `kvmprobe: takes no arguments, got ["unexpected argument"]`) {
			t.Fatalf("exit code %d, want 2 and kvmprobe's complaint; console:\n%s", code, con.String())
		}
	})
	t.Run("InitError", func(t *testing.T) {
		var con bytes.Buffer
		_, err := Run(ctx, k, initrd, []string{"/bin/missing"}, consoleOut(&con))
		if err == nil || !strings.Contains(err.Error(), "init failed") || !strings.Contains(err.Error(), "/bin/missing") {
			t.Fatalf("Run of a missing program: err = %v, want an init failure naming it", err)
		}
	})
	t.Run("Timeout", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		start := time.Now()
		_, err := Run(short, k, initrd, []string{"/bin/kvmprobe"}, nil)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run past its deadline: err = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("Run took %v to stop after a 1 s deadline", d)
		}
	})
}
