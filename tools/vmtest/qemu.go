package vmtest

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"time"

	"instar/tools/vmtest/internal/wire"
)

// MemoryMiB is the test VM's RAM size.
const MemoryMiB = 1024

// maxCmdline is the most the x86 kernel command line takes (2048 bytes
// including the terminating NUL).
const maxCmdline = 2047

// baseCmdline is the kernel command line before the command. panic=-1
// reboots at once on a panic, which -no-reboot turns into QEMU's exit.
const baseCmdline = "console=ttyS0 panic=-1 quiet"

// Run boots k with initramfs under QEMU's software emulator on an emulated
// AMD CPU with SVM and nested paging, so that the guest kernel's kvm-amd
// provides /dev/kvm. Init runs argv, or the initramfs's default command when
// argv is empty. The console goes to out (which may be nil) as it comes. Run
// returns the command's exit code; it returns an error, with the end of the
// console in it, when the VM ends without reporting one. Cancelling ctx
// kills QEMU.
func Run(ctx context.Context, k *Kernel, initramfs string, argv []string, out io.Writer) (exitCode int, err error) {
	appendArg := baseCmdline
	if len(argv) > 0 {
		word, err := wire.EncodeParam(argv)
		if err != nil {
			return -1, fmt.Errorf("vmtest: %w", err)
		}
		appendArg += " " + word
	}
	if len(appendArg) > maxCmdline {
		return -1, fmt.Errorf("vmtest: kernel command line of %d bytes is too long for argv; give it to BuildInitramfs instead", len(appendArg))
	}
	con := &consoleLog{out: out}
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", qemuArgs(k, initramfs, appendArg)...)
	cmd.Stdout = con
	cmd.Stderr = con
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()

	code, exited, initErr := con.result()
	switch {
	case ctx.Err() != nil:
		return -1, fmt.Errorf("vmtest: VM stopped: %w; console ends:\n%s", ctx.Err(), con.tailString())
	case initErr != "":
		return -1, fmt.Errorf("vmtest: init failed: %s; console ends:\n%s", initErr, con.tailString())
	case runErr != nil:
		return -1, fmt.Errorf("vmtest: qemu: %w; console ends:\n%s", runErr, con.tailString())
	case !exited:
		return -1, fmt.Errorf("vmtest: VM ended without a %s line; console ends:\n%s", wire.ExitMarker, con.tailString())
	}
	return code, nil
}

// qemuArgs returns QEMU's arguments to boot k.
func qemuArgs(k *Kernel, initramfs, appendArg string) []string {
	return []string{
		"-accel", "tcg",
		"-machine", "pc",
		"-cpu", "qemu64,+svm,+npt",
		"-smp", "1",
		"-m", strconv.Itoa(MemoryMiB),
		"-nographic",
		"-nic", "none",
		"-no-reboot",
		"-kernel", k.Vmlinux,
		"-initrd", initramfs,
		"-append", appendArg,
	}
}
