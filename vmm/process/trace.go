package process

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"instar/vmm"
)

// tracer is the state of tracing the child, used only from the thread
// that started it.
type tracer struct {
	v    *vm
	pid  int
	regs unix.PtraceRegs // as of the last stop

	// next is the instruction the guest stopped at with an I/O or HLT
	// exit: the next Run skips it (and, for an IN, fills the register).
	next *insn
	// final is the terminal exit once the child is gone (fault, interrupt);
	// Run keeps returning it.
	final *vmm.Exit
	// pinned is the thread's CPU mask before start pinned it.
	pinned *unix.CPUSet
}

// run resumes the guest to its next exit. From the handoff on it resumes
// with PTRACE_SYSCALL, so that any system call the guest attempts stops it
// before seccomp would kill it, and is reported as a fault.
func (t *tracer) run() (vmm.Exit, error) {
	if t.final != nil {
		return *t.final, nil
	}
	if t.v.intr.Load() {
		t.kill()
		return t.finish(t.interrupted()), nil
	}
	if in := t.next; in != nil {
		// Changed in a copy, kept only once the child has it, so that a
		// refused request (from the wrong thread, say) changes nothing.
		regs := t.regs
		regs.Rip += uint64(in.len)
		if in.kind == insnIn {
			// No device answers IN (the VMM treats it as a guest error):
			// all ones, as from an empty bus. A 32-bit write zero-extends
			// into RAX; 8- and 16-bit writes keep the upper bits.
			if in.size == 4 {
				regs.Rax = 0xffffffff
			} else {
				regs.Rax |= uint64(1)<<(8*in.size) - 1
			}
		}
		if err := unix.PtraceSetRegs(t.pid, &regs); err != nil {
			return t.lost(err, "advance the guest past its instruction")
		}
		t.regs, t.next = regs, nil
	}
	// Signal 0: the SIGSEGV (or the handoff SIGTRAP) is not delivered.
	if err := unix.PtraceSyscall(t.pid, 0); err != nil {
		return t.lost(err, "resume the guest")
	}
	ws, err := t.wait()
	if err != nil {
		t.kill()
		return vmm.Exit{}, fmt.Errorf("process accelerator: %w", err)
	}
	if ws.Exited() || ws.Signaled() {
		t.markReaped()
		return t.gone(ws), nil
	}
	return t.stopped(ws)
}

// stopped turns a ptrace stop into an exit.
func (t *tracer) stopped(ws unix.WaitStatus) (vmm.Exit, error) {
	if err := unix.PtraceGetRegs(t.pid, &t.regs); err != nil {
		return t.lost(err, "read the guest's registers")
	}
	rip := t.regs.Rip
	sig := ws.StopSignal()
	if sig == unix.SIGTRAP|0x80 {
		// At a system call stop RIP is past the 2-byte syscall (or
		// int 0x80) instruction.
		return t.fault(rip-2, fmt.Sprintf("guest attempted system call %d at RIP %#x", int64(t.regs.Orig_rax), rip-2)), nil
	}
	// OUT, IN and HLT raise #GP in user mode, a SIGSEGV at the
	// instruction. Such an instruction in memory the guest has mapped
	// cannot have caused a page fault (it accesses no memory, and its
	// fetch succeeded), so its siginfo need not be read: the common exit
	// costs one system call less.
	if sig == unix.SIGSEGV {
		if in, ok := decode(t.fetch(rip)); ok {
			return t.ioExit(in), nil
		}
	}
	si, err := getSiginfo(t.pid)
	if err != nil {
		return t.lost(err, "read the guest's signal")
	}
	if sig == unix.SIGSEGV && si.code == siKernel {
		// #GP from another privileged instruction (a page fault would
		// have SEGV_MAPERR or SEGV_ACCERR and an address).
		return t.fault(rip, fmt.Sprintf("SIGSEGV at RIP %#x: general protection fault (a privileged instruction other than OUT, IN or HLT)", rip)), nil
	}
	name := unix.SignalName(sig)
	if name == "" {
		name = sig.String()
	}
	switch sig {
	case unix.SIGSEGV, unix.SIGBUS:
		return t.fault(rip, fmt.Sprintf("%s at RIP %#x (addr %#x)", name, rip, si.addr)), nil
	case unix.SIGILL:
		return t.fault(rip, fmt.Sprintf("SIGILL at RIP %#x: invalid opcode", rip)), nil
	case unix.SIGFPE:
		return t.fault(rip, fmt.Sprintf("SIGFPE at RIP %#x: divide error", rip)), nil
	case unix.SIGTRAP:
		return t.fault(rip, fmt.Sprintf("SIGTRAP at RIP %#x: breakpoint or single step in the guest", rip)), nil
	}
	return t.fault(rip, fmt.Sprintf("unexpected signal %s at RIP %#x", name, rip)), nil
}

// fetch returns the instruction bytes at rip that the child really has
// mapped: at most maxInsnLen, fewer near the end of a mapped area.
func (t *tracer) fetch(rip uint64) []byte {
	n := uint64(0)
	for n < maxInsnLen && rip+n >= rip && mapped(t.v.cfg, rip+n) {
		n++
	}
	if n == 0 {
		return nil
	}
	return t.v.mem[rip : rip+n]
}

// ioExit describes an OUT, IN or HLT and arms the skip for the next Run.
func (t *tracer) ioExit(in insn) vmm.Exit {
	t.next = &in
	e := vmm.Exit{RIP: t.regs.Rip}
	if in.kind == insnHalt {
		e.Kind = vmm.ExitHalt
		return e
	}
	e.Kind, e.Size, e.Out, e.Port = vmm.ExitIO, in.size, in.kind == insnOut, in.port
	if in.portDX {
		e.Port = uint16(t.regs.Rdx)
	}
	if e.Out {
		e.Value = uint32(t.regs.Rax & (uint64(1)<<(8*in.size) - 1))
	}
	return e
}

// fault kills the child and makes the fault the terminal exit.
func (t *tracer) fault(rip uint64, reason string) vmm.Exit {
	t.kill()
	return t.finish(vmm.Exit{Kind: vmm.ExitFault, RIP: rip, Reason: reason})
}

// interrupted is the exit for Interrupt, at the last known RIP.
func (t *tracer) interrupted() vmm.Exit {
	return vmm.Exit{Kind: vmm.ExitInterrupted, RIP: t.regs.Rip}
}

// gone is the terminal exit for a child that has exited or been killed:
// by Interrupt, or by something else, which is a fault.
func (t *tracer) gone(ws unix.WaitStatus) vmm.Exit {
	if t.v.intr.Load() {
		return t.finish(t.interrupted())
	}
	return t.finish(vmm.Exit{Kind: vmm.ExitFault, RIP: t.regs.Rip, Reason: "guest process " + describeStatus(ws)})
}

// lost handles a failed ptrace request. ESRCH means the child died under
// us (Interrupt, or an outside SIGKILL): that is an exit, not an error.
func (t *tracer) lost(err error, what string) (vmm.Exit, error) {
	// ptrace answers ESRCH to any thread but the tracer: that is a
	// caller breaking vmm.VM's thread rule, not the child's death, and
	// nothing is changed. Checked here, not on every Run, to keep a
	// system call off each exit.
	if tid := unix.Gettid(); tid != t.v.tid {
		return vmm.Exit{}, fmt.Errorf("process accelerator: Run called on thread %d, but the VM was created on thread %d (vmm.VM's thread rule)", tid, t.v.tid)
	}
	if errors.Is(err, unix.ESRCH) {
		if ws, ok := t.kill(); ok {
			return t.gone(ws), nil
		}
		if t.v.intr.Load() {
			return t.finish(t.interrupted()), nil
		}
		return t.finish(vmm.Exit{Kind: vmm.ExitFault, RIP: t.regs.Rip, Reason: "guest process vanished"}), nil
	}
	t.kill()
	return vmm.Exit{}, fmt.Errorf("process accelerator: %s: %w", what, err)
}

func (t *tracer) finish(e vmm.Exit) vmm.Exit {
	t.final = &e
	return e
}
