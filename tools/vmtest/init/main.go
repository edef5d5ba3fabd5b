// Command init is the /init of the vmtest initramfs. It mounts /dev, /proc
// and /sys, loads the kernel modules under /modules in lexical order, checks
// that /dev/kvm appeared, runs the command named on the kernel command line
// (or in /vmtest/argv.json) with its output on the console, prints
// "VMTEST-EXIT <code>" and powers the machine off. On any failure it prints
// "VMTEST-INIT-ERROR <reason>" and powers off.
//
// It must be built statically (CGO_ENABLED=0); the harness does that.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"instar/tools/vmtest/internal/wire"
)

func main() {
	code, err := run()
	if err != nil {
		fmt.Printf("\n%s %v\n", wire.InitErrorMarker, err)
	} else {
		fmt.Printf("\n%s %d\n", wire.ExitMarker, code)
	}
	powerOff()
}

// run prepares the machine, runs the command and returns its exit code.
func run() (int, error) {
	if err := mountAll(); err != nil {
		return 0, err
	}
	if err := loadModules(wire.ModulesDir); err != nil {
		return 0, err
	}
	if err := waitFor("/dev/kvm", 2*time.Second); err != nil {
		return 0, err
	}
	argv, err := command()
	if err != nil {
		return 0, err
	}
	return runCommand(argv)
}

// mountAll mounts devtmpfs, proc and sysfs.
func mountAll() error {
	mounts := []struct{ fstype, target string }{
		{"devtmpfs", "/dev"},
		{"proc", "/proc"},
		{"sysfs", "/sys"},
	}
	for _, m := range mounts {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", m.target, err)
		}
		err := unix.Mount(m.fstype, m.target, m.fstype, unix.MS_NOSUID|unix.MS_NOEXEC, "")
		if err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mounting %s on %s: %w", m.fstype, m.target, err)
		}
	}
	return nil
}

// waitFor waits until path exists. devtmpfs creates device nodes while the
// module loads, so this normally succeeds at once.
func waitFor(path string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		_, err := os.Stat(path)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear: %w", path, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// command returns the argv to run: from the kernel command line if present,
// else from wire.ArgvPath.
func command() ([]string, error) {
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return nil, fmt.Errorf("reading kernel command line: %w", err)
	}
	argv, ok, err := wire.DecodeParam(string(cmdline))
	if ok || err != nil {
		return argv, err
	}
	j, err := os.ReadFile(wire.ArgvPath)
	if err != nil {
		return nil, fmt.Errorf("no %s on the kernel command line and no default command: %w", wire.Param, err)
	}
	return wire.DecodeArgv(j)
}

// runCommand runs argv with the console as its standard streams and returns
// its exit code; a command killed by a signal gets 128 plus the signal.
func runCommand(argv []string) (int, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = "/"
	cmd.Env = []string{
		"PATH=/bin:/sbin:/usr/bin:/",
		"HOME=/tmp",
		"TMPDIR=/tmp",
		"TERM=dumb",
	}
	cmd.Stdin = os.Stdin
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return exitErr.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("running %q: %w", argv, err)
	}
	return 0, nil
}

// powerOff drains the console, syncs and powers the machine off. If that
// fails, init exits, the kernel panics and panic=-1 reboots, which QEMU's
// -no-reboot turns into an exit.
func powerOff() {
	// Wait until the serial port has sent everything (tcdrain), so the
	// last lines are not lost to the power-off.
	_ = unix.IoctlSetInt(int(os.Stdout.Fd()), unix.TCSBRK, 1)
	unix.Sync()
	err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	fmt.Printf("%s power off: %v\n", wire.InitErrorMarker, err)
	os.Exit(1)
}
