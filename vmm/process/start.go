package process

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"instar/cpupin"
)

// start starts the stub and runs it to the handoff int3. On failure the
// child is killed and reaped.
func (t *tracer) start(stub *stubImage) error {
	// The child inherits the tracer thread's binding: no exit's stop and
	// wake-up crosses CPUs.
	t.pinned = cpupin.Here()
	attr := &os.ProcAttr{
		Dir:   "/",        // hold no reference to the VMM's working directory
		Env:   []string{}, // not nil, which would mean "inherit"
		Files: t.v.childFiles(),
		Sys: &syscall.SysProcAttr{
			Ptrace:    true,
			Pdeathsig: syscall.SIGKILL,
			Setpgid:   true, // no terminal signals: only the VMM stops the guest
		},
	}
	proc, err := os.StartProcess(stub.path, t.v.stubArgs(), attr)
	if err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("process accelerator: start the guest process: %w (ptrace is not permitted here: a seccomp profile, Yama or a container policy forbids it)", err)
		}
		return fmt.Errorf("process accelerator: start the guest process: %w", err)
	}
	t.v.mu.Lock()
	t.v.proc, t.pid, t.v.pid = proc, proc.Pid, proc.Pid
	t.v.mu.Unlock()
	if err := t.handoff(); err != nil {
		t.kill()
		return fmt.Errorf("process accelerator: %w", err)
	}
	return nil
}

// childFiles is the child's fd table: guest RAM as ramFD, nothing else
// (nil entries are closed in the child).
func (v *vm) childFiles() []*os.File {
	files := make([]*os.File, ramFD+1)
	files[ramFD] = v.ram
	return files
}

// stubArgs is the stub's argv: fd ram_size entry stack_top, then each
// unmapped range's start and end, all decimal.
func (v *vm) stubArgs() []string {
	u := func(x uint64) string { return strconv.FormatUint(x, 10) }
	args := []string{"instar-stub", u(ramFD), u(v.cfg.RAMSize), u(v.cfg.Entry), u(v.cfg.StackTop)}
	for _, r := range v.cfg.Unmapped {
		args = append(args, u(r.Start), u(r.End))
	}
	return args
}

// handoff follows the stub from its exec stop to the int3 it executes once
// it is confined, checking that it is that int3 (RAX holds the ready magic,
// RSP the stack top).
func (t *tracer) handoff() error {
	ws, err := t.wait()
	if err != nil {
		return err
	}
	if !ws.Stopped() || ws.StopSignal() != unix.SIGTRAP {
		return fmt.Errorf("the stub did not stop after exec: %s", describeStatus(ws))
	}
	// EXITKILL: the child dies with its tracer. TRACESYSGOOD: system call
	// stops are told apart from a SIGTRAP.
	if err := unix.PtraceSetOptions(t.pid, unix.PTRACE_O_EXITKILL|unix.PTRACE_O_TRACESYSGOOD); err != nil {
		return fmt.Errorf("set ptrace options: %w", err)
	}
	// Until the handoff the stub makes system calls: plain CONT.
	if err := unix.PtraceCont(t.pid, 0); err != nil {
		return fmt.Errorf("resume the stub: %w", err)
	}
	if ws, err = t.wait(); err != nil {
		return err
	}
	switch {
	case ws.Exited():
		t.markReaped()
		return stubExitError(ws.ExitStatus())
	case ws.Signaled():
		t.markReaped()
		return fmt.Errorf("the process stub was killed by %v before the guest started", ws.Signal())
	}
	if err := unix.PtraceGetRegs(t.pid, &t.regs); err != nil {
		return fmt.Errorf("read the stub's registers: %w", err)
	}
	if ws.StopSignal() != unix.SIGTRAP || t.regs.Rax != stubReadyMagic || t.regs.Rsp != t.v.cfg.StackTop {
		return fmt.Errorf("the process stub stopped with %v at RIP %#x before the guest started", ws.StopSignal(), t.regs.Rip)
	}
	return nil
}
