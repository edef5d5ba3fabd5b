package vmm

import "fmt"

// Accelerator creates virtual machines that run guest code. There are two:
// kvm (hardware virtualization through /dev/kvm) and process (a traced,
// seccomp-confined child process). Devices, the message protocol and the
// watchdog sit above this interface and are written once.
type Accelerator interface {
	// Name is "kvm" or "process".
	Name() string
	// Available reports whether the accelerator can run guests on this
	// machine; the error says why not, and what to do.
	Available() error
	// NewVM creates a VM with cfg.RAMSize bytes of zeroed guest RAM,
	// ready to start at cfg.Entry with the stack pointer at cfg.StackTop
	// once the caller has loaded guest memory. It is called under VM's
	// thread rule.
	NewVM(cfg VMConfig) (VM, error)
}

// VMConfig is what an accelerator needs to set a VM up.
type VMConfig struct {
	// RAMSize is the size of guest RAM in bytes, a multiple of 2 MiB.
	RAMSize uint64
	// Entry is the guest address where execution starts (core's entry).
	Entry uint64
	// StackTop is the initial stack pointer.
	StackTop uint64
	// Unmapped lists guest ranges the guest must not be able to touch
	// (the VMM-private region, the stack guard page). Each is page-aligned.
	Unmapped []Range
}

// Range is a half-open range of guest addresses [Start, End).
type Range struct{ Start, End uint64 }

// VM is one guest with one vCPU.
//
// Thread rule (a precondition of every accelerator): NewVM and every call
// to the VM but Interrupt are made from one goroutine locked to its OS
// thread (runtime.LockOSThread) until Close returns. An accelerator that
// must serve a VM from one thread (process: ptrace) serves it on that
// thread, handing no exit between threads. Interrupt may be called from
// any goroutine.
type VM interface {
	// Memory is guest RAM as the host sees it: Memory()[a] is guest
	// address a. The slice stays valid until Close.
	Memory() []byte
	// Run resumes the guest until its next exit. After an ExitIO that
	// is an OUT, the next Run continues after the instruction.
	Run() (Exit, error)
	// Interrupt makes the current or next Run return an ExitInterrupted
	// exit soon. It is safe to call from another goroutine, and more than
	// once.
	Interrupt()
	// Close releases every resource of the VM (fds, mappings, the child
	// process). It is safe to call more than once.
	Close() error
}

// ExitKind says why the guest stopped running.
type ExitKind int

// Exit kinds.
const (
	// ExitIO is an IN or OUT instruction.
	ExitIO ExitKind = iota + 1
	// ExitHalt is HLT.
	ExitHalt
	// ExitFault is an exception the guest cannot recover from (a page
	// fault, #GP, triple fault, a signal in the process accelerator).
	ExitFault
	// ExitInterrupted is the answer to Interrupt.
	ExitInterrupted
)

// exitNames are the ExitKinds' names, by value.
var exitNames = [...]string{ExitIO: "io", ExitHalt: "hlt", ExitFault: "fault", ExitInterrupted: "interrupted"}

func (k ExitKind) String() string {
	if k > 0 && int(k) < len(exitNames) {
		return exitNames[k]
	}
	return fmt.Sprintf("exit(%d)", int(k))
}

// Exit describes one guest exit.
type Exit struct {
	Kind ExitKind
	// RIP is the guest instruction pointer: of the instruction that
	// exited, or where the guest was when it faulted or was interrupted.
	RIP uint64
	// Port, Size (1, 2 or 4 bytes), Out and Value describe an ExitIO. For
	// an OUT, Value is the data written.
	Port  uint16
	Size  int
	Out   bool
	Value uint32
	// Reason describes an ExitFault ("triple fault", "SIGSEGV at ...").
	Reason string
}
